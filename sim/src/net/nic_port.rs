//! The NIC of a Rusty host's port: the simulated multi-queue NIC
//! ([`SimNic`], the default), or the emulated mPIPE driven through the
//! stack's hardware backend (`rusty_stack::nic::mpipe` over `mpipe-emu`,
//! feature `mpipe`), so that simulated traffic runs through the code that
//! drives a TILE-Gx.
//!
//! [`NicPort`] gives both the interface a [`crate::hosts::rusty::RustyHost`] uses:
//! frames in from the link, one driver per core, frames out to the link,
//! counters.

use serde::{Deserialize, Serialize};

use rusty_stack::mem::buf::PoolConfig;
use rusty_stack::nic::rss::RssTable;
use rusty_stack::nic::Capabilities;
use rusty_stack::tcp::App;
use rusty_stack::time::Instant;
use rusty_stack::wire::MacAddr;
use rusty_stack::Stack;

use crate::hosts::rusty::Outbox;
use crate::net::nic::{NicStats, SimNic};

/// Which NIC a host's ports have.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NicKind {
    /// The simulated multi-queue NIC ([`SimNic`]).
    #[default]
    Sim,
    /// The emulated mPIPE through the stack's `mpipe` backend (needs the
    /// `mpipe` feature of `rusty-sim`).
    Mpipe,
}

impl NicKind {
    /// The default NIC.
    pub fn is_sim(&self) -> bool {
        *self == NicKind::Sim
    }

    /// Whether this build can simulate it.
    pub fn available(&self) -> bool {
        match self {
            NicKind::Sim => true,
            NicKind::Mpipe => cfg!(feature = "mpipe"),
        }
    }
}

/// How to build a port's NIC.
#[derive(Clone, Debug)]
pub struct NicSpec<'a> {
    /// Which NIC.
    pub kind: NicKind,
    /// The port's MAC address.
    pub mac: MacAddr,
    /// MTU of the port.
    pub mtu: usize,
    /// The Toeplitz key of the NIC's flow hash.
    pub rss_key: [u8; 40],
    /// Receive queues (one per core).
    pub queues: usize,
    /// Frames each receive ring holds.
    pub ring: usize,
    /// Buffers per core (the simulated NIC's pools; the mPIPE's stacks,
    /// shared by all cores, hold as many in all).
    pub pool: &'a PoolConfig,
    /// Whether the stacks are told the flow hash.
    pub hash_known: bool,
}

/// One port's NIC.
#[derive(Debug)]
pub enum NicPort {
    /// The simulated NIC (boxed: its RSS tables are 12 KiB).
    Sim(Box<SimNic>),
    /// The emulated mPIPE.
    #[cfg(feature = "mpipe")]
    Mpipe(mpipe_port::MpipePort),
}

impl NicPort {
    /// A port's NIC as `spec` says.
    ///
    /// # Panics
    ///
    /// For [`NicKind::Mpipe`] in a build without the `mpipe` feature
    /// (scenarios are validated against that first), or if the emulated
    /// mPIPE cannot be set up.
    pub fn new(spec: &NicSpec<'_>) -> NicPort {
        match spec.kind {
            NicKind::Sim => {
                let rss = RssTable::new(&spec.rss_key, spec.queues as u16);
                let mut nic =
                    SimNic::new(spec.mac, spec.mtu, rss, spec.queues, spec.ring, spec.pool);
                nic.set_hash_known(spec.hash_known);
                NicPort::Sim(Box::new(nic))
            }
            #[cfg(feature = "mpipe")]
            NicKind::Mpipe => NicPort::Mpipe(mpipe_port::MpipePort::new(spec)),
            #[cfg(not(feature = "mpipe"))]
            NicKind::Mpipe => panic!("rusty-sim was built without the mpipe feature"),
        }
    }

    /// What core `queue`'s driver tells its stack.
    pub fn capabilities(&self, queue: usize) -> Capabilities {
        match self {
            NicPort::Sim(n) => n.capabilities(queue),
            #[cfg(feature = "mpipe")]
            NicPort::Mpipe(m) => m.capabilities(queue),
        }
    }

    /// A frame arrives from the link: returns the queue (core) it went
    /// to, or `None` if dropped.
    pub fn receive_frame(&mut self, frame: &[u8]) -> Option<usize> {
        match self {
            NicPort::Sim(n) => n.receive_frame(frame),
            #[cfg(feature = "mpipe")]
            NicPort::Mpipe(m) => m.receive_frame(frame),
        }
    }

    /// Puts a frame forwarded by another core into `queue`; false if it
    /// was dropped (the mPIPE cannot target a queue: its classifier
    /// decides, so forwarded frames are dropped and counted there).
    pub fn inject(&mut self, queue: usize, frame: &[u8]) -> bool {
        match self {
            NicPort::Sim(n) => n.inject(queue, frame),
            #[cfg(feature = "mpipe")]
            NicPort::Mpipe(m) => m.inject_stray(queue, frame),
        }
    }

