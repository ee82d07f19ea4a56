//! `scx_relay record` (schedule this machine as `scx_relay` does, writing
//! the dispatcher's scheduling events to a file: `run::recorder`) and
//! `scx_relay record-summary` (what a recording holds, as JSON, and as a
//! Chrome trace with `--trace`).

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    path::PathBuf,
    process::ExitCode,
};

use scheduler_core::record::{self, FastMiss, Kind, Recording, RevokeWhy, INTERRUPT_MARK_VERSION};
use scheduler_sim::replay::{end_ns, last_names, Runs, WakeupWait};
use serde::Serialize;

use crate::run::RunOpts;

/// Options of `scx_relay record`.
#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// The file to write (replaced if it exists).
    #[arg(short = 'o', long, value_name = "FILE", default_value = "scx_relay.rec")]
    pub out: PathBuf,

    /// The scheduler's options, as without `record`.
    #[command(flatten)]
    pub run: RunOpts,
}

/// Options of `scx_relay record-summary`.
#[derive(Debug, clap::Args)]
pub struct SummaryArgs {
    /// A file `scx_relay record` wrote.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Also write the recording's runs to this file as a Chrome trace
    /// (JSON): each CPU a track, each run of a task a slice; ui.perfetto.dev
    /// and chrome://tracing open it.
    #[arg(long, value_name = "OUT")]
    pub trace: Option<PathBuf>,
}

/// `scx_relay record`.
pub fn main(args: &RecordArgs) -> ExitCode {
    crate::run::main_recording(&args.run, &args.out)
}

/// `scx_relay record-summary`.
pub fn summary_main(args: &SummaryArgs) -> ExitCode {
    let bytes = match std::fs::read(&args.file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("scx_relay: record-summary: {}: cannot read it: {e}", args.file.display());
            return ExitCode::from(1);
        }
    };
    let recording = match record::read(&bytes) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("scx_relay: record-summary: {}: {e}", args.file.display());
            return ExitCode::from(1);
        }
    };
    let replay = Runs::of(&recording);
    if let Some(out) = &args.trace {
        let trace = replay.trace(&recording, &format!("scx_relay record: {}", args.file.display()));
        if let Err(e) = std::fs::write(out, trace.to_chrome_json()) {
            eprintln!("scx_relay: record-summary: --trace {}: cannot write it: {e}", out.display());
            return ExitCode::from(1);
        }
    }
    let summary = Summary::of(&recording, &replay, bytes.len() as u64);
    let text = serde_json::to_string_pretty(&summary).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    crate::print_generated(
        "record-summary",
        std::io::Write::write_all(&mut std::io::stdout(), format!("{text}\n").as_bytes()),
    )
}

/// What `record-summary` prints.
#[derive(Debug, Serialize)]
struct Summary {
    /// The file's size (bytes).
    file_bytes: u64,
    /// Its format version (`scheduler_core::record::VERSION`).
    version: u64,
    nr_cpus: u32,
    /// From the start of recording to its end (or its last event, if cut short) (s).
    duration_s: f64,
    /// Whether the file ends with its totals (else it was cut short).
    complete: bool,
    /// Events in the file.
    events: u64,
    /// Events per kind.
    events_by_kind: BTreeMap<&'static str, u64>,
    /// Events the dispatcher lost (its ring buffer was full); `null` when cut short.
    lost: Option<u64>,
    /// Scheduler sessions (more than one after a CPU-hotplug restart).
    sessions: u64,
    /// Threads and processes seen.
    tasks: u64,
    processes: u64,
    /// Runs paired from running and stopping; the user scheduler's among them.
    runs: u64,
    usersched_runs: u64,
    /// Events that did not pair (a run that started before recording
    /// started, or is under way at its end, leaves one each).
    unmatched_running: u64,
    unmatched_stopping: u64,
    /// Runnable → running waits (µs).
    waits: Waits,
    /// The waits a wakeup began, by the path the wakeup took (µs).
    wakeups: Wakeups,
    /// Where wakeups ran: all wakeups (`runnable` with `SCX_ENQ_WAKEUP`),
    /// and those among them that ran in interrupt context (a timer's, a
    /// device's): a replay takes those for timed sleeps, not for the work
    /// of the task the interrupt came in on. `null` for a file older than
    /// format version 3, which does not mark interrupt context.
    wakeup_contexts: Option<WakeupContexts>,
    /// A CPU free while the task it ran next was ready (µs): from the CPU's
    /// last stop, the task's becoming runnable or its last decision,
    /// whichever came last, to its run. A context switch, the dispatch
    /// path, an idle CPU waking up: what the simulator's model costs only
    /// when told to (`sim --replay FILE --recorded-costs` draws these).
    /// The user scheduler's runs are left out (it waits for work).
    free_cpu_to_run: FreeCpu,
    /// The user scheduler's runs against the decisions applied.
    user_scheduler: UserScheduler,
    /// How late the tick made running tasks yield (`scheduler_sim::late_yields`,
    /// read as `sim --recorded-costs` reads it with the default options);
    /// `null` for a file of format version 1, which has no vtimes.
    late_yields: Option<LateYieldsSummary>,
    /// Per CPU: the fraction of the recording it ran tasks (the user
    /// scheduler included), and its runs.
    cpus: Vec<CpuSummary>,
    /// The ten tasks that ran longest.
    top_tasks: Vec<TaskSummary>,
    /// The grants the dispatcher revoked, in order (the first
    /// [`REVOKES_LISTED`]).
    fast_revokes: Vec<RevokeSummary>,
}

