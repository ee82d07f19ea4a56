//! `cargo xtask test`: the project's single test command.
//!
//! Stages, each run even if an earlier one failed (so one run shows every
//! problem): host setup and the guest kernel, `cargo test --workspace`,
//! the gates (`cargo fmt --all --check`, `cargo clippy --workspace
//! --all-targets -- -D warnings`, `clang-format --dry-run --Werror` on the
//! BPF sources),
//! `cargo build --release -p scx_relay --bins --examples`, then every VM test case in one
//! boot but the long ones (`vm_test::LONG_CASES`, run by hand). The last line is `summary: N passed, M failed`, counting every
//! test: each `cargo test` test (summed from libtest's `test result:`
//! lines), each VM case, and one failure for each failed stage (a failed
//! setup or build, a VM run that failed on kernel warnings or a timeout
//! while its cases passed, a test binary that failed to build or run).
//! Just above it, `failed: ...` lines name every failure, so the tail of a
//! long log says what failed.

use std::process::Command;

use anyhow::Result;

use crate::{
    guest_binaries,
    guest_kernel::KernelOptions,
    qemu::VmOptions,
    setup,
    vm_test::{self, Report},
    workspace::Workspace,
};

/// Options of `cargo xtask test`.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Time limit for each VM case inside the guest, in seconds.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub case_timeout_s: u64,
    /// Guest machine and limits.
    #[command(flatten)]
    pub vm: VmOptions,
    /// Guest kernel options.
    #[command(flatten)]
    pub kernel: KernelOptions,
}

/// Pass/fail counts across stages and tests.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    /// What failed, one line each, printed again above the summary.
    failures: Vec<String>,
}

/// `(passed, failed)` from one libtest summary line
/// (`test result: ok. 12 passed; 0 failed; 0 ignored; ...`).
fn libtest_counts(line: &str) -> Option<(usize, usize)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let number_before = |word: &str| -> Option<usize> {
        let idx = rest.find(word)?;
        rest[..idx].split_whitespace().last()?.trim_end_matches(';').parse().ok()
    };
    Some((number_before(" passed")?, number_before(" failed")?))
}

impl Tally {
    /// Report a stage whose tests were already counted.
    fn stage_quiet(&mut self, name: &str, result: Result<()>) {
        match result {
            Ok(()) => println!("xtask test: {name}: ok"),
            Err(err) => {
                println!("xtask test: {name}: FAILED: {err:#}");
                self.failures.push(format!("{name}: {err:#}"));
            }
        }
    }

    /// Record a guest run of `cases` cases: its counts, plus one failure
    /// if the run failed with every case passed (a kernel problem, a
    /// timeout), or all `cases` failed if the guest could not run.
    fn vm(&mut self, name: &str, report: Result<Report>, cases: usize) {
        match report {
            Ok(Report { passed, failed, failures, ok }) => {
                self.passed += passed;
                self.failed += failed;
                self.failures.extend(failures.into_iter().map(|case| format!("{name}: {case}")));
                if failed == 0 && !ok {
                    println!("xtask test: {name}: FAILED: the VM run failed (see above)");
                    self.failed += 1;
                    self.failures.push(format!("{name}: the VM run failed although every case passed"));
                }
            }
            Err(err) => {
                println!("xtask test: {name}: FAILED: {err:#}");
                self.failed += cases;
                self.failures.push(format!("{name}: {err:#} ({cases} case(s) counted failed)"));
            }
        }
    }

    /// Record a host stage: a failure counts as one failed test.
    fn stage(&mut self, name: &str, result: Result<()>) {
        match result {
            Ok(()) => {
                println!("xtask test: {name}: ok");
            }
            Err(err) => {
                println!("xtask test: {name}: FAILED: {err:#}");
                self.failed += 1;
                self.failures.push(format!("{name}: {err:#}"));
            }
        }
    }
}

