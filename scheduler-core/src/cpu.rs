//! What a policy may see of the CPUs: the topology (fixed) and a snapshot of
//! per-CPU state (idle, queue depth, current task) that the backend refreshes
//! before each batch, from memory it shares with the dispatcher — never with
//! a system call per CPU or per task.

/// The capacity of the biggest core, on the kernel's scale
/// (`SCHED_CAPACITY_SCALE`): a CPU of capacity `c` does `c / 1024` of the
/// work per unit of time that the biggest one does.
pub const CAPACITY_SCALE: u32 = 1024;

/// The kind of a CPU's core, as `scx_utils`' `CoreType`: on a hybrid
/// machine (Intel's P and E cores, Arm's big.LITTLE) the biggest cores are
/// `Big`, the others `Little`; on any other machine every core is `Big`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum CoreKind {
    /// A core of the highest capacity; `turbo` when it can clock above the
    /// others of its kind (the kernel's favoured cores, `scx_utils`'
    /// `Big { turbo: true }`).
    Big {
        /// Whether it is one of the favoured (turbo) cores.
        turbo: bool,
    },
    /// A core of lower capacity (an efficiency core).
    Little,
}

impl CoreKind {
    /// Whether this is a big core (turbo or not).
    pub fn is_big(self) -> bool {
        matches!(self, Self::Big { .. })
    }
}

/// CPU topology: for each CPU, its physical core (SMT siblings share one),
/// its last-level cache, its NUMA node, its capacity (out of
/// [`CAPACITY_SCALE`]) and its core's kind.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Topology {
    core_of: Vec<u32>,
    llc_of: Vec<u32>,
    node_of: Vec<u32>,
    capacity_of: Vec<u32>,
    kind_of: Vec<CoreKind>,
    /// Whether some core is `Little` (kept, as policies ask per decision).
    hybrid: bool,
}

const BIG: CoreKind = CoreKind::Big { turbo: false };

impl Topology {
    /// `nr_cpus` CPUs, `smt` hardware threads per core, `cores_per_llc` cores
    /// per last-level cache, a single NUMA node, every core big with capacity
    /// [`CAPACITY_SCALE`]. CPUs are numbered core by core (siblings
    /// adjacent). `smt` and `cores_per_llc` below 1 count as 1.
    pub fn uniform(nr_cpus: u32, smt: u32, cores_per_llc: u32) -> Self {
        let smt = smt.max(1);
        let per_llc = cores_per_llc.max(1);
        let core_of: Vec<u32> = (0..nr_cpus).map(|c| c / smt).collect();
        let llc_of = core_of.iter().map(|&core| core / per_llc).collect();
        Self::same_capacity(core_of, llc_of, vec![0; nr_cpus as usize])
    }

    /// A hybrid machine as [`Topology::uniform`] lays it out, whose first
    /// `big_cpus` CPUs are big (capacity [`CAPACITY_SCALE`]) and the rest
    /// little, of capacity `little_capacity` (clamped to `1..=1024`).
    /// `big_cpus` at or above `nr_cpus` gives [`Topology::uniform`]'s
    /// machine; `little_capacity` 1024 gives little cores as fast as the big
    /// ones (still a hybrid topology: [`Topology::is_hybrid`] looks at kinds).
    pub fn hybrid(nr_cpus: u32, smt: u32, cores_per_llc: u32, big_cpus: u32, little_capacity: u32) -> Self {
        let t = Self::uniform(nr_cpus, smt, cores_per_llc);
        let little = little_capacity.clamp(1, CAPACITY_SCALE);
        let capacity = (0..nr_cpus).map(|c| if c < big_cpus { CAPACITY_SCALE } else { little }).collect();
        let kind = (0..nr_cpus).map(|c| if c < big_cpus { BIG } else { CoreKind::Little }).collect();
        t.with_capacities(capacity, kind).unwrap_or_else(|| Self::uniform(nr_cpus, smt, cores_per_llc))
    }

    /// Builds a topology from explicit per-CPU core, LLC and node ids, every
    /// core big with capacity [`CAPACITY_SCALE`]; the three slices must have
    /// the same length (else `None`).
    pub fn from_ids(core_of: Vec<u32>, llc_of: Vec<u32>, node_of: Vec<u32>) -> Option<Self> {
        (core_of.len() == llc_of.len() && llc_of.len() == node_of.len())
            .then(|| Self::same_capacity(core_of, llc_of, node_of))
    }

