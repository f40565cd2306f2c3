//! Simulated hosts.
//!
//! A host owns NIC ports and cores. The world hands it frames as they
//! arrive on a port ([`HostModel::deliver`]) and runs a core when it is
//! due ([`HostModel::run_core`]); the core's work costs virtual time
//! according to the host's [`CostModel`], and the frames it sends leave
//! when that work is done.
//!
//! [`RustyHost`] runs one Rusty [`Stack`] per core and port, share-nothing:
//! each core has its own receive queue and buffer pool on every port, and
//! the only thing cores exchange is ARP mappings, through bounded
//! single-producer single-consumer rings (one per core pair).

use std::collections::VecDeque;

use rusty_stack::iface::{IfaceEvent, InterfaceConfig};
use rusty_stack::mem::buf::PoolConfig;
use rusty_stack::meter::CostMeter;
use rusty_stack::stats::{IfaceCounters, TcpCounters};
use rusty_stack::tcp::{App, TcpConfig};
use rusty_stack::time::{Duration, Instant};
use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr, MacAddr};
use rusty_stack::Stack;

use crate::hosts::cost::memory::MemoryLoad;
use crate::hosts::cost::{Charge, CoreLoad, CostModel, Pricer};
use crate::hosts::faults::{HostFaultCounters, HostFaultState, HostFaults, NicFaultState};
use crate::kernel::check::{Checker, Violation};
use crate::kernel::rng::{core_port_index, Seeds};
use crate::net::nic::NicStats;
use crate::net::nic_port::{NicKind, NicPort, NicSpec};
use crate::scenario::workload::{AppStats, ClientStats};

/// What running a core produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreRun {
    /// When the core's work is done (its frames leave then).
    pub busy_until: Instant,
    /// When the core next has work, if it knows (timers, queued frames).
    pub wake_at: Option<Instant>,
}

/// Per-core statistics for reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoreStats {
    /// Virtual time the core spent busy.
    pub busy: Duration,
    /// Frames it received.
    pub rx_frames: u64,
    /// Frames it sent.
    pub tx_frames: u64,
}

/// Spare frame buffers kept by an [`Outbox`]: enough for every frame a
/// busy world has in flight at once, so steady state allocates nothing.
const SPARE_BUFFERS: usize = 1 << 16;

/// The frames a core run sends, as `(port, bytes)`, and spare buffers to
/// copy them into: frames that arrived are recycled here, so the world's
/// frame path reuses its buffers instead of allocating one per frame.
#[derive(Debug, Default)]
pub struct Outbox {
    frames: Vec<(usize, Vec<u8>)>,
    spare: Vec<Vec<u8>>,
}

impl Outbox {
    /// An empty buffer to build a frame in (recycled when one is spare).
    pub fn buffer(&mut self) -> Vec<u8> {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf
    }

    /// Queues `frame` to leave on `port`.
    pub fn send(&mut self, port: usize, frame: Vec<u8>) {
        self.frames.push((port, frame));
    }

    /// Queues a copy of `bytes` to leave on `port`.
    pub fn send_copy(&mut self, port: usize, bytes: &[u8]) {
        let mut buf = self.buffer();
        buf.extend_from_slice(bytes);
        self.send(port, buf);
    }

    /// Gives a buffer that is no longer needed back for reuse.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        if self.spare.len() < SPARE_BUFFERS && buf.capacity() > 0 {
            self.spare.push(buf);
        }
    }

    /// Number of frames queued.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// No frame queued.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Takes the queued frames, in order.
    pub fn drain(&mut self) -> std::vec::Drain<'_, (usize, Vec<u8>)> {
        self.frames.drain(..)
    }
}

