//! CPU shares by weight, measured in the simulator on the shipped policies
//! (not a test double): CPU hogs at several nice levels sharing one CPU
//! (pinned to it, as `taskset` would) and spread over all CPUs.
//!
//! Asserted: `deadline`, `eevdf`, `interactive`, `local` and `routing`
//! (a group of each of those) give a nice-0 hog 100 / 11 times the CPU of a
//! nice-10 one within 10 % in every scenario (the kernel's fair class gives
//! 1024 / 110 = 9.3 with its unrounded weights; sched_ext rounds nice 10 to
//! 11), and Jain's index of CPU time over fair share is at least 0.95;
//! `fifo` is weight-blind, as upstream `scx_rlfifo`: 1 : 1 within 25 %.
//! `routing` also composes group shares with weights.
//!
//! The table (markdown) comes with
//! `cargo test --release -p policies --test weight_shares -- --nocapture`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use policies::{PolicyConfig, Router, RoutingConfig};
use scheduler_core::Policy;
use scheduler_sim::{
    nice_to_weight, simulate, Affinity, Behavior, Count, Report, SimConfig, TaskClass, TaskGroup, Workload,
};

const NR_CPUS: u32 = 4;
const SECONDS: u64 = 5;

/// Hogs: `n` at each (nice level), on `affinity`.
fn hogs(levels: &[(i32, u32)], affinity: Affinity) -> Vec<TaskGroup> {
    levels
        .iter()
        .map(|&(nice, n)| {
            let class = if nice == 0 { TaskClass::Hog } else { TaskClass::Nice };
            TaskGroup::new(class, Count::Fixed(n), Behavior::Hog).nice(nice).affinity(affinity)
        })
        .collect()
}

/// The scenarios: (name, groups).
fn scenarios() -> Vec<(&'static str, Vec<TaskGroup>)> {
    let cpu0 = Affinity::Range { first: 0, count: 1 };
    let levels = [(-5, 1), (0, 1), (5, 1), (10, 1), (15, 1)];
    vec![
        ("one CPU: nice -5, 0, 5, 10, 15", hogs(&levels, cpu0)),
        ("one CPU: nice 0, 10", hogs(&[(0, 1), (10, 1)], cpu0)),
        ("4 CPUs: 4 × nice 0, 4 × nice 10", hogs(&[(0, 4), (10, 4)], Affinity::All)),
        ("4 CPUs: 2 × nice -5, 0, 5, 10, 15", hogs(&levels.map(|(n, _)| (n, 2)), Affinity::All)),
    ]
}

/// The policies measured: shipped names, and `routing-X` for a routing
/// configuration whose default group runs X.
const POLICIES: &[&str] = &[
    "fifo",
    "deadline",
    "eevdf",
    "interactive",
    "local",
    "routing-deadline",
    "routing-eevdf",
    "routing-interactive",
    "routing-local",
];

fn policy(name: &str) -> Box<dyn Policy> {
    match name.strip_prefix("routing-") {
        Some(sub) => router(&format!("[default]\npolicy = \"{sub}\"\n")),
        None => policies::by_name(name, &PolicyConfig::default()).unwrap(),
    }
}

fn router(toml: &str) -> Box<dyn Policy> {
    Box::new(Router::new(&RoutingConfig::parse(toml).unwrap(), &PolicyConfig::default(), None).unwrap())
}

fn run(policy: Box<dyn Policy>, groups: Vec<TaskGroup>) -> Report {
    let config = SimConfig {
        nr_cpus: NR_CPUS,
        duration_ns: SECONDS * 1_000_000_000,
        workload: Workload::Custom(groups),
        ..SimConfig::default()
    };
    let r = simulate(&config, policy).unwrap();
    r.accounting.check().unwrap();
    assert!(!r.kernel_watchdog_exceeded);
    r
}

/// Mean CPU time of the hogs at `nice` over that of the hogs at `other`.
fn ratio(r: &Report, nice: i32, other: i32) -> f64 {
    let mean = |n: i32| {
        let ts: Vec<_> = r.tasks.iter().filter(|t| t.nice == n).collect();
        ts.iter().map(|t| t.cpu_ns as f64).sum::<f64>() / ts.len() as f64
    };
    mean(nice) / mean(other)
}

/// Each task's share of `cpus` CPUs by weight, none above one CPU
/// (water-filling), for the CPUs the tasks may use.
fn fair_shares(weights: &[u64], cpus: f64) -> Vec<f64> {
    let mut share = vec![0.0; weights.len()];
    let mut capped = vec![false; weights.len()];
    let mut left = cpus;
    loop {
        let w: f64 = weights.iter().zip(&capped).filter(|(_, &c)| !c).map(|(&w, _)| w as f64).sum();
        let mut changed = false;
        for i in 0..weights.len() {
            if !capped[i] && left * weights[i] as f64 / w >= 1.0 {
                (capped[i], share[i], left, changed) = (true, 1.0, left - 1.0, true);
            }
        }
        if !changed {
            for i in (0..weights.len()).filter(|&i| !capped[i]) {
                share[i] = left * weights[i] as f64 / w;
            }
            return share;
        }
    }
}

