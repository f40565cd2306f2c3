//! Buffer memory and the frames that own parts of it: the only module of
//! the crate with `unsafe` code.
//!
//! A [`BufPool`] owns one contiguous region of buffer memory, carved at
//! construction into buffers of the mPIPE size classes, a table of buffer
//! windows (`start`, `len`, and the link to the next buffer of a chained
//! frame, which the mPIPE keeps in the buffer itself), and one stack of free
//! buffer numbers per class. A [`Frame`] is a 16-byte descriptor: the pool,
//! the number of its first buffer, and one word with how many buffers it
//! chains, how many bytes they hold and two flags. Moving a frame moves
//! those 16 bytes (two registers), never the data.
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
//!
//! # Referenced memory
//!
//! A pool also has reference slots ([`BufPool::alloc_reference`]): chain
//! entries whose window lies in memory outside the pool that nothing ever
//! writes, a `&'static [u8]` (a static page sent without copying, as an
//! mPIPE egress descriptor without `hwb` points at memory the application
//! keeps). A slot is owned like a buffer (on the free stack of slots, or by
//! one frame); the bytes it points at may be shared by many slots and any
//! other code, since all of them only read. No `&mut` to them is ever made:
//! [`Frame::cursor_mut`] stops before the first reference slot,
//! [`Frame::storage_mut`] refuses one, and the region's mutable accessors
//! return an empty slice for one.
//!
//! # Lent memory
//!
//! A pool can also describe memory it does not own: buffers a NIC owns,
//! such as the pages registered on the mPIPE's buffer stacks
//! ([`BufPool::lent`]). Then the frames are descriptors over the NIC's
//! buffers, and received data reaches the application without a copy. The
//! invariant becomes:
//!
//! > **Every lent buffer is either the lender's (on a hardware buffer
//! > stack, being filled by the NIC, or in another core's pool) or owned by
//! > exactly one live `Frame` of this pool.**
//!
//! * A buffer enters the pool only through [`BufPool::adopt`], an `unsafe`
//!   function whose caller (the driver) promises that the hardware handed
//!   the buffer over and nothing else uses it; the pool itself refuses a
//!   buffer one of its frames already owns (a `held` flag per buffer), so a
//!   driver bug that adopts a buffer twice is an error, not aliasing.
//! * It leaves when its frame is dropped ([`Lender::give_back`], e.g. a push
//!   onto the mPIPE buffer stack) or is handed to the hardware whole by
//!   [`Frame::into_lent`] (a transmit whose eDMA returns the buffer), which
//!   consumes the frame, so no slice of it outlives the hand-over.
//! * The memory's validity for the pool's life is the promise of
//!   [`BufPool::lent`]'s caller; the pool owns the lender, which can keep
//!   the memory mapped.
//! * Everything else (windows, slices, `SegsMut`) works as for owned
//!   memory: only the base pointer of a buffer differs.

use core::cell::{Cell, UnsafeCell};
use core::fmt;
use core::marker::PhantomData;
use core::ptr::NonNull;
use std::rc::Rc;

use arrayvec::ArrayVec;

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

/// Where a pool's buffer bytes live.
enum Memory {
    /// Allocated by [`BufPool::new`], owned by the pool.
    Owned(Box<[UnsafeCell<u8>]>),
    /// Lent by a NIC ([`BufPool::lent`]).
    Lent(Box<LentMemory>),
}

/// Segments of buffers of one class each, the lender that takes buffers
/// back, and which buffers the pool's frames own.
struct LentMemory {
    segments: ArrayVec<Segment, MAX_SEGMENTS>,
    lender: Box<dyn Lender>,
    /// Which buffers a frame of this pool owns.
    held: Box<[Cell<bool>]>,
    /// How many of them.
    held_count: Cell<usize>,
}

/// One lent segment, with the number of its first buffer.
struct Segment {
    class: usize,
    base: NonNull<u8>,
    count: usize,
    first: u32,
}

impl Segment {
    fn bytes(&self) -> usize {
        self.count * SIZE_CLASSES[self.class]
    }
}

/// The memory, window table and free stacks of one pool.
struct Region {
    memory: Memory,
    /// Offset of each buffer in the owned storage, or in its lent segment.
    offset: Box<[usize]>,
    /// Size class of each buffer.
    class: Box<[u8]>,
    /// Windows of the buffers, then of the reference slots (numbered from
    /// `offset.len()` on).
    window: Box<[Cell<Window>]>,
    free: [FreeStack; NUM_CLASSES],
    /// What each reference slot points at, while a frame owns it.
    references: Box<[Cell<&'static [u8]>]>,
    /// Free reference slots (their numbers, from `offset.len()` on).
    free_references: FreeStack,
    capacity: [usize; NUM_CLASSES],
    chaining: bool,
    alloc_failures: Cell<u64>,
}

impl Region {
    /// The reference slot that number `id` names, if it names one.
    #[inline]
    fn reference(&self, id: u32) -> Option<&Cell<&'static [u8]>> {
        let slot = (id as usize).checked_sub(self.offset.len())?;
        self.references.get(slot)
    }

    fn capacity_of(&self, id: u32) -> usize {
        match self.class.get(id as usize) {
            Some(&class) => SIZE_CLASSES[usize::from(class)],
            None => self.reference(id).map_or(0, |r| r.get().len()),
        }
    }