/// One revoke of a fast-path grant (a `revoke` event).
#[derive(Debug, Serialize)]
struct RevokeSummary {
    /// When, from the start of recording (s).
    at_s: f64,
    pid: i32,
    comm: String,
    /// `budget`: a fast-placed wakeup's burst reached its budget; `share`:
    /// the task's fast-placed runs went over their share of a CPU in the
    /// window.
    why: &'static str,
    /// The CPU time that went over (µs), and the bound (µs).
    used_us: f64,
    bound_us: i32,
}

/// How many revokes `fast_revokes` lists.
const REVOKES_LISTED: usize = 100;

impl RevokeSummary {
    fn all(rec: &Recording) -> Vec<Self> {
        let names = last_names(rec);
        rec.events
            .iter()
            .filter(|e| e.kind == Kind::Revoke)
            .take(REVOKES_LISTED)
            .map(|e| RevokeSummary {
                at_s: e.ts_ns.saturating_sub(rec.start_ns) as f64 / 1e9,
                pid: e.pid,
                comm: names.get(&e.pid).cloned().unwrap_or_default(),
                why: match RevokeWhy::from_u32(e.flags) {
                    Some(RevokeWhy::Budget) => "budget",
                    Some(RevokeWhy::Share) => "share",
                    None => "?",
                },
                used_us: e.arg as f64 / 1e3,
                bound_us: e.arg2,
            })
            .collect()
    }
}

/// How long some waits were (µs), as percentiles (nearest rank).
#[derive(Debug, Serialize)]
struct Waits {
    samples: u64,
    p50_us: f64,
    p99_us: f64,
    max_us: f64,
}

impl Waits {
    fn of(mut ns: Vec<u64>) -> Self {
        ns.sort_unstable();
        let pct = |p: u64| {
            if ns.is_empty() {
                return 0.0;
            }
            let rank = (p * ns.len() as u64).div_ceil(1000).max(1) as usize;
            ns[rank - 1] as f64 / 1e3
        };
        Waits { samples: ns.len() as u64, p50_us: pct(500), p99_us: pct(990), max_us: pct(1000) }
    }
}

/// [`Summary::free_cpu_to_run`].
#[derive(Debug, Serialize)]
struct FreeCpu {
    #[serde(flatten)]
    waits: Waits,
    /// Their sum, as a share of the CPUs' time (all CPUs, the whole recording).
    cpu_share: f64,
}

/// [`Summary::user_scheduler`].
#[derive(Debug, Serialize)]
struct UserScheduler {
    /// CPU time of its runs (s).
    cpu_s: f64,
    /// Decisions applied (`decision` events).
    decisions: u64,
    /// Its CPU time per decision applied (µs); `null` without decisions.
    us_per_decision: Option<f64>,
}

/// [`Summary::late_yields`].
#[derive(Debug, Serialize)]
struct LateYieldsSummary {
    /// Yields that came after their first due tick.
    observed: u64,
    /// Due times that ended otherwise (censored).
    censored: u64,
    /// The lateness's distribution, the censored times taken into account
    /// (`LateYields::distribution`), µs.
    p50_us: f64,
    p90_us: f64,
    p99_us: f64,
}

