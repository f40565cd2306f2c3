//! A driver wrapper that shows every frame the stack receives and sends to
//! a [`FrameSink`], stamped with the `now` the stack was told — what
//! `rusty-sim replay` needs to turn a capture from the field into a
//! deterministic regression test.
//!
//! Put it directly around the driver the stack polls (outside any
//! [`FaultInjector`](super::fault::FaultInjector)), and call
//! [`CaptureDriver::set_now`] with the same instant before every
//! [`Stack::poll`](crate::Stack::poll): then the frames received in one
//! poll share one timestamp, the frames sent carry the instant the stack
//! sent them at, and feeding the received frames back at those instants
//! reproduces the stack's run.
//!
//! A frame the inner driver refuses ([`TxFull`]) was shown to the sink
//! already; the sink hears [`FrameSink::send_failed`] right after, so it
//! can take it back (the stack counted it as dropped, and a replay must
//! not expect it on the wire).
//!
//! ```
//! use rusty_stack::mem::buf::Frame;
//! use rusty_stack::nic::capture::{CaptureDriver, Direction, FrameSink};
//! use rusty_stack::nic::pair::{pair, PairConfig};
//! use rusty_stack::nic::Driver;
//! use rusty_stack::time::Instant;
//!
//! #[derive(Default)]
//! struct Count(usize, usize);
//! impl FrameSink for Count {
//!     fn frame(&mut self, _at: Instant, direction: Direction, _frame: &Frame) {
//!         match direction {
//!             Direction::Received => self.0 += 1,
//!             Direction::Sent => self.1 += 1,
//!         }
//!     }
//! }
//!
//! let (a, mut b) = pair(&PairConfig::default());
//! let mut a = CaptureDriver::new(a, Count::default());
//! let mut frame = a.alloc_tx(60).unwrap();
//! frame.cursor_mut().write(&[0xff; 60]).unwrap();
//! a.transmit(frame).unwrap();
//! let frame = b.alloc_tx(60).unwrap();
//! b.transmit(frame).unwrap();
//! let received = a.receive().unwrap();
//! a.release(received);
//! assert_eq!((a.sink().0, a.sink().1), (1, 1));
//! ```

use super::{Capabilities, Driver, TxFull};
use crate::mem::buf::Frame;
use crate::time::Instant;

/// Which way a frame crossed the stack's boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The driver handed it to the stack.
    Received,
    /// The stack handed it to the driver to transmit.
    Sent,
}

/// Where a [`CaptureDriver`] shows frames: a pcap writer, a test's log.
pub trait FrameSink {
    /// A frame crossed at `at` (the instant last given to
    /// [`CaptureDriver::set_now`]).
    fn frame(&mut self, at: Instant, direction: Direction, frame: &Frame);

    /// The frame last shown as [`Direction::Sent`] was refused by the
    /// driver and never reached the wire. The default does nothing.
    fn send_failed(&mut self, _at: Instant) {}
}

/// A driver that shows every frame crossing it to a [`FrameSink`] and
/// otherwise passes everything through unchanged.
#[derive(Debug)]
pub struct CaptureDriver<D, S> {
    inner: D,
    sink: S,
    now: Instant,
}

impl<D: Driver, S: FrameSink> CaptureDriver<D, S> {
    /// Wraps `inner`; frames go to `sink`, stamped [`Instant::ZERO`] until
    /// [`CaptureDriver::set_now`] is called.
    pub fn new(inner: D, sink: S) -> Self {
        CaptureDriver {
            inner,
            sink,
            now: Instant::ZERO,
        }
    }

    /// The instant stamped on frames from now on: the `now` of the next
    /// poll.
    pub fn set_now(&mut self, now: Instant) {
        self.now = now;
    }

    /// The wrapped driver.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// The wrapped driver, mutably.
    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// The sink.
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// The sink, mutably (to flush it, for example).
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }
}

impl<D: Driver, S: FrameSink> Driver for CaptureDriver<D, S> {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn receive(&mut self) -> Option<Frame> {
        let frame = self.inner.receive()?;
        self.sink.frame(self.now, Direction::Received, &frame);
        Some(frame)
    }

    fn alloc_tx(&mut self, len: usize) -> Option<Frame> {
        self.inner.alloc_tx(len)
    }

    fn alloc_tx_reference(&mut self, bytes: &'static [u8]) -> Option<Frame> {
        self.inner.alloc_tx_reference(bytes)
    }

    fn transmit(&mut self, frame: Frame) -> Result<(), TxFull> {
        self.sink.frame(self.now, Direction::Sent, &frame);
        let result = self.inner.transmit(frame);
        if result.is_err() {
            self.sink.send_failed(self.now);
        }
        result
    }

    fn release(&mut self, frame: Frame) {
        self.inner.release(frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nic::pair::{pair, PairConfig};
    use crate::time::Duration;

    #[derive(Default)]
    struct Log {
        frames: Vec<(Instant, Direction, Vec<u8>)>,
        failed: usize,
    }

    impl FrameSink for Log {
        fn frame(&mut self, at: Instant, direction: Direction, frame: &Frame) {
            self.frames.push((at, direction, frame.copy_to_vec()));
        }
        fn send_failed(&mut self, _at: Instant) {
            self.failed += 1;
        }
    }

    /// A driver whose transmit ring is always full.
    struct Full(crate::nic::pair::PairDriver);

    impl Driver for Full {
        fn capabilities(&self) -> Capabilities {
            self.0.capabilities()
        }
        fn receive(&mut self) -> Option<Frame> {
            self.0.receive()
        }
        fn alloc_tx(&mut self, len: usize) -> Option<Frame> {
            self.0.alloc_tx(len)
        }
        fn transmit(&mut self, _frame: Frame) -> Result<(), TxFull> {
            Err(TxFull)
        }
    }

    #[test]
    fn stamps_both_directions_with_the_current_instant() {
        let (a, mut b) = pair(&PairConfig::default());
        let mut a = CaptureDriver::new(a, Log::default());
        let t1 = Instant::ZERO + Duration::from_millis(5);
        a.set_now(t1);
        let mut f = a.alloc_tx(64).unwrap();
        f.cursor_mut().write(&[1; 64]).unwrap();
        a.transmit(f).unwrap();
        let mut f = b.alloc_tx(70).unwrap();
        f.cursor_mut().write(&[2; 70]).unwrap();
        b.transmit(f).unwrap();
        let t2 = t1 + Duration::from_millis(1);
        a.set_now(t2);
        let got = a.receive().unwrap();
        assert_eq!(got.len(), 70);
        a.release(got);
        assert!(a.receive().is_none());
        let log = &a.sink().frames;
        assert_eq!(log.len(), 2);
        assert_eq!(
            (log[0].0, log[0].1, &log[0].2[..]),
            (t1, Direction::Sent, &[1u8; 64][..])
        );
        assert_eq!(
            (log[1].0, log[1].1, &log[1].2[..]),
            (t2, Direction::Received, &[2u8; 70][..])
        );
        // What the wrapper passed on is what the peer got.
        assert_eq!(b.receive().unwrap().copy_to_vec(), vec![1; 64]);
    }

    #[test]
    fn a_refused_frame_is_taken_back() {
        let (a, _b) = pair(&PairConfig::default());
        let mut a = CaptureDriver::new(Full(a), Log::default());
        let f = a.alloc_tx(60).unwrap();
        assert_eq!(a.transmit(f), Err(TxFull));
        assert_eq!(a.sink().frames.len(), 1);
        assert_eq!(a.sink().failed, 1);
    }
}
