//! Bit-field helpers over 64-bit words, and the macros that turn a
//! documented field position into a getter/setter pair.

/// A mask of the low `width` bits.
#[inline]
pub(crate) const fn mask(width: u32) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    }
}

/// Extracts `width` bits of `word` starting at bit `lo`.
#[inline]
pub(crate) const fn get_bits(word: u64, lo: u32, width: u32) -> u64 {
    (word >> lo) & mask(width)
}

/// Returns `word` with `width` bits at `lo` replaced by `value` (truncated).
#[inline]
pub(crate) const fn set_bits(word: u64, lo: u32, width: u32, value: u64) -> u64 {
    (word & !(mask(width) << lo)) | ((value & mask(width)) << lo)
}

/// Sign-extends a 42-bit value (the descriptors' `va`).
#[inline]
pub(crate) const fn sign_extend_42(v: u64) -> i64 {
    ((v << 22) as i64) >> 22
}

/// A getter and a setter of a `$width`-bit field at bit `$lo` of
/// `self.words[$w]`, read as `$ty`.
macro_rules! field {
    ($(#[$doc:meta])* $get:ident, $set:ident, $w:expr, $lo:expr, $width:expr, $ty:ty) => {
        $(#[$doc])*
        #[inline]
        pub const fn $get(&self) -> $ty {
            $crate::bits::get_bits(self.words[$w], $lo, $width) as $ty
        }
        #[doc = concat!("Sets the field read by [`Self::", stringify!($get), "`] (value truncated to the field width).")]
        #[inline]
        pub fn $set(&mut self, v: $ty) {
            self.words[$w] = $crate::bits::set_bits(self.words[$w], $lo, $width, v as u64);
        }
    };
}

/// A getter and a setter of the one-bit flag at bit `$bit` of
/// `self.words[$w]`.
macro_rules! flag {
    ($(#[$doc:meta])* $get:ident, $set:ident, $w:expr, $bit:expr) => {
        $(#[$doc])*
        #[inline]
        pub const fn $get(&self) -> bool {
            $crate::bits::get_bits(self.words[$w], $bit, 1) != 0
        }
        #[doc = concat!("Sets the flag read by [`Self::", stringify!($get), "`].")]
        #[inline]
        pub fn $set(&mut self, v: bool) {
            self.words[$w] = $crate::bits::set_bits(self.words[$w], $bit, 1, v as u64);
        }
    };
}

pub(crate) use {field, flag};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(set_bits(0, 16, 14, 0x3FFF), 0x3FFF << 16);
        assert_eq!(set_bits(0, 16, 14, 0x1_3FFF), 0x3FFF << 16, "truncated");
        assert_eq!(set_bits(u64::MAX, 16, 14, 0), !(0x3FFF << 16));
        assert_eq!(set_bits(0, 0, 64, u64::MAX), u64::MAX);
        assert_eq!(get_bits(0xF0, 4, 4), 0xF);
        assert_eq!(get_bits(u64::MAX, 0, 64), u64::MAX);
        assert_eq!(sign_extend_42(1 << 41), -(1i64 << 41));
        assert_eq!(sign_extend_42((1 << 41) - 1), (1i64 << 41) - 1);
        assert_eq!(sign_extend_42((1 << 42) - 128), -128);
    }
}
