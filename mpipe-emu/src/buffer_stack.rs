//! Buffer stacks (fact sheet §1, "Buffer stacks"): LIFO stacks of buffer
//! addresses in one of 8 size classes, each with at most 16 registered pages.

use crate::context::{Context, MAX_CHAIN, MAX_STACK_BUFFERS};
use crate::mem::Memory;
use crate::rules::STACK_DROP;

use crate::error::{Error, Result};
use mpipe_desc::{BDesc, BufferSize, Chain, IDesc};

/// Most pages one stack can register (its IOTLB entries).
pub const MAX_PAGES_PER_STACK: usize = 16;

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

/// The buffers and bytes of one received packet, in order (see
/// [`Context::packet_segments`]).
pub struct PacketSegments<'a> {
    mem: &'a Memory,
    cur: Option<BDesc>,
    remaining: usize,
    steps: usize,
}

impl<'a> Iterator for PacketSegments<'a> {
    type Item = (BDesc, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let cur = self.cur.take()?;
        if !cur.is_valid() || self.remaining == 0 || self.steps >= MAX_CHAIN {
            return None;
        }
        self.steps += 1;
        let size = cur.buffer_size().bytes();
        let take = self.remaining.min(size.saturating_sub(cur.offset()));
        let bytes = self.mem.slice(cur.va() as u64, take)?;
        self.remaining -= take;
        if cur.c() == Chain::Chained && self.remaining > 0 {
            self.cur = self.mem.read_u64(cur.buffer_va() as u64).map(BDesc);
        }
        Some((cur, bytes))
    }
}

/// The buffer-stack face of the context (`gxio_mpipe_*buffer*`).
impl Context {
    /// `gxio_mpipe_alloc_buffer_stacks`.
    pub fn alloc_buffer_stacks(&mut self, count: u32, first: u32, flags: u32) -> Result<u32> {
        self.stack_alloc
            .alloc(count, first, flags)
            .ok_or(Error::NoBufferStack)
    }

    pub(crate) fn stack_mut(&mut self, stack: u32) -> Result<&mut BufferStack> {
        self.stacks
            .get_mut(stack as usize)
            .and_then(|s| s.as_mut())
            .ok_or(Error::BadBufferStack)
    }

    pub(crate) fn stack_ref(&self, stack: u32) -> Result<&BufferStack> {
        self.stacks
            .get(stack as usize)
            .and_then(|s| s.as_ref())
            .ok_or(Error::BadBufferStack)
    }

    /// `gxio_mpipe_init_buffer_stack` with stack memory owned by the
    /// emulator: a stack of `capacity` buffers (1 to [`MAX_STACK_BUFFERS`])
    /// of class `size`. The stack becomes the context's stack for that size
    /// class.
    pub fn init_buffer_stack(
        &mut self,
        stack: u32,
        size: BufferSize,
        capacity: usize,
    ) -> Result<()> {
        if !self.stack_alloc.is_allocated(stack) {
            return Err(Error::BadBufferStack);
        }
        if self.stacks[stack as usize].is_some() {
            return Err(Error::BadBufferStack);
        }
        if capacity == 0 || capacity > MAX_STACK_BUFFERS {
            return Err(Error::InvalMemorySize);
        }
        self.stacks[stack as usize] = Some(BufferStack::new(size, capacity));
        self.size_stacks[size as usize] = stack as u8;
        Ok(())
    }

    /// `gxio_mpipe_register_page`: lets the stack's buffers live in
    /// `[va, va + page_size)`, which must be memory of this context below
    /// 2 TiB (descriptor addresses are 42-bit signed), `page_size` a power
    /// of two ≥ 4 KB and `va` aligned to it. The 17th
    /// page of a stack is `GXIO_ERR_IOTLB_ENTRY`.
    pub fn register_page(&mut self, stack: u32, va: u64, page_size: u64) -> Result<()> {
        self.stack_ref(stack)?;
        if !page_size.is_power_of_two() || page_size < 4096 || !va.is_multiple_of(page_size) {
            return Err(Error::InvalMemorySize);
        }
        if va.saturating_add(page_size) > crate::mem::VA_LIMIT
            || !self.mem.contains(va, page_size as usize)
        {
            return Err(Error::InvalMemorySize);
        }
        self.stack_mut(stack)?.register_page(va, page_size)
    }

    /// `gxio_mpipe_push_buffer`: pushes the buffer holding `va` (low 7 bits
    /// ignored). Errors: `BAD_BUFFER_STACK`; `GXIO_ERR_IOTLB_ENTRY` when the
    /// buffer is not inside the stack's registered pages; `GXIO_ERR_BUSY`
    /// when the stack is full.
    pub fn push_buffer(&mut self, stack: u32, va: u64) -> Result<()> {
        self.stack_mut(stack)?.push(va)
    }

    /// `gxio_mpipe_pop_buffer`: the most recently pushed buffer, `None` when
    /// the stack is empty.
    pub fn pop_buffer(&mut self, stack: u32) -> Result<Option<u64>> {
        Ok(self.stack_mut(stack)?.pop())
    }

    /// `gxio_mpipe_pop_buffer_bdesc`: as `pop_buffer`, as a descriptor
    /// (`c` = 0 valid, 3 = empty; `hwb` reads 1).
    pub fn pop_buffer_bdesc(&mut self, stack: u32) -> Result<BDesc> {
        let inst = self.config.instance;
        let s = self.stack_mut(stack)?;
        let size = s.size() as u8;
        let mut b = match s.pop() {
            Some(va) => BDesc::new(va as i64, stack as u8, size, Chain::Unchained),
            None => BDesc::new(0, stack as u8, size, Chain::Invalid),
        };
        b.set_inst(inst);
        Ok(b)
    }

