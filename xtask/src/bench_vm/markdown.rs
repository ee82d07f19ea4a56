//! The Markdown report: medians and their ratios, the targets with a
//! verdict, the profile of the scheduler process, and the guest's errors.

use std::fmt::Write as _;

use super::{display_name, fmt_num, results::Results, stats::Metric, GuestRun, KERNEL_SCHEDULERS};

/// A row of the results table.
struct Row {
    /// What the row shows.
    label: &'static str,
    /// What it measures.
    metric: Metric,
    /// Which way is better, for the reader (ratios are plain).
    better: Better,
}

/// Which way a row's values are better.
#[derive(Clone, Copy)]
enum Better {
    Lower,
    Higher,
    /// Neither: a measurement that explains others (an interrupt rate).
    Neither,
}

impl Better {
    /// The arrow after a row's label (none for [`Better::Neither`]).
    fn arrow(self) -> &'static str {
        match self {
            Better::Lower => " ↓",
            Better::Higher => " ↑",
            Better::Neither => "",
        }
    }
}

/// The rows of the main table, in order.
const ROWS: &[Row] = &[
    Row { label: "hackbench time (s)", metric: Metric::Raw("hackbench_s"), better: Better::Lower },
    Row { label: "cyclictest p50 under load (µs)", metric: Metric::Raw("lat_p50_us"), better: Better::Lower },
    Row { label: "cyclictest p99 under load (µs)", metric: Metric::Raw("lat_p99_us"), better: Better::Lower },
    Row { label: "cyclictest max under load (µs)", metric: Metric::Raw("lat_max_us"), better: Better::Lower },
    Row { label: "cyclictest mean under load (µs)", metric: Metric::Raw("lat_avg_us"), better: Better::Lower },
    Row {
        label: "of the mean: its thread's wait for a CPU per run (µs, schedstat)",
        metric: Metric::Raw("lat_wait_us"),
        better: Better::Lower,
    },
    Row {
        label: "the mean less that wait (µs): mostly the timer's delivery",
        metric: Metric::Diff("lat_avg_us", "lat_wait_us"),
        better: Better::Lower,
    },
    Row {
        label: "of the mean: the timer's delivery, expiry to its interrupt (µs, ftrace)",
        metric: Metric::Raw("lat_deliver_us"),
        better: Better::Lower,
    },
    Row {
        label: "during cyclictest: local timer interrupts per CPU per second",
        metric: Metric::Raw("lat_irq_timer_s"),
        better: Better::Neither,
    },
    Row {
        label: "during cyclictest: rescheduling, function-call and IRQ-work IPIs per CPU per second",
        metric: Metric::Raw("lat_irq_ipi_s"),
        better: Better::Neither,
    },
    Row {
        label: "during cyclictest: of those, rescheduling IPIs (RES) per CPU per second",
        metric: Metric::Raw("lat_irq_res_s"),
        better: Better::Neither,
    },
    Row {
        label: "during cyclictest: of those, function-call IPIs (CAL) per CPU per second",
        metric: Metric::Raw("lat_irq_cal_s"),
        better: Better::Neither,
    },
    Row {
        label: "during cyclictest: of those, IRQ-work IPIs (IWI) per CPU per second",
        metric: Metric::Raw("lat_irq_iwi_s"),
        better: Better::Neither,
    },
    Row {
        label: "during cyclictest: interrupts of every kind per CPU per second",
        metric: Metric::Raw("lat_irq_all_s"),
        better: Better::Neither,
    },
    Row {
        label: "during cyclictest: runs a user decision placed (every task's) per run of its thread",
        metric: Metric::Per("lat_user_runs", "lat_wait_runs", 1.0),
        better: Better::Lower,
    },
    Row {
        label: "during cyclictest: times a task a local fast placement preempted went back with its slice left",
        metric: Metric::Raw("lat_fast_resumes"),
        better: Better::Neither,
    },
    Row { label: "60 Hz frames: vsyncs missed under load", metric: Metric::Raw("frame_missed"), better: Better::Lower },
    Row { label: "60 Hz frames: frame time p50 (ms)", metric: Metric::Raw("frame_p50_ms"), better: Better::Lower },
    Row { label: "60 Hz frames: frame time p99 (ms)", metric: Metric::Raw("frame_p99_ms"), better: Better::Lower },
    Row { label: "60 Hz frames: frame time max (ms)", metric: Metric::Raw("frame_max_ms"), better: Better::Lower },
    Row {
        label: "60 Hz frames, the worst 1 %: CPU time run per frame (ms)",
        metric: Metric::Raw("frame_worst_cpu_ms"),
        better: Better::Neither,
    },
    Row {
        label: "60 Hz frames, the worst 1 %: time waited runnable per frame (ms)",
        metric: Metric::Raw("frame_worst_wait_ms"),
        better: Better::Lower,
    },
    Row {
        label: "60 Hz frames, the worst 1 %: time neither run nor waited per frame (ms)",
        metric: Metric::Raw("frame_worst_other_ms"),
        better: Better::Lower,
    },
    Row {
        label: "60 Hz frames, the worst 1 %: runs per frame",
        metric: Metric::Raw("frame_worst_runs"),
        better: Better::Neither,
    },
    Row {
        label: "60 Hz frames: wakeups the fast path placed (every task's)",
        metric: Metric::Raw("frame_fast_placed"),
        better: Better::Neither,
    },
    Row {
        label: "60 Hz frames: granted wakeups the fast path found no CPU for (every task's)",
        metric: Metric::Raw("frame_fast_unplaced"),
        better: Better::Lower,
    },
    Row {
        label: "60 Hz frames: fast-path grants the policy wrote",
        metric: Metric::Raw("frame_fast_grants"),
        better: Better::Neither,
    },
    Row { label: "stress-ng --switch (ops/s)", metric: Metric::Raw("switch_ops_s"), better: Better::Higher },
    Row { label: "stress-ng --hdd (ops/s)", metric: Metric::Raw("hdd_ops_s"), better: Better::Higher },
    Row {
        label: "scheduler CPU per 1,000 decisions (ms)",
        metric: Metric::Per("cost_cpu_ms", "cost_decisions", 1000.0),
        better: Better::Lower,
    },
    Row {
        label: "its BPF programs' CPU per 1,000 decisions (ms, kernel BPF stats)",
        metric: Metric::Per("cost_bpf_ms", "cost_decisions", 1000.0),
        better: Better::Lower,
    },
    Row {
        label: "scheduler CPU and its BPF programs' per 1,000 decisions (ms)",
        metric: Metric::SumPer("cost_cpu_ms", "cost_bpf_ms", "cost_decisions", 1000.0),
        better: Better::Lower,
    },
    Row {
        label: "scheduler syscalls per decision",
        metric: Metric::Per("cost_syscalls", "cost_decisions", 1.0),
        better: Better::Lower,
    },
];

