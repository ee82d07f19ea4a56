//! Each shipped policy's claim, stated and checked against the others on the
//! same simulated workloads (same machine, seed and duration for every
//! policy). The numbers behind the margins are in the README's policy table;
//! `cargo test --release --test policy_evidence -- --nocapture` prints them.
//!
//! Claims (measured on seeds 1, 2, 3 and 7; the margins leave room for
//! other seeds and model changes without hiding a regression):
//! - `interactive` gives periodic tasks the lowest p99 wakeup latency of all
//!   policies under CPU-hog load, while the CPU time the workload gets stays
//!   within 5 % of `deadline`'s;
//! - `eevdf` gives weight-proportional shares: on the `nice` workload every
//!   hog gets its weighted fair share (water-filling: no task more than one
//!   CPU) within 5 %, and Jain's index of CPU share over weight is within
//!   0.01 of the best possible one — closer than any other policy;
//! - `local` keeps tasks on fewer CPUs and within their last-level cache:
//!   on overloaded hogs across two LLCs, hogs use at most half the CPUs
//!   they use under `deadline`, none runs in two LLCs, and the workload's
//!   CPU time stays within 1 % of `deadline`'s.

#![allow(clippy::expect_used)]

use policies::PolicyConfig;
use scheduler_core::sim::{simulate, Behavior, Count, Preset, Report, SimConfig, TaskClass, TaskGroup, Workload};

const SECONDS: u64 = 4;

/// Runs every shipped policy on `config`; prints one line per policy.
fn run_all(config: &SimConfig, what: &str) -> Vec<(&'static str, Report)> {
    policies::NAMES
        .iter()
        .map(|&name| {
            let policy = policies::by_name(name, &PolicyConfig::default()).expect("a shipped policy");
            let r = simulate(config, policy).expect("a valid configuration");
            r.accounting.check().expect("no task lost");
            assert!(!r.kernel_watchdog_exceeded, "{name} on {what}: a task waited past the kernel watchdog");
            println!("{what:<22} {name:<12} {}", summary(&r));
            (name, r)
        })
        .collect()
}

/// One line of the numbers the claims use.
fn summary(r: &Report) -> String {
    let p99 = |c| r.class(c).map_or(0.0, |c| c.latency.p99_ns as f64 / 1e3);
    let llc = |cpu: u32| cpu / (r.cores_per_llc * r.smt);
    let hogs: Vec<_> = r.tasks.iter().filter(|t| t.class == TaskClass::Hog).collect();
    let cpus_used = hogs.iter().map(|t| t.cpus_used.len()).sum::<usize>() as f64 / hogs.len().max(1) as f64;
    let cross_llc = r.tasks.iter().filter(|t| t.cpus_used.iter().any(|&c| llc(c) != llc(t.cpus_used[0]))).count();
    format!(
        "cpu {:>7.3} s  work {:>7}  periodic p99 {:>9.1} us  all p99 {:>9.1} us  jain {:.4}  hog cpus {:.2}  cross-llc {}",
        r.throughput.workload_cpu_ns as f64 / 1e9,
        r.throughput.work_units,
        p99(TaskClass::Interactive),
        r.latency.p99_ns as f64 / 1e3,
        r.fairness.unwrap_or(0.0),
        cpus_used,
        cross_llc
    )
}

fn by_name<'a>(runs: &'a [(&str, Report)], name: &str) -> &'a Report {
    &runs.iter().find(|(n, _)| *n == name).expect("every policy ran").1
}

/// 8 CPUs, 4 s: 16 CPU hogs, 8 periodic tasks of 0.5 ms every 5 ms and 8 of
/// 0.1 ms every 1.1 ms (about 130 % load).
fn periodic_under_hogs() -> SimConfig {
    SimConfig {
        nr_cpus: 8,
        duration_ns: SECONDS * 1_000_000_000,
        workload: Workload::Custom(vec![
            TaskGroup::new(TaskClass::Hog, Count::Fixed(16), Behavior::Hog),
            TaskGroup::new(
                TaskClass::Interactive,
                Count::Fixed(8),
                Behavior::Periodic { run_ns: 500_000, sleep_ns: 4_500_000 },
            ),
            TaskGroup::new(
                TaskClass::Interactive,
                Count::Fixed(8),
                Behavior::Periodic { run_ns: 100_000, sleep_ns: 1_000_000 },
            ),
        ]),
        ..SimConfig::default()
    }
}

/// `interactive`: the lowest periodic-task p99 of all policies under hogs,
/// at most three quarters of any other's, and workload CPU time within 5 %
/// of `deadline`'s. Also on the `mixed` preset. Measured: 0.63–0.65 ms
/// against `eevdf`'s 2.6 ms (the next best) under hogs, 0.48–0.50 ms against
/// 1.5–2.6 ms on `mixed`; CPU time 99.4–99.7 % of `deadline`'s (the price
/// of short batch slices: more user-scheduler rounds).
#[test]
fn interactive_keeps_periodic_tasks_on_time() {
    for (what, config) in [
        ("periodic under hogs", periodic_under_hogs()),
        (
            "mixed",
            SimConfig { duration_ns: SECONDS * 1_000_000_000, workload: Preset::Mixed.into(), ..SimConfig::default() },
        ),
    ] {
        let runs = run_all(&config, what);
        let p99 = |r: &Report| r.class(TaskClass::Interactive).expect("periodic tasks ran").latency.p99_ns;
        let mine = p99(by_name(&runs, "interactive"));
        for (name, r) in runs.iter().filter(|(n, _)| *n != "interactive") {
            assert!(mine * 4 <= p99(r) * 3, "{what}: interactive p99 {mine} ns vs {name} {} ns", p99(r));
        }
        let cpu = |n| by_name(&runs, n).throughput.workload_cpu_ns as f64;
        let ratio = cpu("interactive") / cpu("deadline");
        assert!(ratio >= 0.95, "{what}: interactive gets {ratio:.4} of deadline's workload CPU time");
    }
}

