//! Faults of a host itself, as opposed to its links'.
//!
//! A real server misbehaves on its own too: a core is descheduled or stuck
//! in a long interrupt, the NIC's buffer pools run dry because something
//! holds their buffers, the receive rings are shorter than the bursts,
//! transmit buffers cannot be had. [`HostFaults`] schedules each of these
//! on a Rusty host (`[server.faults]` in a scenario); the host applies
//! them as virtual time passes ([`HostFaultState`]) and turns them all off
//! when the run heals (its liveness phase). Every fault is counted.
//!
//! ```
//! use rusty_sim::hosts::faults::HostFaults;
//! let f: HostFaults = toml::from_str(
//!     "stalls = [{ core = 0, from = \"5ms\", until = \"25ms\" }]\nalloc_tx_fail = 0.01\n",
//! )
//! .unwrap();
//! assert!(f.validate(2).is_ok());
//! assert!(f.validate(1).is_ok());
//! ```

use rusty_stack::time::Instant;
use serde::{Deserialize, Serialize};

use crate::net::link::serde_time;

/// The most entries of each fault list.
pub const MAX_HOST_FAULT_WINDOWS: usize = 64;

/// A core that runs nothing from `from` (included) to `until` (excluded):
/// its frames wait in its ring (which may overflow), its timers fire late.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stall {
    /// The core (`0..workers`).
    pub core: u32,
    /// Start of the stall.
    #[serde(with = "serde_time::instant")]
    pub from: Instant,
    /// End of the stall.
    #[serde(with = "serde_time::instant")]
    pub until: Instant,
}

/// A window in which a share of every receive pool's buffers (of every
/// size class, on every core and port) is held by someone else, so
/// frames find no buffer (`rx_no_buffer`) and the stack's transmit
/// allocations fail more often.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSqueeze {
    /// Start of the window.
    #[serde(with = "serde_time::instant")]
    pub from: Instant,
    /// End of the window: the buffers come back.
    #[serde(with = "serde_time::instant")]
    pub until: Instant,
    /// Share of each class's buffers taken (`0..=1`; 1 takes every free
    /// buffer).
    pub share: f64,
}

/// A window in which every receive ring holds at most `frames` frames;
/// frames beyond are dropped (`rx_queue_full`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RingSqueeze {
    /// Start of the window.
    #[serde(with = "serde_time::instant")]
    pub from: Instant,
    /// End of the window.
    #[serde(with = "serde_time::instant")]
    pub until: Instant,
    /// Ring capacity during the window (0 drops every frame).
    pub frames: u32,
}

/// The faults of one host (see the [module documentation](self)).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostFaults {
    /// Cores that stall for a while.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stalls: Vec<Stall>,
    /// Windows of exhausted receive pools.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pool_squeeze: Vec<PoolSqueeze>,
    /// Windows of short receive rings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ring_squeeze: Vec<RingSqueeze>,
    /// Probability that a transmit buffer allocation (`alloc_tx`) fails.
    #[serde(skip_serializing_if = "is_zero")]
    pub alloc_tx_fail: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl HostFaults {
    /// Whether no fault is scheduled.
    pub fn is_none(&self) -> bool {
        self.stalls.is_empty()
            && self.pool_squeeze.is_empty()
            && self.ring_squeeze.is_empty()
            && self.alloc_tx_fail == 0.0
    }

    /// Whether any fault needs the simulated NIC's pools and rings (the
    /// emulated mPIPE has its own fault injection).
    pub fn needs_sim_nic(&self) -> bool {
        !self.pool_squeeze.is_empty() || !self.ring_squeeze.is_empty() || self.alloc_tx_fail > 0.0
    }

    /// Checks every field for a host of `cores` cores. Errors name the
    /// field (`"stalls"`) and say why.
    pub fn validate(&self, cores: u32) -> Result<(), (&'static str, String)> {
        let lists = [
            ("stalls", self.stalls.len()),
            ("pool_squeeze", self.pool_squeeze.len()),
            ("ring_squeeze", self.ring_squeeze.len()),
        ];
        for (name, len) in lists {
            if len > MAX_HOST_FAULT_WINDOWS {
                return Err((
                    name,
                    format!("at most {MAX_HOST_FAULT_WINDOWS} entries, got {len}"),
                ));
            }
        }
        let window = |from: Instant, until: Instant| until > from;
        for s in &self.stalls {
            if s.core >= cores {
                return Err((
                    "stalls",
                    format!("core {} does not exist ({cores} cores)", s.core),
                ));
            }
            if !window(s.from, s.until) {
                return Err(("stalls", "`until` must be after `from`".into()));
            }
        }
        for p in &self.pool_squeeze {
            if !window(p.from, p.until) {
                return Err(("pool_squeeze", "`until` must be after `from`".into()));
            }
            if !(p.share.is_finite() && (0.0..=1.0).contains(&p.share)) {
                return Err((
                    "pool_squeeze",
                    format!("share must be in 0..=1, got {}", p.share),
                ));
            }
        }
        for r in &self.ring_squeeze {
            if !window(r.from, r.until) {
                return Err(("ring_squeeze", "`until` must be after `from`".into()));
            }
        }
        let p = self.alloc_tx_fail;
        if !(p.is_finite() && (0.0..=1.0).contains(&p)) {
            return Err((
                "alloc_tx_fail",
                format!("must be a probability in 0..=1, got {p}"),
            ));
        }
        Ok(())
    }
}

