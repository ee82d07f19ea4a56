//! One scheduling session: open and load the dispatcher, attach it, run the
//! engine until a signal or the kernel ends it, unregister, and say why.

use std::{
    mem::MaybeUninit,
    os::fd::AsFd,
    ptr::NonNull,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use anyhow::{bail, Context, Result};
use libbpf_rs::{
    libbpf_sys,
    skel::{OpenSkel, Skel},
    OpenObject, ProgramInput,
};
use nix::{
    sched::sched_yield,
    sys::{
        mman::{mlockall, MlockAllFlags},
        prctl::set_thp_disable,
        resource::{setrlimit, Resource, RLIM_INFINITY},
        signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal},
    },
};
use scheduler_core::{wire::MAX_CPUS, Backend, Engine, EngineConfig, EngineError};
use scx_utils::{scx_ops_attach, scx_ops_load, scx_ops_open};

use super::{
    alloc_probe,
    backend::BpfBackend,
    bpf::{BpfSkel, BpfSkelBuilder},
    bpf_cost,
    ctl_server::{PolicyFactory, PolicySpec, Server, SessionStatus},
    metrics, panic_guard, preflight,
    recorder::{RecordFile, Recorder},
    stats::{print_line, LoopProfile, LoopShared, StatsPrinter, StatsSource},
    topology,
};

/// Everything a session needs, validated.
#[derive(Clone, Debug)]
pub struct Config {
    /// The starting policy's name, for the start-up line.
    pub policy: String,
    /// The starting policy.
    pub initial: PolicySpec,
    /// The control socket's path.
    pub socket: std::path::PathBuf,
    /// Policy tunables.
    pub policy_cfg: policies::PolicyConfig,
    /// No user-side progress this long while tasks wait = stalled (ns).
    pub stall_timeout_ns: u64,
    /// Only tasks that opt into SCHED_EXT.
    pub partial: bool,
    /// `--tickless`: unbounded slices for tasks alone on their CPU.
    pub tickless: bool,
    /// The policy's fast-path grants are published (`--fast-path`).
    pub fast_path: bool,
    /// The user hand-off preempts CPU hogs at once (unless `--no-preempt-hogs`).
    pub preempt_hogs: bool,
    /// Accept `policies::TEST_NAMES` (`--allow-test-policies`).
    pub allow_test_policies: bool,
    /// Period of the stats line, if any.
    pub stats_interval: Option<Duration>,
    /// `--bpf-stats`: the kernel's BPF statistics are on for the whole run;
    /// each session prints its programs' costs when it ends.
    pub bpf_stats: bool,
    /// Size of the kernel's exit dump (bytes; 0 = the kernel's default).
    pub exit_dump_len: u32,
    /// Test only: eject the dispatcher after this long of scheduling
    /// (`--test-eject-after-ms`).
    pub test_eject_after: Option<Duration>,
    /// Test only: every fast-path grant prefers this CPU
    /// (`--test-fast-prefer-cpu`, `EngineConfig::test_preferred_cpu`).
    pub test_preferred_cpu: Option<u32>,
    /// `scx_relay record`: the file the dispatcher's events go to.
    pub record: Option<Arc<RecordFile>>,
    /// `scx_relay record`: the record ring buffer's size (bytes); `None`
    /// when not recording (the dispatcher then writes no events).
    pub record_ring_bytes: Option<u32>,
}

/// How a session ended.
#[derive(Debug)]
pub enum SessionEnd {
    /// SIGINT / SIGTERM, or a normal unregistration: the exit reason.
    Stopped(String),
    /// The kernel ejected the scheduler (error, stall): the exit reason.
    Ejected(String),
    /// An administrator turned sched_ext off (sysrq-S): the exit reason.
    /// Not an error, and not to be undone by a service manager's restart.
    Disabled(String),
    /// The kernel asked for a restart (CPU hotplug): the exit reason.
    Restart(String),
    /// The policy panicked; the dispatcher was unregistered: the panic.
    Panicked(String),
}

