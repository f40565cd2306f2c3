//! Registered memory: the only module that touches raw buffer memory.
//!
//! The emulator's DMA engines read and write "physical" memory through
//! [`Memory`], a set of non-overlapping regions addressed by their real
//! virtual address, so a descriptor's `va` is a pointer a C program can use.
//! Descriptors hold 42-bit signed addresses, which x86-64 heap and `mmap`
//! addresses (near 2^47) do not fit in; owned regions are therefore mapped
//! at hinted addresses from 1 TiB up (below the 2 TiB limit of the field).
//!
//! Owned regions ([`Memory::map`]) belong to the emulator and are unmapped
//! on drop. External regions ([`Memory::add_external`]) are memory handed in
//! through the C ABI; the C caller guarantees they stay valid.

use crate::error::{Error, Result};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// Lowest address handed out as an mmap hint (1 TiB).
const HINT_BASE: u64 = 1 << 40;
/// Addresses must stay below 2^41 to fit the signed 42-bit `va` fields.
pub(crate) const VA_LIMIT: u64 = 1 << 41;
/// Mapping granularity.
const PAGE: usize = 4096;

/// Next hint; shared by every context of the process.
static NEXT_HINT: AtomicU64 = AtomicU64::new(HINT_BASE);

/// An anonymous private mapping, unmapped on drop.
struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    /// Maps `len` zeroed bytes aligned to `align` below [`VA_LIMIT`].
    fn new(len: usize, align: usize) -> Result<Mapping> {
        if len == 0 || !align.is_power_of_two() {
            return Err(Error::InvalMemorySize);
        }
        let align = align.max(PAGE) as u64;
        let len = len
            .checked_next_multiple_of(PAGE)
            .ok_or(Error::InvalMemorySize)?;
        let stride = (len as u64)
            .checked_next_multiple_of(align)
            .ok_or(Error::InvalMemorySize)?;
        for _ in 0..64 {
            let start = NEXT_HINT.fetch_add(stride + align, Ordering::Relaxed);
            let hint = start.next_multiple_of(align);
            if hint
                .checked_add(len as u64)
                .is_none_or(|end| end > VA_LIMIT)
            {
                return Err(Error::InvalMemorySize);
            }
            // SAFETY: an anonymous private mapping with a hint address (no
            // MAP_FIXED) cannot replace an existing mapping; the kernel
            // either honours the hint or picks another free range.
            let p = unsafe {
                libc::mmap(
                    hint as *mut libc::c_void,
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(Error::InvalMemorySize);
            }
            if p as u64 == hint {
                let ptr = NonNull::new(p.cast::<u8>()).ok_or(Error::InvalMemorySize)?;
                return Ok(Mapping { ptr, len });
            }
            // SAFETY: `p` is the mapping of `len` bytes just created above
            // and nothing refers to it.
            unsafe {
                libc::munmap(p, len);
            }
        }
        Err(Error::InvalMemorySize)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping was created by `Mapping::new` with this length
        // and is unmapped exactly once; no slice into it outlives `Memory`.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// One contiguous region of registered memory.
struct Region {
    base: u64,
    len: usize,
    ptr: *mut u8,
    _owned: Option<Mapping>,
}

// SAFETY: an owned region's mapping belongs to this region alone; an
// external region is memory whose C owner promised (gxio_mpipe_register_page
// and friends are unsafe to call) to keep it valid and not to touch it
// concurrently with emulator calls. Access goes through `&self`/`&mut self`.
unsafe impl Send for Region {}

/// The registered memory of one context.
#[derive(Default)]
pub(crate) struct Memory {
    regions: Vec<Region>,
}

impl Memory {
    /// Maps `len` zeroed bytes aligned to `align` and returns their address.
    pub(crate) fn map(&mut self, len: usize, align: usize) -> Result<u64> {
        let m = Mapping::new(len, align)?;
        let base = m.ptr.as_ptr() as u64;
        self.regions.push(Region {
            base,
            len: m.len,
            ptr: m.ptr.as_ptr(),
            _owned: Some(m),
        });
        Ok(base)
    }

    /// Adds caller-owned memory `[ptr, ptr + len)`. A range already inside a
    /// region is accepted as is; a partial overlap is an error. (Memory
    /// that descriptors point to must also lie below [`VA_LIMIT`]; the
    /// callers that need it check.)
    ///
    /// # Safety
    /// The memory must be valid for reads and writes for as long as this
    /// `Memory` lives and must not be accessed by others during emulator calls.
    pub(crate) unsafe fn add_external(&mut self, ptr: *mut u8, len: usize) -> Result<()> {
        let base = ptr as u64;
        if ptr.is_null() || len == 0 || base.checked_add(len as u64).is_none() {
            return Err(Error::InvalMemorySize);
        }
        if self.find(base, len).is_some() {
            return Ok(());
        }
        let end = base + len as u64;
        if self
            .regions
            .iter()
            .any(|r| base < r.base + r.len as u64 && r.base < end)
        {
            return Err(Error::InvalMemorySize);
        }
        self.regions.push(Region {
            base,
            len,
            ptr,
            _owned: None,
        });
        Ok(())
    }

    /// The region holding `[va, va + len)` and the offset of `va` in it.
    fn find(&self, va: u64, len: usize) -> Option<(usize, usize)> {
        let end = va.checked_add(len as u64)?;
        self.regions
            .iter()
            .position(|r| va >= r.base && end <= r.base + r.len as u64)
            .map(|i| (i, (va - self.regions[i].base) as usize))
    }

    /// Whether `[va, va + len)` lies inside one region.
    pub(crate) fn contains(&self, va: u64, len: usize) -> bool {
        self.find(va, len).is_some()
    }

    /// The bytes `[va, va + len)`, if they lie inside one region.
    pub(crate) fn slice(&self, va: u64, len: usize) -> Option<&[u8]> {
        let (i, off) = self.find(va, len)?;
        let r = &self.regions[i];
        // SAFETY: `find` checked that `[off, off + len)` lies inside the
        // region, which is valid for reads (owned mapping, or the external
        // owner's promise); `&self` keeps the region alive and excludes
        // emulator writes for the slice's lifetime.
        Some(unsafe { std::slice::from_raw_parts(r.ptr.add(off), len) })
    }

    /// The bytes `[va, va + len)` for writing, if inside one region.
    pub(crate) fn slice_mut(&mut self, va: u64, len: usize) -> Option<&mut [u8]> {
        let (i, off) = self.find(va, len)?;
        let r = &self.regions[i];
        // SAFETY: as in `slice`, and `&mut self` makes this the only live
        // slice into any region.
        Some(unsafe { std::slice::from_raw_parts_mut(r.ptr.add(off), len) })
    }

    /// A raw pointer to `va` (for the C ABI's `try_peek`), if inside a region.
    pub(crate) fn ptr(&self, va: u64, len: usize) -> Option<*mut u8> {
        let (i, off) = self.find(va, len)?;
        // SAFETY: `off < region.len` (checked by `find`), so the result stays
        // inside the same allocation.
        Some(unsafe { self.regions[i].ptr.add(off) })
    }

    /// Copies `data` to `va`; false if the range is not registered memory.
    pub(crate) fn write(&mut self, va: u64, data: &[u8]) -> bool {
        match self.slice_mut(va, data.len()) {
            Some(s) => {
                s.copy_from_slice(data);
                true
            }
            None => false,
        }
    }

    /// Reads the little-endian u64 at `va`.
    pub(crate) fn read_u64(&self, va: u64) -> Option<u64> {
        let s = self.slice(va, 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Some(u64::from_le_bytes(a))
    }

    /// Writes the little-endian u64 `v` at `va`.
    pub(crate) fn write_u64(&mut self, va: u64, v: u64) -> bool {
        self.write(va, &v.to_le_bytes())
    }

    /// Fills `[va, va + len)` with zeroes.
    pub(crate) fn zero(&mut self, va: u64, len: usize) -> bool {
        match self.slice_mut(va, len) {
            Some(s) => {
                s.fill(0);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_memory_is_low_aligned_zeroed_and_bounded() {
        let mut m = Memory::default();
        let va = m.map(100_000, 65536).unwrap();
        assert_eq!(va % 65536, 0);
        assert!(va + 100_000 < VA_LIMIT);
        assert!(m.slice(va, 100_000).unwrap().iter().all(|&b| b == 0));
        assert!(m.write(va + 10, &[1, 2, 3]));
        assert_eq!(&m.slice(va + 9, 5).unwrap(), &[0, 1, 2, 3, 0]);
        let len = 100_000usize.next_multiple_of(PAGE) as u64;
        assert!(m.slice(va + len - 4, 8).is_none());
        assert!(m.slice(va - 1, 2).is_none());
        assert!(m.write_u64(va + 64, 0xDEAD_BEEF));
        assert_eq!(m.read_u64(va + 64), Some(0xDEAD_BEEF));
        assert_eq!(m.map(0, 4096), Err(Error::InvalMemorySize));
    }
}
