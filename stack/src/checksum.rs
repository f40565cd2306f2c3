//! The Internet checksum (RFC 1071) and its helpers.
//!
//! * [`ones_sum`] sums any byte slice: whole 64-bit words in native byte
//!   order, two independent streams side by side, carries kept in wide
//!   accumulators and folded once at the end (see [the fast
//!   sum](#the-fast-sum) below).
//! * [`Checksum`] chains slices of any length and alignment, so a sum can run
//!   across the buffers of a chained frame: a slice that starts at an odd
//!   position of the stream has its sum byte-swapped before it is added.
//! * [`update`] is the incremental update of RFC 1624.
//! * [`pseudo_header_sum`] is the TCP/UDP IPv4 pseudo-header.
//!
//! Sums are handled as "partial sums": `u16` ones' complement sums of some
//! bytes, in network (big-endian) word order, not yet complemented.
//!
//! # The fast sum
//!
//! Three facts about ones' complement addition make the sum cheap.
//!
//! 1. **Byte order does not matter** (RFC 1071 §2(B)): summing the 16-bit
//!    words in native order gives the byte-swapped big-endian sum, so the
//!    native sum needs one swap at the end ([`u16::from_be`]).
//! 2. **Wide words are congruent to their 16-bit words.** Ones' complement
//!    addition is addition modulo `0xffff`, and `2^16 ≡ 1 (mod 0xffff)`. So a
//!    native 64-bit word `w = h·2^32 + l` (`h`, `l` its 32-bit halves) is
//!    congruent to the sum of the four 16-bit words inside it, and so is
//!    `h + l`; any sum of such quantities, however wide, is congruent to the
//!    16-bit sum. [`fold`] then turns a wide value back into 16 bits: it keeps
//!    the value modulo `0xffff`, keeps a non-zero value non-zero, and returns
//!    `0` only for `0`. The result thus depends only on the residue and on
//!    whether the accumulator is zero (which it is exactly when every byte
//!    is), so the fast sum is *bit-identical* to RFC 1071's word-by-word loop
//!    with end-around carry, `0x0000`-versus-`0xffff` included.
//! 3. **The halves need not be split word by word.** Adding `h` and `l`
//!    separately would cost a zero-extension per word. Instead the loop keeps
//!    `S = Σw mod 2^64` (wrapping adds of whole words) and `H = Σh` (exact).
//!    Since `Σw = L + 2^32·H` with `L = Σl`, we recover
//!    `L = S − 2^32·H (mod 2^64)`, exact because `L < 2^64`. The sum is then
//!    `L + H`. Per 16 bytes the vectorised loop (plain SSE2 on x86-64) costs
//!    one load, one add, one shift and one add.
//!
//! The words are read with [`u64::from_ne_bytes`] from any alignment (safe
//! Rust, no intrinsics), and the slice is cut into two halves of whole words
//! summed side by side: two independent dependency chains, which the loop
//! vectoriser turns into 64 bytes per iteration with four vector
//! accumulators (two for `S`, two for `H`). On x86-64 CPUs with AVX2
//! (detected at run time, once) slices of 128 bytes and more take the same
//! loop compiled with 256-bit vectors (module `wide`, the one `unsafe`
//! call of this module): twice the bytes per instruction, the same value.
//!
//! **No overflow.** One pass (a "run") takes at most `MAX_RUN < 2^32`
//! bytes, so fewer than `2^29` words: `H` and `L` stay below
//! `2^29 · 2^32 = 2^61`, the fewer than 16 bytes left after the two halves
//! add less than `2^34`, and the total stays below `2^63`. A longer slice is
//! cut into runs of `MAX_RUN` bytes (an even length), each folded to 16 bits
//! before they are added. No step needs a carry test.
//!
//! **Odd positions.** Every slice is summed as if it started at an even
//! position of the stream: the halves and the tail start at even offsets of
//! the slice, so each byte keeps its parity, and an odd last byte is the
//! first (high-order) byte of a word whose second byte is a virtual zero.
//! [`Checksum`] handles a slice that starts at an odd position of the stream
//! by swapping the bytes of its sum (fact 1 again: the swapped sum is the sum
//! of the bytes shifted by one position).

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod wide;

/// Folds a wide accumulator to a 16-bit ones' complement sum.
#[inline]
pub const fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Adds two 16-bit ones' complement sums.
#[inline]
pub const fn add(a: u16, b: u16) -> u16 {
    fold(a as u64 + b as u64)
}

/// Subtracts ones' complement sum `b` from `a` (adds its complement).
#[inline]
pub const fn sub(a: u16, b: u16) -> u16 {
    add(a, !b)
}

