//! Packet captures in pcap format, stamped with virtual time.
//!
//! [`PcapCapture`] writes classic pcap (not pcapng) with the pcap-file crate:
//! link type `LINKTYPE_ETHERNET` (1), **nanosecond** timestamps (magic
//! `0xa1b23c4d`) equal to the simulation's virtual time since its epoch,
//! version 2.4, snap length [`SNAPLEN`]. The file is always written
//! little-endian, whatever the host, so the same run gives the same bytes —
//! and the same SHA-256, which [`PcapCapture`] computes over everything it
//! writes so reports can fingerprint a capture without reading it back.
//! Wireshark and tshark open these files directly.
//!
//! [`read_pcap`] reads any classic pcap back as `(Instant, frame)` pairs, for
//! tests and replay.
//!
//! ```
//! use rusty_sim::net::pcap::{read_pcap, PcapCapture};
//! use rusty_stack::time::Instant;
//!
//! let mut cap = PcapCapture::new(Vec::new()).unwrap();
//! cap.write(Instant::from_nanos(1_000_000_123), &[0u8; 60]).unwrap();
//! let (bytes, summary) = cap.finish().unwrap();
//! assert_eq!(summary.frames, 1);
//! assert_eq!(summary.bytes, bytes.len() as u64);
//! let frames = read_pcap(&bytes).unwrap();
//! assert_eq!(frames, vec![(Instant::from_nanos(1_000_000_123), vec![0u8; 60])]);
//! ```

use std::io::{self, Write};

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::{DataLink, Endianness, PcapError, TsResolution};
use rusty_stack::time::Instant;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The snap length written in the file header (tcpdump's default). Longer
/// frames are truncated to it in the file, with their original length kept.
pub const SNAPLEN: u32 = 262_144;

/// A writer that counts and hashes every byte that passes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// What a capture wrote: for reports and regression checks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CaptureSummary {
    /// Frames written.
    pub frames: u64,
    /// Bytes written, pcap header included.
    pub bytes: u64,
    /// SHA-256 of the bytes written, in lowercase hex.
    pub sha256: String,
}

/// A pcap file being written: Ethernet frames with nanosecond virtual-time
/// stamps. See the [module documentation](self).
pub struct PcapCapture<W: Write> {
    writer: PcapWriter<HashingWriter<W>>,
    frames: u64,
}

impl<W: Write> std::fmt::Debug for PcapCapture<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapCapture")
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

/// Turns a pcap-file error into an I/O error, keeping I/O errors as they are.
fn io_error(e: PcapError) -> io::Error {
    match e {
        PcapError::IoError(e) => e,
        e => io::Error::new(io::ErrorKind::InvalidData, e),
    }
}

impl<W: Write> PcapCapture<W> {
    /// Starts a capture on `writer`, writing the 24-byte file header.
    pub fn new(writer: W) -> io::Result<Self> {
        let header = PcapHeader {
            version_major: 2,
            version_minor: 4,
            ts_correction: 0,
            ts_accuracy: 0,
            snaplen: SNAPLEN,
            datalink: DataLink::ETHERNET,
            ts_resolution: TsResolution::NanoSecond,
            endianness: Endianness::Little,
        };
        let hashing = HashingWriter {
            inner: writer,
            hasher: Sha256::new(),
            bytes: 0,
        };
        let writer = PcapWriter::with_header(hashing, header).map_err(io_error)?;
        Ok(PcapCapture { writer, frames: 0 })
    }

