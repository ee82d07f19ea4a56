//! Each shipped policy bounds the longest wait of any runnable task, checked
//! in the simulator on every preset workload, on an overload of equal hogs,
//! and — for the weighted orders — on hogs of very different weights mixed
//! with tasks that sleep.
//!
//! Notation: `N` CPUs, `T` the stall timeout (user space answers within it,
//! or the dispatcher's fallback places the task), `S` the configured slice
//! (`PolicyConfig::slice_ns`), `tick` the kernel's tick (slices end, and the
//! dispatcher's tick rule acts, only at ticks), `U` the user scheduler's
//! own CPU time. The dispatcher starts tasks from the queues in key order,
//! and a running task yields at the first tick after `slice_min` at which a
//! lower key waits (see `scheduler_sim`).
//!
//! - `fifo` orders by arrival: at most `R - 1` tasks are ahead of a waiting
//!   one, and each runs at most a slice, so it waits at most
//!   `T + (ceil((R - 1) / N) + 1) × S`.
//! - `deadline` orders by weighted virtual time; its module docs state and
//!   prove the bound: a task sent to the shared queue waits at most
//!   `T + U + Σ_j C_j / N'`, with `C_j = (26 S - m + n_j + 1) w_j / 1024 +
//!   max(slice_j, S_d) + slice_j + S - m + μ + 3 tick` the CPU time another
//!   task `j` can get meanwhile (`m`, `μ` the policy's and the dispatcher's
//!   `slice_min`, `S_d` the dispatcher's default slice, `n_j` `j`'s runs,
//!   `slice_j` its slice), `N' = N` when every task may run on every CPU,
//!   else 1. Assumed, and asserted here: no task placed by the dispatcher's
//!   rescue, fallback or congestion path, no renice. A task allowed one CPU
//!   only, which a decision for any CPU sends to that CPU's own queue, is
//!   served there in one key order with the shared queue: the same bound,
//!   with `N' = 1`. Not bounded by the keys: a wait in a CPU's own queue
//!   that a policy chose for a task allowed elsewhere too (the
//!   dispatcher's aging bounds it on a real kernel); checked: below aging's
//!   1 s. Weights enter as in the
//!   kernel's fair class: heavy competitors make a waiting task wait longer.
//! - `interactive` and `local` use `deadline`'s keys (with interactive
//!   wakeups two slices earlier, or per-CPU queues) and are checked against
//!   the first, coarser statement of that argument, not re-derived for
//!   them: `j` gets at most `K × S × w_j / 1024 + 2 slice_j + 4 tick` of CPU
//!   (`K = 31`, `33` for `interactive`: 21 slices above the clock, 10 below),
//!   `X` waits at most
//!   `T + (U + Σ_j (...)) / N'`, `N' = 1` for `local` and pinned tasks.
//! - `eevdf` is the kernel's fair class, whose waits grow with the load and
//!   have no bound of their own (its module docs); the dispatcher's aging
//!   (2 s in a queue) is what bounds them on a real kernel, which the
//!   simulator does not model. Checked: no wait reaches the kernel's 5 s
//!   watchdog on any workload here.
#![allow(clippy::expect_used)]

use policies::PolicyConfig;
use scheduler_core::task::WEIGHT_DEFAULT;
use scheduler_sim::{
    simulate, Behavior, Count, Preset, Report, SimConfig, TaskClass, TaskGroup, Workload, KERNEL_WATCHDOG_NS,
};

const NR_CPUS: u32 = 8;
const SECONDS: u64 = 10;
/// Children of a `fork` preset parent alive at once.
const FORK_CHILDREN: u64 = 8;

fn run(policy: &str, config: &SimConfig) -> Report {
    let p = policies::by_name(policy, &PolicyConfig::default()).expect("known policy");
    let report = simulate(config, p).expect("valid config");
    report.accounting.check().expect("no task lost");
    report
}

fn config(workload: Workload, nr_cpus: u32, seed: u64) -> SimConfig {
    SimConfig { nr_cpus, duration_ns: SECONDS * 1_000_000_000, seed, workload, ..SimConfig::default() }
}

