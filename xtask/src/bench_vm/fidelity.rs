//! `cargo xtask bench-vm --sim-fidelity`: does the simulator rank the
//! shipped policies as the real kernel does?
//!
//! The guest runs four of bench-vm's workloads (hackbench, cyclictest
//! under CPU hogs, nice-weighted hogs measured by `share_probe`, and the
//! cyclictest load again under `scx_relay record`) under every shipped
//! scx_relay policy, interleaved over the rounds of one boot. The
//! simulator then runs each policy on the preset that models each workload
//! (`hackbench`, `cyclictest`, `nice`: scheduler-sim's `workload.rs`) at the
//! guest's CPU count, over [`SIM_SEEDS`], on the costs the guest's
//! recording shows ([`SimCosts`]). For each metric the two rankings are put
//! side by side, with whether they agree, Kendall's τ-b between them and
//! the orders the guest kept in every round (`docs/sim-fidelity.md`).

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::console;

use super::{
    display_name, fmt_num,
    results::Results,
    stats::{median, Metric},
    GuestRun, KERNEL_SCHEDULERS,
};

/// The guest workloads this mode runs (bench.sh's `relay.workloads`):
/// `profile` runs the latency workload's load again under `scx_relay
/// record`, for cyclictest's wait per wakeup.
pub(super) const WORKLOADS: &str = "hackbench,latency,fairness,profile";
/// The simulator's seeds; its value for a policy is the median over them.
pub(super) const SIM_SEEDS: [u64; 3] = [1, 2, 3];
/// Simulated seconds per run.
pub(super) const SIM_SECONDS: u32 = 10;
/// What the TCG guest's work costs, measured there, given to the simulator
/// so that it models the machine it is compared with (its defaults are a
/// fast machine's: 1 µs a decision, free wakeups):
/// - the user scheduler's CPU time per decision, about 75 µs (bench-vm's
///   "scheduler CPU per 1,000 decisions", 71-80 ms);
/// - what a wakeup costs its waker, 125 µs: `try_to_wake_up()`'s mean
///   duration under scx_relay `eevdf` during hackbench (121 and 124 µs,
///   `deadline` 155 and 161, the kernel's EEVDF 100 and 120; function_graph
///   in one boot, docs/simulator.md). It is wall time, what the waker's
///   runtime is charged: most calls take under 50 µs, and the mean comes
///   from the few during which QEMU ran the other vCPUs.
pub(super) const GUEST_COSTS: [&str; 4] = ["--decision-cost-ns", "75000", "--wake-cost-ns", "125000"];
/// What a wakeup costs its waker in the guest (`GUEST_COSTS`'s second
/// part), which a recording does not give for the model's own tasks.
const GUEST_WAKE_COST: [&str; 2] = [GUEST_COSTS[2], GUEST_COSTS[3]];
/// The machine's recording in `target/bench-vm/`.
pub(super) const MACHINE_FILE: &str = "fidelity-machine.rec";
/// Its committed copy, relative to the repository root.
pub(super) const DOCS_MACHINE: &str = "docs/sim-fidelity-machine.rec";

/// The costs the simulator models the guest with.
pub(super) enum SimCosts {
    /// [`GUEST_COSTS`]: a decision's and a wakeup's, measured once.
    Measured,
    /// Those the recording at `path` shows the guest paying (`sim
    /// --costs-from`: the user scheduler's CPU per decision, the starts'
    /// delays, the tick's late yields), and [`GUEST_WAKE_COST`]; the
    /// report names the recording `shown`.
    Recorded { path: PathBuf, shown: String },
}

impl SimCosts {
    fn args(&self) -> Vec<String> {
        match self {
            SimCosts::Measured => GUEST_COSTS.iter().map(|a| (*a).to_owned()).collect(),
            SimCosts::Recorded { path, .. } => {
                let mut args = vec!["--costs-from".to_owned(), path.display().to_string()];
                args.extend(GUEST_WAKE_COST.iter().map(|a| (*a).to_owned()));
                args
            }
        }
    }

    /// How the report's header names them: the options, and what they are.
    fn describe(&self) -> (String, String) {
        match self {
            SimCosts::Measured => (GUEST_COSTS.join(" "), "the guest's costs, measured once".to_owned()),
            SimCosts::Recorded { shown, .. } => (
                format!("--costs-from M {}", GUEST_WAKE_COST.join(" ")),
                format!(
                    "M: `{shown}`, the guest's recording of the latency load under `{MACHINE_SCHEDULER}` in round \
                     1 of the same boot: the costs the guest paid"
                ),
            ),
        }
    }
}

