//! The determinism trace: every event of a run folded into one running
//! hash, with checkpoints, so that two runs that should be identical can
//! be compared and, when they are not, the first event at which they
//! differ can be named (as madsim's determinism check does), rather than
//! only learning that two captures differ.
//!
//! # What is folded
//!
//! The world records three kinds of [`TraceEvent`], in the order they
//! happen:
//!
//! * [`TraceKind::Wake`] — a core ran: the host, the core, the number of
//!   frames the run sent and a digest of its outcome (when it is busy until,
//!   when it wants to run next);
//! * [`TraceKind::Send`] — a frame left a host's port for its link: the
//!   frame's length and a digest of its bytes;
//! * [`TraceKind::Arrive`] — a frame reached a host's port (after the
//!   link's faults): length and digest again.
//!
//! Each event is numbered from 0 and folded, with its virtual time, into
//! the running hash with the FxHash step `h ← (rotl(h, 5) ⊕ w) · K` (the
//! rustc hasher's constant `K`) over the words `index`, `time`, `kind ‖
//! host`, `unit ‖ len` and `digest`; the digest of a frame is the same step
//! over its bytes as little-endian 64-bit words in four interleaved lanes,
//! and its length ([`frame_digest`]). Every [`TraceConfig::interval`] events a
//! [`Checkpoint`] (events so far, virtual time, hash) is kept.
//!
//! The step is cheap (about a cycle per 8 bytes, where SipHash-1-3 cost
//! the default run a fifth of its wall time) and, for a given `h`, a
//! bijection of the word, and of `h` for a given word: two runs whose
//! events differ in one word always end with different hashes. It is not
//! a cryptographic hash: differences crafted to cancel would go unseen,
//! which for telling two simulations apart does not matter. The encoding
//! is fixed and little-endian, so equal runs give equal hashes on every
//! machine. Folding allocates nothing; checkpoints grow a vector once per
//! interval.
//!
//! # Finding the first divergence
//!
//! [`first_divergent_window`] compares two runs' checkpoints and returns
//! the span of events between the last checkpoint they share and the
//! first they do not. [`check`] runs a scenario twice, and when the runs
//! differ runs both again recording every event of that window
//! ([`TraceConfig::record`]), so [`first_difference`] can name the first
//! differing event: its index, time, kind, host and what each run saw.
//!
//! ```
//! use rusty_sim::kernel::determinism::{Trace, TraceConfig, TraceKind};
//! use rusty_stack::time::Instant;
//!
//! let mut a = Trace::new(TraceConfig::every(4096));
//! let mut b = Trace::new(TraceConfig::every(4096));
//! for t in [&mut a, &mut b] {
//!     t.frame(TraceKind::Send, Instant::from_micros(1), (0, 0), b"frame");
//! }
//! assert_eq!(a.summary(), b.summary());
//! b.frame(TraceKind::Arrive, Instant::from_micros(2), (1, 0), b"frame");
//! assert_ne!(a.summary().hash, b.summary().hash);
//! ```

use std::fmt;
use std::ops::Range;

use serde::Serialize;

use rusty_stack::time::Instant;

/// The multiplier of the FxHash step (rustc's `FxHasher`, 64-bit).
const FX_K: u64 = 0x517c_c1b7_2722_0a95;

/// Default [`TraceConfig::interval`]: a checkpoint every 4096 events.
pub const DEFAULT_INTERVAL: u64 = 4096;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceKind {
    /// A core ran.
    Wake,
    /// A frame left a host for its link.
    Send,
    /// A frame reached a host.
    Arrive,
}

impl TraceKind {
    /// The kind's name: `wake`, `send` or `arrive`.
    pub const fn name(self) -> &'static str {
        match self {
            TraceKind::Wake => "wake",
            TraceKind::Send => "send",
            TraceKind::Arrive => "arrive",
        }
    }

    const fn code(self) -> u8 {
        match self {
            TraceKind::Wake => 1,
            TraceKind::Send => 2,
            TraceKind::Arrive => 3,
        }
    }
}

