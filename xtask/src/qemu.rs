//! Booting the guest in QEMU and reading its verdict off the serial console.
//!
//! Strap in; one boot goes like this:
//! 1. Start `qemu-system-x86_64` (single-threaded TCG: multi-threaded TCG
//!    races the guest kernel's int3 code patching) with the guest kernel,
//!    the initramfs and a command line naming the payload (`relay.*=`).
//! 2. Stream the console line by line: echo it live (prefixed `guest| `),
//!    save it to `target/vm-logs/`, classify it (`console::classify`).
//! 3. Until the start marker, the guest is booting. If it dies, hangs past
//!    the boot timeout, or the kernel reports a problem before the marker,
//!    that is a boot failure, nothing of ours ran yet: boot again (at most
//!    [`BOOT_ATTEMPTS`] in all).
//! 4. After the marker, never retry. The payload ends with one line
//!    `relay-guest: exit <N>` and the guest powers off. Kernel problem lines
//!    are recorded (they fail the run even if N is 0); a panic, soft lockup
//!    or RCU stall stops QEMU after a short grace period, and the wall-clock
//!    timeout stops it in any case.

use std::{
    fs::File,
    io::{BufRead, BufReader, Read, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc::{self, Receiver, RecvTimeoutError, Sender},
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, Result};

use crate::{
    console::{self, Line, Problem},
    guest_kernel::GuestKernel,
    workspace::Workspace,
};

/// Default wall-clock limit for one boot, in seconds.
pub const DEFAULT_TIMEOUT_S: u64 = 600;
/// Boots per run: the first one plus two retries for boot failures.
pub const BOOT_ATTEMPTS: u32 = 3;
/// The emulator.
const QEMU: &str = "qemu-system-x86_64";
/// How long a panicking guest may keep printing its backtrace.
const PANIC_GRACE: Duration = Duration::from_secs(10);
/// How long a stalled guest may try to recover before QEMU is stopped.
const STALL_GRACE: Duration = Duration::from_secs(60);
/// How long the guest may take to power off after its exit line.
const POWEROFF_GRACE: Duration = Duration::from_secs(30);

/// Guest machine and time limits, shared by every subcommand that boots.
#[derive(Debug, Clone, clap::Args)]
pub struct VmOptions {
    /// Wall-clock limit for one boot, start to power-off, in seconds
    /// (default 600).
    #[arg(long, value_name = "SECONDS")]
    pub timeout_s: Option<u64>,
    /// Limit for reaching the start marker, in seconds (a boot that takes
    /// longer counts as a boot failure and is retried).
    #[arg(long, default_value_t = 180, value_name = "SECONDS")]
    pub boot_timeout_s: u64,
    /// Virtual CPUs in the guest.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub cpus: u32,
    /// Guest memory (QEMU `-m` syntax).
    #[arg(long, default_value = DEFAULT_MEMORY, value_name = "SIZE")]
    pub memory: String,
    /// Run each vCPU on its own host thread (QEMU's multi-threaded TCG),
    /// as CPUs run on a real machine, instead of all of them in turn on
    /// one. For diagnosis (with no more vCPUs than host cores): an
    /// interrupt from one vCPU to another arrives at once, not at the
    /// receiver's next turn. Under it the guest kernel's int3 code
    /// patching can oops (seen at boot, which is retried, and once at a
    /// scheduler switch, which fails the run).
    #[arg(long)]
    pub parallel_vcpus: bool,
}

/// The guest's memory unless `--memory` says otherwise.
pub const DEFAULT_MEMORY: &str = "2G";

/// QEMU's `-accel` for the default: every vCPU in turn on one host thread.
pub const ACCEL_ONE_THREAD: &str = "tcg,thread=single";
/// QEMU's `-accel` for `--parallel-vcpus`: a host thread per vCPU.
pub const ACCEL_PARALLEL: &str = "tcg,thread=multi";

impl VmOptions {
    /// QEMU's `-accel` value for these options.
    pub fn accel(&self) -> &'static str {
        if self.parallel_vcpus {
            ACCEL_PARALLEL
        } else {
            ACCEL_ONE_THREAD
        }
    }
}

