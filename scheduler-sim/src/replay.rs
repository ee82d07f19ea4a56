//! Replaying a recording (`scx_relay record`'s file, read by
//! [`scheduler_core::record::read`]) in the simulator.
//!
//! Two parts:
//! - [`Pairer`] and [`Paired`]: the recording's `running` and `stopping`
//!   paired per CPU into runs, and each task's becoming runnable paired with
//!   its next run into a wait. The one home of that pairing: `scx_relay
//!   record-summary` and the replay both use it.
//! - [`Replay::from_recording`]: a script per task (CPU bursts, sleeps,
//!   wakeups of other tasks), which [`Workload::Replay`](crate::Workload)
//!   runs on the simulated machine.
//!
//! How a script is derived: every task but the user scheduler (the pids
//! whose `running` has flags 1) gets one. It appears at its first event
//! (from the recording's start), unless that event is its creation (a
//! `runnable` without `SCX_ENQ_WAKEUP`, its first) on the CPU of a running
//! task: that task forked it, and the child exists blocked from its
//! parent's start until the parent's script reaches the fork (a
//! [`Step::Wake`] as below). A burst is the CPU time its runs add up to
//! from becoming runnable until it leaves the runqueue (`quiescent`; the
//! run under way then included); a sleep lasts from there to its next
//! `runnable`. When a wakeup (`runnable` with `SCX_ENQ_WAKEUP`) of task B
//! happens on a CPU that runs task A (not B, not the user scheduler), A
//! woke B: A's burst is split there with a [`Step::Wake`] of B, at the CPU
//! time A had run in that burst, and B's sleep becomes a [`Step::Block`]
//! until that wake. Any other wakeup (one that ran in interrupt context,
//! [`RUNNABLE_IN_INTERRUPT`](scheduler_core::record::RUNNABLE_IN_INTERRUPT):
//! a timer's, say, whatever task the interrupt came in on; nothing ran
//! there; or the user scheduler ran) is a timed [`Step::Sleep`] of the
//! recorded length. Recordings older than format version 3 do not mark
//! interrupt context, so a timer's wakeup of B on a CPU running A reads
//! there as A waking B. Weight: the latest `runnable`'s; affinity: pinned to
//! the CPU it last ran on when the latest `runnable` allowed one CPU, else
//! every CPU. A task whose recording ends mid-burst runs what was recorded
//! of that burst and stops.

use std::collections::{HashMap, HashSet};

use scheduler_core::{
    record::{Event, Kind, Recording},
    wire::MAX_CPUS,
};
use thiserror::Error;

use crate::{
    trace::{Runner, Slice, Trace, TraceTask},
    StartDelays,
};

/// One run of a task on a CPU, from its `running` to its `stopping`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// The CPU.
    pub cpu: u32,
    /// The task.
    pub pid: i32,
    /// Start (ns of the recording's clock).
    pub start_ns: u64,
    /// End (ns of the recording's clock), >= `start_ns`.
    pub end_ns: u64,
    /// The user scheduler's run.
    pub usersched: bool,
}

/// What runs on a CPU, as [`Pairer`] last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnCpu {
    /// The task.
    pub pid: i32,
    /// Since (ns of the recording's clock).
    pub since_ns: u64,
    /// It is the user scheduler.
    pub usersched: bool,
}

/// A wakeup's wait (a `runnable` with `SCX_ENQ_WAKEUP` until the task's
/// next `running`), split where a user decision for it was applied: the
/// two steps of a wakeup that went through user space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WakeupWait {
    /// The task that woke.
    pub pid: i32,
    /// From the wakeup to the run (ns).
    pub total_ns: u64,
    /// From the wakeup to the first `decision` applied for the task (ns):
    /// the hand-off, the user scheduler getting a CPU and deciding, and a
    /// CPU's `ops.dispatch()` draining the decision. `None`: no decision
    /// came, the kernel placed the task (an idle CPU's fast path, a kernel
    /// thread, the safety nets); the rest of the wait is the queue's.
    pub decided_ns: Option<u64>,
}

/// What one event completed ([`Pairer::step`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Paired {
    /// A run that ended (a `stopping` matching its CPU's `running`).
    pub run: Option<Run>,
    /// A wait that ended (a `running` of a task runnable since): its length (ns).
    pub wait_ns: Option<u64>,
    /// The same wait, when a wakeup began it, split at its decision.
    pub wakeup: Option<WakeupWait>,
    /// A run that never stopped: a `running` came on a CPU whose last run
    /// had not stopped, or a `stopping` of another task ended it.
    pub unmatched_running: bool,
    /// A `stopping` of a task that was not running there (a run under way
    /// when recording started).
    pub unmatched_stopping: bool,
    /// A `running` of a task (not the user scheduler) on a CPU whose last
    /// run had stopped: how long the CPU was free while that task was ready
    /// (ns), from the latest of the CPU's last `stopping`, the task's
    /// becoming runnable and the last decision applied for it. The cost of
    /// getting a ready task onto a free CPU (a context switch, the
    /// dispatch path, an idle CPU's wake-up), which the simulator's model
    /// does not have.
    pub free_to_run_ns: Option<u64>,
    /// With [`Paired::free_to_run_ns`]: what kind of start it was.
    pub free_cpu: FreeCpu,
}

/// What a free → run time ([`Paired::free_to_run_ns`]) followed: the kinds
/// of start the simulator's start delays model ([`crate::StartDelays`]),
/// and the others.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FreeCpu {
    /// The next task became ready (its `runnable`, or its last decision)
    /// only after the CPU's last run stopped: an idle CPU woken up for it.
    /// (After a run of the user scheduler, a decision that a later
    /// dispatch applied looks the same, though the CPU may not have idled.)
    IdleWake,
    /// The CPU's task left it with the next one ready: a switch.
    Switch,
    /// After a preemption (a `stopping` of a runnable task) or a run of the
    /// user scheduler, the next task ready by then.
    AfterPreemptionOrUser,
    /// After a `stopping` with no recorded start (a run under way when
    /// recording began, or lost events).
    #[default]
    Unknown,
}

/// Pairs a recording's events, fed in file order: each CPU's `running`
/// with its `stopping` into a [`Run`], each task's becoming runnable (a
/// wakeup, or put back while runnable) with its next run into a wait.
#[derive(Debug, Default)]
pub struct Pairer {
    on_cpu: HashMap<i32, OnCpu>,
    runnable_since: HashMap<i32, Waiting>,
    /// Each CPU's last `stopping`, while nothing runs there: when, and
    /// what stopped: a task that left the CPU (`Some(true)`), a preempted
    /// task or the user scheduler (`Some(false)`), a run with no recorded
    /// start (`None`).
    free_since: HashMap<i32, (u64, Option<bool>)>,
}

/// A task runnable and not yet run, as [`Pairer`] tracks it.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    /// Since (ns of the recording's clock).
    since_ns: u64,
    /// A wakeup began the wait.
    wakeup: bool,
    /// When the first decision for it was applied.
    decided_ns: Option<u64>,
    /// When the last decision for it was applied.
    last_decided_ns: Option<u64>,
}

impl Waiting {
    fn since(since_ns: u64, wakeup: bool) -> Self {
        Waiting { since_ns, wakeup, decided_ns: None, last_decided_ns: None }
    }
}

impl Pairer {
    /// What runs on `cpu` now (before the next event is fed).
    pub fn on(&self, cpu: i32) -> Option<OnCpu> {
        self.on_cpu.get(&cpu).copied()
    }

    /// A new scheduler session starts: nothing pairs across it. Returns
    /// the runs under way, dropped (they never stop).
    pub fn new_session(&mut self) -> u64 {
        self.runnable_since.clear();
        self.free_since.clear();
        let under_way = self.on_cpu.len() as u64;
        self.on_cpu.clear();
        under_way
    }

