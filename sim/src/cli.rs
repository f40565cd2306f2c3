//! The `rusty-sim` command line: argument parsing, the `run`, `bench`,
//! `ping` and `pages` subcommands, exit codes, progress and logging.
//!
//! The binary is a thin wrapper around [`main`], which takes the simulation
//! engine as an [`Engine`] function so the command line can be tested with a
//! stand-in engine.
//!
//! Exit codes: [`EXIT_OK`] (0) on success and for `--help`/`--version`,
//! [`EXIT_USAGE`] (2) for bad arguments or a bad scenario, [`EXIT_FAILURE`]
//! (1) when the run itself fails (for `bench`, also when a request failed
//! or a byte was corrupt).

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::kernel::determinism::{TraceConfig, Twin, Verdict, DEFAULT_INTERVAL};
use crate::run::bench::{BenchConfig, BenchStack, Stop, DEFAULT_REQUESTS, MAX_CONNS};
use crate::run::engine::EngineError;
use crate::run::report::Report;
use crate::scenario::{
    CliOverrides, ClientKind, NicKind, Scenario, ScenarioError, DEFAULT_SCENARIO, MAX_MTU,
    MAX_WORKERS, MIN_MTU,
};

/// Success (also `--help` and `--version`).
pub const EXIT_OK: u8 = 0;
/// The run failed (the engine reported an error, or output could not be
/// written).
pub const EXIT_FAILURE: u8 = 1;
/// Bad arguments, an unknown scenario, or a bad scenario file.
pub const EXIT_USAGE: u8 = 2;

/// How long a run must take before its progress bar appears.
pub const PROGRESS_DELAY: Duration = Duration::from_millis(500);

/// The simulation engine: runs a validated scenario and reports on it.
///
/// * `scenario` has had the command-line overrides applied and has passed
///   [`Scenario::validate`].
/// * `options` says where to write a packet capture (the same path as
///   `scenario.pcap`, whose `link` field says which link) and whether the
///   output is JSON.
/// * `progress` should be called now and then (for example every 10 ms of
///   virtual time); it is cheap and may draw a progress bar.
///
/// The engine fills the report (start from [`Report::new`], then call
/// [`Report::compute_rates`]). It need not set `wall_s` or `speed`: when
/// `wall_s` is left at zero the command line measures the call and sets
/// both. It need not set `pcap_sha256` either: when a capture was asked for
/// and the field is `None`, the command line hashes the file. An `Err` is a
/// runtime failure (exit code 1) with that message.
pub type Engine =
    fn(&Scenario, &RunOptions, &mut dyn FnMut(Progress)) -> Result<Report, EngineError>;

/// How the engine should run, beyond the scenario itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Write a pcap file of link `scenario.pcap.link` here.
    pub pcap: Option<PathBuf>,
    /// The report will be printed as JSON (no progress bar is shown).
    pub json: bool,
    /// What the determinism trace keeps (see [`crate::kernel::determinism`]); the
    /// engine puts its summary in [`Report::determinism`].
    pub trace: TraceConfig,
}

/// How far a run has come, passed to the progress callback.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Progress {
    /// Virtual seconds simulated so far.
    pub virtual_s: f64,
    /// Virtual seconds the run will last at most (the scenario's duration).
    pub total_s: f64,
    /// Requests completed so far.
    pub requests_ok: u64,
}

/// Rusty's deterministic simulator.
#[derive(Parser, Debug)]
#[command(name = "rusty-sim", version, about)]
pub struct Cli {
    /// What to do; without one, `run thesis`.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Simulates a scenario and reports throughput, latency and drops (the
    /// default, with the `thesis` scenario).
    Run(RunArgs),
    /// Rusty and smoltcp side by side: both ends of the page workload on
    /// one thread over an in-memory link, measured in wall-clock time.
    Bench(BenchArgs),
    /// Two stacks ping each other over an in-memory wire.
    Ping {
        /// Echo requests to send.
        /// Echo requests to send (1 to 1000).
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=1000))]
        count: u16,
        /// Bytes of echo data per request.
        #[arg(long, default_value_t = 56, value_parser = clap::value_parser!(u16).range(0..=1472))]
        size: u16,
        /// Frames of the pinging side to lose first (shows ARP retries; 0
        /// to 1000).
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=1000))]
        lose_first: u32,
    },
    /// Replays a capture into a Rusty stack: exactly (every frame it
    /// sends must match) or adaptively (Rusty plays each flow's peer).
    /// Exit code 0 when it matched, 1 when it diverged, 2 for a bad capture.
    Replay(crate::run::replay::cli::ReplayArgs),
    /// Searches for bugs: each seed draws a scenario (shapes, TCP options,
    /// workload, which faults and how strong), runs it with faults, heals
    /// the links and drains. Prints every failing seed with its scenario
    /// as TOML (`rusty-sim run FILE` reproduces it); exit code 1 if any.
    Swarm(SwarmArgs),
    /// Sweeps the thesis benchmark over workers and MTUs in virtual time:
    /// Gbps, requests/s, per-core, link and client utilisation and the
    /// bottleneck of each point, as a table, JSON or CSV, and a plot.
    Scale(ScaleArgs),
    /// Writes the 500-page benchmark set as DIR/0.htm … DIR/499.htm.
    Pages {
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
}

/// The server's NIC, as given on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum NicArg {
    /// The simulated multi-queue NIC.
    Sim,
    /// The emulated mPIPE, through the stack's mpipe backend.
    Mpipe,
}

impl From<NicArg> for NicKind {
    fn from(n: NicArg) -> NicKind {
        match n {
            NicArg::Sim => NicKind::Sim,
            NicArg::Mpipe => NicKind::Mpipe,
        }
    }
}

/// The client stack, as given on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClientArg {
    /// Rusty itself.
    Rusty,
    /// smoltcp.
    Smoltcp,
}

impl From<ClientArg> for ClientKind {
    fn from(c: ClientArg) -> ClientKind {
        match c {
            ClientArg::Rusty => ClientKind::Rusty,
            ClientArg::Smoltcp => ClientKind::Smoltcp,
        }
    }
}

