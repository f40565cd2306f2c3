//! NIC buffers of the mPIPE size classes, start-up-sized pools, and chained
//! frames.
//!
//! * [`Buf`] is one owned, exclusive network buffer whose storage is exactly
//!   one of the [`SIZE_CLASSES`], with a valid window (headroom allowed).
//! * [`BufPool`] keeps one stack of free buffers per size class. Every buffer
//!   and every stack is allocated by [`BufPool::new`]; afterwards
//!   [`BufPool::alloc`], [`BufPool::free`], [`BufPool::alloc_chain`] and
//!   [`BufPool::free_chain`] never touch the heap (a stack never grows beyond
//!   the capacity it was built with; a buffer that does not fit is dropped
//!   and counted as a foreign free).
//! * [`Chain`] is one frame stored in one or more buffers (at most
//!   [`MAX_CHAIN`]), read and written through the zero-copy cursors of
//!   [`crate::cursor`].
//!
//! Chained allocation follows the mPIPE idea: a frame is split over buffers
//! of several size classes so that little memory is wasted; see
//! [`chain_classes`] for the exact, deterministic policy.

use core::fmt;

use arrayvec::ArrayVec;

use crate::cursor::{Cursor, CursorMut, Segments};

/// The mPIPE buffer size classes in bytes, smallest first: five classes for
/// standard frames and three for jumbo frames. A class is named by its index
/// in this array.
pub const SIZE_CLASSES: [usize; 8] = [128, 256, 512, 1024, 1664, 4096, 10368, 16384];

/// Number of size classes (the length of [`SIZE_CLASSES`]).
pub const NUM_CLASSES: usize = SIZE_CLASSES.len();

/// Maximum number of buffers in one chained frame.
pub const MAX_CHAIN: usize = 16;

/// The largest frame a [`Chain`] allocated by [`BufPool::alloc_chain`] with
/// chaining enabled can hold: [`MAX_CHAIN`] buffers of the largest class.
pub const MAX_CHAINED_FRAME: usize = MAX_CHAIN * SIZE_CLASSES[NUM_CLASSES - 1];

/// The smallest size class (index into [`SIZE_CLASSES`]) whose buffers hold
/// `len` bytes, or `None` if `len` exceeds the largest class.
pub fn class_for_len(len: usize) -> Option<usize> {
    SIZE_CLASSES.iter().position(|&size| size >= len)
}

/// The largest size class whose buffers are not longer than `len` bytes, or
/// `None` if `len` is below the smallest class.
fn largest_class_within(len: usize) -> Option<usize> {
    SIZE_CLASSES.iter().rposition(|&size| size <= len)
}

/// The size classes, in frame order, of the buffers that
/// [`BufPool::alloc_chain`] takes for a frame of `len` bytes, or `None` if no
/// allowed set of buffers holds it.
///
/// * Without chaining: one buffer of the smallest class holding `len`
///   ([`class_for_len`]).
/// * With chaining, walking the frame front to back with `r` bytes left:
///   1. if `r` is at least the largest class, take a largest-class buffer;
///   2. otherwise, if the smallest class holding `r` wastes less than the
///      smallest class (128 bytes), or only one slot of the [`MAX_CHAIN`] is
///      left, take it and stop;
///   3. otherwise take the largest class not longer than `r` and go on.
///
///   So the chain of a non-empty frame wastes fewer than 128 bytes unless
///   it uses all [`MAX_CHAIN`] slots, every buffer but the last is full, and
///   no more buffers are used than by a plain greedy fill. For example 513
///   bytes give `512 + 128` (the thesis' example), 1500 bytes give
///   `1024 + 512`, and 1600 bytes give one 1664-byte buffer.
///
/// A zero-length frame gets one buffer of the smallest class in both modes
/// (a frame always has at least one buffer).
pub fn chain_classes(len: usize, chaining: bool) -> Option<ArrayVec<usize, MAX_CHAIN>> {
    let mut classes = ArrayVec::new();
    if !chaining || len == 0 {
        classes.push(class_for_len(len)?);
        return Some(classes);
    }
    let smallest = SIZE_CLASSES[0];
    let largest = NUM_CLASSES - 1;
    let mut remaining = len;
    while remaining > 0 {
        let last_slot = classes.len() + 1 == MAX_CHAIN;
        let class = if remaining >= SIZE_CLASSES[largest] {
            if last_slot && remaining > SIZE_CLASSES[largest] {
                return None;
            }
            largest
        } else {
            // `remaining` is below the largest class, so a fitting class exists.
            let fit = class_for_len(remaining)?;
            if SIZE_CLASSES[fit] - remaining < smallest || last_slot {
                fit
            } else {
                // Waste of `fit` is at least 128, so `remaining` > 128 and a
                // class not longer than it exists; fall back to `fit` anyway.
                largest_class_within(remaining).unwrap_or(fit)
            }
        };
        classes.push(class);
        remaining = remaining.saturating_sub(SIZE_CLASSES[class]);
    }
    Some(classes)
}

