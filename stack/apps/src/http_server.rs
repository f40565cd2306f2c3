//! The thesis's minimal web server: one request per connection, only the
//! request line is read.
//!
//! For `GET /N.htm HTTP/1.x` the server looks the target up in the owner's
//! [`Content`] and answers `200 OK` with `Content-Length` and the page, or
//! `404 Not Found`; anything else (another method, a malformed line, a line
//! longer than [`MAX_REQUEST_LINE`]) gets `400 Bad Request`. It closes right
//! after queueing the response, so the FIN rides on the last data segment,
//! and ignores the rest of the request (headers included).
//!
//! The request line may arrive in any number of pieces: each connection
//! keeps the bytes of the line seen so far in a fixed buffer
//! ([`HttpConn`], about 270 bytes, `Copy`).
//!
//! Responses are written by [`HttpWriter`]s: the head is built in an inline
//! buffer, the body is the page itself. With a [`PrefixSums`] table for the
//! page, each segment's payload checksum comes from the table in constant
//! time, so the stack never reads page bytes except to copy them into NIC
//! buffers.
//!
//! ```
//! use rusty_apps::{Content, HttpClientConfig, HttpLoadClient, HttpServer, Page};
//! use rusty_stack::nic::Driver;
//! use rusty_stack::iface::InterfaceConfig;
//! use rusty_stack::nic::pair::{pair, PairConfig};
//! use rusty_stack::prefix_sum::PrefixSums;
//! use rusty_stack::{Stack, TcpConfig};
//! use rusty_stack::time::Duration;
//! use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr};
//!
//! // Two pages, served at /0.htm and /1.htm, with their checksum tables.
//! let bodies: [&'static [u8]; 2] = [b"<html>zero</html>", &*Box::leak(vec![b'x'; 5000].into())];
//! let pages: &'static [Page<'static>] = Box::leak(
//!     bodies.iter().map(|b| Page::with_sums(b, Box::leak(Box::new(PrefixSums::new(b))))).collect(),
//! );
//!
//! let (server_ip, client_ip) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
//! let (mut ds, mut dc) = pair(&PairConfig::default());
//! let now = ds.now();
//! let iface = |ip| InterfaceConfig::new(Ipv4Cidr::new(ip, 24).unwrap());
//! let mut server = Stack::new(&ds.capabilities(), iface(server_ip), TcpConfig::default(), HttpServer::new(pages), now);
//! server.listen(80, 64).unwrap();
//! let config = HttpClientConfig { concurrency: 4, max_requests: Some(20), ..HttpClientConfig::new(server_ip, 80) };
//! let client = HttpLoadClient::new(config, pages);
//! let mut client = Stack::new(&dc.capabilities(), iface(client_ip), TcpConfig::default(), client, now);
//! for _ in 0..1000 {
//!     if client.app().is_finished() {
//!         break;
//!     }
//!     let now = ds.now();
//!     server.poll(&mut ds, now);
//!     client.poll(&mut dc, now);
//!     ds.advance(Duration::from_millis(1));
//! }
//! assert_eq!(client.app().counters().ok, 20);
//! assert_eq!(server.app().counters().ok, 20);
//! ```
//!
//! [`MAX_REQUEST_LINE`]: super::http::MAX_REQUEST_LINE
//! [`PrefixSums`]: rusty_stack::prefix_sum::PrefixSums

use arrayvec::ArrayVec;

use super::http::{decimal, RequestLineParser};
use super::{sum_slice, write_slice, Content, Page};
use rusty_stack::mem::cursor::{Cursor, CursorMut};
use rusty_stack::tcp::{App, Conn, SendError, Writer};

/// Capacity of an inline response head.
pub const HEAD_CAPACITY: usize = 128;

/// The response to a malformed request.
pub const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 12\r\nConnection: close\r\n\r\nBad Request\n";

/// The response to a request for an unknown page.
pub const NOT_FOUND: &[u8] =
    b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nConnection: close\r\n\r\nNot Found\n";

/// The head of a `200` response with a body of `len` bytes.
///
/// ```
/// use rusty_apps::http_server::ok_head;
///
/// assert_eq!(
///     &ok_head(1234)[..],
///     b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nConnection: close\r\n\r\n"
/// );
/// ```
pub fn ok_head(len: u64) -> ArrayVec<u8, HEAD_CAPACITY> {
    let mut head = ArrayVec::new();
    let mut digits = [0u8; 20];
    for part in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: "[..],
        decimal(len, &mut digits),
        b"\r\nConnection: close\r\n\r\n",
    ] {
        // At most 80 bytes in all: always fits.
        let _ = head.try_extend_from_slice(part);
    }
    head
}

