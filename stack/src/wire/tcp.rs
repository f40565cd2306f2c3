//! TCP (RFC 9293) segments, sequence numbers, flags and options.
//!
//! * [`TcpSeqNumber`] — sequence numbers compared modulo 2³².
//! * [`TcpFlags`] — the eight flag bits of byte 13.
//! * [`TcpOption`] and [`TcpOptions`] — one option, and a never-panicking
//!   iterator over an option area.
//! * [`TcpPacket`] — a view of a segment; [`TcpRepr`] — its content.
//! * [`TcpRepr::parse_header`], [`TcpRepr::emit_header`] and
//!   [`tcp_checksum`] — for segments whose payload lies in other buffers
//!   (chained frames), where the caller sums the payload itself.
//!
//! The buffer of a [`TcpPacket`] is the whole segment (the IPv4 payload):
//! TCP has no length field, so the checksum and the payload run to the end
//! of the buffer.

use core::cmp::Ordering;
use core::fmt;
use core::ops;

use crate::checksum::{pseudo_header_sum, Checksum};

use super::{
    copy_clamped, read_u16, read_u32, read_u8, sub_slice, sub_slice_mut, write_bytes, write_u16,
    write_u32, write_u8, Error, Ipv4Addr, Result,
};

/// IP protocol number of TCP, for the pseudo-header.
const PROTOCOL_TCP: u8 = 6;

// ---------------------------------------------------------------------------
// Sequence numbers

/// A TCP sequence number: a 32-bit counter compared modulo 2³².
///
/// `a < b` means "`a` comes before `b`": the signed 32-bit difference
/// `b - a` is positive (RFC 9293 §3.4, RFC 1982 serial arithmetic).
///
/// **Caveat:** this order is only meaningful for numbers less than 2³¹
/// apart. It is not transitive over the whole circle (`0 < 2³⁰ < 2³¹ <
/// 3·2³⁰ < 0`), so `TcpSeqNumber` implements `PartialOrd` but not `Ord`,
/// and two numbers exactly 2³¹ apart are incomparable (`partial_cmp`
/// returns `None`, so both `<` and `>` are false). Never sort them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpSeqNumber(pub u32);

impl TcpSeqNumber {
    /// `self + n` modulo 2³².
    pub const fn wrapping_add(self, n: u32) -> TcpSeqNumber {
        TcpSeqNumber(self.0.wrapping_add(n))
    }

    /// `self - n` modulo 2³².
    pub const fn wrapping_sub(self, n: u32) -> TcpSeqNumber {
        TcpSeqNumber(self.0.wrapping_sub(n))
    }

    /// The signed distance from `other` to `self`: positive when `self`
    /// comes after `other`. Same as `self - other`.
    pub const fn diff(self, other: TcpSeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// The later of the two (`self` if they are incomparable).
    pub fn max(self, other: TcpSeqNumber) -> TcpSeqNumber {
        if other > self {
            other
        } else {
            self
        }
    }

    /// The earlier of the two (`self` if they are incomparable).
    pub fn min(self, other: TcpSeqNumber) -> TcpSeqNumber {
        if other < self {
            other
        } else {
            self
        }
    }

    /// Whether `self` lies in the half-open window `[start, start + len)`.
    pub const fn in_window(self, start: TcpSeqNumber, len: u32) -> bool {
        self.0.wrapping_sub(start.0) < len
    }
}

impl PartialOrd for TcpSeqNumber {
    fn partial_cmp(&self, other: &TcpSeqNumber) -> Option<Ordering> {
        let d = self.diff(*other);
        if d == i32::MIN {
            None
        } else {
            Some(d.cmp(&0))
        }
    }
}

impl ops::Add<usize> for TcpSeqNumber {
    type Output = TcpSeqNumber;
    /// Adds modulo 2³² (`rhs` is reduced modulo 2³² first).
    fn add(self, rhs: usize) -> TcpSeqNumber {
        TcpSeqNumber(self.0.wrapping_add(rhs as u32))
    }
}

impl ops::Sub<usize> for TcpSeqNumber {
    type Output = TcpSeqNumber;
    /// Subtracts modulo 2³² (`rhs` is reduced modulo 2³² first).
    fn sub(self, rhs: usize) -> TcpSeqNumber {
        TcpSeqNumber(self.0.wrapping_sub(rhs as u32))
    }
}

impl ops::AddAssign<usize> for TcpSeqNumber {
    fn add_assign(&mut self, rhs: usize) {
        *self = *self + rhs;
    }
}

impl ops::SubAssign<usize> for TcpSeqNumber {
    fn sub_assign(&mut self, rhs: usize) {
        *self = *self - rhs;
    }
}

impl ops::Sub for TcpSeqNumber {
    type Output = i32;
    /// The signed distance from `rhs` to `self` (see [`TcpSeqNumber::diff`]).
    fn sub(self, rhs: TcpSeqNumber) -> i32 {
        self.diff(rhs)
    }
}

impl fmt::Display for TcpSeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

// ---------------------------------------------------------------------------
// Flags

/// The eight flag bits of a TCP header (byte 13), as a bit set.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(u8);

impl TcpFlags {
    /// No more data from the sender.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// Synchronise sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// Push the data to the application.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// The acknowledgment number is significant.
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// The urgent pointer is significant.
    pub const URG: TcpFlags = TcpFlags(0x20);
    /// ECN echo (RFC 3168).
    pub const ECE: TcpFlags = TcpFlags(0x40);
    /// Congestion window reduced (RFC 3168).
    pub const CWR: TcpFlags = TcpFlags(0x80);

    const NAMES: [(TcpFlags, &'static str); 8] = [
        (TcpFlags::FIN, "FIN"),
        (TcpFlags::SYN, "SYN"),
        (TcpFlags::RST, "RST"),
        (TcpFlags::PSH, "PSH"),
        (TcpFlags::ACK, "ACK"),
        (TcpFlags::URG, "URG"),
        (TcpFlags::ECE, "ECE"),
        (TcpFlags::CWR, "CWR"),
    ];

    /// No flag set.
    pub const fn empty() -> TcpFlags {
        TcpFlags(0)
    }

    /// All eight flags set.
    pub const fn all() -> TcpFlags {
        TcpFlags(0xff)
    }

    /// The flags of a flag byte (every bit is a flag).
    pub const fn from_bits(bits: u8) -> TcpFlags {
        TcpFlags(bits)
    }

    /// The flag byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every flag of `other` is set in `self`.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether some flag of `other` is set in `self`.
    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }

