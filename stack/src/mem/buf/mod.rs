//! NIC buffers of the mPIPE size classes, start-up-sized pools, and frames
//! as small descriptors of chained buffers.
//!
//! * [`BufPool`] owns one region of buffer memory carved into buffers of
//!   the [`SIZE_CLASSES`], and one stack of free buffers per class. All of
//!   it is allocated by [`BufPool::new`]; afterwards [`BufPool::alloc`] and
//!   [`BufPool::alloc_chain`] never touch the heap.
//! * [`Frame`] is one frame stored in one or more buffers of a pool (at
//!   most [`MAX_CHAIN`]): a 16-byte descriptor, as an mPIPE packet
//!   descriptor names its buffers instead of holding their bytes. It owns
//!   its buffers and gives them back to their pool when dropped; its bytes
//!   are read and written through the zero-copy cursors of
//!   [`crate::mem::cursor`]. How the memory is shared safely is explained in the
//!   `region` module, the only one with `unsafe` code.
//! * A frame may also chain reference slots ([`BufPool::alloc_reference`]):
//!   windows over read-only `'static` memory outside the pool (a page sent
//!   without copying it). Reads see them like buffers; writes stop before
//!   them ([`Frame::cursor_mut`]), and [`Frame::has_references`] says a
//!   frame has some.
//!
//! Chained allocation follows the mPIPE idea: a frame is split over buffers
//! of several size classes so that little memory is wasted; see
//! [`chain_classes`] for the exact, deterministic policy.
//!
//! ```
//! use rusty_stack::mem::buf::{BufPool, PoolConfig};
//!
//! let pool = BufPool::new(&PoolConfig::default().with_chaining(true));
//! let mut frame = pool.alloc_chain(1500).expect("buffers free");
//! assert_eq!(frame.buffer_count(), 2); // 1024 + 512 bytes
//! frame.cursor_mut().write(&[7; 1500])?;
//! assert!(frame.cursor().drop(1499).eq_slice(&[7]));
//! assert_eq!(std::mem::size_of_val(&frame), 16);
//! drop(frame); // the buffers go back to the pool
//! assert_eq!(pool.in_use(), 0);
//! # Ok::<(), rusty_stack::mem::cursor::Truncated>(())
//! ```

#[allow(unsafe_code)]
mod region;

use core::fmt;

use arrayvec::ArrayVec;

pub use self::region::{
    BufInfo, BufPool, Frame, Lender, LentBuffer, LentSegment, LentSpan, Windows, MAX_FRAME_LEN,
    MAX_SEGMENTS,
};
pub(crate) use self::region::{Segs, SegsMut};

/// The mPIPE buffer size classes in bytes, smallest first: five classes for
/// standard frames and three for jumbo frames. A class is named by its index
/// in this array.
pub const SIZE_CLASSES: [usize; 8] = [128, 256, 512, 1024, 1664, 4096, 10368, 16384];

/// Number of size classes (the length of [`SIZE_CLASSES`]).
pub const NUM_CLASSES: usize = SIZE_CLASSES.len();

/// Maximum number of buffers in one chained frame.
pub const MAX_CHAIN: usize = 16;

/// The largest frame a [`Frame`] allocated by [`BufPool::alloc_chain`] with
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
    /// Lent segments are too many, overlap, or name no size class
    /// ([`BufPool::lent`]).
    BadSegments,
    /// No buffer of the lent pool holds this address ([`BufPool::adopt`]).
    NotLent {
        /// The address.
        addr: usize,
    },
    /// A frame of the pool already owns the buffer holding this address
    /// ([`BufPool::adopt`]).
    BufferHeld {
        /// The address.
        addr: usize,
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
            BufError::BadSegments => f.write_str("lent segments overlap or are invalid"),
            BufError::NotLent { addr } => write!(f, "no lent buffer holds address {addr:#x}"),
            BufError::BufferHeld { addr } => {
                write!(
                    f,
                    "the lent buffer holding {addr:#x} is already owned by a frame"
                )
            }
        }
    }
}

impl std::error::Error for BufError {}

/// How many buffers of each size class a [`BufPool`] preallocates, and
/// whether frames may be chained over several buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    /// Number of buffers per size class, indexed like [`SIZE_CLASSES`].
    pub counts: [usize; NUM_CLASSES],
    /// Frames allocated by [`BufPool::alloc_chain`] may span several buffers.
    pub chaining: bool,
    /// Number of reference slots: frames of memory outside the pool that
    /// is sent without copying ([`BufPool::alloc_reference`]).
    pub references: usize,
}

