//! The emulated mPIPE as the simulator's NIC (`--nic mpipe`, feature
//! `mpipe`): the server's traffic runs through the stack's hardware
//! backend (`rusty_stack::nic::mpipe`) over mpipe-emu. For the same seed
//! a request-bounded run completes the same requests and bytes through
//! both NICs, clean and lossy, with the Rusty and the smoltcp client; a
//! scenario file can choose the NIC; and the binary takes `--nic mpipe`.

use std::process::Command;

use rusty_sim::cli::RunOptions;
use rusty_sim::run::engine;
use rusty_sim::run::report::Report;
use rusty_sim::scenario::{ClientKind, NicKind, PageSpec, Scenario};

fn run(scenario: &Scenario) -> Report {
    let options = RunOptions {
        pcap: None,
        json: true,
        trace: rusty_sim::kernel::determinism::TraceConfig::default(),
    };
    scenario.validate().expect("valid scenario");
    engine::run(scenario, &options, &mut |_| {}).expect("runs")
}

fn both(mut scenario: Scenario, requests: u64) -> (Report, Report) {
    scenario.max_requests = Some(requests);
    scenario.duration = 10.0;
    let sim = run(&scenario);
    scenario.server.nic = NicKind::Mpipe;
    let mpipe = run(&scenario);
    (sim, mpipe)
}

fn assert_same_work(sim: &Report, mpipe: &Report, requests: u64) {
    // The client starts exactly N requests (each client application its
    // share, the k-th request of an application asking for its k-th page),
    // and the run ends when all N are done: both NICs carry the same
    // requests and the same bytes, every byte verified, whatever their
    // timing.
    for r in [sim, mpipe] {
        assert_eq!(r.requests_ok, requests, "{}\n{}", sim.json(), mpipe.json());
        assert_eq!((r.requests_failed, r.bytes_corrupt), (0, 0));
    }
    assert_eq!(mpipe.bytes_ok, sim.bytes_ok);
    assert!(sim.bytes_ok > 0);
}

#[test]
fn both_nics_complete_the_same_requests_and_bytes() {
    let (sim, mpipe) = both(Scenario::small(), 400);
    assert_same_work(&sim, &mpipe, 400);
    // The mPIPE run really is another run (its timing differs slightly:
    // ARP replies reach another worker, the rings differ).
    assert!(mpipe.per_core.iter().all(|c| c.rx_frames > 0));
}

#[test]
fn both_nics_fetch_the_same_pages_of_the_thesis_set() {
    // The thesis's 500 pages differ in size, so equal byte counts mean the
    // same pages were fetched, not only as many.
    let mut scenario = Scenario::small();
    scenario.client.pages = PageSpec::Thesis;
    let (sim, mpipe) = both(scenario.clone(), 300);
    assert_same_work(&sim, &mpipe, 300);
    // Another seed draws other pages: the byte count tells them apart.
    scenario.seed += 1;
    let (other, _) = both(scenario, 300);
    assert_eq!(other.requests_ok, 300);
    assert_ne!(other.bytes_ok, sim.bytes_ok);
}

#[test]
fn both_nics_complete_the_requests_over_a_lossy_link() {
    // Over a lossy link the two runs' timing differs (a core's batch, the
    // worker an ARP reply reaches), so losses are recovered at other
    // instants; both still complete exactly the N requests, intact, with
    // the same bytes.
    for seed in [1, 4] {
        let mut scenario = Scenario::small_lossy();
        scenario.seed = seed;
        let (sim, mpipe) = both(scenario, 200);
        assert_same_work(&sim, &mpipe, 200);
        for r in [&sim, &mpipe] {
            assert_eq!((r.requests_failed, r.bytes_corrupt), (0, 0));
            assert!(r.retransmits > 0, "the link loses frames");
        }
    }
}

#[test]
fn both_nics_serve_a_smoltcp_client_alike() {
    let mut scenario = Scenario::small();
    scenario.client.kind = ClientKind::Smoltcp;
    let (sim, mpipe) = both(scenario, 150);
    assert_same_work(&sim, &mpipe, 150);
}

#[test]
fn a_scenario_file_chooses_the_mpipe() {
    let text =
        "seed = 5\nduration = 1.0\nmax_requests = 50\n\n[server]\nworkers = 2\nnic = \"mpipe\"\n";
    let scenario = Scenario::from_toml(text).expect("parses");
    assert_eq!(scenario.server.nic, NicKind::Mpipe);
    assert_eq!(run(&scenario).requests_ok, 50);
    let mut too_many = scenario.clone();
    too_many.server.workers = 30;
    assert!(too_many.validate().is_err(), "the mPIPE has 24 eDMA rings");
}

#[test]
fn the_binary_takes_nic_mpipe() {
    let out = Command::new(env!("CARGO_BIN_EXE_rusty-sim"))
        .args([
            "run",
            "small",
            "--requests",
            "100",
            "--nic",
            "mpipe",
            "--json",
        ])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["requests_ok"], 100);
}
