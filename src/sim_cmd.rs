//! `scx_relay sim`: run a policy in the deterministic simulator and print
//! the report (a table, or JSON with `--json`).
//!
//! Every value is taken as text and checked here, so that bad input gives
//! one line on stderr that names the value and the valid choices, and exit
//! code 2.

use std::process::ExitCode;

use policies::PolicyConfig;
use scheduler_core::{
    sim::{simulate, SimConfig, SimError, Stall, Workload},
    wire::MAX_CPUS,
};

/// Options of `scx_relay sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Scheduling policy: fifo, deadline, eevdf, interactive or local.
    #[arg(long, default_value = "deadline", allow_hyphen_values = true)]
    pub policy: String,

    /// Run the routing policy of this TOML file instead of --policy (as
    /// `scx_relay --config`; cgroup matchers never match in the simulator:
    /// simulated tasks have no cgroup). Simulated tasks are named
    /// `<class>-<n>` (hog-0, interactive-3, ...).
    #[arg(long, value_name = "FILE", conflicts_with = "policy", allow_hyphen_values = true)]
    pub config: Option<std::path::PathBuf>,

    /// Workload preset: mixed, hogs, interactive, pipes, fork, affinity or nice.
    #[arg(long, default_value = "mixed", allow_hyphen_values = true)]
    pub workload: String,

    /// Number of simulated CPUs (1..=1024).
    #[arg(long, default_value = "8", allow_hyphen_values = true)]
    pub cpus: String,

    /// Simulated time in seconds (> 0, fractions allowed, at most 3600).
    #[arg(long, default_value = "10", allow_hyphen_values = true)]
    pub seconds: String,

    /// Seed of the workload's randomness; one seed, one report.
    #[arg(long, default_value = "1", allow_hyphen_values = true)]
    pub seed: String,

    /// Hardware threads per core (1..=8); siblings are adjacent CPUs.
    #[arg(long, default_value = "1", allow_hyphen_values = true)]
    pub smt: String,

    /// Cores per last-level cache (default: one LLC for the whole machine).
    #[arg(long, allow_hyphen_values = true)]
    pub cores_per_llc: Option<String>,

    /// CPU time the user scheduler spends per decision, in ns.
    #[arg(long, default_value = "1000", allow_hyphen_values = true)]
    pub decision_cost_ns: String,

    /// The dispatcher's default slice (idle-CPU wakeups, fallback), in µs.
    #[arg(long, default_value = "5000", allow_hyphen_values = true)]
    pub slice_us: String,

    /// Stall the user scheduler at this time (ms of simulated time); needs --stall-ms.
    #[arg(long, allow_hyphen_values = true)]
    pub stall_at_ms: Option<String>,

    /// Length of the injected stall (ms); needs --stall-at-ms.
    #[arg(long, allow_hyphen_values = true)]
    pub stall_ms: Option<String>,

    /// How long the dispatcher waits for a silent user scheduler before it
    /// schedules tasks itself, in ms.
    #[arg(long, default_value = "100", allow_hyphen_values = true)]
    pub stall_timeout_ms: String,

    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Parses `value` of `--flag` as an integer in `min..=max`.
fn int(flag: &str, value: &str, min: u64, max: u64) -> Result<u64, String> {
    match value.trim().parse::<u64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(format!("invalid --{flag} '{value}': expected an integer from {min} to {max}")),
    }
}

/// Parses `value` of `--flag` as a positive number of `unit`s, at most `max`,
/// and returns it in ns (`ns_per_unit` each), at least 1 ns.
fn positive(flag: &str, value: &str, max: f64, ns_per_unit: f64) -> Result<u64, String> {
    match value.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= max => Ok(((v * ns_per_unit).round() as u64).max(1)),
        _ => Err(format!("invalid --{flag} '{value}': expected a number > 0 and at most {max}")),
    }
}

/// Builds the simulator configuration from the arguments.
fn config(args: &SimArgs) -> Result<SimConfig, String> {
    let workload: Workload = args.workload.parse().map_err(|e| format!("{e}"))?;
    let nr_cpus = int("cpus", &args.cpus, 1, u64::from(MAX_CPUS))? as u32;
    let duration_ns = positive("seconds", &args.seconds, 3600.0, 1e9)?;
    let seed = int("seed", &args.seed, 0, u64::MAX)?;
    let smt = int("smt", &args.smt, 1, 8)? as u32;
    let cores_per_llc = match &args.cores_per_llc {
        Some(v) => int("cores-per-llc", v, 1, u64::from(MAX_CPUS))? as u32,
        None => nr_cpus.div_ceil(smt),
    };
    let decision_cost_ns = int("decision-cost-ns", &args.decision_cost_ns, 0, 1_000_000_000)?;
    let slice_ns = int("slice-us", &args.slice_us, 1, 10_000_000)? * 1_000;
    let stall_timeout_ns = positive("stall-timeout-ms", &args.stall_timeout_ms, 60_000.0, 1e6)?;
    let stall = match (&args.stall_at_ms, &args.stall_ms) {
        (None, None) => None,
        (Some(at), Some(len)) => {
            let at_ns = int("stall-at-ms", at, 0, 3_600_000)? * 1_000_000;
            let duration_ns = positive("stall-ms", len, 3_600_000.0, 1e6)?;
            Some(Stall { at_ns, duration_ns })
        }
        (Some(_), None) => return Err("--stall-at-ms needs --stall-ms (the stall's length in ms)".to_owned()),
        (None, Some(_)) => return Err("--stall-ms needs --stall-at-ms (when the stall starts, in ms)".to_owned()),
    };
    Ok(SimConfig {
        nr_cpus,
        smt,
        cores_per_llc,
        duration_ns,
        seed,
        workload,
        slice_ns,
        decision_cost_ns,
        stall,
        stall_timeout_ns,
        ..SimConfig::default()
    })
}

/// The routing policy of configuration `file`, or one line saying what is wrong.
fn routing(file: &std::path::Path) -> Result<Box<dyn scheduler_core::Policy>, String> {
    let text =
        std::fs::read_to_string(file).map_err(|e| format!("--config {}: cannot read it: {e}", file.display()))?;
    let config = policies::RoutingConfig::parse(&text).map_err(|e| format!("--config {}: {e}", file.display()))?;
    let router = policies::Router::new(&config, &PolicyConfig::default(), None).map_err(|e| e.to_string())?;
    Ok(Box::new(router))
}

/// Runs the simulator; returns the process exit code (2 for bad input).
pub fn main(args: &SimArgs) -> ExitCode {
    let policy = match &args.config {
        Some(file) => match routing(file) {
            Ok(p) => p,
            Err(e) => return usage_error(&e),
        },
        None => match policies::by_name(&args.policy, &PolicyConfig::default()) {
            Ok(p) => p,
            Err(e) => return usage_error(&e.to_string()),
        },
    };
    let config = match config(args) {
        Ok(c) => c,
        Err(e) => return usage_error(&e),
    };
    match simulate(&config, policy) {
        Ok(report) if args.json => {
            println!("{}", report.to_json());
            ExitCode::SUCCESS
        }
        Ok(report) => {
            print!("{}", report.render_table());
            ExitCode::SUCCESS
        }
        Err(e @ (SimError::Invariant(_) | SimError::Engine(_))) => {
            eprintln!("scx_relay: sim: simulation failed: {e}");
            ExitCode::from(1)
        }
        Err(e) => usage_error(&e.to_string()),
    }
}

/// Prints `msg` as one line on stderr; exit code 2.
fn usage_error(msg: &str) -> ExitCode {
    eprintln!("scx_relay: sim: {msg}");
    ExitCode::from(2)
}
