//! The model of the BPF dispatcher (DESIGN.md, "The flow of one task"):
//! where a task that becomes runnable goes, what a CPU that becomes free
//! runs next, how decisions from user space are applied, and the stall
//! fallback. The rules are listed in the [crate] docs.

use super::{
    machine::{CpuState, Machine, StartKind},
    queue::{Event, TaskId},
    tasks::{QueueId, TaskState, PID_BASE},
    SimError,
};
use scheduler_core::{
    task::{Decision, Target, WEIGHT_DEFAULT},
    wire::{clamp_vtime, vtime_before, AGE_AFTER_MS, DISPATCH_BATCH},
};

/// How long a task waits in a queue before aging runs it (ns).
const AGE_AFTER_NS: u64 = AGE_AFTER_MS * 1_000_000;
/// Overdue tasks within this much of the longest-waiting one are aged in
/// one batch (the BPF's `AGE_WINDOW_NS`).
const AGE_WINDOW_NS: u64 = AGE_AFTER_NS / 4;
/// Most tasks one aging batch runs (the BPF's `AGE_MOVES_PER_DISPATCH`).
const AGE_MOVES_PER_DISPATCH: u32 = 4;

/// What the CPU that calls dispatch was running.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Prev {
    /// Nothing (it was idle and kicked, or its task slept or exited).
    None,
    /// A task whose slice expired; it is still runnable.
    Task(TaskId),
    /// The user scheduler, whose step made progress or not.
    User { progress: bool },
}

impl Machine {
    /// Task `id` becomes runnable: after sleeping, or, the first time, at
    /// its creation. A new task is the BPF's `relay_enable` (it starts at
    /// `vtime_now` with the default slice), then the kernel's
    /// `wake_up_new_task`: `ops.select_cpu` runs, so the idle-CPU fast path
    /// applies, but the enqueue carries no `SCX_ENQ_WAKEUP` (the policy sees
    /// no wakeup, and it kicks no CPU for the user scheduler).
    pub(crate) fn wake(&mut self, id: TaskId) {
        let (vtime_now, slice_ns) = (self.vtime_now, self.slice_ns);
        let t = &mut self.tasks[id as usize];
        let wakeup = t.enabled;
        if !t.enabled {
            t.enabled = true;
            t.vtime = vtime_now;
            t.slice_left = slice_ns;
        }
        t.exec_runtime = 0;
        // A new burst: the last one's fast placement no longer counts (the BPF's relay_runnable).
        t.fast.burst_grant = None;
        t.runnable_since = self.now;
        let prev = t.prev_cpu;
        if wakeup {
            self.woke(id);
        } else {
            self.claim_slot(id);
        }
        if let Some(r) = &mut self.recorder {
            let timer = wakeup && self.waking_cpu.is_none();
            r.runnable(self.now, &self.tasks[id as usize], self.waking_cpu.unwrap_or(prev), wakeup, timer);
        }
        match self.pick_idle(id) {
            Some(cpu) if self.cpus[cpu as usize].dsq.is_empty() && self.shared.is_empty() => {
                self.counters.kernel_dispatches += 1;
                self.tasks[id as usize].slice_left = self.slice_ns;
                let vtime = self.tasks[id as usize].vtime;
                self.insert(QueueId::Local(cpu), id, vtime);
                self.kick(cpu);
            }
            Some(cpu) => self.enqueue(id, cpu, wakeup),
            None => self.enqueue(id, prev, wakeup),
        }
    }

    /// `ops.enqueue`: hands task `id` to user space, or places it when the
    /// fallback is active, or, for a wakeup of a task the policy granted the
    /// fast path, places it on a CPU at once ([`Machine::try_fast_path`]),
    /// or places it when the ring is full. `cpu` is the task's CPU (as
    /// `ops.select_cpu` left it), reported to user space (and preferred for
    /// running the user scheduler).
    pub(crate) fn enqueue(&mut self, id: TaskId, cpu: u32, wakeup: bool) {
        // Every enqueue is an ordinary one until the fast path places it,
        // and no longer waits where the fast path placed it before.
        self.fast_key_restore(id);
        self.tasks[id as usize].fast.run_grant = None;
        self.fast_waiting_done(id);
        let t = &mut self.tasks[id as usize];
        t.resumed = false;
        t.generation += 1;
        if self.fallback_mode {
            self.counters.fallback_dispatches += 1;
            self.place_by_kernel(id);
            return;
        }
        if wakeup && self.try_fast_path(id, cpu) {
            return;
        }
        if self.channels.queued.len() >= self.channels.queued_capacity {
            self.counters.congested += 1;
            self.counters.kernel_dispatches += 1;
            self.place_by_kernel(id);
            return;
        }
        let t = &mut self.tasks[id as usize];
        self.channels.queued.push_back(t.queued_task(cpu, wakeup));
        t.state = TaskState::InUser;
        let generation = t.generation;
        self.counters.queued_to_user += 1;
        self.watch.push_back((self.now, id, generation));
        if !self.watchdog_armed {
            self.watchdog_armed = true;
            self.events.push(self.timer_tick_at_or_after(self.now + self.stall_timeout_ns), Event::Watchdog);
        }
        self.request_user(Some(cpu));
        if wakeup {
            self.kick_preempt_for_user(cpu);
        }
    }

