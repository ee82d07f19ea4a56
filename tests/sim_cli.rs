//! `scx_relay sim`: output shapes, one-line errors with exit code 2, and
//! byte-identical output for one seed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scx_relay")).arg("sim").args(args).output().expect("run scx_relay")
}

const SHORT: &[&str] = &["--cpus", "4", "--seconds", "0.2", "--seed", "3"];

/// The table names the run, has a row per class plus "all", and the summary lines.
#[test]
fn table_shape() {
    for policy in ["fifo", "deadline"] {
        let out = sim(&[&["--policy", policy, "--workload", "mixed"], SHORT].concat());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.starts_with(&format!("scx_relay sim: policy {policy}, workload mixed, 4 CPUs")), "{text}");
        for row in ["class", "hog", "interactive", "pipe", "fork", "affinity", "nice", "all"] {
            assert!(text.lines().any(|l| l.starts_with(row)), "no row {row} in\n{text}");
        }
        for line in ["utilisation", "throughput", "fairness", "dispatches", "engine", "tasks"] {
            assert!(text.lines().any(|l| l.starts_with(line)), "no line {line} in\n{text}");
        }
        assert!(text.contains("; 0 lost"));
    }
}

/// `--json` prints one JSON object with the report's fields.
#[test]
fn json_shape() {
    let out = sim(&[&["--policy", "fifo", "--workload", "pipes", "--json"], SHORT].concat());
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["policy"], "fifo");
    assert_eq!(v["workload"], "pipes");
    assert_eq!(v["nr_cpus"], 4);
    assert_eq!(v["duration_ns"], 200_000_000u64);
    for key in ["p50_ns", "p99_ns", "p999_ns", "max_ns", "mean_ns"] {
        assert!(v["latency"][key].is_u64(), "latency.{key}");
    }
    for key in ["decisions", "kernel_dispatches", "fallback_dispatches", "bounced", "stale"] {
        assert!(v["dispatch"][key].is_u64(), "dispatch.{key}");
    }
    assert!(v["engine"]["decided"].is_u64());
    assert!(v["utilisation"]["cpu"].is_f64());
    assert_eq!(v["classes"][0]["class"], "pipe");
}

/// `--trace FILE` writes the run's timeline as a Chrome trace (the table
/// is printed as without it); a file that cannot be written is one line
/// and exit 1.
#[test]
fn trace_file() {
    let path = std::env::temp_dir().join(format!("scx_relay-sim-trace-{}.json", std::process::id()));
    let out = sim(&[&["--trace", path.to_str().unwrap()], SHORT].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, sim(SHORT).stdout, "the same report");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let _ = std::fs::remove_file(&path);
    let events = v["traceEvents"].as_array().unwrap();
    assert!(events.iter().filter(|e| e["ph"] == "X").count() > 100);
    assert!(events.iter().any(|e| e["ph"] == "M" && e["args"]["name"] == "cpu3"));
    let out = sim(&[&["--trace", "/nonexistent/dir/trace.json"], SHORT].concat());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("scx_relay: sim: --trace /nonexistent/dir/trace.json: cannot write it:"), "{err}");
    assert_eq!(err.lines().count(), 1);
}

/// A stall given on the command line reaches the simulator (fallback used).
#[test]
fn stall_flags() {
    let out =
        sim(&[&["--json", "--stall-at-ms", "50", "--stall-ms", "100", "--stall-timeout-ms", "20"], SHORT].concat());
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stall"]["at_ns"], 50_000_000u64);
    assert!(v["dispatch"]["fallback_dispatches"].as_u64().unwrap() > 0);
}

/// Two runs with one seed print the same bytes, table and JSON.
#[test]
fn same_seed_same_output() {
    for extra in [&[][..], &["--json"][..]] {
        let args = [&["--policy", "deadline", "--smt", "2"], SHORT, extra].concat();
        let (a, b) = (sim(&args), sim(&args));
        assert!(a.status.success());
        assert_eq!(a.stdout, b.stdout);
    }
}

