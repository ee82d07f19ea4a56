//! Nice levels reach the policy as sched_ext weights.
#![allow(clippy::unwrap_used)]

mod sim_support;

use scheduler_core::sim::{nice_to_weight, simulate, Behavior, Count, SimConfig, TaskClass, TaskGroup, Workload};
use sim_support::WeightedVtime;

/// Two hogs at nice 0 and nice 5 share one CPU under a weighted-vtime
/// policy: CPU shares follow the weights 100 : 32 (nice 0 gets
/// 100 / 132 = 75.8 %) within 2 percentage points (the user scheduler's
/// steps and the first slices are the only other consumers).
#[test]
fn cpu_shares_follow_weights() {
    let config = SimConfig {
        nr_cpus: 1,
        duration_ns: 10_000_000_000,
        workload: Workload::Custom(vec![
            TaskGroup::new(TaskClass::Hog, Count::Fixed(1), Behavior::Hog),
            TaskGroup::new(TaskClass::Nice, Count::Fixed(1), Behavior::Hog).nice(5),
        ]),
        ..SimConfig::default()
    };
    let r = simulate(&config, Box::new(WeightedVtime::new(5_000_000))).unwrap();
    let (w0, w5) = (nice_to_weight(0), nice_to_weight(5));
    assert_eq!((w0, w5), (100, 32));
    let (t0, t5) = (&r.tasks[0], &r.tasks[1]);
    assert_eq!((t0.weight, t5.weight), (w0, w5));
    let share = t0.cpu_ns as f64 / (t0.cpu_ns + t5.cpu_ns) as f64;
    let expected = w0 as f64 / (w0 + w5) as f64;
    assert!((share - expected).abs() < 0.02, "nice-0 share {share:.4}, expected {expected:.4}");
    assert!(r.fairness.unwrap() > 0.99, "Jain's index of share/weight {:?}", r.fairness);
}
