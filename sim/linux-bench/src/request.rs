//! HTTP/1.x request heads, parsed from the bytes received so far.
//!
//! The request line is checked by Rusty's own strict parser
//! ([`parse_request_line`]), so both servers accept and refuse the same
//! lines. Unlike Rusty's one-request-per-connection server, this one reads
//! the whole head (up to the empty line) so that it can keep HTTP/1.1
//! connections alive and honour `Connection: close`.
//!
//! ```
//! use rusty_linux_bench::request::{parse, ParsedRequest};
//!
//! assert_eq!(parse(b"GET /1.htm HTTP/1.1\r\nHost: x"), ParsedRequest::Incomplete);
//! let ParsedRequest::Complete { len, request } = parse(b"GET /1.htm HTTP/1.1\r\nConnection: close\r\n\r\n")
//! else { panic!() };
//! assert_eq!(len, 42);
//! let request = request.unwrap();
//! assert_eq!((request.target, request.keep_alive), (&b"/1.htm"[..], false));
//! ```

use rusty_apps::http::parse_request_line;

/// Longest request head accepted, line ends included; longer heads get
/// `400 Bad Request`.
pub const MAX_HEAD: usize = 8192;

/// A request the server can answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The request target (starts with `/`).
    pub target: &'a [u8],
    /// The connection stays open after the response: HTTP/1.1 without
    /// `Connection: close`. HTTP/1.0 requests are answered and closed.
    pub keep_alive: bool,
}

/// Why a request is refused with `400 Bad Request`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadRequest {
    /// The request line is not `METHOD SP target SP HTTP/1.x`.
    RequestLine,
    /// A method other than `GET`.
    Method,
    /// A header line is not `name: value`, or is an obsolete line fold.
    Header,
    /// The request has a body (`Content-Length` above 0 or
    /// `Transfer-Encoding`): not served.
    Body,
    /// The head is longer than [`MAX_HEAD`].
    TooLarge,
}

impl std::fmt::Display for BadRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BadRequest::RequestLine => "malformed request line",
            BadRequest::Method => "method not GET",
            BadRequest::Header => "malformed header line",
            BadRequest::Body => "the request has a body",
            BadRequest::TooLarge => "the request head is too large",
        })
    }
}

impl std::error::Error for BadRequest {}

/// The result of parsing the bytes received so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParsedRequest<'a> {
    /// No complete head yet (and not too long): read more.
    Incomplete,
    /// A complete head of `len` bytes (leading empty lines included).
    Complete {
        /// Bytes the head takes at the start of the input.
        len: usize,
        /// The request, or why it is refused.
        request: Result<Request<'a>, BadRequest>,
    },
    /// No complete head within [`MAX_HEAD`] bytes.
    TooLarge,
}

/// `tchar` of RFC 9110.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Strips optional whitespace around a header value.
fn trim(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    &value[start..end]
}

/// The next line of `input` from `at`: its bytes without the line end, and
/// where the following line starts. `None` without a line feed.
fn next_line(input: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rest = &input[at..];
    let lf = rest.iter().position(|&b| b == b'\n')?;
    let line = &rest[..lf];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some((line, at + lf + 1))
}

/// What the headers say about the connection and the body.
#[derive(Default)]
struct Headers {
    close: bool,
    body: bool,
}

impl Headers {
    fn header(&mut self, line: &[u8]) -> Result<(), BadRequest> {
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(BadRequest::Header)?;
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.is_empty() || !name.iter().copied().all(is_token_byte) {
            return Err(BadRequest::Header);
        }
        if name.eq_ignore_ascii_case(b"connection") {
            for option in value.split(|&b| b == b',').map(trim) {
                self.close |= option.eq_ignore_ascii_case(b"close");
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
                return Err(BadRequest::Header);
            }
            self.body |= value.iter().any(|&b| b != b'0');
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            self.body = true;
        }
        Ok(())
    }
}

