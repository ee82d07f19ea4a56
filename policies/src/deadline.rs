//! `deadline`: upstream scx_rustland's ordering rule.
//!
//! Each task carries a weight-scaled virtual runtime (`vtime`, kept by the
//! kernel in `p->scx.dsq_vtime` and echoed back in every [`QueuedTask`]):
//!
//! 1. a new task (`vtime == 0`) starts at the global `vruntime_now`: no
//!    initial penalty, no head start;
//! 2. a task that slept keeps at most one slice of credit:
//!    `vtime = max(vtime, vruntime_now - slice)`;
//! 3. its last run is charged scaled by weight:
//!    `vtime += last_run * 100 / weight`, and `vruntime_now` grows by as much;
//! 4. it is ordered by `deadline = vtime + min(exec_runtime, 100 * slice)`,
//!    where `exec_runtime` is the CPU time used since it last slept: tasks
//!    that sleep often and run briefly come first.
//!
//! The deadline is what the decision sends as the queue's ordering key (so
//! per-CPU and shared queues keep the policy's order), and therefore what
//! comes back as `vtime` next time: as upstream, a task that runs long
//! without sleeping drifts ahead, which step 2 and the cap in step 4 bound.
//!
//! **Bounded wait.** A waiting task's deadline `D` is fixed while it waits;
//! every task arriving later has a deadline of at least `vruntime_now - slice`,
//! and `vruntime_now` grows with every run charged. So once runs worth
//! `D - vruntime_now + slice` of virtual time (at most `101 * slice` in
//! weight-100 units) have been charged, nothing new can sort ahead of it:
//! its wait is bounded by that amount of CPU time spread over the CPUs.

use std::{cmp::Reverse, collections::BinaryHeap};

use scheduler_core::{task::WEIGHT_DEFAULT, Decision, Policy, QueuedTask, SchedContext};

use crate::{placement::prev_cpu_if_idle, PolicyConfig};

/// A queued task with its deadline; ordered by (deadline, arrival).
#[derive(Debug, Clone, Copy)]
struct Entry {
    deadline: u64,
    seq: u64,
    task: QueuedTask,
}

crate::ordered::ordered_by_key_then_arrival!(Entry, deadline);

/// Earliest deadline first over weight-scaled virtual runtime.
#[derive(Debug)]
pub struct Deadline {
    queue: BinaryHeap<Reverse<Entry>>,
    /// Global virtual clock (ns of weight-100 time): the sum of charged runs.
    vruntime_now: u64,
    seq: u64,
    slice_ns: u64,
    slice_min_ns: u64,
}

impl Deadline {
    /// An empty policy with room for 4096 tasks before it grows.
    pub fn new(cfg: &PolicyConfig) -> Self {
        Self {
            queue: BinaryHeap::with_capacity(4096),
            vruntime_now: 0,
            seq: 0,
            slice_ns: cfg.slice_ns,
            slice_min_ns: cfg.slice_min_ns,
        }
    }

    /// The global virtual clock.
    pub fn vruntime_now(&self) -> u64 {
        self.vruntime_now
    }

    /// Applies rules 1–4 of the module docs: updates the clock and returns
    /// (vtime, deadline) for `task`.
    pub fn charge(&mut self, task: &QueuedTask) -> (u64, u64) {
        let weight = task.weight.max(1);
        let mut vtime = if task.vtime == 0 {
            self.vruntime_now
        } else {
            task.vtime.max(self.vruntime_now.saturating_sub(self.slice_ns))
        };
        let vslice = task.last_run_ns().saturating_mul(WEIGHT_DEFAULT) / weight;
        vtime = vtime.saturating_add(vslice);
        self.vruntime_now = self.vruntime_now.saturating_add(vslice);
        let deadline = vtime.saturating_add(task.exec_runtime.min(self.slice_ns.saturating_mul(100)));
        (vtime, deadline)
    }

    /// The slice of a task of `weight` while `waiting` tasks are queued on
    /// `nr_cpus` CPUs: the full slice while the queue fits the CPUs,
    /// shrinking as it outgrows them, scaled by weight / 100 (a nice 5 task
    /// gets about a third), within `slice_min..=slice`.
    ///
    /// Weight has to act on the slice too: a CPU whose slice ends takes the
    /// head of what is already queued, so vtime order alone only ranks tasks
    /// queued together and lets low-weight hogs run as long as others.
    pub fn slice_for(&self, waiting: usize, nr_cpus: u32, weight: u64) -> u64 {
        let n = u64::from(nr_cpus.max(1));
        let base = self.slice_ns.saturating_mul(n) / (waiting as u64 + n);
        (base.saturating_mul(weight) / WEIGHT_DEFAULT).clamp(self.slice_min_ns, self.slice_ns.max(self.slice_min_ns))
    }
}

impl Policy for Deadline {
    fn name(&self) -> &str {
        "deadline"
    }

    fn enqueue(&mut self, task: &QueuedTask, _ctx: &SchedContext<'_>) {
        let (vtime, deadline) = self.charge(task);
        self.seq += 1;
        let mut task = *task;
        task.vtime = vtime;
        self.queue.push(Reverse(Entry { deadline, seq: self.seq, task }));
    }

    fn dispatch(&mut self, ctx: &SchedContext<'_>) -> Option<Decision> {
        let Reverse(Entry { deadline, task, .. }) = self.queue.pop()?;
        let slice = self.slice_for(self.queue.len(), ctx.cpus.nr_cpus(), task.weight);
        Some(task.decide(prev_cpu_if_idle(&task, ctx), slice, deadline))
    }

    fn pending(&self) -> usize {
        self.queue.len()
    }

