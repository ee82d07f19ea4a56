//! CPU placement shared by the policies.

use scheduler_core::{QueuedTask, SchedContext, Target};

/// The task's previous CPU when it is idle with an empty queue (cache stays
/// warm, no queueing), otherwise the shared queue, where the first CPU that
/// frees up takes the task. Tasks allowed on a single CPU always go to it:
/// the kernel put them on that CPU, so it is the one they may use.
pub(crate) fn prev_cpu_if_idle(task: &QueuedTask, ctx: &SchedContext<'_>) -> Target {
    let prev = task.cpu;
    if task.nr_cpus_allowed == 1 || (ctx.cpus.is_idle(prev) && ctx.cpus.queue_depth(prev) == 0) {
        Target::Cpu(prev)
    } else {
        Target::Any
    }
}
