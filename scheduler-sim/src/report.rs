//! What a simulation run measured: [`Report`], its text table and JSON.
//!
//! Everything is computed from integers recorded during the run, in a fixed
//! order (tasks by id, classes in [`TaskClass::ALL`] order); percentiles are
//! exact (nearest rank over every sample). The few floating-point values are
//! computed once, in that fixed order, so one seed gives one byte stream.

use std::fmt::Write as _;

use serde::Serialize;

use super::{
    machine::{Counters, Machine},
    tasks::{Role, SimTask, TaskState},
    workload::TaskClass,
    Hybrid, SimConfig, Stall,
};
use scheduler_core::{
    engine::EngineStats,
    fair_share::{fair_share_index, jain},
    shared::{find_slot, TaskSharedSlot},
};

/// Runnable → running waits: the time from a task becoming runnable (a
/// wakeup, its creation, or losing its CPU at the end of a slice) to it
/// running again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Latency {
    /// Waits measured.
    pub samples: u64,
    /// Median (ns).
    pub p50_ns: u64,
    /// 99th percentile (ns).
    pub p99_ns: u64,
    /// 99.9th percentile (ns).
    pub p999_ns: u64,
    /// Longest (ns).
    pub max_ns: u64,
    /// Mean (ns, rounded down).
    pub mean_ns: u64,
}

impl Latency {
    /// Exact nearest-rank percentiles of `samples`, which are sorted in place.
    pub(crate) fn of(samples: &mut [u64]) -> Self {
        samples.sort_unstable();
        let n = samples.len() as u64;
        let pct = |per_mille: u64| {
            if n == 0 {
                return 0;
            }
            let rank = (per_mille * n).div_ceil(1000).max(1);
            samples[(rank - 1) as usize]
        };
        Self {
            samples: n,
            p50_ns: pct(500),
            p99_ns: pct(990),
            p999_ns: pct(999),
            max_ns: samples.last().copied().unwrap_or(0),
            mean_ns: if n == 0 {
                0
            } else {
                (samples.iter().map(|&w| u128::from(w)).sum::<u128>() / u128::from(n)) as u64
            },
        }
    }
}

/// A wait distribution's quantiles, as the replay fidelity compares them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WaitQuantiles {
    /// Waits measured.
    pub samples: u64,
    /// Median (ns).
    pub p50_ns: u64,
    /// 90th percentile (ns).
    pub p90_ns: u64,
    /// 99th percentile (ns).
    pub p99_ns: u64,
    /// Longest (ns).
    pub max_ns: u64,
}

impl WaitQuantiles {
    /// Exact nearest-rank quantiles of `samples`, which are sorted in place.
    pub fn of(samples: &mut [u64]) -> Self {
        samples.sort_unstable();
        let n = samples.len() as u64;
        let pct = |per_mille: u64| {
            let rank = (per_mille * n).div_ceil(1000).max(1);
            samples.get((rank - 1) as usize).copied().unwrap_or(0)
        };
        Self { samples: n, p50_ns: pct(500), p90_ns: pct(900), p99_ns: pct(990), max_ns: pct(1000) }
    }
}

/// Replayed over recorded, per quantile; `None` where the recorded one is 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct WaitRatios {
    /// Of the medians.
    pub p50: Option<f64>,
    /// Of the 90th percentiles.
    pub p90: Option<f64>,
    /// Of the 99th percentiles.
    pub p99: Option<f64>,
    /// Of the longest waits.
    pub max: Option<f64>,
}

/// How close a replay's waits came to the recording's: runnable → running
/// waits of the recorded tasks (the user scheduler's left out, as the
/// simulator's waits leave it out; those that ended within the simulated
/// time) against the replayed tasks'.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ReplayFidelity {
    /// The recording's waits.
    pub recorded: WaitQuantiles,
    /// The replay's waits.
    pub replayed: WaitQuantiles,
    /// Replayed / recorded.
    pub ratio: WaitRatios,
    /// Events the recorder lost (the waits of their tasks are missing or
    /// wrong on both sides); `None` when the file was cut short (not known).
    pub lost_events: Option<u64>,
    /// Where the recorded machine's CPU time went within the simulated
    /// time (runs cut there, the runs under way at the recording's end
    /// included).
    pub recorded_cpu: CpuSplit,
    /// Where the replay's went.
    pub replayed_cpu: CpuSplit,
}

/// Where the CPUs' time went, in a recording or its replay: what the
/// replay keeps (the tasks' CPU time) and the costs it takes from the model
/// instead (the user scheduler's, getting a ready task onto a free CPU).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CpuSplit {
    /// Running tasks, as a share of all CPUs' time.
    pub tasks: f64,
    /// Running the user scheduler, as a share of all CPUs' time.
    pub user_scheduler: f64,
    /// The user scheduler's CPU time per decision applied (ns); `None`
    /// without decisions.
    pub user_ns_per_decision: Option<u64>,
    /// A CPU free while the task it ran next was ready (from the latest of
    /// its last stop, the task's runnable and its last decision), as a share
    /// of all CPUs' time: a context switch, the dispatch path, an idle
    /// CPU's wake-up. In a replay, the start delays drawn
    /// ([`crate::StartDelays`], `--recorded-costs`); 0 without them (a free
    /// CPU dispatches at once).
    pub free_to_run: f64,
    /// Those free times (the user scheduler's runs left out).
    pub free_to_run_waits: WaitQuantiles,
}

impl CpuSplit {
    /// The split of `capacity_ns` of CPU time (all CPUs) into `task_ns` of
    /// tasks' runs, `user_ns` of the user scheduler's for `decisions`
    /// decisions applied, and `free_ns` of free CPUs with a task ready.
    pub fn of(capacity_ns: u64, task_ns: u64, user_ns: u64, decisions: u64, free_ns: &mut [u64]) -> Self {
        let share = |ns: u64| ns as f64 / capacity_ns.max(1) as f64;
        CpuSplit {
            tasks: share(task_ns),
            user_scheduler: share(user_ns),
            user_ns_per_decision: (decisions > 0).then(|| user_ns / decisions),
            free_to_run: share(free_ns.iter().sum()),
            free_to_run_waits: WaitQuantiles::of(free_ns),
        }
    }
}