    fn same_capacity(core_of: Vec<u32>, llc_of: Vec<u32>, node_of: Vec<u32>) -> Self {
        let n = core_of.len();
        Self { core_of, llc_of, node_of, capacity_of: vec![CAPACITY_SCALE; n], kind_of: vec![BIG; n], hybrid: false }
    }

    /// The same topology with per-CPU capacities (clamped to `1..=1024`)
    /// and core kinds; `None` unless both have one entry per CPU.
    pub fn with_capacities(mut self, capacity: Vec<u32>, kind: Vec<CoreKind>) -> Option<Self> {
        let n = self.core_of.len();
        if capacity.len() != n || kind.len() != n {
            return None;
        }
        self.capacity_of = capacity.into_iter().map(|c| c.clamp(1, CAPACITY_SCALE)).collect();
        self.hybrid = kind.iter().any(|k| !k.is_big());
        self.kind_of = kind;
        Some(self)
    }

    /// Number of CPUs.
    pub fn nr_cpus(&self) -> u32 {
        self.core_of.len() as u32
    }

    /// Physical core of `cpu` (0 for an unknown CPU).
    pub fn core(&self, cpu: u32) -> u32 {
        self.core_of.get(cpu as usize).copied().unwrap_or(0)
    }

    /// Last-level cache of `cpu` (0 for an unknown CPU).
    pub fn llc(&self, cpu: u32) -> u32 {
        self.llc_of.get(cpu as usize).copied().unwrap_or(0)
    }

    /// NUMA node of `cpu` (0 for an unknown CPU).
    pub fn node(&self, cpu: u32) -> u32 {
        self.node_of.get(cpu as usize).copied().unwrap_or(0)
    }

    /// Capacity of `cpu` out of [`CAPACITY_SCALE`] (1024 = the biggest
    /// core; [`CAPACITY_SCALE`] for an unknown CPU).
    pub fn capacity(&self, cpu: u32) -> u32 {
        self.capacity_of.get(cpu as usize).copied().unwrap_or(CAPACITY_SCALE)
    }

    /// The kind of `cpu`'s core (`Big`, not turbo, for an unknown CPU).
    pub fn core_kind(&self, cpu: u32) -> CoreKind {
        self.kind_of.get(cpu as usize).copied().unwrap_or(BIG)
    }

    /// Whether `cpu` is on a big core (true for an unknown CPU).
    pub fn is_big(&self, cpu: u32) -> bool {
        self.core_kind(cpu).is_big()
    }

    /// Whether the machine mixes big and little cores (some core is
    /// [`CoreKind::Little`]). Policies keep their uniform-machine behaviour
    /// when it does not.
    pub fn is_hybrid(&self) -> bool {
        self.hybrid
    }

    /// SMT siblings of `cpu`, itself excluded.
    pub fn siblings(&self, cpu: u32) -> impl Iterator<Item = u32> + '_ {
        let core = self.core(cpu);
        (0..self.nr_cpus()).filter(move |&c| c != cpu && self.core(c) == core)
    }

    /// Whether `a` and `b` share a last-level cache.
    pub fn same_llc(&self, a: u32, b: u32) -> bool {
        self.llc(a) == self.llc(b)
    }
}

/// A read-only snapshot of the CPUs for a policy.
#[derive(Clone, Debug)]
pub struct CpuView {
    topology: Topology,
    idle: Vec<bool>,
    queue_depth: Vec<u32>,
    current: Vec<i32>,
}

impl CpuView {
    /// All CPUs idle, queues empty.
    pub fn new(topology: Topology) -> Self {
        let n = topology.nr_cpus() as usize;
        Self { topology, idle: vec![true; n], queue_depth: vec![0; n], current: vec![0; n] }
    }

    /// Number of CPUs.
    pub fn nr_cpus(&self) -> u32 {
        self.topology.nr_cpus()
    }

    /// The topology.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Capacity of `cpu` out of [`CAPACITY_SCALE`] ([`Topology::capacity`]).
    pub fn capacity(&self, cpu: u32) -> u32 {
        self.topology.capacity(cpu)
    }

    /// Whether `cpu` is on a big core ([`Topology::is_big`]).
    pub fn is_big(&self, cpu: u32) -> bool {
        self.topology.is_big(cpu)
    }

    /// Whether the machine mixes big and little cores ([`Topology::is_hybrid`]).
    pub fn is_hybrid(&self) -> bool {
        self.topology.is_hybrid()
    }

    /// Whether `cpu` was idle at the last refresh (false for an unknown CPU).
    pub fn is_idle(&self, cpu: u32) -> bool {
        self.idle.get(cpu as usize).copied().unwrap_or(false)
    }

