//! The guest console protocol and the kernel-problem sentinels.
//!
//! The serial console is the only channel out of the guest. `/init` prints
//! [`START_MARKER`] once user space runs, then exactly one final line
//! `relay-guest: exit <N>` with the payload's exit status before powering
//! off. Test cases print `relay-test: <name> PASS` or
//! `relay-test: <name> FAIL <reason>`. Any kernel line that reports a panic,
//! `BUG:`, `WARNING:`, Oops, soft lockup, RCU stall or hung task fails the
//! run, whatever the payload's status; so does any `sched_ext: BPF scheduler
//! "..." disabled (<reason>)` line whose reason is not a clean unregistration
//! ([`CLEAN_DISABLE_REASONS`]): an ejection by the kernel is never a pass,
//! except the one a test asks for (`scx_relay --test-eject-after-ms`), which
//! the kernel reports with the message [`REQUESTED_EJECTION`] on the next
//! line ([`Line::RequestedEjection`]).

/// Printed by the guest's `/init` once user space is up.
pub const START_MARKER: &str = "relay-guest: start";
/// Prefix of the guest's final status line.
const EXIT_PREFIX: &str = "relay-guest: exit ";
/// Prefix of a test case's verdict line.
const TEST_PREFIX: &str = "relay-test: ";
/// Prefix every protocol line shares; such lines are never kernel problems.
const PROTOCOL_PREFIX: &str = "relay-";

/// A kernel-problem category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// `Kernel panic - not syncing: ...`
    Panic,
    /// `Oops: ...`
    Oops,
    /// `watchdog: BUG: soft lockup - CPU#n stuck for ...`
    SoftLockup,
    /// `rcu: INFO: rcu_sched self-detected stall on CPU` and friends.
    RcuStall,
    /// `INFO: task ... blocked for more than N seconds.`
    HungTask,
    /// `BUG: ...`
    Bug,
    /// `WARNING: CPU: n PID: n at ...`
    Warning,
    /// `sched_ext: BPF scheduler "..." disabled (runnable task stall)`: the
    /// kernel ejected a scheduler (any reason but a clean unregistration).
    Ejection,
}

impl Problem {
    /// Whether the guest is gone or wedged, so QEMU should be stopped soon
    /// (after a short grace period to collect the backtrace).
    pub fn is_fatal(self) -> bool {
        matches!(self, Problem::Panic | Problem::SoftLockup | Problem::RcuStall)
    }
}

/// What one console line means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    /// The guest's start marker.
    Start,
    /// The guest's final status line.
    Exit(i32),
    /// A test case's verdict.
    Test(TestResult<'a>),
    /// A kernel problem.
    Problem(Problem),
    /// The kernel's message of an ejection a test asked for
    /// (`sched_ext: <name>: <REQUESTED_EJECTION>`): the ejection line before
    /// it is no problem.
    RequestedEjection,
    /// Anything else.
    Other,
}

/// A test case's verdict line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult<'a> {
    /// Case name (the script name without `.sh`).
    pub name: &'a str,
    /// `PASS` or `FAIL`.
    pub passed: bool,
    /// The reason after `FAIL` (empty for a pass).
    pub reason: &'a str,
}

/// The reasons of `scx_exit_reason()` (kernel/sched/ext.c) for exits that
/// are not errors: the scheduler was unregistered (by its process, by BPF,
/// by the kernel for CPU hotplug) or stopped with sysrq-S. Every other
/// reason ("runnable task stall", "runtime error", "scx_bpf_error", ...) is
/// an ejection.
pub const CLEAN_DISABLE_REASONS: &[&str] = &[
    "unregistered from user space",
    "unregistered from BPF",
    "unregistered from the main kernel",
    "disabled by sysrq-S",
];

/// The error message of the ejection `scx_relay --test-eject-after-ms` asks
/// for (the dispatcher's `scx_bpf_error()` in `src/bpf/main.bpf.c`).
pub const REQUESTED_EJECTION: &str = "test: ejection requested by --test-eject-after-ms";