/// The rows of the scheduler-process profile, in order.
const PROFILE_ROWS: &[Row] = &[
    Row { label: "decisions in the cost window", metric: Metric::Raw("cost_decisions"), better: Better::Higher },
    Row { label: "scheduler CPU in the cost window (ms)", metric: Metric::Raw("cost_cpu_ms"), better: Better::Lower },
    Row {
        label: "its BPF programs' CPU in the cost window (ms)",
        metric: Metric::Raw("cost_bpf_ms"),
        better: Better::Lower,
    },
    Row {
        label: "BPF program runs per decision",
        metric: Metric::Per("cost_bpf_runs", "cost_decisions", 1.0),
        better: Better::Lower,
    },
    Row {
        label: "µs per BPF program run",
        metric: Metric::Per("cost_bpf_ms", "cost_bpf_runs", 1000.0),
        better: Better::Lower,
    },
    Row {
        label: "ops.select_cpu: µs per run",
        metric: Metric::Per("bpf_select_cpu_ns", "bpf_select_cpu_runs", 0.001),
        better: Better::Lower,
    },
    Row {
        label: "ops.enqueue: µs per run",
        metric: Metric::Per("bpf_enqueue_ns", "bpf_enqueue_runs", 0.001),
        better: Better::Lower,
    },
    Row {
        label: "ops.dispatch: µs per run",
        metric: Metric::Per("bpf_dispatch_ns", "bpf_dispatch_runs", 0.001),
        better: Better::Lower,
    },
    Row {
        label: "ops.runnable: µs per run",
        metric: Metric::Per("bpf_runnable_ns", "bpf_runnable_runs", 0.001),
        better: Better::Lower,
    },
    Row {
        label: "ops.running: µs per run",
        metric: Metric::Per("bpf_running_ns", "bpf_running_runs", 0.001),
        better: Better::Lower,
    },
    Row {
        label: "ops.stopping: µs per run",
        metric: Metric::Per("bpf_stopping_ns", "bpf_stopping_runs", 0.001),
        better: Better::Lower,
    },
    Row {
        label: "ops.quiescent: µs per run",
        metric: Metric::Per("bpf_quiescent_ns", "bpf_quiescent_runs", 0.001),
        better: Better::Lower,
    },
    Row {
        label: "ops.dequeue: µs per run",
        metric: Metric::Per("bpf_dequeue_ns", "bpf_dequeue_runs", 0.001),
        better: Better::Lower,
    },
    Row {
        label: "ops.tick: µs per run",
        metric: Metric::Per("bpf_tick_ns", "bpf_tick_runs", 0.001),
        better: Better::Lower,
    },
    Row {
        label: "sched_switch tracepoint: µs per run",
        metric: Metric::Per("bpf_sched_switch_ns", "bpf_sched_switch_runs", 0.001),
        better: Better::Lower,
    },
    Row {
        label: "syscalls per decision",
        metric: Metric::Per("cost_syscalls", "cost_decisions", 1.0),
        better: Better::Lower,
    },
    Row {
        label: "sched_yield per decision",
        metric: Metric::Per("cost_yields", "cost_decisions", 1.0),
        better: Better::Lower,
    },
    Row {
        label: "bpf() per decision",
        metric: Metric::Per("cost_bpf_calls", "cost_decisions", 1.0),
        better: Better::Lower,
    },
    Row {
        label: "user-scheduler wake-ups per decision",
        metric: Metric::Per("prof_runs", "cost_decisions", 1.0),
        better: Better::Lower,
    },
    Row {
        label: "tasks drained per non-empty wake-up",
        metric: Metric::PerDiff("prof_received", "prof_steps", "prof_empty"),
        better: Better::Higher,
    },
    Row {
        label: "empty loop steps (share)",
        metric: Metric::Per("prof_empty", "prof_steps", 1.0),
        better: Better::Lower,
    },
    Row {
        label: "user-ring-buffer drains per ops.dispatch",
        metric: Metric::Per("prof_drains", "prof_calls", 1.0),
        better: Better::Higher,
    },
    Row {
        label: "decisions per drain",
        metric: Metric::Per("prof_drained", "prof_drains", 1.0),
        better: Better::Higher,
    },
    Row {
        label: "kicks per decision",
        metric: Metric::Per("prof_kicks", "cost_decisions", 1.0),
        better: Better::Lower,
    },
    Row {
        label: "ops.dispatch calls per decision",
        metric: Metric::Per("prof_calls", "cost_decisions", 1.0),
        better: Better::Lower,
    },
];

