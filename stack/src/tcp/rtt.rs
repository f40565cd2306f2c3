//! The retransmission timer's value (RFC 6298) and Karn's rule.
//!
//! * [`RttEstimator`] — SRTT, RTTVAR and the RTO with exponential backoff,
//!   clamped to a configurable `[min_rto, max_rto]` ([`RttConfig`]).
//! * [`RttSampler`] — times one segment at a time and forgets the timing
//!   when anything is retransmitted (Karn's algorithm), so that the
//!   estimator is only fed unambiguous samples.
//! * [`rtt_from_timestamps`] — an RTT sample from the TSecr of an ACK
//!   (RFC 7323 §4), for connections that negotiated timestamps.
//!
//! Everything here is plain arithmetic on driver-supplied [`Instant`]s and
//! [`Duration`]s (nanoseconds); nothing reads a clock or allocates. Arming
//! and cancelling the timer itself is the caller's job (RFC 6298 §5): start
//! it with [`RttEstimator::rto`] when data is sent and none is outstanding,
//! restart it when an ACK acknowledges new data, stop it when everything is
//! acknowledged, and on expiry retransmit, call [`RttEstimator::backoff`]
//! and restart it.
//!
//! ```
//! use rusty_stack::tcp::rtt::{RttConfig, RttEstimator, RttSampler};
//! use rusty_stack::time::{Duration, Instant};
//! use rusty_stack::wire::tcp::TcpSeqNumber;
//!
//! let mut rtt = RttEstimator::new(RttConfig::RFC6298);
//! assert_eq!(rtt.rto(), Duration::from_secs(1)); // no sample yet
//!
//! // Time the segment ending at sequence number 1001, sent at t = 0.
//! let mut sampler = RttSampler::new();
//! sampler.on_send(TcpSeqNumber(1001), Instant::ZERO, false);
//! // Its ACK arrives 100 ms later.
//! let sample = sampler.on_ack(TcpSeqNumber(1001), Instant::from_millis(100));
//! assert_eq!(sample, Some(Duration::from_millis(100)));
//! rtt.sample(sample.unwrap());
//! // SRTT = 100 ms, RTTVAR = 50 ms: 100 + 4 * 50 = 300 ms, raised to 1 s.
//! assert_eq!(rtt.srtt(), Some(Duration::from_millis(100)));
//! assert_eq!(rtt.rto(), Duration::from_secs(1));
//!
//! // The same sample with Linux's 200 ms floor.
//! let mut linux = RttEstimator::new(RttConfig::LINUX);
//! linux.sample(Duration::from_millis(100));
//! assert_eq!(linux.rto(), Duration::from_millis(300));
//! linux.backoff(); // the timer expired
//! assert_eq!(linux.rto(), Duration::from_millis(600));
//! ```

use crate::time::{Duration, Instant};
use crate::wire::tcp::TcpSeqNumber;

/// Settings of an [`RttEstimator`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RttConfig {
    /// Lower bound of the computed RTO (RFC 6298 (2.4): 1 s; Linux uses
    /// 200 ms). Backoff may exceed it, never the computation go below it.
    pub min_rto: Duration,
    /// Upper bound of the RTO, backoff included (RFC 6298 (2.5): at least
    /// 60 s).
    pub max_rto: Duration,
    /// The RTO before the first sample (RFC 6298 (2.1): 1 s).
    pub initial_rto: Duration,
    /// The clock granularity G of RFC 6298: the RTO is at least
    /// `SRTT + G`. Set it to the resolution of the timer that fires the
    /// retransmission (the timer wheel's tick), not the driver's clock.
    pub granularity: Duration,
}

impl RttConfig {
    /// RFC 6298 as written: 1 s minimum and initial RTO, 60 s maximum,
    /// 1 ms granularity.
    pub const RFC6298: RttConfig = RttConfig {
        min_rto: Duration::from_secs(1),
        max_rto: Duration::from_secs(60),
        initial_rto: Duration::from_secs(1),
        granularity: Duration::from_millis(1),
    };

    /// Linux-like: 200 ms minimum RTO, otherwise as [`RttConfig::RFC6298`]
    /// (Linux's own maximum is 120 s; this keeps RFC 6298's 60 s).
    pub const LINUX: RttConfig = RttConfig {
        min_rto: Duration::from_millis(200),
        ..RttConfig::RFC6298
    };
}

impl Default for RttConfig {
    /// [`RttConfig::RFC6298`].
    fn default() -> Self {
        RttConfig::RFC6298
    }
}

