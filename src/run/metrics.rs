//! The `--stats` counters served with `scx_stats`, as upstream sched_ext
//! schedulers serve theirs, for `scxtop` and `scx_relay --monitor`.
//!
//! [`Metrics`] holds the totals since the session started (also what
//! `scx_relay ctl status` answers, as JSON; a `--stats` line shows what they
//! moved in its interval, [`Metrics::since`]), converted both ways
//! from [`StatsLine`] by destructuring every field (a counter added to the
//! line and not here fails to compile). The server ([`MetricsServer`]) is
//! `scx_stats`'s: its threads read a request, send `()` through its channel
//! and wait for the answer, which a thread of ours (never the scheduling
//! loop) makes from the session's [`StatsSource`], like the `--stats`
//! thread does.

use std::{
    io::Write,
    os::unix::{fs::MetadataExt, net::UnixStream},
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    thread::JoinHandle,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use crossbeam_channel::{bounded, select, Sender};
use scx_stats::{Meta, StatsClient, StatsServer, StatsServerData, ToJson};
use scx_stats_derive::Stats;
use serde::{Deserialize, Serialize};

use super::stats::{Counters, DispatchProfile, DispatcherCounters, LoopProfile, StatsLine, StatsSource};

/// Where `scx_stats` servers listen unless told otherwise (its
/// `/var/run/scx` + `root` + `stats`): what `scxtop` and upstream
/// schedulers' `--monitor` connect to.
pub const DEFAULT_STATS_SOCKET: &str = "/var/run/scx/root/stats";

/// scx_relay's counters: the `--stats` line's, with the same meaning, as
/// totals since the current scheduling session started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Stats)]
#[stat(top, desc = "scx_relay counters since the scheduling session started (the --stats totals line's)")]
pub struct Metrics {
    #[stat(desc = "Tasks handed to user space")]
    pub queued: u64,
    #[stat(desc = "Hand-offs the kernel took back before a decision placed the task")]
    pub voided: u64,
    #[stat(desc = "Runs placed by a decision of the user scheduler")]
    pub dispatched_user: u64,
    #[stat(desc = "Tasks the dispatcher placed itself, without a decision")]
    pub dispatched_kernel: u64,
    #[stat(desc = "Tasks dispatched by the stall fallback")]
    pub fallback: u64,
    #[stat(desc = "Tasks dispatched by the dispatcher after waiting the stall timeout for a decision")]
    pub rescued: u64,
    #[stat(desc = "Tasks run ahead of their vtime after waiting AGE_AFTER_NS in a dispatch queue")]
    pub aged: u64,
    #[stat(desc = "Tasks enqueued again without having run for AGE_AFTER_NS, kept in the kernel")]
    pub overdue: u64,
    #[stat(
        desc = "Tasks run on a CPU a higher class held only to keep its ext server: from user space or another CPU's queue"
    )]
    pub keepalive: u64,
    #[stat(desc = "Tasks the kernel gave back from a local DSQ to a higher class, placed again")]
    pub reenqueued: u64,
    #[stat(desc = "Decisions moved to an allowed CPU")]
    pub bounced: u64,
    #[stat(desc = "Decisions discarded: stale generation, duplicate, exited task, unreadable record")]
    pub stale: u64,
    #[stat(desc = "Decisions whose vtime was clamped to the window around the dispatcher's clock")]
    pub vtime_clamped: u64,
    #[stat(desc = "Tasks kept in the kernel because the ring buffer or pending map was full")]
    pub congested: u64,
    #[stat(desc = "Times the user side was declared stalled")]
    pub stalls: u64,
    #[stat(desc = "1 while the stall fallback is active, else 0")]
    pub stalled: u64,
    #[stat(desc = "Queued records and decisions the backend could not use")]
    pub invalid: u64,
    #[stat(desc = "Decisions naming a CPU the machine lacks, sent to the shared queue instead")]
    pub redirected: u64,
    #[stat(desc = "Tasks routed by cgroup routes while their cgroup was unresolved")]
    pub cgroup_unresolved: u64,
    #[stat(desc = "Minor + major page faults of the scheduling loop's thread")]
    pub page_faults: u64,
    #[stat(desc = "Allocator calls of the scheduling loop (-1: probe not installed)")]
    pub loop_allocs: i64,
    #[stat(desc = "ops.dispatch() calls")]
    pub dispatch_calls: u64,
    #[stat(desc = "User-ring-buffer drains that found decisions")]
    pub drains: u64,
    #[stat(desc = "Decisions read by those drains")]
    pub drained: u64,
    #[stat(desc = "CPU kicks sent by the dispatcher")]
    pub kicks: u64,
    #[stat(desc = "Times the user scheduler was put on a CPU")]
    pub usersched_runs: u64,
    #[stat(desc = "CPU kicks meant to get the user scheduler a CPU")]
    pub usersched_kicked: u64,
    #[stat(desc = "Of those, kicks to a CPU the user scheduler may not run on")]
    pub usersched_kicked_astray: u64,
    #[stat(desc = "Hand-offs that found the user scheduler blocking in poll() and forced a wake-up")]
    pub usersched_ring_wakeups: u64,
    #[stat(desc = "ops.dispatch() calls that left a CPU held by a higher class nothing of ours to run")]
    pub served_empty: u64,
    #[stat(desc = "Tasks of a CPU held by a higher class, or going idle, moved to the CPU whose queue held them")]
    pub stranded_moved: u64,
    #[stat(desc = "Runs given an unbounded slice, no task being queued for their CPU (--tickless)")]
    pub unbounded_runs: u64,
    #[stat(desc = "Preempting kicks of the tickless check to CPUs running unbounded, work being queued for them")]
    pub unbounded_kicks: u64,
    #[stat(
        desc = "Times the tickless check moved the waiting user scheduler's CPU off one a higher class held or outside its mask (--tickless)"
    )]
    pub tickless_usersched_aims: u64,
    #[stat(
        desc = "Kicks preempting a CPU hog for the user scheduler before its run had the minimum slice (0 with --no-preempt-hogs)"
    )]
    pub usersched_hog_preempts: u64,
    #[stat(desc = "Wakeups the dispatcher placed under the policy's fast-path grant, without user space")]
    pub fast_placed: u64,
    #[stat(desc = "Of those, placements that preempted a running task at once (not the deferred ones)")]
    pub fast_preempts: u64,
    #[stat(
        desc = "Of the fast placements made at once, those into the local queue of the wakeup's own runqueue CPU, with no kick"
    )]
    pub fast_local: u64,
    #[stat(
        desc = "Of those, preemptions of a CPU hog before its run had the minimum slice (0 with --no-preempt-hogs)"
    )]
    pub fast_hog_preempts: u64,
    #[stat(
        desc = "Times a task a local fast placement preempted went back to its CPU's DSQ with its slice left (no hand-off)"
    )]
    pub fast_resumes: u64,
    #[stat(
        desc = "Of the fast placements, light tasks or deferrable grants queued with no kick behind a task short of the minimum slice, or light tasks on the user scheduler's CPU (none idle or preemptible)"
    )]
    pub fast_deferred: u64,
    #[stat(
        desc = "Deferrals that chose the user scheduler's CPU (it ran there or waited for it), no other CPU being left"
    )]
    pub fast_usersched_target: u64,
    #[stat(
        desc = "Kicks of the deferral's timer while a deferred task waited: the CPU's task had its minimum slice, or the CPU was idle"
    )]
    pub fast_timer_kicks: u64,
    #[stat(desc = "Deferred fast-placed tasks moved to a CPU whose own and shared queues were empty")]
    pub fast_moved: u64,
    #[stat(
        desc = "Wakeups under a valid grant the fast path did not place (no CPU it may take, or taken first): to user space"
    )]
    pub fast_unplaced: u64,
    #[stat(desc = "Of those, wakeups whose chosen CPU's fast-waiter slot another fast-placed task held")]
    pub fast_slot_taken: u64,
    #[stat(
        desc = "CPUs the fast path's scan left out, finding none to take at once, as the user scheduler's (running, or waited for)"
    )]
    pub fast_left_usersched: u64,
    #[stat(desc = "Likewise, CPUs left out for a fast-placed task running or waiting there")]
    pub fast_left_fast: u64,
    #[stat(desc = "Likewise, CPUs whose task's run had not had the minimum slice (no hog rule)")]
    pub fast_left_busy: u64,
    #[stat(desc = "Of the fast placements, those on the CPU the policy's grant preferred")]
    pub fast_preferred: u64,
    #[stat(desc = "Fast-placed wakeups whose burst reached the grant's budget (two in a row revoke)")]
    pub fast_overruns: u64,
    #[stat(desc = "Fast-path grants revoked: two overruns in a row, or over the task's share of a CPU")]
    pub fast_revoked: u64,
    #[stat(desc = "Tasks that found no free slot of the shared task context: never fast-placed")]
    pub slots_full: u64,
    #[stat(
        desc = "ops.dispatch calls (task context) whose preempt count read as interrupt context: the layout guess is wrong on this kernel, and after the first no wakeup counts as an interrupt's (deadline and interactive then grant nothing)"
    )]
    pub irq_context_doubts: u64,
    #[stat(desc = "Engine steps (one per wake-up of the scheduling loop)")]
    pub steps: u64,
    #[stat(desc = "Steps that neither received a task nor sent a decision")]
    pub empty_steps: u64,
    #[stat(desc = "Tasks received from the dispatcher")]
    pub received: u64,
    #[stat(desc = "Fast-path grants the policy wrote to the shared task context (new, changed, again after a revoke)")]
    pub fast_grants: u64,
    #[stat(desc = "Idle waits of the loop that timed out although a hand-off had forced a wake-up (late or lost)")]
    pub late_wakeups: u64,
    #[stat(desc = "CPU time of the scx_relay process (all threads), in ns")]
    pub cpu_ns: u64,
}

