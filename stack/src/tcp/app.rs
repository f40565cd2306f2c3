//! The event-driven application API.
//!
//! An application is a type implementing [`App`]. The stack calls its
//! handlers from inside its poll loop, on the core that owns the
//! connection; handlers act on the connection through the [`ConnRef`]
//! they are given. Per-connection state (`App::Conn`) lives in the stack's
//! connection slot, so nothing is boxed and nothing allocates.
//!
//! Data to send is not copied in: [`ConnOps::send`] queues a [`Writer`]
//! that the stack calls to write any part of the data straight into NIC
//! buffers, as many times as retransmissions need. A writer that knows the
//! ones' complement sum of its bytes (a precomputed table) lets the stack
//! checksum a segment without reading its payload.
//!
//! Data sent and `close()` called inside [`App::on_data`] or
//! [`App::on_remote_close`] ride on the ACK of the segment that triggered
//! them.

use crate::mem::cursor::{Cursor, CursorMut};
use crate::time::Instant;
use crate::wire::Ipv4Addr;

/// Writes the bytes of one `send` into transmit buffers, on demand.
pub trait Writer {
    /// Writes bytes `[offset, offset + out.len())` of the data into `out`,
    /// filling it completely. Called again with any offset for
    /// retransmissions, so it must be a pure function of its data.
    fn write(&self, offset: usize, out: &mut CursorMut<'_>);

    /// The ones' complement sum of bytes `[offset, offset + len)`, as if they
    /// started at an even position, if known without reading them.
    fn sum(&self, offset: usize, len: usize) -> Option<u16> {
        let _ = (offset, len);
        None
    }
}

/// Identifies a connection slot; stable while the connection lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    /// Slot index in the connection table.
    pub index: u32,
    /// Generation of the slot, so a stale id never names a newer connection.
    pub generation: u32,
}

/// Why [`ConnOps::send`] refused data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The connection's transmit queue has no free entry; retry after some
    /// data is acknowledged ([`App::on_acked`]).
    QueueFull,
    /// The connection was closed (by `close`, `abort`, or the peer's reset);
    /// nothing more can be sent.
    Closed,
    /// A zero-length send.
    Empty,
}

impl core::fmt::Display for SendError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            SendError::QueueFull => "transmit queue full",
            SendError::Closed => "connection closed for sending",
            SendError::Empty => "nothing to send",
        })
    }
}

/// What an application may do to one connection from inside a handler.
///
/// Actions are recorded and carried out when the handler returns, so a
/// reply and a FIN can share the segment that acknowledges the data that
/// triggered them.
pub trait ConnOps<W> {
    /// Queues `len` bytes written by `writer`. When they are all
    /// acknowledged, [`App::on_acked`] gets the writer back.
    fn send(&mut self, len: usize, writer: W) -> Result<(), SendError>;
    /// Closes our side gracefully: FIN after the queued data.
    fn close(&mut self);
    /// Resets the connection at once (RST); queued data is discarded.
    fn abort(&mut self);
    /// Free entries in the transmit queue.
    fn send_capacity(&self) -> usize;
    /// This connection's id.
    fn id(&self) -> ConnId;
    /// Local address and port.
    fn local(&self) -> (Ipv4Addr, u16);
    /// Remote address and port.
    fn remote(&self) -> (Ipv4Addr, u16);
    /// The time of the event being handled.
    fn now(&self) -> Instant;
}

/// The connection handle handed to [`App`] handlers.
pub type ConnRef<'a, W> = &'a mut dyn ConnOps<W>;

/// A connection the application wants opened, returned by
/// [`App::next_connect`].
#[derive(Debug)]
pub struct Connect<C> {
    /// Remote address.
    pub addr: Ipv4Addr,
    /// Remote port.
    pub port: u16,
    /// The connection's application state.
    pub state: C,
}

/// An application running inside the stack.
pub trait App {
    /// Per-connection state, stored in the connection slot.
    type Conn;
    /// The writers this application sends with.
    type Writer: Writer;

    /// A connection to a listening `port` completed its handshake. Return
    /// its state to accept it, or `None` to refuse it (it is reset).
    fn accept(&mut self, port: u16, conn: ConnRef<'_, Self::Writer>) -> Option<Self::Conn>;

    /// An active open completed its handshake.
    fn on_connected(&mut self, c: &mut Self::Conn, conn: ConnRef<'_, Self::Writer>) {
        let _ = (c, conn);
    }

    /// New in-order data arrived. The cursor points into the NIC buffers
    /// and is valid only during the call.
    fn on_data(&mut self, c: &mut Self::Conn, conn: ConnRef<'_, Self::Writer>, data: Cursor<'_>);

    /// All bytes of an earlier `send` were acknowledged; the writer comes
    /// back (it may own resources).
    fn on_acked(
        &mut self,
        c: &mut Self::Conn,
        conn: ConnRef<'_, Self::Writer>,
        writer: Self::Writer,
    ) {
        let _ = (c, conn, writer);
    }

    /// The peer closed its side (FIN received, after all its data).
    fn on_remote_close(&mut self, c: &mut Self::Conn, conn: ConnRef<'_, Self::Writer>);

    /// Both sides closed: the connection is gone and its state returned.
    fn on_close(&mut self, c: Self::Conn);

    /// The connection was reset or timed out: it is gone and its state
    /// returned. Any data not yet acknowledged may have been lost.
    fn on_reset(&mut self, c: Self::Conn);

    /// Called once per [`crate::Stack::poll`]: a connection to open now,
    /// if the application wants one (load generators open connections here).
    /// The stack calls it until it returns `None` or the table is full.
    fn next_connect(&mut self, now: Instant) -> Option<Connect<Self::Conn>> {
        let _ = now;
        None
    }

    /// An active open failed before the connection existed (no free port,
    /// table full, no route); its state comes back.
    fn on_connect_failed(&mut self, c: Self::Conn) {
        let _ = c;
    }
}

/// A writer over a static byte string (replies, error pages).
#[derive(Clone, Copy, Debug)]
pub struct StaticWriter(pub &'static [u8]);

impl Writer for StaticWriter {
    fn write(&self, offset: usize, out: &mut CursorMut<'_>) {
        let end = offset.saturating_add(out.len()).min(self.0.len());
        let bytes = self.0.get(offset..end).unwrap_or(&[]);
        let _ = out.write(bytes);
    }
}
