//! The sender's SACK scoreboard and the RFC 6675 routines over it:
//! Update(), IsLost(), SetPipe() and NextSeg().
//!
//! A [`Scoreboard`] remembers which bytes between SND.UNA and SND.MAX the
//! peer has selectively acknowledged, as at most [`MAX_SACKED_RANGES`]
//! disjoint, non-adjacent ranges sorted in sequence space. Sequence numbers
//! are compared relative to SND.UNA, so everything works across the 2³²
//! wrap as long as less than 2³¹ bytes are outstanding.
//!
//! # Who keeps what
//!
//! The scoreboard holds only the SACKed ranges. The TCB keeps RFC 6675's
//! other variables and passes them in, in the stack's half-open
//! convention (an "end" is one past the last byte):
//!
//! * `snd_una` — SND.UNA, RFC 6675's HighACK + 1;
//! * `snd_max` — one past the highest byte ever sent, HighData + 1;
//! * `high_rxt` — one past the highest byte retransmitted in the current
//!   recovery (HighRxt + 1); `snd_una` when there is none (outside
//!   recovery, RFC 6675 §5 (3.1));
//! * `rescue_rxt` — RescueRxt + 1, or `None` when undefined;
//! * the RecoveryPoint is
//!   [`Congestion::recover`](super::congestion::Congestion::recover).
//!
//! After sending what [`Scoreboard::next_seg`] chose ([`NextSeg`]):
//! rules 1 and 3 ([`NextSegKind::Lost`], [`NextSegKind::Unsacked`]) set
//! `high_rxt = seg.end()`; rule 2 ([`NextSegKind::NewData`]) advances
//! SND.MAX; rule 4 ([`NextSegKind::Rescue`]) sets
//! `rescue_rxt = Some(recovery point)` and leaves `high_rxt` alone. The
//! fast retransmission that starts recovery (RFC 6675 (4.3)) sets both
//! `high_rxt` and `rescue_rxt` to the end of the retransmitted segment.
//!
//! Call [`Scoreboard::update`] on every ACK, with or without SACK blocks,
//! after advancing SND.UNA, so that acknowledged ranges are dropped. After
//! an RTO, RFC 2018 says to forget SACK information (the receiver may have
//! reneged) while RFC 6675 §5.1 lets the sender keep using it; calling
//! [`Scoreboard::clear`] there is the conservative choice.
//!
//! ```
//! use rusty_stack::tcp::scoreboard::{NextSegKind, Scoreboard};
//! use rusty_stack::wire::tcp::TcpSeqNumber;
//!
//! const SMSS: u32 = 1000;
//! let una = TcpSeqNumber(u32::MAX - 1999); // the window wraps
//! let max = una + 10_000;
//! let mut sb = Scoreboard::new();
//! // The first segment was lost; the next three arrived.
//! assert!(sb.update(una, max, &[(una + 1000, una + 4000)]));
//! assert_eq!(sb.sacked_bytes(), 3000);
//! assert!(sb.is_lost(una, SMSS)); // 3000 > (3 - 1) * SMSS bytes above it
//! // SetPipe(): the lost segment does not count, the six unSACKed after
//! // the SACKed ones do.
//! assert_eq!(sb.pipe(una, max, una, SMSS), 6000);
//! // NextSeg() picks the lost segment first.
//! let seg = sb.next_seg(una, max, una, None, SMSS, 0).unwrap();
//! assert_eq!((seg.seq, seg.len, seg.kind), (una, 1000, NextSegKind::Lost));
//! // Once it is retransmitted it counts twice... until its ACK arrives.
//! assert_eq!(sb.pipe(una, max, seg.end(), SMSS), 7000);
//! ```

use arrayvec::ArrayVec;

use super::congestion::DUP_THRESH;
use crate::wire::tcp::TcpSeqNumber;

/// How many disjoint SACKed ranges a [`Scoreboard`] remembers.
pub const MAX_SACKED_RANGES: usize = 16;

/// The most SACK blocks one TCP header can carry (RFC 2018: four, three
/// alongside timestamps). [`Scoreboard::update`] treats blocks in groups
/// of this size.
pub const MAX_SACK_BLOCKS: usize = 4;

/// Room for the ranges plus one group of blocks while merging.
const WORK_CAPACITY: usize = MAX_SACKED_RANGES + MAX_SACK_BLOCKS;

