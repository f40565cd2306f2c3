//! What the TAP examples share: their command line, the driver (a TAP
//! device behind a fault injector), and the event loop.

use std::time::Duration as StdDuration;

use clap::Parser;
use rusty_stack::iface::InterfaceConfig;
use rusty_stack::nic::fault::{FaultInjector, FaultSpec};
use rusty_stack::nic::tap::{TapConfig, TapDriver};
use rusty_stack::nic::Driver;
use rusty_stack::tcp::{App, TcpConfig};
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
/// (which passes everything through when no fault is asked for).
pub type TapNic = FaultInjector<TapDriver>;

/// Opens the device and builds a stack running `app` on it.
pub fn open<A: App>(args: &TapArgs, app: A) -> std::io::Result<(Stack<A>, TapNic)> {
    let mut config = TapConfig::new(&args.tap);
    config.mtu = usize::from(args.mtu);
    let tap = TapDriver::open(&config)?;
    let mut nic = FaultInjector::new(tap, args.impair);
    let now = nic.inner().now();
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
        let now = nic.inner().now();
        nic.set_now(now);
        while stack.poll(nic, now) {}
        if done(stack) || deadline.is_some_and(|d| start.elapsed() >= d) {
            return Ok(());
        }
        let wake = [stack.poll_at(), nic.next_release()]
            .into_iter()
            .flatten()
            .min();
        // Wake at least every 100 ms to check the deadline.
        let cap = nic.inner().now() + rusty_stack::time::Duration::from_millis(100);
        let wake = Some(wake.map_or(cap, |w| w.min(cap)));
        nic.inner_mut().wait(wake)?;
    }
}
