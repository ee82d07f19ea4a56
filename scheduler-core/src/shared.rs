//! Per-task context shared by the dispatcher and user space, and the wakeup
//! fast path it grants.
//!
//! The dispatcher keeps one [`TaskSharedSlot`] per task in a table both
//! sides map (`task_shared`, an mmapable BPF array; `relay_task_shared` in
//! `src/bpf/intf.h` is the same layout). It publishes per-task statistics
//! there ([`TaskStats`]: CPU time, wakeups, average burst and wakeup period,
//! the last waker, the wakeups from interrupts), and user space reads them
//! in place, with no copy and no system call. User space writes two words
//! back, a [`FastGrant`]: the grant (a burst budget, and whether a wakeup
//! may wait on a busy CPU: deferrable) and the placement (a preferred CPU
//! and an effective weight). A task with a grant that wakes up is placed by the
//! dispatcher at once (an idle CPU, the preferred one first, or a CPU whose
//! running task it preempts), without the round trip to user space. The
//! policy stays the only author of policy: it decides which tasks get the
//! fast path, with what budget, where first and at what weight
//! ([`crate::Policy::fast_path`]); the dispatcher enforces the budget and
//! the share of a CPU due to the weight ([`fast_share_limit_ns`]), and
//! revokes a grant whose task overran its budget [`FAST_OVERRUNS`]
//! fast-placed wakeups in a row, or its share ([`TaskStats::revoked`]),
//! until the policy grants again.
//!
//! Every field has one writer, and each is one aligned store: the reader
//! gets hints, never a consistent snapshot. The grant is one `u64` (the pid
//! it is for, the budget, an epoch) so the dispatcher never reads a torn
//! grant, and a slot's next owner cannot use its last owner's grant; the
//! placement is one more (the pid, the CPU, the weight), a hint read with a
//! valid grant only.
//!
//! The same functions serve the real table (the binary maps the BPF map
//! over a `[TaskSharedSlot]`) and an owned one ([`TaskSharedTable`]: the
//! simulator and the benchmarks), so the code the policy's grants go
//! through is the same on both.

use std::sync::atomic::{
    AtomicI32, AtomicU32, AtomicU64,
    Ordering::{Relaxed, Release},
};

use crate::task::{WEIGHT_DEFAULT, WEIGHT_MAX};

/// Slots in the table (`RELAY_TASK_SLOTS`; a power of two).
pub const TASK_SLOTS: usize = 16384;
/// Slots from `pid & (TASK_SLOTS - 1)` on that a task may take (`RELAY_SLOT_PROBES`).
pub const SLOT_PROBES: usize = 4;
/// Largest burst budget a grant carries (µs, `RELAY_FAST_MAX_BUDGET_US`).
pub const FAST_MAX_BUDGET_US: u64 = 20_000;
/// The window over which a task's fast-path CPU is bounded (ms, `RELAY_FAST_WINDOW_MS`).
pub const FAST_WINDOW_MS: u64 = 100;
/// The share of a CPU a task's fast-path runs may use per window before the
/// dispatcher revokes its grant, at nice 0's weight (%, `RELAY_FAST_SHARE_PCT`;
/// other weights: [`fast_share_limit_ns`]).
pub const FAST_SHARE_PCT: u64 = 50;
/// Fast-placed wakeups of one task in a row whose burst reached the
/// budget (overruns) that revoke its grant (`RELAY_FAST_OVERRUNS`): one
/// alone is forgiven, since a burst timed from `ops.running` to
/// `ops.stopping` holds interrupts and, in a guest, time its vCPU did not
/// run; a burst that ends within the budget starts the count again.
pub const FAST_OVERRUNS: u8 = 2;

/// Bit position of the pid in a grant word (`RELAY_GRANT_PID_SHIFT`).
pub const GRANT_PID_SHIFT: u32 = 32;
/// Bit position of the budget (µs) in a grant word (`RELAY_GRANT_BUDGET_SHIFT`).
pub const GRANT_BUDGET_SHIFT: u32 = 8;
/// The budget's bits once shifted down (`RELAY_GRANT_BUDGET_MASK`).
pub const GRANT_BUDGET_MASK: u64 = 0x7f_ffff;
/// A grant word's deferrable bit (`RELAY_GRANT_DEFERRABLE`; [`FastGrant::deferrable`](field@FastGrant::deferrable)).
pub const GRANT_DEFERRABLE: u64 = 1 << 31;
/// [`TaskStats::irq_wake_share`] when every wakeup ran in interrupt context (`RELAY_IRQ_SHARE_ONE`).
pub const IRQ_SHARE_ONE: u32 = 1024;
/// The epoch's bits (`RELAY_GRANT_EPOCH_MASK`).
pub const GRANT_EPOCH_MASK: u64 = 0xff;