    /// The window bytes of buffer `id`.
    ///
    /// # Safety
    ///
    /// For the lifetime of the result, no `&mut` to any byte of buffer `id`
    /// may exist: the caller holds a shared borrow of the frame that owns
    /// the buffer (see the module documentation).
    #[inline]
    unsafe fn bytes(&self, id: u32) -> &[u8] {
        let w = self.window[id as usize].get();
        let (start, end) = (w.start as usize, (w.start + w.len) as usize);
        // The common case, a buffer of owned memory, without the detour
        // through `storage` (which also serves slots and lent memory).
        if let (Memory::Owned(storage), Some(&at), Some(&class)) = (
            &self.memory,
            self.offset.get(id as usize),
            self.class.get(id as usize),
        ) {
            if end <= SIZE_CLASSES[usize::from(class)] {
                let cells = &storage[at + start..at + end];
                // SAFETY: `cells` lies inside buffer `id`'s storage (its
                // window, within its class's capacity, bounds-checked in
                // `storage`'s indexing); the caller guarantees that nothing
                // writes these bytes while the slice lives (forwarded
                // contract, as in `Region::storage`).
                return unsafe {
                    core::slice::from_raw_parts(UnsafeCell::raw_get(cells.as_ptr()), cells.len())
                };
            }
        }
        // SAFETY: forwarded contract (a shared view of the storage).
        let storage = unsafe { self.storage(id) };
        &storage[start..end]
    }

    /// The read-only memory that reference slot `id` points at, or `None`
    /// for a buffer.
    #[inline]
    fn referenced(&self, id: u32) -> Option<&'static [u8]> {
        self.reference(id).map(Cell::get)
    }

    /// The first byte of buffer `id`'s storage and its capacity. For owned
    /// memory the pointer is derived from the storage's `UnsafeCell`s; for
    /// lent memory from the segment's base pointer, inside the segment.
    fn buffer_ptr(&self, id: u32) -> (*mut u8, usize) {
        let capacity = self.capacity_of(id);
        let at = self.offset[id as usize];
        match &self.memory {
            Memory::Owned(storage) => {
                let cells = &storage[at..at + capacity];
                (UnsafeCell::raw_get(cells.as_ptr()), capacity)
            }
            Memory::Lent(lent) => {
                let seg = lent
                    .segments
                    .iter()
                    .find(|s| id >= s.first && ((id - s.first) as usize) < s.count);
                // Every lent buffer number lies in exactly one segment (set
                // up by `BufPool::lent`), and `at + capacity` is within it.
                let seg = seg.expect("lent buffer outside every segment");
                debug_assert!(at + capacity <= seg.bytes());
                (seg.base.as_ptr().wrapping_add(at), capacity)
            }
        }
    }

    /// The whole storage of buffer `id`, read-only.
    ///
    /// # Safety
    ///
    /// As for [`Region::bytes`].
    unsafe fn storage(&self, id: u32) -> &[u8] {
        if let Some(bytes) = self.referenced(id) {
            return bytes;
        }
        let (ptr, len) = self.buffer_ptr(id);
        // SAFETY: `ptr..ptr + len` is buffer `id`'s storage: inside the owned
        // cells (bounds-checked in `buffer_ptr`), or inside a lent segment,
        // which `BufPool::lent`'s caller promised is valid memory for the
        // pool's life. The caller guarantees that nothing writes these bytes
        // while the slice lives.
        unsafe { core::slice::from_raw_parts(ptr, len) }
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
        if self.reference(id).is_some() {
            // Referenced memory is never written: no `&mut` to it is ever
            // made (the frames' write views stop before reference slots,
            // so this is not reached; an empty slice aliases nothing).
            return &mut [];
        }
        let (ptr, len) = self.buffer_ptr(id);
        // SAFETY: `ptr..ptr + len` is buffer `id`'s storage (see
        // `Region::storage`); owned cells permit writes through a shared
        // reference (`UnsafeCell`), lent memory is writable by the lender's
        // promise; the caller guarantees exclusive access to this buffer.
        unsafe { core::slice::from_raw_parts_mut(ptr, len) }
    }

    /// Takes buffer `id` back from the frame that owned it: onto its free
    /// stack, or back to the lender.
    fn give_back(&self, id: u32) {
        if let Some(slot) = self.reference(id) {
            slot.set(&[]);
            self.free_references.push(id);
            return;
        }
        match &self.memory {
            Memory::Owned(_) => self.free[usize::from(self.class[id as usize])].push(id),
            Memory::Lent(lent) => {
                self.unhold(id);
                let (ptr, _) = self.buffer_ptr(id);
                if let Some(addr) = NonNull::new(ptr) {
                    lent.lender.give_back(LentBuffer {
                        class: usize::from(self.class[id as usize]),
                        addr,
                    });
                }
            }
        }
    }

    /// Marks lent buffer `id` as no longer owned by a frame of this pool.
    fn unhold(&self, id: u32) {
        if let Memory::Lent(lent) = &self.memory {
            if lent.held[id as usize].replace(false) {
                lent.held_count.set(lent.held_count.get() - 1);
            }
        }
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
        storage
            .get_mut(w.start as usize..(w.start + w.len) as usize)
            .unwrap_or_default()
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

/// `len` zeroed bytes of buffer memory, in huge pages where the system gives
/// them ([`crate::mem::huge`]): a pool of thousands of buffers then costs a
/// few TLB entries, not one per 4 KB.
fn owned_storage(len: usize) -> Box<[UnsafeCell<u8>]> {
    let bytes = Box::into_raw(crate::mem::huge::zeroed(len));
    // SAFETY: `UnsafeCell<u8>` is `repr(transparent)` over `u8`, so the
    // slice has the same layout, length and allocation; the box is rebuilt
    // from the raw pointer exactly once, and the memory is initialised.
    unsafe { Box::from_raw(bytes as *mut [UnsafeCell<u8>]) }
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
        let storage = owned_storage(at);
        let first_reference = offset.len();
        assert!(
            first_reference + config.references < END as usize,
            "too many buffers and references in one pool"
        );
        window.extend((0..config.references).map(|_| {
            Cell::new(Window {
                start: 0,
                len: 0,
                next: END,
            })
        }));
        let free_references = FreeStack {
            slots: (0..config.references)
                .rev()
                .map(|i| Cell::new((first_reference + i) as u32))
                .collect(),
            top: Cell::new(config.references),
        };
        BufPool {
            region: Rc::new(Region {
                memory: Memory::Owned(storage),
                offset: offset.into(),
                class: class.into(),
                window: window.into(),
                free,
                references: (0..config.references).map(|_| Cell::new(&[][..])).collect(),
                free_references,
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
        Some(self.one_buffer_frame(id, SIZE_CLASSES[class] as u32, false))
    }

    /// A frame of buffer (or reference slot) `id` alone, its window
    /// `0..len`.
    #[inline]
    fn one_buffer_frame(&self, id: u32, len: u32, references: bool) -> Frame {
        self.region.window[id as usize].set(Window {
            start: 0,
            len,
            next: END,
        });
        Frame {
            pool: self.clone(),
            meta: Meta::new(id, len, 1, references),
        }
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
            return Some(self.one_buffer_frame(id, len as u32, false));
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
            meta: Meta::new(next, len as u32, classes.len() as u16, false),
        })
    }

    /// A frame of one reference slot whose window is `bytes`: memory
    /// outside the pool that is never written (a static page, a reply
    /// compiled into the program), sent without copying it into a buffer,
    /// as an mPIPE egress descriptor without `hwb` points the eDMA at
    /// memory the application keeps. Chain it after a frame of headers
    /// with [`Frame::push`]. `None`, counted in
    /// [`BufPool::alloc_failures`], when every slot is in use (the pool
    /// has [`PoolConfig::references`] of them; a lent pool has none).
    ///
    /// No write view of a frame ever covers a reference slot (see
    /// [`Frame::cursor_mut`]), so the memory is only read.
    pub fn alloc_reference(&self, bytes: &'static [u8]) -> Option<Frame> {
        let r = &self.region;
        let len = match u32::try_from(bytes.len()) {
            Ok(len) if len <= Meta::LEN_MASK => len,
            _ => {
                r.alloc_failures.set(r.alloc_failures.get() + 1);
                return None;
            }
        };
        let Some(id) = r.free_references.pop() else {
            r.alloc_failures.set(r.alloc_failures.get() + 1);
            return None;
        };
        if let Some(slot) = r.reference(id) {
            slot.set(bytes);
        }
        Some(self.one_buffer_frame(id, len, true))
    }

    /// Number of free reference slots ([`BufPool::alloc_reference`]).
    pub fn references_available(&self) -> usize {
        self.region.free_references.top.get()
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
        match &self.region.memory {
            Memory::Owned(_) => (0..NUM_CLASSES)
                .map(|c| self.capacity(c) - self.available(c))
                .sum(),
            Memory::Lent(lent) => lent.held_count.get(),
        }
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

/// The most segments a lent pool has: one per size class and then some.
pub const MAX_SEGMENTS: usize = 2 * NUM_CLASSES;

/// Takes back the buffers of a lent pool ([`BufPool::lent`]) when the
/// frames that owned them are dropped: the NIC driver that lent the memory
/// returns each one to the hardware (an mPIPE buffer stack).
pub trait Lender {
    /// `buffer` is no longer used by any frame of the pool.
    fn give_back(&self, buffer: LentBuffer);
}

/// A buffer of lent memory going back to its lender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LentBuffer {
    /// Its size class (index into [`SIZE_CLASSES`]).
    pub class: usize,
    /// The first byte of its storage.
    pub addr: NonNull<u8>,
}

/// A run of `count` buffers of one size class, back to back from `base`,
/// in memory a NIC owns (see [`BufPool::lent`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LentSegment {
    /// Size class of every buffer of the run.
    pub class: usize,
    /// The first byte of the first buffer.
    pub base: NonNull<u8>,
    /// Number of buffers.
    pub count: usize,
}

/// One buffer of a frame handed over to the hardware by
/// [`Frame::into_lent`]: where its window is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LentSpan {
    /// Size class of the buffer.
    pub class: usize,
    /// The first byte of the buffer's storage.
    pub buffer: NonNull<u8>,
    /// Offset of the window in the buffer.
    pub start: usize,
    /// Length of the window.
    pub len: usize,
}