    /// The flags set in either.
    pub const fn union(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | other.0)
    }

    /// The flags of `self` not in `other`.
    pub const fn difference(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & !other.0)
    }

    /// Sets the flags of `other`.
    pub fn insert(&mut self, other: TcpFlags) {
        self.0 |= other.0;
    }

    /// Clears the flags of `other`.
    pub fn remove(&mut self, other: TcpFlags) {
        self.0 &= !other.0;
    }

    /// Sets (`value` true) or clears the flags of `other`.
    pub fn set(&mut self, other: TcpFlags, value: bool) {
        if value {
            self.insert(other)
        } else {
            self.remove(other)
        }
    }
}

impl ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        self.union(rhs)
    }
}

impl ops::BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.insert(rhs)
    }
}

impl ops::BitAnd for TcpFlags {
    type Output = TcpFlags;
    fn bitand(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & rhs.0)
    }
}

impl ops::BitAndAssign for TcpFlags {
    fn bitand_assign(&mut self, rhs: TcpFlags) {
        self.0 &= rhs.0;
    }
}

impl ops::Sub for TcpFlags {
    type Output = TcpFlags;
    fn sub(self, rhs: TcpFlags) -> TcpFlags {
        self.difference(rhs)
    }
}

impl ops::Not for TcpFlags {
    type Output = TcpFlags;
    fn not(self) -> TcpFlags {
        TcpFlags(!self.0)
    }
}

impl fmt::Display for TcpFlags {
    /// Names joined by `|`, such as `SYN|ACK`, or `-` when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("-");
        }
        let mut first = true;
        for (flag, name) in TcpFlags::NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TcpFlags({self})")
    }
}

// ---------------------------------------------------------------------------
// Options

mod kind {
    pub const END: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WS: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMPS: u8 = 8;
}

/// Maximum length of the option area (a 60-byte header minus 20).
pub const MAX_OPTIONS_LEN: usize = 40;

/// One TCP option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpOption<'a> {
    /// End of option list (kind 0); what follows is padding.
    EndOfList,
    /// No-operation (kind 1), used for alignment.
    NoOp,
    /// Maximum segment size (kind 2), sent on SYNs.
    MaxSegmentSize(u16),
    /// Window scale shift count (kind 3, RFC 7323), sent on SYNs.
    WindowScale(u8),
    /// SACK permitted (kind 4, RFC 2018), sent on SYNs.
    SackPermitted,
    /// SACK blocks (kind 5): up to four `(left, right)` edges. Parsed
    /// options fill the array from the front; `emit` writes the `Some`
    /// entries in order.
    SackRange([Option<(u32, u32)>; 4]),
    /// Timestamps (kind 8, RFC 7323).
    Timestamps {
        /// The sender's timestamp clock.
        tsval: u32,
        /// The echoed timestamp of the peer.
        tsecr: u32,
    },
    /// Any other option, kept raw. After parsing, `kind` is never one of
    /// the kinds above (0, 1, 2, 3, 4, 5, 8).
    Unknown {
        /// The option kind.
        kind: u8,
        /// The bytes after kind and length.
        data: &'a [u8],
    },
}

impl<'a> TcpOption<'a> {
    /// Parses the option at the start of `buf`, returning it and the bytes
    /// after it.
    ///
    /// `Truncated` on an empty buffer; `Malformed` when the length byte is
    /// missing, below 2, runs past the buffer, or is wrong for a known kind
    /// (MSS 4, window scale 3, SACK-permitted 2, timestamps 10, SACK 10, 18,
    /// 26 or 34).
    pub fn parse(buf: &'a [u8]) -> Result<(&'a [u8], TcpOption<'a>)> {
        let (&kind, rest) = buf.split_first().ok_or(Error::Truncated)?;
        match kind {
            kind::END => return Ok((rest, TcpOption::EndOfList)),
            kind::NOP => return Ok((rest, TcpOption::NoOp)),
            _ => {}
        }
        let len = *rest.first().ok_or(Error::Malformed)? as usize;
        if len < 2 {
            return Err(Error::Malformed);
        }
        let data = buf.get(2..len).ok_or(Error::Malformed)?;
        let rest = buf.get(len..).ok_or(Error::Malformed)?;
        let option = match (kind, len) {
            (kind::MSS, 4) => TcpOption::MaxSegmentSize(read_u16(data, 0)),
            (kind::WS, 3) => TcpOption::WindowScale(read_u8(data, 0)),
            (kind::SACK_PERMITTED, 2) => TcpOption::SackPermitted,
            (kind::TIMESTAMPS, 10) => TcpOption::Timestamps {
                tsval: read_u32(data, 0),
                tsecr: read_u32(data, 4),
            },
            (kind::SACK, 10 | 18 | 26 | 34) => {
                let mut ranges = [None; 4];
                for (slot, block) in ranges.iter_mut().zip(data.chunks_exact(8)) {
                    *slot = Some((read_u32(block, 0), read_u32(block, 4)));
                }
                TcpOption::SackRange(ranges)
            }
            (kind::MSS | kind::WS | kind::SACK_PERMITTED | kind::TIMESTAMPS | kind::SACK, _) => {
                return Err(Error::Malformed)
            }
            (kind, _) => TcpOption::Unknown { kind, data },
        };
        Ok((rest, option))
    }

    /// Length of the option in bytes.
    pub fn buffer_len(&self) -> usize {
        match self {
            TcpOption::EndOfList | TcpOption::NoOp => 1,
            TcpOption::MaxSegmentSize(_) => 4,
            TcpOption::WindowScale(_) => 3,
            TcpOption::SackPermitted => 2,
            TcpOption::SackRange(ranges) => 2 + 8 * ranges.iter().flatten().count(),
            TcpOption::Timestamps { .. } => 10,
            TcpOption::Unknown { data, .. } => 2 + data.len(),
        }
    }

