//! The page server: one thread per worker, each with its own
//! `SO_REUSEPORT` listening socket and its own epoll loop.
//!
//! Connections are non-blocking and registered edge-triggered for input,
//! output and peer shutdown at once, so a connection is never re-armed with
//! `epoll_ctl`: on every event the worker reads and writes until the kernel
//! says `WouldBlock`. Listening sockets are level-triggered, so a worker
//! accepts a bounded batch per wake-up and is reminded of the rest.
//!
//! Responses are the same bytes Rusty's `HttpServer` sends: for `GET /N.htm`
//! with `Connection: close` (or HTTP/1.0), `HTTP/1.1 200 OK`,
//! `Content-Length` and `Connection: close`, then the page; `404 Not Found`
//! for an unknown path and `400 Bad Request` for anything else, both closing
//! the connection. HTTP/1.1 requests without `Connection: close` keep the
//! connection open (their head has no `Connection` header) and may be
//! pipelined. After the last response the server shuts its sending side
//! down at once (the FIN follows the data, as with Rusty) and closes when
//! the client closes.
//!
//! ```no_run
//! use rusty_linux_bench::server::{ServerConfig, Server};
//!
//! let server = Server::bind(&ServerConfig { port: 0, ..ServerConfig::default() }).unwrap();
//! println!("serving on {}", server.local_addr());
//! server.spawn().unwrap().join().unwrap();
//! ```

use std::io::{self, IoSlice, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddrV4, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusty_apps::http_server::{ok_head, BAD_REQUEST, NOT_FOUND};

use crate::request::{self, ParsedRequest, Request};
use crate::sys::{self, Epoll, EDGE, NO_EVENT, READABLE, READ_HANGUP, WRITABLE};

/// Server settings.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to listen on.
    pub addr: Ipv4Addr,
    /// Port to listen on; 0 picks a free one (see [`Server::local_addr`]).
    pub port: u16,
    /// Worker threads, each with its own listening socket and epoll loop.
    pub workers: usize,
    /// Listen backlog of each worker's socket.
    pub backlog: i32,
    /// Connections idle this long are closed.
    pub idle_timeout: Duration,
}

impl Default for ServerConfig {
    /// All addresses, port 8080, one worker per CPU, backlog 4096, 30 s
    /// idle timeout.
    fn default() -> Self {
        ServerConfig {
            addr: Ipv4Addr::UNSPECIFIED,
            port: 8080,
            workers: std::thread::available_parallelism().map_or(1, usize::from),
            backlog: 4096,
            idle_timeout: Duration::from_secs(30),
        }
    }
}

/// One page ready to send: its body and both response heads.
struct Entry {
    body: &'static [u8],
    /// Head with `Connection: close` (byte for byte Rusty's).
    close: Box<[u8]>,
    /// Head of a kept-alive connection (no `Connection` header).
    keep_alive: Box<[u8]>,
}

/// The 500-page set of `rusty_fixtures`, with the heads precomputed.
struct Content {
    entries: Vec<Entry>,
}

/// The content, generated on first use and kept for the process.
fn content() -> &'static Content {
    static CONTENT: OnceLock<Content> = OnceLock::new();
    CONTENT.get_or_init(|| {
        let entries = rusty_fixtures::page_set()
            .pages()
            .iter()
            .map(|page| Entry {
                body: page.body,
                close: ok_head(page.body.len() as u64).to_vec().into(),
                keep_alive: format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                    page.body.len()
                )
                .into_bytes()
                .into(),
            })
            .collect();
        Content { entries }
    })
}

impl Content {
    fn get(&self, target: &[u8]) -> Option<&Entry> {
        let path = std::str::from_utf8(target).ok()?;
        let page = rusty_fixtures::page_set().by_path(path)?;
        self.entries.get(page.index)
    }
}

/// Counters of a running server, summed over its workers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Connections accepted.
    pub connections: u64,
    /// Requests answered `200 OK`.
    pub ok: u64,
    /// Requests answered `404 Not Found`.
    pub not_found: u64,
    /// Requests answered `400 Bad Request`.
    pub bad_request: u64,
    /// Connections ended by an error (reset, broken pipe) or the idle
    /// timeout rather than by the client's close.
    pub aborted: u64,
}