/// The writers of the server's responses.
#[derive(Clone, Debug)]
pub enum HttpWriter {
    /// A response head built for this connection (status line and headers).
    Head(ArrayVec<u8, HEAD_CAPACITY>),
    /// A page body; summed from its table when it has one.
    Body(Page<'static>),
    /// A fixed response (errors).
    Static(&'static [u8]),
}

impl HttpWriter {
    /// The bytes this writer writes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            HttpWriter::Head(head) => head,
            HttpWriter::Body(page) => page.body,
            HttpWriter::Static(bytes) => bytes,
        }
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.bytes().len()
    }

    /// No bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Writer for HttpWriter {
    #[inline]
    fn write(&self, offset: usize, out: &mut CursorMut<'_>) {
        write_slice(self.bytes(), offset, out);
    }

    /// Bodies: from the page's prefix-sum table in constant time (`None`
    /// without a table: the stack sums the bytes it wrote). Heads and fixed
    /// responses are small and summed directly.
    #[inline]
    fn sum(&self, offset: usize, len: usize) -> Option<u16> {
        match self {
            HttpWriter::Body(page) => page.sum(offset, len),
            HttpWriter::Head(_) | HttpWriter::Static(_) => sum_slice(self.bytes(), offset, len),
        }
    }

    /// Bodies and fixed responses are static memory, sent by reference
    /// where the NIC can; heads are built per connection and copied.
    #[inline]
    fn static_bytes(&self, offset: usize, len: usize) -> Option<&'static [u8]> {
        let bytes: &'static [u8] = match self {
            HttpWriter::Body(page) => {
                // The server reads nothing of a body it sends by reference
                // but the table entries and edge bytes of its sums: ask
                // for the next segment's now (5-10% at 1 and 1000
                // connections on `rusty-sim bench`; when copying, the copy
                // brings those in and the hint gains nothing).
                page.prefetch_sum(offset + 2 * len);
                page.body
            }
            HttpWriter::Static(bytes) => bytes,
            HttpWriter::Head(_) => return None,
        };
        bytes.get(offset..offset.checked_add(len)?)
    }
}

/// Per-connection state of the server: the request line so far.
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpConn {
    parser: RequestLineParser,
    /// Answered (or given up on): later data is ignored.
    done: bool,
}

/// Counters of an [`HttpServer`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HttpServerCounters {
    /// Connections accepted.
    pub connections: u64,
    /// Requests answered `200 OK`.
    pub ok: u64,
    /// Requests answered `404 Not Found`.
    pub not_found: u64,
    /// Requests answered `400 Bad Request`.
    pub bad_request: u64,
    /// Bytes of page bodies queued (in `200` responses).
    pub body_bytes: u64,
    /// Bytes of response heads and error responses queued.
    pub head_bytes: u64,
    /// Responses that could not be queued (transmit queue too short or
    /// connection already closed); the connection was reset.
    pub send_failed: u64,
    /// Connections that closed or were reset before a whole request line.
    pub incomplete: u64,
    /// Connections closed gracefully.
    pub closed: u64,
    /// Connections reset or timed out.
    pub resets: u64,
}

impl HttpServerCounters {
    /// Requests answered, whatever the status.
    pub fn requests(&self) -> u64 {
        self.ok + self.not_found + self.bad_request
    }
}

/// The minimal page server; see the [module docs](self). Serves on every
/// port the stack listens on.
#[derive(Clone, Debug)]
pub struct HttpServer<C> {
    content: C,
    counters: HttpServerCounters,
}