/// The RTO of a connection: RFC 6298's SRTT/RTTVAR estimator with
/// exponential backoff.
///
/// Feed it samples with [`sample`](RttEstimator::sample) (only unambiguous
/// ones: see [`RttSampler`]), read the timeout with
/// [`rto`](RttEstimator::rto), and call [`backoff`](RttEstimator::backoff)
/// each time the retransmission timer expires.
///
/// Arithmetic is in integer nanoseconds with `alpha = 1/8`, `beta = 1/4`
/// and `K = 4`, so the result of a sequence of samples is exact up to
/// nanosecond truncation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RttEstimator {
    config: RttConfig,
    /// SRTT and RTTVAR in nanoseconds, once a sample has been taken.
    estimate: Option<(u64, u64)>,
    /// The RTO before backoff; `initial_rto` until the first sample.
    base_rto: Duration,
    /// Consecutive backoffs since the last sample or `reset_backoff`.
    backoffs: u32,
}

impl RttEstimator {
    /// The RFC 6298 `K` (RTO = SRTT + max(G, K·RTTVAR)).
    pub const K: u64 = 4;

    /// An estimator with no sample yet; its RTO is `config.initial_rto`
    /// (clamped to `[min_rto, max_rto]`).
    pub fn new(config: RttConfig) -> Self {
        RttEstimator {
            config,
            estimate: None,
            base_rto: clamp(config.initial_rto, &config),
            backoffs: 0,
        }
    }

    /// The settings this estimator was built with.
    pub fn config(&self) -> &RttConfig {
        &self.config
    }

    /// Takes one RTT measurement `rtt` (RFC 6298 §2).
    ///
    /// The first sample sets SRTT = R and RTTVAR = R/2; later ones update
    /// RTTVAR = 3/4·RTTVAR + 1/4·|SRTT − R| (with the old SRTT) and then
    /// SRTT = 7/8·SRTT + 1/8·R. The RTO becomes
    /// SRTT + max(G, 4·RTTVAR), clamped to `[min_rto, max_rto]`.
    ///
    /// A new sample also ends backoff (the RTO "collapses" to the computed
    /// value, RFC 6298 §5): samples only come from segments that were not
    /// retransmitted, so the path is known to be delivering again.
    pub fn sample(&mut self, rtt: Duration) {
        let r = rtt.as_nanos();
        let (srtt, rttvar) = match self.estimate {
            None => (r, r / 2),
            Some((srtt, rttvar)) => {
                let delta = srtt.abs_diff(r);
                let rttvar = (3 * u128::from(rttvar) + u128::from(delta)) / 4;
                let srtt = (7 * u128::from(srtt) + u128::from(r)) / 8;
                // Both are weighted means of u64 values: they fit.
                (srtt as u64, rttvar as u64)
            }
        };
        self.estimate = Some((srtt, rttvar));
        let var_term = rttvar
            .saturating_mul(Self::K)
            .max(self.config.granularity.as_nanos());
        self.base_rto = clamp(
            Duration::from_nanos(srtt.saturating_add(var_term)),
            &self.config,
        );
        self.backoffs = 0;
    }

    /// Takes a sample computed from the timestamp option (RFC 7323 §4.1):
    /// see [`rtt_from_timestamps`]. Returns the sample, or `None` (and
    /// changes nothing) when TSecr lies in the future of `ts_now`.
    ///
    /// Call it only for ACKs that acknowledge new data (RFC 7323 §4.2).
    /// Such samples may arrive once per ACK rather than once per RTT; this
    /// estimator still applies alpha = 1/8 and beta = 1/4 to each (as
    /// Linux does), not the per-flight scaling of RFC 7323 Appendix G.
    pub fn sample_from_timestamp(
        &mut self,
        ts_now: u32,
        tsecr: u32,
        tick: Duration,
    ) -> Option<Duration> {
        let rtt = rtt_from_timestamps(ts_now, tsecr, tick)?;
        self.sample(rtt);
        Some(rtt)
    }

    /// The current retransmission timeout, backoff included: the computed
    /// RTO times 2^backoffs, at most `max_rto`.
    pub fn rto(&self) -> Duration {
        let factor = 1u64 << self.backoffs.min(63);
        self.base_rto
            .saturating_mul(factor)
            .min(self.config.max_rto)
    }

    /// The RTO before backoff (the last computed value, or the initial RTO).
    pub fn base_rto(&self) -> Duration {
        self.base_rto
    }

    /// Doubles the RTO ("back off the timer", RFC 6298 (5.5)); call it each
    /// time the retransmission timer expires. The RTO stops growing at
    /// `max_rto`, but [`backoffs`](RttEstimator::backoffs) keeps counting
    /// so the caller can give up on the connection (RFC 9293's R2).
    pub fn backoff(&mut self) {
        self.backoffs = self.backoffs.saturating_add(1);
    }

