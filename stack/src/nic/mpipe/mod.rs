//! The mPIPE backend: a [`Driver`] per worker over Tilera's gxio mPIPE C
//! API (features `mpipe`, on x86 over `mpipe-emu`, and `mpipe-gxio`, on a
//! TILE-Gx over libgxio; see the README's "Hardware" section).
//!
//! [`MpipeNic::open`] (or [`MpipeNic::on_emulator`]) sets the NIC up once,
//! as the original Rusty did (`shared/mpipe.md` §6):
//!
//! * one link (`gbe0` by default), `RECEIVE_JUMBO` when asked;
//! * one buffer stack per size class with buffers, over pages from the
//!   context's DMA memory, every page registered, every buffer pushed;
//! * one NotifRing (iqueue) and one eDMA ring (equeue) per worker;
//! * [`BUCKETS`] load-balancer buckets in static flow affinity, bucket
//!   `i` to worker `i % workers`, and one classifier rule for the link's
//!   channel: so the queue of a flow is `(hash & 127) % workers`, exactly
//!   the stack's [`RssTable`] with its default indirection table.
//!
//! It returns one [`MpipeDriver`] per worker. A driver
//!
//! * receives with `iqueue_try_get` and hands the packet to the stack as
//!   a [`Frame`] over the very buffers the iDMA wrote (a lent
//!   [`crate::mem::buf::BufPool`] over the buffer-stack pages: no copy),
//!   chains included; bad packets (`idesc_is_bad`) are dropped and
//!   counted, and a frame's buffers go back to their stacks
//!   (`push_buffer`) when the stack drops it; a packet whose TCP checksum
//!   the classifier computed (`cs`) is marked verified
//!   ([`Frame::l4_checksum_verified`]), so the stack does not sum it again;
//! * allocates transmit frames by popping a buffer of the smallest fitting
//!   size class (`pop_buffer_bdesc`), and transmits with one egress
//!   descriptor per non-empty buffer (`bound` on the last) and `hwb`, so
//!   the eDMA returns the buffers to their stacks once sent;
//! * optionally lets the eDMA compute the TCP checksum
//!   ([`MpipeConfig::checksum_offload`]);
//! * tells the stack the classifier's flow hash when it is known
//!   ([`MpipeConfig::flow_hash_key`]), so active opens pick ephemeral
//!   ports whose replies land on the opening worker's queue.
//!
//! The gxio calls are all in the `gxio` module (safe wrappers, with the
//! `extern "C"` declarations in `ffi`), the lending of buffer memory in
//! `lend`; this module has no `unsafe`. Nothing allocates per packet.
//!
//! One thread runs every worker's driver here (the simulator and the
//! tests); frames and drivers are not `Send`. On the hardware each worker
//! would run its driver on its own tile; the gxio calls are safe to make
//! concurrently (MMIO), but sharing the set-up between threads is not
//! implemented.

#[allow(unsafe_code)]
mod ffi;
#[allow(unsafe_code)]
mod gxio;
#[allow(unsafe_code)]
mod lend;

use std::ffi::CString;
use std::fmt;
use std::ptr::NonNull;
use std::rc::Rc;

pub use self::gxio::GxioError;
pub use self::lend::RxError;

use self::gxio::{EqueueHandle, Gxio, IqueueHandle};
use crate::mem::buf::{
    class_for_len, BufPool, Frame, Lender, LentBuffer, LentSegment, NUM_CLASSES, SIZE_CLASSES,
};
use crate::nic::rss::{RssTable, KEY_LEN};
use crate::nic::{Capabilities, Driver, FlowSteering, TxFull};
use crate::wire::MacAddr;
use mpipe_desc::{BDesc, BufferSize, Chain, EDesc, IDesc, MAX_XFER_SIZE};

