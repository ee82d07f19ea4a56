//! The user-space half of scx_relay.
//!
//! A thin BPF dispatcher hands runnable tasks to user space as [`QueuedTask`]s;
//! a [`Policy`] orders them and answers with [`Decision`]s; the [`Engine`]
//! moves tasks and decisions between a [`Backend`] and the policy in batches,
//! without a heap allocation per task. Two backends implement the same trait:
//! the BPF backend in the `scx_relay` binary (a real kernel) and the
//! deterministic simulator in the `scheduler-sim` crate, so every policy runs
//! unchanged on both.
//!
//! Nothing in this crate needs a BPF toolchain, root or a sched_ext kernel,
//! and a policy built against it pulls in only `thiserror`. The `serde`
//! feature (off by default; the simulator turns it on) derives `Serialize`
//! for [`EngineStats`], [`PolicyCounters`] and [`Topology`].

#![forbid(unsafe_code)]

pub mod backend;
pub mod cpu;
pub mod engine;
pub mod fair_share;
pub mod loopback;
pub mod policy;
pub mod record;
pub mod shared;
pub mod task;
pub mod wire;

pub use backend::{Backend, BackendError, SendStatus};
pub use cpu::{CoreKind, CpuView, Topology, CAPACITY_SCALE};
pub use engine::{Engine, EngineConfig, EngineError, EngineStats, PolicyCounters, PreparedSwitch, Retired, StepReport};
pub use loopback::Loopback;
pub use policy::{Policy, SchedContext};
pub use shared::{FastGrant, TaskSharedSlot, TaskStats};
pub use task::{Decision, QueuedTask, Target, TASK_COMM_LEN};
