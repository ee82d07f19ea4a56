//! The two rings between the simulated dispatcher and user space, and the
//! [`Backend`] the engine sees.
//!
//! * `queued` (kernel → user): [`QueuedTask`] records, bounded; when it is
//!   full the dispatcher dispatches the task itself ("congestion").
//! * `decisions` (user → kernel): [`Decision`]s, bounded; `send` answers
//!   [`SendStatus::Full`] when it is full (back-pressure). Decisions sent
//!   during a user-scheduler step are *staged* and become visible to the
//!   dispatcher when the step ends, i.e. after the CPU time the step costs.

use std::collections::VecDeque;

use super::{machine::Cpu, machine::CpuState, tasks::SimTask};
use scheduler_core::{
    backend::{Backend, BackendError, SendStatus},
    cpu::CpuView,
    shared::{TaskSharedSlot, TaskSharedTable},
    task::{Decision, QueuedTask},
};

/// Pid the simulated user scheduler shows in the CPU view.
pub(crate) const USER_SCHED_PID: i32 = 100;

/// Both rings and what user space told the dispatcher.
#[derive(Debug)]
pub(crate) struct Channels {
    pub(crate) queued: VecDeque<QueuedTask>,
    pub(crate) queued_capacity: usize,
    pub(crate) decisions: VecDeque<Decision>,
    pub(crate) staged: Vec<Decision>,
    pub(crate) decisions_capacity: usize,
    /// Tasks user space holds, as last reported by the engine.
    pub(crate) user_pending: usize,
}

impl Channels {
    /// Empty rings of the given capacities.
    pub(crate) fn new(queued_capacity: usize, decisions_capacity: usize) -> Self {
        Self {
            queued: VecDeque::with_capacity(queued_capacity),
            queued_capacity,
            decisions: VecDeque::with_capacity(decisions_capacity),
            staged: Vec::with_capacity(decisions_capacity),
            decisions_capacity,
            user_pending: 0,
        }
    }

    /// Makes the decisions of the step that just ended visible to the dispatcher.
    pub(crate) fn publish(&mut self) {
        self.decisions.extend(self.staged.drain(..));
    }
}

/// The simulator as the engine sees it during one user-scheduler step.
pub(crate) struct UserSide<'a> {
    pub(crate) channels: &'a mut Channels,
    pub(crate) cpus: &'a [Cpu],
    pub(crate) tasks: &'a [SimTask],
    pub(crate) now_ns: u64,
    /// The per-task context the dispatcher shares ([`Backend::task_shared`]),
    /// with the fast path on (as the real backend, `--fast-path`).
    pub(crate) task_shared: Option<&'a TaskSharedTable>,
}

impl Backend for UserSide<'_> {
    fn receive(&mut self, out: &mut Vec<QueuedTask>, max: usize) -> Result<usize, BackendError> {
        let n = max.min(self.channels.queued.len());
        out.extend(self.channels.queued.drain(..n));
        Ok(n)
    }

    fn send(&mut self, decision: &Decision) -> Result<SendStatus, BackendError> {
        let ch = &mut *self.channels;
        if ch.decisions.len() + ch.staged.len() >= ch.decisions_capacity {
            return Ok(SendStatus::Full);
        }
        ch.staged.push(*decision);
        Ok(SendStatus::Sent)
    }

    fn refresh_cpus(&mut self, view: &mut CpuView) {
        for (c, cpu) in self.cpus.iter().enumerate() {
            let current = match cpu.state {
                CpuState::Task { task, .. } => self.tasks.get(task as usize).map_or(0, |t| t.pid),
                CpuState::User { .. } => USER_SCHED_PID,
                CpuState::Idle | CpuState::Kicked => 0,
            };
            // Kicked from idle, it is still idle until it starts something (the BPF's `cpu_state.idle`).
            let idle = cpu.state == CpuState::Idle || (cpu.state == CpuState::Kicked && cpu.kicked_from_idle);
            view.set(c as u32, idle, cpu.dsq.len() as u32, current);
        }
    }

    fn now_ns(&self) -> u64 {
        self.now_ns
    }

    fn step_done(&mut self, pending: usize) {
        self.channels.user_pending = pending;
    }

    fn task_shared(&self) -> Option<&[TaskSharedSlot]> {
        self.task_shared.map(TaskSharedTable::slots)
    }
}
