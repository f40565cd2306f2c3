//! The hierarchical timer wheel under load: `N` live timers (10,000 and
//! 100,000), a 1 ms tick, payloads of 8 bytes. The wheel is built and
//! filled outside the timed loops; every loop keeps `N` timers live, so the
//! figures are steady state.
//!
//! * `timer/schedule_cancel/N` — schedule a timer at a pseudo-random delay
//!   between 1 ms and 60 s (so it lands on any of the first levels), then
//!   cancel it: the cost of a timer that never fires (a delayed ACK that a
//!   reply made useless). Time per schedule + cancel pair.
//! * `timer/reschedule/N` — move one of the `N` live timers (picked
//!   pseudo-randomly) to a new pseudo-random deadline, as a retransmission
//!   timer is pushed back by every ACK. Time per reschedule.
//! * `timer/schedule_expire/N` — the wheel holds one timer per tick for the
//!   next `N` ticks; each iteration advances time by one tick, pops the
//!   timer that became due (plus the `pop_expired` call that finds none left)
//!   and schedules a replacement `N` ticks ahead. Cascades from the coarse
//!   levels are included, amortised. Time per schedule + expiry.
//!
//! Run: `cargo bench -p rusty-stack --bench timer`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rusty_stack::mem::timer::{TimerId, TimerWheel};
use rusty_stack::rng::SplitMix64;
use rusty_stack::time::{Duration, Instant};

const SIZES: [usize; 2] = [10_000, 100_000];
const TICK: Duration = Duration::from_millis(1);

/// Pseudo-random delays between 1 ms and 60 s, cycled through by the loops.
fn delays(seed: u64) -> Vec<Duration> {
    let mut rng = SplitMix64::new(seed);
    (0..4096)
        .map(|_| Duration::from_micros(1_000 + rng.below(60_000_000)))
        .collect()
}

/// A wheel holding `n` timers at the given delays from `start`, with room
/// for one more, and their ids.
fn filled(n: usize, start: Instant, delays: &[Duration]) -> (TimerWheel<u64>, Vec<TimerId>) {
    let mut wheel = TimerWheel::new(n + 1, TICK, start);
    let ids = (0..n)
        .map(|i| {
            wheel
                .schedule(start + delays[i % delays.len()], i as u64)
                .expect("room for n timers")
        })
        .collect();
    (wheel, ids)
}

fn schedule_cancel(c: &mut Criterion) {
    let mut group = c.benchmark_group("timer/schedule_cancel");
    let start = Instant::from_secs(1);
    let delays = delays(1);
    for n in SIZES {
        let (mut wheel, _) = filled(n, start, &delays);
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            let mut i = 0usize;
            b.iter(|| {
                i += 1;
                let at = start + delays[(i * 7) % delays.len()];
                let id = wheel.schedule(black_box(at), i as u64);
                id.ok().and_then(|id| wheel.cancel(id))
            })
        });
        assert_eq!(wheel.len(), n);
    }
    group.finish();
}

fn reschedule(c: &mut Criterion) {
    let mut group = c.benchmark_group("timer/reschedule");
    let start = Instant::from_secs(1);
    let delays = delays(2);
    for n in SIZES {
        let (mut wheel, ids) = filled(n, start, &delays);
        let mut rng = SplitMix64::new(3);
        let picks: Vec<usize> = (0..4096).map(|_| rng.below(n as u64) as usize).collect();
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            let mut i = 0usize;
            b.iter(|| {
                i += 1;
                let id = ids[picks[i % picks.len()]];
                let at = start + delays[(i * 13) % delays.len()];
                wheel.reschedule(id, black_box(at))
            })
        });
        assert_eq!(wheel.len(), n);
    }
    group.finish();
}

fn schedule_expire(c: &mut Criterion) {
    let mut group = c.benchmark_group("timer/schedule_expire");
    for n in SIZES {
        let start = Instant::from_secs(1);
        let mut wheel = TimerWheel::new(n + 1, TICK, start);
        for i in 0..n as u64 {
            let at = start + TICK.saturating_mul(i + 1);
            wheel.schedule(at, i).expect("room for n timers");
        }
        let ahead = TICK.saturating_mul(n as u64);
        let mut now = start;
        let mut fired = 0u64;
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                now += TICK;
                while let Some((_, payload)) = wheel.pop_expired(now) {
                    fired = fired.wrapping_add(black_box(payload));
                }
                wheel.schedule(now + ahead, fired)
            })
        });
        // Steady state: one timer popped per timer scheduled.
        assert_eq!(wheel.len(), n);
    }
    group.finish();
}

criterion_group!(benches, schedule_cancel, reschedule, schedule_expire);
criterion_main!(benches);
