//! The byte layout shared with the BPF dispatcher (`src/bpf/intf.h`), and the
//! checked conversions between it and [`QueuedTask`] / [`Decision`].
//!
//! The layout is fixed here, in plain Rust, so that this crate needs no BPF
//! toolchain; the binary asserts at compile time that bindgen's view of
//! `intf.h` has the same sizes and offsets, and the same values for the
//! constants below (`enum relay_consts`). The codec reads and writes each
//! field at `offset_of!` of its name in the mirror struct (no literal
//! offsets, no `unsafe`, no alignment assumptions), and validation rejects values
//! that would make a decision unsafe: a bad pid, a CPU out of range, a
//! weight outside `WEIGHT_MIN..=WEIGHT_MAX`.

use std::mem::{offset_of, size_of};

use thiserror::Error;

use crate::task::{Decision, QueuedTask, Target, TASK_COMM_LEN, WEIGHT_MAX, WEIGHT_MIN};

/// Size in bytes of `struct relay_queued_task` (kernel → user).
pub const QUEUED_TASK_SIZE: usize = 96;
/// Size in bytes of `struct relay_decision` (user → kernel).
pub const DECISION_SIZE: usize = 40;
/// Size in bytes of `struct relay_record_event` (kernel → user, while recording).
pub const RECORD_EVENT_SIZE: usize = 56;
/// Value of `relay_decision.cpu` meaning "any CPU" (the shared queue).
pub const CPU_ANY: i32 = -1;
/// Largest CPU count the wire format and the dispatcher support.
pub const MAX_CPUS: u32 = 1024;
/// The sched_ext watchdog timeout the dispatcher asks for (`RELAY_WATCHDOG_MS`,
/// `ops.timeout_ms`, ms): a runnable task that waits longer gets the
/// scheduler ejected by the kernel.
pub const WATCHDOG_MS: u64 = 5000;
/// How long a task waits in one of the dispatcher's queues before aging
/// runs it ahead of the policy's order (`RELAY_AGE_AFTER_MS`, ms).
pub const AGE_AFTER_MS: u64 = 1000;
/// Shortest period of the dispatcher's heartbeat timer (`RELAY_TIMER_MIN_MS`, ms).
pub const TIMER_MIN_MS: u64 = 10;
/// Longest period of the dispatcher's heartbeat timer (`RELAY_TIMER_MAX_MS`, ms).
pub const TIMER_MAX_MS: u64 = 250;

/// The period of the dispatcher's heartbeat timer for a stall timeout
/// (ns): a quarter of it, within [`TIMER_MIN_MS`]..=[`TIMER_MAX_MS`]. The
/// timer wakes an idle user scheduler, and finds the tasks left in user
/// space for the stall timeout (which it rescues) and a stalled user side;
/// so a rescue comes at the first tick after the timeout, not at it.
pub fn timer_interval_ns(stall_timeout_ns: u64) -> u64 {
    (stall_timeout_ns / 4).clamp(TIMER_MIN_MS * 1_000_000, TIMER_MAX_MS * 1_000_000)
}

/// How far a decision's vtime may lie from the dispatcher's clock
/// (`vtime_now`, the largest vtime of an unclamped decision seen running)
/// before it is clamped (2^`RELAY_VTIME_WINDOW_SHIFT`): see [`clamp_vtime`].
/// Keys queued together then stay less than 2^63 apart, as the kernel's
/// wrap-aware order needs; no honest scale comes near (2^61 ns is 73 years).
pub const VTIME_WINDOW: u64 = 1 << 61;

/// Whether vtime `a` sorts before `b`, wrap-aware: the order of the kernel's
/// DSQs (`time_before64()` in `scx_dsq_priq_less()`, kernel/sched/ext.c).
pub fn vtime_before(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) < 0
}

