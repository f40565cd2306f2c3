//! Buffer memory and the frames that own parts of it: the only module of
//! the crate with `unsafe` code.
//!
//! A [`BufPool`] owns one contiguous region of buffer memory, carved at
//! construction into buffers of the mPIPE size classes, a table of buffer
//! windows (`start`, `len`, and the link to the next buffer of a chained
//! frame, which the mPIPE keeps in the buffer itself), and one stack of free
//! buffer numbers per class. A [`Frame`] is a 24-byte descriptor: the pool,
//! the number of its first buffer, how many buffers it chains and how many
//! bytes they hold. Moving a frame moves those 24 bytes, never the data.
//!
//! # Why the `unsafe` is sound
//!
//! The bytes live in `UnsafeCell`s, so writing through a shared reference
//! to the pool is allowed; what must be proven is that no two live
//! references to the same bytes exist where one of them is `&mut`. That
//! follows from one invariant, kept by every function of this module:
//!
//! > **Every buffer is either on its class's free stack or owned by exactly
//! > one live `Frame`, and a frame's chain links only buffers it owns.**
//!
//! * A buffer leaves a free stack only in [`BufPool::alloc`] and
//!   [`BufPool::alloc_chain`], into a new frame; it returns only when the
//!   frame that owns it is dropped. `Frame` is neither `Clone` nor `Copy`,
//!   and [`Frame::push`] takes the other frame's buffers over and leaves it
//!   owning none.
//! * Shared byte slices of a frame's buffers are made only from `&Frame`
//!   (through [`Segs`]), mutable ones only from `&mut Frame` (through
//!   [`SegsMut`]), with the borrow's lifetime: the borrow checker then
//!   forbids a mutable and any other view of one frame at the same time,
//!   and different frames own different buffers.
//! * A [`SegsMut`] yields each of its buffers at most once;
//!   [`SegsMut::split`] cuts it into two that cover disjoint buffers, and
//!   [`SegsMut::reborrow`] lends it for a shorter lifetime, during which
//!   the original cannot be used.
//! * Windows (and links) change only through `&mut Frame`, so no slice
//!   made from an older window is alive when one changes.
//! * The pool is reference-counted (`Rc`), so its memory outlives every
//!   frame; `Rc` and `Cell` make frames and pools neither `Send` nor
//!   `Sync`: one core's memory is used by that core only.

use core::cell::{Cell, UnsafeCell};
use core::fmt;
use core::marker::PhantomData;
use std::rc::Rc;

use super::{chain_classes, BufError, PoolConfig, MAX_CHAIN, NUM_CLASSES, SIZE_CLASSES};
use crate::mem::cursor::{Cursor, CursorMut, Segments};

/// The link after the last buffer of a chain.
const END: u32 = u32::MAX;

/// A buffer's valid window and its link to the next buffer of its frame.
#[derive(Clone, Copy, Debug)]
struct Window {
    start: u32,
    len: u32,
    next: u32,
}

/// Free buffer numbers of one size class.
struct FreeStack {
    slots: Box<[Cell<u32>]>,
    top: Cell<usize>,
}

impl FreeStack {
    fn pop(&self) -> Option<u32> {
        let top = self.top.get().checked_sub(1)?;
        self.top.set(top);
        Some(self.slots[top].get())
    }

    fn push(&self, id: u32) {
        let top = self.top.get();
        // Every buffer is pushed once per pop (the module invariant), so the
        // stack never overflows; if it ever did, leaking is the safe answer.
        debug_assert!(top < self.slots.len(), "free stack overflow");
        if let Some(slot) = self.slots.get(top) {
            slot.set(id);
            self.top.set(top + 1);
        }
    }
}

/// The memory, window table and free stacks of one pool.
struct Region {
    storage: Box<[UnsafeCell<u8>]>,
    /// Offset of each buffer in `storage`.
    offset: Box<[usize]>,
    /// Size class of each buffer.
    class: Box<[u8]>,
    window: Box<[Cell<Window>]>,
    free: [FreeStack; NUM_CLASSES],
    capacity: [usize; NUM_CLASSES],
    chaining: bool,
    alloc_failures: Cell<u64>,
}

