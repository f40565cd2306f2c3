//! A simulated multi-queue NIC port, in the manner of the mPIPE: frames
//! arriving from the link are classified, hashed with Toeplitz over the
//! IPv4/TCP 4-tuple, and the indirection table picks the receive queue (one
//! per core). Each queue is a bounded ring (tail drops are counted) and
//! each core has its own buffer pool of the mPIPE size classes, so cores
//! share nothing. Frames that are not IPv4/TCP (ARP, ICMP) go to queue 0,
//! like an mPIPE classifier's default bucket.
//!
//! A core sees its queue through a [`SimDriver`], the [`Driver`] the stack
//! runs on in the simulator: it receives from the queue, allocates from the
//! core's pool, and collects transmitted frames for the link.

use std::collections::VecDeque;

use rand_chacha::ChaCha8Rng;

use rusty_stack::mem::buf::{BufPool, Frame, PoolConfig, NUM_CLASSES};
use rusty_stack::nic::rss::RssTable;
use rusty_stack::nic::{Capabilities, Driver, FlowSteering, FlowTuple, TxFull};
use rusty_stack::wire::{Ipv4Addr, MacAddr};

use crate::hosts::rusty::Outbox;
use crate::kernel::rng::bernoulli;

/// Counters of one NIC port.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct NicStats {
    /// Frames received from the link.
    pub rx_frames: u64,
    /// Frames dropped because their queue was full.
    pub rx_queue_full: u64,
    /// Frames dropped because the queue's pool had no buffer.
    pub rx_no_buffer: u64,
    /// Frames dropped because they were longer than the MTU allows.
    pub rx_too_long: u64,
    /// Transmit allocations failed by a host fault
    /// ([`crate::hosts::faults::HostFaults::alloc_tx_fail`]).
    pub tx_alloc_failed: u64,
    /// Frames transmitted by the cores.
    pub tx_frames: u64,
    /// Frames the cores could not transmit because the ring was full.
    pub tx_ring_full: u64,
}

/// One receive queue.
#[derive(Debug)]
struct RxQueue {
    ring: VecDeque<Frame>,
    capacity: usize,
}

/// One NIC port with a receive queue and a buffer pool per core.
#[derive(Debug)]
pub struct SimNic {
    mac: MacAddr,
    mtu: usize,
    rss: RssTable,
    queues: Vec<RxQueue>,
    pools: Vec<BufPool>,
    /// Frames transmitted and not yet taken by the world, in order: the
    /// port's transmit ring (bounded by the receive ring size).
    tx: Vec<Frame>,
    tx_capacity: usize,
    stats: NicStats,
    /// Whether drivers tell the stack the flow hash (in their capabilities).
    hash_known: bool,
    /// Receive buffers of each queue's pool that a full-sized frame takes.
    rx_buffers: usize,
    /// Host faults: buffers held away from each queue's pool, the ring
    /// limit, and the transmit-allocation failure rate with its stream.
    squeezed: Vec<Vec<Frame>>,
    ring_limit: Option<usize>,
    alloc_fail: Option<(f64, ChaCha8Rng)>,
}

impl SimNic {
    /// A port with `queues` receive queues of `ring` frames each, one pool
    /// per queue, hashing with `rss`.
    pub fn new(
        mac: MacAddr,
        mtu: usize,
        rss: RssTable,
        queues: usize,
        ring: usize,
        pool: &PoolConfig,
    ) -> Self {
        let queues = queues.max(1);
        SimNic {
            mac,
            mtu,
            rss,
            queues: (0..queues)
                .map(|_| RxQueue {
                    ring: VecDeque::with_capacity(ring),
                    capacity: ring,
                })
                .collect(),
            pools: (0..queues).map(|_| BufPool::new(pool)).collect(),
            tx: Vec::with_capacity(ring * queues),
            tx_capacity: ring * queues,
            stats: NicStats::default(),
            hash_known: true,
            rx_buffers: Capabilities::rx_buffers_of(pool, mtu),
            squeezed: (0..queues).map(|_| Vec::new()).collect(),
            ring_limit: None,
            alloc_fail: None,
        }
    }

