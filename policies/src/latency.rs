//! Which tasks get the dispatcher's wakeup fast path
//! ([`scheduler_core::shared`]), from the statistics it publishes: the one
//! rule `deadline` and `interactive` grant by.
//!
//! A task is **latency-critical** when the dispatcher has seen it wake at
//! least [`MIN_WAKEUPS`] times and:
//!
//! 1. its average burst (CPU time from a wakeup to its next sleep) is at
//!    most [`MAX_BURST_NS`]: a 60 Hz frame of a few ms qualifies (two
//!    frames run back to back, when the first finished after the next
//!    vsync, too), a compiler's run does not;
//! 2. it sleeps most of the time: its average burst is at most
//!    1/[`MAX_CPU_SHARE_INV`] of its average time between wakeups (a task
//!    that wakes often and runs most of the time is a CPU hog in
//!    disguise; but time spent waiting for a CPU looks like sleep here:
//!    see rule 5);
//! 3. its own weight is at least nice 0's: a task niced down (or
//!    SCHED_IDLE) asked to wait, and keeps the policy's order;
//! 4. no grant of it was revoked in the last [`REGRANT_AFTER_NS`]: a task
//!    that overran its budget (twice in a row) or its share goes through the policy's order for a while
//!    before it is trusted again;
//! 5. at least [`MIN_IRQ_WAKE_SHARE`] of its recent wakeups came from
//!    interrupts ([`TaskStats::irq_wake_share`]): a timer's expiry, as a
//!    frame loop's vsync, cyclictest's period and an audio period are, or
//!    a device.
//!
//! Rule 5 keeps out most tasks that wake each other (not those that talk
//! over loopback sockets: a receiver is woken from the network's softirq,
//! which counts as an interrupt). hackbench's pass rules
//! 1 to 4 (short bursts; their time between wakeups is mostly spent
//! waiting for a CPU, which rule 2 cannot tell from sleep), but none of
//! their wakeups is an interrupt's. Granted, each of their wakeups
//! preempted a task that had run `slice_min`: in the simulator
//! (`sim --workload hackbench --cpus 2 --fast-path --wake-cost-ns 125000
//! --decision-cost-ns 64000`) hackbench did 888,489 units of work against
//! 3,060,967 without the fast path (on the guest the difference was
//! within `bench-vm`'s noise: `docs/performance.md`, session 44;
//! `policies/tests/latency_grants.rs` checks both policies' hackbench in
//! the simulator). The
//! price: a thread woken by
//! another thread (a game's render thread woken by its main thread, a
//! compositor's client) waits for the policy's order, as every task did
//! before the fast path. And if the dispatcher doubts its reading of the
//! interrupt context (`irq_context_doubts`), or cannot read it (a kernel
//! not built for x86: `in_interrupt_context()` in `main.bpf.c`), no
//! wakeup counts as an interrupt's and nothing is granted.
//!
//! The rule is checked when a task's wakeup reaches the policy, and a
//! fast-placed wakeup does not: a task granted while a timer woke it that
//! is then woken by other tasks keeps its grant until a wakeup goes
//! through user space again (no CPU for it), or it overruns its budget or
//! its share (the dispatcher's bounds). And a task whose wakeups are about
//! three quarters a timer's can drop under the threshold after a few
//! others, and is granted again once the timer's are back
//! above it.
//!
//! Its grant is **deferrable** ([`FastGrant::deferrable`](field@FastGrant::deferrable): when no CPU can
//! take its wakeup at once, it waits on a CPU whose task has not run
//! `slice_min` yet, in place of the round trip through user space): every
//! grant of rule 5's tasks is. A timer's wakeups come at most once a
//! period, so they do not preempt every task at `slice_min` as a chain of
//! tasks waking each other would.
//!
//! Its effective weight is its own (nice) weight, `QueuedTask::task_weight`:
//! the dispatcher bounds its fast-placed runs to the share of a CPU that
//! weight gets beside one nice-0 task (`shared::fast_share_limit_ns`; half
//! a CPU at nice 0, three quarters at nice -5). Not the share weight with
//! its cgroups' shares, which falls with the number of tasks runnable in
//! its cgroup: in a busy cgroup it would bound a frame loop below the CPU
//! its frames need. Its budget is four times its average burst, within
//! [`MIN_BUDGET_NS`]..=[`MAX_BUDGET_NS`]: room for a frame that takes
//! longer than most (with twice, a TCG guest's frames overran it and lost
//! the grant every few seconds), and a bound on one that does not stop. The dispatcher
//! enforces it, and at most half a CPU per task over 100 ms
//! (`FAST_SHARE_PCT`), whatever the averages said.

use scheduler_core::{shared::IRQ_SHARE_ONE, task::WEIGHT_DEFAULT, FastGrant, QueuedTask, TaskStats};

/// Wakeups the dispatcher must have seen before the averages count.
pub const MIN_WAKEUPS: u32 = 4;
/// Longest average burst of a latency-critical task (ns).
pub const MAX_BURST_NS: u64 = 10_000_000;
/// A latency-critical task runs at most 1/this of its time between wakeups.
pub const MAX_CPU_SHARE_INV: u64 = 4;
/// How long after a revoke a task is not granted again (ns).
pub const REGRANT_AFTER_NS: u64 = 1_000_000_000;
/// The budget in average bursts.
pub const BUDGET_BURSTS: u64 = 4;
/// Smallest budget granted (ns).
pub const MIN_BUDGET_NS: u64 = 2_000_000;
/// Largest budget granted (ns).
pub const MAX_BUDGET_NS: u64 = 20_000_000;
/// Smallest share of its recent wakeups that came from interrupts for a
/// grant (rule 5; in 1/[`IRQ_SHARE_ONE`]: three quarters).
pub const MIN_IRQ_WAKE_SHARE: u32 = IRQ_SHARE_ONE * 3 / 4;