/// Each bad value: exit code 2, nothing on stdout, one line on stderr
/// naming the value and what is valid.
#[test]
fn bad_input_is_one_line_and_exit_2() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["--policy", "nope"], &["'nope'", "fifo", "deadline"]),
        (
            &["--workload", "bogus"],
            &[
                "'bogus'",
                "mixed",
                "hogs",
                "interactive",
                "pipes",
                "fork",
                "affinity",
                "nice",
                "hackbench",
                "cyclictest",
            ],
        ),
        (&["--cpus", "0"], &["--cpus", "'0'", "1 to 1024"]),
        (&["--cpus", "-2"], &["--cpus", "'-2'"]),
        (&["--cpus", "5000"], &["--cpus", "'5000'"]),
        (&["--seconds", "0"], &["--seconds", "'0'", "> 0"]),
        (&["--seconds", "-1"], &["--seconds", "'-1'"]),
        (&["--seconds", "ten"], &["--seconds", "'ten'"]),
        (&["--seed", "x"], &["--seed", "'x'"]),
        (&["--smt", "0"], &["--smt", "'0'"]),
        (&["--decision-cost-ns", "-5"], &["--decision-cost-ns", "'-5'"]),
        (&["--slice-us", "0"], &["--slice-us 0", "1..=100000"]),
        (&["-s", "10", "-S", "11"], &["--slice-min-us 11"]),
        (&["--stall-ms", "10"], &["--stall-ms", "--stall-at-ms"]),
        (&["--stall-at-ms", "10"], &["--stall-at-ms", "--stall-ms"]),
        (&["--stall-at-ms", "10", "--stall-ms", "0"], &["--stall-ms", "'0'"]),
        (&["--stall-timeout-ms", "0"], &["--stall-timeout-ms 0", "1..=2000"]),
    ];
    for (args, needles) in cases {
        let out = sim(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        for n in *needles {
            assert!(err.contains(n), "{args:?}: '{err}' lacks {n}");
        }
    }
}

/// The exact line of a few bad values, as it was when the options were
/// parsed by hand (clap parses them now; the text must not change), and
/// the stall timeout's, which is the real scheduler's line (`Tunables`).
#[test]
fn bad_values_keep_their_exact_line() {
    let cases: &[(&[&str], &str)] = &[
        (&["--cpus", "0"], "scx_relay: sim: invalid --cpus '0': expected an integer from 1 to 1024\n"),
        (&["--cpus", "-2"], "scx_relay: sim: invalid --cpus '-2': expected an integer from 1 to 1024\n"),
        (&["--seconds", "-inf"], "scx_relay: sim: invalid --seconds '-inf': expected a number > 0 and at most 3600\n"),
        (
            &["--seed", "1.5"],
            "scx_relay: sim: invalid --seed '1.5': expected an integer from 0 to 18446744073709551615\n",
        ),
        (&["--smt", "9"], "scx_relay: sim: invalid --smt '9': expected an integer from 1 to 8\n"),
        (
            &["--stall-at-ms", "10", "--stall-ms", "0"],
            "scx_relay: sim: invalid --stall-ms '0': expected a number > 0 and at most 3600000\n",
        ),
        (
            &["--stall-timeout-ms", "2001"],
            "scx_relay: sim: --stall-timeout-ms 2001 is out of range (1..=2000: a task's worst wait adds it to the \
             1000 ms aging threshold, and must stay well under the kernel's 5000 ms watchdog)\n",
        ),
        (&["--stall-at-ms", "10"], "scx_relay: sim: --stall-at-ms needs --stall-ms (the stall's length in ms)\n"),
        (&["--stall-ms", "10"], "scx_relay: sim: --stall-ms needs --stall-at-ms (when the stall starts, in ms)\n"),
    ];
    for (args, line) in cases {
        let out = sim(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), *line, "{args:?}");
    }
}

