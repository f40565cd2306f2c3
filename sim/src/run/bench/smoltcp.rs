//! The bench with smoltcp on both ends: an HTTP server and a load client
//! written on smoltcp sockets, two [`Interface`]s over an in-memory device
//! pair ([`BenchWire`]), polled in one loop.
//!
//! # Set-up
//!
//! * smoltcp as the workspace builds it: Ethernet, IPv4, TCP (and ICMP,
//!   which the interop tests need), no logging, no congestion-control
//!   feature (so smoltcp's TCP sends up to the peer's window);
//! * one listening socket per concurrent connection on the server, and one
//!   socket per connection on the client, each with 64 KiB receive and
//!   transmit buffers, Nagle off (as Rusty); the server's sockets ACK at
//!   once (they only receive a request and a FIN, and the ACK of the FIN
//!   must leave before the socket listens again), the client's keep
//!   smoltcp's delayed ACK (10 ms, at least every second segment);
//! * software checksums both ways (as Rusty over the pair driver), no
//!   TCP timestamps (smoltcp's default: its segments carry 1460 bytes,
//!   Rusty's 1448);
//! * each poll round takes in every waiting frame
//!   ([`Interface::poll_ingress_single`]), runs the application on every
//!   socket, then sends ([`Interface::poll_egress`] until it has nothing
//!   more), so replies ride on the ACKs as with Rusty's event handlers;
//! * the server asks the memory for the next piece of the page after each
//!   copy into the socket ([`prefetch_read`]), as Rusty's page writer
//!   does, and the device for the next waiting frame when it hands one
//!   over, as Rusty's pair driver does. (Rusty's load client also
//!   prefetches the next piece of the page it checks against; here that
//!   made no difference, +1–4% within the noise, as smoltcp hands the
//!   client large pieces whose compare the hardware prefetcher follows.)
//!
//! # The applications
//!
//! They do what Rusty's [`HttpServer`](rusty_apps::HttpServer) and
//! [`HttpLoadClient`](rusty_apps::HttpLoadClient) do, with Rusty's
//! public HTTP parsing ([`RequestLineParser`], [`ResponseHeadParser`],
//! [`ok_head`], [`Content::by_path`]), so the application work is the same
//! on both stacks: the client opens a connection per request, sends
//! `GET /N.htm HTTP/1.1` for a page drawn by the same seeded
//! [`SplitMix64`], checks status `200` and `Content-Length`, compares every
//! body byte with the page and closes; the server reads the request line,
//! queues the head and the page and closes. A server socket that reaches
//! TIME-WAIT (after its ACK of the client's FIN has gone) listens again at
//! once, as smoltcp allows.
//!
//! # The link
//!
//! [`BenchWire`] is a zero-latency device pair: a frame smoltcp transmits is
//! copied into a buffer of a shared pool and queued for the other end, as
//! the pair driver copies a frame into the other end's pool. Queues hold
//! at most [`link_frames`] frames (more are dropped and counted); the pool
//! starts with that many buffers.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};

use core::fmt::Write as _;

use arrayvec::{ArrayString, ArrayVec};
use rusty_apps::http::{HeadError, RequestLineParser, ResponseHeadParser};
use rusty_apps::http_client::REQUEST_CAPACITY;
use rusty_apps::http_server::{ok_head, BAD_REQUEST, HEAD_CAPACITY, NOT_FOUND};
use rusty_apps::{Content, SplitMix64};
use rusty_stack::mem::prefetch::prefetch_read;
use rusty_stack::wire::Ipv4Addr;
use smoltcp::iface::{
    Config, Interface, PollIngressSingleResult, PollResult, SocketHandle, SocketSet,
};
use smoltcp::phy::{self, ChecksumCapabilities, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration as SmolDuration, Instant as SmolInstant};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint};

use super::BenchError;
use super::{
    link_frames, BenchConfig, BenchPair, Totals, CLIENT_IP, EPHEMERAL_PORTS, HTTP_PORT, SERVER_IP,
};
use crate::scenario::workload::Pages;