    /// Tasks waiting in `cpu`'s queue at the last refresh.
    pub fn queue_depth(&self, cpu: u32) -> u32 {
        self.queue_depth.get(cpu as usize).copied().unwrap_or(0)
    }

    /// Pid running on `cpu` at the last refresh (0 = none).
    pub fn current(&self, cpu: u32) -> i32 {
        self.current.get(cpu as usize).copied().unwrap_or(0)
    }

    /// The idle CPUs, in CPU order.
    pub fn idle_cpus(&self) -> impl Iterator<Item = u32> + '_ {
        self.idle.iter().enumerate().filter(|(_, &i)| i).map(|(c, _)| c as u32)
    }

    /// Records `cpu`'s state; backends call this when they refresh the view.
    /// Unknown CPUs are ignored.
    pub fn set(&mut self, cpu: u32, idle: bool, queue_depth: u32, current: i32) {
        let c = cpu as usize;
        if c < self.idle.len() {
            self.idle[c] = idle;
            self.queue_depth[c] = queue_depth;
            self.current[c] = current;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SMT siblings are adjacent CPUs, LLCs group cores.
    #[test]
    fn uniform_topology() {
        let t = Topology::uniform(8, 2, 2);
        assert_eq!(t.siblings(2).collect::<Vec<_>>(), vec![3]);
        assert!(t.same_llc(0, 3));
        assert!(!t.same_llc(3, 4));
        assert_eq!(t.llc(7), 1);
    }

    /// A uniform machine: every CPU big, at full capacity, not hybrid.
    #[test]
    fn uniform_is_all_big() {
        let t = Topology::uniform(4, 2, 2);
        assert!((0..4).all(|c| t.capacity(c) == CAPACITY_SCALE && t.core_kind(c) == CoreKind::Big { turbo: false }));
        assert!(!t.is_hybrid());
        assert_eq!(Topology::from_ids(vec![0, 0], vec![0, 0], vec![0, 0]).map(|t| t.is_hybrid()), Some(false));
    }

    /// A hybrid machine: the first CPUs big, the rest little at the given
    /// capacity (clamped), ids laid out as `uniform`.
    #[test]
    fn hybrid_topology() {
        let t = Topology::hybrid(6, 2, 1, 2, 400);
        assert!(t.is_hybrid());
        assert_eq!((0..6).map(|c| t.capacity(c)).collect::<Vec<_>>(), vec![1024, 1024, 400, 400, 400, 400]);
        assert_eq!((0..6).filter(|&c| t.is_big(c)).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(t.core_kind(5), CoreKind::Little);
        assert_eq!((t.core(3), t.llc(3)), (1, 1), "ids as uniform(6, 2, 1)");
        assert_eq!(Topology::hybrid(2, 1, 2, 1, 0).capacity(1), 1, "capacity at least 1");
        assert_eq!(Topology::hybrid(2, 1, 2, 1, 5000).capacity(1), CAPACITY_SCALE, "at most the scale");
        assert!(!Topology::hybrid(4, 1, 4, 4, 512).is_hybrid(), "all big");
    }

    /// Capacities and kinds must cover every CPU; unknown CPUs read as big.
    #[test]
    fn with_capacities_checks_lengths() {
        let t = Topology::uniform(2, 1, 2);
        assert!(t.clone().with_capacities(vec![1024], vec![CoreKind::Little; 2]).is_none());
        let turbo = CoreKind::Big { turbo: true };
        let t = t.with_capacities(vec![1024, 300], vec![turbo, CoreKind::Little]).unwrap();
        assert_eq!((t.core_kind(0), t.capacity(1)), (turbo, 300));
        assert!(t.is_big(0) && !t.is_big(1) && t.is_hybrid());
        assert_eq!((t.capacity(9), t.is_big(9)), (CAPACITY_SCALE, true));
        let v = CpuView::new(t);
        assert!(v.is_hybrid() && v.is_big(0) && !v.is_big(1));
        assert_eq!(v.capacity(1), 300);
    }

    /// The view reports what the backend set and ignores unknown CPUs.
    #[test]
    fn view_reports_state() {
        let mut v = CpuView::new(Topology::uniform(4, 1, 4));
        v.set(1, false, 3, 77);
        v.set(9, false, 3, 77);
        assert_eq!(v.idle_cpus().collect::<Vec<_>>(), vec![0, 2, 3]);
        assert_eq!((v.queue_depth(1), v.current(1)), (3, 77));
        assert!(!v.is_idle(9));
    }
}