/// `scx_exit_kind` values (include/linux/sched/ext.h).
const SCX_EXIT_DONE: i32 = 1;
const SCX_EXIT_UNREG: i32 = 64;
const SCX_EXIT_UNREG_BPF: i32 = 65;
const SCX_EXIT_UNREG_KERN: i32 = 66;
/// sysrq-S (SCX_EXIT_SYSRQ).
const SCX_EXIT_SYSRQ: i32 = 67;

/// SCHED_EXT, the sched_setscheduler() policy of sched_ext tasks.
const SCHED_EXT: libc::c_int = 7;

/// Longest block of an idle loop waiting for a task (the control socket and
/// a policy switch wait at most this).
const IDLE_WAIT: Duration = Duration::from_millis(100);

/// Longest wait, after the loop, for the control thread to log and answer a
/// switch the loop made just before it ended.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(1);

/// Set by SIGINT / SIGTERM.
static SHUTDOWN: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_sig: libc::c_int) {
    SHUTDOWN.store(true, Ordering::Relaxed);
}

/// Whether SIGINT or SIGTERM arrived (after [`install_signal_handlers`]).
pub fn shutdown_requested() -> bool {
    SHUTDOWN.load(Ordering::Relaxed)
}

/// Makes SIGINT and SIGTERM end the session cleanly (no thread: a flag the
/// loop polls).
pub fn install_signal_handlers() -> Result<()> {
    // No flags (no SA_RESTART), nothing blocked while the handler runs.
    let action = SigAction::new(SigHandler::Handler(on_signal), SaFlags::empty(), SigSet::empty());
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe; the previous handler, returned, is dropped
        // unused.
        if let Err(errno) = unsafe { sigaction(sig, &action) } {
            bail!("cannot install a signal handler: {}", std::io::Error::from(errno));
        }
    }
    Ok(())
}

/// Raises RLIMIT_MEMLOCK (older kernels charge BPF maps to it).
fn raise_memlock_rlimit() {
    // A failure is reported by the loader.
    let _ = setrlimit(Resource::RLIMIT_MEMLOCK, RLIM_INFINITY, RLIM_INFINITY);
}

/// Bytes of stack touched before locking, far more than the loop's deepest
/// call chain (any policy's) uses.
const STACK_PREFAULT: usize = 256 * 1024;

/// Touches [`STACK_PREFAULT`] bytes of stack below this frame, so that
/// mlockall maps and locks them: growing the stack into a new page later
/// would be a page fault in the loop.
#[inline(never)]
fn prefault_stack() {
    let mut buf = [0u8; STACK_PREFAULT];
    for i in (0..STACK_PREFAULT).step_by(4096) {
        // SAFETY: `i` < STACK_PREFAULT, inside `buf`; volatile so that the
        // writes (and the frame) are not optimised away.
        unsafe { std::ptr::write_volatile(buf.as_mut_ptr().add(i), 1) };
    }
    std::hint::black_box(&buf);
}

/// Keeps the heap from shrinking and growing back: freed memory at the top
/// of the heap stays mapped (no trim), and no allocation gets its own mmap,
/// which would be mapped, populated (page faults) and unmapped each time.
fn keep_heap_mapped() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only changes the allocator's tunables.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
        libc::mallopt(libc::M_MMAP_MAX, 0);
    }
}

/// Keeps this process's memory out of transparent huge pages. Under memory
/// pressure the kernel splits huge pages (mlocked ones too), and an access
/// during the split is a page fault: seen in the guest's soak, one fault on
/// the heap per minute of `stress-ng --vm`. Must run before the policy and
/// the engine allocate.
fn disable_thp() {
    if let Err(errno) = set_thp_disable(true) {
        log::warn!(
            "cannot opt out of transparent huge pages ({}); page faults may delay scheduling",
            std::io::Error::from(errno)
        );
    }
}

/// Locks every current and future page: a page fault of the user scheduler
/// may need a task that waits for the user scheduler. Prefaults the stack
/// and pins the heap's size first (see above).
fn lock_memory() -> std::io::Result<()> {
    keep_heap_mapped();
    prefault_stack();
    mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE).map_err(std::io::Error::from)
}