/// The largest Ethernet frame at MTU 1500.
pub const MAX_FRAME: usize = 1514;

/// Receive and transmit buffer of every socket.
pub const SOCKET_BUFFER: usize = 64 * 1024;

const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

fn smol_ip(ip: Ipv4Addr) -> IpAddress {
    let [a, b, c, d] = ip.octets();
    IpAddress::v4(a, b, c, d)
}

// ------------------------------------------------------------------- link

/// A frame on the link.
struct Frame {
    buf: Box<[u8]>,
    len: usize,
}

/// Two ends joined by a zero-latency wire; end 0 is the server's.
pub struct BenchWire {
    /// `queues[i]`: frames waiting for end `i`.
    queues: [VecDeque<Frame>; 2],
    capacity: usize,
    /// Free frame buffers, shared by both ends.
    free: RefCell<Vec<Box<[u8]>>>,
    /// Each end's transmit buffer, which smoltcp writes a frame into.
    scratch: [Box<[u8]>; 2],
    /// Frames each end transmitted.
    sent: [u64; 2],
    /// Frames for each end dropped because its queue was full.
    dropped: [u64; 2],
}

impl BenchWire {
    /// A link whose queues hold `capacity` frames each, with `capacity`
    /// frame buffers to start with.
    pub fn new(capacity: usize) -> BenchWire {
        let buffer = || vec![0u8; MAX_FRAME].into_boxed_slice();
        let mut free = Vec::with_capacity(2 * capacity + 16);
        free.extend((0..capacity).map(|_| buffer()));
        BenchWire {
            queues: [
                VecDeque::with_capacity(capacity),
                VecDeque::with_capacity(capacity),
            ],
            capacity,
            free: RefCell::new(free),
            scratch: [buffer(), buffer()],
            sent: [0; 2],
            dropped: [0; 2],
        }
    }

    /// End `i` (0 or 1) as a smoltcp device.
    fn end(&mut self, i: usize) -> End<'_> {
        let BenchWire {
            queues: [q0, q1],
            capacity,
            free,
            scratch: [s0, s1],
            sent: [t0, t1],
            dropped: [d0, d1],
        } = self;
        if i == 0 {
            End {
                rx: q0,
                tx: q1,
                capacity: *capacity,
                free,
                scratch: s0,
                sent: t0,
                peer_dropped: d1,
            }
        } else {
            End {
                rx: q1,
                tx: q0,
                capacity: *capacity,
                free,
                scratch: s1,
                sent: t1,
                peer_dropped: d0,
            }
        }
    }

    /// Frames waiting at either end.
    fn pending(&self) -> bool {
        !self.queues[0].is_empty() || !self.queues[1].is_empty()
    }
}

/// One end of a [`BenchWire`], borrowed for a poll.
struct End<'a> {
    rx: &'a mut VecDeque<Frame>,
    tx: &'a mut VecDeque<Frame>,
    capacity: usize,
    free: &'a RefCell<Vec<Box<[u8]>>>,
    scratch: &'a mut [u8],
    sent: &'a mut u64,
    peer_dropped: &'a mut u64,
}

/// A received frame; its buffer goes back to the pool once read.
struct RxToken<'a> {
    frame: Frame,
    free: &'a RefCell<Vec<Box<[u8]>>>,
}

/// Room to write a frame that is then handed to the other end.
struct TxToken<'a> {
    tx: &'a mut VecDeque<Frame>,
    capacity: usize,
    free: &'a RefCell<Vec<Box<[u8]>>>,
    scratch: &'a mut [u8],
    sent: &'a mut u64,
    peer_dropped: &'a mut u64,
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let Frame { buf, len } = self.frame;
        let result = f(buf.get(..len).unwrap_or(&[]));
        self.free.borrow_mut().push(buf);
        result
    }
}