/// Arguments of `rusty-sim run`. Each option replaces the scenario's value.
#[derive(Args, Debug, Default, Clone, PartialEq)]
pub struct RunArgs {
    /// A built-in scenario (thesis, echo, bulk, small, small-echo,
    /// small-lossy) or a TOML scenario file.
    #[arg(value_name = "SCENARIO", default_value = DEFAULT_SCENARIO)]
    pub scenario: Option<String>,
    /// Seed of every random choice.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// Server worker cores (1 to 64).
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_WORKERS)))]
    pub workers: Option<u32>,
    /// Concurrent client connections (1 to 100000).
    #[arg(long, value_name = "N", allow_negative_numbers = true,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::scenario::MAX_CONNS)))]
    pub conns: Option<u32>,
    /// Virtual seconds to simulate (above zero).
    #[arg(long, value_name = "SECONDS", value_parser = parse_duration, allow_negative_numbers = true)]
    pub duration: Option<f64>,
    /// Issue exactly N requests (each client application its share, the
    /// k-th request of an application asking for its k-th page) and end
    /// the run when all N are done (or at the duration, whichever comes
    /// first).
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=crate::scenario::MAX_REQUESTS))]
    pub requests: Option<u64>,
    /// MTU of the links in bytes (68 to 9000).
    #[arg(long, value_name = "BYTES",
          value_parser = clap::value_parser!(u16).range(i64::from(MIN_MTU)..=i64::from(MAX_MTU)))]
    pub mtu: Option<u16>,
    /// The client's TCP stack.
    #[arg(long, value_enum)]
    pub client: Option<ClientArg>,
    /// The server's NIC: the simulated one (default) or the emulated mPIPE
    /// through the stack's hardware backend (needs the mpipe feature).
    #[arg(long, value_enum)]
    pub nic: Option<NicArg>,
    /// Probability that a link loses a frame (0 to 1).
    #[arg(long, value_name = "P", value_parser = parse_probability, allow_negative_numbers = true)]
    pub loss: Option<f64>,
    /// Probability that a link duplicates a frame (0 to 1).
    #[arg(long, value_name = "P", value_parser = parse_probability, allow_negative_numbers = true)]
    pub dup: Option<f64>,
    /// Probability that a link delays a frame past later ones (0 to 1).
    #[arg(long, value_name = "P", value_parser = parse_probability, allow_negative_numbers = true)]
    pub reorder: Option<f64>,
    /// Probability that a link flips a bit in a frame (0 to 1).
    #[arg(long, value_name = "P", value_parser = parse_probability, allow_negative_numbers = true)]
    pub corrupt: Option<f64>,
    /// Write a pcap file of the first link (or the scenario's pcap link).
    #[arg(long, value_name = "PATH")]
    pub pcap: Option<PathBuf>,
    /// Print the report as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Fold every event into the determinism hash and give its event count
    /// and hash in the report (about 8% slower).
    #[arg(long)]
    pub trace: bool,
    /// Run the scenario twice and compare every event (time, kind, host,
    /// core or port, frame length and bytes); print
    /// "deterministic: N events, hash H" or the first event at which the
    /// runs differ (exit code 1). No report or capture is written.
    #[arg(long, conflicts_with_all = ["json", "pcap"])]
    pub check_determinism: bool,
}

impl RunArgs {
    /// The scenario name or file (the default when none was given).
    pub fn scenario_name(&self) -> &str {
        self.scenario.as_deref().unwrap_or(DEFAULT_SCENARIO)
    }

    /// The options that replace scenario values.
    pub fn overrides(&self) -> CliOverrides {
        CliOverrides {
            seed: self.seed,
            workers: self.workers,
            conns: self.conns,
            duration: self.duration,
            requests: self.requests,
            mtu: self.mtu,
            client: self.client.map(ClientKind::from),
            nic: self.nic.map(NicKind::from),
            loss: self.loss,
            dup: self.dup,
            reorder: self.reorder,
            corrupt: self.corrupt,
            pcap: self.pcap.clone(),
        }
    }

    /// Loads the scenario, applies the overrides and validates the result.
    pub fn scenario(&self) -> Result<Scenario, ScenarioError> {
        let mut scenario = Scenario::load(self.scenario_name())?;
        scenario.apply_overrides(&self.overrides());
        scenario.validate()?;
        Ok(scenario)
    }
}

/// Arguments of `rusty-sim bench`.
#[derive(Args, Debug, Clone, PartialEq)]
pub struct BenchArgs {
    /// The stack of both ends.
    #[arg(long, value_enum, default_value = "rusty")]
    pub stack: BenchStack,
    /// Concurrent connections (1 to 100000; at most 60000 can run).
    #[arg(long, value_name = "N", default_value_t = 1, allow_negative_numbers = true,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_CONNS)))]
    pub conns: u32,
    /// Requests to measure (after the warm-up); the default when neither
    /// this nor --seconds is given is 5000.
    #[arg(long, value_name = "N", conflicts_with = "seconds",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,
    /// Wall-clock seconds to measure (after the warm-up).
    #[arg(long, value_name = "SECONDS", value_parser = parse_duration, allow_negative_numbers = true)]
    pub seconds: Option<f64>,
    /// Print the report as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Rusty's server copies page bodies into transmit buffers instead of
    /// sending them by reference (as smoltcp must).
    #[arg(long)]
    pub copy_bodies: bool,
}

impl BenchArgs {
    /// The bench these arguments ask for.
    pub fn config(&self) -> BenchConfig {
        let stop = match (self.requests, self.seconds) {
            (_, Some(s)) => Stop::Seconds(s),
            (Some(n), None) => Stop::Requests(n),
            (None, None) => Stop::Requests(DEFAULT_REQUESTS),
        };
        BenchConfig {
            copy_bodies: self.copy_bodies,
            ..BenchConfig::new(self.stack, self.conns, stop)
        }
    }
}

