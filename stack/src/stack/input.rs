//! A segment arrives on a connection (RFC 9293 §3.10.7.3–4): the
//! acceptability checks, ACK processing with loss recovery, data and
//! reassembly, the FIN, and what follows every event (output, the ACK owed,
//! TIME-WAIT, the idle timers).

use tracing::debug;

use super::context::Ctx;
use super::demux::Segment;
use super::{dist, ts_value, Tcp};
use crate::mem::buf::Frame;
use crate::nic::Driver;
use crate::stats::DropReason;
use crate::tcp::app::Conn;
use crate::tcp::app::{App, Writer};
use crate::tcp::congestion::{is_duplicate_ack, AckAction, AckSegment, DupAckAction};
use crate::tcp::reassembly::InsertOutcome;
use crate::tcp::tcb::{State, TimerKind};
use crate::time::{Duration, Instant};
use crate::wire::{TcpFlags, TcpSeqNumber};

impl<C, W: Writer> Tcp<C, W> {
    /// RFC 9293 §3.10.7.3–4 for an existing connection.
    pub(super) fn segment_arrives<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
        seg: &Segment,
        frame: &mut Option<Frame>,
    ) {
        self.slots[idx].tcb.now = cx.now;
        self.slots[idx].tcb.last_activity = cx.now;
        self.slots[idx].tcb.keepalive_probes = 0;
        if self.slots[idx].tcb.state == State::SynSent {
            self.syn_sent_arrives(cx, idx, seg);
            self.after_event(cx, idx);
            return;
        }
        if !self.check_segment(cx, idx, seg) {
            self.after_event(cx, idx);
            return;
        }
        if self.slots[idx].tcb.state == State::Closed {
            return;
        }
        // ACK processing.
        let Some(ack) = seg.repr.ack_number else {
            self.counters.drop(DropReason::TcpNoAck);
            return;
        };
        if !self.process_ack(cx, idx, seg, ack) {
            self.after_event(cx, idx);
            return;
        }
        if self.slots[idx].tcb.state == State::Closed {
            return;
        }
        // Data and FIN.
        self.process_data(cx, idx, seg, frame);
        if self.slots[idx].tcb.state != State::Closed {
            self.after_event(cx, idx);
        }
    }

    /// SYN-SENT (RFC 9293 §3.10.7.3).
    pub(super) fn syn_sent_arrives<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
        seg: &Segment,
    ) {
        let tcb = &self.slots[idx].tcb;
        let key = self.key_of(idx);
        let ack_ok = match seg.repr.ack_number {
            Some(ack) => {
                if ack <= tcb.iss || ack > tcb.snd_max {
                    if !seg.has(TcpFlags::RST) {
                        self.send_rst(cx, key, ack, None);
                    }
                    self.counters.drop(DropReason::TcpBadAck);
                    return;
                }
                true
            }
            None => false,
        };
        if seg.has(TcpFlags::RST) {
            if ack_ok {
                debug!(?key, "connection refused");
                self.counters.connections_refused += 1;
                self.reset_conn(cx, idx);
            } else {
                self.counters.drop(DropReason::TcpBadAck);
            }
            return;
        }
        if !seg.has(TcpFlags::SYN) {
            self.counters.drop(DropReason::TcpNoAck);
            return;
        }
        let mss = self.mss;
        let config = &self.config;
        let tcb = &mut self.slots[idx].tcb;
        tcb.irs = seg.seq();
        tcb.rcv_nxt = seg.seq().wrapping_add(1);
        // Our SYN offered an unscaled window (RFC 7323 §2.2); its right
        // edge is known only now that RCV.NXT is.
        tcb.rcv_adv = tcb.rcv_nxt.wrapping_add(config.rx_budget.min(0xffff));
        tcb.negotiate(config, &seg.repr, mss);
        tcb.snd_wnd = u32::from(seg.repr.window_len);
        tcb.max_snd_wnd = tcb.snd_wnd;
        tcb.snd_wl1 = seg.seq();
        if let Some(ack) = seg.repr.ack_number {
            tcb.snd_wl2 = ack;
            tcb.snd_una = ack;
            tcb.retries = 0;
            if let Some(rtt) = tcb.sampler.on_ack(ack, cx.now) {
                tcb.rtt.sample(rtt);
            }
            tcb.state = State::Established;
            tcb.ack_now = true;
            self.cancel_timer(cx.iface.meter_mut(), idx, TimerKind::Retransmit);
            self.counters.connections_opened += 1;
            let slot = &mut self.slots[idx];
            if let Some(c) = slot.conn.as_mut() {
                cx.meter().app_calls += 1;
                cx.app.on_connected(c, &mut Conn::new(&mut slot.tcb));
            }
        } else {
            // Simultaneous open.
            tcb.state = State::SynReceived;
            tcb.snd_nxt = tcb.iss;
            self.send_syn(cx, idx);
        }
    }

    /// Timestamps (PAWS), acceptability, RST and SYN checks. Returns
    /// whether processing goes on.
    pub(super) fn check_segment<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
        seg: &Segment,
    ) -> bool {
        let tcb = &self.slots[idx].tcb;
        // A retransmitted SYN in SYN-RECEIVED: resend our SYN-ACK.
        if tcb.state == State::SynReceived
            && seg.has(TcpFlags::SYN)
            && seg.repr.ack_number.is_none()
            && seg.seq() == tcb.irs
        {
            self.send_syn(cx, idx);
            return false;
        }
        // PAWS (RFC 7323 §5), with Linux's tolerances.
        if tcb.timestamps && !seg.has(TcpFlags::RST) && self.paws_rejects(idx, seg) {
            self.counters.drop(DropReason::TcpPaws);
            self.answer_unacceptable(idx, seg, cx.now);
            return false;
        }
        // Acceptability (RFC 9293 §3.10.7.4, first check).
        // RCV.WND is the window advertised (its right edge RCV.ADV never
        // moves left); with a zero window only a segment at RCV.NXT is
        // acceptable, for its ACK (its data is then trimmed away).
        let tcb = &self.slots[idx].tcb;
        let wnd = if tcb.rcv_adv > tcb.rcv_nxt {
            dist(tcb.rcv_adv, tcb.rcv_nxt)
        } else {
            0
        };
        let len = seg.seg_len();
        let seq = seg.seq();
        let in_wnd = |s: TcpSeqNumber| s.in_window(tcb.rcv_nxt, wnd);
        let acceptable = if wnd == 0 {
            seq == tcb.rcv_nxt
        } else if len == 0 {
            in_wnd(seq)
        } else {
            in_wnd(seq) || in_wnd(seq.wrapping_add(len - 1))
        };
        if !acceptable {
            // An old segment (entirely before RCV.NXT) still carries a
            // valid acknowledgment: keep processing its ACK, as BSD does,
            // so that two peers which both went back to SND.UNA after a
            // timeout do not ignore each other's ACKs for ever. Its data
            // and FIN are discarded by the data step (they are old).
            let old = seq.wrapping_add(len) <= tcb.rcv_nxt;
            let usable_ack = old
                && seg.repr.ack_number.is_some()
                && !seg.has(TcpFlags::RST)
                && !seg.has(TcpFlags::SYN);
            if seg.has(TcpFlags::SYN) {
                // RFC 5961 §4: a SYN out of the window is challenged too.
                self.challenge_ack(idx, cx.now);
            } else if !seg.has(TcpFlags::RST) {
                self.answer_unacceptable(idx, seg, cx.now);
            }
            if !usable_ack {
                self.counters.drop(DropReason::TcpOutOfWindow);
                return false;
            }
            self.counters.old_segments += 1;
            return true;
        }
        // Timestamp recording (RFC 7323 §4.3).
        let tcb = &mut self.slots[idx].tcb;
        if tcb.timestamps {
            if let Some((tsval, _)) = seg.repr.timestamp {
                if seq <= tcb.last_ack_sent && (tsval.wrapping_sub(tcb.ts_recent) as i32) >= 0 {
                    tcb.ts_recent = tsval;
                }
            }
        }
        if seg.has(TcpFlags::RST) {
            // RFC 5961 §3: only an exact match resets; others get a challenge.
            if seq == tcb.rcv_nxt {
                self.counters.resets_received += 1;
                if tcb.state == State::SynReceived && tcb.listener.is_some() {
                    self.free_slot(cx, idx);
                } else {
                    self.reset_conn(cx, idx);
                }
            } else {
                self.challenge_ack(idx, cx.now);
            }
            return false;
        }
        if seg.has(TcpFlags::SYN) {
            // RFC 5961 §4: challenge ACK for any SYN on a synchronised connection.
            self.challenge_ack(idx, cx.now);
            self.counters.drop(DropReason::TcpUnexpectedSyn);
            return false;
        }
        true
    }

    /// Whether PAWS (RFC 7323 §5) rejects `seg`, by Linux's rules: a
    /// timestamp up to one tick older than TS.Recent is tolerated
    /// (`TCP_PAWS_WINDOW`), and so is a reordered duplicate ACK — no data,
    /// the expected sequence number, SND.UNA acknowledged, no window update
    /// — whose timestamp is older by at most one RTO in milliseconds
    /// (`tcp_disordered_ack`).
    fn paws_rejects(&self, idx: usize, seg: &Segment) -> bool {
        const PAWS_WINDOW: i32 = 1;
        let tcb = &self.slots[idx].tcb;
        let Some((tsval, _)) = seg.repr.timestamp else {
            return false;
        };
        let behind = tcb.ts_recent.wrapping_sub(tsval) as i32;
        if behind <= PAWS_WINDOW {
            return false;
        }
        let Some(ack) = seg.repr.ack_number else {
            return true;
        };
        let seq = seg.seq();
        let window = u32::from(seg.repr.window_len) << tcb.snd_shift;
        let pure_ack = seg.seg_len() == 0;
        let may_update_window = ack > tcb.snd_una
            || seq > tcb.snd_wl1
            || (seq == tcb.snd_wl1 && (window > tcb.snd_wnd || window == 0));
        let rto_ms = i64::try_from(tcb.rtt.rto().as_millis()).unwrap_or(i64::MAX);
        let disordered_ack = pure_ack
            && seq == tcb.rcv_nxt
            && ack == tcb.snd_una
            && !may_update_window
            && i64::from(behind) <= rto_ms;
        !disordered_ack
    }

    /// Asks for an ACK in answer to an unacceptable segment (out of
    /// window, PAWS, an ACK of unsent data), unless the connection's rate
    /// limit holds it back (see [`crate::tcp::ack_limit`]).
    pub(super) fn answer_unacceptable(&mut self, idx: usize, seg: &Segment, now: Instant) {
        let carries_data = seg.payload_len > 0 && !seg.has(TcpFlags::SYN);
        let tcb = &mut self.slots[idx].tcb;
        if self
            .ack_limiter
            .allow_out_of_window(&mut tcb.last_oow_ack, now, carries_data)
        {
            tcb.ack_now = true;
        } else {
            self.counters.acks_rate_limited += 1;
        }
    }

    /// Asks for an RFC 5961 challenge ACK, unless the connection's or the
    /// core's rate limit holds it back.
    pub(super) fn challenge_ack(&mut self, idx: usize, now: Instant) {
        let tcb = &mut self.slots[idx].tcb;
        if self.ack_limiter.allow_challenge(&mut tcb.last_oow_ack, now) {
            tcb.ack_now = true;
            self.counters.challenge_acks += 1;
        } else {
            self.counters.acks_rate_limited += 1;
        }
    }

    /// ACK processing. Returns whether the segment's data should still be
    /// processed.
    pub(super) fn process_ack<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
        seg: &Segment,
        ack: TcpSeqNumber,
    ) -> bool {
        let key = self.key_of(idx);
        let tcb = &mut self.slots[idx].tcb;
        if tcb.state == State::SynReceived {
            if !(ack > tcb.snd_una && ack <= tcb.snd_max) {
                self.send_rst(cx, key, ack, None);
                self.counters.drop(DropReason::TcpBadAck);
                return false;
            }
            tcb.state = State::Established;
            tcb.snd_wnd = u32::from(seg.repr.window_len) << tcb.snd_shift;
            tcb.max_snd_wnd = tcb.max_snd_wnd.max(tcb.snd_wnd);
            tcb.snd_wl1 = seg.seq();
            tcb.snd_wl2 = ack;
            tcb.snd_una = ack;
            tcb.retries = 0;
            if let Some(rtt) = tcb.sampler.on_ack(ack, cx.now) {
                tcb.rtt.sample(rtt);
            }
            self.cancel_timer(cx.iface.meter_mut(), idx, TimerKind::Retransmit);
            if let Some(port) = self.slots[idx].tcb.listener {
                if self.slots[idx].tcb.in_syn_queue {
                    self.slots[idx].tcb.in_syn_queue = false;
                    if let Some(l) = self.listeners.iter_mut().find(|l| l.port == port) {
                        l.syn_queue = l.syn_queue.saturating_sub(1);
                    }
                }
                let slot = &mut self.slots[idx];
                cx.meter().app_calls += 1;
                let accepted = cx.app.accept(port, &mut Conn::new(&mut slot.tcb));
                match accepted {
                    Some(c) => {
                        slot.conn = Some(c);
                        self.counters.connections_accepted += 1;
                    }
                    None => {
                        self.counters.connections_refused += 1;
                        self.send_rst(cx, key, ack, None);
                        self.free_slot(cx, idx);
                        return false;
                    }
                }
            } else {
                self.counters.connections_opened += 1;
                let slot = &mut self.slots[idx];
                if let Some(c) = slot.conn.as_mut() {
                    cx.meter().app_calls += 1;
                    cx.app.on_connected(c, &mut Conn::new(&mut slot.tcb));
                }
            }
        }
        let tcb = &mut self.slots[idx].tcb;
        // RFC 5961 §5: ACKs of data never sent, or far below snd_una.
        if ack > tcb.snd_max {
            self.answer_unacceptable(idx, seg, cx.now);
            self.counters.drop(DropReason::TcpBadAck);
            return false;
        }
        let window = u32::from(seg.repr.window_len) << tcb.snd_shift;
        if ack < tcb.snd_una.wrapping_sub(tcb.max_snd_wnd.max(1)) {
            self.challenge_ack(idx, cx.now);
            self.counters.drop(DropReason::TcpBadAck);
            return false;
        }
        let window_update =
            tcb.snd_wl1 < seg.seq() || (tcb.snd_wl1 == seg.seq() && tcb.snd_wl2 <= ack);
        let old_window = tcb.snd_wnd;
        if ack > tcb.snd_una {
            self.ack_new_data(cx, idx, seg, ack);
        } else if is_duplicate_ack(
            &AckSegment {
                ack,
                window,
                payload_len: seg.payload_len,
                syn: seg.has(TcpFlags::SYN),
                fin: seg.has(TcpFlags::FIN),
            },
            tcb.snd_una,
            tcb.snd_max,
            old_window,
        ) {
            self.duplicate_ack(idx, seg);
        }
        let tcb = &mut self.slots[idx].tcb;
        if window_update {
            tcb.snd_wnd = window;
            tcb.max_snd_wnd = tcb.max_snd_wnd.max(window);
            tcb.snd_wl1 = seg.seq();
            tcb.snd_wl2 = ack;
            if tcb.persist && window > 0 {
                tcb.persist = false;
                tcb.retries = 0;
                self.cancel_timer(cx.iface.meter_mut(), idx, TimerKind::Retransmit);
            }
        }
        // State changes on the acknowledgment of our FIN.
        let tcb = &mut self.slots[idx].tcb;
        if tcb.fin_acked() {
            match tcb.state {
                State::FinWait1 => tcb.state = State::FinWait2,
                State::Closing => {
                    self.enter_time_wait(cx, idx);
                    return false;
                }
                State::LastAck => {
                    self.close_conn(cx, idx);
                    return false;
                }
                _ => {}
            }
        }
        true
    }

    /// An ACK that acknowledges new data.
    pub(super) fn ack_new_data<A: App<Conn = C, Writer = W>, D>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
        seg: &Segment,
        ack: TcpSeqNumber,
    ) {
        let sack_blocks = seg.repr.sack_ranges;
        let slot = &mut self.slots[idx];
        let tcb = &mut slot.tcb;
        let acked = dist(ack, tcb.snd_una);
        let flight_before = tcb.in_flight();
        // RTT: timestamps echo when available, else the timed segment (Karn).
        let mut sample = tcb.sampler.on_ack(ack, cx.now);
        if tcb.timestamps {
            if let Some((_, tsecr)) = seg.repr.timestamp {
                if tsecr != 0 {
                    let ms = ts_value(cx.now).wrapping_sub(tsecr);
                    if ms < 60_000 {
                        sample = Some(Duration::from_millis(u64::from(ms)));
                    }
                }
            }
        }
        if let Some(rtt) = sample {
            tcb.rtt.sample(rtt);
        }
        tcb.rtt.reset_backoff();
        tcb.retries = 0;
        tcb.snd_una = ack;
        // Forward progress: the neighbour is reachable.
        cx.iface.confirm_neighbor(tcb.remote.0, cx.now);
        if tcb.snd_nxt < ack {
            tcb.snd_nxt = ack;
        }
        tcb.dup_acks = 0;
        let action = tcb.cc.on_ack(acked, ack, flight_before);
        let mut newly_sacked = false;
        if tcb.sack {
            let blocks = sack_blocks_of(&sack_blocks);
            newly_sacked = tcb
                .scoreboard
                .update(tcb.snd_una, tcb.snd_max, blocks.as_slice());
        }
        let mut restart_timer = true;
        match action {
            AckAction::RetransmitFirstUnacked {
                restart_timer: restart,
            } => {
                restart_timer = restart;
                tcb.retransmit_now = true;
                tcb.high_rxt = tcb.snd_una;
            }
            AckAction::None | AckAction::ContinueSackRecovery | AckAction::RecoveryEnded => {}
        }
        // Release fully acknowledged writers.
        let mut data_acked = if ack > tcb.txq_seq {
            dist(ack, tcb.txq_seq).min(tcb.txq_bytes)
        } else {
            0
        };
        while let Some(front) = tcb.txq.front() {
            if front.len > data_acked {
                break;
            }
            let Some(entry) = tcb.txq.pop_front() else {
                break;
            };
            data_acked -= entry.len;
            tcb.txq_seq = tcb.txq_seq.wrapping_add(entry.len);
            tcb.txq_bytes -= entry.len;
            if let Some(c) = slot.conn.as_mut() {
                cx.meter().app_calls += 1;
                cx.app.on_acked(c, &mut Conn::new(&mut *tcb), entry.writer);
            }
        }
        // Retransmission timer: stop when all is acknowledged, else restart.
        if self.slots[idx].tcb.snd_una == self.slots[idx].tcb.snd_max {
            self.cancel_timer(cx.iface.meter_mut(), idx, TimerKind::Retransmit);
        } else if restart_timer {
            self.restart_rto(cx.iface.meter_mut(), idx, cx.now);
        }
        // RFC 6675: an ACK that also SACKs new data counts as a duplicate.
        if newly_sacked {
            self.sack_duplicate(idx);
        }
    }

    /// Marks that the first unacknowledged segment must be resent by the
    /// next output (fast retransmit, NewReno partial ACK).
    pub(super) fn pending_retransmit(&mut self, idx: usize) {
        let tcb = &mut self.slots[idx].tcb;
        tcb.persist = false;
        tcb.retransmit_now = true;
    }

    /// A duplicate ACK (RFC 5681 §2; with SACK, RFC 6675's "newly SACKs
    /// data"): count it, and enter fast retransmit/fast recovery at the
    /// third.
    pub(super) fn duplicate_ack(&mut self, idx: usize, seg: &Segment) {
        let tcb = &mut self.slots[idx].tcb;
        if tcb.sack {
            let blocks = sack_blocks_of(&seg.repr.sack_ranges);
            if tcb
                .scoreboard
                .update(tcb.snd_una, tcb.snd_max, blocks.as_slice())
            {
                self.sack_duplicate(idx);
            }
            return;
        }
        tcb.dup_acks += 1;
        let flight = tcb.in_flight();
        match tcb.cc.on_dup_ack(tcb.snd_una, tcb.snd_max, flight) {
            DupAckAction::FastRetransmit => {
                self.counters.fast_retransmits += 1;
                self.pending_retransmit(idx);
            }
            DupAckAction::None
            | DupAckAction::LimitedTransmit
            | DupAckAction::Inflated
            | DupAckAction::ContinueSackRecovery => {}
        }
    }

    /// SACK mode: an ACK newly SACKed data (RFC 6675 §5).
    pub(super) fn sack_duplicate(&mut self, idx: usize) {
        let tcb = &mut self.slots[idx].tcb;
        tcb.dup_acks += 1;
        let flight = tcb.in_flight();
        let mut start = matches!(
            tcb.cc.on_dup_ack(tcb.snd_una, tcb.snd_max, flight),
            DupAckAction::FastRetransmit
        );
        if !start && !tcb.cc.in_recovery() && tcb.scoreboard.is_lost(tcb.snd_una, tcb.smss) {
            start = tcb.cc.enter_sack_recovery(tcb.snd_una, tcb.snd_max, flight);
        }
        if start {
            self.counters.fast_retransmits += 1;
            self.pending_retransmit(idx);
            let tcb = &mut self.slots[idx].tcb;
            let first_end = tcb
                .snd_una
                .wrapping_add(tcb.smss.min(dist(tcb.data_end(), tcb.snd_una).max(1)));
            tcb.high_rxt = first_end;
        }
    }

    /// Data and FIN of an acceptable segment (RFC 9293 §3.10.7.4, steps 7–8).
    pub(super) fn process_data<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
        seg: &Segment,
        frame: &mut Option<Frame>,
    ) {
        let budget = self.config.rx_budget;
        let max_segments = self.config.ooo_max_segments;
        let immediate_ack = self.config.delayed_ack == Duration::ZERO;
        let fin = seg.has(TcpFlags::FIN);
        if seg.payload_len == 0 && !fin {
            return;
        }
        let Tcp {
            slots,
            ooo,
            counters,
            ack_batch,
            ..
        } = self;
        let slot = &mut slots[idx];
        let tcb = &mut slot.tcb;
        if !tcb.state.receives_data() {
            // The peer's FIN came already: a retransmission; acknowledge it.
            tcb.ack_now = true;
            return;
        }
        // Trim to [rcv_nxt, rcv_nxt + budget).
        let mut seq = seg.seq();
        let mut offset = seg.payload_offset;
        let mut len = seg.payload_len;
        if seq < tcb.rcv_nxt {
            let skip = dist(tcb.rcv_nxt, seq).min(len);
            seq = seq.wrapping_add(skip);
            offset += skip as usize;
            len -= skip;
        }
        // Nothing beyond the right edge advertised is taken (RFC 9293
        // §3.10.7.4): the edge the peer saw, never the budget.
        let window_end = if tcb.rcv_adv > tcb.rcv_nxt {
            tcb.rcv_adv
        } else {
            tcb.rcv_nxt
        };
        let mut fin_here = fin;
        if seq.wrapping_add(len) > window_end {
            len = if seq < window_end {
                dist(window_end, seq)
            } else {
                0
            };
            fin_here = false;
            tcb.ack_now = true;
        }
        let end = seq.wrapping_add(len);
        if seq > tcb.rcv_nxt {
            // Out of order: keep the frame itself, within the budget.
            tcb.ack_now = true;
            if fin_here {
                tcb.ooo_fin = Some(end);
            }
            if len > 0 {
                if let Some(f) = frame.take() {
                    let outcome = ooo.insert(
                        &mut tcb.ooo,
                        tcb.rcv_nxt,
                        window_end,
                        seq,
                        offset as u32,
                        len,
                        f,
                        budget,
                        max_segments,
                        |released| cx.release(released),
                    );
                    match outcome {
                        InsertOutcome::Stored { .. } => counters.ooo_segments += 1,
                        InsertOutcome::Rejected { frame: f, .. } => {
                            counters.drop(DropReason::TcpOooDropped);
                            cx.release(f);
                        }
                    }
                }
            }
            return;
        }
        let had_gap = !tcb.ooo.is_empty();
        if len > 0 {
            if let Some(chain) = frame.as_ref() {
                let data = chain.cursor().drop(offset).take(len as usize);
                tcb.rcv_nxt = end;
                counters.bytes_received += u64::from(len);
                // Forward progress: the neighbour is reachable.
                cx.iface.confirm_neighbor(tcb.remote.0, cx.now);
                if let Some(c) = slot.conn.as_mut() {
                    cx.meter().app_calls += 1;
                    cx.app.on_data(c, &mut Conn::new(&mut slot.tcb), data);
                }
            }
        } else if !fin_here && seg.seq() < slot.tcb.rcv_nxt {
            // Entirely old: a duplicate.
            slot.tcb.ack_now = true;
        }
        // Deliver what the new data made contiguous.
        let tcb = &mut slot.tcb;
        while !tcb.abort_requested {
            let Some(ready) =
                ooo.pop_ready(&mut tcb.ooo, tcb.rcv_nxt, |released| cx.release(released))
            else {
                break;
            };
            let data = ready
                .frame
                .cursor()
                .drop(ready.offset as usize)
                .take(ready.len as usize);
            tcb.rcv_nxt = tcb.rcv_nxt.wrapping_add(ready.len);
            counters.bytes_received += u64::from(ready.len);
            if let Some(c) = slot.conn.as_mut() {
                cx.meter().app_calls += 1;
                cx.app.on_data(c, &mut Conn::new(&mut *tcb), data);
            }
            cx.release(ready.frame);
        }
        // Acknowledgment policy (see `Stack::poll`): at once after a gap was
        // filled; else once per receive batch from the second unacknowledged
        // segment on; else delayed (and piggybacked on any reply).
        if len > 0 {
            tcb.unacked_segments += 1;
            if had_gap || immediate_ack {
                tcb.ack_now = true;
            } else {
                tcb.ack_pending = true;
                if tcb.unacked_segments >= 2 && !tcb.ack_batched {
                    tcb.ack_batched = true;
                    // Each slot is in the batch at most once (the flag), so
                    // the list never outgrows its capacity.
                    ack_batch.push(idx as u32);
                }
            }
        }
        // FIN, in order.
        let fin_seq = if fin_here && seg.seq().wrapping_add(seg.payload_len) == end {
            Some(end)
        } else {
            tcb.ooo_fin
        };
        if fin_seq == Some(tcb.rcv_nxt) && !tcb.abort_requested {
            tcb.rcv_nxt = tcb.rcv_nxt.wrapping_add(1);
            tcb.ooo_fin = None;
            tcb.ack_now = true;
            self.remote_fin(cx, idx);
        } else if fin_here && end > tcb.rcv_nxt {
            tcb.ooo_fin = Some(end);
            tcb.ack_now = true;
        } else if fin_here {
            // An old FIN, already processed: acknowledge again.
            tcb.ack_now = true;
        }
    }

    /// The peer's FIN is in order: move state and tell the application.
    pub(super) fn remote_fin<A: App<Conn = C, Writer = W>, D>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
    ) {
        let slot = &mut self.slots[idx];
        let tcb = &mut slot.tcb;
        let mut time_wait = false;
        tcb.state = match tcb.state {
            State::SynReceived | State::Established => State::CloseWait,
            State::FinPending => State::CloseWaitFinPending,
            State::FinWait1 if tcb.fin_acked() => {
                time_wait = true;
                State::FinWait2
            }
            State::FinWait1 => State::Closing,
            State::FinWait2 => {
                time_wait = true;
                State::FinWait2
            }
            other => other,
        };
        if let Some(c) = slot.conn.as_mut() {
            cx.meter().app_calls += 1;
            cx.app.on_remote_close(c, &mut Conn::new(&mut slot.tcb));
        }
        if time_wait {
            // Acknowledge the FIN before the TCB goes.
            self.slots[idx].tcb.ack_now = true;
            self.pending_time_wait(idx);
        }
    }

    /// Marks a connection to enter TIME-WAIT once its final ACK is out.
    pub(super) fn pending_time_wait(&mut self, idx: usize) {
        self.slots[idx].tcb.enter_time_wait = true;
    }

    /// [`Self::after_event`] for the events outside the receive path
    /// (`Stack::with_conn`, the app timer): one out-of-line copy for those
    /// rare callers, while the receive path inlines its own.
    #[inline(never)]
    pub(super) fn after_app_event<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
    ) {
        self.after_event(cx, idx);
    }

    /// What happens after every event on a connection: the application's
    /// abort, then output (data, FIN, and the ACK they carry), a pure ACK
    /// if one is still owed, TIME-WAIT, and the delayed-ACK timer. Always
    /// inlined: it runs after every segment, and the compiler's own choice
    /// stopped inlining it once the app timer's check was added (2.5 k more
    /// instructions per request in `rusty-sim bench --conns 1`).
    #[inline(always)]
    pub(super) fn after_event<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
    ) {
        let tcb = &self.slots[idx].tcb;
        if tcb.state == State::Closed {
            return;
        }
        if tcb.app_timer_dirty {
            self.sync_app_timer(cx.iface.meter_mut(), idx);
        }
        let tcb = &self.slots[idx].tcb;
        if tcb.abort_requested {
            let key = self.key_of(idx);
            let seq = tcb.snd_nxt;
            let ack = tcb.rcv_nxt;
            self.send_rst(cx, key, seq, Some(ack));
            self.reset_conn(cx, idx);
            return;
        }
        self.output(cx, idx);
        let tcb = &mut self.slots[idx].tcb;
        if tcb.ack_now {
            self.send_ack(cx, idx);
        }
        let tcb = &mut self.slots[idx].tcb;
        if tcb.enter_time_wait {
            self.enter_time_wait(cx, idx);
            return;
        }
        if tcb.ack_pending && tcb.delack_timer.is_none() {
            let at = cx.now + self.config.delayed_ack;
            self.schedule(cx.iface.meter_mut(), idx, TimerKind::DelayedAck, at);
        }
        // The idle timer: keepalive, and the FIN-WAIT-2 timeout.
        let idle = match self.slots[idx].tcb.state {
            State::SynSent => None,
            State::FinWait2 => self.config.fin_wait2_timeout.or(self.config.keepalive),
            _ => self.config.keepalive,
        };
        if let Some(idle) = idle {
            if self.slots[idx].tcb.keepalive_timer.is_none() {
                self.schedule(
                    cx.iface.meter_mut(),
                    idx,
                    TimerKind::Keepalive,
                    cx.now + idle,
                );
            }
        }
    }
}

/// The SACK blocks of a parsed header, as sequence numbers.
fn sack_blocks_of(
    ranges: &[Option<(u32, u32)>; 3],
) -> arrayvec::ArrayVec<(TcpSeqNumber, TcpSeqNumber), 3> {
    ranges
        .iter()
        .flatten()
        .map(|&(l, r)| (TcpSeqNumber(l), TcpSeqNumber(r)))
        .collect()
}