impl phy::TxToken for TxToken<'_> {
    /// smoltcp writes the frame straight into a pool buffer, which is then
    /// handed to the other end as it is (no copy), as Rusty's pair driver
    /// does with a shared pool. With the other end's queue full the frame
    /// is written into scratch space and dropped.
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let TxToken {
            tx,
            capacity,
            free,
            scratch,
            sent,
            peer_dropped,
        } = self;
        *sent += 1;
        if tx.len() >= capacity {
            *peer_dropped += 1;
            return match scratch.get_mut(..len) {
                Some(frame) => f(frame),
                None => f(&mut vec![0u8; len]),
            };
        }
        let pooled = free.borrow_mut().pop();
        let mut buf = match pooled {
            Some(buf) if buf.len() >= len => buf,
            _ => vec![0u8; len.max(MAX_FRAME)].into_boxed_slice(),
        };
        let result = f(&mut buf[..len]);
        tx.push_back(Frame { buf, len });
        result
    }
}

impl Device for End<'_> {
    type RxToken<'b>
        = RxToken<'b>
    where
        Self: 'b;
    type TxToken<'b>
        = TxToken<'b>
    where
        Self: 'b;

    fn receive(&mut self, _: SmolInstant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let frame = self.rx.pop_front()?;
        // The next frame, as Rusty's pair driver prefetches it.
        if let Some(next) = self.rx.front() {
            prefetch_read(next.buf.get(..next.len).unwrap_or(&[]));
        }
        Some((
            RxToken {
                frame,
                free: self.free,
            },
            TxToken {
                tx: self.tx,
                capacity: self.capacity,
                free: self.free,
                scratch: self.scratch,
                sent: self.sent,
                peer_dropped: self.peer_dropped,
            },
        ))
    }

    fn transmit(&mut self, _: SmolInstant) -> Option<Self::TxToken<'_>> {
        Some(TxToken {
            tx: self.tx,
            capacity: self.capacity,
            free: self.free,
            scratch: self.scratch,
            sent: self.sent,
            peer_dropped: self.peer_dropped,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MAX_FRAME;
        caps.checksum = ChecksumCapabilities::default();
        caps
    }
}

/// A socket with the bench's buffers, Nagle off.
fn socket() -> tcp::Socket<'static> {
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; SOCKET_BUFFER]),
        tcp::SocketBuffer::new(vec![0; SOCKET_BUFFER]),
    );
    s.set_nagle_enabled(false);
    s
}

/// An interface with `mac` and `ip`/24 on end `end` of `link`.
fn interface(link: &mut BenchWire, end: usize, mac: [u8; 6], ip: Ipv4Addr, seed: u64) -> Interface {
    let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
    config.random_seed = seed;
    let mut iface = Interface::new(config, &mut link.end(end), SmolInstant::ZERO);
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(IpCidr::new(smol_ip(ip), 24));
    });
    iface
}

/// Takes in every waiting frame; returns whether there was one.
fn ingress(
    iface: &mut Interface,
    now: SmolInstant,
    dev: &mut End<'_>,
    s: &mut SocketSet<'_>,
) -> bool {
    let mut worked = false;
    while !matches!(
        iface.poll_ingress_single(now, dev, s),
        PollIngressSingleResult::None
    ) {
        worked = true;
    }
    worked
}

/// Sends until smoltcp has nothing more; returns whether it sent.
fn egress(
    iface: &mut Interface,
    now: SmolInstant,
    dev: &mut End<'_>,
    s: &mut SocketSet<'_>,
) -> bool {
    let mut worked = false;
    while matches!(
        iface.poll_egress(now, dev, s),
        PollResult::SocketStateChanged
    ) {
        worked = true;
    }
    worked
}

// ----------------------------------------------------------------- server

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ServerPhase {
    /// Listening or in the handshake.
    Listening,
    /// Reading the request line.
    Reading,
    /// Queueing the response.
    Sending,
    /// Closed on our side; listens again once the socket is done.
    Closing,
}

/// One server socket.
struct ServerConn {
    handle: SocketHandle,
    phase: ServerPhase,
    parser: RequestLineParser,
    head: ArrayVec<u8, HEAD_CAPACITY>,
    body: &'static [u8],
    /// Bytes of head and body queued.
    queued: usize,
}

