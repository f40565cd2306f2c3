//! The context (`gxio_mpipe_context_t`, fact sheet §1): one emulated mPIPE
//! instance with its resources, memory, links and clock, and the safe API
//! over them. The ingress path is in [`crate::ingress`].

use crate::buffer_stack::{BufferSize, BufferStack, StackStats};
use crate::desc::{BDesc, Chain, EDesc, IDesc};
use crate::edma::{EdmaRing, EdmaStats, EDESC_BYTES};
use crate::error::{Error, Result};
use crate::hash::{FlowHasher, MICROSOFT_RSS_KEY};
use crate::lb::{Bucket, BucketMode, LoadBalancer, NUM_BUCKETS, NUM_NOTIF_GROUPS, NUM_NOTIF_RINGS};
use crate::link::{self, EgressQueue, Link, LinkState, NUM_CHANNELS};
use crate::mem::Memory;
use crate::notif::{NotifRing, RingStats, IDESC_BYTES};
use crate::resource::Allocator;
use crate::rules::{Rule, Rules, STACK_DROP};

/// Number of buffer stacks.
pub const NUM_BUFFER_STACKS: usize = 32;
/// Number of eDMA rings available to applications.
pub const NUM_EDMA_RINGS: usize = 24;
/// Most buffers one stack holds in the emulator (its entries are allocated
/// when the stack is initialized).
pub const MAX_STACK_BUFFERS: usize = 1 << 20;
/// Most buffers followed when walking one ingress chain.
pub(crate) const MAX_CHAIN: usize = 256;
/// Largest egress queue per link, in bytes.
pub const MAX_EGRESS_QUEUE_BYTES: u32 = 1 << 28;
/// Largest egress queue per link, in frames.
pub const MAX_EGRESS_QUEUE_FRAMES: u32 = 1 << 20;
/// Nanoseconds per second.
const NS: u64 = 1_000_000_000;

/// Emulator settings, fixed when the context is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Config {
    /// The mPIPE instance (0 or 1), written to descriptors' `inst`.
    pub instance: u8,
    /// Link MAC addresses: this, with the channel added to the last octet.
    pub mac_base: [u8; 6],
    /// The Toeplitz key of the flow hash.
    pub hash_key: [u8; 40],
    /// As the default classifier: drop packets with bad IPv4 headers and
    /// with me/tr/ce errors. When false they are delivered, marked (status
    /// 0x80 / the error bits), for `drop_if_bad` to handle.
    pub drop_bad: bool,
    /// Insert hardware timestamps (`ts` and word 6) into idescs.
    pub timestamps: bool,
    /// Bytes of each open link's egress queue.
    pub egress_queue_bytes: u32,
    /// Frames each open link's egress queue holds.
    pub egress_queue_frames: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            instance: 0,
            mac_base: [0x02, 0x00, 0x5E, 0x00, 0x00, 0x00],
            hash_key: MICROSOFT_RSS_KEY,
            drop_bad: true,
            timestamps: true,
            egress_queue_bytes: 1 << 20,
            egress_queue_frames: 1024,
        }
    }
}

/// Counters of the whole context (ingress drops have one counter each).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Stats {
    /// Frames offered by `inject`.
    pub rx_frames: u64,
    /// Frames delivered to a NotifRing.
    pub rx_delivered: u64,
    /// Bytes written to ingress buffers.
    pub rx_bytes: u64,
    /// Delivered with `be` (a stack ran empty).
    pub rx_buffer_errors: u64,
    /// Dropped: no opener uses the link's data path.
    pub drop_not_open: u64,
    /// Dropped: the link is down.
    pub drop_link_down: u64,
    /// Dropped: shorter than an Ethernet header.
    pub drop_runt: u64,
    /// Dropped: longer than the link accepts (see `RECEIVE_JUMBO`).
    pub drop_oversize: u64,
    /// Dropped: me/tr/ce errors.
    pub drop_errors: u64,
    /// Dropped: bad IPv4 header (checksum, version, lengths).
    pub drop_bad_l3: u64,
    /// Dropped: no rule matched.
    pub drop_no_rule: u64,
    /// Dropped: the rule has no stack for the size (255, or none fits).
    pub drop_no_stack: u64,
    /// Dropped: size + headroom + tailroom exceeds the rule's capacity.
    pub drop_capacity: u64,
    /// Dropped: the bucket is not initialized.
    pub drop_no_bucket: u64,
    /// Dropped: the load balancer found no ring with room.
    pub drop_ring_full: u64,
    /// Egress frames sent on some link.
    pub tx_frames: u64,
    /// Egress bytes sent.
    pub tx_bytes: u64,
}