/// In partial mode the user scheduler is not a sched_ext task by default;
/// make it one, so that it is parked between rounds instead of spinning.
fn join_sched_ext() -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid sched_param; pid 0 is this thread.
    if unsafe { libc::sched_setscheduler(0, SCHED_EXT, &param) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The string in a NUL-padded C buffer, lossily decoded.
fn c_buf_to_string(buf: &[libc::c_char]) -> String {
    // SAFETY: the same memory as `buf`, for the same lifetime: c_char (i8
    // or u8) and u8 have the same size and alignment, and every bit pattern
    // is a valid value of both.
    let bytes = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), buf.len()) };
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..len]).into_owned()
}

/// What the dispatcher's `ops.exit` recorded.
struct ExitRecord {
    kind: i32,
    exit_code: i64,
    reason: String,
    dump: String,
}

fn exited(skel: &BpfSkel<'_>) -> bool {
    skel.maps.data_data.as_ref().is_some_and(|d| {
        // SAFETY: a volatile read of an aligned i32 in the mmapped .data.
        unsafe { (&raw const d.uei.kind).read_volatile() != 0 }
    })
}

fn read_exit(skel: &BpfSkel<'_>) -> ExitRecord {
    let Some(data) = skel.maps.data_data.as_ref() else {
        return ExitRecord { kind: 0, exit_code: 0, reason: "unknown".into(), dump: String::new() };
    };
    // SAFETY: volatile reads of aligned integers in the mmapped .data.
    let (kind, exit_code) =
        unsafe { ((&raw const data.uei.kind).read_volatile(), (&raw const data.uei.exit_code).read_volatile()) };
    let reason = c_buf_to_string(&data.uei.reason);
    let msg = c_buf_to_string(&data.uei.msg);
    let reason = match (reason.is_empty(), msg.is_empty()) {
        (true, _) => format!("exit kind {kind}"),
        (false, true) => reason,
        (false, false) => format!("{reason} ({msg})"),
    };
    let dump_len = skel.maps.rodata_data.as_ref().map_or(0, |r| r.uei_dump_len as usize);
    let dump_ptr = scx_utils::UEI_DUMP_PTR_MUTEX.lock().map(|p| p.ptr).unwrap_or(std::ptr::null());
    let dump = if dump_ptr.is_null() || dump_len == 0 {
        String::new()
    } else {
        // SAFETY: scx_ops_load! sized the dump map to `dump_len` bytes and
        // recorded its mmapped address; the object is still loaded.
        c_buf_to_string(unsafe { std::slice::from_raw_parts(dump_ptr, dump_len) })
    };
    ExitRecord { kind, exit_code, reason, dump }
}

