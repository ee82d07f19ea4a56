//! `cargo xtask bench-vm`: scx_relay side by side with the kernel's default
//! scheduler (EEVDF) and upstream scx_rustland, in one guest boot.
//!
//! The guest payload `tests/vm/bench/bench.sh` runs, round after round, each
//! workload under each scheduler (the order rotates every round) and prints
//! one raw line per measurement (`relay-bench: <round> <scheduler> <metric>
//! <value>`); this module builds the peer once, boots the guest, parses those
//! lines and writes the medians, their ratios, the targets and the profile of
//! the scheduler process as Markdown (`target/bench-vm/results.md`), the raw
//! lines (`raw.txt`) and a chart of the wakeup-latency percentiles
//! (`latency.svg`); all three are copied to `docs/bench-vm-*` for
//! docs/performance.md. `--from-raw` renders them again from a `raw.txt` without booting.
//!
//! The guest is emulated (TCG) and noisy, so only ratios of medians taken in
//! the same boot mean anything; absolute numbers are shown for context.
//!
//! The peer is the published `scx_rustland` crate, installed with `cargo
//! install --locked` into `.cache/peer/` (gitignored) with its own target
//! directory, once; later runs reuse it.

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{bail, ensure, Context, Result};

use crate::{
    exec, guest_binaries,
    guest_kernel::KernelOptions,
    initramfs,
    qemu::{self, BootSpec, VmOptions},
    setup, vm_test,
    workspace::Workspace,
};

/// The guest payload, relative to `tests/vm/`.
const PAYLOAD: &str = "bench/bench.sh";
/// The peer's crate. 1.1.4 is the newest release at the time of writing and
/// builds with this machine's rustc (1.95; the crate asks for 1.91).
const PEER_CRATE: &str = "scx_rustland";
/// The peer version built by default (pinned, so that results stay comparable).
const PEER_VERSION: &str = "1.1.4";
/// Where the peer is installed, relative to the repository root.
const PEER_ROOT: &str = ".cache/peer";
/// The schedulers the guest knows, in table order.
const SCHEDULERS: [&str; 4] = ["eevdf", "rustland", "deadline", "fifo"];
/// Prefix of the guest's measurement lines.
const LINE_PREFIX: &str = "relay-bench: ";
/// The committed copy of the chart, relative to the repository root.
const DOCS_CHART: &str = "docs/bench-vm-latency.svg";
/// The committed copy of the raw lines, relative to the repository root.
const DOCS_RAW: &str = "docs/bench-vm-raw.txt";
/// The committed copy of the table, relative to the repository root.
const DOCS_RESULTS: &str = "docs/bench-vm-results.md";

/// Options of `cargo xtask bench-vm`.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Rounds; each runs every workload once under every scheduler.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub rounds: u32,
    /// Schedulers to compare (eevdf, rustland, deadline, fifo), comma separated.
    #[arg(long, value_delimiter = ',', default_value = "eevdf,rustland,deadline,fifo", value_name = "LIST")]
    pub schedulers: Vec<String>,
    /// hackbench -g 4 -l LOOPS for the run-time workload.
    #[arg(long, default_value_t = 200, value_name = "LOOPS")]
    pub hackbench_loops: u32,
    /// Length of the cyclictest run under CPU saturation, in seconds.
    #[arg(long, default_value_t = 8, value_name = "SECONDS")]
    pub latency_s: u32,
    /// Length of the stress-ng --switch run, in seconds.
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    pub switch_s: u32,
    /// hackbench -g 4 -l LOOPS for the scheduler-cost window.
    #[arg(long, default_value_t = 100, value_name = "LOOPS")]
    pub cost_loops: u32,
    /// scx_rustland version to build as the peer.
    #[arg(long, default_value = PEER_VERSION, value_name = "VERSION")]
    pub peer_version: String,
    /// Do not copy the table and chart to docs/.
    #[arg(long)]
    pub no_docs: bool,
    /// Do not boot: render the table and chart again from a `raw.txt` an
    /// earlier run wrote.
    #[arg(long, value_name = "PATH")]
    pub from_raw: Option<PathBuf>,
    /// Guest machine and limits (without --timeout-s the limit grows with
    /// the rounds).
    #[command(flatten)]
    pub vm: VmOptions,
    /// Guest kernel options.
    #[command(flatten)]
    pub kernel: KernelOptions,
}

