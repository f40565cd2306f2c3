//! `rusty-sim bench`: Rusty and smoltcp side by side on the page workload,
//! in wall-clock time on this machine.
//!
//! Both ends, an HTTP server and a load client, run on one thread over an
//! in-memory, zero-latency link (MTU 1500, no loss). The client keeps
//! `conns` connections open, each fetching one page of the 500-page set
//! (one request per connection, a new handshake each time) and verifying
//! every byte of the response.
//!
//! * [`rusty`] — Rusty's [`HttpServer`](rusty_apps::HttpServer) and
//!   [`HttpLoadClient`](rusty_apps::HttpLoadClient) on two
//!   [`Stack`](rusty_stack::Stack)s over [`rusty_stack::nic::pair`];
//! * [`smoltcp`] — both ends smoltcp, over a device pair of the same kind.
//!
//! # Time
//!
//! The stacks run on a virtual clock that stands still while there is work
//! (the link has no latency and the stacks cost no virtual time); when
//! neither end has anything to do, it jumps to the earliest timer (a
//! delayed ACK, say). So a run is deterministic apart from the wall-clock
//! figures, and waiting for timers costs no wall time.
//!
//! # Measurement
//!
//! A warm-up of [`BenchConfig::warmup`] completed requests comes first (by
//! default [`default_warmup`]: every connection slot and socket is used
//! before measuring). Then the measured phase runs until `--requests`
//! more requests have completed or `--seconds` of wall time have passed,
//! counting wall time, the thread's CPU time, frames crossing the link
//! (both directions), response body bytes and, when the counting
//! allocator is installed, the measuring thread's heap allocations. Then
//! the client stops starting requests and the open ones finish (not
//! measured). Failed requests and corrupt bytes are counted over the whole
//! run.

pub mod rusty;
pub mod smoltcp;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant as WallInstant;

use serde::Serialize;

use rusty_stack::wire::Ipv4Addr;

/// Requests measured when neither `--requests` nor `--seconds` is given.
pub const DEFAULT_REQUESTS: u64 = 5000;

/// The most connections the command line accepts.
pub const MAX_CONNS: u32 = 100_000;

/// The most connections a run can keep open: the client has one address
/// and the ephemeral ports 1024 to 65535 ([`EPHEMERAL_PORTS`]), some of
/// which must stay free for ports to be reused in turn.
pub const MAX_RUNNABLE_CONNS: u32 = 60_000;

/// The client's local ports, for both stacks.
pub const EPHEMERAL_PORTS: (u16, u16) = (1024, 65535);

/// The server's address.
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

/// The client's address.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// The server's TCP port.
pub const HTTP_PORT: u16 = 80;

/// Seed of the page choices (the same sequence for both stacks).
pub const PAGE_SEED: u64 = 0x6265_6e63_6821; // "bench!"

/// Virtual time a phase may jump over while waiting for timers before the
/// run counts as stalled.
pub const MAX_VIRTUAL_WAIT_S: u64 = 600;

/// Frames in flight the link (queues and buffer pools) is sized for.
///
/// Without loss the peak is set by the client's receive windows: each
/// connection may have up to a 64 KiB window of 1500-byte frames (45) in
/// flight; on top come handshakes, ACKs and a margin.
pub fn link_frames(conns: u32) -> usize {
    conns as usize * 48 + 1024
}

/// Warm-up requests by default: every connection once, and a few hundred
/// more.
pub fn default_warmup(conns: u32) -> u64 {
    u64::from(conns) + 200
}

/// Which stack runs both ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BenchStack {
    /// Rusty's HTTP server and load client.
    Rusty,
    /// smoltcp on both ends.
    Smoltcp,
}

impl BenchStack {
    /// The name in reports (`rusty` or `smoltcp`).
    pub const fn name(self) -> &'static str {
        match self {
            BenchStack::Rusty => "rusty",
            BenchStack::Smoltcp => "smoltcp",
        }
    }
}

/// When the measured phase ends.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stop {
    /// After this many requests completed (ok or failed).
    Requests(u64),
    /// After this many seconds of wall time.
    Seconds(f64),
}

