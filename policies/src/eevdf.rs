//! `eevdf`: earliest eligible virtual deadline first, as the kernel's fair
//! class does it since 6.6 (kernel/sched/fair.c), so users can compare.
//!
//! Each task has a virtual runtime `v`: its CPU time scaled by
//! `1024 / weight` (a nice-0 task's `v` advances at wall-clock speed, a
//! heavier one's slower). `V` is the weighted average of `v` over the
//! runnable tasks. A task's *lag* is `V - v`: positive when it got less
//! than its share. The rules:
//!
//! 1. **Eligible** when `lag >= 0`, i.e. `v <= V`.
//! 2. **Virtual deadline** `vd = v + request * 1024 / weight`, where the
//!    request is the kernel's base slice, `0.75 ms * (1 + ilog2(min(cpus, 8)))`
//!    (3 ms on 8 CPUs), within `slice_min..=slice`.
//! 3. **Pick** the eligible task with the earliest `vd`; it runs until an
//!    earlier deadline waits (see below).
//! 4. **Charge** every run: `v += run * 1024 / weight`.
//! 5. **Placement** (the kernel's `place_entity`): a new task starts at
//!    `v = V` with half a request (`PLACE_DEADLINE_INITIAL`); a task that
//!    wakes up keeps the lag it left with, `v = V - lag * (W + w) / W`
//!    (`W` the runnable weight), the lag clamped to
//!    `±max(2 request, 1 ms) * 1024 / weight`; a task whose slice ended
//!    keeps its `v`.
//!
//! In scx_relay a policy hands tasks to the dispatcher as soon as it is asked
//! (holding them would keep the user scheduler on a CPU), and the
//! dispatcher's queues order them by the decision's vtime. So the vtime sent
//! is the virtual deadline: the queues run tasks in `vd` order, and rule 1
//! acts on the tasks this policy holds at once (a batch). The dispatcher's
//! tick makes a running task yield once a waiting `vd` is below its own
//! advanced by its run, `vd + r × 1024 / weight` — the deadline it would have
//! if it came back now (rule 4) — which is the kernel's preemption at
//! deadline, at tick granularity. The decision's slice is only a cap
//! (`5 slice × weight / 1024` within `slice_min ..= 5 slice`, 100 ms for nice
//! 0 by default): a CPU whose task's slice ends takes whatever waits, so a
//! cap as short as the request would hand the CPU on at every tick whatever
//! the deadlines — measured in the simulator, 1 : 1 for a nice-0 and a
//! nice-10 hog sharing a CPU, as in the guest before, instead of 1024 : 110. "Runnable", for
//! `V`, is what the policy can know: tasks it holds, and tasks it
//! dispatched until they come back or [`AWAY_NS`] passed (they went to
//! sleep, or run long). The lag a sleeper left with is measured against `V`
//! at the moment it stopped (`stop_ts`), interpolated between `V` when it
//! was picked and `V` when it comes back: the policy does not see it stop.
//!
//! **Waits grow with the load, as in the kernel.** `V` advances at
//! `cpus × 1024 / W` per ns (`W` the runnable weight), and a task runs when
//! `V` reaches about its `vd`: a light task among many heavy ones waits
//! `request × W / (weight × cpus)` — seconds for a nice-19 task among a
//! hundred nice-0 ones. The kernel's fair class has no watchdog; sched_ext
//! does (5 s): the dispatcher's aging (a task waiting 2 s in a queue runs
//! next whatever its vtime) is what bounds such waits, and it did act in the
//! guest soak under `eevdf`. In the simulator the `nice` preset (16 hogs
//! of weights 11 to 305 on 8 CPUs) keeps every wait under 90 ms; hogs from
//! nice -5 to SCHED_IDLE with sleepers on 2 CPUs see waits of 1.5 s (the
//! SCHED_IDLE one), where `deadline`, whose window caps how far ahead a
//! light task is charged, stays under 0.5 s (`tests/policy_bounds.rs`).
//!
//! Per-task state (`v`, lag reference, what it counts in `V`) lives in a
//! fixed-size pid table. The vtime round trip through the kernel tells
//! whether that state belongs to this task's last decision: a task whose
//! vtime is not the deadline this policy sent it (a pid reused, a task the
//! dispatcher placed itself, one handed over from another policy, one
//! evicted from the table) is placed as new.