impl ReplayFidelity {
    /// The fidelity of a replay whose tasks waited `replayed`, against
    /// `recorded`, from a recording that lost `lost_events`.
    pub fn of(recorded: &mut [u64], replayed: &mut [u64], lost_events: Option<u64>) -> Self {
        let (recorded, replayed) = (WaitQuantiles::of(recorded), WaitQuantiles::of(replayed));
        let ratio = |r: u64, s: u64| (r > 0).then(|| s as f64 / r as f64);
        Self {
            recorded,
            replayed,
            ratio: WaitRatios {
                p50: ratio(recorded.p50_ns, replayed.p50_ns),
                p90: ratio(recorded.p90_ns, replayed.p90_ns),
                p99: ratio(recorded.p99_ns, replayed.p99_ns),
                max: ratio(recorded.max_ns, replayed.max_ns),
            },
            lost_events,
            recorded_cpu: CpuSplit::default(),
            replayed_cpu: CpuSplit::default(),
        }
    }
}

/// The per-mille ranks of [`ClassReport::wait_cdf`]: every 2.5 % up to
/// 97.5 %, then the tail (99, 99.5, 99.9 %) and the longest wait.
pub const CDF_PER_MILLE: [u16; 44] = [
    0, 25, 50, 75, 100, 125, 150, 175, 200, 225, 250, 275, 300, 325, 350, 375, 400, 425, 450, 475, 500, 525, 550, 575,
    600, 625, 650, 675, 700, 725, 750, 775, 800, 825, 850, 875, 900, 925, 950, 975, 990, 995, 999, 1000,
];

/// One point of a wait distribution: `per_mille` of the waits were at most
/// `wait_ns` (nearest rank; rank 0 is the shortest wait).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CdfPoint {
    /// Fraction of the waits, in thousandths.
    pub per_mille: u16,
    /// The wait at that rank (ns).
    pub wait_ns: u64,
}

/// The wait distribution of sorted `samples` at [`CDF_PER_MILLE`] (empty
/// without samples).
fn cdf(sorted: &[u64]) -> Vec<CdfPoint> {
    let n = sorted.len() as u64;
    if n == 0 {
        return Vec::new();
    }
    CDF_PER_MILLE
        .iter()
        .map(|&per_mille| {
            let rank = (u64::from(per_mille) * n).div_ceil(1000).max(1);
            CdfPoint { per_mille, wait_ns: sorted[(rank - 1) as usize] }
        })
        .collect()
}

/// The measurements of one task class.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassReport {
    /// The class.
    pub class: TaskClass,
    /// Tasks of the class created (fork children included).
    pub tasks: u64,
    /// CPU time its tasks got (ns).
    pub cpu_ns: u64,
    /// Work units completed (iterations, round trips, children finished).
    pub work_units: u64,
    /// Its tasks' waits.
    pub latency: Latency,
    /// Its tasks' waits as a distribution, at [`CDF_PER_MILLE`] (what
    /// `scx_relay report` draws).
    pub wait_cdf: Vec<CdfPoint>,
}

/// What the workload got done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Throughput {
    /// CPU time given to workload tasks (ns).
    pub workload_cpu_ns: u64,
    /// Work units completed, all classes.
    pub work_units: u64,
}

/// How busy the CPUs were, as fractions of `nr_cpus × duration`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Utilisation {
    /// Busy with anything.
    pub cpu: f64,
    /// Busy with workload tasks.
    pub workload: f64,
    /// Busy with the user scheduler.
    pub user_sched: f64,
    /// CPU time the user scheduler used (ns).
    pub user_sched_cpu_ns: u64,
}

/// The dispatcher's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DispatchCounts {
    /// Tasks written to the queued ring for user space.
    pub queued_to_user: u64,
    /// Decisions from user space applied (placed on a queue).
    pub decisions: u64,
    /// Tasks placed by the dispatcher without user space: idle-CPU wakeups
    /// and congestion (queued ring full).
    pub kernel_dispatches: u64,
    /// Tasks placed by the stall fallback.
    pub fallback_dispatches: u64,
    /// Times the fallback took over from a silent user side.
    pub fallback_episodes: u64,
    /// Tasks placed because the queued ring was full (part of `kernel_dispatches`).
    pub congested: u64,
    /// Decisions naming a CPU the task may not use, moved to an allowed one.
    pub bounced: u64,
    /// Decisions discarded as stale (generation mismatch or task exited).
    pub stale: u64,
    /// Decisions whose vtime lay outside the window around the dispatcher's
    /// clock and was clamped to it (`scheduler_core::wire::clamp_vtime`).
    pub vtime_clamped: u64,
    /// Tasks that lost their CPU while still runnable (slice over, a tick
    /// yield, a preempt kick, the fast path's preemptions, the resumed
    /// ones among them: `fast_resumes`).
    pub preemptions: u64,
    /// Runs a tick ended before their slice did: a lower key waited, or the
    /// user scheduler did.
    pub tick_yields: u64,
    /// Ticks that came late, a drawn time after they found a task that
    /// had to yield, while its run went on (`SimConfig::late_yields_ns`; 0
    /// without samples; those whose run ended first are not counted): the
    /// check ran again then.
    pub late_ticks: u64,
    /// Runs a preempt kick ended, to run the user scheduler for a wakeup.
    pub preempt_kicks: u64,
    /// Tasks aging ran ahead of the queues' order, once they had waited
    /// `wire::AGE_AFTER_MS` in a queue (the real scheduler's `aged`).
    pub aged: u64,
    /// Wakeups the wakeup fast path placed on a CPU without user space, for
    /// tasks the policy granted it (`Policy::fast_path`); not part of
    /// `kernel_dispatches`.
    pub fast_placed: u64,
    /// Of `fast_placed`, those whose kick preempted the CPU's running task
    /// at once (the rest went to an idle CPU, found the run ending anyway,
    /// or were deferred: `fast_deferred`).
    pub fast_preempts: u64,
    /// Of `fast_preempts`, those of a CPU hog whose run there had not had
    /// `slice_min_ns` (the hog rule; 0 without `preempt_hogs`).
    pub fast_hog_preempts: u64,
    /// Of `fast_placed`, those deferred: every CPU the task may use ran a
    /// task that may not be preempted yet, and the one whose task started
    /// earliest got the task queued with no kick, its task preempted once
    /// it ran `slice_min_ns` (the BPF's `nr_fast_deferred`: `fast_cpu`'s
    /// deferral, `fast_kick_timer`); not in `fast_preempts`.
    pub fast_deferred: u64,
    /// Kicks of the deferral's timer while a deferred task waited: the
    /// CPU's task had run `slice_min_ns` (preempted) or the CPU was idle
    /// (the BPF's `nr_fast_timer_kicks`, `fast_kick_fn`).
    pub fast_timer_kicks: u64,
    /// Deferred fast-placed tasks, waiting on a CPU, that another CPU with
    /// nothing in its own and the shared queue took and ran (the BPF's
    /// `nr_fast_moved`:
    /// `take_fast_waiter` in `relay_dispatch`).
    pub fast_moved: u64,
    /// Times a task a local fast placement preempted went back into its
    /// CPU's queue (or the shared one) with its key and the slice it had
    /// left, not through user space (`nr_fast_resumes`; also in
    /// `preemptions`).
    pub fast_resumes: u64,
    /// Fast-placed wakeups whose burst reached the grant's budget
    /// (`nr_fast_overruns`).
    pub fast_overruns: u64,
    /// Fast-path grants the dispatcher revoked: `FAST_OVERRUNS` overruns
    /// of a task in a row, or the task's fast-placed runs used more than
    /// `FAST_SHARE_PCT` % of a CPU over `FAST_WINDOW_MS`.
    pub fast_revoked: u64,
}

