//! Adaptive replay: Rusty plays the remote peer of every TCP flow in a
//! capture against a live Rusty instance, like tcpliveplay.
//!
//! For each flow the peer opened (its SYN is in the capture), a fresh
//! stack is built from the settings and the peer's captured segments are
//! sent to it in order: each no earlier than its recorded time, and only
//! once the live stack has sent everything the segment acknowledges. The
//! acknowledgment number, SACK blocks and echoed timestamp move to the
//! live stack's sequence space; the peer's own sequence numbers, window
//! and options stay as captured. The replayer answers the live stack's
//! ARP requests for the peer. The live stack's byte stream is compared
//! with the one the capture shows it sent: the flow completes when every
//! captured segment went out and the live stack sent the same bytes (and
//! its FIN where the capture has one); it diverges at the first differing
//! byte, a reset, extra bytes, or a stall (the live stack stops sending
//! before the peer's next segment may go).

use std::collections::BTreeMap;

use rusty_stack::nic::pair::PairDriver;
use rusty_stack::tcp::App;
use rusty_stack::time::{Duration, Instant};
use rusty_stack::wire::tcp::TcpFlags;
use rusty_stack::wire::{
    arp, ethernet, ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetFrame, EthernetRepr,
    Ipv4Addr, MacAddr,
};
use rusty_stack::Stack;
use serde::Serialize;

use super::rewrite::TcpFrame;
use super::settings::Settings;
use super::{drain, inject, sent_by, with_stack, Capture, ReplayError, WithStack};

/// How long past a flow's last captured frame the live stack may take.
const GRACE: Duration = Duration::from_secs(120);

/// How one flow went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowOutcome {
    /// Every segment played, the same bytes came back.
    Completed,
    /// The live stack parted from the capture (see `why`).
    Diverged,
    /// Not playable (see `why`).
    Skipped,
}

/// One flow's replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FlowReport {
    /// `peer:port -> stack:port`.
    pub flow: String,
    /// What happened.
    pub outcome: FlowOutcome,
    /// Why it diverged or was skipped.
    pub why: Option<String>,
    /// The peer's captured segments, and how many were played.
    pub peer_segments: usize,
    /// Segments sent to the live stack.
    pub played: usize,
    /// Bytes the capture shows the stack sending (to its FIN or last byte).
    pub stack_bytes_captured: u64,
    /// Bytes the live stack sent.
    pub stack_bytes_live: u64,
    /// Where in the stack's byte stream it diverged.
    pub at_offset: Option<u64>,
    /// Rounds of the replay loop (peer segments sent, the live stack
    /// polled, the clock moved on): the work the replay took.
    pub rounds: u64,
}

/// The report of an adaptive replay.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AdaptiveReport {
    /// One entry per TCP flow, in order of first appearance.
    pub flows: Vec<FlowReport>,
}

impl AdaptiveReport {
    /// Whether every flow that was played completed (and one was played).
    pub fn all_completed(&self) -> bool {
        self.flows
            .iter()
            .any(|f| f.outcome == FlowOutcome::Completed)
            && self
                .flows
                .iter()
                .all(|f| f.outcome != FlowOutcome::Diverged)
    }
}

/// A flow as the capture shows it.
#[derive(Debug)]
struct CapturedFlow {
    peer: (Ipv4Addr, u16),
    local_port: u16,
    peer_mac: MacAddr,
    /// The peer's segments, in capture order.
    peer_segments: Vec<(Instant, Vec<u8>)>,
    /// The stack's segments, in capture order.
    stack_segments: Vec<Vec<u8>>,
    /// The capture begins with the peer's SYN; else why not.
    opened_by_peer: Result<(), &'static str>,
    last_at: Instant,
}

