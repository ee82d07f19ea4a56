//! The real scheduler: loads the BPF dispatcher and runs the engine on it.
//!
//! `run::main` validates the options, checks that this machine can run a
//! sched_ext scheduler, then runs sessions (load, attach, schedule, unload)
//! until a signal or the kernel ends one without asking for a restart.

pub mod alloc_probe;
mod backend;
mod bpf;
mod bpf_cost;
mod cgroup;
mod ctl_server;
pub(crate) mod logger;
mod metrics;
mod panic_guard;
mod preflight;
mod recorder;
mod scheduler;
mod stats;
mod topology;
pub(crate) mod tunables;
mod verifier;

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    time::Duration,
};

pub use ctl_server::CustomPolicy;
use ctl_server::{PolicyFactory, PolicySpec, Server, StartError};
use logger::LogLevel;
use recorder::RecordFile;
use scheduler::{Config, SessionEnd};
pub(crate) use tunables::Tunables;
use tunables::TunablesError;

/// Options of the real scheduler (see `scx_relay --help`).
#[derive(Debug, clap::Args)]
pub struct RunOpts {
    /// Scheduling policy, one of `policies::SHIPPED` (the help lists them).
    #[arg(
        long,
        default_value = "deadline",
        value_name = "NAME",
        allow_hyphen_values = true,
        help = format!(
            "Scheduling policy: {}. `scx_relay ctl policy NAME` switches it while running",
            crate::policy_list::described()
        )
    )]
    pub policy: String,

    /// Run the routing policy of this TOML file instead of --policy: tasks
    /// go to sub-policies by comm pattern, tgid, nice level, cgroup path or
    /// single-CPU affinity, each with its CPUs and share (format:
    /// docs/routing.md). A malformed file is refused with the line and field at fault.
    #[arg(long, value_name = "FILE", conflicts_with = "policy", allow_hyphen_values = true)]
    pub config: Option<PathBuf>,

    /// The control socket `scx_relay ctl` talks to (mode 0600, root only; a
    /// stale one is replaced, a live one means another scx_relay runs).
    #[arg(long, default_value = crate::ctl_client::DEFAULT_SOCKET, value_name = "PATH", allow_hyphen_values = true)]
    pub socket: PathBuf,

    /// Also accept the test-only policies that misbehave on purpose, for
    /// reliability tests: chaos (seeded garbage decisions) and panic (panics
    /// after 2000 decisions). Never use them to schedule a real machine.
    /// Hidden from --help: for the project's own tests.
    #[arg(long, hide = true)]
    pub allow_test_policies: bool,

    /// The slices, the stall timeout and the fast path (as `scx_relay sim`
    /// takes them).
    #[command(flatten)]
    pub tunables: Tunables,

    /// Schedule only tasks that opt into SCHED_EXT (sched_setscheduler policy
    /// 7); every other task stays with the fair class. scx_relay moves its
    /// own scheduling thread to SCHED_EXT and refuses to run if it cannot.
    /// The fair class runs first: on a CPU busy with fair-class tasks,
    /// SCHED_EXT tasks (that thread too) get the kernel's ext server share
    /// only, 50 ms per second by default.
    #[arg(short = 'p', long)]
    pub partial: bool,

    /// Give a task that has its CPU to itself an unbounded slice, so that
    /// the kernel stops the periodic tick on `nohz_full` CPUs (boot with
    /// `nohz_full=CPUS`): less OS noise for CPU-bound and HPC-style work.
    /// A timer every --slice-min-us (at least 1 ms) does the tick's work
    /// for such CPUs: it preempts the task once work is queued for its
    /// CPU, as the tick would, and moves the CPU the waiting user scheduler
    /// is aimed at off one a realtime or deadline task holds, or one outside
    /// its CPUs. After upstream
    /// scx_tickless. Counted as `unbounded_runs`, `unbounded_kicks` and
    /// `tickless_usersched_aims` in the metrics.
    #[arg(long)]
    pub tickless: bool,

    /// Print one line every SECS seconds of what the counters moved during
    /// those seconds (`scx_relay stats: last 1.0 s: queued N ...`: tasks
    /// queued, hand-offs voided, runs placed by user space, tasks
    /// dispatched by the kernel / stall fallback, tasks rescued from a
    /// policy that never decided them, tasks aged past a policy's ordering,
    /// decisions bounced, stale, invalid, redirected or with their vtime
    /// clamped, congestion, and the scheduling loop's page faults and
    /// allocator calls), and the session's totals when it ends (`scx_relay
    /// totals: ...`); printed by a thread of its own, never by the loop.
    /// The totals of the running scheduler: `scx_relay ctl status` (JSON).
    #[arg(long, value_name = "SECS", allow_hyphen_values = true)]
    pub stats: Option<f64>,

    /// Load no scheduler: connect to the scx_relay running on this machine
    /// (its scx_stats server, /var/run/scx/root/stats), print its totals
    /// since its session started, then every SECS seconds a --stats line of
    /// what moved, until SIGINT. Exit 1 if nothing serves that socket.
    #[arg(long, value_name = "SECS", allow_hyphen_values = true)]
    pub monitor: Option<f64>,

    /// Print the name, kind and description of each metric that the
    /// scx_stats server serves to its clients (such as scxtop), and exit.
    #[arg(long)]
    pub help_stats: bool,

    /// Load the BPF dispatcher with the verifier's statistics on, without
    /// attaching it (it runs beside any scheduler), print for each BPF
    /// program its type, its instructions, the instructions the verifier
    /// processed, the kernel's verified_insns and the verification time,
    /// and exit: 0, or 1 if a program fails to load (the error says why).
    /// Needs root and a kernel with sched_ext.
    #[arg(long)]
    pub verifier_report: bool,

    /// Keep the kernel's BPF run-time statistics on while scx_relay runs
    /// (BPF_ENABLE_STATS; they cost two clock reads per BPF program run),
    /// and print, when a session ends, each dispatcher program's runs, µs
    /// per run and total run time: CPU time spent in the kernel, mostly in
    /// the scheduled tasks' context, mostly not scx_relay's own. `scx_relay ctl
    /// status` shows the same counts (`bpf_programs`) whenever the kernel
    /// counts: with this option, or with the kernel.bpf_stats_enabled sysctl.
    #[arg(long)]
    pub bpf_stats: bool,

    /// Size of the kernel's debug dump of an ejection, in bytes: the
    /// kernel's state and the dispatcher's own lines (tasks pending in user
    /// space, stall state, each CPU's DSQ depth, each task's custody), which
    /// scx_relay prints in its exit report. 0 is the kernel's default
    /// (32768); a longer dump is cut short.
    #[arg(long, default_value_t = 0, value_name = "BYTES", allow_negative_numbers = true)]
    pub exit_dump_len: u32,

    /// Test only: after this many milliseconds of scheduling, the dispatcher
    /// ejects itself with an error (scx_bpf_error), for tests of the
    /// ejection path and its dump. Hidden from --help.
    #[arg(long, value_name = "MS", hide = true, allow_negative_numbers = true)]
    pub test_eject_after_ms: Option<u64>,

    /// Test only: the record ring buffer's size under `scx_relay record`,
    /// in KiB (a power of two, 4 to 1048576; default 16384), so that a test
    /// can make it small enough to overflow. Hidden from --help.
    #[arg(long, value_name = "KIB", hide = true, allow_negative_numbers = true)]
    pub test_record_ring_kib: Option<u32>,

    /// Test only: every fast-path grant names this CPU as its preferred one
    /// (0 to 4094, what a placement word carries), so that a test can check
    /// that the dispatcher takes it. Hidden from --help.
    #[arg(long, value_name = "CPU", hide = true, allow_negative_numbers = true)]
    pub test_fast_prefer_cpu: Option<u32>,

    /// The least severe messages printed on stderr: off, error, warn, info
    /// (what the scheduler does: start, switches, exit), debug (libbpf's
    /// account of loading among them), trace (libbpf's debug output, the
    /// verifier's log included). Each line starts with the time (UTC), or,
    /// under journald (JOURNAL_STREAM), with its syslog priority.
    #[arg(long, value_enum, default_value_t = LogLevel::Info, value_name = "LEVEL")]
    pub log_level: LogLevel,

    /// Verbose output: the same as --log-level trace (libbpf's log,
    /// including the BPF verifier's, and lifecycle details).
    #[arg(short, long, conflicts_with = "log_level")]
    pub verbose: bool,
}