/// Loads, attaches and runs the scheduler until it ends; see [`SessionEnd`].
/// It starts with the policy `ctl` last switched to (the configured one at
/// first), built by `factory`, and carries out `ctl`'s switches.
pub fn attach_and_schedule(cfg: &Config, factory: &PolicyFactory, ctl: Option<&Server>) -> Result<SessionEnd> {
    raise_memlock_rlimit();
    disable_thp();

    let nr_cpus = checked_nr_cpus()?;
    let engine_cfg = EngineConfig { test_preferred_cpu: cfg.test_preferred_cpu, ..EngineConfig::default() };
    let (mut engine, policy_name) = build_engine(cfg, factory, ctl, nr_cpus, engine_cfg)?;

    let mut storage = MaybeUninit::uninit();
    let mut skel = open_and_load(cfg, &mut storage, 0)?;
    // `scx_relay record`: a thread writes the dispatcher's events; declared
    // after `skel`, it stops before the ring buffer's map goes, on any path.
    let recorder = cfg.record.as_ref().map(|file| Recorder::start(&skel.maps.record, file)).transpose()?;
    // SAFETY: `backend` is declared after `skel`, so it is dropped first on
    // every path (an unwind included).
    let mut backend = unsafe { connect_backend(&mut skel, nr_cpus, engine_cfg.batch, cfg.fast_path) }?;
    // With --stats, a thread of its own makes and prints the stats line
    // (see `stats`). It reads the skeleton's .bss, so it is joined before
    // the skeleton goes, and after the dispatcher is detached: declared
    // between them, it is dropped (joined) after `link` and before `skel`
    // on any path, an unwind included; and it exists before the memory is
    // locked, whose faults stay out of the loop's count.
    // SAFETY: `source` and its threads' copies (the printer's, the stats
    // server's, the control thread's through `ctl_metrics`) are gone before
    // `skel` is.
    let source =
        Arc::new(StatsSource::for_this_thread(unsafe { backend.bss_counters() }, factory.cgroup_unresolved.clone()));
    let printer = StatsPrinter::start(cfg.stats_interval, &source);
    // The scx_stats server (scxtop, --monitor) answers from `source` on a
    // thread of its own too, joined like the printer's; a server that
    // cannot start is a warning, never a reason not to schedule.
    let metrics = metrics::serve_or_warn(&source);
    // The dispatcher's programs, for their BPF statistics (`bpf_cost`):
    // read by the control thread and once at the end, never by the loop.
    let programs = skel
        .object()
        .progs()
        .filter(|p| p.autoload())
        .map(|p| Ok((p.name().to_string_lossy().into_owned(), p.as_fd().try_clone_to_owned()?)))
        .collect::<Result<Vec<_>>>()
        .context("cannot duplicate the BPF programs' descriptors")?;
    let programs = Arc::new(bpf_cost::Programs::new(programs, cfg.bpf_stats));
    // `scx_relay ctl status` answers from `source` and `programs` too, on
    // the control thread; detached (waiting for a read under way) when
    // dropped, before the skeleton, on any path.
    let ctl_metrics = ctl.map(|ctl| {
        let (source, programs) = (Arc::clone(&source), Arc::clone(&programs));
        ctl.serve_metrics(move || SessionStatus {
            metrics: metrics::Metrics::from(&source.line()),
            bpf_programs: programs.read(),
        })
    });
    // Locked before attaching, not after: from the moment the dispatcher is
    // attached, tasks are handed to this thread, and one that does not
    // step the engine for stall_timeout_ns makes the dispatcher declare it
    // stalled (check_stalled in main.bpf.c). Prefaulting every mapping
    // took up to 1.5 s in the guest (TCG) with nothing else running; with
    // hackbench starting at `enabled`, one CI run saw the stall fallback
    // fire (fallback 4). MCL_FUTURE locks what attaching maps.
    lock_memory_or_warn();
    register_usersched(&skel)?;
    let link = scx_ops_attach!(skel, relay_ops).context("attaching the BPF dispatcher")?;
    if cfg.partial {
        // Outside sched_ext the loop would be an ordinary fair-class task
        // spinning on sched_yield between rounds, never parked by the
        // dispatcher: refuse to run like that.
        join_sched_ext().context("--partial: cannot move the user scheduler to SCHED_EXT")?;
    }
    announce(cfg, nr_cpus, &policy_name);

    if cfg.stats_interval.is_some() || metrics.is_some() || ctl_metrics.is_some() {
        source.start_counting();
    }
    let failure = schedule(cfg, ctl, &skel, &mut engine, &mut backend, &source.shared);
    // The last line: what the session did, before the teardown moves
    // counters (the kernel's unload dequeues what waits in user space).
    let last = cfg.stats_interval.map(|_| source.line());
    // The programs' costs too (--bpf-stats), before the unload's calls count.
    let bpf_costs = cfg.bpf_stats.then(|| programs.read());

    drop(backend);
    drop(link);
    // Detached: the ring buffer holds the session's last events.
    if let Some(recorder) = recorder {
        recorder.finish(skel.maps.bss_data.as_deref().map_or(0, |bss| bss.nr_record_dropped));
    }
    // Joined once detached: the thread is one of the tasks the loop
    // scheduled; now the kernel's fair class runs it at once.
    printer.finish();
    drop(metrics);
    drop(ctl_metrics);
    if let Some(ctl) = ctl {
        ctl.settle(SETTLE_TIMEOUT);
    }
    if let Some(last) = last {
        print_line(&metrics::totals_line(&last));
    }
    if let Some(costs) = bpf_costs {
        print_line(bpf_cost::render(&costs).trim_end());
    }
    drop(source);
    conclude(&skel, &engine, failure)
}

