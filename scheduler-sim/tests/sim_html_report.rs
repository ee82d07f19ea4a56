//! `scx_relay report`'s page (`comparison_html`) and the chart data it is
//! drawn from.
#![allow(clippy::unwrap_used)]

mod sim_support;

use scheduler_sim::{
    cdf_curve, comparison_html, share_points, simulate_traced, timeline_bars, wait_axis, CdfPoint, Report, SimConfig,
    TimelineWindow, Trace, Workload,
};
use sim_support::RoundRobin;

/// One run per slice length (each named after it), of `workload` on 2 CPUs.
fn runs(slices_ms: &[u64], workload: Workload) -> Vec<(Report, Trace)> {
    let config = SimConfig { nr_cpus: 2, duration_ns: 300_000_000, workload, ..SimConfig::default() };
    slices_ms
        .iter()
        .map(|&ms| {
            let (mut report, trace) = simulate_traced(&config, Box::new(RoundRobin::new(ms * 1_000_000))).unwrap();
            report.policy = format!("round-robin {ms} ms");
            (report, trace)
        })
        .collect()
}

/// The curve climbs: x and y never decrease, y ends at 1 with the
/// longest wait, and a wait under the axis' start sits at x = 0.
#[test]
fn cdf_curve_climbs_to_the_longest_wait() {
    let cdf = [
        CdfPoint { per_mille: 0, wait_ns: 0 },
        CdfPoint { per_mille: 500, wait_ns: 10_000 },
        CdfPoint { per_mille: 1000, wait_ns: 1_000_000 },
    ];
    let curve = cdf_curve(&cdf, 1_000, 1_000_000);
    assert_eq!(curve[0], (0.0, 0.0));
    assert!((curve[1].0 - 1.0 / 3.0).abs() < 1e-9, "{curve:?}");
    assert_eq!(curve[2], (1.0, 1.0));
    assert_eq!(wait_axis([cdf.as_slice()].into_iter()), (1_000, 1_000_000));
    let long = [CdfPoint { per_mille: 1000, wait_ns: 3_500_000_000 }];
    assert_eq!(wait_axis([long.as_slice()].into_iter()), (1_000, 10_000_000_000));
}

/// The points are the fairness hogs, their shares adding up to 1 on both
/// axes, the weight shares following the weights.
#[test]
fn share_points_are_shares_of_the_hogs() {
    let runs = runs(&[2], "nice".parse().unwrap());
    let points = share_points(&runs[0].0);
    assert!(points.len() >= 2, "{points:?}");
    let (sx, sy) = points.iter().fold((0.0, 0.0), |(a, b), (x, y, _)| (a + x, b + y));
    assert!((sx - 1.0).abs() < 1e-9 && (sy - 1.0).abs() < 1e-9, "{points:?}");
    let in_fairness = runs[0].0.tasks.iter().filter(|t| t.in_fairness).count();
    assert_eq!(points.len(), in_fairness);
    assert_eq!(in_fairness as u64, runs[0].0.fairness_tasks);
    let hogs: Vec<_> = runs[0].0.tasks.iter().filter(|t| t.in_fairness).collect();
    let weights: u64 = hogs.iter().map(|t| t.weight).sum();
    for ((x, _, comm), hog) in points.iter().zip(&hogs) {
        assert_eq!(*comm, hog.comm);
        assert!((x - hog.weight as f64 / weights as f64).abs() < 1e-12);
    }
    assert!(hogs.iter().any(|h| h.weight != hogs[0].weight), "the nice workload mixes weights");
}

/// The bars are the trace's runs cut to the window: inside 0..=1, on
/// each CPU never overlapping, and their time is the window's busy time.
#[test]
fn timeline_bars_cut_the_runs_to_the_window() {
    let runs = runs(&[2], "mixed".parse().unwrap());
    let trace = &runs[0].1;
    let window = TimelineWindow { from_ns: 100_000_000, len_ns: 50_000_000 };
    let bars = timeline_bars(trace, window);
    assert!(!bars.is_empty());
    for cpu in 0..trace.nr_cpus {
        let mut on_cpu: Vec<_> = bars.iter().filter(|b| b.cpu == cpu).collect();
        on_cpu.sort_by(|a, b| a.x0.total_cmp(&b.x0));
        for pair in on_cpu.windows(2) {
            assert!(pair[0].x1 <= pair[1].x0 + 1e-12, "overlap on cpu{cpu}: {pair:?}");
        }
    }
    assert!(bars.iter().all(|b| (0.0..=1.0).contains(&b.x0) && b.x0 < b.x1 && b.x1 <= 1.0));
    let busy_ns: f64 = bars.iter().map(|b| (b.x1 - b.x0) * window.len_ns as f64).sum();
    let expected: u64 =
        trace.slices.iter().map(|s| s.end_ns.min(150_000_000).saturating_sub(s.start_ns.max(100_000_000))).sum();
    assert!((busy_ns - expected as f64).abs() < 1.0, "{busy_ns} vs {expected}");
}

