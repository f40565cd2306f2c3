//! The applications allocate nothing per connection or per packet: a
//! counting global allocator watches thousands of HTTP transactions (page
//! server and load client, both stacks in this process) and of echo
//! round trips, after a warm-up.

#[path = "../../tests/support/mod.rs"]
mod support;

mod common;

use rusty_alloc_counter::{thread_allocations, CountingAllocator};

use common::{config, leak_pages, SERVER_IP};
use rusty_apps::{EchoServer, HttpClientConfig, HttpLoadClient, HttpServer, Page};
use rusty_stack::mem::cursor::Cursor;
use rusty_stack::tcp::{App, Conn, Connect, StaticWriter, TcpConfig};
use rusty_stack::time::{Duration, Instant};
use support::{pattern, Net};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn zero_alloc_http_transactions() {
    let sizes = [0usize, 1, 1461, 5000, 20_000, 40_000];
    let pages: &'static [Page<'static>] = leak_pages(
        sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| pattern(n, i as u32))
            .collect(),
        true,
    );
    let client = HttpLoadClient::new(
        HttpClientConfig {
            concurrency: 16,
            seed: 7,
            ..HttpClientConfig::new(SERVER_IP, 80)
        },
        pages,
    );
    let mut net = Net::quiet(HttpServer::new(pages), client, config(), config());
    net.a.listen(80, 128).unwrap();
    // Warm-up: more transactions than the TIME-WAIT ring holds, so that it
    // has wrapped.
    assert!(
        net.run_until(Duration::from_secs(3600), |n| n.b.app().counters().ok
            >= 1500)
    );
    let before = thread_allocations();
    let ok_before = net.b.app().counters().ok;
    assert!(
        net.run_until(Duration::from_secs(3600), |n| n.b.app().counters().ok
            >= 12_000)
    );
    let allocations = thread_allocations() - before;
    let c = *net.b.app().counters();
    assert_eq!(c.failed_total(), 0, "{c:?}");
    assert!(
        c.ok - ok_before >= 10_000,
        "at least 10,000 measured transactions"
    );
    assert_eq!(
        allocations,
        0,
        "allocations during {} transactions",
        c.ok - ok_before
    );
}

/// Opens connections forever (`concurrency` at a time), sends `message` on
/// each, closes once it has all come back. No allocation.
struct EchoLoad {
    message: &'static [u8],
    concurrency: usize,
    open: usize,
    done: u64,
    bad: u64,
}

impl App for EchoLoad {
    /// Bytes received back.
    type Conn = usize;
    type Writer = StaticWriter;

    fn accept(&mut self, _: u16, _: &mut Conn<'_, StaticWriter>) -> Option<usize> {
        None
    }
    fn on_connected(&mut self, _: &mut usize, conn: &mut Conn<'_, StaticWriter>) {
        conn.send(self.message.len(), StaticWriter(self.message))
            .unwrap();
    }
    fn on_data(&mut self, c: &mut usize, conn: &mut Conn<'_, StaticWriter>, data: Cursor<'_>) {
        let expected = &self.message[*c..];
        if data.len() > expected.len() || !data.eq_slice(&expected[..data.len()]) {
            self.bad += 1;
        }
        *c += data.len();
        if *c >= self.message.len() {
            conn.close();
        }
    }
    fn on_remote_close(&mut self, _: &mut usize, conn: &mut Conn<'_, StaticWriter>) {
        conn.close();
    }
    fn on_close(&mut self, c: usize) {
        self.open -= 1;
        if c == self.message.len() {
            self.done += 1;
        } else {
            self.bad += 1;
        }
    }
    fn on_reset(&mut self, _: usize) {
        self.open -= 1;
        self.bad += 1;
    }
    fn next_connect(&mut self, _: Instant) -> Option<Connect<usize>> {
        if self.open >= self.concurrency {
            return None;
        }
        self.open += 1;
        Some(Connect {
            addr: SERVER_IP,
            port: 7,
            state: 0,
        })
    }
}

#[test]
fn zero_alloc_echo_round_trips() {
    let message: &'static [u8] = Box::leak(pattern(6000, 1).into_boxed_slice());
    let client = EchoLoad {
        message,
        concurrency: 8,
        open: 0,
        done: 0,
        bad: 0,
    };
    let server_config = TcpConfig {
        tx_queue_entries: 16,
        ..config()
    };
    let mut net = Net::quiet(EchoServer::new(), client, server_config, config());
    net.a.listen(7, 128).unwrap();
    assert!(net.run_until(Duration::from_secs(3600), |n| n.b.app().done >= 1500));
    let before = thread_allocations();
    assert!(net.run_until(Duration::from_secs(3600), |n| n.b.app().done >= 4000));
    let allocations = thread_allocations() - before;
    assert_eq!(net.b.app().bad, 0);
    assert_eq!(net.a.app().counters().overflows, 0);
    assert_eq!(allocations, 0);
}
