//! `gxio_mpipe_idesc_t`: the 64-byte ingress descriptor, its `dest`
//! values, and the helpers Tilera's header defines `static inline`.

use crate::bits::{bdesc_word, field, flag};

/// Values of the idesc `dest` field (bits 50–51 of word 0).
pub mod dest {
    /// The packet was dropped.
    pub const DROP: u8 = 0;
    /// The packet was delivered to buffers and a NotifRing.
    pub const DELIVER: u8 = 1;
    /// Only the descriptor was delivered.
    pub const DESCRIPTOR_ONLY: u8 = 2;
}

/// Value of the custom1 `status` byte that marks a bad packet (e.g. a bad
/// IPv4 header checksum).
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
        notif_ring, set_notif_ring, words[0], 0, 8, u8);
    field!(/// w0 bits 8–12: the channel.
        channel, set_channel, words[0], 8, 5, u8);
    flag!(/// w0 bit 14: MAC FIFO overrun.
        me, set_me, words[0], 14);
    flag!(/// w0 bit 15: truncated (iPkt buffer full).
        tr, set_tr, words[0], 15);
    field!(/// w0 bits 16–29: bytes written (the transfer size).
        l2_size, set_l2_size, words[0], 16, 14, u32);
    flag!(/// w0 bit 30: CRC / L2 error.
        ce, set_ce, words[0], 30);
    flag!(/// w0 bit 31: cut-through.
        ct, set_ct, words[0], 31);
    field!(/// w0 bits 32–44: the bucket.
        bucket_id, set_bucket_id, words[0], 32, 13, u16);
    flag!(/// w0 bit 48: an L4 checksum was computed (see `csum_seed_val`).
        cs, set_cs, words[0], 48);
    flag!(/// w0 bit 49: the classifier chose the ring (no bucket credit).
        nr, set_nr, words[0], 49);
    field!(/// w0 bits 50–51: destination ([`dest`]).
        dest, set_dest, words[0], 50, 2, u8);
    flag!(/// w0 bit 52: sequence number valid.
        sq, set_sq, words[0], 52);
    flag!(/// w0 bit 53: a timestamp was inserted (word 6).
        ts, set_ts, words[0], 53);
    flag!(/// w0 bit 54: ps.
        ps, set_ps, words[0], 54);
    flag!(/// w0 bit 55: out of buffers (the chain ends early).
        be, set_be, words[0], 55);
    field!(/// w0 bits 56–60: counter 0.
        ctr0, set_ctr0, words[0], 56, 5, u8);
    flag!(/// w0 bit 63: MDE software instance bit.
        sw_inst, set_sw_inst, words[0], 63);
    field!(/// w1 bits 0–4: counter 1.
        ctr1, set_ctr1, words[1], 0, 5, u8);
    field!(/// w1 bits 8–15: where the computed checksum starts.
        csum_start, set_csum_start, words[1], 8, 8, u8);
    field!(/// w1 bits 16–31: the computed ones'-complement sum (0xFFFF = good).
        csum_seed_val, set_csum_seed_val, words[1], 16, 16, u16);
    field!(/// w1 bits 32–63: custom0, the flow hash (byte 0x0C).
        custom0, set_custom0, words[1], 32, 32, u32);
    field!(/// w2: custom1 (see the `c1_*` accessors).
        custom1, set_custom1, words[2], 0, 64, u64);
    field!(/// w3: custom2.
        custom2, set_custom2, words[3], 0, 64, u64);
    field!(/// w4: custom3.
        custom3, set_custom3, words[4], 0, 64, u64);
    field!(/// w5 bits 0–15: group sequence number.
        gp_sqn, set_gp_sqn, words[5], 0, 16, u16);
    field!(/// w5 bits 16–63: packet sequence number.
        packet_sqn, set_packet_sqn, words[5], 16, 48, u64);
    field!(/// w6 bits 0–31: timestamp nanoseconds.
        time_stamp_ns, set_time_stamp_ns, words[6], 0, 32, u32);
    field!(/// w6 bits 32–63: timestamp seconds.
        time_stamp_sec, set_time_stamp_sec, words[6], 32, 32, u32);
    field!(/// custom1 bits 0–15: VLAN id (0xFFFF when none).
        c1_vlan, set_c1_vlan, words[2], 0, 16, u16);
    field!(/// custom1 bits 16–31: ethertype.
        c1_ethertype, set_c1_ethertype, words[2], 16, 16, u16);
    field!(/// custom1 bits 32–39: L2 offset (0 unless a custom header).
        c1_l2_offset, set_c1_l2_offset, words[2], 32, 8, u8);
    field!(/// custom1 bits 40–47: L3 offset.
        c1_l3_offset, set_c1_l3_offset, words[2], 40, 8, u8);
    field!(/// custom1 bits 48–55: L4 offset (0 for non-IP).
        c1_l4_offset, set_c1_l4_offset, words[2], 48, 8, u8);
    field!(/// custom1 bits 56–63: status ([`STATUS_BAD`] = bad).
        c1_status, set_c1_status, words[2], 56, 8, u8);

    bdesc_word!(7);

    /// The flow hash (custom0).
    pub const fn flow_hash(&self) -> u32 {
        self.custom0()
    }
    /// `gxio_mpipe_idesc_get_xfer_size`: `l2_size`.
    pub const fn xfer_size(&self) -> usize {
        self.l2_size() as usize
    }
    /// `gxio_mpipe_idesc_get_l2_start`: `va + l2_offset`.
    pub const fn l2_start(&self) -> i64 {
        self.va() + self.c1_l2_offset() as i64
    }
    /// `gxio_mpipe_idesc_get_l2_length`: `l2_size - l2_offset`.
    pub const fn l2_length(&self) -> usize {
        self.xfer_size()
            .saturating_sub(self.c1_l2_offset() as usize)
    }
    /// `gxio_mpipe_idesc_has_error`: any of me, tr, ce, be.
    pub const fn has_error(&self) -> bool {
        self.me() || self.tr() || self.ce() || self.be()
    }
    /// `gxio_mpipe_idesc_is_bad`: an error, a bad status, or a computed
    /// checksum that does not verify.
    pub const fn is_bad(&self) -> bool {
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
