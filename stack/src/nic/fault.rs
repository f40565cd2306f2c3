//! A fault-injecting wrapper around any [`Driver`], after smoltcp's
//! `FaultInjector`: seeded loss, duplication, bit flips, delay with jitter,
//! reordering and a rate limit, in both directions. It is how impairment
//! reaches a real link (a TAP device, where the kernel here has no netem)
//! and any test that wants a bad network without the simulator.
//!
//! Every random choice comes from one [`SplitMix64`] seeded by the owner,
//! and time from [`FaultInjector::set_now`], so the same seed, the same
//! frames and the same times give the same faults.
//!
//! A [`FaultSpec`] parses from the `--impair` syntax of the examples:
//! `loss=0.02,dup=0.01,corrupt=0.001,reorder=0.05,delay=5ms,jitter=2ms,rate=100mbit,seed=7`
//! (every key optional; probabilities in `[0, 1]`, times in `us`, `ms` or
//! `s`, rates in `kbit`, `mbit` or `gbit` per second).
//!
//! ```
//! use rusty_stack::nic::fault::{FaultInjector, FaultSpec};
//! use rusty_stack::nic::pair::{pair, PairConfig};
//! use rusty_stack::nic::Driver;
//!
//! let spec: FaultSpec = "loss=1".parse().unwrap();
//! let (a, mut b) = pair(&PairConfig::default());
//! let mut a = FaultInjector::new(a, spec);
//! let frame = a.alloc_tx(60).unwrap();
//! a.transmit(frame).unwrap();
//! assert!(b.receive().is_none(), "lost");
//! assert_eq!(a.stats().tx.lost, 1);
//! ```

use core::fmt;
use core::str::FromStr;
use std::collections::VecDeque;

use super::{Capabilities, Driver, TxFull};
use crate::mem::buf::Frame;
use crate::rng::SplitMix64;
use crate::time::{Duration, Instant};

/// Frames each direction may hold back (delayed, reordered or rate
/// limited) at once; more are dropped and counted.
pub const MAX_HELD: usize = 1024;

/// What to inject (see the module docs for the text form).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaultSpec {
    /// Probability that a frame is lost.
    pub loss: f64,
    /// Probability that a frame is delivered twice.
    pub dup: f64,
    /// Probability that one bit of a frame is flipped.
    pub corrupt: f64,
    /// Probability that a frame is held back past the frames after it
    /// (by one to three times `delay + jitter`, at least 1 ms).
    pub reorder: f64,
    /// Delay added to every frame.
    pub delay: Duration,
    /// Extra delay, uniform in `[0, jitter]`, per frame.
    pub jitter: Duration,
    /// Rate limit in bits per second (frames wait for their turn).
    pub rate_bps: Option<u64>,
    /// Seed of every random choice.
    pub seed: u64,
}

impl Default for FaultSpec {
    /// No fault at all.
    fn default() -> Self {
        FaultSpec {
            loss: 0.0,
            dup: 0.0,
            corrupt: 0.0,
            reorder: 0.0,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            rate_bps: None,
            seed: 0,
        }
    }
}

/// Why a [`FaultSpec`] could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultSpecError(String);

impl fmt::Display for FaultSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad impairment: {}", self.0)
    }
}

impl std::error::Error for FaultSpecError {}

impl FromStr for FaultSpec {
    type Err = FaultSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut spec = FaultSpec::default();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| FaultSpecError(format!("`{item}` is not key=value")))?;
            let bad = |what: &str| FaultSpecError(format!("`{item}`: {what}"));
            match key {
                "loss" | "dup" | "corrupt" | "reorder" => {
                    let p: f64 = value.parse().map_err(|_| bad("not a number"))?;
                    if !(0.0..=1.0).contains(&p) {
                        return Err(bad("a probability is between 0 and 1"));
                    }
                    match key {
                        "loss" => spec.loss = p,
                        "dup" => spec.dup = p,
                        "corrupt" => spec.corrupt = p,
                        _ => spec.reorder = p,
                    }
                }
                "delay" | "jitter" => {
                    let d = parse_duration(value).ok_or_else(|| bad("a time like 5ms"))?;
                    if d > Duration::from_secs(60) {
                        return Err(bad("at most 60 s"));
                    }
                    if key == "delay" {
                        spec.delay = d;
                    } else {
                        spec.jitter = d;
                    }
                }
                "rate" => {
                    let r = parse_rate(value).ok_or_else(|| bad("a rate like 100mbit"))?;
                    spec.rate_bps = Some(r);
                }
                "seed" => spec.seed = value.parse().map_err(|_| bad("not an integer"))?,
                _ => return Err(bad("unknown key")),
            }
        }
        Ok(spec)
    }
}

