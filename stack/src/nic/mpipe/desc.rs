//! The mPIPE descriptor layouts the backend reads and writes, bit for bit
//! as in the gxio header (`shared/mpipe.md` §2): the 64-byte ingress
//! descriptor ([`IDesc`]), the 16-byte egress descriptor ([`EDesc`]) and
//! the 8-byte buffer descriptor ([`BDesc`], which is also idesc word 7 and
//! edesc word 1). Plain words with accessors; no `unsafe`.

/// Bits `at..at + len` of `word`.
const fn bits(word: u64, at: u32, len: u32) -> u64 {
    (word >> at) & ((1u64 << len) - 1)
}

/// `word` with bits `at..at + len` set to `value` (truncated to `len` bits).
const fn with_bits(word: u64, at: u32, len: u32, value: u64) -> u64 {
    let mask = ((1u64 << len) - 1) << at;
    (word & !mask) | ((value << at) & mask)
}

/// `c` of a buffer descriptor: the last (or only) buffer of a packet.
pub const C_UNCHAINED: u64 = 0;
/// `c`: another buffer follows (its bdesc is in this buffer's first 8 bytes).
pub const C_CHAINED: u64 = 1;
/// `c`: not ready (a pop that must be retried).
pub const C_NOT_RDY: u64 = 2;
/// `c`: no buffer (an empty stack, or the end of a chain cut short).
pub const C_INVALID: u64 = 3;

/// `gxio_mpipe_bdesc_t`: a buffer, its stack and size class, and whether a
/// packet continues in another buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(transparent)]
pub struct BDesc(pub u64);

impl BDesc {
    /// A descriptor of the buffer byte at `addr` (the low 7 bits are the
    /// offset in the 128-byte-aligned buffer), on `stack`, of size class
    /// `size`, with `c` and `hwb` as given.
    pub fn new(addr: u64, stack: u32, size: usize, c: u64, hwb: bool) -> BDesc {
        let mut w = with_bits(0, 0, 42, addr);
        w = with_bits(w, 48, 5, u64::from(stack));
        w = with_bits(w, 58, 1, u64::from(hwb));
        w = with_bits(w, 59, 3, size as u64);
        BDesc(with_bits(w, 62, 2, c))
    }

    /// Bits 0–41: the byte address (sign-extended from 42 bits).
    pub fn va(self) -> u64 {
        let raw = bits(self.0, 0, 42);
        ((raw << 22) as i64 >> 22) as u64
    }

    /// Bits 48–52: the buffer stack.
    pub fn stack_idx(self) -> u32 {
        bits(self.0, 48, 5) as u32
    }

    /// Bit 58: the eDMA returns the buffer to its stack after sending.
    pub fn hwb(self) -> bool {
        bits(self.0, 58, 1) == 1
    }

    /// Bits 59–61: the size class (index into the mPIPE buffer sizes).
    pub fn size(self) -> usize {
        bits(self.0, 59, 3) as usize
    }

    /// Bits 62–63: [`C_UNCHAINED`], [`C_CHAINED`], [`C_NOT_RDY`] or
    /// [`C_INVALID`].
    pub fn c(self) -> u64 {
        bits(self.0, 62, 2)
    }

    /// The descriptor names a buffer (`c` is unchained or chained).
    pub fn is_valid(self) -> bool {
        self.c() == C_UNCHAINED || self.c() == C_CHAINED
    }
}

/// `gxio_mpipe_idesc_t`: what the iDMA reports for a received packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(8))]
pub struct IDesc {
    /// The eight 64-bit words.
    pub words: [u64; 8],
}

impl IDesc {
    /// w0 bits 0–7: the NotifRing it was delivered to.
    pub fn notif_ring(&self) -> u32 {
        bits(self.words[0], 0, 8) as u32
    }

    /// w0 bits 8–12: the ingress channel.
    pub fn channel(&self) -> u32 {
        bits(self.words[0], 8, 5) as u32
    }

    /// w0 bits 16–29: bytes written (the packet's length).
    pub fn l2_size(&self) -> usize {
        bits(self.words[0], 16, 14) as usize
    }

    /// w0 bit 55: the iDMA ran out of buffers (the chain ends early).
    pub fn be(&self) -> bool {
        bits(self.words[0], 55, 1) == 1
    }

    /// w0 bits 32–44: the load-balancer bucket.
    pub fn bucket_id(&self) -> u32 {
        bits(self.words[0], 32, 13) as u32
    }

    /// w1 bits 32–63 (`custom0`): the classifier's flow hash.
    pub fn flow_hash(&self) -> u32 {
        bits(self.words[1], 32, 32) as u32
    }

    /// Word 7: the first buffer of the packet.
    pub fn first_buffer(&self) -> BDesc {
        BDesc(self.words[7])
    }
}

