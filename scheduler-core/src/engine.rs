//! The engine: one loop, any backend, any policy.
//!
//! Each [`Engine::step`] is one round of the user scheduler:
//!
//! 1. refresh the CPU view from the backend;
//! 2. resend the decision the channel refused last round, if any
//!    (back-pressure: a decision is kept until it is accepted, never dropped);
//! 3. drain up to [`EngineConfig::batch`] queued tasks and hand each to the
//!    policy; where the backend shares per-task context with the dispatcher
//!    ([`Backend::task_shared`]), the policy's fast-path answer for the task
//!    ([`Policy::fast_path`]) is written there too (after a policy switch,
//!    every grant of the old policy is withdrawn first);
//! 4. ask the policy for decisions and send them until it has none, the
//!    channel is full, or [`EngineConfig::max_decisions`] were sent;
//! 5. tell the backend how much work user space still holds.
//!
//! **Policy switches.** [`Engine::switch_policy`] hands every task the old
//! policy held to the new one. Each policy orders its decisions by its own
//! `vtime` scale (a counter, a virtual clock in ns, ...), and the dispatcher's
//! queues still hold tasks keyed by the old one: were the new keys lower, the
//! new policy's tasks would pass the old ones for as long as it runs — a
//! starvation the kernel's watchdog punishes. So after a switch the engine
//! adds an offset to every vtime the new policy sends, chosen at its first
//! decision so that this one sorts right after the largest vtime sent so far,
//! and subtracts it from every vtime coming back (saturating: a vtime from
//! the old scale reads as 0, "never set", or close to the new policy's
//! start). A policy sees only its own scale.
//!
//! In steady state nothing here allocates: the inbox is reserved up front and
//! at most one refused decision is ever held (sending stops at the first
//! refusal), so the only per-task memory is whatever the policy keeps.

use thiserror::Error;

use crate::{
    backend::{Backend, BackendError, SendStatus},
    cpu::{CpuView, Topology},
    policy::{Policy, SchedContext},
    shared::{clear_grants, find_slot, Published},
    task::{Decision, QueuedTask, Target},
    wire::{clamp_vtime, DISPATCH_BATCH},
};

/// Engine tunables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Most tasks drained from the backend per step.
    pub batch: usize,
    /// Most decisions sent per step.
    pub max_decisions: usize,
    /// A test knob: every fast-path grant names this CPU as its preferred
    /// one (scx_relay's hidden `--test-fast-prefer-cpu`, with which a guest
    /// case checks that the dispatcher takes it). `None`: the policy's own.
    pub test_preferred_cpu: Option<u32>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self { batch: DISPATCH_BATCH, max_decisions: DISPATCH_BATCH, test_preferred_cpu: None }
    }
}

/// Counters of one policy while it was the engine's policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PolicyCounters {
    /// The policy's name.
    pub name: String,
    /// Tasks handed to it (drained from the backend or handed over).
    pub received: u64,
    /// Decisions of its that the backend accepted.
    pub decided: u64,
}

/// Engine counters since start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct EngineStats {
    /// Steps run.
    pub steps: u64,
    /// Tasks drained from the backend.
    pub received: u64,
    /// Decisions the backend accepted.
    pub decided: u64,
    /// Times a decision was refused because the channel was full (and kept).
    pub retried: u64,
    /// Decisions naming a CPU the machine does not have, sent to the shared
    /// queue instead.
    pub redirected: u64,
    /// Policy switches.
    pub switches: u64,
    /// Fast-path grants written to the shared task context: new ones, and
    /// changed budgets or placements ([`crate::Policy::fast_path`]).
    pub grants: u64,
    /// Grants written again after the dispatcher revoked them.
    pub regrants: u64,
    /// Grants withdrawn (the policy answered `None` to a granted task).
    pub grants_withdrawn: u64,
    /// Per policy, in the order they were first used.
    pub per_policy: Vec<PolicyCounters>,
}

/// What one step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepReport {
    /// Tasks drained this step.
    pub received: usize,
    /// Decisions accepted this step.
    pub sent: usize,
    /// Whether the channel refused a decision this step.
    pub channel_full: bool,
    /// Tasks user space still holds after the step.
    pub pending: usize,
}