/// Load-balancer buckets of the rule: as many as the stack's RSS
/// indirection table has entries, so that the stack's prediction of a
/// flow's queue is exact for any number of workers.
pub const BUCKETS: u32 = crate::nic::rss::INDIRECTION_LEN as u32;

/// Largest number of workers: one eDMA ring each, and the hypervisor
/// lends 24.
pub const MAX_WORKERS: usize = 24;

/// Alignment of buffer-stack memory (64 KiB).
const STACK_ALIGN: usize = 64 * 1024;
/// Smallest page registered for buffers (64 KiB).
const MIN_PAGE: usize = 64 * 1024;
/// Pages a buffer stack may register (IOTLB entries).
const MAX_PAGES: usize = 16;
/// Headroom accepted by `hwb`: the low 7 bits of a descriptor's address.
const MAX_TX_OFFSET: usize = 127;

// The pool's size classes are the mPIPE's: a buffer's class index is the
// size enum its stack is initialized with and its descriptors carry.
const _: () = {
    assert!(NUM_CLASSES == BufferSize::ALL.len());
    let mut class = 0;
    while class < NUM_CLASSES {
        assert!(SIZE_CLASSES[class] == BufferSize::ALL[class].bytes());
        class += 1;
    }
};

/// Settings of an [`MpipeNic`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MpipeConfig {
    /// The link to open (`gbe0`, `xgbe0`, `loop0`, ...).
    pub link: String,
    /// Number of workers (queues), 1 to [`MAX_WORKERS`].
    pub workers: usize,
    /// Buffers of each size class (index into [`SIZE_CLASSES`]); a class
    /// with 0 gets no buffer stack. Shared by all workers, ingress and
    /// egress.
    pub buffers: [usize; NUM_CLASSES],
    /// Which class's stack receives a packet whose size class is `c`:
    /// `None` lets the classifier take the smallest class that holds the
    /// packet whole (no chaining, the rule's `stacks = NULL`);
    /// `Some(map)` puts packets of class `c` in buffers of class `map[c]`,
    /// chained by the iDMA when that class is smaller.
    pub rx_classes: Option<[usize; NUM_CLASSES]>,
    /// Entries of each worker's NotifRing (128, 512, 2048 or 65536).
    pub iqueue_entries: usize,
    /// Entries of each worker's eDMA ring (512, 2048, 8192 or 65536).
    pub equeue_entries: usize,
    /// Bytes the iDMA leaves before each packet (at most 127).
    pub headroom: u8,
    /// The MTU the stacks use (1500; up to 9000 with `jumbo`).
    pub mtu: usize,
    /// Accept frames up to 10240 bytes (`GXIO_MPIPE_LINK_RECEIVE_JUMBO`).
    pub jumbo: bool,
    /// Let the eDMA compute the TCP checksum of outgoing IPv4 segments
    /// (the driver clears the field and seeds the sum with the
    /// pseudo-header; the stack's own checksum is overwritten).
    pub checksum_offload: bool,
    /// The Toeplitz key of the classifier's flow hash, when it is known:
    /// mpipe-emu's is documented (by default Microsoft's RSS key); on the
    /// hardware it is whatever a custom classifier computes, and the
    /// default classifier's is unpublished. `None`: the stacks are told
    /// nothing, and active opens may see their replies on another worker.
    pub flow_hash_key: Option<[u8; KEY_LEN]>,
}

impl Default for MpipeConfig {
    /// `gbe0`, one worker, Rusty's buffer counts scaled down for tests
    /// (512 of each standard class, 64 of 4096, 32 of each jumbo class),
    /// no chaining, 512-entry iqueues, 2048-entry equeues, headroom 2,
    /// MTU 1500, no offload, flow hash unknown.
    fn default() -> Self {
        MpipeConfig {
            link: "gbe0".to_string(),
            workers: 1,
            buffers: [512, 512, 512, 512, 512, 64, 32, 32],
            rx_classes: None,
            iqueue_entries: 512,
            equeue_entries: 2048,
            headroom: 2,
            mtu: 1500,
            jumbo: false,
            checksum_offload: false,
            flow_hash_key: None,
        }
    }
}