/// Ranges as offsets from SND.UNA, half-open, sorted, disjoint and
/// non-adjacent.
type Offsets<const N: usize> = ArrayVec<(u32, u32), N>;

/// Which NextSeg() rule (RFC 6675 §4) chose a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NextSegKind {
    /// Rule 1: an unSACKed segment above HighRxt that IsLost() — a
    /// retransmission.
    Lost,
    /// Rule 2: previously unsent data at SND.MAX.
    NewData,
    /// Rule 3: an unSACKed segment above HighRxt below the highest SACKed
    /// byte, not (yet) deemed lost — a retransmission.
    Unsacked,
    /// Rule 4: the rescue retransmission of the highest unSACKed data.
    Rescue,
}

/// A segment chosen by [`Scoreboard::next_seg`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NextSeg {
    /// The first sequence number to send.
    pub seq: TcpSeqNumber,
    /// How many bytes to send: at most SMSS, and for retransmissions never
    /// into SACKed data.
    pub len: u32,
    /// The rule that chose it, which says what to update after sending
    /// (see the [module documentation](self)).
    pub kind: NextSegKind,
}

impl NextSeg {
    /// One past the last sequence number of the segment.
    pub fn end(&self) -> TcpSeqNumber {
        self.seq + self.len as usize
    }
}

/// The SACKed ranges above SND.UNA (see the [module documentation](self)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scoreboard {
    /// Half-open, sorted from SND.UNA up, disjoint and non-adjacent.
    ranges: ArrayVec<(TcpSeqNumber, TcpSeqNumber), MAX_SACKED_RANGES>,
}

impl Scoreboard {
    /// An empty scoreboard.
    pub fn new() -> Self {
        Scoreboard {
            ranges: ArrayVec::new_const(),
        }
    }

    /// RFC 6675's Update(): records the SACK `blocks` of an ACK (each
    /// `(left edge, right edge)`, the right edge exclusive as on the wire)
    /// and forgets SACKed data below `snd_una`. Returns whether any block
    /// covered a byte that was not SACKed before (RFC 6675's duplicate ACK
    /// test in SACK mode).
    ///
    /// Blocks are ignored unless `snd_una < left < right <= snd_max`, which
    /// drops D-SACK blocks (RFC 2883) and stale or bogus ones. Ranges that
    /// overlap or touch are merged.
    ///
    /// When more than [`MAX_SACKED_RANGES`] disjoint ranges would result,
    /// the ranges nearest `snd_una` are kept and the highest forgotten:
    /// losses are repaired from the bottom of the window, and forgotten
    /// data only looks un-SACKed, so the worst outcome is an unneeded
    /// retransmission. The cut is made after each group of
    /// [`MAX_SACK_BLOCKS`] blocks (one ACK's worth), so the result does not
    /// depend on the order of the blocks within an ACK.
    pub fn update(
        &mut self,
        snd_una: TcpSeqNumber,
        snd_max: TcpSeqNumber,
        blocks: &[(TcpSeqNumber, TcpSeqNumber)],
    ) -> bool {
        let window = window(snd_una, snd_max);
        let mut work: Offsets<WORK_CAPACITY> = self.offsets(snd_una, snd_max).into_iter().collect();
        let mut new = false;
        for group in blocks.chunks(MAX_SACK_BLOCKS) {
            for &(left, right) in group {
                let lo = left.0.wrapping_sub(snd_una.0);
                let hi = right.0.wrapping_sub(snd_una.0);
                if 0 < lo && lo < hi && hi <= window {
                    new |= insert(&mut work, lo, hi);
                }
            }
            work.truncate(MAX_SACKED_RANGES);
        }
        self.ranges = work
            .iter()
            .map(|&(s, e)| (snd_una + s as usize, snd_una + e as usize))
            .collect();
        new
    }

    /// Forgets all SACK information.
    pub fn clear(&mut self) {
        self.ranges.clear();
    }

    /// Whether nothing is SACKed.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The SACKed ranges, half-open, sorted upwards from SND.UNA as of the
    /// last [`update`](Scoreboard::update).
    pub fn ranges(&self) -> &[(TcpSeqNumber, TcpSeqNumber)] {
        &self.ranges
    }

    /// Whether the byte `seq` is SACKed.
    pub fn is_sacked(&self, seq: TcpSeqNumber) -> bool {
        self.ranges
            .iter()
            .any(|&(start, end)| seq.diff(start) >= 0 && seq.diff(end) < 0)
    }

