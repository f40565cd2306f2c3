//! The `rusty-sim` binary: exit codes and messages for bad input, and the
//! subcommands that do not need the simulation engine.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

/// A fresh temporary directory for one test.
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rusty-sim-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/scenarios")
        .join(name)
}

/// Asserts exit code 2, no panic, and that stderr contains every needle.
fn assert_usage_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} missing from:\n{err}");
    }
}

#[test]
fn unknown_flag_exits_2() {
    assert_usage_error(&rusty_sim(&["run", "--frobnicate"]), &["--frobnicate"]);
    assert_usage_error(&rusty_sim(&["--frobnicate"]), &["--frobnicate"]);
    assert_usage_error(&rusty_sim(&["frobnicate"]), &["frobnicate"]);
}

#[test]
fn out_of_range_values_exit_2() {
    assert_usage_error(
        &rusty_sim(&["run", "--loss", "1.5"]),
        &["--loss", "probability between 0 and 1", "1.5"],
    );
    assert_usage_error(
        &rusty_sim(&["run", "--dup", "x"]),
        &["--dup", "not a number"],
    );
    assert_usage_error(&rusty_sim(&["run", "--workers", "0"]), &["--workers"]);
    assert_usage_error(&rusty_sim(&["run", "--mtu", "64000"]), &["--mtu"]);
    assert_usage_error(
        &rusty_sim(&["run", "--duration", "-1"]),
        &["--duration", "above 0"],
    );
    assert_usage_error(&rusty_sim(&["run", "--client", "linux"]), &["--client"]);
}

#[test]
fn unknown_scenario_lists_builtins() {
    let o = rusty_sim(&["run", "no-such-scenario"]);
    assert_usage_error(&o, &["no-such-scenario"]);
    for name in rusty_sim::scenario::BUILTIN_NAMES {
        assert!(
            stderr(&o).contains(name),
            "{name} not listed:\n{}",
            stderr(&o)
        );
    }
}

#[test]
fn missing_scenario_file_exits_2() {
    assert_usage_error(
        &rusty_sim(&["run", "/no/such/scenario.toml"]),
        &["/no/such/scenario.toml"],
    );
}

#[test]
fn bad_scenario_files_exit_2_naming_the_file() {
    let dir = temp_dir("bad-toml");
    let cases: &[(&str, &str, &[&str])] = &[
        ("syntax.toml", "[server\nworkers = 3\n", &["line 1"]),
        (
            "unknown.toml",
            "seed = 1\n[server]\nworkerz = 3\n",
            &["line 3", "unknown field `workerz`"],
        ),
        ("type.toml", "seed = \"one\"\n", &["line 1"]),
        ("links.toml", "[server]\nports = 5\n", &["line 2", "auto"]),
        (
            "workload.toml",
            "[workload]\nkind = \"ftp\"\n",
            &["ftp", "thesis_http"],
        ),
        // Parses, but fails validation.
        (
            "invalid.toml",
            "[links.faults]\nloss = 1.5\n",
            &["links.faults.loss", "[0, 1]"],
        ),
    ];
    for (name, text, needles) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let o = rusty_sim(&["run", path.to_str().unwrap()]);
        assert_usage_error(&o, needles);
        if *name == "invalid.toml" {
            // Validation errors name the scenario, which is the file's stem.
            assert!(stderr(&o).contains("'invalid'"), "{}", stderr(&o));
        } else {
            assert!(
                stderr(&o).contains(path.to_str().unwrap()),
                "{name}: {}",
                stderr(&o)
            );
        }
        assert!(stdout(&o).is_empty());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn override_that_breaks_a_file_scenario_exits_2() {
    // lossy.toml captures nothing; a pcap of link 0 is fine, but the
    // directory must exist.
    let o = rusty_sim(&[
        "run",
        fixture("lossy.toml").to_str().unwrap(),
        "--pcap",
        "/no/such/dir/x.pcap",
    ]);
    assert_usage_error(&o, &["/no/such/dir"]);
}

#[test]
fn help_and_version_exit_0() {
    for args in [
        &["--help"][..],
        &["run", "--help"],
        &["--version"],
        &["help"],
    ] {
        let o = rusty_sim(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(!stdout(&o).is_empty(), "{args:?}");
    }
    let help = stdout(&rusty_sim(&["run", "--help"]));
    for flag in [
        "--seed",
        "--workers",
        "--conns",
        "--duration",
        "--requests",
        "--mtu",
        "--client",
        "--loss",
        "--dup",
        "--reorder",
        "--corrupt",
        "--pcap",
        "--json",
    ] {
        assert!(help.contains(flag), "{flag} missing from\n{help}");
    }
}

#[test]
fn ping_works() {
    let o = rusty_sim(&["ping", "--count", "3"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("3 sent, 3 received"), "{}", stdout(&o));
}

#[test]
fn pages_writes_the_page_set() {
    let dir = temp_dir("pages");
    let out = dir.join("pages");
    let o = rusty_sim(&["pages", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("wrote 500 pages"), "{}", stdout(&o));
    let count = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(count, 500);
    let first = std::fs::read(out.join("0.htm")).unwrap();
    assert_eq!(first, rusty_fixtures::generate_page(0));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn logs_are_off_by_default() {
    // A usage error prints exactly one message line, and no log lines.
    let o = rusty_sim(&["run", "no-such-scenario"]);
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}
