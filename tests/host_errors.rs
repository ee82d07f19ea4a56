//! The scx_relay binary on this host (no sched_ext, maybe not root): every
//! failure is one line on stderr and a non-zero exit, never a panic.
#![allow(clippy::expect_used)]

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    command(args).output().expect("the binary runs")
}

/// The binary with `args`, outside journald whatever runs the tests.
fn command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_scx_relay"));
    c.args(args).env_remove("JOURNAL_STREAM");
    c
}

/// A log line without its leading time (`2026-12-03T11:52:01.345Z `),
/// which must be there and well formed.
fn unstamped(line: &str) -> &str {
    let (time, rest) = line.split_once(' ').unwrap_or_default();
    let b = time.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.into_iter().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    assert!(
        b.len() == 24
            && digits(0..4)
            && digits(5..7)
            && digits(8..10)
            && digits(11..13)
            && digits(14..16)
            && digits(17..19)
            && digits(20..23)
            && &time[4..5] == "-"
            && &time[10..11] == "T"
            && &time[19..20] == "."
            && time.ends_with('Z'),
        "no UTC time first: {line:?}"
    );
    rest
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr).lines().map(str::to_owned).collect()
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

const NO_SCHED_EXT: &str =
    "scx_relay: this kernel has no sched_ext (CONFIG_SCHED_CLASS_EXT); run it in the guest: cargo xtask run";

/// Without sched_ext the binary says so in one line (naming the kernel option
/// and the guest command) and exits 1; as non-root on a sched_ext kernel it
/// asks for root instead.
#[test]
fn no_sched_ext_is_one_line_error() {
    let out = run(&[]);
    let lines = stderr_lines(&out);
    assert_eq!(out.status.code(), Some(1), "stderr: {lines:?}");
    assert_eq!(lines.len(), 1, "stderr: {lines:?}");
    let has_sched_ext = std::path::Path::new("/sys/kernel/sched_ext").is_dir();
    if !has_sched_ext {
        assert_eq!(unstamped(&lines[0]), NO_SCHED_EXT);
    } else if !is_root() {
        assert!(lines[0].contains("needs root"), "{lines:?}");
    }
    assert!(out.stdout.is_empty());
}

/// Out-of-range option values exit 2 with one line naming the option,
/// before anything touches the kernel.
#[test]
fn out_of_range_options_exit_2() {
    for (args, flag) in [
        (&["--stall-timeout-ms", "0"][..], "--stall-timeout-ms"),
        (&["--stall-timeout-ms", "5000"][..], "--stall-timeout-ms"),
        (&["--slice-us", "0"][..], "--slice-us"),
        (&["--slice-us", "200", "--slice-min-us", "300"][..], "--slice-min-us"),
        (&["--stats", "0"][..], "--stats"),
        (&["--policy", "nope"][..], "unknown policy 'nope'"),
    ] {
        let out = run(args);
        let lines = stderr_lines(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {lines:?}");
        assert_eq!(lines.len(), 1, "{args:?}: {lines:?}");
        assert!(lines[0].starts_with("scx_relay: ") && lines[0].contains(flag), "{args:?}: {lines:?}");
    }
}

/// A value that is not a number is a usage error (exit 2), not a panic.
#[test]
fn malformed_option_is_usage_error() {
    let out = run(&["--slice-us", "lots"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.lines().next().unwrap_or("").contains("--slice-us"), "{err}");
    assert!(!err.contains("panicked"));
}

/// `--help-stats` lists each metric (those of the `--stats` line) with a
/// description, and exits 0 without touching the kernel.
#[test]
fn help_stats_lists_every_metric() {
    let out = run(&["--help-stats"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {:?}", stderr_lines(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.lines().filter(|l| l.starts_with("  ")).collect();
    for name in ["queued", "dispatched_user", "stalled", "page_faults", "loop_allocs", "usersched_kicked", "cpu_ns"] {
        assert!(fields.iter().any(|l| l.split_whitespace().next() == Some(name)), "{name} missing: {text}");
    }
    assert_eq!(fields.len(), 60, "{text}");
    for line in fields {
        let (_, desc) = line.split_once(" : ").unwrap_or_else(|| panic!("no description: {line}"));
        assert!(!desc.trim().is_empty(), "{line}");
    }
}

/// `--monitor` with nothing serving the scx_stats socket: one line, exit 1
/// (skipped where a scheduler serves it on this machine).
#[test]
fn monitor_without_a_server_is_one_line_error() {
    if std::os::unix::net::UnixStream::connect("/var/run/scx/root/stats").is_ok() {
        eprintln!("skipped: something serves /var/run/scx/root/stats here");
        return;
    }
    let out = run(&["--monitor", "1"]);
    let lines = stderr_lines(&out);
    assert_eq!(out.status.code(), Some(1), "stderr: {lines:?}");
    assert_eq!(lines.len(), 1, "stderr: {lines:?}");
    assert!(lines[0].starts_with("scx_relay: --monitor: nothing serves /var/run/scx/root/stats"), "{lines:?}");
    assert!(out.stdout.is_empty());
}

/// Under journald (stderr is the stream JOURNAL_STREAM names) a log line
/// carries its syslog priority instead of a time; a JOURNAL_STREAM naming
/// another stream (inherited, stderr redirected) changes nothing.
#[test]
fn journald_gets_priorities_not_times() {
    use std::os::unix::fs::MetadataExt;
    if std::path::Path::new("/sys/kernel/sched_ext").is_dir() {
        return; // the error below is this host's only without sched_ext
    }
    let path = std::env::temp_dir().join(format!("scx_relay-journald-{}.err", std::process::id()));
    for (names_stderr, want_first) in [(true, "<3>scx_relay: "), (false, "")] {
        let file = std::fs::File::create(&path).expect("a temporary file");
        let meta = file.metadata().expect("its metadata");
        let ino = if names_stderr { meta.ino() } else { meta.ino() + 1 };
        let status = command(&[])
            .env("JOURNAL_STREAM", format!("{}:{ino}", meta.dev()))
            .stderr(file)
            .status()
            .expect("the binary runs");
        assert_eq!(status.code(), Some(1));
        let err = std::fs::read_to_string(&path).expect("its stderr");
        if names_stderr {
            assert_eq!(err, format!("<3>{NO_SCHED_EXT}\n"));
        } else {
            assert_eq!(unstamped(err.trim_end()), NO_SCHED_EXT, "{want_first}");
        }
    }
    let _ = std::fs::remove_file(&path);
}

/// `--log-level off` silences the log, not the exit status; a level that
/// does not exist is a usage error naming the levels.
#[test]
fn log_level_filters_and_is_checked() {
    if !std::path::Path::new("/sys/kernel/sched_ext").is_dir() {
        let out = run(&["--log-level", "off"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stderr.is_empty(), "{:?}", stderr_lines(&out));
    }
    let out = run(&["--log-level", "loud"]);
    let lines = stderr_lines(&out);
    assert_eq!(out.status.code(), Some(2), "{lines:?}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("--log-level") && lines[0].contains("trace"), "{lines:?}");
}