/// Bit position of the pid in a placement word (`RELAY_PLACE_PID_SHIFT`).
pub const PLACE_PID_SHIFT: u32 = 32;
/// Bit position of the preferred CPU + 1 in a placement word (`RELAY_PLACE_CPU_SHIFT`).
pub const PLACE_CPU_SHIFT: u32 = 20;
/// The preferred CPU's bits once shifted down (`RELAY_PLACE_CPU_MASK`).
pub const PLACE_CPU_MASK: u64 = 0xfff;
/// The effective weight's bits (`RELAY_PLACE_WEIGHT_MASK`).
pub const PLACE_WEIGHT_MASK: u64 = 0xf_ffff;

/// One task's shared context, laid out as the dispatcher's
/// `struct relay_task_shared` (80 bytes; the binary asserts the offsets
/// against bindgen's view of `intf.h`). Atomics, so that both sides can
/// read and write in place without `unsafe`.
#[repr(C)]
#[derive(Debug, Default)]
pub struct TaskSharedSlot {
    /// Owner (thread id); 0 = free. Dispatcher.
    pub pid: AtomicI32,
    /// Wakeups since the task joined (count). Dispatcher.
    pub nr_wakeups: AtomicU32,
    /// CPU time since the task joined (ns). Dispatcher.
    pub runtime_ns: AtomicU64,
    /// Moving average (weight 1/8) of the CPU time of one wakeup's run (ns). Dispatcher.
    pub avg_burst_ns: AtomicU64,
    /// Moving average (weight 1/8) of the time between wakeups (ns). Dispatcher.
    pub avg_wake_period_ns: AtomicU64,
    /// The task running where its last wakeup ran (a hint: an interrupt's
    /// victim too); 0 = none. Dispatcher.
    pub last_waker_pid: AtomicI32,
    /// Wakeups the fast path placed (count). Dispatcher.
    pub nr_fast_runs: AtomicU32,
    /// Of its wakeups, those in interrupt context: a timer's expiry, a device (count). Dispatcher.
    pub nr_irq_wakeups: AtomicU32,
    /// Moving share (weight 1/8, the first wakeup whole) of its wakeups
    /// in interrupt context, in 1/[`IRQ_SHARE_ONE`]. Dispatcher.
    pub irq_wake_share: AtomicU32,
    /// The grant last revoked (overruns in a row, or over the share) (grant word). Dispatcher.
    pub revoked_grant: AtomicU64,
    /// When it was revoked (ns, the backend's monotonic clock). Dispatcher.
    pub revoked_ns: AtomicU64,
    /// The fast-path grant (grant word); 0 = none. User space.
    pub grant: AtomicU64,
    /// The grant's preferred CPU and effective weight (placement word); 0 = none. User space.
    pub placement: AtomicU64,
}

const _: () = assert!(std::mem::size_of::<TaskSharedSlot>() == 80);
// The largest budget fits the grant word's field, and the field stops
// below the deferrable bit.
const _: () = assert!(
    FAST_MAX_BUDGET_US <= GRANT_BUDGET_MASK && (GRANT_BUDGET_MASK << GRANT_BUDGET_SHIFT) & GRANT_DEFERRABLE == 0
);

/// Names every field of [`TaskSharedSlot`] (for layout checks).
#[macro_export]
macro_rules! task_shared_fields {
    ($m:ident ! ($($args:tt)*)) => {
        $m! {
            $($args)*, pid, nr_wakeups, runtime_ns, avg_burst_ns, avg_wake_period_ns, last_waker_pid,
            nr_fast_runs, nr_irq_wakeups, irq_wake_share, revoked_grant, revoked_ns, grant, placement
        }
    };
}

