//! `rusty-sim bench` through the binary (which installs the counting
//! allocator): both stacks complete their requests with every byte
//! verified, the JSON report has its fields, Rusty allocates nothing in
//! the measured phase, a run replays exactly in everything but wall-clock
//! figures, and bad arguments exit 2.
//!
//! Nothing here asserts on timing: wall and CPU time only need to be
//! there.

use std::process::{Command, Output};

use serde_json::Value;

fn rusty_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rusty-sim"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run rusty-sim")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs `bench ARGS --json`, expects success and returns the report.
fn bench_json(args: &[&str]) -> Value {
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    all.push("--json");
    let o = rusty_sim(&all);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1, "one JSON line: {out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The fields the bench promises, with sane values, for a run of
/// `requests` requests over `conns` connections of `stack`.
fn check_report(v: &Value, stack: &str, conns: u64, requests: u64) {
    let f = |k: &str| {
        v[k].as_f64()
            .unwrap_or_else(|| panic!("{k} is not a number: {v}"))
    };
    let u = |k: &str| {
        v[k].as_u64()
            .unwrap_or_else(|| panic!("{k} is not a count: {v}"))
    };
    assert_eq!(v["stack"], stack, "{v}");
    assert_eq!(u("conns"), conns, "{v}");
    assert!(u("requests") >= requests, "{v}");
    assert_eq!(u("requests_ok"), u("requests"), "{v}");
    assert_eq!(u("requests_failed"), 0, "{v}");
    assert_eq!(u("bytes_corrupt"), 0, "{v}");
    assert_eq!(u("link_drops"), 0, "{v}");
    assert!(u("warmup_requests") >= conns, "{v}");
    for k in ["wall_s", "cpu_s", "rps", "gbps", "us_cpu_per_req"] {
        let x = f(k);
        assert!(x.is_finite() && x > 0.0, "{k} = {x}: {v}");
    }
    // Pages are 3.5 KB to 1.1 MB: a handshake, a request, at least three
    // segments of response and a close; far fewer than a thousand frames.
    let frames = f("frames_per_req");
    assert!(frames > 6.0 && frames < 1000.0, "{v}");
    assert_eq!(
        u("frames"),
        (frames * u("requests") as f64).round() as u64,
        "{v}"
    );
    let bytes = u("bytes");
    assert!(bytes >= 3_500 * u("requests"), "{v}");
    let allocs = f("allocs_per_req");
    assert!(allocs >= 0.0, "{v}");
}

#[test]
fn rusty_verifies_every_byte_without_allocating() {
    for conns in [1u64, 100] {
        let v = bench_json(&[
            "--stack",
            "rusty",
            "--conns",
            &conns.to_string(),
            "--requests",
            "300",
        ]);
        check_report(&v, "rusty", conns, 300);
        assert_eq!(v["allocs"], 0, "Rusty allocated in the measured phase: {v}");
        assert_eq!(v["allocs_per_req"], 0.0, "{v}");
        assert_eq!(v["counters"]["server_retransmits"], 0, "{v}");
        assert_eq!(v["counters"]["client_retransmits"], 0, "{v}");
    }
}

#[test]
fn smoltcp_verifies_every_byte() {
    for conns in [1u64, 100] {
        let v = bench_json(&[
            "--stack",
            "smoltcp",
            "--conns",
            &conns.to_string(),
            "--requests",
            "300",
        ]);
        check_report(&v, "smoltcp", conns, 300);
        assert_eq!(v["counters"]["server_ok"], v["counters"]["client_started"]);
    }
}

/// The report fields a run with the same arguments and seed repeats
/// exactly: everything but the wall-clock figures.
const REPEATED_FIELDS: [&str; 8] = [
    "requests",
    "requests_ok",
    "bytes",
    "frames",
    "warmup_requests",
    "virtual_s",
    "allocs",
    "counters",
];

#[test]
fn a_run_replays_exactly_but_for_the_clock() {
    for stack in ["rusty", "smoltcp"] {
        let args = ["--stack", stack, "--conns", "20", "--requests", "100"];
        let (a, b) = (bench_json(&args), bench_json(&args));
        for k in REPEATED_FIELDS {
            assert_eq!(a[k], b[k], "{stack} {k}: {a} vs {b}");
        }
    }
}

#[test]
fn bodies_by_reference_and_copied_put_the_same_bytes_on_the_link() {
    // Sending page bodies by reference changes where the server's frames
    // live, not what they say: the same seed makes the same requests,
    // frames and counters either way, every byte verified.
    let args = ["--stack", "rusty", "--conns", "20", "--requests", "200"];
    let by_reference = bench_json(&args);
    let mut copied_args = args.to_vec();
    copied_args.push("--copy-bodies");
    let copied = bench_json(&copied_args);
    check_report(&by_reference, "rusty", 20, 200);
    check_report(&copied, "rusty", 20, 200);
    assert_eq!(by_reference["bodies_by_reference"], true, "{by_reference}");
    assert_eq!(copied["bodies_by_reference"], false, "{copied}");
    for k in REPEATED_FIELDS {
        assert_eq!(
            by_reference[k], copied[k],
            "{k}: {by_reference} vs {copied}"
        );
    }
    let smoltcp = bench_json(&["--stack", "smoltcp", "--requests", "20"]);
    assert_eq!(smoltcp["bodies_by_reference"], false, "{smoltcp}");
}

#[test]
fn human_report_and_seconds() {
    let o = rusty_sim(&["bench", "--conns", "2", "--seconds", "0.05"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    for needle in [
        "stack        rusty",
        "bodies       sent by reference",
        "requests/s",
        "Gbit/s",
        "frames",
        "allocations",
    ] {
        assert!(out.contains(needle), "{needle:?} missing from:\n{out}");
    }
    let v = bench_json(&["--stack", "smoltcp", "--seconds", "0.05"]);
    assert_eq!(v["requests_failed"], 0, "{v}");
    assert_eq!(v["bytes_corrupt"], 0, "{v}");
}

/// Asserts exit code 2, no panic, no report, and that stderr contains
/// every needle.
fn assert_usage_error(args: &[&str], needles: &[&str]) {
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    let o = rusty_sim(&all);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: stderr:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(stdout(&o).is_empty(), "{args:?}: {}", stdout(&o));
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} missing from:\n{err}");
    }
}

#[test]
fn bad_arguments_exit_2() {
    assert_usage_error(&["--conns", "0"], &["--conns", "0"]);
    assert_usage_error(&["--conns", "100001"], &["--conns", "100001"]);
    assert_usage_error(&["--conns", "-3"], &["--conns"]);
    assert_usage_error(&["--conns", "many"], &["--conns", "many"]);
    assert_usage_error(&["--conns", "60001"], &["--conns 60001", "at most 60000"]);
    assert_usage_error(
        &["--requests", "10", "--seconds", "1"],
        &["--requests", "--seconds", "cannot be used with"],
    );
    assert_usage_error(&["--requests", "0"], &["--requests", "0"]);
    assert_usage_error(&["--seconds", "-1"], &["--seconds", "above 0, got -1"]);
    assert_usage_error(&["--seconds", "0"], &["--seconds", "above 0"]);
    assert_usage_error(&["--seconds", "NaN"], &["--seconds", "above 0, got NaN"]);
    assert_usage_error(&["--seconds", "inf"], &["--seconds", "above 0"]);
    assert_usage_error(&["--seconds", "soon"], &["--seconds", "soon"]);
    assert_usage_error(
        &["--stack", "linux"],
        &["--stack", "linux", "rusty", "smoltcp"],
    );
    assert_usage_error(
        &["--stack", "smoltcp", "--copy-bodies"],
        &["--copy-bodies", "--stack rusty", "smoltcp always copies"],
    );
    assert_usage_error(&["--frobnicate"], &["--frobnicate"]);
}
