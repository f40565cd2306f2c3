//! Connection lookup: [`FlowTable::get`] with `N` connections inserted
//! (100,000, and 1,000 for comparison: a table that fits in the L1/L2
//! caches). Keys are random-looking but seeded (remote address and port
//! drawn from [`SplitMix64`], local port 80), the table is sized as the
//! stack sizes it (at least twice as many buckets as entries) and its value
//! has the layout of the stack's own entries (a tagged `u32`).
//!
//! * `conn_lookup/hit/N` — look up inserted keys in a shuffled order, so
//!   consecutive lookups touch unrelated buckets, as a NIC queue serving
//!   many flows does. Time per lookup.
//! * `conn_lookup/miss/N` — look up keys that are not in the table (a SYN
//!   for a new connection, a stray segment): the probe runs until an empty
//!   bucket. Time per lookup.
//!
//! The key sequences cycle through 65,536 precomputed keys, so reading the
//! keys themselves streams through memory and costs little next to the
//! table access. At 100,000 entries the table (262,144 buckets of 16 bytes:
//! 4 MiB) exceeds most L2 caches, so the figure includes a cache miss (and
//! often a TLB miss) per lookup; at 1,000 (4,096 buckets, 64 KiB) it stays
//! in the caches.
//!
//! Run: `cargo bench -p rusty-stack --bench conn_lookup`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rusty_stack::rng::SplitMix64;
use rusty_stack::tcp::table::{FlowKey, FlowTable};
use rusty_stack::wire::Ipv4Addr;

/// The shape of the stack's table values: a connection slot or a
/// TIME-WAIT entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    Conn(u32),
    #[allow(dead_code)]
    TimeWait(u32),
}

const SIZES: [usize; 2] = [1_000, 100_000];
/// Keys looked up, cycled through.
const LOOKUPS: usize = 1 << 16;

fn random_key(rng: &mut SplitMix64) -> FlowKey {
    let bits = rng.next_u64();
    FlowKey {
        remote_addr: Ipv4Addr::from((bits >> 32) as u32),
        remote_port: (bits as u16).max(1024),
        local_port: 80,
    }
}

/// A table of `n` random keys, and those keys.
fn table(n: usize) -> (FlowTable<Entry>, Vec<FlowKey>) {
    let mut rng = SplitMix64::new(0x5eed);
    let mut table = FlowTable::new(n, 0x0123_4567_89ab_cdef);
    let mut keys = Vec::with_capacity(n);
    while keys.len() < n {
        let key = random_key(&mut rng);
        if table.get(&key).is_none() {
            table
                .insert(key, Entry::Conn(keys.len() as u32))
                .expect("table sized for n");
            keys.push(key);
        }
    }
    (table, keys)
}

fn lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("conn_lookup");
    for n in SIZES {
        let (table, keys) = table(n);
        assert_eq!(table.len(), n);
        // Hits: the inserted keys in a shuffled order.
        let mut rng = SplitMix64::new(7);
        let hits: Vec<FlowKey> = (0..LOOKUPS)
            .map(|_| keys[rng.below(n as u64) as usize])
            .collect();
        // Misses: fresh keys, checked absent.
        let mut rng = SplitMix64::new(8);
        let misses: Vec<FlowKey> = std::iter::repeat_with(|| random_key(&mut rng))
            .filter(|k| table.get(k).is_none())
            .take(LOOKUPS)
            .collect();
        group.bench_function(BenchmarkId::new("hit", n), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % LOOKUPS;
                table.get(black_box(&hits[i]))
            })
        });
        group.bench_function(BenchmarkId::new("miss", n), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % LOOKUPS;
                table.get(black_box(&misses[i]))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, lookup);
criterion_main!(benches);
