//! Bad input at the edges of the command line: every option of `scx_relay`,
//! `scx_relay sim` and `scx_relay report`, given out-of-range or malformed values, gets one
//! line on stderr that names the option (or the bad value), nothing on
//! stdout, exit code 2, and never a panic — before anything touches the
//! kernel. The option lists are read from `--help`, so an option added
//! without rows in these tables fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::BTreeSet,
    process::{Command, Output},
};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scx_relay")).args(args).output().expect("the binary runs")
}

/// The long options `--help` of `args` lists (without --help / --version).
fn long_options(args: &[&str]) -> BTreeSet<String> {
    let out = run(&[args, &["--help"]].concat());
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("-").filter(|r| r.len() > 2 && r.as_bytes()[1] == b',').map_or(l, |r| r[2..].trim());
            let name = l.strip_prefix("--")?;
            Some(name.split([' ', '=', '<']).next()?.to_owned())
        })
        .filter(|n| !n.is_empty() && n != "help" && n != "version")
        .collect()
}

/// Checks the error contract for one invocation; `needle` must appear in
/// the line (the option's name, or the bad value). Returns what is wrong.
fn usage_error_problem(args: &[&str], needle: &str) -> Option<String> {
    let out = run(args);
    let err = String::from_utf8_lossy(&out.stderr);
    let problem = if out.status.code() != Some(2) {
        format!("exit {:?}", out.status.code())
    } else if !out.stdout.is_empty() {
        format!("stdout: {}", String::from_utf8_lossy(&out.stdout))
    } else if err.lines().count() != 1 {
        "stderr is not one line".to_owned()
    } else if !err.starts_with("scx_relay: ") {
        "no 'scx_relay: ' prefix".to_owned()
    } else if !err.contains(needle) {
        format!("does not name {needle}")
    } else if err.contains("panicked") {
        "panicked".to_owned()
    } else {
        return None;
    };
    Some(format!("{args:?}: {problem}; stderr: {}", err.trim()))
}

/// Runs every row and fails listing all the rows that broke the contract.
fn check_rows(rows: &[(Vec<&str>, &str)]) {
    let problems: Vec<String> = rows.iter().filter_map(|(args, needle)| usage_error_problem(args, needle)).collect();
    assert!(problems.is_empty(), "{} of {} rows failed:\n{}", problems.len(), rows.len(), problems.join("\n"));
}

/// A routing configuration with a mistake on line 2 (a file that lives for the test run).
fn malformed_config() -> &'static str {
    let path = std::env::temp_dir().join(format!("scx_relay-cli-edges-{}.toml", std::process::id()));
    std::fs::write(&path, "[[route]]\nshare = \"lots\"\n").unwrap();
    Box::leak(path.to_string_lossy().into_owned().into_boxed_str())
}

/// A recording of a 2-CPU machine (one task runs 1 ms), for `--replay`
/// (a file that lives for the test run).
fn two_cpu_recording() -> &'static str {
    use scheduler_core::record::{synthetic, Kind};
    let events = [
        (0, Kind::Runnable, 7, 1, 0, 1024, 2),
        (10, Kind::Running, 7, 1, 0, 0, 0),
        (1_000_010, Kind::Stopping, 7, 1, 0, 0, 0),
    ];
    let path = std::env::temp_dir().join(format!("scx_relay-cli-edges-{}.rec", std::process::id()));
    std::fs::write(&path, synthetic(2, 2_000_000, &events).unwrap()).unwrap();
    Box::leak(path.to_string_lossy().into_owned().into_boxed_str())
}

/// Values no integer option takes.
const NOT_INTEGERS: &[&str] = &["", "x", "1.5", "1e3", "0x10", "18446744073709551616", "7 7"];

