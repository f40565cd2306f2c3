//! Rusty on one side of a [`InteropNet`](super::InteropNet)'s link.
//!
//! [`LinkDriver`] implements [`Driver`] with its own [`BufPool`]: frames
//! the harness delivers are copied into pooled chains by
//! [`Driver::receive`], and transmitted chains are copied into `Vec`s for
//! the link and their buffers released at once. [`RustyPeer`] pairs a
//! driver with anything that polls like a Rusty node ([`RustyNode`]): the
//! bare [`Interface`] (ARP, IPv4, ICMP) or a TCP [`Stack`].
//! [`BytesWriter`] is a [`Writer`] over owned bytes for test apps.

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;

use rusty_stack::iface::{Interface, InterfaceConfig};
use rusty_stack::mem::buf::{BufPool, Frame, PoolConfig};
use rusty_stack::mem::cursor::CursorMut;
use rusty_stack::nic::{Capabilities, Driver, TxFull};
use rusty_stack::tcp::{App, TcpConfig, Writer};
use rusty_stack::time::Instant;
use rusty_stack::wire::{Ipv4Cidr, MacAddr};
use rusty_stack::Stack;

use super::Host;
use crate::net::link::Side;

/// Counters of a [`LinkDriver`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkDriverStats {
    /// Frames handed to the stack by `receive`.
    pub received: u64,
    /// Frames dropped because the receive queue was full.
    pub rx_queue_full: u64,
    /// Frames dropped because the pool had no buffer for them.
    pub rx_no_buffer: u64,
    /// Frames transmitted.
    pub transmitted: u64,
    /// `alloc_tx` calls that failed.
    pub tx_alloc_failures: u64,
}

/// Driver calls one poll may make before [`LinkDriver`] declares the stack
/// livelocked.
pub const DEFAULT_MAX_CALLS_PER_POLL: u64 = 1_000_000;

/// A [`Driver`] for one side of a link, with its own buffer pool.
///
/// Virtual time is set by the harness with [`LinkDriver::set_now`];
/// received frames are queued with [`LinkDriver::deliver`] and transmitted
/// ones collected with [`LinkDriver::take_tx`].
///
/// A stack stuck in a loop inside one poll would hang the test, out of the
/// harness's reach; so the driver counts the calls made to it since the
/// last [`LinkDriver::begin_poll`] (or `set_now`) and panics past a budget
/// ([`DEFAULT_MAX_CALLS_PER_POLL`]), naming the livelock. The count is of
/// calls, not wall time, so it is deterministic.
#[derive(Debug)]
pub struct LinkDriver {
    side: Side,
    mac: MacAddr,
    mtu: usize,
    now: Instant,
    pool: BufPool,
    /// The pool has reference slots, so the stack may send static data
    /// without copying it ([`Capabilities::tx_references`]).
    tx_references: bool,
    rx: VecDeque<Vec<u8>>,
    rx_capacity: usize,
    tx: Vec<Vec<u8>>,
    stats: LinkDriverStats,
    calls: Cell<u64>,
    max_calls_per_poll: u64,
}

impl LinkDriver {
    /// A driver on `side` with MAC `mac`, MTU `mtu` (the largest IPv4
    /// datagram), buffers from `pool`, and a receive queue of
    /// `rx_capacity` frames.
    pub fn new(
        side: Side,
        mac: MacAddr,
        mtu: usize,
        pool: &PoolConfig,
        rx_capacity: usize,
    ) -> Self {
        LinkDriver {
            side,
            mac,
            mtu,
            now: Instant::ZERO,
            pool: BufPool::new(pool),
            tx_references: pool.references > 0,
            rx: VecDeque::with_capacity(rx_capacity),
            rx_capacity,
            tx: Vec::new(),
            stats: LinkDriverStats::default(),
            calls: Cell::new(0),
            max_calls_per_poll: DEFAULT_MAX_CALLS_PER_POLL,
        }
    }

