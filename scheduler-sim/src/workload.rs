//! Workloads: which simulated tasks exist and what each one does.
//!
//! A workload is a list of [`TaskGroup`]s. The named presets (`mixed`,
//! `hogs`, ...) are defined in one table, [`PRESETS`]; a test can build its
//! own groups with [`Workload::Custom`].

use std::{fmt, str::FromStr, sync::Arc};

use serde::Serialize;
use thiserror::Error;

pub use scheduler_core::task::nice_to_weight;
use scheduler_core::task::WEIGHT_IDLEPRIO;

use crate::replay::Replay;

/// The weight of a `SCHED_IDLE` task: the kernel's 3 (nice 0 is 1024).
pub fn sched_idle_weight() -> u64 {
    WEIGHT_IDLEPRIO
}

/// The label a task is reported under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskClass {
    /// CPU hogs at nice 0.
    Hog,
    /// Periodic tasks that run briefly and sleep.
    Interactive,
    /// Pipe tasks: ping-pong pairs, and hackbench's senders and receivers.
    Pipe,
    /// Fork-burst parents and their children.
    Fork,
    /// Tasks restricted to some CPUs.
    Affinity,
    /// Tasks at a nice level other than 0.
    Nice,
    /// Tasks replaying a recording's ([`Workload::Replay`]).
    Replay,
}

impl TaskClass {
    /// Every class, in report order.
    pub const ALL: [TaskClass; 7] = [
        TaskClass::Hog,
        TaskClass::Interactive,
        TaskClass::Pipe,
        TaskClass::Fork,
        TaskClass::Affinity,
        TaskClass::Nice,
        TaskClass::Replay,
    ];

    /// The class's name as reported.
    pub fn name(self) -> &'static str {
        match self {
            TaskClass::Hog => "hog",
            TaskClass::Interactive => "interactive",
            TaskClass::Pipe => "pipe",
            TaskClass::Fork => "fork",
            TaskClass::Affinity => "affinity",
            TaskClass::Nice => "nice",
            TaskClass::Replay => "replay",
        }
    }
}

/// What a task does while it exists. Durations are CPU time it needs (ns)
/// or sleep time (ns); the simulator varies the ones marked "about" by
/// ±[`JITTER_PCT`] percent with the seeded generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Behavior {
    /// Runs forever, never sleeps.
    Hog,
    /// Runs `run_ns`, sleeps about `sleep_ns`, again; a work unit is one iteration.
    Periodic {
        /// CPU time per iteration (ns).
        run_ns: u64,
        /// Sleep between iterations (ns, about).
        sleep_ns: u64,
    },
    /// Two tasks per count: each runs about `run_ns`, wakes the other
    /// (writes to the pipe) and blocks until woken; a work unit is a round trip.
    PipePair {
        /// CPU time per message (ns, about).
        run_ns: u64,
    },
    /// hackbench's group, per count: `senders` tasks each write a message
    /// to each of `receivers` pipes in turn, and each receiver reads its
    /// pipe's messages one at a time, each write and each read taking about
    /// `message_ns`. A pipe holds at most `capacity` messages: a sender
    /// blocks on a full one until its receiver reads, and a receiver
    /// blocks on an empty one until a sender writes (a write wakes the
    /// receiver only when the pipe was empty, as the kernel's
    /// `pipe_write()`), so a receiver that runs late reads a batch for one
    /// wakeup. A work unit is a message read.
    PipeGroup {
        /// Writers per group.
        senders: u32,
        /// Readers per group, one pipe each.
        receivers: u32,
        /// CPU time of a write and of a read (ns, about).
        message_ns: u64,
        /// Messages a pipe holds.
        capacity: u32,
    },
    /// A parent that every `period_ns` runs [`SPAWN_NS`] and spawns
    /// `children` tasks, each running about `child_run_ns` and exiting; a
    /// work unit is a child that finished.
    ForkBurst {
        /// Children per burst.
        children: u32,
        /// CPU time of a child (ns, about).
        child_run_ns: u64,
        /// Sleep between bursts (ns).
        period_ns: u64,
    },
}