/// Longest slice summed in one run: under `2^32` bytes (so fewer than `2^29`
/// words, see the module docs for the bounds) and even, so that every run of
/// a longer slice starts at an even position.
const MAX_RUN: usize = (u32::MAX as usize) & !15;

/// Native-order accumulation of `data`; not folded, not swapped. Congruent
/// modulo `0xffff` to the ones' complement sum of `data` (virtual zero pad at
/// an odd end), zero exactly when every byte is zero, and below `2^63`.
#[inline]
fn accumulate_native(data: &[u8]) -> u64 {
    if data.len() <= MAX_RUN {
        sum_run(data)
    } else {
        sum_runs(data, MAX_RUN)
    }
}

/// [`accumulate_native`] of a slice longer than one run: runs of `run` bytes
/// (even, at most [`MAX_RUN`]), each folded to 16 bits, added up.
#[cold]
#[inline(never)]
fn sum_runs(data: &[u8], run: usize) -> u64 {
    debug_assert!(run > 0 && run.is_multiple_of(2) && run <= MAX_RUN);
    // Each term is at most 0xffff; with `run = MAX_RUN` a slice (at most
    // isize::MAX bytes) has fewer than 2^32 runs, so the total is below 2^48.
    data.chunks(run).map(|r| fold(sum_run(r)) as u64).sum()
}

/// Shortest slice worth the wide (AVX2) loop: below it the portable loop's
/// set-up is cheaper than checking for the CPU feature.
#[cfg(target_arch = "x86_64")]
const WIDE_MIN: usize = 128;

/// Native-order accumulation of at most [`MAX_RUN`] bytes: on x86-64 CPUs
/// with AVX2 (checked once at run time) the same loop compiled for 256-bit
/// vectors, elsewhere the portable one. Both give the same value.
#[inline]
fn sum_run(data: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if data.len() >= WIDE_MIN {
        if let Some(sum) = wide::sum_run(data) {
            return sum;
        }
    }
    sum_run_portable(data)
}

/// Native-order accumulation of at most [`MAX_RUN`] bytes: two halves of
/// whole 64-bit words summed side by side (wrapping word sum `S` and exact
/// high-half sum `H`, see the module docs), then the fewer than 16 bytes left.
/// Plain Rust that the loop vectoriser widens to the vectors the caller's
/// target features allow (SSE2 by default, AVX2 in [`wide`]).
#[inline(always)]
fn sum_run_portable(data: &[u8]) -> u64 {
    debug_assert!(data.len() <= MAX_RUN);
    if data.len() < 16 {
        return sum_short(data);
    }
    let half = data.len() / 16 * 8;
    let (halves, rest) = data.split_at(2 * half);
    let (first, second) = halves.split_at(half);
    // `wrapped` is S = Σw mod 2^64, `high` is H = Σ(w >> 32), exact.
    let mut wrapped: u64 = 0;
    let mut high: u64 = 0;
    for (x, y) in first.chunks_exact(8).zip(second.chunks_exact(8)) {
        let (x, y) = (ne_u64(x), ne_u64(y));
        wrapped = wrapped.wrapping_add(x).wrapping_add(y);
        high += (x >> 32) + (y >> 32);
    }
    // L = Σ(w & 0xffff_ffff) = S - 2^32·H, exact since L < 2^61.
    let low = wrapped.wrapping_sub(high << 32);
    low + high + sum_short(rest)
}

/// Native-order accumulation of fewer than 16 bytes (below `2^34`).
#[inline]
fn sum_short(mut data: &[u8]) -> u64 {
    debug_assert!(data.len() < 16);
    let mut acc: u64 = 0;
    if let Some((word, rest)) = data.split_first_chunk::<8>() {
        let w = u64::from_ne_bytes(*word);
        acc += (w & 0xffff_ffff) + (w >> 32);
        data = rest;
    }
    if let Some((word, rest)) = data.split_first_chunk::<4>() {
        acc += u32::from_ne_bytes(*word) as u64;
        data = rest;
    }
    if let Some((pair, rest)) = data.split_first_chunk::<2>() {
        acc += u16::from_ne_bytes(*pair) as u64;
        data = rest;
    }
    if let [last] = data {
        // Virtual zero byte after the last one.
        acc += u16::from_ne_bytes([*last, 0]) as u64;
    }
    acc
}

/// The native-order 64-bit word in the eight bytes of `bytes`.
#[inline(always)]
fn ne_u64(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(bytes);
    u64::from_ne_bytes(word)
}

