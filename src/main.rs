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
            // Help and version go to stdout in full (exit 0). A usage error is
            // one line on stderr (clap's first: "error: invalid value ..."),
            // exit 2; `--help` has the rest.
            if !e.use_stderr() {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            let text = e.render().to_string();
            let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("error: invalid arguments");
            eprintln!("scx_relay: {}", line.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    match opts.command {
        Some(Command::Sim(args)) => sim_cmd::main(&args),
        None => run::main(&opts.run),
    }
}
