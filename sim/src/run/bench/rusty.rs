//! The bench with Rusty on both ends: [`HttpServer`] and [`HttpLoadClient`]
//! on two [`Stack`]s over the in-memory [`pair`] driver, through public
//! APIs only.
//!
//! Sizing for the concurrency (`conns`), so that nothing runs out at
//! 10,000 connections:
//!
//! * connection slots: `conns` plus a quarter and 64 on the server (its
//!   connections outlive the client's by a few segments), `conns` plus 64
//!   on the client; the server listens with a SYN queue of `conns` + 64;
//! * TIME-WAIT ring ([`time_wait_capacity`]): large, but smaller than the
//!   number of connections after which the client reuses a local port,
//!   so the entry of a 4-tuple is gone before the tuple comes back (the
//!   virtual clock stands still, so a reused tuple would get the same ISN
//!   and timestamp, which TIME-WAIT must refuse);
//! * the pair's receive queues and buffer pools: [`link_frames`] frames,
//!   of the size classes 128 to 1664 bytes (no chaining), and as many
//!   reference slots, over which the server sends page bodies without
//!   copying them (none with `--copy-bodies`);
//! * the client checks bodies against its own copy of the pages
//!   ([`rusty_fixtures::client_page_set`]);
//! * everything else as [`TcpConfig::default`] (64 KiB receive budget,
//!   timestamps, SACK, delayed ACKs of 40 ms, Nagle off).
//!
//! Both interfaces know each other's MAC from the start (static ARP), as
//! the pair driver does not lose the first frames anyway.

use std::collections::BTreeMap;

use rusty_apps::{HttpClientConfig, HttpLoadClient, HttpServer};
use rusty_stack::iface::InterfaceConfig;
use rusty_stack::mem::buf::{PoolConfig, NUM_CLASSES};
use rusty_stack::nic::pair::{pair, PairConfig, PairDriver, PairStats};
use rusty_stack::nic::Driver;
use rusty_stack::tcp::TcpConfig;
use rusty_stack::time::{Duration, Instant};
use rusty_stack::wire::Ipv4Cidr;
use rusty_stack::Stack;

use super::BenchError;
use super::{
    link_frames, BenchConfig, BenchPair, Totals, CLIENT_IP, EPHEMERAL_PORTS, HTTP_PORT, SERVER_IP,
};
use crate::scenario::workload::Pages;

/// TIME-WAIT entries kept for `conns` connections: twice the
/// concurrency (at least 1024), but at most half of the connections after
/// which the client comes back to a local port (the ports minus those in
/// use).
pub fn time_wait_capacity(conns: u32) -> usize {
    let ports = usize::from(EPHEMERAL_PORTS.1 - EPHEMERAL_PORTS.0) + 1;
    let conns = conns as usize;
    (2 * conns)
        .max(1024)
        .min(ports.saturating_sub(conns) / 2)
        .max(1)
}

/// The TCP settings of one end for `conns` connections.
pub fn tcp_config(conns: u32, server: bool) -> TcpConfig {
    let conns = conns as usize;
    TcpConfig {
        max_connections: if server {
            conns + conns / 4 + 64
        } else {
            conns + 64
        },
        time_wait_capacity: time_wait_capacity(conns as u32),
        default_backlog: conns + 64,
        ephemeral_ports: EPHEMERAL_PORTS,
        secret: if server { [0x53; 16] } else { [0x43; 16] },
        ..TcpConfig::default()
    }
}

/// The pair driver for `conns` connections: queues and pools for
/// [`link_frames`] frames, and as many reference slots, so that the server
/// sends page bodies by reference (unless `copy_bodies`: then it has none
/// and copies them into its transmit buffers).
pub fn pair_config(conns: u32, copy_bodies: bool) -> PairConfig {
    let frames = link_frames(conns);
    let mut counts = [0; NUM_CLASSES];
    // 128 bytes: handshakes, ACKs, requests. 256 to 1024: the last,
    // short segment of a response, one per connection at most. 1664:
    // full-sized segments.
    // One pool serves both ends, hence twice the frames.
    counts[0] = 2 * frames;
    for c in &mut counts[1..4] {
        *c = 2 * (conns as usize + 256);
    }
    counts[4] = 2 * frames;
    PairConfig {
        mtu: 1500,
        pool: PoolConfig {
            counts,
            chaining: false,
            references: if copy_bodies { 0 } else { 2 * frames },
        },
        queue_capacity: frames,
        // Frames cross by hand-over, as smoltcp's device pair does here.
        shared_pool: true,
        ..PairConfig::default()
    }
}

/// Rusty's server and client over the pair driver.
pub struct RustyPair {
    server: Stack<HttpServer<Pages>>,
    client: Stack<HttpLoadClient<Pages>>,
    ds: PairDriver,
    dc: PairDriver,
    now: Instant,
}

impl RustyPair {
    /// Both ends for `config` (serving and expecting the 500-page set).
    pub fn new(config: &BenchConfig) -> Result<RustyPair, BenchError> {
        RustyPair::with_tcp(config, |_, _| {})
    }