/// Why the NIC could not be set up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MpipeError {
    /// A gxio call failed.
    Gxio(GxioError),
    /// The configuration is unusable; the text says why.
    Config(&'static str),
    /// The context could not map DMA memory of this many bytes.
    NoMemory(usize),
}

impl From<GxioError> for MpipeError {
    fn from(e: GxioError) -> Self {
        MpipeError::Gxio(e)
    }
}

impl fmt::Display for MpipeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MpipeError::Gxio(e) => write!(f, "{} returned {}", e.call, e.code),
            MpipeError::Config(why) => write!(f, "bad mPIPE configuration: {why}"),
            MpipeError::NoMemory(bytes) => write!(f, "no DMA memory for {bytes} bytes"),
        }
    }
}

impl std::error::Error for MpipeError {}

/// Counters of one worker's driver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MpipeStats {
    /// Frames handed to the stack.
    pub rx_frames: u64,
    /// Their bytes.
    pub rx_bytes: u64,
    /// Frames among them that the iDMA chained over several buffers.
    pub rx_chained: u64,
    /// Frames among them whose TCP or UDP checksum the classifier computed
    /// and found good (`cs` set and the descriptor not bad), handed to the
    /// stack as verified so it does not sum them again.
    pub rx_l4_verified: u64,
    /// Packets the descriptor marks bad (frame error, no buffer, bad IPv4
    /// header or L4 checksum): dropped, buffers returned.
    pub rx_bad: u64,
    /// Descriptors naming no buffer at all.
    pub rx_no_buffer: u64,
    /// Packets chained over more buffers than a frame holds.
    pub rx_chain_too_long: u64,
    /// Descriptors naming memory the pool does not know.
    pub rx_bad_descriptor: u64,
    /// Frames posted to the eDMA.
    pub tx_frames: u64,
    /// Their bytes.
    pub tx_bytes: u64,
    /// Transmit allocations that found the stack empty.
    pub tx_no_buffer: u64,
    /// Transmit allocations longer than any stack's buffers.
    pub tx_too_long: u64,
    /// Frames refused because the eDMA ring was full.
    pub tx_ring_full: u64,
    /// Frames from another pool, copied into this worker's buffers.
    pub tx_copied: u64,
    /// Frames dropped because a window starts too far into its buffer
    /// for `hwb` or is longer than a descriptor can send.
    pub tx_bad_window: u64,
    /// Frames whose TCP checksum the eDMA computed.
    pub tx_csum_offloaded: u64,
}

/// What every worker shares: the context, the stacks, the link.
struct Shared {
    gxio: Gxio,
    /// The buffer stack of each size class.
    stacks: [Option<u32>; NUM_CLASSES],
    channel: u32,
    mac: MacAddr,
    buffers: [usize; NUM_CLASSES],
    workers: usize,
    /// Worker `w`'s NotifRing is `ring0 + w`.
    ring0: u32,
    /// The link stays open while any worker or frame lives.
    _link: gxio::LinkHandle,
}

/// Returns a frame's buffers to their mPIPE stacks.
struct StackLender(Rc<Shared>);

impl Lender for StackLender {
    fn give_back(&self, buffer: LentBuffer) {
        if let Some(stack) = self.0.stacks[buffer.class] {
            self.0.gxio.push_buffer(stack, buffer.addr);
        }
    }
}

/// The mPIPE, set up for a number of workers; the owner's handle (the
/// workers hold [`MpipeDriver`]s).
pub struct MpipeNic {
    shared: Rc<Shared>,
}

impl fmt::Debug for MpipeNic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MpipeNic")
            .field("channel", &self.shared.channel)
            .field("mac", &self.shared.mac)
            .field("stacks", &self.shared.stacks)
            .field("workers", &self.shared.workers)
            .finish()
    }
}

