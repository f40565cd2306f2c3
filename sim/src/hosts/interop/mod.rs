//! Two hosts on the two ends of one simulator [`Link`], polled in virtual
//! time: the harness of the interop tests between Rusty and smoltcp.
//!
//! [`InteropNet`] owns a [`Link`] (the simulator's link model: bandwidth, delay,
//! queue and the seeded [`Faults`]), the host on
//! [`Side::A`] (`a`), the host on [`Side::B`] (`b`) and a virtual clock.
//! At each instant it delivers the frames due, polls both hosts, and hands
//! what they transmitted to [`Link::send`], until neither does anything
//! more ([`InteropNet::settle`]); then it jumps to the next event: a delivery, or
//! a host's own timer (`poll_at`). Every loop is bounded (iterations, polls
//! per instant, a virtual-time limit), so a test never hangs: it fails
//! with a [`NetError`] that says why and when.
//!
//! The hosts:
//!
//! * [`rusty`] — Rusty on a [`LinkDriver`]: the bare `Interface` or a TCP
//!   `Stack` with its app;
//! * [`crate::hosts::smol_peer`] — smoltcp's interface, sockets and device.
//!
//! # Seeds
//!
//! A run's randomness is one [`Seeds`] tree, as in the simulator:
//! [`link`] draws the link's faults from streams `("link-a-to-b", 0)` and
//! `("link-b-to-a", 0)`, [`smoltcp_seed`] smoltcp's `random_seed` from
//! subtree `("smoltcp-peer", 0)` → `("smoltcp-random", 0)`, and
//! [`tcp_secret`] a Rusty TCP secret from subtree `("rusty-peer", 0)`
//! ([`rusty_seeds`]) → `("tcp-secret", 0)`; a Rusty app takes its seed
//! from that subtree too. [`Wire`] names a run's seed and link faults.
//!
//! # Trace
//!
//! With the trace on (the default), the net keeps every frame handed to
//! the link with its fate; [`InteropNet::trace_lines`] prints them like tcpdump,
//! for a failing test's message.

mod trace;

pub mod rusty;

use core::fmt;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use rusty_stack::time::{Duration, Instant};

use crate::kernel::rng::Seeds;
use crate::net::link::{CorruptScope, Faults, Link, LinkConfig, Side};

pub use rusty::{BytesWriter, LinkDriver, LinkDriverStats, RustyNode, RustyPeer};
pub use trace::TraceEntry;

/// A link of the interop tests: infinite bandwidth (so no queue), 1 ms of
/// propagation delay, no faults.
pub fn link_config() -> LinkConfig {
    LinkConfig {
        bandwidth_bps: 0,
        delay: Duration::from_millis(1),
        queue_limit_bytes: 0,
        ..LinkConfig::default()
    }
}

/// The net's link: `config` with its faults drawn from `seeds` (link 0).
///
/// # Panics
/// If `config` fails [`LinkConfig::validate`].
pub fn link(config: LinkConfig, seeds: &Seeds) -> Link {
    Link::seeded(config, seeds, 0)
}

/// smoltcp's `random_seed` (its ISNs) for the smoltcp peer of a net.
pub fn smoltcp_seed(seeds: &Seeds) -> u64 {
    seeds
        .subtree("smoltcp-peer", 0)
        .seed_u64("smoltcp-random", 0)
}

/// The subtree of the Rusty peer of a net, `("rusty-peer", 0)`: its TCP
/// secret ([`tcp_secret`]) and its apps' seeds (e.g. `("http-client", 0)`).
pub fn rusty_seeds(seeds: &Seeds) -> Seeds {
    seeds.subtree("rusty-peer", 0)
}

/// A TCP secret (ISNs, SYN cookies) for the Rusty peer of a net.
pub fn tcp_secret(seeds: &Seeds) -> [u8; 16] {
    rusty_seeds(seeds).key16("tcp-secret", 0)
}

