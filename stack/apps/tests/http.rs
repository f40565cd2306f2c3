//! The page server and the load client over the pair driver: hundreds of
//! verified requests over small and multi-segment pages, with and without
//! checksum tables and losses; 404 and 400 answers; request lines split
//! over segments; a client that catches wrong statuses, lengths and bodies.

#[path = "../../tests/support/mod.rs"]
mod support;

mod common;

use common::{config, leak_pages, RawClient, SERVER_IP};
use rusty_apps::http_server::{BAD_REQUEST, NOT_FOUND};
use rusty_apps::{FailReason, HttpClientConfig, HttpLoadClient, HttpServer, Page};
use rusty_stack::stats::DropReason;
use rusty_stack::time::Duration;
use support::{pattern, Net};

type Pages = &'static [Page<'static>];

/// Sizes of the test pages: empty, tiny, around one segment, several
/// segments, more than the initial window.
const SIZES: [usize; 9] = [0, 1, 100, 1460, 1461, 3000, 20_000, 20_001, 70_000];

fn pages(sums: bool) -> Pages {
    leak_pages(
        SIZES
            .iter()
            .enumerate()
            .map(|(i, &n)| pattern(n, i as u32))
            .collect(),
        sums,
    )
}

fn load_net(
    server_pages: Pages,
    client_pages: Pages,
    requests: u64,
    concurrency: usize,
) -> Net<HttpServer<Pages>, HttpLoadClient<Pages>> {
    let client = HttpLoadClient::new(
        HttpClientConfig {
            concurrency,
            max_requests: Some(requests),
            seed: 42,
            ..HttpClientConfig::new(SERVER_IP, 80)
        },
        client_pages,
    );
    let mut net = Net::quiet(HttpServer::new(server_pages), client, config(), config());
    net.a.listen(80, 128).unwrap();
    net
}

fn run_load(net: &mut Net<HttpServer<Pages>, HttpLoadClient<Pages>>) {
    let finished = net.run_until(Duration::from_secs(600), |n| n.b.app().is_finished());
    assert!(finished, "{:?}", net.b.app().counters());
}

fn check_all_ok(net: &Net<HttpServer<Pages>, HttpLoadClient<Pages>>, requests: u64) {
    let c = net.b.app().counters();
    assert_eq!(c.started, requests);
    assert_eq!(c.ok, requests, "{c:?}");
    assert_eq!(c.failed_total(), 0, "{c:?}");
    assert_eq!(c.in_flight(), 0);
    assert_eq!((c.bytes_corrupt, c.extra_bytes, c.resets), (0, 0, 0));
    assert_eq!(c.connected, requests);
    assert_eq!(c.closed, requests);
    assert_eq!(net.b.app().latency().count(), requests);
    let s = net.a.app().counters();
    assert_eq!((s.ok, s.not_found, s.bad_request), (requests, 0, 0));
    assert_eq!((s.send_failed, s.incomplete, s.resets), (0, 0, 0));
    assert_eq!(s.body_bytes, c.bytes_ok);
    assert_eq!(c.body_bytes, c.bytes_ok);
    assert!(c.bytes_ok > 0);
    // Checksums from the prefix-sum tables verified at the receiver.
    assert_eq!(net.b.tcp_counters().drops(DropReason::TcpBadChecksum), 0);
    assert_eq!(net.a.tcp_counters().drops(DropReason::TcpBadChecksum), 0);
}

#[test]
fn two_hundred_verified_requests() {
    let p = pages(true);
    let mut net = load_net(p, p, 200, 10);
    run_load(&mut net);
    check_all_ok(&net, 200);
    assert_eq!(net.a.app().counters().connections, 200);
    assert_eq!(net.a.active_connections(), 0);
    assert_eq!(net.b.active_connections(), 0);
}

#[test]
fn pages_without_checksum_tables() {
    let p = pages(false);
    let mut net = load_net(p, p, 60, 4);
    run_load(&mut net);
    check_all_ok(&net, 60);
}

