//! Incremental HTTP/1.x parsing for the page server and the load client.
//!
//! Data reaches an application in pieces cut anywhere (segment boundaries,
//! buffer boundaries), so both parsers are fed bytes piece by piece and keep
//! only a small fixed buffer: the current line. Nothing is allocated.
//!
//! * [`RequestLineParser`] reads the request line (`GET /1.htm HTTP/1.1`)
//!   and nothing else, as the thesis server does;
//! * [`ResponseHeadParser`] reads a response's status line and headers up to
//!   the empty line, keeping the status code and `Content-Length`.
//!
//! Both tell how many bytes of each piece they consumed, so the bytes after
//! the line or the head (the rest of the request, the body) can be handed on.
//!
//! ```
//! use rusty_apps::http::{RequestLineParser, RequestError};
//!
//! let mut parser = RequestLineParser::new();
//! assert_eq!(parser.feed(b"GET /4.h"), 8);
//! assert!(parser.result().is_none()); // not a whole line yet
//! assert_eq!(parser.feed(b"tm HTTP/1.1\r\nHost: x\r\n\r\n"), 13);
//! let line = parser.result().unwrap().unwrap();
//! assert_eq!((line.method, line.target, line.minor), (&b"GET"[..], &b"/4.htm"[..], 1));
//!
//! let mut parser = RequestLineParser::new();
//! parser.feed(b"GET /4.htm\r\n");
//! assert_eq!(parser.result(), Some(Err(RequestError::Malformed)));
//! ```

use core::fmt;

use rusty_stack::mem::cursor::Cursor;

/// Longest request line [`RequestLineParser`] accepts, in bytes before the
/// line feed (a carriage return included).
pub const MAX_REQUEST_LINE: usize = 256;

/// Longest response head line [`ResponseHeadParser`] keeps. Longer header
/// lines are skipped, unless they are the status line or `Content-Length`.
pub const MAX_HEAD_LINE: usize = 128;

/// Longest response head [`ResponseHeadParser`] reads (all lines, line
/// ends included) before giving up.
pub const MAX_HEAD: usize = 8192;

/// One line being accumulated in a fixed buffer of `N` bytes.
///
/// Bytes past the first `N` of a line are dropped and the line is marked as
/// overflowed; its first `N` bytes stay readable through
/// [`LineBuf::prefix`].
#[derive(Clone, Copy)]
pub struct LineBuf<const N: usize> {
    bytes: [u8; N],
    len: usize,
    overflowed: bool,
}

impl<const N: usize> LineBuf<N> {
    /// An empty line.
    pub const fn new() -> Self {
        LineBuf {
            bytes: [0; N],
            len: 0,
            overflowed: false,
        }
    }

    /// Feeds `input` up to and including the first line feed. Returns the
    /// bytes consumed and whether the line is complete (a line feed was
    /// consumed); the line feed itself is not stored.
    ///
    /// When the line outgrows the buffer, the call that finds out consumes
    /// one byte past the `N` stored ones and stops there, so a caller that
    /// refuses long lines consumes exactly as much however the input is
    /// split. Later calls skip the rest of the line, up to its line feed.
    #[inline]
    pub fn feed(&mut self, input: &[u8]) -> (usize, bool) {
        let lf = |bytes: &[u8]| bytes.iter().position(|&b| b == b'\n');
        if self.overflowed {
            return match lf(input) {
                Some(i) => (i + 1, true),
                None => (input.len(), false),
            };
        }
        let room = N - self.len;
        let window = &input[..input.len().min(room + 1)];
        if let Some(i) = lf(window) {
            self.append(&window[..i]);
            return (i + 1, true);
        }
        if input.len() > room {
            self.append(&input[..room]);
            self.overflowed = true;
            return (room + 1, false);
        }
        self.append(input);
        (input.len(), false)
    }

    fn append(&mut self, bytes: &[u8]) {
        self.bytes[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// The line, without a trailing carriage return; `None` if it was longer
    /// than `N` bytes.
    pub fn line(&self) -> Option<&[u8]> {
        if self.overflowed {
            return None;
        }
        let line = &self.bytes[..self.len];
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }

    /// The bytes stored so far (the first `N` of an overflowed line).
    pub fn prefix(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Bytes stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Nothing stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The line was longer than `N` bytes.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Forgets the line.
    pub fn clear(&mut self) {
        self.len = 0;
        self.overflowed = false;
    }
}

impl<const N: usize> Default for LineBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Debug for LineBuf<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LineBuf")
            .field("line", &String::from_utf8_lossy(self.prefix()))
            .field("overflowed", &self.overflowed)
            .finish()
    }
}

/// Why a request line was refused (the server answers `400`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestError {
    /// Longer than [`MAX_REQUEST_LINE`] bytes.
    TooLong,
    /// Not `METHOD SP target SP HTTP/1.x`.
    Malformed,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RequestError::TooLong => "request line too long",
            RequestError::Malformed => "malformed request line",
        })
    }
}