/// What a request gets.
enum Response {
    Ok(Page<'static>),
    Fixed(&'static [u8]),
}

impl<C: Content> HttpServer<C> {
    /// A server of `content`.
    pub fn new(content: C) -> Self {
        HttpServer {
            content,
            counters: HttpServerCounters::default(),
        }
    }

    /// The pages served.
    pub fn content(&self) -> &C {
        &self.content
    }

    /// The counters.
    pub fn counters(&self) -> &HttpServerCounters {
        &self.counters
    }

    /// Queues `response` and closes; resets if it cannot be queued.
    fn respond(&mut self, conn: &mut Conn<'_, HttpWriter>, response: Response) {
        match self.queue(&mut *conn, response) {
            Ok(()) => conn.close(),
            Err(_) => {
                self.counters.send_failed += 1;
                conn.abort();
            }
        }
    }

    /// Queues the writers of `response`: a head and the page, or a fixed
    /// response.
    fn queue(
        &mut self,
        conn: &mut Conn<'_, HttpWriter>,
        response: Response,
    ) -> Result<(), SendError> {
        match response {
            Response::Ok(page) => {
                let len = page.body.len();
                if conn.send_capacity() < 1 + usize::from(len > 0) {
                    return Err(SendError::QueueFull);
                }
                let head = ok_head(len as u64);
                let head_len = head.len();
                conn.send(head_len, HttpWriter::Head(head))?;
                self.counters.head_bytes += head_len as u64;
                if len > 0 {
                    conn.send(len, HttpWriter::Body(page))?;
                    self.counters.body_bytes += len as u64;
                }
            }
            Response::Fixed(bytes) => {
                conn.send(bytes.len(), HttpWriter::Static(bytes))?;
                self.counters.head_bytes += bytes.len() as u64;
            }
        }
        Ok(())
    }
}

impl<C: Content> App for HttpServer<C> {
    type Conn = HttpConn;
    type Writer = HttpWriter;

    fn accept(&mut self, _port: u16, _conn: &mut Conn<'_, HttpWriter>) -> Option<HttpConn> {
        self.counters.connections += 1;
        Some(HttpConn::default())
    }

    fn on_data(&mut self, c: &mut HttpConn, conn: &mut Conn<'_, HttpWriter>, data: Cursor<'_>) {
        if c.done {
            return;
        }
        c.parser.feed_cursor(data);
        let response = match c.parser.result() {
            None => return,
            Some(Ok(line)) if line.method == b"GET" => match self.content.by_path(line.target) {
                Some(page) => {
                    self.counters.ok += 1;
                    Response::Ok(page)
                }
                None => {
                    self.counters.not_found += 1;
                    Response::Fixed(NOT_FOUND)
                }
            },
            Some(Ok(_) | Err(_)) => {
                self.counters.bad_request += 1;
                Response::Fixed(BAD_REQUEST)
            }
        };
        c.done = true;
        self.respond(conn, response);
    }

    fn on_remote_close(&mut self, c: &mut HttpConn, conn: &mut Conn<'_, HttpWriter>) {
        if !c.done {
            c.done = true;
            self.counters.incomplete += 1;
        }
        conn.close();
    }

    fn on_close(&mut self, _c: HttpConn) {
        self.counters.closed += 1;
    }

    fn on_reset(&mut self, c: HttpConn) {
        if !c.done {
            self.counters.incomplete += 1;
        }
        self.counters.resets += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusty_stack::checksum::ones_sum;
    use rusty_stack::prefix_sum::PrefixSums;

    type Mock = rusty_stack::testing::MockConn<HttpWriter>;

    fn pages() -> &'static [Page<'static>] {
        let big: &'static [u8] = Box::leak((0..20_000u32).map(|i| (i * 7) as u8).collect());
        let sums: &'static PrefixSums = Box::leak(Box::new(PrefixSums::new(big)));
        Box::leak(Box::new([
            Page::new(b"page zero"),
            Page::with_sums(big, sums),
            Page::new(b""),
        ]))
    }

    fn response(mock: &Mock) -> Vec<u8> {
        mock.sent.iter().flat_map(|w| w.bytes().to_vec()).collect()
    }

    fn serve(requests: &[&[u8]]) -> (HttpServer<&'static [Page<'static>]>, Mock) {
        let mut app = HttpServer::new(pages());
        let mut mock = Mock {
            capacity: 8,
            ..Mock::default()
        };
        let mut c = app.accept(80, &mut mock.conn()).unwrap();
        for r in requests {
            app.on_data(&mut c, &mut mock.conn(), Cursor::from_slice(r));
        }
        (app, mock)
    }

    #[test]
    fn serves_a_page_and_closes() {
        let (app, mock) = serve(&[b"GET /0.htm HTTP/1.1\r\nHost: x\r\n\r\n"]);
        assert_eq!(
            response(&mock),
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\npage zero"
        );
        assert!(mock.closed);
        assert_eq!(app.counters().ok, 1);
        assert_eq!(app.counters().body_bytes, 9);
    }

    #[test]
    fn request_line_in_pieces() {
        let (app, mock) = serve(&[b"GE", b"T /1.h", b"tm HTTP/1.0\r", b"\nHost: x\r\n\r\n"]);
        assert_eq!(mock.sent.len(), 2);
        assert!(response(&mock).starts_with(b"HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n"));
        assert_eq!(app.counters().ok, 1);
        // Partial line: nothing yet.
        let (app, mock) = serve(&[b"GET /1.htm HTTP/1.1"]);
        assert!(mock.sent.is_empty() && !mock.closed);
        assert_eq!(app.counters().requests(), 0);
    }

    #[test]
    fn errors() {
        for (request, status, expected) in [
            (&b"GET /9.htm HTTP/1.1\r\n\r\n"[..], "404", NOT_FOUND),
            (b"GET /00.htm HTTP/1.1\r\n\r\n", "404", NOT_FOUND),
            (b"POST /0.htm HTTP/1.1\r\n\r\n", "400", BAD_REQUEST),
            (b"GET /0.htm\r\n\r\n", "400", BAD_REQUEST),
            (b"\x00\x01\x02garbage\n", "400", BAD_REQUEST),
            (&[b'a'; 300], "400", BAD_REQUEST),
        ] {
            let (app, mock) = serve(&[request]);
            assert_eq!(response(&mock), expected, "{status}");
            assert!(mock.closed);
            let c = app.counters();
            assert_eq!(
                (c.not_found, c.bad_request),
                if status == "404" { (1, 0) } else { (0, 1) }
            );
        }
    }

    #[test]
    fn empty_page_sends_head_only() {
        let (app, mock) = serve(&[b"GET /2.htm HTTP/1.1\r\n\r\n"]);
        assert_eq!(mock.sent.len(), 1);
        assert!(response(&mock).ends_with(b"Content-Length: 0\r\nConnection: close\r\n\r\n"));
        assert_eq!(app.counters().ok, 1);
    }

    #[test]
    fn later_data_is_ignored() {
        let (app, mock) = serve(&[b"GET /0.htm HTTP/1.1\r\n", b"GET /0.htm HTTP/1.1\r\n"]);
        assert_eq!(mock.sent.len(), 2);
        assert_eq!(app.counters().ok, 1);
    }

    #[test]
    fn short_queue_resets() {
        let mut app = HttpServer::new(pages());
        let mut mock = Mock {
            capacity: 1,
            ..Mock::default()
        };
        let mut c = app.accept(80, &mut mock.conn()).unwrap();
        app.on_data(
            &mut c,
            &mut mock.conn(),
            Cursor::from_slice(b"GET /1.htm HTTP/1.1\r\n"),
        );
        assert!(mock.aborted && mock.sent.is_empty());
        assert_eq!(app.counters().send_failed, 1);
    }

    #[test]
    fn remote_close_before_a_line() {
        let mut app = HttpServer::new(pages());
        let mut mock = Mock::default();
        let mut c = app.accept(80, &mut mock.conn()).unwrap();
        app.on_data(&mut c, &mut mock.conn(), Cursor::from_slice(b"GET /1"));
        app.on_remote_close(&mut c, &mut mock.conn());
        assert!(mock.closed);
        app.on_close(c);
        assert_eq!(app.counters().incomplete, 1);
        assert_eq!(app.counters().closed, 1);
    }

    #[test]
    fn writer_sums() {
        let p = pages()[1];
        let body = HttpWriter::Body(p);
        for (offset, len) in [(0, 1460), (1, 1459), (18_000, 2000), (19_999, 1)] {
            let norm = |s: u16| if s == 0xffff { 0 } else { s };
            assert_eq!(
                body.sum(offset, len).map(norm),
                Some(norm(ones_sum(&p.body[offset..offset + len])))
            );
        }
        assert_eq!(body.sum(19_999, 2), None);
        assert_eq!(HttpWriter::Body(Page::new(b"abc")).sum(0, 3), None);
        let head = HttpWriter::Head(ok_head(5));
        assert_eq!(head.sum(1, 10), Some(ones_sum(&head.bytes()[1..11])));
        let fixed = HttpWriter::Static(NOT_FOUND);
        assert_eq!(fixed.sum(3, 4), Some(ones_sum(&NOT_FOUND[3..7])));
        let mut out = vec![0u8; 7];
        fixed.write(9, &mut CursorMut::from_slice(&mut out));
        assert_eq!(out, &NOT_FOUND[9..16]);
    }

    #[test]
    fn content_lengths_match() {
        for (fixed, body) in [
            (NOT_FOUND, &b"Not Found\n"[..]),
            (BAD_REQUEST, b"Bad Request\n"),
        ] {
            let text = core::str::from_utf8(fixed).unwrap();
            assert!(text.ends_with(core::str::from_utf8(body).unwrap()));
            assert!(text.contains(&format!("Content-Length: {}\r\n", body.len())));
        }
        assert!(ok_head(u64::MAX).len() <= HEAD_CAPACITY);
    }
}