/// The number of possible CPU ids, if the dispatcher's maps can hold them.
fn checked_nr_cpus() -> Result<u32> {
    let nr_cpus = topology::nr_cpu_ids().context("cannot read /sys/devices/system/cpu/possible")?;
    if nr_cpus > MAX_CPUS {
        bail!("{nr_cpus} CPUs, scx_relay supports at most {MAX_CPUS}");
    }
    Ok(nr_cpus)
}

/// The engine, running the policy `ctl` last switched to (else the
/// configured one) behind the panic guard, and that policy's name.
fn build_engine(
    cfg: &Config,
    factory: &PolicyFactory,
    ctl: Option<&Server>,
    nr_cpus: u32,
    engine_cfg: EngineConfig,
) -> Result<(Engine, String)> {
    let spec = ctl.and_then(Server::current).unwrap_or_else(|| cfg.initial.clone());
    let policy = factory.build(&spec)?;
    let policy_name = policy.name().to_owned();
    let policy = Box::new(panic_guard::GuardedPolicy::new(policy));
    Ok((Engine::new(policy, topology::read(nr_cpus), engine_cfg), policy_name))
}

/// Loads the dispatcher as a session does, with the verifier's `log_level`
/// on every program, and never attaches it: `inspect` sees the loaded
/// object (`--verifier-report`). It is unloaded on return.
pub(super) fn load_for_report<T>(
    cfg: &Config,
    log_level: u32,
    inspect: impl FnOnce(&libbpf_rs::Object) -> T,
) -> Result<T> {
    raise_memlock_rlimit();
    let mut storage = MaybeUninit::uninit();
    let skel = open_and_load(cfg, &mut storage, log_level)?;
    Ok(inspect(skel.object()))
}

/// Opens the BPF dispatcher in `storage`, sets its read-only tunables from
/// `cfg` and loads it into the kernel (not attached yet); a `log_level`
/// above 0 is set on every program (the verifier's log level).
fn open_and_load<'obj>(
    cfg: &Config,
    storage: &'obj mut MaybeUninit<OpenObject>,
    log_level: u32,
) -> Result<BpfSkel<'obj>> {
    let builder = BpfSkelBuilder::default();
    let mut open = scx_ops_open!(builder, storage, relay_ops, None::<libbpf_sys::bpf_object_open_opts>)
        .context("opening the BPF dispatcher")?;
    {
        let rodata = open.maps.rodata_data.as_mut().context("the BPF object has no .rodata")?;
        rodata.slice_ns = cfg.policy_cfg.slice_ns;
        rodata.slice_min_ns = cfg.policy_cfg.slice_min_ns;
        rodata.stall_timeout_ns = cfg.stall_timeout_ns;
        rodata.timer_interval_ns = scheduler_core::wire::timer_interval_ns(cfg.stall_timeout_ns);
        rodata.partial_mode = cfg.partial;
        rodata.tickless = cfg.tickless;
        rodata.preempt_hogs = cfg.preempt_hogs;
        for cpu in topology::nohz_full_cpus() {
            if let Some(flag) = rodata.nohz_full_cpu.get_mut(cpu as usize) {
                *flag = 1;
            }
        }
        rodata.record_enabled = cfg.record_ring_bytes.is_some();
    }
    if let Some(bytes) = cfg.record_ring_bytes {
        open.maps.record.set_max_entries(bytes).context("sizing the record ring buffer")?;
    }
    if cfg.partial {
        open.struct_ops.relay_ops_mut().flags |= *scx_utils::compat::SCX_OPS_SWITCH_PARTIAL;
    }
    // Read by scx_ops_load! too, which sizes the dump's buffer to it.
    open.struct_ops.relay_ops_mut().exit_dump_len = cfg.exit_dump_len;
    if log_level > 0 {
        for mut prog in open.open_object_mut().progs_mut() {
            prog.set_log_level(log_level);
        }
    }
    scx_ops_load!(open, relay_ops, uei).map_err(|e| {
        // scx_ops_load! explains a load that failed on such a kernel in a
        // context of many lines; ours is one. Any other failure keeps its
        // own chain.
        if e.to_string().starts_with("the running kernel's BTF has malformed scx kfunc") {
            anyhow::anyhow!(BrokenKfuncBtf {
                release: preflight::kernel_release(),
                kfuncs: scx_utils::compat::malformed_scx_kfuncs()
            })
        } else {
            e.context("loading the BPF dispatcher (libbpf's log above says why)")
        }
    })
}

