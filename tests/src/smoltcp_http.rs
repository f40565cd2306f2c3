//! HTTP/1.1 on smoltcp sockets, written independently of Rusty's apps, to
//! check them against another TCP stack:
//!
//! * [`SmolHttpClient`] — fetches a list of pages, one request per
//!   connection, a number of sockets at once, and verifies status line,
//!   `Content-Length` and every body byte against the expected [`Content`];
//! * [`SmolHttpServer`] — a pool of listening sockets answering
//!   `GET /N.htm` with the page from a [`Content`] and closing.
//!
//! Both are driven from a [`Net`](crate::net::Net) run condition: call
//! `step` with the [`SmolHost`] after the hosts settle at each instant.
//! Their parsing is their own (nothing from `rusty_apps::http`), so
//! a bug shared by Rusty's client and server cannot hide.

use std::collections::VecDeque;

use rusty_apps::Content;
use rusty_stack::wire::Ipv4Addr;
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::State;

use crate::smoltcp_host::SmolHost;

/// Longest response head (or request line) accepted.
pub const MAX_HEAD: usize = 1024;

/// The first index of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A parsed response head: status code and `Content-Length`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code.
    pub status: u16,
    /// `Content-Length`, if present.
    pub content_length: Option<u64>,
}

/// Parses a response head (status line and headers, without the blank
/// line): `HTTP/1.x SSS reason`, then `name: value` lines; the
/// `Content-Length` name is matched case-insensitively.
pub fn parse_response_head(head: &[u8]) -> Result<ResponseHead, &'static str> {
    let text = core::str::from_utf8(head).map_err(|_| "head is not UTF-8")?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().ok_or("no status line")?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") || version.len() != 8 {
        return Err("bad HTTP version");
    }
    let code = parts.next().ok_or("no status code")?;
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err("bad status code");
    }
    let status = code.parse().map_err(|_| "bad status code")?;
    let mut content_length = None;
    for line in lines {
        let (name, value) = line.split_once(':').ok_or("header without a colon")?;
        if name.eq_ignore_ascii_case("content-length") {
            if content_length.is_some() {
                return Err("two Content-Length headers");
            }
            let value = value.trim();
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err("bad Content-Length");
            }
            content_length = Some(value.parse().map_err(|_| "bad Content-Length")?);
        }
    }
    Ok(ResponseHead {
        status,
        content_length,
    })
}

// ------------------------------------------------------------------- client

/// Counters of a [`SmolHttpClient`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SmolClientCounters {
    /// Requests started (sockets connecting).
    pub started: u64,
    /// Connections established.
    pub connected: u64,
    /// Responses verified: status 200, `Content-Length` equal to the page's
    /// length, every body byte equal to the page's.
    pub ok: u64,
    /// Body bytes of the responses counted ok.
    pub bytes_ok: u64,
    /// Body bytes received and compared.
    pub body_bytes: u64,
    /// Failed: the connection was reset (or never established).
    pub reset: u64,
    /// Failed: status line malformed or not 200.
    pub bad_status: u64,
    /// Failed: a header was malformed or the head too long.
    pub bad_head: u64,
    /// Failed: `Content-Length` missing or wrong, or bytes beyond it.
    pub length_mismatch: u64,
    /// Failed: a body byte differed from the page.
    pub body_mismatch: u64,
    /// Failed: the server closed before the whole body arrived.
    pub closed_early: u64,
    /// Sockets that reached CLOSED (or TIME-WAIT) after the request ended.
    pub closed: u64,
}

impl SmolClientCounters {
    /// All failed requests.
    pub fn failed(&self) -> u64 {
        self.reset
            + self.bad_status
            + self.bad_head
            + self.length_mismatch
            + self.body_mismatch
            + self.closed_early
    }
}

/// Why a fetch failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    Reset,
    BadStatus,
    BadHead,
    LengthMismatch,
    BodyMismatch,
    ClosedEarly,
}

