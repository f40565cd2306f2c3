//! The simulation engine's entry point.
//!
//! PLACEHOLDER: this module only fixes the signature the command line calls
//! (see [`crate::cli::Engine`]); the discrete-event engine replaces the body
//! of [`run`].

use crate::cli::{Progress, RunOptions};
use crate::report::Report;
use crate::scenario::Scenario;

/// Runs `scenario` and reports on it. See [`crate::cli::Engine`] for the
/// contract.
///
/// Not built yet: always returns an error.
pub fn run(
    scenario: &Scenario,
    options: &RunOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, String> {
    let _ = (scenario, options, progress);
    Err("the simulation engine is not built yet".to_string())
}