/// Where every task created is at the end: the "no task lost" account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Accounting {
    /// Tasks created.
    pub created: u64,
    /// Finished (fork children).
    pub exited: u64,
    /// Sleeping or blocked.
    pub sleeping: u64,
    /// In user space.
    pub in_user: u64,
    /// In a dispatch queue.
    pub queued: u64,
    /// On a CPU.
    pub running: u64,
    /// The longest wait of a task still waiting at the end (ns).
    pub longest_unfinished_wait_ns: u64,
    /// Times a task started on a CPU outside its affinity (must be 0).
    pub affinity_violations: u64,
}

/// The longest wait (runnable to running, ns) of a task that started from,
/// or is still waiting at the end in, the shared queue or a CPU's own queue
/// (its time in user space before included). Wait bounds differ by queue:
/// every allowed CPU serves the shared one, one CPU serves its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct QueueWaits {
    /// Waits that ended in (or still sit in) the shared queue.
    pub shared_ns: u64,
    /// Waits that ended in (or still sit in) a CPU's own queue, of tasks
    /// allowed other CPUs too (a policy named that CPU).
    pub own_ns: u64,
    /// Waits that ended in (or still sit in) a CPU's own queue, of tasks
    /// allowed that CPU only (a decision for any CPU sends them there): the
    /// shared queue's waits for a task only one CPU may serve.
    pub pinned_ns: u64,
}

/// What [`Accounting::check`] found wrong (a simulator or policy bug).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccountingError {
    /// Tasks created and tasks found in some place differ in number.
    #[error("{created} tasks created, {placed} accounted for")]
    Unplaced {
        /// Tasks created.
        created: u64,
        /// Tasks found exited, sleeping, in user space, queued or running.
        placed: u64,
    },
    /// Tasks ran on CPUs outside their affinity this many times.
    #[error("{0} runs outside a task's affinity")]
    AffinityViolations(u64),
}

impl Accounting {
    /// Every task is in exactly one place and none ran where it may not.
    pub fn check(&self) -> Result<(), AccountingError> {
        let placed = self.exited + self.sleeping + self.in_user + self.queued + self.running;
        if placed != self.created {
            return Err(AccountingError::Unplaced { created: self.created, placed });
        }
        if self.affinity_violations > 0 {
            return Err(AccountingError::AffinityViolations(self.affinity_violations));
        }
        Ok(())
    }
}

/// One long-lived task (fork children are only counted in their class).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TaskReport {
    /// Simulated pid.
    pub pid: i32,
    /// Class.
    pub class: TaskClass,
    /// Command name.
    pub comm: String,
    /// Nice level.
    pub nice: i32,
    /// sched_ext weight.
    pub weight: u64,
    /// Allowed CPUs, as `first-last` or a single CPU.
    pub cpus_allowed: String,
    /// CPU time (ns).
    pub cpu_ns: u64,
    /// Times it was put on a CPU.
    pub runs: u64,
    /// Work units.
    pub work_units: u64,
    /// CPUs it ran on.
    pub cpus_used: Vec<u32>,
    /// A hog allowed on every CPU: one of the tasks the fairness index is
    /// over, whose CPU shares should follow their weights.
    pub in_fairness: bool,
    /// What the dispatcher published in the task's shared slot, as read at
    /// the end (`None`: it holds no slot, e.g. it never ran or it exited).
    pub shared: Option<scheduler_core::TaskStats>,
}

/// A policy switch during a run ([`super::simulate_with_switches`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SwitchRecord {
    /// When (ns of simulated time).
    pub at_ns: u64,
    /// The policy before.
    pub from: String,
    /// The policy after.
    pub to: String,
    /// Tasks the old policy held, handed to the new one.
    pub handed_over: u64,
}

/// The sched_ext watchdog timeout the dispatcher asks for
/// ([`WATCHDOG_MS`](scheduler_core::wire::WATCHDOG_MS), as upstream's user-space
/// schedulers do), in ns: a runnable task that waits longer gets a real
/// scheduler ejected by the kernel.
pub const KERNEL_WATCHDOG_NS: u64 = scheduler_core::wire::WATCHDOG_MS * 1_000_000;

