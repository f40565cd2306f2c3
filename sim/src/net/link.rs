//! Point-to-point Ethernet links with bandwidth, latency, a transmit queue
//! and seeded faults.
//!
//! A [`Link`] joins two ports, [`Side::A`] and [`Side::B`], full duplex:
//! each direction has its own transmit queue, its own serialiser and its own
//! random stream, so traffic one way never changes the random decisions made
//! the other way. The link does not schedule anything itself: [`Link::send`]
//! returns the copies to deliver with their arrival times ([`LinkDelivery`]), and
//! the simulator queues them as events.
//!
//! # What happens to a frame
//!
//! [`Link::send`] applies, in this order, to a frame handed over at `now`:
//!
//! 1. **Link down** — if `now` falls in a [`Faults::down`] window or a
//!    [`Faults::flap`] outage, the frame is lost ([`Loss::Down`]). Only the
//!    send time matters: frames already on the wire when the link goes down
//!    still arrive.
//! 2. **Queue** — the direction's backlog is the bytes of accepted frames
//!    whose serialisation has not finished by `now` (the one on the wire
//!    included). If the backlog is not empty and would exceed
//!    [`LinkConfig::queue_limit_bytes`] with this frame, the frame is
//!    tail-dropped ([`Loss::Queue`]). An idle link always accepts a frame.
//! 3. **Serialisation** — the frame starts when the serialiser is free,
//!    `max(now, busy_until)`, and takes `ceil(bits × 10⁹ / bandwidth_bps)`
//!    ns (integer arithmetic, never faster than the configured rate; no
//!    preamble, inter-frame gap or FCS is added: the frame is what the
//!    caller passes). Its end is the departure time.
//! 4. **Loss on the wire** — the Gilbert–Elliott chain, if configured, decides
//!    loss by its current state ([`Loss::Burst`]) and then takes one step;
//!    independently, [`Faults::loss`] loses the frame ([`Loss::Random`]).
//!    A lost frame still used the serialiser's time.
//! 5. **Duplication** — with probability [`Faults::duplicate`] a second copy
//!    is delivered.
//! 6. For **each copy** independently: **corruption** flips one random bit
//!    (see [`Faults::corrupt`]), and **reordering** adds a jitter uniform in
//!    `[0, reorder_delay]` with probability [`Faults::reorder`], which lets
//!    later frames (or the other copy) overtake it.
//! 7. The copy arrives at `departure + delay + jitter`.
//!
//! Random draws are made only for the faults that are configured (non-zero
//! probability), one `u64` per decision, in the order above, from the
//! direction's own stream. The same configuration, seeds and sends therefore
//! always give the same deliveries.
//!
//! # Captures
//!
//! [`Link::attach_capture`] writes the link's traffic, both directions in one
//! file, to pcap (see [`crate::net::pcap`]):
//!
//! * [`TapPoint::Send`] records every frame at the time it is handed to
//!   [`Link::send`], **before any fault** — frames the link then loses
//!   included, no corruption, no duplicates. This is what a capture on the
//!   senders would show, and the trace to validate with tshark's checksum
//!   checks: it has no bad checksum as long as the stacks send none.
//! * [`TapPoint::Receive`] records every copy as delivered, at its arrival
//!   time, in arrival order: duplicates twice, corrupted frames with their
//!   flipped bit (so with bad checksums), lost frames absent. Frames are
//!   written once the link sees a later `send` time (or at
//!   [`Link::finish_captures`]), so the file is in time order.
//!
//! ```
//! use rusty_sim::net::link::{Link, LinkConfig, Side};
//! use rusty_sim::kernel::rng::Seeds;
//! use rusty_stack::time::{Duration, Instant};
//!
//! let mut link = Link::seeded(LinkConfig::default(), &Seeds::new(1), 0);
//! let sent = link.send(Side::A, vec![0u8; 1500], Instant::ZERO);
//! let d = sent.iter().next().unwrap();
//! assert_eq!(d.to, Side::B);
//! // 1500 bytes at 10 Gb/s take 1.2 µs, then 5 µs of propagation.
//! assert_eq!(d.at, Instant::ZERO + Duration::from_nanos(1_200 + 5_000));
//! ```

use std::collections::{BinaryHeap, VecDeque};
use std::io::{self, Write};

use rand_chacha::ChaCha8Rng;
use rusty_stack::time::{Duration, Instant};
use rusty_stack::wire::{ethernet, ipv4};
use serde::{Deserialize, Serialize};

use crate::kernel::rng::{below, bernoulli, uniform_duration, Seeds};
use crate::net::pcap::{CaptureSummary, PcapCapture};

/// Buffers kept by [`Link::recycle`] at most.
const FREE_LIST_MAX: usize = 256;

/// Length of an Ethernet II header: corruption never touches it.
const ETHERNET_HEADER: usize = ethernet::HEADER_LEN;

/// One end of a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Side {
    /// The first port.
    A,
    /// The second port.
    B,
}

impl Side {
    /// Both sides, `A` first.
    pub const BOTH: [Side; 2] = [Side::A, Side::B];

    /// The other end.
    pub const fn peer(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    /// 0 for `A`, 1 for `B`.
    pub const fn index(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }
}

/// Serde support for [`Duration`] and [`Instant`] in scenario files.
///
/// Accepted forms:
/// * a number: seconds, integer or fractional (`2`, `0.000005`);
/// * a string: a decimal number and a unit, `ns`, `us` (or `µs`), `ms` or
///   `s`, optionally separated by spaces (`"5us"`, `"1.5 ms"`, `"200ns"`).
///   The decimal is converted exactly and rounded to the nanosecond.
///
/// An [`Instant`] is written as the time since the simulation's epoch.
/// Serialisation writes a string in the largest unit that represents the
/// value exactly (`"5us"`, `"1200ns"`, `"2s"`), which reads back unchanged.
///
/// Use with `#[serde(with = "rusty_sim::net::link::serde_time::duration")]`
/// (or `instant`, `option_instant`) on fields of other configuration types.
pub mod serde_time {
    use std::fmt;

    use rusty_stack::time::{Duration, Instant};
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    use super::LinkError;

    /// Parses `"<decimal><unit>"` (see the [module documentation](self)).
    pub fn parse_duration(text: &str) -> Result<Duration, LinkError> {
        let text = text.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, unit) = (&text[..split], text[split..].trim());
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "" => return Err(LinkError::DurationNoUnit { text: text.into() }),
            _ => {
                return Err(LinkError::DurationUnit {
                    text: text.into(),
                    unit: unit.into(),
                })
            }
        };
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() && frac.is_empty() || !digits_ok(int) || !digits_ok(frac) {
            return Err(LinkError::DurationNumber {
                text: text.into(),
                number: number.into(),
            });
        }
        let too_long = || LinkError::DurationTooLong { text: text.into() };
        let int: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| too_long())?
        };
        // Twenty fractional digits are far below a nanosecond at any unit.
        let frac = &frac[..frac.len().min(20)];
        let frac_ns = if frac.is_empty() {
            0
        } else {
            let denom = 10u128.pow(frac.len() as u32);
            let num: u128 = frac.parse().map_err(|_| too_long())?;
            (num * scale + denom / 2) / denom
        };
        let ns = int
            .checked_mul(scale)
            .and_then(|n| n.checked_add(frac_ns))
            .filter(|&n| n <= u128::from(u64::MAX))
            .ok_or_else(too_long)?;
        Ok(Duration::from_nanos(ns as u64))
    }

    /// Formats `d` in the largest unit that is exact: `"0s"`, `"5us"`,
    /// `"1200ns"`.
    pub fn format_duration(d: Duration) -> String {
        let ns = d.as_nanos();
        match ns {
            0 => "0s".to_string(),
            _ if ns.is_multiple_of(1_000_000_000) => format!("{}s", ns / 1_000_000_000),
            _ if ns.is_multiple_of(1_000_000) => format!("{}ms", ns / 1_000_000),
            _ if ns.is_multiple_of(1_000) => format!("{}us", ns / 1_000),
            _ => format!("{ns}ns"),
        }
    }

    fn seconds_f64(s: f64) -> Result<Duration, LinkError> {
        let ns = (s * 1e9).round();
        if !ns.is_finite() || ns < 0.0 || ns >= u64::MAX as f64 {
            return Err(LinkError::Seconds(s));
        }
        Ok(Duration::from_nanos(ns as u64))
    }

    struct DurationVisitor;

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("seconds as a number, or a string like \"5us\" or \"1.5ms\"")
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
            v.checked_mul(1_000_000_000)
                .map(Duration::from_nanos)
                .ok_or_else(|| E::custom(format!("{v} seconds is too long")))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
            let v = u64::try_from(v).map_err(|_| E::custom("durations cannot be negative"))?;
            self.visit_u64(v)
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
            seconds_f64(v).map_err(E::custom)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
            parse_duration(v).map_err(E::custom)
        }
    }

    fn deserialize_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(DurationVisitor)
    }

    /// `#[serde(with = …)]` for a [`Duration`] field.
    pub mod duration {
        use super::*;

        /// Writes the duration as a string with a unit.
        pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&format_duration(*d))
        }

        /// Reads seconds (a number) or a string with a unit.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
            deserialize_duration(d)
        }
    }

    /// `#[serde(with = …)]` for an [`Instant`] field (time since the epoch).
    pub mod instant {
        use super::*;

        /// Writes the time since the epoch as a string with a unit.
        pub fn serialize<S: Serializer>(t: &Instant, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&format_duration(Duration::from_nanos(t.as_nanos())))
        }

        /// Reads seconds since the epoch (a number) or a string with a unit.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Instant, D::Error> {
            deserialize_duration(d).map(|d| Instant::from_nanos(d.as_nanos()))
        }
    }

    /// `#[serde(with = …)]` for an `Option<Instant>` field; absent or
    /// `None` when missing (combine with `#[serde(default)]`).
    pub mod option_instant {
        use super::*;
        use serde::Deserialize;

        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super::instant")] Instant);

        /// Writes `None` as a unit/none value, `Some` as an instant.
        pub fn serialize<S: Serializer>(t: &Option<Instant>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_some(&format_duration(Duration::from_nanos(t.as_nanos()))),
                None => s.serialize_none(),
            }
        }

        /// Reads an optional instant.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Instant>, D::Error> {
            Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
        }
    }
}

