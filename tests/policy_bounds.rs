//! Each shipped policy bounds the longest wait of any runnable task, checked
//! in the simulator on every preset workload and on an overload of hogs.
//!
//! The bound. Let `N` be the CPUs, `R` the runnable tasks, `S` the longest
//! slice a policy gives (`PolicyConfig::slice_ns`; the dispatcher's own slice
//! for tasks it places is shorter) and `T` the stall timeout. A runnable task
//! is running, on a queue, or in user space; user space answers within `T`
//! (otherwise the dispatcher's fallback places it). `fifo`, `deadline`,
//! `eevdf` and `interactive` put a task on a CPU's own queue only when that
//! CPU was idle with an empty queue, so per-CPU queues hold at most one task
//! and everything else waits in the shared queue, where:
//! - `fifo` orders by arrival: at most `R - 1` tasks are ahead, and the `N`
//!   CPUs each take one per slice, so an unpinned task waits at most
//!   `(ceil((R - 1) / N) + 1) * S` after reaching the queue;
//! - `deadline` orders by `vtime + min(exec_runtime, 100 S)` where every run
//!   raises the runner's vtime by its run: a task overtaken by another one
//!   has, between two of its own runs, seen every equal-weight task run at
//!   most once more than it, which gives the same round-robin bound;
//! - `eevdf` orders by virtual deadline `v + request / weight` with every
//!   run charged to `v`, and `interactive` by `deadline`'s key or, for short
//!   wakeups, a key at most two slices behind the same clock: the same
//!   argument, with shorter slices.
//!
//! `local` also keeps up to two tasks on a busy CPU's own queue (the
//! dispatcher serves it and the shared queue in one vtime order, its keys
//! capped at the clock), which adds at most two slices.
//!
//! A task pinned to one CPU can be passed by every task ahead of it on that
//! CPU, so its bound is `R * S`. The tests assert `T + (ceil(R / N) + 1) * S`
//! for machines without pinned tasks and `T + R * S` with them, which keeps
//! every wait far below the kernel's 5 s watchdog.

use policies::PolicyConfig;
use scheduler_core::sim::{simulate, Behavior, Count, Preset, SimConfig, TaskClass, TaskGroup, Workload};

const NR_CPUS: u32 = 8;
const SECONDS: u64 = 10;

fn run(policy: &str, workload: Workload, seed: u64) -> scheduler_core::sim::Report {
    let config =
        SimConfig { nr_cpus: NR_CPUS, duration_ns: SECONDS * 1_000_000_000, seed, workload, ..SimConfig::default() };
    let p = policies::by_name(policy, &PolicyConfig::default()).expect("known policy");
    let report = simulate(&config, p).expect("valid config");
    report.accounting.check().expect("no task lost");
    report
}

fn slice_ns() -> u64 {
    PolicyConfig::default().slice_ns
}

/// 24 hogs on 8 CPUs (R = 24, no pinning): no wait exceeds T + (ceil(R/N) + 1) S.
#[test]
fn overload_of_hogs_is_bounded() {
    let hogs = Workload::Custom(vec![TaskGroup::new(TaskClass::Hog, Count::Fixed(24), Behavior::Hog)]);
    let bound = SimConfig::default().stall_timeout_ns + (24u64.div_ceil(u64::from(NR_CPUS)) + 1) * slice_ns();
    for policy in policies::NAMES {
        for seed in 1..=3 {
            let r = run(policy, hogs.clone(), seed);
            let longest = r.latency.max_ns.max(r.accounting.longest_unfinished_wait_ns);
            assert!(longest <= bound, "{policy} seed {seed}: longest wait {longest} ns > bound {bound} ns");
            assert!(r.fairness.unwrap_or(0.0) > 0.95, "{policy}: equal hogs, unequal shares {:?}", r.fairness);
        }
    }
}

/// Every preset workload: no wait exceeds T + R S, where R is the most tasks
/// the preset can have runnable, and none comes near the kernel watchdog.
#[test]
fn every_preset_is_bounded() {
    for policy in policies::NAMES {
        for name in Preset::names() {
            let preset: Preset = name.parse().expect("listed preset");
            let r = run(policy, Workload::Preset(preset), 1);
            let runnable = r.accounting.created - r.accounting.exited;
            let bound = SimConfig::default().stall_timeout_ns + runnable * slice_ns();
            let longest = r.latency.max_ns.max(r.accounting.longest_unfinished_wait_ns);
            assert!(
                longest <= bound,
                "{policy} on {}: longest wait {longest} ns > bound {bound} ns (R = {runnable})",
                preset.name()
            );
            assert!(!r.kernel_watchdog_exceeded, "{policy} on {}: a task waited past 5 s", preset.name());
        }
    }
}
