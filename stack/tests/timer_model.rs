//! Property test of the timer wheel against a model, and a large-scale run.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use proptest::sample::Index;
use rusty_stack::mem::timer::{StaleTimer, TimerId, TimerWheel, NEXT_DEADLINE_SCAN};
use rusty_stack::time::{Duration, Instant};

/// Where a deadline lies, relative to the latest `now`.
#[derive(Clone, Debug)]
enum When {
    /// `now - n` nanoseconds (saturating).
    Past(u64),
    /// `now + n` ticks, plus a sub-tick offset in nanoseconds.
    Ticks(u64, u64),
    /// An arbitrary instant.
    Absolute(u64),
    /// Tick `1_000_000 + n`, so that many timers share coarse slots.
    Cluster(u64),
}

#[derive(Clone, Debug)]
enum Op {
    Schedule(When),
    Cancel(Index),
    Reschedule(Index, When),
    CancelStale(Index),
    RescheduleStale(Index, When),
    /// `now += n` nanoseconds (saturating), then pop everything due.
    Advance(u64),
    /// `now += n` ticks (saturating), then pop everything due.
    AdvanceTicks(u64),
    /// `now -= n` nanoseconds (saturating), then pop everything due.
    Rewind(u64),
    /// Pop at most `n` timers at the current `now`.
    PopSome(usize),
}

fn when() -> impl Strategy<Value = When> {
    prop_oneof![
        1 => (0u64..5_000).prop_map(When::Past),
        1 => any::<u64>().prop_map(When::Past),
        6 => (0u64..130, 0u64..1_000_000).prop_map(|(t, n)| When::Ticks(t, n)),
        3 => (0u64..300_000, 0u64..1_000_000).prop_map(|(t, n)| When::Ticks(t, n)),
        1 => (0u64..1 << 40, 0u64..1_000_000).prop_map(|(t, n)| When::Ticks(t, n)),
        2 => (3_000u64..3_100, 0u64..1_000_000).prop_map(|(t, n)| When::Ticks(t, n)),
        3 => (0u64..300).prop_map(When::Cluster),
        1 => any::<u64>().prop_map(When::Absolute),
        1 => Just(When::Absolute(u64::MAX)),
    ]
}

/// Operations that crowd coarse slots: most deadlines fall in a band of
/// ticks ahead, which time then reaches in small steps.
fn crowded_op() -> impl Strategy<Value = Op> {
    let band = || (4_000u64..4_400, 0u64..1_000_000).prop_map(|(t, n)| When::Ticks(t, n));
    prop_oneof![
        8 => band().prop_map(Op::Schedule),
        1 => when().prop_map(Op::Schedule),
        2 => any::<Index>().prop_map(Op::Cancel),
        2 => (any::<Index>(), band()).prop_map(|(i, w)| Op::Reschedule(i, w)),
        4 => (0u64..300).prop_map(Op::AdvanceTicks),
        1 => (0usize..4).prop_map(Op::PopSome),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => when().prop_map(Op::Schedule),
        2 => any::<Index>().prop_map(Op::Cancel),
        3 => (any::<Index>(), when()).prop_map(|(i, w)| Op::Reschedule(i, w)),
        1 => any::<Index>().prop_map(Op::CancelStale),
        1 => (any::<Index>(), when()).prop_map(|(i, w)| Op::RescheduleStale(i, w)),
        3 => (0u64..100).prop_map(Op::Advance),
        3 => (0u64..100_000).prop_map(Op::Advance),
        2 => (0u64..100_000_000).prop_map(Op::Advance),
        1 => (0u64..1 << 50).prop_map(Op::Advance),
        1 => any::<u64>().prop_map(Op::Advance),
        1 => (0u64..1_000_000).prop_map(Op::Rewind),
        2 => (0usize..4).prop_map(Op::PopSome),
    ]
}

/// The reference: timers keyed by `(effective tick, sequence number)`.
struct Model {
    tick: u64,
    /// The wheel's time: the largest `now` so far.
    now: u64,
    /// Current tick: `floor(now / tick)`.
    current: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), (TimerId, u32)>,
    /// Live timers: their queue key and deadline.
    live: HashMap<TimerId, ((u64, u64), Instant)>,
    /// Live ids in a stable order, for picking one.
    ids: Vec<TimerId>,
    dead: Vec<TimerId>,
}

impl Model {
    fn key(&mut self, at: Instant) -> (u64, u64) {
        // Past deadlines are due now; others round up to a tick.
        let tick = if at.as_nanos() <= self.now {
            self.current
        } else {
            at.as_nanos().div_ceil(self.tick)
        };
        self.seq += 1;
        (tick, self.seq)
    }

    fn insert(&mut self, id: TimerId, at: Instant, payload: u32) {
        let key = self.key(at);
        self.queue.insert(key, (id, payload));
        self.live.insert(id, (key, at));
    }

    fn remove(&mut self, id: TimerId) -> u32 {
        let (key, _) = self.live.remove(&id).unwrap();
        self.ids.retain(|&i| i != id);
        self.dead.push(id);
        self.queue.remove(&key).unwrap().1
    }