/// How a guest's `cpus` vCPUs ran under QEMU's `-accel` value `accel`, for
/// reports.
pub fn vcpus_described(cpus: u32, accel: &str) -> String {
    let threads = if accel == ACCEL_PARALLEL { "each on its own host thread" } else { "in turn on one host thread" };
    format!("QEMU TCG, {cpus} vCPUs {threads}")
}

/// What to boot.
pub struct BootSpec<'a> {
    /// Names the log files (`target/vm-logs/<label>-...`).
    pub label: &'a str,
    /// The guest kernel.
    pub kernel: &'a GuestKernel,
    /// The `.cpio.gz` image.
    pub initramfs: &'a Path,
    /// `relay.*=` parameters appended to the kernel command line.
    pub params: Vec<String>,
    /// Machine and limits.
    pub vm: &'a VmOptions,
}

/// How the guest ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestEnd {
    /// The guest printed `relay-guest: exit <N>`.
    Exited(i32),
    /// The guest never reached its start marker in any attempt.
    BootFailed(String),
    /// The wall-clock timeout expired after the start marker.
    TimedOut,
    /// QEMU was stopped after a fatal kernel problem.
    KilledAfterProblem,
    /// QEMU ended after the start marker without an exit line.
    Vanished,
}

/// The structured result of one (possibly retried) boot.
#[derive(Debug, Clone)]
pub struct BootOutcome {
    /// How the guest ended.
    pub end: GuestEnd,
    /// Kernel-problem lines (panic, `BUG:`, `WARNING:`, Oops, stall, ...)
    /// seen after the start marker.
    pub problems: Vec<String>,
    /// Console lines from the start marker on.
    pub lines: Vec<String>,
    /// The full console log of the last attempt.
    pub log_path: PathBuf,
    /// Boots it took (1 unless boot failures were retried).
    pub attempts: u32,
    /// QEMU start to start marker, last attempt.
    pub boot_time: Duration,
    /// Start marker to the end of the run.
    pub run_time: Duration,
}

impl BootOutcome {
    /// The payload exited 0 and the kernel reported nothing.
    pub fn passed(&self) -> bool {
        self.end == GuestEnd::Exited(0) && self.problems.is_empty()
    }

    /// One line describing the outcome.
    pub fn summary(&self) -> String {
        let end = match &self.end {
            GuestEnd::Exited(code) => format!("guest exited {code}"),
            GuestEnd::BootFailed(reason) => format!("boot failed: {reason}"),
            GuestEnd::TimedOut => "timed out".to_owned(),
            GuestEnd::KilledAfterProblem => "stopped after a kernel problem".to_owned(),
            GuestEnd::Vanished => "guest ended without an exit line".to_owned(),
        };
        format!(
            "{end}; {} kernel problem line(s); boot {:.1}s, run {:.1}s, attempt(s) {}; log {}",
            self.problems.len(),
            self.boot_time.as_secs_f64(),
            self.run_time.as_secs_f64(),
            self.attempts,
            self.log_path.display()
        )
    }
}

/// Boot the guest, retrying boot failures, and return how the run ended.
pub fn boot(ws: &Workspace, spec: &BootSpec<'_>) -> Result<BootOutcome> {
    let log_dir = ws.vm_log_dir();
    std::fs::create_dir_all(&log_dir).with_context(|| format!("cannot create {}", log_dir.display()))?;
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut attempt = 1;
    loop {
        let log_path = log_dir.join(format!("{}-{stamp}-boot{attempt}.log", spec.label));
        let mut outcome = boot_once(spec, &log_path)?;
        outcome.attempts = attempt;
        match &outcome.end {
            GuestEnd::BootFailed(reason) if attempt < BOOT_ATTEMPTS => {
                println!("vm: boot {attempt} failed ({reason}); booting again (log {})", log_path.display());
                attempt += 1;
            }
            _ => {
                println!("vm: {}", outcome.summary());
                return Ok(outcome);
            }
        }
    }
}

