//! The result of one simulation run: a [`Report`], printed for people by
//! [`Report::human`] or as one JSON object by [`Report::json`].
//!
//! Everything in a report is a function of the scenario and its seed except
//! the wall-clock fields [`Report::wall_s`] and [`Report::speed`];
//! [`Report::without_wall_clock`] blanks them so runs can be compared.
//!
//! ```
//! use rusty_sim::run::report::Report;
//! use rusty_sim::scenario::Scenario;
//!
//! let mut r = Report::new(&Scenario::small());
//! r.virtual_s = 0.2;
//! r.requests_ok = 100;
//! r.bytes_ok = 25_000_000;
//! r.set_wall_clock(0.1);
//! r.compute_rates();
//! assert_eq!(r.rps, 500.0);
//! assert_eq!(r.gbps, 1.0);
//! assert_eq!(r.speed, 2.0);
//! assert!(r.json().starts_with('{'));
//! assert!(r.human().contains("requests/s"));
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::hosts::attacker::AttackCounters;
use crate::hosts::faults::HostFaultCounters;
use crate::hosts::rusty::HostMemory;
use crate::kernel::determinism::TraceSummary;
use crate::scenario::workload::Failures;
use crate::scenario::Scenario;

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    /// The scenario's name.
    pub scenario: String,
    /// The seed the run used.
    pub seed: u64,
    /// Server worker cores.
    pub workers: u32,
    /// Concurrent client connections.
    pub conns: u32,
    /// MTU of the links.
    pub mtu: u16,
    /// Links (NIC ports) used.
    pub links: u8,
    /// The client's stack (`rusty` or `smoltcp`).
    pub client: String,
    /// The server's cost model (`tilegx36`, `x86` or `zero`).
    pub cost_model: String,
    /// Virtual seconds simulated (less than the scenario's duration when
    /// `max_requests` ended the run).
    pub virtual_s: f64,
    /// Wall-clock seconds the run took (not deterministic).
    pub wall_s: f64,
    /// Virtual seconds per wall-clock second (not deterministic).
    pub speed: f64,
    /// Requests completed with a correct response.
    pub requests_ok: u64,
    /// Requests that ended in an error (reset, timeout, wrong data).
    pub requests_failed: u64,
    /// The failed requests by reason (refused, timeout, reset,
    /// verification, closed early, local); they add up to
    /// [`Report::requests_failed`].
    pub requests_failed_by_reason: Failures,
    /// Requests still in flight when the run ended (neither ok nor failed).
    pub requests_in_flight: u64,
    /// Response bytes received correctly (by completed requests).
    pub bytes_ok: u64,
    /// Response bytes that arrived but did not match the expected content.
    pub bytes_corrupt: u64,
    /// Goodput: `bytes_ok` in Gbit/s of virtual time.
    pub gbps: f64,
    /// Completed requests per virtual second.
    pub rps: f64,
    /// Median request latency in milliseconds (`null` without requests).
    pub latency_p50_ms: Option<f64>,
    /// 99th-percentile request latency in milliseconds.
    pub latency_p99_ms: Option<f64>,
    /// TCP segments retransmitted, server and client together.
    pub retransmits: u64,
    /// Frames dropped, by reason (stack drop reasons such as
    /// `ipv4_bad_checksum`, and link reasons such as `link_loss`).
    pub drops: BTreeMap<String, u64>,
    /// Per server core.
    pub per_core: Vec<CoreReport>,
    /// Busy fraction of the busiest client core.
    pub client_busy_frac: f64,
    /// Whether the client, rather than the server, limited the run.
    pub client_saturated: bool,
    /// Per link.
    pub per_link: Vec<LinkReport>,
    /// Memory-bandwidth utilisation of the server, in `[0, 1]`: aggregate
    /// DRAM bandwidth demand over capacity, filled by the cost profile (0
    /// when the profile models no memory).
    pub memory_utilization: f64,
    /// SHA-256 of the pcap file, in hex, when one was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pcap_sha256: Option<String>,
    /// The determinism trace: events folded and their hash (in JSON), and
    /// the checkpoints (through the API); `None` when tracing was off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub determinism: Option<TraceSummary>,
    /// What the attacker did and what the server made of it (runs with an
    /// `[attacker]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attack: Option<AttackReport>,
    /// What the server's own faults did (runs with `[server.faults]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_faults: Option<HostFaultReport>,
    /// The server's memory at its fullest (runs with an attacker or host
    /// faults, whose question is whether memory stayed bounded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_memory: Option<HostMemory>,
    /// What the server's cost profile charged its cores, all of the run:
    /// cycles split into instructions, allocations and memory stalls,
    /// allocations made and DRAM bytes moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cost: Option<crate::hosts::cost::Charge>,
}