/// The scheduler whose recording gives the machine's costs: the default
/// policy.
const MACHINE_SCHEDULER: &str = "deadline";

/// The scheduler whose recording gives the machine's costs
/// ([`MACHINE_SCHEDULER`]), if `schedulers` runs it.
pub(super) fn machine_scheduler(schedulers: &[String]) -> Option<&str> {
    schedulers.iter().find(|s| *s == MACHINE_SCHEDULER).map(String::as_str)
}

/// The name of the machine's recording among the guest's console blobs
/// (bench.sh's `relay.machine_rec`).
pub(super) const MACHINE_BLOB: &str = "machine";

/// The machine's recording from the guest's console, `None` without one.
/// One cut short or garbled is left out with a warning: the boot's other
/// measurements stand, and the simulator runs on [`GUEST_COSTS`].
pub(super) fn machine_recording(lines: &[String]) -> Option<Vec<u8>> {
    match console::blob(lines, MACHINE_BLOB) {
        Ok(found) => found,
        Err(e) => {
            println!("bench-vm: warning: the machine's recording is left out ({e:#}); the simulator runs on the costs measured once");
            None
        }
    }
}

/// Where the machine's recording of a `--from-raw` file sits: beside it,
/// its name's `raw.txt` made `machine.rec` (`docs/sim-fidelity-raw.txt`:
/// `docs/sim-fidelity-machine.rec`).
pub(super) fn machine_beside(raw: &Path) -> Option<PathBuf> {
    let name = raw.file_name()?.to_str()?;
    Some(raw.with_file_name(format!("{}machine.rec", name.strip_suffix("raw.txt")?)))
}

/// The committed copy of the report, relative to the repository root.
pub(super) const DOCS_REPORT: &str = "docs/sim-fidelity.md";
/// The committed copy of the guest's raw lines.
pub(super) const DOCS_RAW: &str = "docs/sim-fidelity-raw.txt";

/// One compared metric: how the guest measures it and how the simulator does.
pub(super) struct Compared {
    /// What is compared.
    pub(super) label: &'static str,
    /// The guest's measurement (bench.sh's metric).
    guest: Metric,
    /// Its description in the table.
    guest_label: &'static str,
    /// Whether a smaller guest value is better.
    guest_lower_is_better: bool,
    /// The simulator preset.
    pub(super) sim_workload: &'static str,
    /// Its description in the table.
    sim_label: &'static str,
    /// The value in one simulator report (`sim --json`).
    sim_value: fn(&Value) -> Option<f64>,
    /// Whether a smaller simulator value is better.
    sim_lower_is_better: bool,
    /// Values closer than this rank equal, on both sides.
    tie: Tie,
}

/// When two values rank equal.
#[derive(Clone, Copy)]
pub(super) enum Tie {
    /// Within this fraction of the larger one.
    Relative(f64),
    /// Within this much.
    Absolute(f64),
}

impl Tie {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Tie::Relative(f) => (a - b).abs() <= f * a.abs().max(b.abs()),
            Tie::Absolute(d) => (a - b).abs() <= d,
        }
    }

    fn describe(self) -> String {
        match self {
            Tie::Relative(f) => format!("within {:.0} %", f * 100.0),
            Tie::Absolute(d) => format!("within {d}"),
        }
    }
}

/// Task class `name`'s entry in one simulator report's `classes`.
fn sim_class<'a>(report: &'a Value, name: &str) -> Option<&'a Value> {
    let classes = report.get("classes")?.as_array()?;
    classes.iter().find(|c| c.get("class").and_then(Value::as_str) == Some(name))
}

/// The simulated measuring thread's wait percentile `key` (`p50_ns`, ...),
/// in µs: the `cyclictest` preset's `affinity` class, its one task pinned
/// to CPU 0 (its main thread is the `interactive` class).
fn measuring_wait_us(report: &Value, key: &str) -> Option<f64> {
    Some(sim_class(report, "affinity")?.get("latency")?.get(key)?.as_f64()? / 1000.0)
}

/// Which of the simulated measuring thread's waits a row compares.
enum Wait {
    P50,
    P99,
    Mean,
}

