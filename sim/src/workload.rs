//! The workloads' applications and what the engine reads from them.
//!
//! The thesis benchmark uses the stack's own apps (`HttpServer`,
//! `HttpLoadClient`) unchanged. Echo and bulk transfer use the stack's
//! `EchoServer` and two small apps defined here: a request/verify client
//! for both, and a bulk source. Every client verifies every byte it gets.

use serde::Serialize;

use rusty_apps::{
    Content, EchoServer, FailCounts, HttpLoadClient, HttpServer, LatencyHistogram, Page,
};
use rusty_stack::mem::cursor::{Cursor, CursorMut};
use rusty_stack::prefix_sum::PrefixSums;
use rusty_stack::stats::TcpCounters;
use rusty_stack::tcp::{App, Conn, Connect, Writer};
use rusty_stack::time::Instant;
use rusty_stack::wire::Ipv4Addr;

/// Failed requests by why they failed: the report's vocabulary, the same
/// for every client (each maps its own reasons onto it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Failures {
    /// The server answered the SYN with a reset.
    pub refused: u64,
    /// The handshake's SYN retries ran out, or the client's own request
    /// timeout passed (smoltcp's client).
    pub timeout: u64,
    /// The connection was reset after it was established (by the peer, or
    /// by the stack when its retransmissions ran out: Rusty's app API does
    /// not tell the app which).
    pub reset: u64,
    /// A response arrived but was wrong: status, header, length or body
    /// (the differing bytes are counted in `bytes_corrupt`).
    pub verification: u64,
    /// The server closed before the whole response arrived.
    pub closed_early: u64,
    /// The client could not open the connection or queue the request (no
    /// port or slot, no route, send buffer full).
    pub local: u64,
    /// The handshake failed and the app cannot tell why (a reset or a
    /// timeout); a host that knows its stack's counters splits these into
    /// [`Failures::refused`] and [`Failures::timeout`]
    /// ([`Failures::split_handshakes`]), so reports show none.
    #[serde(skip_serializing_if = "is_zero")]
    pub handshake: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Failures {
    /// All failed requests.
    pub fn total(&self) -> u64 {
        self.refused
            + self.timeout
            + self.reset
            + self.verification
            + self.closed_early
            + self.local
            + self.handshake
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Failures) {
        self.refused += other.refused;
        self.timeout += other.timeout;
        self.reset += other.reset;
        self.verification += other.verification;
        self.closed_early += other.closed_early;
        self.local += other.local;
        self.handshake += other.handshake;
    }

    /// The reasons of Rusty's HTTP load client, mapped.
    pub fn from_http(f: &FailCounts) -> Failures {
        Failures {
            reset: f.reset,
            verification: f.bad_status + f.bad_header + f.length_mismatch + f.body_mismatch,
            closed_early: f.closed_early,
            local: f.connect_failed + f.send_failed,
            handshake: f.handshake_failed,
            ..Failures::default()
        }
    }

    /// Splits [`Failures::handshake`] by the counters of the client stacks
    /// it happened on. A client stack (no listener) resets a connection in
    /// SYN-SENT for exactly two reasons, each counted once: a reset
    /// answering its SYN (`connections_refused`) and SYN retries running
    /// out (`handshake_timeouts`), and each such connection carried one
    /// request not yet counted. Any handshake failure the counters do not
    /// cover stays in [`Failures::handshake`] (and shows in the report).
    pub fn split_handshakes(&mut self, tcp: &TcpCounters) {
        let refused = self.handshake.min(tcp.connections_refused);
        let timeout = (self.handshake - refused).min(tcp.handshake_timeouts);
        self.refused += refused;
        self.timeout += timeout;
        self.handshake -= refused + timeout;
    }

    /// Counts one failure for `why`.
    pub fn add(&mut self, why: Failure) {
        let slot = match why {
            Failure::Refused => &mut self.refused,
            Failure::Timeout => &mut self.timeout,
            Failure::Reset => &mut self.reset,
            Failure::Verification => &mut self.verification,
            Failure::ClosedEarly => &mut self.closed_early,
            Failure::Local => &mut self.local,
            Failure::Handshake => &mut self.handshake,
        };
        *slot += 1;
    }
}

/// Why one request failed (a field of [`Failures`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// [`Failures::refused`].
    Refused,
    /// [`Failures::timeout`].
    Timeout,
    /// [`Failures::reset`].
    Reset,
    /// [`Failures::verification`].
    Verification,
    /// [`Failures::closed_early`].
    ClosedEarly,
    /// [`Failures::local`].
    Local,
    /// [`Failures::handshake`].
    Handshake,
}

