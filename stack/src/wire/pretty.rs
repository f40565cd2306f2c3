//! One-line, tcpdump-like descriptions of frames, for logs, traces and
//! snapshot tests.
//!
//! [`Tracer`] remembers the initial sequence number of each TCP direction
//! it sees (from the SYN) and prints sequence and acknowledgment numbers
//! relative to them, so traces read the same whatever the ISNs. It
//! allocates and is meant for diagnostics, never for the data path.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{
    ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetFrame, EthernetRepr, IcmpPacket, IcmpRepr,
    IpProtocol, Ipv4Addr, Ipv4Packet, TcpFlags, TcpPacket, TcpRepr,
};

type Direction = (Ipv4Addr, u16, Ipv4Addr, u16);

/// Describes frames one per line, with relative TCP sequence numbers.
#[derive(Debug, Default)]
pub struct Tracer {
    isn: BTreeMap<Direction, u32>,
}

impl Tracer {
    /// A tracer that has seen no flow yet.
    pub fn new() -> Self {
        Tracer::default()
    }

    /// One line describing `frame` (malformed frames are described as such).
    pub fn line(&mut self, frame: &[u8]) -> String {
        let Ok(eth) = EthernetFrame::new_checked(frame).and_then(|f| EthernetRepr::parse(&f))
        else {
            return format!("malformed Ethernet frame, {} bytes", frame.len());
        };
        let payload = frame.get(14..).unwrap_or(&[]);
        match eth.ethertype {
            EtherType::Arp => {
                match ArpPacket::new_checked(payload).and_then(|p| ArpRepr::parse(&p)) {
                    Ok(arp) => match arp.operation {
                        ArpOperation::Request if arp.source_ip == arp.target_ip => {
                            format!("ARP announce {} is-at {}", arp.source_ip, arp.source_mac)
                        }
                        ArpOperation::Request => {
                            format!("ARP who-has {} tell {}", arp.target_ip, arp.source_ip)
                        }
                        ArpOperation::Reply => {
                            format!("ARP {} is-at {}", arp.source_ip, arp.source_mac)
                        }
                        ArpOperation::Unknown(op) => format!("ARP op {op}"),
                    },
                    Err(e) => format!("ARP {e}"),
                }
            }
            EtherType::Ipv4 => self.ipv4(payload),
            EtherType::Unknown(t) => format!("ethertype 0x{t:04x}, {} bytes", frame.len()),
        }
    }

    fn ipv4(&mut self, datagram: &[u8]) -> String {
        let Ok(ip) = Ipv4Packet::new_checked(datagram) else {
            return "malformed IPv4".to_string();
        };
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let bad_ip = if ip.verify_checksum() {
            ""
        } else {
            " [bad ip checksum]"
        };
        match ip.protocol() {
            IpProtocol::Icmp => {
                match IcmpPacket::new_checked(ip.payload()).and_then(|p| IcmpRepr::parse(&p)) {
                    Ok(IcmpRepr::EchoRequest {
                        ident,
                        seq_no,
                        data,
                    }) => {
                        format!("{src} > {dst} ICMP echo request id={ident} seq={seq_no} len={}{bad_ip}", data.len())
                    }
                    Ok(IcmpRepr::EchoReply {
                        ident,
                        seq_no,
                        data,
                    }) => {
                        format!(
                            "{src} > {dst} ICMP echo reply id={ident} seq={seq_no} len={}{bad_ip}",
                            data.len()
                        )
                    }
                    Ok(IcmpRepr::Other { msg_type, code, .. }) => {
                        format!("{src} > {dst} ICMP type {msg_type} code {code}{bad_ip}")
                    }
                    Err(e) => format!("{src} > {dst} ICMP {e}{bad_ip}"),
                }
            }
            IpProtocol::Tcp => {
                let packet = match TcpPacket::new_checked(ip.payload()) {
                    Ok(p) => p,
                    Err(e) => return format!("{src} > {dst} TCP {e}{bad_ip}"),
                };
                match TcpRepr::parse(&packet, src, dst) {
                    Ok(tcp) => self.tcp(src, dst, &tcp) + bad_ip,
                    Err(e) => format!(
                        "{src}:{} > {dst}:{} TCP {e}{bad_ip}",
                        packet.src_port(),
                        packet.dst_port()
                    ),
                }
            }
            other => format!(
                "{src} > {dst} {other}, {} bytes{bad_ip}",
                ip.payload().len()
            ),
        }
    }

