//! Out-of-order segment storage for the TCP receive side (RFC 9293 §3.10.7.4,
//! RFC 2018 SACK blocks), holding the received frames themselves.
//!
//! * [`SegmentPool`] — a per-core slab of entries, all allocated by
//!   [`SegmentPool::new`]; afterwards nothing is allocated. Every
//!   connection's queue draws its entries from it.
//! * [`OooQueue`] — the per-connection handle kept in the TCB: a small `Copy`
//!   struct (head of an intrusive sorted list inside the pool, byte and
//!   entry counts, the most recently received ranges for SACK ordering).
//! * [`SegmentPool::insert`] stores a segment's frame (zero-copy: the frame
//!   `T`, in the stack a [`Frame`](crate::mem::buf::Frame), is kept as received,
//!   with the offset and length of the payload bytes it contributes), or
//!   hands it back in [`InsertOutcome::Rejected`] with a [`RejectReason`].
//! * [`SegmentPool::pop_ready`] takes the entry that starts at `RCV.NXT`;
//!   [`SegmentPool::sack_blocks`] lists the held ranges for the SACK option;
//!   [`SegmentPool::clear`] empties a queue when the connection ends.
//!
//! Frames no longer needed (replaced, already delivered, or left in
//! a cleared queue) go to a `release` callback, so the caller can give their
//! buffers back to the driver. No frame is ever dropped silently: every frame
//! passed to [`SegmentPool::insert`] comes back exactly once, through the
//! callback, a rejection, or [`SegmentPool::pop_ready`].
//!
//! # Stored ranges
//!
//! The entries of a queue are sorted and never overlap (they may touch).
//! A new segment `[seq, seq + len)` is first cut to
//! `[RCV.NXT, min(rcv_wnd_end, RCV.NXT + budget))`; then:
//!
//! 1. its start moves past every held entry that covers it (bytes already
//!    held are kept in the older frame);
//! 2. held entries lying entirely inside what is left are *replaced*: their
//!    bytes are also in the new frame, so the new frame covers all the gaps
//!    at once and those frames are released (fewer entries, same bytes);
//! 3. its end moves back to the start of a held entry that straddles it.
//!
//! So one insertion keeps the widest range of the new frame that overlaps
//! no entry it does not replace, ending where an entry it only partly
//! covers begins (bytes beyond that wait for a retransmission); a
//! segment with no new byte is rejected as [`RejectReason::Duplicate`]. A
//! frame is stored at most once (`T` need not be `Clone`), and a byte once
//! held stays held until it is delivered or the queue is cleared (it is
//! never evicted, below). Overlapping data is assumed identical, as TCP senders
//! must retransmit the same bytes.
//!
//! # Limits, and no reneging
//!
//! A queue holds at most `budget_bytes` payload bytes (see [`window_end`])
//! in at most `max_entries` entries, both passed to every insertion, and the
//! pool may run out of entries shared by all connections of the core. When
//! a limit would be exceeded, nothing changes and the new frame comes back:
//! held data is never given up for new data, because every held byte may
//! have been SACKed, and discarding SACKed data is reneging (RFC 2018 §8;
//! Linux counts it at the sender as `TCPSACKReneging`). The sender
//! retransmits what was refused. The TCP layer delivers a segment that
//! starts at `RCV.NXT` directly, without storing it, so a full queue never
//! blocks the in-order path, and it advertises no more window than its
//! limits can hold in full-sized segments.
//!
//! # Window
//!
//! Held bytes lie *inside* the receive window, so `budget − held` is not a
//! window. The rule here is: advertise at most `budget_bytes` beyond
//! `RCV.NXT` (the right edge [`window_end`]`(rcv_nxt, budget)`), and pass
//! the right edge actually advertised as `rcv_wnd_end`. Bytes beyond
//! `RCV.NXT + budget` are never stored, and after dropping what lies below
//! `RCV.NXT`, held ranges lie in `[RCV.NXT, RCV.NXT + budget)`, so
//! `held_bytes ≤ budget` always (for a fixed budget; if it shrinks, later
//! insertions are refused until delivery makes room). As `RCV.NXT` only grows, that right
//! edge never moves left (no window shrinking, RFC 9293 §3.8.6). The TCB
//! advertises `min(budget, room left in the application's receive buffer)`;
//! a receive buffer that shrinks the window is the TCB's own concern.
//!
//! # Cost
//!
//! Every operation walks at most the queue's entries a bounded number of
//! times (`O(entries)`), never allocates, and never panics, even when a
//! queue is used with the wrong pool (a logic error whose results are
//! unspecified but memory-safe and finite).
//!
//! # Example
//!
//! ```
//! use rusty_stack::tcp::reassembly::{window_end, OooQueue, SegmentPool};
//! use rusty_stack::wire::TcpSeqNumber;
//!
//! // Frames are plain byte vectors here; the stack stores `Chain`s.
//! let mut pool: SegmentPool<Vec<u8>> = SegmentPool::new(64);
//! let mut q = OooQueue::new();
//! let (budget, max_entries) = (4096, 16);
//! let mut rcv_nxt = TcpSeqNumber(1000);
//! let mut released = Vec::new();
//!
//! // Bytes 1005..1010 arrive first, after a 2-byte header in their frame.
//! let out = pool.insert(
//!     &mut q, rcv_nxt, window_end(rcv_nxt, budget),
//!     TcpSeqNumber(1005), 2, 5, b"HHworld".to_vec(),
//!     budget, max_entries, |f| released.push(f),
//! );
//! assert!(out.is_stored());
//! let mut sack = [(TcpSeqNumber(0), TcpSeqNumber(0)); 3];
//! assert_eq!(pool.sack_blocks(&q, &mut sack), 1);
//! assert_eq!(sack[0], (TcpSeqNumber(1005), TcpSeqNumber(1010)));
//! assert!(pool.pop_ready(&mut q, rcv_nxt, |f| released.push(f)).is_none());
//!
//! // Then 1000..1005 fills the gap.
//! let out = pool.insert(
//!     &mut q, rcv_nxt, window_end(rcv_nxt, budget),
//!     TcpSeqNumber(1000), 0, 5, b"hello".to_vec(),
//!     budget, max_entries, |f| released.push(f),
//! );
//! assert!(out.is_stored());
//! let mut app = Vec::new();
//! while let Some(r) = pool.pop_ready(&mut q, rcv_nxt, |f| released.push(f)) {
//!     app.extend_from_slice(&r.frame[r.offset as usize..(r.offset + r.len) as usize]);
//!     rcv_nxt = rcv_nxt.wrapping_add(r.len);
//!     // ... the frame's buffers go back to the driver here.
//! }
//! assert_eq!(app, b"helloworld");
//! assert_eq!(rcv_nxt, TcpSeqNumber(1010));
//! assert!(q.is_empty() && released.is_empty());
//! assert_eq!(pool.free_entries(), 64);
//! ```

