//! `burst_shift GOOD_SECONDS BAD_SECONDS [MARK_FILE]`: a task that turns from
//! latency-critical to CPU-hungry, for the wakeup fast path's guest case
//! (`tests/vm/scx_relay_fast_path.sh`). For GOOD_SECONDS it sleeps 10 ms
//! and then works 1 ms of its thread's CPU time, over and over: the
//! statistics the dispatcher publishes make it latency-critical, and the
//! policy grants it the fast path. Then, for BAD_SECONDS, it sleeps 10 ms
//! and works 30 ms: each burst overruns any budget a 1 ms average earns
//! (four times the average, at least 2 ms), and the dispatcher must revoke the
//! grant.
//!
//! With MARK_FILE, between the phases it sleeps 10 ms (so that the good
//! phase's last burst has stopped), creates that file and goes on sleeping
//! 10 ms at a time, with no work (still latency-critical), until the file
//! is gone (an error after 60 s): the caller reads its counters there, so
//! that it can tell the bad phase's overruns from the good phase's
//! outliers. Those wakeups count as good ones, and as `hold_wakeups`.
//!
//! Prints one line, `burst_shift: good_wakeups G bad_wakeups B hold_wakeups
//! H cpu_ms C` (the wakeups of each phase, those of the hold, and the CPU
//! time it used), and exits 0.
use nix::time::{clock_gettime, ClockId};
use std::{
    path::Path,
    process::ExitCode,
    time::{Duration, Instant},
};

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

/// Sleeps 10 ms, creates `mark`, then sleeps 10 ms at a time until it is
/// gone (an error after 60 s); the wakeups.
fn hold_at_mark(mark: &Path) -> Result<u64, String> {
    std::thread::sleep(Duration::from_millis(10));
    let mut wakeups = 1;
    std::fs::write(mark, b"").map_err(|e| format!("cannot create {}: {e}", mark.display()))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while mark.exists() {
        if Instant::now() >= deadline {
            return Err(format!("{} was not removed within 60 s", mark.display()));
        }
        std::thread::sleep(Duration::from_millis(10));
        wakeups += 1;
    }
    Ok(wakeups)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let secs = argv.iter().take(2).map(|a| a.parse::<u64>()).collect::<Result<Vec<_>, _>>();
    let (good_secs, bad_secs) = match secs.as_deref() {
        Ok([g, b]) if argv.len() <= 3 && [g, b].iter().all(|s| (1..=3600).contains(*s)) => (*g, *b),
        _ => {
            eprintln!("usage: burst_shift GOOD_SECONDS BAD_SECONDS [MARK_FILE] (seconds 1..=3600 each)");
            return ExitCode::from(2);
        }
    };
    let mark = argv.get(2).map(Path::new);
    let clock = |e: nix::Error| format!("a clock call failed: {e}");
    let run = || -> Result<String, String> {
        let mut good = phase(good_secs, 1).map_err(clock)?;
        let hold = match mark {
            Some(mark) => hold_at_mark(mark)?,
            None => 0,
        };
        good += hold;
        let bad = phase(bad_secs, 30).map_err(clock)?;
        let cpu_ms = now_ns(ClockId::CLOCK_THREAD_CPUTIME_ID).map_err(clock)? / 1_000_000;
        Ok(format!("burst_shift: good_wakeups {good} bad_wakeups {bad} hold_wakeups {hold} cpu_ms {cpu_ms}"))
    };
    match run() {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("burst_shift: {e}");
            ExitCode::FAILURE
        }
    }
}
