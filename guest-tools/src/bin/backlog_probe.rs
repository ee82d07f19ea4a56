//! `backlog_probe CHILDREN SECONDS [CPU]`: forks CHILDREN CPU-bound
//! processes named `starved` (the test policy `starve` keys them behind
//! every other task, so only the dispatcher's aging runs them), all forked
//! on CPU if given (the parent pins itself there; each child allows every
//! CPU again at once, so the kernel has them all on that CPU until they
//! move), each busy-looping for SECONDS while measuring the longest time it was off a
//! CPU (the largest gap between two reads of CLOCK_MONOTONIC): how long an
//! overdue task waited for aging. Prints one line,
//! `backlog_probe: children N gap_max_ms M over_1s A over_3s B`
//! (A, B: children whose longest gap exceeded 1 s, 3 s), and exits 0 if
//! every child reported.
use nix::{
    sched::{sched_setaffinity, CpuSet},
    sys::{prctl::set_name, wait::wait},
    unistd::{fork, pipe, sysconf, ForkResult, Pid, SysconfVar},
};
use std::{
    ffi::CStr,
    fs::File,
    io::{Read, Write},
    os::fd::OwnedFd,
    process::ExitCode,
    time::{Duration, Instant},
};

/// The command name the children take (`starve`'s prefix).
const NAME: &CStr = c"starved";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(children), Some(secs)) =
        (args.first().and_then(|s| s.parse::<u32>().ok()), args.get(1).and_then(|s| s.parse::<u64>().ok()))
    else {
        eprintln!("usage: backlog_probe CHILDREN SECONDS [CPU]");
        return ExitCode::from(2);
    };
    let start_cpu = args.get(2).and_then(|s| s.parse::<usize>().ok());
    let (read_end, write_end) = match pipe() {
        Ok(ends) => ends,
        Err(errno) => {
            eprintln!("backlog_probe: pipe: {}", std::io::Error::from(errno));
            return ExitCode::FAILURE;
        }
    };
    if let Some(cpu) = start_cpu {
        set_affinity(Some(cpu));
    }
    let mut started = 0;
    for _ in 0..children {
        // SAFETY: the parent is single-threaded (no lock can be held by a
        // thread that does not exist in the child); the child only runs
        // `child`, which never returns.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                // The child does not read.
                drop(read_end);
                child(write_end, start_cpu.is_some(), Duration::from_secs(secs));
            }
            Err(errno) => {
                eprintln!("backlog_probe: fork: {}", std::io::Error::from(errno));
                break;
            }
            Ok(ForkResult::Parent { .. }) => started += 1,
        }
    }
    // The parent keeps only the read end: EOF once every child is done.
    drop(write_end);
    let mut reader = File::from(read_end);
    let mut bytes = Vec::new();
    let _ = reader.read_to_end(&mut bytes);
    for _ in 0..started {
        // Reaps any child.
        let _ = wait();
    }
    let gaps: Vec<u64> = bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect();
    let max_ms = gaps.iter().max().copied().unwrap_or(0) / 1000;
    let over = |ms: u64| gaps.iter().filter(|&&g| g > ms * 1000).count();
    println!(
        "backlog_probe: children {} gap_max_ms {max_ms} over_1s {} over_3s {}",
        gaps.len(),
        over(1000),
        over(3000)
    );
    if gaps.len() == children as usize {
        ExitCode::SUCCESS
    } else {
        eprintln!("backlog_probe: {} of {children} children reported", gaps.len());
        ExitCode::FAILURE
    }
}

/// One child: name itself, allow every CPU again if the parent was
/// pinned, spin for `run` measuring its longest gap, write it (µs, 8 bytes
/// LE) to `out`, exit.
fn child(out: OwnedFd, unpin: bool, run: Duration) -> ! {
    let _ = set_name(NAME);
    if unpin {
        set_affinity(None);
    }
    let start = Instant::now();
    let mut last = start;
    let mut worst = Duration::ZERO;
    while last.duration_since(start) < run {
        let now = Instant::now();
        worst = worst.max(now.duration_since(last));
        last = now;
    }
    let micros = u64::try_from(worst.as_micros()).unwrap_or(u64::MAX);
    let mut w = File::from(out);
    // An 8-byte write to a pipe is atomic (under PIPE_BUF).
    let code = if w.write_all(&micros.to_le_bytes()).is_ok() { 0 } else { 1 };
    // SAFETY: _exit(2) takes no pointer and does not return: nothing of
    // this process runs after it. Skipping atexit handlers and destructors
    // is the point: what the child copied from the parent is the parent's
    // to clean up.
    unsafe { libc::_exit(code) }
}

/// Pins the calling process to `cpu`, or allows every CPU (None).
fn set_affinity(cpu: Option<usize>) {
    let mut set = CpuSet::new();
    let n = sysconf(SysconfVar::_NPROCESSORS_CONF).ok().flatten().and_then(|n| usize::try_from(n).ok()).unwrap_or(1);
    // A CPU past CpuSet::count() (CPU_SETSIZE) cannot be set; it is left out.
    match cpu {
        Some(c) => {
            let _ = set.set(c);
        }
        None => (0..n).for_each(|c| {
            let _ = set.set(c);
        }),
    }
    let _ = sched_setaffinity(Pid::from_raw(0), &set);
}
