//! How late the recorded machine's tick made running tasks yield: the
//! samples of [`SimConfig::late_yields_ns`](crate::SimConfig), read from a
//! recording (`sim --recorded-costs`).
//!
//! The dispatcher's tick (`relay_tick`, `should_yield` in `main.bpf.c`)
//! ends a run at the first tick after `slice_min` at which a lower key
//! waits: a key below the running task's key advanced by its run so far,
//! weighted (`K + r × 1024 / w`). And at the first tick after its slice
//! runs out (the kernel's slice accounting, `slice_min` or not), the CPU
//! dispatches: anything waiting takes it (`relay_dispatch` keeps the task,
//! with a fresh default slice, when nothing does). In the model the tick comes every `tick_ns` on every
//! CPU, on time. On the recorded machine it may come late: a guest under
//! QEMU's TCG runs its vCPUs one at a time (`-accel tcg,thread=single`),
//! and a vCPU that is not executing takes its timer interrupt only when its
//! turn comes, so its task runs on (in the guest's time) past the ticks it
//! missed. (Measured on a hackbench recording under `deadline`: the replay
//! ended runs at the first due tick, 1.9 k times at 3.5 ms median; the
//! guest, 0.9 k times at 8.8 ms, 12 ms and 16 ms being common, and its
//! CPUs were silent, no event at all, for 8 to 12 ms at a time.)
//!
//! Read from a recording, for each run a user decision placed (its
//! `decision`, then its `running` with no other event of the task
//! between): the key is the `running`'s `arg` (the task's `dsq_vtime`,
//! which recordings carry since format version 2, 2026-12-05; older ones
//! give no samples), the slice is the decision's, then the default slice
//! each time it ran out with nothing waiting (no event marks that: the
//! estimate follows the rule). What waits for a CPU is every decided task
//! not yet running (its key known from its own `running`), in the shared
//! queue (a decision for any CPU) or in that CPU's queue. The run is *due*
//! at the first multiple of `tick_ns` (the kernel's ticks are aligned to
//! the clock's multiples of the period; the model's too) at which the rule
//! above holds (weights from the task's last `runnable`). A due time ends
//! *observed* when the run yields (its `stopping`, runnable, with the rule
//! still holding and another task than the user scheduler next), and *censored*
//! (the yield would have come later) when the run blocks, the rule stops
//! holding (the waiter ran elsewhere first: with one waiter and four due
//! CPUs the first tick served it), the user scheduler runs next (the
//! dispatcher preempts for it with a kick at any time, not only at a
//! tick), the session restarts, or the recording ends. A yield to a kernel
//! thread counts: the tick yields for one too. What the recording cannot
//! show is left out: a cgroup's share of the weight; and the kicks that
//! preempt besides the user scheduler's (the fast path's, aging's) and
//! higher classes are taken for the tick's (and a task the fast path
//! preempted and put back with its slice left waits with no decision: it
//! is not among the waiters), which can only make the
//! lateness look shorter (none of them ran in the guest recordings
//! measured: the fast path off, no realtime load).

use std::collections::HashMap;

use scheduler_core::{
    record::{Kind, Recording},
    task::WEIGHT_DEFAULT,
};

use crate::replay::session_starts;

/// A run a decision placed, as the tick sees it.
#[derive(Debug, Clone, Copy)]
struct DecidedRun {
    pid: i32,
    start_ns: u64,
    key: u64,
    weight: u64,
    /// When its slice runs out (the decision's, then renewed).
    slice_end_ns: u64,
    /// Since when it has had to yield, at a tick, without a break.
    due_ns: Option<u64>,
}

/// Decided tasks not yet running: pid → (key, the CPU named, -1 any).
type Waiting = HashMap<i32, (u64, i32)>;

/// Whether vtime `a` is before `b` (wrapping, as the BPF's `vtime_before`).
fn before(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) < 0
}

/// The dispatcher's rule, with the recorded machine's settings (taken as
/// the replay's: the tick period, `slice_min` and the default slice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickRule {
    /// The tick's period (ns), > 0.
    pub tick_ns: u64,
    /// How long a task runs before the tick may end its run (ns).
    pub slice_min_ns: u64,
    /// The slice a task kept after its slice ran out gets (ns).
    pub slice_ns: u64,
}

