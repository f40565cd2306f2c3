//! The workloads' applications and what the engine reads from them.
//!
//! The thesis benchmark uses the stack's own apps (`HttpServer`,
//! `HttpLoadClient`) unchanged. Echo and bulk transfer use the stack's
//! `EchoServer` and two small apps defined here: a request/verify client
//! for both, and a bulk source. Every client verifies every byte it gets.

use rusty_stack::apps::{Content, EchoServer, HttpLoadClient, HttpServer, LatencyHistogram, Page};
use rusty_stack::mem::cursor::{Cursor, CursorMut};
use rusty_stack::prefix_sum::PrefixSums;
use rusty_stack::tcp::{App, ConnRef, Connect, Writer};
use rusty_stack::time::Instant;
use rusty_stack::wire::Ipv4Addr;

/// What a client app has done so far.
#[derive(Clone, Debug, Default)]
pub struct ClientStats {
    /// Requests that completed with every byte verified.
    pub ok: u64,
    /// Requests that ended in an error.
    pub failed: u64,
    /// Requests started and not finished.
    pub in_flight: u64,
    /// Verified payload bytes.
    pub bytes_ok: u64,
    /// Payload bytes that differed from what was expected.
    pub bytes_corrupt: u64,
    /// Request latencies.
    pub latency: LatencyHistogram,
}

impl ClientStats {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &ClientStats) {
        self.ok += other.ok;
        self.failed += other.failed;
        self.in_flight += other.in_flight;
        self.bytes_ok += other.bytes_ok;
        self.bytes_corrupt += other.bytes_corrupt;
        self.latency.merge(&other.latency);
    }
}

/// Apps the engine can ask for client statistics.
pub trait AppStats {
    /// The app's client statistics; `None` for servers.
    fn client_stats(&self) -> Option<ClientStats> {
        None
    }

    /// Stops opening new connections (clients); requests in flight go on.
    fn stop(&mut self) {}
}

impl<C: Content> AppStats for HttpServer<C> {}

impl AppStats for EchoServer {}

impl<C: Content> AppStats for HttpLoadClient<C> {
    fn client_stats(&self) -> Option<ClientStats> {
        let c = self.counters();
        Some(ClientStats {
            ok: c.ok,
            failed: c.failed_total(),
            in_flight: c.in_flight(),
            bytes_ok: c.bytes_ok,
            bytes_corrupt: c.bytes_corrupt,
            latency: self.latency().clone(),
        })
    }

    fn stop(&mut self) {
        HttpLoadClient::stop(self);
    }
}

/// The pages a scenario serves: the thesis set or small generated ones.
#[derive(Clone, Copy, Debug)]
pub enum Pages {
    /// The 500-page benchmark set with its checksum tables.
    Thesis(&'static rusty_fixtures::PageSet),
    /// Generated pages.
    Small(&'static [Page<'static>]),
}

impl Pages {
    /// `count` pages of `bytes` bytes each, with checksum tables, built once
    /// and kept for the process's life (they are served by `'static` writers).
    pub fn small(count: usize, bytes: usize) -> Pages {
        let pages: Vec<Page<'static>> = (0..count)
            .map(|i| {
                let body: &'static [u8] = Box::leak(
                    (0..bytes)
                        .map(|j| b"abcdefghijklmnopqrstuvwxyz0123456789 \n"[(i * 7 + j) % 38])
                        .collect::<Vec<u8>>()
                        .into_boxed_slice(),
                );
                let sums: &'static PrefixSums = Box::leak(Box::new(PrefixSums::new(body)));
                Page::with_sums(body, sums)
            })
            .collect();
        Pages::Small(Box::leak(pages.into_boxed_slice()))
    }
}

impl Content for Pages {
    fn count(&self) -> usize {
        match self {
            Pages::Thesis(set) => set.pages().len(),
            Pages::Small(pages) => pages.len(),
        }
    }

    fn page(&self, index: usize) -> Option<Page<'static>> {
        match self {
            Pages::Thesis(set) => set.get(index).map(|p| Page::with_sums(&p.body, &p.sums)),
            Pages::Small(pages) => <[Page<'static>]>::get(pages, index).copied(),
        }
    }
}

/// The byte at `offset` of a bulk transfer (a pattern with period 251, so
/// a shifted or repeated segment is noticed).
pub fn bulk_byte(offset: u64) -> u8 {
    (offset % 251) as u8 ^ 0x5a
}

/// Writes the bulk pattern, or an echo message (the same pattern).
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

impl AppStats for BulkServer {}

/// Per-connection state of [`BulkServer`].
#[derive(Clone, Copy, Debug, Default)]
pub struct BulkConn {
    started: bool,
}

impl App for BulkServer {
    type Conn = BulkConn;
    type Writer = PatternWriter;

    fn accept(&mut self, _port: u16, _conn: ConnRef<'_, PatternWriter>) -> Option<BulkConn> {
        Some(BulkConn::default())
    }

