//! Precomputed checksum tables for static payloads (thesis, "Pre-computed
//! checksums").
//!
//! A web server sends the same files over and over, but every connection cuts
//! them into segments at different offsets (the MSS and the peer's window are
//! only known once the connection is up). [`PrefixSums`] is built once from a
//! payload and then answers the ones' complement partial sum of *any*
//! sub-range `[offset, offset + len)` in constant time.
//!
//! # How it works
//!
//! Let `P(x)` be the ones' complement sum of `data[..x]` with every byte at
//! its absolute position (bytes at even positions are high bytes of their
//! 16-bit word). The table stores `P` at every multiple of [`BLOCK`] bytes
//! (block boundaries are even, so `P` there is an ordinary partial sum). Any
//! other `P(x)` is the table entry at the block boundary below `x` plus the
//! sum of the fewer than [`BLOCK`] bytes between that boundary and `x`,
//! summed directly with [`checksum::ones_sum`] (its virtual zero pad puts a
//! last byte at an even position in the high half, as `P` wants).
//!
//! Then `P(offset + len) - P(offset)` (ones' complement subtraction) is the
//! sum of the range with its bytes at their *absolute* positions. When
//! `offset` is odd, the first byte of the range sits in a low half; swapping
//! the bytes of the sum gives the sum "as if the range started at an even
//! position", which is what [`Checksum::add_partial`] expects.
//!
//! Each query costs two table reads and at most `2 × (BLOCK - 1)` bytes summed
//! directly: constant work, independent of the payload size and of `len`.
//! The table holds one `u16` per [`BLOCK`] bytes, plus one: `len / 8 + 2`
//! bytes of memory for `BLOCK = 16`.
//!
//! # Zero has two forms
//!
//! In ones' complement `0x0000` and `0xffff` are the same value. A sum
//! obtained by subtraction can return either form where [`checksum::ones_sum`]
//! would return the other; both give a checksum that verifies. Compare sums
//! with `0xffff` normalised to `0`.
//!
//! [`Checksum::add_partial`]: crate::checksum::Checksum::add_partial

use crate::checksum;

/// Bytes covered by one table entry. Bounds the bytes summed directly at each
/// end of a queried range (at most `BLOCK - 1`).
pub const BLOCK: usize = 16;

/// Prefix ones' complement sums of a static payload, sampled every [`BLOCK`]
/// bytes.
///
/// The table does not keep the payload: pass the same bytes to
/// [`PrefixSums::sum`] (checked by length; a `debug_assert` fires on a
/// mismatch).
///
/// ```
/// use rusty_stack::checksum::{self, Checksum};
/// use rusty_stack::prefix_sum::PrefixSums;
///
/// let file: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
/// let sums = PrefixSums::new(&file);
/// assert_eq!(sums.len(), file.len());
/// assert!(sums.memory_bytes() <= file.len() / 4);
///
/// // Any range, odd offset and odd length included.
/// let norm = |s: u16| if s == 0xffff { 0 } else { s };
/// let s = sums.sum(&file, 6287, 715).unwrap();
/// assert_eq!(norm(s), norm(checksum::ones_sum(&file[6287..6287 + 715])));
///
/// // Segments of a stream chain through `Checksum::add_partial`.
/// let mut acc = Checksum::new();
/// acc.add_partial(sums.sum(&file, 101, 1459).unwrap(), 1459);
/// acc.add_partial(sums.sum(&file, 1560, 1460).unwrap(), 1460);
/// assert_eq!(norm(acc.sum()), norm(checksum::ones_sum(&file[101..3020])));
///
/// assert_eq!(sums.sum(&file, 9_999, 2), None); // past the end
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixSums {
    /// `table[k]` is the big-endian ones' complement sum of
    /// `payload[..k * BLOCK]`; `len / BLOCK + 1` entries.
    table: Box<[u16]>,
    /// Length of the payload the table was built from.
    len: usize,
}

impl PrefixSums {
    /// Builds the table from `data` in one pass.
    pub fn new(data: &[u8]) -> Self {
        // Same native-order accumulation as `checksum::ones_sum`: native
        // 32-bit halves added into a 64-bit accumulator, folded and swapped to
        // big-endian order only when an entry is stored.
        const _: () = assert!(BLOCK.is_multiple_of(8));
        let mut table = Vec::with_capacity(data.len() / BLOCK + 1);
        table.push(0u16);
        let mut acc: u64 = 0;
        for block in data.chunks_exact(BLOCK) {
            for word in block.chunks_exact(8) {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(word);
                let w = u64::from_ne_bytes(bytes);
                acc += (w & 0xffff_ffff) + (w >> 32);
            }
            // Keep the accumulator far from overflow on any payload size;
            // folding preserves its value modulo 0xffff.
            if acc >= 1 << 62 {
                acc = checksum::fold(acc) as u64;
            }
            table.push(u16::from_be(checksum::fold(acc)));
        }
        PrefixSums {
            table: table.into_boxed_slice(),
            len: data.len(),
        }
    }