/// Why the scheduler's options were refused (exit code 2); each message
/// is one line that names the option at fault.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    /// `--policy` names no shipped policy.
    #[error(transparent)]
    UnknownPolicy(#[from] policies::UnknownPolicy),
    /// `--policy` names a test policy without `--allow-test-policies`.
    #[error("policy '{0}' is a test policy that misbehaves on purpose; add --allow-test-policies to run it")]
    TestPolicy(String),
    /// A slice or the stall timeout is out of range.
    #[error(transparent)]
    Tunables(#[from] TunablesError),
    /// `--stats` is not a positive number of seconds (at most a day).
    #[error("--stats {0} is out of range (a positive number of seconds)")]
    Stats(f64),
    /// `--test-record-ring-kib` is not a power of two in range.
    #[error("--test-record-ring-kib {0} is out of range (a power of two, 4 to 1048576)")]
    RecordRing(u32),
    /// `--test-fast-prefer-cpu` is beyond what a placement word carries.
    #[error("--test-fast-prefer-cpu {0} is out of range (0 to 4094)")]
    PreferCpu(u32),
    /// `--monitor` is not a positive number of seconds (at most a day).
    #[error("--monitor {0} is out of range (a positive number of seconds)")]
    Monitor(f64),
    /// The `--config` file cannot be read.
    #[error("--config {}: cannot read it: {source}", path.display())]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// Why it cannot be read.
        source: std::io::Error,
    },
    /// The `--config` file is malformed.
    #[error("--config {}: {source}", path.display())]
    ParseConfig {
        /// The file.
        path: PathBuf,
        /// The line and field at fault.
        source: policies::ConfigError,
    },
    /// `--socket` is empty.
    #[error("--socket '' is not a path")]
    EmptySocket,
}