/// The kernel command line for `spec`.
fn kernel_cmdline(spec: &BootSpec<'_>) -> String {
    // `quiet` keeps boot noise off the console; `loglevel=5` (after it)
    // still lets warning-level messages through, which is where the
    // kernel's `WARNING:` lines are printed. `panic=-1` reboots at once on
    // a panic, and `-no-reboot` turns that into QEMU exiting. A soft
    // lockup (a CPU not scheduling for 2 x watchdog_thresh) prints every
    // CPU's stack, not only the stuck one's: a CPU that waits on another
    // then shows whom it waits on.
    //
    // `transparent_hugepage=never` keeps khugepaged asleep. Under
    // single-threaded emulation, its copy of 512 pages inside an RCU read
    // section (`collapse_huge_page()`) takes tens of ms of guest CPU; at
    // nice 19 (weight 15) among nice-0 hogs on the fair class (while
    // scx_relay restarts after a CPU change), that took it past the RCU
    // stall timeout (21 s) three times, and this kernel has no
    // `CONFIG_RCU_BOOST` to lift a preempted reader. The stall held up
    // sched_ext's enable and then ejected it ("RCU CPU stall"). On
    // hardware the same copy takes ~100 us. docs/reliability.md,
    // "CPU hotplug", has the evidence.
    let mut cmdline = String::from(
        "console=ttyS0 quiet loglevel=5 panic=-1 sysctl.kernel.softlockup_all_cpu_backtrace=1 \
         transparent_hugepage=never",
    );
    for param in &spec.params {
        cmdline.push(' ');
        cmdline.push_str(param);
    }
    cmdline
}

/// Events from the reader threads.
enum Event {
    Console(String),
    Stderr(String),
    ConsoleClosed,
}

/// Per-attempt state of the console watch.
struct Watch {
    start: Instant,
    started_at: Option<Instant>,
    exit_code: Option<i32>,
    exit_at: Option<Instant>,
    problems: Vec<String>,
    /// The index in `problems` of the last ejection, until a
    /// [`Line::RequestedEjection`] says a test asked for it.
    last_ejection: Option<usize>,
    boot_problem: Option<String>,
    lines: Vec<String>,
    kill_at: Option<Instant>,
}

impl Watch {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            started_at: None,
            exit_code: None,
            exit_at: None,
            problems: Vec::new(),
            last_ejection: None,
            boot_problem: None,
            lines: Vec::new(),
            kill_at: None,
        }
    }

    /// Update the state from one console line.
    fn observe(&mut self, line: &str) {
        let now = Instant::now();
        let classified = console::classify(line);
        if self.started_at.is_none() {
            match classified {
                Line::Start => {
                    self.started_at = Some(now);
                    self.lines.push(line.to_owned());
                }
                Line::Problem(_) if self.boot_problem.is_none() => {
                    self.boot_problem = Some(line.trim().to_owned());
                }
                _ => {}
            }
            return;
        }
        self.lines.push(line.to_owned());
        match classified {
            Line::Exit(code) if self.exit_code.is_none() => {
                self.exit_code = Some(code);
                self.exit_at = Some(now);
            }
            Line::Problem(problem) => {
                if problem == Problem::Ejection {
                    self.last_ejection = Some(self.problems.len());
                }
                self.problems.push(line.trim().to_owned());
                if problem.is_fatal() && self.kill_at.is_none() {
                    let grace = if problem == Problem::Panic { PANIC_GRACE } else { STALL_GRACE };
                    self.kill_at = Some(now + grace);
                }
            }
            Line::RequestedEjection => {
                if let Some(at) = self.last_ejection.take() {
                    self.problems.remove(at);
                }
            }
            // Another message of the kernel's about sched_ext: the
            // ejection's own message was not the requested one.
            Line::Other if line.contains("sched_ext: ") => self.last_ejection = None,
            _ => {}
        }
    }
}

