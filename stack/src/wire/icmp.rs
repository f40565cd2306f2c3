//! ICMPv4 (RFC 792).
//!
//! Echo request (type 8) and echo reply (type 0), both with code 0, parse
//! to their own [`IcmpRepr`] variants. Every other type/code pair parses to
//! [`IcmpRepr::Other`], which keeps the four "rest of header" bytes and the
//! data, so the caller decides what to do with destination-unreachable and
//! friends; an echo with a non-zero code is `Other` as well. Parsing always
//! verifies the checksum over the whole message.

use core::fmt;

use crate::checksum::{checksum as internet_checksum, Checksum};

use super::{
    copy_clamped, read_array, read_u16, read_u8, sub_slice, sub_slice_mut, write_bytes, write_u16,
    write_u8, Error, Result,
};

/// Byte offsets of the fields of the ICMP header, from its first byte: the
/// one place that names them (the views below, the stack and the simulator
/// use these instead of literal offsets).
pub mod field {
    /// Offset of the message type.
    pub const TYPE: usize = 0;
    /// Offset of the code.
    pub const CODE: usize = 1;
    /// Offset of the checksum.
    pub const CHECKSUM: usize = 2;
    /// Offset of the rest of the header.
    pub const REST: usize = 4;
    /// Offset of the identifier.
    pub const IDENT: usize = 4;
    /// Offset of the sequence number.
    pub const SEQ_NO: usize = 6;
    /// Offset of the data.
    pub const DATA: usize = 8;
}

/// Length of the ICMP header: type, code, checksum and four more bytes.
pub const HEADER_LEN: usize = field::DATA;

/// Message type of an echo reply.
pub const TYPE_ECHO_REPLY: u8 = 0;
/// Message type of an echo request.
pub const TYPE_ECHO_REQUEST: u8 = 8;

/// A read/write view of an ICMPv4 message in a buffer.
///
/// The buffer is the whole IPv4 payload: the checksum covers all of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcmpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IcmpPacket<T> {
    /// Wraps a buffer without checking it (accessors stay safe).
    pub const fn new_unchecked(buffer: T) -> Self {
        IcmpPacket { buffer }
    }

    /// Wraps a buffer after checking it holds the 8-byte header.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// `Err(Truncated)` if the buffer is shorter than 8 bytes.
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

    /// The message type.
    pub fn msg_type(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::TYPE)
    }

    /// The message code.
    pub fn msg_code(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::CODE)
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Bytes 4 to 8, whose meaning depends on the type.
    pub fn rest_of_header(&self) -> [u8; 4] {
        read_array(self.buffer.as_ref(), field::REST)
    }

    /// The echo identifier (echo messages only).
    pub fn echo_ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::IDENT)
    }

    /// The echo sequence number (echo messages only).
    pub fn echo_seq_no(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::SEQ_NO)
    }

    /// The data after the 8-byte header.
    pub fn data(&self) -> &[u8] {
        sub_slice(self.buffer.as_ref(), field::DATA, usize::MAX)
    }

    /// Whether the checksum over the whole buffer is correct.
    pub fn verify_checksum(&self) -> bool {
        let buf = self.buffer.as_ref();
        buf.len() >= HEADER_LEN && internet_checksum(buf) == 0
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> IcmpPacket<&'a T> {
    /// The data, borrowed for the buffer's lifetime.
    pub fn data_ref(&self) -> &'a [u8] {
        sub_slice(self.buffer.as_ref(), field::DATA, usize::MAX)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IcmpPacket<T> {
    /// Sets the message type.
    pub fn set_msg_type(&mut self, value: u8) {
        write_u8(self.buffer.as_mut(), field::TYPE, value);
    }

    /// Sets the message code.
    pub fn set_msg_code(&mut self, value: u8) {
        write_u8(self.buffer.as_mut(), field::CODE, value);
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Sets bytes 4 to 8.
    pub fn set_rest_of_header(&mut self, value: [u8; 4]) {
        write_bytes(self.buffer.as_mut(), field::REST, &value);
    }

    /// Sets the echo identifier.
    pub fn set_echo_ident(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::IDENT, value);
    }

    /// Sets the echo sequence number.
    pub fn set_echo_seq_no(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::SEQ_NO, value);
    }

    /// The data after the header, writable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        sub_slice_mut(self.buffer.as_mut(), field::DATA, usize::MAX)
    }

    /// Computes the checksum over the whole buffer and stores it.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = internet_checksum(self.buffer.as_ref());
        self.set_checksum(sum);
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for IcmpPacket<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The content of an ICMPv4 message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IcmpRepr<'a> {
    /// Echo request (type 8, code 0): a ping.
    EchoRequest {
        /// Identifier, chosen by the sender.
        ident: u16,
        /// Sequence number, chosen by the sender.
        seq_no: u16,
        /// Data to be echoed back.
        data: &'a [u8],
    },
    /// Echo reply (type 0, code 0): the answer to a ping.
    EchoReply {
        /// Identifier copied from the request.
        ident: u16,
        /// Sequence number copied from the request.
        seq_no: u16,
        /// Data copied from the request.
        data: &'a [u8],
    },
    /// Any other message, including echoes with a non-zero code.
    Other {
        /// The message type.
        msg_type: u8,
        /// The message code.
        code: u8,
        /// Bytes 4 to 8 of the header.
        rest_of_header: [u8; 4],
        /// Everything after the header.
        data: &'a [u8],
    },
}

