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
use std::{
    io::{Read, Write},
    os::fd::FromRawFd,
    process::ExitCode,
    time::{Duration, Instant},
};

/// The command name the children take (`starve`'s prefix).
const NAME: &[u8] = b"starved\0";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(children), Some(secs)) =
        (args.first().and_then(|s| s.parse::<u32>().ok()), args.get(1).and_then(|s| s.parse::<u64>().ok()))
    else {
        eprintln!("usage: backlog_probe CHILDREN SECONDS [CPU]");
        return ExitCode::from(2);
    };
    let start_cpu = args.get(2).and_then(|s| s.parse::<usize>().ok());
    let mut fds = [0; 2];
    // SAFETY: a pipe into a two-int array.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        eprintln!("backlog_probe: pipe: {}", std::io::Error::last_os_error());
        return ExitCode::FAILURE;
    }
    if let Some(cpu) = start_cpu {
        set_affinity(Some(cpu));
    }
    let mut started = 0;
    for _ in 0..children {
        // SAFETY: the parent is single-threaded; the child only runs
        // `child` and exits.
        match unsafe { libc::fork() } {
            0 => {
                // SAFETY: fds[0] is the read end, not used by the child.
                unsafe { libc::close(fds[0]) };
                child(fds[1], start_cpu.is_some(), Duration::from_secs(secs));
            }
            -1 => {
                eprintln!("backlog_probe: fork: {}", std::io::Error::last_os_error());
                break;
            }
            _ => started += 1,
        }
    }
    // SAFETY: the parent keeps only the read end.
    unsafe { libc::close(fds[1]) };
    // SAFETY: fds[0] is an open descriptor this process owns from now on.
    let mut reader = unsafe { std::fs::File::from_raw_fd(fds[0]) };
    let mut bytes = Vec::new();
    let _ = reader.read_to_end(&mut bytes);
    for _ in 0..started {
        // SAFETY: reaps any child; a null status pointer is allowed.
        unsafe { libc::wait(std::ptr::null_mut()) };
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
fn child(out: i32, unpin: bool, run: Duration) -> ! {
    // SAFETY: NAME is NUL-terminated and outlives the call.
    unsafe { libc::prctl(libc::PR_SET_NAME, NAME.as_ptr()) };
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
    // SAFETY: `out` is the pipe's write end this child owns.
    let mut w = unsafe { std::fs::File::from_raw_fd(out) };
    // An 8-byte write to a pipe is atomic (under PIPE_BUF).
    let code = if w.write_all(&micros.to_le_bytes()).is_ok() { 0 } else { 1 };
    // SAFETY: ends the child without running the parent's exit handlers.
    unsafe { libc::_exit(code) }
}

/// Pins the calling process to `cpu`, or allows every CPU (None).
fn set_affinity(cpu: Option<usize>) {
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET writes within it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let n = usize::try_from(libc::sysconf(libc::_SC_NPROCESSORS_CONF)).unwrap_or(1);
        match cpu {
            Some(c) => libc::CPU_SET(c, &mut set),
            None => (0..n).for_each(|c| libc::CPU_SET(c, &mut set)),
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}
