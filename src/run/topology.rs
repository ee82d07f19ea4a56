//! This machine's CPU topology, read once per session at start: from
//! `scx_utils::Topology` (cores, LLCs, NUMA nodes, CPU capacity and big or
//! little cores, as upstream schedulers see them), mapped onto
//! `scheduler_core::Topology`'s convention by [`from_cpus`]; if scx_utils
//! cannot build it, from sysfs directly ([`read_sysfs`]: every CPU big, at
//! capacity 1024), with one warning (two lines if it panicked: the panic
//! hook prints the panic too).

use std::{collections::BTreeMap, fs};

use scheduler_core::{CoreKind, Topology, CAPACITY_SCALE};

const CPU_SYSFS: &str = "/sys/devices/system/cpu";

/// Parses a kernel CPU list such as `0-3,8,10-11` into its largest CPU id.
pub fn max_cpu_in_list(list: &str) -> Option<u32> {
    list.trim()
        .split(',')
        .filter(|s| !s.is_empty())
        .filter_map(|range| range.rsplit('-').next()?.trim().parse::<u32>().ok())
        .max()
}

/// The first CPU of a kernel CPU list (`2-3` -> 2).
fn first_cpu_in_list(list: &str) -> Option<u32> {
    list.trim().split([',', '-']).next()?.trim().parse().ok()
}

/// Every CPU of a kernel CPU list (`0-2,5` -> 0, 1, 2, 5); `(null)`, the
/// kernel's empty `nohz_full`, and unparsable ranges give none.
pub fn cpus_in_list(list: &str) -> Vec<u32> {
    list.trim()
        .split(',')
        .filter_map(|range| {
            let (lo, hi) = range.split_once('-').unwrap_or((range, range));
            Some(lo.trim().parse::<u32>().ok()?..=hi.trim().parse::<u32>().ok()?)
        })
        .flatten()
        .collect()
}

/// The CPUs booted `nohz_full=`, where the kernel may stop the periodic
/// tick: none if the kernel does not say (no `nohz_full` file).
pub fn nohz_full_cpus() -> Vec<u32> {
    fs::read_to_string(format!("{CPU_SYSFS}/nohz_full")).map(|s| cpus_in_list(&s)).unwrap_or_default()
}

/// The number of CPU ids the kernel may use (`nr_cpu_ids`): the largest
/// possible CPU plus one.
pub fn nr_cpu_ids() -> Option<u32> {
    let possible = fs::read_to_string(format!("{CPU_SYSFS}/possible")).ok()?;
    max_cpu_in_list(&possible).map(|m| m + 1)
}

fn read_first_cpu(path: &str, default: u32) -> u32 {
    fs::read_to_string(path).ok().and_then(|s| first_cpu_in_list(&s)).unwrap_or(default)
}

fn node_of(cpu: u32) -> u32 {
    let Ok(entries) = fs::read_dir(format!("{CPU_SYSFS}/cpu{cpu}")) else { return 0 };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("node")?.parse().ok())
        .next()
        .unwrap_or(0)
}

/// What [`from_cpus`] takes of one CPU of `scx_utils::Topology`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuInfo {
    /// The CPU id.
    pub id: usize,
    /// scx_utils' core id (unique per node, package and kernel core id).
    pub core_id: usize,
    /// scx_utils' LLC id (unique per node, package and cache).
    pub llc_id: usize,
    /// NUMA node.
    pub node_id: usize,
    /// Capacity on the kernel's scale: `cpu_capacity` in sysfs if the
    /// kernel exports it (`kernel_cpu_capacity`), else scx_utils' estimate
    /// (`cpu_capacity`, from CPPC or cpufreq, 1024 = the fastest CPU).
    pub capacity: usize,
    /// The core's kind (scx_utils' `CoreType`).
    pub kind: CoreKind,
}

impl From<&scx_utils::Cpu> for CpuInfo {
    fn from(c: &scx_utils::Cpu) -> Self {
        Self {
            id: c.id,
            core_id: c.core_id,
            llc_id: c.llc_id,
            node_id: c.node_id,
            capacity: c.kernel_cpu_capacity.unwrap_or(c.cpu_capacity),
            kind: match c.core_type {
                scx_utils::CoreType::Big { turbo } => CoreKind::Big { turbo },
                scx_utils::CoreType::Little => CoreKind::Little,
            },
        }
    }
}

