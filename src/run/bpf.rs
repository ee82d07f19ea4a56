//! The generated BPF skeleton and the bindgen view of `src/bpf/intf.h`, with
//! compile-time proof that the wire structs match scheduler-core's layout.

#[allow(clippy::all, clippy::pedantic, unsafe_op_in_unsafe_fn, missing_docs)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/bpf_skel.rs"));
}

#[allow(non_camel_case_types, non_upper_case_globals, dead_code, clippy::all, unsafe_op_in_unsafe_fn, missing_docs)]
mod intf {
    include!(concat!(env!("OUT_DIR"), "/bpf_intf.rs"));
}

use std::mem::{offset_of, size_of};

use scheduler_core::wire::{RawDecision, RawQueuedTask, CPU_ANY, DECISION_SIZE, MAX_CPUS, QUEUED_TASK_SIZE};

pub use intf::relay_cpu_state as CpuState;

/// The sched_ext watchdog timeout the dispatcher asks for (ms).
pub const WATCHDOG_MS: u64 = intf::relay_consts_RELAY_WATCHDOG_MS as u64;
/// Longest slice a decision or `--slice-us` may ask for (µs).
pub const MAX_SLICE_US: u64 = intf::relay_consts_RELAY_MAX_SLICE_US as u64;
/// How long a task waits in one of the dispatcher's DSQs before aging runs it (ms).
pub const AGE_AFTER_MS: u64 = intf::relay_consts_RELAY_AGE_AFTER_MS as u64;
/// Shortest period of the heartbeat timer (ms).
pub const TIMER_MIN_MS: u64 = intf::relay_consts_RELAY_TIMER_MIN_MS as u64;
/// Longest period of the heartbeat timer (ms).
pub const TIMER_MAX_MS: u64 = intf::relay_consts_RELAY_TIMER_MAX_MS as u64;
pub use skel::{types, BpfSkel, BpfSkelBuilder};

/// Asserts at compile time that a bindgen struct field sits where the Rust
/// wire mirror expects it.
macro_rules! same_offset {
    ($c:ty, $rust:ty, $($field:ident),+) => {
        $(const _: () = assert!(offset_of!($c, $field) == offset_of!($rust, $field));)+
    };
}

const _: () = assert!(size_of::<intf::relay_queued_task>() == QUEUED_TASK_SIZE);
const _: () = assert!(size_of::<intf::relay_decision>() == DECISION_SIZE);
const _: () = assert!(intf::relay_consts_RELAY_CPU_ANY == CPU_ANY);
const _: () = assert!(intf::relay_consts_RELAY_MAX_CPUS as u32 == MAX_CPUS);
const _: () = assert!(intf::relay_consts_RELAY_COMM_LEN as usize == scheduler_core::TASK_COMM_LEN);
const _: () = assert!(WATCHDOG_MS == scheduler_core::wire::WATCHDOG_MS);
const _: () = assert!(intf::relay_consts_RELAY_DISPATCH_BATCH as usize == scheduler_core::wire::DISPATCH_BATCH);
const _: () = assert!(intf::relay_consts_RELAY_ENQ_WAKEUP as u64 == scheduler_core::task::ENQ_WAKEUP);
const _: () = assert!(size_of::<CpuState>() == 16);
same_offset!(
    intf::relay_queued_task,
    RawQueuedTask,
    pid,
    tgid,
    cpu,
    nr_cpus_allowed,
    enq_flags,
    weight,
    task_weight,
    vtime,
    start_ts,
    stop_ts,
    exec_runtime,
    generation,
    comm
);
same_offset!(intf::relay_decision, RawDecision, pid, cpu, slice_ns, vtime, flags, generation);
// The skeleton's .bss array is the same type bindgen produced from intf.h.
const _: () = assert!(size_of::<types::relay_cpu_state>() == size_of::<CpuState>());
const _: () = assert!(offset_of!(types::relay_cpu_state, current_pid) == offset_of!(CpuState, current_pid));