impl Region {
    fn capacity_of(&self, id: u32) -> usize {
        SIZE_CLASSES[usize::from(self.class[id as usize])]
    }

    /// The window bytes of buffer `id`.
    ///
    /// # Safety
    ///
    /// For the lifetime of the result, no `&mut` to any byte of buffer `id`
    /// may exist: the caller holds a shared borrow of the frame that owns
    /// the buffer (see the module documentation).
    unsafe fn bytes(&self, id: u32) -> &[u8] {
        let w = self.window[id as usize].get();
        let at = self.offset[id as usize] + w.start as usize;
        let cells = &self.storage[at..at + w.len as usize];
        // SAFETY: `cells` is in bounds (checked by the indexing above);
        // `UnsafeCell<u8>` has the layout of `u8`; the caller guarantees
        // that nothing writes these bytes while the slice lives.
        unsafe { core::slice::from_raw_parts(UnsafeCell::raw_get(cells.as_ptr()), cells.len()) }
    }

    /// The whole storage of buffer `id`, headroom and tailroom included.
    ///
    /// # Safety
    ///
    /// For the lifetime of the result, no other reference to any byte of
    /// buffer `id` may exist: the caller holds an exclusive borrow of the
    /// frame that owns the buffer, and hands out no other slice of it.
    #[allow(clippy::mut_from_ref)]
    unsafe fn storage_mut(&self, id: u32) -> &mut [u8] {
        let at = self.offset[id as usize];
        let cells = &self.storage[at..at + self.capacity_of(id)];
        // SAFETY: in bounds (checked above), `UnsafeCell<u8>` has the layout
        // of `u8` and permits writes through a shared reference; the caller
        // guarantees exclusive access to this buffer.
        unsafe { core::slice::from_raw_parts_mut(UnsafeCell::raw_get(cells.as_ptr()), cells.len()) }
    }

    /// The window bytes of buffer `id`, mutably.
    ///
    /// # Safety
    ///
    /// As for [`Region::storage_mut`].
    #[allow(clippy::mut_from_ref)]
    unsafe fn bytes_mut(&self, id: u32) -> &mut [u8] {
        let w = self.window[id as usize].get();
        // SAFETY: forwarded contract.
        let storage = unsafe { self.storage_mut(id) };
        &mut storage[w.start as usize..(w.start + w.len) as usize]
    }
}

/// A pool of NIC buffers of the mPIPE size classes over one memory region,
/// all allocated by [`BufPool::new`]; afterwards nothing allocates.
///
/// The pool is a cheap handle (`Clone` shares it): the driver that owns the
/// memory keeps one and so does every frame, so a frame returns its buffers
/// to the stacks it came from when it is dropped, wherever it is then.
#[derive(Clone)]
pub struct BufPool {
    region: Rc<Region>,
}

impl BufPool {
    /// Allocates the memory and tables for every buffer of `config`,
    /// zeroed. This is the only place the pool touches the heap.
    ///
    /// # Panics
    ///
    /// If the configuration has more than `u32::MAX - 1` buffers.
    pub fn new(config: &PoolConfig) -> BufPool {
        let buffers: usize = config.counts.iter().sum();
        assert!(buffers < END as usize, "too many buffers in one pool");
        let mut offset = Vec::with_capacity(buffers);
        let mut class = Vec::with_capacity(buffers);
        let mut window = Vec::with_capacity(buffers);
        let mut at = 0usize;
        let free = core::array::from_fn(|c| {
            let slots: Box<[Cell<u32>]> = (0..config.counts[c])
                .map(|_| {
                    let id = offset.len() as u32;
                    offset.push(at);
                    class.push(c as u8);
                    window.push(Cell::new(Window {
                        start: 0,
                        len: SIZE_CLASSES[c] as u32,
                        next: END,
                    }));
                    at += SIZE_CLASSES[c];
                    Cell::new(id)
                })
                // Pop order: the lowest-numbered buffer first.
                .rev()
                .collect();
            FreeStack {
                top: Cell::new(slots.len()),
                slots,
            }
        });
        let storage = (0..at).map(|_| UnsafeCell::new(0u8)).collect();
        BufPool {
            region: Rc::new(Region {
                storage,
                offset: offset.into(),
                class: class.into(),
                window: window.into(),
                free,
                capacity: config.counts,
                chaining: config.chaining,
                alloc_failures: Cell::new(0),
            }),
        }
    }