/// What the dispatcher published about one task, read in place.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TaskStats {
    /// CPU time since the task joined sched_ext (ns).
    pub runtime_ns: u64,
    /// Wakeups since it joined (count).
    pub nr_wakeups: u32,
    /// Moving average of the CPU time of one wakeup's run (ns).
    pub avg_burst_ns: u64,
    /// Moving average of the time between its wakeups (ns); 0 = fewer than two.
    pub avg_wake_period_ns: u64,
    /// The task that last woke it, as far as the dispatcher could tell; 0 = none.
    pub last_waker_pid: i32,
    /// Wakeups the fast path placed (count).
    pub nr_fast_runs: u32,
    /// Of its wakeups, those in interrupt context (count).
    pub nr_irq_wakeups: u32,
    /// Moving share of its recent wakeups in interrupt context (a timer's
    /// expiry, a device: a frame loop's; not a pipe writer's, as
    /// hackbench's), in 1/[`IRQ_SHARE_ONE`]; weight 1/8, the first whole.
    pub irq_wake_share: u32,
    /// Its grant was revoked (overruns in a row, or over its share) and not
    /// granted again since.
    pub revoked: bool,
    /// When a grant of it was last revoked (ns); 0 = never.
    pub revoked_ns: u64,
    /// Whether it holds a grant now (not revoked).
    pub granted: bool,
}

/// A grant of the dispatcher's wakeup fast path: a woken task is placed at
/// once (an idle CPU, `preferred_cpu` first), and may use up to `budget_ns`
/// of CPU per wakeup. [`FAST_OVERRUNS`] wakeups in a row whose run goes
/// over, or fast-path runs that use more of a CPU over [`FAST_WINDOW_MS`]
/// than `weight` is due ([`fast_share_limit_ns`]: [`FAST_SHARE_PCT`] % at
/// nice 0), lose the grant until the policy grants again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FastGrant {
    /// CPU time one fast-placed wakeup may use (ns); rounded up to whole
    /// µs, 1 µs..=[`FAST_MAX_BUDGET_US`].
    pub budget_ns: u64,
    /// The CPU the dispatcher takes first if it is idle, and preempts
    /// first, in place of the task's own (the one it last ran on, or
    /// `ops.select_cpu`'s pick); ignored if the task may not run there.
    /// `None`: its own.
    pub preferred_cpu: Option<u32>,
    /// The weight the policy grants the fast path at (load weight,
    /// [`WEIGHT_DEFAULT`] = nice 0), which sets the share of a CPU the
    /// task's fast-placed runs may use ([`fast_share_limit_ns`]);
    /// 1..=[`WEIGHT_MAX`]. The dispatcher uses at most the task's own
    /// (nice) weight at each placement: a policy can lower the share, not
    /// raise it, and a renice counts at once. `None`: nice 0's.
    pub weight: Option<u64>,
    /// When no CPU can take a wakeup at once, it may wait on a CPU whose
    /// task has not run `slice_min` yet (at most that long, then that task
    /// is preempted) instead of going through user space. The dispatcher
    /// does so for light tasks (average burst under a quarter of
    /// `slice_min`) whatever this says; for others, only with this set. A
    /// policy sets it for tasks whose wakeups should not queue behind the
    /// policy's order, and that do not wake often enough to preempt every
    /// task at `slice_min`: deferring every granted wakeup cut hackbench's
    /// work by two thirds in the simulator.
    pub deferrable: bool,
}

impl FastGrant {
    /// A grant of `budget_ns` per wakeup, with no preferred CPU, at nice 0's weight.
    pub const fn new(budget_ns: u64) -> Self {
        Self { budget_ns, preferred_cpu: None, weight: None, deferrable: false }
    }

    /// The same grant, deferrable ([`FastGrant::deferrable`](field@FastGrant::deferrable)).
    pub const fn deferrable(mut self) -> Self {
        self.deferrable = true;
        self
    }

    /// The same grant, preferring `cpu`.
    pub const fn preferring(mut self, cpu: u32) -> Self {
        self.preferred_cpu = Some(cpu);
        self
    }

    /// The same grant, at effective weight `weight`.
    pub const fn at_weight(mut self, weight: u64) -> Self {
        self.weight = Some(weight);
        self
    }

    /// The budget in whole µs, clamped to the range a grant carries.
    pub fn budget_us(&self) -> u64 {
        self.budget_ns.div_ceil(1000).clamp(1, FAST_MAX_BUDGET_US)
    }
}

/// The grant word for `pid`, `grant` and `epoch` (see `intf.h`).
pub fn grant_word(pid: i32, grant: FastGrant, epoch: u64) -> u64 {
    let deferrable = if grant.deferrable { GRANT_DEFERRABLE } else { 0 };
    (u64::from(pid as u32) << GRANT_PID_SHIFT)
        | deferrable
        | (grant.budget_us() << GRANT_BUDGET_SHIFT)
        | (epoch & GRANT_EPOCH_MASK)
}