impl Default for PoolConfig {
    /// A pool fit for tests (about 1 MiB): 256 buffers of each standard class
    /// (128 to 1664 bytes), 8 of 4096 and 4 of each larger jumbo class,
    /// 256 reference slots; chaining off.
    fn default() -> Self {
        PoolConfig {
            counts: [256, 256, 256, 256, 256, 8, 4, 4],
            chaining: false,
            references: 256,
        }
    }
}

impl PoolConfig {
    /// The same number `count` of buffers in every class, and of reference
    /// slots; chaining off.
    pub const fn uniform(count: usize) -> Self {
        PoolConfig {
            counts: [count; NUM_CLASSES],
            chaining: false,
            references: count,
        }
    }

    /// This configuration with `references` reference slots.
    pub const fn with_references(mut self, references: usize) -> Self {
        self.references = references;
        self
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

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(len: usize, chaining: bool) -> Vec<usize> {
        chain_classes(len, chaining)
            .map(|c| c.iter().map(|&c| SIZE_CLASSES[c]).collect())
            .unwrap_or_default()
    }

    fn lens(frame: &Frame) -> Vec<usize> {
        frame.buffers().map(|b| b.len).collect()
    }

    #[test]
    fn the_checksum_verified_mark_is_off_by_default_and_lost_on_write() {
        let pool = BufPool::new(&PoolConfig::uniform(16).with_chaining(true));
        let fresh = |pool: &BufPool| {
            let mut f = pool.alloc_chain(100).unwrap();
            assert!(!f.l4_checksum_verified(), "a new frame is unverified");
            f.set_l4_checksum_verified(true);
            assert!(f.l4_checksum_verified());
            f
        };
        let mut f = fresh(&pool);
        let _ = f.cursor();
        f.truncate(90);
        assert!(f.l4_checksum_verified(), "reading and trimming keep it");
        let _ = f.cursor_mut();
        assert!(!f.l4_checksum_verified());
        let mut f = fresh(&pool);
        let _ = f.storage_mut(0);
        assert!(!f.l4_checksum_verified());
        let mut f = fresh(&pool);
        f.set_window(0, 0, 10).unwrap();
        assert!(!f.l4_checksum_verified());
        let mut f = fresh(&pool);
        let other = pool.alloc_chain(10).unwrap();
        f.push(other).unwrap();
        assert!(!f.l4_checksum_verified());
        drop(f);
        // A buffer reused by a new frame starts unverified again.
        let _ = fresh(&pool);
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
        let pool = BufPool::new(&PoolConfig::uniform(1));
        let mut frame = pool.alloc(0).unwrap();
        assert_eq!(frame.capacity(), 128);
        assert_eq!(frame.len(), 128);
        frame.set_window(0, 10, 20).unwrap();
        assert_eq!(frame.len(), 20);
        let info = frame.buffers().next().unwrap();
        assert_eq!((info.start, info.len, info.tailroom()), (10, 20, 98));
        assert_eq!(
            frame.set_window(0, 100, 29),
            Err(BufError::WindowOutOfBounds {
                start: 100,
                len: 29,
                capacity: 128
            })
        );
        assert!(frame.set_window(0, usize::MAX, 2).is_err());
        assert!(frame.set_window(1, 0, 0).is_err(), "past the chain");
        assert_eq!(frame.len(), 20);
        frame.set_window(0, 128, 0).unwrap();
        assert!(frame.is_empty());
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

    static PAGE: [u8; 3000] = {
        let mut page = [0u8; 3000];
        let mut i = 0;
        while i < page.len() {
            page[i] = (i * 7 + 3) as u8;
            i += 1;
        }
        page
    };

    #[test]
    fn windows_are_the_buffers_windows_in_order() {
        let pool = BufPool::new(&PoolConfig::uniform(4).with_references(1));
        let mut frame = pool.alloc_chain(100).expect("a buffer");
        frame.cursor_mut().write(&PAGE[..100]).unwrap();
        // Headroom moves the window's start; the read sees just the window.
        frame.set_window(0, 0, 100).unwrap();
        let mut second = pool.alloc_chain(10).expect("a buffer");
        second.cursor_mut().write(&PAGE[500..510]).unwrap();
        second.set_window(0, 4, 6).unwrap();
        frame.push(second).unwrap();
        let mut empty = pool.alloc_chain(1).expect("a buffer");
        empty.set_window(0, 0, 0).unwrap();
        frame.push(empty).unwrap();
        frame
            .push(pool.alloc_reference(&PAGE[2000..2100]).expect("a slot"))
            .unwrap();
        let windows: Vec<&[u8]> = frame.windows().collect();
        assert_eq!(windows.len(), 4);
        assert_eq!(windows[0], &PAGE[..100]);
        assert_eq!(windows[1], &PAGE[504..510]);
        assert!(windows[2].is_empty());
        assert_eq!(windows[3].as_ptr(), PAGE[2000..].as_ptr());
        for (i, window) in windows.iter().enumerate() {
            assert_eq!(frame.window(i), Some(*window));
        }
        // The segments are the same bytes, empty windows left out.
        let segments: Vec<&[u8]> = frame.segments().collect();
        let nonempty: Vec<&[u8]> = windows.into_iter().filter(|w| !w.is_empty()).collect();
        assert_eq!(segments, nonempty);
    }

    #[test]
    fn reference_slots_chain_static_memory_read_only() {
        let pool = BufPool::new(&PoolConfig::uniform(2).with_references(2));
        assert_eq!(pool.references_available(), 2);
        let mut frame = pool.alloc_chain(60).expect("a buffer");
        frame.cursor_mut().write(&[0xaa; 60]).unwrap();
        let body = pool.alloc_reference(&PAGE[100..1548]).expect("a slot");
        assert!(body.has_references());
        assert_eq!(body.len(), 1448);
        frame.push(body).unwrap();
        assert!(frame.has_references());
        assert_eq!(frame.len(), 60 + 1448);
        assert_eq!(pool.references_available(), 1);
        // Reading sees the header, then the page, without a copy.
        let bytes = frame.copy_to_vec();
        assert_eq!(&bytes[..60], &[0xaa; 60]);
        assert_eq!(&bytes[60..], &PAGE[100..1548]);
        let pieces: Vec<&[u8]> = frame.segments().collect();
        assert_eq!(pieces[1].as_ptr(), PAGE[100..].as_ptr());
        // Writing reaches only the buffer before the reference.
        let mut out = frame.cursor_mut();
        assert_eq!(out.len(), 60);
        assert!(out.write(&[0; 61]).is_err());
        assert!(frame.storage_mut(1).is_none());
        assert!(frame.storage_mut(0).is_some());
        assert_eq!(frame.storage(1), Some(&PAGE[100..1548]));
        // The slot's window moves inside the referenced memory only.
        assert!(frame.set_window(1, 8, 1440).is_ok());
        assert_eq!(frame.window(1), Some(&PAGE[108..1548]));
        assert!(frame.set_window(1, 8, 1441).is_err());
        let infos: Vec<BufInfo> = frame.buffers().collect();
        assert_eq!(infos[1].class, NUM_CLASSES);
        assert_eq!(infos[1].capacity, 1448);
        // Exhaustion is a counted refusal.
        let a = pool.alloc_reference(&PAGE[..10]).expect("the last slot");
        let failures = pool.alloc_failures();
        assert!(pool.alloc_reference(&PAGE[..10]).is_none());
        assert_eq!(pool.alloc_failures(), failures + 1);
        // Dropping gives the slots back, the buffers too.
        drop(a);
        drop(frame);
        assert_eq!(pool.references_available(), 2);
        assert_eq!(pool.in_use(), 0);
        // A slot comes back empty: reused for other memory.
        let again = pool.alloc_reference(&PAGE[2990..]).expect("a slot");
        assert_eq!(again.copy_to_vec(), &PAGE[2990..]);
        // A lent pool has no slots.
        assert_eq!(
            BufPool::new(&PoolConfig::uniform(1).with_references(0)).references_available(),
            0
        );
    }

    #[test]
    fn pool_alloc_free_and_exhaustion() {
        let pool = BufPool::new(&PoolConfig {
            counts: [2, 1, 0, 0, 0, 0, 0, 0],
            chaining: false,
            references: 0,
        });
        assert_eq!(pool.available(0), 2);
        assert_eq!(pool.capacity(0), 2);
        assert_eq!(pool.available(2), 0);
        assert_eq!(pool.available(99), 0);
        assert_eq!(pool.capacity(99), 0);
        let mut a = pool.alloc(0).unwrap();
        a.set_window(0, 3, 4).unwrap();
        let b = pool.alloc(0).unwrap();
        assert_eq!(pool.in_use(), 2);
        assert!(pool.alloc(0).is_none());
        assert!(pool.alloc(2).is_none());
        assert!(pool.alloc(99).is_none());
        assert_eq!(pool.alloc_failures(), 3);
        drop(a);
        drop(b);
        assert_eq!(pool.available(0), 2);
        assert_eq!(pool.in_use(), 0);
        // The window is reset on allocation.
        let a = pool.alloc(0).unwrap();
        assert_eq!(lens(&a), [128]);
        assert_eq!(a.buffers().next().unwrap().start, 0);
        assert!(pool.owns(&a));
        assert!(format!("{pool:?}").contains("available"));
    }

    #[test]
    fn frames_are_small_and_return_buffers_wherever_dropped() {
        // Two registers: returned from `alloc_tx` and `receive` without a
        // trip through memory.
        assert_eq!(core::mem::size_of::<Frame>(), 16);
        assert_eq!(core::mem::size_of::<Option<Frame>>(), 16);
        let pool = BufPool::new(&PoolConfig::uniform(4));
        let other = BufPool::new(&PoolConfig::uniform(4));
        let frames: Vec<Frame> = (0..4).filter_map(|_| pool.alloc_chain(100)).collect();
        assert_eq!(pool.available(0), 0);
        assert!(frames.iter().all(|f| pool.owns(f) && !other.owns(f)));
        drop(frames);
        assert_eq!(pool.available(0), 4);
        assert_eq!(other.available(0), 4);
    }

    /// A frame's length fits its descriptor: a reference slot over more
    /// than [`MAX_FRAME_LEN`] bytes is refused, and so are a window and a
    /// push that would take a frame past it; at the limit they succeed.
    #[test]
    fn frames_longer_than_the_limit_are_refused_not_wrapped() {
        let big: &'static [u8] = Box::leak(vec![7u8; MAX_FRAME_LEN + 1].into_boxed_slice());
        let pool = BufPool::new(&PoolConfig {
            references: 4,
            ..PoolConfig::uniform(4)
        });
        let failures = pool.alloc_failures();
        assert!(pool.alloc_reference(big).is_none());
        assert_eq!(pool.alloc_failures(), failures + 1);
        assert_eq!(pool.references_available(), 4);

        let whole = pool.alloc_reference(&big[..MAX_FRAME_LEN]).unwrap();
        assert_eq!(whole.len(), MAX_FRAME_LEN);
        assert_eq!(whole.window(0).map(<[u8]>::len), Some(MAX_FRAME_LEN));
        // One byte more through a push is refused, the frame given back.
        let mut whole = whole;
        let one = pool.alloc_chain(1).unwrap();
        let one = whole.push(one).unwrap_err();
        assert_eq!((whole.len(), whole.buffer_count()), (MAX_FRAME_LEN, 1));
        assert_eq!(one.len(), 1);

        // Two pieces one byte over the limit do not chain; trimmed by a
        // byte they do, and a window that would grow the frame past it is
        // refused (within the slot's capacity) and changes nothing.
        let half = MAX_FRAME_LEN / 2;
        let mut a = pool.alloc_reference(&big[..half]).unwrap();
        let b = pool.alloc_reference(&big[half..]).unwrap();
        assert_eq!(a.len() + b.len(), MAX_FRAME_LEN + 1);
        let mut b = a.push(b).unwrap_err();
        assert_eq!(a.len(), half);
        b.set_window(0, 0, b.len() - 1).unwrap();
        a.push(b).unwrap();
        assert_eq!((a.len(), a.buffer_count()), (MAX_FRAME_LEN, 2));
        let over = MAX_FRAME_LEN + 1 - half;
        assert!(a.set_window(1, 0, over).is_err());
        assert_eq!(a.len(), MAX_FRAME_LEN);
        a.set_window(0, 0, half - 1).unwrap();
        a.set_window(1, 0, over).unwrap();
        assert_eq!(a.len(), MAX_FRAME_LEN);
        drop((a, whole, one));
        assert_eq!(pool.references_available(), 4);
    }

    #[test]
    fn alloc_chain_unchained() {
        let pool = BufPool::new(&PoolConfig::default());
        let frame = pool.alloc_chain(1514).unwrap();
        assert_eq!(frame.buffer_count(), 1);
        assert_eq!(frame.buffers().next().unwrap().class, 4);
        assert_eq!(frame.len(), 1514);
        assert_eq!(pool.available(4), 255);
        drop(frame);
        assert_eq!(pool.available(4), 256);
        assert!(pool.alloc_chain(16385).is_none());
        assert_eq!(pool.alloc_failures(), 1);
        let empty = pool.alloc_chain(0).unwrap();
        assert_eq!((empty.buffer_count(), empty.len()), (1, 0));
        assert!(empty.is_empty());
    }

    #[test]
    fn alloc_chain_chained_windows() {
        let pool = BufPool::new(&PoolConfig::default().with_chaining(true));
        assert!(pool.chaining());
        let frame = pool.alloc_chain(9000).unwrap();
        assert_eq!(lens(&frame), [4096, 4096, 512, 256, 40]);
        assert!(frame.buffers().all(|b| b.start == 0));
        assert_eq!(frame.len(), 9000);
        assert_eq!(frame.capacity(), 9088);
        drop(frame);
        assert_eq!(pool.available(5), 8);
        assert_eq!(pool.in_use(), 0);
    }

    #[test]
    fn alloc_chain_is_all_or_nothing() {
        // 9000 bytes need two 4096 buffers; only one exists.
        let pool = BufPool::new(&PoolConfig {
            counts: [4, 4, 4, 4, 4, 1, 0, 0],
            chaining: true,
            references: 0,
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
        drop(held);
        let frame = pool.alloc_chain(513).unwrap();
        assert_eq!(frame.buffer_count(), 2);
    }

    #[test]
    fn push_respects_max_chain_and_pools() {
        let pool = BufPool::new(&PoolConfig::uniform(MAX_CHAIN + 2));
        let mut frame = pool.alloc(0).unwrap();
        for _ in 1..MAX_CHAIN {
            frame.push(pool.alloc(0).unwrap()).unwrap();
        }
        let back = frame.push(pool.alloc(1).unwrap()).unwrap_err();
        assert_eq!(back.buffers().next().unwrap().class, 1);
        assert_eq!(frame.buffer_count(), MAX_CHAIN);
        assert_eq!(frame.len(), MAX_CHAIN * 128);
        let elsewhere = BufPool::new(&PoolConfig::uniform(1));
        let mut small = pool.alloc(0).unwrap();
        let foreign = small.push(elsewhere.alloc(0).unwrap()).unwrap_err();
        assert!(elsewhere.owns(&foreign));
        drop((frame, back, small, foreign));
        assert_eq!(pool.in_use(), 0);
        assert_eq!(elsewhere.in_use(), 0);
    }

    /// A frame of class-0 buffers with the given windows.
    fn frame_of(pool: &BufPool, windows: &[(usize, usize)]) -> Frame {
        let mut frame = pool.alloc(0).unwrap();
        for _ in 1..windows.len() {
            frame.push(pool.alloc(0).unwrap()).unwrap();
        }
        for (i, &(start, len)) in windows.iter().enumerate() {
            frame.set_window(i, start, len).unwrap();
        }
        frame
    }

    #[test]
    fn truncate_keeps_buffers() {
        let pool = BufPool::new(&PoolConfig::uniform(8));
        let mut frame = frame_of(&pool, &[(0, 10), (5, 0), (2, 7), (0, 3)]);
        assert_eq!(frame.len(), 20);
        frame.truncate(25);
        assert_eq!(frame.len(), 20);
        frame.truncate(12);
        assert_eq!(lens(&frame), [10, 0, 2, 0]);
        assert_eq!(frame.len(), 12);
        frame.truncate(0);
        assert!(frame.is_empty());
        assert_eq!(frame.buffer_count(), 4);
    }

    #[test]
    fn contents_segments_and_headroom() {
        let pool = BufPool::new(&PoolConfig::uniform(4));
        let mut frame = frame_of(&pool, &[(0, 128), (0, 0), (0, 128)]);
        frame.storage_mut(0).unwrap()[..4].copy_from_slice(b"abcd");
        frame.storage_mut(2).unwrap()[10..12].copy_from_slice(b"ef");
        assert!(frame.storage_mut(3).is_none());
        frame.set_window(0, 1, 3).unwrap();
        frame.set_window(2, 10, 2).unwrap();
        assert_eq!(frame.copy_to_vec(), b"bcdef");
        let segs: Vec<&[u8]> = frame.segments().collect();
        assert_eq!(segs, [&b"bcd"[..], &b"ef"[..]]);
        let mut w = frame.cursor_mut();
        w.advance(3).unwrap();
        w.write(b"E").unwrap();
        assert_eq!(frame.copy_to_vec(), b"bcdEf");
        assert!(format!("{frame:?}").contains("BufInfo"));
    }
}
