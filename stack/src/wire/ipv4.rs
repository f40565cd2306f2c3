//! IPv4 (RFC 791) headers, protocol numbers and CIDR prefixes.
//!
//! [`Ipv4Packet`] reads every header field; options are not interpreted,
//! only exposed as a slice by [`Ipv4Packet::options`]. [`Ipv4Repr::parse`]
//! verifies version and header checksum and **rejects fragments** with
//! [`Error::Fragmented`]: this stack does not reassemble, and a dedicated
//! error lets it count such drops. The view still exposes the fragment
//! fields ([`Ipv4Packet::more_frags`], [`Ipv4Packet::frag_offset`],
//! [`Ipv4Packet::is_fragment`]) for callers that want them.

use core::fmt;
use core::str::FromStr;

use crate::checksum::checksum as internet_checksum;

use super::{
    read_array, read_u16, read_u8, sub_slice, sub_slice_mut, write_bytes, write_u16, write_u8,
    Error, Ipv4Addr, Result,
};

/// The protocol carried by an IPv4 packet.
///
/// `From<u8>` gives the named variant for a known value, so `Unknown`
/// never holds 1, 6 or 17 after parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IpProtocol {
    /// ICMP, protocol 1.
    Icmp,
    /// TCP, protocol 6.
    Tcp,
    /// UDP, protocol 17.
    Udp,
    /// Any other protocol number.
    Unknown(u8),
}

impl From<u8> for IpProtocol {
    fn from(value: u8) -> Self {
        match value {
            1 => IpProtocol::Icmp,
            6 => IpProtocol::Tcp,
            17 => IpProtocol::Udp,
            other => IpProtocol::Unknown(other),
        }
    }
}

impl From<IpProtocol> for u8 {
    fn from(value: IpProtocol) -> Self {
        match value {
            IpProtocol::Icmp => 1,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::Unknown(other) => other,
        }
    }
}

impl fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpProtocol::Icmp => f.write_str("ICMP"),
            IpProtocol::Tcp => f.write_str("TCP"),
            IpProtocol::Udp => f.write_str("UDP"),
            IpProtocol::Unknown(p) => write!(f, "IP protocol {p}"),
        }
    }
}

