//! Invalid configurations are errors, never panics or empty reports.
#![allow(clippy::unwrap_used)]

mod sim_support;

use scheduler_sim::{
    simulate, Affinity, Behavior, Count, SimConfig, SimError, TaskClass, TaskGroup, Workload, WorkloadError,
};
use sim_support::RoundRobin;

fn err(config: SimConfig) -> SimError {
    simulate(&config, Box::new(RoundRobin::new(1_000_000))).unwrap_err()
}

/// Zero CPUs, too many CPUs, zero duration and zero tunables are refused by name.
#[test]
fn bad_machine_settings() {
    assert!(matches!(err(SimConfig { nr_cpus: 0, ..Default::default() }), SimError::NoCpus));
    assert!(matches!(err(SimConfig { nr_cpus: 1025, ..Default::default() }), SimError::TooManyCpus(1025)));
    assert!(matches!(err(SimConfig { duration_ns: 0, ..Default::default() }), SimError::ZeroDuration));
    assert!(matches!(err(SimConfig { slice_ns: 0, ..Default::default() }), SimError::Zero("slice_ns")));
    assert!(matches!(err(SimConfig { smt: 0, ..Default::default() }), SimError::Zero("smt")));
    assert!(matches!(err(SimConfig { channel_capacity: 0, ..Default::default() }), SimError::Zero("channel_capacity")));
    assert!(matches!(err(SimConfig { stall_timeout_ns: 0, ..Default::default() }), SimError::Zero("stall_timeout_ns")));
}

/// Workload groups that do not fit the machine are refused with the reason.
#[test]
fn bad_workloads() {
    let hog = TaskGroup::new(TaskClass::Hog, Count::Fixed(1), Behavior::Hog);
    let outside = hog.affinity(Affinity::Range { first: 6, count: 4 });
    let e = err(SimConfig { workload: Workload::Custom(vec![outside]), ..Default::default() });
    assert!(matches!(e, SimError::Workload(WorkloadError::Affinity { first: 6, count: 4, nr_cpus: 8 })), "{e}");
    let e = err(SimConfig { workload: Workload::Custom(vec![hog.nice(20)]), ..Default::default() });
    assert!(matches!(e, SimError::Workload(WorkloadError::Nice(20))));
    let spin = TaskGroup::new(TaskClass::Interactive, Count::Fixed(1), Behavior::Periodic { run_ns: 0, sleep_ns: 1 });
    let e = err(SimConfig { workload: Workload::Custom(vec![spin]), ..Default::default() });
    assert_eq!(e.to_string(), "workload: periodic run_ns must be > 0");
    let pipes = |senders, receivers, message_ns, capacity| {
        let g = Behavior::PipeGroup { senders, receivers, message_ns, capacity };
        err(SimConfig {
            workload: Workload::Custom(vec![TaskGroup::new(TaskClass::Pipe, Count::Fixed(1), g)]),
            ..Default::default()
        })
    };
    assert_eq!(pipes(0, 1, 1_000, 8).to_string(), "workload: pipe group senders must be >= 1");
    assert_eq!(pipes(1, 0, 1_000, 8).to_string(), "workload: pipe group receivers must be >= 1");
    assert_eq!(pipes(1, 1, 1_000, 0).to_string(), "workload: pipe group capacity must be >= 1");
    assert_eq!(pipes(1, 1, 0, 8).to_string(), "workload: pipe group message_ns must be > 0");
}

/// An empty workload runs and reports an idle machine.
#[test]
fn empty_workload_is_an_idle_machine() {
    let config = SimConfig { workload: Workload::Custom(Vec::new()), ..Default::default() };
    let r = simulate(&config, Box::new(RoundRobin::new(1_000_000))).unwrap();
    assert_eq!((r.accounting.created, r.latency.samples, r.throughput.workload_cpu_ns), (0, 0, 0));
    assert_eq!(r.fairness, None);
    assert!(r.render_table().contains("0 lost"));
}
