//! Where an incoming TCP segment goes: parsing and checksum, connection
//! lookup, listeners and their SYNs (with SYN cookies when the queue is
//! full), segments for TIME-WAIT entries, frames of other cores' flows,
//! and resets for segments of no connection.

use tracing::trace;

use super::conn::Opening;
use super::context::Ctx;
use super::{ts_value, Entry, Tcp, RX_GROUP};
use crate::checksum::{pseudo_header_sum, Checksum};
use crate::iface::IpDatagram;
use crate::mem::buf::Frame;
use crate::meter::CostMeter;
use crate::nic::Driver;
use crate::stats::DropReason;
use crate::tcp::app::{App, Writer};
use crate::tcp::table::FlowKey;
use crate::tcp::tcb::State;
use crate::time::Instant;
use crate::wire::{tcp as tcp_wire, TcpFlags, TcpPacket, TcpRepr, TcpSeqNumber};

/// A parsed incoming segment.
#[derive(Clone, Copy, Debug)]
pub(super) struct Segment {
    pub(super) repr: TcpRepr<'static>,
    /// Offset and length of the payload within the frame.
    pub(super) payload_offset: usize,
    pub(super) payload_len: u32,
}

impl Segment {
    pub(super) fn seq(&self) -> TcpSeqNumber {
        self.repr.seq_number
    }
    pub(super) fn has(&self, flag: TcpFlags) -> bool {
        self.repr.flags.contains(flag)
    }
    /// Sequence space the segment occupies.
    pub(super) fn seg_len(&self) -> u32 {
        self.payload_len + u32::from(self.has(TcpFlags::SYN)) + u32::from(self.has(TcpFlags::FIN))
    }
}