use std::{cmp::Reverse, collections::BinaryHeap, collections::VecDeque};

use scheduler_core::{task::WEIGHT_DEFAULT, Decision, Policy, QueuedTask, SchedContext};

use crate::{
    pid_map::{Found, PidMap, TASK_TABLE_CAPACITY},
    placement::prev_cpu_if_idle,
    vclock::weighted_slice,
    PolicyConfig,
};

/// A dispatched task that has not come back for this long no longer counts
/// in `V` (it went to sleep).
pub const AWAY_NS: u64 = 50_000_000;
/// The kernel's `sysctl_sched_base_slice` per CPU factor (ns).
const BASE_SLICE_NS: u64 = 750_000;
/// Dispatched tasks tracked for `V` at once.
const AWAY_CAPACITY: usize = 8_192;

/// What the policy remembers of a task.
#[derive(Clone, Copy, Debug, Default)]
struct TaskState {
    /// Virtual runtime (ns of nice-0 (weight 1024) time).
    v: u64,
    /// `V` when it was last picked.
    pick_v: u64,
    /// When it was last picked (ns).
    pick_ns: u64,
    /// The virtual deadline last sent as its vtime.
    deadline_sent: u64,
    /// `stop_ts` of the last run charged.
    charged_stop_ts: u64,
    /// Its contribution to the sums of `V`, if it counts: (weight, v).
    counted: Option<(u64, u64)>,
    /// Sequence number of its last dispatch while it is away, else 0.
    away_seq: u64,
}

/// A held task with its ordering key.
#[derive(Clone, Copy, Debug)]
struct Entry {
    key: u64,
    seq: u64,
    v: u64,
    vd: u64,
    task: QueuedTask,
}

crate::ordered::ordered_by_key_then_arrival!(Entry, key);

/// Earliest eligible virtual deadline first.
#[derive(Debug)]
pub struct Eevdf {
    tasks: PidMap<TaskState>,
    /// Held tasks not known to be eligible, by `v`.
    waiting: BinaryHeap<Reverse<Entry>>,
    /// Held eligible tasks, by `vd`.
    eligible: BinaryHeap<Reverse<Entry>>,
    /// Dispatched tasks that count in `V`: (pid, dispatch seq, when), oldest first.
    away: VecDeque<(i32, u64, u64)>,
    /// Σ weight over the tasks counted in `V`.
    sum_w: u128,
    /// Σ weight × v over the tasks counted in `V`.
    sum_wv: u128,
    /// `V` as last computed (used while nothing counts).
    v_last: u64,
    seq: u64,
    slice_ns: u64,
    slice_min_ns: u64,
}

impl Eevdf {
    /// An empty policy; its tables are allocated here, once.
    pub fn new(cfg: &PolicyConfig) -> Self {
        Self {
            tasks: PidMap::with_capacity(TASK_TABLE_CAPACITY),
            waiting: BinaryHeap::with_capacity(4096),
            eligible: BinaryHeap::with_capacity(4096),
            away: VecDeque::with_capacity(AWAY_CAPACITY),
            sum_w: 0,
            sum_wv: 0,
            v_last: 0,
            seq: 0,
            slice_ns: cfg.slice_ns,
            slice_min_ns: cfg.slice_min_ns,
        }
    }

    /// The request (slice) on a machine of `nr_cpus` CPUs: the kernel's base
    /// slice, within `slice_min..=slice`.
    pub fn request_ns(&self, nr_cpus: u32) -> u64 {
        let factor = 1 + u64::from(nr_cpus.clamp(1, 8).ilog2());
        (BASE_SLICE_NS * factor).clamp(self.slice_min_ns, self.slice_ns.max(self.slice_min_ns))
    }

    /// `V`: the weighted average virtual runtime of the runnable tasks.
    pub fn avg_vruntime(&self) -> u64 {
        self.sum_wv.checked_div(self.sum_w).map_or(self.v_last, |v| v as u64)
    }

