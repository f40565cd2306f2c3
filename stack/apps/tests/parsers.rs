//! The applications' incremental parsing, driven through their public `App`
//! handlers with a mock connection: a request or a response cut anywhere
//! (however TCP segments and NIC buffers split it) gives the same outcome
//! as in one piece.

use proptest::prelude::*;

use rusty_apps::http::{RequestLineParser, ResponseHeadParser};
use rusty_apps::{
    FailReason, HttpClientConfig, HttpLoadClient, HttpServer, HttpWriter, Page, RequestWriter,
};
use rusty_stack::mem::cursor::Cursor;
use rusty_stack::tcp::{App, Writer};
use rusty_stack::testing::MockConn;
use rusty_stack::time::Instant;
use rusty_stack::wire::Ipv4Addr;

/// A connection handle that keeps what is sent (the request's time is 5 ms).
fn mock<W>() -> MockConn<W> {
    MockConn {
        now: Instant::from_millis(5),
        ..MockConn::new()
    }
}

fn pages() -> &'static [Page<'static>] {
    static BIG: [u8; 3000] = {
        let mut b = [0u8; 3000];
        let mut i = 0;
        while i < b.len() {
            b[i] = (i * 7 % 251) as u8;
            i += 1;
        }
        b
    };
    static PAGES: [Page<'static>; 3] = [Page::new(b"zero"), Page::new(&BIG), Page::new(b"")];
    &PAGES
}

/// `input` cut at the given points (taken modulo its length).
fn cut(input: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut prev = 0;
    for c in cuts.into_iter().chain([input.len()]) {
        out.push(input[prev..c].to_vec());
        prev = c;
    }
    out
}

/// What the server answers to `pieces`.
fn serve(pieces: &[Vec<u8>]) -> (Vec<u8>, bool) {
    let mut app = HttpServer::new(pages());
    let mut conn = mock::<HttpWriter>();
    let mut c = app.accept(80, &mut conn.conn()).unwrap();
    for p in pieces {
        app.on_data(&mut c, &mut conn.conn(), Cursor::from_slice(p));
    }
    let response = conn.sent.iter().flat_map(|w| w.bytes().to_vec()).collect();
    (response, conn.closed)
}

/// Feeds `pieces` of a response to a client seeded with `seed`; returns its
/// counters and the page it asked for.
fn fetch(seed: u64, pieces: &[Vec<u8>]) -> (rusty_apps::HttpClientCounters, usize) {
    let config = HttpClientConfig {
        seed,
        ..HttpClientConfig::new(Ipv4Addr::new(10, 0, 0, 1), 80)
    };
    let mut app = HttpLoadClient::new(config, pages());
    let mut c = app.next_connect(Instant::ZERO).unwrap().state;
    let mut conn = mock::<RequestWriter>();
    app.on_connected(&mut c, &mut conn.conn());
    for p in pieces {
        app.on_data(&mut c, &mut conn.conn(), Cursor::from_slice(p));
    }
    (*app.counters(), c.page_index())
}

fn response_for(index: usize) -> Vec<u8> {
    let (r, _) = serve(&[format!("GET /{index}.htm HTTP/1.1\r\n\r\n").into_bytes()]);
    r
}

proptest! {
    #[test]
    fn server_answers_the_same_however_the_request_is_cut(
        target in prop_oneof![Just("/0.htm".to_string()), Just("/1.htm".to_string()), "/[0-9a-z.]{0,12}"],
        method in prop_oneof![Just("GET"), Just("POST"), Just("HEAD")],
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let request = format!("{method} {target} HTTP/1.1\r\nHost: test\r\n\r\n").into_bytes();
        let whole = serve(std::slice::from_ref(&request));
        let split = serve(&cut(&request, &cuts));
        prop_assert_eq!(&split, &whole);
        prop_assert!(whole.1, "always closes after answering");
        let status = &whole.0[9..12];
        let expected: &[u8] = match (method, target.as_str()) {
            ("GET", "/0.htm" | "/1.htm" | "/2.htm") => b"200",
            ("GET", _) => b"404",
            _ => b"400",
        };
        prop_assert_eq!(status, expected);
    }

    #[test]
    fn server_never_panics_on_garbage(
        input in proptest::collection::vec(any::<u8>(), 0..600),
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let (response, closed) = serve(&cut(&input, &cuts));
        prop_assert_eq!(response.is_empty(), !closed);
    }

    #[test]
    fn client_verifies_however_the_response_is_cut(
        seed in any::<u64>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
    ) {
        let (_, index) = fetch(seed, &[]);
        let response = response_for(index);
        let (counters, _) = fetch(seed, &cut(&response, &cuts));
        prop_assert_eq!(counters.ok, 1);
        prop_assert_eq!(counters.failed_total(), 0);
        prop_assert_eq!(counters.bytes_ok, pages()[index].body.len() as u64);
    }

    #[test]
    fn client_catches_any_flipped_body_byte(
        seed in any::<u64>(),
        at in any::<usize>(),
        flip in 1u8..,
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
    ) {
        let (_, index) = fetch(seed, &[]);
        let mut response = response_for(index);
        let body_len = pages()[index].body.len();
        prop_assume!(body_len > 0);
        let head_len = response.len() - body_len;
        response[head_len + at % body_len] ^= flip;
        let (counters, _) = fetch(seed, &cut(&response, &cuts));
        prop_assert_eq!(counters.ok, 0);
        prop_assert_eq!(counters.failed.get(FailReason::BodyMismatch), 1);
        prop_assert_eq!(counters.bytes_corrupt, 1);
    }

    #[test]
    fn client_never_counts_a_truncated_response(
        seed in any::<u64>(),
        keep in any::<usize>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
    ) {
        let (_, index) = fetch(seed, &[]);
        let response = response_for(index);
        let truncated = &response[..keep % response.len()];
        let (counters, _) = fetch(seed, &cut(truncated, &cuts));
        prop_assert_eq!(counters.ok, 0);
        prop_assert_eq!(counters.in_flight(), 1);
    }

    #[test]
    fn parsers_consume_the_same_however_cut(
        input in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), Just(b':'), Just(b' '), any::<u8>()], 0..400),
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let mut whole = ResponseHeadParser::new();
        let whole_used = whole.feed(&input);
        let mut split = ResponseHeadParser::new();
        let split_used: usize = cut(&input, &cuts).iter().map(|p| split.feed(p)).sum();
        prop_assert_eq!(split_used, whole_used);
        prop_assert_eq!(split.result(), whole.result());

        let mut whole = RequestLineParser::new();
        let whole_used = whole.feed(&input);
        let mut split = RequestLineParser::new();
        let split_used: usize = cut(&input, &cuts).iter().map(|p| split.feed(p)).sum();
        prop_assert_eq!(split_used, whole_used);
        prop_assert_eq!(split.result(), whole.result());
    }
}

#[test]
fn writers_write_what_they_sum() {
    let request = {
        let config = HttpClientConfig::new(Ipv4Addr::new(10, 0, 0, 1), 80);
        let mut app = HttpLoadClient::new(config, pages());
        let mut c = app.next_connect(Instant::ZERO).unwrap().state;
        let mut conn = mock::<RequestWriter>();
        app.on_connected(&mut c, &mut conn.conn());
        conn.sent.pop().unwrap()
    };
    let bytes = request.0.to_vec();
    for offset in 0..bytes.len() {
        let len = bytes.len() - offset;
        let mut out = vec![0u8; len];
        request.write(
            offset,
            &mut rusty_stack::mem::cursor::CursorMut::from_slice(&mut out),
        );
        assert_eq!(out, &bytes[offset..]);
        assert_eq!(
            request.sum(offset, len),
            Some(rusty_stack::checksum::ones_sum(&out))
        );
    }
}
