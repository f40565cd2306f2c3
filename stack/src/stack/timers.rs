//! Connection timers: scheduling on the wheel, and what happens when one
//! fires — retransmission timeout (RFC 6298), delayed ACK, keepalive and
//! the FIN-WAIT-2 timeout — and the expiry of TIME-WAIT entries.

use super::context::Ctx;
use super::Tcp;
use crate::meter::CostMeter;
use crate::nic::Driver;
use crate::tcp::app::{App, Conn, Writer};
use crate::tcp::tcb::{State, TimerKey, TimerKind};
use crate::time::{Duration, Instant};
use crate::wire::TcpFlags;

/// The first retry of a segment that found no transmit buffer (see
/// [`Tcp::arm_buffer_retry`]).
pub const BUFFER_RETRY: Duration = Duration::from_millis(1);

impl<C, W: Writer> Tcp<C, W> {
    /// Schedules connection `idx`'s timer of `kind` at `at`, replacing
    /// (cancelling) the one it had; the wheel operations are counted in
    /// `meter`, as in every function here that takes one.
    pub(super) fn schedule(
        &mut self,
        meter: &mut CostMeter,
        idx: usize,
        kind: TimerKind,
        at: Instant,
    ) {
        let key = TimerKey {
            slot: idx as u32,
            generation: self.slots[idx].generation,
            kind,
        };
        meter.timer_schedules += 1;
        let Ok(id) = self.timers.schedule(at, key) else {
            self.counters.timer_overflow += 1;
            return;
        };
        let tcb = &mut self.slots[idx].tcb;
        if kind == TimerKind::Retransmit {
            tcb.rto_is_buffer_retry = false;
        }
        let field = tcb.timer_mut(kind);
        if let Some(old) = field.replace(id) {
            meter.timer_cancels += 1;
            self.timers.cancel(old);
        }
    }

    pub(super) fn cancel_timer(&mut self, meter: &mut CostMeter, idx: usize, kind: TimerKind) {
        let tcb = &mut self.slots[idx].tcb;
        let field = tcb.timer_mut(kind);
        if let Some(id) = field.take() {
            meter.timer_cancels += 1;
            self.timers.cancel(id);
        }
    }

    pub(super) fn arm_rto(&mut self, meter: &mut CostMeter, idx: usize, now: Instant) {
        if self.slots[idx].tcb.rto_timer.is_none() {
            let at = now + self.slots[idx].tcb.rtt.rto();
            self.schedule(meter, idx, TimerKind::Retransmit, at);
        }
    }

    /// A segment found no transmit buffer: unless a retransmission timer
    /// already runs (data in flight, whose ACKs or RTO will send again),
    /// retry after [`BUFFER_RETRY`], doubling with each consecutive wait
    /// until it would reach the RTO (then the RTO takes over, with its
    /// retry limit). A buffer shortage is local, not a sign of congestion, so
    /// the retry sends with the window unchanged (no RTO back-off, no
    /// window collapse), where the RTO would have waited its full interval
    /// (a second before the first RTT sample) and restarted slow start.
    pub(super) fn arm_buffer_retry(&mut self, meter: &mut CostMeter, idx: usize, now: Instant) {
        let tcb = &self.slots[idx].tcb;
        if tcb.rto_timer.is_some() {
            return;
        }
        let waits = tcb.buffer_waits.min(16);
        let interval = BUFFER_RETRY.saturating_mul(1u64 << waits);
        if interval >= tcb.rtt.rto() {
            // Short of buffers for a whole RTO: an ordinary timeout from
            // here, whose retries are counted and end the connection when
            // they run out.
            self.arm_rto(meter, idx, now);
            return;
        }
        self.schedule(meter, idx, TimerKind::Retransmit, now + interval);
        let tcb = &mut self.slots[idx].tcb;
        tcb.rto_is_buffer_retry = true;
        tcb.buffer_waits = tcb.buffer_waits.saturating_add(1);
    }

