//! Affinity: a task runs only on CPUs it may use, whatever the policy says.
#![allow(clippy::unwrap_used)]

mod sim_support;

use scheduler_core::sim::{simulate, Affinity, Behavior, Count, Preset, SimConfig, TaskClass, TaskGroup, Workload};
use sim_support::{RoundRobin, WrongCpu};

/// CPUs allowed by a report's `cpus_allowed` ("k" or "a-b").
fn allowed(s: &str) -> std::ops::RangeInclusive<u32> {
    match s.split_once('-') {
        Some((a, b)) => a.parse().unwrap()..=b.parse().unwrap(),
        None => s.parse().unwrap()..=s.parse().unwrap(),
    }
}

/// Tasks pinned to CPU 2 (a hog and a periodic task, among unpinned hogs)
/// only ever run on CPU 2, although the policy always names another CPU:
/// those decisions are bounced.
#[test]
fn pinned_task_runs_only_on_its_cpu() {
    let pinned = Affinity::Range { first: 2, count: 1 };
    let config = SimConfig {
        nr_cpus: 4,
        duration_ns: 500_000_000,
        workload: Workload::Custom(vec![
            TaskGroup::new(TaskClass::Affinity, Count::Fixed(1), Behavior::Hog).affinity(pinned),
            TaskGroup::new(
                TaskClass::Affinity,
                Count::Fixed(1),
                Behavior::Periodic { run_ns: 300_000, sleep_ns: 2_000_000 },
            )
            .affinity(pinned),
            TaskGroup::new(TaskClass::Hog, Count::Fixed(6), Behavior::Hog),
        ]),
        check_invariants: true,
        ..SimConfig::default()
    };
    let r = simulate(&config, Box::new(WrongCpu(RoundRobin::new(5_000_000)))).unwrap();
    r.accounting.check().unwrap();
    assert!(r.dispatch.bounced > 0);
    for t in r.tasks.iter().filter(|t| t.class == TaskClass::Affinity) {
        assert!(t.cpu_ns > 0, "pinned task {} ran", t.pid);
        assert_eq!(t.cpus_used, vec![2], "pinned task {}", t.pid);
    }
    assert!(r.tasks.iter().filter(|t| t.class == TaskClass::Hog).any(|t| t.cpus_used.len() > 1));
}

/// In the `affinity` and `mixed` presets, every task's CPUs are within its
/// allowed set under a policy that names wrong CPUs.
#[test]
fn presets_respect_affinity() {
    for preset in [Preset::Affinity, Preset::Mixed] {
        let config = SimConfig { workload: preset.into(), duration_ns: 300_000_000, ..SimConfig::default() };
        let r = simulate(&config, Box::new(WrongCpu(RoundRobin::new(5_000_000)))).unwrap();
        assert!(r.dispatch.bounced > 0);
        assert_eq!(r.accounting.affinity_violations, 0);
        for t in &r.tasks {
            let ok = allowed(&t.cpus_allowed);
            assert!(
                t.cpus_used.iter().all(|c| ok.contains(c)),
                "{} ran on {:?}, allowed {}",
                t.comm,
                t.cpus_used,
                t.cpus_allowed
            );
        }
    }
}

/// Sends pinned tasks to their CPU's own queue and the rest to the shared queue.
struct PinnedToOwnQueue(RoundRobin);

impl scheduler_core::Policy for PinnedToOwnQueue {
    fn name(&self) -> &str {
        "pinned-to-own-queue"
    }
    fn enqueue(&mut self, task: &scheduler_core::QueuedTask, ctx: &scheduler_core::SchedContext<'_>) {
        self.0.enqueue(task, ctx);
    }
    fn dispatch(&mut self, ctx: &scheduler_core::SchedContext<'_>) -> Option<scheduler_core::Decision> {
        let mut d = self.0.dispatch(ctx)?;
        if let Some(cpu) = self.0.last_cpu_if_pinned() {
            d.target = scheduler_core::Target::Cpu(cpu);
        }
        Some(d)
    }
    fn pending(&self) -> usize {
        self.0.pending()
    }
    fn take_all(&mut self, out: &mut Vec<scheduler_core::QueuedTask>) {
        self.0.take_all(out);
    }
}

/// The dispatcher serves a CPU's own queue before the shared one (as
/// upstream's `ops.dispatch` does). So a policy that always sends pinned
/// tasks to their CPU's own queue lets two pinned hogs per CPU keep that
/// queue non-empty at every dispatch, and an unpinned hog waiting in the
/// shared queue starves past the kernel's 5 s watchdog, which the report
/// flags. Sending everything to the shared queue (round robin) does not.
#[test]
fn own_queue_first_can_starve_the_shared_queue() {
    let config = SimConfig {
        nr_cpus: 2,
        duration_ns: 6_000_000_000,
        workload: Workload::Custom(vec![
            TaskGroup::new(TaskClass::Affinity, Count::Fixed(4), Behavior::Hog).affinity(Affinity::PinnedSpread),
            TaskGroup::new(TaskClass::Hog, Count::Fixed(1), Behavior::Hog),
        ]),
        ..SimConfig::default()
    };
    let starving = simulate(&config, Box::new(PinnedToOwnQueue(RoundRobin::new(5_000_000)))).unwrap();
    assert!(starving.kernel_watchdog_exceeded);
    assert!(starving.render_table().contains("WARNING"));
    let fair = simulate(&config, Box::new(RoundRobin::new(5_000_000))).unwrap();
    assert!(!fair.kernel_watchdog_exceeded, "longest wait {}", fair.longest_wait_ns());
    let hog_cpu = |r: &scheduler_core::sim::Report| r.class(TaskClass::Hog).unwrap().cpu_ns;
    assert!(hog_cpu(&starving) * 10 < hog_cpu(&fair), "{} vs {}", hog_cpu(&starving), hog_cpu(&fair));
}
