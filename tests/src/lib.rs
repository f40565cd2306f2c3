//! Cross-crate tests live in `tests/`; this library holds what they share
//! beyond the simulator. The interop tests between Rusty and smoltcp (an
//! independent TCP/IP implementation) run on the simulator's network
//! model: `rusty_sim::hosts::interop` (two hosts on one `rusty_sim::net::link::Link`,
//! seeds from the one seed tree), `rusty_sim::hosts::smol_peer` (the smoltcp
//! host) and `rusty_sim::hosts::smol_http` (HTTP on smoltcp sockets, with its own
//! parsers).
//!
//! * [`fixtures`] — a subset of the benchmark's 500 pages as Rusty app
//!   `Content` (the whole set is `rusty_fixtures::PageContent`).

pub mod fixtures;

pub use fixtures::FixtureSubset;