impl From<&StatsLine> for Metrics {
    fn from(line: &StatsLine) -> Self {
        // Every field named: a counter added to the line must be added here.
        let StatsLine { counters, page_faults, loop_allocs, cgroup_unresolved, profile } = *line;
        let Counters { dispatcher, stalled, invalid, profile: dispatch } = counters;
        let DispatcherCounters {
            queued,
            voided,
            user,
            kernel,
            fallback,
            rescued,
            aged,
            overdue,
            keepalive,
            reenqueued,
            bounced,
            stale,
            vtime_clamped,
            congested,
            stalls,
        } = dispatcher;
        let DispatchProfile {
            dispatch_calls,
            drains,
            drained,
            kicks,
            usersched_runs,
            usersched_kicks,
            usersched_kicks_astray,
            usersched_ring_wakeups,
            served_empty,
            stranded_moved,
            unbounded_runs,
            unbounded_kicks,
            tickless_usersched_aims,
            usersched_hog_preempts,
            fast_placed,
            fast_preempts,
            fast_local,
            fast_hog_preempts,
            fast_resumes,
            fast_deferred,
            fast_usersched_target,
            fast_timer_kicks,
            fast_moved,
            fast_unplaced,
            fast_slot_taken,
            fast_left_usersched,
            fast_left_fast,
            fast_left_busy,
            fast_preferred,
            fast_overruns,
            fast_revoked,
            slots_full,
            irq_context_doubts,
        } = dispatch;
        let LoopProfile { steps, empty_steps, received, cpu_ns, redirected, fast_grants, late_wakeups } = profile;
        Self {
            queued,
            voided,
            dispatched_user: user,
            dispatched_kernel: kernel,
            fallback,
            rescued,
            aged,
            overdue,
            keepalive,
            reenqueued,
            bounced,
            stale,
            vtime_clamped,
            congested,
            stalls,
            stalled: u64::from(stalled),
            invalid,
            redirected,
            cgroup_unresolved,
            page_faults,
            loop_allocs: loop_allocs.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX)),
            dispatch_calls,
            drains,
            drained,
            kicks,
            usersched_runs,
            usersched_kicked: usersched_kicks,
            usersched_kicked_astray: usersched_kicks_astray,
            usersched_ring_wakeups,
            served_empty,
            stranded_moved,
            unbounded_runs,
            unbounded_kicks,
            tickless_usersched_aims,
            usersched_hog_preempts,
            fast_placed,
            fast_preempts,
            fast_local,
            fast_hog_preempts,
            fast_resumes,
            fast_deferred,
            fast_usersched_target,
            fast_timer_kicks,
            fast_moved,
            fast_unplaced,
            fast_slot_taken,
            fast_left_usersched,
            fast_left_fast,
            fast_left_busy,
            fast_preferred,
            fast_overruns,
            fast_revoked,
            slots_full,
            irq_context_doubts,
            steps,
            empty_steps,
            received,
            fast_grants,
            late_wakeups,
            cpu_ns,
        }
    }
}

