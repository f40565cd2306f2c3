//! What the TAP examples share: their command line, the driver (a TAP
//! device behind a fault injector, seen by an optional pcap capture), and
//! the event loop.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

use clap::Parser;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};
use rusty_stack::iface::InterfaceConfig;
use rusty_stack::mem::buf::Frame;
use rusty_stack::nic::capture::{CaptureDriver, Direction, FrameSink};
use rusty_stack::nic::fault::{FaultInjector, FaultSpec};
use rusty_stack::nic::tap::{TapConfig, TapDriver};
use rusty_stack::nic::Driver;
use rusty_stack::tcp::{App, TcpConfig};
use rusty_stack::time::Instant;
use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr};
use rusty_stack::Stack;

/// The options every TAP example takes.
#[derive(Parser, Debug, Clone)]
pub struct TapArgs {
    /// The TAP interface (created if missing; configure its kernel side
    /// with `ip addr add` and `ip link set up`)
    #[arg(long)]
    pub tap: String,
    /// Our address and prefix, e.g. 10.77.0.2/24
    #[arg(long, value_parser = parse_cidr)]
    pub ip: Ipv4Cidr,
    /// The router for destinations off the subnet
    #[arg(long)]
    pub gateway: Option<Ipv4Addr>,
    /// The MTU (match the interface's)
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u16).range(576..=9000))]
    pub mtu: u16,
    /// Faults injected between the stack and the device, e.g.
    /// loss=0.02,reorder=0.05,delay=2ms,seed=7
    #[arg(long, default_value = "")]
    pub impair: FaultSpec,
    /// Stop after this many seconds (the default runs until the work is
    /// done, or for ever for servers)
    #[arg(long)]
    pub duration: Option<f64>,
    /// Seed of the stack's secret (ISNs, ephemeral ports, SYN cookies)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write every frame the stack receives and sends to this pcap file,
    /// stamped with the stack's clock, and the settings `rusty-sim replay`
    /// needs beside it (the same name with `.toml`)
    #[arg(long)]
    pub pcap: Option<PathBuf>,
}

