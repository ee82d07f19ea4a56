//! The model of the dispatcher's wakeup fast path and of the per-task
//! context it shares with user space (`scheduler_core::shared`; in
//! `main.bpf.c`, "The wakeup fast path": `task_shared`, `claim_slot`,
//! `valid_grant`, `fast_place`, `fast_cpu`, `fast_kick_timer`,
//! `fast_waiting_done`, `fast_accounting`, `take_fast_waiter`, and the
//! statistics of `relay_runnable` and `relay_stopping`): the slots tasks
//! claim, the statistics the dispatcher publishes in them, the placement
//! of a granted task's wakeup without the round trip to user space (at
//! once, or deferred until a CPU's task may be preempted), and the budget
//! it enforces. The rules are listed in the [crate] docs.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::{
    dispatcher::Prev,
    machine::{work_done, CpuState, Machine},
    queue::{Event, EventQueue, TaskId},
    tasks::QueueId,
    Behavior, Count, SimConfig, SimError, TaskClass, TaskGroup, Workload,
};
use scheduler_core::{
    cpu::Topology,
    engine::{Engine, EngineConfig},
    policy::{Policy, SchedContext},
    shared::{
        fast_share_limit_ns, find_slot, grant_budget_ns, grant_deferrable, grant_pid, placement_cpu, placement_pid,
        placement_weight, FAST_MAX_BUDGET_US, FAST_OVERRUNS, FAST_WINDOW_MS, IRQ_SHARE_ONE,
    },
    task::{Decision, QueuedTask, WEIGHT_DEFAULT},
};

/// How far below the lowest key a CPU serves a fast-placed task is queued
/// (the dispatcher's `FAST_KEY_LEAD`, 2^40 ns of vtime): below any key a
/// policy sends later too. The model's keys do not wrap, so it saturates
/// at 0 (the dispatcher's wrap-aware order puts such a key first too).
pub(crate) const FAST_KEY_LEAD: u64 = 1 << 40;

/// The window over which a task's fast-placed runs are bounded (ns).
const FAST_WINDOW_NS: u64 = FAST_WINDOW_MS * 1_000_000;
/// Most CPUs the search for a CPU to preempt looks at, from the task's own
/// on (the BPF's `FAST_SCAN_CPUS`).
pub(crate) const FAST_SCAN_CPUS: u32 = 64;

/// Where the fast path places a wakeup ([`Machine::pick_fast_cpu`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FastCpu {
    /// On this CPU at once: kicked if idle, its task preempted now if one
    /// runs.
    Now(u32),
    /// On this CPU, whose task may not be preempted yet (`fast_cpu`'s
    /// deferral): preempted when it has run `slice_min_ns`
    /// ([`Machine::on_fast_kick_timer`]), unless the task starts elsewhere
    /// first ([`Machine::take_fast_waiter`]).
    Deferred(u32),
}

impl FastCpu {
    /// The CPU.
    pub(crate) fn cpu(self) -> u32 {
        match self {
            FastCpu::Now(c) | FastCpu::Deferred(c) => c,
        }
    }
}