    /// The runs under way (at the end: they never stop).
    pub fn under_way(&self) -> u64 {
        self.on_cpu.len() as u64
    }

    /// What runs on each CPU now, in CPU order.
    pub fn running(&self) -> Vec<OnCpu> {
        let mut on: Vec<_> = self.on_cpu.iter().map(|(&cpu, &on)| (cpu, on)).collect();
        on.sort_unstable_by_key(|&(cpu, _)| cpu);
        on.into_iter().map(|(_, on)| on).collect()
    }

    /// Feeds one event; returns what it completed.
    pub fn step(&mut self, e: &Event) -> Paired {
        let mut out = Paired::default();
        match e.kind {
            Kind::Runnable => {
                let wakeup = e.is_wakeup();
                self.runnable_since.entry(e.pid).or_insert(Waiting::since(e.ts_ns, wakeup));
            }
            Kind::Running => {
                let on = OnCpu { pid: e.pid, since_ns: e.ts_ns, usersched: e.flags & 1 != 0 };
                out.unmatched_running = self.on_cpu.insert(e.cpu, on).is_some();
                let free = self.free_since.remove(&e.cpu);
                if let Some(w) = self.runnable_since.remove(&e.pid) {
                    if let (Some((free, task_left)), false) = (free, on.usersched) {
                        let task_ready = w.since_ns.max(w.last_decided_ns.unwrap_or(0));
                        out.free_to_run_ns = Some(e.ts_ns.saturating_sub(free.max(task_ready)));
                        out.free_cpu = match (task_left, task_ready > free) {
                            (Some(_), true) => FreeCpu::IdleWake,
                            (Some(true), false) => FreeCpu::Switch,
                            (Some(false), false) => FreeCpu::AfterPreemptionOrUser,
                            (None, _) => FreeCpu::Unknown,
                        };
                    }
                    let total_ns = e.ts_ns.saturating_sub(w.since_ns);
                    out.wait_ns = Some(total_ns);
                    out.wakeup = w.wakeup.then(|| WakeupWait {
                        pid: e.pid,
                        total_ns,
                        decided_ns: w.decided_ns.map(|d| d.saturating_sub(w.since_ns).min(total_ns)),
                    });
                }
            }
            Kind::Stopping => {
                let task_left =
                    self.on_cpu.get(&e.cpu).filter(|on| on.pid == e.pid).map(|on| !on.usersched && e.flags & 1 == 0);
                self.free_since.insert(e.cpu, (e.ts_ns, task_left));
                match self.on_cpu.remove(&e.cpu) {
                    Some(on) if on.pid == e.pid => {
                        out.run = Some(Run {
                            cpu: u32::try_from(e.cpu).unwrap_or(0),
                            pid: on.pid,
                            start_ns: on.since_ns,
                            end_ns: e.ts_ns.max(on.since_ns),
                            usersched: on.usersched,
                        });
                    }
                    Some(_) => {
                        // Another task's run there never stopped, and this stop had no start.
                        out.unmatched_running = true;
                        out.unmatched_stopping = true;
                    }
                    None => out.unmatched_stopping = true,
                }
                if e.flags & 1 != 0 {
                    self.runnable_since.insert(e.pid, Waiting::since(e.ts_ns, false));
                }
            }
            Kind::Quiescent => {
                self.runnable_since.remove(&e.pid);
            }
            Kind::Decision => {
                if let Some(w) = self.runnable_since.get_mut(&e.pid) {
                    w.decided_ns.get_or_insert(e.ts_ns);
                    w.last_decided_ns = Some(e.ts_ns);
                }
            }
            // What the fast path did: no run, no wait.
            Kind::FastMiss | Kind::Revoke => {}
        }
        out
    }
}

/// The runs and waits a recording's events add up to.
#[derive(Debug, Default)]
pub struct Runs {
    /// Runs, in the order they ended.
    pub runs: Vec<Run>,
    /// Waits: a task runnable (a wakeup, or put back while runnable) until
    /// it next ran (ns).
    pub waits_ns: Vec<u64>,
    /// The waits a wakeup began, split at their decision.
    pub wakeups: Vec<WakeupWait>,
    /// `running` with no `stopping` after it on its CPU (another `running`
    /// came first, or the session ended: a run under way when recording
    /// stopped).
    pub unmatched_running: u64,
    /// `stopping` of a task that was not running there (a run under way
    /// when recording started).
    pub unmatched_stopping: u64,
    /// Times a CPU was free while the task it ran next was ready
    /// ([`Paired::free_to_run_ns`]), ns.
    pub free_to_run_ns: Vec<u64>,
}

impl Runs {
    /// Pairs every event of `rec` ([`Pairer`]) within each session
    /// (nothing pairs across a restart).
    pub fn of(rec: &Recording) -> Self {
        let mut out = Runs::default();
        let mut pairer = Pairer::default();
        let mut starts = session_starts(rec);
        for (i, e) in rec.events.iter().enumerate() {
            if starts(i) {
                out.unmatched_running += pairer.new_session();
            }
            let p = pairer.step(e);
            out.runs.extend(p.run);
            out.waits_ns.extend(p.wait_ns);
            out.wakeups.extend(p.wakeup);
            out.free_to_run_ns.extend(p.free_to_run_ns);
            out.unmatched_running += u64::from(p.unmatched_running);
            out.unmatched_stopping += u64::from(p.unmatched_stopping);
        }
        out.unmatched_running += pairer.under_way();
        out
    }

    /// The runs as a timeline (times from the recording's start).
    pub fn trace(&self, rec: &Recording, title: &str) -> Trace {
        let mut index: HashMap<i32, u32> = HashMap::new();
        let mut tasks: Vec<TraceTask> = Vec::new();
        let names = last_names(rec);
        let mut slices = Vec::with_capacity(self.runs.len());
        for run in &self.runs {
            let runner = if run.usersched {
                Runner::UserScheduler
            } else {
                let i = *index.entry(run.pid).or_insert_with(|| {
                    tasks.push(TraceTask {
                        name: names.get(&run.pid).cloned().unwrap_or_else(|| format!("pid {}", run.pid)),
                        pid: run.pid,
                        class: None,
                    });
                    (tasks.len() - 1) as u32
                });
                Runner::Task(i)
            };
            if run.end_ns > run.start_ns {
                slices.push(Slice {
                    cpu: run.cpu,
                    start_ns: run.start_ns.saturating_sub(rec.start_ns),
                    end_ns: run.end_ns.saturating_sub(rec.start_ns),
                    runner,
                });
            }
        }
        Trace { title: title.to_owned(), nr_cpus: rec.nr_cpus, tasks, slices }
    }
}

/// Called with each event's index in order: whether a new session starts
/// at that event (the first session's start included).
pub fn session_starts(rec: &Recording) -> impl FnMut(usize) -> bool + '_ {
    let mut sessions = rec.sessions.iter().map(|s| s.from_event).peekable();
    move |i| {
        let mut starts = false;
        while sessions.next_if(|&from| from <= i).is_some() {
            starts = true;
        }
        starts
    }
}

/// Each pid's last name in the recording.
pub fn last_names(rec: &Recording) -> HashMap<i32, String> {
    rec.names.iter().map(|n| (n.pid, n.comm.clone())).collect()
}

/// The end of a recording: its totals' end, or its last event if cut short.
pub fn end_ns(rec: &Recording) -> u64 {
    rec.end.map_or_else(|| rec.events.iter().map(|e| e.ts_ns).max().unwrap_or(rec.start_ns), |e| e.end_ns)
}