    /// Moves the frames transmitted since the last call into `out` as
    /// leaving on `port`.
    pub fn take_tx(&mut self, port: usize, out: &mut Outbox) {
        match self {
            NicPort::Sim(n) => n.take_tx(port, out),
            #[cfg(feature = "mpipe")]
            NicPort::Mpipe(m) => m.take_tx(port, out),
        }
    }

    /// Frames waiting in `queue`.
    pub fn pending(&self, queue: usize) -> usize {
        match self {
            NicPort::Sim(n) => n.pending(queue),
            #[cfg(feature = "mpipe")]
            NicPort::Mpipe(m) => m.pending(queue),
        }
    }

    /// Buffer conservation of core `queue`'s buffers, given those its
    /// stack holds (see [`SimNic::check_buffers`]). The emulated mPIPE's
    /// buffers live on the hardware's stacks: not checked here.
    pub fn check_buffers(&self, queue: usize, stack_held: usize) -> Result<(), String> {
        match self {
            NicPort::Sim(n) => n.check_buffers(queue, stack_held),
            #[cfg(feature = "mpipe")]
            NicPort::Mpipe(_) => {
                let _ = (queue, stack_held);
                Ok(())
            }
        }
    }

    /// Applies a host fault's NIC state (see
    /// [`crate::hosts::faults::NicFaultState`]) to core `queue`'s pool and
    /// to the rings; returns the buffers newly taken. The emulated mPIPE
    /// has its own fault injection: scenarios with these faults are
    /// refused for it, so nothing happens there.
    pub fn apply_faults(
        &mut self,
        queue: usize,
        state: crate::hosts::faults::NicFaultState,
    ) -> usize {
        match self {
            NicPort::Sim(n) => {
                n.set_ring_limit(state.ring_limit);
                n.squeeze_pool(queue, state.pool_share)
            }
            #[cfg(feature = "mpipe")]
            NicPort::Mpipe(_) => {
                let _ = (queue, state);
                0
            }
        }
    }

    /// Makes transmit allocations fail with a probability, drawing from
    /// the stream given (simulated NIC only; see
    /// [`SimNic::set_alloc_tx_fail`]).
    pub fn set_alloc_tx_fail(&mut self, fail: Option<(f64, rand_chacha::ChaCha8Rng)>) {
        match self {
            NicPort::Sim(n) => n.set_alloc_tx_fail(fail),
            #[cfg(feature = "mpipe")]
            NicPort::Mpipe(_) => {
                let _ = fail;
            }
        }
    }

    /// Buffers of core `queue`'s pool in use, and the pool's capacity
    /// (simulated NIC; the emulated mPIPE's shared stacks report none).
    pub fn buffer_usage(&self, queue: usize) -> (usize, usize) {
        match self {
            NicPort::Sim(n) => n.buffer_usage(queue),
            #[cfg(feature = "mpipe")]
            NicPort::Mpipe(_) => {
                let _ = queue;
                (0, 0)
            }
        }
    }

    /// Test hook: leaks a buffer of core `queue`'s pool (simulated NIC
    /// only); returns whether it did.
    #[doc(hidden)]
    pub fn leak_buffer_for_test(&mut self, queue: usize) -> bool {
        match self {
            NicPort::Sim(n) => n.leak_buffer_for_test(queue),
            #[cfg(feature = "mpipe")]
            NicPort::Mpipe(_) => false,
        }
    }

    /// Counters.
    pub fn stats(&self) -> NicStats {
        match self {
            NicPort::Sim(n) => n.stats().clone(),
            #[cfg(feature = "mpipe")]
            NicPort::Mpipe(m) => m.stats(),
        }
    }

    /// Polls `stack` on core `queue`'s driver, which receives at most
    /// `budget` frames; returns whether the stack did anything.
    pub fn poll<A: App>(
        &mut self,
        stack: &mut Stack<A>,
        queue: usize,
        budget: usize,
        now: Instant,
    ) -> bool {
        match self {
            NicPort::Sim(n) => stack.poll(&mut n.driver(queue, budget), now),
            #[cfg(feature = "mpipe")]
            NicPort::Mpipe(m) => m.poll(stack, queue, budget, now),
        }
    }
}

#[cfg(feature = "mpipe")]
mod mpipe_port {
    use mpipe_emu::c_abi::CContext;
    use mpipe_emu::{Config as EmuConfig, Context as EmuContext, Delivery as EmuDelivery};
    use rusty_stack::mem::buf::NUM_CLASSES;
    use rusty_stack::nic::mpipe::{MpipeConfig, MpipeDriver, MpipeNic};
    use rusty_stack::nic::{Capabilities, Driver};
    use rusty_stack::tcp::App;
    use rusty_stack::time::Instant;
    use rusty_stack::Stack;