/// Counters of the smoltcp server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct ServerCounters {
    connections: u64,
    ok: u64,
    errors: u64,
    incomplete: u64,
    resets: u64,
    relistened: u64,
}

/// The smoltcp HTTP server.
struct Server {
    iface: Interface,
    sockets: SocketSet<'static>,
    conns: Vec<ServerConn>,
    /// Indices of the connections in [`ServerPhase::Closing`].
    closing: Vec<usize>,
    content: Pages,
    counters: ServerCounters,
}

impl Server {
    fn new(
        link: &mut BenchWire,
        listeners: usize,
        content: Pages,
        seed: u64,
    ) -> Result<Server, BenchError> {
        let iface = interface(link, 0, SERVER_MAC, SERVER_IP, seed);
        let mut sockets = SocketSet::new(Vec::with_capacity(listeners));
        let mut conns = Vec::with_capacity(listeners);
        for _ in 0..listeners {
            let mut s = socket();
            s.set_ack_delay(None);
            s.listen(HTTP_PORT).map_err(BenchError::SmolListen)?;
            conns.push(ServerConn {
                handle: sockets.add(s),
                phase: ServerPhase::Listening,
                parser: RequestLineParser::new(),
                head: ArrayVec::new(),
                body: &[],
                queued: 0,
            });
        }
        Ok(Server {
            iface,
            sockets,
            conns,
            closing: Vec::with_capacity(listeners),
            content,
            counters: ServerCounters::default(),
        })
    }

    /// The application on every socket; returns whether it did anything.
    fn pass(&mut self) -> bool {
        let Server {
            sockets,
            conns,
            closing,
            content,
            counters,
            ..
        } = self;
        let mut worked = false;
        for (i, c) in conns.iter_mut().enumerate() {
            if c.phase == ServerPhase::Closing {
                continue;
            }
            let socket = sockets.get_mut::<tcp::Socket>(c.handle);
            let state = socket.state();
            if c.phase == ServerPhase::Listening {
                match state {
                    tcp::State::Listen | tcp::State::SynReceived => continue,
                    tcp::State::Closed | tcp::State::TimeWait => {
                        // Reset in the handshake.
                        c.phase = ServerPhase::Closing;
                        closing.push(i);
                        worked = true;
                        continue;
                    }
                    _ => {
                        counters.connections += 1;
                        c.phase = ServerPhase::Reading;
                        worked = true;
                    }
                }
            }
            if c.phase == ServerPhase::Reading {
                while socket.can_recv() {
                    let parser = &mut c.parser;
                    let _ = socket.recv(|buf| {
                        if !parser.is_done() {
                            parser.feed(buf);
                        }
                        (buf.len(), ())
                    });
                    worked = true;
                }
                match c.parser.result() {
                    Some(Ok(line)) if line.method == b"GET" => match content.by_path(line.target) {
                        Some(page) => {
                            counters.ok += 1;
                            c.head = ok_head(page.body.len() as u64);
                            c.body = page.body;
                        }
                        None => {
                            counters.errors += 1;
                            c.head = ArrayVec::new();
                            c.body = NOT_FOUND;
                        }
                    },
                    Some(_) => {
                        counters.errors += 1;
                        c.head = ArrayVec::new();
                        c.body = BAD_REQUEST;
                    }
                    None => {
                        if !socket.may_recv() {
                            // The peer closed, or reset, before a whole line.
                            counters.incomplete += 1;
                            socket.close();
                            c.phase = ServerPhase::Closing;
                            closing.push(i);
                            worked = true;
                        }
                        continue;
                    }
                }
                c.phase = ServerPhase::Sending;
                c.queued = 0;
                worked = true;
            }
            if c.phase == ServerPhase::Sending {
                let total = c.head.len() + c.body.len();
                while c.queued < total && socket.can_send() {
                    let chunk = match c.head.get(c.queued..) {
                        Some(rest) if !rest.is_empty() => rest,
                        _ => c.body.get(c.queued - c.head.len()..).unwrap_or(&[]),
                    };
                    match socket.send_slice(chunk) {
                        Ok(n) if n > 0 => {
                            c.queued += n;
                            worked = true;
                            // As Rusty's page writer does (`rusty_apps`):
                            // ask the memory for the next piece of the page
                            // now (2–3% faster here; Rusty copies per
                            // segment and gains 20%, see the README).
                            let next = chunk.get(n..).unwrap_or(&[]);
                            prefetch_read(&next[..next.len().min(n)]);
                        }
                        _ => break,
                    }
                }
                if c.queued == total || !socket.may_send() {
                    if c.queued < total {
                        counters.resets += 1;
                    }
                    socket.close();
                    c.phase = ServerPhase::Closing;
                    closing.push(i);
                    worked = true;
                }
            }
        }
        worked
    }

