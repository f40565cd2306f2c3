//! The Rusty instance a capture shows: read from the sidecar TOML next to
//! the capture (`x.pcap` → `x.toml`, as the TAP examples write with
//! `--pcap`), completed or overridden by command-line flags.

use std::path::{Path, PathBuf};

use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr, MacAddr};
use serde::Deserialize;

use super::ReplayError;

/// The application the stack ran.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AppKind {
    /// The HTTP server over the page set (the `httpd` example).
    Httpd,
    /// The echo server (the `echo` example).
    Echo,
    /// The verifying HTTP load client (the `fetch` example).
    Fetch,
}

/// The sidecar file, as written: every field optional here, so flags can
/// supply what it lacks.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SidecarFile {
    /// The application.
    pub app: Option<AppKind>,
    /// The stack's MAC address, `02:00:00:77:00:02`.
    pub mac: Option<String>,
    /// The stack's address and prefix, `10.77.0.2/24`.
    pub ip: Option<String>,
    /// The router for destinations off the subnet.
    pub gateway: Option<String>,
    /// The MTU.
    pub mtu: Option<u16>,
    /// The seed of the stack's secret (ISNs, ephemeral ports, cookies).
    pub seed: Option<u64>,
    /// The stack's clock, in nanoseconds, when it was created; the first
    /// frame's time when absent.
    pub start_ns: Option<u64>,
    /// httpd and echo: the listening port; fetch: the server's port.
    pub port: Option<u16>,
    /// httpd: the directory of `N.htm` pages instead of the built-in set.
    pub pages: Option<PathBuf>,
    /// fetch: the server's address.
    pub server: Option<String>,
    /// fetch: how many requests.
    pub requests: Option<u64>,
    /// fetch: how many connections at once.
    pub conns: Option<u64>,
}

/// The complete, checked settings of the stack to rebuild.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// The application.
    pub app: AppKind,
    /// The stack's MAC address.
    pub mac: MacAddr,
    /// The stack's address and prefix.
    pub ip: Ipv4Cidr,
    /// The router for destinations off the subnet.
    pub gateway: Option<Ipv4Addr>,
    /// The MTU (576 to 9000).
    pub mtu: u16,
    /// The seed of the stack's secret.
    pub seed: u64,
    /// The stack's clock at creation, if known.
    pub start_ns: Option<u64>,
    /// The listening port (httpd, echo) or the server's port (fetch).
    pub port: u16,
    /// httpd: pages from this directory.
    pub pages: Option<PathBuf>,
    /// fetch: the server's address.
    pub server: Option<Ipv4Addr>,
    /// fetch: requests to make.
    pub requests: u64,
    /// fetch: connections at once.
    pub conns: u64,
}

/// The sidecar path of a capture: the same name with `.toml`.
pub fn sidecar_path(capture: &Path) -> PathBuf {
    capture.with_extension("toml")
}

