//! The scx_relay binary on this host (no sched_ext, maybe not root): every
//! failure is one line on stderr and a non-zero exit, never a panic.
#![allow(clippy::expect_used)]

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scx_relay")).args(args).output().expect("the binary runs")
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr).lines().map(str::to_owned).collect()
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

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
        assert_eq!(
            lines[0],
            "scx_relay: this kernel has no sched_ext (CONFIG_SCHED_CLASS_EXT); run it in the guest: cargo xtask run"
        );
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
    assert_eq!(fields.len(), 32, "{text}");
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