    /// After egress: sockets done with their connection listen again.
    fn relisten(&mut self) -> bool {
        let mut worked = false;
        let mut k = 0;
        while k < self.closing.len() {
            let c = &mut self.conns[self.closing[k]];
            let socket = self.sockets.get_mut::<tcp::Socket>(c.handle);
            if matches!(socket.state(), tcp::State::TimeWait | tcp::State::Closed)
                && socket.listen(HTTP_PORT).is_ok()
            {
                c.phase = ServerPhase::Listening;
                c.parser = RequestLineParser::new();
                c.queued = 0;
                self.counters.relistened += 1;
                self.closing.swap_remove(k);
                worked = true;
            } else {
                k += 1;
            }
        }
        worked
    }
}

// ----------------------------------------------------------------- client

/// The client's local ports: handed out in turn, skipping those in use.
struct Ports {
    first: u16,
    count: u32,
    next: u32,
    in_use: Vec<u64>,
}

impl Ports {
    fn new((first, last): (u16, u16)) -> Ports {
        let count = u32::from(last.saturating_sub(first)) + 1;
        Ports {
            first,
            count,
            next: 0,
            in_use: vec![0; (count as usize).div_ceil(64)],
        }
    }

    fn take(&mut self) -> Option<u16> {
        for _ in 0..self.count {
            let i = self.next;
            self.next = (self.next + 1) % self.count;
            let (word, bit) = ((i / 64) as usize, i % 64);
            if self.in_use[word] & (1 << bit) == 0 {
                self.in_use[word] |= 1 << bit;
                return u16::try_from(u32::from(self.first) + i).ok();
            }
        }
        None
    }

    fn release(&mut self, port: u16) {
        let i = u32::from(port.wrapping_sub(self.first));
        if i < self.count {
            self.in_use[(i / 64) as usize] &= !(1 << (i % 64));
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientPhase {
    /// No connection.
    Idle,
    /// Waiting for the handshake.
    Connecting,
    /// Reading the response head.
    Head,
    /// Comparing the body.
    Body,
    /// Counted (ok or failed); waiting for the socket to close.
    Closing,
}

/// Why a request failed (as [`rusty_apps::FailReason`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fail {
    Reset,
    BadStatus,
    BadHeader,
    LengthMismatch,
    BodyMismatch,
    ClosedEarly,
    ConnectFailed,
}

/// One client socket and its request.
struct ClientConn {
    handle: SocketHandle,
    phase: ClientPhase,
    port: u16,
    expected: &'static [u8],
    request: ArrayVec<u8, REQUEST_CAPACITY>,
    request_sent: usize,
    head: ResponseHeadParser,
    received: usize,
    corrupt: bool,
    overrun: bool,
    counted: bool,
    /// Seen in TIME-WAIT by the previous pass (its last ACK has gone).
    linger: bool,
}

/// Counters of the smoltcp client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct ClientCounters {
    started: u64,
    ok: u64,
    failed: u64,
    bytes_ok: u64,
    bytes_corrupt: u64,
    body_bytes: u64,
    extra_bytes: u64,
    no_port: u64,
    reset: u64,
    bad_status: u64,
    bad_header: u64,
    length_mismatch: u64,
    body_mismatch: u64,
    closed_early: u64,
    connect_failed: u64,
}

impl ClientCounters {
    fn fail(&mut self, c: &mut ClientConn, reason: Fail) {
        if c.counted {
            return;
        }
        c.counted = true;
        self.failed += 1;
        *match reason {
            Fail::Reset => &mut self.reset,
            Fail::BadStatus => &mut self.bad_status,
            Fail::BadHeader => &mut self.bad_header,
            Fail::LengthMismatch => &mut self.length_mismatch,
            Fail::BodyMismatch => &mut self.body_mismatch,
            Fail::ClosedEarly => &mut self.closed_early,
            Fail::ConnectFailed => &mut self.connect_failed,
        } += 1;
    }

