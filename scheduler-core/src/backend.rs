//! The [`Backend`] trait: where tasks come from and decisions go.
//!
//! Implemented by the BPF backend (the `scx_relay` binary: ring buffers
//! shared with the kernel dispatcher) and by the simulator (the `scheduler-sim`
//! crate).

use thiserror::Error;

use crate::{
    cpu::CpuView,
    shared::TaskSharedSlot,
    task::{Decision, QueuedTask},
};

/// Whether a decision was accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendStatus {
    /// Written to the decision channel.
    Sent,
    /// The channel is full: nothing was written; send it again later.
    Full,
}

/// A backend failure the engine cannot recover from by retrying.
#[derive(Debug, Error)]
pub enum BackendError {
    /// The scheduler was unloaded or ejected by the kernel.
    #[error("scheduler exited: {0}")]
    Exited(String),
    /// A ring-buffer or map operation failed.
    #[error("{op} failed: {reason}")]
    Io {
        /// The operation that failed.
        op: &'static str,
        /// Why.
        reason: String,
    },
}

/// A source of runnable tasks and a sink for decisions.
pub trait Backend {
    /// Appends up to `max` newly queued tasks to `out` and returns how many;
    /// 0 when none is waiting. Must not block, and must not allocate when
    /// `out` has room for `max` more.
    fn receive(&mut self, out: &mut Vec<QueuedTask>, max: usize) -> Result<usize, BackendError>;

    /// Sends one decision to the dispatcher.
    fn send(&mut self, decision: &Decision) -> Result<SendStatus, BackendError>;

    /// Refreshes `view` with the current per-CPU state.
    fn refresh_cpus(&mut self, view: &mut CpuView);

    /// Now, in ns of the backend's monotonic clock.
    fn now_ns(&self) -> u64;

    /// Tells the dispatcher that the engine completed a step, and how many
    /// tasks user space still holds (undecided, or decided but not yet
    /// accepted), so it keeps running the user scheduler while work is
    /// pending. Called once at the end of every step: a completed step is
    /// how a user side that had nothing to decide shows it answers again
    /// after a stall (a policy spinning inside a step completes none).
    fn step_done(&mut self, pending: usize);

    /// The per-task context shared with the dispatcher
    /// ([`crate::shared`]), if this backend has one: the engine reads each
    /// received task's statistics there and writes the policy's fast-path
    /// grant back. `None` (the default) = no fast path.
    fn task_shared(&self) -> Option<&[TaskSharedSlot]> {
        None
    }
}
