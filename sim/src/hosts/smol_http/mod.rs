//! HTTP/1.1 on smoltcp sockets, written independently of Rusty's apps, to
//! check them against another TCP stack:
//!
//! * [`SmolHttpClient`] — fetches a list of pages, one request per
//!   connection, a number of sockets at once, and verifies status line,
//!   `Content-Length` and every body byte against the expected [`Content`];
//! * [`SmolHttpServer`] — a pool of listening sockets answering
//!   `GET /N.htm` with the page from a [`Content`] and closing;
//! * [`parse_response_head`] and [`HeadReader`] — the response-head parser
//!   both use, whole or fed piece by piece; the simulator's smoltcp load
//!   client ([`crate::hosts::smoltcp`]) parses with them too.
//!
//! The client and server are driven from a
//! [`InteropNet`](crate::hosts::interop::InteropNet) run condition: call `step` with the
//! [`SmolPeer`](crate::hosts::smol_peer::SmolPeer) after the hosts settle at each
//! instant. Their parsing is their own (nothing from
//! `rusty_apps::http`), so a bug shared by Rusty's client and server
//! cannot hide.
//!
//! [`Content`]: rusty_apps::Content

mod client;
mod server;

pub use client::{SmolClientCounters, SmolHttpClient};
pub use server::{SmolHttpServer, SmolServerCounters};

/// Longest response head (or request line) accepted.
pub const MAX_HEAD: usize = 1024;

/// The first index of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A parsed response head: status code and `Content-Length`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SmolResponseHead {
    /// The status code.
    pub status: u16,
    /// `Content-Length`, if present.
    pub content_length: Option<u64>,
}

/// Why a response head was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadFault {
    /// The status line is not `HTTP/1.x SSS reason`.
    BadStatusLine(&'static str),
    /// A header is malformed, or `Content-Length` is bad or repeated.
    BadHeader(&'static str),
    /// No blank line within [`MAX_HEAD`] bytes.
    TooLong,
}

/// Parses a response head (status line and headers, without the blank
/// line): `HTTP/1.x SSS reason`, then `name: value` lines; the
/// `Content-Length` name is matched case-insensitively.
pub fn parse_response_head(head: &[u8]) -> Result<SmolResponseHead, HeadFault> {
    use HeadFault::{BadHeader, BadStatusLine};
    let text = core::str::from_utf8(head).map_err(|_| BadHeader("head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().ok_or(BadStatusLine("no status line"))?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") || version.len() != 8 {
        return Err(BadStatusLine("bad HTTP version"));
    }
    let code = parts.next().ok_or(BadStatusLine("no status code"))?;
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadStatusLine("bad status code"));
    }
    let status = code.parse().map_err(|_| BadStatusLine("bad status code"))?;
    let mut content_length = None;
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or(BadHeader("header without a colon"))?;
        if name.eq_ignore_ascii_case("content-length") {
            if content_length.is_some() {
                return Err(BadHeader("two Content-Length headers"));
            }
            let value = value.trim();
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(BadHeader("bad Content-Length"));
            }
            content_length = Some(value.parse().map_err(|_| BadHeader("bad Content-Length"))?);
        }
    }
    Ok(SmolResponseHead {
        status,
        content_length,
    })
}

/// A response head read piece by piece: it buffers bytes up to the blank
/// line (at most [`MAX_HEAD`] before it), then parses them with
/// [`parse_response_head`].
#[derive(Clone, Debug, Default)]
pub struct HeadReader {
    buf: Vec<u8>,
    result: Option<Result<SmolResponseHead, HeadFault>>,
}

impl HeadReader {
    /// A reader at the start of a response.
    pub fn new() -> Self {
        HeadReader::default()
    }

    /// Feeds the next bytes of the response; returns how many belong to
    /// the head (the body starts there). Takes nothing once the head is
    /// complete or refused.
    pub fn feed(&mut self, input: &[u8]) -> usize {
        if self.result.is_some() {
            return 0;
        }
        let start = self.buf.len().saturating_sub(3);
        let before = self.buf.len();
        // Room for the longest head and its blank line, no more.
        let take = input.len().min(MAX_HEAD + 4 - before.min(MAX_HEAD + 4));
        self.buf.extend_from_slice(&input[..take]);
        match find(&self.buf[start..], b"\r\n\r\n").map(|p| p + start) {
            Some(end) if end <= MAX_HEAD => {
                self.result = Some(parse_response_head(&self.buf[..end]));
                end + 4 - before
            }
            Some(_) => {
                self.result = Some(Err(HeadFault::TooLong));
                take
            }
            None if self.buf.len() > MAX_HEAD => {
                self.result = Some(Err(HeadFault::TooLong));
                take
            }
            None => take,
        }
    }

    /// The head, once complete (or why it was refused); `None` while more
    /// bytes are needed.
    pub fn result(&self) -> Option<Result<SmolResponseHead, HeadFault>> {
        self.result
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
            Ok(SmolResponseHead {
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

    #[test]
    fn head_reader_takes_the_head_piece_by_piece() {
        let whole = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        for split in 0..whole.len() {
            let mut reader = HeadReader::new();
            let used = reader.feed(&whole[..split]);
            let used = used + reader.feed(&whole[used..]);
            assert_eq!(used, whole.len() - 5, "split at {split}");
            let head = reader.result().expect("complete").expect("valid");
            assert_eq!((head.status, head.content_length), (200, Some(5)));
            assert_eq!(reader.feed(b"more"), 0);
        }
        let mut reader = HeadReader::new();
        assert_eq!(reader.feed(b"HTTP/1.1 2"), 10);
        assert_eq!(reader.result(), None);
        reader.feed(b"00 OK\r\nno colon\r\n\r\n");
        assert!(matches!(
            reader.result(),
            Some(Err(HeadFault::BadHeader(_)))
        ));
        let mut reader = HeadReader::new();
        reader.feed(b"HTTP/2 200 OK\r\n\r\n");
        assert!(matches!(
            reader.result(),
            Some(Err(HeadFault::BadStatusLine(_)))
        ));
        let mut reader = HeadReader::new();
        reader.feed(&[b'a'; 3 * MAX_HEAD]);
        assert_eq!(reader.result(), Some(Err(HeadFault::TooLong)));
    }
}