/// Relative variation (percent) of the durations marked "about" in [`Behavior`].
pub const JITTER_PCT: u64 = 25;
/// CPU time a fork-burst parent runs before it spawns its children (ns).
pub const SPAWN_NS: u64 = 20_000;

/// Which CPUs a group's tasks may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Affinity {
    /// Every CPU.
    All,
    /// Task `i` of the group is pinned to CPU `i mod nr_cpus` (one CPU each).
    PinnedSpread,
    /// Task `i` of the group may use the lower half of the CPUs if `i` is
    /// even, the upper half if odd (one CPU on a one-CPU machine).
    HalfSpread,
    /// CPUs `first..first + count`.
    Range {
        /// First allowed CPU.
        first: u32,
        /// Number of allowed CPUs, >= 1.
        count: u32,
    },
}

/// How many tasks a group has (pipe pairs for [`Behavior::PipePair`], groups of senders and receivers for [`Behavior::PipeGroup`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Count {
    /// Exactly this many.
    Fixed(u32),
    /// This many on 8 CPUs, scaled linearly with the CPU count, at least 1
    /// (unless 0).
    PerEightCpus(u32),
}

impl Count {
    /// The count on a machine with `nr_cpus` CPUs.
    pub fn resolve(self, nr_cpus: u32) -> u32 {
        match self {
            Count::Fixed(n) => n,
            Count::PerEightCpus(0) => 0,
            Count::PerEightCpus(n) => ((u64::from(n) * u64::from(nr_cpus) / 8) as u32).max(1),
        }
    }
}

/// A set of tasks with one behaviour, nice level and affinity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TaskGroup {
    /// The class the tasks are reported under.
    pub class: TaskClass,
    /// Number of tasks (of pairs, for [`Behavior::PipePair`]; of groups, for [`Behavior::PipeGroup`]).
    pub count: Count,
    /// What each task does.
    pub behavior: Behavior,
    /// Nice level, -20..=19 (weight by [`nice_to_weight`]).
    pub nice: i32,
    /// `SCHED_IDLE` tasks: weight [`sched_idle_weight`] whatever the nice level.
    pub sched_idle: bool,
    /// At this time (ns) the group's tasks change to this nice level (as
    /// `renice` does; a task that waits keeps its key until its next enqueue).
    pub renice: Option<(u64, i32)>,
    /// Allowed CPUs.
    pub affinity: Affinity,
}

impl TaskGroup {
    /// `count` tasks of `class` doing `behavior` at nice 0 on every CPU.
    pub const fn new(class: TaskClass, count: Count, behavior: Behavior) -> Self {
        Self { class, count, behavior, nice: 0, sched_idle: false, renice: None, affinity: Affinity::All }
    }

    /// The same group under `SCHED_IDLE` (weight [`sched_idle_weight`]).
    pub const fn sched_idle(mut self) -> Self {
        self.sched_idle = true;
        self
    }

    /// The same group, its tasks reniced to `nice` at `at_ns`.
    pub const fn renice(mut self, at_ns: u64, nice: i32) -> Self {
        self.renice = Some((at_ns, nice));
        self
    }

    /// The weight of the group's tasks at nice level `nice`.
    pub(crate) fn weight_at(&self, nice: i32) -> u64 {
        if self.sched_idle {
            sched_idle_weight()
        } else {
            nice_to_weight(nice)
        }
    }

    /// The same group at nice level `nice`.
    pub const fn nice(mut self, nice: i32) -> Self {
        self.nice = nice;
        self
    }

    /// The same group restricted to `affinity`.
    pub const fn affinity(mut self, affinity: Affinity) -> Self {
        self.affinity = affinity;
        self
    }
}