/// The topology of CPUs `0..nr_cpus` from scx_utils' CPUs, in this crate's
/// convention: a core is named by its first CPU (its first SMT sibling), a
/// last-level cache by the first CPU sharing it, a node by its id.
/// Capacities are scaled so that the largest is 1024 (the kernel's already
/// are). CPUs it does not list (offline ones, as scx_utils skips them) and
/// ids from `nr_cpus` on are left out: the former stand alone, big, at
/// capacity 1024.
pub fn from_cpus(nr_cpus: u32, cpus: &[CpuInfo]) -> Topology {
    let n = nr_cpus as usize;
    let known: Vec<&CpuInfo> = cpus.iter().filter(|c| c.id < n).collect();
    let mut first_of_core = BTreeMap::new();
    let mut first_of_llc = BTreeMap::new();
    for c in &known {
        let id = c.id as u32;
        first_of_core.entry(c.core_id).and_modify(|f: &mut u32| *f = (*f).min(id)).or_insert(id);
        first_of_llc.entry(c.llc_id).and_modify(|f: &mut u32| *f = (*f).min(id)).or_insert(id);
    }
    let max_capacity = known.iter().map(|c| c.capacity).max().unwrap_or(0).max(1);
    let mut core_of: Vec<u32> = (0..nr_cpus).collect();
    let mut llc_of: Vec<u32> = (0..nr_cpus).collect();
    let mut node_of = vec![0; n];
    let mut capacity = vec![CAPACITY_SCALE; n];
    let mut kind = vec![CoreKind::Big { turbo: false }; n];
    for c in known {
        let i = c.id;
        core_of[i] = first_of_core.get(&c.core_id).copied().unwrap_or(i as u32);
        llc_of[i] = first_of_llc.get(&c.llc_id).copied().unwrap_or(i as u32);
        node_of[i] = u32::try_from(c.node_id).unwrap_or(0);
        let scaled = (c.capacity as u128 * u128::from(CAPACITY_SCALE)).div_ceil(max_capacity as u128);
        capacity[i] = u32::try_from(scaled).unwrap_or(CAPACITY_SCALE);
        kind[i] = c.kind;
    }
    let uniform = || Topology::uniform(nr_cpus, 1, 1);
    Topology::from_ids(core_of, llc_of, node_of).and_then(|t| t.with_capacities(capacity, kind)).unwrap_or_else(uniform)
}

/// Reads the topology of CPUs `0..nr_cpus` with `scx_utils::Topology`
/// ([`from_cpus`]). If scx_utils fails (or panics) it logs one warning and
/// reads sysfs itself ([`read_sysfs`]). Never panics. (scx_utils can panic
/// where sysfs lists no `cpu<N>` directory: its `NR_CPU_IDS` unwraps; the
/// panic hook then also logs the panic, `panic_guard::install_hook`.)
pub fn read(nr_cpus: u32) -> Topology {
    let scx = std::panic::catch_unwind(scx_utils::Topology::new);
    match scx {
        Ok(Ok(t)) => {
            let cpus: Vec<CpuInfo> = t.all_cpus.values().map(|c| CpuInfo::from(c.as_ref())).collect();
            from_cpus(nr_cpus, &cpus)
        }
        Ok(Err(e)) => {
            log::warn!("topology: scx_utils cannot read it ({e:#}); read from sysfs, every CPU big at capacity 1024");
            read_sysfs(nr_cpus)
        }
        Err(_) => {
            log::warn!("topology: scx_utils panicked reading it; read from sysfs, every CPU big at capacity 1024");
            read_sysfs(nr_cpus)
        }
    }
}