/// Errors from buffer operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BufError {
    /// A window `start..start + len` does not lie inside the buffer storage.
    WindowOutOfBounds {
        /// Requested window start.
        start: usize,
        /// Requested window length.
        len: usize,
        /// Capacity of the buffer.
        capacity: usize,
    },
}

impl fmt::Display for BufError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BufError::WindowOutOfBounds {
                start,
                len,
                capacity,
            } => write!(
                f,
                "buffer window {start}+{len} exceeds buffer capacity {capacity}"
            ),
        }
    }
}

impl std::error::Error for BufError {}

/// One owned, exclusive NIC buffer: storage of exactly one size class, and a
/// valid window `start..start + len` inside it (the bytes of the frame; the
/// bytes before `start` are headroom for headers to prepend).
///
/// A `Buf` is not `Clone`: it stands for one hardware buffer, and cloning
/// would allocate. Return it to its pool with [`BufPool::free`].
pub struct Buf {
    data: Box<[u8]>,
    start: usize,
    len: usize,
    class: u8,
}

impl Buf {
    /// Allocates a zeroed buffer of size class `class` outside any pool, with
    /// its window covering the whole storage. Meant for tests and start-up:
    /// it allocates on the heap.
    ///
    /// # Panics
    ///
    /// If `class >= NUM_CLASSES`.
    pub fn new_unpooled(class: usize) -> Buf {
        let size = SIZE_CLASSES[class];
        Buf {
            data: vec![0u8; size].into_boxed_slice(),
            start: 0,
            len: size,
            // `class < NUM_CLASSES = 8` was checked by the index above.
            class: class as u8,
        }
    }

    /// The size class of this buffer (index into [`SIZE_CLASSES`]).
    #[inline]
    pub fn class(&self) -> usize {
        self.class as usize
    }

    /// Size of the whole storage in bytes (`SIZE_CLASSES[self.class()]`).
    #[inline]
    pub fn capacity(&self) -> usize {
        self.data.len()
    }

    /// Length of the valid window in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// The valid window is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Offset of the valid window in the storage (the headroom in bytes).
    #[inline]
    pub fn start(&self) -> usize {
        self.start
    }

    /// Bytes of storage after the valid window.
    #[inline]
    pub fn tailroom(&self) -> usize {
        self.capacity() - self.start - self.len
    }

    /// The valid window.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        &self.data[self.start..self.start + self.len]
    }

    /// The valid window, mutably.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.data[self.start..self.start + self.len]
    }

    /// The whole storage, headroom and tailroom included.
    #[inline]
    pub fn storage(&self) -> &[u8] {
        &self.data
    }

    /// The whole storage, mutably (to build headers in the headroom before
    /// moving the window over them with [`Buf::set_window`]).
    #[inline]
    pub fn storage_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }

    /// Sets the valid window to `start..start + len`, checked against the
    /// capacity; on error the window is unchanged.
    pub fn set_window(&mut self, start: usize, len: usize) -> Result<(), BufError> {
        match start.checked_add(len) {
            Some(end) if end <= self.capacity() => {
                self.start = start;
                self.len = len;
                Ok(())
            }
            _ => Err(BufError::WindowOutOfBounds {
                start,
                len,
                capacity: self.capacity(),
            }),
        }
    }

    /// Shortens the valid window to at most `len` bytes, keeping its start.
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Resets the valid window to the whole storage (no headroom).
    #[inline]
    pub fn reset(&mut self) {
        self.start = 0;
        self.len = self.capacity();
    }
}

