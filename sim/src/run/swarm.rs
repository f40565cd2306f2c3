//! `rusty-sim swarm`: a seed-driven search for bugs, after TigerBeetle's
//! VOPR and swarm testing.
//!
//! Each seed draws a whole scenario ([`draw`]) from its own stream of the
//! seed tree: the host shapes (workers, client cores, MTU, whether the flow
//! hash is known), the TCP options (SACK, timestamps, delayed ACK, minimum
//! RTO, TIME-WAIT, initial window), the workload (pages, echo or bulk, the
//! client stack), and *which* faults are on and how strong — swarm
//! testing: most seeds turn on a few faults, one of them heavy, and leave
//! the others off, which finds more than every fault always on a little.
//! A quarter of the seeds add an attacker (SYN flood, blind RSTs and data,
//! ACKs of unsent data, out-of-window storms) and a quarter the server's
//! own faults (a stalled core, squeezed pools and rings, failing transmit
//! allocations), drawn the same way.
//! The run has a **safety phase** (the scenario's `duration`, with the
//! faults: no corrupt byte may reach an application, the simulator's
//! checks must hold) and a **liveness phase** (the links heal, the clients
//! stop, and every connection must complete or fail visibly within the
//! drain limit). A failing seed is printed with its scenario as TOML;
//! `rusty-sim run that.toml` reproduces it, liveness phase included.
//!
//! ```
//! use rusty_sim::run::swarm;
//!
//! let a = swarm::draw(7, 60.0);
//! assert_eq!(a, swarm::draw(7, 60.0)); // the seed decides everything
//! a.validate().unwrap();
//! let outcome = swarm::run_seed(3, 60.0);
//! assert!(outcome.passed(), "{outcome:?}");
//! ```

use rand_core::RngCore;
use serde::Serialize;

use crate::cli::RunOptions;
use crate::hosts::attacker::AttackSpec;
use crate::hosts::faults::{HostFaults, PoolSqueeze, RingSqueeze, Stall};
use crate::kernel::rng::{below, bernoulli, Seeds};
use crate::net::link::{CorruptScope, Faults, Flap, GilbertElliott, Window};
use crate::scenario::{ClientKind, LivenessSpec, PageSpec, Ports, Scenario, Workload};
use rusty_stack::time::{Duration, Instant};

/// What one seed's run came to.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SwarmOutcome {
    /// The seed.
    pub seed: u64,
    /// `None` when both phases passed; else why not.
    pub failure: Option<String>,
    /// Requests completed (with verified bytes).
    pub requests_ok: u64,
    /// Requests that failed visibly (counted by reason).
    pub requests_failed: u64,
    /// The faults that were on, by name.
    pub faults: Vec<&'static str>,
    /// The drawn scenario, as TOML (`rusty-sim run` reproduces the run).
    pub scenario: String,
}

