//! Test-only policies that misbehave on purpose, to prove that the engine,
//! the backend and the BPF dispatcher contain a broken policy.
//!
//! They are **not** in [`crate::NAMES`] (nothing iterating the shipped
//! policies sees them); they are listed in [`crate::TEST_NAMES`] and built
//! by [`crate::by_name_allowing_tests`], which `scx_relay` calls only when
//! given `--allow-test-policies`.
//!
//! * [`Chaos`] (`chaos`) answers in arrival order, but a seeded PRNG turns
//!   about one decision in three (10 in 32) into garbage of one of the kinds of
//!   [`Fault`]: no decision at all, a CPU the machine lacks, a CPU outside
//!   the task's mask, duplicates, stale generations, unknown, invalid and
//!   replayed pids, absurd slices, flags and vtimes. The same input stream gives
//!   the same output stream.
//! * [`PanicAfter`] (`panic`) is a FIFO that panics once it has made
//!   [`PANIC_AFTER_DECISIONS`] decisions: the scheduler must contain the
//!   panic, unregister and exit non-zero.
//! * [`Spin`] (`spin`) is a FIFO that, every [`SPIN_EVERY_DECISIONS`]
//!   decisions, busy-loops for [`SPIN_FOR`] inside `dispatch`: a user side
//!   that is on a CPU all along and decides nothing. The dispatcher must
//!   see it as stalled (its thread running is not progress) and schedule
//!   every task itself until the policy answers again.
//! * [`Starve`] (`starve`) is a FIFO that keys every task whose command
//!   name starts with [`STARVED_COMM`] [`STARVE_AHEAD`] behind all others:
//!   under load such tasks run only when the dispatcher's aging runs them.
//!   The guest case `reliability_aging_backlog` starts hundreds of them on
//!   one CPU to check how many overdue tasks aging clears within the
//!   kernel's watchdog.

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

use scheduler_core::{Decision, Policy, QueuedTask, SchedContext, Target};

use crate::{placement::prev_cpu_if_idle, PolicyConfig};

/// Seed of [`Chaos`]'s PRNG.
pub const CHAOS_SEED: u64 = 0x5eed_c4a0_5eed_c4a0;
/// One task in this many gets each [`Fault`] (so `Fault::ALL.len()` in
/// this many tasks get garbage; the rest are decided correctly).
pub const FAULT_ONE_IN: u64 = 32;
/// Decisions [`PanicAfter`] makes before it panics.
pub const PANIC_AFTER_DECISIONS: u64 = 2_000;
/// Decisions [`Spin`] makes between two spins.
pub const SPIN_EVERY_DECISIONS: u64 = 1_000;
/// How long [`Spin`] busy-loops each time: three times the default stall
/// timeout (1 s), well under the kernel's 5 s watchdog.
pub const SPIN_FOR: Duration = Duration::from_secs(3);
/// How far behind the other tasks [`Starve`] keys a starved one (ns of
/// vtime, about 13 days: no honest key of a guest run reaches it, and it
/// stays inside the dispatcher's clamp window, so it is never clamped).
pub const STARVE_AHEAD: u64 = 1 << 50;
/// Command-name prefix of the tasks [`Starve`] starves.
pub const STARVED_COMM: &[u8] = b"starved";
/// Decisions [`Chaos`] remembers for [`Fault::Replay`].
const HISTORY: usize = 64;

