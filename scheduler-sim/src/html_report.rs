//! `scx_relay report`'s page: simulated runs of several policies on one
//! machine and workload, compared in one self-contained HTML file (inline
//! SVG, no script, nothing fetched) that any browser opens.
//!
//! What it shows, per policy:
//! - a summary table: work done, CPU busy, waits, fairness, user-scheduler
//!   CPU, and whether a wait passed the kernel's watchdog;
//! - the wait distribution of each task class (runnable → running), one
//!   chart per class with a curve per policy, on a log time axis;
//! - each fairness hog's CPU share against its weight's share (the
//!   diagonal is a share that follows the weight exactly);
//! - a per-CPU timeline of a window of the run: who ran where.
//!
//! The charts are built as data first ([`cdf_curve`], [`share_points`],
//! [`timeline_bars`]), which the tests check, then drawn.

use std::fmt::Write as _;

use crate::{
    report::{CdfPoint, Report},
    trace::{Runner, Trace},
    workload::TaskClass,
};

/// One colour per policy, in the order given (repeats past eight).
const POLICY_COLOURS: [&str; 8] =
    ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];

/// The timeline's colour of each class ([`TaskClass::ALL`] order), and the
/// user scheduler's.
const CLASS_COLOURS: [&str; TaskClass::ALL.len()] =
    ["#e6550d", "#3182bd", "#31a354", "#756bb1", "#969696", "#e7ba52", "#a55194"];
const USER_SCHEDULER_COLOUR: &str = "#000000";
/// The timeline's colour of a task of no class (a recorded one).
const UNCLASSED_COLOUR: &str = "#bdbdbd";

/// The part of the run the timelines show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelineWindow {
    /// Start (ns of simulated time).
    pub from_ns: u64,
    /// Length (ns), > 0.
    pub len_ns: u64,
}

/// A simulated run: its report and its timeline.
pub type Run = (Report, Trace);

/// The page comparing `runs` (one per policy, same machine and workload),
/// with timelines over `window`.
pub fn comparison_html(runs: &[Run], window: TimelineWindow) -> String {
    let mut page = String::new();
    let title = match runs.first() {
        Some((r, _)) => format!("scx_relay report: {} on {} CPUs", r.workload, r.nr_cpus),
        None => "scx_relay report".to_owned(),
    };
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        esc(&title),
        STYLE,
        esc(&title)
    );
    if let Some((r, _)) = runs.first() {
        let _ = writeln!(
            page,
            "<p>Simulated by <code>scx_relay sim</code>'s model: {} s, seed {}, {} CPUs ({} per core, {} per LLC), slice {} µs, {} ns of user-scheduler CPU per decision{}. One run per policy; the numbers are the simulator's, not a real kernel's.</p>",
            fmt_secs(r.duration_ns),
            r.seed,
            r.nr_cpus,
            r.smt,
            r.cores_per_llc * r.smt,
            r.slice_ns / 1000,
            r.decision_cost_ns,
            match r.user_step_extras_drawn {
                Some((n, mean_ns)) => format!(
                    " and a step's extra drawn from {n} recorded runs (mean {mean_ns} ns), with the recording's start \
                     delays and late yields (<code>--recorded-costs</code>)"
                ),
                None => String::new(),
            }
        );
    }
    page.push_str(&summary_table(runs));
    page.push_str(&replay_table(runs));
    page.push_str(&legend(runs));
    page.push_str("<h2>Waits by task class</h2>\n<p>Runnable → running: the fraction of waits (y) at most this long (x, log scale).</p>\n<div class=\"charts\">\n");
    for class in TaskClass::ALL {
        if runs.iter().any(|(r, _)| r.class(class).is_some_and(|c| !c.wait_cdf.is_empty())) {
            page.push_str(&cdf_chart(runs, class));
        }
    }
    page.push_str("</div>\n");
    page.push_str("<h2>CPU share against weight</h2>\n");
    if runs.iter().any(|(r, _)| share_points(r).len() > 1) {
        page.push_str("<p>Each hog allowed on every CPU (the tasks the fairness index is over): its share of their CPU time (y) against its weight's share of their weights (x). On the diagonal, shares follow weights exactly.</p>\n");
        page.push_str(&share_chart(runs));
    } else {
        page.push_str("<p>The workload has fewer than two hogs allowed on every CPU: no shares to compare.</p>\n");
    }
    let _ = writeln!(
        page,
        "<h2>Per-CPU timeline</h2>\n<p>{} ms from {} ms of simulated time: each row a CPU, each bar a run, coloured by task class (black: the user scheduler).</p>",
        fmt_ms(window.len_ns),
        fmt_ms(window.from_ns)
    );
    page.push_str(&class_legend());
    for (i, (report, trace)) in runs.iter().enumerate() {
        let _ = writeln!(page, "<h3 style=\"color:{}\">{}</h3>", colour(i), esc(&report.policy));
        page.push_str(&timeline_chart(trace, window));
    }
    page.push_str("</body>\n</html>\n");
    page
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}th{background:#f4f4f4}td:first-child{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:1em}svg{font-size:11px}.legend span{margin-right:1.5em}";

/// The policy colour of the `i`th run.
fn colour(i: usize) -> &'static str {
    POLICY_COLOURS[i % POLICY_COLOURS.len()]
}