/// A host in the simulated network.
pub trait HostModel {
    /// Its name, for reports and logs.
    fn name(&self) -> &str;
    /// Number of cores.
    fn cores(&self) -> usize;
    /// Number of NIC ports.
    fn ports(&self) -> usize;
    /// A frame arrived on `port`: returns the core that must run for it.
    fn deliver(&mut self, port: usize, frame: &[u8], now: Instant) -> Option<usize>;
    /// Runs `core` at `now`; the frames it sends are queued in `out`, to
    /// leave at the returned `busy_until`.
    fn run_core(&mut self, core: usize, now: Instant, out: &mut Outbox) -> CoreRun;
    /// Cores that other cores sent messages to during the last run (they
    /// must run to read them), appended to `out`.
    fn take_wakeups(&mut self, out: &mut Vec<usize>) {
        let _ = out;
    }
    /// Statistics of `core`.
    fn core_stats(&self, core: usize) -> CoreStats;
    /// Interface counters of all cores, merged.
    fn iface_counters(&self) -> IfaceCounters;
    /// TCP counters of all cores, merged.
    fn tcp_counters(&self) -> TcpCounters;
    /// NIC counters of all ports, merged.
    fn nic_stats(&self) -> NicStats;
    /// Listens on `port` on every stack (servers).
    fn listen(&mut self, port: u16, backlog: usize) -> Result<(), rusty_stack::stack::ListenError> {
        let _ = (port, backlog);
        Ok(())
    }
    /// What the host's client apps did, merged; `None` for servers.
    fn client_stats(&self) -> Option<ClientStats> {
        None
    }
    /// Tells client apps to open no more connections.
    fn stop_clients(&mut self) {}
    /// The liveness phase began: the host turns off its own faults (core
    /// stalls, squeezed pools and rings, failing transmit allocations) and
    /// stops any attack. Nothing by default.
    fn heal(&mut self) {}
    /// What the host's memory held at its fullest; `None` when the host
    /// cannot say.
    fn memory(&self) -> Option<HostMemory> {
        None
    }
    /// What the host's own faults did; `None` without faults.
    fn fault_counters(&self) -> Option<HostFaultCounters> {
        None
    }
    /// What the host's work was charged by its cost profile so far (all
    /// cores); `None` for hosts without a cost meter.
    fn cost_charged(&self) -> Option<Charge> {
        None
    }
    /// Mean utilisation of the host's DRAM bandwidth from time zero to
    /// `end` (0 when its profile models no memory).
    fn memory_utilization(&self, end: Instant) -> f64 {
        let _ = end;
        0.0
    }
    /// What the host sent as an attacker; `None` for every other host.
    fn attack_counters(&self) -> Option<crate::hosts::attacker::AttackCounters> {
        None
    }
    /// Connections holding a slot (TIME-WAIT excluded), all cores and ports.
    fn active_connections(&self) -> usize {
        0
    }
    /// Those connections counted by TCP state (`"FinWait2"`, ...), for
    /// telling what a drain left behind; empty when the host cannot say.
    fn connection_states(&self) -> Vec<(String, usize)> {
        Vec::new()
    }

    /// The host's own checkers (see [`crate::kernel::check`]): buffer
    /// conservation of its pools, its stacks' invariants. None by default.
    fn check(&self) -> Result<(), Violation> {
        Ok(())
    }
}

/// One port of a Rusty host.
#[derive(Clone, Copy, Debug)]
pub struct PortSpec {
    /// The port's MAC address.
    pub mac: MacAddr,
    /// The port's address and subnet.
    pub ip: Ipv4Cidr,
}

/// Settings of a [`RustyHost`].
#[derive(Clone, Debug)]
pub struct RustyHostConfig {
    /// Name for reports.
    pub name: String,
    /// Number of cores (one stack per core and port).
    pub cores: usize,
    /// The ports.
    pub ports: Vec<PortSpec>,
    /// MTU of every port.
    pub mtu: usize,
    /// TCP settings of every stack; the secret is replaced, per stack,
    /// by one drawn from [`RustyHostConfig::seeds`].
    pub tcp: TcpConfig,
    /// The host's seeds: the stack on `(core, port)` takes its TCP secret
    /// (ISNs, SYN cookies, ephemeral ports) from stream
    /// `("tcp-secret", core_port_index(core, port))`.
    pub seeds: Seeds,
    /// Buffer pool of each core on each port.
    pub pool: PoolConfig,
    /// Receive ring size of each queue.
    pub ring: usize,
    /// Frames a core takes from its queue per run (its batch).
    pub batch: usize,
    /// What work costs.
    pub cost: CostModel,
    /// Static ARP entries every stack starts with.
    pub static_arp: Vec<(Ipv4Addr, MacAddr)>,
    /// Toeplitz key of the NIC.
    pub rss_key: [u8; 40],
    /// Whether the stacks know the NIC's flow hash; without it, ephemeral
    /// ports are partitioned by core and stray frames are forwarded.
    pub hash_known: bool,
    /// The NIC of every port.
    pub nic: NicKind,
    /// Faults of the host itself (none by default).
    pub faults: HostFaults,
}

