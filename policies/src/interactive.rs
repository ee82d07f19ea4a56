//! `interactive`: for games and audio. Tasks that sleep often and run
//! briefly go first, and while such tasks are about, CPU hogs get short
//! slices so that a CPU frees up soon for the next wakeup.
//!
//! The dispatcher cannot preempt a running task for a waking one (a
//! decision goes to a queue, not onto a CPU), so a wakeup waits for the
//! first CPU whose slice ends: keeping periodic tasks on time under CPU
//! hogs means keeping hogs' slices short. The rules:
//!
//! 1. **Bursts.** A task's *burst* is the CPU time it uses from a wakeup to
//!    its next sleep (the dispatcher reports the CPU time since the last
//!    wakeup, and the last run). The policy keeps an average per task
//!    (`avg = (3 avg + burst) / 4`; a new task starts at half the threshold).
//! 2. **Interactive** means: enqueued by a wakeup, with an average burst of
//!    at most [`INTERACTIVE_BURST_NS`]. Such a task is ordered by
//!    `clock - 2 slice + avg_burst` (shortest bursts first, ahead of every
//!    batch task enqueued at the same time) and gets a slice of twice its
//!    average burst, within `slice_min..=slice`; if it runs longer it is
//!    preempted and comes back as a batch task.
//! 3. **Batch** is everything else, ordered as `deadline` does (weighted
//!    virtual runtime plus runtime since the last sleep, with the same
//!    global clock). While an interactive wakeup was seen in the last
//!    [`INTERACTIVE_WINDOW_NS`], a batch task's slice is `slice_min` scaled
//!    by weight / 100, within `slice_min / 4 ..= 2 slice_min` (a periodic
//!    task then waits about that long at most for a CPU, and weights still
//!    act on the shares); else `deadline`'s slice.
//!
//! **Bounded wait.** Every key is at least `clock - 2 slice`, and the clock
//! grows with every run charged. A waiting task's key is fixed, so once runs
//! worth `key - clock + 2 slice` of virtual time (at most `103 slice` in
//! weight-100 units) have been charged, nothing new sorts ahead of it — the
//! bound of `deadline`, two slices longer.

use scheduler_core::{task::WEIGHT_DEFAULT, Decision, Policy, QueuedTask, SchedContext};

use crate::{
    deadline::Deadline,
    pid_map::{Found, PidMap},
    placement::prev_cpu_if_idle,
    PolicyConfig,
};

/// Longest average burst of an interactive task (ns).
pub const INTERACTIVE_BURST_NS: u64 = 2_000_000;
/// How long batch slices stay short after an interactive wakeup (ns).
pub const INTERACTIVE_WINDOW_NS: u64 = 100_000_000;
/// Tasks remembered before the least recently seen are forgotten.
const TABLE_CAPACITY: usize = 16_384;

/// What the policy remembers of a task.
#[derive(Clone, Copy, Debug, Default)]
struct Burst {
    /// Average burst (ns).
    avg_ns: u64,
    /// CPU time since its last wakeup, as of its last enqueue (ns).
    so_far_ns: u64,
}

/// A held task: (key, arrival) and the decision's slice.
#[derive(Clone, Copy, Debug)]
struct Entry {
    key: u64,
    seq: u64,
    slice_ns: u64,
    task: QueuedTask,
}

crate::ordered::ordered_by_key_then_arrival!(Entry, key);

/// Favours tasks that sleep often and run briefly.
#[derive(Debug)]
pub struct Interactive {
    /// The batch order and the global clock (`deadline`'s rules).
    batch: Deadline,
    bursts: PidMap<Burst>,
    queue: std::collections::BinaryHeap<std::cmp::Reverse<Entry>>,
    /// When the last interactive wakeup was seen (ns), if ever.
    last_interactive_ns: Option<u64>,
    seq: u64,
    slice_ns: u64,
    slice_min_ns: u64,
}

impl Interactive {
    /// An empty policy; its tables are allocated here, once.
    pub fn new(cfg: &PolicyConfig) -> Self {
        Self {
            batch: Deadline::new(cfg),
            bursts: PidMap::with_capacity(TABLE_CAPACITY),
            queue: std::collections::BinaryHeap::with_capacity(4096),
            last_interactive_ns: None,
            seq: 0,
            slice_ns: cfg.slice_ns,
            slice_min_ns: cfg.slice_min_ns,
        }
    }

    /// Updates `task`'s burst average (rule 1); returns it.
    fn update_burst(&mut self, task: &QueuedTask) -> u64 {
        let (b, first_sight) = match self.bursts.entry(task.pid) {
            Found::Old(b) => (b, false),
            Found::New(b, _) => (b, true),
        };
        if first_sight {
            b.avg_ns = INTERACTIVE_BURST_NS / 2;
        } else if task.is_wakeup() {
            let burst = b.so_far_ns.saturating_add(task.last_run_ns());
            b.avg_ns = ((3 * b.avg_ns).saturating_add(burst) / 4).max(1);
        }
        b.so_far_ns = if task.is_wakeup() { 0 } else { task.exec_runtime };
        b.avg_ns
    }

