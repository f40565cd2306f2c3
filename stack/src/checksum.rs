//! The Internet checksum (RFC 1071) and its helpers.
//!
//! * [`ones_sum`] sums any byte slice with a 64-bit accumulator: eight bytes
//!   per step in native byte order, carries collected in the upper bits and
//!   folded once at the end (RFC 1071 §2: the sum is byte-order independent,
//!   so the native sum only needs one final byte swap).
//! * [`Checksum`] chains slices of any length and alignment, so a sum can run
//!   across the buffers of a chained frame: a slice that starts at an odd
//!   position of the stream has its sum byte-swapped before it is added.
//! * [`update`] is the incremental update of RFC 1624.
//! * [`pseudo_header_sum`] is the TCP/UDP IPv4 pseudo-header.
//!
//! Sums are handled as "partial sums": `u16` ones' complement sums of some
//! bytes, in network (big-endian) word order, not yet complemented.

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

/// Native-order 64-bit accumulation of `data`; not folded, not swapped.
#[inline]
fn accumulate_native(data: &[u8]) -> u64 {
    // Each step adds two 32-bit halves (< 2^33 together); fold every 2^28
    // steps so the 64-bit accumulator can never overflow on any input size.
    const STEPS_BEFORE_FOLD: usize = 1 << 28;
    let mut acc: u64 = 0;
    let mut chunks = data.chunks_exact(8);
    let mut steps = 0usize;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_ne_bytes(word);
        acc += (w & 0xffff_ffff) + (w >> 32);
        steps += 1;
        if steps == STEPS_BEFORE_FOLD {
            acc = fold(acc) as u64;
            steps = 0;
        }
    }
    let rest = chunks.remainder();
    let mut pairs = rest.chunks_exact(2);
    for pair in &mut pairs {
        acc += u16::from_ne_bytes([pair[0], pair[1]]) as u64;
    }
    if let [last] = pairs.remainder() {
        // Virtual zero byte after the last one.
        acc += u16::from_ne_bytes([*last, 0]) as u64;
    }
    acc
}

/// Ones' complement sum of `data` (virtual zero padding at an odd end), as a
/// big-endian-ordered 16-bit partial sum.
#[inline]
pub fn ones_sum(data: &[u8]) -> u16 {
    u16::from_be(fold(accumulate_native(data)))
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
            let norm = |s: u16| if s == 0xffff { 0 } else { s };
            prop_assert_eq!(norm(update(before, old, new)), norm(after));
        }
    }
}
