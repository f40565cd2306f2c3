//! A connection's TCP header, built once: per segment only the fields that
//! change are written, and its checksum contribution is added up from those
//! fields instead of re-reading the header.
//!
//! After the handshake almost every segment of a connection has the same
//! header shape: the same ports, the same data offset and either no options
//! or `NOP, NOP, Timestamps` (RFC 7323 Appendix A's layout). A
//! [`TcpHeaderTemplate`] holds those bytes and the ones' complement sum of
//! the words that never change; [`TcpHeaderTemplate::write`] then stores
//! sequence and acknowledgment numbers, flags, window and timestamps, and
//! returns the header's partial sum. Segments with other options (SACK
//! blocks, the handshake's options) go through [`TcpRepr::emit_header`].
//!
//! The output is byte-identical to [`TcpRepr::emit_header`] for the same
//! content, which the tests check.
//!
//! [`TcpRepr::emit_header`]: super::TcpRepr::emit_header

use super::tcp::{TcpFlags, TcpSeqNumber, HEADER_LEN};
use super::{Error, Result};
use crate::checksum;

/// Length of the timestamps option area with its two leading NOPs.
const TS_AREA_LEN: usize = 12;
/// Option kinds of the timestamp layout: NOP, NOP, kind 8, length 10.
const TS_AREA_PREFIX: [u8; 4] = [1, 1, 8, 10];

/// The fixed part of one connection's TCP header (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpHeaderTemplate {
    src_port: u16,
    dst_port: u16,
    timestamps: bool,
    /// Ones' complement sum (unfolded) of the ports and, with timestamps,
    /// the option kinds: the words that are the same in every segment.
    fixed_sum: u64,
}

impl TcpHeaderTemplate {
    /// The template of a connection from `src_port` to `dst_port`, with the
    /// timestamps option on every segment when `timestamps` is set.
    pub fn new(src_port: u16, dst_port: u16, timestamps: bool) -> Self {
        let mut fixed_sum = u64::from(src_port) + u64::from(dst_port);
        if timestamps {
            fixed_sum += u64::from(u16::from_be_bytes([TS_AREA_PREFIX[0], TS_AREA_PREFIX[1]]))
                + u64::from(u16::from_be_bytes([TS_AREA_PREFIX[2], TS_AREA_PREFIX[3]]));
        }
        TcpHeaderTemplate {
            src_port,
            dst_port,
            timestamps,
            fixed_sum,
        }
    }

    /// Whether segments carry the timestamps option.
    pub fn timestamps(&self) -> bool {
        self.timestamps
    }

    /// Length of the headers this writes: 20, or 32 with timestamps.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + if self.timestamps { TS_AREA_LEN } else { 0 }
    }

    /// Writes a header into `buf` with a zero checksum field and returns the
    /// header's ones' complement partial sum (to be combined with the
    /// pseudo-header and payload sums, then stored at offset 16).
    ///
    /// `ack` sets the ACK flag when `Some` (an ACK flag in `flags` is
    /// ignored, as in `TcpRepr`). `timestamp` is `(TSval, TSecr)`; it is
    /// ignored without timestamps, and `(0, 0)` is written when it is `None`
    /// with timestamps (callers pass it whenever the template has them).
    ///
    /// Errors: `Truncated` if `buf` is shorter than [`Self::header_len`].
    pub fn write(
        &self,
        buf: &mut [u8],
        seq: TcpSeqNumber,
        ack: Option<TcpSeqNumber>,
        flags: TcpFlags,
        window: u16,
        timestamp: Option<(u32, u32)>,
    ) -> Result<u16> {
        let header_len = self.header_len();
        let header = buf.get_mut(..header_len).ok_or(Error::Truncated)?;
        let mut wire_flags = flags - TcpFlags::ACK;
        wire_flags.set(TcpFlags::ACK, ack.is_some());
        let ack = ack.unwrap_or_default().0;
        // Data offset in the high nibble of byte 12, flags in byte 13.
        let offset_flags = (((header_len / 4) as u16) << 12) | u16::from(wire_flags.bits());
        header[0..2].copy_from_slice(&self.src_port.to_be_bytes());
        header[2..4].copy_from_slice(&self.dst_port.to_be_bytes());
        header[4..8].copy_from_slice(&seq.0.to_be_bytes());
        header[8..12].copy_from_slice(&ack.to_be_bytes());
        header[12..14].copy_from_slice(&offset_flags.to_be_bytes());
        header[14..16].copy_from_slice(&window.to_be_bytes());
        header[16..20].fill(0);
        let mut sum = self.fixed_sum
            + word_sum(seq.0)
            + word_sum(ack)
            + u64::from(offset_flags)
            + u64::from(window);
        if self.timestamps {
            let (tsval, tsecr) = timestamp.unwrap_or((0, 0));
            let options = &mut header[HEADER_LEN..];
            options[0..4].copy_from_slice(&TS_AREA_PREFIX);
            options[4..8].copy_from_slice(&tsval.to_be_bytes());
            options[8..12].copy_from_slice(&tsecr.to_be_bytes());
            sum += word_sum(tsval) + word_sum(tsecr);
        }
        Ok(checksum::fold(sum))
    }
}

