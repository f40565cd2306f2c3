//! The workloads' applications and what the engine reads from them.
//!
//! The thesis benchmark uses `rusty-apps`' `HttpServer` and
//! `HttpLoadClient` unchanged; echo and bulk transfer its `EchoServer`,
//! `BulkServer` and `StreamClient` (a request/verify client for both).
//! Every client verifies every byte it gets. What is the simulator's own
//! is here: the report's vocabulary of failures, the client statistics the
//! engine reads from any client app ([`AppStats`]), and the page sets.

use serde::Serialize;

use rusty_apps::{
    Content, EchoServer, FailCounts, HttpLoadClient, HttpServer, LatencyHistogram, Page,
    StreamFailCounts,
};
use rusty_stack::prefix_sum::PrefixSums;
use rusty_stack::stats::TcpCounters;

// The bulk and stream apps moved to `rusty-apps`; the engine and the
// smoltcp host keep reaching them here.
pub use rusty_apps::bulk::{bulk_byte, BulkConn, BulkServer, PatternWriter};
pub use rusty_apps::stream::{StreamClient, StreamConn, StreamMode};

/// Failed requests by why they failed: the report's vocabulary, the same
/// for every client (each maps its own reasons onto it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Failures {
    /// The server answered the SYN with a reset.
    pub refused: u64,
    /// The handshake's SYN retries ran out, or the client's own request
    /// timeout passed (smoltcp's client).
    pub timeout: u64,
    /// The connection was reset after it was established (by the peer, or
    /// by the stack when its retransmissions ran out: Rusty's app API does
    /// not tell the app which).
    pub reset: u64,
    /// A response arrived but was wrong: status, header, length or body
    /// (the differing bytes are counted in `bytes_corrupt`).
    pub verification: u64,
    /// The server closed before the whole response arrived.
    pub closed_early: u64,
    /// The client could not open the connection or queue the request (no
    /// port or slot, no route, send buffer full).
    pub local: u64,
    /// The handshake failed and the app cannot tell why (a reset or a
    /// timeout); a host that knows its stack's counters splits these into
    /// [`Failures::refused`] and [`Failures::timeout`]
    /// ([`Failures::split_handshakes`]), so reports show none.
    #[serde(skip_serializing_if = "is_zero")]
    pub handshake: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Failures {
    /// All failed requests.
    pub fn total(&self) -> u64 {
        self.refused
            + self.timeout
            + self.reset
            + self.verification
            + self.closed_early
            + self.local
            + self.handshake
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Failures) {
        self.refused += other.refused;
        self.timeout += other.timeout;
        self.reset += other.reset;
        self.verification += other.verification;
        self.closed_early += other.closed_early;
        self.local += other.local;
        self.handshake += other.handshake;
    }

    /// The reasons of the stream client ([`StreamClient`]), mapped.
    pub fn from_stream(f: &StreamFailCounts) -> Failures {
        Failures {
            reset: f.reset,
            verification: f.verification,
            closed_early: f.closed_early,
            local: f.local,
            handshake: f.handshake,
            ..Failures::default()
        }
    }

    /// The reasons of Rusty's HTTP load client, mapped.
    pub fn from_http(f: &FailCounts) -> Failures {
        Failures {
            reset: f.reset,
            verification: f.bad_status + f.bad_header + f.length_mismatch + f.body_mismatch,
            closed_early: f.closed_early,
            local: f.connect_failed + f.send_failed,
            handshake: f.handshake_failed,
            ..Failures::default()
        }
    }

    /// Splits [`Failures::handshake`] by the counters of the client stacks
    /// it happened on. A client stack (no listener) resets a connection in
    /// SYN-SENT for exactly two reasons, each counted once: a reset
    /// answering its SYN (`connections_refused`) and SYN retries running
    /// out (`handshake_timeouts`), and each such connection carried one
    /// request not yet counted. Any handshake failure the counters do not
    /// cover stays in [`Failures::handshake`] (and shows in the report).
    pub fn split_handshakes(&mut self, tcp: &TcpCounters) {
        let refused = self.handshake.min(tcp.connections_refused);
        let timeout = (self.handshake - refused).min(tcp.handshake_timeouts);
        self.refused += refused;
        self.timeout += timeout;
        self.handshake -= refused + timeout;
    }

    /// Counts one failure for `why`.
    pub fn add(&mut self, why: Failure) {
        let slot = match why {
            Failure::Refused => &mut self.refused,
            Failure::Timeout => &mut self.timeout,
            Failure::Reset => &mut self.reset,
            Failure::Verification => &mut self.verification,
            Failure::ClosedEarly => &mut self.closed_early,
            Failure::Local => &mut self.local,
            Failure::Handshake => &mut self.handshake,
        };
        *slot += 1;
    }
}

/// Why one request failed (a field of [`Failures`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// [`Failures::refused`].
    Refused,
    /// [`Failures::timeout`].
    Timeout,
    /// [`Failures::reset`].
    Reset,
    /// [`Failures::verification`].
    Verification,
    /// [`Failures::closed_early`].
    ClosedEarly,
    /// [`Failures::local`].
    Local,
    /// [`Failures::handshake`].
    Handshake,
}

/// What a client app has done so far.
#[derive(Clone, Debug, Default)]
pub struct ClientStats {
    /// Requests that completed with every byte verified.
    pub ok: u64,
    /// Requests that ended in an error, by reason.
    pub failures: Failures,
    /// Requests started and not finished.
    pub in_flight: u64,
    /// Verified payload bytes.
    pub bytes_ok: u64,
    /// Payload bytes that differed from what was expected.
    pub bytes_corrupt: u64,
    /// Request latencies.
    pub latency: LatencyHistogram,
}

