//! An allocation-free hierarchical timing wheel.
//!
//! [`TimerWheel`] holds the stack's timers (TCP retransmission, delayed ACK,
//! TIME-WAIT, keepalive, ARP) for up to hundreds of thousands of connections
//! per core. All of its storage is allocated by [`TimerWheel::new`]: a slab
//! of `capacity` timer nodes linked into intrusive doubly linked lists by
//! `u32` index, a free list, the slot list heads, and one 64-bit occupancy
//! bitmap per level. Nothing is allocated afterwards.
//!
//! # Structure
//!
//! Time is counted in *ticks* of the granularity given to `new`. The wheel
//! has [`LEVELS`] levels of 64 slots; a slot of level `k` spans `64^k` ticks,
//! so the top level covers the whole `u64` tick range and any deadline, even
//! centuries away, has a place without an overflow list. A timer lives on
//! the level of the highest base-64 digit in which its deadline tick differs
//! from the wheel's current tick, in the slot named by that digit. When time
//! reaches a coarse slot, its timers cascade to finer levels (each timer
//! moves at most `LEVELS - 1` times in its life). Empty slots are skipped with
//! the occupancy bitmaps, so a jump of any length costs nothing per idle tick.
//!
//! Schedule, cancel and reschedule are O(1); [`TimerWheel::next_deadline`]
//! is O([`LEVELS`]) and never later than the next firing (usually exact).
//!
//! # Firing rule
//!
//! The wheel's time, [`now`](TimerWheel::now), is the latest (largest) `now`
//! passed to [`pop_expired`](TimerWheel::pop_expired) or
//! [`expire`](TimerWheel::expire) (or to `new`): a `now` earlier than a
//! previous one counts as no progress. Its *current tick* is
//! `floor(now / tick)`.
//!
//! A deadline `at` is rounded **up** to a tick: its *deadline tick* is
//! `ceil(at / tick)`. A timer fires at the first pop/expire call whose `now`
//! is at least its deadline tick's start, `ceil(at / tick) * tick`: never
//! before `at`, at most one tick after it.
//!
//! A deadline at or before the wheel's time (in the past) is *due*: it fires
//! at the next pop/expire call, whatever its `now`.
//!
//! The only deadlines that never fire are those within one tick of
//! [`Instant::MAX`] whose rounded-up tick start is not representable
//! (`next_deadline` reports them as `Instant::MAX`).
//!
//! # Order
//!
//! Each timer has an *effective tick*: its deadline tick, or the current tick
//! if the deadline was in the past when it was scheduled (a past deadline
//! counts as due "now"). Timers come out in increasing order of `(effective tick,
//! scheduling order)`, where [`reschedule`](TimerWheel::reschedule) counts as
//! scheduling anew. So timers of the same tick fire in the order they were
//! scheduled, and all timers that are due in one call come out before any
//! timer that becomes due in a later call.
//!
//! # Example
//!
//! ```
//! use rusty_stack::time::{Duration, Instant};
//! use rusty_stack::mem::timer::TimerWheel;
//!
//! #[derive(Clone, Copy, Debug, PartialEq)]
//! enum Kind {
//!     Retransmit(u32),
//!     DelayedAck(u32),
//! }
//!
//! let start = Instant::from_secs(10);
//! let mut wheel = TimerWheel::new(1024, Duration::from_millis(1), start);
//!
//! let rto = wheel.schedule(start + Duration::from_millis(200), Kind::Retransmit(7)).unwrap();
//! let ack = wheel.schedule(start + Duration::from_millis(40), Kind::DelayedAck(7)).unwrap();
//! assert_eq!(wheel.len(), 2);
//! assert_eq!(wheel.next_deadline(), Some(start + Duration::from_millis(40)));
//!
//! // The ACK went out with data: the delayed-ACK timer is no longer needed.
//! assert_eq!(wheel.cancel(ack), Some(Kind::DelayedAck(7)));
//! assert_eq!(wheel.cancel(ack), None); // stale ids are ignored
//!
//! // An ACK arrived: push the retransmission back.
//! wheel.reschedule(rto, start + Duration::from_millis(300)).unwrap();
//!
//! assert_eq!(wheel.pop_expired(start + Duration::from_millis(299)), None);
//! let now = start + Duration::from_millis(300);
//! assert_eq!(wheel.pop_expired(now), Some((rto, Kind::Retransmit(7))));
//! assert!(!wheel.is_scheduled(rto));
//! assert!(wheel.is_empty());
//! assert_eq!(wheel.next_deadline(), None);
//! ```

use core::fmt;
use core::num::NonZeroU32;

use crate::time::{Duration, Instant};

