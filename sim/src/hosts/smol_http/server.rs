//! [`SmolHttpServer`]: serves pages from smoltcp listening sockets.

use rusty_apps::Content;
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::State;

use super::{find, MAX_HEAD};
use crate::hosts::smol_peer::SmolPeer;

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

/// A smoltcp HTTP server; see the [module docs](super).
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
    pub fn open_states(&self, host: &mut SmolPeer) -> Vec<State> {
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
    pub fn step(&mut self, host: &mut SmolPeer) {
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
    fn drop_stale_syns(&mut self, host: &mut SmolPeer) {
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

    fn drive(&mut self, host: &mut SmolPeer, i: usize) {
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
