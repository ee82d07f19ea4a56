//! scx_relay: a sched_ext scheduler whose policies run in user space.
//!
//! `scx_relay [OPTIONS]` loads the BPF dispatcher and schedules this machine
//! with the chosen policy (needs root and a kernel with sched_ext);
//! `scx_relay sim ...` runs a policy in the deterministic simulator;
//! `scx_relay report ...` compares policies there in an HTML page;
//! `scx_relay ctl ...` switches the running scheduler's policy live.
//!
//! The binary is [`main`]. A program with a policy of its own runs it on a
//! real kernel with [`run_with_policy`] (the same options, live switching
//! included).

pub mod ctl_client;
mod policy_list;
mod record_cmd;
mod report_cmd;
mod run;
mod sim_cmd;
mod version;

pub use run::alloc_probe::{self, CountingAllocator};
pub use version::version;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use policies::PolicyConfig;
use scheduler_core::Policy;

/// scx_relay: a sched_ext scheduler whose policies run in user space, in Rust.
///
/// Without a subcommand, loads the BPF dispatcher and schedules this machine
/// with the chosen policy until SIGINT/SIGTERM (root and a kernel with
/// CONFIG_SCHED_CLASS_EXT are needed). `scx_relay sim` runs a policy in the
/// deterministic simulator instead (no root, any kernel); `scx_relay ctl`
/// talks to a running scheduler.
#[derive(Debug, Parser)]
#[command(name = "scx_relay", version = version(), args_conflicts_with_subcommands = true)]
struct Opts {
    #[command(flatten)]
    run: run::RunOpts,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Run a policy against a simulated machine and workload, and report.
    Sim(sim_cmd::SimArgs),
    /// Compare policies on one simulated machine and workload: write an
    /// HTML page with the wait distribution of each task class, CPU share
    /// against weight and a per-CPU timeline.
    Report(report_cmd::ReportArgs),
    /// Schedule this machine as without a subcommand, and write the
    /// dispatcher's scheduling events (tasks becoming runnable, running,
    /// stopping, sleeping; decisions applied) to a file (root and a sched_ext
    /// kernel, as the scheduler).
    Record(record_cmd::RecordArgs),
    /// What a recording holds, as JSON; with --trace, its runs as a Chrome
    /// trace.
    RecordSummary(record_cmd::SummaryArgs),
    /// Control the running scheduler: switch its policy live (root only).
    Ctl(ctl_client::CtlArgs),
    /// Print the completions of this command line for SHELL (what `cargo
    /// xtask install` installs).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page, scx_relay(8), as roff (what `cargo xtask
    /// install` installs).
    Man,
}

/// The options of a program built on [`run_with_policy`]: the scheduler's.
#[derive(Debug, Parser)]
#[command(version = version())]
struct CustomOpts {
    #[command(flatten)]
    run: run::RunOpts,
}

/// Parses this process's command line; on a usage error prints one line
/// (exit 2), on `--help` / `--version` the text (exit 0).
fn parse<T: Parser>() -> Result<T, ExitCode> {
    parse_from(std::env::args_os())
}

/// [`parse`] of the given command line.
fn parse_from<P, I, T>(args: I) -> Result<P, ExitCode>
where
    P: Parser,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    // The simulator's subcommands name themselves in their value errors.
    let subcommand = args.iter().skip(1).find_map(|a| ["sim", "report"].into_iter().find(|s| a == *s)).unwrap_or("sim");
    P::try_parse_from(args).map_err(|e| {
        // Help and version go to stdout in full (exit 0). A usage error is
        // one line on stderr (clap's first: "error: invalid value ..."),
        // exit 2; `--help` has the rest.
        if !e.use_stderr() {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        // A missing subcommand renders as the help text, whose first line
        // says nothing of the mistake.
        if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            eprintln!("scx_relay: a command is required here; see --help for the commands");
            return ExitCode::from(2);
        }
        // A value `scx_relay sim`'s (or `report`'s) parsers refused: their own line.
        if let Some(bad) = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<sim_cmd::BadValue>()) {
            eprintln!("scx_relay: {subcommand}: {bad}");
            return ExitCode::from(2);
        }
        run::logger::command_error(&usage_error_line(&e.render().to_string()));
        ExitCode::from(2)
    })
}