/// `gxio_mpipe_edesc_t`: one buffer's part of a packet to send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(8))]
pub struct EDesc {
    /// Word 0 (flags, size, checksum) and word 1 (the buffer, as a bdesc).
    pub words: [u64; 2],
}

impl EDesc {
    /// A descriptor sending `len` bytes from the buffer `bdesc` names;
    /// `bound` marks the packet's last descriptor.
    pub fn new(bdesc: BDesc, len: usize, bound: bool) -> EDesc {
        let mut w0 = with_bits(0, 16, 14, len as u64);
        w0 = with_bits(w0, 11, 1, u64::from(bound));
        EDesc {
            words: [w0, bdesc.0],
        }
    }

    /// Asks the eDMA to compute a ones'-complement checksum: the sum from
    /// byte `start` of this descriptor to the end of the packet, plus
    /// `seed` (host order; stored in network order), complemented and
    /// written big-endian at byte `dest`.
    pub fn with_checksum(mut self, start: u8, dest: u8, seed: u16) -> EDesc {
        let mut w0 = with_bits(self.words[0], 8, 1, 1);
        w0 = with_bits(w0, 32, 8, u64::from(dest));
        w0 = with_bits(w0, 40, 8, u64::from(start));
        w0 = with_bits(w0, 48, 16, u64::from(seed.swap_bytes()));
        self.words[0] = w0;
        self
    }

    /// w0 bits 16–29: bytes of this descriptor.
    pub fn xfer_size(&self) -> usize {
        bits(self.words[0], 16, 14) as usize
    }

    /// w0 bit 11: the last descriptor of a packet.
    pub fn bound(&self) -> bool {
        bits(self.words[0], 11, 1) == 1
    }

    /// w0 bit 8: a checksum is computed.
    pub fn csum(&self) -> bool {
        bits(self.words[0], 8, 1) == 1
    }

    /// Word 1: the buffer.
    pub fn bdesc(&self) -> BDesc {
        BDesc(self.words[1])
    }
}

/// The largest `xfer_size` (14 bits).
pub const MAX_XFER: usize = (1 << 14) - 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bdesc_fields_round_trip() {
        let b = BDesc::new(0x123_4567_8980 + 2, 17, 4, C_CHAINED, true);
        assert_eq!(b.va(), 0x123_4567_8982);
        assert_eq!(
            (b.stack_idx(), b.size(), b.c(), b.hwb()),
            (17, 4, C_CHAINED, true)
        );
        assert!(b.is_valid());
        assert!(!BDesc(C_INVALID << 62).is_valid());
        // Bit 41 set: a sign-extended (negative) address.
        assert_eq!(BDesc(1 << 41).va(), 0xFFFF_FE00_0000_0000);
        // Exact bit positions from the fact sheet.
        assert_eq!(BDesc::new(0, 1, 0, 0, false).0, 1 << 48);
        assert_eq!(BDesc::new(0, 0, 7, 0, false).0, 7 << 59);
        assert_eq!(BDesc::new(0, 0, 0, 0, true).0, 1 << 58);
        assert_eq!(BDesc::new(0, 0, 0, C_INVALID, false).0, 3 << 62);
    }

    #[test]
    fn edesc_fields() {
        let b = BDesc::new(0x1000, 3, 4, C_UNCHAINED, true);
        let e = EDesc::new(b, 1514, true);
        assert_eq!(e.words[0], (1514 << 16) | (1 << 11));
        assert_eq!((e.xfer_size(), e.bound(), e.csum()), (1514, true, false));
        assert_eq!(e.bdesc(), b);
        let c = e.with_checksum(34, 50, 0x1234);
        assert!(c.csum());
        assert_eq!(bits(c.words[0], 40, 8), 34);
        assert_eq!(bits(c.words[0], 32, 8), 50);
        assert_eq!(bits(c.words[0], 48, 16), 0x3412, "network order");
    }

    #[test]
    fn idesc_fields() {
        let mut d = IDesc::default();
        d.words[0] = 3 | (5 << 8) | (1514 << 16) | (77 << 32) | (1 << 55);
        d.words[1] = 0xdead_beef << 32;
        d.words[7] = BDesc::new(0x8002, 1, 4, C_UNCHAINED, true).0;
        assert_eq!((d.notif_ring(), d.channel(), d.l2_size()), (3, 5, 1514));
        assert_eq!(
            (d.bucket_id(), d.be(), d.flow_hash()),
            (77, true, 0xdead_beef)
        );
        assert_eq!(d.first_buffer().va(), 0x8002);
        assert_eq!(core::mem::size_of::<IDesc>(), 64);
        assert_eq!(core::mem::size_of::<EDesc>(), 16);
        assert_eq!(core::mem::size_of::<BDesc>(), 8);
    }
}
