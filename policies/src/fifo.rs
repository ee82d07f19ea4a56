//! `fifo`: tasks run in arrival order; the slice shrinks as the queue grows
//! (as upstream `scx_rlfifo` does), so a long queue turns over quickly.
//!
//! **Weight-blind**, like `scx_rlfifo`: nice levels, SCHED_IDLE and cgroup
//! weights do not change a task's share. The key it sends is an arrival
//! counter, far below any task's key advanced by its run, so the
//! dispatcher's tick makes a running task yield to whatever waits once it
//! has run `slice_min`: CPU hogs alternate 1 : 1 whatever their weights
//! (measured in `policies/tests/weight_shares.rs`). Use any other policy
//! for weighted shares.

use std::collections::VecDeque;

use scheduler_core::{Decision, Policy, QueuedTask, SchedContext};

use crate::{placement::prev_cpu_if_idle, PolicyConfig};

/// First in, first out; weight-blind (see the module docs).
#[derive(Debug)]
pub struct Fifo {
    queue: VecDeque<QueuedTask>,
    /// Arrival counter, sent as the vtime so shared queues keep arrival order.
    seq: u64,
    slice_ns: u64,
    slice_min_ns: u64,
}

impl Fifo {
    /// An empty FIFO with room for 4096 tasks before it grows.
    pub fn new(cfg: &PolicyConfig) -> Self {
        Self { queue: VecDeque::with_capacity(4096), seq: 0, slice_ns: cfg.slice_ns, slice_min_ns: cfg.slice_min_ns }
    }

    /// The slice for the next task while `waiting` tasks are queued.
    pub fn slice_for(&self, waiting: usize) -> u64 {
        (self.slice_ns / (waiting as u64 + 1)).max(self.slice_min_ns)
    }
}

impl Policy for Fifo {
    fn name(&self) -> &str {
        "fifo"
    }

    fn enqueue(&mut self, task: &QueuedTask, _ctx: &SchedContext<'_>) {
        self.queue.push_back(*task);
    }

    fn dispatch(&mut self, ctx: &SchedContext<'_>) -> Option<Decision> {
        let task = self.queue.pop_front()?;
        let slice = self.slice_for(self.queue.len());
        self.seq += 1;
        Some(task.decide(prev_cpu_if_idle(&task, ctx), slice, self.seq))
    }

    fn pending(&self) -> usize {
        self.queue.len()
    }

    fn take_all(&mut self, out: &mut Vec<QueuedTask>) {
        out.extend(self.queue.drain(..));
    }
}

#[cfg(test)]
mod tests {
    use scheduler_core::{CpuView, Target, Topology};

    use super::*;

    fn busy_cpus(n: u32) -> CpuView {
        let mut v = CpuView::new(Topology::uniform(n, 1, n));
        for c in 0..n {
            v.set(c, false, 1, 1000 + c as i32);
        }
        v
    }

    /// Tasks come out in the order they went in, with increasing vtime.
    #[test]
    fn arrival_order() {
        let cpus = busy_cpus(4);
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        let mut p = Fifo::new(&PolicyConfig::default());
        for pid in [5, 3, 9, 1] {
            p.enqueue(&QueuedTask::new(pid, 0), &ctx);
        }
        let out: Vec<_> = std::iter::from_fn(|| p.dispatch(&ctx)).collect();
        assert_eq!(out.iter().map(|d| d.pid).collect::<Vec<_>>(), vec![5, 3, 9, 1]);
        assert!(out.windows(2).all(|w| w[0].vtime < w[1].vtime));
        assert!(out.iter().all(|d| d.target == Target::Any), "no CPU idle: shared queue");
    }

    /// The slice is `slice / (waiting + 1)`, never below `slice_min`.
    #[test]
    fn slice_shrinks_with_queue() {
        let cpus = busy_cpus(1);
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        let mut p = Fifo::new(&PolicyConfig { slice_ns: 20_000_000, slice_min_ns: 1_000_000, nr_cpus: 0 });
        for pid in 1..=100 {
            p.enqueue(&QueuedTask::new(pid, 0), &ctx);
        }
        assert_eq!(p.dispatch(&ctx).unwrap().slice_ns, 1_000_000, "99 waiting: clamped to min");
        while p.pending() > 3 {
            p.dispatch(&ctx);
        }
        assert_eq!(p.dispatch(&ctx).unwrap().slice_ns, 20_000_000 / 3);
        p.dispatch(&ctx);
        assert_eq!(p.dispatch(&ctx).unwrap().slice_ns, 20_000_000, "alone: full slice");
    }

    /// An idle previous CPU with an empty queue gets the task back; a busy
    /// one never queues it, pinned or not (shared queue instead).
    #[test]
    fn placement() {
        let mut cpus = busy_cpus(4);
        cpus.set(2, true, 0, 0);
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        let mut p = Fifo::new(&PolicyConfig::default());
        p.enqueue(&QueuedTask::new(1, 2), &ctx);
        let mut pinned = QueuedTask::new(2, 3);
        pinned.nr_cpus_allowed = 1;
        p.enqueue(&pinned, &ctx);
        assert_eq!(p.dispatch(&ctx).unwrap().target, Target::Cpu(2));
        assert_eq!(p.dispatch(&ctx).unwrap().target, Target::Any);
    }

    /// Handing over empties the queue in arrival order.
    #[test]
    fn take_all_in_order() {
        let cpus = busy_cpus(1);
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        let mut p = Fifo::new(&PolicyConfig::default());
        for pid in 1..=3 {
            p.enqueue(&QueuedTask::new(pid, 0), &ctx);
        }
        let mut out = Vec::new();
        p.take_all(&mut out);
        assert_eq!(out.iter().map(|t| t.pid).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(p.pending(), 0);
    }
}
