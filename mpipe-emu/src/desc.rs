//! Bit-exact descriptor layouts (fact sheet §2): the 64-byte ingress
//! descriptor [`IDesc`], the 16-byte egress descriptor [`EDesc`] and the
//! 8-byte buffer descriptor [`BDesc`]. Bits are little-endian: bit 0 is the
//! least significant bit of a 64-bit word.

/// Extracts `width` bits of `word` starting at bit `lo`.
#[inline]
const fn get_bits(word: u64, lo: u32, width: u32) -> u64 {
    (word >> lo) & mask(width)
}

/// A mask of the low `width` bits.
#[inline]
const fn mask(width: u32) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    }
}

/// Returns `word` with `width` bits at `lo` replaced by `value` (truncated).
#[inline]
const fn set_bits(word: u64, lo: u32, width: u32, value: u64) -> u64 {
    (word & !(mask(width) << lo)) | ((value & mask(width)) << lo)
}

/// Sign-extends a 42-bit value.
#[inline]
const fn sign_extend_42(v: u64) -> i64 {
    ((v << 22) as i64) >> 22
}

macro_rules! field {
    ($(#[$doc:meta])* $get:ident, $set:ident, $w:expr, $lo:expr, $width:expr, $ty:ty) => {
        $(#[$doc])*
        #[inline]
        pub fn $get(&self) -> $ty {
            get_bits(self.words[$w], $lo, $width) as $ty
        }
        #[doc = concat!("Sets the field read by [`Self::", stringify!($get), "`] (value truncated to the field width).")]
        #[inline]
        pub fn $set(&mut self, v: $ty) {
            self.words[$w] = set_bits(self.words[$w], $lo, $width, v as u64);
        }
    };
}

macro_rules! flag {
    ($(#[$doc:meta])* $get:ident, $set:ident, $w:expr, $bit:expr) => {
        $(#[$doc])*
        #[inline]
        pub fn $get(&self) -> bool {
            get_bits(self.words[$w], $bit, 1) != 0
        }
        #[doc = concat!("Sets the flag read by [`Self::", stringify!($get), "`].")]
        #[inline]
        pub fn $set(&mut self, v: bool) {
            self.words[$w] = set_bits(self.words[$w], $bit, 1, v as u64);
        }
    };
}

/// Values of the 2-bit chaining field `c` of a buffer descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Chain {
    /// 0: a valid buffer, the last (or only) one of its packet.
    Unchained = 0,
    /// 1: a valid buffer whose first 8 bytes hold the next buffer's bdesc.
    Chained = 1,
    /// 2: the buffer stack manager is not ready (pop is retried).
    NotRdy = 2,
    /// 3: no buffer (empty stack, or the end of a broken chain).
    Invalid = 3,
}

impl Chain {
    /// Decodes the 2-bit field.
    pub const fn from_bits(v: u64) -> Chain {
        match v & 3 {
            0 => Chain::Unchained,
            1 => Chain::Chained,
            2 => Chain::NotRdy,
            _ => Chain::Invalid,
        }
    }
}

/// `gxio_mpipe_bdesc_t` (`MPIPE_BSM_REGION_VAL_t`): one buffer, 8 bytes.
///
/// | bits | field |
/// |---|---|
/// | 0–6 | offset of the data in the buffer (rusty's reading of the reserved bits) |
/// | 7–41 | address >> 7 |
/// | 48–52 | stack_idx |
/// | 56–57 | inst |
/// | 58 | hwb |
/// | 59–61 | size enum |
/// | 62–63 | c |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
#[repr(transparent)]
pub struct BDesc(pub u64);

impl BDesc {
    /// A descriptor of the buffer holding byte address `va`.
    pub fn new(va: i64, stack_idx: u8, size: u8, chain: Chain) -> BDesc {
        let mut b = BDesc(0);
        b.set_va(va);
        b.set_stack_idx(stack_idx);
        b.set_size(size);
        b.set_hwb(true);
        b.set_c(chain);
        b
    }

    /// The full signed 42-bit byte address (bits 0–41, offset included).
    pub fn va(&self) -> i64 {
        sign_extend_42(get_bits(self.0, 0, 42))
    }
    /// Sets bits 0–41 to the byte address `va`.
    pub fn set_va(&mut self, va: i64) {
        self.0 = set_bits(self.0, 0, 42, va as u64);
    }
    /// The 128-byte aligned address of the buffer itself.
    pub fn buffer_va(&self) -> i64 {
        self.va() & !127
    }
    /// The offset of the data in the buffer (low 7 address bits).
    pub fn offset(&self) -> usize {
        get_bits(self.0, 0, 7) as usize
    }
    /// The buffer stack this buffer belongs to (bits 48–52).
    pub fn stack_idx(&self) -> u8 {
        get_bits(self.0, 48, 5) as u8
    }
    /// Sets bits 48–52.
    pub fn set_stack_idx(&mut self, v: u8) {
        self.0 = set_bits(self.0, 48, 5, v as u64);
    }
    /// The mPIPE instance (bits 56–57).
    pub fn inst(&self) -> u8 {
        get_bits(self.0, 56, 2) as u8
    }
    /// Sets bits 56–57.
    pub fn set_inst(&mut self, v: u8) {
        self.0 = set_bits(self.0, 56, 2, v as u64);
    }
    /// Bit 58: hardware-owned buffer (returned by the eDMA after sending).
    pub fn hwb(&self) -> bool {
        get_bits(self.0, 58, 1) != 0
    }
    /// Sets bit 58.
    pub fn set_hwb(&mut self, v: bool) {
        self.0 = set_bits(self.0, 58, 1, v as u64);
    }
    /// The buffer size enum (bits 59–61).
    pub fn size(&self) -> u8 {
        get_bits(self.0, 59, 3) as u8
    }
    /// Sets bits 59–61.
    pub fn set_size(&mut self, v: u8) {
        self.0 = set_bits(self.0, 59, 3, v as u64);
    }
    /// The chaining field (bits 62–63).
    pub fn c(&self) -> Chain {
        Chain::from_bits(get_bits(self.0, 62, 2))
    }
    /// Sets bits 62–63.
    pub fn set_c(&mut self, c: Chain) {
        self.0 = set_bits(self.0, 62, 2, c as u64);
    }
    /// Whether `c` marks a buffer that software must return (0 or 1).
    pub fn is_valid(&self) -> bool {
        matches!(self.c(), Chain::Unchained | Chain::Chained)
    }
}

/// Values of the idesc `dest` field (bits 50–51 of word 0).
pub mod dest {
    /// The packet was dropped.
    pub const DROP: u8 = 0;
    /// The packet was delivered to buffers and a NotifRing.
    pub const DELIVER: u8 = 1;
    /// Only the descriptor was delivered.
    pub const DESCRIPTOR_ONLY: u8 = 2;
}

/// Value of the custom1 `status` byte that marks a bad packet.
pub const STATUS_BAD: u8 = 0x80;

/// `gxio_mpipe_idesc_t` (`MPIPE_PDESC_t`): an ingress descriptor, 64 bytes.
///
/// Field positions follow the fact sheet's table exactly; see the accessor
/// docs for the word and bits of each field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
#[repr(C, align(8))]
pub struct IDesc {
    /// The eight little-endian 64-bit words.
    pub words: [u64; 8],
}

impl IDesc {
    field!(/// w0 bits 0–7: the NotifRing.
        notif_ring, set_notif_ring, 0, 0, 8, u8);
    field!(/// w0 bits 8–12: the channel.
        channel, set_channel, 0, 8, 5, u8);
    flag!(/// w0 bit 14: MAC FIFO overrun.
        me, set_me, 0, 14);
    flag!(/// w0 bit 15: truncated (iPkt buffer full).
        tr, set_tr, 0, 15);
    field!(/// w0 bits 16–29: bytes written (the transfer size).
        l2_size, set_l2_size, 0, 16, 14, u32);
    flag!(/// w0 bit 30: CRC / L2 error.
        ce, set_ce, 0, 30);
    flag!(/// w0 bit 31: cut-through.
        ct, set_ct, 0, 31);
    field!(/// w0 bits 32–44: the bucket.
        bucket_id, set_bucket_id, 0, 32, 13, u16);
    flag!(/// w0 bit 48: an L4 checksum was computed (see `csum_seed_val`).
        cs, set_cs, 0, 48);
    flag!(/// w0 bit 49: the classifier chose the ring (no bucket credit).
        nr, set_nr, 0, 49);
    field!(/// w0 bits 50–51: destination ([`dest`]).
        dest, set_dest, 0, 50, 2, u8);
    flag!(/// w0 bit 52: sequence number valid.
        sq, set_sq, 0, 52);
    flag!(/// w0 bit 53: a timestamp was inserted (word 6).
        ts, set_ts, 0, 53);
    flag!(/// w0 bit 54: ps.
        ps, set_ps, 0, 54);
    flag!(/// w0 bit 55: out of buffers.
        be, set_be, 0, 55);
    field!(/// w0 bits 56–60: counter 0.
        ctr0, set_ctr0, 0, 56, 5, u8);
    flag!(/// w0 bit 63: MDE software instance bit.
        sw_inst, set_sw_inst, 0, 63);
    field!(/// w1 bits 0–4: counter 1.
        ctr1, set_ctr1, 1, 0, 5, u8);
    field!(/// w1 bits 8–15: where the computed checksum starts.
        csum_start, set_csum_start, 1, 8, 8, u8);
    field!(/// w1 bits 16–31: the computed ones'-complement sum (0xFFFF = good).
        csum_seed_val, set_csum_seed_val, 1, 16, 16, u16);
    field!(/// w1 bits 32–63: custom0, the flow hash (byte 0x0C).
        custom0, set_custom0, 1, 32, 32, u32);
    field!(/// w2: custom1 (see the `c1_*` accessors).
        custom1, set_custom1, 2, 0, 64, u64);
    field!(/// w3: custom2.
        custom2, set_custom2, 3, 0, 64, u64);
    field!(/// w4: custom3.
        custom3, set_custom3, 4, 0, 64, u64);
    field!(/// w5 bits 0–15: group sequence number.
        gp_sqn, set_gp_sqn, 5, 0, 16, u16);
    field!(/// w5 bits 16–63: packet sequence number.
        packet_sqn, set_packet_sqn, 5, 16, 48, u64);
    field!(/// w6 bits 0–31: timestamp nanoseconds.
        time_stamp_ns, set_time_stamp_ns, 6, 0, 32, u32);
    field!(/// w6 bits 32–63: timestamp seconds.
        time_stamp_sec, set_time_stamp_sec, 6, 32, 32, u32);
    field!(/// custom1 bits 0–15: VLAN id (0xFFFF when none).
        c1_vlan, set_c1_vlan, 2, 0, 16, u16);
    field!(/// custom1 bits 16–31: ethertype.
        c1_ethertype, set_c1_ethertype, 2, 16, 16, u16);
    field!(/// custom1 bits 32–39: L2 offset (0 unless a custom header).
        c1_l2_offset, set_c1_l2_offset, 2, 32, 8, u8);
    field!(/// custom1 bits 40–47: L3 offset.
        c1_l3_offset, set_c1_l3_offset, 2, 40, 8, u8);
    field!(/// custom1 bits 48–55: L4 offset (0 for non-IP).
        c1_l4_offset, set_c1_l4_offset, 2, 48, 8, u8);
    field!(/// custom1 bits 56–63: status ([`STATUS_BAD`] = bad).
        c1_status, set_c1_status, 2, 56, 8, u8);

    /// The flow hash (custom0).
    pub fn flow_hash(&self) -> u32 {
        self.custom0()
    }
    /// Word 7 as a buffer descriptor of the first buffer.
    pub fn bdesc(&self) -> BDesc {
        BDesc(self.words[7])
    }
    /// Sets word 7.
    pub fn set_bdesc(&mut self, b: BDesc) {
        self.words[7] = b.0;
    }
    /// w7 bits 0–41: the signed byte address of the first packet byte.
    pub fn va(&self) -> i64 {
        self.bdesc().va()
    }
    /// w7 bits 48–52: the first buffer's stack.
    pub fn stack_idx(&self) -> u8 {
        self.bdesc().stack_idx()
    }
    /// w7 bits 59–61: the first buffer's size enum.
    pub fn size(&self) -> u8 {
        self.bdesc().size()
    }
    /// w7 bits 62–63: chaining of the first buffer.
    pub fn c(&self) -> Chain {
        self.bdesc().c()
    }
    /// w7 bit 58 (always 1 on ingress).
    pub fn hwb(&self) -> bool {
        self.bdesc().hwb()
    }
    /// `gxio_mpipe_idesc_get_xfer_size`: `l2_size`.
    pub fn xfer_size(&self) -> usize {
        self.l2_size() as usize
    }
    /// `gxio_mpipe_idesc_get_l2_start`: `va + l2_offset`.
    pub fn l2_start(&self) -> i64 {
        self.va() + i64::from(self.c1_l2_offset())
    }
    /// `gxio_mpipe_idesc_get_l2_length`: `l2_size - l2_offset`.
    pub fn l2_length(&self) -> usize {
        self.xfer_size()
            .saturating_sub(usize::from(self.c1_l2_offset()))
    }
    /// `gxio_mpipe_idesc_has_error`: any of me, tr, ce, be.
    pub fn has_error(&self) -> bool {
        self.me() || self.tr() || self.ce() || self.be()
    }
    /// `gxio_mpipe_idesc_is_bad`: an error, a bad status, or a computed
    /// checksum that does not verify.
    pub fn is_bad(&self) -> bool {
        self.has_error()
            || self.c1_status() & STATUS_BAD != 0
            || (self.cs() && self.csum_seed_val() != 0xFFFF)
    }
    /// The descriptor as its 64 bytes (little-endian words).
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        for (chunk, w) in out.chunks_exact_mut(8).zip(self.words) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        out
    }
    /// The descriptor from its 64 bytes.
    pub fn from_bytes(b: &[u8; 64]) -> IDesc {
        let mut d = IDesc::default();
        for (w, chunk) in d.words.iter_mut().zip(b.chunks_exact(8)) {
            let mut a = [0u8; 8];
            a.copy_from_slice(chunk);
            *w = u64::from_le_bytes(a);
        }
        d
    }
}

/// `gxio_mpipe_edesc_t` (`MPIPE_EDMA_DESC_t`): an egress descriptor, 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
#[repr(C, align(8))]
pub struct EDesc {
    /// The two little-endian 64-bit words.
    pub words: [u64; 2],
}

impl EDesc {
    field!(/// w0 bit 0: generation bit (set by `put_at`).
        gen, set_gen, 0, 0, 1, u8);
    field!(/// w0 bits 1–6: eFIFO select.
        efifo_sel, set_efifo_sel, 0, 1, 6, u8);
    flag!(/// w0 bit 8: compute a checksum (see `csum_start`/`csum_dest`/`csum_seed`).
        csum, set_csum, 0, 8);
    flag!(/// w0 bit 9: no send (buffers are still returned when `hwb`).
        ns, set_ns, 0, 9);
    flag!(/// w0 bit 10: interrupt when done.
        notif, set_notif, 0, 10);
    flag!(/// w0 bit 11: the last descriptor of the packet.
        bound, set_bound, 0, 11);
    field!(/// w0 bits 16–29: bytes of this descriptor (the chain total when chained).
        xfer_size, set_xfer_size, 0, 16, 14, u32);
    field!(/// w0 bits 32–39: where the checksum goes (from the descriptor's first byte).
        csum_dest, set_csum_dest, 0, 32, 8, u8);
    field!(/// w0 bits 40–47: where the sum starts (from the descriptor's first byte).
        csum_start, set_csum_start, 0, 40, 8, u8);
    field!(/// w0 bits 48–63: the seed, in network byte order (the field holds `seed.to_be()` as read on a little-endian tile).
        csum_seed, set_csum_seed, 0, 48, 16, u16);

    /// Word 1 as a buffer descriptor.
    pub fn bdesc(&self) -> BDesc {
        BDesc(self.words[1])
    }
    /// `gxio_mpipe_edesc_set_bdesc`: copies the bdesc into word 1.
    pub fn set_bdesc(&mut self, b: BDesc) {
        self.words[1] = b.0;
    }
    /// w1 bits 0–41: the signed byte address of the data.
    pub fn va(&self) -> i64 {
        self.bdesc().va()
    }
    /// w1 bit 58: return the buffer(s) to their stack after sending.
    pub fn hwb(&self) -> bool {
        self.bdesc().hwb()
    }
    /// Sets w1 bit 58.
    pub fn set_hwb(&mut self, v: bool) {
        let mut b = self.bdesc();
        b.set_hwb(v);
        self.set_bdesc(b);
    }
    /// The seed as a host-order value (`csum_seed` is stored in network order).
    pub fn csum_seed_host(&self) -> u16 {
        self.csum_seed().swap_bytes()
    }
    /// Sets the seed from a host-order value.
    pub fn set_csum_seed_host(&mut self, seed: u16) {
        self.set_csum_seed(seed.swap_bytes());
    }
    /// `gxio_mpipe_edesc_copy_idesc`: word 1 from idesc word 7, `ns =
    /// has_error`, `bound = 1`, `xfer_size = l2_size` (forwarding a packet).
    pub fn copy_idesc(idesc: &IDesc) -> EDesc {
        let mut e = EDesc::default();
        e.words[1] = idesc.words[7];
        e.set_ns(idesc.has_error());
        e.set_bound(true);
        e.set_xfer_size(idesc.l2_size());
        e
    }
}

const _: () = assert!(std::mem::size_of::<IDesc>() == 64);
const _: () = assert!(std::mem::size_of::<EDesc>() == 16);
const _: () = assert!(std::mem::size_of::<BDesc>() == 8);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_helpers() {
        assert_eq!(set_bits(0, 16, 14, 0x3FFF), 0x3FFF << 16);
        assert_eq!(set_bits(u64::MAX, 16, 14, 0), !(0x3FFF << 16));
        assert_eq!(get_bits(0xF0, 4, 4), 0xF);
        assert_eq!(sign_extend_42(1 << 41), -(1i64 << 41));
        assert_eq!(sign_extend_42((1 << 41) - 1), (1i64 << 41) - 1);
    }
}