/// The grant for `task` under the rules above, or `None`.
pub fn fast_grant(task: &QueuedTask, stats: &TaskStats, now_ns: u64) -> Option<FastGrant> {
    let sleeps_mostly = stats.avg_wake_period_ns > 0
        && stats.avg_burst_ns.saturating_mul(MAX_CPU_SHARE_INV) <= stats.avg_wake_period_ns;
    let revoked_lately = stats.revoked_ns != 0 && now_ns.saturating_sub(stats.revoked_ns) < REGRANT_AFTER_NS;
    let critical = stats.nr_wakeups >= MIN_WAKEUPS
        && stats.avg_burst_ns <= MAX_BURST_NS
        && sleeps_mostly
        && task.task_weight >= WEIGHT_DEFAULT
        && !revoked_lately
        && stats.irq_wake_share >= MIN_IRQ_WAKE_SHARE;
    critical.then(|| {
        FastGrant::new((BUDGET_BURSTS * stats.avg_burst_ns).clamp(MIN_BUDGET_NS, MAX_BUDGET_NS))
            .at_weight(task.task_weight)
            .deferrable()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn periodic(burst: u64, period: u64) -> TaskStats {
        TaskStats {
            nr_wakeups: 100,
            avg_burst_ns: burst,
            avg_wake_period_ns: period,
            irq_wake_share: IRQ_SHARE_ONE,
            ..Default::default()
        }
    }

    #[test]
    fn periodic_short_bursts_are_granted_four_bursts() {
        let t = QueuedTask::new(1, 0);
        let budget = |burst, period| fast_grant(&t, &periodic(burst, period), 0).map(|g| g.budget_ns);
        // A 60 Hz frame of 3 ms.
        assert_eq!(budget(3 * MS, 16 * MS), Some(12 * MS));
        // Two frames back to back: the ceiling.
        assert_eq!(budget(8 * MS, 33 * MS), Some(MAX_BUDGET_NS));
        // cyclictest: 20 us every 1 ms; the budget's floor.
        assert_eq!(budget(20_000, MS), Some(MIN_BUDGET_NS));
    }

    #[test]
    fn the_grant_carries_the_tasks_own_weight_and_no_preferred_cpu() {
        let t = QueuedTask { task_weight: 2 * WEIGHT_DEFAULT, weight: 100, ..QueuedTask::new(1, 3) };
        let g = fast_grant(&t, &periodic(3 * MS, 16 * MS), 0).unwrap();
        assert_eq!((g.weight, g.preferred_cpu), (Some(2 * WEIGHT_DEFAULT), None), "its own weight, not its share");
    }

    #[test]
    fn hogs_busy_wakers_and_long_bursts_are_not() {
        let t = QueuedTask::new(1, 0);
        assert_eq!(fast_grant(&t, &periodic(11 * MS, 100 * MS), 0), None, "burst too long");
        assert_eq!(fast_grant(&t, &periodic(100_000, 200_000), 0), None, "runs half the time");
        assert_eq!(fast_grant(&t, &periodic(100_000, 0), 0), None, "one wakeup: no period");
        let young = TaskStats { nr_wakeups: MIN_WAKEUPS - 1, ..periodic(MS, 16 * MS) };
        assert_eq!(fast_grant(&t, &young, 0), None, "too few wakeups");
    }

    #[test]
    fn only_tasks_woken_by_interrupts_are_granted_and_their_grants_are_deferrable() {
        let t = QueuedTask::new(1, 0);
        let grant = |share| fast_grant(&t, &TaskStats { irq_wake_share: share, ..periodic(3 * MS, 16 * MS) }, 0);
        assert!(grant(IRQ_SHARE_ONE).unwrap().deferrable, "a frame loop's timer");
        assert!(grant(MIN_IRQ_WAKE_SHARE).unwrap().deferrable, "the threshold");
        assert_eq!(grant(MIN_IRQ_WAKE_SHARE - 1), None, "just under");
        assert_eq!(grant(0), None, "hackbench's: woken by its writers");
        assert!(fast_grant(&t, &periodic(20_000, MS), 0).unwrap().deferrable, "a light task's grant too");
    }

    #[test]
    fn niced_tasks_keep_the_policys_order() {
        let t = QueuedTask { task_weight: scheduler_core::task::nice_to_weight(5), ..QueuedTask::new(1, 0) };
        assert_eq!(fast_grant(&t, &periodic(MS, 16 * MS), 0), None);
    }

    #[test]
    fn a_revoke_holds_for_a_while() {
        let t = QueuedTask::new(1, 0);
        let s = TaskStats { revoked_ns: 5 * MS, revoked: true, ..periodic(MS, 16 * MS) };
        assert_eq!(fast_grant(&t, &s, 5 * MS + REGRANT_AFTER_NS - 1), None);
        assert!(fast_grant(&t, &s, 5 * MS + REGRANT_AFTER_NS).is_some());
    }
}