/// A cyclictest measurement of the guest's (bench.sh's `guest` metric,
/// lower is better) against the simulated measuring thread's wait `stat`,
/// ranked equal within 5 %.
const fn cyclictest(label: &'static str, guest: &'static str, guest_label: &'static str, stat: Wait) -> Compared {
    let (sim_label, sim_value): (&'static str, fn(&Value) -> Option<f64>) = match stat {
        Wait::P50 => ("measuring thread's wait p50 (µs)", |r| measuring_wait_us(r, "p50_ns")),
        Wait::P99 => ("measuring thread's wait p99 (µs)", |r| measuring_wait_us(r, "p99_ns")),
        Wait::Mean => ("measuring thread's wait, mean (µs)", |r| measuring_wait_us(r, "mean_ns")),
    };
    Compared {
        label,
        guest: Metric::Raw(guest),
        guest_label,
        guest_lower_is_better: true,
        sim_workload: "cyclictest",
        sim_label,
        sim_value,
        sim_lower_is_better: true,
        tie: Tie::Relative(0.05),
    }
}

/// Every compared metric, in table order.
pub(super) const COMPARED: &[Compared] = &[
    Compared {
        label: "throughput",
        guest: Metric::Raw("hackbench_s"),
        guest_label: "hackbench -g 4 time (s)",
        guest_lower_is_better: true,
        sim_workload: "hackbench",
        sim_label: "messages passed (work units)",
        sim_value: |r| r.get("throughput")?.get("work_units")?.as_f64(),
        sim_lower_is_better: false,
        tie: Tie::Relative(0.03),
    },
    // Why throughput differs: each context switch costs the TCG guest
    // about 160 µs (docs/simulator.md, "throughput"), so the policy that
    // makes hackbench's tasks switch least passes its messages soonest.
    Compared {
        label: "context switches (hackbench)",
        guest: Metric::Raw("hackbench_switches_per_kmsg"),
        guest_label: "hackbench -g 4: its tasks' context switches per 1,000 messages",
        guest_lower_is_better: true,
        sim_workload: "hackbench",
        sim_label: "waits per 1,000 messages read",
        sim_value: |r| {
            let class = sim_class(r, "pipe")?;
            let waits = class.get("latency")?.get("samples")?.as_f64()?;
            let messages = class.get("work_units")?.as_f64()?;
            (messages > 0.0).then(|| waits * 1000.0 / messages)
        },
        sim_lower_is_better: true,
        tie: Tie::Relative(0.10),
    },
    cyclictest("wakeup latency p50", "lat_p50_us", "cyclictest p50 under hogs (µs)", Wait::P50),
    cyclictest("wakeup latency p99", "lat_p99_us", "cyclictest p99 under hogs (µs)", Wait::P99),
    cyclictest(
        "wakeup latency: wait for a CPU",
        "lat_wait_us",
        "cyclictest thread's wait for a CPU per run under hogs, mean (µs, schedstat)",
        Wait::Mean,
    ),
    // The same part per wakeup, as percentiles: each wakeup of cyclictest's
    // measuring thread (its `runnable`, after the timer's delivery) to its
    // run, from a recording of the same load (bench.sh's `profile`).
    cyclictest(
        "wakeup latency: wait for a CPU p50",
        "wake_cyclictest_p50_us",
        "cyclictest's measuring thread, each wakeup to its run, p50 under hogs (µs, `scx_relay record`)",
        Wait::P50,
    ),
    cyclictest(
        "wakeup latency: wait for a CPU p99",
        "wake_cyclictest_p99_us",
        "cyclictest's measuring thread, each wakeup to its run, p99 under hogs (µs, `scx_relay record`)",
        Wait::P99,
    ),
    Compared {
        label: "weight fairness",
        guest: Metric::Raw("fair_share_index"),
        guest_label: "share_probe fair_share_index",
        guest_lower_is_better: false,
        sim_workload: "nice",
        sim_label: "fair_share_index",
        sim_value: |r| r.get("fair_share_index")?.as_f64(),
        sim_lower_is_better: false,
        tie: Tie::Absolute(0.01),
    },
];

