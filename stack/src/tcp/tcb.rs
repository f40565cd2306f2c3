//! One connection's transmission control block, and the send queueing of
//! the handle through which applications act on it ([`super::app::Conn`]).

use std::collections::VecDeque;

use super::app::{ConnId, SendError};
use super::congestion::Congestion;
use super::reassembly::OooQueue;
use super::rtt::{RttEstimator, RttSampler};
use super::scoreboard::Scoreboard;
use crate::iface::Ipv4Template;
use crate::mem::timer::TimerId;
use crate::time::Instant;
use crate::wire::{Ipv4Addr, TcpHeaderTemplate, TcpSeqNumber};

/// Connection states: RFC 9293's, plus the two the thesis found an
/// efficient TCP needs because `close()` may come while data still waits
/// to be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Slot free.
    Closed,
    /// Active open: our SYN sent.
    SynSent,
    /// SYN received and answered.
    SynReceived,
    /// Open in both directions.
    Established,
    /// ESTABLISHED with `close()` requested while queued data is still
    /// unsent: the FIN goes out after the last byte.
    FinPending,
    /// Our FIN sent, not yet acknowledged.
    FinWait1,
    /// Our FIN acknowledged; waiting for the peer's.
    FinWait2,
    /// The peer's FIN received; we may still send.
    CloseWait,
    /// CLOSE-WAIT with `close()` requested while queued data is unsent
    /// (the thesis's "FIN received while closing with a non-empty queue").
    CloseWaitFinPending,
    /// Both FINs sent, ours not yet acknowledged (simultaneous close).
    Closing,
    /// Peer's FIN received, ours sent, waiting for its ACK.
    LastAck,
}

impl State {
    /// Whether the peer's FIN has been received.
    pub fn remote_closed(self) -> bool {
        matches!(
            self,
            State::CloseWait | State::CloseWaitFinPending | State::Closing | State::LastAck
        )
    }

    /// Whether the state accepts data from the peer.
    pub fn receives_data(self) -> bool {
        matches!(
            self,
            State::Established | State::FinPending | State::FinWait1 | State::FinWait2
        )
    }

    /// Short upper-case name, as in traces.
    pub fn name(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECEIVED",
            State::Established => "ESTABLISHED",
            State::FinPending => "FIN-PENDING",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::CloseWaitFinPending => "CLOSE-WAIT-FIN-PENDING",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
        }
    }
}

/// One queued `send`.
#[derive(Debug)]
pub(crate) struct TxEntry<W> {
    pub writer: W,
    pub len: u32,
}

/// Which timer a wheel entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimerKind {
    /// Retransmission (or SYN retry, or zero-window probe).
    Retransmit,
    /// Delayed ACK.
    DelayedAck,
    /// Keepalive.
    Keepalive,
    /// The application's timer ([`super::app::Conn::set_timer`]).
    App,
}

/// What the timer wheel stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey {
    pub slot: u32,
    pub generation: u32,
    pub kind: TimerKind,
}

/// A transmission control block.
#[derive(Debug)]
pub(crate) struct Tcb<W> {
    pub id: ConnId,
    pub state: State,
    pub local: (Ipv4Addr, u16),
    pub remote: (Ipv4Addr, u16),
    /// Listening port this connection came from (passive opens).
    pub listener: Option<u16>,
    /// Counted in its listener's SYN queue.
    pub in_syn_queue: bool,

    // Send sequence space.
    pub iss: TcpSeqNumber,
    pub snd_una: TcpSeqNumber,
    pub snd_nxt: TcpSeqNumber,
    pub snd_max: TcpSeqNumber,
    pub snd_wnd: u32,
    pub max_snd_wnd: u32,
    pub snd_wl1: TcpSeqNumber,
    pub snd_wl2: TcpSeqNumber,
    pub snd_shift: u8,
    /// Payload bytes per segment (MSS less timestamp option room).
    pub smss: u32,

    // Receive sequence space.
    pub irs: TcpSeqNumber,
    pub rcv_nxt: TcpSeqNumber,
    pub rcv_shift: u8,
    /// Highest right window edge advertised (never shrinks).
    pub rcv_adv: TcpSeqNumber,
    /// Sequence number of a FIN received out of order.
    pub ooo_fin: Option<TcpSeqNumber>,

    // Options.
    /// Window scaling agreed (both SYNs carry the option).
    pub wscale_ok: bool,
    pub sack: bool,
    pub timestamps: bool,
    pub ts_recent: u32,
    pub last_ack_sent: TcpSeqNumber,
    /// When this connection last answered an unacceptable segment (the
    /// rate limit of [`super::ack_limit`]).
    pub last_oow_ack: Option<Instant>,