/// A kind of garbage [`Chaos`] produces, and who must catch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// No decision, ever: the task is forgotten. The dispatcher dispatches
    /// it itself once it has waited for the stall timeout (`rescued`).
    Hold,
    /// The target is a CPU the machine does not have. The engine sends it
    /// to the shared queue instead (`redirected`).
    CpuOutOfRange,
    /// The target is a CPU other than the task's own: outside the mask of a
    /// pinned task. The dispatcher moves it to an allowed CPU (`bounced`).
    CpuOutsideMask,
    /// The decision is sent twice. The dispatcher applies the first and
    /// discards the second (`stale`).
    Duplicate,
    /// First a decision with an older generation (discarded: `stale`), then
    /// the right one.
    StaleGeneration,
    /// First a decision for a pid that cannot exist (discarded: `stale`),
    /// then the right one.
    UnknownPid,
    /// First a replay of an earlier decision, whose task has since run,
    /// been re-queued or exited (discarded: `stale`), then the right one.
    Replay,
    /// First a decision for pid 0 or a negative pid (the backend refuses to
    /// encode it: `invalid`), then the right one.
    InvalidPid,
    /// The right task, with slice 0 or `u64::MAX` and every flag bit set
    /// (the dispatcher clamps the slice and masks the flags).
    AbsurdValues,
    /// The right task, with a vtime 2^62 above its key or `u64::MAX` (just
    /// below 0 in the wrap-aware order of the kernel's DSQs). The dispatcher
    /// clamps it to the window around its clock (`vtime clamped`).
    AbsurdVtime,
}

impl Fault {
    /// Every fault, in PRNG order.
    pub const ALL: [Fault; 10] = [
        Fault::Hold,
        Fault::CpuOutOfRange,
        Fault::CpuOutsideMask,
        Fault::Duplicate,
        Fault::StaleGeneration,
        Fault::UnknownPid,
        Fault::Replay,
        Fault::InvalidPid,
        Fault::AbsurdValues,
        Fault::AbsurdVtime,
    ];
}

/// SplitMix64: a tiny PRNG whose stream is fixed by its seed.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// Arrival order with deterministic garbage; see the module docs.
#[derive(Debug)]
pub struct Chaos {
    queue: VecDeque<QueuedTask>,
    /// Decisions to send before the next task (at most two).
    extra: VecDeque<Decision>,
    /// The last [`HISTORY`] correct decisions, a ring.
    history: [Option<Decision>; HISTORY],
    history_next: usize,
    rng: Rng,
    seq: u64,
    slice_ns: u64,
    injected: [u64; Fault::ALL.len()],
}

impl Chaos {
    /// A chaos policy seeded with [`CHAOS_SEED`].
    pub fn new(cfg: &PolicyConfig) -> Self {
        Self::with_seed(cfg, CHAOS_SEED)
    }

    /// A chaos policy with its own seed.
    pub fn with_seed(cfg: &PolicyConfig, seed: u64) -> Self {
        Self {
            queue: VecDeque::with_capacity(4096),
            extra: VecDeque::with_capacity(4),
            history: [None; HISTORY],
            history_next: 0,
            rng: Rng(seed),
            seq: 0,
            slice_ns: cfg.slice_ns,
            injected: [0; Fault::ALL.len()],
        }
    }

    /// How many times `fault` was injected so far.
    pub fn injected(&self, fault: Fault) -> u64 {
        Fault::ALL.iter().position(|&f| f == fault).map_or(0, |i| self.injected[i])
    }

    /// The fault for the next task, if any.
    fn roll(&mut self) -> Option<Fault> {
        let r = self.rng.below(FAULT_ONE_IN) as usize;
        let fault = *Fault::ALL.get(r)?;
        self.injected[r] += 1;
        Some(fault)
    }

    fn remember(&mut self, d: Decision) {
        self.history[self.history_next] = Some(d);
        self.history_next = (self.history_next + 1) % HISTORY;
    }

