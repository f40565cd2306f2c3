//! A load-generating client host running smoltcp, an independent TCP/IP
//! stack, so that Rusty's server is measured against a peer that shares
//! none of its code.
//!
//! # Design
//!
//! [`SmolHost`] has `cores` simulated cores and one NIC port per link. Core
//! `c` runs one smoltcp [`Interface`] per port, each with its own
//! [`SocketSet`] of TCP client sockets and its own frame queues. All the
//! interfaces of a port share the port's MAC and IPv4 address (like the
//! per-core stacks of a [`RustyHost`](crate::hosts::rusty::RustyHost)); what keeps
//! them apart is the local TCP port: core `c` only opens connections from
//! ephemeral ports `p` with `p % cores == c`, and [`SmolHost::deliver`]
//! steers an incoming TCP segment by its destination port (a flow-director
//! rule). ARP frames go to every core of the port, so each interface
//! resolves the server by itself; other frames go to core 0.
//!
//! The client application runs on the sockets between polls. For the
//! thesis workload each socket repeatedly opens a connection from a fresh
//! local port, sends `GET /N.htm HTTP/1.1` for a page drawn from the
//! interface's own seeded stream, parses the response head with the
//! independent parser of [`crate::hosts::smol_http`] (status `200` and a
//! `Content-Length` equal to the page's length are required), compares the
//! body byte for byte with the page, and closes. A reset, a refused or
//! timed-out connection, a bad head, an early close or a differing body
//! counts as a failure. Echo and bulk workloads send the bulk pattern
//! ([`bulk_byte`]) and verify what comes back the same way.
//!
//! # Time and cost
//!
//! smoltcp runs on the simulator's virtual clock, in whole microseconds.
//! For each interface of the core, [`SmolHost::run_core`] lets smoltcp take
//! in the frames delivered since the last run (at most `batch`), runs the
//! application on every socket, then lets smoltcp send (so ACKs ride on
//! the request or the FIN the application just queued). The work is priced
//! with the host's [`CostModel`] (x86 by default): per frame and byte in
//! and out, and `per_poll` for the poll plus twice per socket (smoltcp's
//! egress and the application each visit every socket on every run). The
//! core wakes at smoltcp's `poll_at`, at the earliest application deadline,
//! or as soon as it is free when frames or work remain. The busy fraction
//! in reports tells whether the client was the bottleneck.
//!
//! A connection counts against the concurrency until its socket has
//! closed (as with Rusty's client), and each connection is a fresh smoltcp
//! socket state: smoltcp's retransmission timeout starts at 700 ms for
//! every connection, so a lost segment stalls a request for that long.
//!
//! # Determinism
//!
//! Everything is indexed by vectors (no hash-map iteration), smoltcp's
//! random seed, the port cycles and the page choices come from the host's
//! seed tree ([`SmolHostConfig::seeds`]), and the TCP timestamp clock
//! smoltcp asks for is the virtual time of the poll in progress (a
//! thread-local set before each poll: smoltcp's generator is a plain
//! function).

use std::cell::Cell;
use std::collections::{BTreeSet, VecDeque};

use rand_chacha::ChaCha8Rng;
use rusty_apps::{Content, LatencyHistogram};
use rusty_stack::stats::{IfaceCounters, TcpCounters};
use rusty_stack::time::{Duration, Instant};
use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr, MacAddr};
use smoltcp::iface::{Config, Interface, PollIngressSingleResult, SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::wire::{
    EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint, IpListenEndpoint,
};

use crate::hosts::cost::{CostModel, Work};
use crate::hosts::rusty::{CoreRun, CoreStats, HostModel, Outbox, PortSpec};
use crate::hosts::smol_http::{HeadFault, HeadReader};
use crate::hosts::smol_peer::{from_smol, to_smol, DeviceCounts, QueueDevice};
use crate::kernel::rng::{below, core_port_index, Seeds};
use crate::net::nic::NicStats;
use crate::scenario::workload::{bulk_byte, ClientStats, Failures, Pages, StreamMode};
use crate::scenario::{Scenario, Workload};

/// First ephemeral port.
pub const EPHEMERAL_FIRST: u16 = 49152;
/// Last ephemeral port.
pub const EPHEMERAL_LAST: u16 = 65535;

/// What the sockets ask the server.
#[derive(Clone, Copy, Debug)]
pub enum SmolWorkload {
    /// `GET /N.htm` for random pages, verified against these.
    Http(Pages),
    /// Echo or bulk transfer of the bulk pattern.
    Stream(StreamMode),
}

/// Settings of a [`SmolHost`].
#[derive(Clone, Debug)]
pub struct SmolHostConfig {
    /// Name for reports.
    pub name: String,
    /// Number of cores (one smoltcp interface per core and port).
    pub cores: usize,
    /// The ports (MAC and address).
    pub ports: Vec<PortSpec>,
    /// The server's address on each port.
    pub servers: Vec<Ipv4Addr>,
    /// The server's TCP port.
    pub server_port: u16,
    /// IP MTU of every port.
    pub mtu: usize,
    /// Connections kept busy in all, shared over cores and ports.
    pub conns: u32,
    /// Requests to start in all (shared over the interfaces as
    /// [`crate::run::engine::request_budget`] says), or `None` until told
    /// to stop.
    pub max_requests: Option<u64>,
    /// What each connection does.
    pub workload: SmolWorkload,
    /// The host's seeds: interface `(core, port)`, with `i =
    /// core_port_index(core, port)`, takes smoltcp's `random_seed` (ISNs)
    /// from stream `("smoltcp-random", i)`, the start of its ephemeral
    /// port cycle from `("smoltcp-ports", i)` and its page choices from
    /// `("smoltcp-pages", i)`.
    pub seeds: Seeds,
    /// Receive buffer of each socket.
    pub rx_buffer: usize,
    /// Transmit buffer of each socket.
    pub tx_buffer: usize,
    /// Frames an interface takes from its queue per poll.
    pub batch: usize,
    /// Frames each interface's receive queue holds (more are dropped).
    pub rx_queue: usize,
    /// What work costs.
    pub cost: CostModel,
    /// Offer TCP timestamps (RFC 7323).
    pub timestamps: bool,
    /// A request not done after this long is aborted and counted failed;
    /// a closing connection is aborted after this long too.
    pub request_timeout: Duration,
}

/// Why [`SmolHostConfig::for_scenario`] cannot wire a scenario's client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmolConfigError {
    /// A port's address prefix is invalid.
    Prefix,
}

