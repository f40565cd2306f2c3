//! The load generator of the thesis benchmark (what `wrk` did there): keeps
//! `concurrency` connections open to a server, each fetching one random page
//! (`GET /N.htm`, one request per connection, a new handshake each time),
//! and verifies every response byte for byte.
//!
//! Connections are opened by the stack through [`App::next_connect`]
//! whenever fewer than `concurrency` are open, until `max_requests` have
//! been started. Pages are picked uniformly among the owner's [`Content`]
//! by a [`SplitMix64`] seeded from the configuration, so a run replays
//! exactly.
//!
//! Verification is incremental and buffers nothing but the current head
//! line: the head is parsed by a [`ResponseHeadParser`] (status must be
//! `200`, `Content-Length` the expected page's length), then each piece of
//! body is compared with the expected page at its offset as it arrives. A
//! request counts as ok as soon as its whole body has been verified; the
//! client then closes its side. Failures are counted by [`FailReason`];
//! requests still open when a run stops are neither ok nor failed
//! ([`HttpClientCounters::in_flight`]). Latency runs from the moment the
//! connection is requested to the last byte of the body, in the stack's
//! time ([`Conn::now`]).
//!
//! See the [`http_server`](super::http_server) module for an example.
//!
//! [`Conn::now`]: rusty_stack::tcp::Conn::now

use core::fmt::Write as _;

use arrayvec::{ArrayString, ArrayVec};

use super::histogram::LatencyHistogram;
use super::http::{decimal, ResponseHeadParser};
use super::rng::SplitMix64;
use super::{sum_slice, write_slice, Content};
use rusty_stack::mem::cursor::{Cursor, CursorMut};
use rusty_stack::mem::prefetch::prefetch_read;
use rusty_stack::tcp::{App, Conn, Connect, Writer};
use rusty_stack::time::Instant;
use rusty_stack::wire::Ipv4Addr;

/// Longest `Host` header value.
pub const MAX_HOST: usize = 64;

/// Capacity of an inline request.
pub const REQUEST_CAPACITY: usize = 160;

/// Settings of an [`HttpLoadClient`].
#[derive(Clone, Debug)]
pub struct HttpClientConfig {
    /// The server's address.
    pub server: Ipv4Addr,
    /// The server's port.
    pub port: u16,
    /// Connections kept open at once.
    pub concurrency: usize,
    /// Requests to start in all; `None` runs until [`HttpLoadClient::stop`].
    pub max_requests: Option<u64>,
    /// Seed of the page choices.
    pub seed: u64,
    /// `Host` header value (at most [`MAX_HOST`] bytes); `None` uses the
    /// server's address.
    pub host: Option<&'static str>,
}

impl HttpClientConfig {
    /// One connection at a time to `server:port`, no request limit, seed 0.
    pub fn new(server: Ipv4Addr, port: u16) -> Self {
        HttpClientConfig {
            server,
            port,
            concurrency: 1,
            max_requests: None,
            seed: 0,
            host: None,
        }
    }
}

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailReason {
    /// The connection was reset (or timed out) after it was established.
    Reset,
    /// The status line was malformed or the status was not `200`.
    BadStatus,
    /// A header was malformed, or the head too long.
    BadHeader,
    /// `Content-Length` was missing or not the page's length, or more bytes
    /// than it announced arrived with the body.
    LengthMismatch,
    /// The body differed from the page (see
    /// [`HttpClientCounters::bytes_corrupt`]).
    BodyMismatch,
    /// The server closed before the whole body arrived.
    ClosedEarly,
    /// The connection could not be opened (no port or slot, no route).
    ConnectFailed,
    /// The handshake failed: the server refused it (RST) or the SYN
    /// retries ran out. The stack's counters tell which
    /// (`connections_refused`, `handshake_timeouts`).
    HandshakeFailed,
    /// The request could not be queued.
    SendFailed,
}

