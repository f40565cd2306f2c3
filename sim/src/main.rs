//! The `rusty-sim` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Rusty's deterministic simulator.
#[derive(Parser, Debug)]
#[command(name = "rusty-sim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Two stacks ping each other over an in-memory wire (the default).
    Ping {
        /// Echo requests to send.
        #[arg(long, default_value_t = 4)]
        count: u16,
        /// Bytes of echo data per request.
        #[arg(long, default_value_t = 56, value_parser = clap::value_parser!(u16).range(0..=1472))]
        size: u16,
        /// Frames of the pinging side to lose first (shows ARP retries).
        #[arg(long, default_value_t = 0)]
        lose_first: u32,
    },
    /// Writes the 500-page benchmark set as DIR/0.htm … DIR/499.htm.
    Pages {
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let command = cli.command.unwrap_or(Command::Ping {
        count: 4,
        size: 56,
        lose_first: 0,
    });
    match command {
        Command::Ping {
            count,
            size,
            lose_first,
        } => {
            let report = rusty_sim::ping_demo::run(&rusty_sim::ping_demo::PingOptions {
                count,
                size: usize::from(size),
                lose_first,
            });
            print!("{}", report.log);
            println!(
                "{} sent, {} received, virtual time {}",
                report.sent, report.replies, report.virtual_time
            );
            if report.replies == report.sent {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Pages { out } => {
            if let Err(e) =
                std::fs::create_dir_all(&out).and_then(|()| rusty_fixtures::write_pages(&out))
            {
                eprintln!("rusty-sim: cannot write pages to {}: {e}", out.display());
                return ExitCode::from(2);
            }
            let stats = rusty_fixtures::page_set().stats();
            println!(
                "wrote {} pages ({} bytes) to {}",
                stats.count,
                stats.total,
                out.display()
            );
            ExitCode::SUCCESS
        }
    }
}