/// Parses the request head at the start of `input`. Empty lines before
/// the request line are skipped (RFC 9112 §2.2); lines may end in CRLF or
/// LF.
pub fn parse(input: &[u8]) -> ParsedRequest<'_> {
    let mut at = input
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(input.len());
    let too_large = |at: usize| {
        if at > MAX_HEAD || input.len() > MAX_HEAD {
            ParsedRequest::TooLarge
        } else {
            ParsedRequest::Incomplete
        }
    };
    let Some((line, next)) = next_line(input, at) else {
        return too_large(input.len());
    };
    at = next;
    let mut headers = Headers::default();
    let mut error = None;
    loop {
        let Some((header, next)) = next_line(input, at) else {
            return too_large(input.len());
        };
        at = next;
        if at > MAX_HEAD {
            return ParsedRequest::TooLarge;
        }
        if header.is_empty() {
            break;
        }
        if error.is_none() {
            if header[0] == b' ' || header[0] == b'\t' {
                error = Some(BadRequest::Header);
            } else if let Err(e) = headers.header(header) {
                error = Some(e);
            }
        }
    }
    let request = match parse_request_line(line) {
        Err(_) => Err(BadRequest::RequestLine),
        Ok(line) if line.method != b"GET" => Err(BadRequest::Method),
        Ok(line) => match error {
            Some(error) => Err(error),
            None if headers.body => Err(BadRequest::Body),
            None => Ok(Request {
                target: line.target,
                keep_alive: line.minor >= 1 && !headers.close,
            }),
        },
    };
    ParsedRequest::Complete { len: at, request }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(input: &[u8]) -> (usize, Result<Request<'_>, BadRequest>) {
        match parse(input) {
            ParsedRequest::Complete { len, request } => (len, request),
            other => panic!("{other:?} for {:?}", String::from_utf8_lossy(input)),
        }
    }

    #[test]
    fn keep_alive_and_close() {
        let (len, r) = complete(b"GET /1.htm HTTP/1.1\r\nHost: a\r\n\r\nGET /2.htm");
        assert_eq!(len, 32);
        assert_eq!(
            r,
            Ok(Request {
                target: b"/1.htm",
                keep_alive: true
            })
        );
        let r = complete(b"GET /1.htm HTTP/1.1\r\nconnection:  Upgrade , CLOSE\r\n\r\n").1;
        assert!(!r.unwrap().keep_alive);
        // HTTP/1.0 closes, keep-alive or not.
        let r = complete(b"GET /1.htm HTTP/1.0\nConnection: keep-alive\n\n").1;
        assert!(!r.unwrap().keep_alive);
        // Leading empty lines are skipped; bare LF line ends are accepted.
        let (len, r) = complete(b"\r\n\nGET /3.htm HTTP/1.1\n\n");
        assert_eq!((len, r.unwrap().target), (24, &b"/3.htm"[..]));
    }

    #[test]
    fn incomplete_heads() {
        for input in [
            &b""[..],
            b"\r\n",
            b"GET /1.htm HTTP/1.1",
            b"GET /1.htm HTTP/1.1\r\n",
            b"GET /1.htm HTTP/1.1\r\nHost: a\r\n",
            b"GET /1.htm HTTP/1.1\r\nHost: a\r\n\r",
        ] {
            assert_eq!(parse(input), ParsedRequest::Incomplete, "{input:?}");
        }
    }

    #[test]
    fn bad_requests() {
        let cases: [(&[u8], BadRequest); 9] = [
            (b"GARBAGE\r\n\r\n", BadRequest::RequestLine),
            (b"GET  /1.htm HTTP/1.1\r\n\r\n", BadRequest::RequestLine),
            (b"GET /1.htm HTTP/2.0\r\n\r\n", BadRequest::RequestLine),
            (b"POST /1.htm HTTP/1.1\r\n\r\n", BadRequest::Method),
            (
                b"GET /1.htm HTTP/1.1\r\nno colon\r\n\r\n",
                BadRequest::Header,
            ),
            (b"GET /1.htm HTTP/1.1\r\nA b: c\r\n\r\n", BadRequest::Header),
            (
                b"GET /1.htm HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
                BadRequest::Header,
            ),
            (
                b"GET /1.htm HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
                BadRequest::Body,
            ),
            (
                b"GET /1.htm HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                BadRequest::Body,
            ),
        ];
        for (input, error) in cases {
            assert_eq!(complete(input).1, Err(error), "{input:?}");
        }
        assert!(
            complete(b"GET /1.htm HTTP/1.1\r\nContent-Length: 00\r\n\r\n")
                .1
                .is_ok()
        );
    }

    #[test]
    fn head_size_limit() {
        let mut input = b"GET /1.htm HTTP/1.1\r\n".to_vec();
        while input.len() <= MAX_HEAD {
            input.extend_from_slice(b"X-Filler: 0123456789\r\n");
        }
        assert_eq!(parse(&input), ParsedRequest::TooLarge);
        input.extend_from_slice(b"\r\n");
        assert_eq!(parse(&input), ParsedRequest::TooLarge);
        assert_eq!(parse(&vec![b'A'; MAX_HEAD + 1]), ParsedRequest::TooLarge);
        assert_eq!(parse(&vec![b'A'; MAX_HEAD]), ParsedRequest::Incomplete);
    }
}
