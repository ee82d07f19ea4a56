//! `interactive`: for games and audio. Tasks that sleep often and run
//! briefly go first; CPU time is shared by weight as in `deadline`.
//!
//! A waking task waits in user space until the user scheduler gets a CPU
//! (the dispatcher's preempt kick, or the next tick), then in a queue until
//! its key is the lowest a CPU serves: the tick makes a running task yield
//! as soon as a lower key waits. So what a policy can do for wakeup latency
//! is order: interactive wakeups sort ahead of CPU hogs near the clock (a
//! hog owed CPU, up to five slices behind it, can still sort first). The
//! rules:
//!
//! 1. **Bursts.** A task's *burst* is the CPU time it uses from a wakeup to
//!    its next sleep (the dispatcher reports the CPU time since the last
//!    wakeup, and the last run). The policy keeps an average per task
//!    (`avg = (3 avg + burst) / 4`; a new task starts at half the threshold).
//! 2. **Interactive** means: enqueued by a wakeup, with an average burst of
//!    at most [`INTERACTIVE_BURST_NS`]. Such a task's key is its weighted
//!    virtual runtime `v` (`deadline`'s, see [`Deadline`]) moved two slices
//!    earlier, plus its average burst weighted: `v - 2 slice + avg × 1024 /
//!    weight` — ahead of every batch task within two slices of it in
//!    virtual time, shortest (weighted) bursts first. Its slice is twice its average burst scaled
//!    by weight / 1024, within `slice_min..=slice`; if it runs longer it is
//!    preempted and comes back as a batch task. Its runs are charged to `v`
//!    as any other, so a task that wakes often keeps its share, not more.
//! 3. **Batch** is everything else: `deadline`'s key and slice.
//! 4. **Big and little cores.** On a hybrid machine (the topology has
//!    little cores, [`Topology::is_hybrid`](scheduler_core::Topology::is_hybrid))
//!    an interactive wakeup runs where it finishes soonest, and batch work
//!    keeps out of its way:
//!    - an interactive task goes to its previous CPU if that is a big core,
//!      idle with an empty queue; else to an idle big core with an empty
//!      queue; else, if its previous CPU is a busy little core, to the queue
//!      of the first big core with an empty queue whose running task this
//!      policy last queued as batch (rule 3): this task's key
//!      is lower, so that task yields at its next tick once it has run
//!      `slice_min` (a busy big previous CPU is left to the dispatcher's
//!      preempt kick, which runs the user scheduler there, after which that
//!      CPU takes the shared queue's lowest key: the task goes there, as on
//!      any machine);
//!    - a batch task goes to its previous CPU if that is a little core, idle
//!      with an empty queue; else to an idle little core with an empty queue;
//!    - otherwise, and for a task not allowed on every CPU when the choice
//!      is another CPU than its previous one, placement is as on any machine
//!      (below).
//!
//!    Each free CPU (or displaceable big core) is given one task per
//!    engine step (`placement::StepClaims`: the view of the CPUs is
//!    refreshed once a step). Keys and slices do not change: the rule only
//!    picks the queue.
//!    On a machine without little cores, and with
//!    [`Interactive::prefer_big_cores`] off, placement is the same as
//!    `deadline`'s: the previous CPU if idle with an empty queue, else the
//!    shared queue (`placement::prev_cpu_if_idle`). The wakeups the
//!    dispatcher places itself (an idle CPU found at wakeup, with empty
//!    queues) never reach the policy; the kernel's choice
//!    (`scx_bpf_select_cpu_dfl`) ignores capacity. The simulator shows the
//!    effect (`policies/tests/hybrid.rs`).
//!
//! 5. **The fast path.** A task the dispatcher's statistics show to be
//!    latency-critical (short bursts, mostly asleep, not niced down, woken
//!    mostly by interrupts: [`crate::latency`]) is granted the dispatcher's wakeup fast path: its
//!    wakeups are placed at once, on an idle CPU or by preempting a running
//!    task, without waiting for this policy, until it overruns its budget twice in a row.
//!    `deadline` grants by the same rule. On a hybrid machine, where rule
//!    4 places them, the grant names a big core as the preferred CPU (the
//!    task's previous CPU if big, else one picked by its pid), which the
//!    dispatcher takes first when idle and preempts first; its search for
//!    another CPU ignores capacity. In the simulator (6 hogs, 2 big and 2
//!    little CPUs, `policies/tests/hybrid.rs`) a periodic task's big-core
//!    share was 0.76–0.81 with the preference, 0.26–0.42 with grants
//!    without it and 0.86–0.89 without the fast path, which it beat on
//!    iterations (451 against 421–424) and wait p99 (µs against ms). With
//!    rule 4 off, no grant there (the comparisons keep their baseline).
//!
//! (Until the dispatcher's tick made running tasks yield to lower keys,
//! this policy also shortened hogs' slices while interactive tasks were
//! about, so that CPUs freed up sooner; slices now end at ticks and a lower
//! key preempts at the next tick anyway, and the short slices only cost
//! the hogs their weighted shares — a CPU whose slice ends takes whatever
//! waits.)
//!
//! **Bounded wait.** Keys differ from `deadline`'s only for interactive
//! wakeups, which sort at most `2 slice` (plus nothing: their burst term is
//! at least 0) before the lowest key `deadline` could give them; `v` itself
//! stays within `deadline`'s window around the clock. So `deadline`'s
//! bound holds with the window widened by `2 slice`, and each interactive
//! wakeup can pass a waiting task by at most its slice of CPU (plus a tick)
//! before it is charged and becomes batch or sleeps. (This follows
//! `deadline`'s first, coarser sketch, which `tests/policy_bounds.rs`
//! checks for this policy; `deadline`'s docs now hold a full proof, not
//! re-derived here.) Rule 4 can queue an interactive wakeup on a busy big
//! core's own queue instead of the shared one: it waits for that CPU alone,
//! at the latest until the running task's slice ends (at a tick; sooner,
//! at the first tick after it has run `slice_min`, when its key advanced
//! by its run passes this task's), and then that CPU serves its own queue
//! and the shared one in one vtime order, so the argument above holds with
//! one slice more. The cost shows in the simulator: on 2 big and 2 little
//! cores with 6 hogs, the periodic task's p99 wait grows from one tick to
//! about two in one seed of three, while its CPU time per burst and its
//! iterations improve in all (docs/policies.md, "Hybrid machines").

