//! `rusty-sim scale`: the thesis benchmark swept over worker counts and
//! MTUs, in virtual time, with what limited each point.
//!
//! A sweep is a list of [`ScalePoint`]s, MTU-major (every worker count of
//! the first MTU, then of the next), numbered from 0 ([`points`]). Each
//! point runs [`Scenario::thesis`] with the point's `workers`, `mtu` and
//! cost profile (the real stack code on every simulated core), for a
//! **warm-up** of `warmup_s` virtual seconds (1000 connections open at
//! once, slow start, the first pages) and then a **measured window** of
//! `duration_s`; every rate of a [`ScaleResult`] is the difference of the
//! counters at the end of the window and at its start, over the window:
//!
//! * `gbps`: TCP payload delivered in order to the client's applications
//!   (response heads and bodies, the requests still in progress
//!   included — at one worker a round of 1000 requests takes seconds, so
//!   counting only completed requests would measure nothing), in Gbit/s;
//! * `rps`: requests completed (every byte verified) per second;
//! * `core_util_mean`, `core_util_max`: the server's per-core busy
//!   fractions; `client_util`: the busiest client core's;
//! * `link_util`: the busiest direction of the busiest link (frames'
//!   bytes over the link's bandwidth);
//! * `memory_util`: the server's DRAM traffic, as its cost profile counts
//!   it ([`crate::hosts::cost::Charge::dram_bytes`]), over the profile's
//!   DRAM bandwidth.
//!
//! * `thesis_gbps`: the thesis stack's throughput at the point's worker
//!   count, where the thesis measured one ([`thesis_gbps`]; MTU 1500
//!   and the thesis's links only). The table prints the error against it for the `rusty-2015`
//!   profile, starred outside the figure's reading error
//!   ([`within_reading_error`]), and the ratio to it for other profiles.
//!
//! The bottleneck ([`Bottleneck::classify`]) is the resource whose
//! utilisation is highest relative to its threshold ([`CPU_BUSY`],
//! [`LINK_BUSY`], [`CLIENT_BUSY`], [`MEMORY_BUSY`]); `saturated` says
//! whether it reached that threshold.
//!
//! Everything in a result is a function of the point and the sweep's
//! settings (no wall-clock figure), so a sweep's output is byte-identical
//! from run to run and machine to machine, and across `--shard` splits
//! (see [`merge_rule`](self#merging-shards)).
//!
//! # Merging shards
//!
//! `--shard I/N` runs the points whose index is `I` modulo `N`. Every row
//! starts with the point's `index`; the CSV header is written by shard 0
//! (and unsharded runs) only. The shards' CSV files concatenated in shard
//! order (shard 0 first) and stable-sorted on the first column, `cat
//! scale-0.csv scale-1.csv … | sort -s -t, -k1,1n`, are the unsharded file
//! byte for byte (the header's `index` sorts as 0, before the row of
//! point 0 only by stability). JSON arrays merge the same way: `jq -s -c
//! 'add | sort_by(.index)'`.

pub mod plot;

use std::fmt::Write as _;

use serde::Serialize;

use crate::hosts::cost::CostModel;
use crate::run::engine::{self, EngineError};
use crate::run::report::Report;
use crate::scenario::{Ports, Scenario, ScenarioError, MAX_MTU, MAX_WORKERS, MIN_MTU};
use rusty_stack::time::{Duration, Instant};

/// Mean server core busy fraction at which the CPU counts as saturated.
pub const CPU_BUSY: f64 = 0.90;
/// Busiest link direction's utilisation at which the link counts as
/// saturated.
pub const LINK_BUSY: f64 = 0.90;
/// Busiest client core's busy fraction at which the client counts as
/// saturated ([`crate::run::report::CLIENT_SATURATED_FRAC`]).
pub const CLIENT_BUSY: f64 = crate::run::report::CLIENT_SATURATED_FRAC;
/// Memory-bandwidth utilisation at which DRAM counts as saturated.
pub const MEMORY_BUSY: f64 = 0.90;

