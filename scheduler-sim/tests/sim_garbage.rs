//! Random garbage decisions through the simulator's backend (the model of
//! the BPF dispatcher). Whatever mix of faults a policy produces — no
//! decision at all, CPUs the machine lacks, CPUs outside a pinned task's
//! mask, duplicates, stale generations, unknown, invalid and replayed pids,
//! slice 0 and every flag bit, vtimes far from the clock (2^62, u64::MAX) —
//! no task is lost, none runs outside its
//! affinity, none waits past the kernel's watchdog, and each fault is
//! counted where the engine or the dispatcher sees it.
//!
//! (Absurdly long slices are not tried here: the BPF dispatcher clamps a
//! decision's slice to 100 ms, a rule the simulator does not model.)
#![allow(clippy::unwrap_used, clippy::panic)]

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use proptest::prelude::*;
use scheduler_core::{Decision, Policy, QueuedTask, SchedContext, Target};
use scheduler_sim::{simulate, SimConfig, PRESETS};

/// What [`Garbage`] does with one task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Right,
    Hold,
    CpuOutOfRange,
    CpuOutsideMask,
    Duplicate,
    StaleGeneration,
    UnknownPid,
    InvalidPid,
    Replay,
    ZeroSliceAllFlags,
    AbsurdVtime,
}

impl Fault {
    fn from_code(code: u8) -> Self {
        match code {
            1 => Fault::Hold,
            2 => Fault::CpuOutOfRange,
            3 => Fault::CpuOutsideMask,
            4 => Fault::Duplicate,
            5 => Fault::StaleGeneration,
            6 => Fault::UnknownPid,
            7 => Fault::InvalidPid,
            8 => Fault::Replay,
            9 => Fault::ZeroSliceAllFlags,
            10 => Fault::AbsurdVtime,
            _ => Fault::Right,
        }
    }
}

/// Counts of what [`Garbage`] sent.
#[derive(Debug, Default)]
struct Sent {
    held: u64,
    /// When the first task was held (ns).
    first_hold_ns: Option<u64>,
    out_of_range: u64,
    /// Decisions for a pinned task naming another CPU.
    outside_mask: u64,
    /// Decisions the dispatcher must discard.
    discardable: u64,
    /// Decisions whose vtime lies outside any window around the clock.
    absurd_vtime: u64,
}

/// Arrival order to the shared queue; the fault script, cycled over the
/// tasks in arrival order, turns decisions into garbage.
struct Garbage {
    queue: VecDeque<QueuedTask>,
    extra: VecDeque<Decision>,
    history: VecDeque<Decision>,
    script: Vec<Fault>,
    next: usize,
    sent: Arc<Mutex<Sent>>,
}