impl LateYieldsSummary {
    fn of(rec: &Recording) -> Option<Self> {
        if rec.version < 2 {
            return None;
        }
        let policy = policies::PolicyConfig::default();
        let rule = scheduler_sim::TickRule {
            tick_ns: scheduler_sim::SimConfig::default().tick_ns,
            slice_min_ns: policy.slice_min_ns,
            slice_ns: policy.slice_ns,
        };
        let late = scheduler_sim::late_yields(rec, u64::MAX, rule);
        let d = late.distribution();
        let at = |q: usize| d.get(q * d.len() / 100).map_or(0.0, |&ns| ns as f64 / 1e3);
        Some(LateYieldsSummary {
            observed: late.observed.len() as u64,
            censored: late.censored.len() as u64,
            p50_us: at(50),
            p90_us: at(90),
            p99_us: at(99),
        })
    }
}

/// Wakeups by path: where the time between a task's wakeup and its run went.
#[derive(Debug, Serialize)]
struct Wakeups {
    /// Placed by a user decision: the wait in two steps, the hand-off to
    /// the decision being applied (`to_decision`: the user scheduler gets a
    /// CPU, decides, and an `ops.dispatch()` drains it), then the queue
    /// until a CPU runs the task (`decision_to_run`), and both (`total`).
    via_user_space: UserPath,
    /// Placed by the kernel without a decision: an idle CPU's fast path,
    /// kernel threads, the safety nets.
    in_kernel: Waits,
}

#[derive(Debug, Serialize)]
struct UserPath {
    to_decision: Waits,
    decision_to_run: Waits,
    total: Waits,
}

impl Wakeups {
    fn of(wakeups: &[WakeupWait]) -> Self {
        let decided = || wakeups.iter().filter_map(|w| Some((w.decided_ns?, w.total_ns)));
        Wakeups {
            via_user_space: UserPath {
                to_decision: Waits::of(decided().map(|(d, _)| d).collect()),
                decision_to_run: Waits::of(decided().map(|(d, t)| t - d).collect()),
                total: Waits::of(decided().map(|(_, t)| t).collect()),
            },
            in_kernel: Waits::of(wakeups.iter().filter(|w| w.decided_ns.is_none()).map(|w| w.total_ns).collect()),
        }
    }
}

#[derive(Debug, Serialize)]
struct WakeupContexts {
    wakeups: u64,
    in_interrupt: u64,
    /// The same per task name (a name's tasks added up; each task under
    /// its last name, `?` if none was recorded), for the ten names with the
    /// most wakeups (ties: the first names in byte order), keyed by name.
    by_name: BTreeMap<String, NameWakeups>,
    /// The same per task (thread), for the ten tasks with the most wakeups
    /// (ties: the lower pids), keyed by pid, with its name and its wakeups'
    /// waits.
    by_task: BTreeMap<i32, TaskWakeups>,
}

#[derive(Debug, Default, Serialize)]
struct NameWakeups {
    wakeups: u64,
    in_interrupt: u64,
}

#[derive(Debug, Serialize)]
struct TaskWakeups {
    comm: String,
    wakeups: u64,
    in_interrupt: u64,
    /// Its wakeups' waits until it ran (µs): what the simulator's task of
    /// that kind waits (bench-vm's `--sim-fidelity` compares cyclictest's
    /// measuring thread's with the simulated periodic task's). A wakeup
    /// still waiting when the recording ended is not in it; with none,
    /// `null`.
    wait: Option<Waits>,
    /// Of those, the waits of the wakeups a user decision placed, and of
    /// those the kernel placed (`Wakeups`' two paths; a fast path's
    /// placement is the kernel's); `null` for a path none took.
    via_user_space: Option<Waits>,
    in_kernel: Option<Waits>,
    /// Its wakeups not fast-placed although granted, or since a revoke
    /// with no grant found valid since, by why (`fast_miss` events); `null`
    /// when none. A user-placed wakeup not counted here had no grant: the
    /// policy had not granted the task, or withdrew it with no revoke.
    fast_misses: Option<FastMisses>,
    /// Its grants the dispatcher revoked (`revoke` events).
    fast_revokes: u64,
}

/// Granted wakeups not fast-placed, by why
/// (`scheduler_core::record::FastMiss`).
#[derive(Debug, Default, Serialize)]
struct FastMisses {
    /// Its grant was revoked, with no valid grant found since.
    revoked: u64,
    /// Its weight was below nice 0's.
    niced: u64,
    /// No CPU it could take at once or be deferred on.
    no_cpu: u64,
    /// Another fast-placed task waited for the CPU chosen.
    slot_taken: u64,
}

impl FastMisses {
    fn add(&mut self, why: Option<FastMiss>) {
        match why {
            Some(FastMiss::Revoked) => self.revoked += 1,
            Some(FastMiss::Niced) => self.niced += 1,
            Some(FastMiss::NoCpu) => self.no_cpu += 1,
            Some(FastMiss::SlotTaken) => self.slot_taken += 1,
            None => {}
        }
    }
}