/// The placement word for `pid` and `grant` (see `intf.h`): its preferred
/// CPU (one the word cannot carry is none) and its weight (clamped to
/// 1..=[`WEIGHT_MAX`]); 0 if it has neither.
pub fn placement_word(pid: i32, grant: FastGrant) -> u64 {
    let cpu = grant.preferred_cpu.map_or(0, |c| u64::from(c) + 1);
    let cpu = if cpu > PLACE_CPU_MASK { 0 } else { cpu };
    let weight = grant.weight.map_or(0, |w| w.clamp(1, WEIGHT_MAX));
    if cpu == 0 && weight == 0 {
        return 0;
    }
    (u64::from(pid as u32) << PLACE_PID_SHIFT) | (cpu << PLACE_CPU_SHIFT) | weight
}

/// The pid a placement word is for.
pub fn placement_pid(word: u64) -> i32 {
    (word >> PLACE_PID_SHIFT) as u32 as i32
}

/// The preferred CPU of a placement word, if it names one.
pub fn placement_cpu(word: u64) -> Option<u32> {
    ((word >> PLACE_CPU_SHIFT) & PLACE_CPU_MASK).checked_sub(1).map(|c| c as u32)
}

/// The effective weight of a placement word: nice 0's if it has none, at
/// most [`WEIGHT_MAX`] (the BPF's `placement_weight`).
pub fn placement_weight(word: u64) -> u64 {
    match word & PLACE_WEIGHT_MASK {
        0 => WEIGHT_DEFAULT,
        w => w.min(WEIGHT_MAX),
    }
}

/// The CPU time a task's fast-placed runs may use per [`FAST_WINDOW_MS`]
/// window at effective weight `weight` (ns; the BPF's
/// `fast_share_limit_ns`): the share of a CPU a task of that weight gets
/// beside one nice-0 task, `weight / (weight + nice 0's)`, which is
/// [`FAST_SHARE_PCT`] % at nice 0.
pub fn fast_share_limit_ns(weight: u64) -> u64 {
    FAST_WINDOW_MS * 1_000_000 * FAST_SHARE_PCT / 50 * weight / (weight + WEIGHT_DEFAULT)
}

/// The pid a grant word is for.
pub fn grant_pid(word: u64) -> i32 {
    (word >> GRANT_PID_SHIFT) as u32 as i32
}

/// The budget of a grant word (ns).
pub fn grant_budget_ns(word: u64) -> u64 {
    ((word >> GRANT_BUDGET_SHIFT) & GRANT_BUDGET_MASK) * 1000
}

/// Whether a grant word is deferrable ([`FastGrant::deferrable`](field@FastGrant::deferrable)).
pub fn grant_deferrable(word: u64) -> bool {
    word & GRANT_DEFERRABLE != 0
}

/// The epoch of a grant word.
pub fn grant_epoch(word: u64) -> u64 {
    word & GRANT_EPOCH_MASK
}

/// The slot `pid` owns in `slots`, probing as the dispatcher claims them;
/// `None` if it owns none (a table of another size is never probed).
pub fn find_slot(slots: &[TaskSharedSlot], pid: i32) -> Option<&TaskSharedSlot> {
    if pid <= 0 || slots.len() != TASK_SLOTS {
        return None;
    }
    (0..SLOT_PROBES)
        .map(|i| &slots[(pid as usize).wrapping_add(i) & (TASK_SLOTS - 1)])
        .find(|s| s.pid.load(Relaxed) == pid)
}

impl TaskSharedSlot {
    /// The statistics published for `pid`, or `None` if the slot is not its own.
    pub fn stats(&self, pid: i32) -> Option<TaskStats> {
        if self.pid.load(Relaxed) != pid {
            return None;
        }
        let grant = self.grant.load(Relaxed);
        let revoked_grant = self.revoked_grant.load(Relaxed);
        let own = grant != 0 && grant_pid(grant) == pid;
        Some(TaskStats {
            runtime_ns: self.runtime_ns.load(Relaxed),
            nr_wakeups: self.nr_wakeups.load(Relaxed),
            avg_burst_ns: self.avg_burst_ns.load(Relaxed),
            avg_wake_period_ns: self.avg_wake_period_ns.load(Relaxed),
            last_waker_pid: self.last_waker_pid.load(Relaxed),
            nr_fast_runs: self.nr_fast_runs.load(Relaxed),
            nr_irq_wakeups: self.nr_irq_wakeups.load(Relaxed),
            irq_wake_share: self.irq_wake_share.load(Relaxed),
            revoked: own && grant == revoked_grant,
            revoked_ns: self.revoked_ns.load(Relaxed),
            granted: own && grant != revoked_grant,
        })
    }

