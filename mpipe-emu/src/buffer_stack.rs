//! Buffer stacks (fact sheet §1, "Buffer stacks"): LIFO stacks of buffer
//! addresses in one of 8 size classes, each with at most 16 registered pages.

use crate::error::{Error, Result};

/// Most pages one stack can register (its IOTLB entries).
pub const MAX_PAGES_PER_STACK: usize = 16;

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

impl BufferSize {
    /// All classes, smallest first.
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

    /// The class with enum value `v`, or `INVAL_BUFFER_SIZE`.
    pub fn from_enum(v: u32) -> Result<BufferSize> {
        BufferSize::ALL
            .get(v as usize)
            .copied()
            .ok_or(Error::InvalBufferSize)
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

/// `gxio_mpipe_calc_buffer_stack_bytes`: memory for a stack of `buffers`
/// entries, `ceil(buffers / 12) * 64`.
pub const fn calc_buffer_stack_bytes(buffers: usize) -> usize {
    buffers.div_ceil(12) * 64
}

/// How many buffers a stack of `bytes` of stack memory holds (inverse of
/// [`calc_buffer_stack_bytes`]).
pub const fn buffer_stack_capacity(bytes: usize) -> usize {
    bytes / 64 * 12
}

/// Counters of one buffer stack.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct StackStats {
    /// Buffers pushed.
    pub pushes: u64,
    /// Buffers popped.
    pub pops: u64,
    /// Pops that found the stack empty.
    pub pop_empty: u64,
    /// Pushes refused (stack full, or buffer outside the registered pages).
    pub push_errors: u64,
}

/// One initialized buffer stack.
#[derive(Debug)]
pub(crate) struct BufferStack {
    size: BufferSize,
    entries: Vec<u64>,
    capacity: usize,
    pages: Vec<(u64, u64)>,
    pub(crate) stats: StackStats,
}

impl BufferStack {
    /// An empty stack of `capacity` buffers of class `size`.
    pub(crate) fn new(size: BufferSize, capacity: usize) -> BufferStack {
        BufferStack {
            size,
            entries: Vec::with_capacity(capacity),
            capacity,
            pages: Vec::with_capacity(MAX_PAGES_PER_STACK),
            stats: StackStats::default(),
        }
    }

    /// The size class.
    pub(crate) fn size(&self) -> BufferSize {
        self.size
    }

    /// Buffers on the stack now.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Most buffers the stack holds.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Registered pages.
    pub(crate) fn pages(&self) -> usize {
        self.pages.len()
    }

    /// Records a registered page; the 17th is `GXIO_ERR_IOTLB_ENTRY`.
    pub(crate) fn register_page(&mut self, va: u64, page_size: u64) -> Result<()> {
        if self.pages.len() >= MAX_PAGES_PER_STACK {
            return Err(Error::IotlbEntry);
        }
        self.pages.push((va, page_size));
        Ok(())
    }

    /// Whether every byte of the buffer at `buffer_va` lies in a registered
    /// page (a buffer may span adjacent pages).
    pub(crate) fn covers(&self, buffer_va: u64) -> bool {
        let end = buffer_va + self.size.bytes() as u64;
        let mut pos = buffer_va;
        while pos < end {
            match self
                .pages
                .iter()
                .find(|&&(p, len)| pos >= p && pos < p + len)
            {
                Some(&(p, len)) => pos = p + len,
                None => return false,
            }
        }
        true
    }

    /// Pushes the buffer holding `va` (low 7 bits ignored).
    pub(crate) fn push(&mut self, va: u64) -> Result<()> {
        let buffer = va & !127;
        if !self.covers(buffer) {
            self.stats.push_errors += 1;
            return Err(Error::IotlbEntry);
        }
        if self.entries.len() >= self.capacity {
            self.stats.push_errors += 1;
            return Err(Error::Busy);
        }
        self.entries.push(buffer);
        self.stats.pushes += 1;
        Ok(())
    }

    /// Pops the most recently pushed buffer.
    pub(crate) fn pop(&mut self) -> Option<u64> {
        match self.entries.pop() {
            Some(b) => {
                self.stats.pops += 1;
                Some(b)
            }
            None => {
                self.stats.pop_empty += 1;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_enum_values_and_rounding() {
        let bytes: Vec<usize> = BufferSize::ALL.iter().map(|s| s.bytes()).collect();
        assert_eq!(bytes, [128, 256, 512, 1024, 1664, 4096, 10368, 16384]);
        for (i, s) in BufferSize::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
            assert_eq!(BufferSize::from_enum(i as u32), Ok(*s));
            assert_eq!(BufferSize::for_bytes(s.bytes()), *s);
            assert_eq!(BufferSize::for_bytes(s.bytes() - 1), *s);
        }
        assert_eq!(BufferSize::for_bytes(129), BufferSize::B256);
        assert_eq!(BufferSize::for_bytes(1_000_000), BufferSize::B16384);
        assert_eq!(BufferSize::from_enum(8), Err(Error::InvalBufferSize));
        assert_eq!(calc_buffer_stack_bytes(0), 0);
        assert_eq!(calc_buffer_stack_bytes(1), 64);
        assert_eq!(calc_buffer_stack_bytes(12), 64);
        assert_eq!(calc_buffer_stack_bytes(13), 128);
        assert_eq!(buffer_stack_capacity(calc_buffer_stack_bytes(4048)), 4056);
    }

    #[test]
    fn lifo_full_and_unregistered() {
        let mut s = BufferStack::new(BufferSize::B128, 2);
        s.register_page(0x10000, 0x10000).unwrap();
        assert_eq!(s.push(0x10000 + 2), Ok(())); // low 7 bits ignored
        assert_eq!(s.push(0x10080), Ok(()));
        assert_eq!(s.push(0x10100), Err(Error::Busy));
        assert_eq!(s.push(0x30000), Err(Error::IotlbEntry));
        assert_eq!(s.pop(), Some(0x10080));
        assert_eq!(s.pop(), Some(0x10000));
        assert_eq!(s.pop(), None);
        assert_eq!(s.stats.pop_empty, 1);
        assert_eq!(s.stats.push_errors, 2);
        // The last buffer of a page must end inside it.
        assert_eq!(s.push(0x20000 - 128), Ok(()));
        for i in 1..16 {
            s.register_page(0x100000 * i, 4096).unwrap();
        }
        assert_eq!(s.register_page(0x9000000, 4096), Err(Error::IotlbEntry));
    }
}
