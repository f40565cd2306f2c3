//! The per-core stack: an [`Interface`] (Ethernet, ARP, IPv4, ICMP) with
//! TCP and one application on top.
//!
//! [`Stack::poll`] is the whole event loop of a core: it runs expired
//! timers, receives every frame the driver holds, dispatches TCP segments
//! to their connection (an O(1) table lookup), calls the application's
//! handlers, and sends what they queued. Everything — connection slots,
//! transmit queues, out-of-order storage, timers, TIME-WAIT entries — is
//! sized at construction; steady-state traffic allocates nothing.

use std::collections::VecDeque;

use tracing::{debug, trace};

use crate::checksum::{pseudo_header_sum, Checksum};
use crate::iface::{IfaceEvent, Interface, InterfaceConfig, IpDatagram};
use crate::mem::buf::Frame;
use crate::mem::timer::TimerWheel;
use crate::nic::{Capabilities, Driver, FlowSteering, FlowTuple, QueueId};
use crate::stats::{DropReason, TcpCounters};
use crate::tcp::app::{App, ConnId, Connect};
use crate::tcp::config::TcpConfig;
use crate::tcp::congestion::{AckAction, Congestion, DupAckAction, RecoveryMode};
use crate::tcp::isn::{EphemeralPorts, IsnGenerator, Secret, SynCookies};
use crate::tcp::reassembly::{InsertOutcome, OooQueue, SegmentPool};
use crate::tcp::rtt::{RttConfig, RttEstimator, RttSampler};
use crate::tcp::scoreboard::{NextSegKind, Scoreboard};
use crate::tcp::table::{FlowKey, FlowTable};
use crate::tcp::tcb::{ConnHandle, State, Tcb, TimerKey, TimerKind};
use crate::tcp::time_wait::{TimeWaitEntry, TimeWaitRing};
use crate::time::{Duration, Instant};
use crate::wire::{tcp as tcp_wire, IpProtocol, Ipv4Addr, TcpFlags, TcpRepr, TcpSeqNumber};

/// What the connection table points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    Conn(u32),
    TimeWait(u32),
}

/// A listening port.
#[derive(Clone, Copy, Debug)]
struct Listener {
    port: u16,
    backlog: usize,
    syn_queue: usize,
}

/// Why [`Stack::listen`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenError {
    /// Already listening on that port.
    InUse,
    /// Too many listening ports.
    TooMany,
    /// Port 0.
    InvalidPort,
}

/// Why an active open failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectError {
    /// No free connection slot.
    TableFull,
    /// No free ephemeral port for that destination on this core.
    NoPort,
    /// The destination is not reachable (no route).
    Unreachable,
    /// Port 0 or our own address.
    InvalidAddress,
}

/// A connection's identity and state, as [`Stack::connections`] lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    /// Its id.
    pub id: ConnId,
    /// Its state.
    pub state: State,
    /// Local address and port.
    pub local: (Ipv4Addr, u16),
    /// Remote address and port.
    pub remote: (Ipv4Addr, u16),
}

/// Most listening ports one stack serves.
const MAX_LISTENERS: usize = 16;

/// One connection slot.
struct Slot<C, W> {
    generation: u32,
    tcb: Tcb<W>,
    conn: Option<C>,
}

/// A connection about to take a free slot: who it is and how it starts
/// (see `Tcb::open`).
struct Opening {
    id: ConnId,
    state: State,
    local: (Ipv4Addr, u16),
    remote: (Ipv4Addr, u16),
    iss: TcpSeqNumber,
    mss: u16,
}

/// A parsed incoming segment.
#[derive(Clone, Copy, Debug)]
struct Segment {
    repr: TcpRepr<'static>,
    /// Offset and length of the payload within the frame.
    payload_offset: usize,
    payload_len: u32,
}

impl Segment {
    fn seq(&self) -> TcpSeqNumber {
        self.repr.seq_number
    }
    fn has(&self, flag: TcpFlags) -> bool {
        self.repr.flags.contains(flag)
    }
    /// Sequence space the segment occupies.
    fn seg_len(&self) -> u32 {
        self.payload_len + u32::from(self.has(TcpFlags::SYN)) + u32::from(self.has(TcpFlags::FIN))
    }
}

/// The TCP layer of one core (everything but the interface and the app).
struct Tcp<C, W> {
    config: TcpConfig,
    local_ip: Ipv4Addr,
    /// MSS we announce.
    mss: u16,
    slots: Vec<Slot<C, W>>,
    free: Vec<u32>,
    table: FlowTable<Entry>,
    listeners: Vec<Listener>,
    timers: TimerWheel<TimerKey>,
    ooo: SegmentPool<Frame>,
    /// Our NIC queue, and how the NIC steers flows over queues (if known).
    queue: QueueId,
    steering: Option<FlowSteering>,
    time_wait: TimeWaitRing,
    isn: IsnGenerator,
    cookies: SynCookies,
    ports: EphemeralPorts,
    counters: TcpCounters,
    stray: VecDeque<Frame>,
    /// Connections owed an ACK for in-order data of the current receive
    /// batch, acknowledged once when the batch ends (see [`Stack::poll`]).
    ack_batch: Vec<u32>,
    active: usize,
}

/// The TCP layer for the connections of application `A`.
type TcpOf<A> = Tcp<<A as App>::Conn, <A as App>::Writer>;

/// One core's network stack running application `A`.
pub struct Stack<A: App> {
    iface: Interface,
    tcp: TcpOf<A>,
    app: A,
}

/// What the TCP layer works with during one event, besides its own state:
/// the application, the interface below it, the driver, and the time of
/// the event (as smoltcp hands its sockets a `Context`). [`Stack`] builds
/// one per event and lends it down the whole call chain, so no function
/// threads these through its arguments. It is generic over the app and the
/// driver: every call stays static, and nothing is copied.
struct Ctx<'a, A, D> {
    app: &'a mut A,
    iface: &'a mut Interface,
    driver: &'a mut D,
    now: Instant,
}

fn dist(a: TcpSeqNumber, b: TcpSeqNumber) -> u32 {
    a.0.wrapping_sub(b.0)
}

impl<A: App> Stack<A> {
    /// A stack on the NIC queue described by `caps` (see
    /// [`Driver::capabilities`]), with every table sized from the
    /// configurations. `now` is the current time. The MSS we announce is
    /// the one the MTU allows ([`Capabilities::mss`]), or
    /// [`TcpConfig::mss`] if that is smaller.
    pub fn new(
        caps: &Capabilities,
        iface: InterfaceConfig,
        config: TcpConfig,
        app: A,
        now: Instant,
    ) -> Self {
        let mtu_mss = caps.mss();
        let mss = config.mss.map_or(mtu_mss, |m| m.min(mtu_mss));
        let secret = Secret::new(config.secret);
        let max = config.max_connections.max(1);
        let mut slots = Vec::with_capacity(max);
        for i in 0..max {
            slots.push(Slot {
                generation: 0,
                tcb: Tcb::new(&config, i as u32, mss),
                conn: None,
            });
        }
        let free = (0..max as u32).rev().collect();
        let ports = EphemeralPorts::with_range(
            secret.derive(b"ports"),
            config.ephemeral_ports.0..=config.ephemeral_ports.1,
        )
        .unwrap_or_else(|| EphemeralPorts::new(secret.derive(b"ports")));
        let table_key = u64::from_le_bytes(
            secret.derive(b"table").as_bytes()[..8]
                .try_into()
                .unwrap_or([0; 8]),
        );
        let tcp = Tcp {
            local_ip: iface.ip.addr(),
            mss,
            slots,
            free,
            table: FlowTable::new(max + config.time_wait_capacity, table_key),
            listeners: Vec::with_capacity(MAX_LISTENERS),
            timers: TimerWheel::new(max * 3 + 16, config.timer_tick, now),
            ooo: SegmentPool::new(u32::try_from(config.ooo_pool_segments).unwrap_or(u32::MAX)),
            queue: caps.queue,
            steering: caps.steering.clone(),
            time_wait: TimeWaitRing::new(config.time_wait_capacity),
            isn: IsnGenerator::new(secret.derive(b"isn")),
            cookies: SynCookies::new(secret.derive(b"cookies")),
            ports,
            counters: TcpCounters::default(),
            stray: VecDeque::with_capacity(256),
            ack_batch: Vec::with_capacity(max),
            active: 0,
            config,
        };
        Stack {
            iface: Interface::new(caps, iface),
            tcp,
            app,
        }
    }