/// The scx_relay policy a bench scheduler name runs (`relay-eevdf` is
/// scx_relay's eevdf; `eevdf` itself is the kernel's), and whether with
/// `--fast-path` (`<policy>-fast`; `sim` takes the option as the real
/// command does), or `None` for the kernel, the peer and the baseline.
pub(super) fn policy_of(scheduler: &str) -> Option<(&str, bool)> {
    match scheduler {
        "rustland" | "bpfland" | "baseline" | "baseline-fast" => None,
        kernel if KERNEL_SCHEDULERS.contains(&kernel) => None,
        other => match other.strip_suffix("-fast") {
            Some(policy) => Some((policy, true)),
            None => Some((other.strip_prefix("relay-").unwrap_or(other), false)),
        },
    }
}

/// The bench scheduler name of a shipped policy.
pub(super) fn scheduler_of(policy: &str) -> String {
    if policy == "eevdf" {
        "relay-eevdf".to_owned()
    } else {
        policy.to_owned()
    }
}

/// The simulator's values: (scheduler, index in [`COMPARED`]) → median over the seeds.
pub(super) type SimValues = BTreeMap<(String, usize), f64>;

/// Runs `binary sim` for every scx_relay scheduler of `results` and every
/// compared metric on `cpus` CPUs.
pub(super) fn simulate(binary: &Path, results: &Results, cpus: u32, costs: &SimCosts) -> Result<SimValues> {
    let mut values = SimValues::new();
    for scheduler in results.schedulers() {
        let Some((policy, fast_path)) = policy_of(scheduler) else { continue };
        let mut reports: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for compared in COMPARED {
            if !reports.contains_key(compared.sim_workload) {
                let runs = SIM_SEEDS
                    .iter()
                    .map(|&seed| run_sim(binary, policy, fast_path, compared.sim_workload, cpus, seed, costs))
                    .collect::<Result<Vec<_>>>()?;
                reports.insert(compared.sim_workload, runs);
            }
        }
        for (i, compared) in COMPARED.iter().enumerate() {
            let mut seeds: Vec<f64> = reports[compared.sim_workload].iter().filter_map(compared.sim_value).collect();
            if let Some(median) = median(&mut seeds) {
                values.insert((scheduler.to_owned(), i), median);
            }
        }
    }
    Ok(values)
}

/// One `sim --json` run.
fn run_sim(
    binary: &Path,
    policy: &str,
    fast_path: bool,
    workload: &str,
    cpus: u32,
    seed: u64,
    costs: &SimCosts,
) -> Result<Value> {
    let out = Command::new(binary)
        .args(["sim", "--json", "--policy", policy, "--workload", workload])
        .args(fast_path.then_some("--fast-path"))
        .args(["--cpus", &cpus.to_string(), "--seconds", &SIM_SECONDS.to_string(), "--seed", &seed.to_string()])
        .args(costs.args())
        .output()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    if !out.status.success() {
        bail!(
            "{} sim --policy {policy} --workload {workload} failed: {}",
            binary.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    serde_json::from_slice(&out.stdout)
        .with_context(|| format!("sim --policy {policy} --workload {workload}: bad JSON"))
}

/// Ranks of `values` (1 = best). From the best down, a value within `tie`
/// of the first value of the current group joins it and shares its rank;
/// the next group's rank counts every value before it (1, 1, 3).
fn ranks(values: &[f64], lower_is_better: bool, tie: Tie) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| {
        let o = values[a].total_cmp(&values[b]);
        if lower_is_better {
            o
        } else {
            o.reverse()
        }
    });
    let mut ranks = vec![0; values.len()];
    let mut group_first = None;
    let mut group_rank = 0;
    for (position, &i) in order.iter().enumerate() {
        match group_first {
            Some(first) if tie.holds(values[first], values[i]) => {}
            _ => {
                group_first = Some(i);
                group_rank = position + 1;
            }
        }
        ranks[i] = group_rank;
    }
    ranks
}

/// Kendall's τ-b between two rankings (1: the same order, -1: reversed);
/// `None` when either ranks everything equal.
fn kendall_tau_b(a: &[usize], b: &[usize]) -> Option<f64> {
    let (mut concordant, mut discordant, mut tied_a, mut tied_b) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..a.len() {
        for j in i + 1..a.len() {
            let (da, db) = (a[i].cmp(&a[j]), b[i].cmp(&b[j]));
            match (da.is_eq(), db.is_eq()) {
                (true, true) => {}
                (true, false) => tied_a += 1,
                (false, true) => tied_b += 1,
                (false, false) if da == db => concordant += 1,
                (false, false) => discordant += 1,
            }
        }
    }
    let n0 = concordant + discordant;
    let denominator = (((n0 + tied_a) * (n0 + tied_b)) as f64).sqrt();
    (denominator > 0.0).then(|| (concordant - discordant) as f64 / denominator)
}