/// Why a command-line value or the capture path is not usable.
#[derive(Clone, Debug, PartialEq)]
pub enum CliError {
    /// A probability that is not a number.
    NotANumber(String),
    /// A probability outside `[0, 1]`.
    NotAProbability(f64),
    /// Seconds that are not a number.
    NotSeconds(String),
    /// Seconds that are not finite and above zero.
    BadSeconds(f64),
    /// The capture path is a directory.
    PcapIsDirectory(PathBuf),
    /// The capture path's directory does not exist.
    PcapNoDirectory {
        /// The capture path.
        path: PathBuf,
        /// Its directory.
        dir: PathBuf,
    },
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::NotANumber(s) => write!(f, "'{s}' is not a number"),
            CliError::NotAProbability(p) => {
                write!(f, "must be a probability between 0 and 1, got {p}")
            }
            CliError::NotSeconds(s) => write!(f, "'{s}' is not a number of seconds"),
            CliError::BadSeconds(d) => {
                write!(f, "must be a finite number of seconds above 0, got {d}")
            }
            CliError::PcapIsDirectory(path) => write!(
                f,
                "cannot write the pcap to {}: it is a directory",
                path.display()
            ),
            CliError::PcapNoDirectory { path, dir } => write!(
                f,
                "cannot write the pcap to {}: directory {} does not exist",
                path.display(),
                dir.display()
            ),
        }
    }
}

impl std::error::Error for CliError {}

/// Parses a probability in `[0, 1]`.
fn parse_probability(s: &str) -> Result<f64, CliError> {
    let p: f64 = s
        .trim()
        .parse()
        .map_err(|_| CliError::NotANumber(s.into()))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(CliError::NotAProbability(p))
    }
}

/// Parses a finite number of seconds above zero.
fn parse_duration(s: &str) -> Result<f64, CliError> {
    let d: f64 = s
        .trim()
        .parse()
        .map_err(|_| CliError::NotSeconds(s.into()))?;
    if d.is_finite() && d > 0.0 {
        Ok(d)
    } else {
        Err(CliError::BadSeconds(d))
    }
}

/// Installs the `tracing` subscriber: `RUST_LOG` filtering (off when unset
/// or invalid), written to stderr. Does nothing if one is installed.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Runs the command line `args` (program name first) with `engine`,
/// printing to stdout and stderr; returns the exit code.
pub fn main<I, T>(args: I, engine: Engine) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    init_tracing();
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    let interactive = std::io::stderr().is_terminal();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    execute(
        cli,
        engine,
        &mut stdout.lock(),
        &mut stderr.lock(),
        interactive,
    )
}

/// Carries out a parsed command line, writing the report or results to
/// `out` and messages to `err`; returns the exit code. A progress bar is
/// drawn on the terminal's stderr only when `interactive` is true (and the
/// output is not JSON).
pub fn execute(
    cli: Cli,
    engine: Engine,
    out: &mut dyn Write,
    err: &mut dyn Write,
    interactive: bool,
) -> u8 {
    let command = cli
        .command
        .unwrap_or_else(|| Command::Run(RunArgs::default()));
    match command {
        Command::Run(args) => run(&args, engine, out, err, interactive),
        Command::Bench(args) => bench(&args, out, err),
        Command::Ping {
            count,
            size,
            lose_first,
        } => ping(count, size, lose_first, out, err),
        Command::Pages { out: dir } => pages(&dir, out, err),
        Command::Replay(args) => crate::run::replay::cli::replay(&args, out, err),
        Command::Swarm(args) => swarm(&args, out, err),
        Command::Scale(args) => scale(&args, out, err, interactive),
    }
}

/// `rusty-sim run`: loads, overrides and validates the scenario, runs the
/// engine, and prints the report.
pub fn run(
    args: &RunArgs,
    engine: Engine,
    out: &mut dyn Write,
    err: &mut dyn Write,
    interactive: bool,
) -> u8 {
    let scenario = match args.scenario() {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(err, "rusty-sim: {e}");
            return EXIT_USAGE;
        }
    };
    let pcap = scenario.pcap.as_ref().map(|p| p.path.clone());
    if let Some(path) = &pcap {
        if let Err(message) = check_output_path(path) {
            let _ = writeln!(err, "rusty-sim: {message}");
            return EXIT_USAGE;
        }
    }
    if args.check_determinism {
        return check_determinism(&scenario, engine, out, err);
    }
    let options = RunOptions {
        pcap: pcap.clone(),
        json: args.json,
        trace: if args.trace {
            TraceConfig::every(DEFAULT_INTERVAL)
        } else {
            TraceConfig::default()
        },
    };
    tracing::info!(scenario = %scenario.name, seed = scenario.seed, "starting run");

    let bar = ProgressDisplay::new(interactive && !args.json, scenario.duration);
    let start = Instant::now();
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut progress = |p: Progress| bar.update(p);
        engine(&scenario, &options, &mut progress)
    }));
    let wall_s = start.elapsed().as_secs_f64();
    bar.finish();

    let mut report = match result {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => {
            let _ = writeln!(err, "rusty-sim: simulation failed: {e}");
            return EXIT_FAILURE;
        }
        Err(panic) => {
            let what = panic_message(panic.as_ref());
            let _ = writeln!(err, "rusty-sim: the simulation panicked: {what}");
            return EXIT_FAILURE;
        }
    };
    if report.wall_s == 0.0 {
        report.set_wall_clock(wall_s);
    }
    if let (Some(path), None) = (&pcap, &report.pcap_sha256) {
        match sha256_file(path) {
            Ok(hex) => report.pcap_sha256 = Some(hex),
            Err(e) => {
                let _ = writeln!(
                    err,
                    "rusty-sim: cannot read the pcap file {}: {e}",
                    path.display()
                );
                return EXIT_FAILURE;
            }
        }
    }
    tracing::info!(wall_s = report.wall_s, "run finished");

    let text = if args.json {
        report.json() + "\n"
    } else {
        report.human()
    };
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            let _ = writeln!(err, "rusty-sim: cannot write the report: {e}");
            EXIT_FAILURE
        }
    }
}