impl ClientStats {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &ClientStats) {
        self.ok += other.ok;
        self.failures.merge(&other.failures);
        self.in_flight += other.in_flight;
        self.bytes_ok += other.bytes_ok;
        self.bytes_corrupt += other.bytes_corrupt;
        self.latency.merge(&other.latency);
    }

    /// Requests that ended in an error.
    pub fn failed(&self) -> u64 {
        self.failures.total()
    }
}

/// Apps the engine can ask for client statistics.
pub trait AppStats {
    /// The app's client statistics; `None` for servers.
    fn client_stats(&self) -> Option<ClientStats> {
        None
    }

    /// Stops opening new connections (clients); requests in flight go on.
    fn stop(&mut self) {}
}

impl<C: Content> AppStats for HttpServer<C> {}

impl AppStats for EchoServer {}

impl<C: Content> AppStats for HttpLoadClient<C> {
    fn client_stats(&self) -> Option<ClientStats> {
        let c = self.counters();
        Some(ClientStats {
            ok: c.ok,
            failures: Failures::from_http(&c.failed),
            in_flight: c.in_flight(),
            bytes_ok: c.bytes_ok,
            bytes_corrupt: c.bytes_corrupt,
            latency: self.latency().clone(),
        })
    }

    fn stop(&mut self) {
        HttpLoadClient::stop(self);
    }
}

/// The pages a scenario serves: the thesis set or small generated ones.
#[derive(Clone, Copy, Debug)]
pub enum Pages {
    /// The 500-page benchmark set with its checksum tables.
    Thesis(&'static rusty_fixtures::PageSet),
    /// Generated pages.
    Small(&'static [Page<'static>]),
}

impl Pages {
    /// `count` pages of `bytes` bytes each, with checksum tables, built once
    /// and kept for the process's life (they are served by `'static` writers).
    pub fn small(count: usize, bytes: usize) -> Pages {
        let pages: Vec<Page<'static>> = (0..count)
            .map(|i| {
                let body: &'static [u8] = Box::leak(
                    (0..bytes)
                        .map(|j| b"abcdefghijklmnopqrstuvwxyz0123456789 \n"[(i * 7 + j) % 38])
                        .collect::<Vec<u8>>()
                        .into_boxed_slice(),
                );
                let sums: &'static PrefixSums = Box::leak(Box::new(PrefixSums::new(body)));
                Page::with_sums(body, sums)
            })
            .collect();
        Pages::Small(Box::leak(pages.into_boxed_slice()))
    }
}

impl Content for Pages {
    fn count(&self) -> usize {
        match self {
            Pages::Thesis(set) => set.pages().len(),
            Pages::Small(pages) => pages.len(),
        }
    }

    fn page(&self, index: usize) -> Option<Page<'static>> {
        match self {
            Pages::Thesis(set) => set.get(index).map(|p| Page::with_sums(p.body, &p.sums)),
            Pages::Small(pages) => <[Page<'static>]>::get(pages, index).copied(),
        }
    }
}

impl AppStats for BulkServer {}

impl AppStats for StreamClient {
    fn client_stats(&self) -> Option<ClientStats> {
        let c = self.counters();
        Some(ClientStats {
            ok: c.ok,
            failures: Failures::from_stream(&c.failed),
            in_flight: c.in_flight,
            bytes_ok: c.bytes_ok,
            bytes_corrupt: c.bytes_corrupt,
            latency: self.latency().clone(),
        })
    }

    fn stop(&mut self) {
        StreamClient::stop(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_reasons_map_onto_the_report_vocabulary() {
        let f = FailCounts {
            reset: 1,
            bad_status: 2,
            bad_header: 4,
            length_mismatch: 8,
            body_mismatch: 16,
            closed_early: 32,
            connect_failed: 64,
            handshake_failed: 128,
            send_failed: 256,
        };
        let m = Failures::from_http(&f);
        assert_eq!(m.reset, 1);
        assert_eq!(m.verification, 2 + 4 + 8 + 16);
        assert_eq!(m.closed_early, 32);
        assert_eq!(m.local, 64 + 256);
        assert_eq!(m.handshake, 128);
        assert_eq!((m.refused, m.timeout), (0, 0));
        assert_eq!(m.total(), f.total());
    }

    #[test]
    fn stream_reasons_map_onto_the_report_vocabulary() {
        let f = StreamFailCounts {
            local: 1,
            handshake: 2,
            reset: 4,
            verification: 8,
            closed_early: 16,
        };
        let m = Failures::from_stream(&f);
        assert_eq!(
            (
                m.local,
                m.handshake,
                m.reset,
                m.verification,
                m.closed_early
            ),
            (1, 2, 4, 8, 16)
        );
        assert_eq!(m.total(), f.total());
    }

    #[test]
    fn handshakes_are_split_by_the_stack_counters() {
        let mut f = Failures {
            handshake: 5,
            reset: 1,
            ..Failures::default()
        };
        let mut tcp = TcpCounters::default();
        tcp.connections_refused = 2;
        tcp.handshake_timeouts = 2;
        f.split_handshakes(&tcp);
        assert_eq!((f.refused, f.timeout, f.handshake, f.reset), (2, 2, 1, 1));
        assert_eq!(f.total(), 6);
        let mut all_refused = Failures {
            handshake: 3,
            ..Failures::default()
        };
        let mut tcp = TcpCounters::default();
        tcp.connections_refused = 9;
        all_refused.split_handshakes(&tcp);
        assert_eq!((all_refused.refused, all_refused.handshake), (3, 0));
        let json = serde_json::to_value(all_refused).unwrap();
        assert!(json.get("handshake").is_none(), "zero is left out: {json}");
        assert_eq!(json["refused"], 3);
    }
}