/// Whether `line` is the kernel's `sched_ext: <name>: <message>` line
/// giving [`REQUESTED_EJECTION`] as an ejection's message.
fn is_requested_ejection(line: &str) -> bool {
    line.contains("sched_ext: ") && line.ends_with(&format!(": {REQUESTED_EJECTION}"))
}

/// Whether `line` is the kernel's `sched_ext: BPF scheduler "<name>"
/// disabled (<reason>)` with a reason that is not clean.
fn is_ejection(line: &str) -> bool {
    let Some(at) = line.find("sched_ext: BPF scheduler \"") else {
        return false;
    };
    let rest = &line[at..];
    let Some(open) = rest.find("\" disabled (") else {
        return false;
    };
    let reason = &rest[open + "\" disabled (".len()..];
    let reason = reason.strip_suffix(')').unwrap_or(reason);
    !CLEAN_DISABLE_REASONS.contains(&reason)
}

/// Patterns for kernel problems, most specific first.
const PROBLEM_PATTERNS: &[(&str, Problem)] = &[
    ("Kernel panic", Problem::Panic),
    ("soft lockup", Problem::SoftLockup),
    ("self-detected stall", Problem::RcuStall),
    ("detected stalls on CPUs/tasks", Problem::RcuStall),
    ("blocked for more than", Problem::HungTask),
    ("Oops:", Problem::Oops),
    ("BUG:", Problem::Bug),
    ("WARNING:", Problem::Warning),
];

/// Classify one console line (trailing `\r` and whitespace ignored).
pub fn classify(line: &str) -> Line<'_> {
    let line = line.trim_end();
    if line == START_MARKER {
        return Line::Start;
    }
    if let Some(code) = line.strip_prefix(EXIT_PREFIX) {
        if let Ok(code) = code.parse() {
            return Line::Exit(code);
        }
    }
    if let Some(result) = parse_test_result(line) {
        return Line::Test(result);
    }
    if line.trim_start().starts_with(PROTOCOL_PREFIX) {
        return Line::Other;
    }
    if is_ejection(line) {
        return Line::Problem(Problem::Ejection);
    }
    if is_requested_ejection(line) {
        return Line::RequestedEjection;
    }
    PROBLEM_PATTERNS
        .iter()
        .find(|(pattern, _)| line.contains(pattern))
        .map_or(Line::Other, |&(_, problem)| Line::Problem(problem))
}

fn parse_test_result(line: &str) -> Option<TestResult<'_>> {
    let rest = line.strip_prefix(TEST_PREFIX)?;
    let (name, verdict) = rest.split_once(' ')?;
    if name.is_empty() {
        return None;
    }
    if verdict == "PASS" {
        return Some(TestResult { name, passed: true, reason: "" });
    }
    let reason = verdict.strip_prefix("FAIL")?;
    if !(reason.is_empty() || reason.starts_with(' ')) {
        return None;
    }
    Some(TestResult { name, passed: false, reason: reason.trim() })
}

/// Prefixes of a blob the guest sends: `relay-blob-begin: NAME BYTES`, then
/// `relay-blob: NAME LINE` (base64, as `base64` wraps it), then
/// `relay-blob-end: NAME` (tests/vm/run/record.sh, bench.sh's machine
/// recording).
const BLOB_BEGIN: &str = "relay-blob-begin: ";
const BLOB_LINE: &str = "relay-blob: ";
const BLOB_END: &str = "relay-blob-end: ";

