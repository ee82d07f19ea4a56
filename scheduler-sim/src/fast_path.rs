//! The model of the dispatcher's wakeup fast path and of the per-task
//! context it shares with user space (`scheduler_core::shared`; the BPF's
//! `fast_path` and `task_shared` in `main.bpf.c`): the slots tasks claim,
//! the statistics the dispatcher publishes in them, the placement of a
//! granted task's wakeup without the round trip to user space, and the
//! budget it enforces. The rules are listed in the [crate] docs.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::{
    dispatcher::Prev,
    machine::{work_done, CpuState, FastPending, Machine},
    queue::{Event, TaskId},
    tasks::QueueId,
    SimError,
};
use scheduler_core::shared::{find_slot, grant_budget_ns, grant_pid, FAST_SHARE_PCT, FAST_WINDOW_MS};

/// The window over which a task's fast-placed runs are bounded (ns).
const FAST_WINDOW_NS: u64 = FAST_WINDOW_MS * 1_000_000;
/// The CPU time fast-placed runs may use per window before the grant is revoked (ns).
const FAST_WINDOW_LIMIT_NS: u64 = FAST_WINDOW_NS * FAST_SHARE_PCT / 100;

/// The dispatcher's moving average (weight 1/8): the sample itself while
/// the average is 0.
fn ewma(avg: u64, sample: u64) -> u64 {
    if avg == 0 {
        sample
    } else {
        avg - avg / 8 + sample / 8
    }
}

/// A plain store of `f + x` (the dispatcher is the field's one writer).
fn add(f: &AtomicU64, x: u64) {
    f.store(f.load(Relaxed).wrapping_add(x), Relaxed);
}

impl Machine {
    /// Task `id` joins (its creation's first wakeup, the BPF's
    /// `relay_enable`): it claims a shared slot, if one of its probes is free.
    pub(crate) fn claim_slot(&mut self, id: TaskId) {
        let _ = self.task_shared.claim(self.tasks[id as usize].pid);
    }

    /// Task `id` wakes up (not its creation): the wakeup statistics — one
    /// more wakeup, the period since the last one into its average, and the
    /// task running where the wakeup happens (the waking CPU's task; 0 for
    /// a timer's wakeup, whose CPU the model does not place).
    pub(crate) fn woke(&mut self, id: TaskId) {
        let now = self.now;
        let waker = match self.waking_cpu.map(|c| self.cpus[c as usize].state) {
            Some(CpuState::Task { task, .. }) => self.tasks[task as usize].pid,
            _ => 0,
        };
        let t = &mut self.tasks[id as usize];
        let last = t.fast.last_wake_ns.replace(now);
        let Some(slot) = find_slot(self.task_shared.slots(), t.pid) else { return };
        slot.nr_wakeups.store(slot.nr_wakeups.load(Relaxed).wrapping_add(1), Relaxed);
        if let Some(last) = last {
            let period = now.saturating_sub(last);
            slot.avg_wake_period_ns.store(ewma(slot.avg_wake_period_ns.load(Relaxed), period), Relaxed);
        }
        slot.last_waker_pid.store(waker, Relaxed);
    }

    /// Task `id` stops (leaves its CPU; `runnable`: it is still runnable,
    /// else it sleeps or exits): its run into `runtime_ns`; if it stops not
    /// runnable, its CPU time since its wakeup into `avg_burst_ns`. A
    /// fast-placed run ends here: its budget is enforced (see
    /// [`Machine::enforce_budget`]).
    pub(crate) fn stopped(&mut self, id: TaskId, runnable: bool) {
        let t = &self.tasks[id as usize];
        let run = self.now.saturating_sub(t.start_ts);
        let Some(slot) = find_slot(self.task_shared.slots(), t.pid) else { return };
        add(&slot.runtime_ns, run);
        if !runnable {
            slot.avg_burst_ns.store(ewma(slot.avg_burst_ns.load(Relaxed), t.exec_runtime), Relaxed);
        }
        if let Some(grant) = self.tasks[id as usize].fast.run_grant.take() {
            self.enforce_budget(id, grant, run, runnable);
        }
    }