impl RunOpts {
    /// Checks the values and turns them into the session configuration.
    fn validate(&self) -> Result<Config, OptionsError> {
        let tunables = self.tunables.check()?;
        let policy_cfg = tunables.policy_cfg;
        match policies::by_name(&self.policy, &policy_cfg) {
            Ok(_) => {}
            Err(_) if self.allow_test_policies && policies::TEST_NAMES.contains(&self.policy.as_str()) => {}
            Err(_) if policies::TEST_NAMES.contains(&self.policy.as_str()) => {
                return Err(OptionsError::TestPolicy(self.policy.clone()))
            }
            Err(e) => return Err(e.into()),
        }
        let stats_interval = self.stats.map(|s| seconds(s).ok_or(OptionsError::Stats(s))).transpose()?;
        let initial = match &self.config {
            Some(file) => {
                let text = std::fs::read_to_string(file)
                    .map_err(|source| OptionsError::ReadConfig { path: file.clone(), source })?;
                let routing = policies::RoutingConfig::parse(&text)
                    .map_err(|source| OptionsError::ParseConfig { path: file.clone(), source })?;
                PolicySpec::Routing(routing)
            }
            None => PolicySpec::Named(self.policy.clone()),
        };
        if self.socket.as_os_str().is_empty() {
            return Err(OptionsError::EmptySocket);
        }
        if let Some(kib) = self.test_record_ring_kib.filter(|k| !k.is_power_of_two() || !(4..=1 << 20).contains(k)) {
            return Err(OptionsError::RecordRing(kib));
        }
        if let Some(cpu) = self.test_fast_prefer_cpu.filter(|&c| u64::from(c) >= scheduler_core::shared::PLACE_CPU_MASK)
        {
            return Err(OptionsError::PreferCpu(cpu));
        }
        Ok(Config {
            policy: match &initial {
                PolicySpec::Named(n) => n.clone(),
                PolicySpec::Routing(_) => "routing".to_owned(),
            },
            initial,
            socket: self.socket.clone(),
            policy_cfg,
            stall_timeout_ns: tunables.stall_timeout_ns,
            partial: self.partial,
            tickless: self.tickless,
            fast_path: self.tunables.fast_path,
            preempt_hogs: tunables.preempt_hogs,
            allow_test_policies: self.allow_test_policies,
            stats_interval,
            bpf_stats: self.bpf_stats,
            exit_dump_len: self.exit_dump_len,
            test_eject_after: self.test_eject_after_ms.map(Duration::from_millis),
            test_preferred_cpu: self.test_fast_prefer_cpu,
            record: None,
            record_ring_bytes: None,
        })
    }
}