/// Default virtual seconds of warm-up before the measured window.
pub const DEFAULT_WARMUP_S: f64 = 0.2;
/// Default virtual seconds of the measured window.
pub const DEFAULT_DURATION_S: f64 = 0.5;

/// What limited a point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bottleneck {
    /// The server's cores.
    Cpu,
    /// The server's memory bandwidth.
    Memory,
    /// A link.
    Link,
    /// The load client.
    Client,
}

impl Bottleneck {
    /// The name used in every output.
    pub fn as_str(self) -> &'static str {
        match self {
            Bottleneck::Cpu => "cpu",
            Bottleneck::Memory => "memory",
            Bottleneck::Link => "link",
            Bottleneck::Client => "client",
        }
    }

    /// The resource with the highest utilisation relative to its
    /// threshold, and whether it reached it. Ties go to the first of CPU,
    /// memory, link, client.
    pub fn classify(cpu: f64, memory: f64, link: f64, client: f64) -> (Bottleneck, bool) {
        let candidates = [
            (Bottleneck::Cpu, cpu / CPU_BUSY),
            (Bottleneck::Memory, memory / MEMORY_BUSY),
            (Bottleneck::Link, link / LINK_BUSY),
            (Bottleneck::Client, client / CLIENT_BUSY),
        ];
        let mut best = candidates[0];
        for c in &candidates[1..] {
            if c.1 > best.1 {
                best = *c;
            }
        }
        (best.0, best.1 >= 1.0)
    }
}

/// The settings of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct ScaleConfig {
    /// The server's cost profile.
    pub profile: CostModel,
    /// Worker counts, in the order given.
    pub workers: Vec<u32>,
    /// MTUs, in the order given.
    pub mtus: Vec<u16>,
    /// The server's ports (default: the thesis rule).
    pub ports: Ports,
    /// Concurrent client connections (the thesis: 1000).
    pub conns: u32,
    /// Virtual seconds of warm-up.
    pub warmup_s: f64,
    /// Virtual seconds measured.
    pub duration_s: f64,
    /// The scenario's seed.
    pub seed: u64,
}

impl Default for ScaleConfig {
    /// The thesis's sweep: 1 to 35 workers on the TILE-Gx36 at MTU 1500.
    fn default() -> Self {
        ScaleConfig {
            profile: CostModel::TILEGX36,
            workers: (1..=35).collect(),
            mtus: vec![1500],
            ports: Ports::Auto,
            conns: 1000,
            warmup_s: DEFAULT_WARMUP_S,
            duration_s: DEFAULT_DURATION_S,
            seed: 1,
        }
    }
}

/// One point of a sweep.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScalePoint {
    /// Its index in the sweep (MTU-major).
    pub index: usize,
    /// Worker cores.
    pub workers: u32,
    /// MTU.
    pub mtu: u16,
}

/// The points of a sweep, MTU-major, numbered from 0.
pub fn points(config: &ScaleConfig) -> Vec<ScalePoint> {
    let mut out = Vec::with_capacity(config.mtus.len() * config.workers.len());
    for &mtu in &config.mtus {
        for &workers in &config.workers {
            out.push(ScalePoint {
                index: out.len(),
                workers,
                mtu,
            });
        }
    }
    out
}

/// What one point measured (see the [module documentation](self)).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScaleResult {
    /// The point's index in the sweep.
    pub index: usize,
    /// The cost profile.
    pub profile: String,
    /// Worker cores.
    pub workers: u32,
    /// MTU.
    pub mtu: u16,
    /// Links (server ports) used.
    pub links: u8,
    /// Throughput over the window, Gbit/s.
    pub gbps: f64,
    /// Requests completed per second over the window.
    pub rps: f64,
    /// Mean busy fraction of the server's cores over the window.
    pub core_util_mean: f64,
    /// Busiest server core's busy fraction over the window.
    pub core_util_max: f64,
    /// Busiest link direction's utilisation over the window.
    pub link_util: f64,
    /// Busiest client core's busy fraction over the window.
    pub client_util: f64,
    /// Memory-bandwidth utilisation (from the cost profile).
    pub memory_util: f64,
    /// What limited the point.
    pub bottleneck: Bottleneck,
    /// Whether the bottleneck reached its threshold.
    pub saturated: bool,
    /// Requests completed over the whole run (warm-up included), every
    /// byte verified.
    pub requests_ok: u64,
    /// Requests that failed, over the whole run.
    pub requests_failed: u64,
    /// Response bytes that did not match, over the whole run.
    pub bytes_corrupt: u64,
    /// The thesis's Rusty throughput at this worker count, where its curve
    /// has one and the point is at its MTU (1500) on its links (one, two
    /// from 29 workers): what `gbps` is compared with ([`thesis_gbps`]).
    pub thesis_gbps: Option<f64>,
}

