//! `routing`: composition. Tasks are sent to sub-policies by matchers, each
//! sub-policy with its own CPUs and CPU share; the configuration is a TOML
//! file ([`RoutingConfig`], see [`config`]).
//!
//! **Routing.** Routes are tried in order; a task goes to the first route
//! whose matchers all match, else to the default group. Matchers:
//! - `comm`: a pattern (`*`, `?`) over the task's command name;
//! - `tgid`: process ids;
//! - `nice`: a nice level or range, read from the task's own weight
//!   (`task_weight`, the nearest level of the kernel's weight table; its
//!   cgroups do not change it);
//! - `cgroup`: a pattern over the task's cgroup v2 path. The task record
//!   carries the task's cgroup id at that hand-off
//!   ([`QueuedTask::cgid`](scheduler_core::QueuedTask::cgid)), so a task
//!   that moves to another cgroup is routed by the new one from its next
//!   hand-off. The router looks the id up in a [`CgroupReader`]'s table
//!   ([`cgroups`]: a few atomic loads, no path, no system call), which a
//!   resolver off the loop fills (`scx_relay` walks the cgroup2 mount);
//!   an id not in it yet matches no cgroup route and is counted. Without a
//!   table (the simulator), cgroup matchers never match;
//! - `pinned`: whether the task may run on a single CPU only.
//!
//! **CPU sets.** A decision of a group with a CPU set that names a CPU
//! outside the set, or no CPU, is placed on a CPU of the set: an idle one
//! with an empty queue, else the one with the shortest queue (ties in turn).
//! The task's own affinity still wins: the dispatcher bounces a decision for
//! a CPU the task may not use. A CPU set binds this policy's decisions only:
//! the dispatcher's fast path (a wakeup onto an idle CPU whose queues are
//! empty never reaches user space) and its stall fallback may run a task
//! elsewhere; for a hard guarantee use the tasks' affinity (`taskset`, a
//! cpuset cgroup). With `local` as a sub-policy, shares act only among the
//! tasks that share a CPU (it keeps tasks on their CPU).
//!
//! **Shares.** Each group has a virtual clock that advances by its tasks'
//! CPU time × 1024 / share', the share normalised to the runnable weight
//! (`share' = share × W / S`, `W` the runnable weight and `S` the shares of
//! the groups with runnable tasks whose sub-policy orders by weighted
//! virtual time — all but `fifo`; a task counts in its group while it was
//! enqueued in the last 250 ms; `share' = share` with only `fifo` groups,
//! whose keys carry no time of their own: the unit is the clock's alone). A decision's key is its
//! group's clock plus how far the sub-policy put the task from where the
//! sub-policy's keys stand (the largest key of a task that has run since),
//! that offset kept within `-2 slice ..= 6 slice` and scaled by `W_g /
//! share'` (`W_g` the group's runnable weight: the rate of the group's
//! clock over its tasks' weighted virtual time, 1 for a lone group). So
//! the dispatcher's queues interleave the groups by share, and within a
//! group the sub-policy's order and weights hold (with `deadline`, `eevdf`,
//! `interactive` or `local` inside, CPU-bound tasks get CPU by weight
//! within their group's share; `fifo` stays weight-blind). (Before, every decision carried the bare group
//! clock, which advanced without the task's weight: inside a group weights
//! and the sub-policy's order were lost.) A group that was idle (no task
//! arrived for 100 ms) does not bank credit: when a task arrives its clock
//! is raised to one slice behind the slowest clock of the groups still
//! active.
//!
//! **Vtimes.** Sub-policies keep state in the vtime that round-trips
//! through the kernel; the router remembers each task's last sub-policy
//! vtime and gives it back when the task returns with the vtime the router
//! sent (for a task seen for the first time, or placed by the dispatcher
//! meanwhile, the sub-policy gets vtime 0: "never set").

pub mod cgroups;
pub mod config;
pub mod glob;

use scheduler_core::{
    task::{PRIO_TO_WEIGHT, WEIGHT_DEFAULT},
    Decision, Policy, QueuedTask, SchedContext, Target,
};

pub use cgroups::{cgroup_table, CgroupReader, CgroupWriter};
pub use config::{ConfigError, GroupSpec, RouteSpec, RoutingConfig};
pub use glob::Glob;