    /// Writes the option at the start of `buf` and returns its length.
    ///
    /// `Truncated` if `buf` is too short; `Malformed` for a `SackRange`
    /// without any range or an `Unknown` whose data exceeds 253 bytes.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let out = buf.get_mut(..len).ok_or(Error::Truncated)?;
        let length_byte = u8::try_from(len).map_err(|_| Error::Malformed)?;
        match *self {
            TcpOption::EndOfList => write_u8(out, 0, kind::END),
            TcpOption::NoOp => write_u8(out, 0, kind::NOP),
            TcpOption::MaxSegmentSize(mss) => {
                write_u8(out, 0, kind::MSS);
                write_u8(out, 1, 4);
                write_u16(out, 2, mss);
            }
            TcpOption::WindowScale(shift) => write_bytes(out, 0, &[kind::WS, 3, shift]),
            TcpOption::SackPermitted => write_bytes(out, 0, &[kind::SACK_PERMITTED, 2]),
            TcpOption::SackRange(ranges) => {
                if len == 2 {
                    return Err(Error::Malformed);
                }
                write_u8(out, 0, kind::SACK);
                write_u8(out, 1, length_byte);
                for (i, (left, right)) in ranges.iter().flatten().enumerate() {
                    write_u32(out, 2 + 8 * i, *left);
                    write_u32(out, 6 + 8 * i, *right);
                }
            }
            TcpOption::Timestamps { tsval, tsecr } => {
                write_u8(out, 0, kind::TIMESTAMPS);
                write_u8(out, 1, 10);
                write_u32(out, 2, tsval);
                write_u32(out, 6, tsecr);
            }
            TcpOption::Unknown { kind, data } => {
                write_u8(out, 0, kind);
                write_u8(out, 1, length_byte);
                copy_clamped(out, 2, data);
            }
        }
        Ok(len)
    }
}

/// An iterator over the options of an option area.
///
/// Yields `Ok(option)` for each option, including `NoOp`s and a final
/// `EndOfList` (after which it stops: the rest is padding). On a malformed
/// option it yields one `Err` and then stops. It never panics.
#[derive(Clone, Debug)]
pub struct TcpOptions<'a> {
    rest: &'a [u8],
}

impl<'a> TcpOptions<'a> {
    /// Iterates over the options in `area` (the bytes after the fixed header).
    pub const fn new(area: &'a [u8]) -> Self {
        TcpOptions { rest: area }
    }
}

impl<'a> Iterator for TcpOptions<'a> {
    type Item = Result<TcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match TcpOption::parse(self.rest) {
            Ok((rest, option)) => {
                self.rest = if option == TcpOption::EndOfList {
                    &[]
                } else {
                    rest
                };
                Some(Ok(option))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for TcpOptions<'_> {}

// ---------------------------------------------------------------------------
// Packet view

/// Byte offsets of the fields of the TCP header, from its first byte: the
/// one place that names them (the views below, the stack and the simulator
/// use these instead of literal offsets).
pub mod field {
    /// Offset of the source port.
    pub const SRC_PORT: usize = 0;
    /// Offset of the destination port.
    pub const DST_PORT: usize = 2;
    /// Offset of the sequence number.
    pub const SEQ_NUM: usize = 4;
    /// Offset of the acknowledgment number.
    pub const ACK_NUM: usize = 8;
    /// Offset of the data offset (high nibble).
    pub const DATA_OFF: usize = 12;
    /// Offset of the flags.
    pub const FLAGS: usize = 13;
    /// Offset of the window.
    pub const WIN_SIZE: usize = 14;
    /// Offset of the checksum.
    pub const CHECKSUM: usize = 16;
    /// Offset of the urgent pointer.
    pub const URGENT: usize = 18;
    /// Offset of the options.
    pub const OPTIONS: usize = 20;
}

/// Length of a TCP header without options.
pub const HEADER_LEN: usize = field::OPTIONS;
/// Length of the longest TCP header (data offset 15).
pub const MAX_HEADER_LEN: usize = 60;

/// A read/write view of a TCP segment in a buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wraps a buffer without checking it (accessors stay safe).
    pub const fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    /// Wraps a buffer after checking `20 <= header_len <= buffer length`.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// `Truncated` if the buffer is shorter than 20 bytes or than the data
    /// offset says; `Malformed` if the data offset is below 5 words.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header_len = self.header_len() as usize;
        if header_len < HEADER_LEN {
            Err(Error::Malformed)
        } else if header_len > len {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Gives back the wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The source port.
    pub fn src_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// The destination port.
    pub fn dst_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// The sequence number.
    pub fn seq_number(&self) -> TcpSeqNumber {
        TcpSeqNumber(read_u32(self.buffer.as_ref(), field::SEQ_NUM))
    }

    /// The acknowledgment number field (meaningful only with ACK).
    pub fn ack_number(&self) -> TcpSeqNumber {
        TcpSeqNumber(read_u32(self.buffer.as_ref(), field::ACK_NUM))
    }

    /// The header length in bytes (data offset × 4), options included.
    pub fn header_len(&self) -> u8 {
        (read_u8(self.buffer.as_ref(), field::DATA_OFF) >> 4) * 4
    }

    /// The flag byte.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(read_u8(self.buffer.as_ref(), field::FLAGS))
    }

    /// The FIN flag.
    pub fn fin(&self) -> bool {
        self.flags().contains(TcpFlags::FIN)
    }

    /// The SYN flag.
    pub fn syn(&self) -> bool {
        self.flags().contains(TcpFlags::SYN)
    }

    /// The RST flag.
    pub fn rst(&self) -> bool {
        self.flags().contains(TcpFlags::RST)
    }

    /// The PSH flag.
    pub fn psh(&self) -> bool {
        self.flags().contains(TcpFlags::PSH)
    }

    /// The ACK flag.
    pub fn ack(&self) -> bool {
        self.flags().contains(TcpFlags::ACK)
    }

    /// The URG flag.
    pub fn urg(&self) -> bool {
        self.flags().contains(TcpFlags::URG)
    }

    /// The ECE flag.
    pub fn ece(&self) -> bool {
        self.flags().contains(TcpFlags::ECE)
    }

    /// The CWR flag.
    pub fn cwr(&self) -> bool {
        self.flags().contains(TcpFlags::CWR)
    }

    /// The window field (unscaled).
    pub fn window_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::WIN_SIZE)
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The urgent pointer field.
    pub fn urgent_at(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::URGENT)
    }

