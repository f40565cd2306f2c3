//! An echo server (RFC 862) on a Linux TAP device.
//!
//! ```sh
//! cargo run --release -p rusty-stack --features tap --example echo -- --tap rtap0 --ip 10.77.0.2/24
//! echo hello | nc -q1 10.77.0.2 7
//! ```

mod common;

use std::process::ExitCode;

use clap::Parser;
use rusty_apps::EchoServer;

#[derive(Parser, Debug)]
#[command(about = "Rusty's echo server on a TAP device")]
struct Args {
    #[command(flatten)]
    tap: common::TapArgs,
    /// The port to listen on
    #[arg(long, default_value_t = 7)]
    port: u16,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let run = || -> std::io::Result<()> {
        let (mut stack, mut nic) = common::open(
            &args.tap,
            EchoServer::new(),
            "echo",
            &[("port", args.port.to_string())],
        )?;
        stack
            .listen(args.port, 1024)
            .map_err(|e| std::io::Error::other(format!("listen: {e:?}")))?;
        eprintln!("echoing on {}:{}", args.tap.ip.addr(), args.port);
        common::run(&mut stack, &mut nic, args.tap.duration, |_| false)?;
        println!("echo {:?}", stack.app().counters());
        println!("tcp {:?}", stack.tcp_counters());
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo: {e}");
            ExitCode::from(1)
        }
    }
}
