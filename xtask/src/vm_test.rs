//! `cargo xtask vm-test [FILTER...]`: run the guest test cases of
//! `tests/vm/` in one boot (two when [`NOHZ_FULL_CASES`] are selected: they
//! get a boot with `nohz_full=`) and report `vm-test: N passed, M failed`.
//!
//! A case is any `tests/vm/<name>.sh`; adding a case is dropping a script
//! there (see `tests/vm/lib/common.sh` for the helpers). The guest runner
//! `tests/vm/lib/run-cases.sh` runs the selected cases in order; the host
//! reads their `relay-test:` lines. A case passes only if it reported
//! `PASS` and nothing reported `FAIL` for it; a selected case with no
//! verdict (the guest died, the run timed out) counts as failed. Kernel
//! problem lines or a timeout fail the run even if every case passed.

use std::{collections::BTreeMap, fs};

use anyhow::{bail, Context, Result};

use crate::{
    console::{self, Line},
    crates_io_tool, guest_binaries,
    guest_kernel::{GuestKernel, KernelOptions},
    initramfs,
    qemu::{self, BootOutcome, BootSpec, VmOptions},
    setup,
    workspace::Workspace,
};

/// The guest payload that runs the cases.
const RUNNER: &str = "lib/run-cases.sh";
/// Kernel command lines are at most 2048 bytes on x86: the case selection's
/// parameters ([`case_params`]) may take this many.
const MAX_CASE_LIST_LEN: usize = 1024;

/// The oldest kernel series of the tested matrix (README, "Kernels"):
/// `cargo xtask test` runs [`SMOKE_CASES`] on it after the full suite on
/// the newest.
pub const OLDEST_KERNEL: &str = "6.19";

/// The smoke subset (`--smoke`): sched_ext is there, every program passes
/// the verifier, scx_relay schedules hackbench and upstream's stress recipe
/// without a safety net firing, an ejection's dump carries our state, and
/// sysrq-S turns it off. About two minutes.
pub const SMOKE_CASES: &[&str] = &[
    "kernel_has_sched_ext",
    "scx_relay_verifier_report",
    "scx_relay_hackbench",
    "scx_relay_stress_deadline",
    "scx_relay_exit_dump",
    "scx_relay_sysrq",
];

/// The long cases: left out of the suite (`cargo xtask test`, and
/// `vm-test` without `--long`) to keep a CI run under its time budget, and
/// run by hand with `cargo xtask soak` or `vm-test --long`. The soak (about
/// 190 s in CI form) and the recipe tally (upstream's stress recipe under
/// each policy but deadline and fifo, about 190 s): the recipe itself stays
/// in the suite under deadline and fifo (`scx_relay_stress_*`). The ext
/// server trace (reliability_rt_pressure's load 8 times, traced, about 4
/// minutes). [`SCXTOP_CASE`], whose tool takes about 25 minutes to
/// build. And the tickless case with a realtime task on the user
/// scheduler's CPU, whose run in the emulator takes minutes (in the
/// [`NOHZ_FULL_CASES`] boot).
pub const LONG_CASES: &[&str] = &[
    "reliability_ext_server_trace",
    "reliability_recipe_tally",
    "reliability_soak",
    SCXTOP_CASE,
    "reliability_tickless_held",
];

/// The case that reads scx_relay's metrics through upstream scxtop: `vm-test`
/// builds scxtop into `.cache/scxtop/` first when it is selected.
pub const SCXTOP_CASE: &str = "scx_relay_scxtop";

/// The cases that need CPUs whose periodic tick can stop: they run in a
/// boot of their own, with `nohz_full=` ([`nohz_full_param`]) on the kernel
/// command line (the rest of the suite runs with every CPU ticking, as a
/// desktop or server kernel does by default).
pub const NOHZ_FULL_CASES: &[&str] = &["scx_relay_tickless", "reliability_tickless_held"];

/// The kernel parameter of the [`NOHZ_FULL_CASES`] boot: the upper half of
/// the guest's `cpus` CPUs run tickless, CPU 0 and the lower half keep the
/// housekeeping (timers, RCU callbacks, unbound kernel threads).
pub fn nohz_full_param(cpus: u32) -> Result<String> {
    if cpus < 2 {
        bail!("the nohz_full cases ({}) need at least 2 guest CPUs (--cpus {cpus})", NOHZ_FULL_CASES.join(", "));
    }
    Ok(format!("nohz_full={}-{}", cpus / 2, cpus - 1))
}

