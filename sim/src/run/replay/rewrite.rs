//! Reading and rewriting captured TCP/IPv4 frames in place, for adaptive
//! replay: the acknowledgment number, SACK blocks and echoed timestamp
//! moved to another sequence space, and the checksum made right again.

use rusty_stack::checksum::pseudo_header_sum;
use rusty_stack::wire::tcp::{field, tcp_checksum_with_pseudo, TcpFlags};
use rusty_stack::wire::{ethernet, ipv4, Ipv4Addr, MacAddr};

/// TCP option kinds this module reads.
const OPT_END: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_SACK: u8 = 5;
const OPT_TIMESTAMPS: u8 = 8;

/// Where the parts of an Ethernet/IPv4/TCP frame are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpFrame {
    /// Offset of the TCP header.
    pub tcp: usize,
    /// Offset of the payload.
    pub payload: usize,
    /// End of the IP datagram (Ethernet padding excluded).
    pub end: usize,
}

impl TcpFrame {
    /// The layout of `frame`, if it is an unfragmented IPv4 TCP segment
    /// with consistent lengths.
    pub fn parse(frame: &[u8]) -> Option<TcpFrame> {
        let ip = ethernet::HEADER_LEN;
        if frame.get(ethernet::field::ETHERTYPE..ethernet::field::PAYLOAD)? != [0x08, 0x00] {
            return None;
        }
        let ver_ihl = *frame.get(ip + ipv4::field::VER_IHL)?;
        let ihl = usize::from(ver_ihl & 0x0f) * 4;
        if ver_ihl >> 4 != 4 || ihl < ipv4::HEADER_LEN {
            return None;
        }
        if *frame.get(ip + ipv4::field::PROTOCOL)? != 6 {
            return None;
        }
        let flags_frag = be16(frame, ip + ipv4::field::FLG_OFF)?;
        if flags_frag & 0x3fff != 0 {
            return None; // a fragment
        }
        let total = usize::from(be16(frame, ip + ipv4::field::LENGTH)?);
        let end = ip + total;
        let tcp = ip + ihl;
        if end > frame.len() || tcp + rusty_stack::wire::tcp::HEADER_LEN > end {
            return None;
        }
        let data_off = usize::from(frame[tcp + field::DATA_OFF] >> 4) * 4;
        let payload = tcp + data_off;
        if data_off < rusty_stack::wire::tcp::HEADER_LEN || payload > end {
            return None;
        }
        Some(TcpFrame { tcp, payload, end })
    }

    /// Source address.
    pub fn src_ip(&self, f: &[u8]) -> Ipv4Addr {
        ip_at(f, ethernet::HEADER_LEN + ipv4::field::SRC)
    }
    /// Destination address.
    pub fn dst_ip(&self, f: &[u8]) -> Ipv4Addr {
        ip_at(f, ethernet::HEADER_LEN + ipv4::field::DST)
    }
    /// Source port.
    pub fn src_port(&self, f: &[u8]) -> u16 {
        be16(f, self.tcp + field::SRC_PORT).unwrap_or(0)
    }
    /// Destination port.
    pub fn dst_port(&self, f: &[u8]) -> u16 {
        be16(f, self.tcp + field::DST_PORT).unwrap_or(0)
    }
    /// Sequence number.
    pub fn seq(&self, f: &[u8]) -> u32 {
        be32(f, self.tcp + field::SEQ_NUM).unwrap_or(0)
    }
    /// Acknowledgment number (meaningful with ACK set).
    pub fn ack(&self, f: &[u8]) -> u32 {
        be32(f, self.tcp + field::ACK_NUM).unwrap_or(0)
    }
    /// The flags byte.
    pub fn flags(&self, f: &[u8]) -> TcpFlags {
        TcpFlags::from_bits(f[self.tcp + field::FLAGS])
    }
    /// Whether ACK is set.
    pub fn has_ack(&self, f: &[u8]) -> bool {
        f[self.tcp + field::FLAGS] & 0x10 != 0
    }
    /// The payload.
    pub fn data<'a>(&self, f: &'a [u8]) -> &'a [u8] {
        &f[self.payload..self.end]
    }
    /// Sequence space the segment takes: payload, plus one each for SYN
    /// and FIN.
    pub fn seq_len(&self, f: &[u8]) -> u32 {
        let flags = f[self.tcp + field::FLAGS];
        (self.end - self.payload) as u32
            + u32::from(flags & 0x02 != 0)
            + u32::from(flags & 0x01 != 0)
    }
    /// The TSval of the timestamps option, if present.
    pub fn tsval(&self, f: &[u8]) -> Option<u32> {
        let at = self.option(f, OPT_TIMESTAMPS)?;
        be32(f, at + 2)
    }

    /// Offset of the first option of `kind` (its kind byte).
    fn option(&self, f: &[u8], kind: u8) -> Option<usize> {
        let mut at = self.tcp + rusty_stack::wire::tcp::HEADER_LEN;
        while at < self.payload {
            match f[at] {
                OPT_END => return None,
                OPT_NOP => at += 1,
                k => {
                    let len = usize::from(*f.get(at + 1)?);
                    if len < 2 || at + len > self.payload {
                        return None;
                    }
                    if k == kind {
                        return Some(at);
                    }
                    at += len;
                }
            }
        }
        None
    }

    /// Moves the acknowledgment number and SACK blocks by `map`, sets the
    /// echoed timestamp to `tsecr` (when both it and the option exist),
    /// and sets the destination MAC to `dst`; then fixes the checksum.
    pub fn rewrite(
        &self,
        f: &mut [u8],
        dst: MacAddr,
        map: impl Fn(u32) -> u32,
        tsecr: Option<u32>,
    ) {
        f[ethernet::field::DST..ethernet::field::DST + 6].copy_from_slice(&dst.0);
        if self.has_ack(f) {
            let ack = map(self.ack(f));
            put32(f, self.tcp + field::ACK_NUM, ack);
        }
        if let Some(at) = self.option(f, OPT_SACK) {
            let len = usize::from(f[at + 1]);
            let mut edge = at + 2;
            while edge + 4 <= at + len {
                let v = map(be32(f, edge).unwrap_or(0));
                put32(f, edge, v);
                edge += 4;
            }
        }
        if let (Some(at), Some(ecr)) = (self.option(f, OPT_TIMESTAMPS), tsecr) {
            if f[at + 1] == 10 {
                put32(f, at + 6, ecr);
            }
        }
        self.fix_checksum(f);
    }

    /// Sets the acknowledgment number and fixes the checksum.
    pub fn set_ack(&self, f: &mut [u8], ack: u32) {
        put32(f, self.tcp + field::ACK_NUM, ack);
        self.fix_checksum(f);
    }

    /// Recomputes the TCP checksum.
    pub fn fix_checksum(&self, f: &mut [u8]) {
        let (src, dst) = (self.src_ip(f), self.dst_ip(f));
        let len = (self.end - self.tcp) as u16;
        let pseudo = pseudo_header_sum(src.octets(), dst.octets(), 6, len);
        f[self.tcp + field::CHECKSUM..self.tcp + field::CHECKSUM + 2].fill(0);
        let sum = tcp_checksum_with_pseudo(pseudo, &f[self.tcp..self.end], 0, 0);
        f[self.tcp + field::CHECKSUM..self.tcp + field::CHECKSUM + 2]
            .copy_from_slice(&sum.to_be_bytes());
    }
}

