//! ARP (RFC 826) for Ethernet and IPv4.
//!
//! The view [`ArpPacket`] reads any hardware/protocol address lengths, but
//! [`ArpRepr`] only represents the Ethernet/IPv4 flavour (hardware type 1,
//! protocol 0x0800, lengths 6 and 4); any other is [`Error::Unsupported`].

use core::fmt;

use super::{
    read_array, read_u16, read_u8, sub_slice, write_bytes, write_u16, write_u8, Error, Ipv4Addr,
    MacAddr, Result,
};

/// The ARP operation code.
///
/// `From<u16>` gives the named variant for a known value, so `Unknown`
/// never holds 1 or 2 after parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ArpOperation {
    /// "Who has this IP address?", code 1.
    Request,
    /// "This IP address is at this MAC address", code 2.
    Reply,
    /// Any other code (RARP and others), kept as is.
    Unknown(u16),
}

impl From<u16> for ArpOperation {
    fn from(value: u16) -> Self {
        match value {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            other => ArpOperation::Unknown(other),
        }
    }
}

impl From<ArpOperation> for u16 {
    fn from(value: ArpOperation) -> Self {
        match value {
            ArpOperation::Request => 1,
            ArpOperation::Reply => 2,
            ArpOperation::Unknown(other) => other,
        }
    }
}

/// Byte offsets of the fields of the ARP packet, from its first byte: the
/// one place that names them (the views below, the stack and the simulator
/// use these instead of literal offsets).
pub mod field {
    /// Offset of the hardware type.
    pub const HTYPE: usize = 0;
    /// Offset of the protocol type.
    pub const PTYPE: usize = 2;
    /// Offset of the hardware address length.
    pub const HLEN: usize = 4;
    /// Offset of the protocol address length.
    pub const PLEN: usize = 5;
    /// Offset of the operation.
    pub const OPER: usize = 6;
    /// Offset of the sender hardware address (the addresses follow).
    pub const SHA: usize = 8;
}

/// Hardware type of Ethernet.
pub const HARDWARE_ETHERNET: u16 = 1;
/// Protocol type of IPv4 (its EtherType).
pub const PROTOCOL_IPV4: u16 = 0x0800;
/// Length of the fixed part of an ARP packet, before the addresses.
pub const FIXED_LEN: usize = field::SHA;
/// Length of an Ethernet/IPv4 ARP packet.
pub const ETHERNET_IPV4_LEN: usize = FIXED_LEN + 2 * (6 + 4);

