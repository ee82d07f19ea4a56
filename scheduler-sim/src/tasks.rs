//! The simulated tasks: their state in the dispatcher's eyes, what they do
//! next, and how a workload's groups become tasks.

use super::{
    queue::TaskId,
    replay::Replay,
    rng::SplitMix64,
    workload::{nice_to_weight, Affinity, Behavior, TaskClass, TaskGroup, JITTER_PCT, SPAWN_NS},
};
use scheduler_core::task::{QueuedTask, ENQ_WAKEUP, TASK_COMM_LEN};

/// Pid of the first simulated task; pids are never reused.
pub(crate) const PID_BASE: i32 = 1000;
/// CPU time a hog asks for: more than any simulation lasts.
pub(crate) const HOG_BURST_NS: u64 = u64::MAX / 4;

/// A contiguous set of CPUs `first..first + count` (count >= 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CpuRange {
    pub(crate) first: u32,
    pub(crate) count: u32,
}

impl CpuRange {
    /// Whether `cpu` is in the set.
    pub(crate) fn contains(self, cpu: u32) -> bool {
        cpu >= self.first && cpu - self.first < self.count
    }

    /// The CPUs of the set, in order.
    pub(crate) fn iter(self) -> impl Iterator<Item = u32> {
        self.first..self.first + self.count
    }

    /// The set a group's `index`-th task gets on a machine of `nr_cpus` CPUs.
    fn for_task(affinity: Affinity, index: u32, nr_cpus: u32) -> Self {
        match affinity {
            Affinity::All => Self { first: 0, count: nr_cpus },
            Affinity::PinnedSpread => Self { first: index % nr_cpus, count: 1 },
            Affinity::HalfSpread if nr_cpus == 1 => Self { first: 0, count: 1 },
            Affinity::HalfSpread => {
                let half = nr_cpus / 2;
                if index.is_multiple_of(2) {
                    Self { first: 0, count: half }
                } else {
                    Self { first: half, count: nr_cpus - half }
                }
            }
            Affinity::Range { first, count } => Self { first, count },
        }
    }
}

/// What a task does, with the ids it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Hog,
    Periodic {
        run_ns: u64,
        sleep_ns: u64,
    },
    Pipe {
        partner: TaskId,
        run_ns: u64,
        leader: bool,
    },
    /// A writer of a [`Behavior::PipeGroup`]: its next write goes to pipe
    /// `first_pipe + next_receiver`.
    Sender {
        first_pipe: u32,
        receivers: u32,
        next_receiver: u32,
        message_ns: u64,
    },
    /// The reader of pipe `pipe` of a [`Behavior::PipeGroup`].
    Receiver {
        pipe: u32,
        message_ns: u64,
    },
    ForkParent {
        children: u32,
        child_run_ns: u64,
        period_ns: u64,
    },
    ForkChild {
        parent: TaskId,
    },
    /// Follows script `script` of the machine's replay.
    Replay {
        script: u32,
    },
}

/// A pipe of a [`Behavior::PipeGroup`]: the messages in it, its reader, and
/// the writers blocked on it while it is full (woken one per message read,
/// in the order they blocked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pipe {
    pub(crate) reader: TaskId,
    /// Messages in the pipe, at most `capacity`.
    pub(crate) messages: u32,
    pub(crate) capacity: u32,
    pub(crate) blocked_writers: std::collections::VecDeque<TaskId>,
}

/// Where a replayed task is in its script.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cursor {
    /// The next step.
    pub(crate) step: usize,
    /// Wakes from other tasks not yet consumed by a block.
    pub(crate) wakes_pending: u32,
    /// Blocked until woken (sleeping without a timer).
    pub(crate) blocked: bool,
}

/// A queue a task can wait in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QueueId {
    /// A CPU's own queue.
    Local(u32),
    /// The shared queue (also where the dispatcher places tasks itself:
    /// stall fallback, congestion).
    Shared,
}

/// Where a task is. A runnable task is always in exactly one of `InUser`,
/// `Queued` or `Running`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TaskState {
    /// Not runnable: waiting for its timer, its pipe partner or its creation.
    Sleeping,
    /// Handed to user space (in the queued ring, in the engine, or decided
    /// with the decision not yet applied).
    InUser,
    /// In a dispatch queue.
    Queued(QueueId),
    /// On this CPU.
    Running(u32),
    /// Gone (a fork child that finished).
    Exited,
}

