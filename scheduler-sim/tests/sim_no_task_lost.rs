//! No task is ever lost: every task created is sleeping, in user space, in
//! a queue, running or exited, at every event (the simulator's own check,
//! enabled with `check_invariants`) and at the end (the report's account).
#![allow(clippy::unwrap_used, clippy::panic)]

mod sim_support;

use scheduler_core::{Decision, Policy, QueuedTask, SchedContext};
use scheduler_sim::{simulate, Preset, SimConfig, Stall, PRESETS};
use sim_support::{run_rr, RoundRobin, WrongCpu};

fn checked(preset: Preset, stall: Option<Stall>) -> SimConfig {
    SimConfig {
        workload: preset.into(),
        duration_ns: 300_000_000,
        stall,
        stall_timeout_ns: 30_000_000,
        check_invariants: true,
        ..SimConfig::default()
    }
}

/// Every preset, with and without a stall longer than the timeout: the
/// checks pass at every event and the end account balances.
#[test]
fn every_preset_with_and_without_stall() {
    let stall = Some(Stall { at_ns: 100_000_000, duration_ns: 100_000_000 });
    for def in PRESETS {
        for s in [None, stall] {
            let r = run_rr(&checked(def.preset, s));
            r.accounting.check().unwrap_or_else(|e| panic!("preset {} stall {s:?}: {e}", def.name));
            assert!(r.accounting.created > 0);
        }
    }
}

/// A policy naming wrong CPUs loses nothing either (its decisions are bounced).
#[test]
fn wrong_cpus_lose_nothing() {
    for def in PRESETS {
        let r = simulate(&checked(def.preset, None), Box::new(WrongCpu(RoundRobin::new(5_000_000)))).unwrap();
        r.accounting.check().unwrap();
    }
}

/// Keeps every 5th task it is given forever (a buggy policy).
struct Hoarder {
    inner: RoundRobin,
    kept: Vec<QueuedTask>,
    seen: u64,
}

impl Policy for Hoarder {
    fn name(&self) -> &str {
        "hoarder"
    }
    fn enqueue(&mut self, task: &QueuedTask, ctx: &SchedContext<'_>) {
        self.seen += 1;
        if self.seen.is_multiple_of(5) {
            self.kept.push(*task);
        } else {
            self.inner.enqueue(task, ctx);
        }
    }
    fn dispatch(&mut self, ctx: &SchedContext<'_>) -> Option<Decision> {
        self.inner.dispatch(ctx)
    }
    fn pending(&self) -> usize {
        self.inner.pending() + self.kept.len()
    }
    fn take_all(&mut self, out: &mut Vec<QueuedTask>) {
        self.inner.take_all(out);
        out.append(&mut self.kept);
    }
}

/// A policy that never decides some tasks: the dispatcher's watchdog
/// places each of them after the stall timeout (counted as fallback
/// dispatches), so none waits longer than the timeout plus its queueing.
#[test]
fn tasks_a_policy_keeps_are_rescued() {
    let config = SimConfig { nr_cpus: 4, ..checked(Preset::Interactive, None) };
    let policy = Hoarder { inner: RoundRobin::new(5_000_000), kept: Vec::new(), seen: 0 };
    let r = simulate(&config, Box::new(policy)).unwrap();
    r.accounting.check().unwrap();
    assert!(r.dispatch.fallback_dispatches > 0);
    // Interactive tasks alone never fill 4 CPUs for long: 10 ms of queueing is plenty.
    assert!(r.longest_wait_ns() <= config.stall_timeout_ns + 10_000_000, "longest wait {}", r.longest_wait_ns());
}

/// A decision channel of 4 entries pushes back (the engine retries) and a
/// queued ring of 4 entries overflows (the dispatcher places the rest):
/// nothing is lost either way.
#[test]
fn full_channels_lose_nothing() {
    let config = SimConfig { channel_capacity: 4, ..checked(Preset::Fork, None) };
    let r = run_rr(&config);
    r.accounting.check().unwrap();
    assert!(r.engine.retried > 0, "back-pressure exercised");

    let config = SimConfig { queued_capacity: 4, ..checked(Preset::Fork, None) };
    let r = run_rr(&config);
    r.accounting.check().unwrap();
    assert!(r.dispatch.congested > 0, "congestion exercised");
}