/// One request in progress.
#[derive(Debug)]
struct Fetch {
    handle: SocketHandle,
    page: usize,
    expected: &'static [u8],
    request: Vec<u8>,
    request_sent: usize,
    connected: bool,
    /// The head so far (`None` once it was parsed).
    head: Option<Vec<u8>>,
    received: usize,
    /// First differing body offset, if any.
    first_difference: Option<usize>,
    overrun: bool,
}

/// A smoltcp HTTP client; see the [module docs](self).
pub struct SmolHttpClient<C> {
    server: Ipv4Addr,
    port: u16,
    content: C,
    queue: VecDeque<usize>,
    concurrency: usize,
    rx_len: usize,
    tx_len: usize,
    active: Vec<Fetch>,
    /// Sockets whose request ended, until they reach CLOSED.
    lingering: Vec<SocketHandle>,
    counters: SmolClientCounters,
    failures: Vec<String>,
}

impl<C> core::fmt::Debug for SmolHttpClient<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SmolHttpClient")
            .field("queued", &self.queue.len())
            .field("active", &self.active.len())
            .field("lingering", &self.lingering.len())
            .field("counters", &self.counters)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

impl<C: Content> SmolHttpClient<C> {
    /// A client fetching `pages` (indices into `content`, served at
    /// `/N.htm`) from `server:port`, `concurrency` sockets at a time, each
    /// with `rx_len` and `tx_len` bytes of buffers.
    pub fn new(
        server: Ipv4Addr,
        port: u16,
        content: C,
        pages: impl IntoIterator<Item = usize>,
        concurrency: usize,
        rx_len: usize,
        tx_len: usize,
    ) -> Self {
        SmolHttpClient {
            server,
            port,
            content,
            queue: pages.into_iter().collect(),
            concurrency,
            rx_len,
            tx_len,
            active: Vec::new(),
            lingering: Vec::new(),
            counters: SmolClientCounters::default(),
            failures: Vec::new(),
        }
    }

    /// The counters.
    pub fn counters(&self) -> &SmolClientCounters {
        &self.counters
    }

    /// Descriptions of the first failures.
    pub fn failures(&self) -> &[String] {
        &self.failures
    }

    /// Every request was started and has ended (ok or failed).
    pub fn is_done(&self) -> bool {
        self.queue.is_empty() && self.active.is_empty()
    }

    /// Sockets whose request ended but that have not reached CLOSED (or
    /// TIME-WAIT) yet.
    pub fn lingering(&self) -> &[SocketHandle] {
        &self.lingering
    }

    /// The states of the lingering sockets.
    pub fn lingering_states(&self, host: &mut SmolHost) -> Vec<State> {
        self.lingering
            .iter()
            .map(|&h| host.tcp(h).state())
            .collect()
    }

    /// The lingering sockets: local endpoint and state (for reports).
    pub fn lingering_report(&self, host: &mut SmolHost) -> Vec<String> {
        self.lingering
            .iter()
            .map(|&h| {
                let socket = host.tcp(h);
                format!("{:?} {:?}", socket.local_endpoint(), socket.state())
            })
            .collect()
    }

    /// The sockets of the requests in progress: page, state, body bytes
    /// received (for reports).
    pub fn active_report(&self, host: &mut SmolHost) -> Vec<String> {
        self.active
            .iter()
            .map(|f| {
                let socket = host.tcp(f.handle);
                format!(
                    "page {} ({} bytes): {:?} local {:?} got {} send queue {} recv queue {}",
                    f.page,
                    f.expected.len(),
                    socket.state(),
                    socket.local_endpoint(),
                    f.received,
                    socket.send_queue(),
                    socket.recv_queue()
                )
            })
            .collect()
    }