/// A decision's vtime as the dispatcher queues it: clamped to
/// `[now - VTIME_WINDOW, now + VTIME_WINDOW]` around the dispatcher's clock
/// `now` (the lower end saturating at 0). A clamped task sorts first or
/// last, and its run does not move the clock: no policy's garbage (2^63,
/// `u64::MAX`) becomes the clock every task the dispatcher places itself
/// starts from. The BPF's `vtime_clamped()` does the same.
pub fn clamp_vtime(vtime: u64, now: u64) -> u64 {
    let lo = now.saturating_sub(VTIME_WINDOW);
    let hi = now.saturating_add(VTIME_WINDOW);
    if vtime_before(vtime, lo) {
        lo
    } else if vtime_before(hi, vtime) {
        hi
    } else {
        vtime
    }
}

/// Decisions one `ops.dispatch()` may move (`RELAY_DISPATCH_BATCH`,
/// `ops.dispatch_max_batch`): also the most tasks and decisions one engine
/// step handles by default.
pub const DISPATCH_BATCH: usize = 512;

/// Why a wire record was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum WireError {
    /// The record is shorter than its fixed size.
    #[error("record is {got} bytes, expected {expected}")]
    Truncated {
        /// Bytes received.
        got: usize,
        /// Bytes required.
        expected: usize,
    },
    /// pid or tgid is zero or negative.
    #[error("invalid pid {0}")]
    InvalidPid(i32),
    /// The CPU is negative or not below the number of CPUs.
    #[error("cpu {cpu} out of range (nr_cpus {nr_cpus})")]
    CpuOutOfRange {
        /// The CPU found.
        cpu: i64,
        /// The number of CPUs.
        nr_cpus: u32,
    },
    /// The weight is outside `WEIGHT_MIN..=WEIGHT_MAX`.
    #[error("weight {0} outside {WEIGHT_MIN}..={WEIGHT_MAX}")]
    InvalidWeight(u64),
    /// The task allows no CPU at all.
    #[error("task allows no CPU")]
    NoCpuAllowed,
}

/// `struct relay_queued_task`, field for field (see `intf.h` for units).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawQueuedTask {
    /// Thread id.
    pub pid: i32,
    /// Thread-group id.
    pub tgid: i32,
    /// CPU the task was on or was selected for.
    pub cpu: i32,
    /// Number of CPUs the task may run on.
    pub nr_cpus_allowed: u32,
    /// `SCX_ENQ_*` flags.
    pub enq_flags: u64,
    /// Share weight: `task_weight` times the task's cgroups' shares (1024 = nice 0 in the root).
    pub weight: u32,
    /// The task's own load weight (1024 = nice 0, as the fair class weighs it).
    pub task_weight: u32,
    /// Virtual time (ns).
    pub vtime: u64,
    /// Last start of a run (ns).
    pub start_ts: u64,
    /// Last stop of a run (ns).
    pub stop_ts: u64,
    /// CPU time since last sleep (ns).
    pub exec_runtime: u64,
    /// Enqueue generation.
    pub generation: u64,
    /// Cgroup id on the default (v2) hierarchy, 0 = unknown.
    pub cgid: u64,
    /// Command name.
    pub comm: [u8; TASK_COMM_LEN],
}

/// `struct relay_decision`, field for field (see `intf.h` for units).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawDecision {
    /// Thread id.
    pub pid: i32,
    /// Target CPU, or [`CPU_ANY`].
    pub cpu: i32,
    /// Slice (ns), 0 = keep the current slice.
    pub slice_ns: u64,
    /// Queue ordering key (ns of virtual time).
    pub vtime: u64,
    /// `SCX_ENQ_*` flags.
    pub flags: u64,
    /// Echoed enqueue generation.
    pub generation: u64,
}

/// `struct relay_record_event`, field for field (see `intf.h` for the
/// kinds and what `arg`, `arg2` and `flags` mean for each): one scheduling
/// event for `scx_relay record`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawRecordEvent {
    /// When (ns).
    pub ts: u64,
    /// The kind's first argument.
    pub arg: u64,
    /// Thread id.
    pub pid: i32,
    /// Thread-group id.
    pub tgid: i32,
    /// The CPU the event happened on.
    pub cpu: i32,
    /// `enum relay_record_kind`.
    pub kind: u32,
    /// The kind's flags.
    pub flags: u32,
    /// The kind's second argument.
    pub arg2: i32,
    /// Command name.
    pub comm: [u8; TASK_COMM_LEN],
}

