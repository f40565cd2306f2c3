//! Rusty as an HTTP client on a Linux TAP device: fetches random pages of
//! the built-in 500-page set from a server (Rusty's `httpd`, or any server
//! of the same files), checks every byte, and exits 0 only if all were
//! right.
//!
//! ```sh
//! cargo run --release -p rusty-stack --features tap --example fetch -- \
//!     --tap rtap0 --ip 10.77.0.2/24 --server 10.77.0.1 --port 8080 --requests 50
//! ```

mod common;

use std::process::ExitCode;

use clap::Parser;
use rusty_apps::{HttpClientConfig, HttpLoadClient};
use rusty_stack::wire::Ipv4Addr;

#[derive(Parser, Debug)]
#[command(about = "Rusty's verifying HTTP load client on a TAP device")]
struct Args {
    #[command(flatten)]
    tap: common::TapArgs,
    /// The server's address
    #[arg(long)]
    server: Ipv4Addr,
    /// The server's port
    #[arg(long, default_value_t = 80)]
    port: u16,
    /// Requests to make
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    requests: u64,
    /// Requests in flight at once
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    conns: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = HttpClientConfig {
        concurrency: args.conns as usize,
        max_requests: Some(args.requests),
        seed: args.tap.seed,
        ..HttpClientConfig::new(args.server, args.port)
    };
    let client = HttpLoadClient::new(config, rusty_fixtures::PageContent::all());
    let result = common::open(
        &args.tap,
        client,
        "fetch",
        &[
            ("server", format!("\"{}\"", args.server)),
            ("port", args.port.to_string()),
            ("requests", args.requests.to_string()),
            ("conns", args.conns.to_string()),
        ],
    )
    .and_then(|(mut stack, mut nic)| {
        common::run(&mut stack, &mut nic, args.tap.duration, |s| {
            s.app().is_finished()
        })?;
        Ok(stack)
    });
    match result {
        Ok(stack) => {
            let c = stack.app().counters();
            println!(
                "requests {} ok {} failed {} bytes_ok {} bytes_corrupt {}",
                c.started,
                c.ok,
                c.failed_total(),
                c.bytes_ok,
                c.bytes_corrupt
            );
            println!("failed {:?}", c.failed);
            println!("tcp {:?}", stack.tcp_counters());
            if c.ok == args.requests && c.failed_total() == 0 && c.bytes_corrupt == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("fetch: {e}");
            ExitCode::from(1)
        }
    }
}