    /// Sets the budget of driver calls per poll.
    pub fn set_max_calls_per_poll(&mut self, max: u64) {
        self.max_calls_per_poll = max;
    }

    /// Starts a new budget of driver calls (called before each poll).
    pub fn begin_poll(&mut self) {
        self.calls.set(0);
    }

    /// Counts one driver call; panics when the budget is spent.
    fn count_call(&self, what: &str) {
        let calls = self.calls.get() + 1;
        self.calls.set(calls);
        assert!(
            calls <= self.max_calls_per_poll,
            "LinkDriver on side {:?}: {calls} driver calls in one poll at {} \
             (last: {what}); the stack is looping without making progress",
            self.side,
            self.now
        );
    }

    /// The link side this driver sits on.
    pub fn side(&self) -> Side {
        self.side
    }

    /// Sets the virtual time `now()` reports.
    pub fn set_now(&mut self, now: Instant) {
        self.now = now;
        self.begin_poll();
    }

    /// Queues a frame that arrived from the link (dropped and counted when
    /// the receive queue is full).
    pub fn deliver(&mut self, frame: Vec<u8>) {
        if self.rx.len() >= self.rx_capacity {
            self.stats.rx_queue_full += 1;
        } else {
            self.rx.push_back(frame);
        }
    }

    /// Moves the frames transmitted since the last call into `out`.
    pub fn take_tx(&mut self, out: &mut Vec<Vec<u8>>) {
        out.append(&mut self.tx);
    }

    /// Frames waiting to be received.
    pub fn rx_pending(&self) -> usize {
        self.rx.len()
    }

    /// Counters.
    pub fn stats(&self) -> LinkDriverStats {
        self.stats
    }

    /// The buffer pool (to check for leaks).
    pub fn pool(&self) -> &BufPool {
        &self.pool
    }

    /// Buffers currently out of the pool (held by the stack).
    pub fn buffers_in_use(&self) -> usize {
        self.pool.in_use()
    }

    /// The virtual time set by the harness.
    pub fn now(&self) -> Instant {
        self.now
    }
}

impl Driver for LinkDriver {
    fn capabilities(&self) -> Capabilities {
        self.count_call("capabilities");
        Capabilities::new(self.mac, self.mtu).with_tx_references(self.tx_references)
    }

    fn receive(&mut self) -> Option<Frame> {
        self.count_call("receive");
        while let Some(frame) = self.rx.pop_front() {
            let Some(mut chain) = self.pool.alloc_chain(frame.len()) else {
                self.stats.rx_no_buffer += 1;
                continue;
            };
            // The chain is exactly `frame.len()` bytes long.
            let copied = chain.cursor_mut().write(&frame);
            debug_assert!(copied.is_ok());
            self.stats.received += 1;
            return Some(chain);
        }
        None
    }

    fn alloc_tx(&mut self, len: usize) -> Option<Frame> {
        self.count_call("alloc_tx");
        let chain = self.pool.alloc_chain(len);
        if chain.is_none() {
            self.stats.tx_alloc_failures += 1;
        }
        chain
    }

    /// A reference slot of the pool: [`LinkDriver::transmit`] copies the
    /// frame onto the link, reading the referenced bytes where they are.
    fn alloc_tx_reference(&mut self, bytes: &'static [u8]) -> Option<Frame> {
        self.count_call("alloc_tx_reference");
        let frame = self.pool.alloc_reference(bytes);
        if frame.is_none() {
            self.stats.tx_alloc_failures += 1;
        }
        frame
    }

    fn transmit(&mut self, frame: Frame) -> Result<(), TxFull> {
        self.count_call("transmit");
        self.stats.transmitted += 1;
        self.tx.push(frame.copy_to_vec());
        Ok(())
    }

    fn release(&mut self, frame: Frame) {
        self.count_call("release");
        drop(frame);
    }
}

