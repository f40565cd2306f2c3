//! The per-core stack: an [`Interface`] (Ethernet, ARP, IPv4, ICMP) with
//! TCP and one application on top.
//!
//! [`Stack::poll`] is the whole event loop of a core: it runs expired
//! timers, receives every frame the driver holds, dispatches TCP segments
//! to their connection (an O(1) table lookup), calls the application's
//! handlers, and sends what they queued. Everything — connection slots,
//! transmit queues, out-of-order storage, timers, TIME-WAIT entries — is
//! sized at construction; steady-state traffic allocates nothing.
//!
//! The TCP engine is split along its seams, all methods of one private
//! `Tcp` type that every event borrows together with a `context` (the
//! application, the interface, the driver and the time):
//! * this module — the [`Stack`] type, its constructor and public API,
//!   polling, receiving and the batched ACKs;
//! * `demux` — where a segment goes: connection lookup, listeners, SYNs
//!   and SYN cookies, TIME-WAIT, frames of other cores, resets;
//! * `input` — a segment on a connection: checks, ACK processing and loss
//!   recovery, data and reassembly, FIN, what follows every event;
//! * `output` — the output loop and the segments it builds;
//! * `timers` — retransmission, delayed-ACK and keepalive timers, and
//!   TIME-WAIT expiry;
//! * `conn` — connection slots: opening a TCB, active opens, and the ends
//!   of a connection.

mod check;
pub use self::check::StackViolation;
pub use self::conn::MIN_PEER_MSS;
mod conn;
mod context;
mod demux;
mod input;
mod output;
mod timers;

use std::collections::VecDeque;

use arrayvec::ArrayVec;

use crate::iface::{IfaceEvent, Interface, InterfaceConfig};
use crate::mem::buf::Frame;
use crate::mem::timer::TimerWheel;
use crate::meter::CostMeter;
use crate::nic::{Capabilities, Driver, FlowSteering, QueueId};
use crate::stats::{DropReason, TcpCounters};
use crate::tcp::ack_limit::AckLimiter;
use crate::tcp::app::{App, Conn, ConnId, Connect};
use crate::tcp::config::TcpConfig;
use crate::tcp::isn::{EphemeralPorts, IsnGenerator, Secret, SynCookies};
use crate::tcp::reassembly::SegmentPool;
use crate::tcp::table::FlowTable;
use crate::tcp::tcb::{State, Tcb, TimerKey};
use crate::tcp::time_wait::TimeWaitRing;
use crate::time::Instant;
use crate::wire::{IpProtocol, Ipv4Addr, TcpSeqNumber};

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

impl core::fmt::Display for ListenError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ListenError::InUse => "already listening on that port",
            ListenError::TooMany => "too many listening ports",
            ListenError::InvalidPort => "cannot listen on port 0",
        })
    }
}

impl std::error::Error for ListenError {}

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

impl core::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ConnectError::TableFull => "no free connection slot",
            ConnectError::NoPort => "no free ephemeral port for that destination",
            ConnectError::Unreachable => "destination unreachable (no route)",
            ConnectError::InvalidAddress => "invalid destination (port 0 or our own address)",
        })
    }
}

