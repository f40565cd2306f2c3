//! Exact replay: the capture's incoming frames at their recorded times
//! into a fresh stack; what it sends must be what the capture shows it
//! sent, frame for frame, byte for byte.

use rusty_stack::nic::pair::PairDriver;
use rusty_stack::tcp::App;
use rusty_stack::time::Instant;
use rusty_stack::wire::pretty::Tracer;
use rusty_stack::Stack;
use serde::Serialize;

use super::rewrite::TcpFrame;
use super::settings::Settings;
use super::{delivered_to, drain, inject, sent_by, with_stack, Capture, ReplayError, WithStack};

/// How an exact replay went.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ExactReport {
    /// Frames in the capture.
    pub frames: usize,
    /// Of those, frames fed to the stack (delivered to it).
    pub fed: usize,
    /// Of those, frames the stack sent in the capture.
    pub expected: usize,
    /// Frames the replayed stack sent.
    pub emitted: usize,
    /// Leading sent frames that matched byte for byte.
    pub matched: usize,
    /// The first difference, if any.
    pub divergence: Option<FrameDivergence>,
}

/// The first frame where the replay and the capture part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FrameDivergence {
    /// Index of the frame among those the stack sent (0 for the first).
    pub index: usize,
    /// Nanoseconds since the replay started (the stack's creation).
    pub at_ns: u64,
    /// The captured frame, decoded; `None` when the capture had no more.
    pub expected: Option<String>,
    /// The replayed frame, decoded; `None` when the replay sent no more.
    pub got: Option<String>,
    /// The first differing byte and the header field it lies in.
    pub first_difference: Option<String>,
}

/// Replays `capture` into a stack built from `settings`.
pub fn replay(capture: &Capture, settings: &Settings) -> Result<ExactReport, ReplayError> {
    let first = capture
        .frames
        .iter()
        .map(|(t, _)| *t)
        .min()
        .unwrap_or(Instant::ZERO);
    let start = settings
        .start_ns
        .map_or(first, Instant::from_nanos)
        .min(first);
    with_stack(
        settings,
        start,
        Exact {
            capture,
            settings,
            start,
        },
    )
}

struct Exact<'a> {
    capture: &'a Capture,
    settings: &'a Settings,
    start: Instant,
}

impl WithStack for Exact<'_> {
    type Output = ExactReport;

    fn with<A: App>(
        self,
        mut stack: Stack<A>,
        mut driver: PairDriver,
        mut peer: PairDriver,
    ) -> ExactReport {
        let mac = self.settings.mac;
        let mut frames: Vec<&(Instant, Vec<u8>)> = self.capture.frames.iter().collect();
        // Stable: equal stamps keep file order.
        frames.sort_by_key(|(t, _)| *t);
        let expected: Vec<&(Instant, Vec<u8>)> = frames
            .iter()
            .copied()
            .filter(|(_, f)| sent_by(mac, f))
            .collect();
        let mut report = ExactReport {
            frames: frames.len(),
            expected: expected.len(),
            ..ExactReport::default()
        };
        let mut emitted: Vec<Vec<u8>> = Vec::new();
        let mut i = 0;
        while i < frames.len() {
            let now = frames[i].0;
            while i < frames.len() && frames[i].0 == now {
                let frame = &frames[i].1;
                if delivered_to(mac, frame) {
                    inject(&mut peer, frame);
                    report.fed += 1;
                }
                i += 1;
            }
            driver.set_now(now);
            // As the examples' loop: poll while the stack has work.
            for _ in 0..1000 {
                if !stack.poll(&mut driver, now) {
                    break;
                }
            }
            for frame in drain(&mut peer) {
                emitted.push(frame);
                let k = emitted.len() - 1;
                if report.divergence.is_none() {
                    match expected.get(k) {
                        Some((_, want)) if *want == emitted[k] => report.matched += 1,
                        want => {
                            report.divergence = Some(divergence(
                                k,
                                now.saturating_since(self.start).as_nanos(),
                                want.map(|(_, w)| &w[..]),
                                Some(&emitted[k]),
                            ))
                        }
                    }
                }
            }
        }
        report.emitted = emitted.len();
        if report.divergence.is_none() && emitted.len() < expected.len() {
            let (at, want) = expected[emitted.len()];
            report.divergence = Some(divergence(
                emitted.len(),
                at.saturating_since(self.start).as_nanos(),
                Some(want),
                None,
            ));
        }
        report
    }
}