    /// Holds `share` (0..=1) of the free buffers of every class of
    /// `queue`'s pool, as something else using them would; a share of 0
    /// gives them all back. A queue already squeezed keeps what it holds.
    /// Returns the buffers newly taken.
    pub fn squeeze_pool(&mut self, queue: usize, share: f64) -> usize {
        let (Some(pool), Some(held)) = (self.pools.get(queue), self.squeezed.get_mut(queue)) else {
            return 0;
        };
        if share <= 0.0 {
            held.clear();
            return 0;
        }
        if !held.is_empty() {
            return 0;
        }
        for class in 0..NUM_CLASSES {
            let take = (pool.capacity(class) as f64 * share.min(1.0)).ceil() as usize;
            for _ in 0..take {
                match pool.alloc(class) {
                    Some(frame) => held.push(frame),
                    None => break,
                }
            }
        }
        held.len()
    }

    /// Buffers of `queue`'s pool in use (held by anyone), and its capacity.
    pub fn buffer_usage(&self, queue: usize) -> (usize, usize) {
        let pool = &self.pools[queue];
        let capacity = (0..NUM_CLASSES).map(|c| pool.capacity(c)).sum();
        (pool.in_use(), capacity)
    }

    /// Limits every receive ring to `frames` frames (`None`: the rings'
    /// own capacity).
    pub fn set_ring_limit(&mut self, frames: Option<usize>) {
        self.ring_limit = frames;
    }

    /// Makes each transmit allocation fail with probability `p`, drawing
    /// from the stream given (`None`, or `p == 0`, turns it off).
    pub fn set_alloc_tx_fail(&mut self, fail: Option<(f64, ChaCha8Rng)>) {
        self.alloc_fail = fail.filter(|(p, _)| *p > 0.0);
    }

    /// Hides (or shows) the flow hash from the stacks: with it hidden,
    /// the capabilities carry no flow steering.
    pub fn set_hash_known(&mut self, known: bool) {
        self.hash_known = known;
    }

    /// The port's MAC address.
    pub fn mac(&self) -> MacAddr {
        self.mac
    }

    /// What core `queue`'s driver tells its stack: the port's MAC and MTU,
    /// the queue, and the flow hash unless it is hidden.
    pub fn capabilities(&self, queue: usize) -> Capabilities {
        Capabilities {
            mac: self.mac,
            mtu: self.mtu,
            queue: queue as u16,
            steering: self.hash_known.then(|| FlowSteering {
                rss: self.rss.clone(),
                queues: self.queues.len() as u16,
            }),
            rx_buffers: Some(self.rx_buffers),
            // Frames are copied onto the links.
            tx_references: false,
        }
    }

    /// Number of receive queues.
    pub fn queue_count(&self) -> usize {
        self.queues.len()
    }

    /// Counters.
    pub fn stats(&self) -> &NicStats {
        &self.stats
    }

    /// Frames waiting in `queue`.
    pub fn pending(&self, queue: usize) -> usize {
        self.queues[queue].ring.len()
    }

    /// The queue the classifier picks for a frame.
    pub fn classify(&self, frame: &[u8]) -> usize {
        match tcp_flow(frame) {
            Some(flow) => usize::from(self.rss.queue_for(&flow)) % self.queues.len(),
            None => 0,
        }
    }

    /// A frame arrives from the link: copied into a buffer of the chosen
    /// queue's pool and queued. Returns the queue, or `None` if dropped.
    pub fn receive_frame(&mut self, frame: &[u8]) -> Option<usize> {
        self.stats.rx_frames += 1;
        if frame.len() > self.mtu + 14 {
            self.stats.rx_too_long += 1;
            return None;
        }
        let queue = self.classify(frame);
        let capacity = self.ring_limit.map_or(self.queues[queue].capacity, |l| {
            l.min(self.queues[queue].capacity)
        });
        if self.queues[queue].ring.len() >= capacity {
            self.stats.rx_queue_full += 1;
            return None;
        }
        let Some(mut chain) = self.pools[queue].alloc_chain(frame.len()) else {
            self.stats.rx_no_buffer += 1;
            return None;
        };
        let written = chain.cursor_mut().write(frame);
        debug_assert!(written.is_ok());
        self.queues[queue].ring.push_back(chain);
        Some(queue)
    }