/// Run the subcommand; `Ok(false)` when the guest or a scheduler failed.
pub fn run(opts: &Options) -> Result<bool> {
    let ws = Workspace::locate()?;
    if let Some(raw) = &opts.from_raw {
        let text = fs::read_to_string(raw).with_context(|| format!("cannot read {}", raw.display()))?;
        let kernel = text.lines().find_map(|l| l.strip_prefix("# kernel ")).unwrap_or("unknown").to_owned();
        let command = text.lines().find_map(|l| l.strip_prefix("# command ")).unwrap_or("cargo xtask bench-vm");
        let results = Results::parse(text.lines());
        ensure!(!results.samples.is_empty(), "{} holds no measurement", raw.display());
        report(&ws, opts, &results, &kernel, command, None)?;
        return Ok(results.errors.is_empty());
    }
    ensure!(opts.rounds >= 1, "--rounds must be at least 1");
    for name in &opts.schedulers {
        ensure!(SCHEDULERS.contains(&name.as_str()), "unknown scheduler '{name}' (known: {})", SCHEDULERS.join(", "));
    }
    let kernel = setup::prepare(&ws, &opts.kernel)?;
    if opts.schedulers.iter().any(|s| s == "rustland") {
        setup::install_packages(setup::BENCH_PACKAGES)?;
        let peer = ensure_peer(&ws, &opts.peer_version)?;
        println!("bench-vm: peer {}", peer.display());
    }
    if opts.schedulers.iter().any(|s| s == "deadline" || s == "fifo") {
        guest_binaries::build_workspace_binaries(&ws)?;
    }
    let image = initramfs::build_with(&ws, "bench-vm", true).context("cannot build the initramfs")?;
    vm_test::note_optional_binaries(&image);

    let mut vm = opts.vm.clone();
    if vm.timeout_s.is_none() {
        // Start-up, the workloads and a slow unload (tens of seconds under
        // emulation) per scheduler and round.
        let per_run = 150 + u64::from(opts.latency_s + opts.switch_s);
        let runs = u64::from(opts.rounds) * opts.schedulers.len() as u64;
        vm.timeout_s = Some((120 + per_run * runs).max(qemu::DEFAULT_TIMEOUT_S));
    }
    let spec = BootSpec {
        label: "bench-vm",
        kernel: &kernel,
        initramfs: &image.path,
        params: vec![
            format!("relay.payload={PAYLOAD}"),
            format!("relay.rounds={}", opts.rounds),
            format!("relay.schedulers={}", opts.schedulers.join(",")),
            format!("relay.hackbench_loops={}", opts.hackbench_loops),
            format!("relay.latency_s={}", opts.latency_s),
            format!("relay.switch_s={}", opts.switch_s),
            format!("relay.cost_loops={}", opts.cost_loops),
        ],
        vm: &vm,
    };
    let outcome = qemu::boot(&ws, &spec)?;
    for problem in &outcome.problems {
        println!("bench-vm: kernel problem: {problem}");
    }

    let results = Results::parse(outcome.lines.iter().map(String::as_str));
    let command = command_line(opts);
    let mut raw = format!("# kernel {}\n# command {command}\n", kernel.release);
    for line in outcome.lines.iter().filter(|l| l.starts_with(LINE_PREFIX)) {
        raw.push_str(line);
        raw.push('\n');
    }
    report(&ws, opts, &results, &kernel.release, &command, Some(&raw))?;
    if results.samples.is_empty() {
        bail!("the guest reported no measurement ({}); see {}", outcome.summary(), outcome.log_path.display());
    }
    Ok(outcome.passed() && results.errors.is_empty())
}