/// Why no sched_ext scheduler loads on a kernel whose BTF was generated by
/// pahole < 1.26 (Debian's 7.2 cloud kernels): its `KF_IMPLICIT_ARGS`
/// kfuncs keep their implicit `struct bpf_prog_aux *` argument in the
/// public prototype, so a program calling them without it fails with
/// "func_proto incompatible with vmlinux" (scx_utils'
/// `compat::malformed_scx_kfuncs` finds them; upstream schedulers fail the
/// same way).
#[derive(Debug, thiserror::Error)]
#[error(
    "this kernel ({release}) cannot load sched_ext schedulers: its BTF was made by pahole < 1.26 and gives {} \
     scx kfuncs ({}) an argument they do not take; boot a kernel built with pahole 1.26 or newer (Debian's 6.19 \
     or 7.3 cloud kernel)",
    kfuncs.len(),
    kfunc_examples(kfuncs)
)]
pub struct BrokenKfuncBtf {
    release: String,
    kfuncs: Vec<String>,
}

/// The first three of `names`, then "..." if there are more.
fn kfunc_examples(names: &[String]) -> String {
    let mut text = names.iter().take(3).map(String::as_str).collect::<Vec<_>>().join(", ");
    if names.len() > 3 {
        text.push_str(", ...");
    }
    text
}

/// Tells the loaded dispatcher that the calling thread, which runs the
/// scheduling loop, is the user scheduler. The dispatcher's own program
/// records the thread as the kernel knows it: `getpid()` is another number
/// inside a pid namespace, and the loop need not be the main thread.
fn register_usersched(skel: &BpfSkel<'_>) -> Result<()> {
    let out = skel
        .progs
        .relay_register_usersched
        .test_run(ProgramInput::default())
        .context("registering the scheduling thread with the BPF dispatcher")?;
    let tid = out.return_value as i32;
    if tid <= 0 {
        bail!("registering the scheduling thread with the BPF dispatcher: it recorded thread id {tid}");
    }
    Ok(())
}

/// The backend over the loaded dispatcher's ring buffers and mmapped .bss.
///
/// # Safety
///
/// The backend must be dropped before `skel` (it keeps a pointer into the
/// skeleton's mmapped .bss): see [`BpfBackend::new`].
unsafe fn connect_backend(skel: &mut BpfSkel<'_>, nr_cpus: u32, batch: usize, fast_path: bool) -> Result<BpfBackend> {
    let bss = skel.maps.bss_data.as_deref_mut().map(NonNull::from).context("the BPF object has no mmapped .bss")?;
    // SAFETY: `bss` points into `skel`'s mapping; this function's caller
    // keeps `skel` alive for as long as the backend.
    unsafe { BpfBackend::new(&skel.maps.queued, &skel.maps.decisions, &skel.maps.task_shared, bss, nr_cpus, batch) }
        .map(|b| b.with_fast_path(fast_path))
        .context("connecting to the dispatcher's ring buffers")
}

/// Keeps the user scheduler from waiting on what it schedules: its memory is
/// locked. A failure is a warning.
fn lock_memory_or_warn() {
    if let Err(e) = lock_memory() {
        log::warn!("mlockall failed ({e}); page faults may delay scheduling");
    }
}