/// A grant's budget (ns), at most [`FAST_MAX_BUDGET_US`] and `slice_ns`
/// (the BPF's `grant_budget_ns`): a fast-placed run's slice.
fn budget_ns(grant: u64, slice_ns: u64) -> u64 {
    grant_budget_ns(grant).min(FAST_MAX_BUDGET_US * 1000).min(slice_ns)
}

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
    /// more wakeup, the period since the last one into its average, the
    /// task running where the wakeup happens (the waking CPU's task; 0 for
    /// a timer's wakeup, whose CPU the model does not place), and whether
    /// the wakeup came from an interrupt (a timer's: the BPF's
    /// `in_interrupt_context()`) into its count and moving share.
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
        let in_irq = self.waking_cpu.is_none();
        if in_irq {
            slot.nr_irq_wakeups.store(slot.nr_irq_wakeups.load(Relaxed).wrapping_add(1), Relaxed);
        }
        let share = slot.irq_wake_share.load(Relaxed);
        let sample = if in_irq { IRQ_SHARE_ONE } else { 0 };
        let share = if slot.nr_wakeups.load(Relaxed) == 1 { sample } else { share - share / 8 + sample / 8 };
        slot.irq_wake_share.store(share, Relaxed);
    }

    /// A fast-placed run of task `id` ends (it stops, or it is enqueued
    /// again): its key goes back to the one it had before the placement
    /// (the BPF's `fast_key_restore`: policies know a task by its key).
    pub(crate) fn fast_key_restore(&mut self, id: TaskId) {
        let t = &mut self.tasks[id as usize];
        if t.fast.run_grant.is_some() {
            t.vtime = t.fast.saved_vtime;
        }
    }

    /// Task `id` stops (leaves its CPU; `runnable`: it is still runnable,
    /// else it sleeps or exits): its run into `runtime_ns`; if it stops not
    /// runnable, its CPU time since its wakeup into `avg_burst_ns`. Then,
    /// at every stop, the fast path's accounting (see
    /// [`Machine::fast_accounting`]).
    pub(crate) fn stopped(&mut self, id: TaskId, cpu: u32, runnable: bool) {
        if self.cpus[cpu as usize].fast_preempting == Some(id) {
            self.cpus[cpu as usize].fast_preempting = None;
        }
        self.fast_key_restore(id);
        let t = &self.tasks[id as usize];
        let run = self.now.saturating_sub(t.start_ts);
        if let Some(slot) = find_slot(self.task_shared.slots(), t.pid) {
            add(&slot.runtime_ns, run);
            if !runnable {
                slot.avg_burst_ns.store(ewma(slot.avg_burst_ns.load(Relaxed), t.exec_runtime), Relaxed);
            }
        }
        self.fast_accounting(id, cpu, run, runnable);
    }

    /// At every stop of task `id` on `cpu`, after a run of `run` ns (the BPF's
    /// `fast_accounting`): a fast-placed run's fast status ends (if it
    /// preempted a hog by the hog rule, the rule rests on `cpu` for `run`
    /// ns: [`crate::machine::Cpu::hog_rule_after_ns`]), and its
    /// run goes into the task's window (restarted, empty, when it is over
    /// [`FAST_WINDOW_MS`] old); the grant is revoked if the fast-placed
    /// runs in the window used more than the run's effective weight allows
    /// ([`fast_share_limit_ns`]), or if
    /// the current wakeup was fast-placed (`burst_grant`) and its CPU time
    /// since then reached the budget — by this stop, whoever placed the
    /// run (the fast-placed run itself, stopping runnable or asleep, or a
    /// later, ordinary run of the same burst) — for the [`FAST_OVERRUNS`]-th
    /// fast-placed wakeup in a row (a burst that ends, `runnable` false,
    /// within its budget starts the count again). An overrun clears
    /// `burst_grant`; the revoke (`revoked_grant`, `revoked_ns = now`)
    /// names the grant the slot holds now (a policy that changed it in the
    /// middle of the burst had not seen the overrun), none if the policy
    /// withdrew it.
    pub(crate) fn fast_accounting(&mut self, id: TaskId, cpu: u32, run: u64, runnable: bool) {
        let (now, slice_ns) = (self.now, self.slice_ns);
        let t = &mut self.tasks[id as usize];
        let run_grant = t.fast.run_grant.take();
        let hog_run = std::mem::take(&mut t.fast.hog_run);
        let mut overrun = false;
        if run_grant.is_some() && hog_run {
            self.cpus[cpu as usize].hog_rule_after_ns = now + run;
        }
        let t = &mut self.tasks[id as usize];
        if run_grant.is_some() {
            let w = &mut t.fast;
            if now.saturating_sub(w.window_start_ns) > FAST_WINDOW_NS {
                w.window_start_ns = now;
                w.window_used_ns = 0;
            }
            w.window_used_ns = w.window_used_ns.saturating_add(run);
            overrun = w.window_used_ns > fast_share_limit_ns(w.run_weight);
        }
        if let Some(g) = t.fast.burst_grant {
            if t.exec_runtime >= budget_ns(g, slice_ns) {
                t.fast.burst_grant = None;
                t.fast.overruns = (t.fast.overruns + 1).min(FAST_OVERRUNS);
                self.counters.fast_overruns += 1;
                overrun |= t.fast.overruns >= FAST_OVERRUNS;
            } else if !runnable {
                t.fast.overruns = 0;
            }
        }
        if !overrun {
            return;
        }
        t.fast.burst_grant = None;
        t.fast.overruns = 0;
        let Some(slot) = find_slot(self.task_shared.slots(), t.pid) else { return };
        // The grant the slot holds now: a change the policy made in the
        // middle of the burst had not seen the overrun (main.bpf.c).
        let grant = slot.grant.load(Relaxed);
        if grant == 0 || grant_pid(grant) != t.pid {
            return;
        }
        slot.revoked_grant.store(grant, Relaxed);
        slot.revoked_ns.store(now, Relaxed);
        self.counters.fast_revoked += 1;
    }

    /// Task `id` no longer waits where the fast path placed it (it starts
    /// running, is enqueued again or exits; the BPF's `fast_waiting_done`):
    /// the CPU's `fast_waiting` is released if it still names the task.
    pub(crate) fn fast_waiting_done(&mut self, id: TaskId) {
        let Some(cpu) = self.tasks[id as usize].fast.wait_cpu.take() else { return };
        let c = &mut self.cpus[cpu as usize];
        if c.fast_waiting == Some(id) {
            c.fast_waiting = None;
            c.fast_waiting_deferred = false;
        }
    }

    /// The BPF's `fast_place`, for the wakeup of task `id` whose CPU (as
    /// `ops.select_cpu` left it) is `cpu`: if its slot holds a valid grant
    /// (for its own pid, with a budget — budget bits of 0 are no grant —,
    /// not the one last revoked), its own weight is still at least nice
    /// 0's (the policy's rule, checked again: a renice since the grant
    /// counts), a CPU is found ([`Machine::pick_fast_cpu`]) and no other
    /// fast-placed task waits there (`fast_waiting`, the BPF's
    /// compare-and-swap), the task is placed there
    /// ([`Machine::place_fast`]), at the effective weight of its placement
    /// word (if the word is its own; nice 0's otherwise), whose preferred
    /// CPU, if any, the search for a CPU starts from. Whether it was.
    pub(crate) fn try_fast_path(&mut self, id: TaskId, cpu: u32) -> bool {
        let t = &self.tasks[id as usize];
        let Some(slot) = find_slot(self.task_shared.slots(), t.pid) else { return false };
        let grant = slot.grant.load(Relaxed);
        if grant == 0
            || grant_pid(grant) != t.pid
            || grant_budget_ns(grant) == 0
            || grant == slot.revoked_grant.load(Relaxed)
        {
            return false;
        }
        if t.weight < WEIGHT_DEFAULT {
            return false;
        }
        let place = slot.placement.load(Relaxed);
        let place = if placement_pid(place) == t.pid { place } else { 0 };
        let Some(at) = self.pick_fast_cpu(id, cpu, placement_cpu(place)) else { return false };
        if self.cpus[at.cpu() as usize].fast_waiting.is_some() {
            return false;
        }
        slot.nr_fast_runs.store(slot.nr_fast_runs.load(Relaxed).wrapping_add(1), Relaxed);
        let weight = placement_weight(place).min(t.weight);
        self.place_fast(id, at, cpu, grant, weight);
        true
    }

    /// The BPF's `fast_cpu` for task `id`, whose CPU is `from`: the
    /// policy's preferred CPU `pref`, if the task may use it, it is idle
    /// (or kicked) with no fast-placed task waiting there, and it is not
    /// the user scheduler's CPU while that runs or waits for a CPU (the BPF
    /// claims its idle bit, and kicks `from` if that is idle: the model has
    /// no idle bits); else `from`
    /// itself if it may use it, it is idle (or kicked, not yet running
    /// anything: the BPF's `st->idle`) and no fast-placed task waits there;
    /// else an idle CPU it may use (the kernel's `scx_bpf_pick_idle_cpu`;
    /// here the first from `from` on, wrapping); else, scanning at most
    /// [`FAST_SCAN_CPUS`] CPUs from `from` on (wrapping), leaving out those
    /// it may not use, those where a fast-placed task waits or that run
    /// one, and the user scheduler's CPU (the one it last ran on) while it
    /// runs or waits for a CPU ([`Machine::user_wants_cpu`]): the first with
    /// nothing running (a CPU kicked, about to dispatch), else, among those
    /// whose task may be preempted ([`Machine::cpu_ran_slice_min`]: it ran
    /// `slice_min_ns` at least since it started; or [`Machine::fast_hog_rule`]:
    /// a CPU hog, with `preempt_hogs`, the rule not resting there), the one whose task started its run
    /// earliest (on a tie, the first scanned); all of these
    /// [`FastCpu::Now`]. The preferred CPU, if any, stands for `from` in
    /// that scan: its start, and preempted first. With none of these, for
    /// a light task (its average burst under a quarter of `slice_min_ns`,
    /// as for the hog rule) or a deferrable grant ([`Machine::is_deferrable`]),
    /// `fast_cpu`'s deferral: among the CPUs of the scan not left out that
    /// run an ordinary task (not fast-placed) that may not be preempted yet
    /// (neither rule holds), the one whose task started its run earliest
    /// (on a tie, the first scanned), [`FastCpu::Deferred`]; with none, for
    /// a light task, the user scheduler's CPU ([`Machine::user_cpu_deferral`]);
    /// `None` if there is none either.
    pub(crate) fn pick_fast_cpu(&self, id: TaskId, from: u32, pref: Option<u32>) -> Option<FastCpu> {
        let allowed = self.tasks[id as usize].allowed;
        let n = self.cpus.len() as u32;
        let from = from.min(n - 1);
        let idle = |c: u32| self.cpus[c as usize].state == CpuState::Idle;
        let user_cpu_taken = self.user.running_on.is_some() || self.user_wants_cpu();
        // The preferred CPU, idle (its idle bit claimed), unless the
        // waiting user scheduler runs there next.
        let pref = pref.filter(|&p| p < n && p != from && allowed.contains(p));
        if let Some(p) = pref {
            let cpu = &self.cpus[p as usize];
            if matches!(cpu.state, CpuState::Idle | CpuState::Kicked)
                && cpu.fast_waiting.is_none()
                && !(p == self.user.last_cpu && user_cpu_taken)
            {
                return Some(FastCpu::Now(p));
            }
        }
        // Its own CPU (select_cpu's choice), idle: kicked included, which
        // is idle until it runs something (the BPF's `st->idle`). (A CPU
        // kicked after its task left, under start delays, is not idle to
        // the BPF: a simplification, only with `StartDelays`.)
        let own = &self.cpus[from as usize];
        if allowed.contains(from)
            && matches!(own.state, CpuState::Idle | CpuState::Kicked)
            && own.fast_waiting.is_none()
        {
            return Some(FastCpu::Now(from));
        }
        // The allowed CPUs from `from` on, wrapping.
        let (first, end) = (allowed.first, allowed.first + allowed.count);
        let mut from_on = (from.max(first)..end).chain(first..from.min(end));
        if let Some(c) = from_on.find(|&c| idle(c)) {
            return Some(FastCpu::Now(c));
        }
        // The search for a task to preempt starts from the preferred CPU,
        // which stands for its own.
        let home = pref.unwrap_or(from);
        let light = self.is_light(id);
        let deferrable = light || self.is_deferrable(id);
        // (start, CPU): the task to preempt now, and the one to preempt
        // once it ran slice_min (the deferral).
        let mut best: Option<(u64, u32)> = None;
        let mut deferral: Option<(u64, u32)> = None;
        let scanned = (home..n).chain(0..home).take(FAST_SCAN_CPUS as usize);
        for c in scanned.filter(|&c| allowed.contains(c)) {
            let cpu = &self.cpus[c as usize];
            if cpu.fast_waiting.is_some() || (c == self.user.last_cpu && user_cpu_taken) {
                continue;
            }
            let task = match cpu.state {
                CpuState::Idle | CpuState::Kicked => return Some(FastCpu::Now(c)),
                CpuState::User { .. } => continue,
                CpuState::Task { task, .. } => &self.tasks[task as usize],
            };
            if task.fast.run_grant.is_some() {
                continue;
            }
            if !(self.cpu_ran_slice_min(c) || self.fast_hog_rule(light, c)) {
                if deferrable && deferral.is_none_or(|(started, _)| task.run_started() < started) {
                    deferral = Some((task.run_started(), c));
                }
                continue;
            }
            // Its own CPU (or the preferred one) first: a local
            // preemption, no IPI (the BPF's `fast_cpu`).
            if c == home {
                return Some(FastCpu::Now(c));
            }
            if best.is_none_or(|(started, _)| task.run_started() < started) {
                best = Some((task.run_started(), c));
            }
        }
        match (best, deferral) {
            (Some((_, c)), _) => Some(FastCpu::Now(c)),
            (None, Some((_, c))) => Some(FastCpu::Deferred(c)),
            (None, None) => self.user_cpu_deferral(id, light),
        }
    }

    /// The deferral's last target, for a `light` task (the BPF's
    /// `fast_defer_cpu`, after its scan): the user scheduler's CPU, while
    /// it runs there or waits for it, if the task may run there and no
    /// fast-placed task runs or waits there. Its next dispatch serves the
    /// task before the user scheduler: when the user scheduler's step ends,
    /// or, while it waits, when the CPU's task is preempted for it once it
    /// ran `slice_min_ns` (the timer). Through user space the task would
    /// wait for that same user scheduler, and for a CPU after its decision.
    fn user_cpu_deferral(&self, id: TaskId, light: bool) -> Option<FastCpu> {
        let c = self.user.last_cpu;
        let user_cpu_taken = self.user.running_on.is_some() || self.user_wants_cpu();
        let cpu = self.cpus.get(c as usize)?;
        let fast_runs = match cpu.state {
            CpuState::Task { task, .. } => self.tasks[task as usize].fast.run_grant.is_some(),
            _ => false,
        };
        (light
            && user_cpu_taken
            && self.tasks[id as usize].allowed.contains(c)
            && cpu.fast_waiting.is_none()
            && !fast_runs)
            .then_some(FastCpu::Deferred(c))
    }

    /// Whether `cpu` runs a task (not the user scheduler) that has run
    /// `slice_min_ns` at least since it started there (the BPF's
    /// `cpu_ran_slice_min`): only such a task, or a CPU hog
    /// ([`Machine::fast_hog_rule`]), may be preempted for a fast-placed
    /// wakeup, so a task pinned beside fast tasks still runs. (Not a burst
    /// rule, every task past `slice_min_ns` since it last woke: one had
    /// hackbench's granted readers preempt its writers at every wakeup in
    /// the guest.)
    pub(crate) fn cpu_ran_slice_min(&self, cpu: u32) -> bool {
        let CpuState::Task { task, .. } = self.cpus[cpu as usize].state else { return false };
        self.now.saturating_sub(self.tasks[task as usize].run_started()) >= self.slice_min_ns
    }

    /// Whether task `id`'s grant is deferrable (the grant word's bit, the
    /// BPF's `grant & RELAY_GRANT_DEFERRABLE` in `fast_place`): the policy
    /// lets its wakeup wait on a CPU whose task has not run `slice_min_ns`,
    /// as a light task's does ([`Machine::pick_fast_cpu`]).
    pub(crate) fn is_deferrable(&self, id: TaskId) -> bool {
        find_slot(self.task_shared.slots(), self.tasks[id as usize].pid)
            .is_some_and(|s| grant_deferrable(s.grant.load(Relaxed)))
    }

    /// Whether task `id` is light (the BPF's `light` in `fast_place`): its
    /// slot's average burst is under a quarter of `slice_min_ns`. Only a
    /// light task takes a hog by the rule ([`Machine::fast_hog_rule`]) or
    /// is deferred onto the user scheduler's CPU, and a light task is
    /// deferred whether its grant is deferrable or not
    /// ([`Machine::pick_fast_cpu`]).
    pub(crate) fn is_light(&self, id: TaskId) -> bool {
        find_slot(self.task_shared.slots(), self.tasks[id as usize].pid)
            .is_some_and(|s| s.avg_burst_ns.load(Relaxed) < self.slice_min_ns / 4)
    }

    /// Whether a fast-placed wakeup of a task, `light` or not
    /// ([`Machine::is_light`]), may preempt `cpu`'s task at once as a
    /// CPU hog (the BPF's `fast_hog_rule`): a light task,
    /// [`Machine::cpu_runs_hog`], and
    /// the rule does not rest on `cpu` (see
    /// [`crate::machine::Cpu::hog_rule_after_ns`]: without the rest,
    /// granted tasks that ran 45 % of a CPU each, twice as many as the
    /// CPUs, left pinned hogs 16 % of a CPU, under half an even split).
    pub(crate) fn fast_hog_rule(&self, light: bool, cpu: u32) -> bool {
        light && self.cpu_runs_hog(cpu) && self.now >= self.cpus[cpu as usize].hog_rule_after_ns
    }

    /// Places task `id`, woken under `grant`, in the own queue of the CPU
    /// `at` names at a key
    /// below everything that CPU serves (the lowest of its own queue's head,
    /// the shared queue's head and `vtime_now`, less [`FAST_KEY_LEAD`],
    /// saturating at 0), with a slice of the
    /// budget (at most the default slice), and names it in the CPU's
    /// `fast_waiting` (which must be free: its dispatch serves its queues
    /// before the user scheduler until the task runs). [`FastCpu::Now`]:
    /// an idle CPU is kicked; one that runs a task gets a preempt kick
    /// ([`Event::FastKick`]; counted as a fast preempt, and as a hog
    /// preempt, the run a hog run, if that task had not run
    /// `slice_min_ns`). [`FastCpu::Deferred`]: no kick; the CPU's
    /// `fast_kick_timer` is armed for when its task will have run
    /// `slice_min_ns` ([`Machine::arm_fast_kick_timer`]; counted as
    /// deferred, neither a preempt nor a hog run). Its run is
    /// fast-placed until it next stops, and its wakeup (`burst_grant`)
    /// until its next wakeup or an overrun.
    pub(crate) fn place_fast(&mut self, id: TaskId, at: FastCpu, from: u32, grant: u64, weight: u64) {
        let cpu = at.cpu();
        // Below the key of what it preempts too (the BPF's cpu_running_key).
        let running = match self.cpus[cpu as usize].state {
            CpuState::Task { task, .. } => Some(self.tasks[task as usize].vtime),
            _ => None,
        };
        let heads = [self.cpus[cpu as usize].dsq.head_vtime(), self.shared.head_vtime(), Some(self.vtime_now), running];
        let key = heads.into_iter().flatten().min().unwrap_or(0).saturating_sub(FAST_KEY_LEAD);
        let t = &mut self.tasks[id as usize];
        // Its key (the BPF's dsq_vtime): the tick compares it with what
        // waits; its own comes back when the run ends (fast_key_restore).
        t.fast.saved_vtime = t.vtime;
        t.vtime = key;
        t.slice_left = budget_ns(grant, self.slice_ns);
        t.fast.run_grant = Some(grant);
        t.fast.run_weight = weight;
        t.fast.burst_grant = Some(grant);
        t.fast.wait_cpu = Some(cpu);
        self.insert(QueueId::Local(cpu), id, key);
        self.cpus[cpu as usize].fast_waiting = Some(id);
        self.counters.fast_placed += 1;
        if let FastCpu::Deferred(_) = at {
            self.cpus[cpu as usize].fast_waiting_deferred = true;
            self.counters.fast_deferred += 1;
            self.arm_fast_kick_timer(cpu);
            return;
        }
        match self.cpus[cpu as usize].state {
            CpuState::Idle => self.kick(cpu),
            CpuState::Task { task, .. } => {
                self.counters.fast_preempts += 1;
                if cpu == from {
                    // Local: the preempted task may resume (Machine::preempt).
                    self.cpus[cpu as usize].fast_preempting = Some(task);
                }
                if !self.cpu_ran_slice_min(cpu) {
                    self.counters.fast_hog_preempts += 1;
                    self.tasks[id as usize].fast.hog_run = true;
                }
                self.events.push(self.now, Event::FastKick(cpu));
            }
            CpuState::Kicked | CpuState::User { .. } => {}
        }
    }

    /// The fast path's preempt kick reaches `cpu`: the running task stops
    /// now (`SCX_KICK_PREEMPT` zeroes its slice; it is enqueued again, not
    /// as a wakeup) and the CPU dispatches, which serves its queues first
    /// while the fast-placed task waits. A task a local placement preempts
    /// (the BPF's `SCX_ENQ_PREEMPT`, no kick) keeps what is left of its
    /// slice here: [`Machine::preempt`] may put it back with it. Nothing happens if no fast-placed
    /// task waits there any more (it started: the kick's purpose is
    /// served), or if the running task's burst ends at this instant (that
    /// event dispatches).
    pub(crate) fn on_fast_kick(&mut self, cpu: u32) -> Result<(), SimError> {
        if self.cpus[cpu as usize].fast_waiting.is_none() {
            return Ok(());
        }
        let CpuState::Task { task, since } = self.cpus[cpu as usize].state else { return Ok(()) };
        if since > self.now {
            // Held for its start: the kick comes when it starts.
            self.events.push(since, Event::FastKick(cpu));
            return Ok(());
        }
        if self.tasks[task as usize].burst_left <= work_done(self.now - since, self.topology.capacity(cpu)) {
            return Ok(());
        }
        self.account(cpu, task, since);
        if self.cpus[cpu as usize].fast_preempting != Some(task) {
            self.tasks[task as usize].slice_left = 0;
        }
        self.dispatch(cpu, Prev::Task(task))
    }

    /// Arms `cpu`'s `fast_kick_timer` (the BPF's `bpf_timer_start` on it)
    /// for when the task running there will have run `slice_min_ns` since
    /// it started there (its `run_started() + slice_min_ns`), replacing any time
    /// it was armed for; it fires as [`Event::FastKickTimer`]. Nothing if
    /// `cpu` runs no task.
    pub(crate) fn arm_fast_kick_timer(&mut self, cpu: u32) {
        let CpuState::Task { task, .. } = self.cpus[cpu as usize].state else { return };
        // Not before now: a task on the user scheduler's CPU, the
        // deferral's last target, may have had its slice_min already (the
        // BPF's defer_ns of 1).
        let at = self.tasks[task as usize].run_started().saturating_add(self.slice_min_ns).max(self.now);
        self.cpus[cpu as usize].fast_kick_timer = Some(at);
        self.events.push(at, Event::FastKickTimer(cpu));
    }

    /// `cpu`'s `fast_kick_timer` fires (the BPF's `fast_kick_fn`; an event
    /// for a time it is no longer armed for is stale and ignored): nothing
    /// if no fast-placed task waits there any more (it started, here or
    /// elsewhere: [`Machine::take_fast_waiter`]); an idle CPU is kicked
    /// (counted in `fast_timer_kicks`; in the model a CPU never idles with
    /// a task waiting, as placement and dispatch do not race); a CPU
    /// kicked or running the user scheduler gets the timer again in
    /// `slice_min_ns` (its next dispatch serves the waiting task first);
    /// if its task has not run `slice_min_ns` since it started there
    /// (another task started meanwhile), the timer is armed again for that
    /// task; else that task is preempted as by the fast path's preempt
    /// kick ([`Machine::on_fast_kick`]; counted in `fast_timer_kicks`).
    pub(crate) fn on_fast_kick_timer(&mut self, cpu: u32) -> Result<(), SimError> {
        let c = &mut self.cpus[cpu as usize];
        if c.fast_kick_timer != Some(self.now) {
            return Ok(());
        }
        c.fast_kick_timer = None;
        if c.fast_waiting.is_none() {
            return Ok(());
        }
        match c.state {
            CpuState::Idle => {
                self.counters.fast_timer_kicks += 1;
                self.kick(cpu);
                return Ok(());
            }
            CpuState::Kicked | CpuState::User { .. } => {
                let at = self.now.saturating_add(self.slice_min_ns);
                c.fast_kick_timer = Some(at);
                self.events.push(at, Event::FastKickTimer(cpu));
                return Ok(());
            }
            CpuState::Task { .. } => {}
        }
        if !self.cpu_ran_slice_min(cpu) {
            self.arm_fast_kick_timer(cpu);
            return Ok(());
        }
        self.counters.fast_timer_kicks += 1;
        self.on_fast_kick(cpu)
    }

    /// `take_fast_waiter` in the BPF's `relay_dispatch`, on `cpu`, which
    /// found nothing to run in its own queue and the shared queue (before
    /// aging when it did not age first, keeping its task or going idle):
    /// the first other CPU, in index
    /// order, whose `fast_waiting` names a deferred task
    /// (`fast_waiting_deferred`: a task kicked at once runs there next, its
    /// CPU's task preempted for it) heading its own queue, allowed on
    /// `cpu`, gives that task up (out of its queue: `cpu` starts
    /// it, and its start releases that CPU's `fast_waiting`, whose timer
    /// then finds no waiter). Counted as `fast_moved`. The task, if any.
    pub(crate) fn take_fast_waiter(&mut self, cpu: u32) -> Option<TaskId> {
        let from = (0..self.cpus.len() as u32).filter(|&c| c != cpu).find(|&c| {
            let other = &self.cpus[c as usize];
            other.fast_waiting_deferred
                && other
                    .fast_waiting
                    .is_some_and(|w| other.dsq.first() == Some(w) && self.tasks[w as usize].allowed.contains(cpu))
        })?;
        let id = self.cpus[from as usize].dsq.pop_first()?;
        self.counters.fast_moved += 1;
        Some(id)
    }
}

