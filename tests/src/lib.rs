//! Cross-crate tests live in `tests/`; this library holds shared helpers:
//! a deterministic in-memory network for interop tests between Rusty and
//! smoltcp, an independent TCP/IP implementation.
//!
//! * [`link`] — a virtual-time two-port Ethernet link with seeded loss,
//!   duplication, reordering and corruption;
//! * [`rusty_host`] — a Rusty driver on one port of the link, and a host
//!   wrapping an `Interface` or a TCP stack;
//! * [`smoltcp_host`] — a smoltcp interface, sockets and device on one port;
//! * [`net`] — the event loop that polls both hosts in virtual time;
//! * [`fixtures`] — the benchmark's 500 pages as Rusty app `Content`;
//! * [`smoltcp_http`] — an HTTP client and server on smoltcp sockets.
//!
//! Everything is deterministic: no wall clock, no thread RNG; faults come
//! from a seeded ChaCha8 generator.

pub mod fixtures;
pub mod link;
pub mod net;
pub mod rusty_host;
pub mod rusty_tcp;
pub mod smoltcp_host;
pub mod smoltcp_http;

pub use fixtures::{FixtureSubset, Fixtures};
pub use link::{Link, LinkConfig, LinkStats, Port};
pub use net::{Host, Net, NetError, NetLimits};
pub use rusty_host::{LinkDriver, RustyHost, RustyNode};
pub use smoltcp_host::SmolHost;