/// A link's physical parameters and faults; one configuration applies to
/// both directions. Scenario files set it with the field names below; every
/// field is optional (missing fields take the [`Default`] values) and unknown
/// fields are rejected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkConfig {
    /// Bits per second in each direction; 0 means infinite (no
    /// serialisation delay and so no queueing). Default 10 Gb/s.
    pub bandwidth_bps: u64,
    /// One-way propagation delay. Default 5 µs.
    #[serde(with = "serde_time::duration")]
    pub delay: Duration,
    /// Transmit queue per direction, in bytes (tail drop); 0 means
    /// unlimited. Default 1 MiB.
    pub queue_limit_bytes: usize,
    /// Seeded faults. Default none.
    pub faults: Faults,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            bandwidth_bps: 10_000_000_000,
            delay: Duration::from_micros(5),
            queue_limit_bytes: 1 << 20,
            faults: Faults::default(),
        }
    }
}

impl LinkConfig {
    /// Checks that the configuration makes sense; the error says which field
    /// is wrong.
    pub fn validate(&self) -> Result<(), LinkError> {
        self.faults.validate()
    }

    /// Time to serialise `bytes` bytes at [`bandwidth_bps`](Self::bandwidth_bps),
    /// rounded up to the nanosecond; zero at infinite bandwidth.
    pub fn serialisation_time(&self, bytes: usize) -> Duration {
        if self.bandwidth_bps == 0 {
            return Duration::ZERO;
        }
        let bits = bytes as u128 * 8;
        let bps = u128::from(self.bandwidth_bps);
        let ns = (bits * 1_000_000_000).div_ceil(bps);
        Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }
}

/// The seeded faults of a link (both directions, each with its own random
/// stream). Probabilities are per frame, in `[0, 1]`. The default is a
/// perfect link.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Independent loss probability.
    pub loss: f64,
    /// Bursty loss from a Gilbert–Elliott chain, on top of [`loss`](Self::loss).
    pub burst: Option<GilbertElliott>,
    /// Probability that a frame is delivered twice.
    pub duplicate: f64,
    /// Probability that a copy gets an extra delay uniform in
    /// `[0, reorder_delay]`, so that later frames may overtake it.
    pub reorder: f64,
    /// The largest extra delay of a reordered copy.
    #[serde(with = "serde_time::duration")]
    pub reorder_delay: Duration,
    /// Probability that a copy has one bit flipped. The bit is uniform over
    /// the bytes after the 14-byte Ethernet header; for an IPv4 frame, over
    /// the IPv4 datagram only (by its total length), so Ethernet padding is
    /// never hit and every flip lands in bytes covered by the IPv4 header
    /// checksum or the TCP/UDP/ICMP checksum — a one-bit error that the
    /// Internet checksum always detects. Frames of 14 bytes or less are
    /// left intact.
    pub corrupt: f64,
    /// Which frames [`corrupt`](Self::corrupt) may hit. Default every
    /// frame longer than the Ethernet header; [`CorruptScope::Ipv4Only`]
    /// spares ARP and other frames without a checksum to catch the flip.
    pub corrupt_scope: CorruptScope,
    /// Probability that a corrupted copy is caught by the receiving NIC's
    /// Ethernet FCS check and dropped there (mPIPE's `ce` flag), never
    /// reaching the host. 0 (the default): every corruption escapes the
    /// FCS, modelling damage the FCS cannot see (in the NIC or memory, or
    /// a CRC collision), so the hosts' own checks are what is tested; 1: a
    /// plain wire error, which every NIC drops. The escape rate is
    /// `1 - fcs_drop`.
    pub fcs_drop: f64,
    /// Scheduled outages (partitions): frames sent inside a window are lost.
    pub down: Vec<Window>,
    /// Periodic outages (link flaps).
    pub flap: Option<Flap>,
}

impl Faults {
    /// Whether no fault is configured: a perfect link (a `reorder_delay`
    /// without `reorder` probability, or a `corrupt_scope` or `fcs_drop`
    /// without `corrupt`, does nothing).
    pub fn is_none(&self) -> bool {
        *self
            == Faults {
                reorder_delay: self.reorder_delay,
                corrupt_scope: self.corrupt_scope,
                fcs_drop: self.fcs_drop,
                ..Faults::default()
            }
    }

    /// Whether the link is down (a [`down`](Self::down) window or a
    /// [`flap`](Self::flap) outage) at `at`.
    pub fn is_down(&self, at: Instant) -> bool {
        self.down.iter().any(|w| w.contains(at)) || self.flap.is_some_and(|f| f.is_down(at))
    }

    /// Checks probabilities (finite, in `[0, 1]`), windows (`from <= until`)
    /// and flaps (`period > 0`, `down_for <= period`).
    pub fn validate(&self) -> Result<(), LinkError> {
        check_probability("faults.loss", self.loss)?;
        check_probability("faults.duplicate", self.duplicate)?;
        check_probability("faults.reorder", self.reorder)?;
        check_probability("faults.corrupt", self.corrupt)?;
        check_probability("faults.fcs_drop", self.fcs_drop)?;
        if let Some(ge) = &self.burst {
            ge.validate()?;
        }
        for (i, w) in self.down.iter().enumerate() {
            if w.from > w.until {
                return Err(LinkError::DownWindow {
                    index: i,
                    from: w.from,
                    until: w.until,
                });
            }
        }
        if let Some(f) = &self.flap {
            if f.period == Duration::ZERO {
                return Err(LinkError::FlapPeriod);
            }
            if f.down_for > f.period {
                return Err(LinkError::FlapDownFor {
                    down_for: f.down_for,
                    period: f.period,
                });
            }
        }
        Ok(())
    }
}

/// Which frames the corruption fault ([`Faults::corrupt`]) may hit. In
/// scenario files: `corrupt_scope = "all"` (default), `"ipv4-only"` or
/// `"arp-only"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CorruptScope {
    /// Every frame longer than the 14-byte Ethernet header: ARP too, whose
    /// receiver has no checksum to catch the flip.
    #[default]
    All,
    /// IPv4 frames only (EtherType 0x0800 and an IPv4 header): every flip
    /// is one the receiver's checksums catch. Other frames are delivered
    /// intact, and no random draw is made for them.
    Ipv4Only,
    /// ARP frames only (EtherType 0x0806): the flips no checksum catches,
    /// which teach a host a wrong MAC or address; what neighbour
    /// reachability must recover from.
    ArpOnly,
}

impl CorruptScope {
    /// Whether a frame may be corrupted under this scope.
    pub fn covers(self, frame: &[u8]) -> bool {
        match self {
            CorruptScope::All => true,
            CorruptScope::Ipv4Only => is_ipv4(frame),
            CorruptScope::ArpOnly => {
                frame.get(ethernet::field::ETHERTYPE..ethernet::field::PAYLOAD)
                    == Some(&[0x08, 0x06][..])
            }
        }
    }
}

fn check_probability(field: &'static str, p: f64) -> Result<(), LinkError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(LinkError::Probability { field, value: p })
    }
}

/// Why a link configuration, a duration or a fault setting is not valid.
#[derive(Clone, Debug, PartialEq)]
pub enum LinkError {
    /// A duration string without a unit.
    DurationNoUnit {
        /// The string.
        text: String,
    },
    /// A duration string with a unit other than `ns`, `us`, `ms`, `s`.
    DurationUnit {
        /// The string.
        text: String,
        /// Its unit.
        unit: String,
    },
    /// A duration string whose number does not parse.
    DurationNumber {
        /// The string.
        text: String,
        /// Its number.
        number: String,
    },
    /// A duration beyond `u64` nanoseconds.
    DurationTooLong {
        /// The string.
        text: String,
    },
    /// Seconds (a number) that are no duration: negative, not finite, or
    /// too long.
    Seconds(f64),
    /// A probability outside `[0, 1]` (or not a number).
    Probability {
        /// The field, as a dotted path (`faults.loss`).
        field: &'static str,
        /// Its value.
        value: f64,
    },
    /// A down window that ends before it starts.
    DownWindow {
        /// Its index in `faults.down`.
        index: usize,
        /// Its start.
        from: Instant,
        /// Its end.
        until: Instant,
    },
    /// A flap period of zero.
    FlapPeriod,
    /// A flap outage longer than its period.
    FlapDownFor {
        /// The outage.
        down_for: Duration,
        /// The period.
        period: Duration,
    },
}

