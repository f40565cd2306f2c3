//! The event core: a queue of events in virtual time.
//!
//! Events come out in the order of `(time, insertion sequence)`: the earliest
//! virtual time first and, among events due at the same nanosecond, the one
//! pushed first. The sequence number makes the order total, so a run never
//! depends on how the heap happens to break ties: the same pushes always give
//! the same pops.
//!
//! Time only moves forward. The queue remembers the time of the last event
//! popped ([`EventQueue::now`]), and an event pushed with an earlier time is
//! **clamped** to it: it becomes due "now", after every event already queued
//! for that instant. This is the natural meaning of a deadline that has
//! already passed (a timer that expired while its core was busy), so callers
//! need not clamp deadlines themselves; [`EventQueue::clamped`] counts how
//! often it happened, for reports and tests.
//!
//! ```
//! use rusty_sim::kernel::event::EventQueue;
//! use rusty_stack::time::Instant;
//!
//! let mut q = EventQueue::new();
//! q.push(Instant::from_micros(2), "late");
//! q.push(Instant::from_micros(1), "early");
//! q.push(Instant::from_micros(2), "later, same time");
//! assert_eq!(q.pop(), Some((Instant::from_micros(1), "early")));
//! assert_eq!(q.pop(), Some((Instant::from_micros(2), "late")));
//! assert_eq!(q.pop(), Some((Instant::from_micros(2), "later, same time")));
//! assert_eq!(q.pop(), None);
//! ```

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rusty_stack::time::Instant;

/// One queued event with its due time and insertion sequence.
struct Entry<E> {
    at: Instant,
    seq: u64,
    event: E,
}

impl<E> Entry<E> {
    fn key(&self) -> (Instant, u64) {
        (self.at, self.seq)
    }
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    /// Reversed, so that the max-heap `BinaryHeap` pops the smallest
    /// `(at, seq)` first. Sequence numbers are unique, so no two entries of
    /// one queue compare equal.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

/// A priority queue of events of type `E`, ordered by (virtual time,
/// insertion sequence). See the [module documentation](self).
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_seq: u64,
    now: Instant,
    clamped: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> std::fmt::Debug for EventQueue<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventQueue")
            .field("len", &self.heap.len())
            .field("now", &self.now)
            .field("next_time", &self.peek_time())
            .field("pushed", &self.next_seq)
            .field("clamped", &self.clamped)
            .finish()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue at time zero.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty queue at time zero with room for `capacity` events.
    pub fn with_capacity(capacity: usize) -> Self {
        EventQueue {
            heap: BinaryHeap::with_capacity(capacity),
            next_seq: 0,
            now: Instant::ZERO,
            clamped: 0,
        }
    }

    /// Queues `event` to happen at `at`, after every event already queued
    /// for the same time. An `at` earlier than [`now`](Self::now) is clamped
    /// to `now` (and counted in [`clamped`](Self::clamped)). Returns the time
    /// the event was actually queued for.
    pub fn push(&mut self, at: Instant, event: E) -> Instant {
        let (at, seq) = self.stamp(at);
        self.heap.push(Entry { at, seq, event });
        at
    }

    /// Removes and returns the next event with its time, advancing
    /// [`now`](Self::now) to it; `None` when the queue is empty.
    pub fn pop(&mut self) -> Option<(Instant, E)> {
        let Entry { at, event, .. } = self.heap.pop()?;
        self.now = at;
        Some((at, event))
    }

    /// Like [`pop`](Self::pop), but only if the next event is due at or
    /// before `limit`; otherwise leaves the queue (and `now`) untouched.
    pub fn pop_until(&mut self, limit: Instant) -> Option<(Instant, E)> {
        if self.peek_time()? <= limit {
            self.pop()
        } else {
            None
        }
    }

    /// The time of the next event, if any, without removing it.
    pub fn peek_time(&self) -> Option<Instant> {
        self.heap.peek().map(|e| e.at)
    }

    /// The time of the last event popped (zero before the first pop): the
    /// queue's current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Number of queued events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event is queued.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Number of events pushed since the queue was created.
    pub fn pushed(&self) -> u64 {
        self.next_seq
    }

