//! The `rusty-sim` command line; see [`rusty_sim::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(rusty_sim::cli::main(
        std::env::args_os(),
        rusty_sim::engine::run,
    ))
}
