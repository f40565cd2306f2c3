//! The event-driven application API.
//!
//! An application is a type implementing [`App`]. The stack calls its
//! handlers from inside its poll loop, on the core that owns the
//! connection; handlers act on the connection through the [`Conn`]
//! handle they are given (and code outside a handler through
//! [`Stack::with_conn`](crate::Stack::with_conn)). Per-connection state
//! (`App::Conn`) lives in the stack's connection slot, so nothing is boxed
//! and nothing allocates.
//!
//! Data to send is not copied in: [`Conn::send`] queues a [`Writer`]
//! that the stack calls to write any part of the data straight into NIC
//! buffers, as many times as retransmissions need. A writer that knows the
//! ones' complement sum of its bytes (a precomputed table) lets the stack
//! checksum a segment without reading its payload.
//!
//! Data sent and `close()` called inside [`App::on_data`] or
//! [`App::on_remote_close`] ride on the ACK of the segment that triggered
//! them. An app that needs time to pass (a request timeout, pacing) asks for
//! [`App::on_timer`] with [`Conn::set_timer`].

use crate::mem::cursor::{Cursor, CursorMut};
use crate::time::Instant;
use crate::wire::Ipv4Addr;

use super::tcb::Tcb;

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

    /// Bytes `[offset, offset + len)` of the data, if they lie in memory
    /// that lives as long as the program and never changes (a static page):
    /// then a NIC that can gather ([`Capabilities::tx_references`]) sends
    /// them from there, and the stack neither calls [`Writer::write`] for
    /// them nor copies them. They must be the bytes `write` would write.
    ///
    /// [`Capabilities::tx_references`]: crate::nic::Capabilities::tx_references
    fn static_bytes(&self, offset: usize, len: usize) -> Option<&'static [u8]> {
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

/// Why [`Conn::send`] refused data.
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

impl std::error::Error for SendError {}

/// A handle on one connection: what an application may do to it, inside a
/// handler (every [`App`] handler gets one) or from outside through
/// [`Stack::with_conn`](crate::Stack::with_conn).
///
/// It is a concrete type, so every call is static and inlines into the
/// app's handler. Actions are recorded and carried out when the handler
/// returns, so a reply and a FIN can share the segment that acknowledges
/// the data that triggered them.
///
/// With the `testing` feature, [`crate::testing::MockConn`] gives a handle
/// over a recording mock, so that an app's handlers are unit-tested
/// without a stack.
pub struct Conn<'a, W> {
    inner: Inner<'a, W>,
}