/// The longest wait of a run: measured, or of a task still waiting at the end.
fn longest(r: &Report) -> u64 {
    r.latency.max_ns.max(r.accounting.longest_unfinished_wait_ns)
}

/// The slice the weighted policies give a task of `weight`.
fn slice_of(weight: u64) -> u64 {
    let cfg = PolicyConfig::default();
    (5 * cfg.slice_ns * weight / WEIGHT_DEFAULT).clamp(cfg.slice_min_ns, 5 * cfg.slice_ns)
}

/// The weighted orders' bound for `r` (see the module docs), for `policy`.
fn weighted_bound(policy: &str, r: &Report, config: &SimConfig) -> u64 {
    let s = PolicyConfig::default().slice_ns;
    // 31 S: K_X ≤ c0 + (above + 1) S, and competitors from c0 - 2 behind.
    let k = policies::ABOVE_SLICES + 1 + 2 * policies::AHEAD_SLICES + if policy == "interactive" { 2 } else { 0 };
    let per_task = |w: u64| k * s * w / WEIGHT_DEFAULT + 2 * slice_of(w) + 4 * config.tick_ns;
    let mut cpu: u64 = r.tasks.iter().map(|t| per_task(t.weight)).sum();
    cpu +=
        r.tasks.iter().filter(|t| t.class == TaskClass::Fork).map(|t| FORK_CHILDREN * per_task(t.weight)).sum::<u64>();
    cpu += r.utilisation.user_sched_cpu_ns;
    let pinned = r.tasks.iter().any(|t| t.cpus_allowed != format!("0-{}", r.nr_cpus - 1));
    let cpus = if pinned || policy == "local" { 1 } else { u64::from(r.nr_cpus) };
    config.stall_timeout_ns + cpu / cpus
}

/// `fifo`'s bound: `T + (ceil((R - 1) / N) + 1) × S`, or `T + R × S` when a
/// task may use one CPU only (every task ahead of it may run there first).
fn fifo_bound(r: &Report, config: &SimConfig) -> u64 {
    let runnable = r.accounting.created - r.accounting.exited
        + r.tasks.iter().filter(|t| t.class == TaskClass::Fork).count() as u64 * FORK_CHILDREN;
    let pinned = r.tasks.iter().any(|t| t.cpus_allowed != format!("0-{}", r.nr_cpus - 1));
    let rounds = if pinned { runnable } else { runnable.saturating_sub(1).div_ceil(u64::from(r.nr_cpus)) + 1 };
    config.stall_timeout_ns + rounds * PolicyConfig::default().slice_ns
}

/// Whether every task may run on every CPU.
fn uniform_affinity(r: &Report) -> bool {
    let all = format!("0-{}", r.nr_cpus - 1);
    r.nr_cpus == 1 || r.tasks.iter().all(|t| t.cpus_allowed == all)
}

/// `deadline`'s bound on competitor `j`'s CPU time while a task waits in a
/// queue (its module docs, "Bounded wait"): `C_j = ceil((26 S - m + n_j + 1)
/// w_j / 1024) + max(slice_j, S_d) + slice_j + S - m + μ + 3 tick`.
fn deadline_competitor(w: u64, runs: u64, config: &SimConfig) -> u64 {
    let p = PolicyConfig::default();
    let (s, m) = (p.slice_ns, p.slice_min_ns);
    // 26 S: K_X ≤ c0 + (above + 1) S, placements from c0 - behind.
    let virt = (policies::ABOVE_SLICES + policies::AHEAD_SLICES + 1) * s - m + runs + 1;
    (virt * w).div_ceil(WEIGHT_DEFAULT) + slice_of(w).max(config.slice_ns) + slice_of(w) + s - m
        + config.slice_min_ns
        + 3 * config.tick_ns
}

