//! # rusty-apps
//!
//! Applications written once against the stack's public app API
//! ([`App`](rusty_stack::App) and the [`Conn`](rusty_stack::Conn) handle),
//! so that they run unchanged on every backend: the pair driver, the
//! simulator, mPIPE, TAP. This crate uses nothing of `rusty-stack` but its
//! public API, which is what proves that claim.
//!
//! * [`echo::EchoServer`] — echoes every byte back (thesis, chapter 2);
//! * [`http_server::HttpServer`] — the thesis's minimal page server: reads
//!   the request line only, answers with a page from [`Content`] and closes;
//!   page bodies are checksummed from their [`PrefixSums`] tables;
//! * [`http_client::HttpLoadClient`] — the benchmark's load generator: keeps
//!   a number of connections open, fetches random pages and verifies every
//!   response byte for byte;
//! * [`bulk::BulkServer`] and [`stream::StreamClient`] — bulk transfer and
//!   an echo/bulk load client, verifying a byte pattern.
//!
//! Shared pieces: [`Page`] and [`Content`] (what the server serves and the
//! client expects), the incremental HTTP parsers of [`http`], a
//! log-linear [`histogram::LatencyHistogram`] and the seeded
//! [`rng::SplitMix64`] generator (the stack's, re-exported).
//!
//! None of them allocates per packet or per connection: per-connection state
//! lives in the stack's connection slots and writers in its transmit queues.
//! Their unit tests drive the handlers through `rusty_stack::testing`'s
//! mock connection (the stack's `testing` feature).
//!
//! # Example
//!
//! The page server and the load client on two stacks joined by the
//! in-memory pair driver: ten requests, every byte verified.
//!
//! ```
//! use rusty_apps::{HttpClientConfig, HttpLoadClient, HttpServer, Page};
//! use rusty_stack::iface::InterfaceConfig;
//! use rusty_stack::nic::pair::{pair, PairConfig};
//! use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr};
//! use rusty_stack::{Driver, Stack, TcpConfig};
//!
//! static PAGES: [Page<'static>; 2] = [Page::new(b"<p>zero</p>"), Page::new(b"<p>one</p>")];
//! let pages: &'static [Page<'static>] = &PAGES;
//! let (server_ip, client_ip) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
//! let (mut ds, mut dc) = pair(&PairConfig::default());
//! let now = ds.now();
//! let iface = |ip| InterfaceConfig::new(Ipv4Cidr::new(ip, 24).unwrap());
//! let mut server = Stack::new(&ds.capabilities(), iface(server_ip), TcpConfig::default(),
//!                             HttpServer::new(pages), now);
//! server.listen(80, 16).unwrap();
//! let config = HttpClientConfig {
//!     concurrency: 2,
//!     max_requests: Some(10),
//!     ..HttpClientConfig::new(server_ip, 80)
//! };
//! let mut client = Stack::new(&dc.capabilities(), iface(client_ip), TcpConfig::default(),
//!                             HttpLoadClient::new(config, pages), now);
//! while !client.app().is_finished() {
//!     let worked = server.poll(&mut ds, now) | client.poll(&mut dc, now);
//!     assert!(worked || ds.pending() + dc.pending() > 0, "stalled");
//! }
//! assert_eq!(client.app().counters().ok, 10);
//! assert_eq!(client.app().counters().bytes_corrupt, 0);
//! ```

pub mod bulk;
pub mod echo;
pub mod histogram;
pub mod http;
pub mod http_client;
pub mod http_server;
pub mod stream;

use rusty_stack::checksum;
use rusty_stack::mem::prefetch::prefetch_read;
use rusty_stack::prefix_sum::PrefixSums;

pub use self::bulk::{bulk_byte, BulkConn, BulkServer, PatternWriter};
pub use self::echo::{EchoConn, EchoCounters, EchoServer, EchoWriter, ECHO_CHUNK};
pub use self::histogram::LatencyHistogram;
pub use self::http_client::{
    ClientConn, FailCounts, FailReason, HttpClientConfig, HttpClientCounters, HttpLoadClient,
    RequestWriter,
};
pub use self::http_server::{HttpConn, HttpServer, HttpServerCounters, HttpWriter};
pub use self::stream::{
    StreamClient, StreamConn, StreamCounters, StreamFailCounts, StreamFailure, StreamMode,
};
pub use rusty_stack::rng::{self, SplitMix64};