/// Why `inject` dropped a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// No opener uses the link's data path.
    NotOpen,
    /// The link is down.
    LinkDown,
    /// Shorter than 14 bytes.
    Runt,
    /// Longer than the link accepts.
    Oversize,
    /// me/tr/ce error (with `drop_bad`).
    Errors,
    /// Bad IPv4 header (with `drop_bad`).
    BadL3,
    /// No rule matched.
    NoRule,
    /// No stack for this size.
    NoStack,
    /// Over the rule's capacity.
    Capacity,
    /// The bucket is not initialized.
    NoBucket,
    /// The NotifRing(s) were full.
    RingFull,
}

/// What happened to an injected frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Delivered to `ring` through `bucket`; `be` if buffers ran out.
    Delivered {
        /// The NotifRing.
        ring: u8,
        /// The bucket.
        bucket: u16,
        /// Whether the idesc has `be` set.
        be: bool,
    },
    /// Dropped.
    Dropped(DropReason),
}

/// Errors to mark an injected frame with, as the MAC would.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InjectErrors {
    /// MAC FIFO overrun.
    pub me: bool,
    /// Truncated (iPkt buffer full); the bytes given are what was kept.
    pub tr: bool,
    /// CRC / L2 error.
    pub ce: bool,
}

impl InjectErrors {
    /// Whether any error is set.
    pub fn any(&self) -> bool {
        self.me || self.tr || self.ce
    }
}

/// The buffers and bytes of one received packet, in order (see
/// [`Context::packet_segments`]).
pub struct Segments<'a> {
    mem: &'a Memory,
    cur: Option<BDesc>,
    remaining: usize,
    steps: usize,
}

impl<'a> Iterator for Segments<'a> {
    type Item = (BDesc, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let cur = self.cur.take()?;
        if !cur.is_valid() || self.remaining == 0 || self.steps >= MAX_CHAIN {
            return None;
        }
        self.steps += 1;
        let size = BufferSize::from_enum(u32::from(cur.size())).ok()?.bytes();
        let take = self.remaining.min(size.saturating_sub(cur.offset()));
        let bytes = self.mem.slice(cur.va() as u64, take)?;
        self.remaining -= take;
        if cur.c() == Chain::Chained && self.remaining > 0 {
            self.cur = self.mem.read_u64(cur.buffer_va() as u64).map(BDesc);
        }
        Some((cur, bytes))
    }
}

/// One emulated mPIPE instance and the application's view of it.
///
/// All state is owned; nothing depends on the wall clock or OS randomness.
pub struct Context {
    pub(crate) config: Config,
    pub(crate) hasher: FlowHasher,
    pub(crate) time_ns: u64,
    clock_offset_ns: i128,
    pub(crate) mem: Memory,
    stack_alloc: Allocator,
    pub(crate) stacks: Vec<Option<BufferStack>>,
    pub(crate) size_stacks: [u8; 8],
    ring_alloc: Allocator,
    pub(crate) rings: Vec<Option<NotifRing>>,
    group_alloc: Allocator,
    bucket_lo: Allocator,
    bucket_hi: Allocator,
    pub(crate) lb: LoadBalancer,
    edma_alloc: Allocator,
    erings: Vec<Option<EdmaRing>>,
    pub(crate) links: Vec<Option<LinkState>>,
    pub(crate) rules: Vec<Rule>,
    pub(crate) stats: Stats,
    pub(crate) packet_sqn: u64,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("instance", &self.config.instance)
            .field("time_ns", &self.time_ns)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// `gxio_mpipe_init` with default settings for `instance` (0 or 1).
    pub fn init(instance: u32) -> Result<Context> {
        let instance = u8::try_from(instance).map_err(|_| Error::NoDevice)?;
        Context::new(Config {
            instance,
            ..Config::default()
        })
    }