/// `deadline`'s bound for `r` (its module docs): `T + U + Σ_j C_j / N'`
/// for a wait that ends in the shared queue (`N' = N` if every task may run
/// on every CPU, else 1), `U` all the user scheduler's CPU time. The sum is
/// over every long-lived task (the waiting one too: an over-count); fork
/// children, which exist only briefly and whose number during a wait the
/// workload does not bound, count with their whole CPU time.
fn deadline_bound(r: &Report, config: &SimConfig) -> u64 {
    assert_eq!(
        r.dispatch.fallback_dispatches + r.dispatch.congested,
        0,
        "the bound assumes user space placed every task"
    );
    assert!(config.workload.groups().iter().all(|g| g.renice.is_none()), "the bound assumes constant weights");
    let sum: u64 = r.tasks.iter().map(|t| deadline_competitor(t.weight, t.runs, config)).sum();
    let fork_cpu = r.classes.iter().filter(|c| c.class == TaskClass::Fork).map(|c| c.cpu_ns).sum::<u64>();
    let parents_cpu = r.tasks.iter().filter(|t| t.class == TaskClass::Fork).map(|t| t.cpu_ns).sum::<u64>();
    let cpu = sum + (fork_cpu - parents_cpu);
    let base = config.stall_timeout_ns + r.utilisation.user_sched_cpu_ns;
    let n = if uniform_affinity(r) { u64::from(r.nr_cpus) } else { 1 };
    base + cpu / n
}

/// The dispatcher's aging threshold (`RELAY_AGE_AFTER_MS` in `intf.h`): a
/// task runnable this long in a queue runs next. The simulator does not
/// model it; waits in a CPU's own queue, which `deadline`'s keys do not
/// bound, are checked below it.
const AGE_AFTER_NS: u64 = 1_000_000_000;

/// Checks `policy`'s bound on `config`; returns the report and the longest wait.
fn check(policy: &str, config: &SimConfig, what: &str) -> (Report, u64) {
    let r = run(policy, config);
    let longest = longest(&r);
    let ms = |ns: u64| ns as f64 / 1e6;
    if policy == "deadline" {
        // A wait still in user space at the end is below T, within the bound.
        let bound = deadline_bound(&r, config);
        let q = r.queue_waits;
        println!(
            "{what:<40} {policy:<12} shared queue: longest wait {:>9.1} ms, pinned in own queue {:>9.1} ms, bound {:>9.1} ms; own queue: {:>6.3} ms",
            ms(q.shared_ns),
            ms(q.pinned_ns),
            ms(bound),
            ms(q.own_ns),
        );
        assert!(q.shared_ns <= bound, "{policy} on {what}: shared-queue wait {} ns > bound {bound} ns", q.shared_ns);
        // A task allowed one CPU that a decision for any CPU sent to that
        // CPU's own queue: served in one key order with the shared queue,
        // by the one CPU it may use (N' = 1).
        assert!(q.pinned_ns <= bound, "{policy} on {what}: pinned task's wait {} ns > bound {bound} ns", q.pinned_ns);
        assert!(q.own_ns < AGE_AFTER_NS, "{policy} on {what}: own-queue wait {} ns would need aging", q.own_ns);
        assert!(longest <= bound.max(q.own_ns), "{policy} on {what}: a wait outside the queues");
    } else {
        let bound = match policy {
            "fifo" => fifo_bound(&r, config),
            "eevdf" => KERNEL_WATCHDOG_NS,
            _ => weighted_bound(policy, &r, config),
        };
        println!("{what:<40} {policy:<12} longest wait {:>9.1} ms  bound {:>9.1} ms", ms(longest), ms(bound));
        assert!(longest <= bound, "{policy} on {what}: longest wait {longest} ns > bound {bound} ns");
    }
    assert!(!r.kernel_watchdog_exceeded, "{policy} on {what}: a task waited past 5 s");
    assert_eq!(r.dispatch.vtime_clamped, 0, "{policy} on {what}: the dispatcher clamped an honest decision's vtime");
    (r, longest)
}