    /// Length of the payload the table was built from.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// The payload the table was built from is empty.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of memory used by the table: 2 per [`BLOCK`] bytes of payload,
    /// plus 2 (`len / 8 + 2` for `BLOCK = 16`).
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of_val::<[u16]>(&self.table)
    }

    /// The ones' complement partial sum of `data[offset..offset + len]`, as
    /// if those bytes started at an even position (ready for
    /// [`Checksum::add_partial`]), in constant time.
    ///
    /// `data` must be the payload the table was built from. Returns `None`
    /// when the range does not lie within the payload, or (after a failed
    /// `debug_assert` in debug builds) when `data` is not as long as that
    /// payload. An empty range sums to `0`. The result may be `0xffff` where
    /// [`checksum::ones_sum`] gives `0` (see the module docs).
    ///
    /// [`Checksum::add_partial`]: crate::checksum::Checksum::add_partial
    #[inline]
    pub fn sum(&self, data: &[u8], offset: usize, len: usize) -> Option<u16> {
        debug_assert_eq!(
            data.len(),
            self.len,
            "PrefixSums::sum called with a payload other than the table's"
        );
        let end = offset.checked_add(len)?;
        if data.len() != self.len || end > self.len {
            return None;
        }
        if len == 0 {
            return Some(0);
        }
        let sum = checksum::sub(self.prefix(data, end), self.prefix(data, offset));
        Some(if offset % 2 == 1 {
            sum.swap_bytes()
        } else {
            sum
        })
    }

    /// Asks the memory for what [`PrefixSums::sum`] will read to find
    /// `P(x)`: the table entry and the ragged bytes of `data` before `x`
    /// (a hint, see [`crate::mem::prefetch`]; out-of-range `x` does
    /// nothing). A server that sends a page without copying it reads no
    /// other byte of it, so both are cold unless asked for a segment ahead.
    #[inline]
    pub fn prefetch(&self, data: &[u8], x: usize) {
        let block = x / BLOCK;
        if let (Some(entry), Some(ragged)) = (
            self.table.get(block..block + 1),
            data.get(block * BLOCK..x.min(data.len())),
        ) {
            crate::mem::prefetch::prefetch_read(entry);
            crate::mem::prefetch::prefetch_read(ragged);
        }
    }

    /// `P(x)`: the sum of `data[..x]`, bytes at their absolute positions.
    /// `x <= self.len`.
    #[inline]
    fn prefix(&self, data: &[u8], x: usize) -> u16 {
        let block = x / BLOCK;
        let start = block * BLOCK;
        // `start` is even, so the ragged bytes are at the same parity as in
        // the payload; an odd-length rest is padded as the high byte.
        let ragged = &data[start..x];
        // Fewer than `BLOCK` bytes, so the short sum applies.
        let edge = checksum::ones_sum_short(ragged).unwrap_or_else(|| checksum::ones_sum(ragged));
        checksum::add(self.table[block], edge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::Checksum;
    use proptest::prelude::*;

    /// RFC 1071 as written: 16-bit big-endian words, virtual zero pad, carry
    /// folded each step.
    fn naive_sum(data: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        for pair in data.chunks(2) {
            let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            sum += word as u32;
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    /// 0x0000 and 0xffff are the same ones' complement value.
    fn norm(s: u16) -> u16 {
        if s == 0xffff {
            0
        } else {
            s
        }
    }

    fn pseudo_random(len: usize, seed: u32) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn every_range_of_a_small_payload() {
        for n in [0usize, 1, 2, 15, 16, 17, 31, 32, 33, 47, 64, 65] {
            let data = pseudo_random(n, n as u32 + 7);
            let sums = PrefixSums::new(&data);
            assert_eq!(sums.len(), n);
            for offset in 0..=n {
                for len in 0..=n - offset {
                    let got = sums.sum(&data, offset, len).unwrap();
                    let want = naive_sum(&data[offset..offset + len]);
                    assert_eq!(norm(got), norm(want), "n={n} offset={offset} len={len}");
                }
            }
        }
    }

    #[test]
    fn empty_ranges_are_zero() {
        let data = pseudo_random(100, 3);
        let sums = PrefixSums::new(&data);
        for offset in 0..=100 {
            assert_eq!(sums.sum(&data, offset, 0), Some(0));
        }
    }

    #[test]
    fn out_of_range_is_none() {
        let data = pseudo_random(100, 5);
        let sums = PrefixSums::new(&data);
        assert_eq!(sums.sum(&data, 0, 101), None);
        assert_eq!(sums.sum(&data, 100, 1), None);
        assert_eq!(sums.sum(&data, 101, 0), None);
        assert_eq!(sums.sum(&data, usize::MAX, 2), None);
        assert_eq!(sums.sum(&data, 1, usize::MAX), None);
        assert!(sums.sum(&data, 100, 0).is_some());
        assert!(sums.sum(&data, 0, 100).is_some());
    }

    #[test]
    fn all_ones_and_all_zeros() {
        // Sums that land on the two forms of zero.
        let zeros = vec![0u8; 1000];
        let sums = PrefixSums::new(&zeros);
        assert_eq!(norm(sums.sum(&zeros, 3, 501).unwrap()), 0);
        let ones = vec![0xffu8; 1000];
        let sums = PrefixSums::new(&ones);
        for (offset, len) in [(0, 1000), (1, 997), (17, 2), (5, 1)] {
            let got = sums.sum(&ones, offset, len).unwrap();
            let want = naive_sum(&ones[offset..offset + len]);
            assert_eq!(norm(got), norm(want), "offset={offset} len={len}");
        }
    }

    #[test]
    fn memory_is_at_most_a_quarter() {
        for n in [0usize, 1, 15, 16, 1000, 4096, 100_003, 1_100_000] {
            let data = vec![0x5au8; n];
            let sums = PrefixSums::new(&data);
            assert_eq!(sums.memory_bytes(), (n / BLOCK + 1) * 2);
            assert!(sums.memory_bytes() <= n / 4 + 2, "n={n}");
            assert!(sums.memory_bytes() <= n / 8 + 2, "n={n}");
        }
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "other than the table's")]
    fn wrong_payload_length_asserts() {
        let data = pseudo_random(64, 9);
        let sums = PrefixSums::new(&data);
        let _ = sums.sum(&data[..63], 0, 10);
    }

    proptest! {
        #[test]
        fn random_ranges_match_naive(data in proptest::collection::vec(any::<u8>(), 0..3000),
                                     a in any::<usize>(), b in any::<usize>()) {
            let sums = PrefixSums::new(&data);
            let offset = a % (data.len() + 1);
            let len = b % (data.len() - offset + 1);
            let got = sums.sum(&data, offset, len).unwrap();
            prop_assert_eq!(norm(got), norm(naive_sum(&data[offset..offset + len])));
        }

        #[test]
        fn ranges_near_the_end_match_naive(data in proptest::collection::vec(any::<u8>(), 0..600),
                                           back in 0usize..40, len in 0usize..40) {
            let sums = PrefixSums::new(&data);
            let offset = data.len().saturating_sub(back);
            let len = len.min(data.len() - offset);
            let got = sums.sum(&data, offset, len).unwrap();
            prop_assert_eq!(norm(got), norm(naive_sum(&data[offset..offset + len])));
            // One past the end is refused.
            prop_assert_eq!(sums.sum(&data, offset, data.len() - offset + 1), None);
        }

        #[test]
        fn chained_ranges_match_whole(data in proptest::collection::vec(any::<u8>(), 0..3000),
                                      a in any::<usize>(), b in any::<usize>(),
                                      cuts in proptest::collection::vec(any::<usize>(), 0..10)) {
            let sums = PrefixSums::new(&data);
            let start = a % (data.len() + 1);
            let end = start + b % (data.len() - start + 1);
            let mut cuts: Vec<usize> =
                cuts.into_iter().map(|c| start + c % (end - start + 1)).collect();
            cuts.sort_unstable();
            let mut acc = Checksum::new();
            let mut prev = start;
            for cut in cuts.into_iter().chain([end]) {
                acc.add_partial(sums.sum(&data, prev, cut - prev).unwrap(), cut - prev);
                prev = cut;
            }
            prop_assert_eq!(norm(acc.sum()), norm(naive_sum(&data[start..end])));
            let whole = sums.sum(&data, start, end - start).unwrap();
            prop_assert_eq!(norm(acc.sum()), norm(whole));
        }

        #[test]
        fn memory_bound_holds(n in 0usize..100_000) {
            let data = vec![1u8; n];
            let sums = PrefixSums::new(&data);
            prop_assert!(sums.memory_bytes() <= n / 4 + 2);
        }
    }
}
