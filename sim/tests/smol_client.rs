//! The smoltcp client host against Rusty's server, through the engine.

use rusty_sim::cli::RunOptions;
use rusty_sim::run::engine;
use rusty_sim::run::report::Report;
use rusty_sim::scenario::{ClientKind, Ports, Scenario, Workload};

fn run(scenario: &Scenario) -> Report {
    engine::run(scenario, &RunOptions::default(), &mut |_| {}).expect("the scenario runs")
}

fn smol(mut scenario: Scenario) -> Scenario {
    scenario.client.kind = ClientKind::Smoltcp;
    scenario
}

fn json(report: &Report) -> String {
    serde_json::to_string(&report.without_wall_clock()).expect("reports serialize")
}

#[test]
fn small_http_run_verifies_every_request() {
    let report = run(&smol(Scenario::small()));
    assert!(report.requests_ok > 100, "{report:?}");
    assert_eq!(report.requests_failed, 0, "{report:?}");
    assert_eq!(report.bytes_corrupt, 0);
    assert_eq!(report.bytes_ok, report.requests_ok * 8192);
    assert!(report.latency_p50_ms.is_some());
    // The client is not the bottleneck.
    assert!(report.client_busy_frac < 0.5, "{}", report.client_busy_frac);
}

#[test]
fn lossy_links_never_yield_a_corrupt_byte() {
    for seed in [1, 2, 3] {
        let mut scenario = smol(Scenario::small_lossy());
        scenario.seed = seed;
        let report = run(&scenario);
        assert!(report.requests_ok > 0, "seed {seed}: {report:?}");
        assert_eq!(report.bytes_corrupt, 0, "seed {seed}");
        // Every request is ok, failed, or still going; none is lost track of.
        assert!(report.requests_in_flight <= u64::from(scenario.client.conns));
        assert!(
            report.drops.values().sum::<u64>() > 0,
            "seed {seed}: faults happen"
        );
    }
}

#[test]
fn same_seed_same_report() {
    let scenario = smol(Scenario::small_lossy());
    let a = run(&scenario);
    let b = run(&scenario);
    assert_eq!(json(&a), json(&b));
    let mut other = scenario.clone();
    other.seed = 99;
    assert_ne!(json(&a), json(&run(&other)));
}

#[test]
fn two_links_and_odd_core_counts() {
    // Three client cores share each port's address: segments are steered
    // by local port and every core resolves the server by ARP itself.
    let mut scenario = smol(Scenario::small());
    scenario.server.ports = Ports::Count(2);
    scenario.client.cores = 3;
    scenario.client.conns = 31;
    scenario.duration = 0.1;
    let report = run(&scenario);
    assert_eq!(report.per_link.len(), 2);
    assert!(report.per_link.iter().all(|l| l.frames > 100), "{report:?}");
    assert!(report.requests_ok > 100, "{report:?}");
    assert_eq!(report.requests_failed, 0);
    assert_eq!(report.bytes_corrupt, 0);
}

#[test]
fn echo_and_bulk_workloads() {
    let echo = run(&smol(Scenario::small_echo()));
    assert!(echo.requests_ok > 100, "{echo:?}");
    assert_eq!(echo.requests_failed, 0);
    assert_eq!(echo.bytes_corrupt, 0);
    assert_eq!(echo.bytes_ok, echo.requests_ok * 64);

    let mut bulk = smol(Scenario::small());
    bulk.workload = Workload::Bulk { bytes: 300_000 };
    bulk.client.conns = 4;
    bulk.duration = 0.05;
    let report = run(&bulk);
    assert!(report.requests_ok >= 4, "{report:?}");
    assert_eq!(report.requests_failed, 0);
    assert_eq!(report.bytes_corrupt, 0);
}

#[test]
fn request_limit_stops_the_run() {
    let mut scenario = smol(Scenario::small());
    scenario.max_requests = Some(50);
    let report = run(&scenario);
    assert!(report.requests_ok >= 50, "{report:?}");
    assert!(report.virtual_s < scenario.duration);
}
