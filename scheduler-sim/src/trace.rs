//! A simulated run as a timeline: what ran on each CPU and when, written
//! as a Chrome trace (JSON), which ui.perfetto.dev and chrome://tracing
//! open (`scx_relay sim --trace FILE`).
//!
//! Each CPU is a thread of one process; each run is a complete event
//! (`"ph": "X"`) named after the task (`hog-0`, `interactive-3`, ...; the
//! user scheduler's steps are `user scheduler`), in µs from the start.
//! The runs are the simulator's own accounting: on each CPU they never
//! overlap, and the tasks' add up to the report's workload CPU time, the
//! user scheduler's to its CPU time.

use serde_json::{json, Value};

use crate::workload::TaskClass;

/// Who ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    /// A task, by its index in [`Trace::tasks`].
    Task(u32),
    /// The user scheduler (an engine step).
    UserScheduler,
}

/// One run: `runner` on `cpu` from `start_ns` to `end_ns` (simulated time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    /// The CPU.
    pub cpu: u32,
    /// When the run started (ns).
    pub start_ns: u64,
    /// When it ended (ns), > `start_ns`.
    pub end_ns: u64,
    /// Who ran.
    pub runner: Runner,
}

impl Slice {
    /// How long the run lasted (ns).
    pub fn len_ns(&self) -> u64 {
        self.end_ns - self.start_ns
    }
}

/// A task of the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceTask {
    /// Its command name (`hog-0`, ...).
    pub name: String,
    /// Its simulated pid.
    pub pid: i32,
    /// Its class (`None`: a task of a recorded machine).
    pub class: Option<TaskClass>,
}

/// A simulated run's timeline.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// What the trace's process is called (policy and workload).
    pub title: String,
    /// CPUs.
    pub nr_cpus: u32,
    /// The tasks, by task index.
    pub tasks: Vec<TraceTask>,
    /// The runs, in the order they ended.
    pub slices: Vec<Slice>,
}

impl Trace {
    /// CPU time of the tasks' runs, and of the user scheduler's (ns).
    pub fn totals(&self) -> (u64, u64) {
        self.slices.iter().fold((0, 0), |(tasks, user), s| match s.runner {
            Runner::Task(_) => (tasks + (s.end_ns - s.start_ns), user),
            Runner::UserScheduler => (tasks, user + (s.end_ns - s.start_ns)),
        })
    }

    /// The trace in Chrome's JSON trace format.
    pub fn to_chrome_json(&self) -> String {
        let us = |ns: u64| ns as f64 / 1000.0;
        let mut events = Vec::with_capacity(self.slices.len() + self.nr_cpus as usize + 1);
        events.push(json!({"name": "process_name", "ph": "M", "pid": 1, "args": {"name": self.title}}));
        for cpu in 0..self.nr_cpus {
            events.push(
                json!({"name": "thread_name", "ph": "M", "pid": 1, "tid": cpu, "args": {"name": format!("cpu{cpu}")}}),
            );
        }
        for s in &self.slices {
            let (name, args): (&str, Value) = match s.runner {
                Runner::Task(i) => {
                    let (name, pid) = self.tasks.get(i as usize).map_or(("?", 0), |t| (t.name.as_str(), t.pid));
                    (name, json!({"pid": pid}))
                }
                Runner::UserScheduler => ("user scheduler", json!({})),
            };
            let cat = if matches!(s.runner, Runner::Task(_)) { "task" } else { "user" };
            events.push(json!({
                "name": name, "cat": cat, "ph": "X", "pid": 1, "tid": s.cpu,
                "ts": us(s.start_ns), "dur": us(s.end_ns - s.start_ns), "args": args,
            }));
        }
        json!({"traceEvents": events, "displayTimeUnit": "ns"}).to_string()
    }
}
