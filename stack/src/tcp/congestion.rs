//! Congestion control: RFC 5681 slow start and congestion avoidance, fast
//! retransmit and NewReno fast recovery (RFC 6582), and the congestion
//! window side of SACK-based loss recovery (RFC 6675).
//!
//! [`Congestion`] holds `cwnd`, `ssthresh` and NewReno's `recover`, all in
//! bytes and sequence numbers, and reacts to four events the TCB reports:
//!
//! * [`Congestion::on_ack`] — an ACK that advances SND.UNA;
//! * [`Congestion::on_dup_ack`] — a duplicate ACK ([`is_duplicate_ack`] for
//!   RFC 5681's definition; with SACK, RFC 6675's, see below);
//! * [`Congestion::on_rto`] — the retransmission timer expired;
//! * [`Congestion::restart_after_idle`] — about to send after an idle spell.
//!
//! Each returns what the TCB must do beyond sending as the window allows
//! ([`AckAction`], [`DupAckAction`]): retransmit the first unacknowledged
//! segment, or run the SACK transmission loop. The TCB may send new data
//! while `FlightSize + len <= `[`Congestion::window`] (and the peer's
//! window allows); in SACK recovery it sends, choosing segments with
//! [`Scoreboard::next_seg`](super::scoreboard::Scoreboard::next_seg), while
//! [`Congestion::sack_send_allowance`]`(pipe) >= SMSS`.
//!
//! # Recovery mode
//!
//! The TCB picks the loss recovery per connection with
//! [`Congestion::set_recovery_mode`]: [`RecoveryMode::NewReno`] when SACK
//! was not negotiated, [`RecoveryMode::Sack`] when it was. In SACK mode:
//!
//! * an ACK is a duplicate when it newly SACKs data
//!   ([`Scoreboard::update`](super::scoreboard::Scoreboard::update) returned
//!   `true`), even if it also advances SND.UNA or changes the window
//!   (RFC 6675 §2). For an ACK that does both, call `on_ack` first (which
//!   resets the count, RFC 6675 §5) and then `on_dup_ack`;
//! * recovery also starts before the third duplicate when the scoreboard
//!   says `IsLost(SND.UNA)` (RFC 6675 §5 step 2): call
//!   [`Congestion::enter_sack_recovery`];
//! * entering sets `cwnd = ssthresh` (no inflation); during recovery `cwnd`
//!   does not change and the TCB's `pipe` decides what may be sent.
//!
//! # Choices
//!
//! * Slow start uses appropriate byte counting (RFC 3465) with
//!   `L = 2·SMSS`: `cwnd += min(acked, 2·SMSS)` per ACK, so delayed ACKs
//!   still double `cwnd` per RTT. After an RTO, `L = 1·SMSS` until slow
//!   start ends (RFC 3465 §2.3).
//! * Congestion avoidance uses byte counting (RFC 3465 §2.1, RFC 5681
//!   §3.1): acknowledged bytes accumulate, and each time they reach `cwnd`,
//!   `cwnd` grows by one SMSS — exactly one SMSS per window acknowledged,
//!   whatever the ACK pattern.
//! * Recovery ends, in both modes, with RFC 6582's first option:
//!   `cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS)`, which avoids a
//!   burst when little data is outstanding.
//! * NewReno restarts the retransmission timer only on the first partial
//!   ACK (RFC 6582's "Impatient" variant), reported in
//!   [`AckAction::RetransmitFirstUnacked`].
//! * `recover` is stored as SND.MAX at the time (one past the highest
//!   sequence number sent), so RFC 6582's "ACK > recover" reads
//!   `ack >= recover` here. It is cleared once SND.UNA passes it, so that a
//!   stale value cannot wrap around the sequence space.
//! * A second RTO before any new data is acknowledged keeps `ssthresh`
//!   (RFC 5681 §3.1).
//! * No congestion window validation (RFC 7661): `cwnd` also grows when
//!   the sender is application-limited.
//!
//! ```
//! use rusty_stack::tcp::congestion::{Congestion, DupAckAction, AckAction};
//! use rusty_stack::wire::tcp::TcpSeqNumber;
//!
//! const SMSS: u32 = 1460;
//! let mut cc = Congestion::new(SMSS, 29_200);
//! assert_eq!(cc.window(), 29_200);
//!
//! // Slow start: each ACK of one segment adds one segment.
//! let una = TcpSeqNumber(1000);
//! cc.on_ack(SMSS, una + SMSS as usize, 29_200);
//! assert_eq!(cc.cwnd(), 29_200 + SMSS);
//!
//! // Three duplicates: fast retransmit, ssthresh = FlightSize / 2.
//! let una = una + SMSS as usize;
//! let snd_max = una + 20 * SMSS as usize;
//! let flight = 20 * SMSS;
//! assert_eq!(cc.on_dup_ack(una, snd_max, flight), DupAckAction::LimitedTransmit);
//! assert_eq!(cc.on_dup_ack(una, snd_max, flight), DupAckAction::LimitedTransmit);
//! assert_eq!(cc.on_dup_ack(una, snd_max, flight), DupAckAction::FastRetransmit);
//! assert_eq!(cc.ssthresh(), 10 * SMSS);
//! assert_eq!(cc.cwnd(), 13 * SMSS);
//!
//! // An ACK of everything outstanding ends recovery.
//! assert_eq!(cc.on_ack(flight, snd_max, flight), AckAction::RecoveryEnded);
//! assert!(!cc.in_recovery());
//! assert_eq!(cc.cwnd(), 2 * SMSS); // nothing outstanding: SMSS + SMSS
//! ```