/// One step of a replayed task's script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Run this much CPU time (ns); `cpu`: where it (last) ran in the recording.
    Run {
        /// CPU time (ns), > 0.
        ns: u64,
        /// The recorded CPU.
        cpu: u32,
    },
    /// Wake the task of this index in [`Replay::scripts`] (it is blocked,
    /// or will find the wakeup when it blocks).
    Wake(u32),
    /// Block until woken by another task's [`Step::Wake`].
    Block,
    /// Sleep this long (ns).
    Sleep(u64),
}

/// One task's script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The recorded pid.
    pub pid: i32,
    /// Its (last) command name.
    pub comm: String,
    /// When it appears (ns from the recording's start).
    pub start_ns: u64,
    /// Its load weight (the latest `runnable`'s; 1024 = nice 0).
    pub weight: u64,
    /// The one CPU it may use; `None`: every CPU.
    pub pinned: Option<u32>,
    /// What it does, in order; after the last step it exits.
    pub steps: Vec<Step>,
}

/// A recording made into scripts: what [`Workload::Replay`](crate::Workload) runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    /// CPUs of the recorded machine.
    pub nr_cpus: u32,
    /// The recording's length (ns).
    pub duration_ns: u64,
    /// One per task, in order of first appearance.
    pub scripts: Vec<Script>,
    /// The recorded waits of the scripts' tasks (the user scheduler's left
    /// out, as the simulator's waits leave it out): (when the wait ended, ns
    /// from the start; its length, ns), in file order.
    pub recorded_waits: Vec<(u64, u64)>,
    /// Where the recorded machine's CPU time went: (when, ns from the
    /// start: a run's start, else the event's time; what), for the report
    /// to set against the model's ([`RecordedCpu`]). The runs under way at
    /// the end are in it, up to the end.
    pub recorded_cpu: Vec<(u64, RecordedCpu)>,
    /// Events the recorder lost (its buffer was full; their tasks replay
    /// what remains); `None` when the file was cut short (not known).
    pub lost_events: Option<u64>,
}

/// One use of the recorded machine's CPUs ([`Replay::recorded_cpu`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordedCpu {
    /// A run of a task: its length (ns).
    Task(u64),
    /// A run of the user scheduler: its length (ns).
    UserScheduler(u64),
    /// A task started on a CPU that had been free while it was ready:
    /// how long ([`Paired::free_to_run_ns`], ns), and after what.
    FreeToRun {
        /// How long (ns).
        ns: u64,
        /// After what ([`Paired::free_cpu`]).
        after: FreeCpu,
    },
    /// A decision was applied.
    Decision,
}

impl RecordedCpu {
    /// A run from `at` of `ns`, the user scheduler's or a task's.
    fn run(at: u64, ns: u64, usersched: bool) -> (u64, RecordedCpu) {
        (at, if usersched { RecordedCpu::UserScheduler(ns) } else { RecordedCpu::Task(ns) })
    }
}

/// Why a recording cannot be replayed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReplayError {
    /// The recording's CPU count is 0 or more than the simulator supports.
    #[error("the recording has {0} CPUs; the simulator runs 1 to {MAX_CPUS}")]
    Cpus(u32),
    /// An event names a CPU the recorded machine does not have.
    #[error("event {index} is on CPU {cpu}, but the recording has {nr_cpus} CPUs")]
    Cpu {
        /// The event's index in the file.
        index: usize,
        /// Its CPU.
        cpu: i32,
        /// The recording's CPUs.
        nr_cpus: u32,
    },
    /// No time passes in it.
    #[error("the recording covers no time (no event after its start)")]
    Empty,
}

/// Where a task is in its recorded life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Runnable (or running): a burst is under way.
    Burst,
    /// It left the runqueue at this time while running: the burst ends
    /// with that run.
    Closing(u64),
    /// Not runnable since this time.
    Gap(u64),
}

/// A script being built.
#[derive(Debug)]
struct Building {
    script: Script,
    phase: Phase,
    /// CPU time of the current burst's finished runs (ns).
    burst_ns: u64,
    /// Of which already in steps (up to a wake).
    emitted_ns: u64,
    /// The CPU it runs on now.
    running_on: Option<i32>,
    /// The CPU it last ran on.
    last_cpu: u32,
    /// The latest `runnable` allowed one CPU.
    one_cpu: bool,
}

impl Building {
    /// CPU time of the current burst at `ts`, the run under way included.
    fn progress(&self, ts: u64, pairer: &Pairer) -> u64 {
        let running = self.running_on.and_then(|c| pairer.on(c)).map_or(0, |on| ts.saturating_sub(on.since_ns));
        self.burst_ns.saturating_add(running)
    }

    /// Adds the burst's CPU time up to `upto` not yet in steps.
    fn emit_run(&mut self, upto: u64, cpu: u32) {
        if upto > self.emitted_ns {
            self.script.steps.push(Step::Run { ns: upto - self.emitted_ns, cpu });
            self.emitted_ns = upto;
        }
    }

    /// Ends the burst (its remaining CPU time a run); not runnable from `since`.
    fn close(&mut self, since: u64) {
        self.emit_run(self.burst_ns, self.last_cpu);
        (self.burst_ns, self.emitted_ns) = (0, 0);
        self.phase = Phase::Gap(since);
    }
}

/// What the recorded machine's CPUs did ([`Replay::recorded_use`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordedUse {
    /// Tasks' runs (ns).
    pub task_ns: u64,
    /// The user scheduler's runs (ns).
    pub user_ns: u64,
    /// Each run of the user scheduler, in order: its length (ns), and the
    /// decisions applied after it ended, until the next run ended. Those
    /// it sent, mostly: the simulator publishes a step's decisions when
    /// the step ends; the real user scheduler as it makes them, so a CPU
    /// may apply one while the run that sent it goes on, and it is counted
    /// for the run before (a slice of each run's cost is then spread over
    /// the decisions of the next).
    pub user_runs: Vec<(u64, u64)>,
    /// Decisions applied.
    pub decisions: u64,
    /// Each free → run time (ns) and what it followed.
    pub free_to_run: Vec<(u64, FreeCpu)>,
}

/// The costs the recorded machine paid that the model takes from its
/// configuration ([`Replay::recorded_costs`], `sim --recorded-costs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCosts {
    /// The user scheduler's CPU time per decision applied (ns); `None`
    /// without decisions.
    pub user_ns_per_decision: Option<u64>,
    /// The user scheduler's base CPU time per decision (ns): the median,
    /// over its runs that decisions followed ([`RecordedUse::user_runs`]),
    /// of a run's length over their number; `None` without any. For
    /// `SimConfig::decision_cost_ns`.
    pub base_ns_per_decision: Option<u64>,
    /// What each of those runs took beyond its decisions' base cost (ns, 0
    /// for a run within it); for
    /// [`SimConfig::user_step_extras_ns`](crate::SimConfig::user_step_extras_ns).
    pub run_extras_ns: Vec<u64>,
    /// The recorded free → run times of the kinds the model has (all but
    /// [`FreeCpu::Unknown`]).
    pub start_delays: StartDelays,
}

impl Replay {
    /// What the recorded machine's CPUs did in the first `upto_ns` of the
    /// recording ([`RecordedUse`]): runs cut there.
    pub fn recorded_use(&self, upto_ns: u64) -> RecordedUse {
        let mut out = RecordedUse::default();
        for &(at, used) in self.recorded_cpu.iter().filter(|(at, _)| *at <= upto_ns) {
            let within = |ns: u64| ns.min(upto_ns - at);
            match used {
                RecordedCpu::Task(ns) => out.task_ns += within(ns),
                // A run's entry comes when it ends: the decisions after it
                // are its own.
                RecordedCpu::UserScheduler(ns) => {
                    out.user_ns += within(ns);
                    out.user_runs.push((within(ns), 0));
                }
                RecordedCpu::Decision => {
                    out.decisions += 1;
                    if let Some(run) = out.user_runs.last_mut() {
                        run.1 += 1;
                    }
                }
                RecordedCpu::FreeToRun { ns, after } => out.free_to_run.push((ns, after)),
            }
        }
        out
    }