/// Plays every flow of `capture` against stacks built from `settings`.
pub fn replay(capture: &Capture, settings: &Settings) -> Result<AdaptiveReport, ReplayError> {
    let mut report = AdaptiveReport::default();
    for flow in flows(capture, settings) {
        let name = format!(
            "{}:{} -> {}:{}",
            flow.peer.0,
            flow.peer.1,
            settings.ip.addr(),
            flow.local_port
        );
        let mut r = FlowReport {
            flow: name,
            outcome: FlowOutcome::Skipped,
            why: None,
            peer_segments: flow.peer_segments.len(),
            played: 0,
            stack_bytes_captured: 0,
            stack_bytes_live: 0,
            at_offset: None,
            rounds: 0,
        };
        if let Err(why) = flow.opened_by_peer {
            r.why = Some(why.to_string());
            report.flows.push(r);
            continue;
        }
        let start = flow.peer_segments[0].0;
        let r = with_stack(
            settings,
            start,
            Play {
                flow: &flow,
                settings,
                report: r,
            },
        )?;
        report.flows.push(r);
    }
    Ok(report)
}

/// Groups the capture's TCP segments to and from the stack by flow.
fn flows(capture: &Capture, settings: &Settings) -> Vec<CapturedFlow> {
    let me = settings.ip.addr();
    let mut order: Vec<(Ipv4Addr, u16, u16)> = Vec::new();
    let mut by_key: BTreeMap<(Ipv4Addr, u16, u16), CapturedFlow> = BTreeMap::new();
    for (at, frame) in &capture.frames {
        let Some(t) = TcpFrame::parse(frame) else {
            continue;
        };
        let from_stack = t.src_ip(frame) == me && sent_by(settings.mac, frame);
        let key = if from_stack {
            (t.dst_ip(frame), t.dst_port(frame), t.src_port(frame))
        } else if t.dst_ip(frame) == me {
            (t.src_ip(frame), t.src_port(frame), t.dst_port(frame))
        } else {
            continue;
        };
        let flow = by_key.entry(key).or_insert_with(|| {
            order.push(key);
            let flags = t.flags(frame);
            let opened_by_peer = if from_stack {
                Err("the stack opened it: adaptive replay plays the peers of flows they opened")
            } else if flags.contains(TcpFlags::SYN) && !t.has_ack(frame) {
                Ok(())
            } else {
                Err("the capture starts after the handshake")
            };
            CapturedFlow {
                peer: (key.0, key.1),
                local_port: key.2,
                peer_mac: MacAddr([0; 6]),
                peer_segments: Vec::new(),
                stack_segments: Vec::new(),
                opened_by_peer,
                last_at: *at,
            }
        });
        flow.last_at = flow.last_at.max(*at);
        if from_stack {
            flow.stack_segments.push(frame.clone());
        } else {
            if flow.peer_segments.is_empty() {
                let mut mac = [0u8; 6];
                mac.copy_from_slice(&frame[ethernet::field::SRC..ethernet::field::SRC + 6]);
                flow.peer_mac = MacAddr(mac);
            }
            flow.peer_segments.push((*at, frame.clone()));
        }
    }
    order
        .into_iter()
        .filter_map(|k| by_key.remove(&k))
        .collect()
}

/// The stack's byte stream as the capture shows it: bytes by offset from
/// its ISN + 1, and where its FIN sits.
///
/// Kept as runs of known bytes (sorted, neither overlapping nor touching),
/// so memory follows the bytes the capture holds, not the offsets it
/// names: a crafted capture may put a byte two gigabytes into the stream.
#[derive(Debug, Default)]
struct Stream {
    runs: BTreeMap<u64, Vec<u8>>,
    fin: Option<u64>,
}

