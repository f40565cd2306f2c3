//! The boundary between the stack and a NIC: the driver trait, what a
//! driver tells the stack about its NIC, and the NIC-side pieces the stack
//! must model.
//!
//! A [`Driver`] is one receive/transmit queue pair owned by one core: the
//! mPIPE NotifRing and eDMA ring on a TILE-Gx, a simulated NIC queue in the
//! simulator, an in-memory [`pair`] in tests. Drivers only move
//! frames, which are descriptors of buffers in memory the driver owns
//! ([`crate::mem::buf::Frame`]); the stack does all protocol work. What the
//! stack needs to know about the NIC it reads once, at construction, from
//! the driver's [`Capabilities`].
//!
//! * [`capture`] — a wrapper showing every frame received and sent, with
//!   the stack's `now`, to a sink (a pcap writer for `rusty-sim replay`);
//! * [`fault`] — a wrapper injecting seeded loss, duplication, bit flips,
//!   delay and reordering around any driver;
//! * [`pair`] — an in-memory pair of drivers joined by a perfect wire, for
//!   tests and examples;
//! * [`rss`] — receive-side scaling: the Toeplitz flow hash and the
//!   indirection table, so a core can predict which queue a flow's frames
//!   reach.
//!
//! * [`mpipe`] (features `mpipe` / `mpipe-gxio`) — the TILE-Gx mPIPE
//!   backend over the gxio C API, on x86 through `mpipe-emu`.

pub mod capture;
pub mod fault;
#[cfg(any(feature = "mpipe", feature = "mpipe-gxio"))]
pub mod mpipe;
pub mod pair;
pub mod rss;
#[cfg(all(feature = "tap", target_os = "linux"))]
pub mod tap;

use core::fmt;

use self::rss::RssTable;
use crate::mem::buf::Frame;
use crate::wire::{ethernet, ipv4, tcp, Ipv4Addr, MacAddr};

/// Index of a NIC receive queue (one per core).
pub type QueueId = u16;

/// The addresses and ports of a TCP/UDP flow as seen on an *incoming*
/// frame: `src` is the remote end, `dst` is us.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowTuple {
    /// Source (remote) address.
    pub src_addr: Ipv4Addr,
    /// Source (remote) port.
    pub src_port: u16,
    /// Destination (local) address.
    pub dst_addr: Ipv4Addr,
    /// Destination (local) port.
    pub dst_port: u16,
}

/// How the NIC spreads incoming flows over its receive queues, when the
/// driver knows it: the RSS table (Toeplitz key and indirection table) and
/// the number of queues.
#[derive(Clone, Debug)]
pub struct FlowSteering {
    /// The hash and indirection table.
    pub rss: RssTable,
    /// Number of receive queues; table entries are taken modulo this.
    pub queues: u16,
}

impl FlowSteering {
    /// The queue the NIC delivers an incoming frame of `flow` to.
    pub fn queue_for(&self, flow: &FlowTuple) -> QueueId {
        self.rss.queue_for(flow) % self.queues.max(1)
    }
}

/// What a driver tells the stack about its NIC queue, once, at
/// construction.
#[derive(Clone, Debug)]
pub struct Capabilities {
    /// The interface's MAC address.
    pub mac: MacAddr,
    /// The interface's MTU: the largest IPv4 datagram, in bytes.
    pub mtu: usize,
    /// The receive queue this driver reads.
    pub queue: QueueId,
    /// The NIC's flow hash, if known (Toeplitz in the simulator and
    /// mpipe-emu); `None` when the stack cannot predict where a flow's
    /// frames arrive.
    pub steering: Option<FlowSteering>,
    /// Receive buffers this queue's frames land in, if the driver knows
    /// (those of the size class a full-sized frame takes). The stack keeps
    /// at most half of them in its out-of-order store and advertises no
    /// more window than that store holds, so a peer's out-of-order
    /// segments can never take every receive buffer and leave none for the
    /// segment that fills the hole.
    pub rx_buffers: Option<usize>,
    /// The NIC sends frames that chain reference slots
    /// ([`Driver::alloc_tx_reference`]), reading those bytes from the
    /// application's memory: the stack then sends the pieces of static
    /// data its writers have in memory ([`crate::Writer::static_bytes`])
    /// without copying them. False: every payload byte is copied into
    /// buffers from [`Driver::alloc_tx`].
    pub tx_references: bool,
}

