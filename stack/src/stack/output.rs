//! What a connection sends: the output loop over the windows (new data,
//! retransmissions, SACK recovery, the FIN), and the segments it builds —
//! data, pure ACKs, SYNs, resets and other header-only segments.

use std::collections::VecDeque;

use arrayvec::ArrayVec;

use super::context::Ctx;
use super::{dist, ts_value, Tcp};
use crate::checksum::Checksum;
use crate::nic::Driver;
use crate::tcp::app::Writer;
use crate::tcp::scoreboard::NextSegKind;
use crate::tcp::table::FlowKey;
use crate::tcp::tcb::State;
use crate::tcp::tcb::TxEntry;
use crate::wire::{
    tcp as tcp_wire, IpProtocol, Ipv4Addr, TcpFlags, TcpHeaderTemplate, TcpRepr, TcpSeqNumber,
};

/// Stores a computed checksum in a TCP header written with a zero one.
fn write_tcp_checksum(header: &mut [u8], checksum: u16) {
    let at = tcp_wire::field::CHECKSUM;
    if let Some(field) = header.get_mut(at..at + 2) {
        field.copy_from_slice(&checksum.to_be_bytes());
    }
}

/// Bytes of the SACK option with `blocks` blocks, as laid out after the
/// handshake (`NOP, NOP, SACK`), or 0 without blocks.
pub(crate) const fn sack_option_len(blocks: usize) -> u32 {
    if blocks == 0 {
        0
    } else {
        4 + 8 * blocks as u32
    }
}

/// How many SACK blocks (at most 3) a segment carrying `len` data bytes
/// can hold when options (timestamps excepted: `smss` already leaves room
/// for them) and data together must stay within `smss` bytes.
pub(crate) const fn sack_blocks_fitting(smss: u32, len: u32) -> usize {
    let room = smss.saturating_sub(len);
    if room < 12 {
        0
    } else {
        let n = (room - 4) / 8;
        if n > 3 {
            3
        } else {
            n as usize
        }
    }
}

/// Most pieces of one segment sent by reference.
const MAX_REFERENCES: usize = 4;

/// Pieces shorter than this are copied even when their writer has them in
/// static memory: a reference slot costs about what copying that many
/// bytes does.
const MIN_REFERENCE: usize = 512;

/// The pieces of payload `[offset, offset + len)` of a transmit queue that
/// go out by reference ([`Writer::static_bytes`]), put into `references`
/// (empty on entry), and how many payload bytes before them are copied
/// into the frame with the headers (returned). Only a run of static pieces
/// at the end of the segment is referenced (after the last piece that must
/// be copied), so the frame is its head buffer and then the reference
/// slots. (The caller owns the list: returned by value with the count, it
/// went back through memory and its reload missed store-to-load
/// forwarding, a fifth of this function's samples.)
fn plan_references<W: Writer>(
    txq: &VecDeque<TxEntry<W>>,
    offset: usize,
    len: usize,
    references: &mut ArrayVec<&'static [u8], MAX_REFERENCES>,
) -> usize {
    debug_assert!(references.is_empty());
    let mut copied = 0;
    for (entry, skip, n) in payload_pieces(txq, offset, len) {
        let bytes = (n >= MIN_REFERENCE)
            .then(|| entry.writer.static_bytes(skip, n))
            .flatten()
            .filter(|b| b.len() == n);
        match bytes {
            Some(b) if references.try_push(b).is_ok() => {}
            _ => {
                // A piece to copy: the referenced pieces before it are
                // copied too, since references only follow copied bytes.
                copied += references.drain(..).map(<[u8]>::len).sum::<usize>() + n;
            }
        }
    }
    copied
}

