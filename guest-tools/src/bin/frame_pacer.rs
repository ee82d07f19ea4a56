//! `frame_pacer SECONDS [FPS [WORK_MS]]`: a game's frame loop. For SECONDS,
//! at FPS frames a second (default 60), each frame starts on its vsync (a
//! slot boundary, `CLOCK_MONOTONIC`, slept to with an absolute deadline)
//! and does WORK_MS (default 4) of CPU work, counted in this thread's CPU
//! time, so that every scheduler is given the same work whatever it
//! preempts. A frame is due at the next vsync. One that finishes later
//! misses that vsync and every later one it overruns (the display shows the
//! old frame again), and the next frame starts on the first vsync after it
//! finished, as a vsync-locked game does.
//!
//! Prints one line, `frame_pacer: slots S frames F missed M p50_ms A
//! p99_ms B max_ms C` (S: the vsyncs of the run; F: frames made; M: vsyncs
//! missed; A, B, C: frame time, from the frame's vsync to its end, at the
//! 50th and 99th percentile and the worst), and exits 0. A frame's lateness
//! is its frame time less the period, so the frame-time percentiles order
//! schedulers as lateness does and, unlike lateness, are positive: their
//! ratios mean something.
use nix::{
    sys::time::TimeSpec,
    time::{clock_gettime, clock_nanosleep, ClockId, ClockNanosleepFlags},
};
use std::process::ExitCode;

/// Nanoseconds of `clock` now.
fn now_ns(clock: ClockId) -> nix::Result<u64> {
    let t = clock_gettime(clock)?;
    Ok(t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
}

/// Sleeps until `CLOCK_MONOTONIC` reads `ns` (again after a signal's EINTR).
fn sleep_until(ns: u64) -> nix::Result<()> {
    let at = TimeSpec::new((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as i64);
    while now_ns(ClockId::CLOCK_MONOTONIC)? < ns {
        match clock_nanosleep(ClockId::CLOCK_MONOTONIC, ClockNanosleepFlags::TIMER_ABSTIME, &at) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Burns `ns` of this thread's CPU time.
fn work(ns: u64) -> nix::Result<()> {
    let start = now_ns(ClockId::CLOCK_THREAD_CPUTIME_ID)?;
    while now_ns(ClockId::CLOCK_THREAD_CPUTIME_ID)? - start < ns {
        std::hint::spin_loop();
    }
    Ok(())
}

/// Frame `slot`'s end at `end_ns` (both from the run's start, ns): the
/// vsyncs it missed, and the slot the next frame starts on (the first
/// vsync at or after the end).
fn after_frame(slot: u64, end_ns: u64, period_ns: u64) -> (u64, u64) {
    let next = end_ns.div_ceil(period_ns).max(slot + 1);
    (next - (slot + 1), next)
}

/// The `p`-th percentile (0..=100, nearest rank) of sorted `values`.
fn percentile(sorted: &[u64], p: u64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as u64).div_ceil(100).max(1);
    sorted[(rank - 1) as usize]
}

fn main() -> ExitCode {
    let args = match std::env::args().skip(1).map(|a| a.parse::<u64>()).collect::<Result<Vec<_>, _>>() {
        Ok(args) if (1..=3).contains(&args.len()) => args,
        _ => {
            eprintln!("usage: frame_pacer SECONDS [FPS [WORK_MS]]");
            return ExitCode::from(2);
        }
    };
    let (secs, fps, work_ms) = (args[0], args.get(1).copied().unwrap_or(60), args.get(2).copied().unwrap_or(4));
    if secs == 0 || fps == 0 || work_ms * fps >= 1000 {
        eprintln!("frame_pacer: SECONDS and FPS must be at least 1, and WORK_MS shorter than a frame");
        return ExitCode::from(2);
    }
    match run(secs, fps, work_ms) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("frame_pacer: a clock call failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The frame loop; its result line.
fn run(secs: u64, fps: u64, work_ms: u64) -> nix::Result<String> {
    let period_ns = 1_000_000_000 / fps;
    let slots = secs * fps;
    let start = now_ns(ClockId::CLOCK_MONOTONIC)? + period_ns;
    let mut frame_times = Vec::with_capacity(slots as usize);
    let (mut missed, mut slot) = (0u64, 0u64);
    while slot < slots {
        let vsync = start + slot * period_ns;
        sleep_until(vsync)?;
        work(work_ms * 1_000_000)?;
        let end = now_ns(ClockId::CLOCK_MONOTONIC)?;
        frame_times.push(end.saturating_sub(vsync));
        let (m, next) = after_frame(slot, end.saturating_sub(start), period_ns);
        // Vsyncs past the run's end are not the run's.
        missed += m.min(slots - (slot + 1));
        slot = next;
    }
    frame_times.sort_unstable();
    let ms = |ns: u64| ns as f64 / 1e6;
    Ok(format!(
        "frame_pacer: slots {slots} frames {} missed {missed} p50_ms {:.3} p99_ms {:.3} max_ms {:.3}",
        frame_times.len(),
        ms(percentile(&frame_times, 50)),
        ms(percentile(&frame_times, 99)),
        ms(frame_times.last().copied().unwrap_or(0)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame done before its vsync misses nothing; one that overruns
    /// misses each vsync it overran, and the next starts on the first
    /// vsync after its end.
    #[test]
    fn missed_vsyncs() {
        let p = 16;
        // Slot 0 runs from 0; due at 16.
        assert_eq!(after_frame(0, 5, p), (0, 1));
        assert_eq!(after_frame(0, 16, p), (0, 1), "done on the vsync itself");
        assert_eq!(after_frame(0, 17, p), (1, 2), "missed the vsync at 16");
        assert_eq!(after_frame(0, 40, p), (2, 3), "missed 16 and 32");
        // Slot 3 runs from 48; due at 64.
        assert_eq!(after_frame(3, 50, p), (0, 4));
        assert_eq!(after_frame(3, 65, p), (1, 5));
    }

    /// Nearest-rank percentiles.
    #[test]
    fn percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), 50);
        assert_eq!(percentile(&v, 99), 99);
        assert_eq!(percentile(&v, 100), 100);
        assert_eq!(percentile(&[7], 99), 7);
        assert_eq!(percentile(&[], 99), 0);
    }
}