    /// The option area: bytes 20 to `header_len()`.
    pub fn options(&self) -> &[u8] {
        sub_slice(self.buffer.as_ref(), HEADER_LEN, self.header_len() as usize)
    }

    /// An iterator over the options.
    pub fn options_iter(&self) -> TcpOptions<'_> {
        TcpOptions::new(self.options())
    }

    /// The payload: from the end of the header to the end of the buffer.
    pub fn payload(&self) -> &[u8] {
        sub_slice(self.buffer.as_ref(), self.header_len() as usize, usize::MAX)
    }

    /// Sequence space the segment occupies: payload length, plus one for
    /// SYN and one for FIN.
    pub fn segment_len(&self) -> usize {
        self.payload().len() + usize::from(self.syn()) + usize::from(self.fin())
    }

    /// Whether the checksum over the whole buffer, with the pseudo-header
    /// of `src` and `dst`, is correct.
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let buf = self.buffer.as_ref();
        buf.len() >= HEADER_LEN && tcp_checksum(src, dst, buf, 0, 0) == 0
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> TcpPacket<&'a T> {
    /// The option area, borrowed for the buffer's lifetime.
    pub fn options_ref(&self) -> &'a [u8] {
        sub_slice(self.buffer.as_ref(), HEADER_LEN, self.header_len() as usize)
    }

    /// The payload, borrowed for the buffer's lifetime.
    pub fn payload_ref(&self) -> &'a [u8] {
        sub_slice(self.buffer.as_ref(), self.header_len() as usize, usize::MAX)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, port: u16) {
        write_u16(self.buffer.as_mut(), field::SRC_PORT, port);
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, port: u16) {
        write_u16(self.buffer.as_mut(), field::DST_PORT, port);
    }

    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, seq: TcpSeqNumber) {
        write_u32(self.buffer.as_mut(), field::SEQ_NUM, seq.0);
    }

    /// Sets the acknowledgment number field.
    pub fn set_ack_number(&mut self, ack: TcpSeqNumber) {
        write_u32(self.buffer.as_mut(), field::ACK_NUM, ack.0);
    }

    /// Sets the header length in bytes (rounded down to a multiple of 4,
    /// at most 60) and clears the reserved bits.
    pub fn set_header_len(&mut self, len: u8) {
        let words = (len / 4).min(15);
        write_u8(self.buffer.as_mut(), field::DATA_OFF, words << 4);
    }

    /// Sets the flag byte.
    pub fn set_flags(&mut self, flags: TcpFlags) {
        write_u8(self.buffer.as_mut(), field::FLAGS, flags.0);
    }

    /// Sets the window field.
    pub fn set_window_len(&mut self, window: u16) {
        write_u16(self.buffer.as_mut(), field::WIN_SIZE, window);
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, checksum: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, checksum);
    }

    /// Sets the urgent pointer field.
    pub fn set_urgent_at(&mut self, urgent: u16) {
        write_u16(self.buffer.as_mut(), field::URGENT, urgent);
    }

    /// The option area, writable.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len() as usize;
        sub_slice_mut(self.buffer.as_mut(), HEADER_LEN, end)
    }

    /// The payload, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len() as usize;
        sub_slice_mut(self.buffer.as_mut(), start, usize::MAX)
    }

    /// Computes the checksum over the whole buffer and stores it.
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let sum = tcp_checksum(src, dst, self.buffer.as_ref(), 0, 0);
        self.set_checksum(sum);
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for TcpPacket<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The TCP checksum of a segment from `src` to `dst` whose header is
/// `header` and whose payload, `payload_len` bytes long, has the ones'
/// complement partial sum `payload_sum` (from [`crate::checksum::ones_sum`]
/// or a [`Checksum`] run across chained buffers; 0 for no payload).
///
/// With a zero checksum field in `header` (as [`TcpRepr::emit_header`]
/// leaves it), the result is the value to store; with the received
/// checksum in place, it is zero iff the segment is valid. The TCP length
/// of the pseudo-header is `header.len() + payload_len`, taken modulo 2¹⁶.
pub fn tcp_checksum(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    header: &[u8],
    payload_sum: u16,
    payload_len: usize,
) -> u16 {
    let tcp_len = header.len().wrapping_add(payload_len) as u16;
    let pseudo = pseudo_header_sum(src.octets(), dst.octets(), PROTOCOL_TCP, tcp_len);
    tcp_checksum_with_pseudo(pseudo, header, payload_sum, payload_len)
}

/// [`tcp_checksum`] with the pseudo-header sum (addresses, protocol and
/// TCP length) already computed, as a connection's header template keeps
/// it.
pub fn tcp_checksum_with_pseudo(
    pseudo_sum: u16,
    header: &[u8],
    payload_sum: u16,
    payload_len: usize,
) -> u16 {
    let mut sum = Checksum::new();
    sum.add_u16(pseudo_sum);
    sum.add_bytes(header);
    sum.add_partial(payload_sum, payload_len);
    sum.finish()
}

// ---------------------------------------------------------------------------
// Repr

