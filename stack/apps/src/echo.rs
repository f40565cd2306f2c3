//! The echo server of the thesis (chapter 2): every byte received is sent
//! back, and the connection is closed when the peer closes its side.
//!
//! The thesis's writer captured the received cursor and wrote from it. Here
//! the received [`Cursor`] is valid only during [`App::on_data`], while a
//! writer may be called again for a retransmission long after, so each
//! [`EchoWriter`] owns its bytes: an inline buffer of [`ECHO_CHUNK`] bytes
//! (no heap). Received data is copied once into writers, chunk by chunk; the
//! stack then writes each chunk straight into NIC buffers, as often as
//! retransmissions need, and checksums it from the writer.
//!
//! A connection may have at most `tx_queue_entries` writers queued (see
//! [`TcpConfig`]), plus one partly filled chunk held in its [`EchoConn`]
//! while the queue is full. A peer that sends more than that before
//! acknowledging our echoes (more than about `(tx_queue_entries + 1) ×
//! ECHO_CHUNK` bytes) overflows it: the connection is reset and counted in
//! [`EchoCounters::overflows`]. Echo is a test and benchmark service; size
//! the transmit queue for the bursts expected.
//!
//! ```
//! use rusty_apps::EchoServer;
//! use rusty_stack::nic::Driver;
//! use rusty_stack::iface::InterfaceConfig;
//! use rusty_stack::nic::pair::{pair, PairConfig};
//! use rusty_stack::{App, Conn, Stack, StaticWriter, TcpConfig};
//! use rusty_stack::mem::cursor::Cursor;
//! use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr};
//!
//! /// Sends one message and keeps what comes back.
//! struct Once(Vec<u8>);
//! impl App for Once {
//!     type Conn = ();
//!     type Writer = StaticWriter;
//!     fn accept(&mut self, _: u16, _: &mut Conn<'_, StaticWriter>) -> Option<()> { None }
//!     fn on_connected(&mut self, _: &mut (), conn: &mut Conn<'_, StaticWriter>) {
//!         conn.send(6, StaticWriter(b"hello!")).unwrap();
//!         conn.close();
//!     }
//!     fn on_data(&mut self, _: &mut (), _: &mut Conn<'_, StaticWriter>, data: Cursor<'_>) {
//!         self.0.extend(data.copy_to_vec());
//!     }
//!     fn on_remote_close(&mut self, _: &mut (), _: &mut Conn<'_, StaticWriter>) {}
//!     fn on_close(&mut self, _: ()) {}
//!     fn on_reset(&mut self, _: ()) {}
//! }
//!
//! let (server_ip, client_ip) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
//! let (mut ds, mut dc) = pair(&PairConfig::default());
//! let now = ds.now();
//! let iface = |ip| InterfaceConfig::new(Ipv4Cidr::new(ip, 24).unwrap());
//! let mut server = Stack::new(&ds.capabilities(), iface(server_ip), TcpConfig::default(), EchoServer::new(), now);
//! let mut client = Stack::new(&dc.capabilities(), iface(client_ip), TcpConfig::default(), Once(Vec::new()), now);
//! server.listen(7, 16).unwrap();
//! client.connect(&mut dc, now, server_ip, 7, ()).unwrap();
//! for _ in 0..50 {
//!     let now = ds.now();
//!     server.poll(&mut ds, now);
//!     client.poll(&mut dc, now);
//!     ds.advance(rusty_stack::time::Duration::from_millis(1));
//! }
//! assert_eq!(client.app().0, b"hello!");
//! assert_eq!(server.app().counters().bytes_echoed, 6);
//! assert_eq!(server.app().counters().closed, 1);
//! ```
//!
//! [`TcpConfig`]: rusty_stack::tcp::TcpConfig

use core::fmt;

use rusty_stack::mem::cursor::{Cursor, CursorMut};
use rusty_stack::tcp::{App, Conn, SendError, Writer};

/// Bytes one [`EchoWriter`] holds.
pub const ECHO_CHUNK: usize = 2048;

/// A writer owning up to [`ECHO_CHUNK`] bytes, inline.
#[derive(Clone)]
pub struct EchoWriter {
    len: u16,
    bytes: [u8; ECHO_CHUNK],
}

