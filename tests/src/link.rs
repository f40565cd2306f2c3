//! A virtual-time, two-port Ethernet link with seeded faults.
//!
//! A [`Link`] joins port [`Port::A`] and port [`Port::B`]. A frame sent on
//! one port arrives at the other after the propagation delay, plus its
//! serialisation time when a bandwidth is set (frames of one direction
//! queue behind each other), plus a random jitter when reordering is on (so
//! frames may overtake each other). Faults are drawn from one
//! `ChaCha8Rng` seeded with [`LinkConfig::seed`], in the order frames are
//! sent, so a run is a pure function of the seed and of what the hosts send:
//!
//! * loss: the frame never arrives;
//! * duplication: a second copy arrives (with its own jitter);
//! * reordering: extra delay, uniform in `0..=reorder_jitter`;
//! * corruption: one random bit of the IPv4 datagram (after the Ethernet
//!   header) is flipped, modelling an error the Ethernet FCS missed;
//!   frames that are not IPv4 (ARP has no checksum) are never corrupted.
//!   The receiver's IPv4/ICMP/TCP checksums must catch it.
//!
//! Frames are delivered in order of (delivery time, send sequence). The
//! link never reads a clock: every call takes the harness's virtual time.

use std::collections::BTreeMap;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use rusty_stack::time::{Duration, Instant};
use rusty_stack::wire::pretty::Tracer;

/// Length of an Ethernet header (no VLAN tag).
const ETHERNET_HEADER_LEN: usize = 14;

/// One end of a [`Link`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Port {
    /// The first port.
    A,
    /// The second port.
    B,
}

impl Port {
    /// The port at the other end of the link.
    pub fn peer(self) -> Port {
        match self {
            Port::A => Port::B,
            Port::B => Port::A,
        }
    }

    /// 0 for [`Port::A`], 1 for [`Port::B`].
    pub fn index(self) -> usize {
        match self {
            Port::A => 0,
            Port::B => 1,
        }
    }
}

/// Properties and faults of a [`Link`]. Probabilities are in `0.0..=1.0`.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    /// One-way propagation delay.
    pub delay: Duration,
    /// Bits per second in each direction; `None` serialises instantly.
    pub bandwidth_bps: Option<u64>,
    /// Probability that a frame is lost.
    pub loss: f64,
    /// Probability that a frame is delivered twice.
    pub duplicate: f64,
    /// Probability that a frame gets an extra random delay.
    pub reorder: f64,
    /// Largest extra delay of a reordered frame.
    pub reorder_jitter: Duration,
    /// Probability that one bit of an IPv4 frame is flipped.
    pub corrupt: f64,
    /// Seed of the fault generator.
    pub seed: u64,
    /// Keep a [`TraceEntry`] for every frame sent.
    pub trace: bool,
}

impl Default for LinkConfig {
    /// A perfect 1 ms link with no bandwidth limit, seed 0, tracing on.
    fn default() -> Self {
        LinkConfig {
            delay: Duration::from_millis(1),
            bandwidth_bps: None,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_jitter: Duration::ZERO,
            corrupt: 0.0,
            seed: 0,
            trace: true,
        }
    }
}

impl LinkConfig {
    /// A perfect link (see [`LinkConfig::default`]) with fault seed `seed`.
    pub fn new(seed: u64) -> Self {
        LinkConfig {
            seed,
            ..LinkConfig::default()
        }
    }

    /// Sets the propagation delay.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Sets the bandwidth of each direction, in bits per second.
    pub fn with_bandwidth(mut self, bps: u64) -> Self {
        self.bandwidth_bps = Some(bps);
        self
    }

    /// Sets the loss probability.
    pub fn with_loss(mut self, p: f64) -> Self {
        self.loss = p;
        self
    }

    /// Sets the duplication probability.
    pub fn with_duplicate(mut self, p: f64) -> Self {
        self.duplicate = p;
        self
    }

    /// Delays a fraction `p` of the frames by up to `jitter` more.
    pub fn with_reorder(mut self, p: f64, jitter: Duration) -> Self {
        self.reorder = p;
        self.reorder_jitter = jitter;
        self
    }

    /// Sets the corruption probability.
    pub fn with_corrupt(mut self, p: f64) -> Self {
        self.corrupt = p;
        self
    }

    /// Turns the frame trace on or off.
    pub fn with_trace(mut self, trace: bool) -> Self {
        self.trace = trace;
        self
    }
}