/// Run every stage; `Ok(false)` when any failed.
pub fn run(opts: &Options) -> Result<bool> {
    let ws = Workspace::locate()?;
    let mut tally = Tally::default();

    let kernel = setup::prepare(&ws, &opts.kernel);
    let kernel = match kernel {
        Ok(kernel) => {
            tally.stage("setup", Ok(()));
            Some(kernel)
        }
        Err(err) => {
            tally.stage("setup", Err(err));
            None
        }
    };

    // --no-fail-fast: one failing test binary must not hide the others.
    let (passed, failed, failed_tests, result) = cargo_test(&ws);
    tally.passed += passed;
    tally.failed += failed;
    tally.failures.extend(failed_tests.into_iter().map(|test| format!("cargo test: {test}")));
    if result.is_err() && failed == 0 {
        tally.failed += 1; // a build or harness failure, not a failed test
    }
    tally.stage_quiet("cargo test --workspace", result);
    // Each gate is one test: passed or failed.
    for gate in GATES {
        let result = run_cargo(&ws, gate);
        tally.passed += usize::from(result.is_ok());
        tally.stage(&format!("cargo {}", gate.join(" ")), result);
    }
    let result = bpf_format_gate(&ws);
    tally.passed += usize::from(result.is_ok());
    tally.stage("clang-format --dry-run --Werror (BPF sources)", result);
    tally.stage(guest_binaries::BUILD_COMMAND, guest_binaries::build_workspace_binaries(&ws));

    let vm_opts = vm_test::Options {
        filters: Vec::new(),
        smoke: false,
        long: false,
        case_timeout_s: opts.case_timeout_s,
        knobs: Vec::new(),
        vm: opts.vm.clone(),
        kernel: opts.kernel.clone(),
    };
    let report = match &kernel {
        Some(kernel) => vm_test::run_cases(&ws, kernel, &vm_opts),
        None => Err(anyhow::anyhow!("no guest kernel (setup failed)")),
    };
    let all_cases = vm_test::discover_cases(&ws).map_or(1, |cases| vm_opts.select(&cases).len().max(1));
    tally.vm("vm-test", report, all_cases);

    // The smoke subset on the oldest kernel of the matrix, unless that is
    // the kernel the full suite just ran on.
    if opts.kernel.kernel.as_deref() != Some(vm_test::OLDEST_KERNEL) {
        let oldest = KernelOptions { kernel: Some(vm_test::OLDEST_KERNEL.to_owned()), ..opts.kernel.clone() };
        let smoke_opts = vm_test::Options { smoke: true, kernel: oldest.clone(), ..vm_opts };
        let report = setup::prepare(&ws, &oldest).and_then(|kernel| vm_test::run_cases(&ws, &kernel, &smoke_opts));
        tally.vm(&format!("vm-test --smoke --kernel {}", vm_test::OLDEST_KERNEL), report, vm_test::SMOKE_CASES.len());
    }

    for failure in &tally.failures {
        println!("failed: {failure}");
    }
    println!("summary: {} passed, {} failed", tally.passed, tally.failed);
    Ok(tally.failed == 0)
}

/// The gates every change passes, as `cargo` arguments: formatting, and
/// clippy with every warning an error (the workspace's lints included:
/// Cargo.toml's `[workspace.lints]`, clippy.toml).
const GATES: &[&[&str]] =
    &[&["fmt", "--all", "--check"], &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]];

/// The BPF sources the format gate checks; `.clang-format` at the
/// workspace's root gives their style.
pub const BPF_SOURCES: &[&str] = &["src/bpf/main.bpf.c", "src/bpf/intf.h"];

/// The clang-format major version the BPF sources are formatted with
/// (another version formats some constructs differently).
const CLANG_FORMAT_MAJOR: &str = "19";