    /// The virtual runtime the policy keeps for `pid`, if it remembers it.
    pub fn vruntime_of(&self, pid: i32) -> Option<u64> {
        self.tasks.get(pid).map(|s| s.v)
    }

    fn uncount(&mut self, counted: Option<(u64, u64)>) {
        if let Some((w, v)) = counted {
            self.sum_w -= u128::from(w);
            self.sum_wv -= u128::from(w) * u128::from(v);
        }
    }

    fn count(&mut self, w: u64, v: u64) -> Option<(u64, u64)> {
        self.sum_w += u128::from(w);
        self.sum_wv += u128::from(w) * u128::from(v);
        Some((w, v))
    }

    /// Stops counting dispatched tasks that have been away for [`AWAY_NS`]
    /// (or that no longer fit the tracking ring).
    fn expire_away(&mut self, now_ns: u64, make_room: bool) {
        while let Some(&(pid, seq, at)) = self.away.front() {
            let full = make_room && self.away.len() >= AWAY_CAPACITY;
            if !full && at.saturating_add(AWAY_NS) > now_ns {
                break;
            }
            self.away.pop_front();
            let Some(st) = self.tasks.get_mut(pid) else { continue };
            if st.away_seq == seq {
                st.away_seq = 0;
                let counted = st.counted.take();
                self.uncount(counted);
            }
        }
        if self.sum_w == 0 {
            // Keep `V` where it was when the last task stopped counting.
            self.sum_wv = 0;
        }
    }

    /// Applies rules 4 and 5 to `task`, which arrives at `now_ns`, and returns (v, vd, new).
    fn place(&mut self, task: &QueuedTask, nr_cpus: u32, now_ns: u64) -> (u64, u64, bool) {
        let w = task.weight.max(1);
        let request_v = self.request_ns(nr_cpus).saturating_mul(WEIGHT_DEFAULT) / w;
        let (mut st, evicted, known) = match self.tasks.entry(task.pid) {
            Found::Old(st) => {
                let known = st.deadline_sent == task.vtime && task.vtime != 0;
                (*st, None, known)
            }
            Found::New(st, evicted) => (*st, evicted, false),
        };
        if let Some((_, gone)) = evicted {
            self.uncount(gone.counted);
        }
        let v_sys = self.avg_vruntime();
        self.uncount(st.counted.take());
        // `V` of the others: where this task is placed.
        let v_avg = self.avg_vruntime();
        let new = !known;
        if new {
            st = TaskState { v: v_avg, ..TaskState::default() };
        } else {
            if task.stop_ts != st.charged_stop_ts {
                st.v = st.v.saturating_add(task.last_run_ns().saturating_mul(WEIGHT_DEFAULT) / w);
            }
            if task.is_wakeup() {
                let limit = i128::from((2 * self.request_ns(nr_cpus)).max(1_000_000) * WEIGHT_DEFAULT / w);
                let v_stop = interpolate((st.pick_ns, st.pick_v), (now_ns, v_sys), task.stop_ts);
                let mut lag = (i128::from(v_stop) - i128::from(st.v)).clamp(-limit, limit);
                if self.sum_w > 0 {
                    lag = lag * (self.sum_w as i128 + i128::from(w)) / self.sum_w as i128;
                }
                st.v = (i128::from(v_avg) - lag).max(0) as u64;
            }
        }
        st.charged_stop_ts = task.stop_ts;
        st.away_seq = 0;
        st.counted = self.count(w, st.v);
        let vd = st.v.saturating_add(if new { request_v / 2 } else { request_v });
        let v = st.v;
        if let Some(slot) = self.tasks.get_mut(task.pid) {
            *slot = st;
        }
        (v, vd, new)
    }
}

/// The value at `t` of the line through `a` and `b` (time, value), `t`
/// clamped to their interval.
fn interpolate(a: (u64, u64), b: (u64, u64), t: u64) -> u64 {
    let (t0, v0) = a;
    let (t1, v1) = b;
    if t1 <= t0 {
        return v1;
    }
    let t = t.clamp(t0, t1);
    let dv = i128::from(v1) - i128::from(v0);
    (i128::from(v0) + dv * i128::from(t - t0) / i128::from(t1 - t0)).max(0) as u64
}

