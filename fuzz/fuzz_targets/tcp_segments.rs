//! A structured sequence of TCP segments against one ESTABLISHED
//! connection, with invariant checks.
//!
//! The target plays the peer by hand: a SYN (ISN, MSS, window scale and
//! SACK-permitted from the input), then the ACK of the stack's SYN-ACK,
//! then the input's [`Step`]s: in-window data, duplicates, overlapping and
//! out-of-window data, FIN, RST, bad checksums, ACKs of data the stack
//! never sent, window changes, acknowledgments (with SACK blocks, valid or
//! not), SYNs and odd flag combinations while the connection lives,
//! timestamps (when the SYN offers them: jumps, which PAWS rejects, and
//! segments without one) and time steps. The peer's
//! byte stream is a fixed function of the offset ([`stream_byte`]), so a
//! byte carries the same value however often and in whatever segment it
//! is sent. The application ([`Recorder`]) sends some data when it accepts
//! and may close, and records what it receives.
//!
//! Checked after every step:
//! * nothing panics;
//! * every frame the stack emits parses with etherparse, with valid IPv4
//!   and TCP checksums;
//! * the application receives exactly an in-order prefix of the peer's
//!   stream, never past the peer's FIN, and nothing after the remote close,
//!   which comes exactly at the FIN;
//! * the stack never acknowledges bytes the application was not given:
//!   every ACK it sends is at most peer ISN + 1 + bytes delivered (+ 1
//!   after the FIN).
#![no_main]

use arbitrary::Arbitrary;
use etherparse::{PacketBuilder, SlicedPacket, TcpOptionElement, TransportSlice};
use libfuzzer_sys::fuzz_target;
use rusty_fuzz::check::{assert_frame, hex, Carried};
use rusty_fuzz::wire::{drain, inject};
use rusty_stack::iface::InterfaceConfig;
use rusty_stack::mem::buf::PoolConfig;
use rusty_stack::mem::cursor::Cursor;
use rusty_stack::nic::pair::{pair, PairConfig, PairDriver};
use rusty_stack::nic::Driver;
use rusty_stack::time::{Duration, Instant};
use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr, MacAddr};
use rusty_stack::{App, Conn, Stack, StaticWriter, TcpConfig};

const STACK_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);
const PEER_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x02]);
const STACK_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PORT: u16 = 80;
const PEER_PORT: u16 = 40_000;
/// The stack's MSS on a 1500-byte MTU; the peer's segments stay within it.
const MSS: usize = 1460;
/// Steps run at most.
const MAX_STEPS: usize = 128;
/// Polls at one instant before the stack counts as busy for ever.
const MAX_POLLS: usize = 1000;
/// The clock when the stack is created.
const START: Instant = Instant::from_secs(1);

/// Bytes the application may send.
static SERVER_DATA: [u8; 16384] = server_data();

/// The application's bytes: a pattern unlike the peer's.
const fn server_data() -> [u8; 16384] {
    let mut out = [0u8; 16384];
    let mut i = 0;
    while i < out.len() {
        out[i] = (i % 251) as u8;
        i += 1;
    }
    out
}

/// Byte `offset` of the peer's stream (offset 0 is at peer ISN + 1). A
/// function of the offset alone, so retransmissions agree.
fn stream_byte(offset: u32) -> u8 {
    (offset.wrapping_mul(0x9e37_79b1) >> 24) as u8
}

/// How the connection starts and what the peer then does.
#[derive(Arbitrary, Debug)]
struct Input {
    /// The peer's initial sequence number.
    isn: u32,
    /// The window field of the peer's segments until a [`Step::Window`].
    window: u16,
    /// The MSS option of the SYN, if any.
    mss: Option<u16>,
    /// The window scale option of the SYN, if any.
    window_scale: Option<u8>,
    /// The SYN offers SACK.
    sack: bool,
    /// The SYN offers timestamps, starting at this TSval.
    timestamps: Option<u32>,
    /// Bytes the application sends when it accepts (modulo 16385).
    server_sends: u16,
    /// When the application closes its side.
    close: Close,
    /// What the peer does.
    steps: Vec<Step>,
}

/// When the application closes its side of the connection.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
enum Close {
    /// Never.
    Never,
    /// As soon as it accepts (after its data).
    Accepting,
    /// When the peer closes.
    PeerCloses,
}