    /// Opens sockets, sends requests, reads and verifies responses, closes
    /// finished sockets and frees closed ones. Call after the hosts settle.
    pub fn step(&mut self, host: &mut SmolHost) {
        while self.active.len() < self.concurrency {
            let Some(page) = self.queue.pop_front() else {
                break;
            };
            let expected = self.content.page(page).map_or(&[][..], |p| p.body);
            let handle = host.add_tcp_client(self.server, self.port, self.rx_len, self.tx_len);
            self.counters.started += 1;
            self.active.push(Fetch::new(handle, page, expected));
        }
        let mut i = 0;
        while i < self.active.len() {
            match self.drive(host, i) {
                None => i += 1,
                Some(outcome) => {
                    let fetch = self.active.remove(i);
                    let socket = host.tcp(fetch.handle);
                    match outcome {
                        Ok(()) => {
                            self.counters.ok += 1;
                            self.counters.bytes_ok += fetch.expected.len() as u64;
                            socket.close();
                        }
                        Err(failure) => {
                            let slot = match failure {
                                Failure::Reset => &mut self.counters.reset,
                                Failure::BadStatus => &mut self.counters.bad_status,
                                Failure::BadHead => &mut self.counters.bad_head,
                                Failure::LengthMismatch => &mut self.counters.length_mismatch,
                                Failure::BodyMismatch => &mut self.counters.body_mismatch,
                                Failure::ClosedEarly => &mut self.counters.closed_early,
                            };
                            *slot += 1;
                            if self.failures.len() < 16 {
                                self.failures.push(format!(
                                    "page {} ({} bytes): {failure:?} in {:?} after {} body bytes, \
                                     first difference at {:?}",
                                    fetch.page,
                                    fetch.expected.len(),
                                    socket.state(),
                                    fetch.received,
                                    fetch.first_difference
                                ));
                            }
                            if socket.state() == State::Closed {
                                // Already gone (reset).
                            } else {
                                socket.abort();
                            }
                        }
                    }
                    self.lingering.push(fetch.handle);
                }
            }
        }
        let counters = &mut self.counters;
        self.lingering.retain(|&handle| {
            let state = host.tcp(handle).state();
            if state == State::Closed {
                host.sockets.remove(handle);
                counters.closed += 1;
                false
            } else {
                true
            }
        });
    }

    /// Drives request `i`; returns its outcome once it has one.
    fn drive(&mut self, host: &mut SmolHost, i: usize) -> Option<Result<(), Failure>> {
        let fetch = &mut self.active[i];
        let socket = host.tcp(fetch.handle);
        let state = socket.state();
        if !fetch.connected && !matches!(state, State::SynSent | State::Closed) {
            fetch.connected = true;
            self.counters.connected += 1;
        }
        if socket.can_send() && fetch.request_sent < fetch.request.len() {
            fetch.request_sent += socket
                .send_slice(&fetch.request[fetch.request_sent..])
                .expect("can_send");
        }
        let counters = &mut self.counters;
        let mut outcome = None;
        while socket.can_recv() && outcome.is_none() {
            outcome = socket
                .recv(|buf| (buf.len(), fetch.absorb(buf, counters)))
                .expect("can_recv");
        }
        if outcome.is_some() {
            return outcome;
        }
        if fetch.head.is_none() && fetch.received == fetch.expected.len() {
            return Some(Ok(()));
        }
        match state {
            State::Closed => Some(Err(Failure::Reset)),
            State::CloseWait | State::LastAck | State::Closing | State::TimeWait => {
                Some(Err(Failure::ClosedEarly))
            }
            _ => None,
        }
    }
}