/// A positive number of seconds, at most a day (`--stats`, `--monitor`).
fn seconds(s: f64) -> Option<Duration> {
    (s.is_finite() && s > 0.0 && s <= 86_400.0).then(|| Duration::from_secs_f64(s))
}

/// Runs the real scheduler; returns the process exit code: 0 after a signal
/// or a normal unload, 1 when the kernel ejected the scheduler or it could
/// not start, 2 for invalid options, 101 when the policy panicked (after
/// unregistering).
pub fn main(opts: &RunOpts) -> ExitCode {
    main_with_custom(opts, None)
}

/// [`main`], with a custom policy that starts instead of `--policy` (see
/// `scx_relay::run_with_policy`).
pub fn main_with_custom(opts: &RunOpts, custom: Option<CustomPolicy>) -> ExitCode {
    session_main(opts, custom, None)
}

/// [`main`], writing the dispatcher's scheduling events to `file`
/// (`scx_relay record`, see `recorder`).
pub fn main_recording(opts: &RunOpts, file: &Path) -> ExitCode {
    session_main(opts, None, Some(file))
}

fn session_main(opts: &RunOpts, custom: Option<CustomPolicy>, record: Option<&Path>) -> ExitCode {
    if opts.help_stats {
        return metrics::help_stats();
    }
    if let Some(secs) = opts.monitor {
        let Some(interval) = seconds(secs) else {
            eprintln!("scx_relay: {}", OptionsError::Monitor(secs));
            return ExitCode::from(2);
        };
        if let Err(e) = scheduler::install_signal_handlers() {
            eprintln!("scx_relay: {e:#}");
            return ExitCode::from(1);
        }
        return metrics::monitor(Path::new(metrics::DEFAULT_STATS_SOCKET), interval, &scheduler::shutdown_requested);
    }
    let mut cfg = match opts.validate() {
        Ok(c) => c,
        Err(e) => {
            logger::command_error(&e.to_string());
            return ExitCode::from(2);
        }
    };
    if record.is_some() {
        // Before --verifier-report: it loads the programs a recording runs.
        cfg.record_ring_bytes = Some(opts.test_record_ring_kib.map_or(recorder::RING_BYTES, |kib| kib * 1024));
    }
    // From here on, what scx_relay says is its log (the options' errors
    // above are a command line's, one plain line).
    logger::init(if opts.verbose { log::LevelFilter::Trace } else { opts.log_level.into() });
    let fit = preflight::check(Path::new(preflight::SCHED_EXT_SYSFS), preflight::euid());
    if opts.verifier_report {
        // Loading without attaching: another scheduler may be running.
        if let Err(e) = &fit {
            if !matches!(e, preflight::Unfit::OtherScheduler(_)) {
                log::error!("{e}");
                return ExitCode::from(1);
            }
        }
        return match verifier::report(&cfg) {
            Ok(r) => {
                print!("{}", verifier::render(&preflight::kernel_release(), &r.rows, &r.not_loaded));
                ExitCode::SUCCESS
            }
            Err(e) => {
                log::error!("--verifier-report: {e:#}");
                ExitCode::from(1)
            }
        };
    }
    if let Err(e) = fit {
        log::error!("{e}");
        return ExitCode::from(1);
    }
    if let Err(e) = scheduler::install_signal_handlers() {
        log::error!("{e:#}");
        return ExitCode::from(1);
    }
    panic_guard::install_hook();
    // Per-CPU state of policies built later (live switches) sized up front.
    cfg.policy_cfg.nr_cpus = topology::nr_cpu_ids().unwrap_or(0);
    if let Some(c) = &custom {
        if opts.config.is_none() {
            cfg.initial = PolicySpec::Named(c.name.clone());
            cfg.policy = c.name.clone();
        }
    }
    // On for every session of this process, off when it exits (before
    // anything is created that a failure here would leave behind).
    let _bpf_stats_on = match cfg.bpf_stats.then(bpf_cost::StatsOn::enable).transpose() {
        Ok(on) => on,
        Err(e) => {
            log::error!("--bpf-stats: {e:#}");
            return ExitCode::from(1);
        }
    };
    let factory = Arc::new(PolicyFactory {
        cfg: cfg.policy_cfg,
        allow_test_policies: cfg.allow_test_policies,
        custom,
        cgroup_unresolved: Arc::default(),
    });
    // The control thread starts here, before any session locks memory.
    let ctl = match Server::start(&cfg.socket, factory.clone(), cfg.initial.clone()) {
        Ok(server) => Some(server),
        Err(StartError::Busy(path)) => {
            log::error!("another scx_relay answers on {}; stop it first", path.display());
            return ExitCode::from(1);
        }
        Err(StartError::Other(e)) => {
            log::warn!("no live control ({e:#}); scx_relay ctl will not reach this scheduler");
            None
        }
    };
    if let Some(path) = record {
        let flags = if cfg.preempt_hogs { scheduler_core::record::HOG_RULE } else { 0 };
        match RecordFile::create(path, cfg.policy_cfg.nr_cpus, flags) {
            Ok(file) => cfg.record = Some(file),
            Err(e) => {
                log::error!("record: {e:#}");
                return ExitCode::from(1);
            }
        }
    }
    let code = sessions(&cfg, &factory, ctl.as_ref());
    let Some(file) = &cfg.record else { return code };
    match file.finish() {
        Ok(totals) if totals.dropped > 0 => {
            log::warn!(
                "record: wrote {} events to {}; {} more were lost (the ring buffer was full)",
                totals.events,
                file.path().display(),
                totals.dropped
            );
            code
        }
        Ok(totals) => {
            log::info!("record: wrote {} events to {}", totals.events, file.path().display());
            code
        }
        Err(e) => {
            log::error!("record: {e:#}");
            if code == ExitCode::SUCCESS {
                ExitCode::from(1)
            } else {
                code
            }
        }
    }
}