    /// Puts a frame (forwarded by another core) straight into a queue.
    pub fn inject(&mut self, queue: usize, frame: &[u8]) -> bool {
        let Some(mut chain) = self.pools[queue].alloc_chain(frame.len()) else {
            self.stats.rx_no_buffer += 1;
            return false;
        };
        let _ = chain.cursor_mut().write(frame);
        self.queues[queue].ring.push_back(chain);
        true
    }

    /// Moves the frames transmitted since the last call, in order, into
    /// `out` as leaving on `port` (serialising each into a buffer of
    /// `out`); their NIC buffers go back to the pools.
    pub fn take_tx(&mut self, port: usize, out: &mut Outbox) {
        for frame in self.tx.drain(..) {
            let mut buf = out.buffer();
            for piece in frame.segments() {
                buf.extend_from_slice(piece);
            }
            out.send(port, buf);
        }
    }

    /// Buffer conservation of core `queue`'s pool: for every size class
    /// the free buffers are at most the capacity, and the buffers in use
    /// are exactly those of the frames in the queue's ring, of this pool's
    /// frames in the transmit ring, and `stack_held` (what the core's stack
    /// holds, [`rusty_stack::Stack::held_buffers`]): free + held =
    /// capacity.
    pub fn check_buffers(&self, queue: usize, stack_held: usize) -> Result<(), String> {
        let pool = &self.pools[queue];
        for class in 0..NUM_CLASSES {
            if pool.available(class) > pool.capacity(class) {
                return Err(format!(
                    "class {class}: {} free of {}",
                    pool.available(class),
                    pool.capacity(class)
                ));
            }
        }
        let ring: usize = self.queues[queue]
            .ring
            .iter()
            .map(Frame::buffer_count)
            .sum();
        let tx: usize = self
            .tx
            .iter()
            .filter(|f| pool.owns(f))
            .map(Frame::buffer_count)
            .sum();
        let squeezed = self.squeezed[queue].len();
        let held = ring + tx + stack_held + squeezed;
        let in_use = pool.in_use();
        if in_use != held {
            let capacity: usize = (0..NUM_CLASSES).map(|c| pool.capacity(c)).sum();
            return Err(format!(
                "{in_use} buffers in use ({} free of {capacity}) but {held} held: \
                 {ring} in the receive ring, {tx} in the transmit ring, {stack_held} by the stack, \
                 {squeezed} by a pool squeeze",
                capacity - in_use
            ));
        }
        Ok(())
    }

    /// Test hook: takes a buffer from core `queue`'s pool and forgets it,
    /// as a leak would. Returns whether there was one to take.
    #[doc(hidden)]
    pub fn leak_buffer_for_test(&mut self, queue: usize) -> bool {
        match self.pools[queue].alloc_chain(64) {
            Some(frame) => {
                std::mem::forget(frame);
                true
            }
            None => false,
        }
    }

    /// The driver through which core `queue` uses this port, receiving at
    /// most `budget` frames.
    pub fn driver(&mut self, queue: usize, budget: usize) -> SimDriver<'_> {
        SimDriver {
            nic: self,
            queue,
            budget,
        }
    }
}

/// The 4-tuple of an IPv4/TCP frame as the NIC hashes it.
fn tcp_flow(frame: &[u8]) -> Option<FlowTuple> {
    use rusty_stack::wire::{ethernet, ipv4, tcp};
    let be16 = |b: &[u8], at: usize| Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]));
    if be16(frame, ethernet::field::ETHERTYPE)? != 0x0800 {
        return None;
    }
    let ip = frame.get(ethernet::HEADER_LEN..)?;
    let ihl = usize::from(ip.get(ipv4::field::VER_IHL)? & 0x0f) * 4;
    let protocol = ipv4::IpProtocol::from(*ip.get(ipv4::field::PROTOCOL)?);
    if protocol != ipv4::IpProtocol::Tcp || ihl < ipv4::HEADER_LEN {
        return None;
    }
    if be16(ip, ipv4::field::FLG_OFF)? & 0x3fff != 0 {
        return None; // a fragment
    }
    let addr = |at: usize| -> Option<Ipv4Addr> {
        let b: [u8; 4] = ip.get(at..at + 4)?.try_into().ok()?;
        Some(Ipv4Addr::from(b))
    };
    let segment = ip.get(ihl..)?;
    Some(FlowTuple {
        src_addr: addr(ipv4::field::SRC)?,
        dst_addr: addr(ipv4::field::DST)?,
        src_port: be16(segment, tcp::field::SRC_PORT)?,
        dst_port: be16(segment, tcp::field::DST_PORT)?,
    })
}

