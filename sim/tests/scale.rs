//! `rusty-sim scale`: lists and ranges, a tiny sweep's JSON, byte-identical
//! reruns, shards that merge into the unsharded output by the documented
//! rule, a well-formed SVG plot with the thesis's curves, and four links
//! with traffic on each.

use std::path::PathBuf;
use std::process::{Command, Output};

use rusty_sim::cli::RunOptions;
use rusty_sim::run::engine;
use rusty_sim::run::scale::{self, plot};
use rusty_sim::scenario::{Ports, Scenario};

fn rusty_sim(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rusty-sim"));
    cmd.args(args)
        .env_remove("RUST_LOG")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("SLURM_ARRAY_TASK_COUNT")
        .env_remove("SLURM_ARRAY_TASK_MIN")
        .env_remove("JOB_COMPLETION_INDEX");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run rusty-sim")
}

/// A scratch directory of its own for test `name`.
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rusty-sim-scale-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A tiny sweep: three points, short windows, 20 connections.
const TINY: &[&str] = &[
    "scale",
    "--workers",
    "1..2,4",
    "--warmup",
    "0.01",
    "--duration",
    "0.02",
    "--conns",
    "20",
];

fn tiny(extra: &[&str], env: &[(&str, &str)]) -> (String, String) {
    let args: Vec<&str> = TINY.iter().chain(extra).copied().collect();
    let out = rusty_sim(&args, env);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?}: {stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

#[test]
fn lists_and_ranges_parse() {
    assert_eq!(scale::parse_workers("1,2,8").unwrap(), [1, 2, 8]);
    assert_eq!(
        scale::parse_workers("1..35").unwrap(),
        (1..=35).collect::<Vec<_>>()
    );
    assert_eq!(scale::parse_workers("3..4,1").unwrap(), [3, 4, 1]);
    assert_eq!(scale::parse_mtus("68,9000").unwrap(), [68, 9000]);
    assert!(scale::parse_workers("0..3").is_err());
    assert!(scale::parse_mtus("1500,10000").is_err());
}

#[test]
fn a_tiny_sweep_is_positive_complete_and_byte_identical_across_runs_and_shards() {
    let d = dir("sweep");
    let csv = |name: &str| d.join(name).to_str().unwrap().to_string();
    let (json_a, _) = tiny(&["--json", "--csv", &csv("all.csv")], &[]);
    let (json_b, _) = tiny(&["--json", "--csv", &csv("again.csv"), "--jobs", "2"], &[]);
    assert_eq!(json_a, json_b, "two runs (one on two threads) differ");
    let all_csv = std::fs::read_to_string(d.join("all.csv")).unwrap();
    assert_eq!(
        all_csv,
        std::fs::read_to_string(d.join("again.csv")).unwrap()
    );

    let v: serde_json::Value = serde_json::from_str(&json_a).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for (i, row) in rows.iter().enumerate() {
        for key in ["profile", "workers", "mtu", "gbps", "rps", "bottleneck"] {
            assert!(row.get(key).is_some(), "row {i} lacks {key}: {row}");
        }
        assert_eq!(row["index"], i);
        assert_eq!(row["profile"], "tilegx36");
        assert_eq!(row["mtu"], 1500);
        assert!(row["gbps"].as_f64().unwrap() > 0.0, "{row}");
        assert_eq!(row["requests_failed"], 0);
        assert_eq!(row["bytes_corrupt"], 0);
        assert!(["cpu", "memory", "link", "client"].contains(&row["bottleneck"].as_str().unwrap()));
    }
    let workers: Vec<u64> = rows
        .iter()
        .map(|r| r["workers"].as_u64().unwrap())
        .collect();
    assert_eq!(workers, [1, 2, 4]);
    assert!(all_csv.starts_with(scale::CSV_HEADER));
    assert_eq!(all_csv.lines().count(), 4);

    // Shards 0/2 and 1/2 (the second from Slurm's environment): the CSV
    // files concatenated in shard order and stable-sorted on the index
    // column are the unsharded file; the JSON arrays, joined and sorted by
    // index, are the unsharded array.
    let (json_0, _) = tiny(&["--json", "--shard", "0/2", "--csv", &csv("s0.csv")], &[]);
    let (json_1, _) = tiny(
        &["--json", "--csv", &csv("s1.csv")],
        &[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
        ],
    );
    let s1 = std::fs::read_to_string(d.join("s1.csv")).unwrap();
    assert!(!s1.contains("index"), "only shard 0 writes the header");
    let merged = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cat {} {} | LC_ALL=C sort -s -t, -k1,1n",
            csv("s0.csv"),
            csv("s1.csv")
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(merged.stdout).unwrap(), all_csv);
    let mut joined: Vec<serde_json::Value> = Vec::new();
    for text in [&json_0, &json_1] {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        joined.extend(v.as_array().unwrap().iter().cloned());
    }
    assert_eq!(joined.len(), 3);
    joined.sort_by_key(|r| r["index"].as_u64().unwrap());
    // (Compared as values: `serde_json::Value` orders keys its own way.)
    assert_eq!(serde_json::Value::Array(joined), v);

    // The table: a header and one line per point.
    let (table, _) = tiny(&["--quiet"], &[]);
    assert!(
        table.lines().next().unwrap().contains("bottleneck"),
        "{table}"
    );
    assert_eq!(table.lines().count(), 4, "{table}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// Checks that `text` is well-formed XML: one root element, every tag
/// closed in order, attributes quoted; returns the root's name.
fn well_formed(text: &str) -> Result<String, String> {
    let mut stack: Vec<String> = Vec::new();
    let mut root = None;
    let mut rest = text.trim_start();
    if let Some(after) = rest.strip_prefix("<?xml") {
        let end = after.find("?>").ok_or("unterminated XML declaration")?;
        rest = &after[end + 2..];
    }
    while let Some(lt) = rest.find('<') {
        let text_part = &rest[..lt];
        if stack.is_empty() && !text_part.trim().is_empty() {
            return Err(format!("text outside the root: {text_part:.40}"));
        }
        if text_part.contains('>') {
            return Err(format!("stray '>' in text: {text_part:.40}"));
        }
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            let end = after.find("-->").ok_or("unterminated comment")?;
            rest = &after[end + 3..];
            continue;
        }
        // Find the tag's end outside quoted attribute values.
        let mut quote = None;
        let mut end = None;
        for (i, c) in rest.char_indices().skip(1) {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, '>') => {
                    end = Some(i);
                    break;
                }
                (None, '<') => return Err(format!("'<' inside a tag: {:.40}", rest)),
                _ => {}
            }
        }
        let end = end.ok_or("unterminated tag")?;
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or(format!("</{name}> closes nothing"))?;
            if open != name.trim() {
                return Err(format!("<{open}> closed by </{name}>"));
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let name: String = tag
            .trim_end_matches('/')
            .split_whitespace()
            .next()
            .ok_or("empty tag")?
            .to_string();
        if stack.is_empty() {
            if root.is_some() {
                return Err("two root elements".into());
            }
            root = Some(name.clone());
        }
        if !self_closing {
            stack.push(name);
        }
    }
    if !stack.is_empty() {
        return Err(format!("unclosed {stack:?}"));
    }
    if !rest.trim().is_empty() {
        return Err("text after the root".into());
    }
    root.ok_or_else(|| "no element".into())
}