/// One action of the peer. Offsets are in the peer's stream, relative to
/// the next byte the application expects unless said otherwise; data
/// segments hold at most one MSS.
#[derive(Arbitrary, Debug)]
enum Step {
    /// Data at `offset` past the next expected byte (0: in order).
    Data { offset: u16, len: u16 },
    /// The last segment sent, again.
    Duplicate,
    /// Data from `back` bytes before the next expected byte to `ahead`
    /// bytes after it.
    Overlap { back: u16, ahead: u16 },
    /// Data `beyond` bytes past the right edge of the largest window the
    /// stack advertised, or, if `below`, ending `beyond` bytes before the
    /// next expected byte (possibly before the ISN).
    OutOfWindow { beyond: u16, len: u16, below: bool },
    /// FIN after all data sent so far, with up to `len` bytes before it.
    Fin { len: u8 },
    /// RST at the next expected sequence number, or `offset` past it.
    Rst { exact: bool, offset: u32 },
    /// Data as [`Step::Data`] with one byte (or, without data, the
    /// checksum) damaged.
    BadChecksum { offset: u16, len: u16, flip: u8 },
    /// An ACK of `beyond` + 1 bytes past what the stack has sent.
    AckUnsent { beyond: u16 },
    /// A window update to `window`.
    Window { window: u16 },
    /// Acknowledge up to `bytes` more of what the stack sent.
    Ack { bytes: u16 },
    /// Time moves on by `ms` milliseconds.
    Advance { ms: u16 },
    /// Time moves on to the stack's next timer.
    NextTimer,
    /// An ACK with SACK blocks, each `(from, len)` bytes past what we
    /// acknowledge (valid or not: beyond what the stack sent, reversed).
    Sack { blocks: Vec<(u16, u16)> },
    /// Our timestamp clock jumps by `by` (wrapping: backwards too, which
    /// PAWS then rejects).
    TsJump { by: u32 },
    /// Data as [`Step::Data`] without the timestamp option, which RFC 7323
    /// says to drop once timestamps are in use.
    DataWithoutTimestamp { offset: u16, len: u16 },
    /// A SYN `offset` past the next expected byte while the connection
    /// lives (RFC 5961: a challenge ACK, never a new connection).
    Syn { offset: u32 },
    /// Data as [`Step::Data`] with odd flags: bit 0 SYN, 1 RST, 2 PSH,
    /// 3 URG (pointer `urgent`), 4 ECE, 5 CWR, 6 NS, 7 no ACK flag. (Never
    /// FIN: the peer's FIN has one place.)
    OddFlags {
        offset: u16,
        len: u16,
        bits: u8,
        urgent: u16,
    },
}

/// The application: records what it receives and checks it against the
/// peer's stream as it arrives.
#[derive(Debug, Default)]
struct Recorder {
    /// Bytes to send when accepting.
    sends: usize,
    /// When to close.
    close: Option<Close>,
    /// Connections accepted.
    accepted: u32,
    /// Bytes received, in order.
    received: u32,
    /// The peer closed (FIN delivered).
    remote_closed: bool,
    /// The connection ended (closed or reset).
    gone: bool,
}

impl App for Recorder {
    type Conn = ();
    type Writer = StaticWriter;

    fn accept(&mut self, port: u16, conn: &mut Conn<'_, StaticWriter>) -> Option<()> {
        assert_eq!(port, PORT);
        self.accepted += 1;
        assert_eq!(self.accepted, 1, "a second connection was accepted");
        if self.sends > 0 {
            conn.send(self.sends, StaticWriter(&SERVER_DATA[..self.sends]))
                .expect("an empty queue takes one send");
        }
        if self.close == Some(Close::Accepting) {
            conn.close();
        }
        Some(())
    }

    fn on_data(&mut self, _: &mut (), _: &mut Conn<'_, StaticWriter>, data: Cursor<'_>) {
        assert!(!self.remote_closed, "data after the remote close");
        assert!(!data.is_empty(), "on_data without data");
        for piece in data.segments() {
            for &b in piece {
                let want = stream_byte(self.received);
                assert_eq!(b, want, "byte {} of the peer's stream", self.received);
                self.received += 1;
            }
        }
    }

    fn on_remote_close(&mut self, _: &mut (), conn: &mut Conn<'_, StaticWriter>) {
        assert!(!self.remote_closed, "a second remote close");
        self.remote_closed = true;
        if self.close == Some(Close::PeerCloses) {
            conn.close();
        }
    }

