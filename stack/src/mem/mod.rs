//! Fixed-capacity memory: everything the stack sizes at start-up and then
//! reuses without touching the heap.
//!
//! * [`buf`] — NIC buffers of the mPIPE size classes in start-up-sized
//!   pools, and [`Frame`](buf::Frame)s, 16-byte descriptors of chained
//!   buffers (its `region` module holds the `unsafe` code that lends
//!   buffer memory to frames);
//! * [`cursor`] — zero-copy cursors that read and write frames (or plain
//!   slices) across buffer boundaries;
//! * [`timer`] — an allocation-free hierarchical timer wheel;
//! * [`prefetch`] — software prefetch hints, for writers that copy from
//!   memory that is not in the caches;
//! * [`huge`] — large start-up regions (pools, page sets) in transparent
//!   huge pages, so streaming through them does not walk page tables.

pub mod buf;
pub mod cursor;
pub mod huge;
#[allow(unsafe_code)]
pub mod prefetch;
pub mod timer;