impl Metrics {
    /// What the counters moved from `earlier` to `self` (both of one
    /// session): each counter's difference, 0 where it went down (another
    /// session's, which starts from 0: `--monitor` reconnecting). `stalled`
    /// is a state, not a counter: `self`'s. `loop_allocs` stays -1 where the
    /// probe is not installed. Every field is named (no `..`): a field added
    /// to [`Metrics`] must say here how it moves.
    #[must_use]
    pub fn since(&self, earlier: &Self) -> Self {
        let (n, e) = (self, earlier);
        let d = |now: u64, was: u64| now.saturating_sub(was);
        Self {
            queued: d(n.queued, e.queued),
            voided: d(n.voided, e.voided),
            dispatched_user: d(n.dispatched_user, e.dispatched_user),
            dispatched_kernel: d(n.dispatched_kernel, e.dispatched_kernel),
            fallback: d(n.fallback, e.fallback),
            rescued: d(n.rescued, e.rescued),
            aged: d(n.aged, e.aged),
            overdue: d(n.overdue, e.overdue),
            keepalive: d(n.keepalive, e.keepalive),
            reenqueued: d(n.reenqueued, e.reenqueued),
            bounced: d(n.bounced, e.bounced),
            stale: d(n.stale, e.stale),
            vtime_clamped: d(n.vtime_clamped, e.vtime_clamped),
            congested: d(n.congested, e.congested),
            stalls: d(n.stalls, e.stalls),
            stalled: n.stalled,
            invalid: d(n.invalid, e.invalid),
            redirected: d(n.redirected, e.redirected),
            cgroup_unresolved: d(n.cgroup_unresolved, e.cgroup_unresolved),
            page_faults: d(n.page_faults, e.page_faults),
            loop_allocs: match n.loop_allocs {
                ..0 => -1,
                now => now.saturating_sub(e.loop_allocs.max(0)).max(0),
            },
            dispatch_calls: d(n.dispatch_calls, e.dispatch_calls),
            drains: d(n.drains, e.drains),
            drained: d(n.drained, e.drained),
            kicks: d(n.kicks, e.kicks),
            usersched_runs: d(n.usersched_runs, e.usersched_runs),
            usersched_kicked: d(n.usersched_kicked, e.usersched_kicked),
            usersched_kicked_astray: d(n.usersched_kicked_astray, e.usersched_kicked_astray),
            usersched_ring_wakeups: d(n.usersched_ring_wakeups, e.usersched_ring_wakeups),
            served_empty: d(n.served_empty, e.served_empty),
            stranded_moved: d(n.stranded_moved, e.stranded_moved),
            unbounded_runs: d(n.unbounded_runs, e.unbounded_runs),
            unbounded_kicks: d(n.unbounded_kicks, e.unbounded_kicks),
            tickless_usersched_aims: d(n.tickless_usersched_aims, e.tickless_usersched_aims),
            usersched_hog_preempts: d(n.usersched_hog_preempts, e.usersched_hog_preempts),
            fast_placed: d(n.fast_placed, e.fast_placed),
            fast_preempts: d(n.fast_preempts, e.fast_preempts),
            fast_local: d(n.fast_local, e.fast_local),
            fast_hog_preempts: d(n.fast_hog_preempts, e.fast_hog_preempts),
            fast_resumes: d(n.fast_resumes, e.fast_resumes),
            fast_deferred: d(n.fast_deferred, e.fast_deferred),
            fast_usersched_target: d(n.fast_usersched_target, e.fast_usersched_target),
            fast_timer_kicks: d(n.fast_timer_kicks, e.fast_timer_kicks),
            fast_moved: d(n.fast_moved, e.fast_moved),
            fast_unplaced: d(n.fast_unplaced, e.fast_unplaced),
            fast_slot_taken: d(n.fast_slot_taken, e.fast_slot_taken),
            fast_left_usersched: d(n.fast_left_usersched, e.fast_left_usersched),
            fast_left_fast: d(n.fast_left_fast, e.fast_left_fast),
            fast_left_busy: d(n.fast_left_busy, e.fast_left_busy),
            fast_preferred: d(n.fast_preferred, e.fast_preferred),
            fast_overruns: d(n.fast_overruns, e.fast_overruns),
            fast_revoked: d(n.fast_revoked, e.fast_revoked),
            slots_full: d(n.slots_full, e.slots_full),
            irq_context_doubts: d(n.irq_context_doubts, e.irq_context_doubts),
            steps: d(n.steps, e.steps),
            empty_steps: d(n.empty_steps, e.empty_steps),
            received: d(n.received, e.received),
            fast_grants: d(n.fast_grants, e.fast_grants),
            late_wakeups: d(n.late_wakeups, e.late_wakeups),
            cpu_ns: d(n.cpu_ns, e.cpu_ns),
        }
    }
}