fn divergence(
    index: usize,
    at_ns: u64,
    want: Option<&[u8]>,
    got: Option<&[u8]>,
) -> FrameDivergence {
    // The tracer numbers a SYN's sequence 0; the absolute numbers follow.
    let describe = |f: &[u8]| {
        let line = Tracer::new().line(f);
        match TcpFrame::parse(f) {
            Some(t) => format!("{line} (absolute seq {} ack {})", t.seq(f), t.ack(f)),
            None => line,
        }
    };
    let first_difference = match (want, got) {
        (Some(w), Some(g)) => {
            let at = w
                .iter()
                .zip(g)
                .position(|(a, b)| a != b)
                .unwrap_or(w.len().min(g.len()));
            Some(format!(
                "byte {at} ({}): captured {}, replayed {}",
                field_at(w, at),
                w.get(at)
                    .map_or("end of frame".into(), |b| format!("0x{b:02x}")),
                g.get(at)
                    .map_or("end of frame".into(), |b| format!("0x{b:02x}")),
            ))
        }
        _ => None,
    };
    FrameDivergence {
        index,
        at_ns,
        expected: want.map(describe),
        got: got.map(describe),
        first_difference,
    }
}

/// The header field byte `at` of an Ethernet/IPv4 frame lies in.
pub fn field_at(frame: &[u8], at: usize) -> String {
    use rusty_stack::wire::{ethernet, ipv4, tcp};
    if at < ethernet::HEADER_LEN {
        return match at {
            0..=5 => "ethernet destination",
            6..=11 => "ethernet source",
            _ => "ethertype",
        }
        .into();
    }
    let ip = at - ethernet::HEADER_LEN;
    let is_ipv4 =
        frame.get(ethernet::field::ETHERTYPE..ethernet::field::PAYLOAD) == Some(&[0x08, 0x00]);
    if !is_ipv4 {
        return format!("payload byte {ip}");
    }
    let ihl = frame
        .get(ethernet::HEADER_LEN + ipv4::field::VER_IHL)
        .map_or(ipv4::HEADER_LEN, |b| usize::from(b & 0x0f) * 4);
    if ip < ihl {
        return match ip {
            ipv4::field::VER_IHL => "ipv4 version/ihl",
            ipv4::field::DSCP_ECN => "ipv4 dscp/ecn",
            2..=3 => "ipv4 total length",
            4..=5 => "ipv4 identification",
            6..=7 => "ipv4 flags/fragment",
            ipv4::field::TTL => "ipv4 ttl",
            ipv4::field::PROTOCOL => "ipv4 protocol",
            10..=11 => "ipv4 checksum",
            12..=15 => "ipv4 source",
            16..=19 => "ipv4 destination",
            _ => "ipv4 options",
        }
        .into();
    }
    let proto = frame
        .get(ethernet::HEADER_LEN + ipv4::field::PROTOCOL)
        .copied();
    let t = ip - ihl;
    if proto != Some(6) {
        return format!("ip payload byte {t}");
    }
    let data_off = frame
        .get(ethernet::HEADER_LEN + ihl + tcp::field::DATA_OFF)
        .map_or(tcp::HEADER_LEN, |b| usize::from(b >> 4) * 4);
    match t {
        0..=1 => "tcp source port".into(),
        2..=3 => "tcp destination port".into(),
        4..=7 => "tcp sequence number".into(),
        8..=11 => "tcp acknowledgment number".into(),
        tcp::field::DATA_OFF => "tcp data offset".into(),
        tcp::field::FLAGS => "tcp flags".into(),
        14..=15 => "tcp window".into(),
        16..=17 => "tcp checksum".into(),
        18..=19 => "tcp urgent pointer".into(),
        _ if t < data_off => "tcp options".into(),
        _ => format!("tcp payload byte {}", t - data_off),
    }
}