impl std::error::Error for ConnectError {}

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
    /// The NIC sends reference slots ([`Capabilities::tx_references`]).
    tx_references: bool,
    time_wait: TimeWaitRing,
    isn: IsnGenerator,
    cookies: SynCookies,
    ports: EphemeralPorts,
    counters: TcpCounters,
    stray: VecDeque<Frame>,
    /// Connections owed an ACK for in-order data of the current receive
    /// batch, acknowledged once when the batch ends (see [`Stack::poll`]).
    ack_batch: Vec<u32>,
    /// Rate limits of ACKs to unacceptable segments.
    ack_limiter: AckLimiter,
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
        let mut config = config;
        // Hold at most half of the receive buffers out of order.
        if let Some(buffers) = caps.rx_buffers {
            let share = (buffers / 2).max(1);
            config.ooo_pool_segments = config.ooo_pool_segments.min(share);
            config.ooo_max_segments = config
                .ooo_max_segments
                .min(u16::try_from(share).unwrap_or(u16::MAX));
        }
        // Advertise only what the out-of-order store can hold in full-sized
        // segments (no reneging on SACKed data, see `tcp::reassembly`).
        let storable = u32::from(config.ooo_max_segments).saturating_mul(u32::from(mss));
        config.rx_budget = config.rx_budget.min(storable.max(u32::from(mss)));
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
            // Four timers per connection (retransmission, delayed ACK,
            // keepalive, the app's), and some room.
            timers: TimerWheel::new(max * 4 + 16, config.timer_tick, now),
            ooo: SegmentPool::new(u32::try_from(config.ooo_pool_segments).unwrap_or(u32::MAX)),
            queue: caps.queue,
            steering: caps.steering.clone(),
            tx_references: caps.tx_references,
            time_wait: TimeWaitRing::new(config.time_wait_capacity),
            isn: IsnGenerator::new(secret.derive(b"isn")),
            cookies: SynCookies::new(secret.derive(b"cookies")),
            ports,
            counters: TcpCounters::default(),
            stray: VecDeque::with_capacity(256),
            ack_batch: Vec::with_capacity(max),
            ack_limiter: AckLimiter::new(config.invalid_ack_interval, config.challenge_ack_limit),
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

    /// The cost meter: the operations this stack (one core's instance on
    /// one port) did so far, to be priced by a cost model (see
    /// [`crate::meter`]). Counting never changes what the stack does.
    pub fn meter(&self) -> &CostMeter {
        self.iface.meter()
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

    /// Bytes of one connection slot: the TCB with its transmit queue and
    /// the app's per-connection state (a cost model's working set per
    /// connection; received and transmit buffers are the driver's).
    pub fn connection_slot_bytes(&self) -> usize {
        core::mem::size_of::<Slot<A::Conn, A::Writer>>()
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
    /// half-open connections (beyond it, SYN cookies if enabled). The
    /// queue holds at most half of the connection slots, so half-open
    /// connections (a SYN flood's) never take the slots that completed
    /// handshakes (a cookie's final ACK among them) need.
    pub fn listen(&mut self, port: u16, backlog: usize) -> Result<(), ListenError> {
        let backlog = backlog.min((self.tcp.config.max_connections / 2).max(1));
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

    /// Acts on connection `id` from outside a handler (a server pushing
    /// data, a timeout decided by the owner): `f` gets the application, the
    /// connection's state and its handle, as a handler would, and what it
    /// queued is carried out at once on `driver` (data, FIN, RST, the app
    /// timer), as after any event. `now` is the current time. `None`, and
    /// `f` is not called, if the connection no longer exists (its id is
    /// stale) or has no application state yet (a half-open passive open).
    ///
    /// ```
    /// # use rusty_stack::{App, Conn, Stack, StaticWriter, TcpConfig};
    /// # use rusty_stack::iface::InterfaceConfig;
    /// # use rusty_stack::mem::cursor::Cursor;
    /// # use rusty_stack::nic::pair::{pair, PairConfig};
    /// # use rusty_stack::tcp::ConnId;
    /// # use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr};
    /// # use rusty_stack::{Driver, Instant};
    /// struct Quiet;
    /// impl App for Quiet {
    ///     type Conn = ();
    ///     type Writer = StaticWriter;
    ///     fn accept(&mut self, _: u16, _: &mut Conn<'_, StaticWriter>) -> Option<()> { Some(()) }
    ///     fn on_data(&mut self, _: &mut (), _: &mut Conn<'_, StaticWriter>, _: Cursor<'_>) {}
    /// }
    /// let (mut driver, _peer) = pair(&PairConfig::default());
    /// let iface = InterfaceConfig::new(Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 1), 24).unwrap());
    /// let mut stack = Stack::new(&driver.capabilities(), iface, TcpConfig::default(), Quiet, Instant::ZERO);
    /// let stale = ConnId { index: 0, generation: 7 };
    /// let pushed = stack.with_conn(&mut driver, Instant::ZERO, stale, |_app, _state, conn| {
    ///     conn.send(5, StaticWriter(b"hello"))
    /// });
    /// assert!(pushed.is_none(), "no such connection");
    /// ```
    pub fn with_conn<D: Driver, R>(
        &mut self,
        driver: &mut D,
        now: Instant,
        id: ConnId,
        f: impl FnOnce(&mut A, &mut A::Conn, &mut Conn<'_, A::Writer>) -> R,
    ) -> Option<R> {
        let (tcp, mut cx) = self.split(driver, now);
        let idx = id.index as usize;
        let slot = tcp.slots.get_mut(idx)?;
        if slot.generation != id.generation || slot.tcb.state == State::Closed {
            return None;
        }
        let c = slot.conn.as_mut()?;
        slot.tcb.now = now;
        let r = f(cx.app, c, &mut Conn::new(&mut slot.tcb));
        tcp.after_app_event(&mut cx, idx);
        Some(r)
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

    /// Runs timers due at `now`, then receives and processes the frames
    /// the driver holds (at most [`InterfaceConfig::poll_budget`] of them;
    /// the rest wait for the next poll), acknowledges the batch, then lets
    /// the application open connections. Returns whether anything was done:
    /// a caller polls again while it does (with a fresh `now`).
    ///
    /// With many connections ([`TcpConfig::prefetch_min_slot_bytes`]) the
    /// frames are taken from the driver eight at a time, and the flow-table
    /// buckets and connection slots of each group are asked of the memory
    /// before its first frame is processed; the frames are processed in the
    /// same order and the driver called as often as one at a time.
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
        self.iface.meter_mut().polls += 1;
        let mut worked = self.poll_timers(driver, now);
        let budget = self.iface.config().poll_budget.max(1);
        let ahead = self
            .tcp
            .active
            .saturating_mul(core::mem::size_of::<Slot<A::Conn, A::Writer>>())
            >= self.tcp.config.prefetch_min_slot_bytes;
        if ahead {
            worked |= self.receive_grouped(driver, budget, now);
        } else {
            for _ in 0..budget {
                self.iface.meter_mut().driver_receives += 1;
                let Some(frame) = driver.receive() else {
                    break;
                };
                worked = true;
                self.receive(driver, frame, now);
            }
        }
        self.flush_acks(driver, now);
        let worked = worked | self.poll_connects(driver, now);
        self.tcp.debug_check_all();
        worked
    }

    /// [`Stack::poll`]'s receive loop with many connections: frames are
    /// taken from the driver in groups, and the connection state a group
    /// will touch first is asked of the memory before the first frame is
    /// processed ([`Tcp::prefetch_connections`]), so that those misses
    /// overlap instead of following one another frame by frame. The
    /// frames are processed in the order received, and the driver is
    /// called as often, as one at a time would. Returns whether a frame
    /// came.
    fn receive_grouped<D: Driver>(&mut self, driver: &mut D, budget: usize, now: Instant) -> bool {
        let mut group = ArrayVec::<Frame, RX_GROUP>::new();
        let mut left = budget;
        let mut worked = false;
        loop {
            let mut drained = false;
            while group.len() < RX_GROUP.min(left) {
                self.iface.meter_mut().driver_receives += 1;
                match driver.receive() {
                    Some(frame) => group.push(frame),
                    None => {
                        drained = true;
                        break;
                    }
                }
            }
            if group.len() > 1 {
                self.tcp.prefetch_connections(&group);
            }
            left -= group.len();
            worked |= !group.is_empty();
            for frame in group.drain(..) {
                self.receive(driver, frame, now);
            }
            if drained || left == 0 {
                return worked;
            }
        }
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
        // Borrowed where it was returned, not moved: the interface wrote it
        // field by field, and a move reloads it in wide pieces that miss
        // store-to-load forwarding (`perf annotate` put a fifth of `poll`'s
        // samples on such copies).
        let datagram = cx.iface.process(cx.driver, &frame, now);
        match &datagram {
            Some(dg) if dg.ip.protocol == IpProtocol::Tcp => tcp.input(&mut cx, frame, dg),
            Some(_) => {
                cx.iface
                    .counters_mut()
                    .drop(DropReason::Ipv4UnknownProtocol);
                cx.release(frame);
            }
            None => cx.release(frame),
        }
    }

    /// Runs the interface's and TCP's timers due at `now`.
    pub fn poll_timers<D: Driver>(&mut self, driver: &mut D, now: Instant) -> bool {
        let (tcp, mut cx) = self.split(driver, now);
        let mut worked = cx.iface.poll_timers(cx.driver, now);
        worked |= tcp.expire_time_wait(cx.iface.meter_mut(), now);
        while let Some((id, key)) = tcp.timers.pop_expired(now) {
            cx.iface.meter_mut().timer_expiries += 1;
            worked = true;
            tcp.on_timer(&mut cx, id, key);
            tcp.debug_check_conn(key.slot as usize);
        }
        worked
    }

    fn poll_connects<D: Driver>(&mut self, driver: &mut D, now: Instant) -> bool {
        let mut worked = false;
        while !self.tcp.free.is_empty() {
            self.iface.meter_mut().app_calls += 1;
            let Some(Connect { addr, port, state }) = self.app.next_connect(now) else {
                break;
            };
            worked = true;
            if let Err((_, state)) = self.connect(driver, now, addr, port, state) {
                self.iface.meter_mut().app_calls += 1;
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

/// Frames [`Stack::poll`] takes from the driver at a time before
/// processing them (see [`Tcp::prefetch_connections`]).
const RX_GROUP: usize = 8;

/// What the timestamp option should carry at `now`.
fn ts_value(now: Instant) -> u32 {
    now.as_millis() as u32
}