impl MpipeNic {
    /// Opens the mPIPE instance of `config.link` (`gxio_mpipe_init`) and
    /// sets it up; returns the NIC and one driver per worker.
    pub fn open(config: &MpipeConfig) -> Result<(MpipeNic, Vec<MpipeDriver>), MpipeError> {
        let name = link_name(config)?;
        let instance = Gxio::link_instance(&name)?;
        MpipeNic::build(Gxio::init(instance)?, config)
    }

    /// Sets up an emulated mPIPE whose context the caller made
    /// (`mpipe_emu::c_abi::CContext::new`), so that it can keep driving
    /// the emulator (the wire, the clock) through [`MpipeNic::emulator`]
    /// while the backend uses it only through the gxio C face.
    #[cfg(feature = "mpipe")]
    pub fn on_emulator(
        ctx: mpipe_emu::c_abi::CContext,
        config: &MpipeConfig,
    ) -> Result<(MpipeNic, Vec<MpipeDriver>), MpipeError> {
        MpipeNic::build(Gxio::emulated(ctx), config)
    }

    /// The emulated context, for its owner (`None` if the NIC was opened
    /// with [`MpipeNic::open`]).
    #[cfg(feature = "mpipe")]
    pub fn emulator(&self) -> Option<&mpipe_emu::c_abi::CContext> {
        self.shared.gxio.emulator()
    }

    fn build(gxio: Gxio, config: &MpipeConfig) -> Result<(MpipeNic, Vec<MpipeDriver>), MpipeError> {
        check_config(config)?;
        let name = link_name(config)?;
        let mut link = gxio.link_open(&name, 0)?;
        let channel = link.channel()?;
        let mac = link.get_attr(ffi::LINK_MAC)?;
        let mac = MacAddr(core::array::from_fn(|i| (mac >> (40 - 8 * i)) as u8));
        if config.jumbo {
            link.set_attr(ffi::LINK_RECEIVE_JUMBO, 1)?;
        }

        // One stack per class, its buffers in registered pages.
        let mut stacks = [None; NUM_CLASSES];
        let mut segments: Vec<LentSegment> = Vec::new();
        for (class, &count) in config.buffers.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let stack = gxio.alloc_buffer_stacks(1)?;
            let stack_bytes = round_up(Gxio::calc_buffer_stack_bytes(count), STACK_ALIGN);
            let stack_mem = alloc(&gxio, stack_bytes, STACK_ALIGN)?;
            gxio.init_buffer_stack(stack, class, stack_mem, stack_bytes)?;
            let size = SIZE_CLASSES[class];
            let bytes = count * size;
            let page = bytes.div_ceil(MAX_PAGES).max(MIN_PAGE).next_power_of_two();
            let total = round_up(bytes, page);
            let base = alloc(&gxio, total, page)?;
            for p in 0..total / page {
                gxio.register_page(stack, offset(base, p * page), page)?;
            }
            for i in 0..count {
                gxio.push_buffer(stack, offset(base, i * size));
            }
            stacks[class] = Some(stack);
            segments.push(LentSegment { class, base, count });
        }

        // One NotifRing per worker, static buckets over them, one rule.
        let workers = config.workers as u32;
        let ring0 = gxio.alloc_notif_rings(workers)?;
        let ring_bytes = config.iqueue_entries * core::mem::size_of::<IDesc>();
        let mut iqueues = Vec::with_capacity(config.workers);
        for w in 0..workers {
            let mem = alloc(&gxio, ring_bytes, 4096)?;
            iqueues.push(gxio.iqueue(ring0 + w, mem, ring_bytes)?);
        }
        let group = gxio.alloc_notif_groups(1)?;
        let bucket0 = gxio.alloc_buckets(BUCKETS)?;
        gxio.init_static_buckets(group, ring0, workers, bucket0, BUCKETS)?;
        let rule_stacks = match config.rx_classes {
            None => None,
            Some(map) => {
                let mut ids = [255u8; NUM_CLASSES];
                for (c, id) in ids.iter_mut().enumerate() {
                    let target = map[c];
                    let stack = stacks.get(target).copied().flatten();
                    let stack = stack.ok_or(MpipeError::Config(
                        "rx_classes names a class without buffers",
                    ))?;
                    *id = stack as u8;
                }
                Some(ids)
            }
        };
        gxio.commit_rule(bucket0, BUCKETS, rule_stacks, config.headroom, channel)?;