    /// How many bytes are SACKed (as of the last
    /// [`update`](Scoreboard::update)).
    pub fn sacked_bytes(&self) -> u32 {
        self.ranges
            .iter()
            .map(|&(start, end)| end.0.wrapping_sub(start.0))
            .fold(0, u32::saturating_add)
    }

    /// One past the highest SACKed byte, if any.
    pub fn highest_sacked(&self) -> Option<TcpSeqNumber> {
        self.ranges.last().map(|&(_, end)| end)
    }

    /// RFC 6675's IsLost(seq): whether at least [`DUP_THRESH`]
    /// discontiguous SACKed ranges lie above `seq`, or more than
    /// `(DUP_THRESH - 1) · smss` SACKed bytes do. (RFC 6675 says "more
    /// than", so exactly two SMSS of SACKed data is not enough.)
    pub fn is_lost(&self, seq: TcpSeqNumber, smss: u32) -> bool {
        let mut ranges = 0;
        let mut bytes = 0u64;
        for &(start, end) in &self.ranges {
            // Offsets of the range from `seq`; only bytes above it count.
            let lo = i64::from(start.diff(seq)).max(1);
            let hi = i64::from(end.diff(seq));
            if hi > lo {
                ranges += 1;
                bytes += (hi - lo) as u64;
            }
        }
        lost(ranges, bytes, smss)
    }

    /// RFC 6675's SetPipe(): the bytes presumed in the network. Every
    /// un-SACKed byte in `[snd_una, snd_max)` counts once if it is not
    /// lost (IsLost()) and once more if it was retransmitted (below
    /// `high_rxt`).
    pub fn pipe(
        &self,
        snd_una: TcpSeqNumber,
        snd_max: TcpSeqNumber,
        high_rxt: TcpSeqNumber,
        smss: u32,
    ) -> u32 {
        let window = window(snd_una, snd_max);
        let high_rxt = offset_in(snd_una, high_rxt, window);
        let ranges = self.offsets(snd_una, snd_max);
        // Every byte of a hole has the same ranges above it, so a hole is
        // lost or not as a whole. Walk down from the top.
        let mut pipe = 0u64;
        let mut hole_end = window;
        let (mut above, mut bytes_above) = (0, 0u64);
        for &(start, end) in ranges.iter().rev() {
            pipe += hole_pipe(end, hole_end, lost(above, bytes_above, smss), high_rxt);
            above += 1;
            bytes_above += u64::from(end - start);
            hole_end = start;
        }
        pipe += hole_pipe(0, hole_end, lost(above, bytes_above, smss), high_rxt);
        u32::try_from(pipe).unwrap_or(u32::MAX)
    }

    /// RFC 6675's NextSeg(): the next segment to send during SACK loss
    /// recovery (or `None`), by the first rule that applies:
    ///
    /// 1. the lowest un-SACKed data at or above `high_rxt` and below the
    ///    highest SACKed byte, if IsLost() — a retransmission;
    /// 2. new data at `snd_max`, if `sendable_new` (unsent bytes that the
    ///    send buffer holds and the peer's window allows) is not zero;
    /// 3. the same data as rule 1 even if not deemed lost;
    /// 4. a rescue retransmission of (up to) the last SMSS of the highest
    ///    un-SACKed data, if `rescue_rxt` is `None` or below `snd_una`.
    ///
    /// Retransmissions are at most `smss` bytes and stop at the next SACKed
    /// range; new data is at most `min(smss, sendable_new)` bytes. See the
    /// [module documentation](self) for the variables and what to update
    /// after sending.
    pub fn next_seg(
        &self,
        snd_una: TcpSeqNumber,
        snd_max: TcpSeqNumber,
        high_rxt: TcpSeqNumber,
        rescue_rxt: Option<TcpSeqNumber>,
        smss: u32,
        sendable_new: u32,
    ) -> Option<NextSeg> {
        let window = window(snd_una, snd_max);
        let high_rxt = offset_in(snd_una, high_rxt, window);
        let ranges = self.offsets(snd_una, snd_max);
        let seg = |start: u32, end: u32, kind| NextSeg {
            seq: snd_una + start as usize,
            len: (end - start).min(smss),
            kind,
        };

        // The lowest un-SACKed byte at or above HighRxt below the highest
        // SACKed byte, the end of its hole and the index of the range above.
        let mut candidate = None;
        let mut from = high_rxt;
        for (i, &(start, end)) in ranges.iter().enumerate() {
            if end <= from {
                continue;
            }
            if start <= from {
                from = end; // inside a SACKed range: skip it
                continue;
            }
            candidate = Some((from, start, i));
            break;
        }

        if let Some((start, end, i)) = candidate {
            let above = &ranges[i..];
            let bytes = above.iter().map(|&(s, e)| u64::from(e - s)).sum();
            if lost(above.len(), bytes, smss) {
                return Some(seg(start, end, NextSegKind::Lost));
            }
        }
        if sendable_new > 0 {
            return Some(NextSeg {
                seq: snd_max,
                len: sendable_new.min(smss),
                kind: NextSegKind::NewData,
            });
        }
        if let Some((start, end, _)) = candidate {
            return Some(seg(start, end, NextSegKind::Unsacked));
        }
        let rescue_allowed = rescue_rxt.is_none_or(|r| snd_una.diff(r) > 0);
        if !rescue_allowed {
            return None;
        }
        // The highest hole: below the top range if that reaches SND.MAX,
        // else between the top range (or SND.UNA) and SND.MAX.
        let (lower, upper) = match ranges.last() {
            Some(&(start, end)) if end == window => {
                let below = ranges.len().checked_sub(2).map_or(0, |i| ranges[i].1);
                (below, start)
            }
            Some(&(_, end)) => (end, window),
            None => (0, window),
        };
        (lower < upper).then(|| {
            let start = upper.saturating_sub(smss).max(lower);
            seg(start, upper, NextSegKind::Rescue)
        })
    }