/// The start-up line: what is scheduled, on how many CPUs, by which policy,
/// and which build (`crate::version`, as `--version` prints it). Its text
/// starts `scheduling` (logged as `<time> scx_relay: scheduling ...`;
/// guest cases wait for that).
fn announce(cfg: &Config, nr_cpus: u32, policy_name: &str) {
    // Before the start-up line, which guest cases wait for.
    if cfg.fast_path {
        log::info!(
            "fast path on (--fast-path): the policy's latency-critical tasks' wakeups are placed by the dispatcher"
        );
    }
    if cfg.tickless {
        let nohz_full = topology::nohz_full_cpus();
        log::info!(
            "tickless: a task alone on its CPU runs an unbounded slice; the tick's check runs every {} us, {}",
            (cfg.policy_cfg.slice_min_ns / 1000).max(super::bpf::TICKLESS_MIN_PERIOD_US),
            if nohz_full.is_empty() {
                "but no CPU was booted nohz_full=, so every CPU keeps its tick".to_string()
            } else {
                format!("off the nohz_full CPUs {nohz_full:?}")
            }
        );
    }
    log::info!(
        "scheduling {} {nr_cpus} CPUs with policy {} (slice {} us, stall timeout {} ms), version {}",
        if cfg.partial { "SCHED_EXT tasks on" } else { "all tasks on" },
        policy_name,
        cfg.policy_cfg.slice_ns / 1000,
        cfg.stall_timeout_ns / 1_000_000,
        crate::version()
    );
    if let Some(after) = cfg.test_eject_after {
        log::info!("test: the dispatcher ejects itself after {} ms (--test-eject-after-ms)", after.as_millis());
    }
}

/// Steps the engine until a signal, the dispatcher's exit or a policy
/// panic, serving `ctl`: no allocation (counted by `alloc_probe`), no file
/// I/O; its profile goes to `shared` after every step. Returns the engine's
/// error if one ended the loop.
fn schedule(
    cfg: &Config,
    ctl: Option<&Server>,
    skel: &BpfSkel<'_>,
    engine: &mut Engine,
    backend: &mut BpfBackend,
    shared: &LoopShared,
) -> Option<EngineError> {
    let _on_loop = alloc_probe::OnLoop::enter();
    let mut empty_steps = 0u64;
    let mut late_wakeups = 0u64;
    let mut eject_at_ns = cfg
        .test_eject_after
        .map(|after| backend.now_ns().saturating_add(after.as_nanos().try_into().unwrap_or(u64::MAX)));
    while !SHUTDOWN.load(Ordering::Relaxed) && !exited(skel) && !panic_guard::tripped() {
        if eject_at_ns.is_some_and(|at| backend.now_ns() >= at) {
            backend.request_test_eject();
            eject_at_ns = None;
        }
        let step = engine.step(backend);
        let idle = match &step {
            Ok(report) => {
                let empty = report.received == 0 && report.sent == 0;
                empty_steps += u64::from(empty);
                empty && report.pending == 0
            }
            Err(_) => false,
        };
        let s = engine.stats();
        let profile = LoopProfile {
            steps: s.steps,
            empty_steps,
            received: s.received,
            cpu_ns: 0,
            redirected: s.redirected,
            fast_grants: s.grants + s.regrants,
            late_wakeups,
        };
        shared.publish(&profile, backend.invalid());
        if let Err(e) = step {
            return Some(e);
        }
        if let Some(ctl) = ctl {
            ctl.poll(engine, backend.now_ns());
        }
        if idle {
            // Idle: block until a task is handed over. A runnable user
            // scheduler is counted on its CPU's runqueue, and a CPU that
            // idles with a task of ours counted there may stop its ext
            // server for good (keep_ext_server in main.bpf.c): so the
            // dispatcher runs a parked user scheduler whenever its CPU has
            // nothing else, and parking it with nothing to do would spin.
            // Not after a spell of idle steps: each would cost a yield.
            match backend.wait_for_tasks(IDLE_WAIT) {
                Ok(late) => late_wakeups += u64::from(late),
                Err(e) => return Some(e.into()),
            }
        } else {
            // Hand the CPU back: with nothing else to run it keeps it,
            // else the dispatcher parks us until work is pending.
            let _ = sched_yield();
        }
    }
    None
}

