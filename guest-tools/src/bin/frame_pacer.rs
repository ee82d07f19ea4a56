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
//! Prints three lines and exits 0. First `frame_pacer: slots S frames F
//! missed M p50_ms A p99_ms B max_ms C` (S: the vsyncs of the run; F:
//! frames made; M: vsyncs missed; A, B, C: frame time, from the frame's
//! vsync to its end, at the 50th and 99th percentile and the worst). A
//! frame's lateness is its frame time less the period, so the frame-time
//! percentiles order schedulers as lateness does and, unlike lateness, are
//! positive: their ratios mean something.
//!
//! Then the profile of the worst frames (those at or above the 99th
//! percentile): `frame_pacer_worst: frames K wall_ms W cpu_ms C wait_ms R
//! other_ms O runs N`, the mean per frame of its frame time, the CPU time
//! it ran (this thread's CPU clock), the time it waited runnable for a CPU
//! (the kernel's `run_delay`), the rest (the frame time less those two, at
//! least 0: time the thread was neither running nor waiting by the
//! kernel's count, mostly from the vsync to the timer's wakeup; a guest's
//! vCPU that did not run counts as run or wait for a runnable thread), and
//! the runs it took (`pcount`). Each is read after the frame's end, so a
//! frame's interval starts at the end of the one before it and holds its
//! sleep: a wait before that sleep counts too, which can make the wait
//! longer than the frame time (the rest is then 0). Without
//! `/proc/thread-self/schedstat` (a kernel without `CONFIG_SCHED_INFO`) the
//! line is `frame_pacer_worst: unavailable`. The last line lists those
//! frames one by one: `frame_pacer_worst_each: AT:WALL/CPU/WAIT/RUNS ...`
//! (the frame's vsync from the run's start and its frame time, CPU time
//! and wait, ms; its runs).
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

/// `/proc/thread-self/schedstat`: CPU time run, time waited runnable (ns),
/// runs. Its CPU time leaves out the current run's share not yet accounted
/// (`sum_exec_runtime`), so a frame's CPU time is taken from the thread's
/// CPU clock instead ([`Sample`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct SchedStat {
    run_ns: u64,
    wait_ns: u64,
    runs: u64,
}

impl SchedStat {
    /// This thread's, or `None` when the kernel does not keep it.
    fn now() -> Option<Self> {
        Self::parse(&std::fs::read_to_string("/proc/thread-self/schedstat").ok()?)
    }

    fn parse(text: &str) -> Option<Self> {
        let mut f = text.split_whitespace().map(str::parse::<u64>);
        Some(Self { run_ns: f.next()?.ok()?, wait_ns: f.next()?.ok()?, runs: f.next()?.ok()? })
    }
}

/// The thread's CPU clock and schedstat at one moment.
struct Sample {
    cpu_ns: u64,
    sched: Option<SchedStat>,
}

impl Sample {
    fn now() -> nix::Result<Self> {
        Ok(Self { cpu_ns: now_ns(ClockId::CLOCK_THREAD_CPUTIME_ID)?, sched: SchedStat::now() })
    }

    /// What moved from `self` to `later`: CPU time by the clock, wait and
    /// runs by schedstat (`None` without it).
    fn until(&self, later: &Sample) -> Option<SchedStat> {
        let (b, a) = (self.sched?, later.sched?);
        Some(SchedStat {
            run_ns: later.cpu_ns.saturating_sub(self.cpu_ns),
            wait_ns: a.wait_ns.saturating_sub(b.wait_ns),
            runs: a.runs.saturating_sub(b.runs),
        })
    }
}

/// One frame: its vsync (ns from the run's start), its frame time, and
/// what its thread's CPU clock and schedstat moved by since the end of the
/// frame before it (the run's start for the first).
#[derive(Clone, Copy, Debug, Default)]
struct Frame {
    vsync_ns: u64,
    time_ns: u64,
    sched: Option<SchedStat>,
}

/// The `frame_pacer_worst_each` line: each frame at or above `p99_ns`, in
/// the run's order, as `AT:WALL/CPU/WAIT/RUNS` (its vsync from the run's
/// start, its frame time, CPU time run and time waited runnable, all ms).
fn worst_each_line(frames: &[Frame], p99_ns: u64) -> String {
    let ms = |ns: u64| ns as f64 / 1e6;
    let each: Vec<String> = frames
        .iter()
        .filter(|f| f.time_ns >= p99_ns)
        .map(|f| {
            let s = f.sched.unwrap_or_default();
            format!("{:.0}:{:.1}/{:.1}/{:.1}/{}", ms(f.vsync_ns), ms(f.time_ns), ms(s.run_ns), ms(s.wait_ns), s.runs)
        })
        .collect();
    format!("frame_pacer_worst_each: {}", each.join(" "))
}