    /// `gxio_mpipe_push_buffer_bdesc`: pushes `bdesc.va` to `bdesc.stack_idx`.
    pub fn push_buffer_bdesc(&mut self, bdesc: BDesc) -> Result<()> {
        self.push_buffer(u32::from(bdesc.stack_idx()), bdesc.va() as u64)
    }

    /// Buffers on the stack now.
    pub fn stack_len(&self, stack: u32) -> Result<usize> {
        Ok(self.stack_ref(stack)?.len())
    }

    /// The stack's size class.
    pub fn stack_size(&self, stack: u32) -> Result<BufferSize> {
        Ok(self.stack_ref(stack)?.size())
    }

    /// The stack's capacity in buffers.
    pub fn stack_capacity(&self, stack: u32) -> Result<usize> {
        Ok(self.stack_ref(stack)?.capacity())
    }

    /// Pages registered on the stack.
    pub fn stack_pages(&self, stack: u32) -> Result<usize> {
        Ok(self.stack_ref(stack)?.pages())
    }

    /// The stack's counters.
    pub fn stack_stats(&self, stack: u32) -> Result<StackStats> {
        Ok(self.stack_ref(stack)?.stats)
    }

    /// The stack the context uses for a size class (`__stacks`), if any.
    pub fn stack_for_size(&self, size: BufferSize) -> Option<u32> {
        let s = self.size_stacks[size as usize];
        (s != STACK_DROP).then_some(u32::from(s))
    }

    /// Set-up helper: maps memory for `count` buffers of the stack's class
    /// in pages of at least 64 KB (at most 16 of them), registers every page
    /// and pushes every buffer. Returns the address of the first buffer.
    pub fn populate_buffer_stack(&mut self, stack: u32, count: usize) -> Result<u64> {
        let size = self.stack_ref(stack)?.size().bytes();
        let total = count
            .checked_mul(size)
            .filter(|&t| t > 0)
            .ok_or(Error::InvalMemorySize)?;
        let page = total
            .div_ceil(16)
            .checked_next_power_of_two()
            .ok_or(Error::InvalMemorySize)?
            .max(65536);
        let bytes = total
            .checked_next_multiple_of(page)
            .ok_or(Error::InvalMemorySize)?;
        let va = self.mem.map(bytes, page)?;
        for p in 0..bytes / page {
            self.register_page(stack, va + (p * page) as u64, page as u64)?;
        }
        for i in 0..count {
            self.push_buffer(stack, va + (i * size) as u64)?;
        }
        Ok(va)
    }

    /// The whole buffer `bdesc` describes (from its 128-byte aligned start,
    /// of its size class), for reading. `GXIO_ERR_IOTLB_ENTRY` if it is not
    /// in the context's memory.
    pub fn buffer(&self, bdesc: BDesc) -> Result<&[u8]> {
        let size = bdesc.buffer_size().bytes();
        self.mem
            .slice(bdesc.buffer_va() as u64, size)
            .ok_or(Error::IotlbEntry)
    }

    /// The whole buffer `bdesc` describes, for writing (e.g. an egress
    /// frame into a popped buffer).
    pub fn buffer_mut(&mut self, bdesc: BDesc) -> Result<&mut [u8]> {
        let size = bdesc.buffer_size().bytes();
        self.mem
            .slice_mut(bdesc.buffer_va() as u64, size)
            .ok_or(Error::IotlbEntry)
    }

    /// The bytes at `[va, va + len)` of the context's memory.
    pub fn memory(&self, va: u64, len: usize) -> Result<&[u8]> {
        self.mem.slice(va, len).ok_or(Error::IotlbEntry)
    }

    /// The bytes at `[va, va + len)` of the context's memory, for writing.
    pub fn memory_mut(&mut self, va: u64, len: usize) -> Result<&mut [u8]> {
        self.mem.slice_mut(va, len).ok_or(Error::IotlbEntry)
    }

    /// The buffers of a received packet with the bytes each holds, in
    /// order, following the chain (next bdesc in a buffer's first 8 bytes)
    /// for `l2_size` bytes; zero-copy views of the ingress buffers.
    pub fn packet_segments(&self, idesc: &IDesc) -> PacketSegments<'_> {
        PacketSegments {
            mem: &self.mem,
            cur: Some(idesc.bdesc()),
            remaining: idesc.xfer_size(),
            steps: 0,
        }
    }

    /// Copies a received packet into `out`; returns its length
    /// (`BAD_CONFIG` if `out` is too small).
    pub fn read_packet(&self, idesc: &IDesc, out: &mut [u8]) -> Result<usize> {
        let mut n = 0;
        for (_, bytes) in self.packet_segments(idesc) {
            let dst = out.get_mut(n..n + bytes.len()).ok_or(Error::BadConfig)?;
            dst.copy_from_slice(bytes);
            n += bytes.len();
        }
        Ok(n)
    }

    /// Pushes every valid buffer of a received packet back to its stack
    /// (the whole chain, even with `be`); returns how many.
    pub fn return_packet_buffers(&mut self, idesc: &IDesc) -> usize {
        let mut cur = idesc.bdesc();
        let mut n = 0;
        for _ in 0..MAX_CHAIN {
            if !cur.is_valid() {
                break;
            }
            let next = if cur.c() == Chain::Chained {
                self.mem.read_u64(cur.buffer_va() as u64).map(BDesc)
            } else {
                None
            };
            if self.push_buffer_bdesc(cur).is_ok() {
                n += 1;
            }
            match next {
                Some(b) => cur = b,
                None => break,
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_bytes_and_capacity() {
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