/// Bad values of the slices, the stall timeout and the fast path, which the scheduler and
/// `sim` share (`Tunables`): (option, arguments, what the line names).
fn tunable_rows() -> Vec<(&'static str, Vec<&'static str>, &'static str)> {
    let mut rows = Vec::new();
    for bad in ["0", "100001", "-1", "4294967296000"].iter().chain(NOT_INTEGERS) {
        rows.push(("slice-us", vec!["--slice-us", *bad], "--slice-us"));
    }
    for bad in ["0", "-1", "20001"].iter().chain(NOT_INTEGERS) {
        rows.push(("slice-min-us", vec!["--slice-min-us", *bad], "--slice-min-us"));
    }
    rows.push(("slice-min-us", vec!["--slice-us", "10", "--slice-min-us", "11"], "--slice-min-us"));
    for bad in ["0", "2001", "5000", "-5", "4294967296000"].iter().chain(NOT_INTEGERS) {
        rows.push(("stall-timeout-ms", vec!["--stall-timeout-ms", *bad], "--stall-timeout-ms"));
    }
    rows.push(("fast-path", vec!["--fast-path=1"], "--fast-path"));
    rows.push(("no-preempt-hogs", vec!["--no-preempt-hogs=yes"], "--no-preempt-hogs"));
    rows
}

/// The real scheduler's options (also `scx_relay record`'s), each out of
/// range or malformed: (option, arguments, what the line names); rows whose
/// option is "" cover no option of their own (missing values, unknown
/// options).
fn scheduler_rows() -> Vec<(&'static str, Vec<&'static str>, &'static str)> {
    let mut rows = Vec::new();
    let mut row = |option: &'static str, args: Vec<&'static str>, needle: &'static str| {
        rows.push((option, args, needle));
    };
    for bad in ["", "nope", "FIFO", "fifo,deadline", "chaos", "panic", "../fifo", "-1"] {
        let needle = if bad == "chaos" || bad == "panic" { "--allow-test-policies" } else { "policy" };
        row("policy", vec!["--policy", bad], needle);
    }
    row("allow-test-policies", vec!["--allow-test-policies=yes"], "--allow-test-policies");
    row("allow-test-policies", vec!["--allow-test-policies", "--policy", "cfs"], "unknown policy 'cfs'");
    for (option, args, needle) in tunable_rows() {
        row(option, args, needle);
    }
    row("partial", vec!["--partial=1"], "--partial");
    row("tickless", vec!["--tickless=1"], "--tickless");
    row("bpf-stats", vec!["--bpf-stats=1"], "--bpf-stats");
    for bad in ["0", "-1", "nan", "inf", "-inf", "86401", "1e999", "x", ""] {
        row("stats", vec!["--stats", bad], "--stats");
    }
    for bad in ["0", "-1", "nan", "inf", "86401", "x", ""] {
        row("monitor", vec!["--monitor", bad], "--monitor");
    }
    row("help-stats", vec!["--help-stats=yes"], "--help-stats");
    row("verifier-report", vec!["--verifier-report=yes"], "--verifier-report");
    row("verifier-report", vec!["--verifier-report", "--slice-us", "0"], "--slice-us");
    for bad in ["loud", "INFO ", "", "1"] {
        row("log-level", vec!["--log-level", bad], "possible values: off, error, warn, info, debug, trace");
    }
    row("verbose", vec!["--verbose=yes"], "--verbose");
    row("verbose", vec!["-vx"], "'-x'");
    row("config", vec!["--config", "/nonexistent/routing.toml"], "--config");
    row("config", vec!["--config", ""], "--config");
    row("config", vec!["--config", malformed_config()], "line 2, field share");
    row("config", vec!["--config", "/dev/null", "--policy", "fifo"], "--config");
    row("socket", vec!["--socket", ""], "--socket");
    for bad in ["-1", "4294967296"].iter().chain(NOT_INTEGERS) {
        row("exit-dump-len", vec!["--exit-dump-len", bad], "--exit-dump-len");
    }
    // Hidden from --help (test only), refused all the same.
    for bad in ["-1"].iter().chain(NOT_INTEGERS) {
        row("test-eject-after-ms", vec!["--test-eject-after-ms", bad], "--test-eject-after-ms");
    }
    for bad in ["0", "2", "3", "12", "2097152", "-4"].iter().chain(NOT_INTEGERS) {
        row("test-record-ring-kib", vec!["--test-record-ring-kib", bad], "--test-record-ring-kib");
    }
    for bad in ["4095", "-1"].iter().chain(NOT_INTEGERS) {
        row("test-fast-prefer-cpu", vec!["--test-fast-prefer-cpu", bad], "--test-fast-prefer-cpu");
    }
    // Missing values and unknown options.
    for option in [
        "--policy",
        "--slice-us",
        "--slice-min-us",
        "--stall-timeout-ms",
        "--stats",
        "--monitor",
        "--config",
        "--socket",
        "--exit-dump-len",
        "--log-level",
        "--test-eject-after-ms",
    ] {
        row("", vec![option], option);
    }
    row("", vec!["--bogus"], "--bogus");
    row("", vec!["--policy", "fifo", "--policy", "deadline"], "--policy");
    rows
}