    /// Publishes the policy's answer for `pid`: `Some` grants (again, with
    /// a new epoch, if the last grant was revoked), with its placement
    /// word; `None` withdraws both. Writes only on a change, so a steady
    /// grant costs loads only. Returns what it wrote, if anything (a
    /// changed placement alone is [`Published::Granted`]).
    pub fn publish(&self, pid: i32, grant: Option<FastGrant>) -> Option<Published> {
        let current = self.grant.load(Relaxed);
        let ours = current != 0 && grant_pid(current) == pid;
        let Some(grant) = grant else {
            if self.placement.load(Relaxed) != 0 {
                self.placement.store(0, Relaxed);
            }
            if current == 0 {
                return None;
            }
            self.grant.store(0, Relaxed);
            return Some(Published::Withdrawn);
        };
        // The placement first: a new grant finds its own.
        let place = placement_word(pid, grant);
        let placed = self.placement.load(Relaxed) != place;
        if placed {
            self.placement.store(place, Relaxed);
        }
        let revoked = ours && current == self.revoked_grant.load(Relaxed);
        let epoch = if revoked {
            grant_epoch(current) + 1
        } else if ours {
            grant_epoch(current)
        } else {
            0
        };
        let word = grant_word(pid, grant, epoch);
        // A fresh grant must not equal the word revoked last (a new owner
        // of the slot, or the epoch wrapping onto it).
        let word = if word == self.revoked_grant.load(Relaxed) { grant_word(pid, grant, epoch + 1) } else { word };
        if word == current {
            return placed.then_some(Published::Granted);
        }
        // Release: the placement stored above is visible before the grant.
        self.grant.store(word, Release);
        Some(if revoked { Published::Regranted } else { Published::Granted })
    }
}

/// What [`TaskSharedSlot::publish`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Published {
    /// A new grant, or a changed budget or placement.
    Granted,
    /// A grant after the last one was revoked (a new epoch).
    Regranted,
    /// The grant was withdrawn.
    Withdrawn,
}

/// Withdraws every grant in `slots` (a policy switch: the next policy grants
/// its own).
pub fn clear_grants(slots: &[TaskSharedSlot]) {
    for s in slots {
        for f in [&s.grant, &s.placement] {
            if f.load(Relaxed) != 0 {
                f.store(0, Relaxed);
            }
        }
    }
}

/// An owned table of [`TASK_SLOTS`] slots, for the simulator's model of the
/// dispatcher and for benchmarks; it also claims and frees slots the way the
/// dispatcher does (`claim_slot` / `release_slot` in `main.bpf.c`).
pub struct TaskSharedTable {
    slots: Box<[TaskSharedSlot]>,
}

impl Default for TaskSharedTable {
    fn default() -> Self {
        Self::new()
    }
}

impl TaskSharedTable {
    /// An empty table.
    pub fn new() -> Self {
        Self { slots: (0..TASK_SLOTS).map(|_| TaskSharedSlot::default()).collect() }
    }

    /// The slots.
    pub fn slots(&self) -> &[TaskSharedSlot] {
        &self.slots
    }

    /// Claims a slot for `pid` as the dispatcher does when a task joins:
    /// the first free one of its probes, reset; `None` when all are taken.
    pub fn claim(&self, pid: i32) -> Option<&TaskSharedSlot> {
        if pid <= 0 {
            return None;
        }
        if let Some(s) = find_slot(&self.slots, pid) {
            return Some(s);
        }
        let s = (0..SLOT_PROBES)
            .map(|i| &self.slots[(pid as usize).wrapping_add(i) & (TASK_SLOTS - 1)])
            .find(|s| s.pid.compare_exchange(0, pid, Relaxed, Relaxed).is_ok())?;
        for f in [
            &s.runtime_ns,
            &s.avg_burst_ns,
            &s.avg_wake_period_ns,
            &s.revoked_grant,
            &s.revoked_ns,
            &s.grant,
            &s.placement,
        ] {
            f.store(0, Relaxed);
        }
        s.nr_wakeups.store(0, Relaxed);
        s.nr_fast_runs.store(0, Relaxed);
        s.nr_irq_wakeups.store(0, Relaxed);
        s.irq_wake_share.store(0, Relaxed);
        s.last_waker_pid.store(0, Relaxed);
        Some(s)
    }