    /// Ends backoff without a sample, returning the RTO to the computed
    /// value. RFC 6298 only collapses the RTO on a new sample (which
    /// [`sample`](RttEstimator::sample) does itself); Linux also does it
    /// when an ACK acknowledges new data — call this there for that
    /// behaviour.
    pub fn reset_backoff(&mut self) {
        self.backoffs = 0;
    }

    /// How many times the RTO has been doubled since the last sample or
    /// [`reset_backoff`](RttEstimator::reset_backoff).
    pub fn backoffs(&self) -> u32 {
        self.backoffs
    }

    /// The smoothed RTT, once a sample has been taken.
    pub fn srtt(&self) -> Option<Duration> {
        self.estimate.map(|(s, _)| Duration::from_nanos(s))
    }

    /// The RTT variation, once a sample has been taken.
    pub fn rttvar(&self) -> Option<Duration> {
        self.estimate.map(|(_, v)| Duration::from_nanos(v))
    }

    /// RFC 6298 (5.7): when the SYN (or SYN-ACK) had to be retransmitted
    /// and the RTO is below 3 s, the RTO must be re-initialised to 3 s once
    /// the handshake completes. Call this then; it does nothing if a
    /// sample has been taken (Karn's rule means a retransmitted SYN gave
    /// none) or the RTO is already 3 s or more. Backoff is reset.
    pub fn on_handshake_after_syn_timeout(&mut self) {
        const THREE_SECONDS: Duration = Duration::from_secs(3);
        if self.estimate.is_none() && self.base_rto < THREE_SECONDS {
            self.base_rto = THREE_SECONDS.min(self.config.max_rto);
        }
        self.backoffs = 0;
    }
}

impl Default for RttEstimator {
    /// An estimator with [`RttConfig::RFC6298`].
    fn default() -> Self {
        RttEstimator::new(RttConfig::default())
    }
}

fn clamp(rto: Duration, config: &RttConfig) -> Duration {
    // Not `Ord::clamp`: that panics when a caller configures min > max.
    rto.max(config.min_rto).min(config.max_rto)
}

/// Karn's algorithm for RTT measurement: times one segment at a time and
/// discards the measurement when anything is retransmitted.
///
/// Call [`on_send`](RttSampler::on_send) for every segment that occupies
/// sequence space (data, SYN, FIN), [`on_ack`](RttSampler::on_ack) for every
/// acceptable ACK, and feed what it returns to
/// [`RttEstimator::sample`]. A measurement starts on the first new
/// (never-sent) segment sent while none is running, and ends when an ACK
/// covers the end of that segment.
///
/// Any retransmission cancels the running measurement, not only a
/// retransmission of the timed segment: a retransmission that fills a hole
/// below the timed segment would delay the ACK that covers it and inflate
/// the sample (BSD behaves the same way). Retransmitted segments are never
/// timed.
///
/// With timestamps (RFC 7323) the caller can take a sample from the TSecr
/// of every ACK that acknowledges new data instead
/// ([`RttEstimator::sample_from_timestamp`]); TSecr echoes the time of the
/// segment that actually arrived, so Karn's ambiguity does not arise and
/// this type is not needed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RttSampler {
    /// The end (exclusive) of the timed segment and when it was sent.
    timed: Option<(TcpSeqNumber, Instant)>,
}

impl RttSampler {
    /// A sampler timing nothing.
    pub const fn new() -> Self {
        RttSampler { timed: None }
    }

    /// Records the transmission at `now` of a segment whose sequence space
    /// ends (exclusive) at `seq_end`. A new segment starts a measurement if
    /// none is running; a retransmission (`is_retransmission`) cancels the
    /// running one.
    pub fn on_send(&mut self, seq_end: TcpSeqNumber, now: Instant, is_retransmission: bool) {
        if is_retransmission {
            self.timed = None;
        } else if self.timed.is_none() {
            self.timed = Some((seq_end, now));
        }
    }

    /// Processes an ACK received at `now`: returns the RTT when `ack`
    /// covers the timed segment (and stops timing it), `None` otherwise.
    pub fn on_ack(&mut self, ack: TcpSeqNumber, now: Instant) -> Option<Duration> {
        let (end, sent) = self.timed?;
        if ack.diff(end) >= 0 {
            self.timed = None;
            Some(now.saturating_since(sent))
        } else {
            None
        }
    }

