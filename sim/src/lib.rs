//! # rusty-sim
//!
//! The deterministic simulator for the Rusty stack. For now it holds the
//! two-stack ping demo that the `rusty-sim` binary runs by default; the
//! discrete-event simulator (virtual time, multi-queue NIC, faulty links,
//! pcap, peers, workloads) grows here.
//!
//! ```
//! let report = rusty_sim::ping_demo::run(&rusty_sim::ping_demo::PingOptions { count: 3, size: 56, lose_first: 0 });
//! assert_eq!(report.replies, 3);
//! ```

pub mod cli;
pub mod cost;
pub mod engine;
pub mod host;
pub mod nic;
pub mod ping_demo;
pub mod report;
pub mod scenario;