/// Something that runs on a [`LinkDriver`] like a Rusty core: the bare
/// [`Interface`], or a TCP `Stack`.
pub trait RustyNode {
    /// Runs timers due at `now` and processes every received frame;
    /// returns whether it did anything.
    fn poll(&mut self, driver: &mut LinkDriver, now: Instant) -> bool;
    /// The earliest instant at which `poll` has timer work.
    fn poll_at(&self) -> Option<Instant>;
}

impl RustyNode for Interface {
    fn poll(&mut self, driver: &mut LinkDriver, now: Instant) -> bool {
        Interface::poll(self, driver, now)
    }

    fn poll_at(&self) -> Option<Instant> {
        Interface::poll_at(self)
    }
}

/// A Rusty node and its driver, on one side of the link.
#[derive(Debug)]
pub struct RustyPeer<N> {
    /// The node (an [`Interface`] or a TCP stack).
    pub node: N,
    /// Its driver.
    pub driver: LinkDriver,
}

impl<N> RustyPeer<N> {
    /// Joins `node` and `driver`.
    pub fn new(node: N, driver: LinkDriver) -> Self {
        RustyPeer { node, driver }
    }

    /// The node and the driver, both mutably (to call node methods that
    /// take a driver, such as `send_ping` or `connect`).
    pub fn parts(&mut self) -> (&mut N, &mut LinkDriver) {
        (&mut self.node, &mut self.driver)
    }
}

impl RustyPeer<Interface> {
    /// A bare interface (MTU 1500, default pools) with MAC `mac` and
    /// address `ip` on `side`.
    pub fn interface(side: Side, mac: MacAddr, ip: Ipv4Cidr) -> Self {
        let driver = LinkDriver::new(side, mac, 1500, &PoolConfig::default(), 1024);
        RustyPeer::new(
            Interface::new(&driver.capabilities(), InterfaceConfig::new(ip)),
            driver,
        )
    }
}

impl<N: RustyNode> Host for RustyPeer<N> {
    fn set_now(&mut self, now: Instant) {
        self.driver.set_now(now);
    }

    fn deliver(&mut self, frame: Vec<u8>) {
        self.driver.deliver(frame);
    }

    fn poll(&mut self, now: Instant) -> bool {
        self.driver.set_now(now);
        self.driver.begin_poll();
        let pending = self.driver.rx_pending() > 0;
        self.node.poll(&mut self.driver, now) || pending
    }

    fn take_tx(&mut self, out: &mut Vec<Vec<u8>>) {
        self.driver.take_tx(out);
    }

    fn poll_at(&mut self, _now: Instant) -> Option<Instant> {
        self.node.poll_at()
    }
}

impl<A: App> RustyNode for Stack<A> {
    fn poll(&mut self, driver: &mut LinkDriver, now: Instant) -> bool {
        Stack::poll(self, driver, now)
    }

    fn poll_at(&self) -> Option<Instant> {
        Stack::poll_at(self)
    }
}

impl<A: App> RustyPeer<Stack<A>> {
    /// A TCP stack running `app` (MTU 1500, default pools) with MAC `mac`
    /// and address `ip` on `side`.
    pub fn stack(side: Side, mac: MacAddr, ip: Ipv4Cidr, config: TcpConfig, app: A) -> Self {
        let driver = LinkDriver::new(side, mac, 1500, &PoolConfig::default(), 1024);
        let stack = Stack::new(
            &driver.capabilities(),
            InterfaceConfig::new(ip),
            config,
            app,
            driver.now(),
        );
        RustyPeer::new(stack, driver)
    }
}

/// A [`Writer`] over owned bytes (cheap to clone; for test apps).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BytesWriter(pub Rc<[u8]>);

impl BytesWriter {
    /// A writer over a copy of `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
        BytesWriter(Rc::from(bytes))
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Writer for BytesWriter {
    fn write(&self, offset: usize, out: &mut CursorMut<'_>) {
        let end = offset.saturating_add(out.len()).min(self.0.len());
        let bytes = self.0.get(offset..end).unwrap_or(&[]);
        let written = out.write(bytes);
        debug_assert!(written.is_ok());
    }
}