impl<C, W: Writer> Tcp<C, W> {
    /// Handles a TCP datagram; the frame is released or kept.
    pub(super) fn input<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        frame: Frame,
        dg: &IpDatagram,
    ) {
        self.counters.segments_in += 1;
        // Borrowed in place, like the datagram (see `Stack::receive`).
        let parsed = self.parse(cx.meter(), &frame, dg);
        let Some(seg) = parsed.as_ref() else {
            cx.release(frame);
            return;
        };
        let key = FlowKey {
            remote_addr: dg.ip.src,
            remote_port: seg.repr.src_port,
            local_port: seg.repr.dst_port,
        };
        let span = tracing::trace_span!(
            "conn",
            remote = %key.remote_addr,
            remote_port = key.remote_port,
            local_port = key.local_port
        );
        let _entered = span.enter();
        let mut frame = Some(frame);
        cx.meter().conn_lookups += 1;
        match self.table.get(&key) {
            Some(Entry::Conn(idx)) => {
                self.segment_arrives(cx, idx as usize, seg, &mut frame);
                self.debug_check_conn(idx as usize);
            }
            Some(Entry::TimeWait(id)) => {
                if self.time_wait_segment(cx, id, &key, seg) {
                    self.no_connection(cx, key, seg, &mut frame);
                }
            }
            None => self.no_connection(cx, key, seg, &mut frame),
        }
        if let Some(frame) = frame {
            cx.release(frame);
        }
    }

    /// Asks the memory for what processing a group of received frames will
    /// touch first: their flow-table buckets, then the connection slots
    /// those buckets name (see [`Stack::poll`](super::Stack::poll)). Hints
    /// only: nothing is counted or changed, and a frame that does not look
    /// like TCP over IPv4 is skipped (it is parsed and checked properly
    /// when processed).
    pub(super) fn prefetch_connections(&self, frames: &[Frame]) {
        let mut keys = [None; RX_GROUP];
        for (hint, frame) in keys.iter_mut().zip(frames) {
            *hint = flow_hint(frame).map(|key| (self.table.prefetch(&key), key));
        }
        for (home, key) in keys.iter().flatten() {
            if let Some(Entry::Conn(idx)) = self.table.get_prefetched(*home, key) {
                if let Some(slot) = self.slots.get(idx as usize) {
                    crate::mem::prefetch::prefetch_value(slot);
                }
            }
        }
    }

    /// Parses and checksums the TCP header; counts a drop on failure.
    pub(super) fn parse(
        &mut self,
        meter: &mut CostMeter,
        frame: &Frame,
        dg: &IpDatagram,
    ) -> Option<Segment> {
        let cursor = dg.payload(frame);
        meter.tcp_parsed += 1;
        let header_len = match cursor.read_with(tcp_wire::HEADER_LEN, |b| {
            usize::from(TcpPacket::new_unchecked(b).header_len())
        }) {
            Ok((len, _)) if len >= tcp_wire::HEADER_LEN && len <= cursor.len() => len,
            _ => {
                self.counters.drop(DropReason::TcpMalformed);
                return None;
            }
        };
        let repr = match cursor.read_with(header_len, TcpRepr::parse_header) {
            Ok((Ok(repr), _)) => repr,
            _ => {
                self.counters.drop(DropReason::TcpMalformed);
                return None;
            }
        };
        // A NIC that verified the checksum (and dropped the bad ones) saves
        // reading the segment again.
        if !frame.l4_checksum_verified() {
            let mut sum = Checksum::new();
            sum.add_u16(pseudo_header_sum(
                dg.ip.src.octets(),
                dg.ip.dst.octets(),
                6,
                cursor.len() as u16,
            ));
            cursor.add_to_checksum(&mut sum);
            meter.bytes_checksummed += cursor.len() as u64;
            if sum.finish() != 0 {
                self.counters.drop(DropReason::TcpBadChecksum);
                return None;
            }
        }
        Some(Segment {
            repr,
            payload_offset: dg.payload_offset + header_len,
            payload_len: (cursor.len() - header_len) as u32,
        })
    }

    /// A segment for no connection: a listener's SYN or cookie ACK, a
    /// frame for another core, or a reset.
    pub(super) fn no_connection<A: App<Conn = C, Writer = W>, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        key: FlowKey,
        seg: &Segment,
        frame: &mut Option<Frame>,
    ) {
        cx.meter().listener_lookups += 1;
        let listener = self.listeners.iter().position(|l| l.port == key.local_port);
        // A frame for another core's ephemeral port goes to that core —
        // resets too: dropping them here left the owner's connection
        // waiting for ever (found by `rusty-sim swarm`, seed 168: LAST-ACK
        // retransmitting its FIN into the peer's resets).
        if listener.is_none() {
            if let Some((core, cores)) = self.config.port_partition {
                let (lo, hi) = self.config.ephemeral_ports;
                let port = key.local_port;
                if cores > 1 && (lo..=hi).contains(&port) && port % cores != core {
                    if let Some(f) = frame.take() {
                        if self.stray.len() < self.stray.capacity() {
                            self.counters.stray_forwarded += 1;
                            self.stray.push_back(f);
                        } else {
                            self.counters.drop(DropReason::TcpStrayOverflow);
                            cx.release(f);
                        }
                    }
                    return;
                }
            }
        }
        if seg.has(TcpFlags::RST) {
            self.counters.drop(DropReason::TcpNoConnection);
            return;
        }
        if let Some(li) = listener {
            if seg.has(TcpFlags::SYN) && seg.repr.ack_number.is_none() {
                self.listen_syn(cx, li, key, seg);
                return;
            }
            if seg.repr.ack_number.is_some() && !seg.has(TcpFlags::SYN) && self.config.syn_cookies {
                if let Some(idx) = self.cookie_ack(cx.iface.meter_mut(), key, seg, cx.now) {
                    self.segment_arrives(cx, idx, seg, frame);
                    return;
                }
            }
        }
        self.counters.drop(DropReason::TcpNoConnection);
        // RFC 9293 §3.10.7.1: answer with a reset.
        let (seq, ack) = match seg.repr.ack_number {
            Some(ack) => (ack, None),
            None => (TcpSeqNumber(0), Some(seg.seq().wrapping_add(seg.seg_len()))),
        };
        self.send_rst(cx, key, seq, ack);
    }

    /// A SYN for a listener: a new half-open connection, or a cookie.
    pub(super) fn listen_syn<A, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        li: usize,
        key: FlowKey,
        seg: &Segment,
    ) {
        let listener = self.listeners[li];
        let local = (self.local_ip, key.local_port);
        let remote = (key.remote_addr, key.remote_port);
        let queue_full = listener.syn_queue >= listener.backlog;
        if queue_full || self.free.is_empty() || self.table.is_full() {
            if self.config.syn_cookies {
                self.send_cookie_syn_ack(cx, key, seg);
            } else {
                self.counters.drop(DropReason::TcpSynQueueFull);
            }
            return;
        }
        let Some(idx) = self.alloc_slot() else { return };
        let iss = self.isn.isn(local, remote, cx.now);
        let id = self.slot_id(idx);
        let mss = self.mss;
        let config = &self.config;
        let tcb = &mut self.slots[idx].tcb;
        let opening = Opening {
            id,
            state: State::SynReceived,
            local,
            remote,
            iss,
            mss,
        };
        tcb.open(config, opening, cx.now);
        tcb.listener = Some(key.local_port);
        tcb.in_syn_queue = true;
        tcb.irs = seg.seq();
        tcb.rcv_nxt = seg.seq().wrapping_add(1);
        tcb.snd_wnd = u32::from(seg.repr.window_len);
        tcb.max_snd_wnd = tcb.snd_wnd;
        tcb.negotiate(config, &seg.repr, mss);
        self.listeners[li].syn_queue += 1;
        cx.meter().conn_table_ops += 1;
        let inserted = self.table.insert(key, Entry::Conn(idx as u32));
        debug_assert!(inserted.is_ok());
        self.active += 1;
        trace!(?key, "SYN received");
        self.send_syn(cx, idx);
        self.arm_rto(cx.iface.meter_mut(), idx, cx.now);
    }

    /// Answers a SYN statelessly with a SYN cookie.
    pub(super) fn send_cookie_syn_ack<A, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        key: FlowKey,
        seg: &Segment,
    ) {
        let local = (self.local_ip, key.local_port);
        let remote = (key.remote_addr, key.remote_port);
        let mss = seg.repr.max_seg_size.unwrap_or(536).min(self.mss);
        let (cookie, _) = self.cookies.generate(local, remote, seg.seq(), mss, cx.now);
        self.counters.syn_cookies_sent += 1;
        let repr = TcpRepr {
            src_port: key.local_port,
            dst_port: key.remote_port,
            flags: TcpFlags::SYN,
            seq_number: cookie,
            ack_number: Some(seg.seq().wrapping_add(1)),
            window_len: self.config.rx_budget.min(0xffff) as u16,
            window_scale: None,
            max_seg_size: Some(self.mss),
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload: &[],
        };
        self.send_control(cx, key.remote_addr, &repr);
    }

    /// The final ACK of a cookie handshake: rebuild the connection.
    pub(super) fn cookie_ack(
        &mut self,
        meter: &mut CostMeter,
        key: FlowKey,
        seg: &Segment,
        now: Instant,
    ) -> Option<usize> {
        let ack = seg.repr.ack_number?;
        let local = (self.local_ip, key.local_port);
        let remote = (key.remote_addr, key.remote_port);
        let client_isn = seg.seq().wrapping_sub(1);
        let cookie = ack.wrapping_sub(1);
        let info = self
            .cookies
            .validate(local, remote, client_isn, cookie, now)?;
        if self.free.is_empty() || self.table.is_full() {
            self.counters.drop(DropReason::TcpTableFull);
            return None;
        }
        let idx = self.alloc_slot()?;
        self.counters.syn_cookies_accepted += 1;
        let id = self.slot_id(idx);
        let config = &self.config;
        let tcb = &mut self.slots[idx].tcb;
        let opening = Opening {
            id,
            state: State::SynReceived,
            local,
            remote,
            iss: cookie,
            mss: info.mss.min(self.mss),
        };
        tcb.open(config, opening, now);
        tcb.listener = Some(key.local_port);
        tcb.snd_nxt = cookie.wrapping_add(1);
        tcb.snd_max = tcb.snd_nxt;
        tcb.irs = client_isn;
        tcb.rcv_nxt = seg.seq();
        // The window our cookie SYN-ACK advertised (unscaled, as in
        // `send_cookie_syn_ack`): data in this very ACK is inside it.
        tcb.rcv_adv = tcb.rcv_nxt.wrapping_add(config.rx_budget.min(0xffff));
        tcb.snd_wl1 = seg.seq();
        let syn = TcpRepr {
            max_seg_size: Some(info.mss),
            ..seg.repr
        };
        let syn = TcpRepr {
            window_scale: None,
            sack_permitted: false,
            timestamp: None,
            ..syn
        };
        // The cookie's MSS table starts at 216: on a smaller MTU our own
        // MSS is the bound.
        tcb.negotiate(config, &syn, info.mss.min(self.mss));
        meter.conn_table_ops += 1;
        let inserted = self.table.insert(key, Entry::Conn(idx as u32));
        debug_assert!(inserted.is_ok());
        self.active += 1;
        Some(idx)
    }

    /// A segment for a TIME-WAIT entry. Returns true when a new SYN may
    /// reuse the 4-tuple (the entry is gone and the caller handles the SYN
    /// as for no connection).
    pub(super) fn time_wait_segment<A, D: Driver>(
        &mut self,
        cx: &mut Ctx<'_, A, D>,
        id: u32,
        key: &FlowKey,
        seg: &Segment,
    ) -> bool {
        let Some(tw) = self.time_wait.get_mut(id) else {
            cx.meter().conn_table_ops += 1;
            self.table.remove(key);
            return true;
        };
        let tw = *tw;
        if seg.has(TcpFlags::RST) {
            // RFC 1337: ignore resets in TIME-WAIT.
            self.counters.drop(DropReason::TcpTimeWait);
            return false;
        }
        if seg.has(TcpFlags::SYN) && seg.repr.ack_number.is_none() {
            // RFC 6191: a new incarnation whose ISN (or timestamp) is beyond
            // the old connection may take the 4-tuple now.
            let newer_ts = matches!((seg.repr.timestamp, tw.ts_recent), (Some((tsval, _)), Some(recent)) if (tsval.wrapping_sub(recent) as i32) > 0);
            if seg.seq() > tw.rcv_nxt || newer_ts {
                cx.meter().conn_table_ops += 1;
                self.table.remove(key);
                if let Some(entry) = self.time_wait.get_mut(id) {
                    entry.live = false;
                }
                self.counters.time_wait_reused += 1;
                return true;
            }
        }
        self.counters.drop(DropReason::TcpTimeWait);
        // A retransmitted FIN is acknowledged again. An acceptable bare ACK
        // needs no answer. Anything else (a late ACK out of the window, old
        // data, an old SYN) gets an ACK under the entry's rate limit, as in
        // Linux: the peer has usually closed already and answers every ACK
        // with a RST, so unlimited answers become a storm.
        if !seg.has(TcpFlags::FIN) {
            if seg.payload_len == 0 && !seg.has(TcpFlags::SYN) && seg.seq() == tw.rcv_nxt {
                return false;
            }
            let carries_data = seg.payload_len > 0 && !seg.has(TcpFlags::SYN);
            let Some(entry) = self.time_wait.get_mut(id) else {
                return false;
            };
            if !self
                .ack_limiter
                .allow_out_of_window(&mut entry.last_oow_ack, cx.now, carries_data)
            {
                self.counters.acks_rate_limited += 1;
                return false;
            }
        }
        let repr = TcpRepr {
            src_port: key.local_port,
            dst_port: key.remote_port,
            flags: TcpFlags::empty(),
            seq_number: tw.snd_nxt,
            ack_number: Some(tw.rcv_nxt),
            window_len: tw.window,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: tw.ts_recent.map(|recent| (ts_value(cx.now), recent)),
            payload: &[],
        };
        self.send_control(cx, key.remote_addr, &repr);
        false
    }
}