/// One simulated task.
#[derive(Clone, Debug)]
pub(crate) struct SimTask {
    pub(crate) pid: i32,
    pub(crate) class: TaskClass,
    pub(crate) role: Role,
    pub(crate) nice: i32,
    pub(crate) weight: u64,
    /// A nice change planned: (when, new weight, new nice level).
    pub(crate) renice: Option<(u64, u64, i32)>,
    pub(crate) allowed: CpuRange,
    pub(crate) comm: [u8; TASK_COMM_LEN],
    pub(crate) state: TaskState,
    /// It became runnable once: the BPF's `relay_enable` gave it
    /// `vtime_now` and a slice (false until its creation's first wakeup).
    pub(crate) enabled: bool,
    /// Bumped at every enqueue that may go to user space.
    pub(crate) generation: u64,
    pub(crate) prev_cpu: u32,
    /// The vtime of the task's last decision (kernel-side inserts reuse it).
    pub(crate) vtime: u64,
    /// Its last decision's vtime was clamped: its runs do not move the clock.
    pub(crate) vtime_clamped: bool,
    /// Slice left (ns); 0 = none, the next dispatch sets one.
    pub(crate) slice_left: u64,
    /// CPU time left before the task blocks, sleeps or exits (ns).
    pub(crate) burst_left: u64,
    pub(crate) exec_runtime: u64,
    pub(crate) start_ts: u64,
    /// CPU time of the runs its current run goes on with: it resumed after
    /// a local fast placement preempted it (the BPF's `resumed_ran`; see
    /// `Machine::preempt`); 0 otherwise.
    pub(crate) resumed_ran: u64,
    /// Its next run goes on with the run a local fast placement preempted
    /// (the BPF's `resumed`).
    pub(crate) resumed: bool,
    /// It was last queued in the shared queue (the BPF's `run_shared`),
    /// where a resume puts it back if it may run elsewhere.
    pub(crate) run_shared: bool,
    pub(crate) stop_ts: u64,
    /// When the task last became runnable (valid while runnable).
    pub(crate) runnable_since: u64,
    /// When the last decision for it was applied (0: none yet).
    pub(crate) decided_at: u64,
    /// A pipe message arrived while the task was not blocked.
    pub(crate) wake_pending: bool,
    /// A replayed task's place in its script.
    pub(crate) cursor: Cursor,
    pub(crate) cpu_ns: u64,
    pub(crate) runs: u64,
    pub(crate) work_units: u64,
    /// Bit set of the CPUs the task ran on.
    pub(crate) cpus_used: Vec<u64>,
    /// The dispatcher's wakeup fast-path state for the task (its task context).
    pub(crate) fast: FastState,
}

/// What the dispatcher keeps per task for the wakeup fast path and the
/// statistics it publishes (the BPF's task context; the published part is
/// in the task's shared slot).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FastState {
    /// When it last woke up (a wakeup, not its creation); `None`: never.
    pub(crate) last_wake_ns: Option<u64>,
    /// The grant word its current run was fast-placed under, from the
    /// placement until the task next stops or is enqueued (the BPF's
    /// `fast_grant`); `None`: not a fast-placed run.
    pub(crate) run_grant: Option<u64>,
    /// Its key before the fast placement gave it the fast one, put back
    /// when that run ends (the BPF's `fast_saved_key`,
    /// `Machine::fast_key_restore`).
    pub(crate) saved_vtime: u64,
    /// The grant word its current wakeup was fast-placed under (the BPF's
    /// `burst_grant`): set at the placement, cleared at its next wakeup
    /// and when a stop finds an overrun; while set, every stop checks the
    /// burst's CPU time against the budget, whoever placed the run.
    pub(crate) burst_grant: Option<u64>,
    /// The CPU whose `fast_waiting` names it (the BPF's `fast_wait_cpu`):
    /// from its fast placement until it starts running, is enqueued again
    /// or exits.
    pub(crate) wait_cpu: Option<u32>,
    /// Start of its fast-path CPU window (ns).
    pub(crate) window_start_ns: u64,
    /// CPU time its fast-placed runs used in that window (ns).
    pub(crate) window_used_ns: u64,
    /// The effective weight its current run was fast-placed at (the
    /// placement word's; the BPF's `fast_weight`), which bounds the
    /// window's CPU ([`scheduler_core::shared::fast_share_limit_ns`]).
    pub(crate) run_weight: u64,
    /// Its current fast-placed run preempted a CPU hog by the hog rule (the
    /// BPF's `fast_hog`): at its stop, the rule rests on that CPU for as
    /// long as the run took ([`crate::machine::Cpu::hog_rule_after_ns`]).
    pub(crate) hog_run: bool,
    /// Its fast-placed wakeups in a row whose burst reached the budget
    /// (the BPF's `fast_overruns`; [`scheduler_core::shared::FAST_OVERRUNS`]
    /// of them revoke the grant).
    pub(crate) overruns: u8,
}