    fn tcp(&mut self, src: Ipv4Addr, dst: Ipv4Addr, tcp: &TcpRepr<'_>) -> String {
        let fwd = (src, tcp.src_port, dst, tcp.dst_port);
        let rev = (dst, tcp.dst_port, src, tcp.src_port);
        if tcp.flags.contains(TcpFlags::SYN) {
            self.isn.insert(fwd, tcp.seq_number.0);
        }
        let base = self.isn.get(&fwd).copied().unwrap_or(0);
        let mut flags = String::new();
        for (flag, c) in [
            (TcpFlags::SYN, 'S'),
            (TcpFlags::FIN, 'F'),
            (TcpFlags::RST, 'R'),
            (TcpFlags::PSH, 'P'),
        ] {
            if tcp.flags.contains(flag) {
                flags.push(c);
            }
        }
        if tcp.ack_number.is_some() {
            flags.push('.');
        }
        let mut line = format!(
            "{src}:{} > {dst}:{} [{flags}] seq {}",
            tcp.src_port,
            tcp.dst_port,
            tcp.seq_number.0.wrapping_sub(base)
        );
        if let Some(ack) = tcp.ack_number {
            let rbase = self.isn.get(&rev).copied().unwrap_or(0);
            let _ = write!(line, " ack {}", ack.0.wrapping_sub(rbase));
        }
        let _ = write!(line, " win {}", tcp.window_len);
        let mut options = Vec::new();
        if let Some(mss) = tcp.max_seg_size {
            options.push(format!("mss {mss}"));
        }
        if tcp.sack_permitted {
            options.push("sackOK".to_string());
        }
        if let Some(shift) = tcp.window_scale {
            options.push(format!("wscale {shift}"));
        }
        if tcp.timestamp.is_some() {
            options.push("TS".to_string());
        }
        let rbase = self.isn.get(&rev).copied().unwrap_or(0);
        let blocks: Vec<String> = tcp
            .sack_ranges
            .iter()
            .flatten()
            .map(|(l, r)| format!("{}-{}", l.wrapping_sub(rbase), r.wrapping_sub(rbase)))
            .collect();
        if !blocks.is_empty() {
            options.push(format!("sack {}", blocks.join(",")));
        }
        if !options.is_empty() {
            let _ = write!(line, " <{}>", options.join(","));
        }
        let _ = write!(line, " len {}", tcp.payload.len());
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_a_syn_and_its_answer() {
        use etherparse::{PacketBuilder, TcpOptionElement};
        let build =
            |src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, seq: u32, syn_ack: Option<u32>| {
                let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                    .ipv4(src, dst, 64);
                let mut tcp = b.tcp(sp, dp, seq, 29200).syn();
                if let Some(ack) = syn_ack {
                    tcp = tcp.ack(ack);
                }
                let tcp = tcp
                    .options(&[
                        TcpOptionElement::MaximumSegmentSize(1460),
                        TcpOptionElement::SelectiveAcknowledgementPermitted,
                        TcpOptionElement::Noop,
                        TcpOptionElement::WindowScale(6),
                    ])
                    .unwrap();
                let mut out = Vec::new();
                tcp.write(&mut out, &[]).unwrap();
                out
            };
        let mut t = Tracer::new();
        let syn = build([10, 0, 0, 1], [10, 0, 0, 2], 49152, 80, 1000, None);
        let line = t.line(&syn);
        assert_eq!(
            line,
            "10.0.0.1:49152 > 10.0.0.2:80 [S] seq 0 win 29200 <mss 1460,sackOK,wscale 6> len 0"
        );
        let syn_ack = build([10, 0, 0, 2], [10, 0, 0, 1], 80, 49152, 7000, Some(1001));
        let line = t.line(&syn_ack);
        assert_eq!(line, "10.0.0.2:80 > 10.0.0.1:49152 [S.] seq 0 ack 1 win 29200 <mss 1460,sackOK,wscale 6> len 0");
        assert_eq!(t.line(&[1, 2, 3]), "malformed Ethernet frame, 3 bytes");
    }
}
