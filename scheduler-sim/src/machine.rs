//! The simulated machine: CPUs, tasks, the clock and the event loop, and
//! what tasks do when they run. The dispatcher's decisions (where a task
//! goes, what a free CPU runs next) are in [`super::dispatcher`].

use std::{collections::VecDeque, sync::Arc};

use super::{
    channel::{Channels, UserSide},
    queue::{Dsq, Event, EventQueue, TaskId},
    recorder::{SimRecorder, USER_PID},
    replay::{Replay, Step},
    rng::SplitMix64,
    tasks::{create_replay, create_workload, Pipe, QueueId, Role, SimTask, TaskState, PID_BASE},
    trace::{Runner, Slice},
    workload::{TaskClass, JITTER_PCT, SPAWN_NS},
    PolicySwitch, SimConfig, SimError, SwitchRecord,
};
use scheduler_core::{
    cpu::{Topology, CAPACITY_SCALE},
    engine::Engine,
    policy::Policy,
    shared::TaskSharedTable,
    wire::vtime_before,
};

/// A broken simulator invariant: a task lost or in two places, a CPU or
/// queue that disagrees with its tasks. Always a simulator bug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(transparent)]
pub struct Invariant(#[from] Broken);

/// Which invariant broke, with the CPUs, tasks and states involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Broken {
    /// A CPU runs a task whose state says otherwise.
    #[error("cpu {cpu} runs task {task} whose state is {state:?}")]
    CpuTask { cpu: usize, task: TaskId, state: TaskState },
    /// A CPU runs the user scheduler, which says it runs elsewhere.
    #[error("cpu {cpu} runs the user scheduler, which thinks it is on {running_on:?}")]
    CpuUser { cpu: usize, running_on: Option<u32> },
    /// A queue holds a task whose state says otherwise.
    #[error("{queue:?} holds task {task} whose state is {state:?}")]
    QueueTask { queue: QueueId, task: TaskId, state: TaskState },
    /// A task says it runs on a CPU that runs something else.
    #[error("task {task} claims cpu {cpu}, which runs {cpu_state:?}")]
    TaskCpu { task: usize, cpu: u32, cpu_state: CpuState },
    /// Both tasks of a pipe pair sleep with no timer: the message is lost.
    #[error("pipe tasks {task} and {partner} both blocked: lost")]
    PipeLost { task: usize, partner: TaskId },
    /// A pipe group's task or pipe disagrees with the other: a receiver
    /// asleep with messages in its pipe or runnable with none, a sender
    /// asleep but not blocked on its pipe, a blocked writer that is not
    /// asleep on it, a pipe over its capacity.
    #[error("pipe group task {task}: {what}")]
    PipeGroup { task: usize, what: &'static str },
    /// A sleeping task has no wake timer, or more than one.
    #[error("sleeping task {task} has {timers} wake timers")]
    WakeTimers { task: usize, timers: u32 },
    /// The queued tasks and the queue entries differ in number.
    #[error("{queued} tasks queued but {entries} queue entries")]
    QueuedCount { queued: usize, entries: usize },
    /// The tasks in user space and the live watchdog entries differ in number.
    #[error("{in_user} tasks in user space but {watched} under the watchdog")]
    WatchCount { in_user: usize, watched: usize },
    /// Tasks wait in user space and no watchdog will rescue them.
    #[error("{in_user} tasks in user space and no watchdog armed")]
    NoWatchdog { in_user: usize },
    /// A planned run end came to an idle CPU.
    #[error("cpu {cpu}: run ended on an idle CPU")]
    RunEndedIdle { cpu: u32 },
    /// A kicked CPU has no kick coming: it would never dispatch.
    #[error("cpu {cpu} is kicked, but no kick is pending for it")]
    KickLost { cpu: usize },
    /// A run ended before its task's burst did (ends are planned at burst ends).
    #[error("cpu {cpu}: task {task} ended a run with its burst left")]
    BurstLeft { cpu: u32, task: TaskId },
}

impl From<Broken> for SimError {
    fn from(b: Broken) -> Self {
        SimError::Invariant(b.into())
    }
}

/// What a CPU is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CpuState {
    /// Nothing to run.
    Idle,
    /// Was idle and has been kicked, or its task left: it runs the
    /// dispatcher when its [`Event::Kick`] comes (at once, or after a
    /// start delay, [`crate::StartDelays`]).
    Kicked,
    /// Runs a workload task since `since`.
    Task { task: TaskId, since: u64 },
    /// Runs the user scheduler since `since`.
    User { since: u64 },
}

/// One CPU: its state, its own dispatch queue and its busy time.
#[derive(Debug)]
pub(crate) struct Cpu {
    pub(crate) state: CpuState,
    pub(crate) dsq: Dsq,
    /// Time spent running workload tasks (ns).
    pub(crate) task_ns: u64,
    /// Time spent running the user scheduler (ns).
    pub(crate) user_ns: u64,
    /// Number of the run in progress: a planned end carries it, so the end
    /// of a run that a tick cut short is recognised as stale.
    pub(crate) run_seq: u64,
    /// Aging's state on this CPU (the BPF's `age_request` and `aged_last`).
    pub(crate) aging: Aging,
    /// The task the wakeup fast path placed in this CPU's own queue, still
    /// waiting (the BPF's `fast_waiting`, a pid; one per CPU): taken at the
    /// placement only if free, released when that task starts running
    /// (anywhere), is enqueued again or exits — not when another task
    /// starts here. While set, this CPU's dispatch serves its queues before
    /// the user scheduler, and another CPU with nothing to run may take the
    /// task if it heads this CPU's queue ([`Machine::take_fast_waiter`]).
    pub(crate) fast_waiting: Option<TaskId>,
    /// Whether the task `fast_waiting` names was deferred (the BPF's
    /// `fast_waiting_deferred`): only such a task may be moved
    /// ([`Machine::take_fast_waiter`]).
    pub(crate) fast_waiting_deferred: bool,
    /// Until when the fast path's hog rule rests on this CPU (the BPF's
    /// `hog_rule_after_ns`): the stop of the last fast-placed run that
    /// preempted a hog here by the rule, plus that run's length. So the
    /// rule's preemptions here are spaced at least their runs' length
    /// apart.
    pub(crate) hog_rule_after_ns: u64,
    /// When the fast path's timer for this CPU fires, if it is armed (the
    /// BPF's `fast_kick_timer`): armed by a deferred placement here
    /// ([`Machine::place_fast`]) for the time the CPU's task will have run
    /// `slice_min_ns`; arming it again moves it (one timer per CPU); an
    /// [`Event::FastKickTimer`] for another time is stale.
    pub(crate) fast_kick_timer: Option<u64>,
    /// When the last run here stopped, while nothing has started since:
    /// where a CPU's free → run time begins ([`Machine::start_task`]).
    pub(crate) free_since: Option<u64>,
    /// The run whose late tick is on its way
    /// ([`crate::SimConfig::late_yields_ns`]): its task and its start (the
    /// task's `start_ts`, which a burst that ends with the task staying
    /// does not change); the ticks until then pass it by.
    pub(crate) late_tick_for: Option<(TaskId, u64)>,
    /// The task a local fast placement (on the woken task's own CPU)
    /// preempts here, from the placement until that task stops (the BPF's
    /// `fast_preempting`): [`Machine::on_fast_kick`] leaves it the slice
    /// it had left, and [`Machine::preempt`] may put it back in this CPU's
    /// queue.
    pub(crate) fast_preempting: Option<TaskId>,
    /// While [`CpuState::Kicked`]: whether it was kicked from idle (not
    /// between two runs). Such a CPU reads idle to the user side until it
    /// starts something, as the BPF's `cpu_state.idle`, which only
    /// `ops.update_idle` and `ops.running` change: the kernel notifies
    /// `ops.update_idle` only when the CPU switches from or to its idle
    /// task (kernel/sched/ext_idle.c `__scx_update_idle()`, `do_notify`),
    /// not when a kick wakes it, nor when it finds nothing and idles on.
    pub(crate) kicked_from_idle: bool,
}

