//! CPU placement shared by the policies.

use scheduler_core::{QueuedTask, SchedContext, Target};

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