    /// The key `(time, sequence)` that [`push`](Self::push) would give an
    /// event at `at` (clamped and counted the same way), taken from the
    /// queue's sequence without queueing anything: for deadlines kept
    /// outside the queue ([`Deadlines`]) that must order exactly as if they
    /// were in it.
    pub fn stamp(&mut self, at: Instant) -> (Instant, u64) {
        let at = if at < self.now {
            self.clamped += 1;
            self.now
        } else {
            at
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        (at, seq)
    }

    /// Queues `event` under `key`, a key [`stamp`](Self::stamp) gave: it
    /// comes out where it would have had it been pushed then.
    pub fn push_stamped(&mut self, (at, seq): (Instant, u64), event: E) {
        self.heap.push(Entry { at, seq, event });
    }

    /// The key `(time, sequence)` of the next event, if any.
    pub fn peek_key(&self) -> Option<(Instant, u64)> {
        self.heap.peek().map(Entry::key)
    }

    /// Moves [`now`](Self::now) to `at` (never back): a deadline kept
    /// outside the queue with a key from [`stamp`](Self::stamp) came due.
    pub fn advance_to(&mut self, at: Instant) {
        self.now = self.now.max(at);
    }

    /// Number of pushes whose time was in the past and was clamped to
    /// [`now`](Self::now).
    pub fn clamped(&self) -> u64 {
        self.clamped
    }
}

/// The deadlines of a growing set of slots, at most one each, keyed
/// `(time, sequence)` like [`EventQueue`]'s events (keys from
/// [`EventQueue::stamp`]): a tournament tree, whose root names the slot due
/// first. Setting or clearing a slot's deadline replaces it in
/// `O(log slots)`, so a slot rescheduled many times leaves nothing stale
/// behind (a queue entry per reschedule would stay queued until its time).
/// The world keeps one slot per core.
#[derive(Clone, Debug, Default)]
pub struct Deadlines {
    /// Per leaf (slot), its deadline; leaves past the slots stay `None`.
    keys: Vec<Option<(Instant, u64)>>,
    /// Internal nodes `1..leaves`: the leaf below with the earliest key.
    tree: Vec<u32>,
    slots: usize,
}

impl Deadlines {
    /// No slots.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a slot without a deadline; returns its number.
    pub fn add_slot(&mut self) -> usize {
        let slot = self.slots;
        self.slots += 1;
        if self.slots > self.keys.len() {
            let leaves = self.slots.next_power_of_two().max(2);
            self.keys.resize(leaves, None);
            self.tree = vec![0; leaves];
            for node in (1..leaves).rev() {
                self.tree[node] = self.winner(node);
            }
        }
        slot
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Slot `slot`'s deadline.
    pub fn get(&self, slot: usize) -> Option<(Instant, u64)> {
        self.keys.get(slot).copied().flatten()
    }

    /// Sets (or with `None` clears) slot `slot`'s deadline. A slot number
    /// not added is ignored.
    pub fn set(&mut self, slot: usize, key: Option<(Instant, u64)>) {
        if slot >= self.slots {
            return;
        }
        self.keys[slot] = key;
        let mut node = (self.keys.len() + slot) / 2;
        while node >= 1 {
            self.tree[node] = self.winner(node);
            node /= 2;
        }
    }

    /// The slot due first and its deadline.
    pub fn peek(&self) -> Option<(usize, (Instant, u64))> {
        let slot = *self.tree.get(1)? as usize;
        self.keys[slot].map(|key| (slot, key))
    }

    /// The leaf with the earlier key of `node`'s two children (`None`
    /// loses; ties go left, and cannot happen between two deadlines, whose
    /// sequence numbers differ).
    fn winner(&self, node: usize) -> u32 {
        let leaves = self.keys.len();
        let leaf = |child: usize| -> u32 {
            if child >= leaves {
                (child - leaves) as u32
            } else {
                self.tree[child]
            }
        };
        let (l, r) = (leaf(2 * node), leaf(2 * node + 1));
        match (self.keys[l as usize], self.keys[r as usize]) {
            (Some(a), Some(b)) if b < a => r,
            (None, Some(_)) => r,
            _ => l,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(ns: u64) -> Instant {
        Instant::from_nanos(ns)
    }

    #[test]
    fn pops_in_time_order() {
        let mut q = EventQueue::new();
        for (at, e) in [(30, 'c'), (10, 'a'), (20, 'b'), (5, 'z')] {
            q.push(t(at), e);
        }
        assert_eq!(q.len(), 4);
        assert_eq!(q.peek_time(), Some(t(5)));
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            order,
            vec![(t(5), 'z'), (t(10), 'a'), (t(20), 'b'), (t(30), 'c')]
        );
        assert!(q.is_empty());
        assert_eq!(q.now(), t(30));
        assert_eq!(q.pushed(), 4);
    }

    #[test]
    fn fifo_within_equal_times() {
        let mut q = EventQueue::new();
        for i in 0..1000u32 {
            q.push(t(u64::from(i % 3)), i);
        }
        let mut last = (t(0), None::<u32>);
        while let Some((at, i)) = q.pop() {
            if at == last.0 {
                if let Some(prev) = last.1 {
                    assert!(prev < i, "{prev} popped before {i} at {at}");
                }
            } else {
                assert!(at > last.0);
            }
            last = (at, Some(i));
        }
    }

    #[test]
    fn past_events_are_clamped_to_now() {
        let mut q = EventQueue::new();
        q.push(t(100), "first");
        q.push(t(100), "second");
        assert_eq!(q.pop(), Some((t(100), "first")));
        // Pushed "in the past": due now, after what is already queued now.
        assert_eq!(q.push(t(50), "late"), t(100));
        assert_eq!(q.clamped(), 1);
        assert_eq!(q.pop(), Some((t(100), "second")));
        assert_eq!(q.pop(), Some((t(100), "late")));
        assert_eq!(q.now(), t(100));
    }

    #[test]
    fn pop_until_stops_at_the_limit() {
        let mut q = EventQueue::new();
        q.push(t(10), 1);
        q.push(t(20), 2);
        assert_eq!(q.pop_until(t(15)), Some((t(10), 1)));
        assert_eq!(q.pop_until(t(15)), None);
        assert_eq!(q.now(), t(10));
        assert_eq!(q.pop_until(t(20)), Some((t(20), 2)));
        assert_eq!(q.pop_until(Instant::MAX), None);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(u64),
        Pop,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![(0u64..50).prop_map(Op::Push), Just(Op::Pop)]
    }

    proptest! {
        /// The queue against a model: a Vec kept sorted by (time, seq), with
        /// the same clamping rule.
        #[test]
        fn matches_sorted_vec_model(ops in proptest::collection::vec(op(), 0..300)) {
            let mut q = EventQueue::new();
            let mut model: Vec<(u64, u64)> = Vec::new();
            let mut now = 0u64;
            let mut seq = 0u64;
            for op in ops {
                match op {
                    Op::Push(at) => {
                        let at = at.max(now);
                        prop_assert_eq!(q.push(t(at), seq), t(at));
                        model.push((at, seq));
                        model.sort_unstable();
                        seq += 1;
                    }
                    Op::Pop => {
                        let expected = if model.is_empty() { None } else { Some(model.remove(0)) };
                        if let Some((at, _)) = expected {
                            now = at;
                        }
                        prop_assert_eq!(q.pop(), expected.map(|(at, s)| (t(at), s)));
                    }
                }
                prop_assert_eq!(q.len(), model.len());
                prop_assert_eq!(q.peek_time(), model.first().map(|&(at, _)| t(at)));
                prop_assert_eq!(q.now(), t(now));
            }
        }
    }

    #[test]
    fn deadlines_name_the_earliest_slot_as_a_scan_would() {
        let mut d = Deadlines::new();
        let mut model: Vec<Option<(Instant, u64)>> = Vec::new();
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for seq in 0..5000u64 {
            let r = next();
            if model.len() < 3 || r % 23 == 0 {
                assert_eq!(d.add_slot(), model.len());
                model.push(None);
            }
            let slot = (next() % model.len() as u64) as usize;
            let key = (r % 4 != 0).then(|| (Instant::from_nanos(next() % 50), seq));
            d.set(slot, key);
            model[slot] = key;
            let expected = model
                .iter()
                .enumerate()
                .filter_map(|(i, k)| k.map(|k| (k, i)))
                .min()
                .map(|(k, i)| (i, k));
            assert_eq!(d.peek(), expected, "after {seq} operations");
            assert_eq!(d.get(slot), key);
        }
        assert_eq!(d.slots(), model.len());
        d.set(d.slots() + 3, Some((Instant::ZERO, 0)));
        assert_eq!(d.slots(), model.len(), "an unknown slot is ignored");
    }
}