    /// The end of task `id`'s fast-placed run of `run` ns, placed under
    /// `grant`: the grant is revoked (`revoked_grant = grant`, `revoked_ns
    /// = now`) if the task stops still runnable with its CPU time since the
    /// wakeup at the budget or over (its slice ran out), or if its
    /// fast-placed runs in the current window (restarted when it is over
    /// [`FAST_WINDOW_MS`] old) used more than [`FAST_SHARE_PCT`] % of it.
    fn enforce_budget(&mut self, id: TaskId, grant: u64, run: u64, runnable: bool) {
        let now = self.now;
        let t = &mut self.tasks[id as usize];
        let mut overrun = runnable && t.exec_runtime >= grant_budget_ns(grant);
        let w = &mut t.fast;
        if now.saturating_sub(w.window_start_ns) > FAST_WINDOW_NS {
            w.window_start_ns = now;
            w.window_used_ns = 0;
        }
        w.window_used_ns = w.window_used_ns.saturating_add(run);
        overrun |= w.window_used_ns > FAST_WINDOW_LIMIT_NS;
        if !overrun {
            return;
        }
        let Some(slot) = find_slot(self.task_shared.slots(), t.pid) else { return };
        slot.revoked_grant.store(grant, Relaxed);
        slot.revoked_ns.store(now, Relaxed);
        self.counters.fast_revoked += 1;
    }

    /// The fast path for task `id`'s wakeup, where the task would otherwise
    /// go to user space: if its slot holds a grant for it that was not
    /// revoked, and a CPU is found ([`Machine::pick_fast_cpu`]), the task is
    /// placed there ([`Machine::place_fast`]). Whether it was.
    pub(crate) fn try_fast_path(&mut self, id: TaskId) -> bool {
        let pid = self.tasks[id as usize].pid;
        let Some(slot) = find_slot(self.task_shared.slots(), pid) else { return false };
        let grant = slot.grant.load(Relaxed);
        if grant == 0 || grant_pid(grant) != pid || grant == slot.revoked_grant.load(Relaxed) {
            return false;
        }
        let Some(cpu) = self.pick_fast_cpu(id) else { return false };
        slot.nr_fast_runs.store(slot.nr_fast_runs.load(Relaxed).wrapping_add(1), Relaxed);
        self.place_fast(id, cpu, grant);
        true
    }

    /// The CPU the fast path places task `id` on, among its allowed CPUs:
    /// an idle one (its previous CPU first, else the lowest); else the CPU
    /// whose running task started its run earliest (ties: the lowest CPU),
    /// leaving out a CPU that runs the user scheduler, runs a fast-placed
    /// task, or already has a fast-placed task waiting; `None` if none is left.
    pub(crate) fn pick_fast_cpu(&self, id: TaskId) -> Option<u32> {
        let t = &self.tasks[id as usize];
        let free = |c: u32| self.cpus[c as usize].fast.is_none();
        let idle = |c: u32| self.cpus[c as usize].state == CpuState::Idle && free(c);
        if t.allowed.contains(t.prev_cpu) && idle(t.prev_cpu) {
            return Some(t.prev_cpu);
        }
        if let Some(c) = t.allowed.iter().find(|&c| idle(c)) {
            return Some(c);
        }
        let mut best: Option<(u64, u32)> = None;
        for c in t.allowed.iter().filter(|&c| free(c)) {
            let CpuState::Task { task, .. } = self.cpus[c as usize].state else { continue };
            let running = &self.tasks[task as usize];
            if running.fast.run_grant.is_some() {
                continue;
            }
            if best.is_none_or(|(started, _)| running.start_ts < started) {
                best = Some((running.start_ts, c));
            }
        }
        best.map(|(_, c)| c)
    }

