//! The simulator's fault injection against the whole stack: under loss
//! (1%, 5%, 20%, bursts), duplication, reordering and corruption, every
//! request completes with verified bytes or fails cleanly and is counted,
//! no corrupted byte ever reaches an application, and once the clients stop
//! every connection is freed.

use rusty_sim::net::link::CorruptScope;
use rusty_sim::run::engine::{build, Setup};
use rusty_sim::run::report::Report;
use rusty_sim::scenario::{Faults, GilbertElliott, Scenario};
use rusty_stack::stats::DropReason;
use rusty_stack::time::{Duration, Instant};

/// Runs the small HTTP scenario with `faults` for 0.1 virtual s, drains it,
/// and checks the invariants. Returns (ok, failed).
fn run_with(faults: Faults, seed: u64) -> (u64, u64) {
    let (_, ok, failed) = run_checked(faults, seed, Duration::from_secs(1200));
    (ok, failed)
}

/// [`run_with`] with a drain of at most `drain`; also returns the setup and
/// its report, for more checks.
fn run_checked(faults: Faults, seed: u64, drain: Duration) -> ((Setup, Report), u64, u64) {
    let mut scenario = Scenario::small();
    scenario.seed = seed;
    scenario.links.faults = faults;
    scenario.validate().expect("valid scenario");
    let mut setup = build(&scenario).expect("builds");
    setup.start().expect("listens");
    setup.run_until(
        Instant::ZERO + Duration::from_millis(100),
        None,
        &mut |_| {},
    );
    let drained = setup.drain(drain);
    let stats = setup.client_stats();
    let report = setup.report(&scenario);
    assert!(drained, "seed {seed}: connections left: {}", report.json());
    assert_eq!(stats.in_flight, 0, "{}", report.json());
    assert_eq!(
        stats.bytes_corrupt,
        0,
        "a corrupted byte reached the app: {}",
        report.json()
    );
    assert!(stats.ok > 0, "{}", report.json());
    let server = setup.world.host(setup.server);
    let client = setup.world.host(setup.client);
    assert_eq!(server.active_connections() + client.active_connections(), 0);
    // Failures are counted somewhere a user can see: drops and resets.
    if stats.failed() > 0 {
        let resets =
            server.tcp_counters().connections_reset + client.tcp_counters().connections_reset;
        assert!(resets > 0 || report.total_drops() > 0, "{}", report.json());
    }
    ((setup, report), stats.ok, stats.failed())
}

#[test]
fn sim_faults_loss_1_percent() {
    let (ok, failed) = run_with(
        Faults {
            loss: 0.01,
            ..Faults::default()
        },
        1,
    );
    assert_eq!(failed, 0, "1% loss is repaired: ok {ok}");
}

#[test]
fn sim_faults_loss_5_percent() {
    let (ok, failed) = run_with(
        Faults {
            loss: 0.05,
            ..Faults::default()
        },
        2,
    );
    assert_eq!(failed, 0, "5% loss is repaired: ok {ok}");
}

#[test]
fn sim_faults_loss_20_percent() {
    run_with(
        Faults {
            loss: 0.20,
            ..Faults::default()
        },
        3,
    );
}

#[test]
fn sim_faults_duplication() {
    let (_, failed) = run_with(
        Faults {
            duplicate: 0.10,
            ..Faults::default()
        },
        4,
    );
    assert_eq!(failed, 0);
}

#[test]
fn sim_faults_reordering() {
    let (_, failed) = run_with(
        Faults {
            reorder: 0.10,
            reorder_delay: Duration::from_micros(300),
            ..Faults::default()
        },
        5,
    );
    assert_eq!(failed, 0);
}

#[test]
fn sim_faults_corruption_is_caught_by_checksums() {
    let mut scenario_faults = Faults {
        corrupt: 0.02,
        ..Faults::default()
    };
    let (_, failed) = run_with(scenario_faults.clone(), 6);
    assert_eq!(failed, 0);
    // And the drops are counted as checksum failures.
    scenario_faults.corrupt = 0.05;
    let mut scenario = Scenario::small();
    scenario.links.faults = scenario_faults;
    let mut setup = build(&scenario).unwrap();
    setup.start().unwrap();
    setup.run_until(Instant::ZERO + Duration::from_millis(50), None, &mut |_| {});
    let report = setup.report(&scenario);
    let checksum_drops: u64 = report
        .drops
        .iter()
        .filter(|(k, _)| k.contains("checksum"))
        .map(|(_, v)| v)
        .sum();
    assert!(checksum_drops > 0, "{:?}", report.drops);
}