    /// The second half of the BPF's `wake_usersched`: when no idle CPU is
    /// on its way to run the user scheduler, a waking task's CPU is kicked
    /// to preempt its task, if that task may be preempted
    /// ([`Machine::cpu_preemptible`]) — at most one kick (idle or preempt)
    /// per `slice_min`.
    fn kick_preempt_for_user(&mut self, cpu: u32) {
        if !self.user_wants_cpu() || self.user.kicked.is_some() {
            return;
        }
        if self.user.last_kick_ns.is_some_and(|t| self.now.saturating_sub(t) < self.slice_min_ns) {
            return;
        }
        if !self.cpu_preemptible(cpu) {
            return;
        }
        self.user.last_kick_ns = Some(self.now);
        self.events.push(self.now, Event::Preempt(cpu));
    }

    /// Whether a wakeup handed to the user scheduler may preempt `cpu`'s
    /// task for it (the BPF's `cpu_preemptible`): one that ran
    /// `slice_min_ns` since it started there
    /// ([`Machine::cpu_ran_slice_min`]), or, with `preempt_hogs`, a CPU
    /// hog, one whose CPU time since it last woke, this run's included, is
    /// a whole `slice_ns` at least. Without the second, a hog preempted at
    /// every wakeup of a periodic sleeper is protected anew at each
    /// restart.
    pub(crate) fn cpu_preemptible(&self, cpu: u32) -> bool {
        self.cpu_ran_slice_min(cpu) || self.cpu_runs_hog(cpu)
    }

    /// Whether `preempt_hogs` is on and `cpu` runs a CPU hog: a task (not
    /// the user scheduler) whose CPU time since it last woke, this run's
    /// included, is a whole `slice_ns` at least (the BPF's
    /// `cpu_runs_hog`). Such a task may be preempted at once, for the user
    /// scheduler ([`Machine::cpu_preemptible`]) and for a fast-placed
    /// wakeup ([`Machine::pick_fast_cpu`], while the rule does not rest
    /// there: [`crate::machine::Cpu::hog_rule_after_ns`]).
    pub(crate) fn cpu_runs_hog(&self, cpu: u32) -> bool {
        let CpuState::Task { task, since } = self.cpus[cpu as usize].state else { return false };
        self.preempt_hogs && self.tasks[task as usize].exec_runtime + self.now.saturating_sub(since) >= self.slice_ns
    }

    /// The dispatcher places task `id` itself, with the default slice, in
    /// the shared queue at `vtime_now`, the largest vtime of an unclamped
    /// decision seen running (as
    /// the BPF's `dispatch_in_kernel`). Not by the task's last vtime: vtimes
    /// do not advance while user space is silent, so ordering by them would
    /// let the lowest starve the rest for the whole stall; at `vtime_now`
    /// they queue behind what was decided before, in arrival order.
    fn place_by_kernel(&mut self, id: TaskId) {
        let vtime = self.vtime_now;
        let t = &mut self.tasks[id as usize];
        t.slice_left = self.slice_ns;
        t.vtime = vtime;
        self.insert(QueueId::Shared, id, vtime);
        self.kick_for_shared(id);
    }

    /// Puts task `id` on queue `q` with ordering key `vtime`.
    pub(crate) fn insert(&mut self, q: QueueId, id: TaskId, vtime: u64) {
        self.dsq_seq += 1;
        self.tasks[id as usize].state = TaskState::Queued(q);
        self.tasks[id as usize].run_shared = q == QueueId::Shared;
        match q {
            QueueId::Local(c) => self.cpus[c as usize].dsq.insert(vtime, self.dsq_seq, id),
            QueueId::Shared => self.shared.insert(vtime, self.dsq_seq, id),
        }
    }

    /// Kicks `cpu` if it is idle: it will run dispatch at this instant, or
    /// after an idle wake-up's start delay ([`crate::StartDelays`]).
    pub(crate) fn kick(&mut self, cpu: u32) {
        if self.cpus[cpu as usize].state == CpuState::Idle {
            self.cpus[cpu as usize].state = CpuState::Kicked;
            self.cpus[cpu as usize].kicked_from_idle = true;
            let delay = self.start_delay(StartKind::IdleWake);
            self.events.push(self.now.saturating_add(delay), Event::Kick(cpu));
        }
    }

    /// After an insert into a queue many CPUs read: kicks the task's previous CPU if it is
    /// idle and allowed, else the first idle allowed CPU.
    fn kick_for_shared(&mut self, id: TaskId) {
        let t = &self.tasks[id as usize];
        let idle = |c: u32| self.cpus[c as usize].state == CpuState::Idle;
        let target = if t.allowed.contains(t.prev_cpu) && idle(t.prev_cpu) {
            Some(t.prev_cpu)
        } else {
            t.allowed.iter().find(|&c| idle(c))
        };
        if let Some(c) = target {
            self.kick(c);
        }
    }

    /// `ops.select_cpu`'s idle search for task `id`: its previous CPU if it
    /// and its SMT siblings are idle; else, scanning from the previous CPU,
    /// the first CPU of a fully idle core in its LLC, of a fully idle core
    /// anywhere, an idle CPU in its LLC, an idle CPU anywhere. A task
    /// allowed one CPU only gets that CPU, if idle.
    fn pick_idle(&self, id: TaskId) -> Option<u32> {
        let t = &self.tasks[id as usize];
        let allowed = t.allowed;
        let idle = |c: u32| self.cpus[c as usize].state == CpuState::Idle;
        if allowed.count == 1 {
            return idle(allowed.first).then_some(allowed.first);
        }
        let prev = if allowed.contains(t.prev_cpu) { t.prev_cpu } else { allowed.first };
        let core_idle = |c: u32| {
            let first = c - c % self.smt;
            (first..(first + self.smt).min(self.cpus.len() as u32)).all(idle)
        };
        if idle(prev) && core_idle(prev) {
            return Some(prev);
        }
        let start = prev - allowed.first;
        let mut best: Option<(u8, u32)> = None;
        for i in 0..allowed.count {
            let c = allowed.first + (start + i) % allowed.count;
            if !idle(c) {
                continue;
            }
            let rank = match (core_idle(c), self.topology.same_llc(c, prev)) {
                (true, true) => 0,
                (true, false) => 1,
                (false, true) => 2,
                (false, false) => 3,
            };
            if best.is_none_or(|(r, _)| rank < r) {
                best = Some((rank, c));
                if rank == 0 {
                    break;
                }
            }
        }
        best.map(|(_, c)| c)
    }

