//! eDMA rings and equeues (fact sheet §1, §5): slot reservation, posting
//! with the generation bit, and the egress engine that gathers descriptors
//! into frames, inserts checksums, returns `hwb` buffers and counts
//! completions.
//!
//! The engine runs synchronously when a descriptor is posted: it consumes
//! descriptors in ring order while the next one carries the generation bit
//! of the current lap, so slots filled out of order (`put_at`) are sent in
//! slot order once the gap is filled.

use crate::context::Context;

use crate::buffer_stack::BufferStack;
use crate::classifier::{fold, sum16};
use crate::error::{Error, Result};
use crate::mem::Memory;
use mpipe_desc::{BDesc, Chain, EDesc};

/// The ring sizes the hardware accepts, in entries.
pub const EDMA_RING_ENTRIES: [usize; 4] = [512, 2048, 8192, 65536];
/// Bytes per egress descriptor.
pub const EDESC_BYTES: usize = 16;
/// Largest frame the engine assembles (bigger packets are discarded).
pub const MAX_EGRESS_FRAME: usize = 16384;
/// Most buffers followed in one chained descriptor.
const MAX_CHAIN: usize = 256;

/// Counters of one eDMA ring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct EdmaStats {
    /// Descriptors processed (the completion count).
    pub descriptors: u64,
    /// Frames handed to the link.
    pub frames: u64,
    /// Bytes handed to the link.
    pub bytes: u64,
    /// Packets not sent because a descriptor had `ns`.
    pub no_send: u64,
    /// Packets discarded: a descriptor pointed outside registered memory,
    /// a chain was broken, or the packet exceeded [`MAX_EGRESS_FRAME`].
    pub bad_packets: u64,
    /// Checksum requests that could not be applied (`csum_dest` or
    /// `csum_start` outside the packet).
    pub csum_errors: u64,
    /// `hwb` buffers returned to their stacks.
    pub buffers_returned: u64,
    /// `hwb` buffers that could not be returned (bad stack, size mismatch,
    /// stack full, outside the registered pages).
    pub return_errors: u64,
    /// Frames discarded because the link was down (`DISCARD_IF_DOWN`).
    pub discarded_down: u64,
    /// Frames dropped because the egress queue of the channel was full.
    pub wire_overflow: u64,
}

/// One initialized eDMA ring with its equeue state.
pub(crate) struct EdmaRing {
    pub(crate) channel: u8,
    va: u64,
    entries: usize,
    log2: u32,
    /// Slots ever reserved.
    tail: u64,
    /// Slots ever processed (= completed).
    head: u64,
    gather: Vec<u8>,
    bad: bool,
    ns: bool,
    csum: Option<(usize, usize, u16)>,
    pub(crate) stats: EdmaStats,
}

impl EdmaRing {
    /// Validates a ring of `bytes` at `va` (1 KB aligned, a supported size).
    pub(crate) fn new(channel: u8, va: u64, bytes: usize) -> Result<EdmaRing> {
        let entries = bytes / EDESC_BYTES;
        if !va.is_multiple_of(1024)
            || !bytes.is_multiple_of(EDESC_BYTES)
            || !EDMA_RING_ENTRIES.contains(&entries)
        {
            return Err(Error::InvalMemorySize);
        }
        Ok(EdmaRing {
            channel,
            va,
            entries,
            log2: entries.trailing_zeros(),
            tail: 0,
            head: 0,
            gather: Vec::with_capacity(MAX_EGRESS_FRAME),
            bad: false,
            ns: false,
            csum: None,
            stats: EdmaStats::default(),
        })
    }

    /// The descriptor words stored in ring memory for `slot`.
    pub(crate) fn stored(&self, mem: &Memory, slot: u64) -> Option<EDesc> {
        let at = self.va + (slot % self.entries as u64) * EDESC_BYTES as u64;
        Some(EDesc {
            words: [mem.read_u64(at)?, mem.read_u64(at + 8)?],
        })
    }

    /// Entries in the ring.
    pub(crate) fn entries(&self) -> usize {
        self.entries
    }

    /// Descriptors completed so far (64-bit; the hardware exposes 16 bits).
    pub(crate) fn completed(&self) -> u64 {
        self.head
    }

    /// `equeue_try_reserve(n)`: the first of `n` consecutive slots, or
    /// `GXIO_ERR_BUSY` when fewer than `n` are free (reserved slots that
    /// are not yet posted hold the engine, so waiting could never succeed).
    pub(crate) fn reserve(&mut self, n: u64) -> Result<u64> {
        if n == 0 || self.tail - self.head + n > self.entries as u64 {
            return Err(Error::Busy);
        }
        let slot = self.tail;
        self.tail += n;
        Ok(slot)
    }