/// Aging's per-CPU state (the BPF's `age_request[]`, `aged_last[]`, and the
/// batch its `run_overdue` moves to the CPU's local DSQ).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Aging {
    /// The heartbeat found overdue tasks this CPU may run.
    pub(crate) requested: bool,
    /// The last dispatch here started an aged batch: the next one serves
    /// the user scheduler and the queues first.
    pub(crate) aged_last: bool,
    /// Tasks of the current batch still to run (they run back to back, as
    /// from the kernel's local DSQ).
    pub(crate) batch_left: u32,
    /// When the batch's longest-waiting task became runnable: the batch
    /// takes tasks within `AGE_WINDOW_NS` of it.
    pub(crate) window_since: u64,
}

/// The user scheduler process as the dispatcher sees it.
#[derive(Debug, Default)]
pub(crate) struct UserSched {
    /// The CPU it runs on.
    pub(crate) running_on: Option<u32>,
    /// The injected stall is in effect.
    pub(crate) stalled: bool,
    /// A CPU kicked to run it, not yet dispatched.
    pub(crate) kicked: Option<u32>,
    /// Last time a step received or sent something.
    pub(crate) last_progress: u64,
    /// Whether the current (or last) step made progress.
    pub(crate) step_progress: bool,
    /// When a CPU was last kicked to run it (idle or preempt kick).
    pub(crate) last_kick_ns: Option<u64>,
    /// The CPU it last ran on (the BPF's `usersched_cpu`, 0 at first).
    pub(crate) last_cpu: u32,
}

/// Dispatcher counters.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counters {
    pub(crate) queued_to_user: u64,
    pub(crate) decisions_applied: u64,
    pub(crate) kernel_dispatches: u64,
    pub(crate) fallback_dispatches: u64,
    pub(crate) fallback_episodes: u64,
    pub(crate) congested: u64,
    pub(crate) bounced: u64,
    pub(crate) stale: u64,
    pub(crate) vtime_clamped: u64,
    pub(crate) preemptions: u64,
    /// Of `preemptions`, those where the task yielded before its slice
    /// ended (a lower key waited, or the user scheduler did).
    pub(crate) tick_yields: u64,
    /// Late ticks that came while their run went on
    /// (`SimConfig::late_yields_ns`).
    pub(crate) late_ticks: u64,
    /// Tasks preempted by a kick to run the user scheduler for a wakeup.
    pub(crate) preempt_kicks: u64,
    /// Tasks aging ran ahead of the queues' order.
    pub(crate) aged: u64,
    /// Wakeups the fast path placed (not part of `kernel_dispatches`).
    pub(crate) fast_placed: u64,
    /// Of those, the ones whose kick preempted a running task at once.
    pub(crate) fast_preempts: u64,
    /// Of those, preemptions of a CPU hog whose run had not had
    /// `slice_min_ns` (the hog rule).
    pub(crate) fast_hog_preempts: u64,
    /// Of `fast_placed`, those deferred: queued on a CPU whose task had
    /// not run `slice_min_ns`, preempted when it has (`fast_cpu`'s
    /// deferral, `fast_kick_timer`); not in `fast_preempts`.
    pub(crate) fast_deferred: u64,
    /// Kicks of the deferral's timer while a deferred task waited: the
    /// CPU's task had run `slice_min_ns` (preempted) or the CPU was idle
    /// (`fast_kick_fn`).
    pub(crate) fast_timer_kicks: u64,
    /// Deferred fast-placed tasks a CPU with nothing else in its own and
    /// the shared queue took from another CPU's queue (`take_fast_waiter`
    /// in `relay_dispatch`).
    pub(crate) fast_moved: u64,
    /// Times a task a local fast placement preempted went back to its
    /// CPU's queue (or the shared one) with its key and the slice it had
    /// left (in `preemptions`; not handed to user space).
    pub(crate) fast_resumes: u64,
    /// Fast-placed wakeups whose burst reached the budget.
    pub(crate) fast_overruns: u64,
    /// Fast-path grants revoked for an overrun.
    pub(crate) fast_revoked: u64,
    pub(crate) affinity_violations: u64,
    pub(crate) events: u64,
}

/// The whole simulated system.
pub(crate) struct Machine {
    pub(crate) now: u64,
    pub(crate) end: u64,
    pub(crate) slice_ns: u64,
    pub(crate) slice_min_ns: u64,
    pub(crate) tick_ns: u64,
    pub(crate) smt: u32,
    pub(crate) stall_timeout_ns: u64,
    /// The heartbeat timer's period (`wire::timer_interval_ns`): the stall
    /// check and the rescue run at its ticks, multiples of it.
    pub(crate) timer_ns: u64,
    pub(crate) step_cost_ns: u64,
    pub(crate) receive_cost_ns: u64,
    pub(crate) decision_cost_ns: u64,
    pub(crate) check_every_event: bool,
    pub(crate) topology: Topology,
    pub(crate) events: EventQueue,
    pub(crate) tasks: Vec<SimTask>,
    pub(crate) cpus: Vec<Cpu>,
    pub(crate) shared: Dsq,
    /// The largest vtime of an unclamped decision seen running (the dispatcher's `vtime_now`): the
    /// vtime of tasks the dispatcher places itself.
    pub(crate) vtime_now: u64,
    pub(crate) dsq_seq: u64,
    /// Ticks so far.
    pub(crate) ticks: u64,
    pub(crate) channels: Channels,
    pub(crate) engine: Engine,
    pub(crate) user: UserSched,
    /// The user side made no progress for the stall timeout: the dispatcher
    /// schedules new tasks itself until it does.
    pub(crate) fallback_mode: bool,
    /// Tasks handed to user space: (since, task, generation), oldest first.
    pub(crate) watch: VecDeque<(u64, TaskId, u64)>,
    pub(crate) watchdog_armed: bool,
    pub(crate) rng: SplitMix64,
    /// The start delays to draw from, and a stream per kind
    /// ([`StartKind`]) that draws them (their own, so that no other draws,
    /// nor those of another kind, depend on them).
    pub(crate) start_delays: crate::StartDelays,
    /// What a task pays per task it wakes ([`crate::SimConfig::wake_cost_ns`]).
    pub(crate) wake_cost_ns: u64,
    pub(crate) delay_rng: [SplitMix64; 3],
    /// The late yields to draw from ([`crate::SimConfig::late_yields_ns`]),
    /// and their own stream.
    pub(crate) late_yields_ns: Vec<u64>,
    pub(crate) late_yield_rng: SplitMix64,
    /// The extra step costs to draw from
    /// ([`crate::SimConfig::user_step_extras_ns`]), and their own stream.
    pub(crate) user_step_extras_ns: Vec<u64>,
    pub(crate) step_extra_rng: SplitMix64,
    /// Each task start on a CPU that had been free while the task was
    /// ready: how long (ns), as `record-summary` measures a recording's.
    pub(crate) free_to_run_ns: Vec<u64>,
    pub(crate) counters: Counters,
    /// Runnable → running waits (ns), per class in [`TaskClass::ALL`] order.
    pub(crate) waits: [Vec<u64>; TaskClass::ALL.len()],
    /// The longest of those waits that ended in the shared queue, in a
    /// CPU's own queue, and in a CPU's own queue for a task allowed that CPU
    /// only (ns; see [`super::QueueWaits`]).
    pub(crate) longest_wait_shared: u64,
    pub(crate) longest_wait_own: u64,
    pub(crate) longest_wait_pinned: u64,
    /// Policies to switch to, by [`Event::Switch`] index (taken when used).
    pub(crate) switch_to: Vec<Option<Box<dyn Policy>>>,
    /// The switches done.
    pub(crate) switch_log: Vec<SwitchRecord>,
    /// Every run, when a trace was asked for ([`crate::simulate_traced`]).
    pub(crate) trace: Option<Vec<Slice>>,
    /// The scripts of a replay's tasks ([`Role::Replay`]).
    pub(crate) replay: Option<Arc<Replay>>,
    /// The pipes of the workload's pipe groups ([`Role::Sender`],
    /// [`Role::Receiver`]).
    pub(crate) pipes: Vec<Pipe>,
    /// The run's events as a recording, when one was asked for
    /// ([`crate::simulate_recorded`]).
    pub(crate) recorder: Option<SimRecorder>,
    /// The CPU of the task whose burst is ending (the waker of the tasks
    /// its step wakes); `None`: a timer's wakeup.
    pub(crate) waking_cpu: Option<u32>,
    /// The per-task context shared with user space (the BPF's
    /// `task_shared` map): each task's slot, the statistics the dispatcher
    /// publishes and the policy's fast-path grants.
    pub(crate) task_shared: TaskSharedTable,
    /// The wakeup fast path is on ([`SimConfig::fast_path`]): user space
    /// sees the table and may grant.
    pub(crate) fast_path: bool,
    /// The user hand-off preempts CPU hogs at once ([`SimConfig::preempt_hogs`]).
    pub(crate) preempt_hogs: bool,
}