    /// The garbage for `fault` in place of `right` (the correct decision for
    /// `task`); queues whatever must follow it. `None` for [`Fault::Hold`].
    fn garbage(&mut self, fault: Fault, task: &QueuedTask, right: Decision, nr_cpus: u32) -> Option<Decision> {
        let mut bad = right;
        match fault {
            Fault::Hold => return None,
            Fault::CpuOutOfRange => {
                bad.target = Target::Cpu(nr_cpus.saturating_add(self.rng.below(1 << 20) as u32));
            }
            Fault::CpuOutsideMask => {
                let n = u64::from(nr_cpus.max(1));
                let other = (u64::from(task.cpu) + 1 + self.rng.below(n.saturating_sub(1).max(1))) % n;
                bad.target = Target::Cpu(other as u32);
            }
            Fault::Duplicate => self.extra.push_back(right),
            Fault::StaleGeneration => {
                bad.generation = right.generation.wrapping_sub(1 + self.rng.below(3));
                self.extra.push_back(right);
            }
            Fault::UnknownPid => {
                // Far above any pid_max (at most 2^22): no such task.
                bad.pid = i32::MAX - self.rng.below(1 << 16) as i32;
                bad.generation = self.rng.next_u64();
                self.extra.push_back(right);
            }
            Fault::Replay => {
                let old = self.history[self.rng.below(HISTORY as u64) as usize];
                self.extra.push_back(right);
                // Nothing to replay yet: the right decision alone.
                return Some(old.unwrap_or_else(|| self.extra.pop_back().unwrap_or(right)));
            }
            Fault::InvalidPid => {
                bad.pid = -(self.rng.below(1 << 16) as i32);
                self.extra.push_back(right);
            }
            Fault::AbsurdValues => {
                bad.slice_ns = if self.rng.below(2) == 0 { 0 } else { u64::MAX };
                bad.flags = u64::MAX;
            }
            Fault::AbsurdVtime => {
                bad.vtime = if self.rng.below(2) == 0 { right.vtime.wrapping_add(1 << 62) } else { u64::MAX };
            }
        }
        Some(bad)
    }
}

impl Policy for Chaos {
    fn name(&self) -> &str {
        "chaos"
    }

    fn enqueue(&mut self, task: &QueuedTask, _ctx: &SchedContext<'_>) {
        self.queue.push_back(*task);
    }

    fn dispatch(&mut self, ctx: &SchedContext<'_>) -> Option<Decision> {
        if let Some(d) = self.extra.pop_front() {
            return Some(d);
        }
        loop {
            let task = self.queue.pop_front()?;
            self.seq += 1;
            let right = task.decide(prev_cpu_if_idle(&task, ctx), self.slice_ns, self.seq);
            let Some(fault) = self.roll() else {
                self.remember(right);
                return Some(right);
            };
            if fault != Fault::Hold {
                self.remember(right);
            }
            if let Some(d) = self.garbage(fault, &task, right, ctx.cpus.nr_cpus()) {
                return Some(d);
            }
        }
    }

    fn pending(&self) -> usize {
        self.queue.len() + self.extra.len()
    }

    /// Hands over the queued tasks; decisions still to be sent are dropped
    /// (the dispatcher rescues their tasks, as for [`Fault::Hold`]).
    fn take_all(&mut self, out: &mut Vec<QueuedTask>) {
        self.extra.clear();
        out.extend(self.queue.drain(..));
    }
}

/// A FIFO that panics after [`PANIC_AFTER_DECISIONS`] decisions.
///
/// The one deliberate `panic!` of the workspace: it exists to prove that a
/// panicking policy cannot leave the machine with a dead BPF scheduler.
#[derive(Debug)]
pub struct PanicAfter {
    queue: VecDeque<QueuedTask>,
    decided: u64,
    limit: u64,
    slice_ns: u64,
}

impl PanicAfter {
    /// Panics after [`PANIC_AFTER_DECISIONS`] decisions.
    pub fn new(cfg: &PolicyConfig) -> Self {
        Self::after(cfg, PANIC_AFTER_DECISIONS)
    }

    /// Panics when asked for decision number `limit + 1`.
    pub fn after(cfg: &PolicyConfig, limit: u64) -> Self {
        Self { queue: VecDeque::with_capacity(4096), decided: 0, limit, slice_ns: cfg.slice_ns }
    }
}