    /// The generation bit for `slot`: 1 on the first lap, then alternating.
    pub(crate) fn gen_for(&self, slot: u64) -> u8 {
        (!(slot >> self.log2) & 1) as u8
    }

    /// Writes `edesc` into reserved `slot` (word 1, then word 0 with `gen`).
    pub(crate) fn put_at(&mut self, mem: &mut Memory, mut edesc: EDesc, slot: u64) -> Result<()> {
        if slot < self.head || slot >= self.tail {
            return Err(Error::BadConfig);
        }
        edesc.set_gen(self.gen_for(slot));
        let at = self.va + (slot % self.entries as u64) * EDESC_BYTES as u64;
        if !(mem.write_u64(at + 8, edesc.words[1]) && mem.write_u64(at, edesc.words[0])) {
            return Err(Error::BadEdmaRing);
        }
        Ok(())
    }

    /// Processes the next posted descriptor, if any: `None` when none is
    /// ready, `Some(true)` when it completed a frame to send (read it with
    /// [`Self::frame`], then call [`Self::finish_packet`]), `Some(false)`
    /// otherwise.
    pub(crate) fn step(
        &mut self,
        mem: &Memory,
        stacks: &mut [Option<BufferStack>],
    ) -> Option<bool> {
        if self.head >= self.tail {
            return None;
        }
        let at = self.va + (self.head % self.entries as u64) * EDESC_BYTES as u64;
        let w0 = mem.read_u64(at)?;
        let w1 = mem.read_u64(at + 8)?;
        let e = EDesc { words: [w0, w1] };
        if e.gen() != self.gen_for(self.head) {
            return None;
        }
        self.head += 1;
        self.stats.descriptors += 1;
        let pkt_off = self.gather.len();
        self.ns |= e.ns();
        if e.csum() && self.csum.is_none() {
            if u32::from(e.csum_dest()) >= e.xfer_size() {
                self.stats.csum_errors += 1;
                self.csum = Some((usize::MAX, usize::MAX, 0));
            } else {
                self.csum = Some((
                    pkt_off + usize::from(e.csum_start()),
                    pkt_off + usize::from(e.csum_dest()),
                    e.csum_seed_host(),
                ));
            }
        }
        self.fetch(mem, stacks, &e);
        if !e.bound() {
            return Some(false);
        }
        let csum = self.csum.take();
        let (bad, ns) = (self.bad, self.ns);
        self.bad = false;
        self.ns = false;
        if ns || bad {
            if ns {
                self.stats.no_send += 1;
            } else {
                self.stats.bad_packets += 1;
            }
            self.gather.clear();
            return Some(false);
        }
        match csum {
            Some((start, dest, seed)) if start != usize::MAX => {
                if start < self.gather.len() && dest + 2 <= self.gather.len() {
                    let sum = !fold(sum16(&self.gather[start..], u64::from(seed)));
                    self.gather[dest..dest + 2].copy_from_slice(&sum.to_be_bytes());
                } else {
                    self.stats.csum_errors += 1;
                }
            }
            _ => {}
        }
        Some(true)
    }

    /// The frame completed by the last `step` that returned `Some(true)`.
    pub(crate) fn frame(&self) -> &[u8] {
        &self.gather
    }

    /// Clears the gathered frame after the caller handled it.
    pub(crate) fn finish_packet(&mut self) {
        self.gather.clear();
    }

    fn append(&mut self, mem: &Memory, va: u64, len: usize) {
        if self.gather.len() + len > MAX_EGRESS_FRAME {
            self.bad = true;
            return;
        }
        match mem.slice(va, len) {
            Some(s) => self.gather.extend_from_slice(s),
            None => self.bad = true,
        }
    }

    fn give_back(&mut self, stacks: &mut [Option<BufferStack>], b: BDesc) {
        let ok = match stacks
            .get_mut(usize::from(b.stack_idx()))
            .and_then(|s| s.as_mut())
        {
            Some(s) if s.size() as u8 == b.size() => s.push(b.va() as u64).is_ok(),
            _ => false,
        };
        if ok {
            self.stats.buffers_returned += 1;
        } else {
            self.stats.return_errors += 1;
        }
    }