use crate::{
    pid_map::{PidMap, TASK_TABLE_CAPACITY},
    runnable::Runnable,
    vclock::AHEAD_SLICES,
    PolicyConfig, UnknownPolicy,
};

/// Most routes in a configuration (plus the default group).
pub const MAX_ROUTES: usize = 63;
/// A group none of whose tasks arrived for this long is idle (ns).
const IDLE_NS: u64 = 100_000_000;
/// A task not enqueued for this long no longer counts in its group's
/// runnable weight (it sleeps; a hog alone on its CPU comes back at least
/// every slice, at most `AHEAD_SLICES` default slices).
const AWAY_NS: u64 = 250_000_000;

/// The nice level whose weight ([`PRIO_TO_WEIGHT`]) is nearest to
/// `weight` (a task's own weight: exact for every level); ties go to the
/// lower level.
pub fn weight_to_nice(weight: u64) -> i32 {
    let mut best = (u64::MAX, 0);
    for (i, &w) in PRIO_TO_WEIGHT.iter().enumerate() {
        let d = w.abs_diff(weight);
        if d < best.0 {
            best = (d, i as i32 - 20);
        }
    }
    best.1
}

/// A set of CPUs (a bitmap).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CpuSet {
    words: Vec<u64>,
}

impl CpuSet {
    /// Adds `cpu`.
    pub fn insert(&mut self, cpu: u32) {
        let w = cpu as usize / 64;
        if self.words.len() <= w {
            self.words.resize(w + 1, 0);
        }
        self.words[w] |= 1 << (cpu % 64);
    }

    /// Whether `cpu` is in the set.
    pub fn contains(&self, cpu: u32) -> bool {
        self.words.get(cpu as usize / 64).is_some_and(|w| w & (1 << (cpu % 64)) != 0)
    }

    /// Number of CPUs in the set.
    pub fn len(&self) -> u32 {
        self.words.iter().map(|w| w.count_ones()).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The CPUs, in order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words
            .iter()
            .enumerate()
            .flat_map(|(i, &w)| (0..64).filter(move |b| w & (1u64 << b) != 0).map(move |b| i as u32 * 64 + b))
    }
}

/// What a route matches; every matcher given must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matcher {
    /// Pattern over the command name.
    pub comm: Option<Glob>,
    /// Process ids (empty = any).
    pub tgids: Vec<i32>,
    /// Inclusive nice range.
    pub nice: Option<(i32, i32)>,
    /// Pattern over the cgroup v2 path.
    pub cgroup: Option<Glob>,
    /// Single-CPU affinity (true) or not (false).
    pub pinned: Option<bool>,
}

impl Matcher {
    /// Whether no matcher is given.
    pub fn is_empty(&self) -> bool {
        self.comm.is_none()
            && self.tgids.is_empty()
            && self.nice.is_none()
            && self.cgroup.is_none()
            && self.pinned.is_none()
    }

    /// Whether `task` matches; `cgroup_matches` says whether the cgroup
    /// pattern (if any) matches the task's cgroup.
    pub fn matches(&self, task: &QueuedTask, cgroup_matches: bool) -> bool {
        let comm_len = task.comm.iter().position(|&b| b == 0).unwrap_or(task.comm.len());
        self.comm.as_ref().is_none_or(|g| g.matches(&task.comm[..comm_len]))
            && (self.tgids.is_empty() || self.tgids.contains(&task.tgid))
            && self.nice.is_none_or(|(lo, hi)| (lo..=hi).contains(&weight_to_nice(task.task_weight)))
            && (self.cgroup.is_none() || cgroup_matches)
            && self.pinned.is_none_or(|p| p == (task.nr_cpus_allowed == 1))
    }
}

/// One sub-policy.
struct Group {
    name: String,
    policy: Box<dyn Policy>,
    cpus: Option<CpuSet>,
    share: u64,
    /// Virtual clock (ns of CPU time × 1024 / share).
    clock: u64,
    /// Where the sub-policy's keys stand: the largest key it gave a task
    /// that has run since (0 = none yet).
    sub_now: u64,
    /// Whether the sub-policy's keys are weighted virtual time (all but `fifo`).
    weighted: bool,
    /// Where the next CPU-set search starts.
    rr: u32,
    /// When a task last joined it (ns), if ever.
    last_enqueue_ns: Option<u64>,
}

