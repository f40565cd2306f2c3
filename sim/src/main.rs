//! The `rusty-sim` command line; see [`rusty_sim::cli`].

use std::process::ExitCode;

/// Counts the allocations of `rusty-sim bench`'s measuring thread (and
/// otherwise just forwards to the system allocator).
#[global_allocator]
static ALLOCATOR: rusty_alloc_counter::CountingAllocator = rusty_alloc_counter::CountingAllocator;

fn main() -> ExitCode {
    ExitCode::from(rusty_sim::cli::main(
        std::env::args_os(),
        rusty_sim::run::engine::run,
    ))
}