/// What a host's memory held at its fullest, per core: its pools are
/// sized at start-up, so these say how close an attack or a fault came to
/// exhausting them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct HostMemory {
    /// Receive and transmit buffers of one core (all its ports' pools).
    pub buffers_per_core: usize,
    /// The most buffers one core had in use at the end of a run.
    pub peak_buffers_in_use: usize,
    /// Connection slots of one core (all its ports' stacks).
    pub connection_slots_per_core: usize,
    /// The most connections one core held (TIME-WAIT excluded).
    pub peak_connections: usize,
}

/// Capacity of each inter-core ARP ring.
const ARP_RING: usize = 64;

/// Capacity of each core's ring of forwarded frames.
const STRAY_RING: usize = 256;

struct Core<A: App> {
    /// One stack per port.
    stacks: Vec<Stack<A>>,
    stats: CoreStats,
    /// Mappings learned by other cores, to apply here.
    arp_inbox: VecDeque<(Ipv4Addr, MacAddr)>,
    /// Frames of this core's flows that arrived on another core: `(port, frame)`.
    stray_inbox: VecDeque<(usize, Vec<u8>)>,
    /// Open connections of this core's stacks when it last ran (a
    /// connection opens or closes only while its stack polls).
    connections: u64,
}

/// A host running Rusty stacks with application `A` on every core.
pub struct RustyHost<A: App> {
    config: RustyHostConfig,
    nics: Vec<NicPort>,
    cores: Vec<Core<A>>,
    /// Mappings dropped because a ring was full.
    arp_ring_overflow: u64,
    /// Cores with new messages in their rings.
    wakeups: Vec<usize>,
    /// Forwarded frames dropped because the owner's ring was full.
    stray_ring_overflow: u64,
    /// Frames forwarded between cores.
    strays_forwarded: u64,
    /// The host's own faults as they play out, and the NIC state they
    /// were last applied as.
    faults: HostFaultState,
    nic_faults: NicFaultState,
    memory: HostMemory,
    /// The cost profile, ready to price meter deltas.
    pricer: Pricer,
    /// The host's DRAM traffic (shared by its cores).
    dram: MemoryLoad,
    /// Everything charged so far, all cores.
    charged: Charge,
    /// The latest instant a core ran at.
    last_run: Instant,
    /// Open connections of all cores: the sum of their `connections`,
    /// kept as they run (summing every stack of the host on every core
    /// run cost the main job 4% of its time, mostly cache misses).
    connections: u64,
}

impl<A: App> RustyHost<A> {
    /// A host whose stack on `core`, `port` runs `make_app(core, port)`.
    pub fn new(config: RustyHostConfig, mut make_app: impl FnMut(usize, usize) -> A) -> Self {
        let cores = config.cores.max(1);
        let nics: Vec<NicPort> = config
            .ports
            .iter()
            .map(|p| {
                NicPort::new(&NicSpec {
                    kind: config.nic,
                    mac: p.mac,
                    mtu: config.mtu,
                    rss_key: config.rss_key,
                    queues: cores,
                    ring: config.ring,
                    pool: &config.pool,
                    hash_known: config.hash_known,
                })
            })
            .collect();
        let cores: Vec<Core<A>> = (0..cores)
            .map(|core| {
                let stacks = config
                    .ports
                    .iter()
                    .enumerate()
                    .map(|(port, spec)| {
                        let mut iface = InterfaceConfig::new(spec.ip);
                        iface.report_arp = true;
                        // Only core 0 announces the address.
                        iface.announce = core == 0;
                        let mut tcp = config.tcp.clone();
                        tcp.secret = config
                            .seeds
                            .key16("tcp-secret", core_port_index(core, port));
                        if !config.hash_known && cores > 1 {
                            tcp.port_partition = Some((core as u16, cores as u16));
                        }
                        let caps = nics[port].capabilities(core);
                        let mut stack =
                            Stack::new(&caps, iface, tcp, make_app(core, port), Instant::ZERO);
                        for &(ip, mac) in &config.static_arp {
                            let _ = stack.iface_mut().add_static_arp(ip, mac);
                        }
                        stack
                    })
                    .collect();
                Core {
                    stacks,
                    stats: CoreStats::default(),
                    arp_inbox: VecDeque::with_capacity(ARP_RING),
                    stray_inbox: VecDeque::with_capacity(STRAY_RING),
                    connections: 0,
                }
            })
            .collect();
        let mut nics = nics;
        if config.faults.alloc_tx_fail > 0.0 {
            for (port, nic) in nics.iter_mut().enumerate() {
                let rng = config.seeds.stream("alloc-tx-fail", port as u64);
                nic.set_alloc_tx_fail(Some((config.faults.alloc_tx_fail, rng)));
            }
        }
        let memory = HostMemory {
            buffers_per_core: nics.iter().map(|n| n.buffer_usage(0).1).sum(),
            connection_slots_per_core: cores.first().map_or(0, |c| {
                c.stacks
                    .iter()
                    .map(|s| s.tcp_config().max_connections)
                    .sum()
            }),
            ..HostMemory::default()
        };
        let slot_bytes = cores
            .first()
            .and_then(|c| c.stacks.first())
            .map_or(0, |s| s.connection_slot_bytes() as u64);
        let pricer = Pricer::new(config.cost, slot_bytes);
        let dram = MemoryLoad::new(config.cost.memory.map_or(0, |m| m.dram_bytes_per_s));
        RustyHost {
            pricer,
            dram,
            charged: Charge::default(),
            last_run: Instant::ZERO,
            faults: HostFaultState::new(config.faults.clone()),
            config,
            nics,
            cores,
            arp_ring_overflow: 0,
            wakeups: Vec::new(),
            stray_ring_overflow: 0,
            strays_forwarded: 0,
            nic_faults: NicFaultState::default(),
            memory,
            connections: 0,
        }
    }

