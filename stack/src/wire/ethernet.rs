//! Ethernet II frames.
//!
//! Only the Ethernet II layout is handled (destination, source, EtherType);
//! VLAN tags are not interpreted. An IEEE 802.3 frame, whose type field is a
//! length below 0x0600, parses with [`EtherType::Unknown`].

use core::fmt;

use super::{
    read_array, read_u16, sub_slice, sub_slice_mut, write_bytes, write_u16, Error, Result,
};

/// A 48-bit Ethernet (EUI-48) MAC address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The broadcast address `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    /// The all-zero address, used as the unknown target of an ARP request.
    pub const UNSPECIFIED: MacAddr = MacAddr([0; 6]);

    /// The address made of the first six bytes of `bytes`, if there are six.
    pub fn from_bytes(bytes: &[u8]) -> Option<MacAddr> {
        let array: [u8; 6] = bytes.get(..6)?.try_into().ok()?;
        Some(MacAddr(array))
    }

    /// The six address bytes.
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// Whether this is the broadcast address.
    pub const fn is_broadcast(&self) -> bool {
        matches!(self.0, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
    }

    /// Whether this is a group address (I/G bit set); broadcast included.
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// Whether this is an individual (unicast) address.
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// Whether this is a locally administered address (U/L bit set).
    pub const fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl From<[u8; 6]> for MacAddr {
    fn from(bytes: [u8; 6]) -> Self {
        MacAddr(bytes)
    }
}

/// The EtherType of an Ethernet II frame: which protocol its payload holds.
///
/// `From<u16>` always gives the named variant for a known value, so
/// `Unknown` never holds 0x0800 or 0x0806 after parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EtherType {
    /// IPv4, 0x0800.
    Ipv4,
    /// ARP, 0x0806.
    Arp,
    /// Any other value (including 802.3 length fields below 0x0600).
    Unknown(u16),
}

impl From<u16> for EtherType {
    fn from(value: u16) -> Self {
        match value {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            other => EtherType::Unknown(other),
        }
    }
}

impl From<EtherType> for u16 {
    fn from(value: EtherType) -> Self {
        match value {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Unknown(other) => other,
        }
    }
}

impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EtherType::Ipv4 => f.write_str("IPv4"),
            EtherType::Arp => f.write_str("ARP"),
            EtherType::Unknown(v) => write!(f, "0x{v:04x}"),
        }
    }
}

/// Byte offsets of the fields of the Ethernet II header, from its first byte: the
/// one place that names them (the views below, the stack and the simulator
/// use these instead of literal offsets).
pub mod field {
    /// Offset of the destination address.
    pub const DST: usize = 0;
    /// Offset of the source address.
    pub const SRC: usize = 6;
    /// Offset of the EtherType.
    pub const ETHERTYPE: usize = 12;
    /// Offset of the payload.
    pub const PAYLOAD: usize = 14;
}

/// Length of an Ethernet II header.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// A read/write view of an Ethernet II frame in a buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Length of an Ethernet II header.
    pub const HEADER_LEN: usize = HEADER_LEN;

    /// Wraps a buffer without checking its length (accessors stay safe:
    /// missing bytes read as zero, see the module docs).
    pub const fn new_unchecked(buffer: T) -> Self {
        EthernetFrame { buffer }
    }

    /// Wraps a buffer after checking it holds a whole header.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// Checks the buffer holds a whole header; `Err(Truncated)` otherwise.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Gives back the wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Length of the header (always 14).
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// The destination address.
    pub fn dst_addr(&self) -> MacAddr {
        MacAddr(read_array(self.buffer.as_ref(), field::DST))
    }

    /// The source address.
    pub fn src_addr(&self) -> MacAddr {
        MacAddr(read_array(self.buffer.as_ref(), field::SRC))
    }

    /// The EtherType field.
    pub fn ethertype(&self) -> EtherType {
        EtherType::from(read_u16(self.buffer.as_ref(), field::ETHERTYPE))
    }

    /// The bytes after the header (including any trailing padding).
    pub fn payload(&self) -> &[u8] {
        sub_slice(self.buffer.as_ref(), field::PAYLOAD, usize::MAX)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> EthernetFrame<&'a T> {
    /// The bytes after the header, borrowed for the buffer's lifetime.
    pub fn payload_ref(&self) -> &'a [u8] {
        sub_slice(self.buffer.as_ref(), field::PAYLOAD, usize::MAX)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: MacAddr) {
        write_bytes(self.buffer.as_mut(), field::DST, &addr.0);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: MacAddr) {
        write_bytes(self.buffer.as_mut(), field::SRC, &addr.0);
    }

    /// Sets the EtherType field.
    pub fn set_ethertype(&mut self, ethertype: EtherType) {
        write_u16(self.buffer.as_mut(), field::ETHERTYPE, ethertype.into());
    }

    /// The bytes after the header, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        sub_slice_mut(self.buffer.as_mut(), field::PAYLOAD, usize::MAX)
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for EthernetFrame<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The content of an Ethernet II header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EthernetRepr {
    /// Source address.
    pub src: MacAddr,
    /// Destination address.
    pub dst: MacAddr,
    /// Protocol of the payload.
    pub ethertype: EtherType,
}