/// An attack and the server's answers to it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AttackReport {
    /// Frames the attacker sent, by attack, and what it watched.
    pub sent: AttackCounters,
    /// SYN cookies the server sent (its SYN queue was full).
    pub syn_cookies_sent: u64,
    /// Connections the server established from a cookie.
    pub syn_cookies_accepted: u64,
    /// RFC 5961 challenge ACKs the server sent.
    pub challenge_acks: u64,
    /// ACKs to unacceptable segments the server's rate limits held back.
    pub acks_rate_limited: u64,
    /// RSTs that reset one of the server's connections.
    pub resets_received: u64,
}

/// The server's own faults and their visible effects.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HostFaultReport {
    /// Skipped runs of stalled cores, and buffers taken by pool squeezes.
    #[serde(flatten)]
    pub counters: HostFaultCounters,
    /// Transmit allocations made to fail.
    pub tx_alloc_failed: u64,
    /// Frames that found no receive buffer.
    pub rx_no_buffer: u64,
    /// Frames dropped at a full receive ring.
    pub rx_queue_full: u64,
}

/// What one server core did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CoreReport {
    /// The core's index.
    pub core: u32,
    /// Fraction of virtual time the core was busy, in `[0, 1]`.
    pub busy_frac: f64,
    /// Frames the core received.
    pub rx_frames: u64,
    /// Frames the core sent.
    pub tx_frames: u64,
}

/// What one link carried, both directions together.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LinkReport {
    /// The link's index.
    pub link: u8,
    /// Frames delivered.
    pub frames: u64,
    /// Bytes delivered (whole frames).
    pub bytes: u64,
    /// Fraction of the link's capacity used, over both directions, in
    /// `[0, 1]`.
    pub utilization: f64,
    /// Frames lost by fault injection (independent and burst loss, outages).
    pub lost: u64,
    /// Frames delivered twice.
    pub duplicated: u64,
    /// Frames held back and delivered out of order.
    pub reordered: u64,
    /// Frames delivered with a bit flipped.
    pub corrupted: u64,
    /// Corrupted frames the receiving NIC's FCS check dropped (only with
    /// `fcs_drop` set; left out of the JSON when zero).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fcs_dropped: u64,
    /// Frames dropped because the transmit queue was full.
    pub queue_drops: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Fraction of a busy core at or above which the client counts as
/// saturated.
pub const CLIENT_SATURATED_FRAC: f64 = 0.95;

impl Report {
    /// An empty report for `scenario`: its identity fields filled in,
    /// everything else zero.
    pub fn new(scenario: &Scenario) -> Report {
        Report {
            scenario: scenario.name.clone(),
            seed: scenario.seed,
            workers: scenario.server.workers,
            conns: scenario.client.conns,
            mtu: scenario.server.mtu,
            links: scenario.link_count(),
            client: enum_name(&scenario.client.kind),
            cost_model: scenario.server.cost_model.name.to_string(),
            ..Report::default()
        }
    }

    /// Sets the wall-clock time and the speed (virtual seconds per wall
    /// second) from it. Call after setting [`Report::virtual_s`].
    pub fn set_wall_clock(&mut self, wall_s: f64) {
        self.wall_s = wall_s;
        self.speed = if wall_s > 0.0 {
            self.virtual_s / wall_s
        } else {
            0.0
        };
    }

    /// Sets [`Report::gbps`] and [`Report::rps`] from the byte and request
    /// counts and [`Report::virtual_s`], and [`Report::client_saturated`]
    /// from [`Report::client_busy_frac`].
    pub fn compute_rates(&mut self) {
        if self.virtual_s > 0.0 {
            self.gbps = self.bytes_ok as f64 * 8.0 / self.virtual_s / 1e9;
            self.rps = self.requests_ok as f64 / self.virtual_s;
        } else {
            self.gbps = 0.0;
            self.rps = 0.0;
        }
        self.client_saturated = self.client_busy_frac >= CLIENT_SATURATED_FRAC;
    }

    /// The same report with the wall-clock fields (`wall_s`, `speed`) set to
    /// zero: equal for equal scenarios and seeds.
    pub fn without_wall_clock(&self) -> Report {
        Report {
            wall_s: 0.0,
            speed: 0.0,
            ..self.clone()
        }
    }

    /// Total drops over all reasons.
    pub fn total_drops(&self) -> u64 {
        self.drops.values().sum()
    }