/// Each hog's max-min fair share of `nr_cpus` CPUs by weight, no task above
/// one CPU (water-filling), in CPU-ns over `duration_ns`.
fn fair_shares(weights: &[u64], nr_cpus: u32, duration_ns: u64) -> Vec<f64> {
    let mut share = vec![0.0; weights.len()];
    let mut capped = vec![false; weights.len()];
    let mut cpus = f64::from(nr_cpus);
    loop {
        let w: f64 = weights.iter().zip(&capped).filter(|(_, &c)| !c).map(|(&w, _)| w as f64).sum();
        let mut changed = false;
        for i in 0..weights.len() {
            if !capped[i] && cpus * weights[i] as f64 / w >= 1.0 {
                capped[i] = true;
                share[i] = 1.0;
                cpus -= 1.0;
                changed = true;
            }
        }
        if !changed {
            for i in 0..weights.len() {
                if !capped[i] {
                    share[i] = cpus * weights[i] as f64 / w;
                }
            }
            return share.iter().map(|s| s * duration_ns as f64).collect();
        }
    }
}

/// Jain's index of `xs`.
fn jain(xs: &[f64]) -> f64 {
    let sum: f64 = xs.iter().sum();
    sum * sum / (xs.len() as f64 * xs.iter().map(|x| x * x).sum::<f64>())
}

/// `eevdf`: every hog of the `nice` workload (weights 304, 100, 32 and 9)
/// within 5 % of its weighted fair share, and Jain's index of CPU share
/// over weight within 0.01 of the best possible (0.9338, below 1: a nice -5
/// hog's share would exceed a CPU) and closer to it than any other policy.
/// Measured: 0.9298–0.9322 (`deadline` 0.703, `fifo` 0.471).
#[test]
fn eevdf_shares_follow_weights() {
    let config =
        SimConfig { duration_ns: SECONDS * 1_000_000_000, workload: Preset::Nice.into(), ..SimConfig::default() };
    let runs = run_all(&config, "nice");
    let r = by_name(&runs, "eevdf");
    let weights: Vec<u64> = r.tasks.iter().map(|t| t.weight).collect();
    let ideal = fair_shares(&weights, config.nr_cpus, config.duration_ns);
    let best = jain(&ideal.iter().zip(&weights).map(|(s, &w)| s / w as f64).collect::<Vec<_>>());
    println!("nice                   best possible jain {best:.4}");
    let worst = r.tasks.iter().zip(&ideal).map(|(t, s)| (t.cpu_ns as f64 - s).abs() / s).fold(0.0, f64::max);
    println!("nice                   eevdf's largest deviation from a fair share {:.2} %", worst * 100.0);
    for (t, share) in r.tasks.iter().zip(&ideal) {
        let got = t.cpu_ns as f64;
        assert!((got - share).abs() <= share * 0.05, "{} (weight {}): {got} ns vs fair {share} ns", t.comm, t.weight);
    }
    let gap = |r: &Report| (best - r.fairness.expect("hogs ran")).abs();
    assert!(gap(r) <= 0.01, "eevdf jain {:?} vs best {best}", r.fairness);
    for (name, other) in runs.iter().filter(|(n, _)| *n != "eevdf") {
        assert!(gap(r) < gap(other), "{name} is as close to the fair shares: {:?}", other.fairness);
    }
}

/// `local`: 16 hogs on 8 CPUs in two LLCs of 4 cores. Hogs use at most half
/// as many CPUs on average as under `deadline`, no task runs in both LLCs,
/// and the workload's CPU time is within 1 % of `deadline`'s. Measured:
/// 1.00 CPU per hog against 6.75–7.31, no LLC crossing against all 16
/// hogs crossing, CPU time equal to 0.01 %.
#[test]
fn local_keeps_tasks_on_their_cpus() {
    let config = SimConfig {
        nr_cpus: 8,
        cores_per_llc: 4,
        duration_ns: SECONDS * 1_000_000_000,
        workload: Preset::Hogs.into(),
        ..SimConfig::default()
    };
    let runs = run_all(&config, "hogs, 2 LLCs");
    let cpus_used = |r: &Report| r.tasks.iter().map(|t| t.cpus_used.len()).sum::<usize>() as f64 / r.tasks.len() as f64;
    let (local, deadline) = (by_name(&runs, "local"), by_name(&runs, "deadline"));
    assert!(
        cpus_used(local) * 2.0 <= cpus_used(deadline),
        "CPUs per hog: local {} vs deadline {}",
        cpus_used(local),
        cpus_used(deadline)
    );
    for t in &local.tasks {
        let llcs: std::collections::BTreeSet<u32> = t.cpus_used.iter().map(|c| c / 4).collect();
        assert_eq!(llcs.len(), 1, "{} ran in LLCs {llcs:?}", t.comm);
    }
    let ratio = local.throughput.workload_cpu_ns as f64 / deadline.throughput.workload_cpu_ns as f64;
    assert!(ratio >= 0.99, "local gets {ratio:.4} of deadline's workload CPU time");
}
