//! Zero-copy cursors over frames, and the buffer pool round trip.
//!
//! The read benchmarks run over one 1500-byte frame chained over two
//! buffers (1024 + 512 bytes, the chained pool's policy for 1500 bytes), so
//! the segment boundary lies at byte 1024:
//!
//! * `cursor/read/drop_in_segment` — `drop(54)`: skip the Ethernet, IPv4
//!   and TCP headers, within the first buffer;
//! * `cursor/read/drop_across` — `drop(1200)`: cross into the second buffer;
//! * `cursor/read/take` — `take(1460)` (O(1), the view of a payload);
//! * `cursor/read/read_with_20_in_segment` — `read_with(20)` of an IPv4
//!   header inside the first buffer (zero-copy: the closure gets the buffer);
//! * `cursor/read/read_with_8_across` — `read_with(8)` spanning the buffer
//!   boundary (copied through the stack scratch area);
//! * `cursor/read/headers` — what a receive path does: `read_with` 14, 20
//!   and 20 bytes in turn, then `take` of the payload;
//! * `cursor/read/read_1460` — `read` of a 1460-byte payload (bytes 40 to
//!   1500, across the boundary) into a slice; throughput in bytes/s. Next
//!   to it `read_1460_single` reads the same bytes from a frame of one
//!   buffer, and `memcpy_1460` is a plain `copy_from_slice` of 1460 bytes
//!   between two vectors: the baseline the cursor adds to.
//!
//! Each figure is the time of one operation on an existing cursor (a
//! `Cursor` is `Copy`, so nothing is set up per iteration).
//!
//! Writes, with throughput in bytes/s:
//! * `cursor/write_1460/single` — `CursorMut::write` of 1460 bytes after a
//!   54-byte header into a frame of one 1664-byte buffer;
//! * `cursor/write_1460/chained` — the same into the two-buffer frame.
//!
//! Pool round trips (`cursor/pool/...`): `BufPool::alloc_chain(1514)` and
//! dropping the frame (buffers go back to their free stacks), unchained
//! (one 1664-byte buffer) and chained (1024 + 512); and `alloc(0)` + drop
//! of one 128-byte buffer (a pure ACK's frame). Time per round trip.
//!
//! Run: `cargo bench -p rusty-stack --bench cursor`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rusty_stack::mem::buf::{BufPool, Frame, PoolConfig};
use rusty_stack::rng::SplitMix64;

fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = SplitMix64::new(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// A 1500-byte frame of random-looking bytes from `pool`, with the expected
/// number of buffers.
fn filled_frame(pool: &BufPool, buffers: usize) -> Frame {
    let mut frame = pool.alloc_chain(1500).expect("buffers free");
    assert_eq!(frame.buffer_count(), buffers);
    frame
        .cursor_mut()
        .write(&bytes(1500, 3))
        .expect("frame holds 1500 bytes");
    frame
}

fn read(c: &mut Criterion) {
    let pool = BufPool::new(&PoolConfig::default().with_chaining(true));
    let frame = filled_frame(&pool, 2);
    let lens: Vec<usize> = frame.buffers().map(|b| b.len).collect();
    assert_eq!(lens, [1024, 476]);
    let cursor = frame.cursor();
    let mut group = c.benchmark_group("cursor/read");
    group.bench_function("drop_in_segment", |b| {
        b.iter(|| black_box(cursor).drop(black_box(54)).len())
    });
    group.bench_function("drop_across", |b| {
        b.iter(|| black_box(cursor).drop(black_box(1200)).len())
    });
    group.bench_function("take", |b| {
        b.iter(|| black_box(cursor).take(black_box(1460)).len())
    });
    group.bench_function("read_with_20_in_segment", |b| {
        let at = cursor.drop(14);
        b.iter(|| {
            black_box(at)
                .read_with(20, |h| u16::from_be_bytes([h[2], h[3]]))
                .map(|(v, rest)| (v, rest.len()))
        })
    });
    group.bench_function("read_with_8_across", |b| {
        let at = cursor.drop(1020);
        b.iter(|| {
            black_box(at)
                .read_with(8, |w| u64::from_be_bytes(w.try_into().unwrap_or([0; 8])))
                .map(|(v, rest)| (v, rest.len()))
        })
    });
    group.bench_function("headers", |b| {
        b.iter(|| {
            let c = black_box(cursor);
            let (ethertype, c) = c.read_with(14, |h| u16::from_be_bytes([h[12], h[13]]))?;
            let (total, c) = c.read_with(20, |h| u16::from_be_bytes([h[2], h[3]]))?;
            let (ports, c) = c.read_with(20, |h| u32::from_be_bytes([h[0], h[1], h[2], h[3]]))?;
            let payload = c.take(usize::from(total).saturating_sub(40));
            Ok::<_, rusty_stack::mem::cursor::CursorError>((ethertype, ports, payload.len()))
        })
    });
    group.throughput(Throughput::Bytes(1460));
    group.bench_function("read_1460", |b| {
        let mut out = vec![0u8; 1460];
        let at = cursor.drop(40);
        b.iter(|| {
            let rest = black_box(at).read(&mut out);
            black_box(&out);
            rest.map(|r| r.len())
        })
    });
    let plain = bytes(1500, 3);
    group.bench_function("memcpy_1460", |b| {
        let mut out = vec![0u8; 1460];
        b.iter(|| {
            out.copy_from_slice(black_box(&plain[40..1500]));
            black_box(&out);
        })
    });
    let single_pool = BufPool::new(&PoolConfig::default());
    let single = filled_frame(&single_pool, 1);
    group.bench_function("read_1460_single", |b| {
        let mut out = vec![0u8; 1460];
        let at = single.cursor().drop(40);
        b.iter(|| {
            let rest = black_box(at).read(&mut out);
            black_box(&out);
            rest.map(|r| r.len())
        })
    });
    group.finish();
}

fn write(c: &mut Criterion) {
    let payload = bytes(1460, 9);
    let mut group = c.benchmark_group("cursor/write_1460");
    group.throughput(Throughput::Bytes(1460));
    for (name, chaining, buffers) in [("single", false, 1), ("chained", true, 2)] {
        let pool = BufPool::new(&PoolConfig::default().with_chaining(chaining));
        let mut frame = filled_frame(&pool, buffers);
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut w = black_box(&mut frame).cursor_mut();
                w.advance(54)?;
                w.write(black_box(&payload))
            })
        });
    }
    group.finish();
}

fn pool(c: &mut Criterion) {
    let mut group = c.benchmark_group("cursor/pool");
    for (name, chaining, buffers) in [
        ("alloc_chain_1514_single", false, 1),
        ("alloc_chain_1514_chained", true, 2),
    ] {
        let pool = BufPool::new(&PoolConfig::default().with_chaining(chaining));
        assert_eq!(
            pool.alloc_chain(1514).map(|f| f.buffer_count()),
            Some(buffers)
        );
        group.bench_function(name, |b| {
            b.iter(|| drop(black_box(pool.alloc_chain(black_box(1514)))))
        });
    }
    let pool = BufPool::new(&PoolConfig::default());
    group.bench_function("alloc_128", |b| {
        b.iter(|| drop(black_box(pool.alloc(black_box(0)))))
    });
    group.finish();
}

criterion_group!(benches, read, write, pool);
criterion_main!(benches);