/// One task's wakeups as `WakeupContexts::of` counts them: all, those in
/// interrupt context, and the waits that ended (ns), each with whether a
/// user decision placed it.
#[derive(Default)]
struct TaskTally {
    wakeups: u64,
    in_interrupt: u64,
    waits: Vec<(u64, bool)>,
    fast_misses: Option<FastMisses>,
    fast_revokes: u64,
}

/// How many names `WakeupContexts::by_name` keeps, and tasks `by_task`.
const WAKEUP_NAMES: usize = 10;

impl WakeupContexts {
    fn of(rec: &Recording, replay: &Runs) -> Option<Self> {
        if rec.version < INTERRUPT_MARK_VERSION {
            return None;
        }
        let names = last_names(rec);
        let name_of = |pid: i32| names.get(&pid).cloned().unwrap_or_else(|| "?".to_owned());
        let mut by_task: HashMap<i32, TaskTally> = HashMap::new();
        for e in rec.events.iter().filter(|e| e.is_wakeup()) {
            let t = by_task.entry(e.pid).or_default();
            t.wakeups += 1;
            t.in_interrupt += u64::from(e.in_interrupt());
        }
        for w in &replay.wakeups {
            by_task.entry(w.pid).or_default().waits.push((w.total_ns, w.decided_ns.is_some()));
        }
        for e in &rec.events {
            match e.kind {
                Kind::FastMiss => by_task
                    .entry(e.pid)
                    .or_default()
                    .fast_misses
                    .get_or_insert_with(FastMisses::default)
                    .add(FastMiss::from_u32(e.flags)),
                Kind::Revoke => by_task.entry(e.pid).or_default().fast_revokes += 1,
                _ => {}
            }
        }
        let mut by_name: HashMap<String, NameWakeups> = HashMap::new();
        for (&pid, t) in &by_task {
            let n = by_name.entry(name_of(pid)).or_default();
            n.wakeups += t.wakeups;
            n.in_interrupt += t.in_interrupt;
        }
        let (wakeups, in_interrupt) = by_name.values().fold((0, 0), |(w, i), n| (w + n.wakeups, i + n.in_interrupt));
        let mut top: Vec<_> = by_name.into_iter().collect();
        top.sort_by(|a, b| b.1.wakeups.cmp(&a.1.wakeups).then_with(|| a.0.cmp(&b.0)));
        top.truncate(WAKEUP_NAMES);
        let mut tasks: Vec<_> = by_task.into_iter().collect();
        tasks.sort_by(|a, b| b.1.wakeups.cmp(&a.1.wakeups).then(a.0.cmp(&b.0)));
        tasks.truncate(WAKEUP_NAMES);
        let by_task = tasks
            .into_iter()
            .map(|(pid, TaskTally { wakeups, in_interrupt, waits, fast_misses, fast_revokes })| {
                let of = |keep: &dyn Fn(bool) -> bool| {
                    let w: Vec<u64> = waits.iter().filter(|(_, user)| keep(*user)).map(|(ns, _)| *ns).collect();
                    (!w.is_empty()).then(|| Waits::of(w))
                };
                let (wait, via_user_space, in_kernel) = (of(&|_| true), of(&|user| user), of(&|user| !user));
                let comm = name_of(pid);
                (
                    pid,
                    TaskWakeups {
                        comm,
                        wakeups,
                        in_interrupt,
                        wait,
                        via_user_space,
                        in_kernel,
                        fast_misses,
                        fast_revokes,
                    },
                )
            })
            .collect();
        Some(WakeupContexts { wakeups, in_interrupt, by_name: top.into_iter().collect(), by_task })
    }
}

#[derive(Debug, Serialize)]
struct CpuSummary {
    cpu: u32,
    busy: f64,
    runs: u64,
}

#[derive(Debug, Serialize)]
struct TaskSummary {
    pid: i32,
    comm: String,
    cpu_ms: f64,
    runs: u64,
}