    fn on_close(&mut self, _: ()) {
        self.gone = true;
    }

    fn on_reset(&mut self, _: ()) {
        self.gone = true;
    }
}

/// The peer's view of the connection. Stream positions are `i64` offsets
/// from peer ISN + 1 (negative: before the stream).
struct Peer {
    isn: u32,
    window: u16,
    /// The stack's ISN, from its SYN-ACK.
    stack_isn: u32,
    /// The window scale the stack applies to its window field.
    stack_shift: u8,
    /// The end of what the stack has sent (offset from its ISN + 1, its
    /// FIN counted).
    stack_end: u32,
    /// What the peer acknowledges of it.
    acked: u32,
    /// The largest right edge of the stack's window seen.
    right_edge: i64,
    /// The end of the data the peer has sent.
    sent_end: i64,
    /// Where the peer's FIN is, once sent.
    fin_at: Option<i64>,
    /// The last segment sent.
    last: Option<Vec<u8>>,
    /// The stack's SYN-ACK arrived, with this window scale option.
    syn_ack: Option<Option<u8>>,
    /// Our TSval at the start, if we offered timestamps.
    ts_base: Option<u32>,
    /// Added to our TSval (by [`Step::TsJump`]).
    ts_jump: u32,
    /// Both sides use timestamps (the SYN-ACK carried one).
    ts_on: bool,
    /// The stack's latest TSval, which we echo.
    ts_recent: u32,
    /// Milliseconds since the stack was created: our timestamp clock.
    now_ms: u32,
    /// Leave the timestamp out of the next segment.
    omit_ts: bool,
}

/// Flags of a peer segment.
#[derive(Clone, Copy, Default)]
struct Flags {
    syn: bool,
    fin: bool,
    rst: bool,
    /// [`Step::OddFlags`]'s bits and urgent pointer.
    odd: Option<(u8, u16)>,
}

impl Peer {
    /// A segment of the peer: sequence number `seq` (absolute), our ACK
    /// number (unless a SYN), window and options.
    fn frame(
        &self,
        seq: u32,
        ack: u32,
        flags: Flags,
        options: &[TcpOptionElement],
        payload: &[u8],
    ) -> Vec<u8> {
        let mut all = Vec::with_capacity(options.len() + 1);
        if let Some(base) = self.ts_base {
            let tsval = base.wrapping_add(self.now_ms).wrapping_add(self.ts_jump);
            if flags.syn {
                all.push(TcpOptionElement::Timestamp(tsval, 0));
            } else if self.ts_on && !self.omit_ts {
                all.push(TcpOptionElement::Timestamp(tsval, self.ts_recent));
            }
        }
        all.extend_from_slice(options);
        let options = &all[..];
        let mut b = PacketBuilder::ethernet2(PEER_MAC.0, STACK_MAC.0)
            .ipv4(PEER_IP.octets(), STACK_IP.octets(), 64)
            .tcp(PEER_PORT, PORT, seq, self.window);
        let odd = flags.odd.map_or(0, |(bits, _)| bits);
        if !flags.syn && odd & 0x80 == 0 {
            b = b.ack(ack);
        }
        if flags.syn || odd & 0x01 != 0 {
            b = b.syn();
        }
        if odd & 0x02 != 0 {
            b = b.rst();
        }
        if odd & 0x04 != 0 {
            b = b.psh();
        }
        if odd & 0x08 != 0 {
            b = b.urg(flags.odd.map_or(0, |(_, urgent)| urgent));
        }
        if odd & 0x10 != 0 {
            b = b.ece();
        }
        if odd & 0x20 != 0 {
            b = b.cwr();
        }
        if odd & 0x40 != 0 {
            b = b.ns();
        }
        if flags.fin {
            b = b.fin();
        }
        if flags.rst {
            b = b.rst();
        }
        if !options.is_empty() {
            b = b.options(options).expect("options fit");
        }
        let mut out = Vec::with_capacity(b.size(payload.len()));
        b.write(&mut out, payload).expect("writes to a Vec");
        out
    }

    /// The absolute sequence number of stream offset `offset`.
    fn seq(&self, offset: i64) -> u32 {
        self.isn.wrapping_add(1).wrapping_add(offset as u32)
    }

    /// Our ACK number: what we acknowledge of the stack's bytes.
    fn ack(&self) -> u32 {
        self.stack_isn.wrapping_add(1).wrapping_add(self.acked)
    }