/// Where a replayed task's script took it ([`Machine::advance_script`]).
enum ScriptNext {
    /// A burst to run (set as its `burst_left`).
    Run,
    /// Sleeping on a timer, or blocked until woken.
    Waits,
    /// The script is over.
    Over,
}

/// The three kinds of [`crate::StartDelays`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum StartKind {
    /// An idle CPU, kicked.
    IdleWake,
    /// A CPU whose task left.
    Switch,
    /// A CPU that preempted its task, or ran the user scheduler, and
    /// chose another task.
    AfterPreemptionOrUser,
}

/// Seeds the stream the start delays' streams are seeded from (`seed ^
/// this`): any constant apart from the workload's, "STARTDLY".
const START_DELAY_STREAM: u64 = 0x5354_4152_5444_4c59;

/// Seeds the late yields' stream (`seed ^ this`): "LATEYIEL".
const LATE_YIELD_STREAM: u64 = 0x4c41_5445_5949_454c;

/// Seeds the drawn user-scheduler step extras' stream (`seed ^ this`): "DECICOST".
const STEP_EXTRA_STREAM: u64 = 0x4445_4349_434f_5354;

/// Whether a task that finished a burst stays on its CPU.
enum AfterBurst {
    Stays,
    Leaves,
}

impl Machine {
    /// A machine for `config`, running `engine`, with the workload's tasks
    /// created and their first wakeups scheduled.
    pub(crate) fn new(config: &SimConfig, engine: Engine, topology: Topology) -> Self {
        let n = config.nr_cpus;
        let mut rng = SplitMix64::new(config.seed);
        let mut tasks = Vec::new();
        let mut wakes = Vec::new();
        let mut pipes = Vec::new();
        create_workload(config.workload.groups(), n, &mut rng, &mut tasks, &mut wakes, &mut pipes);
        let replay = config.workload.replay().cloned();
        if let Some(r) = &replay {
            create_replay(r, n, &mut tasks, &mut wakes);
        }
        let mut events = EventQueue::default();
        for (t, id) in wakes {
            events.push(t, Event::Wake(id));
        }
        for (id, t) in tasks.iter().enumerate() {
            if let Some((at, _, _)) = t.renice {
                events.push(at, Event::Renice(id as TaskId));
            }
        }
        if let Some(s) = config.stall {
            events.push(s.at_ns, Event::StallStart);
            events.push(s.at_ns.saturating_add(s.duration_ns), Event::StallEnd);
        }
        events.push(config.tick_ns, Event::Tick);
        events.push(scheduler_core::wire::timer_interval_ns(config.stall_timeout_ns), Event::Heartbeat);
        let cpus = (0..n)
            .map(|_| Cpu {
                state: CpuState::Idle,
                dsq: Dsq::default(),
                task_ns: 0,
                user_ns: 0,
                run_seq: 0,
                aging: Aging::default(),
                fast_waiting: None,
                hog_rule_after_ns: 0,
                fast_kick_timer: None,
                fast_waiting_deferred: false,
                free_since: None,
                late_tick_for: None,
                fast_preempting: None,
                kicked_from_idle: false,
            })
            .collect();
        Self {
            now: 0,
            end: config.duration_ns,
            slice_ns: config.slice_ns,
            slice_min_ns: config.slice_min_ns,
            tick_ns: config.tick_ns.max(1),
            smt: config.smt.max(1),
            stall_timeout_ns: config.stall_timeout_ns,
            timer_ns: scheduler_core::wire::timer_interval_ns(config.stall_timeout_ns),
            step_cost_ns: config.step_cost_ns,
            receive_cost_ns: config.receive_cost_ns,
            decision_cost_ns: config.decision_cost_ns,
            check_every_event: config.check_invariants,
            topology,
            events,
            tasks,
            cpus,
            shared: Dsq::default(),
            vtime_now: 0,
            dsq_seq: 0,
            ticks: 0,
            channels: Channels::new(config.queued_capacity, config.channel_capacity),
            engine,
            user: UserSched::default(),
            fallback_mode: false,
            watch: VecDeque::new(),
            watchdog_armed: false,
            rng,
            start_delays: config.start_delays.clone(),
            wake_cost_ns: config.wake_cost_ns,
            delay_rng: {
                // Each kind's seed mixed from one stream: no kind of one
                // seed repeats another seed's.
                let mut seeds = SplitMix64::new(config.seed ^ START_DELAY_STREAM);
                [(); 3].map(|()| SplitMix64::new(seeds.next_u64()))
            },
            late_yields_ns: config.late_yields_ns.clone(),
            late_yield_rng: SplitMix64::new(config.seed ^ LATE_YIELD_STREAM),
            user_step_extras_ns: config.user_step_extras_ns.clone(),
            step_extra_rng: SplitMix64::new(config.seed ^ STEP_EXTRA_STREAM),
            free_to_run_ns: Vec::new(),
            counters: Counters::default(),
            waits: Default::default(),
            longest_wait_shared: 0,
            longest_wait_own: 0,
            longest_wait_pinned: 0,
            switch_to: Vec::new(),
            switch_log: Vec::new(),
            trace: None,
            replay,
            pipes,
            recorder: None,
            waking_cpu: None,
            task_shared: TaskSharedTable::new(),
            fast_path: config.fast_path,
            preempt_hogs: config.preempt_hogs,
        }
    }

    /// Notes a run of `runner` on `cpu` from `start` to `end`, if tracing.
    fn record(&mut self, cpu: u32, start: u64, end: u64, runner: Runner) {
        if let Some(trace) = &mut self.trace {
            if end > start {
                trace.push(Slice { cpu, start_ns: start, end_ns: end, runner });
            }
        }
    }