impl EchoWriter {
    /// An empty writer.
    pub const fn new() -> Self {
        EchoWriter {
            len: 0,
            bytes: [0; ECHO_CHUNK],
        }
    }

    /// The bytes held.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Number of bytes held.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Holds [`ECHO_CHUNK`] bytes.
    pub fn is_full(&self) -> bool {
        self.len() == ECHO_CHUNK
    }

    /// Appends as much of `data` as fits; returns how many bytes.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let at = self.len();
        let n = data.len().min(ECHO_CHUNK - at);
        self.bytes[at..at + n].copy_from_slice(&data[..n]);
        // `at + n <= ECHO_CHUNK`, which fits a u16.
        self.len = (at + n) as u16;
        n
    }
}

impl Default for EchoWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for EchoWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EchoWriter")
            .field("len", &self.len)
            .finish()
    }
}

impl Writer for EchoWriter {
    #[inline]
    fn write(&self, offset: usize, out: &mut CursorMut<'_>) {
        super::write_slice(self.as_bytes(), offset, out);
    }

    /// Summed from the writer's own bytes (in cache), not from the frame.
    #[inline]
    fn sum(&self, offset: usize, len: usize) -> Option<u16> {
        super::sum_slice(self.as_bytes(), offset, len)
    }
}

/// Per-connection state of the echo server.
#[derive(Clone, Debug, Default)]
pub struct EchoConn {
    /// Received bytes not yet queued (the transmit queue was full).
    pending: EchoWriter,
    /// The peer closed: close once `pending` is queued.
    close_after_flush: bool,
}

/// Counters of an [`EchoServer`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EchoCounters {
    /// Connections accepted.
    pub connections: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Bytes queued to be sent back.
    pub bytes_echoed: u64,
    /// Bytes sent back and acknowledged.
    pub bytes_acked: u64,
    /// Connections closed gracefully.
    pub closed: u64,
    /// Connections reset (by the peer, a timeout, or an overflow).
    pub resets: u64,
    /// Connections reset because the peer sent faster than the transmit
    /// queue drained.
    pub overflows: u64,
}

/// Echoes every byte back on every connection it accepts (any listening
/// port), and closes when the peer closes. See the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct EchoServer {
    counters: EchoCounters,
}

impl EchoServer {
    /// A server with zeroed counters.
    pub const fn new() -> Self {
        EchoServer {
            counters: EchoCounters {
                connections: 0,
                bytes_received: 0,
                bytes_echoed: 0,
                bytes_acked: 0,
                closed: 0,
                resets: 0,
                overflows: 0,
            },
        }
    }

    /// The counters.
    pub fn counters(&self) -> &EchoCounters {
        &self.counters
    }

    /// Queues the pending chunk if the transmit queue has room. Returns
    /// whether nothing is left pending.
    fn flush(&mut self, c: &mut EchoConn, conn: &mut Conn<'_, EchoWriter>) -> bool {
        if c.pending.is_empty() {
            return true;
        }
        if conn.send_capacity() == 0 {
            return false;
        }
        let chunk = core::mem::take(&mut c.pending);
        let len = chunk.len();
        match conn.send(len, chunk) {
            Ok(()) => self.counters.bytes_echoed += len as u64,
            // Closed: the bytes have nowhere to go. QueueFull cannot
            // happen after the capacity check; Empty is excluded above.
            Err(SendError::Closed | SendError::QueueFull | SendError::Empty) => {}
        }
        true
    }
}

impl App for EchoServer {
    type Conn = EchoConn;
    type Writer = EchoWriter;

    fn accept(&mut self, _port: u16, _conn: &mut Conn<'_, EchoWriter>) -> Option<EchoConn> {
        self.counters.connections += 1;
        Some(EchoConn::default())
    }

    fn on_data(&mut self, c: &mut EchoConn, conn: &mut Conn<'_, EchoWriter>, data: Cursor<'_>) {
        self.counters.bytes_received += data.len() as u64;
        for piece in data.segments() {
            let mut rest = piece;
            while !rest.is_empty() {
                let n = c.pending.push(rest);
                rest = &rest[n..];
                if c.pending.is_full() && !self.flush(c, &mut *conn) {
                    // A full chunk pending, the queue full, and more bytes.
                    if !rest.is_empty() {
                        self.counters.overflows += 1;
                        c.pending = EchoWriter::new();
                        conn.abort();
                        return;
                    }
                }
            }
        }
        // Echo what is left now rather than waiting for a full chunk.
        self.flush(c, conn);
    }