/// A test run's link: the seed of the run's tree and the faults of the
/// interop link ([`link_config`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Wire {
    /// The seed of the run's [`Seeds`] tree.
    pub seed: u64,
    /// The link's faults.
    pub faults: Faults,
}

impl Wire {
    /// A perfect link.
    pub fn new(seed: u64) -> Self {
        Wire {
            seed,
            faults: Faults::default(),
        }
    }

    /// A link losing a fraction `loss` of the frames and delaying a fifth
    /// of them by up to 4 ms (so that later ones overtake them).
    pub fn lossy(seed: u64, loss: f64) -> Self {
        Wire {
            seed,
            faults: Faults {
                loss,
                reorder: 0.2,
                reorder_delay: Duration::from_millis(4),
                ..Faults::default()
            },
        }
    }

    /// This link, duplicating a fraction `p` of the frames.
    pub fn with_duplicate(mut self, p: f64) -> Self {
        self.faults.duplicate = p;
        self
    }

    /// This link, flipping a bit in a fraction `p` of the IPv4 frames (ARP
    /// has no checksum to catch a flip, so it is spared:
    /// [`CorruptScope::Ipv4Only`]).
    pub fn with_corrupt(mut self, p: f64) -> Self {
        self.faults.corrupt = p;
        self.faults.corrupt_scope = CorruptScope::Ipv4Only;
        self
    }

    /// The run's seed tree.
    pub fn seeds(&self) -> Seeds {
        Seeds::new(self.seed)
    }

    /// The link: [`link_config`] with these faults, seeded from
    /// [`seeds`](Self::seeds).
    ///
    /// # Panics
    /// If the faults fail [`Faults::validate`].
    pub fn link(&self) -> Link {
        let config = LinkConfig {
            faults: self.faults.clone(),
            ..link_config()
        };
        link(config, &self.seeds())
    }
}

/// A host on one end of the link.
pub trait Host {
    /// Sets the virtual time (called whenever the clock moves, before any
    /// other call at that time).
    fn set_now(&mut self, now: Instant);
    /// Queues a frame that arrived from the link.
    fn deliver(&mut self, frame: Vec<u8>);
    /// Processes delivered frames and timers due at `now`; returns whether
    /// anything was done.
    fn poll(&mut self, now: Instant) -> bool;
    /// Moves the frames transmitted since the last call into `out`.
    fn take_tx(&mut self, out: &mut Vec<Vec<u8>>);
    /// When the host next wants to be polled, if ever (may be in the past:
    /// "as soon as possible").
    fn poll_at(&mut self, now: Instant) -> Option<Instant>;
}

/// Bounds of a [`InteropNet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetLimits {
    /// Polling rounds over the whole run.
    pub max_iterations: u64,
    /// Polling rounds at one instant before the net counts as livelocked.
    pub max_rounds_per_instant: u32,
    /// No run goes past this virtual time.
    pub time_limit: Instant,
    /// How far the clock steps when a host asks to be polled now but has
    /// nothing to do.
    pub min_step: Duration,
}

impl Default for NetLimits {
    /// Two million rounds, 100 rounds per instant, ten virtual minutes,
    /// 100 µs steps.
    fn default() -> Self {
        NetLimits {
            max_iterations: 2_000_000,
            max_rounds_per_instant: 100,
            time_limit: Instant::from_secs(600),
            min_step: Duration::from_micros(100),
        }
    }
}

/// Why a run stopped before its condition held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetError {
    /// The deadline (or the net's time limit) passed.
    Deadline(Instant),
    /// Nothing is scheduled any more: no frame in flight, no host timer.
    Idle(Instant),
    /// The hosts kept working at one instant without settling.
    Livelock(Instant),
    /// The iteration budget is spent.
    Iterations(Instant),
    /// A host panicked while polled (its message went to stderr); its
    /// state is whatever the panic left.
    HostPanicked(Side, Instant),
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::Deadline(t) => write!(f, "deadline reached at {t}"),
            NetError::Idle(t) => write!(f, "network idle at {t}"),
            NetError::Livelock(t) => write!(f, "hosts did not settle at {t}"),
            NetError::Iterations(t) => write!(f, "iteration budget spent at {t}"),
            NetError::HostPanicked(side, t) => write!(f, "host on side {side:?} panicked at {t}"),
        }
    }
}