use scheduler_core::{task::WEIGHT_DEFAULT, Decision, Policy, QueuedTask, SchedContext};

use crate::{
    deadline::Deadline,
    pid_map::{Found, PidMap, TASK_TABLE_CAPACITY},
    placement::{hybrid_placement, prev_cpu_if_idle, Prefer, StepClaims},
    vclock::weighted,
    PolicyConfig,
};

/// Longest average burst of an interactive task (ns).
pub const INTERACTIVE_BURST_NS: u64 = 2_000_000;

/// What the policy remembers of a task.
#[derive(Clone, Copy, Debug, Default)]
struct Burst {
    /// Average burst (ns).
    avg_ns: u64,
    /// CPU time since its last wakeup, as of its last enqueue (ns).
    so_far_ns: u64,
    /// Whether its last enqueue was batch (rule 3), for rule 4.
    batch: bool,
}

/// A held task: (key, arrival) and the decision's slice.
#[derive(Clone, Copy, Debug)]
struct Entry {
    key: u64,
    seq: u64,
    slice_ns: u64,
    /// Interactive (rule 2) when enqueued: placed by rule 4 as such.
    interactive: bool,
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
    seq: u64,
    slice_ns: u64,
    slice_min_ns: u64,
    /// Rule 4 on a hybrid machine.
    prefer_big_cores: bool,
    /// The CPUs rule 4 gave a task in this engine step.
    claims: StepClaims,
}

impl Interactive {
    /// An empty policy; its tables are allocated here, once.
    pub fn new(cfg: &PolicyConfig) -> Self {
        Self {
            batch: Deadline::new(cfg),
            bursts: PidMap::with_capacity(TASK_TABLE_CAPACITY),
            queue: std::collections::BinaryHeap::with_capacity(4096),
            seq: 0,
            slice_ns: cfg.slice_ns,
            slice_min_ns: cfg.slice_min_ns,
            prefer_big_cores: true,
            claims: StepClaims::default(),
        }
    }