/// An engine failure.
#[derive(Debug, Error)]
pub enum EngineError {
    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// Policies whose counters [`Engine::new`] makes room for: switching to a
/// policy of a new name allocates nothing until this many were used.
pub const POLICIES_TRACKED: usize = 16;

/// A policy switch prepared off the scheduling loop: the new policy and the
/// memory [`Engine::switch_prepared`] needs (the hand-over list, the new
/// policy's counters), so that the switch itself allocates nothing.
pub struct PreparedSwitch {
    policy: Box<dyn Policy>,
    handover: Vec<QueuedTask>,
    counters: PolicyCounters,
}

impl PreparedSwitch {
    /// `policy`, with room to hand over `capacity` tasks without allocating.
    pub fn new(policy: Box<dyn Policy>, capacity: usize) -> Self {
        let counters = PolicyCounters { name: policy.name().to_owned(), ..Default::default() };
        Self { policy, handover: Vec::with_capacity(capacity), counters }
    }

    /// The new policy's name.
    pub fn name(&self) -> &str {
        &self.counters.name
    }
}

/// What a switch leaves behind, for the caller to free where it likes (off
/// the scheduling loop): the old policy, emptied, and the prepared memory.
pub struct Retired {
    /// The old policy, holding no task.
    pub policy: Box<dyn Policy>,
    /// Tasks handed over to the new policy.
    pub handed: usize,
    /// The hand-over list (emptied) and unused counters: memory to free.
    _memory: (Vec<QueuedTask>, Option<PolicyCounters>),
}

/// Moves tasks from a [`Backend`] through a [`Policy`] and back.
pub struct Engine {
    policy: Box<dyn Policy>,
    policy_idx: usize,
    cpus: CpuView,
    inbox: Vec<QueuedTask>,
    refused: Option<Decision>,
    config: EngineConfig,
    stats: EngineStats,
    /// Added to the running policy's vtimes on the way out, subtracted on the way in.
    vtime_offset: u64,
    /// The largest vtime sent so far (after the offset).
    max_vtime_sent: u64,
    /// A switch happened: the next decision sets `vtime_offset`.
    rebase_pending: bool,
    /// A switch happened: the next step withdraws the old policy's grants.
    grants_stale: bool,
}

impl Engine {
    /// An engine for a machine with `topology`, running `policy`.
    pub fn new(policy: Box<dyn Policy>, topology: Topology, config: EngineConfig) -> Self {
        let config = EngineConfig { batch: config.batch.max(1), max_decisions: config.max_decisions.max(1), ..config };
        let mut per_policy = Vec::with_capacity(POLICIES_TRACKED);
        per_policy.push(PolicyCounters { name: policy.name().to_owned(), ..Default::default() });
        let stats = EngineStats { per_policy, ..Default::default() };
        Self {
            policy,
            policy_idx: 0,
            cpus: CpuView::new(topology),
            inbox: Vec::with_capacity(config.batch),
            refused: None,
            config,
            stats,
            vtime_offset: 0,
            max_vtime_sent: 0,
            rebase_pending: false,
            grants_stale: false,
        }
    }

    /// Runs one round (see the module docs).
    pub fn step(&mut self, backend: &mut dyn Backend) -> Result<StepReport, EngineError> {
        let mut report = StepReport::default();
        self.stats.steps += 1;
        backend.refresh_cpus(&mut self.cpus);
        let now_ns = backend.now_ns();
        // Before anything can return early (a decision still refused).
        if std::mem::take(&mut self.grants_stale) {
            if let Some(s) = backend.task_shared() {
                clear_grants(s);
            }
        }

        if let Some(d) = self.refused.take() {
            if !self.send(backend, d, &mut report)? {
                backend.step_done(self.pending());
                report.pending = self.pending();
                return Ok(report);
            }
        }

        self.inbox.clear();
        report.received = backend.receive(&mut self.inbox, self.config.batch)?;
        let ctx = SchedContext { now_ns, cpus: &self.cpus };
        let shared = backend.task_shared();
        for task in &mut self.inbox {
            task.vtime = task.vtime.saturating_sub(self.vtime_offset);
            self.policy.enqueue(task, &ctx);
            let Some(slot) = shared.and_then(|s| find_slot(s, task.pid)) else { continue };
            let Some(stats) = slot.stats(task.pid) else { continue };
            let mut grant = self.policy.fast_path(task, &stats, &ctx);
            if let (Some(g), Some(cpu)) = (grant.as_mut(), self.config.test_preferred_cpu) {
                g.preferred_cpu = Some(cpu);
            }
            match slot.publish(task.pid, grant) {
                Some(Published::Granted) => self.stats.grants += 1,
                Some(Published::Regranted) => self.stats.regrants += 1,
                Some(Published::Withdrawn) => self.stats.grants_withdrawn += 1,
                None => {}
            }
        }
        self.stats.received += report.received as u64;
        self.stats.per_policy[self.policy_idx].received += report.received as u64;

        for _ in 0..self.config.max_decisions {
            let ctx = SchedContext { now_ns, cpus: &self.cpus };
            let Some(mut d) = self.policy.dispatch(&ctx) else { break };
            if let Target::Cpu(c) = d.target {
                if c >= self.cpus.nr_cpus() {
                    d.target = Target::Any;
                    self.stats.redirected += 1;
                }
            }
            if self.rebase_pending {
                self.rebase_pending = false;
                self.vtime_offset = self.max_vtime_sent.saturating_add(1).saturating_sub(d.vtime);
            }
            d.vtime = d.vtime.saturating_add(self.vtime_offset);
            // Garbage the dispatcher clamps (a vtime beyond its window around
            // the largest sent so far, wire::clamp_vtime) must not become the
            // base a switched-to policy is rebased past.
            if clamp_vtime(d.vtime, self.max_vtime_sent) == d.vtime {
                self.max_vtime_sent = self.max_vtime_sent.max(d.vtime);
            }
            if !self.send(backend, d, &mut report)? {
                break;
            }
        }
        report.pending = self.pending();
        backend.step_done(report.pending);
        Ok(report)
    }

