//! Property tests of the engine over random task streams and a decision
//! channel that refuses at random: every task handed in is decided exactly
//! once, in the policy's order, and nothing is lost or duplicated.
#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;

use engine_support::Scripted;
use proptest::prelude::*;
use scheduler_core::{Decision, Engine, EngineConfig, Policy, QueuedTask, SchedContext, Target, Topology};

mod engine_support;

/// Arrival-order policy that echoes the task's CPU (possibly out of range).
struct Echo(VecDeque<QueuedTask>);

impl Policy for Echo {
    fn name(&self) -> &str {
        "echo"
    }
    fn enqueue(&mut self, t: &QueuedTask, _: &SchedContext<'_>) {
        self.0.push_back(*t);
    }
    fn dispatch(&mut self, _: &SchedContext<'_>) -> Option<Decision> {
        self.0.pop_front().map(|t| t.decide(Target::Cpu(t.cpu), 1, 0))
    }
    fn pending(&self) -> usize {
        self.0.len()
    }
    fn take_all(&mut self, out: &mut Vec<QueuedTask>) {
        out.extend(self.0.drain(..));
    }
}

proptest! {
    /// Random bursts, random channel refusals, random batch sizes: each task
    /// is decided exactly once, in arrival order, with every CPU in range.
    #[test]
    fn every_task_decided_once_in_order(
        bursts in proptest::collection::vec(proptest::collection::vec(0u32..16, 0..40), 0..30),
        accept in proptest::collection::vec(0usize..8, 0..60),
        batch in 1usize..16,
        max_decisions in 1usize..16,
    ) {
        let mut pid = 0;
        let arrivals: VecDeque<Vec<QueuedTask>> = bursts
            .iter()
            .map(|b| b.iter().map(|&cpu| { pid += 1; QueuedTask::new(pid, cpu) }).collect())
            .collect();
        let total = pid;
        let mut backend = Scripted::new(arrivals, accept.into());
        let mut engine = Engine::new(Box::new(Echo(VecDeque::new())), Topology::uniform(8, 2, 4), EngineConfig { batch, max_decisions, ..EngineConfig::default() });
        let mut steps = 0;
        while backend.sent.len() < total as usize {
            engine.step(&mut backend).unwrap();
            steps += 1;
            prop_assert!(steps < 10_000, "engine stopped making progress");
        }
        prop_assert_eq!(engine.pending(), 0);
        let pids: Vec<i32> = backend.sent.iter().map(|d| d.pid).collect();
        prop_assert_eq!(pids, (1..=total).collect::<Vec<_>>());
        for d in &backend.sent {
            if let Target::Cpu(c) = d.target { prop_assert!(c < 8) }
        }
        let s = engine.stats();
        prop_assert_eq!((s.received, s.decided), (total as u64, total as u64));
        let out_of_range = bursts.iter().flatten().filter(|&&c| c >= 8).count() as u64;
        prop_assert_eq!(s.redirected, out_of_range);
    }
}