impl fmt::Display for TraceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One event as folded into the hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceEvent {
    /// Its number in the run, from 0.
    pub index: u64,
    /// Its virtual time.
    pub at: Instant,
    /// What happened.
    pub kind: TraceKind,
    /// The host (its index in the world).
    pub host: u32,
    /// The core for a wake, the port for a send or an arrival.
    pub unit: u32,
    /// The frame's length; for a wake, the number of frames the run sent.
    pub len: u32,
    /// The [`frame_digest`] of the frame's bytes; for a wake, of its
    /// outcome (busy until, next wake-up).
    pub digest: u64,
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.kind {
            TraceKind::Wake => "core",
            TraceKind::Send | TraceKind::Arrive => "port",
        };
        let len = match self.kind {
            TraceKind::Wake => "frames sent",
            TraceKind::Send | TraceKind::Arrive => "bytes",
        };
        write!(
            f,
            "event {} at {}: {} host {} {unit} {}, {} {len}, digest {:016x}",
            self.index, self.at, self.kind, self.host, self.unit, self.len, self.digest
        )
    }
}

/// The state of a run after some number of events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    /// Events folded so far.
    pub events: u64,
    /// Virtual time of the last of them.
    pub at: Instant,
    /// The running hash after them.
    pub hash: u64,
}

/// What a [`Trace`] keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceConfig {
    /// Fold events at all. Off, the trace costs one branch per event and
    /// its summary says zero events.
    pub enabled: bool,
    /// Keep a [`Checkpoint`] every this many events (at least 1).
    pub interval: u64,
    /// Keep every event whose index is in this range (to name a
    /// divergence); `None` keeps none.
    pub record: Option<Range<u64>>,
    /// A test hook: if event `n` carries a frame, flip its last byte before
    /// it is hashed and handed on, so that a run differs from its twin at
    /// exactly that event. A wake at `n` is left alone.
    pub perturb: Option<u64>,
}

impl Default for TraceConfig {
    /// Off: folding every frame's bytes costs the default run about 8% of
    /// its wall time, so runs trace only when asked (`--trace`,
    /// `--check-determinism`, [`TraceConfig::every`]).
    fn default() -> Self {
        TraceConfig {
            enabled: false,
            interval: DEFAULT_INTERVAL,
            record: None,
            perturb: None,
        }
    }
}

impl TraceConfig {
    /// On, with a checkpoint every `interval` events, nothing recorded or
    /// perturbed.
    pub fn every(interval: u64) -> Self {
        TraceConfig {
            enabled: true,
            interval,
            ..TraceConfig::default()
        }
    }
}

/// What a run's trace says: the event count and final hash (in reports),
/// the checkpoints and any recorded events (for comparisons).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TraceSummary {
    /// Events folded.
    pub events: u64,
    /// The final running hash, as 16 hex digits in JSON.
    #[serde(serialize_with = "hex_u64")]
    pub hash: u64,
    /// Events between checkpoints.
    pub interval: u64,
    /// The checkpoints, in order.
    #[serde(skip)]
    pub checkpoints: Vec<Checkpoint>,
    /// The events recorded ([`TraceConfig::record`]), in order.
    #[serde(skip)]
    pub records: Vec<TraceEvent>,
}

fn hex_u64<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:016x}"))
}

/// The running hash of a run; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Trace {
    config: TraceConfig,
    hash: u64,
    events: u64,
    last_at: Instant,
    checkpoints: Vec<Checkpoint>,
    records: Vec<TraceEvent>,
}

impl Default for Trace {
    /// A trace that is off ([`TraceConfig::default`]).
    fn default() -> Self {
        Trace::new(TraceConfig::default())
    }
}

impl Trace {
    /// An empty trace.
    pub fn new(config: TraceConfig) -> Self {
        Trace {
            config: TraceConfig {
                interval: config.interval.max(1),
                ..config
            },
            hash: 0,
            events: 0,
            last_at: Instant::ZERO,
            checkpoints: Vec::new(),
            records: Vec::new(),
        }
    }

    /// Whether events are folded.
    #[inline]
    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    /// Whether the next event is the one [`TraceConfig::perturb`] names.
    #[inline]
    pub fn perturbs_next(&self) -> bool {
        self.config.enabled && self.config.perturb == Some(self.events)
    }

