//! Table-driven tests of the TCP state machine: a scripted raw peer sends
//! hand-built segments to one Rusty stack and checks its answer and its
//! new state, transition by transition (RFC 9293 §3.10, RFC 5961, and the
//! two extra closing states).

mod support;

use rusty_stack::iface::InterfaceConfig;
use rusty_stack::nic::pair::{pair, PairConfig, PairDriver};
use rusty_stack::nic::Driver;
use rusty_stack::tcp::{State, TcpConfig};
use rusty_stack::time::{Duration, Instant};
use rusty_stack::wire::{
    EtherType, EthernetFrame, EthernetRepr, IpProtocol, Ipv4Cidr, Ipv4Packet, Ipv4Repr, TcpFlags,
    TcpPacket, TcpRepr, TcpSeqNumber,
};
use rusty_stack::Stack;
use support::{data, Script, IP_A, IP_B};

const PEER_PORT: u16 = 40000;
const PEER_ISN: u32 = 1_000_000;

/// A segment as the peer saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    flags: TcpFlags,
    seq: u32,
    ack: Option<u32>,
    window: u16,
    payload: Vec<u8>,
}

impl Seen {
    fn has(&self, f: TcpFlags) -> bool {
        self.flags.contains(f)
    }
}

/// One Rusty stack (10.0.0.2) and a raw peer (10.0.0.1) that writes
/// segments by hand.
struct Bench {
    stack: Stack<Script>,
    peer: PairDriver,
    drv: PairDriver,
    now: Instant,
    /// Next sequence number the peer will use.
    snd: u32,
    /// The stack's ISN, once seen.
    iss: u32,
    port: u16,
}

impl Bench {
    fn new(app: Script, config: TcpConfig) -> Bench {
        let (peer, drv) = pair(&PairConfig::default());
        let mut ic = InterfaceConfig::new(Ipv4Cidr::new(IP_B, 24).unwrap());
        ic.announce = false;
        let mut stack = Stack::new(&drv.capabilities(), ic, config, app, Instant::ZERO);
        stack.iface_mut().add_static_arp(IP_A, peer.mac()).unwrap();
        stack.listen(80, 4).unwrap();
        Bench {
            stack,
            peer,
            drv,
            now: Instant::ZERO,
            snd: PEER_ISN,
            iss: 0,
            port: 80,
        }
    }

    fn server() -> Bench {
        Bench::new(
            Script {
                close_on_remote_close: false,
                ..Script::default()
            },
            config(),
        )
    }

    fn poll(&mut self) {
        for _ in 0..100 {
            if !self.stack.poll(&mut self.drv, self.now) {
                break;
            }
        }
    }

    /// Sends a segment from the peer and returns what the stack answered.
    fn send(&mut self, flags: TcpFlags, seq: u32, ack: Option<u32>, payload: &[u8]) -> Vec<Seen> {
        self.send_win(flags, seq, ack, 65535, payload)
    }

    fn send_win(
        &mut self,
        flags: TcpFlags,
        seq: u32,
        ack: Option<u32>,
        window: u16,
        payload: &[u8],
    ) -> Vec<Seen> {
        self.inject(PEER_PORT, flags, seq, ack, window, None, payload)
    }

