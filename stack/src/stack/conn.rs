//! Connection slots and their life cycle: a TCB made ready for a new
//! connection, active opens, and the ends of a connection (TIME-WAIT,
//! close, reset) that give its slot back.

use std::collections::VecDeque;

use super::context::Ctx;
use super::{ConnectError, Entry, Tcp};
use crate::nic::{Driver, FlowTuple};
use crate::tcp::app::{App, ConnId, Writer};
use crate::tcp::config::TcpConfig;
use crate::tcp::congestion::{Congestion, RecoveryMode};
use crate::tcp::reassembly::OooQueue;
use crate::tcp::rtt::{RttConfig, RttEstimator, RttSampler};
use crate::tcp::scoreboard::Scoreboard;
use crate::tcp::table::FlowKey;
use crate::tcp::tcb::{State, Tcb, TimerKind, TxEntry};
use crate::tcp::time_wait::TimeWaitEntry;
use crate::time::{Duration, Instant};
use crate::wire::{Ipv4Addr, TcpRepr, TcpSeqNumber};

/// The smallest peer MSS the stack accepts: the IPv4 minimum MTU (68
/// bytes, RFC 791) less the IPv4 and TCP headers. A smaller advertised MSS
/// is raised to it (unless our own MSS is smaller still).
pub const MIN_PEER_MSS: u16 = 68 - 40;

/// A connection about to take a free slot: who it is and how it starts
/// (see `Tcb::open`).
pub(super) struct Opening {
    pub(super) id: ConnId,
    pub(super) state: State,
    pub(super) local: (Ipv4Addr, u16),
    pub(super) remote: (Ipv4Addr, u16),
    pub(super) iss: TcpSeqNumber,
    pub(super) mss: u16,
}

impl<W> Tcb<W> {
    /// A free slot's TCB, with its transmit queue allocated once.
    pub(super) fn new(config: &TcpConfig, index: u32, mss: u16) -> Self {
        let closed = Opening {
            id: ConnId {
                index,
                generation: 0,
            },
            state: State::Closed,
            local: (Ipv4Addr::UNSPECIFIED, 0),
            remote: (Ipv4Addr::UNSPECIFIED, 0),
            iss: TcpSeqNumber(0),
            mss,
        };
        let txq = VecDeque::with_capacity(config.tx_queue_entries.max(1));
        Tcb::fresh(config, closed, Instant::ZERO, txq)
    }

    /// Re-initialises a free slot for a new connection: the slot gets a
    /// freshly built TCB, and only the transmit queue's allocation (empty
    /// by now) moves across, so no field can keep the previous
    /// connection's value.
    pub(super) fn open(&mut self, config: &TcpConfig, opening: Opening, now: Instant) {
        debug_assert!(self.txq.is_empty());
        debug_assert!(
            self.ooo.is_empty(),
            "the slot's segments went back to the pool"
        );
        let txq = std::mem::take(&mut self.txq);
        *self = Tcb::fresh(config, opening, now, txq);
    }