impl std::error::Error for RequestError {}

/// A parsed request line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestLine<'a> {
    /// The method (a token, such as `GET`).
    pub method: &'a [u8],
    /// The request target (starts with `/`).
    pub target: &'a [u8],
    /// `x` of `HTTP/1.x`.
    pub minor: u8,
}

/// `tchar` of RFC 9110: visible ASCII except delimiters.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parses `METHOD SP target SP HTTP/1.x` (no line end), strictly: single
/// spaces, a token method, an origin-form target of visible ASCII.
///
/// ```
/// use rusty_apps::http::{parse_request_line, RequestError};
///
/// let line = parse_request_line(b"GET /3.htm HTTP/1.0").unwrap();
/// assert_eq!((line.target, line.minor), (&b"/3.htm"[..], 0));
/// assert_eq!(parse_request_line(b"GET  /3.htm HTTP/1.0"), Err(RequestError::Malformed));
/// assert_eq!(parse_request_line(b"GET /3.htm HTTP/2.0"), Err(RequestError::Malformed));
/// ```
pub fn parse_request_line(line: &[u8]) -> Result<RequestLine<'_>, RequestError> {
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(RequestError::Malformed);
    };
    if method.is_empty() || !method.iter().copied().all(is_token_byte) {
        return Err(RequestError::Malformed);
    }
    if target.first() != Some(&b'/') || !target.iter().all(u8::is_ascii_graphic) {
        return Err(RequestError::Malformed);
    }
    let minor = match version {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', d] if d.is_ascii_digit() => d - b'0',
        _ => return Err(RequestError::Malformed),
    };
    Ok(RequestLine {
        method,
        target,
        minor,
    })
}

/// Where a [`RequestLineParser`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReqState {
    /// Skipping empty lines before the request line (RFC 9112 §2.2).
    Start,
    /// Inside the request line.
    Line,
    /// The line is complete (or too long); the rest is not read.
    Done,
}

/// Reads a request line fed in pieces, in a fixed buffer of
/// [`MAX_REQUEST_LINE`] bytes. Empty lines before it are skipped. Once the
/// line is complete, or known to be too long, it consumes nothing more.
#[derive(Clone, Copy, Debug)]
pub struct RequestLineParser {
    line: LineBuf<MAX_REQUEST_LINE>,
    state: ReqState,
}

impl RequestLineParser {
    /// A parser at the start of a request.
    pub const fn new() -> Self {
        RequestLineParser {
            line: LineBuf::new(),
            state: ReqState::Start,
        }
    }

    /// Feeds the next bytes of the request; returns how many were consumed
    /// (all of them until the line ends, then none).
    pub fn feed(&mut self, input: &[u8]) -> usize {
        let mut used = 0;
        if self.state == ReqState::Start {
            used = input
                .iter()
                .position(|&b| b != b'\r' && b != b'\n')
                .unwrap_or(input.len());
            if used == input.len() {
                return used;
            }
            self.state = ReqState::Line;
        }
        if self.state == ReqState::Line {
            let (n, complete) = self.line.feed(&input[used..]);
            used += n;
            if complete || self.line.overflowed() {
                self.state = ReqState::Done;
            }
        }
        used
    }

    /// Feeds every piece of `data` until the line is complete; returns how
    /// many bytes were consumed.
    pub fn feed_cursor(&mut self, data: Cursor<'_>) -> usize {
        let mut used = 0;
        for piece in data.segments() {
            if self.is_done() {
                break;
            }
            used += self.feed(piece);
        }
        used
    }

    /// The line is complete (or too long).
    pub fn is_done(&self) -> bool {
        self.state == ReqState::Done
    }

    /// The parsed line once complete; `None` before.
    pub fn result(&self) -> Option<Result<RequestLine<'_>, RequestError>> {
        if self.state != ReqState::Done {
            return None;
        }
        Some(match self.line.line() {
            Some(line) => parse_request_line(line),
            None => Err(RequestError::TooLong),
        })
    }
}