/// The thesis's MTU.
pub const THESIS_MTU: u16 = 1500;

/// The thesis figure's reading error: a point is reproduced when it is
/// within this fraction or [`THESIS_TOLERANCE_GBPS`], whichever is looser.
pub const THESIS_TOLERANCE: f64 = 0.10;
/// The thesis figure's reading error in Gbit/s (see [`THESIS_TOLERANCE`]).
pub const THESIS_TOLERANCE_GBPS: f64 = 0.25;

/// The thesis stack's throughput with `workers` workers at `mtu`, if the
/// thesis measured it (`../shared/data/thesis-scalability.csv`).
pub fn thesis_gbps(workers: u32, mtu: u16) -> Option<f64> {
    if mtu != THESIS_MTU {
        return None;
    }
    rusty_fixtures::thesis_curve::thesis_scalability()
        .iter()
        .find(|p| p.rusty_workers() == workers && workers > 0)
        .and_then(|p| p.rusty_gbps)
}

/// Whether `gbps` reproduces the thesis's `thesis` within the figure's
/// reading error.
pub fn within_reading_error(gbps: f64, thesis: f64) -> bool {
    (gbps - thesis).abs() <= (thesis * THESIS_TOLERANCE).max(THESIS_TOLERANCE_GBPS)
}

/// Why a sweep could not run.
#[derive(Debug)]
pub enum ScaleError {
    /// A point's scenario is not valid.
    Scenario(ScenarioError),
    /// A point's run failed.
    Engine {
        /// The point.
        index: usize,
        /// Why.
        error: EngineError,
    },
    /// A point's run panicked.
    Panic {
        /// The point.
        index: usize,
        /// What it said.
        message: String,
    },
}

impl std::fmt::Display for ScaleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScaleError::Scenario(e) => e.fmt(f),
            ScaleError::Engine { index, error } => write!(f, "point {index}: {error}"),
            ScaleError::Panic { index, message } => {
                write!(f, "point {index} panicked: {message}")
            }
        }
    }
}

impl std::error::Error for ScaleError {}

/// The scenario of `point`: the thesis benchmark with the point's
/// workers, MTU and the sweep's profile, ports, connections and seed,
/// lasting the warm-up and the window.
pub fn scenario(config: &ScaleConfig, point: &ScalePoint) -> Scenario {
    let mut s = Scenario::thesis();
    s.name = format!("scale-{}", point.index);
    s.seed = config.seed;
    s.duration = config.warmup_s + config.duration_s;
    s.server.workers = point.workers;
    s.server.mtu = point.mtu;
    s.server.cost_model = config.profile;
    s.server.ports = config.ports;
    s.client.conns = config.conns;
    s
}

/// Checks every point's scenario before anything runs.
pub fn validate(config: &ScaleConfig) -> Result<(), ScenarioError> {
    for point in points(config) {
        scenario(config, &point).validate()?;
    }
    Ok(())
}

/// Counters at one instant, to difference over the window.
#[derive(Clone, Debug, Default)]
struct Snapshot {
    at: Instant,
    client_bytes: u64,
    requests_ok: u64,
    /// Bytes the server's cost profile moved to and from DRAM.
    dram_bytes: u64,
    server_busy: Vec<Duration>,
    client_busy: Vec<Duration>,
    /// Delivered bytes per link and direction.
    link_bytes: Vec<[u64; 2]>,
}