impl<'a> IcmpRepr<'a> {
    /// Parses a message: `Truncated` under 8 bytes, `Checksum` if the
    /// checksum over the whole buffer is wrong.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &IcmpPacket<&'a T>) -> Result<IcmpRepr<'a>> {
        packet.check_len()?;
        if !packet.verify_checksum() {
            return Err(Error::Checksum);
        }
        Ok(Self::from_fields(packet, packet.data_ref()))
    }

    /// Parses only the 8-byte header at the start of `header`, without
    /// verifying the checksum (for messages spread over chained buffers,
    /// whose checksum the caller computes); `data` is left empty.
    pub fn parse_header(header: &'a [u8]) -> Result<IcmpRepr<'a>> {
        let packet = IcmpPacket::new_checked(header)?;
        Ok(Self::from_fields(&packet, &[]))
    }

    fn from_fields<T: AsRef<[u8]>>(packet: &IcmpPacket<T>, data: &'a [u8]) -> IcmpRepr<'a> {
        match (packet.msg_type(), packet.msg_code()) {
            (TYPE_ECHO_REQUEST, 0) => IcmpRepr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            (TYPE_ECHO_REPLY, 0) => IcmpRepr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            (msg_type, code) => IcmpRepr::Other {
                msg_type,
                code,
                rest_of_header: packet.rest_of_header(),
                data,
            },
        }
    }

    /// The data carried after the header.
    pub const fn data(&self) -> &'a [u8] {
        match *self {
            IcmpRepr::EchoRequest { data, .. }
            | IcmpRepr::EchoReply { data, .. }
            | IcmpRepr::Other { data, .. } => data,
        }
    }

    /// Length of the header (8).
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Length of the whole message: header and data.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.data().len()
    }

    fn header_fields(&self) -> (u8, u8, [u8; 4]) {
        let echo = |ident: u16, seq_no: u16| {
            let [a, b] = ident.to_be_bytes();
            let [c, d] = seq_no.to_be_bytes();
            [a, b, c, d]
        };
        match *self {
            IcmpRepr::EchoRequest { ident, seq_no, .. } => {
                (TYPE_ECHO_REQUEST, 0, echo(ident, seq_no))
            }
            IcmpRepr::EchoReply { ident, seq_no, .. } => (TYPE_ECHO_REPLY, 0, echo(ident, seq_no)),
            IcmpRepr::Other {
                msg_type,
                code,
                rest_of_header,
                ..
            } => (msg_type, code, rest_of_header),
        }
    }

    /// Writes header and data with the checksum; the buffer should hold
    /// exactly `buffer_len()` bytes (the checksum covers all of it).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut IcmpPacket<T>) {
        let (msg_type, code, rest) = self.header_fields();
        packet.set_msg_type(msg_type);
        packet.set_msg_code(code);
        packet.set_rest_of_header(rest);
        copy_clamped(packet.buffer.as_mut(), field::DATA, self.data());
        packet.fill_checksum();
    }

    /// Writes the 8-byte header with a zero checksum field into `buf`, for
    /// messages whose data lies in other buffers; complete it with
    /// [`icmp_checksum`]. Returns the header length, or `Truncated`.
    pub fn emit_header(&self, buf: &mut [u8]) -> Result<usize> {
        let header = buf.get_mut(..HEADER_LEN).ok_or(Error::Truncated)?;
        let (msg_type, code, rest) = self.header_fields();
        let mut packet = IcmpPacket::new_unchecked(header);
        packet.set_msg_type(msg_type);
        packet.set_msg_code(code);
        packet.set_checksum(0);
        packet.set_rest_of_header(rest);
        Ok(HEADER_LEN)
    }
}