impl fmt::Debug for Buf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buf")
            .field("class", &self.class)
            .field("capacity", &self.capacity())
            .field("start", &self.start)
            .field("len", &self.len)
            .finish()
    }
}

/// How many buffers of each size class a [`BufPool`] preallocates, and
/// whether frames may be chained over several buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    /// Number of buffers per size class, indexed like [`SIZE_CLASSES`].
    pub counts: [usize; NUM_CLASSES],
    /// Frames allocated by [`BufPool::alloc_chain`] may span several buffers.
    pub chaining: bool,
}

impl Default for PoolConfig {
    /// A pool fit for tests (about 1 MiB): 256 buffers of each standard class
    /// (128 to 1664 bytes), 8 of 4096 and 4 of each larger jumbo class;
    /// chaining off.
    fn default() -> Self {
        PoolConfig {
            counts: [256, 256, 256, 256, 256, 8, 4, 4],
            chaining: false,
        }
    }
}

impl PoolConfig {
    /// The same number `count` of buffers in every class, chaining off.
    pub const fn uniform(count: usize) -> Self {
        PoolConfig {
            counts: [count; NUM_CLASSES],
            chaining: false,
        }
    }

    /// This configuration with chaining set to `chaining`.
    pub const fn with_chaining(mut self, chaining: bool) -> Self {
        self.chaining = chaining;
        self
    }

    /// Total bytes of buffer storage the configuration preallocates.
    pub fn total_bytes(&self) -> usize {
        self.counts
            .iter()
            .zip(SIZE_CLASSES)
            .map(|(&count, size)| count * size)
            .sum()
    }
}

/// A pool of NIC buffers: one stack of free buffers per size class, all
/// allocated up front by [`BufPool::new`].
///
/// After construction no method allocates or grows anything: a stack holds
/// at most the number of buffers it was configured with, and a buffer freed
/// into a full stack (one that did not come from this pool) is dropped and
/// counted by [`BufPool::foreign_frees`].
pub struct BufPool {
    stacks: [Vec<Buf>; NUM_CLASSES],
    capacity: [usize; NUM_CLASSES],
    chaining: bool,
    alloc_failures: u64,
    foreign_frees: u64,
}

impl BufPool {
    /// Allocates every buffer of `config`, zeroed. This is the only place
    /// the pool touches the heap.
    pub fn new(config: &PoolConfig) -> BufPool {
        let stacks = core::array::from_fn(|class| {
            let count = config.counts[class];
            let mut stack = Vec::with_capacity(count);
            stack.extend((0..count).map(|_| Buf::new_unpooled(class)));
            stack
        });
        BufPool {
            stacks,
            capacity: config.counts,
            chaining: config.chaining,
            alloc_failures: 0,
            foreign_frees: 0,
        }
    }

    /// Frames from [`BufPool::alloc_chain`] may span several buffers.
    pub fn chaining(&self) -> bool {
        self.chaining
    }

    /// Takes a free buffer of size class `class`, its window covering the
    /// whole storage (contents are whatever the last user left). `None`,
    /// counted in [`BufPool::alloc_failures`], if the class is exhausted or
    /// out of range.
    pub fn alloc(&mut self, class: usize) -> Option<Buf> {
        match self.stacks.get_mut(class).and_then(Vec::pop) {
            Some(mut buf) => {
                buf.reset();
                Some(buf)
            }
            None => {
                self.alloc_failures += 1;
                None
            }
        }
    }

    /// Returns a buffer to the stack of its class. If that stack is already
    /// full (the buffer is foreign: allocated elsewhere, or one too many),
    /// the buffer is dropped and counted in [`BufPool::foreign_frees`]
    /// instead of growing the stack. A foreign buffer is accepted while its
    /// stack has room, as the pool cannot tell buffers apart.
    pub fn free(&mut self, buf: Buf) {
        let class = buf.class();
        let stack = &mut self.stacks[class];
        if stack.len() < self.capacity[class] {
            stack.push(buf);
        } else {
            self.foreign_frees += 1;
            drop(buf);
        }
    }

