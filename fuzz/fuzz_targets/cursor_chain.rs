//! Cursor and buffer operations over random chained frames, against a flat
//! model.
//!
//! A frame is allocated from a `BufPool` (chaining on or off) and other
//! frames are chained onto it with `Frame::push`; then a sequence of
//! operations runs on it: reads, skips, splits and checksums through
//! `Cursor`, writes, fills, splits and takes through `CursorMut`, window
//! changes and truncation of the buffers. The model keeps every buffer's
//! storage and window as plain vectors; after each operation the frame's
//! bytes must equal the model's windows laid end to end, and each result
//! must be what the model predicts, including which operations fail. At
//! the end every buffer's whole storage is compared, and dropping the
//! frames must give every buffer back to the pool.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rusty_stack::checksum::{ones_sum, Checksum};
use rusty_stack::mem::buf::{chain_classes, BufPool, Frame, PoolConfig, MAX_CHAIN};
use rusty_stack::mem::cursor::{CursorError, Truncated, READ_WITH_MAX};

/// Buffers of each class in the pool.
const PER_CLASS: usize = 16;
/// Frames chained at most.
const MAX_PIECES: usize = 8;
/// Operations run at most.
const MAX_OPS: usize = 64;

/// How the frame is built and what is done to it.
#[derive(Arbitrary, Debug)]
struct Input {
    /// The pool chains frames over several buffers.
    chaining: bool,
    /// Lengths of the frames allocated and chained, first one first (taken
    /// modulo 20000).
    pieces: Vec<u16>,
    /// The operations.
    ops: Vec<Op>,
}

/// One operation. Positions and lengths are reduced modulo a little more
/// than the frame's length, so some of them run past its end.
#[derive(Arbitrary, Debug)]
enum Op {
    /// `Cursor::drop(at)` then `read` of `len` bytes.
    Read { at: u16, len: u16 },
    /// `Cursor::read_with` of `len` bytes at `at`.
    ReadWith { at: u16, len: u16 },
    /// `read_u8`, `read_be_u16`, `read_be_u32` in a row from `at`.
    ReadInts { at: u16 },
    /// `split_at(n)` of the cursor at `at`; `peek_u8` of both halves.
    Split { at: u16, n: u16 },
    /// Checksum of `len` bytes at `at`, accumulated in two parts split at
    /// `split`, through `Cursor` and `CursorMut`.
    Checksum { at: u16, len: u16, split: u16 },
    /// `eq_slice` with the model's bytes, and with one byte changed.
    EqSlice { at: u16, len: u16, flip: u16 },
    /// `CursorMut::advance(at)` then `write(bytes)`.
    Write { at: u16, bytes: Vec<u8> },
    /// `write_with` of `len` bytes at `at`, XORing them with `xor`.
    WriteWith { at: u16, len: u16, xor: u8 },
    /// `fill` of `len` bytes at `at`.
    Fill { at: u16, len: u16, byte: u8 },
    /// `write_be_u16` then `write_be_u32` at `at`.
    WriteInts { at: u16, value: u32 },
    /// `split_at(n)` of the write cursor at `at`, then a write into each
    /// half.
    SplitMut {
        at: u16,
        n: u16,
        first: Vec<u8>,
        second: Vec<u8>,
    },
    /// `take(n)` of the write cursor at `at` and a write through it; the
    /// cursor itself must not move.
    TakeMut { at: u16, n: u16, bytes: Vec<u8> },
    /// `write_cursor` at `at` from a second chained frame holding `src`,
    /// read from `src_at`.
    WriteCursor { at: u16, src: Vec<u8>, src_at: u16 },
    /// `Frame::set_window` of buffer `index`.
    SetWindow { index: u8, start: u16, len: u16 },
    /// `Frame::truncate`.
    Truncate { len: u16 },
    /// `segments()` and `for_each_segment` visit the bytes in order, in
    /// non-empty pieces.
    Segments,
}

/// One buffer of the model: its whole storage and its window.
#[derive(Debug)]
struct Buf {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

/// The frame as plain vectors.
#[derive(Debug)]
struct Model {
    bufs: Vec<Buf>,
}

impl Model {
    /// The model of `frame` as it is now.
    fn of(frame: &Frame) -> Model {
        let bufs = frame
            .buffers()
            .enumerate()
            .map(|(i, info)| Buf {
                storage: frame.storage(i).expect("buffer in chain").to_vec(),
                start: info.start,
                len: info.len,
            })
            .collect();
        Model { bufs }
    }

    /// The windows laid end to end.
    fn flat(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for b in &self.bufs {
            out.extend_from_slice(&b.storage[b.start..b.start + b.len]);
        }
        out
    }