    /// The ranges clipped to `[snd_una, snd_max)`, as offsets from
    /// `snd_una`.
    fn offsets(&self, snd_una: TcpSeqNumber, snd_max: TcpSeqNumber) -> Offsets<MAX_SACKED_RANGES> {
        let window = i64::from(window(snd_una, snd_max));
        self.ranges
            .iter()
            .filter_map(|&(start, end)| {
                let s = i64::from(start.diff(snd_una)).max(0);
                let e = i64::from(end.diff(snd_una)).min(window);
                // Both lie in [0, window] here, and window < 2^31.
                (s < e).then_some((s as u32, e as u32))
            })
            .collect()
    }
}

/// The bytes outstanding, or zero if `snd_max` is not after `snd_una`.
fn window(snd_una: TcpSeqNumber, snd_max: TcpSeqNumber) -> u32 {
    // A positive i32 fits in u32.
    snd_max.diff(snd_una).max(0) as u32
}

/// The offset of `seq` from `snd_una`, clamped to `[0, window]`.
fn offset_in(snd_una: TcpSeqNumber, seq: TcpSeqNumber, window: u32) -> u32 {
    // Non-negative after `max`, so the cast is lossless.
    (seq.diff(snd_una).max(0) as u32).min(window)
}

/// IsLost() from the SACKed ranges and bytes above a sequence number.
fn lost(ranges_above: usize, bytes_above: u64, smss: u32) -> bool {
    ranges_above >= DUP_THRESH as usize || bytes_above > u64::from(DUP_THRESH - 1) * u64::from(smss)
}

/// SetPipe()'s count for the hole `[start, end)`.
fn hole_pipe(start: u32, end: u32, lost: bool, high_rxt: u32) -> u64 {
    let in_network = if lost { 0 } else { end - start };
    let retransmitted = end.min(high_rxt).saturating_sub(start);
    u64::from(in_network) + u64::from(retransmitted)
}