    /// Whether `task`, whose average burst is `avg_burst`, counts as
    /// interactive now (rule 2).
    pub fn is_interactive(task: &QueuedTask, avg_burst: u64) -> bool {
        task.is_wakeup() && avg_burst <= INTERACTIVE_BURST_NS
    }

    /// Whether batch slices are short at `now_ns` (rule 3).
    pub fn latency_mode(&self, now_ns: u64) -> bool {
        self.last_interactive_ns.is_some_and(|t| now_ns.saturating_sub(t) < INTERACTIVE_WINDOW_NS)
    }

    /// A batch task's slice while interactive tasks are about: `slice_min`
    /// scaled by weight / 100, within `slice_min / 4 ..= 2 slice_min`.
    pub fn latency_slice(&self, weight: u64) -> u64 {
        let s = self.slice_min_ns.saturating_mul(weight) / WEIGHT_DEFAULT;
        s.clamp(self.slice_min_ns / 4, self.slice_min_ns.saturating_mul(2))
    }

    /// The average burst the policy keeps for `pid`, if it remembers it.
    pub fn avg_burst_of(&self, pid: i32) -> Option<u64> {
        self.bursts.get(pid).map(|b| b.avg_ns)
    }
}

impl Policy for Interactive {
    fn name(&self) -> &str {
        "interactive"
    }

    fn enqueue(&mut self, task: &QueuedTask, ctx: &SchedContext<'_>) {
        let avg_burst = self.update_burst(task);
        let (vtime, deadline) = self.batch.charge(task);
        let mut t = *task;
        let (key, slice_ns) = if Self::is_interactive(task, avg_burst) {
            self.last_interactive_ns = Some(ctx.now_ns);
            let burst_v = avg_burst.saturating_mul(WEIGHT_DEFAULT) / task.weight.max(1);
            let key = self.batch.vruntime_now().saturating_sub(2 * self.slice_ns).saturating_add(burst_v);
            (key, (2 * avg_burst).clamp(self.slice_min_ns, self.slice_ns.max(self.slice_min_ns)))
        } else {
            t.vtime = vtime;
            (deadline, 0)
        };
        self.seq += 1;
        self.queue.push(std::cmp::Reverse(Entry { key, seq: self.seq, slice_ns, task: t }));
    }

    fn dispatch(&mut self, ctx: &SchedContext<'_>) -> Option<Decision> {
        let std::cmp::Reverse(e) = self.queue.pop()?;
        let slice = match e.slice_ns {
            0 if self.latency_mode(ctx.now_ns) => self.latency_slice(e.task.weight),
            0 => self.batch.slice_for(self.queue.len(), ctx.cpus.nr_cpus(), e.task.weight),
            s => s,
        };
        Some(e.task.decide(prev_cpu_if_idle(&e.task, ctx), slice, e.key))
    }

    fn pending(&self) -> usize {
        self.queue.len()
    }