    /// The application.
    pub fn app(&self) -> &A {
        &self.app
    }

    /// The application, mutably (to feed it work between polls).
    pub fn app_mut(&mut self) -> &mut A {
        &mut self.app
    }

    /// The interface layer (ARP cache, ICMP, its counters and drops).
    pub fn iface(&self) -> &Interface {
        &self.iface
    }

    /// The interface layer, mutably (static ARP entries, pings).
    pub fn iface_mut(&mut self) -> &mut Interface {
        &mut self.iface
    }

    /// TCP counters, with the segments TCP dropped (the interface counts
    /// its own drops: [`Interface::counters`]).
    pub fn tcp_counters(&self) -> &TcpCounters {
        &self.tcp.counters
    }

    /// The TCP settings.
    pub fn tcp_config(&self) -> &TcpConfig {
        &self.tcp.config
    }

    /// Connections holding a slot (any state but TIME-WAIT).
    pub fn active_connections(&self) -> usize {
        self.tcp.active
    }

    /// Connections in TIME-WAIT.
    pub fn time_wait_connections(&self) -> usize {
        self.tcp.table.len() - self.tcp.active
    }

    /// The state of a connection, if it still exists.
    pub fn state(&self, id: ConnId) -> Option<State> {
        let slot = self.tcp.slots.get(id.index as usize)?;
        (slot.generation == id.generation && slot.tcb.state != State::Closed)
            .then_some(slot.tcb.state)
    }