/// The blob `name` among the console's `lines`, decoded; `Ok(None)` when
/// it never began; an error when it has no end line, or its length is not
/// the one its begin line announced (a line lost or cut).
pub fn blob(lines: &[String], name: &str) -> anyhow::Result<Option<Vec<u8>>> {
    use anyhow::{bail, Context as _};
    let of = |line: &str, prefix: &str| -> Option<String> {
        let rest = line.trim().strip_prefix(prefix)?;
        let (n, value) = rest.split_once(' ').unwrap_or((rest, ""));
        (n == name).then(|| value.trim().to_owned())
    };
    let Some(begin) = lines.iter().position(|l| of(l, BLOB_BEGIN).is_some()) else { return Ok(None) };
    let announced: usize = of(&lines[begin], BLOB_BEGIN)
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("blob {name}: no length on its begin line"))?;
    let mut text = String::new();
    let mut ended = false;
    for line in &lines[begin + 1..] {
        if let Some(part) = of(line, BLOB_LINE) {
            text.push_str(&part);
        } else if of(line, BLOB_END).is_some() {
            ended = true;
            break;
        }
    }
    if !ended {
        bail!("blob {name}: no end line");
    }
    let bytes = base64_decode(&text).with_context(|| format!("blob {name}: not base64"))?;
    if bytes.len() != announced {
        bail!("blob {name}: {} bytes where {announced} were announced", bytes.len());
    }
    Ok(Some(bytes))
}

