//! A fixed-size latency histogram: quantiles without keeping samples.

use core::fmt;

use rusty_stack::time::Duration;

/// Sub-buckets per power of two (as a power of two): 8, so a bucket is at
/// most 12.5% wide.
const SUB_BITS: u32 = 3;
const SUB: usize = 1 << SUB_BITS;
/// Buckets covering every `u64` nanosecond value.
const BUCKETS: usize = (64 - SUB_BITS as usize + 1) * SUB;

/// Log-linear histogram of durations in nanoseconds (as HdrHistogram with
/// three bits of precision): values below 8 ns have a bucket each, and every
/// power of two above is cut into 8 equal buckets, so any quantile is known
/// within 12.5%. Also keeps the exact count, minimum, maximum and sum. Its
/// 496 counters are inline: recording never allocates.
///
/// ```
/// use rusty_apps::LatencyHistogram;
/// use rusty_stack::time::Duration;
///
/// let mut h = LatencyHistogram::new();
/// for ms in 1..=100 {
///     h.record(Duration::from_millis(ms));
/// }
/// assert_eq!(h.count(), 100);
/// assert_eq!(h.min(), Some(Duration::from_millis(1)));
/// assert_eq!(h.mean(), Some(Duration::from_micros(50_500)));
/// let p50 = h.quantile(0.5).unwrap().as_micros();
/// assert!((50_000..=50_000 * 9 / 8).contains(&p50));
/// assert_eq!(h.quantile(1.0), h.max());
/// ```
#[derive(Clone)]
pub struct LatencyHistogram {
    buckets: [u64; BUCKETS],
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

/// The bucket of `v`.
fn bucket(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // >= SUB_BITS
    let sub = (v >> (e - SUB_BITS)) as usize & (SUB - 1);
    (e - SUB_BITS + 1) as usize * SUB + sub
}

/// The largest value of bucket `i`.
fn bucket_high(i: usize) -> u64 {
    if i < SUB {
        return i as u64;
    }
    let e = (i / SUB) as u32 + SUB_BITS - 1;
    let sub = (i % SUB) as u64;
    let low = (SUB as u64 + sub) << (e - SUB_BITS);
    low + ((1u64 << (e - SUB_BITS)) - 1)
}

impl LatencyHistogram {
    /// An empty histogram.
    pub const fn new() -> Self {
        LatencyHistogram {
            buckets: [0; BUCKETS],
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// Adds one sample.
    #[inline]
    pub fn record(&mut self, d: Duration) {
        let v = d.as_nanos();
        self.buckets[bucket(v)] += 1;
        self.count += 1;
        self.sum += u128::from(v);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// Adds all samples of `other` (histograms of several cores).
    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (a, b) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *a += b;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// No samples.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The smallest sample.
    pub fn min(&self) -> Option<Duration> {
        (self.count > 0).then(|| Duration::from_nanos(self.min))
    }

    /// The largest sample.
    pub fn max(&self) -> Option<Duration> {
        (self.count > 0).then(|| Duration::from_nanos(self.max))
    }

    /// The sum of all samples (saturating at `Duration::MAX`).
    pub fn sum(&self) -> Duration {
        Duration::from_nanos(u64::try_from(self.sum).unwrap_or(u64::MAX))
    }

    /// The mean sample, rounded down.
    pub fn mean(&self) -> Option<Duration> {
        let mean = self.sum.checked_div(u128::from(self.count))?;
        Some(Duration::from_nanos(mean as u64))
    }

    /// The `q`-quantile (`q` in `[0, 1]`, clamped): the upper end of the
    /// bucket holding the sample of rank `ceil(q × count)`, clamped to the
    /// observed minimum and maximum. At most 12.5% above the exact value.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        let q = if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) };
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let v = bucket_high(i).clamp(self.min, self.max);
                return Some(Duration::from_nanos(v));
            }
        }
        self.max()
    }

    /// Non-empty buckets as `(largest value, samples)`, in increasing order.
    pub fn buckets(&self) -> impl Iterator<Item = (Duration, u64)> + '_ {
        self.buckets
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(i, &n)| (Duration::from_nanos(bucket_high(i)), n))
    }
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("count", &self.count)
            .field("min", &self.min())
            .field("p50", &self.quantile(0.5))
            .field("p99", &self.quantile(0.99))
            .field("max", &self.max())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn buckets_tile_the_range() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(7), 7);
        assert_eq!(bucket(8), 8);
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
        assert_eq!(bucket_high(BUCKETS - 1), u64::MAX);
        for i in 0..BUCKETS - 1 {
            let high = bucket_high(i);
            assert_eq!(bucket(high), i);
            assert_eq!(bucket(high + 1), i + 1);
        }
    }

    #[test]
    fn empty_and_single() {
        let mut h = LatencyHistogram::new();
        assert_eq!(
            (h.min(), h.max(), h.mean(), h.quantile(0.5)),
            (None, None, None, None)
        );
        h.record(Duration::from_nanos(1_000_003));
        for q in [0.0, 0.5, 0.99, 1.0, f64::NAN, -3.0, 7.0] {
            assert_eq!(h.quantile(q), Some(Duration::from_nanos(1_000_003)));
        }
        let mut g = LatencyHistogram::new();
        g.record(Duration::from_nanos(5));
        g.merge(&h);
        assert_eq!(
            (g.count(), g.min(), g.max()),
            (2, Some(Duration::from_nanos(5)), h.max())
        );
        assert_eq!(g.buckets().count(), 2);
        assert!(format!("{g:?}").contains("p99"));
    }

    proptest! {
        #[test]
        fn quantiles_are_within_an_eighth(mut samples in proptest::collection::vec(0u64..1 << 40, 1..300),
                                          q in 0.0f64..=1.0) {
            let mut h = LatencyHistogram::new();
            for &s in &samples {
                h.record(Duration::from_nanos(s));
            }
            samples.sort_unstable();
            let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
            let exact = samples[rank - 1];
            let got = h.quantile(q).unwrap().as_nanos();
            prop_assert!(got >= exact);
            prop_assert!(got - exact <= exact / 8, "got {} exact {}", got, exact);
            prop_assert_eq!(h.sum().as_nanos(), samples.iter().sum::<u64>());
        }
    }
}