impl std::fmt::Display for SmolConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SmolConfigError::Prefix => f.write_str("the smoltcp client: bad address prefix"),
        }
    }
}

impl std::error::Error for SmolConfigError {}

impl SmolHostConfig {
    /// The client of `scenario`, wired as the engine wires its hosts: port
    /// `p` is `10.0.p.2/24` with MAC `02:00:00:00:p:02`, the server is
    /// `10.0.p.1`. Fails for scenarios it cannot run.
    pub fn for_scenario(
        scenario: &Scenario,
        pages: Pages,
    ) -> Result<SmolHostConfig, SmolConfigError> {
        let links = scenario.link_count().max(1) as usize;
        let workload = match scenario.workload {
            Workload::ThesisHttp {} => SmolWorkload::Http(pages),
            Workload::Echo { message_bytes } => SmolWorkload::Stream(StreamMode::Echo {
                message: message_bytes,
            }),
            Workload::Bulk { bytes } => SmolWorkload::Stream(StreamMode::Bulk { bytes }),
        };
        let ports = (0..links)
            .map(|p| {
                let ip = crate::run::engine::address(p, 2);
                Ok(PortSpec {
                    mac: MacAddr([0x02, 0, 0, 0, p as u8, 2]),
                    ip: Ipv4Cidr::new(ip, 24).ok_or(SmolConfigError::Prefix)?,
                })
            })
            .collect::<Result<Vec<_>, SmolConfigError>>()?;
        Ok(SmolHostConfig {
            name: "client".into(),
            cores: scenario.client.cores.max(1) as usize,
            ports,
            servers: (0..links)
                .map(|p| crate::run::engine::address(p, 1))
                .collect(),
            server_port: crate::run::engine::SERVER_PORT,
            mtu: usize::from(scenario.server.mtu),
            conns: scenario.client.conns.max(1),
            max_requests: scenario.max_requests,
            workload,
            seeds: crate::run::engine::client_seeds(scenario),
            rx_buffer: 64 * 1024,
            tx_buffer: 4 * 1024,
            batch: 64,
            rx_queue: 4096,
            cost: CostModel::X86,
            timestamps: scenario.server.tcp.timestamps,
            request_timeout: Duration::from_secs(10),
        })
    }
}

thread_local! {
    /// Virtual milliseconds (plus one) of the poll in progress, for TCP
    /// timestamps.
    static TS_CLOCK: Cell<u32> = const { Cell::new(1) };
}

fn tsval() -> u32 {
    TS_CLOCK.with(Cell::get)
}

fn set_ts_clock(now: Instant) {
    let ms = now.as_nanos() / 1_000_000;
    TS_CLOCK.with(|c| c.set((ms as u32).wrapping_add(1)));
}

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmolFail {
    /// No free ephemeral port, or smoltcp refused the connect.
    NoPort,
    /// The socket closed during the handshake: the server reset it (the
    /// sockets have no timeout of their own, see
    /// [`SmolLoadCounters::failures`]).
    ConnectFailed,
    /// The connection was reset after it was established.
    Reset,
    /// The status was not `200` or the status line was malformed.
    BadStatus,
    /// A malformed header or an over-long head.
    BadHeader,
    /// `Content-Length` missing or not the page's length, or extra bytes.
    LengthMismatch,
    /// A body byte differed.
    BodyMismatch,
    /// The server closed before the whole response arrived.
    ClosedEarly,
    /// The request took longer than the request timeout.
    Timeout,
}

