//! The discrete-event world: hosts joined by links, run in virtual time.
//!
//! Two kinds of events drive everything, ordered by (virtual time,
//! insertion sequence): a frame arriving at a host's port, and a core
//! becoming due (frames in its queue, a timer, work it deferred). A core
//! that runs is busy until its work's cost has elapsed; the frames it sent
//! enter the link then. The events wait in three places, all keyed by the
//! one sequence of the [`EventQueue`] so their order is total and the same
//! as if they shared one queue: each core's next wake-up in a
//! [`Deadlines`] tree (a rescheduled core replaces its wake-up), the frames
//! on each link direction in a FIFO (arrival order; a frame that would
//! overtake one waiting goes to the queue), and the rest (departures,
//! reordered arrivals) in the queue. Everything random comes from streams
//! derived from the one seed, so the same scenario and seed give the same
//! bytes on every link, on every machine. Every core run, frame sent and
//! frame arrived is folded into the world's [`Trace`], so two runs can be
//! compared event by event (see [`crate::kernel::determinism`]).

use rusty_stack::mem::prefetch::prefetch_read;
use rusty_stack::time::{Duration, Instant};

use crate::hosts::rusty::{HostModel, Outbox};
use crate::kernel::check::{CheckError, Checker, Checks, Violation};
use crate::kernel::determinism::{frame_digest, Trace, TraceKind};
use crate::kernel::event::{Deadlines, EventQueue};
use crate::net::link::{Link, Side};

/// Identifies a host in the world.
pub type HostId = usize;

/// What happens, besides cores coming due (those wait in the world's
/// [`Deadlines`], one per core, ordered with these by the same keys). Kept
/// small because the queue moves events on every push and pop: frame bytes
/// wait in the world's slabs, and the event names them by slot.
#[derive(Debug)]
enum Event {
    /// The frame in slot `frame` of the in-flight slab arrives at `host`'s
    /// `port`.
    Arrive { host: u32, port: u32, frame: u32 },
    /// The frames one core run sent (slot `batch` of the departure slab)
    /// leave when the core's work is done, in the order they were sent, so
    /// frames enter the links in departure order.
    Depart { host: u32, batch: u32 },
}

/// Values parked while their event waits in the queue, by slot; free slots
/// are reused, so steady state allocates nothing.
#[derive(Debug)]
struct Slab<T> {
    slots: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Slab<T> {
    fn insert(&mut self, value: T) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(value);
                i
            }
            None => {
                self.slots.push(Some(value));
                (self.slots.len() - 1) as u32
            }
        }
    }

    fn take(&mut self, i: u32) -> Option<T> {
        let value = self.slots.get_mut(i as usize)?.take();
        if value.is_some() {
            self.free.push(i);
        }
        value
    }
}

/// A link and the two ports it joins.
pub struct LinkSlot {
    /// The link.
    pub link: Link,
    /// `(host, port)` at side A and at side B.
    pub ends: [(HostId, usize); 2],
}

/// Copies of one link direction's frames the world scheduled as
/// arrivals, and those that arrived.
#[derive(Clone, Copy, Debug, Default)]
struct CopyCounts {
    scheduled: u64,
    arrived: u64,
}

/// Where the next thing to happen waits.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// The event queue.
    Queue,
    /// A core's wake-up, by slot of the world's wake-ups.
    Wake(usize),
    /// A link direction's first arrival.
    Arrival(usize),
}

/// Scheduling state of one core.
#[derive(Clone, Copy, Debug, Default)]
struct CoreSlot {
    busy_until: Instant,
    /// Time of the pending wake-up, if one is set (as asked, before the
    /// queue's clamping).
    wake: Option<Instant>,
    /// The core's slot in the world's [`Deadlines`].
    deadline: usize,
}

