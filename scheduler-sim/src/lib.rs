//! The deterministic discrete-event simulator: a model of the BPF
//! dispatcher and a simulated machine and workload, implementing
//! [`Backend`](scheduler_core::Backend) for the real [`Engine`] so that any
//! [`Policy`] runs against it unchanged.
//!
//! ```
//! use std::collections::VecDeque;
//! use scheduler_sim::{simulate, Preset, SimConfig};
//! use scheduler_core::{Decision, Policy, QueuedTask, SchedContext, Target};
//!
//! struct Fifo(VecDeque<QueuedTask>);
//! impl Policy for Fifo {
//!     fn name(&self) -> &str { "fifo" }
//!     fn enqueue(&mut self, t: &QueuedTask, _: &SchedContext<'_>) { self.0.push_back(*t) }
//!     fn dispatch(&mut self, _: &SchedContext<'_>) -> Option<Decision> {
//!         self.0.pop_front().map(|t| t.decide(Target::Any, 5_000_000, 0))
//!     }
//!     fn pending(&self) -> usize { self.0.len() }
//!     fn take_all(&mut self, out: &mut Vec<QueuedTask>) { out.extend(self.0.drain(..)) }
//! }
//!
//! let config = SimConfig { nr_cpus: 4, duration_ns: 50_000_000, workload: Preset::Mixed.into(), ..SimConfig::default() };
//! let report = simulate(&config, Box::new(Fifo(VecDeque::new()))).unwrap();
//! assert!(report.accounting.check().is_ok());
//! println!("{}", report.render_table());
//! ```
//!
//! # Model
//!
//! Time is simulated in ns; events are ordered by (time, insertion), and the
//! only randomness is a seeded SplitMix64, so one configuration and seed
//! give a byte-identical [`Report`].
//!
//! The user scheduler is a task like the others: the dispatcher pulls it
//! onto a CPU (first, before any queue) whenever it has work, and each
//! [`Engine::step`] occupies that CPU for `step_cost_ns + received ×
//! receive_cost_ns + sent × decision_cost_ns`; the step's decisions reach
//! the dispatcher when that time is over. After a step that received and
//! sent nothing it leaves the CPU (the real loop blocks then; the model
//! charges no wake-up), and is pulled again by the next dispatch on any CPU
//! once it has work.
//!
//! The dispatcher (DESIGN.md, "The flow of one task"):
//!
//! * **Wakeup** (`ops.select_cpu`): an idle allowed CPU whose own queue and
//!   the shared queue are empty gets the task directly (a *kernel
//!   dispatch*, no user-space round trip). Otherwise the task is *enqueued*.
//!   A new task comes the same way, starting at `vtime_now` with the
//!   default slice (the BPF's `relay_enable`), but its enqueue is no
//!   wakeup (no `SCX_ENQ_WAKEUP`, as `wake_up_new_task`'s).
//! * **Enqueue** (`ops.enqueue`): the generation is bumped and the task is
//!   written to the queued ring for user space, unless the ring is full
//!   (*congestion*) or the fallback is active: then the dispatcher places
//!   it itself, in the shared queue at `vtime_now` (the largest vtime of an
//!   unclamped decision seen running, as the BPF's `dispatch_in_kernel`), so such tasks queue behind
//!   what user space already decided, in arrival order among themselves.
//!   An idle CPU is kicked to run the user scheduler; with none idle, a
//!   *wakeup* makes the dispatcher kick its CPU to preempt the task there,
//!   if that task ran at least `slice_min` since it started there, or, with
//!   [`SimConfig::preempt_hogs`] (the default), at once if it is a CPU hog, with a whole
//!   `slice` of CPU since it last woke (`SCX_KICK_PREEMPT`, as the BPF's
//!   `wake_usersched` and `cpu_preemptible`; at most one kick per
//!   `slice_min`).
//! * **Dispatch** (`ops.dispatch`, when a CPU is free or kicked): drain up to
//!   [`DISPATCH_BATCH`](scheduler_core::wire::DISPATCH_BATCH) decisions
//!   (`dispatch_max_batch`); then run the user
//!   scheduler first if it has work; else serve the CPU's own queue and the
//!   shared queue in one vtime order (the BPF's `consume_in_vtime_order`):
//!   the shared queue's first task allowed on this CPU if the shared head's
//!   vtime is lower than the own head's, else the own queue's head, else the
//!   shared queue's first allowed task — so neither queue can starve the
//!   other, provided the policy's vtimes advance (equal vtimes go to the own
//!   queue first); else take a task the wakeup fast path placed on another
//!   CPU (below); else let a task whose slice expired run on with a fresh
//!   slice; else go idle. A task whose slice expired and that lost its CPU
//!   is enqueued again (a new generation).
//! * **Tick** (`ops.tick`, every `tick_ns`, 4 ms): slices end only at
//!   ticks (or a preempt kick), as in the kernel; at each tick the running
//!   task of weight `w`, started with key `K` and run `r` ns, yields when
//!   its slice is over, or when it has run at least `slice_min` and either
//!   the user scheduler waits for a CPU and last ran on this one (it needs
//!   one CPU, not all), or the lowest key waiting in a queue this CPU serves
//!   is below `K + r × 1024 / w` — its key advanced by the run in weighted
//!   virtual time — or the head of this CPU's own queue may run here only
//!   while the running task may run elsewhere, and another CPU it may use
//!   idles or runs a task (not fast-placed) started with a key above that
//!   head's (the BPF's `pinned_waiter_displaces`). Keys in weighted virtual time thus give
//!   weighted CPU shares, slices only capping a run; keys that ignore weight
//!   (`fifo`'s arrival counter) make every task yield after `slice_min`
//!   to whatever waits, whatever the weights. The CPUs' ticks fall at the
//!   same instants; which CPU acts first rotates from tick to tick (in the
//!   kernel they are separate interrupts in no fixed order).
//! * **Decisions**: a stale one (the task is no longer in user space under
//!   that generation: the fallback placed it, or it exited) is discarded; a
//!   CPU the task may not use is replaced by an allowed one (*bounced*); a
//!   decision for any CPU sends a task allowed one CPU only to that CPU's
//!   own queue.
//! * **Stall fallback**: every task handed to user space is recorded with
//!   its generation and time. A task still there after the stall timeout is
//!   placed by the dispatcher at the heartbeat timer's next tick (it ticks
//!   every `wire::timer_interval_ns`: a quarter of the timeout, 10 to
//!   250 ms); if the user side also made no progress for
//!   that long, every task it holds is placed and new ones bypass it until
//!   the user scheduler runs a step again (it is pulled as soon as it can
//!   run); decisions it then sends for tasks already placed are stale.
//!
//! * **Aging** (the BPF's, at each heartbeat tick): a task that waited
//!   `AGE_AFTER_MS` (1 s) in a queue gets a CPU that may run it flagged
//!   and kicked (its own queue's CPU; for the shared queue, its previous
//!   CPU if allowed, else its first allowed one). That CPU's next dispatch
//!   runs, before the user scheduler and the queues, a batch of up to 4
//!   overdue tasks it may run (its own queue's first, then the shared
//!   queue's; those within a quarter of `AGE_AFTER_MS` of the longest
//!   wait), back to back; the dispatch after a batch serves the user
//!   scheduler and the queues first, and ages only if they hold nothing
//!   (the BPF's `aged_last`). Counted as `aged`. While a task the wakeup
//!   fast path placed for a CPU waits there (below), that CPU's dispatch
//!   serves its queues, after an aged batch that comes first and before
//!   the user scheduler.
//!
//! * **Shared task context** (the BPF's `task_shared` map,
//!   [`scheduler_core::shared`]): a task claims a slot when it joins (its
//!   creation's first wakeup, `TaskSharedTable::claim`) and frees it when it
//!   exits; with [`SimConfig::fast_path`] (`--fast-path`) the user side's
//!   backend hands the table to the engine
//!   ([`Backend::task_shared`](scheduler_core::Backend::task_shared)), which
//!   writes each received task's [`Policy::fast_path`] answer there
//!   (without it, as the real backend, it hands nothing: no grant). The
//!   dispatcher publishes, with plain stores: at each wakeup (not the
//!   creation) `nr_wakeups += 1`, the period since its last wakeup into
//!   `avg_wake_period_ns` (from its second wakeup on; the first period as
//!   is, then `avg - avg/8 + period/8`), and as `last_waker_pid` the task
//!   running on the CPU the wakeup happens on (a task whose burst's end
//!   wakes it, as a pipe partner; 0 for a timer's wakeup, which the model
//!   places on no CPU); a timer's wakeup counts as one from an interrupt
//!   (the BPF's `in_interrupt_context()`): `nr_irq_wakeups += 1`, and into
//!   `irq_wake_share` (in 1/1024: the first wakeup's 0 or 1024 as is, then
//!   `share - share/8 + sample/8`); at each stop of a run (the task leaves its CPU:
//!   preempted, asleep or exited — a slice renewed in place is no stop) the
//!   run into `runtime_ns`; at a stop not runnable, its CPU time since the
//!   wakeup into `avg_burst_ns` (the same average).
//! * **Wakeup fast path** (the BPF's `fast_place`, `main.bpf.c`): at the
//!   enqueue of a wakeup (after the idle-CPU path did not take it; not when
//!   the fallback is active; before the ring's congestion check, as the
//!   BPF's), a task whose slot holds a valid grant (for its own pid, with a
//!   budget: budget bits of 0 are no grant; not the grant last revoked) and
//!   whose own weight is at least nice 0's (the policy's rule, checked again
//!   at each placement: a renice after the grant counts at once) is placed
//!   by the dispatcher. The CPU (the BPF's `fast_cpu`), among those it may
//!   use: the grant's preferred CPU, if its placement word (the task's own
//!   pid's) names one, it is idle (or kicked) with no fast-placed task
//!   waiting there and it is not the user scheduler's CPU while that runs
//!   or waits; else its own (`ops.select_cpu`'s choice) if idle (or kicked, not yet
//!   running anything) with no fast-placed task waiting there; else an idle
//!   one (the first from its CPU on); else, scanning at most 64 CPUs from
//!   its CPU on and leaving out those where a fast-placed task waits or
//!   that run one, and the user scheduler's CPU (the one it last ran on)
//!   while it runs or waits for a CPU: the first with nothing running
//!   (kicked), else, among those whose task ran `slice_min` at least since
//!   it started there (the BPF's `cpu_ran_slice_min`: a task pinned beside
//!   fast tasks still runs) or, with the hog rule (`preempt_hogs`) and for
//!   a light task (its slot's average burst under a quarter of
//!   `slice_min`), is a CPU hog (a whole slice of CPU since it last woke)
//!   while the rule does not rest on that CPU (the BPF's `fast_hog_rule`:
//!   a fast-placed run that preempted a hog there by the rule rests it
//!   for as long as the run took, from its stop; counted as
//!   `fast_hog_preempts`),
//!   the preferred CPU, else its own (a local preemption; the scan starts
//!   there too), else the one whose task started its
//!   run earliest (on a tie, the first scanned); none left, for a light
//!   task (the hog rule's test) or a deferrable grant (the grant word's
//!   bit), a *deferral* (`fast_cpu`'s): of the CPUs the scan did not leave out that run an
//!   ordinary task (not fast-placed) under neither rule, the one whose
//!   task started its run earliest (on a tie, the first scanned); none of
//!   these, for a light task, the user scheduler's CPU while it runs there or wants a CPU
//!   (if the task may run there and no fast-placed task runs or waits
//!   there: its next dispatch serves the task first); none of these
//!   either: the wakeup goes to user space. So does it when
//!   another fast-placed task already waits on the CPU picked (the BPF's
//!   compare-and-swap on `fast_waiting`). The task goes in that CPU's own
//!   queue at a key below everything the CPU serves (`min(own head, shared
//!   head, vtime_now) - 2^40`, saturating at 0), with a slice of `min(budget, slice_ns)`, and
//!   the CPU's `fast_waiting` names it (one task per CPU; released when that
//!   task starts running, is enqueued again or exits — not when another
//!   task starts there: until then the CPU's dispatch serves its queues
//!   before the user scheduler, as above); an idle CPU is kicked, one
//!   running a task gets a preempt kick (`SCX_KICK_PREEMPT`): the task's
//!   slice ends, it is enqueued again (no wakeup: to user space), and the
//!   CPU dispatches. A task a placement on the woken task's own CPU
//!   preempted goes back into its CPU's queue (the shared one if it was
//!   queued there last) with its key and the slice it had left, unless it
//!   has under a quarter of `slice_min` left or would yield at a tick now
//!   (`fast_resumes`); its resumed run goes on with the runs before it. A deferred placement kicks nothing: the CPU's timer
//!   (the BPF's `fast_kick_timer`, one per CPU, armed again by each
//!   deferral there) fires when its task will have run `slice_min` since it
//!   started there; then (`fast_kick_fn`) nothing if no fast-placed task
//!   waits there any more; an idle CPU is kicked; a CPU kicked or running
//!   the user scheduler gets the timer again in `slice_min` (its next
//!   dispatch serves the waiting task first); the timer
//!   is armed again for the task running there if that one started since
//!   and has not run `slice_min`; else that task is preempted as by the
//!   preempt kick (kicks counted as `fast_timer_kicks`). Meanwhile a CPU
//!   whose dispatch finds nothing in its own queue and the shared queue
//!   takes, from the first other CPU in index order, a deferred
//!   fast-placed task (`fast_waiting_deferred`) that
//!   waits there, heads that CPU's queue (named by its `fast_waiting`) and
//!   may run here (the BPF's `take_fast_waiter`, in `relay_dispatch`;
//!   counted as `fast_moved`); its start releases that CPU's
//!   `fast_waiting`, and its timer then finds no waiter. Counted as
//!   `fast_placed`, and as `fast_preempts` when the CPU ran a task and was
//!   kicked at once, or `fast_deferred` (not part of
//!   `kernel_dispatches`); the slot's `nr_fast_runs` too. The wakeup does
//!   not reach user space.
//! * **Fast-path budget** (the BPF's `fast_accounting`, at every stop): a
//!   fast-placed run lasts from the placement to the task's next stop (or
//!   enqueue); a fast-placed wakeup's burst (`burst_grant`) from the
//!   placement to the task's next wakeup. At every stop of the task the
//!   grant is revoked (`revoked_grant`, `revoked_ns = now`; counted as
//!   `fast_revoked`) if its wakeup was fast-placed and its CPU time since
//!   the wakeup reached the budget (an overrun, `fast_overruns`) for the
//!   [`FAST_OVERRUNS`](scheduler_core::shared::FAST_OVERRUNS)-th
//!   fast-placed wakeup in a row (one that ended within its budget starts
//!   the count again) — whoever placed the run that stops:
//!   the fast-placed run itself, stopping runnable (its slice ended, at a
//!   tick) or asleep (its burst ended first, over the budget: slices end
//!   at ticks), or a later, ordinary run of the same burst — or if this
//!   run was fast-placed and the task's fast-placed runs in the current
//!   window used more than its effective weight (the placement word's at
//!   the run's placement, at most the task's own; nice 0's without one) is due
//!   ([`fast_share_limit_ns`](scheduler_core::shared::fast_share_limit_ns):
//!   [`FAST_SHARE_PCT`](scheduler_core::shared::FAST_SHARE_PCT) % of
//!   [`FAST_WINDOW_MS`](scheduler_core::shared::FAST_WINDOW_MS) at nice 0) (each
//!   fast-placed run's stop adds its run; the window restarts, empty, when
//!   it is older than that). An overrun ends the burst's check; the revoke
//!   names the grant the slot holds now (a policy that changed it in the
//!   middle of the burst had not seen the overrun), none if the policy
//!   withdrew it. A revoked task is not fast-placed until the
//!   policy grants again (a new epoch: its next answer, when the task next
//!   reaches user space).
//!
//! **Capacity.** On a hybrid machine ([`SimConfig::hybrid`]) a CPU of
//! capacity `c` (out of 1024) runs a task at `c / 1024` of full speed: a
//! burst of `b` ns of work takes `b × 1024 / c` ns there (rounded up). A
//! task's CPU time, run time since wakeup and slice count in wall time, as
//! the kernel's do; only the work left in its burst counts in work. The
//! dispatcher's idle-CPU choice (`pick_idle`) ignores capacity, as
//! `scx_bpf_select_cpu_dfl` does.
//!
//! Simplifications, on purpose:
//! - no SMT or cache effects on speed: a CPU runs a task at its capacity
//!   whatever its sibling does (the topology only guides idle-CPU choice and
//!   what policies see);
//! - by default no IPI or context-switch cost: a kicked idle CPU runs at
//!   once, a wakeup onto an idle CPU has zero latency ([`StartDelays`]
//!   adds them; `sim --switch-cost-ns`, [`StartDelays::every`], one for
//!   every start); by default a wakeup costs its waker nothing
//!   ([`SimConfig::wake_cost_ns`], `sim --wake-cost-ns`, adds it);
//! - pipe contents only in [`Behavior::PipeGroup`] (hackbench's; a
//!   [`Behavior::PipePair`] only passes a turn): a pipe holds messages, not
//!   bytes; a write or read costs the same whatever the pipe holds; a
//!   writer that finds the pipe full has spent its write's CPU time (the
//!   kernel's sleeps first and copies once woken); each message read wakes
//!   one blocked writer (the kernel's reader wakes one when a page frees,
//!   and each woken writer the next);
//! - no preemption other than the tick and the dispatcher's preempt kick
//!   (no `SCX_ENQ_PREEMPT`); by default the tick comes on time, every
//!   `tick_ns` on every CPU (`SimConfig::late_yields_ns` makes it late, as
//!   a guest's vCPU under TCG takes it when its turn comes);
//! - by default a fixed user-scheduler cost per decision and step
//!   (`SimConfig::user_step_extras_ns` adds drawn extras);
//! - the user scheduler runs one step per pull; it is never preempted, and
//!   an injected stall that starts during a step takes effect after it;
//! - affinity sets are CPU ranges and never change at run time;
//! - the heartbeat timer rescues, detects stalls and ages (at its ticks,
//!   as the BPF's), but does not wake an idle user scheduler;
//! - no kernel threads or other tasks outside the workload (a replay,
//!   [`Workload::Replay`], replays a recording's kernel threads as tasks
//!   like the others: [`replay`]'s documentation says what a replay keeps);
//! - a decision with slice 0 keeps the task's remaining slice, or gets the
//!   default slice if none is left; a task allowed to run on after its slice
//!   gets the default slice;
//! - queues order vtimes as plain u64s, where the kernel's DSQs compare
//!   wrap-aware: the two agree while vtimes stay below 2^63, which the
//!   clamp of decisions (`wire::clamp_vtime`, also applied here) keeps them
//!   for any clock below 2^62.