/// The pieces of payload `[offset, offset + len)` of a transmit queue, in
/// order: each entry that holds some of it, the offset in the entry's data
/// and the piece's length.
fn payload_pieces<W>(
    txq: &VecDeque<TxEntry<W>>,
    offset: usize,
    len: usize,
) -> impl Iterator<Item = (&TxEntry<W>, usize, usize)> {
    let mut skip = offset;
    let mut left = len;
    txq.iter()
        .map_while(move |entry| {
            if left == 0 {
                return None;
            }
            let entry_len = entry.len as usize;
            if skip >= entry_len {
                skip -= entry_len;
                return Some(None);
            }
            let piece = (entry, skip, (entry_len - skip).min(left));
            left -= piece.2;
            skip = 0;
            Some(Some(piece))
        })
        .flatten()
}

/// How a segment's TCP header is written: from the connection's template,
/// or by the generic emitter when it carries SACK blocks.
enum SegmentHeader<'a> {
    Templated(TcpHeaderTemplate),
    Generic(TcpRepr<'a>),
}

impl SegmentHeader<'_> {
    fn len(&self) -> usize {
        match self {
            SegmentHeader::Templated(template) => template.header_len(),
            SegmentHeader::Generic(repr) => repr.header_len(),
        }
    }
}

impl<C, W: Writer> Tcp<C, W> {
    /// Sends what the windows allow: a pending retransmission, new data,
    /// and the FIN after the last byte.
    pub(super) fn output<A, D: Driver>(&mut self, cx: &mut Ctx<'_, A, D>, idx: usize) {
        let nagle = self.config.nagle;
        let tcb = &mut self.slots[idx].tcb;
        if matches!(
            tcb.state,
            State::Closed | State::SynSent | State::SynReceived
        ) {
            return;
        }
        if tcb.close_requested && !tcb.fin_sent {
            tcb.state = match tcb.state {
                State::Established => State::FinPending,
                State::CloseWait => State::CloseWaitFinPending,
                other => other,
            };
        }
        if tcb.retransmit_now {
            tcb.retransmit_now = false;
            let seq = tcb.snd_una;
            self.send_data(cx, idx, seq, u32::MAX);
        }
        // SACK-based recovery (RFC 6675 §5 (C)): NextSeg() chooses holes,
        // then new data, while cwnd - pipe allows a segment.
        if self.slots[idx].tcb.sack && self.slots[idx].tcb.cc.in_recovery() {
            loop {
                let tcb = &self.slots[idx].tcb;
                let pipe = tcb
                    .scoreboard
                    .pipe(tcb.snd_una, tcb.snd_max, tcb.high_rxt, tcb.smss);
                if tcb.cc.sack_send_allowance(pipe) < tcb.smss {
                    break;
                }
                let data_end = tcb.data_end();
                let unsent = if tcb.snd_max < data_end {
                    dist(data_end, tcb.snd_max)
                } else {
                    0
                };
                let peer_room = tcb.snd_wnd.saturating_sub(dist(tcb.snd_max, tcb.snd_una));
                let sendable_new = unsent.min(peer_room);
                let Some(next) = tcb.scoreboard.next_seg(
                    tcb.snd_una,
                    tcb.snd_max,
                    tcb.high_rxt,
                    Some(tcb.snd_max),
                    tcb.smss,
                    sendable_new,
                ) else {
                    break;
                };
                if !self.send_data(cx, idx, next.seq, next.len) {
                    break;
                }
                let tcb = &mut self.slots[idx].tcb;
                // The optional rescue retransmission (rule 4) is not used:
                // `rescue_rxt = snd_max` keeps it ineligible.
                if matches!(next.kind, NextSegKind::Lost | NextSegKind::Unsacked) {
                    tcb.high_rxt = tcb.high_rxt.max(next.end());
                }
            }
            return;
        }
        loop {
            let tcb = &self.slots[idx].tcb;
            let data_end = tcb.data_end();
            let unsent = if tcb.snd_nxt < data_end {
                dist(data_end, tcb.snd_nxt)
            } else {
                0
            };
            let fin_needed = tcb.close_requested && tcb.snd_nxt <= data_end;
            let window = tcb.snd_wnd.min(tcb.cc.window());
            let in_flight = tcb.in_flight();
            let usable = window.saturating_sub(in_flight);
            if unsent > 0 {
                if usable == 0 {
                    if tcb.snd_wnd == 0 && in_flight == 0 && tcb.rto_timer.is_none() {
                        self.slots[idx].tcb.persist = true;
                        self.arm_rto(cx.iface.meter_mut(), idx, cx.now);
                    }
                    break;
                }
                let len = unsent.min(usable).min(tcb.smss);
                if nagle && len < tcb.smss && in_flight > 0 {
                    break;
                }
                let seq = tcb.snd_nxt;
                if self.send_data(cx, idx, seq, len) {
                    continue;
                }
                break;
            }
            if fin_needed {
                let seq = tcb.snd_nxt;
                if self.send_data(cx, idx, seq, 0) {
                    continue;
                }
                break;
            }
            break;
        }
    }