fn snapshot(setup: &engine::Setup) -> Snapshot {
    let world = &setup.world;
    let busy = |host: usize| -> Vec<Duration> {
        let h = world.host(host);
        (0..h.cores()).map(|c| h.core_stats(c).busy).collect()
    };
    Snapshot {
        at: world.now(),
        client_bytes: world.host(setup.client).tcp_counters().bytes_received,
        requests_ok: setup.client_stats().ok,
        dram_bytes: world
            .host(setup.server)
            .cost_charged()
            .map_or(0, |c| c.dram_bytes),
        server_busy: busy(setup.server),
        client_busy: busy(setup.client),
        link_bytes: world
            .links()
            .iter()
            .map(|slot| {
                let s = slot.link.stats();
                [s.a_to_b.delivered_bytes, s.b_to_a.delivered_bytes]
            })
            .collect(),
    }
}

/// Runs one point: warm-up, window, report.
pub fn run_point(config: &ScaleConfig, point: &ScalePoint) -> Result<ScaleResult, ScaleError> {
    let scenario = scenario(config, point);
    scenario.validate().map_err(ScaleError::Scenario)?;
    let engine_err = |error| ScaleError::Engine {
        index: point.index,
        error,
    };
    let mut setup = engine::build(&scenario).map_err(engine_err)?;
    let checks = setup.world.checks();
    setup.world.set_checks(crate::kernel::check::Checks {
        panic: false,
        ..checks
    });
    setup.start().map_err(engine_err)?;
    let secs = |s: f64| Instant::ZERO + Duration::from_nanos((s * 1e9) as u64);
    setup.run_until(secs(config.warmup_s), None, &mut |_| {});
    let start = snapshot(&setup);
    setup.run_until(secs(config.warmup_s + config.duration_s), None, &mut |_| {});
    let end = snapshot(&setup);
    setup
        .world
        .check()
        .map_err(|e| engine_err(EngineError::Check(e)))?;
    let report: Report = setup.report(&scenario);

    let window = (end.at - start.at).as_secs_f64().max(1e-9);
    let fractions = |a: &[Duration], b: &[Duration]| -> Vec<f64> {
        a.iter()
            .zip(b)
            .map(|(s, e)| (e.saturating_sub(*s).as_secs_f64() / window).min(1.0))
            .collect()
    };
    let server = fractions(&start.server_busy, &end.server_busy);
    let client = fractions(&start.client_busy, &end.client_busy);
    let core_util_mean = server.iter().sum::<f64>() / server.len().max(1) as f64;
    let core_util_max = server.iter().copied().fold(0.0, f64::max);
    let client_util = client.iter().copied().fold(0.0, f64::max);
    let mut link_util: f64 = 0.0;
    for ((s, e), slot) in start
        .link_bytes
        .iter()
        .zip(&end.link_bytes)
        .zip(setup.world.links())
    {
        let capacity = slot.link.config().bandwidth_bps as f64 * window / 8.0;
        for dir in 0..2 {
            if capacity > 0.0 {
                link_util = link_util.max(((e[dir] - s[dir]) as f64 / capacity).min(1.0));
            }
        }
    }
    let dram_capacity = config
        .profile
        .memory
        .map_or(0.0, |m| m.dram_bytes_per_s as f64 * window);
    let memory_util = if dram_capacity > 0.0 {
        ((end.dram_bytes - start.dram_bytes) as f64 / dram_capacity).min(1.0)
    } else {
        0.0
    };
    let (bottleneck, saturated) =
        Bottleneck::classify(core_util_mean, memory_util, link_util, client_util);
    Ok(ScaleResult {
        index: point.index,
        profile: config.profile.name.to_string(),
        workers: point.workers,
        mtu: point.mtu,
        links: scenario.link_count(),
        gbps: (end.client_bytes - start.client_bytes) as f64 * 8.0 / window / 1e9,
        rps: (end.requests_ok - start.requests_ok) as f64 / window,
        core_util_mean,
        core_util_max,
        link_util,
        client_util,
        memory_util,
        bottleneck,
        saturated,
        requests_ok: report.requests_ok,
        requests_failed: report.requests_failed,
        bytes_corrupt: report.bytes_corrupt,
        // Compared only on the thesis's hardware set-up: its links.
        thesis_gbps: thesis_gbps(point.workers, point.mtu)
            .filter(|_| scenario.link_count() == Ports::Auto.resolve(point.workers)),
    })
}