use tracing::debug;

use crate::time::Duration;
use crate::wire::tcp::TcpSeqNumber;

/// The number of duplicate ACKs that triggers fast retransmit (RFC 5681,
/// RFC 6675's DupThresh).
pub const DUP_THRESH: u32 = 3;

/// RFC 6928's initial window: `min(10·SMSS, max(2·SMSS, 14600))` bytes.
///
/// That is 10·SMSS for every SMSS up to 1460 (14,600 bytes for Ethernet);
/// larger segments get 14,600 bytes rounded to no less than two segments.
pub const fn default_initial_window(smss: u32) -> u32 {
    let ten = smss.saturating_mul(10);
    let floor = smss.saturating_mul(2);
    let byte_cap = if floor > 14_600 { floor } else { 14_600 };
    if ten < byte_cap {
        ten
    } else {
        byte_cap
    }
}

/// Which loss recovery a connection uses after three duplicate ACKs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RecoveryMode {
    /// Fast retransmit and NewReno fast recovery (RFC 5681 §3.2, RFC 6582):
    /// for connections without SACK.
    #[default]
    NewReno,
    /// SACK-based recovery (RFC 6675): for connections that negotiated
    /// SACK-permitted; the TCB keeps a
    /// [`Scoreboard`](super::scoreboard::Scoreboard).
    Sack,
}

/// The phase of congestion control, for traces and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CcState {
    /// `cwnd < ssthresh`, not recovering.
    SlowStart,
    /// `cwnd >= ssthresh`, not recovering.
    CongestionAvoidance,
    /// NewReno fast recovery.
    FastRecovery,
    /// RFC 6675 SACK-based loss recovery.
    SackRecovery,
}

/// What the TCB must do after [`Congestion::on_ack`], beyond sending new
/// data as [`Congestion::window`] allows and restarting the retransmission
/// timer as RFC 6298 (5.3) says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AckAction {
    /// Nothing more (outside recovery; `cwnd` may have grown).
    None,
    /// A NewReno partial ACK (RFC 6582 §3.2 step 4): retransmit the first
    /// unacknowledged segment (at the new SND.UNA) now. `cwnd` was deflated
    /// by the bytes acknowledged (plus one SMSS back if that was at least
    /// one SMSS). `restart_timer` is `true` for the first partial ACK of
    /// this recovery only: on later ones leave the retransmission timer
    /// running, so that many losses end in an RTO rather than one
    /// retransmission per RTT.
    RetransmitFirstUnacked {
        /// Whether to restart the retransmission timer.
        restart_timer: bool,
    },
    /// SACK recovery goes on (RFC 6675 §5 (B)): update the scoreboard,
    /// recompute `pipe`, and send segments chosen by NextSeg() while
    /// [`Congestion::sack_send_allowance`] allows one SMSS.
    ContinueSackRecovery,
    /// The ACK covered `recover`: recovery is over and `cwnd` was set to
    /// `min(ssthresh, max(FlightSize, SMSS) + SMSS)`.
    RecoveryEnded,
}

/// What the TCB must do after [`Congestion::on_dup_ack`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DupAckAction {
    /// Nothing: a third or later duplicate that may not start recovery
    /// because SND.UNA has not reached `recover` (RFC 6582 §3.2 step 2:
    /// the loss was already handled by an earlier recovery or an RTO).
    None,
    /// The first or second duplicate: Limited Transmit (RFC 3042, RFC 5681
    /// §3.2 step 1) — [`Congestion::window`] now allows one more SMSS of new
    /// data (two after the second), `cwnd` itself is unchanged. In SACK
    /// mode the allowance is `cwnd - pipe` instead (RFC 6675 §5 step 3).
    LimitedTransmit,
    /// The third duplicate started recovery: retransmit the segment at
    /// SND.UNA now. In SACK mode, then set HighRxt (and RescueRxt) to the
    /// end of that segment and continue as for
    /// [`AckAction::ContinueSackRecovery`] (RFC 6675 §5 (4.3)–(4.5)).
    FastRetransmit,
    /// NewReno fast recovery: `cwnd` was inflated by one SMSS (RFC 5681
    /// §3.2 step 4); send new data if [`Congestion::window`] allows.
    Inflated,
    /// SACK recovery goes on: as [`AckAction::ContinueSackRecovery`].
    ContinueSackRecovery,
}

/// The fields of a received segment that decide whether it is a duplicate
/// ACK (see [`is_duplicate_ack`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AckSegment {
    /// The acknowledgment number.
    pub ack: TcpSeqNumber,
    /// The advertised window, scaled or not — but the same way as the
    /// `last_window` it is compared with.
    pub window: u32,
    /// Bytes of payload.
    pub payload_len: u32,
    /// Whether SYN is set.
    pub syn: bool,
    /// Whether FIN is set.
    pub fin: bool,
}