/// Turns successive readings of the totals into `--stats` lines of what
/// moved in between (`--stats` and `--monitor` alike).
#[derive(Debug)]
pub struct Intervals {
    /// The last reading and when it was taken; none yet (`--monitor` before
    /// its first answer).
    last: Option<(Instant, Metrics)>,
}

impl Intervals {
    /// Counting from `start`, when the totals were `totals`.
    pub fn from(start: Instant, totals: Metrics) -> Self {
        Self { last: Some((start, totals)) }
    }

    /// With no reading yet: the first one is a baseline.
    pub fn unstarted() -> Self {
        Self { last: None }
    }

    /// The line for the interval that ends with `totals`, read at `now`
    /// (none for the first reading of an unstarted one).
    pub fn next(&mut self, now: Instant, totals: Metrics) -> Option<String> {
        let line = self.last.map(|(then, earlier)| {
            interval_line(now.saturating_duration_since(then), &StatsLine::from(&totals.since(&earlier)))
        });
        self.last = Some((now, totals));
        line
    }
}

/// The `--stats` line of an interval: `scx_relay stats: last 1.0 s: `, then
/// what each counter moved in it (the state `(ok)` / `(stalled)` is the one
/// at its end).
pub fn interval_line(length: Duration, moved: &StatsLine) -> String {
    format!("scx_relay stats: last {:.1} s: {moved}", length.as_secs_f64())
}