/// Reads the topology of CPUs `0..nr_cpus` from sysfs: a core is named by
/// its first SMT sibling, a last-level cache by the first CPU sharing it
/// (`cache/index3`, else `index2`). CPUs sysfs does not describe (offline)
/// stand alone. Every CPU is big, at capacity 1024 (the fallback of
/// [`read`]).
pub fn read_sysfs(nr_cpus: u32) -> Topology {
    let mut core_of = Vec::with_capacity(nr_cpus as usize);
    let mut llc_of = Vec::with_capacity(nr_cpus as usize);
    let mut node = Vec::with_capacity(nr_cpus as usize);
    for cpu in 0..nr_cpus {
        let base = format!("{CPU_SYSFS}/cpu{cpu}");
        core_of.push(read_first_cpu(&format!("{base}/topology/thread_siblings_list"), cpu));
        let l3 = format!("{base}/cache/index3/shared_cpu_list");
        let l2 = format!("{base}/cache/index2/shared_cpu_list");
        let llc = fs::read_to_string(&l3).or_else(|_| fs::read_to_string(&l2)).ok();
        llc_of.push(llc.and_then(|s| first_cpu_in_list(&s)).unwrap_or(cpu));
        node.push(node_of(cpu));
    }
    Topology::from_ids(core_of, llc_of, node).unwrap_or_else(|| Topology::uniform(nr_cpus, 1, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CPU lists as the kernel writes them.
    #[test]
    fn cpu_lists() {
        assert_eq!(max_cpu_in_list("0-3\n"), Some(3));
        assert_eq!(max_cpu_in_list("0,2,5-7"), Some(7));
        assert_eq!(max_cpu_in_list("0"), Some(0));
        assert_eq!(max_cpu_in_list(""), None);
        assert_eq!(first_cpu_in_list("2-3\n"), Some(2));
        assert_eq!(first_cpu_in_list("4,6"), Some(4));
        assert_eq!(cpus_in_list("2-3\n"), [2, 3]);
        assert_eq!(cpus_in_list("0-2,5,7-8"), [0, 1, 2, 5, 7, 8]);
        assert_eq!(cpus_in_list("(null)\n"), [0u32; 0]);
        assert_eq!(cpus_in_list(""), [0u32; 0]);
    }

    /// This host's topology has one entry per CPU id, through scx_utils
    /// and through the fallback, which agree on cores and nodes. (Not
    /// always on LLCs: where sysfs lists no cache, scx_utils makes one LLC
    /// per node and package, the fallback one per CPU; and scx_utils splits
    /// an LLC that spans NUMA nodes.)
    #[test]
    fn reads_this_host() {
        let n = nr_cpu_ids().unwrap_or(1);
        let (t, sysfs) = (read(n), read_sysfs(n));
        assert_eq!((t.nr_cpus(), sysfs.nr_cpus()), (n, n));
        for cpu in 0..n {
            assert_eq!((t.core(cpu), t.node(cpu)), (sysfs.core(cpu), sysfs.node(cpu)), "cpu {cpu}");
            assert!((1..=CAPACITY_SCALE).contains(&t.capacity(cpu)));
        }
    }

    fn cpu(id: usize, core_id: usize, llc_id: usize, capacity: usize, kind: CoreKind) -> CpuInfo {
        CpuInfo { id, core_id, llc_id, node_id: 0, capacity, kind }
    }

    /// scx_utils' core and LLC ids become the first CPU of the core and of
    /// the LLC; capacity and kind pass through.
    #[test]
    fn maps_scx_utils_ids() {
        const P: CoreKind = CoreKind::Big { turbo: false };
        const T: CoreKind = CoreKind::Big { turbo: true };
        const E: CoreKind = CoreKind::Little;
        // An Intel hybrid part: two P cores with SMT (CPUs 0-3, listed out
        // of order), four E cores (CPUs 4-7) sharing an L2; one LLC.
        let cpus = [
            cpu(2, 1, 0, 1024, T),
            cpu(0, 0, 0, 1024, P),
            cpu(3, 1, 0, 1024, T),
            cpu(1, 0, 0, 1024, P),
            cpu(4, 2, 0, 400, E),
            cpu(5, 3, 0, 400, E),
            cpu(6, 4, 0, 400, E),
            cpu(7, 5, 0, 400, E),
        ];
        let t = from_cpus(8, &cpus);
        assert_eq!((0..8).map(|c| t.core(c)).collect::<Vec<_>>(), vec![0, 0, 2, 2, 4, 5, 6, 7]);
        assert!((0..8).all(|c| t.llc(c) == 0));
        assert_eq!(t.siblings(3).collect::<Vec<_>>(), vec![2]);
        assert_eq!((0..8).map(|c| t.capacity(c)).collect::<Vec<_>>(), [1024, 1024, 1024, 1024, 400, 400, 400, 400]);
        assert_eq!((t.core_kind(0), t.core_kind(2), t.core_kind(7)), (P, T, E));
        assert!(t.is_hybrid());
    }

    /// LLCs named by their first CPU, nodes by id; a CPU scx_utils does not
    /// list (offline) stands alone, big, at full capacity; capacities scale
    /// so the largest is 1024; ids past `nr_cpus` are ignored.
    #[test]
    fn maps_llcs_nodes_and_gaps() {
        const B: CoreKind = CoreKind::Big { turbo: false };
        let mut cpus = vec![cpu(0, 7, 3, 512, B), cpu(1, 8, 3, 512, B), cpu(3, 9, 1, 256, CoreKind::Little)];
        cpus[2].node_id = 1;
        cpus.push(cpu(9, 10, 1, 512, B));
        let t = from_cpus(4, &cpus);
        assert_eq!((0..4).map(|c| t.llc(c)).collect::<Vec<_>>(), vec![0, 0, 2, 3]);
        assert_eq!((0..4).map(|c| t.core(c)).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
        assert_eq!((t.node(3), t.node(0)), (1, 0));
        assert_eq!((0..4).map(|c| t.capacity(c)).collect::<Vec<_>>(), vec![1024, 1024, 1024, 512]);
        assert_eq!(t.core_kind(2), B, "offline: big");
        assert!(t.is_hybrid());
        // Nothing listed: uniform, every CPU alone.
        let t = from_cpus(2, &[]);
        assert_eq!((t.core(1), t.llc(1), t.capacity(1), t.is_hybrid()), (1, 1, 1024, false));
    }
}
