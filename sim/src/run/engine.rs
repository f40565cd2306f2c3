//! The simulation engine: builds the world a [`Scenario`] describes, runs it
//! in virtual time, and reports.
//!
//! The topology is the thesis benchmark's: a server host (Rusty, one stack
//! per worker core and port, on the scenario's cost model) and a client
//! host (Rusty on a fast x86 model, or smoltcp), joined by one or two
//! links. With two links the client spreads its connections over both, as
//! the thesis did from 29 workers on. Port `p` of both hosts lives on
//! subnet `10.0.p.0/24`: the server is `.1`, the client `.2`.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::PathBuf;

use rusty_apps::{EchoServer, HttpClientConfig, HttpLoadClient, HttpServer};
use rusty_stack::mem::buf::{PoolConfig, NUM_CLASSES};
use rusty_stack::nic::rss::MICROSOFT_RSS_KEY;
use rusty_stack::stack::ListenError;
use rusty_stack::tcp::TcpConfig;
use rusty_stack::time::{Duration, Instant};
use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr, MacAddr};

use crate::cli::{Progress, RunOptions};
use crate::hosts::attacker::{AttackTarget, AttackerHost};
use crate::hosts::cost::CostModel;
use crate::hosts::rusty::{PortSpec, RustyHost, RustyHostConfig};
use crate::kernel::check::{CheckError, Checks};
use crate::kernel::determinism::Trace;
use crate::kernel::rng::{core_port_index, Seeds};
use crate::kernel::world::World;
use crate::net::link::{Link, LinkConfig, TapPoint};
use crate::net::nic_port::NicKind;
use crate::run::report::{AttackReport, CoreReport, HostFaultReport, LinkReport, Report};
use crate::scenario::workload::{BulkServer, ClientStats, Pages, StreamClient, StreamMode};
use crate::scenario::{ClientKind, PageSpec, Scenario, Workload};

/// The server's listening port.
pub const SERVER_PORT: u16 = 80;

/// Address of `host` (1 = server, 2 = client) on port `p`.
pub fn address(p: usize, host: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, p as u8, host)
}

fn mac(p: usize, host: u8) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, p as u8, host])
}

/// The link settings of a scenario.
pub fn link_config(scenario: &Scenario) -> LinkConfig {
    let l = &scenario.links;
    LinkConfig {
        bandwidth_bps: (l.bandwidth_gbps * 1e9) as u64,
        delay: Duration::from_nanos((l.delay_us * 1e3) as u64),
        queue_limit_bytes: l.queue_kb as usize * 1024,
        faults: l.faults.clone(),
    }
}

/// The server's seeds: subtree `("server", 0)` of the scenario's seed.
pub fn server_seeds(scenario: &Scenario) -> Seeds {
    Seeds::new(scenario.seed).subtree("server", 0)
}

/// The client's seeds: subtree `("client", seed_offset)` of the scenario's
/// seed, so another offset varies every choice of the client (its TCP
/// secrets, page choices, smoltcp's seeds) and none of the server's or the
/// links'.
pub fn client_seeds(scenario: &Scenario) -> Seeds {
    Seeds::new(scenario.seed).subtree("client", scenario.client.seed_offset)
}

fn share(total: u32, parts: usize, index: usize) -> usize {
    let parts = parts.max(1);
    let base = total as usize / parts;
    base + usize::from(index < total as usize % parts)
}

/// The share of a request budget of `max` requests of the client
/// application `index` of `apps`, when `conns` connections are shared out
/// as [`share`] does: split evenly over the applications that hold a
/// connection (the first `min(conns, apps)`), so every budgeted request is
/// started, and none by an application without a connection. `None`
/// without a budget.
pub fn request_budget(max: Option<u64>, conns: u32, apps: usize, index: usize) -> Option<u64> {
    let max = max?;
    let parts = (conns as usize).min(apps).max(1) as u64;
    let index = index as u64;
    if index >= parts {
        return Some(0);
    }
    Some(max / parts + u64::from(index < max % parts))
}