/// One boot, without retries.
fn boot_once(spec: &BootSpec<'_>, log_path: &Path) -> Result<BootOutcome> {
    let mut log = ConsoleLog::create(log_path)?;
    let mut cmd = qemu_command(spec);
    log.write_line(&format!("# {}", crate::exec::describe(&cmd)))?;
    let mut child = Qemu(
        cmd.spawn()
            .with_context(|| format!("cannot start {QEMU} (is qemu-system-x86 installed? run `cargo xtask setup`)"))?,
    );
    let events = spawn_readers(&mut child.0)?;

    let mut watch = Watch::new();
    let deadlines = Deadlines::new(spec.vm, watch.start);
    let stopped = watch_console(&events, &mut log, &mut watch, &deadlines)?;
    let finished = Instant::now();
    stop(&mut child.0, !matches!(stopped, WatchEnd::ConsoleClosed))?;
    Ok(outcome(watch, stopped, finished, log_path))
}

/// The QEMU command line for `spec`: TCG (single-threaded unless
/// `--parallel-vcpus`), the console on stdout, no network, no reboot.
fn qemu_command(spec: &BootSpec<'_>) -> Command {
    let mut cmd = Command::new(QEMU);
    cmd.args(["-accel", spec.vm.accel(), "-cpu", "max"])
        .arg("-smp")
        .arg(spec.vm.cpus.to_string())
        .arg("-m")
        .arg(&spec.vm.memory)
        .args(["-nographic", "-no-reboot", "-nic", "none"])
        .arg("-kernel")
        .arg(&spec.kernel.vmlinuz)
        .arg("-initrd")
        .arg(spec.initramfs)
        .arg("-append")
        .arg(kernel_cmdline(spec))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// An attempt's console log file (`target/vm-logs/...`).
struct ConsoleLog<'a> {
    /// The open file.
    file: File,
    /// Where it is, for errors.
    path: &'a Path,
}

