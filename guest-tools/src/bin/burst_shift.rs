//! `burst_shift GOOD_SECONDS BAD_SECONDS`: a task that turns from
//! latency-critical to CPU-hungry, for the wakeup fast path's guest case
//! (`tests/vm/scx_relay_fast_path.sh`). For GOOD_SECONDS it sleeps 10 ms
//! and then works 1 ms of its thread's CPU time, over and over: the
//! statistics the dispatcher publishes make it latency-critical, and the
//! policy grants it the fast path. Then, for BAD_SECONDS, it sleeps 10 ms
//! and works 30 ms: each burst overruns any budget a 1 ms average earns
//! (four times the average, at least 2 ms), and the dispatcher must revoke the
//! grant.
//!
//! Prints one line, `burst_shift: good_wakeups G bad_wakeups B cpu_ms C`
//! (the wakeups of each phase, and the CPU time it used), and exits 0.
use nix::time::{clock_gettime, ClockId};
use std::{process::ExitCode, time::Duration};

/// Nanoseconds of `clock` now.
fn now_ns(clock: ClockId) -> nix::Result<u64> {
    let t = clock_gettime(clock)?;
    Ok(t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
}

/// Burns `ns` of this thread's CPU time.
fn work(ns: u64) -> nix::Result<()> {
    let start = now_ns(ClockId::CLOCK_THREAD_CPUTIME_ID)?;
    while now_ns(ClockId::CLOCK_THREAD_CPUTIME_ID)? - start < ns {
        std::hint::spin_loop();
    }
    Ok(())
}

/// For `secs`, sleep 10 ms then work `work_ms`; the wakeups.
fn phase(secs: u64, work_ms: u64) -> nix::Result<u64> {
    let end = now_ns(ClockId::CLOCK_MONOTONIC)? + secs * 1_000_000_000;
    let mut wakeups = 0;
    while now_ns(ClockId::CLOCK_MONOTONIC)? < end {
        std::thread::sleep(Duration::from_millis(10));
        wakeups += 1;
        work(work_ms * 1_000_000)?;
    }
    Ok(wakeups)
}

fn main() -> ExitCode {
    let args = match std::env::args().skip(1).map(|a| a.parse::<u64>()).collect::<Result<Vec<_>, _>>() {
        Ok(args) if args.len() == 2 && args.iter().all(|&s| (1..=3600).contains(&s)) => args,
        _ => {
            eprintln!("usage: burst_shift GOOD_SECONDS BAD_SECONDS (1..=3600 each)");
            return ExitCode::from(2);
        }
    };
    let run = || -> nix::Result<String> {
        let good = phase(args[0], 1)?;
        let bad = phase(args[1], 30)?;
        let cpu_ms = now_ns(ClockId::CLOCK_THREAD_CPUTIME_ID)? / 1_000_000;
        Ok(format!("burst_shift: good_wakeups {good} bad_wakeups {bad} cpu_ms {cpu_ms}"))
    };
    match run() {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("burst_shift: a clock call failed: {e}");
            ExitCode::FAILURE
        }
    }
}
