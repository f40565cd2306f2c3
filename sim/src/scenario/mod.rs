//! Scenarios: what one simulation run sets up.
//!
//! A [`Scenario`] describes the server (workers, NIC ports, cost model, TCP
//! settings), the client (a Rusty or smoltcp load generator), the workload,
//! the links and their faults, and an optional packet capture. Scenarios come
//! from built-in constructors ([`Scenario::thesis`], [`Scenario::small`], …)
//! or from TOML files; every field of a file is optional and defaults to the
//! [`thesis`](Scenario::thesis) benchmark, and unknown fields are errors.
//!
//! ```
//! use rusty_sim::scenario::{Scenario, CliOverrides};
//!
//! let mut s = Scenario::load("small").unwrap();
//! s.apply_overrides(&CliOverrides { conns: Some(8), ..CliOverrides::default() });
//! s.validate().unwrap();
//! assert_eq!(s.client.conns, 8);
//!
//! let s: Scenario = toml::from_str("name = \"mine\"\n[server]\nworkers = 4\n").unwrap();
//! assert_eq!(s.server.workers, 4);
//! assert_eq!(s.server.mtu, 1500); // from the thesis defaults
//! ```

pub mod workload;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::hosts::attacker::AttackSpec;
pub use crate::hosts::cost::CostModel;
pub use crate::hosts::faults::HostFaults;
pub use crate::net::link::{CorruptScope, Faults, Flap, GilbertElliott, Window};

pub use crate::net::nic_port::NicKind;

/// The scenario a plain `rusty-sim run` uses.
pub const DEFAULT_SCENARIO: &str = "thesis";

/// With at least this many workers the thesis uses two links (and balances
/// the connections over them); below it one link carries everything.
pub const THESIS_TWO_LINK_WORKERS: u32 = 29;

/// The most workers (server cores) a scenario may have.
pub const MAX_WORKERS: u32 = 64;

/// The smallest MTU a scenario may use: the IPv4 minimum (RFC 791), which
/// leaves a 28-byte MSS (16 bytes of data with timestamps).
pub const MIN_MTU: u16 = 68;

/// The most NIC ports (links) the server has: the TILE-Gx36's four
/// 10 Gbit/s XAUI ports.
pub const MAX_PORTS: u8 = 4;

/// The largest MTU a scenario may use (jumbo frames).
pub const MAX_MTU: u16 = 9000;

// Upper bounds of everything that sizes memory or time, checked by
// `Scenario::validate` before anything runs (a scenario beyond them is
// refused with exit code 2, never run out of memory or for ever).

/// The longest run, in virtual seconds (an hour).
pub const MAX_DURATION_S: f64 = 3600.0;
/// The most requests a run may be asked to complete (`max_requests`).
pub const MAX_REQUESTS: u64 = 100_000_000;
/// The most client connections at once.
pub const MAX_CONNS: u32 = 100_000;
/// The most pages of a small page set.
pub const MAX_PAGES: u32 = 100_000;
/// The largest page of a small page set, in bytes (16 MiB).
pub const MAX_PAGE_BYTES: u32 = 16 << 20;
/// The largest small page set, pages times bytes (1 GiB: it is held in
/// memory).
pub const MAX_PAGE_SET_BYTES: u64 = 1 << 30;
/// The largest echo message, in bytes (16 MiB).
pub const MAX_MESSAGE_BYTES: u32 = 16 << 20;
/// The largest bulk transfer per connection, in bytes (1 TiB; streamed,
/// not stored).
pub const MAX_BULK_BYTES: u64 = 1 << 40;
/// The largest initial congestion window, in bytes (16 MiB).
pub const MAX_INITIAL_WINDOW: u32 = 16 << 20;
/// The fastest link, in Gbit/s.
pub const MAX_BANDWIDTH_GBPS: f64 = 1000.0;
/// The longest one-way link delay, in microseconds (10 s).
pub const MAX_DELAY_US: f64 = 10_000_000.0;
/// The largest transmit queue per link direction, in kilobytes (1 GiB).
pub const MAX_QUEUE_KB: u32 = 1 << 20;
/// The longest reordering delay, flap period or outage, in seconds.
pub const MAX_FAULT_TIME_S: u64 = 3600;
/// The longest TCP timer setting (delayed ACK, minimum RTO, TIME-WAIT),
/// in milliseconds (10 minutes).
pub const MAX_TIMER_MS: u64 = 600_000;

/// The names of the built-in scenarios, in the order `--help` lists them.
pub const BUILTIN_NAMES: &[&str] = &[
    "thesis",
    "echo",
    "bulk",
    "small",
    "small-echo",
    "small-lossy",
];

/// A complete description of one simulation run.
///
/// Every field has a default (the thesis benchmark), so a TOML file only
/// names what it changes. See the [module documentation](self).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    /// Name shown in reports. A file that leaves it out is named after the
    /// file (its stem).
    #[serde(default)]
    pub name: String,
    /// Seed of every random choice in the run (ISNs, faults, page picks).
    pub seed: u64,
    /// Virtual seconds to simulate (finite, above zero).
    pub duration: f64,
    /// The client issues exactly this many requests, shared over its
    /// applications ([`crate::run::engine::request_budget`]; the k-th
    /// request of an application asks for its k-th page, whatever the
    /// timing), and the run ends when all are done (ok or failed) or at
    /// `duration`. The same seed therefore gives the same requests and
    /// bytes through any NIC or cost profile.
    pub max_requests: Option<u64>,
    /// The server under test.
    pub server: ServerSpec,
    /// The load generator.
    pub client: ClientSpec,
    /// What the client asks of the server.
    pub workload: Workload,
    /// The links between client and server (all links alike).
    pub links: LinkSpec,
    /// A packet capture of one link, if any.
    pub pcap: Option<PcapSpec>,
    /// A liveness phase after `duration`, if any: the links heal (every
    /// fault off) and the run goes on until every connection is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<LivenessSpec>,
    /// A hostile host on the server's segment, if any (`[attacker]`, see
    /// [`crate::hosts::attacker`]); it stops when the liveness phase
    /// begins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attacker: Option<AttackSpec>,
}