impl BufPool {
    /// A pool over buffer memory that a NIC owns and lends, without copying:
    /// the buffers of `segments`, numbered in order. The pool starts with no
    /// buffer of its own (its free stacks are empty, so [`BufPool::alloc`]
    /// and [`BufPool::alloc_chain`] return `None`); the driver hands it
    /// buffers one at a time with [`BufPool::adopt`], and a frame's buffers
    /// go back to `lender` when it is dropped, or to the hardware with
    /// [`Frame::into_lent`]. The window tables are allocated here, once.
    ///
    /// Errors: [`BufError::BadSegments`] if there are more than
    /// [`MAX_SEGMENTS`] segments, a class is out of range, the buffers
    /// number `u32::MAX - 1` or more, or two segments overlap.
    ///
    /// # Safety
    ///
    /// Every segment's `count * SIZE_CLASSES[class]` bytes from `base` must
    /// be valid for reads and writes for as long as the pool, a clone of it
    /// or a frame of it lives (the lender, which the pool owns, may keep the
    /// memory alive). Other code may use the memory freely, except a buffer
    /// while a frame of this pool owns it (see [`BufPool::adopt`]).
    pub unsafe fn lent(
        segments: &[LentSegment],
        lender: Box<dyn Lender>,
    ) -> Result<BufPool, BufError> {
        if segments.len() > MAX_SEGMENTS || segments.iter().any(|s| s.class >= NUM_CLASSES) {
            return Err(BufError::BadSegments);
        }
        let total: usize = segments.iter().map(|s| s.count).sum();
        if total >= END as usize {
            return Err(BufError::BadSegments);
        }
        for (i, a) in segments.iter().enumerate() {
            let a_start = a.base.as_ptr() as usize;
            let a_end = a_start.checked_add(a.count * SIZE_CLASSES[a.class]);
            let Some(a_end) = a_end else {
                return Err(BufError::BadSegments);
            };
            for b in &segments[i + 1..] {
                let b_start = b.base.as_ptr() as usize;
                let b_end = b_start.saturating_add(b.count * SIZE_CLASSES[b.class]);
                if a_start < b_end && b_start < a_end && a.count > 0 && b.count > 0 {
                    return Err(BufError::BadSegments);
                }
            }
        }
        let mut offset = Vec::with_capacity(total);
        let mut class = Vec::with_capacity(total);
        let mut window = Vec::with_capacity(total);
        let mut capacity = [0usize; NUM_CLASSES];
        let mut segs = ArrayVec::new();
        for seg in segments {
            let size = SIZE_CLASSES[seg.class];
            segs.push(Segment {
                class: seg.class,
                base: seg.base,
                count: seg.count,
                first: offset.len() as u32,
            });
            for i in 0..seg.count {
                offset.push(i * size);
                class.push(seg.class as u8);
                window.push(Cell::new(Window {
                    start: 0,
                    len: size as u32,
                    next: END,
                }));
            }
            capacity[seg.class] += seg.count;
        }
        let free = core::array::from_fn(|_| FreeStack {
            slots: Box::new([]),
            top: Cell::new(0),
        });
        Ok(BufPool {
            region: Rc::new(Region {
                memory: Memory::Lent(Box::new(LentMemory {
                    segments: segs,
                    lender,
                    held: (0..total).map(|_| Cell::new(false)).collect(),
                    held_count: Cell::new(0),
                })),
                offset: offset.into(),
                class: class.into(),
                window: window.into(),
                free,
                references: Box::new([]),
                free_references: FreeStack {
                    slots: Box::new([]),
                    top: Cell::new(0),
                },
                capacity,
                chaining: true,
                alloc_failures: Cell::new(0),
            }),
        })
    }

