//! `cargo xtask bench-vm`: scx_relay side by side with the kernel's default
//! scheduler (EEVDF) and upstream scx_rustland (and, when asked, upstream
//! scx_bpfland), in one guest boot.
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
//! `--baseline REV` adds `baseline`: scx_relay's `deadline` as built from
//! an earlier commit (see [`baseline`]), for a before-and-after in one boot.
//!
//! The peer is the published `scx_rustland` crate, installed with `cargo
//! install --locked` into `.cache/peer/` (gitignored) with its own target
//! directory, once; later runs reuse it (`crates_io_tool::SCX_RUSTLAND`).
//! `bpfland`, upstream's scheduler that decides in BPF alone, is built the
//! same way into `.cache/bpfland/` (`crates_io_tool::SCX_BPFLAND`).

mod baseline;
mod fidelity;
mod markdown;
mod results;
mod stats;
mod svg;

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, ensure, Context, Result};

use self::results::Results;
use crate::{
    crates_io_tool, guest_binaries,
    guest_kernel::{GuestKernel, KernelOptions},
    initramfs::{self, Initramfs},
    qemu::{self, BootSpec, VmOptions, DEFAULT_MEMORY},
    setup, vm_test,
    workspace::Workspace,
};

/// The guest payload, relative to `tests/vm/`.
const PAYLOAD: &str = "bench/bench.sh";
/// The upstream release built by default for scx_rustland and scx_bpfland
/// (pinned, so that results stay comparable).
const PEER_VERSION: &str = "1.1.4";
/// The schedulers the guest knows, in table order: the kernel's EEVDF (also
/// without its HRTICK feature), the peer, upstream's scx_bpfland, the
/// baseline (also with `--fast-path`: `baseline-fast`), and scx_relay's shipped policies by their names but for
/// `relay-eevdf`, scx_relay's eevdf policy (`eevdf` is the kernel's), and
/// `deadline-fast` and `interactive-fast`, those policies with
/// `--fast-path`.
const SCHEDULERS: [&str; 13] = [
    "eevdf",
    "eevdf-nohrtick",
    "rustland",
    "bpfland",
    "baseline",
    "baseline-fast",
    "deadline",
    "deadline-fast",
    "fifo",
    "interactive",
    "interactive-fast",
    "local",
    "relay-eevdf",
];
/// The kernel's own schedulers among [`SCHEDULERS`]: no scheduler process.
/// `eevdf-nohrtick` is EEVDF with the fair class's HRTICK feature off (no
/// timer at each slice's end; bench.sh `set_hrtick`).
const KERNEL_SCHEDULERS: [&str; 2] = ["eevdf", "eevdf-nohrtick"];
/// The schedulers compared when `--schedulers` is not given.
const DEFAULT_SCHEDULERS: [&str; 4] = ["eevdf", "rustland", "deadline", "fifo"];
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
    /// Schedulers to compare, comma separated: eevdf (the kernel's),
    /// eevdf-nohrtick (the kernel's, its HRTICK feature off), rustland,
    /// bpfland (upstream's all-BPF scheduler), baseline and
    /// baseline-fast (need `--baseline`; the latter with `--fast-path`),
    /// and scx_relay's policies
    /// (deadline, fifo, interactive, local, relay-eevdf; deadline-fast and
    /// interactive-fast with `--fast-path`). Default:
    /// eevdf,rustland,deadline,fifo; with `--sim-fidelity`, every shipped
    /// policy.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub schedulers: Vec<String>,
    /// Compare the simulator with the guest instead: run hackbench,
    /// cyclictest under hogs and nice-weighted hogs under each policy, run
    /// the simulator's models of them, and rank the policies both ways
    /// (`target/bench-vm/fidelity.md`, copied to docs/sim-fidelity.md).
    #[arg(long)]
    pub sim_fidelity: bool,
    /// Length of the fairness workload (share_probe), in seconds.
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    pub fair_s: u32,
    /// Length of the frame-pacing workload (frame_pacer at 60 Hz under
    /// hogs and hackbench), in seconds.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub frames_s: u32,
    /// CPU work of each frame of the frame-pacing workload, in ms.
    #[arg(long, default_value_t = 4, value_name = "MS")]
    pub frame_work_ms: u32,
    /// hackbench -g 4 -l LOOPS for the run-time workload.
    #[arg(long, default_value_t = 200, value_name = "LOOPS")]
    pub hackbench_loops: u32,
    /// Length of the cyclictest run under CPU saturation, in seconds.
    #[arg(long, default_value_t = 8, value_name = "SECONDS")]
    pub latency_s: u32,
    /// Length of the stress-ng --switch run, in seconds.
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    pub switch_s: u32,
    /// Length of the stress-ng --hdd run (file I/O in the guest's RAM /tmp), in seconds.
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    pub io_s: u32,
    /// hackbench -g 4 -l LOOPS for the scheduler-cost window.
    #[arg(long, default_value_t = 100, value_name = "LOOPS")]
    pub cost_loops: u32,
    /// Also run `baseline`: scx_relay's deadline built from this commit of
    /// the repository (e.g. a commit before a policy change), in the same boot.
    #[arg(long, value_name = "REV")]
    pub baseline: Option<String>,
    /// The upstream release to build scx_rustland (the peer) and
    /// scx_bpfland from.
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
        return rerender(&ws, opts, raw);
    }
    let mut opts = opts.clone();
    check_options(&ws, &mut opts)?;
    // The report names the commit, not a name that moves (HEAD~1, a branch).
    if let Some(rev) = &opts.baseline {
        opts.baseline = Some(baseline::resolve(&ws, rev)?[..12].to_owned());
    }
    let opts = &opts;
    let (kernel, image) = prepare_guest(&ws, opts)?;
    let vm = guest_limits(opts);
    let spec =
        BootSpec { label: "bench-vm", kernel: &kernel, initramfs: &image.path, params: boot_params(opts), vm: &vm };
    let outcome = qemu::boot(&ws, &spec)?;
    for problem in &outcome.problems {
        println!("bench-vm: kernel problem: {problem}");
    }

    let results = Results::parse(outcome.lines.iter().map(String::as_str));
    let command = command_line(opts);
    let run = GuestRun { kernel: &kernel.release, command: &command, cpus: opts.vm.cpus, accel: opts.vm.accel() };
    let raw = raw_text(&run, &outcome.lines);
    let machine = if opts.sim_fidelity { fidelity::machine_recording(&outcome.lines) } else { None };
    report(&ws, opts, &results, &run, Some(&raw), Recorded::Fresh(machine))?;
    if results.samples.is_empty() {
        bail!("the guest reported no measurement ({}); see {}", outcome.summary(), outcome.log_path.display());
    }
    Ok(outcome.passed() && results.errors.is_empty())
}

