//! `rusty-sim replay` on the captures of real Linux traffic in
//! `fixtures/pcap/` (see its README): exact replays of Rusty's own
//! captures reproduce every frame; adaptive replays complete every flow;
//! changed settings, changed frames and a capture of Linux's own server
//! are reported where they diverge; bad captures exit 2.

use std::path::{Path, PathBuf};
use std::process::Command;

use rusty_sim::run::replay::adaptive::{self, FlowOutcome};
use rusty_sim::run::replay::exact;
use rusty_sim::run::replay::settings::{Settings, SidecarFile};
use rusty_sim::run::replay::Capture;

#[global_allocator]
static GLOBAL: rusty_alloc_counter::CountingAllocator = rusty_alloc_counter::CountingAllocator;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/pcap")
        .join(name)
}

fn load(name: &str) -> (Capture, Settings) {
    let capture = Capture::load(&fixture(&format!("{name}.pcap"))).unwrap();
    let settings = SidecarFile::load(&fixture(&format!("{name}.toml")))
        .unwrap()
        .unwrap()
        .settings()
        .unwrap();
    (capture, settings)
}

fn replay_cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rusty-sim"))
        .arg("replay")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn replay_exact_reproduces_rusty_captures_frame_for_frame() {
    for name in ["curl-rusty", "zero-window"] {
        let (capture, settings) = load(name);
        let r = exact::replay(&capture, &settings).unwrap();
        assert_eq!(r.divergence, None, "{name}: {r:?}");
        assert!(
            r.expected > 90 && r.matched == r.expected && r.emitted == r.expected,
            "{name}: {r:?}"
        );
        assert!(r.fed > 50, "{name}: {r:?}");
    }
}

#[test]
fn replay_exact_names_the_first_divergence() {
    // Another seed: other ISNs, so the SYN-ACK differs in its sequence
    // number (the ARP announcement before it still matches).
    let (capture, mut settings) = load("curl-rusty");
    settings.seed += 1;
    let r = exact::replay(&capture, &settings).unwrap();
    let d = r.divergence.expect("a different seed diverges");
    assert!(d.index >= 1 && r.matched == d.index, "{d:?}");
    assert!(d.expected.as_deref().unwrap().contains("[S.]"), "{d:?}");
    assert_ne!(d.expected, d.got);
    let diff = d.first_difference.unwrap();
    assert!(diff.contains("tcp sequence number"), "{diff}");

    // One byte of one captured sent frame changed: the replay stops there.
    let (mut capture, settings) = load("curl-rusty");
    let sent: Vec<usize> = (0..capture.frames.len())
        .filter(|&i| rusty_sim::run::replay::sent_by(settings.mac, &capture.frames[i].1))
        .collect();
    let victim = sent[40];
    let window = 14 + 20 + 14; // Ethernet, IPv4, TCP window field
    capture.frames[victim].1[window] ^= 0x01;
    let r = exact::replay(&capture, &settings).unwrap();
    let d = r.divergence.expect("a changed frame diverges");
    assert_eq!(d.index, 40, "{d:?}");
    assert!(d.first_difference.unwrap().contains("tcp window"));

    // Linux's server in the stack's place: different from the first frame.
    let (capture, settings) = load("curl-linux");
    let r = exact::replay(&capture, &settings).unwrap();
    assert_eq!(r.divergence.unwrap().index, 0);
}

#[test]
fn replay_adaptive_completes_every_flow_of_rusty_captures() {
    for (name, flows) in [("curl-rusty", 3), ("zero-window", 1)] {
        let (capture, settings) = load(name);
        let r = adaptive::replay(&capture, &settings).unwrap();
        assert_eq!(r.flows.len(), flows, "{name}: {r:?}");
        for f in &r.flows {
            assert_eq!(f.outcome, FlowOutcome::Completed, "{name}: {f:?}");
            assert_eq!(f.played, f.peer_segments, "{f:?}");
            assert_eq!(f.stack_bytes_live, f.stack_bytes_captured, "{f:?}");
            assert!(f.stack_bytes_live > 10_000, "{f:?}");
        }
        assert!(r.all_completed());
    }
}

#[test]
fn replay_adaptive_calls_a_stall_a_stall_whatever_the_capture_s_clock_says() {
    // A capture from the pcap_replay fuzz target (its regression seed): a
    // flow where the peer acknowledges more than the stack ever sends,
    // and a frame stamped years after the others. The replay stepped
    // through the live stack's timers until that far deadline (millions of
    // rounds, a fuzz timeout); it now stops once the live stack has waited
    // GRACE (120 virtual s) without progress.
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds/pcap_replay/73e0c555fad47f87b9762da19179cc92ed20cdde");
    let mut capture = Capture::load(&path).unwrap();
    capture.frames.truncate(256); // as the fuzz target
    let (_, settings) = load("curl-rusty");
    let r = adaptive::replay(&capture, &settings).unwrap();
    assert_eq!(r.flows.len(), 1, "{r:?}");
    let f = &r.flows[0];
    assert_eq!(f.outcome, FlowOutcome::Diverged, "{f:?}");
    assert!(f.why.as_deref().unwrap().contains("stalled"), "{f:?}");
    assert!(f.rounds < 1_000, "{f:?}");
    // The fixtures' complete flows take few rounds too.
    let (capture, settings) = load("curl-rusty");
    let r = adaptive::replay(&capture, &settings).unwrap();
    assert!(
        r.flows.iter().all(|f| f.rounds > 0 && f.rounds < 10_000),
        "{r:?}"
    );
}

