//! A header-level TCP test bench, in the style of smoltcp's socket tests
//! (`src/socket/tcp.rs`): one Rusty stack (10.0.0.2, listening on port
//! 80) and a raw peer (10.0.0.1) that writes TCP headers by hand.
//!
//! A segment from the peer is a [`TcpRepr`] built from a template,
//! [`SEND_TEMPL`] (from port [`PEER_PORT`] to port [`LOCAL_PORT`], no
//! flags, window 65,535, no options) or [`SYN_TEMPL`] (a SYN with MSS
//! 1460); `send!` hands it to the stack and returns what the stack
//! answered, and `recv!` checks the answers against the segments expected,
//! field by field:
//!
//! ```ignore
//! let r = send!(b, TcpRepr {
//!     seq_number: TcpSeqNumber(PEER_ISN),
//!     ..SYN_TEMPL
//! });
//! assert!(r[0].has(TcpFlags::SYN));
//! send!(b, TcpRepr { seq_number: .., ack_number: Some(..), payload: b"x", ..SEND_TEMPL });
//! recv!(b, [TcpRepr { flags: .., seq_number: .., ack_number: Some(..), ..RECV_TEMPL }]);
//! ```
//!
//! Answers are [`Segment`]s: the header fields as numbers (`seq`, `ack`,
//! `window`), the payload, and the whole [`TcpRepr`] on demand
//! ([`Segment::repr`], [`reprs`]), to compare with one built from
//! [`RECV_TEMPL`].

use rusty_stack::iface::InterfaceConfig;
use rusty_stack::nic::pair::{pair, PairConfig, PairDriver};
use rusty_stack::nic::Driver;
use rusty_stack::tcp::{State, TcpConfig};
use rusty_stack::time::{Duration, Instant};
use rusty_stack::wire::{
    ethernet, EtherType, EthernetFrame, EthernetRepr, IpProtocol, Ipv4Cidr, Ipv4Packet, Ipv4Repr,
    TcpFlags, TcpPacket, TcpRepr, TcpSeqNumber,
};
use rusty_stack::Stack;

use super::{Script, IP_A, IP_B};

/// The peer's port.
pub const PEER_PORT: u16 = 40000;
/// The port the stack listens on.
pub const LOCAL_PORT: u16 = 80;
/// The peer's initial sequence number.
pub const PEER_ISN: u32 = 1_000_000;

/// A segment from the peer: no flags, window 65,535, no options.
pub const SEND_TEMPL: TcpRepr<'static> = TcpRepr {
    src_port: PEER_PORT,
    dst_port: LOCAL_PORT,
    flags: TcpFlags::empty(),
    seq_number: TcpSeqNumber(0),
    ack_number: None,
    window_len: 65535,
    window_scale: None,
    max_seg_size: None,
    sack_permitted: false,
    sack_ranges: [None; 3],
    timestamp: None,
    payload: &[],
};

/// A SYN from the peer, with MSS 1460.
pub const SYN_TEMPL: TcpRepr<'static> = TcpRepr {
    flags: TcpFlags::SYN,
    max_seg_size: Some(1460),
    ..SEND_TEMPL
};

/// A segment from the stack to the peer: [`SEND_TEMPL`] with the ports
/// swapped, for `recv!`.
pub const RECV_TEMPL: TcpRepr<'static> = TcpRepr {
    src_port: LOCAL_PORT,
    dst_port: PEER_PORT,
    ..SEND_TEMPL
};

/// Sends a segment (a [`TcpRepr`]) from the peer to the bench's stack and
/// returns the [`Segment`]s the stack answered.
#[macro_export]
macro_rules! send {
    ($bench:expr, $repr:expr) => {
        $bench.send_repr(&$repr)
    };
}

/// The segments the stack sent since the last look (`recv!(b)`), or a
/// check that they are exactly `[TcpRepr, …]` (`recv!(b, [..])`).
#[macro_export]
macro_rules! recv {
    ($bench:expr) => {
        $bench.received()
    };
    ($bench:expr, [$($repr:expr),* $(,)?]) => {
        $bench.expect(&[$($repr),*])
    };
}