    /// Frames from [`BufPool::alloc_chain`] may span several buffers.
    pub fn chaining(&self) -> bool {
        self.region.chaining
    }

    /// A frame of one free buffer of size class `class`, its window covering
    /// the whole storage (contents are whatever the last user left). `None`,
    /// counted in [`BufPool::alloc_failures`], if the class is exhausted or
    /// out of range.
    pub fn alloc(&self, class: usize) -> Option<Frame> {
        let r = &self.region;
        let Some(id) = r.free.get(class).and_then(FreeStack::pop) else {
            r.alloc_failures.set(r.alloc_failures.get() + 1);
            return None;
        };
        let len = SIZE_CLASSES[class] as u32;
        r.window[id as usize].set(Window {
            start: 0,
            len,
            next: END,
        });
        Some(Frame {
            pool: self.clone(),
            head: id,
            count: 1,
            len,
        })
    }

    /// A frame of exactly `len` bytes, its buffers chosen by
    /// [`chain_classes`] for this pool's chaining mode; each buffer's window
    /// starts at offset 0 and the windows together are `len` bytes long.
    ///
    /// All or nothing: the availability of every needed buffer is checked
    /// before any is taken. `None`, counted once in
    /// [`BufPool::alloc_failures`], if the frame is too long or a needed
    /// class has too few free buffers (there is no fallback to another
    /// class).
    pub fn alloc_chain(&self, len: usize) -> Option<Frame> {
        let r = &self.region;
        let fail = || {
            r.alloc_failures.set(r.alloc_failures.get() + 1);
            None
        };
        // One buffer (chaining off, or a frame no larger than the smallest
        // class): the same choice `chain_classes` makes, without building
        // its list.
        if !r.chaining || len <= SIZE_CLASSES[0] {
            let Some(class) = super::class_for_len(len) else {
                return fail();
            };
            let Some(id) = r.free[class].pop() else {
                return fail();
            };
            r.window[id as usize].set(Window {
                start: 0,
                len: len as u32,
                next: END,
            });
            return Some(Frame {
                pool: self.clone(),
                head: id,
                count: 1,
                len: len as u32,
            });
        }
        let Some(classes) = chain_classes(len, r.chaining) else {
            return fail();
        };
        let mut needed = [0usize; NUM_CLASSES];
        for &class in &classes {
            needed[class] += 1;
        }
        if (0..NUM_CLASSES).any(|class| r.free[class].top.get() < needed[class]) {
            return fail();
        }
        // Link from the back so each buffer knows its successor.
        let mut next = END;
        let mut remaining = len;
        let full_before_last: usize = classes[..classes.len() - 1]
            .iter()
            .map(|&c| SIZE_CLASSES[c])
            .sum();
        for (i, &class) in classes.iter().enumerate().rev() {
            let Some(id) = r.free[class].pop() else {
                unreachable!("availability checked");
            };
            let take = if i + 1 == classes.len() {
                len - full_before_last
            } else {
                SIZE_CLASSES[class]
            };
            r.window[id as usize].set(Window {
                start: 0,
                len: take as u32,
                next,
            });
            remaining -= take;
            next = id;
        }
        debug_assert_eq!(remaining, 0);
        Some(Frame {
            pool: self.clone(),
            head: next,
            count: classes.len() as u16,
            len: len as u32,
        })
    }

    /// Number of free buffers of size class `class` (0 if out of range).
    pub fn available(&self, class: usize) -> usize {
        self.region.free.get(class).map_or(0, |s| s.top.get())
    }

    /// Number of buffers of size class `class` the pool was built with (0 if
    /// out of range).
    pub fn capacity(&self, class: usize) -> usize {
        self.region.capacity.get(class).copied().unwrap_or(0)
    }