impl Capabilities {
    /// These capabilities with `tx_references` set (see the field).
    pub fn with_tx_references(self, tx_references: bool) -> Self {
        Capabilities {
            tx_references,
            ..self
        }
    }

    /// These capabilities with `rx_buffers` receive buffers known.
    pub fn with_rx_buffers(self, rx_buffers: usize) -> Self {
        Capabilities {
            rx_buffers: Some(rx_buffers),
            ..self
        }
    }

    /// The receive buffers of a pool built from `pool` that a full-sized
    /// frame of `mtu` takes (its size class's count; the whole pool when
    /// frames chain over small buffers).
    pub fn rx_buffers_of(pool: &crate::mem::buf::PoolConfig, mtu: usize) -> usize {
        let frame = mtu + crate::wire::ethernet::HEADER_LEN;
        match crate::mem::buf::class_for_len(frame) {
            Some(class) if !pool.chaining => pool.counts[class],
            _ => pool.counts.iter().sum(),
        }
    }

    /// A single-queue interface with this MAC and MTU and no known flow
    /// hash.
    pub fn new(mac: MacAddr, mtu: usize) -> Self {
        Capabilities {
            mac,
            mtu,
            queue: 0,
            steering: None,
            rx_buffers: None,
            tx_references: false,
        }
    }

    /// The TCP maximum segment size this MTU allows without options: the
    /// MTU less the IPv4 and TCP headers (1460 for Ethernet's 1500),
    /// clamped to what a TCP MSS option can carry.
    pub fn mss(&self) -> u16 {
        let mss = self
            .mtu
            .saturating_sub(ipv4::HEADER_LEN + tcp::HEADER_LEN)
            .max(1);
        u16::try_from(mss).unwrap_or(u16::MAX)
    }

    /// The longest Ethernet frame (header included) this MTU allows.
    pub fn max_frame_len(&self) -> usize {
        self.mtu + ethernet::HEADER_LEN
    }

    /// The queue the NIC would deliver a flow's incoming frames to, when
    /// the flow hash is known.
    pub fn queue_for(&self, flow: &FlowTuple) -> Option<QueueId> {
        self.steering.as_ref().map(|s| s.queue_for(flow))
    }
}

/// The driver could not queue a frame for transmission: its transmit ring
/// is full. The frame was dropped (its buffers are back in the pool); the
/// stack counts it and stops sending until the next poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxFull;

impl fmt::Display for TxFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("transmit ring full")
    }
}

impl std::error::Error for TxFull {}

/// One NIC queue, owned by one core.
///
/// Buffers are the driver's: frames from [`Driver::receive`] and
/// [`Driver::alloc_tx`] are descriptors of its memory. The stack gives a
/// received frame back with [`Driver::release`] once it is done with it
/// (possibly much later, for out-of-order data); a transmit frame is
/// consumed by [`Driver::transmit`]. Dropping a frame anywhere also returns
/// its buffers to their pool, so none can leak.
///
/// Time is not the driver's business: the stack is told `now` by its
/// owner on every call.
pub trait Driver {
    /// What the stack needs to know about this queue and its NIC.
    fn capabilities(&self) -> Capabilities;

    /// The next received frame, if any.
    fn receive(&mut self) -> Option<Frame>;

    /// A frame of exactly `len` bytes to fill and transmit, or `None` when
    /// the buffer pools are exhausted.
    fn alloc_tx(&mut self, len: usize) -> Option<Frame>;

    /// A frame that refers to `bytes`, memory the application keeps and
    /// never changes (a static page), instead of holding a copy: chained
    /// after a frame of headers from [`Driver::alloc_tx`] (with
    /// [`Frame::push`]), the NIC reads them when it sends, as the mPIPE's
    /// eDMA gathers an egress descriptor without `hwb` from application
    /// memory. `None` if the NIC cannot gather from such memory (the
    /// default) or has no free reference slot: the stack then copies the
    /// bytes into the frame from `alloc_tx`.
    fn alloc_tx_reference(&mut self, bytes: &'static [u8]) -> Option<Frame> {
        let _ = bytes;
        None
    }

    /// Queues a filled frame for transmission, or reports back-pressure.
    fn transmit(&mut self, frame: Frame) -> Result<(), TxFull>;

    /// Gives a received frame's buffers back to the NIC.
    fn release(&mut self, frame: Frame) {
        drop(frame);
    }
}
