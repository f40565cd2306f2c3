//! Bulk transfer: a server that sends a long byte pattern to every
//! connection, and the pattern itself ([`bulk_byte`], written by
//! [`PatternWriter`] at any offset), which [`crate::stream::StreamClient`]
//! verifies byte for byte. (Moved from the simulator's workloads: nothing
//! in them is simulator-specific.)

use rusty_stack::mem::cursor::{Cursor, CursorMut};
use rusty_stack::tcp::{App, Conn, Writer};

/// The byte at `offset` of a bulk transfer (a pattern with period 251, so
/// a shifted or repeated segment is noticed).
///
/// ```
/// use rusty_apps::bulk::bulk_byte;
///
/// assert_eq!(bulk_byte(0), 0x5a);
/// assert_eq!(bulk_byte(251), bulk_byte(0));
/// assert_ne!(bulk_byte(1), bulk_byte(0));
/// ```
pub fn bulk_byte(offset: u64) -> u8 {
    (offset % 251) as u8 ^ 0x5a
}

/// Writes the bulk pattern, or an echo message (the same pattern), at any
/// offset; it owns nothing, so one writer covers a transfer of any length.
#[derive(Clone, Copy, Debug)]
pub struct PatternWriter;

impl Writer for PatternWriter {
    fn write(&self, offset: usize, out: &mut CursorMut<'_>) {
        let mut at = offset as u64;
        let mut chunk = [0u8; 256];
        while !out.is_empty() {
            let n = out.len().min(chunk.len());
            for b in chunk.iter_mut().take(n) {
                *b = bulk_byte(at);
                at += 1;
            }
            if out.write(&chunk[..n]).is_err() {
                return;
            }
        }
    }
}

/// Sends `bytes` of the pattern to every connection as soon as it asks
/// (any data), then closes.
#[derive(Clone, Debug)]
pub struct BulkServer {
    /// Bytes sent to each connection.
    pub bytes: u64,
}

/// Per-connection state of [`BulkServer`].
#[derive(Clone, Copy, Debug, Default)]
pub struct BulkConn {
    started: bool,
}

impl App for BulkServer {
    type Conn = BulkConn;
    type Writer = PatternWriter;

    fn accept(&mut self, _port: u16, _conn: &mut Conn<'_, PatternWriter>) -> Option<BulkConn> {
        Some(BulkConn::default())
    }

    fn on_data(&mut self, c: &mut BulkConn, conn: &mut Conn<'_, PatternWriter>, _data: Cursor<'_>) {
        if !c.started {
            c.started = true;
            // One writer covers the whole transfer (the writer is called
            // at any offset); sizes beyond u32 are split.
            let mut left = self.bytes;
            while left > 0 {
                let n = left.min(1 << 30);
                if conn.send(n as usize, PatternWriter).is_err() {
                    break;
                }
                left -= n;
            }
            conn.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusty_stack::testing::MockConn;

    #[test]
    fn the_pattern_is_written_at_any_offset() {
        let mut out = [0u8; 600];
        PatternWriter.write(300, &mut CursorMut::from_slice(&mut out));
        for (i, &b) in out.iter().enumerate() {
            assert_eq!(b, bulk_byte(300 + i as u64));
        }
    }

    #[test]
    fn the_server_sends_once_then_closes() {
        let mut app = BulkServer { bytes: 3 << 30 };
        let mut mock = MockConn::new();
        let mut c = app.accept(80, &mut mock.conn()).unwrap();
        app.on_data(&mut c, &mut mock.conn(), Cursor::from_slice(b"x"));
        app.on_data(&mut c, &mut mock.conn(), Cursor::from_slice(b"y"));
        assert_eq!(mock.sent.len(), 3, "1 GiB per writer");
        assert!(mock.closed);
    }
}
