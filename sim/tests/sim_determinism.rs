//! Determinism: the same scenario and seed give a byte-identical pcap and an
//! identical report (wall-clock fields aside), within one process and across
//! two processes; another seed gives other bytes. The determinism trace
//! gives equal checkpoints for equal runs and names the first differing
//! event of runs that differ.

use std::path::Path;
use std::process::Command;

use rusty_sim::cli::RunOptions;
use rusty_sim::kernel::determinism::{
    self, first_difference, first_divergent_window, TraceConfig, TraceEvent, TraceKind,
    TraceSummary, Twin, Verdict,
};
use rusty_sim::run::engine;
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
        ..RunOptions::default()
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
                "--trace",
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
    assert!(a["determinism"]["events"].as_u64().unwrap() > 1000, "{a}");
    assert_eq!(a["determinism"]["hash"].as_str().map(str::len), Some(16));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The determinism trace of a run of `scenario` kept as `trace` says.
fn traced(scenario: &Scenario, trace: TraceConfig) -> TraceSummary {
    let options = RunOptions {
        trace,
        ..RunOptions::default()
    };
    let report = engine::run(scenario, &options, &mut |_| {}).expect("runs");
    report.determinism.expect("tracing is on")
}

fn every(interval: u64) -> TraceConfig {
    TraceConfig::every(interval)
}

/// Every event of a run of `scenario`.
fn all_events(scenario: &Scenario) -> Vec<TraceEvent> {
    let config = TraceConfig {
        record: Some(0..u64::MAX),
        ..every(256)
    };
    traced(scenario, config).records
}

#[test]
fn same_seed_same_checkpoints() {
    let scenario = lossy();
    let (a, b) = (traced(&scenario, every(256)), traced(&scenario, every(256)));
    assert!(
        a.checkpoints.len() > 20,
        "{} checkpoints",
        a.checkpoints.len()
    );
    assert_eq!(a, b);
    assert_eq!(first_divergent_window(&a, &b), None);
    let kinds: Vec<TraceKind> = all_events(&scenario).iter().map(|e| e.kind).collect();
    for kind in [TraceKind::Wake, TraceKind::Send, TraceKind::Arrive] {
        assert!(kinds.contains(&kind), "{kind} events are traced");
    }
}

#[test]
fn a_perturbed_frame_is_named_as_the_first_divergence() {
    let scenario = lossy();
    let events = all_events(&scenario);
    // A frame arriving at the server a third of the way through the run.
    let target = *events
        .iter()
        .filter(|e| e.kind == TraceKind::Arrive && e.host == 0)
        .nth(events.len() / 9)
        .expect("arrivals");
    let verdict = determinism::check(256, |twin, config| {
        let mut config = config.clone();
        if twin == Twin::Second {
            config.perturb = Some(target.index);
        }
        Ok::<_, String>(traced(&scenario, config))
    })
    .unwrap();
    let Verdict::Diverged { window, first } = &verdict else {
        panic!("the perturbed run differs: {verdict}")
    };
    assert!(
        (window.from..window.until).contains(&target.index),
        "{window:?}"
    );
    let d = first.expect("the divergence reproduces");
    assert_eq!(d.index, target.index, "{verdict}");
    assert_eq!(d.first, Some(target));
    let second = d.second.expect("the perturbed run has the event");
    assert_eq!(
        (second.at, second.kind, second.host, second.unit, second.len),
        (target.at, target.kind, target.host, target.unit, target.len)
    );
    assert_ne!(second.digest, target.digest, "only the bytes differ");
    let text = verdict.to_string();
    assert!(
        text.contains(&format!("first divergence at event {}", target.index)),
        "{text}"
    );
}

#[test]
fn another_seed_diverges_where_a_full_comparison_says() {
    let scenario = lossy();
    let mut other = scenario.clone();
    other.seed += 1;
    let expected = first_difference(&all_events(&scenario), &all_events(&other))
        .expect("another seed, other events");
    let verdict = determinism::check(256, |twin, config| {
        let s = if twin == Twin::First {
            &scenario
        } else {
            &other
        };
        Ok::<_, String>(traced(s, config.clone()))
    })
    .unwrap();
    let Verdict::Diverged { first, .. } = verdict else {
        panic!("{verdict}")
    };
    assert_eq!(first, Some(expected));
}