    /// [`RustyPair::new`] with each end's TCP settings ([`tcp_config`])
    /// changed by `tune` first (called with the settings and whether they
    /// are the server's).
    pub fn with_tcp(
        config: &BenchConfig,
        tune: impl Fn(&mut TcpConfig, bool),
    ) -> Result<RustyPair, BenchError> {
        let mut server_tcp = tcp_config(config.conns, true);
        let mut client_tcp = tcp_config(config.conns, false);
        tune(&mut server_tcp, true);
        tune(&mut client_tcp, false);
        let pages = Pages::Thesis(rusty_fixtures::page_set());
        // The client checks bodies against its own copy of the pages: the
        // server sends from `pages` by reference, so those very bytes are
        // what the client receives.
        let expected = Pages::Thesis(rusty_fixtures::client_page_set());
        let (ds, dc) = pair(&pair_config(config.conns, config.copy_bodies));
        let cidr = |ip| Ipv4Cidr::new(ip, 24).ok_or(BenchError::Prefix);
        let mut is = InterfaceConfig::new(cidr(SERVER_IP)?);
        let mut ic = InterfaceConfig::new(cidr(CLIENT_IP)?);
        is.announce = false;
        ic.announce = false;
        let now = Instant::ZERO;
        let mut server = Stack::new(
            &ds.capabilities(),
            is,
            server_tcp,
            HttpServer::new(pages),
            now,
        );
        let client_config = HttpClientConfig {
            concurrency: config.conns as usize,
            max_requests: None,
            seed: config.seed,
            ..HttpClientConfig::new(SERVER_IP, HTTP_PORT)
        };
        let mut client = Stack::new(
            &dc.capabilities(),
            ic,
            client_tcp,
            HttpLoadClient::new(client_config, expected),
            now,
        );
        server
            .listen(HTTP_PORT, config.conns as usize + 64)
            .map_err(BenchError::RustyListen)?;
        server
            .iface_mut()
            .add_static_arp(CLIENT_IP, dc.mac())
            .map_err(|_| BenchError::ArpCacheFull { host: "server" })?;
        client
            .iface_mut()
            .add_static_arp(SERVER_IP, ds.mac())
            .map_err(|_| BenchError::ArpCacheFull { host: "client" })?;
        Ok(RustyPair {
            server,
            client,
            ds,
            dc,
            now,
        })
    }

    /// The server stack.
    pub fn server(&self) -> &Stack<HttpServer<Pages>> {
        &self.server
    }

    /// The client stack.
    pub fn client(&self) -> &Stack<HttpLoadClient<Pages>> {
        &self.client
    }

    /// The drivers of the server's and the client's end.
    pub fn drivers(&self) -> (&PairDriver, &PairDriver) {
        (&self.ds, &self.dc)
    }
}

fn drops(s: &PairStats) -> u64 {
    s.queue_full + s.no_buffer + s.tx_alloc_failures
}

impl BenchPair for RustyPair {
    #[inline]
    fn round(&mut self) -> bool {
        let a = self.server.poll(&mut self.ds, self.now);
        let b = self.client.poll(&mut self.dc, self.now);
        a | b || self.ds.pending() > 0 || self.dc.pending() > 0
    }

    fn advance(&mut self) -> bool {
        let next = [self.server.poll_at(), self.client.poll_at()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else { return false };
        // A deadline not after now that had nothing to do: a timer-wheel
        // tick later.
        self.now = if next > self.now {
            next
        } else {
            self.now + Duration::from_millis(1)
        };
        self.ds.set_now(self.now);
        true
    }

    fn virtual_ns(&self) -> u64 {
        self.now.as_nanos()
    }

    fn totals(&self) -> Totals {
        let c = self.client.app().counters();
        let (s, k) = (self.ds.stats(), self.dc.stats());
        Totals {
            ok: c.ok,
            failed: c.failed_total(),
            bytes_ok: c.bytes_ok,
            bytes_corrupt: c.bytes_corrupt,
            frames: s.sent + k.sent,
            link_drops: drops(&s) + drops(&k),
        }
    }

    fn stop(&mut self) {
        self.client.app_mut().stop();
    }

    fn finished(&self) -> bool {
        self.client.app().is_finished()
    }

    fn counters(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for (end, stack) in [
            ("server", self.server.tcp_counters()),
            ("client", self.client.tcp_counters()),
        ] {
            for (name, value) in [
                ("retransmits", stack.retransmits),
                ("resets_sent", stack.resets_sent),
                ("delayed_acks", stack.delayed_acks),
                ("syn_cookies_sent", stack.syn_cookies_sent),
                ("time_wait_evicted", stack.time_wait_evicted),
                ("time_wait_reused", stack.time_wait_reused),
            ] {
                m.insert(format!("{end}_{name}"), value);
            }
        }
        let server = self.server.app().counters();
        m.insert("server_ok".into(), server.ok);
        m.insert("server_send_failed".into(), server.send_failed);
        m.insert(
            "server_drops".into(),
            self.server
                .iface()
                .counters()
                .nonzero_drops()
                .map(|(_, n)| n)
                .sum(),
        );
        m.insert(
            "client_drops".into(),
            self.client
                .iface()
                .counters()
                .nonzero_drops()
                .map(|(_, n)| n)
                .sum(),
        );
        m
    }
}