/// `--from-raw`: render the report again from the `raw.txt` at `raw`;
/// `Ok(false)` when it records errors.
fn rerender(ws: &Workspace, opts: &Options, raw: &Path) -> Result<bool> {
    let text = fs::read_to_string(raw).with_context(|| format!("cannot read {}", raw.display()))?;
    let kernel = text.lines().find_map(|l| l.strip_prefix("# kernel ")).unwrap_or("unknown").to_owned();
    let command = text.lines().find_map(|l| l.strip_prefix("# command ")).unwrap_or("cargo xtask bench-vm");
    // Raw files from before the `# cpus` line ran on the default 4, from
    // before the `# accel` line on one host thread.
    let cpus = text.lines().find_map(|l| l.strip_prefix("# cpus ")?.parse().ok()).unwrap_or(4);
    let accel = text.lines().find_map(|l| l.strip_prefix("# accel ")).unwrap_or(qemu::ACCEL_ONE_THREAD);
    let results = Results::parse(text.lines());
    ensure!(!results.samples.is_empty(), "{} holds no measurement", raw.display());
    // A --sim-fidelity run's raw file renders as one, with or without the flag.
    let mut opts = opts.clone();
    opts.sim_fidelity |= command.contains("--sim-fidelity");
    if opts.sim_fidelity {
        guest_binaries::build_workspace_binaries(ws)?;
    }
    let machine = fidelity::machine_beside(raw).filter(|p| p.exists());
    report(ws, &opts, &results, &GuestRun { kernel: &kernel, command, cpus, accel }, None, Recorded::Kept(machine))?;
    Ok(results.errors.is_empty())
}

/// Rejects a round count of 0, schedulers the guest does not know and
/// `baseline` or `baseline-fast` without `--baseline`; `--baseline` adds
/// `baseline` to the schedulers when they list neither. Fills in the
/// default schedulers.
fn check_options(ws: &Workspace, opts: &mut Options) -> Result<()> {
    ensure!(opts.rounds >= 1, "--rounds must be at least 1");
    // frame_pacer runs 60 frames a second: the work must fit in one.
    ensure!(opts.frames_s >= 1, "--frames-s must be at least 1");
    // The latency window runs from 1 s after cyclictest starts to 1.5 s
    // before it ends (bench.sh latency_load).
    ensure!(opts.latency_s >= 4, "--latency-s must be at least 4");
    ensure!(opts.frame_work_ms * 60 < 1000, "--frame-work-ms must be shorter than a 60 Hz frame (at most 16)");
    if opts.schedulers.is_empty() {
        opts.schedulers = if opts.sim_fidelity {
            guest_binaries::build_workspace_binaries(ws)?;
            crate::soak::shipped_policies(ws)?.iter().map(|p| fidelity::scheduler_of(p)).collect()
        } else {
            DEFAULT_SCHEDULERS.iter().map(|&s| s.to_owned()).collect()
        };
    }
    if opts.sim_fidelity {
        for name in &opts.schedulers {
            ensure!(
                fidelity::policy_of(name).is_some(),
                "--sim-fidelity compares scx_relay's policies; '{name}' is not one"
            );
        }
        ensure!(opts.baseline.is_none(), "--sim-fidelity does not take --baseline");
    }
    for name in &opts.schedulers {
        ensure!(SCHEDULERS.contains(&name.as_str()), "unknown scheduler '{name}' (known: {})", SCHEDULERS.join(", "));
    }
    let listed = opts.schedulers.iter().find(|s| *s == "baseline" || *s == "baseline-fast");
    match (&opts.baseline, listed) {
        (Some(_), None) => opts.schedulers.push("baseline".to_owned()),
        (None, Some(name)) => bail!("the scheduler '{name}' needs --baseline REV (the commit to build it from)"),
        _ => {}
    }
    Ok(())
}