    /// Frees `pid`'s slot, as the dispatcher does when a task leaves.
    pub fn release(&self, pid: i32) {
        if let Some(s) = find_slot(&self.slots, pid) {
            s.grant.store(0, Relaxed);
            s.placement.store(0, Relaxed);
            s.pid.store(0, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_word_round_trips() {
        let w = grant_word(4242, FastGrant::new(2_500_000), 7);
        assert_eq!(grant_pid(w), 4242);
        assert_eq!(grant_budget_ns(w), 2_500_000);
        assert_eq!(grant_epoch(w), 7);
        // Budgets round up to whole µs and clamp to the range a grant carries.
        assert_eq!(grant_budget_ns(grant_word(1, FastGrant::new(1), 0)), 1000);
        assert_eq!(grant_budget_ns(grant_word(1, FastGrant::new(u64::MAX), 0)), FAST_MAX_BUDGET_US * 1000);
        assert_eq!(grant_epoch(grant_word(1, FastGrant::new(1), 0x1ff)), 0xff);
        // The deferrable bit, beside the largest budget, changes neither.
        assert!(!grant_deferrable(w));
        let d = grant_word(4242, FastGrant::new(u64::MAX).deferrable(), 7);
        assert!(grant_deferrable(d));
        assert_eq!((grant_pid(d), grant_budget_ns(d), grant_epoch(d)), (4242, FAST_MAX_BUDGET_US * 1000, 7));
    }

    #[test]
    fn placement_word_round_trips() {
        let g = FastGrant::new(1_000_000);
        assert_eq!(placement_word(42, g), 0, "neither: no word");
        let w = placement_word(42, g.preferring(7).at_weight(3 * WEIGHT_DEFAULT));
        assert_eq!((placement_pid(w), placement_cpu(w), placement_weight(w)), (42, Some(7), 3 * WEIGHT_DEFAULT));
        let w = placement_word(42, g.preferring(0));
        assert_eq!((placement_cpu(w), placement_weight(w)), (Some(0), WEIGHT_DEFAULT), "CPU 0, nice 0's weight");
        let w = placement_word(42, g.at_weight(5));
        assert_eq!((placement_cpu(w), placement_weight(w)), (None, 5));
        // A CPU the word cannot carry is none; weights clamp to 1..=WEIGHT_MAX.
        assert_eq!(placement_cpu(placement_word(42, g.preferring(PLACE_CPU_MASK as u32).at_weight(1))), None);
        assert_eq!(placement_cpu(placement_word(42, g.preferring(PLACE_CPU_MASK as u32 - 1))), Some(4094));
        assert_eq!(placement_weight(placement_word(42, g.at_weight(u64::MAX))), WEIGHT_MAX);
        assert_eq!(placement_weight(placement_word(42, g.at_weight(0))), 1);
    }

    #[test]
    fn the_fast_share_follows_the_weight() {
        let window = FAST_WINDOW_MS * 1_000_000;
        assert_eq!(fast_share_limit_ns(WEIGHT_DEFAULT), window * FAST_SHARE_PCT / 100);
        assert_eq!(fast_share_limit_ns(3 * WEIGHT_DEFAULT), window * 3 / 4);
        assert_eq!(fast_share_limit_ns(WEIGHT_DEFAULT / 2), window / 3);
        assert!(fast_share_limit_ns(WEIGHT_MAX) < window);
    }

    #[test]
    fn publish_writes_the_placement_beside_the_grant() {
        let t = TaskSharedTable::new();
        let s = t.claim(7).unwrap();
        let g = FastGrant::new(3_000_000).preferring(2);
        assert_eq!(s.publish(7, Some(g)), Some(Published::Granted));
        assert_eq!(placement_cpu(s.placement.load(Relaxed)), Some(2));
        let grant = s.grant.load(Relaxed);
        assert_eq!(s.publish(7, Some(g.at_weight(2048))), Some(Published::Granted), "a new placement alone");
        assert_eq!(s.grant.load(Relaxed), grant, "the grant word is kept");
        assert_eq!(placement_weight(s.placement.load(Relaxed)), 2048);
        assert_eq!(s.publish(7, Some(g.at_weight(2048))), None, "steady: nothing written");
        assert_eq!(s.publish(7, Some(FastGrant::new(3_000_000))), Some(Published::Granted));
        assert_eq!(s.placement.load(Relaxed), 0, "no placement: the word is cleared");
        s.publish(7, Some(g));
        assert_eq!(s.publish(7, None), Some(Published::Withdrawn));
        assert_eq!(s.placement.load(Relaxed), 0, "withdrawn with the grant");
        s.publish(7, Some(g));
        clear_grants(t.slots());
        assert_eq!(s.placement.load(Relaxed), 0, "and by a policy switch");
        s.publish(7, Some(g));
        t.release(7);
        assert_eq!(t.claim(7).unwrap().placement.load(Relaxed), 0, "and by a new owner");
    }

    #[test]
    fn slots_probe_and_collide() {
        let t = TaskSharedTable::new();
        let pid = 100;
        assert!(t.claim(pid).is_some());
        // Pids that share its home slot take the next probes, then none is left.
        let same_home: Vec<i32> = (1..=SLOT_PROBES as i32).map(|k| pid + k * TASK_SLOTS as i32).collect();
        for &p in &same_home[..SLOT_PROBES - 1] {
            assert!(t.claim(p).is_some(), "pid {p}");
        }
        // pid + 1's home is taken by a probe of pid's: it probes on.
        assert!(t.claim(*same_home.last().unwrap()).is_none());
        for &p in &same_home[..SLOT_PROBES - 1] {
            assert_eq!(find_slot(t.slots(), p).map(|s| s.pid.load(Relaxed)), Some(p));
        }
        t.release(pid);
        assert!(find_slot(t.slots(), pid).is_none());
        assert!(t.claim(*same_home.last().unwrap()).is_some());
    }

    #[test]
    fn publish_grants_withdraws_and_regrants_after_a_revoke() {
        let t = TaskSharedTable::new();
        let s = t.claim(7).unwrap();
        let g = FastGrant::new(3_000_000);
        assert_eq!(s.publish(7, Some(g)), Some(Published::Granted));
        assert_eq!(s.publish(7, Some(g)), None, "a steady grant writes nothing");
        assert!(s.stats(7).unwrap().granted);
        // The dispatcher revokes it.
        let w = s.grant.load(Relaxed);
        s.revoked_grant.store(w, Relaxed);
        s.revoked_ns.store(123, Relaxed);
        let st = s.stats(7).unwrap();
        assert!(st.revoked && !st.granted);
        assert_eq!(st.revoked_ns, 123);
        assert_eq!(s.publish(7, Some(g)), Some(Published::Regranted));
        let w2 = s.grant.load(Relaxed);
        assert_ne!(w2, w);
        assert_eq!(grant_epoch(w2), grant_epoch(w) + 1);
        assert!(s.stats(7).unwrap().granted);
        assert_eq!(s.publish(7, None), Some(Published::Withdrawn));
        assert_eq!(s.publish(7, None), None);
        assert!(!s.stats(7).unwrap().granted);
        assert!(s.stats(8).is_none(), "another pid's slot reads as none");
    }

    #[test]
    fn a_new_owner_never_inherits_a_grant() {
        let t = TaskSharedTable::new();
        let s = t.claim(9).unwrap();
        s.publish(9, Some(FastGrant::new(1_000_000)));
        t.release(9);
        let s = t.claim(9 + TASK_SLOTS as i32).unwrap();
        let st = s.stats(9 + TASK_SLOTS as i32).unwrap();
        assert!(!st.granted && !st.revoked);
        // A stale write for the old pid after the slot changed hands is not
        // the new owner's grant either.
        s.publish(9, Some(FastGrant::new(1_000_000)));
        assert!(!s.stats(9 + TASK_SLOTS as i32).unwrap().granted);
    }

    #[test]
    fn clear_grants_withdraws_all() {
        let t = TaskSharedTable::new();
        for pid in 1..50 {
            t.claim(pid).unwrap().publish(pid, Some(FastGrant::new(1_000_000)));
        }
        clear_grants(t.slots());
        assert!((1..50).all(|p| !find_slot(t.slots(), p).unwrap().stats(p).unwrap().granted));
    }
}