impl Policy for Eevdf {
    fn name(&self) -> &str {
        "eevdf"
    }

    fn enqueue(&mut self, task: &QueuedTask, ctx: &SchedContext<'_>) {
        self.expire_away(ctx.now_ns, false);
        let (v, vd, _) = self.place(task, ctx.cpus.nr_cpus(), ctx.now_ns);
        self.seq += 1;
        self.waiting.push(Reverse(Entry { key: v, seq: self.seq, v, vd, task: *task }));
    }

    fn dispatch(&mut self, ctx: &SchedContext<'_>) -> Option<Decision> {
        let v_avg = self.avg_vruntime();
        self.v_last = v_avg;
        while let Some(Reverse(e)) = self.waiting.peek() {
            if e.v > v_avg {
                break;
            }
            let Some(Reverse(e)) = self.waiting.pop() else { break };
            self.eligible.push(Reverse(Entry { key: e.vd, ..e }));
        }
        // Nothing held is eligible (the tasks behind `V` are away): the one
        // least ahead goes first.
        let Reverse(e) = self.eligible.pop().or_else(|| self.waiting.pop())?;
        self.expire_away(ctx.now_ns, true);
        self.seq += 1;
        let seq = self.seq;
        if let Some(st) = self.tasks.get_mut(e.task.pid) {
            st.pick_v = v_avg;
            st.pick_ns = ctx.now_ns;
            st.deadline_sent = e.vd;
            if st.counted.is_some() {
                st.away_seq = seq;
                self.away.push_back((e.task.pid, seq, ctx.now_ns));
            }
        }
        let slice = weighted_slice(self.slice_ns, self.slice_min_ns, e.task.weight);
        Some(e.task.decide(prev_cpu_if_idle(&e.task, ctx), slice, e.vd))
    }

    fn pending(&self) -> usize {
        self.waiting.len() + self.eligible.len()
    }

