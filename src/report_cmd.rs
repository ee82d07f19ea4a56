//! `scx_relay report`: run several policies on one simulated machine and
//! workload, and write a self-contained HTML page that compares them
//! (`scheduler_sim::comparison_html`: a summary table, the wait
//! distribution of each task class, CPU share against weight, a per-CPU
//! timeline).

use std::{path::PathBuf, process::ExitCode};

use scheduler_sim::{comparison_html, simulate_traced, SimError, TimelineWindow};

use crate::sim_cmd::{self, SimSetup};

/// Options of `scx_relay report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The policies to compare, separated by commas (default: every
    /// shipped policy, in the help's order).
    #[arg(long, value_delimiter = ',', value_name = "POLICY,...", allow_hyphen_values = true)]
    pub policies: Vec<String>,

    /// The simulated machine, workload and scheduler options (as `scx_relay sim`).
    #[command(flatten)]
    pub setup: SimSetup,

    /// Where the timelines start, in ms of simulated time (default: the
    /// middle of the run, less half the window).
    #[arg(long, value_name = "MS", allow_hyphen_values = true, value_parser = sim_cmd::int::<u64>("timeline-from-ms", 0, 3_600_000))]
    pub timeline_from_ms: Option<u64>,

    /// How much of the run the timelines show, in ms (1..=1000).
    #[arg(long, value_name = "MS", default_value = "50", allow_hyphen_values = true, value_parser = sim_cmd::int::<u64>("timeline-ms", 1, 1000))]
    pub timeline_ms: u64,

    /// The page to write (HTML; `-` writes it to standard output).
    #[arg(short, long, value_name = "FILE", default_value = "scx_relay-report.html")]
    pub out: PathBuf,
}

/// Why no page can be made from the arguments, each valid alone.
#[derive(Debug, thiserror::Error)]
enum ReportError {
    /// The same policy is named twice.
    #[error("--policies names {0} twice")]
    Repeated(String),
    /// The timeline window starts after the run ends.
    #[error("--timeline-from-ms {from_ms} is past the end of the run ({run_ms} ms)")]
    WindowPastEnd {
        /// The window's start.
        from_ms: u64,
        /// The run's length.
        run_ms: u64,
    },
}

/// The timeline window: as asked, or centred on the run; never past its end.
fn window(args: &ReportArgs, duration_ns: u64) -> Result<TimelineWindow, ReportError> {
    let len_ns = (args.timeline_ms * 1_000_000).min(duration_ns);
    let from_ns = match args.timeline_from_ms {
        Some(ms) if ms * 1_000_000 >= duration_ns => {
            return Err(ReportError::WindowPastEnd { from_ms: ms, run_ms: duration_ns / 1_000_000 })
        }
        Some(ms) => ms * 1_000_000,
        None => (duration_ns / 2).saturating_sub(len_ns / 2),
    };
    Ok(TimelineWindow { from_ns, len_ns: len_ns.min(duration_ns - from_ns) })
}

/// The policies to run: as named (each once), or every shipped one.
fn policy_names(args: &ReportArgs) -> Result<Vec<String>, ReportError> {
    if args.policies.is_empty() {
        return Ok(policies::NAMES.iter().map(|n| (*n).to_owned()).collect());
    }
    for (i, name) in args.policies.iter().enumerate() {
        if args.policies[..i].contains(name) {
            return Err(ReportError::Repeated(name.clone()));
        }
    }
    Ok(args.policies.clone())
}

/// Runs the policies and writes the page; returns the process exit code
/// (2 for bad input, 1 when a simulation or the write fails).
pub fn main(args: &ReportArgs) -> ExitCode {
    let (config, policy_cfg) = match sim_cmd::config(&args.setup) {
        Ok(c) => c,
        Err(e) => return usage_error(&e.to_string()),
    };
    let (names, window) = match policy_names(args).and_then(|n| Ok((n, window(args, config.duration_ns)?))) {
        Ok(v) => v,
        Err(e) => return usage_error(&e.to_string()),
    };
    let mut policies = Vec::with_capacity(names.len());
    for name in &names {
        match policies::by_name(name, &policy_cfg) {
            Ok(p) => policies.push(p),
            Err(e) => return usage_error(&e.to_string()),
        }
    }
    let mut runs = Vec::with_capacity(policies.len());
    for (name, policy) in names.iter().zip(policies) {
        match simulate_traced(&config, policy) {
            Ok(run) => runs.push(run),
            Err(e @ (SimError::Invariant(_) | SimError::Engine(_))) => {
                eprintln!("scx_relay: report: simulating {name} failed: {e}");
                return ExitCode::from(1);
            }
            Err(e) => return usage_error(&e.to_string()),
        }
    }
    let page = comparison_html(&runs, window);
    if args.out.as_os_str() == "-" {
        return crate::print_generated(
            "report",
            std::io::Write::write_all(&mut std::io::stdout().lock(), page.as_bytes()),
        );
    }
    match std::fs::write(&args.out, page) {
        Ok(()) => {
            eprintln!(
                "scx_relay: report: wrote {} ({} on {})",
                args.out.display(),
                names.join(", "),
                config.workload.name()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("scx_relay: report: --out {}: cannot write it: {e}", args.out.display());
            ExitCode::from(1)
        }
    }
}

/// Prints `msg` as one line on stderr; exit code 2.
fn usage_error(msg: &str) -> ExitCode {
    eprintln!("scx_relay: report: {msg}");
    ExitCode::from(2)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        report: ReportArgs,
    }

    fn parse(args: &[&str]) -> ReportArgs {
        Cli::try_parse_from(std::iter::once("report").chain(args.iter().copied())).unwrap().report
    }

    /// Every shipped policy by default; a list as given; a repeat refused.
    #[test]
    fn policies_default_to_the_shipped_ones() {
        assert_eq!(policy_names(&parse(&[])).unwrap(), policies::NAMES);
        assert_eq!(policy_names(&parse(&["--policies", "eevdf,fifo"])).unwrap(), ["eevdf", "fifo"]);
        let e = policy_names(&parse(&["--policies", "eevdf,fifo,eevdf"])).unwrap_err();
        assert_eq!(e.to_string(), "--policies names eevdf twice");
    }

    /// The window is centred by default, kept inside the run, and refused
    /// when it starts past the end.
    #[test]
    fn the_window_stays_inside_the_run() {
        let second = 1_000_000_000;
        assert_eq!(
            window(&parse(&[]), 10 * second).unwrap(),
            TimelineWindow { from_ns: 4_975_000_000, len_ns: 50_000_000 }
        );
        assert_eq!(
            window(&parse(&["--timeline-ms", "1000"]), second / 2).unwrap(),
            TimelineWindow { from_ns: 0, len_ns: second / 2 }
        );
        let w = window(&parse(&["--timeline-from-ms", "480"]), second / 2).unwrap();
        assert_eq!(w, TimelineWindow { from_ns: 480_000_000, len_ns: 20_000_000 });
        let e = window(&parse(&["--timeline-from-ms", "500"]), second / 2).unwrap_err();
        assert_eq!(e.to_string(), "--timeline-from-ms 500 is past the end of the run (500 ms)");
    }
}