    /// Writes one Ethernet frame (without FCS) seen at virtual time `at`.
    /// Fails for times past year 2106 of the epoch (pcap stores seconds in
    /// 32 bits) and on I/O errors.
    pub fn write(&mut self, at: Instant, frame: &[u8]) -> io::Result<()> {
        let orig_len = u32::try_from(frame.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame over 4 GiB"))?;
        let kept = &frame[..frame.len().min(SNAPLEN as usize)];
        let ts = std::time::Duration::from_nanos(at.as_nanos());
        self.writer
            .write_packet(&PcapPacket::new(ts, orig_len, kept))
            .map_err(io_error)?;
        self.frames += 1;
        Ok(())
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Flushes the writer and returns it with the summary of the capture
    /// (the SHA-256 covers every byte written, header included).
    pub fn finish(self) -> io::Result<(W, CaptureSummary)> {
        let mut hashing = self.writer.into_writer();
        hashing.flush()?;
        let summary = CaptureSummary {
            frames: self.frames,
            bytes: hashing.bytes,
            sha256: hex(&hashing.hasher.finalize()),
        };
        Ok((hashing.inner, summary))
    }
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a classic pcap file (any timestamp resolution or byte order) into
/// `(time, frame)` pairs, the time being the stamp in nanoseconds since the
/// epoch. Frames truncated by the snap length come back truncated (an
/// original length over the snap length is accepted, as Wireshark does).
pub fn read_pcap(bytes: &[u8]) -> io::Result<Vec<(Instant, Vec<u8>)>> {
    let invalid = |msg: &str| io::Error::new(io::ErrorKind::InvalidData, msg.to_string());
    let mut reader = PcapReader::new(bytes).map_err(io_error)?;
    let frac_scale = match reader.header().ts_resolution {
        TsResolution::MicroSecond => 1_000,
        TsResolution::NanoSecond => 1,
    };
    let mut frames = Vec::new();
    while let Some(packet) = reader.next_raw_packet() {
        let packet = packet.map_err(io_error)?;
        let frac = u64::from(packet.ts_frac) * frac_scale;
        if frac >= 1_000_000_000 {
            return Err(invalid("pcap timestamp fraction of a second out of range"));
        }
        if packet.incl_len > packet.orig_len {
            return Err(invalid("pcap record longer than its original length"));
        }
        let ns = u64::from(packet.ts_sec) * 1_000_000_000 + frac;
        frames.push((Instant::from_nanos(ns), packet.data.into_owned()));
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid Ethernet/IPv4/UDP frame with correct checksums.
    fn udp_frame(n: u8, payload_len: usize) -> Vec<u8> {
        let builder = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(1000 + u16::from(n), 7);
        let payload: Vec<u8> = (0..payload_len).map(|i| i as u8 ^ n).collect();
        let mut frame = Vec::with_capacity(builder.size(payload.len()));
        builder.write(&mut frame, &payload).unwrap();
        frame
    }

    fn capture(frames: &[(Instant, Vec<u8>)]) -> (Vec<u8>, CaptureSummary) {
        let mut cap = PcapCapture::new(Vec::new()).unwrap();
        for (at, f) in frames {
            cap.write(*at, f).unwrap();
        }
        assert_eq!(cap.frames(), frames.len() as u64);
        cap.finish().unwrap()
    }

    #[test]
    fn round_trip_keeps_times_and_bytes() {
        let frames: Vec<_> = (0..20u8)
            .map(|i| {
                let at = Instant::from_nanos(u64::from(i) * 1_000_000_007 + 3);
                (at, udp_frame(i, usize::from(i) * 50))
            })
            .collect();
        let (bytes, summary) = capture(&frames);
        assert_eq!(read_pcap(&bytes).unwrap(), frames);
        assert_eq!(summary.frames, 20);
        assert_eq!(summary.bytes, bytes.len() as u64);
        let expected = 24 + frames.iter().map(|(_, f)| 16 + f.len()).sum::<usize>();
        assert_eq!(bytes.len(), expected);
    }

    #[test]
    fn header_is_nanosecond_ethernet_little_endian() {
        let (bytes, _) = capture(&[]);
        assert_eq!(bytes.len(), 24);
        let word = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
        assert_eq!(word(0), 0xa1b2_3c4d, "nanosecond magic");
        assert_eq!(&bytes[4..8], &[2, 0, 4, 0], "version 2.4");
        assert_eq!(word(16), SNAPLEN);
        assert_eq!(word(20), 1, "LINKTYPE_ETHERNET");
    }

    #[test]
    fn sha256_covers_the_bytes_written_and_is_deterministic() {
        let frames = vec![(Instant::from_micros(5), udp_frame(1, 100))];
        let (bytes, summary) = capture(&frames);
        assert_eq!(summary.sha256, hex(&Sha256::digest(&bytes)));
        assert_eq!(summary.sha256.len(), 64);
        assert_eq!(capture(&frames).1, summary);
        let other = vec![(Instant::from_micros(6), udp_frame(1, 100))];
        assert_ne!(capture(&other).1.sha256, summary.sha256);
    }

    #[test]
    fn every_frame_parses_as_ethernet_ipv4_udp() {
        let frames: Vec<_> = (0..10u8)
            .map(|i| {
                (
                    Instant::from_micros(u64::from(i)),
                    udp_frame(i, 18 + usize::from(i)),
                )
            })
            .collect();
        let (bytes, _) = capture(&frames);
        for (_, frame) in read_pcap(&bytes).unwrap() {
            let sliced = etherparse::SlicedPacket::from_ethernet(&frame).unwrap();
            assert!(matches!(sliced.net, Some(etherparse::NetSlice::Ipv4(_))));
            assert!(matches!(
                sliced.transport,
                Some(etherparse::TransportSlice::Udp(_))
            ));
        }
    }

    #[test]
    fn long_frames_are_truncated_to_the_snap_length() {
        let big = vec![0xabu8; SNAPLEN as usize + 10];
        let (bytes, _) = capture(&[(Instant::ZERO, big)]);
        let orig = u32::from_le_bytes(bytes[24 + 12..24 + 16].try_into().unwrap());
        assert_eq!(orig, SNAPLEN + 10);
        let back = read_pcap(&bytes).unwrap();
        assert_eq!(back[0].1.len(), SNAPLEN as usize);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(read_pcap(&[1, 2, 3]).is_err());
        assert!(read_pcap(&[0u8; 24]).is_err());
        let mut cap = PcapCapture::new(Vec::new()).unwrap();
        // Seconds past u32::MAX cannot be stored.
        assert!(cap.write(Instant::from_secs(1 << 33), &[0; 60]).is_err());
    }
}