/// Counters of the smoltcp client (all interfaces merged).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SmolLoadCounters {
    /// Requests started.
    pub started: u64,
    /// Connections established.
    pub connected: u64,
    /// Requests verified.
    pub ok: u64,
    /// [`SmolFail::NoPort`].
    pub no_port: u64,
    /// [`SmolFail::ConnectFailed`].
    pub connect_failed: u64,
    /// [`SmolFail::Reset`].
    pub reset: u64,
    /// [`SmolFail::BadStatus`].
    pub bad_status: u64,
    /// [`SmolFail::BadHeader`].
    pub bad_header: u64,
    /// [`SmolFail::LengthMismatch`].
    pub length_mismatch: u64,
    /// [`SmolFail::BodyMismatch`].
    pub body_mismatch: u64,
    /// [`SmolFail::ClosedEarly`].
    pub closed_early: u64,
    /// [`SmolFail::Timeout`].
    pub timeout: u64,
    /// Verified payload bytes (of requests counted ok for HTTP; every
    /// matching byte for echo and bulk).
    pub bytes_ok: u64,
    /// Payload bytes that differed from what was expected.
    pub bytes_corrupt: u64,
    /// Bytes received after a request was counted (ignored).
    pub extra_bytes: u64,
    /// Connections aborted after the close timeout.
    pub close_timeouts: u64,
}

impl SmolLoadCounters {
    fn slot(&mut self, reason: SmolFail) -> &mut u64 {
        match reason {
            SmolFail::NoPort => &mut self.no_port,
            SmolFail::ConnectFailed => &mut self.connect_failed,
            SmolFail::Reset => &mut self.reset,
            SmolFail::BadStatus => &mut self.bad_status,
            SmolFail::BadHeader => &mut self.bad_header,
            SmolFail::LengthMismatch => &mut self.length_mismatch,
            SmolFail::BodyMismatch => &mut self.body_mismatch,
            SmolFail::ClosedEarly => &mut self.closed_early,
            SmolFail::Timeout => &mut self.timeout,
        }
    }

    /// All failed requests.
    pub fn failed(&self) -> u64 {
        self.no_port
            + self.connect_failed
            + self.reset
            + self.bad_status
            + self.bad_header
            + self.length_mismatch
            + self.body_mismatch
            + self.closed_early
            + self.timeout
    }

    /// The failures in the report's vocabulary. smoltcp's sockets are
    /// given no timeout, so smoltcp never abandons a handshake itself: a
    /// socket that closes during the handshake was reset (refused), and a
    /// handshake that stalls ends at the client's request timeout.
    pub fn failures(&self) -> Failures {
        Failures {
            refused: self.connect_failed,
            timeout: self.timeout,
            reset: self.reset,
            verification: self.bad_status
                + self.bad_header
                + self.length_mismatch
                + self.body_mismatch,
            closed_early: self.closed_early,
            local: self.no_port,
            handshake: 0,
        }
    }

    /// Requests neither ok nor failed yet.
    pub fn in_flight(&self) -> u64 {
        self.started - self.ok - self.failed()
    }

    fn merge(&mut self, o: &SmolLoadCounters) {
        self.started += o.started;
        self.connected += o.connected;
        self.ok += o.ok;
        self.no_port += o.no_port;
        self.connect_failed += o.connect_failed;
        self.reset += o.reset;
        self.bad_status += o.bad_status;
        self.bad_header += o.bad_header;
        self.length_mismatch += o.length_mismatch;
        self.body_mismatch += o.body_mismatch;
        self.closed_early += o.closed_early;
        self.timeout += o.timeout;
        self.bytes_ok += o.bytes_ok;
        self.bytes_corrupt += o.bytes_corrupt;
        self.extra_bytes += o.extra_bytes;
        self.close_timeouts += o.close_timeouts;
    }
}

/// Where a connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// No connection: a new one may start.
    Idle,
    /// Waiting for the handshake.
    Connecting,
    /// Sending the request and reading the response.
    Active,
    /// The request is counted; waiting for the socket to close.
    Closing,
}

/// What a request expects back.
#[derive(Clone, Debug)]
enum Expect {
    /// An HTTP response carrying `body`.
    Http {
        body: &'static [u8],
        head: HeadReader,
        head_done: bool,
    },
    /// `len` bytes of the bulk pattern.
    Pattern { len: u64 },
}

/// One socket's request state.
#[derive(Debug)]
struct Conn {
    handle: SocketHandle,
    phase: Phase,
    /// Seen in TIME-WAIT by an earlier pass.
    linger: bool,
    local_port: u16,
    started: Instant,
    /// When the phase gives up.
    deadline: Instant,
    /// The request's bytes (HTTP; the stream workloads generate theirs).
    request: Vec<u8>,
    to_send: u64,
    sent: u64,
    expect: Expect,
    /// Payload bytes received and compared.
    received: u64,
    corrupt: bool,
    overrun: bool,
    /// Counted as ok or failed.
    counted: bool,
}