/// What a client app has done so far.
#[derive(Clone, Debug, Default)]
pub struct ClientStats {
    /// Requests that completed with every byte verified.
    pub ok: u64,
    /// Requests that ended in an error, by reason.
    pub failures: Failures,
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
        self.failures.merge(&other.failures);
        self.in_flight += other.in_flight;
        self.bytes_ok += other.bytes_ok;
        self.bytes_corrupt += other.bytes_corrupt;
        self.latency.merge(&other.latency);
    }

    /// Requests that ended in an error.
    pub fn failed(&self) -> u64 {
        self.failures.total()
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
            failures: Failures::from_http(&c.failed),
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

    fn on_remote_close(&mut self, _c: &mut BulkConn, conn: &mut Conn<'_, PatternWriter>) {
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
    /// The handshake completed.
    connected: bool,
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

    /// Counts the request of `c` once: ok at `now`, or failed for `why`
    /// (a corrupt byte makes any ending a verification failure).
    fn finish(&mut self, c: &mut StreamConn, outcome: Result<(), Failure>, now: Instant) {
        if c.done {
            return;
        }
        c.done = true;
        self.stats.in_flight -= 1;
        match outcome {
            _ if c.corrupt => self.stats.failures.add(Failure::Verification),
            Ok(()) => {
                self.stats.ok += 1;
                self.stats.latency.record(now - c.started);
            }
            Err(why) => self.stats.failures.add(why),
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

    fn accept(&mut self, _port: u16, _conn: &mut Conn<'_, PatternWriter>) -> Option<StreamConn> {
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
            connected: false,
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
        self.finish(&mut c, Err(Failure::Local), now);
    }

    fn on_connected(&mut self, c: &mut StreamConn, conn: &mut Conn<'_, PatternWriter>) {
        c.connected = true;
        let len = match self.mode {
            StreamMode::Echo { message } => message as usize,
            StreamMode::Bulk { .. } => 1,
        };
        if conn.send(len.max(1), PatternWriter).is_err() {
            let now = conn.now();
            self.finish(c, Err(Failure::Local), now);
            conn.abort();
        }
    }

    fn on_data(&mut self, c: &mut StreamConn, conn: &mut Conn<'_, PatternWriter>, data: Cursor<'_>) {
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
            self.finish(c, Ok(()), now);
            conn.close();
        }
    }

    fn on_remote_close(&mut self, c: &mut StreamConn, conn: &mut Conn<'_, PatternWriter>) {
        if !c.done {
            let now = conn.now();
            self.finish(c, Err(Failure::ClosedEarly), now);
        }
        conn.close();
    }

    fn on_close(&mut self, mut c: StreamConn) {
        self.open -= 1;
        let now = c.started;
        self.finish(&mut c, Err(Failure::ClosedEarly), now);
    }

    fn on_reset(&mut self, mut c: StreamConn) {
        self.open -= 1;
        let now = c.started;
        let why = if c.connected {
            Failure::Reset
        } else {
            Failure::Handshake
        };
        self.finish(&mut c, Err(why), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_reasons_map_onto_the_report_vocabulary() {
        let f = FailCounts {
            reset: 1,
            bad_status: 2,
            bad_header: 4,
            length_mismatch: 8,
            body_mismatch: 16,
            closed_early: 32,
            connect_failed: 64,
            handshake_failed: 128,
            send_failed: 256,
        };
        let m = Failures::from_http(&f);
        assert_eq!(m.reset, 1);
        assert_eq!(m.verification, 2 + 4 + 8 + 16);
        assert_eq!(m.closed_early, 32);
        assert_eq!(m.local, 64 + 256);
        assert_eq!(m.handshake, 128);
        assert_eq!((m.refused, m.timeout), (0, 0));
        assert_eq!(m.total(), f.total());
    }

    #[test]
    fn handshakes_are_split_by_the_stack_counters() {
        let mut f = Failures {
            handshake: 5,
            reset: 1,
            ..Failures::default()
        };
        let mut tcp = TcpCounters::default();
        tcp.connections_refused = 2;
        tcp.handshake_timeouts = 2;
        f.split_handshakes(&tcp);
        assert_eq!((f.refused, f.timeout, f.handshake, f.reset), (2, 2, 1, 1));
        assert_eq!(f.total(), 6);
        let mut all_refused = Failures {
            handshake: 3,
            ..Failures::default()
        };
        let mut tcp = TcpCounters::default();
        tcp.connections_refused = 9;
        all_refused.split_handshakes(&tcp);
        assert_eq!((all_refused.refused, all_refused.handshake), (3, 0));
        let json = serde_json::to_value(all_refused).unwrap();
        assert!(json.get("handshake").is_none(), "zero is left out: {json}");
        assert_eq!(json["refused"], 3);
    }

    fn client() -> StreamClient {
        let server = (Ipv4Addr::new(10, 0, 0, 1), 80);
        StreamClient::new(server, StreamMode::Echo { message: 4 }, 8)
    }

    fn conn(client: &mut StreamClient, connected: bool, corrupt: bool) -> StreamConn {
        let mut c = client.next_connect(Instant::ZERO).expect("room").state;
        c.connected = connected;
        c.corrupt = corrupt;
        c
    }

    #[test]
    fn stream_client_failures_have_reasons() {
        let mut s = client();
        let c = conn(&mut s, false, false);
        s.on_connect_failed(c);
        let c = conn(&mut s, false, false);
        s.on_reset(c);
        let c = conn(&mut s, true, false);
        s.on_reset(c);
        let c = conn(&mut s, true, false);
        s.on_close(c);
        let c = conn(&mut s, true, true);
        s.on_reset(c);
        let stats = s.client_stats().unwrap();
        let f = stats.failures;
        assert_eq!(
            (
                f.local,
                f.handshake,
                f.reset,
                f.closed_early,
                f.verification
            ),
            (1, 1, 1, 1, 1),
            "{f:?}"
        );
        assert_eq!(stats.failed(), 5);
        assert_eq!((stats.ok, stats.in_flight), (0, 0));
    }
}