/// What a [`Conn`] acts on. Without the `testing` feature there is one
/// variant, and the handle is a pointer to the TCB.
enum Inner<'a, W> {
    Tcb(&'a mut Tcb<W>),
    #[cfg(feature = "testing")]
    Mock(&'a mut crate::testing::MockConn<W>),
}

impl<'a, W> Conn<'a, W> {
    /// The handle on a TCB.
    #[inline]
    pub(crate) fn new(tcb: &'a mut Tcb<W>) -> Self {
        Conn {
            inner: Inner::Tcb(tcb),
        }
    }

    /// The handle on a mock.
    #[cfg(feature = "testing")]
    pub(crate) fn mock(mock: &'a mut crate::testing::MockConn<W>) -> Self {
        Conn {
            inner: Inner::Mock(mock),
        }
    }

    /// Queues `len` bytes written by `writer`. When they are all
    /// acknowledged, [`App::on_acked`] gets the writer back.
    #[inline]
    pub fn send(&mut self, len: usize, writer: W) -> Result<(), SendError> {
        match &mut self.inner {
            Inner::Tcb(tcb) => tcb.queue_send(len, writer),
            #[cfg(feature = "testing")]
            Inner::Mock(m) => m.send(len, writer),
        }
    }

    /// Closes our side gracefully: FIN after the queued data.
    #[inline]
    pub fn close(&mut self) {
        match &mut self.inner {
            Inner::Tcb(tcb) => tcb.close_requested = true,
            #[cfg(feature = "testing")]
            Inner::Mock(m) => m.closed = true,
        }
    }

    /// Resets the connection at once (RST); queued data is discarded.
    #[inline]
    pub fn abort(&mut self) {
        match &mut self.inner {
            Inner::Tcb(tcb) => tcb.abort_requested = true,
            #[cfg(feature = "testing")]
            Inner::Mock(m) => m.aborted = true,
        }
    }

    /// Free entries in the transmit queue.
    #[inline]
    pub fn send_capacity(&self) -> usize {
        match &self.inner {
            Inner::Tcb(tcb) => tcb.txq.capacity() - tcb.txq.len(),
            #[cfg(feature = "testing")]
            Inner::Mock(m) => m.capacity,
        }
    }

    /// This connection's id (for [`Stack::with_conn`](crate::Stack::with_conn)).
    #[inline]
    pub fn id(&self) -> ConnId {
        match &self.inner {
            Inner::Tcb(tcb) => tcb.id,
            #[cfg(feature = "testing")]
            Inner::Mock(m) => m.id,
        }
    }

    /// Local address and port.
    #[inline]
    pub fn local(&self) -> (Ipv4Addr, u16) {
        match &self.inner {
            Inner::Tcb(tcb) => tcb.local,
            #[cfg(feature = "testing")]
            Inner::Mock(m) => m.local,
        }
    }

    /// Remote address and port.
    #[inline]
    pub fn remote(&self) -> (Ipv4Addr, u16) {
        match &self.inner {
            Inner::Tcb(tcb) => tcb.remote,
            #[cfg(feature = "testing")]
            Inner::Mock(m) => m.remote,
        }
    }

    /// The time of the event being handled.
    #[inline]
    pub fn now(&self) -> Instant {
        match &self.inner {
            Inner::Tcb(tcb) => tcb.now,
            #[cfg(feature = "testing")]
            Inner::Mock(m) => m.now,
        }
    }

    /// Asks for [`App::on_timer`] on this connection at `at` (or at the
    /// first timer tick after it, [`TcpConfig::timer_tick`]; at once if `at`
    /// has passed). One app timer per connection: a later call moves it.
    /// It lives on the stack's timer wheel next to the connection's own
    /// timers, so setting it allocates nothing; it is cancelled when the
    /// connection ends.
    ///
    /// [`TcpConfig::timer_tick`]: crate::TcpConfig::timer_tick
    #[inline]
    pub fn set_timer(&mut self, at: Instant) {
        match &mut self.inner {
            Inner::Tcb(tcb) => {
                tcb.app_timer_at = Some(at);
                tcb.app_timer_dirty = true;
            }
            #[cfg(feature = "testing")]
            Inner::Mock(m) => m.timer = Some(at),
        }
    }

    /// Cancels the app timer, if one is set.
    #[inline]
    pub fn cancel_timer(&mut self) {
        match &mut self.inner {
            Inner::Tcb(tcb) => {
                if tcb.app_timer_at.take().is_some() {
                    tcb.app_timer_dirty = true;
                }
            }
            #[cfg(feature = "testing")]
            Inner::Mock(m) => m.timer = None,
        }
    }

    /// When the app timer fires, if one is set.
    #[inline]
    pub fn timer(&self) -> Option<Instant> {
        match &self.inner {
            Inner::Tcb(tcb) => tcb.app_timer_at,
            #[cfg(feature = "testing")]
            Inner::Mock(m) => m.timer,
        }
    }
}

impl<W> core::fmt::Debug for Conn<'_, W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Conn")
            .field("id", &self.id())
            .field("local", &self.local())
            .field("remote", &self.remote())
            .finish_non_exhaustive()
    }
}

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
    fn accept(&mut self, port: u16, conn: &mut Conn<'_, Self::Writer>) -> Option<Self::Conn>;

    /// An active open completed its handshake.
    fn on_connected(&mut self, c: &mut Self::Conn, conn: &mut Conn<'_, Self::Writer>) {
        let _ = (c, conn);
    }

    /// New in-order data arrived. The cursor points into the NIC buffers
    /// and is valid only during the call.
    fn on_data(&mut self, c: &mut Self::Conn, conn: &mut Conn<'_, Self::Writer>, data: Cursor<'_>);

    /// All bytes of an earlier `send` were acknowledged; the writer comes
    /// back (it may own resources).
    fn on_acked(
        &mut self,
        c: &mut Self::Conn,
        conn: &mut Conn<'_, Self::Writer>,
        writer: Self::Writer,
    ) {
        let _ = (c, conn, writer);
    }

    /// The peer closed its side (FIN received, after all its data). The
    /// default closes ours too (the FIN follows any queued data); an app
    /// that goes on sending after the peer's FIN overrides it.
    fn on_remote_close(&mut self, c: &mut Self::Conn, conn: &mut Conn<'_, Self::Writer>) {
        let _ = c;
        conn.close();
    }

    /// Both sides closed: the connection is gone and its state returned.
    /// The default drops the state.
    fn on_close(&mut self, c: Self::Conn) {
        let _ = c;
    }

    /// The connection was reset or timed out: it is gone and its state
    /// returned. Any data not yet acknowledged may have been lost. The
    /// default drops the state.
    fn on_reset(&mut self, c: Self::Conn) {
        let _ = c;
    }

    /// The app timer of this connection ([`Conn::set_timer`]) fired. It is
    /// no longer set; the handler may set it again. The default does
    /// nothing.
    fn on_timer(&mut self, c: &mut Self::Conn, conn: &mut Conn<'_, Self::Writer>) {
        let _ = (c, conn);
    }

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

    fn static_bytes(&self, offset: usize, len: usize) -> Option<&'static [u8]> {
        self.0.get(offset..offset.checked_add(len)?)
    }
}