impl Stream {
    /// Records `data` at `offset` (later bytes replace earlier ones).
    fn put(&mut self, offset: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let end = offset + data.len() as u64;
        // The run this one continues or lands in: the last that starts at
        // or before `offset` and reaches it.
        let before = self
            .runs
            .range(..=offset)
            .next_back()
            .filter(|(&start, run)| start + run.len() as u64 >= offset)
            .map(|(&start, _)| start);
        let next_start = self.runs.range(offset + 1..).next().map(|(&k, _)| k);
        if let Some(start) = before {
            if next_start.is_none_or(|k| k > end) {
                // Inside that run, or extending it: in place.
                let run = self.runs.get_mut(&start).expect("found above");
                let at = (offset - start) as usize;
                if at + data.len() > run.len() {
                    run.resize(at + data.len(), 0);
                }
                run[at..at + data.len()].copy_from_slice(data);
                return;
            }
        }
        // Merge with every run it touches; together they are contiguous.
        let start = before.unwrap_or(offset);
        let touched: Vec<u64> = self.runs.range(start..=end).map(|(&k, _)| k).collect();
        let merged_end = touched
            .iter()
            .map(|k| k + self.runs[k].len() as u64)
            .fold(end, u64::max);
        let mut merged = vec![0; (merged_end - start) as usize];
        for k in touched {
            let run = self.runs.remove(&k).expect("listed above");
            let at = (k - start) as usize;
            merged[at..at + run.len()].copy_from_slice(&run);
        }
        let at = (offset - start) as usize;
        merged[at..at + data.len()].copy_from_slice(data);
        self.runs.insert(start, merged);
    }

    /// The byte at `at`, if known.
    fn get(&self, at: u64) -> Option<u8> {
        let (&start, run) = self.runs.range(..=at).next_back()?;
        run.get((at - start) as usize).copied()
    }

    /// One past the last known byte.
    fn end(&self) -> u64 {
        self.runs
            .last_key_value()
            .map_or(0, |(&start, run)| start + run.len() as u64)
    }

    fn len(&self) -> u64 {
        self.fin.unwrap_or(self.end())
    }

    /// Bytes known.
    fn known(&self) -> u64 {
        self.runs.values().map(|run| run.len() as u64).sum()
    }

    /// Up to 16 known bytes from `at`, escaped.
    fn excerpt(&self, at: u64) -> String {
        let run: Vec<u8> = (at..at + 16).map_while(|i| self.get(i)).collect();
        format!("{:?}", String::from_utf8_lossy(&run))
    }
}

struct Play<'a> {
    flow: &'a CapturedFlow,
    settings: &'a Settings,
    report: FlowReport,
}