fn parse_duration(s: &str) -> Option<Duration> {
    let (number, unit) = split_unit(s);
    let n: f64 = number
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n >= 0.0)?;
    let ns = match unit {
        "us" => n * 1e3,
        "ms" => n * 1e6,
        "s" => n * 1e9,
        _ => return None,
    };
    Some(Duration::from_nanos(ns as u64))
}

fn parse_rate(s: &str) -> Option<u64> {
    let (number, unit) = split_unit(s);
    let n: f64 = number
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n > 0.0)?;
    let bps = match unit {
        "kbit" => n * 1e3,
        "mbit" => n * 1e6,
        "gbit" => n * 1e9,
        _ => return None,
    };
    (1.0..=1e12).contains(&bps).then_some(bps as u64)
}

fn split_unit(s: &str) -> (&str, &str) {
    let at = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    s.split_at(at)
}

/// Counters of one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirectionStats {
    /// Frames that entered the injector.
    pub frames: u64,
    /// Frames lost on purpose.
    pub lost: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
    /// Frames with a bit flipped.
    pub corrupted: u64,
    /// Frames held back past later ones.
    pub reordered: u64,
    /// Frames dropped because too many were held back or the wrapped
    /// driver refused them, and duplicates not made because no buffer was
    /// free for one.
    pub overflow: u64,
    /// Frames drawn for corruption that went through intact: their bytes
    /// are partly read-only (a reference slot), and no buffer was free for
    /// the copy the flip would go into.
    pub corrupt_skipped: u64,
}

/// Counters of a [`FaultInjector`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Frames the wrapped driver received, on their way to the stack.
    pub rx: DirectionStats,
    /// Frames the stack sent, on their way to the wrapped driver.
    pub tx: DirectionStats,
}

/// One direction's frames held back, in release order, and its rate
/// limiter.
#[derive(Debug)]
struct Lane {
    held: VecDeque<(Instant, Frame)>,
    /// When the rate limiter lets the next frame go.
    free_at: Instant,
    stats: DirectionStats,
}

impl Lane {
    fn new() -> Self {
        Lane {
            held: VecDeque::with_capacity(MAX_HELD),
            free_at: Instant::ZERO,
            stats: DirectionStats::default(),
        }
    }

    /// Holds `frame` until `at`, keeping the queue in release order (a
    /// frame goes after those due at the same time).
    fn hold(&mut self, at: Instant, frame: Frame) {
        if self.held.len() >= MAX_HELD {
            self.stats.overflow += 1;
            return;
        }
        let pos = self.held.partition_point(|(t, _)| *t <= at);
        self.held.insert(pos, (at, frame));
    }

    fn pop_due(&mut self, now: Instant) -> Option<Frame> {
        if self.held.front().is_some_and(|(t, _)| *t <= now) {
            self.held.pop_front().map(|(_, f)| f)
        } else {
            None
        }
    }
}

/// A [`Driver`] that passes frames between the stack and `D`, injecting
/// the faults of its [`FaultSpec`] (see the module docs).
#[derive(Debug)]
pub struct FaultInjector<D> {
    inner: D,
    spec: FaultSpec,
    rng: SplitMix64,
    now: Instant,
    rx: Lane,
    tx: Lane,
}

impl<D: Driver> FaultInjector<D> {
    /// Wraps `inner`.
    pub fn new(inner: D, spec: FaultSpec) -> Self {
        FaultInjector {
            inner,
            rng: SplitMix64::new(spec.seed),
            spec,
            now: Instant::ZERO,
            rx: Lane::new(),
            tx: Lane::new(),
        }
    }

    /// Sets the current time (the owner's clock; before each poll).
    pub fn set_now(&mut self, now: Instant) {
        self.now = now;
    }

