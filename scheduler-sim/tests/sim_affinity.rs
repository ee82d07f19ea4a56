//! Affinity: a task runs only on CPUs it may use, whatever the policy says.
#![allow(clippy::unwrap_used)]

mod sim_support;

use scheduler_sim::{simulate, Affinity, Behavior, Count, Preset, SimConfig, TaskClass, TaskGroup, Workload};
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

/// Sends pinned tasks to their CPU's own queue and the rest to the shared
/// queue, in arrival order; with `ordered`, the decision's vtime is the
/// arrival number (so both queues carry one order), otherwise 0.
struct PinnedToOwnQueue {
    rr: RoundRobin,
    ordered: bool,
    seq: u64,
}

impl PinnedToOwnQueue {
    fn new(ordered: bool) -> Self {
        Self { rr: RoundRobin::new(5_000_000), ordered, seq: 0 }
    }
}

impl scheduler_core::Policy for PinnedToOwnQueue {
    fn name(&self) -> &str {
        "pinned-to-own-queue"
    }
    fn enqueue(&mut self, task: &scheduler_core::QueuedTask, ctx: &scheduler_core::SchedContext<'_>) {
        self.rr.enqueue(task, ctx);
    }
    fn dispatch(&mut self, ctx: &scheduler_core::SchedContext<'_>) -> Option<scheduler_core::Decision> {
        let mut d = self.rr.dispatch(ctx)?;
        if let Some(cpu) = self.rr.last_cpu_if_pinned() {
            d.target = scheduler_core::Target::Cpu(cpu);
        }
        if self.ordered {
            self.seq += 1;
            d.vtime = self.seq;
        }
        Some(d)
    }
    fn pending(&self) -> usize {
        self.rr.pending()
    }
    fn take_all(&mut self, out: &mut Vec<scheduler_core::QueuedTask>) {
        self.rr.take_all(out);
    }
}

/// Two pinned hogs per CPU and one unpinned hog on 2 CPUs, 6 s.
fn pinned_hogs_and_one_free_hog() -> SimConfig {
    SimConfig {
        nr_cpus: 2,
        duration_ns: 6_000_000_000,
        workload: Workload::Custom(vec![
            TaskGroup::new(TaskClass::Affinity, Count::Fixed(4), Behavior::Hog).affinity(Affinity::PinnedSpread),
            TaskGroup::new(TaskClass::Hog, Count::Fixed(1), Behavior::Hog),
        ]),
        ..SimConfig::default()
    }
}

/// The dispatcher serves a CPU's own queue and the shared queue in one vtime
/// order (the BPF's `consume_in_vtime_order`). So a policy that parks pinned
/// tasks on their CPU's own queue — two pinned hogs per CPU keep those queues
/// non-empty at every dispatch — does not starve the unpinned hog waiting in
/// the shared queue, provided its vtimes advance: the hog gets about its
/// share (5 hogs on 2 CPUs: 2/5 of a CPU; at least half of that is asserted)
/// and no wait nears the kernel's 5 s watchdog.
#[test]
fn vtime_order_does_not_starve_the_shared_queue() {
    let config = pinned_hogs_and_one_free_hog();
    let parked = simulate(&config, Box::new(PinnedToOwnQueue::new(true))).unwrap();
    parked.accounting.check().unwrap();
    assert!(!parked.kernel_watchdog_exceeded, "longest wait {}", parked.longest_wait_ns());
    assert!(parked.longest_wait_ns() < 100_000_000, "longest wait {}", parked.longest_wait_ns());
    let hog_cpu = parked.class(TaskClass::Hog).unwrap().cpu_ns;
    let share = config.duration_ns * 2 / 5;
    assert!(hog_cpu * 2 > share, "unpinned hog got {hog_cpu} ns of {} ns", config.duration_ns);
    let fair = simulate(&config, Box::new(RoundRobin::new(5_000_000))).unwrap();
    assert!(!fair.kernel_watchdog_exceeded, "longest wait {}", fair.longest_wait_ns());
}

/// Equal vtimes go to the CPU's own queue first (the BPF takes the shared
/// head only when its vtime is strictly lower). A policy that gives every
/// decision vtime 0 and parks pinned hogs on their own CPU's queues
/// therefore starves the shared queue — until aging runs its task, once it
/// has waited `AGE_AFTER_MS` (1 s): without aging it waited past the
/// kernel's 5 s watchdog. The vtime is the order, and a policy must send
/// one; aging only bounds the damage.
#[test]
fn equal_vtimes_favour_the_own_queue_until_aging() {
    let config = pinned_hogs_and_one_free_hog();
    let unordered = simulate(&config, Box::new(PinnedToOwnQueue::new(false))).unwrap();
    let longest = unordered.longest_wait_ns();
    println!("longest wait {longest} ns, aged {}", unordered.dispatch.aged);
    assert!(!unordered.kernel_watchdog_exceeded, "longest wait {longest}");
    assert!(longest >= 1_000_000_000, "longest wait {longest}: the shared queue was not starved");
    assert!(longest < 2_000_000_000, "longest wait {longest}: aging came late");
    assert!(unordered.dispatch.aged > 0);
}