impl SwarmOutcome {
    /// Whether the seed passed.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// A uniform pick from `choices`.
fn pick<T: Copy>(rng: &mut impl RngCore, choices: &[T]) -> T {
    choices[below(rng, choices.len() as u64) as usize]
}

/// A probability up to `max`, skewed small (the square of a uniform).
fn strength(rng: &mut impl RngCore, max: f64) -> f64 {
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    (u * u * max).min(max)
}

/// The scenario of `seed`, with a liveness phase of at most `drain_s`
/// virtual seconds.
pub fn draw(seed: u64, drain_s: f64) -> Scenario {
    let rng = &mut Seeds::new(seed).stream("swarm", 0);
    let mut s = Scenario::small();
    s.name = format!("swarm-{seed}");
    s.seed = seed;
    s.duration = pick(rng, &[0.05, 0.1, 0.2]);
    s.liveness = Some(LivenessSpec { drain_s });

    // Host shapes.
    s.server.workers = 1 + below(rng, 4) as u32;
    s.server.ports = Ports::Count(1);
    s.server.mtu = pick(rng, &[576, 1000, 1500, 1500, 9000]);
    s.client.cores = 1 + below(rng, 2) as u32;
    s.client.hash_known = bernoulli(rng, 0.5);
    s.client.conns = pick(rng, &[1, 2, 8, 20, 64]);
    s.client.kind = if bernoulli(rng, 0.25) {
        ClientKind::Smoltcp
    } else {
        ClientKind::Rusty
    };

    // TCP options.
    let tcp = &mut s.server.tcp;
    tcp.sack = bernoulli(rng, 0.7);
    tcp.timestamps = bernoulli(rng, 0.7);
    tcp.delayed_ack_ms = pick(rng, &[0, 1, 40, 200]);
    tcp.min_rto_ms = pick(rng, &[10, 50, 200]);
    tcp.time_wait_ms = pick(rng, &[10, 100, 1000]);
    s.server.initial_window = pick(rng, &[1460, 4380, 14_600, 29_200, 65_535]);

    // The workload.
    s.workload = match below(rng, 4) {
        0 => Workload::Echo {
            message_bytes: pick(rng, &[1, 100, 1460, 5000]),
        },
        1 => Workload::Bulk {
            bytes: pick(rng, &[1, 10_000, 200_000]),
        },
        _ => Workload::ThesisHttp {},
    };
    s.client.pages = PageSpec::Small {
        count: pick(rng, &[1, 10, 50]),
        bytes: pick(rng, &[1, 100, 8192, 70_000]),
    };

    // Swarm testing: each fault on with probability 1/3, one of those
    // heavy; a fifth of the seeds run clean.
    let mut f = Faults::default();
    if !bernoulli(rng, 0.2) {
        let kinds = [
            "loss",
            "burst",
            "duplicate",
            "reorder",
            "corrupt",
            "down",
            "flap",
        ];
        let heavy = pick(rng, &kinds);
        for kind in kinds {
            if kind != heavy && !bernoulli(rng, 1.0 / 3.0) {
                continue;
            }
            let scale = if kind == heavy { 1.0 } else { 0.2 };
            match kind {
                "loss" => f.loss = strength(rng, 0.3 * scale),
                "burst" => {
                    f.burst = Some(GilbertElliott {
                        p_good_to_bad: strength(rng, 0.05 * scale),
                        p_bad_to_good: 0.05 + strength(rng, 0.5),
                        loss_good: 0.0,
                        loss_bad: 0.3 + strength(rng, 0.7),
                    })
                }
                "duplicate" => f.duplicate = strength(rng, 0.3 * scale),
                "reorder" => {
                    f.reorder = strength(rng, 0.3 * scale);
                    f.reorder_delay = Duration::from_micros(1 + below(rng, 2000));
                }
                "corrupt" => {
                    f.corrupt = strength(rng, 0.1 * scale);
                    f.corrupt_scope = pick(
                        rng,
                        &[
                            CorruptScope::All,
                            CorruptScope::Ipv4Only,
                            CorruptScope::ArpOnly,
                        ],
                    );
                    f.fcs_drop = pick(rng, &[0.0, 0.0, 0.5, 1.0]);
                }
                "down" => {
                    let from = below(rng, (s.duration * 1e6) as u64);
                    let len = 1 + below(rng, 50_000);
                    f.down = vec![Window {
                        from: Instant::from_micros(from),
                        until: Instant::from_micros(from + len),
                    }];
                }
                _ => {
                    let period = 1_000 + below(rng, 50_000);
                    f.flap = Some(Flap {
                        period: Duration::from_micros(period),
                        down_for: Duration::from_micros(below(rng, period / 2)),
                        start: None,
                    });
                }
            }
        }
    }
    s.links.faults = f;
    draw_hostile_hosts(seed, &mut s);
    s
}

/// Virtual seconds a half-open connection from a spoofed SYN can live: its
/// SYN-ACK is retried 5 times from a 1 s RTO (1 + 2 + 4 + 8 + 16 + 32 s),
/// so a drain after a SYN flood must be longer.
const SYN_FLOOD_DRAIN_S: f64 = 70.0;

/// Swarm testing of hosts: an attacker in a quarter of the seeds and the
/// server's own faults in another quarter, each attack or fault on with
/// probability 1/2. Drawn from a stream of their own, so the rest of a
/// seed's scenario keeps its draws.
fn draw_hostile_hosts(seed: u64, s: &mut Scenario) {
    let rng = &mut Seeds::new(seed).stream("swarm-hosts", 0);
    let duration_us = (s.duration * 1e6) as u64;
    let within = |rng: &mut rand_chacha::ChaCha8Rng| Instant::from_micros(below(rng, duration_us));
    if bernoulli(rng, 0.25) {
        let mut a = AttackSpec {
            from: within(rng),
            ..AttackSpec::default()
        };
        let rates = [100.0, 1_000.0, 20_000.0];
        if bernoulli(rng, 0.5) {
            a.syn_flood_pps = pick(rng, &[1_000.0, 10_000.0, 100_000.0]);
        }
        for rate in [
            &mut a.rst_pps,
            &mut a.data_pps,
            &mut a.ack_pps,
            &mut a.storm_pps,
        ] {
            if bernoulli(rng, 0.5) {
                *rate = pick(rng, &rates);
            }
        }
        a.spoofed_sources = 1 + below(rng, 240) as u32;
        if a.syn_flood_pps > 0.0 {
            if let Some(l) = s.liveness.as_mut() {
                l.drain_s = l.drain_s.max(SYN_FLOOD_DRAIN_S);
            }
        }
        s.attacker = Some(a);
    }
    if bernoulli(rng, 0.25) {
        let mut f = HostFaults::default();
        let window = |rng: &mut rand_chacha::ChaCha8Rng| {
            let from = within(rng);
            (from, from + Duration::from_micros(1 + below(rng, 20_000)))
        };
        if bernoulli(rng, 0.5) {
            let (from, until) = window(rng);
            f.stalls.push(Stall {
                core: below(rng, u64::from(s.server.workers)) as u32,
                from,
                until,
            });
        }
        if bernoulli(rng, 0.5) {
            let (from, until) = window(rng);
            f.pool_squeeze.push(PoolSqueeze {
                from,
                until,
                share: pick(rng, &[0.5, 0.9, 1.0]),
            });
        }
        if bernoulli(rng, 0.5) {
            let (from, until) = window(rng);
            f.ring_squeeze.push(RingSqueeze {
                from,
                until,
                frames: below(rng, 4) as u32,
            });
        }
        if bernoulli(rng, 0.5) {
            f.alloc_tx_fail = strength(rng, 0.2);
        }
        s.server.faults = f;
    }
}

/// The names of the faults `s` turns on: its links', its attacker, its
/// server's own.
fn faults_on(s: &Scenario) -> Vec<&'static str> {
    let f = &s.links.faults;
    let h = &s.server.faults;
    let mut on = Vec::new();
    let flags = [
        ("loss", f.loss > 0.0),
        ("burst", f.burst.is_some()),
        ("duplicate", f.duplicate > 0.0),
        ("reorder", f.reorder > 0.0),
        ("corrupt", f.corrupt > 0.0),
        ("down", !f.down.is_empty()),
        ("flap", f.flap.is_some()),
        ("attack", s.attacker.is_some()),
        ("stall", !h.stalls.is_empty()),
        ("pool_squeeze", !h.pool_squeeze.is_empty()),
        ("ring_squeeze", !h.ring_squeeze.is_empty()),
        ("alloc_tx_fail", h.alloc_tx_fail > 0.0),
    ];
    for (name, set) in flags {
        if set {
            on.push(name);
        }
    }
    on
}