    // Transmit queue: `txq` covers [txq_seq, txq_seq + txq_bytes).
    pub txq: VecDeque<TxEntry<W>>,
    pub txq_seq: TcpSeqNumber,
    pub txq_bytes: u32,
    pub close_requested: bool,
    pub abort_requested: bool,
    pub fin_sent: bool,

    // Loss recovery and timers.
    pub rtt: RttEstimator,
    pub sampler: RttSampler,
    pub cc: Congestion,
    pub scoreboard: Scoreboard,
    pub dup_acks: u32,
    pub retries: u32,
    pub high_rxt: TcpSeqNumber,
    pub persist: bool,
    /// The segment at `snd_una` must be retransmitted by the next output.
    pub retransmit_now: bool,
    pub rto_timer: Option<TimerId>,
    /// The retransmission timer was armed by [`Tcb::buffer_waits`]'s
    /// short retry (a segment found no transmit buffer), not as an RTO.
    pub rto_is_buffer_retry: bool,
    /// Consecutive transmit-buffer retries (0 after a segment went out):
    /// the retry interval doubles with each, up to the RTO.
    pub buffer_waits: u8,
    pub delack_timer: Option<TimerId>,
    pub keepalive_timer: Option<TimerId>,
    /// The application's timer on the wheel.
    pub app_timer: Option<TimerId>,
    /// When the application wants its timer to fire (`None`: not set).
    pub app_timer_at: Option<Instant>,
    /// `app_timer_at` changed since the wheel was last told.
    pub app_timer_dirty: bool,
    pub keepalive_probes: u32,
    pub last_activity: Instant,

    // Receive side.
    pub ooo: OooQueue,
    /// Full-sized segments received since our last ACK.
    pub unacked_segments: u32,
    /// An ACK must go out at the end of this event.
    pub ack_now: bool,
    /// An ACK is owed (delayed).
    pub ack_pending: bool,
    /// The connection is in the stack's list of ACKs owed at the end of
    /// the current receive batch.
    pub ack_batched: bool,
    /// Enter TIME-WAIT once the final ACK is sent.
    pub enter_time_wait: bool,

    pub now: Instant,

    /// The Ethernet/IPv4 header template of this connection's segments
    /// (and its pseudo-header sum), built at its first segment.
    pub ip_template: Option<Ipv4Template>,
    /// The TCP header template of this connection's segments without SACK
    /// blocks, built at its first such segment (timestamps are settled by
    /// then).
    pub tcp_template: Option<TcpHeaderTemplate>,
}

impl<W> Tcb<W> {
    /// End of queued data (sequence number after the last byte).
    pub fn data_end(&self) -> TcpSeqNumber {
        self.txq_seq.wrapping_add(self.txq_bytes)
    }

    /// Sequence number of our FIN (valid once close is requested).
    pub fn fin_seq(&self) -> TcpSeqNumber {
        self.data_end()
    }

    /// Bytes in flight (sequence space, SYN and FIN included).
    pub fn in_flight(&self) -> u32 {
        self.snd_nxt.0.wrapping_sub(self.snd_una.0)
    }

    /// The id slot of the timer of `kind`.
    pub fn timer_mut(&mut self, kind: TimerKind) -> &mut Option<TimerId> {
        match kind {
            TimerKind::Retransmit => &mut self.rto_timer,
            TimerKind::DelayedAck => &mut self.delack_timer,
            TimerKind::Keepalive => &mut self.keepalive_timer,
            TimerKind::App => &mut self.app_timer,
        }
    }

    /// Whether our FIN is acknowledged.
    pub fn fin_acked(&self) -> bool {
        self.fin_sent && self.snd_una == self.fin_seq().wrapping_add(1)
    }
}

impl<W> Tcb<W> {
    /// Queues an application's `send` ([`super::app::Conn::send`]).
    #[inline]
    pub fn queue_send(&mut self, len: usize, writer: W) -> Result<(), SendError> {
        if len == 0 {
            return Err(SendError::Empty);
        }
        if self.close_requested || self.abort_requested || self.state == State::Closed {
            return Err(SendError::Closed);
        }
        if self.txq.len() >= self.txq.capacity() {
            return Err(SendError::QueueFull);
        }
        let len = u32::try_from(len).map_err(|_| SendError::QueueFull)?;
        if self
            .txq_bytes
            .checked_add(len)
            .is_none_or(|total| total > i32::MAX as u32 / 2)
        {
            return Err(SendError::QueueFull);
        }
        self.txq.push_back(TxEntry { writer, len });
        self.txq_bytes += len;
        Ok(())
    }
}