/// `rusty-sim run --check-determinism`: runs the scenario twice (four times
/// when they differ, to name the first differing event) and prints the
/// verdict; exit code 1 when the runs differ or a run fails.
pub fn check_determinism(
    scenario: &Scenario,
    engine: Engine,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        crate::kernel::determinism::check(DEFAULT_INTERVAL, |_twin: Twin, trace| {
            let options = RunOptions {
                trace: trace.clone(),
                ..RunOptions::default()
            };
            let report = engine(scenario, &options, &mut |_| {})?;
            report.determinism.ok_or(EngineError::NoDeterminismTrace)
        })
    }));
    let verdict: Verdict = match result {
        Ok(Ok(verdict)) => verdict,
        Ok(Err(e)) => {
            let _ = writeln!(err, "rusty-sim: simulation failed: {e}");
            return EXIT_FAILURE;
        }
        Err(panic) => {
            let what = panic_message(panic.as_ref());
            let _ = writeln!(err, "rusty-sim: the simulation panicked: {what}");
            return EXIT_FAILURE;
        }
    };
    if let Err(e) = write!(out, "{verdict}").and_then(|()| out.flush()) {
        let _ = writeln!(err, "rusty-sim: cannot write the verdict: {e}");
        return EXIT_FAILURE;
    }
    if verdict.is_deterministic() {
        EXIT_OK
    } else {
        EXIT_FAILURE
    }
}

/// Checks that a file can be created at `path`: its directory exists and
/// the path is not a directory.
fn check_output_path(path: &Path) -> Result<(), CliError> {
    if path.is_dir() {
        return Err(CliError::PcapIsDirectory(path.to_path_buf()));
    }
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => {
            Err(CliError::PcapNoDirectory {
                path: path.to_path_buf(),
                dir: dir.to_path_buf(),
            })
        }
        _ => Ok(()),
    }
}

/// The SHA-256 of a file, in lowercase hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path)?;
    let digest = Sha256::digest(&bytes);
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// A progress bar on stderr that appears once a run has taken
/// [`PROGRESS_DELAY`], or nothing when disabled.
struct ProgressDisplay {
    bar: Option<indicatif::ProgressBar>,
    start: Instant,
    shown: std::cell::Cell<bool>,
}

impl ProgressDisplay {
    fn new(enabled: bool, total_s: f64) -> ProgressDisplay {
        let bar = enabled.then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(seconds_to_ms(total_s)),
                indicatif::ProgressDrawTarget::hidden(),
            );
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {percent:>3}% {msg} [{elapsed_precise}, eta {eta}]",
            ) {
                bar.set_style(style);
            }
            bar
        });
        ProgressDisplay {
            bar,
            start: Instant::now(),
            shown: std::cell::Cell::new(false),
        }
    }

    fn update(&self, p: Progress) {
        let Some(bar) = &self.bar else { return };
        if !self.shown.get() {
            if self.start.elapsed() < PROGRESS_DELAY {
                return;
            }
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            self.shown.set(true);
        }
        bar.set_length(seconds_to_ms(p.total_s));
        bar.set_position(seconds_to_ms(p.virtual_s));
        bar.set_message(format!(
            "{:.3}/{:.3} s virtual, {} requests",
            p.virtual_s, p.total_s, p.requests_ok
        ));
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn seconds_to_ms(s: f64) -> u64 {
    if s.is_finite() && s > 0.0 {
        (s * 1000.0).round() as u64
    } else {
        0
    }
}

/// What a caught panic said, for the error message.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown cause".into())
}

/// `rusty-sim bench`: validates, runs and prints; exit code 1 when the run
/// failed or any request failed or byte was corrupt.
pub fn bench(args: &BenchArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let config = args.config();
    if let Err(e) = config.validate() {
        let _ = writeln!(err, "rusty-sim: {e}");
        return EXIT_USAGE;
    }
    let report = match std::panic::catch_unwind(|| crate::run::bench::run(&config)) {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => {
            let _ = writeln!(err, "rusty-sim: bench failed: {e}");
            return EXIT_FAILURE;
        }
        Err(panic) => {
            let what = panic_message(panic.as_ref());
            let _ = writeln!(err, "rusty-sim: the bench panicked: {what}");
            return EXIT_FAILURE;
        }
    };
    let text = if args.json {
        report.json() + "\n"
    } else {
        report.human()
    };
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        let _ = writeln!(err, "rusty-sim: cannot write the report: {e}");
        return EXIT_FAILURE;
    }
    if report.failed() {
        let _ = writeln!(
            err,
            "rusty-sim: {} requests failed, {} bytes corrupt",
            report.requests_failed, report.bytes_corrupt
        );
        return EXIT_FAILURE;
    }
    EXIT_OK
}

/// `rusty-sim ping`.
fn ping(count: u16, size: u16, lose_first: u32, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let report = crate::run::ping_demo::run(&crate::run::ping_demo::PingOptions {
        count,
        size: usize::from(size),
        lose_first,
    });
    let _ = write!(out, "{}", report.log);
    let _ = writeln!(
        out,
        "{} sent, {} received, virtual time {}",
        report.sent, report.replies, report.virtual_time
    );
    if report.replies == report.sent {
        EXIT_OK
    } else {
        let _ = writeln!(
            err,
            "rusty-sim ping: {} of {} echo requests unanswered",
            report.sent - report.replies,
            report.sent
        );
        EXIT_FAILURE
    }
}