#[test]
fn the_checker_catches_broken_xml() {
    assert_eq!(
        well_formed("<svg a=\"x>y\"><g/><t>1</t></svg>"),
        Ok("svg".into())
    );
    for bad in [
        "<svg>",
        "<svg></g>",
        "<a/><b/>",
        "<svg><g></svg></g>",
        "x<svg/>",
        "<svg",
    ] {
        assert!(well_formed(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_plot_is_well_formed_svg_with_the_thesis_series() {
    let d = dir("plot");
    let path = d.join("scale.svg");
    let out = rusty_sim(
        &[
            "scale",
            "--workers",
            "1,2",
            "--mtu",
            "1500,9000",
            "--warmup",
            "0.01",
            "--duration",
            "0.01",
            "--conns",
            "10",
            "--plot",
            path.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(&path).unwrap();
    assert_eq!(well_formed(&svg), Ok("svg".into()));
    for needle in [
        plot::THESIS_RUSTY,
        plot::THESIS_LINUX,
        "tilegx36, MTU 1500",
        "tilegx36, MTU 9000",
        "workers",
    ] {
        assert!(svg.contains(needle), "{needle} missing");
    }
    // Several MTUs: the second chart, against MTU.
    let mtu_svg = std::fs::read_to_string(plot::mtu_path(&path)).unwrap();
    assert_eq!(well_formed(&mtu_svg), Ok("svg".into()));
    assert!(mtu_svg.contains("tilegx36, 1 workers") && mtu_svg.contains("MTU (bytes)"));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn four_ports_carry_traffic_on_four_links() {
    let mut s = Scenario::thesis();
    s.server.workers = 4;
    s.server.ports = Ports::All;
    s.client.conns = 40;
    s.client.cores = 2;
    s.duration = 0.05;
    s.validate().unwrap();
    assert_eq!(s.link_count(), 4);
    let r = engine::run(&s, &RunOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(r.links, 4);
    assert_eq!(r.per_link.len(), 4);
    for l in &r.per_link {
        assert!(l.frames > 100 && l.bytes > 10_000, "link {}: {l:?}", l.link);
    }
    assert!(r.requests_ok > 0 && r.requests_failed == 0 && r.bytes_corrupt == 0);

    // The sweep's result names the links too.
    let config = scale::ScaleConfig {
        workers: vec![4],
        ports: Ports::Count(4),
        conns: 40,
        warmup_s: 0.01,
        duration_s: 0.01,
        ..scale::ScaleConfig::default()
    };
    let point = scale::points(&config)[0];
    let result = scale::run_point(&config, &point).unwrap();
    assert_eq!(result.links, 4);
    assert!(result.gbps > 0.0);
}