/// Bits of the tick count resolved by each level.
const SLOT_BITS: u32 = 6;
/// Slots per level.
const SLOTS: usize = 1 << SLOT_BITS;
/// Number of levels of the wheel: `LEVELS * 6 >= 64`, so every `u64` tick
/// count has a slot and no overflow list is needed.
pub const LEVELS: usize = 11;
/// Lists of the wheel proper, one per slot.
const WHEEL_LISTS: usize = LEVELS * SLOTS;
/// The list of due timers, in firing order.
const DUE: usize = WHEEL_LISTS;
/// All lists: the slots and the due list.
const LISTS: usize = WHEEL_LISTS + 1;
/// End of the free list.
const NIL: u32 = u32::MAX;

/// [`TimerWheel::next_deadline`] is exact when the coarse slot holding the
/// earliest timer holds at most this many timers (it scans them).
pub const NEXT_DEADLINE_SCAN: usize = 8;

/// The largest capacity [`TimerWheel::new`] accepts: node and list indices
/// must fit in a `u32` (with [`u32::MAX`] kept as a marker).
pub const MAX_CAPACITY: usize = (u32::MAX as usize) - LISTS - 1;

/// A handle to a scheduled timer.
///
/// The handle carries a generation counter: once the timer has fired or been
/// cancelled, the handle is *stale* and every operation on it is ignored
/// (returns `None`, `false` or [`StaleTimer`]), even after the timer's node
/// has been reused for another timer. Generations are 32 bits per node, so a
/// stale handle could only be confused with a new timer after its node has
/// been reused 2^31 times while the stale handle was kept.
///
/// `Option<TimerId>` is the same size as `TimerId` (8 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId {
    index: u32,
    gen: NonZeroU32,
}

/// The error of [`TimerWheel::reschedule`]: the handle is stale (its timer
/// already fired or was cancelled).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct StaleTimer;

impl fmt::Display for StaleTimer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stale timer id: the timer already fired or was cancelled")
    }
}

impl std::error::Error for StaleTimer {}

/// The links of a node or of a list's sentinel.
#[derive(Clone, Copy, Debug)]
struct Link {
    prev: u32,
    next: u32,
}

/// A timer node of the slab.
#[derive(Clone, Copy, Debug)]
struct Entry<T> {
    /// Odd while the node holds a timer, even while it is free.
    gen: u32,
    /// The effective tick: the deadline tick, or the current tick when the
    /// timer was scheduled if that is later.
    tick: u64,
    /// The deadline as asked, for [`TimerWheel::deadline`].
    at: Instant,
    payload: T,
}

/// A hierarchical timing wheel of at most `capacity` timers, each carrying a
/// small `Copy` payload. See the [module documentation](self) for the firing
/// and ordering rules.
pub struct TimerWheel<T: Copy> {
    /// Links of the `capacity` nodes, then the sentinels of the `LISTS`
    /// circular lists (slot `s` of level `k` is list `k * 64 + s`, then the
    /// due list). Free nodes are chained through `next` from `free`.
    links: Vec<Link>,
    /// Timer nodes; grows up to `capacity` without ever reallocating (its
    /// capacity is reserved by `new`). Nodes are never removed, only freed.
    entries: Vec<Entry<T>>,
    /// Maximum number of timers.
    capacity: u32,
    /// Head of the free list of released nodes, or `NIL`.
    free: u32,
    /// Number of scheduled timers (including due ones not yet popped).
    len: usize,
    /// Granularity in nanoseconds, at least 1.
    tick_ns: u64,
    /// The wheel's time: the latest `now` seen, in nanoseconds.
    now_ns: u64,
    /// The current tick: `floor(now_ns / tick_ns)`, except within
    /// `advance`, where it walks towards that.
    now_tick: u64,
    /// Bit `s` of `occupied[k]` is set when slot `s` of level `k` is
    /// non-empty.
    occupied: [u64; LEVELS],
}

impl<T: Copy> TimerWheel<T> {
    /// A wheel of room for `capacity` timers, with a granularity of `tick`,
    /// whose current time is `now`.
    ///
    /// All storage is allocated here: about `capacity * (32 +
    /// size_of::<T>())` bytes plus a few kilobytes. A `tick` of zero is
    /// treated as one nanosecond.
    ///
    /// # Panics
    ///
    /// If `capacity` exceeds [`MAX_CAPACITY`].
    pub fn new(capacity: usize, tick: Duration, now: Instant) -> Self {
        assert!(
            capacity <= MAX_CAPACITY,
            "timer wheel capacity {capacity} exceeds {MAX_CAPACITY}"
        );
        let tick_ns = tick.as_nanos().max(1);
        let links = (0..capacity + LISTS)
            .map(|i| {
                // Nodes start unlinked; sentinels start as empty lists.
                let i = i as u32;
                Link { prev: i, next: i }
            })
            .collect();
        TimerWheel {
            links,
            entries: Vec::with_capacity(capacity),
            capacity: capacity as u32,
            free: NIL,
            len: 0,
            tick_ns,
            now_ns: now.as_nanos(),
            now_tick: now.as_nanos() / tick_ns,
            occupied: [0; LEVELS],
        }
    }