/// The `frame_pacer_worst` line over `frames` (any order): the mean profile
/// of the frames whose time is at or above `p99_ns`.
fn worst_line(frames: &[Frame], p99_ns: u64) -> String {
    let worst: Vec<&Frame> = frames.iter().filter(|f| f.time_ns >= p99_ns).collect();
    let Some(sched) = worst.iter().map(|f| f.sched).collect::<Option<Vec<SchedStat>>>() else {
        return "frame_pacer_worst: unavailable".to_string();
    };
    if worst.is_empty() {
        return "frame_pacer_worst: unavailable".to_string();
    }
    let n = worst.len() as f64;
    let mean_ms = |total: u64| total as f64 / n / 1e6;
    let wall: u64 = worst.iter().map(|f| f.time_ns).sum();
    let cpu: u64 = sched.iter().map(|s| s.run_ns).sum();
    let wait: u64 = sched.iter().map(|s| s.wait_ns).sum();
    let other: u64 = worst.iter().zip(&sched).map(|(f, s)| f.time_ns.saturating_sub(s.run_ns + s.wait_ns)).sum();
    let runs: u64 = sched.iter().map(|s| s.runs).sum();
    format!(
        "frame_pacer_worst: frames {} wall_ms {:.3} cpu_ms {:.3} wait_ms {:.3} other_ms {:.3} runs {:.1}",
        worst.len(),
        mean_ms(wall),
        mean_ms(cpu),
        mean_ms(wait),
        mean_ms(other),
        runs as f64 / n,
    )
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
        Ok(lines) => {
            println!("{lines}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("frame_pacer: a clock call failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The frame loop; its three result lines.
fn run(secs: u64, fps: u64, work_ms: u64) -> nix::Result<String> {
    let period_ns = 1_000_000_000 / fps;
    let slots = secs * fps;
    let start = now_ns(ClockId::CLOCK_MONOTONIC)? + period_ns;
    let mut frames = Vec::with_capacity(slots as usize);
    let (mut missed, mut slot) = (0u64, 0u64);
    let mut before = Sample::now()?;
    while slot < slots {
        let vsync = start + slot * period_ns;
        sleep_until(vsync)?;
        work(work_ms * 1_000_000)?;
        let end = now_ns(ClockId::CLOCK_MONOTONIC)?;
        let after = Sample::now()?;
        let sched = before.until(&after);
        before = after;
        frames.push(Frame { vsync_ns: vsync - start, time_ns: end.saturating_sub(vsync), sched });
        let (m, next) = after_frame(slot, end.saturating_sub(start), period_ns);
        // Vsyncs past the run's end are not the run's.
        missed += m.min(slots - (slot + 1));
        slot = next;
    }
    let mut frame_times: Vec<u64> = frames.iter().map(|f| f.time_ns).collect();
    frame_times.sort_unstable();
    let ms = |ns: u64| ns as f64 / 1e6;
    let p99 = percentile(&frame_times, 99);
    Ok(format!(
        "frame_pacer: slots {slots} frames {} missed {missed} p50_ms {:.3} p99_ms {:.3} max_ms {:.3}\n{}\n{}",
        frame_times.len(),
        ms(percentile(&frame_times, 50)),
        ms(p99),
        ms(frame_times.last().copied().unwrap_or(0)),
        worst_line(&frames, p99),
        worst_each_line(&frames, p99),
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

    /// The schedstat line's three fields; anything else is `None`.
    #[test]
    fn schedstat_parses() {
        assert_eq!(SchedStat::parse("123 456 7\n"), Some(SchedStat { run_ns: 123, wait_ns: 456, runs: 7 }));
        assert_eq!(SchedStat::parse("123 456"), None);
        assert_eq!(SchedStat::parse("x 1 2"), None);
    }

    /// A frame's CPU time is the thread's clock's; wait and runs are
    /// schedstat's; no schedstat, no profile.
    #[test]
    fn samples_subtract() {
        let at = |cpu_ns, run_ns, wait_ns, runs| Sample { cpu_ns, sched: Some(SchedStat { run_ns, wait_ns, runs }) };
        assert_eq!(
            at(10, 0, 100, 3).until(&at(15, 99, 130, 5)),
            Some(SchedStat { run_ns: 5, wait_ns: 30, runs: 2 }),
            "the clock's 5 ns, not schedstat's 99"
        );
        assert_eq!(Sample { cpu_ns: 0, sched: None }.until(&at(1, 1, 1, 1)), None);
    }

    /// The worst frames' profile is the mean over the frames at or above
    /// the 99th percentile, and the rest is frame time less run and wait.
    #[test]
    fn worst_frames_profile() {
        let ms = 1_000_000;
        let frame = |time, run, wait, runs| Frame {
            vsync_ns: 0,
            time_ns: time * ms,
            sched: Some(SchedStat { run_ns: run * ms, wait_ns: wait * ms, runs }),
        };
        let mut frames = vec![frame(5, 4, 0, 1); 98];
        frames.push(frame(100, 4, 90, 3));
        frames.push(frame(60, 4, 20, 5));
        assert_eq!(
            worst_line(&frames, 60 * ms),
            "frame_pacer_worst: frames 2 wall_ms 80.000 cpu_ms 4.000 wait_ms 55.000 other_ms 21.000 runs 4.0"
        );
        // A wait before the frame's sleep can exceed its frame time: the rest is 0.
        let mut clamped = frames.clone();
        clamped[98] = frame(100, 4, 110, 2);
        assert!(
            worst_line(&clamped, 60 * ms).contains(" wait_ms 65.000 other_ms 18.000 "),
            "{}",
            worst_line(&clamped, 60 * ms)
        );
        frames[98].vsync_ns = 1630 * ms;
        assert_eq!(
            worst_each_line(&frames, 60 * ms),
            "frame_pacer_worst_each: 1630:100.0/4.0/90.0/3 0:60.0/4.0/20.0/5"
        );
        frames[99].sched = None;
        assert_eq!(worst_line(&frames, 60 * ms), "frame_pacer_worst: unavailable");
        assert_eq!(worst_line(&[], 0), "frame_pacer_worst: unavailable");
    }
}