/// A workload group that cannot run on the configured machine.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum WorkloadError {
    /// A nice level outside -20..=19.
    #[error("nice {0} outside -20..=19")]
    Nice(i32),
    /// An affinity range that is empty or names CPUs the machine lacks.
    #[error("affinity CPUs {first}..{end} not within the machine's {nr_cpus} CPUs", end = u64::from(*first) + u64::from(*count))]
    Affinity {
        /// First CPU of the range.
        first: u32,
        /// Length of the range.
        count: u32,
        /// CPUs of the machine.
        nr_cpus: u32,
    },
    /// A zero duration where a positive one is needed (it would make a task
    /// loop without time passing).
    #[error("{0} must be > 0")]
    ZeroDuration(&'static str),
    /// A count of zero where at least one is needed.
    #[error("{0} must be >= 1")]
    ZeroCount(&'static str),
}

impl TaskGroup {
    /// Checks the group against a machine with `nr_cpus` CPUs.
    pub fn validate(&self, nr_cpus: u32) -> Result<(), WorkloadError> {
        if !(-20..=19).contains(&self.nice) {
            return Err(WorkloadError::Nice(self.nice));
        }
        if let Some((_, nice)) = self.renice {
            if !(-20..=19).contains(&nice) {
                return Err(WorkloadError::Nice(nice));
            }
        }
        if let Affinity::Range { first, count } = self.affinity {
            if count == 0 || u64::from(first) + u64::from(count) > u64::from(nr_cpus) {
                return Err(WorkloadError::Affinity { first, count, nr_cpus });
            }
        }
        match self.behavior {
            Behavior::Hog => Ok(()),
            Behavior::Periodic { run_ns: 0, .. } => Err(WorkloadError::ZeroDuration("periodic run_ns")),
            Behavior::Periodic { .. } => Ok(()),
            Behavior::PipePair { run_ns: 0 } => Err(WorkloadError::ZeroDuration("pipe run_ns")),
            Behavior::PipePair { .. } => Ok(()),
            Behavior::PipeGroup { message_ns: 0, .. } => Err(WorkloadError::ZeroDuration("pipe group message_ns")),
            Behavior::PipeGroup { senders: 0, .. } => Err(WorkloadError::ZeroCount("pipe group senders")),
            Behavior::PipeGroup { receivers: 0, .. } => Err(WorkloadError::ZeroCount("pipe group receivers")),
            Behavior::PipeGroup { capacity: 0, .. } => Err(WorkloadError::ZeroCount("pipe group capacity")),
            Behavior::PipeGroup { .. } => Ok(()),
            Behavior::ForkBurst { child_run_ns: 0, .. } => Err(WorkloadError::ZeroDuration("fork child_run_ns")),
            Behavior::ForkBurst { period_ns: 0, .. } => Err(WorkloadError::ZeroDuration("fork period_ns")),
            Behavior::ForkBurst { .. } => Ok(()),
        }
    }
}

/// A workload: a named preset, a custom list of groups, or a recording's
/// tasks replayed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Workload {
    /// A preset from [`PRESETS`].
    Preset(Preset),
    /// Any groups (for tests and experiments).
    Custom(Vec<TaskGroup>),
    /// The tasks of a recording, each following its script
    /// ([`Replay::from_recording`]); the machine must have the recording's
    /// CPU count.
    Replay(Arc<Replay>),
}

impl Workload {
    /// The name shown in reports: the preset's, `"custom"` or `"replay"`.
    pub fn name(&self) -> &'static str {
        match self {
            Workload::Preset(p) => p.name(),
            Workload::Custom(_) => "custom",
            Workload::Replay(_) => "replay",
        }
    }

    /// The workload's groups (none for a replay: its tasks are scripts).
    pub fn groups(&self) -> &[TaskGroup] {
        match self {
            Workload::Preset(p) => p.def().groups,
            Workload::Custom(g) => g,
            Workload::Replay(_) => &[],
        }
    }

    /// The replayed recording, if this is a replay.
    pub fn replay(&self) -> Option<&Arc<Replay>> {
        match self {
            Workload::Replay(r) => Some(r),
            _ => None,
        }
    }
}

impl Default for Workload {
    fn default() -> Self {
        Workload::Preset(Preset::Mixed)
    }
}

