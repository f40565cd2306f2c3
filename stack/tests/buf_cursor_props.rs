//! Property tests: cursors over arbitrarily split chains behave like the same
//! operations on a flat `Vec<u8>`.

use proptest::prelude::*;
use rusty_stack::checksum::{ones_sum, Checksum};
use rusty_stack::mem::buf::{class_for_len, BufPool, Frame, PoolConfig, MAX_CHAIN};
use rusty_stack::mem::cursor::{Cursor, CursorError, CursorMut, Truncated, READ_WITH_MAX};

/// How a frame of `data` is laid out: one buffer per piece, each with some
/// headroom and tailroom.
#[derive(Clone, Debug)]
struct Layout {
    data: Vec<u8>,
    /// Piece lengths (some zero); they sum to `data.len()`.
    pieces: Vec<usize>,
    /// Headroom and tailroom of each piece's buffer.
    rooms: Vec<(usize, usize)>,
}

fn layout() -> impl Strategy<Value = Layout> {
    (
        proptest::collection::vec(any::<u8>(), 0..700),
        proptest::collection::vec(any::<prop::sample::Index>(), 0..MAX_CHAIN),
        proptest::collection::vec((0usize..20, 0usize..20), MAX_CHAIN),
    )
        .prop_map(|(data, cuts, rooms)| {
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut prev = 0;
            for cut in cuts.into_iter().chain([data.len()]) {
                pieces.push(cut - prev);
                prev = cut;
            }
            let rooms = rooms[..pieces.len()].to_vec();
            Layout {
                data,
                pieces,
                rooms,
            }
        })
}

impl Layout {
    fn chain(&self) -> Frame {
        let pool = BufPool::new(&PoolConfig::uniform(MAX_CHAIN));
        let mut chain: Option<Frame> = None;
        let mut off = 0;
        for (&len, &(head, tail)) in self.pieces.iter().zip(&self.rooms) {
            let mut buf = pool
                .alloc(class_for_len(head + len + tail).unwrap())
                .unwrap();
            let storage = buf.storage_mut(0).unwrap();
            storage.fill(0);
            storage[head..head + len].copy_from_slice(&self.data[off..off + len]);
            buf.set_window(0, head, len).unwrap();
            match chain.as_mut() {
                Some(chain) => chain.push(buf).unwrap(),
                None => chain = Some(buf),
            }
            off += len;
        }
        chain.expect("at least one piece")
    }

    /// Non-empty segments as flat ranges, with their buffer index.
    fn segments(&self) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        let mut off = 0;
        for (i, &len) in self.pieces.iter().enumerate() {
            if len > 0 {
                out.push((off, off + len, i));
            }
            off += len;
        }
        out
    }
}

/// Where the bytes `lo..lo + n` lie when they are in one segment (n > 0):
/// buffer index and offset in its window.
fn direct(segs: &[(usize, usize, usize)], lo: usize, n: usize) -> Option<(usize, usize)> {
    segs.iter()
        .find(|&&(a, b, _)| a <= lo && lo + n <= b)
        .map(|&(a, _, i)| (i, lo - a))
}

fn norm(sum: u16) -> u16 {
    if sum == 0xffff {
        0
    } else {
        sum
    }
}

#[derive(Clone, Debug)]
enum ReadOp {
    Drop(usize),
    Take(usize),
    SplitKeepFirst(usize),
    SplitKeepSecond(usize),
    Read(usize),
    ReadWith(usize),
    ReadU8,
    ReadBeU16,
    ReadBeU32,
    Segments,
    Checksum,
}

fn read_op() -> impl Strategy<Value = ReadOp> {
    let n = prop_oneof![0usize..8, 0usize..300, 0usize..800];
    prop_oneof![
        n.clone().prop_map(ReadOp::Drop),
        n.clone().prop_map(ReadOp::Take),
        n.clone().prop_map(ReadOp::SplitKeepFirst),
        n.clone().prop_map(ReadOp::SplitKeepSecond),
        n.clone().prop_map(ReadOp::Read),
        n.prop_map(ReadOp::ReadWith),
        Just(ReadOp::ReadU8),
        Just(ReadOp::ReadBeU16),
        Just(ReadOp::ReadBeU32),
        Just(ReadOp::Segments),
        Just(ReadOp::Checksum),
    ]
}

