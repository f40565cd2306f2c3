//! # rusty-alloc-counter
//!
//! A global allocator that forwards to the system allocator and counts the
//! allocations (and reallocations) **of the calling thread only**, so that
//! a zero-allocation test or a benchmark measures its own work and never a
//! test harness thread, a progress bar or a concurrently running test.
//!
//! Install it in a test binary or a program:
//!
//! ```
//! use rusty_alloc_counter::{allocations_during, CountingAllocator};
//!
//! #[global_allocator]
//! static GLOBAL: CountingAllocator = CountingAllocator;
//!
//! let (v, n) = allocations_during(|| Vec::<u8>::with_capacity(16));
//! assert_eq!(n, 1);
//! let (_, n) = allocations_during(|| v.len() + 1);
//! assert_eq!(n, 0);
//! ```
//!
//! Without the allocator installed every count stays 0; [`is_installed`]
//! tells, so that a test can refuse to pass vacuously.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    /// Allocations made by this thread so far. `const`-initialised, so
    /// touching it never allocates (which would recurse).
    static COUNT: Cell<u64> = const { Cell::new(0) };
    /// Bytes those allocations asked for.
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

/// The counting allocator; see the [crate documentation](crate).
#[derive(Clone, Copy, Debug, Default)]
pub struct CountingAllocator;

fn count_one(bytes: usize) {
    // `try_with`: during thread teardown the slot may be gone; not counting
    // then is harmless.
    let _ = COUNT.try_with(|c| c.set(c.get() + 1));
    let _ = BYTES.try_with(|c| c.set(c.get() + bytes as u64));
}

// SAFETY: every call is forwarded unchanged to the system allocator, which
// upholds the `GlobalAlloc` contract; counting touches only a thread-local
// `Cell` and never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one(new_size);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations the calling thread has made since it started (0 if the
/// allocator is not installed).
pub fn thread_allocations() -> u64 {
    COUNT.try_with(Cell::get).unwrap_or(0)
}

/// Bytes the calling thread's allocations asked for since it started
/// (a reallocation counts its new size).
pub fn thread_allocated_bytes() -> u64 {
    BYTES.try_with(Cell::get).unwrap_or(0)
}

/// Runs `f` and returns its result with the number of allocations the
/// calling thread made meanwhile.
pub fn allocations_during<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = thread_allocations();
    let result = f();
    (result, thread_allocations() - before)
}

/// Whether [`CountingAllocator`] is this program's global allocator: it
/// allocates once and looks whether that was counted.
pub fn is_installed() -> bool {
    let (_, n) = allocations_during(|| std::hint::black_box(Box::new(0u64)));
    n > 0
}