    /// The pool's memory is lent by a NIC ([`BufPool::lent`]).
    pub fn is_lent(&self) -> bool {
        matches!(self.region.memory, Memory::Lent(_))
    }

    /// The lent buffer holding address `addr`: its number and the offset of
    /// `addr` in it.
    fn lent_buffer_at(&self, addr: usize) -> Option<(u32, usize)> {
        let Memory::Lent(lent) = &self.region.memory else {
            return None;
        };
        lent.segments.iter().find_map(|s| {
            let at = addr.checked_sub(s.base.as_ptr() as usize)?;
            let size = SIZE_CLASSES[s.class];
            let index = at / size;
            (index < s.count).then(|| (s.first + index as u32, at % size))
        })
    }

    /// The size class of the lent buffer holding address `addr`, and the
    /// offset of `addr` in it; `None` if no buffer of the pool holds it.
    pub fn lent_class_at(&self, addr: usize) -> Option<(usize, usize)> {
        let (id, offset) = self.lent_buffer_at(addr)?;
        Some((usize::from(self.region.class[id as usize]), offset))
    }

    /// A frame of the one lent buffer holding address `addr` (any address
    /// inside it), its window `start..start + len`: how a driver hands a
    /// buffer the NIC filled to the stack without copying it. Chain more
    /// with [`Frame::push`].
    ///
    /// Errors (nothing changes): [`BufError::NotLent`] if `addr` is in no
    /// buffer of this pool (or the pool is not lent),
    /// [`BufError::BufferHeld`] if a frame of this pool already owns that
    /// buffer, [`BufError::WindowOutOfBounds`] for a bad window.
    ///
    /// # Safety
    ///
    /// The lender hands the buffer over: from now until the frame gives it
    /// back (dropped: [`Lender::give_back`]; or [`Frame::into_lent`]),
    /// nothing outside this pool reads or writes its bytes (for the mPIPE:
    /// the buffer was popped from its buffer stack, by the iDMA for a
    /// received packet or by the driver, and is on no stack and in no
    /// other pool).
    pub unsafe fn adopt(&self, addr: usize, start: usize, len: usize) -> Result<Frame, BufError> {
        let r = &self.region;
        let Memory::Lent(lent) = &r.memory else {
            return Err(BufError::NotLent { addr });
        };
        let Some((id, _)) = self.lent_buffer_at(addr) else {
            return Err(BufError::NotLent { addr });
        };
        let capacity = r.capacity_of(id);
        if start.checked_add(len).is_none_or(|end| end > capacity) {
            return Err(BufError::WindowOutOfBounds {
                start,
                len,
                capacity,
            });
        }
        if lent.held[id as usize].replace(true) {
            return Err(BufError::BufferHeld { addr });
        }
        lent.held_count.set(lent.held_count.get() + 1);
        r.window[id as usize].set(Window {
            start: start as u32,
            len: len as u32,
            next: END,
        });
        Ok(Frame {
            pool: self.clone(),
            meta: Meta::new(id, len as u32, 1, false),
        })
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
    meta: Meta,
}

/// The longest frame: the sum of a frame's windows fits in [`Meta`]'s 24
/// bits (16 MiB − 1; buffer chains are at most [`MAX_CHAIN`] buffers of
/// at most 16 KB, so only reference slots over large static memory could
/// come near it, and those are refused beyond it).
pub const MAX_FRAME_LEN: usize = Meta::LEN_MASK as usize;

/// A frame's first buffer, length, buffer count and two flags in one
/// word, so that a [`Frame`] is 16 bytes, a pointer and this: an
/// `Option<Frame>` is returned in two registers and moved with two
/// stores. (At 24 bytes, with these as five fields, every `alloc_tx` and
/// `receive` returned the frame through memory, and the caller's wide
/// reload of fields the callee had stored one by one missed
/// store-to-load forwarding: `perf` put about 4% of the time at one
/// connection on those moves. With the first buffer a field of its own,
/// results holding a frame were still copied in odd pieces.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Meta(u64);

impl Meta {
    /// Bits 0..24: the frame's length in bytes.
    const LEN_MASK: u32 = (1 << 24) - 1;
    /// Bits 24..30: the number of buffers in the chain.
    const COUNT_SHIFT: u32 = 24;
    const COUNT_MASK: u32 = 0x3F;
    /// Bit 30: the NIC verified the frame's TCP (or UDP) checksum
    /// ([`Frame::l4_checksum_verified`]).
    const L4_OK: u32 = 1 << 30;
    /// Bit 31: some buffer of the chain is a reference slot
    /// ([`BufPool::alloc_reference`]).
    const REFERENCES: u32 = 1 << 31;
    /// Bits 32..64: the number of the first buffer.
    const HEAD_SHIFT: u32 = 32;