fn be16(f: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(f.get(at..at + 2)?.try_into().ok()?))
}

fn be32(f: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(f.get(at..at + 4)?.try_into().ok()?))
}

fn put32(f: &mut [u8], at: usize, v: u32) {
    f[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

fn ip_at(f: &[u8], at: usize) -> Ipv4Addr {
    let b: [u8; 4] = f
        .get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .unwrap_or([0; 4]);
    Ipv4Addr::from(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};

    fn segment() -> Vec<u8> {
        let builder = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40_000, 80, 1000, 500)
            .ack(7000)
            .options(&[
                etherparse::TcpOptionElement::Noop,
                etherparse::TcpOptionElement::Noop,
                etherparse::TcpOptionElement::Timestamp(11, 22),
                etherparse::TcpOptionElement::Noop,
                etherparse::TcpOptionElement::Noop,
                etherparse::TcpOptionElement::SelectiveAcknowledgement(
                    (8000, 9000),
                    [None, None, None],
                ),
            ])
            .unwrap();
        let mut out = Vec::new();
        builder.write(&mut out, b"hello").unwrap();
        out
    }

    #[test]
    fn rewrites_ack_sack_and_tsecr_with_a_valid_checksum() {
        let mut f = segment();
        let t = TcpFrame::parse(&f).unwrap();
        assert_eq!(
            (t.seq(&f), t.ack(&f), t.data(&f)),
            (1000, 7000, &b"hello"[..])
        );
        assert_eq!(t.tsval(&f), Some(11));
        t.rewrite(
            &mut f,
            MacAddr([2, 9, 9, 9, 9, 9]),
            |x| x.wrapping_add(100),
            Some(77),
        );
        // etherparse, an independent parser, reads the result.
        let p = SlicedPacket::from_ethernet(&f).unwrap();
        let Some(TransportSlice::Tcp(tcp)) = p.transport else {
            panic!("not tcp")
        };
        assert_eq!(tcp.acknowledgment_number(), 7100);
        let opts: Vec<_> = tcp.options_iterator().map(|o| o.unwrap()).collect();
        assert!(opts.contains(&etherparse::TcpOptionElement::Timestamp(11, 77)));
        assert!(
            opts.contains(&etherparse::TcpOptionElement::SelectiveAcknowledgement(
                (8100, 9100),
                [None, None, None]
            ))
        );
        let ip = etherparse::Ipv4HeaderSlice::from_slice(&f[14..]).unwrap();
        let want = tcp
            .to_header()
            .calc_checksum_ipv4_raw(ip.source(), ip.destination(), b"hello")
            .unwrap();
        assert_eq!(tcp.checksum(), want);
        assert_eq!(&f[..6], &[2, 9, 9, 9, 9, 9]);
    }

    #[test]
    fn non_tcp_and_short_frames_are_not_parsed() {
        let f = segment();
        for len in 0..54 {
            assert_eq!(TcpFrame::parse(&f[..len]), None, "{len}");
        }
        let mut udp = f.clone();
        udp[23] = 17;
        assert_eq!(TcpFrame::parse(&udp), None);
    }
}
