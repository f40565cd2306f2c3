//! Running simulations and reporting on them, and the other commands.
//!
//! * [`engine`] — builds a scenario's world and runs it;
//! * [`report`] — what a run tells: throughput, latency, drops, per link;
//! * [`bench`](mod@bench) — `rusty-sim bench`: Rusty and smoltcp side by side in wall
//!   time, one thread, an in-memory link;
//! * [`replay`] — `rusty-sim replay`: captures from the field replayed
//!   exactly or, playing each flow's peer, adaptively;
//! * [`swarm`] — `rusty-sim swarm`: seed-drawn scenarios with safety and
//!   liveness phases;
//! * [`scale`] — `rusty-sim scale`: the thesis benchmark swept over
//!   workers and MTUs, with the bottleneck of each point and a plot;
//! * [`shard`] — splitting swarm's seeds and scale's points across
//!   machines (`--shard I/N`, Slurm, Kubernetes);
//! * [`ping_demo`] — two stacks pinging over the in-memory pair driver.

pub mod bench;
pub mod engine;
pub mod ping_demo;
pub mod replay;
pub mod report;
pub mod scale;
pub mod shard;
pub mod swarm;