impl Summary {
    fn of(rec: &Recording, replay: &Runs, file_bytes: u64) -> Self {
        let duration_ns = end_ns(rec).saturating_sub(rec.start_ns).max(1);
        // Every kind, none seen included: readers need not guess.
        let mut events_by_kind: BTreeMap<&'static str, u64> = Kind::ALL.iter().map(|k| (k.name(), 0)).collect();
        for e in &rec.events {
            *events_by_kind.entry(e.kind.name()).or_insert(0) += 1;
        }
        let mut cpus: Vec<CpuSummary> = (0..rec.nr_cpus).map(|cpu| CpuSummary { cpu, busy: 0.0, runs: 0 }).collect();
        let mut per_task: HashMap<i32, (u64, u64)> = HashMap::new();
        for run in &replay.runs {
            if let Some(c) = cpus.get_mut(run.cpu as usize) {
                c.busy += (run.end_ns - run.start_ns) as f64 / duration_ns as f64;
                c.runs += 1;
            }
            let t = per_task.entry(run.pid).or_default();
            t.0 += run.end_ns - run.start_ns;
            t.1 += 1;
        }
        let usersched_ns: u64 = replay.runs.iter().filter(|r| r.usersched).map(|r| r.end_ns - r.start_ns).sum();
        let decisions = events_by_kind.get(Kind::Decision.name()).copied().unwrap_or(0);
        let free_ns: u64 = replay.free_to_run_ns.iter().sum();
        let capacity_ns = duration_ns as f64 * f64::from(rec.nr_cpus.max(1));
        let names = last_names(rec);
        let mut top: Vec<_> = per_task.into_iter().collect();
        top.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(&b.0)));
        let top_tasks = top
            .into_iter()
            .take(10)
            .map(|(pid, (ns, runs))| TaskSummary {
                pid,
                comm: names.get(&pid).cloned().unwrap_or_default(),
                cpu_ms: ns as f64 / 1e6,
                runs,
            })
            .collect();
        Summary {
            file_bytes,
            version: rec.version,
            nr_cpus: rec.nr_cpus,
            duration_s: duration_ns as f64 / 1e9,
            complete: rec.end.is_some(),
            events: rec.events.len() as u64,
            events_by_kind,
            lost: rec.end.map(|e| e.dropped),
            sessions: rec.sessions.len() as u64,
            tasks: rec.names.iter().map(|n| n.pid).collect::<BTreeSet<_>>().len() as u64,
            processes: rec.names.iter().map(|n| n.tgid).collect::<BTreeSet<_>>().len() as u64,
            runs: replay.runs.len() as u64,
            usersched_runs: replay.runs.iter().filter(|r| r.usersched).count() as u64,
            unmatched_running: replay.unmatched_running,
            unmatched_stopping: replay.unmatched_stopping,
            waits: Waits::of(replay.waits_ns.clone()),
            wakeups: Wakeups::of(&replay.wakeups),
            wakeup_contexts: WakeupContexts::of(rec, replay),
            free_cpu_to_run: FreeCpu {
                waits: Waits::of(replay.free_to_run_ns.clone()),
                cpu_share: free_ns as f64 / capacity_ns,
            },
            user_scheduler: UserScheduler {
                cpu_s: usersched_ns as f64 / 1e9,
                decisions,
                us_per_decision: (decisions > 0).then(|| usersched_ns as f64 / 1e3 / decisions as f64),
            },
            late_yields: LateYieldsSummary::of(rec),
            cpus,
            top_tasks,
            fast_revokes: RevokeSummary::all(rec),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use scheduler_core::{record::Writer, task::ENQ_WAKEUP, wire::RawRecordEvent, TASK_COMM_LEN};
    use scheduler_sim::Runner;

    use super::*;

    fn ev(ts: u64, kind: Kind, pid: i32, cpu: i32, flags: u32) -> RawRecordEvent {
        let mut comm = [0u8; TASK_COMM_LEN];
        comm[..4].copy_from_slice(if pid == 1 { b"user" } else { b"work" });
        RawRecordEvent { ts, arg: 1024, pid, tgid: pid, cpu, kind: kind as u32, flags, arg2: 0, comm }
    }

    /// A two-CPU recording of `events`, ended with `dropped` lost events at `end_ns`.
    fn written(events: &[RawRecordEvent], dropped: u64, end_ns: u64) -> Recording {
        let mut w = Writer::new(Vec::new(), 2, 0, record::HOG_RULE).unwrap();
        for e in events {
            w.event(e).unwrap();
        }
        record::read(&w.finish(dropped, end_ns).unwrap()).unwrap()
    }

    /// Two CPUs: a task wakes (waits 100 µs), runs 1 ms, is put back (waits
    /// 50 µs), runs 2 ms on the other CPU and sleeps; the user scheduler runs
    /// once; a run under way at the start leaves one unmatched stop.
    fn recording() -> Recording {
        let events = [
            ev(1_000, Kind::Stopping, 9, 0, 0), // began before the recording
            ev(10_000, Kind::Runnable, 7, 0, 1),
            ev(20_000, Kind::Running, 1, 1, 1),
            ev(30_000, Kind::Stopping, 1, 1, 0),
            ev(110_000, Kind::Running, 7, 0, 0),
            ev(1_110_000, Kind::Stopping, 7, 0, 1),
            ev(1_160_000, Kind::Running, 7, 1, 0),
            ev(3_160_000, Kind::Stopping, 7, 1, 0),
            ev(3_160_001, Kind::Quiescent, 7, 1, 0),
        ];
        written(&events, 3, 4_000_000)
    }

    #[test]
    fn runs_and_waits_pair_up() {
        let rec = recording();
        let r = Runs::of(&rec);
        let runs: Vec<_> = r.runs.iter().map(|r| (r.cpu, r.pid, r.start_ns, r.end_ns, r.usersched)).collect();
        assert_eq!(
            runs,
            [(1, 1, 20_000, 30_000, true), (0, 7, 110_000, 1_110_000, false), (1, 7, 1_160_000, 3_160_000, false)]
        );
        assert_eq!(r.waits_ns, [100_000, 50_000]);
        assert_eq!((r.unmatched_running, r.unmatched_stopping), (0, 1));
    }

    /// Nothing pairs across a session restart: the run under way when the
    /// first session ended and the wait open then are dropped, counted
    /// unmatched, not joined to the next session's events.
    #[test]
    fn sessions_do_not_pair_across() {
        let mut w = Writer::new(Vec::new(), 1, 0, record::HOG_RULE).unwrap();
        w.session(0).unwrap();
        w.event(&ev(10, Kind::Runnable, 7, 0, 1)).unwrap();
        w.event(&ev(20, Kind::Running, 8, 0, 0)).unwrap();
        w.session(1_000).unwrap();
        w.event(&ev(2_000, Kind::Running, 7, 0, 0)).unwrap();
        w.event(&ev(3_000, Kind::Stopping, 8, 0, 0)).unwrap();
        let rec = record::read(&w.finish(0, 4_000).unwrap()).unwrap();
        let r = Runs::of(&rec);
        assert!(r.runs.is_empty() && r.waits_ns.is_empty(), "{r:?}");
        // 8's run at the first session's end, and 7's, ended by 8's stop
        // (which had no start in its session).
        assert_eq!((r.unmatched_running, r.unmatched_stopping), (2, 1));
        let s = Summary::of(&rec, &r, 0);
        assert_eq!((s.sessions, s.events_by_kind["decision"]), (2, 0));
    }

    /// A wakeup's wait splits at its decision (through user space), a
    /// wakeup without one is the kernel's, and a task put back while
    /// runnable (no wakeup) is in neither.
    #[test]
    fn wakeups_split_at_their_decision() {
        let events = [
            // 7 wakes at 10 µs, its decision comes at 40 µs, it runs at 100 µs.
            ev(10_000, Kind::Runnable, 7, 0, 1),
            ev(40_000, Kind::Decision, 7, 0, 0),
            ev(60_000, Kind::Decision, 7, 0, 0), // a later, stale decision: the first counts
            ev(100_000, Kind::Running, 7, 0, 0),
            ev(200_000, Kind::Stopping, 7, 0, 1), // put back, runnable
            ev(250_000, Kind::Running, 7, 0, 0),
            ev(300_000, Kind::Stopping, 7, 0, 0),
            ev(300_001, Kind::Quiescent, 7, 0, 0),
            // 8 wakes at 400 µs and runs at 405 µs with no decision.
            ev(400_000, Kind::Runnable, 8, 1, 1),
            ev(405_000, Kind::Running, 8, 1, 0),
            // 9 becomes runnable without a wakeup (a new task).
            ev(500_000, Kind::Runnable, 9, 1, 0),
            ev(520_000, Kind::Decision, 9, 1, 0),
            ev(600_000, Kind::Running, 9, 1, 0),
        ];
        let rec = written(&events, 0, 1_000_000);
        let r = Runs::of(&rec);
        assert_eq!(
            r.wakeups,
            [
                WakeupWait { pid: 7, total_ns: 90_000, decided_ns: Some(30_000) },
                WakeupWait { pid: 8, total_ns: 5_000, decided_ns: None }
            ]
        );
        assert_eq!(r.waits_ns.len(), 4, "every wait is still a wait");
        let s = Summary::of(&rec, &r, 0).wakeups;
        let u = &s.via_user_space;
        assert_eq!((u.to_decision.samples, u.to_decision.p50_us), (1, 30.0));
        assert_eq!((u.decision_to_run.p50_us, u.total.p99_us), (60.0, 90.0));
        assert_eq!((s.in_kernel.samples, s.in_kernel.max_us), (1, 5.0));
        // Per task, the same split.
        let tasks = Summary::of(&rec, &r, 0).wakeup_contexts.expect("a current recording").by_task;
        let (seven, eight) = (&tasks[&7], &tasks[&8]);
        let user = seven.via_user_space.as_ref().expect("7's wakeup was decided");
        assert_eq!((user.samples, user.p50_us), (1, 90.0));
        assert!(seven.in_kernel.is_none() && eight.via_user_space.is_none());
        assert_eq!(eight.in_kernel.as_ref().map(|w| (w.samples, w.p50_us)), Some((1, 5.0)));
    }

    /// Granted wakeups not fast-placed are tallied per task by why, and
    /// each revoke is listed with what went over which bound; the runs and
    /// waits, a replay's scripts and the late yields are as without either
    /// kind of event.
    #[test]
    fn fast_misses_and_revokes_are_explained() {
        let with = |mut e: RawRecordEvent, arg: u64, arg2: i32| {
            e.arg = arg;
            e.arg2 = arg2;
            e
        };
        let events = [
            ev(10_000, Kind::Runnable, 7, 0, 1),
            ev(11_000, Kind::FastMiss, 7, 0, FastMiss::NoCpu as u32),
            ev(40_000, Kind::Decision, 7, 0, 0),
            ev(100_000, Kind::Running, 7, 0, 0),
            ev(2_100_000, Kind::Stopping, 7, 0, 0),
            with(ev(2_100_001, Kind::Revoke, 7, 0, RevokeWhy::Budget as u32), 2_000_500, 2_000),
            ev(2_100_002, Kind::Quiescent, 7, 0, 0),
            ev(3_000_000, Kind::Runnable, 7, 1, 1),
            ev(3_000_100, Kind::FastMiss, 7, 1, FastMiss::Revoked as u32),
            ev(3_000_200, Kind::Decision, 7, 1, 0),
            ev(3_010_000, Kind::Running, 7, 1, 0),
            ev(3_020_000, Kind::Runnable, 8, 0, 1),
            ev(3_020_100, Kind::FastMiss, 8, 0, FastMiss::SlotTaken as u32),
            with(ev(3_500_000, Kind::Revoke, 8, 0, RevokeWhy::Share as u32), 50_100_000, 50_000),
        ];
        let rec = written(&events, 0, 4_000_000);
        let r = Runs::of(&rec);
        assert_eq!(r.wakeups.len(), 2, "the two wakeups of 7 that ran, nothing from the new kinds");
        assert_eq!(r.runs.len(), 1);
        let fast_path = [Kind::FastMiss as u32, Kind::Revoke as u32];
        let without: Vec<_> = events.iter().filter(|e| !fast_path.contains(&e.kind)).copied().collect();
        let plain = written(&without, 0, 4_000_000);
        let p = Runs::of(&plain);
        assert_eq!((&r.wakeups, &r.waits_ns, r.runs.len()), (&p.wakeups, &p.waits_ns, p.runs.len()));
        assert_eq!(
            scheduler_sim::replay::Replay::from_recording(&rec),
            scheduler_sim::replay::Replay::from_recording(&plain)
        );
        let late = |rec: &Recording| serde_json::to_string(&LateYieldsSummary::of(rec)).unwrap();
        assert_eq!(late(&rec), late(&plain));
        let s = Summary::of(&rec, &r, 0);
        assert_eq!((s.events_by_kind["fast_miss"], s.events_by_kind["revoke"]), (3, 2));
        let tasks = s.wakeup_contexts.expect("a current recording").by_task;
        let m = tasks[&7].fast_misses.as_ref().expect("7 missed twice");
        assert_eq!((m.revoked, m.niced, m.no_cpu, m.slot_taken), (1, 0, 1, 0));
        assert_eq!((tasks[&7].fast_revokes, tasks[&8].fast_revokes), (1, 1));
        assert_eq!(tasks[&8].fast_misses.as_ref().map(|m| m.slot_taken), Some(1));
        let revokes: Vec<_> = s.fast_revokes.iter().map(|v| (v.pid, v.why, v.used_us, v.bound_us)).collect();
        assert_eq!(revokes, [(7, "budget", 2000.5, 2_000), (8, "share", 50_100.0, 50_000)]);
        assert!((s.fast_revokes[0].at_s - 0.0021).abs() < 1e-6);
    }

    /// Wakeups that ran in interrupt context are counted apart; a file of a
    /// version that does not mark them says nothing about them.
    #[test]
    fn interrupt_wakeups_are_counted() {
        let timer = ENQ_WAKEUP as u32 | record::RUNNABLE_IN_INTERRUPT;
        let events = [
            ev(10_000, Kind::Runnable, 7, 0, timer),
            ev(20_000, Kind::Running, 7, 0, 0),
            ev(30_000, Kind::Runnable, 8, 0, ENQ_WAKEUP as u32),
            ev(40_000, Kind::Runnable, 9, 1, 0), // a new task
            ev(50_000, Kind::Runnable, 9, 1, record::RUNNABLE_IN_INTERRUPT), // not a wakeup
        ];
        let mut rec = written(&events, 0, 100_000);
        let s = Summary::of(&rec, &Runs::of(&rec), 0).wakeup_contexts.unwrap();
        assert_eq!((s.wakeups, s.in_interrupt), (2, 1));
        let work = &s.by_name["work"];
        assert_eq!((s.by_name.len(), work.wakeups, work.in_interrupt), (1, 2, 1), "both named work");
        // 7's wait (10 µs) ended in a run; 8 still waits at the end.
        let (seven, eight) = (&s.by_task[&7], &s.by_task[&8]);
        let wait = seven.wait.as_ref().expect("a wait");
        assert_eq!((seven.comm.as_str(), seven.wakeups, seven.in_interrupt), ("work", 1, 1));
        assert_eq!((wait.samples, wait.p50_us, wait.max_us), (1, 10.0, 10.0));
        assert!(eight.wait.is_none(), "no wait ended");
        rec.version = INTERRUPT_MARK_VERSION - 1;
        assert!(Summary::of(&rec, &Runs::of(&rec), 0).wakeup_contexts.is_none());
    }

    #[test]
    fn summary_adds_up() {
        let rec = recording();
        let s = Summary::of(&rec, &Runs::of(&rec), 100);
        assert_eq!((s.events, s.runs, s.usersched_runs, s.tasks, s.lost, s.complete), (9, 3, 1, 3, Some(3), true));
        assert_eq!(s.events_by_kind["stopping"], 4);
        assert!((s.duration_s - 0.004).abs() < 1e-12);
        assert!((s.cpus[0].busy - 0.25).abs() < 1e-9 && (s.cpus[1].busy - 0.5025).abs() < 1e-9, "{:?}", s.cpus);
        assert_eq!(s.top_tasks[0].pid, 7);
        assert!((s.top_tasks[0].cpu_ms - 3.0).abs() < 1e-9);
        assert_eq!((s.waits.samples, s.waits.p50_us, s.waits.max_us), (2, 50.0, 100.0));
        // Task 7 waits 100 µs for CPU 0, free since pid 9 stopped there (1
        // µs), then 50 µs for CPU 1, free since the user scheduler stopped
        // (30 µs): 150 µs of the 8 ms of CPU time.
        let f = &s.free_cpu_to_run;
        assert_eq!((f.waits.samples, f.waits.p50_us, f.waits.max_us), (2, 50.0, 100.0));
        assert!((f.cpu_share - 150.0 / 8_000.0).abs() < 1e-12, "{}", f.cpu_share);
        let u = &s.user_scheduler;
        assert_eq!((u.decisions, u.us_per_decision), (0, None));
        assert!((u.cpu_s - 10e-6).abs() < 1e-12);
        // No decision, so no run a decision placed, no late yield; a file
        // of version 1 has no vtimes to read them from.
        assert_eq!(s.version, scheduler_core::record::VERSION);
        let late = s.late_yields.unwrap();
        assert_eq!((late.observed, late.censored, late.p99_us), (0, 0, 0.0));
        let v1 = Recording { version: 1, ..rec.clone() };
        assert!(Summary::of(&v1, &Runs::of(&v1), 100).late_yields.is_none());
    }

    /// The trace holds the task runs as task slices and the user
    /// scheduler's as its own, in ns from the recording's start.
    #[test]
    fn trace_of_the_runs() {
        let rec = recording();
        let t = Runs::of(&rec).trace(&rec, "t");
        assert_eq!(t.tasks.len(), 1);
        assert_eq!(t.tasks[0].name, "work");
        assert_eq!(t.slices.len(), 3);
        assert_eq!(t.slices[0].runner, Runner::UserScheduler);
        assert_eq!(t.totals(), (3_000_000, 10_000));
    }
}
