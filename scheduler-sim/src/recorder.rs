//! A simulated run written as `scx_relay record` would have written it
//! ([`crate::simulate_recorded`]): the dispatcher's events (`runnable`,
//! `running`, `stopping`, `quiescent`, `decision`), in the kernel's order,
//! as a [`Recording`] that [`crate::replay`] reads like a real one.
//!
//! What a run is recorded as:
//! - a task becomes runnable (`runnable`, `SCX_ENQ_WAKEUP` unless it is its
//!   creation): on the CPU of the task whose step woke it (a pipe message, a
//!   replayed wake, a fork), or, woken by its timer, on the CPU it last ran
//!   on (the kernel's hrtimer fires on the CPU that armed it), whatever runs
//!   there, marked as in interrupt context (`RUNNABLE_IN_INTERRUPT`, as
//!   the dispatcher marks a timer's wakeup);
//! - a task starts on a CPU (`running`; flags 1 for the user scheduler; `arg` its vtime, the BPF's `dsq_vtime`);
//!   a task still recorded on that CPU was preempted: `stopping` with
//!   flags 1 comes first, at the same time, or, when the start is held
//!   (`StartDelays::after_preemption_or_user_ns`), at the choice, the
//!   `running` when the held start comes;
//! - a task sleeps, blocks or exits at the end of a burst: `stopping`
//!   (flags 0) then `quiescent`, as the kernel's `dequeue_task_scx`;
//! - the user scheduler's step ends: its `stopping`;
//! - a decision is applied: `decision` (`arg` its slice, `arg2` the CPU it
//!   named or -1).
//!
//! Slices a task runs on with (the dispatcher extends it) write nothing, as
//! the kernel keeps running the same task without a switch.

use std::collections::HashSet;

use super::tasks::SimTask;
use scheduler_core::{
    record::{End, Event, Kind, Recording, Session, TaskName, RUNNABLE_IN_INTERRUPT},
    task::ENQ_WAKEUP,
};

/// The user scheduler's pid in a recorded simulation.
pub const USER_PID: i32 = 1;

/// The events of a run, as they happen.
#[derive(Debug, Default)]
pub(crate) struct SimRecorder {
    events: Vec<Event>,
    /// The task each CPU runs, as recorded.
    on_cpu: Vec<Option<i32>>,
    names: Vec<TaskName>,
    named: HashSet<i32>,
}

impl SimRecorder {
    /// A recorder for a machine of `nr_cpus` CPUs.
    pub(crate) fn new(nr_cpus: u32) -> Self {
        SimRecorder { on_cpu: vec![None; nr_cpus as usize], ..SimRecorder::default() }
    }

    fn push(&mut self, e: Event, comm: &str) {
        if self.named.insert(e.pid) {
            self.names.push(TaskName { pid: e.pid, tgid: e.pid, comm: comm.to_owned(), from_event: self.events.len() });
        }
        self.events.push(e);
    }

    /// Task `t` becomes runnable; the wakeup runs on `cpu`, in interrupt
    /// context when `timer` (no task's step woke it).
    pub(crate) fn runnable(&mut self, now: u64, t: &SimTask, cpu: u32, wakeup: bool, timer: bool) {
        let flags = if wakeup { ENQ_WAKEUP as u32 } else { 0 } | if timer { RUNNABLE_IN_INTERRUPT } else { 0 };
        let (pid, arg, arg2) = (t.pid, t.weight, t.allowed.count as i32);
        self.push(Event { ts_ns: now, kind: Kind::Runnable, pid, cpu: cpu as i32, flags, arg, arg2 }, &t.name());
    }

    /// `pid` starts on `cpu` at `vtime` (the key the tick compares); what
    /// was recorded there was preempted.
    pub(crate) fn running(&mut self, now: u64, cpu: u32, pid: i32, vtime: u64, comm: &str) {
        if self.on_cpu[cpu as usize].is_some() {
            self.stopping(now, cpu, true);
        }
        self.on_cpu[cpu as usize] = Some(pid);
        let flags = u32::from(pid == USER_PID);
        self.push(Event { ts_ns: now, kind: Kind::Running, pid, cpu: cpu as i32, flags, arg: vtime, arg2: 0 }, comm);
    }

    /// The task recorded on `cpu`, if any, was preempted: its `stopping`
    /// (flags 1), before a held start's `running` comes.
    pub(crate) fn preempted(&mut self, now: u64, cpu: u32) {
        if self.on_cpu[cpu as usize].is_some() {
            self.stopping(now, cpu, true);
        }
    }

    /// What runs on `cpu` stops; `runnable`: it stays runnable.
    pub(crate) fn stopping(&mut self, now: u64, cpu: u32, runnable: bool) {
        if let Some(pid) = self.on_cpu[cpu as usize].take() {
            let flags = u32::from(runnable);
            self.push(Event { ts_ns: now, kind: Kind::Stopping, pid, cpu: cpu as i32, flags, arg: 0, arg2: 0 }, "");
        }
    }

    /// What runs on `cpu` leaves the runqueue (sleeps, blocks, exits).
    pub(crate) fn blocks(&mut self, now: u64, cpu: u32) {
        if let Some(pid) = self.on_cpu[cpu as usize] {
            self.stopping(now, cpu, false);
            self.push(Event { ts_ns: now, kind: Kind::Quiescent, pid, cpu: cpu as i32, flags: 0, arg: 0, arg2: 0 }, "");
        }
    }

    /// A decision for `pid` is applied on `cpu`.
    pub(crate) fn decision(&mut self, now: u64, pid: i32, cpu: u32, slice_ns: u64, target: i32) {
        let e = Event { ts_ns: now, kind: Kind::Decision, pid, cpu: cpu as i32, flags: 0, arg: slice_ns, arg2: target };
        self.push(e, "");
    }

    /// The recording of a run of `end_ns` on `nr_cpus` CPUs, its
    /// dispatcher's flags `dispatcher_flags`.
    pub(crate) fn finish(self, nr_cpus: u32, end_ns: u64, dispatcher_flags: u64) -> Recording {
        let events = self.events.len() as u64;
        Recording {
            version: scheduler_core::record::VERSION,
            nr_cpus,
            start_ns: 0,
            dispatcher_flags: Some(dispatcher_flags),
            events: self.events,
            names: self.names,
            sessions: vec![Session { ts_ns: 0, from_event: 0 }],
            end: Some(End { events, dropped: 0, end_ns }),
        }
    }
}
