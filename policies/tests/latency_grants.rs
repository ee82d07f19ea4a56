//! The shipped policies' fast-path grants (`policies::latency`) in the
//! simulator, end to end: hackbench's tasks, which wake each other, get
//! none (rule 5: wakeups mostly from interrupts), so its run with the fast
//! path on is its run without; a periodic task woken by its timer beside
//! a CPU hog on every CPU is granted, and its wakeups are fast-placed.

#![allow(clippy::unwrap_used, missing_docs)]

use policies::{by_name, PolicyConfig};
use scheduler_core::Policy;
use scheduler_sim::{simulate, Behavior, Count, Preset, SimConfig, TaskClass, TaskGroup, Workload};

const MS: u64 = 1_000_000;

/// The policies that grant by `policies::latency`.
const GRANTING: [&str; 2] = ["deadline", "interactive"];

fn policy(name: &str) -> Box<dyn Policy> {
    by_name(name, &PolicyConfig::default()).unwrap()
}

/// hackbench on 2 CPUs with the costs `docs/performance.md` quotes for its
/// simulator runs (`--wake-cost-ns 125000 --decision-cost-ns 64000`).
fn hackbench() -> SimConfig {
    SimConfig {
        nr_cpus: 2,
        duration_ns: 500 * MS,
        workload: Workload::Preset(Preset::Hackbench),
        wake_cost_ns: 125_000,
        decision_cost_ns: 64_000,
        check_invariants: true,
        ..SimConfig::default()
    }
}

#[test]
fn hackbench_is_granted_nothing_and_runs_as_without_the_fast_path() {
    for name in GRANTING {
        let off = simulate(&hackbench(), policy(name)).unwrap();
        let on = simulate(&SimConfig { fast_path: true, ..hackbench() }, policy(name)).unwrap();
        on.accounting.check().unwrap();
        assert!(off.throughput.work_units > 0, "{name}: hackbench did no work");
        assert_eq!((on.engine.grants, on.dispatch.fast_placed), (0, 0), "{name}: hackbench's tasks were granted");
        assert_eq!(
            on.throughput.work_units, off.throughput.work_units,
            "{name}: the fast path changed hackbench's run"
        );
    }
}

#[test]
fn a_timer_woken_periodic_task_beside_hogs_is_granted_and_fast_placed() {
    for name in GRANTING {
        let config = SimConfig {
            nr_cpus: 2,
            duration_ns: 1_000 * MS,
            fast_path: true,
            workload: Workload::Custom(vec![
                TaskGroup::new(TaskClass::Hog, Count::Fixed(2), Behavior::Hog),
                TaskGroup::new(
                    TaskClass::Interactive,
                    Count::Fixed(1),
                    Behavior::Periodic { run_ns: MS, sleep_ns: 10 * MS },
                ),
            ]),
            check_invariants: true,
            ..SimConfig::default()
        };
        let r = simulate(&config, policy(name)).unwrap();
        r.accounting.check().unwrap();
        assert!(r.engine.grants >= 1, "{name}: the periodic task was not granted");
        // About 90 wakeups in 1 s; the first few go through the policy
        // before the averages count (latency::MIN_WAKEUPS).
        eprintln!("{name}: {} grants, {} wakeups fast-placed", r.engine.grants, r.dispatch.fast_placed);
        assert!(r.dispatch.fast_placed >= 40, "{name}: {} wakeups fast-placed", r.dispatch.fast_placed);
    }
}