/// Options of `cargo xtask vm-test`.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Run only cases whose name contains one of these strings.
    #[arg(value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Run the smoke subset only (what `cargo xtask test` runs on the
    /// oldest kernel of the matrix, with `--kernel 6.19`).
    #[arg(long, conflicts_with = "filters")]
    pub smoke: bool,
    /// Include the long cases (`LONG_CASES`: the soak, the recipe tally,
    /// the ext server trace and scxtop), which the suite leaves out; a
    /// filter that names one of them exactly selects it without this.
    #[arg(long, conflicts_with = "smoke")]
    pub long: bool,
    /// Time limit for each case inside the guest, in seconds.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub case_timeout_s: u64,
    /// A case's knob: exported to the cases as `RELAY_<KEY>` (upper case),
    /// e.g. `--set weight_policies=deadline,eevdf` (repeatable; KEY of
    /// a-z, 0-9 and `_`, VALUE without spaces).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = knob)]
    pub knobs: Vec<String>,
    /// Guest machine and limits. Without --timeout-s, a boot may last
    /// 600 s, or 60 s plus the case timeout per case if that is longer.
    #[command(flatten)]
    pub vm: VmOptions,
    /// Guest kernel options.
    #[command(flatten)]
    pub kernel: KernelOptions,
}

/// Counts of one vm-test run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed or gave no verdict.
    pub failed: usize,
    /// Each failed case with its reason (`name: reason`), so a summary
    /// at the end of a long log can name them.
    pub failures: Vec<String>,
    /// Whether the run as a whole passed (all cases, guest exit 0, no
    /// kernel problems, no timeout).
    pub ok: bool,
}

impl Report {
    /// Count one failed case and print it as `vm-test: FAILED name: reason`.
    fn fail(&mut self, what: String) {
        println!("vm-test: FAILED {what}");
        self.failed += 1;
        self.failures.push(what);
    }
}

impl Options {
    /// The filters in force: [`SMOKE_CASES`] with `--smoke`.
    fn filters(&self) -> Vec<String> {
        if self.smoke {
            SMOKE_CASES.iter().map(|&c| c.to_owned()).collect()
        } else {
            self.filters.clone()
        }
    }

    /// The cases this run selects from `cases`: those the filters match,
    /// without the long cases unless `--long` is given or a filter names
    /// one exactly.
    pub fn select(&self, cases: &[String]) -> Vec<String> {
        let filters = self.filters();
        select(cases, &filters)
            .into_iter()
            .filter(|case| self.long || !LONG_CASES.contains(&case.as_str()) || filters.contains(case))
            .collect()
    }
}

/// A `--set` argument as the guest's `relay.<key>=<value>` kernel parameter.
fn knob(arg: &str) -> std::result::Result<String, String> {
    let (key, value) = arg.split_once('=').ok_or("expected KEY=VALUE")?;
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(format!("KEY {key:?} must be made of a-z, 0-9 and _"));
    }
    if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control() || c == '"') {
        return Err(format!("VALUE {value:?} must be non-empty, without spaces or quotes"));
    }
    Ok(format!("relay.{key}={value}"))
}

/// Run the subcommand.
pub fn run(opts: &Options) -> Result<bool> {
    let ws = Workspace::locate()?;
    let kernel = setup::prepare(&ws, &opts.kernel);
    let report = kernel
        .and_then(|kernel| guest_binaries::build_workspace_binaries(&ws).map(|()| kernel))
        .and_then(|kernel| build_case_tools(&ws, opts).map(|()| kernel))
        .and_then(|kernel| run_cases(&ws, &kernel, opts));
    match report {
        Ok(report) => Ok(report.ok),
        Err(err) => {
            // The guest could not run at all: that is a failure, never a skip.
            let selected = discover_cases(&ws).map(|cases| opts.select(&cases).len()).unwrap_or(0).max(1);
            println!("vm-test: 0 passed, {selected} failed");
            Err(err)
        }
    }
}

/// Build the upstream tools the selected cases need (scxtop for
/// [`SCXTOP_CASE`]).
fn build_case_tools(ws: &Workspace, opts: &Options) -> Result<()> {
    if opts.select(&discover_cases(ws)?).iter().any(|case| case == SCXTOP_CASE) {
        crates_io_tool::SCXTOP.ensure(ws, crates_io_tool::SCXTOP_VERSION)?;
    }
    Ok(())
}