    use super::NicSpec;
    use crate::hosts::rusty::Outbox;
    use crate::net::nic::NicStats;

    /// Buffers of one class on the mPIPE's shared stack, at most.
    const MAX_BUFFERS: usize = 1 << 17;

    /// An emulated mPIPE with one link and a driver per core.
    pub struct MpipePort {
        nic: MpipeNic,
        drivers: Vec<MpipeDriver>,
        channel: u8,
        /// Frames the classifier delivered, per queue, since the start.
        stats: NicStats,
        /// Forwarded frames that could not be placed on a queue.
        strays_dropped: u64,
    }

    impl std::fmt::Debug for MpipePort {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("MpipePort")
                .field("nic", &self.nic)
                .field("drivers", &self.drivers)
                .finish_non_exhaustive()
        }
    }

    impl MpipePort {
        pub fn new(spec: &NicSpec<'_>) -> MpipePort {
            // The link's MAC is `mac_base` plus its channel (0 for gbe0).
            let emu = EmuConfig {
                mac_base: spec.mac.0,
                hash_key: spec.rss_key,
                egress_queue_frames: mpipe_emu::MAX_EGRESS_QUEUE_FRAMES,
                egress_queue_bytes: mpipe_emu::MAX_EGRESS_QUEUE_BYTES,
                ..EmuConfig::default()
            };
            let ctx = EmuContext::new(emu).expect("an emulated mPIPE");
            let mut buffers = [0usize; NUM_CLASSES];
            for (b, &n) in buffers.iter_mut().zip(&spec.pool.counts) {
                *b = (n * spec.queues).min(MAX_BUFFERS);
            }
            let iqueue_entries = [128, 512, 2048, 65536]
                .into_iter()
                .find(|&e| e > spec.ring)
                .unwrap_or(65536);
            let config = MpipeConfig {
                workers: spec.queues,
                buffers,
                iqueue_entries,
                equeue_entries: 8192,
                mtu: spec.mtu,
                jumbo: spec.mtu > 1500,
                flow_hash_key: spec.hash_known.then_some(spec.rss_key),
                ..MpipeConfig::default()
            };
            let (nic, drivers) =
                MpipeNic::on_emulator(CContext::new(ctx), &config).expect("mPIPE set-up");
            let channel = nic.channel() as u8;
            MpipePort {
                nic,
                drivers,
                channel,
                stats: NicStats::default(),
                strays_dropped: 0,
            }
        }

        fn emu<R>(&self, f: impl FnOnce(&mut EmuContext) -> R) -> R {
            let ctx = self.nic.emulator().expect("emulated");
            let mut guard = ctx.lock().expect("an initialized context");
            f(&mut guard)
        }

        pub fn capabilities(&self, queue: usize) -> Capabilities {
            self.drivers[queue].capabilities()
        }

        pub fn receive_frame(&mut self, frame: &[u8]) -> Option<usize> {
            self.stats.rx_frames += 1;
            let channel = self.channel;
            match self.emu(|c| c.inject(channel, frame)) {
                Ok(EmuDelivery::Delivered { ring, .. }) => self.nic.worker_of_ring(u32::from(ring)),
                _ => None,
            }
        }

        pub fn inject_stray(&mut self, _queue: usize, _frame: &[u8]) -> bool {
            self.strays_dropped += 1;
            false
        }

        pub fn take_tx(&mut self, port: usize, out: &mut Outbox) {
            let channel = self.channel;
            let sent = self.emu(|c| c.drain_egress(channel, |f| out.send_copy(port, f)));
            debug_assert!(sent.is_ok());
        }

        pub fn pending(&self, queue: usize) -> usize {
            let Some(ring) = self.nic.notif_ring(queue) else {
                return 0;
            };
            self.emu(|c| c.iqueue_try_peek(ring)).unwrap_or(0)
        }

        pub fn stats(&self) -> NicStats {
            let emu = self.emu(|c| *c.stats());
            let mut s = self.stats.clone();
            s.rx_queue_full = emu.drop_ring_full;
            s.rx_too_long = emu.drop_oversize + emu.drop_capacity;
            s.rx_no_buffer = emu.drop_no_stack + self.strays_dropped;
            for d in &self.drivers {
                let st = d.stats();
                s.rx_no_buffer += st.rx_no_buffer + st.rx_bad;
                s.tx_frames += st.tx_frames;
                s.tx_ring_full += st.tx_ring_full;
            }
            s
        }

        pub fn poll<A: App>(
            &mut self,
            stack: &mut Stack<A>,
            queue: usize,
            budget: usize,
            now: Instant,
        ) -> bool {
            let ns = now.as_nanos();
            self.emu(|c| c.set_time(ns));
            let driver = &mut self.drivers[queue];
            driver.set_budget(budget);
            stack.poll(driver, now)
        }
    }
}