impl SimTask {
    /// When its current run started as the dispatcher's rules see it (the
    /// BPF's `cpu_started_ns`): a resumed run goes on with the runs before
    /// it.
    pub(crate) fn run_started(&self) -> u64 {
        self.start_ts.saturating_sub(self.resumed_ran)
    }

    /// Its command name (`hog-0`, `fork-child`, ...).
    pub(crate) fn name(&self) -> String {
        let len = self.comm.iter().position(|&b| b == 0).unwrap_or(self.comm.len());
        String::from_utf8_lossy(&self.comm[..len]).into_owned()
    }

    fn new(pid: i32, group: &TaskGroup, role: Role, allowed: CpuRange, index: u32, nr_cpus: u32) -> Self {
        let comm = comm_of(&format!("{}-{index}", group.class.name()));
        Self {
            pid,
            class: group.class,
            role,
            nice: group.nice,
            weight: group.weight_at(group.nice),
            renice: group.renice.map(|(at, nice)| (at, group.weight_at(nice), nice)),
            allowed,
            comm,
            state: TaskState::Sleeping,
            enabled: false,
            generation: 0,
            prev_cpu: allowed.first,
            vtime: 0,
            vtime_clamped: false,
            slice_left: 0,
            burst_left: 0,
            exec_runtime: 0,
            start_ts: 0,
            resumed_ran: 0,
            resumed: false,
            run_shared: false,
            stop_ts: 0,
            runnable_since: 0,
            decided_at: 0,
            wake_pending: false,
            cursor: Cursor::default(),
            cpu_ns: 0,
            runs: 0,
            work_units: 0,
            cpus_used: vec![0; nr_cpus.div_ceil(64) as usize],
            fast: FastState::default(),
        }
    }

    /// A child of fork parent `parent` (id `parent_id`), created on `cpu`:
    /// same class, nice level and affinity, `run_ns` of work.
    pub(crate) fn child_of(parent: &SimTask, parent_id: TaskId, pid: i32, cpu: u32, run_ns: u64) -> Self {
        let mut comm = [0u8; TASK_COMM_LEN];
        comm[..10].copy_from_slice(b"fork-child");
        Self {
            pid,
            class: parent.class,
            role: Role::ForkChild { parent: parent_id },
            nice: parent.nice,
            weight: parent.weight,
            renice: None,
            allowed: parent.allowed,
            comm,
            state: TaskState::Sleeping,
            enabled: false,
            generation: 0,
            prev_cpu: cpu,
            vtime: 0,
            vtime_clamped: false,
            slice_left: 0,
            burst_left: run_ns,
            exec_runtime: 0,
            start_ts: 0,
            resumed_ran: 0,
            resumed: false,
            run_shared: false,
            stop_ts: 0,
            runnable_since: 0,
            decided_at: 0,
            wake_pending: false,
            cursor: Cursor::default(),
            cpu_ns: 0,
            runs: 0,
            work_units: 0,
            cpus_used: vec![0; parent.cpus_used.len()],
            fast: FastState::default(),
        }
    }

    /// Whether the task is a workload task rather than a fork child.
    pub(crate) fn is_long_lived(&self) -> bool {
        !matches!(self.role, Role::ForkChild { .. })
    }

    /// Records that the task ran on `cpu`.
    pub(crate) fn mark_cpu(&mut self, cpu: u32) {
        if let Some(w) = self.cpus_used.get_mut((cpu / 64) as usize) {
            *w |= 1 << (cpu % 64);
        }
    }

