//! `--stats`: the dispatcher's counters, the loop's profile and the loop
//! thread's page faults, one line per interval of what they moved in it
//! (`scx_relay stats: last 1.0 s: ...`, made by `metrics::Intervals`), and
//! the session's totals when it ends (`scx_relay totals: ...`).
//!
//! The line is made and printed by a thread of its own ([`StatsSource::print_every`]),
//! never by the scheduling loop: the loop only stores its profile in
//! [`LoopShared`] after each step (relaxed atomic stores: no lock, no
//! allocation, no system call), so a blocked stdout or a slow `/proc` read
//! cannot stall the scheduler.

use std::{
    fmt,
    ptr::NonNull,
    sync::{
        atomic::{AtomicU64, Ordering},
        mpsc::{self, Receiver, RecvTimeoutError, Sender},
        Arc,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use nix::{
    time::{clock_gettime, ClockId},
    unistd::gettid,
};

use super::{
    alloc_probe::loop_alloc_calls,
    bpf::types,
    metrics::{Intervals, Metrics},
};

/// Declares a struct of the dispatcher's counters: each field a `volatile
/// u64` global of `src/bpf/main.bpf.c`, read from the mapped `.bss`, and
/// printed in the `--stats` line as `label value`. Entries are written
/// `field: "label" <- bss_global`; `,` separates entries of one group of
/// the line, `;` separates groups (printed with ` | ` between them).
///
/// Adding a counter: its BPF global, one entry here (with its doc) and the
/// value and text in the `stats_line_format` test.
macro_rules! bss_counters {
    (
        $(#[doc = $struct_doc:literal])*
        pub struct $name:ident {
            $( $( $(#[doc = $doc:literal])* $field:ident: $label:literal <- $bss:ident ),+ $(,)? );+ $(;)?
        }
    ) => {
        $(#[doc = $struct_doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name {
            $($( $(#[doc = $doc])* pub $field: u64, )+)+
        }

        impl $name {
            /// Reads every counter from the dispatcher's `.bss`.
            ///
            /// # Safety
            ///
            /// `bss` points to the mapped `.bss` of a loaded dispatcher and is
            /// valid for reads for the duration of the call.
            pub(super) unsafe fn read(bss: *const types::bss) -> Self {
                // SAFETY: the caller guarantees `bss` is valid for reads; each
                // field is an aligned u64 the BPF side updates concurrently,
                // hence the volatile loads.
                unsafe { Self { $($( $field: (&raw const (*bss).$bss).read_volatile(), )+)+ } }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let groups: &[&[(&str, u64)]] = &[$( &[$( ($label, self.$field) ),+] ),+];
                write_groups(f, groups)
            }
        }
    };
}

/// Writes `label value` pairs joined by spaces, groups joined by ` | `.
fn write_groups(f: &mut fmt::Formatter<'_>, groups: &[&[(&str, u64)]]) -> fmt::Result {
    for (i, group) in groups.iter().enumerate() {
        if i > 0 {
            f.write_str(" | ")?;
        }
        for (j, (label, value)) in group.iter().enumerate() {
            if j > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{label} {value}")?;
        }
    }
    Ok(())
}

bss_counters! {
    /// Where the dispatcher sent tasks and decisions (totals since the
    /// scheduler was loaded).
    pub struct DispatcherCounters {
        /// Tasks handed to user space.
        queued: "queued" <- nr_queued,
        /// Hand-offs the kernel took back before a decision placed the task
        /// (an affinity, class or weight change while it waited in user
        /// space): the decision that follows is stale.
        voided: "voided" <- nr_voided;
        /// Runs that a decision of the user scheduler placed: counted when
        /// the task starts running, not when the decision is applied (the
        /// kernel drops an insert of a task dequeued meanwhile).
        user: "dispatched user" <- nr_user_dispatches,
        /// Tasks the dispatcher placed itself, without a decision: its fast
        /// paths (idle wakeups, kthreads, congestion), overdue tasks,
        /// re-enqueues after a higher class took a CPU, claimed decisions
        /// whose CPU went stale.
        kernel: "kernel" <- nr_kernel_dispatches,
        /// Tasks dispatched by the stall fallback.
        fallback: "fallback" <- nr_fallback,
        /// Tasks the dispatcher dispatched itself after they waited in user
        /// space for the stall timeout while the user side was alive (a policy
        /// that never decided them).
        rescued: "rescued" <- nr_rescued,
        /// Tasks run ahead of their vtime because they had been runnable for
        /// `AGE_AFTER_NS` (src/bpf/main.bpf.c) while in a dispatch queue (a
        /// policy's ordering starved them, or their only CPU was busy).
        aged: "aged" <- nr_aged,
        /// Tasks enqueued again without having run since they became runnable
        /// `AGE_AFTER_NS` ago or more (an affinity change re-enqueues a waiting
        /// task): kept in the kernel and run next instead of going through
        /// user space.
        overdue: "overdue" <- nr_overdue,
        /// Tasks run on a CPU that a higher class (realtime; the fair class
        /// under `--partial`) held, only because it had nothing else of ours
        /// to run and coming out empty-handed would stop the kernel's ext
        /// server there: one of its runqueue's tasks taken back from user
        /// space (see `keep_ext_server` in src/bpf/main.bpf.c).
        keepalive: "keepalive" <- nr_keepalive,
        /// Tasks (the user scheduler too) the kernel gave back from a CPU's
        /// local DSQ when a realtime or deadline task took that CPU
        /// (`SCX_ENQ_REENQ`, asked for by `relay_sched_switch` in
        /// src/bpf/main.bpf.c): placed again by the dispatcher, on another
        /// CPU if they may run elsewhere.
        reenqueued: "reenqueued" <- nr_reenqueued;
        /// Decisions moved to an allowed CPU.
        bounced: "bounced" <- nr_bounced,
        /// Decisions discarded: stale generation, duplicate, exited task, unreadable record.
        stale: "stale" <- nr_stale,
        /// Decisions whose vtime lay outside the window around the
        /// dispatcher's clock (2^`RELAY_VTIME_WINDOW_SHIFT`) and was clamped to
        /// it: garbage, as no honest scale comes near.
        vtime_clamped: "vtime clamped" <- nr_vtime_clamped,
        /// Tasks kept in the kernel because the ring buffer or pending map was full.
        congested: "congested" <- nr_congested;
        /// Times the user side was declared stalled.
        stalls: "stalls" <- nr_stalls;
    }
}

bss_counters! {
    /// The dispatcher's side of the profile (totals since the scheduler was
    /// loaded).
    pub struct DispatchProfile {
        /// `ops.dispatch()` calls.
        dispatch_calls: "dispatch calls" <- nr_dispatch_calls,
        /// User-ring-buffer drains that found decisions.
        drains: "drains" <- nr_drains,
        /// Decisions read by those drains.
        drained: "drained" <- nr_drained,
        /// CPU kicks sent by the dispatcher.
        kicks: "kicks" <- nr_kicks,
        /// Times the user scheduler was put on a CPU.
        usersched_runs: "usersched runs" <- nr_usersched_runs,
        /// CPU kicks meant to get the user scheduler a CPU (after a hand-off,
        /// when the kernel gave it back from a local DSQ, or when the
        /// tickless check moved it to an idle CPU).
        usersched_kicks: "usersched kicked" <- nr_usersched_kicks,
        /// Of those, the ones that reached a CPU the user scheduler may not
        /// run on: checked against its thread's affinity at that CPU's next
        /// dispatch, so several kicks to one CPU before it count once.
        usersched_kicks_astray: "astray" <- nr_usersched_kicks_astray,
        /// Hand-offs that found the user scheduler blocking in `poll()` on
        /// the `queued` ring and forced a wake-up (no other hand-off wakes
        /// its poller).
        usersched_ring_wakeups: "ring wakeups" <- nr_usersched_ring_wakeups,
        /// `ops.dispatch()` calls on a CPU a higher class held that left it
        /// nothing of ours to run while its runqueue held tasks of ours
        /// (`keep_ext_server` in src/bpf/main.bpf.c): when the kernel's ext
        /// server was picking, it stops there, and a task that stays queued
        /// there may wait until the higher class leaves.
        served_empty: "served empty" <- nr_served_empty,
        /// Tasks of such a CPU's runqueue, or of a CPU going idle, that waited in another CPU's queue
        /// (their decision named that CPU), moved to that CPU's local DSQ so
        /// that nothing of ours stays counted where the ext server stopped
        /// (`hand_over_stranded` in src/bpf/main.bpf.c). They run where their
        /// decision put them.
        stranded_moved: "stranded moved" <- nr_stranded_moved,
        /// Runs given an unbounded slice (`SCX_SLICE_INF`) because no task
        /// was queued in the kernel for their CPU (`--tickless`,
        /// `grant_unbounded_slice` in src/bpf/main.bpf.c).
        unbounded_runs: "unbounded runs" <- nr_unbounded_runs,
        /// `SCX_KICK_PREEMPT` kicks that the tickless check (the tick of
        /// CPUs whose tick stopped, `tickless_check_fn`) sent to a CPU marked
        /// as running an unbounded slice, work being queued for it. One run
        /// may be kicked more than once.
        unbounded_kicks: "unbounded kicks" <- nr_unbounded_kicks,
        /// Times the tickless check moved the CPU the waiting user scheduler
        /// is aimed at (`usersched_cpu`) off one that could not serve it: a
        /// higher class held it, or it was not in the user scheduler's mask;
        /// onto an idle CPU, else one not running an unbounded slice, else
        /// one running such a slice (`--tickless`, `aim_waiting_usersched` in
        /// src/bpf/main.bpf.c).
        tickless_usersched_aims: "tickless usersched aims" <- nr_tickless_aims,
        /// Kicks to preempt a CPU for the user scheduler whose task was a
        /// CPU hog (a whole slice of CPU since it last woke) that had not
        /// yet run the minimum slice there (the hog rule,
        /// `cpu_preemptible` in src/bpf/main.bpf.c). Always 0 with
        /// `--no-preempt-hogs`.
        usersched_hog_preempts: "usersched hog preempts" <- nr_usersched_hog_preempts,
        /// Wakeups the dispatcher placed itself under the policy's grant,
        /// without the round trip to user space (`fast_place` in
        /// src/bpf/main.bpf.c).
        fast_placed: "fast placed" <- nr_fast_placed,
        /// Of those, placements that preempted a running task at once (not
        /// the deferred ones).
        fast_preempts: "fast preempts" <- nr_fast_preempts,
        /// Of the fast placements made at once, those into the local DSQ
        /// of the CPU whose runqueue the wakeup was enqueued on (as a
        /// rule the task's own), `SCX_ENQ_PREEMPT` preempting its task:
        /// no kick, so no interrupt for this CPU (`fast_place`).
        fast_local: "fast local" <- nr_fast_local,
        /// Of those, preemptions of a CPU hog (a whole slice of CPU since it
        /// last woke) whose run there had not had the minimum slice (the
        /// hog rule, `fast_cpu` in src/bpf/main.bpf.c). Always 0 with
        /// `--no-preempt-hogs`.
        fast_hog_preempts: "fast hog preempts" <- nr_fast_hog_preempts,
        /// Times a task a local fast placement preempted went back into its
        /// CPU's DSQ with its key and the slice it had left, not through
        /// user space (`resume_fast_preempted` in src/bpf/main.bpf.c).
        fast_resumes: "fast resumes" <- nr_fast_resumes,
        /// Of the fast placements, those deferred: no CPU was idle or
        /// preemptible, so a light task, or one whose grant is deferrable,
        /// was queued with no kick behind a task whose run had not had the
        /// minimum slice (`fast_place` in src/bpf/main.bpf.c), a timer
        /// kicking that CPU when it has; or, with no such CPU, a light
        /// task on the user scheduler's.
        fast_deferred: "fast deferred" <- nr_fast_deferred,
        /// Deferrals for which the fast path chose the user scheduler's
        /// CPU, it running there or waiting for it: no other CPU was left
        /// out only for its task's minimum slice. Its dispatch serves the
        /// task before the user scheduler (`fast_defer_cpu`). The claim of
        /// the CPU may still fail (`fast_slot_taken`).
        fast_usersched_target: "fast usersched target" <- nr_fast_usersched_target,
        /// Kicks of that timer while a deferred task waited: the CPU's
        /// task had run the minimum slice (preempted), or the CPU was idle
        /// (`fast_kick_fn`).
        fast_timer_kicks: "fast timer kicks" <- nr_fast_timer_kicks,
        /// Deferred fast-placed tasks moved to a CPU whose own and shared
        /// DSQs were empty, from the CPU they waited for
        /// (`take_fast_waiter`).
        fast_moved: "fast moved" <- nr_fast_moved,
        /// Wakeups under a valid grant (and a weight the policy's rule
        /// allows) that the fast path did not place: no CPU it may take
        /// (`fast_cpu`), or another fast-placed task took the CPU it
        /// picked first. They go the ordinary way (to user space, or kept
        /// in the kernel under congestion).
        fast_unplaced: "fast unplaced" <- nr_fast_unplaced,
        /// Of those, wakeups whose chosen CPU's fast-waiter slot another
        /// fast-placed task held when they tried to claim it (one task
        /// waits per CPU).
        fast_slot_taken: "fast slot taken" <- nr_fast_slot_taken,
        /// CPUs the fast path's scan left out, in granted wakeups where it
        /// found none to take at once, as the user scheduler's: it ran
        /// there, or waited for it (`fast_defer_cpu` in
        /// src/bpf/main.bpf.c); a light task may still be deferred onto it
        /// (`fast_usersched_target`). Counted per CPU, not per wakeup.
        fast_left_usersched: "fast left usersched" <- nr_fast_left_usersched,
        /// Likewise, CPUs left out because a fast-placed task ran there or
        /// already waited for it.
        fast_left_fast: "fast left fast" <- nr_fast_left_fast,
        /// Likewise, CPUs whose task's run had not had the minimum slice,
        /// the hog rule not applying (for a light task or a deferrable
        /// grant, the deferral's candidates).
        fast_left_busy: "fast left busy" <- nr_fast_left_busy,
        /// Of the fast placements, those on the CPU the policy's grant
        /// named as preferred (its placement word).
        fast_preferred: "fast preferred" <- nr_fast_preferred,
        /// Fast-placed wakeups whose burst reached the grant's budget
        /// (`RELAY_FAST_OVERRUNS` in a row of one task revoke its grant).
        fast_overruns: "fast overruns" <- nr_fast_overruns,
        /// Grants revoked: a fast-placed task's bursts reached their budget
        /// `RELAY_FAST_OVERRUNS` wakeups in a row, or its fast-placed runs
        /// used more than their share of a CPU.
        fast_revoked: "fast revoked" <- nr_fast_revoked,
        /// Tasks that found no free slot of the shared task context when
        /// they joined: never fast-placed.
        slots_full: "slots full" <- nr_slots_full,
        /// `ops.dispatch` calls (task context) whose preempt count read as
        /// interrupt context: the dispatcher's guess at the count's layout
        /// is wrong on this kernel, and after the first no wakeup counts as
        /// an interrupt's: `deadline` and `interactive` then grant nothing.
        irq_context_doubts: "irq context doubts" <- nr_irq_context_doubts;
    }
}

/// The dispatcher's counters, plus the records and decisions the backend had
/// to drop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Where tasks and decisions went.
    pub dispatcher: DispatcherCounters,
    /// Whether the stall fallback is active right now.
    pub stalled: bool,
    /// Queued records and decisions the backend could not use.
    pub invalid: u64,
    /// The dispatcher's profile.
    pub profile: DispatchProfile,
}

/// The dispatcher's mapped `.bss`, read from any thread: its counters are
/// plain integers the BPF side updates and this side only loads. (Never the
/// fields the loop writes, `nr_user_pending` and `user_steps`: reading them
/// here would race with the loop's plain stores.)
#[derive(Clone, Copy, Debug)]
pub struct BssCounters {
    bss: NonNull<types::bss>,
}

// SAFETY: a `BssCounters` only makes volatile loads of aligned integers
// from a mapping that stays valid while any copy is used (the contract of
// `BssCounters::new`); loads from several threads at once are fine.
unsafe impl Send for BssCounters {}
// SAFETY: as for `Send`: `&BssCounters` allows loads only.
unsafe impl Sync for BssCounters {}

impl BssCounters {
    /// # Safety
    ///
    /// `bss` points to the mapped `.bss` of a loaded dispatcher, and stays
    /// mapped as long as this value or a copy of it is used.
    pub(super) unsafe fn new(bss: NonNull<types::bss>) -> Self {
        Self { bss }
    }

    /// The counters now; `invalid` is the backend's own count.
    pub fn read(&self, invalid: u64) -> Counters {
        let bss = self.bss.as_ptr();
        // SAFETY: `bss` is mapped (see `new`); volatile reads of plain
        // integers that the BPF side updates concurrently.
        unsafe {
            Counters {
                dispatcher: DispatcherCounters::read(bss),
                stalled: (&raw const (*bss).user_stalled).read_volatile() != 0,
                invalid,
                profile: DispatchProfile::read(bss),
            }
        }
    }
}

/// What the scheduling loop publishes for the stats thread, after every step.
#[derive(Debug, Default)]
pub struct LoopShared {
    steps: AtomicU64,
    empty_steps: AtomicU64,
    received: AtomicU64,
    redirected: AtomicU64,
    fast_grants: AtomicU64,
    late_wakeups: AtomicU64,
    invalid: AtomicU64,
}

impl LoopShared {
    /// Stores the loop's profile (`cpu_ns` is not stored: the reader takes
    /// the process's CPU time itself) and the backend's `invalid` count.
    pub fn publish(&self, p: &LoopProfile, invalid: u64) {
        self.steps.store(p.steps, Ordering::Relaxed);
        self.empty_steps.store(p.empty_steps, Ordering::Relaxed);
        self.received.store(p.received, Ordering::Relaxed);
        self.redirected.store(p.redirected, Ordering::Relaxed);
        self.fast_grants.store(p.fast_grants, Ordering::Relaxed);
        self.late_wakeups.store(p.late_wakeups, Ordering::Relaxed);
        self.invalid.store(invalid, Ordering::Relaxed);
    }

    /// The last profile published, with the process's CPU time now, and the
    /// backend's `invalid` count.
    fn read(&self) -> (LoopProfile, u64) {
        let profile = LoopProfile {
            steps: self.steps.load(Ordering::Relaxed),
            empty_steps: self.empty_steps.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            cpu_ns: own_cpu_ns(),
            redirected: self.redirected.load(Ordering::Relaxed),
            fast_grants: self.fast_grants.load(Ordering::Relaxed),
            late_wakeups: self.late_wakeups.load(Ordering::Relaxed),
        };
        (profile, self.invalid.load(Ordering::Relaxed))
    }
}

/// Everything a stats line is made of: the dispatcher's counters, what the
/// loop published, the loop thread's page faults and allocator calls since
/// it started scheduling, and the routing policies' unresolved cgroups.
#[derive(Debug)]
pub struct StatsSource {
    bss: BssCounters,
    /// Where the loop publishes its profile.
    pub shared: LoopShared,
    loop_tid: libc::pid_t,
    /// Hand-offs a routing policy routed while their task's cgroup was
    /// unresolved, counted by the loop itself (`PolicyFactory::cgroup_unresolved`).
    cgroup_unresolved: Arc<AtomicU64>,
    /// The loop thread's page faults and allocator calls, and the
    /// unresolved count, when it started scheduling
    /// ([`Self::start_counting`]); `NOT_STARTED` before.
    faults_at_start: AtomicU64,
    allocs_at_start: AtomicU64,
    unresolved_at_start: AtomicU64,
}

/// A baseline not taken yet.
const NOT_STARTED: u64 = u64::MAX;

impl StatsSource {
    /// A source for the loop that will run on the calling thread, whose
    /// routing policies count unresolved cgroups in `cgroup_unresolved`.
    pub fn for_this_thread(bss: BssCounters, cgroup_unresolved: Arc<AtomicU64>) -> Self {
        let loop_tid = gettid().as_raw();
        Self {
            bss,
            shared: LoopShared::default(),
            loop_tid,
            cgroup_unresolved,
            faults_at_start: AtomicU64::new(NOT_STARTED),
            allocs_at_start: AtomicU64::new(NOT_STARTED),
            unresolved_at_start: AtomicU64::new(NOT_STARTED),
        }
    }

    /// Page faults, allocator calls and unresolved cgroups count from now:
    /// called on the loop's thread right before it schedules, after the
    /// stats thread started (its stack, populated at once under `mlockall`,
    /// faults in on the thread that creates it).
    pub fn start_counting(&self) {
        self.faults_at_start.store(thread_page_faults(self.loop_tid), Ordering::Relaxed);
        self.allocs_at_start.store(loop_alloc_calls().unwrap_or(0), Ordering::Relaxed);
        self.unresolved_at_start.store(self.cgroup_unresolved.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    /// The stats line now (page faults, allocator calls and unresolved
    /// cgroups 0 until [`Self::start_counting`]).
    pub fn line(&self) -> StatsLine {
        let (profile, invalid) = self.shared.read();
        let since = |now: u64, start: &AtomicU64| match start.load(Ordering::Relaxed) {
            NOT_STARTED => 0,
            start => now.saturating_sub(start),
        };
        StatsLine {
            counters: self.bss.read(invalid),
            page_faults: since(thread_page_faults(self.loop_tid), &self.faults_at_start),
            loop_allocs: loop_alloc_calls().map(|n| since(n, &self.allocs_at_start)),
            cgroup_unresolved: since(self.cgroup_unresolved.load(Ordering::Relaxed), &self.unresolved_at_start),
            profile,
        }
    }

    /// Prints a line every `interval`, of what the counters moved since
    /// the last one (the first: since the thread started, before the
    /// dispatcher was attached; `cpu_ns`, the process's CPU time, counts
    /// from there too, not from exec), until `stop` receives or its sender
    /// is dropped (the body of the stats thread).
    pub fn print_every(&self, interval: Duration, stop: &Receiver<()>) {
        let start = Instant::now();
        let mut intervals = Intervals::from(start, Metrics::from(&self.line()));
        let mut next = start + interval;
        loop {
            match stop.recv_timeout(next.saturating_duration_since(Instant::now())) {
                Err(RecvTimeoutError::Timeout) => {
                    let totals = Metrics::from(&self.line());
                    if let Some(line) = intervals.next(Instant::now(), totals) {
                        if !print_line(&line) {
                            return;
                        }
                    }
                    next += interval;
                }
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}

/// Writes `line` to stdout; false if stdout is gone (closed pipe): the line
/// is dropped, not a panic (`println!` would panic there).
pub fn print_line(line: &str) -> bool {
    use std::io::Write;
    writeln!(std::io::stdout().lock(), "{line}").is_ok()
}

/// The stats thread's stack: it formats a line and reads a small file.
const STATS_STACK: usize = 256 * 1024;

/// The stats thread: prints a line every interval until finished; joined
/// when dropped (so it never outlives the `.bss` it reads, when dropped
/// before the skeleton).
pub struct StatsPrinter {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl StatsPrinter {
    /// Starts the thread, if there is an interval (a failure to start it
    /// is reported on stderr: the scheduler runs on without stats lines).
    pub fn start(interval: Option<Duration>, source: &Arc<StatsSource>) -> Self {
        let Some(interval) = interval else { return Self { stop: None, thread: None } };
        let (stop, stopped) = mpsc::channel::<()>();
        let source = Arc::clone(source);
        let thread = std::thread::Builder::new()
            .name("scx_relay-stats".into())
            .stack_size(STATS_STACK)
            .spawn(move || source.print_every(interval, &stopped))
            .map_err(|e| log::warn!("--stats: cannot start the stats thread ({e}): no stats lines"))
            .ok();
        Self { stop: Some(stop), thread }
    }

    /// Stops the thread and waits for it.
    pub fn finish(self) {}
}

impl Drop for StatsPrinter {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // It returns as soon as `stop` is gone; a panic there is not ours to report.
            let _ = thread.join();
        }
    }
}

/// The user scheduler's own side of the profile: its loop and its CPU time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoopProfile {
    /// Engine steps (one per wake-up of the loop).
    pub steps: u64,
    /// Steps that neither received a task nor sent a decision.
    pub empty_steps: u64,
    /// Tasks received from the dispatcher.
    pub received: u64,
    /// CPU time of this process (all threads), in ns.
    pub cpu_ns: u64,
    /// Decisions naming a CPU the machine lacks, sent to the shared queue
    /// by the engine instead.
    pub redirected: u64,
    /// Fast-path grants the engine wrote to the shared task context: new
    /// ones, changed budgets, and grants again after a revoke
    /// (`EngineStats::grants + regrants`).
    pub fast_grants: u64,
    /// Idle waits that ran to their timeout although a hand-off had taken
    /// the blocked flag, owing the loop a wake-up, or with records in the
    /// ring (`BpfBackend::wait_for_tasks`): a wake-up late or lost.
    pub late_wakeups: u64,
}

/// The counters of one `--stats` line (its text after the line's label):
/// totals since start, or what moved in an interval (`Metrics::since`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatsLine {
    /// The counters.
    pub counters: Counters,
    /// Minor + major page faults of the scheduling loop's thread since the
    /// loop started (a fault there stalls scheduling).
    pub page_faults: u64,
    /// Allocator calls of the scheduling loop since it started (see
    /// `alloc_probe`); `None` where the probe is not installed.
    pub loop_allocs: Option<u64>,
    /// Tasks a routing policy with cgroup routes routed, since the loop
    /// started, while their cgroup's path was unknown (not resolved yet,
    /// outside the cgroup2 mount, or no room in the table; see
    /// `src/run/cgroup.rs`): their cgroup matchers did not match.
    pub cgroup_unresolved: u64,
    /// The loop's counters and CPU time.
    pub profile: LoopProfile,
}

impl fmt::Display for StatsLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (c, p) = (&self.counters, &self.profile);
        write!(
            f,
            "{} ({}) | invalid {} redirected {} cgroup unresolved {} | page faults {} loop allocs {} | {} | \
             steps {} empty {} received {} fast grants {} late wakeups {} | cpu_ns {}",
            c.dispatcher,
            if c.stalled { "stalled" } else { "ok" },
            c.invalid,
            p.redirected,
            self.cgroup_unresolved,
            self.page_faults,
            LoopAllocs(self.loop_allocs),
            c.profile,
            p.steps,
            p.empty_steps,
            p.received,
            p.fast_grants,
            p.late_wakeups,
            p.cpu_ns,
        )
    }
}

/// `loop allocs`: the count, or `-` where the probe is not installed.
struct LoopAllocs(Option<u64>);

impl fmt::Display for LoopAllocs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("-"),
        }
    }
}

/// Minor + major page faults from the text of `/proc/<pid>/stat` (fields 10
/// and 12). The command name (field 2) may hold spaces and parentheses, so
/// fields are counted after its closing parenthesis.
pub fn parse_page_faults(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After the comm: 3 state, 4 ppid, 5 pgrp, 6 session, 7 tty_nr,
    // 8 tpgid, 9 flags, 10 minflt, 11 cminflt, 12 majflt.
    let mut fields = rest.split_ascii_whitespace();
    let minflt: u64 = fields.nth(7)?.parse().ok()?;
    let majflt: u64 = fields.nth(1)?.parse().ok()?;
    Some(minflt + majflt)
}

/// Minor + major page faults so far of thread `tid` of this process (0 if
/// unreadable).
fn thread_page_faults(tid: libc::pid_t) -> u64 {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok().and_then(|s| parse_page_faults(&s)).unwrap_or(0)
}

/// CPU time of this process, all threads, in ns (CLOCK_PROCESS_CPUTIME_ID).
pub fn own_cpu_ns() -> u64 {
    clock_gettime(ClockId::CLOCK_PROCESS_CPUTIME_ID)
        .map_or(0, |ts| (ts.tv_sec() as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fields are counted after the last ')', whatever the command name holds.
    #[test]
    fn page_faults_from_proc_stat() {
        let stat = "1234 (scx_relay) R 1 1234 1234 0 -1 4194560 321 0 7 0 5 3 0 0 20 0 1 0 100 0 0";
        assert_eq!(parse_page_faults(stat), Some(328));
        let odd = "99 (a b) (c)) S 1 99 99 0 -1 0 10 99 2 99 0 0";
        assert_eq!(parse_page_faults(odd), Some(12));
        assert_eq!(parse_page_faults("12 (x) R 1 2"), None);
        assert_eq!(parse_page_faults("no paren"), None);
    }

    /// This thread's own counters parse, and touching fresh memory counts.
    #[test]
    fn reads_own_thread_stat() {
        let tid = gettid().as_raw();
        let s = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
        assert!(parse_page_faults(&s).is_some());
        let before = thread_page_faults(tid);
        let mut fresh = vec![0u8; 64 << 20];
        for page in fresh.chunks_mut(4096) {
            page[0] = 1;
        }
        std::hint::black_box(&fresh);
        assert!(thread_page_faults(tid) > before);
    }

    /// What the loop publishes is what the stats thread reads back.
    #[test]
    fn loop_shared_round_trip() {
        let shared = LoopShared::default();
        shared.publish(
            &LoopProfile {
                steps: 3,
                empty_steps: 1,
                received: 2,
                cpu_ns: 0,
                redirected: 4,
                fast_grants: 6,
                late_wakeups: 7,
            },
            5,
        );
        let (p, invalid) = shared.read();
        assert_eq!(
            (p.steps, p.empty_steps, p.received, p.redirected, p.fast_grants, p.late_wakeups, invalid),
            (3, 1, 2, 4, 6, 7, 5)
        );
        assert!(p.cpu_ns > 0, "the reader takes the process's CPU time");
    }

    /// The line names every counter, in a fixed order.
    #[test]
    fn stats_line_format() {
        let line = StatsLine {
            counters: Counters {
                dispatcher: DispatcherCounters {
                    queued: 10,
                    voided: 22,
                    user: 7,
                    kernel: 2,
                    fallback: 1,
                    rescued: 8,
                    aged: 20,
                    overdue: 4,
                    keepalive: 2,
                    reenqueued: 24,
                    bounced: 3,
                    stale: 4,
                    vtime_clamped: 21,
                    congested: 5,
                    stalls: 1,
                },
                stalled: true,
                invalid: 0,
                profile: DispatchProfile {
                    dispatch_calls: 11,
                    drains: 12,
                    drained: 13,
                    kicks: 14,
                    usersched_runs: 15,
                    usersched_kicks: 25,
                    usersched_kicks_astray: 26,
                    usersched_ring_wakeups: 51,
                    served_empty: 28,
                    stranded_moved: 29,
                    unbounded_runs: 30,
                    unbounded_kicks: 31,
                    tickless_usersched_aims: 55,
                    usersched_hog_preempts: 38,
                    fast_placed: 32,
                    fast_preempts: 33,
                    fast_local: 49,
                    fast_hog_preempts: 39,
                    fast_resumes: 53,
                    fast_deferred: 41,
                    fast_usersched_target: 48,
                    fast_timer_kicks: 43,
                    fast_moved: 42,
                    fast_unplaced: 40,
                    fast_slot_taken: 44,
                    fast_left_usersched: 45,
                    fast_left_fast: 46,
                    fast_left_busy: 47,
                    fast_preferred: 37,
                    fast_overruns: 50,
                    fast_revoked: 34,
                    slots_full: 35,
                    irq_context_doubts: 54,
                },
            },
            page_faults: 6,
            loop_allocs: Some(23),
            cgroup_unresolved: 27,
            profile: LoopProfile {
                steps: 16,
                empty_steps: 17,
                received: 18,
                cpu_ns: 19,
                redirected: 9,
                fast_grants: 36,
                late_wakeups: 52,
            },
        };
        assert_eq!(
            line.to_string(),
            "queued 10 voided 22 | dispatched user 7 kernel 2 fallback 1 rescued 8 aged 20 overdue 4 keepalive 2 reenqueued 24 | bounced 3 \
             stale 4 vtime clamped 21 congested 5 | stalls 1 (stalled) | invalid 0 redirected 9 cgroup unresolved 27 | page faults 6 loop allocs 23 | dispatch calls 11 \
             drains 12 drained 13 kicks 14 usersched runs 15 usersched kicked 25 astray 26 ring wakeups 51 served empty 28 stranded moved 29 unbounded runs 30 unbounded kicks 31 tickless usersched aims 55 usersched hog preempts 38 fast placed 32 fast preempts 33 fast local 49 fast hog preempts 39 fast resumes 53 fast deferred 41 fast usersched target 48 fast timer kicks 43 fast moved 42 fast unplaced 40 fast slot taken 44 fast left usersched 45 fast left fast 46 fast left busy 47 fast preferred 37 fast overruns 50 fast revoked 34 slots full 35 irq context doubts 54 | steps 16 empty 17 received 18 fast grants 36 late wakeups 52 | cpu_ns 19"
        );
        assert!(!line.to_string().contains('\n'));
        let without_probe = StatsLine { loop_allocs: None, ..line };
        assert!(without_probe.to_string().contains("| page faults 6 loop allocs - |"), "{without_probe}");
    }
}
