//! The discrete-event kernel: the event queue, the seed tree, the world
//! loop that runs hosts and links, and the determinism checker hooked into
//! it.
//!
//! * [`event`] — the event queue, ordered by (virtual time, insertion order);
//! * [`rng`] — independent seeded ChaCha8 streams derived from one seed;
//! * [`world`] — hosts and links run by the event loop;
//! * [`determinism`] — every event folded into a running hash with
//!   checkpoints, and the check that names two runs' first divergence;
//! * [`check`] — the checkers always on: stream integrity, frame and
//!   buffer conservation, TCB invariants.

pub mod check;
pub mod determinism;
pub mod event;
pub mod rng;
pub mod world;
