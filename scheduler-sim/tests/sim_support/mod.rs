//! Small policies and helpers shared by the simulator tests.
#![allow(dead_code)]

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, VecDeque},
};

use scheduler_core::{task::WEIGHT_DEFAULT, Decision, Policy, QueuedTask, SchedContext, Target};
use scheduler_sim::{simulate, Report, SimConfig};

/// Arrival order, shared queue, fixed slice (the `Policy` rustdoc example).
pub struct RoundRobin {
    queue: VecDeque<QueuedTask>,
    slice_ns: u64,
    last: Option<QueuedTask>,
}

impl RoundRobin {
    /// A round robin with `slice_ns` slices.
    pub fn new(slice_ns: u64) -> Self {
        Self { queue: VecDeque::with_capacity(4096), slice_ns, last: None }
    }

    /// The CPU of the task last dispatched, if it may use only that one.
    pub fn last_cpu_if_pinned(&self) -> Option<u32> {
        self.last.filter(|t| t.nr_cpus_allowed == 1).map(|t| t.cpu)
    }
}

impl Policy for RoundRobin {
    fn name(&self) -> &str {
        "round-robin"
    }
    fn enqueue(&mut self, task: &QueuedTask, _: &SchedContext<'_>) {
        self.queue.push_back(*task);
    }
    fn dispatch(&mut self, _: &SchedContext<'_>) -> Option<Decision> {
        let t = self.queue.pop_front()?;
        self.last = Some(t);
        Some(t.decide(Target::Any, self.slice_ns, 0))
    }
    fn pending(&self) -> usize {
        self.queue.len()
    }
    fn take_all(&mut self, out: &mut Vec<QueuedTask>) {
        out.extend(self.queue.drain(..));
    }
}

/// Always names CPU `(task.cpu + 1) mod nr_cpus`: wrong for every pinned task.
pub struct WrongCpu(pub RoundRobin);

impl Policy for WrongCpu {
    fn name(&self) -> &str {
        "wrong-cpu"
    }
    fn enqueue(&mut self, task: &QueuedTask, ctx: &SchedContext<'_>) {
        self.0.enqueue(task, ctx);
    }
    fn dispatch(&mut self, ctx: &SchedContext<'_>) -> Option<Decision> {
        let t = self.0.queue.pop_front()?;
        Some(t.decide(Target::Cpu((t.cpu + 1) % ctx.cpus.nr_cpus()), self.0.slice_ns, 0))
    }
    fn pending(&self) -> usize {
        self.0.pending()
    }
    fn take_all(&mut self, out: &mut Vec<QueuedTask>) {
        self.0.take_all(out);
    }
}

/// Weighted virtual time: each task's vruntime grows by its last run
/// scaled by 100 / weight (at the weight it has when it comes back); lowest
/// vruntime first, sent as the key; the slice is `base × weight / 1024`.
pub struct WeightedVtime {
    queue: BinaryHeap<Reverse<(u64, u64, QueuedTaskKey)>>,
    vruntime: Vec<(i32, u64)>,
    seq: u64,
    base_slice_ns: u64,
}

/// A queued task ordered by nothing (the heap orders by the tuple's first fields).
#[derive(Clone, Copy, Debug)]
pub struct QueuedTaskKey(pub QueuedTask);
impl PartialEq for QueuedTaskKey {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for QueuedTaskKey {}
impl PartialOrd for QueuedTaskKey {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for QueuedTaskKey {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl WeightedVtime {
    /// Nice-0 tasks get `base_slice_ns`.
    pub fn new(base_slice_ns: u64) -> Self {
        Self { queue: BinaryHeap::new(), vruntime: Vec::new(), seq: 0, base_slice_ns }
    }

    fn vruntime_mut(&mut self, pid: i32) -> &mut u64 {
        let i = match self.vruntime.iter().position(|&(p, _)| p == pid) {
            Some(i) => i,
            None => {
                let floor = self.vruntime.iter().map(|&(_, v)| v).min().unwrap_or(0);
                self.vruntime.push((pid, floor));
                self.vruntime.len() - 1
            }
        };
        &mut self.vruntime[i].1
    }
}

impl Policy for WeightedVtime {
    fn name(&self) -> &str {
        "weighted-vtime"
    }
    fn enqueue(&mut self, task: &QueuedTask, _: &SchedContext<'_>) {
        let charge = task.last_run_ns() * WEIGHT_DEFAULT / task.weight;
        let v = self.vruntime_mut(task.pid);
        *v += charge;
        let key = *v;
        self.seq += 1;
        self.queue.push(Reverse((key, self.seq, QueuedTaskKey(*task))));
    }
    fn dispatch(&mut self, _: &SchedContext<'_>) -> Option<Decision> {
        let Reverse((v, _, QueuedTaskKey(t))) = self.queue.pop()?;
        Some(t.decide(Target::Any, (self.base_slice_ns * t.weight / WEIGHT_DEFAULT).max(1_000_000), v))
    }
    fn pending(&self) -> usize {
        self.queue.len()
    }
    fn take_all(&mut self, out: &mut Vec<QueuedTask>) {
        while let Some(Reverse((_, _, QueuedTaskKey(t)))) = self.queue.pop() {
            out.push(t);
        }
    }
}

/// Runs `config` with a 5 ms round robin.
pub fn run_rr(config: &SimConfig) -> Report {
    simulate(config, Box::new(RoundRobin::new(5_000_000))).unwrap()
}