/// The rows of the wakeup profile (scx_relay's policies), in order.
const WAKEUP_ROWS: &[Row] = &[
    Row { label: "wakeups placed by a user decision", metric: Metric::Raw("wake_user_n"), better: Better::Higher },
    Row { label: "wakeups the kernel placed", metric: Metric::Raw("wake_kernel_n"), better: Better::Higher },
    Row {
        label: "during the load: wakeups the fast path placed (its counters)",
        metric: Metric::Raw("wake_fast_placed"),
        better: Better::Higher,
    },
    Row {
        label: "during the load: of those, into the local queue of the wakeup's own CPU, no kick",
        metric: Metric::Raw("wake_fast_local"),
        better: Better::Neither,
    },
    Row {
        label: "during the load: fast placements preempting a hog by the hog rule",
        metric: Metric::Raw("wake_fast_hog_preempts"),
        better: Better::Higher,
    },
    Row {
        label: "during the load: fast placements deferred (behind a task short of its minimum slice, or on the user scheduler's CPU)",
        metric: Metric::Raw("wake_fast_deferred"),
        better: Better::Neither,
    },
    Row {
        label: "during the load: deferrals that chose the user scheduler's CPU",
        metric: Metric::Raw("wake_fast_usersched_target"),
        better: Better::Neither,
    },
    Row {
        label: "during the load: kicks of the deferral's timer",
        metric: Metric::Raw("wake_fast_timer_kicks"),
        better: Better::Neither,
    },
    Row {
        label: "during the load: deferred fast placements another CPU took over",
        metric: Metric::Raw("wake_fast_moved"),
        better: Better::Neither,
    },
    Row {
        label: "during the load: granted wakeups the fast path could not place",
        metric: Metric::Raw("wake_fast_unplaced"),
        better: Better::Lower,
    },
    Row {
        label: "during the load: of those, the chosen CPU's fast-waiter slot already held",
        metric: Metric::Raw("wake_fast_slot_taken"),
        better: Better::Neither,
    },
    Row {
        label: "during the load: CPUs a scan finding none left out as the user scheduler's",
        metric: Metric::Raw("wake_fast_left_usersched"),
        better: Better::Neither,
    },
    Row {
        label: "during the load: CPUs a scan finding none left out for a fast task there",
        metric: Metric::Raw("wake_fast_left_fast"),
        better: Better::Neither,
    },
    Row {
        label: "during the load: CPUs a scan finding none left out, their task short of the minimum slice",
        metric: Metric::Raw("wake_fast_left_busy"),
        better: Better::Neither,
    },
    Row {
        label: "during the load: times a task a local fast placement preempted went back with its slice left",
        metric: Metric::Raw("wake_fast_resumes"),
        better: Better::Neither,
    },
    Row {
        label: "during the load: fast-placed wakeups whose burst reached the budget (two in a row revoke)",
        metric: Metric::Raw("wake_fast_overruns"),
        better: Better::Neither,
    },
    Row {
        label: "during the load: fast-path grants revoked (two overruns in a row, or over the share)",
        metric: Metric::Raw("wake_fast_revoked"),
        better: Better::Neither,
    },
    Row {
        label: "during the load: fast-path grants the policy wrote (new, changed, again after a revoke)",
        metric: Metric::Raw("wake_fast_grants"),
        better: Better::Neither,
    },
    Row {
        label: "user-placed: wakeup → decision applied, p50 (µs)",
        metric: Metric::Raw("wake_user_to_decision_p50_us"),
        better: Better::Lower,
    },
    Row {
        label: "user-placed: wakeup → decision applied, p99 (µs)",
        metric: Metric::Raw("wake_user_to_decision_p99_us"),
        better: Better::Lower,
    },
    Row {
        label: "user-placed: decision applied → running, p50 (µs)",
        metric: Metric::Raw("wake_user_decision_to_run_p50_us"),
        better: Better::Lower,
    },
    Row {
        label: "user-placed: decision applied → running, p99 (µs)",
        metric: Metric::Raw("wake_user_decision_to_run_p99_us"),
        better: Better::Lower,
    },
    Row {
        label: "user-placed: whole wait, p50 (µs)",
        metric: Metric::Raw("wake_user_total_p50_us"),
        better: Better::Lower,
    },
    Row {
        label: "user-placed: whole wait, p99 (µs)",
        metric: Metric::Raw("wake_user_total_p99_us"),
        better: Better::Lower,
    },
    Row {
        label: "kernel-placed: whole wait, p50 (µs)",
        metric: Metric::Raw("wake_kernel_p50_us"),
        better: Better::Lower,
    },
    Row {
        label: "kernel-placed: whole wait, p99 (µs)",
        metric: Metric::Raw("wake_kernel_p99_us"),
        better: Better::Lower,
    },
    Row { label: "cyclictest's thread: its wakeups", metric: Metric::Raw("wake_cyclictest_n"), better: Better::Higher },
    Row {
        label: "cyclictest's thread: of those, placed by a user decision",
        metric: Metric::Raw("wake_cyclictest_user_n"),
        better: Better::Lower,
    },
    Row {
        label: "cyclictest's thread: of the user-placed, granted but revoked",
        metric: Metric::Raw("wake_cyclictest_miss_revoked"),
        better: Better::Neither,
    },
    Row {
        label: "cyclictest's thread: of the user-placed, granted but niced",
        metric: Metric::Raw("wake_cyclictest_miss_niced"),
        better: Better::Neither,
    },
    Row {
        label: "cyclictest's thread: of the user-placed, granted but no CPU",
        metric: Metric::Raw("wake_cyclictest_miss_no_cpu"),
        better: Better::Neither,
    },
    Row {
        label: "cyclictest's thread: of the user-placed, granted but the CPU's slot taken",
        metric: Metric::Raw("wake_cyclictest_miss_slot_taken"),
        better: Better::Neither,
    },
    Row {
        label: "cyclictest's thread: its grants revoked",
        metric: Metric::Raw("wake_cyclictest_revokes"),
        better: Better::Neither,
    },
    Row {
        label: "cyclictest's thread: wait p50 (µs)",
        metric: Metric::Raw("wake_cyclictest_p50_us"),
        better: Better::Lower,
    },
    Row {
        label: "cyclictest's thread: wait p99 (µs)",
        metric: Metric::Raw("wake_cyclictest_p99_us"),
        better: Better::Lower,
    },
    Row {
        label: "cyclictest's thread, user-placed: wait p50 (µs)",
        metric: Metric::Raw("wake_cyclictest_user_p50_us"),
        better: Better::Lower,
    },
    Row {
        label: "cyclictest's thread, user-placed: wait p99 (µs)",
        metric: Metric::Raw("wake_cyclictest_user_p99_us"),
        better: Better::Lower,
    },
];

