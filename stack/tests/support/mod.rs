//! The one test harness of the stack and its apps: two stacks over the pair
//! driver with a virtual-time event loop, a writer over shared bytes, the
//! byte-pattern generator, a recording app and readable traces.
//!
//! `rusty-stack`'s integration tests use it as `mod support;`, the
//! `rusty-apps` tests as `#[path = "../../tests/support/mod.rs"] mod
//! support;`. Zero-allocation tests count with `rusty-alloc-counter`.
#![allow(dead_code)]

pub mod bench;

use std::rc::Rc;

use rusty_stack::iface::InterfaceConfig;
use rusty_stack::mem::cursor::{Cursor, CursorMut};
use rusty_stack::nic::pair::{pair, CapturedFrame, PairConfig, PairDriver};
use rusty_stack::nic::{Capabilities, Driver};
use rusty_stack::tcp::{App, Conn, Connect, TcpConfig, Writer};
use rusty_stack::time::{Duration, Instant};
use rusty_stack::wire::pretty::Tracer;
use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr};
use rusty_stack::Stack;

pub const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// A writer over shared bytes.
#[derive(Clone, Debug)]
pub struct Bytes(pub Rc<[u8]>);

impl Writer for Bytes {
    fn write(&self, offset: usize, out: &mut CursorMut<'_>) {
        let end = (offset + out.len()).min(self.0.len());
        out.write(&self.0[offset..end]).unwrap();
    }
}

/// Deterministic test bytes: a pattern of period 251 (so a shifted or
/// repeated segment is noticed) that `salt` shifts.
pub fn pattern(len: usize, salt: u32) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u64 * 31 + u64::from(salt) * 7) % 251) as u8)
        .collect()
}

/// [`pattern`] as shared bytes, for [`Bytes`].
pub fn data(len: usize, salt: u8) -> Rc<[u8]> {
    pattern(len, salt.into()).into()
}

/// What happened to one connection, as the app saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnLog {
    pub received: Vec<u8>,
    pub remote_closed: bool,
    pub closed: bool,
    pub reset: bool,
    pub connected: bool,
    pub acked: usize,
}

/// A client that sends a request to B:80 and a server that answers it with
/// `reply` and closes.
pub fn fetch(reply: &std::rc::Rc<[u8]>) -> (Script, Script) {
    let client = Script {
        connects: vec![(IP_B, 80)],
        request: Some(data(100, 1)),
        ..Script::default()
    };
    let server = Script {
        reply: Some(reply.clone()),
        close_after_reply: true,
        ..Script::default()
    };
    (client, server)
}

/// A scripted app: as a server it accepts on any port, replies with
/// `reply` to the first data (optionally closing at once); as a client it
/// opens `connects` connections and sends `request` when connected. It
/// closes its side when the peer closes. Everything is logged.
pub struct Script {
    pub reply: Option<Rc<[u8]>>,
    pub close_after_reply: bool,
    pub close_on_remote_close: bool,
    pub request: Option<Rc<[u8]>>,
    pub close_after_request: bool,
    pub connects: Vec<(Ipv4Addr, u16)>,
    pub logs: Vec<ConnLog>,
    pub accept: bool,
    /// Reset the connection when data arrives (after queueing any reply).
    pub abort_on_data: bool,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            reply: None,
            close_after_reply: false,
            close_on_remote_close: true,
            request: None,
            close_after_request: false,
            connects: Vec::new(),
            logs: Vec::new(),
            accept: true,
            abort_on_data: false,
        }
    }
}

impl Script {
    fn new_conn(&mut self) -> usize {
        self.logs.push(ConnLog::default());
        self.logs.len() - 1
    }
}

impl App for Script {
    type Conn = usize;
    type Writer = Bytes;

    fn accept(&mut self, _port: u16, _conn: &mut Conn<'_, Bytes>) -> Option<usize> {
        self.accept.then(|| self.new_conn())
    }

    fn on_connected(&mut self, c: &mut usize, conn: &mut Conn<'_, Bytes>) {
        self.logs[*c].connected = true;
        if let Some(request) = self.request.clone() {
            conn.send(request.len(), Bytes(request)).unwrap();
        }
        if self.close_after_request {
            conn.close();
        }
    }

    fn on_data(&mut self, c: &mut usize, conn: &mut Conn<'_, Bytes>, data: Cursor<'_>) {
        let first = self.logs[*c].received.is_empty();
        self.logs[*c].received.extend(data.copy_to_vec());
        if first {
            if let Some(reply) = self.reply.clone() {
                conn.send(reply.len(), Bytes(reply)).unwrap();
                if self.close_after_reply {
                    conn.close();
                }
            }
        }
        if self.abort_on_data {
            conn.abort();
        }
    }

    fn on_acked(&mut self, c: &mut usize, _conn: &mut Conn<'_, Bytes>, writer: Bytes) {
        self.logs[*c].acked += writer.0.len();
    }

    fn on_remote_close(&mut self, c: &mut usize, conn: &mut Conn<'_, Bytes>) {
        self.logs[*c].remote_closed = true;
        if self.close_on_remote_close {
            conn.close();
        }
    }

    fn on_close(&mut self, c: usize) {
        self.logs[c].closed = true;
    }

    fn on_reset(&mut self, c: usize) {
        self.logs[c].reset = true;
    }

    fn next_connect(&mut self, _now: Instant) -> Option<Connect<usize>> {
        let (addr, port) = self.connects.pop()?;
        let state = self.new_conn();
        Some(Connect { addr, port, state })
    }
}

