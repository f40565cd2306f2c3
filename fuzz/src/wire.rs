//! Raw frames on and off the in-memory pair driver, and checksum fix-ups.

use rusty_stack::checksum::{ones_sum, pseudo_header_sum, Checksum};
use rusty_stack::wire::{Ipv4Addr, MacAddr};

/// Length of an Ethernet II header.
const ETH: usize = 14;

/// Raw frames on and off the pair driver: the replay's own helpers.
pub use rusty_sim::run::replay::{drain, inject};

/// Where the IPv4 packet of an Ethernet frame lies: `(header length, end)`
/// as offsets into the frame, clipped to it; `None` if it is not IPv4.
fn ipv4_bounds(frame: &[u8]) -> Option<(usize, usize)> {
    if frame.len() < ETH + 20 || frame[12..14] != [0x08, 0x00] {
        return None;
    }
    let ihl = usize::from(frame[ETH] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([frame[ETH + 2], frame[ETH + 3]]));
    let end = (ETH + total).min(frame.len());
    if ihl < 20 || ETH + ihl > end {
        return None;
    }
    Some((ihl, end))
}

/// Makes `frame` addressed to `mac` and, if it is IPv4, to `ip`.
pub fn readdress(frame: &mut [u8], mac: MacAddr, ip: Ipv4Addr) {
    if let Some(dst) = frame.get_mut(0..6) {
        dst.copy_from_slice(&mac.0);
    }
    if ipv4_bounds(frame).is_some() {
        frame[ETH + 16..ETH + 20].copy_from_slice(&ip.octets());
    }
}

/// Recomputes the IPv4 header checksum of `frame` and, for TCP and ICMP
/// (first fragments only), the transport checksum over the bytes the IPv4
/// total length covers. Frames that are not IPv4 are left alone.
pub fn fix_checksums(frame: &mut [u8]) {
    let Some((ihl, end)) = ipv4_bounds(frame) else {
        return;
    };
    let header = ETH..ETH + ihl;
    frame[ETH + 10..ETH + 12].fill(0);
    let sum = !ones_sum(&frame[header]);
    frame[ETH + 10..ETH + 12].copy_from_slice(&sum.to_be_bytes());

    let frag_offset = u16::from_be_bytes([frame[ETH + 6], frame[ETH + 7]]) & 0x1fff;
    if frag_offset != 0 {
        return;
    }
    let protocol = frame[ETH + 9];
    let mut src = [0u8; 4];
    let mut dst = [0u8; 4];
    src.copy_from_slice(&frame[ETH + 12..ETH + 16]);
    dst.copy_from_slice(&frame[ETH + 16..ETH + 20]);
    let payload = &mut frame[ETH + ihl..end];
    let field = match protocol {
        6 if payload.len() >= 20 => 16,
        1 if payload.len() >= 4 => 2,
        _ => return,
    };
    payload[field..field + 2].fill(0);
    let mut acc = Checksum::new();
    if protocol == 6 {
        // The payload is under 64 KiB: the total length field bounds it.
        acc.add_u16(pseudo_header_sum(src, dst, 6, payload.len() as u16));
    }
    acc.add_bytes(payload);
    payload[field..field + 2].copy_from_slice(&acc.finish().to_be_bytes());
}