    /// The costs recorded in the first `upto_ns` of the recording (see
    /// [`RecordedCosts`]).
    pub fn recorded_costs(&self, upto_ns: u64) -> RecordedCosts {
        let used = self.recorded_use(upto_ns);
        let mut delays = StartDelays::default();
        for (ns, after) in used.free_to_run {
            match after {
                FreeCpu::IdleWake => delays.idle_wake_ns.push(ns),
                FreeCpu::Switch => delays.switch_ns.push(ns),
                FreeCpu::AfterPreemptionOrUser => delays.after_preemption_or_user_ns.push(ns),
                FreeCpu::Unknown => {}
            }
        }
        let user_ns_per_decision = (used.decisions > 0).then(|| used.user_ns / used.decisions);
        let runs: Vec<(u64, u64)> = used.user_runs.into_iter().filter(|r| r.1 > 0).collect();
        let mut per_decision: Vec<u64> = runs.iter().map(|&(ns, n)| ns / n).collect();
        per_decision.sort_unstable();
        let base_ns_per_decision = per_decision.get(per_decision.len() / 2).copied();
        let base = base_ns_per_decision.unwrap_or(0);
        let run_extras_ns = runs.iter().map(|&(ns, n)| ns.saturating_sub(base.saturating_mul(n))).collect();
        RecordedCosts { user_ns_per_decision, base_ns_per_decision, run_extras_ns, start_delays: delays }
    }

