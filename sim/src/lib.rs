//! # rusty-sim
//!
//! The deterministic discrete-event simulator for the Rusty stack, and the
//! `rusty-sim` command line.
//!
//! * [`event`] — the event queue, ordered by (virtual time, insertion order);
//! * [`rng`] — independent seeded ChaCha8 streams derived from one seed;
//! * [`link`] — point-to-point Ethernet links with bandwidth, latency, a
//!   transmit queue and seeded faults;
//! * [`pcap`] — pcap captures stamped with virtual time;
//! * [`nic`] — a multi-queue NIC port: Toeplitz RSS, bounded rings, pools;
//! * [`host`] — hosts: Rusty stacks per core and port, inter-core rings;
//! * [`cost`] — what a core's work costs in virtual time;
//! * [`world`] — hosts and links run by the event loop;
//! * [`determinism`] — every event folded into a running hash with
//!   checkpoints, and the check that names two runs' first divergence;
//! * [`workload`], [`engine`], [`scenario`], [`report`], [`cli`] — what to
//!   run, running it, and telling what happened;
//! * [`smol_host`] — a smoltcp client host, the independent implementation;
//! * [`replay`] — `rusty-sim replay`: captures from the field replayed
//!   exactly or, playing each flow's peer, adaptively;
//! * [`smol_peer`] — the smoltcp device the smoltcp hosts share, and a
//!   smoltcp host for the two-host harness;
//! * [`smol_http`] — an HTTP client and server on smoltcp sockets, with
//!   their own parsers (no Rusty code);
//! * [`interop`] — two hosts (Rusty and smoltcp) on one link in virtual
//!   time, the harness of the interop tests;
//! * [`scripted`] — a scripted raw-frame peer for tests;
//! * [`ping_demo`] — two stacks pinging over the in-memory pair driver;
//! * [`bench`] — `rusty-sim bench`: Rusty and smoltcp side by side in wall
//!   time, one thread, an in-memory link.
//!
//! ```
//! use rusty_sim::{cli::RunOptions, engine, scenario::Scenario};
//!
//! let mut scenario = Scenario::small();
//! scenario.duration = 0.02;
//! let report = engine::run(&scenario, &RunOptions::default(), &mut |_| {}).unwrap();
//! assert!(report.requests_ok > 0 && report.bytes_corrupt == 0);
//! ```

pub mod bench;
pub mod cli;
pub mod cost;
pub mod determinism;
pub mod engine;
pub mod event;
pub mod host;
pub mod interop;
pub mod link;
pub mod nic;
pub mod nic_port;
pub mod pcap;
pub mod ping_demo;
pub mod replay;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod scripted;
pub mod smol_host;
pub mod smol_http;
pub mod smol_peer;
pub mod workload;
pub mod world;