/// A read/write view of an ARP packet in a buffer.
///
/// Address offsets follow the packet's own hardware and protocol length
/// fields; the setters for addresses write Ethernet/IPv4 sized values at
/// those offsets, so set the length fields first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Wraps a buffer without checking its length (accessors stay safe).
    pub const fn new_unchecked(buffer: T) -> Self {
        ArpPacket { buffer }
    }

    /// Wraps a buffer after checking it holds the fixed part and all four
    /// addresses of the lengths the packet announces.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks the buffer is long enough for the announced address lengths.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < FIXED_LEN || len < self.packet_len() {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Gives back the wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Length of the packet its length fields announce: 8 + 2·(hlen + plen).
    pub fn packet_len(&self) -> usize {
        FIXED_LEN + 2 * (self.hardware_len() as usize + self.protocol_len() as usize)
    }

    /// The hardware type (1 for Ethernet).
    pub fn hardware_type(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::HTYPE)
    }

    /// The protocol type (0x0800 for IPv4).
    pub fn protocol_type(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::PTYPE)
    }

    /// Length of a hardware address.
    pub fn hardware_len(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::HLEN)
    }

    /// Length of a protocol address.
    pub fn protocol_len(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::PLEN)
    }

    /// The operation code.
    pub fn operation(&self) -> ArpOperation {
        ArpOperation::from(read_u16(self.buffer.as_ref(), field::OPER))
    }

    fn offsets(&self) -> [usize; 4] {
        let h = self.hardware_len() as usize;
        let p = self.protocol_len() as usize;
        let sha = field::SHA;
        [sha, sha + h, sha + h + p, sha + 2 * h + p]
    }

    /// The sender hardware address, `hardware_len()` bytes.
    pub fn source_hardware_addr(&self) -> &[u8] {
        let [sha, spa, _, _] = self.offsets();
        sub_slice(self.buffer.as_ref(), sha, spa)
    }

    /// The sender protocol address, `protocol_len()` bytes.
    pub fn source_protocol_addr(&self) -> &[u8] {
        let [_, spa, tha, _] = self.offsets();
        sub_slice(self.buffer.as_ref(), spa, tha)
    }

    /// The target hardware address, `hardware_len()` bytes.
    pub fn target_hardware_addr(&self) -> &[u8] {
        let [_, _, tha, tpa] = self.offsets();
        sub_slice(self.buffer.as_ref(), tha, tpa)
    }

    /// The target protocol address, `protocol_len()` bytes.
    pub fn target_protocol_addr(&self) -> &[u8] {
        let [_, _, _, tpa] = self.offsets();
        sub_slice(
            self.buffer.as_ref(),
            tpa,
            tpa + self.protocol_len() as usize,
        )
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    /// Sets the hardware type.
    pub fn set_hardware_type(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::HTYPE, value);
    }

    /// Sets the protocol type.
    pub fn set_protocol_type(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::PTYPE, value);
    }

    /// Sets the hardware address length.
    pub fn set_hardware_len(&mut self, value: u8) {
        write_u8(self.buffer.as_mut(), field::HLEN, value);
    }

    /// Sets the protocol address length.
    pub fn set_protocol_len(&mut self, value: u8) {
        write_u8(self.buffer.as_mut(), field::PLEN, value);
    }

    /// Sets the operation code.
    pub fn set_operation(&mut self, value: ArpOperation) {
        write_u16(self.buffer.as_mut(), field::OPER, value.into());
    }

    /// Writes the sender hardware address at its offset.
    pub fn set_source_hardware_addr(&mut self, addr: &[u8]) {
        let [sha, _, _, _] = self.offsets();
        write_bytes(self.buffer.as_mut(), sha, addr);
    }

    /// Writes the sender protocol address at its offset.
    pub fn set_source_protocol_addr(&mut self, addr: &[u8]) {
        let [_, spa, _, _] = self.offsets();
        write_bytes(self.buffer.as_mut(), spa, addr);
    }

    /// Writes the target hardware address at its offset.
    pub fn set_target_hardware_addr(&mut self, addr: &[u8]) {
        let [_, _, tha, _] = self.offsets();
        write_bytes(self.buffer.as_mut(), tha, addr);
    }

    /// Writes the target protocol address at its offset.
    pub fn set_target_protocol_addr(&mut self, addr: &[u8]) {
        let [_, _, _, tpa] = self.offsets();
        write_bytes(self.buffer.as_mut(), tpa, addr);
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for ArpPacket<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The content of an Ethernet/IPv4 ARP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ArpRepr {
    /// Request, reply, or another code.
    pub operation: ArpOperation,
    /// Sender hardware address.
    pub source_mac: MacAddr,
    /// Sender protocol address.
    pub source_ip: Ipv4Addr,
    /// Target hardware address (zero in a request).
    pub target_mac: MacAddr,
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

impl ArpRepr {
    /// Reads an ARP packet: `Truncated` if short, `Unsupported` unless it is
    /// Ethernet/IPv4 ARP. Any operation code is accepted.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &ArpPacket<&T>) -> Result<ArpRepr> {
        packet.check_len()?;
        if packet.hardware_type() != HARDWARE_ETHERNET
            || packet.protocol_type() != PROTOCOL_IPV4
            || packet.hardware_len() != 6
            || packet.protocol_len() != 4
        {
            return Err(Error::Unsupported);
        }
        let buf = packet.buffer.as_ref();
        Ok(ArpRepr {
            operation: packet.operation(),
            source_mac: MacAddr(read_array(buf, 8)),
            source_ip: Ipv4Addr::from(read_array::<4>(buf, 14)),
            target_mac: MacAddr(read_array(buf, 18)),
            target_ip: Ipv4Addr::from(read_array::<4>(buf, 24)),
        })
    }

    /// Length of the packet this emits (28).
    pub const fn buffer_len(&self) -> usize {
        ETHERNET_IPV4_LEN
    }

    /// Length of the header: the whole packet (28).
    pub const fn header_len(&self) -> usize {
        ETHERNET_IPV4_LEN
    }

    /// Writes the packet; the buffer should hold `buffer_len()` bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut ArpPacket<T>) {
        packet.set_hardware_type(HARDWARE_ETHERNET);
        packet.set_protocol_type(PROTOCOL_IPV4);
        packet.set_hardware_len(6);
        packet.set_protocol_len(4);
        packet.set_operation(self.operation);
        packet.set_source_hardware_addr(&self.source_mac.0);
        packet.set_source_protocol_addr(&self.source_ip.octets());
        packet.set_target_hardware_addr(&self.target_mac.0);
        packet.set_target_protocol_addr(&self.target_ip.octets());
    }
}