    fn take_all(&mut self, out: &mut Vec<QueuedTask>) {
        while let Some(std::cmp::Reverse(e)) = self.queue.pop() {
            let mut t = e.task;
            t.start_ts = t.stop_ts;
            out.push(t);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use scheduler_core::{task::ENQ_WAKEUP, CpuView, Topology};

    use super::*;

    const MS: u64 = 1_000_000;
    const SLICE: u64 = 20 * MS;

    fn cfg() -> PolicyConfig {
        PolicyConfig { slice_ns: SLICE, slice_min_ns: MS }
    }

    fn busy(n: u32) -> CpuView {
        let mut v = CpuView::new(Topology::uniform(n, 1, n));
        for c in 0..n {
            v.set(c, false, 1, 1);
        }
        v
    }

    /// A task that ran `run` ns (its last run), `exec` ns since it last woke, woken or not.
    fn task(pid: i32, run: u64, exec: u64, wakeup: bool) -> QueuedTask {
        let mut t = QueuedTask::new(pid, 0);
        t.start_ts = 1_000;
        t.stop_ts = 1_000 + run;
        t.exec_runtime = exec;
        t.enq_flags = if wakeup { ENQ_WAKEUP } else { 0 };
        t
    }

    /// Bursts average (3 old + new) / 4; a burst preempted midway adds up
    /// with its last run when the task finally sleeps.
    #[test]
    fn burst_average() {
        let cpus = busy(2);
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        let mut p = Interactive::new(&cfg());
        p.enqueue(&task(1, 0, 0, true), &ctx);
        assert_eq!(p.avg_burst_of(1), Some(INTERACTIVE_BURST_NS / 2), "first sight");
        p.enqueue(&task(1, 200_000, 0, true), &ctx);
        assert_eq!(p.avg_burst_of(1), Some((3 * MS + 200_000) / 4));
        // Preempted after 5 ms (not a wakeup), then runs 1 ms more and sleeps: a 6 ms burst.
        p.enqueue(&task(1, 5 * MS, 5 * MS, false), &ctx);
        let before = p.avg_burst_of(1).unwrap();
        p.enqueue(&task(1, MS, 0, true), &ctx);
        assert_eq!(p.avg_burst_of(1), Some((3 * before + 6 * MS) / 4));
    }

    /// A short-burst wakeup goes before batch tasks queued earlier and gets a
    /// slice of twice its burst; a requeued task is batch even with short bursts.
    #[test]
    fn interactive_wakeups_go_first() {
        let cpus = busy(2);
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        let mut p = Interactive::new(&cfg());
        p.enqueue(&task(10, 5 * MS, 40 * MS, false), &ctx);
        p.enqueue(&task(11, 5 * MS, 40 * MS, false), &ctx);
        p.enqueue(&task(1, 100_000, 0, true), &ctx);
        p.enqueue(&task(2, 100_000, 100_000, false), &ctx);
        let d = p.dispatch(&ctx).unwrap();
        assert_eq!(d.pid, 1);
        let avg = p.avg_burst_of(1).unwrap();
        assert_eq!(d.slice_ns, (2 * avg).max(MS));
        let rest: Vec<_> = std::iter::from_fn(|| p.dispatch(&ctx)).map(|d| d.pid).collect();
        assert_eq!(rest[0], 2, "batch, but it ran least since waking");
        assert_eq!(rest.len(), 3);
    }

    /// A task with long bursts is not interactive even when it wakes up.
    #[test]
    fn long_bursts_are_batch() {
        let cpus = busy(2);
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        let mut p = Interactive::new(&cfg());
        for _ in 0..8 {
            p.enqueue(&task(1, 10 * MS, 0, true), &ctx);
            p.dispatch(&ctx);
        }
        assert!(p.avg_burst_of(1).unwrap() > INTERACTIVE_BURST_NS);
        assert!(!Interactive::is_interactive(&task(1, 10 * MS, 0, true), p.avg_burst_of(1).unwrap()));
        assert!(p.latency_mode(0), "its first wakeups, before the average grew, were interactive");
        let later = 2 * INTERACTIVE_WINDOW_NS;
        p.enqueue(&task(1, 10 * MS, 0, true), &SchedContext { now_ns: later, cpus: &cpus });
        assert!(!p.latency_mode(later), "long bursts do not keep batch slices short");
    }

    /// After an interactive wakeup batch slices are slice_min for the window,
    /// then `deadline`'s again.
    #[test]
    fn batch_slices_shrink_while_interactive_tasks_run() {
        let cpus = busy(4);
        let mut p = Interactive::new(&cfg());
        let at = |now_ns| SchedContext { now_ns, cpus: &cpus };
        p.enqueue(&task(10, 5 * MS, 40 * MS, false), &at(0));
        assert_eq!(p.dispatch(&at(0)).unwrap().slice_ns, SLICE, "no interactive task seen");
        p.enqueue(&task(1, 100_000, 0, true), &at(MS));
        p.dispatch(&at(MS));
        p.enqueue(&task(10, 5 * MS, 40 * MS, false), &at(2 * MS));
        assert_eq!(p.dispatch(&at(2 * MS)).unwrap().slice_ns, MS);
        let later = MS + INTERACTIVE_WINDOW_NS;
        p.enqueue(&task(10, 5 * MS, 40 * MS, false), &at(later));
        assert_eq!(p.dispatch(&at(later)).unwrap().slice_ns, SLICE);
    }

    /// Latency-mode batch slices scale with weight within slice_min/4..=2 slice_min.
    #[test]
    fn latency_slices_scale_with_weight() {
        let p = Interactive::new(&cfg());
        assert_eq!(p.latency_slice(100), MS);
        assert_eq!(p.latency_slice(150), MS * 3 / 2);
        assert_eq!(p.latency_slice(10_000), 2 * MS);
        assert_eq!(p.latency_slice(1), MS / 4);
    }

    /// Interactive keys grow with the clock: a batch task queued long ago
    /// sorts before interactive wakeups that arrive after enough CPU time was charged.
    #[test]
    fn batch_is_not_starved() {
        let cpus = busy(1);
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        let mut p = Interactive::new(&cfg());
        p.enqueue(&task(99, 5 * MS, 40 * MS, false), &ctx);
        let turn = (0..2_000).find(|_| {
            // Interactive task 1 wakes, having run 1 ms.
            p.enqueue(&task(1, MS, 0, true), &ctx);
            p.dispatch(&ctx).is_some_and(|d| d.pid == 99)
        });
        assert!(turn.is_some_and(|i| i > 0), "the batch task's turn: {turn:?}");
    }

    /// Handing over returns every task and marks its last run as charged.
    #[test]
    fn take_all_empties() {
        let cpus = busy(1);
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        let mut p = Interactive::new(&cfg());
        p.enqueue(&task(1, MS, 0, true), &ctx);
        p.enqueue(&task(2, MS, MS, false), &ctx);
        let mut out = Vec::new();
        p.take_all(&mut out);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|t| t.last_run_ns() == 0));
        assert_eq!(p.pending(), 0);
    }
}
