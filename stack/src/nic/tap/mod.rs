//! A [`Driver`] over a Linux TAP device (feature `tap`): Rusty as a host on
//! a real Linux network, with the kernel (or anything routed through it) as
//! its peer.
//!
//! The device is opened with `IFF_TAP | IFF_NO_PI` and non-blocking. Frames
//! live in the driver's own [`BufPool`], as with every other driver: a
//! received frame is read straight into a pool buffer (one `read` per
//! frame, a batch of them per [`Driver::receive`] call that finds the queue
//! empty) and handed to the stack as a descriptor; a frame to send is
//! written from its buffers with one `writev`. Nothing is copied between
//! the kernel and the stack but the kernel's own copy. The kernel's queue
//! of frames for us is lengthened at open ([`TapConfig::queue_len`]), so a
//! stack that is descheduled for a few milliseconds does not lose frames.
//!
//! TAP is the one backend with a real clock: [`TapDriver::now`] reads the
//! monotonic clock (the stack still takes `now` from its owner, as always),
//! and [`TapDriver::wait`] sleeps in `poll(2)` until a frame arrives or the
//! stack's next timer is due.
//!
//! ```no_run
//! # #[cfg(target_os = "linux")] {
//! use rusty_stack::nic::tap::{TapConfig, TapDriver};
//! use rusty_stack::nic::Driver;
//! let mut tap = TapDriver::open(&TapConfig::new("rtap0")).expect("root and /dev/net/tun");
//! while let Some(frame) = tap.receive() {
//!     println!("{} bytes", frame.len());
//! }
//! # }
//! ```

mod sys;

use std::collections::VecDeque;
use std::io;

use super::{Capabilities, Driver, TxFull};
use crate::mem::buf::{BufPool, Frame, PoolConfig, SIZE_CLASSES};
use crate::time::{Duration, Instant};
use crate::wire::{ethernet, MacAddr};

pub use self::sys::TapFd;

/// Settings of a [`TapDriver`].
#[derive(Clone, Debug)]
pub struct TapConfig {
    /// The TAP interface to attach to (created if it does not exist and the
    /// process may create it).
    pub name: String,
    /// Our MAC address (the kernel side has its own).
    pub mac: MacAddr,
    /// The MTU; it should match the interface's (`ip link set NAME mtu N`).
    pub mtu: usize,
    /// Buffers of the driver's pool (frames received and sent, and those
    /// the stack holds out of order).
    pub pool: PoolConfig,
    /// Frames read per `receive` call that finds the queue empty.
    pub rx_batch: usize,
    /// Frames the kernel may queue for us to read (the device's
    /// `txqueuelen`; 0 leaves it as it is). The kernel's default of 1000
    /// is about 4 ms of traffic at the rates a busy peer sends here, so a
    /// stack descheduled that long lost frames (and a lost SYN costs its
    /// peer a second). Setting it needs `CAP_NET_ADMIN`; without, the
    /// driver keeps the device's length and logs a `tracing` warning.
    pub queue_len: u32,
}

impl TapConfig {
    /// Defaults for interface `name`: a locally administered MAC
    /// `02:00:00:77:00:02`, MTU 1500, batches of 64 frames, and a pool of
    /// about 10 MiB with buffers in every class up to jumbo frames (a frame
    /// takes the smallest class that holds it, with no fallback, so every
    /// class a frame length can need must have buffers): 2048 of 1664
    /// bytes (receive buffers and full segments), 512 of 10,368 bytes (for
    /// an MTU up to 9000), and hundreds in each smaller class; and 2048
    /// reference slots, so static data (a page) is sent without a copy.
    pub fn new(name: &str) -> Self {
        let counts = [1024, 512, 512, 512, 2048, 64, 512, 0];
        debug_assert_eq!(counts.len(), SIZE_CLASSES.len());
        TapConfig {
            name: name.to_string(),
            mac: MacAddr([0x02, 0x00, 0x00, 0x77, 0x00, 0x02]),
            mtu: 1500,
            pool: PoolConfig {
                counts,
                chaining: false,
                // Frames are written to the device as a gather of their
                // pieces, so static data goes out by reference.
                references: 2048,
            },
            rx_batch: 64,
            queue_len: 10_000,
        }
    }
}

/// Counters of a [`TapDriver`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TapStats {
    /// Frames read from the device.
    pub rx_frames: u64,
    /// Frames dropped because no receive buffer was free.
    pub rx_no_buffer: u64,
    /// Frames read that were shorter than an Ethernet header, or longer
    /// than the MTU allows.
    pub rx_bad_length: u64,
    /// Frames written to the device.
    pub tx_frames: u64,
    /// Frames refused because the device's queue was full.
    pub tx_full: u64,
    /// Transmit buffers not available.
    pub tx_alloc_failures: u64,
    /// Read or write errors other than "would block".
    pub io_errors: u64,
}

/// A driver over one TAP device (see the module docs).
#[derive(Debug)]
pub struct TapDriver {
    fd: TapFd,
    mac: MacAddr,
    mtu: usize,
    pool: BufPool,
    /// The pool has reference slots ([`Capabilities::tx_references`]).
    tx_references: bool,
    rx: VecDeque<Frame>,
    rx_batch: usize,
    /// The size class receive buffers come from: the smallest that holds a
    /// frame of the MTU.
    rx_class: usize,
    /// The kernel's queue length for the device, when the driver set it.
    queue_len: Option<u32>,
    start: std::time::Instant,
    stats: TapStats,
}

