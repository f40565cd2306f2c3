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

use crate::context::Context;
use crate::lb::{Bucket, BucketMode};

use crate::error::{Error, Result};
use mpipe_desc::IDesc;

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

/// NotifRings, groups, buckets, credits and iqueues of the context.
impl Context {
    /// `gxio_mpipe_alloc_notif_rings` (allocated in chunks of 8).
    pub fn alloc_notif_rings(&mut self, count: u32, first: u32, flags: u32) -> Result<u32> {
        self.ring_alloc
            .alloc(count, first, flags)
            .ok_or(Error::NoNotifRing)
    }

    /// `gxio_mpipe_alloc_notif_groups`.
    pub fn alloc_notif_groups(&mut self, count: u32, first: u32, flags: u32) -> Result<u32> {
        self.group_alloc
            .alloc(count, first, flags)
            .ok_or(Error::NoNotifGroup)
    }

    /// `gxio_mpipe_alloc_buckets`: from the "lo" range (4096, chunks of
    /// 256), else the "hi" range (64, chunks of 4); never both. With
    /// `ALLOC_FIXED`, `first` chooses the range.
    pub fn alloc_buckets(&mut self, count: u32, first: u32, flags: u32) -> Result<u32> {
        let r = if flags & crate::resource::ALLOC_FIXED != 0 {
            if first < 4096 {
                self.bucket_lo.alloc(count, first, flags)
            } else {
                self.bucket_hi.alloc(count, first, flags)
            }
        } else {
            self.bucket_lo
                .alloc(count, first, flags)
                .or_else(|| self.bucket_hi.alloc(count, first, flags))
        };
        r.ok_or(Error::NoBucket)
    }

    pub(crate) fn bucket_allocated(&self, b: u32) -> bool {
        self.bucket_lo.is_allocated(b) || self.bucket_hi.is_allocated(b)
    }

    /// Initializes NotifRing `ring` over `[va, va + bytes)` of the context's
    /// memory (the C face's `gxio_mpipe_init_notif_ring`).
    pub(crate) fn init_notif_ring_at(&mut self, ring: u32, va: u64, bytes: usize) -> Result<()> {
        if !self.ring_alloc.is_allocated(ring) {
            return Err(Error::BadNotifRing);
        }
        let r = NotifRing::new(va, bytes)?;
        if !self.mem.zero(va, bytes) {
            return Err(Error::InvalMemorySize);
        }
        self.rings[ring as usize] = Some(r);
        Ok(())
    }

    /// `gxio_mpipe_iqueue_init` with ring memory owned by the emulator:
    /// NotifRing `ring` with `entries` entries (128, 512, 2048 or 65536),
    /// of which `entries - 1` are usable.
    pub fn iqueue_init(&mut self, ring: u32, entries: usize) -> Result<()> {
        if !self.ring_alloc.is_allocated(ring) {
            return Err(Error::BadNotifRing);
        }
        if !crate::notif::NOTIF_RING_ENTRIES.contains(&entries) {
            return Err(Error::InvalMemorySize);
        }
        let bytes = entries * IDESC_BYTES;
        let va = self.mem.map(bytes, 4096)?;
        self.init_notif_ring_at(ring, va, bytes)
    }

    /// `gxio_mpipe_init_notif_group_and_buckets`: group = rings `[ring0,
    /// ring0 + nrings)`; bucket `bucket0 + i` → ring `ring0 + i mod nrings`.
    pub fn init_notif_group_and_buckets(
        &mut self,
        group: u32,
        ring0: u32,
        nrings: u32,
        bucket0: u32,
        nbuckets: u32,
        mode: BucketMode,
    ) -> Result<()> {
        if !self.group_alloc.is_allocated(group) {
            return Err(Error::BadNotifGroup);
        }
        if nrings == 0
            || (ring0..ring0.saturating_add(nrings))
                .any(|r| self.rings.get(r as usize).is_none_or(|r| r.is_none()))
        {
            return Err(Error::BadNotifRing);
        }
        if nbuckets == 0
            || (bucket0..bucket0.saturating_add(nbuckets)).any(|b| !self.bucket_allocated(b))
        {
            return Err(Error::BadBucket);
        }
        self.lb.init_group_and_buckets(
            group as usize,
            ring0 as usize,
            nrings as usize,
            bucket0 as usize,
            nbuckets as usize,
            mode,
        );
        Ok(())
    }

    /// A bucket's state (ring, reference count, group, mode).
    pub fn bucket(&self, bucket: u32) -> Result<Bucket> {
        self.lb
            .bucket(bucket as usize)
            .copied()
            .ok_or(Error::BadBucket)
    }

    /// The rings of a NotifGroup.
    pub fn group_rings(&self, group: u32) -> Result<Vec<u8>> {
        if !self.group_alloc.is_allocated(group) {
            return Err(Error::BadNotifGroup);
        }
        Ok(self.lb.group_rings(group as usize).collect())
    }