    /// The CPUs the task ran on, in order.
    pub(crate) fn cpus_used(&self) -> Vec<u32> {
        let mut out = Vec::new();
        for (i, &w) in self.cpus_used.iter().enumerate() {
            for b in 0..64 {
                if w & (1 << b) != 0 {
                    out.push(i as u32 * 64 + b);
                }
            }
        }
        out
    }

    /// The record the dispatcher writes to the queued ring for this task.
    pub(crate) fn queued_task(&self, cpu: u32, wakeup: bool) -> QueuedTask {
        QueuedTask {
            pid: self.pid,
            tgid: self.pid,
            cpu,
            nr_cpus_allowed: self.allowed.count,
            enq_flags: if wakeup { ENQ_WAKEUP } else { 0 },
            // The simulator has no cgroups: weight is the task's own, and
            // routing's cgroup matchers never match (cgid 0).
            weight: self.weight,
            task_weight: self.weight,
            vtime: self.vtime,
            start_ts: self.start_ts,
            stop_ts: self.stop_ts,
            exec_runtime: self.exec_runtime,
            generation: self.generation,
            cgid: 0,
            comm: self.comm,
        }
    }
}

/// Creates the tasks of `groups` on a machine of `nr_cpus` CPUs, appending
/// them to `tasks` and the time of each one's first wakeup to `wakes`
/// (within the first millisecond, seeded; a pipe pair's second task and a
/// pipe group's receivers wait for a message instead), and a pipe group's
/// pipes to `pipes`.
pub(crate) fn create_workload(
    groups: &[TaskGroup],
    nr_cpus: u32,
    rng: &mut SplitMix64,
    tasks: &mut Vec<SimTask>,
    wakes: &mut Vec<(u64, TaskId)>,
    pipes: &mut Vec<Pipe>,
) {
    for group in groups {
        let count = group.count.resolve(nr_cpus);
        for i in 0..count {
            let id = tasks.len() as TaskId;
            let pid = PID_BASE + id as i32;
            let set = |index| CpuRange::for_task(group.affinity, index, nr_cpus);
            match group.behavior {
                Behavior::PipePair { run_ns } => {
                    let (a, b) = (id, id + 1);
                    let mut leader = SimTask::new(
                        pid,
                        group,
                        Role::Pipe { partner: b, run_ns, leader: true },
                        set(2 * i),
                        2 * i,
                        nr_cpus,
                    );
                    leader.burst_left = rng.jitter(run_ns, JITTER_PCT);
                    let mut follower = SimTask::new(
                        pid + 1,
                        group,
                        Role::Pipe { partner: a, run_ns, leader: false },
                        set(2 * i + 1),
                        2 * i + 1,
                        nr_cpus,
                    );
                    follower.burst_left = rng.jitter(run_ns, JITTER_PCT);
                    tasks.push(leader);
                    tasks.push(follower);
                    wakes.push((rng.below(1_000_000), a));
                }
                Behavior::PipeGroup { senders, receivers, message_ns, capacity } => {
                    // Receivers first, then senders, named apart
                    // (`pipe-r-<n>`, `pipe-s-<n>`); their indices within
                    // the workload's groups place them on CPUs as one list.
                    let first_pipe = pipes.len() as u32;
                    for k in 0..senders + receivers {
                        let id = tasks.len() as TaskId;
                        let (role, name) = if k < receivers {
                            pipes.push(Pipe { reader: id, messages: 0, capacity, blocked_writers: Default::default() });
                            (Role::Receiver { pipe: first_pipe + k, message_ns }, "r")
                        } else {
                            wakes.push((rng.below(1_000_000), id));
                            (Role::Sender { first_pipe, receivers, next_receiver: 0, message_ns }, "s")
                        };
                        let index = i * (senders + receivers) + k;
                        let mut t = SimTask::new(PID_BASE + id as i32, group, role, set(index), index, nr_cpus);
                        t.comm = comm_of(&format!("{}-{name}-{index}", group.class.name()));
                        t.burst_left = rng.jitter(message_ns, JITTER_PCT);
                        tasks.push(t);
                    }
                }
                behavior => {
                    let (role, burst) = match behavior {
                        Behavior::Hog => (Role::Hog, HOG_BURST_NS),
                        Behavior::Periodic { run_ns, sleep_ns } => (Role::Periodic { run_ns, sleep_ns }, run_ns),
                        Behavior::ForkBurst { children, child_run_ns, period_ns } => {
                            (Role::ForkParent { children, child_run_ns, period_ns }, SPAWN_NS)
                        }
                        Behavior::PipePair { .. } | Behavior::PipeGroup { .. } => continue,
                    };
                    let mut t = SimTask::new(pid, group, role, set(i), i, nr_cpus);
                    t.burst_left = burst;
                    tasks.push(t);
                    wakes.push((rng.below(1_000_000), id));
                }
            }
        }
    }
}