/// One worker's counters, on a cache line of its own.
#[derive(Debug, Default)]
#[repr(align(64))]
struct WorkerCounters {
    connections: AtomicU64,
    ok: AtomicU64,
    not_found: AtomicU64,
    bad_request: AtomicU64,
    aborted: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A bound server: one listening socket per worker, all on the same port.
#[derive(Debug)]
pub struct Server {
    listeners: Vec<TcpListener>,
    addr: SocketAddrV4,
    idle_timeout: Duration,
}

impl Server {
    /// Generates the page set (once per process) and binds one
    /// `SO_REUSEPORT` socket per worker; connections are accepted (by the
    /// kernel) from here on.
    pub fn bind(config: &ServerConfig) -> io::Result<Server> {
        content();
        let workers = config.workers.max(1);
        let first =
            sys::reuseport_listener(SocketAddrV4::new(config.addr, config.port), config.backlog)?;
        let port = first.local_addr()?.port();
        let addr = SocketAddrV4::new(config.addr, port);
        let mut listeners = vec![first];
        for _ in 1..workers {
            listeners.push(sys::reuseport_listener(addr, config.backlog)?);
        }
        Ok(Server {
            listeners,
            addr,
            idle_timeout: config.idle_timeout,
        })
    }

    /// The address listened on (with the port picked when 0 was asked).
    pub fn local_addr(&self) -> SocketAddrV4 {
        self.addr
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.listeners.len()
    }

    /// Starts the workers.
    pub fn spawn(self) -> io::Result<Running> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::new();
        let mut counters = Vec::new();
        for (i, listener) in self.listeners.into_iter().enumerate() {
            let worker_counters = Arc::new(WorkerCounters::default());
            let mut worker = Worker::new(listener, worker_counters.clone(), self.idle_timeout)?;
            let stop = stop.clone();
            let handle = std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || worker.run(&stop))?;
            workers.push(handle);
            counters.push(worker_counters);
        }
        Ok(Running {
            addr: self.addr,
            stop,
            workers,
            counters,
        })
    }
}

/// A server whose workers are running.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddrV4,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<io::Result<()>>>,
    counters: Vec<Arc<WorkerCounters>>,
}

impl Running {
    /// The address listened on.
    pub fn local_addr(&self) -> SocketAddrV4 {
        self.addr
    }

    /// The counters so far, summed over the workers.
    pub fn counters(&self) -> Counters {
        let mut sum = Counters::default();
        for c in &self.counters {
            sum.connections += c.connections.load(Ordering::Relaxed);
            sum.ok += c.ok.load(Ordering::Relaxed);
            sum.not_found += c.not_found.load(Ordering::Relaxed);
            sum.bad_request += c.bad_request.load(Ordering::Relaxed);
            sum.aborted += c.aborted.load(Ordering::Relaxed);
        }
        sum
    }

    /// Waits for the workers; they only end on an epoll error (or after
    /// [`Running::stop`]).
    pub fn join(self) -> io::Result<()> {
        let mut result = Ok(());
        for worker in self.workers {
            let outcome = worker
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("worker panicked")));
            result = result.and(outcome);
        }
        result
    }

    /// Tells the workers to stop (within their 200 ms wait) and waits for
    /// them; their sockets and connections are closed.
    pub fn stop(self) -> io::Result<Counters> {
        self.stop.store(true, Ordering::Relaxed);
        let counters = self.counters();
        self.join().map(|()| counters)
    }
}

/// Token of the listening socket; connections use their slot index.
const LISTENER: u64 = u64::MAX;

/// Connections accepted per wake-up of the (level-triggered) listener.
const ACCEPT_BATCH: usize = 64;

/// Longest wait in `epoll_wait`, in milliseconds: the latency of a stop
/// request and the period of idle checks.
const WAIT_MS: i32 = 200;

