//! `scx_relay sim`: run a policy in the deterministic simulator.

use std::process::ExitCode;

/// Options of `scx_relay sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Scheduling policy.
    #[arg(long, default_value = "deadline")]
    pub policy: String,
}

/// Runs the simulator; returns the process exit code.
pub fn main(_args: &SimArgs) -> ExitCode {
    ExitCode::from(1)
}