/// Decides nothing (the machines of [`saturated`], and the dispatcher's
/// unit tests, are driven by hand).
pub(crate) struct Idle;
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

/// A machine of `nr_cpus` CPUs (one LLC) each running a hog (task `c` on
/// CPU `c`, started at `c` µs), and a periodic task allowed on every CPU
/// (task `nr_cpus`) that joined and sleeps, at 2 ms (every hog has run
/// `slice_min_ns`, 1 ms, and may be preempted); nothing scheduled.
pub(crate) fn saturated(nr_cpus: u32) -> Machine {
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
    m.events = EventQueue::default();
    let p = nr_cpus;
    m.claim_slot(p);
    m.tasks[p as usize].enabled = true;
    m.now = 2_000_000;
    m
}

/// The fast-path decision, for the benchmarks (`benches/fast_path.rs`);
/// not an API.
pub mod bench {
    use super::{saturated, Machine, QueueId, TaskId};
    use crate::tasks::TaskState;
    use scheduler_core::shared::{find_slot, FastGrant};

    /// A machine whose every CPU runs a hog (the hog of CPU `c` started at
    /// `c` µs), and a sleeping task allowed on every CPU, granted the fast
    /// path.
    pub struct FastPathBench {
        machine: Machine,
        task: TaskId,
    }

    impl FastPathBench {
        /// `nr_cpus` CPUs, each running a hog, and a granted sleeping task.
        pub fn saturated(nr_cpus: u32) -> Self {
            let machine = saturated(nr_cpus);
            let task = nr_cpus;
            let pid = machine.tasks[task as usize].pid;
            if let Some(s) = find_slot(machine.task_shared.slots(), pid) {
                s.publish(pid, Some(FastGrant::new(1_000_000)));
            }
            Self { machine, task }
        }