/// The result of one simulation run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Policy name.
    pub policy: String,
    /// Workload name.
    pub workload: String,
    /// CPUs.
    pub nr_cpus: u32,
    /// Hardware threads per core.
    pub smt: u32,
    /// Cores per last-level cache.
    pub cores_per_llc: u32,
    /// The big and little CPUs of a hybrid machine (absent from the JSON
    /// when every CPU is big).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hybrid: Option<Hybrid>,
    /// Simulated time (ns).
    pub duration_ns: u64,
    /// Seed.
    pub seed: u64,
    /// The dispatcher's default slice (ns).
    pub slice_ns: u64,
    /// User-scheduler CPU time per decision (ns).
    pub decision_cost_ns: u64,
    /// What a task paid per task it woke (ns, `SimConfig::wake_cost_ns`).
    pub wake_cost_ns: u64,
    /// How many samples each step's extra cost was drawn from
    /// (`SimConfig::user_step_extras_ns`, the recorded runs of
    /// `--recorded-costs`), and their mean (ns); `None`: no extras.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_step_extras_drawn: Option<(usize, u64)>,
    /// The injected stall, if any.
    pub stall: Option<Stall>,
    /// The stall timeout (ns).
    pub stall_timeout_ns: u64,
    /// Waits of all tasks.
    pub latency: Latency,
    /// Per class, in [`TaskClass::ALL`] order, classes with tasks only.
    pub classes: Vec<ClassReport>,
    /// Work done.
    pub throughput: Throughput,
    /// CPU busy fractions.
    pub utilisation: Utilisation,
    /// Jain's index of (CPU time / weight) over the CPU hogs allowed on every
    /// CPU; `None` without such hogs. 1 = shares exactly follow weights.
    pub fairness: Option<f64>,
    /// Hogs the fairness index is over.
    pub fairness_tasks: u64,
    /// Jain's index of those hogs' CPU time over the fair class's split of
    /// the CPU time they had between them (weights water-filled, no hog
    /// above one CPU: `scheduler_core::fair_share::fair_share_index`, as
    /// the guest's `share_probe` reports it); `None` without such hogs.
    /// Unlike [`Report::fairness`] it is 1 for a fair split when a heavy
    /// hog is held to one CPU.
    pub fair_share_index: Option<f64>,
    /// Some runnable task waited longer than [`KERNEL_WATCHDOG_NS`]: on a
    /// real kernel the scheduler would have been ejected.
    pub kernel_watchdog_exceeded: bool,
    /// Dispatcher counters.
    pub dispatch: DispatchCounts,
    /// Engine counters.
    pub engine: EngineStats,
    /// Where every task is at the end.
    pub accounting: Accounting,
    /// The longest waits by the dispatch queue they ended in.
    pub queue_waits: QueueWaits,
    /// The long-lived tasks, by pid.
    pub tasks: Vec<TaskReport>,
    /// Events simulated.
    pub events: u64,
    /// Policy switches, in order (empty unless switches were planned).
    pub switches: Vec<SwitchRecord>,
    /// A replay's waits against the recording's (absent from the JSON
    /// unless the workload is a replay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<ReplayFidelity>,
}

/// Builds the report of a finished run.
pub(crate) fn build(config: &SimConfig, m: &mut Machine) -> Report {
    let (classes, mut all_waits) = class_reports(&m.tasks, &mut m.waits);
    let hogs = hog_shares(m);
    let fair_share_index = hog_fair_share_index(m, config.duration_ns);
    let acc = accounting(m);
    let nr_cpus = m.cpus.len() as u32;
    let slots = m.task_shared.slots();
    let tasks = m.tasks.iter().filter(|t| t.is_long_lived()).map(|t| task_report(t, nr_cpus, slots)).collect();

    let (throughput, utilisation) = cpu_time(m, &classes);
    let replay = config.workload.replay().map(|r| {
        let mut recorded: Vec<u64> =
            r.recorded_waits.iter().filter(|(at, _)| *at <= config.duration_ns).map(|(_, w)| *w).collect();
        let capacity = u64::from(config.nr_cpus) * config.duration_ns;
        let decisions = m.counters.decisions_applied;
        ReplayFidelity {
            recorded_cpu: recorded_cpu_split(r, config.duration_ns, capacity),
            replayed_cpu: CpuSplit::of(
                capacity,
                throughput.workload_cpu_ns,
                utilisation.user_sched_cpu_ns,
                decisions,
                &mut m.free_to_run_ns.clone(),
            ),
            ..ReplayFidelity::of(&mut recorded, &mut all_waits.clone(), r.lost_events)
        }
    });
    let latency = Latency::of(&mut all_waits);
    let kernel_watchdog_exceeded = latency.max_ns.max(acc.longest_unfinished_wait_ns) > KERNEL_WATCHDOG_NS;
    Report {
        policy: m.engine.policy_name().to_owned(),
        workload: config.workload.name().to_owned(),
        nr_cpus: config.nr_cpus,
        smt: config.smt,
        cores_per_llc: config.cores_per_llc,
        hybrid: config.hybrid,
        duration_ns: config.duration_ns,
        seed: config.seed,
        slice_ns: config.slice_ns,
        decision_cost_ns: config.decision_cost_ns,
        wake_cost_ns: config.wake_cost_ns,
        user_step_extras_drawn: (!config.user_step_extras_ns.is_empty()).then(|| {
            let n = config.user_step_extras_ns.len();
            (n, config.user_step_extras_ns.iter().sum::<u64>() / n as u64)
        }),
        stall: config.stall,
        stall_timeout_ns: config.stall_timeout_ns,
        latency,
        throughput,
        classes,
        utilisation,
        fairness: jain(&hogs),
        fairness_tasks: hogs.len() as u64,
        fair_share_index,
        kernel_watchdog_exceeded,
        dispatch: dispatch_counts(&m.counters),
        engine: m.engine.stats().clone(),
        accounting: acc,
        queue_waits: m.queue_waits(),
        tasks,
        events: m.counters.events,
        switches: std::mem::take(&mut m.switch_log),
        replay,
    }
}

/// The recorded machine's [`CpuSplit`] up to `duration_ns`, of `capacity_ns`.
fn recorded_cpu_split(r: &crate::Replay, duration_ns: u64, capacity_ns: u64) -> CpuSplit {
    let used = r.recorded_use(duration_ns);
    let mut free: Vec<u64> = used.free_to_run.iter().map(|&(ns, _)| ns).collect();
    CpuSplit::of(capacity_ns, used.task_ns, used.user_ns, used.decisions, &mut free)
}