    /// The TCB of a connection that starts as `opening` says at `now`,
    /// with `txq` (empty) as its transmit queue. Every field is set here,
    /// and only here.
    fn fresh(
        config: &TcpConfig,
        opening: Opening,
        now: Instant,
        txq: VecDeque<TxEntry<W>>,
    ) -> Self {
        let Opening {
            id,
            state,
            local,
            remote,
            iss,
            mss,
        } = opening;
        debug_assert!(txq.is_empty());
        let smss = u32::from(mss);
        Tcb {
            id,
            state,
            local,
            remote,
            listener: None,
            in_syn_queue: false,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wnd: 0,
            max_snd_wnd: 0,
            snd_wl1: TcpSeqNumber(0),
            snd_wl2: iss,
            snd_shift: 0,
            smss,
            irs: TcpSeqNumber(0),
            rcv_nxt: TcpSeqNumber(0),
            rcv_shift: 0,
            rcv_adv: TcpSeqNumber(0),
            ooo_fin: None,
            wscale_ok: false,
            sack: false,
            timestamps: false,
            ts_recent: 0,
            last_ack_sent: TcpSeqNumber(0),
            last_oow_ack: None,
            txq,
            txq_seq: iss.wrapping_add(1),
            txq_bytes: 0,
            close_requested: false,
            abort_requested: false,
            fin_sent: false,
            rtt: RttEstimator::new(rtt_config(config)),
            sampler: RttSampler::new(),
            cc: Congestion::new(smss, config.initial_window.unwrap_or(10 * smss)),
            scoreboard: Scoreboard::new(),
            dup_acks: 0,
            retries: 0,
            high_rxt: iss,
            persist: false,
            retransmit_now: false,
            rto_timer: None,
            rto_is_buffer_retry: false,
            buffer_waits: 0,
            delack_timer: None,
            keepalive_timer: None,
            app_timer: None,
            app_timer_at: None,
            app_timer_dirty: false,
            keepalive_probes: 0,
            last_activity: now,
            ooo: OooQueue::default(),
            unacked_segments: 0,
            ack_now: false,
            ack_pending: false,
            ack_batched: false,
            enter_time_wait: false,
            now,
            ip_template: None,
            tcp_template: None,
        }
    }

    /// Applies the options of the peer's SYN (or SYN-ACK).
    pub(super) fn negotiate(&mut self, config: &TcpConfig, syn: &TcpRepr<'_>, our_mss: u16) {
        // The peer's MSS, raised to the IPv4 minimum (a peer cannot make us
        // send smaller segments than a 68-byte MTU carries) and never above
        // ours: our own MTU bounds what we send, even on a tiny link.
        let peer_mss = syn
            .max_seg_size
            .unwrap_or(536)
            .max(MIN_PEER_MSS)
            .min(our_mss.max(1));
        match syn.window_scale {
            Some(shift) if config.window_scaling => {
                self.wscale_ok = true;
                self.snd_shift = shift.min(14);
                self.rcv_shift = config.window_shift();
            }
            _ => {
                self.wscale_ok = false;
                self.snd_shift = 0;
                self.rcv_shift = 0;
            }
        }
        self.sack = config.sack && syn.sack_permitted;
        self.timestamps = config.timestamps && syn.timestamp.is_some();
        if let Some((tsval, _)) = syn.timestamp {
            self.ts_recent = tsval;
        }
        let option_room = if self.timestamps { 12 } else { 0 };
        self.smss = u32::from(peer_mss).saturating_sub(option_room).max(1);
        let iw = config.initial_window.unwrap_or(10 * self.smss);
        self.cc = Congestion::new(self.smss, iw);
        self.cc.set_recovery_mode(if self.sack {
            RecoveryMode::Sack
        } else {
            RecoveryMode::NewReno
        });
    }

    /// The receive window we advertise, in bytes.
    ///
    /// Exactly what the window field conveys: the budget rounded down to a
    /// multiple of the window scale and capped by the 16-bit field, so the
    /// right edge the peer sees and the one this stack enforces agree.
    pub(super) fn rcv_window(&self, config: &TcpConfig) -> u32 {
        let field = (config.rx_budget >> self.rcv_shift).min(0xffff);
        field << self.rcv_shift
    }
}

/// The RTO settings of a connection.
fn rtt_config(config: &TcpConfig) -> RttConfig {
    RttConfig {
        min_rto: config.min_rto,
        max_rto: config.max_rto,
        initial_rto: config.initial_rto,
        granularity: config.timer_tick,
    }
}

impl<C, W: Writer> Tcp<C, W> {
    pub(super) fn slot_id(&self, idx: usize) -> ConnId {
        ConnId {
            index: idx as u32,
            generation: self.slots[idx].generation,
        }
    }

