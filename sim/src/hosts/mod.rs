//! Hosts on the simulated network, and what their work costs.
//!
//! * [`rusty`] — Rusty hosts: a stack per core and port, inter-core rings;
//! * [`smoltcp`] — a smoltcp load-client host, the independent
//!   implementation;
//! * [`smol_peer`] — the smoltcp device the smoltcp hosts share, and a
//!   smoltcp host for the two-host harness;
//! * [`smol_http`] — an HTTP client and server on smoltcp sockets, with
//!   their own parsers (no Rusty code);
//! * [`scripted`] — a scripted raw-frame peer for tests;
//! * [`interop`] — two hosts (Rusty and smoltcp) on one link in virtual
//!   time, the harness of the interop tests;
//! * [`attacker`] — a hostile host on the server's segment: SYN floods,
//!   blind RSTs and data, ACKs of unsent data, out-of-window storms;
//! * [`faults`] — faults of a host itself: stalled cores, exhausted pools,
//!   overflowing rings, failing transmit allocations;
//! * [`cost`] — what a core's work costs in virtual time.

pub mod attacker;
pub mod cost;
pub mod faults;
pub mod interop;
pub mod rusty;
pub mod scripted;
pub mod smol_http;
pub mod smol_peer;
pub mod smoltcp;
