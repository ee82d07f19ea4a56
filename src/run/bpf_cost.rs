//! What the dispatcher's BPF programs cost: each program's runs and run
//! time, as the kernel counts them while its BPF statistics are on
//! (`kernel.bpf_stats_enabled`, or a `BPF_ENABLE_STATS` descriptor held
//! open: `--bpf-stats`), read from the program's `/proc/self/fdinfo`
//! (`run_cnt`, `run_time_ns`; the kernel's `bpf_prog_show_fdinfo()`).
//!
//! These programs run in the kernel, on every CPU, in the context of the
//! task being scheduled: their time is mostly not the scheduler process's
//! own CPU time (only calls made while one of its threads is current, such
//! as its own enqueues, are in both). The kernel adds the counting cost
//! (two clock reads a run) only while the statistics are on, so they are
//! off unless asked for.

use std::{
    collections::BTreeMap,
    os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd},
};

use anyhow::{bail, Result};
use libbpf_rs::libbpf_sys;
use serde::{Deserialize, Serialize};

/// Where the kernel shows whether its BPF statistics are on (the sysctl's
/// own setting; a `BPF_ENABLE_STATS` descriptor does not show there).
const STATS_SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";

/// One program's totals: what the kernel counted since it was loaded,
/// while its statistics were on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramCost {
    /// Runs counted (`run_cnt`).
    pub runs: u64,
    /// Their run time, ns (`run_time_ns`).
    pub run_ns: u64,
}

impl ProgramCost {
    /// Mean run time per run, µs (0 without runs).
    pub fn us_per_run(self) -> f64 {
        if self.runs == 0 {
            0.0
        } else {
            self.run_ns as f64 / self.runs as f64 / 1000.0
        }
    }
}

/// The number after `key:` in a BPF object's fdinfo text.
pub fn fdinfo_value(fdinfo: &str, key: &str) -> Option<u64> {
    fdinfo.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':')).and_then(|v| v.trim().parse().ok())
}

/// A program's totals from its fdinfo text.
pub fn fdinfo_cost(fdinfo: &str) -> Option<ProgramCost> {
    Some(ProgramCost { runs: fdinfo_value(fdinfo, "run_cnt")?, run_ns: fdinfo_value(fdinfo, "run_time_ns")? })
}

/// The kernel's BPF statistics, on while this lives (`BPF_ENABLE_STATS`:
/// the kernel turns them off when the last such descriptor closes).
pub struct StatsOn(#[allow(dead_code, reason = "held open: closing it turns the statistics off")] OwnedFd);

impl StatsOn {
    /// Turns the statistics on (needs CAP_SYS_ADMIN, as loading does).
    pub fn enable() -> Result<Self> {
        // SAFETY: a plain system call wrapper; a descriptor it returns is
        // ours alone.
        let fd = unsafe { libbpf_sys::bpf_enable_stats(libbpf_sys::BPF_STATS_RUN_TIME) };
        if fd < 0 {
            bail!(
                "the kernel's BPF statistics could not be turned on (BPF_ENABLE_STATS): {}",
                std::io::Error::from_raw_os_error(-fd)
            );
        }
        // SAFETY: `fd` is a fresh descriptor nothing else owns.
        Ok(Self(unsafe { OwnedFd::from_raw_fd(fd) }))
    }
}

/// The dispatcher's loaded programs, by name, each through a descriptor of
/// its own (a duplicate of the skeleton's: readable from any thread for as
/// long as this lives).
pub struct Programs {
    programs: Vec<(String, OwnedFd)>,
    /// Whether the statistics are on for this session (`--bpf-stats`).
    held: bool,
}

impl Programs {
    /// `programs`: each program's name and a descriptor of its own; `held`
    /// says whether this run holds the statistics on.
    pub fn new(programs: Vec<(String, OwnedFd)>, held: bool) -> Self {
        Self { programs, held }
    }

    /// Whether the kernel counts now: this session holds the statistics
    /// on, or the sysctl is set.
    pub fn counting(&self) -> bool {
        self.held || std::fs::read_to_string(STATS_SYSCTL).is_ok_and(|v| v.trim() != "0")
    }

    /// Each program's totals, by name; empty while the kernel does not
    /// count (zeros would read as free).
    pub fn read(&self) -> BTreeMap<String, ProgramCost> {
        if !self.counting() {
            return BTreeMap::new();
        }
        self.programs
            .iter()
            .filter_map(|(name, fd)| {
                let text = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_fd().as_raw_fd())).ok()?;
                Some((name.clone(), fdinfo_cost(&text)?))
            })
            .collect()
    }
}