/// The guest kernel and the initramfs, with what the chosen schedulers
/// need: the peer and the bench packages, or the workspace's binaries.
fn prepare_guest(ws: &Workspace, opts: &Options) -> Result<(GuestKernel, Initramfs)> {
    let kernel = setup::prepare(ws, &opts.kernel)?;
    for (name, tool) in [("rustland", crates_io_tool::SCX_RUSTLAND), ("bpfland", crates_io_tool::SCX_BPFLAND)] {
        if opts.schedulers.iter().any(|s| s == name) {
            setup::install_packages(setup::BENCH_PACKAGES)?;
            let bin = tool.ensure(ws, &opts.peer_version)?;
            println!("bench-vm: {} {}", tool.krate, bin.display());
        }
    }
    ensure!(
        kernel.config.is_some() || !opts.schedulers.iter().any(|s| s == "bpfland"),
        "scx_bpfland reads the kernel's configuration, and the guest kernel {} came without one",
        kernel.release
    );
    let baseline_bin = match &opts.baseline {
        Some(rev) => {
            let sha = baseline::resolve(ws, rev)?;
            let bin = baseline::ensure_baseline(ws, &sha)?;
            println!("bench-vm: baseline {} (scx_relay at {sha})", bin.display());
            Some(bin)
        }
        None => None,
    };
    // The image requires scx_relay and the examples whatever is compared.
    guest_binaries::build_workspace_binaries(ws)?;
    let extra: Vec<(&Path, &str)> = baseline_bin.iter().map(|b| (b.as_path(), baseline::GUEST_NAME)).collect();
    // The kernel's configuration where libbpf looks for it (`/boot/config-<release>`):
    // a scheduler whose BPF reads Kconfig values (scx_bpfland's does) fails
    // to load without it ("failed to open system Kconfig", EINVAL).
    let config_path = format!("boot/config-{}", kernel.release);
    let files: Vec<(&Path, &str)> = kernel.config.iter().map(|c| (c.as_path(), config_path.as_str())).collect();
    let image = initramfs::build_with(ws, "bench-vm", true, &extra, &files).context("cannot build the initramfs")?;
    vm_test::note_optional_binaries(&image);
    Ok((kernel, image))
}

/// The guest machine of `opts`; without `--timeout-s` the limit grows with
/// the rounds and schedulers.
fn guest_limits(opts: &Options) -> VmOptions {
    let mut vm = opts.vm.clone();
    if vm.timeout_s.is_none() {
        // Start-up, the workloads and a slow unload (tens of seconds under
        // emulation) per scheduler and round.
        // The wakeup profile runs the latency load again, between two more
        // restarts of the scheduler (both modes run it).
        let workloads = u64::from(if opts.sim_fidelity {
            2 * opts.latency_s + opts.fair_s + 120
        } else {
            2 * opts.latency_s + opts.switch_s + opts.io_s + opts.frames_s + 120
        });
        let per_run = 150 + workloads;
        let runs = u64::from(opts.rounds) * opts.schedulers.len() as u64;
        vm.timeout_s = Some((120 + per_run * runs).max(qemu::DEFAULT_TIMEOUT_S));
    }
    vm
}

/// The `relay.*=` kernel parameters that tell the payload what to run.
fn boot_params(opts: &Options) -> Vec<String> {
    let mut params = vec![
        format!("relay.payload={PAYLOAD}"),
        format!("relay.rounds={}", opts.rounds),
        format!("relay.schedulers={}", opts.schedulers.join(",")),
        format!("relay.hackbench_loops={}", opts.hackbench_loops),
        format!("relay.latency_s={}", opts.latency_s),
        format!("relay.switch_s={}", opts.switch_s),
        format!("relay.io_s={}", opts.io_s),
        format!("relay.cost_loops={}", opts.cost_loops),
        format!("relay.workloads={}", if opts.sim_fidelity { fidelity::WORKLOADS } else { WORKLOADS }),
        format!("relay.fair_s={}", opts.fair_s),
        format!("relay.frames_s={}", opts.frames_s),
        format!("relay.frame_work_ms={}", opts.frame_work_ms),
    ];
    if let Some(s) = fidelity::machine_scheduler(&opts.schedulers).filter(|_| opts.sim_fidelity) {
        params.push(format!("relay.machine_rec={s}"));
    }
    params
}

/// The guest workloads of a plain run (bench.sh's `relay.workloads`).
const WORKLOADS: &str = "hackbench,latency,switch,io,cost,frames,profile";

/// `raw.txt`: the kernel, command and CPU count as `#` lines, then the
/// guest's measurement lines among `lines`.
fn raw_text(run: &GuestRun<'_>, lines: &[String]) -> String {
    let mut raw =
        format!("# kernel {}\n# command {}\n# cpus {}\n# accel {}\n", run.kernel, run.command, run.cpus, run.accel);
    for line in lines.iter().filter(|l| l.starts_with(LINE_PREFIX)) {
        raw.push_str(line);
        raw.push('\n');
    }
    raw
}