    /// Sends `d`; on a full channel keeps it for the next step and returns false.
    fn send(&mut self, backend: &mut dyn Backend, d: Decision, report: &mut StepReport) -> Result<bool, EngineError> {
        match backend.send(&d)? {
            SendStatus::Sent => {
                report.sent += 1;
                self.stats.decided += 1;
                self.stats.per_policy[self.policy_idx].decided += 1;
                Ok(true)
            }
            SendStatus::Full => {
                report.channel_full = true;
                self.stats.retried += 1;
                self.refused = Some(d);
                Ok(false)
            }
        }
    }

    /// Tasks user space holds: the policy's plus a refused decision.
    pub fn pending(&self) -> usize {
        self.policy.pending() + usize::from(self.refused.is_some())
    }

    /// Replaces the policy; every task the old one held is handed to the new
    /// one (a refused decision stays queued for sending). Returns how many
    /// tasks were handed over. The new policy's vtimes are rebased past the
    /// old ones (see the module docs). Allocates (the hand-over list).
    pub fn switch_policy(&mut self, new: Box<dyn Policy>, now_ns: u64) -> usize {
        self.replace_policy(new, now_ns).0
    }

    /// [`Engine::switch_policy`], returning the old policy too (empty), for
    /// a caller that wants to free it elsewhere (on another thread).
    pub fn replace_policy(&mut self, new: Box<dyn Policy>, now_ns: u64) -> (usize, Box<dyn Policy>) {
        let capacity = self.policy.pending();
        let retired = self.switch_prepared(PreparedSwitch::new(new, capacity), now_ns);
        (retired.handed, retired.policy)
    }

    /// Switches to the prepared policy (see [`Engine::switch_policy`]). It
    /// allocates nothing itself when the old policy holds at most the
    /// hand-over list's capacity and fewer than [`POLICIES_TRACKED`]
    /// policies were used (the new policy may, if taking the tasks grows
    /// its containers). What it leaves is returned, to be freed by the
    /// caller.
    pub fn switch_prepared(&mut self, switch: PreparedSwitch, now_ns: u64) -> Retired {
        let PreparedSwitch { policy: new, mut handover, counters } = switch;
        self.rebase_pending = true;
        self.grants_stale = true;
        handover.clear();
        self.policy.take_all(&mut handover);
        let old = std::mem::replace(&mut self.policy, new);
        let ctx = SchedContext { now_ns, cpus: &self.cpus };
        for t in &handover {
            self.policy.enqueue(t, &ctx);
        }
        let handed = handover.len();
        handover.clear();
        let name = self.policy.name();
        let mut counters = Some(counters);
        self.policy_idx = match self.stats.per_policy.iter().position(|p| p.name == name) {
            Some(i) => i,
            None => {
                let mut c = counters.take().unwrap_or_default();
                if c.name != name {
                    name.clone_into(&mut c.name);
                }
                self.stats.per_policy.push(c);
                self.stats.per_policy.len() - 1
            }
        };
        self.stats.per_policy[self.policy_idx].received += handed as u64;
        self.stats.switches += 1;
        Retired { policy: old, handed, _memory: (handover, counters) }
    }