/// Checks `cursor` against the model `data[lo..hi]`.
fn check_same(cursor: Cursor<'_>, data: &[u8], lo: usize, hi: usize) -> Result<(), TestCaseError> {
    prop_assert_eq!(cursor.len(), hi - lo);
    prop_assert_eq!(cursor.is_empty(), hi == lo);
    prop_assert!(cursor.eq_slice(&data[lo..hi]));
    prop_assert_eq!(cursor.copy_to_vec(), &data[lo..hi]);
    Ok(())
}

fn run_read_ops(layout: &Layout, ops: &[ReadOp], flat: bool) -> Result<(), TestCaseError> {
    let chain = layout.chain();
    let data = &layout.data;
    let segs = if flat {
        if data.is_empty() {
            vec![]
        } else {
            vec![(0, data.len(), 0)]
        }
    } else {
        layout.segments()
    };
    let mut cursor = if flat {
        Cursor::from_slice(data)
    } else {
        chain.cursor()
    };
    let (mut lo, mut hi) = (0, data.len());
    check_same(cursor, data, lo, hi)?;
    for op in ops {
        let len = hi - lo;
        match *op {
            ReadOp::Drop(n) => {
                cursor = cursor.drop(n);
                lo += n.min(len);
            }
            ReadOp::Take(n) => {
                cursor = cursor.take(n);
                hi = lo + n.min(len);
            }
            ReadOp::SplitKeepFirst(n) | ReadOp::SplitKeepSecond(n) => {
                let (first, second) = cursor.split_at(n);
                let mid = lo + n.min(len);
                check_same(first, data, lo, mid)?;
                check_same(second, data, mid, hi)?;
                if matches!(op, ReadOp::SplitKeepFirst(_)) {
                    cursor = first;
                    hi = mid;
                } else {
                    cursor = second;
                    lo = mid;
                }
            }
            ReadOp::Read(n) => {
                let mut out = vec![0xa5; n];
                match cursor.read(&mut out) {
                    Ok(after) => {
                        prop_assert!(n <= len);
                        prop_assert_eq!(&out[..], &data[lo..lo + n]);
                        cursor = after;
                        lo += n;
                    }
                    Err(Truncated) => prop_assert!(n > len),
                }
            }
            ReadOp::ReadWith(n) => {
                let res = cursor.read_with(n, |s| (s.as_ptr(), s.to_vec()));
                let place = if n == 0 { None } else { direct(&segs, lo, n) };
                if n > len {
                    prop_assert_eq!(res.unwrap_err(), CursorError::Truncated);
                } else if n > READ_WITH_MAX && place.is_none() && n > 0 {
                    prop_assert_eq!(res.unwrap_err(), CursorError::TooLong);
                } else {
                    let ((ptr, bytes), after) = res.unwrap();
                    prop_assert_eq!(&bytes[..], &data[lo..lo + n]);
                    if let Some((i, off)) = place {
                        let window = if flat {
                            &data[..]
                        } else {
                            chain.window(i).unwrap()
                        };
                        prop_assert_eq!(ptr, window[off..].as_ptr(), "not zero-copy");
                    }
                    cursor = after;
                    lo += n;
                }
            }
            ReadOp::ReadU8 => match cursor.read_u8() {
                Ok((b, after)) => {
                    prop_assert_eq!(cursor.peek_u8(), Ok(b));
                    prop_assert_eq!(b, data[lo]);
                    cursor = after;
                    lo += 1;
                }
                Err(Truncated) => prop_assert_eq!(len, 0),
            },
            ReadOp::ReadBeU16 => match cursor.read_be_u16() {
                Ok((v, after)) => {
                    prop_assert_eq!(v, u16::from_be_bytes([data[lo], data[lo + 1]]));
                    cursor = after;
                    lo += 2;
                }
                Err(Truncated) => prop_assert!(len < 2),
            },
            ReadOp::ReadBeU32 => match cursor.read_be_u32() {
                Ok((v, after)) => {
                    let mut b = [0; 4];
                    b.copy_from_slice(&data[lo..lo + 4]);
                    prop_assert_eq!(v, u32::from_be_bytes(b));
                    cursor = after;
                    lo += 4;
                }
                Err(Truncated) => prop_assert!(len < 4),
            },
            ReadOp::Segments => {
                let pieces: Vec<&[u8]> = cursor.segments().collect();
                prop_assert!(pieces.iter().all(|p| !p.is_empty()));
                prop_assert!(pieces.len() <= segs.len());
                prop_assert_eq!(pieces.concat(), &data[lo..hi]);
            }
            ReadOp::Checksum => {
                let mut acc = Checksum::new();
                cursor.add_to_checksum(&mut acc);
                prop_assert_eq!(norm(acc.sum()), norm(ones_sum(&data[lo..hi])));
            }
        }
        check_same(cursor, data, lo, hi)?;
    }
    Ok(())
}