/// What the router remembers of a task between its runs.
#[derive(Clone, Copy, Debug, Default)]
struct Translation {
    /// The sub-policy's vtime of its last decision.
    sub_vtime: u64,
    /// The vtime the router sent instead.
    sent_vtime: u64,
    /// The group that decided it.
    group: u8,
}

/// Routes tasks to sub-policies (see the module docs).
pub struct Router {
    /// The routes' groups, then the default group (last).
    groups: Vec<Group>,
    matchers: Vec<Matcher>,
    /// Whether any route has a cgroup matcher.
    uses_cgroups: bool,
    /// Cgroup id -> which routes' cgroup patterns match (see [`cgroups`]).
    cgroups: Option<CgroupReader>,
    translations: PidMap<Translation>,
    /// Runnable weight per group.
    runnable: Runnable,
    slice_ns: u64,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Router {
    /// The router of `config`; sub-policies are built with `cfg`; `cgroups`
    /// is the reader of a table made for the same `config`
    /// ([`cgroup_table`]), none where cgroup matchers never match.
    pub fn new(
        config: &RoutingConfig,
        cfg: &PolicyConfig,
        cgroups: Option<CgroupReader>,
    ) -> Result<Self, UnknownPolicy> {
        let specs = config.routes.iter().map(|r| &r.group).chain(std::iter::once(&config.default));
        let groups = specs
            .map(|g| {
                Ok(Group {
                    name: g.name.clone(),
                    policy: crate::by_name(&g.policy, cfg)?,
                    cpus: g.cpus.clone(),
                    share: g.share.max(1),
                    clock: 0,
                    sub_now: 0,
                    weighted: g.policy != "fifo",
                    rr: 0,
                    last_enqueue_ns: None,
                })
            })
            .collect::<Result<Vec<_>, UnknownPolicy>>()?;
        let runnable = Runnable::new(groups.len(), AWAY_NS);
        Ok(Self {
            groups,
            matchers: config.routes.iter().take(MAX_ROUTES).map(|r| r.matcher.clone()).collect(),
            uses_cgroups: config.uses_cgroups(),
            cgroups,
            translations: PidMap::with_capacity(TASK_TABLE_CAPACITY),
            runnable,
            slice_ns: cfg.slice_ns,
        })
    }

    /// `routing (audio: interactive, default: deadline)`.
    pub fn describe(&self) -> String {
        let groups: Vec<String> = self.groups.iter().map(|g| format!("{}: {}", g.name, g.policy.name())).collect();
        format!("routing ({})", groups.join(", "))
    }

    /// The index of the group `task` goes to.
    pub fn route(&mut self, task: &QueuedTask) -> usize {
        let bits = match self.cgroups.as_mut() {
            Some(c) if self.uses_cgroups => c.route_bits(task.cgid),
            _ => 0,
        };
        self.matchers
            .iter()
            .enumerate()
            .find(|(i, m)| m.matches(task, bits & (1 << i) != 0))
            .map_or(self.groups.len() - 1, |(i, _)| i)
    }

    /// The key of a decision of group `g` whose sub-policy key is
    /// `sub_key`: the group's clock plus how far the sub-policy put the task
    /// from where its keys stand — that offset kept within `-2 slice ..=
    /// (AHEAD_SLICES + 1) slice` and scaled to the group's clock (see the
    /// module docs).
    fn key(&mut self, g: usize, sub_key: u64) -> u64 {
        let (num, den) = self.share_scale(g);
        let group = &mut self.groups[g];
        if group.sub_now == 0 {
            group.sub_now = sub_key;
        }
        let behind = i128::from(self.slice_ns) * 2;
        let ahead = i128::from(self.slice_ns) * i128::from(AHEAD_SLICES + 1);
        let offset = (i128::from(sub_key) - i128::from(group.sub_now)).clamp(-behind, ahead);
        (i128::from(group.clock) + offset * num as i128 / den as i128).max(1) as u64
    }

    /// `W_g / share'_g` as (numerator, denominator): how much faster group
    /// `g`'s clock runs than its tasks' weighted virtual time (1 for a lone
    /// group, or groups whose runnable weights match their shares).
    fn share_scale(&self, g: usize) -> (u128, u128) {
        let (w_all, s_all) = self.totals();
        let w_g = u128::from(self.runnable.of(g));
        if w_all == 0 || w_g == 0 {
            return (1, 1);
        }
        (w_g * s_all, u128::from(self.groups[g].share) * w_all)
    }

    /// (`W`, `S`): the runnable weight of the groups whose sub-policy keys
    /// are weighted virtual time, and their shares (groups with runnable
    /// tasks only).
    fn totals(&self) -> (u128, u128) {
        let (mut w_all, mut s_all) = (0u128, 0u128);
        let groups = self.groups.iter().zip(self.runnable.all());
        for (group, &w) in groups.filter(|(g, &w)| w > 0 && g.weighted) {
            w_all += u128::from(w);
            s_all += u128::from(group.share);
        }
        (w_all, s_all)
    }

    /// What a run of `run_ns` by a task of group `g` adds to the group's
    /// clock: `run × 1024 / share'`, the share normalised to the runnable
    /// weight, `share' = share × W / S` (see [`Router::totals`]; `share' =
    /// share` when only `fifo` groups have runnable tasks) — so a lone
    /// group's clock runs at the pace of its tasks' weighted virtual time,
    /// and its keys at the sub-policy's.
    fn group_charge(&self, g: usize, run_ns: u64) -> u64 {
        let (w_all, s_all) = self.totals();
        let share = u128::from(self.groups[g].share);
        let (num, den) = if w_all == 0 || s_all == 0 { (1, share) } else { (s_all, share * w_all) };
        (u128::from(run_ns) * u128::from(WEIGHT_DEFAULT) * num / den).min(u128::from(u64::MAX)) as u64
    }

    /// A CPU of group `g`'s set for a decision that named `target`.
    fn place(&mut self, g: usize, target: Target, ctx: &SchedContext<'_>) -> Target {
        let group = &mut self.groups[g];
        let Some(set) = &group.cpus else { return target };
        if matches!(target, Target::Cpu(c) if set.contains(c)) {
            return target;
        }
        let n = ctx.cpus.nr_cpus();
        let k = set.len().max(1);
        let start = group.rr % k;
        group.rr = group.rr.wrapping_add(1);
        // An idle CPU with an empty queue, else the shortest queue; among
        // equals, the first at or after the `start`-th of the set (taking turns).
        let mut best: Option<(bool, u32, u32, u32)> = None;
        for (i, c) in set.iter().enumerate().filter(|&(_, c)| c < n) {
            let rank = (i as u32 + k - start) % k;
            let key = (!(ctx.cpus.is_idle(c) && ctx.cpus.queue_depth(c) == 0), ctx.cpus.queue_depth(c), rank, c);
            if best.is_none_or(|b| key < b) {
                best = Some(key);
            }
        }
        best.map_or(target, |(.., c)| Target::Cpu(c))
    }
}

impl Policy for Router {
    fn name(&self) -> &str {
        "routing"
    }