#[test]
fn concurrency_one_and_many() {
    let p = pages(true);
    for concurrency in [1, 100] {
        let mut net = load_net(p, p, 150, concurrency);
        run_load(&mut net);
        check_all_ok(&net, 150);
    }
}

#[test]
fn verified_through_losses() {
    let p = pages(true);
    let mut net = load_net(p, p, 80, 8);
    net.da.set_loss_filter(|n, _| n % 11 == 5);
    net.db.set_loss_filter(|n, _| n % 13 == 7);
    run_load(&mut net);
    check_all_ok(&net, 80);
    assert!(net.a.tcp_counters().retransmits > 0);
}

#[test]
fn latency_is_measured_in_stack_time() {
    let p = pages(true);
    let mut net = load_net(p, p, 30, 3);
    // Losses make some requests wait for a retransmission timeout (at
    // least 200 ms); the rest complete at once on the instant wire.
    net.da.set_loss_filter(|n, _| n % 17 == 9);
    run_load(&mut net);
    let h = net.b.app().latency();
    assert_eq!(h.count(), 30);
    assert!(h.min().unwrap() <= h.quantile(0.5).unwrap());
    assert!(h.quantile(0.5).unwrap() <= h.quantile(0.99).unwrap());
    assert!(h.quantile(0.99).unwrap() <= h.max().unwrap());
    assert!(h.max().unwrap() >= Duration::from_millis(200), "{h:?}");
    assert!(h.sum() >= h.max().unwrap());
}

#[test]
fn client_catches_missing_pages_wrong_lengths_and_corrupt_bodies() {
    // The server has pages 0..4 of the client's set, page 4 with one byte
    // flipped, page 5 one byte short; pages 6.. are missing (404).
    let client_pages = pages(true);
    let mut bodies: Vec<Vec<u8>> = client_pages[..6].iter().map(|p| p.body.to_vec()).collect();
    bodies[4][700] ^= 0x20;
    bodies[5].pop();
    let server_pages = leak_pages(bodies, true);
    let mut net = load_net(server_pages, client_pages, 120, 6);
    run_load(&mut net);
    let c = *net.b.app().counters();
    let s = *net.a.app().counters();
    assert_eq!(c.ok + c.failed_total(), 120, "{c:?}");
    assert_eq!(
        c.ok,
        s.ok - c.failed.body_mismatch - c.failed.length_mismatch
    );
    assert_eq!(c.failed.bad_status, s.not_found);
    assert!(c.failed.bad_status > 0 && c.failed.body_mismatch > 0 && c.failed.length_mismatch > 0);
    assert_eq!(
        c.bytes_corrupt, c.failed.body_mismatch,
        "one byte per corrupt response"
    );
    for reason in [
        FailReason::Reset,
        FailReason::ClosedEarly,
        FailReason::ConnectFailed,
        FailReason::HandshakeFailed,
        FailReason::BadHeader,
    ] {
        assert_eq!(c.failed.get(reason), 0, "{reason:?}");
    }
}

fn raw_net(jobs: Vec<Vec<&'static [u8]>>) -> Net<HttpServer<Pages>, RawClient> {
    let mut net = Net::quiet(
        HttpServer::new(pages(true)),
        RawClient::new(jobs, false),
        config(),
        config(),
    );
    net.a.listen(80, 128).unwrap();
    assert!(
        net.run_until(Duration::from_secs(60), |n| n.b.app().all_done()
            && n.a.active_connections() == 0)
    );
    net
}

#[test]
fn not_found_and_bad_requests() {
    let long: &'static [u8] = Box::leak(
        format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(300))
            .into_bytes()
            .into_boxed_slice(),
    );
    let cases: [(&'static [u8], &[u8]); 7] = [
        (b"GET /9.htm HTTP/1.1\r\nHost: x\r\n\r\n", NOT_FOUND),
        (b"GET /01.htm HTTP/1.1\r\n\r\n", NOT_FOUND),
        (b"GET /index.html HTTP/1.0\r\n\r\n", NOT_FOUND),
        (
            b"POST /1.htm HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            BAD_REQUEST,
        ),
        (b"GET /1.htm\r\n\r\n", BAD_REQUEST),
        (
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage\n",
            BAD_REQUEST,
        ),
        (long, BAD_REQUEST),
    ];
    let net = raw_net(cases.iter().map(|(r, _)| vec![*r]).collect());
    for (log, (request, response)) in net.b.app().logs.iter().zip(&cases) {
        assert_eq!(
            log.received,
            *response,
            "{:?}",
            String::from_utf8_lossy(request)
        );
        assert!(log.remote_closed && log.closed, "{log:?}");
    }
    let s = net.a.app().counters();
    assert_eq!((s.ok, s.not_found, s.bad_request), (0, 3, 4));
}