    /// Buffers currently owned by frames (of every class).
    pub fn in_use(&self) -> usize {
        (0..NUM_CLASSES)
            .map(|c| self.capacity(c) - self.available(c))
            .sum()
    }

    /// Number of failed [`BufPool::alloc`] and [`BufPool::alloc_chain`] calls.
    pub fn alloc_failures(&self) -> u64 {
        self.region.alloc_failures.get()
    }

    /// `frame`'s buffers belong to this pool.
    pub fn owns(&self, frame: &Frame) -> bool {
        Rc::ptr_eq(&self.region, &frame.pool.region)
    }
}

impl fmt::Debug for BufPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let available: [usize; NUM_CLASSES] = core::array::from_fn(|c| self.available(c));
        f.debug_struct("BufPool")
            .field("available", &available)
            .field("capacity", &self.region.capacity)
            .field("chaining", &self.region.chaining)
            .field("alloc_failures", &self.alloc_failures())
            .finish()
    }
}

/// One frame: a descriptor of one or more buffers of a [`BufPool`] (at most
/// [`MAX_CHAIN`]), in order; the frame's bytes are the concatenation of the
/// buffers' windows (some of which may be empty).
///
/// A frame owns its buffers: it is not `Clone`, and dropping it returns them
/// to their pool. Read and write its bytes with [`Frame::cursor`] and
/// [`Frame::cursor_mut`].
pub struct Frame {
    pool: BufPool,
    head: u32,
    count: u16,
    len: u32,
}

/// Size class and window of one buffer of a frame (from [`Frame::buffers`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufInfo {
    /// The size class (index into [`SIZE_CLASSES`]).
    pub class: usize,
    /// Bytes of storage (`SIZE_CLASSES[class]`).
    pub capacity: usize,
    /// Offset of the window in the storage (the headroom).
    pub start: usize,
    /// Length of the window.
    pub len: usize,
}

impl BufInfo {
    /// Bytes of storage after the window.
    pub fn tailroom(&self) -> usize {
        self.capacity - self.start - self.len
    }
}

impl Frame {
    fn region(&self) -> &Region {
        &self.pool.region
    }

