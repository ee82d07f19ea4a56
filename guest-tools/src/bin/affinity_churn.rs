//! `affinity_churn PREFIX SECONDS PERIOD_MS`: for SECONDS, every PERIOD_MS,
//! pin every thread whose command name starts with PREFIX to one CPU, the
//! next CPU each round (as `stress-ng --affinity-pin` pins its workers, but
//! applied from outside, so tasks are re-pinned while they wait and not
//! only when they run). Each re-pin of a waiting task makes the kernel
//! dequeue it and enqueue it again (`__set_cpus_allowed_ptr`), which
//! restarts nothing in the sched_ext watchdog's clock. Prints the number of
//! re-pins and exits 0.
use nix::{
    sched::{sched_setaffinity, CpuSet},
    unistd::Pid,
};
use std::{
    fs,
    process::ExitCode,
    thread,
    time::{Duration, Instant},
};

/// The thread ids under /proc whose `comm` starts with `prefix`.
fn threads_named(prefix: &str) -> Vec<libc::pid_t> {
    let mut tids = Vec::new();
    let Ok(procs) = fs::read_dir("/proc") else { return tids };
    for proc_entry in procs.flatten() {
        let Ok(tasks) = fs::read_dir(proc_entry.path().join("task")) else { continue };
        for task in tasks.flatten() {
            let Some(tid) = task.file_name().to_str().and_then(|s| s.parse().ok()) else { continue };
            if fs::read_to_string(task.path().join("comm")).is_ok_and(|c| c.starts_with(prefix)) {
                tids.push(tid);
            }
        }
    }
    tids
}

/// Pin `tid` to `cpu` alone; false if the kernel refused (the thread exited).
fn pin(tid: libc::pid_t, cpu: usize) -> bool {
    let mut set = CpuSet::new();
    // cpu < CpuSet::count(): main takes the CPU count modulo at most that.
    set.set(cpu).is_ok() && sched_setaffinity(Pid::from_raw(tid), &set).is_ok()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(prefix), Some(Ok(seconds)), Some(Ok(period_ms))) =
        (args.get(1), args.get(2).map(|s| s.parse::<u64>()), args.get(3).map(|s| s.parse::<u64>()))
    else {
        eprintln!("usage: affinity_churn PREFIX SECONDS PERIOD_MS");
        return ExitCode::from(2);
    };
    let nr_cpus = thread::available_parallelism().map_or(1, |n| n.get()).min(CpuSet::count());
    let end = Instant::now() + Duration::from_secs(seconds);
    let (mut cpu, mut repins, mut rounds) = (0, 0u64, 0u64);
    let mut tids = Vec::new();
    while Instant::now() < end {
        // Look for new threads every 20 rounds: /proc walks are not free.
        if rounds % 20 == 0 {
            tids = threads_named(prefix);
        }
        cpu = (cpu + 1) % nr_cpus;
        repins += tids.iter().filter(|&&tid| pin(tid, cpu)).count() as u64;
        rounds += 1;
        thread::sleep(Duration::from_millis(period_ms));
    }
    println!("affinity_churn: {repins} re-pins of threads named {prefix}* in {rounds} rounds");
    ExitCode::SUCCESS
}
