//! Test support for applications (feature `testing`): a connection handle
//! that records what an app does instead of doing it, so that an app's
//! handlers are unit-tested without a stack.

use crate::tcp::{ConnId, ConnOps, SendError};
use crate::time::Instant;
use crate::wire::Ipv4Addr;

/// Records the app's sends, close and abort; refuses sends when its queue
/// (`capacity` entries) is full or after `close`, like the stack.
#[derive(Debug)]
pub struct MockConn<W> {
    /// The writers sent, in order.
    pub sent: Vec<W>,
    /// Free transmit queue entries; each send takes one.
    pub capacity: usize,
    /// `close` was called.
    pub closed: bool,
    /// `abort` was called.
    pub aborted: bool,
    /// What `now()` answers.
    pub now: Instant,
}

impl<W> Default for MockConn<W> {
    fn default() -> Self {
        MockConn {
            sent: Vec::new(),
            capacity: 0,
            closed: false,
            aborted: false,
            now: Instant::ZERO,
        }
    }
}

impl<W> MockConn<W> {
    /// A handle whose queue never fills.
    pub fn new() -> Self {
        MockConn {
            capacity: usize::MAX,
            ..MockConn::default()
        }
    }
}

impl<W> ConnOps<W> for MockConn<W> {
    fn send(&mut self, _len: usize, writer: W) -> Result<(), SendError> {
        if self.closed {
            return Err(SendError::Closed);
        }
        if self.capacity == 0 {
            return Err(SendError::QueueFull);
        }
        self.capacity -= 1;
        self.sent.push(writer);
        Ok(())
    }
    fn close(&mut self) {
        self.closed = true;
    }
    fn abort(&mut self) {
        self.aborted = true;
    }
    fn send_capacity(&self) -> usize {
        self.capacity
    }
    fn id(&self) -> ConnId {
        ConnId {
            index: 0,
            generation: 0,
        }
    }
    fn local(&self) -> (Ipv4Addr, u16) {
        (Ipv4Addr::new(10, 0, 0, 1), 80)
    }
    fn remote(&self) -> (Ipv4Addr, u16) {
        (Ipv4Addr::new(10, 0, 0, 2), 50_000)
    }
    fn now(&self) -> Instant {
        self.now
    }
}