/// Arguments of `rusty-sim swarm`.
#[derive(Args, Debug, Clone, PartialEq)]
pub struct SwarmArgs {
    /// The first seed.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    pub seed: u64,
    /// How many seeds (1 to 1000000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub count: u64,
    /// Seeds run at once, on threads (1 to 64).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub jobs: u64,
    /// Run only shard I of N (seeds whose index is I modulo N); by default
    /// from a Slurm array task or a Kubernetes indexed job's environment
    /// (`JOB_COMPLETION_INDEX` with `RUSTY_SWARM_SHARDS`), else all.
    #[arg(long, value_name = "I/N", value_parser = crate::run::shard::parse_shard)]
    pub shard: Option<(u64, u64)>,
    /// The longest liveness drain, in virtual seconds.
    #[arg(long, default_value_t = 60.0, value_parser = parse_duration, allow_negative_numbers = true)]
    pub drain: f64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `rusty-sim swarm`.
fn swarm(args: &SwarmArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    use crate::run::swarm;
    let (index, of) = args
        .shard
        .or_else(|| swarm::shard_from_env(|k| std::env::var(k).ok()))
        .unwrap_or((0, 1));
    if args.drain > crate::scenario::MAX_DURATION_S {
        let _ = writeln!(
            err,
            "rusty-sim: --drain must be at most {} s",
            crate::scenario::MAX_DURATION_S
        );
        return EXIT_USAGE;
    }
    let seeds: Vec<u64> = swarm::shard_seeds(args.seed, args.count, index, of).collect();
    let outcomes = swarm::run_seeds(&seeds, args.jobs as usize, args.drain);
    let failed: Vec<&swarm::SwarmOutcome> = outcomes.iter().filter(|o| !o.passed()).collect();
    if args.json {
        #[derive(serde::Serialize)]
        struct Summary<'a> {
            first_seed: u64,
            count: u64,
            shard: (u64, u64),
            seeds_run: usize,
            passed: usize,
            failed: &'a [&'a swarm::SwarmOutcome],
        }
        let summary = Summary {
            first_seed: args.seed,
            count: args.count,
            shard: (index, of),
            seeds_run: outcomes.len(),
            passed: outcomes.len() - failed.len(),
            failed: &failed,
        };
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string(&summary).expect("serializes")
        );
    } else {
        for o in &failed {
            let _ = writeln!(
                out,
                "seed {} FAILED ({}): {}\n# rusty-sim run this file to reproduce:\n{}# end of seed {}",
                o.seed,
                o.faults.join(", "),
                o.failure.as_deref().unwrap_or(""),
                o.scenario,
                o.seed
            );
        }
        let ok: u64 = outcomes.iter().map(|o| o.requests_ok).sum();
        let bad: u64 = outcomes.iter().map(|o| o.requests_failed).sum();
        let _ = writeln!(
            out,
            "swarm: {} seeds from {} (shard {index}/{of}): {} passed, {} failed; {ok} requests verified, {bad} failed visibly",
            outcomes.len(),
            args.seed,
            outcomes.len() - failed.len(),
            failed.len()
        );
    }
    if failed.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILURE
    }
}

/// `rusty-sim pages`.
fn pages(dir: &Path, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    if let Err(e) = std::fs::create_dir_all(dir).and_then(|()| rusty_fixtures::write_pages(dir)) {
        let _ = writeln!(
            err,
            "rusty-sim: cannot write pages to {}: {e}",
            dir.display()
        );
        return EXIT_USAGE;
    }
    let stats = rusty_fixtures::page_set().stats();
    let _ = writeln!(
        out,
        "wrote {} pages ({} bytes) to {}",
        stats.count,
        stats.total,
        dir.display()
    );
    EXIT_OK
}

/// Arguments of `rusty-sim scale`.
#[derive(Args, Debug, Clone, PartialEq)]
pub struct ScaleArgs {
    /// The server's cost profile: tilegx36 (our stack on the TILE-Gx36), rusty-2015 (the original C++ stack on it), x86 (this machine) or zero.
    #[arg(long, default_value = "tilegx36", value_parser = parse_profile)]
    pub profile: crate::hosts::cost::CostModel,
    /// Worker counts: a list (1,2,8), an inclusive range (1..35), or a mix
    /// (1..4,8,16), each 1 to 64.
    #[arg(long, value_name = "LIST", default_value = "1..35",
          value_parser = crate::run::scale::parse_workers)]
    pub workers: ::std::vec::Vec<u32>,
    /// MTUs in bytes, a list or ranges as for --workers (68 to 9000).
    #[arg(long, value_name = "LIST", default_value = "1500",
          value_parser = crate::run::scale::parse_mtus)]
    pub mtu: ::std::vec::Vec<u16>,
    /// The server's ports: 1 to 4, auto (the thesis rule: 2 from 29
    /// workers) or all.
    #[arg(long, default_value = "auto", value_parser = parse_ports)]
    pub ports: crate::scenario::Ports,
    /// Concurrent client connections (1 to 100000).
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::scenario::MAX_CONNS)))]
    pub conns: u32,
    /// Virtual seconds measured per point, after the warm-up.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::run::scale::DEFAULT_DURATION_S,
          value_parser = parse_duration, allow_negative_numbers = true)]
    pub duration: f64,
    /// Virtual seconds of warm-up per point, not measured.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::run::scale::DEFAULT_WARMUP_S,
          value_parser = parse_duration, allow_negative_numbers = true)]
    pub warmup: f64,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    pub seed: u64,
    /// Points run at once, on threads (1 to 64).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub jobs: u64,
    /// Run only shard I of N (points whose index is I modulo N); by default
    /// from a Slurm array task or a Kubernetes indexed job's environment
    /// (`JOB_COMPLETION_INDEX` with `RUSTY_SHARDS`), else all.
    #[arg(long, value_name = "I/N", value_parser = crate::run::shard::parse_shard)]
    pub shard: Option<(u64, u64)>,
    /// Print the results as one JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write the results as CSV (the header from shard 0 only).
    #[arg(long, value_name = "PATH")]
    pub csv: Option<PathBuf>,
    /// Draw throughput against workers, with the thesis's curves, as SVG
    /// (and against MTU in PATH-mtu.svg when --mtu has several values).
    #[arg(long, value_name = "PATH.svg")]
    pub plot: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl ScaleArgs {
    /// The sweep these arguments ask for.
    pub fn config(&self) -> crate::run::scale::ScaleConfig {
        crate::run::scale::ScaleConfig {
            profile: self.profile,
            workers: self.workers.clone(),
            mtus: self.mtu.clone(),
            ports: self.ports,
            conns: self.conns,
            warmup_s: self.warmup,
            duration_s: self.duration,
            seed: self.seed,
        }
    }
}

