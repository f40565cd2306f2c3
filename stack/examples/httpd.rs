//! An HTTP server on a Linux TAP device: the built-in 500-page benchmark
//! set (page `N` at `/N.htm`), or the files `DIR/N.htm` with `--pages DIR`.
//!
//! ```sh
//! sudo ip tuntap add dev rtap0 mode tap && sudo ip addr add 10.77.0.1/24 dev rtap0 && sudo ip link set rtap0 up
//! cargo run --release -p rusty-stack --features tap --example httpd -- --tap rtap0 --ip 10.77.0.2/24
//! curl http://10.77.0.2/3.htm
//! ```

mod common;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use rusty_apps::{HttpServer, Page};
use rusty_stack::prefix_sum::PrefixSums;

#[derive(Parser, Debug)]
#[command(about = "Rusty's HTTP server on a TAP device")]
struct Args {
    #[command(flatten)]
    tap: common::TapArgs,
    /// The port to listen on
    #[arg(long, default_value_t = 80)]
    port: u16,
    /// Serve DIR/N.htm for N = 0, 1, ... (until the first missing file)
    /// instead of the built-in page set
    #[arg(long)]
    pages: Option<PathBuf>,
}

/// The pages `dir/0.htm`, `dir/1.htm`, ... until the first missing one,
/// each with its checksum table; kept for the program's life.
fn load_pages(dir: &std::path::Path) -> std::io::Result<Vec<Page<'static>>> {
    let mut pages = Vec::new();
    loop {
        let path = dir.join(format!("{}.htm", pages.len()));
        let body = match std::fs::read(&path) {
            Ok(body) => body,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
            Err(e) => return Err(e),
        };
        let body: &'static [u8] = Box::leak(body.into_boxed_slice());
        let sums: &'static PrefixSums = Box::leak(Box::new(PrefixSums::new(body)));
        pages.push(Page::with_sums(body, sums));
    }
    if pages.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no {}/0.htm", dir.display()),
        ));
    }
    Ok(pages)
}

fn serve<C: rusty_apps::Content>(args: &Args, content: C) -> std::io::Result<()> {
    let mut settings = vec![("port", args.port.to_string())];
    if let Some(dir) = &args.pages {
        settings.push(("pages", format!("{:?}", dir.display().to_string())));
    }
    let (mut stack, mut nic) =
        common::open(&args.tap, HttpServer::new(content), "httpd", &settings)?;
    stack
        .listen(args.port, 1024)
        .map_err(|e| std::io::Error::other(format!("listen: {e:?}")))?;
    eprintln!("serving on {}:{}", args.tap.ip.addr(), args.port);
    common::run(&mut stack, &mut nic, args.tap.duration, |_| false)?;
    let c = stack.app().counters();
    println!(
        "requests {} ok {} not_found {} bad_request {} body_bytes {}",
        c.requests(),
        c.ok,
        c.not_found,
        c.bad_request,
        c.body_bytes
    );
    println!("tcp {:?}", stack.tcp_counters());
    let meter = stack.meter();
    println!(
        "meter tx_references {} bytes_copied {}",
        meter.tx_references, meter.bytes_copied
    );
    println!(
        "tap {:?} faults {:?}",
        nic.inner().inner().stats(),
        nic.inner().stats()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match &args.pages {
        Some(dir) => load_pages(dir).and_then(|pages| serve(&args, pages)),
        None => serve(&args, rusty_fixtures::PageContent::all()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("httpd: {e}");
            ExitCode::from(1)
        }
    }
}