    /// Places task `id`, woken under `grant`, in `cpu`'s own queue with a
    /// key below everything queued for `cpu` (its own queue's head and the
    /// shared queue's), with a slice of the budget (at most the default
    /// slice); an idle `cpu` is kicked, a busy one gets a preempt kick
    /// ([`Event::FastKick`]). Its run is fast-placed until it next stops.
    pub(crate) fn place_fast(&mut self, id: TaskId, cpu: u32, grant: u64) {
        let heads = [self.cpus[cpu as usize].dsq.head_vtime(), self.shared.head_vtime()];
        let t = &mut self.tasks[id as usize];
        let key = heads.into_iter().flatten().min().map_or(t.vtime, |h| h.saturating_sub(1));
        t.slice_left = grant_budget_ns(grant).min(self.slice_ns);
        t.fast.run_grant = Some(grant);
        self.insert(QueueId::Local(cpu), id, key);
        self.cpus[cpu as usize].fast = Some(FastPending { task: id, key, seq: self.dsq_seq });
        self.counters.fast_placed += 1;
        match self.cpus[cpu as usize].state {
            CpuState::Idle => self.kick(cpu),
            CpuState::Task { .. } => self.events.push(self.now, Event::FastKick(cpu)),
            CpuState::Kicked | CpuState::User { .. } => {}
        }
    }

    /// The fast-placed task waiting for `cpu`, taken out of its queue: the
    /// CPU's dispatch runs it before anything else.
    pub(crate) fn take_fast(&mut self, cpu: u32) -> Option<TaskId> {
        let p = self.cpus[cpu as usize].fast.take()?;
        let removed = self.cpus[cpu as usize].dsq.remove(p.key, p.seq, p.task);
        debug_assert!(removed, "a fast-placed task left its queue unseen");
        removed.then_some(p.task)
    }