impl Fetch {
    fn new(handle: SocketHandle, page: usize, expected: &'static [u8]) -> Self {
        Fetch {
            handle,
            page,
            expected,
            request: format!("GET /{page}.htm HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes(),
            request_sent: 0,
            connected: false,
            head: Some(Vec::new()),
            received: 0,
            first_difference: None,
            overrun: false,
        }
    }

    /// Takes received bytes: the head, then the body, compared with the
    /// page as they come. Returns a failure, if any.
    fn absorb(
        &mut self,
        buf: &[u8],
        counters: &mut SmolClientCounters,
    ) -> Option<Result<(), Failure>> {
        let rest;
        let mut body = buf;
        if let Some(head) = self.head.as_mut() {
            let start = head.len().saturating_sub(3);
            head.extend_from_slice(buf);
            let Some(end) = find(&head[start..], b"\r\n\r\n").map(|p| p + start) else {
                return (head.len() > MAX_HEAD).then_some(Err(Failure::BadHead));
            };
            if end > MAX_HEAD {
                return Some(Err(Failure::BadHead));
            }
            rest = head.split_off(end + 4);
            let parsed = parse_response_head(&head[..end]);
            self.head = None;
            match parsed {
                Err("bad HTTP version" | "bad status code" | "no status code") => {
                    return Some(Err(Failure::BadStatus))
                }
                Err(_) => return Some(Err(Failure::BadHead)),
                Ok(h) if h.status != 200 => return Some(Err(Failure::BadStatus)),
                Ok(h) if h.content_length != Some(self.expected.len() as u64) => {
                    return Some(Err(Failure::LengthMismatch))
                }
                Ok(_) => {}
            }
            body = &rest;
        }
        let want = &self.expected[self.received..];
        let n = body.len().min(want.len());
        if body[..n] != want[..n] && self.first_difference.is_none() {
            let at = body.iter().zip(want).position(|(a, b)| a != b);
            self.first_difference = at.map(|at| self.received + at);
        }
        self.received += n;
        counters.body_bytes += n as u64;
        if body.len() > n {
            self.overrun = true;
        }
        if self.overrun {
            Some(Err(Failure::LengthMismatch))
        } else if self.first_difference.is_some() && self.received == self.expected.len() {
            Some(Err(Failure::BodyMismatch))
        } else {
            None
        }
    }
}

// ------------------------------------------------------------------- server

/// Counters of a [`SmolHttpServer`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SmolServerCounters {
    /// Connections established.
    pub connections: u64,
    /// Requests answered `200 OK`.
    pub ok: u64,
    /// Requests answered `404 Not Found`.
    pub not_found: u64,
    /// Requests answered `400 Bad Request`.
    pub bad_request: u64,
    /// Body bytes of `200` responses queued.
    pub body_bytes: u64,
    /// Connections that ended (CLOSED) after the whole response was queued.
    pub closed: u64,
    /// Connections that ended before the whole response was queued.
    pub aborted: u64,
    /// Stale duplicate SYNs of an open connection that smoltcp handed to a
    /// listening socket (see [`SmolHttpServer::step`]); that socket went
    /// back to listening.
    pub stale_syns: u64,
}