/// The ephemeral ports of one interface: `p % cores == core`, visited in
/// a full cycle with a large stride (about `count / φ`, coprime with
/// `count`) from a seeded start. A port comes back only after every other
/// one was used, and consecutive connections get far-apart ports: with
/// sequential ports the Toeplitz hash of the server's RSS puts the open
/// connections on its cores unevenly (a real client's ports are
/// randomized, RFC 6056).
#[derive(Debug)]
struct PortAllocator {
    first: u32,
    step: u32,
    count: u32,
    stride: u32,
    next: u32,
    in_use: BTreeSet<u16>,
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl PortAllocator {
    fn new(core: usize, cores: usize, seed: u64) -> Self {
        let step = cores.max(1) as u32;
        let base = u32::from(EPHEMERAL_FIRST);
        let first = base + (core as u32 + step - base % step) % step;
        let count = (u32::from(EPHEMERAL_LAST) + 1)
            .saturating_sub(first)
            .div_ceil(step);
        let count = count.max(1);
        let mut stride = ((f64::from(count) * 0.618_034) as u32).max(1);
        while gcd(stride, count) != 1 {
            stride += 1;
        }
        PortAllocator {
            first,
            step,
            count,
            stride,
            next: (seed % u64::from(count)) as u32,
            in_use: BTreeSet::new(),
        }
    }

    fn take(&mut self) -> Option<u16> {
        for _ in 0..self.count {
            let port = (self.first + self.next * self.step) as u16;
            self.next = (self.next + self.stride) % self.count;
            if self.in_use.insert(port) {
                return Some(port);
            }
        }
        None
    }

    fn release(&mut self, port: u16) {
        self.in_use.remove(&port);
    }
}

/// One smoltcp interface (a core's share of a port) and its client.
struct SmolIface {
    iface: Interface,
    device: QueueDevice,
    sockets: SocketSet<'static>,
    conns: Vec<Conn>,
    ports: PortAllocator,
    /// Page choices.
    rng: ChaCha8Rng,
    server: Ipv4Addr,
    host_header: String,
    counters: SmolLoadCounters,
    latency: LatencyHistogram,
    rx_queue_full: u64,
    /// The host was told to open no more connections.
    stopped: bool,
    /// Requests this interface may still start (`None`: no limit).
    budget: Option<u64>,
}

/// Settings the application pass needs.
#[derive(Clone, Copy)]
struct AppEnv {
    workload: SmolWorkload,
    server_port: u16,
    timestamps: bool,
    timeout: Duration,
}

impl SmolIface {
    fn fail(counters: &mut SmolLoadCounters, c: &mut Conn, reason: SmolFail) {
        if !c.counted {
            c.counted = true;
            *counters.slot(reason) += 1;
        }
    }

    /// Runs the application on every socket.
    fn app_pass(&mut self, env: &AppEnv, now: Instant) {
        for i in 0..self.conns.len() {
            self.step(i, env, now);
        }
    }

    /// Some socket is closed while its connection still waits to be
    /// reused (an abort whose reset the last poll sent): the application
    /// must run again.
    fn needs_pass(&self) -> bool {
        self.conns.iter().any(|c| {
            c.phase == Phase::Closing
                && matches!(
                    self.sockets.get::<tcp::Socket>(c.handle).state(),
                    tcp::State::Closed | tcp::State::TimeWait
                )
        })
    }