/// Counters of a [`Link`], summed over both directions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Frames handed to [`Link::send`].
    pub sent: u64,
    /// Frames (copies included) handed out by [`Link::pop_due`].
    pub delivered: u64,
    /// Frames lost.
    pub lost: u64,
    /// Extra copies scheduled.
    pub duplicated: u64,
    /// Frames that got a reordering delay.
    pub reordered: u64,
    /// Frames with a flipped bit.
    pub corrupted: u64,
    /// Bytes handed to [`Link::send`].
    pub bytes_sent: u64,
}

/// What the link did with a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Scheduled for delivery at this time.
    Delivered(Instant),
    /// Lost.
    Lost,
}

/// One frame sent on the link, as recorded when tracing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEntry {
    /// Send sequence number.
    pub seq: u64,
    /// When it was sent.
    pub at: Instant,
    /// The port that sent it.
    pub from: Port,
    /// What happened to it.
    pub fate: Fate,
    /// Arrival time of a duplicate, if one was made.
    pub duplicate: Option<Instant>,
    /// Bit index flipped in the delivered copies, if corrupted.
    pub corrupted_bit: Option<usize>,
    /// The bytes as sent (before corruption).
    pub bytes: Vec<u8>,
}

/// A frame on its way.
#[derive(Debug)]
struct InFlight {
    to: Port,
    frame: Vec<u8>,
}

/// A virtual-time, two-port Ethernet link; see the [module docs](self).
#[derive(Debug)]
pub struct Link {
    config: LinkConfig,
    rng: ChaCha8Rng,
    /// Frames in flight, keyed by (delivery time, sequence).
    in_flight: BTreeMap<(Instant, u64), InFlight>,
    /// When each direction's transmitter is free again (bandwidth).
    tx_free_at: [Instant; 2],
    next_seq: u64,
    stats: LinkStats,
    trace: Vec<TraceEntry>,
}

impl Link {
    /// A link with nothing in flight.
    pub fn new(config: LinkConfig) -> Self {
        Link {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            config,
            in_flight: BTreeMap::new(),
            tx_free_at: [Instant::ZERO; 2],
            next_seq: 0,
            stats: LinkStats::default(),
            trace: Vec::new(),
        }
    }

    /// The link's settings.
    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// Changes the fault settings from now on (the random stream goes on;
    /// the seed field is ignored).
    pub fn set_faults(&mut self, loss: f64, duplicate: f64, reorder: f64, corrupt: f64) {
        self.config.loss = loss;
        self.config.duplicate = duplicate;
        self.config.reorder = reorder;
        self.config.corrupt = corrupt;
    }

    /// Counters so far.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// A uniform draw in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Draws against probability `p`; draws nothing when `p <= 0`.
    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// Extra delay of one copy: a jitter when it is picked for reordering.
    fn jitter(&mut self) -> Duration {
        if self.config.reorder_jitter > Duration::ZERO && self.chance(self.config.reorder) {
            self.stats.reordered += 1;
            let max = self.config.reorder_jitter.as_nanos();
            Duration::from_nanos(self.rng.next_u64() % (max + 1))
        } else {
            Duration::ZERO
        }
    }

    /// Sends `frame` from port `from` at time `now`.
    pub fn send(&mut self, from: Port, frame: Vec<u8>, now: Instant) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.stats.sent += 1;
        self.stats.bytes_sent += frame.len() as u64;

        // The transmitter is busy for the serialisation time even if the
        // frame is then lost.
        let dir = from.index();
        let start = now.max(self.tx_free_at[dir]);
        let serialisation = match self.config.bandwidth_bps {
            Some(bps) if bps > 0 => {
                let bits = frame.len() as u128 * 8;
                let nanos = (bits * 1_000_000_000).div_ceil(u128::from(bps));
                Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
            }
            _ => Duration::ZERO,
        };
        self.tx_free_at[dir] = start + serialisation;
        let arrival = start + serialisation + self.config.delay;