    /// Brings the NICs to what the host's faults ask for at `now`.
    fn apply_nic_faults(&mut self, now: Instant) {
        let state = self.faults.nic_state(now);
        if state == self.nic_faults {
            return;
        }
        self.nic_faults = state;
        let mut taken = 0;
        for nic in &mut self.nics {
            for queue in 0..self.cores.len() {
                taken += nic.apply_faults(queue, state);
            }
        }
        self.faults.count_squeezed(taken);
    }

    /// The stacks of `core`, one per port.
    pub fn stacks(&self, core: usize) -> &[Stack<A>] {
        &self.cores[core].stacks
    }

    /// Every stack of the host.
    pub fn all_stacks(&self) -> impl Iterator<Item = &Stack<A>> {
        self.cores.iter().flat_map(|c| c.stacks.iter())
    }

    /// Every stack of the host, mutably.
    pub fn all_stacks_mut(&mut self) -> impl Iterator<Item = &mut Stack<A>> {
        self.cores.iter_mut().flat_map(|c| c.stacks.iter_mut())
    }

    /// Frames forwarded between cores (replies to active opens that the
    /// NIC delivered to another core), and those lost to full rings.
    pub fn strays(&self) -> (u64, u64) {
        (self.strays_forwarded, self.stray_ring_overflow)
    }

    /// Test hook: leaks a buffer of `core`'s pool on `port` (see
    /// [`NicPort::leak_buffer_for_test`]).
    #[doc(hidden)]
    pub fn leak_buffer_for_test(&mut self, core: usize, port: usize) -> bool {
        self.nics[port].leak_buffer_for_test(core)
    }

    /// ARP mappings lost to full inter-core rings.
    pub fn arp_ring_overflow(&self) -> u64 {
        self.arp_ring_overflow
    }

    /// Everything the host's work was charged so far (all cores).
    pub fn charged(&self) -> Charge {
        self.charged
    }

    /// Open connections of every stack of the host, counted afresh.
    fn count_host_connections(&self) -> u64 {
        self.cores
            .iter()
            .flat_map(|c| c.stacks.iter())
            .map(|s| s.active_connections() as u64)
            .sum()
    }

    /// Takes `core`'s open connections after it polled into the host's
    /// running total and returns the core's own.
    fn update_connections(&mut self, core: usize) -> u64 {
        let c = &mut self.cores[core];
        let now: u64 = c.stacks.iter().map(|s| s.active_connections() as u64).sum();
        self.connections = self.connections - c.connections + now;
        c.connections = now;
        debug_assert_eq!(self.connections, self.count_host_connections());
        now
    }
}

impl<A: App + AppStats> HostModel for RustyHost<A> {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn cores(&self) -> usize {
        self.cores.len()
    }

    fn ports(&self) -> usize {
        self.nics.len()
    }

    fn deliver(&mut self, port: usize, frame: &[u8], now: Instant) -> Option<usize> {
        if self.faults.is_active() {
            self.apply_nic_faults(now);
        }
        self.nics.get_mut(port)?.receive_frame(frame)
    }