/// What client application `index` of `apps` gets of `scenario`'s
/// client: its connections ([`share`]) and its request budget
/// ([`request_budget`]).
fn app_share(scenario: &Scenario, apps: usize, index: usize) -> (usize, Option<u64>) {
    let conns = scenario.client.conns.max(1);
    (
        share(conns, apps, index),
        request_budget(scenario.max_requests, conns, apps, index),
    )
}

/// The hosts and links of a scenario, built and wired, not yet run.
pub struct Setup {
    /// The world.
    pub world: World,
    /// The server host.
    pub server: usize,
    /// The client host.
    pub client: usize,
    /// The attacker host, if the scenario has one.
    pub attacker: Option<usize>,
}

/// Adds `scenario`'s attacker, if any, on a mirror port of every link,
/// aiming at the server's ports.
fn add_attacker(world: &mut World, scenario: &Scenario) -> Option<usize> {
    let spec = scenario.attacker.clone()?;
    let links = scenario.link_count().max(1) as usize;
    let targets = (0..links)
        .map(|p| AttackTarget {
            mac: mac(p, 1),
            ip: address(p, 1),
            port: SERVER_PORT,
        })
        .collect();
    let seeds = Seeds::new(scenario.seed).subtree("attacker", 0);
    let host = world.add_host(Box::new(AttackerHost::new(spec, targets, &seeds)));
    for p in 0..links {
        world.mirror(p, (host, p));
    }
    Some(host)
}

/// The pages of `scenario`.
pub fn pages(scenario: &Scenario) -> Pages {
    match scenario.client.pages {
        PageSpec::Thesis => Pages::Thesis(rusty_fixtures::page_set()),
        PageSpec::Small { count, bytes } => Pages::small(count as usize, bytes as usize),
    }
}

/// The MSS of the scenario's MTU.
fn mss(scenario: &Scenario) -> u16 {
    scenario.server.mtu - 40
}