/// Hosts, links and the event queue.
pub struct World {
    now: Instant,
    events: EventQueue<Event>,
    /// When each core is due next, keyed like the events.
    wakes: Deadlines,
    /// `(host, core)` of each slot of `wakes`.
    core_of: Vec<(usize, usize)>,
    /// Frames on their way, per link direction (`2 * link + side`), in
    /// arrival order: a link delivers in order unless it reorders, so
    /// arrivals wait in a FIFO per direction rather than in the queue
    /// (those that would overtake one already waiting go to the queue).
    arrivals: Vec<std::collections::VecDeque<((Instant, u64), Event)>>,
    /// The first arrival of each direction, keyed like the events.
    arrival_heads: Deadlines,
    hosts: Vec<Box<dyn HostModel>>,
    cores: Vec<Vec<CoreSlot>>,
    links: Vec<LinkSlot>,
    /// `(host, port) -> (link, side)`.
    wiring: Vec<Vec<Option<(usize, Side)>>>,
    /// Per link: the mirror ports that see a copy of every frame it
    /// delivers ([`World::mirror`]).
    mirrors: Vec<Vec<(HostId, usize)>>,
    /// Frames on their way to a host (named by `Event::Arrive`), with the
    /// trace digest of their bytes and the link direction they travel
    /// (`2 × link + side`).
    in_flight: Slab<(Vec<u8>, u64, u32)>,
    /// Per link direction: copies the link handed back for delivery
    /// (scheduled as arrivals), and those that arrived.
    link_copies: Vec<[CopyCounts; 2]>,
    /// How the checkers run, and the first violation found.
    checks: Checks,
    violation: Option<CheckError>,
    /// Frames a core sent that leave when its run is over (named by
    /// `Event::Depart`); emptied lists are kept for reuse.
    departing: Slab<Vec<(usize, Vec<u8>)>>,
    spare_lists: Vec<Vec<(usize, Vec<u8>)>>,
    /// What core runs send, and the frame buffers recycled for them.
    outbox: Outbox,
    woken: Vec<usize>,
    events_processed: u64,
    /// Every wake, send and arrival folded into a running hash.
    trace: Trace,
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

impl World {
    /// An empty world at time zero.
    pub fn new() -> Self {
        World {
            now: Instant::ZERO,
            events: EventQueue::new(),
            wakes: Deadlines::new(),
            core_of: Vec::new(),
            arrivals: Vec::new(),
            arrival_heads: Deadlines::new(),
            hosts: Vec::new(),
            cores: Vec::new(),
            links: Vec::new(),
            wiring: Vec::new(),
            mirrors: Vec::new(),
            in_flight: Slab::default(),
            link_copies: Vec::new(),
            checks: Checks::default(),
            violation: None,
            departing: Slab::default(),
            spare_lists: Vec::new(),
            outbox: Outbox::default(),
            woken: Vec::new(),
            events_processed: 0,
            trace: Trace::default(),
        }
    }

    /// The determinism trace of the run so far.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Replaces the determinism trace (before running: to record a
    /// window, to perturb one frame, or to switch tracing off).
    pub fn set_trace(&mut self, trace: Trace) {
        self.trace = trace;
    }

    /// Adds a host; every core is due at time zero (start-up work).
    pub fn add_host(&mut self, host: Box<dyn HostModel>) -> HostId {
        let id = self.hosts.len();
        let slots = (0..host.cores())
            .map(|core| {
                self.core_of.push((id, core));
                CoreSlot {
                    deadline: self.wakes.add_slot(),
                    ..CoreSlot::default()
                }
            })
            .collect();
        self.cores.push(slots);
        self.wiring.push(vec![None; host.ports()]);
        for core in 0..host.cores() {
            self.schedule_wake(id, core, Instant::ZERO);
        }
        self.hosts.push(host);
        id
    }

    /// Joins `a`'s port and `b`'s port with `link`.
    pub fn connect(&mut self, link: Link, a: (HostId, usize), b: (HostId, usize)) -> usize {
        let index = self.links.len();
        self.wiring[a.0][a.1] = Some((index, Side::A));
        self.wiring[b.0][b.1] = Some((index, Side::B));
        self.links.push(LinkSlot { link, ends: [a, b] });
        self.link_copies.push([CopyCounts::default(); 2]);
        for _ in 0..2 {
            self.arrival_heads.add_slot();
            self.arrivals.push(std::collections::VecDeque::new());
        }
        self.mirrors.push(Vec::new());
        index
    }

    /// Attaches `host`'s `port` to `link` as a switch's mirror port with
    /// a way in: it sees a copy of every frame the link delivers, in both
    /// directions, at the moment it arrives, and what it sends enters the
    /// link at side A (the client's side), sharing that side's queue and
    /// faults on its way to side B. An attacker on the server's segment is
    /// wired this way. Does nothing when `link` does not exist.
    pub fn mirror(&mut self, link: usize, (host, port): (HostId, usize)) {
        if link >= self.links.len() || port >= self.wiring[host].len() {
            return;
        }
        self.wiring[host][port] = Some((link, Side::A));
        self.mirrors[link].push((host, port));
    }

    /// Current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The hosts.
    pub fn hosts(&self) -> &[Box<dyn HostModel>] {
        &self.hosts
    }

    /// A host, to read its statistics.
    pub fn host(&self, id: HostId) -> &dyn HostModel {
        self.hosts[id].as_ref()
    }

    /// A host, mutably.
    pub fn host_mut(&mut self, id: HostId) -> &mut dyn HostModel {
        self.hosts[id].as_mut()
    }