    fn run_core(&mut self, core: usize, now: Instant, out: &mut Outbox) -> CoreRun {
        let span = tracing::debug_span!("core", host = %self.config.name, core, t = %now);
        let _entered = span.enter();
        if self.faults.is_active() {
            if let Some(until) = self.faults.stalled_until(core, now) {
                return CoreRun {
                    busy_until: until,
                    wake_at: Some(until),
                };
            }
            self.apply_nic_faults(now);
        }
        let batch = self.config.batch.max(1);
        let mut work = CostMeter::default();
        let mut rx_frames = 0;
        let mut tx_frames = 0;
        let mut learned: Vec<(Ipv4Addr, MacAddr)> = Vec::new();
        let mut strays: Vec<(usize, Vec<u8>)> = Vec::new();
        {
            let c = &mut self.cores[core];
            while let Some((ip, mac)) = c.arp_inbox.pop_front() {
                for stack in &mut c.stacks {
                    stack.iface_mut().learn_arp(ip, mac, now);
                }
            }
            while let Some((port, frame)) = c.stray_inbox.pop_front() {
                self.nics[port].inject(core, &frame);
            }
            for (port, stack) in c.stacks.iter_mut().enumerate() {
                let before = *stack.meter();
                let frames = (
                    stack.iface().counters().rx_frames,
                    stack.iface().counters().tx_frames,
                );
                self.nics[port].poll(stack, core, batch, now);
                work += stack.meter().since(&before);
                rx_frames += stack.iface().counters().rx_frames - frames.0;
                tx_frames += stack.iface().counters().tx_frames - frames.1;
                while let Some(event) = stack.take_iface_event() {
                    if let IfaceEvent::ArpLearned { ip, mac } = event {
                        learned.push((ip, mac));
                    }
                }
                while let Some(frame) = stack.take_stray() {
                    strays.push((port, frame.copy_to_vec()));
                }
            }
        }
        // Share what this core learned with every other core.
        for &(ip, mac) in &learned {
            for (i, other) in self.cores.iter_mut().enumerate() {
                if i == core {
                    continue;
                }
                if other.arp_inbox.len() < ARP_RING {
                    other.arp_inbox.push_back((ip, mac));
                    if !self.wakeups.contains(&i) {
                        self.wakeups.push(i);
                    }
                } else {
                    self.arp_ring_overflow += 1;
                }
            }
        }
        // Frames of flows another core owns go to the owner's ring; the
        // owner is the one whose port partition holds the destination port.
        let cores = self.cores.len();
        for (port, frame) in strays {
            let dst_port = frame_dst_port(&frame).unwrap_or(0);
            let owner = usize::from(dst_port) % cores;
            let ring = &mut self.cores[owner].stray_inbox;
            if owner != core && ring.len() < STRAY_RING {
                ring.push_back((port, frame));
                self.strays_forwarded += 1;
                if !self.wakeups.contains(&owner) {
                    self.wakeups.push(owner);
                }
            } else {
                self.stray_ring_overflow += 1;
            }
        }
        let connections = self.update_connections(core);
        let load = CoreLoad {
            connections,
            host_connections: self.connections,
            dram_queue_milli: self.dram.queue_milli(now),
        };
        let charge = self.pricer.price(&work, &load);
        self.dram.record(now, charge.dram_bytes);
        self.charged += charge;
        self.last_run = self.last_run.max(now);
        let busy = self.pricer.time(charge.cycles);
        let busy_until = now + busy;
        let c = &mut self.cores[core];
        c.stats.busy = c.stats.busy + busy;
        c.stats.rx_frames += rx_frames;
        c.stats.tx_frames += tx_frames;
        for (port, nic) in self.nics.iter_mut().enumerate() {
            nic.take_tx(port, out);
        }
        let queued = self.nics.iter().any(|n| n.pending(core) > 0);
        let in_use: usize = self.nics.iter().map(|n| n.buffer_usage(core).0).sum();
        self.memory.peak_buffers_in_use = self.memory.peak_buffers_in_use.max(in_use);
        self.memory.peak_connections = self.memory.peak_connections.max(connections as usize);
        let timers = c.stacks.iter().filter_map(|s| s.poll_at()).min();
        let mut wake_at = if queued || !c.arp_inbox.is_empty() || !c.stray_inbox.is_empty() {
            Some(busy_until)
        } else {
            timers.map(|t| t.max(busy_until))
        };
        // A fault window that opens or closes before then wakes the core,
        // so that it takes effect on time.
        if let Some(change) = self.faults.next_change(now) {
            let change = change.max(busy_until);
            wake_at = Some(wake_at.map_or(change, |w| w.min(change)));
        }
        CoreRun {
            busy_until,
            wake_at,
        }
    }