/// What the host's NICs should look like at some moment.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NicFaultState {
    /// Share of every pool to hold (0: none).
    pub pool_share: f64,
    /// Ring capacity limit, if squeezed.
    pub ring_limit: Option<usize>,
}

/// Counters of the faults a host suffered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HostFaultCounters {
    /// Core runs skipped because the core was stalled.
    pub stalled_runs: u64,
    /// Buffers taken away by pool squeezes (summed over squeezes).
    pub squeezed_buffers: u64,
}

/// A host's faults as they play out (see the [module documentation](self)).
#[derive(Debug)]
pub struct HostFaultState {
    spec: HostFaults,
    healed: bool,
    counters: HostFaultCounters,
}

impl HostFaultState {
    /// The faults of `spec`, not yet healed.
    pub fn new(spec: HostFaults) -> Self {
        HostFaultState {
            spec,
            healed: false,
            counters: HostFaultCounters::default(),
        }
    }

    /// Whether any fault is scheduled and not healed.
    pub fn is_active(&self) -> bool {
        !self.healed && !self.spec.is_none()
    }

    /// Turns every fault off for good.
    pub fn heal(&mut self) {
        self.healed = true;
    }

    /// What was counted.
    pub fn counters(&self) -> HostFaultCounters {
        self.counters
    }

    /// Counts buffers a squeeze took.
    pub fn count_squeezed(&mut self, buffers: usize) {
        self.counters.squeezed_buffers += buffers as u64;
    }

    /// The end of the stall `core` is in at `now`, if it is stalled
    /// (counted as a skipped run).
    pub fn stalled_until(&mut self, core: usize, now: Instant) -> Option<Instant> {
        if self.healed {
            return None;
        }
        let until = self
            .spec
            .stalls
            .iter()
            .filter(|s| s.core as usize == core && s.from <= now && now < s.until)
            .map(|s| s.until)
            .max()?;
        self.counters.stalled_runs += 1;
        Some(until)
    }

    /// The first moment after `now` at which a fault window opens or
    /// closes, so that the host's cores wake then and the fault takes
    /// effect on time, whether or not traffic arrives (`None` when healed
    /// or no window is ahead).
    pub fn next_change(&self, now: Instant) -> Option<Instant> {
        if self.healed {
            return None;
        }
        let s = &self.spec;
        s.stalls
            .iter()
            .flat_map(|w| [w.from, w.until])
            .chain(s.pool_squeeze.iter().flat_map(|w| [w.from, w.until]))
            .chain(s.ring_squeeze.iter().flat_map(|w| [w.from, w.until]))
            .filter(|&t| t > now)
            .min()
    }

    /// The NIC state the faults ask for at `now`: the largest active pool
    /// squeeze and the smallest active ring limit.
    pub fn nic_state(&self, now: Instant) -> NicFaultState {
        if self.healed {
            return NicFaultState::default();
        }
        let pool_share = self
            .spec
            .pool_squeeze
            .iter()
            .filter(|p| p.from <= now && now < p.until)
            .map(|p| p.share)
            .fold(0.0, f64::max);
        let ring_limit = self
            .spec
            .ring_squeeze
            .iter()
            .filter(|r| r.from <= now && now < r.until)
            .map(|r| r.frames as usize)
            .min();
        NicFaultState {
            pool_share,
            ring_limit,
        }
    }

    /// The probability that a transmit allocation fails now (the NICs
    /// draw and count the failures).
    pub fn alloc_tx_fail(&self) -> f64 {
        if self.healed {
            0.0
        } else {
            self.spec.alloc_tx_fail
        }
    }
}
