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

/// A getter and a setter of a `$width`-bit field at bit `$lo` of the word
/// `self.words[N]` (written `words[N]`) or `self.0` (written `0`), read
/// as `$ty`.
macro_rules! field {
    ($(#[$doc:meta])* $get:ident, $set:ident, $f:tt $([$w:expr])?, $lo:expr, $width:expr, $ty:ty) => {
        $(#[$doc])*
        #[inline]
        pub const fn $get(&self) -> $ty {
            $crate::bits::get_bits(self.$f $([$w])?, $lo, $width) as $ty
        }
        #[doc = concat!("Sets the field read by [`Self::", stringify!($get), "`] (value truncated to the field width).")]
        #[inline]
        pub fn $set(&mut self, v: $ty) {
            self.$f $([$w])? = $crate::bits::set_bits(self.$f $([$w])?, $lo, $width, v as u64);
        }
    };
}

/// A getter and a setter of the one-bit flag at bit `$bit` of a word
/// (written as for [`field!`]).
macro_rules! flag {
    ($(#[$doc:meta])* $get:ident, $set:ident, $f:tt $([$w:expr])?, $bit:expr) => {
        $(#[$doc])*
        #[inline]
        pub const fn $get(&self) -> bool {
            $crate::bits::get_bits(self.$f $([$w])?, $bit, 1) != 0
        }
        #[doc = concat!("Sets the flag read by [`Self::", stringify!($get), "`].")]
        #[inline]
        pub fn $set(&mut self, v: bool) {
            self.$f $([$w])? = $crate::bits::set_bits(self.$f $([$w])?, $bit, 1, v as u64);
        }
    };
}

/// The accessors of a descriptor word that holds a buffer descriptor
/// (idesc word 7, edesc word 1): the word as a [`BDesc`] and its fields.
///
/// [`BDesc`]: crate::BDesc
macro_rules! bdesc_word {
    ($w:literal) => {
        #[doc = concat!("Word ", stringify!($w), " as a buffer descriptor.")]
        #[inline]
        pub const fn bdesc(&self) -> $crate::BDesc {
            $crate::BDesc(self.words[$w])
        }
        #[doc = concat!("Sets word ", stringify!($w), " to a buffer descriptor.")]
        #[inline]
        pub fn set_bdesc(&mut self, b: $crate::BDesc) {
            self.words[$w] = b.0;
        }
        #[doc = concat!("w", stringify!($w), " bits 0–41: the signed byte address of the (first) data byte.")]
        #[inline]
        pub const fn va(&self) -> i64 {
            self.bdesc().va()
        }
        #[doc = concat!("w", stringify!($w), " bits 48–52: the buffer's stack.")]
        #[inline]
        pub const fn stack_idx(&self) -> u8 {
            self.bdesc().stack_idx()
        }
        #[doc = concat!("w", stringify!($w), " bits 59–61: the buffer's size enum.")]
        #[inline]
        pub const fn size(&self) -> u8 {
            self.bdesc().size()
        }
        #[doc = concat!("w", stringify!($w), " bits 62–63: the buffer's chaining.")]
        #[inline]
        pub const fn c(&self) -> $crate::Chain {
            self.bdesc().c()
        }
        #[doc = concat!("w", stringify!($w), " bit 58: hardware-owned buffer (always 1 on ingress; on egress the buffers return to their stack after sending).")]
        #[inline]
        pub const fn hwb(&self) -> bool {
            self.bdesc().hwb()
        }
        #[doc = concat!("Sets w", stringify!($w), " bit 58.")]
        #[inline]
        pub fn set_hwb(&mut self, v: bool) {
            let mut b = self.bdesc();
            b.set_hwb(v);
            self.set_bdesc(b);
        }
    };
}

pub(crate) use {bdesc_word, field, flag};

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