/// `s` with HTML's special characters escaped (text and attribute values).
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn fmt_secs(ns: u64) -> String {
    format!("{}", ns as f64 / 1e9)
}

fn fmt_ms(ns: u64) -> String {
    format!("{}", ns as f64 / 1e6)
}

/// A wait as people read it: ns, µs, ms or s, three significant digits.
fn fmt_wait(ns: u64) -> String {
    let v = ns as f64;
    let (value, unit) = if v < 1e3 {
        (v, "ns")
    } else if v < 1e6 {
        (v / 1e3, "µs")
    } else if v < 1e9 {
        (v / 1e6, "ms")
    } else {
        (v / 1e9, "s")
    };
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.digits$} {unit}")
}

/// A power of ten of ns as an axis label: `1 µs`, `10 µs`, ..., `10 s`.
fn fmt_decade(ns: u64) -> String {
    let (unit_ns, unit) = match ns {
        0..1_000 => (1, "ns"),
        1_000..1_000_000 => (1_000, "µs"),
        1_000_000..1_000_000_000 => (1_000_000, "ms"),
        _ => (1_000_000_000, "s"),
    };
    format!("{} {unit}", ns / unit_ns)
}

/// Ticks for an axis from 0 to at least `max` (a fraction): a round step
/// (1, 2, 2.5 or 5 times a power of ten) giving at most six intervals,
/// and the axis' top, a whole number of steps.
fn share_ticks(max: f64) -> (f64, f64) {
    let max = max.max(1e-6);
    let mut magnitude = 10f64.powf(max.log10().floor() - 1.0);
    loop {
        for step in [1.0, 2.0, 2.5, 5.0] {
            let step = step * magnitude;
            if (max / step).ceil() <= 6.0 {
                return (step, (max / step).ceil() * step);
            }
        }
        magnitude *= 10.0;
    }
}

/// A fraction as a percentage label, with a decimal only when needed.
fn fmt_pct(fraction: f64) -> String {
    let pct = (fraction * 1000.0).round() / 10.0;
    if pct.fract() == 0.0 {
        format!("{pct:.0} %")
    } else {
        format!("{pct:.1} %")
    }
}