        // One eDMA ring per worker on the link's channel.
        let eq_bytes = config.equeue_entries * core::mem::size_of::<EDesc>();
        let mut equeues = Vec::with_capacity(config.workers);
        for _ in 0..workers {
            let ering = gxio.alloc_edma_rings(1)?;
            let mem = alloc(&gxio, eq_bytes, 1024)?;
            equeues.push(gxio.equeue(ering, channel, mem, eq_bytes)?);
        }

        let shared = Rc::new(Shared {
            gxio,
            stacks,
            channel,
            mac,
            buffers: config.buffers,
            workers: config.workers,
            ring0,
            _link: link,
        });
        let steering = config.flow_hash_key.map(|key| FlowSteering {
            rss: RssTable::new(&key, config.workers as u16),
            queues: config.workers as u16,
        });
        // The buffers a full-sized frame lands in (its class, or the class
        // the rule maps it to).
        let rx_buffers =
            crate::mem::buf::class_for_len(config.mtu + crate::wire::ethernet::HEADER_LEN)
                .map(|c| config.rx_classes.map_or(c, |m| m[c]))
                .and_then(|c| config.buffers.get(c).copied())
                .unwrap_or_else(|| config.buffers.iter().sum());
        let mut drivers = Vec::with_capacity(config.workers);
        for (w, (iqueue, equeue)) in iqueues.into_iter().zip(equeues).enumerate() {
            let lender = Box::new(StackLender(Rc::clone(&shared)));
            let pool = lend::lent_pool(&segments, lender)
                .map_err(|_| MpipeError::Config("buffer pages overlap"))?;
            drivers.push(MpipeDriver {
                caps: Capabilities {
                    mac,
                    mtu: config.mtu,
                    queue: w as u16,
                    steering: steering.clone(),
                    // The buffer stacks are shared: each worker's share.
                    rx_buffers: Some(rx_buffers / config.workers.max(1)),
                    // Egress descriptors without `hwb` could point at
                    // application memory; not done yet: bodies are copied.
                    tx_references: false,
                },
                shared: Rc::clone(&shared),
                iqueue,
                equeue,
                pool,
                checksum_offload: config.checksum_offload,
                budget: usize::MAX,
                stats: MpipeStats::default(),
            });
        }
        Ok((MpipeNic { shared }, drivers))
    }

    /// The link's channel (the emulator's `inject`/`egress_pop` take it).
    pub fn channel(&self) -> u32 {
        self.shared.channel
    }

    /// The link's MAC address.
    pub fn mac(&self) -> MacAddr {
        self.shared.mac
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.shared.workers
    }

    /// The NotifRing of `worker`.
    pub fn notif_ring(&self, worker: usize) -> Option<u32> {
        (worker < self.shared.workers).then(|| self.shared.ring0 + worker as u32)
    }

    /// The worker whose NotifRing is `ring`.
    pub fn worker_of_ring(&self, ring: u32) -> Option<usize> {
        let w = ring.checked_sub(self.shared.ring0)? as usize;
        (w < self.shared.workers).then_some(w)
    }

    /// The buffer stack of size class `class`, if it has buffers.
    pub fn stack(&self, class: usize) -> Option<u32> {
        self.shared.stacks.get(class).copied().flatten()
    }

    /// Buffers of size class `class` pushed on its stack at set-up.
    pub fn buffers(&self, class: usize) -> usize {
        self.shared.buffers.get(class).copied().unwrap_or(0)
    }
}

