//! Internet checksum throughput.
//!
//! * `checksum/ones_sum/{aligned,offset1}/N`: [`checksum::checksum`] of `N`
//!   bytes (64, 1460, 65536) starting at an 8-byte aligned address, or one
//!   byte past it. Criterion reports time per call and throughput in bytes
//!   per second; the throughput is the figure to compare across sizes.
//! * `checksum/chained_1500`: [`Checksum::add_bytes`] over the two buffers of
//!   a chained 1500-byte frame (1024 + 512 bytes), as the receive path sums
//!   a frame, through [`Cursor::add_to_checksum`](rusty_stack::mem::cursor::Cursor::add_to_checksum).
//! * `checksum/prefix_sum/lookup_1460`: one [`PrefixSums::sum`] range query
//!   of 1460 bytes at an arbitrary (pseudo-random, odd or even) offset of a
//!   1 MiB payload: the precomputed path of the HTTP server. Next to it,
//!   `checksum/prefix_sum/direct_1460` sums the same ranges directly, so the
//!   two lines compare "look up" and "read the bytes" for one segment. The
//!   throughput of both is given in payload bytes per second (bytes whose
//!   sum is obtained), the time is per lookup.
//!
//! Run: `cargo bench -p rusty-stack --bench checksum`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rusty_stack::checksum::{self, Checksum};
use rusty_stack::mem::buf::{BufPool, PoolConfig};
use rusty_stack::prefix_sum::PrefixSums;
use rusty_stack::rng::SplitMix64;

/// Deterministic, random-looking bytes.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = SplitMix64::new(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// `len + 16` random-looking bytes and the index of the first one at an
/// 8-byte aligned address: `&v[pad..pad + len]` is aligned and
/// `&v[pad + 1..pad + 1 + len]` is not.
fn aligned_bytes(len: usize, seed: u64) -> (Vec<u8>, usize) {
    let v = bytes(len + 16, seed);
    let pad = v.as_ptr().align_offset(8);
    assert!(
        pad < 8,
        "a byte buffer can always be aligned within 8 bytes"
    );
    (v, pad)
}

fn ones_sum(c: &mut Criterion) {
    let mut group = c.benchmark_group("checksum/ones_sum");
    for len in [64usize, 1460, 65536] {
        let (storage, pad) = aligned_bytes(len, len as u64);
        let data = &storage[pad..];
        group.throughput(Throughput::Bytes(len as u64));
        for (name, offset) in [("aligned", 0usize), ("offset1", 1)] {
            let slice = &data[offset..offset + len];
            group.bench_with_input(BenchmarkId::new(name, len), slice, |b, slice| {
                b.iter(|| checksum::checksum(black_box(slice)))
            });
        }
    }
    group.finish();
}

fn chained(c: &mut Criterion) {
    let pool = BufPool::new(&PoolConfig::default().with_chaining(true));
    let mut frame = pool.alloc_chain(1500).expect("buffers free");
    assert_eq!(frame.buffer_count(), 2);
    frame
        .cursor_mut()
        .write(&bytes(1500, 7))
        .expect("frame holds 1500 bytes");
    let mut group = c.benchmark_group("checksum");
    group.throughput(Throughput::Bytes(1500));
    group.bench_function("chained_1500", |b| {
        b.iter(|| {
            let mut sum = Checksum::new();
            black_box(&frame).cursor().add_to_checksum(&mut sum);
            sum.finish()
        })
    });
    group.finish();
}

fn prefix_sum(c: &mut Criterion) {
    const PAYLOAD: usize = 1 << 20;
    const SEGMENT: usize = 1460;
    let payload = bytes(PAYLOAD, 42);
    let sums = PrefixSums::new(&payload);
    // Arbitrary offsets, odd and even, cycled through by the loops.
    let mut rng = SplitMix64::new(1);
    let offsets: Vec<usize> = (0..4096)
        .map(|_| (rng.next_u64() % (PAYLOAD - SEGMENT) as u64) as usize)
        .collect();
    let mut group = c.benchmark_group("checksum/prefix_sum");
    group.throughput(Throughput::Bytes(SEGMENT as u64));
    group.bench_function("lookup_1460", |b| {
        let mut i = 0;
        b.iter(|| {
            let offset = offsets[i % offsets.len()];
            i += 1;
            sums.sum(black_box(&payload), black_box(offset), SEGMENT)
        })
    });
    group.bench_function("direct_1460", |b| {
        let mut i = 0;
        b.iter(|| {
            let offset = offsets[i % offsets.len()];
            i += 1;
            checksum::ones_sum(black_box(&payload[offset..offset + SEGMENT]))
        })
    });
    group.finish();
}

criterion_group!(benches, ones_sum, chained, prefix_sum);
criterion_main!(benches);
