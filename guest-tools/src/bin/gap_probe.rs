//! `gap_probe SECONDS [PERIOD_MS]`: for SECONDS, sleep PERIOD_MS (default
//! 10) again and again and measure how late each wake-up ran (CLOCK_MONOTONIC):
//! how long a task that only sleeps briefly waits for a CPU. Prints one line,
//! `gap_probe: wakeups N late_max_ms M over_100ms A over_1s B worst_at_s T`
//! (T: seconds into the run), and exits 0. Guest cases use it to tell a slow
//! task from a frozen machine.
use std::{
    process::ExitCode,
    thread,
    time::{Duration, Instant},
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(secs), period_ms) = (
        args.first().and_then(|s| s.parse::<u64>().ok()),
        args.get(1).and_then(|s| s.parse::<u64>().ok()).unwrap_or(10),
    ) else {
        eprintln!("usage: gap_probe SECONDS [PERIOD_MS]");
        return ExitCode::from(2);
    };
    let period = Duration::from_millis(period_ms.max(1));
    let start = Instant::now();
    let (mut wakeups, mut over_100ms, mut over_1s) = (0u64, 0u64, 0u64);
    let (mut worst, mut worst_at) = (Duration::ZERO, Duration::ZERO);
    while start.elapsed() < Duration::from_secs(secs) {
        let before = Instant::now();
        thread::sleep(period);
        let late = before.elapsed().saturating_sub(period);
        wakeups += 1;
        if late > Duration::from_millis(100) {
            over_100ms += 1;
        }
        if late > Duration::from_secs(1) {
            over_1s += 1;
        }
        if late > worst {
            worst = late;
            worst_at = before.duration_since(start);
        }
    }
    println!(
        "gap_probe: wakeups {wakeups} late_max_ms {} over_100ms {over_100ms} over_1s {over_1s} worst_at_s {:.1}",
        worst.as_millis(),
        worst_at.as_secs_f64()
    );
    ExitCode::SUCCESS
}
