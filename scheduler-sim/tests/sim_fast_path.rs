//! The idle-CPU fast path: a wakeup onto an idle CPU never visits user space.
#![allow(clippy::unwrap_used)]

mod sim_support;

use scheduler_sim::{Behavior, Count, SimConfig, TaskClass, TaskGroup, Workload};
use sim_support::run_rr;

/// One periodic task on 4 idle CPUs: every wakeup is a kernel dispatch
/// onto an idle CPU with zero latency; user space receives nothing.
#[test]
fn idle_machine_wakeups_are_kernel_dispatches() {
    let config = SimConfig {
        nr_cpus: 4,
        duration_ns: 1_000_000_000,
        workload: Workload::Custom(vec![TaskGroup::new(
            TaskClass::Interactive,
            Count::Fixed(1),
            Behavior::Periodic { run_ns: 500_000, sleep_ns: 4_500_000 },
        )]),
        check_invariants: true,
        ..SimConfig::default()
    };
    let r = run_rr(&config);
    let l = r.class(TaskClass::Interactive).unwrap().latency;
    assert!(l.samples > 150, "about 200 wakeups in 1 s, got {}", l.samples);
    assert_eq!(r.dispatch.kernel_dispatches, l.samples);
    assert_eq!(l.max_ns, 0);
    assert_eq!((r.dispatch.queued_to_user, r.engine.received, r.engine.steps), (0, 0, 0));
    // It stays on the CPU it started on (its previous CPU is idle every time).
    assert_eq!(r.tasks[0].cpus_used.len(), 1);
}

/// With SMT, a woken task prefers a CPU whose sibling is idle too: two
/// periodic tasks on 2 cores × 2 threads end up on different cores.
#[test]
fn smt_prefers_idle_cores() {
    let config = SimConfig {
        nr_cpus: 4,
        smt: 2,
        cores_per_llc: 2,
        duration_ns: 200_000_000,
        workload: Workload::Custom(vec![TaskGroup::new(
            TaskClass::Interactive,
            Count::Fixed(2),
            Behavior::Periodic { run_ns: 2_000_000, sleep_ns: 1_000_000 },
        )]),
        ..SimConfig::default()
    };
    let r = run_rr(&config);
    let core = |cpu: u32| cpu / 2;
    for a in &r.tasks[0].cpus_used {
        for b in &r.tasks[1].cpus_used {
            assert_ne!(
                core(*a),
                core(*b),
                "tasks shared a core: {:?} {:?}",
                r.tasks[0].cpus_used,
                r.tasks[1].cpus_used
            );
        }
    }
}