/// Byte offsets of the fields of the IPv4 header, from its first byte: the
/// one place that names them (the views below, the stack and the simulator
/// use these instead of literal offsets).
pub mod field {
    /// Offset of the version and header length (IHL).
    pub const VER_IHL: usize = 0;
    /// Offset of the DSCP and ECN.
    pub const DSCP_ECN: usize = 1;
    /// Offset of the total length.
    pub const LENGTH: usize = 2;
    /// Offset of the identifier.
    pub const IDENT: usize = 4;
    /// Offset of the flags and fragment offset.
    pub const FLG_OFF: usize = 6;
    /// Offset of the time to live.
    pub const TTL: usize = 8;
    /// Offset of the protocol.
    pub const PROTOCOL: usize = 9;
    /// Offset of the checksum.
    pub const CHECKSUM: usize = 10;
    /// Offset of the source address (4 bytes).
    pub const SRC: usize = 12;
    /// Offset of the destination address (4 bytes).
    pub const DST: usize = 16;
}

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = 20;
/// Length of the longest IPv4 header (IHL 15: 40 bytes of options).
pub const MAX_HEADER_LEN: usize = 60;

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// A read/write view of an IPv4 packet in a buffer.
///
/// The buffer may be longer than the packet (Ethernet pads short frames):
/// [`payload`](Self::payload) ends at the total length, not the buffer end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps a buffer without checking it (accessors stay safe).
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wraps a buffer after checking its length fields (see
    /// [`check_len`](Self::check_len)).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks `20 <= header_len <= total_len <= buffer length`.
    ///
    /// `Truncated` when the buffer is shorter than a header or than the
    /// total length, `Malformed` when the length fields contradict each
    /// other. The version is checked by [`Ipv4Repr::parse`], not here.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header_len = self.header_len() as usize;
        let total_len = self.total_len() as usize;
        if header_len < HEADER_LEN || total_len < header_len {
            Err(Error::Malformed)
        } else if total_len > len {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Gives back the wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version field (4 for IPv4).
    pub fn version(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::VER_IHL) >> 4
    }

    /// The header length in bytes (IHL × 4), options included.
    pub fn header_len(&self) -> u8 {
        (read_u8(self.buffer.as_ref(), field::VER_IHL) & 0x0f) * 4
    }

    /// The whole second byte: DSCP (upper six bits) and ECN (lower two).
    pub fn dscp_ecn(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::DSCP_ECN)
    }

    /// The Differentiated Services Code Point.
    pub fn dscp(&self) -> u8 {
        self.dscp_ecn() >> 2
    }

    /// The Explicit Congestion Notification bits.
    pub fn ecn(&self) -> u8 {
        self.dscp_ecn() & 0x03
    }

    /// The total length of the packet (header and payload).
    pub fn total_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::LENGTH)
    }

    /// The identification field.
    pub fn ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::IDENT)
    }

    fn flags_offset(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::FLG_OFF)
    }

    /// The Don't Fragment flag.
    pub fn dont_frag(&self) -> bool {
        self.flags_offset() & FLAG_DF != 0
    }

    /// The More Fragments flag.
    pub fn more_frags(&self) -> bool {
        self.flags_offset() & FLAG_MF != 0
    }

    /// The fragment offset, in bytes (the field is in units of 8 bytes).
    pub fn frag_offset(&self) -> u16 {
        (self.flags_offset() & OFFSET_MASK) << 3
    }

    /// Whether this packet is a fragment: MF set or a non-zero offset.
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }

    /// The time-to-live field.
    pub fn ttl(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::TTL)
    }

    /// The protocol of the payload.
    pub fn protocol(&self) -> IpProtocol {
        IpProtocol::from(read_u8(self.buffer.as_ref(), field::PROTOCOL))
    }

    /// The header checksum field.
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(read_array::<4>(self.buffer.as_ref(), field::SRC))
    }

    /// The destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(read_array::<4>(self.buffer.as_ref(), field::DST))
    }

    /// Whether the header checksum is correct.
    pub fn verify_checksum(&self) -> bool {
        let header = sub_slice(self.buffer.as_ref(), 0, self.header_len() as usize);
        header.len() >= HEADER_LEN && internet_checksum(header) == 0
    }

    /// The header options (bytes 20 to `header_len()`), not interpreted.
    pub fn options(&self) -> &[u8] {
        sub_slice(self.buffer.as_ref(), HEADER_LEN, self.header_len() as usize)
    }

    /// The payload: from the end of the header to the total length.
    pub fn payload(&self) -> &[u8] {
        sub_slice(
            self.buffer.as_ref(),
            self.header_len() as usize,
            self.total_len() as usize,
        )
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Ipv4Packet<&'a T> {
    /// The payload, borrowed for the buffer's lifetime.
    pub fn payload_ref(&self) -> &'a [u8] {
        sub_slice(
            self.buffer.as_ref(),
            self.header_len() as usize,
            self.total_len() as usize,
        )
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets the version field.
    pub fn set_version(&mut self, version: u8) {
        let b = read_u8(self.buffer.as_ref(), field::VER_IHL);
        write_u8(
            self.buffer.as_mut(),
            field::VER_IHL,
            (b & 0x0f) | (version << 4),
        );
    }

    /// Sets the header length in bytes (rounded down to a multiple of 4,
    /// at most 60).
    pub fn set_header_len(&mut self, len: u8) {
        let b = read_u8(self.buffer.as_ref(), field::VER_IHL);
        let ihl = (len / 4).min(15);
        write_u8(self.buffer.as_mut(), field::VER_IHL, (b & 0xf0) | ihl);
    }

    /// Sets the DSCP/ECN byte.
    pub fn set_dscp_ecn(&mut self, value: u8) {
        write_u8(self.buffer.as_mut(), field::DSCP_ECN, value);
    }

    /// Sets the total length.
    pub fn set_total_len(&mut self, len: u16) {
        write_u16(self.buffer.as_mut(), field::LENGTH, len);
    }

    /// Sets the identification field.
    pub fn set_ident(&mut self, ident: u16) {
        write_u16(self.buffer.as_mut(), field::IDENT, ident);
    }

    fn set_flags_offset(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::FLG_OFF, value);
    }

    /// Clears the three flag bits, keeping the fragment offset.
    pub fn clear_flags(&mut self) {
        let v = self.flags_offset() & OFFSET_MASK;
        self.set_flags_offset(v);
    }

    /// Sets or clears the Don't Fragment flag.
    pub fn set_dont_frag(&mut self, value: bool) {
        let v = self.flags_offset() & !FLAG_DF;
        self.set_flags_offset(if value { v | FLAG_DF } else { v });
    }

    /// Sets or clears the More Fragments flag.
    pub fn set_more_frags(&mut self, value: bool) {
        let v = self.flags_offset() & !FLAG_MF;
        self.set_flags_offset(if value { v | FLAG_MF } else { v });
    }

    /// Sets the fragment offset, in bytes (divided by 8 when stored).
    pub fn set_frag_offset(&mut self, offset: u16) {
        let v = (self.flags_offset() & !OFFSET_MASK) | (offset >> 3);
        self.set_flags_offset(v);
    }

    /// Sets the time-to-live field.
    pub fn set_ttl(&mut self, ttl: u8) {
        write_u8(self.buffer.as_mut(), field::TTL, ttl);
    }

    /// Sets the protocol field.
    pub fn set_protocol(&mut self, protocol: IpProtocol) {
        write_u8(self.buffer.as_mut(), field::PROTOCOL, protocol.into());
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, checksum: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, checksum);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        write_bytes(self.buffer.as_mut(), field::SRC, &addr.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        write_bytes(self.buffer.as_mut(), field::DST, &addr.octets());
    }

    /// Computes the header checksum (over `header_len()` bytes) and stores it.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let header = sub_slice(self.buffer.as_ref(), 0, self.header_len() as usize);
        let sum = internet_checksum(header);
        self.set_checksum(sum);
    }

    /// The header options, writable.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len() as usize;
        sub_slice_mut(self.buffer.as_mut(), HEADER_LEN, end)
    }

    /// The payload, writable: from the end of the header to the total length.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, end) = (self.header_len() as usize, self.total_len() as usize);
        sub_slice_mut(self.buffer.as_mut(), start, end)
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Ipv4Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The content of an IPv4 header, options left out.
///
/// Fragmentation fields are absent: parsed packets are never fragments and
/// emitted ones are whole (MF clear, offset zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv4Repr {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Protocol of the payload.
    pub protocol: IpProtocol,
    /// Payload length in bytes; at most 65515 (`emit` clamps larger values).
    pub payload_len: usize,
    /// Time to live.
    pub ttl: u8,
    /// The DSCP/ECN byte (formerly TOS).
    pub dscp_ecn: u8,
    /// Identification field.
    pub ident: u16,
    /// The Don't Fragment flag.
    pub dont_frag: bool,
}