        let lost = self.chance(self.config.loss);
        let mut entry = TraceEntry {
            seq,
            at: now,
            from,
            fate: Fate::Lost,
            duplicate: None,
            corrupted_bit: None,
            bytes: if self.config.trace {
                frame.clone()
            } else {
                Vec::new()
            },
        };
        if lost {
            self.stats.lost += 1;
        } else {
            let mut frame = frame;
            if self.chance(self.config.corrupt) {
                if let Some(bit) = self.corrupt(&mut frame) {
                    entry.corrupted_bit = Some(bit);
                    self.stats.corrupted += 1;
                }
            }
            let when = arrival + self.jitter();
            entry.fate = Fate::Delivered(when);
            if self.chance(self.config.duplicate) {
                self.stats.duplicated += 1;
                let dup_when = arrival + self.jitter();
                entry.duplicate = Some(dup_when);
                let dup_seq = self.next_seq;
                self.next_seq += 1;
                self.in_flight.insert(
                    (dup_when, dup_seq),
                    InFlight {
                        to: from.peer(),
                        frame: frame.clone(),
                    },
                );
            }
            self.in_flight.insert(
                (when, seq),
                InFlight {
                    to: from.peer(),
                    frame,
                },
            );
        }
        if self.config.trace {
            self.trace.push(entry);
        }
    }

    /// Flips one random bit after the Ethernet header of an IPv4 frame;
    /// returns its index, or `None` when the frame is not IPv4.
    fn corrupt(&mut self, frame: &mut [u8]) -> Option<usize> {
        if frame.len() <= ETHERNET_HEADER_LEN || frame[12..14] != [0x08, 0x00] {
            return None;
        }
        let bits = (frame.len() - ETHERNET_HEADER_LEN) * 8;
        let bit = ETHERNET_HEADER_LEN * 8 + (self.rng.next_u64() % bits as u64) as usize;
        frame[bit / 8] ^= 0x80 >> (bit % 8);
        Some(bit)
    }

    /// The earliest delivery time of a frame in flight.
    pub fn next_event(&self) -> Option<Instant> {
        self.in_flight.keys().next().map(|&(at, _)| at)
    }

    /// Frames in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The next frame due at `now` (for either port): its destination port
    /// and bytes.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Port, Vec<u8>)> {
        let entry = self.in_flight.first_entry()?;
        if entry.key().0 > now {
            return None;
        }
        let InFlight { to, frame } = entry.remove();
        self.stats.delivered += 1;
        Some((to, frame))
    }

    /// Every frame due at `now`, in delivery order.
    pub fn deliver_due(&mut self, now: Instant) -> impl Iterator<Item = (Port, Vec<u8>)> + '_ {
        std::iter::from_fn(move || self.pop_due(now))
    }

    /// The frames sent so far, when tracing.
    pub fn trace(&self) -> &[TraceEntry] {
        &self.trace
    }

    /// The trace as tcpdump-like lines (relative TCP sequence numbers),
    /// the last `last` frames only.
    pub fn trace_lines(&self, last: usize) -> Vec<String> {
        let mut tracer = Tracer::new();
        let lines: Vec<String> = self
            .trace
            .iter()
            .map(|e| {
                let fate = match e.fate {
                    Fate::Lost => "LOST".to_string(),
                    Fate::Delivered(at) => format!("-> {at}"),
                };
                let dup = e
                    .duplicate
                    .map(|at| format!(" DUP -> {at}"))
                    .unwrap_or_default();
                let bad = e
                    .corrupted_bit
                    .map(|bit| format!(" CORRUPT bit {bit}"))
                    .unwrap_or_default();
                format!(
                    "#{:<5} {} {:?}->{:?} {}{}{}: {}",
                    e.seq,
                    e.at,
                    e.from,
                    e.from.peer(),
                    fate,
                    dup,
                    bad,
                    tracer.line(&e.bytes)
                )
            })
            .collect();
        let skip = lines.len().saturating_sub(last);
        lines.into_iter().skip(skip).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_frame(tag: u8, len: usize) -> Vec<u8> {
        let mut f = vec![tag; len];
        f[12] = 0x08;
        f[13] = 0x00;
        f
    }

    fn drain(link: &mut Link, now: Instant) -> Vec<(Port, Vec<u8>)> {
        link.deliver_due(now).collect()
    }

    #[test]
    fn perfect_link_delays_and_keeps_order() {
        let mut link = Link::new(LinkConfig::new(1).with_delay(Duration::from_millis(2)));
        link.send(Port::A, ipv4_frame(1, 60), Instant::ZERO);
        link.send(Port::B, ipv4_frame(2, 60), Instant::ZERO);
        link.send(Port::A, ipv4_frame(3, 60), Instant::from_micros(10));
        assert_eq!(link.next_event(), Some(Instant::from_millis(2)));
        assert!(drain(&mut link, Instant::from_millis(1)).is_empty());
        let got = drain(&mut link, Instant::from_millis(2));
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].0, got[0].1[0]), (Port::B, 1));
        assert_eq!((got[1].0, got[1].1[0]), (Port::A, 2));
        let got = drain(&mut link, Instant::from_secs(1));
        assert_eq!((got[0].0, got[0].1[0]), (Port::B, 3));
        assert_eq!(link.next_event(), None);
        assert_eq!(link.stats().sent, 3);
        assert_eq!(link.stats().delivered, 3);
    }

    #[test]
    fn bandwidth_serialises_frames() {
        // 1000 bytes at 8 Mbit/s take 1 ms each.
        let mut link = Link::new(
            LinkConfig::new(0)
                .with_delay(Duration::ZERO)
                .with_bandwidth(8_000_000),
        );
        link.send(Port::A, ipv4_frame(1, 1000), Instant::ZERO);
        link.send(Port::A, ipv4_frame(2, 1000), Instant::ZERO);
        link.send(Port::B, ipv4_frame(3, 1000), Instant::ZERO);
        let times: Vec<Instant> = link
            .trace()
            .iter()
            .map(|e| match e.fate {
                Fate::Delivered(at) => at,
                Fate::Lost => Instant::MAX,
            })
            .collect();
        assert_eq!(
            times,
            [
                Instant::from_millis(1),
                Instant::from_millis(2),
                Instant::from_millis(1)
            ]
        );
    }

    #[test]
    fn faults_are_seeded_and_roughly_at_their_rates() {
        let run = |seed| {
            let mut link = Link::new(
                LinkConfig::new(seed)
                    .with_loss(0.1)
                    .with_duplicate(0.05)
                    .with_reorder(0.2, Duration::from_millis(5))
                    .with_corrupt(0.05),
            );
            for i in 0..10_000u32 {
                let mut frame = ipv4_frame(0, 100);
                frame[16..20].copy_from_slice(&i.to_be_bytes());
                link.send(Port::A, frame, Instant::from_micros(u64::from(i)));
            }
            let frames = drain(&mut link, Instant::MAX);
            (link.stats(), frames)
        };
        let (stats, frames) = run(7);
        assert_eq!(run(7), (stats, frames.clone()));
        assert_ne!(run(8).0, stats);
        assert!((900..1100).contains(&stats.lost), "{stats:?}");
        assert!((350..650).contains(&stats.duplicated), "{stats:?}");
        assert!((350..650).contains(&stats.corrupted), "{stats:?}");
        assert!(stats.reordered > 1500, "{stats:?}");
        assert_eq!(
            frames.len() as u64,
            stats.sent - stats.lost + stats.duplicated
        );
        // Reordering: some frame overtook an earlier one.
        let index = |f: &[u8]| u32::from_be_bytes([f[16], f[17], f[18], f[19]]);
        assert!(frames.windows(2).any(|w| index(&w[0].1) > index(&w[1].1)));
    }

    #[test]
    fn corruption_flips_one_bit_after_the_ethernet_header() {
        let mut link = Link::new(LinkConfig::new(5).with_corrupt(1.0));
        for i in 0..100u8 {
            let frame = ipv4_frame(i, 60);
            link.send(Port::B, frame.clone(), Instant::ZERO);
            let got = drain(&mut link, Instant::MAX);
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].0, Port::A);
            let diff: Vec<usize> = (0..frame.len() * 8)
                .filter(|&bit| (frame[bit / 8] ^ got[0].1[bit / 8]) & (0x80 >> (bit % 8)) != 0)
                .collect();
            assert_eq!(diff.len(), 1);
            assert!(diff[0] >= 14 * 8);
            assert_eq!(link.trace().last().unwrap().corrupted_bit, Some(diff[0]));
        }
        assert_eq!(link.stats().corrupted, 100);
    }

    #[test]
    fn non_ipv4_frames_are_never_corrupted() {
        let mut link = Link::new(LinkConfig::new(3).with_corrupt(1.0));
        let arp = {
            let mut f = vec![0u8; 42];
            f[12] = 0x08;
            f[13] = 0x06;
            f
        };
        link.send(Port::A, arp.clone(), Instant::ZERO);
        assert_eq!(drain(&mut link, Instant::MAX), [(Port::B, arp)]);
        assert_eq!(link.stats().corrupted, 0);
        assert_eq!(link.trace_lines(10).len(), 1);
    }
}