/// Two stacks joined by the pair driver.
pub struct Net<A: App, B: App> {
    pub a: Stack<A>,
    pub b: Stack<B>,
    pub da: PairDriver,
    pub db: PairDriver,
    pub now: Instant,
}

/// The TCP settings tests use unless they say otherwise.
pub fn test_config() -> TcpConfig {
    TcpConfig {
        max_connections: 64,
        time_wait_capacity: 64,
        ooo_pool_segments: 256,
        ..TcpConfig::default()
    }
}

impl<A: App, B: App> Net<A, B> {
    pub fn new(app_a: A, app_b: B, config_a: TcpConfig, config_b: TcpConfig) -> Self {
        Self::with_caps_a(app_a, app_b, config_a, config_b, |_| {})
    }

    /// As [`Net::new`], with A's stack built on the pair driver's
    /// capabilities as changed by `caps_a` (say, another queue and a known
    /// flow hash).
    pub fn with_caps_a(
        app_a: A,
        app_b: B,
        config_a: TcpConfig,
        config_b: TcpConfig,
        caps_a: impl FnOnce(&mut Capabilities),
    ) -> Self {
        Self::build(app_a, app_b, config_a, config_b, true, caps_a)
    }

    /// As [`Net::new`], without capturing frames (long runs, allocation
    /// counts) unless the environment sets `CAPTURE`.
    pub fn quiet(app_a: A, app_b: B, config_a: TcpConfig, config_b: TcpConfig) -> Self {
        let capture = std::env::var_os("CAPTURE").is_some();
        Self::build(app_a, app_b, config_a, config_b, capture, |_| {})
    }

    fn build(
        app_a: A,
        app_b: B,
        config_a: TcpConfig,
        config_b: TcpConfig,
        capture: bool,
        caps_a: impl FnOnce(&mut Capabilities),
    ) -> Self {
        let (da, db) = pair(&PairConfig {
            capture,
            queue_capacity: 4096,
            ..PairConfig::default()
        });
        let mut ia = InterfaceConfig::new(Ipv4Cidr::new(IP_A, 24).unwrap());
        let mut ib = InterfaceConfig::new(Ipv4Cidr::new(IP_B, 24).unwrap());
        ia.announce = false;
        ib.announce = false;
        let mut caps = da.capabilities();
        caps_a(&mut caps);
        let mut a = Stack::new(&caps, ia, config_a, app_a, Instant::ZERO);
        let mut b = Stack::new(&db.capabilities(), ib, config_b, app_b, Instant::ZERO);
        // Static ARP keeps traces about TCP.
        a.iface_mut().add_static_arp(IP_B, db.mac()).unwrap();
        b.iface_mut().add_static_arp(IP_A, da.mac()).unwrap();
        Net {
            a,
            b,
            da,
            db,
            now: Instant::ZERO,
        }
    }

    /// Polls both stacks until neither has anything to do at `now`.
    pub fn settle(&mut self) {
        self.settle_until(|_| false);
    }

    /// Polls both stacks until neither has anything to do now, or `done`
    /// holds (checked after every round: a load generator with no request
    /// limit keeps the network busy at one instant). Returns whether `done`
    /// held.
    pub fn settle_until(&mut self, mut done: impl FnMut(&Self) -> bool) -> bool {
        for _ in 0..1_000_000 {
            let wa = self.a.poll(&mut self.da, self.now);
            let wb = self.b.poll(&mut self.db, self.now);
            if done(self) {
                return true;
            }
            if !wa && !wb && self.da.pending() == 0 && self.db.pending() == 0 {
                return false;
            }
        }
        panic!("no quiescence at {}", self.now);
    }

    /// Runs until `done` holds or `limit` of virtual time has passed,
    /// jumping from timer to timer. Returns whether `done` held.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            if done(self) || self.settle_until(&mut done) {
                return true;
            }
            let next = [self.a.poll_at(), self.b.poll_at()]
                .into_iter()
                .flatten()
                .filter(|&t| t > self.now)
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = t;
                    self.da.set_now(t);
                }
                _ => {
                    // Nothing before the limit: end there, so that a later
                    // call goes on from it.
                    self.now = end;
                    self.da.set_now(end);
                    return self.settle_until(&mut done);
                }
            }
        }
    }

    /// Runs events until `limit` (virtual time), jumping to timer deadlines;
    /// each hop between the stacks takes `latency`.
    pub fn run_for(&mut self, duration: Duration) {
        let limit = self.now + duration;
        self.settle();
        loop {
            let next = [self.a.poll_at(), self.b.poll_at()]
                .into_iter()
                .flatten()
                .filter(|&t| t > self.now)
                .min();
            match next {
                Some(t) if t <= limit => {
                    self.now = t;
                    self.da.set_now(t);
                    self.settle();
                }
                _ => {
                    self.now = limit;
                    self.da.set_now(limit);
                    self.settle();
                    return;
                }
            }
        }
    }

    /// The frames so far as trace lines ("A" or "B" sent them).
    pub fn trace(&self) -> String {
        trace_lines(&self.da.take_capture())
    }
}

/// Renders captured frames as lines with virtual time and direction.
pub fn trace_lines(frames: &[CapturedFrame]) -> String {
    let mut tracer = Tracer::new();
    let mut out = String::new();
    for f in frames {
        let who = if f.from == 0 { "A" } else { "B" };
        let lost = if f.lost { "  (lost)" } else { "" };
        out.push_str(&format!(
            "{:>10.3}ms {who} {}{lost}\n",
            f.at.as_nanos() as f64 / 1e6,
            tracer.line(&f.bytes)
        ));
    }
    out
}