/// Why the engine could not build or run a scenario.
#[derive(Debug)]
pub enum EngineError {
    /// The server could not listen.
    Listen(ListenError),
    /// Connections were left after the liveness phase's drain.
    Liveness {
        /// The scenario's seed.
        seed: u64,
        /// Virtual time at the end of the drain.
        at: Instant,
        /// Connections the server still had.
        server_connections: usize,
        /// Connections the client still had.
        client_connections: usize,
        /// Those connections by TCP state, per host.
        states: String,
    },
    /// The smoltcp client cannot run the scenario.
    Client(crate::hosts::smoltcp::SmolConfigError),
    /// The capture file could not be created.
    CreatePcap {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The capture's link does not exist.
    NoLink(usize),
    /// The capture file could not be written.
    WritePcap {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The capture failed while the scenario ran.
    Pcap(io::Error),
    /// A determinism check ran a scenario whose engine kept no trace.
    NoDeterminismTrace,
    /// A checker found a violation (see [`crate::kernel::check`]).
    Check(CheckError),
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineError::Listen(e) => write!(f, "listen: {e}"),
            EngineError::Client(e) => write!(f, "{e}"),
            EngineError::Liveness {
                seed,
                at,
                server_connections,
                client_connections,
                states,
            } => write!(
                f,
                "liveness (seed {seed}): after the links healed, {server_connections} server and \
                 {client_connections} client connections were still open at {at} ({states})"
            ),
            EngineError::CreatePcap { path, source } => {
                write!(f, "cannot create {}: {source}", path.display())
            }
            EngineError::NoLink(link) => write!(f, "no link {link} to capture"),
            EngineError::WritePcap { path, source } => {
                write!(f, "cannot write {}: {source}", path.display())
            }
            EngineError::Pcap(e) => write!(f, "pcap: {e}"),
            EngineError::NoDeterminismTrace => f.write_str("the engine kept no determinism trace"),
            EngineError::Check(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for EngineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EngineError::Listen(e) => Some(e),
            EngineError::CreatePcap { source, .. } | EngineError::WritePcap { source, .. } => {
                Some(source)
            }
            EngineError::Pcap(e) => Some(e),
            _ => None,
        }
    }
}

/// The server host of `scenario`: its workers on its cost model, TCP with
/// the scenario's knobs and capacities for its share of the connections.
pub fn server_config(scenario: &Scenario) -> Result<RustyHostConfig, EngineError> {
    let links = scenario.link_count().max(1) as usize;
    let workers = scenario.server.workers.max(1) as usize;
    let conns = scenario.client.conns.max(1);
    let cost = scenario.server.cost_model;
    let mut tcp = scenario.server.tcp_config();
    let per_core = conns as usize / workers + 1;
    tcp.max_connections = (per_core * 2 + 64).min(1 << 16);
    tcp.time_wait_capacity = 4096;
    tcp.ooo_pool_segments = 1024;
    tcp.mss = Some(mss(scenario));
    Ok(RustyHostConfig {
        name: "server".into(),
        cores: workers,
        ports: (0..links)
            .map(|p| PortSpec {
                mac: mac(p, 1),
                ip: cidr(p, 1),
            })
            .collect(),
        mtu: usize::from(scenario.server.mtu),
        tcp,
        seeds: server_seeds(scenario),
        pool: pool_for_mtu([2048, 512, 256, 256, 2048, 8, 4, 4], scenario.server.mtu),
        ring: 1024,
        batch: 16,
        cost,
        static_arp: Vec::new(),
        rss_key: MICROSOFT_RSS_KEY,
        hash_known: true,
        nic: scenario.server.nic,
        faults: scenario.server.faults.clone(),
    })
}

/// A host's buffer pools: `counts` per size class, with the class a
/// full-sized frame of `mtu` needs given as many buffers as the 1664-byte
/// class (a jumbo MTU's frames take a jumbo class, and a handful of jumbo
/// buffers would be exhausted by one connection's out-of-order segments).
pub fn pool_for_mtu(mut counts: [usize; NUM_CLASSES], mtu: u16) -> PoolConfig {
    let frame = usize::from(mtu) + rusty_stack::wire::ethernet::HEADER_LEN;
    if let Some(class) = rusty_stack::mem::buf::class_for_len(frame) {
        counts[class] = counts[class].max(counts[4]);
    }
    PoolConfig {
        counts,
        chaining: false,
        // The simulated NIC copies every frame onto its link.
        references: 0,
    }
}

/// The Rusty client host of `scenario`: a fast x86 host whose cores share
/// the connections.
pub fn client_config(scenario: &Scenario) -> RustyHostConfig {
    let links = scenario.link_count().max(1) as usize;
    let conns = scenario.client.conns.max(1);
    let client_cores = scenario.client.cores.max(1) as usize;
    let mut tcp = TcpConfig {
        initial_window: None,
        mss: Some(mss(scenario)),
        max_connections: (conns as usize / client_cores + 64).min(1 << 16),
        time_wait_capacity: 1024,
        ooo_pool_segments: 4096,
        rx_budget: 256 * 1024,
        ..TcpConfig::default()
    };
    scenario.server.tcp.apply(&mut tcp);
    RustyHostConfig {
        name: "client".into(),
        cores: client_cores,
        ports: (0..links)
            .map(|p| PortSpec {
                mac: mac(p, 2),
                ip: cidr(p, 2),
            })
            .collect(),
        mtu: usize::from(scenario.server.mtu),
        tcp,
        seeds: client_seeds(scenario),
        pool: pool_for_mtu([2048, 512, 256, 256, 8192, 8, 4, 4], scenario.server.mtu),
        ring: 4096,
        batch: 64,
        cost: CostModel::X86,
        static_arp: Vec::new(),
        rss_key: MICROSOFT_RSS_KEY,
        hash_known: scenario.client.hash_known,
        nic: NicKind::Sim,
        faults: Default::default(),
    }
}

/// The settings of the HTTP load client on the client's `core` and
/// `port`: its share of the connections and of the run's requests
/// ([`request_budget`]), its seed from the client's tree.
pub fn http_client_config(scenario: &Scenario, core: usize, port: usize) -> HttpClientConfig {
    let links = scenario.link_count().max(1) as usize;
    let apps = scenario.client.cores.max(1) as usize * links;
    let mut config = HttpClientConfig::new(address(port, 1), SERVER_PORT);
    // The run's request budget is shared out so that the requests (and
    // the pages: the k-th request of an application draws its k-th page)
    // do not depend on timing.
    (config.concurrency, config.max_requests) = app_share(scenario, apps, core * links + port);
    config.seed = client_seeds(scenario).seed_u64("http-client", core_port_index(core, port));
    config
}

/// Joins client port `p` and server port `p` by link `p`, for every link
/// of `scenario`, each with its own seeded streams.
pub fn connect_links(world: &mut World, scenario: &Scenario, client: usize, server: usize) {
    let seeds = Seeds::new(scenario.seed);
    let checks = world.checks();
    world.set_checks(Checks {
        seed: scenario.seed,
        ..checks
    });
    for p in 0..scenario.link_count().max(1) as usize {
        let link = Link::seeded(link_config(scenario), &seeds, p as u64);
        world.connect(link, (client, p), (server, p));
    }
}

/// Builds the world of `scenario`.
pub fn build(scenario: &Scenario) -> Result<Setup, EngineError> {
    let links = scenario.link_count().max(1) as usize;
    let pages = pages(scenario);
    let server_config = server_config(scenario)?;
    let client_config = client_config(scenario);
    let client_cores = client_config.cores;
    if scenario.client.kind == ClientKind::Smoltcp {
        let smol = crate::hosts::smoltcp::SmolHostConfig::for_scenario(scenario, pages)
            .map_err(EngineError::Client)?;
        let mut world = World::new();
        let server = match scenario.workload {
            Workload::ThesisHttp {} => world
                .add_host(Box::new(RustyHost::new(server_config, |_, _| {
                    HttpServer::new(pages)
                }))),
            Workload::Echo { .. } => world
                .add_host(Box::new(RustyHost::new(server_config, |_, _| {
                    EchoServer::new()
                }))),
            Workload::Bulk { bytes } => world
                .add_host(Box::new(RustyHost::new(server_config, move |_, _| {
                    BulkServer { bytes }
                }))),
        };
        let client = world.add_host(Box::new(crate::hosts::smoltcp::SmolHost::new(smol)));
        connect_links(&mut world, scenario, client, server);
        let attacker = add_attacker(&mut world, scenario);
        return Ok(Setup {
            world,
            server,
            client,
            attacker,
        });
    }

    let mut world = World::new();
    let apps = client_cores * links;
    let (server, client) = match scenario.workload {
        Workload::ThesisHttp {} => {
            let server = world.add_host(Box::new(RustyHost::new(server_config, |_, _| {
                HttpServer::new(pages)
            })));
            let client = world.add_host(Box::new(RustyHost::new(client_config, |core, port| {
                HttpLoadClient::new(http_client_config(scenario, core, port), pages)
            })));
            (server, client)
        }
        Workload::Echo { message_bytes } => {
            let server = world.add_host(Box::new(RustyHost::new(server_config, |_, _| {
                EchoServer::new()
            })));
            let client = world.add_host(Box::new(RustyHost::new(client_config, |core, port| {
                let mode = StreamMode::Echo {
                    message: message_bytes,
                };
                let (concurrency, budget) = app_share(scenario, apps, core * links + port);
                StreamClient::new((address(port, 1), SERVER_PORT), mode, concurrency)
                    .with_max_requests(budget)
            })));
            (server, client)
        }
        Workload::Bulk { bytes } => {
            let server = world.add_host(Box::new(RustyHost::new(server_config, move |_, _| {
                BulkServer { bytes }
            })));
            let client = world.add_host(Box::new(RustyHost::new(client_config, |core, port| {
                let (concurrency, budget) = app_share(scenario, apps, core * links + port);
                StreamClient::new(
                    (address(port, 1), SERVER_PORT),
                    StreamMode::Bulk { bytes },
                    concurrency,
                )
                .with_max_requests(budget)
            })));
            (server, client)
        }
    };
    connect_links(&mut world, scenario, client, server);
    let attacker = add_attacker(&mut world, scenario);
    Ok(Setup {
        world,
        server,
        client,
        attacker,
    })
}

/// Address and subnet of `host` on port `p`.
fn cidr(p: usize, host: u8) -> Ipv4Cidr {
    Ipv4Cidr::new(address(p, host), 24).expect("24 is a valid prefix length")
}

impl Setup {
    /// Starts the server listening.
    pub fn start(&mut self) -> Result<(), EngineError> {
        self.world
            .host_mut(self.server)
            .listen(SERVER_PORT, 1024)
            .map_err(EngineError::Listen)
    }