#[test]
fn request_line_split_across_segments() {
    let pieces: Vec<&'static [u8]> = vec![
        b"GE",
        b"T /3",
        b".h",
        b"tm HTTP/1.",
        b"1\r",
        b"\nHost: x\r\n",
        b"\r\n",
    ];
    let net = raw_net(vec![pieces]);
    let log = &net.b.app().logs[0];
    let body = pages(false)[3].body;
    let mut expected = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    expected.extend_from_slice(body);
    assert_eq!(log.received, expected);
    assert!(log.closed);
    let s = net.a.app().counters();
    assert_eq!((s.ok, s.body_bytes), (1, body.len() as u64));
    // Each piece went in its own segment.
    assert!(net.b.tcp_counters().segments_out >= 8);
}

#[test]
fn client_closing_before_a_whole_line_is_counted() {
    let mut client = RawClient::new(vec![vec![b"GET /1.htm HT"]], true);
    client.port = 80;
    let mut net = Net::quiet(HttpServer::new(pages(true)), client, config(), config());
    net.a.listen(80, 128).unwrap();
    assert!(
        net.run_until(Duration::from_secs(60), |n| n.b.app().all_done()
            && n.a.active_connections() == 0)
    );
    assert!(net.b.app().logs[0].received.is_empty());
    let s = net.a.app().counters();
    assert_eq!((s.incomplete, s.requests()), (1, 0));
}

#[test]
fn the_stack_checksums_bodies_from_the_tables() {
    // A table built from other bytes of the same length: if the stack uses
    // the writer's sums, every data segment of that page fails its checksum
    // at the client.
    let body = pattern(5000, 1);
    let other = pattern(5000, 2);
    let sums: &'static rusty_stack::prefix_sum::PrefixSums =
        Box::leak(Box::new(rusty_stack::prefix_sum::PrefixSums::new(&other)));
    let lying: Pages = Box::leak(Box::new([Page::with_sums(
        Box::leak(body.clone().into_boxed_slice()),
        sums,
    )]));
    let honest = leak_pages(vec![body], false);
    let mut net = load_net(lying, honest, 1, 1);
    net.run_until(Duration::from_secs(5), |_| false);
    assert_eq!(net.b.app().counters().ok, 0);
    assert!(net.b.tcp_counters().drops(DropReason::TcpBadChecksum) > 0);
}

#[test]
fn unlimited_load_stopped_midway() {
    let p = pages(true);
    let client = HttpLoadClient::new(
        HttpClientConfig {
            concurrency: 12,
            seed: 9,
            ..HttpClientConfig::new(SERVER_IP, 80)
        },
        p,
    );
    let mut net = Net::quiet(HttpServer::new(p), client, config(), config());
    net.a.listen(80, 128).unwrap();
    assert!(net.run_until(Duration::from_secs(60), |n| n.b.app().counters().ok >= 100));
    let c = *net.b.app().counters();
    assert_eq!(c.failed_total(), 0);
    assert_eq!(c.started, c.ok + c.in_flight());
    assert!(c.in_flight() <= 12);
    assert!(!net.b.app().is_finished());
    net.b.app_mut().stop();
    assert!(net.run_until(Duration::from_secs(60), |n| n.b.app().is_finished()));
    let c = *net.b.app().counters();
    assert_eq!((c.in_flight(), c.failed_total()), (0, 0));
    assert_eq!(c.started, c.ok);
}