    fn enqueue(&mut self, task: &QueuedTask, ctx: &SchedContext<'_>) {
        let g = self.route(task);
        let now = ctx.now_ns;
        let idle = self.groups[g].last_enqueue_ns.is_none_or(|t| now.saturating_sub(t) > IDLE_NS);
        if idle {
            // Back from idle: no credit banked while away. Catch up to one
            // slice behind the slowest clock of the groups still active.
            let active = self
                .groups
                .iter()
                .enumerate()
                .filter(|&(i, o)| i != g && o.last_enqueue_ns.is_some_and(|t| now.saturating_sub(t) <= IDLE_NS));
            if let Some(floor) = active.map(|(_, o)| o.clock).min() {
                let group = &mut self.groups[g];
                group.clock = group.clock.max(floor.saturating_sub(self.slice_ns));
            }
        }
        self.runnable.count(task.pid, g, task.weight, now);
        let charge = self.group_charge(g, task.last_run_ns());
        let group = &mut self.groups[g];
        group.last_enqueue_ns = Some(now);
        group.clock = group.clock.saturating_add(charge);
        let mut t = *task;
        t.vtime = match self.translations.get(task.pid) {
            Some(tr) if tr.sent_vtime == task.vtime && usize::from(tr.group) == g => {
                if task.last_run_ns() > 0 {
                    group.sub_now = group.sub_now.max(tr.sub_vtime);
                }
                tr.sub_vtime
            }
            _ => 0,
        };
        self.groups[g].policy.enqueue(&t, ctx);
    }