    /// The client's statistics so far.
    pub fn client_stats(&self) -> ClientStats {
        self.world
            .host(self.client)
            .client_stats()
            .unwrap_or_default()
    }

    /// Runs until `end`, or until `max_requests` requests have completed,
    /// reporting progress every virtual millisecond.
    pub fn run_until(
        &mut self,
        end: Instant,
        max_requests: Option<u64>,
        progress: &mut dyn FnMut(Progress),
    ) {
        let total_s = (end - Instant::ZERO).as_secs_f64();
        let client = self.client;
        let slice = Duration::from_millis(1);
        let mut checked = 0u64;
        loop {
            let limit = (self.world.now() + slice).min(end);
            self.world.run_until(limit, |w| {
                let Some(max) = max_requests else {
                    return false;
                };
                checked += 1;
                if !checked.is_multiple_of(32) {
                    return false;
                }
                let stats = w.host(client).client_stats().unwrap_or_default();
                stats.ok + stats.failed() >= max
            });
            let stats = self.client_stats();
            progress(Progress {
                virtual_s: (self.world.now() - Instant::ZERO).as_secs_f64(),
                total_s,
                requests_ok: stats.ok,
            });
            let done = max_requests.is_some_and(|max| stats.ok + stats.failed() >= max);
            if done || self.world.now() >= end {
                break;
            }
        }
    }