    /// Buffer numbers of the chain, in order.
    fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        let r = self.region();
        let mut next = self.head;
        (0..self.count).map(move |_| {
            let id = next;
            next = r.window[id as usize].get().next;
            id
        })
    }

    /// Length of the frame in bytes: the sum of the buffers' windows.
    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// The frame has no bytes (it may still hold buffers).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of buffers in the chain.
    #[inline]
    pub fn buffer_count(&self) -> usize {
        usize::from(self.count)
    }

    /// The pool the frame's buffers belong to.
    pub fn pool(&self) -> &BufPool {
        &self.pool
    }

    /// Size class and window of each buffer, in frame order.
    pub fn buffers(&self) -> impl Iterator<Item = BufInfo> + '_ {
        let r = self.region();
        self.ids().map(move |id| {
            let w = r.window[id as usize].get();
            BufInfo {
                class: usize::from(r.class[id as usize]),
                capacity: r.capacity_of(id),
                start: w.start as usize,
                len: w.len as usize,
            }
        })
    }

    /// Sum of the buffers' capacities.
    pub fn capacity(&self) -> usize {
        self.buffers().map(|b| b.capacity).sum()
    }

    /// A read cursor over the whole frame.
    #[inline]
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor::from_segs(
            Segs {
                region: Some(self.region()),
                next: self.head,
                count: self.count,
            },
            self.len(),
        )
    }

    /// A write cursor over the whole frame.
    #[inline]
    pub fn cursor_mut(&mut self) -> CursorMut<'_> {
        let len = self.len();
        CursorMut::from_segs(
            SegsMut {
                region: Some(&self.pool.region),
                next: self.head,
                count: self.count,
                _bytes: PhantomData,
            },
            len,
        )
    }

    /// The bytes of the frame as contiguous, non-empty pieces.
    pub fn segments(&self) -> Segments<'_> {
        self.cursor().segments()
    }

    /// Copies the frame into a new `Vec`. Allocates: for tests and debugging
    /// only.
    pub fn copy_to_vec(&self) -> Vec<u8> {
        self.cursor().copy_to_vec()
    }

    /// Sets the window of buffer `index` (in frame order) to
    /// `start..start + len`, checked against its capacity; on error (or an
    /// index past the chain, reported as a window of capacity 0) nothing
    /// changes.
    pub fn set_window(&mut self, index: usize, start: usize, len: usize) -> Result<(), BufError> {
        let Some(id) = self.ids().nth(index) else {
            return Err(BufError::WindowOutOfBounds {
                start,
                len,
                capacity: 0,
            });
        };
        let r = &self.pool.region;
        let capacity = r.capacity_of(id);
        match start.checked_add(len) {
            Some(end) if end <= capacity => {
                let cell = &r.window[id as usize];
                let old = cell.get();
                cell.set(Window {
                    start: start as u32,
                    len: len as u32,
                    next: old.next,
                });
                self.len = self.len - old.len + len as u32;
                Ok(())
            }
            _ => Err(BufError::WindowOutOfBounds {
                start,
                len,
                capacity,
            }),
        }
    }

    /// The window bytes of buffer `index` (in frame order); `None` past the
    /// chain.
    pub fn window(&self, index: usize) -> Option<&[u8]> {
        let id = self.ids().nth(index)?;
        // SAFETY: `&self` is a shared borrow of the frame that owns buffer
        // `id`, and the slice borrows it: no `&mut` to it can exist.
        Some(unsafe { self.pool.region.bytes(id) })
    }

    /// The whole storage of buffer `index` (headroom and tailroom
    /// included), to build headers before moving the window over them with
    /// [`Frame::set_window`]; `None` past the chain.
    pub fn storage_mut(&mut self, index: usize) -> Option<&mut [u8]> {
        let id = self.ids().nth(index)?;
        // SAFETY: `&mut self` is an exclusive borrow of the frame that owns
        // buffer `id`, and the slice borrows it.
        Some(unsafe { self.pool.region.storage_mut(id) })
    }

    /// Shortens the frame to at most `len` bytes by shrinking windows from
    /// the end; buffers emptied this way stay in the chain.
    pub fn truncate(&mut self, len: usize) {
        let r = &self.pool.region;
        let mut keep = len;
        let mut next = self.head;
        for _ in 0..self.count {
            let cell = &r.window[next as usize];
            let mut w = cell.get();
            let here = (w.len as usize).min(keep);
            keep -= here;
            w.len = here as u32;
            cell.set(w);
            next = w.next;
        }
        self.len = self.len.min(len as u32);
    }

    /// Appends `other`'s buffers at the end of this frame (its bytes follow
    /// ours). Gives `other` back unchanged if it belongs to another pool or
    /// the chain would exceed [`MAX_CHAIN`] buffers.
    pub fn push(&mut self, mut other: Frame) -> Result<(), Frame> {
        if !self.pool.owns(&other) || self.buffer_count() + other.buffer_count() > MAX_CHAIN {
            return Err(other);
        }
        let last = self.ids().last().unwrap_or(END);
        let r = &self.pool.region;
        if let Some(cell) = r.window.get(last as usize) {
            let mut w = cell.get();
            w.next = other.head;
            cell.set(w);
        } else {
            self.head = other.head;
        }
        self.count += other.count;
        self.len += other.len;
        // `other` no longer owns the buffers: its drop frees nothing.
        other.count = 0;
        other.len = 0;
        Ok(())
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        let r = &self.pool.region;
        let mut next = self.head;
        for _ in 0..self.count {
            let id = next;
            next = r.window[id as usize].get().next;
            r.free[usize::from(r.class[id as usize])].push(id);
        }
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("len", &self.len)
            .field("buffers", &self.buffers().collect::<Vec<_>>())
            .finish()
    }
}

/// The windows of a run of buffers of one frame, yielded as shared slices
/// that live as long as the frame's shared borrow; the read side of a
/// [`Cursor`]. Made only by [`Frame::cursor`] (or empty).
#[derive(Clone, Copy)]
pub(crate) struct Segs<'a> {
    region: Option<&'a Region>,
    next: u32,
    count: u16,
}