/// RFC 5681 §2's definition of a duplicate ACK: (a) data is outstanding
/// (`snd_una != snd_max`), (b) the segment carries no data, (c) neither SYN
/// nor FIN is set, (d) its acknowledgment number equals SND.UNA, and (e)
/// its window equals the window of the last ACK (`last_window`).
///
/// With SACK use RFC 6675's definition instead (see the
/// [module documentation](self)).
pub fn is_duplicate_ack(
    seg: &AckSegment,
    snd_una: TcpSeqNumber,
    snd_max: TcpSeqNumber,
    last_window: u32,
) -> bool {
    snd_max.diff(snd_una) > 0
        && seg.payload_len == 0
        && !seg.syn
        && !seg.fin
        && seg.ack == snd_una
        && seg.window == last_window
}

/// The congestion window of one connection and the state of its loss
/// recovery (see the [module documentation](self)). All sizes are bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Congestion {
    smss: u32,
    initial_window: u32,
    cwnd: u32,
    ssthresh: u32,
    /// SND.MAX when the last recovery or RTO began, until SND.UNA passes it.
    recover: Option<TcpSeqNumber>,
    mode: RecoveryMode,
    /// The recovery in progress, if any.
    recovery: Option<RecoveryMode>,
    dup_acks: u32,
    /// Congestion avoidance byte counter (RFC 3465 §2.1).
    bytes_acked: u32,
    /// Whether a partial ACK was seen in this NewReno recovery.
    partial_acked: bool,
    /// Slow start after an RTO: ABC with L = 1·SMSS.
    after_rto: bool,
    /// An RTO happened and no new data has been acknowledged since.
    rto_pending: bool,
}

impl Congestion {
    /// A connection's congestion state with sender maximum segment size
    /// `smss` and initial window `initial_window` (for example
    /// [`default_initial_window`]`(smss)`, or 29,200 bytes; raised to one
    /// SMSS if smaller). `ssthresh` starts "arbitrarily high" (`u32::MAX`;
    /// see [`set_ssthresh`](Congestion::set_ssthresh)), the recovery mode is
    /// [`RecoveryMode::NewReno`].
    ///
    /// # Panics
    ///
    /// If `smss` is zero.
    pub fn new(smss: u32, initial_window: u32) -> Self {
        assert!(smss > 0, "SMSS must be positive");
        let initial_window = initial_window.max(smss);
        Congestion {
            smss,
            initial_window,
            cwnd: initial_window,
            ssthresh: u32::MAX,
            recover: None,
            mode: RecoveryMode::NewReno,
            recovery: None,
            dup_acks: 0,
            bytes_acked: 0,
            partial_acked: false,
            after_rto: false,
            rto_pending: false,
        }
    }

    /// Chooses the loss recovery for the next recovery episode (one in
    /// progress finishes as it began). Call it once SACK-permitted has
    /// been negotiated.
    pub fn set_recovery_mode(&mut self, mode: RecoveryMode) {
        self.mode = mode;
    }

    /// The loss recovery chosen for this connection.
    pub fn recovery_mode(&self) -> RecoveryMode {
        self.mode
    }

    /// Sets `ssthresh`, for example to the peer's advertised window at the
    /// start of the connection (RFC 5681 §3.1 allows any high value); it is
    /// raised to at least 2·SMSS.
    pub fn set_ssthresh(&mut self, ssthresh: u32) {
        self.ssthresh = ssthresh.max(self.two_smss());
    }

    /// The sender maximum segment size.
    pub fn smss(&self) -> u32 {
        self.smss
    }

    /// The initial window (also the restart window's cap).
    pub fn initial_window(&self) -> u32 {
        self.initial_window
    }

    /// The congestion window `cwnd`, inflated during NewReno recovery.
    pub fn cwnd(&self) -> u32 {
        self.cwnd
    }

    /// The slow start threshold.
    pub fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    /// NewReno's `recover` / RFC 6675's RecoveryPoint: SND.MAX when the
    /// current or last recovery (or RTO) began; `None` once SND.UNA has
    /// passed it, or before any loss.
    pub fn recover(&self) -> Option<TcpSeqNumber> {
        self.recover
    }

    /// Duplicate ACKs counted since the last ACK of new data.
    pub fn dup_acks(&self) -> u32 {
        self.dup_acks
    }

    /// Whether fast recovery (either mode) is in progress.
    pub fn in_recovery(&self) -> bool {
        self.recovery.is_some()
    }

    /// The phase of congestion control.
    pub fn state(&self) -> CcState {
        match self.recovery {
            Some(RecoveryMode::NewReno) => CcState::FastRecovery,
            Some(RecoveryMode::Sack) => CcState::SackRecovery,
            None if self.cwnd < self.ssthresh => CcState::SlowStart,
            None => CcState::CongestionAvoidance,
        }
    }