/// The content of a TCP segment.
///
/// The ACK flag is not kept in `flags`: it is set exactly when
/// `ack_number` is `Some`. `parse` never puts ACK into `flags`, and `emit`
/// ignores an ACK there. Unknown options and the urgent pointer are not
/// represented. `sack_ranges` is filled from the front; `emit` writes the
/// `Some` entries in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TcpRepr<'a> {
    /// Source port (non-zero).
    pub src_port: u16,
    /// Destination port (non-zero).
    pub dst_port: u16,
    /// Flags other than ACK: FIN, SYN, RST, PSH, URG, ECE, CWR.
    pub flags: TcpFlags,
    /// Sequence number of the first byte (or of the SYN).
    pub seq_number: TcpSeqNumber,
    /// Acknowledgment number; `Some` iff the ACK flag is set.
    pub ack_number: Option<TcpSeqNumber>,
    /// The window field, unscaled.
    pub window_len: u16,
    /// Window scale option (shift count, not clamped).
    pub window_scale: Option<u8>,
    /// Maximum segment size option.
    pub max_seg_size: Option<u16>,
    /// SACK-permitted option.
    pub sack_permitted: bool,
    /// Up to three SACK blocks `(left, right)` (a fourth one is dropped).
    pub sack_ranges: [Option<(u32, u32)>; 3],
    /// Timestamps option `(tsval, tsecr)`.
    pub timestamp: Option<(u32, u32)>,
    /// The payload.
    pub payload: &'a [u8],
}