/// Ones' complement sum of `data` (virtual zero padding at an odd end), as a
/// big-endian-ordered 16-bit partial sum.
#[inline]
pub fn ones_sum(data: &[u8]) -> u16 {
    u16::from_be(fold(accumulate_native(data)))
}

/// [`ones_sum`] of fewer than 16 bytes (more give `None`): the ragged
/// edge of a [`PrefixSums`](crate::prefix_sum::PrefixSums) lookup, without
/// the length tests that pick a loop for longer slices.
#[inline]
pub(crate) fn ones_sum_short(data: &[u8]) -> Option<u16> {
    (data.len() < 16).then(|| u16::from_be(fold(sum_short(data))))
}

/// The Internet checksum of `data`: the complement of its ones' complement sum.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !ones_sum(data)
}

/// Ones' complement sum of the IPv4 pseudo-header used by TCP and UDP.
pub fn pseudo_header_sum(src: [u8; 4], dst: [u8; 4], protocol: u8, length: u16) -> u16 {
    let acc = u16::from_be_bytes([src[0], src[1]]) as u64
        + u16::from_be_bytes([src[2], src[3]]) as u64
        + u16::from_be_bytes([dst[0], dst[1]]) as u64
        + u16::from_be_bytes([dst[2], dst[3]]) as u64
        + protocol as u64
        + length as u64;
    fold(acc)
}

/// Incremental checksum update (RFC 1624, eqn. 3): the checksum field
/// `old_checksum` of a header in which the 16-bit word `old` became `new`.
///
/// Given a checksum as a recompute gives it (RFC 1071), the result is what
/// a recompute of the changed data gives, except when the changed data is
/// all zero words: then a recompute gives `0xffff` (the only form a
/// receiver accepts over all-zero data) and eqn. 3 gives `0x0000`. A
/// caller whose data can become all zeros checks for it
/// ([`Interface`](crate::iface::Interface)'s echo replies do). Everywhere
/// else the two forms of ones' complement zero must not be mixed up: over
/// data that sums to `0xffff`, a recompute (and etherparse) gives `0x0000`.
#[inline]
pub const fn update(old_checksum: u16, old: u16, new: u16) -> u16 {
    !add(add(!old_checksum, !old), new)
}

/// A running ones' complement sum over a byte stream fed in pieces of any
/// length, such as the buffers of a chained frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checksum {
    sum: u64,
    odd: bool,
}

impl Checksum {
    /// An empty sum at stream position zero.
    pub const fn new() -> Self {
        Checksum { sum: 0, odd: false }
    }

    /// Adds the next bytes of the stream.
    #[inline]
    pub fn add_bytes(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.add_partial(ones_sum(data), data.len());
    }

    /// Adds the partial sum of the next `len` bytes of the stream, computed
    /// elsewhere (for example from a precomputed table) as if those bytes
    /// started at an even position.
    #[inline]
    pub fn add_partial(&mut self, sum: u16, len: usize) {
        let sum = if self.odd { sum.swap_bytes() } else { sum };
        self.sum += sum as u64;
        if len % 2 == 1 {
            self.odd = !self.odd;
        }
    }

    /// Adds a big-endian 16-bit word at an even position (header fields).
    #[inline]
    pub fn add_u16(&mut self, word: u16) {
        self.add_partial(word, 2);
    }

    /// Number of bytes added so far is odd.
    pub const fn is_odd(&self) -> bool {
        self.odd
    }

    /// The 16-bit ones' complement sum of everything added.
    #[inline]
    pub const fn sum(&self) -> u16 {
        fold(self.sum)
    }

