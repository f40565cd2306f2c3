//! Bad input is normal input (issue #10): every malformed or hostile
//! command line, scenario file or capture is refused before anything runs
//! — exit code 2, one clear line on stderr naming what is wrong, no panic,
//! no report on stdout — including sizes past the documented upper bounds
//! (`rusty_sim::scenario::MAX_*`) and unwritable output paths.

use std::path::PathBuf;
use std::process::{Command, Output};

fn rusty_sim(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rusty-sim"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run rusty-sim")
}

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("rusty-sim-bad-inputs-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A scenario file with `text` (written once per case).
fn file(name: &str, text: &[u8]) -> String {
    let p = dir().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// `(what, arguments, a word stderr must contain)`.
type Case = (String, Vec<String>, &'static str);

fn cli(what: &str, args: &[&str], needle: &'static str) -> Case {
    (
        what.to_string(),
        args.iter().map(|s| s.to_string()).collect(),
        needle,
    )
}

fn toml(what: &str, text: &str, needle: &'static str) -> Case {
    let name = format!(
        "{}.toml",
        what.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    );
    (
        what.to_string(),
        vec!["run".into(), file(&name, text.as_bytes())],
        needle,
    )
}

fn cases() -> Vec<Case> {
    let mut v = vec![
        // The command line.
        cli("unknown flag", &["run", "--bogus"], "--bogus"),
        cli("unknown subcommand", &["fly"], "fly"),
        cli("conns zero", &["run", "small", "--conns", "0"], "conns"),
        cli(
            "conns huge",
            &["run", "small", "--conns", "1000000000"],
            "conns",
        ),
        cli(
            "conns negative",
            &["run", "small", "--conns", "-5"],
            "conns",
        ),
        cli("conns text", &["run", "small", "--conns", "many"], "conns"),
        cli(
            "workers zero",
            &["run", "small", "--workers", "0"],
            "workers",
        ),
        cli(
            "workers 65",
            &["run", "small", "--workers", "65"],
            "workers",
        ),
        cli(
            "duration zero",
            &["run", "small", "--duration", "0"],
            "duration",
        ),
        cli(
            "duration negative",
            &["run", "small", "--duration", "-1"],
            "duration",
        ),
        cli(
            "duration NaN",
            &["run", "small", "--duration", "NaN"],
            "duration",
        ),
        cli(
            "duration inf",
            &["run", "small", "--duration", "inf"],
            "duration",
        ),
        cli(
            "duration huge",
            &["run", "small", "--duration", "1e12"],
            "duration",
        ),
        cli(
            "requests zero",
            &["run", "small", "--requests", "0"],
            "requests",
        ),
        cli(
            "requests huge",
            &["run", "small", "--requests", "99999999999999"],
            "requests",
        ),
        cli("mtu small", &["run", "small", "--mtu", "67"], "mtu"),
        // `rusty-sim scale`.
        cli(
            "scale workers zero",
            &["scale", "--workers", "0"],
            "workers",
        ),
        cli(
            "scale workers 65",
            &["scale", "--workers", "1..65"],
            "workers",
        ),
        cli(
            "scale workers empty range",
            &["scale", "--workers", "4..2"],
            "workers",
        ),
        cli(
            "scale workers text",
            &["scale", "--workers", "1,x"],
            "workers",
        ),
        cli(
            "scale workers empty item",
            &["scale", "--workers", "1,,2"],
            "workers",
        ),
        cli("scale mtu 67", &["scale", "--mtu", "67,1500"], "mtu"),
        cli("scale mtu jumbo", &["scale", "--mtu", "9001"], "mtu"),
        cli("scale profile", &["scale", "--profile", "vax"], "tilegx36"),
        cli("scale ports five", &["scale", "--ports", "5"], "ports"),
        cli("scale shard", &["scale", "--shard", "2/2"], "shard"),
        cli("scale shard syntax", &["scale", "--shard", "1"], "shard"),
        cli("scale duration", &["scale", "--duration", "0"], "duration"),
        cli("scale warmup", &["scale", "--warmup", "-1"], "warmup"),
        cli(
            "scale too long",
            &["scale", "--warmup", "3000", "--duration", "3000"],
            "at most",
        ),
        cli("scale jobs", &["scale", "--jobs", "0"], "jobs"),
        cli("scale conns", &["scale", "--conns", "0"], "conns"),
        cli(
            "scale csv directory",
            &["scale", "--csv", "/no/such/dir/x.csv"],
            "/no/such/dir",
        ),
        cli(
            "scale plot directory",
            &["scale", "--plot", "/no/such/dir/x.svg"],
            "/no/such/dir",
        ),
        cli("mtu big", &["run", "small", "--mtu", "65000"], "mtu"),
        cli("loss above 1", &["run", "small", "--loss", "1.5"], "loss"),
        cli("loss negative", &["run", "small", "--loss", "-0.1"], "loss"),
        cli("loss NaN", &["run", "small", "--loss", "NaN"], "loss"),
        cli("dup above 1", &["run", "small", "--dup", "2"], "dup"),
        cli(
            "reorder text",
            &["run", "small", "--reorder", "often"],
            "reorder",
        ),
        cli(
            "corrupt above 1",
            &["run", "small", "--corrupt", "7"],
            "corrupt",
        ),
        cli("seed negative", &["run", "small", "--seed", "-1"], "seed"),
        cli("seed text", &["run", "small", "--seed", "abc"], "seed"),
        cli(
            "client unknown",
            &["run", "small", "--client", "lwip"],
            "client",
        ),
        cli("nic unknown", &["run", "small", "--nic", "e1000"], "nic"),
        cli("unknown scenario", &["run", "nosuch"], "nosuch"),
        cli(
            "missing scenario file",
            &["run", "/nonexistent/x.toml"],
            "x.toml",
        ),
        cli(
            "pcap into a missing directory",
            &["run", "small", "--pcap", "/nonexistent/dir/x.pcap"],
            "x.pcap",
        ),
        cli(
            "pcap into a directory",
            &["run", "small", "--pcap", "/tmp"],
            "/tmp",
        ),
        cli(
            "json and determinism",
            &["run", "small", "--json", "--check-determinism"],
            "json",
        ),
        cli("bench conns zero", &["bench", "--conns", "0"], "conns"),
        cli(
            "bench conns huge",
            &["bench", "--conns", "1000000000"],
            "conns",
        ),
        cli(
            "bench seconds NaN",
            &["bench", "--seconds", "NaN"],
            "seconds",
        ),
        cli(
            "bench seconds negative",
            &["bench", "--seconds", "-3"],
            "seconds",
        ),
        cli(
            "bench requests zero",
            &["bench", "--requests", "0"],
            "requests",
        ),
        cli("bench stack unknown", &["bench", "--stack", "bsd"], "bsd"),
        cli("ping count zero", &["ping", "--count", "0"], "count"),
        cli("ping size huge", &["ping", "--size", "100000"], "size"),
        cli(
            "ping lose-first huge",
            &["ping", "--lose-first", "1000000"],
            "lose-first",
        ),
        cli("pages without out", &["pages"], "--out"),
        cli("replay without a capture", &["replay"], "PCAP"),
        cli(
            "replay of a missing capture",
            &["replay", "/nonexistent.pcap"],
            "nonexistent",
        ),
        cli(
            "replay mode unknown",
            &["replay", "x.pcap", "--mode", "fast"],
            "fast",
        ),
    ];
    v.extend([
        // Scenario files.
        toml("broken toml", "[server\nworkers = 2\n", "line"),
        toml("unknown key", "colour = \"blue\"\n", "colour"),
        toml("unknown nested key", "[server]\nworkerz = 2\n", "workerz"),
        toml("wrong type", "[server]\nworkers = \"two\"\n", "workers"),
        toml("negative workers", "[server]\nworkers = -2\n", "workers"),
        toml("zero conns", "[client]\nconns = 0\n", "client.conns"),
        toml(
            "huge conns",
            "[client]\nconns = 1000000000\n",
            "client.conns",
        ),
        toml("huge duration", "duration = 1e12\n", "duration"),
        toml("NaN duration", "duration = nan\n", "duration"),
        toml("negative duration", "duration = -1.0\n", "duration"),
        toml("zero max_requests", "max_requests = 0\n", "max_requests"),
        toml(
            "huge max_requests",
            "max_requests = 9000000000000\n",
            "max_requests",
        ),
        toml(
            "huge page count",
            "[client]\npages = { count = 10000000, bytes = 100 }\n",
            "client.pages",
        ),
        toml(
            "huge page bytes",
            "[client]\npages = { count = 10, bytes = 4000000000 }\n",
            "client.pages",
        ),
        toml(
            "huge page set",
            "[client]\npages = { count = 100000, bytes = 16000000 }\n",
            "client.pages",
        ),
        toml(
            "zero page bytes",
            "[client]\npages = { count = 10, bytes = 0 }\n",
            "client.pages",
        ),
        toml(
            "huge bandwidth",
            "[links]\nbandwidth_gbps = 1e9\n",
            "links.bandwidth_gbps",
        ),
        toml(
            "zero bandwidth",
            "[links]\nbandwidth_gbps = 0.0\n",
            "links.bandwidth_gbps",
        ),
        toml("huge delay", "[links]\ndelay_us = 1e15\n", "links.delay_us"),
        toml(
            "negative delay",
            "[links]\ndelay_us = -5.0\n",
            "links.delay_us",
        ),
        toml("huge queue", "[links]\nqueue_kb = 4000000000\n", "queue_kb"),
        toml(
            "loss above 1",
            "[links.faults]\nloss = 1.5\n",
            "links.faults.loss",
        ),
        toml(
            "loss NaN",
            "[links.faults]\nloss = nan\n",
            "links.faults.loss",
        ),
        toml(
            "fcs_drop above 1",
            "[links.faults]\nfcs_drop = 3.0\n",
            "fcs_drop",
        ),
        toml(
            "scope unknown",
            "[links.faults]\ncorrupt_scope = \"tcp\"\n",
            "corrupt_scope",
        ),
        toml(
            "reorder delay without unit",
            "[links.faults]\nreorder_delay = \"5\"\n",
            "unit",
        ),
        toml(
            "reorder delay huge",
            "[links.faults]\nreorder_delay = \"100000s\"\n",
            "reorder_delay",
        ),
        toml(
            "sub-nanosecond flap",
            "[links.faults.flap]\nperiod = 1e-12\ndown_for = 0.0\n",
            "flap.period",
        ),
        toml(
            "flap down longer than period",
            "[links.faults.flap]\nperiod = \"1ms\"\ndown_for = \"2ms\"\n",
            "flap.down_for",
        ),
        toml(
            "window backwards",
            "[links.faults]\ndown = [{ from = 2.0, until = 1.0 }]\n",
            "down[0]",
        ),
        toml(
            "burst probability",
            "[links.faults.burst]\np_good_to_bad = 2.0\np_bad_to_good = 0.5\n",
            "burst",
        ),
        toml("mtu small", "[server]\nmtu = 10\n", "server.mtu"),
        toml(
            "initial window huge",
            "[server]\ninitial_window = 4000000000\n",
            "initial_window",
        ),
        toml(
            "timer huge",
            "[server.tcp]\nmin_rto_ms = 99999999999\n",
            "min_rto_ms",
        ),
        toml(
            "cost model unknown",
            "[server]\ncost_model = \"vax\"\n",
            "vax",
        ),
        toml(
            "echo message huge",
            "[workload]\nkind = \"echo\"\nmessage_bytes = 4000000000\n",
            "message_bytes",
        ),
        toml("workload unknown", "[workload]\nkind = \"ftp\"\n", "ftp"),
        toml(
            "pcap link out of range",
            "[pcap]\npath = \"x.pcap\"\nlink = 7\n",
            "pcap.link",
        ),
        toml("pcap path empty", "[pcap]\npath = \"\"\n", "pcap.path"),
        toml(
            "pcap unwritable",
            "[pcap]\npath = \"/nonexistent/d/x.pcap\"\n",
            "x.pcap",
        ),
        toml("ports five", "[server]\nports = 5\n", "ports"),
        toml(
            "attack rate negative",
            "[attacker]\nrst_pps = -5\n",
            "attacker.rst_pps",
        ),
        toml(
            "attack rate huge",
            "[attacker]\nsyn_flood_pps = 1e15\n",
            "attacker.syn_flood_pps",
        ),
        toml("attack rate NaN", "[attacker]\ndata_pps = nan\n", "attacker.data_pps"),
        toml("attack unknown key", "[attacker]\nsmurf_pps = 1\n", "smurf_pps"),
        toml(
            "attack spoofed sources",
            "[attacker]\nspoofed_sources = 100000\n",
            "attacker.spoofed_sources",
        ),
        toml(
            "stall of a missing core",
            "[server]\nworkers = 2\n[server.faults]\nstalls = [{ core = 9, from = \"1ms\", until = \"2ms\" }]\n",
            "server.faults.stalls",
        ),
        toml(
            "pool squeeze share",
            "[server.faults]\npool_squeeze = [{ from = \"1ms\", until = \"2ms\", share = 3 }]\n",
            "server.faults.pool_squeeze",
        ),
        toml(
            "alloc failure probability",
            "[server.faults]\nalloc_tx_fail = 1.5\n",
            "server.faults.alloc_tx_fail",
        ),
    ]);
    // Binary junk and odd encodings.
    for (name, bytes) in [
        ("junk zeros", vec![0u8; 64]),
        ("junk high bytes", (0..=255u8).rev().collect::<Vec<_>>()),
        ("junk utf16", "w\0o\0r\0k\0e\0r\0s\0".as_bytes().to_vec()),
        ("junk bom and nul", b"\xef\xbb\xbf\0\0[server]\n".to_vec()),
    ] {
        v.push((
            name.to_string(),
            vec![
                "run".into(),
                file(&format!("{}.toml", name.replace(' ', "_")), &bytes),
            ],
            ".toml",
        ));
    }
    v
}

#[test]
fn every_bad_input_exits_2_with_a_clear_message_and_no_panic() {
    let cases = cases();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut failures = Vec::new();
    for (what, args, needle) in &cases {
        let out = rusty_sim(args);
        let err = String::from_utf8_lossy(&out.stderr);
        let ok = out.status.code() == Some(2)
            && !err.contains("panicked")
            && err.contains(needle)
            && out.stdout.is_empty();
        if !ok {
            failures.push(format!(
                "{what} ({args:?}): exit {:?}, stderr {err:?}, stdout {} bytes",
                out.status.code(),
                out.stdout.len()
            ));
        }
    }
    let _ = std::fs::remove_dir_all(dir());
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
