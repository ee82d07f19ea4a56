//! scx_relay: a sched_ext scheduler whose policies run in user space.
//!
//! `scx_relay [OPTIONS]` loads the BPF dispatcher and schedules this machine
//! with the chosen policy (needs root and a kernel with sched_ext);
//! `scx_relay sim ...` runs a policy in the deterministic simulator.

mod run;
mod sim_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// scx_relay: a sched_ext scheduler whose policies run in user space, in Rust.
///
/// Without a subcommand, loads the BPF dispatcher and schedules this machine
/// with the chosen policy until SIGINT/SIGTERM (root and a kernel with
/// CONFIG_SCHED_CLASS_EXT are needed). `scx_relay sim` runs a policy in the
/// deterministic simulator instead (no root, any kernel).
#[derive(Debug, Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Opts {
    #[command(flatten)]
    run: run::RunOpts,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a policy against a simulated machine and workload, and report.
    Sim(sim_cmd::SimArgs),
}

fn main() -> ExitCode {
    let opts = match Opts::try_parse() {
        Ok(o) => o,
        Err(e) => {
            // clap prints help/version on stdout (exit 0) and usage errors on
            // stderr; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match opts.command {
        Some(Command::Sim(args)) => sim_cmd::main(&args),
        None => run::main(&opts.run),
    }
}
