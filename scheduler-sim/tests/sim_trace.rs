//! The trace (`simulate_traced`): every run on every CPU, as the report
//! accounts it, in Chrome's trace format.
#![allow(clippy::unwrap_used)]

mod sim_support;

use scheduler_sim::{simulate, simulate_traced, Runner, SimConfig};
use sim_support::RoundRobin;

fn config() -> SimConfig {
    SimConfig { nr_cpus: 4, duration_ns: 200_000_000, ..SimConfig::default() }
}

/// On each CPU the runs never overlap and stay within the simulated time;
/// the tasks' runs add up to the report's workload CPU time and the user
/// scheduler's to its CPU time; and the report is the untraced one.
#[test]
fn runs_are_the_reports_accounting() {
    let (report, trace) = simulate_traced(&config(), Box::new(RoundRobin::new(2_000_000))).unwrap();
    assert_eq!(trace.nr_cpus, 4);
    assert!(trace.slices.len() > 100, "{} runs", trace.slices.len());
    for cpu in 0..4 {
        let mut runs: Vec<_> = trace.slices.iter().filter(|s| s.cpu == cpu).collect();
        runs.sort_by_key(|s| s.start_ns);
        for pair in runs.windows(2) {
            assert!(pair[0].end_ns <= pair[1].start_ns, "cpu {cpu}: {:?} overlaps {:?}", pair[0], pair[1]);
        }
        assert!(runs.iter().all(|s| s.start_ns < s.end_ns && s.end_ns <= 200_000_000));
    }
    let (tasks, user) = trace.totals();
    assert_eq!(tasks, report.throughput.workload_cpu_ns);
    assert_eq!(user, report.utilisation.user_sched_cpu_ns);
    assert!(trace.slices.iter().any(|s| s.runner == Runner::UserScheduler));
    for s in &trace.slices {
        if let Runner::Task(i) = s.runner {
            assert!((i as usize) < trace.tasks.len());
        }
    }
    let plain = simulate(&config(), Box::new(RoundRobin::new(2_000_000))).unwrap();
    assert_eq!(report.to_json(), plain.to_json(), "tracing changes nothing simulated");
}

/// The JSON is a Chrome trace: a name for the process and each CPU, then
/// one complete event per run, named after its task, in µs.
#[test]
fn writes_a_chrome_trace() {
    let (_, trace) = simulate_traced(&config(), Box::new(RoundRobin::new(2_000_000))).unwrap();
    let json: serde_json::Value = serde_json::from_str(&trace.to_chrome_json()).unwrap();
    let events = json["traceEvents"].as_array().unwrap();
    let meta = events.iter().filter(|e| e["ph"] == "M").count();
    let runs: Vec<_> = events.iter().filter(|e| e["ph"] == "X").collect();
    assert_eq!(meta, 1 + 4, "the process and each CPU named");
    assert_eq!(runs.len(), trace.slices.len());
    let first = &trace.slices[0];
    let e = runs[0];
    assert_eq!(e["tid"], first.cpu);
    assert!((e["ts"].as_f64().unwrap() - first.start_ns as f64 / 1000.0).abs() < 1e-6);
    assert!((e["dur"].as_f64().unwrap() - (first.end_ns - first.start_ns) as f64 / 1000.0).abs() < 1e-6);
    let names: Vec<&str> = runs.iter().filter_map(|e| e["name"].as_str()).collect();
    assert!(names.iter().any(|n| n.starts_with("hog-")), "task names: {:?}", &names[..names.len().min(5)]);
    assert!(names.contains(&"user scheduler"));
}
