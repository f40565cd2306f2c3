//! Hostile and faulty hosts: an attacker on the server's segment, and the
//! server's own faults (stalled cores, exhausted pools, overflowing rings,
//! failing transmit allocations). Every run has a liveness phase: after the
//! attack stops and the faults heal, every connection must finish.

use rusty_sim::hosts::attacker::AttackSpec;
use rusty_sim::hosts::faults::{HostFaults, PoolSqueeze, RingSqueeze, Stall};
use rusty_sim::run::engine::{self, Setup};
use rusty_sim::run::report::Report;
use rusty_sim::scenario::{LivenessSpec, Scenario};
use rusty_stack::stats::TcpCounters;
use rusty_stack::time::{Duration, Instant};

/// The small HTTP scenario (2 workers, 20 connections) for 0.3 virtual
/// seconds, with a liveness phase long enough for half-open connections
/// of spoofed SYNs to give up (their SYN-ACKs are retried for 63 s).
fn scenario() -> Scenario {
    let mut s = Scenario::small();
    s.duration = 0.3;
    s.liveness = Some(LivenessSpec { drain_s: 70.0 });
    s
}

/// Runs `s` through both phases; returns the report and the server's and
/// the client's TCP counters.
fn run(s: &Scenario) -> (Report, TcpCounters, TcpCounters) {
    s.validate().expect("valid scenario");
    let mut setup: Setup = engine::build(s).expect("builds");
    setup.start().expect("listens");
    let end = Instant::ZERO + Duration::from_nanos((s.duration * 1e9) as u64);
    setup.run_until(end, None, &mut |_| {});
    setup
        .world
        .check()
        .expect("checkers hold in the safety phase");
    let liveness = s.liveness.clone().expect("a liveness phase");
    setup
        .liveness(s, &liveness)
        .expect("every connection finishes once the run heals");
    setup.world.check().expect("checkers hold after the drain");
    let report = setup.report(s);
    let server = setup.world.host(setup.server).tcp_counters();
    let client = setup.world.host(setup.client).tcp_counters();
    (report, server, client)
}

#[test]
fn a_syn_flood_of_100k_per_second_leaves_every_request_served_in_bounded_memory() {
    let baseline = run(&scenario()).0;
    let mut s = scenario();
    s.attacker = Some(AttackSpec {
        syn_flood_pps: 100_000.0,
        ..AttackSpec::default()
    });
    let (r, server, _) = run(&s);
    let a = r.attack.clone().expect("an attack report");
    assert_eq!(a.sent.syns, 30_000, "{a:?}");
    assert_eq!(r.requests_failed, 0, "{:?}", r.requests_failed_by_reason);
    assert_eq!(r.bytes_corrupt, 0);
    // Legitimate clients still get through, by SYN cookies once the SYN
    // queue is full of spoofed half-open connections.
    assert!(
        r.requests_ok > baseline.requests_ok / 4,
        "{} of {}",
        r.requests_ok,
        baseline.requests_ok
    );
    assert!(a.syn_cookies_sent > 20_000, "{a:?}");
    assert!(a.syn_cookies_accepted > 0, "{a:?}");
    assert_eq!(server.syn_cookies_accepted, a.syn_cookies_accepted);
    // Memory: fixed at start, and the flood never filled it. Half-open
    // connections hold at most half the slots.
    let m = r.server_memory.expect("memory is reported under attack");
    assert!(m.peak_connections < m.connection_slots_per_core, "{m:?}");
    assert!(m.peak_buffers_in_use < m.buffers_per_core / 2, "{m:?}");
    let text = r.human();
    assert!(text.contains("SYN cookies sent"), "{text}");
    assert!(text.contains("connection slots"), "{text}");
}

#[test]
fn blind_rsts_injected_data_acks_of_unsent_data_and_storms_change_nothing() {
    let mut s = scenario();
    s.attacker = Some(AttackSpec {
        rst_pps: 20_000.0,
        data_pps: 20_000.0,
        ack_pps: 20_000.0,
        storm_pps: 20_000.0,
        ..AttackSpec::default()
    });
    let (r, server, client) = run(&s);
    let a = r.attack.clone().expect("an attack report");
    for (what, n) in [
        ("RSTs", a.sent.rsts),
        ("data", a.sent.data),
        ("ACKs", a.sent.acks),
        ("storm", a.sent.storm),
    ] {
        assert!(n > 500, "only {n} {what} sent: {a:?}");
    }
    assert_eq!(r.requests_failed, 0, "{:?}", r.requests_failed_by_reason);
    assert_eq!(r.bytes_corrupt, 0);
    assert!(r.requests_ok > 1000, "{}", r.requests_ok);
    // No injected byte reached the server's application: it received
    // exactly what the clients sent (nothing was lost, so nothing resent).
    assert_eq!(client.retransmits, 0);
    assert_eq!(server.bytes_received, client.bytes_sent);
    // In-window RSTs and SYNs drew challenge ACKs (RFC 5961), rate-limited.
    assert!(a.challenge_acks > 100, "{a:?}");
    assert!(a.acks_rate_limited > 0, "{a:?}");
    // Every forged frame was well-formed: none was dropped for a checksum.
    for reason in ["ipv4_bad_checksum", "tcp_bad_checksum"] {
        assert!(!r.drops.contains_key(reason), "{:?}", r.drops);
    }
    // Out-of-window data and forged ACKs were dropped and counted.
    assert!(
        r.drops.get("tcp_out_of_window").copied().unwrap_or(0) > 100,
        "{:?}",
        r.drops
    );
}