/// Boot (once, or twice: see [`run_cases_with`]), run the selected cases,
/// print the summary line.
pub fn run_cases(ws: &Workspace, kernel: &GuestKernel, opts: &Options) -> Result<Report> {
    run_cases_with(ws, kernel, opts, &[])
}

/// [`run_cases`], with extra `relay.<key>=<value>` kernel parameters: the
/// guest exports each as `RELAY_<KEY>` to the cases (knobs such as
/// `relay.soak_seconds=600`). The selected [`NOHZ_FULL_CASES`] run in a
/// second boot, with `nohz_full=`; the report counts both boots.
pub fn run_cases_with(ws: &Workspace, kernel: &GuestKernel, opts: &Options, extra: &[String]) -> Result<Report> {
    let cases = discover_cases(ws)?;
    let selected = opts.select(&cases);
    if selected.is_empty() {
        bail!(
            "no case in {} matches {:?} (cases: {})",
            ws.guest_scripts_dir().display(),
            opts.filters(),
            cases.join(", ")
        );
    }
    let (nohz_full, ticking): (Vec<String>, Vec<String>) =
        selected.into_iter().partition(|case| NOHZ_FULL_CASES.contains(&case.as_str()));
    let mut boots = Vec::new();
    if !ticking.is_empty() {
        boots.push(("vm-test", ticking, Ok(extra.to_vec())));
    }
    if !nohz_full.is_empty() {
        let params = nohz_full_param(opts.vm.cpus).map(|param| [extra, &[param]].concat());
        boots.push(("vm-test-nohz-full", nohz_full, params));
    }
    let several = boots.len() > 1;
    let mut report = Report { passed: 0, failed: 0, failures: Vec::new(), ok: true };
    for (label, selected, params) in boots {
        let one = params.and_then(|params| boot_cases(ws, kernel, opts, &cases, &selected, label, &params));
        match one {
            Ok(one) => {
                report.passed += one.passed;
                report.failed += one.failed;
                report.failures.extend(one.failures);
                report.ok &= one.ok;
            }
            // One boot could not run: its cases fail, the other boot's
            // verdicts stand.
            Err(err) if several => {
                for case in &selected {
                    report.fail(format!("{case}: {label}: {err:#}"));
                }
                report.ok = false;
            }
            Err(err) => return Err(err),
        }
    }
    if several {
        println!("vm-test: in all: {} passed, {} failed", report.passed, report.failed);
    }
    Ok(report)
}

/// One boot that runs `selected` (of `cases`), with the extra kernel
/// parameters `extra`.
fn boot_cases(
    ws: &Workspace,
    kernel: &GuestKernel,
    opts: &Options,
    cases: &[String],
    selected: &[String],
    label: &str,
    extra: &[String],
) -> Result<Report> {
    println!(
        "vm-test: cases{}: {}",
        if label == "vm-test" { String::new() } else { format!(" ({label})") },
        selected.join(" ")
    );
    let image = initramfs::build(ws, "vm-test").context("cannot build the initramfs")?;
    note_optional_binaries(&image);

    let case_params = case_params(cases, selected);
    if case_params.iter().map(String::len).sum::<usize>() > MAX_CASE_LIST_LEN {
        bail!("too many cases selected for the kernel command line; use fewer filters");
    }
    let mut vm = opts.vm.clone();
    if vm.timeout_s.is_none() {
        let per_case = 60 + opts.case_timeout_s.saturating_mul(selected.len() as u64);
        vm.timeout_s = Some(per_case.max(qemu::DEFAULT_TIMEOUT_S));
    }
    let spec = BootSpec {
        label,
        kernel,
        initramfs: &image.path,
        params: [format!("relay.payload={RUNNER}"), format!("relay.case_timeout_s={}", opts.case_timeout_s)]
            .into_iter()
            .chain(case_params)
            .chain(extra.iter().cloned())
            .chain(opts.knobs.iter().cloned())
            .collect(),
        vm: &vm,
    };
    let outcome = qemu::boot(ws, &spec)?;
    let report = tally(selected, &outcome);
    println!("vm-test: {} passed, {} failed", report.passed, report.failed);
    Ok(report)
}

/// The kernel parameters that tell the guest runner which cases to run:
/// `relay.cases=all` when every case is selected; `relay.cases=all` and
/// `relay.skip=<the others>` when naming the cases left out is shorter (the
/// suite leaves out only [`LONG_CASES`]); else `relay.cases=<each case>`.
fn case_params(cases: &[String], selected: &[String]) -> Vec<String> {
    let skipped: Vec<&str> = cases.iter().filter(|case| !selected.contains(case)).map(String::as_str).collect();
    if skipped.is_empty() {
        vec!["relay.cases=all".to_owned()]
    } else if skipped.join(",").len() < selected.join(",").len() {
        vec!["relay.cases=all".to_owned(), format!("relay.skip={}", skipped.join(","))]
    } else {
        vec![format!("relay.cases={}", selected.join(","))]
    }
}