/// The one line a usage error prints, from clap's rendered error: its
/// first line, the next when the first ends in ':' (the arguments missing),
/// and clap's suggestions ("tip: a similar argument exists: '--policy'")
/// and lists of the values an option takes ("possible values: off, ...").
fn usage_error_line(text: &str) -> String {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut line = lines.next().unwrap_or("error: invalid arguments").trim_start_matches("error: ").to_owned();
    if line.ends_with(':') {
        if let Some(next) = lines.next() {
            line = format!("{line} {next}");
        }
    }
    for tip in text.lines().map(str::trim).filter(|l| l.starts_with("tip: ") || l.starts_with("[possible values: ")) {
        let tip = tip.trim_start_matches('[').trim_end_matches(']');
        line = format!("{line} ({tip})");
    }
    line
}

/// The exit of a subcommand that printed something generated: a reader
/// that stopped early (`| head`) is not a failure.
fn print_generated(what: &str, written: std::io::Result<()>) -> ExitCode {
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scx_relay: {what}: {e}");
            ExitCode::from(1)
        }
    }
}

/// The `scx_relay` command line (what the binary's `main` runs).
pub fn main() -> ExitCode {
    let opts = match parse::<Opts>() {
        Ok(o) => o,
        Err(code) => return code,
    };
    match opts.command {
        Some(Command::Sim(args)) => sim_cmd::main(&args),
        Some(Command::Report(args)) => report_cmd::main(&args),
        Some(Command::Record(args)) => record_cmd::main(&args),
        Some(Command::RecordSummary(args)) => record_cmd::summary_main(&args),
        Some(Command::Ctl(args)) => ctl_client::main(&args),
        Some(Command::Completions { shell }) => {
            // Made in memory: clap_complete panics on a failed write.
            let mut text = Vec::new();
            clap_complete::generate(shell, &mut Opts::command(), "scx_relay", &mut text);
            print_generated("completions", std::io::Write::write_all(&mut std::io::stdout(), &text))
        }
        Some(Command::Man) => {
            print_generated("man", clap_mangen::Man::new(Opts::command()).section("8").render(&mut std::io::stdout()))
        }
        None => run::main(&opts.run),
    }
}

/// Runs the real scheduler with a policy of your own, as `scx_relay` runs a
/// shipped one: the same options (`--stats`, `--slice-us`, `--socket`, ...;
/// `--policy` is replaced by yours), the same stall fallback, lifecycle and
/// exit codes. `make` builds the policy (again after a CPU-hotplug restart);
/// `name` must be what its [`Policy::name`] returns. While it runs,
/// `scx_relay ctl policy <shipped name>` switches to a shipped policy and
/// `scx_relay ctl policy <name>` back to yours.
///
/// ```no_run
/// # use scheduler_core::Policy;
/// # fn my_policy(_: &policies::PolicyConfig) -> Box<dyn Policy> { unimplemented!() }
/// fn main() -> std::process::ExitCode {
///     scx_relay::run_with_policy("mine", my_policy)
/// }
/// ```
pub fn run_with_policy<F>(name: &str, make: F) -> ExitCode
where
    F: Fn(&PolicyConfig) -> Box<dyn Policy> + Send + Sync + 'static,
{
    run_with_policy_args(std::env::args_os(), name, make)
}

/// [`run_with_policy`] with the command line given (`args[0]` is the
/// program name), for programs that take arguments of their own first.
pub fn run_with_policy_args<I, T, F>(args: I, name: &str, make: F) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
    F: Fn(&PolicyConfig) -> Box<dyn Policy> + Send + Sync + 'static,
{
    let opts = match parse_from::<CustomOpts, _, _>(args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    run::main_with_custom(&opts.run, Some(run::CustomPolicy { name: name.to_owned(), make: Box::new(make) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The usage error of `args`, as the binary prints it (without "scx_relay: ").
    fn usage_error(args: &[&str]) -> String {
        let err = Opts::try_parse_from(std::iter::once("scx_relay").chain(args.iter().copied())).unwrap_err();
        usage_error_line(&err.render().to_string())
    }

    /// A mistyped option or subcommand keeps clap's suggestion, on the one line.
    #[test]
    fn suggestions_stay_on_the_line() {
        assert_eq!(
            usage_error(&["--polcy", "x"]),
            "unexpected argument '--polcy' found (tip: a similar argument exists: '--policy')"
        );
        assert_eq!(
            usage_error(&["ctl", "polcy", "x"]),
            "unrecognized subcommand 'polcy' (tip: a similar subcommand exists: 'policy')"
        );
        assert!(!usage_error(&["--stats", "1", "--frobnicate"]).contains('\n'));
    }

    /// An option with a fixed set of values lists them on the one line.
    #[test]
    fn possible_values_stay_on_the_line() {
        assert_eq!(
            usage_error(&["--log-level", "loud"]),
            "invalid value 'loud' for '--log-level <LEVEL>' (possible values: off, error, warn, info, debug, trace)"
        );
    }
}