impl Policy for Garbage {
    fn name(&self) -> &str {
        "garbage"
    }
    fn enqueue(&mut self, task: &QueuedTask, _: &SchedContext<'_>) {
        self.queue.push_back(*task);
    }
    fn dispatch(&mut self, ctx: &SchedContext<'_>) -> Option<Decision> {
        let g = self;
        if let Some(d) = g.extra.pop_front() {
            return Some(d);
        }
        loop {
            let t = g.queue.pop_front()?;
            let right = t.decide(Target::Any, 2_000_000, 0);
            let fault = g.script[g.next % g.script.len()];
            g.next += 1;
            let mut sent = g.sent.lock().unwrap();
            let mut bad = right;
            match fault {
                Fault::Right => {}
                Fault::Hold => {
                    sent.held += 1;
                    sent.first_hold_ns.get_or_insert(ctx.now_ns);
                    continue;
                }
                Fault::CpuOutOfRange => {
                    bad.target = Target::Cpu(ctx.cpus.nr_cpus() + 3);
                    sent.out_of_range += 1;
                }
                Fault::CpuOutsideMask => {
                    let other = (t.cpu + 1) % ctx.cpus.nr_cpus();
                    bad.target = Target::Cpu(other);
                    if t.nr_cpus_allowed == 1 && other != t.cpu {
                        sent.outside_mask += 1;
                    }
                }
                Fault::Duplicate => {
                    g.extra.push_back(right);
                    sent.discardable += 1;
                }
                Fault::StaleGeneration => {
                    bad.generation = right.generation.wrapping_sub(1);
                    g.extra.push_back(right);
                    sent.discardable += 1;
                }
                Fault::UnknownPid => {
                    bad.pid = i32::MAX;
                    g.extra.push_back(right);
                    sent.discardable += 1;
                }
                Fault::InvalidPid => {
                    bad.pid = -1;
                    g.extra.push_back(right);
                    sent.discardable += 1;
                }
                Fault::Replay => {
                    if let Some(&old) = g.history.front() {
                        bad = old;
                        g.extra.push_back(right);
                        sent.discardable += 1;
                    }
                }
                Fault::ZeroSliceAllFlags => {
                    bad.slice_ns = 0;
                    bad.flags = u64::MAX;
                }
                Fault::AbsurdVtime => {
                    // Above the clock by 2^62, or (wrap-aware) just below 0.
                    bad.vtime = if sent.absurd_vtime.is_multiple_of(2) { 1 << 62 } else { u64::MAX };
                    sent.absurd_vtime += 1;
                }
            }
            if g.history.len() == 16 {
                g.history.pop_front();
            }
            g.history.push_back(right);
            return Some(bad);
        }
    }
    fn pending(&self) -> usize {
        self.queue.len() + self.extra.len()
    }
    fn take_all(&mut self, out: &mut Vec<QueuedTask>) {
        self.extra.clear();
        out.extend(self.queue.drain(..));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any fault script on any preset and machine size: nothing lost, no
    /// affinity violation, no wait past the watchdog; out-of-range CPUs are
    /// redirected by the engine (exactly those), a pinned task's wrong CPU
    /// is bounced, discardable decisions are discarded (stale), and held
    /// tasks are dispatched by the dispatcher itself.
    #[test]
    fn garbage_loses_nothing_and_is_counted(
        script in proptest::collection::vec(0u8..15, 1..48),
        preset in 0usize..PRESETS.len(),
        nr_cpus in 1u32..=8,
        seed in any::<u64>(),
    ) {
        let sent = Arc::new(Mutex::new(Sent::default()));
        let policy = Garbage {
            queue: VecDeque::with_capacity(1024),
            extra: VecDeque::with_capacity(4),
            history: VecDeque::with_capacity(16),
            script: script.iter().map(|&c| Fault::from_code(c)).collect(),
            next: 0,
            sent: Arc::clone(&sent),
        };
        let def = &PRESETS[preset];
        let config = SimConfig {
            nr_cpus,
            cores_per_llc: nr_cpus,
            workload: def.preset.into(),
            duration_ns: 200_000_000,
            seed,
            stall_timeout_ns: 20_000_000,
            check_invariants: true,
            ..SimConfig::default()
        };
        let r = match simulate(&config, Box::new(policy)) {
            Ok(r) => r,
            // A preset that does not fit this machine (pinned groups).
            Err(scheduler_sim::SimError::Workload(_)) => return Ok(()),
            Err(e) => panic!("{}: {e}", def.name),
        };
        let sent = sent.lock().unwrap();
        prop_assert!(r.accounting.check().is_ok(), "{}: {:?}", def.name, r.accounting.check());
        prop_assert!(!r.kernel_watchdog_exceeded, "{}: a task waited past the watchdog", def.name);
        prop_assert_eq!(r.engine.redirected, sent.out_of_range);
        // Decisions sent but not yet drained when the run ends are neither
        // applied nor discarded (nor bounced).
        let in_flight = r.engine.decided - r.dispatch.decisions - r.dispatch.stale;
        prop_assert!(in_flight < 1024, "{in_flight} decisions in flight at the end");
        prop_assert!(
            r.dispatch.bounced + in_flight >= sent.outside_mask,
            "bounced {} + in flight {in_flight} < {}",
            r.dispatch.bounced,
            sent.outside_mask
        );
        prop_assert!(
            r.dispatch.stale + in_flight >= sent.discardable,
            "stale {} + in flight {in_flight} < {}",
            r.dispatch.stale,
            sent.discardable
        );
        // Every absurd vtime applied was clamped, and nothing else: a clamped
        // vtime does not move the clock, so the right ones (vtime 0) stay
        // within the window.
        prop_assert!(
            r.dispatch.vtime_clamped <= sent.absurd_vtime && r.dispatch.vtime_clamped + in_flight >= sent.absurd_vtime,
            "vtime clamped {} (+ in flight {in_flight}) for {} absurd vtimes sent",
            r.dispatch.vtime_clamped,
            sent.absurd_vtime
        );
        // A task held less than the stall timeout before the end is not due yet.
        if sent.first_hold_ns.is_some_and(|t| t + config.stall_timeout_ns <= config.duration_ns) {
            prop_assert!(
                r.dispatch.fallback_dispatches > 0,
                "{} held (first at {:?} ns), none dispatched by the fallback",
                sent.held,
                sent.first_hold_ns
            );
        }
    }
}