/// What to run.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchConfig {
    /// The stack of both ends.
    pub stack: BenchStack,
    /// Concurrent connections (1 to [`MAX_RUNNABLE_CONNS`]).
    pub conns: u32,
    /// When the measured phase ends.
    pub stop: Stop,
    /// Requests completed before measuring starts.
    pub warmup: u64,
    /// Seed of the page choices.
    pub seed: u64,
    /// Rusty's server copies page bodies into its transmit buffers instead
    /// of sending them by reference (the pair driver then offers no
    /// reference slots). No effect on smoltcp, which always copies.
    pub copy_bodies: bool,
}

impl BenchConfig {
    /// `conns` connections of `stack`, stopping at `stop`, with the default
    /// warm-up and seed.
    pub fn new(stack: BenchStack, conns: u32, stop: Stop) -> Self {
        BenchConfig {
            stack,
            conns,
            stop,
            warmup: default_warmup(conns),
            seed: PAGE_SEED,
            copy_bodies: false,
        }
    }

    /// Checks the settings; the error says what is wrong.
    pub fn validate(&self) -> Result<(), BenchError> {
        if self.conns == 0 {
            return Err(BenchError::NoConns);
        }
        if self.conns > MAX_RUNNABLE_CONNS {
            return Err(BenchError::TooManyConns(self.conns));
        }
        if self.copy_bodies && self.stack != BenchStack::Rusty {
            return Err(BenchError::CopyBodiesNeedsRusty);
        }
        match self.stop {
            Stop::Requests(0) => Err(BenchError::NoRequests),
            Stop::Seconds(s) if !(s.is_finite() && s > 0.0) => Err(BenchError::Seconds(s)),
            _ => Ok(()),
        }
    }
}

/// Why a bench could not run, or stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum BenchError {
    /// `--conns 0`.
    NoConns,
    /// More connections than one client address can keep open.
    TooManyConns(u32),
    /// `--requests 0`.
    NoRequests,
    /// `--seconds` not finite and above zero.
    Seconds(f64),
    /// `--copy-bodies` with a stack other than Rusty (smoltcp always
    /// copies: the flag would measure nothing else).
    CopyBodiesNeedsRusty,
    /// Rusty's server could not listen.
    RustyListen(rusty_stack::stack::ListenError),
    /// smoltcp's server could not listen.
    SmolListen(::smoltcp::socket::tcp::ListenError),
    /// A host's static ARP entry did not fit its cache.
    ArpCacheFull {
        /// `server` or `client`.
        host: &'static str,
    },
    /// An address prefix was invalid.
    Prefix,
    /// A phase stalled: nothing to do and no timer pending.
    Stalled {
        /// The phase (`warm-up`, `measured phase`, `drain`).
        phase: &'static str,
        /// What the runners had counted.
        totals: Totals,
    },
    /// A phase stalled: too much virtual time spent waiting for timers.
    TimedOut {
        /// The phase.
        phase: &'static str,
        /// What the runners had counted.
        totals: Totals,
    },
}

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BenchError::NoConns => f.write_str("--conns must be at least 1"),
            BenchError::TooManyConns(conns) => write!(
                f,
                "--conns {conns} is more than one client address can keep open: at most \
                 {MAX_RUNNABLE_CONNS} (its ephemeral ports are {}..={})",
                EPHEMERAL_PORTS.0, EPHEMERAL_PORTS.1
            ),
            BenchError::NoRequests => f.write_str("--requests must be at least 1"),
            BenchError::Seconds(s) => {
                write!(f, "--seconds must be a finite number above 0, got {s}")
            }
            BenchError::CopyBodiesNeedsRusty => f.write_str(
                "--copy-bodies applies to --stack rusty only (smoltcp always copies bodies)",
            ),
            BenchError::RustyListen(e) => write!(f, "cannot listen on port {HTTP_PORT}: {e}"),
            BenchError::SmolListen(e) => write!(f, "smoltcp cannot listen: {e}"),
            BenchError::ArpCacheFull { host } => write!(f, "the {host}'s ARP cache is full"),
            BenchError::Prefix => f.write_str("bad prefix"),
            BenchError::Stalled { phase, totals } => write!(
                f,
                "the {phase} stalled: nothing to do and no timer pending ({totals:?})"
            ),
            BenchError::TimedOut { phase, totals } => write!(
                f,
                "the {phase} stalled: more than {MAX_VIRTUAL_WAIT_S} virtual seconds \
                 spent waiting for timers ({totals:?})"
            ),
        }
    }
}

