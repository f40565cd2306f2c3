//! `rusty-sim replay`: a capture from the field as a deterministic test.
//!
//! * [`exact`] feeds the frames a capture shows arriving at a Rusty stack
//!   into a fresh instance built with the same settings, at their recorded
//!   times, and compares every frame it sends with the capture's; the first
//!   difference is reported with both frames decoded. Captures written by
//!   the TAP examples' `--pcap` (stamped with the stack's own clock, one
//!   timestamp per poll) replay frame for frame.
//! * [`adaptive`] plays, like tcpliveplay, the remote peer of every TCP
//!   flow of the capture against a live Rusty instance: the peer's
//!   segments go out with their acknowledgment numbers, echoed timestamps
//!   and SACK blocks moved to the live stack's sequence space, each no
//!   earlier than recorded and only once the live stack has sent what it
//!   acknowledges; the live stack's byte stream is compared with the
//!   captured one.
//!
//! The stack's settings (application, MAC, address, seed, clock at
//! creation) come from the sidecar TOML beside the capture ([`settings`]),
//! or from flags. A capture that cannot be read is an error with exit code
//! 2; a replay that diverges exits 1.
//!
//! ```
//! use rusty_sim::run::replay::{exact, settings::SidecarFile, Capture};
//!
//! let capture = Capture::parse(
//!     "fixtures/pcap/curl-rusty.pcap".as_ref(),
//!     &std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/pcap/curl-rusty.pcap")).unwrap(),
//! )
//! .unwrap();
//! let sidecar = SidecarFile::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/pcap/curl-rusty.toml").as_ref())
//!     .unwrap()
//!     .unwrap();
//! let report = exact::replay(&capture, &sidecar.settings().unwrap()).unwrap();
//! assert!(report.divergence.is_none(), "{report:?}");
//! ```

pub mod adaptive;
pub mod cli;
pub mod exact;
pub mod rewrite;
pub mod settings;

use std::fmt;
use std::path::Path;

use rusty_apps::{EchoServer, HttpClientConfig, HttpLoadClient, HttpServer, Page};
use rusty_fixtures::PageContent;
use rusty_stack::iface::InterfaceConfig;
use rusty_stack::mem::buf::PoolConfig;
use rusty_stack::nic::pair::{pair, PairConfig, PairDriver};
use rusty_stack::nic::Driver;
use rusty_stack::prefix_sum::PrefixSums;
use rusty_stack::tcp::{App, TcpConfig};
use rusty_stack::time::Instant;
use rusty_stack::wire::{ethernet, MacAddr};
use rusty_stack::Stack;

use self::settings::{AppKind, Settings};

/// Why a replay could not start.
#[derive(Debug)]
pub enum ReplayError {
    /// A file could not be read.
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        error: std::io::Error,
    },
    /// The capture is not a pcap file, or is truncated or malformed.
    Pcap(String),
    /// The stack's settings are missing or wrong.
    Settings(String),
}

impl ReplayError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, error: std::io::Error) -> Self {
        ReplayError::Io {
            path: path.display().to_string(),
            error,
        }
    }
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::Io { path, error } => write!(f, "{path}: {error}"),
            ReplayError::Pcap(why) => write!(f, "{why}"),
            ReplayError::Settings(why) => write!(f, "settings: {why}"),
        }
    }
}

impl std::error::Error for ReplayError {}

/// The frames of a capture, in file order, with their timestamps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capture {
    /// `(time, frame)`, the time being the pcap stamp in nanoseconds.
    pub frames: Vec<(Instant, Vec<u8>)>,
}

impl Capture {
    /// Parses the pcap `bytes` of the file `path` (for messages).
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Capture, ReplayError> {
        let frames = crate::net::pcap::read_pcap(bytes).map_err(|e| {
            ReplayError::Pcap(format!("{}: not a readable pcap: {e}", path.display()))
        })?;
        if frames.is_empty() {
            return Err(ReplayError::Pcap(format!(
                "{}: the capture holds no frame",
                path.display()
            )));
        }
        Ok(Capture { frames })
    }

    /// Reads and parses the pcap file `path`.
    pub fn load(path: &Path) -> Result<Capture, ReplayError> {
        let bytes = std::fs::read(path).map_err(|e| ReplayError::io(path, e))?;
        Capture::parse(path, &bytes)
    }
}

/// Whether the stack with address `mac` sent `frame` (its source is us).
pub fn sent_by(mac: MacAddr, frame: &[u8]) -> bool {
    frame.get(ethernet::field::SRC..ethernet::field::SRC + 6) == Some(&mac.0[..])
}

/// Whether a NIC with address `mac` would deliver `frame` to the stack:
/// addressed to it, broadcast or multicast, and not sent by it.
pub fn delivered_to(mac: MacAddr, frame: &[u8]) -> bool {
    let Some(dst) = frame.get(ethernet::field::DST..ethernet::field::DST + 6) else {
        return false;
    };
    !sent_by(mac, frame) && (dst == mac.0 || dst[0] & 1 == 1)
}