/// The pairs of policies whose order the guest kept in every round (each
/// round's value of one better than every round's value of the other, the
/// medians apart by more than the tie band), and
/// how the simulator orders them: (pairs, the same way, tied within `tie`).
/// An order the rounds disagree on is the guest's noise, not one the
/// simulator can be held to.
fn kept_orders(rows: &[(&str, f64, f64, Vec<f64>)], c: &Compared) -> (usize, usize, usize) {
    let (mut pairs, mut same, mut tied) = (0, 0, 0);
    let better = |a: f64, b: f64, lower: bool| if lower { a < b } else { a > b };
    for (i, a) in rows.iter().enumerate() {
        for b in &rows[i + 1..] {
            let (a_lo, a_hi) = spread(&a.3);
            let (b_lo, b_hi) = spread(&b.3);
            // Whether a beat b in every round, or b beat a.
            let guest_a_first = if c.guest_lower_is_better { a_hi < b_lo } else { a_lo > b_hi };
            let guest_b_first = if c.guest_lower_is_better { b_hi < a_lo } else { b_lo > a_hi };
            // Kept in every round, by more than the tie band.
            if !(guest_a_first || guest_b_first) || c.tie.holds(a.1, b.1) {
                continue;
            }
            pairs += 1;
            if c.tie.holds(a.2, b.2) {
                tied += 1;
            } else if better(a.2, b.2, c.sim_lower_is_better) == guest_a_first {
                same += 1;
            }
        }
    }
    (pairs, same, tied)
}

/// The smallest and largest of some rounds' values.
fn spread(values: &[f64]) -> (f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}

