//! Independent checks of emitted frames, with etherparse.

use etherparse::{NetSlice, SlicedPacket, TransportSlice};

/// What an emitted frame carries, as etherparse sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Carried {
    /// An ARP packet.
    Arp,
    /// An ICMPv4 message (checksum verified).
    Icmp,
    /// A TCP segment (checksum verified).
    Tcp,
}

/// Checks that `frame` is a well-formed Ethernet II frame carrying ARP, or
/// IPv4 with a valid header checksum carrying TCP or ICMP with a valid
/// checksum; the error says what is wrong.
pub fn check_frame(frame: &[u8]) -> Result<Carried, String> {
    let sliced = SlicedPacket::from_ethernet(frame)
        .map_err(|e| format!("etherparse cannot parse the frame: {e}"))?;
    let ip = match &sliced.net {
        Some(NetSlice::Arp(_)) => return Ok(Carried::Arp),
        Some(NetSlice::Ipv4(ip)) => ip,
        other => return Err(format!("neither ARP nor IPv4: {other:?}")),
    };
    let header = ip.header();
    let want = header.to_header().calc_header_checksum();
    if header.header_checksum() != want {
        return Err(format!(
            "bad IPv4 header checksum {:#06x}, want {want:#06x}",
            header.header_checksum()
        ));
    }
    if header.is_fragmenting_payload() {
        return Err("the stack sent an IPv4 fragment".into());
    }
    match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => {
            let want = tcp
                .calc_checksum_ipv4(header.source(), header.destination())
                .map_err(|e| format!("TCP checksum: {e}"))?;
            if tcp.checksum() != want {
                return Err(format!(
                    "bad TCP checksum {:#06x}, want {want:#06x}",
                    tcp.checksum()
                ));
            }
            Ok(Carried::Tcp)
        }
        Some(TransportSlice::Icmpv4(icmp)) => {
            let want = icmp.icmp_type().calc_checksum(icmp.payload());
            if icmp.checksum() != want {
                return Err(format!(
                    "bad ICMP checksum {:#06x}, want {want:#06x}",
                    icmp.checksum()
                ));
            }
            Ok(Carried::Icmp)
        }
        other => Err(format!("IPv4 carrying neither TCP nor ICMP: {other:?}")),
    }
}

/// [`check_frame`], panicking with the frame in hex when it fails.
pub fn assert_frame(frame: &[u8]) -> Carried {
    match check_frame(frame) {
        Ok(carried) => carried,
        Err(why) => panic!("emitted frame is malformed: {why}\nframe: {}", hex(frame)),
    }
}

/// `bytes` as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
