//! The real scheduler: loads the BPF dispatcher and runs the engine on it.

use std::process::ExitCode;

/// Options of the real scheduler (see `scx_relay --help`).
#[derive(Debug, clap::Args)]
pub struct RunOpts {
    /// Scheduling policy.
    #[arg(long, default_value = "deadline")]
    pub policy: String,
}

/// Runs the real scheduler; returns the process exit code.
pub fn main(_opts: &RunOpts) -> ExitCode {
    eprintln!("scx_relay: the real-kernel scheduler is not built yet; try `scx_relay sim`");
    ExitCode::from(1)
}