/// Print which optional binaries made it into the image.
pub fn note_optional_binaries(image: &initramfs::Initramfs) {
    for name in &image.optional_included {
        println!("vm: including {name}");
    }
    for name in &image.optional_missing {
        println!("vm: {name} not built; the guest runs without it");
    }
}

/// Case names: `tests/vm/<name>.sh`, sorted.
pub fn discover_cases(ws: &Workspace) -> Result<Vec<String>> {
    let dir = ws.guest_scripts_dir();
    let mut cases = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry.with_context(|| format!("cannot list {}", dir.display()))?.path();
        if !path.is_file() || path.extension().is_none_or(|ext| ext != "sh") {
            continue;
        }
        if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
            if !stem.starts_with('.') {
                cases.push(stem.to_owned());
            }
        }
    }
    cases.sort();
    Ok(cases)
}

/// The cases whose name contains one of `filters` (all when none).
fn select(cases: &[String], filters: &[String]) -> Vec<String> {
    cases
        .iter()
        .filter(|case| filters.is_empty() || filters.iter().any(|f| case.contains(f.as_str())))
        .cloned()
        .collect()
}

/// Count verdicts per selected case and decide whether the run passed.
fn tally(selected: &[String], outcome: &BootOutcome) -> Report {
    #[derive(Default)]
    struct Verdict {
        pass: bool,
        fail_reasons: Vec<String>,
    }
    let mut verdicts: BTreeMap<&str, Verdict> = BTreeMap::new();
    for line in &outcome.lines {
        if let Line::Test(result) = console::classify(line) {
            let verdict = verdicts.entry(result.name).or_default();
            if result.passed {
                verdict.pass = true;
            } else {
                verdict.fail_reasons.push(result.reason.to_owned());
            }
        }
    }
    let mut report = Report { passed: 0, failed: 0, failures: Vec::new(), ok: true };
    for case in selected {
        match verdicts.get(case.as_str()) {
            Some(v) if v.pass && v.fail_reasons.is_empty() => report.passed += 1,
            Some(v) if !v.fail_reasons.is_empty() => {
                report.fail(format!("{case}: {}", v.fail_reasons.join("; ")));
            }
            _ => {
                report.fail(format!("{case}: no verdict ({})", outcome.summary()));
            }
        }
    }
    for name in verdicts.keys() {
        if !selected.iter().any(|case| case == name) {
            println!("vm-test: note: verdict for unselected case {name} ignored");
        }
    }
    for problem in &outcome.problems {
        println!("vm-test: kernel problem: {problem}");
    }
    report.ok = report.failed == 0 && outcome.passed();
    if report.failed == 0 && !outcome.passed() {
        println!("vm-test: run failed although every case passed: {}", outcome.summary());
    }
    report
}

#[cfg(test)]
mod tests {
    use std::{path::PathBuf, time::Duration};

    use super::*;
    use crate::qemu::GuestEnd;

    #[test]
    fn knobs_become_relay_parameters_and_bad_ones_are_refused() {
        assert_eq!(knob("weight_policies=deadline,eevdf").as_deref(), Ok("relay.weight_policies=deadline,eevdf"));
        for bad in ["noequals", "=x", "Key=x", "a.b=x", "k=", "k=a b", "k=a\"b"] {
            assert!(knob(bad).is_err(), "{bad} accepted");
        }
    }

