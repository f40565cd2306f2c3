//! [`SmolHttpClient`]: fetches pages over smoltcp sockets and verifies
//! every byte.

use std::collections::VecDeque;

use rusty_apps::Content;
use rusty_stack::wire::Ipv4Addr;
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::State;

use super::{HeadFault, HeadReader};
use crate::hosts::smol_peer::SmolPeer;

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
    /// The response head, read piece by piece.
    head: HeadReader,
    received: usize,
    /// First differing body offset, if any.
    first_difference: Option<usize>,
    overrun: bool,
}

/// A smoltcp HTTP client; see the [module docs](super).
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
    pub fn lingering_states(&self, host: &mut SmolPeer) -> Vec<State> {
        self.lingering
            .iter()
            .map(|&h| host.tcp(h).state())
            .collect()
    }

    /// The lingering sockets: local endpoint and state (for reports).
    pub fn lingering_report(&self, host: &mut SmolPeer) -> Vec<String> {
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
    pub fn active_report(&self, host: &mut SmolPeer) -> Vec<String> {
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
    pub fn step(&mut self, host: &mut SmolPeer) {
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
    fn drive(&mut self, host: &mut SmolPeer, i: usize) -> Option<Result<(), Failure>> {
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
        if fetch.head.result().is_some() && fetch.received == fetch.expected.len() {
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
            head: HeadReader::new(),
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
        let mut body = buf;
        if self.head.result().is_none() {
            let used = self.head.feed(buf);
            body = &buf[used..];
            match self.head.result() {
                None => return None,
                Some(Err(HeadFault::BadStatusLine("no status line"))) => {
                    return Some(Err(Failure::BadHead))
                }
                Some(Err(HeadFault::BadStatusLine(_))) => return Some(Err(Failure::BadStatus)),
                Some(Err(_)) => return Some(Err(Failure::BadHead)),
                Some(Ok(h)) if h.status != 200 => return Some(Err(Failure::BadStatus)),
                Some(Ok(h)) if h.content_length != Some(self.expected.len() as u64) => {
                    return Some(Err(Failure::LengthMismatch))
                }
                Some(Ok(_)) => {}
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hosts::smol_http::MAX_HEAD;

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
            assert!(fetch.head.result().is_some());
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
