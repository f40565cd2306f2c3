//! The context (`gxio_mpipe_context_t`, fact sheet §1): one emulated mPIPE
//! instance owning its resources, memory, links and clock; its settings,
//! counters and time. Each resource's part of the safe API is an
//! `impl Context` block in that resource's module (`buffer_stack`, `notif`,
//! `edma`, `link`, `rules`); the ingress path is in `ingress`.

use crate::buffer_stack::BufferStack;
use crate::edma::EdmaRing;
use crate::error::{Error, Result};
use crate::hash::{FlowHasher, MICROSOFT_RSS_KEY};
use crate::lb::{LoadBalancer, NUM_BUCKETS, NUM_NOTIF_GROUPS, NUM_NOTIF_RINGS};
use crate::link::{self, LinkState, NUM_CHANNELS};
use crate::mem::Memory;
use crate::notif::NotifRing;
use crate::resource::Allocator;
use crate::rules::{Rule, STACK_DROP};

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
pub enum InjectDrop {
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
    Dropped(InjectDrop),
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

/// One emulated mPIPE instance and the application's view of it.
///
/// All state is owned; nothing depends on the wall clock or OS randomness.
pub struct Context {
    pub(crate) config: Config,
    pub(crate) hasher: FlowHasher,
    pub(crate) time_ns: u64,
    pub(crate) clock_offset_ns: i128,
    pub(crate) mem: Memory,
    pub(crate) stack_alloc: Allocator,
    pub(crate) stacks: Vec<Option<BufferStack>>,
    pub(crate) size_stacks: [u8; 8],
    pub(crate) ring_alloc: Allocator,
    pub(crate) rings: Vec<Option<NotifRing>>,
    pub(crate) group_alloc: Allocator,
    pub(crate) bucket_lo: Allocator,
    pub(crate) bucket_hi: Allocator,
    pub(crate) lb: LoadBalancer,
    pub(crate) edma_alloc: Allocator,
    pub(crate) erings: Vec<Option<EdmaRing>>,
    pub(crate) links: Vec<Option<LinkState>>,
    pub(crate) rules: Vec<Rule>,
    pub(crate) stats: Stats,
    pub(crate) packet_sqn: u64,
    /// A frame on its way from a loopback link's egress to its ingress.
    pub(crate) loop_scratch: Vec<u8>,
}

// A context can move to another thread (the C face shares it behind a mutex).
const _: fn() = || {
    fn assert_send<T: Send>() {}
    assert_send::<Context>();
};

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
            loop_scratch: Vec::with_capacity(crate::edma::MAX_EGRESS_FRAME),
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
}
