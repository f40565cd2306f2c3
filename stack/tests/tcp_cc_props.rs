//! Property tests of the SACK scoreboard against a byte-level model of
//! RFC 6675, and invariants of the congestion controller under random
//! event sequences.

use std::collections::BTreeSet;

use proptest::prelude::*;
use rusty_stack::tcp::congestion::{Congestion, RecoveryMode};
use rusty_stack::tcp::scoreboard::{NextSeg, NextSegKind, Scoreboard, MAX_SACKED_RANGES};
use rusty_stack::wire::tcp::TcpSeqNumber;

/// The most bytes outstanding in the model.
const WINDOW: u64 = 100;

/// One ACK: how far SND.UNA and SND.MAX move, and SACK blocks given as
/// (offset from SND.UNA, possibly negative; length, possibly zero).
#[derive(Clone, Debug)]
struct Step {
    una_advance: u64,
    max_advance: u64,
    blocks: Vec<(i64, u64)>,
}

fn step() -> impl Strategy<Value = Step> {
    // SND.UNA mostly stays put, so that ranges pile up past the capacity.
    (
        prop_oneof![3 => Just(0u64), 1 => 0u64..12],
        0u64..30,
        prop::collection::vec(
            (
                -4i64..(WINDOW as i64 + 6),
                prop_oneof![3 => 1u64..3, 1 => 0u64..8],
            ),
            0..=4,
        ),
    )
        .prop_map(|(una_advance, max_advance, blocks)| Step {
            una_advance,
            max_advance,
            blocks,
        })
}

/// The SACKed bytes, as offsets from the base sequence number.
#[derive(Default)]
struct Model {
    sacked: BTreeSet<u64>,
}

impl Model {
    fn ranges(&self) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for &x in &self.sacked {
            match out.last_mut() {
                Some((_, end)) if *end == x => *end += 1,
                _ => out.push((x, x + 1)),
            }
        }
        out
    }

    fn update(&mut self, una: u64, max: u64, blocks: &[(u64, u64)]) -> bool {
        self.sacked.retain(|&x| una <= x && x < max);
        let mut new = false;
        for &(l, r) in blocks {
            if una < l && l < r && r <= max {
                for x in l..r {
                    new |= self.sacked.insert(x);
                }
            }
        }
        let ranges = self.ranges();
        if ranges.len() > MAX_SACKED_RANGES {
            self.sacked = ranges[..MAX_SACKED_RANGES]
                .iter()
                .flat_map(|&(s, e)| s..e)
                .collect();
        }
        new
    }

    fn is_lost(&self, seq: u64, smss: u64) -> bool {
        let above: Vec<_> = self.sacked.range(seq + 1..).copied().collect();
        let runs =
            above.windows(2).filter(|w| w[1] != w[0] + 1).count() + usize::from(!above.is_empty());
        runs >= 3 || above.len() as u64 > 2 * smss
    }

    fn pipe(&self, una: u64, max: u64, high_rxt: u64, smss: u64) -> u64 {
        (una..max)
            .filter(|x| !self.sacked.contains(x))
            .map(|x| u64::from(!self.is_lost(x, smss)) + u64::from(x < high_rxt))
            .sum()
    }

    /// NextSeg() by brute force, as (offset, len, kind).
    fn next_seg(
        &self,
        (una, max, high_rxt): (u64, u64, u64),
        rescue: Option<u64>,
        smss: u64,
        new: u64,
    ) -> Option<(u64, u64, NextSegKind)> {
        let unsacked_run =
            |from: u64| (from..max).take_while(|x| !self.sacked.contains(x)).count() as u64;
        let top = self.sacked.iter().next_back().map_or(una, |&x| x + 1);
        let s2 = (high_rxt.clamp(una, max)..top).find(|x| !self.sacked.contains(x));
        if let Some(s) = s2 {
            if self.is_lost(s, smss) {
                return Some((s, unsacked_run(s).min(smss), NextSegKind::Lost));
            }
        }
        if new > 0 {
            return Some((max, new.min(smss), NextSegKind::NewData));
        }
        if let Some(s) = s2 {
            return Some((s, unsacked_run(s).min(smss), NextSegKind::Unsacked));
        }
        if rescue.is_some_and(|r| una <= r) {
            return None;
        }
        let end = (una..max).rev().find(|x| !self.sacked.contains(x))? + 1;
        let mut start = end - 1;
        while start > una && end - start < smss && !self.sacked.contains(&(start - 1)) {
            start -= 1;
        }
        Some((start, end - start, NextSegKind::Rescue))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn scoreboard_matches_byte_model(
        base in prop_oneof![Just(0u32), Just(u32::MAX - 150), any::<u32>()],
        steps in prop::collection::vec(step(), 1..40),
        smss in 1u64..12,
        high_rxt_pick in 0u64..=WINDOW,
        rescue_pick in prop::option::of(0u64..8),
        new in 0u64..3,
    ) {
        let seq = |x: u64| TcpSeqNumber(base.wrapping_add(x as u32));
        let (mut una, mut max) = (10u64, 10u64);
        let mut sb = Scoreboard::new();
        let mut model = Model::default();
        for st in steps {
            max = (max + st.max_advance).min(una + WINDOW);
            una = (una + st.una_advance).min(max);
            let blocks: Vec<(u64, u64)> = st
                .blocks
                .iter()
                .map(|&(off, len)| {
                    let l = (una as i64 + off) as u64;
                    (l, l + len)
                })
                .collect();
            let wire: Vec<_> = blocks.iter().map(|&(l, r)| (seq(l), seq(r))).collect();
            let new_sacked = sb.update(seq(una), seq(max), &wire);
            prop_assert_eq!(new_sacked, model.update(una, max, &blocks));

            let got: Vec<(u64, u64)> = sb
                .ranges()
                .iter()
                .map(|&(s, e)| (u64::from(s.0.wrapping_sub(base)), u64::from(e.0.wrapping_sub(base))))
                .collect();
            prop_assert_eq!(&got, &model.ranges());
            prop_assert_eq!(u64::from(sb.sacked_bytes()), model.sacked.len() as u64);
            for x in una.saturating_sub(3)..max + 3 {
                prop_assert_eq!(sb.is_sacked(seq(x)), model.sacked.contains(&x), "byte {}", x);
                prop_assert_eq!(
                    sb.is_lost(seq(x), smss as u32),
                    model.is_lost(x, smss),
                    "IsLost({})", x
                );
            }

            let high_rxt = una + high_rxt_pick.min(max - una);
            prop_assert_eq!(
                u64::from(sb.pipe(seq(una), seq(max), seq(high_rxt), smss as u32)),
                model.pipe(una, max, high_rxt, smss)
            );
            let rescue = rescue_pick.map(|r| una - 3 + r);
            let got = sb
                .next_seg(seq(una), seq(max), seq(high_rxt), rescue.map(seq), smss as u32, new as u32)
                .map(|NextSeg { seq: s, len, kind }| (u64::from(s.0.wrapping_sub(base)), u64::from(len), kind));
            prop_assert_eq!(got, model.next_seg((una, max, high_rxt), rescue, smss, new));
        }
    }
}

