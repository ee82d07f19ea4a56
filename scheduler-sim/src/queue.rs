//! The two ordered containers of the simulator: the event queue (what
//! happens next, by time) and the dispatch queue (which task a CPU takes
//! next, by vtime). Both break ties by insertion order, so equal keys never
//! leave the order to chance.

use std::{
    cmp::Reverse,
    collections::{BTreeSet, BinaryHeap},
};

/// Index of a simulated task.
pub(crate) type TaskId = u32;

/// Something that happens at a point of simulated time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Event {
    /// A sleeping task's timer expires (or a new task is created).
    Wake(TaskId),
    /// What runs on the CPU reaches its planned end (a task's burst or a
    /// user-scheduler step); the second field is the CPU's run number, so an
    /// end planned for a run that a tick cut short is ignored.
    CpuEnd(u32, u64),
    /// The kernel's scheduler tick, on every CPU at once.
    Tick,
    /// A task's nice level changes.
    Renice(TaskId),
    /// The dispatcher kicked this CPU to preempt its task (`SCX_KICK_PREEMPT`).
    Preempt(u32),
    /// The wakeup fast path kicked this CPU to preempt its task for the
    /// fast-placed task waiting in its queue (`SCX_KICK_PREEMPT`).
    FastKick(u32),
    /// The fast path's timer for this CPU fires (the BPF's
    /// `fast_kick_timer`, `fast_kick_fn`): a fast-placed task deferred
    /// there may preempt its task now, if that task ran `slice_min_ns`
    /// (`Machine::on_fast_kick_timer`).
    FastKickTimer(u32),
    /// The heartbeat kicked this CPU to preempt its task and age
    /// (`request_aging`'s `SCX_KICK_PREEMPT`).
    AgeKick(u32),
    /// An idle CPU was kicked: it runs the dispatcher.
    Kick(u32),
    /// The oldest task in user space may have waited out the stall timeout.
    Watchdog,
    /// The heartbeat timer's tick: aging looks for overdue tasks.
    Heartbeat,
    /// The injected stall of the user scheduler begins.
    StallStart,
    /// The injected stall ends.
    StallEnd,
    /// The user scheduler switches to the policy of this index in the switch list.
    Switch(u32),
    /// A task held for its start on this CPU starts (only recorded: see
    /// `Machine::start_task_held`); the second field is the CPU's run
    /// number, as [`Event::CpuEnd`]'s.
    HeldStart(u32, u64),
    /// A late tick comes to this CPU for the run of this task that started
    /// at this time ([`crate::SimConfig::late_yields_ns`]): the tick's
    /// check runs again.
    LateTick(u32, TaskId, u64),
}

/// Events by (time, insertion sequence).
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    heap: BinaryHeap<Reverse<(u64, u64, Event)>>,
    seq: u64,
}

impl EventQueue {
    /// Schedules `ev` at `time_ns`.
    pub(crate) fn push(&mut self, time_ns: u64, ev: Event) {
        self.seq += 1;
        self.heap.push(Reverse((time_ns, self.seq, ev)));
    }

    /// The earliest event, if any.
    pub(crate) fn pop(&mut self) -> Option<(u64, Event)> {
        self.heap.pop().map(|Reverse((t, _, ev))| (t, ev))
    }

    /// Every queued event, in no particular order (for invariant checks).
    pub(crate) fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        self.heap.iter().map(|Reverse((_, _, ev))| *ev)
    }
}

/// A dispatch queue (the model of a sched_ext DSQ): tasks by (vtime, insertion).
#[derive(Debug, Default)]
pub(crate) struct Dsq {
    entries: BTreeSet<(u64, u64, TaskId)>,
}

impl Dsq {
    /// Inserts `task` with ordering key `vtime`; `seq` must be unique.
    pub(crate) fn insert(&mut self, vtime: u64, seq: u64, task: TaskId) {
        self.entries.insert((vtime, seq, task));
    }

    /// Removes and returns the first task for which `eligible` holds.
    pub(crate) fn pop_first_where(&mut self, mut eligible: impl FnMut(TaskId) -> bool) -> Option<TaskId> {
        let key = *self.entries.iter().find(|&&(_, _, t)| eligible(t))?;
        self.entries.remove(&key);
        Some(key.2)
    }

    /// The ordering key of the first task (what `scx_bpf_dsq_peek` shows).
    pub(crate) fn head_vtime(&self) -> Option<u64> {
        self.entries.first().map(|&(vtime, _, _)| vtime)
    }

    /// The first task, left in place.
    pub(crate) fn first(&self) -> Option<TaskId> {
        self.entries.first().map(|&(_, _, t)| t)
    }

    /// Removes and returns the first task.
    pub(crate) fn pop_first(&mut self) -> Option<TaskId> {
        self.entries.pop_first().map(|(_, _, t)| t)
    }

    /// Number of queued tasks.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no task is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The queued tasks, in order.
    pub(crate) fn tasks(&self) -> impl Iterator<Item = TaskId> + '_ {
        self.entries.iter().map(|&(_, _, t)| t)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Events come out by time, then in insertion order.
    #[test]
    fn events_by_time_then_insertion() {
        let mut q = EventQueue::default();
        q.push(5, Event::Kick(1));
        q.push(3, Event::Kick(2));
        q.push(5, Event::Wake(0));
        q.push(3, Event::Tick);
        assert_eq!(q.pop(), Some((3, Event::Kick(2))));
        assert_eq!(q.pop(), Some((3, Event::Tick)));
        assert_eq!(q.pop(), Some((5, Event::Kick(1))));
        assert_eq!(q.pop(), Some((5, Event::Wake(0))));
        assert_eq!(q.pop(), None);
    }

    /// Lowest vtime first, ties by insertion; the eligibility filter skips
    /// entries; `first` peeks at the head.
    #[test]
    fn dsq_order_and_filter() {
        let mut d = Dsq::default();
        d.insert(10, 1, 7);
        d.insert(5, 2, 8);
        d.insert(10, 3, 9);
        assert_eq!(d.head_vtime(), Some(5));
        assert_eq!(d.first(), Some(8));
        assert_eq!(d.pop_first_where(|t| t != 8), Some(7));
        assert_eq!(d.pop_first(), Some(8));
        assert_eq!(d.tasks().collect::<Vec<_>>(), vec![9]);
        assert_eq!(d.pop_first_where(|_| false), None);
        assert_eq!(d.len(), 1);
        d.pop_first();
        assert_eq!((d.head_vtime(), d.first()), (None, None));
    }
}