#[test]
fn sim_faults_bursts() {
    let burst = GilbertElliott {
        p_good_to_bad: 0.01,
        p_bad_to_good: 0.3,
        loss_good: 0.0,
        loss_bad: 0.8,
    };
    run_with(
        Faults {
            burst: Some(burst),
            ..Faults::default()
        },
        7,
    );
}

#[test]
fn sim_faults_everything_at_once() {
    let faults = Faults {
        loss: 0.03,
        duplicate: 0.02,
        reorder: 0.05,
        reorder_delay: Duration::from_micros(100),
        corrupt: 0.01,
        ..Faults::default()
    };
    run_with(faults, 8);
}

#[test]
fn sim_strays_are_forwarded_when_the_hash_is_unknown() {
    // The client's stacks don't know the NIC's hash: replies to its active
    // opens often land on another core and must be forwarded there.
    let mut scenario = Scenario::small();
    scenario.client.hash_known = false;
    scenario.client.cores = 4;
    let mut setup = build(&scenario).unwrap();
    setup.start().unwrap();
    setup.run_until(
        Instant::ZERO + Duration::from_millis(100),
        None,
        &mut |_| {},
    );
    assert!(setup.drain(Duration::from_secs(60)));
    let stats = setup.client_stats();
    let report = setup.report(&scenario);
    assert!(stats.ok > 100, "{}", report.json());
    assert_eq!(stats.failed(), 0, "{}", report.json());
    let client = setup.world.host(setup.client);
    assert!(
        client.tcp_counters().stray_forwarded > 0,
        "strays were forwarded"
    );
    assert_eq!(
        client.tcp_counters().resets_sent,
        0,
        "no stray answered with a reset"
    );
}

/// Bit flips in ARP payloads only (no checksum catches them): a host may
/// learn a wrong MAC (or a wrong address), and neighbour reachability
/// must find and replace it. Every request still completes, within
/// seconds rather than the ARP entry's 60 s lifetime.
#[test]
fn sim_faults_arp_corruption_recovers_by_neighbour_reachability() {
    let mut recovered_from_a_wrong_mac = 0;
    // Seed 29 teaches the client a wrong MAC (found by two unicast probe
    // rounds); the others lose ARP frames to the flips or learn nothing.
    for seed in 1..=30 {
        let faults = Faults {
            corrupt: 0.5,
            corrupt_scope: CorruptScope::ArpOnly,
            ..Faults::default()
        };
        // Recovery takes a retransmission timeout, three unicast probes a
        // second apart and a broadcast resolution: seconds, not 60.
        let ((setup, _), _, failed) = run_checked(faults, seed, Duration::from_secs(20));
        assert_eq!(failed, 0, "seed {seed}");
        recovered_from_a_wrong_mac += [setup.server, setup.client]
            .iter()
            .map(|&h| setup.world.host(h).iface_counters().arp_neighbors_failed)
            .sum::<u64>();
    }
    // Some seeds taught a host a wrong MAC, and it was found by probing.
    assert!(recovered_from_a_wrong_mac > 0);
}

/// With the receiving NIC's FCS check catching every corrupted frame
/// (`fcs_drop = 1`), corruption is plain loss: no damaged frame reaches a
/// host, so its checksum drops stay at zero, and TCP repairs the losses.
#[test]
fn sim_faults_fcs_drops_corrupted_frames_before_the_host() {
    let faults = Faults {
        corrupt: 0.02,
        fcs_drop: 1.0,
        ..Faults::default()
    };
    let ((setup, report), _, failed) = run_checked(faults, 9, Duration::from_secs(60));
    assert_eq!(failed, 0, "{}", report.json());
    let caught: u64 = report.per_link.iter().map(|l| l.fcs_dropped).sum();
    let delivered_damaged: u64 = report.per_link.iter().map(|l| l.corrupted).sum();
    assert!(caught > 0 && delivered_damaged == 0, "{}", report.json());
    for h in [setup.server, setup.client] {
        let host = setup.world.host(h);
        let (i, t) = (host.iface_counters(), host.tcp_counters());
        assert_eq!(i.drops(DropReason::Ipv4BadChecksum), 0, "{i:?}");
        assert_eq!(t.drops(DropReason::TcpBadChecksum), 0, "{t:?}");
    }
}