/// The classes with tasks, in [`TaskClass::ALL`] order (each class's
/// `waits` sorted for its percentiles), and every wait of every class.
fn class_reports(tasks: &[SimTask], waits: &mut [Vec<u64>]) -> (Vec<ClassReport>, Vec<u64>) {
    let mut classes = Vec::new();
    let mut all_waits = Vec::new();
    for (i, class) in TaskClass::ALL.iter().enumerate() {
        let members = tasks.iter().filter(|t| t.class == *class);
        let (count, cpu_ns, work_units) =
            members.fold((0, 0, 0), |(n, c, w), t| (n + 1, c + t.cpu_ns, w + t.work_units));
        all_waits.extend_from_slice(&waits[i]);
        if count > 0 {
            classes.push(ClassReport {
                class: *class,
                tasks: count,
                cpu_ns,
                work_units,
                latency: Latency::of(&mut waits[i]),
                wait_cdf: cdf(&waits[i]),
            });
        }
    }
    (classes, all_waits)
}

/// CPU time over weight of each hog allowed on every CPU: what the
/// fairness index is over.
fn hog_shares(m: &Machine) -> Vec<f64> {
    let nr_cpus = m.cpus.len() as u32;
    m.tasks.iter().filter(|t| in_fairness(t, nr_cpus)).map(|t| t.cpu_ns as f64 / t.weight as f64).collect()
}

/// [`Report::fair_share_index`] of the hogs [`in_fairness`] over a run of
/// `duration_ns`.
fn hog_fair_share_index(m: &Machine, duration_ns: u64) -> Option<f64> {
    let nr_cpus = m.cpus.len() as u32;
    let (cpu, weights): (Vec<f64>, Vec<f64>) = m
        .tasks
        .iter()
        .filter(|t| in_fairness(t, nr_cpus))
        .map(|t| (t.cpu_ns as f64 / duration_ns.max(1) as f64, t.weight as f64))
        .unzip();
    fair_share_index(&cpu, &weights)
}

/// Whether `t` is one of the tasks the fairness index is over: a hog
/// allowed on every one of `nr_cpus` CPUs.
fn in_fairness(t: &SimTask, nr_cpus: u32) -> bool {
    t.role == Role::Hog && t.allowed.count == nr_cpus
}

/// Where every task is at the end, and the affinity check.
fn accounting(m: &Machine) -> Accounting {
    let mut acc = Accounting {
        created: m.tasks.len() as u64,
        longest_unfinished_wait_ns: m.longest_unfinished_wait(),
        affinity_violations: m.counters.affinity_violations,
        ..Default::default()
    };
    for t in &m.tasks {
        match t.state {
            TaskState::Exited => acc.exited += 1,
            TaskState::Sleeping => acc.sleeping += 1,
            TaskState::InUser => acc.in_user += 1,
            TaskState::Queued(_) => acc.queued += 1,
            TaskState::Running(_) => acc.running += 1,
        }
    }
    acc
}

/// The report of one long-lived task, whose slot if any is in `slots`.
fn task_report(t: &SimTask, nr_cpus: u32, slots: &[TaskSharedSlot]) -> TaskReport {
    TaskReport {
        pid: t.pid,
        class: t.class,
        comm: t.queued_task(0, false).comm_str().into_owned(),
        nice: t.nice,
        weight: t.weight,
        cpus_allowed: if t.allowed.count == 1 {
            t.allowed.first.to_string()
        } else {
            format!("{}-{}", t.allowed.first, t.allowed.first + t.allowed.count - 1)
        },
        cpu_ns: t.cpu_ns,
        runs: t.runs,
        work_units: t.work_units,
        cpus_used: t.cpus_used(),
        in_fairness: in_fairness(t, nr_cpus),
        shared: find_slot(slots, t.pid).and_then(|s| s.stats(t.pid)),
    }
}

/// What the workload got done in `classes`, and how busy the CPUs were.
fn cpu_time(m: &Machine, classes: &[ClassReport]) -> (Throughput, Utilisation) {
    let capacity = (m.cpus.len() as u64 * m.end) as f64;
    let workload_cpu_ns: u64 = m.cpus.iter().map(|c| c.task_ns).sum();
    let user_sched_cpu_ns: u64 = m.cpus.iter().map(|c| c.user_ns).sum();
    let throughput = Throughput { workload_cpu_ns, work_units: classes.iter().map(|c| c.work_units).sum() };
    let utilisation = Utilisation {
        cpu: (workload_cpu_ns + user_sched_cpu_ns) as f64 / capacity,
        workload: workload_cpu_ns as f64 / capacity,
        user_sched: user_sched_cpu_ns as f64 / capacity,
        user_sched_cpu_ns,
    };
    (throughput, utilisation)
}

/// The dispatcher's counters, as reported.
fn dispatch_counts(c: &Counters) -> DispatchCounts {
    DispatchCounts {
        queued_to_user: c.queued_to_user,
        decisions: c.decisions_applied,
        kernel_dispatches: c.kernel_dispatches,
        fallback_dispatches: c.fallback_dispatches,
        fallback_episodes: c.fallback_episodes,
        congested: c.congested,
        bounced: c.bounced,
        stale: c.stale,
        vtime_clamped: c.vtime_clamped,
        preemptions: c.preemptions,
        tick_yields: c.tick_yields,
        late_ticks: c.late_ticks,
        preempt_kicks: c.preempt_kicks,
        aged: c.aged,
        fast_placed: c.fast_placed,
        fast_preempts: c.fast_preempts,
        fast_hog_preempts: c.fast_hog_preempts,
        fast_deferred: c.fast_deferred,
        fast_timer_kicks: c.fast_timer_kicks,
        fast_moved: c.fast_moved,
        fast_resumes: c.fast_resumes,
        fast_overruns: c.fast_overruns,
        fast_revoked: c.fast_revoked,
    }
}

/// `ns` as microseconds with three decimals.
fn us(ns: u64) -> String {
    format!("{}.{:03}", ns / 1_000, ns % 1_000)
}

/// `ns` as seconds with three decimals.
fn secs(ns: u64) -> String {
    format!("{}.{:03}", ns / 1_000_000_000, ns / 1_000_000 % 1_000)
}

/// `ns` as milliseconds with three decimals.
fn ms(ns: u64) -> String {
    format!("{}.{:03}", ns / 1_000_000, ns / 1_000 % 1_000)
}