    /// A data segment over `start..end` of the stream (cut at our FIN),
    /// with FIN if `fin`; `damage` flips bits of its first payload byte,
    /// or of its checksum if it has none.
    fn data(&mut self, start: i64, end: i64, fin: bool, damage: Option<u8>) -> Vec<u8> {
        self.data_with(start, end, fin, damage, None)
    }

    /// [`Peer::data`] with [`Step::OddFlags`]'s flags.
    fn data_with(
        &mut self,
        start: i64,
        end: i64,
        fin: bool,
        damage: Option<u8>,
        odd: Option<(u8, u16)>,
    ) -> Vec<u8> {
        let end = match self.fin_at {
            Some(f) if !fin => end.min(f),
            _ => end,
        };
        let start = start.min(end);
        let payload: Vec<u8> = (start..end).map(|o| stream_byte(o as u32)).collect();
        let flags = Flags {
            fin,
            odd,
            ..Flags::default()
        };
        let mut frame = self.frame(self.seq(start), self.ack(), flags, &[], &payload);
        if end > start {
            self.sent_end = self.sent_end.max(end);
        }
        if let Some(bits) = damage {
            let bits = bits.max(1);
            let at = if payload.is_empty() {
                14 + 20 + 16
            } else {
                frame.len() - payload.len()
            };
            frame[at] ^= bits;
        }
        frame
    }

    /// Takes note of a frame the stack sent, checking it: well formed,
    /// ours, and acknowledging no more than `limit` bytes of our stream.
    fn observe(&mut self, frame: &[u8], limit: u32) {
        if assert_frame(frame) != Carried::Tcp {
            return;
        }
        let sliced = SlicedPacket::from_ethernet(frame).expect("checked");
        let Some(TransportSlice::Tcp(tcp)) = &sliced.transport else {
            unreachable!("checked TCP");
        };
        assert_eq!(
            (tcp.source_port(), tcp.destination_port()),
            (PORT, PEER_PORT)
        );
        if tcp.syn() {
            assert!(tcp.ack(), "the stack sent a SYN without ACK");
            assert_eq!(
                tcp.acknowledgment_number(),
                self.isn.wrapping_add(1),
                "SYN-ACK's ACK"
            );
            self.stack_isn = tcp.sequence_number();
            let shift = tcp.options_iterator().find_map(|o| match o {
                Ok(TcpOptionElement::WindowScale(s)) => Some(s),
                _ => None,
            });
            self.syn_ack = Some(shift);
        }
        for option in tcp.options_iterator().flatten() {
            if let TcpOptionElement::Timestamp(tsval, _) = option {
                self.ts_recent = tsval;
                if tcp.syn() {
                    self.ts_on = self.ts_base.is_some();
                }
            }
        }
        let seq = tcp
            .sequence_number()
            .wrapping_sub(self.stack_isn.wrapping_add(1));
        let len = tcp.payload().len() as u32 + u32::from(tcp.fin());
        if !tcp.syn() && !tcp.rst() && seq < 1 << 30 {
            self.stack_end = self.stack_end.max(seq + len);
        }
        if tcp.ack() && !tcp.rst() {
            let acked = tcp
                .acknowledgment_number()
                .wrapping_sub(self.isn.wrapping_add(1));
            assert!(
                acked <= limit,
                "the stack acknowledges {acked} bytes, the app got {limit} (FIN counted)\nframe: {}",
                hex(frame)
            );
            let shift = if tcp.syn() { 0 } else { self.stack_shift };
            let window = i64::from(tcp.window_size()) << shift;
            self.right_edge = self.right_edge.max(i64::from(acked) + window);
        }
    }
}

/// Whether the peer's `frame` carries SYN.
fn is_syn(frame: &[u8]) -> bool {
    frame[14 + 20 + 13] & 0x02 != 0
}

/// The stack's next expected byte, as its application knows it.
fn rcv_nxt(app: &Recorder) -> i64 {
    i64::from(app.received) + i64::from(app.remote_closed)
}