    /// The report as one line of JSON (no trailing newline).
    pub fn json(&self) -> String {
        serde_json::to_string(self).expect("a report always serialises to JSON")
    }

    /// The report as aligned text for people, ending with a newline.
    pub fn human(&self) -> String {
        let mut o = String::new();
        let ms = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.3} ms"));
        // `write!` to a String cannot fail.
        let _ = writeln!(o, "scenario     {} (seed {})", self.scenario, self.seed);
        let _ = writeln!(
            o,
            "server       {} workers ({}), {} link{}, MTU {}",
            self.workers,
            self.cost_model,
            self.links,
            if self.links == 1 { "" } else { "s" },
            self.mtu
        );
        let _ = writeln!(
            o,
            "client       {}, {} connections{}",
            self.client,
            self.conns,
            if self.client_saturated {
                format!(
                    " (SATURATED: busiest client core {:.1}% busy)",
                    self.client_busy_frac * 100.0
                )
            } else {
                format!(", busiest core {:.1}% busy", self.client_busy_frac * 100.0)
            }
        );
        o.push('\n');
        let _ = writeln!(o, "throughput   {:.3} Gbps", self.gbps);
        let _ = writeln!(o, "requests/s   {:.1}", self.rps);
        let _ = writeln!(
            o,
            "requests     {} ok, {} failed, {} in flight at the end",
            self.requests_ok, self.requests_failed, self.requests_in_flight
        );
        if self.requests_failed > 0 {
            let f = &self.requests_failed_by_reason;
            let _ = write!(
                o,
                "  failed by  {} refused, {} timeout, {} reset, {} verification, \
                 {} closed early, {} local",
                f.refused, f.timeout, f.reset, f.verification, f.closed_early, f.local
            );
            if f.handshake > 0 {
                let _ = write!(o, ", {} handshake (cause unknown)", f.handshake);
            }
            o.push('\n');
        }
        let _ = writeln!(
            o,
            "bytes        {} ok, {} corrupt",
            human_bytes(self.bytes_ok),
            human_bytes(self.bytes_corrupt)
        );
        let _ = writeln!(
            o,
            "latency      p50 {}, p99 {}",
            ms(self.latency_p50_ms),
            ms(self.latency_p99_ms)
        );
        let _ = writeln!(o, "retransmits  {}", self.retransmits);
        let nonzero: Vec<_> = self.drops.iter().filter(|(_, &n)| n > 0).collect();
        if nonzero.is_empty() {
            let _ = writeln!(o, "drops        none");
        } else {
            let _ = writeln!(o, "drops        {} in all", self.total_drops());
            let width = nonzero.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (reason, n) in nonzero {
                let _ = writeln!(o, "  {reason:<width$}  {n:>12}");
            }
        }
        o.push('\n');
        let _ = writeln!(o, "virtual time {:.6} s", self.virtual_s);
        let _ = writeln!(o, "wall time    {:.3} s", self.wall_s);
        let _ = writeln!(o, "speed        {:.3}x real time", self.speed);

        if !self.per_core.is_empty() {
            o.push('\n');
            let _ = writeln!(
                o,
                "core  busy                             {:>12} {:>12}",
                "rx frames", "tx frames"
            );
            for c in &self.per_core {
                let _ = writeln!(
                    o,
                    "{:>4}  {} {:>5.1}% {:>12} {:>12}",
                    c.core,
                    bar(c.busy_frac, 24),
                    c.busy_frac * 100.0,
                    c.rx_frames,
                    c.tx_frames
                );
            }
        }
        if !self.per_link.is_empty() {
            o.push('\n');
            let _ = writeln!(
                o,
                "link  util   {:>12} {:>14} {:>8} {:>8} {:>8} {:>8} {:>8}",
                "frames", "bytes", "lost", "dup", "reorder", "corrupt", "qdrop"
            );
            for l in &self.per_link {
                let _ = writeln!(
                    o,
                    "{:>4} {:>5.1}%  {:>12} {:>14} {:>8} {:>8} {:>8} {:>8} {:>8}",
                    l.link,
                    l.utilization * 100.0,
                    l.frames,
                    l.bytes,
                    l.lost,
                    l.duplicated,
                    l.reordered,
                    l.corrupted,
                    l.queue_drops
                );
            }
        }
        if let Some(sha) = &self.pcap_sha256 {
            o.push('\n');
            let _ = writeln!(o, "pcap sha256  {sha}");
        }
        if let Some(t) = &self.determinism {
            let _ = writeln!(o, "determinism  {} events, hash {:016x}", t.events, t.hash);
        }
        if let Some(a) = &self.attack {
            let s = &a.sent;
            o.push('\n');
            let _ = writeln!(
                o,
                "attack       sent {} SYNs, {} RSTs, {} data, {} ACKs of unsent data, {} out-of-window \
                 ({} connections watched)",
                s.syns, s.rsts, s.data, s.acks, s.storm, s.flows_seen
            );
            let _ = writeln!(
                o,
                "defence      {} SYN cookies sent, {} accepted; {} challenge ACKs, {} ACKs rate-limited; \
                 {} connections reset by RSTs",
                a.syn_cookies_sent,
                a.syn_cookies_accepted,
                a.challenge_acks,
                a.acks_rate_limited,
                a.resets_received
            );
        }
        if let Some(f) = &self.host_faults {
            let _ = writeln!(
                o,
                "host faults  {} stalled runs, {} buffers squeezed, {} tx allocations failed, \
                 {} frames without buffer, {} at a full ring",
                f.counters.stalled_runs,
                f.counters.squeezed_buffers,
                f.tx_alloc_failed,
                f.rx_no_buffer,
                f.rx_queue_full
            );
        }
        if let Some(m) = &self.server_memory {
            let _ = writeln!(
                o,
                "memory       per core at most {} of {} buffers, {} of {} connection slots",
                m.peak_buffers_in_use,
                m.buffers_per_core,
                m.peak_connections,
                m.connection_slots_per_core
            );
        }
        o
    }
}