    /// One connection's work.
    fn step(&mut self, i: usize, env: &AppEnv, now: Instant) {
        let SmolIface {
            iface,
            sockets,
            conns,
            ports,
            rng,
            server,
            host_header,
            counters,
            latency,
            stopped,
            budget,
            ..
        } = self;
        let c = &mut conns[i];
        let socket = sockets.get_mut::<tcp::Socket>(c.handle);
        // A connection that enters `Closing` waits for the next pass (after
        // a poll) before it is reused: its socket may still have a
        // segment to send, e.g. the reset of an abort.
        if c.phase == Phase::Closing {
            drain(socket, counters);
            let state = socket.state();
            if state == tcp::State::TimeWait && !c.linger {
                // The ACK of the server's FIN goes out with the next
                // egress; the socket is reused after that.
                c.linger = true;
                return;
            }
            if matches!(state, tcp::State::Closed | tcp::State::TimeWait) {
                ports.release(c.local_port);
                c.phase = Phase::Idle;
            } else if now >= c.deadline {
                counters.close_timeouts += 1;
                socket.abort();
                return;
            } else {
                return;
            }
        }
        if c.phase == Phase::Connecting {
            match socket.state() {
                tcp::State::SynSent | tcp::State::SynReceived => {
                    if now >= c.deadline {
                        Self::fail(counters, c, SmolFail::Timeout);
                        socket.abort();
                        c.phase = Phase::Closing;
                        return;
                    }
                    return;
                }
                tcp::State::Closed | tcp::State::TimeWait | tcp::State::Listen => {
                    Self::fail(counters, c, SmolFail::ConnectFailed);
                    ports.release(c.local_port);
                    c.phase = Phase::Idle;
                }
                _ => {
                    counters.connected += 1;
                    c.phase = Phase::Active;
                }
            }
        }
        if c.phase == Phase::Active {
            send_more(socket, c);
            let finished = receive(socket, c, counters, latency, now);
            if c.counted {
                // Done (ok or failed): close our side.
                socket.close();
                c.phase = Phase::Closing;
                c.deadline = now + env.timeout;
                return;
            }
            if finished {
                // The server closed before the response was complete.
                Self::fail(counters, c, SmolFail::ClosedEarly);
                socket.close();
                c.phase = Phase::Closing;
                c.deadline = now + env.timeout;
                return;
            }
            if matches!(socket.state(), tcp::State::Closed | tcp::State::TimeWait) {
                Self::fail(counters, c, SmolFail::Reset);
                ports.release(c.local_port);
                c.phase = Phase::Idle;
            } else if now >= c.deadline {
                Self::fail(counters, c, SmolFail::Timeout);
                socket.abort();
                c.phase = Phase::Closing;
                return;
            } else {
                return;
            }
        }
        // Idle: start the next request, unless told to stop or the budget
        // is spent. The page is drawn first, so that the k-th request of
        // this interface asks for its k-th page whatever happens to it.
        if *stopped || *budget == Some(0) {
            return;
        }
        if let Some(left) = budget.as_mut() {
            *left -= 1;
        }
        c.request.clear();
        match env.workload {
            SmolWorkload::Http(pages) => {
                let count = pages.count();
                let index = below(rng, count as u64) as usize;
                let body = pages.page(index).map_or(&[][..], |p| p.body);
                c.request.extend_from_slice(b"GET /");
                c.request.extend_from_slice(index.to_string().as_bytes());
                c.request.extend_from_slice(b".htm HTTP/1.1\r\nHost: ");
                c.request.extend_from_slice(host_header.as_bytes());
                c.request.extend_from_slice(b"\r\n\r\n");
                c.to_send = c.request.len() as u64;
                c.expect = Expect::Http {
                    body,
                    head: HeadReader::new(),
                    head_done: false,
                };
            }
            SmolWorkload::Stream(StreamMode::Echo { message }) => {
                c.to_send = u64::from(message.max(1));
                c.expect = Expect::Pattern { len: c.to_send };
            }
            SmolWorkload::Stream(StreamMode::Bulk { bytes }) => {
                c.to_send = 1;
                c.expect = Expect::Pattern { len: bytes };
            }
        }
        let Some(port) = ports.take() else {
            counters.started += 1;
            c.counted = false;
            Self::fail(counters, c, SmolFail::NoPort);
            return;
        };
        c.local_port = port;
        c.linger = false;
        c.started = now;
        c.deadline = now + env.timeout;
        c.sent = 0;
        c.received = 0;
        c.corrupt = false;
        c.overrun = false;
        c.counted = false;
        counters.started += 1;
        socket.set_nagle_enabled(false);
        socket.set_tsval_generator(env.timestamps.then_some(tsval as fn() -> u32));
        let remote = IpEndpoint::new(IpAddress::Ipv4(*server), env.server_port);
        match socket.connect(iface.context(), remote, IpListenEndpoint::from(port)) {
            Ok(()) => c.phase = Phase::Connecting,
            Err(_) => {
                Self::fail(counters, c, SmolFail::NoPort);
                ports.release(port);
                c.phase = Phase::Idle;
            }
        }
    }