    /// Builds a segment from the peer's `src_port` with our wire layer,
    /// sends it, and returns what the stack answered.
    #[allow(clippy::too_many_arguments)]
    fn inject(
        &mut self,
        src_port: u16,
        flags: TcpFlags,
        seq: u32,
        ack: Option<u32>,
        window: u16,
        timestamp: Option<(u32, u32)>,
        payload: &[u8],
    ) -> Vec<Seen> {
        let tcp = TcpRepr {
            src_port,
            dst_port: self.port,
            flags,
            seq_number: TcpSeqNumber(seq),
            ack_number: ack.map(TcpSeqNumber),
            window_len: window,
            window_scale: None,
            max_seg_size: flags.contains(TcpFlags::SYN).then_some(1460),
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp,
            payload,
        };
        let ip = Ipv4Repr {
            src: IP_A,
            dst: IP_B,
            protocol: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
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
        let mut bytes = vec![0u8; 14 + ip.buffer_len()];
        eth.emit(&mut EthernetFrame::new_unchecked(&mut bytes[..]));
        ip.emit(&mut Ipv4Packet::new_unchecked(&mut bytes[14..]));
        tcp.emit(&mut TcpPacket::new_unchecked(&mut bytes[34..]), IP_A, IP_B);
        let mut frame = self.peer.alloc_tx(bytes.len()).unwrap();
        frame.cursor_mut().write(&bytes).unwrap();
        self.peer.transmit(frame).unwrap();
        self.poll();
        self.received()
    }

    fn received(&mut self) -> Vec<Seen> {
        let mut out = Vec::new();
        while let Some(frame) = self.peer.receive() {
            let bytes = frame.copy_to_vec();
            self.peer.release(frame);
            let ip = Ipv4Packet::new_checked(&bytes[14..]).unwrap();
            let tcp =
                TcpRepr::parse(&TcpPacket::new_checked(ip.payload()).unwrap(), IP_B, IP_A).unwrap();
            if tcp.flags.contains(TcpFlags::SYN) {
                self.iss = tcp.seq_number.0;
            }
            out.push(Seen {
                flags: tcp.flags,
                seq: tcp.seq_number.0,
                ack: tcp.ack_number.map(|a| a.0),
                window: tcp.window_len,
                payload: tcp.payload.to_vec(),
            });
        }
        out
    }

    /// Advances virtual time, running timers.
    fn advance(&mut self, by: Duration) -> Vec<Seen> {
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

    fn state(&self) -> Option<State> {
        let states: Vec<State> = self.stack.connections().map(|c| c.state).collect();
        assert!(states.len() <= 1, "{states:?}");
        states.first().copied()
    }

    /// Our side of the three-way handshake; the stack ends ESTABLISHED.
    fn establish(&mut self) {
        let r = self.send(TcpFlags::SYN, self.snd, None, &[]);
        assert!(
            r.len() == 1 && r[0].has(TcpFlags::SYN) && r[0].ack == Some(self.snd + 1),
            "{r:?}"
        );
        self.snd += 1;
        let r = self.send(TcpFlags::empty(), self.snd, Some(self.iss + 1), &[]);
        assert!(r.is_empty(), "{r:?}");
        assert_eq!(self.state(), Some(State::Established));
    }

    /// Sends our FIN (with the right ACK) and returns the answer.
    fn fin(&mut self, ack: u32) -> Vec<Seen> {
        let r = self.send(TcpFlags::FIN, self.snd, Some(ack), &[]);
        self.snd += 1;
        r
    }
}

fn config() -> TcpConfig {
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

/// The closing of the server side: the app closes after echoing whatever
/// arrives.
fn closing_server() -> Bench {
    let app = Script {
        reply: Some(data(10, 9)),
        close_after_reply: true,
        close_on_remote_close: false,
        ..Script::default()
    };
    Bench::new(app, config())
}

type Case = (&'static str, fn());

#[test]
fn state_transitions() {
    let cases: &[Case] = &[
        ("LISTEN + SYN -> SYN-RECEIVED, SYN-ACK", || {
            let mut b = Bench::server();
            let r = b.send(TcpFlags::SYN, PEER_ISN, None, &[]);
            assert_eq!(r.len(), 1);
            assert!(r[0].has(TcpFlags::SYN) && r[0].ack == Some(PEER_ISN + 1));
            assert_eq!(b.state(), Some(State::SynReceived));
        }),
        ("LISTEN + ACK -> RST <SEQ=SEG.ACK>", || {
            let mut b = Bench::server();
            let r = b.send(TcpFlags::empty(), PEER_ISN, Some(777), &[]);
            assert!(
                r.len() == 1 && r[0].has(TcpFlags::RST) && r[0].seq == 777 && r[0].ack.is_none(),
                "{r:?}"
            );
            assert_eq!(b.state(), None);
        }),
        ("no listener + SYN -> RST/ACK", || {
            let mut b = Bench::server();
            b.port = 81;
            let r = b.send(TcpFlags::SYN, PEER_ISN, None, &[]);
            assert!(
                r.len() == 1 && r[0].has(TcpFlags::RST) && r[0].ack == Some(PEER_ISN + 1),
                "{r:?}"
            );
        }),
        ("SYN-RECEIVED + ACK -> ESTABLISHED (accepted)", || {
            let mut b = Bench::server();
            b.establish();
            assert_eq!(b.stack.app().logs.len(), 1);
        }),
        ("SYN-RECEIVED + retransmitted SYN -> SYN-ACK again", || {
            let mut b = Bench::server();
            b.send(TcpFlags::SYN, PEER_ISN, None, &[]);
            let r = b.send(TcpFlags::SYN, PEER_ISN, None, &[]);
            assert!(
                r.len() == 1 && r[0].has(TcpFlags::SYN) && r[0].seq == b.iss,
                "{r:?}"
            );
            assert_eq!(b.state(), Some(State::SynReceived));
        }),
        ("SYN-RECEIVED + RST -> back to LISTEN", || {
            let mut b = Bench::server();
            b.send(TcpFlags::SYN, PEER_ISN, None, &[]);
            let r = b.send(TcpFlags::RST, PEER_ISN + 1, None, &[]);
            assert!(r.is_empty());
            assert_eq!(b.state(), None);
            assert!(b.stack.app().logs.is_empty(), "the app never saw it");
        }),
        ("SYN-RECEIVED + bad ACK -> RST", || {
            let mut b = Bench::server();
            b.send(TcpFlags::SYN, PEER_ISN, None, &[]);
            let r = b.send(TcpFlags::empty(), PEER_ISN + 1, Some(b.iss + 1000), &[]);
            assert!(
                r.len() == 1 && r[0].has(TcpFlags::RST) && r[0].seq == b.iss + 1000,
                "{r:?}"
            );
        }),
        (
            "SYN-RECEIVED: SYN-ACK retransmitted on timeout, then given up",
            || {
                let mut b = Bench::server();
                b.send(TcpFlags::SYN, PEER_ISN, None, &[]);
                let r = b.advance(Duration::from_secs(200));
                assert_eq!(r.len(), 5, "syn_retries SYN-ACKs: {r:?}");
                assert!(r.iter().all(|s| s.has(TcpFlags::SYN)));
                assert_eq!(b.state(), None);
            },
        ),
        ("ESTABLISHED + data -> ACK, delivered", || {
            let mut b = Bench::server();
            b.establish();
            let r = b.send(TcpFlags::PSH, b.snd, Some(b.iss + 1), b"hello");
            assert!(
                r.len() == 1 && r[0].ack == Some(b.snd + 5) && r[0].payload.is_empty(),
                "{r:?}"
            );
            assert_eq!(b.stack.app().logs[0].received, b"hello");
        }),
        ("ESTABLISHED + FIN -> CLOSE-WAIT, ACK", || {
            let mut b = Bench::server();
            b.establish();
            let r = b.fin(b.iss + 1);
            assert!(
                r.len() == 1 && r[0].ack == Some(b.snd) && !r[0].has(TcpFlags::FIN),
                "{r:?}"
            );
            assert_eq!(b.state(), Some(State::CloseWait));
            assert!(b.stack.app().logs[0].remote_closed);
        }),
        (
            "CLOSE-WAIT + close -> LAST-ACK (FIN on the ACK of the FIN) -> CLOSED",
            || {
                let app = Script::default(); // closes on remote close
                let mut b = Bench::new(app, config());
                b.establish();
                let r = b.fin(b.iss + 1);
                assert!(
                    r.len() == 1 && r[0].has(TcpFlags::FIN) && r[0].ack == Some(b.snd),
                    "{r:?}"
                );
                assert_eq!(b.state(), Some(State::LastAck));
                let r = b.send(TcpFlags::empty(), b.snd, Some(b.iss + 2), &[]);
                assert!(r.is_empty());
                assert_eq!(b.state(), None);
                assert!(b.stack.app().logs[0].closed);
            },
        ),
        ("ESTABLISHED + exact RST -> CLOSED (reset)", || {
            let mut b = Bench::server();
            b.establish();
            let r = b.send(TcpFlags::RST, b.snd, None, &[]);
            assert!(r.is_empty());
            assert_eq!(b.state(), None);
            assert!(b.stack.app().logs[0].reset);
        }),
        (
            "ESTABLISHED + in-window RST -> challenge ACK (RFC 5961)",
            || {
                let mut b = Bench::server();
                b.establish();
                let r = b.send(TcpFlags::RST, b.snd + 100, None, &[]);
                assert!(
                    r.len() == 1 && !r[0].has(TcpFlags::RST) && r[0].ack == Some(b.snd),
                    "{r:?}"
                );
                assert_eq!(b.state(), Some(State::Established));
            },
        ),
        ("ESTABLISHED + out-of-window RST -> dropped", || {
            let mut b = Bench::server();
            b.establish();
            let r = b.send(TcpFlags::RST, b.snd.wrapping_sub(100_000), None, &[]);
            assert!(r.is_empty(), "{r:?}");
            assert_eq!(b.state(), Some(State::Established));
        }),
        ("ESTABLISHED + SYN -> challenge ACK (RFC 5961)", || {
            let mut b = Bench::server();
            b.establish();
            let r = b.send(TcpFlags::SYN, b.snd + 5, None, &[]);
            assert!(
                r.len() == 1 && r[0].flags == TcpFlags::empty() && r[0].ack == Some(b.snd),
                "{r:?}"
            );
            assert_eq!(b.state(), Some(State::Established));
        }),
        ("ESTABLISHED + out-of-window data -> ACK, dropped", || {
            let mut b = Bench::server();
            b.establish();
            let r = b.send(TcpFlags::empty(), b.snd + 1_000_000, Some(b.iss + 1), b"zz");
            assert!(r.len() == 1 && r[0].ack == Some(b.snd), "{r:?}");
            assert!(b.stack.app().logs[0].received.is_empty());
        }),
        ("ESTABLISHED + ACK of unsent data -> ACK, dropped", || {
            let mut b = Bench::server();
            b.establish();
            let r = b.send(TcpFlags::empty(), b.snd, Some(b.iss + 5000), b"zz");
            assert!(r.len() == 1 && r[0].ack == Some(b.snd), "{r:?}");
            assert!(b.stack.app().logs[0].received.is_empty());
        }),
        (
            "ESTABLISHED + close -> FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT -> gone",
            || {
                let mut b = closing_server();
                b.establish();
                let r = b.send(TcpFlags::PSH, b.snd, Some(b.iss + 1), b"x");
                b.snd += 1;
                assert!(
                    r.len() == 1 && r[0].has(TcpFlags::FIN) && r[0].payload.len() == 10,
                    "reply and FIN together: {r:?}"
                );
                assert_eq!(b.state(), Some(State::FinWait1));
                let r = b.send(TcpFlags::empty(), b.snd, Some(b.iss + 12), &[]);
                assert!(r.is_empty());
                assert_eq!(b.state(), Some(State::FinWait2));
                let r = b.fin(b.iss + 12);
                assert!(r.len() == 1 && r[0].ack == Some(b.snd), "{r:?}");
                assert_eq!(b.state(), None);
                assert_eq!(b.stack.time_wait_connections(), 1);
                assert!(b.stack.app().logs[0].closed);
                // A retransmitted FIN in TIME-WAIT is acknowledged again.
                let r = b.send(TcpFlags::FIN, b.snd - 1, Some(b.iss + 12), &[]);
                assert!(r.len() == 1 && r[0].ack == Some(b.snd), "{r:?}");
                b.advance(Duration::from_secs(3));
                assert_eq!(b.stack.time_wait_connections(), 0, "2 MSL passed");
            },
        ),
        (
            "FIN-WAIT-1 + FIN -> CLOSING -> TIME-WAIT (simultaneous close)",
            || {
                let mut b = closing_server();
                b.establish();
                b.send(TcpFlags::PSH, b.snd, Some(b.iss + 1), b"x");
                b.snd += 1;
                // Our FIN does not acknowledge theirs.
                let r = b.fin(b.iss + 11);
                assert!(r.len() == 1 && r[0].ack == Some(b.snd), "{r:?}");
                assert_eq!(b.state(), Some(State::Closing));
                b.send(TcpFlags::empty(), b.snd, Some(b.iss + 12), &[]);
                assert_eq!(b.state(), None);
                assert_eq!(b.stack.time_wait_connections(), 1);
            },
        ),
        (
            "close with unsent data -> FIN-PENDING until the window opens",
            || {
                let mut b = closing_server();
                // Handshake announcing a zero window: nothing can be sent.
                b.send(TcpFlags::SYN, PEER_ISN, None, &[]);
                b.snd += 1;
                b.send_win(TcpFlags::empty(), b.snd, Some(b.iss + 1), 0, &[]);
                let r = b.send_win(TcpFlags::PSH, b.snd, Some(b.iss + 1), 0, b"x");
                b.snd += 1;
                assert!(r.iter().all(|s| s.payload.is_empty()), "{r:?}");
                assert_eq!(b.state(), Some(State::FinPending));
                // The peer's FIN arrives meanwhile.
                let r = b.send_win(TcpFlags::FIN, b.snd, Some(b.iss + 1), 0, &[]);
                b.snd += 1;
                assert!(r.len() == 1 && r[0].ack == Some(b.snd), "{r:?}");
                assert_eq!(b.state(), Some(State::CloseWaitFinPending));
                // Window opens: data and FIN go out together.
                let r = b.send_win(TcpFlags::empty(), b.snd, Some(b.iss + 1), 1000, &[]);
                assert!(
                    r.len() == 1 && r[0].payload.len() == 10 && r[0].has(TcpFlags::FIN),
                    "{r:?}"
                );
                assert_eq!(b.state(), Some(State::LastAck));
            },
        ),
        ("zero window: probes until it opens", || {
            let mut b = closing_server();
            b.send(TcpFlags::SYN, PEER_ISN, None, &[]);
            b.snd += 1;
            b.send_win(TcpFlags::empty(), b.snd, Some(b.iss + 1), 0, &[]);
            b.send_win(TcpFlags::PSH, b.snd, Some(b.iss + 1), 0, b"x");
            b.snd += 1;
            let r = b.advance(Duration::from_secs(2));
            assert!(
                // No data, SEG.SEQ = SND.UNA - 1 (as Linux probes).
                !r.is_empty() && r.iter().all(|s| s.payload.is_empty() && s.seq == b.iss),
                "probes: {r:?}"
            );
            assert_eq!(b.stack.tcp_counters().window_probes as usize, r.len());
        }),
    ];
    for (name, case) in cases {
        let result = std::panic::catch_unwind(case);
        assert!(result.is_ok(), "case failed: {name}");
    }
}

#[test]
fn active_open_transitions() {
    // SYN-SENT + SYN-ACK -> ESTABLISHED; + RST/ACK -> refused; + SYN ->
    // simultaneous open; + bad ACK -> RST.
    let client = || {
        let app = Script {
            connects: vec![(IP_A, PEER_PORT)],
            close_on_remote_close: false,
            ..Script::default()
        };
        let mut b = Bench::new(app, config());
        b.port = 0;
        b.poll();
        let r = b.received();
        assert!(
            r.len() == 1 && r[0].has(TcpFlags::SYN) && r[0].ack.is_none(),
            "{r:?}"
        );
        let port = b.stack.connections().next().unwrap().local.1;
        b.port = port;
        assert_eq!(b.state(), Some(State::SynSent));
        b
    };
    let mut b = client();
    let r = b.send(TcpFlags::SYN, PEER_ISN, Some(b.iss + 1), &[]);
    assert!(
        r.len() == 1 && r[0].ack == Some(PEER_ISN + 1) && !r[0].has(TcpFlags::SYN),
        "{r:?}"
    );
    assert_eq!(b.state(), Some(State::Established));
    assert!(b.stack.app().logs[0].connected);

    let mut b = client();
    let r = b.send(TcpFlags::RST, 0, Some(b.iss + 1), &[]);
    assert!(r.is_empty());
    assert_eq!(b.state(), None);
    assert!(b.stack.app().logs[0].reset);

    let mut b = client();
    let r = b.send(TcpFlags::SYN, PEER_ISN, None, &[]);
    assert!(
        r.len() == 1 && r[0].has(TcpFlags::SYN) && r[0].ack == Some(PEER_ISN + 1),
        "{r:?}"
    );
    assert_eq!(b.state(), Some(State::SynReceived));

    let mut b = client();
    let r = b.send(TcpFlags::SYN, PEER_ISN, Some(b.iss + 99), &[]);
    assert!(
        r.len() == 1 && r[0].has(TcpFlags::RST) && r[0].seq == b.iss + 99,
        "{r:?}"
    );
    assert_eq!(b.state(), Some(State::SynSent));

    // Unanswered SYNs: retried with backoff, then the open fails.
    let mut b = client();
    let r = b.advance(Duration::from_secs(300));
    assert_eq!(r.len(), 5, "{r:?}");
    assert_eq!(b.state(), None);
    assert!(b.stack.app().logs[0].reset);
}

#[test]
fn syn_flood_is_answered_with_cookies() {
    let mut b = Bench::server();
    // Fill the backlog (4) with half-open connections.
    for i in 0..4 {
        let r = b.send_from(41000 + i, TcpFlags::SYN, PEER_ISN, None);
        assert!(r[0].has(TcpFlags::SYN));
    }
    assert_eq!(b.stack.tcp_counters().syn_cookies_sent, 0);
    // More SYNs: answered statelessly.
    let before = b.stack.active_connections();
    let r = b.send_from(40001, TcpFlags::SYN, PEER_ISN, None);
    let (flags, cookie) = (r[0].flags, r[0].seq);
    assert!(flags.contains(TcpFlags::SYN));
    assert_eq!(
        b.stack.active_connections(),
        before,
        "no state for a cookie"
    );
    assert_eq!(b.stack.tcp_counters().syn_cookies_sent, 1);
    // The final ACK carrying the cookie creates the connection.
    let r = b.send_from(40001, TcpFlags::PSH, PEER_ISN + 1, Some(cookie + 1));
    assert!(r.iter().all(|s| !s.has(TcpFlags::RST)), "{r:?}");
    assert_eq!(b.stack.tcp_counters().syn_cookies_accepted, 1);
    assert_eq!(b.stack.active_connections(), before + 1);
    // A forged cookie is refused with a reset.
    let r = b.send_from(40002, TcpFlags::empty(), PEER_ISN + 1, Some(cookie + 7));
    assert!(r.len() == 1 && r[0].has(TcpFlags::RST), "{r:?}");
}

impl Bench {
    /// Sends from another peer port (other 4-tuples).
    fn send_from(&mut self, port: u16, flags: TcpFlags, seq: u32, ack: Option<u32>) -> Vec<Seen> {
        let payload: &[u8] = if flags.contains(TcpFlags::PSH) {
            b"GET"
        } else {
            &[]
        };
        let saved = std::mem::replace(&mut self.port, 80);
        let r = self.inject(port, flags, seq, ack, 65535, None, payload);
        self.port = saved;
        r
    }
}

impl Bench {
    /// Sends a segment carrying the timestamp option `(tsval, tsecr)`.
    fn send_ts(
        &mut self,
        flags: TcpFlags,
        seq: u32,
        ack: Option<u32>,
        ts: (u32, u32),
        payload: &[u8],
    ) -> Vec<Seen> {
        self.inject(PEER_PORT, flags, seq, ack, 65535, Some(ts), payload)
    }
}

#[test]
fn paws_drops_segments_with_old_timestamps() {
    let app = Script {
        close_on_remote_close: false,
        ..Script::default()
    };
    let mut b = Bench::new(
        app,
        TcpConfig {
            timestamps: true,
            ..config()
        },
    );
    let r = b.send_ts(TcpFlags::SYN, PEER_ISN, None, (100, 0), &[]);
    assert!(r[0].has(TcpFlags::SYN));
    b.snd += 1;
    b.send_ts(TcpFlags::empty(), b.snd, Some(b.iss + 1), (101, 1), &[]);
    assert_eq!(b.state(), Some(State::Established));
    let r = b.send_ts(TcpFlags::PSH, b.snd, Some(b.iss + 1), (200, 1), b"new");
    b.snd += 3;
    assert_eq!(r.len(), 1);
    // A segment from an older incarnation (TSval 150 < 200): dropped, and
    // answered with an ACK (RFC 7323 §5.3).
    let r = b.send_ts(TcpFlags::PSH, b.snd, Some(b.iss + 1), (150, 1), b"old");
    assert!(r.len() == 1 && r[0].ack == Some(b.snd), "{r:?}");
    assert_eq!(b.stack.app().logs[0].received, b"new");
    assert_eq!(
        b.stack
            .tcp_counters()
            .drops(rusty_stack::stats::DropReason::TcpPaws),
        1
    );
    // A newer timestamp is accepted again.
    b.send_ts(TcpFlags::PSH, b.snd, Some(b.iss + 1), (300, 1), b"!");
    assert_eq!(b.stack.app().logs[0].received, b"new!");
}

// ---------------------------------------------------------------------------
// Deviations a Linux peer exposed (issue #9, B1–B5): each test fails on the
// code before its fix.

/// A server that answers any data with 1000 bytes.
fn replying_server(config: TcpConfig) -> Bench {
    let app = Script {
        reply: Some(data(1000, 3)),
        close_on_remote_close: false,
        ..Script::default()
    };
    Bench::new(app, config)
}

/// B1: zero-window probes carry no new data (SEG.SEQ = SND.UNA − 1, as
/// Linux sends them), and no segment, pure ACKs included, carries a
/// sequence number beyond the peer's window.
#[test]
fn zero_window_probes_stay_inside_the_peers_window() {
    let mut b = replying_server(config());
    b.establish();
    let una0 = b.iss + 1;
    // The request, with a 100-byte window: 100 bytes of the reply go out.
    let r = b.send_win(TcpFlags::PSH, b.snd, Some(una0), 100, b"hi");
    b.snd += 2;
    let sent: usize = r.iter().map(|s| s.payload.len()).sum();
    assert_eq!(sent, 100, "{r:?}");
    // The peer takes them and closes its window.
    let una = una0 + 100;
    let r = b.send_win(TcpFlags::empty(), b.snd, Some(una), 0, &[]);
    assert!(r.iter().all(|s| s.payload.is_empty()), "{r:?}");
    // Probes: no payload, sequence number SND.UNA − 1.
    let probes = b.advance(Duration::from_secs(10));
    assert!(probes.len() >= 2, "{probes:?}");
    for p in &probes {
        assert!(p.payload.is_empty(), "a probe carried data: {p:?}");
        assert_eq!(p.seq, una - 1, "{p:?}");
    }
    // Data from the peer is acknowledged with a sequence number inside
    // its (zero) window: at most SND.UNA.
    let r = b.send_win(TcpFlags::PSH, b.snd, Some(una), 0, b"x");
    b.snd += 1;
    assert!(r.len() == 1 && r[0].ack == Some(b.snd), "{r:?}");
    assert!(r[0].seq <= una, "ACK beyond the peer's window: {r:?}");
    // The window opens: the other 900 bytes follow, in order.
    let r = b.send_win(TcpFlags::empty(), b.snd, Some(una), 2000, &[]);
    let mut next = una;
    for s in r.iter().filter(|s| !s.payload.is_empty()) {
        assert_eq!(s.seq, next, "{r:?}");
        next += s.payload.len() as u32;
    }
    assert_eq!(next, una0 + 1000, "{r:?}");
}

/// Brings a `closing_server` connection to TIME-WAIT on the stack's side.
fn into_time_wait(b: &mut Bench) {
    b.establish();
    b.send(TcpFlags::PSH, b.snd, Some(b.iss + 1), b"x");
    b.snd += 1;
    b.send(TcpFlags::empty(), b.snd, Some(b.iss + 12), &[]);
    let r = b.fin(b.iss + 12);
    assert!(r.len() == 1 && r[0].ack == Some(b.snd), "{r:?}");
    assert_eq!(b.stack.time_wait_connections(), 1);
}

/// B2: late ACKs reaching a TIME-WAIT entry (reordered, old sequence
/// numbers) are not each answered — the closed peer would answer every
/// answer with a RST — but at most once per rate-limit interval; a
/// retransmitted FIN is still acknowledged every time.
#[test]
fn late_acks_in_time_wait_are_rate_limited() {
    let mut b = closing_server();
    into_time_wait(&mut b);
    let mut answers = 0;
    for i in 0..100u32 {
        answers += b
            .send(TcpFlags::empty(), b.snd - 5 - i, Some(b.iss + 12), &[])
            .len();
    }
    assert!(answers <= 1, "{answers} answers to 100 late ACKs");
    assert!(b.stack.tcp_counters().acks_rate_limited >= 99);
    // Half a second later one more answer may go.
    b.advance(Duration::from_millis(600));
    let r = b.send(TcpFlags::empty(), b.snd - 3, Some(b.iss + 12), &[]);
    assert_eq!(r.len(), 1, "{r:?}");
    // Retransmitted FINs are always acknowledged.
    for _ in 0..3 {
        let r = b.send(TcpFlags::FIN, b.snd - 1, Some(b.iss + 12), &[]);
        assert!(r.len() == 1 && r[0].ack == Some(b.snd), "{r:?}");
    }
}

/// B2: a flood of in-window RSTs and SYNs gets challenge ACKs at the rate
/// limit (RFC 5961 §7), not one each; the connection survives.
#[test]
fn challenge_acks_are_rate_limited() {
    let mut b = Bench::server();
    b.establish();
    let mut answers = 0;
    for i in 0..1000u32 {
        answers += b.send(TcpFlags::RST, b.snd + 1 + i, None, &[]).len();
    }
    for _ in 0..100 {
        answers += b.send(TcpFlags::SYN, b.snd + 7, None, &[]).len();
    }
    assert!(answers <= 1, "{answers} challenge ACKs for 1100 segments");
    let counters = b.stack.tcp_counters();
    assert_eq!(counters.challenge_acks + counters.acks_rate_limited, 1100);
    assert_eq!(b.state(), Some(State::Established));
    // Data still flows, and is acknowledged at once.
    let r = b.send(TcpFlags::PSH, b.snd, Some(b.iss + 1), b"ok");
    assert!(r.len() == 1 && r[0].ack == Some(b.snd + 2), "{r:?}");
    // Later, a challenge ACK may go again.
    b.advance(Duration::from_millis(600));
    let r = b.send(TcpFlags::RST, b.snd + 10, None, &[]);
    assert_eq!(r.len(), 1, "{r:?}");
}

/// An established connection with timestamps: the peer's last TSval is
/// 1000. Returns the bench and the stack's next sequence number.
fn timestamp_bench() -> Bench {
    let app = Script {
        close_on_remote_close: false,
        ..Script::default()
    };
    let mut b = Bench::new(
        app,
        TcpConfig {
            timestamps: true,
            ..config()
        },
    );
    let r = b.send_ts(TcpFlags::SYN, PEER_ISN, None, (990, 0), &[]);
    assert!(r[0].has(TcpFlags::SYN));
    b.snd += 1;
    b.send_ts(TcpFlags::empty(), b.snd, Some(b.iss + 1), (1000, 1), &[]);
    assert_eq!(b.state(), Some(State::Established));
    b
}

/// B3: PAWS as lenient as Linux's: a reordered duplicate ACK with a
/// slightly older timestamp, and a segment one tick older, are accepted;
/// a segment clearly from the past is still dropped, and the ACKs that
/// answer a burst of such segments are rate-limited (B2).
#[test]
fn paws_tolerates_disordered_acks_and_small_steps() {
    let mut b = timestamp_bench();
    let una = b.iss + 1;
    let paws = |b: &Bench| {
        b.stack
            .tcp_counters()
            .drops(rusty_stack::stats::DropReason::TcpPaws)
    };
    // A reordered duplicate ACK, TSval 40 ms behind (within one RTO).
    let r = b.send_ts(TcpFlags::empty(), b.snd, Some(una), (960, 1), &[]);
    assert!(r.is_empty(), "{r:?}");
    assert_eq!(paws(&b), 0);
    // Data one tick behind TS.Recent: accepted (TCP_PAWS_WINDOW).
    let r = b.send_ts(TcpFlags::PSH, b.snd, Some(una), (999, 1), b"abc");
    b.snd += 3;
    assert!(r.len() == 1 && r[0].ack == Some(b.snd), "{r:?}");
    assert_eq!(paws(&b), 0);
    assert_eq!(b.stack.app().logs[0].received, b"abc");
    // Data from far in the past: dropped, answered once for a burst.
    let mut answers = 0;
    for _ in 0..50 {
        answers += b
            .send_ts(TcpFlags::PSH, b.snd, Some(una), (10, 1), b"old")
            .len();
    }
    assert_eq!(paws(&b), 50);
    assert_eq!(b.stack.app().logs[0].received, b"abc");
    assert!(answers >= 1, "data rejected by PAWS is answered");
    // Pure ACKs far in the past, not duplicates of SND.UNA's: dropped, and
    // their answers rate-limited.
    let before = b.stack.tcp_counters().acks_rate_limited;
    let mut answers = 0;
    for _ in 0..50 {
        answers += b
            .send_ts(TcpFlags::empty(), b.snd + 1, Some(una), (10, 1), &[])
            .len();
    }
    assert!(answers <= 1, "{answers}");
    assert!(b.stack.tcp_counters().acks_rate_limited - before >= 49);
}

/// B5: the window enforced is the window advertised. Without window
/// scaling the field says 65,535, so a byte at RCV.NXT + 65,535 is out of
/// the window: not stored, and a RST there gets no challenge ACK.
#[test]
fn window_edge_is_the_advertised_one() {
    let mut b = Bench::server();
    b.establish();
    let r = b.send(TcpFlags::PSH, b.snd, Some(b.iss + 1), b"hi");
    b.snd += 2;
    assert_eq!(r[0].window, 65535, "{r:?}");
    let counters = |b: &Bench| {
        let c = b.stack.tcp_counters();
        (
            c.ooo_segments,
            c.drops(rusty_stack::stats::DropReason::TcpOutOfWindow),
        )
    };
    // One past the right edge: refused.
    b.send(TcpFlags::PSH, b.snd + 65535, Some(b.iss + 1), b"x");
    assert_eq!(counters(&b), (0, 1));
    // The last byte inside: stored.
    b.send(TcpFlags::PSH, b.snd + 65534, Some(b.iss + 1), b"y");
    assert_eq!(counters(&b), (1, 1));
    // A RST just outside the window is ignored, no challenge ACK.
    b.advance(Duration::from_secs(1));
    let r = b.send(TcpFlags::RST, b.snd + 65535, None, &[]);
    assert!(r.is_empty(), "{r:?}");
    assert_eq!(b.state(), Some(State::Established));
}

/// B4: held out-of-order data is never given up for newer data (it may
/// have been SACKed; discarding it is reneging), and the window advertised
/// is what the out-of-order store can hold in full-sized segments.
#[test]
fn out_of_order_store_never_reneges() {
    let app = Script {
        close_on_remote_close: false,
        ..Script::default()
    };
    let mut b = Bench::new(
        app,
        TcpConfig {
            ooo_max_segments: 4,
            ..config()
        },
    );
    b.establish();
    let stream = data(500, 1);
    let base = b.snd;
    let ack = b.iss + 1;
    let piece = |b: &mut Bench, from: usize, to: usize| {
        b.send(
            TcpFlags::PSH,
            base + from as u32,
            Some(ack),
            &stream[from..to],
        )
    };
    // Four held segments fill the store; the window says so.
    for at in [100, 200, 300, 400] {
        let r = piece(&mut b, at, at + 10);
        assert_eq!(
            u32::from(r[0].window),
            4 * 1460,
            "window = 4 full-sized segments: {r:?}"
        );
    }
    assert_eq!(b.stack.tcp_counters().ooo_segments, 4);
    // A fifth, nearer RCV.NXT, is refused: the held ones stay.
    piece(&mut b, 50, 60);
    assert_eq!(
        b.stack
            .tcp_counters()
            .drops(rusty_stack::stats::DropReason::TcpOooDropped),
        1
    );
    // The gaps filled (the fifth's bytes come again with the first): every
    // held byte is delivered without being sent again.
    let mut last = Vec::new();
    for (from, to) in [(0, 100), (110, 200), (210, 300), (310, 400)] {
        last = piece(&mut b, from, to);
    }
    assert_eq!(
        last.last().and_then(|s| s.ack),
        Some(base + 410),
        "{last:?}"
    );
    assert_eq!(b.stack.app().logs[0].received, &stream[..410]);
}