    fn take_all(&mut self, out: &mut Vec<QueuedTask>) {
        while let Some(Reverse(e)) = self.eligible.pop() {
            out.push(e.task);
        }
        while let Some(Reverse(e)) = self.waiting.pop() {
            out.push(e.task);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use scheduler_core::{task::ENQ_WAKEUP, CpuView, Topology};

    use super::*;

    const MS: u64 = 1_000_000;
    /// The request on 8 CPUs.
    const R: u64 = 3 * MS;

    fn busy(n: u32) -> CpuView {
        let mut v = CpuView::new(Topology::uniform(n, 1, n));
        for c in 0..n {
            v.set(c, false, 1, 1);
        }
        v
    }

    fn ctx(cpus: &CpuView, now_ns: u64) -> SchedContext<'_> {
        SchedContext { now_ns, cpus }
    }

    /// A new task whose weight is `pct` % of a nice-0 task's.
    fn new_task(pid: i32, pct: u64) -> QueuedTask {
        let mut t = QueuedTask::new(pid, 0);
        t.weight = pct * WEIGHT_DEFAULT / 100;
        t
    }

    /// `d` for `t` coming back: it ran `run` ns, ending at `stop`, vtime echoed.
    fn back(t: &QueuedTask, d: &Decision, run: u64, stop: u64, wakeup: bool) -> QueuedTask {
        let mut t = *t;
        t.vtime = d.vtime;
        t.start_ts = stop - run;
        t.stop_ts = stop;
        t.generation += 1;
        t.enq_flags = if wakeup { ENQ_WAKEUP } else { 0 };
        t
    }

    /// The request is the kernel's base slice for the CPU count, within the configured bounds.
    #[test]
    fn request_follows_the_kernel_base_slice() {
        let p = Eevdf::new(&PolicyConfig::default());
        assert_eq!(p.request_ns(1), 750_000.max(MS), "at least slice_min");
        assert_eq!(p.request_ns(2), 1_500_000);
        assert_eq!(p.request_ns(8), R);
        assert_eq!(p.request_ns(64), R, "the factor stops at 8 CPUs");
        let tight = Eevdf::new(&PolicyConfig { slice_ns: 2 * MS, slice_min_ns: MS, nr_cpus: 0 });
        assert_eq!(tight.request_ns(8), 2 * MS);
    }

    /// A new task starts at V with half a request: deadline V + R/2 (scaled by weight).
    #[test]
    fn new_task_starts_at_average_with_half_request() {
        let cpus = busy(8);
        let mut p = Eevdf::new(&PolicyConfig::default());
        p.enqueue(&new_task(1, 100), &ctx(&cpus, 0));
        let d = p.dispatch(&ctx(&cpus, 0)).unwrap();
        assert_eq!(d.vtime, R / 2);
        assert_eq!(d.slice_ns, 5 * PolicyConfig::default().slice_ns, "a nice-0 task's slice: 5 slices");
        // It comes back after 10 ms of running: v = 10 ms, V = 10 ms.
        p.enqueue(&back(&new_task(1, 100), &d, 10 * MS, 10 * MS, false), &ctx(&cpus, 10 * MS));
        assert_eq!(p.avg_vruntime(), 10 * MS);
        p.enqueue(&new_task(2, 200), &ctx(&cpus, 10 * MS));
        assert_eq!(p.vruntime_of(2), Some(10 * MS));
        let ds: Vec<_> = std::iter::from_fn(|| p.dispatch(&ctx(&cpus, 10 * MS))).collect();
        let d2 = ds.iter().find(|d| d.pid == 2).unwrap();
        assert_eq!(d2.vtime, 10 * MS + R * 100 / 200 / 2, "half a request, scaled by weight 200");
    }

    /// V is the weight-weighted average of the counted tasks' vruntimes.
    #[test]
    fn average_is_weighted() {
        let cpus = busy(8);
        let mut p = Eevdf::new(&PolicyConfig::default());
        let c = ctx(&cpus, 0);
        p.enqueue(&new_task(1, 100), &c);
        p.enqueue(&new_task(2, 300), &c);
        let ds: Vec<_> = std::iter::from_fn(|| p.dispatch(&c)).collect();
        // Task 1 runs 8 ms (v = 8 ms), task 2 runs 6 ms (v = 2 ms).
        let t1 = back(&new_task(1, 100), ds.iter().find(|d| d.pid == 1).unwrap(), 8 * MS, 8 * MS, false);
        let t2 = back(&new_task(2, 300), ds.iter().find(|d| d.pid == 2).unwrap(), 6 * MS, 8 * MS, false);
        p.enqueue(&t1, &ctx(&cpus, 8 * MS));
        p.enqueue(&t2, &ctx(&cpus, 8 * MS));
        assert_eq!(p.vruntime_of(1), Some(8 * MS));
        assert_eq!(p.vruntime_of(2), Some(2 * MS));
        assert_eq!(p.avg_vruntime(), (100 * 8 * MS + 300 * 2 * MS) / 400);
    }

    /// Of two held tasks, an ineligible one (v > V) waits although its
    /// deadline is earlier; among eligible ones the earliest deadline goes first.
    #[test]
    fn eligible_before_earlier_deadline() {
        let cpus = busy(8);
        let mut p = Eevdf::new(&PolicyConfig::default());
        let c = ctx(&cpus, 0);
        // Heavy task 1 (weight 1000) and light tasks 2, 3 (weight 100) start at V = 0.
        for (pid, w) in [(1, 1000), (2, 100), (3, 100)] {
            p.enqueue(&new_task(pid, w), &c);
        }
        let ds: Vec<_> = std::iter::from_fn(|| p.dispatch(&c)).collect();
        assert_eq!(ds.iter().map(|d| d.pid).collect::<Vec<_>>(), vec![1, 2, 3], "all eligible: by deadline");
        // Task 1 ran 20 ms (v = 2 ms), task 2 ran 1 ms (v = 1 ms), task 3 none (v = 0).
        let now = 20 * MS;
        let t1 = back(&new_task(1, 1000), &ds[0], 20 * MS, now, false);
        let t2 = back(&new_task(2, 100), &ds[1], MS, now, false);
        let mut t3 = back(&new_task(3, 100), &ds[2], 0, now, false);
        t3.start_ts = now;
        for t in [&t1, &t2, &t3] {
            p.enqueue(t, &ctx(&cpus, now));
        }
        // V = (1000·2 + 100·1 + 100·0) / 1200 ms ≈ 1.75 ms: task 1 (v = 2 ms) is not eligible.
        // Its deadline (2 + 0.3 ms) is earlier than task 2's (1 + 3 ms), yet 2 and 3 go first.
        assert!(p.avg_vruntime() < 2 * MS);
        let order: Vec<_> = std::iter::from_fn(|| p.dispatch(&ctx(&cpus, now))).collect();
        assert_eq!(order.iter().map(|d| d.pid).collect::<Vec<_>>(), vec![3, 2, 1]);
        assert!(order[2].vtime < order[1].vtime, "task 1 had the earliest deadline");
    }

    /// A task that slept keeps its lag: one that got less than its share is
    /// placed before V, one that got more after V; requeued tasks keep v.
    #[test]
    fn wakeup_keeps_lag_requeue_keeps_vruntime() {
        let cpus = busy(8);
        let mut p = Eevdf::new(&PolicyConfig::default());
        let c = ctx(&cpus, 0);
        for pid in 1..=3 {
            p.enqueue(&new_task(pid, 100), &c);
        }
        let ds: Vec<_> = std::iter::from_fn(|| p.dispatch(&c)).collect();
        // Task 1 ran 4 ms then slept; task 2 ran 0.5 ms then slept; task 3 ran 2 ms and was preempted.
        let t3 = back(&new_task(3, 100), &ds[2], 2 * MS, 4 * MS, false);
        p.enqueue(&t3, &ctx(&cpus, 4 * MS));
        assert_eq!(p.vruntime_of(3), Some(2 * MS), "requeue: v is charged, not re-placed");
        let t2 = back(&new_task(2, 100), &ds[1], MS / 2, 4 * MS, true);
        p.enqueue(&t2, &ctx(&cpus, 5 * MS));
        assert!(p.vruntime_of(2).unwrap() < p.avg_vruntime(), "positive lag: placed before V");
        let t1 = back(&new_task(1, 100), &ds[0], 4 * MS, 4 * MS, true);
        p.enqueue(&t1, &ctx(&cpus, 5 * MS));
        assert!(p.vruntime_of(1).unwrap() > p.avg_vruntime(), "negative lag: placed after V");
    }

    /// `V` at a run's end is interpolated between the pick and the return.
    #[test]
    fn interpolation() {
        assert_eq!(interpolate((0, 0), (10, 100), 4), 40);
        assert_eq!(interpolate((0, 100), (10, 0), 4), 60);
        assert_eq!(interpolate((5, 7), (5, 9), 4), 9, "no interval: the later value");
        assert_eq!(interpolate((0, 0), (10, 100), 20), 100, "clamped to the interval");
    }

    /// Lag is clamped to ±max(2 R, 1 ms) scaled by weight, before load scaling.
    #[test]
    fn lag_is_clamped() {
        let cpus = busy(8);
        let mut p = Eevdf::new(&PolicyConfig::default());
        p.enqueue(&new_task(1, 100), &ctx(&cpus, 0));
        let d = p.dispatch(&ctx(&cpus, 0)).unwrap();
        // It ran 1 s without anyone else: lag -1 s, clamped to -2 R; nothing else counts (W = 0 then).
        let t = back(&new_task(1, 100), &d, 1_000 * MS, 1_000 * MS, true);
        p.enqueue(&t, &ctx(&cpus, 1_001 * MS));
        assert_eq!(p.vruntime_of(1), Some(2 * R), "V = 0 (from the pick), v = V + 2 R");
    }

    /// A vtime that is not the deadline this policy sent marks the state as
    /// someone else's: the task is placed as new.
    #[test]
    fn foreign_vtime_means_new_task() {
        let cpus = busy(8);
        let mut p = Eevdf::new(&PolicyConfig::default());
        p.enqueue(&new_task(1, 100), &ctx(&cpus, 0));
        p.enqueue(&new_task(2, 100), &ctx(&cpus, 0));
        let ds: Vec<_> = std::iter::from_fn(|| p.dispatch(&ctx(&cpus, 0))).collect();
        p.enqueue(&back(&new_task(2, 100), &ds[1], 30 * MS, 30 * MS, false), &ctx(&cpus, 30 * MS));
        assert_eq!(p.vruntime_of(2), Some(30 * MS));
        let mut reused = back(&new_task(1, 100), &ds[0], 50 * MS, 50 * MS, false);
        reused.vtime = 123;
        p.enqueue(&reused, &ctx(&cpus, 50 * MS));
        assert_eq!(p.vruntime_of(1), Some(30 * MS), "placed at V (task 2's v), not charged 50 ms");
    }

    /// A dispatched task that stays away past AWAY_NS stops counting in V.
    #[test]
    fn away_tasks_stop_counting() {
        let cpus = busy(8);
        let mut p = Eevdf::new(&PolicyConfig::default());
        p.enqueue(&new_task(1, 100), &ctx(&cpus, 0));
        let d1 = p.dispatch(&ctx(&cpus, 0)).unwrap();
        p.enqueue(&back(&new_task(1, 100), &d1, 40 * MS, 40 * MS, false), &ctx(&cpus, 40 * MS));
        p.dispatch(&ctx(&cpus, 40 * MS)).unwrap();
        // Task 1 (v = 40 ms) is away; a new task arrives before AWAY_NS: V counts task 1.
        p.enqueue(&new_task(2, 100), &ctx(&cpus, 41 * MS));
        assert_eq!(p.vruntime_of(2), Some(40 * MS));
        p.dispatch(&ctx(&cpus, 41 * MS)).unwrap();
        assert_eq!(p.avg_vruntime(), 40 * MS);
        // Long after, both are away for good: nothing counts and V stays where it was.
        p.enqueue(&new_task(3, 100), &ctx(&cpus, 40 * MS + AWAY_NS + 2 * MS));
        assert_eq!(p.vruntime_of(3), Some(40 * MS));
        assert_eq!(p.sum_w, u128::from(WEIGHT_DEFAULT), "only task 3 counts");
    }

    /// Two hogs of weights 100 and 300 sharing one CPU, driven by hand: CPU
    /// time splits 1:3 within 2 %.
    #[test]
    fn shares_follow_weights() {
        let cpus = busy(1);
        let mut p = Eevdf::new(&PolicyConfig::default());
        let tasks = [new_task(1, 100), new_task(2, 300)];
        let mut now = 0;
        for t in &tasks {
            p.enqueue(t, &ctx(&cpus, now));
        }
        let mut cpu_ns = [0u64; 2];
        for _ in 0..4000 {
            // One CPU: the pick runs its slice and comes back; the other stays held.
            let d = p.dispatch(&ctx(&cpus, now)).unwrap();
            let i = (d.pid - 1) as usize;
            now += d.slice_ns;
            cpu_ns[i] += d.slice_ns;
            p.enqueue(&back(&tasks[i], &d, d.slice_ns, now, false), &ctx(&cpus, now));
        }
        let ratio = cpu_ns[1] as f64 / cpu_ns[0] as f64;
        assert!((ratio - 3.0).abs() < 0.06, "ratio {ratio}");
    }

    /// Handing over returns every held task and empties the policy.
    #[test]
    fn take_all_empties() {
        let cpus = busy(2);
        let mut p = Eevdf::new(&PolicyConfig::default());
        for pid in 1..=5 {
            p.enqueue(&new_task(pid, 100), &ctx(&cpus, 0));
        }
        let mut out = Vec::new();
        p.take_all(&mut out);
        assert_eq!(out.len(), 5);
        assert_eq!(p.pending(), 0);
        assert!(p.dispatch(&ctx(&cpus, 0)).is_none());
    }
}