/// The buffers of the replay driver: the TAP backend's default pool, so a
/// replayed stack runs out of buffers where the live one did.
fn pool() -> PoolConfig {
    PoolConfig {
        counts: [1024, 512, 512, 512, 2048, 64, 512, 0],
        chaining: false,
        references: 2048,
    }
}

/// The stack's end of an in-memory wire and the replayer's end.
pub fn wire(settings: &Settings) -> (PairDriver, PairDriver) {
    let peer_mac = MacAddr([0x02, 0xee, 0, 0, 0, 1]);
    pair(&PairConfig {
        macs: [settings.mac, peer_mac],
        mtu: usize::from(settings.mtu),
        pool: pool(),
        queue_capacity: 1 << 16,
        capture: false,
        shared_pool: false,
    })
}

/// What to do with the rebuilt stack, whatever its application type.
pub trait WithStack {
    /// The result.
    type Output;
    /// Runs with `stack`, created at `start` on `driver` (the stack's end
    /// of `wire`), `peer` being the replayer's end.
    fn with<A: App>(self, stack: Stack<A>, driver: PairDriver, peer: PairDriver) -> Self::Output;
}

/// The TCP settings of the TAP examples: defaults, with the seed in the
/// first eight bytes of the secret.
pub fn tcp_config(seed: u64) -> TcpConfig {
    let mut secret = [0u8; 16];
    secret[..8].copy_from_slice(&seed.to_le_bytes());
    TcpConfig {
        secret,
        ..TcpConfig::default()
    }
}

/// Builds the stack the settings describe, as the TAP examples build it
/// (created at `start`, listening if it is a server), and hands it to `w`.
pub fn with_stack<W: WithStack>(
    settings: &Settings,
    start: Instant,
    w: W,
) -> Result<W::Output, ReplayError> {
    fn go<A: App, W: WithStack>(
        settings: &Settings,
        start: Instant,
        app: A,
        listen: bool,
        w: W,
    ) -> Result<W::Output, ReplayError> {
        let (driver, peer) = wire(settings);
        driver.set_now(start);
        let mut iface = InterfaceConfig::new(settings.ip);
        iface.gateway = settings.gateway;
        let mut stack = Stack::new(
            &driver.capabilities(),
            iface,
            tcp_config(settings.seed),
            app,
            start,
        );
        if listen {
            stack.listen(settings.port, 1024).map_err(|e| {
                ReplayError::Settings(format!("listen on {}: {e:?}", settings.port))
            })?;
        }
        Ok(w.with(stack, driver, peer))
    }
    match settings.app {
        AppKind::Httpd => match &settings.pages {
            Some(dir) => go(settings, start, HttpServer::new(load_pages(dir)?), true, w),
            None => go(
                settings,
                start,
                HttpServer::new(PageContent::all()),
                true,
                w,
            ),
        },
        AppKind::Echo => go(settings, start, EchoServer::new(), true, w),
        AppKind::Fetch => {
            let server = settings
                .server
                .ok_or_else(|| ReplayError::Settings("the fetch app needs `server`".into()))?;
            let config = HttpClientConfig {
                concurrency: settings.conns as usize,
                max_requests: Some(settings.requests),
                seed: settings.seed,
                ..HttpClientConfig::new(server, settings.port)
            };
            let client = HttpLoadClient::new(config, PageContent::all());
            go(settings, start, client, false, w)
        }
    }
}

/// The pages `dir/0.htm`, `dir/1.htm`, ... until the first missing one, as
/// the httpd example's `--pages` loads them (kept for the program's life).
fn load_pages(dir: &Path) -> Result<Vec<Page<'static>>, ReplayError> {
    let mut pages = Vec::new();
    loop {
        let path = dir.join(format!("{}.htm", pages.len()));
        let body = match std::fs::read(&path) {
            Ok(body) => body,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
            Err(e) => return Err(ReplayError::io(&path, e)),
        };
        let body: &'static [u8] = Box::leak(body.into_boxed_slice());
        let sums: &'static PrefixSums = Box::leak(Box::new(PrefixSums::new(body)));
        pages.push(Page::with_sums(body, sums));
    }
    if pages.is_empty() {
        return Err(ReplayError::Settings(format!(
            "pages: no {}/0.htm",
            dir.display()
        )));
    }
    Ok(pages)
}

/// Puts `bytes` on the wire from the replayer's end; false when the
/// stack's pool has no buffer for it (the frame is then lost, as a NIC
/// would lose it).
pub fn inject(peer: &mut PairDriver, bytes: &[u8]) -> bool {
    let Some(mut frame) = peer.alloc_tx(bytes.len()) else {
        return false;
    };
    if frame.cursor_mut().write(bytes).is_err() {
        return false;
    }
    peer.transmit(frame).is_ok()
}

/// The frames the stack has sent since the last call.
pub fn drain(peer: &mut PairDriver) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(frame) = peer.receive() {
        out.push(frame.copy_to_vec());
        peer.release(frame);
    }
    out
}