    /// Allocates a frame of exactly `len` bytes, its buffers chosen by
    /// [`chain_classes`] for this pool's chaining mode; each buffer's window
    /// starts at offset 0 and the windows together are `len` bytes long.
    ///
    /// All or nothing: the availability of every needed buffer is checked
    /// before any is taken. `None`, counted once in
    /// [`BufPool::alloc_failures`], if the frame is too long or a needed
    /// class has too few free buffers (there is no fallback to another
    /// class).
    pub fn alloc_chain(&mut self, len: usize) -> Option<Chain> {
        let Some(classes) = chain_classes(len, self.chaining) else {
            self.alloc_failures += 1;
            return None;
        };
        let mut needed = [0usize; NUM_CLASSES];
        for &class in &classes {
            needed[class] += 1;
        }
        if (0..NUM_CLASSES).any(|class| self.stacks[class].len() < needed[class]) {
            self.alloc_failures += 1;
            return None;
        }
        let mut chain = Chain::new();
        let mut remaining = len;
        for &class in &classes {
            // Availability was checked above, so pop succeeds.
            let Some(mut buf) = self.stacks[class].pop() else {
                unreachable!("availability checked");
            };
            let take = remaining.min(buf.capacity());
            buf.start = 0;
            buf.len = take;
            remaining -= take;
            // `classes` has at most MAX_CHAIN entries, so push succeeds.
            if let Err(buf) = chain.push(buf) {
                self.free(buf);
            }
        }
        debug_assert_eq!(remaining, 0);
        Some(chain)
    }

    /// Returns every buffer of `chain` with [`BufPool::free`].
    pub fn free_chain(&mut self, chain: Chain) {
        for buf in chain.into_buffers() {
            self.free(buf);
        }
    }

    /// Number of free buffers of size class `class` (0 if out of range).
    pub fn available(&self, class: usize) -> usize {
        self.stacks.get(class).map_or(0, Vec::len)
    }

    /// Number of buffers of size class `class` the pool was built with (the
    /// most its stack holds; 0 if out of range).
    pub fn capacity(&self, class: usize) -> usize {
        self.capacity.get(class).copied().unwrap_or(0)
    }

    /// Number of failed [`BufPool::alloc`] and [`BufPool::alloc_chain`] calls.
    pub fn alloc_failures(&self) -> u64 {
        self.alloc_failures
    }

    /// Number of buffers dropped by [`BufPool::free`] because their stack was
    /// full.
    pub fn foreign_frees(&self) -> u64 {
        self.foreign_frees
    }
}

impl fmt::Debug for BufPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let available: [usize; NUM_CLASSES] = core::array::from_fn(|c| self.stacks[c].len());
        f.debug_struct("BufPool")
            .field("available", &available)
            .field("capacity", &self.capacity)
            .field("chaining", &self.chaining)
            .field("alloc_failures", &self.alloc_failures)
            .field("foreign_frees", &self.foreign_frees)
            .finish()
    }
}

/// One frame stored in one or more buffers (at most [`MAX_CHAIN`]), in
/// order; the frame is the concatenation of the buffers' windows (some of
/// which may be empty).
#[derive(Debug, Default)]
pub struct Chain {
    bufs: ArrayVec<Buf, MAX_CHAIN>,
}

impl Chain {
    /// An empty chain with no buffers.
    pub fn new() -> Chain {
        Chain {
            bufs: ArrayVec::new(),
        }
    }

    /// A chain of the single buffer `buf`.
    pub fn from_buf(buf: Buf) -> Chain {
        let mut chain = Chain::new();
        chain.bufs.push(buf);
        chain
    }

    /// Appends `buf` at the end of the frame; gives it back if the chain
    /// already has [`MAX_CHAIN`] buffers.
    pub fn push(&mut self, buf: Buf) -> Result<(), Buf> {
        self.bufs.try_push(buf).map_err(|err| err.element())
    }

    /// Length of the frame in bytes: the sum of the buffers' windows.
    pub fn len(&self) -> usize {
        self.bufs.iter().map(Buf::len).sum()
    }

    /// The frame has no bytes (it may still hold buffers).
    pub fn is_empty(&self) -> bool {
        self.bufs.iter().all(Buf::is_empty)
    }

    /// Sum of the buffers' capacities.
    pub fn capacity(&self) -> usize {
        self.bufs.iter().map(Buf::capacity).sum()
    }

    /// The buffers, in frame order.
    pub fn buffers(&self) -> &[Buf] {
        &self.bufs
    }

    /// The buffers, mutably (for example to move windows).
    pub fn buffers_mut(&mut self) -> &mut [Buf] {
        &mut self.bufs
    }