/// One server socket.
#[derive(Debug)]
struct ServerConn {
    handle: SocketHandle,
    /// Left LISTEN and SYN-RECEIVED once.
    established: bool,
    line: Vec<u8>,
    /// Head and body of the response, once decided.
    response: Option<(Vec<u8>, &'static [u8])>,
    sent: usize,
    closing: bool,
}

/// A smoltcp HTTP server; see the [module docs](self).
pub struct SmolHttpServer<C> {
    port: u16,
    content: C,
    listeners: usize,
    rx_len: usize,
    tx_len: usize,
    conns: Vec<ServerConn>,
    counters: SmolServerCounters,
}

impl<C> core::fmt::Debug for SmolHttpServer<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SmolHttpServer")
            .field("port", &self.port)
            .field("sockets", &self.conns.len())
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl<C: Content> SmolHttpServer<C> {
    /// A server of `content` on `port`, keeping `listeners` sockets
    /// listening (at least as many as the client's concurrency), each with
    /// `rx_len` and `tx_len` bytes of buffers.
    pub fn new(port: u16, content: C, listeners: usize, rx_len: usize, tx_len: usize) -> Self {
        SmolHttpServer {
            port,
            content,
            listeners,
            rx_len,
            tx_len,
            conns: Vec::new(),
            counters: SmolServerCounters::default(),
        }
    }

    /// The counters.
    pub fn counters(&self) -> &SmolServerCounters {
        &self.counters
    }

    /// Sockets that carried a connection and are not CLOSED yet, with
    /// their states.
    pub fn open_states(&self, host: &mut SmolHost) -> Vec<State> {
        self.conns
            .iter()
            .filter(|c| c.established)
            .map(|c| host.tcp(c.handle).state())
            .collect()
    }

    /// The response to a request line (without CRLF).
    fn respond(&mut self, line: &[u8]) -> (Vec<u8>, &'static [u8]) {
        const BAD: &[u8] = b"Bad Request\n";
        const MISSING: &[u8] = b"Not Found\n";
        let text = core::str::from_utf8(line).unwrap_or("");
        let mut parts = text.split(' ');
        let (method, target, version) = (parts.next(), parts.next(), parts.next());
        let valid = method == Some("GET")
            && parts.next().is_none()
            && version.is_some_and(|v| v.len() == 8 && v.starts_with("HTTP/1."));
        let (status, body) = if !valid {
            self.counters.bad_request += 1;
            ("400 Bad Request", BAD)
        } else {
            let page = target
                .and_then(|t| t.strip_prefix('/'))
                .and_then(|t| t.strip_suffix(".htm"))
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .filter(|n| n.len() == 1 || !n.starts_with('0'))
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| self.content.page(n));
            match page {
                Some(page) => {
                    self.counters.ok += 1;
                    self.counters.body_bytes += page.body.len() as u64;
                    ("200 OK", page.body)
                }
                None => {
                    self.counters.not_found += 1;
                    ("404 Not Found", MISSING)
                }
            }
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        (head.into_bytes(), body)
    }

    /// Keeps `listeners` sockets listening, reads request lines, queues
    /// responses, closes answered connections and frees closed sockets.
    /// Call after the hosts settle.
    ///
    /// smoltcp hands an incoming segment to the first socket of its set
    /// that accepts it, so a listening socket that sits before an open
    /// connection's socket takes a late duplicate of that connection's SYN
    /// and answers it as a new connection, with a new ISN; the peer's ACK
    /// of its real connection then draws a reset from that socket that
    /// kills the real connection (seen with a retransmitted SYN delayed
    /// past the handshake). A stack that looks the 4-tuple up before its
    /// listeners would have given the SYN to the open connection. Such a
    /// socket is put back to listening here, silently (its SYN-ACK has
    /// gone; the peer answers it with an ACK that the open connection
    /// takes), and counted in [`SmolServerCounters::stale_syns`].
    pub fn step(&mut self, host: &mut SmolHost) {
        self.drop_stale_syns(host);
        let listening = self.conns.iter().filter(|c| !c.established).count();
        for _ in listening..self.listeners {
            let handle = host.add_tcp_listener(self.port, self.rx_len, self.tx_len);
            self.conns.push(ServerConn {
                handle,
                established: false,
                line: Vec::new(),
                response: None,
                sent: 0,
                closing: false,
            });
        }
        for i in 0..self.conns.len() {
            self.drive(host, i);
        }
        let counters = &mut self.counters;
        self.conns.retain(|c| {
            if c.established && host.tcp(c.handle).state() == State::Closed {
                host.sockets.remove(c.handle);
                let queued = c
                    .response
                    .as_ref()
                    .is_some_and(|(head, body)| c.sent == head.len() + body.len());
                if queued {
                    counters.closed += 1;
                } else {
                    counters.aborted += 1;
                }
                false
            } else {
                true
            }
        });
    }

    /// Puts back to listening the sockets in SYN-RECEIVED for the remote
    /// end of an open connection (see [`SmolHttpServer::step`]).
    fn drop_stale_syns(&mut self, host: &mut SmolHost) {
        let open: Vec<_> = self
            .conns
            .iter()
            .filter(|c| c.established)
            .filter_map(|c| {
                let socket = host.tcp(c.handle);
                let open = !matches!(socket.state(), State::Closed | State::TimeWait);
                socket.remote_endpoint().filter(|_| open)
            })
            .collect();
        for c in self.conns.iter().filter(|c| !c.established) {
            let socket = host.tcp(c.handle);
            let stale = socket.state() == State::SynReceived
                && socket.remote_endpoint().is_some_and(|r| open.contains(&r));
            if stale {
                // Closed, then listening again: no reset goes out.
                socket.abort();
                socket
                    .listen(self.port)
                    .expect("a closed socket can listen");
                self.counters.stale_syns += 1;
            }
        }
    }

    fn drive(&mut self, host: &mut SmolHost, i: usize) {
        let socket = host.tcp(self.conns[i].handle);
        let state = socket.state();
        let conn = &mut self.conns[i];
        if !conn.established {
            if matches!(state, State::Listen | State::SynReceived) {
                return;
            }
            conn.established = true;
            self.counters.connections += 1;
        }
        // Read the request line; ignore everything after it.
        let mut line = None;
        while socket.can_recv() {
            let conn = &mut self.conns[i];
            let waiting = conn.response.is_none() && line.is_none();
            let got = socket
                .recv(|buf| {
                    if !waiting {
                        return (buf.len(), None);
                    }
                    let start = conn.line.len().saturating_sub(1);
                    conn.line.extend_from_slice(buf);
                    match find(&conn.line[start..], b"\r\n") {
                        Some(at) => (buf.len(), Some(conn.line[..start + at].to_vec())),
                        None if conn.line.len() > MAX_HEAD => (buf.len(), Some(Vec::new())),
                        None => (buf.len(), None),
                    }
                })
                .expect("can_recv");
            if got.is_some() {
                line = got;
            }
        }
        if let Some(line) = line {
            let response = self.respond(&line);
            self.conns[i].response = Some(response);
        }
        let socket = host.tcp(self.conns[i].handle);
        let conn = &mut self.conns[i];
        let Some((head, body)) = conn.response.as_ref() else {
            if matches!(state, State::CloseWait) {
                // Closed before a whole request line.
                socket.close();
            }
            return;
        };
        let total = head.len() + body.len();
        while conn.sent < total && socket.can_send() {
            let chunk = if conn.sent < head.len() {
                &head[conn.sent..]
            } else {
                &body[conn.sent - head.len()..]
            };
            let n = socket.send_slice(chunk).expect("can_send");
            if n == 0 {
                break;
            }
            conn.sent += n;
        }
        if conn.sent == total && !conn.closing {
            conn.closing = true;
            socket.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_heads() {
        let ok = parse_response_head(b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\nX: y");
        assert_eq!(
            ok,
            Ok(ResponseHead {
                status: 200,
                content_length: Some(12)
            })
        );
        let missing = parse_response_head(b"HTTP/1.0 404 Not Found");
        assert_eq!(
            missing.map(|h| (h.status, h.content_length)),
            Ok((404, None))
        );
        for bad in [
            &b"HTTP/2 200 OK"[..],
            b"HTTP/1.1 20 OK",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1",
            b"HTTP/1.1 200 OK\r\nno colon",
        ] {
            assert!(parse_response_head(bad).is_err(), "{bad:?}");
        }
    }

    /// Feeds `pieces` to a fetch expecting `expected`.
    fn absorb(expected: &'static [u8], pieces: &[&[u8]]) -> (Fetch, Option<Result<(), Failure>>) {
        let mut fetch = Fetch::new(SocketHandle::default(), 0, expected);
        let mut counters = SmolClientCounters::default();
        let mut outcome = None;
        for piece in pieces {
            outcome = outcome.or(fetch.absorb(piece, &mut counters));
        }
        (fetch, outcome)
    }

    #[test]
    fn bodies_are_checked_byte_for_byte_across_pieces() {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
        let whole: Vec<u8> = head.iter().chain(b"hello").copied().collect();
        for split in 0..whole.len() {
            let (fetch, outcome) = absorb(b"hello", &[&whole[..split], &whole[split..]]);
            assert_eq!((fetch.received, outcome), (5, None), "split at {split}");
            assert!(fetch.head.is_none());
        }
        let (fetch, outcome) = absorb(b"hello", &[head, b"hel", b"p!"]);
        assert_eq!(outcome, Some(Err(Failure::BodyMismatch)));
        assert_eq!(fetch.first_difference, Some(3));
        let (_, outcome) = absorb(b"hello", &[head, b"hello!"]);
        assert_eq!(outcome, Some(Err(Failure::LengthMismatch)));
        let (_, outcome) = absorb(b"hell", &[head]);
        assert_eq!(outcome, Some(Err(Failure::LengthMismatch)));
        let (_, outcome) = absorb(b"x", &[b"HTTP/1.1 404 Not Found\r\n\r\n"]);
        assert_eq!(outcome, Some(Err(Failure::BadStatus)));
        let (_, outcome) = absorb(b"x", &[&[b'a'; MAX_HEAD + 1]]);
        assert_eq!(outcome, Some(Err(Failure::BadHead)));
    }
}
