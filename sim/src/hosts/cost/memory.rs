//! A host's DRAM bandwidth shared by its cores.
//!
//! Every core's priced work moves bytes to and from DRAM
//! ([`Charge::dram_bytes`](super::Charge::dram_bytes)). A [`MemoryLoad`]
//! adds them up in windows of virtual time; the utilisation of the last
//! full window (bytes over what the controllers move in a window) makes
//! every DRAM access of the next one longer by the factor 1 / (1 − ρ) (an
//! M/M/1 queue at the controllers, ρ capped at 0.95), so cores slow each
//! other down once the controllers get busy. It also keeps the totals a
//! report's `memory_utilization` is made of. Integer arithmetic only.

use rusty_stack::time::{Duration, Instant};

/// Length of a window of the utilisation estimate.
pub const WINDOW: Duration = Duration::from_micros(200);

/// Highest utilisation the queueing factor assumes, thousandths.
const MAX_UTIL_MILLI: u64 = 950;

/// DRAM traffic of one host over time.
#[derive(Clone, Debug)]
pub struct MemoryLoad {
    bytes_per_s: u64,
    window_start: Instant,
    window_bytes: u64,
    last_util_milli: u64,
    total_bytes: u64,
    last_at: Instant,
}

impl MemoryLoad {
    /// A host whose DRAM moves `bytes_per_s` (0: unlimited).
    pub fn new(bytes_per_s: u64) -> MemoryLoad {
        MemoryLoad {
            bytes_per_s,
            window_start: Instant::ZERO,
            window_bytes: 0,
            last_util_milli: 0,
            total_bytes: 0,
            last_at: Instant::ZERO,
        }
    }

    fn window_capacity(&self) -> u64 {
        (u128::from(self.bytes_per_s) * u128::from(WINDOW.as_nanos()) / 1_000_000_000) as u64
    }

    /// Moves the estimate to `now`: a window that ended sets the
    /// utilisation the next accesses see.
    fn advance(&mut self, now: Instant) {
        if now < self.window_start + WINDOW {
            return;
        }
        let capacity = self.window_capacity();
        let elapsed = now.as_nanos().saturating_sub(self.window_start.as_nanos());
        let windows = elapsed / WINDOW.as_nanos().max(1);
        // Traffic of the window that ended; windows after it were idle.
        self.last_util_milli = if windows > 1 || capacity == 0 {
            0
        } else {
            (self.window_bytes * 1000 / capacity).min(1000)
        };
        self.window_start =
            Instant::from_nanos(self.window_start.as_nanos() + windows * WINDOW.as_nanos());
        self.window_bytes = 0;
    }

    /// How much longer than unloaded a DRAM access takes at `now`, in
    /// thousandths (1000: unloaded).
    pub fn queue_milli(&mut self, now: Instant) -> u64 {
        self.advance(now);
        let rho = self.last_util_milli.min(MAX_UTIL_MILLI);
        1_000_000 / (1000 - rho)
    }

    /// Records `bytes` moved by work that started at `now`.
    pub fn record(&mut self, now: Instant, bytes: u64) {
        self.advance(now);
        self.window_bytes += bytes;
        self.total_bytes += bytes;
        self.last_at = self.last_at.max(now);
    }

    /// Bytes moved so far.
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Mean utilisation of the bandwidth from time zero to `end`.
    pub fn utilization(&self, end: Instant) -> f64 {
        let capacity = self.bytes_per_s as f64 * end.as_nanos() as f64 / 1e9;
        if capacity > 0.0 {
            self.total_bytes as f64 / capacity
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_window_slows_the_next_one() {
        // 1 GB/s: 200,000 bytes per window.
        let mut m = MemoryLoad::new(1_000_000_000);
        assert_eq!(m.queue_milli(Instant::ZERO), 1000);
        m.record(Instant::ZERO, 100_000);
        // Still the first window: unloaded.
        assert_eq!(m.queue_milli(Instant::from_micros(100)), 1000);
        // The next window sees 50%: twice as long.
        assert_eq!(m.queue_milli(Instant::from_micros(250)), 2000);
        // After an idle window, unloaded again.
        assert_eq!(m.queue_milli(Instant::from_micros(700)), 1000);
        // Saturation is capped at 95%: 20×.
        m.record(Instant::from_micros(800), 10_000_000);
        assert_eq!(m.queue_milli(Instant::from_micros(1000)), 20_000);
        assert_eq!(m.total_bytes(), 10_100_000);
        let u = m.utilization(Instant::from_millis(1000));
        assert!((u - 0.0101).abs() < 1e-9, "{u}");
    }
}