/// A response being sent.
struct Out {
    head: &'static [u8],
    body: &'static [u8],
    /// Bytes of head then body sent so far.
    sent: usize,
    /// Shut the sending side down once sent.
    close: bool,
}

impl Out {
    fn fixed(bytes: &'static [u8]) -> Out {
        Out {
            head: bytes,
            body: &[],
            sent: 0,
            close: true,
        }
    }

    /// Sends as much as the socket takes: `Ok(true)` once all is sent,
    /// `Ok(false)` when the socket is full.
    fn send(&mut self, stream: &mut TcpStream) -> io::Result<bool> {
        loop {
            let head = self.head.get(self.sent..).unwrap_or_default();
            let body = &self.body[self.sent.saturating_sub(self.head.len())..];
            if head.is_empty() && body.is_empty() {
                return Ok(true);
            }
            let written = if head.is_empty() {
                stream.write(body)
            } else {
                stream.write_vectored(&[IoSlice::new(head), IoSlice::new(body)])
            };
            match written {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// One connection.
struct Conn {
    stream: TcpStream,
    /// Request bytes received and not yet answered.
    input: Vec<u8>,
    /// The response being sent; requests wait behind it.
    out: Option<Out>,
    /// The last response is sent and the sending side shut down: the rest
    /// of the input is discarded until the client closes.
    draining: bool,
    last_active: Instant,
}

/// How a connection's turn ended.
enum Turn {
    /// Waiting for the socket (the next edge wakes it up).
    Wait,
    /// The client closed: the connection is done.
    Done,
    /// An error: the connection is dropped.
    Failed,
}

/// Reads into `buf`; `Ok(None)` when nothing is available now.
fn read_some(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<Option<usize>> {
    loop {
        match stream.read(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// One worker: a listening socket, an epoll instance and its connections.
struct Worker {
    listener: TcpListener,
    epoll: Epoll,
    /// Connections by token; `None` slots are free.
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    counters: Arc<WorkerCounters>,
    idle_timeout: Duration,
    /// Scratch buffer for reads.
    scratch: Box<[u8]>,
    /// Input buffers of closed connections, for new ones: no allocation
    /// per connection once warm.
    spare_inputs: Vec<Vec<u8>>,
}

impl Worker {
    fn new(
        listener: TcpListener,
        counters: Arc<WorkerCounters>,
        idle_timeout: Duration,
    ) -> io::Result<Worker> {
        let epoll = Epoll::new()?;
        epoll.add(&listener, READABLE, LISTENER)?;
        Ok(Worker {
            listener,
            epoll,
            conns: Vec::new(),
            free: Vec::new(),
            counters,
            idle_timeout,
            scratch: vec![0; 16 * 1024].into(),
            spare_inputs: Vec::new(),
        })
    }

    fn run(&mut self, stop: &AtomicBool) -> io::Result<()> {
        let mut events = vec![NO_EVENT; 256];
        let mut last_sweep = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let n = self.epoll.wait(&mut events, WAIT_MS)?;
            let now = Instant::now();
            for event in &events[..n] {
                let token = event.u64;
                if token == LISTENER {
                    self.accept(now);
                } else {
                    self.turn(token as usize, now);
                }
            }
            if now.duration_since(last_sweep) >= Duration::from_secs(1) {
                last_sweep = now;
                self.close_idle(now);
            }
        }
        Ok(())
    }

    fn accept(&mut self, now: Instant) {
        for _ in 0..ACCEPT_BATCH {
            let stream = match sys::accept_nonblocking(&self.listener) {
                Ok(stream) => stream,
                // WouldBlock: none left. Others (a connection reset while
                // queued, out of descriptors): the level-triggered listener
                // reminds us of the rest.
                Err(_) => return,
            };
            let slot = self.free.pop().unwrap_or_else(|| {
                self.conns.push(None);
                self.conns.len() - 1
            });
            if self
                .epoll
                .add(
                    &stream,
                    READABLE | WRITABLE | READ_HANGUP | EDGE,
                    slot as u64,
                )
                .is_err()
            {
                self.free.push(slot);
                continue;
            }
            bump(&self.counters.connections);
            self.conns[slot] = Some(Conn {
                stream,
                input: self.spare_inputs.pop().unwrap_or_default(),
                out: None,
                draining: false,
                last_active: now,
            });
            // Requests often arrive with the handshake's last ACK.
            self.turn(slot, now);
        }
    }

    /// Runs connection `slot` until it waits for the socket or ends.
    fn turn(&mut self, slot: usize, now: Instant) {
        let Some(Some(conn)) = self.conns.get_mut(slot) else {
            return; // a stale event of a connection closed in this batch
        };
        conn.last_active = now;
        let turn = Self::drive(conn, &self.counters, &mut self.scratch);
        match turn {
            Turn::Wait => {}
            Turn::Done | Turn::Failed => {
                if matches!(turn, Turn::Failed) {
                    bump(&self.counters.aborted);
                }
                // Dropping the stream closes it, which also removes it from
                // the epoll set.
                if let Some(conn) = self.conns[slot].take() {
                    self.recycle(conn.input);
                }
                self.free.push(slot);
            }
        }
    }

    fn drive(conn: &mut Conn, counters: &WorkerCounters, scratch: &mut [u8]) -> Turn {
        loop {
            if let Some(out) = &mut conn.out {
                match out.send(&mut conn.stream) {
                    Ok(true) => {}
                    Ok(false) => return Turn::Wait,
                    Err(_) => return Turn::Failed,
                }
                let close = out.close;
                conn.out = None;
                if close {
                    // The FIN follows the response; the client closes next.
                    if conn.stream.shutdown(Shutdown::Write).is_err() {
                        return Turn::Failed;
                    }
                    conn.draining = true;
                    conn.input.clear();
                }
                continue;
            }
            if !conn.draining {
                let out = match request::parse(&conn.input) {
                    ParsedRequest::Complete { len, request } => {
                        let out = respond(request, counters);
                        conn.input.drain(..len);
                        Some(out)
                    }
                    ParsedRequest::TooLarge => {
                        bump(&counters.bad_request);
                        Some(Out::fixed(BAD_REQUEST))
                    }
                    ParsedRequest::Incomplete => None,
                };
                if let Some(out) = out {
                    conn.out = Some(out);
                    continue;
                }
            }
            match read_some(&mut conn.stream, scratch) {
                Ok(Some(0)) => return Turn::Done,
                Ok(Some(n)) => {
                    if !conn.draining {
                        conn.input.extend_from_slice(&scratch[..n]);
                    }
                }
                Ok(None) => return Turn::Wait,
                Err(_) => return Turn::Failed,
            }
        }
    }

    /// Keeps an input buffer of a closed connection for a later one.
    fn recycle(&mut self, mut input: Vec<u8>) {
        if input.capacity() <= 2 * request::MAX_HEAD && self.spare_inputs.len() < 4096 {
            input.clear();
            self.spare_inputs.push(input);
        }
    }

    /// Closes connections idle for longer than the idle timeout.
    fn close_idle(&mut self, now: Instant) {
        for (slot, entry) in self.conns.iter_mut().enumerate() {
            if let Some(conn) = entry {
                if now.duration_since(conn.last_active) > self.idle_timeout {
                    *entry = None;
                    self.free.push(slot);
                    bump(&self.counters.aborted);
                }
            }
        }
    }
}

/// The response to a parsed request head.
fn respond(request: Result<Request<'_>, request::BadRequest>, counters: &WorkerCounters) -> Out {
    let request = match request {
        Ok(request) => request,
        Err(_) => {
            bump(&counters.bad_request);
            return Out::fixed(BAD_REQUEST);
        }
    };
    let content = content();
    match content.get(request.target) {
        Some(entry) => {
            bump(&counters.ok);
            Out {
                head: if request.keep_alive {
                    &entry.keep_alive
                } else {
                    &entry.close
                },
                body: entry.body,
                sent: 0,
                close: !request.keep_alive,
            }
        }
        None => {
            bump(&counters.not_found);
            Out::fixed(NOT_FOUND)
        }
    }
}