    /// The wrapped driver.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// The wrapped driver, mutably.
    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// The counters.
    pub fn stats(&self) -> FaultStats {
        FaultStats {
            rx: self.rx.stats,
            tx: self.tx.stats,
        }
    }

    /// Whether the receive lane is full: frames wait in the wrapped driver
    /// until a held one is due ([`FaultInjector::next_release`]), so an
    /// owner that sleeps on the wrapped device (readable all along) should
    /// sleep until then instead.
    pub fn rx_lane_full(&self) -> bool {
        self.rx.held.len() + 2 > MAX_HELD
    }

    /// When the next held frame is due, if any (for the owner's sleep).
    pub fn next_release(&self) -> Option<Instant> {
        let rx = self.rx.held.front().map(|(t, _)| *t);
        let tx = self.tx.held.front().map(|(t, _)| *t);
        match (rx, tx) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && ((self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// Applies the faults to one frame of `lane` (rx or tx): lost, or held
    /// (possibly twice) until its release time.
    fn inject(&mut self, frame: Frame, to_stack: bool) {
        let spec = self.spec;
        fn lane_stats<D>(this: &mut FaultInjector<D>, to_stack: bool) -> &mut DirectionStats {
            if to_stack {
                &mut this.rx.stats
            } else {
                &mut this.tx.stats
            }
        }
        lane_stats(self, to_stack).frames += 1;
        if self.chance(spec.loss) {
            lane_stats(self, to_stack).lost += 1;
            return;
        }
        let mut frame = frame;
        if self.chance(spec.corrupt) && !frame.is_empty() {
            let bit = self.rng.below(frame.len() as u64 * 8);
            // Referenced bytes (a static page sent without a copy) are
            // read-only: the flip goes into a copy of the frame.
            if frame.has_references() {
                if let Some(copy) = copy_frame(&frame) {
                    frame = copy;
                }
            }
            if flip_bit(&mut frame, bit as usize) {
                lane_stats(self, to_stack).corrupted += 1;
            } else {
                lane_stats(self, to_stack).corrupt_skipped += 1;
            }
        }
        let copy = if self.chance(spec.dup) {
            match copy_frame(&frame) {
                Some(c) => {
                    lane_stats(self, to_stack).duplicated += 1;
                    Some(c)
                }
                None => {
                    lane_stats(self, to_stack).overflow += 1;
                    None
                }
            }
        } else {
            None
        };
        let jitter = if spec.jitter == Duration::ZERO {
            Duration::ZERO
        } else {
            Duration::from_nanos(self.rng.below(spec.jitter.as_nanos() + 1))
        };
        let mut delay = spec.delay + jitter;
        if self.chance(spec.reorder) {
            let base = (spec.delay + spec.jitter).max(Duration::from_millis(1));
            delay = delay + base.saturating_mul(1 + self.rng.below(3));
            lane_stats(self, to_stack).reordered += 1;
        }
        let now = self.now;
        let lane = if to_stack { &mut self.rx } else { &mut self.tx };
        // Serialisation at the rate (frames leave one after another), then
        // the delay, as on a link.
        let mut sent = now;
        if let Some(bps) = spec.rate_bps {
            let start = lane.free_at.max(now);
            let bits = frame.len() as u64 * 8;
            let wire = Duration::from_nanos(bits.saturating_mul(1_000_000_000) / bps.max(1));
            lane.free_at = start + wire;
            sent = lane.free_at;
        }
        let at = sent + delay;
        lane.hold(at, frame);
        if let Some(c) = copy {
            lane.hold(at, c);
        }
    }

    /// Sends the transmit frames that are due.
    fn flush_tx(&mut self) {
        while let Some(frame) = self.tx.pop_due(self.now) {
            if self.inner.transmit(frame).is_err() {
                self.tx.stats.overflow += 1;
            }
        }
    }
}

/// A copy of `frame` in plain buffers of its pool (no reference slots), or
/// `None` if the pool has no room.
fn copy_frame(frame: &Frame) -> Option<Frame> {
    let mut copy = frame.pool().alloc_chain(frame.len())?;
    let mut out = copy.cursor_mut();
    for part in frame.segments() {
        out.write(part).ok()?;
    }
    Some(copy)
}

/// Flips bit `bit` (from the frame's first byte, most significant first);
/// false if the bit is out of the frame's writable bytes.
fn flip_bit(frame: &mut Frame, bit: usize) -> bool {
    let (byte, mask) = (bit / 8, 0x80u8 >> (bit % 8));
    let Ok(value) = frame.cursor().drop(byte).peek_u8() else {
        return false;
    };
    let mut out = frame.cursor_mut();
    out.advance(byte).is_ok() && out.write(&[value ^ mask]).is_ok()
}

impl<D: Driver> Driver for FaultInjector<D> {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn receive(&mut self) -> Option<Frame> {
        self.flush_tx();
        // Pull from the wrapped driver one frame at a time, and only while
        // the lane has room for it and a duplicate: frames not yet pulled
        // wait in the wrapped driver (its ring, the kernel's queue), which
        // drops or back-pressures as it would without the injector. Pulling
        // everything the driver had at once overflowed the lane under load,
        // dropping frames when no fault was asked for.
        loop {
            if let Some(frame) = self.rx.pop_due(self.now) {
                return Some(frame);
            }
            if self.rx_lane_full() {
                return None;
            }
            let frame = self.inner.receive()?;
            self.inject(frame, true);
        }
    }

    fn alloc_tx(&mut self, len: usize) -> Option<Frame> {
        self.inner.alloc_tx(len)
    }

    fn alloc_tx_reference(&mut self, bytes: &'static [u8]) -> Option<Frame> {
        self.inner.alloc_tx_reference(bytes)
    }

    fn transmit(&mut self, frame: Frame) -> Result<(), TxFull> {
        self.inject(frame, false);
        self.flush_tx();
        Ok(())
    }

    fn release(&mut self, frame: Frame) {
        self.inner.release(frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nic::pair::{pair, PairConfig, PairDriver};

    fn send(a: &mut FaultInjector<PairDriver>, n: usize) {
        for i in 0..n {
            let mut f = a.alloc_tx(64).unwrap();
            f.cursor_mut().write(&[i as u8; 64]).unwrap();
            a.transmit(f).unwrap();
        }
    }

    fn drain(b: &mut PairDriver) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(f) = b.receive() {
            out.push(f.copy_to_vec());
        }
        out
    }

    #[test]
    fn parses_the_impair_syntax_and_rejects_nonsense() {
        let spec: FaultSpec =
            "loss=0.02, dup=0.01,corrupt=0.001,reorder=0.05,delay=5ms,jitter=250us,rate=100mbit,seed=7"
                .parse()
                .unwrap();
        assert_eq!(spec.loss, 0.02);
        assert_eq!(spec.delay, Duration::from_millis(5));
        assert_eq!(spec.jitter, Duration::from_micros(250));
        assert_eq!(spec.rate_bps, Some(100_000_000));
        assert_eq!(spec.seed, 7);
        assert_eq!("".parse::<FaultSpec>(), Ok(FaultSpec::default()));
        for bad in [
            "loss",
            "loss=2",
            "loss=-0.1",
            "loss=nan",
            "delay=5",
            "delay=5h",
            "delay=1e9s",
            "rate=0mbit",
            "rate=fast",
            "seed=x",
            "colour=red",
        ] {
            let err = bad.parse::<FaultSpec>().unwrap_err();
            assert!(err.to_string().starts_with("bad impairment"), "{bad}");
        }
    }

    #[test]
    fn loss_and_duplication_are_counted_and_seeded() {
        let run = |seed| {
            let (a, mut b) = pair(&PairConfig::default());
            let spec = FaultSpec {
                loss: 0.3,
                dup: 0.2,
                seed,
                ..FaultSpec::default()
            };
            let mut a = FaultInjector::new(a, spec);
            send(&mut a, 200);
            (a.stats().tx, drain(&mut b))
        };
        let (stats, got) = run(1);
        assert_eq!(stats.frames, 200);
        assert!(stats.lost > 30 && stats.lost < 90, "{stats:?}");
        assert!(stats.duplicated > 10, "{stats:?}");
        assert_eq!(got.len() as u64, 200 - stats.lost + stats.duplicated);
        assert_eq!(run(1), (stats, got.clone()), "same seed, same faults");
        assert_ne!(run(2).1, got, "another seed, other faults");
    }

    #[test]
    fn corruption_flips_exactly_one_bit() {
        let (a, mut b) = pair(&PairConfig::default());
        let spec = FaultSpec {
            corrupt: 1.0,
            ..FaultSpec::default()
        };
        let mut a = FaultInjector::new(a, spec);
        send(&mut a, 20);
        let got = drain(&mut b);
        assert_eq!(got.len(), 20);
        for (i, frame) in got.iter().enumerate() {
            let flipped: u32 = frame.iter().map(|&x| (x ^ i as u8).count_ones()).sum();
            assert_eq!(flipped, 1, "frame {i}");
        }
    }

    static PAGE: [u8; 1000] = [0x5a; 1000];

    /// A frame of 40 header bytes (0x11) chained to a reference slot over
    /// `PAGE`, as a server sends a body without copying it.
    fn header_and_page(a: &mut FaultInjector<PairDriver>) -> Frame {
        let mut f = a.alloc_tx(40).unwrap();
        f.cursor_mut().write(&[0x11; 40]).unwrap();
        f.push(a.alloc_tx_reference(&PAGE[..]).unwrap()).unwrap();
        f
    }

    #[test]
    fn corruption_of_referenced_bytes_flips_a_copy() {
        // Frames of a header buffer and a reference to static memory: the
        // flip lands anywhere in the frame, never in the static memory.
        let (a, mut b) = pair(&PairConfig::default());
        let spec = FaultSpec {
            corrupt: 1.0,
            dup: 0.5,
            seed: 9,
            ..FaultSpec::default()
        };
        let mut a = FaultInjector::new(a, spec);
        for _ in 0..40 {
            let f = header_and_page(&mut a);
            a.transmit(f).unwrap();
        }
        let got = drain(&mut b);
        let stats = a.stats().tx;
        assert_eq!(got.len() as u64, 40 + stats.duplicated);
        assert_eq!(stats.corrupted, 40, "{stats:?}");
        let mut in_page = 0;
        for frame in &got {
            let original = [[0x11u8; 40].as_slice(), &PAGE[..]].concat();
            let flipped: Vec<usize> = (0..frame.len())
                .filter(|&i| frame[i] != original[i])
                .collect();
            assert_eq!(flipped.len(), 1, "one flipped byte");
            assert_eq!((frame[flipped[0]] ^ original[flipped[0]]).count_ones(), 1);
            in_page += usize::from(flipped[0] >= 40);
        }
        assert!(in_page > 20, "flips land in the referenced part too");
        assert!(PAGE.iter().all(|&x| x == 0x5a), "static memory unchanged");
        assert_eq!(b.buffers_in_use(), 0);
        assert_eq!(b.pool_available(0), PairConfig::default().pool.counts[0]);
    }

    #[test]
    fn corruption_without_a_buffer_for_the_copy_is_skipped_and_counted() {
        // The flip of a frame with a reference slot needs a copy; with the
        // pool exhausted the frame goes through intact, counted apart from
        // drops (nothing is lost).
        let (a, mut b) = pair(&PairConfig::default());
        let spec = FaultSpec {
            corrupt: 1.0,
            seed: 4,
            ..FaultSpec::default()
        };
        let mut a = FaultInjector::new(a, spec);
        let f = header_and_page(&mut a);
        let mut hoard = Vec::new();
        for len in [9000, 2048, 1040, 512, 128, 64, 1] {
            while let Some(buffer) = a.alloc_tx(len) {
                hoard.push(buffer);
            }
        }
        a.transmit(f).unwrap();
        drop(hoard);
        let got = drain(&mut b);
        let stats = a.stats().tx;
        let original = [[0x11u8; 40].as_slice(), &PAGE[..]].concat();
        assert_eq!(got.len(), 1);
        assert!(got[0] == original, "the frame went through unchanged");
        assert_eq!(stats.corrupted, 0, "{stats:?}");
        assert_eq!(stats.corrupt_skipped, 1, "{stats:?}");
        assert_eq!(stats.overflow, 0, "{stats:?}");
    }

    #[test]
    fn delay_reorder_and_rate_follow_the_clock() {
        let (a, mut b) = pair(&PairConfig::default());
        let spec = FaultSpec {
            delay: Duration::from_millis(10),
            reorder: 0.5,
            rate_bps: Some(64 * 8 * 1000), // 1000 frames of 64 bytes per second
            seed: 3,
            ..FaultSpec::default()
        };
        let mut a = FaultInjector::new(a, spec);
        send(&mut a, 50);
        assert!(drain(&mut b).is_empty(), "nothing before the delay");
        let mut got = Vec::new();
        let mut t = Instant::ZERO;
        while got.len() < 50 {
            t += Duration::from_millis(1);
            assert!(t < Instant::ZERO + Duration::from_secs(1), "{got:?}");
            a.set_now(t);
            let _ = a.receive(); // flushes what is due
            got.extend(drain(&mut b).into_iter().map(|f| f[0]));
        }
        // The rate spreads 50 frames over at least 50 ms.
        assert!(t >= Instant::ZERO + Duration::from_millis(59), "{t:?}");
        assert!(a.stats().tx.reordered > 0);
        assert!(got.windows(2).any(|w| w[0] > w[1]), "reordered: {got:?}");
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<u8>>(), "every frame once");
    }

    /// A pair whose queues and pools hold four times what a lane holds.
    fn flood_pair() -> (PairDriver, PairDriver) {
        pair(&PairConfig {
            queue_capacity: 4 * MAX_HELD,
            pool: crate::mem::buf::PoolConfig {
                counts: [4 * MAX_HELD, 16, 16, 16, 16, 0, 0, 0],
                chaining: false,
                references: 16,
            },
            ..PairConfig::default()
        })
    }

    #[test]
    fn a_flood_without_faults_passes_every_frame() {
        // More frames waiting in the wrapped driver than the lane holds:
        // none may be lost when no fault is asked for.
        let (mut a, b) = flood_pair();
        let mut b = FaultInjector::new(b, FaultSpec::default());
        let count = 3 * MAX_HELD;
        for i in 0..count {
            let mut f = a.alloc_tx(64).unwrap();
            f.cursor_mut().write(&(i as u32).to_be_bytes()).unwrap();
            a.transmit(f).unwrap();
        }
        let mut got = 0u32;
        while let Some(f) = b.receive() {
            let v = f.copy_to_vec();
            assert_eq!(v[..4], got.to_be_bytes(), "in order");
            got += 1;
            b.release(f);
        }
        assert_eq!(got as usize, count);
        assert_eq!(b.stats().rx.overflow, 0, "{:?}", b.stats());
    }

    #[test]
    fn a_delayed_flood_waits_in_the_wrapped_driver() {
        // With a delay the lane fills; the rest stays in the wrapped
        // driver's queue and comes through later, none dropped here.
        let (mut a, b) = flood_pair();
        let spec = FaultSpec {
            delay: Duration::from_millis(5),
            ..FaultSpec::default()
        };
        let mut b = FaultInjector::new(b, spec);
        let count = 2 * MAX_HELD;
        for _ in 0..count {
            let f = a.alloc_tx(64).unwrap();
            a.transmit(f).unwrap();
        }
        let mut got = 0;
        let mut t = Instant::ZERO;
        while got < count {
            assert!(t < Instant::ZERO + Duration::from_secs(1), "{got}");
            b.set_now(t);
            while let Some(f) = b.receive() {
                got += 1;
                b.release(f);
            }
            // Full while nothing is due yet: the owner sleeps until the
            // next release, not on the (readable) device.
            if t < Instant::ZERO + Duration::from_millis(5) {
                assert!(b.rx_lane_full(), "{got} at {t:?}");
                assert_eq!(
                    b.next_release(),
                    Some(Instant::ZERO + Duration::from_millis(5))
                );
            }
            t += Duration::from_millis(1);
        }
        assert!(!b.rx_lane_full());
        assert_eq!(b.stats().rx.overflow, 0, "{:?}", b.stats());
    }

    #[test]
    fn receive_side_faults_apply_too() {
        let (mut a, b) = pair(&PairConfig::default());
        let spec = FaultSpec {
            loss: 1.0,
            ..FaultSpec::default()
        };
        let mut b = FaultInjector::new(b, spec);
        let f = a.alloc_tx(60).unwrap();
        a.transmit(f).unwrap();
        assert!(b.receive().is_none());
        assert_eq!(b.stats().rx.lost, 1);
    }
}
