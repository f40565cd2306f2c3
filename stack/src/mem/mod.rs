//! Fixed-capacity memory: everything the stack sizes at start-up and then
//! reuses without touching the heap.
//!
//! * [`buf`] — NIC buffers of the mPIPE size classes in start-up-sized
//!   pools, and [`Frame`](buf::Frame)s, 24-byte descriptors of chained
//!   buffers (its `region` module is the only one in the crate with
//!   `unsafe` code);
//! * [`cursor`] — zero-copy cursors that read and write frames (or plain
//!   slices) across buffer boundaries;
//! * [`timer`] — an allocation-free hierarchical timer wheel.

pub mod buf;
pub mod cursor;
pub mod timer;