    /// The fast path's preempt kick reaches `cpu`: if the fast-placed task
    /// still waits, the running task stops now (its slice ends, it is
    /// enqueued again, not as a wakeup) and the CPU dispatches, which runs
    /// the fast-placed task. A task whose burst ends at this instant is left
    /// to that event.
    pub(crate) fn on_fast_kick(&mut self, cpu: u32) -> Result<(), SimError> {
        if self.cpus[cpu as usize].fast.is_none() {
            return Ok(());
        }
        let CpuState::Task { task, since } = self.cpus[cpu as usize].state else { return Ok(()) };
        if self.tasks[task as usize].burst_left <= work_done(self.now - since, self.topology.capacity(cpu)) {
            return Ok(());
        }
        self.account(cpu, task, since);
        self.tasks[task as usize].slice_left = 0;
        self.counters.fast_preempts += 1;
        self.dispatch(cpu, Prev::Task(task))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{tasks::TaskState, Behavior, Count, SimConfig, TaskClass, TaskGroup, Workload};
    use scheduler_core::{
        cpu::Topology,
        engine::{Engine, EngineConfig},
        policy::{Policy, SchedContext},
        shared::{grant_word, FastGrant},
        task::{Decision, QueuedTask},
    };

    /// Decides nothing.
    struct Idle;
    impl Policy for Idle {
        fn name(&self) -> &str {
            "idle"
        }
        fn enqueue(&mut self, _: &QueuedTask, _: &SchedContext<'_>) {}
        fn dispatch(&mut self, _: &SchedContext<'_>) -> Option<Decision> {
            None
        }
        fn pending(&self) -> usize {
            0
        }
        fn take_all(&mut self, _: &mut Vec<QueuedTask>) {}
    }

    /// `nr_cpus` CPUs each running a hog (started at 0, 1, 2, ... µs), and
    /// a periodic task (the last task) that woke once and sleeps.
    fn saturated(nr_cpus: u32) -> Machine {
        let groups = vec![
            TaskGroup::new(TaskClass::Hog, Count::Fixed(nr_cpus), Behavior::Hog),
            TaskGroup::new(
                TaskClass::Interactive,
                Count::Fixed(1),
                Behavior::Periodic { run_ns: 100_000, sleep_ns: 1_000_000 },
            ),
        ];
        let config = SimConfig { nr_cpus, workload: Workload::Custom(groups), ..SimConfig::default() };
        let topology = Topology::uniform(nr_cpus, 1, nr_cpus);
        let engine = Engine::new(Box::new(Idle), topology.clone(), EngineConfig::default());
        let mut m = Machine::new(&config, engine, topology);
        for c in 0..nr_cpus {
            m.now = u64::from(c) * 1_000;
            m.claim_slot(c);
            m.tasks[c as usize].enabled = true;
            m.start_task(c, c);
        }
        let p = nr_cpus;
        m.claim_slot(p);
        m.tasks[p as usize].enabled = true;
        m.now = 1_000_000;
        m
    }

    fn slot(m: &Machine, id: TaskId) -> &scheduler_core::TaskSharedSlot {
        find_slot(m.task_shared.slots(), m.tasks[id as usize].pid).unwrap()
    }

    /// A granted wakeup on a saturated machine preempts the CPU whose task
    /// ran longest (the lowest on a tie), runs first there, and never
    /// reaches user space; the preempted task goes to user space.
    #[test]
    fn granted_wakeup_preempts_the_longest_running_task() {
        let mut m = saturated(4);
        let p = 4;
        let pid = m.tasks[p as usize].pid;
        slot(&m, p).publish(pid, Some(FastGrant { budget_ns: 300_000 }));
        m.tasks[1].start_ts = 0; // CPUs 0 and 1 tie: CPU 0 wins
        assert_eq!(m.pick_fast_cpu(p), Some(0));
        m.wake(p);
        assert_eq!(m.tasks[p as usize].state, TaskState::Queued(QueueId::Local(0)));
        assert_eq!(m.tasks[p as usize].slice_left, 300_000);
        assert!(m.channels.queued.is_empty(), "not handed to user space");
        assert_eq!((m.counters.fast_placed, slot(&m, p).nr_fast_runs.load(Relaxed)), (1, 1));
        // A second granted wakeup may not take CPU 0 (a fast task waits there).
        assert_eq!(m.pick_fast_cpu(p), Some(1));
        let (at, ev) = std::iter::from_fn(|| m.events.pop()).find(|(_, e)| matches!(e, Event::FastKick(_))).unwrap();
        assert_eq!((at, ev), (m.now, Event::FastKick(0)));
        m.on_fast_kick(0).unwrap();
        assert_eq!(m.tasks[p as usize].state, TaskState::Running(0));
        assert_eq!(m.tasks[0].state, TaskState::InUser, "the preempted hog goes to user space");
        assert_eq!(m.counters.fast_preempts, 1);
        // CPU 0 runs a fast-placed task: not a candidate any more.
        assert_eq!(m.pick_fast_cpu(p), Some(1));
        m.verify().unwrap();
    }

    /// No slot, no grant, a grant naming another pid, or a revoked grant:
    /// the wakeup goes to user space.
    #[test]
    fn only_the_tasks_own_live_grant_counts() {
        let mut m = saturated(2);
        let p = 2;
        let pid = m.tasks[p as usize].pid;
        let other = pid + 1;
        let g = FastGrant { budget_ns: 1_000_000 };
        type Setup<'a> = dyn Fn(&Machine) + 'a;
        let cases: [(&str, &Setup<'_>); 4] = [
            ("no grant", &|_| {}),
            ("another pid's grant", &|m| slot(m, p).grant.store(grant_word(other, g, 0), Relaxed)),
            ("revoked", &|m| {
                slot(m, p).publish(pid, Some(g));
                let w = slot(m, p).grant.load(Relaxed);
                slot(m, p).revoked_grant.store(w, Relaxed);
            }),
            ("no slot", &|m| m.task_shared.release(pid)),
        ];
        for (what, set) in cases {
            set(&m);
            m.tasks[p as usize].state = TaskState::Sleeping;
            m.wake(p);
            assert_eq!(m.tasks[p as usize].state, TaskState::InUser, "{what}");
            assert_eq!(m.counters.fast_placed, 0, "{what}");
            m.channels.queued.clear();
            m.watch.clear();
        }
        // Granted again (a new epoch), with the slot back: placed.
        m.claim_slot(p);
        slot(&m, p).publish(pid, Some(g));
        m.tasks[p as usize].state = TaskState::Sleeping;
        m.wake(p);
        assert_eq!(m.counters.fast_placed, 1);
    }

    /// A fast-placed run that stops runnable with its budget used up is
    /// revoked; a run that stops asleep under budget is not, until the
    /// window's share is used up.
    #[test]
    fn budget_and_window_revoke() {
        let mut m = saturated(1);
        let p = 1;
        let pid = m.tasks[p as usize].pid;
        slot(&m, p).publish(pid, Some(FastGrant { budget_ns: 1_000_000 }));
        let grant = slot(&m, p).grant.load(Relaxed);
        // A fast-placed run of 0.9 ms that ends asleep every 1 ms, all in
        // one 100 ms window: under the budget each, but the 56th run takes
        // the window past its 50 ms (56 × 0.9 ms = 50.4 ms).
        let mut revoked_at = None;
        for i in 0..60u64 {
            m.now = 1_000_000 + i * 1_000_000;
            m.tasks[p as usize].fast.run_grant = Some(grant);
            m.tasks[p as usize].start_ts = m.now - 900_000;
            m.tasks[p as usize].exec_runtime = 900_000;
            m.stopped(p, false);
            if revoked_at.is_none() && m.counters.fast_revoked > 0 {
                revoked_at = Some(i);
            }
        }
        let s = slot(&m, p).stats(pid).unwrap();
        assert_eq!(revoked_at, Some(55), "55 runs × 0.9 ms = 49.5 ms, the 56th passes 50 ms");
        assert!(s.revoked && !s.granted);
        assert_eq!(s.avg_burst_ns, 900_000);
        // Regranted: a new epoch; a run that stops runnable at its budget is revoked at once.
        slot(&m, p).publish(pid, Some(FastGrant { budget_ns: 1_000_000 }));
        assert!(slot(&m, p).stats(pid).unwrap().granted);
        let before = m.counters.fast_revoked;
        m.now += 200_000_000;
        m.tasks[p as usize].fast.run_grant = Some(slot(&m, p).grant.load(Relaxed));
        m.tasks[p as usize].start_ts = m.now - 1_000_000;
        m.tasks[p as usize].exec_runtime = 1_000_000;
        m.stopped(p, true);
        assert_eq!(m.counters.fast_revoked, before + 1);
        assert_eq!(slot(&m, p).stats(pid).unwrap().revoked_ns, m.now);
    }

    /// Wakeup statistics: the count, the period's average, the waker.
    #[test]
    fn wakeup_statistics() {
        let mut m = saturated(2);
        let p = 2;
        for i in 0..3 {
            m.now = 1_000_000 + i * 2_000_000;
            m.tasks[p as usize].state = TaskState::Sleeping;
            m.waking_cpu = (i == 2).then_some(1);
            m.wake(p);
            m.channels.queued.clear();
            m.watch.clear();
        }
        let s = slot(&m, p).stats(m.tasks[p as usize].pid).unwrap();
        assert_eq!(s.nr_wakeups, 3);
        assert_eq!(s.avg_wake_period_ns, 2_000_000);
        assert_eq!(s.last_waker_pid, m.tasks[1].pid, "the task running on the waking CPU");
    }
}