impl std::error::Error for BenchError {}

/// Totals a runner has counted since it was built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Requests whose response was verified.
    pub ok: u64,
    /// Requests that failed (any reason).
    pub failed: u64,
    /// Body bytes of the requests counted ok.
    pub bytes_ok: u64,
    /// Body bytes that differed from the page.
    pub bytes_corrupt: u64,
    /// Frames that crossed the link, both directions.
    pub frames: u64,
    /// Frames the link dropped (a full queue or an exhausted pool); zero
    /// when the link is sized right.
    pub link_drops: u64,
}

impl Totals {
    /// Requests completed, ok or failed.
    pub fn completed(&self) -> u64 {
        self.ok + self.failed
    }
}

/// A server and a client joined by an in-memory link, run by [`run`].
pub trait BenchPair {
    /// Polls both ends once at the current virtual time. Returns whether
    /// anything happened (or frames are waiting).
    fn round(&mut self) -> bool;
    /// Nothing happens now: moves the virtual clock to the next timer.
    /// Returns false when no timer is pending.
    fn advance(&mut self) -> bool;
    /// The virtual time, in nanoseconds.
    fn virtual_ns(&self) -> u64;
    /// The totals so far.
    fn totals(&self) -> Totals;
    /// Starts no more requests.
    fn stop(&mut self);
    /// Stopped, and every connection of the client is gone.
    fn finished(&self) -> bool;
    /// Stack counters worth a look (retransmissions, TIME-WAIT evictions),
    /// by name.
    fn counters(&self) -> BTreeMap<String, u64>;
}

/// The result of a bench run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchReport {
    /// `rusty` or `smoltcp`.
    pub stack: BenchStack,
    /// Concurrent connections.
    pub conns: u32,
    /// The server sent page bodies by reference, without copying them
    /// (Rusty unless `--copy-bodies`; never smoltcp).
    pub bodies_by_reference: bool,
    /// Requests completed in the measured phase (ok or failed).
    pub requests: u64,
    /// Wall-clock seconds of the measured phase.
    pub wall_s: f64,
    /// CPU seconds the measuring thread used in the measured phase.
    pub cpu_s: f64,
    /// Requests per wall-clock second.
    pub rps: f64,
    /// Response body bits per wall-clock second, in Gbit/s.
    pub gbps: f64,
    /// Microseconds of CPU per request.
    pub us_cpu_per_req: f64,
    /// Frames crossing the link (both directions) per request.
    pub frames_per_req: f64,
    /// Heap allocations of the measuring thread per request; `null` when
    /// the counting allocator is not installed (outside the `rusty-sim`
    /// binary).
    pub allocs_per_req: Option<f64>,
    /// Requests that failed, over the whole run (warm-up and drain
    /// included).
    pub requests_failed: u64,
    /// Body bytes that differed from the pages, over the whole run.
    pub bytes_corrupt: u64,
    /// Requests verified in the measured phase.
    pub requests_ok: u64,
    /// Response body bytes verified in the measured phase.
    pub bytes: u64,
    /// Frames in the measured phase.
    pub frames: u64,
    /// Heap allocations in the measured phase (`null` without the
    /// counting allocator).
    pub allocs: Option<u64>,
    /// Bytes those allocations asked for.
    pub alloc_bytes: Option<u64>,
    /// Requests completed in the warm-up (not measured).
    pub warmup_requests: u64,
    /// Virtual seconds the measured phase spent waiting for timers.
    pub virtual_s: f64,
    /// Frames the link dropped over the whole run (zero when sized right).
    pub link_drops: u64,
    /// Stack counters at the end of the run.
    pub counters: BTreeMap<String, u64>,
}