/// The serde name of a unit enum value (`rusty`, `tilegx36`).
pub fn enum_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// `[#####.....]` for a fraction in `[0, 1]` (clamped), `width` cells wide.
fn bar(frac: f64, width: usize) -> String {
    let frac = if frac.is_finite() {
        frac.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let full = (frac * width as f64).round() as usize;
    format!("[{}{}]", "#".repeat(full), ".".repeat(width - full))
}

/// Bytes with a decimal unit: `512 B`, `1.50 MB`, `4.67 GB`.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    format!("{v:.2} {unit} ({n} B)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut r = Report::new(&Scenario::thesis());
        r.virtual_s = 2.0;
        r.requests_ok = 1000;
        r.requests_failed = 2;
        r.requests_failed_by_reason.reset = 2;
        r.requests_in_flight = 7;
        r.bytes_ok = 2_500_000_000;
        r.bytes_corrupt = 10;
        r.latency_p50_ms = Some(1.5);
        r.latency_p99_ms = Some(9.25);
        r.retransmits = 33;
        r.drops.insert("ipv4_bad_checksum".into(), 4);
        r.drops.insert("link_loss".into(), 12);
        r.drops.insert("tcp_no_listener".into(), 0);
        r.per_core = (0..3)
            .map(|i| CoreReport {
                core: i,
                busy_frac: f64::from(i) * 0.4,
                rx_frames: 100 * u64::from(i),
                tx_frames: 200 * u64::from(i),
            })
            .collect();
        r.per_link = vec![LinkReport {
            link: 0,
            frames: 5,
            bytes: 6000,
            utilization: 0.5,
            lost: 1,
            ..LinkReport::default()
        }];
        r.client_busy_frac = 0.5;
        r.set_wall_clock(4.0);
        r.compute_rates();
        r
    }

    #[test]
    fn identity_from_scenario() {
        let r = Report::new(&Scenario::thesis());
        assert_eq!(r.scenario, "thesis");
        assert_eq!(r.workers, 35);
        assert_eq!(r.conns, 1000);
        assert_eq!(r.mtu, 1500);
        assert_eq!(r.links, 2);
        assert_eq!(r.client, "rusty");
        assert_eq!(r.cost_model, "tilegx36");
    }

    #[test]
    fn rates() {
        let r = sample();
        assert_eq!(r.gbps, 10.0);
        assert_eq!(r.rps, 500.0);
        assert_eq!(r.speed, 0.5);
        assert!(!r.client_saturated);
        let mut z = Report::default();
        z.compute_rates();
        z.set_wall_clock(0.0);
        assert_eq!((z.gbps, z.rps, z.speed), (0.0, 0.0, 0.0));
        z.client_busy_frac = 0.99;
        z.compute_rates();
        assert!(z.client_saturated);
    }

    #[test]
    fn json_has_the_documented_fields() {
        let r = sample();
        let line = r.json();
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        for key in [
            "scenario",
            "seed",
            "workers",
            "conns",
            "mtu",
            "virtual_s",
            "wall_s",
            "requests_ok",
            "requests_failed",
            "bytes_ok",
            "bytes_corrupt",
            "gbps",
            "rps",
            "retransmits",
            "drops",
            "per_core",
            "latency_p50_ms",
            "latency_p99_ms",
            "client_saturated",
            "client_busy_frac",
            "per_link",
            "speed",
            "requests_failed_by_reason",
            "memory_utilization",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["requests_failed_by_reason"]["reset"], 2);
        assert_eq!(v["requests_failed_by_reason"]["timeout"], 0);
        assert!(v.get("determinism").is_none(), "only when traced");
        assert!(v.get("pcap_sha256").is_none());
        assert_eq!(v["drops"]["link_loss"], 12);
        assert_eq!(v["per_core"][1]["busy_frac"], 0.4);
        assert_eq!(v["per_core"][2]["rx_frames"], 200);
        assert_eq!(v["per_core"][2]["tx_frames"], 400);
        assert_eq!(v["per_core"][2]["core"], 2);
        assert_eq!(v["scenario"], "thesis");

        let mut r = r;
        r.pcap_sha256 = Some("ab".repeat(32));
        let v: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(v["pcap_sha256"], "ab".repeat(32));
        r.latency_p50_ms = None;
        let v: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        assert!(v["latency_p50_ms"].is_null());
    }

    #[test]
    fn wall_clock_blanked() {
        let a = sample();
        let mut b = sample();
        b.set_wall_clock(17.0);
        assert_ne!(a, b);
        assert_eq!(a.without_wall_clock(), b.without_wall_clock());
        assert_eq!(a.without_wall_clock().wall_s, 0.0);
        assert_eq!(a.without_wall_clock().speed, 0.0);
        assert_eq!(a.without_wall_clock().gbps, a.gbps);
    }

    #[test]
    fn human_report() {
        let h = sample().human();
        for needle in [
            "scenario     thesis (seed 1)",
            "35 workers (tilegx36), 2 links, MTU 1500",
            "rusty, 1000 connections",
            "throughput   10.000 Gbps",
            "requests/s   500.0",
            "1000 ok, 2 failed, 7 in flight",
            "failed by  0 refused, 0 timeout, 2 reset, 0 verification, 0 closed early, 0 local",
            "2.50 GB (2500000000 B) ok, 10 B corrupt",
            "p50 1.500 ms, p99 9.250 ms",
            "retransmits  33",
            "drops        16 in all",
            "  ipv4_bad_checksum             4",
            "  link_loss                    12",
            "virtual time 2.000000 s",
            "wall time    4.000 s",
            "speed        0.500x real time",
            "   1  [##########..............]  40.0%          100          200",
            "   2  [###################.....]  80.0%          200          400",
        ] {
            assert!(h.contains(needle), "missing {needle:?} in\n{h}");
        }
        assert!(
            !h.contains("tcp_no_listener"),
            "zero drops are left out\n{h}"
        );
        assert!(!h.contains("pcap"));
        assert!(h.ends_with('\n'));

        let mut r = Report::new(&Scenario::small());
        r.client_busy_frac = 1.0;
        r.compute_rates();
        let h = r.human();
        assert!(h.contains("drops        none"), "{h}");
        assert!(h.contains("p50 -, p99 -"), "{h}");
        assert!(h.contains("SATURATED"), "{h}");
        assert!(h.contains("1 link,"), "{h}");
        r.pcap_sha256 = Some("00".repeat(32));
        assert!(r
            .human()
            .contains(&format!("pcap sha256  {}", "00".repeat(32))));
        assert!(!h.contains("failed by"), "no failures, no breakdown\n{h}");
        r.requests_failed = 3;
        r.requests_failed_by_reason.handshake = 3;
        assert!(
            r.human().contains("0 local, 3 handshake (cause unknown)\n"),
            "{}",
            r.human()
        );
        r.requests_failed = 0;
        r.requests_failed_by_reason.handshake = 0;
        r.determinism = Some(crate::kernel::determinism::TraceSummary {
            events: 12,
            hash: 0xab,
            ..Default::default()
        });
        assert!(r
            .human()
            .contains("determinism  12 events, hash 00000000000000ab"));
        let v: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(v["determinism"]["events"], 12);
        assert_eq!(v["determinism"]["hash"], "00000000000000ab");
    }

    #[test]
    fn bars_and_bytes() {
        assert_eq!(bar(0.0, 4), "[....]");
        assert_eq!(bar(1.0, 4), "[####]");
        assert_eq!(bar(2.0, 4), "[####]");
        assert_eq!(bar(f64::NAN, 4), "[....]");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1500), "1.50 kB (1500 B)");
    }
}