/// The guest's recording of the machine (`--sim-fidelity`).
enum Recorded {
    /// From this boot's console, if it sent one.
    Fresh(Option<Vec<u8>>),
    /// A file kept from an earlier boot (`--from-raw`), if there is one.
    Kept(Option<PathBuf>),
}

/// Write `target/bench-vm/` (and the docs/ copies), print the table: the
/// results (`results.md`, `latency.svg`) or, with `--sim-fidelity`, the
/// simulator's runs and `fidelity.md`, with the machine's recording when
/// there is one (the simulator's costs); with `raw`, the guest's lines too.
fn report(
    ws: &Workspace,
    opts: &Options,
    results: &Results,
    run: &GuestRun<'_>,
    raw: Option<&str>,
    machine: Recorded,
) -> Result<()> {
    let out_dir = ws.target_dir().join("bench-vm");
    let write_out = |name: &str, docs: &str, bytes: &[u8]| -> Result<()> {
        write_bytes(&out_dir.join(name), bytes)?;
        if !opts.no_docs {
            write_bytes(&ws.root.join(docs), bytes)?;
        }
        Ok(())
    };
    let mut names = Vec::new();
    // The guest's lines first: whatever fails below, the boot's
    // measurements are kept.
    if let Some(raw) = raw {
        let (name, docs) =
            if opts.sim_fidelity { ("fidelity-raw.txt", fidelity::DOCS_RAW) } else { ("raw.txt", DOCS_RAW) };
        write_out(name, docs, raw.as_bytes())?;
        names.push(name);
    }
    let markdown = if opts.sim_fidelity {
        let binary = ws.target_dir().join("release/scx_relay");
        // The machine's recording: this boot's (written where a later
        // --from-raw finds it beside the raw file, or any earlier one
        // removed), or the one kept beside the raw file.
        let recorded = match machine {
            Recorded::Fresh(bytes) => {
                let path = out_dir.join(fidelity::MACHINE_FILE);
                let docs = ws.root.join(fidelity::DOCS_MACHINE);
                for stale in [Some(&path), (!opts.no_docs).then_some(&docs)].into_iter().flatten() {
                    if stale.exists() {
                        fs::remove_file(stale).with_context(|| format!("cannot remove {}", stale.display()))?;
                    }
                }
                match bytes {
                    Some(bytes) => {
                        write_out(fidelity::MACHINE_FILE, fidelity::DOCS_MACHINE, &bytes)?;
                        names.push(fidelity::MACHINE_FILE);
                        let shown = if opts.no_docs {
                            path.strip_prefix(&ws.root).unwrap_or(&path).display().to_string()
                        } else {
                            fidelity::DOCS_MACHINE.to_owned()
                        };
                        Some((path, shown))
                    }
                    None => None,
                }
            }
            Recorded::Kept(path) => path.map(|p| {
                let shown = p.strip_prefix(&ws.root).unwrap_or(&p).display().to_string();
                (p, shown)
            }),
        };
        let measured = || fidelity::simulate(&binary, results, run.cpus, &fidelity::SimCosts::Measured);
        let (costs, sim) = match recorded {
            Some((path, shown)) => {
                let costs = fidelity::SimCosts::Recorded { path, shown };
                match fidelity::simulate(&binary, results, run.cpus, &costs) {
                    Ok(sim) => (costs, sim),
                    Err(e) => {
                        println!("bench-vm: warning: the simulator refused the machine's recording ({e:#}); it runs on the costs measured once");
                        (fidelity::SimCosts::Measured, measured()?)
                    }
                }
            }
            None => (fidelity::SimCosts::Measured, measured()?),
        };
        let markdown = fidelity::markdown(results, &sim, run, &costs);
        write_out("fidelity.md", fidelity::DOCS_REPORT, markdown.as_bytes())?;
        names.push("fidelity.md");
        markdown
    } else {
        let markdown = results.markdown(run);
        write_out("results.md", DOCS_RESULTS, markdown.as_bytes())?;
        write_out("latency.svg", DOCS_CHART, results.latency_svg().as_bytes())?;
        names.extend(["results.md", "latency.svg"]);
        markdown
    };
    println!("{markdown}");
    println!("bench-vm: wrote {} in {}", names.join(", "), out_dir.display());
    for error in &results.errors {
        println!("bench-vm: error: {error}");
    }
    Ok(())
}

/// `cargo xtask bench-vm`'s options from `args` (the arguments after it).
fn parse_options(args: &[&str]) -> Result<Options, clap::Error> {
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        opts: Options,
    }
    <Cli as clap::Parser>::try_parse_from(std::iter::once("bench-vm").chain(args.iter().copied())).map(|cli| cli.opts)
}