/// Runs sessions until one ends for good; the process exit code.
fn sessions(cfg: &Config, factory: &Arc<PolicyFactory>, ctl: Option<&Server>) -> ExitCode {
    loop {
        match scheduler::attach_and_schedule(cfg, factory, ctl) {
            Ok(SessionEnd::Restart(why)) => log::info!("restarting ({why})"),
            Ok(SessionEnd::Stopped(why)) => {
                log::info!("unregistered: {why}");
                return ExitCode::SUCCESS;
            }
            Ok(SessionEnd::Ejected(why)) => {
                log::error!("ejected by the kernel: {why}");
                return ExitCode::from(1);
            }
            // Its own status, so that a service manager can leave it off
            // (the unit's RestartPreventExitStatus).
            Ok(SessionEnd::Disabled(why)) => {
                log::info!("turned off by the administrator: {why}");
                return ExitCode::from(3);
            }
            Ok(SessionEnd::Panicked(why)) => {
                log::error!("the policy panicked: {why}; unregistered, the kernel is back on the fair class");
                return ExitCode::from(101);
            }
            Err(e) => {
                log::error!("{e:#}");
                return ExitCode::from(1);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use clap::Parser;

    use super::{bpf::WATCHDOG_MS, tunables::MAX_STALL_TIMEOUT_MS, *};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunOpts,
    }

    fn parse(args: &[&str]) -> RunOpts {
        Cli::try_parse_from(std::iter::once("scx_relay").chain(args.iter().copied())).unwrap().run
    }

    /// The defaults are valid and mean what the manual says.
    #[test]
    fn defaults() {
        let cfg = parse(&[]).validate().unwrap();
        assert_eq!(cfg.policy, "deadline");
        assert_eq!(
            cfg.policy_cfg,
            policies::PolicyConfig { slice_ns: 20_000_000, slice_min_ns: 1_000_000, nr_cpus: 0 }
        );
        assert_eq!(cfg.stall_timeout_ns, 1_000_000_000);
        assert!(!cfg.partial && !cfg.tickless && cfg.stats_interval.is_none());
        assert!(!cfg.fast_path);
        assert_eq!(cfg.exit_dump_len, 0, "the kernel's default");
        assert!(cfg.test_eject_after.is_none());
        assert!(cfg.test_preferred_cpu.is_none());
    }

    /// The test-only --test-fast-prefer-cpu parses, up to the last CPU a
    /// placement word carries.
    #[test]
    fn the_hidden_preferred_cpu_knob() {
        let cfg = parse(&["--fast-path", "--test-fast-prefer-cpu", "4094"]).validate().unwrap();
        assert_eq!(cfg.test_preferred_cpu, Some(4094));
        assert!(matches!(parse(&["--test-fast-prefer-cpu", "4095"]).validate(), Err(OptionsError::PreferCpu(4095))));
    }

    /// --exit-dump-len takes a byte count and is in the manual; the test-only
    /// --test-eject-after-ms parses but is not.
    #[test]
    fn exit_dump_len_and_the_hidden_test_ejection() {
        use clap::CommandFactory;
        let cfg = parse(&["--exit-dump-len", "65536", "--test-eject-after-ms", "3000"]).validate().unwrap();
        assert_eq!(cfg.exit_dump_len, 65_536);
        assert_eq!(cfg.test_eject_after, Some(Duration::from_secs(3)));
        assert!(Cli::try_parse_from(["scx_relay", "--exit-dump-len", "-1"]).is_err());
        assert!(Cli::try_parse_from(["scx_relay", "--exit-dump-len", "4294967296"]).is_err());
        for help in [Cli::command().render_help().to_string(), Cli::command().render_long_help().to_string()] {
            assert!(help.contains("--exit-dump-len <BYTES>"), "{help}");
            assert!(!help.contains("test-eject"), "{help}");
        }
    }

    /// Every out-of-range value is refused with one line naming the option.
    #[test]
    fn out_of_range_values_are_refused() {
        for (args, flag) in [
            (&["--stall-timeout-ms", "0"][..], "--stall-timeout-ms"),
            (&["--stall-timeout-ms", "5000"][..], "--stall-timeout-ms"),
            (&["--slice-us", "0"][..], "--slice-us"),
            (&["--slice-us", "100001"][..], "--slice-us"),
            (&["--slice-us", "1000", "--slice-min-us", "2000"][..], "--slice-min-us"),
            (&["--stats", "0"][..], "--stats"),
            (&["--stats", "-1"][..], "--stats"),
            (&["--policy", "cfs"][..], "unknown policy 'cfs'"),
            (&["--policy", "chaos"][..], "--allow-test-policies"),
            (&["--policy", "panic"][..], "--allow-test-policies"),
        ] {
            let e = parse(args).validate().unwrap_err().to_string();
            assert!(e.contains(flag), "{args:?}: {e}");
            assert!(!e.contains('\n'));
        }
        let max = MAX_STALL_TIMEOUT_MS.to_string();
        assert!(parse(&["--stall-timeout-ms", &max, "--policy", "fifo", "--stats", "0.5"]).validate().is_ok());
        let e =
            parse(&["--stall-timeout-ms", &(MAX_STALL_TIMEOUT_MS + 1).to_string()]).validate().unwrap_err().to_string();
        assert!(e.contains(&format!("1..={max}")), "{e}");
    }

    /// The manual states the limits the code enforces.
    #[test]
    fn help_states_the_limits() {
        use clap::CommandFactory;
        // One line, as clap wraps the text to the terminal's width.
        let help = Cli::command().render_long_help().to_string().split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(help.contains(&format!("1..={MAX_STALL_TIMEOUT_MS}")), "{help}");
        assert!(
            help.contains(&format!("{} s watchdog, which is scx_relay's own setting", WATCHDOG_MS / 1000)),
            "{help}"
        );
    }

    /// Test policies need the explicit flag, which lets nothing else through.
    #[test]
    fn test_policies_need_the_flag() {
        for name in policies::TEST_NAMES {
            let cfg = parse(&["--allow-test-policies", "--policy", name]).validate().unwrap();
            assert!(cfg.allow_test_policies && cfg.policy == *name);
        }
        let e = parse(&["--allow-test-policies", "--policy", "cfs"]).validate().unwrap_err().to_string();
        assert!(e.contains("unknown policy 'cfs'"), "{e}");
    }

    /// Each refusal keeps the exact line it had when it was a `String`.
    #[test]
    fn refusals_keep_their_exact_text() {
        let text = |args: &[&str]| parse(args).validate().unwrap_err().to_string();
        assert_eq!(
            text(&["--policy", "chaos"]),
            "policy 'chaos' is a test policy that misbehaves on purpose; add --allow-test-policies to run it"
        );
        assert_eq!(text(&["--slice-us", "0"]), "--slice-us 0 is out of range (1..=100000)");
        assert_eq!(
            text(&["--slice-us", "10", "--slice-min-us", "11"]),
            "--slice-min-us 11 is out of range (1..=--slice-us, 10)"
        );
        assert_eq!(
            text(&["--stall-timeout-ms", "0"]),
            format!(
                "--stall-timeout-ms 0 is out of range (1..={MAX_STALL_TIMEOUT_MS}: a task's worst wait adds it to the \
                 {} ms aging threshold, and must stay well under the kernel's {WATCHDOG_MS} ms watchdog)",
                bpf::AGE_AFTER_MS
            )
        );
        assert_eq!(text(&["--stats", "-1"]), "--stats -1 is out of range (a positive number of seconds)");
        let e = parse(&["--config", "/nonexistent/routing.toml"]).validate().unwrap_err();
        assert!(matches!(e, OptionsError::ReadConfig { .. }), "{e}");
        assert!(e.to_string().starts_with("--config /nonexistent/routing.toml: cannot read it: "), "{e}");
        assert!(std::error::Error::source(&e).is_some(), "the io::Error is kept as the source");
    }

    /// A policy the factory cannot build is a typed error, with the text
    /// `ctl` replies and the session reports.
    #[test]
    fn factory_errors_are_typed() {
        let factory = PolicyFactory {
            cfg: policies::PolicyConfig::default(),
            allow_test_policies: false,
            custom: None,
            cgroup_unresolved: Arc::default(),
        };
        let Err(e) = factory.build(&PolicySpec::Named("cfs".to_owned())) else { panic!("cfs was built") };
        assert_eq!(e, policies::UnknownPolicy("cfs".to_owned()));
        assert!(anyhow::Error::new(e).to_string().starts_with("unknown policy 'cfs' (valid: "));
    }
}