/// The ICMP checksum of a message whose header is `header` and whose data
/// has the ones' complement partial sum `data_sum` (as computed by
/// [`crate::checksum::ones_sum`] or [`Checksum`]).
///
/// With a zero checksum field in `header`, this is the value to store;
/// with the received checksum in place, it is zero iff the message is valid.
pub fn icmp_checksum(header: &[u8], data_sum: u16) -> u16 {
    let mut sum = Checksum::new();
    sum.add_bytes(header);
    sum.add_partial(data_sum, 0);
    sum.finish()
}

impl fmt::Display for IcmpRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IcmpRepr::EchoRequest {
                ident,
                seq_no,
                data,
            } => {
                write!(
                    f,
                    "ICMP echo request id={ident} seq={seq_no} len={}",
                    data.len()
                )
            }
            IcmpRepr::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                write!(
                    f,
                    "ICMP echo reply id={ident} seq={seq_no} len={}",
                    data.len()
                )
            }
            IcmpRepr::Other {
                msg_type,
                code,
                data,
                ..
            } => {
                write!(f, "ICMP type={msg_type} code={code} len={}", data.len())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::ones_sum;

    // A real `ping` echo request: id 0x1234, seq 1, 8 bytes of data.
    const ECHO: [u8; 16] = [
        0x08, 0x00, 0x54, 0x35, 0x12, 0x34, 0x00, 0x01, // header
        0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, // "abcdefgh"
    ];

    #[test]
    fn parse_known_echo() {
        let packet = IcmpPacket::new_checked(&ECHO[..]).unwrap();
        assert!(packet.verify_checksum());
        let repr = IcmpRepr::parse(&packet).unwrap();
        assert_eq!(
            repr,
            IcmpRepr::EchoRequest {
                ident: 0x1234,
                seq_no: 1,
                data: b"abcdefgh"
            }
        );
        assert_eq!(repr.buffer_len(), 16);
    }

    #[test]
    fn emit_known_echo() {
        let repr = IcmpRepr::EchoRequest {
            ident: 0x1234,
            seq_no: 1,
            data: b"abcdefgh",
        };
        let mut buf = [0u8; 16];
        repr.emit(&mut IcmpPacket::new_unchecked(&mut buf[..]));
        assert_eq!(buf, ECHO);
    }

    #[test]
    fn split_header_checksum() {
        let repr = IcmpRepr::EchoReply {
            ident: 7,
            seq_no: 9,
            data: b"hello",
        };
        let mut whole = [0u8; 13];
        repr.emit(&mut IcmpPacket::new_unchecked(&mut whole[..]));
        let mut header = [0u8; 8];
        assert_eq!(repr.emit_header(&mut header), Ok(8));
        let sum = icmp_checksum(&header, ones_sum(b"hello"));
        assert_eq!(sum.to_be_bytes(), whole[2..4]);
        assert_eq!(icmp_checksum(&whole[..8], ones_sum(b"hello")), 0);
        let parsed = IcmpRepr::parse_header(&whole).unwrap();
        assert_eq!(
            parsed,
            IcmpRepr::EchoReply {
                ident: 7,
                seq_no: 9,
                data: &[]
            }
        );
        assert_eq!(repr.emit_header(&mut header[..7]), Err(Error::Truncated));
    }

    #[test]
    fn errors_and_other_types() {
        assert_eq!(
            IcmpPacket::new_checked(&ECHO[..7]).unwrap_err(),
            Error::Truncated
        );
        let mut bad = ECHO;
        bad[15] ^= 1;
        assert_eq!(
            IcmpRepr::parse(&IcmpPacket::new_unchecked(&bad[..])).unwrap_err(),
            Error::Checksum
        );
        // Destination unreachable, fragmentation needed, next-hop MTU 1400.
        let unreach = IcmpRepr::Other {
            msg_type: 3,
            code: 4,
            rest_of_header: [0, 0, 0x05, 0x78],
            data: &ECHO,
        };
        let mut buf = [0u8; 24];
        unreach.emit(&mut IcmpPacket::new_unchecked(&mut buf[..]));
        assert_eq!(
            IcmpRepr::parse(&IcmpPacket::new_checked(&buf[..]).unwrap()).unwrap(),
            unreach
        );
        // An echo request with a non-zero code is "Other".
        let mut odd = ECHO;
        let mut packet = IcmpPacket::new_unchecked(&mut odd[..]);
        packet.set_msg_code(1);
        packet.fill_checksum();
        let repr = IcmpRepr::parse(&IcmpPacket::new_unchecked(&odd[..])).unwrap();
        assert!(matches!(
            repr,
            IcmpRepr::Other {
                msg_type: 8,
                code: 1,
                ..
            }
        ));
    }
}