mod channel;
mod dispatcher;
mod fast_path;
mod html_report;
mod late_yields;
mod machine;
mod queue;
mod recorder;
pub mod replay;
mod report;
mod rng;
mod tasks;
mod trace;
mod workload;

use serde::Serialize;
use thiserror::Error;

#[doc(hidden)]
pub use fast_path::bench;
pub use html_report::{cdf_curve, comparison_html, share_points, timeline_bars, wait_axis, Bar, TimelineWindow};
pub use late_yields::{late_yields, LateYields, TickRule, LATE_YIELD_SAMPLES};
pub use machine::Invariant;
pub use recorder::USER_PID;
pub use replay::{Replay, ReplayError};
pub use report::{
    Accounting, AccountingError, CdfPoint, ClassReport, CpuSplit, DispatchCounts, Latency, QueueWaits, ReplayFidelity,
    Report, SwitchRecord, TaskReport, Throughput, Utilisation, WaitQuantiles, WaitRatios, CDF_PER_MILLE,
    KERNEL_WATCHDOG_NS,
};
pub use trace::{Runner, Slice, Trace, TraceTask};
pub use workload::{
    nice_to_weight, sched_idle_weight, Affinity, Behavior, Count, Preset, PresetDef, TaskClass, TaskGroup,
    UnknownWorkload, Workload, WorkloadError, JITTER_PCT, PRESETS, SPAWN_NS,
};

