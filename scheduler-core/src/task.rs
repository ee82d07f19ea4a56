//! The two values that cross the kernel/user boundary, in checked Rust form:
//! a task that needs a decision ([`QueuedTask`]) and the decision
//! ([`Decision`]). Their `#[repr(C)]` wire mirrors live in [`crate::wire`].

/// Length of a task's command name, as the kernel's `TASK_COMM_LEN`.
pub const TASK_COMM_LEN: usize = 16;

/// The kernel's `sched_prio_to_weight` table (kernel/sched/core.c): the
/// fair class's load weight of nice -20..=19, nice 0 = 1024. Task weights
/// are on this scale, not on sched_ext's `p->scx.weight` (the same weight
/// rounded to a scale of 100, which makes nice 15 weigh 12 % too much).
/// The dispatcher holds the same table (`prio_to_weight` in
/// `src/bpf/main.bpf.c`; a test keeps the two equal).
pub const PRIO_TO_WEIGHT: [u64; 40] = [
    88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705, 14949, 11916, 9548, 7620, 6100, 4904, 3906, 3121, 2501,
    1991, 1586, 1277, 1024, 820, 655, 526, 423, 335, 272, 215, 172, 137, 110, 87, 70, 56, 45, 36, 29, 23, 18, 15,
];
/// Weight of a nice-0 task.
pub const WEIGHT_DEFAULT: u64 = 1024;
/// Weight of a `SCHED_IDLE` task (the kernel's `WEIGHT_IDLEPRIO`).
pub const WEIGHT_IDLEPRIO: u64 = 3;
/// Smallest weight a hand-off carries (a task's share in a crowded cgroup
/// is rounded up to it).
pub const WEIGHT_MIN: u64 = 1;
/// Largest weight a hand-off carries: cgroup `cpu.weight`'s largest value
/// (10000, default 100) on this scale.
pub const WEIGHT_MAX: u64 = 10_000 * WEIGHT_DEFAULT / 100;

/// The weight of a nice level (clamped to -20..=19 first), exactly as the
/// fair class weighs it: nice 10 is 110, nice 19 is 15.
pub fn nice_to_weight(nice: i32) -> u64 {
    PRIO_TO_WEIGHT[(nice.clamp(-20, 19) + 20) as usize]
}

/// `SCX_ENQ_WAKEUP`: the enqueue flag of a task that became runnable by
/// waking up (rather than losing its CPU at the end of a slice). The binary
/// asserts it equals `intf.h`'s `RELAY_ENQ_WAKEUP`, which the dispatcher
/// checks against the kernel's when it loads.
pub const ENQ_WAKEUP: u64 = 1;

/// A runnable task that the dispatcher handed to user space for a decision.
///
/// Every field is validated when it is decoded from the wire
/// ([`crate::wire::RawQueuedTask`]), so a policy can rely on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueuedTask {
    /// Thread id (kernel `pid`), always > 0.
    pub pid: i32,
    /// Thread-group id (the process id), always > 0.
    pub tgid: i32,
    /// CPU the task last ran on or the kernel selected for it, or one its
    /// CPU mask allows when the mask no longer has that one (at the
    /// hand-off); < the number of CPUs.
    pub cpu: u32,
    /// Number of CPUs in the task's affinity mask, >= 1.
    pub nr_cpus_allowed: u32,
    /// sched_ext enqueue flags (`SCX_ENQ_*`), passed back unchanged by most policies.
    pub enq_flags: u64,
    /// The weight the task's share of CPU follows,
    /// [`WEIGHT_MIN`]..=[`WEIGHT_MAX`]: its own weight ([`Self::task_weight`])
    /// times the shares of its cgroups' `cpu.weight`, as the fair class's
    /// group scheduling would split the CPU ([`WEIGHT_DEFAULT`], 1024 = a
    /// nice-0 task in the root cgroup; a lone nice-0 task in a cgroup of
    /// `cpu.weight` 1000 has 10240, each of ten there 1024). Policies that
    /// honour weights use this one.
    pub weight: u64,
    /// The task's own weight, as the fair class weighs it (nice or
    /// `sched_setattr`: [`nice_to_weight`], 1024 = nice 0, SCHED_IDLE
    /// [`WEIGHT_IDLEPRIO`]), cgroups not applied.
    pub task_weight: u64,
    /// The vtime of the task's last decision by this policy (ns). When the
    /// policy never decided it (a new task, one the dispatcher placed, one
    /// queued before a switch) it is another clock's value: the dispatcher's
    /// vtime when the task joined sched_ext or was placed, or 0 where the
    /// engine or the router map an unknown scale to "never set".
    pub vtime: u64,
    /// Time the task last started running (ns, monotonic clock of the backend).
    pub start_ts: u64,
    /// Time the task last stopped running (ns, same clock).
    pub stop_ts: u64,
    /// CPU time the task used since it last slept (ns).
    pub exec_runtime: u64,
    /// Generation counter: bumped by the dispatcher at every enqueue; a
    /// decision echoing an older generation is stale and is discarded.
    pub generation: u64,
    /// The id of the task's cgroup on the default (v2) hierarchy when it
    /// was handed over (the kernel's `cgroup_id()`: the inode number of the
    /// cgroup's directory in the cgroup2 mount), read at every hand-off, so
    /// it follows moves between cgroups; 0 = unknown (the simulator, tests).
    pub cgid: u64,
    /// Command name, NUL padded.
    pub comm: [u8; TASK_COMM_LEN],
}