impl FailReason {
    /// Every reason.
    pub const ALL: [FailReason; 9] = [
        FailReason::Reset,
        FailReason::BadStatus,
        FailReason::BadHeader,
        FailReason::LengthMismatch,
        FailReason::BodyMismatch,
        FailReason::ClosedEarly,
        FailReason::ConnectFailed,
        FailReason::HandshakeFailed,
        FailReason::SendFailed,
    ];

    /// A short name, for reports.
    pub const fn name(self) -> &'static str {
        match self {
            FailReason::Reset => "reset",
            FailReason::BadStatus => "bad_status",
            FailReason::BadHeader => "bad_header",
            FailReason::LengthMismatch => "length_mismatch",
            FailReason::BodyMismatch => "body_mismatch",
            FailReason::ClosedEarly => "closed_early",
            FailReason::ConnectFailed => "connect_failed",
            FailReason::HandshakeFailed => "handshake_failed",
            FailReason::SendFailed => "send_failed",
        }
    }
}

/// Failed requests, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailCounts {
    /// [`FailReason::Reset`].
    pub reset: u64,
    /// [`FailReason::BadStatus`].
    pub bad_status: u64,
    /// [`FailReason::BadHeader`].
    pub bad_header: u64,
    /// [`FailReason::LengthMismatch`].
    pub length_mismatch: u64,
    /// [`FailReason::BodyMismatch`].
    pub body_mismatch: u64,
    /// [`FailReason::ClosedEarly`].
    pub closed_early: u64,
    /// [`FailReason::ConnectFailed`].
    pub connect_failed: u64,
    /// [`FailReason::HandshakeFailed`].
    pub handshake_failed: u64,
    /// [`FailReason::SendFailed`].
    pub send_failed: u64,
}

impl FailCounts {
    fn slot(&mut self, reason: FailReason) -> &mut u64 {
        match reason {
            FailReason::Reset => &mut self.reset,
            FailReason::BadStatus => &mut self.bad_status,
            FailReason::BadHeader => &mut self.bad_header,
            FailReason::LengthMismatch => &mut self.length_mismatch,
            FailReason::BodyMismatch => &mut self.body_mismatch,
            FailReason::ClosedEarly => &mut self.closed_early,
            FailReason::ConnectFailed => &mut self.connect_failed,
            FailReason::HandshakeFailed => &mut self.handshake_failed,
            FailReason::SendFailed => &mut self.send_failed,
        }
    }

    /// Failures for `reason`.
    pub fn get(&self, reason: FailReason) -> u64 {
        let mut copy = *self;
        *copy.slot(reason)
    }

    /// All failures.
    pub fn total(&self) -> u64 {
        FailReason::ALL.iter().map(|&r| self.get(r)).sum()
    }
}

/// Counters of an [`HttpLoadClient`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HttpClientCounters {
    /// Requests started (connections requested).
    pub started: u64,
    /// Connections established.
    pub connected: u64,
    /// Responses fully verified.
    pub ok: u64,
    /// Failed requests, by reason.
    pub failed: FailCounts,
    /// Body bytes of the responses counted ok.
    pub bytes_ok: u64,
    /// Body bytes that differed from the expected page.
    pub bytes_corrupt: u64,
    /// Body bytes received and compared (ok or not).
    pub body_bytes: u64,
    /// Bytes received after a response was complete or had failed (ignored).
    pub extra_bytes: u64,
    /// Connections that ended with a graceful close.
    pub closed: u64,
    /// Connections that ended with a reset or a timeout.
    pub resets: u64,
}

impl HttpClientCounters {
    /// All failed requests.
    pub fn failed_total(&self) -> u64 {
        self.failed.total()
    }

    /// Requests started but neither ok nor failed yet.
    pub fn in_flight(&self) -> u64 {
        self.started - self.ok - self.failed_total()
    }
}

/// A request, written from an inline buffer.
#[derive(Clone, Debug)]
pub struct RequestWriter(pub ArrayVec<u8, REQUEST_CAPACITY>);

impl Writer for RequestWriter {
    #[inline]
    fn write(&self, offset: usize, out: &mut CursorMut<'_>) {
        write_slice(&self.0, offset, out);
    }