impl<'a> Segs<'a> {
    /// No buffers.
    pub(crate) const EMPTY: Segs<'a> = Segs {
        region: None,
        next: END,
        count: 0,
    };

    /// The next buffer's window.
    #[inline]
    pub(crate) fn next_segment(&mut self) -> Option<&'a [u8]> {
        let region = self.region?;
        if self.count == 0 {
            return None;
        }
        let id = self.next;
        self.count -= 1;
        self.next = region.window[id as usize].get().next;
        // SAFETY: `Segs` is made from a shared borrow `&'a Frame` of the
        // frame owning these buffers; while it lives nothing can take the
        // frame's exclusive borrow, so no `&mut` to these bytes exists.
        Some(unsafe { region.bytes(id) })
    }
}

/// The windows of a run of buffers of one frame, yielded once each as
/// mutable slices that live as long as the frame's exclusive borrow; the
/// write side of a [`CursorMut`]. Made only by [`Frame::cursor_mut`] (or
/// empty).
pub(crate) struct SegsMut<'a> {
    region: Option<&'a Region>,
    next: u32,
    count: u16,
    _bytes: PhantomData<&'a mut [u8]>,
}

impl Default for SegsMut<'_> {
    fn default() -> Self {
        SegsMut {
            region: None,
            next: END,
            count: 0,
            _bytes: PhantomData,
        }
    }
}

impl<'a> SegsMut<'a> {
    /// The next buffer's window, mutably; each buffer is yielded once.
    #[inline]
    pub(crate) fn next_segment(&mut self) -> Option<&'a mut [u8]> {
        let region = self.region?;
        if self.count == 0 {
            return None;
        }
        let id = self.next;
        self.count -= 1;
        self.next = region.window[id as usize].get().next;
        // SAFETY: made from an exclusive borrow `&'a mut Frame` of the
        // owning frame; each buffer of the run is yielded once (the run
        // moves past it), and split or reborrowed runs never overlap.
        Some(unsafe { region.bytes_mut(id) })
    }

    /// Lends this run for a shorter lifetime; this one resumes, unchanged,
    /// when the loan ends.
    #[inline]
    pub(crate) fn reborrow(&mut self) -> SegsMut<'_> {
        SegsMut {
            region: self.region,
            next: self.next,
            count: self.count,
            _bytes: PhantomData,
        }
    }

    /// Calls `f` with each remaining window, read-only, without advancing.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&[u8])) {
        let Some(region) = self.region else {
            return;
        };
        let mut next = self.next;
        for _ in 0..self.count {
            // SAFETY: `&self` keeps this run (the only way to these buffers'
            // bytes) from yielding a mutable slice while `f` runs, and the
            // slice does not outlive the call.
            f(unsafe { region.bytes(next) });
            next = region.window[next as usize].get().next;
        }
    }

    /// The lengths of the remaining windows, in order.
    pub(crate) fn lens(&self) -> impl Iterator<Item = usize> + '_ {
        let region = self.region;
        let mut next = self.next;
        (0..self.count).filter_map(move |_| {
            let w = region?.window[next as usize].get();
            next = w.next;
            Some(w.len as usize)
        })
    }

    /// Number of buffers left in the run.
    pub(crate) fn count(&self) -> usize {
        usize::from(self.count)
    }

    /// Splits into the first `k` buffers and the rest (`k` is clipped).
    pub(crate) fn split(self, k: usize) -> (SegsMut<'a>, SegsMut<'a>) {
        let k = k.min(self.count()) as u16;
        let mut after = self.next;
        if let Some(region) = self.region {
            for _ in 0..k {
                after = region.window[after as usize].get().next;
            }
        }
        let first = SegsMut {
            region: self.region,
            next: self.next,
            count: k,
            _bytes: PhantomData,
        };
        let second = SegsMut {
            region: self.region,
            next: after,
            count: self.count - k,
            _bytes: PhantomData,
        };
        (first, second)
    }
}
