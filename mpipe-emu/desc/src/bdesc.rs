//! `gxio_mpipe_bdesc_t`: the 8-byte buffer descriptor, and its chaining
//! field.

use crate::bits::{field, flag, get_bits, set_bits, sign_extend_42};
use crate::size::BufferSize;

/// Values of the 2-bit chaining field `c` of a buffer descriptor
/// (`GXIO_MPIPE_BDESC_C_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// Decodes the 2-bit field (bits above 2 ignored).
    pub const fn from_bits(v: u64) -> Chain {
        match v & 3 {
            0 => Chain::Unchained,
            1 => Chain::Chained,
            2 => Chain::NotRdy,
            _ => Chain::Invalid,
        }
    }
}

/// `gxio_mpipe_bdesc_t` (`MPIPE_BSM_REGION_VAL_t`): one buffer, 8 bytes;
/// also the layout of idesc word 7 and edesc word 1.
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
    /// A descriptor of the buffer holding byte address `va` (the low 7 bits
    /// are the offset in the 128-byte aligned buffer), on stack
    /// `stack_idx`, of size class `size`, chained as `chain`, with `hwb`
    /// set (the hardware returns the buffer to its stack after sending).
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
    pub const fn va(&self) -> i64 {
        sign_extend_42(get_bits(self.0, 0, 42))
    }
    /// Sets bits 0–41 to the byte address `va`.
    pub fn set_va(&mut self, va: i64) {
        self.0 = set_bits(self.0, 0, 42, va as u64);
    }
    /// The 128-byte aligned address of the buffer itself.
    pub const fn buffer_va(&self) -> i64 {
        self.va() & !127
    }
    /// The offset of the data in the buffer (low 7 address bits).
    pub const fn offset(&self) -> usize {
        get_bits(self.0, 0, 7) as usize
    }
    field!(/// Bits 48–52: the buffer stack this buffer belongs to.
        stack_idx, set_stack_idx, 0, 48, 5, u8);
    field!(/// Bits 56–57: the mPIPE instance.
        inst, set_inst, 0, 56, 2, u8);
    flag!(/// Bit 58: hardware-owned buffer (returned by the eDMA after sending).
        hwb, set_hwb, 0, 58);
    field!(/// Bits 59–61: the buffer size enum.
        size, set_size, 0, 59, 3, u8);
    /// The size class bits 59–61 name.
    pub const fn buffer_size(&self) -> BufferSize {
        BufferSize::from_bits(self.size())
    }
    /// The chaining field (bits 62–63).
    pub const fn c(&self) -> Chain {
        Chain::from_bits(get_bits(self.0, 62, 2))
    }
    /// Sets bits 62–63.
    pub fn set_c(&mut self, c: Chain) {
        self.0 = set_bits(self.0, 62, 2, c as u64);
    }
    /// Whether `c` names a buffer (unchained or chained), which software
    /// must return.
    pub const fn is_valid(&self) -> bool {
        matches!(self.c(), Chain::Unchained | Chain::Chained)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let b = BDesc::new(0x123_4567_8980 + 2, 17, 4, Chain::Chained);
        assert_eq!(b.va(), 0x123_4567_8982);
        assert_eq!((b.buffer_va(), b.offset()), (0x123_4567_8980, 2));
        assert_eq!(
            (b.stack_idx(), b.size(), b.c(), b.hwb(), b.inst()),
            (17, 4, Chain::Chained, true, 0)
        );
        assert_eq!(b.buffer_size(), BufferSize::B1664);
        assert!(b.is_valid());
        for c in [
            Chain::Unchained,
            Chain::Chained,
            Chain::NotRdy,
            Chain::Invalid,
        ] {
            let mut x = b;
            x.set_c(c);
            assert_eq!(x.c(), c);
            assert_eq!(Chain::from_bits(c as u64 + 4), c);
            assert_eq!(x.0 & !(3 << 62), b.0 & !(3 << 62), "only c changed");
        }
    }

    #[test]
    fn va_is_signed_42_bits() {
        assert_eq!(BDesc(1 << 41).va(), -(1 << 41));
        let mut b = BDesc(u64::MAX);
        b.set_va(0x1000);
        assert_eq!(b.va(), 0x1000);
        assert_eq!(b.0 >> 42, u64::MAX >> 42, "bits above 41 untouched");
        b.set_va(-128);
        assert_eq!((b.va(), b.buffer_va(), b.offset()), (-128, -128, 0));
        // An address wider than 42 bits is truncated to them.
        b.set_va(1 << 42);
        assert_eq!(b.va(), 0);
    }
}