impl Policy for PanicAfter {
    fn name(&self) -> &str {
        "panic"
    }

    fn enqueue(&mut self, task: &QueuedTask, _ctx: &SchedContext<'_>) {
        self.queue.push_back(*task);
    }

    #[allow(clippy::panic)] // The point of this policy; see the type's docs.
    fn dispatch(&mut self, ctx: &SchedContext<'_>) -> Option<Decision> {
        if self.decided >= self.limit {
            panic!("panic test policy: deliberate panic after {} decisions", self.decided);
        }
        let task = self.queue.pop_front()?;
        self.decided += 1;
        Some(task.decide(prev_cpu_if_idle(&task, ctx), self.slice_ns, self.decided))
    }

    fn pending(&self) -> usize {
        self.queue.len()
    }

    fn take_all(&mut self, out: &mut Vec<QueuedTask>) {
        out.extend(self.queue.drain(..));
    }
}

/// A FIFO that busy-loops for a while every so many decisions (see the
/// module docs).
pub struct Spin {
    queue: VecDeque<QueuedTask>,
    decided: u64,
    every: u64,
    spin_for: Duration,
    spins: u64,
    slice_ns: u64,
}

impl Spin {
    /// Spins [`SPIN_FOR`] every [`SPIN_EVERY_DECISIONS`] decisions.
    pub fn new(cfg: &PolicyConfig) -> Self {
        Self::every(cfg, SPIN_EVERY_DECISIONS, SPIN_FOR)
    }

    /// Spins `spin_for` before decision number `every`, `2 * every`, ...
    pub fn every(cfg: &PolicyConfig, every: u64, spin_for: Duration) -> Self {
        Self {
            queue: VecDeque::with_capacity(4096),
            decided: 0,
            every: every.max(1),
            spin_for,
            spins: 0,
            slice_ns: cfg.slice_ns,
        }
    }

    /// How many times it has spun.
    pub fn spins(&self) -> u64 {
        self.spins
    }
}

impl Policy for Spin {
    fn name(&self) -> &str {
        "spin"
    }

    fn enqueue(&mut self, task: &QueuedTask, _ctx: &SchedContext<'_>) {
        self.queue.push_back(*task);
    }

    fn dispatch(&mut self, ctx: &SchedContext<'_>) -> Option<Decision> {
        let task = self.queue.pop_front()?;
        self.decided += 1;
        if self.decided.is_multiple_of(self.every) {
            self.spins += 1;
            let start = Instant::now();
            while start.elapsed() < self.spin_for {
                std::hint::spin_loop();
            }
        }
        Some(task.decide(prev_cpu_if_idle(&task, ctx), self.slice_ns, self.decided))
    }

    fn pending(&self) -> usize {
        self.queue.len()
    }

    fn take_all(&mut self, out: &mut Vec<QueuedTask>) {
        out.extend(self.queue.drain(..));
    }
}

/// A FIFO that starves the tasks named [`STARVED_COMM`]`*`: their keys lie
/// [`STARVE_AHEAD`] behind every other task's, so only the dispatcher's
/// aging runs them while anything else waits (see the module docs).
pub struct Starve {
    queue: VecDeque<QueuedTask>,
    decided: u64,
    slice_ns: u64,
}

impl Starve {
    /// An empty policy.
    pub fn new(cfg: &PolicyConfig) -> Self {
        Self { queue: VecDeque::with_capacity(4096), decided: 0, slice_ns: cfg.slice_ns }
    }

    /// Whether `task` is one this policy starves.
    pub fn starves(task: &QueuedTask) -> bool {
        task.comm.starts_with(STARVED_COMM)
    }
}

impl Policy for Starve {
    fn name(&self) -> &str {
        "starve"
    }

    fn enqueue(&mut self, task: &QueuedTask, _ctx: &SchedContext<'_>) {
        self.queue.push_back(*task);
    }