/// The line of the totals since the session started (at its end, and
/// `--monitor`'s first): `scx_relay totals: ` and the counters.
pub fn totals_line(totals: &StatsLine) -> String {
    format!("scx_relay totals: {totals}")
}

impl From<&Metrics> for StatsLine {
    /// The `--stats` line these metrics make (what `--monitor` prints).
    fn from(m: &Metrics) -> Self {
        let Metrics {
            queued,
            voided,
            dispatched_user,
            dispatched_kernel,
            fallback,
            rescued,
            aged,
            overdue,
            keepalive,
            reenqueued,
            bounced,
            stale,
            vtime_clamped,
            congested,
            stalls,
            stalled,
            invalid,
            redirected,
            cgroup_unresolved,
            page_faults,
            loop_allocs,
            dispatch_calls,
            drains,
            drained,
            kicks,
            usersched_runs,
            usersched_kicked,
            usersched_kicked_astray,
            usersched_ring_wakeups,
            served_empty,
            stranded_moved,
            unbounded_runs,
            unbounded_kicks,
            tickless_usersched_aims,
            usersched_hog_preempts,
            fast_placed,
            fast_preempts,
            fast_local,
            fast_hog_preempts,
            fast_resumes,
            fast_deferred,
            fast_usersched_target,
            fast_timer_kicks,
            fast_moved,
            fast_unplaced,
            fast_slot_taken,
            fast_left_usersched,
            fast_left_fast,
            fast_left_busy,
            fast_preferred,
            fast_overruns,
            fast_revoked,
            slots_full,
            irq_context_doubts,
            steps,
            empty_steps,
            received,
            fast_grants,
            late_wakeups,
            cpu_ns,
        } = *m;
        StatsLine {
            counters: Counters {
                dispatcher: DispatcherCounters {
                    queued,
                    voided,
                    user: dispatched_user,
                    kernel: dispatched_kernel,
                    fallback,
                    rescued,
                    aged,
                    overdue,
                    keepalive,
                    reenqueued,
                    bounced,
                    stale,
                    vtime_clamped,
                    congested,
                    stalls,
                },
                stalled: stalled != 0,
                invalid,
                profile: DispatchProfile {
                    dispatch_calls,
                    drains,
                    drained,
                    kicks,
                    usersched_runs,
                    usersched_kicks: usersched_kicked,
                    usersched_kicks_astray: usersched_kicked_astray,
                    usersched_ring_wakeups,
                    served_empty,
                    stranded_moved,
                    unbounded_runs,
                    unbounded_kicks,
                    tickless_usersched_aims,
                    usersched_hog_preempts,
                    fast_placed,
                    fast_preempts,
                    fast_local,
                    fast_hog_preempts,
                    fast_resumes,
                    fast_deferred,
                    fast_usersched_target,
                    fast_timer_kicks,
                    fast_moved,
                    fast_unplaced,
                    fast_slot_taken,
                    fast_left_usersched,
                    fast_left_fast,
                    fast_left_busy,
                    fast_preferred,
                    fast_overruns,
                    fast_revoked,
                    slots_full,
                    irq_context_doubts,
                },
            },
            page_faults,
            loop_allocs: u64::try_from(loop_allocs).ok(),
            cgroup_unresolved,
            profile: LoopProfile { steps, empty_steps, received, cpu_ns, redirected, fast_grants, late_wakeups },
        }
    }
}