    /// Stops the clients from opening connections and runs until every
    /// connection of both hosts is gone (TIME-WAIT aside), or `limit` more
    /// virtual time has passed. Returns whether everything closed.
    pub fn drain(&mut self, limit: Duration) -> bool {
        self.world.host_mut(self.client).stop_clients();
        let end = self.world.now() + limit;
        let (server, client) = (self.server, self.client);
        let idle = |w: &World| {
            w.host(server).active_connections() == 0 && w.host(client).active_connections() == 0
        };
        while self.world.now() < end {
            let step = (self.world.now() + Duration::from_millis(100)).min(end);
            self.world.run_until(step, |_| false);
            if idle(&self.world) {
                return true;
            }
        }
        idle(&self.world)
    }

    /// The liveness phase: heals every link (all faults off), stops the
    /// clients, and drains; fails naming what was left when connections
    /// remain after `liveness.drain_s` virtual seconds.
    pub fn liveness(
        &mut self,
        scenario: &Scenario,
        liveness: &crate::scenario::LivenessSpec,
    ) -> Result<(), EngineError> {
        for slot in self.world.links_mut() {
            // No faults at all always validates.
            let _ = slot.link.set_faults(crate::net::link::Faults::default());
        }
        let hosts = [Some(self.server), Some(self.client), self.attacker];
        for host in hosts.into_iter().flatten() {
            self.world.host_mut(host).heal();
        }
        let limit = Duration::from_nanos((liveness.drain_s * 1e9) as u64);
        if self.drain(limit) {
            return Ok(());
        }
        let (server, client) = (self.server, self.client);
        let states = |h| {
            let states: Vec<String> = self
                .world
                .host(h)
                .connection_states()
                .into_iter()
                .map(|(state, n)| format!("{n} {state}"))
                .collect();
            states.join(", ")
        };
        Err(EngineError::Liveness {
            seed: scenario.seed,
            at: self.world.now(),
            server_connections: self.world.host(server).active_connections(),
            client_connections: self.world.host(client).active_connections(),
            states: format!("server [{}], client [{}]", states(server), states(client)),
        })
    }