    /// Feeds received bytes to the request's verification.
    fn absorb(&mut self, c: &mut ClientConn, mut piece: &[u8]) {
        if c.phase == ClientPhase::Head {
            let used = c.head.feed(piece);
            piece = piece.get(used..).unwrap_or(&[]);
            let reason = match c.head.result() {
                None => return,
                Some(Ok(head)) if head.status != 200 => Some(Fail::BadStatus),
                Some(Ok(head)) if head.content_length != Some(c.expected.len() as u64) => {
                    Some(Fail::LengthMismatch)
                }
                Some(Ok(_)) => None,
                Some(Err(HeadError::BadStatusLine)) => Some(Fail::BadStatus),
                Some(Err(_)) => Some(Fail::BadHeader),
            };
            match reason {
                Some(reason) => {
                    self.fail(c, reason);
                    c.phase = ClientPhase::Closing;
                }
                None => c.phase = ClientPhase::Body,
            }
        }
        if c.phase != ClientPhase::Body {
            self.extra_bytes += piece.len() as u64;
            return;
        }
        let want = c.expected.get(c.received..).unwrap_or(&[]);
        let n = piece.len().min(want.len());
        let (got, want) = (&piece[..n], &want[..n]);
        if got != want {
            c.corrupt = true;
            let differing = got.iter().zip(want).filter(|(a, b)| a != b).count();
            self.bytes_corrupt += differing as u64;
        }
        c.received += n;
        self.body_bytes += n as u64;
        if piece.len() > n {
            c.overrun = true;
        }
        if c.received == c.expected.len() {
            if c.corrupt {
                self.fail(c, Fail::BodyMismatch);
            } else if c.overrun {
                self.fail(c, Fail::LengthMismatch);
            } else {
                c.counted = true;
                self.ok += 1;
                self.bytes_ok += c.expected.len() as u64;
            }
            c.phase = ClientPhase::Closing;
        }
    }
}

/// The smoltcp load client.
struct Client {
    iface: Interface,
    sockets: SocketSet<'static>,
    conns: Vec<ClientConn>,
    ports: Ports,
    rng: SplitMix64,
    content: Pages,
    stopped: bool,
    open: usize,
    counters: ClientCounters,
}

impl Client {
    fn new(link: &mut BenchWire, conns: usize, content: Pages, seed: u64) -> Client {
        let iface = interface(link, 1, CLIENT_MAC, CLIENT_IP, seed ^ 0x636c_6965_6e74);
        let mut sockets = SocketSet::new(Vec::with_capacity(conns));
        let conns = (0..conns)
            .map(|_| ClientConn {
                handle: sockets.add(socket()),
                phase: ClientPhase::Idle,
                port: 0,
                expected: &[],
                request: ArrayVec::new(),
                request_sent: 0,
                head: ResponseHeadParser::new(),
                received: 0,
                corrupt: false,
                overrun: false,
                counted: false,
                linger: false,
            })
            .collect();
        Client {
            iface,
            sockets,
            conns,
            ports: Ports::new(EPHEMERAL_PORTS),
            rng: SplitMix64::new(seed),
            content,
            stopped: false,
            open: 0,
            counters: ClientCounters::default(),
        }
    }