/// Checks `rows` run after `prefix` (a subcommand, or nothing), and that
/// every long option `--help` lists has a row.
fn check_option_rows(prefix: &[&'static str], rows: Vec<(&'static str, Vec<&'static str>, &'static str)>) {
    let covered: BTreeSet<String> = rows.iter().map(|(option, _, _)| (*option).to_owned()).collect();
    let listed = long_options(prefix);
    let missing: Vec<_> = listed.difference(&covered).collect();
    assert!(missing.is_empty(), "{prefix:?}: options without bad-value rows: {missing:?}");
    for hidden in ["test-eject-after-ms", "test-record-ring-kib", "test-fast-prefer-cpu", "allow-test-policies"] {
        assert!(!listed.contains(hidden), "the test-only option --{hidden} is in --help");
    }
    let rows: Vec<(Vec<&str>, &str)> =
        rows.into_iter().map(|(_, args, needle)| ([prefix, &args].concat(), needle)).collect();
    check_rows(&rows);
}

/// The real scheduler's options: each bad value is refused by the option
/// checks (or clap) before the machine is looked at.
#[test]
fn scheduler_options() {
    check_option_rows(&[], scheduler_rows());
}

/// `scx_relay record` takes the scheduler's options, refused as they are
/// without it (before any file is written), and its own `-o`.
#[test]
fn record_options() {
    let mut rows = scheduler_rows();
    rows.push(("out", vec!["--out"], "--out"));
    rows.push(("out", vec!["-o"], "--out"));
    check_option_rows(&["record"], rows);
    assert!(!std::path::Path::new("scx_relay.rec").exists(), "a refused record wrote its default file");
    check_rows(&[
        (vec!["record-summary"], "FILE"),
        (vec!["record-summary", "a", "b"], "'b'"),
        (vec!["record-summary", "--trace"], "--trace"),
    ]);
}

/// Upstream scx_rustland's short flags and names reach the same options:
/// `-s` is --slice-us, `-S` and `--slice-us-min` are --slice-min-us, `-p`
/// is --partial (accepted: the error that follows names another option),
/// `-V` prints the version, and --help shows each.
#[test]
fn upstream_short_flags() {
    check_rows(&[
        (vec!["-s", "0"], "--slice-us"),
        (vec!["-S", "0"], "--slice-min-us"),
        (vec!["--slice-us-min", "0"], "--slice-min-us"),
        (vec!["-s", "10", "--slice-us-min", "11"], "--slice-min-us 11 is out of range (1..=--slice-us, 10)"),
        (vec!["-p", "--slice-us", "0"], "--slice-us"),
    ]);
    let version = run(&["-V"]);
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("scx_relay 0."), "{version:?}");
    let help = String::from_utf8_lossy(&run(&["--help"]).stdout).into_owned();
    for shown in ["-s, --slice-us", "-S, --slice-min-us", "--slice-us-min", "-p, --partial", "-V, --version"] {
        assert!(help.contains(shown), "--help does not show {shown}:\n{help}");
    }
}