use scheduler_core::{
    cpu::{Topology, CAPACITY_SCALE},
    engine::{Engine, EngineConfig, EngineError},
    policy::Policy,
    wire::MAX_CPUS,
};

/// A stall of the user scheduler: from `at_ns` for `duration_ns` it does not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Stall {
    /// Start (ns of simulated time).
    pub at_ns: u64,
    /// Length (ns).
    pub duration_ns: u64,
}

/// A hybrid machine: the first `big_cpus` CPUs are big cores (capacity
/// 1024), the others little cores of capacity `little_capacity` (out of
/// 1024), which run a task at `little_capacity / 1024` of a big core's speed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Hybrid {
    /// Big CPUs, 1..=`nr_cpus`: CPUs `0..big_cpus`.
    pub big_cpus: u32,
    /// Capacity of the little CPUs, 1..=1024.
    pub little_capacity: u32,
}

/// What to simulate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimConfig {
    /// CPUs, 1..=1024.
    pub nr_cpus: u32,
    /// Hardware threads per core (siblings are adjacent CPUs).
    pub smt: u32,
    /// Cores per last-level cache.
    pub cores_per_llc: u32,
    /// A hybrid machine (big and little cores); `None`: every CPU big.
    pub hybrid: Option<Hybrid>,
    /// Simulated time (ns), > 0.
    pub duration_ns: u64,
    /// Seed of the workload's randomness (start times, durations marked "about").
    pub seed: u64,
    /// The tasks.
    pub workload: Workload,
    /// The dispatcher's default slice (ns): for tasks it places itself and
    /// decisions with slice 0.
    pub slice_ns: u64,
    /// How long a task runs before the tick may make it yield to waiting
    /// work (ns): the dispatcher's `slice_min_ns` (`--slice-min-us`).
    pub slice_min_ns: u64,
    /// The kernel's scheduler tick period (ns), > 0: 4 ms (`HZ=250`, as
    /// Debian's kernel). Slices end, and running tasks yield, at ticks only.
    pub tick_ns: u64,
    /// User-scheduler CPU time per decision sent (ns).
    pub decision_cost_ns: u64,
    /// User-scheduler CPU time per task received (ns).
    pub receive_cost_ns: u64,
    /// User-scheduler CPU time per engine step, on top of the above (ns).
    pub step_cost_ns: u64,
    /// An injected stall of the user scheduler.
    pub stall: Option<Stall>,
    /// How long a task may stay in user space (and the user side stay
    /// silent) before the dispatcher places it itself (ns), > 0.
    pub stall_timeout_ns: u64,
    /// Capacity of the decision channel (decisions).
    pub channel_capacity: usize,
    /// Capacity of the queued ring (tasks).
    pub queued_capacity: usize,
    /// The engine's batch sizes.
    pub engine: EngineConfig,
    /// Check the no-task-lost invariants after every event (slow; for
    /// tests). They are always checked at the end.
    pub check_invariants: bool,
    /// How long a free CPU takes to start what it runs next; none by
    /// default (a free CPU dispatches at once).
    pub start_delays: StartDelays,
    /// CPU time a running task spends per task it wakes (ns), added to its
    /// next burst: the kernel runs `try_to_wake_up()`, and with it the
    /// scheduler's `ops.select_cpu` and `ops.enqueue`, in the waker's
    /// context, so the waker's runtime holds it. 0 by default. Charged for
    /// the wakeups a model task makes (a pipe's writer or reader, a pipe
    /// pair's turn, a fork's children), not a replayed task's (its recorded
    /// runs hold what it paid) nor a timer's.
    pub wake_cost_ns: u64,
    /// How late the tick makes a running task yield (ns), drawn at random
    /// from these samples (a stream fixed by the seed) each time a tick
    /// finds a task that must yield (a lower key waiting, the user
    /// scheduler's turn, its slice over with something queued; not a slice
    /// over with nothing queued, which only renews the slice); empty by
    /// default: it yields at that tick. Until the drawn time the CPU's ticks do not look at that run;
    /// then the tick's check runs again, as a late tick would, and the
    /// task yields if it still must. `sim --recorded-costs` takes them
    /// from the replayed recording ([`late_yields`]).
    pub late_yields_ns: Vec<u64>,
    /// User-scheduler CPU time added to each step that sends decisions
    /// (ns), drawn at random from these samples (a stream fixed by the
    /// seed), on top of `decision_cost_ns` per decision; empty by default.
    /// `sim --recorded-costs` takes the recorded machine's
    /// ([`replay::RecordedCosts::run_extras_ns`]): what each run of its user
    /// scheduler took beyond its decisions' base cost (a guest's vCPU may
    /// stop for milliseconds in one run, not in most); with the mean cost
    /// per decision instead, every wakeup waited for an average run, and
    /// with a cost per decision drawn run by run, a step of many decisions
    /// that drew a stopped run's cost took a stop per decision.
    pub user_step_extras_ns: Vec<u64>,
    /// The dispatcher's wakeup fast path is on (`--fast-path`, off by
    /// default as on the real command): user space sees the per-task
    /// context and its policy's grants apply. Off, no grant is published,
    /// so nothing is fast-placed.
    pub fast_path: bool,
    /// The user hand-off preempts a CPU hog at once (on by default as on
    /// the real command, off with `--no-preempt-hogs`): see the
    /// dispatcher's rules above.
    pub preempt_hogs: bool,
}