/// Jain's index of each hog's CPU time over its fair share (1 = every hog
/// gets its weighted share; the same as Jain's index of share / weight when
/// no hog's share is capped at one CPU).
fn jain_of_fair_share(r: &Report) -> f64 {
    let pinned = r.tasks.iter().all(|t| t.cpus_allowed == "0");
    let weights: Vec<u64> = r.tasks.iter().map(|t| t.weight).collect();
    let fair = fair_shares(&weights, if pinned { 1.0 } else { f64::from(r.nr_cpus) });
    let xs: Vec<f64> = r.tasks.iter().zip(&fair).map(|(t, f)| t.cpu_ns as f64 / f).collect();
    let sum: f64 = xs.iter().sum();
    sum * sum / (xs.len() as f64 * xs.iter().map(|x| x * x).sum::<f64>())
}

/// Every policy on every scenario: the table, and the claims.
#[test]
fn shares_follow_weights_except_fifo() {
    let expected = nice_to_weight(0) as f64 / nice_to_weight(10) as f64;
    let scenarios = scenarios();
    let header: Vec<&str> = scenarios.iter().map(|(s, _)| *s).collect();
    println!("| policy | {} |", header.join(" | "));
    println!("|---|{}", "---|".repeat(header.len()));
    let mut failures = Vec::new();
    for &name in POLICIES {
        let mut row = Vec::new();
        for (what, groups) in &scenarios {
            let r = run(policy(name), groups.clone());
            let (got, jain) = (ratio(&r, 0, 10), jain_of_fair_share(&r));
            row.push(format!("{got:.2} : 1, {jain:.3}"));
            let ok = if name == "fifo" {
                (got - 1.0).abs() <= 0.25
            } else {
                (got / expected - 1.0).abs() <= 0.10 && jain >= 0.95
            };
            if !ok {
                failures.push(format!(
                    "{name} on {what}: nice 0 : nice 10 = {got:.3} (weights {expected:.3}), Jain {jain:.4}"
                ));
            }
        }
        println!("| `{name}` | {} |", row.join(" | "));
    }
    println!(
        "\nEach cell: nice 0 : nice 10 CPU time (weights 1024 : 110 = {expected:.2}), Jain's index of CPU time over fair share. \
         {NR_CPUS} simulated CPUs, {SECONDS} s, seed 1; \"one CPU\": the hogs pinned to CPU 0."
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `routing` composes group shares with task weights: on 4 CPUs, a group
/// of share 300 (the tasks named `interactive-*`) and the default group of
/// share 100, each with four nice-0 and four nice-10 hogs (no hog's share
/// reaches a whole CPU): the groups split 3 : 1 within 10 %, and inside
/// each group nice 0 gets 100 / 11 of nice 10's CPU within 10 % (15 % with
/// `local`, see below), whatever the weighted sub-policy.
#[test]
fn routing_composes_shares_and_weights() {
    let expected = nice_to_weight(0) as f64 / nice_to_weight(10) as f64;
    for sub in ["deadline", "eevdf", "interactive", "local"] {
        let toml = format!(
            "[default]\npolicy = \"{sub}\"\n[[route]]\npolicy = \"{sub}\"\ncomm = \"interactive-*\"\nshare = 300\n"
        );
        let four = |class, nice| TaskGroup::new(class, Count::Fixed(4), Behavior::Hog).nice(nice);
        let r = run(
            router(&toml),
            vec![
                four(TaskClass::Interactive, 0),
                four(TaskClass::Interactive, 10),
                four(TaskClass::Hog, 0),
                four(TaskClass::Nice, 10),
            ],
        );
        let cpu = |class: TaskClass, nice: i32| {
            r.tasks.iter().filter(|t| t.class == class && t.nice == nice).map(|t| t.cpu_ns as f64).sum::<f64>()
        };
        let (big0, big10) = (cpu(TaskClass::Interactive, 0), cpu(TaskClass::Interactive, 10));
        let (small0, small10) = (cpu(TaskClass::Hog, 0), cpu(TaskClass::Nice, 10));
        let groups = (big0 + big10) / (small0 + small10);
        println!(
            "routing-{sub}: groups {groups:.2} : 1, inside the share-300 group {:.2} : 1, inside the default {:.2} : 1",
            big0 / big10,
            small0 / small10
        );
        assert!((groups / 3.0 - 1.0).abs() <= 0.10, "{sub}: groups {groups}");
        // `local` in a group evens the weights of its own group's tasks over
        // the CPUs, not knowing the other group's: measured 7.9–8.6 on
        // seeds 1 to 5 inside the share-300 group (9.0 for the others).
        let margin = if sub == "local" { 0.15 } else { 0.10 };
        for (what, got) in [("share 300", big0 / big10), ("default", small0 / small10)] {
            assert!((got / expected - 1.0).abs() <= margin, "{sub}, {what} group: {got} vs {expected}");
        }
    }
}