    /// The most data that may be outstanding (FlightSize) after sending:
    /// `cwnd`, plus one SMSS per duplicate ACK (at most two) for Limited
    /// Transmit outside recovery. In SACK recovery use
    /// [`sack_send_allowance`](Congestion::sack_send_allowance) instead.
    pub fn window(&self) -> u32 {
        match self.recovery {
            Some(_) => self.cwnd,
            None => self
                .cwnd
                .saturating_add(self.dup_acks.min(2).saturating_mul(self.smss)),
        }
    }

    /// How many bytes may be sent now with `flight_size` bytes
    /// outstanding: `window() - flight_size`, or zero.
    pub fn send_allowance(&self, flight_size: u32) -> u32 {
        self.window().saturating_sub(flight_size)
    }

    /// How many bytes may be sent in SACK recovery (or for SACK Limited
    /// Transmit) with `pipe` bytes estimated in the network (the
    /// scoreboard's SetPipe()): `cwnd - pipe`, or zero. RFC 6675 sends one
    /// segment at a time while this is at least one SMSS.
    pub fn sack_send_allowance(&self, pipe: u32) -> u32 {
        self.cwnd.saturating_sub(pipe)
    }

    /// Processes an ACK that advanced SND.UNA to `snd_una_after`,
    /// acknowledging `acked_bytes` new bytes while `in_flight_before` bytes
    /// were outstanding (FlightSize before the ACK).
    ///
    /// Outside recovery `cwnd` grows (slow start or congestion avoidance,
    /// see the module's "Choices") and the duplicate count resets. In
    /// recovery, an ACK reaching `recover` ends it ("full ACK"); otherwise
    /// it is a partial ACK, handled per the recovery mode.
    pub fn on_ack(
        &mut self,
        acked_bytes: u32,
        snd_una_after: TcpSeqNumber,
        in_flight_before: u32,
    ) -> AckAction {
        self.rto_pending = false;
        self.dup_acks = 0;
        let reached_recover = self
            .recover
            .is_none_or(|recover| snd_una_after.diff(recover) >= 0);
        if reached_recover {
            self.recover = None;
        }
        let Some(mode) = self.recovery else {
            self.grow(acked_bytes);
            return AckAction::None;
        };
        if reached_recover {
            let flight_after = in_flight_before.saturating_sub(acked_bytes);
            self.cwnd = self
                .ssthresh
                .min(flight_after.max(self.smss).saturating_add(self.smss));
            self.recovery = None;
            self.bytes_acked = 0;
            debug!(cwnd = self.cwnd, ssthresh = self.ssthresh, "recovery ended");
            return AckAction::RecoveryEnded;
        }
        match mode {
            RecoveryMode::NewReno => {
                let mut cwnd = self.cwnd.saturating_sub(acked_bytes);
                if acked_bytes >= self.smss {
                    cwnd = cwnd.saturating_add(self.smss);
                }
                self.cwnd = cwnd.max(self.smss);
                let first = !self.partial_acked;
                self.partial_acked = true;
                AckAction::RetransmitFirstUnacked {
                    restart_timer: first,
                }
            }
            RecoveryMode::Sack => AckAction::ContinueSackRecovery,
        }
    }

    /// Processes a duplicate ACK: `snd_una` is SND.UNA (the ACK's number),
    /// `snd_max` the highest sequence number sent plus one, `flight_size`
    /// the bytes outstanding (RFC 5681 asks to leave out segments sent by
    /// Limited Transmit).
    ///
    /// The third duplicate starts recovery in the chosen
    /// [`RecoveryMode`] unless SND.UNA is still below `recover`:
    /// `ssthresh = max(FlightSize/2, 2·SMSS)`, `recover = snd_max`, and
    /// `cwnd = ssthresh + 3·SMSS` (NewReno) or `cwnd = ssthresh` (SACK).
    pub fn on_dup_ack(
        &mut self,
        snd_una: TcpSeqNumber,
        snd_max: TcpSeqNumber,
        flight_size: u32,
    ) -> DupAckAction {
        self.dup_acks = self.dup_acks.saturating_add(1);
        match self.recovery {
            Some(RecoveryMode::NewReno) => {
                self.cwnd = self.cwnd.saturating_add(self.smss);
                DupAckAction::Inflated
            }
            Some(RecoveryMode::Sack) => DupAckAction::ContinueSackRecovery,
            None if self.dup_acks < DUP_THRESH => DupAckAction::LimitedTransmit,
            None if self.may_enter(snd_una) => {
                self.enter(self.mode, snd_max, flight_size);
                DupAckAction::FastRetransmit
            }
            None => DupAckAction::None,
        }
    }

    /// Starts SACK recovery before the third duplicate ACK, when the
    /// scoreboard reports `IsLost(SND.UNA)` (RFC 6675 §5 step 2), whatever
    /// the [`RecoveryMode`]. Returns `false` (and changes nothing) when
    /// already recovering or when SND.UNA is below `recover`; on `true`
    /// proceed as for [`DupAckAction::FastRetransmit`].
    pub fn enter_sack_recovery(
        &mut self,
        snd_una: TcpSeqNumber,
        snd_max: TcpSeqNumber,
        flight_size: u32,
    ) -> bool {
        if self.recovery.is_some() || !self.may_enter(snd_una) {
            return false;
        }
        self.enter(RecoveryMode::Sack, snd_max, flight_size);
        true
    }