impl std::error::Error for NetError {}

/// Two hosts, a link and a virtual clock; see the [module docs](self).
pub struct InteropNet<HA, HB> {
    /// The link.
    pub link: Link,
    /// The host on [`Side::A`].
    pub a: HA,
    /// The host on [`Side::B`].
    pub b: HB,
    now: Instant,
    limits: NetLimits,
    iterations: u64,
    scratch: Vec<Vec<u8>>,
    /// Copies on their way, keyed by (arrival time, sequence).
    in_flight: BTreeMap<(Instant, u64), (Side, Vec<u8>)>,
    next_seq: u64,
    trace: Option<Vec<TraceEntry>>,
}

impl<HA: fmt::Debug, HB: fmt::Debug> fmt::Debug for InteropNet<HA, HB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InteropNet")
            .field("now", &self.now)
            .field("link", &self.link)
            .field("in_flight", &self.in_flight.len())
            .field("a", &self.a)
            .field("b", &self.b)
            .finish_non_exhaustive()
    }
}

impl<HA: Host, HB: Host> InteropNet<HA, HB> {
    /// A net at time zero with the default limits, tracing every frame.
    pub fn new(link: Link, a: HA, b: HB) -> Self {
        let mut net = InteropNet {
            link,
            a,
            b,
            now: Instant::ZERO,
            limits: NetLimits::default(),
            iterations: 0,
            scratch: Vec::new(),
            in_flight: BTreeMap::new(),
            next_seq: 0,
            trace: Some(Vec::new()),
        };
        net.a.set_now(Instant::ZERO);
        net.b.set_now(Instant::ZERO);
        net
    }

    /// This net with other limits.
    pub fn with_limits(mut self, limits: NetLimits) -> Self {
        self.limits = limits;
        self
    }