/// What a report says about the guest run it comes from.
pub(super) struct GuestRun<'a> {
    /// The guest kernel's release.
    pub(super) kernel: &'a str,
    /// The command that reproduces the run ([`command_line`]).
    pub(super) command: &'a str,
    /// Its vCPUs.
    pub(super) cpus: u32,
    /// QEMU's `-accel` value ([`VmOptions::accel`]).
    pub(super) accel: &'a str,
}

impl<'a> GuestRun<'a> {
    /// A run of `command` on 4 vCPUs in turn on one host thread (tests).
    #[cfg(test)]
    pub(super) fn one_thread(command: &'a str, kernel: &'a str) -> Self {
        GuestRun { kernel, command, cpus: 4, accel: qemu::ACCEL_ONE_THREAD }
    }

    /// The guest, for a report's opening line: the emulator, its vCPUs
    /// and how they ran, the kernel.
    pub(super) fn machine(&self) -> String {
        format!("{}, kernel {}", qemu::vcpus_described(self.cpus, self.accel), self.kernel)
    }
}

/// The command that reproduces this run (for the table's header): every
/// option that changes what is measured, where it is not the default (not
/// the limits, the mirror, `--refresh` or `--no-docs`).
fn command_line(opts: &Options) -> String {
    let mut cmd = String::from("cargo xtask bench-vm");
    if opts.sim_fidelity {
        cmd.push_str(" --sim-fidelity");
    }
    if opts.rounds != 5 {
        let _ = write!(cmd, " --rounds {}", opts.rounds);
    }
    // --sim-fidelity's default is what the build ships: name it.
    // (Empty before check_options(): the default.)
    if opts.sim_fidelity || !(opts.schedulers.is_empty() || opts.schedulers == DEFAULT_SCHEDULERS) {
        let _ = write!(cmd, " --schedulers {}", opts.schedulers.join(","));
    }
    if let Some(rev) = &opts.baseline {
        let _ = write!(cmd, " --baseline {rev}");
    }
    // The workloads' lengths and the guest, where they are not the
    // defaults (which always parse).
    if let Ok(defaults) = parse_options(&[]) {
        let numbers = [
            ("--fair-s", opts.fair_s, defaults.fair_s),
            ("--frames-s", opts.frames_s, defaults.frames_s),
            ("--frame-work-ms", opts.frame_work_ms, defaults.frame_work_ms),
            ("--hackbench-loops", opts.hackbench_loops, defaults.hackbench_loops),
            ("--latency-s", opts.latency_s, defaults.latency_s),
            ("--switch-s", opts.switch_s, defaults.switch_s),
            ("--io-s", opts.io_s, defaults.io_s),
            ("--cost-loops", opts.cost_loops, defaults.cost_loops),
            ("--cpus", opts.vm.cpus, defaults.vm.cpus),
        ];
        for (name, value, default) in numbers {
            if value != default {
                let _ = write!(cmd, " {name} {value}");
            }
        }
    }
    if opts.vm.memory != DEFAULT_MEMORY {
        let _ = write!(cmd, " --memory {}", opts.vm.memory);
    }
    if opts.vm.parallel_vcpus {
        cmd.push_str(" --parallel-vcpus");
    }
    if opts.peer_version != PEER_VERSION {
        let _ = write!(cmd, " --peer-version {}", opts.peer_version);
    }
    if let Some(series) = &opts.kernel.kernel {
        let _ = write!(cmd, " --kernel {series}");
    }
    cmd
}