/// A fixed-size field of a wire record, in native byte order.
trait WireField: Sized {
    /// Reads the field from the first bytes of `b`.
    fn read(b: &[u8]) -> Self;
    /// Writes the field to the first bytes of `out`.
    fn write(&self, out: &mut [u8]);
}

macro_rules! wire_int {
    ($($t:ty),+) => {$(
        impl WireField for $t {
            fn read(b: &[u8]) -> Self {
                let mut a = [0u8; size_of::<$t>()];
                a.copy_from_slice(&b[..size_of::<$t>()]);
                <$t>::from_ne_bytes(a)
            }

            fn write(&self, out: &mut [u8]) {
                out[..size_of::<$t>()].copy_from_slice(&self.to_ne_bytes());
            }
        }
    )+};
}

wire_int!(i32, u32, u64);

impl<const N: usize> WireField for [u8; N] {
    fn read(b: &[u8]) -> Self {
        let mut a = [0u8; N];
        a.copy_from_slice(&b[..N]);
        a
    }

    fn write(&self, out: &mut [u8]) {
        out[..N].copy_from_slice(self);
    }
}

/// The byte codec of a `#[repr(C)]` wire mirror: each field is read and
/// written at `offset_of!` of its own name, so the codec follows the struct
/// layout (which the binary checks against `intf.h`) and cannot put one field
/// in another's place. The struct literal in `read_fields` and the pattern in
/// `write_fields` are exhaustive: a field missing from the list fails to
/// compile.
macro_rules! wire_codec {
    ($ty:ident, $size:ident, $($field:ident),+) => {
        const _: () = assert!(size_of::<$ty>() == $size);

        impl $ty {
            fn read_fields(b: &[u8; $size]) -> Self {
                Self { $($field: WireField::read(&b[offset_of!($ty, $field)..]),)+ }
            }

            fn write_fields(&self, out: &mut [u8; $size]) {
                let Self { $($field,)+ } = self;
                $(WireField::write($field, &mut out[offset_of!($ty, $field)..]);)+
            }
        }
    };
}

/// Calls `$m!(args, <fields>)` with the fields of `struct relay_queued_task`
/// in layout order: the one list the codec, its test and the binary's
/// layout asserts against `intf.h` share. Use as
/// `queued_task_fields!(m!(args))`.
#[macro_export]
macro_rules! queued_task_fields {
    ($m:ident ! ($($args:tt)*)) => {
        $m! {
            $($args)*, pid, tgid, cpu, nr_cpus_allowed, enq_flags, weight, task_weight,
            vtime, start_ts, stop_ts, exec_runtime, generation, cgid, comm
        }
    };
}

/// Calls `$m!(args, <fields>)` with the fields of `struct relay_decision` in
/// layout order, as [`queued_task_fields!`].
#[macro_export]
macro_rules! decision_fields {
    ($m:ident ! ($($args:tt)*)) => {
        $m! { $($args)*, pid, cpu, slice_ns, vtime, flags, generation }
    };
}

/// Calls `$m!(args, <fields>)` with the fields of `struct
/// relay_record_event` in layout order, as [`queued_task_fields!`].
#[macro_export]
macro_rules! record_event_fields {
    ($m:ident ! ($($args:tt)*)) => {
        $m! { $($args)*, ts, arg, pid, tgid, cpu, kind, flags, arg2, comm }
    };
}

queued_task_fields!(wire_codec!(RawQueuedTask, QUEUED_TASK_SIZE));
record_event_fields!(wire_codec!(RawRecordEvent, RECORD_EVENT_SIZE));
decision_fields!(wire_codec!(RawDecision, DECISION_SIZE));

/// The first `N` bytes of a sample, or why there are fewer.
fn record<const N: usize>(b: &[u8]) -> Result<&[u8; N], WireError> {
    b.get(..N).and_then(|head| head.try_into().ok()).ok_or(WireError::Truncated { got: b.len(), expected: N })
}

impl RawRecordEvent {
    /// Reads an event from the bytes of a ring-buffer sample.
    pub fn from_bytes(b: &[u8]) -> Result<Self, WireError> {
        record::<RECORD_EVENT_SIZE>(b).map(Self::read_fields)
    }