    /// Every connection holding a slot, in slot order (diagnostics, tests).
    pub fn connections(&self) -> impl Iterator<Item = ConnInfo> + '_ {
        self.tcp
            .slots
            .iter()
            .filter(|s| s.tcb.state != State::Closed)
            .map(|s| ConnInfo {
                id: s.tcb.id,
                state: s.tcb.state,
                local: s.tcb.local,
                remote: s.tcb.remote,
            })
    }

    /// Accepts connections on `port`, with a SYN queue of `backlog`
    /// half-open connections (beyond it, SYN cookies if enabled).
    pub fn listen(&mut self, port: u16, backlog: usize) -> Result<(), ListenError> {
        if port == 0 {
            return Err(ListenError::InvalidPort);
        }
        if self.tcp.listeners.iter().any(|l| l.port == port) {
            return Err(ListenError::InUse);
        }
        if self.tcp.listeners.len() >= MAX_LISTENERS {
            return Err(ListenError::TooMany);
        }
        self.tcp.listeners.push(Listener {
            port,
            backlog,
            syn_queue: 0,
        });
        Ok(())
    }

    /// Opens a connection to `addr:port` with application state `state`.
    /// The ephemeral port is chosen so that the reply flow hashes to this
    /// core's queue when the driver knows the NIC's hash.
    pub fn connect<D: Driver>(
        &mut self,
        driver: &mut D,
        now: Instant,
        addr: Ipv4Addr,
        port: u16,
        state: A::Conn,
    ) -> Result<ConnId, (ConnectError, A::Conn)> {
        let (tcp, mut cx) = self.split(driver, now);
        tcp.connect(&mut cx, addr, port, state)
    }

    /// Frames that belong to a flow owned by another core (active opens
    /// whose replies the NIC hashed here); the owner forwards them.
    pub fn take_stray(&mut self) -> Option<Frame> {
        self.tcp.stray.pop_front()
    }

    /// The earliest instant at which [`Stack::poll`] has timer work.
    pub fn poll_at(&self) -> Option<Instant> {
        [
            self.iface.poll_at(),
            self.tcp.timers.next_deadline(),
            self.tcp.time_wait.next_expiry(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs timers due at `now`, then receives and processes every frame
    /// the driver holds, acknowledges the batch, then lets the application
    /// open connections. Returns whether anything was done.
    ///
    /// # Acknowledgments
    ///
    /// In-order data is acknowledged once per receive batch, as Linux does
    /// after GRO: the segments a connection receives in one poll are
    /// counted, and when the driver has no more frames every connection
    /// holding at least two unacknowledged segments (counted across polls,
    /// so RFC 5681's "at least every second full-sized segment" holds)
    /// gets one ACK, unless a reply already carried it. A single segment
    /// waits for the delayed-ACK timer ([`TcpConfig::delayed_ack`]) or a
    /// reply to ride on. Out-of-order segments, segments that fill a gap,
    /// FINs, window updates and duplicates are acknowledged at once, as the
    /// RFCs ask (fast retransmit depends on those duplicate ACKs).
    pub fn poll<D: Driver>(&mut self, driver: &mut D, now: Instant) -> bool {
        let mut worked = self.poll_timers(driver, now);
        while let Some(frame) = driver.receive() {
            worked = true;
            self.receive(driver, frame, now);
        }
        self.flush_acks(driver, now);
        worked | self.poll_connects(driver, now)
    }

    /// Sends the ACKs the receive batch owes (see [`Stack::poll`]). A
    /// caller feeding frames with [`Stack::receive`] itself calls this
    /// after each batch; [`Stack::poll`] does it on its own.
    pub fn flush_acks<D: Driver>(&mut self, driver: &mut D, now: Instant) {
        let (tcp, mut cx) = self.split(driver, now);
        for i in 0..tcp.ack_batch.len() {
            let idx = tcp.ack_batch[i] as usize;
            let tcb = &mut tcp.slots[idx].tcb;
            // A slot freed and reused within the batch lost its flag.
            if !core::mem::take(&mut tcb.ack_batched) {
                continue;
            }
            if tcb.ack_pending && tcb.unacked_segments >= 2 {
                tcp.send_ack(&mut cx, idx);
            }
        }
        tcp.ack_batch.clear();
    }

    /// Processes one frame (from the driver, or forwarded by another core).
    pub fn receive<D: Driver>(&mut self, driver: &mut D, frame: Frame, now: Instant) {
        let (tcp, mut cx) = self.split(driver, now);
        match cx.iface.process(cx.driver, &frame, now) {
            Some(dg) if dg.ip.protocol == IpProtocol::Tcp => tcp.input(&mut cx, frame, dg),
            Some(_) => {
                cx.iface
                    .counters_mut()
                    .drop(DropReason::Ipv4UnknownProtocol);
                cx.driver.release(frame);
            }
            None => cx.driver.release(frame),
        }
    }

    /// Runs the interface's and TCP's timers due at `now`.
    pub fn poll_timers<D: Driver>(&mut self, driver: &mut D, now: Instant) -> bool {
        let (tcp, mut cx) = self.split(driver, now);
        let mut worked = cx.iface.poll_timers(cx.driver, now);
        worked |= tcp.expire_time_wait(now);
        while let Some((id, key)) = tcp.timers.pop_expired(now) {
            worked = true;
            tcp.on_timer(&mut cx, id, key);
        }
        worked
    }

    /// The TCP layer, and the context of an event at `now` on `driver`:
    /// the rest of the stack, borrowed apart.
    fn split<'a, D: Driver>(
        &'a mut self,
        driver: &'a mut D,
        now: Instant,
    ) -> (&'a mut TcpOf<A>, Ctx<'a, A, D>) {
        let Stack { iface, tcp, app } = self;
        let cx = Ctx {
            app,
            iface,
            driver,
            now,
        };
        (tcp, cx)
    }

    fn poll_connects<D: Driver>(&mut self, driver: &mut D, now: Instant) -> bool {
        let mut worked = false;
        while !self.tcp.free.is_empty() {
            let Some(Connect { addr, port, state }) = self.app.next_connect(now) else {
                break;
            };
            worked = true;
            if let Err((_, state)) = self.connect(driver, now, addr, port, state) {
                self.app.on_connect_failed(state);
            }
        }
        worked
    }

    /// Pops the next ICMP event (echo replies) of the interface.
    pub fn take_iface_event(&mut self) -> Option<IfaceEvent> {
        self.iface.take_event()
    }
}

impl<W> Tcb<W> {
    /// A free slot's TCB, with its transmit queue allocated once.
    fn new(config: &TcpConfig, index: u32, mss: u16) -> Self {
        let smss = u32::from(mss);
        Tcb {
            id: ConnId {
                index,
                generation: 0,
            },
            state: State::Closed,
            local: (Ipv4Addr::UNSPECIFIED, 0),
            remote: (Ipv4Addr::UNSPECIFIED, 0),
            listener: None,
            in_syn_queue: false,
            iss: TcpSeqNumber(0),
            snd_una: TcpSeqNumber(0),
            snd_nxt: TcpSeqNumber(0),
            snd_max: TcpSeqNumber(0),
            snd_wnd: 0,
            max_snd_wnd: 0,
            snd_wl1: TcpSeqNumber(0),
            snd_wl2: TcpSeqNumber(0),
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
            txq: VecDeque::with_capacity(config.tx_queue_entries.max(1)),
            txq_seq: TcpSeqNumber(0),
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
            high_rxt: TcpSeqNumber(0),
            persist: false,
            retransmit_now: false,
            rto_timer: None,
            delack_timer: None,
            keepalive_timer: None,
            keepalive_probes: 0,
            last_activity: Instant::ZERO,
            ooo: OooQueue::default(),
            unacked_segments: 0,
            ack_now: false,
            ack_pending: false,
            ack_batched: false,
            enter_time_wait: false,
            now: Instant::ZERO,
        }
    }

    /// Re-initialises a free slot for a new connection.
    fn open(&mut self, config: &TcpConfig, opening: Opening, now: Instant) {
        let Opening {
            id,
            state,
            local,
            remote,
            iss,
            mss,
        } = opening;
        debug_assert!(self.txq.is_empty());
        let smss = u32::from(mss);
        self.id = id;
        self.state = state;
        self.local = local;
        self.remote = remote;
        self.listener = None;
        self.in_syn_queue = false;
        self.iss = iss;
        self.snd_una = iss;
        self.snd_nxt = iss;
        self.snd_max = iss;
        self.snd_wnd = 0;
        self.max_snd_wnd = 0;
        self.snd_wl1 = TcpSeqNumber(0);
        self.snd_wl2 = iss;
        self.snd_shift = 0;
        self.smss = smss;
        self.irs = TcpSeqNumber(0);
        self.rcv_nxt = TcpSeqNumber(0);
        self.rcv_shift = 0;
        self.rcv_adv = TcpSeqNumber(0);
        self.ooo_fin = None;
        self.wscale_ok = false;
        self.sack = false;
        self.timestamps = false;
        self.ts_recent = 0;
        self.last_ack_sent = TcpSeqNumber(0);
        self.txq_seq = iss.wrapping_add(1);
        self.txq_bytes = 0;
        self.close_requested = false;
        self.abort_requested = false;
        self.fin_sent = false;
        self.rtt = RttEstimator::new(rtt_config(config));
        self.sampler = RttSampler::new();
        self.cc = Congestion::new(smss, config.initial_window.unwrap_or(10 * smss));
        self.scoreboard.clear();
        self.dup_acks = 0;
        self.retries = 0;
        self.high_rxt = iss;
        self.persist = false;
        self.retransmit_now = false;
        self.rto_timer = None;
        self.delack_timer = None;
        self.keepalive_timer = None;
        self.keepalive_probes = 0;
        self.last_activity = now;
        self.ooo = OooQueue::default();
        self.unacked_segments = 0;
        self.ack_now = false;
        self.ack_pending = false;
        self.ack_batched = false;
        self.enter_time_wait = false;
        self.now = now;
    }

    /// Applies the options of the peer's SYN (or SYN-ACK).
    fn negotiate(&mut self, config: &TcpConfig, syn: &TcpRepr<'_>, our_mss: u16) {
        let peer_mss = syn.max_seg_size.unwrap_or(536).clamp(64, our_mss.max(64));
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
    fn rcv_window(&self, config: &TcpConfig) -> u32 {
        let max_field = 0xffff_u32 << self.rcv_shift;
        config.rx_budget.min(max_field)
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

/// What the timestamp option should carry at `now`.
fn ts_value(now: Instant) -> u32 {
    now.as_millis() as u32
}

impl<C, W: crate::tcp::app::Writer> Tcp<C, W> {
    fn slot_id(&self, idx: usize) -> ConnId {
        ConnId {
            index: idx as u32,
            generation: self.slots[idx].generation,
        }
    }

    // ------------------------------------------------------------------
    // Input

    /// Handles a TCP datagram; the frame is released or kept.
    fn input<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        frame: Frame,
        dg: IpDatagram,
    ) {
        self.counters.segments_in += 1;
        let Some(seg) = self.parse(&frame, &dg) else {
            cx.driver.release(frame);
            return;
        };
        let key = FlowKey {
            remote_addr: dg.ip.src,
            remote_port: seg.repr.src_port,
            local_port: seg.repr.dst_port,
        };
        let span = tracing::trace_span!(
            "conn",
            remote = %key.remote_addr,
            remote_port = key.remote_port,
            local_port = key.local_port
        );
        let _entered = span.enter();
        let mut frame = Some(frame);
        match self.table.get(&key) {
            Some(Entry::Conn(idx)) => {
                self.segment_arrives(cx, idx as usize, &seg, &mut frame);
            }
            Some(Entry::TimeWait(id)) => {
                if self.time_wait_segment(cx, id, &key, &seg) {
                    self.no_connection(cx, key, &seg, &mut frame);
                }
            }
            None => self.no_connection(cx, key, &seg, &mut frame),
        }
        if let Some(frame) = frame {
            cx.driver.release(frame);
        }
    }

    /// Parses and checksums the TCP header; counts a drop on failure.
    fn parse(&mut self, frame: &Frame, dg: &IpDatagram) -> Option<Segment> {
        let cursor = dg.payload(frame);
        let header_len =
            match cursor.read_with(tcp_wire::HEADER_LEN, |b| usize::from(b[12] >> 4) * 4) {
                Ok((len, _)) if len >= tcp_wire::HEADER_LEN && len <= cursor.len() => len,
                _ => {
                    self.counters.drop(DropReason::TcpMalformed);
                    return None;
                }
            };
        let repr = match cursor.read_with(header_len, TcpRepr::parse_header) {
            Ok((Ok(repr), _)) => repr,
            _ => {
                self.counters.drop(DropReason::TcpMalformed);
                return None;
            }
        };
        let mut sum = Checksum::new();
        sum.add_u16(pseudo_header_sum(
            dg.ip.src.octets(),
            dg.ip.dst.octets(),
            6,
            cursor.len() as u16,
        ));
        cursor.add_to_checksum(&mut sum);
        if sum.finish() != 0 {
            self.counters.drop(DropReason::TcpBadChecksum);
            return None;
        }
        Some(Segment {
            repr,
            payload_offset: dg.payload_offset + header_len,
            payload_len: (cursor.len() - header_len) as u32,
        })
    }

    /// A segment for no connection: a listener's SYN or cookie ACK, a
    /// frame for another core, or a reset.
    fn no_connection<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        key: FlowKey,
        seg: &Segment,
        frame: &mut Option<Frame>,
    ) {
        let listener = self.listeners.iter().position(|l| l.port == key.local_port);
        if seg.has(TcpFlags::RST) {
            self.counters.drop(DropReason::TcpNoConnection);
            return;
        }
        if let Some(li) = listener {
            if seg.has(TcpFlags::SYN) && seg.repr.ack_number.is_none() {
                self.listen_syn(cx, li, key, seg);
                return;
            }
            if seg.repr.ack_number.is_some() && !seg.has(TcpFlags::SYN) && self.config.syn_cookies {
                if let Some(idx) = self.cookie_ack(key, seg, cx.now) {
                    self.segment_arrives(cx, idx, seg, frame);
                    return;
                }
            }
        } else if let Some((core, cores)) = self.config.port_partition {
            let (lo, hi) = self.config.ephemeral_ports;
            let port = key.local_port;
            if cores > 1 && (lo..=hi).contains(&port) && port % cores != core {
                if let Some(f) = frame.take() {
                    if self.stray.len() < self.stray.capacity() {
                        self.counters.stray_forwarded += 1;
                        self.stray.push_back(f);
                    } else {
                        self.counters.drop(DropReason::TcpStrayOverflow);
                        cx.driver.release(f);
                    }
                }
                return;
            }
        }
        self.counters.drop(DropReason::TcpNoConnection);
        // RFC 9293 §3.10.7.1: answer with a reset.
        let (seq, ack) = match seg.repr.ack_number {
            Some(ack) => (ack, None),
            None => (TcpSeqNumber(0), Some(seg.seq().wrapping_add(seg.seg_len()))),
        };
        self.send_rst(cx, key, seq, ack);
    }

    /// A SYN for a listener: a new half-open connection, or a cookie.
    fn listen_syn<A, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        li: usize,
        key: FlowKey,
        seg: &Segment,
    ) {
        let listener = self.listeners[li];
        let local = (self.local_ip, key.local_port);
        let remote = (key.remote_addr, key.remote_port);
        let queue_full = listener.syn_queue >= listener.backlog;
        if queue_full || self.free.is_empty() || self.table.is_full() {
            if self.config.syn_cookies {
                self.send_cookie_syn_ack(cx, key, seg);
            } else {
                self.counters.drop(DropReason::TcpSynQueueFull);
            }
            return;
        }
        let Some(idx) = self.alloc_slot() else { return };
        let iss = self.isn.isn(local, remote, cx.now);
        let id = self.slot_id(idx);
        let mss = self.mss;
        let config = &self.config;
        let tcb = &mut self.slots[idx].tcb;
        let opening = Opening {
            id,
            state: State::SynReceived,
            local,
            remote,
            iss,
            mss,
        };
        tcb.open(config, opening, cx.now);
        tcb.listener = Some(key.local_port);
        tcb.in_syn_queue = true;
        tcb.irs = seg.seq();
        tcb.rcv_nxt = seg.seq().wrapping_add(1);
        tcb.snd_wnd = u32::from(seg.repr.window_len);
        tcb.max_snd_wnd = tcb.snd_wnd;
        tcb.negotiate(config, &seg.repr, mss);
        self.listeners[li].syn_queue += 1;
        let inserted = self.table.insert(key, Entry::Conn(idx as u32));
        debug_assert!(inserted.is_ok());
        self.active += 1;
        trace!(?key, "SYN received");
        self.send_syn(cx, idx);
        self.arm_rto(idx, cx.now);
    }

    /// Answers a SYN statelessly with a SYN cookie.
    fn send_cookie_syn_ack<A, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        key: FlowKey,
        seg: &Segment,
    ) {
        let local = (self.local_ip, key.local_port);
        let remote = (key.remote_addr, key.remote_port);
        let mss = seg.repr.max_seg_size.unwrap_or(536).min(self.mss);
        let (cookie, _) = self.cookies.generate(local, remote, seg.seq(), mss, cx.now);
        self.counters.syn_cookies_sent += 1;
        let repr = TcpRepr {
            src_port: key.local_port,
            dst_port: key.remote_port,
            flags: TcpFlags::SYN,
            seq_number: cookie,
            ack_number: Some(seg.seq().wrapping_add(1)),
            window_len: self.config.rx_budget.min(0xffff) as u16,
            window_scale: None,
            max_seg_size: Some(self.mss),
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload: &[],
        };
        self.send_control(cx, key.remote_addr, &repr);
    }

    /// The final ACK of a cookie handshake: rebuild the connection.
    fn cookie_ack(&mut self, key: FlowKey, seg: &Segment, now: Instant) -> Option<usize> {
        let ack = seg.repr.ack_number?;
        let local = (self.local_ip, key.local_port);
        let remote = (key.remote_addr, key.remote_port);
        let client_isn = seg.seq().wrapping_sub(1);
        let cookie = ack.wrapping_sub(1);
        let info = self
            .cookies
            .validate(local, remote, client_isn, cookie, now)?;
        if self.free.is_empty() || self.table.is_full() {
            self.counters.drop(DropReason::TcpTableFull);
            return None;
        }
        let idx = self.alloc_slot()?;
        self.counters.syn_cookies_accepted += 1;
        let id = self.slot_id(idx);
        let config = &self.config;
        let tcb = &mut self.slots[idx].tcb;
        let opening = Opening {
            id,
            state: State::SynReceived,
            local,
            remote,
            iss: cookie,
            mss: info.mss,
        };
        tcb.open(config, opening, now);
        tcb.listener = Some(key.local_port);
        tcb.snd_nxt = cookie.wrapping_add(1);
        tcb.snd_max = tcb.snd_nxt;
        tcb.irs = client_isn;
        tcb.rcv_nxt = seg.seq();
        tcb.snd_wl1 = seg.seq();
        let syn = TcpRepr {
            max_seg_size: Some(info.mss),
            ..seg.repr
        };
        let syn = TcpRepr {
            window_scale: None,
            sack_permitted: false,
            timestamp: None,
            ..syn
        };
        tcb.negotiate(config, &syn, info.mss);
        let inserted = self.table.insert(key, Entry::Conn(idx as u32));
        debug_assert!(inserted.is_ok());
        self.active += 1;
        Some(idx)
    }

    /// A segment for a TIME-WAIT entry. Returns true when a new SYN may
    /// reuse the 4-tuple (the entry is gone and the caller handles the SYN
    /// as for no connection).
    fn time_wait_segment<A, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        id: u32,
        key: &FlowKey,
        seg: &Segment,
    ) -> bool {
        let Some(tw) = self.time_wait.get_mut(id) else {
            self.table.remove(key);
            return true;
        };
        let tw = *tw;
        if seg.has(TcpFlags::RST) {
            // RFC 1337: ignore resets in TIME-WAIT.
            self.counters.drop(DropReason::TcpTimeWait);
            return false;
        }
        if seg.has(TcpFlags::SYN) && seg.repr.ack_number.is_none() {
            // RFC 6191: a new incarnation whose ISN (or timestamp) is beyond
            // the old connection may take the 4-tuple now.
            let newer_ts = matches!((seg.repr.timestamp, tw.ts_recent), (Some((tsval, _)), Some(recent)) if (tsval.wrapping_sub(recent) as i32) > 0);
            if seg.seq() > tw.rcv_nxt || newer_ts {
                self.table.remove(key);
                if let Some(entry) = self.time_wait.get_mut(id) {
                    entry.live = false;
                }
                self.counters.time_wait_reused += 1;
                return true;
            }
        }
        self.counters.drop(DropReason::TcpTimeWait);
        // A retransmitted FIN, or anything unacceptable, is acknowledged
        // again; an acceptable bare ACK needs no answer.
        if !seg.has(TcpFlags::FIN) && seg.payload_len == 0 && seg.seq() == tw.rcv_nxt {
            return false;
        }
        let repr = TcpRepr {
            src_port: key.local_port,
            dst_port: key.remote_port,
            flags: TcpFlags::empty(),
            seq_number: tw.snd_nxt,
            ack_number: Some(tw.rcv_nxt),
            window_len: tw.window,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: tw.ts_recent.map(|recent| (ts_value(cx.now), recent)),
            payload: &[],
        };
        self.send_control(cx, key.remote_addr, &repr);
        false
    }

    /// RFC 9293 §3.10.7.3–4 for an existing connection.
    fn segment_arrives<A: App<Conn = C, Writer = W>, D: Driver>(
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
    fn syn_sent_arrives<A: App<Conn = C, Writer = W>, D: Driver>(
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
            self.cancel_timer(idx, TimerKind::Retransmit);
            self.counters.connections_opened += 1;
            let slot = &mut self.slots[idx];
            if let Some(c) = slot.conn.as_mut() {
                cx.app
                    .on_connected(c, &mut ConnHandle { tcb: &mut slot.tcb });
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
    fn check_segment<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
        seg: &Segment,
    ) -> bool {
        let config_budget = self.config.rx_budget;
        let tcb = &mut self.slots[idx].tcb;
        // A retransmitted SYN in SYN-RECEIVED: resend our SYN-ACK.
        if tcb.state == State::SynReceived
            && seg.has(TcpFlags::SYN)
            && seg.repr.ack_number.is_none()
            && seg.seq() == tcb.irs
        {
            let _ = tcb;
            self.send_syn(cx, idx);
            return false;
        }
        // PAWS (RFC 7323 §5).
        if tcb.timestamps && !seg.has(TcpFlags::RST) {
            if let Some((tsval, _)) = seg.repr.timestamp {
                if (tsval.wrapping_sub(tcb.ts_recent) as i32) < 0 {
                    self.counters.drop(DropReason::TcpPaws);
                    tcb.ack_now = true;
                    return false;
                }
            }
        }
        // Acceptability (RFC 9293 §3.10.7.4, first check).
        let wnd = config_budget.max(1);
        let len = seg.seg_len();
        let seq = seg.seq();
        let in_wnd = |s: TcpSeqNumber| s.in_window(tcb.rcv_nxt, wnd);
        let acceptable = if len == 0 {
            in_wnd(seq)
        } else {
            in_wnd(seq) || in_wnd(seq.wrapping_add(len - 1))
        };
        if !acceptable {
            if !seg.has(TcpFlags::RST) {
                tcb.ack_now = true;
            }
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
            if !usable_ack {
                self.counters.drop(DropReason::TcpOutOfWindow);
                return false;
            }
            self.counters.old_segments += 1;
            return true;
        }
        // Timestamp recording (RFC 7323 §4.3).
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
                self.counters.challenge_acks += 1;
                tcb.ack_now = true;
            }
            return false;
        }
        if seg.has(TcpFlags::SYN) {
            // RFC 5961 §4: challenge ACK for any SYN on a synchronised connection.
            self.counters.challenge_acks += 1;
            tcb.ack_now = true;
            self.counters.drop(DropReason::TcpUnexpectedSyn);
            return false;
        }
        true
    }

    /// ACK processing. Returns whether the segment's data should still be
    /// processed.
    fn process_ack<A: App<Conn = C, Writer = W>, D: Driver>(
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
            self.cancel_timer(idx, TimerKind::Retransmit);
            if let Some(port) = self.slots[idx].tcb.listener {
                if self.slots[idx].tcb.in_syn_queue {
                    self.slots[idx].tcb.in_syn_queue = false;
                    if let Some(l) = self.listeners.iter_mut().find(|l| l.port == port) {
                        l.syn_queue = l.syn_queue.saturating_sub(1);
                    }
                }
                let slot = &mut self.slots[idx];
                let accepted = cx.app.accept(port, &mut ConnHandle { tcb: &mut slot.tcb });
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
                    cx.app
                        .on_connected(c, &mut ConnHandle { tcb: &mut slot.tcb });
                }
            }
        }
        let tcb = &mut self.slots[idx].tcb;
        // RFC 5961 §5: ACKs of data never sent, or far below snd_una.
        if ack > tcb.snd_max {
            tcb.ack_now = true;
            self.counters.drop(DropReason::TcpBadAck);
            return false;
        }
        let window = u32::from(seg.repr.window_len) << tcb.snd_shift;
        if ack < tcb.snd_una.wrapping_sub(tcb.max_snd_wnd.max(1)) {
            tcb.ack_now = true;
            self.counters.challenge_acks += 1;
            self.counters.drop(DropReason::TcpBadAck);
            return false;
        }
        let window_update =
            tcb.snd_wl1 < seg.seq() || (tcb.snd_wl1 == seg.seq() && tcb.snd_wl2 <= ack);
        let old_window = tcb.snd_wnd;
        if ack > tcb.snd_una {
            self.ack_new_data(cx, idx, seg, ack);
        } else if ack == tcb.snd_una
            && seg.payload_len == 0
            && !seg.has(TcpFlags::FIN)
            && window == old_window
            && tcb.in_flight() > 0
        {
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
                self.cancel_timer(idx, TimerKind::Retransmit);
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
    fn ack_new_data<A: App<Conn = C, Writer = W>, D>(
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
                cx.app
                    .on_acked(c, &mut ConnHandle { tcb: &mut *tcb }, entry.writer);
            }
        }
        // Retransmission timer: stop when all is acknowledged, else restart.
        if self.slots[idx].tcb.snd_una == self.slots[idx].tcb.snd_max {
            self.cancel_timer(idx, TimerKind::Retransmit);
        } else if restart_timer {
            self.restart_rto(idx, cx.now);
        }
        // RFC 6675: an ACK that also SACKs new data counts as a duplicate.
        if newly_sacked {
            self.sack_duplicate(idx);
        }
    }

    /// Marks that the first unacknowledged segment must be resent by the
    /// next output (fast retransmit, NewReno partial ACK).
    fn pending_retransmit(&mut self, idx: usize) {
        let tcb = &mut self.slots[idx].tcb;
        tcb.persist = false;
        tcb.retransmit_now = true;
    }

    /// A duplicate ACK (RFC 5681 §2; with SACK, RFC 6675's "newly SACKs
    /// data"): count it, and enter fast retransmit/fast recovery at the
    /// third.
    fn duplicate_ack(&mut self, idx: usize, seg: &Segment) {
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
    fn sack_duplicate(&mut self, idx: usize) {
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
    fn process_data<A: App<Conn = C, Writer = W>, D: Driver>(
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
        let window_end = tcb.rcv_nxt.wrapping_add(budget);
        let mut fin_here = fin;
        if seq.wrapping_add(len) > window_end {
            len = if seq < window_end {
                dist(window_end, seq)
            } else {
                0
            };
            fin_here = false;
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
                        |released| cx.driver.release(released),
                    );
                    match outcome {
                        InsertOutcome::Stored { .. } => counters.ooo_segments += 1,
                        InsertOutcome::Rejected { frame: f, .. } => {
                            counters.drop(DropReason::TcpOooDropped);
                            cx.driver.release(f);
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
                if let Some(c) = slot.conn.as_mut() {
                    cx.app
                        .on_data(c, &mut ConnHandle { tcb: &mut slot.tcb }, data);
                }
            }
        } else if !fin_here && seg.seq() < slot.tcb.rcv_nxt {
            // Entirely old: a duplicate.
            slot.tcb.ack_now = true;
        }
        // Deliver what the new data made contiguous.
        let tcb = &mut slot.tcb;
        while !tcb.abort_requested {
            let Some(ready) = ooo.pop_ready(&mut tcb.ooo, tcb.rcv_nxt, |released| {
                cx.driver.release(released)
            }) else {
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
                cx.app.on_data(c, &mut ConnHandle { tcb: &mut *tcb }, data);
            }
            cx.driver.release(ready.frame);
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
    fn remote_fin<A: App<Conn = C, Writer = W>, D>(&mut self, cx: &mut Ctx<'_, A, D>, idx: usize) {
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
            cx.app
                .on_remote_close(c, &mut ConnHandle { tcb: &mut slot.tcb });
        }
        if time_wait {
            // Acknowledge the FIN before the TCB goes.
            self.slots[idx].tcb.ack_now = true;
            self.pending_time_wait(idx);
        }
    }

    /// Marks a connection to enter TIME-WAIT once its final ACK is out.
    fn pending_time_wait(&mut self, idx: usize) {
        self.slots[idx].tcb.enter_time_wait = true;
    }

    /// What happens after every event on a connection: the application's
    /// abort, then output (data, FIN, and the ACK they carry), a pure ACK
    /// if one is still owed, TIME-WAIT, and the delayed-ACK timer.
    fn after_event<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
    ) {
        let tcb = &self.slots[idx].tcb;
        if tcb.state == State::Closed {
            return;
        }
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
            self.schedule(idx, TimerKind::DelayedAck, at);
        }
        // The idle timer: keepalive, and the FIN-WAIT-2 timeout.
        let idle = match self.slots[idx].tcb.state {
            State::SynSent => None,
            State::FinWait2 => self.config.fin_wait2_timeout.or(self.config.keepalive),
            _ => self.config.keepalive,
        };
        if let Some(idle) = idle {
            if self.slots[idx].tcb.keepalive_timer.is_none() {
                self.schedule(idx, TimerKind::Keepalive, cx.now + idle);
            }
        }
    }

    // ------------------------------------------------------------------
    // Output

    /// Sends what the windows allow: a pending retransmission, new data,
    /// and the FIN after the last byte.
    fn output<A, D: Driver>(&mut self, cx: &mut Ctx<'_, A, D>, idx: usize) {
        let nagle = self.config.nagle;
        let tcb = &mut self.slots[idx].tcb;
        if matches!(
            tcb.state,
            State::Closed | State::SynSent | State::SynReceived
        ) {
            return;
        }
        if tcb.close_requested && !tcb.fin_sent {
            tcb.state = match tcb.state {
                State::Established => State::FinPending,
                State::CloseWait => State::CloseWaitFinPending,
                other => other,
            };
        }
        if tcb.retransmit_now {
            tcb.retransmit_now = false;
            let seq = tcb.snd_una;
            self.send_data(cx, idx, seq, u32::MAX);
        }
        // SACK-based recovery (RFC 6675 §5 (C)): NextSeg() chooses holes,
        // then new data, while cwnd - pipe allows a segment.
        if self.slots[idx].tcb.sack && self.slots[idx].tcb.cc.in_recovery() {
            loop {
                let tcb = &self.slots[idx].tcb;
                let pipe = tcb
                    .scoreboard
                    .pipe(tcb.snd_una, tcb.snd_max, tcb.high_rxt, tcb.smss);
                if tcb.cc.sack_send_allowance(pipe) < tcb.smss {
                    break;
                }
                let data_end = tcb.data_end();
                let unsent = if tcb.snd_max < data_end {
                    dist(data_end, tcb.snd_max)
                } else {
                    0
                };
                let peer_room = tcb.snd_wnd.saturating_sub(dist(tcb.snd_max, tcb.snd_una));
                let sendable_new = unsent.min(peer_room);
                let Some(next) = tcb.scoreboard.next_seg(
                    tcb.snd_una,
                    tcb.snd_max,
                    tcb.high_rxt,
                    Some(tcb.snd_max),
                    tcb.smss,
                    sendable_new,
                ) else {
                    break;
                };
                if !self.send_data(cx, idx, next.seq, next.len) {
                    break;
                }
                let tcb = &mut self.slots[idx].tcb;
                // The optional rescue retransmission (rule 4) is not used:
                // `rescue_rxt = snd_max` keeps it ineligible.
                if matches!(next.kind, NextSegKind::Lost | NextSegKind::Unsacked) {
                    tcb.high_rxt = tcb.high_rxt.max(next.end());
                }
            }
            return;
        }
        loop {
            let tcb = &self.slots[idx].tcb;
            let data_end = tcb.data_end();
            let unsent = if tcb.snd_nxt < data_end {
                dist(data_end, tcb.snd_nxt)
            } else {
                0
            };
            let fin_needed = tcb.close_requested && tcb.snd_nxt <= data_end;
            let window = tcb.snd_wnd.min(tcb.cc.window());
            let in_flight = tcb.in_flight();
            let usable = window.saturating_sub(in_flight);
            if unsent > 0 {
                if usable == 0 {
                    if tcb.snd_wnd == 0 && in_flight == 0 && tcb.rto_timer.is_none() {
                        self.slots[idx].tcb.persist = true;
                        self.arm_rto(idx, cx.now);
                    }
                    break;
                }
                let len = unsent.min(usable).min(tcb.smss);
                if nagle && len < tcb.smss && in_flight > 0 {
                    break;
                }
                let seq = tcb.snd_nxt;
                if self.send_data(cx, idx, seq, len) {
                    continue;
                }
                break;
            }
            if fin_needed {
                let seq = tcb.snd_nxt;
                if self.send_data(cx, idx, seq, 0) {
                    continue;
                }
                break;
            }
            break;
        }
    }

    /// Sends (or resends) the data at `seq`, at most `max_len` bytes and one
    /// MSS, with the FIN if it ends at our FIN. Moves `snd_nxt` forward.
    /// Returns whether a segment went out (false when there was nothing to
    /// send or no buffer; the retransmission timer then retries).
    fn send_data<A, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
        seq: TcpSeqNumber,
        max_len: u32,
    ) -> bool {
        let tcb = &self.slots[idx].tcb;
        let data_end = tcb.data_end();
        let available = if seq < data_end {
            dist(data_end, seq)
        } else {
            0
        };
        // SACK blocks take room from the payload (RFC 6691: options and
        // data together stay within the MSS).
        let sack_room = if tcb.sack && !tcb.ooo.is_empty() {
            4 + 8 * self.ooo.blocks(&tcb.ooo).take(3).count() as u32
        } else {
            0
        };
        let len = available
            .min(max_len)
            .min(tcb.smss.saturating_sub(sack_room).max(1));
        let fin = tcb.close_requested && seq.wrapping_add(len) == data_end;
        if len == 0 && !fin {
            return false;
        }
        let retransmission = seq < tcb.snd_max;
        let mut flags = if fin {
            TcpFlags::FIN
        } else {
            TcpFlags::empty()
        };
        if len > 0 && seq.wrapping_add(len) == data_end {
            flags |= TcpFlags::PSH;
        }
        if !self.send_segment(cx, idx, seq, len, flags) {
            self.arm_rto(idx, cx.now);
            return false;
        }
        let tcb = &mut self.slots[idx].tcb;
        let seq_end = seq.wrapping_add(len + u32::from(fin));
        if retransmission {
            self.counters.retransmits += 1;
            tcb.sampler.on_retransmit();
        }
        tcb.sampler.on_send(seq_end, cx.now, retransmission);
        if seq_end > tcb.snd_nxt {
            tcb.snd_nxt = seq_end;
        }
        if seq_end > tcb.snd_max {
            tcb.snd_max = seq_end;
        }
        if fin && !tcb.fin_sent {
            tcb.fin_sent = true;
            tcb.state = match tcb.state {
                State::Established | State::FinPending => State::FinWait1,
                State::CloseWait | State::CloseWaitFinPending => State::LastAck,
                other => other,
            };
        }
        if len > 0 {
            self.counters.bytes_sent += u64::from(len);
        }
        if self.slots[idx].tcb.rto_timer.is_none() {
            self.arm_rto(idx, cx.now);
        }
        true
    }

    /// A pure ACK (also our answer to unacceptable segments).
    fn send_ack<A, D: Driver>(&mut self, cx: &mut Ctx<'_, A, D>, idx: usize) {
        // SND.MAX, not SND.NXT: after a timeout SND.NXT goes back to
        // SND.UNA, and an ACK carrying that old number would be below the
        // peer's RCV.NXT (Linux, which never moves SND.NXT back, does the
        // same).
        let seq = self.slots[idx].tcb.snd_max;
        self.send_segment(cx, idx, seq, 0, TcpFlags::empty());
    }

    /// Our SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED), with options.
    fn send_syn<A, D: Driver>(&mut self, cx: &mut Ctx<'_, A, D>, idx: usize) {
        let config = &self.config;
        let tcb = &self.slots[idx].tcb;
        let active = tcb.state == State::SynSent;
        let shift = config.window_shift();
        let repr = TcpRepr {
            src_port: tcb.local.1,
            dst_port: tcb.remote.1,
            flags: TcpFlags::SYN,
            seq_number: tcb.iss,
            ack_number: (!active).then_some(tcb.rcv_nxt),
            window_len: config.rx_budget.min(0xffff) as u16,
            window_scale: if active {
                config.window_scaling.then_some(shift)
            } else {
                tcb.wscale_ok.then_some(tcb.rcv_shift)
            },
            max_seg_size: Some(self.mss),
            sack_permitted: if active { config.sack } else { tcb.sack },
            sack_ranges: [None; 3],
            timestamp: if active {
                config.timestamps.then_some((ts_value(cx.now), 0))
            } else {
                tcb.timestamps.then_some((ts_value(cx.now), tcb.ts_recent))
            },
            payload: &[],
        };
        let dst = tcb.remote.0;
        let retransmission = tcb.snd_max != tcb.iss;
        if self.send_control(cx, dst, &repr) {
            let tcb = &mut self.slots[idx].tcb;
            if retransmission {
                self.counters.retransmits += 1;
                tcb.sampler.on_retransmit();
            }
            tcb.sampler
                .on_send(tcb.iss.wrapping_add(1), cx.now, retransmission);
            tcb.snd_nxt = tcb.iss.wrapping_add(1);
            tcb.snd_max = tcb.snd_nxt;
            tcb.last_ack_sent = tcb.rcv_nxt;
            tcb.rcv_adv = tcb.rcv_nxt.wrapping_add(u32::from(repr.window_len));
        }
    }

    /// Builds and transmits one segment of connection `idx`: header from
    /// the TCB, payload `[seq, seq + len)` from the transmit queue's
    /// writers, checksummed from their precomputed sums when they have them.
    fn send_segment<A, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
        seq: TcpSeqNumber,
        len: u32,
        flags: TcpFlags,
    ) -> bool {
        let Tcp {
            slots,
            ooo,
            config,
            timers,
            counters,
            local_ip,
            ..
        } = self;
        let tcb = &mut slots[idx].tcb;
        let window = tcb.rcv_window(config);
        let mut sack_ranges = [None; 3];
        if tcb.sack && !tcb.ooo.is_empty() {
            let mut blocks = [(TcpSeqNumber(0), TcpSeqNumber(0)); 3];
            let n = ooo.sack_blocks(&tcb.ooo, &mut blocks);
            for (slot, (l, r)) in sack_ranges.iter_mut().zip(blocks.iter().take(n)) {
                *slot = Some((l.0, r.0));
            }
        }
        let repr = TcpRepr {
            src_port: tcb.local.1,
            dst_port: tcb.remote.1,
            flags,
            seq_number: seq,
            ack_number: Some(tcb.rcv_nxt),
            window_len: (window >> tcb.rcv_shift).min(0xffff) as u16,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges,
            timestamp: tcb.timestamps.then_some((ts_value(cx.now), tcb.ts_recent)),
            payload: &[],
        };
        let header_len = repr.header_len();
        let src = *local_ip;
        let dst = tcb.remote.0;
        let data_offset = if len > 0 {
            dist(seq, tcb.txq_seq) as usize
        } else {
            0
        };
        let txq = &tcb.txq;
        let sent = cx.iface.send_ipv4(
            cx.driver,
            cx.now,
            dst,
            IpProtocol::Tcp,
            header_len + len as usize,
            |out| {
                let (mut header, mut payload) = out.split_at(header_len);
                let mut sum = Checksum::new();
                let mut skip = data_offset;
                let mut left = len as usize;
                for entry in txq.iter() {
                    if left == 0 {
                        break;
                    }
                    let entry_len = entry.len as usize;
                    if skip >= entry_len {
                        skip -= entry_len;
                        continue;
                    }
                    let n = (entry_len - skip).min(left);
                    {
                        let mut piece = payload.take(n);
                        entry.writer.write(skip, &mut piece);
                    }
                    match entry.writer.sum(skip, n) {
                        Some(partial) => sum.add_partial(partial, n),
                        None => payload.take(n).add_to_checksum(&mut sum),
                    }
                    payload.advance(n)?;
                    left -= n;
                    skip = 0;
                }
                header.write_with(header_len, |b| {
                    let written = repr.emit_header(b);
                    debug_assert!(written.is_ok());
                    let checksum = tcp_wire::tcp_checksum(src, dst, b, sum.sum(), len as usize);
                    b[16..18].copy_from_slice(&checksum.to_be_bytes());
                })?;
                Ok(())
            },
        );
        if sent.is_err() {
            return false;
        }
        counters.segments_out += 1;
        tcb.last_ack_sent = tcb.rcv_nxt;
        let edge = tcb.rcv_nxt.wrapping_add(window);
        if edge > tcb.rcv_adv {
            tcb.rcv_adv = edge;
        }
        tcb.ack_now = false;
        tcb.ack_pending = false;
        tcb.unacked_segments = 0;
        if let Some(id) = tcb.delack_timer.take() {
            timers.cancel(id);
        }
        true
    }

    /// A segment built from `repr` alone (SYNs, resets, TIME-WAIT ACKs).
    fn send_control<A, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        dst: Ipv4Addr,
        repr: &TcpRepr<'_>,
    ) -> bool {
        let src = self.local_ip;
        let header_len = repr.header_len();
        let sent = cx.iface.send_ipv4(
            cx.driver,
            cx.now,
            dst,
            IpProtocol::Tcp,
            header_len,
            |mut out| {
                out.write_with(header_len, |b| {
                    let written = repr.emit_header(b);
                    debug_assert!(written.is_ok());
                    let checksum = tcp_wire::tcp_checksum(src, dst, b, 0, 0);
                    b[16..18].copy_from_slice(&checksum.to_be_bytes());
                })?;
                Ok(())
            },
        );
        if sent.is_ok() {
            self.counters.segments_out += 1;
        }
        sent.is_ok()
    }

    /// A reset for `key`: `<SEQ=seq><CTL=RST>`, with an ACK when `ack` is given.
    fn send_rst<A, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        key: FlowKey,
        seq: TcpSeqNumber,
        ack: Option<TcpSeqNumber>,
    ) {
        let repr = TcpRepr {
            src_port: key.local_port,
            dst_port: key.remote_port,
            flags: TcpFlags::RST,
            seq_number: seq,
            ack_number: ack,
            window_len: 0,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload: &[],
        };
        if self.send_control(cx, key.remote_addr, &repr) {
            self.counters.resets_sent += 1;
        }
    }

    // ------------------------------------------------------------------
    // Timers

    fn schedule(&mut self, idx: usize, kind: TimerKind, at: Instant) {
        let key = TimerKey {
            slot: idx as u32,
            generation: self.slots[idx].generation,
            kind,
        };
        let Ok(id) = self.timers.schedule(at, key) else {
            self.counters.timer_overflow += 1;
            return;
        };
        let tcb = &mut self.slots[idx].tcb;
        let field = tcb.timer_mut(kind);
        if let Some(old) = field.replace(id) {
            self.timers.cancel(old);
        }
    }

    fn cancel_timer(&mut self, idx: usize, kind: TimerKind) {
        let tcb = &mut self.slots[idx].tcb;
        let field = tcb.timer_mut(kind);
        if let Some(id) = field.take() {
            self.timers.cancel(id);
        }
    }

    fn arm_rto(&mut self, idx: usize, now: Instant) {
        if self.slots[idx].tcb.rto_timer.is_none() {
            let at = now + self.slots[idx].tcb.rtt.rto();
            self.schedule(idx, TimerKind::Retransmit, at);
        }
    }

    fn restart_rto(&mut self, idx: usize, now: Instant) {
        let at = now + self.slots[idx].tcb.rtt.rto();
        self.schedule(idx, TimerKind::Retransmit, at);
    }

    /// A timer of connection `key.slot` fired.
    fn on_timer<A: App<Conn = C, Writer = W>, D: Driver>(
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
        }
    }

    /// RFC 6298 §5: the retransmission timer expired.
    fn retransmit_timeout<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
    ) {
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
                self.send_syn(cx, idx);
                self.arm_rto(idx, cx.now);
            }
            _ if tcb.persist => {
                // Zero-window probe: one byte beyond the window (RFC 9293
                // §3.8.6.1); the peer acknowledges it or repeats its window.
                tcb.rtt.backoff();
                tcb.retries = 0;
                self.counters.window_probes += 1;
                let seq = if tcb.in_flight() > 0 {
                    tcb.snd_una
                } else {
                    tcb.snd_nxt
                };
                self.send_data(cx, idx, seq, 1);
                self.arm_rto(idx, cx.now);
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
                self.arm_rto(idx, cx.now);
                if self.slots[idx].tcb.ack_now {
                    self.send_ack(cx, idx);
                }
            }
        }
    }

    /// Keepalive (RFC 9293 §3.8.4): probe an idle connection.
    fn keepalive_timeout<A: App<Conn = C, Writer = W>, D: Driver>(
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
                    self.schedule(idx, TimerKind::Keepalive, last + limit);
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
            self.schedule(idx, TimerKind::Keepalive, at);
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
        self.schedule(idx, TimerKind::Keepalive, cx.now + interval);
    }

    /// Drops TIME-WAIT entries whose time is up.
    fn expire_time_wait(&mut self, now: Instant) -> bool {
        let mut worked = false;
        while let Some(entry) = self.time_wait.pop_expired(now, false) {
            worked = true;
            if entry.live {
                self.table.remove(&entry.key);
            }
        }
        worked
    }

    // ------------------------------------------------------------------
    // Connection life cycle

    fn key_of(&self, idx: usize) -> FlowKey {
        let tcb = &self.slots[idx].tcb;
        FlowKey {
            remote_addr: tcb.remote.0,
            remote_port: tcb.remote.1,
            local_port: tcb.local.1,
        }
    }

    fn alloc_slot(&mut self) -> Option<usize> {
        self.free.pop().map(|i| i as usize)
    }

    /// Opens a connection (active open).
    fn connect<A, D: Driver>(
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
        let inserted = self.table.insert(key, Entry::Conn(idx as u32));
        debug_assert!(inserted.is_ok());
        self.active += 1;
        self.counters.connect_attempts += 1;
        self.send_syn(cx, idx);
        self.arm_rto(idx, cx.now);
        Ok(id)
    }

    /// Both sides closed and our FIN acknowledged: keep the 4-tuple in
    /// TIME-WAIT (compactly) and free the slot.
    fn enter_time_wait<A: App<Conn = C, Writer = W>, D: Driver>(
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
                        self.table.remove(&old.key);
                    }
                    self.counters.time_wait_evicted += 1;
                }
            }
            let entry = TimeWaitEntry {
                key,
                snd_nxt: tcb.snd_nxt,
                rcv_nxt: tcb.rcv_nxt,
                window: (tcb.rcv_window(&self.config) >> tcb.rcv_shift).min(0xffff) as u16,
                ts_recent: tcb.timestamps.then_some(tcb.ts_recent),
                expires: cx.now + wait,
                live: true,
            };
            let id = self.time_wait.push(entry);
            // Replaces the connection's entry in the table.
            let replaced = self.table.insert(key, Entry::TimeWait(id));
            debug_assert!(replaced.is_ok());
        }
        self.counters.connections_closed += 1;
        let conn = self.slots[idx].conn.take();
        self.release_slot(cx, idx, wait == Duration::ZERO);
        if let Some(c) = conn {
            cx.app.on_close(c);
        }
    }

    /// A graceful close completed (LAST-ACK acknowledged).
    fn close_conn<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
    ) {
        self.end_conn(cx, idx, false);
    }

    /// The connection was reset (by the peer, a timeout, or `abort`).
    fn reset_conn<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
    ) {
        self.end_conn(cx, idx, true);
    }

    /// Frees the slot, then hands the application its state back through
    /// `on_reset` or `on_close`.
    fn end_conn<A: App<Conn = C, Writer = W>, D: Driver>(
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
        match conn {
            Some(c) if reset => cx.app.on_reset(c),
            Some(c) => cx.app.on_close(c),
            None => {}
        }
    }

    /// Frees a slot and its table entry.
    fn free_slot<A, D: Driver>(&mut self, cx: &mut Ctx<'_, A, D>, idx: usize) {
        self.release_slot(cx, idx, true);
    }

    fn release_slot<A, D: Driver>(&mut self, cx: &mut Ctx<'_, A, D>, idx: usize, remove_key: bool) {
        let key = self.key_of(idx);
        for kind in [
            TimerKind::Retransmit,
            TimerKind::DelayedAck,
            TimerKind::Keepalive,
        ] {
            self.cancel_timer(idx, kind);
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
        ooo.clear(&mut slot.tcb.ooo, |f| cx.driver.release(f));
        if slot.tcb.in_syn_queue {
            if let Some(l) = slot
                .tcb
                .listener
                .and_then(|p| listeners.iter_mut().find(|l| l.port == p))
            {
                l.syn_queue = l.syn_queue.saturating_sub(1);
            }
        }
        if remove_key && table.get(&key) == Some(Entry::Conn(idx as u32)) {
            table.remove(&key);
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