    /// The scripts of `rec`'s tasks (see the module's documentation).
    pub fn from_recording(rec: &Recording) -> Result<Replay, ReplayError> {
        if rec.nr_cpus == 0 || rec.nr_cpus > MAX_CPUS {
            return Err(ReplayError::Cpus(rec.nr_cpus));
        }
        for (index, e) in rec.events.iter().enumerate() {
            if u32::try_from(e.cpu).map_or(true, |c| c >= rec.nr_cpus) {
                return Err(ReplayError::Cpu { index, cpu: e.cpu, nr_cpus: rec.nr_cpus });
            }
        }
        let start = rec.start_ns;
        let end = end_ns(rec);
        let duration_ns = end.saturating_sub(start);
        if duration_ns == 0 {
            return Err(ReplayError::Empty);
        }
        let usersched: HashSet<i32> =
            rec.events.iter().filter(|e| e.kind == Kind::Running && e.flags & 1 != 0).map(|e| e.pid).collect();
        let names = last_names(rec);
        let mut pairer = Pairer::default();
        let mut index: HashMap<i32, usize> = HashMap::new();
        let mut tasks: Vec<Building> = Vec::new();
        let mut recorded_waits = Vec::new();
        let mut recorded_cpu = Vec::new();
        let mut starts = session_starts(rec);
        for (n, e) in rec.events.iter().enumerate() {
            if starts(n) {
                // A restart: what ran or waited does not carry over. Bursts
                // under way end here; each task goes on from its next event.
                pairer.new_session();
                for t in &mut tasks {
                    t.running_on = None;
                    if !matches!(t.phase, Phase::Gap(_)) {
                        t.close(e.ts_ns);
                    }
                }
            }
            // Who runs on the event's CPU as it happens (a `runnable` changes nothing there).
            let waker = pairer.on(e.cpu);
            let paired = pairer.step(e);
            let at = e.ts_ns.saturating_sub(start);
            if let Some(run) = paired.run {
                let since = run.start_ns.saturating_sub(start);
                recorded_cpu.push(RecordedCpu::run(since, run.end_ns - run.start_ns, run.usersched));
            }
            recorded_cpu
                .extend(paired.free_to_run_ns.map(|ns| (at, RecordedCpu::FreeToRun { ns, after: paired.free_cpu })));
            if e.kind == Kind::Decision {
                recorded_cpu.push((at, RecordedCpu::Decision));
            }
            if matches!(e.kind, Kind::Decision | Kind::FastMiss | Kind::Revoke) || usersched.contains(&e.pid) {
                continue;
            }
            if let Some(wait) = paired.wait_ns {
                recorded_waits.push((at, wait));
            }
            let first = !index.contains_key(&e.pid);
            let i = *index.entry(e.pid).or_insert_with(|| {
                let phase = match e.kind {
                    Kind::Running => Phase::Burst,
                    Kind::Stopping if e.flags & 1 != 0 => Phase::Burst,
                    _ => Phase::Gap(e.ts_ns),
                };
                tasks.push(Building {
                    script: Script {
                        pid: e.pid,
                        comm: names.get(&e.pid).cloned().unwrap_or_default(),
                        start_ns: e.ts_ns.saturating_sub(start),
                        weight: 1024,
                        pinned: None,
                        steps: Vec::new(),
                    },
                    phase,
                    burst_ns: 0,
                    emitted_ns: 0,
                    running_on: None,
                    last_cpu: u32::try_from(e.cpu).unwrap_or(0),
                    one_cpu: false,
                });
                tasks.len() - 1
            });
            match e.kind {
                Kind::Running => {
                    let t = &mut tasks[i];
                    // Runnable unseen (a restart, lost events): a burst starts.
                    if let Phase::Gap(since) = t.phase {
                        t.script.steps.push(Step::Sleep(e.ts_ns.saturating_sub(since)));
                        t.phase = Phase::Burst;
                    }
                    t.running_on = Some(e.cpu);
                }
                Kind::Stopping => {
                    let t = &mut tasks[i];
                    t.running_on = None;
                    if let Some(run) = paired.run {
                        t.burst_ns = t.burst_ns.saturating_add(run.end_ns - run.start_ns);
                        t.last_cpu = run.cpu;
                    }
                    if let Phase::Closing(since) = t.phase {
                        t.close(since);
                    }
                }
                Kind::Quiescent => {
                    let t = &mut tasks[i];
                    if t.phase == Phase::Burst {
                        if t.running_on.is_some() {
                            t.phase = Phase::Closing(e.ts_ns);
                        } else {
                            t.close(e.ts_ns);
                        }
                    }
                }
                Kind::Runnable => {
                    {
                        let t = &mut tasks[i];
                        t.script.weight = e.arg.max(1);
                        t.one_cpu = e.arg2 == 1;
                        if let Phase::Closing(since) = t.phase {
                            let progress = t.progress(e.ts_ns, &pairer);
                            t.burst_ns = progress;
                            t.close(since);
                        }
                    }
                    let Phase::Gap(since) = tasks[i].phase else { continue };
                    // A wakeup, or a new task's first `runnable` (its
                    // creation, on the CPU of the task that forked it).
                    // A wakeup in interrupt context (a timer's, say) is no
                    // task's doing, whatever the interrupt came in on.
                    let created = first && !e.is_wakeup() && !e.in_interrupt();
                    let caused = (e.is_wakeup() && !e.in_interrupt()) || created;
                    let by = waker
                        .filter(|w| caused && w.pid != e.pid && !w.usersched)
                        .and_then(|w| index.get(&w.pid).copied())
                        .filter(|&a| a != i && !matches!(tasks[a].phase, Phase::Gap(_)));
                    match by {
                        Some(a) => {
                            let w = &mut tasks[a];
                            let progress = w.progress(e.ts_ns, &pairer);
                            w.emit_run(progress, u32::try_from(e.cpu).unwrap_or(0));
                            w.script.steps.push(Step::Wake(i as u32));
                            if created {
                                // It exists, blocked, from its parent's start on.
                                tasks[i].script.start_ns = tasks[a].script.start_ns;
                            }
                            tasks[i].script.steps.push(Step::Block);
                        }
                        None => tasks[i].script.steps.push(Step::Sleep(e.ts_ns.saturating_sub(since))),
                    }
                    tasks[i].phase = Phase::Burst;
                }
                Kind::Decision | Kind::FastMiss | Kind::Revoke => {}
            }
        }
        for on in pairer.running() {
            let since = on.since_ns.saturating_sub(start);
            recorded_cpu.push(RecordedCpu::run(since, end.saturating_sub(on.since_ns), on.usersched));
        }
        let scripts = tasks
            .into_iter()
            .map(|mut t| {
                if !matches!(t.phase, Phase::Gap(_)) {
                    let progress = t.progress(end, &pairer);
                    t.burst_ns = progress;
                    let cpu = t.running_on.and_then(|c| u32::try_from(c).ok()).unwrap_or(t.last_cpu);
                    t.last_cpu = cpu;
                    t.close(end);
                }
                if t.one_cpu {
                    t.script.pinned = Some(t.last_cpu);
                }
                t.script
            })
            .collect();
        Ok(Replay {
            nr_cpus: rec.nr_cpus,
            duration_ns,
            scripts,
            recorded_waits,
            recorded_cpu,
            lost_events: rec.end.map(|e| e.dropped),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use scheduler_core::{
        record::{self, Writer},
        wire::RawRecordEvent,
        TASK_COMM_LEN,
    };

    use super::*;

    /// Pids of the synthetic recording: the user scheduler, a ping-pong
    /// pair, a timer-woken pinned task.
    pub(crate) const USER: i32 = 1;
    pub(crate) const PING: i32 = 10;
    pub(crate) const PONG: i32 = 11;
    pub(crate) const TIMER: i32 = 12;

    /// An event: `(ts, kind, pid, cpu, flags, arg, arg2)`.
    pub(crate) type Ev = record::SyntheticEvent;

    /// The recording of `events` on `nr_cpus` CPUs from 0 to `end_ns`.
    pub(crate) fn recording(nr_cpus: u32, end_ns: u64, events: &[Ev]) -> Recording {
        record::read(&record::synthetic(nr_cpus, end_ns, events).unwrap()).unwrap()
    }

    /// Two CPUs for 200 µs: PING (nice 0) and PONG (weight 2048) wake each
    /// other, PING on CPU 0 and PONG on CPU 1; TIMER, pinned to CPU 1, is
    /// woken twice with nothing running there (a timer), the second time
    /// after 25 µs asleep, and is preempted once; the user scheduler runs
    /// on CPU 1 between.
    pub(crate) fn ping_pong() -> Recording {
        use Kind::{Decision, Quiescent, Runnable, Running, Stopping};
        recording(
            2,
            200_000,
            &[
                (0, Runnable, PING, 0, 0, 1024, 2),
                (1_000, Running, PING, 0, 0, 0, 0),
                (10_000, Runnable, TIMER, 1, 1, 1024, 1),
                (11_000, Running, TIMER, 1, 0, 0, 0),
                (20_000, Quiescent, TIMER, 1, 1, 0, 0),
                (20_000, Stopping, TIMER, 1, 0, 0, 0),
                (45_000, Runnable, TIMER, 1, 1, 1024, 1),
                (46_000, Running, TIMER, 1, 0, 0, 0),
                (47_000, Stopping, TIMER, 1, 1, 0, 0),
                (48_000, Running, TIMER, 1, 0, 0, 0),
                (49_000, Quiescent, TIMER, 1, 1, 0, 0),
                (49_000, Stopping, TIMER, 1, 0, 0, 0),
                // PING, 50 µs into its burst, wakes PONG (not seen before).
                (51_000, Runnable, PONG, 0, 1, 2048, 2),
                (51_500, Decision, PONG, 0, 0, 5_000_000, -1),
                (52_000, Quiescent, PING, 0, 1, 0, 0),
                (52_500, Stopping, PING, 0, 0, 0, 0),
                (53_000, Running, USER, 1, 1, 0, 0),
                (54_000, Stopping, USER, 1, 0, 0, 0),
                (60_000, Running, PONG, 1, 0, 0, 0),
                // PONG, 30 µs into its burst, wakes PING.
                (90_000, Runnable, PING, 1, 1, 1024, 2),
                (95_000, Quiescent, PONG, 1, 1, 0, 0),
                (95_100, Stopping, PONG, 1, 0, 0, 0),
                (100_000, Running, PING, 0, 0, 0, 0),
                (140_000, Quiescent, PING, 0, 1, 0, 0),
                (140_000, Stopping, PING, 0, 0, 0, 0),
                // The user scheduler wakes TIMER: a timed sleep, not a dependency.
                (150_000, Running, USER, 1, 1, 0, 0),
                (150_500, Runnable, TIMER, 1, 1, 1024, 1),
                (151_000, Stopping, USER, 1, 0, 0, 0),
                (152_000, Running, TIMER, 1, 0, 0, 0),
            ],
        )
    }

    /// TIMER wakes on CPU 0 while PING runs there: in interrupt context
    /// (marked, as the dispatcher marks a timer's expiry) it is a timed
    /// sleep of the recorded length, and PING's burst is not split; not
    /// marked (a file older than format version 3, or a wakeup in task
    /// context), PING woke it.
    #[test]
    fn a_wakeup_in_interrupt_context_is_a_timed_sleep() {
        use scheduler_core::record::RUNNABLE_IN_INTERRUPT;
        use Kind::{Quiescent, Runnable, Running, Stopping};
        let of = |flags: u32| {
            let r = Replay::from_recording(&recording(
                1,
                100_000,
                &[
                    (0, Runnable, TIMER, 0, 1, 1024, 1),
                    (1_000, Running, TIMER, 0, 0, 0, 0),
                    (2_000, Quiescent, TIMER, 0, 1, 0, 0),
                    (2_000, Stopping, TIMER, 0, 0, 0, 0),
                    (3_000, Runnable, PING, 0, 1, 1024, 1),
                    (3_000, Running, PING, 0, 0, 0, 0),
                    (50_000, Runnable, TIMER, 0, flags, 1024, 1),
                    (60_000, Stopping, PING, 0, 1, 0, 0),
                    (60_000, Running, TIMER, 0, 0, 0, 0),
                ],
            ))
            .unwrap();
            (script(&r, PING).steps.clone(), script(&r, TIMER).steps[2])
        };
        let (ping, timer) = of(1 | RUNNABLE_IN_INTERRUPT);
        assert_eq!(timer, Step::Sleep(48_000));
        assert_eq!(ping, [Step::Sleep(0), Step::Run { ns: 57_000, cpu: 0 }], "not split");
        let (ping, timer) = of(1);
        assert_eq!(timer, Step::Block);
        assert_eq!(ping[2], Step::Wake(0), "PING woke it, 47 µs into its burst: {ping:?}");
    }

    fn script(r: &Replay, pid: i32) -> &Script {
        r.scripts.iter().find(|s| s.pid == pid).unwrap()
    }

    /// The pair wakes each other where it did, at the CPU time it had run
    /// in its burst, each burst on its recorded CPU; the timer-woken task
    /// sleeps its recorded time and is pinned; the user scheduler has no
    /// script; weights are the latest; a burst under way at the end is cut
    /// there.
    #[test]
    fn scripts_of_a_ping_pong_pair_and_a_timer() {
        let r = Replay::from_recording(&ping_pong()).unwrap();
        assert_eq!((r.nr_cpus, r.duration_ns, r.lost_events), (2, 200_000, Some(0)));
        let pids: Vec<_> = r.scripts.iter().map(|s| s.pid).collect();
        assert_eq!(pids, [PING, TIMER, PONG], "in order of appearance, no user scheduler");
        let (ping, timer, pong) = (0, 1, 2);
        let p = script(&r, PING);
        assert_eq!((p.start_ns, p.weight, p.pinned, p.comm.as_str()), (0, 1024, None, "task10"));
        assert_eq!(
            p.steps,
            [
                Step::Sleep(0),
                Step::Run { ns: 50_000, cpu: 0 },
                Step::Wake(pong),
                Step::Run { ns: 1_500, cpu: 0 },
                Step::Block,
                Step::Run { ns: 40_000, cpu: 0 },
            ]
        );
        let q = script(&r, PONG);
        assert_eq!((q.start_ns, q.weight, q.pinned), (51_000, 2048, None));
        assert_eq!(
            q.steps,
            [Step::Block, Step::Run { ns: 30_000, cpu: 1 }, Step::Wake(ping), Step::Run { ns: 5_100, cpu: 1 }]
        );
        let t = script(&r, TIMER);
        assert_eq!((t.start_ns, t.pinned), (10_000, Some(1)));
        assert_eq!(
            t.steps,
            [
                Step::Sleep(0),
                Step::Run { ns: 9_000, cpu: 1 },
                Step::Sleep(25_000),
                Step::Run { ns: 2_000, cpu: 1 },
                Step::Sleep(101_500),
                Step::Run { ns: 48_000, cpu: 1 },
            ],
            "two runs make one burst; woken by the user scheduler: a timed sleep; cut at the end"
        );
        assert!(!r.scripts.iter().any(|s| s.steps.contains(&Step::Wake(timer))));
        assert_eq!(
            r.recorded_waits,
            [
                (1_000, 1_000),
                (11_000, 1_000),
                (46_000, 1_000),
                (48_000, 1_000),
                (60_000, 9_000),
                (100_000, 10_000),
                (152_000, 1_500)
            ],
            "the user scheduler's waits left out"
        );
    }

    /// A blocking task leaves the runqueue before it stops running (the
    /// kernel's order): the run that ends after its `quiescent` still
    /// counts in its burst; the pairing agrees with `Runs::of`.
    #[test]
    fn the_run_after_quiescent_counts() {
        let r = Replay::from_recording(&ping_pong()).unwrap();
        let total: u64 =
            script(&r, PONG).steps.iter().map(|s| if let Step::Run { ns, .. } = s { *ns } else { 0 }).sum();
        assert_eq!(total, 35_100);
        let runs = Runs::of(&ping_pong());
        let pong: u64 = runs.runs.iter().filter(|r| r.pid == PONG).map(|r| r.end_ns - r.start_ns).sum();
        assert_eq!(pong, total);
        assert_eq!(runs.runs.iter().filter(|r| r.usersched).count(), 2);
    }

    /// First in, first out, 5 ms slices, any CPU (the crate's example policy).
    struct Fifo(std::collections::VecDeque<scheduler_core::QueuedTask>);

    impl scheduler_core::Policy for Fifo {
        fn name(&self) -> &str {
            "fifo"
        }
        fn enqueue(&mut self, t: &scheduler_core::QueuedTask, _: &scheduler_core::SchedContext<'_>) {
            self.0.push_back(*t)
        }
        fn dispatch(&mut self, _: &scheduler_core::SchedContext<'_>) -> Option<scheduler_core::Decision> {
            self.0.pop_front().map(|t| t.decide(scheduler_core::Target::Any, 5_000_000, 0))
        }
        fn pending(&self) -> usize {
            self.0.len()
        }
        fn take_all(&mut self, out: &mut Vec<scheduler_core::QueuedTask>) {
            out.extend(self.0.drain(..))
        }
    }

    /// The machine and length of replay `r`, every invariant checked after every event.
    fn checked_config(r: Replay) -> crate::SimConfig {
        crate::SimConfig {
            nr_cpus: r.nr_cpus,
            duration_ns: r.duration_ns,
            workload: crate::Workload::Replay(std::sync::Arc::new(r)),
            check_invariants: true,
            ..crate::SimConfig::default()
        }
    }

    fn replayed(rec: &Recording) -> (crate::Report, Trace) {
        let config = checked_config(Replay::from_recording(rec).unwrap());
        crate::simulate_traced(&config, Box::new(Fifo(Default::default()))).unwrap()
    }

    /// The runs of task `i` in the trace, in time order.
    fn runs_of(trace: &Trace, i: u32) -> Vec<(u32, u64, u64)> {
        let mut runs: Vec<_> = trace
            .slices
            .iter()
            .filter(|s| s.runner == Runner::Task(i))
            .map(|s| (s.cpu, s.start_ns, s.end_ns))
            .collect();
        runs.sort_by_key(|r| r.1);
        runs
    }

    /// Start delays hold a free CPU back by a drawn sample. An idle CPU
    /// kicked dispatches 7 µs later: PING_PONG's wakeups, which found an
    /// idle CPU at once, wait 7 µs or more, measured as free → run times of
    /// 7 µs. A CPU whose task blocked dispatches 3 µs later: on one CPU,
    /// a task woken by the running one waits 3 µs longer for it to leave
    /// (the free → run time is 0 there: the user scheduler runs between).
    /// One seed gives one report.
    #[test]
    fn start_delays_hold_back_a_free_cpu() {
        use Kind::{Quiescent, Runnable, Running, Stopping};
        let run = |rec: &Recording, idle_wake_ns: Vec<u64>, switch_ns: Vec<u64>| {
            let config = crate::SimConfig {
                start_delays: StartDelays { idle_wake_ns, switch_ns, ..StartDelays::default() },
                ..checked_config(Replay::from_recording(rec).unwrap())
            };
            let report = crate::simulate(&config, Box::new(Fifo(Default::default()))).unwrap();
            report.accounting.check().unwrap();
            report
        };
        let free = |r: &crate::Report| r.replay.as_ref().unwrap().replayed_cpu.free_to_run_waits;
        let (at_once, idle) = (run(&ping_pong(), vec![], vec![]), run(&ping_pong(), vec![7_000], vec![]));
        assert_eq!((at_once.latency.max_ns, free(&at_once).max_ns), (0, 0));
        assert_eq!((idle.latency.p50_ns, free(&idle).max_ns), (7_000, 7_000), "{:?}", idle.latency);

        let one_cpu = recording(
            1,
            100_000,
            &[
                (0, Running, 20, 0, 0, 0, 0),
                (5_000, Runnable, 21, 0, 1, 1024, 1),
                (10_000, Quiescent, 20, 0, 0, 0, 0),
                (10_000, Stopping, 20, 0, 0, 0, 0),
                (12_000, Running, 21, 0, 0, 0, 0),
                (20_000, Quiescent, 21, 0, 0, 0, 0),
                (20_000, Stopping, 21, 0, 0, 0, 0),
            ],
        );
        let (at_once, switch) = (run(&one_cpu, vec![], vec![]), run(&one_cpu, vec![], vec![3_000]));
        assert!(at_once.latency.max_ns >= 5_000, "{:?}", at_once.latency);
        assert_eq!(switch.latency.max_ns, at_once.latency.max_ns + 3_000);

        let twice = || run(&ping_pong(), vec![1_000, 9_000], vec![2_000, 4_000]).to_json();
        assert_eq!(twice(), twice());
    }

    /// Replayed, the pair waits for each other: PING's second burst starts
    /// when PONG has run 30 µs of its first (PING's CPU is idle: no wait);
    /// TIMER sleeps its recorded 25 µs between its first two bursts, on its
    /// CPU only; the weights are carried; the report compares waits; one
    /// file and seed, one report.
    #[test]
    fn a_replay_runs_its_scripts() {
        let (report, trace) = replayed(&ping_pong());
        report.accounting.check().unwrap();
        assert_eq!((report.workload.as_str(), report.nr_cpus, report.duration_ns), ("replay", 2, 200_000));
        assert_eq!(report.tasks.len(), 3, "no task for the user scheduler");
        let (ping, timer, pong) = (runs_of(&trace, 0), runs_of(&trace, 1), runs_of(&trace, 2));
        assert!(pong[0].1 >= 51_000, "PONG appears when it was first seen: {pong:?}");
        let pong_30us = pong[0].1 + 30_000;
        let ping_second = ping.iter().find(|r| r.1 > 60_000).unwrap();
        assert_eq!(ping_second.1, pong_30us, "PING woken by PONG's step: {ping:?} {pong:?}");
        let first_end = timer[0].2;
        assert_eq!(timer[0].2 - timer[0].1, 9_000);
        assert_eq!(timer[1].1, first_end + 25_000, "a timed sleep of the recorded length: {timer:?}");
        assert!(timer.iter().all(|r| r.0 == 1), "pinned to CPU 1: {timer:?}");
        let t = |pid_index: usize| &report.tasks[pid_index];
        assert_eq!((t(2).weight, t(2).nice, t(0).weight, t(1).cpus_allowed.as_str()), (2048, -3, 1024, "1"));
        assert_eq!((t(0).work_units, t(2).work_units), (2, 1), "completed bursts");
        assert_eq!(t(0).comm, "task10");
        let f = report.replay.unwrap();
        assert_eq!((f.recorded.samples, f.recorded.p50_ns, f.recorded.max_ns), (7, 1_000, 10_000));
        assert_eq!(f.replayed.samples, report.latency.samples);
        // Of the 400 µs of CPU time, 185.6 µs of task runs (TIMER's last
        // one, under way at the end, up to the end), 2 µs of the user
        // scheduler for one decision, 19 µs free with a task ready (1 µs
        // three times for TIMER, 6 µs for PONG, 10 µs for PING).
        let c = f.recorded_cpu;
        assert!((c.tasks - 185_600.0 / 400_000.0).abs() < 1e-12, "{c:?}");
        assert!((c.user_scheduler - 2_000.0 / 400_000.0).abs() < 1e-12, "{c:?}");
        assert!((c.free_to_run - 19_000.0 / 400_000.0).abs() < 1e-12, "{c:?}");
        let w = c.free_to_run_waits;
        assert_eq!((c.user_ns_per_decision, w.samples, w.p50_ns, w.max_ns), (Some(2_000), 5, 1_000, 10_000));
        let r = f.replayed_cpu;
        assert_eq!((r.free_to_run, r.free_to_run_waits.max_ns), (0.0, 0), "no start delays: at once");
        // Replayed for 100 µs: the runs within it, cut there (97.6 µs of 200).
        let config =
            crate::SimConfig { duration_ns: 100_000, ..checked_config(Replay::from_recording(&ping_pong()).unwrap()) };
        let short = crate::simulate(&config, Box::new(Fifo(Default::default()))).unwrap().replay.unwrap();
        assert!((short.recorded_cpu.tasks - 97_600.0 / 200_000.0).abs() < 1e-12, "{:?}", short.recorded_cpu);
        assert!((r.tasks - report.utilisation.workload).abs() < 1e-12);
        assert!(report.render_table().contains("replay waits"));
        assert!(report.render_table().contains("replay cpu"), "{}", report.render_table());
        assert!(report.to_json().contains("\"replay\": {"));
        let (again, _) = replayed(&ping_pong());
        assert_eq!(report.to_json(), again.to_json());
        assert!(!report.render_table().contains("recorder lost") && !report.render_table().contains("cut short"));
    }

    /// A recording cut short replays up to its last event, and the report
    /// says its lost events are not known; lost events are reported.
    #[test]
    fn lost_events_are_reported() {
        let mut rec = ping_pong();
        rec.end = None;
        let (report, _) = replayed(&rec);
        assert_eq!(report.duration_ns, 152_000);
        assert_eq!(report.replay.unwrap().lost_events, None);
        assert!(report.render_table().contains("the recording was cut short"), "{}", report.render_table());
        let mut rec = ping_pong();
        rec.end = rec.end.map(|e| record::End { dropped: 12, ..e });
        let (report, _) = replayed(&rec);
        assert!(report.render_table().contains("the recorder lost 12 events"));
    }

    /// A restart (a new session) ends the bursts under way, dropping the
    /// run that never stopped; a task seen running again without a
    /// `runnable` (a restart, lost events) sleeps until then; no wake
    /// pairs across the restart.
    #[test]
    fn sessions_do_not_carry_over() {
        let ev = |ts, kind: Kind, pid, flags| RawRecordEvent {
            ts,
            arg: 1024,
            pid,
            tgid: pid,
            cpu: 0,
            kind: kind as u32,
            flags,
            arg2: 1,
            comm: [b'x'; TASK_COMM_LEN],
        };
        let mut w = Writer::new(Vec::new(), 1, 0, scheduler_core::record::HOG_RULE).unwrap();
        w.session(0).unwrap();
        for e in [
            ev(0, Kind::Runnable, 7, 0),
            ev(100, Kind::Running, 7, 0),
            ev(300, Kind::Stopping, 7, 1),
            ev(400, Kind::Running, 7, 0),
        ] {
            w.event(&e).unwrap();
        }
        w.session(1_000).unwrap();
        for e in [ev(2_000, Kind::Running, 7, 0), ev(2_500, Kind::Quiescent, 7, 1), ev(2_600, Kind::Stopping, 7, 0)] {
            w.event(&e).unwrap();
        }
        let rec = record::read(&w.finish(0, 3_000).unwrap()).unwrap();
        let r = Replay::from_recording(&rec).unwrap();
        assert_eq!(
            r.scripts[0].steps,
            [Step::Sleep(0), Step::Run { ns: 200, cpu: 0 }, Step::Sleep(0), Step::Run { ns: 600, cpu: 0 }],
            "the run under way at the restart is dropped; the burst after it starts at its running"
        );
        assert_eq!(r.scripts[0].pinned, Some(0));
        let runs = Runs::of(&rec);
        assert_eq!((runs.runs.len(), runs.unmatched_running, runs.unmatched_stopping), (2, 1, 0));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Any events at all (kinds, pids, CPUs, flags, times out of order
        /// included) make scripts without a panic, and the simulator runs
        /// them with every invariant checked after every event and no
        /// task lost.
        #[test]
        fn any_events_replay(raw in proptest::collection::vec(
            (0u64..200_000, 1u32..=5, 1i32..=6, 0i32..3, 0u32..4, 0u64..4000, 0i32..3), 0..120)
        ) {
            let mut ts = 0u64;
            let events: Vec<Event> = raw
                .iter()
                .map(|&(dt, kind, pid, cpu, flags, arg, arg2)| {
                    // Mostly forward, now and then a little back (the ring's order).
                    ts = if dt % 7 == 0 { ts.saturating_sub(dt / 50) } else { ts + dt / 10 };
                    Event { ts_ns: ts, kind: Kind::from_u32(kind).unwrap(), pid, cpu, flags, arg, arg2 }
                })
                .collect();
            // Two sessions: a restart halfway.
            let half = events.len() / 2;
            let sessions = vec![
                record::Session { ts_ns: 0, from_event: 0 },
                record::Session { ts_ns: events.get(half).map_or(0, |e| e.ts_ns), from_event: half },
            ];
            let rec = Recording { version: 2, nr_cpus: 3, start_ns: 0, dispatcher_flags: None, events, names: Vec::new(), sessions, end: None };
            let Ok(r) = Replay::from_recording(&rec) else { return Ok(()) };
            let config = checked_config(r);
            let report = crate::simulate(&config, Box::new(Fifo(Default::default()))).unwrap();
            report.accounting.check().unwrap();
        }
    }

    /// A CPU free while the task it runs next is ready: from the latest of
    /// its last stop, the task's runnable and its last decision; not for
    /// the user scheduler, nor on a CPU whose last run did not stop.
    #[test]
    fn free_cpu_to_running() {
        use Kind::{Decision, Quiescent, Runnable, Running, Stopping};
        let rec = recording(
            2,
            100_000,
            &[
                (0, Running, 20, 0, 0, 0, 0),
                (5_000, Runnable, 21, 1, 1, 1024, 2),
                (10_000, Quiescent, 20, 0, 0, 0, 0),
                (10_000, Stopping, 20, 0, 0, 0, 0),
                (12_000, Running, 21, 0, 0, 0, 0), // free since 10 µs, ready since 5: 2 µs
                (20_000, Runnable, 22, 1, 1, 1024, 2),
                (22_000, Decision, 22, 1, 0, 0, -1),
                (25_000, Stopping, 21, 0, 1, 0, 0),
                (30_000, Decision, 22, 1, 0, 0, -1),
                (33_000, Running, 22, 0, 0, 0, 0), // free since 25, last decision 30: 3 µs
                (34_000, Running, USER, 1, 1, 0, 0), // the user scheduler: none
                (35_000, Runnable, 20, 1, 1, 1024, 2),
                (36_000, Running, 20, 1, 0, 0, 0), // its CPU's run did not stop: none
            ],
        );
        assert_eq!(Runs::of(&rec).free_to_run_ns, [2_000, 3_000]);
        // The first: a switch (ready before its CPU's task left); the
        // second: decided after a preemption, an idle wake-up. The user
        // scheduler's one run never stopped (a task's `running` replaced
        // it): no user time for the two decisions.
        let costs = Replay::from_recording(&rec).unwrap().recorded_costs(u64::MAX);
        let delays =
            StartDelays { idle_wake_ns: vec![3_000], switch_ns: vec![2_000], after_preemption_or_user_ns: vec![] };
        let (base_ns_per_decision, run_extras_ns) = (None, vec![]);
        let want =
            RecordedCosts { user_ns_per_decision: Some(0), base_ns_per_decision, run_extras_ns, start_delays: delays };
        assert_eq!(costs, want);
        // Within the first 30 µs: the switch only, one decision, no user run.
        let costs = Replay::from_recording(&rec).unwrap().recorded_costs(30_000);
        let delays = StartDelays { switch_ns: vec![2_000], ..StartDelays::default() };
        let (base_ns_per_decision, run_extras_ns) = (None, vec![]);
        let want =
            RecordedCosts { user_ns_per_decision: Some(0), base_ns_per_decision, run_extras_ns, start_delays: delays };
        assert_eq!(costs, want);
    }

    /// The cost per decision, run by run: each run of the user scheduler
    /// over the decisions applied after it ended, until the next run ended
    /// (a run none followed gives none): 12 µs over the 2 after it, 4 µs
    /// over the 1 applied while the third ran, 6 µs over the 3 after the
    /// third; the base and each run's extra beyond it.
    #[test]
    fn decision_costs_are_a_base_and_run_extras() {
        use Kind::{Decision, Running, Stopping};
        let d = |ts, pid| (ts, Decision, pid, 1, 0, 0, -1);
        let rec = recording(
            2,
            100_000,
            &[
                (1_000, Running, USER, 0, 1, 0, 0),
                (13_000, Stopping, USER, 0, 0, 0, 0),
                d(14_000, 20),
                d(15_000, 21),
                (20_000, Running, USER, 0, 1, 0, 0),
                (24_000, Stopping, USER, 0, 0, 0, 0),
                (30_000, Running, USER, 0, 1, 0, 0),
                d(32_000, 25),
                (36_000, Stopping, USER, 0, 0, 0, 0),
                d(37_000, 22),
                d(38_000, 23),
                d(39_000, 24),
            ],
        );
        let costs = Replay::from_recording(&rec).unwrap().recorded_costs(u64::MAX);
        // Per decision 6, 4 and 2 µs: the base is their median, 4 µs; the
        // first run took 4 µs more than 2 × 4, the others none.
        assert_eq!((costs.base_ns_per_decision, costs.run_extras_ns), (Some(4_000), vec![4_000, 0, 0]));
        assert_eq!(costs.user_ns_per_decision, Some(22_000 / 6));
    }

    /// A new task's first `runnable` (no wakeup) on the CPU of a running
    /// task is its creation by that task: the parent's script forks it at
    /// the CPU time it had run, and the child exists blocked from the
    /// parent's start; one created where nothing runs appears at its time.
    #[test]
    fn a_fork_is_a_dependency() {
        use Kind::{Quiescent, Runnable, Running, Stopping};
        let (parent, child, orphan) = (20, 21, 22);
        let rec = recording(
            2,
            100_000,
            &[
                (5_000, Runnable, parent, 0, 1, 1024, 2),
                (10_000, Running, parent, 0, 0, 0, 0),
                (40_000, Runnable, child, 0, 0, 1024, 2),
                (45_000, Quiescent, parent, 0, 0, 0, 0),
                (45_000, Stopping, parent, 0, 0, 0, 0),
                (46_000, Running, child, 0, 0, 0, 0),
                (50_000, Runnable, orphan, 1, 0, 1024, 2),
                (52_000, Running, orphan, 1, 0, 0, 0),
            ],
        );
        let r = Replay::from_recording(&rec).unwrap();
        let c = r.scripts.iter().position(|s| s.pid == child).unwrap() as u32;
        let p = script(&r, parent);
        assert_eq!(
            p.steps,
            [Step::Sleep(0), Step::Run { ns: 30_000, cpu: 0 }, Step::Wake(c), Step::Run { ns: 5_000, cpu: 0 }]
        );
        let s = script(&r, child);
        assert_eq!((s.start_ns, s.steps[0]), (p.start_ns, Step::Block), "forked by its parent");
        let o = script(&r, orphan);
        assert_eq!((o.start_ns, o.steps[0]), (50_000, Step::Sleep(0)), "nothing ran there: it appears at its time");
    }

    /// Recordings that cannot be replayed are errors, not panics.
    #[test]
    fn unreplayable_recordings() {
        let on_cpu_5 = recording(2, 10, &[(1, Kind::Runnable, 7, 5, 1, 1024, 2)]);
        assert_eq!(Replay::from_recording(&on_cpu_5), Err(ReplayError::Cpu { index: 0, cpu: 5, nr_cpus: 2 }));
        let no_cpus = Recording { nr_cpus: 0, ..recording(1, 10, &[]) };
        assert_eq!(Replay::from_recording(&no_cpus), Err(ReplayError::Cpus(0)));
        assert_eq!(Replay::from_recording(&recording(2, 0, &[])), Err(ReplayError::Empty));
        let negative = recording(2, 10, &[(1, Kind::Running, 7, -1, 0, 0, 0)]);
        assert!(matches!(Replay::from_recording(&negative), Err(ReplayError::Cpu { cpu: -1, .. })));
    }
}
