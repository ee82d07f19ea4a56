//! Weighted virtual time, shared by `deadline`, `interactive` and `local`.
//!
//! Every task has a virtual runtime `v` in ns of nice-0 (weight 1024) time: each run
//! of `r` ns adds `r × 1024 / weight` (the dispatcher advances a running
//! task's key at the same rate, so the two agree). The *clock* `c` is the
//! largest `v` a task reached at the end of a run: every run of a task at
//! the clock moves it on by the run's charge, and by no more than the run's
//! own length (so a light task, charged up to 341 times its run, cannot
//! drag the clock ahead of everyone else's virtual time). Every placement
//! keeps `v` within a window of the clock:
//!
//! - **below**: a task enqueued by a wakeup starts no lower than `c` (but
//!   `local`'s pinned wakeups: at most `behind` lower, see
//!   [`VClock::place_with_wake_floor`]) — no
//!   sleeper credit: it queues behind the virtual time already served, so a
//!   stream of wakeups cannot keep a waiting task from the CPU, and each of
//!   their runs moves the clock on (under `hackbench`, a credit of one slice
//!   let tasks wait over a second, and the run took twice as long, in the
//!   guest); any other enqueue (its slice ended, a lower key preempted it,
//!   its affinity changed) keeps up to `behind` (five slices) of the CPU it
//!   is owed, so CPU hogs of different weights keep their ratio;
//! - **above**: a run never takes `v` more than `ahead` (twenty slices,
//!   [`ABOVE_SLICES`]) past the clock, so a very light task waits a
//!   bounded time for its next turn. Twenty, not five: a tick-long run
//!   (up to 5 ms, `slice_min` and a tick) of the lightest nice level
//!   (nice 19, weight 15) is charged 341 ms, under the cap, so every nice
//!   level pays for all it uses; with five slices (100 ms) a 4 ms run of a
//!   nice-15 task (114 ms) was cut, and it got 14 % too much CPU in the
//!   guest's nice ladder. Only SCHED_IDLE (weight 3, charged 341 × its
//!   run) is still cut, and gets about three times its fair share.
//!   (A cap of five slices of CPU at each task's weight makes every charge
//!   exact, but then a SCHED_IDLE task waits as long as its weight says,
//!   seconds behind nice-0 hogs, past the watchdog but for the
//!   dispatcher's aging: the simulator measured 7.5 s.)
//!
//! A new task, or one whose vtime is not the key this policy sent it (a pid
//! reused, a task the dispatcher placed itself, one handed over from another
//! policy), starts at `c`: no head start, no penalty. The state per task (`v`
//! and the key sent) lives in a fixed-size pid table.

use scheduler_core::{task::WEIGHT_DEFAULT, QueuedTask};

use crate::pid_map::{Found, PidMap, TASK_TABLE_CAPACITY};

/// `behind`, and the slice cap, in slices.
pub const AHEAD_SLICES: u64 = 5;
/// `ahead`, in slices (see the module docs).
pub const ABOVE_SLICES: u64 = 20;

/// What the clock remembers of a task.
#[derive(Clone, Copy, Debug, Default)]
struct VState {
    /// Virtual runtime (ns of nice-0 (weight 1024) time).
    v: u64,
    /// The key last sent for it, if one was since it was placed.
    key_sent: Option<u64>,
    /// `stop_ts` of the last run charged.
    charged_stop_ts: u64,
}

/// Weighted virtual runtimes and the clock (see the module docs).
#[derive(Debug)]
pub(crate) struct VClock {
    tasks: PidMap<VState>,
    clock: u64,
    behind: u64,
    ahead: u64,
}

/// `run_ns × 1024 / weight`: a run in ns of nice-0 virtual time.
pub(crate) fn weighted(run_ns: u64, weight: u64) -> u64 {
    (u128::from(run_ns) * u128::from(WEIGHT_DEFAULT) / u128::from(weight.max(1))).min(u128::from(u64::MAX)) as u64
}