impl DecidedRun {
    /// Whether a tick at `at` would make it yield, on `cpu`: its slice is
    /// over and anything waits (the kernel's own slice accounting, whatever
    /// it ran), or it has run `slice_min` and a waiting key is below its key
    /// advanced by its run (`should_yield`).
    fn must_yield(&self, cpu: usize, at: u64, rule: TickRule, waiting: &Waiting) -> bool {
        let mut for_cpu = waiting.values().filter(|&&(_, named)| named < 0 || named as usize == cpu);
        if at >= self.slice_end_ns {
            return for_cpu.next().is_some();
        }
        let ran = at.saturating_sub(self.start_ns);
        if ran < rule.slice_min_ns {
            return false;
        }
        let advanced = self.key.wrapping_add(ran.saturating_mul(WEIGHT_DEFAULT) / self.weight.max(1));
        for_cpu.any(|&(key, _)| before(key, advanced))
    }

    /// A tick at `at` with nothing waiting for `cpu` after its slice ran
    /// out: the dispatcher keeps it, with a fresh default slice.
    fn renew_slice(&mut self, cpu: usize, at: u64, rule: TickRule, waiting: &Waiting) {
        let waits = waiting.values().any(|&(_, named)| named < 0 || named as usize == cpu);
        if at >= self.slice_end_ns && !waits {
            self.slice_end_ns = at.saturating_add(rule.slice_ns);
        }
    }
}

/// How late the recorded tick made tasks yield ([`late_yields`]): the
/// times from a run's first due tick to its yield (observed), and those
/// of due times that ended otherwise (censored: the yield, had it come,
/// would have been later). The module's documentation says which is which.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LateYields {
    /// Yields that came, ns after their first due tick.
    pub observed: Vec<u64>,
    /// Due times that ended without one (ns).
    pub censored: Vec<u64>,
}

/// How many samples [`LateYields::distribution`] gives.
pub const LATE_YIELD_SAMPLES: usize = 1000;

impl LateYields {
    /// The distribution of the lateness, with the censored times taken
    /// into account (the Kaplan-Meier estimate: a run whose due time ended
    /// at `t` without a yield counts among those at risk up to `t`), as
    /// [`LATE_YIELD_SAMPLES`] equally likely values (its quantiles at
    /// `(i + 0.5) / n`); the probability left beyond the last observed
    /// time (censored times only after it) goes to that time: a censored
    /// outlier (a run that blocked long after) never becomes a drawn
    /// lateness. Empty without observed yields.
    ///
    /// Taking only the observed yields would understate them: when one
    /// task waits and every CPU's run is due, the first CPU whose tick
    /// comes takes it; the others' due times end, censored.
    pub fn distribution(&self) -> Vec<u64> {
        if self.observed.is_empty() {
            return Vec::new();
        }
        // (time, observed), observed first at equal times.
        let mut all: Vec<(u64, bool)> =
            self.observed.iter().map(|&t| (t, true)).chain(self.censored.iter().map(|&t| (t, false))).collect();
        all.sort_by_key(|&(t, observed)| (t, !observed));
        // Mass at each observed time: the survival's drop there.
        let mut masses: Vec<(u64, f64)> = Vec::new();
        let (mut survival, mut at_risk, mut i) = (1.0f64, all.len(), 0);
        while i < all.len() {
            let t = all[i].0;
            let same = all[i..].iter().take_while(|&&(u, _)| u == t).count();
            let events = all[i..i + same].iter().filter(|&&(_, observed)| observed).count();
            if events > 0 {
                let next = survival * (1.0 - events as f64 / at_risk as f64);
                masses.push((t, survival - next));
                survival = next;
            }
            at_risk -= same;
            i += same;
        }
        if let Some(last) = masses.last_mut() {
            last.1 += survival;
        }
        let mut out = Vec::with_capacity(LATE_YIELD_SAMPLES);
        let (mut cumulative, mut m) = (0.0f64, 0);
        for k in 0..LATE_YIELD_SAMPLES {
            let q = (k as f64 + 0.5) / LATE_YIELD_SAMPLES as f64;
            while m + 1 < masses.len() && cumulative + masses[m].1 < q {
                cumulative += masses[m].1;
                m += 1;
            }
            out.push(masses[m].0);
        }
        out
    }
}