    fn dispatch(&mut self, ctx: &SchedContext<'_>) -> Option<Decision> {
        let mut tried = 0u64;
        loop {
            let g = (0..self.groups.len())
                .filter(|&g| tried & (1 << g) == 0 && self.groups[g].policy.pending() > 0)
                .min_by_key(|&g| (self.groups[g].clock, g))?;
            let Some(mut d) = self.groups[g].policy.dispatch(ctx) else {
                tried |= 1 << g;
                continue;
            };
            let key = self.key(g, d.vtime);
            *self.translations.entry(d.pid).value_mut() =
                Translation { sub_vtime: d.vtime, sent_vtime: key, group: g as u8 };
            d.vtime = key;
            d.target = self.place(g, d.target, ctx);
            return Some(d);
        }
    }

    fn pending(&self) -> usize {
        self.groups.iter().map(|g| g.policy.pending()).sum()
    }

    fn take_all(&mut self, out: &mut Vec<QueuedTask>) {
        for g in &mut self.groups {
            g.policy.take_all(out);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    };

    use scheduler_core::{
        task::{nice_to_weight, WEIGHT_IDLEPRIO, WEIGHT_MAX},
        CpuView, Topology,
    };

    use super::*;

    fn busy(n: u32) -> CpuView {
        let mut v = CpuView::new(Topology::uniform(n, 1, n));
        for c in 0..n {
            v.set(c, false, 1, 1);
        }
        v
    }

    fn task(pid: i32, comm: &str) -> QueuedTask {
        let mut t = QueuedTask::new(pid, 0);
        t.comm[..comm.len()].copy_from_slice(comm.as_bytes());
        t.nr_cpus_allowed = 8;
        t
    }

    fn router(text: &str, cgroups: Option<CgroupReader>) -> Router {
        Router::new(&RoutingConfig::parse(text).unwrap(), &PolicyConfig::default(), cgroups).unwrap()
    }

    /// A router of `text` over a cgroup table, and the table's writer (the
    /// resolver's side) and unresolved count.
    fn router_with_cgroups(text: &str) -> (Router, CgroupWriter, Arc<AtomicU64>) {
        let config = RoutingConfig::parse(text).unwrap();
        let unresolved = Arc::new(AtomicU64::new(0));
        let (reader, writer) = cgroup_table(&config, unresolved.clone());
        (Router::new(&config, &PolicyConfig::default(), Some(reader)).unwrap(), writer, unresolved)
    }

    const ROUTES: &str = r#"
[default]
policy = "fifo"
[[route]]
policy = "interactive"
comm = "game*"
[[route]]
policy = "eevdf"
tgid = [7, 8]
[[route]]
policy = "local"
nice = [-20, -1]
[[route]]
policy = "deadline"
pinned = true
[[route]]
policy = "fifo"
comm = "never"
cgroup = "/x"
"#;

    /// Each matcher routes its tasks; the first matching route wins; the
    /// rest go to the default group.
    #[test]
    fn routes_by_each_matcher() {
        let mut r = router(ROUTES, None);
        assert_eq!(r.route(&task(1, "game-main")), 0);
        let mut game7 = task(7, "game-x");
        game7.tgid = 7;
        assert_eq!(r.route(&game7), 0, "first route wins");
        let mut t7 = task(70, "worker");
        t7.tgid = 7;
        assert_eq!(r.route(&t7), 1);
        let mut heavy = task(2, "build");
        heavy.task_weight = nice_to_weight(-5);
        assert_eq!(r.route(&heavy), 2, "nice -5");
        let mut in_heavy_cgroup = task(6, "build");
        in_heavy_cgroup.weight = nice_to_weight(-5);
        assert_eq!(r.route(&in_heavy_cgroup), 5, "a cgroup's share is not a nice level");
        let mut pinned = task(3, "kthreadish");
        pinned.nr_cpus_allowed = 1;
        assert_eq!(r.route(&pinned), 3);
        assert_eq!(r.route(&task(4, "never")), 5, "cgroup matcher without a table never matches");
        assert_eq!(r.route(&task(5, "bash")), 5);
        assert_eq!(r.describe(), "routing (route 1: interactive, route 2: eevdf, route 3: local, route 4: deadline, route 5: fifo, default: fifo)");
    }

    /// Weights map back to their nice level, and near weights to the nearest level.
    #[test]
    fn nice_from_weight() {
        for nice in -20..=19 {
            assert_eq!(weight_to_nice(nice_to_weight(nice)), nice, "nice {nice}");
        }
        assert_eq!(weight_to_nice(WEIGHT_DEFAULT), 0);
        assert_eq!(weight_to_nice(1000), 0);
        assert_eq!(weight_to_nice(3000), -5);
        assert_eq!(weight_to_nice(WEIGHT_MAX), -20);
        assert_eq!(weight_to_nice(1), 19);
        assert_eq!(weight_to_nice(WEIGHT_IDLEPRIO), 19);
    }

    const BY_CGROUP: &str = "[[route]]\npolicy = \"interactive\"\ncgroup = \"/system.slice/*\"\n";

    /// A task is routed by the cgroup id its record carries, looked up in
    /// the table: threads of one process in different cgroups go different
    /// ways, and a task that moves to another cgroup follows it at its next
    /// hand-off (no per-process memory).
    #[test]
    fn cgroup_routes_follow_the_cgroup_id() {
        let (mut r, mut w, unresolved) = router_with_cgroups(BY_CGROUP);
        assert!(w.insert(10, w.bits_of(b"/system.slice/audio.service")));
        assert!(w.insert(20, w.bits_of(b"/user.slice")));
        let mut t = task(100, "thread");
        t.tgid = 7;
        t.cgid = 10;
        assert_eq!(r.route(&t), 0);
        let mut sibling = t;
        sibling.pid = 101;
        sibling.cgid = 20;
        assert_eq!(r.route(&sibling), 1, "another thread of the process, in another cgroup");
        t.cgid = 20;
        assert_eq!(r.route(&t), 1, "moved out of system.slice");
        t.cgid = 10;
        assert_eq!(r.route(&t), 0, "and back");
        assert_eq!(unresolved.load(Ordering::Relaxed), 0);
    }

    /// A cgroup the table does not know yet matches no cgroup route, is
    /// counted and posted to the resolver; once the resolver entered it, its
    /// tasks are routed by it.
    #[test]
    fn unknown_cgroup_is_resolved_later() {
        let (mut r, mut w, unresolved) = router_with_cgroups(BY_CGROUP);
        let mut t = task(100, "thread");
        t.cgid = 30;
        assert_eq!(r.route(&t), 1, "unknown: no cgroup route matches");
        assert_eq!(r.route(&t), 1);
        assert_eq!(unresolved.load(Ordering::Relaxed), 2);
        assert_eq!((w.take_request(), w.take_request()), (Some(30), None), "posted once");
        assert!(w.insert(30, w.bits_of(b"/system.slice/new.service")));
        assert_eq!(r.route(&t), 0);
        assert_eq!(unresolved.load(Ordering::Relaxed), 2);
        t.cgid = 0;
        assert_eq!(r.route(&t), 1, "a record without a cgroup id");
        assert_eq!((unresolved.load(Ordering::Relaxed), w.take_request()), (3, None), "counted, not posted");
    }

    /// A group's decisions land in its CPU set: targets outside it go to an
    /// idle CPU of the set, else the shortest queue; targets inside stay.
    #[test]
    fn cpu_sets() {
        let mut r = router("[default]\npolicy = \"fifo\"\ncpus = \"4-5\"\n", None);
        let mut cpus = busy(8);
        cpus.set(5, true, 0, 0);
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        r.enqueue(&task(1, "a"), &ctx);
        assert_eq!(r.dispatch(&ctx).unwrap().target, Target::Cpu(5), "idle CPU of the set");
        let cpus = busy(8);
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        let targets: Vec<_> = (0..4)
            .map(|pid| {
                r.enqueue(&task(pid + 2, "a"), &ctx);
                r.dispatch(&ctx).unwrap().target
            })
            .collect();
        assert!(targets.iter().all(|t| matches!(t, Target::Cpu(4 | 5))), "{targets:?}");
        assert!(targets.contains(&Target::Cpu(4)) && targets.contains(&Target::Cpu(5)), "takes turns: {targets:?}");
    }

    /// Decisions carry the group's clock, which grows with its tasks' CPU
    /// time over its share; the sub-policy gets its own vtime back.
    #[test]
    fn clocks_and_vtime_translation() {
        let mut r = router("[[route]]\npolicy = \"deadline\"\ncomm = \"big*\"\nshare = 400\n", None);
        let cpus = busy(4);
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        let mut big = task(1, "big");
        let mut small = task(2, "small");
        r.enqueue(&big, &ctx);
        r.enqueue(&small, &ctx);
        let ds: Vec<_> = std::iter::from_fn(|| r.dispatch(&ctx)).collect();
        assert_eq!(ds.len(), 2);
        // Both ran 4 ms: the big group's clock advances 1 ms, the default's 4 ms.
        for (t, d) in [(&mut big, ds[0]), (&mut small, ds[1])] {
            t.vtime = d.vtime;
            t.start_ts = 1_000;
            t.stop_ts = 4_001_000;
        }
        r.enqueue(&big, &ctx);
        r.enqueue(&small, &ctx);
        // Shares normalised to the runnable weight (2 × 1024 over shares 500):
        // 4 ms × 1024 × 500 / (400 × 2048) and / (100 × 2048).
        assert_eq!(r.groups[0].clock, 2_500_000);
        assert_eq!(r.groups[1].clock, 10_000_000);
        let d = r.dispatch(&ctx).unwrap();
        assert_eq!(d.pid, 1, "the group with the lower clock goes first");
        // The deadline sub-policy got its own vtime back (its state continues).
        let Some(tr) = r.translations.get(1) else { return };
        assert!(tr.sub_vtime >= 4_000_000 * 100 / 100 / 4, "{}", tr.sub_vtime);
    }

    /// Within a group the sub-policy's order and weights hold: after equal
    /// runs a nice-10 task's key is as far behind a nice-0 one's as under
    /// `deadline` alone, and the keys come out in `deadline`'s order.
    #[test]
    fn group_keys_keep_the_sub_policy_order_and_weights() {
        let mut r = router("[default]\npolicy = \"deadline\"\n", None);
        let mut alone = crate::Deadline::new(&PolicyConfig::default());
        let cpus = busy(4);
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        let (heavy, mut light) = (task(1, "a"), task(2, "b"));
        light.weight = nice_to_weight(10);
        let keys = |p: &mut dyn Policy, heavy: &QueuedTask, light: &QueuedTask| {
            let (mut h, mut l) = (*heavy, *light);
            p.enqueue(&h, &ctx);
            p.enqueue(&l, &ctx);
            let ds: Vec<_> = std::iter::from_fn(|| p.dispatch(&ctx)).collect();
            for (t, d) in [(&mut h, ds[0]), (&mut l, ds[1])] {
                (t.vtime, t.start_ts, t.stop_ts, t.exec_runtime) = (d.vtime, 1_000, 4_001_000, 40_000_000);
            }
            p.enqueue(&h, &ctx);
            p.enqueue(&l, &ctx);
            let ds: Vec<_> = std::iter::from_fn(|| p.dispatch(&ctx)).collect();
            (ds.iter().map(|d| d.pid).collect::<Vec<_>>(), ds[1].vtime - ds[0].vtime)
        };
        let (order, gap) = keys(&mut r, &heavy, &light);
        assert_eq!((order, gap), keys(&mut alone, &heavy, &light));
        assert_eq!(gap, 4_000_000 * 1024 / 110 - 4_000_000);
    }

    /// Handing over collects the tasks of every group.
    #[test]
    fn take_all_collects_every_group() {
        let mut r = router(ROUTES, None);
        let cpus = busy(4);
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        for (pid, comm) in [(1, "game"), (2, "bash"), (3, "gamer")] {
            r.enqueue(&task(pid, comm), &ctx);
        }
        assert_eq!(r.pending(), 3);
        let mut out = Vec::new();
        r.take_all(&mut out);
        assert_eq!((out.len(), r.pending()), (3, 0));
    }
}