    /// Writes `bytes` at flat offset `at` (which the caller checked fits).
    fn write(&mut self, mut at: usize, bytes: &[u8]) {
        let mut done = 0;
        for b in &mut self.bufs {
            if done == bytes.len() {
                break;
            }
            if at >= b.len {
                at -= b.len;
                continue;
            }
            let n = (b.len - at).min(bytes.len() - done);
            b.storage[b.start + at..b.start + at + n].copy_from_slice(&bytes[done..done + n]);
            done += n;
            at = 0;
        }
        assert_eq!(done, bytes.len(), "model write past the end");
    }

    /// `Frame::truncate`: windows shrink from the end.
    fn truncate(&mut self, len: usize) {
        let mut keep = len;
        for b in &mut self.bufs {
            let here = b.len.min(keep);
            keep -= here;
            b.len = here;
        }
    }
}

/// `v` reduced to `0..n + 8`: mostly in range, sometimes just past it.
fn pick(v: u16, n: usize) -> usize {
    usize::from(v) % (n + 8)
}

/// The bytes `at..at + len` of `flat`, if they exist.
fn slice(flat: &[u8], at: usize, len: usize) -> Option<&[u8]> {
    flat.get(at..at.checked_add(len)?)
}

/// Builds the frame of `input`: the first piece with the others pushed
/// onto it; `None` when the first allocation fails.
fn build(pool: &BufPool, input: &Input) -> Option<Frame> {
    let mut lens = input
        .pieces
        .iter()
        .take(MAX_PIECES)
        .map(|&l| usize::from(l) % 20_000);
    let first_len = lens.next().unwrap_or(0);
    let alloc = |len: usize| {
        let frame = pool.alloc_chain(len)?;
        let classes: Vec<usize> = frame.buffers().map(|b| b.class).collect();
        let want = chain_classes(len, pool.chaining()).expect("allocated, so it has classes");
        assert_eq!(classes, &want[..], "alloc_chain({len}) took other classes");
        assert_eq!(frame.len(), len);
        Some(frame)
    };
    let mut frame = alloc(first_len)?;
    for len in lens {
        let Some(other) = alloc(len) else { continue };
        let (count, total) = (frame.buffer_count(), frame.len());
        let other_count = other.buffer_count();
        match frame.push(other) {
            Ok(()) => {
                assert_eq!(frame.buffer_count(), count + other_count);
                assert_eq!(frame.len(), total + len);
            }
            Err(back) => {
                assert!(
                    count + other_count > MAX_CHAIN,
                    "push refused a chain that fits"
                );
                assert_eq!(back.len(), len);
                assert_eq!((frame.buffer_count(), frame.len()), (count, total));
            }
        }
    }
    // A recognisable pattern through the chained write cursor.
    let pattern: Vec<u8> = (0..frame.len()).map(|i| (i * 13 + 5) as u8).collect();
    frame
        .cursor_mut()
        .write(&pattern)
        .expect("the frame's own length");
    assert_eq!(frame.copy_to_vec(), pattern);
    Some(frame)
}

/// Runs `op` on `frame` and `model`, checking every result.
fn run(op: &Op, frame: &mut Frame, model: &mut Model, pool: &BufPool) {
    let flat = model.flat();
    let n = flat.len();
    match *op {
        Op::Read { at, len } => {
            let (at, len) = (pick(at, n), pick(len, n));
            let cursor = frame.cursor().drop(at);
            let rest = flat.get(at..).unwrap_or(&[]);
            let mut out = vec![0u8; len];
            match (cursor.read(&mut out), slice(rest, 0, len)) {
                (Ok(after), Some(want)) => {
                    assert_eq!(out, want);
                    assert_eq!(after.copy_to_vec(), &rest[len..]);
                }
                (Err(Truncated), None) => {}
                (got, want) => panic!("read {len} at {at} of {n}: {got:?}, model {want:?}"),
            }
        }
        Op::ReadWith { at, len } => {
            let (at, len) = (pick(at, n), pick(len, n));
            let got = frame.cursor().drop(at).read_with(len, |s| s.to_vec());
            let rest = flat.get(at..).unwrap_or(&[]);
            match (got, slice(rest, 0, len)) {
                (Ok((bytes, after)), Some(want)) => {
                    assert_eq!(bytes, want);
                    assert_eq!(after.len(), rest.len() - len);
                }
                (Err(CursorError::TooLong), Some(_)) => assert!(len > READ_WITH_MAX),
                (Err(CursorError::Truncated), None) => {}
                (got, want) => panic!("read_with {len} at {at} of {n}: {got:?}, model {want:?}"),
            }
        }
        Op::ReadInts { at } => {
            let at = pick(at, n);
            let cursor = frame.cursor().drop(at);
            let got = cursor.read_u8().and_then(|(a, c)| {
                let (b, c) = c.read_be_u16()?;
                let (d, c) = c.read_be_u32()?;
                Ok((a, b, d, c.len()))
            });
            let rest = flat.get(at..).unwrap_or(&[]);
            match (got, slice(rest, 0, 7)) {
                (Ok((a, b, d, left)), Some(w)) => {
                    assert_eq!(a, w[0]);
                    assert_eq!(b, u16::from_be_bytes([w[1], w[2]]));
                    assert_eq!(d, u32::from_be_bytes([w[3], w[4], w[5], w[6]]));
                    assert_eq!(left, rest.len() - 7);
                }
                (Err(Truncated), None) => {}
                (got, want) => panic!("ints at {at} of {n}: {got:?}, model {want:?}"),
            }
        }
        Op::Split { at, n: k } => {
            let (at, k) = (pick(at, n), pick(k, n));
            let rest = flat.get(at..).unwrap_or(&[]);
            let (a, b) = frame.cursor().drop(at).split_at(k);
            let cut = k.min(rest.len());
            assert_eq!(a.copy_to_vec(), &rest[..cut]);
            assert_eq!(b.copy_to_vec(), &rest[cut..]);
            assert_eq!(a.peek_u8().ok(), rest[..cut].first().copied());
            assert_eq!(b.peek_u8().ok(), rest[cut..].first().copied());
            assert_eq!(a.is_empty(), cut == 0);
        }
        Op::Checksum { at, len, split } => {
            let at = pick(at, n);
            let rest = flat.get(at..).unwrap_or(&[]);
            let len = pick(len, n).min(rest.len());
            let split = pick(split, len).min(len);
            let want = ones_sum(&rest[..len]);
            let cursor = frame.cursor().drop(at).take(len);
            let mut acc = Checksum::new();
            cursor.take(split).add_to_checksum(&mut acc);
            cursor.drop(split).add_to_checksum(&mut acc);
            assert_eq!(acc.sum(), want, "Cursor checksum of {len} at {at}");
            assert_eq!(acc.is_odd(), len % 2 == 1);
            let mut cm = frame.cursor_mut();
            if cm.advance(at).is_ok() {
                let mut acc = Checksum::new();
                cm.take(len).add_to_checksum(&mut acc);
                assert_eq!(acc.sum(), want, "CursorMut checksum of {len} at {at}");
            }
        }
        Op::EqSlice { at, len, flip } => {
            let at = pick(at, n);
            let rest = flat.get(at..).unwrap_or(&[]);
            let len = pick(len, n).min(rest.len());
            let cursor = frame.cursor().drop(at).take(len);
            assert!(cursor.eq_slice(&rest[..len]));
            assert!(!cursor.eq_slice(&flat[..0]) || len == 0);
            if len > 0 {
                let mut other = rest[..len].to_vec();
                other[usize::from(flip) % len] ^= 0x01;
                assert!(!cursor.eq_slice(&other));
            }
        }
        Op::Write { at, ref bytes } => {
            let at = pick(at, n);
            let mut cm = frame.cursor_mut();
            if at > n {
                assert_eq!(cm.advance(at), Err(Truncated));
                assert_eq!(cm.len(), n, "a failed advance moved the cursor");
                return;
            }
            cm.advance(at).expect("in range");
            let fits = bytes.len() <= n - at;
            assert_eq!(cm.write(bytes).is_ok(), fits);
            if fits {
                assert_eq!(cm.len(), n - at - bytes.len());
                model.write(at, bytes);
            }
        }
        Op::WriteWith { at, len, xor } => {
            let (at, len) = (pick(at, n).min(n), pick(len, n));
            let mut cm = frame.cursor_mut();
            cm.advance(at).expect("in range");
            let want = slice(&flat, at, len).map(<[u8]>::to_vec);
            let got = cm.write_with(len, |s| {
                let seen = s.to_vec();
                s.iter_mut().for_each(|b| *b ^= xor);
                seen
            });
            match (got, want) {
                (Ok(seen), Some(want)) => {
                    assert_eq!(seen, want, "write_with saw other bytes");
                    let new: Vec<u8> = want.iter().map(|b| b ^ xor).collect();
                    model.write(at, &new);
                }
                (Err(CursorError::TooLong), Some(_)) => assert!(len > READ_WITH_MAX),
                (Err(CursorError::Truncated), None) => {}
                (got, want) => panic!("write_with {len} at {at} of {n}: {got:?}, model {want:?}"),
            }
        }
        Op::Fill { at, len, byte } => {
            let (at, len) = (pick(at, n).min(n), pick(len, n));
            let mut cm = frame.cursor_mut();
            cm.advance(at).expect("in range");
            let fits = len <= n - at;
            assert_eq!(cm.fill(byte, len).is_ok(), fits);
            if fits {
                model.write(at, &vec![byte; len]);
            }
        }
        Op::WriteInts { at, value } => {
            let at = pick(at, n).min(n);
            let mut cm = frame.cursor_mut();
            cm.advance(at).expect("in range");
            let short = value as u16;
            let fits16 = n - at >= 2;
            assert_eq!(cm.write_be_u16(short).is_ok(), fits16);
            if !fits16 {
                return;
            }
            model.write(at, &short.to_be_bytes());
            let fits32 = n - at - 2 >= 4;
            assert_eq!(cm.write_be_u32(value).is_ok(), fits32);
            if fits32 {
                model.write(at + 2, &value.to_be_bytes());
            }
        }
        Op::SplitMut {
            at,
            n: k,
            ref first,
            ref second,
        } => {
            let (at, k) = (pick(at, n).min(n), pick(k, n));
            let mut cm = frame.cursor_mut();
            cm.advance(at).expect("in range");
            let rest = n - at;
            let (mut a, mut b) = cm.split_at(k);
            let cut = k.min(rest);
            assert_eq!((a.len(), b.len()), (cut, rest - cut));
            let first_fits = first.len() <= cut;
            let second_fits = second.len() <= rest - cut;
            assert_eq!(a.write(first).is_ok(), first_fits);
            assert_eq!(b.write(second).is_ok(), second_fits);
            if first_fits {
                model.write(at, first);
            }
            if second_fits {
                model.write(at + cut, second);
            }
        }
        Op::TakeMut {
            at,
            n: k,
            ref bytes,
        } => {
            let (at, k) = (pick(at, n).min(n), pick(k, n));
            let mut cm = frame.cursor_mut();
            cm.advance(at).expect("in range");
            let rest = n - at;
            let window = k.min(rest);
            let fits = {
                let mut t = cm.take(k);
                assert_eq!(t.len(), window);
                t.write(bytes).is_ok()
            };
            assert_eq!(fits, bytes.len() <= window);
            assert_eq!(cm.len(), rest, "take moved the cursor");
            if fits {
                model.write(at, bytes);
            }
        }
        Op::WriteCursor {
            at,
            ref src,
            src_at,
        } => {
            let Some(mut source) = pool.alloc_chain(src.len()) else {
                return;
            };
            source.cursor_mut().write(src).expect("its own length");
            let src_at = pick(src_at, src.len());
            let from = source.cursor().drop(src_at);
            let bytes = src.get(src_at..).unwrap_or(&[]);
            let at = pick(at, n).min(n);
            let mut cm = frame.cursor_mut();
            cm.advance(at).expect("in range");
            let fits = bytes.len() <= n - at;
            assert_eq!(cm.write_cursor(from).is_ok(), fits);
            if fits {
                model.write(at, bytes);
            }
        }
        Op::SetWindow { index, start, len } => {
            let index = usize::from(index) % (model.bufs.len() + 1);
            let (start, len) = (usize::from(start), usize::from(len));
            let fits = model
                .bufs
                .get(index)
                .is_some_and(|b| start + len <= b.storage.len());
            assert_eq!(frame.set_window(index, start, len).is_ok(), fits);
            if fits {
                let b = &mut model.bufs[index];
                (b.start, b.len) = (start, len);
            }
        }
        Op::Truncate { len } => {
            let len = pick(len, n);
            frame.truncate(len);
            model.truncate(len);
        }
        Op::Segments => {
            let mut seen = Vec::new();
            for piece in frame.segments() {
                assert!(!piece.is_empty(), "an empty segment");
                seen.extend_from_slice(piece);
            }
            assert_eq!(seen, flat);
            let mut seen = Vec::new();
            frame.cursor_mut().for_each_segment(|piece| {
                assert!(!piece.is_empty(), "an empty segment");
                seen.extend_from_slice(piece);
            });
            assert_eq!(seen, flat);
        }
    }
}

fuzz_target!(|input: Input| {
    let pool = BufPool::new(&PoolConfig::uniform(PER_CLASS).with_chaining(input.chaining));
    if let Some(mut frame) = build(&pool, &input) {
        let mut model = Model::of(&frame);
        for op in input.ops.iter().take(MAX_OPS) {
            run(op, &mut frame, &mut model, &pool);
            let flat = model.flat();
            assert_eq!(frame.len(), flat.len(), "after {op:?}");
            assert_eq!(frame.copy_to_vec(), flat, "after {op:?}");
        }
        for (i, b) in model.bufs.iter().enumerate() {
            assert_eq!(
                frame.storage(i),
                Some(&b.storage[..]),
                "storage of buffer {i}"
            );
            assert_eq!(frame.window(i), Some(&b.storage[b.start..b.start + b.len]));
        }
        assert_eq!(frame.storage(model.bufs.len()), None);
    }
    assert_eq!(pool.in_use(), 0, "buffers not given back");
});