    /// The links.
    pub fn links(&self) -> &[LinkSlot] {
        &self.links
    }

    /// The links, mutably (captures).
    pub fn links_mut(&mut self) -> &mut [LinkSlot] {
        &mut self.links
    }

    /// Events processed so far.
    pub fn events_processed(&self) -> u64 {
        self.events_processed
    }

    fn schedule_wake(&mut self, host: HostId, core: usize, at: Instant) {
        let slot = &mut self.cores[host][core];
        let at = at.max(slot.busy_until);
        if slot.wake.is_some_and(|w| w <= at) {
            return;
        }
        slot.wake = Some(at);
        let deadline = slot.deadline;
        // The key an event queued now would get: wake-ups order among the
        // events exactly as if they were queued, but a core rescheduled
        // earlier replaces its wake-up instead of leaving one behind.
        let key = self.events.stamp(at);
        self.wakes.set(deadline, Some(key));
    }

    /// Processes events up to `limit` (inclusive), or until `stop` says so
    /// (checked after every event). Returns whether events remain.
    /// A world with a [`World::violation`] processes nothing more.
    pub fn run_until(&mut self, limit: Instant, mut stop: impl FnMut(&World) -> bool) -> bool {
        if self.violation.is_some() {
            self.now = self.now.max(limit);
            return false;
        }
        loop {
            // The earliest of the queue, the cores' wake-ups and the links'
            // first arrivals (their keys are unique, so there is no tie).
            let mut next = self.events.peek_key().map(|k| (k, Source::Queue));
            for (key, source) in [
                self.wakes.peek().map(|(i, k)| (k, Source::Wake(i))),
                self.arrival_heads
                    .peek()
                    .map(|(i, k)| (k, Source::Arrival(i))),
            ]
            .into_iter()
            .flatten()
            {
                if next.is_none_or(|(best, _)| key < best) {
                    next = Some((key, source));
                }
            }
            let Some(((at, _), source)) = next else {
                break;
            };
            if at > limit {
                self.now = limit;
                return true;
            }
            self.now = at;
            self.events_processed += 1;
            match source {
                Source::Wake(slot) => {
                    self.wakes.set(slot, None);
                    self.events.advance_to(at);
                    let (host, core) = self.core_of[slot];
                    self.wake_core(host, core);
                }
                Source::Arrival(dir) => {
                    let fifo = &mut self.arrivals[dir];
                    let Some((_, event)) = fifo.pop_front() else {
                        break;
                    };
                    let head = fifo.front().map(|(k, _)| *k);
                    // The next frame on this link is read soon (the NIC
                    // classifies and copies it): ask the memory for it
                    // now, as a NIC driver prefetches its next packet.
                    if let Some((_, Event::Arrive { frame, .. })) = fifo.front() {
                        if let Some(Some((bytes, _, _))) = self.in_flight.slots.get(*frame as usize)
                        {
                            prefetch_read(bytes);
                        }
                    }
                    // And for the one after it, the slot that says where its
                    // bytes are (cold too): then the line above finds it in
                    // the cache next time.
                    if let Some((_, Event::Arrive { frame, .. })) = fifo.get(1) {
                        if let Some(slot) = self.in_flight.slots.get(*frame as usize) {
                            prefetch_read(core::slice::from_ref(slot));
                        }
                    }
                    self.arrival_heads.set(dir, head);
                    self.events.advance_to(at);
                    self.handle(event);
                }
                Source::Queue => {
                    let Some((_, event)) = self.events.pop() else {
                        break;
                    };
                    self.handle(event);
                }
            }
            if self.checks.every != 0 && self.events_processed.is_multiple_of(self.checks.every) {
                self.checkpoint();
                if self.violation.is_some() {
                    self.now = self.now.max(limit);
                    return false;
                }
            }
            if stop(self) {
                return true;
            }
        }
        self.now = self.now.max(limit);
        false
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Arrive { host, port, frame } => {
                let (host, port) = (host as usize, port as usize);
                let Some((mut frame, digest, dir)) = self.in_flight.take(frame) else {
                    return;
                };
                self.link_copies[dir as usize / 2][dir as usize % 2].arrived += 1;
                let now = self.now;
                self.trace_arrival(now, (host, port), &mut frame, digest);
                if let Some(core) = self.hosts[host].deliver(port, &frame, now) {
                    self.schedule_wake(host, core, now);
                }
                for i in 0..self.mirrors[dir as usize / 2].len() {
                    let (m_host, m_port) = self.mirrors[dir as usize / 2][i];
                    if (m_host, m_port) == (host, port) {
                        continue;
                    }
                    if let Some(core) = self.hosts[m_host].deliver(m_port, &frame, now) {
                        self.schedule_wake(m_host, core, now);
                    }
                }
                self.outbox.recycle(frame);
            }
            Event::Depart { host, batch } => {
                let Some(mut frames) = self.departing.take(batch) else {
                    return;
                };
                let now = self.now;
                for (port, frame) in frames.drain(..) {
                    self.transmit(host as usize, port, frame, now);
                }
                self.spare_lists.push(frames);
            }
        }
    }