/// 24 equal hogs on 8 CPUs, seeds 1 to 3: every policy within its bound
/// and, for equal hogs, within `T + (ceil(R / N) + 1) × S` too, with equal
/// shares.
#[test]
fn overload_of_hogs_is_bounded() {
    let hogs = Workload::Custom(vec![TaskGroup::new(TaskClass::Hog, Count::Fixed(24), Behavior::Hog)]);
    let round_robin = SimConfig::default().stall_timeout_ns
        + (24u64.div_ceil(u64::from(NR_CPUS)) + 1) * PolicyConfig::default().slice_ns;
    for policy in policies::NAMES {
        for seed in 1..=3 {
            let c = config(hogs.clone(), NR_CPUS, seed);
            let (r, longest) = check(policy, &c, &format!("24 hogs, seed {seed}"));
            assert!(longest <= round_robin, "{policy} seed {seed}: {longest} ns > {round_robin} ns");
            assert!(r.fairness.unwrap_or(0.0) > 0.95, "{policy}: equal hogs, unequal shares {:?}", r.fairness);
        }
    }
}

/// Hogs of very different weights — nice -5, 0, 5, 10, 15 and a
/// SCHED_IDLE one (weight 3) — with tasks that sleep (periodic tasks of
/// two kinds, pipe pairs), on 2 and 8 CPUs, seeds 1 to 3: the weighted
/// orders stay within their bound, whose argument does not rely on the
/// competing tasks having equal weights (as identical hogs, which drift
/// together, would).
#[test]
fn mixed_weights_and_sleepers_are_bounded() {
    let groups = |per_level: u32| {
        let mut g: Vec<TaskGroup> = [-5, 0, 5, 10, 15]
            .iter()
            .map(|&nice| TaskGroup::new(TaskClass::Nice, Count::Fixed(per_level), Behavior::Hog).nice(nice))
            .collect();
        g.push(TaskGroup::new(TaskClass::Nice, Count::Fixed(1), Behavior::Hog).sched_idle());
        let periodic = Behavior::Periodic { run_ns: 500_000, sleep_ns: 4_500_000 };
        g.push(TaskGroup::new(TaskClass::Interactive, Count::Fixed(2 * per_level), periodic));
        let short = Behavior::Periodic { run_ns: 3_000_000, sleep_ns: 7_000_000 };
        g.push(TaskGroup::new(TaskClass::Interactive, Count::Fixed(per_level), short).nice(5));
        g.push(TaskGroup::new(TaskClass::Pipe, Count::Fixed(per_level), Behavior::PipePair { run_ns: 50_000 }));
        Workload::Custom(g)
    };
    for policy in ["deadline", "interactive", "local", "eevdf", "fifo"] {
        for (nr_cpus, per_level) in [(2, 1), (8, 3)] {
            for seed in 1..=3 {
                let c = config(groups(per_level), nr_cpus, seed);
                check(policy, &c, &format!("mixed weights, {nr_cpus} CPUs, seed {seed}"));
            }
        }
    }
}

/// Every preset workload, every policy: within the policy's bound, and no
/// wait near the kernel's watchdog.
#[test]
fn every_preset_is_bounded() {
    for policy in policies::NAMES {
        for name in Preset::names() {
            let preset: Preset = name.parse().expect("listed preset");
            check(policy, &config(Workload::Preset(preset), NR_CPUS, 1), name);
        }
    }
}

