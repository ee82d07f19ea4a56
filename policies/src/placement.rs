//! CPU placement shared by the policies.

use scheduler_core::{QueuedTask, SchedContext, Target};

/// The task's previous CPU when it is idle with an empty queue (cache stays
/// warm, no queueing), otherwise the shared queue, where the first allowed
/// CPU that frees up takes it.
///
/// A task is never queued behind busy work on a CPU's own queue: CPUs serve
/// their own queue before the shared one, so tasks parked on busy per-CPU
/// queues (pinned tasks, typically) would starve the shared queue. The
/// simulator showed it: `fifo` on the `affinity` workload left a task waiting
/// 9.6 s — past the kernel's 5 s watchdog — when pinned tasks went to their
/// own CPU's queue. The shared queue is safe for pinned tasks: a CPU only
/// takes from it tasks allowed to run there.
pub(crate) fn prev_cpu_if_idle(task: &QueuedTask, ctx: &SchedContext<'_>) -> Target {
    let prev = task.cpu;
    if ctx.cpus.is_idle(prev) && ctx.cpus.queue_depth(prev) == 0 {
        Target::Cpu(prev)
    } else {
        Target::Any
    }
}