/// The options `scx_relay sim` and `scx_relay report` share (the
/// simulated machine, workload and scheduler options), each out of range or
/// malformed: (option, arguments, what the line names).
fn setup_rows() -> Vec<(&'static str, Vec<&'static str>, &'static str)> {
    let mut rows = Vec::new();
    let mut row = |option: &'static str, args: Vec<&'static str>, needle: &'static str| {
        rows.push((option, args, needle));
    };
    for bad in ["", "bogus", "MIXED"] {
        row("workload", vec!["--workload", bad], "workload");
    }
    row("replay", vec!["--replay"], "--replay");
    row("replay", vec!["--replay", "/nonexistent/x.rec"], "--replay /nonexistent/x.rec: cannot read it");
    row("replay", vec!["--replay", "/dev/null"], "--replay /dev/null: not a scx_relay recording");
    row("replay", vec!["--replay", "/"], "--replay /: cannot read it");
    row("replay", vec!["--replay", two_cpu_recording(), "--workload", "hogs"], "--workload");
    row("replay", vec!["--replay", two_cpu_recording(), "--cpus", "4"], "recorded on 2 CPUs");
    for bad in ["0", "1025", "-1"].iter().chain(NOT_INTEGERS) {
        row("cpus", vec!["--cpus", bad], "--cpus");
    }
    for bad in ["0", "-1", "3601", "nan", "inf", "x", ""] {
        row("seconds", vec!["--seconds", bad], "--seconds");
    }
    for bad in ["-1"].iter().chain(NOT_INTEGERS) {
        row("seed", vec!["--seed", bad], "--seed");
    }
    for bad in ["0", "9", "-1"].iter().chain(NOT_INTEGERS) {
        row("smt", vec!["--smt", bad], "--smt");
    }
    for bad in ["0", "1025", "-1"].iter().chain(NOT_INTEGERS) {
        row("cores-per-llc", vec!["--cores-per-llc", bad], "--cores-per-llc");
    }
    for bad in ["0", "1025", "-1"].iter().chain(NOT_INTEGERS) {
        row("big-cpus", vec!["--big-cpus", bad], "--big-cpus");
    }
    row("big-cpus", vec!["--cpus", "4", "--big-cpus", "5"], "1 to 4 big CPUs (not 5)");
    for bad in ["0", "1025", "-1"].iter().chain(NOT_INTEGERS) {
        row("little-capacity", vec!["--big-cpus", "1", "--little-capacity", bad], "--little-capacity");
    }
    row("little-capacity", vec!["--little-capacity", "300"], "--big-cpus");
    for bad in ["-5", "1000000001"].iter().chain(NOT_INTEGERS) {
        row("decision-cost-ns", vec!["--decision-cost-ns", bad], "--decision-cost-ns");
    }
    for bad in ["-5", "10000001"].iter().chain(NOT_INTEGERS) {
        row("switch-cost-ns", vec!["--switch-cost-ns", bad], "--switch-cost-ns");
    }
    row(
        "switch-cost-ns",
        vec!["--replay", two_cpu_recording(), "--recorded-costs", "--switch-cost-ns", "5"],
        "--switch-cost-ns",
    );
    for bad in ["-5", "10000001"].iter().chain(NOT_INTEGERS) {
        row("wake-cost-ns", vec!["--wake-cost-ns", bad], "--wake-cost-ns");
    }
    row("wake-cost-ns", vec!["--replay", two_cpu_recording(), "--wake-cost-ns", "5"], "--wake-cost-ns");
    row("recorded-costs", vec!["--recorded-costs"], "--replay");
    row("recorded-costs", vec!["--recorded-costs", "--workload", "hogs"], "--replay");
    row(
        "recorded-costs",
        vec!["--replay", two_cpu_recording(), "--recorded-costs", "--decision-cost-ns", "5"],
        "--decision-cost-ns",
    );
    row("costs-from", vec!["--costs-from", "/nonexistent.rec"], "--costs-from /nonexistent.rec: cannot read it");
    row("costs-from", vec!["--costs-from", "/proc/version"], "--costs-from /proc/version");
    row("costs-from", vec!["--costs-from", two_cpu_recording(), "--replay", two_cpu_recording()], "--replay");
    row("costs-from", vec!["--costs-from", two_cpu_recording(), "--switch-cost-ns", "5"], "--switch-cost-ns");
    row("costs-from", vec!["--costs-from", two_cpu_recording(), "--decision-cost-ns", "5"], "--decision-cost-ns");
    // The slices and the stall timeout: the scheduler's own options.
    for (option, args, needle) in tunable_rows() {
        row(option, args, needle);
    }
    row("stall-at-ms", vec!["--stall-at-ms", "10"], "--stall-ms");
    for bad in ["-1", "3600001"].iter().chain(NOT_INTEGERS) {
        row("stall-at-ms", vec!["--stall-ms", "10", "--stall-at-ms", bad], "--stall-at-ms");
    }
    row("stall-ms", vec!["--stall-ms", "10"], "--stall-at-ms");
    for bad in ["0", "-1", "3600001", "nan", "x", ""] {
        row("stall-ms", vec!["--stall-at-ms", "10", "--stall-ms", bad], "--stall-ms");
    }
    rows
}

