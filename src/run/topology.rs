//! This machine's CPU topology, read once from sysfs at start.

use std::fs;

use scheduler_core::Topology;

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

/// Reads the topology of CPUs `0..nr_cpus`: a core is named by its first SMT
/// sibling, a last-level cache by the first CPU sharing it. CPUs sysfs does
/// not describe (offline) stand alone.
pub fn read(nr_cpus: u32) -> Topology {
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
    }

    /// This host's topology has one entry per CPU id.
    #[test]
    fn reads_this_host() {
        let n = nr_cpu_ids().unwrap_or(1);
        assert_eq!(read(n).nr_cpus(), n);
    }
}