/// Polls until idle, then checks every frame the stack sent and the
/// application's view of the stream.
fn settle(
    stack: &mut Stack<Recorder>,
    driver: &mut PairDriver,
    peer_end: &mut PairDriver,
    peer: &mut Peer,
    now: Instant,
) {
    driver.set_now(now);
    for _ in 0..MAX_POLLS {
        if !stack.poll(driver, now) {
            break;
        }
    }
    let app = stack.app();
    let limit = app.received + u32::from(app.remote_closed);
    for frame in drain(peer_end) {
        peer.observe(&frame, limit);
    }
    if let Some(fin) = peer.fin_at {
        assert!(i64::from(app.received) <= fin, "data past the peer's FIN");
    }
    if app.remote_closed {
        assert_eq!(
            peer.fin_at,
            Some(i64::from(app.received)),
            "remote close before the FIN"
        );
    }
}

/// A stack listening on [`PORT`], with small tables, the peer's MAC known.
fn stack(input: &Input) -> (Stack<Recorder>, PairDriver, PairDriver) {
    let (driver, peer) = pair(&PairConfig {
        macs: [STACK_MAC, PEER_MAC],
        mtu: 1500,
        pool: PoolConfig {
            counts: [128, 64, 64, 64, 256, 8, 8, 0],
            chaining: false,
            references: 128,
        },
        queue_capacity: 512,
        capture: false,
        shared_pool: false,
    });
    driver.set_now(START);
    let config = TcpConfig {
        max_connections: 4,
        time_wait_capacity: 4,
        ooo_max_segments: 48,
        ooo_pool_segments: 64,
        ..TcpConfig::default()
    };
    let app = Recorder {
        sends: usize::from(input.server_sends) % (SERVER_DATA.len() + 1),
        close: Some(input.close),
        ..Recorder::default()
    };
    let ip = Ipv4Cidr::new(STACK_IP, 24).expect("a /24");
    let mut stack = Stack::new(
        &driver.capabilities(),
        InterfaceConfig::new(ip),
        config,
        app,
        START,
    );
    stack.listen(PORT, 8).expect("the port is free");
    stack
        .iface_mut()
        .add_static_arp(PEER_IP, PEER_MAC)
        .expect("an empty ARP cache");
    (stack, driver, peer)
}

