//! The event loop joining two hosts through a [`Link`].
//!
//! [`Net`] owns the link and the two hosts (host `a` on [`Port::A`], host
//! `b` on [`Port::B`]) and a virtual clock. At each instant it delivers the
//! frames due, polls both hosts, and moves what they transmitted onto the
//! link, until neither does anything more ([`Net::settle`]); then it jumps
//! to the next event: a delivery, or a host's own timer (`poll_at`). Every
//! loop is bounded (iterations, polls per instant, a virtual-time limit) so
//! a test never hangs: it fails with a [`NetError`] instead.

use core::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use rusty_stack::time::{Duration, Instant};

use crate::link::{Link, Port};

/// A host on one port of the link.
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

/// Bounds of a [`Net`].
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
    HostPanicked(Port, Instant),
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::Deadline(t) => write!(f, "deadline reached at {t}"),
            NetError::Idle(t) => write!(f, "network idle at {t}"),
            NetError::Livelock(t) => write!(f, "hosts did not settle at {t}"),
            NetError::Iterations(t) => write!(f, "iteration budget spent at {t}"),
            NetError::HostPanicked(port, t) => write!(f, "host on port {port:?} panicked at {t}"),
        }
    }
}

impl std::error::Error for NetError {}

/// Two hosts, a link and a virtual clock; see the [module docs](self).
#[derive(Debug)]
pub struct Net<HA, HB> {
    /// The link.
    pub link: Link,
    /// The host on [`Port::A`].
    pub a: HA,
    /// The host on [`Port::B`].
    pub b: HB,
    now: Instant,
    limits: NetLimits,
    iterations: u64,
    scratch: Vec<Vec<u8>>,
}

impl<HA: Host, HB: Host> Net<HA, HB> {
    /// A net at time zero with the default limits.
    pub fn new(link: Link, a: HA, b: HB) -> Self {
        let mut net = Net {
            link,
            a,
            b,
            now: Instant::ZERO,
            limits: NetLimits::default(),
            iterations: 0,
            scratch: Vec::new(),
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

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Polling rounds so far.
    pub fn iterations(&self) -> u64 {
        self.iterations
    }

    fn set_now(&mut self, now: Instant) {
        self.now = now;
        self.a.set_now(now);
        self.b.set_now(now);
    }

    /// Moves the frames both hosts transmitted onto the link; returns how
    /// many there were.
    pub fn flush(&mut self) -> usize {
        let mut frames = std::mem::take(&mut self.scratch);
        let mut count = 0;
        for port in [Port::A, Port::B] {
            match port {
                Port::A => self.a.take_tx(&mut frames),
                Port::B => self.b.take_tx(&mut frames),
            }
            count += frames.len();
            for frame in frames.drain(..) {
                self.link.send(port, frame, self.now);
            }
        }
        self.scratch = frames;
        count
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
            while let Some((port, frame)) = self.link.pop_due(self.now) {
                worked = true;
                match port {
                    Port::A => self.a.deliver(frame),
                    Port::B => self.b.deliver(frame),
                }
            }
            worked |= self.poll_host(Port::A)?;
            worked |= self.poll_host(Port::B)?;
            worked |= self.flush() > 0;
            if !worked {
                return Ok(());
            }
        }
        Err(NetError::Livelock(self.now))
    }

    /// Polls one host, turning a panic into [`NetError::HostPanicked`] so
    /// that the test can still report the trace.
    fn poll_host(&mut self, port: Port) -> Result<bool, NetError> {
        let now = self.now;
        let result = match port {
            Port::A => catch_unwind(AssertUnwindSafe(|| self.a.poll(now))),
            Port::B => catch_unwind(AssertUnwindSafe(|| self.b.poll(now))),
        };
        result.map_err(|_| NetError::HostPanicked(port, now))
    }

    /// The next instant after now at which something is scheduled: a
    /// delivery or a host timer. A host timer at or before now (the host
    /// had nothing to do when polled) counts as `now + min_step`.
    pub fn next_event(&mut self) -> Option<Instant> {
        let now = self.now;
        let step = now + self.limits.min_step;
        [
            self.link.next_event(),
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