/// The page: one wait chart per class with waits, a curve per policy
/// in each, the share chart, a timeline per policy; every element
/// closed; names escaped.
#[test]
fn page_has_every_chart_and_is_balanced() {
    let mut runs = runs(&[2, 20], "mixed".parse().unwrap());
    runs[1].0.policy = "rr <&>".to_owned();
    let page = comparison_html(&runs, TimelineWindow { from_ns: 0, len_ns: 20_000_000 });
    let classes = runs[0].0.classes.iter().filter(|c| !c.wait_cdf.is_empty()).count();
    assert!(classes >= 3, "mixed has several classes");
    let share_charts = usize::from(share_points(&runs[0].0).len() > 1);
    assert_eq!(page.matches("<svg ").count(), classes + share_charts + runs.len());
    assert_eq!(page.matches("<svg ").count(), page.matches("</svg>").count());
    assert_eq!(page.matches("<path ").count(), classes * runs.len());
    assert_eq!(page.matches("<path ").count(), page.matches("</path>").count());
    assert_balanced(&page);
    assert!(page.contains("rr &lt;&amp;&gt;") && !page.contains("rr <&>"));
    assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
    assert_eq!(page.matches("http").count(), page.matches("http://www.w3.org/2000/svg").count(), "nothing fetched");
}

/// Every element of `page` is closed in order (`<meta>` and `.../>`
/// close themselves); text holds no raw `<`.
fn assert_balanced(page: &str) {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = page;
    while let Some(at) = rest.find('<') {
        let end = rest[at..].find('>').map(|e| at + e).unwrap();
        let tag = &rest[at + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') || tag.ends_with('/') {
            continue;
        }
        let name = tag.trim_start_matches('/').split(|c: char| c.is_whitespace()).next().unwrap();
        if name == "meta" {
            continue;
        }
        if tag.starts_with('/') {
            assert_eq!(open.pop(), Some(name), "</{name}> closes the wrong element");
        } else {
            open.push(name);
        }
    }
    assert!(open.is_empty(), "left open: {open:?}");
}

/// A replay's page adds the table of replayed waits against the recorded
/// ones (the recorded row, then a row per policy), balanced like the rest;
/// other pages have none.
#[test]
fn a_replay_page_compares_the_recorded_waits() {
    use scheduler_core::record::{read, synthetic, Kind};
    use scheduler_sim::Replay;
    // Two tasks take turns on CPU 0, woken by a timer, waiting 100 µs each time.
    let events: Vec<_> = (0..20u64)
        .flat_map(|i| {
            let (pid, t) = (7 + (i % 2) as i32, i * 1_000_000);
            [
                (t, Kind::Runnable, pid, 0, 1, 1024, 2),
                (t + 100_000, Kind::Running, pid, 0, 0, 0, 0),
                (t + 600_000, Kind::Quiescent, pid, 0, 1, 0, 0),
                (t + 600_000, Kind::Stopping, pid, 0, 0, 0, 0),
            ]
        })
        .collect();
    let replay = Replay::from_recording(&read(&synthetic(2, 20_000_000, &events).unwrap()).unwrap()).unwrap();
    let config = SimConfig {
        nr_cpus: 2,
        duration_ns: replay.duration_ns,
        workload: Workload::Replay(std::sync::Arc::new(replay)),
        ..SimConfig::default()
    };
    let runs: Vec<_> = [1, 5]
        .iter()
        .map(|&ms| {
            let (mut report, trace) = simulate_traced(&config, Box::new(RoundRobin::new(ms * 1_000_000))).unwrap();
            report.policy = format!("round-robin {ms} ms");
            (report, trace)
        })
        .collect();
    let recorded = runs[0].0.replay.unwrap().recorded;
    assert_eq!((recorded.samples, recorded.p50_ns, recorded.max_ns), (20, 100_000, 100_000));
    let page = comparison_html(&runs, TimelineWindow { from_ns: 0, len_ns: 5_000_000 });
    assert!(page.contains("Replayed waits against the recording's"));
    assert!(page.contains("<tr><td>recorded</td><td>20</td><td>100 µs</td>"), "{page}");
    assert_eq!(page.matches("round-robin 5 ms</td>").count(), 2, "a row in the summary and one in the replay table");
    assert_balanced(&page);
    let plain = comparison_html(&runs_plain(), TimelineWindow { from_ns: 0, len_ns: 5_000_000 });
    assert!(!plain.contains("Replayed waits"));
}

fn runs_plain() -> Vec<(Report, Trace)> {
    runs(&[2], "hogs".parse().unwrap())
}