impl<'a> ConsoleLog<'a> {
    /// Creates (or truncates) the log at `path`.
    fn create(path: &'a Path) -> Result<Self> {
        let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self { file, path })
    }

    /// Appends `line` and a newline.
    fn write_line(&mut self, line: &str) -> Result<()> {
        writeln!(self.file, "{line}").with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// Why the console watch of an attempt stopped.
#[derive(Debug, PartialEq, Eq)]
enum WatchEnd {
    /// The console closed (QEMU is exiting) or the readers are gone.
    ConsoleClosed,
    /// The guest did not power off within [`POWEROFF_GRACE`] of its exit line.
    PoweredOffLate,
    /// The watch decided how the guest ended: a boot failure, a kill after
    /// a fatal problem, or the timeout.
    Ended(GuestEnd),
}

/// The instants at which an attempt's watch gives up.
struct Deadlines {
    /// The wall-clock limit of the whole boot.
    run: Instant,
    /// The limit for reaching the start marker.
    boot: Instant,
    /// That limit in seconds, for the message.
    boot_timeout_s: u64,
}

impl Deadlines {
    /// The limits of `vm`, counted from `start`.
    fn new(vm: &VmOptions, start: Instant) -> Self {
        Self {
            run: start + Duration::from_secs(vm.timeout_s.unwrap_or(DEFAULT_TIMEOUT_S)),
            boot: start + Duration::from_secs(vm.boot_timeout_s),
            boot_timeout_s: vm.boot_timeout_s,
        }
    }

    /// The next instant at which [`Deadlines::expired`] may have news.
    fn wake(&self, watch: &Watch) -> Instant {
        let mut wake = self.run;
        if watch.started_at.is_none() {
            wake = wake.min(self.boot);
        }
        if let Some(kill_at) = watch.kill_at {
            wake = wake.min(kill_at);
        }
        if let Some(exit_at) = watch.exit_at {
            wake = wake.min(exit_at + POWEROFF_GRACE);
        }
        wake
    }

    /// Whether the watch must stop at `now`, and why: the power-off grace
    /// is over, a fatal problem's grace is over, the boot or the run took
    /// too long (checked in that order).
    fn expired(&self, watch: &Watch, now: Instant) -> Option<WatchEnd> {
        if watch.exit_at.is_some_and(|at| now >= at + POWEROFF_GRACE) {
            Some(WatchEnd::PoweredOffLate)
        } else if watch.kill_at.is_some_and(|at| now >= at) {
            Some(WatchEnd::Ended(GuestEnd::KilledAfterProblem))
        } else if watch.started_at.is_none() && now >= self.boot {
            Some(WatchEnd::Ended(GuestEnd::BootFailed(format!("no start marker within {}s", self.boot_timeout_s))))
        } else if now >= self.run {
            Some(WatchEnd::Ended(GuestEnd::TimedOut))
        } else {
            None
        }
    }
}

/// Echoes and logs QEMU's output and feeds the console to `watch` until
/// the attempt is over; says why it stopped.
fn watch_console(
    events: &Receiver<Event>,
    log: &mut ConsoleLog<'_>,
    watch: &mut Watch,
    deadlines: &Deadlines,
) -> Result<WatchEnd> {
    loop {
        let now = Instant::now();
        match events.recv_timeout(deadlines.wake(watch).saturating_duration_since(now)) {
            Ok(Event::Console(line)) => {
                println!("guest| {line}");
                log.write_line(&line)?;
                watch.observe(&line);
                if let Some(problem) = &watch.boot_problem {
                    let reason = format!("kernel problem before start: {problem}");
                    return Ok(WatchEnd::Ended(GuestEnd::BootFailed(reason)));
                }
            }
            Ok(Event::Stderr(line)) => {
                eprintln!("qemu! {line}");
                log.write_line(&format!("qemu! {line}"))?;
            }
            Ok(Event::ConsoleClosed) | Err(RecvTimeoutError::Disconnected) => return Ok(WatchEnd::ConsoleClosed),
            Err(RecvTimeoutError::Timeout) => {
                let Some(stopped) = deadlines.expired(watch, Instant::now()) else { continue };
                if stopped == WatchEnd::PoweredOffLate {
                    println!(
                        "vm: guest did not power off within {}s of its exit line; stopping QEMU",
                        POWEROFF_GRACE.as_secs()
                    );
                }
                return Ok(stopped);
            }
        }
    }
}

/// How the guest ended: a boot failure the watch saw stands; else the
/// guest's exit line; else why the watch stopped, or how QEMU went away.
fn guest_end(stopped: WatchEnd, exit_code: Option<i32>, started: bool) -> GuestEnd {
    let end = match stopped {
        WatchEnd::Ended(end) => Some(end),
        WatchEnd::ConsoleClosed | WatchEnd::PoweredOffLate => None,
    };
    match (end, exit_code, started) {
        (Some(end @ GuestEnd::BootFailed(_)), _, _) => end,
        (_, Some(code), _) => GuestEnd::Exited(code),
        (Some(end), None, _) => end,
        (None, None, false) => GuestEnd::BootFailed("QEMU exited before the start marker".to_owned()),
        (None, None, true) => GuestEnd::Vanished,
    }
}

/// The outcome of an attempt whose watch stopped as `stopped`, with QEMU
/// gone at `finished`.
fn outcome(watch: Watch, stopped: WatchEnd, finished: Instant, log_path: &Path) -> BootOutcome {
    let end = guest_end(stopped, watch.exit_code, watch.started_at.is_some());
    let boot_time = watch.started_at.map_or(finished - watch.start, |at| at - watch.start);
    let run_time = watch.started_at.map_or(Duration::ZERO, |at| watch.exit_at.unwrap_or(finished) - at);
    BootOutcome {
        end,
        problems: watch.problems,
        lines: watch.lines,
        log_path: log_path.to_path_buf(),
        attempts: 1,
        boot_time,
        run_time,
    }
}

/// The running emulator; killed if dropped early (an error while watching
/// it must not leave a guest running).
struct Qemu(Child);

impl Drop for Qemu {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Forward QEMU's stdout (the guest console) and stderr as line events.
fn spawn_readers(child: &mut Child) -> Result<Receiver<Event>> {
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().context("QEMU stdout not captured")?;
    let stderr = child.stderr.take().context("QEMU stderr not captured")?;
    let console_tx = tx.clone();
    thread::spawn(move || {
        forward_lines(stdout, &console_tx, Event::Console);
        let _ = console_tx.send(Event::ConsoleClosed);
    });
    thread::spawn(move || forward_lines(stderr, &tx, Event::Stderr));
    Ok(rx)
}

/// Send each line of `input` (lossily decoded, `\r` stripped) until EOF.
fn forward_lines(input: impl Read, tx: &Sender<Event>, wrap: fn(String) -> Event) {
    let mut reader = BufReader::new(input);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&buf);
                if tx.send(wrap(printable(&text))).is_err() {
                    return;
                }
            }
        }
    }
}

