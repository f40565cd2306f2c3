//! What the apps' tests add to the shared harness (`stack/tests/support`,
//! whose `Net` they run with the server as stack A at [`SERVER_IP`] and
//! the client as stack B): their TCP settings, test pages and a raw client
//! that sends scripted bytes.
#![allow(dead_code)]

use rusty_apps::Page;
use rusty_stack::mem::cursor::Cursor;
use rusty_stack::prefix_sum::PrefixSums;
use rusty_stack::tcp::{App, Conn, Connect, StaticWriter, TcpConfig};
use rusty_stack::time::Instant;

pub use crate::support::IP_A as SERVER_IP;

/// TCP settings of the tests unless they say otherwise.
pub fn config() -> TcpConfig {
    TcpConfig {
        max_connections: 128,
        time_wait_capacity: 1024,
        ooo_pool_segments: 512,
        ..TcpConfig::default()
    }
}

/// Leaks pages built from `bodies` (page `i` is `bodies[i]`), with checksum
/// tables when `sums`.
pub fn leak_pages(bodies: Vec<Vec<u8>>, sums: bool) -> &'static [Page<'static>] {
    let pages: Vec<Page<'static>> = bodies
        .into_iter()
        .map(|b| {
            let body: &'static [u8] = Box::leak(b.into_boxed_slice());
            if sums {
                Page::with_sums(body, Box::leak(Box::new(PrefixSums::new(body))))
            } else {
                Page::new(body)
            }
        })
        .collect();
    Box::leak(pages.into_boxed_slice())
}

/// What one connection of a test client saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Log {
    pub received: Vec<u8>,
    pub connected: bool,
    pub remote_closed: bool,
    pub closed: bool,
    pub reset: bool,
    /// `on_data` calls (pieces the data arrived in).
    pub deliveries: usize,
}

impl Log {
    pub fn done(&self) -> bool {
        self.closed || self.reset
    }
}

/// A client that opens one connection per job and sends its pieces one at
/// a time: the first when connected, each next one when the previous one
/// is acknowledged (so every piece travels in its own segment). With
/// `close_after`, it closes after the last piece. Logs what comes back.
pub struct RawClient {
    pub jobs: Vec<Vec<&'static [u8]>>,
    pub close_after: bool,
    pub port: u16,
    pub logs: Vec<Log>,
    started: usize,
}

impl RawClient {
    pub fn new(jobs: Vec<Vec<&'static [u8]>>, close_after: bool) -> Self {
        RawClient {
            jobs,
            close_after,
            port: 80,
            logs: Vec::new(),
            started: 0,
        }
    }

    pub fn all_done(&self) -> bool {
        self.logs.len() == self.jobs.len() && self.logs.iter().all(Log::done)
    }

    fn send_next(&mut self, c: &mut (usize, usize), conn: &mut Conn<'_, StaticWriter>) {
        let pieces = &self.jobs[c.0];
        if let Some(piece) = pieces.get(c.1) {
            conn.send(piece.len(), StaticWriter(piece)).unwrap();
            c.1 += 1;
            if c.1 == pieces.len() && self.close_after {
                conn.close();
            }
        }
    }
}

impl App for RawClient {
    /// (job, pieces sent)
    type Conn = (usize, usize);
    type Writer = StaticWriter;

    fn accept(&mut self, _: u16, _: &mut Conn<'_, StaticWriter>) -> Option<(usize, usize)> {
        None
    }

    fn on_connected(&mut self, c: &mut (usize, usize), conn: &mut Conn<'_, StaticWriter>) {
        self.logs[c.0].connected = true;
        self.send_next(c, conn);
    }

    fn on_acked(
        &mut self,
        c: &mut (usize, usize),
        conn: &mut Conn<'_, StaticWriter>,
        _: StaticWriter,
    ) {
        self.send_next(c, conn);
    }

    fn on_data(
        &mut self,
        c: &mut (usize, usize),
        _: &mut Conn<'_, StaticWriter>,
        data: Cursor<'_>,
    ) {
        let log = &mut self.logs[c.0];
        log.received.extend(data.copy_to_vec());
        log.deliveries += 1;
    }

    fn on_remote_close(&mut self, c: &mut (usize, usize), conn: &mut Conn<'_, StaticWriter>) {
        self.logs[c.0].remote_closed = true;
        conn.close();
    }

    fn on_close(&mut self, c: (usize, usize)) {
        self.logs[c.0].closed = true;
    }

    fn on_reset(&mut self, c: (usize, usize)) {
        self.logs[c.0].reset = true;
    }

    fn next_connect(&mut self, _now: Instant) -> Option<Connect<(usize, usize)>> {
        if self.started == self.jobs.len() {
            return None;
        }
        self.started += 1;
        self.logs.push(Log::default());
        Some(Connect {
            addr: SERVER_IP,
            port: self.port,
            state: (self.started - 1, 0),
        })
    }
}
