//! CPU placement shared by the policies.

use scheduler_core::{wire::MAX_CPUS, QueuedTask, SchedContext, Target};

/// The task's previous CPU when it is idle with an empty queue (cache stays
/// warm, no queueing), otherwise the shared queue, where the first allowed
/// CPU that frees up takes it.
///
/// A task is never queued behind busy work on a CPU's own queue: there it
/// waits for that CPU alone, while the shared queue goes to whichever CPU
/// frees up first. (When CPUs served their own queue before the shared one,
/// tasks parked on busy per-CPU queues — pinned tasks, typically — starved
/// the shared queue: the simulator showed `fifo` on the `affinity` workload
/// leaving a task waiting 9.6 s, past the kernel's 5 s watchdog. The
/// dispatcher now serves both in one vtime order.) The shared queue is safe
/// for pinned tasks: a CPU only takes from it tasks allowed to run there.
pub(crate) fn prev_cpu_if_idle(task: &QueuedTask, ctx: &SchedContext<'_>) -> Target {
    let prev = task.cpu;
    if ctx.cpus.is_idle(prev) && ctx.cpus.queue_depth(prev) == 0 {
        Target::Cpu(prev)
    } else {
        Target::Any
    }
}

/// The CPUs given a decision in the current engine step. The policy sees
/// the CPUs as the backend refreshed them before the step, so a CPU found
/// free stays free in that view for every decision of the step: without
/// this record, every task placed in one step went to the same CPU (the
/// dispatcher takes work only from a CPU's own queue and the shared one),
/// while other free CPUs stayed idle. A step is known by its `now_ns`. A
/// fixed bit set of `MAX_CPUS` bits: nothing is allocated in the loop.
#[derive(Debug, Default)]
pub(crate) struct StepClaims {
    step_ns: Option<u64>,
    claimed: [u64; MAX_CPUS as usize / 64],
}

impl StepClaims {
    /// Forgets the last step's claims when `ctx` is a new step.
    fn begin(&mut self, ctx: &SchedContext<'_>) {
        if self.step_ns != Some(ctx.now_ns) {
            self.step_ns = Some(ctx.now_ns);
            self.claimed = [0; MAX_CPUS as usize / 64];
        }
    }

    /// Whether `cpu` was given a decision in this step.
    fn claimed(&self, cpu: u32) -> bool {
        self.claimed.get(cpu as usize / 64).is_some_and(|w| w & (1 << (cpu % 64)) != 0)
    }

    /// Records `target`'s CPU, if it names one; returns `target`.
    fn claim(&mut self, target: Target) -> Target {
        if let Target::Cpu(c) = target {
            if let Some(w) = self.claimed.get_mut(c as usize / 64) {
                *w |= 1 << (c % 64);
            }
        }
        target
    }
}

/// Which cores a task should run on, on a hybrid machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Prefer {
    /// Latency-critical: an idle big core, else a big core running batch work.
    Big,
    /// Batch: an idle little core, so that big ones stay free.
    Little,
}

/// [`prev_cpu_if_idle`] with a preference for big or little cores on a
/// hybrid machine ([`scheduler_core::Topology::is_hybrid`]); on any other
/// machine exactly [`prev_cpu_if_idle`]. "Free" below means idle with an
/// empty queue, and a CPU other than the previous one is only chosen for a
/// task allowed on every CPU (a decision names one CPU; the task's mask is
/// not in the record).
///
/// - [`Prefer::Big`]: the previous CPU if it is big and free; else the
///   first free big CPU; else, if the previous CPU is a busy little one,
///   the first big CPU with an empty queue whose running task
///   `displaceable` says may be displaced (the policy's batch work: this
///   task's key is lower, so that task yields at that CPU's next tick once
///   it ran `slice_min`); else as [`prev_cpu_if_idle`]. A busy big previous CPU
///   gets no own-queue decision: the dispatcher's preempt kick for a wakeup
///   runs the user scheduler there, and that CPU takes the shared queue's
///   lowest key right after.
/// - [`Prefer::Little`]: the previous CPU if it is little and free; else
///   the first free little CPU; else as [`prev_cpu_if_idle`] (a big core
///   is still used rather than left idle).
///
/// A CPU given a decision earlier in the same step (`claims`) counts as
/// neither free nor displaceable: one task per CPU and step.
pub(crate) fn hybrid_placement(
    task: &QueuedTask,
    ctx: &SchedContext<'_>,
    prefer: Prefer,
    displaceable: impl Fn(i32) -> bool,
    claims: &mut StepClaims,
) -> Target {
    let cpus = ctx.cpus;
    if !cpus.is_hybrid() {
        return prev_cpu_if_idle(task, ctx);
    }
    claims.begin(ctx);
    let want_big = prefer == Prefer::Big;
    let free = |c: u32| cpus.is_idle(c) && cpus.queue_depth(c) == 0 && !claims.claimed(c);
    let prev = task.cpu;
    if free(prev) && cpus.is_big(prev) == want_big {
        return claims.claim(Target::Cpu(prev));
    }
    let anywhere = task.nr_cpus_allowed >= cpus.nr_cpus();
    if anywhere {
        if let Some(c) = cpus.idle_cpus().find(|&c| cpus.is_big(c) == want_big && free(c)) {
            return claims.claim(Target::Cpu(c));
        }
        if want_big && !cpus.is_big(prev) && !free(prev) {
            let busy_batch = |c: u32| {
                cpus.is_big(c) && cpus.queue_depth(c) == 0 && !claims.claimed(c) && displaceable(cpus.current(c))
            };
            if let Some(c) = (0..cpus.nr_cpus()).find(|&c| busy_batch(c)) {
                return claims.claim(Target::Cpu(c));
            }
        }
    }
    if free(prev) {
        claims.claim(Target::Cpu(prev))
    } else {
        Target::Any
    }
}
