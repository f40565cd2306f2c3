//! The page server over loopback: pages byte for byte, keep-alive and
//! pipelining, `Connection: close`, and bad requests answered with an error
//! status without harming the server.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpStream};
use std::time::Duration;

use rusty_apps::http_server::{ok_head, BAD_REQUEST, NOT_FOUND};
use rusty_linux_bench::server::{Running, Server, ServerConfig};

fn start() -> Running {
    let config = ServerConfig {
        addr: Ipv4Addr::LOCALHOST,
        port: 0,
        workers: 2,
        ..ServerConfig::default()
    };
    let server = Server::bind(&config).expect("bind");
    assert_ne!(server.local_addr().port(), 0);
    server.spawn().expect("spawn")
}

fn connect(server: &Running) -> TcpStream {
    let stream = TcpStream::connect(server.local_addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// Sends `request` and reads until the server closes.
fn exchange(server: &Running, request: &[u8]) -> Vec<u8> {
    let mut stream = connect(server);
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .expect("read to the server's close");
    response
}

/// The exact bytes Rusty's server sends for page `index`.
fn expected(index: usize) -> Vec<u8> {
    let page = rusty_fixtures::page_set().get(index).unwrap();
    let mut bytes = ok_head(page.body.len() as u64).to_vec();
    bytes.extend_from_slice(page.body);
    bytes
}

fn status(response: &[u8]) -> &str {
    let end = response.iter().position(|&b| b == b'\r').unwrap_or(0);
    std::str::from_utf8(&response[..end]).unwrap()
}

#[test]
fn pages_byte_for_byte_with_connection_close() {
    let server = start();
    let set = rusty_fixtures::page_set();
    let largest = (0..set.pages().len())
        .max_by_key(|&i| set.get(i).unwrap().body.len())
        .unwrap();
    for index in [0, 1, 42, 499, largest] {
        let request =
            format!("GET /{index}.htm HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        let response = exchange(&server, request.as_bytes());
        assert_eq!(status(&response), "HTTP/1.1 200 OK");
        assert!(response == expected(index), "page {index} differs");
    }
    // HTTP/1.0 closes without being asked to.
    let response = exchange(&server, b"GET /7.htm HTTP/1.0\r\n\r\n");
    assert!(response == expected(7));
    let counters = server.stop().unwrap();
    assert_eq!(counters.ok, 6);
    assert_eq!((counters.not_found, counters.bad_request), (0, 0));
}

#[test]
fn keep_alive_and_pipelining() {
    let server = start();
    let mut stream = connect(&server);
    let set = rusty_fixtures::page_set();
    // Two pipelined requests in one write, the second one split.
    stream
        .write_all(b"GET /3.htm HTTP/1.1\r\nHost: t\r\n\r\nGET /4.h")
        .unwrap();
    std::thread::sleep(Duration::from_millis(20));
    stream
        .write_all(b"tm HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let body3 = &set.get(3).unwrap().body;
    let head3 = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body3.len());
    let mut want = head3.into_bytes();
    want.extend_from_slice(body3);
    want.extend_from_slice(&expected(4));
    assert!(response == want, "pipelined responses differ");
    assert_eq!(server.stop().unwrap().ok, 2);
}

#[test]
fn bad_requests_get_error_statuses() {
    let server = start();
    let mut long = b"GET /1.htm HTTP/1.1\r\n".to_vec();
    while long.len() < 10_000 {
        long.extend_from_slice(b"X-Filler: 0123456789abcdef\r\n");
    }
    long.extend_from_slice(b"\r\n");
    let cases: [(&[u8], &[u8]); 7] = [
        (b"GET /nope.htm HTTP/1.1\r\n\r\n", NOT_FOUND),
        (b"GET /500.htm HTTP/1.1\r\n\r\n", NOT_FOUND),
        (b"GARBAGE\r\n\r\n", BAD_REQUEST),
        (
            b"POST /1.htm HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            BAD_REQUEST,
        ),
        (b"GET /1.htm HTTP/9.9\r\n\r\n", BAD_REQUEST),
        (b"\x00\xff\xfe binary \x01\r\n\r\n", BAD_REQUEST),
        (&long, BAD_REQUEST),
    ];
    for (request, response) in cases {
        assert_eq!(
            exchange(&server, request),
            response,
            "{:?}",
            String::from_utf8_lossy(&request[..request.len().min(40)])
        );
    }
    // Clients that vanish mid-request or mid-response do no harm.
    drop(connect(&server));
    let mut half = connect(&server);
    half.write_all(b"GET /1.h").unwrap();
    half.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    half.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    let mut gone = connect(&server);
    gone.write_all(b"GET /0.htm HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    drop(gone);
    // Still serving.
    let page12 = exchange(
        &server,
        b"GET /12.htm HTTP/1.1\r\nConnection: close\r\n\r\n",
    );
    assert!(page12 == expected(12));
    let counters = server.stop().unwrap();
    assert_eq!(counters.not_found, 2);
    assert_eq!(counters.bad_request, 5);
}