    /// Writes the event in wire layout.
    pub fn to_bytes(&self, out: &mut [u8; RECORD_EVENT_SIZE]) {
        self.write_fields(out);
    }
}

impl RawQueuedTask {
    /// Reads a record from the bytes of a ring-buffer sample.
    pub fn from_bytes(b: &[u8]) -> Result<Self, WireError> {
        record::<QUEUED_TASK_SIZE>(b).map(Self::read_fields)
    }

    /// Writes the record in wire layout.
    pub fn to_bytes(&self, out: &mut [u8; QUEUED_TASK_SIZE]) {
        self.write_fields(out);
    }

    /// Validates the record against a machine with `nr_cpus` CPUs.
    pub fn validate(&self, nr_cpus: u32) -> Result<QueuedTask, WireError> {
        if self.pid <= 0 {
            return Err(WireError::InvalidPid(self.pid));
        }
        if self.tgid <= 0 {
            return Err(WireError::InvalidPid(self.tgid));
        }
        if self.cpu < 0 || self.cpu as u32 >= nr_cpus {
            return Err(WireError::CpuOutOfRange { cpu: i64::from(self.cpu), nr_cpus });
        }
        if self.nr_cpus_allowed == 0 {
            return Err(WireError::NoCpuAllowed);
        }
        for w in [self.weight, self.task_weight] {
            if !(WEIGHT_MIN..=WEIGHT_MAX).contains(&u64::from(w)) {
                return Err(WireError::InvalidWeight(u64::from(w)));
            }
        }
        Ok(QueuedTask {
            pid: self.pid,
            tgid: self.tgid,
            cpu: self.cpu as u32,
            nr_cpus_allowed: self.nr_cpus_allowed,
            enq_flags: self.enq_flags,
            weight: u64::from(self.weight),
            task_weight: u64::from(self.task_weight),
            vtime: self.vtime,
            start_ts: self.start_ts,
            stop_ts: self.stop_ts,
            exec_runtime: self.exec_runtime,
            generation: self.generation,
            cgid: self.cgid,
            comm: self.comm,
        })
    }
}

impl From<&QueuedTask> for RawQueuedTask {
    fn from(t: &QueuedTask) -> Self {
        Self {
            pid: t.pid,
            tgid: t.tgid,
            cpu: t.cpu as i32,
            nr_cpus_allowed: t.nr_cpus_allowed,
            enq_flags: t.enq_flags,
            // Out-of-range weights stay out of range (validate rejects them).
            weight: u32::try_from(t.weight).unwrap_or(u32::MAX),
            task_weight: u32::try_from(t.task_weight).unwrap_or(u32::MAX),
            vtime: t.vtime,
            start_ts: t.start_ts,
            stop_ts: t.stop_ts,
            exec_runtime: t.exec_runtime,
            generation: t.generation,
            cgid: t.cgid,
            comm: t.comm,
        }
    }
}

impl RawDecision {
    /// Encodes a decision for a machine with `nr_cpus` CPUs; a CPU out of range
    /// or a bad pid is an error, never a record the kernel has to reject.
    pub fn encode(d: &Decision, nr_cpus: u32) -> Result<Self, WireError> {
        if d.pid <= 0 {
            return Err(WireError::InvalidPid(d.pid));
        }
        let cpu = match d.target {
            Target::Any => CPU_ANY,
            Target::Cpu(c) if c < nr_cpus && c < MAX_CPUS => c as i32,
            Target::Cpu(c) => return Err(WireError::CpuOutOfRange { cpu: i64::from(c), nr_cpus }),
        };
        Ok(Self { pid: d.pid, cpu, slice_ns: d.slice_ns, vtime: d.vtime, flags: d.flags, generation: d.generation })
    }

    /// Writes the record in wire layout.
    pub fn to_bytes(&self, out: &mut [u8; DECISION_SIZE]) {
        self.write_fields(out);
    }