    /// Folds a frame event (a send or an arrival) of `frame` on a host's
    /// port, `(host, port)`, at `at`.
    #[inline]
    pub fn frame(&mut self, kind: TraceKind, at: Instant, to: (usize, usize), frame: &[u8]) {
        if self.config.enabled {
            self.frame_digested(kind, at, to, frame.len(), frame_digest(frame));
        }
    }

    /// Folds a frame event whose [`frame_digest`] is known (an arrival of
    /// bytes that were digested when they were sent).
    #[inline]
    pub fn frame_digested(
        &mut self,
        kind: TraceKind,
        at: Instant,
        (host, port): (usize, usize),
        len: usize,
        digest: u64,
    ) {
        if self.config.enabled {
            self.fold(kind, at, host, port, len, digest);
        }
    }

    /// Folds the run of `host`'s `core` at `at` that sent `sent` frames and
    /// is busy until `busy_until`, next due at `wake_at`.
    #[inline]
    pub fn wake(
        &mut self,
        at: Instant,
        (host, core): (usize, usize),
        sent: usize,
        busy_until: Instant,
        wake_at: Option<Instant>,
    ) {
        if !self.config.enabled {
            return;
        }
        let next = wake_at.map_or(u64::MAX, Instant::as_nanos);
        let mut outcome = [0u8; 16];
        outcome[..8].copy_from_slice(&busy_until.as_nanos().to_le_bytes());
        outcome[8..].copy_from_slice(&next.to_le_bytes());
        let digest = frame_digest(&outcome);
        self.fold(TraceKind::Wake, at, host, core, sent, digest);
    }

    fn fold(
        &mut self,
        kind: TraceKind,
        at: Instant,
        host: usize,
        unit: usize,
        len: usize,
        digest: u64,
    ) {
        let event = TraceEvent {
            index: self.events,
            at,
            kind,
            host: host as u32,
            unit: unit as u32,
            len: len as u32,
            digest,
        };
        self.hash = chain(self.hash, &event);
        self.events += 1;
        self.last_at = at;
        if self.events.is_multiple_of(self.config.interval) {
            self.checkpoints.push(self.checkpoint());
        }
        if self
            .config
            .record
            .as_ref()
            .is_some_and(|r| r.contains(&event.index))
        {
            self.records.push(event);
        }
    }

    /// The state now.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            events: self.events,
            at: self.last_at,
            hash: self.hash,
        }
    }

    /// Events folded so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The summary so far (copies the checkpoints and records).
    pub fn summary(&self) -> TraceSummary {
        TraceSummary {
            events: self.events,
            hash: self.hash,
            interval: self.config.interval,
            checkpoints: self.checkpoints.clone(),
            records: self.records.clone(),
        }
    }
}

/// One FxHash step: `(rotl(h, 5) ⊕ w) · K`.
#[inline]
fn fx(h: u64, w: u64) -> u64 {
    (h.rotate_left(5) ^ w).wrapping_mul(FX_K)
}

/// The digest of `bytes`: four FxHash lanes, lane `i` taking the
/// little-endian 64-bit words `i, i + 4, i + 8, …` (the last word
/// zero-padded), then the step over the length and the four lanes. Four
/// independent chains keep the multiplier busy (one chain is bound by its
/// latency); a difference in one word still always shows, each step being
/// a bijection.
#[inline]
pub fn frame_digest(bytes: &[u8]) -> u64 {
    let mut lanes = [0u64, 1, 2, 3];
    let mut blocks = bytes.chunks_exact(32);
    for block in &mut blocks {
        for (i, lane) in lanes.iter_mut().enumerate() {
            let mut w = [0u8; 8];
            w.copy_from_slice(&block[8 * i..8 * i + 8]);
            *lane = fx(*lane, u64::from_le_bytes(w));
        }
    }
    for (lane, w) in lanes.iter_mut().zip(blocks.remainder().chunks(8)) {
        *lane = fx(*lane, word(w));
    }
    lanes.into_iter().fold(fx(0, bytes.len() as u64), fx)
}

/// Up to 8 bytes as a little-endian word, zero-padded.
#[inline]
fn word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    let n = bytes.len().min(8);
    w[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(w)
}

