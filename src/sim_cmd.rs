//! `scx_relay sim`: run a policy in the deterministic simulator and print
//! the report (a table, or JSON with `--json`).
//!
//! clap parses every number with this module's value parsers, so that bad
//! input gives one line on stderr that names the value and the valid
//! choices, and exit code 2; the combinations are checked here.

use std::process::ExitCode;

use policies::PolicyConfig;
use scheduler_core::{
    record::{Recording, HOG_RULE},
    wire::MAX_CPUS,
};

use crate::run::{tunables::TunablesError, Tunables};
use scheduler_sim::{
    late_yields, replay::RecordedCosts, simulate, simulate_traced, Hybrid, Replay, ReplayError, SimConfig, SimError,
    Stall, StartDelays, TickRule, UnknownWorkload, Workload,
};

/// Options of `scx_relay sim`.
///
/// clap parses every number with [`int`] or [`positive`], whose
/// [`BadValue`] the binary prints as one line (`crate::parse_from`).
/// `allow_hyphen_values` lets a negative (or any dash-led) value reach the
/// parser, which names the range, instead of being taken for an option.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Scheduling policy, one of `policies::NAMES` (the help lists them).
    #[arg(
        long,
        default_value = "deadline",
        allow_hyphen_values = true,
        help = format!("Scheduling policy: {}", crate::policy_list::names_or())
    )]
    pub policy: String,

    /// Run the routing policy of this TOML file instead of --policy (as
    /// `scx_relay --config`; cgroup matchers never match in the simulator:
    /// simulated tasks have no cgroup). Simulated tasks are named
    /// `<class>-<n>` (hog-0, interactive-3, ...).
    #[arg(long, value_name = "FILE", conflicts_with = "policy", allow_hyphen_values = true)]
    pub config: Option<std::path::PathBuf>,

    /// The simulated machine, workload and scheduler options.
    #[command(flatten)]
    pub setup: SimSetup,

    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Also write the run's timeline to FILE as a Chrome trace (JSON):
    /// each CPU a track, each run of a task or of the user scheduler a
    /// slice; ui.perfetto.dev and chrome://tracing open it.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<std::path::PathBuf>,
}

/// What is simulated: the machine, the workload, the scheduler's options
/// (`scx_relay sim` and `scx_relay report` share them).
#[derive(Debug, Clone, clap::Args)]
pub struct SimSetup {
    /// Workload preset: mixed, hogs, interactive, pipes, fork, affinity,
    /// nice, hackbench or cyclictest.
    #[arg(long, default_value = "mixed", allow_hyphen_values = true)]
    pub workload: String,

    /// Replay the tasks of a recording (`scx_relay record`'s file) instead
    /// of a --workload: each task runs its recorded CPU bursts, sleeps its
    /// recorded sleeps and wakes the tasks it woke, on a machine of the
    /// recording's CPUs, for the recording's length (or --seconds, if
    /// shorter). The report compares the replayed waits with the recorded ones.
    #[arg(long, value_name = "FILE", conflicts_with = "workload")]
    pub replay: Option<std::path::PathBuf>,

    /// Number of simulated CPUs (1..=1024; default 8, a replay: the recording's).
    #[arg(long, allow_hyphen_values = true, value_parser = int::<u32>("cpus", 1, u64::from(MAX_CPUS)))]
    pub cpus: Option<u32>,

