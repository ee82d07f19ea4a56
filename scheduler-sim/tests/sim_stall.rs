//! The stall fallback: when the user scheduler stops answering, the
//! dispatcher schedules tasks itself, and hands back when it answers again.
#![allow(clippy::unwrap_used)]

mod sim_support;

use scheduler_sim::{Behavior, Count, Preset, SimConfig, Stall, TaskClass, TaskGroup, Workload, PRESETS};
use sim_support::run_rr;

const SLICE_NS: u64 = 5_000_000;
const TIMEOUT_NS: u64 = 50_000_000;

/// 4 CPUs, 4 hogs and 4 periodic tasks: at most M = 8 runnable tasks.
fn small_machine(stall: Option<Stall>) -> SimConfig {
    SimConfig {
        nr_cpus: 4,
        cores_per_llc: 4,
        duration_ns: 1_000_000_000,
        workload: Workload::Custom(vec![
            TaskGroup::new(TaskClass::Hog, Count::Fixed(4), Behavior::Hog),
            TaskGroup::new(
                TaskClass::Interactive,
                Count::Fixed(4),
                Behavior::Periodic { run_ns: 500_000, sleep_ns: 4_500_000 },
            ),
        ]),
        slice_ns: SLICE_NS,
        stall,
        stall_timeout_ns: TIMEOUT_NS,
        check_invariants: true,
        ..SimConfig::default()
    }
}

/// A 300 ms stall (timeout 50 ms) triggers the fallback, and no runnable
/// task waits longer than T + P + ceil(M/N)·S + 1 ms = 50 + 12.5 + 2·5 + 1 =
/// 73.5 ms, P being the heartbeat timer's period (a quarter of T).
///
/// Why the bound holds: a task spends at most T + P in user space (the
/// watchdog, at the heartbeat timer's first tick after T, places it then,
/// and from then on, until the user scheduler runs again, new tasks skip
/// user space). In a queue it waits behind at most M - 1
/// others; every slice here is S (the round robin's and the dispatcher's
/// default, and periodic runs are shorter), so every CPU frees up at least
/// once per S and takes the head of the shared queue (where the round robin
/// and the fallback both put tasks, the fallback at the current vtime, so in
/// FIFO order):
/// at most ceil(M/N)·S. The 1 ms covers the user scheduler's steps (µs each).
#[test]
fn stall_longer_than_timeout_falls_back_with_bounded_waits() {
    let config = small_machine(Some(Stall { at_ns: 200_000_000, duration_ns: 300_000_000 }));
    let r = run_rr(&config);
    r.accounting.check().unwrap();
    assert!(r.dispatch.fallback_dispatches > 0);
    assert_eq!(r.dispatch.fallback_episodes, 1);
    let bound = TIMEOUT_NS + scheduler_core::wire::timer_interval_ns(TIMEOUT_NS) + 2 * SLICE_NS + 1_000_000;
    assert!(r.longest_wait_ns() <= bound, "longest wait {} ns > bound {bound} ns", r.longest_wait_ns());
    // The tasks kept being scheduled during the stall: hogs ran ~all the time.
    assert!(r.utilisation.workload > 0.95, "utilisation {}", r.utilisation.workload);
}

/// Late decisions for tasks the fallback already placed are discarded as stale.
#[test]
fn late_decisions_are_stale() {
    let config = SimConfig {
        duration_ns: 600_000_000,
        stall: Some(Stall { at_ns: 200_000_000, duration_ns: 200_000_000 }),
        stall_timeout_ns: TIMEOUT_NS,
        check_invariants: true,
        ..SimConfig::default()
    };
    let r = run_rr(&config);
    r.accounting.check().unwrap();
    assert!(r.dispatch.fallback_dispatches > 0);
    assert!(r.dispatch.stale > 0, "the user scheduler answered for tasks already placed");
    // After the stall the user scheduler takes over again: most decisions are its own.
    assert!(r.dispatch.decisions > r.dispatch.fallback_dispatches);
}

/// Without a stall the fallback never acts, and the small machine's waits
/// are bounded by ceil(M/N)·S plus the user scheduler's turn (one slice at
/// most before a CPU frees up and pulls it) and its 1 ms of steps.
#[test]
fn no_stall_no_fallback() {
    let r = run_rr(&small_machine(None));
    assert_eq!(r.dispatch.fallback_dispatches, 0);
    assert_eq!(r.dispatch.stale, 0);
    let bound = 3 * SLICE_NS + 1_000_000;
    assert!(r.longest_wait_ns() <= bound, "longest wait {} ns > bound {bound} ns", r.longest_wait_ns());
    for def in PRESETS {
        let config = SimConfig { workload: def.preset.into(), duration_ns: 500_000_000, ..SimConfig::default() };
        let r = run_rr(&config);
        assert_eq!(r.dispatch.fallback_dispatches, 0, "preset {}", def.name);
        assert_eq!(r.dispatch.fallback_episodes, 0, "preset {}", def.name);
    }
}

/// A stall shorter than the timeout does not trigger the fallback.
#[test]
fn short_stall_is_waited_out() {
    let config = SimConfig {
        workload: Preset::Mixed.into(),
        stall: Some(Stall { at_ns: 100_000_000, duration_ns: TIMEOUT_NS / 2 }),
        stall_timeout_ns: TIMEOUT_NS,
        ..SimConfig::default()
    };
    let r = run_rr(&config);
    assert_eq!(r.dispatch.fallback_dispatches, 0);
    assert!(r.longest_wait_ns() >= TIMEOUT_NS / 4, "someone waited for the user scheduler");
}