    fn outcome(end: GuestEnd, lines: &[&str], problems: &[&str]) -> BootOutcome {
        BootOutcome {
            end,
            problems: problems.iter().map(|s| (*s).to_owned()).collect(),
            lines: lines.iter().map(|s| (*s).to_owned()).collect(),
            log_path: PathBuf::from("/dev/null"),
            attempts: 1,
            boot_time: Duration::ZERO,
            run_time: Duration::ZERO,
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn filters_select_by_substring() {
        let cases = names(&["kernel_has_sched_ext", "stall_fallback", "sigstop"]);
        assert_eq!(select(&cases, &[]), cases);
        assert_eq!(select(&cases, &names(&["st"])), names(&["stall_fallback", "sigstop"]));
        assert!(select(&cases, &names(&["nothing"])).is_empty());
    }

    #[test]
    fn the_suite_leaves_out_the_long_cases_unless_asked_or_named() {
        let cases = names(&["kernel_has_sched_ext", "reliability_recipe_tally", "reliability_soak", "sigstop"]);
        let opts = |filters: &[&str], long: bool| Options {
            filters: names(filters),
            smoke: false,
            long,
            case_timeout_s: 300,
            knobs: Vec::new(),
            vm: VmOptions {
                timeout_s: None,
                boot_timeout_s: 180,
                cpus: 4,
                memory: "2G".to_owned(),
                parallel_vcpus: false,
            },
            kernel: KernelOptions::default(),
        };
        assert_eq!(opts(&[], false).select(&cases), names(&["kernel_has_sched_ext", "sigstop"]));
        assert_eq!(opts(&[], true).select(&cases), cases);
        assert_eq!(opts(&["reliability"], false).select(&cases), Vec::<String>::new());
        assert_eq!(opts(&["reliability_soak"], false).select(&cases), names(&["reliability_soak"]));
        assert_eq!(
            opts(&["reliability"], true).select(&cases),
            names(&["reliability_recipe_tally", "reliability_soak"])
        );
    }

    #[test]
    fn case_params_name_the_shorter_list() {
        let cases = names(&["a_long_case_name", "b_long_case_name", "c"]);
        assert_eq!(case_params(&cases, &cases), ["relay.cases=all"]);
        assert_eq!(
            case_params(&cases, &names(&["a_long_case_name", "b_long_case_name"])),
            ["relay.cases=all", "relay.skip=c"]
        );
        assert_eq!(case_params(&cases, &names(&["c"])), ["relay.cases=c"]);
    }

    #[test]
    fn all_pass() {
        let out = outcome(
            GuestEnd::Exited(0),
            &["relay-guest: start", "relay-test: a PASS", "relay-test: b PASS", "relay-guest: exit 0"],
            &[],
        );
        let report = tally(&names(&["a", "b"]), &out);
        assert_eq!((report.passed, report.failed, report.ok), (2, 0, true));
    }

    #[test]
    fn missing_and_contradicting_verdicts_fail() {
        let out = outcome(
            GuestEnd::Exited(2),
            &["relay-test: a PASS", "relay-test: a FAIL reported PASS but exited with status 1"],
            &[],
        );
        let report = tally(&names(&["a", "b"]), &out);
        assert_eq!((report.passed, report.failed, report.ok), (0, 2, false));
        assert_eq!(report.failures.len(), 2);
        assert!(report.failures[0].starts_with("a: reported PASS but exited"), "{:?}", report.failures);
        assert!(report.failures[1].starts_with("b: no verdict"), "{:?}", report.failures);
    }

    #[test]
    fn kernel_problems_fail_the_run_but_not_the_count() {
        let out =
            outcome(GuestEnd::Exited(0), &["relay-test: a PASS"], &["WARNING: CPU: 0 PID: 1 at kernel/sched/ext.c:1"]);
        let report = tally(&names(&["a"]), &out);
        assert_eq!((report.passed, report.failed, report.ok), (1, 0, false));
    }

    #[test]
    fn timeout_fails_the_run() {
        let out = outcome(GuestEnd::TimedOut, &["relay-test: a PASS"], &[]);
        assert!(!tally(&names(&["a"]), &out).ok);
    }

    /// Every smoke and long case exists, each filter selects exactly its
    /// case (a renamed case would shrink the smoke run, or put a long case
    /// back in the suite, without a word), and the
    /// oldest kernel is a series.
    #[test]
    fn smoke_cases_exist_one_each() {
        let cases = discover_cases(&Workspace::locate().unwrap()).unwrap();
        for case in SMOKE_CASES.iter().chain(LONG_CASES).chain(NOHZ_FULL_CASES) {
            assert_eq!(select(&cases, &[(*case).to_owned()]), [(*case).to_owned()], "{case}");
        }
        assert!(OLDEST_KERNEL
            .split_once('.')
            .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok()));
    }

    #[test]
    fn nohz_full_takes_the_upper_half_of_the_cpus() {
        assert_eq!(nohz_full_param(4).unwrap(), "nohz_full=2-3");
        assert_eq!(nohz_full_param(2).unwrap(), "nohz_full=1-1");
        assert_eq!(nohz_full_param(5).unwrap(), "nohz_full=2-4");
        assert!(nohz_full_param(1).unwrap_err().to_string().contains("at least 2 guest CPUs"));
    }
}