impl SidecarFile {
    /// Reads `path`; `Ok(None)` when there is no such file.
    pub fn load(path: &Path) -> Result<Option<SidecarFile>, ReplayError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ReplayError::io(path, e)),
        };
        toml::from_str(&text)
            .map(Some)
            .map_err(|e| ReplayError::Settings(format!("{}: {}", path.display(), e.message())))
    }

    /// `self` with every field `over` sets replaced.
    pub fn overridden_by(mut self, over: &SidecarFile) -> SidecarFile {
        macro_rules! take {
            ($($f:ident),*) => { $( if over.$f.is_some() { self.$f = over.$f.clone(); } )* };
        }
        take!(app, mac, ip, gateway, mtu, seed, start_ns, port, pages, server, requests, conns);
        self
    }

    /// Checks and completes the settings (defaults: MTU 1500, seed 1,
    /// port 80, fetch 50 requests on 1 connection).
    pub fn settings(&self) -> Result<Settings, ReplayError> {
        let bad = |what: &str| ReplayError::Settings(what.to_string());
        let app = self
            .app
            .ok_or_else(|| bad("no `app` (httpd, echo or fetch): give --app or a sidecar"))?;
        let mac = self
            .mac
            .as_deref()
            .ok_or_else(|| bad("no `mac` of the stack: give --mac or a sidecar"))?;
        let mac = parse_mac(mac).ok_or_else(|| bad(&format!("`{mac}` is not a MAC address")))?;
        let ip = self
            .ip
            .as_deref()
            .ok_or_else(|| bad("no `ip` of the stack: give --ip or a sidecar"))?;
        let ip = parse_cidr(ip).ok_or_else(|| bad(&format!("`{ip}` is not ADDR/PREFIX")))?;
        let addr = |s: &Option<String>, what: &str| -> Result<Option<Ipv4Addr>, ReplayError> {
            s.as_deref()
                .map(|s| {
                    s.parse()
                        .map_err(|_| bad(&format!("{what} `{s}` is not an IPv4 address")))
                })
                .transpose()
        };
        let mtu = self.mtu.unwrap_or(1500);
        if !(576..=9000).contains(&mtu) {
            return Err(bad(&format!("mtu {mtu} is outside 576..=9000")));
        }
        let server = addr(&self.server, "server")?;
        if app == AppKind::Fetch && server.is_none() {
            return Err(bad("the fetch app needs `server`"));
        }
        let requests = self.requests.unwrap_or(50);
        let conns = self.conns.unwrap_or(1);
        if !(1..=10_000_000).contains(&requests) || !(1..=10_000).contains(&conns) {
            return Err(bad(
                "requests must be in 1..=10000000 and conns in 1..=10000",
            ));
        }
        Ok(Settings {
            app,
            mac,
            ip,
            gateway: addr(&self.gateway, "gateway")?,
            mtu,
            seed: self.seed.unwrap_or(1),
            start_ns: self.start_ns,
            port: self.port.unwrap_or(80),
            pages: self.pages.clone(),
            server,
            requests,
            conns,
        })
    }
}

/// `aa:bb:cc:dd:ee:ff`.
fn parse_mac(s: &str) -> Option<MacAddr> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for byte in &mut mac {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(MacAddr(mac))
}

/// `a.b.c.d/n`.
fn parse_cidr(s: &str) -> Option<Ipv4Cidr> {
    let (addr, prefix) = s.split_once('/')?;
    Ipv4Cidr::new(addr.parse().ok()?, prefix.parse().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sidecar_with_flags_over_it() {
        let file: SidecarFile = toml::from_str(
            "app = \"httpd\"\nmac = \"02:00:00:77:00:02\"\nip = \"10.77.0.2/24\"\nseed = 7\nstart_ns = 5\n",
        )
        .unwrap();
        let flags = SidecarFile {
            seed: Some(9),
            ..SidecarFile::default()
        };
        let s = file.overridden_by(&flags).settings().unwrap();
        assert_eq!(s.mac, MacAddr([2, 0, 0, 0x77, 0, 2]));
        assert_eq!(
            s.ip,
            Ipv4Cidr::new(Ipv4Addr::new(10, 77, 0, 2), 24).unwrap()
        );
        assert_eq!((s.seed, s.start_ns, s.port, s.mtu), (9, Some(5), 80, 1500));
    }

    #[test]
    fn bad_settings_are_named() {
        for (text, want) in [
            (
                "mac = \"02:00:00:77:00:02\"\nip = \"10.0.0.1/8\"",
                "no `app`",
            ),
            ("app = \"echo\"\nip = \"10.0.0.1/8\"", "no `mac`"),
            (
                "app = \"echo\"\nmac = \"02:00\"\nip = \"10.0.0.1/8\"",
                "not a MAC",
            ),
            (
                "app = \"echo\"\nmac = \"02:00:00:00:00:01\"\nip = \"10.0.0.1/33\"",
                "ADDR/PREFIX",
            ),
            (
                "app = \"fetch\"\nmac = \"02:00:00:00:00:01\"\nip = \"10.0.0.1/8\"",
                "server",
            ),
            (
                "app = \"echo\"\nmac = \"02:00:00:00:00:01\"\nip = \"10.0.0.1/8\"\nmtu = 100",
                "mtu",
            ),
        ] {
            let file: SidecarFile = toml::from_str(text).unwrap();
            let e = file.settings().unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
        assert!(toml::from_str::<SidecarFile>("colour = 1").is_err());
    }
}
