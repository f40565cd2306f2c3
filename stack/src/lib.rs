//! # rusty-stack
//!
//! A share-nothing, event-driven, zero-copy TCP/IP stack for many-core
//! network processors (Tilera TILE-Gx mPIPE) that also runs on a simulated
//! multi-core NIC with virtual time.
//!
//! The stack is a sans-IO state machine: a [`Driver`] hands it frames and
//! its owner tells it the current [`Instant`]; it answers with frames to
//! transmit. It never reads a clock or an RNG, and allocates nothing per
//! packet. One [`Stack`] is one core's object: an interface, TCP, and one
//! [`App`] on top.
//!
//! Layout, from the NIC up:
//! * [`nic`] — the boundary with the NIC: the [`Driver`] trait and its
//!   [`Capabilities`], [`nic::pair`] (an in-memory pair of drivers for
//!   tests) and [`nic::rss`] (the NIC's Toeplitz flow hash);
//! * [`mem`] — fixed-capacity memory: [`mem::buf`] (NIC buffers of the
//!   mPIPE size classes and the [`Frame`]s that own them), [`mem::cursor`]
//!   (zero-copy cursors over frames) and [`mem::timer`] (an
//!   allocation-free hierarchical timer wheel);
//! * [`time`] — owner-supplied instants and durations;
//! * [`checksum`] and [`prefix_sum`] — the Internet checksum with a 64-bit
//!   accumulator, incremental updates, and precomputed prefix-sum tables;
//! * [`wire`] — typed views and `Repr`s for Ethernet, ARP, IPv4, ICMP, TCP;
//! * [`iface`] — the per-core interface: ARP, IPv4, ICMP;
//! * [`tcp`] — TCP's parts: the application API ([`App`], [`Writer`]), the
//!   settings ([`TcpConfig`]), congestion control, RTT, SACK scoreboard,
//!   reassembly, the connection table, ISNs and SYN cookies, TIME-WAIT;
//! * [`stack`] — the [`Stack`]: the TCP engine over an interface, split
//!   into demultiplexing, input, output, timers and connection slots, with
//!   one context per event;
//! * [`stats`] — the drop reasons and counters of every layer;
//! * [`meter`] — the cost meter: per-core counts of the operations that
//!   cost CPU time (frames, headers, bytes summed and copied, timer and
//!   table operations, driver and app calls), for a cost model to price;
//! * [`rng`] — the seeded [`rng::SplitMix64`] generator (fault injection,
//!   and the apps' random choices);
//! * `testing` (feature `testing`) — a mock connection handle, so that
//!   applications are unit-tested without a stack.
//!
//! The applications (echo, HTTP page server and load client, bulk
//! transfer) live in their own crate, `rusty-apps` (`stack/apps/`), which
//! uses nothing but this crate's public API: that is what lets them run
//! unchanged on every backend.
//!
//! The types most programs need are re-exported here: [`Stack`], the app
//! API ([`App`], [`Conn`], [`Connect`], [`Writer`], [`StaticWriter`]),
//! [`TcpConfig`], [`Driver`], [`Capabilities`], [`Frame`] and [`Instant`].
// `unsafe` is denied everywhere but in `mem::buf::region`, the one module that
// lends buffer memory to frames (its soundness argument is in its docs), the
// hardware and system-call modules of the mPIPE and TAP backends, and two
// one-line CPU hints: `mem::prefetch` and the AVX2 checksum loop
// (`checksum::wide`).
#![deny(unsafe_code)]

pub mod checksum;
pub mod iface;
pub mod mem;
pub mod meter;
pub mod nic;
pub mod prefix_sum;
pub mod rng;
pub mod stack;
pub mod stats;
pub mod tcp;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
pub mod wire;

pub use crate::mem::buf::Frame;
pub use crate::nic::{Capabilities, Driver};
pub use crate::stack::Stack;
pub use crate::tcp::{App, Conn, Connect, StaticWriter, TcpConfig, Writer};
pub use crate::time::Instant;

/// The README's Rust examples, compiled and run as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
