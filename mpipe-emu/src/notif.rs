//! NotifRings and iqueues (fact sheet §1, §4 steps 5–7): the ring the iDMA
//! writes ingress descriptors into, its credits, and the consumer state of
//! the iqueue that reads it.
//!
//! Layout (inferred in the fact sheet from Linux's gxio code, followed here):
//! the first 8 bytes of ring memory hold the hardware tail (the count of
//! descriptors written, little-endian), so slot 0 is never used; descriptors
//! go to slots 1..N−1 and wrap from N−1 to 1, leaving N−1 usable entries.
//! The hardware treats the ring as full when N−1 descriptors are delivered
//! and not yet credited; a full ring drops (counted in [`RingStats`]).

use crate::error::{Error, Result};

/// The ring sizes the hardware accepts, in entries.
pub const NOTIF_RING_ENTRIES: [usize; 4] = [128, 512, 2048, 65536];
/// Bytes per ingress descriptor.
pub const IDESC_BYTES: usize = 64;

/// Counters of one NotifRing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct RingStats {
    /// Descriptors written into the ring.
    pub delivered: u64,
    /// Packets dropped because the ring (or, for the group modes, every
    /// ring of the group) was full when this ring was the bucket's choice.
    pub dropped_full: u64,
    /// Credits refused (more than the outstanding descriptors).
    pub credit_errors: u64,
}

/// One initialized NotifRing and its iqueue.
#[derive(Debug)]
pub(crate) struct NotifRing {
    /// Address of the ring memory.
    pub(crate) va: u64,
    /// Entries (N).
    pub(crate) entries: usize,
    /// Descriptors ever written (the hardware tail).
    pub(crate) tail: u64,
    /// Descriptors ever credited.
    pub(crate) credited: u64,
    /// Descriptors ever consumed by the iqueue (its head).
    pub(crate) head: u64,
    pub(crate) stats: RingStats,
}

impl NotifRing {
    /// Validates a ring of `bytes` at `va` (4 KB aligned, a supported size).
    pub(crate) fn new(va: u64, bytes: usize) -> Result<NotifRing> {
        let entries = bytes / IDESC_BYTES;
        if !va.is_multiple_of(4096)
            || !bytes.is_multiple_of(IDESC_BYTES)
            || !NOTIF_RING_ENTRIES.contains(&entries)
        {
            return Err(Error::InvalMemorySize);
        }
        Ok(NotifRing {
            va,
            entries,
            tail: 0,
            credited: 0,
            head: 0,
            stats: RingStats::default(),
        })
    }

    /// Usable entries (N − 1).
    pub(crate) fn capacity(&self) -> usize {
        self.entries - 1
    }

    /// Delivered and not yet credited.
    pub(crate) fn outstanding(&self) -> usize {
        (self.tail - self.credited) as usize
    }

    /// The slot of the `k`-th descriptor (1..N−1).
    pub(crate) fn slot(&self, k: u64) -> usize {
        1 + (k % self.capacity() as u64) as usize
    }

    /// The address of the `k`-th descriptor.
    pub(crate) fn slot_va(&self, k: u64) -> u64 {
        self.va + (self.slot(k) * IDESC_BYTES) as u64
    }

    /// Descriptors ready for the iqueue.
    pub(crate) fn ready(&self) -> usize {
        self.tail.saturating_sub(self.head) as usize
    }

    /// Ready descriptors contiguous in memory from the head (up to the end
    /// of the ring), as `try_peek` reports them.
    pub(crate) fn ready_contiguous(&self) -> usize {
        let to_end = self.entries - self.slot(self.head);
        self.ready().min(to_end)
    }

    /// Credits `n` ring entries; refused beyond the outstanding count.
    pub(crate) fn credit(&mut self, n: u64) -> Result<()> {
        if n > self.outstanding() as u64 {
            self.stats.credit_errors += 1;
            return Err(Error::BadNotifRing);
        }
        self.credited += n;
        Ok(())
    }
}