#[derive(Clone, Debug)]
enum WriteOp {
    Write(Vec<u8>),
    WriteWith(usize, u8),
    Fill(u8, usize),
    Advance(usize),
    WriteCursor(Layout),
    WriteBeU16(u16),
    WriteBeU32(u32),
    /// Write through `take(n)`, which must not advance the cursor.
    TakeFill(usize, u8),
    /// `split_at(n)`, fill the first half, keep going with the second.
    SplitFill(usize, u8),
}

fn write_op() -> impl Strategy<Value = WriteOp> {
    let n = prop_oneof![0usize..8, 0usize..300, 0usize..800];
    let small_layout = (
        proptest::collection::vec(any::<u8>(), 0..60),
        proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
    )
        .prop_map(|(data, cuts)| {
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut prev = 0;
            for cut in cuts.into_iter().chain([data.len()]) {
                pieces.push(cut - prev);
                prev = cut;
            }
            let rooms = vec![(1, 1); pieces.len()];
            Layout {
                data,
                pieces,
                rooms,
            }
        });
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(WriteOp::Write),
        (n.clone(), any::<u8>()).prop_map(|(n, b)| WriteOp::WriteWith(n, b)),
        (any::<u8>(), n.clone()).prop_map(|(b, n)| WriteOp::Fill(b, n)),
        n.clone().prop_map(WriteOp::Advance),
        small_layout.prop_map(WriteOp::WriteCursor),
        any::<u16>().prop_map(WriteOp::WriteBeU16),
        any::<u32>().prop_map(WriteOp::WriteBeU32),
        (n.clone(), any::<u8>()).prop_map(|(n, b)| WriteOp::TakeFill(n, b)),
        (n, any::<u8>()).prop_map(|(n, b)| WriteOp::SplitFill(n, b)),
    ]
}

