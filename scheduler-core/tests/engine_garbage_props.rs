//! Property tests of the engine with garbage on both sides: task records
//! whose fields sit at their extremes, a policy whose decisions are
//! arbitrary values (any pid, any CPU, any generation, none or several per
//! task), and a channel that refuses at random. The engine never fails or
//! panics, forwards every decision the policy makes exactly once and in
//! order, changes nothing but a CPU the machine lacks (sent to the shared
//! queue and counted as redirected), and ends holding nothing.
#![allow(clippy::unwrap_used)]

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use engine_support::Scripted;
use proptest::prelude::*;
use scheduler_core::{Decision, Engine, EngineConfig, Policy, QueuedTask, SchedContext, Target, Topology};

mod engine_support;

const NR_CPUS: u32 = 8;

/// For each task it is given, sends the next scripted list of decisions
/// (zero, one or more, any values).
struct Arbitrary {
    script: VecDeque<Vec<Decision>>,
    out: VecDeque<Decision>,
    /// Every decision handed to the engine, in order.
    emitted: Arc<Mutex<Vec<Decision>>>,
}

impl Policy for Arbitrary {
    fn name(&self) -> &str {
        "arbitrary"
    }
    fn enqueue(&mut self, _: &QueuedTask, _: &SchedContext<'_>) {
        if let Some(ds) = self.script.pop_front() {
            self.out.extend(ds);
        }
    }
    fn dispatch(&mut self, _: &SchedContext<'_>) -> Option<Decision> {
        let d = self.out.pop_front()?;
        self.emitted.lock().unwrap().push(d);
        Some(d)
    }
    fn pending(&self) -> usize {
        self.out.len()
    }
    fn take_all(&mut self, _: &mut Vec<QueuedTask>) {}
}

fn extreme_u64() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0), Just(1), Just(u64::MAX), Just(u64::MAX - 1), any::<u64>()]
}

fn task() -> impl Strategy<Value = QueuedTask> {
    (1..=i32::MAX, 0..NR_CPUS * 2, extreme_u64(), extreme_u64(), extreme_u64(), extreme_u64(), extreme_u64()).prop_map(
        |(pid, cpu, vtime, start_ts, stop_ts, exec_runtime, generation)| {
            let mut t = QueuedTask::new(pid, cpu);
            t.nr_cpus_allowed = (cpu % 3) + 1;
            t.weight = [1, 100, 10_000][(pid % 3) as usize];
            (t.vtime, t.start_ts, t.stop_ts, t.exec_runtime, t.generation) =
                (vtime, start_ts, stop_ts, exec_runtime, generation);
            t
        },
    )
}

fn decision() -> impl Strategy<Value = Decision> {
    let target = prop_oneof![
        Just(Target::Any),
        (0..NR_CPUS).prop_map(Target::Cpu),
        prop_oneof![Just(NR_CPUS), Just(u32::MAX), any::<u32>()].prop_map(Target::Cpu),
    ];
    (any::<i32>(), target, extreme_u64(), extreme_u64(), extreme_u64(), extreme_u64()).prop_map(
        |(pid, target, slice_ns, vtime, flags, generation)| Decision {
            pid,
            target,
            slice_ns,
            vtime,
            flags,
            generation,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// See the module docs.
    #[test]
    fn garbage_decisions_pass_through_once_in_order(
        bursts in proptest::collection::vec(proptest::collection::vec(task(), 0..20), 0..20),
        script in proptest::collection::vec(proptest::collection::vec(decision(), 0..3), 0..400),
        accept in proptest::collection::vec(0usize..6, 0..80),
        batch in 1usize..12,
        max_decisions in 1usize..12,
    ) {
        let total_tasks: usize = bursts.iter().map(Vec::len).sum();
        let emitted = Arc::new(Mutex::new(Vec::new()));
        let policy = Arbitrary { script: script.into(), out: VecDeque::new(), emitted: Arc::clone(&emitted) };
        // Garbage around the engine too: a clock at its limit, and an unknown
        // CPU in the view (ignored).
        let mut backend = Scripted {
            now_ns: u64::MAX,
            phantom_cpu: Some(NR_CPUS + 5),
            ..Scripted::new(bursts.into(), accept.into())
        };
        let mut engine =
            Engine::new(Box::new(policy), Topology::uniform(NR_CPUS, 2, 4), EngineConfig { batch, max_decisions, ..EngineConfig::default() });
        let mut steps = 0;
        while !backend.arrivals.is_empty() || engine.pending() > 0 {
            engine.step(&mut backend).unwrap();
            steps += 1;
            prop_assert!(steps < 20_000, "no progress");
        }
        let s = engine.stats();
        prop_assert_eq!(s.received, total_tasks as u64);
        prop_assert_eq!(s.decided, backend.sent.len() as u64);
        // What the policy emitted, with the engine's one rewrite applied, is
        // exactly what was sent.
        let emitted = emitted.lock().unwrap();
        let mut redirected = 0;
        let expected: Vec<Decision> = emitted
            .iter()
            .map(|d| match d.target {
                Target::Cpu(c) if c >= NR_CPUS => {
                    redirected += 1;
                    Decision { target: Target::Any, ..*d }
                }
                _ => *d,
            })
            .collect();
        prop_assert_eq!(&backend.sent, &expected);
        prop_assert_eq!(s.redirected, redirected);
    }
}