    pub(super) fn restart_rto(&mut self, meter: &mut CostMeter, idx: usize, now: Instant) {
        let at = now + self.slots[idx].tcb.rtt.rto();
        self.schedule(meter, idx, TimerKind::Retransmit, at);
    }

    /// A timer of connection `key.slot` fired.
    pub(super) fn on_timer<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        id: crate::mem::timer::TimerId,
        key: TimerKey,
    ) {
        let idx = key.slot as usize;
        let Some(slot) = self.slots.get_mut(idx) else {
            return;
        };
        if slot.generation != key.generation || slot.tcb.state == State::Closed {
            return;
        }
        let tcb = &mut slot.tcb;
        tcb.now = cx.now;
        let field = tcb.timer_mut(key.kind);
        if *field != Some(id) {
            return;
        }
        *field = None;
        match key.kind {
            TimerKind::Retransmit => self.retransmit_timeout(cx, idx),
            TimerKind::DelayedAck => {
                if self.slots[idx].tcb.ack_pending {
                    self.counters.delayed_acks += 1;
                    self.send_ack(cx, idx);
                }
            }
            TimerKind::Keepalive => self.keepalive_timeout(cx, idx),
            TimerKind::App => self.app_timeout(cx, idx),
        }
    }

    /// Tells the wheel what the application asked of its timer
    /// ([`Conn::set_timer`], [`Conn::cancel_timer`]). Out of line and cold:
    /// `after_event`, which calls it, stays small enough to inline into the
    /// receive path.
    #[cold]
    #[inline(never)]
    pub(super) fn sync_app_timer(&mut self, meter: &mut CostMeter, idx: usize) {
        let tcb = &mut self.slots[idx].tcb;
        tcb.app_timer_dirty = false;
        match tcb.app_timer_at {
            Some(at) => self.schedule(meter, idx, TimerKind::App, at),
            None => self.cancel_timer(meter, idx, TimerKind::App),
        }
    }

    /// The application's timer fired: its handler, then what follows every
    /// event (what it sent goes out).
    fn app_timeout<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
    ) {
        let slot = &mut self.slots[idx];
        slot.tcb.app_timer_at = None;
        if let Some(c) = slot.conn.as_mut() {
            cx.iface.meter_mut().app_calls += 1;
            cx.app.on_timer(c, &mut Conn::new(&mut slot.tcb));
        }
        self.after_app_event(cx, idx);
    }

    /// RFC 6298 §5: the retransmission timer expired.
    pub(super) fn retransmit_timeout<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
    ) {
        if self.slots[idx].tcb.rto_is_buffer_retry {
            // Not a timeout: try again to send what found no buffer.
            self.slots[idx].tcb.rto_is_buffer_retry = false;
            self.counters.buffer_retries += 1;
            self.output(cx, idx);
            if self.slots[idx].tcb.in_flight() > 0 {
                self.arm_rto(cx.iface.meter_mut(), idx, cx.now);
            }
            if self.slots[idx].tcb.ack_now {
                self.send_ack(cx, idx);
            }
            return;
        }
        let syn_retries = self.config.syn_retries;
        let max_retries = self.config.max_retransmissions;
        let tcb = &mut self.slots[idx].tcb;
        tcb.retries += 1;
        match tcb.state {
            State::SynSent | State::SynReceived => {
                if tcb.retries > syn_retries {
                    self.counters.handshake_timeouts += 1;
                    if tcb.state == State::SynSent {
                        self.reset_conn(cx, idx);
                    } else {
                        self.free_slot(cx, idx);
                    }
                    return;
                }
                tcb.rtt.backoff();
                // No answer: maybe the neighbour's cached MAC is wrong.
                cx.iface.suspect_neighbor(tcb.remote.0, cx.now);
                self.send_syn(cx, idx);
                self.arm_rto(cx.iface.meter_mut(), idx, cx.now);
            }
            _ if tcb.persist => {
                // Zero-window probe, as Linux sends it: no data, and the
                // sequence number SND.UNA − 1, which the peer has already
                // received, so it answers with an ACK that carries its
                // current window (RFC 9293 §3.8.6.1 allows a byte of new
                // data instead, but that moves SND.MAX past the peer's
                // window, and every later ACK would then carry a sequence
                // number the peer has not allowed).
                tcb.rtt.backoff();
                tcb.retries = 0;
                self.counters.window_probes += 1;
                let seq = tcb.snd_una.wrapping_sub(1);
                self.send_segment(cx, idx, seq, 0, TcpFlags::empty());
                self.arm_rto(cx.iface.meter_mut(), idx, cx.now);
            }
            _ => {
                if tcb.retries > max_retries {
                    self.counters.retransmission_timeouts_fatal += 1;
                    let key = self.key_of(idx);
                    let (seq, ack) = (self.slots[idx].tcb.snd_nxt, self.slots[idx].tcb.rcv_nxt);
                    self.send_rst(cx, key, seq, Some(ack));
                    self.reset_conn(cx, idx);
                    return;
                }
                self.counters.rto_expirations += 1;
                // No progress: maybe the neighbour's cached MAC is wrong.
                cx.iface.suspect_neighbor(tcb.remote.0, cx.now);
                let flight = tcb.in_flight();
                tcb.cc.on_rto(flight, tcb.snd_max);
                tcb.rtt.backoff();
                tcb.sampler.on_retransmit();
                tcb.scoreboard.clear();
                tcb.dup_acks = 0;
                tcb.retransmit_now = false;
                tcb.snd_nxt = tcb.snd_una;
                tcb.high_rxt = tcb.snd_una;
                self.output(cx, idx);
                self.arm_rto(cx.iface.meter_mut(), idx, cx.now);
                if self.slots[idx].tcb.ack_now {
                    self.send_ack(cx, idx);
                }
            }
        }
    }

    /// Keepalive (RFC 9293 §3.8.4): probe an idle connection.
    pub(super) fn keepalive_timeout<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
    ) {
        if self.slots[idx].tcb.state == State::FinWait2 {
            if let Some(limit) = self.config.fin_wait2_timeout {
                // Our side is closed and the peer never sends its FIN: give
                // the slot back, as Linux does with tcp_fin_timeout.
                let last = self.slots[idx].tcb.last_activity;
                if cx.now - last >= limit {
                    self.counters.fin_wait2_timeouts += 1;
                    self.close_conn(cx, idx);
                } else {
                    self.schedule(
                        cx.iface.meter_mut(),
                        idx,
                        TimerKind::Keepalive,
                        last + limit,
                    );
                }
                return;
            }
        }
        let Some(idle) = self.config.keepalive else {
            return;
        };
        let interval = self.config.keepalive_interval;
        let probes = self.config.keepalive_probes;
        let tcb = &mut self.slots[idx].tcb;
        let idle_for = cx.now - tcb.last_activity;
        if idle_for < idle {
            let at = tcb.last_activity + idle;
            self.schedule(cx.iface.meter_mut(), idx, TimerKind::Keepalive, at);
            return;
        }
        if tcb.keepalive_probes >= probes {
            self.counters.keepalive_timeouts += 1;
            self.reset_conn(cx, idx);
            return;
        }
        tcb.keepalive_probes += 1;
        self.counters.keepalive_probes += 1;
        // An old sequence number makes the peer answer with an ACK.
        let seq = tcb.snd_una.wrapping_sub(1);
        self.send_segment(cx, idx, seq, 0, TcpFlags::empty());
        self.schedule(
            cx.iface.meter_mut(),
            idx,
            TimerKind::Keepalive,
            cx.now + interval,
        );
    }

    /// Drops TIME-WAIT entries whose time is up.
    pub(super) fn expire_time_wait(&mut self, meter: &mut CostMeter, now: Instant) -> bool {
        let mut worked = false;
        while let Some(entry) = self.time_wait.pop_expired(now, false) {
            worked = true;
            if entry.live {
                meter.conn_table_ops += 1;
                self.table.remove(&entry.key);
            }
        }
        worked
    }
}