/// The connection a received frame is for, read from its first buffer if
/// that holds an untagged Ethernet header, an IPv4 header of protocol TCP
/// and the TCP ports; `None` otherwise. Unchecked (no checksum, no
/// length, no address): a prefetch hint, never a decision.
fn flow_hint(frame: &Frame) -> Option<FlowKey> {
    const ETH: usize = 14;
    let b = frame.windows().next()?;
    if b.get(12..14)? != [0x08, 0x00] || b.get(ETH)? >> 4 != 4 || *b.get(ETH + 9)? != 6 {
        return None;
    }
    let ip_header = usize::from(b[ETH] & 0x0f) * 4;
    let src = b.get(ETH + 12..ETH + 16)?;
    let ports = b.get(ETH + ip_header..ETH + ip_header + 4)?;
    Some(FlowKey {
        remote_addr: crate::wire::Ipv4Addr::new(src[0], src[1], src[2], src[3]),
        remote_port: u16::from_be_bytes([ports[0], ports[1]]),
        local_port: u16::from_be_bytes([ports[2], ports[3]]),
    })
}

#[cfg(test)]
mod tests {
    use super::flow_hint;
    use crate::mem::buf::{BufPool, Frame, PoolConfig};
    use crate::tcp::table::FlowKey;
    use crate::wire::Ipv4Addr;
    use etherparse::PacketBuilder;