    /// `gxio_mpipe_credit`: returns `n` credits to `ring` (ring space) and/or
    /// `bucket` (one reference per credit, for dynamic flow affinity).
    /// Crediting more than is outstanding is refused (`BAD_NOTIF_RING` /
    /// `BAD_BUCKET`) and counted.
    pub fn credit(&mut self, ring: Option<u32>, bucket: Option<u32>, n: u32) -> Result<()> {
        if let Some(r) = ring {
            self.ring_mut(r)?.credit(u64::from(n))?;
        }
        if let Some(b) = bucket {
            self.lb
                .credit(b as usize, u16::try_from(n).map_err(|_| Error::BadBucket)?)?;
        }
        Ok(())
    }

    pub(crate) fn ring_mut(&mut self, ring: u32) -> Result<&mut NotifRing> {
        self.rings
            .get_mut(ring as usize)
            .and_then(|r| r.as_mut())
            .ok_or(Error::BadNotifRing)
    }

    pub(crate) fn ring_ref(&self, ring: u32) -> Result<&NotifRing> {
        self.rings
            .get(ring as usize)
            .and_then(|r| r.as_ref())
            .ok_or(Error::BadNotifRing)
    }

    /// The ring's counters.
    pub fn ring_stats(&self, ring: u32) -> Result<RingStats> {
        Ok(self.ring_ref(ring)?.stats)
    }

    /// Descriptors delivered to the ring and not yet credited.
    pub fn ring_outstanding(&self, ring: u32) -> Result<usize> {
        Ok(self.ring_ref(ring)?.outstanding())
    }

    pub(crate) fn read_idesc(&self, ring: &NotifRing, k: u64) -> Result<IDesc> {
        let bytes = self
            .mem
            .slice(ring.slot_va(k), IDESC_BYTES)
            .ok_or(Error::BadNotifRing)?;
        let mut a = [0u8; 64];
        a.copy_from_slice(bytes);
        Ok(IDesc::from_bytes(&a))
    }

    /// `gxio_mpipe_iqueue_try_get`: copies and consumes the next descriptor
    /// (advance, then ring and bucket credits), or `IQUEUE_EMPTY`.
    pub fn iqueue_try_get(&mut self, ring: u32) -> Result<IDesc> {
        let d = self.iqueue_peek(ring)?;
        self.iqueue_consume(ring, &d)?;
        Ok(d)
    }

    /// `gxio_mpipe_iqueue_try_peek`: how many descriptors are ready,
    /// contiguous from the head to the end of the ring; `IQUEUE_EMPTY` if 0.
    pub fn iqueue_try_peek(&self, ring: u32) -> Result<usize> {
        match self.ring_ref(ring)?.ready_contiguous() {
            0 => Err(Error::IqueueEmpty),
            n => Ok(n),
        }
    }

    /// A copy of the `i`-th ready descriptor from the head (`i` less than
    /// `iqueue_try_peek`'s count), without consuming it.
    pub fn iqueue_peek_at(&self, ring: u32, i: usize) -> Result<IDesc> {
        let r = self.ring_ref(ring)?;
        if i >= r.ready() {
            return Err(Error::IqueueEmpty);
        }
        self.read_idesc(r, r.head + i as u64)
    }

    /// A copy of the next descriptor, without consuming it.
    pub fn iqueue_peek(&self, ring: u32) -> Result<IDesc> {
        self.iqueue_peek_at(ring, 0)
    }

    /// `gxio_mpipe_iqueue_advance`: moves the head by `n` (no credit).
    pub fn iqueue_advance(&mut self, ring: u32, n: usize) -> Result<()> {
        let r = self.ring_mut(ring)?;
        if n > r.ready() {
            return Err(Error::IqueueEmpty);
        }
        r.head += n as u64;
        Ok(())
    }

    /// `gxio_mpipe_iqueue_release`: credits the descriptor's ring, and its
    /// bucket unless `nr` is set.
    pub fn iqueue_release(&mut self, idesc: &IDesc) -> Result<()> {
        let bucket = (!idesc.nr()).then_some(u32::from(idesc.bucket_id()));
        self.credit(Some(u32::from(idesc.notif_ring())), None, 1)?;
        if let Some(b) = bucket {
            // Static modes keep no references; a refused DFA credit is a
            // caller error already counted by the ring check above.
            let _ = self.lb.credit(b as usize, 1);
        }
        Ok(())
    }

    /// `gxio_mpipe_iqueue_consume`: advance by one and release `idesc`.
    pub fn iqueue_consume(&mut self, ring: u32, idesc: &IDesc) -> Result<()> {
        self.iqueue_advance(ring, 1)?;
        self.iqueue_release(idesc)
    }

    /// `gxio_mpipe_iqueue_drop`: returns the packet's buffers (the whole
    /// chain, where MDE's version pushes only the first buffer: a FIXME in
    /// its header). Does not consume the descriptor.
    pub fn iqueue_drop(&mut self, idesc: &IDesc) -> usize {
        self.return_packet_buffers(idesc)
    }

    /// `gxio_mpipe_iqueue_drop_if_bad`: when `idesc.is_bad()`, drops it
    /// (returning its buffers) and returns true; the caller still consumes.
    pub fn iqueue_drop_if_bad(&mut self, idesc: &IDesc) -> bool {
        if idesc.is_bad() {
            self.iqueue_drop(idesc);
            true
        } else {
            false
        }
    }
}