    fn on_data(&mut self, c: &mut BulkConn, conn: ConnRef<'_, PatternWriter>, _data: Cursor<'_>) {
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

    fn on_remote_close(&mut self, _c: &mut BulkConn, conn: ConnRef<'_, PatternWriter>) {
        conn.close();
    }

    fn on_close(&mut self, _c: BulkConn) {}

    fn on_reset(&mut self, _c: BulkConn) {}
}

/// What a [`StreamClient`] expects back.
#[derive(Clone, Copy, Debug)]
pub enum StreamMode {
    /// Sends `message` bytes of the pattern and expects them echoed.
    Echo {
        /// Message length.
        message: u32,
    },
    /// Sends one byte and expects `bytes` bytes of the pattern.
    Bulk {
        /// Transfer length.
        bytes: u64,
    },
}

/// Per-connection state of a [`StreamClient`].
#[derive(Clone, Copy, Debug)]
pub struct StreamConn {
    received: u64,
    started: Instant,
    done: bool,
    corrupt: bool,
}

/// A load client for echo and bulk: keeps `concurrency` connections, one
/// request each, verifying every byte.
#[derive(Clone, Debug)]
pub struct StreamClient {
    server: (Ipv4Addr, u16),
    mode: StreamMode,
    concurrency: usize,
    open: usize,
    stopped: bool,
    stats: ClientStats,
}

impl StreamClient {
    /// A client keeping `concurrency` connections to `server`.
    pub fn new(server: (Ipv4Addr, u16), mode: StreamMode, concurrency: usize) -> Self {
        StreamClient {
            server,
            mode,
            concurrency,
            open: 0,
            stopped: false,
            stats: ClientStats::default(),
        }
    }

    fn expected(&self) -> u64 {
        match self.mode {
            StreamMode::Echo { message } => u64::from(message),
            StreamMode::Bulk { bytes } => bytes,
        }
    }

    fn finish(&mut self, c: &mut StreamConn, ok: bool, now: Instant) {
        if c.done {
            return;
        }
        c.done = true;
        self.stats.in_flight -= 1;
        if ok && !c.corrupt {
            self.stats.ok += 1;
            self.stats.latency.record(now - c.started);
        } else {
            self.stats.failed += 1;
        }
    }
}

impl AppStats for StreamClient {
    fn client_stats(&self) -> Option<ClientStats> {
        Some(self.stats.clone())
    }

    fn stop(&mut self) {
        self.stopped = true;
    }
}

impl App for StreamClient {
    type Conn = StreamConn;
    type Writer = PatternWriter;

    fn accept(&mut self, _port: u16, _conn: ConnRef<'_, PatternWriter>) -> Option<StreamConn> {
        None
    }

    fn next_connect(&mut self, now: Instant) -> Option<Connect<StreamConn>> {
        if self.stopped || self.open >= self.concurrency {
            return None;
        }
        self.open += 1;
        self.stats.in_flight += 1;
        let state = StreamConn {
            received: 0,
            started: now,
            done: false,
            corrupt: false,
        };
        Some(Connect {
            addr: self.server.0,
            port: self.server.1,
            state,
        })
    }

    fn on_connect_failed(&mut self, mut c: StreamConn) {
        self.open -= 1;
        let now = c.started;
        self.finish(&mut c, false, now);
    }

    fn on_connected(&mut self, _c: &mut StreamConn, conn: ConnRef<'_, PatternWriter>) {
        let len = match self.mode {
            StreamMode::Echo { message } => message as usize,
            StreamMode::Bulk { .. } => 1,
        };
        if conn.send(len.max(1), PatternWriter).is_err() {
            conn.abort();
        }
    }

    fn on_data(&mut self, c: &mut StreamConn, conn: ConnRef<'_, PatternWriter>, data: Cursor<'_>) {
        let expected = self.expected();
        for piece in data.segments() {
            for &b in piece {
                if c.received >= expected || b != bulk_byte(c.received) {
                    c.corrupt = true;
                    self.stats.bytes_corrupt += 1;
                } else {
                    self.stats.bytes_ok += 1;
                }
                c.received += 1;
            }
        }
        if c.received >= expected && !c.done {
            let now = conn.now();
            self.finish(c, true, now);
            conn.close();
        }
    }

    fn on_remote_close(&mut self, c: &mut StreamConn, conn: ConnRef<'_, PatternWriter>) {
        if !c.done {
            let now = conn.now();
            self.finish(c, false, now);
        }
        conn.close();
    }

    fn on_close(&mut self, mut c: StreamConn) {
        self.open -= 1;
        let now = c.started;
        self.finish(&mut c, false, now);
    }

    fn on_reset(&mut self, mut c: StreamConn) {
        self.open -= 1;
        let now = c.started;
        self.finish(&mut c, false, now);
    }
}
