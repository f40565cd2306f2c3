//! Determinism: the same scenario and seed give a byte-identical pcap and an
//! identical report (wall-clock fields aside), within one process and across
//! two processes; another seed gives other bytes.

use std::path::Path;
use std::process::Command;

use rusty_sim::cli::RunOptions;
use rusty_sim::engine;
use rusty_sim::scenario::Scenario;

fn lossy() -> Scenario {
    let mut s = Scenario::small_lossy();
    s.duration = 0.05;
    s
}

fn run_in_process(scenario: &Scenario, pcap: &Path) -> (String, Vec<u8>) {
    let options = RunOptions {
        pcap: Some(pcap.to_path_buf()),
        json: true,
    };
    let report = engine::run(scenario, &options, &mut |_| {}).expect("runs");
    (
        report.without_wall_clock().json(),
        std::fs::read(pcap).expect("pcap written"),
    )
}

#[test]
fn same_seed_same_bytes_in_one_process() {
    let dir = std::env::temp_dir().join(format!("rusty-det-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = lossy();
    let (json_a, pcap_a) = run_in_process(&scenario, &dir.join("a.pcap"));
    let (json_b, pcap_b) = run_in_process(&scenario, &dir.join("b.pcap"));
    assert_eq!(json_a, json_b);
    assert!(pcap_a.len() > 1000, "a real capture");
    assert!(pcap_a == pcap_b, "byte-identical captures");
    let mut other = scenario.clone();
    other.seed += 1;
    let (json_c, pcap_c) = run_in_process(&other, &dir.join("c.pcap"));
    assert_ne!(json_a, json_c);
    assert!(pcap_a != pcap_c, "another seed, other bytes");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The JSON report with wall-clock fields removed.
fn without_wall_clock(json: &str) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(json.trim()).expect("one JSON object");
    let map = v.as_object_mut().expect("an object");
    map.remove("wall_s");
    map.remove("speed");
    v
}

#[test]
fn same_seed_same_bytes_in_two_processes() {
    let dir = std::env::temp_dir().join(format!("rusty-det2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |name: &str| {
        let pcap = dir.join(name);
        let out = Command::new(env!("CARGO_BIN_EXE_rusty-sim"))
            .args([
                "run",
                "small-lossy",
                "--duration",
                "0.05",
                "--seed",
                "9",
                "--json",
                "--pcap",
            ])
            .arg(&pcap)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            without_wall_clock(&String::from_utf8_lossy(&out.stdout)),
            std::fs::read(&pcap).unwrap(),
        )
    };
    let (a, pa) = run("a.pcap");
    let (b, pb) = run("b.pcap");
    assert_eq!(a, b);
    assert!(pa == pb, "byte-identical captures across processes");
    assert_eq!(a["seed"], 9);
    assert!(a["pcap_sha256"].as_str().is_some_and(|h| h.len() == 64));
    assert!(a["requests_ok"].as_u64().unwrap() > 0);
    let _ = std::fs::remove_dir_all(&dir);
}