/// The slice weighted policies give (a cap: the dispatcher's tick makes a
/// task yield as soon as a lower key waits): `AHEAD_SLICES × slice ×
/// weight / 1024` within `slice_min ..= AHEAD_SLICES × slice` — 100 ms for
/// nice 0 and above by default, 11 ms for nice 10. Shorter caps would end
/// the runs of tasks that are owed CPU, and a CPU whose task's slice ends
/// takes whatever waits, lower key or not: with 20 ms, a nice-0 hog
/// sharing a CPU with a nice-10 one got 6 times its CPU instead of 9.
pub(crate) fn weighted_slice(slice_ns: u64, slice_min_ns: u64, weight: u64) -> u64 {
    let max = slice_ns.saturating_mul(AHEAD_SLICES);
    let s = (u128::from(max) * u128::from(weight) / u128::from(WEIGHT_DEFAULT)).min(u128::from(u64::MAX)) as u64;
    s.clamp(slice_min_ns, max.max(slice_min_ns))
}

impl VClock {
    /// A clock at 0 with `behind = AHEAD_SLICES × slice` and
    /// `ahead = ABOVE_SLICES × slice`.
    pub(crate) fn new(slice_ns: u64) -> Self {
        Self {
            tasks: PidMap::with_capacity(TASK_TABLE_CAPACITY),
            clock: 0,
            behind: slice_ns.saturating_mul(AHEAD_SLICES),
            ahead: slice_ns.saturating_mul(ABOVE_SLICES),
        }
    }

    /// The clock `c`.
    pub(crate) fn now(&self) -> u64 {
        self.clock
    }

    /// The virtual runtime kept for `pid`, if remembered.
    pub(crate) fn v_of(&self, pid: i32) -> Option<u64> {
        self.tasks.get(pid).map(|s| s.v)
    }

    /// [`VClock::place_with_wake_floor`] without a floor (the tests' shorthand).
    #[cfg(test)]
    pub(crate) fn place(&mut self, task: &QueuedTask) -> u64 {
        self.place_with_wake_floor(task, None)
    }

    /// `task` arrives: charges its last run (once) at its current weight,
    /// at most `ahead` past the clock, moves the clock to where the run
    /// ended, keeps `v` within the window below the clock (`c` after a
    /// wakeup, `c - behind` otherwise) and returns it. With `wake_floor`, a
    /// wakeup starts no lower than the floor clamped to `[c - behind, c]`
    /// instead of `c`: for a task that can wait on one CPU only, the
    /// virtual time that CPU serves (`local`'s pinned wakeups).
    pub(crate) fn place_with_wake_floor(&mut self, task: &QueuedTask, wake_floor: Option<u64>) -> u64 {
        let st = match self.tasks.entry(task.pid) {
            Found::Old(st) => st,
            Found::New(st, _) => st,
        };
        let known = st.key_sent == Some(task.vtime);
        let mut v = if known { st.v } else { self.clock };
        if known && task.stop_ts != st.charged_stop_ts {
            // It ran since its last decision, which started it at `v`.
            v = v.saturating_add(weighted(task.last_run_ns(), task.weight)).min(self.clock.saturating_add(self.ahead));
            // The clock follows by at most the run's own length: a light
            // task's charge (341 × its run at SCHED_IDLE's 3) would move it
            // ahead of every other task's virtual time.
            self.clock = self.clock.max(v.min(self.clock.saturating_add(task.last_run_ns())));
        }
        let lowest = match (task.is_wakeup(), wake_floor) {
            (true, None) => self.clock,
            (true, Some(f)) => f.clamp(self.clock.saturating_sub(self.behind), self.clock),
            (false, _) => self.clock.saturating_sub(self.behind),
        };
        let v = v.clamp(lowest, self.clock.saturating_add(self.ahead));
        *st = VState { v, key_sent: None, charged_stop_ts: task.stop_ts };
        v
    }