/// The running hash after `event`, from `hash` before it.
#[inline]
fn chain(hash: u64, e: &TraceEvent) -> u64 {
    let kind_host = u64::from(e.kind.code()) | u64::from(e.host) << 8;
    let unit_len = u64::from(e.unit) | u64::from(e.len) << 32;
    [e.index, e.at.as_nanos(), kind_host, unit_len, e.digest]
        .into_iter()
        .fold(hash, fx)
}

/// The events between the last checkpoint two runs share and the first
/// they do not: the first divergence lies in `from..until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DivergenceWindow {
    /// Events known equal (the first event that may differ).
    pub from: u64,
    /// The first event index past the window.
    pub until: u64,
    /// Virtual time of the last equal checkpoint.
    pub from_at: Instant,
}

/// Where the checkpoints of `a` and `b` (their final states included)
/// first differ; `None` when the runs are the same.
pub fn first_divergent_window(a: &TraceSummary, b: &TraceSummary) -> Option<DivergenceWindow> {
    let mut equal = Checkpoint {
        events: 0,
        at: Instant::ZERO,
        hash: 0,
    };
    for (ca, cb) in a.checkpoints.iter().zip(&b.checkpoints) {
        if ca != cb {
            return Some(DivergenceWindow {
                from: equal.events,
                until: ca.events.max(cb.events),
                from_at: equal.at,
            });
        }
        equal = *ca;
    }
    if a.events == b.events && a.hash == b.hash {
        return None;
    }
    Some(DivergenceWindow {
        from: equal.events,
        until: a.events.max(b.events),
        from_at: equal.at,
    })
}

/// The first event where two runs differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The event's index.
    pub index: u64,
    /// What the first run did (`None`: it had ended).
    pub first: Option<TraceEvent>,
    /// What the second run did (`None`: it had ended).
    pub second: Option<TraceEvent>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "first divergence at event {}", self.index)?;
        for (name, e) in [("run 1", &self.first), ("run 2", &self.second)] {
            match e {
                Some(e) => writeln!(f, "  {name}: {e}")?,
                None => writeln!(f, "  {name}: no event (the run had ended)")?,
            }
        }
        Ok(())
    }
}

/// The first place two recorded event lists (of the same window) differ;
/// `None` when they are equal.
pub fn first_difference(a: &[TraceEvent], b: &[TraceEvent]) -> Option<Divergence> {
    let n = a.len().max(b.len());
    (0..n).find_map(|i| {
        let (ea, eb) = (a.get(i).copied(), b.get(i).copied());
        (ea != eb).then(|| Divergence {
            index: ea.or(eb).map_or(i as u64, |e| e.index),
            first: ea,
            second: eb,
        })
    })
}

/// Which of the two runs [`check`] asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Twin {
    /// The reference run.
    First,
    /// The run compared with it.
    Second,
}

/// What [`check`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Both runs folded the same events into the same hash.
    Deterministic {
        /// Events in each run.
        events: u64,
        /// Their final hash.
        hash: u64,
    },
    /// The runs differ.
    Diverged {
        /// Where the checkpoints first differ.
        window: DivergenceWindow,
        /// The first differing event, found by running both again and
        /// recording the window; `None` if the repeated runs agreed there
        /// (a divergence that does not reproduce).
        first: Option<Divergence>,
    },
}

impl Verdict {
    /// Whether the runs were the same.
    pub fn is_deterministic(&self) -> bool {
        matches!(self, Verdict::Deterministic { .. })
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Deterministic { events, hash } => {
                writeln!(f, "deterministic: {events} events, hash {hash:016x}")
            }
            Verdict::Diverged { window, first } => {
                writeln!(
                    f,
                    "NOT deterministic: the runs agree on events 0..{} (up to {}) \
                     and first differ in events {}..{}",
                    window.from, window.from_at, window.from, window.until
                )?;
                match first {
                    Some(d) => write!(f, "{d}"),
                    None => writeln!(
                        f,
                        "  recording that window in two more runs found no difference: \
                         the divergence does not reproduce"
                    ),
                }
            }
        }
    }
}

