//! # rusty-sim
//!
//! The deterministic simulator for the Rusty stack. For now it holds the
//! two-stack ping demo that the `rusty-sim` binary runs by default, and the
//! building blocks of the discrete-event simulator (multi-queue NIC, peers
//! and workloads grow here):
//!
//! * [`event`] — the event queue, ordered by (virtual time, insertion order);
//! * [`rng`] — independent seeded ChaCha8 streams derived from one seed;
//! * [`link`] — point-to-point Ethernet links with bandwidth, latency, a
//!   transmit queue and seeded faults;
//! * [`pcap`] — pcap captures stamped with virtual time.
//!
//! ```
//! let report = rusty_sim::ping_demo::run(&rusty_sim::ping_demo::PingOptions { count: 3, size: 56, lose_first: 0 });
//! assert_eq!(report.replies, 3);
//! ```

pub mod cli;
pub mod cost;
pub mod engine;
pub mod event;
pub mod host;
pub mod link;
pub mod nic;
pub mod pcap;
pub mod ping_demo;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod smol_host;
pub mod workload;
pub mod world;