    /// `host`'s `core` came due: it runs, the frames it sent leave when its
    /// work is done, and it and the cores it woke are scheduled again.
    fn wake_core(&mut self, host: usize, core: usize) {
        self.cores[host][core].wake = None;
        let now = self.now;
        let run = self.hosts[host].run_core(core, now, &mut self.outbox);
        self.cores[host][core].busy_until = run.busy_until;
        let sent = self.outbox.len();
        self.trace
            .wake(now, (host, core), sent, run.busy_until, run.wake_at);
        if !self.outbox.is_empty() {
            let mut frames = self.spare_lists.pop().unwrap_or_default();
            frames.extend(self.outbox.drain());
            if run.busy_until > now {
                // One event for the whole run.
                let batch = self.departing.insert(frames);
                let host = host as u32;
                self.events
                    .push(run.busy_until, Event::Depart { host, batch });
            } else {
                for (port, frame) in frames.drain(..) {
                    self.transmit(host, port, frame, now);
                }
                self.spare_lists.push(frames);
            }
        }
        if let Some(at) = run.wake_at {
            self.schedule_wake(host, core, at);
        }
        // Messages to other cores are readable once this run is done.
        let mut woken = std::mem::take(&mut self.woken);
        self.hosts[host].take_wakeups(&mut woken);
        for other in woken.drain(..) {
            self.schedule_wake(host, other, run.busy_until);
        }
        self.woken = woken;
    }

    /// A frame leaves `host`'s `port` at `at`.
    fn transmit(&mut self, host: HostId, port: usize, mut frame: Vec<u8>, at: Instant) {
        let Some((link, side)) = self.wiring[host][port] else {
            return;
        };
        let digest = self.trace_send(at, (host, port), &mut frame);
        let slot = &mut self.links[link];
        let result = slot.link.send(side, frame, at);
        for delivery in result {
            let (to_host, to_port) = match delivery.to {
                Side::A => slot.ends[0],
                Side::B => slot.ends[1],
            };
            // The link changes a frame's bytes only when it corrupts it.
            let digest = if delivery.corrupted && self.trace.enabled() {
                frame_digest(&delivery.frame)
            } else {
                digest
            };
            let dir = (2 * link + side.index()) as u32;
            self.link_copies[link][side.index()].scheduled += 1;
            let frame = self.in_flight.insert((delivery.frame, digest, dir));
            let event = Event::Arrive {
                host: to_host as u32,
                port: to_port as u32,
                frame,
            };
            let key = self.events.stamp(delivery.at);
            let fifo = &mut self.arrivals[dir as usize];
            match fifo.back() {
                Some((last, _)) if *last > key => self.events.push_stamped(key, event),
                back => {
                    if back.is_none() {
                        self.arrival_heads.set(dir as usize, Some(key));
                    }
                    fifo.push_back((key, event));
                }
            }
        }
    }

    /// Folds a frame leaving `host`'s `port` into the trace (perturbing it
    /// first when the trace's test hook names this event); returns its
    /// digest (0 when tracing is off).
    #[inline]
    fn trace_send(&mut self, at: Instant, (host, port): (HostId, usize), frame: &mut [u8]) -> u64 {
        if !self.trace.enabled() {
            return 0;
        }
        perturb(&self.trace, frame);
        let digest = frame_digest(frame);
        self.trace
            .frame_digested(TraceKind::Send, at, (host, port), frame.len(), digest);
        digest
    }

    /// Folds a frame arriving at `host`'s `port` into the trace, with the
    /// digest it was sent (or corrupted) with; a perturbed frame is
    /// digested again.
    #[inline]
    fn trace_arrival(&mut self, at: Instant, to: (HostId, usize), frame: &mut [u8], digest: u64) {
        let digest = if perturb(&self.trace, frame) {
            frame_digest(frame)
        } else {
            digest
        };
        self.trace
            .frame_digested(TraceKind::Arrive, at, to, frame.len(), digest);
    }

    /// How the checkers run.
    pub fn checks(&self) -> Checks {
        self.checks
    }