fn summary_table(runs: &[Run]) -> String {
    let mut t = String::from(
        "<h2>Summary</h2>\n<table>\n<tr><th>policy</th><th>work units</th><th>workload CPU</th><th>user scheduler CPU</th><th>waits</th><th>p50 wait</th><th>p99 wait</th><th>p99.9 wait</th><th>longest wait</th><th>fairness (Jain)</th><th>past the kernel's watchdog</th></tr>\n",
    );
    for (i, (r, _)) in runs.iter().enumerate() {
        let fairness = r.fairness.map_or_else(|| "–".to_owned(), |f| format!("{f:.3}"));
        let _ = writeln!(
            t,
            "<tr><td style=\"color:{}\">{}</td><td>{}</td><td>{:.1} %</td><td>{:.2} %</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            colour(i),
            esc(&r.policy),
            r.throughput.work_units,
            r.utilisation.workload * 100.0,
            r.utilisation.user_sched * 100.0,
            r.latency.samples,
            fmt_wait(r.latency.p50_ns),
            fmt_wait(r.latency.p99_ns),
            fmt_wait(r.latency.p999_ns),
            fmt_wait(r.latency.max_ns),
            fairness,
            if r.kernel_watchdog_exceeded { "<b>yes</b>" } else { "no" }
        );
    }
    t.push_str("</table>\n");
    t
}

/// A replay's waits against the recording's, per policy (nothing unless
/// the runs are replays).
fn replay_table(runs: &[Run]) -> String {
    let Some(recorded) = runs.iter().find_map(|(r, _)| r.replay.map(|f| f.recorded)) else { return String::new() };
    let mut t = String::from(
        "<h2>Replayed waits against the recording's</h2>\n<p>Runnable → running waits of the recorded tasks: as recorded (the user scheduler's left out), and replayed under each policy; the ratio is replayed / recorded.</p>\n<table>\n<tr><th></th><th>waits</th><th>p50 wait</th><th>p90 wait</th><th>p99 wait</th><th>longest wait</th></tr>\n",
    );
    let ratio = |x: Option<f64>| x.map_or_else(String::new, |x| format!(" ({x:.2}×)"));
    let _ = writeln!(
        t,
        "<tr><td>recorded</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        recorded.samples,
        fmt_wait(recorded.p50_ns),
        fmt_wait(recorded.p90_ns),
        fmt_wait(recorded.p99_ns),
        fmt_wait(recorded.max_ns)
    );
    for (i, (r, _)) in runs.iter().enumerate() {
        let Some(f) = r.replay else { continue };
        let q = f.replayed;
        let _ = writeln!(
            t,
            "<tr><td style=\"color:{}\">{}</td><td>{}</td><td>{}{}</td><td>{}{}</td><td>{}{}</td><td>{}{}</td></tr>",
            colour(i),
            esc(&r.policy),
            q.samples,
            fmt_wait(q.p50_ns),
            ratio(f.ratio.p50),
            fmt_wait(q.p90_ns),
            ratio(f.ratio.p90),
            fmt_wait(q.p99_ns),
            ratio(f.ratio.p99),
            fmt_wait(q.max_ns),
            ratio(f.ratio.max)
        );
    }
    t.push_str("</table>\n");
    t
}

fn legend(runs: &[Run]) -> String {
    let mut l = String::from("<p class=\"legend\">");
    for (i, (r, _)) in runs.iter().enumerate() {
        let _ = write!(l, "<span style=\"color:{}\">━━ {}</span>", colour(i), esc(&r.policy));
    }
    l.push_str("</p>\n");
    l
}

fn class_legend() -> String {
    let mut l = String::from("<p class=\"legend\">");
    for (class, colour) in TaskClass::ALL.iter().zip(CLASS_COLOURS) {
        let _ = write!(l, "<span style=\"color:{colour}\">█ {}</span>", class.name());
    }
    let _ = write!(l, "<span style=\"color:{USER_SCHEDULER_COLOUR}\">█ user scheduler</span></p>");
    l.push('\n');
    l
}

/// A chart's plotting area inside its SVG.
struct Plot {
    width: f64,
    height: f64,
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
}

impl Plot {
    const CHART: Plot = Plot { width: 420.0, height: 260.0, left: 50.0, top: 24.0, right: 12.0, bottom: 36.0 };