impl From<Preset> for Workload {
    fn from(p: Preset) -> Self {
        Workload::Preset(p)
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A named workload preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Preset {
    /// Some of everything below.
    Mixed,
    /// Twice as many CPU hogs as CPUs.
    Hogs,
    /// Periodic tasks only (light load).
    Interactive,
    /// Pipe ping-pong pairs.
    Pipes,
    /// Fork bursts.
    Fork,
    /// Pinned and half-machine tasks.
    Affinity,
    /// Hogs at four nice levels.
    Nice,
    /// `cargo xtask bench-vm`'s hackbench: its groups of senders and receivers.
    Hackbench,
    /// `cargo xtask bench-vm`'s latency workload: cyclictest's two threads
    /// among one hog per CPU. Its measuring thread, a 1 ms periodic task
    /// pinned to CPU 0 (its recordings show a one-CPU mask), is the
    /// `affinity` class; its main thread, free to move, wakes every 10 ms
    /// for a moment (rt-tests' `main()` loops on `usleep(10000)` printing
    /// the threads' statistics), the `interactive` class.
    Cyclictest,
}

/// One row of [`PRESETS`].
#[derive(Debug)]
pub struct PresetDef {
    /// The preset.
    pub preset: Preset,
    /// Its name on the command line and in reports.
    pub name: &'static str,
    /// One line saying what it is.
    pub about: &'static str,
    /// Its groups (counts are for 8 CPUs and scale with the CPU count).
    pub groups: &'static [TaskGroup],
}

use Behavior::{ForkBurst, Hog, Periodic, PipeGroup, PipePair};
use Count::PerEightCpus as Per8;

const INTERACTIVE: Behavior = Periodic { run_ns: 500_000, sleep_ns: 4_500_000 };
const SHORT_PERIODIC: Behavior = Periodic { run_ns: 100_000, sleep_ns: 1_000_000 };
const PINNED_PERIODIC: Behavior = Periodic { run_ns: 300_000, sleep_ns: 2_000_000 };
const PIPE: Behavior = PipePair { run_ns: 50_000 };
/// One group of `hackbench -g N` (pipe mode): 20 senders, 20 receivers, a
/// 100-byte message per write and per read. A pipe holds 64 KiB, 16 pages
/// into which the kernel's `pipe_write()` merges small writes: 40 messages
/// a page. A write or a read costs about 3 us: a TCG guest's hackbench
/// (`-g 4 -l 200`, 320,000 messages) spent about 1.9 s of CPU beyond its
/// context switches (docs/simulator.md, "throughput").
const HACKBENCH_GROUP: Behavior = PipeGroup { senders: 20, receivers: 20, message_ns: 3_000, capacity: 640 };
/// cyclictest's measuring thread at `-i 1000`: it reads the clock and
/// sleeps until the next period.
const CYCLICTEST_MEASURING: Behavior = Periodic { run_ns: 20_000, sleep_ns: 1_000_000 };
/// cyclictest's main thread: `usleep(10000)` between two rounds of printing
/// statistics (nothing with `-q`). In recordings of the guest's latency
/// load (`scx_relay record`, TCG) it ran 70 to 95 µs (medians) per wakeup
/// and slept 11.4 and 12.9 ms at the median (its timer's late delivery
/// included, which the model leaves out). Without it the hogs on the other
/// CPUs ran on untouched, and under `local` (before its rule 4) the pinned
/// thread waited 0.36 ms at the median on the guest's costs where the
/// guest's waited 16 ms (docs/simulator.md, "Does it rank policies as the
/// kernel does?").
const CYCLICTEST_MAIN: Behavior = Periodic { run_ns: 80_000, sleep_ns: 10_000_000 };
const FORK: Behavior = ForkBurst { children: 8, child_run_ns: 200_000, period_ns: 10_000_000 };

/// Every preset: name, what it is, its groups. The one place presets are defined.
pub const PRESETS: &[PresetDef] = &[
    PresetDef {
        preset: Preset::Mixed,
        name: "mixed",
        about: "hogs, nice hogs, interactive, pipes, fork bursts and pinned tasks together (overloaded)",
        groups: &[
            TaskGroup::new(TaskClass::Hog, Per8(4), Hog),
            TaskGroup::new(TaskClass::Nice, Per8(2), Hog).nice(5),
            TaskGroup::new(TaskClass::Nice, Per8(2), Hog).nice(-5),
            TaskGroup::new(TaskClass::Interactive, Per8(8), INTERACTIVE),
            TaskGroup::new(TaskClass::Pipe, Per8(2), PIPE),
            TaskGroup::new(TaskClass::Fork, Per8(1), FORK),
            TaskGroup::new(TaskClass::Affinity, Per8(4), PINNED_PERIODIC).affinity(Affinity::PinnedSpread),
            TaskGroup::new(TaskClass::Affinity, Per8(2), Hog).affinity(Affinity::HalfSpread),
        ],
    },
    PresetDef {
        preset: Preset::Hogs,
        name: "hogs",
        about: "two CPU hogs per CPU at nice 0",
        groups: &[TaskGroup::new(TaskClass::Hog, Per8(16), Hog)],
    },
    PresetDef {
        preset: Preset::Interactive,
        name: "interactive",
        about: "periodic tasks (0.5 ms every 5 ms, 0.1 ms every 1.1 ms), about 30 % load",
        groups: &[
            TaskGroup::new(TaskClass::Interactive, Per8(16), INTERACTIVE),
            TaskGroup::new(TaskClass::Interactive, Per8(8), SHORT_PERIODIC),
        ],
    },
    PresetDef {
        preset: Preset::Pipes,
        name: "pipes",
        about: "pipe ping-pong pairs, 50 us per message, one pair per CPU",
        groups: &[TaskGroup::new(TaskClass::Pipe, Per8(8), PIPE)],
    },
    PresetDef {
        preset: Preset::Fork,
        name: "fork",
        about: "fork bursts: parents spawn 8 children of 0.2 ms every 10 ms",
        groups: &[TaskGroup::new(TaskClass::Fork, Per8(4), FORK)],
    },
    PresetDef {
        preset: Preset::Affinity,
        name: "affinity",
        about: "a pinned hog and a pinned periodic task per CPU, plus half-machine hogs",
        groups: &[
            TaskGroup::new(TaskClass::Affinity, Per8(8), Hog).affinity(Affinity::PinnedSpread),
            TaskGroup::new(TaskClass::Affinity, Per8(8), PINNED_PERIODIC).affinity(Affinity::PinnedSpread),
            TaskGroup::new(TaskClass::Affinity, Per8(4), Hog).affinity(Affinity::HalfSpread),
        ],
    },
    PresetDef {
        preset: Preset::Nice,
        name: "nice",
        about: "hogs at nice -5, 0, 5 and 10, two per CPU in all",
        groups: &[
            TaskGroup::new(TaskClass::Nice, Per8(4), Hog).nice(-5),
            TaskGroup::new(TaskClass::Hog, Per8(4), Hog),
            TaskGroup::new(TaskClass::Nice, Per8(4), Hog).nice(5),
            TaskGroup::new(TaskClass::Nice, Per8(4), Hog).nice(10),
        ],
    },
    // The two below model workloads of `cargo xtask bench-vm`, so that its
    // simulator-fidelity table compares like with like (docs/simulator.md).
    PresetDef {
        preset: Preset::Hackbench,
        name: "hackbench",
        about: "hackbench -g 4: 4 groups of 20 senders writing to 20 receivers' pipes (640 messages each), 3 us per write and per read (160 tasks), any CPU count",
        groups: &[TaskGroup::new(TaskClass::Pipe, Count::Fixed(4), HACKBENCH_GROUP)],
    },
    PresetDef {
        preset: Preset::Cyclictest,
        name: "cyclictest",
        about: "cyclictest -i 1000 under stress-ng --cpu: its measuring thread (affinity: 20 us every 1 ms, pinned to CPU 0) and main thread (interactive: 80 us every 10 ms, any CPU), one hog per CPU",
        groups: &[
            TaskGroup::new(TaskClass::Affinity, Count::Fixed(1), CYCLICTEST_MEASURING)
                .affinity(Affinity::Range { first: 0, count: 1 }),
            TaskGroup::new(TaskClass::Interactive, Count::Fixed(1), CYCLICTEST_MAIN),
            TaskGroup::new(TaskClass::Hog, Per8(8), Hog),
        ],
    },
];

impl Preset {
    /// The preset's row in [`PRESETS`].
    pub fn def(self) -> &'static PresetDef {
        // Every variant has a row (a unit test checks it); the fallback keeps
        // this total without a panic.
        PRESETS.iter().find(|d| d.preset == self).unwrap_or(&PRESETS[0])
    }

    /// The preset's name.
    pub fn name(self) -> &'static str {
        self.def().name
    }