/// `scx_relay sim`'s options, each out of range or malformed.
#[test]
fn sim_options() {
    let mut rows: Vec<(Vec<&str>, &str)> = Vec::new();
    let mut covered = BTreeSet::new();
    let mut row = |option: &'static str, args: Vec<&'static str>, needle: &'static str| {
        covered.insert(option.to_owned());
        rows.push(([&["sim"][..], &args].concat(), needle));
    };
    // The test policies are not simulator policies.
    for bad in ["", "nope", "chaos", "panic"] {
        row("policy", vec!["--policy", bad], "unknown policy");
    }
    for (option, args, needle) in setup_rows() {
        row(option, args, needle);
    }
    row("json", vec!["--json=1"], "--json");
    row("trace", vec!["--trace"], "--trace");
    row("config", vec!["--config", "/nonexistent/routing.toml"], "--config");
    row("config", vec!["--config", malformed_config()], "line 2, field share");
    row("config", vec!["--config", "/dev/null", "--policy", "fifo"], "--config");
    rows.push((vec!["sim", "--bogus"], "--bogus"));
    rows.push((vec!["sim", "--cpus"], "--cpus"));
    rows.push((vec!["sim", "extra"], "extra"));

    let listed = long_options(&["sim"]);
    let missing: Vec<_> = listed.difference(&covered).collect();
    assert!(missing.is_empty(), "sim options without bad-value rows: {missing:?}");
    check_rows(&rows);
}

/// `scx_relay report`'s options, each out of range or malformed: the lines
/// name `report`, not `sim`.
#[test]
fn report_options() {
    let mut rows: Vec<(Vec<&str>, &str)> = Vec::new();
    let mut covered = BTreeSet::new();
    let mut row = |option: &'static str, args: Vec<&'static str>, needle: &'static str| {
        covered.insert(option.to_owned());
        rows.push(([&["report"][..], &args].concat(), needle));
    };
    for bad in ["", "nope", "chaos", "fifo,nope"] {
        row("policies", vec!["--policies", bad], "unknown policy");
    }
    row("policies", vec!["--policies", "fifo,fifo"], "--policies names fifo twice");
    for (option, args, needle) in setup_rows() {
        row(option, args, needle);
    }
    for bad in ["-1", "3600001"].iter().chain(NOT_INTEGERS) {
        row("timeline-from-ms", vec!["--timeline-from-ms", bad], "--timeline-from-ms");
    }
    row("timeline-from-ms", vec!["--seconds", "1", "--timeline-from-ms", "1000"], "past the end of the run");
    for bad in ["0", "1001", "-1"].iter().chain(NOT_INTEGERS) {
        row("timeline-ms", vec!["--timeline-ms", bad], "--timeline-ms");
    }
    row("out", vec!["--out"], "--out");
    rows.push((vec!["report", "--bogus"], "--bogus"));
    rows.push((vec!["report", "extra"], "extra"));

    let listed = long_options(&["report"]);
    let missing: Vec<_> = listed.difference(&covered).collect();
    assert!(missing.is_empty(), "report options without bad-value rows: {missing:?}");
    check_rows(&rows);
    for (args, _) in &rows {
        let err = String::from_utf8_lossy(&run(args).stderr).into_owned();
        assert!(!err.starts_with("scx_relay: sim:"), "{args:?}: {err}");
    }
}

/// `scx_relay ctl`'s command line: usage mistakes are one line and exit 2
/// (what the running scheduler answers is `ctl`'s own contract, exit 1;
/// `tests/ctl_client.rs`).
#[test]
fn ctl_options() {
    let rows: Vec<(Vec<&str>, &str)> = vec![
        (vec!["ctl"], "a command is required"),
        (vec!["ctl", "--socket"], "--socket"),
        (vec!["ctl", "--socket", "", "status"], "--socket"),
        (vec!["ctl", "policy"], "<NAME>"),
        (vec!["ctl", "config"], "<FILE>"),
        (vec!["ctl", "bogus"], "'bogus'"),
        (vec!["ctl", "status", "--x"], "--x"),
        (vec!["ctl", "policy", "fifo", "deadline"], "'deadline'"),
    ];
    let listed = long_options(&["ctl"]);
    let covered: BTreeSet<String> = ["socket".to_owned()].into();
    assert_eq!(listed, covered, "ctl options changed: add bad-value rows for the new ones");
    check_rows(&rows);
}