    #[inline]
    fn sum(&self, offset: usize, len: usize) -> Option<u16> {
        sum_slice(&self.0, offset, len)
    }
}

/// Where a request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for the handshake.
    Connecting,
    /// Reading the response head.
    Head,
    /// Comparing the body.
    Body,
    /// Counted (ok or failed); the rest is ignored.
    Done,
}

/// Per-connection state of the client: one request.
#[derive(Clone, Copy, Debug)]
pub struct ClientConn {
    /// Page requested.
    index: usize,
    /// Its expected body.
    expected: &'static [u8],
    /// When the connection was requested.
    started: Instant,
    phase: Phase,
    head: ResponseHeadParser,
    /// Body bytes compared so far.
    received: usize,
    /// Some body byte differed.
    corrupt: bool,
    /// More bytes than `Content-Length` arrived with the body.
    overrun: bool,
}

impl ClientConn {
    /// The page this connection asks for.
    pub fn page_index(&self) -> usize {
        self.index
    }

    /// When the request started.
    pub fn started(&self) -> Instant {
        self.started
    }
}

/// The benchmark's HTTP load generator; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct HttpLoadClient<C> {
    config: HttpClientConfig,
    content: C,
    host: ArrayString<MAX_HOST>,
    rng: SplitMix64,
    open: usize,
    limit: Option<u64>,
    counters: HttpClientCounters,
    latency: LatencyHistogram,
}

