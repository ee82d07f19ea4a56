//! Nice levels reach the policy as sched_ext weights, and the dispatcher's
//! tick keeps the shares a policy's keys give: a running task yields when a
//! lower key waits and it has run `slice_min`, comparing its key advanced by
//! its run in weighted time. (The shipped policies are checked in
//! `policies/tests/weight_shares.rs`; here a small weighted-vtime policy and
//! an arrival-order one isolate the dispatcher's part.)
#![allow(clippy::unwrap_used)]

mod sim_support;

use scheduler_sim::{
    nice_to_weight, sched_idle_weight, simulate, Behavior, Count, Report, SimConfig, TaskClass, TaskGroup, Workload,
};
use sim_support::{RoundRobin, WeightedVtime};

/// One CPU, 10 s: a nice-0 hog and `other`.
fn pair(other: TaskGroup) -> SimConfig {
    SimConfig {
        nr_cpus: 1,
        duration_ns: 10_000_000_000,
        workload: Workload::Custom(vec![TaskGroup::new(TaskClass::Hog, Count::Fixed(1), Behavior::Hog), other]),
        ..SimConfig::default()
    }
}

fn nice_hog(nice: i32) -> TaskGroup {
    TaskGroup::new(TaskClass::Nice, Count::Fixed(1), Behavior::Hog).nice(nice)
}

/// The first task's CPU time over the second's.
fn ratio(r: &Report) -> f64 {
    r.tasks[0].cpu_ns as f64 / r.tasks[1].cpu_ns as f64
}

/// Weights are the fair class's: nice 0 is 1024, nice 5 is 335, nice 10 is 110.
#[test]
fn weights_reach_the_policy() {
    let r = simulate(&pair(nice_hog(5)), Box::new(WeightedVtime::new(100_000_000))).unwrap();
    assert_eq!((r.tasks[0].weight, r.tasks[1].weight), (1024, 335));
    assert_eq!((nice_to_weight(10), sched_idle_weight()), (110, 3));
}

/// Weighted keys and slices long enough that the tick, not the slice, ends
/// runs: CPU time follows the weights within 3 % — nice 0 : nice 5 (1024 :
/// 335) and nice 0 : nice 10 (1024 : 110, the ratio the kernel's fair
/// class gives).
#[test]
fn weighted_keys_give_weighted_shares() {
    for nice in [5, 10] {
        let r = simulate(&pair(nice_hog(nice)), Box::new(WeightedVtime::new(100_000_000))).unwrap();
        let expected = 1024.0 / nice_to_weight(nice) as f64;
        assert!((ratio(&r) / expected - 1.0).abs() < 0.03, "nice {nice}: {:.3} vs {expected:.3}", ratio(&r));
        assert!(r.fairness.unwrap() > 0.99, "Jain's index of share/weight {:?}", r.fairness);
        assert!(r.dispatch.tick_yields > 100, "runs end at ticks, by key: {:?}", r.dispatch);
    }
}

/// Short slices break it: a CPU whose task's slice ends takes whatever
/// waits, so with 5 ms slices scaled by weight (1.65 ms for nice 5, ended at
/// the next tick) the shares are the tick's, far from 1024 : 335.
#[test]
fn short_slices_lose_the_weights() {
    let r = simulate(&pair(nice_hog(5)), Box::new(WeightedVtime::new(5_000_000))).unwrap();
    assert!(ratio(&r) < 2.5, "{:.3}", ratio(&r));
}

/// Keys that ignore weight (arrival order, all 0 here) give 1:1 whatever
/// the weights: the tick makes the running task yield to anything waiting.
#[test]
fn arrival_order_is_weight_blind() {
    let r = simulate(&pair(nice_hog(10)), Box::new(RoundRobin::new(100_000_000))).unwrap();
    assert!((ratio(&r) - 1.0).abs() < 0.02, "{:.3}", ratio(&r));
}

/// SCHED_IDLE is weight 3: against a nice-0 hog it gets one tick per
/// 100 ms slice of the other (the slice cap, not the weight, limits it).
#[test]
fn sched_idle_is_weight_three() {
    let idle = TaskGroup::new(TaskClass::Nice, Count::Fixed(1), Behavior::Hog).sched_idle();
    let r = simulate(&pair(idle), Box::new(WeightedVtime::new(100_000_000))).unwrap();
    assert_eq!(r.tasks[1].weight, 3);
    assert!(ratio(&r) > 20.0, "{:.3}", ratio(&r));
}

/// A renice takes effect: two nice-0 hogs share 1:1, then one is reniced
/// to 10 halfway and the other gets about 9 times as much from then on.
#[test]
fn renice_takes_effect() {
    let half = 5_000_000_000;
    let later = TaskGroup::new(TaskClass::Nice, Count::Fixed(1), Behavior::Hog).renice(half, 10);
    let r = simulate(&pair(later), Box::new(WeightedVtime::new(100_000_000))).unwrap();
    assert_eq!((r.tasks[1].nice, r.tasks[1].weight), (10, 110));
    // First half 1:1 (2.5 s each), second half 1024:110 (4.5 s and 0.5 s).
    let (a, b) = (r.tasks[0].cpu_ns as f64, r.tasks[1].cpu_ns as f64);
    let expected = (2.5 + 5.0 * 1024.0 / 1134.0) / (2.5 + 5.0 * 110.0 / 1134.0);
    assert!((a / b / expected - 1.0).abs() < 0.05, "{:.3} vs {expected:.3}", a / b);
}
