//! `gxio_mpipe_edesc_t`: the 16-byte egress descriptor.

use crate::bdesc::BDesc;
use crate::bits::{bdesc_word, field, flag};
use crate::idesc::IDesc;

/// The largest `xfer_size` of one egress descriptor (14 bits).
pub const MAX_XFER_SIZE: usize = (1 << 14) - 1;

/// `gxio_mpipe_edesc_t` (`MPIPE_EDMA_DESC_t`): an egress descriptor, 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
#[repr(C, align(8))]
pub struct EDesc {
    /// The two little-endian 64-bit words.
    pub words: [u64; 2],
}

impl EDesc {
    field!(/// w0 bit 0: generation bit (set by `put_at`).
        gen, set_gen, words[0], 0, 1, u8);
    field!(/// w0 bits 1–6: eFIFO select.
        efifo_sel, set_efifo_sel, words[0], 1, 6, u8);
    flag!(/// w0 bit 8: compute a checksum (see `csum_start`/`csum_dest`/`csum_seed`).
        csum, set_csum, words[0], 8);
    flag!(/// w0 bit 9: no send (buffers are still returned when `hwb`).
        ns, set_ns, words[0], 9);
    flag!(/// w0 bit 10: interrupt when done.
        notif, set_notif, words[0], 10);
    flag!(/// w0 bit 11: the last descriptor of the packet.
        bound, set_bound, words[0], 11);
    field!(/// w0 bits 16–29: bytes of this descriptor (the chain total when chained).
        xfer_size, set_xfer_size, words[0], 16, 14, u32);
    field!(/// w0 bits 32–39: where the checksum goes (from the descriptor's first byte).
        csum_dest, set_csum_dest, words[0], 32, 8, u8);
    field!(/// w0 bits 40–47: where the sum starts (from the descriptor's first byte).
        csum_start, set_csum_start, words[0], 40, 8, u8);
    field!(/// w0 bits 48–63: the seed, in network byte order (the field holds `seed.to_be()` as read on a little-endian tile).
        csum_seed, set_csum_seed, words[0], 48, 16, u16);

    /// A descriptor sending `xfer_size` bytes (truncated to 14 bits, see
    /// [`MAX_XFER_SIZE`]) from the buffer `bdesc` names; `bound` marks the
    /// packet's last descriptor.
    pub fn new(bdesc: BDesc, xfer_size: u32, bound: bool) -> EDesc {
        let mut e = EDesc::default();
        e.set_bdesc(bdesc);
        e.set_xfer_size(xfer_size);
        e.set_bound(bound);
        e
    }

    /// This descriptor asking the eDMA for a ones'-complement checksum: the
    /// sum from byte `start` of this descriptor to the end of the packet,
    /// plus `seed` (host order; stored in network order), complemented and
    /// written big-endian at byte `dest`.
    pub fn with_checksum(mut self, start: u8, dest: u8, seed: u16) -> EDesc {
        self.set_csum(true);
        self.set_csum_start(start);
        self.set_csum_dest(dest);
        self.set_csum_seed_host(seed);
        self
    }

    bdesc_word!(1);

    /// The seed as a host-order value (`csum_seed` is stored in network order).
    pub const fn csum_seed_host(&self) -> u16 {
        self.csum_seed().swap_bytes()
    }
    /// Sets the seed from a host-order value.
    pub fn set_csum_seed_host(&mut self, seed: u16) {
        self.set_csum_seed(seed.swap_bytes());
    }
    /// `gxio_mpipe_edesc_copy_idesc`: word 1 from idesc word 7, `ns =
    /// has_error`, `bound = 1`, `xfer_size = l2_size` (forwarding a packet).
    pub fn copy_idesc(idesc: &IDesc) -> EDesc {
        let mut e = EDesc::new(idesc.bdesc(), idesc.l2_size(), true);
        e.set_ns(idesc.has_error());
        e
    }
}
