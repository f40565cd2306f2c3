//! The classifier's parser (fact sheet §1 "Classifier and rules", §4 step 2):
//! LLC/SNAP and VLAN parsing, the IPv4 header checksum check, the L4 sum
//! (`cs`), the flow hash and the custom1 metadata the default classifier
//! fills in. Rule matching is in [`crate::rules`].

use crate::hash::FlowHasher;

/// The ones'-complement sum of `data` (big-endian 16-bit words, an odd last
/// byte padded with zero) added to `acc`, not folded.
pub fn sum16(data: &[u8], mut acc: u64) -> u64 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// Folds a sum to 16 bits with end-around carry.
pub fn fold(mut acc: u64) -> u16 {
    while acc > 0xFFFF {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    acc as u16
}

/// What the parser learned about one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// Destination MAC.
    pub dmac: [u8; 6],
    /// First VLAN id, 0xFFFF when untagged.
    pub vlan: u16,
    /// The ethertype after VLAN tags and LLC/SNAP.
    pub ethertype: u16,
    /// Offset of the L3 header.
    pub l3_offset: u8,
    /// Offset of the L4 header, 0 for non-IP.
    pub l4_offset: u8,
    /// The IP header is bad (IPv4 header checksum, version or lengths).
    pub bad_l3: bool,
    /// The L4 sum, when computed: (csum_start, sum over pseudo-header and
    /// segment; 0xFFFF when the TCP/UDP checksum verifies).
    pub l4_sum: Option<(u8, u16)>,
    /// The flow hash.
    pub hash: u32,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn ports(frame: &[u8], l4: usize) -> Option<(u16, u16)> {
    Some((be16(frame, l4)?, be16(frame, l4 + 2)?))
}

const TCP: u8 = 6;
const UDP: u8 = 17;

/// Parses an Ethernet frame (without FCS) the way the emulated default
/// classifier does. Frames shorter than 14 bytes parse as non-IP with a
/// zero MAC; the MAC model drops them before this point.
pub fn parse(frame: &[u8], hasher: &FlowHasher) -> Parsed {
    let mut dmac = [0u8; 6];
    let mut smac = [0u8; 6];
    if frame.len() >= 12 {
        dmac.copy_from_slice(&frame[..6]);
        smac.copy_from_slice(&frame[6..12]);
    }
    let mut p = Parsed {
        dmac,
        vlan: 0xFFFF,
        ethertype: be16(frame, 12).unwrap_or(0),
        l3_offset: 14,
        l4_offset: 0,
        bad_l3: false,
        l4_sum: None,
        hash: hasher.mac_pair(dmac, smac),
    };
    let mut off = 14usize;
    while matches!(p.ethertype, 0x8100 | 0x88A8 | 0x9100) {
        let (Some(tci), Some(et)) = (be16(frame, off), be16(frame, off + 2)) else {
            break;
        };
        if p.vlan == 0xFFFF {
            p.vlan = tci & 0x0FFF;
        }
        p.ethertype = et;
        off += 4;
    }
    if p.ethertype <= 1500 && frame.get(off..off + 3) == Some(&[0xAA, 0xAA, 0x03]) {
        if let Some(et) = be16(frame, off + 6) {
            p.ethertype = et;
            off += 8;
        }
    }
    p.l3_offset = off as u8;
    match p.ethertype {
        0x0800 => parse_ipv4(frame, off, hasher, &mut p),
        0x86DD => parse_ipv6(frame, off, hasher, &mut p),
        _ => {}
    }
    p
}

fn parse_ipv4(frame: &[u8], off: usize, hasher: &FlowHasher, p: &mut Parsed) {
    let Some(h) = frame.get(off..off + 20) else {
        p.bad_l3 = true;
        return;
    };
    let ihl = usize::from(h[0] & 0x0F) * 4;
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if h[0] >> 4 != 4 || ihl < 20 || total < ihl || off + total > frame.len() {
        p.bad_l3 = true;
        return;
    }
    let header = &frame[off..off + ihl];
    if fold(sum16(header, 0)) != 0xFFFF {
        p.bad_l3 = true;
    }
    let src = [h[12], h[13], h[14], h[15]];
    let dst = [h[16], h[17], h[18], h[19]];
    let proto = h[9];
    let frag = u16::from_be_bytes([h[6], h[7]]);
    let more_fragments = frag & 0x2000 != 0;
    let frag_offset = frag & 0x1FFF;
    let l4 = off + ihl;
    p.l4_offset = l4 as u8;
    let port_pair = if matches!(proto, TCP | UDP) && frag_offset == 0 {
        ports(frame, l4)
    } else {
        None
    };
    p.hash = match port_pair {
        Some((s, d)) => hasher.ipv4_ports(src, dst, s, d),
        None => hasher.ipv4_pair(src, dst),
    };
    if p.bad_l3 || frag_offset != 0 || more_fragments || !matches!(proto, TCP | UDP) {
        return;
    }
    let seg = &frame[l4..off + total];
    let min = if proto == TCP { 20 } else { 8 };
    if seg.len() < min || (proto == UDP && be16(seg, 6) == Some(0)) {
        return;
    }
    let mut acc = sum16(&src, 0);
    acc = sum16(&dst, acc);
    acc += u64::from(proto) + seg.len() as u64;
    p.l4_sum = Some((l4 as u8, fold(sum16(seg, acc))));
}

fn parse_ipv6(frame: &[u8], off: usize, hasher: &FlowHasher, p: &mut Parsed) {
    let Some(h) = frame.get(off..off + 40) else {
        p.bad_l3 = true;
        return;
    };
    let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
    if h[0] >> 4 != 6 || off + 40 + plen > frame.len() {
        p.bad_l3 = true;
        return;
    }
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&h[8..24]);
    dst.copy_from_slice(&h[24..40]);
    let nh = h[6];
    let l4 = off + 40;
    p.l4_offset = l4.min(255) as u8;
    let port_pair = if matches!(nh, TCP | UDP) {
        ports(frame, l4)
    } else {
        None
    };
    p.hash = match port_pair {
        Some((s, d)) => hasher.ipv6_ports(src, dst, s, d),
        None => hasher.ipv6_pair(src, dst),
    };
    if !matches!(nh, TCP | UDP) || l4 > 255 {
        return;
    }
    let seg = &frame[l4..l4 + plen];
    if seg.len() < if nh == TCP { 20 } else { 8 } {
        return;
    }
    let mut acc = sum16(&src, 0);
    acc = sum16(&dst, acc);
    acc += u64::from(nh) + seg.len() as u64;
    p.l4_sum = Some((l4 as u8, fold(sum16(seg, acc))));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums() {
        assert_eq!(fold(sum16(&[0xFF, 0xFF, 0x00, 0x01], 0)), 0x0001);
        assert_eq!(fold(sum16(&[0x12], 0)), 0x1200);
        assert_eq!(fold(0x1_FFFF), 0x0001);
    }

    #[test]
    fn vlan_and_snap() {
        let h = FlowHasher::default();
        let mut f = vec![0u8; 14];
        f[12..14].copy_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&[0x00, 0x2A, 0x00, 0x40]); // VID 42, 802.3 length 64
        f.extend_from_slice(&[0xAA, 0xAA, 0x03, 0, 0, 0, 0x88, 0xB5]);
        f.extend_from_slice(&[0u8; 40]);
        let p = parse(&f, &h);
        assert_eq!(p.vlan, 42);
        assert_eq!(p.ethertype, 0x88B5);
        assert_eq!(p.l3_offset, 26);
        assert_eq!(p.l4_offset, 0);
        assert!(!p.bad_l3);
    }
}