    /// A context with these settings; `NO_DEVICE` for an instance above 1,
    /// `BAD_CONFIG` for an egress queue that is empty or larger than
    /// [`MAX_EGRESS_QUEUE_BYTES`] / [`MAX_EGRESS_QUEUE_FRAMES`].
    pub fn new(config: Config) -> Result<Context> {
        if config.instance > 1 {
            return Err(Error::NoDevice);
        }
        if config.egress_queue_bytes == 0
            || config.egress_queue_frames == 0
            || config.egress_queue_bytes > MAX_EGRESS_QUEUE_BYTES
            || config.egress_queue_frames > MAX_EGRESS_QUEUE_FRAMES
        {
            return Err(Error::BadConfig);
        }
        let links = (0..NUM_CHANNELS as u8)
            .map(|ch| link::name_of(ch).map(|_| LinkState::new(ch, config.mac_base)))
            .collect();
        Ok(Context {
            config,
            hasher: FlowHasher {
                key: config.hash_key,
            },
            time_ns: 0,
            clock_offset_ns: 0,
            mem: Memory::default(),
            stack_alloc: Allocator::new(0, NUM_BUFFER_STACKS as u32, 1),
            stacks: (0..NUM_BUFFER_STACKS).map(|_| None).collect(),
            size_stacks: [STACK_DROP; 8],
            ring_alloc: Allocator::new(0, NUM_NOTIF_RINGS as u32, 8),
            rings: (0..NUM_NOTIF_RINGS).map(|_| None).collect(),
            group_alloc: Allocator::new(0, NUM_NOTIF_GROUPS as u32, 1),
            bucket_lo: Allocator::new(0, 4096, 256),
            bucket_hi: Allocator::new(4096, (NUM_BUCKETS - 4096) as u32, 4),
            lb: LoadBalancer::new(),
            edma_alloc: Allocator::new(0, NUM_EDMA_RINGS as u32, 1),
            erings: (0..NUM_EDMA_RINGS).map(|_| None).collect(),
            links,
            rules: Vec::new(),
            stats: Stats::default(),
            packet_sqn: 0,
        })
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The flow hash function (to predict which bucket a flow lands in).
    pub fn flow_hasher(&self) -> &FlowHasher {
        &self.hasher
    }

    /// The context's counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    // ---- time ----------------------------------------------------------

    /// Sets the owner's time in nanoseconds (the emulator has no clock).
    pub fn set_time(&mut self, ns: u64) {
        self.time_ns = ns;
    }

    /// The owner's time last set.
    pub fn time(&self) -> u64 {
        self.time_ns
    }

    /// The mPIPE clock in nanoseconds: owner time plus the offset set by
    /// `set_timestamp`/`adjust_timestamp`, never below 0.
    pub fn timestamp_ns(&self) -> u64 {
        (i128::from(self.time_ns) + self.clock_offset_ns).clamp(0, i128::from(u64::MAX)) as u64
    }

    /// `gxio_mpipe_get_timestamp`: the mPIPE clock as (seconds, nanoseconds).
    pub fn get_timestamp(&self) -> (u64, u32) {
        let t = self.timestamp_ns();
        (t / NS, (t % NS) as u32)
    }

    /// `gxio_mpipe_set_timestamp`: sets the mPIPE clock (`nsec < 1e9`).
    pub fn set_timestamp(&mut self, sec: u64, nsec: u32) -> Result<()> {
        if u64::from(nsec) >= NS {
            return Err(Error::BadConfig);
        }
        let target = i128::from(sec) * i128::from(NS) + i128::from(nsec);
        self.clock_offset_ns = target - i128::from(self.time_ns);
        Ok(())
    }

    /// `gxio_mpipe_adjust_timestamp`: moves the clock by `delta` ns
    /// (|delta| ≤ 1e9, else `BAD_CONFIG`).
    pub fn adjust_timestamp(&mut self, delta: i64) -> Result<()> {
        if delta.unsigned_abs() > NS {
            return Err(Error::BadConfig);
        }
        self.clock_offset_ns += i128::from(delta);
        Ok(())
    }

    // ---- memory --------------------------------------------------------

    /// Maps `bytes` of zeroed memory aligned to `align` (a power of two),
    /// owned by the context (the emulator's `tmc_alloc_map`); returns its
    /// address, which fits the descriptors' 42-bit `va` fields.
    pub fn alloc_memory(&mut self, bytes: usize, align: usize) -> Result<u64> {
        self.mem.map(bytes, align)
    }

    // ---- buffer stacks -------------------------------------------------

    /// `gxio_mpipe_alloc_buffer_stacks`.
    pub fn alloc_buffer_stacks(&mut self, count: u32, first: u32, flags: u32) -> Result<u32> {
        self.stack_alloc
            .alloc(count, first, flags)
            .ok_or(Error::NoBufferStack)
    }

    fn stack_mut(&mut self, stack: u32) -> Result<&mut BufferStack> {
        self.stacks
            .get_mut(stack as usize)
            .and_then(|s| s.as_mut())
            .ok_or(Error::BadBufferStack)
    }

    fn stack_ref(&self, stack: u32) -> Result<&BufferStack> {
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
        let size = BufferSize::from_enum(u32::from(bdesc.size()))?.bytes();
        self.mem
            .slice(bdesc.buffer_va() as u64, size)
            .ok_or(Error::IotlbEntry)
    }

    /// The whole buffer `bdesc` describes, for writing (e.g. an egress
    /// frame into a popped buffer).
    pub fn buffer_mut(&mut self, bdesc: BDesc) -> Result<&mut [u8]> {
        let size = BufferSize::from_enum(u32::from(bdesc.size()))?.bytes();
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
    pub fn packet_segments(&self, idesc: &IDesc) -> Segments<'_> {
        Segments {
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

    // ---- NotifRings, groups, buckets -------------------------------------

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

    fn bucket_allocated(&self, b: u32) -> bool {
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

    // ---- iqueues -------------------------------------------------------

    fn read_idesc(&self, ring: &NotifRing, k: u64) -> Result<IDesc> {
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

    // ---- eDMA rings and equeues ----------------------------------------

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

    fn ering_mut(&mut self, ering: u32) -> Result<&mut EdmaRing> {
        self.erings
            .get_mut(ering as usize)
            .and_then(|r| r.as_mut())
            .ok_or(Error::BadEdmaRing)
    }

    fn ering_ref(&self, ering: u32) -> Result<&EdmaRing> {
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
    fn expand_slot(r: &EdmaRing, slot: u64) -> u64 {
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
    fn run_edma(&mut self, i: usize) {
        let Some(ring) = self.erings[i].as_mut() else {
            return;
        };
        while let Some(done) = ring.step(&self.mem, &mut self.stacks) {
            if !done {
                continue;
            }
            let frame = ring.frame();
            let len = frame.len() as u64;
            // 0 = sent, 1 = discarded (link down), 2 = no room on the wire.
            let outcome = match self.links[usize::from(ring.channel)].as_mut() {
                Some(l) if !l.up() && l.discard_if_down => 1,
                Some(l) => l
                    .egress
                    .as_mut()
                    .map_or(2, |q| if q.push(frame) { 0 } else { 2 }),
                None => 2,
            };
            match outcome {
                0 => {
                    ring.stats.frames += 1;
                    ring.stats.bytes += len;
                    self.stats.tx_frames += 1;
                    self.stats.tx_bytes += len;
                }
                1 => ring.stats.discarded_down += 1,
                _ => ring.stats.wire_overflow += 1,
            }
            ring.finish_packet();
        }
    }

    // ---- links ---------------------------------------------------------

    /// The channel of an open link with a data path, or `BAD_CHANNEL`.
    fn open_channel(&self, channel: u32) -> Result<u8> {
        match self.links.get(channel as usize).and_then(|l| l.as_ref()) {
            Some(l) if l.data_open() => Ok(l.channel),
            _ => Err(Error::BadChannel),
        }
    }

    /// Channels of links opened with a data path, as a bit mask.
    pub fn open_channels(&self) -> u32 {
        self.links
            .iter()
            .flatten()
            .filter(|l| l.data_open())
            .fold(0, |m, l| m | (1 << l.channel))
    }

    /// `gxio_mpipe_link_open`: opens a link by name (`gbeN`, `xgbeN`,
    /// `loopN`; else `GXIO_ERR_NO_DEVICE`). Flags default to DATA, STATS,
    /// CTL and AUTO_UPDOWN; an exclusive open of a link already open (or
    /// any open of an exclusively held one) is `GXIO_ERR_BUSY`.
    pub fn link_open(&mut self, name: &str, flags: u32) -> Result<Link> {
        let ch = link::channel_of(name).ok_or(Error::NoDevice)?;
        let f = link::effective_flags(flags)?;
        let (bytes, frames) = (
            self.config.egress_queue_bytes as usize,
            self.config.egress_queue_frames as usize,
        );
        let l = self.links[usize::from(ch)]
            .as_mut()
            .ok_or(Error::NoDevice)?;
        l.open(f)?;
        if l.data_open() && l.egress.is_none() {
            l.egress = Some(EgressQueue::new(bytes, frames));
        }
        Ok(Link {
            channel: ch,
            flags: f,
        })
    }

    fn link_mut(&mut self, channel: u8) -> Result<&mut LinkState> {
        self.links
            .get_mut(usize::from(channel))
            .and_then(|l| l.as_mut())
            .ok_or(Error::BadChannel)
    }

    fn link_state(&self, channel: u8) -> Result<&LinkState> {
        self.links
            .get(usize::from(channel))
            .and_then(|l| l.as_ref())
            .ok_or(Error::BadChannel)
    }

    /// `gxio_mpipe_link_close`; `BAD_CONFIG` if this open was closed already.
    pub fn link_close(&mut self, link: Link) -> Result<()> {
        self.link_mut(link.channel)?.close(link.flags)
    }

    /// `gxio_mpipe_link_get_attr`.
    pub fn link_get_attr(&self, link: &Link, attr: u32) -> Result<u64> {
        self.link_state(link.channel)?.get_attr(attr)
    }

    /// `gxio_mpipe_link_set_attr`; read-only attributes are `GXIO_ERR_PERM`.
    pub fn link_set_attr(&mut self, link: &Link, attr: u32, value: u64) -> Result<()> {
        self.link_mut(link.channel)?.set_attr(attr, value)
    }

    /// The MAC address of the link on `channel`.
    pub fn link_mac(&self, channel: u8) -> Result<[u8; 6]> {
        Ok(self.link_state(channel)?.mac)
    }

    /// Whether the link on `channel` is up.
    pub fn link_is_up(&self, channel: u8) -> Result<bool> {
        Ok(self.link_state(channel)?.up())
    }

    /// Emulator only: plugs (`true`) or unplugs the cable of a link. A link
    /// is up when its cable is plugged in (the default) and a desired state
    /// is set (by AUTO_UP/AUTO_UPDOWN on open, or `DESIRED_STATE`).
    pub fn set_carrier(&mut self, channel: u8, plugged: bool) -> Result<()> {
        self.link_mut(channel)?.carrier = plugged;
        Ok(())
    }

    // ---- rules ---------------------------------------------------------

    /// `gxio_mpipe_rules_commit`: parses the list (`RULES_CORRUPT`) and
    /// checks every rule's buckets are allocated (`BAD_BUCKET`) and its
    /// stacks initialized (`BAD_BUFFER_STACK`), then replaces the
    /// classifier's rules. An empty list matches nothing.
    pub fn commit_rules(&mut self, rules: &Rules) -> Result<()> {
        let parsed = rules.parse()?;
        for r in &parsed {
            let n = r.bucket_mask.checked_add(1).ok_or(Error::BadBucket)?;
            if r.bucket_first
                .checked_add(n)
                .is_none_or(|e| e as usize > NUM_BUCKETS)
                || (r.bucket_first..r.bucket_first + n).any(|b| !self.bucket_allocated(b))
            {
                return Err(Error::BadBucket);
            }
            if let Some(st) = r.stacks {
                if st.iter().any(|&s| {
                    s != STACK_DROP && self.stacks.get(usize::from(s)).is_none_or(|s| s.is_none())
                }) {
                    return Err(Error::BadBufferStack);
                }
            }
        }
        self.rules = parsed;
        Ok(())
    }

    // ---- the wire: egress ----------------------------------------------

    fn egress_queue(&mut self, channel: u8) -> Result<&mut EgressQueue> {
        self.link_mut(channel)?
            .egress
            .as_mut()
            .ok_or(Error::BadChannel)
    }

    /// Emulator only: egress frames waiting on `channel`.
    pub fn egress_len(&self, channel: u8) -> Result<usize> {
        Ok(self
            .link_state(channel)?
            .egress
            .as_ref()
            .map_or(0, |q| q.len()))
    }

    /// Emulator only: the oldest egress frame of `channel`, without
    /// removing it.
    pub fn egress_peek(&self, channel: u8) -> Result<Option<&[u8]>> {
        Ok(self
            .link_state(channel)?
            .egress
            .as_ref()
            .and_then(|q| q.front()))
    }

    /// Emulator only: moves the oldest egress frame of `channel` into
    /// `out`; returns its length, `None` if there is none, `BAD_CONFIG`
    /// (frame kept) if `out` is too small.
    pub fn egress_pop(&mut self, channel: u8, out: &mut [u8]) -> Result<Option<usize>> {
        let q = self.egress_queue(channel)?;
        let Some(f) = q.front() else {
            return Ok(None);
        };
        let dst = out.get_mut(..f.len()).ok_or(Error::BadConfig)?;
        dst.copy_from_slice(f);
        let n = f.len();
        q.pop();
        Ok(Some(n))
    }

    /// Emulator only: hands every egress frame of `channel` to `f`, oldest
    /// first, and removes them; returns how many.
    pub fn drain_egress(&mut self, channel: u8, mut f: impl FnMut(&[u8])) -> Result<usize> {
        let q = self.egress_queue(channel)?;
        let mut n = 0;
        while let Some(frame) = q.front() {
            f(frame);
            q.pop();
            n += 1;
        }
        Ok(n)
    }
}