#[test]
fn the_same_attack_gives_the_same_run() {
    let mut s = scenario();
    s.duration = 0.05;
    s.attacker = Some(AttackSpec {
        syn_flood_pps: 50_000.0,
        rst_pps: 5_000.0,
        data_pps: 5_000.0,
        ack_pps: 5_000.0,
        storm_pps: 5_000.0,
        ..AttackSpec::default()
    });
    let one = run(&s).0.without_wall_clock().json();
    let two = run(&s).0.without_wall_clock().json();
    assert_eq!(one, two);
    s.seed += 1;
    assert_ne!(
        one,
        run(&s).0.without_wall_clock().json(),
        "the seed matters"
    );
}

#[test]
fn a_stalled_core_squeezed_pools_and_rings_and_failing_allocations_are_survived() {
    let ms = |n: u64| Instant::ZERO + Duration::from_millis(n);
    let mut s = scenario();
    s.server.faults = HostFaults {
        stalls: vec![Stall {
            core: 0,
            from: ms(20),
            until: ms(60),
        }],
        pool_squeeze: vec![PoolSqueeze {
            from: ms(100),
            until: ms(130),
            share: 1.0,
        }],
        // A short ring while core 0 stalls: what arrives meanwhile overflows.
        ring_squeeze: vec![RingSqueeze {
            from: ms(20),
            until: ms(60),
            frames: 4,
        }],
        alloc_tx_fail: 0.05,
    };
    let faults = s.server.faults.clone();
    let (r, _, _) = run(&s);
    let f = r.host_faults.clone().expect("a host-fault report");
    // Fault windows take effect on time (the cores wake when one opens),
    // whether or not traffic arrives then.
    assert!(f.counters.stalled_runs > 0, "{f:?}");
    assert!(f.counters.squeezed_buffers > 1000, "{f:?}");
    assert!(f.tx_alloc_failed > 20, "{f:?}");
    // What the squeezed ring and pool drop depends on the traffic in their
    // windows, which the other faults change: each is shown alone, over a
    // run with traffic.
    let alone = |faults: HostFaults| {
        let mut s = scenario();
        s.server.faults = faults;
        run(&s).0.host_faults.expect("a host-fault report")
    };
    let ring = alone(HostFaults {
        pool_squeeze: Vec::new(),
        alloc_tx_fail: 0.0,
        ..faults.clone()
    });
    assert!(ring.rx_queue_full > 0, "{ring:?}");
    let pool = alone(HostFaults {
        stalls: Vec::new(),
        ring_squeeze: Vec::new(),
        alloc_tx_fail: 0.0,
        ..faults
    });
    assert!(pool.rx_no_buffer > 0, "{pool:?}");
    assert_eq!(r.bytes_corrupt, 0);
    assert!(r.requests_ok > 100, "{}", r.requests_ok);
    assert!(r.human().contains("host faults"));
    // Each fault alone is felt: a squeezed pool drops frames that an
    // unsqueezed run takes.
    let clean = run(&scenario()).0;
    assert!(clean.host_faults.is_none());
    assert!(
        r.requests_ok < clean.requests_ok,
        "{} vs {}",
        r.requests_ok,
        clean.requests_ok
    );
}

#[test]
fn host_faults_and_attacks_are_validated() {
    let check = |f: &dyn Fn(&mut Scenario), field: &str| {
        let mut s = scenario();
        f(&mut s);
        let e = s.validate().expect_err(field).to_string();
        assert!(e.contains(field), "{e}");
    };
    let at = |ms| Instant::ZERO + Duration::from_millis(ms);
    check(
        &|s| {
            s.server.faults.stalls.push(Stall {
                core: 2,
                from: at(1),
                until: at(2),
            })
        },
        "server.faults.stalls",
    );
    check(
        &|s| {
            s.server.faults.pool_squeeze.push(PoolSqueeze {
                from: at(1),
                until: at(2),
                share: 1.5,
            })
        },
        "server.faults.pool_squeeze",
    );
    check(
        &|s| {
            s.server.faults.ring_squeeze.push(RingSqueeze {
                from: at(3),
                until: at(2),
                frames: 1,
            })
        },
        "server.faults.ring_squeeze",
    );
    check(
        &|s| s.server.faults.alloc_tx_fail = f64::NAN,
        "server.faults.alloc_tx_fail",
    );
    let attack = |f: fn(&mut AttackSpec)| {
        move |s: &mut Scenario| {
            let mut a = AttackSpec::default();
            f(&mut a);
            s.attacker = Some(a);
        }
    };
    check(&attack(|a| a.rst_pps = -1.0), "attacker.rst_pps");
    check(
        &attack(|a| a.syn_flood_pps = 1e12),
        "attacker.syn_flood_pps",
    );
    check(
        &attack(|a| a.spoofed_sources = 0),
        "attacker.spoofed_sources",
    );
    check(
        &attack(|a| {
            a.from = Instant::ZERO + Duration::from_millis(5);
            a.until = Some(Instant::ZERO + Duration::from_millis(5));
        }),
        "attacker.until",
    );
    // TOML: the tables parse, unknown keys do not.
    let s: Scenario = toml::from_str(
        "[server.faults]\nalloc_tx_fail = 0.1\nstalls = [{ core = 1, from = \"1ms\", until = \"2ms\" }]\n\
         [attacker]\nsyn_flood_pps = 1000\nfrom = \"10ms\"\n",
    )
    .expect("parses");
    assert_eq!(s.server.faults.stalls.len(), 1);
    assert_eq!(s.attacker.expect("attacker").syn_flood_pps, 1000.0);
    assert!(toml::from_str::<Scenario>("[attacker]\nsyn_flood = 1\n").is_err());
    assert!(toml::from_str::<Scenario>("[server.faults]\nstall = []\n").is_err());
}