    /// The user scheduler has work (or, during the fallback, is asked to
    /// show it is alive, like upstream's heartbeat) and may be pulled onto a CPU.
    pub(crate) fn user_wants_cpu(&self) -> bool {
        !self.user.stalled
            && self.user.running_on.is_none()
            && (!self.channels.queued.is_empty() || self.channels.user_pending > 0 || self.fallback_mode)
    }

    /// Work arrived for the user scheduler: if it is parked and no CPU is on
    /// its way to run it, kicks an idle CPU (`cpu` if idle, else the first idle one).
    pub(crate) fn request_user(&mut self, cpu: Option<u32>) {
        if !self.user_wants_cpu() || self.user.kicked.is_some() {
            return;
        }
        let idle = |c: u32| self.cpus[c as usize].state == CpuState::Idle;
        let target = cpu.filter(|&c| idle(c)).or_else(|| (0..self.cpus.len() as u32).find(|&c| idle(c)));
        if let Some(c) = target {
            self.user.kicked = Some(c);
            self.user.last_kick_ns = Some(self.now);
            self.kick(c);
        }
    }

    /// `ops.dispatch` on `cpu`, which was running `prev` (see the module docs).
    pub(crate) fn dispatch(&mut self, cpu: u32, prev: Prev) -> Result<(), SimError> {
        if self.user.kicked == Some(cpu) {
            self.user.kicked = None;
        }
        for _ in 0..DISPATCH_BATCH {
            let Some(d) = self.channels.decisions.pop_front() else { break };
            self.apply_decision(&d);
        }
        // An aged batch runs back to back, as from the kernel's local DSQ.
        if self.cpus[cpu as usize].aging.batch_left > 0 {
            self.cpus[cpu as usize].aging.batch_left -= 1;
            if let Some(next) = self.take_overdue(cpu) {
                return self.run_aged(cpu, next, prev);
            }
            self.cpus[cpu as usize].aging.batch_left = 0;
        }
        // Overdue tasks first, but not twice in a row (the BPF's aged_last).
        let age_first = !std::mem::take(&mut self.cpus[cpu as usize].aging.aged_last);
        if age_first {
            if let Some(next) = self.start_aged_batch(cpu) {
                return self.run_aged(cpu, next, prev);
            }
        }
        // A task the wakeup fast path placed here: the queues before the user scheduler.
        if self.cpus[cpu as usize].fast_waiting.is_some() {
            if let Some(next) = self.consume_in_vtime_order(cpu) {
                self.start_after(cpu, next, prev);
                if let Prev::Task(id) = prev {
                    self.preempt(id, cpu);
                }
                return Ok(());
            }
        }
        // After a step without progress the user scheduler yields: it is
        // pulled again by the next dispatch elsewhere, not in a loop here.
        let user_may_run = !matches!(prev, Prev::User { progress: false });
        if user_may_run && self.user_wants_cpu() {
            if let Prev::Task(id) = prev {
                self.preempt(id, cpu);
            }
            return self.start_user_step(cpu);
        }
        // Nothing in its queues: a fast-placed task waiting on another CPU
        // (the BPF's `take_fast_waiter`), before aging (if it did not come
        // first), before the task that ran keeps the CPU or it goes idle.
        let next = self.consume_in_vtime_order(cpu).or_else(|| self.take_fast_waiter(cpu));
        if next.is_none() && !age_first {
            if let Some(aged) = self.start_aged_batch(cpu) {
                return self.run_aged(cpu, aged, prev);
            }
        }
        match (next, prev) {
            (Some(next), prev) => {
                self.start_after(cpu, next, prev);
                if let Prev::Task(id) = prev {
                    self.preempt(id, cpu);
                }
            }
            (None, Prev::Task(id)) => self.extend_task(cpu, id),
            (None, _) => self.cpus[cpu as usize].state = CpuState::Idle,
        }
        Ok(())
    }

    /// Starts `id` on `cpu`, which ran `prev`: after a preemption or the
    /// user scheduler's step, held for a start delay
    /// ([`crate::StartDelays::after_preemption_or_user_ns`]).
    fn start_after(&mut self, cpu: u32, id: TaskId, prev: Prev) {
        let held = match prev {
            Prev::None => 0,
            Prev::Task(_) | Prev::User { .. } => self.start_delay(StartKind::AfterPreemptionOrUser),
        };
        self.start_task_held(cpu, id, held);
    }

    /// Runs `id`, taken out of a queue by aging, on `cpu`; `prev` loses it.
    fn run_aged(&mut self, cpu: u32, id: TaskId, prev: Prev) -> Result<(), SimError> {
        self.counters.aged += 1;
        self.start_after(cpu, id, prev);
        if let Prev::Task(p) = prev {
            self.preempt(p, cpu);
        }
        Ok(())
    }

    /// Whether task `id`, in a queue, has waited there [`AGE_AFTER_NS`].
    fn overdue(&self, id: TaskId) -> bool {
        self.now.saturating_sub(self.tasks[id as usize].runnable_since) >= AGE_AFTER_NS
    }