impl Ipv4Repr {
    /// Length of the header this emits (20: no options).
    pub const HEADER_LEN: usize = HEADER_LEN;

    /// Reads a packet's header.
    ///
    /// Errors: `Truncated`/`Malformed` from the length checks, `Malformed`
    /// for a version other than 4, `Checksum` for a bad header checksum,
    /// then `Fragmented` for a fragment. Options are skipped; the reserved
    /// flag bit is ignored.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Ipv4Packet<&T>) -> Result<Ipv4Repr> {
        let buffer = packet.buffer.as_ref();
        Ipv4Repr::parse_header(buffer, buffer.len()).map(|(repr, _)| repr)
    }

    /// Reads the header of a packet whose payload may lie elsewhere (in
    /// the later buffers of a chained frame): `header` starts at the
    /// packet's first byte and holds at least the whole header (it may hold
    /// more), `packet_len` is how many bytes the packet has in all. Returns
    /// the header's content and its length (20 plus options).
    ///
    /// The checks and errors are those of [`Ipv4Repr::parse`], in the same
    /// order; `Truncated` also when `header` is shorter than the header
    /// length field says.
    pub fn parse_header(header: &[u8], packet_len: usize) -> Result<(Ipv4Repr, usize)> {
        if header.len() < HEADER_LEN || packet_len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let packet = Ipv4Packet::new_unchecked(header);
        let header_len = packet.header_len() as usize;
        let total_len = packet.total_len() as usize;
        if header_len < HEADER_LEN || total_len < header_len {
            return Err(Error::Malformed);
        }
        if total_len > packet_len || header_len > header.len() {
            return Err(Error::Truncated);
        }
        if packet.version() != 4 {
            return Err(Error::Malformed);
        }
        if !packet.verify_checksum() {
            return Err(Error::Checksum);
        }
        if packet.is_fragment() {
            return Err(Error::Fragmented);
        }
        let repr = Ipv4Repr {
            src: packet.src_addr(),
            dst: packet.dst_addr(),
            protocol: packet.protocol(),
            payload_len: total_len - header_len,
            ttl: packet.ttl(),
            dscp_ecn: packet.dscp_ecn(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
        };
        Ok((repr, header_len))
    }

    /// Length of the header this emits (20).
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Length of the whole packet: header and payload.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Writes a 20-byte header with its checksum; the payload is untouched.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Ipv4Packet<T>) {
        packet.set_version(4);
        packet.set_header_len(HEADER_LEN as u8);
        packet.set_dscp_ecn(self.dscp_ecn);
        let total = u16::try_from(self.buffer_len()).unwrap_or(u16::MAX);
        packet.set_total_len(total);
        packet.set_ident(self.ident);
        packet.set_flags_offset(if self.dont_frag { FLAG_DF } else { 0 });
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src);
        packet.set_dst_addr(self.dst);
        packet.fill_checksum();
    }
}