    /// Sends (or resends) the data at `seq`, at most `max_len` bytes and one
    /// MSS, with the FIN if it ends at our FIN. Moves `snd_nxt` forward.
    /// Returns whether a segment went out (false when there was nothing to
    /// send or no buffer; the retransmission timer then retries).
    pub(super) fn send_data<A, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
        seq: TcpSeqNumber,
        max_len: u32,
    ) -> bool {
        let tcb = &self.slots[idx].tcb;
        let data_end = tcb.data_end();
        let available = if seq < data_end {
            dist(data_end, seq)
        } else {
            0
        };
        // SACK blocks take room from the payload (RFC 6691: options and
        // data together stay within the MSS), as many as leave at least
        // one byte of data (on a tiny MTU fewer than three fit).
        let sack_room = if tcb.sack && !tcb.ooo.is_empty() {
            let held = self.ooo.blocks(&tcb.ooo).take(3).count();
            sack_option_len(held.min(sack_blocks_fitting(tcb.smss, 1)))
        } else {
            0
        };
        let len = available
            .min(max_len)
            .min(tcb.smss.saturating_sub(sack_room).max(1));
        let fin = tcb.close_requested && seq.wrapping_add(len) == data_end;
        if len == 0 && !fin {
            return false;
        }
        let retransmission = seq < tcb.snd_max;
        let mut flags = if fin {
            TcpFlags::FIN
        } else {
            TcpFlags::empty()
        };
        if len > 0 && seq.wrapping_add(len) == data_end {
            flags |= TcpFlags::PSH;
        }
        if !self.send_segment(cx, idx, seq, len, flags) {
            self.arm_buffer_retry(cx.iface.meter_mut(), idx, cx.now);
            return false;
        }
        let tcb = &mut self.slots[idx].tcb;
        tcb.buffer_waits = 0;
        let seq_end = seq.wrapping_add(len + u32::from(fin));
        if retransmission {
            self.counters.retransmits += 1;
            tcb.sampler.on_retransmit();
        }
        tcb.sampler.on_send(seq_end, cx.now, retransmission);
        if seq_end > tcb.snd_nxt {
            tcb.snd_nxt = seq_end;
        }
        if seq_end > tcb.snd_max {
            tcb.snd_max = seq_end;
        }
        if fin && !tcb.fin_sent {
            tcb.fin_sent = true;
            tcb.state = match tcb.state {
                State::Established | State::FinPending => State::FinWait1,
                State::CloseWait | State::CloseWaitFinPending => State::LastAck,
                other => other,
            };
        }
        if len > 0 {
            self.counters.bytes_sent += u64::from(len);
        }
        if self.slots[idx].tcb.rto_timer.is_none() {
            self.arm_rto(cx.iface.meter_mut(), idx, cx.now);
        }
        true
    }

    /// A pure ACK (also our answer to unacceptable segments).
    pub(super) fn send_ack<A, D: Driver>(&mut self, cx: &mut Ctx<'_, A, D>, idx: usize) {
        // SND.MAX, not SND.NXT: after a timeout SND.NXT goes back to
        // SND.UNA, and an ACK carrying that old number would be below the
        // peer's RCV.NXT (Linux, which never moves SND.NXT back, does the
        // same). But never past the right edge of the peer's window
        // (SND.UNA + SND.WND, Linux's `tcp_acceptable_seq`): a number the
        // peer has not allowed makes it discard the ACK.
        let tcb = &self.slots[idx].tcb;
        let window_end = tcb.snd_una.wrapping_add(tcb.snd_wnd);
        let seq = if tcb.snd_max <= window_end {
            tcb.snd_max
        } else {
            window_end
        };
        self.send_segment(cx, idx, seq, 0, TcpFlags::empty());
    }

    /// Our SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED), with options.
    pub(super) fn send_syn<A, D: Driver>(&mut self, cx: &mut Ctx<'_, A, D>, idx: usize) {
        let config = &self.config;
        let tcb = &self.slots[idx].tcb;
        let active = tcb.state == State::SynSent;
        let shift = config.window_shift();
        let repr = TcpRepr {
            src_port: tcb.local.1,
            dst_port: tcb.remote.1,
            flags: TcpFlags::SYN,
            seq_number: tcb.iss,
            ack_number: (!active).then_some(tcb.rcv_nxt),
            window_len: config.rx_budget.min(0xffff) as u16,
            window_scale: if active {
                config.window_scaling.then_some(shift)
            } else {
                tcb.wscale_ok.then_some(tcb.rcv_shift)
            },
            max_seg_size: Some(self.mss),
            sack_permitted: if active { config.sack } else { tcb.sack },
            sack_ranges: [None; 3],
            timestamp: if active {
                config.timestamps.then_some((ts_value(cx.now), 0))
            } else {
                tcb.timestamps.then_some((ts_value(cx.now), tcb.ts_recent))
            },
            payload: &[],
        };
        let dst = tcb.remote.0;
        let retransmission = tcb.snd_max != tcb.iss;
        if self.send_control(cx, dst, &repr) {
            let tcb = &mut self.slots[idx].tcb;
            if retransmission {
                self.counters.retransmits += 1;
                tcb.sampler.on_retransmit();
            }
            tcb.sampler
                .on_send(tcb.iss.wrapping_add(1), cx.now, retransmission);
            tcb.snd_nxt = tcb.iss.wrapping_add(1);
            tcb.snd_max = tcb.snd_nxt;
            tcb.last_ack_sent = tcb.rcv_nxt;
            tcb.rcv_adv = tcb.rcv_nxt.wrapping_add(u32::from(repr.window_len));
        }
    }

    /// Builds and transmits one segment of connection `idx`: header from
    /// the TCB, payload `[seq, seq + len)` from the transmit queue's
    /// writers, checksummed from their precomputed sums when they have them.
    /// Where the NIC gathers ([`Capabilities::tx_references`]), the static
    /// pieces at the segment's end ([`Writer::static_bytes`]) are chained
    /// by reference instead of written ([`plan_references`]).
    ///
    /// [`Capabilities::tx_references`]: crate::nic::Capabilities::tx_references
    pub(super) fn send_segment<A, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        idx: usize,
        seq: TcpSeqNumber,
        len: u32,
        flags: TcpFlags,
    ) -> bool {
        let Tcp {
            slots,
            ooo,
            config,
            timers,
            counters,
            tx_references,
            ..
        } = self;
        let tcb = &mut slots[idx].tcb;
        let window = tcb.rcv_window(config);
        let mut sack_ranges = [None; 3];
        if tcb.sack && !tcb.ooo.is_empty() {
            let mut blocks = [(TcpSeqNumber(0), TcpSeqNumber(0)); 3];
            let n = ooo
                .sack_blocks(&tcb.ooo, &mut blocks)
                .min(sack_blocks_fitting(tcb.smss, len));
            for (slot, (l, r)) in sack_ranges.iter_mut().zip(blocks.iter().take(n)) {
                *slot = Some((l.0, r.0));
            }
        }
        let window_len = (window >> tcb.rcv_shift).min(0xffff) as u16;
        let timestamp = tcb.timestamps.then_some((ts_value(cx.now), tcb.ts_recent));
        // Without SACK blocks the connection's header template writes the
        // header; with them the generic emitter lays out the options.
        let header = if sack_ranges[0].is_none() {
            let (local_port, remote_port, timestamps) = (tcb.local.1, tcb.remote.1, tcb.timestamps);
            let template = tcb
                .tcp_template
                .get_or_insert_with(|| TcpHeaderTemplate::new(local_port, remote_port, timestamps));
            if template.timestamps() != timestamps {
                *template = TcpHeaderTemplate::new(local_port, remote_port, timestamps);
            }
            SegmentHeader::Templated(*template)
        } else {
            SegmentHeader::Generic(TcpRepr {
                src_port: tcb.local.1,
                dst_port: tcb.remote.1,
                flags,
                seq_number: seq,
                ack_number: Some(tcb.rcv_nxt),
                window_len,
                window_scale: None,
                max_seg_size: None,
                sack_permitted: false,
                sack_ranges,
                timestamp,
                payload: &[],
            })
        };
        let header_len = header.len();
        let ack = tcb.rcv_nxt;
        let dst = tcb.remote.0;
        let template = tcb
            .ip_template
            .get_or_insert_with(|| cx.iface.ipv4_template(dst, IpProtocol::Tcp));
        // The segment's length fits the MTU, hence 16 bits.
        let pseudo_sum = template.pseudo_header_sum((header_len + len as usize) as u16);
        let data_offset = if len > 0 {
            dist(seq, tcb.txq_seq) as usize
        } else {
            0
        };
        let txq = &tcb.txq;
        // Static pieces at the end go out by reference where the NIC can
        // gather them; the rest is copied after the header.
        let mut references = ArrayVec::new();
        let head_payload = if *tx_references && len as usize >= MIN_REFERENCE {
            plan_references(txq, data_offset, len as usize, &mut references)
        } else {
            len as usize
        };
        // What the payload's writers did, for the meter (the interface,
        // which holds it, is busy sending meanwhile).
        let mut pieces = 0u64;
        let mut copied = 0u64;
        let mut summed = 0u64;
        let mut lookups = 0u64;
        let (mut templated, mut generic) = (0u64, 0u64);
        let sent = cx.iface.send_ipv4_templated_gather(
            cx.driver,
            cx.now,
            template,
            header_len + head_payload,
            &references,
            |out| {
                let (mut header_out, mut payload) = out.split_at(header_len);
                let mut sum = Checksum::new();
                let mut at = 0;
                let mut referenced = references.iter();
                for (entry, skip, n) in payload_pieces(txq, data_offset, len as usize) {
                    // Pieces before `head_payload` are copied; the plan put
                    // the boundary between pieces.
                    let reference = if at < head_payload {
                        None
                    } else {
                        referenced.next().copied()
                    };
                    if reference.is_none() {
                        let mut piece = payload.take(n);
                        entry.writer.write(skip, &mut piece);
                        pieces += 1;
                        copied += n as u64;
                    }
                    match entry.writer.sum(skip, n) {
                        Some(partial) => {
                            lookups += 1;
                            sum.add_partial(partial, n);
                        }
                        None => {
                            summed += n as u64;
                            match reference {
                                Some(bytes) => sum.add_partial(crate::checksum::ones_sum(bytes), n),
                                None => payload.take(n).add_to_checksum(&mut sum),
                            }
                        }
                    }
                    if reference.is_none() {
                        payload.advance(n)?;
                    }
                    at += n;
                }
                header_out.write_with(header_len, |b| {
                    let checksum = match &header {
                        SegmentHeader::Templated(template) => {
                            let header_sum = template
                                .write(b, seq, Some(ack), flags, window_len, timestamp)
                                .unwrap_or(0);
                            templated = 1;
                            let mut total = Checksum::new();
                            total.add_u16(pseudo_sum);
                            total.add_u16(header_sum);
                            total.add_partial(sum.sum(), len as usize);
                            total.finish()
                        }
                        SegmentHeader::Generic(repr) => {
                            let written = repr.emit_header(b);
                            debug_assert!(written.is_ok());
                            generic = 1;
                            summed += b.len() as u64;
                            tcp_wire::tcp_checksum_with_pseudo(
                                pseudo_sum,
                                b,
                                sum.sum(),
                                len as usize,
                            )
                        }
                    };
                    write_tcp_checksum(b, checksum);
                })?;
                Ok(())
            },
        );
        let meter = cx.iface.meter_mut();
        meter.writer_calls += pieces;
        meter.bytes_copied += copied;
        meter.bytes_checksummed += summed;
        meter.prefix_sum_lookups += lookups;
        meter.tcp_templated += templated;
        meter.tcp_built += generic;
        if sent.is_err() {
            return false;
        }
        counters.segments_out += 1;
        tcb.last_ack_sent = tcb.rcv_nxt;
        let edge = tcb.rcv_nxt.wrapping_add(window);
        if edge > tcb.rcv_adv {
            tcb.rcv_adv = edge;
        }
        tcb.ack_now = false;
        tcb.ack_pending = false;
        tcb.unacked_segments = 0;
        if let Some(id) = tcb.delack_timer.take() {
            cx.iface.meter_mut().timer_cancels += 1;
            timers.cancel(id);
        }
        true
    }

    /// A segment built from `repr` alone (SYNs, resets, TIME-WAIT ACKs).
    pub(super) fn send_control<A, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        dst: Ipv4Addr,
        repr: &TcpRepr<'_>,
    ) -> bool {
        let src = self.local_ip;
        let header_len = repr.header_len();
        let mut built = false;
        let sent = cx.iface.send_ipv4(
            cx.driver,
            cx.now,
            dst,
            IpProtocol::Tcp,
            header_len,
            |mut out| {
                out.write_with(header_len, |b| {
                    let written = repr.emit_header(b);
                    debug_assert!(written.is_ok());
                    let checksum = tcp_wire::tcp_checksum(src, dst, b, 0, 0);
                    write_tcp_checksum(b, checksum);
                    built = true;
                })?;
                Ok(())
            },
        );
        if built {
            // Emitted field by field, the header's bytes summed.
            let meter = cx.iface.meter_mut();
            meter.tcp_built += 1;
            meter.bytes_checksummed += header_len as u64;
        }
        if sent.is_ok() {
            self.counters.segments_out += 1;
        }
        sent.is_ok()
    }

    /// A reset for `key`: `<SEQ=seq><CTL=RST>`, with an ACK when `ack` is given.
    pub(super) fn send_rst<A, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        key: FlowKey,
        seq: TcpSeqNumber,
        ack: Option<TcpSeqNumber>,
    ) {
        let repr = TcpRepr {
            src_port: key.local_port,
            dst_port: key.remote_port,
            flags: TcpFlags::RST,
            seq_number: seq,
            ack_number: ack,
            window_len: 0,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload: &[],
        };
        if self.send_control(cx, key.remote_addr, &repr) {
            self.counters.resets_sent += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{sack_blocks_fitting, sack_option_len};

    #[test]
    fn sack_blocks_fit_the_room_left_by_the_data() {
        // MTU 1500 with timestamps: 1448 bytes of options and data.
        assert_eq!(sack_blocks_fitting(1448, 1), 3);
        assert_eq!(sack_blocks_fitting(1448, 1448 - 28), 3);
        assert_eq!(sack_blocks_fitting(1448, 1448 - 27), 2);
        // MTU 68 with timestamps: 16 bytes, room for one block and 4 bytes.
        assert_eq!(sack_blocks_fitting(16, 0), 1);
        assert_eq!(sack_blocks_fitting(16, 1), 1);
        assert_eq!(sack_blocks_fitting(16, 4), 1);
        assert_eq!(sack_blocks_fitting(16, 5), 0);
        assert_eq!(sack_blocks_fitting(11, 0), 0);
        assert_eq!(sack_option_len(0), 0);
        assert_eq!(sack_option_len(1), 12);
        assert_eq!(sack_option_len(3), 28);
    }
}