use core::fmt;

use tracing::trace;

use crate::wire::TcpSeqNumber;

/// The largest byte budget a queue honours: larger budgets are clamped to
/// it. It is the largest window TCP can advertise (2¹⁶ − 1 scaled by at
/// most 2¹⁴, RFC 7323), well inside the 2³¹ range where sequence
/// comparisons hold.
pub const MAX_BUDGET: u32 = 1 << 30;

/// Number of recently stored ranges remembered per queue for SACK block
/// order (a SACK option carries at most four blocks).
const RECENT: usize = 4;

/// The "no entry" link.
const NIL: u32 = u32::MAX;

/// The right edge of the receive window to advertise for a queue with a
/// budget of `budget_bytes`: `rcv_nxt + min(budget_bytes, MAX_BUDGET)`.
///
/// Advertise no more than this (the TCB may advertise less, for instance
/// when the application's receive buffer is nearly full) and pass the edge
/// actually advertised as `rcv_wnd_end` to [`SegmentPool::insert`].
pub fn window_end(rcv_nxt: TcpSeqNumber, budget_bytes: u32) -> TcpSeqNumber {
    rcv_nxt.wrapping_add(budget_bytes.min(MAX_BUDGET))
}

/// Why [`SegmentPool::insert`] handed a frame back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// The segment carries no byte that is not already held or delivered:
    /// it is empty, lies entirely below `RCV.NXT`, or only covers held data.
    Duplicate,
    /// The segment starts at or beyond the right edge of the window.
    OutOfWindow,
    /// The segment's new bytes lie beyond `RCV.NXT + budget`, or would bring
    /// the bytes held over the budget.
    Budget,
    /// The queue already holds `max_entries` entries (and the segment
    /// replaces none of them).
    EntryLimit,
    /// The pool has no free entry (and the segment replaces no entry of
    /// this queue).
    PoolExhausted,
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RejectReason::Duplicate => "no new data",
            RejectReason::OutOfWindow => "out of window",
            RejectReason::Budget => "byte budget exceeded",
            RejectReason::EntryLimit => "entry limit reached",
            RejectReason::PoolExhausted => "segment pool exhausted",
        })
    }
}

/// What [`SegmentPool::insert`] did with a frame.
#[must_use = "a rejected frame must be given back to the driver"]
#[derive(Debug, PartialEq, Eq)]
pub enum InsertOutcome<T> {
    /// The frame is held by the queue.
    Stored {
        /// Held entries whose bytes the new frame covers entirely; their
        /// frames went to the `release` callback.
        replaced: u16,
    },
    /// The frame was not stored and is handed back.
    Rejected {
        /// The frame given to [`SegmentPool::insert`].
        frame: T,
        /// Why it was not stored.
        reason: RejectReason,
    },
}

impl<T> InsertOutcome<T> {
    /// Whether the frame was stored.
    pub fn is_stored(&self) -> bool {
        matches!(self, InsertOutcome::Stored { .. })
    }

    /// The rejected frame and the reason, or `None` if it was stored.
    pub fn into_rejected(self) -> Option<(T, RejectReason)> {
        match self {
            InsertOutcome::Stored { .. } => None,
            InsertOutcome::Rejected { frame, reason } => Some((frame, reason)),
        }
    }
}

/// A held segment that starts exactly at `RCV.NXT`, removed from the queue
/// by [`SegmentPool::pop_ready`].
#[derive(Debug, PartialEq, Eq)]
pub struct Ready<T> {
    /// The frame as received.
    pub frame: T,
    /// Where the next in-order byte starts inside `frame`, in bytes.
    pub offset: u32,
    /// How many in-order bytes `frame` holds from `offset` (at least one).
    pub len: u32,
}

/// The per-connection handle of an out-of-order queue, kept in the TCB.
///
/// It is only meaningful together with the [`SegmentPool`] it is used with;
/// dropping a non-empty handle leaks its pool entries until the pool is
/// dropped, so call [`SegmentPool::clear`] when the connection ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OooQueue {
    /// First (lowest) entry, or `NIL`.
    head: u32,
    /// Payload bytes held.
    bytes: u32,
    /// Entries held.
    count: u32,
    /// Last byte of the most recently received held ranges, most recent
    /// first.
    recent: [TcpSeqNumber; RECENT],
    /// How many of `recent` are valid.
    recent_len: u8,
}

impl Default for OooQueue {
    fn default() -> OooQueue {
        OooQueue::new()
    }
}

impl OooQueue {
    /// An empty queue.
    pub const fn new() -> OooQueue {
        OooQueue {
            head: NIL,
            bytes: 0,
            count: 0,
            recent: [TcpSeqNumber(0); RECENT],
            recent_len: 0,
        }
    }

    /// Payload bytes held (never more than the budget, see [`window_end`]).
    pub fn held_bytes(&self) -> u32 {
        self.bytes
    }

    /// Number of entries (frames) held.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether the queue holds nothing.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Forgets the recent ranges whose last byte lies below `rcv_nxt`
    /// (delivered).
    fn prune_recent(&mut self, rcv_nxt: TcpSeqNumber) {
        let mut kept = 0;
        for i in 0..usize::from(self.recent_len).min(RECENT) {
            let last = self.recent[i];
            if rel(last, rcv_nxt) >= 0 {
                self.recent[kept] = last;
                kept += 1;
            }
        }
        self.recent_len = kept as u8;
    }