/// Runs seed `seed`'s scenario through both phases.
pub fn run_seed(seed: u64, drain_s: f64) -> SwarmOutcome {
    let scenario = draw(seed, drain_s);
    let mut outcome = SwarmOutcome {
        seed,
        failure: None,
        requests_ok: 0,
        requests_failed: 0,
        faults: faults_on(&scenario),
        scenario: scenario.to_toml(),
    };
    if let Err(e) = scenario.validate() {
        outcome.failure = Some(format!("the drawn scenario is invalid: {e}"));
        return outcome;
    }
    match crate::run::engine::run(&scenario, &RunOptions::default(), &mut |_| {}) {
        Ok(report) => {
            outcome.requests_ok = report.requests_ok;
            outcome.requests_failed = report.requests_failed;
            if report.bytes_corrupt > 0 {
                outcome.failure = Some(format!(
                    "safety: {} corrupt bytes reached an application",
                    report.bytes_corrupt
                ));
            }
        }
        Err(e) => outcome.failure = Some(e.to_string()),
    }
    outcome
}

/// Which seeds of `first..first + count` this shard runs: those whose
/// index is `index` modulo `of` (see [`crate::run::shard`]).
pub fn shard_seeds(first: u64, count: u64, index: u64, of: u64) -> impl Iterator<Item = u64> {
    crate::run::shard::shard_indices(count, index, of).map(move |i| first.wrapping_add(i))
}

/// The shard `(index, of)` from the environment of a Slurm array task
/// (`SLURM_ARRAY_TASK_ID` of `SLURM_ARRAY_TASK_COUNT`) or a Kubernetes
/// indexed job (`JOB_COMPLETION_INDEX` of `RUSTY_SWARM_SHARDS`, or of
/// `RUSTY_SHARDS`), if any (see [`crate::run::shard::shard_from_env`]).
pub fn shard_from_env(get: impl Fn(&str) -> Option<String>) -> Option<(u64, u64)> {
    use crate::run::shard::{SHARDS_VAR, SWARM_SHARDS_VAR};
    crate::run::shard::shard_from_env(get, &[SWARM_SHARDS_VAR, SHARDS_VAR])
}

/// Runs `seeds` on `jobs` threads; outcomes in seed order.
pub fn run_seeds(seeds: &[u64], jobs: usize, drain_s: f64) -> Vec<SwarmOutcome> {
    let jobs = jobs.clamp(1, 64);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut outcomes: Vec<Option<SwarmOutcome>> = vec![None; seeds.len()];
    let slots = std::sync::Mutex::new(&mut outcomes);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&seed) = seeds.get(i) else { break };
                let outcome =
                    std::panic::catch_unwind(|| run_seed(seed, drain_s)).unwrap_or_else(|panic| {
                        let what = panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "a panic".into());
                        let scenario = draw(seed, drain_s);
                        SwarmOutcome {
                            seed,
                            failure: Some(format!("panicked: {what}")),
                            requests_ok: 0,
                            requests_failed: 0,
                            faults: faults_on(&scenario),
                            scenario: scenario.to_toml(),
                        }
                    });
                if let Ok(mut slots) = slots.lock() {
                    slots[i] = Some(outcome);
                }
            });
        }
    });
    outcomes.into_iter().flatten().collect()
}
