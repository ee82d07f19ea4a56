//! The [`Policy`] trait: the whole of what a scheduling idea has to implement.

use crate::{
    cpu::CpuView,
    shared::{FastGrant, TaskStats},
    task::{Decision, QueuedTask},
};

/// What a policy sees while it works: the clock and the CPUs.
#[derive(Clone, Copy, Debug)]
pub struct SchedContext<'a> {
    /// Now, in ns of the backend's monotonic clock (the kernel's, or simulated).
    pub now_ns: u64,
    /// The CPUs as of the last refresh.
    pub cpus: &'a CpuView,
}

/// A scheduling policy: it receives runnable tasks and produces decisions.
///
/// The engine calls [`Policy::enqueue`] for every task the dispatcher hands
/// over, then [`Policy::dispatch`] until it returns `None` or the decision
/// channel is full. A policy must eventually decide every task it was given
/// (the dispatcher's rescue runs a task held in user space for the stall
/// timeout, and counts it as `rescued`: a policy bug, never a watchdog
/// ejection). Policies are pure logic: no I/O, no system calls, and — for the
/// engine's no-allocation guarantee — no heap allocation per task once their
/// containers have grown (reserve capacity in the constructor).
///
/// The trait is object safe: schedulers hold a `Box<dyn Policy>` and can
/// swap it at run time, handing the queued tasks over with
/// [`Policy::take_all`].
///
/// # Example
///
/// A complete round-robin policy that sends every task to the shared queue
/// with a fixed slice, in arrival order:
///
/// ```
/// use std::collections::VecDeque;
/// use scheduler_core::{Decision, Policy, QueuedTask, SchedContext, Target};
///
/// struct RoundRobin {
///     queue: VecDeque<QueuedTask>,
///     slice_ns: u64,
/// }
///
/// impl Policy for RoundRobin {
///     fn name(&self) -> &str {
///         "round-robin"
///     }
///     fn enqueue(&mut self, task: &QueuedTask, _ctx: &SchedContext<'_>) {
///         self.queue.push_back(*task);
///     }
///     fn dispatch(&mut self, _ctx: &SchedContext<'_>) -> Option<Decision> {
///         let task = self.queue.pop_front()?;
///         Some(task.decide(Target::Any, self.slice_ns, 0))
///     }
///     fn pending(&self) -> usize {
///         self.queue.len()
///     }
///     fn take_all(&mut self, out: &mut Vec<QueuedTask>) {
///         out.extend(self.queue.drain(..));
///     }
/// }
///
/// // Drive it by hand (the engine does this for real):
/// let cpus = scheduler_core::CpuView::new(scheduler_core::Topology::uniform(2, 1, 2));
/// let ctx = SchedContext { now_ns: 0, cpus: &cpus };
/// let mut p: Box<dyn Policy> = Box::new(RoundRobin { queue: VecDeque::with_capacity(64), slice_ns: 5_000_000 });
/// p.enqueue(&QueuedTask::new(10, 0), &ctx);
/// p.enqueue(&QueuedTask::new(11, 1), &ctx);
/// assert_eq!(p.dispatch(&ctx).map(|d| d.pid), Some(10));
/// assert_eq!(p.pending(), 1);
/// ```
pub trait Policy: Send {
    /// Short name, shown in counters and logs (e.g. `"deadline"`).
    fn name(&self) -> &str;

    /// `task` became runnable and waits for a decision. The policy keeps it
    /// until it returns a decision for it from [`Policy::dispatch`].
    fn enqueue(&mut self, task: &QueuedTask, ctx: &SchedContext<'_>);

    /// The next decision to send, or `None` when the policy has nothing it
    /// wants dispatched now.
    fn dispatch(&mut self, ctx: &SchedContext<'_>) -> Option<Decision>;

    /// How many tasks the policy holds (queued, not yet decided).
    fn pending(&self) -> usize;

    /// Moves every held task into `out`, oldest first where the policy has an
    /// order, leaving the policy empty: used to hand tasks to another policy.
    fn take_all(&mut self, out: &mut Vec<QueuedTask>);

    /// Whether `task`'s wakeups take the dispatcher's fast path, and with
    /// what budget ([`crate::shared`]): called right after
    /// [`Policy::enqueue`] for every task whose statistics the dispatcher
    /// publishes, with them. `Some` grants (the dispatcher places the
    /// task's next wakeups itself, at once, until it overruns the budget:
    /// then `stats.revoked` is set until the policy grants again), `None`
    /// withdraws. The default grants nothing: a policy that ignores the
    /// fast path keeps every decision.
    fn fast_path(&mut self, task: &QueuedTask, stats: &TaskStats, ctx: &SchedContext<'_>) -> Option<FastGrant> {
        let _ = (task, stats, ctx);
        None
    }
}
