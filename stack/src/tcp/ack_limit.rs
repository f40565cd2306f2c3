//! Rate limits for the ACKs a stack sends in answer to segments it rejects
//! (RFC 5961 §7, as Linux applies them).
//!
//! Out-of-window segments, PAWS rejects, RSTs and SYNs that do not match
//! exactly, and ACKs of data never sent are each answered with an ACK so a
//! confused peer can resynchronise. Answered without limit, two stacks that
//! disagree (or an attacker) can keep each other busy for ever: every
//! late ACK that reaches a TIME-WAIT entry is answered, the peer, already
//! closed, answers that with a RST, and so on. Linux limits these answers
//! in two ways, and so does [`AckLimiter`]:
//!
//! * **per connection**: at most one such ACK per
//!   [`TcpConfig::invalid_ack_interval`] (Linux's `tcp_invalid_ratelimit`,
//!   500 ms). Segments that carry data (and no SYN) are exempt from this
//!   limit for out-of-window answers, as they are unlikely to be part of an
//!   ACK loop (Linux's `tcp_oow_rate_limited`).
//! * **per core, for challenge ACKs** (RFC 5961 §3–5: a RST or SYN inside
//!   the window, an ACK far below SND.UNA): at most
//!   [`TcpConfig::challenge_ack_limit`] per second (Linux's
//!   `tcp_challenge_ack_limit`).
//!
//! Every answer not sent is counted (`TcpCounters::acks_rate_limited`).
//!
//! [`TcpConfig::invalid_ack_interval`]: super::TcpConfig::invalid_ack_interval
//! [`TcpConfig::challenge_ack_limit`]: super::TcpConfig::challenge_ack_limit

use crate::time::{Duration, Instant};

/// The core-wide state of the limits (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckLimiter {
    interval: Duration,
    challenge_limit: u32,
    /// Start of the current one-second window of the challenge budget.
    window_start: Instant,
    /// Challenge ACKs sent in that window.
    challenges_in_window: u32,
}

impl AckLimiter {
    /// A limiter allowing one answer per `interval` per connection, and at
    /// most `challenge_limit` challenge ACKs per second on the core.
    pub fn new(interval: Duration, challenge_limit: u32) -> Self {
        AckLimiter {
            interval,
            challenge_limit,
            window_start: Instant::ZERO,
            challenges_in_window: 0,
        }
    }

    /// Whether a connection (or TIME-WAIT entry) whose last such answer went
    /// out at `last` may answer an unacceptable segment at `now`; when it
    /// may, `last` becomes `now`. `carries_data` is true for a segment with
    /// payload and no SYN, which is always answered.
    pub fn allow_out_of_window(
        &self,
        last: &mut Option<Instant>,
        now: Instant,
        carries_data: bool,
    ) -> bool {
        if carries_data {
            return true;
        }
        self.per_connection(last, now)
    }

    /// Whether a challenge ACK may go out at `now` for a connection whose
    /// last answer went out at `last` (updated when it may).
    pub fn allow_challenge(&mut self, last: &mut Option<Instant>, now: Instant) -> bool {
        if !self.per_connection(last, now) {
            return false;
        }
        if now - self.window_start >= Duration::from_secs(1) || now < self.window_start {
            self.window_start = now;
            self.challenges_in_window = 0;
        }
        if self.challenges_in_window >= self.challenge_limit {
            return false;
        }
        self.challenges_in_window += 1;
        true
    }

    fn per_connection(&self, last: &mut Option<Instant>, now: Instant) -> bool {
        match *last {
            Some(at) if now >= at && now - at < self.interval => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(ms)
    }

    #[test]
    fn one_answer_per_interval_per_connection() {
        let limiter = AckLimiter::new(Duration::from_millis(500), 1000);
        let mut last = None;
        assert!(limiter.allow_out_of_window(&mut last, at(0), false));
        assert!(!limiter.allow_out_of_window(&mut last, at(1), false));
        assert!(!limiter.allow_out_of_window(&mut last, at(499), false));
        assert!(limiter.allow_out_of_window(&mut last, at(500), false));
        // Data segments are always answered, and do not move the clock.
        assert!(limiter.allow_out_of_window(&mut last, at(501), true));
        assert_eq!(last, Some(at(500)));
        // Another connection has its own clock.
        let mut other = None;
        assert!(limiter.allow_out_of_window(&mut other, at(501), false));
    }

    #[test]
    fn challenge_acks_have_a_core_wide_budget_per_second() {
        let mut limiter = AckLimiter::new(Duration::from_millis(500), 3);
        let mut lasts = [None; 10];
        let mut allowed = 0;
        for last in lasts.iter_mut() {
            if limiter.allow_challenge(last, at(100)) {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 3);
        // A second later the budget is back.
        let mut fresh = None;
        assert!(limiter.allow_challenge(&mut fresh, at(1100)));
    }

    #[test]
    fn zero_interval_limits_nothing_per_connection() {
        let limiter = AckLimiter::new(Duration::ZERO, 10);
        let mut last = None;
        for ms in [0, 0, 1, 1] {
            assert!(limiter.allow_out_of_window(&mut last, at(ms), false));
        }
    }
}