    fn inner_w(&self) -> f64 {
        self.width - self.left - self.right
    }
    fn inner_h(&self) -> f64 {
        self.height - self.top - self.bottom
    }
    /// `fx` and `fy` in 0..=1 as SVG coordinates (y up).
    fn at(&self, fx: f64, fy: f64) -> (f64, f64) {
        (self.left + fx.clamp(0.0, 1.0) * self.inner_w(), self.top + (1.0 - fy.clamp(0.0, 1.0)) * self.inner_h())
    }
    /// Ends the chart, with `label` under its x axis.
    fn close(&self, out: &mut String, label: &str) {
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text></svg>",
            self.left + self.inner_w() / 2.0,
            self.height - 4.0,
            esc(label)
        );
    }

    fn open(&self, out: &mut String, title: &str) {
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\"><text x=\"{}\" y=\"14\" font-weight=\"bold\">{}</text><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>",
            self.left,
            esc(title),
            self.left,
            self.top,
            self.inner_w(),
            self.inner_h(),
            w = self.width,
            h = self.height,
        );
    }
}

/// A wait distribution as points of a chart: x the wait's position on a
/// log axis from `lo_ns` to `hi_ns` (0..=1), y its fraction (0..=1), in
/// rank order (both never decrease). Waits under `lo_ns` sit at x = 0.
pub fn cdf_curve(cdf: &[CdfPoint], lo_ns: u64, hi_ns: u64) -> Vec<(f64, f64)> {
    let (lo, hi) = ((lo_ns.max(1) as f64).log10(), (hi_ns.max(lo_ns.max(1) + 1) as f64).log10());
    cdf.iter()
        .map(|p| {
            let x = ((p.wait_ns.max(1) as f64).log10() - lo) / (hi - lo);
            (x.clamp(0.0, 1.0), f64::from(p.per_mille) / 1000.0)
        })
        .collect()
}

/// The wait axis' ends for `cdfs`: the powers of ten around their shortest
/// positive and their longest wait (at least 1 µs to 1 ms).
pub fn wait_axis<'a>(cdfs: impl Iterator<Item = &'a [CdfPoint]>) -> (u64, u64) {
    let (mut lo, mut hi) = (u64::MAX, 0u64);
    for cdf in cdfs {
        for p in cdf {
            if p.wait_ns > 0 {
                lo = lo.min(p.wait_ns);
            }
            hi = hi.max(p.wait_ns);
        }
    }
    let floor_pow10 = |v: u64| {
        let mut p = 1u64;
        while p.saturating_mul(10) <= v {
            p *= 10;
        }
        p
    };
    let ceil_pow10 = |v: u64| {
        let mut p = 1u64;
        while p < v {
            p = p.saturating_mul(10);
        }
        p
    };
    (floor_pow10(lo.min(1_000)), ceil_pow10(hi.max(1_000_000)))
}

fn cdf_chart(runs: &[Run], class: TaskClass) -> String {
    let plot = Plot::CHART;
    let mut out = String::new();
    let cdfs: Vec<(usize, &[CdfPoint])> =
        runs.iter().enumerate().filter_map(|(i, (r, _))| r.class(class).map(|c| (i, c.wait_cdf.as_slice()))).collect();
    let (lo, hi) = wait_axis(cdfs.iter().map(|(_, c)| *c));
    plot.open(&mut out, &format!("{} tasks", class.name()));
    // Axes: powers of ten across, quarters up.
    let decades = ((hi as f64).log10() - (lo as f64).log10()).round() as u32;
    let mut tick = lo;
    for d in 0..=decades {
        let (x, y) = plot.at(f64::from(d) / f64::from(decades.max(1)), 0.0);
        let _ = write!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            plot.top,
            y + 14.0,
            fmt_decade(tick)
        );
        tick = tick.saturating_mul(10);
    }
    for q in [0.0, 0.25, 0.5, 0.75, 0.9, 1.0] {
        let (x, y) = plot.at(0.0, q);
        let _ = write!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{q}</text>",
            plot.left + plot.inner_w(),
            x - 4.0,
            y + 4.0
        );
    }
    for (i, cdf) in &cdfs {
        let points = cdf_curve(cdf, lo, hi);
        // A step curve: each rank holds until the next wait.
        let mut path = String::new();
        let mut prev: Option<(f64, f64)> = None;
        for &(fx, fy) in &points {
            let (x, y) = plot.at(fx, fy);
            match prev {
                None => {
                    let _ = write!(path, "M{x:.1},{y:.1}");
                }
                Some((_, py)) => {
                    let _ = write!(path, " L{x:.1},{py:.1} L{x:.1},{y:.1}");
                }
            }
            prev = Some((x, y));
        }
        let policy = &runs[*i].0.policy;
        let _ = write!(
            out,
            "<path d=\"{path}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"><title>{}</title></path>",
            colour(*i),
            esc(policy)
        );
    }
    plot.close(&mut out, "wait");
    out
}