    /// The first due timer, if any.
    fn pop(&mut self) -> Option<(TimerId, u32)> {
        let (&(tick, _), &(id, payload)) = self.queue.iter().next()?;
        if tick > self.current {
            return None;
        }
        self.remove(id);
        Some((id, payload))
    }

    /// What `next_deadline` promises: exact when a timer is due, when the
    /// earliest lies in the current 64-tick block, or when the coarse slot
    /// holding it is short; else the start of that slot.
    fn next_deadline(&self) -> Option<Instant> {
        let (&(first, _), _) = self.queue.iter().next()?;
        let mut start = first;
        if first > self.current {
            let shift = (63 - (first ^ self.current).leading_zeros()) / 6 * 6;
            let in_slot = self
                .queue
                .keys()
                .filter(|&&(t, _)| t >> shift == first >> shift)
                .count();
            if in_slot > NEXT_DEADLINE_SCAN {
                start = first & !((1u64 << shift) - 1);
            }
        }
        Some(Instant::from_nanos(start.saturating_mul(self.tick)))
    }

    fn exact_next(&self) -> Option<Instant> {
        let (&(first, _), _) = self.queue.iter().next()?;
        Some(Instant::from_nanos(first.saturating_mul(self.tick)))
    }
}

fn resolve(when: &When, now: u64, tick: u64) -> Instant {
    Instant::from_nanos(match *when {
        When::Past(n) => now.saturating_sub(n),
        When::Ticks(t, n) => now
            .saturating_add(t.saturating_mul(tick))
            .saturating_add(n % tick),
        When::Absolute(n) => n,
        When::Cluster(n) => (1_000_000 + n).saturating_mul(tick),
    })
}

fn pick(ids: &[TimerId], index: &Index) -> Option<TimerId> {
    (!ids.is_empty()).then(|| ids[index.index(ids.len())])
}

fn run(tick: u64, start: u64, capacity: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut wheel = TimerWheel::new(
        capacity,
        Duration::from_nanos(tick),
        Instant::from_nanos(start),
    );
    let mut model = Model {
        tick,
        now: start,
        current: start / tick,
        seq: 0,
        queue: BTreeMap::new(),
        live: HashMap::new(),
        ids: Vec::new(),
        dead: Vec::new(),
    };
    let mut now = start;
    let mut payload = 0u32;
    for op in ops {
        match op {
            Op::Schedule(when) => {
                payload += 1;
                let at = resolve(&when, now, tick);
                match wheel.schedule(at, payload) {
                    Ok(id) => {
                        prop_assert!(model.live.len() < capacity);
                        prop_assert!(!model.live.contains_key(&id));
                        model.insert(id, at, payload);
                        model.ids.push(id);
                    }
                    Err(p) => {
                        prop_assert_eq!(p, payload);
                        prop_assert_eq!(model.live.len(), capacity);
                    }
                }
            }
            Op::Cancel(index) => {
                if let Some(id) = pick(&model.ids, &index) {
                    let expected = model.remove(id);
                    prop_assert_eq!(wheel.cancel(id), Some(expected));
                    prop_assert_eq!(wheel.cancel(id), None);
                }
            }
            Op::Reschedule(index, when) => {
                if let Some(id) = pick(&model.ids, &index) {
                    let at = resolve(&when, now, tick);
                    prop_assert_eq!(wheel.reschedule(id, at), Ok(()));
                    let (key, _) = model.live[&id];
                    let entry = model.queue.remove(&key).unwrap();
                    let key = model.key(at);
                    model.queue.insert(key, entry);
                    model.live.insert(id, (key, at));
                }
            }
            Op::CancelStale(index) => {
                if let Some(id) = pick(&model.dead, &index) {
                    prop_assert_eq!(wheel.cancel(id), None);
                }
            }
            Op::RescheduleStale(index, when) => {
                if let Some(id) = pick(&model.dead, &index) {
                    let at = resolve(&when, now, tick);
                    prop_assert_eq!(wheel.reschedule(id, at), Err(StaleTimer));
                }
            }
            Op::Advance(_) | Op::AdvanceTicks(_) | Op::Rewind(_) => {
                now = match op {
                    Op::Advance(n) => now.saturating_add(n),
                    Op::AdvanceTicks(n) => now.saturating_add(n.saturating_mul(tick)),
                    Op::Rewind(n) => now.saturating_sub(n),
                    _ => unreachable!(),
                };
                model.now = model.now.max(now);
                model.current = model.now / tick;
                let mut fired = Vec::new();
                wheel.expire(Instant::from_nanos(now), |id, p| fired.push((id, p)));
                let expected: Vec<_> = std::iter::from_fn(|| model.pop()).collect();
                prop_assert_eq!(fired, expected);
                prop_assert!(!model.queue.iter().any(|(&(t, _), _)| t <= model.current));
            }
            Op::PopSome(n) => {
                for _ in 0..n {
                    let got = wheel.pop_expired(Instant::from_nanos(now));
                    prop_assert_eq!(got, model.pop());
                }
            }
        }
        // Invariants after every operation.
        prop_assert_eq!(wheel.len(), model.live.len());
        prop_assert_eq!(wheel.is_empty(), model.live.is_empty());
        prop_assert_eq!(wheel.now().as_nanos(), model.now);
        let next = wheel.next_deadline();
        prop_assert_eq!(next, model.next_deadline());
        prop_assert!(next <= model.exact_next());
        if let (Some(next), Some((&(first, _), _))) = (next, model.queue.iter().next()) {
            if first > model.current {
                prop_assert!(next.as_nanos() > model.current * tick || next == Instant::MAX);
            }
        }
        for (&id, &(_, at)) in model.live.iter().take(8) {
            prop_assert!(wheel.is_scheduled(id));
            prop_assert_eq!(wheel.deadline(id), Some(at));
        }
        for &id in model.dead.iter().rev().take(8) {
            prop_assert!(!wheel.is_scheduled(id));
            prop_assert_eq!(wheel.deadline(id), None);
        }
    }
    // Everything left fires by the end of time, in order, except timers
    // whose rounded deadline is beyond `Instant::MAX`.
    model.now = u64::MAX;
    model.current = u64::MAX / tick;
    let mut fired = Vec::new();
    wheel.expire(Instant::MAX, |id, p| fired.push((id, p)));
    let expected: Vec<_> = std::iter::from_fn(|| model.pop()).collect();
    prop_assert_eq!(fired, expected);
    prop_assert_eq!(wheel.len(), model.live.len());
    for (&(t, _), _) in model.queue.iter() {
        prop_assert!(t.checked_mul(tick).is_none());
    }
    Ok(())
}