    fn on_acked(&mut self, c: &mut EchoConn, conn: &mut Conn<'_, EchoWriter>, writer: EchoWriter) {
        self.counters.bytes_acked += writer.len() as u64;
        if self.flush(c, &mut *conn) && c.close_after_flush {
            c.close_after_flush = false;
            conn.close();
        }
    }

    fn on_remote_close(&mut self, c: &mut EchoConn, conn: &mut Conn<'_, EchoWriter>) {
        if self.flush(c, &mut *conn) {
            conn.close();
        } else {
            c.close_after_flush = true;
        }
    }

    fn on_close(&mut self, _c: EchoConn) {
        self.counters.closed += 1;
    }

    fn on_reset(&mut self, _c: EchoConn) {
        self.counters.resets += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Mock = rusty_stack::testing::MockConn<EchoWriter>;

    fn echoed(mock: &Mock) -> Vec<u8> {
        mock.sent
            .iter()
            .flat_map(|w| w.as_bytes().to_vec())
            .collect()
    }

    #[test]
    fn writer_writes_and_sums_any_range() {
        let mut w = EchoWriter::new();
        assert_eq!(w.push(b"hello world"), 11);
        let mut out = [0u8; 5];
        w.write(3, &mut CursorMut::from_slice(&mut out));
        assert_eq!(&out, b"lo wo");
        assert_eq!(w.sum(3, 5), Some(rusty_stack::checksum::ones_sum(b"lo wo")));
        assert_eq!(w.sum(10, 5), None);
        let big = vec![1u8; 3000];
        let mut w = EchoWriter::new();
        assert_eq!(w.push(&big), ECHO_CHUNK);
        assert!(w.is_full());
        assert_eq!(w.push(&big), 0);
    }

    #[test]
    fn splits_into_chunks_and_closes_after_the_peer() {
        let mut app = EchoServer::new();
        let mut mock = Mock {
            capacity: 8,
            ..Mock::default()
        };
        let mut c = app.accept(7, &mut mock.conn()).unwrap();
        let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        app.on_data(&mut c, &mut mock.conn(), Cursor::from_slice(&data));
        assert_eq!(mock.sent.len(), 3);
        assert_eq!(echoed(&mock), data);
        app.on_remote_close(&mut c, &mut mock.conn());
        assert!(mock.closed);
        assert_eq!(app.counters().bytes_echoed, 5000);
        assert_eq!(app.counters().bytes_received, 5000);
    }

    #[test]
    fn holds_one_chunk_while_the_queue_is_full() {
        let mut app = EchoServer::new();
        let mut mock = Mock {
            capacity: 1,
            ..Mock::default()
        };
        let mut c = app.accept(7, &mut mock.conn()).unwrap();
        app.on_data(&mut c, &mut mock.conn(), Cursor::from_slice(b"first"));
        app.on_data(&mut c, &mut mock.conn(), Cursor::from_slice(b"second"));
        app.on_data(&mut c, &mut mock.conn(), Cursor::from_slice(b"third"));
        assert_eq!(echoed(&mock), b"first");
        app.on_remote_close(&mut c, &mut mock.conn());
        assert!(!mock.closed, "must not close before the pending bytes");
        let w = mock.sent.pop().unwrap();
        mock.capacity = 1;
        app.on_acked(&mut c, &mut mock.conn(), w);
        assert_eq!(echoed(&mock), b"secondthird");
        assert!(mock.closed);
        assert_eq!(app.counters().bytes_acked, 5);
    }

    #[test]
    fn overflow_resets() {
        let mut app = EchoServer::new();
        let mut mock = Mock::default();
        let mut c = app.accept(7, &mut mock.conn()).unwrap();
        app.on_data(
            &mut c,
            &mut mock.conn(),
            Cursor::from_slice(&[0u8; ECHO_CHUNK]),
        );
        assert!(!mock.aborted);
        app.on_data(&mut c, &mut mock.conn(), Cursor::from_slice(b"x"));
        assert!(mock.aborted);
        assert_eq!(app.counters().overflows, 1);
        app.on_reset(c);
        assert_eq!(app.counters().resets, 1);
    }
}