    /// The earliest application deadline.
    fn deadline(&self) -> Option<Instant> {
        self.conns
            .iter()
            .filter(|c| c.phase != Phase::Idle)
            .map(|c| c.deadline)
            .min()
    }
}

/// Reads and ignores what arrives on a counted connection.
fn drain(socket: &mut tcp::Socket<'static>, counters: &mut SmolLoadCounters) {
    while let Ok(n) = socket.recv(|buf| (buf.len(), buf.len())) {
        if n == 0 {
            break;
        }
        counters.extra_bytes += n as u64;
    }
}

/// Queues as much of the request as the socket takes.
fn send_more(socket: &mut tcp::Socket<'static>, c: &mut Conn) {
    while c.sent < c.to_send && socket.can_send() {
        let from = c.sent;
        let left = c.to_send - from;
        let request = &c.request;
        let n = socket
            .send(|buf| {
                let n = (buf.len() as u64).min(left) as usize;
                if request.is_empty() {
                    for (k, b) in buf[..n].iter_mut().enumerate() {
                        *b = bulk_byte(from + k as u64);
                    }
                } else {
                    let start = from as usize;
                    buf[..n].copy_from_slice(&request[start..start + n]);
                }
                (n, n)
            })
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        c.sent += n as u64;
    }
}

/// Reads and verifies what arrived; returns whether the server has closed
/// its side (and everything it sent was read).
fn receive(
    socket: &mut tcp::Socket<'static>,
    c: &mut Conn,
    counters: &mut SmolLoadCounters,
    latency: &mut LatencyHistogram,
    now: Instant,
) -> bool {
    loop {
        let result = socket.recv(|buf| {
            let n = buf.len();
            if c.counted {
                counters.extra_bytes += n as u64;
            } else {
                verify(c, counters, buf);
            }
            (n, n)
        });
        match result {
            Ok(0) => return false,
            Ok(_) => {
                if !c.counted {
                    complete(c, counters, latency, now);
                }
            }
            Err(tcp::RecvError::Finished) => return true,
            Err(tcp::RecvError::InvalidState) => return false,
        }
    }
}

/// Feeds received bytes to the request's verifier.
fn verify(c: &mut Conn, counters: &mut SmolLoadCounters, mut piece: &[u8]) {
    match &mut c.expect {
        Expect::Http {
            body,
            head,
            head_done,
        } => {
            if !*head_done {
                let used = head.feed(piece);
                piece = &piece[used..];
                match head.result() {
                    None => return,
                    Some(Ok(h)) if h.status != 200 => {
                        SmolIface::fail(counters, c, SmolFail::BadStatus);
                        return;
                    }
                    Some(Ok(h)) if h.content_length != Some(body.len() as u64) => {
                        SmolIface::fail(counters, c, SmolFail::LengthMismatch);
                        return;
                    }
                    Some(Ok(_)) => *head_done = true,
                    Some(Err(HeadFault::BadStatusLine(_))) => {
                        SmolIface::fail(counters, c, SmolFail::BadStatus);
                        return;
                    }
                    Some(Err(_)) => {
                        SmolIface::fail(counters, c, SmolFail::BadHeader);
                        return;
                    }
                }
            }
            let at = c.received as usize;
            let want = &body[at.min(body.len())..];
            let n = piece.len().min(want.len());
            let differing = piece[..n]
                .iter()
                .zip(&want[..n])
                .filter(|(a, b)| a != b)
                .count();
            if differing > 0 {
                c.corrupt = true;
                counters.bytes_corrupt += differing as u64;
            }
            c.received += n as u64;
            if piece.len() > n {
                c.overrun = true;
            }
        }
        Expect::Pattern { len } => {
            for &b in piece {
                if c.received >= *len || b != bulk_byte(c.received) {
                    c.corrupt = true;
                    counters.bytes_corrupt += 1;
                } else {
                    counters.bytes_ok += 1;
                }
                c.received += 1;
            }
        }
    }
}

/// Counts the request once its whole response has been verified.
fn complete(
    c: &mut Conn,
    counters: &mut SmolLoadCounters,
    latency: &mut LatencyHistogram,
    now: Instant,
) {
    let (expected, http) = match &c.expect {
        Expect::Http {
            body, head_done, ..
        } => {
            if !*head_done {
                return;
            }
            (body.len() as u64, true)
        }
        Expect::Pattern { len } => (*len, false),
    };
    if c.received < expected {
        return;
    }
    if c.corrupt {
        SmolIface::fail(counters, c, SmolFail::BodyMismatch);
    } else if c.overrun {
        SmolIface::fail(counters, c, SmolFail::LengthMismatch);
    } else {
        c.counted = true;
        counters.ok += 1;
        if http {
            counters.bytes_ok += expected;
        }
        latency.record(now - c.started);
    }
}

/// One simulated core: an interface per port.
struct SmolCore {
    ifaces: Vec<SmolIface>,
    stats: CoreStats,
}

/// A client host running smoltcp; see the [module docs](self).
pub struct SmolHost {
    config: SmolHostConfig,
    cores: Vec<SmolCore>,
    env: AppEnv,
    wakeups: Vec<usize>,
}

impl SmolHost {
    /// A host as `config` says.
    ///
    /// # Panics
    ///
    /// If `config.servers` has fewer entries than `config.ports`.
    pub fn new(config: SmolHostConfig) -> Self {
        let cores = config.cores.max(1);
        let links = config.ports.len();
        let apps = cores * links;
        let cores_vec = (0..cores)
            .map(|core| {
                let ifaces = config
                    .ports
                    .iter()
                    .enumerate()
                    .map(|(port, spec)| {
                        let index = core * links + port;
                        let share = share(config.conns, apps, index);
                        let mut device = QueueDevice {
                            rx: VecDeque::new(),
                            tx: Vec::new(),
                            budget: 0,
                            mtu: config.mtu,
                            counts: DeviceCounts::default(),
                        };
                        let mut smol =
                            Config::new(HardwareAddress::Ethernet(EthernetAddress(spec.mac.0)));
                        let streams = core_port_index(core, port);
                        smol.random_seed = config.seeds.seed_u64("smoltcp-random", streams);
                        let mut iface = Interface::new(smol, &mut device, to_smol(Instant::ZERO));
                        iface.update_ip_addrs(|addrs| {
                            let _ = addrs.push(IpCidr::new(
                                IpAddress::Ipv4(spec.ip.addr()),
                                spec.ip.prefix_len(),
                            ));
                        });
                        let mut sockets = SocketSet::new(Vec::with_capacity(share));
                        let conns = (0..share)
                            .map(|_| {
                                let socket = tcp::Socket::new(
                                    tcp::SocketBuffer::new(vec![0; config.rx_buffer]),
                                    tcp::SocketBuffer::new(vec![0; config.tx_buffer]),
                                );
                                Conn {
                                    handle: sockets.add(socket),
                                    phase: Phase::Idle,
                                    linger: false,
                                    local_port: 0,
                                    started: Instant::ZERO,
                                    deadline: Instant::ZERO,
                                    request: Vec::with_capacity(64),
                                    to_send: 0,
                                    sent: 0,
                                    expect: Expect::Pattern { len: 0 },
                                    received: 0,
                                    corrupt: false,
                                    overrun: false,
                                    counted: true,
                                }
                            })
                            .collect();
                        let server = config.servers[port];
                        SmolIface {
                            iface,
                            device,
                            sockets,
                            conns,
                            ports: PortAllocator::new(
                                core,
                                cores,
                                config.seeds.seed_u64("smoltcp-ports", streams),
                            ),
                            rng: config.seeds.stream("smoltcp-pages", streams),
                            server,
                            host_header: server.to_string(),
                            counters: SmolLoadCounters::default(),
                            latency: LatencyHistogram::new(),
                            rx_queue_full: 0,
                            stopped: false,
                            budget: crate::run::engine::request_budget(
                                config.max_requests,
                                config.conns,
                                apps,
                                index,
                            ),
                        }
                    })
                    .collect();
                SmolCore {
                    ifaces,
                    stats: CoreStats::default(),
                }
            })
            .collect();
        let env = AppEnv {
            workload: config.workload,
            server_port: config.server_port,
            timestamps: config.timestamps,
            timeout: config.request_timeout,
        };
        SmolHost {
            config,
            cores: cores_vec,
            env,
            wakeups: Vec::new(),
        }
    }