impl WithStack for Play<'_> {
    type Output = FlowReport;

    fn with<A: App>(
        self,
        mut stack: Stack<A>,
        mut driver: PairDriver,
        mut peer: PairDriver,
    ) -> FlowReport {
        let Play {
            flow,
            settings,
            mut report,
        } = self;
        // The capture's view of the stack's ISN and stream.
        let synack = flow.stack_segments.iter().find_map(|f| {
            let t = TcpFrame::parse(f)?;
            t.flags(f).contains(TcpFlags::SYN).then(|| t.seq(f))
        });
        let first_ack = flow.peer_segments.iter().find_map(|(_, f)| {
            let t = TcpFrame::parse(f)?;
            t.has_ack(f).then(|| t.ack(f).wrapping_sub(1))
        });
        let Some(captured_isn) = synack.or(first_ack) else {
            report.outcome = FlowOutcome::Skipped;
            report.why = Some("the capture shows no SYN-ACK and no ACK from the peer".into());
            return report;
        };
        let mut captured = Stream::default();
        for f in &flow.stack_segments {
            let Some(t) = TcpFrame::parse(f) else {
                continue;
            };
            let syn = u32::from(t.flags(f).contains(TcpFlags::SYN));
            let offset = u64::from(
                t.seq(f)
                    .wrapping_sub(captured_isn)
                    .wrapping_add(syn)
                    .wrapping_sub(1),
            );
            if offset > u64::from(u32::MAX / 2) {
                continue; // before the ISN: not this connection
            }
            let data = t.data(f);
            captured.put(offset, data);
            if t.flags(f).contains(TcpFlags::FIN) {
                captured.fin = Some(offset + data.len() as u64);
            }
        }
        report.stack_bytes_captured = captured.len();

        let mut live = Stream::default();
        let mut live_isn: Option<u32> = None;
        // Sequence space the live stack has used, from its ISN.
        let mut live_sent: u64 = 0;
        let mut last_tsval: Option<u32> = None;
        let mut next = 0usize;
        let mut last_sent_at = flow.peer_segments[0].0;
        let deadline = flow.last_at + GRACE;
        let mut now = flow.peer_segments[0].0;
        // Whether the live stack's sequence space grew in the last round:
        // while it does, a segment acknowledging more than it sent waits;
        // once it stops (its window or congestion window is full), the
        // segment goes with the acknowledgment cut to what it did send, as
        // a real peer would acknowledge.
        let mut progressed = true;
        // When the flow last moved (a peer segment played, the live stack
        // sent more): a live stack that waits longer than GRACE for
        // nothing has stalled, however far the capture's clock runs (a
        // capture may say its last frame is years away; stepping through
        // the live stack's timers until then never ended).
        let mut last_progress = now;
        // The acknowledgment of the last cut copy, not to send twice.
        let mut last_cut: Option<u32> = None;
        let mut cut_sent = false;
        let diverge = |report: &mut FlowReport, why: String, at: Option<u64>| {
            report.outcome = FlowOutcome::Diverged;
            report.why = Some(why);
            report.at_offset = at;
        };
        loop {
            report.rounds += 1;
            let played_before = report.played;
            // Send every peer segment that is due and allowed.
            let mut waiting_for: Option<u64> = None;
            while let Some((at, frame)) = flow.peer_segments.get(next) {
                let due = (*at).max(last_sent_at);
                if due > now {
                    break;
                }
                let t = TcpFrame::parse(frame).expect("grouped as TCP");
                let needs = t
                    .has_ack(frame)
                    .then(|| u64::from(t.ack(frame).wrapping_sub(captured_isn)));
                let mut cut = None;
                if let Some(needs) = needs {
                    if live_isn.is_none() || (live_sent < needs && progressed) {
                        waiting_for = Some(needs);
                        break;
                    }
                    if live_sent < needs {
                        cut = live_isn.map(|isn| isn.wrapping_add(live_sent as u32));
                    }
                }
                let mut bytes = frame.clone();
                let (cap, liv) = (captured_isn, live_isn.unwrap_or(captured_isn));
                t.rewrite(
                    &mut bytes,
                    settings.mac,
                    |x| x.wrapping_sub(cap).wrapping_add(liv),
                    last_tsval,
                );
                if let Some(ack) = cut {
                    // A pure ACK stays pending: a copy acknowledges what the
                    // live stack sent, the segment itself goes once it sent
                    // all it covers. A segment with data or a flag goes now.
                    let pure = t.seq_len(frame) == 0 && !t.flags(frame).contains(TcpFlags::RST);
                    waiting_for = needs;
                    if pure {
                        if last_cut != Some(ack) {
                            t.set_ack(&mut bytes, ack);
                            inject(&mut peer, &bytes);
                            last_cut = Some(ack);
                            cut_sent = true;
                        }
                        break;
                    }
                    t.set_ack(&mut bytes, ack);
                    inject(&mut peer, &bytes);
                    cut_sent = true;
                    report.played += 1;
                    last_sent_at = now;
                    next += 1;
                    break;
                }
                inject(&mut peer, &bytes);
                report.played += 1;
                last_sent_at = now;
                next += 1;
            }
            driver.set_now(now);
            for _ in 0..1000 {
                if !stack.poll(&mut driver, now) {
                    break;
                }
            }
            let sent_before = live_sent;
            let last_cut_sent = std::mem::take(&mut cut_sent);
            let mut answered = false;
            for frame in drain(&mut peer) {
                if let Some(reply) = arp_reply(&frame, flow) {
                    inject(&mut peer, &reply);
                    answered = true;
                    continue;
                }
                let Some(t) = TcpFrame::parse(&frame) else {
                    continue;
                };
                if t.dst_ip(&frame) != flow.peer.0 || t.dst_port(&frame) != flow.peer.1 {
                    continue;
                }
                let flags = t.flags(&frame);
                if flags.contains(TcpFlags::RST) {
                    diverge(
                        &mut report,
                        "the live stack reset the connection".into(),
                        Some(live.len()),
                    );
                    return finish(report, &live);
                }
                if flags.contains(TcpFlags::SYN) {
                    live_isn = Some(t.seq(&frame));
                }
                let Some(isn) = live_isn else { continue };
                last_tsval = t.tsval(&frame).or(last_tsval);
                let syn = u32::from(flags.contains(TcpFlags::SYN));
                let start = u64::from(t.seq(&frame).wrapping_sub(isn));
                live_sent = live_sent.max(start + u64::from(t.seq_len(&frame)));
                let offset = (start + u64::from(syn)).saturating_sub(1);
                let data = t.data(&frame);
                for (i, b) in data.iter().enumerate() {
                    let at = offset + i as u64;
                    if at >= captured.len() {
                        diverge(
                            &mut report,
                            format!(
                                "the live stack sent more than the capture's {} bytes",
                                captured.len()
                            ),
                            Some(at),
                        );
                        return finish(report, &live);
                    }
                    if let Some(want) = captured.get(at) {
                        if want != *b {
                            live.put(offset, &data[..i]);
                            let why = format!(
                                "byte {at} of the stack's stream differs: captured {}, live {}",
                                captured.excerpt(at),
                                excerpt_live(data, i)
                            );
                            diverge(&mut report, why, Some(at));
                            return finish(report, &live);
                        }
                    }
                }
                live.put(offset, data);
                if flags.contains(TcpFlags::FIN) {
                    let fin = offset + data.len() as u64;
                    if captured.fin.is_some_and(|c| c != fin) {
                        diverge(
                            &mut report,
                            format!(
                                "the live stack closed at byte {fin}, the capture at {}",
                                captured.len()
                            ),
                            Some(fin),
                        );
                        return finish(report, &live);
                    }
                    live.fin = Some(fin);
                }
            }
            // A round that sent a cut copy waits for the stack's answer.
            progressed = live_sent > sent_before || last_cut_sent;
            if progressed || report.played > played_before {
                last_progress = now;
            }
            if answered {
                continue; // let the stack read the ARP reply at once
            }
            let live_done =
                live.end() >= captured.end() && (captured.fin.is_none() || live.fin.is_some());
            if next == flow.peer_segments.len() && live_done {
                report.outcome = FlowOutcome::Completed;
                return finish(report, &live);
            }
            // When to look again: the next segment's time (unless it waits
            // for the live stack), or the live stack's next timer.
            let segment_at = flow
                .peer_segments
                .get(next)
                .filter(|_| waiting_for.is_none())
                .map(|(at, _)| (*at).max(last_sent_at));
            // While the live stack is still sending, look again at once.
            let soon =
                (waiting_for.is_some() && progressed).then(|| now + Duration::from_micros(1));
            let mut wake = [segment_at, stack.poll_at(), soon]
                .into_iter()
                .flatten()
                .min();
            let idle_until = last_progress + GRACE;
            if wake.is_some_and(|w| w > idle_until) {
                match segment_at {
                    // Idle for GRACE with the peer's next segment further
                    // away: the live stack's timers in between change no
                    // byte of the comparison, so go to the segment.
                    Some(at) if waiting_for.is_none() => wake = Some(at),
                    // Waiting for the live stack, or nothing left to send:
                    // it stalled.
                    _ => wake = None,
                }
            }
            match wake {
                Some(w) if w <= deadline => now = w.max(now + Duration::from_nanos(1)),
                _ => {
                    let why = match waiting_for {
                        Some(needs) => format!(
                            "stalled: the peer's segment {next} acknowledges {needs} bytes of sequence space, the live stack sent {live_sent}"
                        ),
                        None if next < flow.peer_segments.len() => {
                            format!("stalled before the peer's segment {next}")
                        }
                        None => format!(
                            "stalled: the live stack sent {} of the capture's {} bytes",
                            live.end(),
                            captured.len()
                        ),
                    };
                    diverge(&mut report, why, Some(live.end()));
                    return finish(report, &live);
                }
            }
        }
    }
}