    /// Runs events until the configured end, then closes the books.
    pub(crate) fn run(&mut self) -> Result<(), SimError> {
        while let Some((time, event)) = self.events.pop() {
            if time > self.end {
                // Left pending, so that the final check sees every timer.
                self.events.push(time, event);
                break;
            }
            self.now = time;
            self.counters.events += 1;
            match event {
                Event::Wake(id) => self.on_timer_wake(id),
                Event::CpuEnd(cpu, run) => {
                    if self.cpus[cpu as usize].run_seq == run {
                        self.on_cpu_end(cpu)?;
                    }
                }
                Event::Tick => {
                    self.on_tick()?;
                    self.events.push(self.now.saturating_add(self.tick_ns), Event::Tick);
                }
                Event::Kick(cpu) => {
                    if self.cpus[cpu as usize].state == CpuState::Kicked {
                        self.dispatch(cpu, super::dispatcher::Prev::None)?;
                    }
                }
                Event::Renice(id) => {
                    let t = &mut self.tasks[id as usize];
                    if let Some((_, weight, nice)) = t.renice.take() {
                        (t.weight, t.nice) = (weight, nice);
                    }
                }
                Event::Preempt(cpu) => self.on_preempt_kick(cpu, true)?,
                Event::FastKick(cpu) => self.on_fast_kick(cpu)?,
                Event::FastKickTimer(cpu) => self.on_fast_kick_timer(cpu)?,
                Event::AgeKick(cpu) => self.on_preempt_kick(cpu, false)?,
                Event::Watchdog => self.on_watchdog(),
                Event::Heartbeat => {
                    self.on_heartbeat();
                    self.events.push(self.now.saturating_add(self.timer_ns), Event::Heartbeat);
                }
                Event::StallStart => self.user.stalled = true,
                Event::StallEnd => {
                    self.user.stalled = false;
                    self.request_user(None);
                }
                Event::Switch(i) => self.switch_policy(i),
                Event::HeldStart(cpu, run) => self.record_held_start(cpu, run),
                Event::LateTick(cpu, task, start) => self.on_late_tick(cpu, task, start)?,
            }
            if self.check_every_event {
                self.verify()?;
            }
        }
        self.now = self.end;
        self.close_books();
        Ok(self.verify()?)
    }

    /// Schedules the switches of `switches` (see [`super::simulate_with_switches`]).
    pub(crate) fn plan_switches(&mut self, switches: Vec<PolicySwitch>) {
        for (i, s) in switches.into_iter().enumerate() {
            self.events.push(s.at_ns, Event::Switch(i as u32));
            self.switch_to.push(Some(s.policy));
        }
    }

    /// The user scheduler switches policy between two steps, as the real
    /// scheduler's main loop does; the new policy runs at its next step.
    fn switch_policy(&mut self, i: u32) {
        let Some(policy) = self.switch_to.get_mut(i as usize).and_then(Option::take) else { return };
        let from = self.engine.policy_name().to_owned();
        let handed_over = self.engine.switch_policy(policy, self.now) as u64;
        let to = self.engine.policy_name().to_owned();
        self.switch_log.push(SwitchRecord { at_ns: self.now, from, to, handed_over });
        self.channels.user_pending = self.engine.pending();
        self.request_user(None);
    }

    /// A sleeping task's timer fired (or it is created). A replayed task
    /// goes on with its script, which may block it or sleep it again.
    fn on_timer_wake(&mut self, id: TaskId) {
        if self.tasks[id as usize].state != TaskState::Sleeping {
            return;
        }
        if !matches!(self.tasks[id as usize].role, Role::Replay { .. }) {
            self.wake(id);
            return;
        }
        let mut woken = Vec::new();
        match self.advance_script(id, &mut woken) {
            ScriptNext::Run => self.wake(id),
            ScriptNext::Waits => {}
            ScriptNext::Over => self.exit_task(id),
        }
        self.deliver_wakes(woken);
    }

    /// Runs replayed task `id`'s script from its cursor up to its next
    /// burst (set as its `burst_left`), sleep (its timer set), block (unless
    /// a wake is pending) or end; the tasks its steps wake are appended to
    /// `woken` (delivered by [`Machine::deliver_wakes`]). The task's state
    /// is the caller's to set.
    fn advance_script(&mut self, id: TaskId, woken: &mut Vec<TaskId>) -> ScriptNext {
        let Role::Replay { script } = self.tasks[id as usize].role else { return ScriptNext::Over };
        loop {
            let t = &mut self.tasks[id as usize];
            let step = self
                .replay
                .as_ref()
                .and_then(|r| r.scripts.get(script as usize))
                .and_then(|s| s.steps.get(t.cursor.step))
                .copied();
            let Some(step) = step else { return ScriptNext::Over };
            t.cursor.step += 1;
            match step {
                Step::Run { ns, .. } => {
                    t.burst_left = ns.max(1);
                    return ScriptNext::Run;
                }
                Step::Wake(other) => woken.push(other),
                Step::Block if t.cursor.wakes_pending > 0 => t.cursor.wakes_pending -= 1,
                Step::Block => {
                    t.cursor.blocked = true;
                    return ScriptNext::Waits;
                }
                Step::Sleep(ns) => {
                    self.events.push(self.now.saturating_add(ns), Event::Wake(id));
                    return ScriptNext::Waits;
                }
            }
        }
    }

    /// Delivers replayed tasks' wakes, in order: a blocked task goes on with
    /// its script (the wakes its steps make are delivered in turn); any
    /// other keeps the wake for its next block.
    fn deliver_wakes(&mut self, mut woken: Vec<TaskId>) {
        let mut i = 0;
        while let Some(&id) = woken.get(i) {
            i += 1;
            let Some(t) = self.tasks.get_mut(id as usize) else { continue };
            if t.state != TaskState::Sleeping || !t.cursor.blocked {
                t.cursor.wakes_pending += 1;
                continue;
            }
            t.cursor.blocked = false;
            match self.advance_script(id, &mut woken) {
                ScriptNext::Run => self.wake(id),
                ScriptNext::Waits => {}
                ScriptNext::Over => self.exit_task(id),
            }
        }
    }

    /// What ran on `cpu` reached its planned end.
    fn on_cpu_end(&mut self, cpu: u32) -> Result<(), SimError> {
        match self.cpus[cpu as usize].state {
            CpuState::Task { task, since } => self.end_run(cpu, task, since),
            CpuState::User { since } => {
                self.cpus[cpu as usize].user_ns += self.now - since;
                self.cpus[cpu as usize].free_since = Some(self.now);
                self.record(cpu, since, self.now, Runner::UserScheduler);
                if let Some(r) = &mut self.recorder {
                    r.stopping(self.now, cpu, false);
                }
                self.channels.publish();
                self.user.running_on = None;
                self.dispatch(cpu, super::dispatcher::Prev::User { progress: self.user.step_progress })
            }
            CpuState::Idle | CpuState::Kicked => Err(Broken::RunEndedIdle { cpu }.into()),
        }
    }

    /// Task `id`, not on a CPU, is gone: it frees its shared slot and any
    /// CPU's `fast_waiting` it holds (the BPF's `relay_exit_task`).
    pub(crate) fn exit_task(&mut self, id: TaskId) {
        let t = &mut self.tasks[id as usize];
        t.state = TaskState::Exited;
        self.task_shared.release(t.pid);
        self.fast_waiting_done(id);
    }

    /// Charges task `id` the CPU time it used on `cpu` since `since`.
    pub(crate) fn account(&mut self, cpu: u32, id: TaskId, since: u64) {
        self.record(cpu, since, self.now, Runner::Task(id));
        // Until something starts here (a task that stays clears it).
        self.cpus[cpu as usize].free_since = Some(self.now);
        // 0 for a task held for its start (`start_task_held`).
        let elapsed = self.now.saturating_sub(since);
        self.cpus[cpu as usize].task_ns += elapsed;
        let t = &mut self.tasks[id as usize];
        t.cpu_ns += elapsed;
        t.exec_runtime += elapsed;
        t.burst_left = t.burst_left.saturating_sub(work_done(elapsed, self.topology.capacity(cpu)));
        t.slice_left = t.slice_left.saturating_sub(elapsed);
        t.stop_ts = self.now;
    }

    /// Task `id` on `cpu` used up its burst. A task that goes on running
    /// (a hog, a pipe task with a message waiting) keeps the CPU even if its
    /// slice ran out meanwhile: slices end at ticks.
    fn end_run(&mut self, cpu: u32, id: TaskId, since: u64) -> Result<(), SimError> {
        self.account(cpu, id, since);
        if self.tasks[id as usize].burst_left > 0 {
            // Only burst ends are planned; a planned end is never early.
            return Err(Broken::BurstLeft { cpu, task: id }.into());
        }
        self.waking_cpu = Some(cpu);
        let after = self.finish_burst(id)?;
        self.waking_cpu = None;
        match after {
            AfterBurst::Stays => {
                self.cpus[cpu as usize].free_since = None;
                self.cpus[cpu as usize].state = CpuState::Task { task: id, since: self.now };
                self.plan_end(cpu, id);
                Ok(())
            }
            AfterBurst::Leaves => {
                if let Some(r) = &mut self.recorder {
                    r.blocks(self.now, cpu);
                }
                self.stopped(id, cpu, false);
                if self.tasks[id as usize].state == TaskState::Exited {
                    self.exit_task(id);
                }
                self.switch_after_leave(cpu)
            }
        }
    }