    /// Every preset name, in table order.
    pub fn names() -> impl Iterator<Item = &'static str> {
        PRESETS.iter().map(|d| d.name)
    }
}

/// A workload name that is not a preset.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("unknown workload '{name}' (valid: {valid})", valid = Preset::names().collect::<Vec<_>>().join(", "))]
pub struct UnknownWorkload {
    /// The name given.
    pub name: String,
}

impl FromStr for Preset {
    type Err = UnknownWorkload;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PRESETS.iter().find(|d| d.name == s).map(|d| d.preset).ok_or_else(|| UnknownWorkload { name: s.to_owned() })
    }
}

impl FromStr for Workload {
    type Err = UnknownWorkload;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Workload::Preset)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Weights are the fair class's, exactly: nice 0 is 1024, the ends of
    /// the range are clamped, SCHED_IDLE is 3.
    #[test]
    fn nice_weights_follow_the_kernel_table() {
        assert_eq!(nice_to_weight(0), 1024);
        assert_eq!(nice_to_weight(5), 335);
        assert_eq!(nice_to_weight(-5), 3121);
        assert_eq!(nice_to_weight(10), 110);
        assert_eq!(nice_to_weight(15), 36);
        assert_eq!(nice_to_weight(-20), 88761);
        assert_eq!(nice_to_weight(19), 15);
        assert_eq!(nice_to_weight(99), 15);
        assert_eq!(sched_idle_weight(), 3);
    }

    /// Every preset variant has exactly one row, names parse back, and every preset is valid on 1 and 64 CPUs.
    #[test]
    fn preset_table_is_complete() {
        let all = [
            Preset::Mixed,
            Preset::Hogs,
            Preset::Interactive,
            Preset::Pipes,
            Preset::Fork,
            Preset::Affinity,
            Preset::Nice,
            Preset::Hackbench,
            Preset::Cyclictest,
        ];
        assert_eq!(PRESETS.len(), all.len());
        for p in all {
            assert_eq!(PRESETS.iter().filter(|d| d.preset == p).count(), 1);
            assert_eq!(p.name().parse::<Preset>(), Ok(p));
            for g in p.def().groups {
                g.validate(1).unwrap();
                g.validate(64).unwrap();
            }
        }
    }

    /// An unknown name's error lists every valid name.
    #[test]
    fn unknown_name_lists_choices() {
        let e = "nope".parse::<Workload>().unwrap_err().to_string();
        assert_eq!(e, "unknown workload 'nope' (valid: mixed, hogs, interactive, pipes, fork, affinity, nice, hackbench, cyclictest)");
    }

    /// Counts scale with the CPU count and never vanish.
    #[test]
    fn counts_scale() {
        assert_eq!(Count::PerEightCpus(4).resolve(8), 4);
        assert_eq!(Count::PerEightCpus(4).resolve(2), 1);
        assert_eq!(Count::PerEightCpus(4).resolve(32), 16);
        assert_eq!(Count::PerEightCpus(0).resolve(32), 0);
        assert_eq!(Count::Fixed(3).resolve(64), 3);
    }
}