        /// The fast path for one wakeup of the task (its CPU: 0): the grant
        /// check, the CPU pick among the hogs, the insert into that CPU's
        /// queue and its preempt kick — then undone (out of the queue,
        /// asleep, the kick, or a deferral's timer, dropped), so that each
        /// call sees the same machine. The CPU picked.
        pub fn wakeup(&mut self) -> Option<u32> {
            let m = &mut self.machine;
            if !m.try_fast_path(self.task, 0) {
                return None;
            }
            let TaskState::Queued(QueueId::Local(cpu)) = m.tasks[self.task as usize].state else { return None };
            // The only task in that CPU's queue.
            m.cpus[cpu as usize].dsq.pop_first();
            m.cpus[cpu as usize].fast_waiting = None;
            let t = &mut m.tasks[self.task as usize];
            t.state = TaskState::Sleeping;
            t.fast.run_grant = None;
            t.fast.burst_grant = None;
            t.fast.wait_cpu = None;
            m.cpus[cpu as usize].fast_kick_timer = None;
            m.cpus[cpu as usize].fast_preempting = None;
            m.events.pop();
            Some(cpu)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::tasks::{FastState, TaskState};
    use scheduler_core::{
        shared::{grant_word, placement_word, FastGrant, GRANT_BUDGET_MASK, GRANT_BUDGET_SHIFT},
        task::nice_to_weight,
    };

    fn slot(m: &Machine, id: TaskId) -> &scheduler_core::TaskSharedSlot {
        find_slot(m.task_shared.slots(), m.tasks[id as usize].pid).unwrap()
    }

    /// A granted wakeup on a saturated machine preempts its own CPU, else
    /// the CPU whose task ran longest (on a tie, the first scanned from the
    /// task's CPU), runs
    /// first there, and never reaches user space; the preempted task goes
    /// to user space (task 1's key, below its own advanced by its run,
    /// waits in the shared queue: it would yield at a tick now).
    #[test]
    fn granted_wakeup_preempts_the_longest_running_task() {
        let mut m = saturated(4);
        let p = 4;
        let pid = m.tasks[p as usize].pid;
        slot(&m, p).publish(pid, Some(FastGrant::new(300_000)));
        m.tasks[1].start_ts = 0; // CPUs 0 and 1 tie
        assert_eq!(m.pick_fast_cpu(p, 1, None), Some(FastCpu::Now(1)), "scanned from CPU 1: 1 first");
        assert_eq!(m.pick_fast_cpu(p, 2, None), Some(FastCpu::Now(2)), "its own CPU first: a local preemption");
        m.tasks[p as usize].allowed = crate::tasks::CpuRange { first: 0, count: 2 };
        assert_eq!(
            m.pick_fast_cpu(p, 2, None),
            Some(FastCpu::Now(0)),
            "not allowed on 2: 0 and 1 tie, 0 scanned first"
        );
        m.tasks[p as usize].allowed = crate::tasks::CpuRange { first: 0, count: 4 };
        m.vtime_now = 50;
        m.insert(QueueId::Shared, 1, 30);
        m.tasks[1].state = TaskState::Running(1); // (only its queue entry is wanted)
        m.wake(p); // its CPU is 0
        assert_eq!(m.tasks[p as usize].state, TaskState::Queued(QueueId::Local(0)));
        assert_eq!(m.cpus[0].dsq.head_vtime(), Some(0), "FAST_KEY_LEAD below the heads and vtime_now, saturated");
        assert_eq!(m.tasks[p as usize].slice_left, 300_000);
        assert!(m.channels.queued.is_empty(), "not handed to user space");
        assert_eq!((m.counters.fast_placed, m.counters.fast_preempts), (1, 1));
        assert_eq!(slot(&m, p).nr_fast_runs.load(Relaxed), 1);
        // A second granted wakeup may not take CPU 0 (a fast task waits there).
        assert_eq!(m.pick_fast_cpu(p, 0, None), Some(FastCpu::Now(1)));
        let (at, ev) = std::iter::from_fn(|| m.events.pop()).find(|(_, e)| matches!(e, Event::FastKick(_))).unwrap();
        assert_eq!((at, ev), (m.now, Event::FastKick(0)));
        m.on_fast_kick(0).unwrap();
        assert_eq!(m.tasks[p as usize].state, TaskState::Running(0));
        assert_eq!(m.tasks[0].state, TaskState::InUser, "the preempted hog goes to user space");
        assert_eq!(m.cpus[0].fast_waiting, None);
        // CPU 0 runs a fast-placed task: not a candidate any more.
        assert_eq!(m.pick_fast_cpu(p, 0, None), Some(FastCpu::Now(1)));
    }

    /// A task that a local fast placement (on the woken task's own CPU)
    /// preempts goes back into that CPU's queue with its key and the slice
    /// it had left (the shared queue if it was last queued there), and runs
    /// there when the fast-placed run ends, never through user space (the
    /// BPF's `resume_fast_preempted`). One with under a quarter of
    /// `slice_min` left goes to user space.
    /// One that would yield at a tick now (a lower key waits), or one a
    /// placement on another CPU preempts, goes to user space.
    #[test]
    fn a_locally_preempted_task_resumes_with_its_slice_left() {
        let p = 2;
        // Two CPUs running hogs, and task 2 granted the fast path.
        let granted = || {
            let m = saturated(2);
            slot(&m, p).publish(m.tasks[p as usize].pid, Some(FastGrant::new(300_000)));
            m
        };
        let mut m = granted();
        let (key, started) = (m.tasks[0].vtime, m.tasks[0].start_ts);
        let left = m.tasks[0].slice_left - (m.now - started);
        m.wake(p); // its CPU is 0: hog 0 is preempted locally
        assert_eq!(m.cpus[0].fast_preempting, Some(0));
        m.on_fast_kick(0).unwrap();
        assert_eq!(m.tasks[p as usize].state, TaskState::Running(0));
        assert_eq!(m.tasks[0].state, TaskState::Queued(QueueId::Local(0)), "not handed to user space");
        assert_eq!((m.tasks[0].slice_left, m.tasks[0].vtime), (left, key));
        assert!(m.channels.queued.is_empty());
        assert_eq!((m.counters.fast_resumes, m.counters.preemptions, m.cpus[0].fast_preempting), (1, 1, None));
        m.verify().unwrap();
        // The fast-placed run ends (its task sleeps): hog 0, the lowest key
        // in CPU 0's queues, runs next there.
        m.now += 100_000;
        m.account(0, p, m.now - 100_000);
        m.stopped(p, 0, false);
        m.tasks[p as usize].state = TaskState::Sleeping;
        m.cpus[0].state = CpuState::Idle;
        m.dispatch(0, Prev::None).unwrap();
        assert_eq!(m.tasks[0].state, TaskState::Running(0));
        assert_eq!(m.tasks[0].slice_left, left);
        // Its run goes on with the one before, for the tick and the scans:
        // started at `started`, less the fast-placed run's 100 us.
        assert_eq!(m.tasks[0].run_started(), started + 100_000);

        // Placed in the shared queue last: back there (any CPU may take it).
        let mut m = granted();
        m.tasks[0].run_shared = true;
        m.wake(p);
        m.on_fast_kick(0).unwrap();
        assert_eq!(m.tasks[0].state, TaskState::Queued(QueueId::Shared));
        assert_eq!(m.counters.fast_resumes, 1);

        // Under a quarter of slice_min left: to user space.
        let mut m = granted();
        m.tasks[0].slice_left = m.now - m.tasks[0].start_ts + m.slice_min_ns / 4 - 1;
        m.wake(p);
        m.on_fast_kick(0).unwrap();
        assert_eq!(m.tasks[0].state, TaskState::InUser);
        assert_eq!(m.counters.fast_resumes, 0);

        // A lower key than hog 0's advanced by its 2 ms run waits in the
        // shared queue: the preempted hog yields to it.
        let mut m = granted();
        m.insert(QueueId::Shared, 1, 1_000);
        m.tasks[1].state = TaskState::Running(1); // (only its queue entry is wanted)
        m.wake(p);
        m.on_fast_kick(0).unwrap();
        assert_eq!(m.tasks[p as usize].state, TaskState::Running(0));
        assert_eq!(m.tasks[0].state, TaskState::InUser);
        assert_eq!(m.counters.fast_resumes, 0);

        // Hog 0 just started (it may not be preempted yet): placed on CPU 1,
        // not its own, with a kick, and hog 1 goes to user space.
        let mut m = granted();
        m.tasks[0].start_ts = m.now;
        m.wake(p);
        assert_eq!(m.tasks[p as usize].state, TaskState::Queued(QueueId::Local(1)));
        assert_eq!((m.cpus[0].fast_preempting, m.cpus[1].fast_preempting), (None, None));
        m.on_fast_kick(1).unwrap();
        assert_eq!(m.tasks[1].state, TaskState::InUser);
        assert_eq!(m.counters.fast_resumes, 0);
    }

    /// Its own CPU first if idle (and no fast task waits there), else an
    /// idle CPU, wherever it is; else the scan stops at a CPU with nothing
    /// running (kicked); it never takes the user scheduler's CPU.
    #[test]
    fn idle_and_kicked_cpus_come_first() {
        let mut m = saturated(4);
        let p = 4;
        m.cpus[3].state = CpuState::Idle;
        assert_eq!(m.pick_fast_cpu(p, 0, None), Some(FastCpu::Now(3)));
        m.cpus[1].state = CpuState::Idle;
        assert_eq!(m.pick_fast_cpu(p, 3, None), Some(FastCpu::Now(3)), "its own first");
        m.cpus[3].state = CpuState::Kicked;
        assert_eq!(m.pick_fast_cpu(p, 3, None), Some(FastCpu::Now(3)), "its own, kicked, is still idle");
        m.cpus[3].fast_waiting = Some(0);
        assert_eq!(m.pick_fast_cpu(p, 3, None), Some(FastCpu::Now(1)), "not its own with a fast task waiting there");
        m.cpus[3].fast_waiting = None;
        m.cpus[1].state = CpuState::Task { task: 1, since: 1_000 };
        m.cpus[3].state = CpuState::Kicked;
        m.cpus[0].state = CpuState::User { since: 0 };
        assert_eq!(
            m.pick_fast_cpu(p, 2, None),
            Some(FastCpu::Now(2)),
            "its own CPU's task is preempted before a kicked CPU is looked at"
        );
        m.cpus[3].state = CpuState::Task { task: 3, since: 3_000 };
        assert_eq!(
            m.pick_fast_cpu(p, 0, None),
            Some(FastCpu::Now(1)),
            "CPU 0 runs the user scheduler; 1 ran longest of 1 to 3"
        );
        // Only the CPUs it may use (1 and 2), from its CPU (3) on, wrapping.
        m.tasks[p as usize].allowed = crate::tasks::CpuRange { first: 1, count: 2 };
        m.tasks[1].start_ts = 5_000;
        assert_eq!(m.pick_fast_cpu(p, 3, None), Some(FastCpu::Now(2)));
        m.cpus[1].state = CpuState::Idle;
        m.cpus[2].state = CpuState::Idle;
        assert_eq!(m.pick_fast_cpu(p, 2, None), Some(FastCpu::Now(2)), "idle: its own CPU first");
        assert_eq!(m.pick_fast_cpu(p, 3, None), Some(FastCpu::Now(1)), "idle: from 3 on, wrapping to 1");
    }

    /// Only a task that ran `slice_min` may be preempted at once (a task
    /// pinned beside fast tasks still runs); with none, the wakeup is
    /// deferred onto the CPU whose task started earliest, and with no CPU
    /// to defer onto either, it goes to user space. The CPU the user
    /// scheduler last ran on is left out while it waits for a CPU.
    #[test]
    fn victims_ran_slice_min_and_the_user_schedulers_cpu_is_left_out() {
        let mut m = saturated(4);
        let p = 4;
        let pid = m.tasks[p as usize].pid;
        slot(&m, p).publish(pid, Some(FastGrant::new(1_000_000)));
        assert_eq!(m.pick_fast_cpu(p, 0, None), Some(FastCpu::Now(0)), "hog 0 started first");
        m.tasks[0].start_ts = m.now - 10_000;
        assert_eq!(m.pick_fast_cpu(p, 0, None), Some(FastCpu::Now(1)), "hog 0 ran 10 µs: hog 1");
        for c in 1..4 {
            m.tasks[c].start_ts = m.now - 10_000;
        }
        m.tasks[0].start_ts = m.now - m.slice_min_ns + 1;
        assert_eq!(m.pick_fast_cpu(p, 0, None), Some(FastCpu::Deferred(0)), "every hog ran less than slice_min");
        // Every CPU runs a fast-placed task: none to defer onto either.
        for c in 0..4 {
            m.tasks[c].fast.run_grant = Some(1);
        }
        assert_eq!(m.pick_fast_cpu(p, 0, None), None, "no CPU");
        m.wake(p);
        assert_eq!(m.tasks[p as usize].state, TaskState::InUser, "to user space");
        assert_eq!(m.counters.fast_placed, 0);
        for c in 0..4 {
            m.tasks[c].fast.run_grant = None;
        }
        // Hog 0 has run slice_min now; but the user scheduler last ran on
        // CPU 0 (its first) and has work (the wakeup above): CPU 0 is its
        // next, left out, for a preemption and for a deferral (hogs 1 to 3
        // tie: 1, scanned first).
        m.now += 1;
        assert!(m.user_wants_cpu());
        assert_eq!(m.pick_fast_cpu(p, 0, None), Some(FastCpu::Deferred(1)), "the waiting user scheduler's CPU");
        m.user.last_cpu = 2;
        assert_eq!(m.pick_fast_cpu(p, 0, None), Some(FastCpu::Now(0)), "hog 0 ran slice_min");
    }

    /// With `preempt_hogs`, a CPU hog (a whole slice of CPU since it last
    /// woke) may be preempted for the user scheduler at once, also right
    /// after it was put back on its CPU; any other task, any task without
    /// it, and any task for a fast-placed wakeup, once it ran `slice_min`
    /// since it started there.
    #[test]
    fn a_hog_is_preempted_for_the_user_scheduler_at_once() {
        let mut m = saturated(2);
        m.preempt_hogs = true;
        // Hog 0 started 10 µs ago, after a whole slice of CPU since it last woke.
        let CpuState::Task { task, .. } = m.cpus[0].state else { panic!("CPU 0 runs hog 0") };
        m.cpus[0].state = CpuState::Task { task, since: m.now - 10_000 };
        m.tasks[task as usize].start_ts = m.now - 10_000;
        m.tasks[task as usize].exec_runtime = m.slice_ns;
        assert!(m.cpu_preemptible(0), "a hog");
        assert!(!m.cpu_ran_slice_min(0), "its run is 10 µs");
        m.preempt_hogs = false;
        assert!(!m.cpu_preemptible(0), "without preempt_hogs");
        m.preempt_hogs = true;
        // Less than a slice since it woke: protected for slice_min.
        m.tasks[task as usize].exec_runtime = m.slice_ns - 20_000;
        assert!(!m.cpu_preemptible(0) && !m.cpu_ran_slice_min(0));
        m.now += m.slice_min_ns;
        assert!(m.cpu_preemptible(0) && m.cpu_ran_slice_min(0), "it ran slice_min");
        m.cpus[1].state = CpuState::User { since: 0 };
        assert!(!m.cpu_preemptible(1) && !m.cpu_ran_slice_min(1), "the user scheduler is never preempted");
    }

    /// With `preempt_hogs`, a fast-placed wakeup of a light task (average
    /// burst under a quarter of `slice_min`) also preempts a CPU hog whose
    /// run there is shorter than `slice_min` (the BPF's `fast_hog_rule`),
    /// counted in `fast_hog_preempts`, at once (the preempt kick, not
    /// deferred to `slice_min`), unless the rule rests on that CPU;
    /// without `preempt_hogs`, the wakeup is deferred (onto CPU 0: both
    /// hogs started together). A hog-rule run's stop rests the rule on its
    /// CPU for as long as it ran.
    #[test]
    fn a_hog_is_preempted_for_a_fast_wakeup_at_once() {
        let hogs_put_back = |m: &mut Machine| {
            for c in 0..2u32 {
                let CpuState::Task { task, .. } = m.cpus[c as usize].state else { panic!("CPU {c} runs a hog") };
                m.cpus[c as usize].state = CpuState::Task { task, since: m.now - 10_000 };
                m.tasks[task as usize].start_ts = m.now - 10_000;
            }
            m.tasks[1].exec_runtime = m.slice_ns;
        };
        // Not light, or the rule resting on CPU 1: no CPU to take now.
        let mut m = saturated(2);
        m.preempt_hogs = true;
        let p = 2;
        let pid = m.tasks[p as usize].pid;
        slot(&m, p).publish(pid, Some(FastGrant::new(1_000_000)));
        hogs_put_back(&mut m);
        assert_eq!(m.pick_fast_cpu(p, 0, None), Some(FastCpu::Now(1)), "light");
        slot(&m, p).avg_burst_ns.store(m.slice_min_ns / 4, Relaxed);
        let deferred = Some(FastCpu::Deferred(0));
        assert_eq!(m.pick_fast_cpu(p, 0, None), None, "its bursts are a quarter of slice_min: not deferred either");
        slot(&m, p).avg_burst_ns.store(0, Relaxed);
        m.cpus[1].hog_rule_after_ns = m.now + 1;
        assert_eq!(m.pick_fast_cpu(p, 0, None), deferred, "the rule rests on CPU 1");
        m.cpus[1].hog_rule_after_ns = m.now;
        m.wake(p);
        assert_eq!(m.counters.fast_hog_preempts, 1);
        assert!(m.tasks[p as usize].fast.hog_run);
        // It runs 30 µs (its start, as the CPU's dispatch would make it).
        m.tasks[p as usize].start_ts = m.now;
        m.now += 30_000;
        m.stopped(p, 1, false);
        assert_eq!(m.cpus[1].hog_rule_after_ns, m.now + 30_000, "rests as long as the run took");
        assert!(!m.tasks[p as usize].fast.hog_run);

        for hog_rule in [false, true] {
            let mut m = saturated(2);
            m.preempt_hogs = hog_rule;
            let p = 2;
            let pid = m.tasks[p as usize].pid;
            slot(&m, p).publish(pid, Some(FastGrant::new(1_000_000)));
            // Both hogs were put back on their CPUs 10 µs ago, hog 1 after
            // a whole slice of CPU since it last woke.
            for c in 0..2u32 {
                let CpuState::Task { task, .. } = m.cpus[c as usize].state else { panic!("CPU {c} runs a hog") };
                m.cpus[c as usize].state = CpuState::Task { task, since: m.now - 10_000 };
                m.tasks[task as usize].start_ts = m.now - 10_000;
            }
            m.tasks[1].exec_runtime = m.slice_ns;
            let want = if hog_rule { FastCpu::Now(1) } else { FastCpu::Deferred(0) };
            assert_eq!(m.pick_fast_cpu(p, 0, None), Some(want), "hog rule {hog_rule}");
            m.wake(p);
            let c = m.counters;
            let counts = (c.fast_placed, c.fast_preempts, c.fast_hog_preempts, c.fast_deferred);
            assert_eq!(counts, if hog_rule { (1, 1, 1, 0) } else { (1, 0, 0, 1) }, "hog rule {hog_rule}");
            assert_eq!(m.tasks[p as usize].fast.hog_run, hog_rule);
            // The hog rule's kick comes at once; a deferral's timer when
            // hog 0 has run slice_min.
            let kick = if hog_rule {
                (m.now, Event::FastKick(1))
            } else {
                (m.now - 10_000 + m.slice_min_ns, Event::FastKickTimer(0))
            };
            assert_eq!(m.events.pop(), Some(kick), "hog rule {hog_rule}");
        }
    }

    /// Restarts the task of each CPU `c` of `m` `ago[c]` ns before `m.now`
    /// (its run there begins then).
    fn restarted(m: &mut Machine, ago: &[u64]) {
        for (c, &ago) in ago.iter().enumerate() {
            let CpuState::Task { task, .. } = m.cpus[c].state else { panic!("CPU {c} runs a task") };
            m.cpus[c].state = CpuState::Task { task, since: m.now - ago };
            m.tasks[task as usize].start_ts = m.now - ago;
        }
    }

    /// A granted wakeup that finds every CPU's task under `slice_min`
    /// since it started there (and no hog rule) is deferred (`fast_cpu`'s
    /// deferral) onto the CPU whose task started earliest, wherever its
    /// own CPU is: queued there with no kick, that CPU's timer armed for
    /// its task's start + `slice_min`; if another task started there
    /// meanwhile, the timer waits for that one's `slice_min` in turn; then
    /// the task there is preempted and the fast task starts. Counted as
    /// placed and deferred, not as a preemption.
    #[test]
    fn a_wakeup_finding_no_preemptible_cpu_is_deferred_until_slice_min() {
        let mut m = saturated(4);
        let p = 4;
        let pid = m.tasks[p as usize].pid;
        slot(&m, p).publish(pid, Some(FastGrant::new(1_000_000)));
        // Hog 1 started first, 400 µs ago.
        restarted(&mut m, &[100_000, 400_000, 300_000, 200_000]);
        assert_eq!(m.pick_fast_cpu(p, 0, None), Some(FastCpu::Deferred(1)));
        m.wake(p); // its CPU is 0
        assert_eq!(m.tasks[p as usize].state, TaskState::Queued(QueueId::Local(1)));
        assert_eq!((m.cpus[1].fast_waiting, m.tasks[p as usize].fast.wait_cpu), (Some(p), Some(1)));
        assert!(m.channels.queued.is_empty(), "not handed to user space");
        let c = m.counters;
        assert_eq!((c.fast_placed, c.fast_deferred, c.fast_preempts, c.fast_hog_preempts), (1, 1, 0, 0));
        assert!(!m.tasks[p as usize].fast.hog_run);
        // No kick: the one event is CPU 1's timer, at hog 1's start + slice_min.
        let due = m.now - 400_000 + m.slice_min_ns;
        assert_eq!(m.events.pop(), Some((due, Event::FastKickTimer(1))));
        assert_eq!(m.events.pop(), None);
        // The timer comes; another run started on CPU 1 100 µs ago (hog 1
        // again, by hand): armed again for that run's slice_min.
        m.now = due;
        m.tasks[1].start_ts = m.now - 100_000;
        m.on_fast_kick_timer(1).unwrap();
        assert_eq!(
            (m.tasks[1].state, m.tasks[p as usize].state),
            (TaskState::Running(1), TaskState::Queued(QueueId::Local(1)))
        );
        let due = m.now - 100_000 + m.slice_min_ns;
        assert_eq!(m.events.pop(), Some((due, Event::FastKickTimer(1))));
        m.now = due;
        m.on_fast_kick_timer(1).unwrap();
        assert_eq!(m.tasks[p as usize].state, TaskState::Running(1), "it starts when hog 1 has run slice_min");
        assert_eq!(m.tasks[p as usize].start_ts, due);
        assert_eq!(m.tasks[1].state, TaskState::InUser, "the preempted hog goes to user space");
        assert_eq!(m.cpus[1].fast_waiting, None);
        let c = m.counters;
        assert_eq!((c.fast_placed, c.fast_deferred, c.fast_preempts, c.fast_hog_preempts), (1, 1, 0, 0));
    }

    /// A light granted task pinned to the CPU the user scheduler waits for
    /// (its last), every task there short of `slice_min`, is deferred onto
    /// that CPU all the same (`fast_defer_cpu`'s last target), not handed
    /// to the same user scheduler: its timer preempts the CPU's task once
    /// it ran `slice_min` (at once if it had: the timer is never armed in
    /// the past), and the dispatch runs the fast task before the user
    /// scheduler. While the user scheduler runs there, no timer: its step's
    /// end dispatches the task first. Not a task that is not light, nor
    /// onto a CPU where a fast-placed task waits or runs, nor one the task
    /// may not use: those go to user space.
    #[test]
    fn a_light_task_defers_onto_the_user_schedulers_cpu() {
        let cases = [
            "deferred",
            "its task ran slice_min",
            "the user scheduler runs there",
            "not light",
            "a fast task waits there",
            "a fast task runs there",
            "not allowed there",
        ];
        for case in cases {
            let mut m = saturated(2);
            let p = 2;
            let pid = m.tasks[p as usize].pid;
            slot(&m, p).publish(pid, Some(FastGrant::new(1_000_000)));
            m.tasks[p as usize].allowed = crate::tasks::CpuRange { first: 0, count: 1 };
            restarted(&mut m, &[100_000, 100_000]);
            // The user scheduler holds a task undecided: it wants a CPU, CPU 0 (its last).
            m.channels.user_pending = 1;
            assert!(m.user_wants_cpu() && m.user.last_cpu == 0, "{case}");
            match case {
                "its task ran slice_min" => {
                    let ago = m.slice_min_ns + 300_000;
                    restarted(&mut m, &[ago, 100_000]);
                }
                "the user scheduler runs there" => {
                    // Hog 0 asleep, the user scheduler's step on CPU 0.
                    m.account(0, 0, m.now - 100_000);
                    m.tasks[0].state = TaskState::Sleeping;
                    m.start_user_step(0).unwrap();
                    m.events = EventQueue::default();
                    // Still holding the task (its step's end dispatches).
                    assert_eq!(m.user.running_on, Some(0));
                }
                "not light" => slot(&m, p).avg_burst_ns.store(m.slice_min_ns, Relaxed),
                "a fast task waits there" => m.cpus[0].fast_waiting = Some(1),
                "a fast task runs there" => m.tasks[0].fast.run_grant = Some(1),
                "not allowed there" => m.tasks[p as usize].allowed = crate::tasks::CpuRange { first: 1, count: 1 },
                _ => {}
            }
            let want = match case {
                "deferred" | "its task ran slice_min" | "the user scheduler runs there" => Some(FastCpu::Deferred(0)),
                // CPU 1 is the task's only one: hog 1 there, under slice_min.
                "not allowed there" => Some(FastCpu::Deferred(1)),
                _ => None,
            };
            assert_eq!(m.pick_fast_cpu(p, 0, None), want, "{case}");
            if want != Some(FastCpu::Deferred(0)) {
                continue;
            }
            m.wake(p);
            assert_eq!(m.tasks[p as usize].state, TaskState::Queued(QueueId::Local(0)), "{case}");
            assert!(m.channels.queued.is_empty(), "{case}: not handed to user space");
            assert_eq!((m.counters.fast_placed, m.counters.fast_deferred), (1, 1), "{case}");
            if case == "the user scheduler runs there" {
                assert_eq!(m.events.pop(), None, "{case}: no timer over the user scheduler");
                assert_eq!(m.cpus[0].fast_waiting, Some(p), "{case}");
                continue;
            }
            let due = if case == "its task ran slice_min" { m.now } else { m.now - 100_000 + m.slice_min_ns };
            assert_eq!(m.events.pop(), Some((due, Event::FastKickTimer(0))), "{case}");
            m.now = due;
            m.on_fast_kick_timer(0).unwrap();
            assert_eq!(m.tasks[p as usize].state, TaskState::Running(0), "{case}: before the user scheduler");
            assert_eq!(m.user.running_on, None, "{case}");
        }
    }

    /// A fast-placed task deferred onto CPU 0 is taken by CPU 1 when hog 1
    /// leaves it with nothing queued there or in the shared queue
    /// (`take_fast_waiter`): it starts on CPU 1, CPU 0's `fast_waiting` is
    /// released, and CPU 0's timer then finds no waiter (hog 0 runs on).
    /// Not if the task may not run on CPU 1, nor if it is not the head of
    /// CPU 0's queue: CPU 1 goes idle.
    #[test]
    fn a_deferred_waiter_moves_to_a_cpu_with_nothing_to_run() {
        for case in ["moves", "not allowed there", "not the head", "not deferred"] {
            let mut m = saturated(2);
            let p = 2;
            let pid = m.tasks[p as usize].pid;
            slot(&m, p).publish(pid, Some(FastGrant::new(1_000_000)));
            m.vtime_now = 2 * FAST_KEY_LEAD;
            // The hogs' keys at the clock: the fast key (below the
            // preempted task's too) stays above 50.
            m.tasks[0].vtime = m.vtime_now;
            m.tasks[1].vtime = m.vtime_now;
            if case == "not allowed there" {
                m.tasks[p as usize].allowed = crate::tasks::CpuRange { first: 0, count: 1 };
            }
            restarted(&mut m, &[300_000, 100_000]);
            m.wake(p);
            assert_eq!(m.tasks[p as usize].state, TaskState::Queued(QueueId::Local(0)), "{case}");
            assert_eq!(m.counters.fast_deferred, 1, "{case}");
            if case == "not deferred" {
                // As if kicked at once: it runs on CPU 0 next, not moved.
                m.cpus[0].fast_waiting_deferred = false;
            }
            // 50 µs later hog 1 leaves CPU 1 (to CPU 0's queue, below the
            // fast task, in the last case; else asleep).
            m.now += 50_000;
            m.account(1, 1, m.now - 150_000);
            if case == "not the head" {
                m.insert(QueueId::Local(0), 1, 50);
            } else {
                m.tasks[1].state = TaskState::Sleeping;
            }
            m.dispatch(1, Prev::None).unwrap();
            let moved = case == "moves";
            let want = if moved { TaskState::Running(1) } else { TaskState::Queued(QueueId::Local(0)) };
            assert_eq!(m.tasks[p as usize].state, want, "{case}");
            assert_eq!(m.counters.fast_moved, u64::from(moved), "{case}");
            assert_eq!(m.cpus[1].state == CpuState::Idle, !moved, "{case}");
            assert_eq!(m.cpus[0].fast_waiting, (!moved).then_some(p), "{case}");
            assert_eq!(m.tasks[p as usize].fast.wait_cpu, (!moved).then_some(0), "{case}");
            // CPU 0's timer, when hog 0 has run slice_min: a waiter left
            // preempts it.
            let due = m.now - 350_000 + m.slice_min_ns;
            let timer = std::iter::from_fn(|| m.events.pop()).find(|&(_, e)| e == Event::FastKickTimer(0));
            assert_eq!(timer, Some((due, Event::FastKickTimer(0))), "{case}");
            m.now = due;
            m.on_fast_kick_timer(0).unwrap();
            assert_eq!(m.counters.fast_timer_kicks, u64::from(!moved), "{case}");
            let on_0 = if moved {
                0
            } else if case == "not the head" {
                1
            } else {
                p
            };
            assert_eq!(m.tasks[on_0 as usize].state, TaskState::Running(0), "{case}");
            assert_eq!(m.tasks[0].state == TaskState::Running(0), moved, "{case}");
        }
    }

    /// `fast_waiting` names the waiting task: another task starting on its
    /// CPU leaves it (the CPU still serves its queues first, and takes no
    /// second fast task); the task starting releases it, and so does its
    /// enqueue again or its exit. One fast task per CPU: a wakeup whose
    /// pick is a CPU where one waits goes to user space.
    #[test]
    fn fast_waiting_names_the_waiting_task() {
        let mut m = saturated(2);
        let p = 2;
        let pid = m.tasks[p as usize].pid;
        slot(&m, p).publish(pid, Some(FastGrant::new(1_000_000)));
        m.vtime_now = 2 * FAST_KEY_LEAD;
        // The hogs' keys at the clock: the fast key (below the preempted
        // task's too) stays above 50.
        m.tasks[0].vtime = m.vtime_now;
        m.tasks[1].vtime = m.vtime_now;
        m.wake(p); // its CPU is 0
        assert_eq!(m.cpus[0].fast_waiting, Some(p));
        assert_eq!(m.tasks[p as usize].fast.wait_cpu, Some(0));
        // Hog 1 leaves CPU 1 and is queued on CPU 0 below the fast task (key 2^40).
        m.cpus[1].state = CpuState::Idle;
        m.insert(QueueId::Local(0), 1, 50);
        m.on_fast_kick(0).unwrap();
        assert_eq!(m.tasks[1].state, TaskState::Running(0));
        assert_eq!(m.cpus[0].fast_waiting, Some(p), "another task started: still waiting");
        assert_eq!(m.pick_fast_cpu(p, 0, None), Some(FastCpu::Now(1)));
        m.cpus[1].state = CpuState::Task { task: 0, since: 0 }; // (only the CPU's state is wanted)
        assert_eq!(m.pick_fast_cpu(p, 0, None), Some(FastCpu::Now(1)), "not CPU 0, where a fast task waits");
        m.now += 100_000;
        let CpuState::Task { since, .. } = m.cpus[0].state else { panic!() };
        m.account(0, 1, since);
        m.dispatch(0, Prev::Task(1)).unwrap();
        assert_eq!(m.tasks[p as usize].state, TaskState::Running(0), "its queues first");
        assert_eq!((m.cpus[0].fast_waiting, m.tasks[p as usize].fast.wait_cpu), (None, None));
        // Enqueued again while it waits, or exits: released.
        for exits in [false, true] {
            let mut m = saturated(2);
            slot(&m, p).publish(pid, Some(FastGrant::new(1_000_000)));
            m.wake(p);
            assert_eq!(m.cpus[0].fast_waiting, Some(p));
            m.cpus[0].dsq.pop_first();
            if exits {
                m.exit_task(p);
            } else {
                m.enqueue(p, 0, false);
                assert_eq!(m.tasks[p as usize].state, TaskState::InUser);
            }
            assert_eq!(m.cpus[0].fast_waiting, None, "exits: {exits}");
        }
        // One per CPU (the BPF's compare-and-swap): the idle CPU picked
        // (hog 1 waits in the shared queue: the idle-CPU path does not take
        // the wakeup) holds another task's wait.
        let mut m = saturated(2);
        slot(&m, p).publish(pid, Some(FastGrant::new(1_000_000)));
        m.cpus[1].state = CpuState::Idle;
        m.insert(QueueId::Shared, 1, 0);
        m.cpus[1].fast_waiting = Some(0);
        assert_eq!(m.pick_fast_cpu(p, 0, None), Some(FastCpu::Now(1)));
        m.wake(p);
        assert_eq!((m.tasks[p as usize].state, m.counters.fast_placed), (TaskState::InUser, 0));
        assert_eq!(m.cpus[1].fast_waiting, Some(0));
    }

    /// No slot, no grant, a grant naming another pid, a grant whose budget
    /// bits are 0, a revoked grant, or a task whose own weight is below
    /// nice 0's (niced down or `SCHED_IDLE` after its grant): the wakeup
    /// goes to user space.
    #[test]
    fn only_the_tasks_own_live_grant_counts() {
        let mut m = saturated(2);
        let p = 2;
        let pid = m.tasks[p as usize].pid;
        let other = pid + 1;
        let g = FastGrant::new(1_000_000);
        let no_budget = !(GRANT_BUDGET_MASK << GRANT_BUDGET_SHIFT);
        type Setup<'a> = dyn Fn(&mut Machine) + 'a;
        let cases: [(&str, &Setup<'_>); 7] = [
            ("no grant", &|_| {}),
            ("another pid's grant", &|m| slot(m, p).grant.store(grant_word(other, g, 0), Relaxed)),
            ("no budget", &|m| slot(m, p).grant.store(grant_word(pid, g, 1) & no_budget, Relaxed)),
            ("niced down", &|m| {
                slot(m, p).publish(pid, Some(g));
                m.tasks[p as usize].weight = nice_to_weight(1);
            }),
            ("SCHED_IDLE", &|m| m.tasks[p as usize].weight = crate::sched_idle_weight()),
            ("revoked", &|m| {
                m.tasks[p as usize].weight = nice_to_weight(0);
                let w = slot(m, p).grant.load(Relaxed);
                slot(m, p).revoked_grant.store(w, Relaxed);
            }),
            ("no slot", &|m| m.task_shared.release(pid)),
        ];
        for (what, set) in cases {
            set(&mut m);
            m.tasks[p as usize].state = TaskState::Sleeping;
            m.wake(p);
            assert_eq!(m.tasks[p as usize].state, TaskState::InUser, "{what}");
            assert_eq!(m.counters.fast_placed, 0, "{what}");
            m.channels.queued.clear();
            m.watch.clear();
        }
        // Granted again, with the slot back, at nice -5: placed.
        m.claim_slot(p);
        slot(&m, p).publish(pid, Some(g));
        m.tasks[p as usize].weight = nice_to_weight(-5);
        m.tasks[p as usize].state = TaskState::Sleeping;
        m.wake(p);
        assert_eq!(m.counters.fast_placed, 1);
    }

    /// Task `p` of `m` woke (its burst starts: `exec_runtime` 0, no
    /// `burst_grant`), fast-placed under its slot's grant if `fast`, and
    /// ran `ran` ns, at `m.now`.
    fn ran(m: &mut Machine, p: TaskId, fast: bool, ran: u64) {
        let grant = slot(m, p).grant.load(Relaxed);
        let weight = placement_weight(slot(m, p).placement.load(Relaxed)).min(m.tasks[p as usize].weight);
        let t = &mut m.tasks[p as usize];
        (t.exec_runtime, t.fast.burst_grant, t.fast.run_grant) = (0, None, None);
        if fast {
            (t.fast.burst_grant, t.fast.run_grant, t.fast.run_weight) = (Some(grant), Some(grant), weight);
        }
        t.start_ts = m.now - ran;
        t.exec_runtime = ran;
    }

    /// Fast-placed runs of task `p` of 0.9 ms that end asleep, one every
    /// 1 ms from 1 ms on, all in one 100 ms window: the index of the run
    /// whose stop revoked the grant, if one of 100 did.
    fn window_revoked_at(m: &mut Machine, p: TaskId) -> Option<u64> {
        (0..100u64).find(|i| {
            m.now = 1_000_000 + i * 1_000_000;
            ran(m, p, true, 900_000);
            m.stopped(p, 0, false);
            m.counters.fast_revoked > 0
        })
    }

    /// Fast-placed runs of 0.9 ms (under the 1 ms budget) that end asleep
    /// are not revoked until the window's share is used up; a fast-placed
    /// run that stops at its budget, runnable or asleep, is revoked when it
    /// is the second overrun in a row.
    #[test]
    fn budget_and_window_revoke() {
        let mut m = saturated(1);
        let p = 1;
        let pid = m.tasks[p as usize].pid;
        slot(&m, p).publish(pid, Some(FastGrant::new(1_000_000)));
        // A fast-placed run of 0.9 ms that ends asleep every 1 ms, all in
        // one 100 ms window: under the budget each, but the 56th run takes
        // the window past its 50 ms (56 × 0.9 ms = 50.4 ms).
        assert_eq!(window_revoked_at(&mut m, p), Some(55), "55 runs × 0.9 ms = 49.5 ms, the 56th passes 50 ms");
        let s = slot(&m, p).stats(pid).unwrap();
        assert!(s.revoked && !s.granted);
        assert_eq!(s.avg_burst_ns, 900_000);
        // Regranted: a new epoch; a run that stops at its budget, runnable
        // (its slice ran out) or asleep, after an overrun forgiven (see
        // overruns_in_a_row_revoke) is revoked.
        for runnable in [true, false] {
            slot(&m, p).publish(pid, Some(FastGrant::new(1_000_000)));
            assert!(slot(&m, p).stats(pid).unwrap().granted);
            let before = m.counters.fast_revoked;
            m.now += 200_000_000;
            m.tasks[p as usize].fast.overruns = FAST_OVERRUNS - 1;
            ran(&mut m, p, true, 1_000_000);
            m.stopped(p, 0, runnable);
            assert_eq!(m.counters.fast_revoked, before + 1, "runnable: {runnable}");
            assert_eq!(m.tasks[p as usize].fast.overruns, 0, "a revoke starts the count again");
            assert_eq!(slot(&m, p).stats(pid).unwrap().revoked_ns, m.now);
            assert_eq!(
                m.tasks[p as usize].fast,
                FastState { burst_grant: None, run_grant: None, ..m.tasks[p as usize].fast }
            );
        }
    }

    /// The window's share follows the effective weight of the grant's
    /// placement, at most the task's own: runs of 0.9 ms every 1 ms are
    /// revoked once they pass `w / (w + nice 0's)` of the 100 ms window —
    /// 50 ms at nice 0's weight (no weight published, or more than a nice-0
    /// task's own), 75 ms at three times it (a task that heavy), 33.3 ms at
    /// half of it.
    #[test]
    fn the_windows_share_follows_the_effective_weight() {
        let heavy = 3 * WEIGHT_DEFAULT;
        for (own, weight, revoked_at) in [
            (WEIGHT_DEFAULT, None, 55),
            (heavy, Some(heavy), 83),
            (WEIGHT_DEFAULT, Some(heavy), 55),
            (WEIGHT_DEFAULT, Some(WEIGHT_DEFAULT / 2), 37),
        ] {
            let mut m = saturated(1);
            let p = 1;
            m.tasks[p as usize].weight = own;
            let pid = m.tasks[p as usize].pid;
            let grant = FastGrant { weight, ..FastGrant::new(1_000_000) };
            slot(&m, p).publish(pid, Some(grant));
            assert_eq!(window_revoked_at(&mut m, p), Some(revoked_at), "own weight {own}, published {weight:?}");
        }
    }

    /// Undoes the fast placement of task `p` on the idle `cpu`: out of the
    /// CPU's queue and `fast_waiting`, asleep, the CPU idle again.
    fn unplace(m: &mut Machine, p: TaskId, cpu: u32) {
        m.fast_waiting_done(p);
        m.cpus[cpu as usize].dsq.pop_first();
        m.tasks[p as usize].state = TaskState::Sleeping;
        m.cpus[cpu as usize].state = CpuState::Idle;
    }

    /// The policy's preferred CPU stands for the task's own: taken first
    /// when idle, preempted first when every CPU is busy; one the task may
    /// not use, or that does not exist, is ignored. A wakeup placed under
    /// the grant goes there, and another pid's placement word is ignored.
    #[test]
    fn the_preferred_cpu_stands_for_its_own() {
        let mut m = saturated(4);
        let p = 4;
        let pid = m.tasks[p as usize].pid;
        assert_eq!(m.pick_fast_cpu(p, 0, None), Some(FastCpu::Now(0)), "every hog may be preempted: its own");
        assert_eq!(m.pick_fast_cpu(p, 0, Some(2)), Some(FastCpu::Now(2)), "the preferred one instead");
        m.cpus[1].state = CpuState::Idle;
        m.cpus[3].state = CpuState::Idle;
        assert_eq!(m.pick_fast_cpu(p, 1, None), Some(FastCpu::Now(1)));
        assert_eq!(m.pick_fast_cpu(p, 1, Some(3)), Some(FastCpu::Now(3)), "idle and preferred, over its own idle CPU");
        assert_eq!(m.pick_fast_cpu(p, 1, Some(9)), Some(FastCpu::Now(1)), "no CPU 9");
        assert_eq!(
            m.pick_fast_cpu(p, 1, Some(2)),
            Some(FastCpu::Now(1)),
            "the preferred one busy: an idle one before a preemption"
        );
        m.cpus[1].state = CpuState::Task { task: 1, since: 1_000 };
        assert_eq!(m.pick_fast_cpu(p, 0, Some(2)), Some(FastCpu::Now(3)), "any idle one before a preemption");
        m.cpus[3].state = CpuState::Task { task: 3, since: 3_000 };
        assert_eq!(m.pick_fast_cpu(p, 0, Some(2)), Some(FastCpu::Now(2)), "then the preferred one is preempted first");
        m.cpus[1].state = CpuState::Idle;
        m.cpus[3].state = CpuState::Idle;
        m.tasks[p as usize].allowed = crate::tasks::CpuRange { first: 0, count: 2 };
        assert_eq!(m.pick_fast_cpu(p, 1, Some(3)), Some(FastCpu::Now(1)), "not allowed on 3");
        m.tasks[p as usize].allowed = crate::tasks::CpuRange { first: 0, count: 4 };

        slot(&m, p).publish(pid, Some(FastGrant::new(1_000_000).preferring(3)));
        slot(&m, p).placement.store(placement_word(pid + 1, FastGrant::new(1).preferring(3)), Relaxed);
        assert!(m.try_fast_path(p, 1));
        assert_eq!(m.tasks[p as usize].state, TaskState::Queued(QueueId::Local(1)), "another pid's word");
        assert_eq!(m.tasks[p as usize].fast.run_weight, WEIGHT_DEFAULT, "and nice 0's weight");
        unplace(&mut m, p, 1);
        slot(&m, p).publish(pid, Some(FastGrant::new(1_000_000).preferring(3).at_weight(512)));
        assert!(m.try_fast_path(p, 1));
        assert_eq!(m.tasks[p as usize].state, TaskState::Queued(QueueId::Local(3)));
        assert_eq!(m.tasks[p as usize].fast.run_weight, 512, "the policy's weight");
        unplace(&mut m, p, 3);
        slot(&m, p).publish(pid, Some(FastGrant::new(1_000_000).preferring(3).at_weight(2048)));
        assert!(m.try_fast_path(p, 1));
        assert_eq!(m.tasks[p as usize].fast.run_weight, WEIGHT_DEFAULT, "at most its own weight");
    }

    /// A fast-placed wakeup's whole burst counts against the budget: its
    /// fast-placed run preempted under the budget (by the user scheduler),
    /// the burst's later, ordinary run that takes it to the budget revokes
    /// the grant the slot holds then, whether the one it was fast-placed
    /// under or one the policy wrote meanwhile, none if the policy withdrew
    /// it. A wakeup that is not fast-placed is not checked.
    #[test]
    fn a_burst_is_revoked_through_its_ordinary_runs() {
        let mut m = saturated(1);
        let p = 1;
        let pid = m.tasks[p as usize].pid;
        slot(&m, p).publish(pid, Some(FastGrant::new(1_000_000)));
        let grant = slot(&m, p).grant.load(Relaxed);
        // Each overrun below is the second in a row (overruns_in_a_row_revoke).
        let second = |m: &mut Machine| m.tasks[p as usize].fast.overruns = FAST_OVERRUNS - 1;
        second(&mut m);
        m.wake(p);
        m.on_fast_kick(0).unwrap();
        assert_eq!(m.tasks[p as usize].state, TaskState::Running(0));
        // 0.4 ms in, it is preempted (as by a preempt kick for the user
        // scheduler: stopped runnable, enqueued again, to user space).
        m.now += 400_000;
        m.account(0, p, m.now - 400_000);
        m.stopped(p, 0, true);
        m.enqueue(p, 0, false);
        assert_eq!(m.tasks[p as usize].state, TaskState::InUser);
        assert_eq!(m.counters.fast_revoked, 0, "0.4 ms of a 1 ms budget");
        assert_eq!((m.tasks[p as usize].fast.run_grant, m.tasks[p as usize].fast.burst_grant), (None, Some(grant)));
        // Placed by a decision, it runs 0.5 ms more: 0.9 ms, not yet; then 0.2 ms more.
        m.now += 1_000_000;
        ran_on(&mut m, p, 500_000);
        m.stopped(p, 0, true);
        assert_eq!(m.counters.fast_revoked, 0, "0.9 ms");
        m.now += 1_000_000;
        ran_on(&mut m, p, 200_000);
        m.stopped(p, 0, false);
        assert_eq!(m.counters.fast_revoked, 1, "1.1 ms: the burst reached the budget");
        let s = slot(&m, p).stats(pid).unwrap();
        assert!(s.revoked && s.revoked_ns == m.now, "{s:?}");
        assert_eq!(slot(&m, p).revoked_grant.load(Relaxed), grant);
        assert_eq!(m.tasks[p as usize].fast.burst_grant, None);
        // Regranted; a fast-placed wakeup preempted under budget; the policy
        // grants anew (another budget) before the burst reaches the budget
        // it was placed under: the overrun revokes the new grant (the
        // policy had not seen it), and the burst is no longer checked.
        slot(&m, p).publish(pid, Some(FastGrant::new(1_000_000)));
        m.now += 10_000_000;
        second(&mut m);
        ran(&mut m, p, true, 400_000);
        m.stopped(p, 0, true);
        slot(&m, p).publish(pid, Some(FastGrant::new(2_000_000)));
        let changed = slot(&m, p).grant.load(Relaxed);
        m.now += 1_000_000;
        ran_on(&mut m, p, 700_000);
        m.stopped(p, 0, false);
        assert_eq!(m.counters.fast_revoked, 2, "the grant written in the middle of the burst");
        assert_eq!(slot(&m, p).revoked_grant.load(Relaxed), changed);
        assert_eq!(m.tasks[p as usize].fast.burst_grant, None, "an overrun clears it");
        // Withdrawn in the middle of a burst: nothing to revoke.
        slot(&m, p).publish(pid, Some(FastGrant::new(1_000_000)));
        m.now += 10_000_000;
        second(&mut m);
        ran(&mut m, p, true, 400_000);
        m.stopped(p, 0, true);
        slot(&m, p).publish(pid, None);
        m.now += 1_000_000;
        ran_on(&mut m, p, 700_000);
        m.stopped(p, 0, false);
        assert_eq!(m.counters.fast_revoked, 2, "withdrawn: nothing to revoke");
        assert_eq!(m.tasks[p as usize].fast.burst_grant, None, "an overrun clears it all the same");
        slot(&m, p).publish(pid, Some(FastGrant::new(1_000_000)));
        // A wakeup the policy placed: 5 ms of ordinary runs, no revoke.
        m.now += 10_000_000;
        ran(&mut m, p, false, 2_500_000);
        m.stopped(p, 0, true);
        m.now += 5_000_000;
        ran_on(&mut m, p, 2_500_000);
        m.stopped(p, 0, false);
        assert_eq!(m.counters.fast_revoked, 2);
        assert!(slot(&m, p).stats(pid).unwrap().granted);
        // A wakeup clears it (here one not fast-placed: CPU 0, the only
        // one, runs the user scheduler).
        m.tasks[p as usize].fast.burst_grant = Some(slot(&m, p).grant.load(Relaxed));
        m.tasks[p as usize].state = TaskState::Sleeping;
        m.wake(p);
        assert_eq!(m.tasks[p as usize].state, TaskState::InUser);
        assert_eq!(m.tasks[p as usize].fast.burst_grant, None, "cleared at the wakeup");
    }

    /// One overrun alone does not revoke; the second fast-placed wakeup in
    /// a row whose burst reaches the budget does. A fast-placed burst that
    /// ends asleep within the budget starts the count again; a stop
    /// runnable within it (its burst goes on), or a wakeup not
    /// fast-placed, does not; an overrun's burst is not checked again.
    #[test]
    fn overruns_in_a_row_revoke() {
        let mut m = saturated(1);
        let p = 1;
        let pid = m.tasks[p as usize].pid;
        slot(&m, p).publish(pid, Some(FastGrant::new(1_000_000)));
        let counts =
            |m: &Machine| (m.counters.fast_overruns, m.counters.fast_revoked, m.tasks[p as usize].fast.overruns);
        // A new wakeup's burst (fast-placed or not) of `ns`, stopping.
        let burst = |m: &mut Machine, fast: bool, ns: u64, runnable: bool| {
            m.now += 20_000_000;
            ran(m, p, fast, ns);
            m.stopped(p, 0, runnable);
            counts(m)
        };
        // The same burst going on in an ordinary run of `ns`, stopping.
        let goes_on = |m: &mut Machine, ns: u64, runnable: bool| {
            m.now += 1_000_000;
            ran_on(m, p, ns);
            m.stopped(p, 0, runnable);
            counts(m)
        };
        assert_eq!(burst(&mut m, true, 1_200_000, false), (1, 0, 1), "the first overrun: forgiven");
        assert!(slot(&m, p).stats(pid).unwrap().granted);
        assert_eq!(burst(&mut m, false, 5_000_000, false), (1, 0, 1), "not fast-placed: not checked");
        assert_eq!(burst(&mut m, true, 300_000, true), (1, 0, 1), "preempted within the budget: the burst goes on");
        assert_eq!(goes_on(&mut m, 200_000, false), (1, 0, 0), "0.5 ms, ended asleep: counted again from 0");
        assert_eq!(burst(&mut m, true, 1_000_000, true), (2, 0, 1), "at the budget, its slice over: an overrun");
        assert_eq!(goes_on(&mut m, 1_000_000, false), (2, 0, 1), "that burst is not checked again");
        assert_eq!(burst(&mut m, true, 2_000_000, false), (3, 1, 0), "the second in a row: revoked");
        let s = slot(&m, p).stats(pid).unwrap();
        assert!(s.revoked && !s.granted && s.revoked_ns == m.now, "{s:?}");
        // The revoked grant places nothing; granted again, a wakeup is placed.
        m.tasks[p as usize].state = TaskState::Sleeping;
        assert!(!m.try_fast_path(p, 0), "revoked");
        slot(&m, p).publish(pid, Some(FastGrant::new(1_000_000)));
        assert!(m.try_fast_path(p, 0), "granted again");
    }

    /// Task `p` of `m` ran `ran` ns more of its burst, ending at `m.now`.
    fn ran_on(m: &mut Machine, p: TaskId, ran: u64) {
        let t = &mut m.tasks[p as usize];
        t.start_ts = m.now - ran;
        t.exec_runtime += ran;
    }

    /// Wakeup statistics: the count, the period's average, the waker, and
    /// the wakeups from interrupts (two timers', then a task's): their
    /// count and moving share, the first wakeup taken whole.
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
        assert_eq!(s.nr_irq_wakeups, 2);
        assert_eq!(s.irq_wake_share, IRQ_SHARE_ONE - IRQ_SHARE_ONE / 8, "1, 1, then 7/8 of it and 0");
    }

    /// A task that is not light, whose grant is deferrable, is deferred as
    /// a light one is onto the busy CPU whose task started first; without
    /// the bit it goes to user space. The user scheduler's CPU stays a
    /// light task's target only: a longer burst there would hold the user
    /// scheduler back.
    #[test]
    fn a_deferrable_grant_defers_a_task_that_is_not_light() {
        let mut m = saturated(4);
        let p = 4;
        let pid = m.tasks[p as usize].pid;
        slot(&m, p).avg_burst_ns.store(m.slice_min_ns, Relaxed);
        assert!(!m.is_light(p));
        restarted(&mut m, &[100_000, 400_000, 300_000, 200_000]);
        slot(&m, p).publish(pid, Some(FastGrant::new(4_000_000)));
        assert_eq!(m.pick_fast_cpu(p, 0, None), None, "not deferrable: user space");
        slot(&m, p).publish(pid, Some(FastGrant::new(4_000_000).deferrable()));
        assert!(m.is_deferrable(p));
        assert_eq!(m.pick_fast_cpu(p, 0, None), Some(FastCpu::Deferred(1)), "deferrable: the first started");

        let mut m = saturated(2);
        let p = 2;
        let pid = m.tasks[p as usize].pid;
        slot(&m, p).avg_burst_ns.store(m.slice_min_ns, Relaxed);
        slot(&m, p).publish(pid, Some(FastGrant::new(4_000_000).deferrable()));
        m.tasks[p as usize].allowed = crate::tasks::CpuRange { first: 0, count: 1 };
        restarted(&mut m, &[100_000, 100_000]);
        m.channels.user_pending = 1;
        assert!(m.user_wants_cpu() && m.user.last_cpu == 0);
        assert_eq!(m.pick_fast_cpu(p, 0, None), None, "not onto the user scheduler's CPU");
    }
}