/// A broken invariant of a connection ([`Tcb::check`]), naming the
/// connection and the invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcbViolation {
    /// The connection.
    pub id: ConnId,
    /// Its local address and port.
    pub local: (Ipv4Addr, u16),
    /// Its remote address and port.
    pub remote: (Ipv4Addr, u16),
    /// Its state.
    pub state: State,
    /// The invariant broken, with the values that break it.
    pub what: String,
}

impl core::fmt::Display for TcbViolation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "TCB invariant broken: connection {}.{} {}:{} -> {}:{} in {}: {}",
            self.id.index,
            self.id.generation,
            self.local.0,
            self.local.1,
            self.remote.0,
            self.remote.1,
            self.state.name(),
            self.what
        )
    }
}

impl std::error::Error for TcbViolation {}

/// `a ≤ b` in sequence space, both within a window of `2^31` of each other.
fn seq_le(a: TcpSeqNumber, b: TcpSeqNumber) -> bool {
    b.diff(a) >= 0
}

impl<W> Tcb<W> {
    /// The violation `what` of this connection.
    pub(crate) fn violation(&self, what: String) -> TcbViolation {
        TcbViolation {
            id: self.id,
            local: self.local,
            remote: self.remote,
            state: self.state,
            what,
        }
    }

    /// Checks the invariants of a live TCB (a closed one has none):
    ///
    /// * `SND.UNA ≤ SND.NXT ≤ SND.MAX` in sequence space;
    /// * the transmit queue's byte count is the sum of its entries, and it
    ///   starts at or before the first unacknowledged byte (whole entries
    ///   are released; `SND.UNA + 1` while our SYN is unacknowledged):
    ///   `TXQ.SEQ ≤ SND.UNA + 1`;
    /// * nothing beyond the queued data (and our FIN, once sent) was sent:
    ///   `SND.MAX ≤ TXQ.SEQ + TXQ.BYTES (+ 1 if FIN sent)`;
    /// * the out-of-order queue holds at least one byte per entry, and no
    ///   bytes without entries, and at most `max_segments` entries;
    /// * a connection counted in a SYN queue is half-open
    ///   (SYN-RECEIVED) and came from a listener.
    ///
    /// O(transmit queue entries); the stack runs it after every event in
    /// debug builds.
    pub fn check(&self, max_ooo_segments: u16) -> Result<(), TcbViolation> {
        if self.state == State::Closed {
            return Ok(());
        }
        let fail = |what: String| Err(self.violation(what));
        if !seq_le(self.snd_una, self.snd_nxt) || !seq_le(self.snd_nxt, self.snd_max) {
            return fail(format!(
                "SND.UNA {} <= SND.NXT {} <= SND.MAX {} does not hold",
                self.snd_una, self.snd_nxt, self.snd_max
            ));
        }
        let queued: u64 = self.txq.iter().map(|e| u64::from(e.len)).sum();
        if queued != u64::from(self.txq_bytes) {
            return fail(format!(
                "transmit queue holds {queued} bytes in {} entries, counted {}",
                self.txq.len(),
                self.txq_bytes
            ));
        }
        if !seq_le(self.txq_seq, self.snd_una.wrapping_add(1)) {
            return fail(format!(
                "transmit queue starts at {} beyond SND.UNA {} + 1",
                self.txq_seq, self.snd_una
            ));
        }
        let limit = self.data_end().wrapping_add(u32::from(self.fin_sent));
        if !seq_le(self.snd_max, limit) {
            return fail(format!(
                "SND.MAX {} beyond the queued data's end {} (FIN sent: {})",
                self.snd_max,
                self.data_end(),
                self.fin_sent
            ));
        }
        let (entries, bytes) = (self.ooo.len(), self.ooo.held_bytes());
        if (entries == 0) != (bytes == 0) || (bytes as usize) < entries {
            return fail(format!(
                "out-of-order queue of {entries} entries holds {bytes} bytes"
            ));
        }
        if entries > usize::from(max_ooo_segments) {
            return fail(format!(
                "out-of-order queue holds {entries} entries, more than the limit {max_ooo_segments}"
            ));
        }
        if self.in_syn_queue && (self.state != State::SynReceived || self.listener.is_none()) {
            return fail(format!(
                "counted in a SYN queue in state {} (listener {:?})",
                self.state.name(),
                self.listener
            ));
        }
        Ok(())
    }
}
