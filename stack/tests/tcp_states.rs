//! Table-driven tests of the TCP state machine: a scripted raw peer sends
//! hand-built segments to one Rusty stack and checks its answer and its
//! new state, transition by transition (RFC 9293 §3.10, RFC 5961, and the
//! two extra closing states), on the header-level bench of
//! `support/bench.rs` (`send!` a `TcpRepr` built from a template, check
//! the answers).

mod support;

use rusty_stack::tcp::{State, TcpConfig};
use rusty_stack::time::Duration;
use rusty_stack::wire::{TcpFlags, TcpRepr, TcpSeqNumber};
use support::bench::{
    config, reprs, Bench, PEER_ISN, PEER_PORT, RECV_TEMPL, SEND_TEMPL, SYN_TEMPL,
};
use support::{data, Script, IP_A};

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

/// The stack's answers compared whole, header field by header field: the
/// SYN-ACK (MSS option, window), the ACK of data, and silence after it.
#[test]
fn answers_are_exact_segments() {
    let mut b = Bench::server();
    let r = send!(
        b,
        TcpRepr {
            seq_number: TcpSeqNumber(PEER_ISN),
            ..SYN_TEMPL
        }
    );
    assert_eq!(
        reprs(&r),
        [TcpRepr {
            flags: TcpFlags::SYN,
            seq_number: TcpSeqNumber(b.iss),
            ack_number: Some(TcpSeqNumber(PEER_ISN + 1)),
            max_seg_size: Some(1460),
            ..RECV_TEMPL
        }]
    );
    b.snd = PEER_ISN + 1;
    send!(
        b,
        TcpRepr {
            seq_number: TcpSeqNumber(b.snd),
            ack_number: Some(TcpSeqNumber(b.iss + 1)),
            ..SEND_TEMPL
        }
    );
    let r = send!(
        b,
        TcpRepr {
            flags: TcpFlags::PSH,
            seq_number: TcpSeqNumber(b.snd),
            ack_number: Some(TcpSeqNumber(b.iss + 1)),
            payload: b"hello",
            ..SEND_TEMPL
        }
    );
    b.snd += 5;
    assert_eq!(
        reprs(&r),
        [TcpRepr {
            seq_number: TcpSeqNumber(b.iss + 1),
            ack_number: Some(TcpSeqNumber(b.snd)),
            ..RECV_TEMPL
        }]
    );
    b.advance(Duration::from_secs(1));
    recv!(b, []);
}