    /// Simulated time in seconds (> 0, fractions allowed, at most 3600;
    /// default 10, a replay: the recording's length).
    #[arg(
        long = "seconds",
        value_name = "SECONDS",
        allow_hyphen_values = true,
        value_parser = positive("seconds", 3600.0, 1e9)
    )]
    pub duration_ns: Option<u64>,

    /// Seed of the workload's randomness; one seed, one report.
    #[arg(long, default_value = "1", allow_hyphen_values = true, value_parser = int::<u64>("seed", 0, u64::MAX))]
    pub seed: u64,

    /// Hardware threads per core (1..=8); siblings are adjacent CPUs.
    #[arg(long, default_value = "1", allow_hyphen_values = true, value_parser = int::<u32>("smt", 1, 8))]
    pub smt: u32,

    /// Cores per last-level cache (default: one LLC for the whole machine).
    #[arg(long, allow_hyphen_values = true, value_parser = int::<u32>("cores-per-llc", 1, u64::from(MAX_CPUS)))]
    pub cores_per_llc: Option<u32>,

    /// Simulate a hybrid machine whose first N CPUs are big cores (capacity
    /// 1024) and the others little cores (--little-capacity): a task runs
    /// there at that fraction of a big core's speed. Default: every CPU big.
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = int::<u32>("big-cpus", 1, u64::from(MAX_CPUS)))]
    pub big_cpus: Option<u32>,

    /// Capacity of the little CPUs of --big-cpus, out of 1024 (default 512:
    /// half a big core's speed).
    #[arg(long, value_name = "CAPACITY", allow_hyphen_values = true, value_parser = int::<u32>("little-capacity", 1, 1024))]
    pub little_capacity: Option<u32>,

    /// CPU time the user scheduler spends per decision, in ns.
    #[arg(
        long,
        default_value = "1000",
        allow_hyphen_values = true,
        value_parser = int::<u64>("decision-cost-ns", 0, MAX_DECISION_COST_NS)
    )]
    pub decision_cost_ns: u64,

    /// With --replay: the costs the recorded machine paid, from what the
    /// recording shows, instead of the model's: the user scheduler's CPU
    /// time per decision (the median over its runs of a run's length over
    /// the decisions that followed it; instead of --decision-cost-ns; the
    /// model's if nothing was decided), plus, for each step that sends
    /// decisions, one of its runs' extras beyond that, drawn at random (the
    /// model's costs per step and task received still come on top); a free CPU takes one of the recorded times
    /// to start the task it runs next (an idle CPU woken for it; a switch
    /// after a task blocked; a start after a preemption or a user-scheduler
    /// run), where the model starts at once (or after --switch-cost-ns,
    /// which it replaces); and the tick makes a running
    /// task yield as late as the recorded one did (files of format version
    /// 2), where the model's comes on time. `record-summary` prints them.
    #[arg(long, conflicts_with = "decision_cost_ns")]
    pub recorded_costs: bool,

    /// A workload (--workload) on the machine a recording was made on: the
    /// costs that machine paid, taken from the recording FILE as
    /// --recorded-costs takes them from a replayed one (the user
    /// scheduler's CPU time per decision and its extras, the starts'
    /// delays, the tick's late yields), instead of the model's. Not with
    /// --replay (there, --recorded-costs), --decision-cost-ns or
    /// --switch-cost-ns.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["replay", "recorded_costs", "decision_cost_ns", "switch_cost_ns"]
    )]
    pub costs_from: Option<std::path::PathBuf>,

    /// Time a CPU takes to switch to the task it runs next, in ns (the
    /// kernel's context switch, and on a virtual machine what the
    /// hypervisor adds): every start waits it, after a task blocked, after
    /// a preemption or a user-scheduler run, and on an idle CPU woken.
    /// Default 0: a CPU starts its next task at once.
    #[arg(
        long,
        default_value = "0",
        allow_hyphen_values = true,
        conflicts_with = "recorded_costs",
        value_parser = int::<u64>("switch-cost-ns", 0, MAX_SWITCH_COST_NS)
    )]
    pub switch_cost_ns: u64,

    /// CPU time a task spends per task it wakes, in ns, added to its own
    /// run (the kernel's try_to_wake_up() and the scheduler's select_cpu
    /// and enqueue run in the waker's context): a pipe's writer pays for
    /// waking its reader. Default 0. Not with --replay (a recorded task's
    /// runs already hold what it paid).
    #[arg(
        long,
        default_value = "0",
        allow_hyphen_values = true,
        conflicts_with = "replay",
        value_parser = int::<u64>("wake-cost-ns", 0, MAX_WAKE_COST_NS)
    )]
    pub wake_cost_ns: u64,

    /// The slices, the stall timeout and the fast path: the real
    /// scheduler's options, with the same meaning, defaults and limits.
    #[command(flatten)]
    pub tunables: Tunables,

    /// Stall the user scheduler at this time (ms of simulated time); needs --stall-ms.
    #[arg(long, allow_hyphen_values = true, value_parser = int::<u64>("stall-at-ms", 0, 3_600_000))]
    pub stall_at_ms: Option<u64>,

    /// Length of the injected stall (ms); needs --stall-at-ms.
    #[arg(
        long = "stall-ms",
        value_name = "STALL_MS",
        allow_hyphen_values = true,
        value_parser = positive("stall-ms", 3_600_000.0, 1e6)
    )]
    pub stall_ns: Option<u64>,
}

/// A value of a `scx_relay sim` option that its parser refused; the
/// binary prints it as `scx_relay: sim: <this>` (exit code 2).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BadValue {
    /// Not an integer in `min..=max`.
    #[error("invalid --{flag} '{value}': expected an integer from {min} to {max}")]
    Int {
        /// The option's long name, without dashes.
        flag: &'static str,
        /// The value as given.
        value: String,
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
    /// Not a number > 0 and at most `max`.
    #[error("invalid --{flag} '{value}': expected a number > 0 and at most {max}")]
    Positive {
        /// The option's long name, without dashes.
        flag: &'static str,
        /// The value as given.
        value: String,
        /// Largest accepted value.
        max: f64,
    },
}