/// Writes `bytes` to `path`, creating its directory.
fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// The table's name for a scheduler.
fn display_name(scheduler: &str) -> &str {
    match scheduler {
        "eevdf" => "EEVDF",
        "eevdf-nohrtick" => "EEVDF, no HRTICK",
        "rustland" => "scx_rustland",
        "bpfland" => "scx_bpfland",
        "baseline" => "baseline deadline",
        "baseline-fast" => "baseline deadline, fast path",
        "deadline" => "scx_relay deadline",
        "deadline-fast" => "scx_relay deadline, fast path",
        "fifo" => "scx_relay fifo",
        "interactive" => "scx_relay interactive",
        "interactive-fast" => "scx_relay interactive, fast path",
        "local" => "scx_relay local",
        "relay-eevdf" => "scx_relay eevdf",
        other => other,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Guest measurement lines, one per (round, scheduler, metric, value).
    pub(super) fn lines(rounds: &[(u32, &str, &str, f64)]) -> Vec<String> {
        rounds.iter().map(|(r, s, m, v)| format!("relay-bench: {r} {s} {m} {v}")).collect()
    }

    /// The fixed input of the pinned-output tests: four schedulers (one the
    /// `--baseline` build) over two rounds, raw and derived metrics (some missing), numbers of every
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
            (1, "eevdf", "hdd_ops_s", 4321.0),
            (1, "eevdf", "frame_missed", 0.0),
            (1, "eevdf", "frame_p99_ms", 20.5),
            (1, "rustland", "hackbench_s", 12.5),
            (2, "rustland", "hackbench_s", 14.25),
            (1, "rustland", "lat_p50_us", 35.0),
            (2, "rustland", "lat_p50_us", 41.0),
            (1, "rustland", "lat_p99_us", 912.0),
            (1, "rustland", "lat_max_us", 20417.0),
            (1, "rustland", "cost_cpu_ms", 812.0),
            (1, "rustland", "cost_decisions", 40210.0),
            (1, "rustland", "cost_syscalls", 160840.0),
            (1, "rustland", "cost_bpf_ms", 402.0),
            (1, "rustland", "cost_bpf_runs", 201000.0),
            (1, "rustland", "prof_runs", 30000.0),
            (1, "baseline", "hackbench_s", 9.5),
            (2, "baseline", "hackbench_s", 10.5),
            (1, "baseline", "lat_p99_us", 600.0),
            (2, "baseline", "lat_p99_us", 800.0),
            (1, "deadline", "hackbench_s", 9.875),
            (2, "deadline", "hackbench_s", 10.125),
            (1, "deadline", "lat_p50_us", 0.5),
            (1, "deadline", "lat_p99_us", 640.0),
            (2, "deadline", "lat_p99_us", 702.0),
            (1, "deadline", "lat_max_us", 15333.0),
            (1, "deadline", "switch_ops_s", 98765.4),
            (1, "deadline", "hdd_ops_s", 4000.0),
            (1, "deadline", "frame_missed", 0.0),
            (1, "deadline", "frame_p99_ms", 18.0),
            (1, "deadline", "cost_cpu_ms", 301.5),
            (1, "deadline", "cost_decisions", 52000.0),
            (2, "deadline", "cost_cpu_ms", 280.0),
            (2, "deadline", "cost_decisions", 50000.0),
            (1, "deadline", "cost_bpf_ms", 156.0),
            (1, "deadline", "cost_bpf_runs", 104000.0),
            (2, "deadline", "cost_bpf_ms", 130.0),
            (2, "deadline", "cost_bpf_runs", 100000.0),
            (1, "deadline", "bpf_dispatch_runs", 8000.0),
            (1, "deadline", "bpf_dispatch_ns", 48000000.0),
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
        let command =
            "cargo xtask bench-vm --rounds 2 --schedulers eevdf,rustland,deadline,baseline --baseline b065472";
        let md = pinned_input().markdown(&GuestRun::one_thread(command, "7.3.4"));
        assert_eq!(md, PINNED_MARKDOWN);
    }

    /// The header's command names every option that is not the default,
    /// so that it reproduces the run; the header says how the vCPUs ran.
    #[test]
    fn command_line_and_machine_name_what_is_not_the_default() {
        let opts = parse_options(&[]).unwrap();
        assert_eq!(command_line(&opts), "cargo xtask bench-vm");
        let args = ["--rounds", "1", "--hackbench-loops", "50", "--cpus", "2", "--parallel-vcpus", "--no-docs"];
        let opts = parse_options(&args).unwrap();
        let command = command_line(&opts);
        assert_eq!(command, "cargo xtask bench-vm --rounds 1 --hackbench-loops 50 --cpus 2 --parallel-vcpus");
        let other = parse_options(&["--memory", "3G", "--peer-version", "1.0.0", "--kernel", "6.19"]).unwrap();
        assert_eq!(command_line(&other), "cargo xtask bench-vm --memory 3G --peer-version 1.0.0 --kernel 6.19");
        let run = GuestRun { kernel: "7.3", command: &command, cpus: opts.vm.cpus, accel: opts.vm.accel() };
        assert_eq!(run.machine(), "QEMU TCG, 2 vCPUs each on its own host thread, kernel 7.3");
        assert!(raw_text(&run, &[]).contains("# cpus 2\n# accel tcg,thread=multi\n"));
        assert_eq!(
            GuestRun::one_thread("c", "7.3").machine(),
            "QEMU TCG, 4 vCPUs in turn on one host thread, kernel 7.3"
        );
    }

    /// `--baseline` adds the `baseline` scheduler, which is unknown without it.
    #[test]
    fn baseline_option() {
        let parse = |args: &[&str]| parse_options(args).unwrap();
        let ws = Workspace::locate().unwrap();
        let mut opts = parse(&["--baseline", "HEAD~1"]);
        check_options(&ws, &mut opts).unwrap();
        assert_eq!(opts.schedulers, ["eevdf", "rustland", "deadline", "fifo", "baseline"]);
        assert_eq!(
            command_line(&opts),
            "cargo xtask bench-vm --schedulers eevdf,rustland,deadline,fifo,baseline --baseline HEAD~1"
        );
        let mut opts = parse(&["--schedulers", "baseline,deadline", "--baseline", "abc"]);
        check_options(&ws, &mut opts).unwrap();
        assert_eq!(opts.schedulers, ["baseline", "deadline"]);
        let mut opts = parse(&["--schedulers", "deadline,baseline"]);
        let err = check_options(&ws, &mut opts).unwrap_err().to_string();
        assert!(err.contains("needs --baseline"), "{err}");
        // baseline-fast: the baseline with --fast-path; baseline is not added beside it.
        let mut opts = parse(&["--schedulers", "deadline-fast,baseline-fast", "--baseline", "abc"]);
        check_options(&ws, &mut opts).unwrap();
        assert_eq!(opts.schedulers, ["deadline-fast", "baseline-fast"]);
        let mut opts = parse(&["--schedulers", "baseline-fast"]);
        let err = check_options(&ws, &mut opts).unwrap_err().to_string();
        assert!(err.contains("'baseline-fast' needs --baseline"), "{err}");
        // --sim-fidelity compares scx_relay's policies only.
        let mut opts = parse(&["--sim-fidelity", "--schedulers", "deadline,relay-eevdf"]);
        check_options(&ws, &mut opts).unwrap();
        assert_eq!(command_line(&opts), "cargo xtask bench-vm --sim-fidelity --schedulers deadline,relay-eevdf");
        let mut opts = parse(&["--sim-fidelity", "--schedulers", "deadline,eevdf"]);
        let err = check_options(&ws, &mut opts).unwrap_err().to_string();
        assert!(err.contains("'eevdf' is not one"), "{err}");
        let mut opts = parse(&["--sim-fidelity", "--schedulers", "deadline,eevdf-nohrtick"]);
        let err = check_options(&ws, &mut opts).unwrap_err().to_string();
        assert!(err.contains("'eevdf-nohrtick' is not one"), "{err}");
        let mut opts = parse(&["--schedulers", "eevdf,eevdf-nohrtick"]);
        check_options(&ws, &mut opts).unwrap();
        // The latency window needs 1 s at its start and 1.5 s at its end.
        let mut opts = parse(&["--latency-s", "3"]);
        let err = check_options(&ws, &mut opts).unwrap_err().to_string();
        assert!(err.contains("--latency-s must be at least 4"), "{err}");
    }

    /// The latency chart of [`pinned_input`], byte for byte.
    #[test]
    fn latency_svg_is_pinned() {
        assert_eq!(pinned_input().latency_svg(), PINNED_SVG);
    }

    /// `markdown` of [`pinned_input`].
    const PINNED_MARKDOWN: &str = r##"Medians over 2 interleaved rounds in one guest boot (QEMU TCG, 4 vCPUs in turn on one host thread, kernel 7.3.4); `cargo xtask bench-vm --rounds 2 --schedulers eevdf,rustland,deadline,baseline --baseline b065472`.

| metric | EEVDF | scx_rustland | baseline deadline | scx_relay deadline | deadline / EEVDF | deadline / scx_rustland | deadline / baseline deadline |
|---|---:|---:|---:|---:|---:|---:|---:|
| hackbench time (s) ↓ | 5.500 | 13.38 | 10.00 | 10.00 | 1.82× | 0.75× | 1.00× |
| cyclictest p50 under load (µs) ↓ | 6996 | 38.00 | – | 0.500 | 0.00× | 0.01× | – |
| cyclictest p99 under load (µs) ↓ | 49006 | 912.0 | 700.0 | 671.0 | 0.01× | 0.74× | 0.96× |
| cyclictest max under load (µs) ↓ | 81234 | 20417 | – | 15333 | 0.19× | 0.75× | – |
| 60 Hz frames: vsyncs missed under load ↓ | 0.000 | – | – | 0.000 | – | – | – |
| 60 Hz frames: frame time p99 (ms) ↓ | 20.50 | – | – | 18.00 | 0.88× | – | – |
| stress-ng --switch (ops/s) ↑ | 123456 | – | – | 98765 | 0.80× | – | – |
| stress-ng --hdd (ops/s) ↑ | 4321 | – | – | 4000 | 0.93× | – | – |
| scheduler CPU per 1,000 decisions (ms) ↓ | – | 20.19 | – | 5.699 | – | 0.28× | – |
| its BPF programs' CPU per 1,000 decisions (ms, kernel BPF stats) ↓ | – | 9.998 | – | 2.800 | – | 0.28× | – |
| scheduler CPU and its BPF programs' per 1,000 decisions (ms) ↓ | – | 30.19 | – | 8.499 | – | 0.28× | – |
| scheduler syscalls per decision ↓ | – | 4.000 | – | 1.500 | – | 0.38× | – |

**Targets** (ratio of medians):

| target | measured | verdict |
|---|---:|---|
| scx_relay deadline hackbench time: scx_relay deadline vs scx_rustland ≤ 1.00× | 0.75× | met |
| scx_relay deadline cyclictest p99: scx_relay deadline vs scx_rustland ≤ 1.00× | 0.74× | met |
| scx_relay deadline scheduler CPU per 1,000 decisions: scx_relay deadline vs scx_rustland ≤ 0.70× | 0.28× | met |
| scx_relay deadline scheduler CPU with its BPF programs' per 1,000 decisions: scx_relay deadline vs scx_rustland ≤ 0.70× | 0.28× | met |
| scx_relay deadline hackbench time: scx_relay deadline vs EEVDF ≤ 1.10× | 1.82× | **missed** |
| scx_relay deadline hackbench time: scx_relay deadline vs baseline deadline ≤ 1.10× | 1.00× | met |
| scx_relay deadline cyclictest p99: scx_relay deadline vs baseline deadline ≤ 1.10× | 0.96× | met |
| scx_relay deadline cyclictest p50: scx_relay deadline vs EEVDF ≤ 1.00× | 0.00× | met |
| scx_relay deadline cyclictest p99: scx_relay deadline vs EEVDF ≤ 1.00× | 0.01× | met |
| scx_relay deadline 60 Hz vsyncs missed: scx_relay deadline vs EEVDF ≤ 1.00× | 0.000 vs 0.000 | met |
| scx_relay deadline 60 Hz frame time p99: scx_relay deadline vs EEVDF ≤ 1.00× | 0.88× | met |
| scx_relay deadline hackbench time: scx_relay deadline vs scx_rustland ≤ 0.90× | 0.75× | met |
| scx_relay deadline scheduler CPU per 1,000 decisions: scx_relay deadline vs baseline deadline ≤ 1.00× | – | not measured |
| scx_relay deadline scheduler CPU with its BPF programs' per 1,000 decisions: scx_relay deadline vs baseline deadline ≤ 1.00× | – | not measured |

**Profile of the scheduler process** in the cost window (medians of per-round values):

| | scx_rustland | baseline deadline | scx_relay deadline |
|---|---:|---:|---:|
| decisions in the cost window | 40210 | – | 51000 |
| scheduler CPU in the cost window (ms) | 812.0 | – | 290.8 |
| its BPF programs' CPU in the cost window (ms) | 402.0 | – | 143.0 |
| BPF program runs per decision | 4.999 | – | 2.000 |
| µs per BPF program run | 2.000 | – | 1.400 |
| ops.select_cpu: µs per run | – | – | – |
| ops.enqueue: µs per run | – | – | – |
| ops.dispatch: µs per run | – | – | 6.000 |
| ops.runnable: µs per run | – | – | – |
| ops.running: µs per run | – | – | – |
| ops.stopping: µs per run | – | – | – |
| ops.quiescent: µs per run | – | – | – |
| ops.dequeue: µs per run | – | – | – |
| ops.tick: µs per run | – | – | – |
| sched_switch tracepoint: µs per run | – | – | – |
| syscalls per decision | 4.000 | – | 1.500 |
| sched_yield per decision | – | – | 0.500 |
| bpf() per decision | – | – | 0.000 |
| user-scheduler wake-ups per decision | 0.746 | – | 0.404 |
| tasks drained per non-empty wake-up | – | – | 2.476 |
| empty loop steps (share) | – | – | 0.300 |
| user-ring-buffer drains per ops.dispatch | – | – | 0.500 |
| decisions per drain | – | – | 13.00 |
| kicks per decision | – | – | 0.025 |
| ops.dispatch calls per decision | – | – | 0.154 |

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
<rect x="83.8" y="100.1" width="34.7" height="199.9" fill="#4e79a7"/><text x="101.1" y="97.1" text-anchor="middle" font-size="10">6996</text>
<rect x="120.4" y="56.1" width="34.7" height="243.9" fill="#f28e2b"/><text x="137.8" y="53.1" text-anchor="middle" font-size="10">49006</text>
<rect x="157.1" y="44.7" width="34.7" height="255.3" fill="#e15759"/><text x="174.4" y="41.7" text-anchor="middle" font-size="10">81234</text>
<text x="138.8" y="318.0" text-anchor="middle">EEVDF</text>
<rect x="221.2" y="217.9" width="34.7" height="82.1" fill="#4e79a7"/><text x="238.6" y="214.9" text-anchor="middle" font-size="10">38.00</text>
<rect x="257.9" y="146.1" width="34.7" height="153.9" fill="#f28e2b"/><text x="275.2" y="143.1" text-anchor="middle" font-size="10">912.0</text>
<rect x="294.6" y="75.9" width="34.7" height="224.1" fill="#e15759"/><text x="311.9" y="72.9" text-anchor="middle" font-size="10">20417</text>
<text x="276.2" y="318.0" text-anchor="middle">scx_rustland</text>
<rect x="395.4" y="152.1" width="34.7" height="147.9" fill="#f28e2b"/><text x="412.8" y="149.1" text-anchor="middle" font-size="10">700.0</text>
<text x="413.8" y="318.0" text-anchor="middle">baseline deadline</text>
<rect x="496.2" y="300.0" width="34.7" height="0.0" fill="#4e79a7"/><text x="513.6" y="297.0" text-anchor="middle" font-size="10">0.500</text>
<rect x="532.9" y="153.0" width="34.7" height="147.0" fill="#f28e2b"/><text x="550.2" y="150.0" text-anchor="middle" font-size="10">671.0</text>
<rect x="569.6" y="82.3" width="34.7" height="217.7" fill="#e15759"/><text x="586.9" y="79.3" text-anchor="middle" font-size="10">15333</text>
<text x="551.2" y="318.0" text-anchor="middle">scx_relay deadline</text>
<rect x="80.0" y="332.0" width="12" height="12" fill="#4e79a7"/><text x="96.0" y="342.0">p50</text>
<rect x="150.0" y="332.0" width="12" height="12" fill="#f28e2b"/><text x="166.0" y="342.0">p99</text>
<rect x="220.0" y="332.0" width="12" height="12" fill="#e15759"/><text x="236.0" y="342.0">max</text>
</svg>
"##;
}