/// The late yields of `rec` (see the module's documentation) whose due
/// time began in its first `upto_ns` (from the recording's start), under
/// `rule`. None for a recording without vtimes (format version 1).
pub fn late_yields(rec: &Recording, upto_ns: u64, rule: TickRule) -> LateYields {
    let mut out = LateYields::default();
    if rec.version < 2 || rule.tick_ns == 0 {
        return out;
    }
    // Each decision's key: its task's next event, if that is its `running`
    // (a run the decision placed). Each `stopping`: its CPU's next
    // `running`.
    let mut next_of_pid: HashMap<i32, usize> = HashMap::new();
    let mut key_of = vec![None; rec.events.len()];
    let mut runs_next = vec![None; rec.events.len()];
    let mut next_running: HashMap<i32, usize> = HashMap::new();
    for (i, e) in rec.events.iter().enumerate().rev() {
        // What the fast path did stands between no decision and its run.
        if matches!(e.kind, Kind::FastMiss | Kind::Revoke) {
            continue;
        }
        match e.kind {
            Kind::Decision => {
                if let Some(&j) = next_of_pid.get(&e.pid).filter(|&&j| rec.events[j].kind == Kind::Running) {
                    key_of[i] = Some(rec.events[j].arg);
                }
            }
            Kind::Running => {
                next_running.insert(e.cpu, i);
            }
            Kind::Stopping => runs_next[i] = next_running.get(&e.cpu).copied(),
            _ => {}
        }
        next_of_pid.insert(e.pid, i);
    }
    let until = rec.start_ns.saturating_add(upto_ns);
    let mut end = |due: u64, at: u64, observed: bool| {
        if due <= until {
            let late = at.saturating_sub(due);
            if observed {
                out.observed.push(late)
            } else {
                out.censored.push(late)
            }
        }
    };
    let mut weight: HashMap<i32, u64> = HashMap::new();
    let mut slice: HashMap<i32, u64> = HashMap::new();
    let mut waiting = Waiting::new();
    let mut runs: Vec<Option<DecidedRun>> = vec![None; rec.nr_cpus as usize];
    let tick = rule.tick_ns;
    let mut next_tick = rec.events.first().map_or(0, |e| (e.ts_ns / tick + 1) * tick);
    let mut last_ts = rec.start_ns;
    let mut starts = session_starts(rec);
    for (i, e) in rec.events.iter().enumerate() {
        if starts(i) {
            // The last session ended with its last event.
            for run in runs.iter_mut().filter_map(Option::take) {
                if let Some(due) = run.due_ns {
                    end(due, last_ts, false);
                }
            }
            waiting.clear();
            next_tick = (e.ts_ns / tick + 1) * tick;
        }
        last_ts = e.ts_ns;
        while next_tick <= e.ts_ns {
            for (cpu, slot) in runs.iter_mut().enumerate() {
                let Some(run) = slot.as_mut() else { continue };
                match (run.must_yield(cpu, next_tick, rule, &waiting), run.due_ns) {
                    (true, None) => run.due_ns = Some(next_tick),
                    (false, Some(due)) => {
                        end(due, next_tick, false);
                        run.due_ns = None;
                    }
                    _ => {}
                }
                run.renew_slice(cpu, next_tick, rule, &waiting);
            }
            next_tick += tick;
        }
        let cpu = e.cpu as usize;
        match e.kind {
            Kind::Runnable => {
                weight.insert(e.pid, e.arg);
            }
            Kind::Decision => {
                slice.insert(e.pid, e.arg);
                match key_of[i] {
                    Some(key) => waiting.insert(e.pid, (key, e.arg2)),
                    None => waiting.remove(&e.pid),
                };
            }
            Kind::Quiescent => {
                waiting.remove(&e.pid);
            }
            Kind::FastMiss | Kind::Revoke => {}
            Kind::Running => {
                let decided = waiting.remove(&e.pid);
                if decided.is_some() {
                    // What made another CPU's run due may be this task.
                    for (other, slot) in runs.iter_mut().enumerate().filter(|&(c, _)| c != cpu) {
                        let Some(run) = slot.as_mut() else { continue };
                        let Some(due) = run.due_ns else { continue };
                        if !run.must_yield(other, e.ts_ns, rule, &waiting) {
                            end(due, e.ts_ns, false);
                            run.due_ns = None;
                        }
                    }
                }
                runs[cpu] = decided.filter(|_| e.flags & 1 == 0).map(|_| DecidedRun {
                    pid: e.pid,
                    start_ns: e.ts_ns,
                    key: e.arg,
                    weight: weight.get(&e.pid).copied().unwrap_or(WEIGHT_DEFAULT),
                    slice_end_ns: e.ts_ns.saturating_add(slice.get(&e.pid).copied().unwrap_or(rule.slice_ns)),
                    due_ns: None,
                });
            }
            Kind::Stopping => {
                let Some(run) = runs[cpu].take() else { continue };
                if let Some(due) = run.due_ns {
                    // Yielded, at the (late) tick, to another task: the
                    // user scheduler next is a kick's doing as often as a
                    // tick's (it preempts for itself at any time).
                    let yielded = run.pid == e.pid
                        && e.flags & 1 != 0
                        && runs_next[i].is_some_and(|j| rec.events[j].flags & 1 == 0)
                        && run.must_yield(cpu, e.ts_ns, rule, &waiting);
                    end(due, e.ts_ns, yielded);
                }
            }
        }
    }
    for run in runs.iter().flatten() {
        if let Some(due) = run.due_ns {
            end(due, last_ts, false);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use scheduler_core::record::Kind::{Decision, Quiescent, Runnable, Running, Stopping};

    use super::*;
    use crate::replay::tests::{recording, Ev};

    const MS: u64 = 1_000_000;

    /// A 4 ms tick, `slice_min` as given, a 20 ms default slice.
    fn rule(slice_min_ns: u64) -> TickRule {
        TickRule { tick_ns: 4 * MS, slice_min_ns, slice_ns: 20 * MS }
    }

    /// Task 10 (key 100 ms) runs on CPU 0 from 0.5 ms; task 11, decided at
    /// 1.5 ms for any CPU with key `waiting_key`, waits; 10 stops at `stop`
    /// (runnable, or blocked); 11 then runs there.
    fn two_tasks(waiting_key: u64, stop: u64, blocks: bool) -> Recording {
        let events: Vec<Ev> = vec![
            (0, Runnable, 10, 0, 1, 1024, 2),
            (400_000, Decision, 10, 0, 0, 100 * MS, -1),
            (500_000, Running, 10, 0, 0, 100 * MS, 0),
            (1_000_000, Runnable, 11, 0, 1, 1024, 2),
            (1_500_000, Decision, 11, 0, 0, 100 * MS, -1),
            (stop, Stopping, 10, 0, u32::from(!blocks), 0, 0),
            (stop, Running, 11, 0, 0, waiting_key, 0),
            (stop + 100_000, Stopping, 11, 0, 0, 0, 0),
            (stop + 100_000, Quiescent, 11, 0, 0, 0, 0),
        ];
        recording(2, stop + 200_000, &events)
    }

    fn observed(v: &[u64]) -> LateYields {
        LateYields { observed: v.to_vec(), censored: Vec::new() }
    }

    /// A lower key waits from 1.5 ms: the run (started at 0.5 ms) is due
    /// at the first tick after 1 ms of it, 4 ms; it yields at 13 ms, 9 ms
    /// late. With `slice_min` 4 ms, due at 8 ms, 5 ms late.
    #[test]
    fn a_yield_is_late_from_its_first_due_tick() {
        let rec = two_tasks(100 * MS, 13 * MS, false);
        assert_eq!(late_yields(&rec, 20 * MS, rule(MS)), observed(&[9 * MS]));
        assert_eq!(late_yields(&rec, 20 * MS, rule(4 * MS)), observed(&[5 * MS]));
        // A due time that began after the part asked for is left out.
        assert_eq!(late_yields(&rec, 3 * MS, rule(MS)), LateYields::default());
    }

    /// The waiting key is 10 ms above the running one: the run is due once
    /// it has run 10 ms, at the tick at 12 ms (1 ms late). At weight 256 its
    /// key advances four times as fast: due at the tick at 4 ms (3.5 ms of
    /// run, 14 ms of key).
    #[test]
    fn the_key_advances_with_the_run_weighted() {
        let rec = two_tasks(110 * MS, 13 * MS, false);
        assert_eq!(late_yields(&rec, 20 * MS, rule(MS)), observed(&[MS]));
        let mut light = rec.clone();
        light.events[0].arg = 256;
        assert_eq!(late_yields(&light, 20 * MS, rule(MS)), observed(&[9 * MS]));
    }

    /// Censored: a run that blocks while due (it would have yielded later);
    /// one whose waiter another CPU takes (the first CPU whose tick came
    /// served it). None at all: a recording without vtimes (older files);
    /// a wait with a higher key, whose run never is due before its slice.
    #[test]
    fn due_times_that_end_otherwise_are_censored() {
        let blocked = late_yields(&two_tasks(100 * MS, 13 * MS, true), 20 * MS, rule(MS));
        assert_eq!(blocked, LateYields { observed: vec![], censored: vec![9 * MS] });
        let mut elsewhere = two_tasks(100 * MS, 13 * MS, false);
        // 11 starts on CPU 1 at 6 ms instead; 10 stops runnable at 13 ms,
        // with nothing left to yield to.
        elsewhere.events[6].cpu = 1;
        elsewhere.events[6].ts_ns = 6 * MS;
        elsewhere.events[7].cpu = 1;
        elsewhere.events[8].cpu = 1;
        elsewhere.events.sort_by_key(|e| e.ts_ns);
        let r = late_yields(&elsewhere, 20 * MS, rule(MS));
        assert_eq!(r, LateYields { observed: vec![], censored: vec![2 * MS] });
        let old = Recording { version: 1, ..two_tasks(100 * MS, 13 * MS, false) };
        assert_eq!(late_yields(&old, 20 * MS, rule(MS)), LateYields::default());
        assert_eq!(late_yields(&two_tasks(200 * MS, 13 * MS, false), 20 * MS, rule(MS)), LateYields::default());
    }

    /// A decision naming another CPU waits in that CPU's queue: it does not
    /// make CPU 0's task due, even once its slice (5 ms) is over; naming
    /// CPU 0, with a higher key, it does then (at 8 ms), not before.
    #[test]
    fn a_slice_over_yields_to_what_waits_for_its_cpu() {
        let mut rec = two_tasks(100 * MS, 13 * MS, false);
        rec.events[1].arg = 5 * MS;
        rec.events[4].arg2 = 1;
        assert_eq!(late_yields(&rec, 20 * MS, rule(MS)), LateYields::default());
        rec.events[4].arg2 = 0;
        rec.events[6].arg = 200 * MS;
        assert_eq!(late_yields(&rec, 20 * MS, rule(MS)), observed(&[5 * MS]));
    }

    /// The distribution: observed times alone are their own quantiles; a
    /// censored time keeps its run at risk, so the later observed times
    /// weigh more (Kaplan-Meier); what survives the last observed time
    /// goes to it; nothing observed, nothing drawn.
    #[test]
    fn the_distribution_counts_censored_times_at_risk() {
        let d = observed(&[3, 1, 2, 4]).distribution();
        assert_eq!(d.len(), LATE_YIELD_SAMPLES);
        let share = |d: &[u64], v: u64| d.iter().filter(|&&x| x == v).count();
        assert_eq!([1, 2, 3, 4].map(|v| share(&d, v)), [250, 250, 250, 250]);
        // 1 observed; 2 censored at 2 (at risk 3 at time 1: S = 2/3); then
        // 5 observed with 1 at risk: S = 0. Masses: 1/3 at 1, 2/3 at 5.
        let d = LateYields { observed: vec![1, 5], censored: vec![2] }.distribution();
        assert_eq!([share(&d, 1), share(&d, 5)], [333, 667]);
        // Censored past the last observed: its survival goes to the last
        // observed time, not to the censored outlier.
        let d = LateYields { observed: vec![1], censored: vec![9] }.distribution();
        assert_eq!([share(&d, 1), share(&d, 9)], [1000, 0]);
        assert!(LateYields { observed: vec![], censored: vec![5] }.distribution().is_empty());
    }

    /// A stop with the user scheduler next may be its kick's doing:
    /// censored; with a kernel thread next, a tick's: observed. A session
    /// restart censors a due time at the old session's last event.
    #[test]
    fn user_scheduler_stops_and_restarts_are_censored() {
        let ev = |kind, flags| scheduler_core::record::Event {
            ts_ns: 13 * MS,
            kind,
            pid: 99,
            cpu: 0,
            flags,
            arg: 0,
            arg2: 0,
        };
        // Task 10 stops; 99 runs there first (the user scheduler, flags 1;
        // or a kernel thread), then 11.
        for (flags, want) in [(1, LateYields { observed: vec![], censored: vec![9 * MS] }), (0, observed(&[9 * MS]))] {
            let mut rec = two_tasks(100 * MS, 13 * MS, false);
            rec.events.splice(6..6, [ev(Running, flags), ev(Stopping, 0)]);
            assert_eq!(late_yields(&rec, 20 * MS, rule(MS)), want, "flags {flags}");
        }
        let mut restart = two_tasks(100 * MS, 13 * MS, false);
        // A new session from the `stopping` at 13 ms on; the old one's last
        // event came at 1.5 ms, before the tick at 4 ms: nothing was due.
        restart.sessions.push(scheduler_core::record::Session { ts_ns: 13 * MS, from_event: 5 });
        assert_eq!(late_yields(&restart, 20 * MS, rule(MS)), LateYields::default());
        // With an event of the old session at 10 ms, due at 4 ms: censored there.
        let mut late = two_tasks(100 * MS, 13 * MS, false);
        let e = scheduler_core::record::Event {
            ts_ns: 10 * MS,
            kind: Runnable,
            pid: 12,
            cpu: 1,
            flags: 1,
            arg: 1024,
            arg2: 2,
        };
        late.events.insert(5, e);
        late.sessions.push(scheduler_core::record::Session { ts_ns: 13 * MS, from_event: 6 });
        assert_eq!(late_yields(&late, 20 * MS, rule(MS)), LateYields { observed: vec![], censored: vec![6 * MS] });
    }
}