/// The value parser of `--flag`: an integer in `min..=max` (surrounding
/// blanks allowed), as a `T` (which must hold every value up to `max`).
pub(crate) fn int<T: TryFrom<u64>>(
    flag: &'static str,
    min: u64,
    max: u64,
) -> impl Fn(&str) -> Result<T, BadValue> + Clone + Send + Sync + 'static {
    move |value: &str| {
        value
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|v| (min..=max).contains(v))
            .and_then(|v| T::try_from(v).ok())
            .ok_or_else(|| BadValue::Int { flag, value: value.to_owned(), min, max })
    }
}

/// The value parser of `--flag`: a positive number of units (fractions
/// allowed, surrounding blanks too), at most `max`, returned in ns
/// (`ns_per_unit` each) and at least 1 ns.
fn positive(
    flag: &'static str,
    max: f64,
    ns_per_unit: f64,
) -> impl Fn(&str) -> Result<u64, BadValue> + Clone + Send + Sync + 'static {
    move |value: &str| match value.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= max => Ok(((v * ns_per_unit).round() as u64).max(1)),
        _ => Err(BadValue::Positive { flag, value: value.to_owned(), max }),
    }
}

/// Why the arguments, each valid alone, make no simulator configuration.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// `--workload` names no preset.
    #[error(transparent)]
    Workload(#[from] UnknownWorkload),
    /// A slice or the stall timeout is out of range.
    #[error(transparent)]
    Tunables(#[from] TunablesError),
    /// `--stall-at-ms` without `--stall-ms`.
    #[error("--stall-at-ms needs --stall-ms (the stall's length in ms)")]
    StallWithoutLength,
    /// `--little-capacity` without `--big-cpus`.
    #[error("--little-capacity needs --big-cpus (how many CPUs are big)")]
    CapacityWithoutBigCpus,
    /// `--recorded-costs` without `--replay`.
    #[error("--recorded-costs needs --replay (the recording whose costs it takes)")]
    RecordedCostsWithoutReplay,
    /// `--stall-ms` without `--stall-at-ms`.
    #[error("--stall-ms needs --stall-at-ms (when the stall starts, in ms)")]
    StallWithoutStart,
    /// The `--replay` (or `--costs-from`) file cannot be read.
    #[error("{option} {}: cannot read it: {source}", path.display())]
    ReplayRead {
        /// The option that named it.
        option: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The `--replay` (or `--costs-from`) file is no recording.
    #[error("{option} {}: {source}", path.display())]
    ReplayFormat {
        /// The option that named it.
        option: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        source: scheduler_core::record::RecordError,
    },
    /// The recording cannot be replayed (or its costs read).
    #[error("{option} {}: {source}", path.display())]
    Replay {
        /// The option that named it.
        option: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: ReplayError,
    },
    /// `--cpus` differs from the recording's CPU count.
    #[error("--replay {}: recorded on {recorded} CPUs, a replay runs on as many: leave out --cpus {cpus}", path.display())]
    ReplayCpus {
        /// The file.
        path: std::path::PathBuf,
        /// Its CPUs.
        recorded: u32,
        /// `--cpus`.
        cpus: u32,
    },
}

/// The most CPU a decision may cost the user scheduler (ns): 1 s.
const MAX_DECISION_COST_NS: u64 = 1_000_000_000;
/// The longest switch `--switch-cost-ns` may model (ns): 10 ms.
const MAX_SWITCH_COST_NS: u64 = 10_000_000;
/// The most `--wake-cost-ns` may charge a waker per wakeup (ns): 10 ms.
const MAX_WAKE_COST_NS: u64 = 10_000_000;

/// CPUs without `--cpus` (and no replay).
const DEFAULT_CPUS: u32 = 8;
/// Simulated time without `--seconds` (and no replay), ns.
const DEFAULT_DURATION_NS: u64 = 10_000_000_000;

/// Recording `path`, and its replay as a workload.
fn replay(path: &std::path::Path, option: &'static str) -> Result<(Recording, Replay), ConfigError> {
    let path_buf = || path.to_owned();
    let bytes = std::fs::read(path).map_err(|source| ConfigError::ReplayRead { option, path: path_buf(), source })?;
    let rec = scheduler_core::record::read(&bytes).map_err(|source| ConfigError::ReplayFormat {
        option,
        path: path_buf(),
        source,
    })?;
    let replay =
        Replay::from_recording(&rec).map_err(|source| ConfigError::Replay { option, path: path_buf(), source })?;
    Ok((rec, replay))
}

/// The costs the machine of recording `rec` (read as `r`) paid in its first
/// `upto_ns`, for `--recorded-costs` and `--costs-from` (`option`, for the
/// note on stderr): its user scheduler's and its starts' costs, and the
/// distribution of its tick's late yields, read with the slices of
/// `policy_cfg` (the run's) and the model's tick (HZ=250, as the guest's).
fn machine_costs(
    path: &std::path::Path,
    option: &str,
    rec: &Recording,
    r: &Replay,
    upto_ns: u64,
    policy_cfg: &PolicyConfig,
) -> (RecordedCosts, Vec<u64>) {
    let rule = TickRule {
        tick_ns: SimConfig::default().tick_ns,
        slice_min_ns: policy_cfg.slice_min_ns,
        slice_ns: policy_cfg.slice_ns,
    };
    if rec.version < 2 {
        eprintln!(
            "scx_relay: sim: {option} {}: format version {} has no vtimes: no late yields drawn",
            path.display(),
            rec.version
        );
    }
    (r.recorded_costs(upto_ns), late_yields(rec, upto_ns, rule).distribution())
}

/// The little CPUs' capacity when `--big-cpus` comes without `--little-capacity`.
const DEFAULT_LITTLE_CAPACITY: u32 = 512;

/// Builds the simulator configuration, and the policies' one, from the
/// arguments.
pub(crate) fn config(args: &SimSetup) -> Result<(SimConfig, PolicyConfig), ConfigError> {
    let tunables = args.tunables.check()?;
    if args.recorded_costs && args.replay.is_none() {
        return Err(ConfigError::RecordedCostsWithoutReplay);
    }
    let mut costs = None;
    let mut late_yields_ns = Vec::new();
    let mut preempt_hogs = tunables.preempt_hogs;
    let (workload, nr_cpus, duration_ns) = match &args.replay {
        None => {
            let workload = args.workload.parse::<Workload>()?;
            if let Some(path) = &args.costs_from {
                let (rec, r) = replay(path, "--costs-from")?;
                let (recorded, late) =
                    machine_costs(path, "--costs-from", &rec, &r, r.duration_ns, &tunables.policy_cfg);
                costs = Some(recorded);
                late_yields_ns = late;
            }
            (workload, args.cpus.unwrap_or(DEFAULT_CPUS), args.duration_ns.unwrap_or(DEFAULT_DURATION_NS))
        }
        Some(path) => {
            let (rec, r) = replay(path, "--replay")?;
            // The hog rule as the recorded dispatcher ran it (a file older
            // than format version 3 was made before it was the default).
            if preempt_hogs && rec.dispatcher_flags.is_none_or(|f| f & HOG_RULE == 0) {
                eprintln!(
                    "scx_relay: sim: --replay {}: recorded without the hog rule (--no-preempt-hogs{}): replayed without it",
                    path.display(),
                    if rec.dispatcher_flags.is_none() { ", or a file older than format version 3" } else { "" }
                );
                preempt_hogs = false;
            }
            if let Some(cpus) = args.cpus.filter(|&c| c != r.nr_cpus) {
                return Err(ConfigError::ReplayCpus { path: path.clone(), recorded: r.nr_cpus, cpus });
            }
            let (nr_cpus, duration) = (r.nr_cpus, args.duration_ns.map_or(r.duration_ns, |d| d.min(r.duration_ns)));
            if args.recorded_costs {
                let (recorded, late) = machine_costs(path, "--replay", &rec, &r, duration, &tunables.policy_cfg);
                costs = Some(recorded);
                late_yields_ns = late;
            }
            (Workload::Replay(std::sync::Arc::new(r)), nr_cpus, duration)
        }
    };
    let cores_per_llc = args.cores_per_llc.unwrap_or_else(|| nr_cpus.div_ceil(args.smt));
    let stall = match (args.stall_at_ms, args.stall_ns) {
        (None, None) => None,
        (Some(at_ms), Some(duration_ns)) => Some(Stall { at_ns: at_ms * 1_000_000, duration_ns }),
        (Some(_), None) => return Err(ConfigError::StallWithoutLength),
        (None, Some(_)) => return Err(ConfigError::StallWithoutStart),
    };
    let hybrid = match (args.big_cpus, args.little_capacity) {
        (None, None) => None,
        (Some(big_cpus), capacity) => {
            Some(Hybrid { big_cpus, little_capacity: capacity.unwrap_or(DEFAULT_LITTLE_CAPACITY) })
        }
        (None, Some(_)) => return Err(ConfigError::CapacityWithoutBigCpus),
    };
    Ok((
        SimConfig {
            nr_cpus,
            smt: args.smt,
            cores_per_llc,
            hybrid,
            duration_ns,
            seed: args.seed,
            workload,
            slice_ns: tunables.policy_cfg.slice_ns,
            slice_min_ns: tunables.policy_cfg.slice_min_ns,
            decision_cost_ns: costs
                .as_ref()
                .and_then(|c| c.base_ns_per_decision)
                .map_or(args.decision_cost_ns, |ns| ns.min(MAX_DECISION_COST_NS)),
            user_step_extras_ns: costs
                .as_ref()
                .map(|c| c.run_extras_ns.iter().map(|&ns| ns.min(MAX_DECISION_COST_NS)).collect())
                .unwrap_or_default(),
            start_delays: costs.map(|c| c.start_delays).unwrap_or_else(|| StartDelays::every(args.switch_cost_ns)),
            wake_cost_ns: args.wake_cost_ns,
            late_yields_ns,
            stall,
            stall_timeout_ns: tunables.stall_timeout_ns,
            fast_path: tunables.fast_path,
            preempt_hogs,
            ..SimConfig::default()
        },
        tunables.policy_cfg,
    ))
}

/// Why the `--config` file gives no routing policy; one line each.
#[derive(Debug, thiserror::Error)]
enum RoutingError {
    /// The file cannot be read.
    #[error("--config {}: cannot read it: {source}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why it cannot be read.
        source: std::io::Error,
    },
    /// The file is malformed.
    #[error("--config {}: {source}", path.display())]
    Parse {
        /// The file.
        path: std::path::PathBuf,
        /// The line and field at fault.
        source: policies::ConfigError,
    },
    /// A route names no shipped policy.
    #[error(transparent)]
    Policy(#[from] policies::UnknownPolicy),
}

/// The routing policy of configuration `file`, or one line saying what is wrong.
fn routing(file: &std::path::Path, cfg: &PolicyConfig) -> Result<Box<dyn scheduler_core::Policy>, RoutingError> {
    let text = std::fs::read_to_string(file).map_err(|source| RoutingError::Read { path: file.to_owned(), source })?;
    let config = policies::RoutingConfig::parse(&text)
        .map_err(|source| RoutingError::Parse { path: file.to_owned(), source })?;
    let router = policies::Router::new(&config, cfg, None)?;
    Ok(Box::new(router))
}

/// Runs the simulator; returns the process exit code (2 for bad input).
pub fn main(args: &SimArgs) -> ExitCode {
    let (config, policy_cfg) = match config(&args.setup) {
        Ok(c) => c,
        Err(e) => return usage_error(&e.to_string()),
    };
    let policy = match &args.config {
        Some(file) => match routing(file, &policy_cfg) {
            Ok(p) => p,
            Err(e) => return usage_error(&e.to_string()),
        },
        None => match policies::by_name(&args.policy, &policy_cfg) {
            Ok(p) => p,
            Err(e) => return usage_error(&e.to_string()),
        },
    };
    let (result, trace) = match &args.trace {
        None => (simulate(&config, policy), None),
        Some(_) => match simulate_traced(&config, policy) {
            Ok((report, trace)) => (Ok(report), Some(trace)),
            Err(e) => (Err(e), None),
        },
    };
    if let (Some(file), Some(trace)) = (&args.trace, &trace) {
        if let Err(e) = std::fs::write(file, trace.to_chrome_json()) {
            eprintln!("scx_relay: sim: --trace {}: cannot write it: {e}", file.display());
            return ExitCode::from(1);
        }
    }
    match result {
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }

    fn parse(args: &[&str]) -> Result<SimArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("sim").chain(args.iter().copied())).map(|c| c.sim)
    }

    fn setup(args: &[&str]) -> Result<SimSetup, clap::Error> {
        parse(args).map(|a| a.setup)
    }

    /// The defaults make the configuration the manual states; the slices,
    /// the stall timeout, the fast path (off) and the preemption of hogs
    /// (on) are the real scheduler's.
    #[test]
    fn defaults() {
        let (cfg, policy_cfg) = config(&setup(&[]).unwrap()).unwrap();
        assert_eq!((cfg.nr_cpus, cfg.smt, cfg.cores_per_llc, cfg.seed), (8, 1, 8, 1));
        assert_eq!((cfg.duration_ns, cfg.decision_cost_ns), (10_000_000_000, 1000));
        assert_eq!((cfg.slice_ns, cfg.slice_min_ns, cfg.stall_timeout_ns), (20_000_000, 1_000_000, 1_000_000_000));
        assert_eq!(policy_cfg, PolicyConfig { slice_ns: 20_000_000, slice_min_ns: 1_000_000, nr_cpus: 0 });
        assert!(cfg.stall.is_none());
        assert!(cfg.hybrid.is_none(), "every CPU big");
        assert!(!cfg.fast_path, "off, as on the real command");
        assert!(cfg.preempt_hogs, "on, as on the real command");
        let (cfg, _) = config(&setup(&["--fast-path", "--no-preempt-hogs"]).unwrap()).unwrap();
        assert!(cfg.fast_path && !cfg.preempt_hogs);
        assert_eq!(cfg.start_delays, StartDelays::default(), "no switch cost");
        assert_eq!(cfg.wake_cost_ns, 0, "no wake cost");
    }

    /// `--wake-cost-ns` is what a waker pays per wakeup, within its
    /// bounds, and not for a replay's recorded tasks.
    #[test]
    fn wake_cost() {
        let (cfg, _) = config(&setup(&["--wake-cost-ns", "40000"]).unwrap()).unwrap();
        assert_eq!(cfg.wake_cost_ns, 40_000);
        assert!(setup(&["--wake-cost-ns", "10000001"]).is_err());
        assert!(setup(&["--wake-cost-ns", "1", "--replay", "x.rec"]).is_err());
    }

    /// `--workload`'s help names every preset.
    #[test]
    fn workload_help_names_every_preset() {
        use clap::CommandFactory as _;
        let cmd = Cli::command();
        let arg = cmd.get_arguments().find(|a| a.get_id() == "workload").unwrap();
        let help = arg.get_help().unwrap().to_string();
        for p in scheduler_sim::PRESETS {
            assert!(help.contains(p.name), "{} missing from: {help}", p.name);
        }
    }

    /// `--switch-cost-ns` delays every kind of start by that much, within
    /// its bounds, and is the model's cost: not with the recorded ones.
    #[test]
    fn switch_cost() {
        let (cfg, _) = config(&setup(&["--switch-cost-ns", "5000"]).unwrap()).unwrap();
        let d = &cfg.start_delays;
        assert_eq!(
            (&d.idle_wake_ns, &d.switch_ns, &d.after_preemption_or_user_ns),
            (&vec![5000], &vec![5000], &vec![5000])
        );
        assert!(setup(&["--switch-cost-ns", "10000001"]).is_err());
        assert!(setup(&["--switch-cost-ns", "1", "--recorded-costs"]).is_err());
    }

    /// `--big-cpus` makes a hybrid machine, its little CPUs at half speed
    /// unless `--little-capacity` says otherwise; more big CPUs than CPUs
    /// is refused by the simulator's check.
    #[test]
    fn hybrid_machine() {
        let (cfg, _) = config(&setup(&["--cpus", "4", "--big-cpus", "2"]).unwrap()).unwrap();
        assert_eq!(cfg.hybrid, Some(Hybrid { big_cpus: 2, little_capacity: 512 }));
        let (cfg, _) = config(&setup(&["--big-cpus", "2", "--little-capacity", "300"]).unwrap()).unwrap();
        assert_eq!(cfg.hybrid, Some(Hybrid { big_cpus: 2, little_capacity: 300 }));
        assert!(cfg.topology().is_hybrid());
        let e = config(&setup(&["--little-capacity", "300"]).unwrap()).unwrap_err();
        assert_eq!(e.to_string(), "--little-capacity needs --big-cpus (how many CPUs are big)");
        let e = config(&setup(&["--cpus", "4", "--big-cpus", "5"]).unwrap()).unwrap().0.validate().unwrap_err();
        assert!(e.to_string().starts_with("a hybrid machine needs 1 to 4 big CPUs (not 5)"), "{e}");
        assert!(parse(&["--little-capacity", "1025"]).is_err());
    }

    /// Units are converted: fractional seconds and ms to ns, µs to ns; the
    /// slices reach both the dispatcher and the policy, as in the real
    /// scheduler (`-s`, `-S` and `--slice-us-min` as there).
    #[test]
    fn units() {
        let args =
            parse(&["--seconds", "0.5", "--stall-at-ms", "7", "--stall-ms", "0.25", "-s", "3", "-S", "2"]).unwrap();
        let (cfg, policy_cfg) = config(&args.setup).unwrap();
        assert_eq!(cfg.duration_ns, 500_000_000);
        assert_eq!((cfg.slice_ns, cfg.slice_min_ns), (3_000, 2_000));
        assert_eq!((policy_cfg.slice_ns, policy_cfg.slice_min_ns), (3_000, 2_000));
        let stall = cfg.stall.unwrap();
        assert_eq!((stall.at_ns, stall.duration_ns), (7_000_000, 250_000));
        // A tiny positive value is still at least 1 ns.
        assert_eq!(setup(&["--seconds", "1e-12"]).unwrap().duration_ns, Some(1));
        let (cfg, _) = config(&setup(&["--slice-us-min", "5", "--stall-timeout-ms", "20"]).unwrap()).unwrap();
        assert_eq!((cfg.slice_min_ns, cfg.stall_timeout_ns), (5_000, 20_000_000));
    }

    /// clap refuses a bad value with the parser's typed error as source.
    #[test]
    fn bad_values_are_typed() {
        let e = parse(&["--cpus", "-1"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation);
        let bad = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<BadValue>()).unwrap();
        assert_eq!(*bad, BadValue::Int { flag: "cpus", value: "-1".to_owned(), min: 1, max: 1024 });
        let e = parse(&["--stall-ms", "nan"]).unwrap_err();
        let bad = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<BadValue>()).unwrap();
        assert_eq!(bad.to_string(), "invalid --stall-ms 'nan': expected a number > 0 and at most 3600000");
    }

    /// A `--config` file that gives no policy is a typed error with the
    /// line it had as a `String`, its cause kept as the source.
    #[test]
    fn routing_errors() {
        let cfg = PolicyConfig::default();
        let Err(e) = routing(std::path::Path::new("/nonexistent/routing.toml"), &cfg) else {
            panic!("no file, a policy")
        };
        assert!(matches!(e, RoutingError::Read { .. }), "{e}");
        assert!(e.to_string().starts_with("--config /nonexistent/routing.toml: cannot read it: "), "{e}");
        assert!(std::error::Error::source(&e).is_some());
        let file = std::env::temp_dir().join(format!("scx_relay-sim-unit-{}.toml", std::process::id()));
        std::fs::write(&file, "[[route]]\nshare = \"lots\"\n").unwrap();
        let result = routing(&file, &cfg);
        std::fs::remove_file(&file).unwrap();
        let Err(e) = result else { panic!("a malformed file, a policy") };
        assert!(matches!(e, RoutingError::Parse { .. }), "{e}");
        assert!(e.to_string().starts_with(&format!("--config {}: ", file.display())), "{e}");
        assert!(e.to_string().contains("line 2, field share"), "{e}");
    }

    /// `--replay` takes the recording's CPUs and length (`--seconds` only
    /// shortens it); another `--cpus` and a file that is no recording are
    /// typed errors naming the file.
    /// A recording of `events` on 3 CPUs over 3 ms, written to a file
    /// named after `name` (the caller removes it).
    fn recording_file(name: &str, events: &[scheduler_core::record::SyntheticEvent]) -> std::path::PathBuf {
        let file = std::env::temp_dir().join(format!("scx_relay-sim-{name}-{}.rec", std::process::id()));
        std::fs::write(&file, scheduler_core::record::synthetic(3, 3_000_000, events).unwrap()).unwrap();
        file
    }

    #[test]
    fn replay_takes_the_recordings_machine() {
        use scheduler_core::record::Kind;
        let events = [
            (0, Kind::Runnable, 7, 2, 0, 1024, 3),
            (1_000, Kind::Running, 7, 2, 0, 0, 0),
            (499_000, Kind::Stopping, 7, 2, 0, 0, 0),
        ];
        let file = recording_file("unit", &events);
        let path = file.to_str().unwrap();
        let (cfg, _) = config(&setup(&["--replay", path]).unwrap()).unwrap();
        assert_eq!((cfg.nr_cpus, cfg.duration_ns, cfg.cores_per_llc, cfg.workload.name()), (3, 3_000_000, 3, "replay"));
        let (cfg, _) = config(&setup(&["--replay", path, "--seconds", "0.001", "--cpus", "3"]).unwrap()).unwrap();
        assert_eq!(cfg.duration_ns, 1_000_000);
        let (cfg, _) = config(&setup(&["--replay", path, "--seconds", "60"]).unwrap()).unwrap();
        assert_eq!(cfg.duration_ns, 3_000_000, "no longer than the recording");
        let e = config(&setup(&["--replay", path, "--cpus", "4"]).unwrap()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("--replay {path}: recorded on 3 CPUs, a replay runs on as many: leave out --cpus 4")
        );
        // The hog rule as recorded (this file's dispatcher ran it), unless
        // turned off; a file recorded without it replays without it.
        assert!(config(&setup(&["--replay", path]).unwrap()).unwrap().0.preempt_hogs);
        assert!(!config(&setup(&["--replay", path, "--no-preempt-hogs"]).unwrap()).unwrap().0.preempt_hogs);
        let bytes = std::fs::read(&file).unwrap();
        let flags_at = scheduler_core::record::MAGIC.len() + 3; // the version, 3 CPUs, start 0: one byte each
        assert_eq!(bytes[flags_at], HOG_RULE as u8);
        let mut without = bytes.clone();
        without[flags_at] = 0;
        std::fs::write(&file, &without).unwrap();
        assert!(!config(&setup(&["--replay", path]).unwrap()).unwrap().0.preempt_hogs);
        std::fs::write(&file, b"SCX_RELAY RECORD").unwrap();
        let e = config(&setup(&["--replay", path]).unwrap()).unwrap_err();
        assert_eq!(e.to_string(), format!("--replay {path}: the recording's header is cut short"));
        std::fs::remove_file(&file).unwrap();
        let e = config(&setup(&["--replay", path]).unwrap()).unwrap_err();
        assert!(matches!(e, ConfigError::ReplayRead { .. }), "{e}");
        assert!(parse(&["--replay", path, "--workload", "hogs"]).is_err());
    }

    /// `--recorded-costs` takes the user scheduler's base cost per decision
    /// and its runs' extras, and the free → run times from the recording:
    /// here one run of 2 µs with one decision applied after it (a base of
    /// 2 µs, no extra), and CPU 2 free from 0.2 µs while
    /// task 7, decided at 3 µs, started at 5 µs (an idle CPU's wake-up, 2
    /// µs).
    #[test]
    fn recorded_costs_come_from_the_recording() {
        use scheduler_core::record::Kind;
        let events = [
            (0, Kind::Runnable, 7, 2, 1, 1024, 3),
            (100, Kind::Running, 8, 2, 0, 0, 0),
            (200, Kind::Stopping, 8, 2, 0, 0, 0),
            (1_000, Kind::Running, 1, 0, 1, 0, 0),
            (3_000, Kind::Stopping, 1, 0, 0, 0, 0),
            (3_000, Kind::Decision, 7, 0, 0, 0, -1),
            (5_000, Kind::Running, 7, 2, 0, 0, 0),
        ];
        let file = recording_file("costs", &events);
        let path = file.to_str().unwrap();
        let (cfg, _) = config(&setup(&["--replay", path, "--recorded-costs"]).unwrap()).unwrap();
        let delays = scheduler_sim::StartDelays { idle_wake_ns: vec![2_000], ..Default::default() };
        assert_eq!((cfg.decision_cost_ns, &cfg.user_step_extras_ns), (2_000, &vec![0]));
        assert_eq!(cfg.start_delays, delays);
        let (cfg, _) = config(&setup(&["--replay", path]).unwrap()).unwrap();
        assert_eq!((cfg.decision_cost_ns, cfg.user_step_extras_ns), (1_000, vec![]), "the model's");
        assert_eq!(cfg.start_delays, Default::default());
        // The same machine's costs for a workload of the model's, on its
        // own CPU count and length.
        let (cfg, _) =
            config(&setup(&["--workload", "cyclictest", "--costs-from", path, "--cpus", "8"]).unwrap()).unwrap();
        assert_eq!((cfg.decision_cost_ns, &cfg.user_step_extras_ns), (2_000, &vec![0]));
        assert_eq!((&cfg.start_delays, cfg.nr_cpus), (&delays, 8));
        assert!(matches!(cfg.workload, Workload::Preset(_)), "{:?}", cfg.workload);
        for other in
            [&["--replay", path][..], &["--recorded-costs"], &["--decision-cost-ns", "5"], &["--switch-cost-ns", "5"]]
        {
            let mut a = vec!["--costs-from", path];
            a.extend_from_slice(other);
            assert!(parse(&a).is_err(), "--costs-from with {other:?}");
        }
        std::fs::remove_file(&file).unwrap();
        let e = config(&setup(&["--workload", "hogs", "--costs-from", path]).unwrap()).unwrap_err();
        assert_eq!(e.to_string().split(':').next(), Some(format!("--costs-from {path}").as_str()), "{e}");
        let e = config(&setup(&["--recorded-costs", "--workload", "hogs"]).unwrap()).unwrap_err();
        assert!(matches!(e, ConfigError::RecordedCostsWithoutReplay), "{e}");
    }

    /// The combinations clap cannot check are refused by `config`.
    #[test]
    fn combinations() {
        let e = config(&setup(&["--workload", "bogus"]).unwrap()).unwrap_err();
        assert!(matches!(e, ConfigError::Workload(_)), "{e}");
        assert!(e.to_string().starts_with("unknown workload 'bogus'"), "{e}");
        let e = config(&setup(&["--stall-at-ms", "1"]).unwrap()).unwrap_err();
        assert_eq!(e.to_string(), "--stall-at-ms needs --stall-ms (the stall's length in ms)");
        let e = config(&setup(&["--stall-ms", "1"]).unwrap()).unwrap_err();
        assert_eq!(e.to_string(), "--stall-ms needs --stall-at-ms (when the stall starts, in ms)");
        // The real scheduler's limits, and its lines.
        let e = config(&setup(&["--slice-us", "100001"]).unwrap()).unwrap_err();
        assert_eq!(e.to_string(), "--slice-us 100001 is out of range (1..=100000)");
        let e = config(&setup(&["-s", "10", "-S", "11"]).unwrap()).unwrap_err();
        assert_eq!(e.to_string(), "--slice-min-us 11 is out of range (1..=--slice-us, 10)");
        let e = config(&setup(&["--stall-timeout-ms", "0"]).unwrap()).unwrap_err();
        assert!(matches!(e, ConfigError::Tunables(TunablesError::StallTimeoutMs(0))), "{e}");
    }
}