    /// The retransmission timer expired with `flight_size` bytes
    /// outstanding and SND.MAX at `snd_max` (RFC 5681 §3.1, RFC 6582 §3.2
    /// step 2, RFC 6675 §5.1): `ssthresh = max(FlightSize/2, 2·SMSS)`
    /// (kept as is on a repeated timeout with no new data acknowledged in
    /// between), `cwnd` = one SMSS (the loss window), recovery ends, and
    /// `recover = snd_max` so that duplicate ACKs for data sent before the
    /// timeout cannot start a fast retransmit.
    pub fn on_rto(&mut self, flight_size: u32, snd_max: TcpSeqNumber) {
        if !self.rto_pending {
            self.ssthresh = self.halved(flight_size);
        }
        self.cwnd = self.smss;
        self.recover = Some(snd_max);
        self.recovery = None;
        self.dup_acks = 0;
        self.bytes_acked = 0;
        self.partial_acked = false;
        self.after_rto = true;
        self.rto_pending = true;
        debug!(cwnd = self.cwnd, ssthresh = self.ssthresh, "RTO");
    }

    /// RFC 5681 §4.1: before sending after no data was sent for `idle`,
    /// if that exceeds the retransmission timeout `rto`, `cwnd` drops to
    /// the restart window `min(initial window, cwnd)`. Returns whether it
    /// did.
    pub fn restart_after_idle(&mut self, idle: Duration, rto: Duration) -> bool {
        if idle <= rto {
            return false;
        }
        self.cwnd = self.cwnd.min(self.initial_window);
        self.bytes_acked = 0;
        true
    }

    fn two_smss(&self) -> u32 {
        self.smss.saturating_mul(2)
    }

    /// RFC 5681 (4): `max(FlightSize / 2, 2·SMSS)`.
    fn halved(&self, flight_size: u32) -> u32 {
        (flight_size / 2).max(self.two_smss())
    }

    /// RFC 6582 §3.2 step 2: the ACK must cover more than `recover`.
    fn may_enter(&self, snd_una: TcpSeqNumber) -> bool {
        self.recover
            .is_none_or(|recover| snd_una.diff(recover) >= 0)
    }

    fn enter(&mut self, mode: RecoveryMode, snd_max: TcpSeqNumber, flight_size: u32) {
        self.ssthresh = self.halved(flight_size);
        self.cwnd = match mode {
            RecoveryMode::NewReno => self
                .ssthresh
                .saturating_add(self.smss.saturating_mul(DUP_THRESH)),
            RecoveryMode::Sack => self.ssthresh,
        };
        self.recover = Some(snd_max);
        self.recovery = Some(mode);
        self.bytes_acked = 0;
        self.partial_acked = false;
        self.after_rto = false;
        debug!(
            ?mode,
            cwnd = self.cwnd,
            ssthresh = self.ssthresh,
            "recovery started"
        );
    }