    /// The bytes of the frame as contiguous, non-empty pieces.
    pub fn segments(&self) -> Segments<'_> {
        self.cursor().segments()
    }

    /// A read cursor over the whole frame.
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor::from_buffers(&self.bufs)
    }

    /// A write cursor over the whole frame.
    pub fn cursor_mut(&mut self) -> CursorMut<'_> {
        CursorMut::from_buffers(&mut self.bufs)
    }

    /// Shortens the frame to at most `len` bytes by shrinking windows from
    /// the end; buffers emptied this way stay in the chain.
    pub fn truncate(&mut self, len: usize) {
        let mut keep = len;
        for buf in &mut self.bufs {
            let here = buf.len().min(keep);
            buf.truncate(here);
            keep -= here;
        }
    }

    /// Takes the buffers out of the chain (to free them).
    pub fn into_buffers(self) -> ArrayVec<Buf, MAX_CHAIN> {
        self.bufs
    }

    /// Copies the frame into a new `Vec`. Allocates: for tests and debugging
    /// only.
    pub fn copy_to_vec(&self) -> Vec<u8> {
        self.cursor().copy_to_vec()
    }
}

impl From<Buf> for Chain {
    fn from(buf: Buf) -> Chain {
        Chain::from_buf(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(len: usize, chaining: bool) -> Vec<usize> {
        chain_classes(len, chaining)
            .map(|c| c.iter().map(|&c| SIZE_CLASSES[c]).collect())
            .unwrap_or_default()
    }

    #[test]
    fn class_for_len_boundaries() {
        assert_eq!(class_for_len(0), Some(0));
        assert_eq!(class_for_len(128), Some(0));
        assert_eq!(class_for_len(129), Some(1));
        assert_eq!(class_for_len(1500), Some(4));
        assert_eq!(class_for_len(1664), Some(4));
        assert_eq!(class_for_len(1665), Some(5));
        assert_eq!(class_for_len(16384), Some(7));
        assert_eq!(class_for_len(16385), None);
    }

    #[test]
    fn window_is_checked() {
        let mut buf = Buf::new_unpooled(0);
        assert_eq!(buf.capacity(), 128);
        assert_eq!(buf.len(), 128);
        buf.set_window(10, 20).unwrap();
        assert_eq!(buf.as_slice().len(), 20);
        assert_eq!(buf.start(), 10);
        assert_eq!(buf.tailroom(), 98);
        assert_eq!(
            buf.set_window(100, 29),
            Err(BufError::WindowOutOfBounds {
                start: 100,
                len: 29,
                capacity: 128
            })
        );
        assert!(buf.set_window(usize::MAX, 2).is_err());
        assert_eq!((buf.start(), buf.len()), (10, 20));
        buf.set_window(128, 0).unwrap();
        assert!(buf.is_empty());
        assert!(BufError::WindowOutOfBounds {
            start: 1,
            len: 2,
            capacity: 3
        }
        .to_string()
        .contains("capacity 3"));
    }

    #[test]
    fn unchained_policy_is_smallest_fitting_class() {
        assert_eq!(classes(0, false), [128]);
        assert_eq!(classes(60, false), [128]);
        assert_eq!(classes(513, false), [1024]);
        assert_eq!(classes(1514, false), [1664]);
        assert_eq!(classes(9000, false), [10368]);
        assert_eq!(classes(16384, false), [16384]);
        assert!(chain_classes(16385, false).is_none());
    }

    #[test]
    fn chained_policy_examples() {
        assert_eq!(classes(0, true), [128]);
        assert_eq!(classes(1, true), [128]);
        assert_eq!(classes(128, true), [128]);
        assert_eq!(classes(129, true), [256]);
        assert_eq!(classes(513, true), [512, 128]);
        assert_eq!(classes(1500, true), [1024, 512]);
        assert_eq!(classes(1514, true), [1024, 512]);
        assert_eq!(classes(1600, true), [1664]);
        assert_eq!(classes(1664, true), [1664]);
        assert_eq!(classes(9000, true), [4096, 4096, 512, 256, 128]);
        assert_eq!(classes(16384, true), [16384]);
        assert_eq!(classes(16385, true), [16384, 128]);
        assert_eq!(classes(MAX_CHAINED_FRAME, true), [16384; MAX_CHAIN]);
        assert!(chain_classes(MAX_CHAINED_FRAME + 1, true).is_none());
    }

    #[test]
    fn chained_policy_wastes_little_and_respects_max_chain() {
        let lens = (1..20_000).chain((MAX_CHAINED_FRAME - 40_000)..=MAX_CHAINED_FRAME);
        for len in lens {
            let c = chain_classes(len, true).expect("fits");
            assert!(!c.is_empty() && c.len() <= MAX_CHAIN, "len {len}");
            let cap: usize = c.iter().map(|&c| SIZE_CLASSES[c]).sum();
            assert!(cap >= len, "len {len}");
            // Every buffer but the last is completely used.
            let before_last: usize = c[..c.len() - 1].iter().map(|&c| SIZE_CLASSES[c]).sum();
            assert!(before_last < len, "len {len}");
            assert!(
                cap - len < SIZE_CLASSES[0] || c.len() == MAX_CHAIN,
                "len {len}: waste {}",
                cap - len
            );
        }
    }

    #[test]
    fn pool_alloc_free_and_exhaustion() {
        let mut pool = BufPool::new(&PoolConfig {
            counts: [2, 1, 0, 0, 0, 0, 0, 0],
            chaining: false,
        });
        assert_eq!(pool.available(0), 2);
        assert_eq!(pool.capacity(0), 2);
        assert_eq!(pool.available(2), 0);
        assert_eq!(pool.available(99), 0);
        let mut a = pool.alloc(0).unwrap();
        a.set_window(3, 4).unwrap();
        let b = pool.alloc(0).unwrap();
        assert!(pool.alloc(0).is_none());
        assert!(pool.alloc(2).is_none());
        assert!(pool.alloc(99).is_none());
        assert_eq!(pool.alloc_failures(), 3);
        pool.free(a);
        pool.free(b);
        assert_eq!(pool.available(0), 2);
        // The window is reset on allocation.
        let a = pool.alloc(0).unwrap();
        assert_eq!((a.start(), a.len()), (0, 128));
        pool.free(a);
        assert_eq!(pool.foreign_frees(), 0);
    }

    #[test]
    fn foreign_frees_are_dropped_not_stacked() {
        let mut pool = BufPool::new(&PoolConfig {
            counts: [1, 0, 0, 0, 0, 0, 0, 0],
            chaining: false,
        });
        pool.free(Buf::new_unpooled(0));
        pool.free(Buf::new_unpooled(3));
        assert_eq!(pool.foreign_frees(), 2);
        assert_eq!(pool.available(0), 1);
        assert_eq!(pool.available(3), 0);
        // A foreign buffer is accepted while its stack has room.
        let a = pool.alloc(0).unwrap();
        pool.free(Buf::new_unpooled(0));
        pool.free(a);
        assert_eq!(pool.foreign_frees(), 3);
        assert_eq!(pool.available(0), 1);
    }

    #[test]
    fn stacks_never_grow() {
        let mut pool = BufPool::new(&PoolConfig::uniform(3));
        let caps: Vec<usize> = pool.stacks.iter().map(Vec::capacity).collect();
        for class in 0..NUM_CLASSES {
            for _ in 0..5 {
                pool.free(Buf::new_unpooled(class));
            }
        }
        let after: Vec<usize> = pool.stacks.iter().map(Vec::capacity).collect();
        assert_eq!(caps, after);
        assert_eq!(pool.foreign_frees(), 5 * NUM_CLASSES as u64);
    }

    #[test]
    fn alloc_chain_unchained() {
        let mut pool = BufPool::new(&PoolConfig::default());
        let chain = pool.alloc_chain(1514).unwrap();
        assert_eq!(chain.buffers().len(), 1);
        assert_eq!(chain.buffers()[0].class(), 4);
        assert_eq!(chain.len(), 1514);
        assert_eq!(pool.available(4), 255);
        pool.free_chain(chain);
        assert_eq!(pool.available(4), 256);
        assert!(pool.alloc_chain(16385).is_none());
        assert_eq!(pool.alloc_failures(), 1);
        let empty = pool.alloc_chain(0).unwrap();
        assert_eq!((empty.buffers().len(), empty.len()), (1, 0));
        assert!(empty.is_empty());
        pool.free_chain(empty);
    }

    #[test]
    fn alloc_chain_chained_windows() {
        let mut pool = BufPool::new(&PoolConfig::default().with_chaining(true));
        assert!(pool.chaining());
        let chain = pool.alloc_chain(9000).unwrap();
        let lens: Vec<usize> = chain.buffers().iter().map(Buf::len).collect();
        assert_eq!(lens, [4096, 4096, 512, 256, 40]);
        assert!(chain.buffers().iter().all(|b| b.start() == 0));
        assert_eq!(chain.len(), 9000);
        assert_eq!(chain.capacity(), 9088);
        pool.free_chain(chain);
        assert_eq!(pool.available(5), 8);
    }

    #[test]
    fn alloc_chain_is_all_or_nothing() {
        // 9000 bytes need two 4096 buffers; only one exists.
        let mut pool = BufPool::new(&PoolConfig {
            counts: [4, 4, 4, 4, 4, 1, 0, 0],
            chaining: true,
        });
        let before: Vec<usize> = (0..NUM_CLASSES).map(|c| pool.available(c)).collect();
        assert!(pool.alloc_chain(9000).is_none());
        let after: Vec<usize> = (0..NUM_CLASSES).map(|c| pool.available(c)).collect();
        assert_eq!(before, after);
        assert_eq!(pool.alloc_failures(), 1);
        // Exhaust class 0, then a chain needing a 128 tail fails whole.
        let mut held = Vec::new();
        while let Some(b) = pool.alloc(0) {
            held.push(b);
        }
        let failures = pool.alloc_failures();
        assert!(pool.alloc_chain(513).is_none());
        assert_eq!(pool.available(2), 4);
        assert_eq!(pool.alloc_failures(), failures + 1);
        for b in held {
            pool.free(b);
        }
        let chain = pool.alloc_chain(513).unwrap();
        assert_eq!(chain.buffers().len(), 2);
        pool.free_chain(chain);
        assert_eq!(pool.foreign_frees(), 0);
    }

    #[test]
    fn chain_push_respects_max_chain() {
        let mut chain = Chain::new();
        for _ in 0..MAX_CHAIN {
            chain.push(Buf::new_unpooled(0)).unwrap();
        }
        let back = chain.push(Buf::new_unpooled(1)).unwrap_err();
        assert_eq!(back.class(), 1);
        assert_eq!(chain.buffers().len(), MAX_CHAIN);
        assert_eq!(chain.len(), MAX_CHAIN * 128);
    }

    #[test]
    fn chain_truncate_keeps_buffers() {
        let mut chain = Chain::new();
        for (start, len) in [(0, 10), (5, 0), (2, 7), (0, 3)] {
            let mut b = Buf::new_unpooled(0);
            b.set_window(start, len).unwrap();
            chain.push(b).unwrap();
        }
        assert_eq!(chain.len(), 20);
        chain.truncate(25);
        assert_eq!(chain.len(), 20);
        chain.truncate(12);
        let lens: Vec<usize> = chain.buffers().iter().map(Buf::len).collect();
        assert_eq!(lens, [10, 0, 2, 0]);
        chain.truncate(0);
        assert!(chain.is_empty());
        assert_eq!(chain.buffers().len(), 4);
        assert_eq!(chain.into_buffers().len(), 4);
    }

    #[test]
    fn chain_contents_and_segments() {
        let mut a = Buf::new_unpooled(0);
        a.storage_mut()[..4].copy_from_slice(b"abcd");
        a.set_window(1, 3).unwrap();
        let mut e = Buf::new_unpooled(0);
        e.set_window(0, 0).unwrap();
        let mut b = Buf::new_unpooled(0);
        b.storage_mut()[10..12].copy_from_slice(b"ef");
        b.set_window(10, 2).unwrap();
        let mut chain = Chain::from(a);
        chain.push(e).unwrap();
        chain.push(b).unwrap();
        assert_eq!(chain.copy_to_vec(), b"bcdef");
        let segs: Vec<&[u8]> = chain.segments().collect();
        assert_eq!(segs, [&b"bcd"[..], &b"ef"[..]]);
        chain.buffers_mut()[2].as_mut_slice()[0] = b'E';
        assert_eq!(chain.copy_to_vec(), b"bcdEf");
        assert!(format!("{chain:?}").contains("Buf"));
    }
}