/// A core's view of a [`SimNic`]: its receive queue, its pool, and the
/// port's transmit path.
pub struct SimDriver<'a> {
    nic: &'a mut SimNic,
    queue: usize,
    budget: usize,
}

impl Driver for SimDriver<'_> {
    fn capabilities(&self) -> Capabilities {
        self.nic.capabilities(self.queue)
    }

    fn receive(&mut self) -> Option<Frame> {
        if self.budget == 0 {
            return None;
        }
        let frame = self.nic.queues[self.queue].ring.pop_front()?;
        self.budget -= 1;
        Some(frame)
    }

    fn alloc_tx(&mut self, len: usize) -> Option<Frame> {
        if let Some((p, rng)) = self.nic.alloc_fail.as_mut() {
            if bernoulli(rng, *p) {
                self.nic.stats.tx_alloc_failed += 1;
                return None;
            }
        }
        self.nic.pools[self.queue].alloc_chain(len)
    }

    fn transmit(&mut self, frame: Frame) -> Result<(), TxFull> {
        if self.nic.tx.len() >= self.nic.tx_capacity {
            self.nic.stats.tx_ring_full += 1;
            return Err(TxFull);
        }
        self.nic.stats.tx_frames += 1;
        self.nic.tx.push(frame);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusty_stack::nic::rss::MICROSOFT_RSS_KEY;

    fn tcp_frame(sport: u16, dport: u16) -> Vec<u8> {
        let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(sport, dport, 1, 1000);
        let mut out = Vec::new();
        b.write(&mut out, b"x").unwrap();
        out
    }

    #[test]
    fn flows_spread_over_queues_as_the_hash_says() {
        let rss = RssTable::new(&MICROSOFT_RSS_KEY, 4);
        let mut nic = SimNic::new(
            MacAddr([2, 0, 0, 0, 0, 2]),
            1500,
            rss.clone(),
            4,
            64,
            &PoolConfig::default(),
        );
        let mut used = [0; 4];
        for port in 1000..1100 {
            let frame = tcp_frame(port, 80);
            let q = nic.receive_frame(&frame).unwrap();
            let flow = FlowTuple {
                src_addr: Ipv4Addr::new(10, 0, 0, 1),
                src_port: port,
                dst_addr: Ipv4Addr::new(10, 0, 0, 2),
                dst_port: 80,
            };
            assert_eq!(q, usize::from(rss.queue_for(&flow)));
            used[q] += 1;
        }
        assert!(used.iter().all(|&n| n > 10), "{used:?}");
        // Non-TCP frames go to queue 0.
        let arp = [0u8; 42];
        assert_eq!(nic.classify(&arp), 0);
    }

    #[test]
    fn full_queue_drops_and_counts() {
        let rss = RssTable::new(&MICROSOFT_RSS_KEY, 1);
        let mut nic = SimNic::new(
            MacAddr([2, 0, 0, 0, 0, 2]),
            1500,
            rss,
            1,
            2,
            &PoolConfig::default(),
        );
        let frame = tcp_frame(1, 80);
        assert!(nic.receive_frame(&frame).is_some());
        assert!(nic.receive_frame(&frame).is_some());
        assert!(nic.receive_frame(&frame).is_none());
        assert_eq!(nic.stats().rx_queue_full, 1);
        let mut driver = nic.driver(0, 1);
        let got = driver.receive().unwrap();
        assert!(driver.receive().is_none(), "budget of one frame");
        assert_eq!(got.copy_to_vec(), frame);
        driver.release(got);
    }
}
