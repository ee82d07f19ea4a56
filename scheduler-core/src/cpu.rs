//! What a policy may see of the CPUs: the topology (fixed) and a snapshot of
//! per-CPU state (idle, queue depth, current task) that the backend refreshes
//! before each batch, from memory it shares with the dispatcher — never with
//! a system call per CPU or per task.

/// CPU topology: for each CPU, its physical core (SMT siblings share one),
/// its last-level cache and its NUMA node.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Topology {
    core_of: Vec<u32>,
    llc_of: Vec<u32>,
    node_of: Vec<u32>,
}

impl Topology {
    /// `nr_cpus` CPUs, `smt` hardware threads per core, `cores_per_llc` cores
    /// per last-level cache, a single NUMA node. CPUs are numbered core by
    /// core (siblings adjacent). `smt` and `cores_per_llc` below 1 count as 1.
    pub fn uniform(nr_cpus: u32, smt: u32, cores_per_llc: u32) -> Self {
        let smt = smt.max(1);
        let per_llc = cores_per_llc.max(1);
        let core_of: Vec<u32> = (0..nr_cpus).map(|c| c / smt).collect();
        let llc_of = core_of.iter().map(|&core| core / per_llc).collect();
        Self { core_of, llc_of, node_of: vec![0; nr_cpus as usize] }
    }

    /// Builds a topology from explicit per-CPU core, LLC and node ids; the
    /// three slices must have the same length (else `None`).
    pub fn from_ids(core_of: Vec<u32>, llc_of: Vec<u32>, node_of: Vec<u32>) -> Option<Self> {
        (core_of.len() == llc_of.len() && llc_of.len() == node_of.len()).then_some(Self { core_of, llc_of, node_of })
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