    /// Sets how the checkers run (the engine names the scenario's seed and
    /// keeps violations instead of panicking).
    pub fn set_checks(&mut self, checks: Checks) {
        self.checks = checks;
    }

    /// The first violation a checkpoint found, if any; the world stops
    /// processing events at it.
    pub fn violation(&self) -> Option<&CheckError> {
        self.violation.as_ref()
    }

    /// Runs every checker now (see [`crate::kernel::check`]): stream
    /// integrity of every host's client apps, frame conservation of every
    /// link direction, each host's own checks (buffer conservation, TCB
    /// invariants). Returns the first violation, named with the seed, the
    /// time and the event count; a violation a checkpoint found earlier
    /// comes first.
    pub fn check(&self) -> Result<(), CheckError> {
        if let Some(v) = &self.violation {
            return Err(v.clone());
        }
        self.find_violation().map_err(|v| CheckError {
            seed: self.checks.seed,
            at: self.now,
            event: self.events_processed,
            checker: v.checker,
            what: v.what,
        })
    }

    fn checkpoint(&mut self) {
        if let Err(e) = self.check() {
            if self.checks.panic {
                panic!("{e}");
            }
            self.violation = Some(e);
        }
    }

    fn find_violation(&self) -> Result<(), Violation> {
        for host in &self.hosts {
            if let Some(stats) = host.client_stats() {
                if stats.bytes_corrupt > 0 {
                    return Err(Violation::new(
                        Checker::StreamIntegrity,
                        format!(
                            "{}: {} bytes delivered to client apps differ from what the peer wrote",
                            host.name(),
                            stats.bytes_corrupt
                        ),
                    ));
                }
            }
        }
        let mut in_flight = vec![[0u64; 2]; self.links.len()];
        for (_, _, dir) in self.in_flight.slots.iter().flatten() {
            in_flight[*dir as usize / 2][*dir as usize % 2] += 1;
        }
        for (i, slot) in self.links.iter().enumerate() {
            let stats = slot.link.stats();
            for (side, (name, s)) in [("A->B", &stats.a_to_b), ("B->A", &stats.b_to_a)]
                .into_iter()
                .enumerate()
            {
                let copies = self.link_copies[i][side];
                let lost = format!(
                    "lost {} (random {}, burst {}, down {}, queue {})",
                    s.lost(),
                    s.lost_random,
                    s.lost_burst,
                    s.lost_down,
                    s.lost_queue
                );
                if s.sent_frames + s.duplicated != s.delivered_frames + s.lost() + s.fcs_dropped {
                    return Err(Violation::new(
                        Checker::FrameConservation,
                        format!(
                            "link {i} {name}: sent {} + duplicated {} != delivered {} + {lost} + FCS-dropped {}",
                            s.sent_frames, s.duplicated, s.delivered_frames, s.fcs_dropped
                        ),
                    ));
                }
                let queued = in_flight[i][side];
                if copies.scheduled != s.delivered_frames
                    || copies.scheduled != copies.arrived + queued
                {
                    return Err(Violation::new(
                        Checker::FrameConservation,
                        format!(
                            "link {i} {name}: delivered {}, scheduled {}, arrived {} + in flight {queued}",
                            s.delivered_frames, copies.scheduled, copies.arrived
                        ),
                    ));
                }
            }
        }
        for host in &self.hosts {
            host.check()?;
        }
        Ok(())
    }

    /// Test hook: a frame on its way vanishes without a trace (its arrival
    /// finds nothing), as a miscounting link or world would lose it.
    /// Returns whether there was one.
    #[doc(hidden)]
    pub fn lose_in_flight_frame_for_test(&mut self) -> bool {
        let Some(i) = self.in_flight.slots.iter().position(Option::is_some) else {
            return false;
        };
        self.in_flight.take(i as u32).is_some()
    }

    /// Busy fraction of every core of `host` over the time run so far.
    pub fn busy_fractions(&self, host: HostId) -> Vec<f64> {
        let elapsed = (self.now - Instant::ZERO).as_nanos().max(1) as f64;
        (0..self.hosts[host].cores())
            .map(|c| {
                let busy: Duration = self.hosts[host].core_stats(c).busy;
                (busy.as_nanos() as f64 / elapsed).min(1.0)
            })
            .collect()
    }
}

/// The trace's test hook: flips the last byte of `frame` if the next event
/// is the one [`crate::kernel::determinism::TraceConfig::perturb`] names. Returns
/// whether it did.
fn perturb(trace: &Trace, frame: &mut [u8]) -> bool {
    if !trace.perturbs_next() {
        return false;
    }
    if let Some(last) = frame.last_mut() {
        *last ^= 0xff;
    }
    true
}
