//! Property tests of the wire format at its edges (the unit tests in
//! `src/wire.rs` cover the happy paths): validation accepts exactly the
//! records whose every field is in range, and keeps them intact; encoding a
//! decision succeeds exactly when the dispatcher can use it and never
//! yields a CPU outside `-1..nr_cpus`; samples of any length decode or are
//! refused as truncated, never panic, and bytes past the record are ignored.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use scheduler_core::{
    task::{WEIGHT_MAX, WEIGHT_MIN},
    wire::{RawDecision, RawQueuedTask, WireError, CPU_ANY, DECISION_SIZE, MAX_CPUS, QUEUED_TASK_SIZE},
    Decision, Target, TASK_COMM_LEN,
};

/// Any record: each field drawn from its edges (0, negative, the limits,
/// just past them) or anywhere.
fn raw_task() -> impl Strategy<Value = RawQueuedTask> {
    let i32_edge = prop_oneof![Just(0), Just(-1), Just(1), Just(i32::MIN), Just(i32::MAX), any::<i32>()];
    let cpu = prop_oneof![Just(-1), Just(0), Just(7), Just(8), Just(MAX_CPUS as i32), any::<i32>()];
    let weight = prop_oneof![
        Just(0),
        Just(WEIGHT_MIN),
        Just(100),
        Just(WEIGHT_MAX),
        Just(WEIGHT_MAX + 1),
        Just(u64::from(u32::MAX)),
        any::<u64>()
    ]
    .prop_map(|w| u32::try_from(w % (1 << 32)).unwrap_or(u32::MAX));
    (
        i32_edge.clone(),
        i32_edge,
        cpu,
        prop_oneof![Just(0u32), Just(1), any::<u32>()],
        weight.clone(),
        weight,
        any::<[u64; 7]>(),
        any::<[u8; TASK_COMM_LEN]>(),
    )
        .prop_map(
            |(
                pid,
                tgid,
                cpu,
                nr_cpus_allowed,
                weight,
                task_weight,
                [enq_flags, vtime, start_ts, stop_ts, exec_runtime, generation, cgid],
                comm,
            )| {
                RawQueuedTask {
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
                    cgid,
                    comm,
                }
            },
        )
}

proptest! {
    /// Validation accepts exactly the in-range records, and the task it
    /// yields carries every field unchanged.
    #[test]
    fn validation_is_exact(raw in raw_task(), nr_cpus in prop_oneof![Just(1u32), Just(8), Just(MAX_CPUS), 1..=MAX_CPUS]) {
        let in_range = raw.pid > 0
            && raw.tgid > 0
            && raw.cpu >= 0
            && (raw.cpu as u32) < nr_cpus
            && raw.nr_cpus_allowed > 0
            && (WEIGHT_MIN..=WEIGHT_MAX).contains(&u64::from(raw.weight))
            && (WEIGHT_MIN..=WEIGHT_MAX).contains(&u64::from(raw.task_weight));
        match raw.validate(nr_cpus) {
            Ok(t) => {
                prop_assert!(in_range);
                prop_assert_eq!(RawQueuedTask::from(&t), raw);
            }
            Err(e) => {
                prop_assert!(!in_range, "refused an in-range record: {e}");
                prop_assert!(!e.to_string().contains('\n'));
            }
        }
    }

    /// A sample of any length: shorter than a record is refused as
    /// truncated; a record followed by junk decodes as the record alone.
    #[test]
    fn samples_of_any_length(raw in raw_task(), junk in proptest::collection::vec(any::<u8>(), 0..64), cut in 0usize..QUEUED_TASK_SIZE) {
        let mut buf = [0u8; QUEUED_TASK_SIZE];
        raw.to_bytes(&mut buf);
        prop_assert_eq!(
            RawQueuedTask::from_bytes(&buf[..cut]),
            Err(WireError::Truncated { got: cut, expected: QUEUED_TASK_SIZE })
        );
        let long: Vec<u8> = buf.iter().copied().chain(junk).collect();
        prop_assert_eq!(RawQueuedTask::from_bytes(&long), Ok(raw));
    }

    /// Encoding succeeds exactly for a positive pid and a CPU the machine
    /// has (or "any"); the CPU on the wire is then -1 or below nr_cpus, and
    /// the record decodes back to the same values.
    #[test]
    fn decision_encoding_is_exact(
        pid in prop_oneof![Just(0), Just(-1), Just(i32::MIN), Just(1), Just(i32::MAX), any::<i32>()],
        cpu in prop_oneof![Just(0u32), Just(7), Just(8), Just(MAX_CPUS - 1), Just(MAX_CPUS), Just(u32::MAX), any::<u32>()],
        any_cpu: bool,
        nr_cpus in prop_oneof![Just(1u32), Just(8), Just(MAX_CPUS), Just(MAX_CPUS + 1), Just(u32::MAX), 1..=MAX_CPUS],
        slice_ns: u64, vtime: u64, flags: u64, generation: u64,
    ) {
        let target = if any_cpu { Target::Any } else { Target::Cpu(cpu) };
        let d = Decision { pid, target, slice_ns, vtime, flags, generation };
        let usable = pid > 0 && (any_cpu || (cpu < nr_cpus && cpu < MAX_CPUS));
        match RawDecision::encode(&d, nr_cpus) {
            Ok(raw) => {
                prop_assert!(usable);
                prop_assert!(raw.cpu == CPU_ANY || (raw.cpu >= 0 && (raw.cpu as u32) < nr_cpus.min(MAX_CPUS)));
                let mut buf = [0u8; DECISION_SIZE];
                raw.to_bytes(&mut buf);
                prop_assert_eq!(RawDecision::from_bytes(&buf), Ok(raw));
                prop_assert_eq!((raw.pid, raw.slice_ns, raw.vtime, raw.flags, raw.generation), (pid, slice_ns, vtime, flags, generation));
            }
            Err(e) => prop_assert!(!usable, "refused a usable decision: {e}"),
        }
    }

    /// Any bytes decode as a decision or are refused as truncated; never a panic.
    #[test]
    fn decision_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        match RawDecision::from_bytes(&bytes) {
            Ok(_) => prop_assert!(bytes.len() >= DECISION_SIZE),
            Err(e) => prop_assert_eq!(e, WireError::Truncated { got: bytes.len(), expected: DECISION_SIZE }),
        }
    }
}