    /// The scheduler tick, CPU by CPU (see [`Machine::tick_wants_yield`]):
    /// a task that must yield stops now and the CPU dispatches, as at the
    /// end of a slice.
    fn on_tick(&mut self) -> Result<(), SimError> {
        // The CPUs' ticks are separate interrupts whose order varies: each
        // tick starts at the next CPU.
        let n = self.cpus.len() as u32;
        self.ticks += 1;
        let first = (self.ticks % u64::from(n)) as u32;
        for cpu in (0..n).map(|i| (first + i) % n) {
            if let CpuState::Task { task, .. } = self.cpus[cpu as usize].state {
                if self.cpus[cpu as usize].late_tick_for == Some((task, self.tasks[task as usize].start_ts)) {
                    // Its late tick is on its way.
                    continue;
                }
            }
            self.tick_cpu(cpu, true)?;
        }
        Ok(())
    }

    /// The tick on `cpu`: its task yields if it must — at once, or, when
    /// `may_be_late` and a late yield is drawn, when [`Event::LateTick`]
    /// comes and checks again.
    fn tick_cpu(&mut self, cpu: u32, may_be_late: bool) -> Result<(), SimError> {
        let CpuState::Task { task, since } = self.cpus[cpu as usize].state else { return Ok(()) };
        if since > self.now {
            // Held for its start: nothing ran yet.
            return Ok(());
        }
        let t = &self.tasks[task as usize];
        if t.burst_left <= work_done(self.now - since, self.topology.capacity(cpu)) {
            // Its burst ends at this very instant: that event handles it.
            return Ok(());
        }
        let Some(slice_over) = self.tick_wants_yield(cpu, task, since) else { return Ok(()) };
        // A slice over with nothing queued only renews the slice: no switch
        // for a late tick to delay (the recorded lateness is read from
        // switches only, `late_yields`).
        let switches =
            !slice_over || self.cpus[cpu as usize].dsq.head_vtime().is_some() || self.shared.head_vtime().is_some();
        let late = if may_be_late && switches { self.late_yield_rng.pick(&self.late_yields_ns) } else { 0 };
        if late > 0 {
            let start = self.tasks[task as usize].start_ts;
            self.cpus[cpu as usize].late_tick_for = Some((task, start));
            self.events.push(self.now.saturating_add(late), Event::LateTick(cpu, task, start));
            return Ok(());
        }
        self.account(cpu, task, since);
        self.tasks[task as usize].slice_left = 0;
        if !slice_over {
            self.counters.tick_yields += 1;
        }
        self.dispatch(cpu, super::dispatcher::Prev::Task(task))
    }

    /// The late tick for `task`'s run on `cpu` that started at `start`
    /// comes: if that run goes on, the tick's check runs now (and its task
    /// yields if it still must).
    fn on_late_tick(&mut self, cpu: u32, task: TaskId, start: u64) -> Result<(), SimError> {
        if self.cpus[cpu as usize].late_tick_for != Some((task, start)) {
            return Ok(());
        }
        self.cpus[cpu as usize].late_tick_for = None;
        let on = matches!(self.cpus[cpu as usize].state, CpuState::Task { task: t, .. } if t == task);
        if !on || self.tasks[task as usize].start_ts != start {
            return Ok(());
        }
        self.counters.late_ticks += 1;
        self.tick_cpu(cpu, false)
    }

    /// Task `id` used up its burst: it sleeps, blocks, spawns, exits or goes on.
    fn finish_burst(&mut self, id: TaskId) -> Result<AfterBurst, Broken> {
        let role = self.tasks[id as usize].role;
        Ok(match role {
            Role::Hog => {
                self.tasks[id as usize].burst_left = super::tasks::HOG_BURST_NS;
                AfterBurst::Stays
            }
            Role::Periodic { run_ns, sleep_ns } => {
                let sleep = self.rng.jitter(sleep_ns, JITTER_PCT);
                let t = &mut self.tasks[id as usize];
                t.work_units += 1;
                t.burst_left = run_ns;
                self.sleep(id, sleep);
                AfterBurst::Leaves
            }
            Role::Pipe { partner, run_ns, leader } => {
                if !leader {
                    // The follower's answer completes one round trip.
                    self.tasks[partner as usize].work_units += 1;
                }
                let burst = self.rng.jitter(run_ns, JITTER_PCT);
                let paid = self.signal(partner);
                self.tasks[id as usize].burst_left = burst + paid;
                let t = &mut self.tasks[id as usize];
                if t.wake_pending {
                    t.wake_pending = false;
                    AfterBurst::Stays
                } else {
                    t.state = TaskState::Sleeping;
                    AfterBurst::Leaves
                }
            }
            Role::Sender { first_pipe, receivers, next_receiver, message_ns } => {
                return Ok(self.finish_write(id, first_pipe + next_receiver, receivers, message_ns));
            }
            Role::Receiver { pipe, message_ns } => return self.finish_read(id, pipe, message_ns),
            Role::ForkParent { children, child_run_ns, period_ns } => {
                let cpu = self.tasks[id as usize].prev_cpu;
                let mut paid = 0;
                for _ in 0..children {
                    let child_id = self.tasks.len() as TaskId;
                    let run = self.rng.jitter(child_run_ns, JITTER_PCT);
                    let child = SimTask::child_of(&self.tasks[id as usize], id, PID_BASE + child_id as i32, cpu, run);
                    self.tasks.push(child);
                    paid += self.wake_paying(child_id);
                }
                self.tasks[id as usize].burst_left = SPAWN_NS + paid;
                self.sleep(id, period_ns);
                AfterBurst::Leaves
            }
            Role::ForkChild { parent } => {
                self.tasks[parent as usize].work_units += 1;
                self.tasks[id as usize].state = TaskState::Exited;
                AfterBurst::Leaves
            }
            Role::Replay { .. } => {
                let mut woken = Vec::new();
                let next = self.advance_script(id, &mut woken);
                // As a pipe task's message: sent while the task is still on its CPU.
                self.deliver_wakes(woken);
                let t = &mut self.tasks[id as usize];
                match next {
                    ScriptNext::Run => AfterBurst::Stays,
                    ScriptNext::Waits => {
                        t.work_units += 1;
                        t.state = TaskState::Sleeping;
                        AfterBurst::Leaves
                    }
                    ScriptNext::Over => {
                        t.work_units += 1;
                        t.state = TaskState::Exited;
                        AfterBurst::Leaves
                    }
                }
            }
        })
    }

    /// Sender `id` wrote (a write's CPU time spent) to pipe `pipe`: the
    /// message lands, waking the reader of an empty pipe, and the sender
    /// goes on to the next of its `receivers` pipes; or the pipe is full
    /// and the sender blocks on it.
    fn finish_write(&mut self, id: TaskId, pipe: u32, receivers: u32, message_ns: u64) -> AfterBurst {
        let p = &mut self.pipes[pipe as usize];
        if p.messages >= p.capacity {
            // Blocks. Its write's CPU time is spent (the kernel's
            // pipe_write() sleeps before it copies, and copies once woken:
            // the same time, earlier here); woken, it only lands the message.
            p.blocked_writers.push_back(id);
            let t = &mut self.tasks[id as usize];
            t.burst_left = 1;
            t.state = TaskState::Sleeping;
            return AfterBurst::Leaves;
        }
        p.messages += 1;
        let reader = p.reader;
        // Asleep only on an empty pipe: the kernel's pipe_write() wakes the
        // reader when the pipe was empty.
        let mut paid = 0;
        if self.tasks[reader as usize].state == TaskState::Sleeping {
            paid = self.wake_paying(reader);
        }
        let burst = self.rng.jitter(message_ns, JITTER_PCT) + paid;
        let t = &mut self.tasks[id as usize];
        t.burst_left = burst;
        if let Role::Sender { next_receiver, .. } = &mut t.role {
            *next_receiver = (*next_receiver + 1) % receivers;
        }
        AfterBurst::Stays
    }