    fn dispatch(&mut self, _ctx: &SchedContext<'_>) -> Option<Decision> {
        let task = self.queue.pop_front()?;
        self.decided += 1;
        let behind = if Self::starves(&task) { STARVE_AHEAD } else { 0 };
        Some(task.decide(Target::Any, self.slice_ns, self.decided + behind))
    }

    fn pending(&self) -> usize {
        self.queue.len()
    }

    fn take_all(&mut self, out: &mut Vec<QueuedTask>) {
        out.extend(self.queue.drain(..));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashMap;

    use scheduler_core::{CpuView, Topology};

    use super::*;

    fn busy(n: u32) -> CpuView {
        let mut v = CpuView::new(Topology::uniform(n, 1, n));
        for c in 0..n {
            v.set(c, false, 1, 1);
        }
        v
    }

    /// Runs `p` over `n` tasks (pid i, generation 10 + i) and returns every decision.
    fn drive(p: &mut dyn Policy, n: i32, cpus: &CpuView) -> Vec<Decision> {
        let ctx = SchedContext { now_ns: 0, cpus };
        for pid in 1..=n {
            let mut t = QueuedTask::new(pid, (pid as u32) % cpus.nr_cpus());
            t.generation = 10 + pid as u64;
            t.nr_cpus_allowed = 1;
            p.enqueue(&t, &ctx);
        }
        std::iter::from_fn(|| p.dispatch(&ctx)).collect()
    }

    /// The same seed and input give the same decisions; another seed differs.
    #[test]
    fn deterministic() {
        let cpus = busy(4);
        let a = drive(&mut Chaos::new(&PolicyConfig::default()), 500, &cpus);
        let b = drive(&mut Chaos::new(&PolicyConfig::default()), 500, &cpus);
        let c = drive(&mut Chaos::with_seed(&PolicyConfig::default(), 7), 500, &cpus);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    /// Every fault kind is injected, about once per FAULT_ONE_IN tasks, and
    /// its garbage has the promised shape; every task not held still gets
    /// exactly one right decision; nothing is left pending.
    #[test]
    fn every_fault_has_its_shape() {
        let cpus = busy(4);
        let n = 20_000;
        let mut p = Chaos::new(&PolicyConfig::default());
        let out = drive(&mut p, n, &cpus);
        assert_eq!(p.pending(), 0);
        let expected = n as u64 / FAULT_ONE_IN;
        for f in Fault::ALL {
            let got = p.injected(f);
            assert!(got > expected / 2 && got < expected * 2, "{f:?}: {got}, expected about {expected}");
        }
        let right = |d: &Decision| d.pid >= 1 && d.pid <= n && d.generation == 10 + d.pid as u64;
        let mut per_pid: HashMap<i32, u64> = HashMap::new();
        for d in out.iter().filter(|d| right(d)) {
            *per_pid.entry(d.pid).or_default() += 1;
        }
        let decided = per_pid.len() as u64;
        assert_eq!(decided + p.injected(Fault::Hold), n as u64, "every task decided, unless held");
        // Second copies: each duplicate, and replays of earlier right decisions.
        let copies = per_pid.values().sum::<u64>() - decided;
        let dups = p.injected(Fault::Duplicate);
        assert!(copies >= dups && copies <= dups + p.injected(Fault::Replay), "{copies} copies, {dups} duplicates");
        let out_of_range = out.iter().filter(|d| matches!(d.target, Target::Cpu(c) if c >= 4)).count() as u64;
        assert_eq!(out_of_range, p.injected(Fault::CpuOutOfRange));
        let unknown = out.iter().filter(|d| d.pid > n).count() as u64;
        assert_eq!(unknown, p.injected(Fault::UnknownPid));
        let invalid = out.iter().filter(|d| d.pid <= 0).count() as u64;
        assert_eq!(invalid, p.injected(Fault::InvalidPid));
        let absurd = out.iter().filter(|d| d.flags == u64::MAX).count() as u64;
        assert_eq!(absurd, p.injected(Fault::AbsurdValues));
        let far = out.iter().filter(|d| d.vtime >= 1 << 62).count() as u64;
        assert_eq!(far, p.injected(Fault::AbsurdVtime));
        let stale = out.iter().filter(|d| d.pid >= 1 && d.pid <= n && d.generation < 10 + d.pid as u64).count();
        assert!(stale as u64 >= p.injected(Fault::StaleGeneration));
    }

    /// A CPU "outside the mask" is never the task's own CPU, and always exists.
    #[test]
    fn outside_mask_is_another_existing_cpu() {
        let cpus = busy(4);
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        let mut p = Chaos::new(&PolicyConfig::default());
        let right = QueuedTask::new(1, 2).decide(Target::Any, 1, 1);
        for _ in 0..1000 {
            let d = p.garbage(Fault::CpuOutsideMask, &QueuedTask::new(1, 2), right, ctx.cpus.nr_cpus()).unwrap();
            assert!(matches!(d.target, Target::Cpu(c) if c != 2 && c < 4), "{d:?}");
        }
    }

    /// `panic` decides in order until its limit, then panics.
    #[test]
    fn panic_policy_panics_after_its_limit() {
        let cpus = busy(2);
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        let mut p = PanicAfter::after(&PolicyConfig::default(), 3);
        for pid in 1..=5 {
            p.enqueue(&QueuedTask::new(pid, 0), &ctx);
        }
        let first: Vec<i32> = (0..3).filter_map(|_| p.dispatch(&ctx)).map(|d| d.pid).collect();
        assert_eq!(first, vec![1, 2, 3]);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| p.dispatch(&ctx)));
        let msg = caught.err().and_then(|e| e.downcast_ref::<String>().cloned()).unwrap();
        assert_eq!(msg, "panic test policy: deliberate panic after 3 decisions");
    }