    /// The report of what happened so far.
    pub fn report(&mut self, scenario: &Scenario) -> Report {
        let (server, client) = (self.server, self.client);
        let world = &mut self.world;
        let mut report = Report::new(scenario);
        let now = world.now();
        report.virtual_s = (now - Instant::ZERO).as_secs_f64();
        let stats: ClientStats = world.host(client).client_stats().unwrap_or_default();
        report.requests_ok = stats.ok;
        report.requests_failed = stats.failed();
        report.requests_failed_by_reason = stats.failures;
        report.requests_in_flight = stats.in_flight;
        report.bytes_ok = stats.bytes_ok;
        report.bytes_corrupt = stats.bytes_corrupt;
        report.latency_p50_ms = stats
            .latency
            .quantile(0.5)
            .map(|d| d.as_nanos() as f64 / 1e6);
        report.latency_p99_ms = stats
            .latency
            .quantile(0.99)
            .map(|d| d.as_nanos() as f64 / 1e6);
        let server_tcp = world.host(server).tcp_counters();
        let client_tcp = world.host(client).tcp_counters();
        report.retransmits = server_tcp.retransmits + client_tcp.retransmits;
        for host in [server, client] {
            let h = world.host(host);
            let (iface, tcp) = (h.iface_counters(), h.tcp_counters());
            for (reason, n) in iface.nonzero_drops().chain(tcp.nonzero_drops()) {
                *report.drops.entry(reason.as_str().to_string()).or_default() += n;
            }
            let nic = h.nic_stats();
            for (name, n) in [
                ("nic_queue_full", nic.rx_queue_full),
                ("nic_no_buffer", nic.rx_no_buffer),
                ("nic_too_long", nic.rx_too_long),
            ] {
                if n > 0 {
                    *report.drops.entry(name.to_string()).or_default() += n;
                }
            }
        }
        let busy = world.busy_fractions(server);
        report.per_core = busy
            .iter()
            .enumerate()
            .map(|(core, &busy_frac)| {
                let s = world.host(server).core_stats(core);
                CoreReport {
                    core: core as u32,
                    busy_frac,
                    rx_frames: s.rx_frames,
                    tx_frames: s.tx_frames,
                }
            })
            .collect();
        report.client_busy_frac = world.busy_fractions(client).into_iter().fold(0.0, f64::max);
        let elapsed = report.virtual_s.max(1e-9);
        for (i, slot) in world.links().iter().enumerate() {
            let stats = slot.link.stats();
            let (ab, ba) = (&stats.a_to_b, &stats.b_to_a);
            for (name, n) in [
                ("link_lost_random", ab.lost_random + ba.lost_random),
                ("link_lost_burst", ab.lost_burst + ba.lost_burst),
                ("link_lost_down", ab.lost_down + ba.lost_down),
                ("link_queue_full", ab.lost_queue + ba.lost_queue),
            ] {
                if n > 0 {
                    *report.drops.entry(name.to_string()).or_default() += n;
                }
            }
            let bytes = ab.delivered_bytes + ba.delivered_bytes;
            let capacity = slot.link.config().bandwidth_bps as f64 * elapsed * 2.0 / 8.0;
            report.per_link.push(LinkReport {
                link: i as u8,
                frames: ab.delivered_frames + ba.delivered_frames,
                bytes,
                utilization: if capacity > 0.0 {
                    (bytes as f64 / capacity).min(1.0)
                } else {
                    0.0
                },
                lost: ab.lost_random
                    + ba.lost_random
                    + ab.lost_burst
                    + ba.lost_burst
                    + ab.lost_down
                    + ba.lost_down,
                duplicated: ab.duplicated + ba.duplicated,
                reordered: ab.reordered + ba.reordered,
                corrupted: ab.corrupted + ba.corrupted - ab.fcs_dropped - ba.fcs_dropped,
                fcs_dropped: ab.fcs_dropped + ba.fcs_dropped,
                queue_drops: ab.lost_queue + ba.lost_queue,
            });
        }
        let trace = world.trace();
        report.determinism = trace.enabled().then(|| trace.summary());
        let server_host = world.host(server);
        if let Some(sent) = self.attacker.and_then(|a| world.host(a).attack_counters()) {
            report.attack = Some(AttackReport {
                sent,
                syn_cookies_sent: server_tcp.syn_cookies_sent,
                syn_cookies_accepted: server_tcp.syn_cookies_accepted,
                challenge_acks: server_tcp.challenge_acks,
                acks_rate_limited: server_tcp.acks_rate_limited,
                resets_received: server_tcp.resets_received,
            });
        }
        if let Some(counters) = server_host.fault_counters() {
            let nic = server_host.nic_stats();
            report.host_faults = Some(HostFaultReport {
                counters,
                tx_alloc_failed: nic.tx_alloc_failed,
                rx_no_buffer: nic.rx_no_buffer,
                rx_queue_full: nic.rx_queue_full,
            });
        }
        if report.attack.is_some() || report.host_faults.is_some() {
            report.server_memory = server_host.memory();
        }
        report.server_cost = server_host.cost_charged();
        report.memory_utilization = server_host.memory_utilization(world.now());
        report.compute_rates();
        report
    }
}

/// Runs `scenario` and reports on it (see [`crate::cli::Engine`]).
pub fn run(
    scenario: &Scenario,
    options: &RunOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, EngineError> {
    let mut setup = build(scenario)?;
    setup.world.set_trace(Trace::new(options.trace.clone()));
    let checks = setup.world.checks();
    setup.world.set_checks(Checks {
        panic: false,
        ..checks
    });
    setup.start()?;
    let pcap_path = options
        .pcap
        .clone()
        .or_else(|| scenario.pcap.as_ref().map(|p| p.path.clone()));
    let pcap_link = scenario
        .pcap
        .as_ref()
        .map(|p| usize::from(p.link))
        .unwrap_or(0);
    if let Some(path) = &pcap_path {
        let file = File::create(path).map_err(|source| EngineError::CreatePcap {
            path: path.clone(),
            source,
        })?;
        let slot = setup
            .world
            .links_mut()
            .get_mut(pcap_link)
            .ok_or(EngineError::NoLink(pcap_link))?;
        slot.link
            .attach_capture(TapPoint::Send, BufWriter::new(file))
            .map_err(|source| EngineError::WritePcap {
                path: path.clone(),
                source,
            })?;
    }
    let end = Instant::ZERO + Duration::from_nanos((scenario.duration * 1e9) as u64);
    setup.run_until(end, scenario.max_requests, progress);
    setup.world.check().map_err(EngineError::Check)?;
    if let Some(liveness) = &scenario.liveness {
        setup.liveness(scenario, liveness)?;
        // Drained: every buffer back, every counter balanced.
        setup.world.check().map_err(EngineError::Check)?;
    }
    let mut report = setup.report(scenario);
    if pcap_path.is_some() {
        let now = setup.world.now();
        let slot = &mut setup.world.links_mut()[pcap_link];
        for (_, result) in slot.link.finish_captures(now) {
            let summary = result.map_err(EngineError::Pcap)?;
            report.pcap_sha256 = Some(summary.sha256);
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_budgets_add_up_and_skip_applications_without_connections() {
        for (max, conns, apps) in [(400u64, 20u32, 4usize), (7, 3, 4), (5, 1, 8), (0, 9, 3)] {
            let budgets: Vec<u64> = (0..apps)
                .map(|i| request_budget(Some(max), conns, apps, i).unwrap())
                .collect();
            assert_eq!(budgets.iter().sum::<u64>(), max, "{max} {conns} {apps}");
            for (i, b) in budgets.iter().enumerate() {
                if share(conns, apps, i) == 0 {
                    assert_eq!(*b, 0, "an application without a connection");
                }
            }
        }
        assert_eq!(request_budget(None, 20, 4, 0), None);
    }
}