/// Workloads aimed at the gaps a review found in `deadline`'s first
/// argument, on 1, 2 and 4 CPUs, seeds 1 to 3: a task pinned to one CPU
/// while others return one after another (the clock runs ahead while it
/// waits); SCHED_IDLE hogs (a tick of CPU is 341 ticks of virtual time)
/// among nice-0 and nice -5 hogs; mixed weights sharing one CPU; a
/// periodic task and a pipe pair pinned under heavy hogs.
#[test]
fn deadline_adversarial_workloads_are_bounded() {
    let periodic = Behavior::Periodic { run_ns: 3_000_000, sleep_ns: 7_000_000 };
    let short = Behavior::Periodic { run_ns: 200_000, sleep_ns: 2_000_000 };
    let cpu0 = scheduler_sim::Affinity::Range { first: 0, count: 1 };
    let hog = |nice: i32, n: u32| TaskGroup::new(TaskClass::Nice, Count::Fixed(n), Behavior::Hog).nice(nice);
    let workloads: Vec<(&str, Vec<TaskGroup>)> = vec![
        (
            "pinned behind returning hogs",
            vec![
                TaskGroup::new(TaskClass::Affinity, Count::Fixed(1), periodic).affinity(cpu0),
                TaskGroup::new(TaskClass::Affinity, Count::Fixed(1), Behavior::Hog).affinity(cpu0).nice(10),
                TaskGroup::new(TaskClass::Affinity, Count::Fixed(1), Behavior::Hog).affinity(cpu0).sched_idle(),
                hog(-5, 2),
                hog(0, 2),
                hog(10, 2),
                TaskGroup::new(TaskClass::Interactive, Count::Fixed(3), short),
            ],
        ),
        (
            "SCHED_IDLE hogs",
            vec![
                TaskGroup::new(TaskClass::Nice, Count::Fixed(4), Behavior::Hog).sched_idle(),
                hog(0, 2),
                hog(-5, 1),
                TaskGroup::new(TaskClass::Interactive, Count::Fixed(2), periodic),
                TaskGroup::new(TaskClass::Pipe, Count::Fixed(1), Behavior::PipePair { run_ns: 50_000 }),
            ],
        ),
        (
            "mixed weights, sleepers",
            vec![
                hog(-5, 1),
                hog(0, 1),
                hog(5, 1),
                hog(15, 1),
                TaskGroup::new(TaskClass::Nice, Count::Fixed(1), Behavior::Hog).sched_idle(),
                TaskGroup::new(TaskClass::Interactive, Count::Fixed(2), short).nice(10),
                TaskGroup::new(TaskClass::Interactive, Count::Fixed(1), periodic).sched_idle(),
            ],
        ),
    ];
    for (what, groups) in workloads {
        for nr_cpus in [1, 2, 4] {
            for seed in 1..=3 {
                let c = config(Workload::Custom(groups.clone()), nr_cpus, seed);
                check("deadline", &c, &format!("{what}, {nr_cpus} CPUs, seed {seed}"));
            }
        }
    }
}

/// A task pinned to one CPU among hogs free to move (cyclictest's
/// measuring thread, a 20 µs task every 1 ms pinned to CPU 0, and one hog
/// per CPU: the `cyclictest` preset without its main thread) waits at most
/// the user round trip, `slice_min` and a tick or so under every policy,
/// not a slice behind a lower key on its CPU: the dispatcher's tick moves
/// the hog when another CPU runs a later key than the pinned task's
/// (`pinned_waiter_displaces`). Before that rule, `local`'s p99 here was 35
/// to 83 ms (seeds 1 to 3), the others' 7.2 ms. The rule alone: with
/// cyclictest's main thread (the preset), whose wakeups send the other
/// CPUs' hogs back through user space, the pinned task's p99 is tens of ms
/// in the simulator and in the guest alike (docs/sim-fidelity.md).
fn measuring_thread_among_hogs() -> Vec<TaskGroup> {
    let preset = Preset::Cyclictest.def().groups;
    let kept: Vec<TaskGroup> = preset.iter().filter(|g| g.class != TaskClass::Interactive).copied().collect();
    assert_eq!(kept.len(), 2, "the measuring thread and the hogs");
    kept
}

#[test]
fn a_pinned_task_waits_about_a_tick_not_a_slice() {
    const BOUND_NS: u64 = 10_000_000;
    for policy in ["deadline", "interactive", "local", "eevdf", "fifo"] {
        for seed in 1..=2 {
            let r = run(policy, &config(Workload::Custom(measuring_thread_among_hogs()), 4, seed));
            let pinned = r.classes.iter().find(|c| c.class == TaskClass::Affinity).expect("the measuring thread");
            assert!(pinned.latency.samples > 1_000, "{policy}, seed {seed}: {} wakeups", pinned.latency.samples);
            assert!(
                pinned.latency.p99_ns <= BOUND_NS,
                "{policy}, seed {seed}: p99 {} ns > {BOUND_NS} ns",
                pinned.latency.p99_ns
            );
        }
    }
}
