//! `run_ext COMMAND [ARGS...]`: run COMMAND under the SCHED_EXT policy
//! (sched_setscheduler policy 7), which its children inherit. The guest's
//! `chrt` (util-linux) knows no SCHED_EXT; the `--partial` guest cases need it, since in
//! partial mode sched_ext schedules only tasks that opt in. Exits 2 with a
//! message if the policy cannot be set, else becomes COMMAND (exec).
use std::{os::unix::process::CommandExt, process::ExitCode};

/// SCHED_EXT, the sched_setscheduler() policy of sched_ext tasks.
const SCHED_EXT: libc::c_int = 7;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((program, rest)) = args.split_first() else {
        eprintln!("usage: run_ext COMMAND [ARGS...]");
        return ExitCode::from(2);
    };
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid sched_param; pid 0 is this thread.
    if unsafe { libc::sched_setscheduler(0, SCHED_EXT, &param) } != 0 {
        eprintln!("run_ext: cannot set SCHED_EXT: {}", std::io::Error::last_os_error());
        return ExitCode::from(2);
    }
    let err = std::process::Command::new(program).args(rest).exec();
    eprintln!("run_ext: cannot run {program}: {err}");
    ExitCode::from(2)
}
