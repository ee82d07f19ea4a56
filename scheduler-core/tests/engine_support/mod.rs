//! The scripted backend shared by the engine property tests.

use std::collections::VecDeque;

use scheduler_core::{Backend, BackendError, CpuView, Decision, QueuedTask, SendStatus};

/// Tasks arrive in scripted bursts; the channel accepts a scripted number of
/// decisions per step.
pub struct Scripted {
    /// Bursts still to arrive, one drained per `receive` (up to its `max`).
    pub arrivals: VecDeque<Vec<QueuedTask>>,
    /// How many decisions the channel takes in each coming step.
    pub accept: VecDeque<usize>,
    /// Decisions the channel still takes in this step.
    pub budget: usize,
    /// Every decision sent, in order.
    pub sent: Vec<Decision>,
    /// What `now_ns` returns.
    pub now_ns: u64,
    /// A CPU the machine lacks, marked idle in the view at every refresh:
    /// garbage the engine must ignore.
    pub phantom_cpu: Option<u32>,
}

impl Scripted {
    /// The bursts `arrivals` and the per-step channel capacities `accept`;
    /// the clock reads 0 and the CPU view is left alone.
    pub fn new(arrivals: VecDeque<Vec<QueuedTask>>, accept: VecDeque<usize>) -> Self {
        Self { arrivals, accept, budget: 0, sent: Vec::new(), now_ns: 0, phantom_cpu: None }
    }
}

impl Backend for Scripted {
    fn receive(&mut self, out: &mut Vec<QueuedTask>, max: usize) -> Result<usize, BackendError> {
        let Some(front) = self.arrivals.front_mut() else { return Ok(0) };
        let n = max.min(front.len());
        out.extend(front.drain(..n));
        if front.is_empty() {
            self.arrivals.pop_front();
        }
        Ok(n)
    }
    fn send(&mut self, d: &Decision) -> Result<SendStatus, BackendError> {
        if self.budget == 0 {
            return Ok(SendStatus::Full);
        }
        self.budget -= 1;
        self.sent.push(*d);
        Ok(SendStatus::Sent)
    }
    /// Called first in every step: the dispatcher has drained, the channel
    /// takes the next scripted number of decisions.
    fn refresh_cpus(&mut self, view: &mut CpuView) {
        self.budget = self.accept.pop_front().unwrap_or(usize::MAX);
        if let Some(cpu) = self.phantom_cpu {
            view.set(cpu, true, u32::MAX, -1);
        }
    }
    fn now_ns(&self) -> u64 {
        self.now_ns
    }
    fn step_done(&mut self, _: usize) {}
}
