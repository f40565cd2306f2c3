//! A counting global allocator for `rusty-sim bench`: it counts the heap
//! allocations of one thread while that thread has switched counting on,
//! and nothing else.
//!
//! The `rusty-sim` binary installs [`CountingAlloc`] as its
//! `#[global_allocator]`; the bench calls [`start`] on its measuring thread
//! after the warm-up and [`stop`] at the end of the measured phase. Other
//! threads (the page generator, a test harness) never count: the switch
//! and the counters are thread-local.
//!
//! Every call to `alloc`, `alloc_zeroed` or `realloc` counts as one
//! allocation (a `realloc` may move the block); `dealloc` counts as a free.
//! Without the allocator installed (a library test, another binary),
//! [`installed`] is false and the counts stay at zero.
//!
//! ```
//! use rusty_sim::bench::alloc_count;
//!
//! alloc_count::start();
//! let v = vec![1u8; 100];
//! let counts = alloc_count::stop();
//! drop(v);
//! // Zero here: doc tests do not install the allocator.
//! assert_eq!(counts.allocs > 0, alloc_count::installed());
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

/// The system allocator, counting the calls of threads that asked for it.
#[derive(Clone, Copy, Debug, Default)]
pub struct CountingAlloc;

/// Allocation counts of one thread over a counting period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocCounts {
    /// Calls to `alloc`, `alloc_zeroed` and `realloc`.
    pub allocs: u64,
    /// Bytes those calls asked for.
    pub bytes: u64,
    /// Calls to `dealloc`.
    pub frees: u64,
}

/// Set by the first call through [`CountingAlloc`].
static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    // Const-initialised and without destructors, so reading them never
    // allocates and never fails, even while the thread is being torn down.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
    static FREES: Cell<u64> = const { Cell::new(0) };
}

/// Whether [`CountingAlloc`] is the global allocator of this process (as
/// seen from any allocation made so far).
pub fn installed() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

/// Zeroes this thread's counts and starts counting its allocations.
pub fn start() {
    ALLOCS.with(|c| c.set(0));
    BYTES.with(|c| c.set(0));
    FREES.with(|c| c.set(0));
    COUNTING.with(|c| c.set(true));
}

/// Stops counting this thread's allocations and returns the counts since
/// [`start`].
pub fn stop() -> AllocCounts {
    COUNTING.with(|c| c.set(false));
    counts()
}

/// This thread's counts since the last [`start`] (counting goes on).
pub fn counts() -> AllocCounts {
    AllocCounts {
        allocs: ALLOCS.with(Cell::get),
        bytes: BYTES.with(Cell::get),
        frees: FREES.with(Cell::get),
    }
}

#[inline]
fn note_alloc(size: usize) {
    if !INSTALLED.load(Ordering::Relaxed) {
        INSTALLED.store(true, Ordering::Relaxed);
    }
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        let _ = BYTES.try_with(|c| c.set(c.get() + size as u64));
    }
}

#[inline]
fn note_free() {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = FREES.try_with(|c| c.set(c.get() + 1));
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees carry over; the counting touches only
// const-initialised thread-locals and an atomic, and never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which
        // is `System::alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_free();
        // SAFETY: `ptr` was allocated by `System` (through this allocator)
        // with `layout`, as the caller guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_alloc(new_size);
        // SAFETY: as for `dealloc`, and the caller guarantees `new_size`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_per_thread_and_start_at_zero() {
        start();
        let c = counts();
        assert_eq!(c, AllocCounts::default());
        let other = std::thread::spawn(|| {
            let _v = Box::new([0u8; 10]);
            counts()
        })
        .join()
        .unwrap();
        assert_eq!(other, AllocCounts::default());
        let _ = stop();
    }
}
