//! Typed views over packet bytes, and plain representations of headers.
//!
//! The design follows smoltcp's `wire` module. Each protocol has two layers:
//!
//! * a **packet view** (`EthernetFrame<T>`, `ArpPacket<T>`, `Ipv4Packet<T>`,
//!   `IcmpPacket<T>`, `TcpPacket<T>`) that wraps any `T: AsRef<[u8]>` (and,
//!   for the setters, `T: AsMut<[u8]>`) and reads or writes header fields in
//!   place, without copying;
//! * a **`Repr`** (`EthernetRepr`, `ArpRepr`, `Ipv4Repr`, `IcmpRepr`,
//!   `TcpRepr`): a plain struct holding the meaningful, validated content of
//!   a header, with `parse` (view → `Repr`, checking lengths, versions and
//!   checksums) and `emit` (`Repr` → bytes, filling in checksums).
//!
//! # Never panicking
//!
//! No function of this module panics, whatever the bytes. `new_checked`
//! verifies every length field against the buffer, so all accessors of a
//! checked view return real data. Views made with `new_unchecked` are also
//! safe to use: a getter that would read past the buffer returns zero (or an
//! empty slice), and a setter that would write past it writes nothing. A
//! `Repr`'s `emit` into a buffer shorter than its `buffer_len()` therefore
//! produces a truncated packet; sizing the buffer is the caller's job.
//!
//! # Stability
//!
//! For every byte string `b`, if `Repr::parse(b)` succeeds, then emitting
//! that `Repr` and parsing the result gives the same `Repr` again. The
//! bytes themselves may differ: IPv4 options are dropped, TCP options are
//! re-laid out, unknown TCP options are dropped.

use core::fmt;

pub mod arp;
pub mod ethernet;
pub mod icmp;
pub mod ipv4;
pub mod pretty;
pub mod tcp;
pub mod tcp_template;

pub use core::net::Ipv4Addr;

pub use self::arp::{ArpOperation, ArpPacket, ArpRepr};
pub use self::ethernet::{EtherType, EthernetFrame, EthernetRepr, MacAddr};
pub use self::icmp::{icmp_checksum, IcmpPacket, IcmpRepr};
pub use self::ipv4::{IpProtocol, Ipv4Cidr, Ipv4Packet, Ipv4Repr};
pub use self::tcp::{
    tcp_checksum, TcpFlags, TcpOption, TcpOptions, TcpPacket, TcpRepr, TcpSeqNumber,
};
pub use self::tcp_template::TcpHeaderTemplate;

/// Why a packet could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// The buffer is shorter than the header, or than a length field says.
    Truncated,
    /// A field holds a value the protocol forbids (bad version, a length
    /// field smaller than the fixed header, a malformed TCP option, port 0).
    Malformed,
    /// The checksum does not match the content.
    Checksum,
    /// The packet is well formed but uses a variant this stack does not
    /// implement (non-Ethernet/IPv4 ARP, for instance).
    Unsupported,
    /// The IPv4 packet is a fragment (MF set or a non-zero fragment offset);
    /// this stack does not reassemble, so such packets are dropped.
    Fragmented,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Error::Truncated => "truncated packet",
            Error::Malformed => "malformed packet",
            Error::Checksum => "checksum mismatch",
            Error::Unsupported => "unsupported packet variant",
            Error::Fragmented => "IPv4 fragment",
        };
        f.write_str(text)
    }
}

impl std::error::Error for Error {}

/// The result of parsing a packet.
pub type Result<T> = core::result::Result<T, Error>;

// Bounds-checked field access shared by all views. Reads outside the buffer
// yield zero, writes outside it are dropped: nothing here can panic.

#[inline]
fn get_bytes<const N: usize>(buf: &[u8], at: usize) -> Option<[u8; N]> {
    let bytes = buf.get(at..at.checked_add(N)?)?;
    let mut out = [0u8; N];
    out.copy_from_slice(bytes);
    Some(out)
}

#[inline]
fn read_u8(buf: &[u8], at: usize) -> u8 {
    buf.get(at).copied().unwrap_or(0)
}

#[inline]
fn read_u16(buf: &[u8], at: usize) -> u16 {
    get_bytes::<2>(buf, at).map_or(0, u16::from_be_bytes)
}

#[inline]
fn read_u32(buf: &[u8], at: usize) -> u32 {
    get_bytes::<4>(buf, at).map_or(0, u32::from_be_bytes)
}

#[inline]
fn read_array<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    get_bytes::<N>(buf, at).unwrap_or([0; N])
}

#[inline]
fn write_bytes(buf: &mut [u8], at: usize, bytes: &[u8]) {
    let Some(end) = at.checked_add(bytes.len()) else {
        return;
    };
    if let Some(dst) = buf.get_mut(at..end) {
        dst.copy_from_slice(bytes);
    }
}

#[inline]
fn write_u8(buf: &mut [u8], at: usize, value: u8) {
    if let Some(b) = buf.get_mut(at) {
        *b = value;
    }
}

#[inline]
fn write_u16(buf: &mut [u8], at: usize, value: u16) {
    write_bytes(buf, at, &value.to_be_bytes());
}

#[inline]
fn write_u32(buf: &mut [u8], at: usize, value: u32) {
    write_bytes(buf, at, &value.to_be_bytes());
}

/// `buf[start..end]`, or the part of it inside the buffer (possibly empty).
#[inline]
fn sub_slice(buf: &[u8], start: usize, end: usize) -> &[u8] {
    let end = end.min(buf.len());
    buf.get(start..end).unwrap_or(&[])
}

/// Mutable `buf[start..end]`, or the part of it inside the buffer.
#[inline]
fn sub_slice_mut(buf: &mut [u8], start: usize, end: usize) -> &mut [u8] {
    let end = end.min(buf.len());
    buf.get_mut(start..end).unwrap_or(&mut [])
}

/// Copies as much of `src` as fits into `dst[at..]`.
#[inline]
fn copy_clamped(dst: &mut [u8], at: usize, src: &[u8]) {
    let room = sub_slice_mut(dst, at, usize::MAX);
    let n = room.len().min(src.len());
    if let (Some(d), Some(s)) = (room.get_mut(..n), src.get(..n)) {
        d.copy_from_slice(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_helpers_never_panic() {
        let mut buf = [1u8, 2, 3];
        assert_eq!(read_u16(&buf, 1), 0x0203);
        assert_eq!(read_u16(&buf, 2), 0);
        assert_eq!(read_u32(&buf, usize::MAX), 0);
        assert_eq!(read_u8(&buf, 3), 0);
        write_u32(&mut buf, 1, 0xdead_beef);
        assert_eq!(buf, [1, 2, 3]);
        write_u16(&mut buf, usize::MAX - 1, 7);
        assert_eq!(sub_slice(&buf, 2, 10), &[3]);
        assert_eq!(sub_slice(&buf, 4, 10), &[] as &[u8]);
        assert_eq!(sub_slice(&buf, 2, 1), &[] as &[u8]);
        copy_clamped(&mut buf, 1, &[9, 9, 9, 9]);
        assert_eq!(buf, [1, 9, 9]);
        copy_clamped(&mut buf, 7, &[9]);
        assert_eq!(Error::Checksum.to_string(), "checksum mismatch");
    }
}