/// How long a free CPU takes to dispatch: an idle CPU's wake-up, a context
/// switch and the dispatch path, which the model leaves out by default (a
/// free CPU dispatches at once). Each kick of an idle CPU, and each CPU
/// whose task left, draws one of the samples of its kind at random, from
/// a stream fixed by the seed (whether or not something runs after); with
/// no samples of a kind, it dispatches at once. `sim --recorded-costs`
/// takes them from the replayed recording
/// ([`replay::Replay::recorded_costs`]). A CPU whose task is preempted or
/// yields at a tick, and one that ran the user scheduler, dispatch at once,
/// but the task they choose (not the one they ran) starts after a drawn
/// delay of the third kind, the CPU held for it meanwhile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartDelays {
    /// An idle CPU kicked (to run a task, or the user scheduler): from the
    /// kick to its dispatch (ns).
    pub idle_wake_ns: Vec<u64>,
    /// A CPU whose task blocked, slept or exited: from that stop to its
    /// next dispatch (ns).
    pub switch_ns: Vec<u64>,
    /// A CPU that preempted its task (or whose task yielded at a tick), or
    /// ran the user scheduler, and chose another task: from that choice to
    /// the task's start (ns).
    pub after_preemption_or_user_ns: Vec<u64>,
}

impl StartDelays {
    /// The same delay `ns` for every kind of start (`sim --switch-cost-ns`);
    /// none for 0.
    pub fn every(ns: u64) -> Self {
        if ns == 0 {
            return Self::default();
        }
        Self { idle_wake_ns: vec![ns], switch_ns: vec![ns], after_preemption_or_user_ns: vec![ns] }
    }
}