/// Runs `points` on `jobs` threads, calling `done` (from any thread) as
/// each finishes; results in the order of `points`. The first failure (in
/// point order) is the error.
pub fn run_points(
    config: &ScaleConfig,
    points: &[ScalePoint],
    jobs: usize,
    done: &(dyn Fn(&ScaleResult) + Sync),
) -> Result<Vec<ScaleResult>, ScaleError> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let jobs = jobs.clamp(1, 64);
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<Result<ScaleResult, ScaleError>>>> =
        Mutex::new((0..points.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(point) = points.get(i) else { break };
                let result =
                    std::panic::catch_unwind(|| run_point(config, point)).unwrap_or_else(|panic| {
                        let message = panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "a panic".into());
                        Err(ScaleError::Panic {
                            index: point.index,
                            message,
                        })
                    });
                if let Ok(r) = &result {
                    done(r);
                }
                if let Ok(mut slots) = slots.lock() {
                    slots[i] = Some(result);
                }
            });
        }
    });
    let slots = slots.into_inner().unwrap_or_else(|e| e.into_inner());
    slots
        .into_iter()
        .zip(points)
        .map(|(slot, point)| {
            slot.unwrap_or_else(|| {
                Err(ScaleError::Panic {
                    index: point.index,
                    message: "no result".into(),
                })
            })
        })
        .collect()
}

/// The CSV columns, in order.
pub const CSV_HEADER: &str = "index,profile,workers,mtu,links,gbps,rps,core_util_mean,\
core_util_max,link_util,client_util,memory_util,bottleneck,saturated,requests_ok,\
requests_failed,bytes_corrupt,thesis_gbps";

/// The results as CSV: the header (when `header`) and one row per result,
/// each line ending in `\n`; fractions with 4 decimals, Gbps with 4,
/// requests/s with 1.
pub fn csv(results: &[ScaleResult], header: bool) -> String {
    let mut o = String::new();
    if header {
        o.push_str(CSV_HEADER);
        o.push('\n');
    }
    for r in results {
        let _ = writeln!(
            o,
            "{},{},{},{},{},{:.4},{:.1},{:.4},{:.4},{:.4},{:.4},{:.4},{},{},{},{},{},{}",
            r.index,
            r.profile,
            r.workers,
            r.mtu,
            r.links,
            r.gbps,
            r.rps,
            r.core_util_mean,
            r.core_util_max,
            r.link_util,
            r.client_util,
            r.memory_util,
            r.bottleneck.as_str(),
            r.saturated,
            r.requests_ok,
            r.requests_failed,
            r.bytes_corrupt,
            r.thesis_gbps.map_or(String::new(), |g| g.to_string())
        );
    }
    o
}

/// The results as one JSON array on one line (with a final `\n`).
pub fn json(results: &[ScaleResult]) -> String {
    serde_json::to_string(results).expect("results serialise") + "\n"
}

