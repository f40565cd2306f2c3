//! Allocation of numbered hardware resources (`gxio_mpipe_alloc_*`): a range
//! of ids handed out in fixed-size chunks, with `GXIO_MPIPE_ALLOC_FIXED`.

/// `GXIO_MPIPE_ALLOC_FIXED`: allocate exactly at `first`.
pub const ALLOC_FIXED: u32 = 1;

/// Allocation state of ids `[base, base + len)`, handed out in chunks.
#[derive(Clone, Debug)]
pub(crate) struct Allocator {
    base: u32,
    chunk: u32,
    used: Vec<bool>,
}

impl Allocator {
    /// Ids `[base, base + len)`, allocated in multiples of `chunk`.
    pub(crate) fn new(base: u32, len: u32, chunk: u32) -> Allocator {
        Allocator {
            base,
            chunk,
            used: vec![false; len as usize],
        }
    }

    /// Whether `id` is allocated.
    pub(crate) fn is_allocated(&self, id: u32) -> bool {
        id.checked_sub(self.base)
            .and_then(|i| self.used.get(i as usize))
            .copied()
            .unwrap_or(false)
    }

    /// Allocates `count` ids (rounded up to whole chunks) and returns the
    /// first; `None` when no chunk-aligned free range is left (or, with
    /// `ALLOC_FIXED`, when `first` is not chunk aligned or not free).
    pub(crate) fn alloc(&mut self, count: u32, first: u32, flags: u32) -> Option<u32> {
        if count == 0 {
            return None;
        }
        let n = count.checked_next_multiple_of(self.chunk)? as usize;
        let free = |used: &[bool], start: usize| {
            start + n <= used.len() && used[start..start + n].iter().all(|u| !u)
        };
        let start = if flags & ALLOC_FIXED != 0 {
            let rel = first.checked_sub(self.base)? as usize;
            if !rel.is_multiple_of(self.chunk as usize) || !free(&self.used, rel) {
                return None;
            }
            rel
        } else {
            (0..self.used.len())
                .step_by(self.chunk as usize)
                .find(|&s| free(&self.used, s))?
        };
        self.used[start..start + n].fill(true);
        Some(self.base + start as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_and_fixed() {
        let mut a = Allocator::new(0, 32, 8);
        assert_eq!(a.alloc(1, 0, 0), Some(0));
        assert!(a.is_allocated(7) && !a.is_allocated(8));
        assert_eq!(a.alloc(9, 0, 0), Some(8));
        assert_eq!(a.alloc(8, 3, ALLOC_FIXED), None);
        assert_eq!(a.alloc(8, 24, ALLOC_FIXED), Some(24));
        assert_eq!(a.alloc(1, 0, 0), None);
        assert_eq!(a.alloc(0, 0, 0), None);
    }
}
