//! The boundary between the stack and a NIC queue.
//!
//! A [`Driver`] is one receive/transmit queue pair owned by one core: the
//! mPIPE NotifRing and eDMA ring on a TILE-Gx, a simulated NIC queue in the
//! simulator, an in-memory [`crate::pair`] in tests. Drivers only move
//! frames and buffers; the stack does all protocol work.

use crate::buf::Chain;
use crate::time::Instant;
use crate::wire::{Ipv4Addr, MacAddr};

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

/// One NIC queue, owned by one core.
///
/// Buffers are the driver's: frames from [`Driver::receive`] must be given
/// back with [`Driver::release`] once the stack is done with them (possibly
/// much later, for out-of-order data), and frames from
/// [`Driver::alloc_tx`] are consumed by [`Driver::transmit`] (or released if
/// the stack decides not to send them).
pub trait Driver {
    /// The current time: the cycle counter on a TILE-Gx, virtual time in
    /// the simulator. The stack itself never reads a clock.
    fn now(&self) -> Instant;

    /// The next received frame, if any.
    fn receive(&mut self) -> Option<Chain>;

    /// A frame of exactly `len` bytes to fill and transmit, or `None` when
    /// the buffer pools are exhausted.
    fn alloc_tx(&mut self, len: usize) -> Option<Chain>;

    /// Queues a filled frame for transmission.
    fn transmit(&mut self, frame: Chain);

    /// Gives a frame's buffers back to the pools.
    fn release(&mut self, frame: Chain);

    /// The interface's MAC address.
    fn mac(&self) -> MacAddr;

    /// The interface's MTU: the largest IPv4 datagram, in bytes.
    fn mtu(&self) -> usize;

    /// The receive queue this driver reads.
    fn queue(&self) -> QueueId;

    /// The queue the NIC would deliver a flow's incoming frames to, when the
    /// NIC's flow hash is known (Toeplitz in the simulator and mpipe-emu).
    fn queue_for(&self, flow: &FlowTuple) -> Option<QueueId> {
        let _ = flow;
        None
    }
}