    /// Copies the descriptor's data and returns its buffers when `hwb`.
    fn fetch(&mut self, mem: &Memory, stacks: &mut [Option<BufferStack>], e: &EDesc) {
        let first = e.bdesc();
        let total = e.xfer_size() as usize;
        if !first.is_valid() {
            // No buffer (e.g. forwarding an idesc with `be` and no buffer):
            // nothing to fetch and nothing to return.
            if total > 0 {
                self.bad = true;
            }
            return;
        }
        if first.c() != Chain::Chained {
            self.append(mem, first.va() as u64, total);
            if first.hwb() {
                self.give_back(stacks, first);
            }
            return;
        }
        let mut cur = first;
        let mut remaining = total;
        for _ in 0..MAX_CHAIN {
            let size = cur.buffer_size().bytes();
            let off = cur.offset();
            let buffer = cur.buffer_va() as u64;
            let take = remaining.min(size.saturating_sub(off));
            self.append(mem, buffer + off as u64, take);
            remaining -= take;
            let next = if cur.c() == Chain::Chained {
                mem.read_u64(buffer)
            } else {
                None
            };
            if first.hwb() {
                self.give_back(stacks, cur);
            }
            match next {
                Some(n) if remaining > 0 && BDesc(n).is_valid() => cur = BDesc(n),
                _ => break,
            }
        }
        if remaining > 0 {
            self.bad = true;
        }
    }
}

/// eDMA rings and equeues of the context.
impl Context {
    /// `gxio_mpipe_alloc_edma_rings` (24 rings, one at a time).
    pub fn alloc_edma_rings(&mut self, count: u32, first: u32, flags: u32) -> Result<u32> {
        self.edma_alloc
            .alloc(count, first, flags)
            .ok_or(Error::NoEdmaRing)
    }

    /// Initializes eDMA ring `ering` for `channel` over `[va, va + bytes)`
    /// of the context's memory (the C face's `gxio_mpipe_init_edma_ring`).
    pub(crate) fn init_edma_ring_at(
        &mut self,
        ering: u32,
        channel: u32,
        va: u64,
        bytes: usize,
    ) -> Result<()> {
        if !self.edma_alloc.is_allocated(ering) {
            return Err(Error::BadEdmaRing);
        }
        let ch = self.open_channel(channel)?;
        let r = EdmaRing::new(ch, va, bytes)?;
        if !self.mem.zero(va, bytes) {
            return Err(Error::InvalMemorySize);
        }
        self.erings[ering as usize] = Some(r);
        Ok(())
    }

    /// `gxio_mpipe_equeue_init` with ring memory owned by the emulator:
    /// eDMA ring `ering` sending on `channel` (of an open link), `entries`
    /// entries (512, 2048, 8192 or 65536).
    pub fn equeue_init(&mut self, ering: u32, channel: u32, entries: usize) -> Result<()> {
        if !self.edma_alloc.is_allocated(ering) {
            return Err(Error::BadEdmaRing);
        }
        self.open_channel(channel)?;
        if !crate::edma::EDMA_RING_ENTRIES.contains(&entries) {
            return Err(Error::InvalMemorySize);
        }
        let bytes = entries * EDESC_BYTES;
        let va = self.mem.map(bytes, 1024)?;
        self.init_edma_ring_at(ering, channel, va, bytes)
    }

    pub(crate) fn ering_mut(&mut self, ering: u32) -> Result<&mut EdmaRing> {
        self.erings
            .get_mut(ering as usize)
            .and_then(|r| r.as_mut())
            .ok_or(Error::BadEdmaRing)
    }

    pub(crate) fn ering_ref(&self, ering: u32) -> Result<&EdmaRing> {
        self.erings
            .get(ering as usize)
            .and_then(|r| r.as_ref())
            .ok_or(Error::BadEdmaRing)
    }

    /// `gxio_mpipe_equeue_try_reserve`: `n` consecutive slots; returns the
    /// first as a 63-bit completion slot, or `GXIO_ERR_BUSY` when the ring
    /// has fewer than `n` free entries. (`equeue_reserve` would spin; here
    /// posted descriptors complete at once, so it returns the same error.)
    pub fn equeue_reserve(&mut self, ering: u32, n: u32) -> Result<u64> {
        self.ering_mut(ering)?.reserve(u64::from(n))
    }

    /// `gxio_mpipe_equeue_try_reserve_fast`: as `equeue_reserve`, the slot
    /// truncated to 24 bits (`equeue_put_at` accepts either form).
    pub fn equeue_reserve_fast(&mut self, ering: u32, n: u32) -> Result<u32> {
        Ok((self.equeue_reserve(ering, n)? & 0xFF_FFFF) as u32)
    }

