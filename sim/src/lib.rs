//! # rusty-sim
//!
//! The deterministic discrete-event simulator for the Rusty stack, and the
//! `rusty-sim` command line. Each folder is one layer:
//!
//! * [`kernel`] — the simulation kernel: the event queue, the seed tree
//!   (every random choice of a run comes from one seed), the world loop,
//!   and the determinism checker that names two runs' first divergence;
//! * [`net`] — network models: faulty links, the multi-queue NIC, the
//!   emulated mPIPE port, pcap captures;
//! * [`hosts`] — what runs on the network: Rusty hosts, smoltcp hosts and
//!   their independent HTTP apps, a scripted raw-frame peer, the two-host
//!   interop harness, and the cost model of a core's work;
//! * [`scenario`] — what to run: the scenario's serde types, units,
//!   built-ins and validation, and the workload;
//! * [`run`] — running it and telling what happened: the engine, reports,
//!   `bench`, `replay` and the ping demo;
//! * [`cli`] — the `rusty-sim` command line.
//!
//! ```
//! use rusty_sim::{cli::RunOptions, run::engine, scenario::Scenario};
//!
//! let mut scenario = Scenario::small();
//! scenario.duration = 0.02;
//! let report = engine::run(&scenario, &RunOptions::default(), &mut |_| {}).unwrap();
//! assert!(report.requests_ok > 0 && report.bytes_corrupt == 0);
//! ```

pub mod cli;
pub mod hosts;
pub mod kernel;
pub mod net;
pub mod run;
pub mod scenario;
