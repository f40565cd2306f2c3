//! `linux-page-server`: serves the 500-page set over the Linux kernel's
//! TCP, one epoll loop and `SO_REUSEPORT` socket per worker thread.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::ExitCode;

use clap::Parser;
use rusty_linux_bench::server::{Server, ServerConfig};

/// Serves `rusty_fixtures`' 500 pages (`/0.htm` … `/499.htm`) over HTTP/1.1.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// IPv4 address to listen on.
    #[arg(long, default_value_t = Ipv4Addr::UNSPECIFIED)]
    addr: Ipv4Addr,
    /// Port to listen on (0: any free port, printed at start).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Worker threads, each with its own listening socket and epoll loop
    /// (default: one per CPU).
    #[arg(long)]
    workers: Option<usize>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let defaults = ServerConfig::default();
    let config = ServerConfig {
        addr: args.addr,
        port: args.port,
        workers: args.workers.unwrap_or(defaults.workers).max(1),
        ..defaults
    };
    let server = match Server::bind(&config) {
        Ok(server) => server,
        Err(e) => {
            eprintln!(
                "linux-page-server: cannot listen on {}:{}: {e}",
                config.addr, config.port
            );
            return ExitCode::FAILURE;
        }
    };
    let set = rusty_fixtures::page_set();
    println!(
        "linux-page-server: listening on {} with {} workers ({} pages, {} bytes)",
        server.local_addr(),
        server.workers(),
        set.pages().len(),
        set.total_bytes()
    );
    let _ = std::io::stdout().flush();
    let result = server.spawn().and_then(|running| running.join());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("linux-page-server: {e}");
            ExitCode::FAILURE
        }
    }
}