impl Default for RequestLineParser {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a response head was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeadError {
    /// The status line is not `HTTP/1.x SP 3DIGIT [SP reason]`.
    BadStatusLine,
    /// A header line is malformed, or `Content-Length` is invalid or given
    /// twice with different values.
    BadHeader,
    /// The head is longer than [`MAX_HEAD`] bytes.
    TooLong,
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeadError::BadStatusLine => "malformed status line",
            HeadError::BadHeader => "malformed header",
            HeadError::TooLong => "response head too long",
        })
    }
}

impl std::error::Error for HeadError {}

/// What a response head says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// `x` of `HTTP/1.x`.
    pub minor: u8,
    /// The status code.
    pub status: u16,
    /// The `Content-Length` header, if present.
    pub content_length: Option<u64>,
}

/// Parses a status line `HTTP/1.x SP 3DIGIT [SP reason]` (no line end);
/// returns `(minor, status)`.
///
/// ```
/// use rusty_apps::http::parse_status_line;
///
/// assert_eq!(parse_status_line(b"HTTP/1.1 200 OK"), Some((1, 200)));
/// assert_eq!(parse_status_line(b"HTTP/1.0 404"), Some((0, 404)));
/// assert_eq!(parse_status_line(b"HTTP/1.1 20 OK"), None);
/// ```
pub fn parse_status_line(line: &[u8]) -> Option<(u8, u16)> {
    let (minor, rest) = match line {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', d, b' ', rest @ ..] if d.is_ascii_digit() => {
            (d - b'0', rest)
        }
        _ => return None,
    };
    let (code, reason) = match rest {
        [a, b, c] => ([*a, *b, *c], &[][..]),
        [a, b, c, b' ', reason @ ..] => ([*a, *b, *c], reason),
        _ => return None,
    };
    if !code.iter().all(u8::is_ascii_digit) || code[0] == b'0' {
        return None;
    }
    // reason-phrase: HTAB, SP, VCHAR, obs-text.
    if reason
        .iter()
        .any(|&b| b != b'\t' && (b < 0x20 || b == 0x7f))
    {
        return None;
    }
    let status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    Some((minor, status))
}

/// Parses a `Content-Length` value: decimal digits, at most `u64::MAX`.
fn parse_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    value.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Where a [`ResponseHeadParser`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HeadState {
    StatusLine,
    Headers,
    Done,
    Failed(HeadError),
}

/// Reads a response head (status line and headers, up to the empty line)
/// fed in pieces, one line at a time in a buffer of [`MAX_HEAD_LINE`]
/// bytes. Keeps the status code and `Content-Length`; other headers are
/// checked for a name and a colon, then forgotten. Once the head is complete
/// or refused it consumes nothing more: what follows is the body.
///
/// ```
/// use rusty_apps::http::ResponseHeadParser;
///
/// let response = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
/// let mut parser = ResponseHeadParser::new();
/// let used = parser.feed(&response[..20]) + parser.feed(&response[20..]);
/// assert_eq!(&response[used..], b"hello");
/// let head = parser.result().unwrap().unwrap();
/// assert_eq!((head.status, head.content_length), (200, Some(5)));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ResponseHeadParser {
    line: LineBuf<MAX_HEAD_LINE>,
    state: HeadState,
    minor: u8,
    status: u16,
    content_length: Option<u64>,
    head_bytes: usize,
}

impl ResponseHeadParser {
    /// A parser at the start of a response.
    pub const fn new() -> Self {
        ResponseHeadParser {
            line: LineBuf::new(),
            state: HeadState::StatusLine,
            minor: 0,
            status: 0,
            content_length: None,
            head_bytes: 0,
        }
    }

    /// Feeds the next bytes of the response; returns how many were consumed
    /// (none once the head is complete or refused).
    pub fn feed(&mut self, input: &[u8]) -> usize {
        let mut used = 0;
        while used < input.len() && !self.is_done() {
            let budget = MAX_HEAD - self.head_bytes;
            if budget == 0 {
                self.state = HeadState::Failed(HeadError::TooLong);
                break;
            }
            let rest = &input[used..];
            let (n, complete) = self.line.feed(&rest[..rest.len().min(budget)]);
            used += n;
            self.head_bytes += n;
            if complete {
                self.end_line();
                self.line.clear();
            }
        }
        used
    }

    /// Feeds every piece of `data` until the head is complete; returns how
    /// many bytes were consumed (the body starts there).
    pub fn feed_cursor(&mut self, data: Cursor<'_>) -> usize {
        let mut used = 0;
        for piece in data.segments() {
            if self.is_done() {
                break;
            }
            used += self.feed(piece);
        }
        used
    }