impl fmt::Display for ArpRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.operation {
            ArpOperation::Request => {
                write!(
                    f,
                    "ARP who-has {} tell {} ({})",
                    self.target_ip, self.source_ip, self.source_mac
                )
            }
            ArpOperation::Reply => write!(f, "ARP {} is-at {}", self.source_ip, self.source_mac),
            ArpOperation::Unknown(op) => write!(f, "ARP op {op} from {}", self.source_ip),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real ARP request: who has 192.168.1.1? tell 192.168.1.100.
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // htype ptype hlen plen op
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0xc0, 0xa8, 0x01, 0x64, // sha spa
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xa8, 0x01, 0x01, // tha tpa
    ];

    fn request_repr() -> ArpRepr {
        ArpRepr {
            operation: ArpOperation::Request,
            source_mac: MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]),
            source_ip: Ipv4Addr::new(192, 168, 1, 100),
            target_mac: MacAddr::UNSPECIFIED,
            target_ip: Ipv4Addr::new(192, 168, 1, 1),
        }
    }

    #[test]
    fn parse_real_request() {
        let packet = ArpPacket::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(packet.packet_len(), 28);
        assert_eq!(packet.source_protocol_addr(), &[192, 168, 1, 100]);
        assert_eq!(packet.target_protocol_addr(), &[192, 168, 1, 1]);
        assert_eq!(ArpRepr::parse(&packet).unwrap(), request_repr());
        assert_eq!(
            request_repr().to_string(),
            "ARP who-has 192.168.1.1 tell 192.168.1.100 (52:54:00:12:34:56)"
        );
    }

    #[test]
    fn emit_real_request() {
        let mut buf = [0xeeu8; 28];
        request_repr().emit(&mut ArpPacket::new_unchecked(&mut buf[..]));
        assert_eq!(buf, REQUEST);
    }

    #[test]
    fn rejects_short_and_foreign() {
        assert_eq!(
            ArpPacket::new_checked(&REQUEST[..27]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            ArpPacket::new_checked(&REQUEST[..5]).unwrap_err(),
            Error::Truncated
        );
        let mut ipv6ish = REQUEST;
        ipv6ish[5] = 16;
        assert_eq!(
            ArpPacket::new_checked(&ipv6ish[..]).unwrap_err(),
            Error::Truncated
        );
        let mut long = [0u8; 8 + 2 * (6 + 16)];
        long[..8].copy_from_slice(&ipv6ish[..8]);
        let packet = ArpPacket::new_checked(&long[..]).unwrap();
        assert_eq!(packet.target_protocol_addr().len(), 16);
        assert_eq!(ArpRepr::parse(&packet).unwrap_err(), Error::Unsupported);
        let mut token_ring = REQUEST;
        token_ring[1] = 6;
        let packet = ArpPacket::new_checked(&token_ring[..]).unwrap();
        assert_eq!(ArpRepr::parse(&packet).unwrap_err(), Error::Unsupported);
    }

    #[test]
    fn unknown_operation_is_kept() {
        let mut rarp = REQUEST;
        rarp[7] = 3;
        let repr = ArpRepr::parse(&ArpPacket::new_checked(&rarp[..]).unwrap()).unwrap();
        assert_eq!(repr.operation, ArpOperation::Unknown(3));
    }
}