/// The clang-format to run: `CLANG_FORMAT` if set, else `clang-format-19`
/// (what `cargo xtask setup` installs on Debian), else `clang-format` if
/// it is version 19.
pub fn clang_format() -> Result<std::ffi::OsString> {
    if let Some(tool) = std::env::var_os("CLANG_FORMAT") {
        return Ok(tool);
    }
    let version = |name: &str| {
        Command::new(name)
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let wanted = format!("clang-format-{CLANG_FORMAT_MAJOR}");
    if version(&wanted).is_some() {
        return Ok(wanted.into());
    }
    match version("clang-format") {
        Some(v) if is_major(&v, CLANG_FORMAT_MAJOR) => Ok("clang-format".into()),
        Some(v) => anyhow::bail!(
            "no clang-format {CLANG_FORMAT_MAJOR}: tried CLANG_FORMAT (unset), {wanted} (none), clang-format ({})",
            v.trim()
        ),
        None => anyhow::bail!("no clang-format: tried CLANG_FORMAT (unset), {wanted}, clang-format"),
    }
}

/// Whether `clang-format --version`'s output names major version `major`.
fn is_major(version_output: &str, major: &str) -> bool {
    version_output
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .is_some_and(|v| v.split('.').next() == Some(major))
}

/// `clang-format --dry-run --Werror` on [`BPF_SOURCES`], its complaints
/// streamed through.
fn bpf_format_gate(ws: &Workspace) -> Result<()> {
    let tool = clang_format()?;
    let status = Command::new(&tool)
        .args(["--dry-run", "--Werror", "--style=file"])
        .args(BPF_SOURCES)
        .current_dir(&ws.root)
        .status()?;
    anyhow::ensure!(
        status.success(),
        "the BPF sources are not formatted as .clang-format says ({status}); `cargo xtask fmt-bpf` formats them"
    );
    Ok(())
}

/// `cargo xtask fmt-bpf`: formats [`BPF_SOURCES`] in place.
pub fn format_bpf() -> Result<()> {
    let ws = Workspace::locate()?;
    let tool = clang_format()?;
    let status = Command::new(&tool).args(["-i", "--style=file"]).args(BPF_SOURCES).current_dir(&ws.root).status()?;
    anyhow::ensure!(status.success(), "{} -i failed ({status})", tool.to_string_lossy());
    Ok(())
}

/// `cargo args` in the workspace, its output streamed through.
fn run_cargo(ws: &Workspace, args: &[&str]) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo).args(args).current_dir(&ws.root).status()?;
    anyhow::ensure!(status.success(), "cargo {} failed ({status})", args.join(" "));
    Ok(())
}

/// The name of a failed test from libtest's line `test NAME ... FAILED`.
fn libtest_failure(line: &str) -> Option<&str> {
    line.trim().strip_prefix("test ")?.strip_suffix(" ... FAILED")
}

/// `cargo test --workspace --no-fail-fast`, echoed: passed and failed
/// counts, the failed tests' names, and whether cargo succeeded.
fn cargo_test(ws: &Workspace) -> (usize, usize, Vec<String>, Result<()>) {
    use std::io::{BufRead, BufReader};
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = match Command::new(cargo)
        .args(["test", "--workspace", "--no-fail-fast"])
        .current_dir(&ws.root)
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(err) => return (0, 0, Vec::new(), Err(anyhow::anyhow!("failed to start cargo test: {err}"))),
    };
    let (mut passed, mut failed, mut failed_tests) = (0, 0, Vec::new());
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            if let Some((p, f)) = libtest_counts(&line) {
                passed += p;
                failed += f;
            }
            if let Some(test) = libtest_failure(&line) {
                failed_tests.push(test.to_owned());
            }
        }
    }
    let result = match child.wait() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(anyhow::anyhow!("cargo test failed ({status})")),
        Err(err) => Err(anyhow::anyhow!("cargo test: {err}")),
    };
    (passed, failed, failed_tests, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clang-format's version line is read for its major version.
    #[test]
    fn reads_clang_format_major_version() {
        assert!(is_major("Debian clang-format version 19.1.7 (3~deb12u1)\n", "19"));
        assert!(is_major("clang-format version 19.0.0", "19"));
        assert!(!is_major("clang-format version 18.1.8", "19"));
        assert!(!is_major("Ubuntu clang-format version 191.0", "19"));
        assert!(!is_major("garbage", "19"));
    }

    /// libtest's summary lines are parsed; other lines are not.
    #[test]
    fn parses_libtest_summaries() {
        assert_eq!(
            libtest_counts(
                "test result: ok. 12 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s"
            ),
            Some((12, 0))
        );
        assert_eq!(libtest_counts("test result: FAILED. 3 passed; 2 failed; 1 ignored"), Some((3, 2)));
        assert_eq!(libtest_counts("running 12 tests"), None);
        assert_eq!(libtest_counts("test foo ... ok"), None);
    }

    /// A failed test's name is read from its `... FAILED` line only.
    #[test]
    fn names_failed_tests() {
        assert_eq!(libtest_failure("test run::tests::spawns ... FAILED"), Some("run::tests::spawns"));
        assert_eq!(libtest_failure("test run::tests::spawns ... ok"), None);
        assert_eq!(libtest_failure("test result: FAILED. 3 passed; 2 failed"), None);
    }
}