impl TapDriver {
    /// Opens the device `config.name` (needs `CAP_NET_ADMIN`, or a
    /// persistent TAP device the caller owns). Fails when the MTU needs a
    /// buffer larger than any size class.
    pub fn open(config: &TapConfig) -> io::Result<TapDriver> {
        let frame_len = config.mtu + ethernet::HEADER_LEN;
        let rx_class = SIZE_CLASSES
            .iter()
            .position(|&size| size >= frame_len)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "MTU too large"))?;
        if config.pool.counts[rx_class] == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the pool has no buffers of {} bytes",
                    SIZE_CLASSES[rx_class]
                ),
            ));
        }
        let fd = TapFd::open(&config.name)?;
        let queue_len = match config.queue_len {
            0 => None,
            len => match fd.set_queue_len(len) {
                Ok(now) => Some(now),
                Err(e) => {
                    tracing::warn!(device = fd.name(), len, "cannot set the queue length: {e}");
                    None
                }
            },
        };
        Ok(TapDriver {
            queue_len,
            fd,
            mac: config.mac,
            mtu: config.mtu,
            pool: BufPool::new(&config.pool),
            tx_references: config.pool.references > 0,
            rx: VecDeque::with_capacity(config.rx_batch.max(1)),
            rx_batch: config.rx_batch.max(1),
            rx_class,
            start: std::time::Instant::now(),
            stats: TapStats::default(),
        })
    }

    /// The interface's name.
    pub fn name(&self) -> &str {
        self.fd.name()
    }

    /// The monotonic clock, from the moment the device was opened.
    pub fn now(&self) -> Instant {
        let elapsed = self.start.elapsed();
        Instant::ZERO + Duration::from_nanos(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX))
    }

    /// Sleeps until a frame can be read or `until` (the stack's
    /// `poll_at()`) is reached; `None` waits for a frame only. Returns at
    /// once when received frames are queued.
    pub fn wait(&mut self, until: Option<Instant>) -> io::Result<()> {
        if !self.rx.is_empty() {
            return Ok(());
        }
        let now = self.now();
        let timeout = until.map(|at| {
            if at > now {
                std::time::Duration::from_nanos((at - now).as_nanos())
            } else {
                std::time::Duration::ZERO
            }
        });
        self.fd.wait_readable(timeout).map(|_| ())
    }

    /// The device's queue length (`txqueuelen`) as the driver set it, or
    /// `None` when it left the device's own (see [`TapConfig::queue_len`]).
    pub fn queue_len(&self) -> Option<u32> {
        self.queue_len
    }

    /// The driver's counters.
    pub fn stats(&self) -> TapStats {
        self.stats
    }

    /// Buffers of the pool in use (received frames held, frames queued).
    pub fn buffers_in_use(&self) -> usize {
        self.pool.in_use()
    }

    /// Reads up to one batch of frames into the receive queue.
    fn fill(&mut self) {
        let max_frame = self.mtu + ethernet::HEADER_LEN;
        for _ in 0..self.rx_batch {
            let Some(mut frame) = self.pool.alloc(self.rx_class) else {
                // Drain one frame from the device anyway so it does not
                // stall behind a full pool, and count it.
                let mut scratch = [0u8; 64];
                match self.fd.read_frame(&mut scratch) {
                    Ok(Some(_)) => self.stats.rx_no_buffer += 1,
                    Ok(None) => {}
                    Err(_) => self.stats.io_errors += 1,
                }
                return;
            };
            let result = match frame.storage_mut(0) {
                Some(storage) => self.fd.read_frame(storage),
                None => return,
            };
            match result {
                Ok(Some(n)) if n >= ethernet::HEADER_LEN && n <= max_frame => {
                    if frame.set_window(0, 0, n).is_err() {
                        self.stats.rx_bad_length += 1;
                        continue;
                    }
                    self.stats.rx_frames += 1;
                    self.rx.push_back(frame);
                }
                Ok(Some(_)) => self.stats.rx_bad_length += 1,
                Ok(None) => return,
                Err(_) => {
                    self.stats.io_errors += 1;
                    return;
                }
            }
        }
    }
}

impl Driver for TapDriver {
    fn capabilities(&self) -> Capabilities {
        Capabilities::new(self.mac, self.mtu).with_tx_references(self.tx_references)
    }

    fn receive(&mut self) -> Option<Frame> {
        if self.rx.is_empty() {
            self.fill();
        }
        self.rx.pop_front()
    }

    fn alloc_tx(&mut self, len: usize) -> Option<Frame> {
        let frame = self.pool.alloc_chain(len);
        if frame.is_none() {
            self.stats.tx_alloc_failures += 1;
        }
        frame
    }

    /// A reference slot: [`TapDriver::transmit`] hands the device every
    /// piece of a frame in one gathered write, the referenced bytes from
    /// where they are.
    fn alloc_tx_reference(&mut self, bytes: &'static [u8]) -> Option<Frame> {
        let frame = self.pool.alloc_reference(bytes);
        if frame.is_none() {
            self.stats.tx_alloc_failures += 1;
        }
        frame
    }

    fn transmit(&mut self, frame: Frame) -> Result<(), TxFull> {
        let mut parts: [&[u8]; 16] = [&[]; 16];
        let mut count = 0;
        for (slot, part) in parts.iter_mut().zip(frame.segments()) {
            *slot = part;
            count += 1;
        }
        match self.fd.write_frame(&parts[..count]) {
            Ok(true) => {
                self.stats.tx_frames += 1;
                Ok(())
            }
            Ok(false) => {
                self.stats.tx_full += 1;
                Err(TxFull)
            }
            Err(_) => {
                // A frame the device rejects is lost like one on a wire.
                self.stats.io_errors += 1;
                Ok(())
            }
        }
    }
}
