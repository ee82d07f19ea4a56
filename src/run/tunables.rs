//! The scheduler's tunables: its slices, its stall timeout and its wakeup
//! fast path. The real
//! scheduler (`scx_relay`) and the simulator (`scx_relay sim`) take them as
//! the same options, with the same meaning, defaults and limits: both
//! flatten [`Tunables`] into their command lines and [`Tunables::check`]
//! them.

use policies::PolicyConfig;

use super::bpf;

/// Longest `--stall-timeout-ms`. A task's worst wait (docs/architecture.md,
/// "Where a task can wait") is the aging threshold before its hand-off, the
/// stall timeout in user space, two heartbeat periods and a tick; with this
/// limit it is 70 % of the watchdog plus a tick (3.5 s of 5 s), the rest being
/// the margin for the kernel's own delays (its check runs every timeout / 2).
pub const MAX_STALL_TIMEOUT_MS: u64 = bpf::WATCHDOG_MS * 7 / 10 - bpf::AGE_AFTER_MS - 2 * bpf::TIMER_MAX_MS;
/// Longest slice accepted (the dispatcher clamps decisions to it too).
pub const MAX_SLICE_US: u64 = bpf::MAX_SLICE_US;

/// The slices, the stall timeout and the fast path (see `scx_relay --help`).
#[derive(Debug, Clone, clap::Args)]
pub struct Tunables {
    /// Longest time slice a task is given, in microseconds (1..=100000).
    #[arg(short = 's', long, default_value_t = 20_000, value_name = "US", allow_negative_numbers = true)]
    pub slice_us: u64,

    /// Shortest time slice a task is given, in microseconds (1..=slice-us).
    /// Also `--slice-us-min`, upstream scx_rustland's name.
    #[arg(
        short = 'S',
        long,
        visible_alias = "slice-us-min",
        default_value_t = 1_000,
        value_name = "US",
        allow_negative_numbers = true
    )]
    pub slice_min_us: u64,

    /// After this many milliseconds without progress from the user
    /// scheduler while tasks wait for it, the BPF dispatcher schedules them
    /// itself until the user scheduler answers again (1..=2000: with the
    /// dispatcher's other bounds it must keep every wait well under the
    /// 5 s watchdog, which is scx_relay's own setting: it asks the kernel
    /// for it as ops.timeout_ms, and the kernel ejects the scheduler when a
    /// runnable task waits longer).
    #[arg(long, default_value_t = 1_000, value_name = "MS", allow_negative_numbers = true)]
    pub stall_timeout_ms: u64,

    /// Turn on the dispatcher's wakeup fast path: a policy that grants it
    /// (`deadline`, `interactive`) has latency-critical tasks' wakeups
    /// placed at once by the dispatcher (`fast_placed` in the metrics):
    /// those tasks' wakeups come mostly from interrupts (timers, devices),
    /// which the dispatcher reads on x86 only (elsewhere nothing is
    /// granted).
    /// Off by default: bench-vm measured no gain from it beyond noise.
    #[arg(long)]
    pub fast_path: bool,

    /// Turns off the preemption of CPU hogs for the user scheduler: by
    /// default a wakeup that goes through the user scheduler, with no CPU
    /// idle, preempts a CPU hog on the woken task's CPU (a task with a
    /// whole slice of CPU since it last woke) for it at once, not only
    /// once the hog's current run had the minimum slice (as does the user
    /// scheduler's own wakeup), so a periodic task beside hogs waits far
    /// less. With this option, every running task keeps its CPU until its
    /// run had the minimum slice.
    #[arg(long)]
    pub no_preempt_hogs: bool,
}

/// A tunable out of its range; one line naming the option (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum TunablesError {
    /// `--slice-us` is outside `1..=MAX_SLICE_US`.
    #[error("--slice-us {0} is out of range (1..={MAX_SLICE_US})")]
    SliceUs(u64),
    /// `--slice-min-us` is outside `1..=--slice-us`.
    #[error("--slice-min-us {min} is out of range (1..=--slice-us, {max})")]
    SliceMinUs {
        /// The value given.
        min: u64,
        /// `--slice-us`.
        max: u64,
    },
    /// `--stall-timeout-ms` is outside `1..=MAX_STALL_TIMEOUT_MS`.
    #[error(
        "--stall-timeout-ms {0} is out of range (1..={MAX_STALL_TIMEOUT_MS}: a task's worst wait adds it to the {age} \
         ms aging threshold, and must stay well under the kernel's {watchdog} ms watchdog)",
        age = bpf::AGE_AFTER_MS,
        watchdog = bpf::WATCHDOG_MS
    )]
    StallTimeoutMs(u64),
}

/// Checked tunables, in the units the scheduler uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// The policies' slices (`slice_ns` is also the dispatcher's default
    /// slice, `slice_min_ns` its shortest run before the tick may end one).
    pub policy_cfg: PolicyConfig,
    /// The stall timeout (ns).
    pub stall_timeout_ns: u64,
    /// The wakeup fast path is on.
    pub fast_path: bool,
    /// The user hand-off preempts CPU hogs at once (unless
    /// `--no-preempt-hogs`).
    pub preempt_hogs: bool,
}

impl Tunables {
    /// Checks the ranges; the values in ns.
    pub fn check(&self) -> Result<Checked, TunablesError> {
        if !(1..=MAX_SLICE_US).contains(&self.slice_us) {
            return Err(TunablesError::SliceUs(self.slice_us));
        }
        if !(1..=self.slice_us).contains(&self.slice_min_us) {
            return Err(TunablesError::SliceMinUs { min: self.slice_min_us, max: self.slice_us });
        }
        if !(1..=MAX_STALL_TIMEOUT_MS).contains(&self.stall_timeout_ms) {
            return Err(TunablesError::StallTimeoutMs(self.stall_timeout_ms));
        }
        Ok(Checked {
            policy_cfg: PolicyConfig {
                slice_ns: self.slice_us * 1000,
                slice_min_ns: self.slice_min_us * 1000,
                nr_cpus: 0,
            },
            stall_timeout_ns: self.stall_timeout_ms * 1_000_000,
            fast_path: self.fast_path,
            preempt_hogs: !self.no_preempt_hogs,
        })
    }
}