impl<C: Content> HttpLoadClient<C> {
    /// A client fetching pages of `content` (the bodies it expects).
    ///
    /// # Panics
    ///
    /// If `config.host` is longer than [`MAX_HOST`] bytes.
    pub fn new(config: HttpClientConfig, content: C) -> Self {
        let mut host = ArrayString::new();
        match config.host {
            Some(name) => host
                .try_push_str(name)
                .expect("HttpClientConfig::host is longer than MAX_HOST bytes"),
            // A dotted quad is at most 15 bytes.
            None => {
                let _ = write!(host, "{}", config.server);
            }
        }
        HttpLoadClient {
            rng: SplitMix64::new(config.seed),
            limit: config.max_requests,
            config,
            content,
            host,
            open: 0,
            counters: HttpClientCounters::default(),
            latency: LatencyHistogram::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &HttpClientConfig {
        &self.config
    }

    /// The pages expected.
    pub fn content(&self) -> &C {
        &self.content
    }

    /// The counters.
    pub fn counters(&self) -> &HttpClientCounters {
        &self.counters
    }

    /// Latencies of the requests counted ok, from the connection request to
    /// the last byte of the body.
    pub fn latency(&self) -> &LatencyHistogram {
        &self.latency
    }

    /// Connections open (requested and not yet gone).
    pub fn open_connections(&self) -> usize {
        self.open
    }

    /// Starts no more requests (those open go on).
    pub fn stop(&mut self) {
        self.limit = Some(self.counters.started);
    }

    /// Every request allowed was started and every connection is gone.
    pub fn is_finished(&self) -> bool {
        self.open == 0 && self.limit.is_some_and(|max| self.counters.started >= max)
    }

    /// The request for page `index`.
    fn request(&self, index: usize) -> RequestWriter {
        let mut digits = [0u8; 20];
        let mut out = ArrayVec::new();
        for part in [
            &b"GET /"[..],
            decimal(index as u64, &mut digits),
            b".htm HTTP/1.1\r\nHost: ",
            self.host.as_bytes(),
            b"\r\n\r\n",
        ] {
            // At most 5 + 20 + 21 + 64 + 4 bytes: always fits.
            let _ = out.try_extend_from_slice(part);
        }
        RequestWriter(out)
    }

    fn fail(&mut self, c: &mut ClientConn, reason: FailReason) {
        if c.phase != Phase::Done {
            c.phase = Phase::Done;
            *self.counters.failed.slot(reason) += 1;
        }
    }

    /// Compares the next body bytes with the page.
    fn check_body(&mut self, c: &mut ClientConn, piece: &[u8]) {
        let want = &c.expected[c.received..];
        let n = piece.len().min(want.len());
        let (got, want) = (&piece[..n], &want[..n]);
        if got != want {
            c.corrupt = true;
            let differing = got.iter().zip(want).filter(|(a, b)| a != b).count();
            self.counters.bytes_corrupt += differing as u64;
        }
        c.received += n;
        self.counters.body_bytes += n as u64;
        // The expected bytes of the next piece, as the server's writer
        // prefetches the page it copies (`write_slice`).
        let next = c.expected.get(c.received..).unwrap_or(&[]);
        prefetch_read(&next[..next.len().min(n)]);
        if piece.len() > n {
            c.overrun = true;
        }
    }

    /// Checks a complete head; moves to the body or fails.
    fn on_head(&mut self, c: &mut ClientConn, conn: &mut Conn<'_, RequestWriter>) {
        let reason = match c.head.result() {
            None => return,
            Some(Ok(head)) if head.status != 200 => FailReason::BadStatus,
            Some(Ok(head)) if head.content_length != Some(c.expected.len() as u64) => {
                FailReason::LengthMismatch
            }
            Some(Ok(_)) => {
                c.phase = Phase::Body;
                return;
            }
            Some(Err(super::http::HeadError::BadStatusLine)) => FailReason::BadStatus,
            Some(Err(_)) => FailReason::BadHeader,
        };
        self.fail(c, reason);
        conn.close();
    }
}

impl<C: Content> App for HttpLoadClient<C> {
    type Conn = ClientConn;
    type Writer = RequestWriter;

    /// Refuses incoming connections: the client only opens its own.
    fn accept(&mut self, _port: u16, _conn: &mut Conn<'_, RequestWriter>) -> Option<ClientConn> {
        None
    }

    fn on_connected(&mut self, c: &mut ClientConn, conn: &mut Conn<'_, RequestWriter>) {
        self.counters.connected += 1;
        let request = self.request(c.index);
        match conn.send(request.0.len(), request) {
            Ok(()) => c.phase = Phase::Head,
            Err(_) => {
                self.fail(c, FailReason::SendFailed);
                conn.abort();
            }
        }
    }

    fn on_data(
        &mut self,
        c: &mut ClientConn,
        conn: &mut Conn<'_, RequestWriter>,
        data: Cursor<'_>,
    ) {
        for piece in data.segments() {
            let mut piece = piece;
            if c.phase == Phase::Head {
                let used = c.head.feed(piece);
                piece = &piece[used..];
                self.on_head(c, &mut *conn);
            }
            match c.phase {
                Phase::Body => self.check_body(c, piece),
                Phase::Connecting | Phase::Head | Phase::Done => {
                    self.counters.extra_bytes += piece.len() as u64;
                }
            }
        }
        if c.phase == Phase::Body && c.received == c.expected.len() {
            if c.corrupt {
                self.fail(c, FailReason::BodyMismatch);
            } else if c.overrun {
                self.fail(c, FailReason::LengthMismatch);
            } else {
                c.phase = Phase::Done;
                self.counters.ok += 1;
                self.counters.bytes_ok += c.expected.len() as u64;
                self.latency.record(conn.now() - c.started);
            }
            conn.close();
        }
    }

    fn on_remote_close(&mut self, c: &mut ClientConn, conn: &mut Conn<'_, RequestWriter>) {
        self.fail(c, FailReason::ClosedEarly);
        conn.close();
    }

    fn on_close(&mut self, mut c: ClientConn) {
        self.open -= 1;
        self.counters.closed += 1;
        self.fail(&mut c, FailReason::ClosedEarly);
    }

    fn on_reset(&mut self, mut c: ClientConn) {
        self.open -= 1;
        self.counters.resets += 1;
        let reason = if c.phase == Phase::Connecting {
            FailReason::HandshakeFailed
        } else {
            FailReason::Reset
        };
        self.fail(&mut c, reason);
    }

    fn next_connect(&mut self, now: Instant) -> Option<Connect<ClientConn>> {
        let count = self.content.count();
        if self.open >= self.config.concurrency
            || count == 0
            || self.limit.is_some_and(|max| self.counters.started >= max)
        {
            return None;
        }
        let index = self.rng.below(count as u64) as usize;
        // A page the content does not have is expected empty (and fails).
        let expected = self.content.page(index).map_or(&[][..], |p| p.body);
        self.counters.started += 1;
        self.open += 1;
        Some(Connect {
            addr: self.config.server,
            port: self.config.port,
            state: ClientConn {
                index,
                expected,
                started: now,
                phase: Phase::Connecting,
                head: ResponseHeadParser::new(),
                received: 0,
                corrupt: false,
                overrun: false,
            },
        })
    }

    fn on_connect_failed(&mut self, mut c: ClientConn) {
        self.open -= 1;
        self.fail(&mut c, FailReason::ConnectFailed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Page;
    use rusty_stack::time::Duration;

    type Mock = rusty_stack::testing::MockConn<RequestWriter>;

    fn pages() -> &'static [Page<'static>] {
        Box::leak(Box::new([Page::new(b"hello"), Page::new(b"0123456789")]))
    }

    fn client(max: Option<u64>) -> HttpLoadClient<&'static [Page<'static>]> {
        let config = HttpClientConfig {
            concurrency: 2,
            max_requests: max,
            seed: 1,
            ..HttpClientConfig::new(Ipv4Addr::new(10, 0, 0, 1), 80)
        };
        HttpLoadClient::new(config, pages())
    }

    /// Opens one request and feeds it `response` in `pieces`.
    fn run(
        response: &[u8],
        cuts: &[usize],
    ) -> (HttpLoadClient<&'static [Page<'static>]>, Mock, ClientConn) {
        let mut app = client(None);
        let mut c = app.next_connect(Instant::ZERO).unwrap().state;
        let mut mock = Mock::new();
        app.on_connected(&mut c, &mut mock.conn());
        let request = &mock.sent[0].0;
        let expected = format!("GET /{}.htm HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n", c.index);
        assert_eq!(&request[..], expected.as_bytes());
        mock.now = Instant::from_millis(3);
        let mut prev = 0;
        for &cut in cuts.iter().chain([&response.len()]) {
            app.on_data(
                &mut c,
                &mut mock.conn(),
                Cursor::from_slice(&response[prev..cut]),
            );
            prev = cut;
        }
        (app, mock, c)
    }

    fn ok_response(body: &[u8]) -> Vec<u8> {
        let mut r =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        r.extend_from_slice(body);
        r
    }

    fn body_of(c: &ClientConn) -> &'static [u8] {
        c.expected
    }