impl LinkError {
    /// The configuration field at fault, as a dotted path from the link
    /// configuration (`faults.loss`, `faults.down[2]`), when there is one.
    pub fn field(&self) -> Option<String> {
        match self {
            LinkError::Probability { field, .. } => Some((*field).to_string()),
            LinkError::DownWindow { index, .. } => Some(format!("faults.down[{index}]")),
            LinkError::FlapPeriod => Some("faults.flap.period".into()),
            LinkError::FlapDownFor { .. } => Some("faults.flap.down_for".into()),
            _ => None,
        }
    }
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::DurationNoUnit { text } => {
                write!(f, "duration {text:?} needs a unit (ns, us, ms, s)")
            }
            LinkError::DurationUnit { text, unit } => {
                write!(f, "duration {text:?}: unknown unit {unit:?}")
            }
            LinkError::DurationNumber { text, number } => {
                write!(f, "duration {text:?}: bad number {number:?}")
            }
            LinkError::DurationTooLong { text } => write!(f, "duration {text:?} is too long"),
            LinkError::Seconds(s) => write!(f, "{s} seconds is not a valid duration"),
            LinkError::Probability { field, value } => {
                write!(f, "{field} = {value} is not a probability in [0, 1]")
            }
            LinkError::DownWindow { index, from, until } => {
                write!(
                    f,
                    "faults.down[{index}]: from ({from}) is after until ({until})"
                )
            }
            LinkError::FlapPeriod => f.write_str("faults.flap.period must be positive"),
            LinkError::FlapDownFor { down_for, period } => write!(
                f,
                "faults.flap.down_for ({down_for}) is longer than the period ({period})"
            ),
        }
    }
}

impl std::error::Error for LinkError {}

/// A two-state (Gilbert–Elliott) loss model: bursts of loss while in the
/// bad state. Each frame is lost with the current state's loss probability,
/// then the chain takes one step. It starts in the good state.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GilbertElliott {
    /// Probability of moving from good to bad after a frame.
    pub p_good_to_bad: f64,
    /// Probability of moving from bad to good after a frame (the mean burst
    /// length, in frames, is its inverse).
    pub p_bad_to_good: f64,
    /// Loss probability in the good state. Default 0.
    #[serde(default)]
    pub loss_good: f64,
    /// Loss probability in the bad state. Default 1.
    #[serde(default = "one")]
    pub loss_bad: f64,
}

fn one() -> f64 {
    1.0
}

impl GilbertElliott {
    /// The long-run loss rate: the stationary mix of the two states' rates.
    pub fn mean_loss(&self) -> f64 {
        let total = self.p_good_to_bad + self.p_bad_to_good;
        if total == 0.0 {
            return self.loss_good;
        }
        let bad = self.p_good_to_bad / total;
        bad * self.loss_bad + (1.0 - bad) * self.loss_good
    }

    fn validate(&self) -> Result<(), LinkError> {
        check_probability("faults.burst.p_good_to_bad", self.p_good_to_bad)?;
        check_probability("faults.burst.p_bad_to_good", self.p_bad_to_good)?;
        check_probability("faults.burst.loss_good", self.loss_good)?;
        check_probability("faults.burst.loss_bad", self.loss_bad)
    }
}

/// A scheduled outage: the link is down from `from` (included) to `until`
/// (excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Start of the outage, since the epoch.
    #[serde(with = "serde_time::instant")]
    pub from: Instant,
    /// End of the outage (first instant the link is up again).
    #[serde(with = "serde_time::instant")]
    pub until: Instant,
}

impl Window {
    /// Whether `at` is inside the window.
    pub fn contains(&self, at: Instant) -> bool {
        self.from <= at && at < self.until
    }
}

/// Periodic outages: from `start` on, the link is down for `down_for` at
/// the beginning of every `period`, that is in
/// `[start + k·period, start + k·period + down_for)` for `k = 0, 1, …`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flap {
    /// Time from one outage's start to the next.
    #[serde(with = "serde_time::duration")]
    pub period: Duration,
    /// Length of each outage.
    #[serde(with = "serde_time::duration")]
    pub down_for: Duration,
    /// Start of the first outage; default one period after the epoch, so a
    /// run always begins with the link up.
    #[serde(default, with = "serde_time::option_instant")]
    pub start: Option<Instant>,
}

impl Flap {
    /// Whether the link is in an outage at `at`.
    pub fn is_down(&self, at: Instant) -> bool {
        let period = self.period.as_nanos();
        if period == 0 {
            return false;
        }
        let start = self.start.unwrap_or(Instant::ZERO + self.period);
        at >= start && (at - start).as_nanos() % period < self.down_for.as_nanos()
    }
}

/// Why a frame was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Loss {
    /// Sent while the link was down (partition or flap).
    Down,
    /// Tail-dropped: the transmit queue was full.
    Queue,
    /// Independent random loss.
    Random,
    /// Gilbert–Elliott loss.
    Burst,
}

/// Counters for one direction of a link.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LinkDirectionStats {
    /// Frames handed to [`Link::send`].
    pub sent_frames: u64,
    /// Bytes handed to [`Link::send`].
    pub sent_bytes: u64,
    /// Copies handed back for delivery (duplicates included).
    pub delivered_frames: u64,
    /// Bytes of the copies handed back for delivery.
    pub delivered_bytes: u64,
    /// Frames lost to independent random loss.
    pub lost_random: u64,
    /// Frames lost to Gilbert–Elliott bursts.
    pub lost_burst: u64,
    /// Frames sent while the link was down.
    pub lost_down: u64,
    /// Frames tail-dropped by the transmit queue.
    pub lost_queue: u64,
    /// Frames delivered twice.
    pub duplicated: u64,
    /// Copies with a flipped bit.
    pub corrupted: u64,
    /// Of those, copies the receiver's FCS check dropped
    /// ([`Faults::fcs_drop`]); not counted as delivered.
    pub fcs_dropped: u64,
    /// Copies given extra (reordering) delay.
    pub reordered: u64,
    /// Largest backlog of the transmit queue, in bytes (the frame on the
    /// wire included).
    pub max_backlog_bytes: u64,
}

impl LinkDirectionStats {
    /// Frames lost, all causes.
    pub fn lost(&self) -> u64 {
        self.lost_random + self.lost_burst + self.lost_down + self.lost_queue
    }

    /// The counters of both `self` and `other`, added (the largest
    /// backlog is the larger of the two).
    pub fn plus(&self, other: &LinkDirectionStats) -> LinkDirectionStats {
        LinkDirectionStats {
            sent_frames: self.sent_frames + other.sent_frames,
            sent_bytes: self.sent_bytes + other.sent_bytes,
            delivered_frames: self.delivered_frames + other.delivered_frames,
            delivered_bytes: self.delivered_bytes + other.delivered_bytes,
            lost_random: self.lost_random + other.lost_random,
            lost_burst: self.lost_burst + other.lost_burst,
            lost_down: self.lost_down + other.lost_down,
            lost_queue: self.lost_queue + other.lost_queue,
            duplicated: self.duplicated + other.duplicated,
            corrupted: self.corrupted + other.corrupted,
            fcs_dropped: self.fcs_dropped + other.fcs_dropped,
            reordered: self.reordered + other.reordered,
            max_backlog_bytes: self.max_backlog_bytes.max(other.max_backlog_bytes),
        }
    }

    fn count_loss(&mut self, cause: Loss) {
        match cause {
            Loss::Down => self.lost_down += 1,
            Loss::Queue => self.lost_queue += 1,
            Loss::Random => self.lost_random += 1,
            Loss::Burst => self.lost_burst += 1,
        }
    }
}

/// Counters of both directions of a link.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LinkStats {
    /// Frames sent by [`Side::A`].
    pub a_to_b: LinkDirectionStats,
    /// Frames sent by [`Side::B`].
    pub b_to_a: LinkDirectionStats,
}

impl LinkStats {
    /// Both directions summed (see [`LinkDirectionStats::plus`]).
    pub fn total(&self) -> LinkDirectionStats {
        self.a_to_b.plus(&self.b_to_a)
    }
}

/// A copy of a frame to deliver: the simulator queues it as an event at
/// `at` for port `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkDelivery {
    /// Arrival time of the frame's last bit at the receiver.
    pub at: Instant,
    /// The receiving port.
    pub to: Side,
    /// The frame as delivered.
    pub frame: Vec<u8>,
    /// Whether a bit of this copy was flipped.
    pub corrupted: bool,
    /// Whether this is the extra copy of a duplicated frame.
    pub duplicate: bool,
    /// Reordering delay added to this copy (zero if none).
    pub jitter: Duration,
}

/// The outcome of [`Link::send`]: zero, one or two copies to deliver.
/// Iterate it (by reference or by value) for the [`LinkDelivery`]s.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SendResult {
    /// Why the frame was lost, if it was.
    pub lost: Option<Loss>,
    /// End of the frame's serialisation, if it reached the wire (`None`
    /// when it was lost to the link being down or to the queue).
    pub departure: Option<Instant>,
    copies: [Option<LinkDelivery>; 2],
}

impl SendResult {
    fn lost(cause: Loss, departure: Option<Instant>) -> Self {
        SendResult {
            lost: Some(cause),
            departure,
            copies: [None, None],
        }
    }

    /// Number of copies to deliver (0, 1 or 2).
    pub fn len(&self) -> usize {
        self.copies.iter().flatten().count()
    }

