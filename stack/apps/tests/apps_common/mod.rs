//! Shared harness of the `apps_*` tests: a server stack and a client stack
//! over the pair driver, a virtual-time event loop, test pages and a raw
//! client that sends scripted bytes.
#![allow(dead_code)]

use std::rc::Rc;

use rusty_apps::Page;
use rusty_stack::iface::InterfaceConfig;
use rusty_stack::mem::cursor::{Cursor, CursorMut};
use rusty_stack::nic::pair::{pair, PairConfig, PairDriver};
use rusty_stack::nic::Driver;
use rusty_stack::prefix_sum::PrefixSums;
use rusty_stack::tcp::{App, ConnRef, Connect, StaticWriter, TcpConfig, Writer};
use rusty_stack::time::{Duration, Instant};
use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr};
use rusty_stack::Stack;

pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// TCP settings of the tests unless they say otherwise.
pub fn config() -> TcpConfig {
    TcpConfig {
        max_connections: 128,
        time_wait_capacity: 1024,
        ooo_pool_segments: 512,
        ..TcpConfig::default()
    }
}

/// A server stack and a client stack joined by the pair driver.
pub struct Net<S: App, C: App> {
    pub server: Stack<S>,
    pub client: Stack<C>,
    pub ds: PairDriver,
    pub dc: PairDriver,
    pub now: Instant,
}

impl<S: App, C: App> Net<S, C> {
    pub fn new(server: S, client: C, server_config: TcpConfig, client_config: TcpConfig) -> Self {
        let (ds, dc) = pair(&PairConfig {
            queue_capacity: 4096,
            capture: std::env::var("CAPTURE").is_ok(),
            ..PairConfig::default()
        });
        let mut is = InterfaceConfig::new(Ipv4Cidr::new(SERVER_IP, 24).unwrap());
        let mut ic = InterfaceConfig::new(Ipv4Cidr::new(CLIENT_IP, 24).unwrap());
        is.announce = false;
        ic.announce = false;
        let mut server = Stack::new(&ds.capabilities(), is, server_config, server, Instant::ZERO);
        let mut client = Stack::new(&dc.capabilities(), ic, client_config, client, Instant::ZERO);
        server
            .iface_mut()
            .add_static_arp(CLIENT_IP, dc.mac())
            .unwrap();
        client
            .iface_mut()
            .add_static_arp(SERVER_IP, ds.mac())
            .unwrap();
        Net {
            server,
            client,
            ds,
            dc,
            now: Instant::ZERO,
        }
    }

    /// Polls both stacks until neither has anything to do now.
    pub fn settle(&mut self) {
        self.settle_until(|_| false);
    }

    /// Polls both stacks until neither has anything to do now, or `done`
    /// holds (checked after every round: a load generator with no request
    /// limit keeps the network busy at one instant). Returns whether `done`
    /// held.
    pub fn settle_until(&mut self, mut done: impl FnMut(&Self) -> bool) -> bool {
        for _ in 0..1_000_000 {
            let ws = self.server.poll(&mut self.ds, self.now);
            let wc = self.client.poll(&mut self.dc, self.now);
            if done(self) {
                return true;
            }
            if !ws && !wc && self.ds.pending() == 0 && self.dc.pending() == 0 {
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
            let next = [self.server.poll_at(), self.client.poll_at()]
                .into_iter()
                .flatten()
                .filter(|&t| t > self.now)
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = t;
                    self.ds.set_now(t);
                }
                _ => {
                    // Nothing before the limit: end there, so that a later
                    // call goes on from it.
                    self.now = end;
                    self.ds.set_now(end);
                    return self.settle_until(&mut done);
                }
            }
        }
    }
}

/// Deterministic page bytes.
pub fn page_bytes(len: usize, salt: u32) -> Vec<u8> {
    let mut x = 0x9e37_79b9u32 ^ salt.wrapping_mul(0x85eb_ca6b) ^ len as u32;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// Leaks pages built from `bodies` (page `i` is `bodies[i]`), with checksum
/// tables when `sums`.
pub fn leak_pages(bodies: Vec<Vec<u8>>, sums: bool) -> &'static [Page<'static>] {
    let pages: Vec<Page<'static>> = bodies
        .into_iter()
        .map(|b| {
            let body: &'static [u8] = Box::leak(b.into_boxed_slice());
            if sums {
                Page::with_sums(body, Box::leak(Box::new(PrefixSums::new(body))))
            } else {
                Page::new(body)
            }
        })
        .collect();
    Box::leak(pages.into_boxed_slice())
}