/// The liveness phase of a run (`rusty-sim swarm` draws scenarios with
/// one): after the faulty `duration`, every link's faults are turned off,
/// the clients stop opening connections, and every connection must then
/// complete or fail visibly within `drain_s` virtual seconds — or the run
/// fails (exit code 1), naming what was left.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LivenessSpec {
    /// The most virtual seconds the drain may take (`0 < drain_s <=`
    /// [`MAX_DURATION_S`]).
    pub drain_s: f64,
}

/// Most workers the mPIPE NIC serves (one eDMA ring each).
pub const MPIPE_MAX_WORKERS: u32 = 24;

/// The server: its cores, NIC ports and TCP settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSpec {
    /// Worker cores, each running its own share-nothing stack
    /// (`1..=`[`MAX_WORKERS`]).
    pub workers: u32,
    /// NIC ports, each with its own link: `1..=`[`MAX_PORTS`], `"auto"`
    /// (the thesis rule, see [`Ports::resolve`]) or `"all"` (all four).
    pub ports: Ports,
    /// How much virtual CPU time the server's work costs: a profile name,
    /// `"tilegx36"`, `"rusty-2015"`, `"x86"` or `"zero"` ([`CostModel`]).
    pub cost_model: CostModel,
    /// MTU of every link, in bytes ([`MIN_MTU`]`..=`[`MAX_MTU`]).
    pub mtu: u16,
    /// Initial congestion window of the server's connections, in bytes.
    pub initial_window: u32,
    /// TCP settings of the server (the client uses its own defaults).
    pub tcp: TcpKnobs,
    /// The server's NIC: `"sim"` (the default) or `"mpipe"`, the emulated
    /// mPIPE through the stack's hardware backend (a build with the
    /// `mpipe` feature).
    #[serde(skip_serializing_if = "NicKind::is_sim")]
    pub nic: NicKind,
    /// Faults of the server host itself: stalled cores, squeezed pools
    /// and rings, failing transmit allocations (`[server.faults]`, see
    /// [`crate::hosts::faults`]).
    #[serde(skip_serializing_if = "HostFaults::is_none")]
    pub faults: HostFaults,
}

/// How many NIC ports (links) the server uses. Server port `i` is joined
/// to client port `i` by link `i`, and the client balances its
/// connections over the links (each client core opens an equal share on
/// every port).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Ports {
    /// "As the load needs", by the thesis rule: one link below
    /// [`THESIS_TWO_LINK_WORKERS`] workers, two from there on, whatever
    /// the MTU and cost model (the thesis measured the rule at MTU 1500 on
    /// the TILE-Gx36; a sweep that wants more links for a faster profile
    /// or a jumbo MTU asks for them with a count or [`Ports::All`]).
    #[default]
    Auto,
    /// All [`MAX_PORTS`] ports of the TILE-Gx36.
    All,
    /// Exactly this many ports (`1..=`[`MAX_PORTS`]).
    Count(u8),
}

/// TCP settings of the server, a subset of
/// [`rusty_stack::tcp::config::TcpConfig`] (see [`TcpKnobs::apply`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TcpKnobs {
    /// Delayed-ACK timeout in milliseconds; 0 acknowledges every segment.
    pub delayed_ack_ms: u64,
    /// Lower bound of the retransmission timeout, in milliseconds.
    pub min_rto_ms: u64,
    /// How long closed connections stay in TIME-WAIT, in milliseconds.
    pub time_wait_ms: u64,
    /// Offer and use SACK (RFC 2018).
    pub sack: bool,
    /// Offer and use timestamps (RFC 7323).
    pub timestamps: bool,
}

/// The load generator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientSpec {
    /// Which TCP stack the client runs.
    pub kind: ClientKind,
    /// Concurrent connections the client keeps busy (at least 1).
    pub conns: u32,
    /// Client cores (the client should not be the bottleneck; reports say
    /// when it was).
    pub cores: u32,
    /// Which subtree of [`Scenario::seed`] seeds the client (`("client",
    /// seed_offset)`, see [`crate::run::engine::client_seeds`]), so the client's
    /// choices can vary while the server's and the links' stay put.
    pub seed_offset: u64,
    /// The pages the server serves.
    pub pages: PageSpec,
    /// Whether the client's stacks know the NIC's flow hash. When they do,
    /// active opens pick ports whose replies reach the opening core; when
    /// they don't, ports are partitioned by core and replies that land on
    /// another core are forwarded to their owner through the inter-core
    /// rings.
    pub hash_known: bool,
}

/// Which TCP stack the load generator runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    /// Rusty itself.
    #[default]
    Rusty,
    /// smoltcp, an independent implementation.
    Smoltcp,
}

/// The pages the server serves.
///
/// In TOML: `"thesis"`, a number `N` (N small pages of
/// [`DEFAULT_SMALL_PAGE_BYTES`] bytes), or a table `{ count = N, bytes = B }`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PageSpec {
    /// The thesis' 500-page set ([`rusty_fixtures::page_set`]).
    #[default]
    Thesis,
    /// `count` generated pages of `bytes` bytes each: fast to build, for
    /// tests and CI.
    Small {
        /// Number of pages (at least 1).
        count: u32,
        /// Bytes per page (at least 1).
        bytes: u32,
    },
}

/// Page size of [`PageSpec::Small`] when a file gives only a count.
pub const DEFAULT_SMALL_PAGE_BYTES: u32 = 4096;

/// What the client asks of the server.
///
/// In TOML: a table with a `kind` key, e.g. `{ kind = "echo",
/// message_bytes = 64 }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Workload {
    /// The thesis benchmark: HTTP GETs of random pages of the page set.
    ThesisHttp {},
    /// Each connection sends messages and waits for them to come back.
    Echo {
        /// Bytes per message (at least 1).
        #[serde(default = "default_message_bytes")]
        message_bytes: u32,
    },
    /// Each connection receives one bulk transfer from the server.
    Bulk {
        /// Bytes per transfer (at least 1).
        #[serde(default = "default_bulk_bytes")]
        bytes: u64,
    },
}

fn default_message_bytes() -> u32 {
    64
}

fn default_bulk_bytes() -> u64 {
    64 << 20
}