#[test]
fn state_transitions() {
    let cases: &[Case] = &[
        ("LISTEN + SYN -> SYN-RECEIVED, SYN-ACK", || {
            let mut b = Bench::server();
            let r = send!(
                b,
                TcpRepr {
                    seq_number: TcpSeqNumber(PEER_ISN),
                    ..SYN_TEMPL
                }
            );
            assert_eq!(r.len(), 1);
            assert!(r[0].has(TcpFlags::SYN) && r[0].ack == Some(PEER_ISN + 1));
            assert_eq!(b.state(), Some(State::SynReceived));
        }),
        ("LISTEN + ACK -> RST <SEQ=SEG.ACK>", || {
            let mut b = Bench::server();
            let r = send!(
                b,
                TcpRepr {
                    seq_number: TcpSeqNumber(PEER_ISN),
                    ack_number: Some(TcpSeqNumber(777)),
                    ..SEND_TEMPL
                }
            );
            assert!(
                r.len() == 1 && r[0].has(TcpFlags::RST) && r[0].seq == 777 && r[0].ack.is_none(),
                "{r:?}"
            );
            assert_eq!(b.state(), None);
        }),
        ("no listener + SYN -> RST/ACK", || {
            let mut b = Bench::server();
            let r = send!(
                b,
                TcpRepr {
                    dst_port: 81,
                    seq_number: TcpSeqNumber(PEER_ISN),
                    ..SYN_TEMPL
                }
            );
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
            send!(
                b,
                TcpRepr {
                    seq_number: TcpSeqNumber(PEER_ISN),
                    ..SYN_TEMPL
                }
            );
            let r = send!(
                b,
                TcpRepr {
                    seq_number: TcpSeqNumber(PEER_ISN),
                    ..SYN_TEMPL
                }
            );
            assert!(
                r.len() == 1 && r[0].has(TcpFlags::SYN) && r[0].seq == b.iss,
                "{r:?}"
            );
            assert_eq!(b.state(), Some(State::SynReceived));
        }),
        ("SYN-RECEIVED + RST -> back to LISTEN", || {
            let mut b = Bench::server();
            send!(
                b,
                TcpRepr {
                    seq_number: TcpSeqNumber(PEER_ISN),
                    ..SYN_TEMPL
                }
            );
            let r = send!(
                b,
                TcpRepr {
                    flags: TcpFlags::RST,
                    seq_number: TcpSeqNumber(PEER_ISN + 1),
                    ..SEND_TEMPL
                }
            );
            assert!(r.is_empty());
            assert_eq!(b.state(), None);
            assert!(b.stack.app().logs.is_empty(), "the app never saw it");
        }),
        ("SYN-RECEIVED + bad ACK -> RST", || {
            let mut b = Bench::server();
            send!(
                b,
                TcpRepr {
                    seq_number: TcpSeqNumber(PEER_ISN),
                    ..SYN_TEMPL
                }
            );
            let r = send!(
                b,
                TcpRepr {
                    seq_number: TcpSeqNumber(PEER_ISN + 1),
                    ack_number: Some(TcpSeqNumber(b.iss + 1000)),
                    ..SEND_TEMPL
                }
            );
            assert!(
                r.len() == 1 && r[0].has(TcpFlags::RST) && r[0].seq == b.iss + 1000,
                "{r:?}"
            );
        }),
        (
            "SYN-RECEIVED: SYN-ACK retransmitted on timeout, then given up",
            || {
                let mut b = Bench::server();
                send!(
                    b,
                    TcpRepr {
                        seq_number: TcpSeqNumber(PEER_ISN),
                        ..SYN_TEMPL
                    }
                );
                let r = b.advance(Duration::from_secs(200));
                assert_eq!(r.len(), 5, "syn_retries SYN-ACKs: {r:?}");
                assert!(r.iter().all(|s| s.has(TcpFlags::SYN)));
                assert_eq!(b.state(), None);
            },
        ),
        ("ESTABLISHED + data -> ACK, delivered", || {
            let mut b = Bench::server();
            b.establish();
            let r = send!(
                b,
                TcpRepr {
                    flags: TcpFlags::PSH,
                    seq_number: TcpSeqNumber(b.snd),
                    ack_number: Some(TcpSeqNumber(b.iss + 1)),
                    payload: b"hello",
                    ..SEND_TEMPL
                }
            );
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
                let r = send!(
                    b,
                    TcpRepr {
                        seq_number: TcpSeqNumber(b.snd),
                        ack_number: Some(TcpSeqNumber(b.iss + 2)),
                        ..SEND_TEMPL
                    }
                );
                assert!(r.is_empty());
                assert_eq!(b.state(), None);
                assert!(b.stack.app().logs[0].closed);
            },
        ),
        ("ESTABLISHED + exact RST -> CLOSED (reset)", || {
            let mut b = Bench::server();
            b.establish();
            let r = send!(
                b,
                TcpRepr {
                    flags: TcpFlags::RST,
                    seq_number: TcpSeqNumber(b.snd),
                    ..SEND_TEMPL
                }
            );
            assert!(r.is_empty());
            assert_eq!(b.state(), None);
            assert!(b.stack.app().logs[0].reset);
        }),
        (
            "ESTABLISHED + in-window RST -> challenge ACK (RFC 5961)",
            || {
                let mut b = Bench::server();
                b.establish();
                let r = send!(
                    b,
                    TcpRepr {
                        flags: TcpFlags::RST,
                        seq_number: TcpSeqNumber(b.snd + 100),
                        ..SEND_TEMPL
                    }
                );
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
            let r = send!(
                b,
                TcpRepr {
                    flags: TcpFlags::RST,
                    seq_number: TcpSeqNumber(b.snd.wrapping_sub(100_000)),
                    ..SEND_TEMPL
                }
            );
            assert!(r.is_empty(), "{r:?}");
            assert_eq!(b.state(), Some(State::Established));
        }),
        ("ESTABLISHED + SYN -> challenge ACK (RFC 5961)", || {
            let mut b = Bench::server();
            b.establish();
            let r = send!(
                b,
                TcpRepr {
                    seq_number: TcpSeqNumber(b.snd + 5),
                    ..SYN_TEMPL
                }
            );
            assert!(
                r.len() == 1 && r[0].flags == TcpFlags::empty() && r[0].ack == Some(b.snd),
                "{r:?}"
            );
            assert_eq!(b.state(), Some(State::Established));
        }),
        ("ESTABLISHED + out-of-window data -> ACK, dropped", || {
            let mut b = Bench::server();
            b.establish();
            let r = send!(
                b,
                TcpRepr {
                    seq_number: TcpSeqNumber(b.snd + 1_000_000),
                    ack_number: Some(TcpSeqNumber(b.iss + 1)),
                    payload: b"zz",
                    ..SEND_TEMPL
                }
            );
            assert!(r.len() == 1 && r[0].ack == Some(b.snd), "{r:?}");
            assert!(b.stack.app().logs[0].received.is_empty());
        }),
        ("ESTABLISHED + ACK of unsent data -> ACK, dropped", || {
            let mut b = Bench::server();
            b.establish();
            let r = send!(
                b,
                TcpRepr {
                    seq_number: TcpSeqNumber(b.snd),
                    ack_number: Some(TcpSeqNumber(b.iss + 5000)),
                    payload: b"zz",
                    ..SEND_TEMPL
                }
            );
            assert!(r.len() == 1 && r[0].ack == Some(b.snd), "{r:?}");
            assert!(b.stack.app().logs[0].received.is_empty());
        }),
        (
            "ESTABLISHED + close -> FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT -> gone",
            || {
                let mut b = closing_server();
                b.establish();
                let r = send!(
                    b,
                    TcpRepr {
                        flags: TcpFlags::PSH,
                        seq_number: TcpSeqNumber(b.snd),
                        ack_number: Some(TcpSeqNumber(b.iss + 1)),
                        payload: b"x",
                        ..SEND_TEMPL
                    }
                );
                b.snd += 1;
                assert!(
                    r.len() == 1 && r[0].has(TcpFlags::FIN) && r[0].payload.len() == 10,
                    "reply and FIN together: {r:?}"
                );
                assert_eq!(b.state(), Some(State::FinWait1));
                let r = send!(
                    b,
                    TcpRepr {
                        seq_number: TcpSeqNumber(b.snd),
                        ack_number: Some(TcpSeqNumber(b.iss + 12)),
                        ..SEND_TEMPL
                    }
                );
                assert!(r.is_empty());
                assert_eq!(b.state(), Some(State::FinWait2));
                let r = b.fin(b.iss + 12);
                assert!(r.len() == 1 && r[0].ack == Some(b.snd), "{r:?}");
                assert_eq!(b.state(), None);
                assert_eq!(b.stack.time_wait_connections(), 1);
                assert!(b.stack.app().logs[0].closed);
                // A retransmitted FIN in TIME-WAIT is acknowledged again.
                let r = send!(
                    b,
                    TcpRepr {
                        flags: TcpFlags::FIN,
                        seq_number: TcpSeqNumber(b.snd - 1),
                        ack_number: Some(TcpSeqNumber(b.iss + 12)),
                        ..SEND_TEMPL
                    }
                );
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
                send!(
                    b,
                    TcpRepr {
                        flags: TcpFlags::PSH,
                        seq_number: TcpSeqNumber(b.snd),
                        ack_number: Some(TcpSeqNumber(b.iss + 1)),
                        payload: b"x",
                        ..SEND_TEMPL
                    }
                );
                b.snd += 1;
                // Our FIN does not acknowledge theirs.
                let r = b.fin(b.iss + 11);
                assert!(r.len() == 1 && r[0].ack == Some(b.snd), "{r:?}");
                assert_eq!(b.state(), Some(State::Closing));
                send!(
                    b,
                    TcpRepr {
                        seq_number: TcpSeqNumber(b.snd),
                        ack_number: Some(TcpSeqNumber(b.iss + 12)),
                        ..SEND_TEMPL
                    }
                );
                assert_eq!(b.state(), None);
                assert_eq!(b.stack.time_wait_connections(), 1);
            },
        ),
        (
            "close with unsent data -> FIN-PENDING until the window opens",
            || {
                let mut b = closing_server();
                // Handshake announcing a zero window: nothing can be sent.
                send!(
                    b,
                    TcpRepr {
                        seq_number: TcpSeqNumber(PEER_ISN),
                        ..SYN_TEMPL
                    }
                );
                b.snd += 1;
                send!(
                    b,
                    TcpRepr {
                        seq_number: TcpSeqNumber(b.snd),
                        ack_number: Some(TcpSeqNumber(b.iss + 1)),
                        window_len: 0,
                        ..SEND_TEMPL
                    }
                );
                let r = send!(
                    b,
                    TcpRepr {
                        flags: TcpFlags::PSH,
                        seq_number: TcpSeqNumber(b.snd),
                        ack_number: Some(TcpSeqNumber(b.iss + 1)),
                        window_len: 0,
                        payload: b"x",
                        ..SEND_TEMPL
                    }
                );
                b.snd += 1;
                assert!(r.iter().all(|s| s.payload.is_empty()), "{r:?}");
                assert_eq!(b.state(), Some(State::FinPending));
                // The peer's FIN arrives meanwhile.
                let r = send!(
                    b,
                    TcpRepr {
                        flags: TcpFlags::FIN,
                        seq_number: TcpSeqNumber(b.snd),
                        ack_number: Some(TcpSeqNumber(b.iss + 1)),
                        window_len: 0,
                        ..SEND_TEMPL
                    }
                );
                b.snd += 1;
                assert!(r.len() == 1 && r[0].ack == Some(b.snd), "{r:?}");
                assert_eq!(b.state(), Some(State::CloseWaitFinPending));
                // Window opens: data and FIN go out together.
                let r = send!(
                    b,
                    TcpRepr {
                        seq_number: TcpSeqNumber(b.snd),
                        ack_number: Some(TcpSeqNumber(b.iss + 1)),
                        window_len: 1000,
                        ..SEND_TEMPL
                    }
                );
                assert!(
                    r.len() == 1 && r[0].payload.len() == 10 && r[0].has(TcpFlags::FIN),
                    "{r:?}"
                );
                assert_eq!(b.state(), Some(State::LastAck));
            },
        ),
        ("zero window: probes until it opens", || {
            let mut b = closing_server();
            send!(
                b,
                TcpRepr {
                    seq_number: TcpSeqNumber(PEER_ISN),
                    ..SYN_TEMPL
                }
            );
            b.snd += 1;
            send!(
                b,
                TcpRepr {
                    seq_number: TcpSeqNumber(b.snd),
                    ack_number: Some(TcpSeqNumber(b.iss + 1)),
                    window_len: 0,
                    ..SEND_TEMPL
                }
            );
            send!(
                b,
                TcpRepr {
                    flags: TcpFlags::PSH,
                    seq_number: TcpSeqNumber(b.snd),
                    ack_number: Some(TcpSeqNumber(b.iss + 1)),
                    window_len: 0,
                    payload: b"x",
                    ..SEND_TEMPL
                }
            );
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
        b.poll();
        let r = b.received();
        assert!(
            r.len() == 1 && r[0].has(TcpFlags::SYN) && r[0].ack.is_none(),
            "{r:?}"
        );
        let port = b.stack.connections().next().unwrap().local.1;
        assert_eq!(b.state(), Some(State::SynSent));
        (b, port)
    };
    let (mut b, port) = client();
    let r = send!(
        b,
        TcpRepr {
            dst_port: port,
            seq_number: TcpSeqNumber(PEER_ISN),
            ack_number: Some(TcpSeqNumber(b.iss + 1)),
            ..SYN_TEMPL
        }
    );
    assert!(
        r.len() == 1 && r[0].ack == Some(PEER_ISN + 1) && !r[0].has(TcpFlags::SYN),
        "{r:?}"
    );
    assert_eq!(b.state(), Some(State::Established));
    assert!(b.stack.app().logs[0].connected);

    let (mut b, port) = client();
    let r = send!(
        b,
        TcpRepr {
            dst_port: port,
            flags: TcpFlags::RST,
            seq_number: TcpSeqNumber(0),
            ack_number: Some(TcpSeqNumber(b.iss + 1)),
            ..SEND_TEMPL
        }
    );
    assert!(r.is_empty());
    assert_eq!(b.state(), None);
    assert!(b.stack.app().logs[0].reset);

    let (mut b, port) = client();
    let r = send!(
        b,
        TcpRepr {
            dst_port: port,
            seq_number: TcpSeqNumber(PEER_ISN),
            ..SYN_TEMPL
        }
    );
    assert!(
        r.len() == 1 && r[0].has(TcpFlags::SYN) && r[0].ack == Some(PEER_ISN + 1),
        "{r:?}"
    );
    assert_eq!(b.state(), Some(State::SynReceived));

    let (mut b, port) = client();
    let r = send!(
        b,
        TcpRepr {
            dst_port: port,
            seq_number: TcpSeqNumber(PEER_ISN),
            ack_number: Some(TcpSeqNumber(b.iss + 99)),
            ..SYN_TEMPL
        }
    );
    assert!(
        r.len() == 1 && r[0].has(TcpFlags::RST) && r[0].seq == b.iss + 99,
        "{r:?}"
    );
    assert_eq!(b.state(), Some(State::SynSent));

    // Unanswered SYNs: retried with backoff, then the open fails.
    let (mut b, _) = client();
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
        let r = send!(
            b,
            TcpRepr {
                src_port: 41000 + i,
                seq_number: TcpSeqNumber(PEER_ISN),
                ..SYN_TEMPL
            }
        );
        assert!(r[0].has(TcpFlags::SYN));
    }
    assert_eq!(b.stack.tcp_counters().syn_cookies_sent, 0);
    // More SYNs: answered statelessly.
    let before = b.stack.active_connections();
    let r = send!(
        b,
        TcpRepr {
            src_port: 40001,
            seq_number: TcpSeqNumber(PEER_ISN),
            ..SYN_TEMPL
        }
    );
    let (flags, cookie) = (r[0].flags, r[0].seq);
    assert!(flags.contains(TcpFlags::SYN));
    assert_eq!(
        b.stack.active_connections(),
        before,
        "no state for a cookie"
    );
    assert_eq!(b.stack.tcp_counters().syn_cookies_sent, 1);
    // The final ACK carrying the cookie creates the connection.
    let r = send!(
        b,
        TcpRepr {
            src_port: 40001,
            flags: TcpFlags::PSH,
            seq_number: TcpSeqNumber(PEER_ISN + 1),
            ack_number: Some(TcpSeqNumber(cookie + 1)),
            payload: b"GET",
            ..SEND_TEMPL
        }
    );
    assert!(r.iter().all(|s| !s.has(TcpFlags::RST)), "{r:?}");
    assert_eq!(b.stack.tcp_counters().syn_cookies_accepted, 1);
    assert_eq!(b.stack.active_connections(), before + 1);
    // Its data lies inside the window the cookie SYN-ACK advertised and
    // is delivered at once: the rebuilt connection's RCV.ADV is that
    // window's edge, not a reused slot's stale value (which, compared in
    // sequence space, closed the window for half of all client ISNs; the
    // simulator's SYN-flood attacker found it).
    let log = b
        .stack
        .app()
        .logs
        .last()
        .expect("the connection was accepted");
    assert_eq!(log.received, b"GET");
    // A forged cookie is refused with a reset.
    let r = send!(
        b,
        TcpRepr {
            src_port: 40002,
            seq_number: TcpSeqNumber(PEER_ISN + 1),
            ack_number: Some(TcpSeqNumber(cookie + 7)),
            ..SEND_TEMPL
        }
    );
    assert!(r.len() == 1 && r[0].has(TcpFlags::RST), "{r:?}");
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
    let r = send!(
        b,
        TcpRepr {
            seq_number: TcpSeqNumber(PEER_ISN),
            timestamp: Some((100, 0)),
            ..SYN_TEMPL
        }
    );
    assert!(r[0].has(TcpFlags::SYN));
    b.snd += 1;
    send!(
        b,
        TcpRepr {
            seq_number: TcpSeqNumber(b.snd),
            ack_number: Some(TcpSeqNumber(b.iss + 1)),
            timestamp: Some((101, 1)),
            ..SEND_TEMPL
        }
    );
    assert_eq!(b.state(), Some(State::Established));
    let r = send!(
        b,
        TcpRepr {
            flags: TcpFlags::PSH,
            seq_number: TcpSeqNumber(b.snd),
            ack_number: Some(TcpSeqNumber(b.iss + 1)),
            timestamp: Some((200, 1)),
            payload: b"new",
            ..SEND_TEMPL
        }
    );
    b.snd += 3;
    assert_eq!(r.len(), 1);
    // A segment from an older incarnation (TSval 150 < 200): dropped, and
    // answered with an ACK (RFC 7323 §5.3).
    let r = send!(
        b,
        TcpRepr {
            flags: TcpFlags::PSH,
            seq_number: TcpSeqNumber(b.snd),
            ack_number: Some(TcpSeqNumber(b.iss + 1)),
            timestamp: Some((150, 1)),
            payload: b"old",
            ..SEND_TEMPL
        }
    );
    assert!(r.len() == 1 && r[0].ack == Some(b.snd), "{r:?}");
    assert_eq!(b.stack.app().logs[0].received, b"new");
    assert_eq!(
        b.stack
            .tcp_counters()
            .drops(rusty_stack::stats::DropReason::TcpPaws),
        1
    );
    // A newer timestamp is accepted again.
    send!(
        b,
        TcpRepr {
            flags: TcpFlags::PSH,
            seq_number: TcpSeqNumber(b.snd),
            ack_number: Some(TcpSeqNumber(b.iss + 1)),
            timestamp: Some((300, 1)),
            payload: b"!",
            ..SEND_TEMPL
        }
    );
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
    let r = send!(
        b,
        TcpRepr {
            flags: TcpFlags::PSH,
            seq_number: TcpSeqNumber(b.snd),
            ack_number: Some(TcpSeqNumber(una0)),
            window_len: 100,
            payload: b"hi",
            ..SEND_TEMPL
        }
    );
    b.snd += 2;
    let sent: usize = r.iter().map(|s| s.payload.len()).sum();
    assert_eq!(sent, 100, "{r:?}");
    // The peer takes them and closes its window.
    let una = una0 + 100;
    let r = send!(
        b,
        TcpRepr {
            seq_number: TcpSeqNumber(b.snd),
            ack_number: Some(TcpSeqNumber(una)),
            window_len: 0,
            ..SEND_TEMPL
        }
    );
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
    let r = send!(
        b,
        TcpRepr {
            flags: TcpFlags::PSH,
            seq_number: TcpSeqNumber(b.snd),
            ack_number: Some(TcpSeqNumber(una)),
            window_len: 0,
            payload: b"x",
            ..SEND_TEMPL
        }
    );
    b.snd += 1;
    assert!(r.len() == 1 && r[0].ack == Some(b.snd), "{r:?}");
    assert!(r[0].seq <= una, "ACK beyond the peer's window: {r:?}");
    // The window opens: the other 900 bytes follow, in order.
    let r = send!(
        b,
        TcpRepr {
            seq_number: TcpSeqNumber(b.snd),
            ack_number: Some(TcpSeqNumber(una)),
            window_len: 2000,
            ..SEND_TEMPL
        }
    );
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
    send!(
        b,
        TcpRepr {
            flags: TcpFlags::PSH,
            seq_number: TcpSeqNumber(b.snd),
            ack_number: Some(TcpSeqNumber(b.iss + 1)),
            payload: b"x",
            ..SEND_TEMPL
        }
    );
    b.snd += 1;
    send!(
        b,
        TcpRepr {
            seq_number: TcpSeqNumber(b.snd),
            ack_number: Some(TcpSeqNumber(b.iss + 12)),
            ..SEND_TEMPL
        }
    );
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
        answers += send!(
            b,
            TcpRepr {
                seq_number: TcpSeqNumber(b.snd - 5 - i),
                ack_number: Some(TcpSeqNumber(b.iss + 12)),
                ..SEND_TEMPL
            }
        )
        .len();
    }
    assert!(answers <= 1, "{answers} answers to 100 late ACKs");
    assert!(b.stack.tcp_counters().acks_rate_limited >= 99);
    // Half a second later one more answer may go.
    b.advance(Duration::from_millis(600));
    let r = send!(
        b,
        TcpRepr {
            seq_number: TcpSeqNumber(b.snd - 3),
            ack_number: Some(TcpSeqNumber(b.iss + 12)),
            ..SEND_TEMPL
        }
    );
    assert_eq!(r.len(), 1, "{r:?}");
    // Retransmitted FINs are always acknowledged.
    for _ in 0..3 {
        let r = send!(
            b,
            TcpRepr {
                flags: TcpFlags::FIN,
                seq_number: TcpSeqNumber(b.snd - 1),
                ack_number: Some(TcpSeqNumber(b.iss + 12)),
                ..SEND_TEMPL
            }
        );
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
        answers += send!(
            b,
            TcpRepr {
                flags: TcpFlags::RST,
                seq_number: TcpSeqNumber(b.snd + 1 + i),
                ..SEND_TEMPL
            }
        )
        .len();
    }
    for _ in 0..100 {
        answers += send!(
            b,
            TcpRepr {
                seq_number: TcpSeqNumber(b.snd + 7),
                ..SYN_TEMPL
            }
        )
        .len();
    }
    assert!(answers <= 1, "{answers} challenge ACKs for 1100 segments");
    let counters = b.stack.tcp_counters();
    assert_eq!(counters.challenge_acks + counters.acks_rate_limited, 1100);
    assert_eq!(b.state(), Some(State::Established));
    // Data still flows, and is acknowledged at once.
    let r = send!(
        b,
        TcpRepr {
            flags: TcpFlags::PSH,
            seq_number: TcpSeqNumber(b.snd),
            ack_number: Some(TcpSeqNumber(b.iss + 1)),
            payload: b"ok",
            ..SEND_TEMPL
        }
    );
    assert!(r.len() == 1 && r[0].ack == Some(b.snd + 2), "{r:?}");
    // Later, a challenge ACK may go again.
    b.advance(Duration::from_millis(600));
    let r = send!(
        b,
        TcpRepr {
            flags: TcpFlags::RST,
            seq_number: TcpSeqNumber(b.snd + 10),
            ..SEND_TEMPL
        }
    );
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
    let r = send!(
        b,
        TcpRepr {
            seq_number: TcpSeqNumber(PEER_ISN),
            timestamp: Some((990, 0)),
            ..SYN_TEMPL
        }
    );
    assert!(r[0].has(TcpFlags::SYN));
    b.snd += 1;
    send!(
        b,
        TcpRepr {
            seq_number: TcpSeqNumber(b.snd),
            ack_number: Some(TcpSeqNumber(b.iss + 1)),
            timestamp: Some((1000, 1)),
            ..SEND_TEMPL
        }
    );
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
    let r = send!(
        b,
        TcpRepr {
            seq_number: TcpSeqNumber(b.snd),
            ack_number: Some(TcpSeqNumber(una)),
            timestamp: Some((960, 1)),
            ..SEND_TEMPL
        }
    );
    assert!(r.is_empty(), "{r:?}");
    assert_eq!(paws(&b), 0);
    // Data one tick behind TS.Recent: accepted (TCP_PAWS_WINDOW).
    let r = send!(
        b,
        TcpRepr {
            flags: TcpFlags::PSH,
            seq_number: TcpSeqNumber(b.snd),
            ack_number: Some(TcpSeqNumber(una)),
            timestamp: Some((999, 1)),
            payload: b"abc",
            ..SEND_TEMPL
        }
    );
    b.snd += 3;
    assert!(r.len() == 1 && r[0].ack == Some(b.snd), "{r:?}");
    assert_eq!(paws(&b), 0);
    assert_eq!(b.stack.app().logs[0].received, b"abc");
    // Data from far in the past: dropped, answered once for a burst.
    let mut answers = 0;
    for _ in 0..50 {
        answers += send!(
            b,
            TcpRepr {
                flags: TcpFlags::PSH,
                seq_number: TcpSeqNumber(b.snd),
                ack_number: Some(TcpSeqNumber(una)),
                timestamp: Some((10, 1)),
                payload: b"old",
                ..SEND_TEMPL
            }
        )
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
        answers += send!(
            b,
            TcpRepr {
                seq_number: TcpSeqNumber(b.snd + 1),
                ack_number: Some(TcpSeqNumber(una)),
                timestamp: Some((10, 1)),
                ..SEND_TEMPL
            }
        )
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
    let r = send!(
        b,
        TcpRepr {
            flags: TcpFlags::PSH,
            seq_number: TcpSeqNumber(b.snd),
            ack_number: Some(TcpSeqNumber(b.iss + 1)),
            payload: b"hi",
            ..SEND_TEMPL
        }
    );
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
    send!(
        b,
        TcpRepr {
            flags: TcpFlags::PSH,
            seq_number: TcpSeqNumber(b.snd + 65535),
            ack_number: Some(TcpSeqNumber(b.iss + 1)),
            payload: b"x",
            ..SEND_TEMPL
        }
    );
    assert_eq!(counters(&b), (0, 1));
    // The last byte inside: stored.
    send!(
        b,
        TcpRepr {
            flags: TcpFlags::PSH,
            seq_number: TcpSeqNumber(b.snd + 65534),
            ack_number: Some(TcpSeqNumber(b.iss + 1)),
            payload: b"y",
            ..SEND_TEMPL
        }
    );
    assert_eq!(counters(&b), (1, 1));
    // A RST just outside the window is ignored, no challenge ACK.
    b.advance(Duration::from_secs(1));
    let r = send!(
        b,
        TcpRepr {
            flags: TcpFlags::RST,
            seq_number: TcpSeqNumber(b.snd + 65535),
            ..SEND_TEMPL
        }
    );
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
        send!(
            b,
            TcpRepr {
                flags: TcpFlags::PSH,
                seq_number: TcpSeqNumber(base + from as u32),
                ack_number: Some(TcpSeqNumber(ack)),
                payload: &stream[from..to],
                ..SEND_TEMPL
            }
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

#[test]
fn half_open_connections_take_at_most_half_the_slots() {
    // Six slots and a backlog of 4: the SYN queue holds 3, so a SYN flood
    // leaves three slots for handshakes that complete (by cookie).
    let mut b = Bench::new(
        Script::default(),
        TcpConfig {
            max_connections: 6,
            ..config()
        },
    );
    for i in 0..4 {
        let r = send!(
            b,
            TcpRepr {
                src_port: 41000 + i,
                seq_number: TcpSeqNumber(PEER_ISN),
                ..SYN_TEMPL
            }
        );
        assert!(r[0].has(TcpFlags::SYN), "{r:?}");
    }
    assert_eq!(b.stack.active_connections(), 3, "three half-open");
    assert_eq!(
        b.stack.tcp_counters().syn_cookies_sent,
        1,
        "the fourth got a cookie"
    );
}

#[test]
fn a_small_receive_pool_caps_the_out_of_order_store_and_the_window() {
    use rusty_stack::iface::InterfaceConfig;
    use rusty_stack::nic::Capabilities;
    use rusty_stack::wire::{Ipv4Cidr, MacAddr};
    use rusty_stack::Stack;
    let caps = Capabilities::new(MacAddr([2, 0, 0, 0, 0, 9]), 1500).with_rx_buffers(40);
    let iface = InterfaceConfig::new(Ipv4Cidr::new(IP_A, 24).unwrap());
    let stack = Stack::new(
        &caps,
        iface,
        TcpConfig::default(),
        Script::default(),
        Default::default(),
    );
    let c = stack.tcp_config();
    // Half of the 40 receive buffers at most, out of order; and no more
    // window than those 20 full-sized segments.
    assert_eq!(c.ooo_pool_segments, 20);
    assert_eq!(c.ooo_max_segments, 20);
    assert!(c.rx_budget <= 20 * 1460, "{}", c.rx_budget);
    // Without a known pool, the configuration stands.
    let caps = Capabilities::new(MacAddr([2, 0, 0, 0, 0, 9]), 1500);
    let iface = InterfaceConfig::new(Ipv4Cidr::new(IP_A, 24).unwrap());
    let stack = Stack::new(
        &caps,
        iface,
        TcpConfig::default(),
        Script::default(),
        Default::default(),
    );
    assert_eq!(
        stack.tcp_config().ooo_pool_segments,
        TcpConfig::default().ooo_pool_segments
    );
}