/// A segment as the peer saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// The flags (ACK among them when `ack` is set).
    pub flags: TcpFlags,
    /// The sequence number.
    pub seq: u32,
    /// The acknowledgment number, if ACK is set.
    pub ack: Option<u32>,
    /// The window field (unscaled).
    pub window: u16,
    /// The payload.
    pub payload: Vec<u8>,
    /// The TCP header and payload as sent.
    tcp: Vec<u8>,
}

impl Segment {
    /// Whether every flag of `f` is set.
    pub fn has(&self, f: TcpFlags) -> bool {
        self.flags.contains(f)
    }

    /// The segment as a [`TcpRepr`] (options included).
    pub fn repr(&self) -> TcpRepr<'_> {
        let packet = TcpPacket::new_checked(&self.tcp[..]).expect("a valid segment");
        TcpRepr::parse(&packet, IP_B, IP_A).expect("a valid segment")
    }
}

/// The segments' [`TcpRepr`]s, to compare with expected ones.
pub fn reprs(segments: &[Segment]) -> Vec<TcpRepr<'_>> {
    segments.iter().map(Segment::repr).collect()
}

/// The bench's TCP configuration: eight connections, no timestamps, no
/// SACK, no window scaling, no delayed ACK, a 2 s TIME-WAIT.
pub fn config() -> TcpConfig {
    TcpConfig {
        max_connections: 8,
        timestamps: false,
        sack: false,
        window_scaling: false,
        delayed_ack: Duration::ZERO,
        time_wait: Duration::from_secs(2),
        ..TcpConfig::default()
    }
}

/// One Rusty stack (10.0.0.2) and a raw peer (10.0.0.1) that writes
/// segments by hand; see the [module docs](self).
pub struct Bench {
    /// The stack under test.
    pub stack: Stack<Script>,
    peer: PairDriver,
    drv: PairDriver,
    /// The virtual time.
    pub now: Instant,
    /// Next sequence number the peer will use.
    pub snd: u32,
    /// The stack's ISN, once seen (the sequence number of its last SYN).
    pub iss: u32,
}

impl Bench {
    /// A stack running `app` with `config`, listening on [`LOCAL_PORT`]
    /// (backlog 4), the peer's MAC known.
    pub fn new(app: Script, config: TcpConfig) -> Bench {
        let (peer, drv) = pair(&PairConfig::default());
        let mut ic = InterfaceConfig::new(Ipv4Cidr::new(IP_B, 24).unwrap());
        ic.announce = false;
        let mut stack = Stack::new(&drv.capabilities(), ic, config, app, Instant::ZERO);
        stack.iface_mut().add_static_arp(IP_A, peer.mac()).unwrap();
        stack.listen(LOCAL_PORT, 4).unwrap();
        Bench {
            stack,
            peer,
            drv,
            now: Instant::ZERO,
            snd: PEER_ISN,
            iss: 0,
        }
    }

    /// A server whose app keeps its side open when the peer closes.
    pub fn server() -> Bench {
        Bench::new(
            Script {
                close_on_remote_close: false,
                ..Script::default()
            },
            config(),
        )
    }

    /// Polls the stack until it has nothing more to do (at most 100 polls).
    pub fn poll(&mut self) {
        for _ in 0..100 {
            if !self.stack.poll(&mut self.drv, self.now) {
                break;
            }
        }
    }