    /// `len` bytes in `count` buffers from buffer `head` on, not verified.
    #[inline]
    fn new(head: u32, len: u32, count: u16, references: bool) -> Meta {
        debug_assert!(len <= Meta::LEN_MASK && u32::from(count) <= Meta::COUNT_MASK);
        let flag = if references { Meta::REFERENCES } else { 0 };
        let low = len | u32::from(count) << Meta::COUNT_SHIFT | flag;
        Meta(u64::from(head) << Meta::HEAD_SHIFT | u64::from(low))
    }

    /// The low word: length, count and flags.
    #[inline]
    fn low(self) -> u32 {
        self.0 as u32
    }

    #[inline]
    fn set_low(&mut self, low: u32) {
        self.0 = self.0 & !u64::from(u32::MAX) | u64::from(low);
    }

    #[inline]
    fn head(self) -> u32 {
        (self.0 >> Meta::HEAD_SHIFT) as u32
    }

    #[inline]
    fn set_head(&mut self, head: u32) {
        self.0 = u64::from(head) << Meta::HEAD_SHIFT | u64::from(self.low());
    }

    #[inline]
    fn len(self) -> u32 {
        self.low() & Meta::LEN_MASK
    }

    #[inline]
    fn count(self) -> u16 {
        (self.low() >> Meta::COUNT_SHIFT & Meta::COUNT_MASK) as u16
    }

    #[inline]
    fn l4_ok(self) -> bool {
        self.low() & Meta::L4_OK != 0
    }

    #[inline]
    fn references(self) -> bool {
        self.low() & Meta::REFERENCES != 0
    }

    #[inline]
    fn set_len(&mut self, len: u32) {
        debug_assert!(len <= Meta::LEN_MASK);
        self.set_low(self.low() & !Meta::LEN_MASK | len);
    }

    #[inline]
    fn set_count(&mut self, count: u16) {
        debug_assert!(u32::from(count) <= Meta::COUNT_MASK);
        let others = self.low() & !(Meta::COUNT_MASK << Meta::COUNT_SHIFT);
        self.set_low(others | u32::from(count) << Meta::COUNT_SHIFT);
    }

    #[inline]
    fn set_l4_ok(&mut self, ok: bool) {
        let others = self.low() & !Meta::L4_OK;
        self.set_low(if ok { others | Meta::L4_OK } else { others });
    }