fn run_write_ops(layout: &Layout, ops: &[WriteOp]) -> Result<(), TestCaseError> {
    let mut chain = layout.chain();
    let segs = layout.segments();
    // Addresses only, compared but never dereferenced.
    let starts: Vec<*const u8> = (0..chain.buffer_count())
        .map(|i| chain.window(i).unwrap().as_ptr())
        .collect();
    let mut model = layout.data.clone();
    let end = model.len();
    let mut pos = 0;
    {
        let mut cursor = chain.cursor_mut();
        for op in ops {
            let len = end - pos;
            match op {
                WriteOp::Write(bytes) => match cursor.write(bytes) {
                    Ok(()) => {
                        model[pos..pos + bytes.len()].copy_from_slice(bytes);
                        pos += bytes.len();
                    }
                    Err(Truncated) => prop_assert!(bytes.len() > len),
                },
                &WriteOp::WriteWith(n, seed) => {
                    let res = cursor.write_with(n, |s| {
                        let seen = s.to_vec();
                        for (i, b) in s.iter_mut().enumerate() {
                            *b = seed.wrapping_add(i as u8);
                        }
                        (s.as_ptr(), seen)
                    });
                    let place = if n == 0 { None } else { direct(&segs, pos, n) };
                    if n > len {
                        prop_assert_eq!(res.unwrap_err(), CursorError::Truncated);
                    } else if n > READ_WITH_MAX && place.is_none() && n > 0 {
                        prop_assert_eq!(res.unwrap_err(), CursorError::TooLong);
                    } else {
                        let (ptr, seen) = res.unwrap();
                        prop_assert_eq!(&seen[..], &model[pos..pos + n]);
                        if let Some((i, off)) = place {
                            prop_assert_eq!(ptr, starts[i].wrapping_add(off), "not zero-copy");
                        }
                        for (i, b) in model[pos..pos + n].iter_mut().enumerate() {
                            *b = seed.wrapping_add(i as u8);
                        }
                        pos += n;
                    }
                }
                &WriteOp::Fill(byte, n) => match cursor.fill(byte, n) {
                    Ok(()) => {
                        model[pos..pos + n].fill(byte);
                        pos += n;
                    }
                    Err(Truncated) => prop_assert!(n > len),
                },
                &WriteOp::Advance(n) => match cursor.advance(n) {
                    Ok(()) => pos += n,
                    Err(Truncated) => prop_assert!(n > len),
                },
                WriteOp::WriteCursor(src) => {
                    let src_chain = src.chain();
                    match cursor.write_cursor(src_chain.cursor()) {
                        Ok(()) => {
                            model[pos..pos + src.data.len()].copy_from_slice(&src.data);
                            pos += src.data.len();
                        }
                        Err(Truncated) => prop_assert!(src.data.len() > len),
                    }
                }
                &WriteOp::WriteBeU16(v) => match cursor.write_be_u16(v) {
                    Ok(()) => {
                        model[pos..pos + 2].copy_from_slice(&v.to_be_bytes());
                        pos += 2;
                    }
                    Err(Truncated) => prop_assert!(len < 2),
                },
                &WriteOp::WriteBeU32(v) => match cursor.write_be_u32(v) {
                    Ok(()) => {
                        model[pos..pos + 4].copy_from_slice(&v.to_be_bytes());
                        pos += 4;
                    }
                    Err(Truncated) => prop_assert!(len < 4),
                },
                &WriteOp::TakeFill(n, byte) => {
                    let k = n.min(len);
                    let mut sub = cursor.take(n);
                    prop_assert_eq!(sub.len(), k);
                    prop_assert_eq!(sub.fill(byte, k + 1), Err(Truncated));
                    sub.fill(byte, k).unwrap();
                    prop_assert!(sub.is_empty());
                    model[pos..pos + k].fill(byte);
                }
                &WriteOp::SplitFill(n, byte) => {
                    let k = n.min(len);
                    let (mut first, second) = core::mem::take(&mut cursor).split_at(n);
                    prop_assert_eq!(first.len(), k);
                    prop_assert_eq!(second.len(), len - k);
                    first.fill(byte, k).unwrap();
                    prop_assert_eq!(first.write(&[0]), Err(Truncated));
                    model[pos..pos + k].fill(byte);
                    pos += k;
                    cursor = second;
                }
            }
            prop_assert_eq!(cursor.len(), end - pos);
            prop_assert_eq!(cursor.is_empty(), end == pos);
        }
        // Whatever is left can still be written exactly.
        let left = cursor.len();
        cursor.fill(0x5a, left).unwrap();
        model[pos..].fill(0x5a);
        prop_assert!(cursor.is_empty());
    }
    prop_assert_eq!(chain.copy_to_vec(), model);
    // Nothing was written outside the windows.
    let infos: Vec<_> = chain.buffers().collect();
    for (i, buf) in infos.iter().enumerate() {
        let storage = chain.storage_mut(i).unwrap();
        prop_assert!(storage[..buf.start].iter().all(|&b| b == 0));
        prop_assert!(storage[buf.start + buf.len..].iter().all(|&b| b == 0));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn cursor_matches_flat_model(layout in layout(),
                                 ops in proptest::collection::vec(read_op(), 0..24)) {
        run_read_ops(&layout, &ops, false)?;
    }

    #[test]
    fn slice_cursor_matches_flat_model(layout in layout(),
                                       ops in proptest::collection::vec(read_op(), 0..24)) {
        run_read_ops(&layout, &ops, true)?;
    }

    #[test]
    fn checksum_of_chain_is_checksum_of_bytes(layout in layout()) {
        let chain = layout.chain();
        let mut acc = Checksum::new();
        chain.cursor().add_to_checksum(&mut acc);
        prop_assert_eq!(norm(acc.sum()), norm(ones_sum(&layout.data)));
    }

    #[test]
    fn cursor_mut_matches_flat_model(layout in layout(),
                                     ops in proptest::collection::vec(write_op(), 0..24)) {
        run_write_ops(&layout, &ops)?;
    }

    #[test]
    fn cursor_mut_over_slice_matches_model(data in proptest::collection::vec(any::<u8>(), 0..300),
                                           cut in any::<prop::sample::Index>(),
                                           fill in any::<u8>()) {
        let mut bytes = data.clone();
        let k = cut.index(data.len() + 1);
        let (mut a, mut b) = CursorMut::from_slice(&mut bytes).split_at(k);
        prop_assert_eq!((a.len(), b.len()), (k, data.len() - k));
        b.write_cursor(Cursor::from_slice(&data[k..])).unwrap();
        a.fill(fill, k).unwrap();
        let mut model = data.clone();
        model[..k].fill(fill);
        prop_assert_eq!(bytes, model);
    }
}