/// Properties shared by every link between client and server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkSpec {
    /// Bandwidth of each direction, in Gbit/s (finite, above zero).
    pub bandwidth_gbps: f64,
    /// One-way propagation delay, in microseconds.
    pub delay_us: f64,
    /// Transmit queue of each direction, in kilobytes (at least 1); frames
    /// that do not fit are dropped. The default (32 MiB) stands for a host
    /// whose NIC applies back-pressure rather than dropping: 1000
    /// connections opening at once with a 29,200-byte initial window offer
    /// about 29 MB in one burst.
    pub queue_kb: u32,
    /// Faults injected on every link, in both directions: the link's own
    /// fault types ([`Faults`]: `loss`, `burst`, `duplicate`, `reorder`
    /// with `reorder_delay`, `corrupt` with `corrupt_scope` and
    /// `fcs_drop`, `down` windows, `flap`; durations and instants as
    /// seconds or strings with a unit, `"100us"`).
    pub faults: Faults,
}

/// A packet capture of one link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PcapSpec {
    /// The pcap file to write.
    pub path: PathBuf,
    /// Which link to capture (0-based, below the number of links).
    #[serde(default)]
    pub link: u8,
}

/// Values given on the command line that replace the scenario's.
///
/// `None` leaves the scenario's value alone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CliOverrides {
    /// `--seed`: [`Scenario::seed`].
    pub seed: Option<u64>,
    /// `--workers`: [`ServerSpec::workers`].
    pub workers: Option<u32>,
    /// `--conns`: [`ClientSpec::conns`].
    pub conns: Option<u32>,
    /// `--duration`: [`Scenario::duration`].
    pub duration: Option<f64>,
    /// `--requests`: [`Scenario::max_requests`].
    pub requests: Option<u64>,
    /// `--mtu`: [`ServerSpec::mtu`].
    pub mtu: Option<u16>,
    /// `--client`: [`ClientSpec::kind`].
    pub client: Option<ClientKind>,
    /// `--loss`: [`Faults::loss`].
    pub loss: Option<f64>,
    /// `--dup`: [`Faults::duplicate`].
    pub dup: Option<f64>,
    /// `--reorder`: [`Faults::reorder`].
    pub reorder: Option<f64>,
    /// `--corrupt`: [`Faults::corrupt`].
    pub corrupt: Option<f64>,
    /// `--pcap`: the path of [`Scenario::pcap`] (keeping its link, or link 0).
    pub pcap: Option<PathBuf>,
    /// `--nic`: [`ServerSpec::nic`].
    pub nic: Option<NicKind>,
}

/// Why a scenario could not be loaded or is not valid.
#[derive(Clone, Debug, PartialEq)]
pub enum ScenarioError {
    /// The name is neither a built-in scenario nor an existing file.
    UnknownName {
        /// The name that was given.
        name: String,
    },
    /// The scenario file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// The scenario file is not valid TOML, or does not describe a scenario
    /// (unknown field, wrong type, bad value).
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML error, with line and column.
        message: String,
    },
    /// A field has a value the simulator cannot run.
    Invalid {
        /// The scenario's name.
        scenario: String,
        /// The field, as a dotted TOML path (`links.faults.loss`).
        field: String,
        /// What is wrong with it.
        message: String,
    },
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioError::UnknownName { name } => write!(
                f,
                "unknown scenario '{name}': not a built-in scenario and no such file \
                 (built-in scenarios: {})",
                BUILTIN_NAMES.join(", ")
            ),
            ScenarioError::Io { path, message } => {
                write!(f, "cannot read scenario file {}: {message}", path.display())
            }
            ScenarioError::Parse { path, message } => write!(
                f,
                "invalid scenario file {}: {}",
                path.display(),
                message.trim_end()
            ),
            ScenarioError::Invalid {
                scenario,
                field,
                message,
            } => write!(f, "invalid scenario '{scenario}': {field} {message}"),
        }
    }
}

impl std::error::Error for ScenarioError {}

impl Default for Scenario {
    /// The thesis benchmark ([`Scenario::thesis`]) without a name.
    fn default() -> Self {
        Scenario {
            name: String::new(),
            seed: 1,
            duration: 3.0,
            max_requests: None,
            server: ServerSpec::default(),
            client: ClientSpec::default(),
            workload: Workload::ThesisHttp {},
            links: LinkSpec::default(),
            pcap: None,
            liveness: None,
            attacker: None,
        }
    }
}

impl Default for ServerSpec {
    /// The thesis server: 35 workers on a TILE-Gx36, ports by the thesis
    /// rule, MTU 1500, initial window 29,200 bytes.
    fn default() -> Self {
        ServerSpec {
            workers: 35,
            ports: Ports::Auto,
            cost_model: CostModel::TILEGX36,
            mtu: 1500,
            initial_window: 29_200,
            tcp: TcpKnobs::default(),
            nic: NicKind::Sim,
            faults: HostFaults::default(),
        }
    }
}

impl Default for TcpKnobs {
    /// The defaults of [`rusty_stack::tcp::config::TcpConfig`].
    fn default() -> Self {
        TcpKnobs {
            delayed_ack_ms: 40,
            min_rto_ms: 200,
            time_wait_ms: 60_000,
            sack: true,
            timestamps: true,
        }
    }
}

impl Default for ClientSpec {
    /// A Rusty client on 16 cores with 1000 connections, serving the
    /// thesis pages.
    fn default() -> Self {
        ClientSpec {
            kind: ClientKind::Rusty,
            conns: 1000,
            cores: 16,
            seed_offset: 0,
            pages: PageSpec::Thesis,
            hash_known: true,
        }
    }
}

impl Default for Workload {
    /// [`Workload::ThesisHttp`].
    fn default() -> Self {
        Workload::ThesisHttp {}
    }
}

impl Default for LinkSpec {
    /// A 10 Gbit/s link, 5 µs one way, 512 KB queues, no faults.
    fn default() -> Self {
        LinkSpec {
            bandwidth_gbps: 10.0,
            delay_us: 5.0,
            queue_kb: 32768,
            faults: Faults::default(),
        }
    }
}

impl Ports {
    /// The number of links for a server with `workers` workers: the thesis
    /// rule for [`Ports::Auto`], else the count.
    pub fn resolve(self, workers: u32) -> u8 {
        match self {
            Ports::Auto if workers >= THESIS_TWO_LINK_WORKERS => 2,
            Ports::Auto => 1,
            Ports::All => MAX_PORTS,
            Ports::Count(n) => n,
        }
    }
}

impl Serialize for Ports {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Ports::Auto => s.serialize_str("auto"),
            Ports::All => s.serialize_str("all"),
            Ports::Count(n) => s.serialize_u8(*n),
        }
    }
}