fuzz_target!(|input: Input| {
    let (mut stack, mut driver, mut wire) = stack(&input);
    let mut peer = Peer {
        isn: input.isn,
        window: input.window,
        stack_isn: 0,
        stack_shift: 0,
        stack_end: 0,
        acked: 0,
        right_edge: 0,
        sent_end: 0,
        fin_at: None,
        last: None,
        syn_ack: None,
        ts_base: input.timestamps,
        ts_jump: 0,
        ts_on: false,
        ts_recent: 0,
        now_ms: 0,
        omit_ts: false,
    };
    let mut now = START;

    // The handshake, by hand.
    let mut options = Vec::new();
    if let Some(mss) = input.mss {
        options.push(TcpOptionElement::MaximumSegmentSize(mss));
    }
    if let Some(shift) = input.window_scale {
        options.push(TcpOptionElement::WindowScale(shift));
    }
    if input.sack {
        options.push(TcpOptionElement::SelectiveAcknowledgementPermitted);
    }
    let syn = Flags {
        syn: true,
        ..Flags::default()
    };
    inject(&mut wire, &peer.frame(input.isn, 0, syn, &options, &[]));
    settle(&mut stack, &mut driver, &mut wire, &mut peer, now);
    // A SYN the stack declines (odd options) ends the run.
    let Some(shift) = peer.syn_ack else { return };
    if input.window_scale.is_some() {
        peer.stack_shift = shift.unwrap_or(0).min(14);
    }
    peer.acked = 0;
    let ack = peer.frame(peer.seq(0), peer.ack(), Flags::default(), &[], &[]);
    inject(&mut wire, &ack);
    settle(&mut stack, &mut driver, &mut wire, &mut peer, now);
    assert_eq!(stack.app().accepted, 1, "the handshake did not complete");

    for step in input.steps.iter().take(MAX_STEPS) {
        let next = rcv_nxt(stack.app());
        peer.now_ms = now.saturating_since(START).as_millis() as u32;
        let frame = match *step {
            Step::Data { offset, len } => {
                let start = next + i64::from(offset);
                Some(peer.data(
                    start,
                    start + (usize::from(len) % (MSS + 1)) as i64,
                    false,
                    None,
                ))
            }
            // A SYN again only while the connection lives (see Step::Syn).
            Step::Duplicate => peer
                .last
                .clone()
                .filter(|last| !(stack.app().gone && is_syn(last))),
            Step::Overlap { back, ahead } => {
                let back = i64::from(back) % (MSS as i64 + 1);
                let ahead = i64::from(ahead) % (MSS as i64 + 1 - back);
                Some(peer.data(next - back, next + ahead, false, None))
            }
            Step::OutOfWindow { beyond, len, below } => {
                let len = (usize::from(len) % (MSS + 1)) as i64;
                let start = if below {
                    next - i64::from(beyond) - len
                } else {
                    peer.right_edge.max(next) + i64::from(beyond)
                };
                Some(peer.data(start, start + len, false, None))
            }
            Step::Fin { len } => {
                let fin = *peer.fin_at.get_or_insert(peer.sent_end);
                Some(peer.data(fin - i64::from(len).min(fin), fin, true, None))
            }
            Step::Rst { exact, offset } => {
                let at = if exact {
                    next
                } else {
                    next + i64::from(offset)
                };
                let rst = Flags {
                    rst: true,
                    ..Flags::default()
                };
                Some(peer.frame(peer.seq(at), peer.ack(), rst, &[], &[]))
            }
            Step::BadChecksum { offset, len, flip } => {
                let start = next + i64::from(offset);
                let end = start + (usize::from(len) % (MSS + 1)) as i64;
                Some(peer.data(start, end, false, Some(flip)))
            }
            Step::AckUnsent { beyond } => {
                let ack = peer
                    .stack_isn
                    .wrapping_add(1)
                    .wrapping_add(peer.stack_end)
                    .wrapping_add(1 + u32::from(beyond));
                Some(peer.frame(peer.seq(next), ack, Flags::default(), &[], &[]))
            }
            Step::Window { window } => {
                peer.window = window;
                Some(peer.frame(peer.seq(next), peer.ack(), Flags::default(), &[], &[]))
            }
            Step::Ack { bytes } => {
                peer.acked = peer
                    .acked
                    .saturating_add(u32::from(bytes))
                    .min(peer.stack_end);
                Some(peer.frame(peer.seq(next), peer.ack(), Flags::default(), &[], &[]))
            }
            Step::Advance { ms } => {
                now += Duration::from_millis(u64::from(ms));
                None
            }
            Step::NextTimer => {
                if let Some(at) = stack.poll_at() {
                    now = now.max(at);
                }
                None
            }
            Step::Sack { ref blocks } => {
                // Three blocks fit beside a timestamp in 40 bytes.
                let edge = |(from, len): (u16, u16)| {
                    let left = peer.ack().wrapping_add(u32::from(from));
                    (left, left.wrapping_add(u32::from(len)))
                };
                let mut edges = blocks.iter().take(3).map(|&b| edge(b));
                let options: Vec<TcpOptionElement> = match edges.next() {
                    Some(first) => vec![TcpOptionElement::SelectiveAcknowledgement(
                        first,
                        [edges.next(), edges.next(), None],
                    )],
                    None => Vec::new(),
                };
                Some(peer.frame(peer.seq(next), peer.ack(), Flags::default(), &options, &[]))
            }
            Step::TsJump { by } => {
                peer.ts_jump = peer.ts_jump.wrapping_add(by);
                None
            }
            Step::Syn { offset } => (!stack.app().gone).then(|| {
                let syn = Flags {
                    syn: true,
                    ..Flags::default()
                };
                let seq = peer.seq(next).wrapping_add(offset);
                peer.frame(seq, 0, syn, &[], &[])
            }),
            Step::OddFlags {
                offset,
                len,
                bits,
                urgent,
            } => {
                // A SYN only while the connection lives (see Step::Syn).
                let bits = if stack.app().gone { bits & !0x01 } else { bits };
                let start = next + i64::from(offset);
                let end = start + (usize::from(len) % (MSS + 1)) as i64;
                Some(peer.data_with(start, end, false, None, Some((bits, urgent))))
            }
            Step::DataWithoutTimestamp { offset, len } => {
                let start = next + i64::from(offset);
                peer.omit_ts = true;
                let frame = peer.data(
                    start,
                    start + (usize::from(len) % (MSS + 1)) as i64,
                    false,
                    None,
                );
                peer.omit_ts = false;
                Some(frame)
            }
        };
        if let Some(frame) = frame {
            inject(&mut wire, &frame);
            peer.last = Some(frame);
        }
        settle(&mut stack, &mut driver, &mut wire, &mut peer, now);
    }
});