    /// This net with the frame trace on or off (off for runs that move
    /// many megabytes).
    pub fn with_trace(mut self, on: bool) -> Self {
        self.trace = on.then(Vec::new);
        self
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Polling rounds so far.
    pub fn iterations(&self) -> u64 {
        self.iterations
    }

    /// Copies on their way.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The frames handed to the link so far (empty with the trace off).
    pub fn trace(&self) -> &[TraceEntry] {
        self.trace.as_deref().unwrap_or(&[])
    }

    /// The last `last` frames of the trace as tcpdump-like lines (relative
    /// TCP sequence numbers).
    pub fn trace_lines(&self, last: usize) -> Vec<String> {
        trace::lines(self.trace(), last)
    }

    fn set_now(&mut self, now: Instant) {
        self.now = now;
        self.a.set_now(now);
        self.b.set_now(now);
    }

    /// Hands one frame to the link and queues its copies.
    fn send(&mut self, from: Side, frame: Vec<u8>) {
        let bytes = self.trace.as_ref().map(|_| frame.clone());
        let result = self.link.send(from, frame, self.now);
        if let (Some(trace), Some(bytes)) = (self.trace.as_mut(), bytes) {
            trace.push(TraceEntry::new(
                trace.len() as u64,
                self.now,
                from,
                &result,
                bytes,
            ));
        }
        for copy in result {
            self.in_flight
                .insert((copy.at, self.next_seq), (copy.to, copy.frame));
            self.next_seq += 1;
        }
    }

    /// Moves the frames both hosts transmitted onto the link; returns how
    /// many there were.
    pub fn flush(&mut self) -> usize {
        let mut frames = std::mem::take(&mut self.scratch);
        let mut count = 0;
        for side in Side::BOTH {
            match side {
                Side::A => self.a.take_tx(&mut frames),
                Side::B => self.b.take_tx(&mut frames),
            }
            count += frames.len();
            for frame in frames.drain(..) {
                self.send(side, frame);
            }
        }
        self.scratch = frames;
        count
    }

    /// The next copy due at the current time: its receiving side and bytes.
    fn pop_due(&mut self) -> Option<(Side, Vec<u8>)> {
        let entry = self.in_flight.first_entry()?;
        if entry.key().0 > self.now {
            return None;
        }
        Some(entry.remove())
    }

    /// Delivers the frames due now and polls both hosts until neither does
    /// anything more at this instant.
    pub fn settle(&mut self) -> Result<(), NetError> {
        for _ in 0..self.limits.max_rounds_per_instant {
            if self.iterations >= self.limits.max_iterations {
                return Err(NetError::Iterations(self.now));
            }
            self.iterations += 1;
            let mut worked = self.flush() > 0;
            while let Some((side, frame)) = self.pop_due() {
                worked = true;
                match side {
                    Side::A => self.a.deliver(frame),
                    Side::B => self.b.deliver(frame),
                }
            }
            worked |= self.poll_host(Side::A)?;
            worked |= self.poll_host(Side::B)?;
            worked |= self.flush() > 0;
            if !worked {
                return Ok(());
            }
        }
        Err(NetError::Livelock(self.now))
    }

    /// Polls one host, turning a panic into [`NetError::HostPanicked`] so
    /// that the test can still report the trace.
    fn poll_host(&mut self, side: Side) -> Result<bool, NetError> {
        let now = self.now;
        let result = match side {
            Side::A => catch_unwind(AssertUnwindSafe(|| self.a.poll(now))),
            Side::B => catch_unwind(AssertUnwindSafe(|| self.b.poll(now))),
        };
        result.map_err(|_| NetError::HostPanicked(side, now))
    }

    /// The next instant after now at which something is scheduled: a
    /// delivery or a host timer. A host timer at or before now (the host
    /// had nothing to do when polled) counts as `now + min_step`.
    pub fn next_event(&mut self) -> Option<Instant> {
        let now = self.now;
        let step = now + self.limits.min_step;
        [
            self.in_flight.keys().next().map(|&(at, _)| at),
            self.a.poll_at(now),
            self.b.poll_at(now),
        ]
        .into_iter()
        .flatten()
        .map(|t| if t > now { t } else { step })
        .min()
    }

    /// Runs until `cond` holds (checked after the hosts settle at each
    /// instant, and free to act on the hosts), or fails when the deadline
    /// passes, the net goes idle, or a bound is hit. Returns the time at
    /// which `cond` held.
    pub fn run_until(
        &mut self,
        deadline: Instant,
        mut cond: impl FnMut(&mut Self) -> bool,
    ) -> Result<Instant, NetError> {
        let deadline = deadline.min(self.limits.time_limit);
        loop {
            self.settle()?;
            if cond(self) {
                return Ok(self.now);
            }
            // Pick up what `cond` queued at this instant.
            self.settle()?;
            let Some(next) = self.next_event() else {
                return Err(NetError::Idle(self.now));
            };
            if next > deadline {
                return Err(NetError::Deadline(self.now));
            }
            self.set_now(next);
        }
    }

    /// Runs every event up to `until` and leaves the clock there.
    pub fn run_to(&mut self, until: Instant) -> Result<(), NetError> {
        if until > self.limits.time_limit {
            return Err(NetError::Deadline(self.now));
        }
        loop {
            self.settle()?;
            match self.next_event() {
                Some(next) if next <= until => self.set_now(next),
                _ => break,
            }
        }
        if until > self.now {
            self.set_now(until);
            self.settle()?;
        }
        Ok(())
    }

    /// Runs for `span` of virtual time.
    pub fn run_for(&mut self, span: Duration) -> Result<(), NetError> {
        self.run_to(self.now + span)
    }
}

#[cfg(test)]
mod tests;