/// A page body, with its checksum table when one was precomputed.
#[derive(Clone, Copy, Debug)]
pub struct Page<'a> {
    /// The bytes served (no HTTP header).
    pub body: &'a [u8],
    /// Prefix sums of `body`, so that any segment of it is checksummed in
    /// constant time without reading it.
    pub sums: Option<&'a PrefixSums>,
}

impl<'a> Page<'a> {
    /// A page without a checksum table.
    pub const fn new(body: &'a [u8]) -> Self {
        Page { body, sums: None }
    }

    /// A page with its checksum table (built from the same `body`).
    pub const fn with_sums(body: &'a [u8], sums: &'a PrefixSums) -> Self {
        Page {
            body,
            sums: Some(sums),
        }
    }

    /// The ones' complement sum of `body[offset..offset + len]` as if it
    /// started at an even position, from the table; `None` without a table,
    /// when the table was not built from a body of this length, or when the
    /// range is out of bounds.
    #[inline]
    pub fn sum(&self, offset: usize, len: usize) -> Option<u16> {
        let sums = self.sums?;
        if sums.len() != self.body.len() {
            return None;
        }
        sums.sum(self.body, offset, len)
    }
}

impl Page<'_> {
    /// Asks the memory for what [`Page::sum`] reads to sum a range ending
    /// at `end` (its table entry and a few body bytes): a hint, for the
    /// segment after the one being sent.
    #[inline]
    pub fn prefetch_sum(&self, end: usize) {
        if let Some(sums) = self.sums {
            sums.prefetch(self.body, end);
        }
    }
}

/// The pages a server serves and a load client expects, supplied by the
/// owner. Pages are numbered `0..count()` and served at `/N.htm` (`N` in
/// decimal, without leading zeros), as in the thesis benchmark.
///
/// Implemented for slices and vectors of `Page<'static>` (page `i` is
/// element `i`), and for references to any `Content`.
///
/// ```
/// use rusty_apps::{Content, Page};
///
/// static PAGES: [Page<'static>; 2] = [Page::new(b"zero"), Page::new(b"one")];
/// let pages: &'static [Page<'static>] = &PAGES;
/// assert_eq!(pages.count(), 2);
/// assert_eq!(pages.by_path(b"/1.htm").map(|p| p.body), Some(&b"one"[..]));
/// assert!(pages.by_path(b"/01.htm").is_none());
/// assert!(pages.by_path(b"/2.htm").is_none());
/// ```
///
/// The benchmark's 500 pages (the `rusty-fixtures` crate, which depends on
/// this one) adapt with a wrapper:
///
/// ```ignore
/// struct Fixtures(&'static rusty_fixtures::PageSet);
///
/// impl Content for Fixtures {
///     fn count(&self) -> usize {
///         self.0.pages().len()
///     }
///     fn page(&self, index: usize) -> Option<Page<'static>> {
///         let page = self.0.get(index)?;
///         Some(Page::with_sums(&page.body, &page.sums))
///     }
/// }
/// let server = HttpServer::new(Fixtures(rusty_fixtures::page_set()));
/// ```
pub trait Content {
    /// Number of pages.
    fn count(&self) -> usize;

    /// Page `index`; `Some` for every `index < count()`.
    fn page(&self, index: usize) -> Option<Page<'static>>;

    /// The page served at request target `path`. The default maps `/N.htm`
    /// to [`Content::page`]`(N)` with [`parse_page_path`].
    fn by_path(&self, path: &[u8]) -> Option<Page<'static>> {
        self.page(parse_page_path(path)?)
    }
}

impl<T: Content + ?Sized> Content for &T {
    fn count(&self) -> usize {
        (**self).count()
    }
    fn page(&self, index: usize) -> Option<Page<'static>> {
        (**self).page(index)
    }
    fn by_path(&self, path: &[u8]) -> Option<Page<'static>> {
        (**self).by_path(path)
    }
}

impl Content for [Page<'static>] {
    fn count(&self) -> usize {
        self.len()
    }
    fn page(&self, index: usize) -> Option<Page<'static>> {
        <[Page<'static>]>::get(self, index).copied()
    }
}

impl Content for Vec<Page<'static>> {
    fn count(&self) -> usize {
        self.len()
    }
    fn page(&self, index: usize) -> Option<Page<'static>> {
        self.as_slice().page(index)
    }
}

