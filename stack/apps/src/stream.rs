//! A load client for echo and bulk transfer: keeps a number of connections
//! open, one request each, and verifies every byte that comes back against
//! the pattern of [`crate::bulk`]. (Moved from the simulator's workloads:
//! nothing in it is simulator-specific; the simulator maps its counters
//! onto its report.)

use rusty_stack::mem::cursor::Cursor;
use rusty_stack::tcp::{App, Conn, Connect};
use rusty_stack::time::Instant;
use rusty_stack::wire::Ipv4Addr;

use crate::bulk::{bulk_byte, PatternWriter};
use crate::histogram::LatencyHistogram;

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

/// Why a [`StreamClient`] request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamFailure {
    /// The connection could not be opened, or the request not queued.
    Local,
    /// The handshake failed (a reset or a timeout; the stack's counters
    /// tell which).
    Handshake,
    /// The connection was reset after it was established.
    Reset,
    /// A byte differed from the pattern, or more bytes arrived than
    /// expected.
    Verification,
    /// The server closed before everything arrived.
    ClosedEarly,
}

/// Failed requests of a [`StreamClient`], by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamFailCounts {
    /// [`StreamFailure::Local`].
    pub local: u64,
    /// [`StreamFailure::Handshake`].
    pub handshake: u64,
    /// [`StreamFailure::Reset`].
    pub reset: u64,
    /// [`StreamFailure::Verification`].
    pub verification: u64,
    /// [`StreamFailure::ClosedEarly`].
    pub closed_early: u64,
}

impl StreamFailCounts {
    /// Counts one failure for `why`.
    pub fn add(&mut self, why: StreamFailure) {
        *match why {
            StreamFailure::Local => &mut self.local,
            StreamFailure::Handshake => &mut self.handshake,
            StreamFailure::Reset => &mut self.reset,
            StreamFailure::Verification => &mut self.verification,
            StreamFailure::ClosedEarly => &mut self.closed_early,
        } += 1;
    }

    /// All failures.
    pub fn total(&self) -> u64 {
        self.local + self.handshake + self.reset + self.verification + self.closed_early
    }
}

/// Counters of a [`StreamClient`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamCounters {
    /// Requests that completed with every byte verified.
    pub ok: u64,
    /// Requests that failed, by reason.
    pub failed: StreamFailCounts,
    /// Requests started and not finished.
    pub in_flight: u64,
    /// Verified payload bytes.
    pub bytes_ok: u64,
    /// Payload bytes that differed from what was expected.
    pub bytes_corrupt: u64,
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
    /// Requests that may still be started (`None`: no limit).
    remaining: Option<u64>,
    counters: StreamCounters,
    latency: LatencyHistogram,
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
            remaining: None,
            counters: StreamCounters::default(),
            latency: LatencyHistogram::default(),
        }
    }

    /// The same client starting at most `max` requests in all (`None`: no
    /// limit, until [`StreamClient::stop`]).
    pub fn with_max_requests(mut self, max: Option<u64>) -> Self {
        self.remaining = max;
        self
    }

    /// What the client has done so far.
    pub fn counters(&self) -> &StreamCounters {
        &self.counters
    }

    /// Latencies of the requests counted ok, from the connection request to
    /// the last byte.
    pub fn latency(&self) -> &LatencyHistogram {
        &self.latency
    }

    /// Opens no more connections; requests in flight go on.
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    fn expected(&self) -> u64 {
        match self.mode {
            StreamMode::Echo { message } => u64::from(message),
            StreamMode::Bulk { bytes } => bytes,
        }
    }

    /// Counts the request of `c` once: ok at `now`, or failed for `why`
    /// (a corrupt byte makes any ending a verification failure).
    fn finish(&mut self, c: &mut StreamConn, outcome: Result<(), StreamFailure>, now: Instant) {
        if c.done {
            return;
        }
        c.done = true;
        self.counters.in_flight -= 1;
        match outcome {
            _ if c.corrupt => self.counters.failed.add(StreamFailure::Verification),
            Ok(()) => {
                self.counters.ok += 1;
                self.latency.record(now - c.started);
            }
            Err(why) => self.counters.failed.add(why),
        }
    }
}

impl App for StreamClient {
    type Conn = StreamConn;
    type Writer = PatternWriter;

    fn accept(&mut self, _port: u16, _conn: &mut Conn<'_, PatternWriter>) -> Option<StreamConn> {
        None
    }

    fn next_connect(&mut self, now: Instant) -> Option<Connect<StreamConn>> {
        if self.stopped || self.open >= self.concurrency || self.remaining == Some(0) {
            return None;
        }
        if let Some(left) = self.remaining.as_mut() {
            *left -= 1;
        }
        self.open += 1;
        self.counters.in_flight += 1;
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
        self.finish(&mut c, Err(StreamFailure::Local), now);
    }

    fn on_connected(&mut self, c: &mut StreamConn, conn: &mut Conn<'_, PatternWriter>) {
        c.connected = true;
        let len = match self.mode {
            StreamMode::Echo { message } => message as usize,
            StreamMode::Bulk { .. } => 1,
        };
        if conn.send(len.max(1), PatternWriter).is_err() {
            let now = conn.now();
            self.finish(c, Err(StreamFailure::Local), now);
            conn.abort();
        }
    }

    fn on_data(
        &mut self,
        c: &mut StreamConn,
        conn: &mut Conn<'_, PatternWriter>,
        data: Cursor<'_>,
    ) {
        let expected = self.expected();
        for piece in data.segments() {
            for &b in piece {
                if c.received >= expected || b != bulk_byte(c.received) {
                    c.corrupt = true;
                    self.counters.bytes_corrupt += 1;
                } else {
                    self.counters.bytes_ok += 1;
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
            self.finish(c, Err(StreamFailure::ClosedEarly), now);
        }
        conn.close();
    }

    fn on_close(&mut self, mut c: StreamConn) {
        self.open -= 1;
        let now = c.started;
        self.finish(&mut c, Err(StreamFailure::ClosedEarly), now);
    }

    fn on_reset(&mut self, mut c: StreamConn) {
        self.open -= 1;
        let now = c.started;
        let why = if c.connected {
            StreamFailure::Reset
        } else {
            StreamFailure::Handshake
        };
        self.finish(&mut c, Err(why), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusty_stack::testing::MockConn;

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
    fn failures_have_reasons() {
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
        let f = s.counters().failed;
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
        assert_eq!(f.total(), 5);
        assert_eq!((s.counters().ok, s.counters().in_flight), (0, 0));
    }

    #[test]
    fn an_echo_is_verified_byte_for_byte() {
        let mut s = client();
        let mut c = conn(&mut s, false, false);
        let mut mock = MockConn::new();
        s.on_connected(&mut c, &mut mock.conn());
        assert_eq!(mock.sent.len(), 1);
        let echo: Vec<u8> = (0..4).map(bulk_byte).collect();
        mock.now = Instant::from_millis(2);
        s.on_data(&mut c, &mut mock.conn(), Cursor::from_slice(&echo[..1]));
        s.on_data(&mut c, &mut mock.conn(), Cursor::from_slice(&echo[1..]));
        assert!(mock.closed);
        assert_eq!((s.counters().ok, s.counters().bytes_ok), (1, 4));
        let mut bad = conn(&mut s, true, false);
        s.on_data(&mut bad, &mut mock.conn(), Cursor::from_slice(b"oops"));
        assert_eq!(s.counters().failed.verification, 1);
        assert_eq!(s.counters().bytes_corrupt, 4);
    }
}