impl<'a> TcpRepr<'a> {
    /// Parses a segment from `src` to `dst`.
    ///
    /// Errors: `Truncated`/`Malformed` from the length checks, `Checksum`
    /// for a bad checksum, `Malformed` for a zero port or a malformed
    /// option. With duplicated options the last one wins; unknown options
    /// are skipped.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &TcpPacket<&'a T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) -> Result<TcpRepr<'a>> {
        packet.check_len()?;
        if !packet.verify_checksum(src, dst) {
            return Err(Error::Checksum);
        }
        Self::from_fields(packet, packet.payload_ref())
    }

    /// Parses the header at the start of `header` without its payload and
    /// without verifying the checksum, for segments spread over chained
    /// buffers (the caller checks the sum with [`tcp_checksum`]). The
    /// slice may run past the header; `payload` is left empty. Same errors
    /// as [`parse`](Self::parse), less `Checksum`.
    pub fn parse_header(header: &[u8]) -> Result<TcpRepr<'static>> {
        let packet = TcpPacket::new_checked(header)?;
        TcpRepr::from_fields(&packet, &[])
    }

    fn from_fields<T: AsRef<[u8]>>(
        packet: &TcpPacket<T>,
        payload: &'a [u8],
    ) -> Result<TcpRepr<'a>> {
        if packet.src_port() == 0 || packet.dst_port() == 0 {
            return Err(Error::Malformed);
        }
        let flags = packet.flags();
        let mut repr = TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            flags: flags - TcpFlags::ACK,
            seq_number: packet.seq_number(),
            ack_number: flags.contains(TcpFlags::ACK).then(|| packet.ack_number()),
            window_len: packet.window_len(),
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload,
        };
        // The usual option area after the handshake, `NOP, NOP, TS`: no
        // walk through the generic option parser.
        if let [kind::NOP, kind::NOP, kind::TIMESTAMPS, 10, ts @ ..] = packet.options() {
            if let Ok(ts) = <[u8; 8]>::try_from(ts) {
                let tsval = u32::from_be_bytes([ts[0], ts[1], ts[2], ts[3]]);
                let tsecr = u32::from_be_bytes([ts[4], ts[5], ts[6], ts[7]]);
                repr.timestamp = Some((tsval, tsecr));
                return Ok(repr);
            }
        }
        for option in packet.options_iter() {
            match option? {
                TcpOption::MaxSegmentSize(mss) => repr.max_seg_size = Some(mss),
                TcpOption::WindowScale(shift) => repr.window_scale = Some(shift),
                TcpOption::SackPermitted => repr.sack_permitted = true,
                TcpOption::SackRange([a, b, c, _]) => repr.sack_ranges = [a, b, c],
                TcpOption::Timestamps { tsval, tsecr } => repr.timestamp = Some((tsval, tsecr)),
                TcpOption::EndOfList | TcpOption::NoOp | TcpOption::Unknown { .. } => {}
            }
        }
        Ok(repr)
    }

    /// Writes the option area into `out`, returning its length (a multiple
    /// of 4, at most 40).
    ///
    /// The preferred layout aligns each option on 32 bits with NOPs, the way
    /// Linux does (`MSS, SACK-perm, TS, NOP, WS` on a SYN; `NOP, NOP, TS`
    /// and `NOP, NOP, SACK` later). If that exceeds 40 bytes, the options
    /// are packed back to back and padded with EOL; if even that is too
    /// long, trailing SACK blocks are dropped. Any `Repr` that `parse`
    /// returns fits packed, so nothing it holds is ever dropped.
    fn write_options(&self, out: &mut [u8; MAX_OPTIONS_LEN]) -> usize {
        // The option set of almost every segment after the handshake:
        // `NOP, NOP, TS`, written directly.
        if let (Some((tsval, tsecr)), None, None, false, true) = (
            self.timestamp,
            self.max_seg_size,
            self.window_scale,
            self.sack_permitted,
            self.sack_ranges.iter().all(Option::is_none),
        ) {
            out[..4].copy_from_slice(&[kind::NOP, kind::NOP, kind::TIMESTAMPS, 10]);
            out[4..8].copy_from_slice(&tsval.to_be_bytes());
            out[8..12].copy_from_slice(&tsecr.to_be_bytes());
            return 12;
        }
        let mut sack = [None; 4];
        for (slot, range) in sack.iter_mut().zip(self.sack_ranges.iter().flatten()) {
            *slot = Some(*range);
        }
        let mut sack_count = sack.iter().flatten().count();
        let ts = self.timestamp;
        let aligned_len = 4 * usize::from(self.max_seg_size.is_some())
            + 4 * usize::from(self.window_scale.is_some())
            + match (self.sack_permitted, ts.is_some()) {
                (true, true) => 12,
                (true, false) => 4,
                (false, true) => 12,
                (false, false) => 0,
            }
            + if sack_count > 0 {
                4 + 8 * sack_count
            } else {
                0
            };

        let mut at = 0;
        let mut put = |option: TcpOption<'_>, at: &mut usize| {
            if let Some(room) = out.get_mut(*at..) {
                *at += option.emit(room).unwrap_or(0);
            }
        };
        let timestamps = |(tsval, tsecr): (u32, u32)| TcpOption::Timestamps { tsval, tsecr };
        if aligned_len <= MAX_OPTIONS_LEN {
            if let Some(mss) = self.max_seg_size {
                put(TcpOption::MaxSegmentSize(mss), &mut at);
            }
            match (self.sack_permitted, ts) {
                (true, Some(ts)) => {
                    put(TcpOption::SackPermitted, &mut at);
                    put(timestamps(ts), &mut at);
                }
                (true, None) => {
                    put(TcpOption::NoOp, &mut at);
                    put(TcpOption::NoOp, &mut at);
                    put(TcpOption::SackPermitted, &mut at);
                }
                (false, Some(ts)) => {
                    put(TcpOption::NoOp, &mut at);
                    put(TcpOption::NoOp, &mut at);
                    put(timestamps(ts), &mut at);
                }
                (false, None) => {}
            }
            if let Some(shift) = self.window_scale {
                put(TcpOption::NoOp, &mut at);
                put(TcpOption::WindowScale(shift), &mut at);
            }
            if sack_count > 0 {
                put(TcpOption::NoOp, &mut at);
                put(TcpOption::NoOp, &mut at);
                put(TcpOption::SackRange(sack), &mut at);
            }
            return at;
        }

        let fixed = 4 * usize::from(self.max_seg_size.is_some())
            + 3 * usize::from(self.window_scale.is_some())
            + 2 * usize::from(self.sack_permitted)
            + 10 * usize::from(ts.is_some());
        while sack_count > 0 && fixed + 2 + 8 * sack_count > MAX_OPTIONS_LEN {
            sack_count -= 1;
            if let Some(slot) = sack.get_mut(sack_count) {
                *slot = None;
            }
        }
        if let Some(mss) = self.max_seg_size {
            put(TcpOption::MaxSegmentSize(mss), &mut at);
        }
        if let Some(shift) = self.window_scale {
            put(TcpOption::WindowScale(shift), &mut at);
        }
        if self.sack_permitted {
            put(TcpOption::SackPermitted, &mut at);
        }
        if let Some(ts) = ts {
            put(timestamps(ts), &mut at);
        }
        if sack_count > 0 {
            put(TcpOption::SackRange(sack), &mut at);
        }
        // `out` starts zeroed, so the padding is already EOL.
        at.next_multiple_of(4)
    }

    /// Length of the option area [`TcpRepr::write_options`] writes,
    /// computed without writing it (the same layout rules).
    fn options_len(&self) -> usize {
        let sack_count = self.sack_ranges.iter().flatten().count();
        let ts = self.timestamp.is_some();
        let aligned_len = 4 * usize::from(self.max_seg_size.is_some())
            + 4 * usize::from(self.window_scale.is_some())
            + match (self.sack_permitted, ts) {
                (_, true) => 12,
                (true, false) => 4,
                (false, false) => 0,
            }
            + if sack_count > 0 {
                4 + 8 * sack_count
            } else {
                0
            };
        if aligned_len <= MAX_OPTIONS_LEN {
            return aligned_len;
        }
        let fixed = 4 * usize::from(self.max_seg_size.is_some())
            + 3 * usize::from(self.window_scale.is_some())
            + 2 * usize::from(self.sack_permitted)
            + 10 * usize::from(ts);
        let mut sack_count = sack_count;
        while sack_count > 0 && fixed + 2 + 8 * sack_count > MAX_OPTIONS_LEN {
            sack_count -= 1;
        }
        let sack_len = if sack_count > 0 {
            2 + 8 * sack_count
        } else {
            0
        };
        (fixed + sack_len).next_multiple_of(4)
    }

    /// Length of the header this emits: 20 plus the padded options (≤ 60).
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options_len()
    }

    /// Length of the whole segment: header and payload.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// Sequence space the segment occupies: payload, plus SYN and FIN.
    pub fn segment_len(&self) -> usize {
        self.payload.len()
            + usize::from(self.flags.contains(TcpFlags::SYN))
            + usize::from(self.flags.contains(TcpFlags::FIN))
    }

    /// The flags as they go on the wire: `flags` with ACK set iff
    /// `ack_number` is `Some`.
    pub fn wire_flags(&self) -> TcpFlags {
        let mut flags = self.flags - TcpFlags::ACK;
        flags.set(TcpFlags::ACK, self.ack_number.is_some());
        flags
    }

    /// Writes the header into `buf` with a zero checksum field and returns
    /// its length, or `Truncated` if `buf` is shorter than `header_len()`.
    /// Complete it with [`tcp_checksum`].
    pub fn emit_header(&self, buf: &mut [u8]) -> Result<usize> {
        let mut options = [0u8; MAX_OPTIONS_LEN];
        let options_len = self.write_options(&mut options);
        debug_assert_eq!(options_len, self.options_len(), "option layout rules agree");
        let header_len = HEADER_LEN + options_len;
        let header = buf.get_mut(..header_len).ok_or(Error::Truncated)?;
        let mut packet = TcpPacket::new_unchecked(header);
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_seq_number(self.seq_number);
        packet.set_ack_number(self.ack_number.unwrap_or_default());
        packet.set_header_len(header_len as u8);
        packet.set_flags(self.wire_flags());
        packet.set_window_len(self.window_len);
        packet.set_checksum(0);
        packet.set_urgent_at(0);
        copy_clamped(
            packet.options_mut(),
            0,
            options.get(..options_len).unwrap_or(&[]),
        );
        Ok(header_len)
    }

    /// Writes the whole segment (header, options, payload) with its
    /// checksum. The buffer should be exactly `buffer_len()` bytes: the
    /// checksum covers the first `buffer_len()` bytes; a shorter buffer
    /// gets a truncated segment.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut TcpPacket<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) {
        let mut header = [0u8; MAX_HEADER_LEN];
        let header_len = self.emit_header(&mut header).unwrap_or(0);
        let buf = packet.buffer.as_mut();
        copy_clamped(buf, 0, header.get(..header_len).unwrap_or(&[]));
        copy_clamped(buf, header_len, self.payload);
        let segment = sub_slice(buf, 0, header_len + self.payload.len());
        let sum = tcp_checksum(src, dst, segment, 0, 0);
        packet.set_checksum(sum);
    }
}