    fn take_all(&mut self, out: &mut Vec<QueuedTask>) {
        // Hand over in deadline order; vtime already includes the charge, so
        // mark the last run as charged to avoid charging it twice.
        while let Some(Reverse(Entry { mut task, .. })) = self.queue.pop() {
            task.start_ts = task.stop_ts;
            out.push(task);
        }
    }
}

#[cfg(test)]
mod tests {
    use scheduler_core::{CpuView, Topology};

    use super::*;

    const SLICE: u64 = 20_000_000;

    fn cfg() -> PolicyConfig {
        PolicyConfig { slice_ns: SLICE, slice_min_ns: 1_000_000 }
    }

    fn busy(n: u32) -> CpuView {
        let mut v = CpuView::new(Topology::uniform(n, 1, n));
        for c in 0..n {
            v.set(c, false, 1, 1);
        }
        v
    }

    fn task(pid: i32, vtime: u64, last_run: u64, exec_runtime: u64, weight: u64) -> QueuedTask {
        let mut t = QueuedTask::new(pid, 0);
        t.vtime = vtime;
        t.start_ts = 1_000;
        t.stop_ts = 1_000 + last_run;
        t.exec_runtime = exec_runtime;
        t.weight = weight;
        t
    }

    fn order(p: &mut Deadline, cpus: &CpuView) -> Vec<i32> {
        let ctx = SchedContext { now_ns: 0, cpus };
        std::iter::from_fn(|| p.dispatch(&ctx)).map(|d| d.pid).collect()
    }

    /// A new task starts at the global clock: no penalty, no head start.
    #[test]
    fn new_task_starts_at_clock() {
        let mut p = Deadline::new(&cfg());
        p.charge(&task(1, 50 * SLICE, 10 * SLICE, 0, 100));
        let clock = p.vruntime_now();
        assert_eq!(clock, 10 * SLICE);
        assert_eq!(p.charge(&task(2, 0, 0, 0, 100)), (clock, clock));
    }

    /// Sleeper credit is capped at one slice behind the clock.
    #[test]
    fn sleeper_credit_capped() {
        let mut p = Deadline::new(&cfg());
        p.charge(&task(1, 1, 10 * SLICE, 0, 100));
        let (vtime, _) = p.charge(&task(2, 1, 0, 0, 100));
        assert_eq!(vtime, p.vruntime_now() - SLICE);
    }

    /// Runtime is charged scaled by weight: a heavier task is charged less.
    #[test]
    fn charge_scales_with_weight() {
        let mut p = Deadline::new(&cfg());
        let base = 100 * SLICE;
        p.charge(&task(9, base, 0, 0, 100));
        let (v_light, _) = p.charge(&task(1, base + SLICE, 1_000_000, 0, 100));
        let (v_heavy, _) = p.charge(&task(2, base + SLICE, 1_000_000, 0, 200));
        assert_eq!(v_light - (base + SLICE), 1_000_000);
        assert_eq!(v_heavy - (base + SLICE), 500_000);
    }

    /// Among equal vruntimes the task that ran less since it slept goes first,
    /// and exec_runtime counts at most 100 slices.
    #[test]
    fn deadline_orders_by_runtime_since_sleep() {
        let cpus = busy(2);
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        let mut p = Deadline::new(&cfg());
        let v = 5 * SLICE;
        p.enqueue(&task(1, v, 0, 900 * SLICE, 100), &ctx);
        p.enqueue(&task(2, v, 0, 3 * SLICE, 100), &ctx);
        p.enqueue(&task(3, v, 0, 1_000, 100), &ctx);
        let ds: Vec<_> = std::iter::from_fn(|| p.dispatch(&ctx)).collect();
        assert_eq!(ds.iter().map(|d| d.pid).collect::<Vec<_>>(), vec![3, 2, 1]);
        assert_eq!(ds[2].vtime, v + 100 * SLICE, "exec_runtime capped at 100 slices");
    }

    /// Equal deadlines keep arrival order.
    #[test]
    fn ties_keep_arrival_order() {
        let cpus = busy(1);
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        let mut p = Deadline::new(&cfg());
        for pid in [4, 2, 8] {
            p.enqueue(&task(pid, 0, 0, 0, 100), &ctx);
        }
        assert_eq!(order(&mut p, &cpus), vec![4, 2, 8]);
    }

    /// The slice is full while the queue fits the CPUs and shrinks past it,
    /// scales with weight, and stays within min..=max.
    #[test]
    fn slice_shrinks_past_cpus_and_scales_with_weight() {
        let p = Deadline::new(&cfg());
        assert_eq!(p.slice_for(0, 4, 100), SLICE);
        assert_eq!(p.slice_for(4, 4, 100), SLICE / 2);
        assert_eq!(p.slice_for(10_000, 4, 100), 1_000_000);
        assert_eq!(p.slice_for(4, 4, 50), SLICE / 4);
        assert_eq!(p.slice_for(0, 4, 1_000), SLICE, "never above the longest slice");
        assert_eq!(p.slice_for(0, 4, 1), 1_000_000, "never below the shortest");
    }

    /// Handing over returns every task in deadline order and empties the policy.
    #[test]
    fn take_all_in_deadline_order() {
        let cpus = busy(1);
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        let mut p = Deadline::new(&cfg());
        p.enqueue(&task(1, 0, 0, 5 * SLICE, 100), &ctx);
        p.enqueue(&task(2, 0, 0, 0, 100), &ctx);
        let mut out = Vec::new();
        p.take_all(&mut out);
        assert_eq!(out.iter().map(|t| t.pid).collect::<Vec<_>>(), vec![2, 1]);
        assert_eq!(p.pending(), 0);
    }
}