/// One worker's queue pair: its iqueue and equeue, and a lent pool over
/// the shared buffer memory.
pub struct MpipeDriver {
    caps: Capabilities,
    shared: Rc<Shared>,
    iqueue: IqueueHandle,
    equeue: EqueueHandle,
    pool: BufPool,
    checksum_offload: bool,
    budget: usize,
    stats: MpipeStats,
}

impl fmt::Debug for MpipeDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MpipeDriver")
            .field("worker", &self.caps.queue)
            .field("held", &self.pool.in_use())
            .field("stats", &self.stats)
            .finish()
    }
}

impl MpipeDriver {
    /// The worker (queue) this driver serves.
    pub fn worker(&self) -> usize {
        usize::from(self.caps.queue)
    }

    /// Counters.
    pub fn stats(&self) -> &MpipeStats {
        &self.stats
    }

    /// mPIPE buffers owned by this worker's frames (received frames the
    /// stack holds, frames being built).
    pub fn held(&self) -> usize {
        self.pool.in_use()
    }

    /// The lent pool over the mPIPE's buffer memory.
    pub fn pool(&self) -> &BufPool {
        &self.pool
    }

    /// Receive at most `frames` more frames (the simulator's batch); by
    /// default there is no limit.
    pub fn set_budget(&mut self, frames: usize) {
        self.budget = frames;
    }

    /// Builds the checksum fields for a TCP/IPv4 frame whose headers lie
    /// in its first buffer, and clears its TCP checksum: `(csum_start,
    /// csum_dest, seed)`.
    fn offload_fields(frame: &mut Frame) -> Option<(u8, u8, u16)> {
        let first = frame.window(0)?;
        let h = first.get(..34)?;
        if h[12..14] != [0x08, 0x00] || h[23] != 6 {
            return None;
        }
        let ihl = usize::from(h[14] & 0x0f) * 4;
        let fragment = u16::from_be_bytes([h[20], h[21]]) & 0x3fff;
        let total = usize::from(u16::from_be_bytes([h[16], h[17]]));
        let l4 = 14 + ihl;
        let dest = l4 + 16;
        if ihl < 20 || fragment != 0 || dest + 2 > first.len() || dest > 255 {
            return None;
        }
        // The eDMA sums to the end of the frame: no padding after the IP
        // datagram.
        if 14 + total != frame.len() || total < ihl {
            return None;
        }
        let mut sum = 6u32 + (total - ihl) as u32;
        for pair in h[26..34].chunks_exact(2) {
            sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        let mut cursor = frame.cursor_mut();
        cursor.advance(dest).ok()?;
        cursor.write(&[0, 0]).ok()?;
        Some((l4 as u8, dest as u8, sum as u16))
    }
}

impl Driver for MpipeDriver {
    fn capabilities(&self) -> Capabilities {
        self.caps.clone()
    }

    fn receive(&mut self) -> Option<Frame> {
        while self.budget > 0 {
            let idesc = self.iqueue.try_get()?;
            let bad = gxio::idesc_is_bad(&idesc);
            match lend::adopt_packet(&self.pool, &idesc) {
                Ok(mut frame) if !bad => {
                    self.budget -= 1;
                    self.stats.rx_frames += 1;
                    self.stats.rx_bytes += frame.len() as u64;
                    self.stats.rx_chained += u64::from(frame.buffer_count() > 1);
                    // Receive checksum offload: with `cs` set, a descriptor
                    // that is not bad carries a TCP/UDP sum (pseudo-header
                    // included) of all ones, so the segment is intact.
                    if idesc.cs() {
                        frame.set_l4_checksum_verified(true);
                        self.stats.rx_l4_verified += 1;
                    }
                    return Some(frame);
                }
                // Dropping the frame pushes its buffers back.
                Ok(_) => self.stats.rx_bad += 1,
                Err(RxError::NoBuffer) => self.stats.rx_no_buffer += 1,
                Err(RxError::ChainTooLong) => self.stats.rx_chain_too_long += 1,
                Err(RxError::BadDescriptor) => self.stats.rx_bad_descriptor += 1,
            }
        }
        None
    }