/// How the session ended, once the dispatcher is detached: the loop's
/// failure, else a policy panic, else the dispatcher's exit record (its
/// kernel dump printed first).
fn conclude(skel: &BpfSkel<'_>, engine: &Engine, failure: Option<EngineError>) -> Result<SessionEnd> {
    let exit = read_exit(skel);
    {
        let s = engine.stats();
        log::debug!(
            "engine: {} steps, {} received, {} decided, {} retried, {} redirected",
            s.steps,
            s.received,
            s.decided,
            s.retried,
            s.redirected
        );
    }
    if let Some(e) = failure {
        return Err(e).context("the user scheduler failed");
    }
    if panic_guard::tripped() {
        return Ok(SessionEnd::Panicked(panic_guard::message().unwrap_or_else(|| "(no message)".into())));
    }
    if !exit.dump.is_empty() {
        log::error!("kernel debug dump:\n{}", exit.dump);
    }
    Ok(classify(exit.kind, exit.exit_code, exit.reason))
}

/// What an exit means: unregistered by us (SIGINT/SIGTERM) or done is a
/// stop; the kernel asking for a restart (hotplug) is a restart; anything
/// sysrq-S is an administrator's off switch; anything else the kernel did
/// to us (error, stall) is an ejection.
fn classify(kind: i32, exit_code: i64, reason: String) -> SessionEnd {
    // The kernel's value when its BTF says (it is 1 << 48 since v6.12).
    let restart_code = match *scx_utils::SCX_ECODE_ACT_RESTART {
        0 => 1 << 48,
        v => v as i64,
    };
    match kind {
        SCX_EXIT_UNREG_BPF | SCX_EXIT_UNREG_KERN if exit_code & restart_code != 0 => SessionEnd::Restart(reason),
        SCX_EXIT_DONE | SCX_EXIT_UNREG => SessionEnd::Stopped(reason),
        SCX_EXIT_SYSRQ => SessionEnd::Disabled(reason),
        _ => SessionEnd::Ejected(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The broken-BTF error is one line naming the kernel, the cause, the
    /// kfuncs and what to boot.
    #[test]
    fn broken_kfunc_btf_is_one_line() {
        let kfuncs = ["scx_bpf_create_dsq", "scx_bpf_kick_cpu", "scx_bpf_cpu_rq", "scx_bpf_locked_rq"];
        let e = BrokenKfuncBtf {
            release: "7.2.12+deb13-cloud-amd64".into(),
            kfuncs: kfuncs.iter().map(|&k| k.to_owned()).collect(),
        };
        let text = format!("{:#}", anyhow::anyhow!(e));
        assert!(!text.contains('\n'), "{text}");
        let named = "gives 4 scx kfuncs (scx_bpf_create_dsq, scx_bpf_kick_cpu, scx_bpf_cpu_rq, ...)";
        for part in ["7.2.12+deb13-cloud-amd64", "pahole < 1.26", named, "6.19"] {
            assert!(text.contains(part), "{part}: {text}");
        }
        assert_eq!(kfunc_examples(&["a".to_owned()]), "a");
    }

    /// Exit kinds map to the documented exit codes' cases.
    #[test]
    fn exits_are_classified() {
        let r = || String::from("why");
        assert!(matches!(classify(SCX_EXIT_UNREG, 0, r()), SessionEnd::Stopped(_)));
        assert!(matches!(classify(SCX_EXIT_UNREG_KERN, 1 << 48 | 1 << 32, r()), SessionEnd::Restart(_)));
        assert!(matches!(classify(SCX_EXIT_UNREG_KERN, 0, r()), SessionEnd::Ejected(_)));
        assert!(matches!(classify(67, 0, r()), SessionEnd::Disabled(_)), "sysrq-S");
        assert!(matches!(classify(1026, 0, r()), SessionEnd::Ejected(_)), "stall");
    }

    /// C strings are cut at the first NUL and decoded lossily.
    #[test]
    fn c_buffers() {
        let buf: Vec<libc::c_char> = b"runnable task stall\0junk".iter().map(|&b| b as libc::c_char).collect();
        assert_eq!(c_buf_to_string(&buf), "runnable task stall");
        let full: Vec<libc::c_char> = b"abc".iter().map(|&b| b as libc::c_char).collect();
        assert_eq!(c_buf_to_string(&full), "abc");
        let bad: Vec<libc::c_char> = [0xff_u8, b'x', 0].iter().map(|&b| b as libc::c_char).collect();
        assert_eq!(c_buf_to_string(&bad), "\u{fffd}x");
    }
}