    /// Sends `repr` from the peer (10.0.0.1) to the stack, polls, and
    /// returns what the stack answered (see `send!`).
    pub fn send_repr(&mut self, repr: &TcpRepr<'_>) -> Vec<Segment> {
        let ip = Ipv4Repr {
            src: IP_A,
            dst: IP_B,
            protocol: IpProtocol::Tcp,
            payload_len: repr.buffer_len(),
            ttl: 64,
            dscp_ecn: 0,
            ident: 0,
            dont_frag: true,
        };
        let eth = EthernetRepr {
            src: self.peer.mac(),
            dst: self.drv.mac(),
            ethertype: EtherType::Ipv4,
        };
        let mut bytes = vec![0u8; ethernet::HEADER_LEN + ip.buffer_len()];
        let mut frame = EthernetFrame::new_unchecked(&mut bytes[..]);
        eth.emit(&mut frame);
        let mut packet = Ipv4Packet::new_unchecked(frame.payload_mut());
        ip.emit(&mut packet);
        repr.emit(
            &mut TcpPacket::new_unchecked(packet.payload_mut()),
            IP_A,
            IP_B,
        );
        let mut frame = self.peer.alloc_tx(bytes.len()).unwrap();
        frame.cursor_mut().write(&bytes).unwrap();
        self.peer.transmit(frame).unwrap();
        self.poll();
        self.received()
    }

    /// The segments the stack sent since the last call (see `recv!`).
    pub fn received(&mut self) -> Vec<Segment> {
        let mut out = Vec::new();
        while let Some(frame) = self.peer.receive() {
            let bytes = frame.copy_to_vec();
            self.peer.release(frame);
            let eth = EthernetFrame::new_checked(&bytes[..]).unwrap();
            let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
            let tcp =
                TcpRepr::parse(&TcpPacket::new_checked(ip.payload()).unwrap(), IP_B, IP_A).unwrap();
            if tcp.flags.contains(TcpFlags::SYN) {
                self.iss = tcp.seq_number.0;
            }
            out.push(Segment {
                flags: tcp.flags,
                seq: tcp.seq_number.0,
                ack: tcp.ack_number.map(|a| a.0),
                window: tcp.window_len,
                payload: tcp.payload.to_vec(),
                tcp: ip.payload().to_vec(),
            });
        }
        out
    }

    /// Checks that the stack sent exactly `expected` since the last look
    /// (see `recv!`).
    #[track_caller]
    pub fn expect(&mut self, expected: &[TcpRepr<'_>]) {
        let got = self.received();
        assert_eq!(reprs(&got), expected, "segments from the stack");
    }

    /// Advances virtual time by `by`, running timers; returns what the
    /// stack sent meanwhile.
    pub fn advance(&mut self, by: Duration) -> Vec<Segment> {
        let end = self.now + by;
        loop {
            let next = self.stack.poll_at().filter(|&t| t > self.now && t <= end);
            self.now = next.unwrap_or(end);
            self.drv.set_now(self.now);
            self.poll();
            if next.is_none() {
                break;
            }
        }
        self.received()
    }

    /// The state of the stack's one connection (`None` when it has none;
    /// panics when it has several).
    pub fn state(&self) -> Option<State> {
        let states: Vec<State> = self.stack.connections().map(|c| c.state).collect();
        assert!(states.len() <= 1, "{states:?}");
        states.first().copied()
    }

    /// The peer's side of the three-way handshake; the stack ends
    /// ESTABLISHED.
    pub fn establish(&mut self) {
        let r = send!(
            self,
            TcpRepr {
                seq_number: TcpSeqNumber(self.snd),
                ..SYN_TEMPL
            }
        );
        assert!(
            r.len() == 1 && r[0].has(TcpFlags::SYN) && r[0].ack == Some(self.snd + 1),
            "{r:?}"
        );
        self.snd += 1;
        let r = send!(
            self,
            TcpRepr {
                seq_number: TcpSeqNumber(self.snd),
                ack_number: Some(TcpSeqNumber(self.iss + 1)),
                ..SEND_TEMPL
            }
        );
        assert!(r.is_empty(), "{r:?}");
        assert_eq!(self.state(), Some(State::Established));
    }

    /// Sends the peer's FIN (acknowledging `ack`) and returns the answer.
    pub fn fin(&mut self, ack: u32) -> Vec<Segment> {
        let r = send!(
            self,
            TcpRepr {
                flags: TcpFlags::FIN,
                seq_number: TcpSeqNumber(self.snd),
                ack_number: Some(TcpSeqNumber(ack)),
                ..SEND_TEMPL
            }
        );
        self.snd += 1;
        r
    }
}