/// Standard base64 (`base64`'s output, newlines removed).
fn base64_decode(text: &str) -> anyhow::Result<Vec<u8>> {
    use anyhow::{bail, ensure};
    let value = |c: u8| -> anyhow::Result<u32> {
        Ok(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => bail!("byte {c:#x} is not base64"),
        }
        .into())
    };
    let bytes = text.as_bytes();
    ensure!(bytes.len().is_multiple_of(4), "{} characters, not a multiple of 4", bytes.len());
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let groups = bytes.len() / 4;
    for (k, chunk) in bytes.chunks(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        ensure!(pad <= 2, "more than two '=' in a group");
        ensure!(pad == 0 || k + 1 == groups, "'=' before the end");
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = n << 6 | value(c)?;
        }
        n <<= 6 * pad as u32;
        out.extend_from_slice(&n.to_be_bytes()[1..4 - pad]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_lines() {
        assert_eq!(classify("relay-guest: start"), Line::Start);
        assert_eq!(classify("relay-guest: start\r"), Line::Start);
        assert_eq!(classify("relay-guest: exit 0"), Line::Exit(0));
        assert_eq!(classify("relay-guest: exit 137\r"), Line::Exit(137));
        assert_eq!(classify("relay-guest: exit"), Line::Other);
        assert_eq!(classify("relay-guest: exit zero"), Line::Other);
        assert_eq!(classify("relay-guest: starting"), Line::Other);
    }

    #[test]
    fn test_results() {
        assert_eq!(
            classify("relay-test: kernel_has_sched_ext PASS"),
            Line::Test(TestResult { name: "kernel_has_sched_ext", passed: true, reason: "" })
        );
        assert_eq!(
            classify("relay-test: foo FAIL state is enabled, BUG: not really"),
            Line::Test(TestResult { name: "foo", passed: false, reason: "state is enabled, BUG: not really" })
        );
        assert_eq!(classify("relay-test: foo FAIL"), Line::Test(TestResult { name: "foo", passed: false, reason: "" }));
        assert_eq!(classify("relay-test: foo FAILED"), Line::Other);
        assert_eq!(classify("relay-test: foo maybe"), Line::Other);
    }

    #[test]
    fn kernel_problems() {
        let cases = [
            ("[   12.3] Kernel panic - not syncing: Attempted to kill init!", Problem::Panic),
            ("[    5.0] BUG: kernel NULL pointer dereference, address: 0", Problem::Bug),
            ("[    5.0] WARNING: CPU: 1 PID: 77 at kernel/sched/ext.c:1234", Problem::Warning),
            ("[   30.1] watchdog: BUG: soft lockup - CPU#2 stuck for 26s!", Problem::SoftLockup),
            ("[   40.0] rcu: INFO: rcu_sched self-detected stall on CPU", Problem::RcuStall),
            ("[   40.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:", Problem::RcuStall),
            ("[    1.2] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI", Problem::Oops),
            ("[  123.0] INFO: task kworker/0:1:12 blocked for more than 120 seconds.", Problem::HungTask),
        ];
        for (line, problem) in cases {
            assert_eq!(classify(line), Line::Problem(problem), "{line}");
        }
        assert!(Problem::Panic.is_fatal());
        assert!(!Problem::Warning.is_fatal());
    }

    /// An ejection is a problem; a clean unregistration is not.
    #[test]
    fn ejections_are_problems() {
        for line in [
            "[  812.4] sched_ext: BPF scheduler \"scx_relay_0.1.0_x86_64_unknown_linux_gnu\" disabled (runnable task stall)",
            "[   99.0] sched_ext: BPF scheduler \"scx_relay\" disabled (runtime error)",
            "sched_ext: BPF scheduler \"scx_relay\" disabled (scx_bpf_error)",
        ] {
            assert_eq!(classify(line), Line::Problem(Problem::Ejection), "{line}");
        }
        for reason in CLEAN_DISABLE_REASONS {
            let line = format!("[   5.0] sched_ext: BPF scheduler \"scx_relay\" disabled ({reason})");
            assert_eq!(classify(&line), Line::Other, "{line}");
        }
        assert!(!Problem::Ejection.is_fatal());
    }

    /// The message of a test's requested ejection is recognised, and is the
    /// dispatcher's.
    #[test]
    fn requested_ejections() {
        let line = format!(
            "[  18.879258] sched_ext: scx_relay_0.1.0_x86_64_unknown_linux_gnu: src/bpf/main.bpf.c:1682: {REQUESTED_EJECTION}"
        );
        assert_eq!(classify(&line), Line::RequestedEjection);
        assert_eq!(classify(&format!("{line} and more")), Line::Other);
        assert_eq!(classify(&format!("relay-note: x: sched_ext: y: {REQUESTED_EJECTION}")), Line::Other);
        let bpf = include_str!("../../src/bpf/main.bpf.c");
        assert!(bpf.contains(&format!("scx_bpf_error(\"{REQUESTED_EJECTION}\")")));
    }

    #[test]
    fn ordinary_lines_are_not_problems() {
        for line in [
            "stress-ng: info:  [85] successful run completed in 3.01s",
            "Running in process mode with 2 groups using 40 file descriptors each",
            "[    0.9] sched_ext: BPF scheduler \"relay\" enabled",
            "relay-guest: note: WARNING: printed by a script",
            "",
        ] {
            assert_eq!(classify(line), Line::Other, "{line}");
        }
    }

    /// A blob comes back whole, or not at all: no end line, a line lost,
    /// a stray byte.
    #[test]
    fn blobs_whole_or_refused() {
        let lines = |v: &[&str]| v.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>();
        let sent = [
            "relay-blob-begin: m 5",
            "relay-blob: m aGVs",
            "relay-blob: other AAAA",
            "relay-blob: m bG8=\r",
            "relay-blob-end: m",
        ];
        assert_eq!(blob(&lines(&sent), "m").unwrap().as_deref(), Some(&b"hello"[..]));
        assert_eq!(blob(&lines(&sent), "n").unwrap(), None);
        let e = blob(&lines(&sent[..4]), "m").unwrap_err().to_string();
        assert!(e.contains("no end line"), "{e}");
        let lost = [sent[0], sent[1], sent[4]];
        let e = blob(&lines(&lost), "m").unwrap_err().to_string();
        assert!(e.contains("3 bytes where 5"), "{e}");
        let garbled = [sent[0], "relay-blob: m aG*s", sent[3], sent[4]];
        assert!(blob(&lines(&garbled), "m").is_err());
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        assert!(base64_decode("YQ==YQ==").is_err(), "padding inside");
        assert!(base64_decode("YWJ").is_err());
    }
}