fn parse_cidr(s: &str) -> Result<Ipv4Cidr, String> {
    let (addr, prefix) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}`: expected ADDR/PREFIX"))?;
    let addr: Ipv4Addr = addr.parse().map_err(|e| format!("`{addr}`: {e}"))?;
    let prefix: u8 = prefix.parse().map_err(|e| format!("`{prefix}`: {e}"))?;
    Ipv4Cidr::new(addr, prefix).ok_or_else(|| format!("`{s}`: prefix above 32"))
}

/// The driver of the examples: the TAP device behind a fault injector
/// (which passes everything through when no fault is asked for), seen by
/// the capture of `--pcap` (which records nothing without it).
pub type TapNic = CaptureDriver<FaultInjector<TapDriver>, PcapOption>;

/// Opens the device and builds a stack running `app` on it. `app_name` and
/// `settings` (TOML `key = value` pairs, values already quoted as TOML
/// wants) go into the capture's sidecar with the stack's own settings.
pub fn open<A: App>(
    args: &TapArgs,
    app: A,
    app_name: &str,
    settings: &[(&str, String)],
) -> std::io::Result<(Stack<A>, TapNic)> {
    let mut config = TapConfig::new(&args.tap);
    config.mtu = usize::from(args.mtu);
    let tap = TapDriver::open(&config)?;
    let mut faults = FaultInjector::new(tap, args.impair);
    let now = faults.inner().now();
    faults.set_now(now);
    let capture = match &args.pcap {
        Some(path) => {
            let mac = faults.capabilities().mac;
            write_sidecar(path, args, mac, now, app_name, settings)?;
            PcapOption(Some(PcapSink::create(path)?))
        }
        None => PcapOption(None),
    };
    let mut nic = CaptureDriver::new(faults, capture);
    nic.set_now(now);
    let mut iface = InterfaceConfig::new(args.ip);
    iface.gateway = args.gateway;
    let mut secret = [0u8; 16];
    secret[..8].copy_from_slice(&args.seed.to_le_bytes());
    let tcp = TcpConfig {
        secret,
        ..TcpConfig::default()
    };
    let stack = Stack::new(&nic.capabilities(), iface, tcp, app, now);
    Ok((stack, nic))
}

/// Runs the stack until `done` says so or the duration passes: polls
/// while there is work, then sleeps in the device until a frame arrives,
/// a timer of the stack is due, or a held (impaired) frame is released.
pub fn run<A: App>(
    stack: &mut Stack<A>,
    nic: &mut TapNic,
    duration: Option<f64>,
    mut done: impl FnMut(&Stack<A>) -> bool,
) -> std::io::Result<()> {
    let deadline = duration.map(|s| StdDuration::from_secs_f64(s.max(0.0)));
    let start = std::time::Instant::now();
    loop {
        // A fresh `now` for every poll, so a capture's timestamps tell
        // which frames one poll received.
        loop {
            let now = nic.inner().inner().now();
            nic.set_now(now);
            nic.inner_mut().set_now(now);
            if !stack.poll(nic, now) {
                break;
            }
        }
        if done(stack) || deadline.is_some_and(|d| start.elapsed() >= d) {
            return nic.sink_mut().finish();
        }
        let wake = [stack.poll_at(), nic.inner().next_release()]
            .into_iter()
            .flatten()
            .min();
        // Wake at least every 100 ms to check the deadline.
        let cap = nic.inner().inner().now() + rusty_stack::time::Duration::from_millis(100);
        let wake = wake.map_or(cap, |w| w.min(cap));
        if nic.inner().rx_lane_full() {
            // Impairment holds all it can: frames wait in the device, which
            // stays readable, so waiting on it would spin until a held
            // frame is due. Sleep until then instead.
            let now = nic.inner().inner().now();
            if wake > now {
                std::thread::sleep(StdDuration::from_nanos((wake - now).as_nanos()));
            }
        } else {
            nic.inner_mut().inner_mut().wait(Some(wake))?;
        }
    }
}

/// The `--pcap` capture, when asked for.
pub struct PcapOption(Option<PcapSink>);

impl PcapOption {
    /// Writes what is pending and reports the first write error.
    pub fn finish(&mut self) -> std::io::Result<()> {
        match self.0.as_mut() {
            Some(sink) => sink.finish(),
            None => Ok(()),
        }
    }
}

impl FrameSink for PcapOption {
    fn frame(&mut self, at: Instant, direction: Direction, frame: &Frame) {
        if let Some(sink) = self.0.as_mut() {
            sink.frame(at, direction, frame);
        }
    }

    fn send_failed(&mut self, at: Instant) {
        if let Some(sink) = self.0.as_mut() {
            sink.send_failed(at);
        }
    }
}

/// A pcap file (nanosecond stamps: the stack's clock) of every frame the
/// stack received and sent. A sent frame is held until the next event, so
/// one the device refused can be taken back.
pub struct PcapSink {
    writer: Option<PcapWriter<File>>,
    held: Option<(Instant, Vec<u8>)>,
    spare: Vec<u8>,
    error: Option<std::io::Error>,
}

impl PcapSink {
    fn create(path: &Path) -> std::io::Result<PcapSink> {
        // Unbuffered: every frame is in the file as soon as it is seen, so
        // a capture survives the example being killed.
        let file = File::create(path)?;
        let header = PcapHeader {
            version_major: 2,
            version_minor: 4,
            ts_correction: 0,
            ts_accuracy: 0,
            snaplen: 65_535,
            datalink: DataLink::ETHERNET,
            ts_resolution: TsResolution::NanoSecond,
            endianness: Endianness::Little,
        };
        let writer = PcapWriter::with_header(file, header).map_err(std::io::Error::other)?;
        Ok(PcapSink {
            writer: Some(writer),
            held: None,
            spare: Vec::new(),
            error: None,
        })
    }

    fn write(&mut self, at: Instant, bytes: &[u8]) {
        let Some(writer) = self.writer.as_mut() else {
            return;
        };
        if self.error.is_some() {
            return;
        }
        let ts = StdDuration::from_nanos(at.as_nanos());
        let packet = PcapPacket::new(ts, bytes.len() as u32, bytes);
        if let Err(e) = writer.write_packet(&packet) {
            self.error = Some(std::io::Error::other(e));
        }
    }

    fn flush_held(&mut self) {
        if let Some((at, bytes)) = self.held.take() {
            self.write(at, &bytes);
            self.spare = bytes;
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.flush_held();
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        match self.writer.take() {
            Some(writer) => writer.into_writer().flush(),
            None => Ok(()),
        }
    }
}

impl FrameSink for PcapSink {
    fn frame(&mut self, at: Instant, direction: Direction, frame: &Frame) {
        self.flush_held();
        match direction {
            Direction::Received => {
                // Copy through the spare buffer: no allocation once warm.
                let mut bytes = std::mem::take(&mut self.spare);
                bytes.clear();
                bytes.extend(frame.segments().flatten());
                self.write(at, &bytes);
                self.spare = bytes;
            }
            Direction::Sent => {
                let mut bytes = std::mem::take(&mut self.spare);
                bytes.clear();
                bytes.extend(frame.segments().flatten());
                self.held = Some((at, bytes));
            }
        }
    }

    fn send_failed(&mut self, _at: Instant) {
        if let Some((_, bytes)) = self.held.take() {
            self.spare = bytes;
        }
    }
}

/// Writes `path` with `.toml`: the settings `rusty-sim replay` rebuilds
/// the stack from (its clock at creation, `start_ns`, included).
fn write_sidecar(
    path: &Path,
    args: &TapArgs,
    mac: rusty_stack::wire::MacAddr,
    now: Instant,
    app_name: &str,
    settings: &[(&str, String)],
) -> std::io::Result<()> {
    let m = mac.0;
    let mut text = format!(
        "# Written by the `{app_name}` TAP example with {}: the settings `rusty-sim replay` rebuilds it from.\n\
         app = \"{app_name}\"\n\
         mac = \"{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\"\n\
         ip = \"{}/{}\"\n\
         mtu = {}\n\
         seed = {}\n\
         start_ns = {}\n",
        path.file_name().map_or(path.display(), |n| std::path::Path::new(n).display()),
        m[0],
        m[1],
        m[2],
        m[3],
        m[4],
        m[5],
        args.ip.addr(),
        args.ip.prefix_len(),
        args.mtu,
        args.seed,
        now.as_nanos(),
    );
    if let Some(gateway) = args.gateway {
        text += &format!("gateway = \"{gateway}\"\n");
    }
    for (key, value) in settings {
        text += &format!("{key} = {value}\n");
    }
    std::fs::write(path.with_extension("toml"), text)
}