    pub(super) fn key_of(&self, idx: usize) -> FlowKey {
        let tcb = &self.slots[idx].tcb;
        FlowKey {
            remote_addr: tcb.remote.0,
            remote_port: tcb.remote.1,
            local_port: tcb.local.1,
        }
    }

    pub(super) fn alloc_slot(&mut self) -> Option<usize> {
        self.free.pop().map(|i| i as usize)
    }

    /// Opens a connection (active open).
    pub(super) fn connect<A, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        addr: Ipv4Addr,
        port: u16,
        state: C,
    ) -> Result<ConnId, (ConnectError, C)> {
        if port == 0 || addr == self.local_ip || addr.is_unspecified() || addr.is_broadcast() {
            return Err((ConnectError::InvalidAddress, state));
        }
        if cx.iface.next_hop(addr).is_err() {
            return Err((ConnectError::Unreachable, state));
        }
        if self.free.is_empty() || self.table.is_full() {
            return Err((ConnectError::TableFull, state));
        }
        let local_ip = self.local_ip;
        let remote = (addr, port);
        let my_queue = self.queue;
        let partition = self.config.port_partition;
        let mut tried = 0u32;
        let mut chosen = None;
        for candidate in self.ports.candidates(local_ip, remote) {
            tried += 1;
            if let Some((core, cores)) = partition {
                if cores > 1 && candidate % cores != core {
                    continue;
                }
            }
            let key = FlowKey {
                remote_addr: addr,
                remote_port: port,
                local_port: candidate,
            };
            cx.meter().conn_table_ops += 1;
            if self.table.get(&key).is_some() {
                continue;
            }
            let flow = FlowTuple {
                src_addr: addr,
                src_port: port,
                dst_addr: local_ip,
                dst_port: candidate,
            };
            let steered = self.steering.as_ref().map(|s| s.queue_for(&flow));
            if steered.is_some_and(|q| q != my_queue) {
                continue;
            }
            chosen = Some(candidate);
            break;
        }
        self.ports.advance(local_ip, remote, tried);
        let Some(local_port) = chosen else {
            self.counters.connect_no_port += 1;
            return Err((ConnectError::NoPort, state));
        };
        let Some(idx) = self.alloc_slot() else {
            return Err((ConnectError::TableFull, state));
        };
        let id = self.slot_id(idx);
        let iss = self.isn.isn((local_ip, local_port), remote, cx.now);
        let mss = self.mss;
        let config = &self.config;
        let slot = &mut self.slots[idx];
        let opening = Opening {
            id,
            state: State::SynSent,
            local: (local_ip, local_port),
            remote,
            iss,
            mss,
        };
        slot.tcb.open(config, opening, cx.now);
        slot.conn = Some(state);
        let key = FlowKey {
            remote_addr: addr,
            remote_port: port,
            local_port,
        };
        cx.meter().conn_table_ops += 1;
        let inserted = self.table.insert(key, Entry::Conn(idx as u32));
        debug_assert!(inserted.is_ok());
        self.active += 1;
        self.counters.connect_attempts += 1;
        self.send_syn(cx, idx);
        self.arm_rto(cx.iface.meter_mut(), idx, cx.now);
        Ok(id)
    }

    /// Both sides closed and our FIN acknowledged: keep the 4-tuple in
    /// TIME-WAIT (compactly) and free the slot.
    pub(super) fn enter_time_wait<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
    ) {
        let key = self.key_of(idx);
        let tcb = &self.slots[idx].tcb;
        let wait = self.config.time_wait;
        if wait > Duration::ZERO {
            if self.time_wait.is_full() {
                if let Some(old) = self.time_wait.pop_expired(cx.now, true) {
                    if old.live {
                        cx.meter().conn_table_ops += 1;
                        self.table.remove(&old.key);
                    }
                    self.counters.time_wait_evicted += 1;
                }
            }
            let entry = TimeWaitEntry {
                key,
                snd_nxt: tcb.snd_nxt,
                rcv_nxt: tcb.rcv_nxt,
                window: (tcb.rcv_window(&self.config) >> tcb.rcv_shift) as u16,
                ts_recent: tcb.timestamps.then_some(tcb.ts_recent),
                expires: cx.now + wait,
                live: true,
                last_oow_ack: None,
            };
            let id = self.time_wait.push(entry);
            // Replaces the connection's entry in the table.
            cx.meter().conn_table_ops += 1;
            let replaced = self.table.insert(key, Entry::TimeWait(id));
            debug_assert!(replaced.is_ok());
        }
        self.counters.connections_closed += 1;
        let conn = self.slots[idx].conn.take();
        self.release_slot(cx, idx, wait == Duration::ZERO);
        if let Some(c) = conn {
            cx.meter().app_calls += 1;
            cx.app.on_close(c);
        }
    }

    /// A graceful close completed (LAST-ACK acknowledged).
    pub(super) fn close_conn<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
    ) {
        self.end_conn(cx, idx, false);
    }

    /// The connection was reset (by the peer, a timeout, or `abort`).
    pub(super) fn reset_conn<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
    ) {
        self.end_conn(cx, idx, true);
    }

    /// Frees the slot, then hands the application its state back through
    /// `on_reset` or `on_close`.
    pub(super) fn end_conn<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
        reset: bool,
    ) {
        if reset {
            self.counters.connections_reset += 1;
        } else {
            self.counters.connections_closed += 1;
        }
        let conn = self.slots[idx].conn.take();
        self.free_slot(cx, idx);
        if conn.is_some() {
            cx.meter().app_calls += 1;
        }
        match conn {
            Some(c) if reset => cx.app.on_reset(c),
            Some(c) => cx.app.on_close(c),
            None => {}
        }
    }

    /// Frees a slot and its table entry.
    pub(super) fn free_slot<A, D: Driver>(&mut self, cx: &mut Ctx<'_, A, D>, idx: usize) {
        self.release_slot(cx, idx, true);
    }

    pub(super) fn release_slot<A, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
        remove_key: bool,
    ) {
        let key = self.key_of(idx);
        for kind in [
            TimerKind::Retransmit,
            TimerKind::DelayedAck,
            TimerKind::Keepalive,
            TimerKind::App,
        ] {
            self.cancel_timer(cx.iface.meter_mut(), idx, kind);
        }
        let Tcp {
            slots,
            ooo,
            table,
            listeners,
            free,
            ..
        } = self;
        let slot = &mut slots[idx];
        ooo.clear(&mut slot.tcb.ooo, |f| cx.release(f));
        if slot.tcb.in_syn_queue {
            if let Some(l) = slot
                .tcb
                .listener
                .and_then(|p| listeners.iter_mut().find(|l| l.port == p))
            {
                l.syn_queue = l.syn_queue.saturating_sub(1);
            }
        }
        if remove_key {
            cx.meter().conn_table_ops += 1;
            if table.get(&key) == Some(Entry::Conn(idx as u32)) {
                cx.meter().conn_table_ops += 1;
                table.remove(&key);
            }
        }
        slot.tcb.txq.clear();
        slot.tcb.state = State::Closed;
        slot.tcb.enter_time_wait = false;
        slot.conn = None;
        slot.generation = slot.generation.wrapping_add(1);
        free.push(idx as u32);
        self.active -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opening(index: u32, generation: u32, iss: u32) -> Opening {
        Opening {
            id: ConnId { index, generation },
            state: State::SynReceived,
            local: (Ipv4Addr::new(10, 0, 0, 1), 80),
            remote: (Ipv4Addr::new(10, 0, 0, 2), 40000),
            iss: TcpSeqNumber(iss),
            mss: 1460,
        }
    }

    /// A slot that held a busy connection, opened again, is exactly the TCB
    /// a fresh slot would get: nothing of the old connection survives.
    #[test]
    fn reopened_slot_equals_a_fresh_tcb() {
        let config = TcpConfig::default();
        let mut tcb: Tcb<()> = Tcb::new(&config, 3, 1460);
        tcb.open(&config, opening(3, 1, 1000), Instant::ZERO);
        // Leave marks of a used connection in many fields.
        tcb.state = State::FinWait2;
        tcb.snd_una = TcpSeqNumber(5000);
        tcb.snd_wnd = 65535;
        tcb.rcv_nxt = TcpSeqNumber(77);
        tcb.sack = true;
        tcb.timestamps = true;
        tcb.ts_recent = 99;
        tcb.dup_acks = 2;
        tcb.persist = true;
        tcb.close_requested = true;
        tcb.fin_sent = true;
        tcb.ack_batched = true;
        tcb.enter_time_wait = true;
        tcb.tcp_template = Some(crate::wire::TcpHeaderTemplate::new(80, 40000, true));
        let later = Instant::ZERO + Duration::from_secs(7);
        tcb.open(&config, opening(3, 2, 123_456), later);
        let fresh: Tcb<()> = Tcb::fresh(&config, opening(3, 2, 123_456), later, VecDeque::new());
        assert_eq!(format!("{tcb:?}"), format!("{fresh:?}"));
        assert!(
            tcb.txq.capacity() >= config.tx_queue_entries.max(1),
            "allocation kept"
        );
    }

    /// `Tcb::check` accepts a fresh connection and names each broken
    /// invariant of one made inconsistent by hand.
    #[test]
    fn tcb_check_reports_broken_invariants() {
        let config = TcpConfig::default();
        let mut tcb: Tcb<()> = Tcb::new(&config, 3, 1460);
        tcb.open(&config, opening(3, 1, 1000), Instant::ZERO);
        let max = config.ooo_max_segments;
        assert_eq!(tcb.check(max), Ok(()));
        // Our SYN sent: SND.UNA = ISS, SND.NXT = SND.MAX = ISS + 1.
        tcb.snd_nxt = TcpSeqNumber(1001);
        tcb.snd_max = TcpSeqNumber(1001);
        assert_eq!(tcb.check(max), Ok(()));

        let broken = |f: &dyn Fn(&mut Tcb<()>), names: &str| {
            let mut t: Tcb<()> = Tcb::new(&config, 3, 1460);
            t.open(&config, opening(3, 1, 1000), Instant::ZERO);
            t.snd_nxt = TcpSeqNumber(1001);
            t.snd_max = TcpSeqNumber(1001);
            f(&mut t);
            let v = t.check(max).expect_err(names);
            let text = v.to_string();
            assert!(text.contains(names), "{text}");
            assert!(
                text.contains("connection 3.1 10.0.0.1:80 -> 10.0.0.2:40000"),
                "{text}"
            );
        };
        // SND.NXT beyond SND.MAX, in sequence space across the wrap.
        broken(
            &|t| t.snd_nxt = TcpSeqNumber(1002),
            "SND.UNA 1000 <= SND.NXT 1002 <= SND.MAX 1001",
        );
        broken(
            &|t| {
                t.snd_una = TcpSeqNumber(u32::MAX - 5);
                t.snd_nxt = TcpSeqNumber(u32::MAX - 6);
            },
            "SND.NXT",
        );
        // A queued entry not counted.
        broken(
            &|t| {
                t.txq.push_back(crate::tcp::tcb::TxEntry {
                    writer: (),
                    len: 10,
                })
            },
            "transmit queue holds 10 bytes in 1 entries, counted 0",
        );
        // Sent more than was queued.
        broken(&|t| t.snd_max = TcpSeqNumber(1500), "SND.MAX 1500 beyond");
        // Counted in a SYN queue without a listener.
        broken(&|t| t.in_syn_queue = true, "counted in a SYN queue");
        // A closed TCB has no invariants.
        let mut closed: Tcb<()> = Tcb::new(&config, 3, 1460);
        closed.snd_nxt = TcpSeqNumber(5);
        assert_eq!(closed.check(max), Ok(()));
    }
}
