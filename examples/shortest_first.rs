//! A custom policy: tasks whose last run was short go first. Each task is
//! keyed by its arrival time plus its last run (capped at 10 ms), so a
//! short-running task passes long-running ones by up to its own run length
//! and nothing waits forever.
//!
//! `cargo run --release --example shortest_first` compares it with
//! `deadline` in the simulator; `sudo target/release/examples/shortest_first
//! real [OPTIONS]` schedules this machine with it (`scx_relay`'s options).
use std::process::ExitCode;

use scheduler_core::{Decision, Policy, QueuedTask, SchedContext, Target};
use scheduler_sim::{simulate, SimConfig};

struct ShortestFirst {
    /// (key, task); the lowest key runs first. A linear scan keeps the
    /// example short; a heap scales better.
    queue: Vec<(u64, QueuedTask)>,
    slice_ns: u64,
}

impl Policy for ShortestFirst {
    fn name(&self) -> &str {
        "shortest_first"
    }
    fn enqueue(&mut self, task: &QueuedTask, ctx: &SchedContext<'_>) {
        self.queue.push((ctx.now_ns + task.last_run_ns().min(10_000_000), *task));
    }
    fn dispatch(&mut self, _ctx: &SchedContext<'_>) -> Option<Decision> {
        let i = (0..self.queue.len()).min_by_key(|&i| self.queue[i].0)?;
        let (key, task) = self.queue.swap_remove(i);
        // The key is the vtime: the dispatcher's queues keep this order.
        Some(task.decide(Target::Any, self.slice_ns, key))
    }
    fn pending(&self) -> usize {
        self.queue.len()
    }
    fn take_all(&mut self, out: &mut Vec<QueuedTask>) {
        out.extend(self.queue.drain(..).map(|(_, t)| t));
    }
}

fn make(slice_ns: u64) -> Box<dyn Policy> {
    Box::new(ShortestFirst { queue: Vec::with_capacity(4096), slice_ns })
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("real") {
        args.remove(1);
        return scx_relay::run_with_policy_args(args, "shortest_first", |cfg| make(cfg.slice_ns));
    }
    let config = SimConfig { duration_ns: 2_000_000_000, ..SimConfig::default() };
    let deadline = policies::Deadline::new(&policies::PolicyConfig::default());
    for policy in [make(5_000_000), Box::new(deadline)] {
        match simulate(&config, policy) {
            Ok(report) => println!("{}", report.render_table()),
            Err(e) => {
                eprintln!("shortest_first: {e}");
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}