    #[test]
    fn opens_up_to_concurrency_and_limit() {
        let mut app = client(Some(3));
        let a = app.next_connect(Instant::ZERO).unwrap();
        let _b = app.next_connect(Instant::ZERO).unwrap();
        assert!(app.next_connect(Instant::ZERO).is_none());
        assert_eq!(app.open_connections(), 2);
        app.on_connect_failed(a.state);
        assert_eq!(app.counters().failed.connect_failed, 1);
        assert!(app.next_connect(Instant::ZERO).is_some());
        assert!(app.next_connect(Instant::ZERO).is_none());
        assert_eq!(app.counters().started, 3);
        assert_eq!(app.counters().in_flight(), 2);
        assert!(!app.is_finished());
    }

    #[test]
    fn verifies_a_response_in_pieces() {
        let mut app = client(None);
        let c = app.next_connect(Instant::ZERO).unwrap().state;
        let response = ok_response(body_of(&c));
        for cuts in [
            &[][..],
            &[1, 2, 3, 30, 40],
            &[36, 37, 38, 39, 40, 41, 42, 43],
        ] {
            let (mut app, mock, c) = run(&response, cuts);
            let counters = *app.counters();
            assert_eq!(counters.ok, 1, "{cuts:?}");
            assert_eq!(counters.bytes_ok, c.expected.len() as u64);
            assert!(mock.closed);
            assert_eq!(app.latency().max(), Some(Duration::from_millis(3)));
            // The server's FIN and the end of the connection change nothing.
            let mut c2 = c;
            app.on_remote_close(&mut c2, &mut Mock::new().conn());
            app.on_close(c2);
            assert_eq!(app.counters().ok, 1);
            assert_eq!(app.counters().failed_total(), 0);
            assert_eq!(app.counters().in_flight(), 0);
        }
    }