/// A target: `scheduler`'s median over `baseline`'s must be at most `max`.
struct Target {
    /// What is compared.
    metric: Metric,
    /// What the target calls it.
    label: &'static str,
    /// The scheduler measured.
    scheduler: &'static str,
    /// The scheduler it is compared with.
    baseline: &'static str,
    /// The largest ratio that meets the target.
    max: f64,
}

/// The targets, in table order.
const TARGETS: &[Target] = &[
    Target {
        metric: Metric::Raw("hackbench_s"),
        label: "hackbench time",
        scheduler: "deadline",
        baseline: "rustland",
        max: 1.0,
    },
    Target {
        metric: Metric::Raw("lat_p99_us"),
        label: "cyclictest p99",
        scheduler: "deadline",
        baseline: "rustland",
        max: 1.0,
    },
    Target {
        metric: Metric::Per("cost_cpu_ms", "cost_decisions", 1000.0),
        label: "scheduler CPU per 1,000 decisions",
        scheduler: "deadline",
        baseline: "rustland",
        max: 0.7,
    },
    // The same with the BPF programs' CPU on both sides (the kernel's BPF
    // statistics): a dispatcher that does more in BPF is not cheaper for it.
    Target {
        metric: Metric::SumPer("cost_cpu_ms", "cost_bpf_ms", "cost_decisions", 1000.0),
        label: "scheduler CPU with its BPF programs' per 1,000 decisions",
        scheduler: "deadline",
        baseline: "rustland",
        max: 0.7,
    },
    Target {
        metric: Metric::Raw("hackbench_s"),
        label: "hackbench time",
        scheduler: "deadline",
        baseline: "eevdf",
        max: 1.10,
    },
    // Issue 11: the weighted deadline keeps what the weight-blind one was
    // good at (measured with `--baseline` at the commit before it).
    Target {
        metric: Metric::Raw("hackbench_s"),
        label: "hackbench time",
        scheduler: "deadline",
        baseline: "baseline",
        max: 1.10,
    },
    Target {
        metric: Metric::Raw("lat_p99_us"),
        label: "cyclictest p99",
        scheduler: "deadline",
        baseline: "baseline",
        max: 1.10,
    },
    // Issue 13: the default policy beats EEVDF on latency from user space,
    // and keeps its lead over scx_rustland and its own cost.
    Target {
        metric: Metric::Raw("lat_p50_us"),
        label: "cyclictest p50",
        scheduler: "deadline",
        baseline: "eevdf",
        max: 1.0,
    },
    Target {
        metric: Metric::Raw("lat_p99_us"),
        label: "cyclictest p99",
        scheduler: "deadline",
        baseline: "eevdf",
        max: 1.0,
    },
    Target {
        metric: Metric::Raw("frame_missed"),
        label: "60 Hz vsyncs missed",
        scheduler: "deadline",
        baseline: "eevdf",
        max: 1.0,
    },
    Target {
        metric: Metric::Raw("frame_p99_ms"),
        label: "60 Hz frame time p99",
        scheduler: "deadline",
        baseline: "eevdf",
        max: 1.0,
    },
    Target {
        metric: Metric::Raw("hackbench_s"),
        label: "hackbench time",
        scheduler: "deadline",
        baseline: "rustland",
        max: 0.9,
    },
    Target {
        metric: Metric::Per("cost_cpu_ms", "cost_decisions", 1000.0),
        label: "scheduler CPU per 1,000 decisions",
        scheduler: "deadline",
        baseline: "baseline",
        max: 1.0,
    },
    // The same, with the CPU the BPF programs use in the kernel: the part a
    // dispatcher that decides more in BPF (the fast path) moves out of the
    // scheduler process.
    Target {
        metric: Metric::SumPer("cost_cpu_ms", "cost_bpf_ms", "cost_decisions", 1000.0),
        label: "scheduler CPU with its BPF programs' per 1,000 decisions",
        scheduler: "deadline",
        baseline: "baseline",
        max: 1.0,
    },
];