    /// The running policy's name.
    pub fn policy_name(&self) -> &str {
        self.policy.name()
    }

    /// Counters since start.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// The CPU view as of the last step.
    pub fn cpus(&self) -> &CpuView {
        &self.cpus
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// A FIFO policy that targets the task's own CPU.
    struct Fifo(VecDeque<QueuedTask>);
    impl Policy for Fifo {
        fn name(&self) -> &str {
            "test-fifo"
        }
        fn enqueue(&mut self, t: &QueuedTask, _: &SchedContext<'_>) {
            self.0.push_back(*t);
        }
        fn dispatch(&mut self, _: &SchedContext<'_>) -> Option<Decision> {
            self.0.pop_front().map(|t| t.decide(Target::Cpu(t.cpu), 1000, 0))
        }
        fn pending(&self) -> usize {
            self.0.len()
        }
        fn take_all(&mut self, out: &mut Vec<QueuedTask>) {
            out.extend(self.0.drain(..));
        }
    }

    /// A backend with a queue of tasks and a decision channel of fixed capacity.
    struct Chan {
        queued: VecDeque<QueuedTask>,
        sent: Vec<Decision>,
        capacity: usize,
        pending: usize,
    }
    impl Backend for Chan {
        fn receive(&mut self, out: &mut Vec<QueuedTask>, max: usize) -> Result<usize, BackendError> {
            let n = max.min(self.queued.len());
            out.extend(self.queued.drain(..n));
            Ok(n)
        }
        fn send(&mut self, d: &Decision) -> Result<SendStatus, BackendError> {
            if self.sent.len() >= self.capacity {
                return Ok(SendStatus::Full);
            }
            self.sent.push(*d);
            Ok(SendStatus::Sent)
        }
        fn refresh_cpus(&mut self, _: &mut CpuView) {}
        fn now_ns(&self) -> u64 {
            0
        }
        fn step_done(&mut self, n: usize) {
            self.pending = n;
        }
    }

    fn setup(n: i32, capacity: usize) -> (Engine, Chan) {
        let engine = Engine::new(
            Box::new(Fifo(VecDeque::new())),
            Topology::uniform(4, 1, 4),
            EngineConfig { batch: 8, max_decisions: 8, ..EngineConfig::default() },
        );
        let queued = (1..=n).map(|p| QueuedTask::new(p, (p % 4) as u32)).collect();
        (engine, Chan { queued, sent: Vec::new(), capacity, pending: 0 })
    }

    /// Tasks are drained in batches and every one is decided, in order.
    #[test]
    fn drains_in_batches_and_decides_all() {
        let (mut e, mut b) = setup(20, usize::MAX);
        let r = e.step(&mut b).unwrap();
        assert_eq!((r.received, r.sent), (8, 8));
        while e.step(&mut b).unwrap().received > 0 {}
        assert_eq!(b.sent.iter().map(|d| d.pid).collect::<Vec<_>>(), (1..=20).collect::<Vec<_>>());
        assert_eq!((e.stats().received, e.stats().decided, b.pending), (20, 20, 0));
    }

    /// A full channel keeps the refused decision and resends it first: no task is lost.
    #[test]
    fn back_pressure_keeps_decisions() {
        let (mut e, mut b) = setup(6, 2);
        let r = e.step(&mut b).unwrap();
        assert!(r.channel_full);
        assert_eq!(b.sent.len(), 2);
        assert_eq!(b.pending, 4, "3 in the policy and 1 refused");
        // The dispatcher consumes what was sent; the channel frees up.
        for _ in 0..4 {
            b.capacity += 2;
            e.step(&mut b).unwrap();
        }
        assert_eq!(b.sent.iter().map(|d| d.pid).collect::<Vec<_>>(), (1..=6).collect::<Vec<_>>());
        assert_eq!(e.stats().retried, 2);
        assert_eq!(e.pending(), 0);
    }

    /// A decision naming a CPU the machine lacks goes to the shared queue and is counted.
    #[test]
    fn out_of_range_cpu_is_redirected() {
        let (mut e, mut b) = setup(0, usize::MAX);
        b.queued.push_back(QueuedTask::new(9, 0));
        // cpu 0..4 exist; forge a task whose cpu the policy echoes as 7.
        b.queued[0].cpu = 7;
        e.step(&mut b).unwrap();
        assert_eq!(b.sent[0].target, Target::Any);
        assert_eq!(e.stats().redirected, 1);
    }

    /// A policy whose decisions carry a fixed vtime.
    struct Keyed(VecDeque<QueuedTask>, u64);
    impl Policy for Keyed {
        fn name(&self) -> &str {
            "keyed"
        }
        fn enqueue(&mut self, t: &QueuedTask, _: &SchedContext<'_>) {
            self.0.push_back(*t);
        }
        fn dispatch(&mut self, _: &SchedContext<'_>) -> Option<Decision> {
            self.0.pop_front().map(|t| t.decide(Target::Any, 1000, self.1 + t.vtime))
        }
        fn pending(&self) -> usize {
            self.0.len()
        }
        fn take_all(&mut self, out: &mut Vec<QueuedTask>) {
            out.extend(self.0.drain(..));
        }
    }

    /// After a switch to a policy with lower vtimes, its decisions sort after
    /// every vtime sent before, keep their own order, and come back in the
    /// policy's own scale.
    #[test]
    fn switch_rebases_vtimes() {
        let mut e = Engine::new(
            Box::new(Keyed(VecDeque::new(), 1_000_000)),
            Topology::uniform(4, 1, 4),
            EngineConfig::default(),
        );
        let queued = (1..=2).map(|p| QueuedTask::new(p, 0)).collect();
        let mut b = Chan { queued, sent: Vec::new(), capacity: usize::MAX, pending: 0 };
        e.step(&mut b).unwrap();
        assert_eq!(b.sent.iter().map(|d| d.vtime).collect::<Vec<_>>(), vec![1_000_000, 1_000_000]);
        e.switch_policy(Box::new(Keyed(VecDeque::new(), 10)), 0);
        b.queued.push_back(QueuedTask::new(3, 0));
        let mut t = QueuedTask::new(4, 0);
        t.vtime = 5;
        b.queued.push_back(t);
        e.step(&mut b).unwrap();
        assert_eq!(b.sent[2].vtime, 1_000_001, "first decision after the switch sorts right after the old ones");
        assert_eq!(b.sent[3].vtime, 1_000_006, "later ones keep the policy's order");
        // A task coming back with a sent vtime is seen in the policy's scale.
        let mut back = QueuedTask::new(5, 0);
        back.vtime = b.sent[3].vtime;
        b.queued.push_back(back);
        e.step(&mut b).unwrap();
        let offset = 1_000_001 - 10;
        assert_eq!(b.sent[4].vtime, (15 + 10) + offset, "seen as vtime 15, keyed 25, rebased");
    }

    /// A policy's garbage vtimes (2^62, u64::MAX) are not the base the next
    /// policy is rebased past: its decisions sort right after the largest
    /// honest vtime sent, in its own order, not all saturated at u64::MAX.
    #[test]
    fn switch_rebases_past_honest_vtimes_only() {
        let mut e =
            Engine::new(Box::new(Keyed(VecDeque::new(), 1_000)), Topology::uniform(4, 1, 4), EngineConfig::default());
        let mut b = Chan { queued: VecDeque::new(), sent: Vec::new(), capacity: usize::MAX, pending: 0 };
        for (pid, vtime) in [(1, 0), (2, u64::MAX - 1_000), (3, 1 << 62)] {
            let mut t = QueuedTask::new(pid, 0);
            t.vtime = vtime;
            b.queued.push_back(t);
        }
        e.step(&mut b).unwrap();
        assert_eq!(b.sent.iter().map(|d| d.vtime).collect::<Vec<_>>(), vec![1_000, u64::MAX, (1 << 62) + 1_000]);
        e.switch_policy(Box::new(Keyed(VecDeque::new(), 10)), 0);
        for pid in 4..=5 {
            let mut t = QueuedTask::new(pid, 0);
            t.vtime = pid as u64;
            b.queued.push_back(t);
        }
        e.step(&mut b).unwrap();
        assert_eq!(b.sent[3].vtime, 1_001, "right after the largest honest vtime");
        assert_eq!(b.sent[4].vtime, 1_002, "in the new policy's order");
    }

    /// Switching policy hands every held task to the new one.
    #[test]
    fn switch_hands_over_tasks() {
        let (mut e, mut b) = setup(6, 0);
        e.step(&mut b).unwrap();
        let handed = e.switch_policy(Box::new(Fifo(VecDeque::new())), 0);
        assert_eq!(handed, 5, "6 received, 1 refused decision stays with the engine");
        b.capacity = usize::MAX;
        e.step(&mut b).unwrap();
        assert_eq!(b.sent.len(), 6);
    }

    /// Grants odd pids a 2 ms fast path, nothing to even ones.
    struct Granting(Fifo);
    impl Policy for Granting {
        fn name(&self) -> &str {
            "test-granting"
        }
        fn enqueue(&mut self, t: &QueuedTask, c: &SchedContext<'_>) {
            self.0.enqueue(t, c)
        }
        fn dispatch(&mut self, c: &SchedContext<'_>) -> Option<Decision> {
            self.0.dispatch(c)
        }
        fn pending(&self) -> usize {
            self.0.pending()
        }
        fn take_all(&mut self, out: &mut Vec<QueuedTask>) {
            self.0.take_all(out)
        }
        fn fast_path(
            &mut self,
            t: &QueuedTask,
            _: &crate::TaskStats,
            _: &SchedContext<'_>,
        ) -> Option<crate::FastGrant> {
            (t.pid % 2 == 1).then_some(crate::FastGrant::new(2_000_000))
        }
    }

    /// [`Chan`] with a shared task table.
    struct Shared(Chan, crate::shared::TaskSharedTable);
    impl Backend for Shared {
        fn receive(&mut self, out: &mut Vec<QueuedTask>, max: usize) -> Result<usize, BackendError> {
            self.0.receive(out, max)
        }
        fn send(&mut self, d: &Decision) -> Result<SendStatus, BackendError> {
            self.0.send(d)
        }
        fn refresh_cpus(&mut self, v: &mut CpuView) {
            self.0.refresh_cpus(v)
        }
        fn now_ns(&self) -> u64 {
            0
        }
        fn step_done(&mut self, n: usize) {
            self.0.step_done(n)
        }
        fn task_shared(&self) -> Option<&[crate::TaskSharedSlot]> {
            Some(self.1.slots())
        }
    }

    #[test]
    fn fast_path_grants_are_published_and_a_switch_withdraws_them() {
        let (_, chan) = setup(6, 64);
        let table = crate::shared::TaskSharedTable::new();
        for pid in 1..=5 {
            table.claim(pid).unwrap(); // pid 6 has no slot: never asked
        }
        let mut b = Shared(chan, table);
        let mut e = Engine::new(
            Box::new(Granting(Fifo(VecDeque::new()))),
            Topology::uniform(4, 1, 4),
            EngineConfig { batch: 8, max_decisions: 8, ..EngineConfig::default() },
        );
        e.step(&mut b).unwrap();
        let granted = |b: &Shared, pid| find_slot(b.1.slots(), pid).and_then(|s| s.stats(pid)).map(|s| s.granted);
        assert_eq!(
            (1..=6).map(|p| granted(&b, p)).collect::<Vec<_>>(),
            [Some(true), Some(false), Some(true), Some(false), Some(true), None]
        );
        assert_eq!(e.stats().grants, 3);
        // Seen again: a steady grant is not written again.
        b.0.queued.extend((1..=5).map(|p| QueuedTask::new(p, 0)));
        e.step(&mut b).unwrap();
        assert_eq!(e.stats().grants, 3);
        // A policy that grants nothing takes over: every grant goes.
        e.switch_policy(Box::new(Fifo(VecDeque::new())), 0);
        e.step(&mut b).unwrap();
        assert!((1..=5).all(|p| granted(&b, p) == Some(false)));
    }

    /// The test knob `test_preferred_cpu` names its CPU in every grant's
    /// placement, and in nothing that is not granted.
    #[test]
    fn the_test_knob_names_the_preferred_cpu_of_every_grant() {
        let (_, chan) = setup(2, 64);
        let table = crate::shared::TaskSharedTable::new();
        for pid in 1..=2 {
            table.claim(pid).unwrap();
        }
        let mut b = Shared(chan, table);
        let config = EngineConfig { test_preferred_cpu: Some(3), ..EngineConfig::default() };
        let mut e = Engine::new(Box::new(Granting(Fifo(VecDeque::new()))), Topology::uniform(4, 1, 4), config);
        e.step(&mut b).unwrap();
        let place = |pid| find_slot(b.1.slots(), pid).unwrap().placement.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(crate::shared::placement_cpu(place(1)), Some(3), "granted");
        assert_eq!(place(2), 0, "not granted");
    }
}