    /// The client's counters, merged over every interface.
    pub fn counters(&self) -> SmolLoadCounters {
        let mut total = SmolLoadCounters::default();
        for iface in self.cores.iter().flat_map(|c| c.ifaces.iter()) {
            total.merge(&iface.counters);
        }
        total
    }

    /// The core that handles `frame` arriving on a port: `None` for every
    /// core (ARP), else the core owning the TCP destination port (core 0
    /// for anything else).
    fn steer(&self, frame: &[u8]) -> Option<usize> {
        let cores = self.cores.len();
        use rusty_stack::wire::{ethernet, ipv4, tcp};
        let ethertype = frame
            .get(ethernet::field::ETHERTYPE..ethernet::field::PAYLOAD)
            .map(|t| u16::from_be_bytes([t[0], t[1]]));
        match ethertype {
            Some(0x0806) => None,
            Some(0x0800) => {
                let ip = frame.get(ethernet::HEADER_LEN..).unwrap_or(&[]);
                let ihl = usize::from(ip.first().map_or(5, |b| b & 0x0f)) * 4;
                let tcp_proto = u8::from(ipv4::IpProtocol::Tcp);
                if ip.get(ipv4::field::PROTOCOL) != Some(&tcp_proto) {
                    return Some(0);
                }
                let at = ihl + tcp::field::DST_PORT;
                let port = ip
                    .get(at..at + 2)
                    .map_or(0, |p| u16::from_be_bytes([p[0], p[1]]));
                Some(usize::from(port) % cores)
            }
            _ => Some(0),
        }
    }

    fn enqueue(&mut self, core: usize, port: usize, frame: &[u8]) -> bool {
        let limit = self.config.rx_queue.max(1);
        let iface = &mut self.cores[core].ifaces[port];
        if iface.device.rx.len() >= limit {
            iface.rx_queue_full += 1;
            return false;
        }
        iface.device.rx.push_back(frame.to_vec());
        true
    }
}

fn share(total: u32, parts: usize, index: usize) -> usize {
    let parts = parts.max(1);
    let base = total as usize / parts;
    base + usize::from(index < total as usize % parts)
}

impl HostModel for SmolHost {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn stop_clients(&mut self) {
        for iface in self.cores.iter_mut().flat_map(|c| c.ifaces.iter_mut()) {
            iface.stopped = true;
        }
    }

    fn active_connections(&self) -> usize {
        self.cores
            .iter()
            .flat_map(|c| c.ifaces.iter())
            .map(|i| i.conns.iter().filter(|c| c.phase != Phase::Idle).count())
            .sum()
    }

    fn cores(&self) -> usize {
        self.cores.len()
    }

    fn ports(&self) -> usize {
        self.config.ports.len()
    }

    fn deliver(&mut self, port: usize, frame: &[u8], _now: Instant) -> Option<usize> {
        if port >= self.config.ports.len() {
            return None;
        }
        match self.steer(frame) {
            Some(core) => self.enqueue(core, port, frame).then_some(core),
            None => {
                // Every core's interface sees ARP; core 0 runs now, and its
                // run wakes the others.
                let mut first = None;
                for core in 0..self.cores.len() {
                    if self.enqueue(core, port, frame) && first.is_none() {
                        first = Some(core);
                    }
                }
                first
            }
        }
    }

    fn run_core(&mut self, core: usize, now: Instant, out: &mut Outbox) -> CoreRun {
        let batch = self.config.batch.max(1);
        let env = self.env;
        let mut work = Work::default();
        let mut soon = false;
        let mut wake: Option<Instant> = None;
        set_ts_clock(now);
        let smol_now = to_smol(now);
        let c = &mut self.cores[core];
        for (port, iface) in c.ifaces.iter_mut().enumerate() {
            let before = iface.device.counts;
            let sockets = iface.conns.len() as u64;
            // Ingress first, then the application, then egress: ACKs ride
            // on the request or the FIN the application queued.
            iface.device.budget = batch;
            while iface
                .iface
                .poll_ingress_single(smol_now, &mut iface.device, &mut iface.sockets)
                != PollIngressSingleResult::None
            {}
            iface.app_pass(&env, now);
            iface
                .iface
                .poll_egress(smol_now, &mut iface.device, &mut iface.sockets);
            // Egress walks every socket, and so does the application.
            work.polls += 1 + 2 * sockets;
            let after = iface.device.counts;
            work.rx_frames += after.rx_frames - before.rx_frames;
            work.rx_bytes += after.rx_bytes - before.rx_bytes;
            work.tx_frames += after.tx_frames - before.tx_frames;
            work.tx_bytes += after.tx_bytes - before.tx_bytes;
            for frame in iface.device.tx.drain(..) {
                out.send(port, frame);
            }
            soon |= !iface.device.rx.is_empty() || iface.needs_pass();
            let timers = [
                iface.iface.poll_at(smol_now, &iface.sockets).map(from_smol),
                iface.deadline(),
            ];
            for t in timers.into_iter().flatten() {
                wake = Some(wake.map_or(t, |w: Instant| w.min(t)));
            }
        }
        let busy = self.config.cost.time(&work);
        let busy_until = now + busy;
        c.stats.busy = c.stats.busy + busy;
        c.stats.rx_frames += work.rx_frames;
        c.stats.tx_frames += work.tx_frames;
        // Other cores with frames waiting (ARP delivered to every core).
        for (i, other) in self.cores.iter().enumerate() {
            if i != core
                && other.ifaces.iter().any(|f| !f.device.rx.is_empty())
                && !self.wakeups.contains(&i)
            {
                self.wakeups.push(i);
            }
        }
        let wake_at = if soon {
            Some(busy_until)
        } else {
            wake.map(|t| t.max(busy_until))
        };
        CoreRun {
            busy_until,
            wake_at,
        }
    }