impl EthernetRepr {
    /// Reads the header of a frame; fails only on a short buffer.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(frame: &EthernetFrame<&T>) -> Result<EthernetRepr> {
        frame.check_len()?;
        Ok(EthernetRepr {
            src: frame.src_addr(),
            dst: frame.dst_addr(),
            ethertype: frame.ethertype(),
        })
    }

    /// Length of the header this emits (14).
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Length of the buffer `emit` needs for the header alone (14).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into the frame; the payload is left untouched.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut EthernetFrame<T>) {
        frame.set_dst_addr(self.dst);
        frame.set_src_addr(self.src);
        frame.set_ethertype(self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: [u8; 18] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // dst
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, // src
        0x08, 0x06, // ARP
        0xaa, 0xbb, 0xcc, 0xdd,
    ];

    #[test]
    fn parse_known_frame() {
        let frame = EthernetFrame::new_checked(&FRAME[..]).unwrap();
        let repr = EthernetRepr::parse(&frame).unwrap();
        assert_eq!(repr.dst, MacAddr::BROADCAST);
        assert_eq!(repr.src, MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]));
        assert_eq!(repr.ethertype, EtherType::Arp);
        assert_eq!(frame.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(repr.src.to_string(), "52:54:00:12:34:56");
        assert!(repr.src.is_unicast() && repr.src.is_local());
        assert!(repr.dst.is_broadcast() && repr.dst.is_multicast());
    }

    #[test]
    fn emit_matches_known_frame() {
        let repr = EthernetRepr::parse(&EthernetFrame::new_unchecked(&FRAME[..])).unwrap();
        let mut buf = [0u8; 18];
        let mut frame = EthernetFrame::new_unchecked(&mut buf[..]);
        repr.emit(&mut frame);
        frame
            .payload_mut()
            .copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(buf, FRAME);
    }

    #[test]
    fn short_buffers() {
        assert_eq!(
            EthernetFrame::new_checked(&FRAME[..13]).unwrap_err(),
            Error::Truncated
        );
        let frame = EthernetFrame::new_unchecked(&FRAME[..7]);
        assert_eq!(frame.ethertype(), EtherType::Unknown(0));
        assert!(frame.payload().is_empty());
        assert!(EthernetRepr::parse(&frame).is_err());
        let mut short = [0u8; 3];
        let mut frame = EthernetFrame::new_unchecked(&mut short[..]);
        frame.set_src_addr(MacAddr::BROADCAST);
        assert!(frame.payload_mut().is_empty());
    }

    #[test]
    fn ethertype_values() {
        assert_eq!(EtherType::from(0x0800), EtherType::Ipv4);
        assert_eq!(EtherType::from(0x05dc), EtherType::Unknown(0x05dc));
        assert_eq!(u16::from(EtherType::Arp), 0x0806);
        assert_eq!(EtherType::Unknown(0x86dd).to_string(), "0x86dd");
    }
}