    fn alloc_tx(&mut self, len: usize) -> Option<Frame> {
        let shared = &self.shared;
        let Some((class, stack)) = class_for_len(len)
            .and_then(|first| (first..NUM_CLASSES).find_map(|c| shared.stacks[c].map(|s| (c, s))))
        else {
            self.stats.tx_too_long += 1;
            return None;
        };
        let bdesc = shared.gxio.pop_buffer_bdesc(stack);
        if !bdesc.is_valid() {
            self.stats.tx_no_buffer += 1;
            return None;
        }
        match lend::adopt_popped(&self.pool, bdesc, len) {
            Ok(frame) => Some(frame),
            Err(_) => {
                // Not a buffer of ours after all: leave it on its stack.
                debug_assert!(false, "popped buffer {bdesc:?} of class {class} unknown");
                shared.gxio.push_buffer_bdesc(bdesc);
                self.stats.tx_no_buffer += 1;
                None
            }
        }
    }

    fn transmit(&mut self, frame: Frame) -> Result<(), TxFull> {
        let mut frame = frame;
        if !self.pool.owns(&frame) {
            let Some(mut copy) = self.alloc_tx(frame.len()) else {
                return Ok(());
            };
            if copy.cursor_mut().write_cursor(frame.cursor()).is_err() {
                return Ok(());
            }
            self.stats.tx_copied += 1;
            frame = copy;
        }
        let fits = frame
            .buffers()
            .all(|b| b.start <= MAX_TX_OFFSET && b.len <= MAX_XFER_SIZE);
        if !fits {
            self.stats.tx_bad_window += 1;
            return Ok(());
        }
        let parts = frame.buffers().filter(|b| b.len > 0).count();
        if parts == 0 {
            return Ok(());
        }
        let csum = if self.checksum_offload {
            MpipeDriver::offload_fields(&mut frame)
        } else {
            None
        };
        let Some(slot) = self.equeue.try_reserve(parts as u32) else {
            self.stats.tx_ring_full += 1;
            return Err(TxFull);
        };
        let len = frame.len() as u64;
        let shared = &*self.shared;
        let equeue = &mut self.equeue;
        let mut posted = 0u64;
        let handed = frame.into_lent(|span| {
            let Some(stack) = shared.stacks[span.class] else {
                return;
            };
            if span.len == 0 {
                shared.gxio.push_buffer(stack, span.buffer);
                return;
            }
            // Stack indices have 5 bits and classes 3 (`BDesc` keeps as
            // many); the window was checked against MAX_XFER_SIZE above.
            let addr = span.buffer.as_ptr() as i64 + span.start as i64;
            let bdesc = BDesc::new(addr, stack as u8, span.class as u8, Chain::Unchained);
            let mut edesc = EDesc::new(bdesc, span.len as u32, posted + 1 == parts as u64);
            if posted == 0 {
                if let Some((start, dest, seed)) = csum {
                    edesc = edesc.with_checksum(start, dest, seed);
                }
            }
            // The slot was reserved, so posting cannot fail.
            let put = equeue.put_at(edesc, slot + posted);
            debug_assert!(put.is_ok(), "{put:?}");
            posted += 1;
        });
        debug_assert!(handed.is_ok(), "own pool frames are lent");
        self.stats.tx_frames += 1;
        self.stats.tx_bytes += len;
        self.stats.tx_csum_offloaded += u64::from(csum.is_some());
        Ok(())
    }
}

fn check_config(config: &MpipeConfig) -> Result<(), MpipeError> {
    if config.workers == 0 || config.workers > MAX_WORKERS {
        return Err(MpipeError::Config("workers must be 1 to 24"));
    }
    if config.buffers.iter().all(|&n| n == 0) {
        return Err(MpipeError::Config("no buffers"));
    }
    if !matches!(config.iqueue_entries, 128 | 512 | 2048 | 65536) {
        return Err(MpipeError::Config(
            "iqueue entries must be 128, 512, 2048 or 65536",
        ));
    }
    if !matches!(config.equeue_entries, 512 | 2048 | 8192 | 65536) {
        return Err(MpipeError::Config(
            "equeue entries must be 512, 2048, 8192 or 65536",
        ));
    }
    if config.headroom > 127 {
        return Err(MpipeError::Config("headroom above 127"));
    }
    if config.mtu < 68 || config.mtu > if config.jumbo { 9000 } else { 1500 } {
        return Err(MpipeError::Config(
            "MTU must be 68 to 1500 (9000 with jumbo frames)",
        ));
    }
    if config
        .rx_classes
        .is_some_and(|m| m.iter().any(|&c| c >= NUM_CLASSES))
    {
        return Err(MpipeError::Config("rx_classes names no size class"));
    }
    Ok(())
}

fn link_name(config: &MpipeConfig) -> Result<CString, MpipeError> {
    CString::new(config.link.as_str()).map_err(|_| MpipeError::Config("link name with NUL"))
}

fn alloc(gxio: &Gxio, bytes: usize, align: usize) -> Result<NonNull<u8>, MpipeError> {
    gxio.alloc_memory(bytes, align)
        .ok_or(MpipeError::NoMemory(bytes))
}

/// `base + bytes`, inside an allocation.
fn offset(base: NonNull<u8>, bytes: usize) -> NonNull<u8> {
    // `base` is non-null and `bytes` stays inside its allocation, which
    // does not wrap around the address space.
    NonNull::new(base.as_ptr().wrapping_add(bytes)).unwrap_or(base)
}

fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

#[cfg(all(test, feature = "mpipe"))]
mod tests {
    use super::*;