/// Blanks around a number are accepted, as before clap parsed them.
#[test]
fn blanks_around_numbers_are_accepted() {
    let out = sim(&["--cpus", " 2 ", "--seconds", " 0.01", "--seed", "+3", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A recording of two CPUs for 10 ms: two tasks that wake each other (1 ms
/// bursts, each on its CPU) and the user scheduler; written to a file that
/// lives for the test run.
fn recording_file() -> std::path::PathBuf {
    use scheduler_core::{
        record::{Kind, Writer},
        wire::RawRecordEvent,
    };
    let ev = |ts: u64, kind: Kind, pid: i32, cpu: i32, flags: u32| RawRecordEvent {
        ts,
        arg: 1024,
        pid,
        tgid: pid,
        cpu,
        kind: kind as u32,
        flags,
        arg2: 2,
        comm: [b'p'; 16],
    };
    let mut events = vec![ev(0, Kind::Runnable, 20, 0, 0), ev(0, Kind::Running, 20, 0, 0)];
    let mut t = 0;
    for round in 0..4u64 {
        let (a, b, ca, cb) = if round % 2 == 0 { (20, 21, 0, 1) } else { (21, 20, 1, 0) };
        // a, 1 ms into its burst, wakes b, and blocks.
        t += 1_000_000;
        events.push(ev(t, Kind::Runnable, b, ca, 1));
        events.push(ev(t + 1_000, Kind::Quiescent, a, ca, 1));
        events.push(ev(t + 1_000, Kind::Stopping, a, ca, 0));
        events.push(ev(t + 1_500, Kind::Runnable, 1, cb, 1));
        events.push(ev(t + 2_000, Kind::Running, 1, cb, 1));
        events.push(ev(t + 3_000, Kind::Stopping, 1, cb, 0));
        events.push(ev(t + 50_000, Kind::Running, b, cb, 0));
        t += 50_000;
    }
    let mut w = Writer::new(Vec::new(), 2, 0, scheduler_core::record::HOG_RULE).unwrap();
    for e in &events {
        w.event(e).unwrap();
    }
    let path = std::env::temp_dir().join(format!("scx_relay-sim-replay-{}.rec", std::process::id()));
    std::fs::write(&path, w.finish(0, 10_000_000).unwrap()).unwrap();
    path
}

/// `--replay FILE` runs the recording's tasks on its CPU count for its
/// length, and the table and the JSON compare the replayed waits with the
/// recorded ones; one file and seed, one output; a shorter `--seconds`
/// cuts it; another `--cpus` is refused in one line.
#[test]
fn replay_a_recording() {
    let file = recording_file();
    let path = file.to_str().unwrap();
    let out = sim(&["--replay", path, "--policy", "fifo"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(text.starts_with("scx_relay sim: policy fifo, workload replay, 2 CPUs"), "{text}");
    for row in ["replay waits", "recorded", "replayed", "ratio", "replay "] {
        assert!(text.lines().any(|l| l.starts_with(row)), "no row {row} in\n{text}");
    }
    assert_eq!(out.stdout, sim(&["--replay", path, "--policy", "fifo"]).stdout, "deterministic");
    let json = sim(&["--replay", path, "--policy", "fifo", "--json", "--seconds", "0.005"]);
    assert!(json.status.success());
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!((v["workload"].as_str(), v["duration_ns"].as_u64()), (Some("replay"), Some(5_000_000)));
    let recorded = &v["replay"]["recorded"];
    assert_eq!(recorded["samples"], 5, "the waits recorded within 5 ms, the user scheduler's left out");
    assert_eq!((recorded["p50_ns"].as_u64(), recorded["max_ns"].as_u64()), (Some(50_000), Some(50_000)));
    assert!(v["replay"]["replayed"]["p90_ns"].is_u64());
    assert!(v["replay"]["ratio"]["p50"].is_f64());
    assert_eq!(v["tasks"].as_array().map(Vec::len), Some(2));
    let bad = sim(&["--replay", path, "--cpus", "3"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with(&format!("scx_relay: sim: --replay {path}: recorded on 2 CPUs")), "{err}");
    let report = Command::new(env!("CARGO_BIN_EXE_scx_relay"))
        .args(["report", "--replay", path, "--policies", "fifo,deadline", "--out", "-"])
        .output()
        .unwrap();
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
    let page = String::from_utf8_lossy(&report.stdout);
    assert!(page.contains("replay on 2 CPUs"));
    assert!(page.contains("Replayed waits against the recording's"));
    std::fs::remove_file(&file).unwrap();
}