/// Parses a cost profile's name.
fn parse_profile(s: &str) -> Result<crate::hosts::cost::CostModel, String> {
    use crate::hosts::cost::CostModel;
    CostModel::by_name(s.trim()).ok_or_else(|| {
        let names: Vec<&str> = CostModel::ALL.iter().map(|m| m.name).collect();
        format!(
            "unknown profile `{s}`, expected one of {}",
            names.join(", ")
        )
    })
}

/// Parses `--ports`: 1 to 4, `auto` or `all`.
fn parse_ports(s: &str) -> Result<crate::scenario::Ports, String> {
    use crate::scenario::{Ports, MAX_PORTS};
    match s.trim() {
        "auto" => Ok(Ports::Auto),
        "all" => Ok(Ports::All),
        n => match n.parse::<u8>() {
            Ok(n) if (1..=MAX_PORTS).contains(&n) => Ok(Ports::Count(n)),
            _ => Err(format!("`{s}`: expected 1..={MAX_PORTS}, auto or all")),
        },
    }
}

/// `rusty-sim scale`.
fn scale(args: &ScaleArgs, out: &mut dyn Write, err: &mut dyn Write, interactive: bool) -> u8 {
    use crate::run::{scale, shard};
    let config = args.config();
    if let Err(e) = scale::validate(&config) {
        let _ = writeln!(err, "rusty-sim: {e}");
        return EXIT_USAGE;
    }
    if config.warmup_s + config.duration_s > crate::scenario::MAX_DURATION_S {
        let _ = writeln!(
            err,
            "rusty-sim: --warmup and --duration must add up to at most {} s",
            crate::scenario::MAX_DURATION_S
        );
        return EXIT_USAGE;
    }
    for path in args.csv.iter().chain(&args.plot) {
        if let Err(e) = check_output_path(path) {
            let _ = writeln!(
                err,
                "rusty-sim: {}",
                e.to_string().replace("the pcap", "output")
            );
            return EXIT_USAGE;
        }
    }
    let (index, of) = args
        .shard
        .or_else(|| shard::shard_from_env(|k| std::env::var(k).ok(), &[shard::SHARDS_VAR]))
        .unwrap_or((0, 1));
    let all = scale::points(&config);
    let mine: Vec<scale::ScalePoint> = shard::shard_indices(all.len() as u64, index, of)
        .map(|i| all[i as usize])
        .collect();
    let bar = (interactive && !args.quiet).then(|| {
        let bar = indicatif::ProgressBar::new(mine.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} points {msg} [{elapsed_precise}, eta {eta}]",
        ) {
            bar.set_style(style);
        }
        bar
    });
    let done = |r: &scale::ScaleResult| {
        if let Some(bar) = &bar {
            bar.inc(1);
            bar.set_message(format!(
                "(last: {} workers, MTU {}: {:.2} Gbps)",
                r.workers, r.mtu, r.gbps
            ));
        }
    };
    let results = scale::run_points(&config, &mine, args.jobs as usize, &done);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let results = match results {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "rusty-sim: scale failed: {e}");
            return EXIT_FAILURE;
        }
    };
    let header = index == 0;
    let text = if args.json {
        scale::json(&results)
    } else {
        scale::table(&results, header)
    };
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        let _ = writeln!(err, "rusty-sim: cannot write the results: {e}");
        return EXIT_FAILURE;
    }
    if let Some(path) = &args.csv {
        if let Err(e) = std::fs::write(path, scale::csv(&results, header)) {
            let _ = writeln!(err, "rusty-sim: cannot write {}: {e}", path.display());
            return EXIT_FAILURE;
        }
    }
    if let Some(path) = &args.plot {
        if let Err(e) = scale::plot::write(&results, path) {
            let _ = writeln!(err, "rusty-sim: {e}");
            return EXIT_FAILURE;
        }
    }
    let failed: u64 = results.iter().map(|r| r.requests_failed).sum();
    let corrupt: u64 = results.iter().map(|r| r.bytes_corrupt).sum();
    if failed > 0 {
        let _ = writeln!(err, "rusty-sim: {failed} requests failed in the sweep");
    }
    if corrupt > 0 {
        let _ = writeln!(err, "rusty-sim: {corrupt} corrupt bytes reached the client");
        return EXIT_FAILURE;
    }
    EXIT_OK
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::report::CoreReport;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("rusty-sim").chain(args.iter().copied()))
    }

    fn run_args(args: &[&str]) -> RunArgs {
        match parse(args).unwrap().command {
            Some(Command::Run(a)) => a,
            other => panic!("{other:?}"),
        }
    }

    /// A stand-in engine: one request per connection, progress reported.
    fn fake_engine(
        s: &Scenario,
        o: &RunOptions,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Report, EngineError> {
        progress(Progress {
            virtual_s: s.duration / 2.0,
            total_s: s.duration,
            requests_ok: 1,
        });
        if let Some(path) = &o.pcap {
            std::fs::write(path, b"abc").map_err(|source| EngineError::WritePcap {
                path: path.clone(),
                source,
            })?;
        }
        let mut r = Report::new(s);
        r.virtual_s = s.duration;
        r.requests_ok = u64::from(s.client.conns);
        r.bytes_ok = 1000 * r.requests_ok;
        r.per_core = (0..s.server.workers)
            .map(|core| CoreReport {
                core,
                busy_frac: 0.5,
                ..CoreReport::default()
            })
            .collect();
        r.compute_rates();
        Ok(r)
    }

    fn failing_engine(
        _: &Scenario,
        _: &RunOptions,
        _: &mut dyn FnMut(Progress),
    ) -> Result<Report, EngineError> {
        Err(EngineError::NoLink(7))
    }

    fn panicking_engine(
        _: &Scenario,
        _: &RunOptions,
        _: &mut dyn FnMut(Progress),
    ) -> Result<Report, EngineError> {
        panic!("kaboom")
    }

    fn exec(args: &[&str], engine: Engine) -> (u8, String, String) {
        let cli = parse(args).unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = execute(cli, engine, &mut out, &mut err, false);
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_to_thesis() {
        let a = run_args(&["run"]);
        assert_eq!(a.scenario_name(), "thesis");
        assert_eq!(a.overrides(), CliOverrides::default());
        assert_eq!(a.scenario().unwrap(), Scenario::thesis());
        assert_eq!(RunArgs::default().scenario_name(), "thesis");
        assert!(parse(&[]).unwrap().command.is_none());
    }

    #[test]
    fn all_flags_parse() {
        let a = run_args(&[
            "run",
            "small",
            "--seed",
            "5",
            "--workers",
            "3",
            "--conns",
            "7",
            "--duration",
            "0.5",
            "--requests",
            "9",
            "--mtu",
            "9000",
            "--client",
            "smoltcp",
            "--loss",
            "0.1",
            "--dup",
            "0.2",
            "--reorder",
            "0.3",
            "--corrupt",
            "0",
            "--pcap",
            "x.pcap",
            "--json",
        ]);
        assert!(a.json);
        let s = a.scenario().unwrap();
        assert_eq!(s.name, "small");
        assert_eq!(s.seed, 5);
        assert_eq!(s.server.workers, 3);
        assert_eq!(s.client.conns, 7);
        assert_eq!(s.duration, 0.5);
        assert_eq!(s.max_requests, Some(9));
        assert_eq!(s.server.mtu, 9000);
        assert_eq!(s.client.kind, ClientKind::Smoltcp);
        assert_eq!(s.links.faults.loss, 0.1);
        assert_eq!(s.links.faults.duplicate, 0.2);
        assert_eq!(s.links.faults.reorder, 0.3);
        assert_eq!(s.links.faults.corrupt, 0.0);
        assert_eq!(s.pcap.unwrap().path, PathBuf::from("x.pcap"));
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for args in [
            &["run", "--loss", "1.5"][..],
            &["run", "--loss", "-0.1"],
            &["run", "--loss", "abc"],
            &["run", "--dup", "NaN"],
            &["run", "--workers", "0"],
            &["run", "--workers", "65"],
            &["run", "--conns", "0"],
            &["run", "--mtu", "67"],
            &["run", "--mtu", "9001"],
            &["run", "--duration", "0"],
            &["run", "--duration", "inf"],
            &["run", "--requests", "0"],
            &["run", "--client", "linux"],
            &["run", "--frobnicate"],
            &["frobnicate"],
        ] {
            let e = parse(args).unwrap_err();
            assert!(e.use_stderr(), "{args:?}");
            assert_eq!(e.exit_code(), 2, "{args:?}");
        }
        let e = parse(&["run", "--loss", "-0.5"]).unwrap_err().to_string();
        assert!(e.contains("between 0 and 1, got -0.5"), "{e}");
        let e = parse(&["run", "--duration", "-1"]).unwrap_err().to_string();
        assert!(e.contains("above 0, got -1"), "{e}");
        let e = parse(&["run", "--loss", "1.5"]).unwrap_err().to_string();
        assert!(e.contains("--loss") && e.contains("between 0 and 1"), "{e}");
    }

    #[test]
    fn bench_args() {
        let bench = |args: &[&str]| match parse(args).unwrap().command {
            Some(Command::Bench(a)) => a,
            other => panic!("{other:?}"),
        };
        let a = bench(&["bench"]);
        assert_eq!(
            a.config(),
            BenchConfig::new(BenchStack::Rusty, 1, Stop::Requests(DEFAULT_REQUESTS))
        );
        assert!(!a.json);
        let a = bench(&[
            "bench",
            "--stack",
            "smoltcp",
            "--conns",
            "7",
            "--seconds",
            "2.5",
            "--json",
        ]);
        assert_eq!(a.config().stop, Stop::Seconds(2.5));
        assert_eq!(
            (a.config().stack, a.config().conns),
            (BenchStack::Smoltcp, 7)
        );
        assert!(a.json);
        assert_eq!(
            bench(&["bench", "--requests", "9"]).config().stop,
            Stop::Requests(9)
        );
        for args in [
            &["bench", "--conns", "0"][..],
            &["bench", "--conns", "100001"],
            &["bench", "--requests", "1", "--seconds", "1"],
            &["bench", "--seconds", "-2"],
            &["bench", "--seconds", "nan"],
            &["bench", "--stack", "linux"],
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}");
        }
        assert!(parse(&["bench", "--conns", "100000"]).is_ok());
    }

    #[test]
    fn bench_refuses_more_connections_than_ports() {
        let (code, out, err) = exec(&["bench", "--conns", "70000"], fake_engine);
        assert_eq!(code, EXIT_USAGE);
        assert!(out.is_empty());
        assert!(err.contains("at most 60000"), "{err}");
    }

    #[test]
    fn help_lists_builtins() {
        use clap::CommandFactory;
        let mut cmd = Cli::command();
        let help = cmd
            .find_subcommand_mut("run")
            .unwrap()
            .render_help()
            .to_string();
        for name in crate::scenario::BUILTIN_NAMES {
            assert!(help.contains(name), "{name} missing from\n{help}");
        }
    }

    #[test]
    fn run_prints_a_human_report() {
        let (code, out, err) = exec(&["run", "small"], fake_engine);
        assert_eq!(code, EXIT_OK, "{err}");
        assert!(out.contains("scenario     small (seed 1)"), "{out}");
        assert!(out.contains("requests     20 ok"), "{out}");
        assert!(out.contains("wall time"), "{out}");
        assert!(err.is_empty(), "{err}");
    }

    #[test]
    fn run_prints_json_and_hashes_the_pcap() {
        let dir = std::env::temp_dir().join(format!("rusty-sim-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pcap = dir.join("a.pcap");
        let (code, out, err) = exec(
            &[
                "run",
                "small",
                "--json",
                "--conns",
                "3",
                "--pcap",
                pcap.to_str().unwrap(),
            ],
            fake_engine,
        );
        assert_eq!(code, EXIT_OK, "{err}");
        assert_eq!(out.lines().count(), 1);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["requests_ok"], 3);
        assert_eq!(v["conns"], 3);
        assert!(v["wall_s"].as_f64().unwrap() > 0.0);
        // sha256("abc")
        assert_eq!(
            v["pcap_sha256"],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_pcap_directory_is_a_usage_error() {
        let (code, _, err) = exec(
            &["run", "small", "--pcap", "/no/such/dir/x.pcap"],
            fake_engine,
        );
        assert_eq!(code, EXIT_USAGE);
        assert!(err.contains("/no/such/dir"), "{err}");
    }

    #[test]
    fn scenario_errors_exit_2() {
        let (code, out, err) = exec(&["run", "nonesuch"], fake_engine);
        assert_eq!(code, EXIT_USAGE);
        assert!(out.is_empty());
        assert!(err.contains("unknown scenario 'nonesuch'"), "{err}");
        assert!(err.contains("small-lossy"), "{err}");
    }

    #[test]
    fn engine_failures_exit_1() {
        let (code, _, err) = exec(&["run", "small"], failing_engine);
        assert_eq!(code, EXIT_FAILURE);
        assert!(
            err.contains("simulation failed: no link 7 to capture"),
            "{err}"
        );
        let (code, _, err) = exec(&["run", "small"], panicking_engine);
        assert_eq!(code, EXIT_FAILURE);
        assert!(err.contains("kaboom"), "{err}");
    }

    #[test]
    fn check_determinism_of_a_real_run() {
        let (code, out, err) = exec(
            &["run", "small", "--duration", "0.02", "--check-determinism"],
            crate::run::engine::run,
        );
        assert_eq!(code, EXIT_OK, "{err}");
        assert!(out.starts_with("deterministic: "), "{out}");
        assert!(out.contains(" events, hash "), "{out}");
        assert!(!out.contains("requests"), "no report: {out}");
    }

    #[test]
    fn trace_puts_the_hash_in_the_report() {
        let json = |extra: &[&str]| {
            let args: Vec<&str> = ["run", "small", "--duration", "0.02", "--json"]
                .iter()
                .chain(extra)
                .copied()
                .collect();
            let (code, out, err) = exec(&args, crate::run::engine::run);
            assert_eq!(code, EXIT_OK, "{err}");
            serde_json::from_str::<serde_json::Value>(&out).unwrap()
        };
        assert!(json(&[]).get("determinism").is_none(), "off by default");
        let traced = json(&["--trace"]);
        assert!(traced["determinism"]["events"].as_u64().unwrap() > 100);
        assert_eq!(traced["determinism"]["interval"], DEFAULT_INTERVAL);
    }

    thread_local! {
        static CALLS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }

    /// An engine whose even-numbered calls (the second twin) send one
    /// other frame at event 10 of 100.
    fn diverging_engine(
        s: &Scenario,
        o: &RunOptions,
        _: &mut dyn FnMut(Progress),
    ) -> Result<Report, EngineError> {
        let call = CALLS.with(|c| {
            c.set(c.get() + 1);
            c.get()
        });
        let mut trace = crate::kernel::determinism::Trace::new(o.trace.clone());
        for i in 0..100u64 {
            let byte = u8::from(i == 10 && call.is_multiple_of(2));
            let at = rusty_stack::time::Instant::from_micros(i);
            trace.frame(
                crate::kernel::determinism::TraceKind::Send,
                at,
                (1, 0),
                &[byte; 64],
            );
        }
        let mut r = Report::new(s);
        r.determinism = Some(trace.summary());
        Ok(r)
    }

    #[test]
    fn check_determinism_names_the_first_divergence() {
        CALLS.with(|c| c.set(0));
        let (code, out, _) = exec(&["run", "small", "--check-determinism"], diverging_engine);
        assert_eq!(code, EXIT_FAILURE);
        assert!(out.starts_with("NOT deterministic"), "{out}");
        assert!(out.contains("first divergence at event 10"), "{out}");
        assert!(
            out.contains("run 1: event 10 at 0.000010000s: send host 1 port 0"),
            "{out}"
        );
        assert_eq!(
            CALLS.with(|c| c.get()),
            4,
            "two runs, then two recording runs"
        );
        // An engine that keeps no trace is an error, not a verdict.
        let (code, _, err) = exec(&["run", "small", "--check-determinism"], fake_engine);
        assert_eq!(code, EXIT_FAILURE);
        assert!(err.contains("no determinism trace"), "{err}");
        for args in [
            &["run", "--check-determinism", "--json"][..],
            &["run", "--check-determinism", "--pcap", "x.pcap"],
        ] {
            assert_eq!(parse(args).unwrap_err().exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn progress_display_disabled_is_silent() {
        let d = ProgressDisplay::new(false, 1.0);
        d.update(Progress::default());
        d.finish();
        let d = ProgressDisplay::new(true, 1.0);
        d.update(Progress {
            virtual_s: 0.5,
            total_s: 1.0,
            requests_ok: 3,
        });
        d.finish();
        assert_eq!(seconds_to_ms(1.5), 1500);
        assert_eq!(seconds_to_ms(f64::NAN), 0);
    }

    #[test]
    fn ping_runs() {
        let (code, out, _) = exec(&["ping", "--count", "2"], fake_engine);
        assert_eq!(code, EXIT_OK);
        assert!(out.contains("2 sent, 2 received"), "{out}");
    }

    #[test]
    fn probability_parser() {
        assert_eq!(parse_probability("0"), Ok(0.0));
        assert_eq!(parse_probability("1"), Ok(1.0));
        assert_eq!(parse_probability(" 0.25 "), Ok(0.25));
        assert!(parse_probability("1.0001").is_err());
        assert!(parse_probability("nan").is_err());
        assert!(parse_duration("-1").is_err());
        assert_eq!(parse_duration("2"), Ok(2.0));
    }
}