/// The results as a table for people (the header when `header`).
pub fn table(results: &[ScaleResult], header: bool) -> String {
    let mut o = String::new();
    if header {
        let _ = writeln!(
            o,
            "{:>5} {:>10} {:>7} {:>5} {:>5} {:>8} {:>9} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>7}  bottleneck",
            "index",
            "profile",
            "workers",
            "mtu",
            "links",
            "Gbps",
            "req/s",
            "cpu",
            "cpumax",
            "link",
            "client",
            "memory",
            "thesis",
            "error"
        );
    }
    for r in results {
        let pct = |f: f64| format!("{:.1}%", f * 100.0);
        // The profile of the thesis's stack: the error against the thesis,
        // starred when outside its reading error; any other profile: how
        // many times the thesis's throughput it predicts.
        let (thesis, error) = match r.thesis_gbps {
            Some(t) if r.profile == CostModel::RUSTY_2015.name => (
                format!("{t:.3}"),
                format!(
                    "{:+.1}%{}",
                    (r.gbps - t) / t * 100.0,
                    if within_reading_error(r.gbps, t) {
                        " "
                    } else {
                        "*"
                    }
                ),
            ),
            Some(t) => (format!("{t:.3}"), format!("{:.2}x ", r.gbps / t)),
            None => ("-".into(), "- ".into()),
        };
        let _ = writeln!(
            o,
            "{:>5} {:>10} {:>7} {:>5} {:>5} {:>8.3} {:>9.1} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>7}  {}{}",
            r.index,
            r.profile,
            r.workers,
            r.mtu,
            r.links,
            r.gbps,
            r.rps,
            pct(r.core_util_mean),
            pct(r.core_util_max),
            pct(r.link_util),
            pct(r.client_util),
            pct(r.memory_util),
            thesis,
            error,
            r.bottleneck.as_str(),
            if r.saturated { "" } else { " (not saturated)" }
        );
    }
    o
}

/// Why a `--workers` or `--mtu` list could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListError(pub String);

impl std::fmt::Display for ListError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ListError {}

/// The most points one list may name.
pub const MAX_LIST: usize = 10_000;

/// Parses a list such as `1,2,8`, `1..35` (inclusive) or a mix
/// (`1..4,8,16..18`) of numbers in `min..=max`.
pub fn parse_list(s: &str, min: u32, max: u32) -> Result<Vec<u32>, ListError> {
    let mut out = Vec::new();
    let num = |t: &str| -> Result<u32, ListError> {
        let v: u32 = t
            .trim()
            .parse()
            .map_err(|_| ListError(format!("`{}` is not a number", t.trim())))?;
        if (min..=max).contains(&v) {
            Ok(v)
        } else {
            Err(ListError(format!("{v} is outside {min}..={max}")))
        }
    };
    for part in s.split(',') {
        if part.trim().is_empty() {
            return Err(ListError(format!("`{s}`: an empty item")));
        }
        match part.split_once("..") {
            Some((a, b)) => {
                let b = b.strip_prefix('=').unwrap_or(b);
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(ListError(format!("range {a}..{b} is empty")));
                }
                if out.len() + (b - a) as usize >= MAX_LIST {
                    return Err(ListError(format!("more than {MAX_LIST} values")));
                }
                out.extend(a..=b);
            }
            None => out.push(num(part)?),
        }
        if out.len() > MAX_LIST {
            return Err(ListError(format!("more than {MAX_LIST} values")));
        }
    }
    Ok(out)
}

/// Parses a `--workers` list (`1..=`[`MAX_WORKERS`]).
pub fn parse_workers(s: &str) -> Result<Vec<u32>, ListError> {
    parse_list(s, 1, MAX_WORKERS)
}