    /// The checksum field value: the complement of the sum.
    #[inline]
    pub const fn finish(&self) -> u16 {
        !self.sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 1071 as written: 16-bit big-endian words, carry folded each step.
    fn naive_sum(data: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        for pair in data.chunks(2) {
            let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            sum += word as u32;
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(ones_sum(&data), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn ipv4_header_checksum_verifies_to_zero() {
        let header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&header), 0);
    }

    /// Sums `data` in pieces cut at `cuts` (sorted, each at most `data.len()`).
    fn chained_sum(data: &[u8], cuts: &[usize]) -> u16 {
        let mut acc = Checksum::new();
        let mut prev = 0;
        for &cut in cuts.iter().chain([&data.len()]) {
            acc.add_bytes(&data[prev..cut]);
            prev = cut;
        }
        acc.sum()
    }

    /// Deterministic bytes with every value and no short period.
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
    fn every_short_length_at_every_alignment_is_exact() {
        // The fast sum is bit-identical to the naive loop (no 0/0xffff
        // normalisation): both give 0 exactly for all-zero data.
        let random = pseudo_random(300, 11);
        let ones = vec![0xffu8; 300];
        let zeros = vec![0u8; 300];
        for buf in [&random, &ones, &zeros] {
            for offset in 0..16 {
                for len in 0..=buf.len() - offset {
                    let s = &buf[offset..offset + len];
                    assert_eq!(ones_sum(s), naive_sum(s), "offset={offset} len={len}");
                }
            }
        }
    }

    #[test]
    fn all_ones_sums() {
        // Maximum carries: every word is 0xffff (the non-zero form of zero);
        // an odd end adds 0xff00.
        assert_eq!(ones_sum(&[]), 0);
        assert_eq!(ones_sum(&[0xff]), 0xff00);
        for len in [2usize, 64, 1460, 65_536, 1 << 20] {
            let data = vec![0xffu8; len + 1];
            assert_eq!(ones_sum(&data[..len]), 0xffff, "len={len}");
            assert_eq!(ones_sum(&data[1..]), 0xffff, "len={len}");
            assert_eq!(ones_sum(&data), 0xff00, "len={}", len + 1);
            assert_eq!(ones_sum(&data), naive_sum(&data), "len={}", len + 1);
        }
    }

    #[test]
    fn zero_data_sums_to_zero_and_nonzero_never_does() {
        assert_eq!(ones_sum(&[0u8; 4096]), 0);
        // 0x0001 + 0xfffe is 0xffff, the non-zero form of zero.
        assert_eq!(ones_sum(&[0x00, 0x01, 0xff, 0xfe]), 0xffff);
        let mut data = vec![0u8; 4096];
        data[4095] = 1;
        assert_eq!(ones_sum(&data), 0x0001);
    }

    #[test]
    fn runs_split_like_one_pass() {
        // The path for slices over `MAX_RUN` bytes, with small runs.
        let data = pseudo_random(5000, 3);
        for run in [2usize, 16, 18, 64, 1460, 4096] {
            for len in [0usize, 1, 2, 17, 999, 5000] {
                let s = &data[..len];
                assert_eq!(
                    fold(sum_runs(s, run)),
                    fold(accumulate_native(s)),
                    "run={run} len={len}"
                );
            }
        }
        const { assert!(MAX_RUN.is_multiple_of(2) && MAX_RUN as u64 <= 1 << 32) };
    }

    proptest! {
        #[test]
        fn short_sums_agree_with_ones_sum(data in proptest::collection::vec(any::<u8>(), 0..24)) {
            let expected = (data.len() < 16).then(|| ones_sum(&data));
            prop_assert_eq!(ones_sum_short(&data), expected);
        }
    }

    proptest! {
        #[test]
        fn random_slices_at_random_offsets_match_naive(
            data in proptest::collection::vec(any::<u8>(), 0..10_064),
            a in any::<usize>(),
            b in any::<usize>(),
        ) {
            // A slice anywhere inside a larger buffer: every alignment of
            // its start and end relative to the allocation.
            let offset = a % (data.len() + 1);
            let len = b % (data.len() - offset + 1);
            let s = &data[offset..offset + len];
            prop_assert_eq!(ones_sum(s), naive_sum(s));
        }

        #[test]
        fn lengths_up_to_10000_match_naive(len in 0usize..=10_000, seed in any::<u32>(),
                                           offset in 0usize..64) {
            let data = pseudo_random(offset + len, seed);
            let s = &data[offset..];
            prop_assert_eq!(ones_sum(s), naive_sum(s));
            prop_assert_eq!(checksum(s), !naive_sum(s));
        }

        #[test]
        fn all_ones_match_naive(len in 0usize..=10_000, offset in 0usize..64) {
            let data = vec![0xffu8; offset + len];
            let s = &data[offset..];
            let want = match len {
                0 => 0,
                n if n % 2 == 1 => 0xff00,
                _ => 0xffff,
            };
            prop_assert_eq!(naive_sum(s), want);
            prop_assert_eq!(ones_sum(s), want);
            let mut acc = Checksum::new();
            acc.add_bytes(&s[..len / 3]);
            acc.add_bytes(&s[len / 3..]);
            prop_assert_eq!(acc.sum(), want);
        }

        #[test]
        fn random_splits_match_naive(data in proptest::collection::vec(any::<u8>(), 0..=10_000),
                                     cuts in proptest::collection::vec(any::<usize>(), 0..8),
                                     offset in 0usize..16) {
            // 1..=8 pieces of any (often odd) lengths, from any alignment.
            let offset = offset.min(data.len());
            let s = &data[offset..];
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (s.len() + 1)).collect();
            cuts.sort_unstable();
            // Chained sums of `add_bytes` pieces are exact too: each piece is
            // zero only when all its bytes are.
            prop_assert_eq!(chained_sum(s, &cuts), naive_sum(s));
            prop_assert_eq!(chained_sum(s, &cuts), ones_sum(s));
        }

        #[test]
        fn odd_length_pieces_match_naive(lens in proptest::collection::vec(0usize..1500, 1..=8),
                                         seed in any::<u32>(), offset in 0usize..16,
                                         ff in any::<bool>()) {
            // Every piece has an odd length, so the stream parity flips at
            // each piece: pieces alternately start at odd and even positions.
            let lens: Vec<usize> = lens.into_iter().map(|l| 2 * l + 1).collect();
            let total: usize = lens.iter().sum();
            let data = if ff {
                vec![0xffu8; offset + total]
            } else {
                pseudo_random(offset + total, seed)
            };
            let s = &data[offset..];
            let cuts: Vec<usize> = lens
                .iter()
                .scan(0, |end, l| {
                    *end += l;
                    Some(*end)
                })
                .take(lens.len() - 1)
                .collect();
            let mut acc = Checksum::new();
            let mut prev = 0;
            for &cut in cuts.iter().chain([&s.len()]) {
                acc.add_bytes(&s[prev..cut]);
                prev = cut;
            }
            prop_assert_eq!(acc.is_odd(), lens.len() % 2 == 1);
            prop_assert_eq!(acc.sum(), naive_sum(s));
            prop_assert_eq!(acc.finish(), !naive_sum(s));
        }

        #[test]
        fn runs_match_naive(data in proptest::collection::vec(any::<u8>(), 0..3000),
                            run in 1usize..200) {
            let run = 2 * run;
            prop_assert_eq!(u16::from_be(fold(sum_runs(&data, run))), naive_sum(&data));
        }
    }

    proptest! {
        #[test]
        fn fast_sum_matches_naive(data in proptest::collection::vec(any::<u8>(), 0..2000), start in 0usize..8) {
            let start = start.min(data.len());
            // Unaligned sub-slices exercise every alignment.
            // 0x0000 and 0xffff are the same ones' complement value.
            let norm = |s: u16| if s == 0xffff { 0 } else { s };
            prop_assert_eq!(norm(ones_sum(&data[start..])), norm(naive_sum(&data[start..])));
        }

        #[test]
        fn chained_pieces_match_whole(data in proptest::collection::vec(any::<u8>(), 0..3000),
                                      cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (data.len() + 1)).collect();
            cuts.sort_unstable();
            let mut acc = Checksum::new();
            let mut prev = 0;
            for cut in cuts.into_iter().chain([data.len()]) {
                acc.add_bytes(&data[prev..cut]);
                prev = cut;
            }
            // 0x0000 and 0xffff are the same ones' complement value.
            let norm = |s: u16| if s == 0xffff { 0 } else { s };
            prop_assert_eq!(norm(acc.sum()), norm(naive_sum(&data)));
        }

        #[test]
        fn incremental_update_matches_recompute(mut data in proptest::collection::vec(any::<u8>(), 2..200),
                                                word_index in any::<usize>(), new in any::<u16>()) {
            let words = data.len() / 2;
            let i = (word_index % words) * 2;
            let before = checksum(&data);
            let old = u16::from_be_bytes([data[i], data[i + 1]]);
            data[i..i + 2].copy_from_slice(&new.to_be_bytes());
            let after = checksum(&data);
            let updated = update(before, old, new);
            if data.iter().all(|&b| b == 0) {
                // The one case eqn. 3 cannot tell (see `update`).
                prop_assert_eq!((updated, after), (0x0000, 0xffff));
            } else {
                // Exactly the recompute's form, not just the same value.
                prop_assert_eq!(updated, after);
            }
        }
    }

    #[test]
    fn an_update_gives_the_recompute_s_form_of_zero() {
        // Data that sums to 0xffff: the checksum is 0x0000, as RFC 1071's
        // recompute (and etherparse) has it, not the other zero 0xffff.
        let mut data = [0x08u8, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00];
        let before = checksum(&data);
        data[0] = 0;
        assert_eq!(checksum(&data), 0x0000);
        assert_eq!(update(before, 0x0800, 0x0000), 0x0000);
        // All-zero data: eqn. 3 says 0x0000, a recompute 0xffff (see
        // `update`; the echo reply path corrects it).
        let request = [0x08u8, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(checksum(&[0u8; 8]), 0xffff);
        assert_eq!(update(checksum(&request), 0x0800, 0x0000), 0x0000);
    }
}