fn start() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        0u64..1 << 40,
        any::<u64>(),
        (0u64..1 << 20).prop_map(|n| u64::MAX - n),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn timer_wheel_matches_model(
        tick in prop_oneof![Just(1u64), Just(7), Just(1_000), Just(1_000_000), 1u64..1 << 33],
        start in start(),
        capacity in prop_oneof![1usize..8, 8usize..200],
        ops in prop::collection::vec(op(), 1..250),
    ) {
        run(tick, start, capacity, ops)?;
    }

    #[test]
    fn timer_wheel_matches_model_crowded(
        tick in prop_oneof![Just(1u64), Just(1_000_000), 1u64..1 << 20],
        start in start(),
        capacity in 16usize..300,
        ops in prop::collection::vec(crowded_op(), 1..400),
    ) {
        run(tick, start, capacity, ops)?;
    }
}

/// A tiny deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// 100k connections' worth of timers: scheduled, cancelled, rescheduled and
/// fired many times over. No timing assertion; it must simply be quick even
/// in a debug build.
#[test]
fn timer_wheel_100k_connections() {
    const N: usize = 100_000;
    let ms = |n: u64| Duration::from_millis(n);
    let mut now = Instant::from_secs(1_000);
    let mut wheel: TimerWheel<u32> = TimerWheel::new(N, ms(1), now);
    let mut rng = Rng(42);
    // Each connection's timer: RTO, delayed ACK, keepalive or TIME-WAIT.
    let delay = |rng: &mut Rng| match rng.below(4) {
        0 => ms(200 + rng.below(3_000)),
        1 => ms(40),
        2 => Duration::from_secs(7_200),
        _ => Duration::from_secs(60),
    };
    let mut ids = Vec::with_capacity(N);
    let mut deadlines = Vec::with_capacity(N);
    for conn in 0..N as u32 {
        let at = now + delay(&mut rng);
        ids.push(wheel.schedule(at, conn).unwrap());
        deadlines.push(at);
    }
    assert_eq!(wheel.schedule(now, u32::MAX), Err(u32::MAX));
    assert_eq!(wheel.len(), N);

    let mut fired = 0usize;
    for _round in 0..200 {
        // Traffic: most connections push their timer back, some cancel.
        for _ in 0..2_000 {
            let conn = rng.below(N as u64) as usize;
            let at = now + delay(&mut rng);
            if wheel.reschedule(ids[conn], at).is_ok() {
                deadlines[conn] = at;
            } else if rng.below(2) == 0 {
                ids[conn] = wheel.schedule(at, conn as u32).unwrap();
                deadlines[conn] = at;
            }
            if rng.below(10) == 0 && wheel.cancel(ids[conn]).is_some() {
                assert!(wheel.cancel(ids[conn]).is_none());
            }
        }
        let next = wheel.next_deadline().unwrap();
        assert!(next >= wheel.now());
        now += ms(1 + rng.below(60_000));
        while let Some((id, conn)) = wheel.pop_expired(now) {
            assert_eq!(id, ids[conn as usize]);
            assert!(deadlines[conn as usize] <= now);
            assert!(!wheel.is_scheduled(id));
            fired += 1;
        }
    }
    assert!(fired > N / 2, "fired {fired}");
    // Far in the future, everything has fired.
    now += Duration::from_secs(100_000);
    fired += wheel.expire(now, |_, _| {});
    assert!(wheel.is_empty());
    assert!(fired > N);
}