/// Parses an `--mtu` list ([`MIN_MTU`]`..=`[`MAX_MTU`]).
pub fn parse_mtus(s: &str) -> Result<Vec<u16>, ListError> {
    Ok(parse_list(s, MIN_MTU.into(), MAX_MTU.into())?
        .into_iter()
        .map(|v| v as u16)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_ranges() {
        assert_eq!(parse_workers("1,2,8").unwrap(), [1, 2, 8]);
        assert_eq!(parse_workers("1..4").unwrap(), [1, 2, 3, 4]);
        assert_eq!(
            parse_workers("1..=3, 8,16..17").unwrap(),
            [1, 2, 3, 8, 16, 17]
        );
        assert_eq!(parse_workers("5..5").unwrap(), [5]);
        assert_eq!(parse_mtus("68,1500,9000").unwrap(), [68, 1500, 9000]);
        for bad in ["", "0", "65", "1,,2", "4..2", "x", "1..x", "-1", "1.5"] {
            assert!(parse_workers(bad).is_err(), "{bad}");
        }
        assert!(parse_mtus("67").is_err());
        assert!(parse_mtus("9001").is_err());
        assert!(parse_list("0..100000", 0, 200_000).is_err());
    }

    #[test]
    fn points_are_mtu_major() {
        let config = ScaleConfig {
            workers: vec![1, 2],
            mtus: vec![1500, 9000],
            ..ScaleConfig::default()
        };
        let p = points(&config);
        let seen: Vec<(usize, u32, u16)> = p.iter().map(|p| (p.index, p.workers, p.mtu)).collect();
        assert_eq!(
            seen,
            [(0, 1, 1500), (1, 2, 1500), (2, 1, 9000), (3, 2, 9000)]
        );
        let s = scenario(&config, &p[3]);
        assert_eq!((s.server.workers, s.server.mtu), (2, 9000));
        assert_eq!(s.duration, DEFAULT_WARMUP_S + DEFAULT_DURATION_S);
        validate(&config).unwrap();
    }

    #[test]
    fn the_bottleneck_is_the_most_loaded_resource() {
        assert_eq!(
            Bottleneck::classify(0.95, 0.0, 0.5, 0.1),
            (Bottleneck::Cpu, true)
        );
        assert_eq!(
            Bottleneck::classify(0.5, 0.0, 0.95, 0.1),
            (Bottleneck::Link, true)
        );
        assert_eq!(
            Bottleneck::classify(0.5, 0.99, 0.5, 0.1),
            (Bottleneck::Memory, true)
        );
        assert_eq!(
            Bottleneck::classify(0.2, 0.0, 0.1, 0.99),
            (Bottleneck::Client, true)
        );
        assert_eq!(
            Bottleneck::classify(0.3, 0.0, 0.1, 0.1),
            (Bottleneck::Cpu, false)
        );
    }

    #[test]
    fn points_are_compared_with_the_thesis_at_its_mtu() {
        assert_eq!(thesis_gbps(1, 1500), Some(0.395));
        assert_eq!(thesis_gbps(35, 1500), Some(12.0));
        // Worker counts the thesis did not measure, and other MTUs.
        assert_eq!(thesis_gbps(2, 1500), None);
        assert_eq!(thesis_gbps(35, 9000), None);
        assert_eq!(thesis_gbps(0, 1500), None);
        // 10% or 0.25 Gbps, whichever is looser.
        assert!(within_reading_error(1.04, 0.8));
        assert!(!within_reading_error(1.06, 0.8));
        assert!(within_reading_error(13.1, 12.0));
        assert!(!within_reading_error(13.3, 12.0));
    }

    #[test]
    fn csv_header_only_when_asked() {
        let r = ScaleResult {
            index: 3,
            profile: "tilegx36".into(),
            workers: 2,
            mtu: 1500,
            links: 1,
            gbps: 0.5,
            rps: 10.0,
            core_util_mean: 0.9,
            core_util_max: 1.0,
            link_util: 0.05,
            client_util: 0.01,
            memory_util: 0.0,
            bottleneck: Bottleneck::Cpu,
            saturated: true,
            requests_ok: 7,
            requests_failed: 0,
            bytes_corrupt: 0,
            thesis_gbps: Some(0.395),
        };
        let with = csv(std::slice::from_ref(&r), true);
        let without = csv(std::slice::from_ref(&r), false);
        assert_eq!(with, format!("{CSV_HEADER}\n{without}"));
        assert_eq!(
            without,
            "3,tilegx36,2,1500,1,0.5000,10.0,0.9000,1.0000,0.0500,0.0100,0.0000,cpu,true,7,0,0,0.395\n"
        );
        assert_eq!(
            CSV_HEADER.split(',').count(),
            without.trim().split(',').count()
        );
        let v: serde_json::Value = serde_json::from_str(&json(&[r])).unwrap();
        assert_eq!(v[0]["bottleneck"], "cpu");
        assert!(table(&[], true).contains("bottleneck"));
    }
}