impl fmt::Display for Ipv4Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IPv4 {} -> {} {} len={} ttl={}",
            self.src, self.dst, self.protocol, self.payload_len, self.ttl
        )
    }
}

/// An IPv4 address with a prefix length, such as `192.168.1.10/24`.
///
/// The address keeps its host bits: it is an interface address as well as
/// the description of its subnet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv4Cidr {
    addr: Ipv4Addr,
    prefix_len: u8,
}

impl Ipv4Cidr {
    /// `addr/prefix_len`, or `None` if `prefix_len > 32`.
    pub const fn new(addr: Ipv4Addr, prefix_len: u8) -> Option<Ipv4Cidr> {
        if prefix_len > 32 {
            None
        } else {
            Some(Ipv4Cidr { addr, prefix_len })
        }
    }

    /// The CIDR whose netmask is `netmask`, or `None` if the mask's ones are
    /// not contiguous.
    pub fn from_netmask(addr: Ipv4Addr, netmask: Ipv4Addr) -> Option<Ipv4Cidr> {
        let mask = u32::from(netmask);
        let prefix_len = mask.leading_ones();
        if mask.checked_shl(prefix_len).unwrap_or(0) != 0 {
            return None;
        }
        Ipv4Cidr::new(addr, prefix_len as u8)
    }

    /// The address.
    pub const fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The prefix length, 0 to 32.
    pub const fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    fn mask_bits(&self) -> u32 {
        u32::MAX
            .checked_shl(32 - self.prefix_len as u32)
            .unwrap_or(0)
    }