/// Merges `[lo, hi)` into `ranges`; returns whether it added a byte.
fn insert<const N: usize>(ranges: &mut Offsets<N>, lo: u32, hi: u32) -> bool {
    // Ranges [first, last) overlap or touch [lo, hi).
    let first = ranges
        .iter()
        .position(|&(_, e)| e >= lo)
        .unwrap_or(ranges.len());
    let last = first
        + ranges[first..]
            .iter()
            .position(|&(s, _)| s > hi)
            .unwrap_or(ranges.len() - first);
    if first < last {
        let (s, e) = ranges[first];
        if s <= lo && hi <= e {
            return false; // already SACKed (merged ranges never touch)
        }
    }
    let merged = if first < last {
        (ranges[first].0.min(lo), ranges[last - 1].1.max(hi))
    } else {
        (lo, hi)
    };
    ranges.drain(first..last);
    // The caller truncates to MAX_SACKED_RANGES after each group of at most
    // MAX_SACK_BLOCKS insertions, so there is always room.
    let inserted = ranges.try_insert(first, merged);
    debug_assert!(inserted.is_ok());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMSS: u32 = 1000;

    /// Ranges as offsets, for tables.
    type Ranges = &'static [(u32, u32)];

    /// Bases to test at: the start, and just below the 2^32 wrap.
    const BASES: [u32; 3] = [0, u32::MAX - 4999, u32::MAX];

    fn at(base: u32, off: u32) -> TcpSeqNumber {
        TcpSeqNumber(base) + off as usize
    }

    /// The ranges as offsets from `base`.
    fn offs(sb: &Scoreboard, base: u32) -> Vec<(u32, u32)> {
        sb.ranges()
            .iter()
            .map(|&(s, e)| (s.0.wrapping_sub(base), e.0.wrapping_sub(base)))
            .collect()
    }

    /// A scoreboard at `base` with SND.MAX at `base + 10_000` and the
    /// given SACKed offsets.
    fn board(base: u32, blocks: &[(u32, u32)]) -> Scoreboard {
        let mut sb = Scoreboard::new();
        let blocks: Vec<_> = blocks
            .iter()
            .map(|&(l, r)| (at(base, l), at(base, r)))
            .collect();
        sb.update(at(base, 0), at(base, 10_000), &blocks);
        sb
    }

    #[test]
    fn update_merges_overlaps_and_neighbours() {
        // (blocks in one ACK, resulting ranges), starting from [3000, 4000).
        let table: &[(Ranges, Ranges, bool)] = &[
            (&[(3200, 3800)], &[(3000, 4000)], false),
            (&[(3000, 4000)], &[(3000, 4000)], false),
            (&[(4000, 5000)], &[(3000, 5000)], true),
            (&[(2000, 3000)], &[(2000, 4000)], true),
            (&[(2500, 4500)], &[(2500, 4500)], true),
            (
                &[(1000, 2000), (5000, 6000)],
                &[(1000, 2000), (3000, 4000), (5000, 6000)],
                true,
            ),
            (&[(1000, 2000), (2000, 3000)], &[(1000, 4000)], true),
            (
                &[(1000, 2000), (5000, 6000), (1500, 5500)],
                &[(1000, 6000)],
                true,
            ),
            (&[(3900, 4100), (4100, 4200)], &[(3000, 4200)], true),
        ];
        for base in BASES {
            for (i, &(blocks, expect, new)) in table.iter().enumerate() {
                let mut sb = board(base, &[(3000, 4000)]);
                let blocks: Vec<_> = blocks
                    .iter()
                    .map(|&(l, r)| (at(base, l), at(base, r)))
                    .collect();
                assert_eq!(
                    sb.update(at(base, 0), at(base, 10_000), &blocks),
                    new,
                    "case {i}"
                );
                assert_eq!(offs(&sb, base), expect, "case {i} at base {base}");
            }
        }
    }

    #[test]
    fn update_ignores_blocks_outside_the_window() {
        for base in BASES {
            let mut sb = Scoreboard::new();
            let una = at(base, 100);
            let max = at(base, 5000);
            let bad = [
                (at(base, 100), at(base, 500)),   // starts at SND.UNA
                (at(base, 0), at(base, 200)),     // D-SACK below SND.UNA
                (at(base, 4000), at(base, 5001)), // beyond SND.MAX
                (at(base, 600), at(base, 600)),   // empty
                (at(base, 700), at(base, 650)),   // reversed
                (
                    at(base, 200),
                    TcpSeqNumber(base.wrapping_add(100 + (1 << 31))),
                ),
            ];
            assert!(!sb.update(una, max, &bad));
            assert!(sb.is_empty());
            assert!(sb.update(una, max, &[(at(base, 4000), at(base, 5000))]));
            assert_eq!(offs(&sb, base), [(4000, 5000)]);
            // Nothing outstanding: nothing can be SACKed.
            assert!(!sb.update(max, max, &[(at(base, 5000), at(base, 5001))]));
            assert!(sb.is_empty(), "ranges below SND.UNA are dropped");
        }
    }

    #[test]
    fn update_drops_and_trims_below_snd_una() {
        for base in BASES {
            let mut sb = board(base, &[(1000, 2000), (3000, 4000), (5000, 6000)]);
            assert_eq!(sb.sacked_bytes(), 3000);
            // The cumulative ACK moves into the second range.
            assert!(!sb.update(at(base, 3500), at(base, 10_000), &[]));
            assert_eq!(offs(&sb, base), [(3500, 4000), (5000, 6000)]);
            assert_eq!(sb.sacked_bytes(), 1500);
            assert!(!sb.is_sacked(at(base, 1500)));
            assert!(sb.is_sacked(at(base, 3999)));
            assert!(!sb.is_sacked(at(base, 4000)));
            assert_eq!(sb.highest_sacked(), Some(at(base, 6000)));
            sb.clear();
            assert!(sb.is_empty());
            assert_eq!(sb.highest_sacked(), None);
        }
    }

    #[test]
    fn a_full_scoreboard_keeps_the_ranges_nearest_snd_una() {
        let base = u32::MAX - 100;
        let blocks: Vec<_> = (0..MAX_SACKED_RANGES as u32)
            .map(|i| (at(base, 100 + 100 * i), at(base, 150 + 100 * i)))
            .collect();
        let mut sb = Scoreboard::new();
        let (una, max) = (at(base, 0), at(base, 10_000));
        assert!(sb.update(una, max, &blocks));
        assert_eq!(sb.ranges().len(), MAX_SACKED_RANGES);
        let top = *sb.ranges().last().unwrap();
        // A new range above the top one is forgotten (but was new).
        assert!(sb.update(una, max, &[(at(base, 5000), at(base, 5100))]));
        assert_eq!(sb.ranges().last(), Some(&top));
        // A new range at the bottom pushes the top one out.
        assert!(sb.update(una, max, &[(at(base, 10), at(base, 20))]));
        assert_eq!(sb.ranges()[0], (at(base, 10), at(base, 20)));
        assert_eq!(sb.ranges().len(), MAX_SACKED_RANGES);
        assert_ne!(sb.ranges().last(), Some(&top));
        // Blocks that join two ranges make room within the same ACK, in
        // either order.
        for order in [[0, 1], [1, 0]] {
            let mut sb = board(base, &[]);
            sb.update(una, max, &blocks);
            let pair = [
                (at(base, 5000), at(base, 5100)),
                (at(base, 150), at(base, 200)),
            ];
            sb.update(una, max, &[pair[order[0]], pair[order[1]]]);
            assert_eq!(sb.ranges().len(), MAX_SACKED_RANGES);
            assert_eq!(sb.highest_sacked(), Some(at(base, 5100)), "{order:?}");
        }
    }

    #[test]
    fn is_lost_counts_ranges_and_bytes_above() {
        // (SACKed offsets, sequence number asked, lost?).
        let table: &[(Ranges, u32, bool)] = &[
            (&[(1000, 4000)], 0, true),  // 3 segments above
            (&[(1000, 3000)], 0, false), // exactly 2·SMSS: not more
            (&[(1000, 3001)], 0, true),  // more than 2·SMSS
            (&[(1000, 2000), (3000, 4000)], 0, false),
            (&[(1000, 1100), (2000, 2100), (3000, 3100)], 0, true), // 3 ranges
            (&[(1000, 1100), (2000, 2100), (3000, 3100)], 1500, false),
            (&[(1000, 4000)], 4000, false), // nothing above
            (&[(1000, 5000)], 2500, true),  // 2499 bytes above
            (&[(1000, 5000)], 3000, false), // 1999 bytes above
            (&[], 0, false),
        ];
        for base in BASES {
            for &(ranges, seq, lost) in table {
                let sb = board(base, ranges);
                assert_eq!(sb.is_lost(at(base, seq), SMSS), lost, "{ranges:?} at {seq}");
            }
        }
    }

    #[test]
    fn pipe_follows_set_pipe() {
        // Ten segments of 1000 bytes in flight. (SACKed, HighRxt, pipe).
        let table: &[(Ranges, u32, u32)] = &[
            (&[], 0, 10_000),
            (&[], 3000, 13_000),
            // Segment 0 lost, 1-3 SACKed: 0 is lost, 4-9 are in flight.
            (&[(1000, 4000)], 0, 6000),
            (&[(1000, 4000)], 1000, 7000),
            // Segment 0 not yet deemed lost.
            (&[(1000, 3000)], 0, 8000),
            // Segments 0 and 5 lost: 1000 bytes in flight above the SACKs.
            (&[(1000, 5000), (6000, 9000)], 0, 1000),
            (&[(1000, 5000), (6000, 9000)], 6000, 3000),
            (&[(1000, 5000), (6000, 9000)], 10_000, 4000),
            // Everything SACKed but the first segment.
            (&[(1000, 10_000)], 1000, 1000),
        ];
        for base in BASES {
            for &(ranges, high_rxt, pipe) in table {
                let sb = board(base, ranges);
                let got = sb.pipe(at(base, 0), at(base, 10_000), at(base, high_rxt), SMSS);
                assert_eq!(got, pipe, "{ranges:?}, HighRxt {high_rxt}");
            }
        }
    }

    #[test]
    fn next_seg_rules() {
        use NextSegKind::*;
        // (SACKed, HighRxt, RescueRxt, sendable new bytes, expected segment).
        type Case = (
            Ranges,
            u32,
            Option<u32>,
            u32,
            Option<(u32, u32, NextSegKind)>,
        );
        let two_holes: Ranges = &[(1000, 5000), (6000, 9000)];
        let table: &[Case] = &[
            // Rule 1: the lost segments, bottom up, above HighRxt.
            (two_holes, 0, None, 5000, Some((0, 1000, Lost))),
            (two_holes, 1000, None, 5000, Some((5000, 1000, Lost))),
            (two_holes, 500, None, 0, Some((500, 500, Lost))),
            // Rule 2: new data when nothing is lost.
            (two_holes, 6000, None, 5000, Some((10_000, 1000, NewData))),
            (two_holes, 6000, None, 300, Some((10_000, 300, NewData))),
            // Rule 4: the rescue of the highest un-SACKed data.
            (two_holes, 6000, None, 0, Some((9000, 1000, Rescue))),
            (two_holes, 6000, Some(10_000), 0, None),
            // Rule 3: an un-SACKed segment not (yet) lost, after new data.
            (
                &[(1000, 2000)],
                0,
                None,
                5000,
                Some((10_000, 1000, NewData)),
            ),
            (&[(1000, 2000)], 0, None, 0, Some((0, 1000, Unsacked))),
            (&[(1500, 2000)], 0, None, 0, Some((0, 1000, Unsacked))),
            (&[(500, 2000)], 0, None, 0, Some((0, 500, Unsacked))),
            // Rule 4 when the top range reaches SND.MAX: below it.
            (
                &[(1000, 2000), (9500, 10_000)],
                2000,
                None,
                0,
                Some((2000, 1000, Unsacked)),
            ),
            (
                &[(1000, 2000), (9500, 10_000)],
                9500,
                None,
                0,
                Some((8500, 1000, Rescue)),
            ),
            (&[(1000, 2000), (9200, 10_000)], 9200, Some(0), 0, None),
            (
                &[(8800, 9000), (9500, 10_000)],
                9500,
                None,
                0,
                Some((9000, 500, Rescue)),
            ),
            // Nothing SACKed: only new data or a rescue.
            (&[], 0, None, 0, Some((9000, 1000, Rescue))),
        ];
        for base in BASES {
            for (i, &(ranges, high_rxt, rescue, new, expect)) in table.iter().enumerate() {
                let sb = board(base, ranges);
                let got = sb.next_seg(
                    at(base, 0),
                    at(base, 10_000),
                    at(base, high_rxt),
                    rescue.map(|r| at(base, r)),
                    SMSS,
                    new,
                );
                let expect = expect.map(|(seq, len, kind)| NextSeg {
                    seq: at(base, seq),
                    len,
                    kind,
                });
                assert_eq!(got, expect, "case {i} at base {base}");
            }
        }
    }

    #[test]
    fn rescue_is_allowed_again_once_snd_una_passes_rescue_rxt() {
        let base = u32::MAX - 10;
        let sb = board(base, &[(3000, 4000)]);
        // RescueRxt + 1 = 2000: allowed only when SND.UNA is beyond it.
        let next = |una: u32| {
            sb.next_seg(
                at(base, una),
                at(base, 10_000),
                at(base, 4000),
                Some(at(base, 2000)),
                SMSS,
                0,
            )
        };
        assert_eq!(next(2000), None);
        assert_eq!(next(2001).map(|s| s.kind), Some(NextSegKind::Rescue));
    }
}