    /// A line ended: interpret it.
    fn end_line(&mut self) {
        match self.state {
            HeadState::StatusLine => match self.line.line().and_then(parse_status_line) {
                Some((minor, status)) => {
                    self.minor = minor;
                    self.status = status;
                    self.state = HeadState::Headers;
                }
                None => self.state = HeadState::Failed(HeadError::BadStatusLine),
            },
            HeadState::Headers => {
                if let Err(e) = self.header() {
                    self.state = HeadState::Failed(e);
                }
            }
            HeadState::Done | HeadState::Failed(_) => {}
        }
    }

    /// A header line (or the empty line ending the head).
    fn header(&mut self) -> Result<(), HeadError> {
        const NAME: &[u8] = b"content-length";
        let Some(line) = self.line.line() else {
            // Too long to keep: harmless unless it is the one we need.
            let prefix = self.line.prefix();
            let is_length =
                prefix.len() >= NAME.len() && prefix[..NAME.len()].eq_ignore_ascii_case(NAME);
            return if is_length {
                Err(HeadError::BadHeader)
            } else {
                Ok(())
            };
        };
        if line.is_empty() {
            self.state = HeadState::Done;
            return Ok(());
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(HeadError::BadHeader)?;
        let name = &line[..colon];
        if name.is_empty() || !name.iter().copied().all(is_token_byte) {
            return Err(HeadError::BadHeader);
        }
        if name.eq_ignore_ascii_case(NAME) {
            let value = line[colon + 1..].trim_ascii();
            let length = parse_length(value).ok_or(HeadError::BadHeader)?;
            if self.content_length.is_some_and(|l| l != length) {
                return Err(HeadError::BadHeader);
            }
            self.content_length = Some(length);
        }
        Ok(())
    }

    /// The head is complete or refused.
    pub fn is_done(&self) -> bool {
        matches!(self.state, HeadState::Done | HeadState::Failed(_))
    }

    /// The head once complete, or why it was refused; `None` before.
    pub fn result(&self) -> Option<Result<ResponseHead, HeadError>> {
        match self.state {
            HeadState::Done => Some(Ok(ResponseHead {
                minor: self.minor,
                status: self.status,
                content_length: self.content_length,
            })),
            HeadState::Failed(e) => Some(Err(e)),
            HeadState::StatusLine | HeadState::Headers => None,
        }
    }

    /// Bytes of the head consumed so far.
    pub fn head_bytes(&self) -> usize {
        self.head_bytes
    }
}

impl Default for ResponseHeadParser {
    fn default() -> Self {
        Self::new()
    }
}

/// Writes `n` in decimal into `buf`; returns the digits.
pub(crate) fn decimal(n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `(method, target, minor)` of a parsed line, owned.
    type Owned = Option<Result<(Vec<u8>, Vec<u8>, u8), RequestError>>;

    fn parse_whole(input: &[u8]) -> (usize, Owned) {
        let mut p = RequestLineParser::new();
        let used = p.feed(input);
        (
            used,
            p.result()
                .map(|r| r.map(|l| (l.method.to_vec(), l.target.to_vec(), l.minor))),
        )
    }

    #[test]
    fn request_lines() {
        let (used, r) = parse_whole(b"GET /1.htm HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(used, 21);
        assert_eq!(r, Some(Ok((b"GET".to_vec(), b"/1.htm".to_vec(), 1))));
        // Bare LF, leading empty lines.
        let (used, r) = parse_whole(b"\r\n\nPOST /x HTTP/1.0\nrest");
        assert_eq!(used, 20);
        assert_eq!(r, Some(Ok((b"POST".to_vec(), b"/x".to_vec(), 0))));
        for bad in [
            &b"GET /1.htm\r\n"[..],
            b"GET /1.htm HTTP/1.1 \r\n",
            b"GET  /1.htm HTTP/1.1\r\n",
            b" GET /1.htm HTTP/1.1\r\n",
            b"GET 1.htm HTTP/1.1\r\n",
            b"GET /1.htm HTTP/1.x\r\n",
            b"GET /1.htm HTTP/1.10\r\n",
            b"GET /1.htm http/1.1\r\n",
            b"GE(T /1.htm HTTP/1.1\r\n",
            b"GET /1\x01.htm HTTP/1.1\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n",
        ] {
            assert_eq!(
                parse_whole(bad).1,
                Some(Err(RequestError::Malformed)),
                "{bad:?}"
            );
        }
        // Incomplete.
        assert_eq!(parse_whole(b"GET /1.htm HTTP/1.1\r").1, None);
        assert_eq!(parse_whole(b"\r\n\r\n").1, None);
    }

    #[test]
    fn request_line_length_limit() {
        let mut line = b"GET /".to_vec();
        line.resize(MAX_REQUEST_LINE - 10, b'a');
        line.extend_from_slice(b" HTTP/1.1");
        assert_eq!(line.len(), MAX_REQUEST_LINE - 1);
        let mut exact = line.clone();
        exact.extend_from_slice(b"\r\n");
        assert!(matches!(parse_whole(&exact).1, Some(Ok(_))));
        let mut long = b"GET /a".to_vec();
        long.extend_from_slice(&line[5..]);
        long.extend_from_slice(b"\r\n");
        // 256 bytes + CR: too long, known before the line feed arrives.
        let (used, r) = parse_whole(&long[..long.len() - 1]);
        assert_eq!(r, Some(Err(RequestError::TooLong)));
        assert_eq!(used, MAX_REQUEST_LINE + 1);
        let mut p = RequestLineParser::new();
        p.feed(&[b'x'; 1000]);
        assert_eq!(p.result(), Some(Err(RequestError::TooLong)));
        assert_eq!(p.feed(b"more"), 0);
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK"), Some((1, 200)));
        assert_eq!(parse_status_line(b"HTTP/1.1 404 Not Found"), Some((1, 404)));
        assert_eq!(parse_status_line(b"HTTP/1.1 200 "), Some((1, 200)));
        assert_eq!(
            parse_status_line(b"HTTP/1.1 599 \xe9t\xe9\t!"),
            Some((1, 599))
        );
        for bad in [
            &b"HTTP/1.1 2000 OK"[..],
            b"HTTP/1.1 099 OK",
            b"HTTP/1.1  200 OK",
            b"HTTP/2 200 OK",
            b"HTTP/1.1 2x0 OK",
            b"HTTP/1.1 200 O\x00K",
            b"HTTP/1.1",
            b"",
        ] {
            assert_eq!(parse_status_line(bad), None, "{bad:?}");
        }
    }

    fn head_of(input: &[u8]) -> (usize, Option<Result<ResponseHead, HeadError>>) {
        let mut p = ResponseHeadParser::new();
        let used = p.feed(input);
        (used, p.result())
    }

    #[test]
    fn response_heads() {
        let ok = |status, length| {
            Some(Ok(ResponseHead {
                minor: 1,
                status,
                content_length: length,
            }))
        };
        let (used, r) =
            head_of(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\nbody");
        assert_eq!((used, r), (58, ok(200, Some(12))));
        assert_eq!(head_of(b"HTTP/1.1 404 Not Found\n\n").1, ok(404, None));
        assert_eq!(
            head_of(b"HTTP/1.1 200 OK\r\ncontent-LENGTH:7\r\n\r\n").1,
            ok(200, Some(7))
        );
        assert_eq!(
            head_of(b"HTTP/1.1 200 OK\r\nContent-Length: 7 \r\nContent-Length: 7\r\n\r\n").1,
            ok(200, Some(7))
        );
        let err = |e| Some(Err(e));
        assert_eq!(head_of(b"HTTP/1.1 OK\r\n").1, err(HeadError::BadStatusLine));
        assert_eq!(
            head_of(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 8\r\n\r\n").1,
            err(HeadError::BadHeader)
        );
        assert_eq!(
            head_of(b"HTTP/1.1 200 OK\r\nContent-Length: -7\r\n\r\n").1,
            err(HeadError::BadHeader)
        );
        assert_eq!(
            head_of(b"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n").1,
            err(HeadError::BadHeader)
        );
        assert_eq!(
            head_of(b"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n").1,
            err(HeadError::BadHeader)
        );
        assert_eq!(
            head_of(b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n").1,
            err(HeadError::BadHeader)
        );
        // Incomplete heads.
        assert_eq!(head_of(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n").1, None);
        assert_eq!(
            head_of(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r").1,
            None
        );
    }

    #[test]
    fn long_head_lines() {
        let mut long = b"HTTP/1.1 200 OK\r\nX-Long: ".to_vec();
        long.resize(long.len() + 3 * MAX_HEAD_LINE, b'z');
        long.extend_from_slice(b"\r\nContent-Length: 3\r\n\r\nabc");
        let (used, r) = head_of(&long);
        assert_eq!(&long[used..], b"abc");
        assert_eq!(r.unwrap().unwrap().content_length, Some(3));

        let mut long = b"HTTP/1.1 200 OK\r\nContent-Length: ".to_vec();
        long.resize(long.len() + MAX_HEAD_LINE, b'1');
        long.extend_from_slice(b"\r\n\r\n");
        assert_eq!(head_of(&long).1, Some(Err(HeadError::BadHeader)));

        let mut long = b"HTTP/1.1 200 ".to_vec();
        long.resize(long.len() + MAX_HEAD_LINE, b'K');
        long.extend_from_slice(b"\r\n\r\n");
        assert_eq!(head_of(&long).1, Some(Err(HeadError::BadStatusLine)));

        let mut endless = b"HTTP/1.1 200 OK\r\n".to_vec();
        while endless.len() <= MAX_HEAD + 100 {
            endless.extend_from_slice(b"X-Header: value\r\n");
        }
        let (used, r) = head_of(&endless);
        assert_eq!(r, Some(Err(HeadError::TooLong)));
        assert_eq!(used, MAX_HEAD);
    }

    #[test]
    fn decimals() {
        let mut buf = [0u8; 20];
        assert_eq!(decimal(0, &mut buf), b"0");
        assert_eq!(decimal(1_100_000, &mut buf), b"1100000");
        assert_eq!(decimal(u64::MAX, &mut buf), b"18446744073709551615");
    }

    /// Cuts `input` at the (sorted, deduplicated) cut points.
    fn pieces(input: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
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

    fn request_strategy() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            // Well-formed requests.
            ("[A-Z]{1,7}", "/[a-z0-9./]{0,300}", 0u8..10, "[ -~]{0,40}").prop_map(
                |(m, t, minor, host)| format!("{m} {t} HTTP/1.{minor}\r\nHost: {host}\r\n\r\n")
                    .into_bytes()
            ),
            // Near misses and garbage.
            proptest::collection::vec(
                prop_oneof![
                    Just(b' '),
                    Just(b'\r'),
                    Just(b'\n'),
                    Just(b'/'),
                    any::<u8>()
                ],
                0..400
            ),
        ]
    }

    proptest! {
        #[test]
        fn request_split_anywhere_parses_as_whole(
            input in request_strategy(),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let (whole_used, whole) = parse_whole(&input);
            let mut p = RequestLineParser::new();
            let mut used = 0;
            for piece in pieces(&input, &cuts) {
                let n = p.feed(&piece);
                prop_assert!(n <= piece.len());
                if n < piece.len() {
                    prop_assert!(p.is_done());
                }
                used += n;
            }
            prop_assert_eq!(used, whole_used);
            let split = p.result().map(|r| r.map(|l| (l.method.to_vec(), l.target.to_vec(), l.minor)));
            prop_assert_eq!(split, whole);
        }

        #[test]
        fn response_split_anywhere_parses_as_whole(
            status in 100u16..1000,
            length in proptest::option::of(any::<u64>()),
            headers in proptest::collection::vec(("[A-Za-z-]{1,20}", "[ -~]{0,200}"), 0..6),
            body in proptest::collection::vec(any::<u8>(), 0..50),
            garbage in proptest::collection::vec(any::<u8>(), 0..50),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
            corrupt in any::<bool>(),
        ) {
            let mut input = format!("HTTP/1.1 {status} Something\r\n").into_bytes();
            for (name, value) in &headers {
                input.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            }
            if let Some(length) = length {
                input.extend_from_slice(format!("Content-Length: {length}\r\n").as_bytes());
            }
            input.extend_from_slice(b"\r\n");
            if corrupt {
                input.extend_from_slice(&garbage);
            }
            input.extend_from_slice(&body);
            let (whole_used, whole) = head_of(&input);
            let mut p = ResponseHeadParser::new();
            let mut used = 0;
            for piece in pieces(&input, &cuts) {
                used += p.feed(&piece);
            }
            prop_assert_eq!(used, whole_used);
            prop_assert_eq!(p.result(), whole);
            if !corrupt {
                let lies = headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-length"));
                if !lies {
                    prop_assert_eq!(&input[used..], &body[..]);
                    let head = whole.unwrap().unwrap();
                    prop_assert_eq!((head.status, head.content_length), (status, length));
                }
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let mut p = ResponseHeadParser::new();
            let used = p.feed(&input);
            prop_assert!(used <= input.len());
            let mut q = RequestLineParser::new();
            let used = q.feed(&input);
            prop_assert!(used <= input.len());
        }
    }
}