    /// The netmask, e.g. 255.255.255.0 for a /24.
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.mask_bits())
    }

    /// The network: the address with its host bits cleared.
    pub fn network(&self) -> Ipv4Cidr {
        Ipv4Cidr {
            addr: Ipv4Addr::from(u32::from(self.addr) & self.mask_bits()),
            prefix_len: self.prefix_len,
        }
    }

    /// The directed broadcast address, or `None` for /31 and /32 prefixes,
    /// which have none (RFC 3021).
    pub fn broadcast(&self) -> Option<Ipv4Addr> {
        if self.prefix_len >= 31 {
            return None;
        }
        Some(Ipv4Addr::from(u32::from(self.addr) | !self.mask_bits()))
    }

    /// Whether `addr` lies in this subnet.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        let mask = self.mask_bits();
        u32::from(addr) & mask == u32::from(self.addr) & mask
    }

    /// Whether the whole of `other` lies in this subnet.
    pub fn contains_cidr(&self, other: &Ipv4Cidr) -> bool {
        other.prefix_len >= self.prefix_len && self.contains(other.addr)
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = Error;

    /// Parses `a.b.c.d/n`; `Malformed` on anything else.
    fn from_str(s: &str) -> Result<Ipv4Cidr> {
        let (addr, len) = s.split_once('/').ok_or(Error::Malformed)?;
        let addr = addr.parse::<Ipv4Addr>().map_err(|_| Error::Malformed)?;
        let len = len.parse::<u8>().map_err(|_| Error::Malformed)?;
        Ipv4Cidr::new(addr, len).ok_or(Error::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // IPv4 header of a real ICMP echo request 10.0.0.1 -> 10.0.0.2, with
    // 8 bytes of ICMP and 4 bytes of Ethernet padding after it.
    const PACKET: [u8; 32] = [
        0x45, 0x00, 0x00, 0x1c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01, 0x0a, 0x99, 0x0a, 0x00, 0x00,
        0x01, 0x0a, 0x00, 0x00, 0x02, // header
        0x08, 0x00, 0xf7, 0xfe, 0x00, 0x01, 0x00, 0x00, // ICMP echo
        0, 0, 0, 0, // padding
    ];

    /// The header-only parser, given just the header (options included,
    /// built by etherparse), agrees with etherparse and with `parse` over
    /// the whole packet; given less than the header it reports `Truncated`.
    #[test]
    fn parse_header_reads_only_the_header() {
        let options = etherparse::Ipv4Options::try_from(&[1u8, 1, 1, 0][..]).unwrap();
        let mut header = etherparse::Ipv4Header::new(
            100,
            63,
            etherparse::IpNumber::TCP,
            [192, 0, 2, 1],
            [192, 0, 2, 2],
        )
        .unwrap();
        header.options = options;
        header.set_payload_len(100).unwrap();
        header.identification = 0x1234;
        header.header_checksum = header.calc_header_checksum();
        let mut packet = header.to_bytes().to_vec();
        packet.extend(std::iter::repeat_n(0xab, 100));
        let header_len = header.header_len();
        assert_eq!(header_len, 24);
        let (got, len) = Ipv4Repr::parse_header(&packet[..header_len], packet.len()).unwrap();
        assert_eq!(len, header_len);
        assert_eq!(got.src, Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(got.ttl, 63);
        assert_eq!(got.ident, 0x1234);
        assert_eq!(got.payload_len, 100);
        assert_eq!(got.protocol, IpProtocol::Tcp);
        assert_eq!(
            Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&packet[..])),
            Ok(got)
        );
        assert_eq!(
            Ipv4Repr::parse_header(&packet[..header_len - 1], packet.len()),
            Err(Error::Truncated)
        );
        assert_eq!(
            Ipv4Repr::parse_header(&packet[..header_len], packet.len() - 1),
            Err(Error::Truncated)
        );
    }

    fn repr() -> Ipv4Repr {
        Ipv4Repr {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            protocol: IpProtocol::Icmp,
            payload_len: 8,
            ttl: 64,
            dscp_ecn: 0,
            ident: 0x1c46,
            dont_frag: true,
        }
    }

    #[test]
    fn parse_known_packet() {
        let packet = Ipv4Packet::new_checked(&PACKET[..]).unwrap();
        assert_eq!(packet.version(), 4);
        assert_eq!(packet.header_len(), 20);
        assert!(packet.verify_checksum());
        assert!(!packet.is_fragment());
        assert_eq!(packet.payload().len(), 8);
        assert!(packet.options().is_empty());
        assert_eq!(Ipv4Repr::parse(&packet).unwrap(), repr());
    }

    #[test]
    fn emit_known_packet() {
        let mut buf = [0xffu8; 28];
        buf[20..].copy_from_slice(&PACKET[20..28]);
        repr().emit(&mut Ipv4Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf[..], PACKET[..28]);
    }

    #[test]
    fn length_checks() {
        assert_eq!(
            Ipv4Packet::new_checked(&PACKET[..19]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            Ipv4Packet::new_checked(&PACKET[..27]).unwrap_err(),
            Error::Truncated
        );
        let mut bad = PACKET;
        bad[0] = 0x44;
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            Error::Malformed
        );
        let mut bad = PACKET;
        bad[3] = 19;
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            Error::Malformed
        );
        let mut bad = PACKET;
        bad[0] = 0x4f; // 60-byte header, longer than total length 28
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            Error::Malformed
        );
    }

    #[test]
    fn parse_errors() {
        let mut bad = PACKET;
        bad[0] = 0x65;
        assert_eq!(
            Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&bad[..])).unwrap_err(),
            Error::Malformed
        );
        let mut bad = PACKET;
        bad[8] = 63;
        assert_eq!(
            Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&bad[..])).unwrap_err(),
            Error::Checksum
        );
        let mut frag = PACKET;
        let mut packet = Ipv4Packet::new_unchecked(&mut frag[..]);
        packet.set_more_frags(true);
        packet.fill_checksum();
        assert!(packet.is_fragment());
        assert_eq!(
            Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&frag[..])).unwrap_err(),
            Error::Fragmented
        );
        let mut frag = PACKET;
        let mut packet = Ipv4Packet::new_unchecked(&mut frag[..]);
        packet.set_frag_offset(1480);
        packet.fill_checksum();
        assert_eq!(packet.frag_offset(), 1480);
        assert!(packet.dont_frag());
        assert_eq!(
            Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&frag[..])).unwrap_err(),
            Error::Fragmented
        );
    }

    #[test]
    fn options_are_skipped() {
        // The known header with a 4-byte option (NOP NOP NOP EOL).
        let mut buf = [0u8; 32];
        buf[..20].copy_from_slice(&PACKET[..20]);
        buf[20..24].copy_from_slice(&[1, 1, 1, 0]);
        buf[24..].copy_from_slice(&PACKET[20..28]);
        let mut packet = Ipv4Packet::new_unchecked(&mut buf[..]);
        packet.set_header_len(24);
        packet.set_total_len(32);
        packet.fill_checksum();
        let packet = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(packet.options(), &[1, 1, 1, 0]);
        assert_eq!(packet.payload(), &PACKET[20..28]);
        assert_eq!(Ipv4Repr::parse(&packet).unwrap(), repr());
    }

    #[test]
    fn cidr() {
        let cidr: Ipv4Cidr = "192.168.1.10/24".parse().unwrap();
        assert_eq!(cidr.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(cidr.broadcast(), Some(Ipv4Addr::new(192, 168, 1, 255)));
        assert_eq!(cidr.network().to_string(), "192.168.1.0/24");
        assert!(cidr.contains(Ipv4Addr::new(192, 168, 1, 200)));
        assert!(!cidr.contains(Ipv4Addr::new(192, 168, 2, 1)));
        assert!(Ipv4Cidr::new(Ipv4Addr::UNSPECIFIED, 33).is_none());
        let all = Ipv4Cidr::new(Ipv4Addr::new(1, 2, 3, 4), 0).unwrap();
        assert_eq!(all.netmask(), Ipv4Addr::UNSPECIFIED);
        assert!(all.contains(Ipv4Addr::BROADCAST));
        assert!(all.contains_cidr(&cidr) && !cidr.contains_cidr(&all));
        let host = Ipv4Cidr::new(Ipv4Addr::new(1, 2, 3, 4), 32).unwrap();
        assert_eq!(host.broadcast(), None);
        assert_eq!(host.netmask(), Ipv4Addr::BROADCAST);
        assert!(
            host.contains(Ipv4Addr::new(1, 2, 3, 4)) && !host.contains(Ipv4Addr::new(1, 2, 3, 5))
        );
        assert_eq!(
            Ipv4Cidr::from_netmask(cidr.addr(), Ipv4Addr::new(255, 255, 254, 0))
                .unwrap()
                .prefix_len(),
            23
        );
        assert!(Ipv4Cidr::from_netmask(cidr.addr(), Ipv4Addr::new(255, 0, 255, 0)).is_none());
        assert!("1.2.3.4".parse::<Ipv4Cidr>().is_err());
        assert!("1.2.3.4/40".parse::<Ipv4Cidr>().is_err());
    }
}