    /// The decision for `pid` carries `key` (what comes back as its vtime).
    pub(crate) fn sent(&mut self, pid: i32, key: u64) {
        if let Some(st) = self.tasks.get_mut(pid) {
            st.key_sent = Some(key);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use scheduler_core::task::{nice_to_weight, ENQ_WAKEUP, WEIGHT_DEFAULT as NICE_0, WEIGHT_IDLEPRIO};

    const MS: u64 = 1_000_000;
    const SLICE: u64 = 20 * MS;

    fn task(pid: i32, vtime: u64, run: u64, stop: u64, weight: u64) -> QueuedTask {
        let mut t = QueuedTask::new(pid, 0);
        t.vtime = vtime;
        t.start_ts = stop - run;
        t.stop_ts = stop;
        t.weight = weight;
        t
    }

    /// A run is charged `run × 1024 / weight`, once; the weight is the one
    /// the task has when it comes back.
    #[test]
    fn runs_are_charged_by_weight_once() {
        let mut c = VClock::new(SLICE);
        assert_eq!(c.place(&task(1, 0, 0, 1, NICE_0)), 0);
        c.sent(1, 7);
        assert_eq!(c.place(&task(1, 7, 4 * MS, 10 * MS, NICE_0)), 4 * MS);
        c.sent(1, 4 * MS);
        assert_eq!(c.place(&task(1, 4 * MS, 4 * MS, 20 * MS, NICE_0 / 2)), 12 * MS, "now half the weight");
        c.sent(1, 12 * MS);
        assert_eq!(c.place(&task(1, 12 * MS, 4 * MS, 20 * MS, NICE_0 / 2)), 12 * MS, "same run: not charged again");
        assert_eq!(weighted(3 * MS, WEIGHT_IDLEPRIO), 1024 * MS, "SCHED_IDLE");
    }

    /// The clock is where runs ended; `v` stays within `[c, c + ahead]`
    /// after a wakeup and `[c - behind, c + ahead]` otherwise; a run is
    /// charged at most `ahead` past the clock; unknown vtimes start at the clock.
    #[test]
    fn placement_window() {
        let mut c = VClock::new(SLICE);
        c.place(&task(1, 0, 0, 1, NICE_0));
        c.place(&task(2, 0, 0, 1, NICE_0));
        c.sent(2, 0);
        let mut stop = 1;
        for _ in 0..3 {
            c.sent(1, 9);
            stop += 80 * MS;
            c.place(&task(1, 9, 80 * MS, stop, NICE_0));
        }
        assert_eq!((c.now(), c.v_of(1)), (240 * MS, Some(240 * MS)), "the clock is where the last run ended");
        assert_eq!(c.place(&task(2, 0, 0, 1, NICE_0)), 140 * MS, "owed CPU: at most five slices behind");
        c.sent(2, 0);
        let mut woken = task(2, 0, 0, 1, NICE_0);
        woken.enq_flags = ENQ_WAKEUP;
        assert_eq!(c.place(&woken), 240 * MS, "a wakeup starts at the clock");
        c.sent(2, 5);
        assert_eq!(
            c.place(&task(2, 5, 20 * MS, stop, WEIGHT_IDLEPRIO)),
            240 * MS + 20 * SLICE,
            "charged at most twenty slices ahead"
        );
        assert_eq!(c.now(), 260 * MS, "the clock follows by the run's length, not its charge");
        c.sent(1, 11);
        stop += 5 * MS;
        assert_eq!(
            c.place(&task(1, 11, 5 * MS, stop, nice_to_weight(19))),
            240 * MS + 5 * MS * 1024 / 15,
            "a tick-long run of nice 19 is charged in full"
        );

        assert_eq!(c.place(&task(3, 123, 0, 1, NICE_0)), c.now(), "foreign vtime: at the clock");
    }

    /// A wakeup with a floor starts at the floor, within `[c - behind, c]`,
    /// or higher if its own `v` is; without one, at `c`.
    #[test]
    fn wake_floor_within_the_window() {
        let mut c = VClock::new(SLICE);
        let mut stop = 1;
        for pid in 1..=5 {
            c.place(&task(pid, 0, 0, stop, NICE_0));
            c.sent(pid, 0);
        }
        for _ in 0..3 {
            c.sent(1, 9);
            stop += 80 * MS;
            c.place(&task(1, 9, 80 * MS, stop, NICE_0));
        }
        assert_eq!(c.now(), 240 * MS);
        let woken = |pid| {
            let mut t = task(pid, 0, 0, 1, NICE_0);
            t.enq_flags = ENQ_WAKEUP;
            t
        };
        assert_eq!(c.place_with_wake_floor(&woken(2), Some(200 * MS)), 200 * MS, "at the floor");
        assert_eq!(c.place_with_wake_floor(&woken(3), Some(10 * MS)), 140 * MS, "at most five slices behind");
        assert_eq!(c.place_with_wake_floor(&woken(4), Some(300 * MS)), 240 * MS, "at most the clock");
        assert_eq!(c.place_with_wake_floor(&woken(5), None), 240 * MS, "no floor: the clock");
        c.sent(2, 0);
        assert_eq!(c.place_with_wake_floor(&woken(2), Some(150 * MS)), 200 * MS, "its own v is higher");
    }
}