    /// Remembers `last`, the last byte of a newly received held range, as
    /// the most recent one.
    fn note_recent(&mut self, last: TcpSeqNumber) {
        let len = usize::from(self.recent_len).min(RECENT);
        // Where `last` already is, or the oldest place kept.
        let at = self.recent[..len]
            .iter()
            .position(|&r| r == last)
            .unwrap_or(len.min(RECENT - 1));
        self.recent.copy_within(..at, 1);
        self.recent[0] = last;
        self.recent_len = (len + usize::from(at == len)).min(RECENT) as u8;
    }
}

/// One held segment.
struct Entry<T> {
    /// Sequence number of the first payload byte kept.
    seq: TcpSeqNumber,
    /// Payload bytes kept (at least one).
    len: u32,
    /// Where the kept payload starts inside `frame`, in bytes.
    offset: u32,
    /// Next entry of the same queue (higher sequence numbers), or `NIL`.
    next: u32,
    /// The frame as received.
    frame: T,
}

/// A pool slot.
enum Slot<T> {
    /// On the free list; `next` is the next free slot or `NIL`.
    Free { next: u32 },
    /// Holding an entry of some queue.
    Used(Entry<T>),
}

/// A per-core slab of out-of-order entries shared by the queues
/// ([`OooQueue`]) of all connections of the core.
///
/// All memory is allocated by [`SegmentPool::new`]; no method allocates.
pub struct SegmentPool<T> {
    slots: Vec<Slot<T>>,
    /// First free slot, or `NIL`.
    free_head: u32,
    /// Number of free slots.
    free_count: u32,
}

impl<T> fmt::Debug for SegmentPool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SegmentPool")
            .field("capacity", &self.capacity())
            .field("free_entries", &self.free_entries())
            .finish()
    }
}

/// The signed distance from `base` to `seq`, widened so that adding lengths
/// cannot overflow.
fn rel(seq: TcpSeqNumber, base: TcpSeqNumber) -> i64 {
    i64::from(seq.diff(base))
}

/// `x` (known to lie in `0..=u32::MAX`) as a `u32`, saturating otherwise.
fn to_u32(x: i64) -> u32 {
    u32::try_from(x.max(0)).unwrap_or(u32::MAX)
}

/// `x` as a `u16`, saturating.
fn to_u16(x: u32) -> u16 {
    u16::try_from(x).unwrap_or(u16::MAX)
}

impl<T> SegmentPool<T> {
    /// A pool of `capacity` entries (at most `u32::MAX - 1`), all free.
    pub fn new(capacity: u32) -> SegmentPool<T> {
        let capacity = capacity.min(NIL - 1);
        let mut slots = Vec::with_capacity(capacity as usize);
        for i in 0..capacity {
            let next = if i + 1 < capacity { i + 1 } else { NIL };
            slots.push(Slot::Free { next });
        }
        SegmentPool {
            slots,
            free_head: if capacity > 0 { 0 } else { NIL },
            free_count: capacity,
        }
    }

    /// Total number of entries.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Number of entries no queue holds.
    pub fn free_entries(&self) -> usize {
        self.free_count as usize
    }

