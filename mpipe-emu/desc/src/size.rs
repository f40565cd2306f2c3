//! The 8 buffer size classes (`gxio_mpipe_buffer_size_enum_t`): what a
//! descriptor's 3-bit `size` field names.

use core::fmt;

/// The 8 buffer size classes (`gxio_mpipe_buffer_size_enum_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum BufferSize {
    /// 0: 128 bytes.
    B128 = 0,
    /// 1: 256 bytes.
    B256 = 1,
    /// 2: 512 bytes.
    B512 = 2,
    /// 3: 1024 bytes.
    B1024 = 3,
    /// 4: 1664 bytes.
    B1664 = 4,
    /// 5: 4096 bytes.
    B4096 = 5,
    /// 6: 10368 bytes.
    B10368 = 6,
    /// 7: 16384 bytes.
    B16384 = 7,
}

/// An enum value that names no buffer size class (8 or more): gxio's
/// `GXIO_MPIPE_ERR_INVAL_BUFFER_SIZE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidBufferSize(pub u32);

impl fmt::Display for InvalidBufferSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "buffer size enum {} names no size class (0 to 7)",
            self.0
        )
    }
}

impl BufferSize {
    /// All classes, smallest first (index = enum value).
    pub const ALL: [BufferSize; 8] = [
        BufferSize::B128,
        BufferSize::B256,
        BufferSize::B512,
        BufferSize::B1024,
        BufferSize::B1664,
        BufferSize::B4096,
        BufferSize::B10368,
        BufferSize::B16384,
    ];

    /// The buffer size in bytes.
    pub const fn bytes(self) -> usize {
        match self {
            BufferSize::B128 => 128,
            BufferSize::B256 => 256,
            BufferSize::B512 => 512,
            BufferSize::B1024 => 1024,
            BufferSize::B1664 => 1664,
            BufferSize::B4096 => 4096,
            BufferSize::B10368 => 10368,
            BufferSize::B16384 => 16384,
        }
    }

    /// The class with enum value `v`.
    pub const fn from_enum(v: u32) -> Result<BufferSize, InvalidBufferSize> {
        if v < 8 {
            Ok(BufferSize::ALL[v as usize])
        } else {
            Err(InvalidBufferSize(v))
        }
    }

    /// The class a 3-bit descriptor field names (the bits above 3 ignored):
    /// every value of the field is a class.
    pub const fn from_bits(v: u8) -> BufferSize {
        BufferSize::ALL[(v & 7) as usize]
    }

    /// `gxio_mpipe_buffer_size_to_buffer_size_enum`: the smallest class of at
    /// least `bytes`, capped at 16384.
    pub fn for_bytes(bytes: usize) -> BufferSize {
        BufferSize::ALL
            .iter()
            .copied()
            .find(|s| s.bytes() >= bytes)
            .unwrap_or(BufferSize::B16384)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_the_fact_sheet() {
        let bytes = BufferSize::ALL.map(BufferSize::bytes);
        assert_eq!(bytes, [128, 256, 512, 1024, 1664, 4096, 10368, 16384]);
        for (i, s) in BufferSize::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
            assert_eq!(BufferSize::from_enum(i as u32), Ok(*s));
            assert_eq!(BufferSize::from_bits(i as u8), *s);
            assert_eq!(BufferSize::for_bytes(s.bytes()), *s);
            assert_eq!(BufferSize::for_bytes(s.bytes() - 1), *s);
        }
        assert_eq!(BufferSize::from_bits(8 + 4), BufferSize::B1664);
        assert_eq!(BufferSize::for_bytes(0), BufferSize::B128);
        assert_eq!(BufferSize::for_bytes(129), BufferSize::B256);
        assert_eq!(BufferSize::for_bytes(1_000_000), BufferSize::B16384);
        assert_eq!(BufferSize::from_enum(8), Err(InvalidBufferSize(8)));
        assert_eq!(
            BufferSize::from_enum(u32::MAX),
            Err(InvalidBufferSize(u32::MAX))
        );
    }
}