    #[inline]
    fn set_references(&mut self) {
        self.set_low(self.low() | Meta::REFERENCES);
    }
}

/// Size class and window of one buffer of a frame (from [`Frame::buffers`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufInfo {
    /// The size class (index into [`SIZE_CLASSES`]); [`NUM_CLASSES`] for a
    /// reference slot.
    pub class: usize,
    /// Bytes of storage (`SIZE_CLASSES[class]`; for a reference slot, the
    /// length of the memory it points at).
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
        let mut next = self.meta.head();
        (0..self.meta.count()).map(move |_| {
            let id = next;
            next = r.window[id as usize].get().next;
            id
        })
    }

    /// Length of the frame in bytes: the sum of the buffers' windows.
    #[inline]
    pub fn len(&self) -> usize {
        self.meta.len() as usize
    }

    /// The frame has no bytes (it may still hold buffers).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.meta.len() == 0
    }

    /// Whether the NIC verified this received frame's TCP or UDP checksum
    /// (over the pseudo-header, header and payload, as the mPIPE
    /// classifier does; a driver drops frames it found bad), so the stack
    /// need not sum the segment again. False for every frame a pool hands
    /// out, and cleared by any write access ([`Frame::cursor_mut`],
    /// [`Frame::storage_mut`], [`Frame::set_window`], [`Frame::push`]):
    /// bytes changed after the check (a fault injector's bit flip) are
    /// checked again.
    #[inline]
    pub fn l4_checksum_verified(&self) -> bool {
        self.meta.l4_ok()
    }

    /// Marks the frame's TCP or UDP checksum as verified by the NIC (see
    /// [`Frame::l4_checksum_verified`]); only a driver whose hardware
    /// checked it may say so.
    #[inline]
    pub fn set_l4_checksum_verified(&mut self, verified: bool) {
        self.meta.set_l4_ok(verified);
    }

    /// Number of buffers in the chain.
    #[inline]
    pub fn buffer_count(&self) -> usize {
        usize::from(self.meta.count())
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
                class: r
                    .class
                    .get(id as usize)
                    .map_or(NUM_CLASSES, |&c| usize::from(c)),
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
                next: self.meta.head(),
                count: self.meta.count(),
            },
            self.len(),
        )
    }

    /// A write cursor over the frame: all of it, or, if the frame chains
    /// a reference slot ([`BufPool::alloc_reference`]), its buffers before
    /// the first one (referenced memory is read-only).
    #[inline]
    pub fn cursor_mut(&mut self) -> CursorMut<'_> {
        self.meta.set_l4_ok(false);
        let (count, len) = if self.meta.references() {
            self.writable_prefix()
        } else {
            (self.meta.count(), self.len())
        };
        CursorMut::from_segs(
            SegsMut {
                region: Some(&self.pool.region),
                next: self.meta.head(),
                count,
                _bytes: PhantomData,
            },
            len,
        )
    }

    /// The number of buffers before the first reference slot, and the
    /// bytes of their windows.
    fn writable_prefix(&self) -> (u16, usize) {
        let r = self.region();
        let (mut count, mut len) = (0u16, 0usize);
        for id in self.ids() {
            if r.reference(id).is_some() {
                break;
            }
            count += 1;
            len += r.window[id as usize].get().len as usize;
        }
        (count, len)
    }

    /// Some buffer of the frame is a reference to memory outside the pool
    /// ([`BufPool::alloc_reference`]): read-only, so [`Frame::cursor_mut`]
    /// does not reach it. A driver whose hardware cannot read such memory,
    /// or code that must change those bytes (a fault injector), copies the
    /// frame first.
    #[inline]
    pub fn has_references(&self) -> bool {
        self.meta.references()
    }

    /// The bytes of the frame as contiguous, non-empty pieces.
    pub fn segments(&self) -> Segments<'_> {
        self.cursor().segments()
    }

    /// The windows of the frame's buffers in order, one slice each (empty
    /// windows included): cheaper than [`Frame::segments`] where a caller
    /// wants whole buffers, such as a driver prefetching a frame.
    pub fn windows(&self) -> Windows<'_> {
        Windows(Segs {
            region: Some(self.region()),
            next: self.meta.head(),
            count: self.meta.count(),
        })
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
        self.meta.set_l4_ok(false);
        let Some(id) = self.ids().nth(index) else {
            return Err(BufError::WindowOutOfBounds {
                start,
                len,
                capacity: 0,
            });
        };
        let r = &self.pool.region;
        let capacity = r.capacity_of(id);
        let cell = &r.window[id as usize];
        let old = cell.get();
        // The frame's new length, which must stay within MAX_FRAME_LEN
        // (only windows of reference slots over large memory could pass it).
        let new_len = (self.len() - old.len as usize)
            .checked_add(len)
            .filter(|&n| n <= MAX_FRAME_LEN);
        match (start.checked_add(len), new_len) {
            (Some(end), Some(new_len)) if end <= capacity => {
                cell.set(Window {
                    start: start as u32,
                    len: len as u32,
                    next: old.next,
                });
                self.meta.set_len(new_len as u32);
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
    /// [`Frame::set_window`]; `None` past the chain or for a reference
    /// slot (read-only memory).
    pub fn storage_mut(&mut self, index: usize) -> Option<&mut [u8]> {
        self.meta.set_l4_ok(false);
        let id = self.ids().nth(index)?;
        if self.region().reference(id).is_some() {
            return None;
        }
        // SAFETY: `&mut self` is an exclusive borrow of the frame that owns
        // buffer `id`, and the slice borrows it.
        Some(unsafe { self.pool.region.storage_mut(id) })
    }

    /// The whole storage of buffer `index` (in frame order), read-only;
    /// `None` past the chain. (An mPIPE chain keeps the link to the next
    /// buffer in the first bytes of a buffer, outside its window.)
    pub fn storage(&self, index: usize) -> Option<&[u8]> {
        let id = self.ids().nth(index)?;
        // SAFETY: `&self` is a shared borrow of the frame that owns buffer
        // `id`, and the slice borrows it: no `&mut` to it can exist.
        Some(unsafe { self.pool.region.storage(id) })
    }

    /// Hands the frame's buffers over to the hardware of a lent pool (a
    /// transmit with the mPIPE's `hwb`, after which the eDMA returns each
    /// buffer to its stack): calls `f` with each buffer and window, in
    /// frame order, and forgets them without giving them back to the
    /// lender. No view of them remains, since the frame is consumed. A
    /// frame of an owned pool is given back unchanged.
    pub fn into_lent(mut self, mut f: impl FnMut(LentSpan)) -> Result<(), Frame> {
        if !self.pool.is_lent() {
            return Err(self);
        }
        let r = &self.pool.region;
        let mut next = self.meta.head();
        for _ in 0..self.meta.count() {
            let id = next;
            let w = r.window[id as usize].get();
            next = w.next;
            r.unhold(id);
            let (ptr, _) = r.buffer_ptr(id);
            if let Some(buffer) = NonNull::new(ptr) {
                f(LentSpan {
                    class: usize::from(r.class[id as usize]),
                    buffer,
                    start: w.start as usize,
                    len: w.len as usize,
                });
            }
        }
        // The frame owns nothing any more: its drop gives nothing back.
        self.meta = Meta::new(END, 0, 0, false);
        Ok(())
    }

    /// Shortens the frame to at most `len` bytes by shrinking windows from
    /// the end; buffers emptied this way stay in the chain.
    pub fn truncate(&mut self, len: usize) {
        let r = &self.pool.region;
        let mut keep = len;
        let mut next = self.meta.head();
        for _ in 0..self.meta.count() {
            let cell = &r.window[next as usize];
            let mut w = cell.get();
            let here = (w.len as usize).min(keep);
            keep -= here;
            w.len = here as u32;
            cell.set(w);
            next = w.next;
        }
        self.meta.set_len(self.meta.len().min(len as u32));
    }

    /// Appends `other`'s buffers at the end of this frame (its bytes follow
    /// ours). Gives `other` back unchanged if it belongs to another pool or
    /// the chain would exceed [`MAX_CHAIN`] buffers or [`MAX_FRAME_LEN`] bytes.
    pub fn push(&mut self, mut other: Frame) -> Result<(), Frame> {
        if !self.pool.owns(&other)
            || self.buffer_count() + other.buffer_count() > MAX_CHAIN
            || self.len() + other.len() > MAX_FRAME_LEN
        {
            return Err(other);
        }
        let last = self.ids().last().unwrap_or(END);
        let r = &self.pool.region;
        if let Some(cell) = r.window.get(last as usize) {
            let mut w = cell.get();
            w.next = other.meta.head();
            cell.set(w);
        } else {
            self.meta.set_head(other.meta.head());
        }
        self.meta.set_count(self.meta.count() + other.meta.count());
        self.meta.set_len(self.meta.len() + other.meta.len());
        if other.meta.references() {
            self.meta.set_references();
        }
        self.meta.set_l4_ok(false);
        // `other` no longer owns the buffers: its drop frees nothing.
        other.meta = Meta::new(END, 0, 0, false);
        Ok(())
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        let r = &self.pool.region;
        let mut next = self.meta.head();
        for _ in 0..self.meta.count() {
            let id = next;
            next = r.window[id as usize].get().next;
            r.give_back(id);
        }
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("len", &self.len())
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

/// The windows of a frame's buffers, in order (from [`Frame::windows`]).
pub struct Windows<'a>(Segs<'a>);

impl<'a> Iterator for Windows<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        self.0.next_segment()
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

#[cfg(test)]
mod meta_tests {
    use super::Meta;

    /// Each field of the packed word changes alone, at its extremes.
    #[test]
    fn the_fields_of_a_frames_word_are_independent() {
        let cases: [(u32, u32, u16, bool); 3] = [
            (0, 0, 0, false),
            (u32::MAX, Meta::LEN_MASK, 63, true),
            (12_345, 1514, 16, false),
        ];
        for (head, len, count, references) in cases {
            let mut m = Meta::new(head, len, count, references);
            let fields = |m: Meta| (m.head(), m.len(), m.count(), m.references(), m.l4_ok());
            assert_eq!(fields(m), (head, len, count, references, false));
            m.set_l4_ok(true);
            assert_eq!(fields(m), (head, len, count, references, true));
            m.set_len(Meta::LEN_MASK - len);
            m.set_count(63 - count);
            let (len, count) = (Meta::LEN_MASK - len, 63 - count);
            assert_eq!(fields(m), (head, len, count, references, true));
            m.set_l4_ok(false);
            m.set_references();
            assert_eq!(fields(m), (head, len, count, true, false));
            m.set_head(!head);
            assert_eq!(fields(m), (!head, len, count, true, false));
        }
    }
}

#[cfg(test)]
mod lent_tests {
    use super::*;
    use std::cell::RefCell;

    /// Memory owned by the test's lender, freed when the pool is gone.
    struct TestLender {
        memory: *mut [UnsafeCell<u8>],
        returned: Rc<RefCell<Vec<(usize, usize)>>>,
    }

    impl Lender for TestLender {
        fn give_back(&self, buffer: LentBuffer) {
            self.returned
                .borrow_mut()
                .push((buffer.class, buffer.addr.as_ptr() as usize));
        }
    }

    impl Drop for TestLender {
        fn drop(&mut self) {
            // SAFETY: `memory` came from `Box::into_raw` in `lent_pool` and
            // is freed once, here, when the pool (its only user) is gone.
            drop(unsafe { Box::from_raw(self.memory) });
        }
    }

    /// The test's memory is used by nothing but the pool, so any buffer may
    /// be adopted.
    fn adopt(pool: &BufPool, addr: usize, start: usize, len: usize) -> Result<Frame, BufError> {
        // SAFETY: nothing but the pool uses the test's memory, and `adopt`
        // refuses a buffer one of the pool's frames already owns.
        unsafe { pool.adopt(addr, start, len) }
    }

    type Returns = Rc<RefCell<Vec<(usize, usize)>>>;

    /// A lent pool of `small` 128-byte and `big` 1664-byte buffers, the
    /// base address of each segment, and the lender's log of returns.
    fn lent_pool(small: usize, big: usize) -> (BufPool, [usize; 2], Returns) {
        let bytes = small * 128 + big * 1664;
        let memory: Box<[UnsafeCell<u8>]> = (0..bytes).map(|_| UnsafeCell::new(0)).collect();
        let memory = Box::into_raw(memory);
        // SAFETY: `memory` is a live allocation of `bytes` cells.
        let base = unsafe { UnsafeCell::raw_get((*memory).as_ptr()) };
        let a = NonNull::new(base).unwrap();
        let b = NonNull::new(base.wrapping_add(small * 128)).unwrap();
        let returned = Rc::new(RefCell::new(Vec::new()));
        let lender = TestLender {
            memory,
            returned: Rc::clone(&returned),
        };
        let segments = [
            LentSegment {
                class: 0,
                base: a,
                count: small,
            },
            LentSegment {
                class: 4,
                base: b,
                count: big,
            },
        ];
        // SAFETY: the lender owns the memory and frees it only when the
        // pool is dropped; nothing else touches it.
        let pool = unsafe { BufPool::lent(&segments, Box::new(lender)) }.unwrap();
        (pool, [a.as_ptr() as usize, b.as_ptr() as usize], returned)
    }

    #[test]
    fn adopt_reads_in_place_and_gives_back_on_drop() {
        let (pool, [a, b], returned) = lent_pool(4, 2);
        assert!(pool.is_lent());
        assert_eq!(
            (pool.capacity(0), pool.capacity(4), pool.available(4)),
            (4, 2, 0)
        );
        assert!(pool.alloc(0).is_none() && pool.alloc_chain(10).is_none());
        // An address inside the second 1664-byte buffer, as an idesc's va
        // with 2 bytes of headroom.
        let addr = b + 1664 + 2;
        assert_eq!(pool.lent_class_at(addr), Some((4, 2)));
        let mut frame = adopt(&pool, addr, 2, 100).unwrap();
        assert_eq!(pool.in_use(), 1);
        frame.cursor_mut().write(&[9; 100]).unwrap();
        let seg = frame.segments().next().unwrap();
        assert_eq!(
            seg.as_ptr() as usize,
            addr,
            "the window is the lent memory itself"
        );
        assert_eq!(frame.storage(0).unwrap().len(), 1664);
        assert_eq!(frame.storage(0).unwrap()[2..102], [9; 100]);
        drop(frame);
        assert_eq!(*returned.borrow(), [(4, b + 1664)]);
        assert_eq!(pool.in_use(), 0);
        let small = adopt(&pool, a + 3 * 128, 0, 128).unwrap();
        assert_eq!(small.buffers().next().unwrap().class, 0);
        drop(small);
        assert_eq!(returned.borrow()[1], (0, a + 3 * 128));
    }

    #[test]
    fn adopt_refuses_held_foreign_and_bad_windows() {
        let (pool, [a, b], returned) = lent_pool(2, 1);
        let held = adopt(&pool, a, 0, 10).unwrap();
        assert_eq!(
            adopt(&pool, a + 5, 0, 10).unwrap_err(),
            BufError::BufferHeld { addr: a + 5 }
        );
        let past = b + 1664;
        assert_eq!(
            adopt(&pool, past, 0, 1).unwrap_err(),
            BufError::NotLent { addr: past }
        );
        assert_eq!(
            adopt(&pool, a - 1, 0, 1).unwrap_err(),
            BufError::NotLent { addr: a - 1 }
        );
        assert!(matches!(
            adopt(&pool, b, 1600, 65),
            Err(BufError::WindowOutOfBounds { capacity: 1664, .. })
        ));
        assert_eq!(pool.in_use(), 1);
        drop(held);
        assert_eq!(returned.borrow().len(), 1);
        let owned = BufPool::new(&PoolConfig::uniform(1));
        assert!(!owned.is_lent());
        assert!(matches!(
            adopt(&owned, a, 0, 1),
            Err(BufError::NotLent { .. })
        ));
        assert_eq!(owned.lent_class_at(a), None);
    }

    #[test]
    fn chains_of_lent_buffers_go_to_the_hardware_whole() {
        let (pool, [a, b], returned) = lent_pool(2, 2);
        let mut frame = adopt(&pool, b, 10, 1000).unwrap();
        frame.push(adopt(&pool, a + 128, 8, 50).unwrap()).unwrap();
        frame.push(adopt(&pool, b + 1664, 0, 0).unwrap()).unwrap();
        assert_eq!(
            (frame.len(), frame.buffer_count(), pool.in_use()),
            (1050, 3, 3)
        );
        let owned = BufPool::new(&PoolConfig::uniform(1));
        let foreign = owned.alloc(0).unwrap();
        let foreign = frame.push(foreign).unwrap_err();
        assert!(foreign.into_lent(|_| panic!("owned memory")).is_err());
        let mut spans = Vec::new();
        frame.into_lent(|s| spans.push(s)).unwrap();
        let got: Vec<_> = spans
            .iter()
            .map(|s| (s.class, s.buffer.as_ptr() as usize, s.start, s.len))
            .collect();
        assert_eq!(
            got,
            [(4, b, 10, 1000), (0, a + 128, 8, 50), (4, b + 1664, 0, 0)]
        );
        assert!(returned.borrow().is_empty(), "handed over, not given back");
        assert_eq!(pool.in_use(), 0);
        // Handed over means re-adoptable (the hardware gave them back).
        let again = adopt(&pool, b, 0, 1).unwrap();
        drop(again);
        assert_eq!(returned.borrow().len(), 1);
    }

    #[test]
    fn lent_segments_are_checked() {
        let lender = || -> Box<dyn Lender> {
            struct Nothing;
            impl Lender for Nothing {
                fn give_back(&self, _: LentBuffer) {}
            }
            Box::new(Nothing)
        };
        let base = NonNull::new(0x10_0000 as *mut u8).unwrap();
        let upper = NonNull::new(0x10_0100 as *mut u8).unwrap();
        let seg = |class, base, count| LentSegment { class, base, count };
        // SAFETY: these pools are refused before any memory is touched.
        unsafe {
            assert_eq!(
                BufPool::lent(&[seg(0, base, 3), seg(0, upper, 1)], lender()).unwrap_err(),
                BufError::BadSegments
            );
            assert_eq!(
                BufPool::lent(&[seg(8, base, 1)], lender()).unwrap_err(),
                BufError::BadSegments
            );
            assert_eq!(
                BufPool::lent(&[seg(0, base, 1); MAX_SEGMENTS + 1], lender()).unwrap_err(),
                BufError::BadSegments
            );
        }
        // Adjacent segments are fine (nothing is touched by building).
        // SAFETY: the pool is dropped without adopting any buffer.
        let pool = unsafe { BufPool::lent(&[seg(0, base, 2), seg(1, upper, 1)], lender()) };
        assert_eq!(pool.unwrap().capacity(1), 1);
        assert!(BufError::BadSegments.to_string().contains("lent"));
    }
}