    /// The frames of the entries the queues hold, in slot order.
    pub fn held(&self) -> impl Iterator<Item = &T> + '_ {
        self.slots.iter().filter_map(|slot| match slot {
            Slot::Used(entry) => Some(&entry.frame),
            Slot::Free { .. } => None,
        })
    }

    /// The entry at `idx`, if that slot is in use.
    fn entry(&self, idx: u32) -> Option<&Entry<T>> {
        match self.slots.get(idx as usize) {
            Some(Slot::Used(e)) => Some(e),
            _ => None,
        }
    }

    /// The entry at `idx`, if that slot is in use.
    fn entry_mut(&mut self, idx: u32) -> Option<&mut Entry<T>> {
        match self.slots.get_mut(idx as usize) {
            Some(Slot::Used(e)) => Some(e),
            _ => None,
        }
    }

    /// Puts `entry` in a free slot and returns its index, or hands the entry
    /// back when no slot is free.
    fn alloc(&mut self, entry: Entry<T>) -> Result<u32, Entry<T>> {
        let idx = self.free_head;
        let next = match self.slots.get(idx as usize) {
            Some(Slot::Free { next }) => *next,
            _ => return Err(entry),
        };
        if let Some(slot) = self.slots.get_mut(idx as usize) {
            *slot = Slot::Used(entry);
        }
        self.free_head = next;
        self.free_count = self.free_count.saturating_sub(1);
        Ok(idx)
    }

    /// Frees slot `idx` and returns its entry, if it was in use.
    fn take(&mut self, idx: u32) -> Option<Entry<T>> {
        let slot = self.slots.get_mut(idx as usize)?;
        if !matches!(slot, Slot::Used(_)) {
            return None;
        }
        match core::mem::replace(
            slot,
            Slot::Free {
                next: self.free_head,
            },
        ) {
            Slot::Used(e) => {
                self.free_head = idx;
                self.free_count = self.free_count.saturating_add(1);
                Some(e)
            }
            Slot::Free { .. } => None,
        }
    }

    /// Removes entry `idx` from the list of `q` (it follows `prev`, or is the
    /// head when `prev` is `NIL`), and returns it.
    fn unlink(&mut self, q: &mut OooQueue, prev: u32, idx: u32) -> Option<Entry<T>> {
        let e = self.take(idx)?;
        self.set_next(q, prev, e.next);
        q.count = q.count.saturating_sub(1);
        q.bytes = q.bytes.saturating_sub(e.len);
        Some(e)
    }

    /// Makes `next` follow `prev` in `q` (or the head when `prev` is `NIL`).
    fn set_next(&mut self, q: &mut OooQueue, prev: u32, next: u32) {
        if prev == NIL {
            q.head = next;
        } else if let Some(p) = self.entry_mut(prev) {
            p.next = next;
        }
    }

    /// Releases every entry entirely below `rcv_nxt` and trims the one that
    /// straddles it, so that all held bytes lie at or after `rcv_nxt`.
    fn drop_below(&mut self, q: &mut OooQueue, rcv_nxt: TcpSeqNumber, release: &mut impl FnMut(T)) {
        q.prune_recent(rcv_nxt);
        for _ in 0..self.slots.len() {
            let head = q.head;
            let Some(e) = self.entry_mut(head) else {
                return;
            };
            let start = rel(e.seq, rcv_nxt);
            let end = start + i64::from(e.len);
            if end <= 0 {
                if let Some(e) = self.unlink(q, NIL, head) {
                    release(e.frame);
                }
                continue;
            }
            if start < 0 {
                let cut = to_u32(-start);
                e.seq = rcv_nxt;
                e.offset = e.offset.saturating_add(cut);
                e.len = e.len.saturating_sub(cut);
                q.bytes = q.bytes.saturating_sub(cut);
            }
            return;
        }
    }

    /// Releases the entries of the list starting at `idx` (not linked from
    /// anywhere any more) and returns how many there were.
    fn release_from(&mut self, q: &mut OooQueue, mut idx: u32, release: &mut impl FnMut(T)) -> u32 {
        let mut n = 0;
        for _ in 0..self.slots.len() {
            let Some(e) = self.take(idx) else {
                break;
            };
            idx = e.next;
            q.count = q.count.saturating_sub(1);
            q.bytes = q.bytes.saturating_sub(e.len);
            release(e.frame);
            n += 1;
        }
        n
    }

    /// Stores the payload bytes `[seq, seq + len)` of a segment, found at
    /// `offset` inside `frame`, in queue `q`, or hands `frame` back.
    ///
    /// * `rcv_nxt` — the next sequence number expected (`RCV.NXT`); held
    ///   data below it is released first (the caller may have delivered it
    ///   directly).
    /// * `rcv_wnd_end` — the right edge of the window advertised
    ///   (`RCV.NXT + RCV.WND`, see [`window_end`]); data at or beyond it is
    ///   not stored.
    /// * `budget_bytes`, `max_entries` — the connection's limits: nothing is
    ///   stored beyond `rcv_nxt + budget_bytes` (clamped to [`MAX_BUDGET`]),
    ///   and the queue never holds more than `budget_bytes` bytes nor more
    ///   than `max_entries` entries.
    /// * `release` — receives the frames the queue no longer needs: held
    ///   data below `rcv_nxt`, entries the new frame replaces.
    ///
    /// The new frame keeps only bytes that are not held already; see the
    /// [module documentation](self) for the exact trimming rules and
    /// limits. A segment starting at or before `rcv_nxt` is stored too (it is
    /// then ready for [`SegmentPool::pop_ready`]). `offset + len` should not
    /// exceed `u32::MAX`.
    #[allow(clippy::too_many_arguments)]
    pub fn insert(
        &mut self,
        q: &mut OooQueue,
        rcv_nxt: TcpSeqNumber,
        rcv_wnd_end: TcpSeqNumber,
        seq: TcpSeqNumber,
        offset: u32,
        len: u32,
        frame: T,
        budget_bytes: u32,
        max_entries: u16,
        mut release: impl FnMut(T),
    ) -> InsertOutcome<T> {
        self.drop_below(q, rcv_nxt, &mut release);
        let reject = |frame: T, reason: RejectReason| {
            trace!(seq = %seq, len, %reason, "ooo: segment not stored");
            InsertOutcome::Rejected { frame, reason }
        };

        // Cut to [rcv_nxt, min(window end, rcv_nxt + budget)), relative to
        // rcv_nxt.
        let budget = i64::from(budget_bytes.min(MAX_BUDGET));
        let window = rel(rcv_wnd_end, rcv_nxt).max(0);
        let start = rel(seq, rcv_nxt);
        let end = start + i64::from(len);
        if len == 0 || end <= 0 {
            return reject(frame, RejectReason::Duplicate);
        }
        let mut s = start.max(0);
        if s >= window {
            return reject(frame, RejectReason::OutOfWindow);
        }
        if s >= budget {
            return reject(frame, RejectReason::Budget);
        }
        let mut e = end.min(window).min(budget);

        // Skip what held entries already cover at the start; `prev` ends up
        // as the entry after which the new one goes.
        let bound = self.slots.len();
        let mut prev = NIL;
        let mut cur = q.head;
        for _ in 0..bound {
            let Some(ent) = self.entry(cur) else {
                break;
            };
            let es = rel(ent.seq, rcv_nxt);
            if es > s {
                break;
            }
            s = s.max(es + i64::from(ent.len));
            prev = cur;
            cur = ent.next;
        }
        if s >= e {
            // All held: its block goes first in the next SACK option.
            q.note_recent(rcv_nxt.wrapping_add(to_u32(e - 1)));
            return reject(frame, RejectReason::Duplicate);
        }

        // Entries inside [s, e) are replaced; one straddling e cuts e.
        let first = cur;
        let mut replaced = 0u32;
        let mut replaced_bytes = 0i64;
        for _ in 0..bound {
            let Some(ent) = self.entry(cur) else {
                break;
            };
            let es = rel(ent.seq, rcv_nxt);
            let ee = es + i64::from(ent.len);
            if ee > e {
                if es < e {
                    e = es;
                }
                break;
            }
            replaced += 1;
            replaced_bytes += i64::from(ent.len);
            cur = ent.next;
        }
        let succ = cur;

        // Limits. Held data is never given up for new data: every held
        // byte may have been SACKed, and dropping SACKed data is reneging
        // (RFC 2018 §8). A segment that does not fit comes back instead
        // (its sender retransmits it; the in-order segment that fills the
        // first hole is delivered directly by the TCP layer, not stored).
        let count_after = i64::from(q.count) - i64::from(replaced) + 1;
        let bytes_after = i64::from(q.bytes) - replaced_bytes + (e - s);
        if count_after > i64::from(max_entries) {
            return reject(frame, RejectReason::EntryLimit);
        }
        if bytes_after > budget {
            return reject(frame, RejectReason::Budget);
        }
        if replaced == 0 && self.free_count == 0 {
            return reject(frame, RejectReason::PoolExhausted);
        }

        // Commit: release replaced entries, link the new entry.
        let mut c = first;
        for _ in 0..replaced {
            let Some(ent) = self.take(c) else {
                break;
            };
            c = ent.next;
            q.count = q.count.saturating_sub(1);
            q.bytes = q.bytes.saturating_sub(ent.len);
            release(ent.frame);
        }
        let next = succ;
        self.set_next(q, prev, next);
        let entry = Entry {
            seq: rcv_nxt.wrapping_add(to_u32(s)),
            len: to_u32(e - s),
            offset: offset.saturating_add(to_u32(s - start)),
            next,
            frame,
        };
        let last = entry.seq.wrapping_add(entry.len.saturating_sub(1));
        let added = entry.len;
        match self.alloc(entry) {
            Ok(idx) => {
                self.set_next(q, prev, idx);
                q.count = q.count.saturating_add(1);
                q.bytes = q.bytes.saturating_add(added);
                q.note_recent(last);
                InsertOutcome::Stored {
                    replaced: to_u16(replaced),
                }
            }
            // Unreachable with a consistent pool: a slot was free or freed.
            Err(entry) => reject(entry.frame, RejectReason::PoolExhausted),
        }
    }

    /// Removes and returns the held segment that starts at `rcv_nxt`, if
    /// any, after releasing held data below `rcv_nxt` (and trimming an entry
    /// that straddles it).
    ///
    /// The caller delivers `frame`'s bytes `[offset, offset + len)` to the
    /// application, advances `RCV.NXT` by `len`, and calls again until this
    /// returns `None`.
    pub fn pop_ready(
        &mut self,
        q: &mut OooQueue,
        rcv_nxt: TcpSeqNumber,
        mut release: impl FnMut(T),
    ) -> Option<Ready<T>> {
        self.drop_below(q, rcv_nxt, &mut release);
        let head = q.head;
        if self.entry(head)?.seq != rcv_nxt {
            return None;
        }
        let e = self.unlink(q, NIL, head)?;
        Some(Ready {
            frame: e.frame,
            offset: e.offset,
            len: e.len,
        })
    }

    /// Releases every frame of `q` and empties it (connection closed or
    /// reset).
    pub fn clear(&mut self, q: &mut OooQueue, mut release: impl FnMut(T)) {
        let head = q.head;
        self.release_from(q, head, &mut release);
        *q = OooQueue::new();
    }

    /// The held ranges of `q` as `(left, right)` pairs (`right` exclusive,
    /// as in a SACK block), touching entries merged, in ascending order.
    pub fn blocks<'a>(&'a self, q: &OooQueue) -> Blocks<'a, T> {
        Blocks {
            pool: self,
            cur: q.head,
            steps: self.slots.len(),
        }
    }

    /// Writes SACK blocks (RFC 2018) for `q` into `out` and returns how
    /// many, at most `out.len()`.
    ///
    /// The first block contains the most recently received segment that is
    /// held (stored, or a duplicate of held data), as RFC 2018 §4 requires;
    /// then come the blocks of the next most recently received held
    /// segments (up to four remembered), then the others in ascending order
    /// (a simplification of "repeat the most recently reported blocks").
    /// No block appears twice.
    pub fn sack_blocks(&self, q: &OooQueue, out: &mut [(TcpSeqNumber, TcpSeqNumber)]) -> usize {
        let mut n = 0;
        let mut push = |out: &mut [(TcpSeqNumber, TcpSeqNumber)], block| {
            if n < out.len() && !out.iter().take(n).any(|&b| b == block) {
                out[n] = block;
                n += 1;
            }
        };
        for &last in q.recent.iter().take(usize::from(q.recent_len)) {
            let containing = self
                .blocks(q)
                .find(|&(l, r)| last.in_window(l, r.0.wrapping_sub(l.0)));
            if let Some(block) = containing {
                push(out, block);
            }
        }
        for block in self.blocks(q) {
            push(out, block);
        }
        n
    }
}

