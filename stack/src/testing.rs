//! Test support for applications (feature `testing`): a connection handle
//! that records what an app does instead of doing it, so that an app's
//! handlers are unit-tested without a stack.
//!
//! ```
//! use rusty_stack::testing::MockConn;
//! use rusty_stack::StaticWriter;
//!
//! let mut mock = MockConn::new();
//! let mut conn = mock.conn();
//! conn.send(2, StaticWriter(b"hi")).unwrap();
//! conn.close();
//! assert_eq!(mock.sent.len(), 1);
//! assert!(mock.closed);
//! ```

use crate::tcp::{Conn, ConnId, SendError};
use crate::time::Instant;
use crate::wire::Ipv4Addr;

/// Records the app's sends, close, abort and timer; refuses sends when its
/// queue (`capacity` entries) is full or after `close`, like the stack.
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
    /// The app timer ([`Conn::set_timer`]).
    pub timer: Option<Instant>,
    /// What `id()` answers.
    pub id: ConnId,
    /// What `local()` answers (10.0.0.1:80 unless changed).
    pub local: (Ipv4Addr, u16),
    /// What `remote()` answers (10.0.0.2:50000 unless changed).
    pub remote: (Ipv4Addr, u16),
}

impl<W> Default for MockConn<W> {
    /// A handle with a full queue (capacity 0).
    fn default() -> Self {
        MockConn {
            sent: Vec::new(),
            capacity: 0,
            closed: false,
            aborted: false,
            now: Instant::ZERO,
            timer: None,
            id: ConnId {
                index: 0,
                generation: 0,
            },
            local: (Ipv4Addr::new(10, 0, 0, 1), 80),
            remote: (Ipv4Addr::new(10, 0, 0, 2), 50_000),
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

    /// The [`Conn`] handle an app's handler takes, acting on this mock.
    pub fn conn(&mut self) -> Conn<'_, W> {
        Conn::mock(self)
    }

    /// What [`Conn::send`] does on a mock.
    pub(crate) fn send(&mut self, len: usize, writer: W) -> Result<(), SendError> {
        if len == 0 {
            return Err(SendError::Empty);
        }
        if self.closed || self.aborted {
            return Err(SendError::Closed);
        }
        if self.capacity == 0 {
            return Err(SendError::QueueFull);
        }
        self.capacity -= 1;
        self.sent.push(writer);
        Ok(())
    }
}
