//! Checkers that are always on in the simulator: conditions every run must
//! keep, checked by the world at checkpoints (every
//! [`Checks::every`] events) and by the engine at the end of every run.
//!
//! * **Stream integrity** ([`Checker::StreamIntegrity`]): every byte the
//!   client apps received is the byte the peer's writer produced at that
//!   offset. The apps verify it as they read (the stream client against
//!   the bulk pattern, the HTTP load clients against the page bodies, the
//!   smoltcp clients likewise) and count the differing bytes
//!   (`bytes_corrupt`); the checker makes a nonzero count a failed run
//!   instead of a number in a report.
//! * **Frame conservation** ([`Checker::FrameConservation`]): for each
//!   direction of each link, frames sent plus duplicates made equal the
//!   copies delivered plus the frames lost (by cause) plus the copies the
//!   FCS check dropped; and the copies delivered equal those that arrived
//!   at the far port plus those still in flight in the event queue.
//! * **Buffer conservation** ([`Checker::BufferConservation`]): for every
//!   buffer pool of every core, the buffers in use are exactly those held
//!   by the receive ring, the transmit ring and the stack (counted from the
//!   frames themselves), and free plus in use is the capacity of every
//!   class.
//! * **TCB invariants** ([`Checker::Tcb`]): [`rusty_stack::Stack::check`]
//!   of every stack (debug builds also run it after every stack event).
//!
//! A violation stops the run: [`CheckError`] names the checker, what broke,
//! the seed, the virtual time and the event number.

use core::fmt;

use rusty_stack::time::Instant;

/// Which checker found a violation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Checker {
    /// Bytes delivered to an app differ from what the peer wrote.
    StreamIntegrity,
    /// A link direction's frame counts do not add up.
    FrameConservation,
    /// A buffer pool's counts do not add up.
    BufferConservation,
    /// A stack's connection table broke an invariant.
    Tcb,
}

impl Checker {
    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Checker::StreamIntegrity => "stream integrity",
            Checker::FrameConservation => "frame conservation",
            Checker::BufferConservation => "buffer conservation",
            Checker::Tcb => "TCB invariants",
        }
    }
}

/// A violation found by a checker, with the checker and what broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The checker.
    pub checker: Checker,
    /// What broke, with the numbers.
    pub what: String,
}

impl Violation {
    /// A violation of `checker`.
    pub fn new(checker: Checker, what: impl Into<String>) -> Self {
        Violation {
            checker,
            what: what.into(),
        }
    }
}

/// A violation, where and when it was found: the run fails with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckError {
    /// The scenario's seed.
    pub seed: u64,
    /// Virtual time of the check.
    pub at: Instant,
    /// Events processed when the check ran (the violation happened at or
    /// before this one, after the previous checkpoint).
    pub event: u64,
    /// The checker.
    pub checker: Checker,
    /// What broke.
    pub what: String,
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} check failed (seed {}, t = {}, event {}): {}",
            self.checker.name(),
            self.seed,
            self.at,
            self.event,
            self.what
        )
    }
}

impl std::error::Error for CheckError {}

/// How the world runs its checkers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checks {
    /// The seed named in violations.
    pub seed: u64,
    /// Check every this many events (0: only when asked, e.g. at the end
    /// of a run).
    pub every: u64,
    /// Panic at a violation found at a checkpoint instead of keeping it
    /// for [`crate::kernel::world::World::violation`]: the default in
    /// debug builds, so that every test that runs a world fails loudly;
    /// the engine turns it off and fails the run with the error.
    pub panic: bool,
}

/// Checkpoint interval by default: cheap against the events between them
/// (a release run of the `thesis` scenario is as fast as without). Debug
/// builds check 16 times as often, so that short test runs reach
/// checkpoints too.
pub const DEFAULT_CHECK_EVERY: u64 = if cfg!(debug_assertions) {
    1 << 12
} else {
    1 << 16
};

impl Default for Checks {
    fn default() -> Self {
        Checks {
            seed: 0,
            every: DEFAULT_CHECK_EVERY,
            panic: cfg!(debug_assertions),
        }
    }
}