    /// Receiver `id` read a message from its pipe `pipe`: one blocked
    /// writer is woken, and the receiver reads on while messages are left,
    /// else it blocks.
    fn finish_read(&mut self, id: TaskId, pipe: u32, message_ns: u64) -> Result<AfterBurst, Broken> {
        let p = &mut self.pipes[pipe as usize];
        let Some(left) = p.messages.checked_sub(1) else {
            return Err(Broken::PipeGroup { task: id as usize, what: "read from an empty pipe" });
        };
        p.messages = left;
        // One blocked writer per message read (the kernel wakes one when a
        // page of the pipe frees, and each woken writer the next).
        let paid = match p.blocked_writers.pop_front() {
            Some(w) => self.wake_paying(w),
            None => 0,
        };
        // What it paid for the wakeup counts in its next read (a receiver
        // that blocks now pays it when it runs again).
        let burst = self.rng.jitter(message_ns, JITTER_PCT) + paid;
        let t = &mut self.tasks[id as usize];
        t.work_units += 1;
        t.burst_left = burst;
        if left > 0 {
            Ok(AfterBurst::Stays)
        } else {
            t.state = TaskState::Sleeping;
            Ok(AfterBurst::Leaves)
        }
    }

    /// A running task wakes task `id`: what it pays for that
    /// ([`Machine::wake_cost_ns`]), for its caller to add to its burst.
    fn wake_paying(&mut self, id: TaskId) -> u64 {
        self.wake(id);
        self.wake_cost_ns
    }

    /// Task `id` sleeps for `ns`.
    fn sleep(&mut self, id: TaskId, ns: u64) {
        self.tasks[id as usize].state = TaskState::Sleeping;
        self.events.push(self.now + ns, Event::Wake(id));
    }

    /// A pipe message for task `id`: wakes it if it is blocked, else it
    /// finds the message when its current burst ends. What the sender pays
    /// for it ([`Machine::wake_cost_ns`] for a wakeup, else nothing).
    fn signal(&mut self, id: TaskId) -> u64 {
        if self.tasks[id as usize].state == TaskState::Sleeping {
            self.wake_paying(id)
        } else {
            self.tasks[id as usize].wake_pending = true;
            0
        }
    }

    /// Starts task `id` on `cpu` (the task leaves its queue).
    pub(crate) fn start_task(&mut self, cpu: u32, id: TaskId) {
        self.start_task_held(cpu, id, 0);
    }

    /// Starts task `id` on `cpu` `held` ns from now: the CPU is its from
    /// now on, its run (and its wait's end) begins then; a recording, if
    /// any, has the task that ran there stop now and this one's `running`
    /// then ([`Event::HeldStart`]). A start after the simulated time counts
    /// no wait.
    pub(crate) fn start_task_held(&mut self, cpu: u32, id: TaskId, held: u64) {
        let chosen_at = self.now;
        let now = self.now.saturating_add(held);
        let within = now <= self.end;
        let slice_ns = self.slice_ns;
        let t = &mut self.tasks[id as usize];
        let class_idx = TaskClass::ALL.iter().position(|&c| c == t.class).unwrap_or(0);
        let wait = now - t.runnable_since;
        if within {
            self.waits[class_idx].push(wait);
        }
        let longest = match queue_kind(t) {
            Some(QueueKind::Shared) => &mut self.longest_wait_shared,
            Some(QueueKind::Own) => &mut self.longest_wait_own,
            Some(QueueKind::Pinned) => &mut self.longest_wait_pinned,
            None => &mut 0,
        };
        *longest = (*longest).max(wait);
        if !t.allowed.contains(cpu) {
            self.counters.affinity_violations += 1;
        }
        // A resumed run goes on with the runs before it (the BPF's relay_running).
        if !std::mem::take(&mut t.resumed) {
            t.resumed_ran = 0;
        }
        t.state = TaskState::Running(cpu);
        t.runs += 1;
        t.prev_cpu = cpu;
        t.start_ts = now;
        t.mark_cpu(cpu);
        // The clock follows what runs, but not a vtime that had to be clamped.
        if !t.vtime_clamped && vtime_before(self.vtime_now, t.vtime) {
            self.vtime_now = t.vtime;
        }
        if t.slice_left == 0 {
            t.slice_left = slice_ns;
        }
        let ready = t.runnable_since.max(t.decided_at);
        let c = &mut self.cpus[cpu as usize];
        if let (Some(free), true) = (c.free_since.take(), within) {
            self.free_to_run_ns.push(now - free.max(ready).min(now));
        }
        c.state = CpuState::Task { task: id, since: now };
        // It no longer waits where the fast path placed it (the BPF's relay_running).
        self.fast_waiting_done(id);
        if let Some(r) = &mut self.recorder {
            if held == 0 {
                let t = &self.tasks[id as usize];
                r.running(now, cpu, t.pid, t.vtime, &t.name());
            } else {
                r.preempted(chosen_at, cpu);
            }
        }
        self.plan_end(cpu, id);
        if held > 0 && self.recorder.is_some() {
            self.events.push(now, Event::HeldStart(cpu, self.cpus[cpu as usize].run_seq));
        }
    }

    /// A held task's start comes ([`Machine::start_task_held`]): the
    /// recording's `running`, if it is still that run.
    fn record_held_start(&mut self, cpu: u32, run: u64) {
        let c = &self.cpus[cpu as usize];
        let CpuState::Task { task, .. } = c.state else { return };
        if c.run_seq != run {
            return;
        }
        if let Some(r) = &mut self.recorder {
            let t = &self.tasks[task as usize];
            r.running(self.now, cpu, t.pid, t.vtime, &t.name());
        }
    }

    /// Lets task `id`, still on `cpu`, run on with a fresh default slice.
    pub(crate) fn extend_task(&mut self, cpu: u32, id: TaskId) {
        self.tasks[id as usize].slice_left = self.slice_ns;
        self.cpus[cpu as usize].free_since = None;
        self.cpus[cpu as usize].state = CpuState::Task { task: id, since: self.now };
        self.plan_end(cpu, id);
    }

    /// A preempt kick reaches `cpu`: its task stops now and the CPU
    /// dispatches. `for_user`: the kick of [`Machine::kick_preempt_for_user`]
    /// (counted in `preempt_kicks`), else aging's (`request_aging`).
    fn on_preempt_kick(&mut self, cpu: u32, for_user: bool) -> Result<(), SimError> {
        let CpuState::Task { task, since } = self.cpus[cpu as usize].state else { return Ok(()) };
        if since > self.now {
            // Held for its start: the kick comes when it starts.
            self.events.push(since, if for_user { Event::Preempt(cpu) } else { Event::AgeKick(cpu) });
            return Ok(());
        }
        if self.tasks[task as usize].burst_left <= work_done(self.now - since, self.topology.capacity(cpu)) {
            return Ok(());
        }
        self.account(cpu, task, since);
        self.tasks[task as usize].slice_left = 0;
        if for_user {
            self.counters.preempt_kicks += 1;
        }
        self.dispatch(cpu, super::dispatcher::Prev::Task(task))
    }