    fn frame(pool: &BufPool, bytes: &[u8]) -> Frame {
        let mut frame = pool.alloc_chain(bytes.len()).expect("buffers free");
        frame
            .cursor_mut()
            .write(bytes)
            .expect("sized for the bytes");
        frame
    }

    fn tcp(options: &[u8]) -> Vec<u8> {
        let ip = etherparse::Ipv4Header::new(
            20,
            64,
            etherparse::IpNumber::TCP,
            [10, 0, 0, 9],
            [10, 0, 0, 1],
        )
        .map(|mut h| {
            h.options = etherparse::Ipv4Options::try_from(options).unwrap();
            h
        })
        .unwrap();
        let mut out = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ip(etherparse::IpHeaders::Ipv4(ip, Default::default()))
            .tcp(49152, 80, 1, 1000)
            .write(&mut out, &[1, 2, 3, 4])
            .unwrap();
        out
    }

    #[test]
    fn the_hint_is_the_flow_of_tcp_over_ipv4_and_nothing_else() {
        let pool = BufPool::new(&PoolConfig::default());
        let key = FlowKey {
            remote_addr: Ipv4Addr::new(10, 0, 0, 9),
            remote_port: 49152,
            local_port: 80,
        };
        // Read at the header's own length (IPv4 options shift the ports).
        assert_eq!(flow_hint(&frame(&pool, &tcp(&[]))), Some(key));
        assert_eq!(flow_hint(&frame(&pool, &tcp(&[1, 1, 1, 0]))), Some(key));
        let mut udp = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 9], [10, 0, 0, 1], 64)
            .udp(49152, 80)
            .write(&mut udp, &[1, 2, 3, 4])
            .unwrap();
        assert_eq!(flow_hint(&frame(&pool, &udp)), None);
        // Not IPv4 (an ARP ethertype), and too short to hold the ports.
        let mut arp = tcp(&[]);
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(flow_hint(&frame(&pool, &arp)), None);
        for len in [0, 13, 14, 33, 34, 37] {
            assert_eq!(
                flow_hint(&frame(&pool, &tcp(&[])[..len])),
                None,
                "{len} bytes"
            );
        }
        assert_eq!(flow_hint(&frame(&pool, &tcp(&[])[..38])), Some(key));
    }
}