/// Runs a scenario twice through `run` (told which twin and with which
/// trace settings) and compares the traces; when they differ, runs both
/// again recording the divergent window to name the first differing event.
pub fn check<E>(
    interval: u64,
    mut run: impl FnMut(Twin, &TraceConfig) -> Result<TraceSummary, E>,
) -> Result<Verdict, E> {
    let config = TraceConfig::every(interval);
    let a = run(Twin::First, &config)?;
    let b = run(Twin::Second, &config)?;
    let Some(window) = first_divergent_window(&a, &b) else {
        return Ok(Verdict::Deterministic {
            events: a.events,
            hash: a.hash,
        });
    };
    let recording = TraceConfig {
        record: Some(window.from..window.until),
        ..config
    };
    let a = run(Twin::First, &recording)?;
    let b = run(Twin::Second, &recording)?;
    Ok(Verdict::Diverged {
        window,
        first: first_difference(&a.records, &b.records),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trace of `n` frame events, the `bad`-th (if any) with other bytes.
    fn run(n: u64, bad: Option<u64>, config: &TraceConfig) -> TraceSummary {
        let mut t = Trace::new(config.clone());
        for i in 0..n {
            let byte = if Some(i) == bad { 1 } else { 0 };
            let at = Instant::from_micros(i);
            t.frame(TraceKind::Arrive, at, ((i % 3) as usize, 0), &[byte; 60]);
        }
        t.summary()
    }

    fn config(interval: u64) -> TraceConfig {
        TraceConfig::every(interval)
    }

    #[test]
    fn equal_runs_have_equal_checkpoints() {
        let (a, b) = (run(1000, None, &config(64)), run(1000, None, &config(64)));
        assert_eq!(a, b);
        assert_eq!(a.checkpoints.len(), 1000 / 64);
        assert_eq!(a.checkpoints[0].events, 64);
        assert_eq!(a.checkpoints[0].at, Instant::from_micros(63));
        assert_eq!(first_divergent_window(&a, &b), None);
    }

    #[test]
    fn the_window_holds_the_divergence() {
        let a = run(1000, None, &config(64));
        for bad in [0, 63, 64, 500, 999] {
            let b = run(1000, Some(bad), &config(64));
            let w = first_divergent_window(&a, &b).expect("differs");
            assert!((w.from..w.until).contains(&bad), "{bad}: {w:?}");
            assert!(w.until - w.from <= 64, "{w:?}");
        }
        // One run longer than the other.
        let long = run(1010, None, &config(64));
        let w = first_divergent_window(&a, &long).expect("differs");
        assert_eq!((w.from, w.until), (960, 1010));
        let w = first_divergent_window(&run(10, None, &config(64)), &a).unwrap();
        assert_eq!((w.from, w.until), (0, 1000));
    }

    #[test]
    fn check_names_the_first_differing_event() {
        let verdict = check(64, |twin, config| {
            Ok::<_, ()>(run(700, (twin == Twin::Second).then_some(321), config))
        })
        .unwrap();
        let Verdict::Diverged { window, first } = verdict else {
            panic!("{verdict:?}")
        };
        assert_eq!((window.from, window.until), (320, 384));
        let d = first.expect("reproduces");
        assert_eq!(d.index, 321);
        let (a, b) = (d.first.unwrap(), d.second.unwrap());
        assert_eq!(
            (a.kind, a.host, a.at),
            (TraceKind::Arrive, 0, Instant::from_micros(321))
        );
        assert_eq!(a.len, b.len);
        assert_ne!(a.digest, b.digest);
        let text = Verdict::Diverged { window, first }.to_string();
        assert!(text.contains("first divergence at event 321"), "{text}");
        assert!(text.contains("arrive host 0 port 0, 60 bytes"), "{text}");

        let same = check(64, |_, config| Ok::<_, ()>(run(700, None, config))).unwrap();
        assert!(same.is_deterministic());
        assert!(same
            .to_string()
            .starts_with("deterministic: 700 events, hash "));
    }

    #[test]
    fn a_divergence_that_does_not_reproduce_is_said_so() {
        let mut calls = 0;
        let verdict = check(64, |twin, config| {
            calls += 1;
            // Only the first pair of runs differs.
            let bad = (twin == Twin::Second && calls == 2).then_some(5);
            Ok::<_, ()>(run(100, bad, config))
        })
        .unwrap();
        assert_eq!(calls, 4);
        assert!(matches!(verdict, Verdict::Diverged { first: None, .. }));
        assert!(verdict.to_string().contains("does not reproduce"));
    }

    #[test]
    fn first_difference_covers_ended_runs() {
        let rec = |n| {
            let all = TraceConfig {
                record: Some(0..u64::MAX),
                ..config(8)
            };
            run(n, None, &all).records
        };
        assert_eq!(first_difference(&rec(5), &rec(5)), None);
        let d = first_difference(&rec(5), &rec(3)).unwrap();
        assert_eq!((d.index, d.second), (3, None));
        assert!(d.to_string().contains("run 2: no event"));
    }

    #[test]
    fn disabled_traces_fold_nothing_and_perturb_nothing() {
        let off = TraceConfig {
            enabled: false,
            perturb: Some(0),
            ..config(8)
        };
        let mut t = Trace::new(off);
        assert!(!t.perturbs_next());
        t.frame(TraceKind::Send, Instant::ZERO, (0, 0), b"x");
        t.wake(Instant::ZERO, (0, 0), 1, Instant::ZERO, None);
        assert_eq!(t.summary().events, 0);
        assert_eq!(t.summary().hash, 0);
    }

    #[test]
    fn every_field_counts() {
        let base = |t: &mut Trace| t.frame(TraceKind::Send, Instant::from_nanos(5), (1, 2), b"abc");
        let mut reference = Trace::new(config(64));
        base(&mut reference);
        let h = reference.summary().hash;
        let variants: [&dyn Fn(&mut Trace); 5] = [
            &|t| t.frame(TraceKind::Arrive, Instant::from_nanos(5), (1, 2), b"abc"),
            &|t| t.frame(TraceKind::Send, Instant::from_nanos(6), (1, 2), b"abc"),
            &|t| t.frame(TraceKind::Send, Instant::from_nanos(5), (0, 2), b"abc"),
            &|t| t.frame(TraceKind::Send, Instant::from_nanos(5), (1, 3), b"abc"),
            &|t| t.frame(TraceKind::Send, Instant::from_nanos(5), (1, 2), b"abd"),
        ];
        for v in variants {
            let mut t = Trace::new(config(64));
            v(&mut t);
            assert_ne!(t.summary().hash, h);
        }
        let wake = |busy, next| {
            let mut t = Trace::new(config(64));
            t.wake(Instant::ZERO, (0, 0), 0, Instant::from_nanos(busy), next);
            t.summary().hash
        };
        assert_ne!(wake(1, None), wake(2, None));
        assert_ne!(wake(1, None), wake(1, Some(Instant::from_nanos(9))));
    }

    #[test]
    fn a_one_bit_difference_anywhere_changes_the_digest() {
        let frame: Vec<u8> = (0..61u8).collect();
        let d = frame_digest(&frame);
        for bit in 0..frame.len() * 8 {
            let mut other = frame.clone();
            other[bit / 8] ^= 1 << (bit % 8);
            assert_ne!(frame_digest(&other), d, "bit {bit}");
        }
        // The length counts: trailing zeros are not padding.
        assert_ne!(frame_digest(&[1, 0]), frame_digest(&[1]));
        assert_ne!(frame_digest(&[]), frame_digest(&[0]));
    }

    #[test]
    fn the_hash_is_pinned() {
        // If this changes, every recorded trace hash changes.
        let mut t = Trace::new(config(64));
        t.frame(TraceKind::Send, Instant::from_nanos(1), (0, 0), b"rusty");
        t.wake(
            Instant::from_nanos(2),
            (1, 3),
            1,
            Instant::from_nanos(7),
            None,
        );
        assert_eq!(t.summary().hash, PINNED_HASH, "{:#x}", t.summary().hash);
    }

    /// The hash of the two events of `the_hash_is_pinned`.
    const PINNED_HASH: u64 = 0x6e74_12b9_0fb6_07d3;

    #[test]
    fn json_shows_count_and_hex_hash() {
        let s = run(3, None, &config(8));
        let v: serde_json::Value = serde_json::to_value(&s).unwrap();
        assert_eq!(v["events"], 3);
        assert_eq!(v["interval"], 8);
        assert_eq!(v["hash"].as_str().unwrap().len(), 16);
        assert!(v.get("checkpoints").is_none());
    }
}
