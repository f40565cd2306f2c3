//! `rusty-sim replay PCAP [--mode exact|adaptive] [--json]`: the command
//! line of [`crate::run::replay`].

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::adaptive::{self, AdaptiveReport, FlowOutcome};
use super::exact::{self, ExactReport};
use super::settings::{sidecar_path, AppKind, SidecarFile};
use super::{Capture, ReplayError};

/// Exit code: the replay matched the capture.
pub const EXIT_MATCHED: u8 = 0;
/// Exit code: the replay diverged from the capture.
pub const EXIT_DIVERGED: u8 = 1;
/// Exit code: the capture or the settings could not be used.
pub const EXIT_BAD_INPUT: u8 = 2;

/// How to replay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The capture's incoming frames at their times; every sent frame must
    /// match.
    #[default]
    Exact,
    /// Rusty plays each flow's remote peer against a live stack.
    Adaptive,
}

/// Arguments of `rusty-sim replay`. The stack's settings come from the
/// sidecar `PCAP` with `.toml` (as the TAP examples' `--pcap` write it);
/// each flag replaces the sidecar's value.
#[derive(Args, Debug, Clone, PartialEq)]
pub struct ReplayArgs {
    /// The capture (classic pcap, Ethernet).
    #[arg(value_name = "PCAP")]
    pub pcap: PathBuf,
    /// exact: frame for frame; adaptive: replay each flow's peer live.
    #[arg(long, value_enum, default_value_t = Mode::Exact)]
    pub mode: Mode,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// The settings file (default: PCAP with `.toml`, if it exists).
    #[arg(long)]
    pub settings: Option<PathBuf>,
    /// The application the stack ran.
    #[arg(long, value_enum)]
    pub app: Option<AppKind>,
    /// The stack's MAC address, e.g. 02:00:00:77:00:02.
    #[arg(long)]
    pub mac: Option<String>,
    /// The stack's address and prefix, e.g. 10.77.0.2/24.
    #[arg(long)]
    pub ip: Option<String>,
    /// The seed of the stack's secret.
    #[arg(long)]
    pub seed: Option<u64>,
    /// The listening port (httpd, echo) or the server's port (fetch).
    #[arg(long)]
    pub port: Option<u16>,
}

/// The report, as printed.
#[derive(Debug, Serialize)]
struct Printed<'a> {
    mode: Mode,
    capture: String,
    matched: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    exact: Option<&'a ExactReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    adaptive: Option<&'a AdaptiveReport>,
}

/// Runs `rusty-sim replay`; returns the exit code.
pub fn replay(args: &ReplayArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match run(args, out) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(err, "rusty-sim replay: {e}");
            EXIT_BAD_INPUT
        }
    }
}

fn run(args: &ReplayArgs, out: &mut dyn Write) -> Result<u8, ReplayError> {
    let capture = Capture::load(&args.pcap)?;
    let path = args
        .settings
        .clone()
        .unwrap_or_else(|| sidecar_path(&args.pcap));
    let sidecar = match SidecarFile::load(&path)? {
        Some(s) => s,
        None if args.settings.is_some() => {
            return Err(ReplayError::Settings(format!(
                "{}: no such file",
                path.display()
            )))
        }
        None => SidecarFile::default(),
    };
    let flags = SidecarFile {
        app: args.app,
        mac: args.mac.clone(),
        ip: args.ip.clone(),
        seed: args.seed,
        port: args.port,
        ..SidecarFile::default()
    };
    let settings = sidecar.overridden_by(&flags).settings()?;
    let capture_name = args.pcap.display().to_string();
    let (exact_report, adaptive_report, matched) = match args.mode {
        Mode::Exact => {
            let r = exact::replay(&capture, &settings)?;
            let matched = r.divergence.is_none();
            (Some(r), None, matched)
        }
        Mode::Adaptive => {
            let r = adaptive::replay(&capture, &settings)?;
            let matched = r.all_completed();
            (None, Some(r), matched)
        }
    };
    let printed = Printed {
        mode: args.mode,
        capture: capture_name,
        matched,
        exact: exact_report.as_ref(),
        adaptive: adaptive_report.as_ref(),
    };
    let io = |e: std::io::Error| ReplayError::io("stdout".as_ref(), e);
    if args.json {
        let text = serde_json::to_string_pretty(&printed).expect("a report serializes");
        writeln!(out, "{text}").map_err(io)?;
    } else {
        write_text(&printed, out).map_err(io)?;
    }
    Ok(if matched { EXIT_MATCHED } else { EXIT_DIVERGED })
}

fn write_text(p: &Printed<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    if let Some(r) = p.exact {
        writeln!(
            out,
            "{}: {} frames, {} fed to the stack; it sent {} (the capture shows {}); {} matched",
            p.capture, r.frames, r.fed, r.emitted, r.expected, r.matched
        )?;
        match &r.divergence {
            None => writeln!(
                out,
                "identical: every frame the stack sent matches the capture"
            )?,
            Some(d) => {
                writeln!(
                    out,
                    "diverged at sent frame {} ({:.6} s into the replay)",
                    d.index,
                    d.at_ns as f64 / 1e9
                )?;
                writeln!(
                    out,
                    "  captured: {}",
                    d.expected.as_deref().unwrap_or("(none)")
                )?;
                writeln!(out, "  replayed: {}", d.got.as_deref().unwrap_or("(none)"))?;
                if let Some(diff) = &d.first_difference {
                    writeln!(out, "  first difference: {diff}")?;
                }
            }
        }
    }
    if let Some(r) = p.adaptive {
        for f in &r.flows {
            let what = match f.outcome {
                FlowOutcome::Completed => "completed",
                FlowOutcome::Diverged => "diverged",
                FlowOutcome::Skipped => "skipped",
            };
            writeln!(
                out,
                "{}: {what}: played {}/{} peer segments; the stack sent {} bytes (captured {})",
                f.flow, f.played, f.peer_segments, f.stack_bytes_live, f.stack_bytes_captured
            )?;
            if let Some(why) = &f.why {
                writeln!(out, "  {why}")?;
            }
        }
        writeln!(
            out,
            "{}",
            if p.matched {
                "every flow completed"
            } else {
                "not every flow completed"
            }
        )?;
    }
    Ok(())
}