    /// The BPF's `run_overdue` when the heartbeat flagged `cpu`: starts a
    /// batch of the overdue tasks `cpu` may run, from its own queue, then
    /// the shared one, those within [`AGE_WINDOW_NS`] of the longest wait,
    /// at most [`AGE_MOVES_PER_DISPATCH`]; returns the first (the rest run
    /// at the next dispatches, [`Aging::batch_left`]). With none the
    /// request is dropped.
    ///
    /// [`Aging::batch_left`]: super::machine::Aging::batch_left
    fn start_aged_batch(&mut self, cpu: u32) -> Option<TaskId> {
        if !self.cpus[cpu as usize].aging.requested {
            return None;
        }
        let oldest = self.overdue_for(cpu).map(|t| self.tasks[t as usize].runnable_since).min();
        let Some(oldest) = oldest else {
            self.cpus[cpu as usize].aging.requested = false;
            return None;
        };
        let in_window =
            self.overdue_for(cpu).filter(|&t| self.tasks[t as usize].runnable_since <= oldest + AGE_WINDOW_NS).count();
        let batch = (in_window as u32).min(AGE_MOVES_PER_DISPATCH);
        let aging = &mut self.cpus[cpu as usize].aging;
        aging.aged_last = true;
        aging.batch_left = batch - 1;
        self.cpus[cpu as usize].aging.window_since = oldest;
        self.take_overdue(cpu)
    }