    /// `spin` decides in arrival order and, before every `every`-th
    /// decision, spends at least `spin_for` inside `dispatch`.
    #[test]
    fn spin_policy_spins_every_so_many_decisions() {
        let cpus = busy(2);
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        let spin_for = Duration::from_millis(30);
        let mut p = Spin::every(&PolicyConfig::default(), 3, spin_for);
        for pid in 1..=7 {
            p.enqueue(&QueuedTask::new(pid, 0), &ctx);
        }
        let mut order = Vec::new();
        for k in 1..=7u64 {
            let start = Instant::now();
            order.push(p.dispatch(&ctx).unwrap().pid);
            if k % 3 == 0 {
                assert!(start.elapsed() >= spin_for, "decision {k} did not spin");
            }
            assert_eq!(p.spins(), k / 3);
        }
        assert_eq!(order, (1..=7).collect::<Vec<_>>());
        assert!(p.dispatch(&ctx).is_none());
        assert_eq!(p.pending(), 0);
    }

    /// Starved tasks are keyed STARVE_AHEAD behind the rest, in FIFO order
    /// otherwise, and nothing is held.
    #[test]
    fn starve_keys_starved_tasks_behind() {
        let cpus = busy(2);
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        let mut p = Starve::new(&PolicyConfig::default());
        for pid in 1..=4 {
            let mut t = QueuedTask::new(pid, 0);
            if pid % 2 == 0 {
                t.comm[..STARVED_COMM.len()].copy_from_slice(STARVED_COMM);
            }
            p.enqueue(&t, &ctx);
        }
        let d: Vec<Decision> = std::iter::from_fn(|| p.dispatch(&ctx)).collect();
        assert_eq!(d.iter().map(|d| d.pid).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert_eq!(d.iter().map(|d| d.vtime).collect::<Vec<_>>(), [1, 2 + STARVE_AHEAD, 3, 4 + STARVE_AHEAD]);
        assert!(d.iter().all(|d| d.target == Target::Any));
        assert_eq!(p.pending(), 0);
    }
}