/// The schedulers whose ratios over the baselines the table shows.
const CANDIDATES: [&str; 3] = ["deadline", "interactive", "fifo"];
/// The schedulers the candidates are compared with.
const BASELINES: [&str; 3] = ["eevdf", "rustland", "baseline"];

/// The ratio columns among `scheds`: each candidate present over each
/// baseline present, candidate by candidate.
fn ratio_columns(scheds: &[&str]) -> Vec<(&'static str, &'static str)> {
    let present = |names: &[&'static str]| names.iter().copied().filter(|s| scheds.contains(s)).collect::<Vec<_>>();
    let (candidates, baselines) = (present(&CANDIDATES), present(&BASELINES));
    candidates.iter().flat_map(|c| baselines.iter().map(move |b| (*c, *b))).collect()
}

/// A table cell: `value` formatted, or a dash when it was not measured.
fn cell(value: Option<f64>, format: fn(f64) -> String) -> String {
    value.map_or_else(|| "–".to_owned(), format)
}

/// A ratio with two decimals, as `0.75×`.
fn times(ratio: f64) -> String {
    format!("{ratio:.2}×")
}

/// A table's header line (`first` then a cell per column) and its
/// alignment line (the label column left, the others right).
fn write_head(md: &mut String, first: &str, columns: &[String]) {
    md.push_str(first);
    for c in columns {
        let _ = write!(md, " {c} |");
    }
    md.push_str("\n|---|");
    for _ in columns {
        md.push_str("---:|");
    }
    md.push('\n');
}

/// A table line: the `label` cell, then `cells`.
fn write_row(md: &mut String, label: &str, cells: impl Iterator<Item = String>) {
    let _ = write!(md, "| {label} |");
    for c in cells {
        let _ = write!(md, " {c} |");
    }
    md.push('\n');
}

impl Results {
    /// The Markdown report: medians, ratios, targets, profile.
    pub(super) fn markdown(&self, run: &GuestRun<'_>) -> String {
        let scheds = self.schedulers();
        let mut md = String::new();
        self.write_medians(&mut md, &scheds, run);
        self.write_targets(&mut md);
        self.write_profile(&mut md, &scheds);
        self.write_wakeup_profile(&mut md, &scheds);
        self.write_errors(&mut md);
        md
    }

    /// The opening line, then the table of [`ROWS`] measured: the medians of
    /// every scheduler in `scheds` and the candidates' ratios over the baselines.
    fn write_medians(&self, md: &mut String, scheds: &[&str], run: &GuestRun<'_>) {
        let rounds = self.samples.iter().map(|s| s.round).max().unwrap_or(0);
        let _ = writeln!(
            md,
            "Medians over {rounds} interleaved rounds in one guest boot ({}); `{}`.\n",
            run.machine(),
            run.command
        );
        let ratios = ratio_columns(scheds);
        let mut columns: Vec<String> = scheds.iter().map(|s| display_name(s).to_owned()).collect();
        columns.extend(ratios.iter().map(|(c, b)| format!("{c} / {}", display_name(b))));
        write_head(md, "| metric |", &columns);
        // A row nothing measured (a workload this run left out) is left out.
        for row in ROWS.iter().filter(|row| scheds.iter().any(|s| self.median(s, row.metric).is_some())) {
            let label = format!("{}{}", row.label, row.better.arrow());
            let medians = scheds.iter().map(|s| cell(self.median(s, row.metric), fmt_num));
            let ratios = ratios.iter().map(|(c, b)| cell(self.ratio(c, b, row.metric), times));
            write_row(md, &label, medians.chain(ratios));
        }
    }

    /// The [`TARGETS`] table: each target's measured ratio and verdict.
    fn write_targets(&self, md: &mut String) {
        md.push_str("\n**Targets** (ratio of medians):\n\n| target | measured | verdict |\n|---|---:|---|\n");
        for t in TARGETS {
            let medians = self.median(t.scheduler, t.metric).zip(self.median(t.baseline, t.metric));
            let (cell, verdict) = match medians {
                // A count both keep at 0 (vsyncs missed): no ratio, but met.
                Some((a, b)) if b == 0.0 => {
                    (format!("{} vs {}", fmt_num(a), fmt_num(b)), if a == 0.0 { "met" } else { "**missed**" })
                }
                Some((a, b)) if a / b <= t.max => (times(a / b), "met"),
                Some((a, b)) => (times(a / b), "**missed**"),
                None => ("–".to_owned(), "not measured"),
            };
            let _ = writeln!(
                md,
                "| {} {}: {} vs {} ≤ {:.2}× | {cell} | {verdict} |",
                display_name(t.scheduler),
                t.label,
                display_name(t.scheduler),
                display_name(t.baseline),
                t.max
            );
        }
    }

    /// The [`PROFILE_ROWS`] table of the user-space schedulers in `scheds`
    /// (EEVDF has no scheduler process), if there is one.
    fn write_profile(&self, md: &mut String, scheds: &[&str]) {
        let profiled: Vec<&str> = scheds.iter().copied().filter(|s| !KERNEL_SCHEDULERS.contains(s)).collect();
        if profiled.is_empty() {
            return;
        }
        md.push_str("\n**Profile of the scheduler process** in the cost window (medians of per-round values):\n\n");
        let columns: Vec<String> = profiled.iter().map(|s| display_name(s).to_owned()).collect();
        write_head(md, "| |", &columns);
        for row in PROFILE_ROWS {
            write_row(md, row.label, profiled.iter().map(|s| cell(self.median(s, row.metric), fmt_num)));
        }
    }

    /// The [`WAKEUP_ROWS`] table of the schedulers in `scheds` that have
    /// a wakeup profile, if any.
    fn write_wakeup_profile(&self, md: &mut String, scheds: &[&str]) {
        let profiled: Vec<&str> =
            scheds.iter().copied().filter(|s| WAKEUP_ROWS.iter().any(|r| self.median(s, r.metric).is_some())).collect();
        if profiled.is_empty() {
            return;
        }
        md.push_str(
            "\n**Where a wakeup's time goes** (the cyclictest load again, under `scx_relay record`; medians of per-round percentiles):\n\n",
        );
        let columns: Vec<String> = profiled.iter().map(|s| display_name(s).to_owned()).collect();
        write_head(md, "| |", &columns);
        for row in WAKEUP_ROWS {
            write_row(md, row.label, profiled.iter().map(|s| cell(self.median(s, row.metric), fmt_num)));
        }
    }

    /// The errors the guest reported, as a list, if any.
    fn write_errors(&self, md: &mut String) {
        if !self.errors.is_empty() {
            md.push_str("\nErrors reported by the guest:\n\n");
            for e in &self.errors {
                let _ = writeln!(md, "- {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench_vm::tests::lines;

    /// The report names every scheduler, the targets with a verdict, and errors.
    #[test]
    fn markdown_report() {
        let mut text = lines(&[
            (1, "eevdf", "hackbench_s", 2.0),
            (1, "rustland", "hackbench_s", 4.0),
            (1, "deadline", "hackbench_s", 3.0),
            (1, "fifo", "hackbench_s", 5.0),
        ]);
        text.push("relay-bench: 1 fifo error exited with status 1".into());
        let r = Results::parse(text.iter().map(String::as_str));
        let md = r.markdown(&GuestRun::one_thread("cargo xtask bench-vm", "7.3"));
        assert!(
            md.contains("| hackbench time (s) ↓ | 2.000 | 4.000 | 3.000 | 5.000 | 1.50× | 0.75× | 2.50× | 1.25× |"),
            "{md}"
        );
        assert!(
            md.contains("scx_relay deadline hackbench time: scx_relay deadline vs scx_rustland ≤ 1.00× | 0.75× | met")
        );
        assert!(md.contains("vs EEVDF ≤ 1.10× | 1.50× | **missed**"));
        assert!(md.contains("cyclictest p99: scx_relay deadline vs scx_rustland ≤ 1.00× | – | not measured"));
        assert!(md.contains("- round 1, fifo: exited with status 1"));
        assert!(!md.contains("Where a wakeup's time goes"), "no profile measured, no table");
    }

    /// The wakeup profile's table holds the schedulers that have one.
    #[test]
    fn wakeup_profile_table() {
        let text = lines(&[
            (1, "eevdf", "lat_p50_us", 7000.0),
            (1, "deadline", "lat_p50_us", 9000.0),
            (1, "deadline", "wake_user_n", 800.0),
            (1, "deadline", "wake_user_to_decision_p50_us", 150.0),
            (2, "deadline", "wake_user_to_decision_p50_us", 250.0),
            (1, "deadline", "wake_user_decision_to_run_p99_us", 21000.0),
        ]);
        let md = Results::parse(text.iter().map(String::as_str))
            .markdown(&GuestRun::one_thread("cargo xtask bench-vm", "7.3"));
        let table = &md[md.find("**Where a wakeup's time goes**").expect("the table")..];
        assert!(table.contains("| | scx_relay deadline |\n"), "{table}");
        assert!(table.contains("| user-placed: wakeup → decision applied, p50 (µs) | 200.0 |"), "{table}");
        assert!(table.contains("| user-placed: decision applied → running, p99 (µs) | 21000 |"), "{table}");
        assert!(table.contains("| kernel-placed: whole wait, p50 (µs) | – |"), "{table}");
    }
}