    /// Whether nothing is delivered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The copies to deliver, original first.
    pub fn iter(&self) -> impl Iterator<Item = &LinkDelivery> {
        self.copies.iter().flatten()
    }
}

impl IntoIterator for SendResult {
    type Item = LinkDelivery;
    type IntoIter = std::iter::Flatten<std::array::IntoIter<Option<LinkDelivery>, 2>>;

    fn into_iter(self) -> Self::IntoIter {
        self.copies.into_iter().flatten()
    }
}

impl<'a> IntoIterator for &'a SendResult {
    type Item = &'a LinkDelivery;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Option<LinkDelivery>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.copies.iter().flatten()
    }
}

/// Where a capture attached with [`Link::attach_capture`] records frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TapPoint {
    /// Every frame handed to [`Link::send`], at the send time, before any
    /// fault.
    Send,
    /// Every copy delivered, at its arrival time, as delivered.
    Receive,
}

/// A capture attached to a link.
struct Tap {
    point: TapPoint,
    capture: PcapCapture<Box<dyn Write + Send>>,
    /// The first write error; later writes are skipped.
    error: Option<io::Error>,
}

impl Tap {
    fn write(&mut self, at: Instant, frame: &[u8]) {
        if self.error.is_none() {
            if let Err(e) = self.capture.write(at, frame) {
                self.error = Some(e);
            }
        }
    }
}

/// A delivered copy waiting to be written to the receive taps in arrival
/// order; ordered as a min-heap on (time, sequence).
struct Pending {
    at: Instant,
    seq: u64,
    frame: Vec<u8>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// One direction's transmitter.
struct Direction {
    rng: ChaCha8Rng,
    /// When the serialiser is free.
    busy_until: Instant,
    /// Accepted frames not yet serialised: (end of serialisation, bytes).
    in_flight: VecDeque<(Instant, usize)>,
    /// Sum of the bytes in `in_flight`.
    backlog: usize,
    /// Gilbert–Elliott state.
    bad: bool,
    stats: LinkDirectionStats,
}

impl Direction {
    fn new(rng: ChaCha8Rng) -> Self {
        Direction {
            rng,
            busy_until: Instant::ZERO,
            in_flight: VecDeque::new(),
            backlog: 0,
            bad: false,
            stats: LinkDirectionStats::default(),
        }
    }

    /// Forgets the frames whose serialisation ended by `now`.
    fn drain(&mut self, now: Instant) {
        while let Some(&(done, bytes)) = self.in_flight.front() {
            if done > now {
                break;
            }
            self.in_flight.pop_front();
            self.backlog -= bytes;
        }
    }

    /// Loss on the wire: advances the Gilbert–Elliott chain and draws the
    /// independent loss.
    fn wire_loss(&mut self, faults: &Faults) -> Option<Loss> {
        let mut lost = None;
        if let Some(ge) = &faults.burst {
            let p = if self.bad { ge.loss_bad } else { ge.loss_good };
            if p > 0.0 && bernoulli(&mut self.rng, p) {
                lost = Some(Loss::Burst);
            }
            let flip = if self.bad {
                ge.p_bad_to_good
            } else {
                ge.p_good_to_bad
            };
            if flip > 0.0 && bernoulli(&mut self.rng, flip) {
                self.bad = !self.bad;
            }
        }
        if faults.loss > 0.0 && bernoulli(&mut self.rng, faults.loss) && lost.is_none() {
            lost = Some(Loss::Random);
        }
        lost
    }

    /// Applies the per-copy faults (corruption, the FCS check, reordering)
    /// and counts the delivery; `None` when the FCS check dropped the copy.
    fn finish_copy(
        &mut self,
        config: &LinkConfig,
        to: Side,
        mut frame: Vec<u8>,
        departure: Instant,
        duplicate: bool,
    ) -> Option<LinkDelivery> {
        let faults = &config.faults;
        let mut corrupted = false;
        if faults.corrupt > 0.0
            && faults.corrupt_scope.covers(&frame)
            && bernoulli(&mut self.rng, faults.corrupt)
        {
            let end = corruptible_end(&frame);
            if end > ETHERNET_HEADER {
                let bit = below(&mut self.rng, (end - ETHERNET_HEADER) as u64 * 8) as usize;
                frame[ETHERNET_HEADER + bit / 8] ^= 1 << (bit % 8);
                corrupted = true;
                self.stats.corrupted += 1;
                if faults.fcs_drop > 0.0 && bernoulli(&mut self.rng, faults.fcs_drop) {
                    self.stats.fcs_dropped += 1;
                    return None;
                }
            }
        }
        let mut jitter = Duration::ZERO;
        if faults.reorder > 0.0 && bernoulli(&mut self.rng, faults.reorder) {
            jitter = uniform_duration(&mut self.rng, faults.reorder_delay);
            self.stats.reordered += 1;
        }
        self.stats.delivered_frames += 1;
        self.stats.delivered_bytes += frame.len() as u64;
        Some(LinkDelivery {
            at: departure + config.delay + jitter,
            to,
            frame,
            corrupted,
            duplicate,
            jitter,
        })
    }
}

/// End (exclusive) of the bytes corruption may touch: the IPv4 datagram
/// for an IPv4 frame with a sane total length, else the whole frame.
fn corruptible_end(frame: &[u8]) -> usize {
    if is_ipv4(frame) {
        let at = ETHERNET_HEADER + ipv4::field::LENGTH;
        let total = usize::from(u16::from_be_bytes([frame[at], frame[at + 1]]));
        if total >= ipv4::HEADER_LEN {
            return frame.len().min(ETHERNET_HEADER + total);
        }
    }
    frame.len()
}

/// Whether `frame` is Ethernet II carrying an IPv4 header (EtherType
/// 0x0800, version 4, at least 20 bytes of header).
fn is_ipv4(frame: &[u8]) -> bool {
    frame.len() >= ETHERNET_HEADER + ipv4::HEADER_LEN
        && frame[ethernet::field::ETHERTYPE..ethernet::field::PAYLOAD] == [0x08, 0x00]
        && frame[ETHERNET_HEADER + ipv4::field::VER_IHL] >> 4 == 4
}

/// A full-duplex point-to-point Ethernet link. See the
/// [module documentation](self) for what happens to a frame.
pub struct Link {
    config: LinkConfig,
    /// Indexed by the sending side.
    dirs: [Direction; 2],
    free: Vec<Vec<u8>>,
    taps: Vec<Tap>,
    /// Delivered copies not yet written to the receive taps.
    pending: BinaryHeap<Pending>,
    pending_seq: u64,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .field("taps", &self.taps.len())
            .finish_non_exhaustive()
    }
}

impl Link {
    /// A link with one random stream per direction: `rng_a_to_b` decides
    /// the faults of frames sent by [`Side::A`], `rng_b_to_a` those sent by
    /// [`Side::B`].
    ///
    /// # Panics
    /// If `config` fails [`LinkConfig::validate`].
    pub fn new(config: LinkConfig, rng_a_to_b: ChaCha8Rng, rng_b_to_a: ChaCha8Rng) -> Self {
        if let Err(e) = config.validate() {
            panic!("invalid link configuration: {e}");
        }
        Link {
            config,
            dirs: [Direction::new(rng_a_to_b), Direction::new(rng_b_to_a)],
            free: Vec::new(),
            taps: Vec::new(),
            pending: BinaryHeap::new(),
            pending_seq: 0,
        }
    }

    /// A link whose streams are `seeds.stream("link-a-to-b", index)` and
    /// `seeds.stream("link-b-to-a", index)`, `index` being the link's number
    /// in the scenario.
    ///
    /// # Panics
    /// If `config` fails [`LinkConfig::validate`].
    pub fn seeded(config: LinkConfig, seeds: &Seeds, index: u64) -> Self {
        Self::new(
            config,
            seeds.stream("link-a-to-b", index),
            seeds.stream("link-b-to-a", index),
        )
    }

    /// The configuration.
    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// Replaces the faults from now on (for scripted scenarios); the
    /// Gilbert–Elliott state and the random streams carry on.
    pub fn set_faults(&mut self, faults: Faults) -> Result<(), LinkError> {
        faults.validate()?;
        self.config.faults = faults;
        Ok(())
    }

    /// Whether the link is down at `at`.
    pub fn is_down(&self, at: Instant) -> bool {
        self.config.faults.is_down(at)
    }

    /// When the serialiser of frames sent by `from` is free.
    pub fn busy_until(&self, from: Side) -> Instant {
        self.dirs[from.index()].busy_until
    }

    /// Bytes sent by `from` and accepted whose serialisation has not ended
    /// at `now`.
    pub fn backlog_bytes(&self, from: Side, now: Instant) -> usize {
        let dir = &self.dirs[from.index()];
        dir.in_flight
            .iter()
            .filter(|&&(done, _)| done > now)
            .map(|&(_, bytes)| bytes)
            .sum()
    }

    /// The counters of frames sent by `from`.
    pub fn direction_stats(&self, from: Side) -> &LinkDirectionStats {
        &self.dirs[from.index()].stats
    }

    /// The counters of both directions.
    pub fn stats(&self) -> LinkStats {
        LinkStats {
            a_to_b: self.dirs[0].stats.clone(),
            b_to_a: self.dirs[1].stats.clone(),
        }
    }

    /// Gives a spent frame buffer back to the link, which reuses it for
    /// duplicates (and hands it out with [`take_buffer`](Self::take_buffer)).
    /// At most 256 buffers are kept.
    pub fn recycle(&mut self, frame: Vec<u8>) {
        if self.free.len() < FREE_LIST_MAX && frame.capacity() > 0 {
            self.free.push(frame);
        }
    }