/// The page number in a request target `/N.htm`: decimal digits, no sign,
/// no leading zero (`/0.htm` is page 0).
///
/// ```
/// use rusty_apps::parse_page_path;
///
/// assert_eq!(parse_page_path(b"/42.htm"), Some(42));
/// assert_eq!(parse_page_path(b"/0.htm"), Some(0));
/// assert_eq!(parse_page_path(b"/042.htm"), None);
/// assert_eq!(parse_page_path(b"/42.html"), None);
/// assert_eq!(parse_page_path(b"/.htm"), None);
/// ```
pub fn parse_page_path(path: &[u8]) -> Option<usize> {
    let digits = path.strip_prefix(b"/")?.strip_suffix(b".htm")?;
    if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &d| {
        if d.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(usize::from(d - b'0'))
        } else {
            None
        }
    })
}

/// `bytes[offset..offset + out.len()]` into `out` (the [`Writer::write`]
/// contract for writers over bytes they own). Out-of-range requests write
/// what exists; the stack never makes them.
///
/// [`Writer::write`]: rusty_stack::tcp::Writer::write
#[inline]
pub(crate) fn write_slice(
    bytes: &[u8],
    offset: usize,
    out: &mut rusty_stack::mem::cursor::CursorMut<'_>,
) {
    let end = offset.saturating_add(out.len()).min(bytes.len());
    let _ = out.write(bytes.get(offset..end).unwrap_or(&[]));
    // The stack asks for a body in segment-sized pieces, in order: ask the
    // memory now for the piece after this one, so that copying it does not
    // wait for a page that is not in the cache (see `mem::prefetch`).
    let next = bytes.get(end..).unwrap_or(&[]);
    prefetch_read(&next[..next.len().min(end - offset.min(end))]);
}

/// The ones' complement sum of `bytes[offset..offset + len]` as if it
/// started at an even position, computed directly (for small writers), or
/// `None` if the range is out of bounds.
#[inline]
pub(crate) fn sum_slice(bytes: &[u8], offset: usize, len: usize) -> Option<u16> {
    let end = offset.checked_add(len)?;
    bytes.get(offset..end).map(checksum::ones_sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sums_use_the_table_only_when_it_matches() {
        let body: &'static [u8] = Box::leak(vec![7u8; 100].into_boxed_slice());
        let sums: &'static PrefixSums = Box::leak(Box::new(PrefixSums::new(body)));
        let page = Page::with_sums(body, sums);
        assert_eq!(page.sum(3, 10), Some(checksum::ones_sum(&body[3..13])));
        assert_eq!(page.sum(95, 10), None);
        assert_eq!(Page::new(body).sum(0, 10), None);
        let short = Page::with_sums(&body[..50], sums);
        assert_eq!(short.sum(0, 10), None);
    }

    #[test]
    fn page_paths() {
        assert_eq!(parse_page_path(b"/7.htm"), Some(7));
        assert_eq!(parse_page_path(b"/499.htm"), Some(499));
        assert_eq!(parse_page_path(b"7.htm"), None);
        assert_eq!(parse_page_path(b"/7a.htm"), None);
        assert_eq!(parse_page_path(b"/-7.htm"), None);
        assert_eq!(parse_page_path(b"/99999999999999999999999.htm"), None);
        assert_eq!(parse_page_path(b""), None);
    }

    #[test]
    fn content_for_vectors_and_references() {
        let pages = vec![Page::new(b"a"), Page::new(b"bb")];
        assert_eq!(pages.count(), 2);
        assert_eq!(pages.page(1).map(|p| p.body.len()), Some(2));
        assert!(pages.page(2).is_none());
        let by_ref = &pages;
        assert_eq!(by_ref.by_path(b"/0.htm").map(|p| p.body), Some(&b"a"[..]));
    }

    #[test]
    fn slice_helpers() {
        let mut out = [0u8; 3];
        let mut cursor = rusty_stack::mem::cursor::CursorMut::from_slice(&mut out);
        write_slice(b"hello", 1, &mut cursor);
        assert_eq!(&out, b"ell");
        assert_eq!(sum_slice(b"hello", 1, 3), Some(checksum::ones_sum(b"ell")));
        assert_eq!(sum_slice(b"hello", 3, 3), None);
        assert_eq!(sum_slice(b"hello", usize::MAX, 3), None);
    }
}