#[test]
fn replay_adaptive_holds_a_stream_by_its_bytes_not_its_offsets() {
    // A capture from the pcap_replay fuzz target (its regression seed):
    // a segment of the stack's stream two gigabytes past its ISN. The
    // replayer kept the stream as one byte slot per offset and asked for
    // 3.8 GB (out of memory under the fuzzer); it now keeps runs of the
    // bytes the capture holds.
    assert!(rusty_alloc_counter::is_installed());
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds/pcap_replay/f8252a07fb6033ce5d0498d6bfbbc2c248cbd65b");
    let mut capture = Capture::load(&path).unwrap();
    capture.frames.truncate(256); // as the fuzz target
    let (_, settings) = load("curl-rusty");
    let before = rusty_alloc_counter::thread_allocated_bytes();
    let report = adaptive::replay(&capture, &settings);
    let asked = rusty_alloc_counter::thread_allocated_bytes() - before;
    assert!(report.is_ok(), "{report:?}");
    // The capture is 47 KB; the live stack's pools and page set are the
    // rest (the replay's own stack is built per flow).
    assert!(asked < 512 << 20, "{asked} bytes asked for");
    let _ = exact::replay(&capture, &settings);
}

#[test]
fn replay_adaptive_finds_where_linux_s_server_answers_differently() {
    // The Linux page server keeps curl's HTTP/1.1 connection open and
    // says so by omission; Rusty's server announces `Connection: close`.
    let (capture, settings) = load("curl-linux");
    let r = adaptive::replay(&capture, &settings).unwrap();
    assert_eq!(r.flows.len(), 3, "{r:?}");
    for f in &r.flows {
        assert_eq!(f.outcome, FlowOutcome::Diverged, "{f:?}");
        let why = f.why.as_deref().unwrap();
        assert!(why.contains("Connection: clos"), "{why}");
        let at = f.at_offset.unwrap();
        assert!((38..=42).contains(&at), "{f:?}");
        assert_eq!(f.stack_bytes_live, at, "{f:?}");
    }
    assert!(!r.all_completed());
}

#[test]
fn replay_adaptive_with_a_changed_stack_diverges() {
    // Served from pages that are not the capture's: the bodies differ.
    let dir = std::env::temp_dir().join(format!("rusty-replay-pages-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..500 {
        std::fs::write(
            dir.join(format!("{i}.htm")),
            format!("page {i}\n").repeat(40),
        )
        .unwrap();
    }
    let (capture, mut settings) = load("curl-rusty");
    settings.pages = Some(dir.clone());
    let r = adaptive::replay(&capture, &settings).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        r.flows.iter().all(|f| f.outcome == FlowOutcome::Diverged),
        "{r:?}"
    );
}

#[test]
fn replay_cli_exit_codes_and_json() {
    let pcap = fixture("curl-rusty.pcap");
    let pcap = pcap.to_str().unwrap();
    let (code, out, err) = replay_cli(&[pcap]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("identical"), "{out}");
    let (code, out, _) = replay_cli(&[pcap, "--mode", "adaptive", "--json"]);
    assert_eq!(code, 0, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["matched"], true);
    assert_eq!(json["adaptive"]["flows"].as_array().unwrap().len(), 3);
    // A divergence exits 1 and says where.
    let (code, out, _) = replay_cli(&[pcap, "--seed", "8"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("diverged at sent frame") && out.contains("first difference"),
        "{out}"
    );
}

#[test]
fn replay_bad_captures_and_settings_exit_2_with_a_message() {
    let dir = std::env::temp_dir().join(format!("rusty-replay-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = std::fs::read(fixture("curl-rusty.pcap")).unwrap();
    let sidecar = std::fs::read(fixture("curl-rusty.toml")).unwrap();
    // (name, pcap bytes, sidecar bytes, what the message says)
    type Case<'a> = (&'a str, Vec<u8>, Option<&'a [u8]>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "truncated",
            good[..good.len() - 7].to_vec(),
            Some(&sidecar),
            "not a readable pcap",
        ),
        (
            "garbage",
            b"this is not a capture at all".to_vec(),
            Some(&sidecar),
            "not a readable pcap",
        ),
        ("empty", Vec::new(), Some(&sidecar), "not a readable pcap"),
        (
            "header-only",
            good[..24].to_vec(),
            Some(&sidecar),
            "no frame",
        ),
        ("no-sidecar", good.clone(), None, "no `app`"),
        (
            "bad-sidecar",
            good.clone(),
            Some(b"app = \"httpd\"\nmac = 3\n"),
            "settings",
        ),
    ];
    for (name, pcap, toml, want) in cases {
        let path = dir.join(format!("{name}.pcap"));
        std::fs::write(&path, pcap).unwrap();
        if let Some(toml) = toml {
            std::fs::write(path.with_extension("toml"), toml).unwrap();
        }
        for mode in ["exact", "adaptive"] {
            let (code, out, err) = replay_cli(&[path.to_str().unwrap(), "--mode", mode]);
            assert_eq!(code, 2, "{name} {mode}: {out}{err}");
            assert!(err.contains(want), "{name} {mode}: {err}");
            assert!(!err.contains("panicked"), "{err}");
        }
    }
    let (code, _, err) = replay_cli(&[dir.join("missing.pcap").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("missing.pcap"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