    /// Slow start or congestion avoidance for `acked` new bytes.
    fn grow(&mut self, acked: u32) {
        if self.cwnd < self.ssthresh {
            let limit = if self.after_rto {
                self.smss
            } else {
                self.two_smss()
            };
            self.cwnd = self.cwnd.saturating_add(acked.min(limit));
        } else {
            self.after_rto = false;
            self.bytes_acked = self.bytes_acked.saturating_add(acked);
            if self.bytes_acked >= self.cwnd {
                self.bytes_acked -= self.cwnd;
                self.cwnd = self.cwnd.saturating_add(self.smss);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMSS: u32 = 1460;

    fn seq(n: u32) -> TcpSeqNumber {
        TcpSeqNumber(n)
    }

    /// One round trip of a sender that keeps the window full: `cwnd`
    /// bytes are acknowledged in ACKs of `per_ack` bytes.
    fn round(cc: &mut Congestion, una: &mut TcpSeqNumber, per_ack: u32) {
        let mut left = cc.cwnd();
        let mut flight = left;
        while left > 0 {
            let n = per_ack.min(left);
            *una += n as usize;
            assert_eq!(cc.on_ack(n, *una, flight), AckAction::None);
            left -= n;
            flight -= n;
        }
    }

    #[test]
    fn initial_windows() {
        for (smss, iw) in [(1460, 14_600), (536, 5360), (1000, 10_000), (9000, 18_000)] {
            assert_eq!(default_initial_window(smss), iw, "SMSS {smss}");
        }
        let cc = Congestion::new(SMSS, 29_200);
        assert_eq!(
            (cc.cwnd(), cc.window(), cc.initial_window()),
            (29_200, 29_200, 29_200)
        );
        assert_eq!(cc.ssthresh(), u32::MAX);
        assert_eq!(cc.state(), CcState::SlowStart);
        assert_eq!(Congestion::new(SMSS, 100).cwnd(), SMSS, "at least one SMSS");
    }

    #[test]
    fn slow_start_doubles_per_rtt() {
        // (initial window in segments, bytes per ACK, cwnd in segments after
        // each round): one ACK per segment or per two segments (delayed
        // ACKs, thanks to L = 2·SMSS) both double.
        let table: &[(u32, u32, &[u32])] = &[
            (2, SMSS, &[4, 8, 16, 32]),
            (2, 2 * SMSS, &[4, 8, 16, 32]),
            (20, SMSS, &[40, 80]),
            (20, 2 * SMSS, &[40, 80]),
        ];
        for &(iw, per_ack, expect) in table {
            let mut cc = Congestion::new(SMSS, iw * SMSS);
            let mut una = seq(7);
            for &segs in expect {
                round(&mut cc, &mut una, per_ack);
                assert_eq!(cc.cwnd(), segs * SMSS, "iw {iw}, per ACK {per_ack}");
            }
        }
    }

    #[test]
    fn slow_start_byte_counting_limits_stretch_acks() {
        let mut cc = Congestion::new(SMSS, 10 * SMSS);
        // One ACK for ten segments adds only L = 2·SMSS.
        cc.on_ack(10 * SMSS, seq(10 * SMSS), 10 * SMSS);
        assert_eq!(cc.cwnd(), 12 * SMSS);
        // A small ACK adds only what it acknowledges.
        cc.on_ack(100, seq(10 * SMSS + 100), 100);
        assert_eq!(cc.cwnd(), 12 * SMSS + 100);
    }

    #[test]
    fn congestion_avoidance_grows_one_smss_per_rtt() {
        // Whatever the ACK size, one SMSS per window's worth of bytes.
        for per_ack in [SMSS, 2 * SMSS, 500, 10 * SMSS] {
            let mut cc = Congestion::new(SMSS, 10 * SMSS);
            cc.set_ssthresh(10 * SMSS);
            assert_eq!(cc.state(), CcState::CongestionAvoidance);
            let mut una = seq(u32::MAX - 5000);
            for rtt in 1..=5 {
                round(&mut cc, &mut una, per_ack);
                assert_eq!(cc.cwnd(), (10 + rtt) * SMSS, "per ACK {per_ack}");
            }
        }
    }

    #[test]
    fn slow_start_hands_over_to_congestion_avoidance() {
        let mut cc = Congestion::new(SMSS, 4 * SMSS);
        cc.set_ssthresh(6 * SMSS);
        let mut una = seq(0);
        // Two ACKs grow cwnd to ssthresh; the other two count bytes.
        round(&mut cc, &mut una, SMSS);
        assert_eq!(cc.cwnd(), 6 * SMSS);
        assert_eq!(cc.state(), CcState::CongestionAvoidance);
        // 2 + 6 segments counted: one SMSS more.
        round(&mut cc, &mut una, SMSS);
        assert_eq!(cc.cwnd(), 7 * SMSS);
    }

    #[test]
    fn third_dup_ack_triggers_fast_retransmit() {
        // (FlightSize in segments, expected ssthresh and cwnd in segments).
        let table: &[(u32, u32, u32)] = &[(20, 10, 13), (12, 6, 9), (3, 2, 5), (1, 2, 5)];
        for &(flight_segs, ssthresh, cwnd) in table {
            let mut cc = Congestion::new(SMSS, 29_200);
            let una = seq(1_000_000);
            let flight = flight_segs * SMSS;
            let snd_max = una + flight as usize;
            assert_eq!(
                cc.on_dup_ack(una, snd_max, flight),
                DupAckAction::LimitedTransmit
            );
            assert_eq!(cc.window(), 29_200 + SMSS);
            assert_eq!(
                cc.on_dup_ack(una, snd_max, flight),
                DupAckAction::LimitedTransmit
            );
            assert_eq!(cc.window(), 29_200 + 2 * SMSS);
            assert_eq!(cc.cwnd(), 29_200, "Limited Transmit leaves cwnd alone");
            assert_eq!(
                cc.on_dup_ack(una, snd_max, flight),
                DupAckAction::FastRetransmit
            );
            assert_eq!(cc.ssthresh(), ssthresh * SMSS, "flight {flight_segs}");
            assert_eq!(cc.cwnd(), cwnd * SMSS, "flight {flight_segs}");
            assert_eq!(cc.window(), cwnd * SMSS);
            assert_eq!(cc.recover(), Some(snd_max));
            assert_eq!(cc.state(), CcState::FastRecovery);
            // Further duplicates inflate by one SMSS each.
            assert_eq!(cc.on_dup_ack(una, snd_max, flight), DupAckAction::Inflated);
            assert_eq!(cc.on_dup_ack(una, snd_max, flight), DupAckAction::Inflated);
            assert_eq!(cc.cwnd(), (cwnd + 2) * SMSS);
        }
    }

    #[test]
    fn partial_acks_stay_in_recovery_and_full_ack_exits() {
        let mut cc = Congestion::new(SMSS, 20 * SMSS);
        let una = seq(u32::MAX - 3 * SMSS); // recovery spans the wrap
        let snd_max = una + (20 * SMSS) as usize;
        for _ in 0..3 {
            cc.on_dup_ack(una, snd_max, 20 * SMSS);
        }
        for _ in 0..5 {
            cc.on_dup_ack(una, snd_max, 20 * SMSS);
        }
        assert_eq!(cc.cwnd(), (10 + 3 + 5) * SMSS);
        // Partial ACK of two segments: deflate by 2, add one back.
        let una = una + (2 * SMSS) as usize;
        assert_eq!(
            cc.on_ack(2 * SMSS, una, 20 * SMSS),
            AckAction::RetransmitFirstUnacked {
                restart_timer: true
            }
        );
        assert_eq!(cc.cwnd(), (18 - 2 + 1) * SMSS);
        assert!(cc.in_recovery());
        assert_eq!(cc.dup_acks(), 0);
        // Duplicates after a partial ACK keep inflating.
        assert_eq!(
            cc.on_dup_ack(una, snd_max, 18 * SMSS),
            DupAckAction::Inflated
        );
        assert_eq!(cc.cwnd(), 18 * SMSS);
        // A partial ACK of less than one SMSS: deflate only.
        let una = una + 100;
        assert_eq!(
            cc.on_ack(100, una, 18 * SMSS),
            AckAction::RetransmitFirstUnacked {
                restart_timer: false
            }
        );
        assert_eq!(cc.cwnd(), 18 * SMSS - 100);
        // The full ACK: cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS).
        let flight = snd_max.diff(una) as u32;
        assert_eq!(cc.on_ack(flight, snd_max, flight), AckAction::RecoveryEnded);
        assert!(!cc.in_recovery());
        assert_eq!(cc.cwnd(), 2 * SMSS);
        assert_eq!(cc.ssthresh(), 10 * SMSS);
        assert_eq!(cc.recover(), None);
        assert_eq!(cc.state(), CcState::SlowStart);
    }

    #[test]
    fn full_ack_with_data_outstanding_caps_at_ssthresh() {
        // (FlightSize after the full ACK, expected cwnd), ssthresh 10 SMSS.
        let table: &[(u32, u32)] = &[(0, 2 * SMSS), (5 * SMSS, 6 * SMSS), (30 * SMSS, 10 * SMSS)];
        for &(after, cwnd) in table {
            let mut cc = Congestion::new(SMSS, 20 * SMSS);
            let una = seq(0);
            let recover = una + (20 * SMSS) as usize;
            for _ in 0..3 {
                cc.on_dup_ack(una, recover, 20 * SMSS);
            }
            // New data was sent during recovery; the ACK covers `recover`.
            let acked = 20 * SMSS;
            assert_eq!(
                cc.on_ack(acked, recover, acked + after),
                AckAction::RecoveryEnded
            );
            assert_eq!(cc.cwnd(), cwnd, "after {after}");
        }
    }

    #[test]
    fn rto_resets_to_loss_window_and_guards_with_recover() {
        let mut cc = Congestion::new(SMSS, 29_200);
        let una = seq(5000);
        let snd_max = una + 29_200;
        cc.on_rto(29_200, snd_max);
        assert_eq!(cc.cwnd(), SMSS);
        assert_eq!(cc.ssthresh(), 14_600);
        assert_eq!(cc.recover(), Some(snd_max));
        assert_eq!(cc.state(), CcState::SlowStart);
        // A second timeout before any new ACK keeps ssthresh.
        cc.on_rto(29_200, snd_max);
        assert_eq!(cc.ssthresh(), 14_600);
        // Slow start after an RTO counts at most one SMSS per ACK.
        let una = una + (2 * SMSS) as usize;
        cc.on_ack(2 * SMSS, una, 29_200);
        assert_eq!(cc.cwnd(), 2 * SMSS);
        // Duplicates below `recover` do not trigger fast retransmit.
        for _ in 0..2 {
            assert_eq!(
                cc.on_dup_ack(una, snd_max, 2 * SMSS),
                DupAckAction::LimitedTransmit
            );
        }
        for _ in 0..5 {
            assert_eq!(cc.on_dup_ack(una, snd_max, 2 * SMSS), DupAckAction::None);
        }
        assert_eq!(cc.ssthresh(), 14_600, "ssthresh untouched");
        assert_eq!(cc.cwnd(), 2 * SMSS);
        // Once SND.UNA reaches `recover`, losses of new data are handled.
        let snd_max2 = snd_max + (4 * SMSS) as usize;
        cc.on_ack(snd_max.diff(una) as u32, snd_max, 29_200);
        assert_eq!(cc.recover(), None);
        for _ in 0..2 {
            cc.on_dup_ack(snd_max, snd_max2, 4 * SMSS);
        }
        assert_eq!(
            cc.on_dup_ack(snd_max, snd_max2, 4 * SMSS),
            DupAckAction::FastRetransmit
        );
        assert_eq!(cc.ssthresh(), 2 * SMSS);
        // An RTO in recovery, after new data was acknowledged: halve again.
        cc.on_rto(10 * SMSS, snd_max2);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (SMSS, 5 * SMSS));
        assert!(!cc.in_recovery());
    }

    #[test]
    fn rto_during_recovery_ends_it_and_blocks_a_new_one() {
        let mut cc = Congestion::new(SMSS, 20 * SMSS);
        let una = seq(0);
        let snd_max = una + (20 * SMSS) as usize;
        for _ in 0..3 {
            cc.on_dup_ack(una, snd_max, 20 * SMSS);
        }
        let snd_max = snd_max + (3 * SMSS) as usize; // sent during recovery
        cc.on_rto(23 * SMSS, snd_max);
        assert!(!cc.in_recovery());
        assert_eq!(cc.recover(), Some(snd_max));
        let una = una + SMSS as usize;
        cc.on_ack(SMSS, una, 23 * SMSS);
        for _ in 0..4 {
            assert_ne!(
                cc.on_dup_ack(una, snd_max, 22 * SMSS),
                DupAckAction::FastRetransmit
            );
        }
    }

    #[test]
    fn sack_recovery_uses_pipe_and_no_inflation() {
        let mut cc = Congestion::new(SMSS, 20 * SMSS);
        cc.set_recovery_mode(RecoveryMode::Sack);
        let una = seq(100);
        let snd_max = una + (20 * SMSS) as usize;
        for _ in 0..2 {
            cc.on_dup_ack(una, snd_max, 20 * SMSS);
        }
        assert_eq!(
            cc.on_dup_ack(una, snd_max, 20 * SMSS),
            DupAckAction::FastRetransmit
        );
        assert_eq!(cc.state(), CcState::SackRecovery);
        assert_eq!((cc.ssthresh(), cc.cwnd()), (10 * SMSS, 10 * SMSS));
        assert_eq!(
            cc.on_dup_ack(una, snd_max, 20 * SMSS),
            DupAckAction::ContinueSackRecovery
        );
        assert_eq!(cc.cwnd(), 10 * SMSS, "no inflation");
        assert_eq!(cc.sack_send_allowance(8 * SMSS), 2 * SMSS);
        assert_eq!(cc.sack_send_allowance(12 * SMSS), 0);
        let una2 = una + (5 * SMSS) as usize;
        assert_eq!(
            cc.on_ack(5 * SMSS, una2, 20 * SMSS),
            AckAction::ContinueSackRecovery
        );
        assert_eq!(cc.cwnd(), 10 * SMSS, "partial ACKs leave cwnd alone");
        assert_eq!(
            cc.on_ack(15 * SMSS, snd_max, 15 * SMSS),
            AckAction::RecoveryEnded
        );
        assert_eq!(cc.cwnd(), 2 * SMSS);
    }

    #[test]
    fn sack_recovery_can_start_early_on_is_lost() {
        let mut cc = Congestion::new(SMSS, 20 * SMSS);
        cc.set_recovery_mode(RecoveryMode::Sack);
        let una = seq(100);
        let snd_max = una + (20 * SMSS) as usize;
        assert_eq!(
            cc.on_dup_ack(una, snd_max, 20 * SMSS),
            DupAckAction::LimitedTransmit
        );
        assert!(cc.enter_sack_recovery(una, snd_max, 20 * SMSS));
        assert_eq!(cc.state(), CcState::SackRecovery);
        assert!(
            !cc.enter_sack_recovery(una, snd_max, 20 * SMSS),
            "already in"
        );
        cc.on_rto(20 * SMSS, snd_max);
        assert!(!cc.enter_sack_recovery(una, snd_max, 20 * SMSS), "guarded");
        assert!(cc.enter_sack_recovery(snd_max, snd_max + 1000, 1000));
    }

    #[test]
    fn duplicate_ack_definition() {
        let una = seq(u32::MAX - 1);
        let max = una + 3000;
        let dup = AckSegment {
            ack: una,
            window: 65_535,
            payload_len: 0,
            syn: false,
            fin: false,
        };
        assert!(is_duplicate_ack(&dup, una, max, 65_535));
        let not = [
            AckSegment {
                payload_len: 1,
                ..dup
            },
            AckSegment { syn: true, ..dup },
            AckSegment { fin: true, ..dup },
            AckSegment {
                ack: una + 1,
                ..dup
            },
            AckSegment {
                window: 65_000,
                ..dup
            },
        ];
        for seg in not {
            assert!(!is_duplicate_ack(&seg, una, max, 65_535), "{seg:?}");
        }
        assert!(
            !is_duplicate_ack(&dup, una, una, 65_535),
            "nothing outstanding"
        );
    }

    #[test]
    fn idle_restart_caps_at_initial_window() {
        let mut cc = Congestion::new(SMSS, 10 * SMSS);
        let mut una = seq(0);
        round(&mut cc, &mut una, SMSS);
        assert_eq!(cc.cwnd(), 20 * SMSS);
        let rto = Duration::from_secs(1);
        assert!(!cc.restart_after_idle(Duration::from_millis(999), rto));
        assert_eq!(cc.cwnd(), 20 * SMSS);
        assert!(cc.restart_after_idle(Duration::from_secs(2), rto));
        assert_eq!(cc.cwnd(), 10 * SMSS);
    }
}