impl<'de> Deserialize<'de> for Ports {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Ports;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("1, 2, 3, 4, \"auto\" or \"all\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Ports, E> {
                match v {
                    1..=4 => Ok(Ports::Count(v as u8)),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Signed(v), &self)),
                }
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Ports, E> {
                match v {
                    1..=4 => Ok(Ports::Count(v as u8)),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Unsigned(v), &self)),
                }
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Ports, E> {
                match v {
                    "auto" => Ok(Ports::Auto),
                    "all" => Ok(Ports::All),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for PageSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        match self {
            PageSpec::Thesis => s.serialize_str("thesis"),
            PageSpec::Small { count, bytes } => {
                let mut st = s.serialize_struct("PageSpec", 2)?;
                st.serialize_field("count", count)?;
                st.serialize_field("bytes", bytes)?;
                st.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for PageSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Small {
            count: u32,
            #[serde(default = "default_small_bytes")]
            bytes: u32,
        }
        fn default_small_bytes() -> u32 {
            DEFAULT_SMALL_PAGE_BYTES
        }
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = PageSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"thesis\", a page count, or a table { count, bytes }")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<PageSpec, E> {
                match u32::try_from(v) {
                    Ok(count) => Ok(PageSpec::Small {
                        count,
                        bytes: DEFAULT_SMALL_PAGE_BYTES,
                    }),
                    Err(_) => Err(E::invalid_value(serde::de::Unexpected::Signed(v), &self)),
                }
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<PageSpec, E> {
                match u32::try_from(v) {
                    Ok(count) => Ok(PageSpec::Small {
                        count,
                        bytes: DEFAULT_SMALL_PAGE_BYTES,
                    }),
                    Err(_) => Err(E::invalid_value(serde::de::Unexpected::Unsigned(v), &self)),
                }
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PageSpec, E> {
                match v {
                    "thesis" => Ok(PageSpec::Thesis),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<PageSpec, A::Error> {
                let s = Small::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(PageSpec::Small {
                    count: s.count,
                    bytes: s.bytes,
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl TcpKnobs {
    /// Writes these settings into a stack configuration.
    pub fn apply(&self, config: &mut rusty_stack::tcp::config::TcpConfig) {
        use rusty_stack::time::Duration;
        config.delayed_ack = Duration::from_millis(self.delayed_ack_ms);
        config.min_rto = Duration::from_millis(self.min_rto_ms);
        config.time_wait = Duration::from_millis(self.time_wait_ms);
        config.sack = self.sack;
        config.timestamps = self.timestamps;
    }
}

impl ServerSpec {
    /// The server's TCP configuration: the stack defaults with
    /// [`ServerSpec::tcp`] and [`ServerSpec::initial_window`] applied.
    /// Capacities and the secret are left for the engine to size and seed.
    pub fn tcp_config(&self) -> rusty_stack::tcp::config::TcpConfig {
        let mut config = rusty_stack::tcp::config::TcpConfig::default();
        self.tcp.apply(&mut config);
        config.initial_window = Some(self.initial_window);
        config
    }
}

impl Scenario {
    /// The thesis benchmark: 35 workers on a TILE-Gx36 model, two 10 Gbit/s
    /// links (by the thesis rule), 1000 concurrent connections, MTU 1500,
    /// initial window 29,200 bytes, the 500-page set, 3 virtual seconds.
    pub fn thesis() -> Scenario {
        Scenario {
            name: "thesis".into(),
            ..Scenario::default()
        }
    }

    /// The echo workload: 8 workers, 256 connections echoing 64-byte
    /// messages for 1 virtual second.
    pub fn echo() -> Scenario {
        Scenario {
            name: "echo".into(),
            duration: 1.0,
            server: ServerSpec {
                workers: 8,
                ..ServerSpec::default()
            },
            client: ClientSpec {
                conns: 256,
                ..ClientSpec::default()
            },
            workload: Workload::Echo { message_bytes: 64 },
            ..Scenario::default()
        }
    }

    /// Bulk transfer: 4 workers, 8 connections each receiving 64 MiB, for
    /// 2 virtual seconds.
    pub fn bulk() -> Scenario {
        Scenario {
            name: "bulk".into(),
            duration: 2.0,
            server: ServerSpec {
                workers: 4,
                ..ServerSpec::default()
            },
            client: ClientSpec {
                conns: 8,
                cores: 4,
                ..ClientSpec::default()
            },
            workload: Workload::Bulk { bytes: 64 << 20 },
            ..Scenario::default()
        }
    }

    /// A small, fast HTTP run for tests and CI: 2 workers, 20 connections,
    /// 50 pages of 8 KiB, 0.2 virtual seconds.
    pub fn small() -> Scenario {
        Scenario {
            name: "small".into(),
            duration: 0.2,
            server: ServerSpec {
                workers: 2,
                ..ServerSpec::default()
            },
            client: ClientSpec {
                conns: 20,
                cores: 2,
                pages: PageSpec::Small {
                    count: 50,
                    bytes: 8192,
                },
                ..ClientSpec::default()
            },
            ..Scenario::default()
        }
    }

    /// [`Scenario::small`] with the echo workload (64-byte messages).
    pub fn small_echo() -> Scenario {
        Scenario {
            name: "small-echo".into(),
            workload: Workload::Echo { message_bytes: 64 },
            ..Scenario::small()
        }
    }

    /// [`Scenario::small`] over a faulty link: 1% loss, 0.5% duplicates,
    /// 1% reordering by 50 µs, 0.1% corruption.
    pub fn small_lossy() -> Scenario {
        let mut s = Scenario::small();
        s.name = "small-lossy".into();
        s.links.faults = Faults {
            loss: 0.01,
            duplicate: 0.005,
            reorder: 0.01,
            reorder_delay: rusty_stack::time::Duration::from_micros(50),
            corrupt: 0.001,
            ..Faults::default()
        };
        s
    }

    /// The built-in scenario called `name`, if there is one
    /// (see [`BUILTIN_NAMES`]).
    pub fn builtin(name: &str) -> Option<Scenario> {
        Some(match name {
            "thesis" => Scenario::thesis(),
            "echo" => Scenario::echo(),
            "bulk" => Scenario::bulk(),
            "small" => Scenario::small(),
            "small-echo" => Scenario::small_echo(),
            "small-lossy" => Scenario::small_lossy(),
            _ => return None,
        })
    }

    /// A built-in scenario by name, or else a TOML scenario file.
    ///
    /// Does not [`validate`](Scenario::validate) the result.
    pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
        if let Some(s) = Scenario::builtin(name_or_path) {
            return Ok(s);
        }
        let path = Path::new(name_or_path);
        let looks_like_file = path.extension().is_some() || path.components().count() > 1;
        if !looks_like_file && !path.exists() {
            return Err(ScenarioError::UnknownName {
                name: name_or_path.to_string(),
            });
        }
        Scenario::from_file(path)
    }

    /// Reads a TOML scenario file. Does not validate the result.
    pub fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let mut s = Scenario::from_toml(&text).map_err(|e| ScenarioError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if s.name.is_empty() {
            s.name = path
                .file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "custom".into());
        }
        Ok(s)
    }

    /// Parses a scenario from TOML text; the error is the TOML message with
    /// line and column. A missing name stays empty.
    pub fn from_toml(text: &str) -> Result<Scenario, toml::de::Error> {
        toml::from_str(text)
    }

    /// The scenario as TOML text (which [`Scenario::from_toml`] reads back).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a scenario always serialises to TOML")
    }

    /// Replaces the values given on the command line.
    pub fn apply_overrides(&mut self, o: &CliOverrides) {
        if let Some(v) = o.seed {
            self.seed = v;
        }
        if let Some(v) = o.workers {
            self.server.workers = v;
        }
        if let Some(v) = o.conns {
            self.client.conns = v;
        }
        if let Some(v) = o.duration {
            self.duration = v;
        }
        if let Some(v) = o.requests {
            self.max_requests = Some(v);
        }
        if let Some(v) = o.mtu {
            self.server.mtu = v;
        }
        if let Some(v) = o.client {
            self.client.kind = v;
        }
        if let Some(v) = o.nic {
            self.server.nic = v;
        }
        let faults = &mut self.links.faults;
        if let Some(v) = o.loss {
            faults.loss = v;
        }
        if let Some(v) = o.dup {
            faults.duplicate = v;
        }
        if let Some(v) = o.reorder {
            faults.reorder = v;
        }
        if let Some(v) = o.corrupt {
            faults.corrupt = v;
        }
        if let Some(path) = &o.pcap {
            let link = self.pcap.as_ref().map_or(0, |p| p.link);
            self.pcap = Some(PcapSpec {
                path: path.clone(),
                link,
            });
        }
    }

    /// The number of links (NIC ports) the run uses.
    pub fn link_count(&self) -> u8 {
        self.server.ports.resolve(self.server.workers)
    }

    /// Checks that the simulator can run this scenario.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let bad = |field: &str, message: String| ScenarioError::Invalid {
            scenario: self.name.clone(),
            field: field.to_string(),
            message,
        };
        let non_negative = |field: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(bad(field, format!("must be a finite number >= 0, got {v}")))
            }
        };
        let positive = |field: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(bad(field, format!("must be a finite number > 0, got {v}")))
            }
        };
        let at_least_one = |field: &str, v: u64| {
            if v >= 1 {
                Ok(())
            } else {
                Err(bad(field, "must be at least 1, got 0".to_string()))
            }
        };

        let at_most = |field: &str, v: f64, max: f64, unit: &str| {
            if v <= max {
                Ok(())
            } else {
                Err(bad(field, format!("must be at most {max}{unit}, got {v}")))
            }
        };
        positive("duration", self.duration)?;
        at_most("duration", self.duration, MAX_DURATION_S, " s")?;
        if let Some(n) = self.max_requests {
            at_least_one("max_requests", n)?;
            at_most("max_requests", n as f64, MAX_REQUESTS as f64, "")?;
        }

        let server = &self.server;
        if !(1..=MAX_WORKERS).contains(&server.workers) {
            return Err(bad(
                "server.workers",
                format!("must be in 1..={MAX_WORKERS}, got {}", server.workers),
            ));
        }
        if !server.nic.available() {
            return Err(bad(
                "server.nic",
                "\"mpipe\" needs a rusty-sim built with the mpipe feature".to_string(),
            ));
        }
        // One eDMA ring per worker, and the hypervisor lends 24.
        if server.nic == NicKind::Mpipe && server.workers > MPIPE_MAX_WORKERS {
            return Err(bad(
                "server.nic",
                format!(
                    "the mPIPE serves at most {MPIPE_MAX_WORKERS} workers, got {}",
                    server.workers
                ),
            ));
        }
        if let Ports::Count(n) = server.ports {
            if !(1..=MAX_PORTS).contains(&n) {
                return Err(bad(
                    "server.ports",
                    format!("must be 1..={MAX_PORTS}, \"auto\" or \"all\", got {n}"),
                ));
            }
        }
        server
            .faults
            .validate(server.workers)
            .map_err(|(field, why)| bad(&format!("server.faults.{field}"), why))?;
        if server.nic == NicKind::Mpipe && server.faults.needs_sim_nic() {
            return Err(bad(
                "server.faults",
                "pool and ring squeezes and alloc_tx failures need nic = \"sim\" \
                 (the emulated mPIPE injects its own errors)"
                    .to_string(),
            ));
        }
        if let Some(attack) = &self.attacker {
            attack
                .validate()
                .map_err(|(field, why)| bad(&format!("attacker.{field}"), why))?;
        }
        if !(MIN_MTU..=MAX_MTU).contains(&server.mtu) {
            return Err(bad(
                "server.mtu",
                format!("must be in {MIN_MTU}..={MAX_MTU} bytes, got {}", server.mtu),
            ));
        }
        at_least_one("server.initial_window", server.initial_window.into())?;
        at_most(
            "server.initial_window",
            server.initial_window.into(),
            MAX_INITIAL_WINDOW.into(),
            " bytes",
        )?;
        let tcp = &server.tcp;
        for (field, ms) in [
            ("server.tcp.delayed_ack_ms", tcp.delayed_ack_ms),
            ("server.tcp.min_rto_ms", tcp.min_rto_ms),
            ("server.tcp.time_wait_ms", tcp.time_wait_ms),
        ] {
            at_most(field, ms as f64, MAX_TIMER_MS as f64, " ms")?;
        }

        let client = &self.client;
        at_least_one("client.conns", client.conns.into())?;
        at_most("client.conns", client.conns.into(), MAX_CONNS.into(), "")?;
        at_least_one("client.cores", client.cores.into())?;
        if client.cores > MAX_WORKERS {
            return Err(bad(
                "client.cores",
                format!("must be in 1..={MAX_WORKERS}, got {}", client.cores),
            ));
        }
        if let PageSpec::Small { count, bytes } = client.pages {
            at_least_one("client.pages.count", count.into())?;
            at_least_one("client.pages.bytes", bytes.into())?;
            at_most("client.pages.count", count.into(), MAX_PAGES.into(), "")?;
            at_most(
                "client.pages.bytes",
                bytes.into(),
                MAX_PAGE_BYTES.into(),
                "",
            )?;
            let total = u64::from(count) * u64::from(bytes);
            at_most(
                "client.pages",
                total as f64,
                MAX_PAGE_SET_BYTES as f64,
                " bytes in all",
            )?;
        }

        match self.workload {
            Workload::ThesisHttp {} => {}
            Workload::Echo { message_bytes } => {
                at_least_one("workload.message_bytes", message_bytes.into())?;
                at_most(
                    "workload.message_bytes",
                    message_bytes.into(),
                    MAX_MESSAGE_BYTES.into(),
                    "",
                )?
            }
            Workload::Bulk { bytes } => {
                at_least_one("workload.bytes", bytes)?;
                at_most("workload.bytes", bytes as f64, MAX_BULK_BYTES as f64, "")?
            }
        }

        let links = &self.links;
        positive("links.bandwidth_gbps", links.bandwidth_gbps)?;
        at_most(
            "links.bandwidth_gbps",
            links.bandwidth_gbps,
            MAX_BANDWIDTH_GBPS,
            "",
        )?;
        non_negative("links.delay_us", links.delay_us)?;
        at_most("links.delay_us", links.delay_us, MAX_DELAY_US, " us")?;
        at_least_one("links.queue_kb", links.queue_kb.into())?;
        at_most(
            "links.queue_kb",
            links.queue_kb.into(),
            MAX_QUEUE_KB.into(),
            "",
        )?;
        let longest = rusty_stack::time::Duration::from_secs(MAX_FAULT_TIME_S);
        let f = &links.faults;
        let too_long = |field: &str| bad(field, format!("must be at most {MAX_FAULT_TIME_S} s"));
        if f.reorder_delay > longest {
            return Err(too_long("links.faults.reorder_delay"));
        }
        if let Some(flap) = &f.flap {
            if flap.period > longest {
                return Err(too_long("links.faults.flap.period"));
            }
        }
        links.faults.validate().map_err(|e| {
            let field = e
                .field()
                .map_or("links.faults".to_string(), |f| format!("links.{f}"));
            bad(&field, e.to_string())
        })?;

        if let Some(l) = &self.liveness {
            positive("liveness.drain_s", l.drain_s)?;
            at_most("liveness.drain_s", l.drain_s, MAX_DURATION_S, " s")?;
        }

        if let Some(p) = &self.pcap {
            if p.path.as_os_str().is_empty() {
                return Err(bad("pcap.path", "must not be empty".to_string()));
            }
            let links = self.link_count();
            if p.link >= links {
                return Err(bad(
                    "pcap.link",
                    format!(
                        "must be below the number of links ({links}), got {}",
                        p.link
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/scenarios")
            .join(name)
    }

    #[test]
    fn builtins_are_valid_and_named() {
        for name in BUILTIN_NAMES {
            let s = Scenario::builtin(name).unwrap();
            assert_eq!(s.name, *name);
            s.validate().unwrap();
            assert_eq!(Scenario::load(name).unwrap(), s);
        }
        assert!(Scenario::builtin("nope").is_none());
    }

    #[test]
    fn thesis_matches_the_seed_benchmark() {
        let s = Scenario::thesis();
        assert_eq!(s.server.workers, 35);
        assert_eq!(s.link_count(), 2);
        assert_eq!(s.client.conns, 1000);
        assert_eq!(s.server.mtu, 1500);
        assert_eq!(s.server.initial_window, 29_200);
        assert_eq!(s.server.cost_model, CostModel::TILEGX36);
        assert_eq!(s.client.pages, PageSpec::Thesis);
        assert_eq!(s.workload, Workload::ThesisHttp {});
        assert_eq!(s.links.bandwidth_gbps, 10.0);
        assert!(s.duration > 0.0 && s.duration <= 10.0);
    }

    #[test]
    fn thesis_link_rule() {
        assert_eq!(Ports::Auto.resolve(1), 1);
        assert_eq!(Ports::Auto.resolve(28), 1);
        assert_eq!(Ports::Auto.resolve(29), 2);
        assert_eq!(Ports::Auto.resolve(64), 2);
        assert_eq!(Ports::Count(1).resolve(64), 1);
        assert_eq!(Ports::Count(2).resolve(1), 2);
        assert_eq!(Ports::Count(4).resolve(1), 4);
        assert_eq!(Ports::All.resolve(1), 4);
    }

    #[test]
    fn ports_forms() {
        for (text, ports) in [
            ("1", Ports::Count(1)),
            ("3", Ports::Count(3)),
            ("4", Ports::Count(4)),
            ("\"auto\"", Ports::Auto),
            ("\"all\"", Ports::All),
        ] {
            let s = Scenario::from_toml(&format!("[server]\nports = {text}\n")).unwrap();
            assert_eq!(s.server.ports, ports, "{text}");
            assert_eq!(Scenario::from_toml(&s.to_toml()).unwrap(), s);
        }
        for text in ["0", "5", "-1", "\"some\""] {
            let e = Scenario::from_toml(&format!("[server]\nports = {text}\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("\"all\""), "{text}: {e}");
        }
    }

    #[test]
    fn small_is_small() {
        let s = Scenario::small();
        assert_eq!(s.server.workers, 2);
        assert_eq!(s.client.conns, 20);
        assert_eq!(s.duration, 0.2);
        assert_eq!(s.link_count(), 1);
    }

    #[test]
    fn thesis_fixture_equals_builtin() {
        let file = Scenario::from_file(&fixture("thesis.toml")).unwrap();
        assert_eq!(file, Scenario::thesis());
    }

    #[test]
    fn fixtures_load_and_validate() {
        for name in ["thesis.toml", "lossy.toml", "echo.toml"] {
            let s = Scenario::load(fixture(name).to_str().unwrap()).unwrap();
            s.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let lossy = Scenario::from_file(&fixture("lossy.toml")).unwrap();
        assert!(lossy.links.faults.loss > 0.0);
        assert!(lossy.links.faults.burst.is_some());
        let echo = Scenario::from_file(&fixture("echo.toml")).unwrap();
        assert!(matches!(echo.workload, Workload::Echo { .. }));
    }

    #[test]
    fn toml_round_trip() {
        for name in BUILTIN_NAMES {
            let s = Scenario::builtin(name).unwrap();
            assert_eq!(Scenario::from_toml(&s.to_toml()).unwrap(), s, "{name}");
        }
        let mut s = Scenario::small_lossy();
        s.links.faults.burst = Some(GilbertElliott {
            p_good_to_bad: 0.01,
            p_bad_to_good: 0.3,
            loss_good: 0.0,
            loss_bad: 0.5,
        });
        s.links.faults.down = vec![Window {
            from: rusty_stack::time::Instant::from_millis(50),
            until: rusty_stack::time::Instant::from_millis(70),
        }];
        s.links.faults.flap = Some(Flap {
            period: rusty_stack::time::Duration::from_millis(100),
            down_for: rusty_stack::time::Duration::from_millis(10),
            start: None,
        });
        s.server.ports = Ports::Count(2);
        s.max_requests = Some(5);
        s.pcap = Some(PcapSpec {
            path: "x.pcap".into(),
            link: 1,
        });
        s.workload = Workload::Bulk { bytes: 1000 };
        assert_eq!(Scenario::from_toml(&s.to_toml()).unwrap(), s);
    }

    #[test]
    fn empty_file_is_thesis_defaults() {
        let s = Scenario::from_toml("").unwrap();
        assert_eq!(
            s,
            Scenario {
                name: String::new(),
                ..Scenario::thesis()
            }
        );
    }

    #[test]
    fn partial_file_keeps_defaults() {
        let s = Scenario::from_toml(
            "seed = 7\n[server]\nworkers = 4\nports = 2\n[client]\npages = 10\n\
             [workload]\nkind = \"echo\"\n[links.faults]\nloss = 0.5\n",
        )
        .unwrap();
        assert_eq!(s.seed, 7);
        assert_eq!(s.server.workers, 4);
        assert_eq!(s.server.ports, Ports::Count(2));
        assert_eq!(s.server.mtu, 1500);
        assert_eq!(s.client.conns, 1000);
        assert_eq!(
            s.client.pages,
            PageSpec::Small {
                count: 10,
                bytes: DEFAULT_SMALL_PAGE_BYTES
            }
        );
        assert_eq!(s.workload, Workload::Echo { message_bytes: 64 });
        assert_eq!(s.links.faults.loss, 0.5);
        assert_eq!(s.links.bandwidth_gbps, 10.0);
    }

    #[test]
    fn pages_forms() {
        #[derive(Deserialize)]
        struct W {
            pages: PageSpec,
        }
        let p = |t: &str| toml::from_str::<W>(t).map(|w| w.pages);
        assert_eq!(p("pages = \"thesis\"").unwrap(), PageSpec::Thesis);
        assert_eq!(
            p("pages = { count = 3, bytes = 100 }").unwrap(),
            PageSpec::Small {
                count: 3,
                bytes: 100
            }
        );
        assert!(p("pages = \"other\"").is_err());
        assert!(p("pages = -1").is_err());
        assert!(p("pages = { count = 3, size = 100 }").is_err());
    }

    #[test]
    fn parse_errors_are_clear() {
        let err = |t: &str| Scenario::from_toml(t).unwrap_err().to_string();
        let e = err("[server]\nworkerz = 3\n");
        assert!(e.contains("unknown field `workerz`"), "{e}");
        assert!(e.contains("line 2"), "{e}");
        let e = err("seed = \"x\"\n");
        assert!(e.contains("line 1"), "{e}");
        let e = err("[server\n");
        assert!(e.contains("line 1"), "{e}");
        let e = err("[server]\nports = 5\n");
        assert!(e.contains("\"auto\""), "{e}");
        let e = err("[server]\ncost_model = \"arm\"\n");
        assert!(e.contains("tilegx36"), "{e}");
        let e = err("[workload]\nkind = \"echo\"\nbytes = 3\n");
        assert!(e.contains("bytes"), "{e}");
        let e = err("[workload]\nkind = \"thesis_http\"\nbytes = 3\n");
        assert!(e.contains("bytes"), "{e}");
        let e = err("[workload]\nkind = \"ftp\"\n");
        assert!(e.contains("ftp"), "{e}");
    }

    #[test]
    fn load_errors() {
        match Scenario::load("no-such-scenario") {
            Err(e @ ScenarioError::UnknownName { .. }) => {
                let m = e.to_string();
                for name in BUILTIN_NAMES {
                    assert!(m.contains(name), "{m}");
                }
            }
            other => panic!("{other:?}"),
        }
        match Scenario::load("/no/such/file.toml") {
            Err(e @ ScenarioError::Io { .. }) => {
                assert!(e.to_string().contains("/no/such/file.toml"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn file_name_becomes_scenario_name() {
        let dir = std::env::temp_dir().join(format!("rusty-sim-scn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("mine.toml");
        std::fs::write(&path, "seed = 3\n").unwrap();
        let s = Scenario::load(path.to_str().unwrap()).unwrap();
        assert_eq!(s.name, "mine");
        assert_eq!(s.seed, 3);
        std::fs::write(&path, "seed = 3\nwhat = 1\n").unwrap();
        let e = Scenario::load(path.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("mine.toml") && e.contains("what"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn overrides_apply() {
        let mut s = Scenario::thesis();
        s.apply_overrides(&CliOverrides::default());
        assert_eq!(s, Scenario::thesis());
        s.apply_overrides(&CliOverrides {
            seed: Some(9),
            workers: Some(12),
            conns: Some(5),
            duration: Some(0.5),
            requests: Some(100),
            mtu: Some(9000),
            client: Some(ClientKind::Smoltcp),
            loss: Some(0.1),
            dup: Some(0.2),
            reorder: Some(0.3),
            corrupt: Some(0.4),
            pcap: Some("out.pcap".into()),
            nic: None,
        });
        assert_eq!(s.seed, 9);
        assert_eq!(s.server.workers, 12);
        assert_eq!(s.link_count(), 1);
        assert_eq!(s.client.conns, 5);
        assert_eq!(s.duration, 0.5);
        assert_eq!(s.max_requests, Some(100));
        assert_eq!(s.server.mtu, 9000);
        assert_eq!(s.client.kind, ClientKind::Smoltcp);
        let f = &s.links.faults;
        assert_eq!(
            (f.loss, f.duplicate, f.reorder, f.corrupt),
            (0.1, 0.2, 0.3, 0.4)
        );
        assert_eq!(
            s.pcap,
            Some(PcapSpec {
                path: "out.pcap".into(),
                link: 0
            })
        );
        s.validate().unwrap();

        s.pcap.as_mut().unwrap().link = 1;
        s.server.ports = Ports::Count(2);
        s.apply_overrides(&CliOverrides {
            pcap: Some("b.pcap".into()),
            ..CliOverrides::default()
        });
        assert_eq!(s.pcap.as_ref().unwrap().link, 1);
    }

    #[test]
    fn validation() {
        let field_of = |s: &Scenario| match s.validate() {
            Err(ScenarioError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let check = |f: &dyn Fn(&mut Scenario), field: &str| {
            let mut s = Scenario::small();
            f(&mut s);
            assert_eq!(field_of(&s), field);
        };
        check(&|s| s.links.faults.loss = 1.5, "links.faults.loss");
        check(&|s| s.links.faults.loss = -0.1, "links.faults.loss");
        check(&|s| s.links.faults.loss = f64::NAN, "links.faults.loss");
        check(
            &|s| s.links.faults.duplicate = 2.0,
            "links.faults.duplicate",
        );
        check(&|s| s.links.faults.reorder = 2.0, "links.faults.reorder");
        check(&|s| s.links.faults.corrupt = 2.0, "links.faults.corrupt");
        check(&|s| s.server.workers = 0, "server.workers");
        check(&|s| s.server.workers = 65, "server.workers");
        check(&|s| s.client.conns = 0, "client.conns");
        check(&|s| s.client.cores = 0, "client.cores");
        check(&|s| s.server.mtu = 67, "server.mtu");
        check(&|s| s.server.ports = Ports::Count(5), "server.ports");
        check(&|s| s.server.mtu = 9001, "server.mtu");
        check(&|s| s.duration = 0.0, "duration");
        check(&|s| s.duration = f64::INFINITY, "duration");
        check(&|s| s.duration = f64::NAN, "duration");
        check(&|s| s.max_requests = Some(0), "max_requests");
        check(&|s| s.server.initial_window = 0, "server.initial_window");
        check(&|s| s.links.bandwidth_gbps = 0.0, "links.bandwidth_gbps");
        check(&|s| s.links.delay_us = -1.0, "links.delay_us");
        check(&|s| s.links.queue_kb = 0, "links.queue_kb");
        check(
            &|s| s.workload = Workload::Echo { message_bytes: 0 },
            "workload.message_bytes",
        );
        check(
            &|s| s.workload = Workload::Bulk { bytes: 0 },
            "workload.bytes",
        );
        check(
            &|s| s.client.pages = PageSpec::Small { count: 0, bytes: 1 },
            "client.pages.count",
        );
        check(
            &|s| {
                s.links.faults.burst = Some(GilbertElliott {
                    p_good_to_bad: 0.1,
                    p_bad_to_good: 1.1,
                    loss_good: 0.0,
                    loss_bad: 1.0,
                })
            },
            "links.faults.burst.p_bad_to_good",
        );
        check(
            &|s| {
                s.links.faults.down = vec![Window {
                    from: rusty_stack::time::Instant::from_millis(200),
                    until: rusty_stack::time::Instant::from_millis(100),
                }]
            },
            "links.faults.down[0]",
        );
        check(
            &|s| {
                s.links.faults.flap = Some(Flap {
                    period: rusty_stack::time::Duration::from_millis(100),
                    down_for: rusty_stack::time::Duration::from_millis(200),
                    start: None,
                })
            },
            "links.faults.flap.down_for",
        );
        // A sub-nanosecond period is zero nanoseconds: refused, not a panic.
        check(
            &|s| {
                s.links.faults.flap = Some(Flap {
                    period: rusty_stack::time::Duration::ZERO,
                    down_for: rusty_stack::time::Duration::ZERO,
                    start: None,
                })
            },
            "links.faults.flap.period",
        );
        check(
            &|s| {
                s.pcap = Some(PcapSpec {
                    path: "a.pcap".into(),
                    link: 1,
                })
            },
            "pcap.link",
        );
        let mut s = Scenario::small();
        s.links.faults.loss = 1.5;
        let m = s.validate().unwrap_err().to_string();
        assert!(m.contains("links.faults.loss") && m.contains("1.5") && m.contains("[0, 1]"));
    }

    #[test]
    fn tcp_config_mapping() {
        let mut s = Scenario::thesis();
        s.server.tcp.delayed_ack_ms = 0;
        s.server.tcp.sack = false;
        let c = s.server.tcp_config();
        assert_eq!(c.initial_window, Some(29_200));
        assert_eq!(c.delayed_ack, rusty_stack::time::Duration::from_millis(0));
        assert_eq!(c.min_rto, rusty_stack::time::Duration::from_millis(200));
        assert!(!c.sack && c.timestamps);
    }

    #[test]
    fn the_nic_is_sim_unless_a_file_or_the_cli_chooses_the_mpipe() {
        let small = Scenario::small();
        assert_eq!(small.server.nic, NicKind::Sim);
        assert!(
            !small.to_toml().contains("nic"),
            "the default is not written"
        );
        let text = "seed = 1\nduration = 1.0\n[server]\nworkers = 2\nnic = \"mpipe\"\n";
        let s = Scenario::from_toml(text).expect("parses");
        assert_eq!(s.server.nic, NicKind::Mpipe);
        assert!(s.to_toml().contains("nic = \"mpipe\""));
        assert_eq!(s.validate().is_ok(), cfg!(feature = "mpipe"));
        assert!(Scenario::from_toml(&text.replace("mpipe", "tap")).is_err());
        let mut cli = Scenario::small();
        cli.apply_overrides(&CliOverrides {
            nic: Some(NicKind::Mpipe),
            ..CliOverrides::default()
        });
        assert_eq!(cli.server.nic, NicKind::Mpipe);
    }
}