impl Default for SimConfig {
    /// 8 CPUs in one LLC, all big, 1 s of `mixed`, seed 1, 5 ms slices, 1 ms
    /// `slice_min`, a 4 ms tick, 1 µs per decision, 0.25 µs per task
    /// received, 1 µs per step, no stall, 100 ms stall timeout, 4096-entry
    /// rings (as upstream), no start delays, no late yields, no drawn
    /// step extras, the fast path off.
    fn default() -> Self {
        Self {
            nr_cpus: 8,
            smt: 1,
            cores_per_llc: 8,
            hybrid: None,
            duration_ns: 1_000_000_000,
            seed: 1,
            workload: Workload::default(),
            slice_ns: 5_000_000,
            slice_min_ns: 1_000_000,
            tick_ns: 4_000_000,
            decision_cost_ns: 1_000,
            receive_cost_ns: 250,
            step_cost_ns: 1_000,
            stall: None,
            stall_timeout_ns: 100_000_000,
            channel_capacity: 4096,
            queued_capacity: 4096,
            engine: EngineConfig::default(),
            check_invariants: false,
            start_delays: StartDelays::default(),
            wake_cost_ns: 0,
            late_yields_ns: Vec::new(),
            user_step_extras_ns: Vec::new(),
            fast_path: false,
            preempt_hogs: true,
        }
    }
}