impl BenchReport {
    /// Any request failed or any byte was corrupt.
    pub fn failed(&self) -> bool {
        self.requests_failed > 0 || self.bytes_corrupt > 0
    }

    /// The report as one line of JSON.
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The report for people.
    pub fn human(&self) -> String {
        let mut s = String::new();
        let allocs = self
            .allocs_per_req
            .map_or_else(|| "not counted".to_string(), |a| format!("{a:.2}"));
        let _ = writeln!(s, "stack        {}", self.stack.name());
        let _ = writeln!(s, "conns        {}", self.conns);
        let _ = writeln!(
            s,
            "bodies       {}",
            if self.bodies_by_reference {
                "sent by reference (the pair driver gathers them from the pages)"
            } else {
                "copied into transmit buffers"
            }
        );
        let _ = writeln!(
            s,
            "requests     {} measured ({} ok), after a warm-up of {}",
            self.requests, self.requests_ok, self.warmup_requests
        );
        let _ = writeln!(
            s,
            "time         {:.3} s wall, {:.3} s CPU, {:.3} s virtual",
            self.wall_s, self.cpu_s, self.virtual_s
        );
        let _ = writeln!(
            s,
            "throughput   {:.0} requests/s, {:.3} Gbit/s of response bodies",
            self.rps, self.gbps
        );
        let _ = writeln!(
            s,
            "per request  {:.2} us CPU, {:.2} frames, {allocs} allocations",
            self.us_cpu_per_req, self.frames_per_req
        );
        let _ = writeln!(
            s,
            "failures     {} requests failed, {} bytes corrupt, {} frames dropped",
            self.requests_failed, self.bytes_corrupt, self.link_drops
        );
        let counters: Vec<String> = self
            .counters
            .iter()
            .filter(|(_, &v)| v > 0)
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        if !counters.is_empty() {
            let _ = writeln!(s, "counters     {}", counters.join(", "));
        }
        s
    }
}

/// The calling thread's CPU time, if the platform tells it.
pub fn thread_cpu_time() -> Option<std::time::Duration> {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec for the call's
        // duration, and CLOCK_THREAD_CPUTIME_ID needs nothing else.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        if rc != 0 {
            return None;
        }
        let secs = u64::try_from(ts.tv_sec).ok()?;
        let nanos = u32::try_from(ts.tv_nsec).ok()?;
        Some(std::time::Duration::new(secs, nanos))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Runs `pair` until `done` holds, jumping the virtual clock over idle
/// time, at most [`MAX_VIRTUAL_WAIT_S`] of it.
fn drive<P: BenchPair>(
    pair: &mut P,
    phase: &'static str,
    mut done: impl FnMut(&P) -> bool,
) -> Result<(), BenchError> {
    let limit = pair
        .virtual_ns()
        .saturating_add(MAX_VIRTUAL_WAIT_S * 1_000_000_000);
    loop {
        if done(pair) {
            return Ok(());
        }
        if !pair.round() {
            if !pair.advance() {
                return Err(BenchError::Stalled {
                    phase,
                    totals: pair.totals(),
                });
            }
            if pair.virtual_ns() > limit {
                return Err(BenchError::TimedOut {
                    phase,
                    totals: pair.totals(),
                });
            }
        }
    }
}

/// Runs a bench: builds the pair, warms up, measures, drains.
pub fn run(config: &BenchConfig) -> Result<BenchReport, BenchError> {
    config.validate()?;
    match config.stack {
        BenchStack::Rusty => measure(config, rusty::RustyPair::new(config)?),
        BenchStack::Smoltcp => measure(config, smoltcp::SmolPair::new(config)?),
    }
}