impl QueuedTask {
    /// A nice-0 task with the given pid and CPU, for tests and examples.
    pub fn new(pid: i32, cpu: u32) -> Self {
        Self {
            pid,
            tgid: pid,
            cpu,
            nr_cpus_allowed: u32::MAX,
            enq_flags: 0,
            weight: WEIGHT_DEFAULT,
            task_weight: WEIGHT_DEFAULT,
            vtime: 0,
            start_ts: 0,
            stop_ts: 0,
            exec_runtime: 0,
            generation: 1,
            cgid: 0,
            comm: [0; TASK_COMM_LEN],
        }
    }

    /// The command name up to the first NUL, lossily decoded.
    pub fn comm_str(&self) -> std::borrow::Cow<'_, str> {
        let len = self.comm.iter().position(|&b| b == 0).unwrap_or(TASK_COMM_LEN);
        String::from_utf8_lossy(&self.comm[..len])
    }

    /// Whether the task is enqueued because it woke up ([`ENQ_WAKEUP`]),
    /// not because its slice ended.
    pub fn is_wakeup(&self) -> bool {
        self.enq_flags & ENQ_WAKEUP != 0
    }

    /// Whether the task has run since it joined sched_ext (it has stopped
    /// once: `stop_ts` is set). False for a new task, forked or queued when
    /// the scheduler loaded: its first enqueue is no wakeup
    /// ([`Self::is_wakeup`] is false), yet it has no CPU whose cache it warmed.
    pub fn has_run(&self) -> bool {
        self.stop_ts != 0
    }

    /// CPU time of the task's last run (ns): `stop_ts - start_ts`, 0 if unknown.
    pub fn last_run_ns(&self) -> u64 {
        self.stop_ts.saturating_sub(self.start_ts)
    }

    /// A decision for this task that echoes its pid, flags and generation.
    pub fn decide(&self, target: Target, slice_ns: u64, vtime: u64) -> Decision {
        Decision { pid: self.pid, target, slice_ns, vtime, flags: self.enq_flags, generation: self.generation }
    }
}

/// Where a decided task should run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// This CPU's queue.
    Cpu(u32),
    /// The shared queue: the first CPU that becomes free takes it.
    Any,
}

/// A policy's decision for one [`QueuedTask`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The task's pid, echoed from [`QueuedTask::pid`].
    pub pid: i32,
    /// The queue to put it on.
    pub target: Target,
    /// Time slice (ns); 0 keeps the task's current slice.
    pub slice_ns: u64,
    /// Ordering key within the target queue (ns of virtual time; lower runs first).
    pub vtime: u64,
    /// Enqueue flags passed to the kernel, normally [`QueuedTask::enq_flags`].
    pub flags: u64,
    /// Echo of [`QueuedTask::generation`]: the dispatcher discards a mismatch.
    pub generation: u64,
}