/// The report: a summary table, then per metric the two rankings.
pub(super) fn markdown(results: &Results, sim: &SimValues, run: &GuestRun<'_>, costs: &SimCosts) -> String {
    let (command, cpus) = (run.command, run.cpus);
    let scheds: Vec<&str> = results.schedulers().into_iter().filter(|s| policy_of(s).is_some()).collect();
    let rounds = results.samples.iter().map(|s| s.round).max().unwrap_or(0);
    let (cost_args, cost_note) = costs.describe();
    let mut md =
        String::from("# Simulator fidelity: the guest's ranking of the shipped policies against the simulator's\n\n");
    let _ = writeln!(
        md,
        "Guest: medians over {rounds} interleaved rounds in one boot ({machine}); `{command}`.  \n\
         Simulator: `scx_relay sim --policy P --workload W --cpus {cpus} --seconds {SIM_SECONDS} {cost_args}` ({cost_note}; `deadline-fast`: `--policy deadline --fast-path`), the median over seeds {}.  \n\
         Ranks: 1 is best; values close enough to rank equal (the tie column) share a rank, on both sides. \
         Kendall's τ-b: 1 when the orders agree, -1 when reversed.  \n\
         cyclictest's latency runs from the timer's expiry: it holds the timer interrupt's delivery, which the \
         guest's vCPUs take late when QEMU runs them in turn, and which the simulator does not model, then the \
         thread's wait for a CPU. The simulator's measuring thread's wait is the second part only: the rows \
         \"wait for a CPU\" compare that part on both sides: its mean from the thread's schedstat, its \
         percentiles from each of cyclictest's wakeups under `scx_relay record`.\n",
        SIM_SEEDS.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
        machine = run.machine(),
    );
    md.push_str(
        "| metric | guest workload | simulator workload | tie | same order | Kendall's τ-b | orders the guest kept in every round: the simulator's |\n|---|---|---|---|---|---:|---|\n",
    );
    let mut sections = String::new();
    for (i, c) in COMPARED.iter().enumerate() {
        let rows: Vec<(&str, f64, f64, Vec<f64>)> = scheds
            .iter()
            .filter_map(|s| {
                let guest = results.median(s, c.guest)?;
                let simulated = *sim.get(&(s.to_string(), i))?;
                Some((*s, guest, simulated, results.values(s, c.guest)))
            })
            .collect();
        let guest_ranks = ranks(&rows.iter().map(|r| r.1).collect::<Vec<_>>(), c.guest_lower_is_better, c.tie);
        let sim_ranks = ranks(&rows.iter().map(|r| r.2).collect::<Vec<_>>(), c.sim_lower_is_better, c.tie);
        let same = rows.len() >= 2 && guest_ranks == sim_ranks;
        let tau = kendall_tau_b(&guest_ranks, &sim_ranks).map_or_else(|| "–".to_owned(), |t| format!("{t:.2}"));
        let kept = match kept_orders(&rows, c) {
            (0, _, _) => "none".to_owned(),
            (pairs, same, tied) => {
                format!("{same} of {pairs} the same{}", if tied > 0 { format!(", {tied} tied") } else { String::new() })
            }
        };
        let _ = writeln!(
            md,
            "| {} | {} | `{}`: {} | {} | {} | {tau} | {kept} |",
            c.label,
            c.guest_label,
            c.sim_workload,
            c.sim_label,
            c.tie.describe(),
            if rows.len() < 2 {
                "not measured"
            } else if same {
                "yes"
            } else if sim_ranks.iter().all(|&r| r == 1) {
                "**no**: the simulator ties them all"
            } else {
                "**no**"
            }
        );
        let arrow = |lower: bool| if lower { "↓" } else { "↑" };
        let _ = writeln!(
            sections,
            "\n## {}\n\n| policy | guest: {} {} | guest min–max over rounds | guest rank | simulator: {} {} | simulator rank |\n|---|---:|---:|---:|---:|---:|",
            c.label,
            c.guest_label,
            arrow(c.guest_lower_is_better),
            c.sim_label,
            arrow(c.sim_lower_is_better)
        );
        for (k, (s, guest, simulated, per_round)) in rows.iter().enumerate() {
            let (lo, hi) = spread(per_round);
            let _ = writeln!(
                sections,
                "| {} | {} | {}–{} | {} | {} | {} |",
                display_name(s),
                fmt_num(*guest),
                fmt_num(lo),
                fmt_num(hi),
                guest_ranks[k],
                fmt_num(*simulated),
                sim_ranks[k]
            );
        }
    }
    md.push_str(&sections);
    if !results.errors.is_empty() {
        md.push_str("\nErrors reported by the guest:\n\n");
        for e in &results.errors {
            let _ = writeln!(md, "- {e}");
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench_vm::tests::lines;

    #[test]
    fn ranks_share_ties_and_follow_direction() {
        let exact = Tie::Absolute(0.0);
        assert_eq!(ranks(&[3.0, 1.0, 2.0], true, exact), vec![3, 1, 2]);
        assert_eq!(ranks(&[3.0, 1.0, 2.0], false, exact), vec![1, 3, 2]);
        assert_eq!(ranks(&[5.0, 5.0, 1.0], true, exact), vec![2, 2, 1]);
        // From the best down: 102 is within 3 % of 104, the group's first; 100 is not.
        assert_eq!(ranks(&[104.0, 100.0, 102.0], false, Tie::Relative(0.03)), vec![1, 3, 1]);
        assert_eq!(ranks(&[0.999, 0.995, 0.5], false, Tie::Absolute(0.01)), vec![1, 1, 3]);
    }

    #[test]
    fn kendall_tau_b_agreement() {
        assert_eq!(kendall_tau_b(&[1, 2, 3], &[1, 2, 3]), Some(1.0));
        assert_eq!(kendall_tau_b(&[1, 2, 3], &[3, 2, 1]), Some(-1.0));
        assert_eq!(kendall_tau_b(&[1, 2, 3], &[1, 1, 1]), None);
        let t = kendall_tau_b(&[1, 2, 3], &[1, 1, 3]).expect("defined");
        assert!((t - 2.0 / 6f64.sqrt()).abs() < 1e-12, "{t}");
    }

    #[test]
    fn bench_names_map_to_policies() {
        assert_eq!(policy_of("eevdf"), None);
        assert_eq!(policy_of("eevdf-nohrtick"), None);
        assert_eq!(policy_of("rustland"), None);
        assert_eq!(policy_of("bpfland"), None);
        assert_eq!(policy_of("relay-eevdf"), Some(("eevdf", false)));
        assert_eq!(policy_of("interactive"), Some(("interactive", false)));
        assert_eq!(policy_of("deadline-fast"), Some(("deadline", true)));
        assert_eq!(policy_of("interactive-fast"), Some(("interactive", true)));
        assert_eq!(scheduler_of("eevdf"), "relay-eevdf");
        assert_eq!(scheduler_of("local"), "local");
    }

    /// Only orders the guest kept in every round count; the simulator's
    /// order of each is the same, reversed or tied.
    #[test]
    fn orders_kept_in_every_round() {
        let c = COMPARED.iter().find(|c| c.label == "wakeup latency p50").expect("compared");
        let row = |name, sim: f64, rounds: &[f64]| {
            (name, rounds.iter().sum::<f64>() / rounds.len() as f64, sim, rounds.to_vec())
        };
        // a beats b in both rounds; c overlaps both.
        let rows = [row("a", 10.0, &[1.0, 2.0]), row("b", 20.0, &[3.0, 4.0]), row("c", 5.0, &[1.5, 3.5])];
        assert_eq!(kept_orders(&rows, c), (1, 1, 0));
        let rows = [row("a", 20.0, &[1.0, 2.0]), row("b", 10.0, &[3.0, 4.0])];
        assert_eq!(kept_orders(&rows, c), (1, 0, 0), "reversed");
        let rows = [row("a", 10.0, &[1.0, 2.0]), row("b", 10.2, &[3.0, 4.0])];
        assert_eq!(kept_orders(&rows, c), (1, 0, 1), "within 5 %: tied");
        // Kept in every round, but the medians within the tie band: not counted.
        let rows = [row("a", 10.0, &[100.0, 100.5]), row("b", 20.0, &[101.0, 101.5])];
        assert_eq!(kept_orders(&rows, c), (0, 0, 0));
        // Higher is better on both sides (fairness): a kept, the simulator agrees.
        let fair = COMPARED.iter().find(|c| c.label == "weight fairness").expect("compared");
        let rows = [row("a", 0.99, &[0.99, 1.0]), row("b", 0.5, &[0.5, 0.51])];
        assert_eq!(kept_orders(&rows, fair), (1, 1, 0));
    }

    /// The machine's recording comes back from the console's blob, or is
    /// left out when cut short; its place beside a raw file.
    #[test]
    fn machine_recording_from_the_console() {
        let lines = |v: &[&str]| v.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>();
        let whole = lines(&[
            "relay-blob-begin: machine 11",
            "relay-blob: machine U0NYX1JF",
            "relay-blob: machine TEFZAP8=\r",
            "relay-blob-end: machine",
        ]);
        assert_eq!(machine_recording(&whole).as_deref(), Some(&b"SCX_RELAY\0\xff"[..]));
        assert_eq!(machine_recording(&whole[..1]), None, "no end");
        assert_eq!(machine_recording(&lines(&["relay-bench: 1 deadline hackbench_s 3"])), None);
        assert_eq!(
            machine_beside(Path::new("docs/sim-fidelity-raw.txt")),
            Some(PathBuf::from("docs/sim-fidelity-machine.rec"))
        );
        assert_eq!(machine_beside(Path::new("x/fidelity-raw.txt")), Some(PathBuf::from("x/fidelity-machine.rec")));
        assert_eq!(machine_beside(Path::new("x/other.txt")), None);
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(machine_scheduler(&s(&["fifo", "deadline"])), Some("deadline"));
        assert_eq!(machine_scheduler(&s(&["fifo", "local"])), None, "only the default policy's");
        let args = SimCosts::Recorded { path: PathBuf::from("m.rec"), shown: "m".into() }.args();
        assert_eq!(args, ["--costs-from", "m.rec", "--wake-cost-ns", "125000"]);
    }

    /// The simulator's switches per 1,000 messages: the pipe class's waits
    /// over its work units, from `sim --json`'s fields.
    #[test]
    fn simulated_switches_per_message() {
        let c = COMPARED.iter().find(|c| c.label == "context switches (hackbench)").expect("compared");
        let report = serde_json::json!({"classes": [
            {"class": "hog", "work_units": 0, "latency": {"samples": 7}},
            {"class": "pipe", "work_units": 2000, "latency": {"samples": 30}},
        ]});
        assert_eq!((c.sim_value)(&report), Some(15.0));
        assert_eq!((c.sim_value)(&serde_json::json!({"classes": []})), None);
    }

    /// The latency rows read the pinned measuring thread's waits (the
    /// `affinity` class), not cyclictest's main thread's (`interactive`).
    #[test]
    fn simulated_waits_are_the_measuring_threads() {
        let c = COMPARED.iter().find(|c| c.label == "wakeup latency p50").expect("compared");
        let report = serde_json::json!({"classes": [
            {"class": "interactive", "latency": {"p50_ns": 9_000_000}},
            {"class": "affinity", "latency": {"p50_ns": 350_000}},
        ]});
        assert_eq!((c.sim_value)(&report), Some(350.0));
        assert_eq!(
            (c.sim_value)(&serde_json::json!({"classes": [{"class": "interactive", "latency": {"p50_ns": 1}}]})),
            None
        );
    }

    /// The summary says whether the orders agree; the sections give both
    /// ranks and the guest's spread; the kernel's EEVDF is left out.
    #[test]
    fn report_compares_rankings() {
        let text = lines(&[
            (1, "eevdf", "hackbench_s", 20.0),
            (1, "deadline", "hackbench_s", 10.0),
            (2, "deadline", "hackbench_s", 12.0),
            (1, "fifo", "hackbench_s", 14.0),
            (2, "fifo", "hackbench_s", 16.0),
            (1, "deadline", "fair_share_index", 0.99),
            (1, "fifo", "fair_share_index", 0.5),
            (1, "deadline", "wake_cyclictest_p99_us", 300.0),
            (1, "fifo", "wake_cyclictest_p99_us", 900.0),
        ]);
        let r = Results::parse(text.iter().map(String::as_str));
        let mut sim = SimValues::new();
        let at = |label| COMPARED.iter().position(|c| c.label == label).expect("a compared metric");
        let (throughput, fairness) = (at("throughput"), at("weight fairness"));
        // Throughput: the simulator has fifo ahead (the guest has deadline ahead).
        sim.insert(("deadline".into(), throughput), 100.0);
        sim.insert(("fifo".into(), throughput), 200.0);
        sim.insert(("deadline".into(), fairness), 1.0);
        sim.insert(("fifo".into(), fairness), 0.51);
        // Switches: the simulator's, with no guest values for them (a raw file from before the metric).
        sim.insert(("deadline".into(), at("context switches (hackbench)")), 3.0);
        sim.insert(("fifo".into(), at("context switches (hackbench)")), 4.0);
        // The recorded wait's p99: both sides put deadline first.
        let wait_p99 = at("wakeup latency: wait for a CPU p99");
        sim.insert(("deadline".into(), wait_p99), 200.0);
        sim.insert(("fifo".into(), wait_p99), 800.0);
        let md = markdown(
            &r,
            &sim,
            &GuestRun::one_thread("cargo xtask bench-vm --sim-fidelity", "7.3"),
            &SimCosts::Measured,
        );
        // deadline's 10 and 12 s beat fifo's 14 and 16 s in both rounds; the simulator has them the other way.
        assert!(md.contains("| throughput | hackbench -g 4 time (s) | `hackbench`: messages passed (work units) | within 3 % | **no** | -1.00 | 0 of 1 the same |"), "{md}");
        assert!(md.contains("| weight fairness | share_probe fair_share_index | `nice`: fair_share_index | within 0.01 | yes | 1.00 | 1 of 1 the same |"), "{md}");
        assert!(md.contains("| wakeup latency p50 | cyclictest p50 under hogs (µs) | `cyclictest`: measuring thread's wait p50 (µs) | within 5 % | not measured | – | none |"), "{md}");
        assert!(md.contains("| context switches (hackbench) | hackbench -g 4: its tasks' context switches per 1,000 messages | `hackbench`: waits per 1,000 messages read | within 10 % | not measured | – | none |"), "{md}");
        assert!(md.contains("| scx_relay deadline | 11.00 | 10.00–12.00 | 1 | 100.0 | 2 |"), "{md}");
        assert!(md.contains("| wakeup latency: wait for a CPU p99 | cyclictest's measuring thread, each wakeup to its run, p99 under hogs (µs, `scx_relay record`) | `cyclictest`: measuring thread's wait p99 (µs) | within 5 % | yes | 1.00 | 1 of 1 the same |"), "{md}");
        assert!(!md.contains("EEVDF |"), "{md}");
        // A simulator that ranks every policy equal is said to, apart from an order it gets wrong.
        sim.insert(("fifo".into(), throughput), 100.0);
        let md = markdown(
            &r,
            &sim,
            &GuestRun::one_thread("cargo xtask bench-vm --sim-fidelity", "7.3"),
            &SimCosts::Measured,
        );
        assert!(
            md.contains("| within 3 % | **no**: the simulator ties them all | – | 0 of 1 the same, 1 tied |"),
            "{md}"
        );
    }
}
