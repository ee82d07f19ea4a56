//! [`Loopback`]: a backend in memory whose decided tasks "run" instantly and
//! come straight back as queued. It measures the engine and a policy alone
//! (benchmarks, allocation tests, examples) with nothing else in the loop.

use std::collections::VecDeque;

use crate::{
    backend::{Backend, BackendError, SendStatus},
    cpu::CpuView,
    task::{Decision, QueuedTask, Target},
};

/// A backend that re-queues every decided task, having charged it the
/// decision's slice as run time.
#[derive(Debug)]
pub struct Loopback {
    queued: VecDeque<QueuedTask>,
    clock_ns: u64,
    nr_cpus: u32,
    pending: usize,
    sent: u64,
}

impl Loopback {
    /// `tasks` nice-0 tasks (pids 1..=tasks) spread over `nr_cpus` CPUs, all
    /// queued; room for `capacity` tasks before the queue grows.
    pub fn new(tasks: usize, nr_cpus: u32, capacity: usize) -> Self {
        let mut queued = VecDeque::with_capacity(capacity.max(tasks));
        for i in 0..tasks {
            queued.push_back(Self::task(i, nr_cpus));
        }
        Self { queued, clock_ns: 1, nr_cpus: nr_cpus.max(1), pending: 0, sent: 0 }
    }

    /// The `i`-th task of a loopback over `nr_cpus` CPUs (pid `i + 1`).
    pub fn task(i: usize, nr_cpus: u32) -> QueuedTask {
        let mut t = QueuedTask::new(i as i32 + 1, i as u32 % nr_cpus.max(1));
        t.comm[..4].copy_from_slice(b"loop");
        t
    }

    /// Decisions accepted so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// What the engine last reported as pending.
    pub fn pending(&self) -> usize {
        self.pending
    }
}

impl Backend for Loopback {
    fn receive(&mut self, out: &mut Vec<QueuedTask>, max: usize) -> Result<usize, BackendError> {
        let n = max.min(self.queued.len());
        out.extend(self.queued.drain(..n));
        Ok(n)
    }

    fn send(&mut self, d: &Decision) -> Result<SendStatus, BackendError> {
        let mut t = QueuedTask::new(d.pid, 0);
        t.cpu = match d.target {
            Target::Cpu(c) => c,
            Target::Any => d.pid as u32 % self.nr_cpus,
        };
        t.vtime = d.vtime.max(1);
        t.start_ts = self.clock_ns;
        self.clock_ns += d.slice_ns.max(1);
        t.stop_ts = self.clock_ns;
        t.exec_runtime = d.slice_ns;
        t.generation = d.generation + 1;
        self.queued.push_back(t);
        self.sent += 1;
        Ok(SendStatus::Sent)
    }

    fn refresh_cpus(&mut self, _view: &mut CpuView) {}

    fn now_ns(&self) -> u64 {
        self.clock_ns
    }

    fn step_done(&mut self, pending: usize) {
        self.pending = pending;
    }
}