/// A congestion event, with the sizes relative to the simulated flight.
#[derive(Clone, Debug)]
enum Event {
    /// Send up to this many segments, as the window allows.
    Send(u32),
    /// An ACK of this many bytes (capped at the flight).
    Ack(u32),
    DupAck,
    Rto,
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (1u32..20).prop_map(Event::Send),
        (1u32..5000).prop_map(Event::Ack),
        Just(Event::DupAck),
        Just(Event::Rto),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn congestion_invariants_hold(
        smss in prop_oneof![Just(536u32), Just(1460), Just(8960)],
        iw in 0u32..40_000,
        sack in any::<bool>(),
        base in any::<u32>(),
        events in prop::collection::vec(event(), 1..200),
    ) {
        let mut cc = Congestion::new(smss, iw);
        if sack {
            cc.set_recovery_mode(RecoveryMode::Sack);
        }
        let mut una = TcpSeqNumber(base);
        let mut max = una;
        for ev in events {
            let flight = max.diff(una) as u32;
            match ev {
                Event::Send(n) => {
                    for _ in 0..n {
                        let flight = max.diff(una) as u32;
                        if cc.send_allowance(flight) < smss {
                            break;
                        }
                        max += smss as usize;
                    }
                }
                Event::Ack(n) => {
                    let n = n.min(flight);
                    if n > 0 {
                        una += n as usize;
                        cc.on_ack(n, una, flight);
                    }
                }
                Event::DupAck => {
                    if flight > 0 {
                        cc.on_dup_ack(una, max, flight);
                    }
                }
                Event::Rto => cc.on_rto(flight, max),
            }
            prop_assert!(cc.cwnd() >= smss);
            prop_assert!(cc.ssthresh() >= 2 * smss);
            prop_assert!(cc.window() >= cc.cwnd());
            if cc.in_recovery() {
                prop_assert!(cc.recover().is_some());
                prop_assert!(cc.recover().unwrap().diff(una) > 0);
            }
        }
    }
}