    /// Cancels the running measurement; call it when the retransmission
    /// timer expires or anything is retransmitted outside
    /// [`on_send`](RttSampler::on_send).
    pub fn on_retransmit(&mut self) {
        self.timed = None;
    }

    /// The timed segment's end and send time, if a measurement is running.
    pub fn timed(&self) -> Option<(TcpSeqNumber, Instant)> {
        self.timed
    }
}

/// An RTT sample from the timestamp option (RFC 7323 §4.1): the time from
/// the TSval the peer echoes (`tsecr`) to our current timestamp clock
/// `ts_now`, where one timestamp unit lasts `tick`.
///
/// Returns `None` when `tsecr` is after `ts_now` (modulo 2³²), which only a
/// broken or malicious peer produces. The result is at least one tick
/// shorter than the true RTT can be measured to; callers commonly use a
/// 1 ms tick.
pub fn rtt_from_timestamps(ts_now: u32, tsecr: u32, tick: Duration) -> Option<Duration> {
    let ticks = ts_now.wrapping_sub(tsecr) as i32;
    // `ticks` is non-negative here, so the cast is lossless.
    (ticks >= 0).then(|| tick.saturating_mul(ticks as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A configuration whose clamps stay out of the way.
    const WIDE: RttConfig = RttConfig {
        min_rto: Duration::from_millis(1),
        max_rto: Duration::from_secs(60),
        initial_rto: Duration::from_secs(1),
        granularity: Duration::from_millis(1),
    };

    #[test]
    fn initial_rto_before_any_sample() {
        let rtt = RttEstimator::new(RttConfig::RFC6298);
        assert_eq!(rtt.rto(), Duration::from_secs(1));
        assert_eq!(rtt.srtt(), None);
        assert_eq!(rtt.rttvar(), None);
        let odd = RttEstimator::new(RttConfig {
            initial_rto: Duration::from_secs(100),
            ..RttConfig::RFC6298
        });
        assert_eq!(odd.rto(), Duration::from_secs(60), "clamped to max");
    }

    #[test]
    fn first_sample_sets_srtt_and_half_rttvar() {
        let mut rtt = RttEstimator::new(WIDE);
        rtt.sample(ms(100));
        assert_eq!(rtt.srtt(), Some(ms(100)));
        assert_eq!(rtt.rttvar(), Some(ms(50)));
        assert_eq!(rtt.rto(), ms(300));
    }

    #[test]
    fn later_samples_follow_rfc6298_formulas() {
        // (sample ms; SRTT, RTTVAR, RTO in µs), computed by hand with
        // RTTVAR' = 3/4·RTTVAR + 1/4·|SRTT − R| and SRTT' = 7/8·SRTT + 1/8·R.
        let table: &[(u64, u64, u64, u64)] = &[
            (100, 100_000, 50_000, 300_000),
            // |100 − 180| = 80: RTTVAR = 37.5 + 20, SRTT = 87.5 + 22.5.
            (180, 110_000, 57_500, 340_000),
            // |110 − 30| = 80: RTTVAR = 43.125 + 20, SRTT = 96.25 + 3.75.
            (30, 100_000, 63_125, 352_500),
            // |100 − 100| = 0: RTTVAR = 47.34375, SRTT unchanged.
            (100, 100_000, 47_343, 289_375),
        ];
        let mut rtt = RttEstimator::new(WIDE);
        for &(r, srtt, rttvar, rto) in table {
            rtt.sample(ms(r));
            assert_eq!(rtt.srtt(), Some(Duration::from_micros(srtt)), "R = {r}");
            assert_eq!(rtt.rttvar().unwrap().as_micros(), rttvar, "R = {r}");
            assert_eq!(rtt.rto(), Duration::from_micros(rto), "R = {r}");
        }
        assert_eq!(rtt.rttvar(), Some(Duration::from_nanos(47_343_750)));
    }

    #[test]
    fn constant_samples_converge_to_srtt_plus_granularity() {
        let mut rtt = RttEstimator::new(WIDE);
        for _ in 0..200 {
            rtt.sample(ms(40));
        }
        assert_eq!(rtt.srtt(), Some(ms(40)));
        // RTTVAR decays towards zero (geometrically, truncated): the
        // granularity term takes over.
        assert_eq!(rtt.rttvar(), Some(Duration::ZERO));
        assert_eq!(rtt.rto(), ms(41));
    }

    #[test]
    fn min_and_max_clamps() {
        let mut rfc = RttEstimator::new(RttConfig::RFC6298);
        rfc.sample(ms(10));
        assert_eq!(rfc.rto(), Duration::from_secs(1), "raised to 1 s");
        let mut linux = RttEstimator::new(RttConfig::LINUX);
        linux.sample(ms(10));
        assert_eq!(linux.rto(), ms(200), "raised to 200 ms");
        let mut slow = RttEstimator::new(RttConfig::LINUX);
        slow.sample(Duration::from_secs(50)); // 50 + 4 * 25 s
        assert_eq!(slow.rto(), Duration::from_secs(60), "capped at 60 s");
    }

    #[test]
    fn backoff_doubles_until_the_cap_and_sample_collapses_it() {
        let mut rtt = RttEstimator::new(RttConfig::RFC6298);
        let expect = [1, 2, 4, 8, 16, 32, 60, 60, 60];
        for (i, secs) in expect.iter().enumerate() {
            assert_eq!(rtt.rto(), Duration::from_secs(*secs), "after {i} backoffs");
            assert_eq!(rtt.backoffs(), i as u32);
            rtt.backoff();
        }
        for _ in 0..100 {
            rtt.backoff();
        }
        assert_eq!(rtt.rto(), Duration::from_secs(60), "no overflow");
        rtt.reset_backoff();
        assert_eq!(rtt.rto(), Duration::from_secs(1));
        rtt.backoff();
        rtt.sample(Duration::from_secs(2));
        assert_eq!(rtt.backoffs(), 0, "a sample ends backoff");
        assert_eq!(rtt.rto(), Duration::from_secs(2 + 4));
    }

    #[test]
    fn syn_timeout_rule_raises_to_three_seconds_only_without_samples() {
        let mut rtt = RttEstimator::new(RttConfig::RFC6298);
        rtt.backoff();
        rtt.on_handshake_after_syn_timeout();
        assert_eq!(rtt.rto(), Duration::from_secs(3));
        let mut sampled = RttEstimator::new(RttConfig::RFC6298);
        sampled.sample(ms(100));
        sampled.on_handshake_after_syn_timeout();
        assert_eq!(sampled.rto(), Duration::from_secs(1));
    }

    #[test]
    fn karn_retransmitted_segment_gives_no_sample() {
        let mut s = RttSampler::new();
        s.on_send(TcpSeqNumber(1000), Instant::from_millis(0), false);
        // A later new segment does not restart the measurement.
        s.on_send(TcpSeqNumber(2000), Instant::from_millis(5), false);
        assert_eq!(s.timed(), Some((TcpSeqNumber(1000), Instant::ZERO)));
        // The timed segment is retransmitted after an RTO.
        s.on_send(TcpSeqNumber(1000), Instant::from_millis(1000), true);
        assert_eq!(
            s.on_ack(TcpSeqNumber(2000), Instant::from_millis(1050)),
            None
        );
        // The next new segment is timed again.
        s.on_send(TcpSeqNumber(3000), Instant::from_millis(1100), false);
        assert_eq!(
            s.on_ack(TcpSeqNumber(2500), Instant::from_millis(1150)),
            None
        );
        assert_eq!(
            s.on_ack(TcpSeqNumber(3000), Instant::from_millis(1180)),
            Some(ms(80))
        );
        assert_eq!(s.timed(), None);
        // on_retransmit cancels too.
        s.on_send(TcpSeqNumber(4000), Instant::from_millis(1200), false);
        s.on_retransmit();
        assert_eq!(
            s.on_ack(TcpSeqNumber(4000), Instant::from_millis(1300)),
            None
        );
    }

    #[test]
    fn sampler_handles_sequence_wraparound() {
        let mut s = RttSampler::new();
        let end = TcpSeqNumber(u32::MAX - 10) + 100; // wraps to 89
        s.on_send(end, Instant::from_millis(7), false);
        assert_eq!(
            s.on_ack(TcpSeqNumber(u32::MAX), Instant::from_millis(9)),
            None
        );
        assert_eq!(s.on_ack(end + 1, Instant::from_millis(10)), Some(ms(3)));
    }

    #[test]
    fn timestamps_give_samples_modulo_two_to_the_32() {
        assert_eq!(rtt_from_timestamps(150, 100, ms(1)), Some(ms(50)));
        assert_eq!(rtt_from_timestamps(5, u32::MAX - 4, ms(1)), Some(ms(10)));
        assert_eq!(rtt_from_timestamps(100, 150, ms(1)), None);
        let mut rtt = RttEstimator::new(WIDE);
        assert_eq!(rtt.sample_from_timestamp(100, 150, ms(1)), None);
        assert_eq!(rtt.srtt(), None);
        assert_eq!(rtt.sample_from_timestamp(130, 100, ms(1)), Some(ms(30)));
        assert_eq!(rtt.srtt(), Some(ms(30)));
    }
}