    fn take_wakeups(&mut self, out: &mut Vec<usize>) {
        out.append(&mut self.wakeups);
    }

    fn core_stats(&self, core: usize) -> CoreStats {
        self.cores[core].stats
    }

    fn cost_charged(&self) -> Option<Charge> {
        Some(self.charged)
    }

    fn memory_utilization(&self, end: Instant) -> f64 {
        self.dram.utilization(end.max(self.last_run))
    }

    fn iface_counters(&self) -> IfaceCounters {
        let mut total = IfaceCounters::default();
        for stack in self.all_stacks() {
            total.merge(stack.iface().counters());
        }
        total
    }

    fn tcp_counters(&self) -> TcpCounters {
        let mut total = TcpCounters::default();
        for stack in self.all_stacks() {
            total.merge(stack.tcp_counters());
        }
        total
    }

    fn listen(&mut self, port: u16, backlog: usize) -> Result<(), rusty_stack::stack::ListenError> {
        for stack in self.all_stacks_mut() {
            stack.listen(port, backlog)?;
        }
        Ok(())
    }

    fn stop_clients(&mut self) {
        for stack in self.all_stacks_mut() {
            stack.app_mut().stop();
        }
    }

    fn heal(&mut self) {
        self.faults.heal();
        self.nic_faults = NicFaultState::default();
        let queues = self.cores.len();
        for nic in &mut self.nics {
            nic.set_alloc_tx_fail(None);
            for queue in 0..queues {
                nic.apply_faults(queue, NicFaultState::default());
            }
        }
    }

    fn memory(&self) -> Option<HostMemory> {
        Some(self.memory)
    }

    fn fault_counters(&self) -> Option<HostFaultCounters> {
        (!self.config.faults.is_none()).then(|| self.faults.counters())
    }

    fn active_connections(&self) -> usize {
        self.all_stacks().map(|s| s.active_connections()).sum()
    }

    fn connection_states(&self) -> Vec<(String, usize)> {
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        for stack in self.all_stacks() {
            for c in stack.connections() {
                *counts.entry(format!("{:?}", c.state)).or_default() += 1;
            }
        }
        counts.into_iter().collect()
    }

    /// Buffer conservation of every pool of every core and port, and the
    /// invariants of every stack.
    fn check(&self) -> Result<(), Violation> {
        for (core, c) in self.cores.iter().enumerate() {
            for (port, stack) in c.stacks.iter().enumerate() {
                self.nics[port]
                    .check_buffers(core, stack.held_buffers())
                    .map_err(|what| {
                        Violation::new(
                            Checker::BufferConservation,
                            format!("{} core {core} port {port}: {what}", self.config.name),
                        )
                    })?;
                stack.check().map_err(|v| {
                    Violation::new(
                        Checker::Tcb,
                        format!("{} core {core} port {port}: {v}", self.config.name),
                    )
                })?;
            }
        }
        Ok(())
    }

    /// The apps' statistics, merged; handshake failures are split into
    /// refusals and timeouts by the counters of the stack they ran on.
    fn client_stats(&self) -> Option<ClientStats> {
        let mut total: Option<ClientStats> = None;
        for stack in self.all_stacks() {
            if let Some(mut stats) = stack.app().client_stats() {
                stats.failures.split_handshakes(stack.tcp_counters());
                total.get_or_insert_with(ClientStats::default).merge(&stats);
            }
        }
        total
    }

    fn nic_stats(&self) -> NicStats {
        let mut total = NicStats::default();
        for nic in &self.nics {
            let s = nic.stats();
            total.rx_frames += s.rx_frames;
            total.rx_queue_full += s.rx_queue_full;
            total.rx_no_buffer += s.rx_no_buffer;
            total.rx_too_long += s.rx_too_long;
            total.tx_frames += s.tx_frames;
            total.tx_ring_full += s.tx_ring_full;
            total.tx_alloc_failed += s.tx_alloc_failed;
        }
        total
    }
}

/// The TCP destination port of an IPv4 frame.
fn frame_dst_port(frame: &[u8]) -> Option<u16> {
    use rusty_stack::wire::{ethernet, ipv4, tcp};
    let ip = ethernet::HEADER_LEN;
    let ihl = usize::from(frame.get(ip + ipv4::field::VER_IHL)? & 0x0f) * 4;
    let at = ip + ihl + tcp::field::DST_PORT;
    Some(u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?]))
}
