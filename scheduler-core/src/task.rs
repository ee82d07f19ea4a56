//! The two values that cross the kernel/user boundary, in checked Rust form:
//! a task that needs a decision ([`QueuedTask`]) and the decision
//! ([`Decision`]). Their `#[repr(C)]` wire mirrors live in [`crate::wire`].

/// Length of a task's command name, as the kernel's `TASK_COMM_LEN`.
pub const TASK_COMM_LEN: usize = 16;

/// Default sched_ext weight of a nice-0 task (`p->scx.weight`).
pub const WEIGHT_DEFAULT: u64 = 100;
/// Smallest sched_ext weight (nice 19).
pub const WEIGHT_MIN: u64 = 1;
/// Largest sched_ext weight (nice -20).
pub const WEIGHT_MAX: u64 = 10_000;

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
    /// group scheduling would split the CPU (100 = a nice-0 task in the root
    /// cgroup; a lone task in a cgroup of `cpu.weight` 1000 has 1000, each of
    /// ten there 100). Policies that honour weights use this one.
    pub weight: u64,
    /// The task's own sched_ext weight (nice or `sched_setattr`; 100 = nice 0,
    /// SCHED_IDLE 1), [`WEIGHT_MIN`]..=[`WEIGHT_MAX`], cgroups not applied.
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