    /// An empty buffer, recycled if one is available.
    pub fn take_buffer(&mut self) -> Vec<u8> {
        let mut buf = self.free.pop().unwrap_or_default();
        buf.clear();
        buf
    }

    /// Starts capturing the link's traffic (both directions) at `point`
    /// into a pcap written to `writer`. Several captures may be attached.
    pub fn attach_capture<W: Write + Send + 'static>(
        &mut self,
        point: TapPoint,
        writer: W,
    ) -> io::Result<()> {
        let capture = PcapCapture::new(Box::new(writer) as Box<dyn Write + Send>)?;
        self.taps.push(Tap {
            point,
            capture,
            error: None,
        });
        Ok(())
    }

    /// Writes the copies delivered by `end` to the receive captures, then
    /// closes every capture (copies arriving after `end` are not written)
    /// and returns what each wrote, or its first error, in attachment
    /// order.
    pub fn finish_captures(&mut self, end: Instant) -> Vec<(TapPoint, io::Result<CaptureSummary>)> {
        self.flush_pending(end);
        self.pending.clear();
        std::mem::take(&mut self.taps)
            .into_iter()
            .map(|tap| {
                let result = match tap.error {
                    Some(e) => Err(e),
                    None => tap.capture.finish().map(|(_, summary)| summary),
                };
                (tap.point, result)
            })
            .collect()
    }

    /// Writes pending copies that arrived by `now` to the receive taps.
    fn flush_pending(&mut self, now: Instant) {
        while self.pending.peek().is_some_and(|p| p.at <= now) {
            let Some(p) = self.pending.pop() else { break };
            for tap in self
                .taps
                .iter_mut()
                .filter(|t| t.point == TapPoint::Receive)
            {
                tap.write(p.at, &p.frame);
            }
            self.recycle(p.frame);
        }
    }

    /// Remembers a delivered copy for the receive taps.
    fn tap_delivery(&mut self, d: &LinkDelivery) {
        if self.taps.iter().any(|t| t.point == TapPoint::Receive) {
            let mut frame = self.take_buffer();
            frame.extend_from_slice(&d.frame);
            self.pending.push(Pending {
                at: d.at,
                seq: self.pending_seq,
                frame,
            });
            self.pending_seq += 1;
        }
    }

    /// Hands `frame` from port `from` to the link at `now`; returns the
    /// copies to deliver to the other port, with their arrival times. See
    /// the [module documentation](self) for the steps applied. Lost frames'
    /// buffers are kept for reuse.
    pub fn send(&mut self, from: Side, frame: Vec<u8>, now: Instant) -> SendResult {
        if !self.taps.is_empty() {
            self.flush_pending(now);
            for tap in self.taps.iter_mut().filter(|t| t.point == TapPoint::Send) {
                tap.write(now, &frame);
            }
        }
        let result = self.transmit(from, frame, now);
        if !self.taps.is_empty() {
            for d in result.iter() {
                self.tap_delivery(d);
            }
        }
        result
    }

    fn transmit(&mut self, from: Side, frame: Vec<u8>, now: Instant) -> SendResult {
        let len = frame.len();
        let config = &self.config;
        let dir = &mut self.dirs[from.index()];
        dir.stats.sent_frames += 1;
        dir.stats.sent_bytes += len as u64;

        if config.faults.is_down(now) {
            dir.stats.count_loss(Loss::Down);
            self.recycle(frame);
            return SendResult::lost(Loss::Down, None);
        }

        dir.drain(now);
        let limit = config.queue_limit_bytes;
        if limit != 0 && dir.backlog > 0 && dir.backlog + len > limit {
            dir.stats.count_loss(Loss::Queue);
            self.recycle(frame);
            return SendResult::lost(Loss::Queue, None);
        }

        let departure = now.max(dir.busy_until) + config.serialisation_time(len);
        dir.busy_until = departure;
        if departure > now {
            dir.in_flight.push_back((departure, len));
            dir.backlog += len;
            dir.stats.max_backlog_bytes = dir.stats.max_backlog_bytes.max(dir.backlog as u64);
        }

        if let Some(cause) = dir.wire_loss(&config.faults) {
            dir.stats.count_loss(cause);
            self.recycle(frame);
            return SendResult::lost(cause, Some(departure));
        }

        let faults = &config.faults;
        let copy = if faults.duplicate > 0.0 && bernoulli(&mut dir.rng, faults.duplicate) {
            dir.stats.duplicated += 1;
            let mut buf = self.free.pop().unwrap_or_default();
            buf.clear();
            buf.extend_from_slice(&frame);
            Some(buf)
        } else {
            None
        };
        let to = from.peer();
        let first = dir.finish_copy(config, to, frame, departure, false);
        let second = copy.and_then(|buf| dir.finish_copy(config, to, buf, departure, true));
        SendResult {
            lost: None,
            departure: Some(departure),
            copies: [first, second],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn ns(n: u64) -> Instant {
        Instant::from_nanos(n)
    }

    fn link(config: LinkConfig, seed: u64) -> Link {
        Link::seeded(config, &Seeds::new(seed), 0)
    }

    fn faulty(faults: Faults) -> LinkConfig {
        LinkConfig {
            bandwidth_bps: 0,
            faults,
            ..LinkConfig::default()
        }
    }

    /// A valid Ethernet/IPv4/UDP frame.
    fn udp_frame(payload_len: usize) -> Vec<u8> {
        let builder = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(1000, 7);
        let payload: Vec<u8> = (0..payload_len).map(|i| (i * 7) as u8).collect();
        let mut frame = Vec::new();
        builder.write(&mut frame, &payload).unwrap();
        frame
    }

    /// Whether the IPv4 header and UDP checksums of `frame` verify.
    fn checksums_ok(frame: &[u8]) -> bool {
        use rusty_stack::checksum::{ones_sum, pseudo_header_sum};
        let ihl = usize::from(frame[14] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
        if ihl < 20 || total < ihl + 8 || 14 + total > frame.len() {
            return false;
        }
        let ip = &frame[14..14 + ihl];
        let udp = &frame[14 + ihl..14 + total];
        let fold = |a: u16, b: u16| {
            let s = u32::from(a) + u32::from(b);
            ((s & 0xffff) + (s >> 16)) as u16
        };
        let pseudo = pseudo_header_sum(
            ip[12..16].try_into().unwrap(),
            ip[16..20].try_into().unwrap(),
            17,
            udp.len() as u16,
        );
        ones_sum(ip) == 0xffff && fold(pseudo, ones_sum(udp)) == 0xffff
    }

    /// Sends `n` frames of `len` bytes from A, one every `gap` ns.
    fn blast(link: &mut Link, n: u64, len: usize, gap: u64) -> Vec<(u64, SendResult)> {
        (0..n)
            .map(|i| (i, link.send(Side::A, vec![i as u8; len], ns(i * gap))))
            .collect()
    }

    #[test]
    fn serialisation_timing_is_exact() {
        let config = LinkConfig::default();
        assert_eq!(config.serialisation_time(1500), Duration::from_nanos(1200));
        assert_eq!(config.serialisation_time(0), Duration::ZERO);
        // 1 byte at 3 b/s: 8/3 s, rounded up.
        let slow = LinkConfig {
            bandwidth_bps: 3,
            ..LinkConfig::default()
        };
        assert_eq!(
            slow.serialisation_time(1),
            Duration::from_nanos(2_666_666_667)
        );
        let inf = LinkConfig {
            bandwidth_bps: 0,
            ..LinkConfig::default()
        };
        assert_eq!(inf.serialisation_time(1 << 30), Duration::ZERO);

        let mut l = link(config, 1);
        let r = l.send(Side::A, vec![0; 1500], ns(1000));
        assert_eq!(r.departure, Some(ns(2200)));
        let d: Vec<_> = r.into_iter().collect();
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].at, d[0].to), (ns(7200), Side::B));
        assert!(!d[0].corrupted && !d[0].duplicate);
        // The other direction has its own serialiser.
        let r = l.send(Side::B, vec![0; 1500], ns(1000));
        assert_eq!(r.iter().next().unwrap().to, Side::A);
        assert_eq!(r.departure, Some(ns(2200)));
    }

    #[test]
    fn back_to_back_frames_queue_up() {
        let mut l = link(LinkConfig::default(), 1);
        let deps: Vec<_> = (0..3)
            .map(|_| l.send(Side::A, vec![0; 1500], ns(0)).departure.unwrap())
            .collect();
        assert_eq!(deps, vec![ns(1200), ns(2400), ns(3600)]);
        assert_eq!(l.busy_until(Side::A), ns(3600));
        assert_eq!(l.backlog_bytes(Side::A, ns(0)), 4500);
        assert_eq!(l.backlog_bytes(Side::A, ns(1200)), 3000);
        // After an idle gap the serialiser starts at once.
        let r = l.send(Side::A, vec![0; 1500], ns(10_000));
        assert_eq!(r.departure, Some(ns(11_200)));
        assert_eq!(l.direction_stats(Side::A).max_backlog_bytes, 4500);
    }

    #[test]
    fn full_queue_tail_drops() {
        let config = LinkConfig {
            bandwidth_bps: 1_000_000_000,
            queue_limit_bytes: 4500,
            ..LinkConfig::default()
        };
        let mut l = link(config, 1);
        let r: Vec<_> = (0..4)
            .map(|_| l.send(Side::A, vec![0; 1500], ns(0)))
            .collect();
        assert!(r[..3].iter().all(|r| r.lost.is_none() && r.len() == 1));
        assert_eq!(r[3].lost, Some(Loss::Queue));
        assert!(r[3].is_empty() && r[3].departure.is_none());
        // The first frame finished at 12 µs: room for one more.
        let r = l.send(Side::A, vec![0; 1500], ns(12_000));
        assert_eq!(r.departure, Some(ns(48_000)));
        assert_eq!(
            l.send(Side::A, vec![0; 1500], ns(12_000)).lost,
            Some(Loss::Queue)
        );
        let s = l.direction_stats(Side::A);
        assert_eq!((s.sent_frames, s.delivered_frames, s.lost_queue), (6, 4, 2));
        assert_eq!(s.max_backlog_bytes, 4500);
        // An idle link accepts even a frame over the limit.
        let mut l = link(
            LinkConfig {
                queue_limit_bytes: 100,
                ..LinkConfig::default()
            },
            1,
        );
        assert!(l.send(Side::A, vec![0; 1500], ns(0)).lost.is_none());
        assert_eq!(l.send(Side::A, vec![0; 60], ns(0)).lost, Some(Loss::Queue));
    }

    #[test]
    fn unlimited_queue_never_drops() {
        let config = LinkConfig {
            bandwidth_bps: 1_000_000,
            queue_limit_bytes: 0,
            ..LinkConfig::default()
        };
        let mut l = link(config, 1);
        for _ in 0..1000 {
            assert!(l.send(Side::A, vec![0; 1500], ns(0)).lost.is_none());
        }
        assert_eq!(l.direction_stats(Side::A).max_backlog_bytes, 1_500_000);
    }

    #[test]
    fn independent_loss_rate_is_p() {
        let p = 0.01;
        let n = 100_000;
        let mut l = link(
            faulty(Faults {
                loss: p,
                ..Faults::default()
            }),
            11,
        );
        let lost = blast(&mut l, n, 64, 100)
            .iter()
            .filter(|(_, r)| r.lost == Some(Loss::Random))
            .count() as f64;
        let mean = n as f64 * p;
        let sigma = (n as f64 * p * (1.0 - p)).sqrt();
        assert!(
            (lost - mean).abs() <= 3.0 * sigma,
            "lost {lost}, expected {mean} ± {}",
            3.0 * sigma
        );
        let s = l.direction_stats(Side::A);
        assert_eq!(s.lost_random as f64, lost);
        assert_eq!(s.delivered_frames + s.lost(), n);
    }

    /// Mean length of the runs of consecutive lost frames.
    fn mean_loss_run(results: &[(u64, SendResult)]) -> f64 {
        let (mut runs, mut lost, mut in_run) = (0u64, 0u64, false);
        for (_, r) in results {
            if r.lost.is_some() {
                lost += 1;
                if !in_run {
                    runs += 1;
                }
                in_run = true;
            } else {
                in_run = false;
            }
        }
        lost as f64 / runs as f64
    }

    #[test]
    fn gilbert_elliott_bursts_are_longer_than_independent_loss() {
        let ge = GilbertElliott {
            p_good_to_bad: 0.01,
            p_bad_to_good: 0.2,
            loss_good: 0.0,
            loss_bad: 1.0,
        };
        let mean = ge.mean_loss();
        assert!((mean - 0.01 / 0.21).abs() < 1e-12);
        let n = 100_000;
        let mut bursty = link(
            faulty(Faults {
                burst: Some(ge),
                ..Faults::default()
            }),
            3,
        );
        let mut indep = link(
            faulty(Faults {
                loss: mean,
                ..Faults::default()
            }),
            3,
        );
        let b = blast(&mut bursty, n, 64, 100);
        let i = blast(&mut indep, n, 64, 100);
        let b_lost = bursty.direction_stats(Side::A).lost_burst as f64;
        let i_lost = indep.direction_stats(Side::A).lost_random as f64;
        assert_eq!(bursty.direction_stats(Side::A).lost_random, 0);
        // Same average loss (bursts are correlated, so a wider tolerance).
        assert!(
            (b_lost / n as f64 - mean).abs() < 0.25 * mean,
            "GE loss {b_lost}"
        );
        assert!(
            (i_lost / n as f64 - mean).abs() < 0.1 * mean,
            "independent loss {i_lost}"
        );
        let (b_run, i_run) = (mean_loss_run(&b), mean_loss_run(&i));
        // Expected runs: 1 / p_bad_to_good = 5 frames vs 1 / (1 - mean) ≈ 1.05.
        assert!(b_run > 4.0 && b_run < 6.0, "GE mean run {b_run}");
        assert!(i_run < 1.2, "independent mean run {i_run}");
    }

    #[test]
    fn duplication_delivers_identical_second_copies() {
        let p = 0.1;
        let n = 100_000;
        let mut l = link(
            faulty(Faults {
                duplicate: p,
                ..Faults::default()
            }),
            5,
        );
        let results = blast(&mut l, n, 100, 100);
        let mut dups = 0u64;
        for (i, r) in &results {
            let copies: Vec<_> = r.iter().collect();
            assert!(!copies[0].duplicate);
            assert_eq!(copies[0].frame, vec![*i as u8; 100]);
            if copies.len() == 2 {
                dups += 1;
                assert!(copies[1].duplicate);
                assert_eq!(copies[1].frame, copies[0].frame);
                assert_eq!(copies[1].at, copies[0].at);
            }
        }
        let s = l.direction_stats(Side::A);
        assert_eq!(s.duplicated, dups);
        assert_eq!(s.delivered_frames, n + dups);
        let sigma = (n as f64 * p * (1.0 - p)).sqrt();
        assert!(
            (dups as f64 - n as f64 * p).abs() <= 3.0 * sigma,
            "{dups} duplicates"
        );
    }

    #[test]
    fn corruption_flips_exactly_one_bit_that_checksums_catch() {
        let mut l = link(
            faulty(Faults {
                corrupt: 1.0,
                ..Faults::default()
            }),
            9,
        );
        let mut positions = std::collections::BTreeSet::new();
        for len in [0, 1, 18, 100, 1000] {
            let original = udp_frame(len);
            assert!(checksums_ok(&original));
            for _ in 0..200 {
                let d: Vec<_> = l
                    .send(Side::A, original.clone(), ns(0))
                    .into_iter()
                    .collect();
                assert!(d[0].corrupted);
                let diff: Vec<(usize, u8)> = original
                    .iter()
                    .zip(&d[0].frame)
                    .enumerate()
                    .filter(|(_, (a, b))| a != b)
                    .map(|(i, (a, b))| (i, a ^ b))
                    .collect();
                assert_eq!(diff.len(), 1, "{diff:?}");
                let (at, bits) = diff[0];
                assert_eq!(bits.count_ones(), 1);
                assert!(at >= 14 && at < original.len());
                assert!(!checksums_ok(&d[0].frame), "flip at byte {at} not caught");
                positions.insert(at);
            }
        }
        assert!(positions.contains(&14) || positions.len() > 100);
        // Ethernet padding (a 60-byte frame carrying a 46-byte datagram) is
        // never touched.
        let mut padded = udp_frame(0);
        padded.resize(60, 0);
        for _ in 0..500 {
            let d = l
                .send(Side::A, padded.clone(), ns(0))
                .into_iter()
                .next()
                .unwrap();
            assert_eq!(d.frame[42..], padded[42..]);
            assert!(!checksums_ok(&d.frame));
        }
        // Non-IPv4 frames: anything after the Ethernet header; tiny frames
        // stay intact.
        let d = l
            .send(Side::A, vec![0; 20], ns(0))
            .into_iter()
            .next()
            .unwrap();
        assert!(d.corrupted && d.frame[..14] == [0; 14]);
        let d = l
            .send(Side::A, vec![0; 14], ns(0))
            .into_iter()
            .next()
            .unwrap();
        assert!(!d.corrupted && d.frame == [0; 14]);
    }

    #[test]
    fn reordering_reorders_arrivals() {
        let mut l = link(
            faulty(Faults {
                reorder: 0.2,
                reorder_delay: Duration::from_micros(50),
                ..Faults::default()
            }),
            13,
        );
        let results = blast(&mut l, 10_000, 64, 1000);
        let arrivals: Vec<Instant> = results
            .iter()
            .map(|(_, r)| r.iter().next().unwrap().at)
            .collect();
        let inversions = arrivals.windows(2).filter(|w| w[1] < w[0]).count();
        assert!(inversions > 100, "{inversions} inversions");
        for (i, (_, r)) in results.iter().enumerate() {
            let d = r.iter().next().unwrap();
            assert!(d.jitter <= Duration::from_micros(50));
            assert_eq!(
                d.at,
                ns(i as u64 * 1000) + Duration::from_micros(5) + d.jitter
            );
        }
        let jittered = results
            .iter()
            .filter(|(_, r)| r.iter().next().unwrap().jitter > Duration::ZERO)
            .count() as u64;
        let s = l.direction_stats(Side::A);
        assert!(
            s.reordered >= jittered && s.reordered.abs_diff(2000) < 120,
            "{}",
            s.reordered
        );
    }

    #[test]
    fn partitions_drop_exactly_the_frames_sent_inside() {
        let window = Window {
            from: Instant::from_millis(1),
            until: Instant::from_millis(2),
        };
        let mut l = link(
            faulty(Faults {
                down: vec![window],
                ..Faults::default()
            }),
            1,
        );
        for (i, r) in blast(&mut l, 300, 64, 10_000) {
            let t = ns(i * 10_000);
            let inside = t >= window.from && t < window.until;
            assert_eq!(r.lost == Some(Loss::Down), inside, "at {t}");
            assert_eq!(r.is_empty(), inside);
        }
        assert_eq!(l.direction_stats(Side::A).lost_down, 100);
        assert!(l.is_down(Instant::from_millis(1)) && !l.is_down(Instant::from_millis(2)));
    }

    #[test]
    fn flaps_are_periodic() {
        let flap = Flap {
            period: Duration::from_millis(1),
            down_for: Duration::from_micros(200),
            start: None,
        };
        let mut l = link(
            faulty(Faults {
                flap: Some(flap),
                ..Faults::default()
            }),
            1,
        );
        let results = blast(&mut l, 5_000, 64, 1_000);
        for (i, r) in &results {
            let t = i * 1_000;
            let down = t >= 1_000_000 && (t - 1_000_000) % 1_000_000 < 200_000;
            assert_eq!(r.lost == Some(Loss::Down), down, "at {t} ns");
        }
        // Four outages of 200 frames each in 5 ms (at 1, 2, 3, 4 ms).
        assert_eq!(l.direction_stats(Side::A).lost_down, 800);
        let started = Flap {
            start: Some(Instant::from_micros(10)),
            ..flap
        };
        assert!(!started.is_down(Instant::from_micros(9)));
        assert!(started.is_down(Instant::from_micros(10)));
        assert!(!started.is_down(Instant::from_micros(210)));
        assert!(started.is_down(Instant::from_micros(1_010)));
    }

    fn all_faults() -> LinkConfig {
        LinkConfig {
            bandwidth_bps: 1_000_000_000,
            queue_limit_bytes: 20_000,
            faults: Faults {
                loss: 0.02,
                burst: Some(GilbertElliott {
                    p_good_to_bad: 0.01,
                    p_bad_to_good: 0.3,
                    loss_good: 0.0,
                    loss_bad: 0.8,
                }),
                duplicate: 0.05,
                reorder: 0.1,
                reorder_delay: Duration::from_micros(30),
                corrupt: 0.05,
                corrupt_scope: CorruptScope::All,
                fcs_drop: 0.0,
                down: vec![Window {
                    from: Instant::from_micros(500),
                    until: Instant::from_micros(700),
                }],
                flap: Some(Flap {
                    period: Duration::from_millis(3),
                    down_for: Duration::from_micros(100),
                    start: None,
                }),
            },
            ..LinkConfig::default()
        }
    }

    /// Both directions, all faults, frames of varying sizes.
    fn run(seed: u64) -> (Vec<LinkDelivery>, LinkStats) {
        let mut l = link(all_faults(), seed);
        let mut out = Vec::new();
        for i in 0..20_000u64 {
            let side = if i % 3 == 0 { Side::B } else { Side::A };
            let frame = udp_frame((i % 1400) as usize);
            out.extend(l.send(side, frame, ns(i * 400)));
            if let Some(spent) = out.len().checked_sub(100).map(|k| out[k].frame.clone()) {
                l.recycle(spent);
            }
        }
        (out, l.stats())
    }

    #[test]
    fn same_seed_same_deliveries() {
        let (a, sa) = run(77);
        let (b, sb) = run(77);
        assert_eq!(a, b);
        assert_eq!(sa, sb);
        let (c, _) = run(78);
        assert_ne!(a, c);
        for s in [&sa.a_to_b, &sa.b_to_a] {
            assert!(s.lost_random > 0 && s.lost_burst > 0 && s.lost_down > 0 && s.lost_queue > 0);
            assert!(s.duplicated > 0 && s.corrupted > 0 && s.reordered > 0);
            assert_eq!(s.delivered_frames, s.sent_frames - s.lost() + s.duplicated);
        }
        let json = serde_json::to_value(&sa).unwrap();
        assert!(json["a_to_b"]["lost_burst"].as_u64().unwrap() > 0);
    }

    #[test]
    fn directions_do_not_perturb_each_other() {
        // A's decisions are the same whether or not B sends.
        let config = all_faults();
        let mut alone = link(config.clone(), 4);
        let mut busy = link(config, 4);
        for i in 0..5_000u64 {
            let t = ns(i * 2_000);
            let x: Vec<_> = alone.send(Side::A, udp_frame(200), t).into_iter().collect();
            busy.send(Side::B, udp_frame(300), t);
            let y: Vec<_> = busy.send(Side::A, udp_frame(200), t).into_iter().collect();
            assert_eq!(x, y);
        }
    }

    #[test]
    fn arp_only_corruption_spares_ipv4_and_the_fcs_drops_what_it_catches() {
        let arp = {
            let mut f = vec![0u8; 42];
            f[12..14].copy_from_slice(&[0x08, 0x06]);
            f
        };
        let ipv4 = {
            let mut f = vec![0u8; 54];
            f[12..14].copy_from_slice(&[0x08, 0x00]);
            f[14] = 0x45;
            f[16..18].copy_from_slice(&40u16.to_be_bytes());
            f
        };
        let config = |fcs_drop: f64| LinkConfig {
            faults: Faults {
                corrupt: 1.0,
                corrupt_scope: CorruptScope::ArpOnly,
                fcs_drop,
                ..Faults::default()
            },
            ..LinkConfig::default()
        };
        let mut escaped = link(config(0.0), 3);
        for _ in 0..20 {
            let d: Vec<_> = escaped
                .send(Side::A, arp.clone(), Instant::ZERO)
                .into_iter()
                .collect();
            assert!(d[0].corrupted && d[0].frame != arp);
            let d: Vec<_> = escaped
                .send(Side::A, ipv4.clone(), Instant::ZERO)
                .into_iter()
                .collect();
            assert!(!d[0].corrupted && d[0].frame == ipv4);
        }
        // Half the corrupted copies caught by the FCS, none delivered damaged
        // when all are caught.
        let mut half = link(config(0.5), 3);
        let mut caught = link(config(1.0), 3);
        let mut delivered = 0;
        for _ in 0..400 {
            delivered += half.send(Side::A, arp.clone(), Instant::ZERO).len();
            assert!(caught.send(Side::A, arp.clone(), Instant::ZERO).is_empty());
        }
        let s = half.stats().a_to_b;
        assert_eq!(s.corrupted, 400);
        assert_eq!(s.fcs_dropped + delivered as u64, 400);
        assert!((150..=250).contains(&s.fcs_dropped), "{s:?}");
        assert_eq!(caught.stats().a_to_b.fcs_dropped, 400);
        assert_eq!(caught.stats().a_to_b.delivered_frames, 0);
        let bad = Faults {
            fcs_drop: 1.5,
            ..Faults::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("fcs_drop"));
    }

    #[test]
    fn ipv4_only_corruption_spares_arp() {
        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        let config = |scope| {
            faulty(Faults {
                corrupt: 1.0,
                corrupt_scope: scope,
                ..Faults::default()
            })
        };
        let mut all = link(config(CorruptScope::All), 3);
        let mut ipv4 = link(config(CorruptScope::Ipv4Only), 3);
        for _ in 0..20 {
            let d = all
                .send(Side::A, arp.clone(), ns(0))
                .into_iter()
                .next()
                .unwrap();
            assert!(d.corrupted && d.frame != arp);
            let d = ipv4
                .send(Side::A, arp.clone(), ns(0))
                .into_iter()
                .next()
                .unwrap();
            assert!(!d.corrupted && d.frame == arp);
            let udp = udp_frame(40);
            let d = ipv4
                .send(Side::A, udp.clone(), ns(0))
                .into_iter()
                .next()
                .unwrap();
            assert!(d.corrupted && !checksums_ok(&d.frame));
        }
        assert_eq!(ipv4.stats().total().corrupted, 20);
        let c: Faults = toml::from_str("corrupt = 0.1\ncorrupt_scope = \"ipv4-only\"").unwrap();
        assert_eq!(c.corrupt_scope, CorruptScope::Ipv4Only);
        assert!(toml::from_str::<Faults>("corrupt_scope = \"ip\"").is_err());
        assert_eq!(Faults::default().corrupt_scope, CorruptScope::All);
    }

    #[test]
    fn config_reads_from_toml_with_units() {
        let text = r#"
            bandwidth_bps = 1_000_000_000
            delay = "50us"
            [faults]
            loss = 0.01
            reorder = 0.1
            reorder_delay = 0.000002
            down = [ { from = 1, until = "1.5s" } ]
            burst = { p_good_to_bad = 0.01, p_bad_to_good = 0.25 }
            flap = { period = "10ms", down_for = "1ms", start = "2ms" }
        "#;
        let c: LinkConfig = toml::from_str(text).unwrap();
        assert_eq!(c.bandwidth_bps, 1_000_000_000);
        assert_eq!(c.delay, Duration::from_micros(50));
        assert_eq!(c.queue_limit_bytes, 1 << 20);
        assert_eq!(c.faults.reorder_delay, Duration::from_micros(2));
        assert_eq!(
            c.faults.down,
            vec![Window {
                from: Instant::from_secs(1),
                until: Instant::from_millis(1500)
            }]
        );
        let ge = c.faults.burst.unwrap();
        assert_eq!((ge.loss_good, ge.loss_bad), (0.0, 1.0));
        assert_eq!(c.faults.flap.unwrap().start, Some(Instant::from_millis(2)));
        assert!(c.validate().is_ok());
        assert!(!c.faults.is_none());
        assert!(LinkConfig::default().faults.is_none());

        // Serialising gives units back, and reads back equal.
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains(r#""delay":"50us""#), "{json}");
        assert_eq!(serde_json::from_str::<LinkConfig>(&json).unwrap(), c);
        let empty: LinkConfig = toml::from_str("").unwrap();
        assert_eq!(empty, LinkConfig::default());

        // Typos and bad values are errors.
        assert!(toml::from_str::<LinkConfig>("delai = 1").is_err());
        assert!(toml::from_str::<LinkConfig>("[faults]\nlos = 0.1").is_err());
        assert!(toml::from_str::<LinkConfig>(r#"delay = "5""#).is_err());
        assert!(toml::from_str::<LinkConfig>(r#"delay = "5 parsecs""#).is_err());
        assert!(toml::from_str::<LinkConfig>("delay = -1").is_err());
        let bad: LinkConfig = toml::from_str("[faults]\nloss = 1.5").unwrap();
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("faults.loss"));
    }

    #[test]
    fn duration_parsing_is_exact() {
        use serde_time::{format_duration, parse_duration};
        let d = |s: &str| parse_duration(s).map(Duration::as_nanos);
        assert_eq!(d("5us"), Ok(5_000));
        assert_eq!(d("5µs"), Ok(5_000));
        assert_eq!(d(" 1.5 ms "), Ok(1_500_000));
        assert_eq!(d("0.1s"), Ok(100_000_000));
        assert_eq!(d(".5ns"), Ok(1));
        assert_eq!(d("18446744073709551615ns"), Ok(u64::MAX));
        assert!(d("18446744073709551616ns").is_err());
        assert!(d("1.2.3s").is_err() && d("s").is_err() && d(".s").is_err() && d("-1s").is_err());
        for n in [
            0,
            1,
            999,
            1_000,
            1_200,
            5_000,
            3_000_000,
            2_000_000_000,
            u64::MAX,
        ] {
            let f = format_duration(Duration::from_nanos(n));
            assert_eq!(d(&f), Ok(n), "{f}");
        }
        assert_eq!(format_duration(Duration::from_micros(5)), "5us");
    }

    #[test]
    fn validation_rejects_nonsense() {
        let with = |f: Faults| LinkConfig {
            faults: f,
            ..LinkConfig::default()
        };
        assert!(with(Faults {
            duplicate: f64::NAN,
            ..Faults::default()
        })
        .validate()
        .is_err());
        assert!(with(Faults {
            corrupt: -0.1,
            ..Faults::default()
        })
        .validate()
        .is_err());
        let ge = GilbertElliott {
            p_good_to_bad: 0.1,
            p_bad_to_good: 2.0,
            loss_good: 0.0,
            loss_bad: 1.0,
        };
        let err = with(Faults {
            burst: Some(ge),
            ..Faults::default()
        })
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("p_bad_to_good"), "{err}");
        let window = Window {
            from: Instant::from_secs(2),
            until: Instant::from_secs(1),
        };
        assert!(with(Faults {
            down: vec![window],
            ..Faults::default()
        })
        .validate()
        .is_err());
        let flap = Flap {
            period: Duration::from_millis(1),
            down_for: Duration::from_millis(2),
            start: None,
        };
        assert!(with(Faults {
            flap: Some(flap),
            ..Faults::default()
        })
        .validate()
        .is_err());
        let mut l = link(LinkConfig::default(), 0);
        assert!(l
            .set_faults(Faults {
                loss: 2.0,
                ..Faults::default()
            })
            .is_err());
    }

    #[test]
    #[should_panic(expected = "invalid link configuration")]
    fn new_panics_on_invalid_config() {
        link(
            faulty(Faults {
                loss: 7.0,
                ..Faults::default()
            }),
            0,
        );
    }

    #[test]
    fn recycled_buffers_are_reused() {
        let mut l = link(LinkConfig::default(), 0);
        let mut buf = Vec::with_capacity(4096);
        buf.push(1);
        let ptr = buf.as_ptr();
        l.recycle(buf);
        let again = l.take_buffer();
        assert!(again.is_empty() && again.capacity() == 4096 && again.as_ptr() == ptr);
        assert_eq!(l.take_buffer().capacity(), 0);
    }

    /// A `Write` whose bytes the test can read after the link drops it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn captures_record_sent_and_delivered_frames() {
        let config = LinkConfig {
            faults: Faults {
                loss: 0.1,
                duplicate: 0.1,
                corrupt: 0.1,
                reorder: 0.3,
                reorder_delay: Duration::from_micros(20),
                ..Faults::default()
            },
            ..LinkConfig::default()
        };
        let mut l = link(config, 21);
        let (tx, rx) = (Shared::default(), Shared::default());
        l.attach_capture(TapPoint::Send, tx.clone()).unwrap();
        l.attach_capture(TapPoint::Receive, rx.clone()).unwrap();
        let mut sent = Vec::new();
        let mut delivered = Vec::new();
        for i in 0..2_000u64 {
            let side = if i % 2 == 0 { Side::A } else { Side::B };
            let frame = udp_frame((i % 300) as usize);
            let t = ns(i * 2_000);
            sent.push((t, frame.clone()));
            delivered.extend(l.send(side, frame, t).into_iter().map(|d| (d.at, d.frame)));
        }
        let end = ns(2_000 * 2_000);
        let summaries = l.finish_captures(end);
        assert_eq!(summaries.len(), 2);
        let tx_bytes = tx.0.lock().unwrap().clone();
        let rx_bytes = rx.0.lock().unwrap().clone();
        let s0 = summaries[0].1.as_ref().unwrap();
        assert_eq!((summaries[0].0, s0.frames), (TapPoint::Send, 2_000));
        assert_eq!(s0.bytes, tx_bytes.len() as u64);

        // The send tap: every frame as sent, checksums intact.
        let tx_frames = crate::net::pcap::read_pcap(&tx_bytes).unwrap();
        assert_eq!(tx_frames, sent);
        assert!(tx_frames.iter().all(|(_, f)| checksums_ok(f)));

        // The receive tap: the deliveries, in arrival order (stable for
        // equal times), within the run.
        delivered.retain(|(at, _)| *at <= end);
        delivered.sort_by_key(|(at, _)| *at);
        let rx_frames = crate::net::pcap::read_pcap(&rx_bytes).unwrap();
        assert_eq!(rx_frames, delivered);
        assert!(rx_frames.iter().any(|(_, f)| !checksums_ok(f)));
        assert!(rx_frames.len() < 2_000);
        // Finishing twice finds nothing left.
        assert!(l.finish_captures(end).is_empty());
    }

    proptest::proptest! {
        /// Invariants for any configuration and traffic: every frame is
        /// accounted for, departures follow the serialiser, arrivals come
        /// after departure plus delay, and the backlog respects the limit.
        #[test]
        fn every_frame_is_accounted_for(
            seed in 0u64..1000,
            bandwidth in proptest::prop_oneof![proptest::strategy::Just(0u64), 1_000_000u64..100_000_000_000],
            limit in 0usize..20_000,
            loss in 0.0f64..0.5,
            duplicate in 0.0f64..0.5,
            reorder in 0.0f64..0.5,
            corrupt in 0.0f64..0.5,
            sends in proptest::collection::vec((0u64..20_000, 0usize..1600, proptest::bool::ANY), 1..200),
        ) {
            let config = LinkConfig {
                bandwidth_bps: bandwidth,
                queue_limit_bytes: limit,
                faults: Faults {
                    loss,
                    duplicate,
                    reorder,
                    reorder_delay: Duration::from_micros(10),
                    corrupt,
                    down: vec![Window { from: ns(100_000), until: ns(150_000) }],
                    ..Faults::default()
                },
                ..LinkConfig::default()
            };
            let mut l = link(config.clone(), seed);
            let mut now = 0;
            let mut last_departure = [Instant::ZERO; 2];
            let mut longest = 0;
            for (gap, len, from_b) in sends {
                now += gap;
                longest = longest.max(len);
                let from = if from_b { Side::B } else { Side::A };
                let r = l.send(from, vec![0x5a; len], ns(now));
                if let Some(dep) = r.departure {
                    let last = &mut last_departure[from.index()];
                    proptest::prop_assert!(dep >= *last && dep >= ns(now));
                    *last = dep;
                }
                proptest::prop_assert_eq!(r.is_empty(), r.lost.is_some());
                for d in &r {
                    proptest::prop_assert_eq!(d.to, from.peer());
                    proptest::prop_assert_eq!(d.frame.len(), len);
                    proptest::prop_assert_eq!(d.at, r.departure.unwrap() + config.delay + d.jitter);
                }
                if limit > 0 {
                    let backlog = l.backlog_bytes(from, ns(now));
                    // Only an idle link takes a frame over the limit.
                    proptest::prop_assert!(backlog <= limit.max(longest));
                }
            }
            for side in Side::BOTH {
                let s = l.direction_stats(side);
                proptest::prop_assert_eq!(s.delivered_frames + s.lost(), s.sent_frames + s.duplicated);
            }
        }
    }
}