/// Each fairness hog of `report` as (its weight's share of the hogs'
/// weights, its share of their CPU time), both in 0..=1, with its command
/// name; by pid. Empty when the hogs got no CPU.
pub fn share_points(report: &Report) -> Vec<(f64, f64, &str)> {
    let hogs: Vec<_> = report.tasks.iter().filter(|t| t.in_fairness).collect();
    let weights: u64 = hogs.iter().map(|t| t.weight).sum();
    let cpu: u64 = hogs.iter().map(|t| t.cpu_ns).sum();
    if weights == 0 || cpu == 0 {
        return Vec::new();
    }
    hogs.iter().map(|t| (t.weight as f64 / weights as f64, t.cpu_ns as f64 / cpu as f64, t.comm.as_str())).collect()
}

fn share_chart(runs: &[Run]) -> String {
    let plot = Plot { width: 470.0, height: 460.0, right: 24.0, ..Plot::CHART };
    let mut out = String::new();
    let max = runs.iter().flat_map(|(r, _)| share_points(r)).fold(0.0f64, |m, (x, y, _)| m.max(x).max(y)).max(0.01);
    let (step, top) = share_ticks(max * 1.05);
    plot.open(&mut out, "CPU share against weight share");
    let steps = (top / step).round() as u32;
    for i in 0..=steps {
        let f = f64::from(i) / f64::from(steps);
        let (x, y) = plot.at(f, 0.0);
        let (x0, y0) = plot.at(0.0, f);
        let _ = write!(
            out,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            y + 14.0,
            fmt_pct(f * top),
            x0 - 4.0,
            y0 + 4.0,
            fmt_pct(f * top)
        );
    }
    let (x1, y1) = plot.at(0.0, 0.0);
    let (x2, y2) = plot.at(1.0, 1.0);
    let _ = write!(
        out,
        "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>"
    );
    for (i, (report, _)) in runs.iter().enumerate() {
        for (fx, fy, comm) in share_points(report) {
            let (x, y) = plot.at(fx / top, fy / top);
            let _ = write!(
                out,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{}\" fill-opacity=\"0.7\"><title>{}: {} got {:.1} % for {:.1} %</title></circle>",
                colour(i),
                esc(&report.policy),
                esc(comm),
                fy * 100.0,
                fx * 100.0
            );
        }
    }
    plot.close(&mut out, "share of the hogs' weights");
    out
}

/// A timeline bar: on `cpu`, from `x0` to `x1` (fractions of the window),
/// who ran (`None`: the user scheduler) and for how long (ns).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    /// The CPU.
    pub cpu: u32,
    /// Where the bar starts, as a fraction of the window.
    pub x0: f64,
    /// Where it ends, as a fraction of the window (> `x0`).
    pub x1: f64,
    /// The task (its index in [`Trace::tasks`]), `None` for the user scheduler.
    pub task: Option<u32>,
    /// The whole run's length (ns), also outside the window.
    pub len_ns: u64,
}