    /// The overdue tasks `cpu` may run: in its own queue, then the shared one.
    fn overdue_for(&self, cpu: u32) -> impl Iterator<Item = TaskId> + '_ {
        let shared = self.shared.tasks().filter(move |&t| self.tasks[t as usize].allowed.contains(cpu));
        self.cpus[cpu as usize].dsq.tasks().chain(shared).filter(|&t| self.overdue(t))
    }

    /// Takes the next task of the current aged batch out of its queue:
    /// the first overdue one in `cpu`'s own queue, else in the shared one
    /// (allowed on `cpu`), within the batch's window, in queue order.
    fn take_overdue(&mut self, cpu: u32) -> Option<TaskId> {
        let limit = self.cpus[cpu as usize].aging.window_since + AGE_WINDOW_NS;
        let (now, tasks) = (self.now, &self.tasks);
        let due = |t: TaskId| {
            let since = tasks[t as usize].runnable_since;
            now.saturating_sub(since) >= AGE_AFTER_NS && since <= limit
        };
        let due_here = |t: TaskId| due(t) && tasks[t as usize].allowed.contains(cpu);
        self.cpus[cpu as usize].dsq.pop_first_where(due).or_else(|| self.shared.pop_first_where(due_here))
    }

    /// The heartbeat's look at the queues (the BPF's `find_overdue`): a CPU
    /// whose own queue holds an overdue task is asked to age; for an
    /// overdue task in the shared queue, its previous CPU if allowed, else
    /// its first allowed one. An asked CPU is kicked: an idle one runs
    /// dispatch, a busy one is preempted (`request_aging`: `SCX_KICK_PREEMPT`).
    pub(crate) fn on_heartbeat(&mut self) {
        for cpu in 0..self.cpus.len() as u32 {
            if self.cpus[cpu as usize].dsq.tasks().any(|t| self.overdue(t)) {
                self.request_aging(cpu);
            }
        }
        let asks: Vec<u32> = self
            .shared
            .tasks()
            .filter(|&t| self.overdue(t))
            .map(|t| {
                let t = &self.tasks[t as usize];
                if t.allowed.contains(t.prev_cpu) {
                    t.prev_cpu
                } else {
                    t.allowed.first
                }
            })
            .collect();
        for cpu in asks {
            self.request_aging(cpu);
        }
    }

    /// Flags `cpu` to age at its next dispatch, and kicks it (once).
    fn request_aging(&mut self, cpu: u32) {
        let c = &mut self.cpus[cpu as usize];
        if c.aging.requested {
            return;
        }
        c.aging.requested = true;
        if c.state == CpuState::Idle {
            self.kick(cpu);
        } else {
            self.events.push(self.now, Event::AgeKick(cpu));
        }
    }

    /// The BPF's `consume_in_vtime_order`: the shared queue's first task
    /// allowed on `cpu` if the shared queue's head has a lower vtime than the
    /// head of `cpu`'s own queue; else the own queue's head; else the shared
    /// queue's first task allowed here. Both queues are served in one vtime
    /// order, so neither starves the other. (The kernel peeks at the head
    /// whatever its affinity, then moves the first task allowed here; ties go
    /// to the own queue.)
    fn consume_in_vtime_order(&mut self, cpu: u32) -> Option<TaskId> {
        let tasks = &self.tasks;
        let allowed_here = |t: TaskId| tasks[t as usize].allowed.contains(cpu);
        let own = &mut self.cpus[cpu as usize].dsq;
        if let (Some(mine), Some(shared)) = (own.head_vtime(), self.shared.head_vtime()) {
            if shared < mine {
                if let Some(t) = self.shared.pop_first_where(allowed_here) {
                    return Some(t);
                }
            }
        }
        own.pop_first().or_else(|| self.shared.pop_first_where(allowed_here))
    }

    /// The tick's rule (the BPF's `relay_tick`) for task `id`, running on
    /// `cpu` since `since`: `Some(true)` if its slice is over, `Some(false)`
    /// if it yields early — it ran at least `slice_min` and either the user
    /// scheduler waits for a CPU and this is the CPU it last ran on (it needs
    /// one CPU, not all; none if an idle CPU is already on its way), or the
    /// lowest key waiting in a queue this CPU serves is below the task's key
    /// advanced by its run so far in weighted time, `vtime + ran × 1024 /
    /// weight` — else `None`.
    pub(crate) fn tick_wants_yield(&self, cpu: u32, id: TaskId, since: u64) -> Option<bool> {
        let t = &self.tasks[id as usize];
        if t.slice_left <= self.now - since {
            return Some(true);
        }
        let ran = self.now.saturating_sub(t.run_started());
        if ran < self.slice_min_ns {
            return None;
        }
        self.yields_to_waiting(cpu, id, ran).then_some(false)
    }

    /// The early yield of [`Machine::tick_wants_yield`] for task `id` on
    /// `cpu` after a run of `ran` ns (the BPF's `yields_to_waiting`, also
    /// asked when a task a local fast placement preempted would resume:
    /// [`Machine::preempt`]).
    fn yields_to_waiting(&self, cpu: u32, id: TaskId, ran: u64) -> bool {
        let t = &self.tasks[id as usize];
        if cpu == self.user.last_cpu && self.user_wants_cpu() && self.user.kicked.is_none() {
            return true;
        }
        let key = t.vtime.saturating_add(ran.saturating_mul(WEIGHT_DEFAULT) / t.weight.max(1));
        let own = self.cpus[cpu as usize].dsq.head_vtime();
        let lowest = match (own, self.shared.head_vtime()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        lowest.is_some_and(|k| k < key) || self.pinned_waiter_displaces(cpu, id)
    }

    /// Whether the task at the head of `cpu`'s own queue may run on `cpu`
    /// only and would run somewhere if task `id` (running on `cpu`, and
    /// allowed elsewhere) made room for it: another CPU `id` may use is idle
    /// (or kicked from idle), or runs a task, not fast-placed, whose key is
    /// above the waiter's (the BPF's `pinned_waiter_displaces`).
    fn pinned_waiter_displaces(&self, cpu: u32, id: TaskId) -> bool {
        let t = &self.tasks[id as usize];
        let own = &self.cpus[cpu as usize].dsq;
        let (Some(head), Some(key)) = (own.tasks().next(), own.head_vtime()) else { return false };
        if t.allowed.count <= 1 || self.tasks[head as usize].allowed.count != 1 {
            return false;
        }
        t.allowed.iter().filter(|&c| c != cpu).any(|c| match self.cpus[c as usize].state {
            CpuState::Idle | CpuState::Kicked => true,
            CpuState::Task { task, .. } => {
                let r = &self.tasks[task as usize];
                r.fast.run_grant.is_none() && vtime_before(key, r.vtime)
            }
            CpuState::User { .. } => false,
        })
    }

    /// Task `id` lost `cpu` at the end of its slice, or for a task that
    /// came first: it is runnable again and goes back through user space.
    /// But a task a local fast placement preempted (the BPF's
    /// `resume_fast_preempted`) goes back into the CPU's own queue (the
    /// shared one, kicking an idle CPU, if it was queued there last and may
    /// run elsewhere) with its key and the slice it had left,
    /// unless it has less than `slice_min_ns / 4` left or would yield at a
    /// tick now ([`Machine::yields_to_waiting`]). Its resumed run goes on
    /// with the runs before it ([`crate::tasks::SimTask::resumed_ran`]).
    fn preempt(&mut self, id: TaskId, cpu: u32) {
        self.counters.preemptions += 1;
        // Behind the fast-placed run that preempted it (the BPF's local
        // DSQ has that task first; the model queues it, and a task queued
        // below it may have started instead).
        let behind_fast = matches!(self.cpus[cpu as usize].state,
            CpuState::Task { task, .. } if self.tasks[task as usize].fast.run_grant.is_some());
        let local = self.cpus[cpu as usize].fast_preempting.take() == Some(id) && behind_fast;
        let ran = self.now.saturating_sub(self.tasks[id as usize].run_started());
        let resumes = local
            && self.tasks[id as usize].slice_left >= self.slice_min_ns / 4
            && !self.yields_to_waiting(cpu, id, ran);
        self.stopped(id, cpu, true);
        let t = &mut self.tasks[id as usize];
        t.runnable_since = self.now;
        if resumes {
            self.counters.fast_resumes += 1;
            t.resumed_ran = ran;
            t.resumed = true;
            t.fast.run_grant = None;
            t.generation += 1;
            let vtime = t.vtime;
            if t.run_shared && t.allowed.count > 1 {
                self.insert(QueueId::Shared, id, vtime);
                self.kick_for_shared(id);
            } else {
                self.insert(QueueId::Local(cpu), id, vtime);
            }
            return;
        }
        t.slice_left = 0;
        self.enqueue(id, cpu, false);
    }

    /// Applies one decision from user space.
    fn apply_decision(&mut self, d: &Decision) {
        let idx = i64::from(d.pid) - i64::from(PID_BASE);
        let live = usize::try_from(idx).ok().filter(|&i| i < self.tasks.len()).filter(|&i| {
            let t = &self.tasks[i];
            t.state == TaskState::InUser && t.generation == d.generation
        });
        let Some(i) = live else {
            self.counters.stale += 1;
            return;
        };
        let id = i as TaskId;
        let nr_cpus = self.cpus.len() as u32;
        let vtime = clamp_vtime(d.vtime, self.vtime_now);
        if vtime != d.vtime {
            self.counters.vtime_clamped += 1;
        }
        if let Some(r) = &mut self.recorder {
            let target = match d.target {
                Target::Cpu(c) if c < nr_cpus => c as i32,
                _ => -1,
            };
            r.decision(self.now, d.pid, target.max(0) as u32, d.slice_ns, target);
        }
        let t = &mut self.tasks[i];
        t.vtime = vtime;
        t.vtime_clamped = vtime != d.vtime;
        t.decided_at = self.now;
        if d.slice_ns > 0 {
            t.slice_left = d.slice_ns;
        } else if t.slice_left == 0 {
            t.slice_left = self.slice_ns;
        }
        self.counters.decisions_applied += 1;
        match d.target {
            Target::Cpu(c) if c < nr_cpus => {
                let c = if t.allowed.contains(c) {
                    c
                } else {
                    self.counters.bounced += 1;
                    if t.allowed.contains(t.prev_cpu) {
                        t.prev_cpu
                    } else {
                        t.allowed.first
                    }
                };
                self.insert(QueueId::Local(c), id, vtime);
                self.kick(c);
            }
            // A task that may run on one CPU only waits in that CPU's own
            // queue (the BPF's decision_dsq).
            _ if t.allowed.count == 1 => {
                let c = t.allowed.first;
                self.insert(QueueId::Local(c), id, vtime);
                self.kick(c);
            }
            _ => {
                self.insert(QueueId::Shared, id, vtime);
                self.kick_for_shared(id);
            }
        }
    }

    /// The watchdog, at a tick of the heartbeat timer: places every task
    /// that has been in user space for the stall timeout; if the user side
    /// made no progress for that long either, places everything it holds
    /// and turns the fallback on.
    pub(crate) fn on_watchdog(&mut self) {
        self.watchdog_armed = false;
        let timeout = self.stall_timeout_ns;
        let mut rescued = false;
        while let Some(&(since, id, generation)) = self.watch.front() {
            let t = &self.tasks[id as usize];
            if t.state != TaskState::InUser || t.generation != generation {
                self.watch.pop_front();
                continue;
            }
            if since + timeout > self.now {
                break;
            }
            self.watch.pop_front();
            self.counters.fallback_dispatches += 1;
            self.place_by_kernel(id);
            rescued = true;
        }
        if rescued && !self.fallback_mode && self.now.saturating_sub(self.user.last_progress) >= timeout {
            self.fallback_mode = true;
            self.counters.fallback_episodes += 1;
            while let Some((_, id, generation)) = self.watch.pop_front() {
                let t = &self.tasks[id as usize];
                if t.state == TaskState::InUser && t.generation == generation {
                    self.counters.fallback_dispatches += 1;
                    self.place_by_kernel(id);
                }
            }
        }
        if let Some(&(since, _, _)) = self.watch.front() {
            self.watchdog_armed = true;
            self.events.push(self.timer_tick_at_or_after(since + timeout), Event::Watchdog);
        }
    }

    /// The heartbeat timer's first tick at or after `t` (it ticks every
    /// `timer_ns` from the start): when the dispatcher sees a task that has
    /// waited in user space since `t - stall_timeout` (the BPF's
    /// `heartbeat_fn`, whose `rescue_check` and `check_stalled` act on it).
    fn timer_tick_at_or_after(&self, t: u64) -> u64 {
        t.div_ceil(self.timer_ns) * self.timer_ns
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use scheduler_core::{
        cpu::Topology,
        engine::{Engine, EngineConfig},
    };

    use crate::{
        fast_path::Idle, tasks::CpuRange, Affinity, Behavior, Count, SimConfig, TaskClass, TaskGroup, Workload,
    };

    /// A machine of `nr_cpus` CPUs (one LLC) running `hogs` hogs under the
    /// `Idle` policy, its configuration otherwise `config`'s.
    fn hog_machine(nr_cpus: u32, hogs: u32, config: SimConfig) -> Machine {
        let group = TaskGroup::new(TaskClass::Hog, Count::Fixed(hogs), Behavior::Hog);
        let config = SimConfig { nr_cpus, workload: Workload::Custom(vec![group]), ..config };
        let topology = Topology::uniform(nr_cpus, 1, nr_cpus);
        let engine = Engine::new(Box::new(Idle), topology.clone(), EngineConfig::default());
        Machine::new(&config, engine, topology)
    }

    /// A 2-CPU machine with one hog, allowed `affinity`, handed to user space.
    fn one_task_in_user(affinity: Affinity) -> Machine {
        let group = TaskGroup::new(TaskClass::Hog, Count::Fixed(1), Behavior::Hog).affinity(affinity);
        let config = SimConfig { nr_cpus: 2, workload: Workload::Custom(vec![group]), ..SimConfig::default() };
        let topology = Topology::uniform(2, 1, 2);
        let engine = Engine::new(Box::new(Idle), topology.clone(), EngineConfig::default());
        let mut m = Machine::new(&config, engine, topology);
        m.enqueue(0, 0, true);
        assert_eq!((m.tasks[0].state, m.tasks[0].generation), (TaskState::InUser, 1));
        m
    }

    /// Only a decision echoing the task's current generation is applied;
    /// older and repeated ones are stale.
    #[test]
    fn generation_check() {
        let mut m = one_task_in_user(Affinity::All);
        let record = m.channels.queued[0];
        let mut old = record.decide(Target::Any, 1_000, 7);
        old.generation = 0;
        m.apply_decision(&old);
        assert_eq!((m.counters.stale, m.tasks[0].state), (1, TaskState::InUser));
        m.apply_decision(&record.decide(Target::Any, 1_000, 7));
        assert_eq!(m.tasks[0].state, TaskState::Queued(QueueId::Shared));
        assert_eq!((m.tasks[0].vtime, m.tasks[0].slice_left), (7, 1_000));
        m.apply_decision(&record.decide(Target::Cpu(1), 1_000, 7));
        assert_eq!((m.counters.stale, m.counters.decisions_applied), (2, 1));
        m.verify().unwrap();
    }

    /// A decision's vtime far from the clock (garbage such as 2^62, or
    /// u64::MAX, which wrap-aware is just below 0) is clamped to the window
    /// around `vtime_now`, and counted, and its run leaves the clock where it
    /// was; one within the window is kept, and its run moves the clock.
    #[test]
    fn garbage_vtime_is_clamped_and_does_not_move_the_clock() {
        use scheduler_core::wire::VTIME_WINDOW;
        for (sent, queued, clock) in
            [(1 << 62, VTIME_WINDOW, 0), (u64::MAX, 0, 0), (VTIME_WINDOW, VTIME_WINDOW, VTIME_WINDOW)]
        {
            let mut m = one_task_in_user(Affinity::All);
            let record = m.channels.queued[0];
            m.apply_decision(&record.decide(Target::Any, 1_000, sent));
            assert_eq!(m.tasks[0].vtime, queued, "sent {sent}");
            assert_eq!(m.counters.vtime_clamped, u64::from(sent != queued), "sent {sent}");
            let next = m.consume_in_vtime_order(0);
            assert_eq!(next, Some(0), "sent {sent}");
            m.start_task(0, 0);
            assert_eq!(m.vtime_now, clock, "sent {sent}");
            m.verify().unwrap();
        }
    }

    /// A decision naming a CPU the task may not use goes to an allowed CPU
    /// and is counted; an unknown pid is stale.
    #[test]
    fn bounce_to_allowed_cpu() {
        let mut m = one_task_in_user(Affinity::Range { first: 1, count: 1 });
        let record = m.channels.queued[0];
        m.apply_decision(&record.decide(Target::Cpu(0), 0, 0));
        assert_eq!(m.tasks[0].state, TaskState::Queued(QueueId::Local(1)));
        assert_eq!(m.counters.bounced, 1);
        assert_eq!(m.tasks[0].slice_left, m.slice_ns, "slice 0 means the default slice");
        let mut ghost = record.decide(Target::Any, 0, 0);
        ghost.pid = 99_999;
        m.apply_decision(&ghost);
        assert_eq!(m.counters.stale, 1);
        m.verify().unwrap();
    }

    /// The rescue comes at the heartbeat timer's first tick after the stall
    /// timeout, as on the kernel: a task handed over at 30 ms with a
    /// 100 ms timeout (a 25 ms timer) is looked at by the tick of 150 ms.
    #[test]
    fn rescue_waits_for_a_timer_tick() {
        let mut m = hog_machine(1, 1, SimConfig { stall_timeout_ns: 100_000_000, ..SimConfig::default() });
        assert_eq!(m.timer_ns, 25_000_000);
        m.now = 30_000_000;
        m.enqueue(0, 0, true);
        let watchdog = std::iter::from_fn(|| m.events.pop()).find(|(_, e)| matches!(e, Event::Watchdog));
        assert_eq!(watchdog.map(|(at, _)| at), Some(150_000_000));
    }

    /// A CPU kicked from idle still reads idle to the user side until it
    /// starts something (the BPF's `cpu_state.idle`, which a kick does not
    /// change); one between two runs (its task left) does not.
    #[test]
    fn a_cpu_kicked_from_idle_reads_idle() {
        use scheduler_core::{backend::Backend, cpu::CpuView};
        let view = |m: &mut Machine| {
            let mut v = CpuView::new(Topology::uniform(2, 1, 2));
            let mut side = crate::channel::UserSide {
                channels: &mut m.channels,
                cpus: &m.cpus,
                tasks: &m.tasks,
                now_ns: m.now,
                task_shared: None,
            };
            side.refresh_cpus(&mut v);
            v.idle_cpus().collect::<Vec<_>>()
        };
        let mut m = hog_machine(2, 1, SimConfig::default());
        m.cpus[0].state = CpuState::Idle;
        m.cpus[1].state = CpuState::Idle;
        m.kick(1);
        assert_eq!(m.cpus[1].state, CpuState::Kicked);
        assert_eq!(view(&mut m), vec![0, 1], "kicked from idle");
        // A switch with a delay (a recorded machine's): Kicked until it dispatches.
        m.start_delays.switch_ns = vec![50_000];
        m.switch_after_leave(1).unwrap();
        assert_eq!(m.cpus[1].state, CpuState::Kicked, "its task left: a switch");
        assert_eq!(view(&mut m), vec![0], "between two runs");
    }

    /// A task's first enqueue, at its creation, is not a wakeup (no
    /// `SCX_ENQ_WAKEUP`), and it starts at `vtime_now` with the default
    /// slice (the BPF's `relay_enable`); its later ones are wakeups and
    /// keep its vtime.
    #[test]
    fn new_task_starts_at_vtime_now_without_wakeup() {
        use scheduler_core::task::ENQ_WAKEUP;
        let mut m = hog_machine(1, 2, SimConfig::default());
        m.start_task(0, 0);
        m.vtime_now = 5_000;
        m.wake(1);
        let first = m.channels.queued.pop_back().unwrap();
        assert_eq!((first.enq_flags & ENQ_WAKEUP, first.vtime), (0, 5_000));
        assert_eq!(m.tasks[1].slice_left, m.slice_ns);
        m.tasks[1].state = TaskState::Sleeping;
        m.tasks[1].vtime = 6_000;
        m.vtime_now = 9_000;
        m.wake(1);
        let second = m.channels.queued.pop_back().unwrap();
        assert_eq!((second.enq_flags & ENQ_WAKEUP, second.vtime), (ENQ_WAKEUP, 6_000));
    }

    /// The tick's rule: a slice over ends the run; before `slice_min`
    /// nothing else does; after it, a waiting key below the running task's
    /// key advanced by its run × 1024 / weight does, an equal or higher one
    /// does not; the user scheduler waiting for a CPU does.
    #[test]
    fn tick_rule() {
        let mut m = hog_machine(1, 2, SimConfig::default());
        let ms = 1_000_000;
        // Task 0 (half a nice-0 weight, key 100 ms) runs from 0 with a 50 ms slice;
        // task 1 waits with key 110 ms.
        m.tasks[0].weight = WEIGHT_DEFAULT / 2;
        (m.tasks[0].vtime, m.tasks[0].slice_left) = (100 * ms, 50 * ms);
        m.start_task(0, 0);
        m.insert(QueueId::Shared, 1, 110 * ms);
        let at = |m: &mut Machine, now: u64| {
            m.now = now;
            m.tick_wants_yield(0, 0, 0)
        };
        assert_eq!(at(&mut m, ms / 2), None, "before slice_min");
        assert_eq!(at(&mut m, 4 * ms), None, "100 + 4 × 2 = 108 ms < 110 ms");
        assert_eq!(at(&mut m, 5 * ms), None, "110 ms: not below");
        assert_eq!(at(&mut m, 8 * ms), Some(false), "116 ms > 110 ms");
        assert_eq!(at(&mut m, 50 * ms), Some(true), "slice over");
        m.tasks[0].weight = 2 * WEIGHT_DEFAULT;
        assert_eq!(at(&mut m, 8 * ms), None, "at twice a nice-0 weight: 104 ms");
        m.channels.queued.push_back(m.tasks[1].queued_task(0, true));
        assert_eq!(at(&mut m, 2 * ms), Some(false), "the user scheduler waits, and last ran on CPU 0");
        assert_eq!(at(&mut m, ms / 2), None, "but not before slice_min");
        m.user.last_cpu = 1;
        assert_eq!(at(&mut m, 2 * ms), None, "it last ran on another CPU");
    }

    /// A decision for any CPU sends a task allowed one CPU only to that
    /// CPU's own queue, not the shared one.
    #[test]
    fn a_pinned_task_decided_for_any_cpu_waits_in_its_cpus_queue() {
        let mut m = one_task_in_user(Affinity::Range { first: 1, count: 1 });
        let record = m.channels.queued[0];
        m.apply_decision(&record.decide(Target::Any, 0, 0));
        assert_eq!(m.tasks[0].state, TaskState::Queued(QueueId::Local(1)));
        assert!(m.shared.is_empty());
    }

    /// The tick's rule for a task pinned to the CPU: the running task (key
    /// lower than the waiter's, so the key rule keeps it) makes room when
    /// another CPU it may use runs a higher key than the waiter's, or idles;
    /// not when every other CPU runs a lower key, nor when it is pinned
    /// itself, nor for a waiter allowed elsewhere.
    #[test]
    fn tick_rule_for_a_pinned_waiter() {
        let ms = 1_000_000;
        let group = TaskGroup::new(TaskClass::Hog, Count::Fixed(2), Behavior::Hog);
        let pinned = TaskGroup::new(TaskClass::Affinity, Count::Fixed(1), Behavior::Hog)
            .affinity(Affinity::Range { first: 0, count: 1 });
        let config = SimConfig { nr_cpus: 2, workload: Workload::Custom(vec![group, pinned]), ..SimConfig::default() };
        let topology = Topology::uniform(2, 1, 2);
        let engine = Engine::new(Box::new(Idle), topology.clone(), EngineConfig::default());
        let mut m = Machine::new(&config, engine, topology);
        // Task 0 (key 100 ms) runs on CPU 0, task 1 on CPU 1; task 2, pinned
        // to CPU 0, waits there with key 110 ms.
        (m.tasks[0].vtime, m.tasks[0].slice_left) = (100 * ms, 50 * ms);
        m.start_task(0, 0);
        m.tasks[1].slice_left = 50 * ms;
        m.insert(QueueId::Local(0), 2, 110 * ms);
        let at = |m: &mut Machine, now: u64| {
            m.now = now;
            m.tick_wants_yield(0, 0, 0)
        };
        m.tasks[1].vtime = 120 * ms;
        m.start_task(1, 1);
        assert_eq!(at(&mut m, ms / 2), None, "before slice_min");
        assert_eq!(at(&mut m, 2 * ms), Some(false), "CPU 1 runs 120 ms > 110 ms: task 0 makes room");
        m.tasks[1].vtime = 105 * ms;
        assert_eq!(at(&mut m, 2 * ms), None, "CPU 1 runs 105 ms < 110 ms: the waiter is the latest");
        m.cpus[1].state = CpuState::Idle;
        assert_eq!(at(&mut m, 2 * ms), Some(false), "CPU 1 idles");
        m.tasks[0].allowed = CpuRange { first: 0, count: 1 };
        assert_eq!(at(&mut m, 2 * ms), None, "task 0 is pinned too");
        m.tasks[0].allowed = CpuRange { first: 0, count: 2 };
        m.tasks[2].allowed = CpuRange { first: 0, count: 2 };
        assert_eq!(at(&mut m, 2 * ms), None, "the waiter may run elsewhere");
    }

    /// The watchdog places a task left in user space for the timeout, and
    /// (the user side having never made progress) turns the fallback on.
    #[test]
    fn watchdog_rescues_and_falls_back() {
        let mut m = one_task_in_user(Affinity::All);
        m.user.stalled = true;
        m.now = m.stall_timeout_ns;
        m.on_watchdog();
        assert_eq!(m.tasks[0].state, TaskState::Queued(QueueId::Shared));
        assert!(m.fallback_mode);
        assert_eq!((m.counters.fallback_dispatches, m.counters.fallback_episodes), (1, 1));
        let record = m.channels.queued[0];
        m.apply_decision(&record.decide(Target::Any, 0, 0));
        assert_eq!(m.counters.stale, 1, "the late decision is stale");
        m.verify().unwrap();
    }
}
