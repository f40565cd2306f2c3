//! Runs `run.sh` for a short benchmark (1 s at concurrency 1 and 10) and
//! checks that it printed figures and removed its namespaces and server.
//!
//! Skips, saying why, when not root or when `ip netns` is not usable,
//! unless `CI=true`: then it always runs and fails if anything is broken.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use serde_json::Value;

/// The two tests run one at a time: each measures the whole machine.
static SERIAL: Mutex<()> = Mutex::new(());

fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Why the benchmark cannot run here, if it cannot.
fn unusable() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    let uid = String::from_utf8_lossy(&uid.stdout).trim().to_string();
    if uid != "0" {
        return Some(format!("needs root (uid {uid})"));
    }
    let probe = format!("rusty-probe-{}", std::process::id());
    match Command::new("ip").args(["netns", "add", &probe]).output() {
        Ok(out) if out.status.success() => {
            let _ = Command::new("ip").args(["netns", "del", &probe]).status();
            None
        }
        Ok(out) => Some(format!(
            "ip netns is not usable: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Some(format!("no ip command: {e}")),
    }
}

fn namespaces() -> String {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn number(row: &Value, key: &str) -> f64 {
    row[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {row}"))
}

#[test]
fn short_run_prints_figures_and_cleans_up() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(reason) = unusable() {
        if !is_ci() {
            eprintln!("skipped: {reason}");
            return;
        }
        eprintln!("CI=true: running anyway although {reason}");
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("run.sh");
    let out = Command::new("bash")
        .arg(&script)
        .args(["-d", "1", "--json", "--no-build", "--rusty-requests", "200"])
        .args(["--server", env!("CARGO_BIN_EXE_linux-page-server")])
        .arg("1 10")
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "run.sh failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let report: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}\n{stderr}"));
    if let Some(reason) = report["skipped"].as_str() {
        assert!(!is_ci(), "skipped under CI=true: {reason}");
        eprintln!("skipped by run.sh: {reason}");
        return;
    }
    let rows = report["rows"].as_array().expect("rows");
    let levels: Vec<u64> = rows
        .iter()
        .map(|r| r["concurrency"].as_u64().unwrap())
        .collect();
    assert_eq!(levels, [1, 10]);
    for row in rows {
        assert!(number(row, "requests") > 0.0, "{row}");
        assert!(number(row, "rps") > 0.0, "{row}");
        assert!(number(row, "cpu_s") > 0.0, "{row}");
        let us = number(row, "us_cpu_per_req");
        let split = [
            "us_user_per_req",
            "us_system_per_req",
            "us_softirq_per_req",
            "us_other_per_req",
        ]
        .map(|k| number(row, k));
        assert!(us > 0.0, "{row}");
        assert!(
            (split.iter().sum::<f64>() - us).abs() <= 0.05 * us + 0.1,
            "{row}"
        );
        assert_eq!(row["errors"]["status"].as_u64(), Some(0), "{row}");
        match row["rusty_us_cpu_per_req"].as_f64() {
            Some(rusty) => {
                assert!(rusty > 0.0, "{row}");
                assert!(number(row, "ratio_linux_rusty") > 0.0, "{row}");
            }
            None => assert!(!report["rusty_available"].as_bool().unwrap(), "{row}"),
        }
    }
    // Cleaned up: its namespaces are gone and so is its server.
    let left = namespaces();
    for ns in report["namespaces"].as_array().expect("namespaces") {
        let ns = ns.as_str().unwrap();
        assert!(ns.starts_with("rusty-"), "{ns}");
        assert!(
            !left
                .lines()
                .any(|l| l.split_whitespace().next() == Some(ns)),
            "namespace {ns} left behind:\n{left}"
        );
    }
    let pid = report["server_pid"].as_u64().expect("server_pid");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "server {pid} still running"
    );
}

/// Whether this process ignores SIGINT (bit 2 of `SigIgn` in
/// `/proc/self/status`, SIGINT being signal 2); children inherit it.
fn sigint_ignored() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let mask = status.lines().find_map(|l| l.strip_prefix("SigIgn:"))?;
            u64::from_str_radix(mask.trim(), 16).ok()
        })
        .is_some_and(|mask| mask & (1 << (2 - 1)) != 0)
}

/// An interrupted run cleans up too.
#[test]
fn interrupted_run_cleans_up() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(reason) = unusable() {
        if !is_ci() {
            eprintln!("skipped: {reason}");
            return;
        }
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("run.sh");
    let mut child = Command::new("bash")
        .arg(&script)
        .args(["-d", "30", "--no-build"])
        .args(["--server", env!("CARGO_BIN_EXE_linux-page-server")])
        .arg("1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run bash");
    let tag = child.id();
    let ns = format!("rusty-srv-{tag}");
    // Wait until the benchmark is under way (its namespace exists).
    let mut started = false;
    for _ in 0..600 {
        if namespaces().contains(&ns) {
            started = true;
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            // Exits 0 before setting up only when it skipped (no wrk).
            assert!(
                status.success() && !is_ci(),
                "run.sh failed early: {status}"
            );
            eprintln!("skipped: run.sh skipped");
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_secs(3));
    // Ctrl-C, unless this process was started with SIGINT ignored (as
    // everything started in the background by a non-interactive shell
    // is): the script inherits that, and a shell cannot trap a signal
    // ignored at its start, so it would run on as if nothing happened.
    // Then SIGTERM, whose trap cleans up the same way.
    let signal = if sigint_ignored() {
        eprintln!(
            "SIGINT is ignored in this process (started in the background?): sending SIGTERM"
        );
        "-TERM"
    } else {
        "-INT"
    };
    let _ = Command::new("kill")
        .args([signal, &tag.to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(started, "run.sh never created {ns} ({status})");
    assert!(!status.success(), "an interrupted run succeeded");
    let left = namespaces();
    assert!(
        !left.contains(&format!("-{tag}")),
        "namespaces of run {tag} left behind:\n{left}"
    );
}