/// Warm-up, measured phase and drain of `pair`.
fn measure<P: BenchPair>(config: &BenchConfig, mut pair: P) -> Result<BenchReport, BenchError> {
    drive(&mut pair, "warm-up", |p| {
        p.totals().completed() >= config.warmup
    })?;
    let before = pair.totals();
    let virtual_before = pair.virtual_ns();
    let cpu_before = thread_cpu_time();
    let wall_before = WallInstant::now();
    let allocs_before = (
        rusty_alloc_counter::thread_allocations(),
        rusty_alloc_counter::thread_allocated_bytes(),
    );
    let measured = match config.stop {
        Stop::Requests(n) => {
            let target = before.completed().saturating_add(n);
            drive(&mut pair, "measured phase", |p| {
                p.totals().completed() >= target
            })
        }
        Stop::Seconds(s) => {
            let wall = std::time::Duration::from_secs_f64(s);
            drive(&mut pair, "measured phase", |_| {
                wall_before.elapsed() >= wall
            })
        }
    };
    let allocs = (
        rusty_alloc_counter::thread_allocations() - allocs_before.0,
        rusty_alloc_counter::thread_allocated_bytes() - allocs_before.1,
    );
    let wall_s = wall_before.elapsed().as_secs_f64();
    let cpu_s = match (cpu_before, thread_cpu_time()) {
        (Some(a), Some(b)) => b.saturating_sub(a).as_secs_f64(),
        _ => 0.0,
    };
    measured?;
    let after = pair.totals();
    let virtual_s = (pair.virtual_ns() - virtual_before) as f64 / 1e9;
    pair.stop();
    drive(&mut pair, "drain", |p| p.finished())?;
    let end = pair.totals();

    let requests = after.completed() - before.completed();
    let bytes = after.bytes_ok - before.bytes_ok;
    let frames = after.frames - before.frames;
    let per_req = |x: f64| {
        if requests > 0 {
            x / requests as f64
        } else {
            0.0
        }
    };
    let per_s = |x: f64| if wall_s > 0.0 { x / wall_s } else { 0.0 };
    let counted = rusty_alloc_counter::is_installed();
    Ok(BenchReport {
        stack: config.stack,
        conns: config.conns,
        bodies_by_reference: config.stack == BenchStack::Rusty && !config.copy_bodies,
        requests,
        wall_s,
        cpu_s,
        rps: per_s(requests as f64),
        gbps: per_s(bytes as f64 * 8.0) / 1e9,
        us_cpu_per_req: per_req(cpu_s * 1e6),
        frames_per_req: per_req(frames as f64),
        allocs_per_req: counted.then(|| per_req(allocs.0 as f64)),
        requests_failed: end.failed,
        bytes_corrupt: end.bytes_corrupt,
        requests_ok: after.ok - before.ok,
        bytes,
        frames,
        allocs: counted.then_some(allocs.0),
        alloc_bytes: counted.then_some(allocs.1),
        warmup_requests: before.completed(),
        virtual_s,
        link_drops: end.link_drops,
        counters: pair.counters(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let ok = BenchConfig::new(BenchStack::Rusty, 1, Stop::Requests(1));
        assert_eq!(ok.validate(), Ok(()));
        let mut c = ok.clone();
        c.conns = 0;
        assert!(c.validate().is_err());
        c.conns = MAX_RUNNABLE_CONNS + 1;
        assert!(c.validate().unwrap_err().to_string().contains("at most"));
        for s in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let c = BenchConfig::new(BenchStack::Smoltcp, 1, Stop::Seconds(s));
            assert!(c.validate().is_err(), "{s}");
        }
        let c = BenchConfig::new(BenchStack::Smoltcp, 1, Stop::Requests(0));
        assert!(c.validate().is_err());
    }

    #[test]
    fn both_stacks_run_a_few_requests() {
        for stack in [BenchStack::Rusty, BenchStack::Smoltcp] {
            let mut config = BenchConfig::new(stack, 3, Stop::Requests(20));
            config.warmup = 5;
            let r = run(&config).unwrap();
            assert!(r.requests >= 20, "{r:?}");
            assert_eq!(r.requests, r.requests_ok, "{r:?}");
            assert!(!r.failed(), "{r:?}");
            assert_eq!(r.link_drops, 0, "{r:?}");
            assert!(r.frames_per_req > 4.0, "{r:?}");
            assert!(r.bytes > 0 && r.gbps > 0.0, "{r:?}");
            assert_eq!(
                r.allocs_per_req, None,
                "no counting allocator in unit tests"
            );
            let v: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
            assert_eq!(v["stack"], stack.name());
            assert!(r.human().contains("requests/s"));
        }
    }
}
