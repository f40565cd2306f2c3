//! # rusty-stack
//!
//! A share-nothing, event-driven, zero-copy TCP/IP stack for many-core
//! network processors (Tilera TILE-Gx mPIPE) that also runs on a simulated
//! multi-core NIC with virtual time.
//!
//! The stack is a sans-IO state machine: a [`nic::Driver`] hands it frames
//! and the current [`time::Instant`]; it answers with frames to transmit.
//! It never reads a clock or an RNG, and allocates nothing per packet.
//!
//! Layout:
//! * [`time`] — driver-supplied instants and durations;
//! * [`mem`] — fixed-capacity memory: [`mem::buf`], NIC buffers of the
//!   mPIPE size classes and chained frames, [`mem::cursor`], zero-copy
//!   cursors over them, and [`mem::timer`], an allocation-free
//!   hierarchical timer wheel;
//! * [`checksum`] and [`prefix_sum`] — the Internet checksum with a 64-bit
//!   accumulator, incremental updates, and precomputed prefix-sum tables;
//! * [`wire`] — typed views and `Repr`s for Ethernet, ARP, IPv4, ICMP, TCP;
//! * [`nic`] — the driver trait and capabilities, [`nic::pair`], an
//!   in-memory pair of drivers for tests, and [`nic::rss`], the NIC's flow
//!   hash;
//! * [`iface`] — the per-core stack: ARP, IPv4, ICMP;
//! * [`stats`] — the drop reasons and counters of every layer.
// `unsafe` is denied everywhere but in `mem::buf::region`, the one module that
// lends buffer memory to frames (its soundness argument is in its docs).
#![deny(unsafe_code)]

pub mod apps;
pub mod checksum;
pub mod iface;
pub mod mem;
pub mod nic;
pub mod prefix_sum;
pub mod stack;
pub mod stats;
pub mod tcp;
pub mod time;
pub mod wire;

pub use crate::mem::buf::Frame;
pub use crate::nic::{Capabilities, Driver};
pub use crate::stack::Stack;
pub use crate::tcp::{App, ConnRef, Connect, StaticWriter, TcpConfig, Writer};
pub use crate::time::Instant;

/// The README's Rust examples, compiled and run as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