    /// With `on` false, rule 4 is off: placement ignores big and little
    /// cores on a hybrid machine too (on by default; for comparisons).
    pub fn prefer_big_cores(mut self, on: bool) -> Self {
        self.prefer_big_cores = on;
        self
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

    /// The slice of an interactive task of `weight` whose average burst is
    /// `avg_burst` (rule 2).
    pub fn interactive_slice(&self, avg_burst: u64, weight: u64) -> u64 {
        let s = u128::from(2 * avg_burst) * u128::from(weight) / u128::from(WEIGHT_DEFAULT);
        (s.min(u128::from(u64::MAX)) as u64).clamp(self.slice_min_ns, self.slice_ns.max(self.slice_min_ns))
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

    fn enqueue(&mut self, task: &QueuedTask, _ctx: &SchedContext<'_>) {
        let avg_burst = self.update_burst(task);
        let (v, batch_key) = self.batch.charge(task);
        let interactive = Self::is_interactive(task, avg_burst);
        if let Some(b) = self.bursts.get_mut(task.pid) {
            b.batch = !interactive;
        }
        let (key, slice_ns) = if interactive {
            let key = v.saturating_sub(2 * self.slice_ns).saturating_add(weighted(avg_burst, task.weight));
            (key, self.interactive_slice(avg_burst, task.weight))
        } else {
            (batch_key, 0)
        };
        self.seq += 1;
        self.queue.push(std::cmp::Reverse(Entry { key, seq: self.seq, slice_ns, interactive, task: *task }));
    }

    fn dispatch(&mut self, ctx: &SchedContext<'_>) -> Option<Decision> {
        let std::cmp::Reverse(e) = self.queue.pop()?;
        let slice = match e.slice_ns {
            0 => self.batch.slice_for(e.task.weight),
            s => s,
        };
        self.batch.sent(e.task.pid, e.key);
        let target = if self.prefer_big_cores {
            let prefer = if e.interactive { Prefer::Big } else { Prefer::Little };
            let bursts = &self.bursts;
            let batch = |pid: i32| pid > 0 && bursts.get(pid).is_some_and(|b| b.batch);
            hybrid_placement(&e.task, ctx, prefer, batch, &mut self.claims)
        } else {
            prev_cpu_if_idle(&e.task, ctx)
        };
        Some(e.task.decide(target, slice, e.key))
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

    /// The fast path for latency-critical tasks ([`crate::latency`]); on
    /// a hybrid machine, preferring a big core (rule 5), and none with rule
    /// 4 off (the comparisons of `policies/tests/hybrid.rs` keep their
    /// baseline).
    fn fast_path(
        &mut self,
        task: &QueuedTask,
        stats: &scheduler_core::TaskStats,
        ctx: &SchedContext<'_>,
    ) -> Option<scheduler_core::FastGrant> {
        let grant = crate::latency::fast_grant(task, stats, ctx.now_ns)?;
        if !ctx.cpus.is_hybrid() {
            return Some(grant);
        }
        if !self.prefer_big_cores {
            return None;
        }
        // Its previous CPU if big; else a big one picked by its pid, so
        // that tasks on little cores spread over the big ones.
        let big = |c: u32| c < ctx.cpus.nr_cpus() && ctx.cpus.is_big(c);
        let nr_big = (0..ctx.cpus.nr_cpus()).filter(|&c| big(c)).count();
        let spread =
            || (0..ctx.cpus.nr_cpus()).filter(|&c| big(c)).nth(task.pid.unsigned_abs() as usize % nr_big.max(1));
        Some(task.cpu).filter(|&c| big(c)).or_else(spread).map(|c| grant.preferring(c))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use scheduler_core::{task::ENQ_WAKEUP, CpuView, Target, Topology};

    use super::*;

    const MS: u64 = 1_000_000;
    const SLICE: u64 = 20 * MS;

    fn cfg() -> PolicyConfig {
        PolicyConfig { slice_ns: SLICE, slice_min_ns: MS, nr_cpus: 0 }
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

    /// Moves the clock to 240 ms: hog 50 runs 80 ms three times (the clock is
    /// where its last run ended).
    fn warm_up(p: &mut Interactive, cpus: &CpuView) -> u64 {
        let ctx = SchedContext { now_ns: 0, cpus };
        let mut now = 1_000;
        p.enqueue(&task(50, 0, 0, false), &ctx);
        let mut d = p.dispatch(&ctx).unwrap();
        for _ in 0..3 {
            now += 80 * MS;
            let mut t = task(50, 80 * MS, 1_000 * MS, false);
            (t.vtime, t.start_ts, t.stop_ts) = (d.vtime, now - 80 * MS, now);
            p.enqueue(&t, &ctx);
            d = p.dispatch(&ctx).unwrap();
        }
        assert_eq!(p.batch.clock(), 240 * MS);
        now
    }

    /// A short-burst wakeup goes before batch tasks queued earlier and gets a
    /// slice of twice its burst (scaled by weight); a requeued task is batch
    /// even with short bursts.
    #[test]
    fn interactive_wakeups_go_first() {
        let cpus = busy(2);
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        let mut p = Interactive::new(&cfg());
        warm_up(&mut p, &cpus);
        p.enqueue(&task(10, 5 * MS, 40 * MS, false), &ctx);
        p.enqueue(&task(11, 5 * MS, 40 * MS, false), &ctx);
        p.enqueue(&task(1, 100_000, 0, true), &ctx);
        p.enqueue(&task(2, 100_000, 100_000, false), &ctx);
        let d = p.dispatch(&ctx).unwrap();
        assert_eq!(d.pid, 1);
        let avg = p.avg_burst_of(1).unwrap();
        assert_eq!(d.slice_ns, (2 * avg).max(MS));
        assert_eq!(d.vtime, 240 * MS - 2 * SLICE + avg, "v - 2 slices + the average burst");
        let rest: Vec<_> = std::iter::from_fn(|| p.dispatch(&ctx)).map(|d| d.pid).collect();
        assert_eq!(rest[0], 2, "batch, but it ran least since waking");
        assert_eq!(rest.len(), 3);
    }

    /// An interactive task's slice is twice its average burst scaled by
    /// weight / 1024 (a nice-0 task's), within slice_min..=slice.
    #[test]
    fn interactive_slices_scale_with_weight() {
        let p = Interactive::new(&cfg());
        assert_eq!(p.interactive_slice(MS, 1024), 2 * MS);
        assert_eq!(p.interactive_slice(MS, 2048), 4 * MS);
        assert_eq!(p.interactive_slice(MS, 110), MS, "at least slice_min");
        assert_eq!(p.interactive_slice(MS, 102_400), SLICE, "at most slice");
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
    }

    /// Interactive wakeups are charged their runs: a batch task queued
    /// once gets its turn before a task that keeps waking with short bursts
    /// has run more than a few slices ahead of it.
    #[test]
    fn batch_is_not_starved() {
        let cpus = busy(1);
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        let mut p = Interactive::new(&cfg());
        let mut now = warm_up(&mut p, &cpus);
        p.enqueue(&task(99, 5 * MS, 40 * MS, false), &ctx);
        let mut t = task(1, 0, 0, true);
        let turn = (0..2_000).find(|_| {
            // Interactive task 1 wakes, having run 1 ms.
            p.enqueue(&t, &ctx);
            let d = p.dispatch(&ctx).unwrap();
            now += MS;
            (t.vtime, t.start_ts, t.stop_ts) = (d.vtime, now - MS, now);
            d.pid == 99
        });
        assert!(turn.is_some_and(|i| (10..=80).contains(&i)), "the batch task's turn: {turn:?}");
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

    /// 2 big CPUs (0, 1) and 2 little ones (2, 3); `busy` CPUs run `current`.
    fn hybrid(busy: &[(u32, i32)]) -> CpuView {
        let mut v = CpuView::new(Topology::hybrid(4, 1, 4, 2, 512));
        for &(c, pid) in busy {
            v.set(c, false, 0, pid);
        }
        v
    }

    /// The target of `t`'s decision, enqueued alone, in an engine step of
    /// its own.
    fn target_of(p: &mut Interactive, t: &QueuedTask, cpus: &CpuView) -> Target {
        static STEP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let now_ns = STEP.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ctx = SchedContext { now_ns, cpus };
        p.enqueue(t, &ctx);
        p.dispatch(&ctx).unwrap().target
    }

    fn on_cpu(mut t: QueuedTask, cpu: u32) -> QueuedTask {
        t.cpu = cpu;
        t
    }

    /// Rule 4, idle CPUs: an interactive wakeup whose previous CPU is an
    /// idle little one goes to an idle big one; a batch task whose previous
    /// CPU is an idle big one goes to an idle little one. Pinned tasks, the
    /// rule off, and a machine without little cores keep the previous CPU.
    #[test]
    fn hybrid_idle_cores() {
        let cpus = hybrid(&[(0, 70)]);
        let mut p = Interactive::new(&cfg());
        let wakeup = on_cpu(task(1, 100_000, 0, true), 3);
        assert_eq!(target_of(&mut p, &wakeup, &cpus), Target::Cpu(1), "the idle big core");
        let requeued = on_cpu(task(2, 5 * MS, 40 * MS, false), 1);
        assert_eq!(target_of(&mut p, &requeued, &cpus), Target::Cpu(2), "the first idle little core");
        let mut pinned = wakeup;
        pinned.nr_cpus_allowed = 1;
        assert_eq!(target_of(&mut p, &pinned, &cpus), Target::Cpu(3), "pinned: its previous CPU");
        let mut off = Interactive::new(&cfg()).prefer_big_cores(false);
        assert_eq!(target_of(&mut off, &wakeup, &cpus), Target::Cpu(3), "rule off");
        let mut uniform = CpuView::new(Topology::uniform(4, 1, 4));
        uniform.set(0, false, 0, 70);
        assert_eq!(target_of(&mut p, &wakeup, &uniform), Target::Cpu(3), "no little cores");
        assert_eq!(target_of(&mut p, &requeued, &uniform), Target::Cpu(1), "no little cores");
    }

    /// Rule 4 gives each free CPU one task per engine step: the view is the
    /// same for every decision of a step, so without a record of the step's
    /// decisions every batch task went to the first idle little CPU.
    #[test]
    fn hybrid_one_task_per_cpu_and_step() {
        let cpus = hybrid(&[(0, 70), (1, 71)]);
        let mut p = Interactive::new(&cfg());
        let ctx = SchedContext { now_ns: 5, cpus: &cpus };
        for pid in 1..=4 {
            p.enqueue(&on_cpu(task(pid, 5 * MS, 40 * MS, false), 0), &ctx);
        }
        let targets: Vec<_> = std::iter::from_fn(|| p.dispatch(&ctx)).map(|d| d.target).collect();
        assert_eq!(targets, [Target::Cpu(2), Target::Cpu(3), Target::Any, Target::Any]);
        let next = SchedContext { now_ns: 6, cpus: &cpus };
        p.enqueue(&on_cpu(task(5, 5 * MS, 40 * MS, false), 0), &next);
        assert_eq!(p.dispatch(&next).unwrap().target, Target::Cpu(2), "a new step, a new view");
    }

    /// Rule 4, busy CPUs: an interactive wakeup whose previous CPU is a busy
    /// little one goes to the queue of a big CPU running batch work (task
    /// 50, last queued as batch), not one running a task it never saw or
    /// an interactive one; with its previous CPU big, or no batch on a big
    /// CPU, it goes to the shared queue.
    #[test]
    fn hybrid_busy_cores() {
        let mut p = Interactive::new(&cfg());
        let ctx_cpus = hybrid(&[]);
        warm_up(&mut p, &ctx_cpus);
        let wakeup = on_cpu(task(1, 100_000, 0, true), 3);
        // Task 7 wakes with short bursts: interactive, not displaced.
        target_of(&mut p, &on_cpu(task(7, 100_000, 0, true), 0), &ctx_cpus);
        let cpus = hybrid(&[(0, 7), (1, 50), (2, 60), (3, 61)]);
        assert_eq!(target_of(&mut p, &wakeup, &cpus), Target::Cpu(1), "the big CPU running batch work");
        let cpus = hybrid(&[(0, 7), (1, 99), (2, 60), (3, 61)]);
        assert_eq!(target_of(&mut p, &wakeup, &cpus), Target::Any, "no batch task known on a big CPU");
        let cpus = hybrid(&[(0, 50), (1, 7), (2, 60), (3, 61)]);
        assert_eq!(target_of(&mut p, &on_cpu(wakeup, 1), &cpus), Target::Any, "previous CPU big: shared queue");
        let mut off = Interactive::new(&cfg()).prefer_big_cores(false);
        warm_up(&mut off, &ctx_cpus);
        assert_eq!(target_of(&mut off, &wakeup, &cpus), Target::Any, "rule off");
    }
}