    fn take_wakeups(&mut self, out: &mut Vec<usize>) {
        out.append(&mut self.wakeups);
    }

    fn core_stats(&self, core: usize) -> CoreStats {
        self.cores[core].stats
    }

    fn iface_counters(&self) -> IfaceCounters {
        let mut total = IfaceCounters::default();
        for iface in self.cores.iter().flat_map(|c| c.ifaces.iter()) {
            let d = iface.device.counts;
            total.rx_frames += d.rx_frames;
            total.rx_bytes += d.rx_bytes;
            total.tx_frames += d.tx_frames;
            total.tx_bytes += d.tx_bytes;
        }
        total
    }

    fn tcp_counters(&self) -> TcpCounters {
        // smoltcp keeps no counters.
        TcpCounters::default()
    }

    fn nic_stats(&self) -> NicStats {
        let mut total = NicStats::default();
        for iface in self.cores.iter().flat_map(|c| c.ifaces.iter()) {
            total.rx_frames += iface.device.counts.rx_frames;
            total.rx_queue_full += iface.rx_queue_full;
            total.tx_frames += iface.device.counts.tx_frames;
        }
        total
    }

    fn client_stats(&self) -> Option<ClientStats> {
        let mut total = ClientStats::default();
        for iface in self.cores.iter().flat_map(|c| c.ifaces.iter()) {
            let c = &iface.counters;
            total.merge(&ClientStats {
                ok: c.ok,
                failures: c.failures(),
                in_flight: c.in_flight(),
                bytes_ok: c.bytes_ok,
                bytes_corrupt: c.bytes_corrupt,
                latency: iface.latency.clone(),
            });
        }
        Some(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_split_by_core_and_never_handed_out_twice() {
        for cores in [1, 2, 3, 16] {
            for core in 0..cores {
                let mut ports = PortAllocator::new(core, cores, 12345);
                let mut taken = BTreeSet::new();
                for _ in 0..ports.count {
                    let p = ports.take().expect("a free port");
                    assert!(p >= EPHEMERAL_FIRST);
                    assert_eq!(usize::from(p) % cores, core);
                    assert!(taken.insert(p));
                }
                assert_eq!(ports.take(), None, "all in use");
                let some = *taken.iter().nth(taken.len() / 2).unwrap();
                ports.release(some);
                assert_eq!(ports.take(), Some(some));
            }
        }
    }

    fn tcp_frame(dst_port: u16, ihl_words: u8) -> Vec<u8> {
        let mut f = vec![0u8; 14 + usize::from(ihl_words) * 4 + 20];
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        f[14] = 0x40 | ihl_words;
        f[14 + 9] = 6;
        let l4 = 14 + usize::from(ihl_words) * 4;
        f[l4 + 2..l4 + 4].copy_from_slice(&dst_port.to_be_bytes());
        f
    }

    #[test]
    fn frames_are_steered_to_the_core_owning_the_port() {
        let scenario = Scenario {
            client: crate::scenario::ClientSpec {
                cores: 3,
                conns: 6,
                ..Scenario::small().client
            },
            ..Scenario::small()
        };
        let config = SmolHostConfig::for_scenario(&scenario, Pages::small(1, 10)).unwrap();
        let host = SmolHost::new(config);
        assert_eq!(host.steer(&tcp_frame(49153, 5)), Some(49153 % 3));
        assert_eq!(host.steer(&tcp_frame(50000, 6)), Some(50000 % 3));
        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        assert_eq!(host.steer(&arp), None, "ARP goes to every core");
        let mut icmp = tcp_frame(7, 5);
        icmp[14 + 9] = 1;
        assert_eq!(host.steer(&icmp), Some(0));
        assert_eq!(host.steer(&[0u8; 3]), Some(0));
        // Sockets are shared out like the Rusty client's connections.
        let per_core: Vec<usize> = host.cores.iter().map(|c| c.ifaces[0].conns.len()).collect();
        assert_eq!(per_core, vec![2, 2, 2]);
    }
}