    #[test]
    fn handles_fit_the_emulated_structs() {
        use mpipe_emu::c_abi::{CContext, CEqueue, CIqueue, CLink, CRules};
        assert!(core::mem::size_of::<CContext>() <= ffi::CONTEXT_BYTES);
        assert!(core::mem::size_of::<CIqueue>() <= ffi::IQUEUE_BYTES);
        assert!(core::mem::size_of::<CEqueue>() <= ffi::EQUEUE_BYTES);
        assert!(core::mem::size_of::<CLink>() <= ffi::LINK_BYTES);
        assert!(core::mem::size_of::<CRules>() <= ffi::RULES_BYTES);
    }

    #[test]
    fn bad_configurations_are_refused() {
        let ok = MpipeConfig::default();
        assert!(check_config(&ok).is_ok());
        for bad in [
            MpipeConfig {
                workers: 0,
                ..ok.clone()
            },
            MpipeConfig {
                workers: 25,
                ..ok.clone()
            },
            MpipeConfig {
                buffers: [0; 8],
                ..ok.clone()
            },
            MpipeConfig {
                iqueue_entries: 100,
                ..ok.clone()
            },
            MpipeConfig {
                equeue_entries: 100,
                ..ok.clone()
            },
            MpipeConfig {
                headroom: 128,
                ..ok.clone()
            },
            MpipeConfig {
                mtu: 9000,
                ..ok.clone()
            },
            MpipeConfig {
                rx_classes: Some([8; 8]),
                ..ok.clone()
            },
        ] {
            assert!(
                matches!(check_config(&bad), Err(MpipeError::Config(_))),
                "{bad:?}"
            );
        }
        assert!(check_config(&MpipeConfig {
            mtu: 9000,
            jumbo: true,
            ..ok
        })
        .is_ok());
    }
}