/// The runs of `trace` that overlap `window`, cut to it.
pub fn timeline_bars(trace: &Trace, window: TimelineWindow) -> Vec<Bar> {
    let (from, to) = (window.from_ns, window.from_ns.saturating_add(window.len_ns));
    let len = window.len_ns.max(1) as f64;
    trace
        .slices
        .iter()
        .filter(|s| s.end_ns > from && s.start_ns < to)
        .map(|s| {
            let (a, b) = (s.start_ns.max(from), s.end_ns.min(to));
            Bar {
                cpu: s.cpu,
                x0: (a - from) as f64 / len,
                x1: (b - from) as f64 / len,
                task: match s.runner {
                    Runner::Task(i) => Some(i),
                    Runner::UserScheduler => None,
                },
                len_ns: s.len_ns(),
            }
        })
        .collect()
}

fn timeline_chart(trace: &Trace, window: TimelineWindow) -> String {
    const ROW: f64 = 16.0;
    let plot = Plot {
        width: 1200.0,
        height: 24.0 + ROW * f64::from(trace.nr_cpus) + 30.0,
        left: 50.0,
        top: 24.0,
        right: 30.0,
        bottom: 30.0,
    };
    let mut out = String::new();
    plot.open(&mut out, &trace.title);
    for cpu in 0..trace.nr_cpus {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">cpu{cpu}</text>",
            plot.left - 4.0,
            plot.top + ROW * f64::from(cpu) + ROW * 0.75
        );
    }
    for step in 0..=10 {
        let f = f64::from(step) / 10.0;
        let (x, y) = plot.at(f, 0.0);
        let _ = write!(
            out,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{} ms</text>",
            y + 14.0,
            fmt_ms(window.from_ns + (f * window.len_ns as f64) as u64)
        );
    }
    for bar in timeline_bars(trace, window) {
        let x = plot.left + bar.x0 * plot.inner_w();
        let w = (bar.x1 - bar.x0) * plot.inner_w();
        if w < 0.05 {
            continue; // below what any screen shows
        }
        let y = plot.top + ROW * f64::from(bar.cpu) + 2.0;
        let (fill, name) = match bar.task.and_then(|i| trace.tasks.get(i as usize)) {
            Some(t) => (t.class.map_or(UNCLASSED_COLOUR, |c| CLASS_COLOURS[class_index(c)]), t.name.as_str()),
            None => (USER_SCHEDULER_COLOUR, "user scheduler"),
        };
        let _ = write!(
            out,
            "<rect x=\"{x:.2}\" y=\"{y:.1}\" width=\"{w:.2}\" height=\"{:.1}\" fill=\"{fill}\"><title>{}: {}</title></rect>",
            ROW - 4.0,
            esc(name),
            fmt_wait(bar.len_ns)
        );
    }
    out.push_str("</svg>\n");
    out
}

fn class_index(class: TaskClass) -> usize {
    TaskClass::ALL.iter().position(|&c| c == class).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_labels_are_round() {
        assert_eq!(fmt_decade(1_000), "1 µs");
        assert_eq!(fmt_decade(100_000_000), "100 ms");
        assert_eq!(fmt_decade(10_000_000_000), "10 s");
        assert_eq!(fmt_pct(0.025), "2.5 %");
        assert_eq!(fmt_pct(0.5), "50 %");
        assert_eq!(fmt_wait(1_234_567), "1.23 ms");
        assert_eq!(fmt_wait(999), "999 ns");
    }

    /// The share axis' top is a whole number of round steps, at most six,
    /// at or above the largest share.
    #[test]
    fn share_ticks_are_round_and_cover_the_largest_share() {
        for max in [0.004, 0.09, 0.1, 0.31, 0.55, 0.62, 0.999, 1.0] {
            let (step, top) = share_ticks(max);
            let steps = top / step;
            assert!(top >= max && steps <= 6.0 + 1e-9 && (steps - steps.round()).abs() < 1e-9, "{max}: {step} {top}");
            let mantissa = step / 10f64.powf(step.log10().floor());
            assert!([1.0, 2.0, 2.5, 5.0].iter().any(|m| (m - mantissa).abs() < 1e-9), "{max}: step {step}");
        }
        assert_eq!(share_ticks(0.62), (0.2, 0.8));
    }
}