    /// The application on every socket; returns whether it did anything.
    fn pass(&mut self) -> bool {
        let Client {
            iface,
            sockets,
            conns,
            ports,
            rng,
            content,
            stopped,
            open,
            counters,
        } = self;
        let mut worked = false;
        for c in conns.iter_mut() {
            let socket = sockets.get_mut::<tcp::Socket>(c.handle);
            if c.phase == ClientPhase::Connecting {
                match socket.state() {
                    tcp::State::SynSent | tcp::State::SynReceived => continue,
                    tcp::State::Established => {
                        c.phase = ClientPhase::Head;
                        worked = true;
                    }
                    _ => {
                        counters.fail(c, Fail::ConnectFailed);
                        c.phase = ClientPhase::Closing;
                        worked = true;
                    }
                }
            }
            if matches!(c.phase, ClientPhase::Head | ClientPhase::Body) {
                if c.request_sent < c.request.len() && socket.can_send() {
                    if let Ok(n) = socket.send_slice(&c.request[c.request_sent..]) {
                        c.request_sent += n;
                        worked = true;
                    }
                }
                while socket.can_recv() && !c.counted {
                    let _ = socket.recv(|buf| {
                        counters.absorb(c, buf);
                        (buf.len(), ())
                    });
                    worked = true;
                }
                if !c.counted {
                    if socket.state() == tcp::State::Closed {
                        counters.fail(c, Fail::Reset);
                        c.phase = ClientPhase::Closing;
                    } else if !socket.may_recv() {
                        counters.fail(c, Fail::ClosedEarly);
                        c.phase = ClientPhase::Closing;
                    }
                }
                if c.phase == ClientPhase::Closing {
                    socket.close();
                    worked = true;
                }
            }
            if c.phase == ClientPhase::Closing {
                // Drain what still arrives, so the window stays open.
                while socket.can_recv() {
                    let extra = &mut counters.extra_bytes;
                    let _ = socket.recv(|buf| {
                        *extra += buf.len() as u64;
                        (buf.len(), ())
                    });
                }
                let done = match socket.state() {
                    tcp::State::Closed => true,
                    tcp::State::TimeWait => std::mem::replace(&mut c.linger, true),
                    _ => false,
                };
                if !done {
                    continue;
                }
                ports.release(c.port);
                *open -= 1;
                c.phase = ClientPhase::Idle;
                worked = true;
            }
            if c.phase == ClientPhase::Idle && !*stopped {
                let Some(port) = ports.take() else {
                    counters.no_port += 1;
                    continue;
                };
                let count = content.count();
                let index = rng.below(count as u64) as usize;
                c.expected = content.page(index).map_or(&[][..], |p| p.body);
                c.request = request(index);
                c.request_sent = 0;
                c.head = ResponseHeadParser::new();
                c.received = 0;
                c.corrupt = false;
                c.overrun = false;
                c.counted = false;
                c.linger = false;
                c.port = port;
                counters.started += 1;
                *open += 1;
                worked = true;
                let remote = IpEndpoint::new(smol_ip(SERVER_IP), HTTP_PORT);
                match socket.connect(iface.context(), remote, port) {
                    Ok(()) => c.phase = ClientPhase::Connecting,
                    Err(_) => {
                        counters.fail(c, Fail::ConnectFailed);
                        socket.abort();
                        c.phase = ClientPhase::Closing;
                    }
                }
            }
        }
        worked
    }
}

/// The request for page `index`, as Rusty's client writes it.
fn request(index: usize) -> ArrayVec<u8, REQUEST_CAPACITY> {
    let mut line = ArrayString::<REQUEST_CAPACITY>::new();
    // At most 5 + 20 + 33 bytes: always fits.
    let _ = write!(
        line,
        "GET /{index}.htm HTTP/1.1\r\nHost: {SERVER_IP}\r\n\r\n"
    );
    let mut out = ArrayVec::new();
    let _ = out.try_extend_from_slice(line.as_bytes());
    out
}

// ------------------------------------------------------------------- pair

/// smoltcp's server and client over a [`BenchWire`].
pub struct SmolPair {
    link: BenchWire,
    server: Server,
    client: Client,
    now: SmolInstant,
}

impl SmolPair {
    /// Both ends for `config` (serving and expecting the 500-page set).
    pub fn new(config: &BenchConfig) -> Result<SmolPair, BenchError> {
        let pages = Pages::Thesis(rusty_fixtures::page_set());
        // The client checks against its own copy, as Rusty's does.
        let expected = Pages::Thesis(rusty_fixtures::client_page_set());
        let conns = config.conns as usize;
        let mut link = BenchWire::new(link_frames(config.conns));
        let server = Server::new(&mut link, conns, pages, config.seed ^ 0x7365_7276)?;
        let client = Client::new(&mut link, conns, expected, config.seed);
        Ok(SmolPair {
            link,
            server,
            client,
            now: SmolInstant::ZERO,
        })
    }
}

impl BenchPair for SmolPair {
    fn round(&mut self) -> bool {
        let now = self.now;
        let mut worked = false;
        {
            let s = &mut self.server;
            let mut dev = self.link.end(0);
            worked |= ingress(&mut s.iface, now, &mut dev, &mut s.sockets);
            worked |= s.pass();
            worked |= egress(&mut s.iface, now, &mut dev, &mut s.sockets);
            worked |= s.relisten();
        }
        {
            let c = &mut self.client;
            let mut dev = self.link.end(1);
            worked |= ingress(&mut c.iface, now, &mut dev, &mut c.sockets);
            worked |= c.pass();
            worked |= egress(&mut c.iface, now, &mut dev, &mut c.sockets);
        }
        worked || self.link.pending()
    }