impl fmt::Display for TcpRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TCP {}->{} {} seq={}",
            self.src_port,
            self.dst_port,
            self.wire_flags(),
            self.seq_number
        )?;
        if let Some(ack) = self.ack_number {
            write!(f, " ack={ack}")?;
        }
        write!(f, " win={} len={}", self.window_len, self.payload.len())?;
        if let Some(mss) = self.max_seg_size {
            write!(f, " mss={mss}")?;
        }
        if let Some(shift) = self.window_scale {
            write!(f, " ws={shift}")?;
        }
        if self.sack_permitted {
            f.write_str(" sackOK")?;
        }
        if let Some((tsval, tsecr)) = self.timestamp {
            write!(f, " ts={tsval}/{tsecr}")?;
        }
        for (left, right) in self.sack_ranges.iter().flatten() {
            write!(f, " sack={left}-{right}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::ones_sum;

    const SRC: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 100);
    const DST: Ipv4Addr = Ipv4Addr::new(93, 184, 216, 34);

    // A Linux SYN 192.168.1.100:54321 -> 93.184.216.34:80 with
    // MSS 1460, SACK-permitted, timestamps, NOP, window scale 7.
    const SYN: [u8; 40] = [
        0xd4, 0x31, 0x00, 0x50, // ports
        0x6b, 0x8b, 0x45, 0x67, // seq
        0x00, 0x00, 0x00, 0x00, // ack
        0xa0, 0x02, 0xfa, 0xf0, // offset 10, SYN, window 64240
        0x00, 0x00, 0x00, 0x00, // checksum (filled in by the test), urgent
        0x02, 0x04, 0x05, 0xb4, // MSS 1460
        0x04, 0x02, // SACK permitted
        0x08, 0x0a, 0x00, 0x2a, 0x4c, 0x9d, 0x00, 0x00, 0x00, 0x00, // TS 2772125/0
        0x01, // NOP
        0x03, 0x03, 0x07, // WS 7
    ];

    fn syn_bytes() -> [u8; 40] {
        let mut bytes = SYN;
        TcpPacket::new_unchecked(&mut bytes[..]).fill_checksum(SRC, DST);
        bytes
    }

    fn syn_repr() -> TcpRepr<'static> {
        TcpRepr {
            src_port: 54321,
            dst_port: 80,
            flags: TcpFlags::SYN,
            seq_number: TcpSeqNumber(0x6b8b_4567),
            ack_number: None,
            window_len: 64240,
            window_scale: Some(7),
            max_seg_size: Some(1460),
            sack_permitted: true,
            sack_ranges: [None; 3],
            timestamp: Some((0x002a_4c9d, 0)),
            payload: &[],
        }
    }

    #[test]
    fn parse_real_syn() {
        let bytes = syn_bytes();
        let packet = TcpPacket::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.header_len(), 40);
        assert!(packet.syn() && !packet.ack());
        assert!(packet.verify_checksum(SRC, DST));
        let options: Vec<_> = packet.options_iter().map(Result::unwrap).collect();
        assert_eq!(
            options,
            [
                TcpOption::MaxSegmentSize(1460),
                TcpOption::SackPermitted,
                TcpOption::Timestamps {
                    tsval: 0x002a_4c9d,
                    tsecr: 0
                },
                TcpOption::NoOp,
                TcpOption::WindowScale(7),
            ]
        );
        assert_eq!(TcpRepr::parse(&packet, SRC, DST).unwrap(), syn_repr());
        assert_eq!(
            TcpRepr::parse(&packet, SRC, Ipv4Addr::LOCALHOST).unwrap_err(),
            Error::Checksum
        );
        assert_eq!(
            syn_repr().to_string(),
            "TCP 54321->80 SYN seq=1804289383 win=64240 len=0 mss=1460 ws=7 sackOK ts=2772125/0"
        );
    }

    #[test]
    fn emit_real_syn_byte_for_byte() {
        let repr = syn_repr();
        assert_eq!(repr.header_len(), 40);
        let mut buf = [0u8; 40];
        repr.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), SRC, DST);
        assert_eq!(buf, syn_bytes());
    }

    #[test]
    fn split_header_and_checksum() {
        let payload = b"GET / HTTP/1.1\r\n\r\n!";
        let repr = TcpRepr {
            flags: TcpFlags::PSH,
            ack_number: Some(TcpSeqNumber(77)),
            timestamp: Some((1, 2)),
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            sack_ranges: [Some((10, 20)), None, None],
            payload,
            ..syn_repr()
        };
        let mut whole = vec![0u8; repr.buffer_len()];
        repr.emit(&mut TcpPacket::new_unchecked(&mut whole[..]), SRC, DST);
        let mut header = [0u8; 60];
        let len = repr.emit_header(&mut header).unwrap();
        assert_eq!(len, repr.header_len());
        assert_eq!(len, 20 + 12 + 12);
        let sum = tcp_checksum(SRC, DST, &header[..len], ones_sum(payload), payload.len());
        let packet = TcpPacket::new_checked(&whole[..]).unwrap();
        assert_eq!(sum, packet.checksum());
        assert_eq!(
            tcp_checksum(SRC, DST, &whole[..len], ones_sum(payload), payload.len()),
            0
        );
        let parsed = TcpRepr::parse_header(&whole).unwrap();
        assert_eq!(
            parsed,
            TcpRepr {
                payload: &[],
                ..repr
            }
        );
        assert_eq!(TcpRepr::parse(&packet, SRC, DST).unwrap(), repr);
        assert_eq!(
            repr.emit_header(&mut header[..len - 1]),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn options_that_do_not_fit_aligned_are_packed() {
        let repr = TcpRepr {
            sack_ranges: [Some((1, 2)), Some((3, 4)), Some((5, 6))],
            ack_number: Some(TcpSeqNumber(1)),
            ..syn_repr()
        };
        // Packed: MSS 4 + WS 3 + SACKP 2 + TS 10 = 19, leaving room for two
        // SACK blocks (2 + 16).
        assert_eq!(repr.header_len(), 60);
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), SRC, DST);
        let packet = TcpPacket::new_checked(&buf[..]).unwrap();
        let parsed = TcpRepr::parse(&packet, SRC, DST).unwrap();
        assert_eq!(parsed.sack_ranges, [Some((1, 2)), Some((3, 4)), None]);
        assert_eq!(
            TcpRepr {
                sack_ranges: parsed.sack_ranges,
                ..repr
            },
            parsed
        );
    }

    #[test]
    fn option_errors() {
        let cases: [&[u8]; 9] = [
            &[2],                         // no length byte
            &[2, 1, 0, 0],                // length below 2
            &[2, 5, 0, 0],                // past the end
            &[2, 3, 0],                   // wrong MSS length
            &[3, 4, 0, 0],                // wrong WS length
            &[4, 3, 0],                   // wrong SACK-permitted length
            &[8, 9, 0, 0, 0, 0, 0, 0, 0], // wrong timestamps length
            &[5, 2],                      // SACK without blocks
            &[5, 6, 0, 0, 0, 0],          // SACK with half a block
        ];
        for case in cases {
            assert_eq!(
                TcpOption::parse(case).map(|(_, o)| o),
                Err(Error::Malformed),
                "{case:?}"
            );
            let results: Vec<_> = TcpOptions::new(case).collect();
            assert_eq!(results, [Err(Error::Malformed)]);
        }
        assert_eq!(TcpOption::parse(&[]), Err(Error::Truncated));
        let unknown = [30, 4, 0xab, 0xcd, 1, 0, 9, 9];
        let options: Vec<_> = TcpOptions::new(&unknown).collect();
        assert_eq!(
            options,
            [
                Ok(TcpOption::Unknown {
                    kind: 30,
                    data: &[0xab, 0xcd]
                }),
                Ok(TcpOption::NoOp),
                Ok(TcpOption::EndOfList)
            ]
        );
        assert_eq!(
            TcpOption::SackRange([None; 4]).emit(&mut [0; 10]),
            Err(Error::Malformed)
        );
        assert_eq!(
            TcpOption::MaxSegmentSize(1).emit(&mut [0; 3]),
            Err(Error::Truncated)
        );
        let big = [0u8; 254];
        assert_eq!(
            TcpOption::Unknown {
                kind: 99,
                data: &big
            }
            .emit(&mut [0; 300]),
            Err(Error::Malformed)
        );
    }

    #[test]
    fn header_checks() {
        let bytes = syn_bytes();
        assert_eq!(
            TcpPacket::new_checked(&bytes[..19]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            TcpPacket::new_checked(&bytes[..39]).unwrap_err(),
            Error::Truncated
        );
        let mut bad = bytes;
        bad[12] = 0x40;
        assert_eq!(
            TcpPacket::new_checked(&bad[..]).unwrap_err(),
            Error::Malformed
        );
        let mut zero_port = bytes;
        zero_port[0..2].copy_from_slice(&[0, 0]);
        TcpPacket::new_unchecked(&mut zero_port[..]).fill_checksum(SRC, DST);
        let packet = TcpPacket::new_checked(&zero_port[..]).unwrap();
        assert_eq!(
            TcpRepr::parse(&packet, SRC, DST).unwrap_err(),
            Error::Malformed
        );
        let mut bad_option = bytes;
        bad_option[21] = 9;
        assert_eq!(
            TcpRepr::parse_header(&bad_option).unwrap_err(),
            Error::Malformed
        );
    }

    #[test]
    fn ack_flag_follows_ack_number() {
        let repr = TcpRepr {
            flags: TcpFlags::SYN | TcpFlags::ACK,
            ..syn_repr()
        };
        assert_eq!(repr.wire_flags(), TcpFlags::SYN);
        let repr = TcpRepr {
            ack_number: Some(TcpSeqNumber(5)),
            ..syn_repr()
        };
        assert_eq!(repr.wire_flags(), TcpFlags::SYN | TcpFlags::ACK);
        assert_eq!((TcpFlags::SYN | TcpFlags::ACK).to_string(), "SYN|ACK");
        assert_eq!(format!("{:?}", TcpFlags::empty()), "TcpFlags(-)");
    }

    #[test]
    fn seq_number_arithmetic() {
        let a = TcpSeqNumber(u32::MAX - 1);
        let b = a + 4;
        assert_eq!(b, TcpSeqNumber(2));
        assert!(a < b);
        assert!(b > a);
        assert_eq!(b - a, 4);
        assert_eq!(a - b, -4);
        assert_eq!(b - 4, a);
        assert_eq!(a.max(b), b);
        assert_eq!(a.min(b), a);
        let far = TcpSeqNumber(a.0.wrapping_add(1 << 31));
        assert_eq!(a.partial_cmp(&far), None);
        assert_eq!((a < far, a > far, far < a), (false, false, false));
        assert!(TcpSeqNumber(5).in_window(TcpSeqNumber(3), 3));
        assert!(!TcpSeqNumber(6).in_window(TcpSeqNumber(3), 3));
        let mut c = TcpSeqNumber(0);
        c -= 1;
        assert_eq!(c, TcpSeqNumber(u32::MAX));
        c += 1;
        assert_eq!(c.0, 0);
    }

    #[test]
    fn flags_set_operations() {
        let mut f = TcpFlags::empty();
        f.insert(TcpFlags::FIN | TcpFlags::PSH);
        assert!(f.contains(TcpFlags::FIN) && f.intersects(TcpFlags::PSH | TcpFlags::RST));
        f.set(TcpFlags::FIN, false);
        assert_eq!(f, TcpFlags::PSH);
        assert_eq!(!TcpFlags::all(), TcpFlags::empty());
        assert_eq!(TcpFlags::from_bits(0x12).bits(), 0x12);
        f &= TcpFlags::SYN;
        assert!(f.is_empty());
    }
}