/// Write `target/bench-vm/` (and the docs/ copies), print the table.
fn report(
    ws: &Workspace,
    opts: &Options,
    results: &Results,
    kernel: &str,
    command: &str,
    raw: Option<&str>,
) -> Result<()> {
    let out_dir = ws.target_dir().join("bench-vm");
    fs::create_dir_all(&out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    if let Some(raw) = raw {
        write(&out_dir.join("raw.txt"), raw)?;
    }
    let markdown = results.markdown(command, kernel);
    let svg = results.latency_svg();
    write(&out_dir.join("results.md"), &markdown)?;
    write(&out_dir.join("latency.svg"), &svg)?;
    if !opts.no_docs {
        write(&ws.root.join(DOCS_RESULTS), &markdown)?;
        write(&ws.root.join(DOCS_CHART), &svg)?;
        if let Some(raw) = raw {
            write(&ws.root.join(DOCS_RAW), raw)?;
        }
    }
    println!("{markdown}");
    println!(
        "bench-vm: wrote {}/{{results.md,latency.svg{}}}",
        out_dir.display(),
        if raw.is_some() { ",raw.txt" } else { "" }
    );
    for error in &results.errors {
        println!("bench-vm: error: {error}");
    }
    Ok(())
}

/// The command that reproduces this run (for the table's header).
fn command_line(opts: &Options) -> String {
    let mut cmd = String::from("cargo xtask bench-vm");
    if opts.rounds != 5 {
        let _ = write!(cmd, " --rounds {}", opts.rounds);
    }
    if opts.schedulers != SCHEDULERS {
        let _ = write!(cmd, " --schedulers {}", opts.schedulers.join(","));
    }
    cmd
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Build `scx_rustland` `version` into `.cache/peer/` unless it is there.
fn ensure_peer(ws: &Workspace, version: &str) -> Result<PathBuf> {
    let root = ws.root.join(PEER_ROOT);
    let bin = root.join("bin").join(PEER_CRATE);
    let manifest = fs::read_to_string(root.join(".crates.toml")).unwrap_or_default();
    if exec::is_executable(&bin) && installed(&manifest, PEER_CRATE, version) {
        return Ok(bin);
    }
    fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    let log_path = root.join("build.log");
    println!(
        "bench-vm: building {PEER_CRATE} {version} into {} (once; about 6 minutes on 2 cores; log: {})",
        root.display(),
        log_path.display()
    );
    let log = fs::File::create(&log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
    let log_err = log.try_clone().with_context(|| format!("cannot open {}", log_path.display()))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["install", PEER_CRATE, "--locked", "--version", version, "--root"])
        .arg(&root)
        // scx_cargo's BPF build needs clang >= 18; bookworm's default is 14.
        .env("BPF_CLANG", "clang-19")
        // Its own target directory: the workspace's build is not disturbed.
        .env("CARGO_TARGET_DIR", root.join("target"))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    let status = cmd.status().with_context(|| format!("failed to start `{}`", exec::describe(&cmd)))?;
    if !status.success() {
        let text = fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        bail!(
            "`{}` failed ({status}); last lines of {}:\n{}",
            exec::describe(&cmd),
            log_path.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    ensure!(exec::is_executable(&bin), "cargo install succeeded but {} is missing", bin.display());
    Ok(bin)
}

/// Whether cargo's `.crates.toml` lists `krate` at `version`.
fn installed(manifest: &str, krate: &str, version: &str) -> bool {
    manifest.contains(&format!("\"{krate} {version} ("))
}

/// One measurement from the guest.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    round: u32,
    scheduler: String,
    metric: String,
    value: f64,
}

/// What one console line says.
#[derive(Debug, PartialEq)]
enum Parsed {
    Sample(Sample),
    Error(String),
    Other,
}

fn parse_line(line: &str) -> Parsed {
    let Some(rest) = line.strip_prefix(LINE_PREFIX) else { return Parsed::Other };
    let mut words = rest.split_whitespace();
    let (Some(round), Some(scheduler), Some(metric)) = (words.next(), words.next(), words.next()) else {
        return Parsed::Other;
    };
    let Ok(round) = round.parse() else { return Parsed::Other };
    if metric == "error" {
        return Parsed::Error(format!("round {round}, {scheduler}: {}", words.collect::<Vec<_>>().join(" ")));
    }
    match words.next().map(str::parse::<f64>) {
        Some(Ok(value)) if value.is_finite() => {
            Parsed::Sample(Sample { round, scheduler: scheduler.to_owned(), metric: metric.to_owned(), value })
        }
        _ => Parsed::Error(format!("round {round}, {scheduler}: unreadable {metric} in `{line}`")),
    }
}

/// Everything the guest reported.
#[derive(Debug, Default)]
struct Results {
    samples: Vec<Sample>,
    errors: Vec<String>,
}

/// A row of the results table.
struct Row {
    label: &'static str,
    metric: Metric,
    /// Whether smaller is better (for the reader; ratios are plain).
    lower_is_better: bool,
}

/// A raw metric, or one computed per round from two raw ones.
#[derive(Clone, Copy)]
enum Metric {
    Raw(&'static str),
    /// numerator / denominator * scale, per round.
    Per(&'static str, &'static str, f64),
    /// numerator / (a - b), per round.
    PerDiff(&'static str, &'static str, &'static str),
}

const ROWS: &[Row] = &[
    Row { label: "hackbench time (s)", metric: Metric::Raw("hackbench_s"), lower_is_better: true },
    Row { label: "cyclictest p50 under load (µs)", metric: Metric::Raw("lat_p50_us"), lower_is_better: true },
    Row { label: "cyclictest p99 under load (µs)", metric: Metric::Raw("lat_p99_us"), lower_is_better: true },
    Row { label: "cyclictest max under load (µs)", metric: Metric::Raw("lat_max_us"), lower_is_better: true },
    Row { label: "stress-ng --switch (ops/s)", metric: Metric::Raw("switch_ops_s"), lower_is_better: false },
    Row {
        label: "scheduler CPU per 1,000 decisions (ms)",
        metric: Metric::Per("cost_cpu_ms", "cost_decisions", 1000.0),
        lower_is_better: true,
    },
    Row {
        label: "scheduler syscalls per decision",
        metric: Metric::Per("cost_syscalls", "cost_decisions", 1.0),
        lower_is_better: true,
    },
];

const PROFILE_ROWS: &[Row] = &[
    Row { label: "decisions in the cost window", metric: Metric::Raw("cost_decisions"), lower_is_better: false },
    Row { label: "scheduler CPU in the cost window (ms)", metric: Metric::Raw("cost_cpu_ms"), lower_is_better: true },
    Row {
        label: "syscalls per decision",
        metric: Metric::Per("cost_syscalls", "cost_decisions", 1.0),
        lower_is_better: true,
    },
    Row {
        label: "sched_yield per decision",
        metric: Metric::Per("cost_yields", "cost_decisions", 1.0),
        lower_is_better: true,
    },
    Row {
        label: "bpf() per decision",
        metric: Metric::Per("cost_bpf_calls", "cost_decisions", 1.0),
        lower_is_better: true,
    },
    Row {
        label: "user-scheduler wake-ups per decision",
        metric: Metric::Per("prof_runs", "cost_decisions", 1.0),
        lower_is_better: true,
    },
    Row {
        label: "tasks drained per non-empty wake-up",
        metric: Metric::PerDiff("prof_received", "prof_steps", "prof_empty"),
        lower_is_better: false,
    },
    Row {
        label: "empty loop steps (share)",
        metric: Metric::Per("prof_empty", "prof_steps", 1.0),
        lower_is_better: true,
    },
    Row {
        label: "user-ring-buffer drains per ops.dispatch",
        metric: Metric::Per("prof_drains", "prof_calls", 1.0),
        lower_is_better: false,
    },
    Row {
        label: "decisions per drain",
        metric: Metric::Per("prof_drained", "prof_drains", 1.0),
        lower_is_better: false,
    },
    Row {
        label: "kicks per decision",
        metric: Metric::Per("prof_kicks", "cost_decisions", 1.0),
        lower_is_better: true,
    },
    Row {
        label: "ops.dispatch calls per decision",
        metric: Metric::Per("prof_calls", "cost_decisions", 1.0),
        lower_is_better: true,
    },
];

/// A target: `scheduler`'s median over `baseline`'s must be at most `max`.
struct Target {
    metric: Metric,
    label: &'static str,
    scheduler: &'static str,
    baseline: &'static str,
    max: f64,
}

const TARGETS: &[Target] = &[
    Target {
        metric: Metric::Raw("hackbench_s"),
        label: "hackbench time",
        scheduler: "deadline",
        baseline: "rustland",
        max: 1.0,
    },
    Target {
        metric: Metric::Raw("lat_p99_us"),
        label: "cyclictest p99",
        scheduler: "deadline",
        baseline: "rustland",
        max: 1.0,
    },
    Target {
        metric: Metric::Per("cost_cpu_ms", "cost_decisions", 1000.0),
        label: "scheduler CPU per 1,000 decisions",
        scheduler: "deadline",
        baseline: "rustland",
        max: 0.7,
    },
    Target {
        metric: Metric::Raw("hackbench_s"),
        label: "hackbench time",
        scheduler: "deadline",
        baseline: "eevdf",
        max: 1.10,
    },
];

/// The table's name for a scheduler.
fn display_name(scheduler: &str) -> &str {
    match scheduler {
        "eevdf" => "EEVDF",
        "rustland" => "scx_rustland",
        "deadline" => "scx_relay deadline",
        "fifo" => "scx_relay fifo",
        other => other,
    }
}

/// The middle value (mean of the two middle ones for an even count).
fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 })
}

/// A number with 3 significant digits, thousands kept whole.
fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

impl Results {
    fn parse<'a>(lines: impl Iterator<Item = &'a str>) -> Self {
        let mut results = Self::default();
        for line in lines {
            match parse_line(line) {
                Parsed::Sample(s) => results.samples.push(s),
                Parsed::Error(e) => results.errors.push(e),
                Parsed::Other => {}
            }
        }
        results
    }

    /// Schedulers that reported something, in table order.
    fn schedulers(&self) -> Vec<&'static str> {
        SCHEDULERS.iter().copied().filter(|s| self.samples.iter().any(|x| x.scheduler == *s)).collect()
    }

    /// `metric` of `scheduler` in `round`, if reported.
    fn raw(&self, scheduler: &str, round: u32, metric: &str) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| s.scheduler == scheduler && s.round == round && s.metric == metric)
            .map(|s| s.value)
    }

    /// The per-round values of `metric` for `scheduler`.
    fn values(&self, scheduler: &str, metric: Metric) -> Vec<f64> {
        let mut rounds: Vec<u32> = self.samples.iter().filter(|s| s.scheduler == scheduler).map(|s| s.round).collect();
        rounds.sort_unstable();
        rounds.dedup();
        rounds
            .into_iter()
            .filter_map(|r| match metric {
                Metric::Raw(m) => self.raw(scheduler, r, m),
                Metric::Per(n, d, scale) => {
                    let (n, d) = (self.raw(scheduler, r, n)?, self.raw(scheduler, r, d)?);
                    (d > 0.0).then(|| n / d * scale)
                }
                Metric::PerDiff(n, a, b) => {
                    let d = self.raw(scheduler, r, a)? - self.raw(scheduler, r, b)?;
                    (d > 0.0).then(|| self.raw(scheduler, r, n).map(|n| n / d)).flatten()
                }
            })
            .collect()
    }

    fn median(&self, scheduler: &str, metric: Metric) -> Option<f64> {
        median(&mut self.values(scheduler, metric))
    }

    fn ratio(&self, scheduler: &str, baseline: &str, metric: Metric) -> Option<f64> {
        let (a, b) = (self.median(scheduler, metric)?, self.median(baseline, metric)?);
        (b > 0.0).then_some(a / b)
    }

    /// The Markdown report: medians, ratios, targets, profile.
    fn markdown(&self, command: &str, kernel: &str) -> String {
        let scheds = self.schedulers();
        let rounds = self.samples.iter().map(|s| s.round).max().unwrap_or(0);
        let mut md = String::new();
        let _ = writeln!(md, "Medians over {rounds} interleaved rounds in one guest boot (QEMU TCG, 4 vCPUs, kernel {kernel}); `{command}`.\n");
        let _ = write!(md, "| metric |");
        for s in &scheds {
            let _ = write!(md, " {} |", display_name(s));
        }
        let candidates: Vec<&str> = ["deadline", "fifo"].into_iter().filter(|s| scheds.contains(s)).collect();
        let baselines: Vec<&str> = ["eevdf", "rustland"].into_iter().filter(|s| scheds.contains(s)).collect();
        for c in &candidates {
            for b in &baselines {
                let _ = write!(md, " {c} / {} |", display_name(b));
            }
        }
        md.push('\n');
        md.push_str("|---|");
        for _ in 0..scheds.len() + candidates.len() * baselines.len() {
            md.push_str("---:|");
        }
        md.push('\n');
        for row in ROWS {
            let _ = write!(md, "| {} {} |", row.label, if row.lower_is_better { "↓" } else { "↑" });
            for s in &scheds {
                let cell = self.median(s, row.metric).map_or_else(|| "–".to_owned(), fmt_num);
                let _ = write!(md, " {cell} |");
            }
            for c in &candidates {
                for b in &baselines {
                    let cell = self.ratio(c, b, row.metric).map_or_else(|| "–".to_owned(), |r| format!("{r:.2}×"));
                    let _ = write!(md, " {cell} |");
                }
            }
            md.push('\n');
        }

        md.push_str("\n**Targets** (ratio of medians):\n\n| target | measured | verdict |\n|---|---:|---|\n");
        for t in TARGETS {
            let measured = self.ratio(t.scheduler, t.baseline, t.metric);
            let (cell, verdict) = match measured {
                Some(r) if r <= t.max => (format!("{r:.2}×"), "met"),
                Some(r) => (format!("{r:.2}×"), "**missed**"),
                None => ("–".to_owned(), "not measured"),
            };
            let _ = writeln!(
                md,
                "| {} {}: {} vs {} ≤ {:.2}× | {cell} | {verdict} |",
                display_name(t.scheduler),
                t.label,
                display_name(t.scheduler),
                display_name(t.baseline),
                t.max
            );
        }

        let profiled: Vec<&str> = scheds.iter().copied().filter(|s| *s != "eevdf").collect();
        if !profiled.is_empty() {
            md.push_str(
                "\n**Profile of the scheduler process** in the cost window (medians of per-round values):\n\n| |",
            );
            for s in &profiled {
                let _ = write!(md, " {} |", display_name(s));
            }
            md.push_str("\n|---|");
            for _ in &profiled {
                md.push_str("---:|");
            }
            md.push('\n');
            for row in PROFILE_ROWS {
                let _ = write!(md, "| {} |", row.label);
                for s in &profiled {
                    let cell = self.median(s, row.metric).map_or_else(|| "–".to_owned(), fmt_num);
                    let _ = write!(md, " {cell} |");
                }
                md.push('\n');
            }
        }
        if !self.errors.is_empty() {
            md.push_str("\nErrors reported by the guest:\n\n");
            for e in &self.errors {
                let _ = writeln!(md, "- {e}");
            }
        }
        md
    }

    /// A bar chart (log scale) of the cyclictest p50 / p99 / max medians per
    /// scheduler, as a self-contained SVG.
    fn latency_svg(&self) -> String {
        const W: f64 = 640.0;
        const H: f64 = 360.0;
        const LEFT: f64 = 70.0;
        const RIGHT: f64 = 20.0;
        const TOP: f64 = 40.0;
        const BOTTOM: f64 = 60.0;
        let series: [(&str, &str, &str); 3] =
            [("lat_p50_us", "p50", "#4e79a7"), ("lat_p99_us", "p99", "#f28e2b"), ("lat_max_us", "max", "#e15759")];
        let scheds = self.schedulers();
        let values: Vec<Vec<Option<f64>>> =
            scheds.iter().map(|s| series.iter().map(|(m, _, _)| self.median(s, Metric::Raw(m))).collect()).collect();
        let top = values.iter().flatten().flatten().copied().fold(10.0_f64, f64::max);
        let bottom = values.iter().flatten().flatten().copied().fold(top, f64::min).max(1.0);
        // Whole decades from below the smallest bar to above the largest.
        let low = (bottom.log10().floor() - 1.0).max(0.0);
        let decades = (top.log10().ceil() - low).max(1.0);
        let plot_h = H - TOP - BOTTOM;
        let y = |v: f64| TOP + plot_h * (1.0 - ((v.max(1.0).log10() - low) / decades).max(0.0));
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(svg, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="22" text-anchor="middle" font-size="14">cyclictest wakeup latency under CPU saturation (µs, log scale, medians)</text>"#,
            W / 2.0
        );
        for d in 0..=decades as u32 {
            let v = 10f64.powi(d as i32 + low as i32);
            let yy = y(v);
            let _ = writeln!(
                svg,
                r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{v}</text>"##,
                W - RIGHT,
                LEFT - 6.0,
                yy + 4.0
            );
        }
        let group_w = (W - LEFT - RIGHT) / scheds.len().max(1) as f64;
        let bar_w = group_w * 0.8 / series.len() as f64;
        for (i, (sched, vals)) in scheds.iter().zip(&values).enumerate() {
            let x0 = LEFT + group_w * i as f64 + group_w * 0.1;
            for (j, (v, (_, _, color))) in vals.iter().zip(series.iter()).enumerate() {
                let Some(v) = v else { continue };
                let x = x0 + bar_w * j as f64;
                let yy = y(*v);
                let _ = writeln!(
                    svg,
                    r#"<rect x="{x:.1}" y="{yy:.1}" width="{:.1}" height="{:.1}" fill="{color}"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10">{}</text>"#,
                    bar_w - 2.0,
                    (TOP + plot_h - yy).max(0.0),
                    x + bar_w / 2.0 - 1.0,
                    yy - 3.0,
                    fmt_num(*v)
                );
            }
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                LEFT + group_w * (i as f64 + 0.5),
                TOP + plot_h + 18.0,
                display_name(sched)
            );
        }
        for (j, (_, label, color)) in series.iter().enumerate() {
            let x = LEFT + 10.0 + 70.0 * j as f64;
            let yy = H - 18.0;
            let _ = writeln!(
                svg,
                r#"<rect x="{x:.1}" y="{:.1}" width="12" height="12" fill="{color}"/><text x="{:.1}" y="{yy:.1}">{label}</text>"#,
                yy - 10.0,
                x + 16.0
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(rounds: &[(u32, &str, &str, f64)]) -> Vec<String> {
        rounds.iter().map(|(r, s, m, v)| format!("relay-bench: {r} {s} {m} {v}")).collect()
    }

    /// Measurement and error lines are read; anything else is ignored.
    #[test]
    fn lines_are_parsed() {
        assert_eq!(
            parse_line("relay-bench: 2 deadline hackbench_s 3.25"),
            Parsed::Sample(Sample {
                round: 2,
                scheduler: "deadline".into(),
                metric: "hackbench_s".into(),
                value: 3.25
            })
        );
        assert_eq!(
            parse_line("relay-bench: 1 rustland error not enabled (state disabled)"),
            Parsed::Error("round 1, rustland: not enabled (state disabled)".into())
        );
        assert!(matches!(parse_line("relay-bench: 1 fifo lat_p99_us x"), Parsed::Error(_)));
        assert_eq!(parse_line("relay-bench: done"), Parsed::Other);
        assert_eq!(parse_line("[ 1.0] sched_ext: enabled"), Parsed::Other);
    }

    /// Medians take the middle value, or the mean of the two middle ones.
    #[test]
    fn medians() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }

    /// Per-decision metrics are computed per round before the median, and
    /// ratios compare medians.
    #[test]
    fn derived_metrics_and_ratios() {
        let text = lines(&[
            (1, "rustland", "cost_cpu_ms", 100.0),
            (1, "rustland", "cost_decisions", 1000.0),
            (2, "rustland", "cost_cpu_ms", 300.0),
            (2, "rustland", "cost_decisions", 1000.0),
            (1, "deadline", "cost_cpu_ms", 50.0),
            (1, "deadline", "cost_decisions", 1000.0),
            (2, "deadline", "cost_cpu_ms", 50.0),
            (2, "deadline", "cost_decisions", 0.0),
        ]);
        let r = Results::parse(text.iter().map(String::as_str));
        let per_k = Metric::Per("cost_cpu_ms", "cost_decisions", 1000.0);
        assert_eq!(r.median("rustland", per_k), Some(200.0));
        // A round without decisions gives no value rather than infinity.
        assert_eq!(r.values("deadline", per_k), vec![50.0]);
        assert_eq!(r.ratio("deadline", "rustland", per_k), Some(0.25));
    }

    /// The report names every scheduler, the targets with a verdict, and errors.
    #[test]
    fn markdown_report() {
        let mut text = lines(&[
            (1, "eevdf", "hackbench_s", 2.0),
            (1, "rustland", "hackbench_s", 4.0),
            (1, "deadline", "hackbench_s", 3.0),
            (1, "fifo", "hackbench_s", 5.0),
        ]);
        text.push("relay-bench: 1 fifo error exited with status 1".into());
        let r = Results::parse(text.iter().map(String::as_str));
        let md = r.markdown("cargo xtask bench-vm", "7.3");
        assert!(
            md.contains("| hackbench time (s) ↓ | 2.000 | 4.000 | 3.000 | 5.000 | 1.50× | 0.75× | 2.50× | 1.25× |"),
            "{md}"
        );
        assert!(
            md.contains("scx_relay deadline hackbench time: scx_relay deadline vs scx_rustland ≤ 1.00× | 0.75× | met")
        );
        assert!(md.contains("vs EEVDF ≤ 1.10× | 1.50× | **missed**"));
        assert!(md.contains("cyclictest p99: scx_relay deadline vs scx_rustland ≤ 1.00× | – | not measured"));
        assert!(md.contains("- round 1, fifo: exited with status 1"));
    }

    /// The chart is one SVG document with a bar per reported percentile.
    #[test]
    fn latency_chart() {
        let text = lines(&[
            (1, "eevdf", "lat_p50_us", 50.0),
            (1, "eevdf", "lat_p99_us", 500.0),
            (1, "eevdf", "lat_max_us", 5000.0),
            (1, "deadline", "lat_p50_us", 40.0),
        ]);
        let svg = Results::parse(text.iter().map(String::as_str)).latency_svg();
        assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<rect x=").count(), 4 + 3, "4 bars and 3 legend boxes");
        assert!(svg.contains("scx_relay deadline") && svg.contains(">EEVDF<"));
    }

    /// The fixed input of the pinned-output tests: three schedulers over two
    /// rounds, raw and derived metrics (some missing), numbers of every
    /// width, and an error from the guest.
    fn pinned_input() -> Results {
        let mut text = lines(&[
            (1, "eevdf", "hackbench_s", 5.69),
            (2, "eevdf", "hackbench_s", 5.31),
            (1, "eevdf", "lat_p50_us", 7102.0),
            (2, "eevdf", "lat_p50_us", 6890.0),
            (1, "eevdf", "lat_p99_us", 50000.0),
            (2, "eevdf", "lat_p99_us", 48012.0),
            (1, "eevdf", "lat_max_us", 81234.0),
            (1, "eevdf", "switch_ops_s", 123456.0),
            (1, "rustland", "hackbench_s", 12.5),
            (2, "rustland", "hackbench_s", 14.25),
            (1, "rustland", "lat_p50_us", 35.0),
            (2, "rustland", "lat_p50_us", 41.0),
            (1, "rustland", "lat_p99_us", 912.0),
            (1, "rustland", "lat_max_us", 20417.0),
            (1, "rustland", "cost_cpu_ms", 812.0),
            (1, "rustland", "cost_decisions", 40210.0),
            (1, "rustland", "cost_syscalls", 160840.0),
            (1, "rustland", "prof_runs", 30000.0),
            (1, "deadline", "hackbench_s", 9.875),
            (2, "deadline", "hackbench_s", 10.125),
            (1, "deadline", "lat_p50_us", 0.5),
            (1, "deadline", "lat_p99_us", 640.0),
            (2, "deadline", "lat_p99_us", 702.0),
            (1, "deadline", "lat_max_us", 15333.0),
            (1, "deadline", "switch_ops_s", 98765.4),
            (1, "deadline", "cost_cpu_ms", 301.5),
            (1, "deadline", "cost_decisions", 52000.0),
            (2, "deadline", "cost_cpu_ms", 280.0),
            (2, "deadline", "cost_decisions", 50000.0),
            (1, "deadline", "cost_syscalls", 78000.0),
            (1, "deadline", "cost_yields", 26000.0),
            (1, "deadline", "cost_bpf_calls", 0.0),
            (1, "deadline", "prof_runs", 21000.0),
            (1, "deadline", "prof_received", 52000.0),
            (1, "deadline", "prof_steps", 30000.0),
            (1, "deadline", "prof_empty", 9000.0),
            (1, "deadline", "prof_drains", 4000.0),
            (1, "deadline", "prof_calls", 8000.0),
            (1, "deadline", "prof_drained", 52000.0),
            (1, "deadline", "prof_kicks", 1300.0),
        ]);
        text.push("relay-bench: 2 rustland error not enabled (state disabled)".into());
        Results::parse(text.iter().map(String::as_str))
    }

    /// The Markdown report of [`pinned_input`], byte for byte.
    #[test]
    fn markdown_is_pinned() {
        let md = pinned_input().markdown("cargo xtask bench-vm --rounds 2", "7.3.4");
        assert_eq!(md, PINNED_MARKDOWN);
    }

    /// The latency chart of [`pinned_input`], byte for byte.
    #[test]
    fn latency_svg_is_pinned() {
        assert_eq!(pinned_input().latency_svg(), PINNED_SVG);
    }

    /// `markdown` of [`pinned_input`].
    const PINNED_MARKDOWN: &str = r##"Medians over 2 interleaved rounds in one guest boot (QEMU TCG, 4 vCPUs, kernel 7.3.4); `cargo xtask bench-vm --rounds 2`.

| metric | EEVDF | scx_rustland | scx_relay deadline | deadline / EEVDF | deadline / scx_rustland |
|---|---:|---:|---:|---:|---:|
| hackbench time (s) ↓ | 5.500 | 13.38 | 10.00 | 1.82× | 0.75× |
| cyclictest p50 under load (µs) ↓ | 6996 | 38.00 | 0.500 | 0.00× | 0.01× |
| cyclictest p99 under load (µs) ↓ | 49006 | 912.0 | 671.0 | 0.01× | 0.74× |
| cyclictest max under load (µs) ↓ | 81234 | 20417 | 15333 | 0.19× | 0.75× |
| stress-ng --switch (ops/s) ↑ | 123456 | – | 98765 | 0.80× | – |
| scheduler CPU per 1,000 decisions (ms) ↓ | – | 20.19 | 5.699 | – | 0.28× |
| scheduler syscalls per decision ↓ | – | 4.000 | 1.500 | – | 0.38× |

**Targets** (ratio of medians):

| target | measured | verdict |
|---|---:|---|
| scx_relay deadline hackbench time: scx_relay deadline vs scx_rustland ≤ 1.00× | 0.75× | met |
| scx_relay deadline cyclictest p99: scx_relay deadline vs scx_rustland ≤ 1.00× | 0.74× | met |
| scx_relay deadline scheduler CPU per 1,000 decisions: scx_relay deadline vs scx_rustland ≤ 0.70× | 0.28× | met |
| scx_relay deadline hackbench time: scx_relay deadline vs EEVDF ≤ 1.10× | 1.82× | **missed** |

**Profile of the scheduler process** in the cost window (medians of per-round values):

| | scx_rustland | scx_relay deadline |
|---|---:|---:|
| decisions in the cost window | 40210 | 51000 |
| scheduler CPU in the cost window (ms) | 812.0 | 290.8 |
| syscalls per decision | 4.000 | 1.500 |
| sched_yield per decision | – | 0.500 |
| bpf() per decision | – | 0.000 |
| user-scheduler wake-ups per decision | 0.746 | 0.404 |
| tasks drained per non-empty wake-up | – | 2.476 |
| empty loop steps (share) | – | 0.300 |
| user-ring-buffer drains per ops.dispatch | – | 0.500 |
| decisions per drain | – | 13.00 |
| kicks per decision | – | 0.025 |
| ops.dispatch calls per decision | – | 0.154 |

Errors reported by the guest:

- round 2, rustland: not enabled (state disabled)
"##;

    /// `latency_svg` of [`pinned_input`].
    const PINNED_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="640" height="360" viewBox="0 0 640 360" font-family="sans-serif" font-size="12">
<rect width="640" height="360" fill="white"/>
<text x="320" y="22" text-anchor="middle" font-size="14">cyclictest wakeup latency under CPU saturation (µs, log scale, medians)</text>
<line x1="70" y1="300.0" x2="620.0" y2="300.0" stroke="#ddd"/><text x="64.0" y="304.0" text-anchor="end">1</text>
<line x1="70" y1="248.0" x2="620.0" y2="248.0" stroke="#ddd"/><text x="64.0" y="252.0" text-anchor="end">10</text>
<line x1="70" y1="196.0" x2="620.0" y2="196.0" stroke="#ddd"/><text x="64.0" y="200.0" text-anchor="end">100</text>
<line x1="70" y1="144.0" x2="620.0" y2="144.0" stroke="#ddd"/><text x="64.0" y="148.0" text-anchor="end">1000</text>
<line x1="70" y1="92.0" x2="620.0" y2="92.0" stroke="#ddd"/><text x="64.0" y="96.0" text-anchor="end">10000</text>
<line x1="70" y1="40.0" x2="620.0" y2="40.0" stroke="#ddd"/><text x="64.0" y="44.0" text-anchor="end">100000</text>
<rect x="88.3" y="100.1" width="46.9" height="199.9" fill="#4e79a7"/><text x="111.8" y="97.1" text-anchor="middle" font-size="10">6996</text>
<rect x="137.2" y="56.1" width="46.9" height="243.9" fill="#f28e2b"/><text x="160.7" y="53.1" text-anchor="middle" font-size="10">49006</text>
<rect x="186.1" y="44.7" width="46.9" height="255.3" fill="#e15759"/><text x="209.6" y="41.7" text-anchor="middle" font-size="10">81234</text>
<text x="161.7" y="318.0" text-anchor="middle">EEVDF</text>
<rect x="271.7" y="217.9" width="46.9" height="82.1" fill="#4e79a7"/><text x="295.1" y="214.9" text-anchor="middle" font-size="10">38.00</text>
<rect x="320.6" y="146.1" width="46.9" height="153.9" fill="#f28e2b"/><text x="344.0" y="143.1" text-anchor="middle" font-size="10">912.0</text>
<rect x="369.4" y="75.9" width="46.9" height="224.1" fill="#e15759"/><text x="392.9" y="72.9" text-anchor="middle" font-size="10">20417</text>
<text x="345.0" y="318.0" text-anchor="middle">scx_rustland</text>
<rect x="455.0" y="300.0" width="46.9" height="0.0" fill="#4e79a7"/><text x="478.4" y="297.0" text-anchor="middle" font-size="10">0.500</text>
<rect x="503.9" y="153.0" width="46.9" height="147.0" fill="#f28e2b"/><text x="527.3" y="150.0" text-anchor="middle" font-size="10">671.0</text>
<rect x="552.8" y="82.3" width="46.9" height="217.7" fill="#e15759"/><text x="576.2" y="79.3" text-anchor="middle" font-size="10">15333</text>
<text x="528.3" y="318.0" text-anchor="middle">scx_relay deadline</text>
<rect x="80.0" y="332.0" width="12" height="12" fill="#4e79a7"/><text x="96.0" y="342.0">p50</text>
<rect x="150.0" y="332.0" width="12" height="12" fill="#f28e2b"/><text x="166.0" y="342.0">p99</text>
<rect x="220.0" y="332.0" width="12" height="12" fill="#e15759"/><text x="236.0" y="342.0">max</text>
</svg>
"##;

    /// The peer counts as installed only at the requested version.
    #[test]
    fn peer_version_check() {
        let manifest = "[v1]\n\"scx_rustland 1.1.4 (registry+https://github.com/rust-lang/crates.io-index)\" = [\"scx_rustland\"]\n";
        assert!(installed(manifest, "scx_rustland", "1.1.4"));
        assert!(!installed(manifest, "scx_rustland", "1.1.3"));
        assert!(!installed("", "scx_rustland", "1.1.4"));
    }
}