impl Report {
    /// The report as pretty-printed JSON (one byte stream per seed).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// The measurements of `class`, if the workload had such tasks.
    pub fn class(&self, class: TaskClass) -> Option<&ClassReport> {
        self.classes.iter().find(|c| c.class == class)
    }

    /// The longest runnable → running wait seen, finished or not (ns).
    pub fn longest_wait_ns(&self) -> u64 {
        self.latency.max_ns.max(self.accounting.longest_unfinished_wait_ns)
    }

    /// The report as a fixed-width text table.
    pub fn render_table(&self) -> String {
        let mut s = String::new();
        self.write_setup(&mut s);
        self.write_classes(&mut s);
        self.write_replay(&mut s);
        self.write_totals(&mut s);
        self.write_counters(&mut s);
        self.write_outcome(&mut s);
        s
    }

    /// What was simulated: policy, workload, machine, length, seed, slice,
    /// decision cost and stall; then a blank line.
    fn write_setup(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "scx_relay sim: policy {}, workload {}, {} CPUs (smt {}, {} cores/LLC), {} s, seed {}",
            self.policy,
            self.workload,
            self.nr_cpus,
            self.smt,
            self.cores_per_llc,
            secs(self.duration_ns),
            self.seed
        );
        if let Some(h) = self.hybrid {
            let _ = writeln!(
                s,
                "hybrid: CPUs 0-{} big (capacity 1024), the other {} little (capacity {})",
                h.big_cpus - 1,
                self.nr_cpus - h.big_cpus,
                h.little_capacity
            );
        }
        let stall = match self.stall {
            Some(st) => format!("stall at {} ms for {} ms", ms(st.at_ns), ms(st.duration_ns)),
            None => "no stall".to_owned(),
        };
        let user = match self.user_step_extras_drawn {
            Some((n, mean_ns)) => format!(
                "{} ns per decision and a step's extra drawn from {n} recorded runs (mean {mean_ns} ns)",
                self.decision_cost_ns
            ),
            None => format!("{} ns per decision", self.decision_cost_ns),
        };
        let user = match self.wake_cost_ns {
            0 => user,
            ns => format!("{user}, {ns} ns per wakeup to its waker"),
        };
        let _ = writeln!(
            s,
            "slice {} ms, {user}, {}, stall timeout {} ms",
            ms(self.slice_ns),
            stall,
            ms(self.stall_timeout_ns)
        );
        let _ = writeln!(s);
    }

    /// The per-class table and its `all` line; then a blank line.
    fn write_classes(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "{:<12} {:>6} {:>10} {:>10} {:>9} {:>11} {:>11} {:>11} {:>11}",
            "class", "tasks", "cpu s", "work", "waits", "p50 us", "p99 us", "p99.9 us", "max us"
        );
        for c in &self.classes {
            write_class_row(s, c.class.name(), c.tasks, c.cpu_ns, c.work_units, &c.latency);
        }
        let tp = &self.throughput;
        write_class_row(s, "all", self.accounting.created, tp.workload_cpu_ns, tp.work_units, &self.latency);
        let _ = writeln!(s);
    }

    /// A replay's waits against the recording's, and their ratios; then a
    /// blank line (nothing unless the workload is a replay).
    fn write_replay(&self, s: &mut String) {
        let Some(f) = &self.replay else { return };
        let _ = writeln!(
            s,
            "{:<12} {:>9} {:>11} {:>11} {:>11} {:>11}",
            "replay waits", "waits", "p50 us", "p90 us", "p99 us", "max us"
        );
        for (name, q) in [("recorded", &f.recorded), ("replayed", &f.replayed)] {
            let _ = writeln!(
                s,
                "{:<12} {:>9} {:>11} {:>11} {:>11} {:>11}",
                name,
                q.samples,
                us(q.p50_ns),
                us(q.p90_ns),
                us(q.p99_ns),
                us(q.max_ns)
            );
        }
        let x = |r: Option<f64>| r.map_or_else(|| "n/a".to_owned(), |r| format!("{r:.2}x"));
        let r = &f.ratio;
        let _ = writeln!(
            s,
            "{:<12} {:>9} {:>11} {:>11} {:>11} {:>11}",
            "ratio",
            "",
            x(r.p50),
            x(r.p90),
            x(r.p99),
            x(r.max)
        );
        let _ = writeln!(
            s,
            "{:<12} {:>9} {:>11} {:>11} {:>11} {:>11}",
            "replay cpu", "tasks", "user sched", "us/decision", "free->run", "p50/p99 us"
        );
        for (name, c) in [("recorded", &f.recorded_cpu), ("replayed", &f.replayed_cpu)] {
            let pct = |x: f64| format!("{:.1}%", 100.0 * x);
            let per = c.user_ns_per_decision.map_or_else(|| "n/a".to_owned(), |ns| format!("{:.1}", ns as f64 / 1e3));
            let w = &c.free_to_run_waits;
            let free = if w.samples == 0 {
                "-".to_owned()
            } else {
                format!("{:.0}/{:.0}", w.p50_ns as f64 / 1e3, w.p99_ns as f64 / 1e3)
            };
            let _ = writeln!(
                s,
                "{:<12} {:>9} {:>11} {:>11} {:>11} {:>11}",
                name,
                pct(c.tasks),
                pct(c.user_scheduler),
                per,
                pct(c.free_to_run),
                free
            );
        }
        match f.lost_events {
            Some(0) => {}
            Some(n) => {
                let _ = writeln!(s, "{:<12} the recorder lost {n} events: their tasks replay what remains", "");
            }
            None => {
                let _ = writeln!(s, "{:<12} the recording was cut short: events lost, if any, are not known", "");
            }
        }
        let _ = writeln!(s);
    }

    /// Utilisation, throughput and fairness.
    fn write_totals(&self, s: &mut String) {
        let u = &self.utilisation;
        let pct = |x: f64| format!("{:.1} %", x * 100.0);
        let _ = writeln!(
            s,
            "{:<14} {} (workload {}, user scheduler {})",
            "utilisation",
            pct(u.cpu),
            pct(u.workload),
            pct(u.user_sched)
        );
        let tp = &self.throughput;
        let _ = writeln!(
            s,
            "{:<14} {} s CPU to workload tasks, {} work units",
            "throughput",
            secs(tp.workload_cpu_ns),
            tp.work_units
        );
        let fairness = match self.fairness {
            Some(f) => format!("{f:.4} (Jain's index of CPU share / weight over {} hogs)", self.fairness_tasks),
            None => "n/a (no hog allowed on every CPU)".to_owned(),
        };
        let _ = writeln!(s, "{:<14} {}", "fairness", fairness);
        if let Some(f) = self.fair_share_index {
            let _ = writeln!(s, "{:<14} {f:.4} (Jain's index of CPU share / the fair class's share)", "fair share");
        }
    }

    /// The dispatcher's and the engine's counters.
    fn write_counters(&self, s: &mut String) {
        let d = &self.dispatch;
        let _ = writeln!(
            s,
            "{:<14} {} to user space, {} decisions applied, {} kernel, {} fallback ({} episodes)",
            "dispatches",
            d.queued_to_user,
            d.decisions,
            d.kernel_dispatches,
            d.fallback_dispatches,
            d.fallback_episodes
        );
        let _ = writeln!(
            s,
            "{:<14} {} bounced, {} stale, {} vtime clamped, {} congested, {} preemptions ({} tick yields, {} preempt kicks), {} aged",
            "", d.bounced, d.stale, d.vtime_clamped, d.congested, d.preemptions, d.tick_yields, d.preempt_kicks, d.aged
        );
        if d.late_ticks > 0 {
            let _ = writeln!(s, "{:<14} {} late ticks (the recorded machine's late yields)", "", d.late_ticks);
        }
        let e = &self.engine;
        if d.fast_placed + d.fast_revoked + e.grants + e.regrants + e.grants_withdrawn > 0 {
            let _ = writeln!(
                s,
                "{:<14} {} placed ({} preempting, {} of them a hog, {} preempted tasks resumed; {} deferred, {} timer kicks, {} moved), {} overruns, {} revoked; {} grants, {} regrants, {} withdrawn",
                "fast path",
                d.fast_placed,
                d.fast_preempts,
                d.fast_hog_preempts,
                d.fast_resumes,
                d.fast_deferred,
                d.fast_timer_kicks,
                d.fast_moved,
                d.fast_overruns,
                d.fast_revoked,
                e.grants,
                e.regrants,
                e.grants_withdrawn
            );
        }
        let _ = writeln!(
            s,
            "{:<14} {} steps, {} received, {} decided, {} retried, {} redirected",
            "engine", e.steps, e.received, e.decided, e.retried, e.redirected
        );
    }

    /// The watchdog warning, if a wait exceeded it, and where the tasks are.
    fn write_outcome(&self, s: &mut String) {
        if self.kernel_watchdog_exceeded {
            let _ = writeln!(
                s,
                "{:<14} a task waited {} s, over the kernel's {} s sched_ext watchdog: a real run would be ejected",
                "WARNING",
                secs(self.longest_wait_ns()),
                secs(KERNEL_WATCHDOG_NS)
            );
        }
        let a = &self.accounting;
        let lost = a.created.saturating_sub(a.exited + a.sleeping + a.in_user + a.queued + a.running);
        let _ = writeln!(
            s,
            "{:<14} {} created: {} running, {} queued, {} in user space, {} sleeping, {} exited; {} lost",
            "tasks", a.created, a.running, a.queued, a.in_user, a.sleeping, a.exited, lost
        );
    }
}