fn finish(mut report: FlowReport, live: &Stream) -> FlowReport {
    report.stack_bytes_live = live.known();
    report
}

/// Up to 16 live bytes from `i` of `data`, escaped.
fn excerpt_live(data: &[u8], i: usize) -> String {
    let end = (i + 16).min(data.len());
    format!("{:?}", String::from_utf8_lossy(&data[i..end]))
}

/// The peer's answer to the live stack's ARP request for it.
fn arp_reply(frame: &[u8], flow: &CapturedFlow) -> Option<Vec<u8>> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let eth = EthernetRepr::parse(&eth).ok()?;
    if eth.ethertype != EtherType::Arp {
        return None;
    }
    let arp = ArpPacket::new_checked(&frame[ethernet::HEADER_LEN..]).ok()?;
    let arp = ArpRepr::parse(&arp).ok()?;
    if arp.operation != ArpOperation::Request || arp.target_ip != flow.peer.0 {
        return None;
    }
    let reply = ArpRepr {
        operation: ArpOperation::Reply,
        source_mac: flow.peer_mac,
        source_ip: flow.peer.0,
        target_mac: arp.source_mac,
        target_ip: arp.source_ip,
    };
    let mut out = vec![0u8; ethernet::HEADER_LEN + arp::ETHERNET_IPV4_LEN];
    let mut e = EthernetFrame::new_unchecked(&mut out[..]);
    EthernetRepr {
        src: flow.peer_mac,
        dst: arp.source_mac,
        ethertype: EtherType::Arp,
    }
    .emit(&mut e);
    let mut p = ArpPacket::new_unchecked(&mut out[ethernet::HEADER_LEN..]);
    reply.emit(&mut p);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::Stream;

    /// The bytes `0..end` as the stream knows them.
    fn dense(s: &Stream) -> Vec<Option<u8>> {
        (0..s.end()).map(|i| s.get(i)).collect()
    }

    #[test]
    fn a_stream_keeps_runs_and_later_bytes_win() {
        let mut s = Stream::default();
        s.put(0, b"hello");
        s.put(5, b" world"); // extends the run
        assert_eq!(s.runs.len(), 1);
        s.put(20, b"later"); // a gap
        assert_eq!(s.runs.len(), 2);
        assert_eq!(s.end(), 25);
        assert_eq!(s.known(), 16);
        assert_eq!(s.get(12), None);
        s.put(6, b"W"); // a retransmission that differs, inside a run
        s.put(10, b"d, and then"); // reaches the next run's start: merged
        assert_eq!(s.runs.len(), 1);
        let want: Vec<Option<u8>> = b"hello World, and thenlater"
            .iter()
            .map(|&b| Some(b))
            .collect();
        assert_eq!(dense(&s)[..21], want[..21]);
        assert_eq!(dense(&s).len(), 25);
        // Overlapping two runs and the gap between them at once.
        let mut t = Stream::default();
        t.put(0, b"ab");
        t.put(4, b"ef");
        t.put(8, b"ij");
        t.put(1, b"BCDEFGH");
        assert_eq!(t.runs.len(), 1);
        assert_eq!(
            dense(&t),
            b"aBCDEFGHij".iter().map(|&b| Some(b)).collect::<Vec<_>>()
        );
        assert_eq!(t.excerpt(7), "\"Hij\"");
        assert_eq!(t.len(), 10);
        t.fin = Some(12);
        assert_eq!(t.len(), 12);
    }

    #[test]
    fn far_offsets_cost_what_they_hold() {
        // A crafted capture's byte two gigabytes into the stream: the old
        // dense vector asked for 4 GB here (the pcap_replay fuzz target's
        // out-of-memory input).
        let mut s = Stream::default();
        s.put(0, b"GET");
        s.put(1 << 31, b"x");
        assert_eq!(s.known(), 4);
        assert_eq!(s.end(), (1 << 31) + 1);
        assert_eq!(s.get(1 << 31), Some(b'x'));
        assert_eq!(s.get(1 << 30), None);
        assert!(s.runs.values().map(Vec::capacity).sum::<usize>() < 64);
    }
}