/// A writer over shared bytes.
#[derive(Clone, Debug)]
pub struct Bytes(pub Rc<[u8]>);

impl Writer for Bytes {
    fn write(&self, offset: usize, out: &mut CursorMut<'_>) {
        let end = (offset + out.len()).min(self.0.len());
        out.write(&self.0[offset..end]).unwrap();
    }
}

/// What one connection of a test client saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Log {
    pub received: Vec<u8>,
    pub connected: bool,
    pub remote_closed: bool,
    pub closed: bool,
    pub reset: bool,
    /// `on_data` calls (pieces the data arrived in).
    pub deliveries: usize,
}

impl Log {
    pub fn done(&self) -> bool {
        self.closed || self.reset
    }
}

/// A client that opens one connection per job and sends its pieces one at
/// a time: the first when connected, each next one when the previous one
/// is acknowledged (so every piece travels in its own segment). With
/// `close_after`, it closes after the last piece. Logs what comes back.
pub struct RawClient {
    pub jobs: Vec<Vec<&'static [u8]>>,
    pub close_after: bool,
    pub port: u16,
    pub logs: Vec<Log>,
    started: usize,
}

impl RawClient {
    pub fn new(jobs: Vec<Vec<&'static [u8]>>, close_after: bool) -> Self {
        RawClient {
            jobs,
            close_after,
            port: 80,
            logs: Vec::new(),
            started: 0,
        }
    }

    pub fn all_done(&self) -> bool {
        self.logs.len() == self.jobs.len() && self.logs.iter().all(Log::done)
    }

    fn send_next(&mut self, c: &mut (usize, usize), conn: ConnRef<'_, StaticWriter>) {
        let pieces = &self.jobs[c.0];
        if let Some(piece) = pieces.get(c.1) {
            conn.send(piece.len(), StaticWriter(piece)).unwrap();
            c.1 += 1;
            if c.1 == pieces.len() && self.close_after {
                conn.close();
            }
        }
    }
}

impl App for RawClient {
    /// (job, pieces sent)
    type Conn = (usize, usize);
    type Writer = StaticWriter;

    fn accept(&mut self, _: u16, _: ConnRef<'_, StaticWriter>) -> Option<(usize, usize)> {
        None
    }

    fn on_connected(&mut self, c: &mut (usize, usize), conn: ConnRef<'_, StaticWriter>) {
        self.logs[c.0].connected = true;
        self.send_next(c, conn);
    }

    fn on_acked(
        &mut self,
        c: &mut (usize, usize),
        conn: ConnRef<'_, StaticWriter>,
        _: StaticWriter,
    ) {
        self.send_next(c, conn);
    }

    fn on_data(&mut self, c: &mut (usize, usize), _: ConnRef<'_, StaticWriter>, data: Cursor<'_>) {
        let log = &mut self.logs[c.0];
        log.received.extend(data.copy_to_vec());
        log.deliveries += 1;
    }

    fn on_remote_close(&mut self, c: &mut (usize, usize), conn: ConnRef<'_, StaticWriter>) {
        self.logs[c.0].remote_closed = true;
        conn.close();
    }

    fn on_close(&mut self, c: (usize, usize)) {
        self.logs[c.0].closed = true;
    }

    fn on_reset(&mut self, c: (usize, usize)) {
        self.logs[c.0].reset = true;
    }

    fn next_connect(&mut self, _now: Instant) -> Option<Connect<(usize, usize)>> {
        if self.started == self.jobs.len() {
            return None;
        }
        self.started += 1;
        self.logs.push(Log::default());
        Some(Connect {
            addr: SERVER_IP,
            port: self.port,
            state: (self.started - 1, 0),
        })
    }
}