/// The sum of the two 16-bit words of a 32-bit field.
#[inline]
fn word_sum(value: u32) -> u64 {
    u64::from(value >> 16) + u64::from(value & 0xffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::ones_sum;
    use crate::wire::TcpRepr;
    use proptest::prelude::*;

    fn repr(
        ports: (u16, u16),
        seq: u32,
        ack: Option<u32>,
        flags: TcpFlags,
        window: u16,
        ts: Option<(u32, u32)>,
    ) -> TcpRepr<'static> {
        TcpRepr {
            src_port: ports.0,
            dst_port: ports.1,
            flags,
            seq_number: TcpSeqNumber(seq),
            ack_number: ack.map(TcpSeqNumber),
            window_len: window,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: ts,
            payload: &[],
        }
    }

    fn flags_strategy() -> impl Strategy<Value = TcpFlags> {
        prop_oneof![
            Just(TcpFlags::empty()),
            Just(TcpFlags::PSH),
            Just(TcpFlags::FIN),
            Just(TcpFlags::FIN | TcpFlags::PSH),
            Just(TcpFlags::RST),
            Just(TcpFlags::ACK),
        ]
    }

    proptest! {
        /// Same bytes as the generic emitter, and the returned sum is the
        /// ones' complement sum of those bytes.
        #[test]
        fn matches_generic_emitter(
            ports in (1u16.., 1u16..),
            seq: u32,
            ack: Option<u32>,
            flags in flags_strategy(),
            window: u16,
            ts: Option<(u32, u32)>,
        ) {
            let template = TcpHeaderTemplate::new(ports.0, ports.1, ts.is_some());
            let mut ours = [0xaau8; 32];
            let sum = template
                .write(&mut ours, TcpSeqNumber(seq), ack.map(TcpSeqNumber), flags, window, ts)
                .unwrap();
            let mut theirs = [0x55u8; 32];
            let len = repr(ports, seq, ack, flags, window, ts).emit_header(&mut theirs).unwrap();
            prop_assert_eq!(len, template.header_len());
            prop_assert_eq!(&ours[..len], &theirs[..len]);
            prop_assert_eq!(sum, ones_sum(&ours[..len]));
        }
    }

    #[test]
    fn short_buffer_is_truncated_not_a_panic() {
        let template = TcpHeaderTemplate::new(80, 4000, true);
        let mut buf = [0u8; 31];
        let got = template.write(
            &mut buf,
            TcpSeqNumber(1),
            None,
            TcpFlags::empty(),
            0,
            Some((1, 2)),
        );
        assert_eq!(got, Err(Error::Truncated));
        assert_eq!(TcpHeaderTemplate::new(80, 4000, false).header_len(), 20);
    }

    /// A template-built segment checks out with etherparse, an independent
    /// TCP implementation, when combined with pseudo-header and payload sums.
    #[test]
    fn etherparse_accepts_the_checksum() {
        use crate::checksum::{pseudo_header_sum, Checksum};
        let src = [10, 0, 0, 1];
        let dst = [10, 0, 0, 2];
        let payload = b"hello, template";
        let template = TcpHeaderTemplate::new(8080, 51000, true);
        let mut segment = vec![0u8; template.header_len() + payload.len()];
        let header_sum = template
            .write(
                &mut segment,
                TcpSeqNumber(0xdead_beef),
                Some(TcpSeqNumber(0x0102_0304)),
                TcpFlags::PSH,
                512,
                Some((77, 66)),
            )
            .unwrap();
        segment[template.header_len()..].copy_from_slice(payload);
        let mut sum = Checksum::new();
        sum.add_u16(pseudo_header_sum(src, dst, 6, segment.len() as u16));
        sum.add_u16(header_sum);
        sum.add_partial(ones_sum(payload), payload.len());
        segment[16..18].copy_from_slice(&sum.finish().to_be_bytes());
        let (header, rest) = etherparse::TcpHeader::from_slice(&segment).unwrap();
        assert_eq!(rest, payload);
        let expected = header.calc_checksum_ipv4_raw(src, dst, payload).unwrap();
        assert_eq!(header.checksum, expected);
        assert!(header.psh && header.ack && !header.syn);
        assert_eq!(header.sequence_number, 0xdead_beef);
    }
}