/// What the server knows: [`Metrics`] as its top (and only) stats, read by
/// sending `()` through the server's channel and waiting for the answer.
fn server_data() -> StatsServerData<(), Metrics> {
    StatsServerData::new().add_meta(Metrics::meta()).add_stats(
        "top",
        Box::new(|_args, (request, answer)| {
            request.send(())?;
            answer.recv()?.to_json()
        }),
    )
}

/// `--help-stats`: each metric's name, kind and description.
pub fn help_stats() -> ExitCode {
    let mut out = Vec::new();
    if let Err(e) = server_data().describe_meta(&mut out, None) {
        eprintln!("scx_relay: --help-stats: {e:#}");
        return ExitCode::from(1);
    }
    match std::io::stdout().write_all(&out) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("scx_relay: --help-stats: {e}");
            ExitCode::from(1)
        }
        _ => ExitCode::SUCCESS,
    }
}

/// How often `--monitor` looks whether it is asked to stop.
const STOP_POLL: Duration = Duration::from_millis(50);

/// The answering thread's stack: it reads a small file and fills a struct.
const ANSWER_STACK: usize = 256 * 1024;

/// A running `scx_stats` server and the thread of ours that answers it;
/// stopped (the thread joined, the socket removed) when dropped.
pub struct MetricsServer {
    server: Option<StatsServer<(), Metrics>>,
    path: PathBuf,
    /// The socket's inode: removed at the end only if still ours.
    ino: u64,
    /// Dropped to stop the answering thread.
    stop: Option<Sender<()>>,
    answering: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Serves the metrics `read` makes on `path` (its directory is created).
    /// Refused if another process answers there.
    pub fn start<F>(path: &Path, read: F) -> Result<Self>
    where
        F: Fn() -> Metrics + Send + 'static,
    {
        if UnixStream::connect(path).is_ok() {
            bail!("another process serves {}", path.display());
        }
        let server = StatsServer::new(server_data()).set_path(path).launch()?;
        let ino = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?.ino();
        let (answer, requests) = server.channels();
        // The thread sleeps until asked, or until `stop` is dropped: no
        // timed polling, so an idle scheduler wakes no thread of its own
        // (polling every 50 ms, it was a task runnable 20 times a second).
        let (stop, stopped) = bounded::<()>(0);
        let answering = std::thread::Builder::new()
            .name("scx_relay-metrics".into())
            .stack_size(ANSWER_STACK)
            .spawn(move || loop {
                select! {
                    recv(requests) -> request => {
                        if request.is_err() || answer.send(read()).is_err() {
                            return;
                        }
                    }
                    recv(stopped) -> _ => return,
                }
            })
            .context("starting its thread")?;
        Ok(Self { server: Some(server), path: path.to_owned(), ino, stop: Some(stop), answering: Some(answering) })
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        drop(self.stop.take());
        // Wakes its listener, which then ends; a connection still open gets
        // errors from then on (nothing answers its requests).
        drop(self.server.take());
        if let Some(thread) = self.answering.take() {
            let _ = thread.join();
        }
        if std::fs::metadata(&self.path).is_ok_and(|m| m.ino() == self.ino) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The session's server on the default socket, answering from `source`;
/// `None` (after one warning line) if it cannot start: scheduling goes on.
pub fn serve_or_warn(source: &Arc<StatsSource>) -> Option<MetricsServer> {
    let source = Arc::clone(source);
    MetricsServer::start(Path::new(DEFAULT_STATS_SOCKET), move || Metrics::from(&source.line()))
        .map_err(|e| log::warn!("stats server: {e:#} (scx_stats clients will not see this scheduler)"))
        .ok()
}

/// How long `--monitor` waits for an answer.
const MONITOR_TIMEOUT_MS: u64 = 2_000;

/// `--monitor`: prints the metrics of the scx_relay serving `path` every
/// `interval` until SIGINT / SIGTERM (exit 0): first a `scx_relay totals:`
/// line (since its session started), then `--stats` lines (what moved in
/// each interval). Exit 1 if nothing serves `path` at first; later, a lost
/// server is waited for, and its first answer after is totals again.
pub fn monitor(path: &Path, interval: Duration, stop: &dyn Fn() -> bool) -> ExitCode {
    let connect = || StatsClient::new().set_path(path).connect(Some(MONITOR_TIMEOUT_MS));
    let mut client = match connect() {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("scx_relay: --monitor: nothing serves {} ({e}); is scx_relay running?", path.display());
            return ExitCode::from(1);
        }
    };
    let mut intervals = Intervals::unstarted();
    let mut next = Instant::now();
    while !stop() {
        if Instant::now() < next {
            std::thread::sleep(STOP_POLL.min(next.saturating_duration_since(Instant::now())));
            continue;
        }
        next += interval;
        if client.is_none() {
            client = connect().ok();
        }
        let Some(c) = client.as_mut() else { continue };
        match c.request::<Metrics>("stats", vec![]) {
            Ok(m) => {
                // The first answer (of each connection): the totals since
                // the session started; then what moved in each interval.
                let line = intervals.next(Instant::now(), m).unwrap_or_else(|| totals_line(&StatsLine::from(&m)));
                if !super::stats::print_line(&line) {
                    return ExitCode::SUCCESS;
                }
            }
            Err(e) => {
                eprintln!("scx_relay: --monitor: {}: {e:#}; waiting for it", path.display());
                client = None;
                intervals = Intervals::unstarted();
            }
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Distinct values in every field (`stalled`, a flag, is 1).
    fn sample() -> Metrics {
        let mut m = serde_json::to_value(Metrics::default()).unwrap();
        for (i, (_, v)) in m.as_object_mut().unwrap().iter_mut().enumerate() {
            *v = serde_json::json!(i + 2);
        }
        Metrics { stalled: 1, ..serde_json::from_value(m).unwrap() }
    }

    /// serde round trip, and the `--stats` line round trip.
    #[test]
    fn round_trips() {
        let m = sample();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Metrics>(&json).unwrap(), m);
        assert_eq!(Metrics::from(&StatsLine::from(&m)), m);
        let without_probe = Metrics { loop_allocs: -1, ..m };
        assert_eq!(StatsLine::from(&without_probe).loop_allocs, None);
        assert_eq!(Metrics::from(&StatsLine::from(&without_probe)), without_probe);
    }

    /// `since`: each counter's difference (0 where it went down), the
    /// state `stalled` as it is now, `loop_allocs` -1 without the probe.
    #[test]
    fn since_is_what_moved() {
        let earlier = sample();
        let mut later = serde_json::to_value(earlier).unwrap();
        for (_, v) in later.as_object_mut().unwrap().iter_mut() {
            *v = serde_json::json!(v.as_i64().unwrap() * 3);
        }
        let later = Metrics { stalled: 0, ..serde_json::from_value(later).unwrap() };
        let moved = serde_json::to_value(later.since(&earlier)).unwrap();
        let was = serde_json::to_value(earlier).unwrap();
        for (name, v) in moved.as_object().unwrap() {
            let want = if name == "stalled" { 0 } else { 2 * was[name].as_i64().unwrap() };
            assert_eq!(v.as_i64(), Some(want), "{name}");
        }
        assert_eq!(earlier.since(&later), Metrics { stalled: 1, ..Metrics::default() }, "counters that went down");
        assert_eq!(earlier.since(&earlier).queued, 0);
        let unprobed = |m: Metrics| Metrics { loop_allocs: -1, ..m };
        assert_eq!(unprobed(later).since(&unprobed(earlier)).loop_allocs, -1);
        assert_eq!(later.since(&unprobed(earlier)).loop_allocs, later.loop_allocs);
    }

    /// Interval lines: what moved, after `scx_relay stats: last <s> s: `;
    /// an unstarted one (`--monitor`) makes none for its first reading.
    #[test]
    fn interval_and_totals_lines() {
        let t0 = Instant::now();
        let m = |queued, stalled| Metrics { queued, dispatched_user: 2 * queued, stalled, ..Metrics::default() };
        let mut intervals = Intervals::from(t0, Metrics::default());
        let first = intervals.next(t0 + Duration::from_millis(1_040), m(10, 0)).unwrap();
        assert!(first.starts_with("scx_relay stats: last 1.0 s: queued 10 voided 0 | dispatched user 20 "), "{first}");
        assert!(first.contains("| stalls 0 (ok) |"), "{first}");
        let second = intervals.next(t0 + Duration::from_millis(3_000), m(25, 1)).unwrap();
        assert!(
            second.starts_with("scx_relay stats: last 2.0 s: queued 15 voided 0 | dispatched user 30 "),
            "{second}"
        );
        assert!(second.contains("| stalls 0 (stalled) |"), "{second}");
        assert!(!second.contains('\n'));

        let mut monitor = Intervals::unstarted();
        assert_eq!(monitor.next(t0, m(100, 0)), None);
        let next = monitor.next(t0 + Duration::from_millis(500), m(103, 0)).unwrap();
        assert!(next.starts_with("scx_relay stats: last 0.5 s: queued 3 "), "{next}");

        let totals = totals_line(&StatsLine::from(&m(7, 0)));
        assert!(totals.starts_with("scx_relay totals: queued 7 voided 0 | dispatched user 14 "), "{totals}");
    }

    /// Every field is described, and the meta names every serialized field.
    #[test]
    fn every_field_is_described() {
        let meta = Metrics::meta();
        assert!(meta.attrs.top.is_some());
        let json = serde_json::to_value(Metrics::default()).unwrap();
        let serialized: BTreeSet<&String> = json.as_object().unwrap().keys().collect();
        let described: BTreeSet<&String> = meta.fields.keys().collect();
        assert_eq!(serialized, described);
        for (name, field) in &meta.fields {
            assert!(field.attrs.desc.as_deref().is_some_and(|d| !d.is_empty()), "{name}");
        }
    }

    fn temp_socket(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("scx_relay-metrics-{tag}-{}", std::process::id())).join("stats")
    }

    /// The server answers `scx_stats` clients with what the source makes.
    #[test]
    fn serves_the_source() {
        let path = temp_socket("serve");
        let m = sample();
        let server = MetricsServer::start(&path, move || m).unwrap();
        let mut client = StatsClient::new().set_path(&path).connect(Some(2_000)).unwrap();
        let json: serde_json::Value = client.request("stats", vec![]).unwrap();
        assert_eq!(json["queued"], m.queued);
        assert_eq!(json["cpu_ns"], m.cpu_ns);
        assert_eq!(json["loop_allocs"], m.loop_allocs);
        assert_eq!(serde_json::from_value::<Metrics>(json).unwrap(), m);
        let again: Metrics = client.request("stats", vec![("target".into(), "top".into())]).unwrap();
        assert_eq!(again, m);
        let meta: serde_json::Value = client.request("stats_meta", vec![]).unwrap();
        assert!(meta["Metrics"]["fields"]["steps"]["desc"].is_string(), "{meta}");

        // A second server is refused while the first answers.
        assert!(MetricsServer::start(&path, Metrics::default).is_err());
        drop(client);
        drop(server);
        assert!(!path.exists(), "the socket is removed");
        let _ = std::fs::remove_dir(path.parent().unwrap());
    }

    /// `--monitor` on a socket nobody serves: exit 1 at once.
    #[test]
    fn monitor_without_server() {
        let path = temp_socket("none");
        assert_eq!(monitor(&path, Duration::from_secs(1), &|| false), ExitCode::from(1));
    }

    /// `--monitor` prints until told to stop.
    #[test]
    fn monitor_until_stopped() {
        let path = temp_socket("monitor");
        let server = MetricsServer::start(&path, sample).unwrap();
        let start = Instant::now();
        let code = monitor(&path, Duration::from_millis(10), &|| start.elapsed() > Duration::from_millis(100));
        assert_eq!(code, ExitCode::SUCCESS);
        drop(server);
        let _ = std::fs::remove_dir(path.parent().unwrap());
    }
}