/// A task's name as the kernel keeps it: at most `TASK_COMM_LEN - 1`
/// bytes, NUL-padded.
fn comm_of(name: &str) -> [u8; TASK_COMM_LEN] {
    let mut comm = [0u8; TASK_COMM_LEN];
    let n = name.len().min(TASK_COMM_LEN - 1);
    comm[..n].copy_from_slice(&name.as_bytes()[..n]);
    comm
}

/// The nice level whose weight is nearest `weight` (the lower one on a tie).
fn nearest_nice(weight: u64) -> i32 {
    (-20..=19).min_by_key(|&n| nice_to_weight(n).abs_diff(weight)).unwrap_or(0)
}

/// Creates a task per script of `replay`, appending them to `tasks` and the
/// time each appears to `wakes`: the recorded weight and name, pinned to
/// the recorded CPU or allowed on every one. Pids are the simulator's
/// (from [`PID_BASE`]); the recorded one is in the script.
pub(crate) fn create_replay(replay: &Replay, nr_cpus: u32, tasks: &mut Vec<SimTask>, wakes: &mut Vec<(u64, TaskId)>) {
    let group = TaskGroup::new(TaskClass::Replay, super::workload::Count::Fixed(1), Behavior::Hog);
    for (i, script) in replay.scripts.iter().enumerate() {
        let id = tasks.len() as TaskId;
        let allowed = match script.pinned {
            Some(cpu) if cpu < nr_cpus => CpuRange { first: cpu, count: 1 },
            _ => CpuRange { first: 0, count: nr_cpus },
        };
        let mut t = SimTask::new(PID_BASE + id as i32, &group, Role::Replay { script: i as u32 }, allowed, 0, nr_cpus);
        t.weight = script.weight.max(1);
        t.nice = nearest_nice(t.weight);
        t.comm = comm_of(&script.comm);
        tasks.push(t);
        wakes.push((script.start_ns, id));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::workload::Count;

    /// Affinity modes give the documented sets.
    #[test]
    fn affinity_sets() {
        assert_eq!(CpuRange::for_task(Affinity::PinnedSpread, 9, 4), CpuRange { first: 1, count: 1 });
        assert_eq!(CpuRange::for_task(Affinity::HalfSpread, 1, 5), CpuRange { first: 2, count: 3 });
        assert_eq!(CpuRange::for_task(Affinity::HalfSpread, 2, 5), CpuRange { first: 0, count: 2 });
        assert_eq!(CpuRange::for_task(Affinity::HalfSpread, 1, 1), CpuRange { first: 0, count: 1 });
        let s = CpuRange { first: 2, count: 2 };
        assert!(s.contains(3) && !s.contains(4) && !s.contains(1));
    }

    /// Pipe pairs are created as two partners, the follower without a wakeup.
    #[test]
    fn pipe_pairs_are_partners() {
        let g = TaskGroup::new(TaskClass::Pipe, Count::Fixed(2), Behavior::PipePair { run_ns: 10 });
        let (mut tasks, mut wakes) = (Vec::new(), Vec::new());
        create_workload(&[g], 4, &mut SplitMix64::new(1), &mut tasks, &mut wakes, &mut Vec::new());
        assert_eq!(tasks.len(), 4);
        assert_eq!(wakes.iter().map(|w| w.1).collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(tasks[1].role, Role::Pipe { partner: 0, run_ns: 10, leader: false });
        assert_eq!(tasks[3].pid, PID_BASE + 3);
    }
}