/// Iterator over the held ranges of a queue, from [`SegmentPool::blocks`].
pub struct Blocks<'a, T> {
    pool: &'a SegmentPool<T>,
    cur: u32,
    /// Entries left to visit before giving up (guards against a queue used
    /// with the wrong pool).
    steps: usize,
}

impl<T> fmt::Debug for Blocks<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blocks").field("cur", &self.cur).finish()
    }
}

impl<T> Iterator for Blocks<'_, T> {
    type Item = (TcpSeqNumber, TcpSeqNumber);

    fn next(&mut self) -> Option<(TcpSeqNumber, TcpSeqNumber)> {
        if self.steps == 0 {
            return None;
        }
        let first = self.pool.entry(self.cur)?;
        self.steps -= 1;
        let left = first.seq;
        let mut right = first.seq.wrapping_add(first.len);
        self.cur = first.next;
        while self.steps > 0 {
            match self.pool.entry(self.cur) {
                Some(e) if e.seq == right => {
                    right = right.wrapping_add(e.len);
                    self.cur = e.next;
                    self.steps -= 1;
                }
                _ => break,
            }
        }
        Some((left, right))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test frame: an id and its payload bytes (offset 0 throughout,
    /// except where a test says otherwise).
    type Frame = (u32, Vec<u8>);

    fn sn(x: u32) -> TcpSeqNumber {
        TcpSeqNumber(x)
    }

    /// The byte at stream position `seq` (a function of the sequence number,
    /// so overlapping frames agree).
    fn byte(seq: u32) -> u8 {
        (seq.wrapping_mul(31) >> 3) as u8
    }

    fn frame(id: u32, seq: u32, len: u32) -> Frame {
        (id, (0..len).map(|i| byte(seq.wrapping_add(i))).collect())
    }

    struct Harness {
        pool: SegmentPool<Frame>,
        q: OooQueue,
        rcv_nxt: TcpSeqNumber,
        budget: u32,
        max_entries: u16,
        released: Vec<u32>,
    }

    impl Harness {
        fn new(capacity: u32, rcv_nxt: u32, budget: u32, max_entries: u16) -> Harness {
            Harness {
                pool: SegmentPool::new(capacity),
                q: OooQueue::new(),
                rcv_nxt: sn(rcv_nxt),
                budget,
                max_entries,
                released: Vec::new(),
            }
        }

        fn insert(&mut self, id: u32, seq: u32, len: u32) -> InsertOutcome<Frame> {
            let released = &mut self.released;
            self.pool.insert(
                &mut self.q,
                self.rcv_nxt,
                window_end(self.rcv_nxt, self.budget),
                sn(seq),
                0,
                len,
                frame(id, seq, len),
                self.budget,
                self.max_entries,
                |f| released.push(f.0),
            )
        }

        fn stored(&mut self, id: u32, seq: u32, len: u32) {
            assert!(self.insert(id, seq, len).is_stored(), "insert {id}");
        }

        fn rejected(&mut self, id: u32, seq: u32, len: u32) -> RejectReason {
            let (f, reason) = self.insert(id, seq, len).into_rejected().expect("rejected");
            assert_eq!(f.0, id);
            reason
        }

        /// Pops everything ready; returns the ids and checks the bytes.
        fn pop_all(&mut self) -> Vec<u32> {
            let mut ids = Vec::new();
            let released = &mut self.released;
            while let Some(r) = self
                .pool
                .pop_ready(&mut self.q, self.rcv_nxt, |f| released.push(f.0))
            {
                let bytes = &r.frame.1[r.offset as usize..(r.offset + r.len) as usize];
                for (i, &b) in bytes.iter().enumerate() {
                    assert_eq!(b, byte(self.rcv_nxt.0.wrapping_add(i as u32)));
                }
                self.rcv_nxt = self.rcv_nxt.wrapping_add(r.len);
                ids.push(r.frame.0);
            }
            ids
        }

        fn ranges(&self) -> Vec<(u32, u32)> {
            self.pool.blocks(&self.q).map(|(l, r)| (l.0, r.0)).collect()
        }

        fn sack(&self) -> Vec<(u32, u32)> {
            let mut out = [(sn(0), sn(0)); 4];
            let n = self.pool.sack_blocks(&self.q, &mut out);
            out[..n].iter().map(|(l, r)| (l.0, r.0)).collect()
        }
    }

    #[test]
    fn in_order_after_filling_gaps() {
        let mut h = Harness::new(8, 100, 1000, 8);
        h.stored(1, 120, 10);
        h.stored(2, 110, 10);
        assert!(h.pop_all().is_empty());
        assert_eq!(h.ranges(), [(110, 130)]);
        h.stored(3, 100, 10);
        assert_eq!(h.pop_all(), [3, 2, 1]);
        assert_eq!(h.rcv_nxt, sn(130));
        assert!(h.q.is_empty() && h.q.held_bytes() == 0);
        assert_eq!(h.pool.free_entries(), 8);
        assert!(h.released.is_empty());
    }

    #[test]
    fn duplicates_are_rejected() {
        let mut h = Harness::new(8, 100, 1000, 8);
        h.stored(1, 120, 10);
        assert_eq!(h.rejected(2, 120, 10), RejectReason::Duplicate);
        assert_eq!(h.rejected(3, 122, 5), RejectReason::Duplicate);
        assert_eq!(h.rejected(4, 90, 10), RejectReason::Duplicate);
        assert_eq!(h.rejected(5, 110, 0), RejectReason::Duplicate);
        // Two touching entries covering the segment: still nothing new.
        h.stored(6, 130, 10);
        assert_eq!(h.rejected(7, 125, 10), RejectReason::Duplicate);
        assert_eq!(h.q.len(), 2);
        assert_eq!(h.q.held_bytes(), 20);
    }

    #[test]
    fn window_and_budget() {
        let mut h = Harness::new(8, 100, 50, 8);
        assert_eq!(h.rejected(1, 150, 10), RejectReason::OutOfWindow);
        // A wider advertised window than the budget: refused by budget.
        let released = &mut h.released;
        let out = h.pool.insert(
            &mut h.q,
            sn(100),
            sn(300),
            sn(160),
            0,
            10,
            frame(2, 160, 10),
            50,
            8,
            |f| released.push(f.0),
        );
        assert_eq!(
            out.into_rejected().map(|(_, r)| r),
            Some(RejectReason::Budget)
        );
        // Straddling the right edge: kept up to it.
        h.stored(3, 140, 20);
        assert_eq!(h.ranges(), [(140, 150)]);
        // Straddling rcv_nxt: trimmed to it and ready.
        h.stored(4, 90, 20);
        assert_eq!(h.pop_all(), [4]);
        assert_eq!(h.rcv_nxt, sn(110));
        assert_eq!(h.q.held_bytes(), 10);
    }

    #[test]
    fn partial_overlaps_on_both_sides() {
        let mut h = Harness::new(8, 0, 1000, 8);
        h.stored(1, 10, 10); // [10, 20)
        h.stored(2, 30, 10); // [30, 40)
        h.stored(3, 15, 20); // [15, 35) -> keeps [20, 30)
        assert_eq!(h.ranges(), [(10, 40)]);
        assert_eq!(h.q.len(), 3);
        assert_eq!(h.q.held_bytes(), 30);
        h.stored(4, 5, 10); // [5, 15) -> keeps [5, 10)
        h.stored(5, 35, 10); // [35, 45) -> keeps [40, 45)
        assert_eq!(h.ranges(), [(5, 45)]);
        assert_eq!(h.q.held_bytes(), 40);
        h.stored(6, 0, 5);
        assert_eq!(h.pop_all(), [6, 4, 1, 3, 2, 5]);
        assert_eq!(h.rcv_nxt, sn(45));
        assert!(h.released.is_empty());
    }

    #[test]
    fn offsets_follow_trimming() {
        let mut pool: SegmentPool<Vec<u8>> = SegmentPool::new(4);
        let mut q = OooQueue::new();
        let mut released = Vec::new();
        // Frame: 3 header bytes, payload "abcdefgh" for [10, 18), trailer.
        let f = b"HHHabcdefghTT".to_vec();
        let out = pool.insert(&mut q, sn(12), sn(16), sn(10), 3, 8, f, 100, 4, |f| {
            released.push(f)
        });
        assert!(out.is_stored());
        let r = pool
            .pop_ready(&mut q, sn(12), |f| released.push(f))
            .unwrap();
        assert_eq!((r.offset, r.len), (5, 4));
        assert_eq!(&r.frame[5..9], b"cdef");
        assert!(released.is_empty());
    }

    #[test]
    fn segment_spanning_several_entries_replaces_them() {
        let mut h = Harness::new(8, 0, 1000, 8);
        h.stored(1, 10, 5); // [10, 15)
        h.stored(2, 20, 5); // [20, 25)
        h.stored(3, 30, 5); // [30, 35)
        h.stored(4, 40, 10); // [40, 50)
                             // [8, 45): replaces 1, 2, 3; cut at 40 by entry 4.
        assert_eq!(h.insert(5, 8, 37), InsertOutcome::Stored { replaced: 3 });
        h.released.sort_unstable();
        assert_eq!(h.released, [1, 2, 3]);
        assert_eq!(h.ranges(), [(8, 50)]);
        assert_eq!(h.q.len(), 2);
        assert_eq!(h.q.held_bytes(), 42);
        assert_eq!(h.pool.free_entries(), 6);
        // A segment inside an entry's gap-free stretch after a gap.
        h.stored(6, 0, 8);
        assert_eq!(h.pop_all(), [6, 5, 4]);
        assert_eq!(h.rcv_nxt, sn(50));
    }

    #[test]
    fn wraparound() {
        let base = u32::MAX - 20; // base + 21 == 0
        let mut h = Harness::new(8, base, 1000, 8);
        h.stored(1, base.wrapping_add(30), 10); // [9, 19)
        h.stored(2, base.wrapping_add(15), 10); // [MAX - 5, 4): across 0
        assert_eq!(h.ranges(), [(u32::MAX - 5, 4), (9, 19)]);
        // [MAX - 10, 19) covers both entries: replaces them.
        assert_eq!(
            h.insert(3, base.wrapping_add(10), 30),
            InsertOutcome::Stored { replaced: 2 }
        );
        assert_eq!(h.ranges(), [(u32::MAX - 10, 19)]);
        assert_eq!(h.sack(), [(u32::MAX - 10, 19)]);
        h.stored(4, base.wrapping_sub(5), 20); // keeps [base, MAX - 10)
        assert_eq!(h.pop_all(), [4, 3]);
        assert_eq!(h.rcv_nxt, sn(19));
        h.released.sort_unstable();
        assert_eq!(h.released, [1, 2]);
        assert_eq!(h.pool.free_entries(), 8);
    }

    #[test]
    fn budget_limit_never_reneges() {
        let mut h = Harness::new(16, 0, 100, 16);
        h.stored(1, 50, 30); // [50, 80)
        h.stored(2, 90, 10); // [90, 100)
        assert_eq!(h.rejected(3, 100, 10), RejectReason::OutOfWindow);
        assert_eq!(h.q.held_bytes(), 40);
        // The budget shrinks to 45: new data before the held entries is
        // refused; nothing held is given up.
        h.budget = 45;
        assert_eq!(h.rejected(4, 10, 10), RejectReason::Budget);
        assert!(h.released.is_empty());
        assert_eq!(h.ranges(), [(50, 80), (90, 100)]);
        // Up to the budget exactly.
        h.stored(5, 40, 5);
        assert_eq!(h.q.held_bytes(), 45);
        // Nothing beyond RCV.NXT + budget is stored.
        assert_eq!(h.rejected(6, 45, 5), RejectReason::OutOfWindow);
        assert_eq!(h.ranges(), [(40, 45), (50, 80), (90, 100)]);
    }

    #[test]
    fn entry_limit_never_reneges() {
        let mut h = Harness::new(16, 0, 1000, 3);
        h.stored(1, 10, 5);
        h.stored(2, 20, 5);
        h.stored(3, 30, 5);
        // Beyond every entry, or before one: refused, nothing given up.
        assert_eq!(h.rejected(4, 40, 5), RejectReason::EntryLimit);
        assert_eq!(h.rejected(5, 26, 2), RejectReason::EntryLimit);
        assert!(h.released.is_empty());
        // Replacing frees an entry: stored.
        assert_eq!(h.insert(6, 18, 12), InsertOutcome::Stored { replaced: 1 });
        assert_eq!(h.ranges(), [(10, 15), (18, 35)]);
        assert_eq!(h.released, [2]);
        // At the limit even the segment at RCV.NXT is refused (the TCP
        // layer delivers that one directly instead); with room it is
        // stored, and delivery frees entries.
        assert_eq!(h.rejected(8, 0, 10), RejectReason::EntryLimit);
        h.max_entries = 4;
        h.stored(7, 0, 10);
        assert_eq!(h.pop_all(), [7, 1]);
        assert_eq!(h.rcv_nxt, sn(15));
        // max_entries 0 stores nothing.
        h.max_entries = 0;
        assert_eq!(h.rejected(9, 40, 3), RejectReason::EntryLimit);
    }

    #[test]
    fn pool_exhaustion_shared_between_queues() {
        fn ins(
            pool: &mut SegmentPool<Frame>,
            q: &mut OooQueue,
            released: &mut Vec<u32>,
            (id, seq, len): (u32, u32, u32),
        ) -> InsertOutcome<Frame> {
            pool.insert(
                q,
                sn(0),
                sn(1000),
                sn(seq),
                0,
                len,
                frame(id, seq, len),
                1000,
                10,
                |f| released.push(f.0),
            )
        }
        let mut pool: SegmentPool<Frame> = SegmentPool::new(3);
        let (mut a, mut b) = (OooQueue::new(), OooQueue::new());
        let mut rel = Vec::new();
        assert!(ins(&mut pool, &mut a, &mut rel, (1, 10, 5)).is_stored());
        assert!(ins(&mut pool, &mut a, &mut rel, (2, 20, 5)).is_stored());
        assert!(ins(&mut pool, &mut b, &mut rel, (3, 10, 5)).is_stored());
        assert_eq!(pool.free_entries(), 0);
        // B cannot take A's entries.
        let out = ins(&mut pool, &mut b, &mut rel, (4, 30, 5));
        assert_eq!(
            out.into_rejected().map(|(f, r)| (f.0, r)),
            Some((4, RejectReason::PoolExhausted))
        );
        // Nor does A give up its own entries for a nearer segment.
        let out = ins(&mut pool, &mut a, &mut rel, (5, 0, 5));
        assert_eq!(
            out.into_rejected().map(|(f, r)| (f.0, r)),
            Some((5, RejectReason::PoolExhausted))
        );
        // Replacing needs no free entry.
        assert!(ins(&mut pool, &mut b, &mut rel, (6, 5, 20)).is_stored());
        assert_eq!(rel, [3]);
        assert_eq!((a.len(), b.len(), pool.free_entries()), (2, 1, 0));
        pool.clear(&mut a, |f| rel.push(f.0));
        assert_eq!(pool.free_entries(), 2);
        assert!(ins(&mut pool, &mut b, &mut rel, (7, 30, 5)).is_stored());
        assert_eq!(pool.free_entries(), 1);
        assert_eq!(rel, [3, 1, 2]);
    }

    #[test]
    fn sack_blocks_most_recent_first() {
        let mut h = Harness::new(16, 0, 1000, 16);
        h.stored(1, 10, 5);
        h.stored(2, 30, 5);
        h.stored(3, 50, 5);
        h.stored(4, 70, 5);
        h.stored(5, 90, 5);
        assert_eq!(h.sack(), [(90, 95), (70, 75), (50, 55), (30, 35)]);
        h.stored(6, 35, 5); // extends [30, 40)
        assert_eq!(h.sack(), [(30, 40), (90, 95), (70, 75), (50, 55)]);
        // Fewer slots than blocks (timestamps leave room for three).
        let mut out = [(sn(0), sn(0)); 3];
        assert_eq!(h.pool.sack_blocks(&h.q, &mut out), 3);
        assert_eq!(out[0], (sn(30), sn(40)));
        let mut none: [(TcpSeqNumber, TcpSeqNumber); 0] = [];
        assert_eq!(h.pool.sack_blocks(&h.q, &mut none), 0);
        // A block whose recent segments were all delivered: ascending order.
        h.stored(7, 0, 10);
        assert_eq!(h.pop_all(), [7, 1]);
        assert_eq!(h.sack(), [(30, 40), (90, 95), (70, 75), (50, 55)]);
        h.stored(8, 15, 15);
        assert_eq!(h.pop_all(), [8, 2, 6]);
        assert_eq!(h.sack(), [(90, 95), (70, 75), (50, 55)]);
        // A duplicate of held data triggers an ACK whose first block holds it.
        assert_eq!(h.rejected(9, 52, 2), RejectReason::Duplicate);
        assert_eq!(h.sack(), [(50, 55), (90, 95), (70, 75)]);
        assert_eq!(h.rejected(10, 52, 2), RejectReason::Duplicate);
        assert_eq!(h.sack(), [(50, 55), (90, 95), (70, 75)]);
        // Below rcv_nxt: not in any block, order unchanged.
        assert_eq!(h.rejected(11, 20, 5), RejectReason::Duplicate);
        assert_eq!(h.sack(), [(50, 55), (90, 95), (70, 75)]);
    }

    #[test]
    fn clear_releases_every_frame() {
        let mut h = Harness::new(8, 0, 1000, 8);
        for id in 0..5 {
            h.stored(id, 10 + id * 10, 5);
        }
        assert_eq!(h.pool.free_entries(), 3);
        let released = &mut h.released;
        h.pool.clear(&mut h.q, |f| released.push(f.0));
        assert_eq!(h.released, [0, 1, 2, 3, 4]);
        assert_eq!(h.q, OooQueue::new());
        assert_eq!(h.pool.free_entries(), 8);
        assert_eq!(h.sack(), []);
    }

    #[test]
    fn stale_entries_are_released_when_rcv_nxt_moves() {
        let mut h = Harness::new(8, 0, 1000, 8);
        h.stored(1, 10, 10);
        h.stored(2, 30, 10);
        // The caller delivered [0, 35) directly.
        h.rcv_nxt = sn(35);
        assert_eq!(h.pop_all(), [2]);
        assert_eq!(h.released, [1]);
        assert_eq!(h.rcv_nxt, sn(40));
        assert!(h.q.is_empty());
    }

    #[test]
    fn empty_pool_and_mismatched_queue_never_panic() {
        let mut h = Harness::new(0, 0, 1000, 8);
        assert_eq!(h.rejected(1, 10, 5), RejectReason::PoolExhausted);
        assert_eq!(h.pool.capacity(), 0);
        // A queue used with another pool: garbage, but no panic.
        let mut other: SegmentPool<Frame> = SegmentPool::new(2);
        let mut q = OooQueue::new();
        let out = other.insert(
            &mut q,
            sn(0),
            sn(100),
            sn(5),
            0,
            5,
            frame(2, 5, 5),
            100,
            4,
            drop,
        );
        assert!(out.is_stored());
        let mut small: SegmentPool<Frame> = SegmentPool::new(1);
        let _ = small.insert(
            &mut q,
            sn(0),
            sn(100),
            sn(20),
            0,
            5,
            frame(3, 20, 5),
            100,
            4,
            drop,
        );
        let _ = small.pop_ready(&mut q, sn(5), drop);
        let mut out = [(sn(0), sn(0)); 4];
        let _ = small.sack_blocks(&q, &mut out);
        small.clear(&mut q, drop);
    }
}