/// A line of the per-class table: `name`, its task count, CPU time, work
/// and waits.
fn write_class_row(s: &mut String, name: &str, tasks: u64, cpu_ns: u64, work: u64, l: &Latency) {
    let _ = writeln!(
        s,
        "{:<12} {:>6} {:>10} {:>10} {:>9} {:>11} {:>11} {:>11} {:>11}",
        name,
        tasks,
        secs(cpu_ns),
        work,
        l.samples,
        us(l.p50_ns),
        us(l.p99_ns),
        us(l.p999_ns),
        us(l.max_ns)
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// `check` names what is wrong, with the text it had as a `String`.
    #[test]
    fn accounting_errors() {
        let ok = Accounting { created: 3, exited: 1, sleeping: 2, ..Accounting::default() };
        assert_eq!(ok.check(), Ok(()));
        let lost = Accounting { created: 4, ..ok };
        assert_eq!(lost.check(), Err(AccountingError::Unplaced { created: 4, placed: 3 }));
        assert_eq!(lost.check().unwrap_err().to_string(), "4 tasks created, 3 accounted for");
        let stray = Accounting { affinity_violations: 2, ..ok };
        assert_eq!(stray.check().unwrap_err().to_string(), "2 runs outside a task's affinity");
    }

    /// Nearest-rank percentiles over 1..=1000.
    #[test]
    fn exact_percentiles() {
        let mut v: Vec<u64> = (1..=1000).rev().collect();
        let l = Latency::of(&mut v);
        assert_eq!((l.samples, l.p50_ns, l.p99_ns, l.p999_ns, l.max_ns), (1000, 500, 990, 999, 1000));
        // The mean of 1..=1000, 500.5, rounded down.
        assert_eq!(l.mean_ns, 500);
        assert_eq!(Latency::of(&mut []), Latency::default());
        let l = Latency::of(&mut [7]);
        assert_eq!((l.p50_ns, l.p999_ns, l.mean_ns), (7, 7, 7));
        // No overflow where the sum passes u64.
        assert_eq!(Latency::of(&mut [u64::MAX, u64::MAX]).mean_ns, u64::MAX);
    }

    /// The distribution's points are the same nearest ranks as the
    /// percentiles: over 1..=1000 the wait at r per mille is r (at least 1),
    /// it ends at the longest wait, and no waits give no points.
    #[test]
    fn wait_distribution_points() {
        let mut v: Vec<u64> = (1..=1000).rev().collect();
        let l = Latency::of(&mut v);
        let points = cdf(&v);
        assert_eq!(points.len(), CDF_PER_MILLE.len());
        for p in &points {
            assert_eq!(p.wait_ns, u64::from(p.per_mille).max(1));
        }
        assert_eq!(points.last().map(|p| p.wait_ns), Some(l.max_ns));
        assert_eq!(points.iter().find(|p| p.per_mille == 990).map(|p| p.wait_ns), Some(l.p99_ns));
        assert!(cdf(&[]).is_empty());
        assert!(CDF_PER_MILLE.windows(2).all(|w| w[0] < w[1]));
    }

    /// A report with made-up numbers of every width: a stall, two classes,
    /// a fairness index and a wait over the kernel's watchdog.
    fn fixed_report() -> Report {
        let lat = |base: u64| Latency {
            samples: base,
            p50_ns: base * 1_001,
            p99_ns: base * 20_017,
            p999_ns: base * 300_123,
            max_ns: base * 4_000_567,
            mean_ns: base * 12_345,
        };
        Report {
            user_step_extras_drawn: None,
            policy: "deadline".into(),
            workload: "mixed".into(),
            nr_cpus: 8,
            smt: 2,
            cores_per_llc: 4,
            hybrid: None,
            duration_ns: 10_000_000_000,
            seed: 42,
            slice_ns: 5_000_000,
            decision_cost_ns: 1_000,
            wake_cost_ns: 0,
            stall: Some(Stall { at_ns: 200_000_000, duration_ns: 6_000_500_000 }),
            stall_timeout_ns: 100_000_000,
            latency: lat(1_600),
            classes: vec![
                ClassReport {
                    class: TaskClass::Hog,
                    tasks: 4,
                    cpu_ns: 39_123_456_789,
                    work_units: 0,
                    latency: lat(1_500),
                    wait_cdf: Vec::new(),
                },
                ClassReport {
                    class: TaskClass::Pipe,
                    tasks: 4,
                    cpu_ns: 987_654_321,
                    work_units: 16_922,
                    latency: lat(100),
                    wait_cdf: Vec::new(),
                },
            ],
            throughput: Throughput { workload_cpu_ns: 40_111_111_110, work_units: 16_922 },
            utilisation: Utilisation {
                cpu: 0.99512,
                workload: 0.98876,
                user_sched: 0.00636,
                user_sched_cpu_ns: 508_800_000,
            },
            fairness: Some(0.904_712),
            fairness_tasks: 8,
            fair_share_index: Some(0.981_34),
            kernel_watchdog_exceeded: true,
            dispatch: DispatchCounts {
                queued_to_user: 41_958,
                decisions: 41_857,
                kernel_dispatches: 76,
                fallback_dispatches: 1_102,
                fallback_episodes: 1,
                congested: 3,
                bounced: 2,
                stale: 96,
                vtime_clamped: 4,
                preemptions: 2_745,
                tick_yields: 1_879,
                preempt_kicks: 837,
                aged: 5,
                ..DispatchCounts::default()
            },
            engine: EngineStats {
                steps: 36_476,
                received: 41_955,
                decided: 41_954,
                retried: 1,
                redirected: 5,
                ..Default::default()
            },
            accounting: Accounting {
                created: 9,
                exited: 1,
                sleeping: 2,
                in_user: 1,
                queued: 2,
                running: 2,
                longest_unfinished_wait_ns: 6_100_000_000,
                affinity_violations: 0,
            },
            queue_waits: QueueWaits { shared_ns: 6_100_000_000, own_ns: 2_000_000, pinned_ns: 3_000_000 },
            tasks: Vec::new(),
            events: 1_000_000,
            switches: Vec::new(),
            replay: None,
        }
    }

    /// The table of [`fixed_report`], byte for byte: with a stall, a
    /// fairness index and the watchdog warning, and without them (three
    /// lines change).
    #[test]
    fn table_is_pinned() {
        assert_eq!(fixed_report().render_table(), PINNED_TABLE);
        let calm = Report {
            stall: None,
            fairness: None,
            fair_share_index: None,
            kernel_watchdog_exceeded: false,
            ..fixed_report()
        };
        let calm_table = PINNED_TABLE
            .replace("stall at 200.000 ms for 6000.500 ms", "no stall")
            .replace(
                "0.9047 (Jain's index of CPU share / weight over 8 hogs)\nfair share     0.9813 (Jain's index of CPU share / the fair class's share)",
                "n/a (no hog allowed on every CPU)",
            )
            .replace(
                "WARNING        a task waited 6.400 s, over the kernel's 5.000 s sched_ext watchdog: a real run would be ejected\n",
                "",
            );
        assert_eq!(calm.render_table(), calm_table);
    }

    /// `render_table` of [`fixed_report`].
    const PINNED_TABLE: &str = r"scx_relay sim: policy deadline, workload mixed, 8 CPUs (smt 2, 4 cores/LLC), 10.000 s, seed 42
slice 5.000 ms, 1000 ns per decision, stall at 200.000 ms for 6000.500 ms, stall timeout 100.000 ms

class         tasks      cpu s       work     waits      p50 us      p99 us    p99.9 us      max us
hog               4     39.123          0      1500    1501.500   30025.500  450184.500 6000850.500
pipe              4      0.987      16922       100     100.100    2001.700   30012.300  400056.700
all               9     40.111      16922      1600    1601.600   32027.200  480196.800 6400907.200

utilisation    99.5 % (workload 98.9 %, user scheduler 0.6 %)
throughput     40.111 s CPU to workload tasks, 16922 work units
fairness       0.9047 (Jain's index of CPU share / weight over 8 hogs)
fair share     0.9813 (Jain's index of CPU share / the fair class's share)
dispatches     41958 to user space, 41857 decisions applied, 76 kernel, 1102 fallback (1 episodes)
               2 bounced, 96 stale, 4 vtime clamped, 3 congested, 2745 preemptions (1879 tick yields, 837 preempt kicks), 5 aged
engine         36476 steps, 41955 received, 41954 decided, 1 retried, 5 redirected
WARNING        a task waited 6.400 s, over the kernel's 5.000 s sched_ext watchdog: a real run would be ejected
tasks          9 created: 2 running, 2 queued, 1 in user space, 2 sleeping, 1 exited; 1 lost
";

    /// Durations print with fixed decimals.
    #[test]
    fn duration_formats() {
        assert_eq!(us(1_234_567), "1234.567");
        assert_eq!(secs(10_000_000_000), "10.000");
        assert_eq!(ms(2_500_000), "2.500");
    }
}