    /// Schedules the end of task `id`'s burst on `cpu` (its slice is
    /// checked at ticks), at `cpu`'s speed ([`wall_time`]).
    fn plan_end(&mut self, cpu: u32, id: TaskId) {
        let wall = wall_time(self.tasks[id as usize].burst_left.max(1), self.topology.capacity(cpu));
        let start = match self.cpus[cpu as usize].state {
            CpuState::Task { since, .. } => since.max(self.now),
            _ => self.now,
        };
        let end = start.saturating_add(wall);
        let c = &mut self.cpus[cpu as usize];
        c.run_seq += 1;
        // A hog's burst outlasts the run: no event that could never fire.
        if end <= self.end {
            self.events.push(end, Event::CpuEnd(cpu, c.run_seq));
        }
    }

    /// A start delay of `kind` ([`crate::StartDelays`]): one of its
    /// samples drawn at random, 0 without samples.
    pub(crate) fn start_delay(&mut self, kind: StartKind) -> u64 {
        let samples = match kind {
            StartKind::IdleWake => &self.start_delays.idle_wake_ns,
            StartKind::Switch => &self.start_delays.switch_ns,
            StartKind::AfterPreemptionOrUser => &self.start_delays.after_preemption_or_user_ns,
        };
        self.delay_rng[kind as usize].pick(samples)
    }

    /// `cpu`'s task left it (blocked, slept, exited): it dispatches after
    /// a switch delay, meanwhile taken (kicked), or at once without one.
    pub(crate) fn switch_after_leave(&mut self, cpu: u32) -> Result<(), SimError> {
        let delay = self.start_delay(StartKind::Switch);
        if delay == 0 {
            return self.dispatch(cpu, super::dispatcher::Prev::None);
        }
        self.cpus[cpu as usize].state = CpuState::Kicked;
        self.cpus[cpu as usize].kicked_from_idle = false;
        self.events.push(self.now.saturating_add(delay), Event::Kick(cpu));
        Ok(())
    }

    /// Runs one engine step on `cpu`: the engine drains the queued ring and
    /// sends decisions now; the CPU is busy for the step's cost, after which
    /// the decisions are published and the CPU dispatches again.
    pub(crate) fn start_user_step(&mut self, cpu: u32) -> Result<(), SimError> {
        let mut side = UserSide {
            channels: &mut self.channels,
            cpus: &self.cpus,
            tasks: &self.tasks,
            now_ns: self.now,
            task_shared: self.fast_path.then_some(&self.task_shared),
        };
        let r = self.engine.step(&mut side)?;
        let progress = r.received > 0 || r.sent > 0;
        let extra = if r.sent > 0 { self.step_extra_rng.pick(&self.user_step_extras_ns) } else { 0 };
        let cost = self
            .step_cost_ns
            .saturating_add(self.receive_cost_ns.saturating_mul(r.received as u64))
            .saturating_add(self.decision_cost_ns.saturating_mul(r.sent as u64))
            .saturating_add(extra)
            .max(1);
        self.user.step_progress = progress;
        if progress {
            self.user.last_progress = self.now;
        }
        // The user side answers again: it takes over from the fallback.
        self.fallback_mode = false;
        self.user.running_on = Some(cpu);
        self.user.last_cpu = cpu;
        self.user.kicked = None;
        if let Some(r) = &mut self.recorder {
            r.running(self.now, cpu, USER_PID, 0, "scx_relay");
        }
        let c = &mut self.cpus[cpu as usize];
        c.free_since = None;
        c.state = CpuState::User { since: self.now };
        c.run_seq += 1;
        self.events.push(self.now.saturating_add(cost), Event::CpuEnd(cpu, c.run_seq));
        Ok(())
    }

    /// At the end: charges the runs in progress up to the end time.
    fn close_books(&mut self) {
        let end = self.end;
        for cpu in 0..self.cpus.len() {
            match self.cpus[cpu].state {
                CpuState::Task { task, since } => {
                    let ns = end.saturating_sub(since);
                    self.cpus[cpu].task_ns += ns;
                    self.tasks[task as usize].cpu_ns += ns;
                    self.record(cpu as u32, since, end, Runner::Task(task));
                }
                CpuState::User { since } => {
                    self.cpus[cpu].user_ns += end.saturating_sub(since);
                    self.record(cpu as u32, since, end, Runner::UserScheduler);
                }
                CpuState::Idle | CpuState::Kicked => {}
            }
        }
    }

    /// The longest wait (ns) of a task still runnable but not running at the end.
    pub(crate) fn longest_unfinished_wait(&self) -> u64 {
        self.tasks
            .iter()
            .filter(|t| matches!(t.state, TaskState::InUser | TaskState::Queued(_)))
            .map(|t| self.now.saturating_sub(t.runnable_since))
            .max()
            .unwrap_or(0)
    }

    /// The longest waits by queue, the tasks still queued at the end included.
    pub(crate) fn queue_waits(&self) -> super::QueueWaits {
        let mut q = super::QueueWaits {
            shared_ns: self.longest_wait_shared,
            own_ns: self.longest_wait_own,
            pinned_ns: self.longest_wait_pinned,
        };
        for t in &self.tasks {
            let wait = self.now.saturating_sub(t.runnable_since);
            let longest = match queue_kind(t) {
                Some(QueueKind::Shared) => &mut q.shared_ns,
                Some(QueueKind::Own) => &mut q.own_ns,
                Some(QueueKind::Pinned) => &mut q.pinned_ns,
                None => continue,
            };
            *longest = (*longest).max(wait);
        }
        q
    }

    /// The pipe groups' pipes against their tasks (`timers[t]`: task t's
    /// pending wake timers): a pipe within its capacity; its reader asleep
    /// (on no timer) exactly when the pipe is empty; each blocked writer a
    /// sender asleep on this pipe.
    fn verify_pipes(&self, timers: &[u32]) -> Result<(), Broken> {
        for (index, p) in self.pipes.iter().enumerate() {
            let reader = p.reader as usize;
            let broken = |what| Err(Broken::PipeGroup { task: reader, what });
            if p.messages > p.capacity {
                return broken("its pipe over capacity");
            }
            match self.tasks[reader].state {
                TaskState::Sleeping if p.messages > 0 => return broken("asleep with messages in its pipe"),
                TaskState::Sleeping if timers[reader] > 0 => return broken("asleep on a timer"),
                TaskState::Sleeping => {}
                TaskState::Exited => return broken("exited"),
                _ if p.messages == 0 => return broken("runnable with an empty pipe"),
                _ => {}
            }
            for &w in &p.blocked_writers {
                let t = &self.tasks[w as usize];
                let on_this = matches!(t.role, Role::Sender { first_pipe, next_receiver, .. }
                    if (first_pipe + next_receiver) as usize == index);
                if !on_this || t.state != TaskState::Sleeping {
                    return Err(Broken::PipeGroup { task: w as usize, what: "blocked, not asleep on the pipe" });
                }
            }
        }
        Ok(())
    }