    #[test]
    fn failures() {
        let mut app = client(None);
        let c = app.next_connect(Instant::ZERO).unwrap().state;
        let body = body_of(&c);
        let mut corrupt = ok_response(body);
        let n = corrupt.len();
        corrupt[n - 2] ^= 1;
        let mut long = ok_response(body);
        long.push(b'!');
        let wrong_length = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            body.len() + 1
        );
        for (response, reason) in [
            (corrupt, FailReason::BodyMismatch),
            (long, FailReason::LengthMismatch),
            (wrong_length.into_bytes(), FailReason::LengthMismatch),
            (
                b"HTTP/1.1 200 OK\r\n\r\n".to_vec(),
                FailReason::LengthMismatch,
            ),
            (
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
                FailReason::BadStatus,
            ),
            (b"SSH-2.0-OpenSSH\r\n".to_vec(), FailReason::BadStatus),
            (
                b"HTTP/1.1 200 OK\r\nbroken\r\n\r\n".to_vec(),
                FailReason::BadHeader,
            ),
        ] {
            let (app, mock, _) = run(&response, &[7]);
            assert_eq!(app.counters().failed.get(reason), 1, "{reason:?}");
            assert_eq!(app.counters().failed_total(), 1);
            assert_eq!(app.counters().ok, 0);
            assert!(mock.closed);
            if reason == FailReason::BodyMismatch {
                assert_eq!(app.counters().bytes_corrupt, 1);
            }
        }
    }

    #[test]
    fn early_close_and_resets() {
        let mut app = client(None);
        let c = app.next_connect(Instant::ZERO).unwrap().state;
        let response = ok_response(body_of(&c));
        let (mut app, _, mut c) = run(&response[..response.len() - 1], &[]);
        app.on_remote_close(&mut c, &mut Mock::new().conn());
        app.on_close(c);
        assert_eq!(app.counters().failed.closed_early, 1);

        let (mut app, _, c) = run(b"HTTP/1.1 200", &[]);
        app.on_reset(c);
        assert_eq!(app.counters().failed.reset, 1);

        let mut app = client(None);
        let c = app.next_connect(Instant::ZERO).unwrap().state;
        app.on_reset(c);
        assert_eq!(app.counters().failed.handshake_failed, 1);
        assert_eq!(app.counters().failed.connect_failed, 0);
        assert_eq!(app.open_connections(), 0);
        app.stop();
        assert!(app.is_finished());
    }

    #[test]
    fn seeded_choices_replay() {
        let picks = |seed| {
            let config = HttpClientConfig {
                concurrency: usize::MAX,
                seed,
                ..HttpClientConfig::new(Ipv4Addr::new(10, 0, 0, 1), 80)
            };
            let mut app = HttpLoadClient::new(config, pages());
            (0..64)
                .map(|_| app.next_connect(Instant::ZERO).unwrap().state.index)
                .collect::<Vec<_>>()
        };
        assert_eq!(picks(5), picks(5));
        assert_ne!(picks(5), picks(6));
        assert!(picks(5).contains(&0) && picks(5).contains(&1));
    }

    #[test]
    fn custom_host() {
        let config = HttpClientConfig {
            host: Some("example.test"),
            ..HttpClientConfig::new(Ipv4Addr::new(10, 0, 0, 1), 8080)
        };
        let app = HttpLoadClient::new(config, pages());
        let r = app.request(1);
        assert_eq!(
            &r.0[..],
            b"GET /1.htm HTTP/1.1\r\nHost: example.test\r\n\r\n"
        );
        assert_eq!(r.sum(0, 4), Some(rusty_stack::checksum::ones_sum(b"GET ")));
    }
}