    fn advance(&mut self) -> bool {
        let now = self.now;
        let next = [
            self.server.iface.poll_at(now, &self.server.sockets),
            self.client.iface.poll_at(now, &self.client.sockets),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { return false };
        self.now = if next > now {
            next
        } else {
            now + SmolDuration::from_millis(1)
        };
        true
    }

    fn virtual_ns(&self) -> u64 {
        u64::try_from(self.now.total_micros()).unwrap_or(0) * 1000
    }

    fn totals(&self) -> Totals {
        let c = &self.client.counters;
        Totals {
            ok: c.ok,
            failed: c.failed,
            bytes_ok: c.bytes_ok,
            bytes_corrupt: c.bytes_corrupt,
            frames: self.link.sent[0] + self.link.sent[1],
            link_drops: self.link.dropped[0] + self.link.dropped[1],
        }
    }

    fn stop(&mut self) {
        self.client.stopped = true;
    }

    fn finished(&self) -> bool {
        self.client.stopped && self.client.open == 0
    }

    fn counters(&self) -> BTreeMap<String, u64> {
        let s = &self.server.counters;
        let c = &self.client.counters;
        [
            ("server_connections", s.connections),
            ("server_ok", s.ok),
            ("server_errors", s.errors),
            ("server_incomplete", s.incomplete),
            ("server_resets", s.resets),
            ("server_relistened", s.relistened),
            ("client_started", c.started),
            ("client_extra_bytes", c.extra_bytes),
            ("client_no_port", c.no_port),
            ("client_reset", c.reset),
            ("client_bad_status", c.bad_status),
            ("client_bad_header", c.bad_header),
            ("client_length_mismatch", c.length_mismatch),
            ("client_body_mismatch", c.body_mismatch),
            ("client_closed_early", c.closed_early),
            ("client_connect_failed", c.connect_failed),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_go_round_and_skip_those_in_use() {
        let mut p = Ports::new((100, 103));
        assert_eq!(
            [p.take(), p.take(), p.take()],
            [Some(100), Some(101), Some(102)]
        );
        p.release(101);
        assert_eq!([p.take(), p.take(), p.take()], [Some(103), Some(101), None]);
        p.release(100);
        p.release(7);
        assert_eq!(p.take(), Some(100));
    }

    #[test]
    fn requests_match_rustys() {
        assert_eq!(
            &request(42)[..],
            b"GET /42.htm HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n"
        );
    }
}