/// `text` without its line ending, terminal escape sequences (the
/// firmware clears the screen) and other control characters except tabs.
fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                // CSI: ESC [ params final-byte; otherwise ESC + one char.
                if chars.next_if_eq(&'[').is_some() {
                    while chars.next().is_some_and(|c| !('@'..='~').contains(&c)) {}
                } else {
                    chars.next();
                }
            }
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Make sure QEMU is gone: when `kill` is false it is already exiting (the
/// console closed), so wait for it briefly before killing it.
fn stop(child: &mut Child, kill: bool) -> Result<()> {
    let until = Instant::now() + if kill { Duration::ZERO } else { Duration::from_secs(5) };
    loop {
        if child.try_wait().context("cannot wait for QEMU")?.is_some() {
            return Ok(());
        }
        if Instant::now() >= until {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    child.kill().context("cannot kill QEMU")?;
    child.wait().context("cannot reap QEMU")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_line_endings_are_dropped() {
        assert_eq!(
            printable("\u{1b}c\u{1b}[?7l\u{1b}[2J\u{1b}[0mSeaBIOS (version 1.16)\r\n"),
            "SeaBIOS (version 1.16)"
        );
        assert_eq!(printable("relay-guest: exit 0\r\n"), "relay-guest: exit 0");
        assert_eq!(printable("a\tb"), "a\tb");
    }

    #[test]
    fn watch_ignores_boot_noise_and_records_problems_after_start() {
        let mut watch = Watch::new();
        watch.observe("[    0.5] x86/cpu: some boot line");
        assert!(watch.started_at.is_none());
        watch.observe("relay-guest: start");
        watch.observe("[    9.0] WARNING: CPU: 1 PID: 2 at kernel/x.c:1");
        watch.observe("relay-test: a PASS");
        watch.observe("relay-guest: exit 0");
        watch.observe("relay-guest: exit 3");
        assert!(watch.started_at.is_some());
        assert_eq!(watch.exit_code, Some(0));
        assert_eq!(watch.problems.len(), 1);
        assert!(watch.kill_at.is_none());
        assert_eq!(watch.lines.len(), 5);
    }

    /// An ejection whose next sched_ext line is the message of a requested
    /// one is no problem; any other ejection stays one.
    #[test]
    fn requested_ejections_are_not_problems() {
        let eject = "[   30.0] sched_ext: BPF scheduler \"scx_relay\" disabled (scx_bpf_error)";
        let mut watch = Watch::new();
        watch.observe("relay-guest: start");
        watch.observe(eject);
        watch.observe("[   30.1] WARNING: CPU: 1 PID: 2 at kernel/x.c:1");
        watch.observe(&format!("[   30.0] sched_ext: scx_relay: {}", console::REQUESTED_EJECTION));
        assert_eq!(watch.problems, ["[   30.1] WARNING: CPU: 1 PID: 2 at kernel/x.c:1"]);
        watch.observe(eject);
        watch.observe("[   40.0] sched_ext: scx_relay: runtime error");
        assert_eq!(watch.problems.len(), 2, "{:?}", watch.problems);
        watch.observe(&format!("[   50.0] sched_ext: scx_relay: {}", console::REQUESTED_EJECTION));
        assert_eq!(watch.problems.len(), 2, "its own message came first: {:?}", watch.problems);
    }

    #[test]
    fn problems_before_start_are_boot_failures() {
        let mut watch = Watch::new();
        watch.observe("[    1.2] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI");
        assert!(watch.boot_problem.is_some());
        assert!(watch.problems.is_empty());
    }

    /// A boot failure the watch saw stands; else the exit line decides;
    /// else why the watch stopped, or whether the guest had started.
    #[test]
    fn guest_end_prefers_boot_failures_then_the_exit_line() {
        let failed = || WatchEnd::Ended(GuestEnd::BootFailed("why".into()));
        assert_eq!(guest_end(failed(), Some(0), false), GuestEnd::BootFailed("why".into()));
        assert_eq!(guest_end(WatchEnd::Ended(GuestEnd::TimedOut), Some(3), true), GuestEnd::Exited(3));
        assert_eq!(guest_end(WatchEnd::PoweredOffLate, Some(0), true), GuestEnd::Exited(0));
        assert_eq!(guest_end(WatchEnd::Ended(GuestEnd::KilledAfterProblem), None, true), GuestEnd::KilledAfterProblem);
        assert_eq!(guest_end(WatchEnd::ConsoleClosed, None, true), GuestEnd::Vanished);
        assert_eq!(
            guest_end(WatchEnd::ConsoleClosed, None, false),
            GuestEnd::BootFailed("QEMU exited before the start marker".into())
        );
    }

    /// The watch wakes for the nearest limit that applies, and stops for
    /// the power-off grace, then a kill, then the boot limit, then the run's.
    #[test]
    fn deadlines_wake_and_expire_in_order() {
        let vm = VmOptions {
            timeout_s: Some(600),
            boot_timeout_s: 180,
            cpus: 1,
            memory: "1G".into(),
            parallel_vcpus: false,
        };
        let mut watch = Watch::new();
        let t0 = watch.start;
        let deadlines = Deadlines::new(&vm, t0);
        let secs = Duration::from_secs;
        assert_eq!(deadlines.wake(&watch), t0 + secs(180));
        assert_eq!(deadlines.expired(&watch, t0 + secs(179)), None);
        assert_eq!(
            deadlines.expired(&watch, t0 + secs(180)),
            Some(WatchEnd::Ended(GuestEnd::BootFailed("no start marker within 180s".into())))
        );
        watch.started_at = Some(t0 + secs(10));
        assert_eq!(deadlines.wake(&watch), t0 + secs(600));
        assert_eq!(deadlines.expired(&watch, t0 + secs(600)), Some(WatchEnd::Ended(GuestEnd::TimedOut)));
        watch.kill_at = Some(t0 + secs(50));
        assert_eq!(deadlines.wake(&watch), t0 + secs(50));
        assert_eq!(deadlines.expired(&watch, t0 + secs(50)), Some(WatchEnd::Ended(GuestEnd::KilledAfterProblem)));
        watch.exit_at = Some(t0 + secs(5));
        assert_eq!(deadlines.wake(&watch), t0 + secs(5) + POWEROFF_GRACE);
        assert_eq!(deadlines.expired(&watch, t0 + secs(50)), Some(WatchEnd::PoweredOffLate));
    }

    #[test]
    fn panic_after_start_schedules_a_kill() {
        let mut watch = Watch::new();
        watch.observe("relay-guest: start");
        watch.observe("[   20.0] Kernel panic - not syncing: Fatal exception");
        assert!(watch.kill_at.is_some());
        assert_eq!(watch.problems.len(), 1);
    }
}