    /// The maximum number of timers the wheel can hold.
    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }

    /// The number of scheduled timers, including due ones not yet popped.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is scheduled.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The granularity of the wheel (at least one nanosecond).
    pub fn tick(&self) -> Duration {
        Duration::from_nanos(self.tick_ns)
    }

    /// The wheel's time: the latest (largest) `now` passed to a pop/expire
    /// call or to `new`. Deadlines at or before it are due.
    pub fn now(&self) -> Instant {
        Instant::from_nanos(self.now_ns)
    }

    /// Schedules `payload` to fire at `at` (see the module documentation
    /// for the firing rule). A deadline in the past fires at the next
    /// pop/expire call. O(1).
    ///
    /// # Errors
    ///
    /// Gives `payload` back when the wheel already holds `capacity` timers.
    pub fn schedule(&mut self, at: Instant, payload: T) -> Result<TimerId, T> {
        let index = if self.free != NIL {
            let index = self.free;
            self.free = self.links[index as usize].next;
            let entry = &mut self.entries[index as usize];
            entry.gen = entry.gen.wrapping_add(1);
            entry.at = at;
            entry.payload = payload;
            index
        } else if self.entries.len() < self.capacity as usize {
            let index = self.entries.len() as u32;
            self.entries.push(Entry {
                gen: 1,
                tick: 0,
                at,
                payload,
            });
            index
        } else {
            return Err(payload);
        };
        self.insert(index, at);
        self.len += 1;
        Ok(TimerId {
            index,
            gen: gen_id(self.entries[index as usize].gen),
        })
    }

    /// Cancels a timer and returns its payload, or `None` if the handle is
    /// stale (the timer already fired or was cancelled). O(1).
    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        let index = self.lookup(id)?;
        self.unlink(index);
        Some(self.release(index))
    }

    /// Moves a scheduled timer to a new deadline, keeping its handle and
    /// payload. It then orders as if scheduled now (after every timer of the
    /// same tick). O(1).
    ///
    /// # Errors
    ///
    /// [`StaleTimer`] if the timer already fired or was cancelled.
    pub fn reschedule(&mut self, id: TimerId, at: Instant) -> Result<(), StaleTimer> {
        let index = self.lookup(id).ok_or(StaleTimer)?;
        self.unlink(index);
        self.entries[index as usize].at = at;
        self.insert(index, at);
        Ok(())
    }

    /// The deadline a scheduled timer was given (as asked, not rounded), or
    /// `None` if the handle is stale.
    pub fn deadline(&self, id: TimerId) -> Option<Instant> {
        self.lookup(id).map(|index| self.entries[index as usize].at)
    }

    /// The payload of a scheduled timer, or `None` if the handle is stale.
    pub fn get(&self, id: TimerId) -> Option<&T> {
        self.lookup(id)
            .map(|index| &self.entries[index as usize].payload)
    }

    /// Whether the timer is still scheduled (it has neither fired nor been
    /// cancelled). A due timer not yet popped is still scheduled.
    pub fn is_scheduled(&self, id: TimerId) -> bool {
        self.lookup(id).is_some()
    }

    /// Advances the wheel to `now` and removes the first due timer, in the
    /// order given in the module documentation. Returns `None` when no timer
    /// is due at `now`. The handle it returns is already stale.
    ///
    /// A `now` earlier than a previous one is no progress (it never panics);
    /// timers already due still come out. Advancing over any stretch of time
    /// costs only the occupied slots on the way, not the ticks.
    pub fn pop_expired(&mut self, now: Instant) -> Option<(TimerId, T)> {
        self.advance(now);
        let sentinel = self.sentinel(DUE);
        let index = self.links[sentinel as usize].next;
        if index == sentinel {
            return None;
        }
        self.unlink(index);
        let id = TimerId {
            index,
            gen: gen_id(self.entries[index as usize].gen),
        };
        Some((id, self.release(index)))
    }

    /// Fires every timer due at `now`, in order, calling `f` with each
    /// handle (already stale) and payload; returns how many fired. Same
    /// rules as [`pop_expired`](Self::pop_expired), which it calls in a loop.
    pub fn expire(&mut self, now: Instant, mut f: impl FnMut(TimerId, T)) -> usize {
        let mut fired = 0;
        while let Some((id, payload)) = self.pop_expired(now) {
            f(id, payload);
            fired += 1;
        }
        fired
    }

    /// The earliest instant at which a pop/expire call could fire a timer,
    /// or `None` if no timer is scheduled. O([`LEVELS`] +
    /// [`NEXT_DEADLINE_SCAN`]), without scanning the timers.
    ///
    /// It is never later than the real next firing, and exact except in the
    /// last case below:
    /// * if some timer is due, it is the start of the first due timer's
    ///   effective tick (not after [`now`](Self::now)): the next call fires
    ///   it whatever its `now`;
    /// * otherwise, if the earliest timer's deadline tick lies in the current
    ///   64-tick block (the finest level), it is exactly that tick's start;
    /// * otherwise, if the coarse slot holding the earliest timer holds at
    ///   most [`NEXT_DEADLINE_SCAN`] timers, it is exactly the earliest
    ///   deadline tick's start;
    /// * otherwise it is the start of that coarse slot: the earliest deadline
    ///   tick with the low `6 * k` bits cleared, where `k` is the highest
    ///   base-64 digit in which that tick differs from the current tick. A
    ///   pop/expire call at that instant cascades the slot (firing only
    ///   timers of that very tick), after which the answer is finer; after at
    ///   most `LEVELS - 1` such calls it is exact.
    pub fn next_deadline(&self) -> Option<Instant> {
        let due = self.sentinel(DUE);
        let first_due = self.links[due as usize].next;
        if first_due != due {
            return Some(self.tick_start(self.entries[first_due as usize].tick));
        }
        let (list, start) = self.frontier()?;
        if list < SLOTS {
            return Some(self.tick_start(start));
        }
        // A coarse slot: exact if it is short enough to scan.
        let sentinel = self.sentinel(list);
        let mut index = self.links[sentinel as usize].next;
        let mut earliest = u64::MAX;
        for _ in 0..NEXT_DEADLINE_SCAN {
            if index == sentinel {
                return Some(self.tick_start(earliest));
            }
            earliest = earliest.min(self.entries[index as usize].tick);
            index = self.links[index as usize].next;
        }
        if index == sentinel {
            return Some(self.tick_start(earliest));
        }
        Some(self.tick_start(start))
    }

    // ----- internals -----

    /// The start of a tick, saturating.
    fn tick_start(&self, tick: u64) -> Instant {
        Instant::from_nanos(tick.saturating_mul(self.tick_ns))
    }

    /// The sentinel node of list `list`.
    fn sentinel(&self, list: usize) -> u32 {
        self.capacity + list as u32
    }

    /// The node of a live handle.
    fn lookup(&self, id: TimerId) -> Option<u32> {
        let entry = self.entries.get(id.index as usize)?;
        // Live generations are odd, so a match means the node is live.
        (entry.gen == id.gen.get()).then_some(id.index)
    }

    /// Frees a node that is already unlinked and returns its payload.
    fn release(&mut self, index: u32) -> T {
        let entry = &mut self.entries[index as usize];
        entry.gen = entry.gen.wrapping_add(1);
        let payload = entry.payload;
        self.links[index as usize].next = self.free;
        self.free = index;
        self.len -= 1;
        payload
    }

    /// Files an unlinked node with deadline `at`: on the due list if `at`
    /// is not after the wheel's time, else in the wheel.
    fn insert(&mut self, index: u32, at: Instant) {
        if at.as_nanos() <= self.now_ns {
            self.entries[index as usize].tick = self.now_tick;
            self.push_back(DUE, index);
        } else {
            // `at > now_ns >= now_tick * tick_ns`, so the deadline tick is
            // after the current tick.
            let tick = at.as_nanos().div_ceil(self.tick_ns);
            self.entries[index as usize].tick = tick;
            self.place(index, tick);
        }
    }

    /// Files a node whose tick is after the current tick in its wheel slot.
    fn place(&mut self, index: u32, tick: u64) {
        debug_assert!(tick > self.now_tick);
        let top_bit = 63 - (tick ^ self.now_tick).leading_zeros();
        let level = top_bit / SLOT_BITS;
        let slot = (tick >> (level * SLOT_BITS)) as usize & (SLOTS - 1);
        self.push_back(level as usize * SLOTS + slot, index);
    }

    /// Appends a node to a list.
    fn push_back(&mut self, list: usize, index: u32) {
        let sentinel = self.sentinel(list);
        let tail = self.links[sentinel as usize].prev;
        self.links[index as usize] = Link {
            prev: tail,
            next: sentinel,
        };
        self.links[tail as usize].next = index;
        self.links[sentinel as usize].prev = index;
        if list < WHEEL_LISTS {
            self.occupied[list / SLOTS] |= 1 << (list % SLOTS);
        }
    }

    /// Removes a node from whatever list holds it.
    fn unlink(&mut self, index: u32) {
        let Link { prev, next } = self.links[index as usize];
        self.links[prev as usize].next = next;
        self.links[next as usize].prev = prev;
        // The list is now empty iff both neighbours are its sentinel.
        if prev == next && prev >= self.capacity {
            self.mark_empty((prev - self.capacity) as usize);
        }
    }

    /// Clears the occupancy bit of a list that became empty.
    fn mark_empty(&mut self, list: usize) {
        if list < WHEEL_LISTS {
            self.occupied[list / SLOTS] &= !(1 << (list % SLOTS));
        }
    }

    /// The earliest non-empty slot: `(list, first tick of the slot)`.
    ///
    /// Every timer on level `k` agrees with the current tick on the digits
    /// above `k` and is later on digit `k`, so any timer on a lower level is
    /// earlier than every timer on a higher one, and within a level the
    /// lowest occupied slot is the earliest.
    fn frontier(&self) -> Option<(usize, u64)> {
        let level = self.occupied.iter().position(|&bits| bits != 0)?;
        let slot = self.occupied[level].trailing_zeros() as u64;
        let shift = level as u32 * SLOT_BITS;
        let high = u64::MAX
            .checked_shl(shift + SLOT_BITS)
            .map_or(0, |mask| self.now_tick & mask);
        Some((level * SLOTS + slot as usize, high | (slot << shift)))
    }

    /// Moves the wheel's time forward to `now`, moving every timer whose
    /// tick has come to the due list, in order. Earlier times are ignored.
    fn advance(&mut self, now: Instant) {
        if now.as_nanos() <= self.now_ns {
            return;
        }
        self.now_ns = now.as_nanos();
        let now_tick = self.now_ns / self.tick_ns;
        while let Some((list, start)) = self.frontier() {
            if start > now_tick {
                break;
            }
            // Nothing lies between the current tick and `start`.
            self.now_tick = start;
            if list < SLOTS {
                // A finest-level slot holds one tick: all of it is due.
                self.splice_to_due(list);
            } else {
                self.cascade(list);
            }
        }
        // No slot starts at or before `now_tick`: every timer keeps its
        // level and slot relative to the new current tick.
        self.now_tick = now_tick;
    }

    /// Moves a whole list to the end of the due list. O(1).
    fn splice_to_due(&mut self, list: usize) {
        let sentinel = self.sentinel(list);
        let Link {
            next: first,
            prev: last,
        } = self.links[sentinel as usize];
        if first == sentinel {
            return;
        }
        self.links[sentinel as usize] = Link {
            prev: sentinel,
            next: sentinel,
        };
        self.mark_empty(list);
        let due = self.sentinel(DUE);
        let tail = self.links[due as usize].prev;
        self.links[tail as usize].next = first;
        self.links[first as usize].prev = tail;
        self.links[last as usize].next = due;
        self.links[due as usize].prev = last;
    }

    /// Redistributes the timers of a coarse slot that starts at the current
    /// tick: those of the current tick become due, the others go to finer
    /// levels. Order within each destination list is kept.
    fn cascade(&mut self, list: usize) {
        let sentinel = self.sentinel(list);
        let mut index = self.links[sentinel as usize].next;
        self.links[sentinel as usize] = Link {
            prev: sentinel,
            next: sentinel,
        };
        self.mark_empty(list);
        while index != sentinel {
            let next = self.links[index as usize].next;
            let tick = self.entries[index as usize].tick;
            if tick <= self.now_tick {
                self.push_back(DUE, index);
            } else {
                self.place(index, tick);
            }
            index = next;
        }
    }
}