    /// Expands a 24-bit slot to the full slot nearest at or after the
    /// engine's position.
    pub(crate) fn expand_slot(r: &EdmaRing, slot: u64) -> u64 {
        let head = r.completed();
        if slot >= 1 << 24 || head < 1 << 24 {
            return slot;
        }
        let full = (head & !0xFF_FFFF) | slot;
        if full < head {
            full + (1 << 24)
        } else {
            full
        }
    }

    /// `gxio_mpipe_equeue_put_at`: writes `edesc` into a reserved slot with
    /// its generation bit, then lets the eDMA engine run. `BAD_CONFIG` for a
    /// slot that is not reserved and unposted.
    pub fn equeue_put_at(&mut self, ering: u32, edesc: EDesc, slot: u64) -> Result<()> {
        let r = self
            .erings
            .get_mut(ering as usize)
            .and_then(|r| r.as_mut())
            .ok_or(Error::BadEdmaRing)?;
        let slot = Self::expand_slot(r, slot);
        r.put_at(&mut self.mem, edesc, slot)?;
        self.run_edma(ering as usize);
        Ok(())
    }

    /// `gxio_mpipe_equeue_put`: reserves one slot and posts `edesc` in it.
    pub fn equeue_put(&mut self, ering: u32, edesc: EDesc) -> Result<()> {
        let slot = self.equeue_reserve(ering, 1)?;
        self.equeue_put_at(ering, edesc, slot)
    }

    /// `gxio_mpipe_equeue_is_complete`: whether the descriptor in `slot`
    /// has been processed.
    pub fn equeue_is_complete(&self, ering: u32, slot: u64) -> Result<bool> {
        let r = self.ering_ref(ering)?;
        Ok(Self::expand_slot(r, slot) < r.completed())
    }

    /// The eDMA ring's rolling 16-bit count of completed descriptors.
    pub fn edma_completion_count(&self, ering: u32) -> Result<u16> {
        Ok(self.ering_ref(ering)?.completed() as u16)
    }

    /// The descriptor as stored in ring memory at `slot` (what the engine
    /// reads, generation bit included).
    pub fn edma_descriptor(&self, ering: u32, slot: u64) -> Result<EDesc> {
        let r = self.ering_ref(ering)?;
        r.stored(&self.mem, slot).ok_or(Error::BadEdmaRing)
    }

    /// The eDMA ring's entries.
    pub fn edma_entries(&self, ering: u32) -> Result<usize> {
        Ok(self.ering_ref(ering)?.entries())
    }

    /// The eDMA ring's counters.
    pub fn edma_stats(&self, ering: u32) -> Result<EdmaStats> {
        Ok(self.ering_ref(ering)?.stats)
    }

    /// Runs the engine of ring `i` until no posted descriptor is ready.
    pub(crate) fn run_edma(&mut self, i: usize) {
        loop {
            let Some(ring) = self.erings[i].as_mut() else {
                return;
            };
            let Some(done) = ring.step(&self.mem, &mut self.stacks) else {
                return;
            };
            if !done {
                continue;
            }
            let frame = ring.frame();
            let len = frame.len() as u64;
            let channel = ring.channel;
            // 0 = sent, 1 = discarded (link down), 2 = no room on the wire,
            // 3 = looped back to ingress.
            let outcome = match self.links[usize::from(channel)].as_mut() {
                Some(l) if !l.up() && l.discard_if_down => 1,
                Some(_) if crate::link::is_loopback(channel) => {
                    self.loop_scratch.clear();
                    self.loop_scratch.extend_from_slice(frame);
                    3
                }
                Some(l) => l
                    .egress
                    .as_mut()
                    .map_or(2, |q| if q.push(frame) { 0 } else { 2 }),
                None => 2,
            };
            match outcome {
                0 | 3 => {
                    ring.stats.frames += 1;
                    ring.stats.bytes += len;
                    self.stats.tx_frames += 1;
                    self.stats.tx_bytes += len;
                }
                1 => ring.stats.discarded_down += 1,
                _ => ring.stats.wire_overflow += 1,
            }
            ring.finish_packet();
            if outcome == 3 {
                // The loopback MAC hands the frame to its own ingress; what
                // happens to it there is counted like any injected frame.
                let frame = std::mem::take(&mut self.loop_scratch);
                let _ = self.inject(channel, &frame);
                self.loop_scratch = frame;
            }
        }
    }
}