    /// Reads a record back (the dispatcher's view; used by tests and the simulator).
    pub fn from_bytes(b: &[u8]) -> Result<Self, WireError> {
        record::<DECISION_SIZE>(b).map(Self::read_fields)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn raw(pid: i32, cpu: i32, weight: u32) -> RawQueuedTask {
        RawQueuedTask { pid, tgid: pid, cpu, nr_cpus_allowed: 4, weight, task_weight: weight, ..Default::default() }
    }

    /// Vtimes compare as the kernel's DSQs order them: across the wrap too.
    #[test]
    fn vtime_order_is_wrap_aware() {
        assert!(vtime_before(1, 2) && !vtime_before(2, 1) && !vtime_before(5, 5));
        assert!(vtime_before(u64::MAX, 0), "u64::MAX is just before 0");
        assert!(vtime_before(u64::MAX - 10, 5));
    }

    /// A vtime within the window is kept; one outside, garbage included, is
    /// clamped to the window's nearer end (wrap-aware: u64::MAX is "just
    /// before" the clock, so it goes to the low end).
    #[test]
    fn clamp_vtime_keeps_the_window() {
        const W: u64 = VTIME_WINDOW;
        // Honest keys of any scale: ns of virtual time, counters, timestamps.
        for (v, now) in [(5, 0), (7_000_000_000, 5_000_000_000), (1_700_000_000_000_000_000, 12), (0, 1 << 40)] {
            assert_eq!(clamp_vtime(v, now), v);
        }
        let now = W;
        for v in [now, 0, now + W, now - 1, now + 12345] {
            assert_eq!(clamp_vtime(v, now), v);
        }
        assert_eq!(clamp_vtime(now + W + 1, now), now + W);
        assert_eq!(clamp_vtime(u64::MAX, now), 0, "u64::MAX is just before 0: the low end");
        assert_eq!(clamp_vtime(u64::MAX, 5), 0);
        assert_eq!(clamp_vtime(1 << 62, 0), W);
        assert_eq!(clamp_vtime(1 << 63, 0), 0, "2^63 from 0 is 'before' in wrap-aware order");
    }

    proptest! {
        /// Whatever a policy sends, the clamped vtime lies within the window
        /// around the clock, so keys queued together stay within 2^63.
        #[test]
        fn clamped_vtime_is_within_the_window(v: u64, now in 0u64..(1 << 62)) {
            let c = clamp_vtime(v, now);
            prop_assert!(c >= now.saturating_sub(VTIME_WINDOW) && c <= now + VTIME_WINDOW);
        }
    }

    /// The share weight and the task's own weight are two fields, each in range.
    #[test]
    fn share_and_task_weights_stay_apart() {
        let mut r = raw(9, 0, 1000);
        r.task_weight = 100;
        let mut buf = [0u8; QUEUED_TASK_SIZE];
        r.to_bytes(&mut buf);
        let t = RawQueuedTask::from_bytes(&buf).unwrap().validate(4).unwrap();
        assert_eq!((t.weight, t.task_weight), (1000, 100));
        r.task_weight = 0;
        assert_eq!(r.validate(4), Err(WireError::InvalidWeight(0)));
    }

    /// A valid record decodes to the same values.
    #[test]
    fn valid_record_round_trips() {
        let mut r = raw(42, 3, 100);
        r.comm[..4].copy_from_slice(b"bash");
        r.exec_runtime = 7;
        r.cgid = 0x1_0000_2345;
        let mut buf = [0u8; QUEUED_TASK_SIZE];
        r.to_bytes(&mut buf);
        let back = RawQueuedTask::from_bytes(&buf).unwrap();
        assert_eq!(back, r);
        let t = back.validate(4).unwrap();
        assert_eq!((t.pid, t.cpu, t.exec_runtime, t.cgid), (42, 3, 7, 0x1_0000_2345));
        assert_eq!(t.comm_str(), "bash");
    }

    /// Out-of-range CPUs, bad pids and weights are errors, not values.
    #[test]
    fn bad_records_are_rejected() {
        assert_eq!(raw(1, 4, 100).validate(4), Err(WireError::CpuOutOfRange { cpu: 4, nr_cpus: 4 }));
        assert_eq!(raw(1, -1, 100).validate(4), Err(WireError::CpuOutOfRange { cpu: -1, nr_cpus: 4 }));
        assert_eq!(raw(0, 0, 100).validate(4), Err(WireError::InvalidPid(0)));
        assert_eq!(raw(1, 0, 0).validate(4), Err(WireError::InvalidWeight(0)));
        assert_eq!(raw(1, 0, 102_401).validate(4), Err(WireError::InvalidWeight(102_401)));
        let mut r = raw(1, 0, 100);
        r.nr_cpus_allowed = 0;
        assert_eq!(r.validate(4), Err(WireError::NoCpuAllowed));
        assert!(matches!(RawQueuedTask::from_bytes(&[0u8; QUEUED_TASK_SIZE - 1]), Err(WireError::Truncated { .. })));
    }

    /// Fills a record so that every byte of each field holds the field's
    /// ordinal (1, 2, ...), builds its wire bytes by hand, one field at a time
    /// at `offset_of!` of its name, and checks the codec against them both ways.
    macro_rules! check_offsets {
        ($ty:ident, $size:ident, $($field:ident),+) => {{
            let mut k = 0u8;
            let r = $ty { $($field: { k += 1; WireField::read(&[k; TASK_COMM_LEN]) },)+ };
            let mut want = [0u8; $size];
            let mut covered = 0;
            $(
                WireField::write(&r.$field, &mut want[offset_of!($ty, $field)..]);
                covered += size_of_val(&r.$field);
            )+
            assert_eq!(covered, $size, "the fields tile the record");
            let mut buf = [0u8; $size];
            r.to_bytes(&mut buf);
            assert_eq!(buf, want, "encoded");
            assert_eq!($ty::from_bytes(&want), Ok(r), "decoded");
        }};
    }

    /// Each field lands at `offset_of!` of its own name, both ways, so two
    /// same-size fields swapped in both encode and decode fail here (a
    /// round trip alone would not notice).
    #[test]
    fn fields_sit_at_their_offsets() {
        queued_task_fields!(check_offsets!(RawQueuedTask, QUEUED_TASK_SIZE));
        decision_fields!(check_offsets!(RawDecision, DECISION_SIZE));
    }

    /// A decision naming a CPU the machine lacks is refused at encoding.
    #[test]
    fn decision_cpu_is_checked() {
        let t = QueuedTask::new(5, 0);
        assert!(RawDecision::encode(&t.decide(Target::Cpu(3), 1, 2), 4).is_ok());
        assert!(RawDecision::encode(&t.decide(Target::Cpu(4), 1, 2), 4).is_err());
        assert_eq!(RawDecision::encode(&t.decide(Target::Any, 1, 2), 4).unwrap().cpu, CPU_ANY);
    }

    proptest! {
        /// Any bytes decode without panicking, and whatever validates is in range.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), nr in 1u32..=MAX_CPUS) {
            if let Ok(r) = RawQueuedTask::from_bytes(&bytes) {
                if let Ok(t) = r.validate(nr) {
                    prop_assert!(t.pid > 0 && t.tgid > 0 && t.cpu < nr && t.nr_cpus_allowed > 0);
                    prop_assert!((WEIGHT_MIN..=WEIGHT_MAX).contains(&t.weight));
                    prop_assert!((WEIGHT_MIN..=WEIGHT_MAX).contains(&t.task_weight));
                }
            }
        }

        /// Decisions survive encoding and decoding unchanged.
        #[test]
        fn decisions_round_trip(pid in 1i32.., cpu in 0u32..MAX_CPUS, any_cpu: bool, s: u64, v: u64, f: u64, g: u64) {
            let target = if any_cpu { Target::Any } else { Target::Cpu(cpu) };
            let d = Decision { pid, target, slice_ns: s, vtime: v, flags: f, generation: g };
            let raw = RawDecision::encode(&d, MAX_CPUS).unwrap();
            let mut buf = [0u8; DECISION_SIZE];
            raw.to_bytes(&mut buf);
            prop_assert_eq!(RawDecision::from_bytes(&buf).unwrap(), raw);
        }
    }
}