/// The handle generation of a live node (live generations are odd).
fn gen_id(gen: u32) -> NonZeroU32 {
    NonZeroU32::new(gen).expect("live timer generations are odd")
}

impl<T: Copy> fmt::Debug for TimerWheel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerWheel")
            .field("len", &self.len)
            .field("capacity", &self.capacity)
            .field("tick", &self.tick())
            .field("now", &self.now())
            .field("next_deadline", &self.next_deadline())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    /// One millisecond before `t`.
    fn before(t: Instant) -> Instant {
        Instant::from_nanos(t.as_nanos() - 1_000_000)
    }

    fn drain<T: Copy>(wheel: &mut TimerWheel<T>, now: Instant) -> Vec<T> {
        let mut out = Vec::new();
        wheel.expire(now, |_, payload| out.push(payload));
        out
    }

    #[test]
    fn timer_fires_at_deadline_not_before() {
        let mut w = TimerWheel::new(8, MS, ms(0));
        let id = w.schedule(ms(10), 1u32).unwrap();
        assert_eq!(w.deadline(id), Some(ms(10)));
        assert_eq!(w.next_deadline(), Some(ms(10)));
        assert_eq!(w.pop_expired(Instant::from_nanos(9_999_999)), None);
        assert!(w.is_scheduled(id));
        assert_eq!(w.pop_expired(ms(10)), Some((id, 1)));
        assert!(!w.is_scheduled(id));
        assert_eq!(w.pop_expired(ms(10)), None);
        assert!(w.is_empty());
    }

    #[test]
    fn timer_tick_rounding_is_up() {
        let mut w = TimerWheel::new(8, MS, ms(0));
        // 10.2 ms rounds up to 11 ms: never early, at most one tick late.
        let at = Instant::from_micros(10_200);
        let id = w.schedule(at, ()).unwrap();
        assert_eq!(w.deadline(id), Some(at));
        assert_eq!(w.next_deadline(), Some(ms(11)));
        assert_eq!(w.pop_expired(Instant::from_micros(10_999)), None);
        assert!(w.pop_expired(ms(11)).is_some());
        // Exactly on a tick boundary: no rounding.
        w.schedule(ms(20), ()).unwrap();
        assert_eq!(w.next_deadline(), Some(ms(20)));
        assert_eq!(w.pop_expired(Instant::from_micros(19_999)), None);
        assert!(w.pop_expired(ms(20)).is_some());
    }

    #[test]
    fn timer_past_deadlines_fire_on_next_call() {
        let mut w = TimerWheel::new(8, MS, ms(1000));
        let a = w.schedule(ms(5), 'a').unwrap();
        let b = w.schedule(ms(1000), 'b').unwrap();
        let c = w.schedule(Instant::from_micros(999_500), 'c').unwrap();
        assert_eq!(w.next_deadline(), Some(ms(1000)));
        // Not yet: a deadline after `now` waits for its (rounded) tick.
        let d = w.schedule(Instant::from_micros(1_000_001), 'd').unwrap();
        // Even with a `now` that went backwards.
        assert_eq!(w.pop_expired(ms(3)), Some((a, 'a')));
        assert_eq!(w.pop_expired(ms(3)), Some((b, 'b')));
        assert_eq!(w.pop_expired(ms(3)), Some((c, 'c')));
        assert_eq!(w.pop_expired(ms(3)), None);
        // Within the current tick but already past: due at once, although
        // its rounded deadline (1001 ms) is still ahead.
        assert_eq!(w.pop_expired(Instant::from_micros(1_000_500)), None);
        let e = w.schedule(Instant::from_micros(1_000_200), 'e').unwrap();
        assert_eq!(w.next_deadline(), Some(ms(1000)));
        assert_eq!(
            w.pop_expired(Instant::from_micros(1_000_500)),
            Some((e, 'e'))
        );
        assert_eq!(w.next_deadline(), Some(ms(1001)));
        assert_eq!(w.pop_expired(ms(1001)), Some((d, 'd')));
    }

    #[test]
    fn timer_same_tick_in_insertion_order() {
        let mut w = TimerWheel::new(64, MS, ms(0));
        // Deadlines in the same 1 ms tick, scheduled out of order in time.
        for (i, us) in [900u64, 100, 500, 1000, 1].into_iter().enumerate() {
            w.schedule(Instant::from_micros(5000 + us), i).unwrap();
        }
        w.schedule(ms(3), 100).unwrap();
        w.schedule(ms(200), 200).unwrap(); // coarse level, cascades later
        w.schedule(ms(7), 101).unwrap();
        assert_eq!(drain(&mut w, ms(6)), vec![100, 0, 1, 2, 3, 4]);
        assert_eq!(drain(&mut w, ms(1000)), vec![101, 200]);
    }

    #[test]
    fn timer_same_tick_order_survives_cascades() {
        let mut w = TimerWheel::new(64, MS, ms(0));
        // Scheduled while the tick is on a coarse level ...
        w.schedule(ms(100_000), 1).unwrap();
        w.schedule(ms(100_000), 2).unwrap();
        // ... some cascades later ...
        assert!(drain(&mut w, ms(99_000)).is_empty());
        // ... joined by later timers of the same tick.
        w.schedule(ms(100_000), 3).unwrap();
        assert!(drain(&mut w, ms(99_990)).is_empty());
        w.schedule(Instant::from_micros(99_999_001), 4).unwrap();
        assert_eq!(drain(&mut w, ms(100_000)), vec![1, 2, 3, 4]);
    }

    #[test]
    fn timer_cancel_after_fire_is_stale() {
        let mut w = TimerWheel::new(1, MS, ms(0));
        let a = w.schedule(ms(1), 'a').unwrap();
        assert_eq!(w.pop_expired(ms(1)), Some((a, 'a')));
        assert_eq!(w.cancel(a), None);
        assert_eq!(w.reschedule(a, ms(5)), Err(StaleTimer));
        // The node is reused: the stale id must not touch the new timer.
        let b = w.schedule(ms(2), 'b').unwrap();
        assert_ne!(a, b);
        assert_eq!(w.cancel(a), None);
        assert_eq!(w.reschedule(a, ms(9)), Err(StaleTimer));
        assert_eq!(w.deadline(a), None);
        assert!(!w.is_scheduled(a));
        assert_eq!(w.deadline(b), Some(ms(2)));
        assert_eq!(w.get(b), Some(&'b'));
        assert_eq!(w.cancel(b), Some('b'));
        assert_eq!(w.cancel(b), None);
        assert!(w.is_empty());
        assert_eq!(w.next_deadline(), None);
        assert_eq!(core::mem::size_of::<Option<TimerId>>(), 8);
    }

    #[test]
    fn timer_reschedule_earlier_and_later() {
        let mut w = TimerWheel::new(8, MS, ms(0));
        let a = w.schedule(ms(500), 'a').unwrap();
        let b = w.schedule(ms(100), 'b').unwrap();
        w.reschedule(a, ms(50)).unwrap();
        assert_eq!(w.deadline(a), Some(ms(50)));
        assert_eq!(w.next_deadline(), Some(ms(50)));
        w.reschedule(b, ms(10_000)).unwrap();
        assert_eq!(w.pop_expired(ms(60)), Some((a, 'a')));
        assert_eq!(w.pop_expired(ms(9_999)), None);
        assert_eq!(w.pop_expired(ms(10_000)), Some((b, 'b')));
        // Rescheduling a due but unpopped timer into the future.
        let c = w.schedule(ms(10_001), 'c').unwrap();
        let d = w.schedule(ms(10_001), 'd').unwrap();
        assert_eq!(drain(&mut w, ms(10_000)), Vec::<char>::new());
        w.reschedule(c, ms(10_001)).unwrap(); // same tick: now after d
        assert_eq!(w.pop_expired(ms(10_001)), Some((d, 'd')));
        w.reschedule(c, ms(20_000)).unwrap();
        assert_eq!(w.pop_expired(ms(10_001)), None);
        assert_eq!(w.len(), 1);
        assert_eq!(w.pop_expired(ms(20_000)), Some((c, 'c')));
    }

    #[test]
    fn timer_capacity_full_gives_payload_back() {
        let mut w = TimerWheel::new(3, MS, ms(0));
        assert_eq!(w.capacity(), 3);
        let ids: Vec<_> = (0..3).map(|i| w.schedule(ms(i), i).unwrap()).collect();
        assert_eq!(w.schedule(ms(7), 99), Err(99));
        assert_eq!(w.len(), 3);
        assert_eq!(w.cancel(ids[1]), Some(1));
        let d = w.schedule(ms(7), 99).unwrap();
        assert_eq!(w.schedule(ms(8), 98), Err(98));
        assert_eq!(w.cancel(d), Some(99));
        let mut empty = TimerWheel::new(0, MS, ms(0));
        assert_eq!(empty.schedule(ms(1), 5), Err(5));
        assert_eq!(empty.pop_expired(ms(1)), None);
    }

    #[test]
    fn timer_far_future_deadlines() {
        let year = 365 * 24 * 3600;
        let mut w = TimerWheel::new(8, MS, ms(0));
        let a = w.schedule(Instant::from_secs(100 * year), 'a').unwrap();
        let b = w.schedule(Instant::from_secs(2 * year), 'b').unwrap();
        let c = w.schedule(Instant::MAX, 'c').unwrap();
        let next = w.next_deadline().unwrap();
        assert!(next <= Instant::from_secs(2 * year));
        assert_eq!(w.pop_expired(before(Instant::from_secs(2 * year))), None);
        assert_eq!(w.pop_expired(Instant::from_secs(2 * year)), Some((b, 'b')));
        assert_eq!(w.pop_expired(before(Instant::from_secs(100 * year))), None);
        assert_eq!(
            w.pop_expired(Instant::from_secs(100 * year)),
            Some((a, 'a'))
        );
        // Instant::MAX is not a whole number of milliseconds: its rounded
        // deadline is beyond the representable, so it never fires.
        assert_eq!(w.pop_expired(Instant::MAX), None);
        assert_eq!(w.next_deadline(), Some(Instant::MAX));
        assert_eq!(w.cancel(c), Some('c'));

        // With a one-nanosecond tick every instant is a tick.
        let mut w = TimerWheel::new(8, Duration::ZERO, Instant::ZERO);
        assert_eq!(w.tick(), Duration::from_nanos(1));
        let m = w.schedule(Instant::MAX, 'm').unwrap();
        let n = w.schedule(Instant::from_nanos(u64::MAX - 1), 'n').unwrap();
        assert_eq!(w.pop_expired(Instant::from_nanos(u64::MAX - 2)), None);
        assert_eq!(w.pop_expired(Instant::MAX), Some((n, 'n')));
        assert_eq!(w.pop_expired(Instant::MAX), Some((m, 'm')));
    }

    #[test]
    fn timer_next_deadline_refines_to_exact() {
        let mut w = TimerWheel::new(8, MS, ms(0));
        w.schedule(ms(5), 5).unwrap();
        assert_eq!(w.next_deadline(), Some(ms(5)));
        w.schedule(ms(3), 3).unwrap();
        assert_eq!(w.next_deadline(), Some(ms(3)));
        assert_eq!(drain(&mut w, ms(4)), vec![3]);
        assert_eq!(w.next_deadline(), Some(ms(5)));
        assert_eq!(drain(&mut w, ms(5)), vec![5]);
        assert_eq!(w.next_deadline(), None);

        // 1_000_123 ticks: digit 3 differs from 5, so a level-3 slot of
        // 64^3 ticks. Alone in it, the answer is exact.
        let at = ms(1_000_123);
        w.schedule(at, 9).unwrap();
        assert_eq!(w.next_deadline(), Some(at));
        // Crowded (more than NEXT_DEADLINE_SCAN timers), it is the slot's
        // start, which refines towards the deadline as wake-ups cascade.
        let mut w = TimerWheel::new(64, MS, ms(5));
        for i in 0..=NEXT_DEADLINE_SCAN as u64 {
            w.schedule(ms(1_000_123 + 3 * i), i).unwrap();
        }
        assert_eq!(w.next_deadline(), Some(ms(3 * 64 * 64 * 64)));
        let mut wakeups = 0;
        loop {
            let next = w.next_deadline().unwrap();
            assert!(next <= at);
            let fired = drain(&mut w, next);
            wakeups += 1;
            if !fired.is_empty() {
                assert_eq!(fired, vec![0]);
                assert_eq!(next, at);
                break;
            }
        }
        assert!(wakeups <= LEVELS);
        assert!(wakeups > 1);
    }

    #[test]
    fn timer_time_going_backwards_is_no_progress() {
        let mut w = TimerWheel::new(8, MS, ms(100));
        let a = w.schedule(ms(150), 'a').unwrap();
        assert_eq!(w.pop_expired(ms(120)), None);
        assert_eq!(w.now(), ms(120));
        assert_eq!(w.pop_expired(ms(10)), None);
        assert_eq!(w.pop_expired(Instant::ZERO), None);
        assert_eq!(w.now(), ms(120));
        // A deadline between the old `now` and the current tick is due.
        let b = w.schedule(ms(110), 'b').unwrap();
        assert_eq!(w.pop_expired(ms(0)), Some((b, 'b')));
        assert_eq!(w.pop_expired(ms(149)), None);
        assert_eq!(w.pop_expired(ms(150)), Some((a, 'a')));
    }

    #[test]
    fn timer_big_jumps_skip_idle_time() {
        let mut w = TimerWheel::new(16, Duration::from_nanos(1), Instant::ZERO);
        let times = [
            1u64,
            63,
            64,
            4095,
            4096,
            1 << 40,
            (1 << 40) + 1,
            1 << 62,
            u64::MAX,
        ];
        for (i, &t) in times.iter().enumerate() {
            w.schedule(Instant::from_nanos(t), i).unwrap();
        }
        // One jump over 2^64 ticks fires everything, in deadline order.
        let fired = drain(&mut w, Instant::MAX);
        assert_eq!(fired, (0..times.len()).collect::<Vec<_>>());
        assert!(w.is_empty());
    }

    #[test]
    fn timer_debug_output() {
        let w: TimerWheel<u8> = TimerWheel::new(4, MS, ms(2));
        let s = format!("{w:?}");
        assert!(s.contains("capacity: 4"), "{s}");
    }
}