/// Why a simulation could not run or finish.
#[derive(Debug, Error)]
pub enum SimError {
    /// `nr_cpus` is 0.
    #[error("the machine needs at least one CPU")]
    NoCpus,
    /// `nr_cpus` exceeds what the dispatcher supports.
    #[error("{0} CPUs is more than the {MAX_CPUS} supported")]
    TooManyCpus(u32),
    /// `duration_ns` is 0.
    #[error("the simulated duration must be > 0")]
    ZeroDuration,
    /// The hybrid machine's big CPUs are not within 1..=nr_cpus, or its
    /// little capacity not within 1..=1024.
    #[error("a hybrid machine needs 1 to {nr_cpus} big CPUs (not {big_cpus}) and a little capacity from 1 to 1024 (not {little_capacity})")]
    Hybrid {
        /// The CPUs.
        nr_cpus: u32,
        /// The big CPUs asked for.
        big_cpus: u32,
        /// The little CPUs' capacity asked for.
        little_capacity: u32,
    },
    /// A setting that must be positive is 0.
    #[error("{0} must be > 0")]
    Zero(&'static str),
    /// A workload group does not fit the machine.
    #[error("workload: {0}")]
    Workload(#[from] WorkloadError),
    /// A replay on a machine whose CPU count is not the recording's.
    #[error("the recording was made on {recorded} CPUs; the replay runs on as many, not {nr_cpus}")]
    ReplayCpus {
        /// The recording's CPUs.
        recorded: u32,
        /// The machine's.
        nr_cpus: u32,
    },
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// An internal consistency check failed (a task was lost): a simulator bug.
    #[error("simulator invariant broken: {0}")]
    Invariant(#[from] Invariant),
}

impl SimConfig {
    /// The simulated machine's topology: [`Topology::uniform`], or
    /// [`Topology::hybrid`] with [`SimConfig::hybrid`].
    pub fn topology(&self) -> Topology {
        match self.hybrid {
            None => Topology::uniform(self.nr_cpus, self.smt, self.cores_per_llc),
            Some(h) => Topology::hybrid(self.nr_cpus, self.smt, self.cores_per_llc, h.big_cpus, h.little_capacity),
        }
    }

    /// Checks the configuration.
    pub fn validate(&self) -> Result<(), SimError> {
        if self.nr_cpus == 0 {
            return Err(SimError::NoCpus);
        }
        if self.nr_cpus > MAX_CPUS {
            return Err(SimError::TooManyCpus(self.nr_cpus));
        }
        if self.duration_ns == 0 {
            return Err(SimError::ZeroDuration);
        }
        for (value, name) in [
            (self.smt as u64, "smt"),
            (self.cores_per_llc as u64, "cores_per_llc"),
            (self.slice_ns, "slice_ns"),
            (self.tick_ns, "tick_ns"),
            (self.stall_timeout_ns, "stall_timeout_ns"),
            (self.channel_capacity as u64, "channel_capacity"),
            (self.queued_capacity as u64, "queued_capacity"),
        ] {
            if value == 0 {
                return Err(SimError::Zero(name));
            }
        }
        if let Some(h) = self.hybrid {
            if !(1..=self.nr_cpus).contains(&h.big_cpus) || !(1..=CAPACITY_SCALE).contains(&h.little_capacity) {
                return Err(SimError::Hybrid {
                    nr_cpus: self.nr_cpus,
                    big_cpus: h.big_cpus,
                    little_capacity: h.little_capacity,
                });
            }
        }
        for g in self.workload.groups() {
            g.validate(self.nr_cpus)?;
        }
        if let Some(r) = self.workload.replay() {
            if r.nr_cpus != self.nr_cpus {
                return Err(SimError::ReplayCpus { recorded: r.nr_cpus, nr_cpus: self.nr_cpus });
            }
        }
        Ok(())
    }
}

/// Runs `policy` against the simulated machine and workload of `config`.
pub fn simulate(config: &SimConfig, policy: Box<dyn Policy>) -> Result<Report, SimError> {
    simulate_with_switches(config, policy, Vec::new())
}

/// A live policy switch: at `at_ns` the user scheduler replaces its policy
/// with `policy` ([`Engine::switch_policy`], as `scx_relay ctl policy` does).
pub struct PolicySwitch {
    /// When (ns of simulated time).
    pub at_ns: u64,
    /// The policy to switch to.
    pub policy: Box<dyn Policy>,
}

/// Runs `policy` as [`simulate`] does, switching policies live as
/// `switches` say; the report lists each switch with the tasks handed over.
pub fn simulate_with_switches(
    config: &SimConfig,
    policy: Box<dyn Policy>,
    switches: Vec<PolicySwitch>,
) -> Result<Report, SimError> {
    run(config, policy, switches, false).map(|(report, _)| report)
}

/// Runs `policy` as [`simulate`] does, and returns with the report the
/// timeline of every run on every CPU ([`Trace`]).
pub fn simulate_traced(config: &SimConfig, policy: Box<dyn Policy>) -> Result<(Report, Trace), SimError> {
    let (report, trace) = run(config, policy, Vec::new(), true)?;
    Ok((report, trace.unwrap_or_default()))
}

/// Runs `policy` as [`simulate`] does, and returns with the report the
/// run's scheduling events as `scx_relay record` would have written them on
/// a machine that behaves as the model (the module `recorder` says how each
/// is written; the user scheduler is pid [`USER_PID`]). Replaying it
/// ([`Replay::from_recording`]) under the same policy and model checks the
/// replay against a recording whose answer is known.
pub fn simulate_recorded(
    config: &SimConfig,
    policy: Box<dyn Policy>,
) -> Result<(Report, scheduler_core::record::Recording), SimError> {
    config.validate()?;
    let topology = config.topology();
    let engine = Engine::new(policy, topology.clone(), config.engine);
    let mut machine = machine::Machine::new(config, engine, topology);
    machine.recorder = Some(recorder::SimRecorder::new(config.nr_cpus));
    machine.run()?;
    let report = report::build(config, &mut machine);
    let flags = if config.preempt_hogs { scheduler_core::record::HOG_RULE } else { 0 };
    let recording =
        machine.recorder.take().map(|r| r.finish(config.nr_cpus, config.duration_ns, flags)).unwrap_or_default();
    Ok((report, recording))
}

fn run(
    config: &SimConfig,
    policy: Box<dyn Policy>,
    switches: Vec<PolicySwitch>,
    traced: bool,
) -> Result<(Report, Option<Trace>), SimError> {
    config.validate()?;
    let topology = config.topology();
    let engine = Engine::new(policy, topology.clone(), config.engine);
    let mut machine = machine::Machine::new(config, engine, topology);
    if traced {
        machine.trace = Some(Vec::new());
    }
    machine.plan_switches(switches);
    machine.run()?;
    let report = report::build(config, &mut machine);
    let trace = machine.trace.take().map(|slices| Trace {
        title: format!("scx_relay sim: {} on {}", report.policy, report.workload),
        nr_cpus: config.nr_cpus,
        tasks: machine.tasks.iter().map(|t| TraceTask { name: t.name(), pid: t.pid, class: Some(t.class) }).collect(),
        slices,
    });
    Ok((report, trace))
}
