//! Helpers shared by Rusty's fuzz targets (`fuzz_targets/*.rs`).
//!
//! * [`check`]: every frame a stack emits is checked by etherparse, an
//!   independent parser, with its IPv4, TCP and ICMP checksums recomputed;
//! * [`records`]: the byte format of the `stack_frames` target (frames and
//!   time steps), shared with `seeds.sh`, which writes it from captures;
//! * [`wire`]: putting raw frames on, and taking them off, the in-memory
//!   pair driver, and fixing up the checksums of a mutated frame.
//!
//! Nothing here reads a clock or an RNG: a target's behaviour is a function
//! of its input alone.

pub mod check;
pub mod records;
pub mod wire;