/// The table printed at the end of a session with `--bpf-stats`: each
/// program that ran, its runs, µs per run and total ms, busiest first.
pub fn render(costs: &BTreeMap<String, ProgramCost>) -> String {
    let mut rows: Vec<(&String, &ProgramCost)> = costs.iter().filter(|(_, c)| c.runs > 0).collect();
    rows.sort_by(|a, b| b.1.run_ns.cmp(&a.1.run_ns).then(a.0.cmp(b.0)));
    let mut out = format!("{:<24} {:>12} {:>10} {:>12}\n", "BPF program", "runs", "µs/run", "total ms");
    for (name, c) in &rows {
        out.push_str(&format!("{name:<24} {:>12} {:>10.2} {:>12.3}\n", c.runs, c.us_per_run(), c.run_ns as f64 / 1e6));
    }
    let total = rows
        .iter()
        .fold(ProgramCost::default(), |t, (_, c)| ProgramCost { runs: t.runs + c.runs, run_ns: t.run_ns + c.run_ns });
    out.push_str(&format!(
        "{:<24} {:>12} {:>10.2} {:>12.3}\n",
        "all",
        total.runs,
        total.us_per_run(),
        total.run_ns as f64 / 1e6
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FDINFO: &str = "pos:\t0\nflags:\t02000002\nmnt_id:\t16\nino:\t2068\nprog_type:\t27\nprog_jited:\t1\n\
                          prog_tag:\t0123456789abcdef\nmemlock:\t8192\nprog_id:\t77\nrun_time_ns:\t257000\n\
                          run_cnt:\t4328\nrecursion_misses:\t0\nverified_insns:\t6789\n";

    /// The counts are read off a program's fdinfo, by exact key.
    #[test]
    fn reads_runs_and_run_time_from_fdinfo() {
        assert_eq!(fdinfo_cost(FDINFO), Some(ProgramCost { runs: 4328, run_ns: 257_000 }));
        assert_eq!(fdinfo_value(FDINFO, "verified_insns"), Some(6789));
        assert_eq!(fdinfo_value(FDINFO, "run_time"), None, "a prefix of a key is not the key");
        assert_eq!(fdinfo_cost("pos:\t0\n"), None);
    }

    /// The mean run time, and none without runs.
    #[test]
    fn mean_per_run() {
        assert_eq!(ProgramCost { runs: 20, run_ns: 60_000 }.us_per_run(), 3.0);
        assert_eq!(ProgramCost::default().us_per_run(), 0.0);
    }

    /// The end-of-session table: programs that ran, busiest first, and the sum.
    #[test]
    fn renders_busiest_first() {
        let costs: BTreeMap<String, ProgramCost> = [
            ("relay_enqueue".to_owned(), ProgramCost { runs: 4000, run_ns: 60_000_000 }),
            ("relay_dispatch".to_owned(), ProgramCost { runs: 4000, run_ns: 240_000_000 }),
            ("relay_dump".to_owned(), ProgramCost::default()),
        ]
        .into();
        let table = render(&costs);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(
            lines[1].starts_with("relay_dispatch ") && lines[1].contains(" 60.00 ") && lines[1].ends_with("240.000")
        );
        assert!(lines[2].starts_with("relay_enqueue ") && lines[2].contains(" 15.00 "));
        assert!(lines[3].starts_with("all ") && lines[3].contains(" 8000 ") && lines[3].ends_with("300.000"));
    }
}