    /// Checks that no task is lost: every runnable task is in exactly one
    /// place (a queue, a CPU, or user space under the watchdog), every
    /// sleeping task has a way to wake up, and every CPU and queue agrees
    /// with the tasks it names.
    pub(crate) fn verify(&self) -> Result<(), Broken> {
        // CPUs agree with their tasks.
        for (c, cpu) in self.cpus.iter().enumerate() {
            match cpu.state {
                CpuState::Task { task, .. } if self.tasks[task as usize].state != TaskState::Running(c as u32) => {
                    return Err(Broken::CpuTask { cpu: c, task, state: self.tasks[task as usize].state });
                }
                CpuState::User { .. } if self.user.running_on != Some(c as u32) => {
                    return Err(Broken::CpuUser { cpu: c, running_on: self.user.running_on });
                }
                _ => {}
            }
        }
        // Queue entries agree with their tasks (so each queued task is in at most one queue).
        let queues = self.cpus.iter().enumerate().map(|(c, cpu)| (QueueId::Local(c as u32), &cpu.dsq));
        let mut queued_entries = 0usize;
        let global = [(QueueId::Shared, &self.shared)];
        for (q, dsq) in queues.chain(global) {
            for t in dsq.tasks() {
                queued_entries += 1;
                if self.tasks[t as usize].state != TaskState::Queued(q) {
                    return Err(Broken::QueueTask { queue: q, task: t, state: self.tasks[t as usize].state });
                }
            }
        }
        // Live watch entries (one per task in user space, unique by generation).
        let live = |&&(_, t, g): &&(u64, TaskId, u64)| {
            let task = &self.tasks[t as usize];
            task.state == TaskState::InUser && task.generation == g
        };
        let live_watch = self.watch.iter().filter(live).count();
        let mut timers = vec![0u32; self.tasks.len()];
        let mut kicks = vec![0u32; self.cpus.len()];
        for ev in self.events.iter() {
            match ev {
                Event::Wake(t) => timers[t as usize] += 1,
                Event::Kick(c) => kicks[c as usize] += 1,
                _ => {}
            }
        }
        if let Some(cpu) = (0..self.cpus.len()).find(|&c| self.cpus[c].state == CpuState::Kicked && kicks[c] == 0) {
            return Err(Broken::KickLost { cpu });
        }
        let (mut queued, mut in_user) = (0usize, 0usize);
        for (id, t) in self.tasks.iter().enumerate() {
            match t.state {
                TaskState::Queued(_) => queued += 1,
                TaskState::InUser => in_user += 1,
                TaskState::Running(c) => {
                    if !matches!(self.cpus[c as usize].state, CpuState::Task { task, .. } if task as usize == id) {
                        return Err(Broken::TaskCpu { task: id, cpu: c, cpu_state: self.cpus[c as usize].state });
                    }
                }
                TaskState::Sleeping => {
                    if let Role::Pipe { partner, .. } = t.role {
                        // One of a pair always holds the message (runnable, or
                        // about to be woken by its first timer).
                        let p = partner as usize;
                        if self.tasks[p].state == TaskState::Sleeping && timers[p] == 0 && timers[id] == 0 {
                            return Err(Broken::PipeLost { task: id, partner });
                        }
                    } else if let Role::Receiver { .. } = t.role {
                        // Checked with its pipe, below.
                    } else if let Role::Sender { first_pipe, next_receiver, .. } = t.role {
                        // Before its first wakeup, on its timer; later,
                        // blocked on a pipe that was full, woken by a read
                        // (one per read, so it may wait while the pipe has
                        // room again).
                        let p = &self.pipes[(first_pipe + next_receiver) as usize];
                        let blocked = p.blocked_writers.contains(&(id as TaskId)) && timers[id] == 0;
                        if !(blocked || (timers[id] == 1 && !t.enabled)) {
                            return Err(Broken::PipeGroup { task: id, what: "asleep, not blocked on its pipe" });
                        }
                    } else if let Role::Replay { .. } = t.role {
                        // Blocked: woken by another task; else asleep on one timer.
                        let want = u32::from(!t.cursor.blocked);
                        if timers[id] != want {
                            return Err(Broken::WakeTimers { task: id, timers: timers[id] });
                        }
                    } else if timers[id] != 1 {
                        return Err(Broken::WakeTimers { task: id, timers: timers[id] });
                    }
                }
                TaskState::Exited => {}
            }
        }
        self.verify_pipes(&timers)?;
        if queued != queued_entries {
            return Err(Broken::QueuedCount { queued, entries: queued_entries });
        }
        if in_user != live_watch {
            return Err(Broken::WatchCount { in_user, watched: live_watch });
        }
        if in_user > 0 && !self.watchdog_armed {
            return Err(Broken::NoWatchdog { in_user });
        }
        Ok(())
    }
}

/// The work (ns at full speed) a CPU of `capacity` (out of
/// [`CAPACITY_SCALE`]) does in `elapsed` ns of wall time, rounded down.
pub(crate) fn work_done(elapsed: u64, capacity: u32) -> u64 {
    if capacity >= CAPACITY_SCALE {
        return elapsed;
    }
    (u128::from(elapsed) * u128::from(capacity) / u128::from(CAPACITY_SCALE)) as u64
}

/// The wall time (ns) a CPU of `capacity` takes for `work` ns of work at
/// full speed, rounded up: the least `t` with `work_done(t) >= work`.
pub(crate) fn wall_time(work: u64, capacity: u32) -> u64 {
    if capacity >= CAPACITY_SCALE {
        return work;
    }
    let t = (u128::from(work) * u128::from(CAPACITY_SCALE)).div_ceil(u128::from(capacity.max(1)));
    t.min(u128::from(u64::MAX)) as u64
}

/// Which of [`super::QueueWaits`]' queues a queued task waits in.
#[derive(Clone, Copy)]
enum QueueKind {
    Shared,
    /// A CPU's own queue, the task allowed other CPUs too.
    Own,
    /// A CPU's own queue, the task allowed that CPU only.
    Pinned,
}

/// The queue `t` waits in, if it is queued.
fn queue_kind(t: &SimTask) -> Option<QueueKind> {
    match t.state {
        TaskState::Queued(QueueId::Shared) => Some(QueueKind::Shared),
        TaskState::Queued(QueueId::Local(_)) if t.allowed.count == 1 => Some(QueueKind::Pinned),
        TaskState::Queued(QueueId::Local(_)) => Some(QueueKind::Own),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each broken invariant keeps the text it had as a `String`, behind
    /// `SimError`'s prefix, and stays reachable as the error's source.
    #[test]
    fn invariant_messages() {
        let e = SimError::from(Broken::CpuTask { cpu: 1, task: 4, state: TaskState::Sleeping });
        assert_eq!(e.to_string(), "simulator invariant broken: cpu 1 runs task 4 whose state is Sleeping");
        assert!(std::error::Error::source(&e).is_some());
        for (b, text) in [
            (
                Broken::CpuUser { cpu: 0, running_on: Some(2) },
                "cpu 0 runs the user scheduler, which thinks it is on Some(2)",
            ),
            (Broken::PipeLost { task: 3, partner: 4 }, "pipe tasks 3 and 4 both blocked: lost"),
            (
                Broken::PipeGroup { task: 5, what: "read from an empty pipe" },
                "pipe group task 5: read from an empty pipe",
            ),
            (Broken::WakeTimers { task: 5, timers: 2 }, "sleeping task 5 has 2 wake timers"),
            (Broken::QueuedCount { queued: 2, entries: 1 }, "2 tasks queued but 1 queue entries"),
            (Broken::WatchCount { in_user: 2, watched: 0 }, "2 tasks in user space but 0 under the watchdog"),
            (Broken::NoWatchdog { in_user: 1 }, "1 tasks in user space and no watchdog armed"),
            (Broken::RunEndedIdle { cpu: 7 }, "cpu 7: run ended on an idle CPU"),
            (Broken::KickLost { cpu: 3 }, "cpu 3 is kicked, but no kick is pending for it"),
            (Broken::BurstLeft { cpu: 7, task: 9 }, "cpu 7: task 9 ended a run with its burst left"),
        ] {
            assert_eq!(Invariant::from(b).to_string(), text);
        }
    }

    /// A CPU of capacity c does c/1024 of the work per ns; a burst's wall
    /// time is the least time in which that work is done.
    #[test]
    fn capacity_scales_run_time() {
        assert_eq!((work_done(1_000, 1024), wall_time(1_000, 1024)), (1_000, 1_000));
        assert_eq!((work_done(1_000, 512), wall_time(1_000, 512)), (500, 2_000));
        assert_eq!(wall_time(1_000, 300), 3_414, "1000 × 1024 / 300, rounded up");
        for (work, cap) in [(1_000, 300), (7, 3), (5_000_001, 1000), (1, 1)] {
            let t = wall_time(work, cap);
            assert!(work_done(t, cap) >= work && work_done(t - 1, cap) < work, "{work} at {cap}");
        }
        assert_eq!(wall_time(u64::MAX, 1), u64::MAX, "saturates");
    }
}
