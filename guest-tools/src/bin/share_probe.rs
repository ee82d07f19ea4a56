//! `share_probe SECONDS HOG...`: runs one CPU-bound process per HOG for
//! SECONDS (after one second of warm-up) and prints the CPU time each got,
//! against the share the kernel's fair class would give it.
//!
//! A HOG is `NICE` (-20..=19) or `idle` (SCHED_IDLE), optionally followed by
//! `@CGROUP`, a cgroup v2 directory the hog moves itself into first. Run
//! the probe under `taskset` to confine the hogs to some CPUs: the CPUs
//! they share are the probe's own affinity.
//!
//! Expected shares follow the fair class's group scheduling: at each level
//! of the cgroup tree (below `/sys/fs/cgroup`; hogs without a cgroup are
//! in the root) the hogs directly there, at their nice weights
//! (`sched_prio_to_weight`; SCHED_IDLE is 3), and each child cgroup holding
//! hogs, at its `cpu.weight`, share their parent's portion by weight; no
//! hog gets more than one CPU, and what a capped hog cannot use goes to
//! the others.
//!
//! Prints one line per hog,
//! `share_probe: hog I spec S cpu_ms C share X expected E ratio_to_first R expected_ratio Q`
//! (X and E: fractions of the CPUs; R and Q: the first hog's CPU over this
//! one's), then `share_probe: hogs N cpus K worst_ratio_error_pct P
//! fair_share_index J` (J left out when the hogs had no CPU time), where P is the largest |R / Q - 1| over the hogs,
//! in percent (other load lowers every share alike but leaves the ratios),
//! and J is `scheduler_core::fair_share::fair_share_index` of the shares
//! (1 for the fair class's split of the CPU time the hogs had; the
//! simulator reports the same index); exits 0 when every hog reported.
use nix::{
    sched::{sched_getaffinity, CpuSet},
    time::{clock_gettime, ClockId},
    unistd::Pid,
};
use scheduler_core::{
    fair_share::{fair_share_index, water_fill},
    task::{nice_to_weight, WEIGHT_IDLEPRIO},
};
use std::{
    fs,
    io::Read,
    process::{Command, ExitCode, Stdio},
    thread,
};

const WARMUP_NS: u64 = 1_000_000_000;

/// One hog as given on the command line.
#[derive(Clone, Debug)]
struct Hog {
    spec: String,
    /// `None` for SCHED_IDLE.
    nice: Option<i32>,
    cgroup: Option<String>,
}

impl Hog {
    fn parse(spec: &str) -> Option<Hog> {
        let (prio, cgroup) = match spec.split_once('@') {
            Some((p, c)) => (p, Some(c.to_string())),
            None => (spec, None),
        };
        let nice = match prio {
            "idle" => None,
            n => Some(n.parse::<i32>().ok().filter(|n| (-20..=19).contains(n))?),
        };
        Some(Hog { spec: spec.to_string(), nice, cgroup })
    }

    fn weight(&self) -> u64 {
        self.nice.map_or(WEIGHT_IDLEPRIO, nice_to_weight)
    }
}

fn monotonic_ns(clock: ClockId) -> u64 {
    clock_gettime(clock).map_or(0, |ts| ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64)
}

/// The hog itself: takes its priority and cgroup, spins until `end` and
/// prints the CPU time it used between `begin` and `end` (CLOCK_MONOTONIC ns).
fn hog(hog: &Hog, begin: u64, end: u64) -> ExitCode {
    if let Some(dir) = &hog.cgroup {
        if let Err(e) = fs::write(format!("{dir}/cgroup.procs"), std::process::id().to_string()) {
            eprintln!("share_probe: cannot join {dir}: {e}");
            return ExitCode::FAILURE;
        }
    }
    let ok = match hog.nice {
        // SAFETY: setpriority takes no pointer (PRIO_PROCESS, who 0: this
        // process); it touches no memory of ours.
        Some(n) => unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, n) == 0 },
        None => {
            let param = libc::sched_param { sched_priority: 0 };
            // SAFETY: `param` is a valid sched_param; pid 0 is this process.
            unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) == 0 }
        }
    };
    if !ok {
        eprintln!("share_probe: cannot set the priority of {}: {}", hog.spec, std::io::Error::last_os_error());
        return ExitCode::FAILURE;
    }
    let mut cpu_begin = None;
    loop {
        let now = monotonic_ns(ClockId::CLOCK_MONOTONIC);
        if now >= begin && cpu_begin.is_none() {
            cpu_begin = Some(monotonic_ns(ClockId::CLOCK_PROCESS_CPUTIME_ID));
        }
        if now >= end {
            break;
        }
        std::hint::spin_loop();
    }
    let used = monotonic_ns(ClockId::CLOCK_PROCESS_CPUTIME_ID) - cpu_begin.unwrap_or(0);
    println!("{used}");
    ExitCode::SUCCESS
}

/// The CPUs this process may run on.
fn allowed_cpus() -> usize {
    let Ok(set) = sched_getaffinity(Pid::from_raw(0)) else {
        return thread::available_parallelism().map_or(1, |n| n.get());
    };
    (0..CpuSet::count()).filter(|&cpu| set.is_set(cpu).unwrap_or(false)).count().max(1)
}

/// A cgroup's `cpu.weight` (100 where it cannot be read, as the default).
fn cgroup_weight(dir: &str) -> u64 {
    fs::read_to_string(format!("{dir}/cpu.weight")).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(100)
}

/// The cgroup v2 mount: a hog's cgroup below it has its ancestors as parents.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The cgroups from the root down to `h`'s own (empty for the root): the
/// directories between [`CGROUP_ROOT`] and its cgroup, or its cgroup alone
/// when that is not below the mount.
fn cgroup_chain(h: &Hog) -> Vec<String> {
    let Some(dir) = h.cgroup.as_deref() else { return Vec::new() };
    let Some(rel) = dir.strip_prefix(CGROUP_ROOT).and_then(|r| r.strip_prefix('/')) else {
        return vec![dir.to_string()];
    };
    let mut chain = Vec::new();
    let mut path = CGROUP_ROOT.to_string();
    for part in rel.split('/').filter(|p| !p.is_empty()) {
        path = format!("{path}/{part}");
        chain.push(path.clone());
    }
    chain
}

/// Each hog's fraction of the CPU time if all shared one CPU, as the fair
/// class's group scheduling splits it: at each level the runnable entities
/// (the hogs directly in a cgroup, and each child cgroup holding hogs, at
/// its `cpu.weight`) share their parent's portion by weight.
fn fair_fractions(hogs: &[Hog], weight_of: impl Fn(&str) -> u64) -> Vec<f64> {
    let chains: Vec<Vec<String>> = hogs.iter().map(cgroup_chain).collect();
    // cpu.weight 100 is the group entity's weight 1024, nice 0's.
    let group_weight = |dir: &str| weight_of(dir) as f64 * 1024.0 / 100.0;
    (0..hogs.len())
        .map(|i| {
            let mut fraction = 1.0;
            for k in 0..=chains[i].len() {
                let node = &chains[i][..k];
                let mut total = 0.0;
                let mut children: Vec<&str> = Vec::new();
                for (j, c) in chains.iter().enumerate() {
                    if c.len() < k || c[..k] != *node {
                        continue;
                    }
                    match c.get(k) {
                        None => total += hogs[j].weight() as f64,
                        Some(child) if !children.contains(&child.as_str()) => {
                            children.push(child);
                            total += group_weight(child);
                        }
                        Some(_) => {}
                    }
                }
                let mine = chains[i].get(k).map_or(hogs[i].weight() as f64, |child| group_weight(child));
                fraction *= mine / total;
            }
            fraction
        })
        .collect()
}

/// The fair class's shares (fractions of one CPU) for `hogs` on `cpus`
/// CPUs: [`fair_fractions`], then water-filled so that no hog gets more
/// than one CPU.
fn expected_shares(hogs: &[Hog], cpus: usize) -> Vec<f64> {
    water_fill(&fair_fractions(hogs, cgroup_weight), cpus as f64)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--hog") {
        return match (args.get(1).and_then(|s| Hog::parse(s)), args.get(2), args.get(3)) {
            (Some(h), Some(b), Some(e)) => match (b.parse(), e.parse()) {
                (Ok(b), Ok(e)) => hog(&h, b, e),
                _ => ExitCode::from(2),
            },
            _ => ExitCode::from(2),
        };
    }
    let usage = || {
        eprintln!("usage: share_probe SECONDS HOG... (HOG: NICE or idle, optionally @CGROUP_DIR)");
        ExitCode::from(2)
    };
    let Some(secs) = args.first().and_then(|s| s.parse::<u64>().ok()).filter(|&s| s > 0) else { return usage() };
    let Some(hogs) = args[1..].iter().map(|s| Hog::parse(s)).collect::<Option<Vec<_>>>() else { return usage() };
    if hogs.is_empty() {
        return usage();
    }
    let Ok(me) = std::env::current_exe() else { return usage() };
    let begin = monotonic_ns(ClockId::CLOCK_MONOTONIC) + WARMUP_NS;
    let end = begin + secs * 1_000_000_000;
    let mut children = Vec::new();
    for h in &hogs {
        match Command::new(&me)
            .args(["--hog", &h.spec, &begin.to_string(), &end.to_string()])
            .stdout(Stdio::piped())
            .spawn()
        {
            Ok(c) => children.push(c),
            Err(e) => {
                eprintln!("share_probe: cannot start a hog: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let mut used = Vec::new();
    for mut c in children {
        let mut out = String::new();
        let read = c.stdout.take().map(|mut s| s.read_to_string(&mut out));
        let status = c.wait();
        match (read, status, out.trim().parse::<u64>()) {
            (Some(Ok(_)), Ok(s), Ok(ns)) if s.success() => used.push(ns),
            _ => {
                eprintln!("share_probe: a hog did not report");
                return ExitCode::FAILURE;
            }
        }
    }
    let cpus = allowed_cpus();
    let expected = expected_shares(&hogs, cpus);
    let window = (end - begin) as f64;
    let mut worst = 0.0f64;
    for (i, h) in hogs.iter().enumerate() {
        let ratio = used[0] as f64 / used[i].max(1) as f64;
        let expected_ratio = expected[0] / expected[i];
        worst = worst.max((ratio / expected_ratio - 1.0).abs());
        println!(
            "share_probe: hog {i} spec {} cpu_ms {} share {:.3} expected {:.3} ratio_to_first {ratio:.2} expected_ratio {expected_ratio:.2}",
            h.spec,
            used[i] / 1_000_000,
            used[i] as f64 / window,
            expected[i],
        );
    }
    let shares: Vec<f64> = used.iter().map(|&ns| ns as f64 / window).collect();
    // No index without CPU time: the field is left out, not reported as 0.
    let index = fair_share_index(&shares, &fair_fractions(&hogs, cgroup_weight))
        .map_or_else(String::new, |j| format!(" fair_share_index {j:.4}"));
    println!("share_probe: hogs {} cpus {cpus} worst_ratio_error_pct {:.0}{index}", hogs.len(), worst * 100.0);
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hogs(specs: &[&str]) -> Vec<Hog> {
        specs.iter().map(|s| Hog::parse(s).expect("valid spec")).collect()
    }

    #[test]
    fn one_cpu_splits_by_nice_weight() {
        let e = expected_shares(&hogs(&["0", "10"]), 1);
        assert!((e[0] - 1024.0 / 1134.0).abs() < 1e-9 && (e[1] - 110.0 / 1134.0).abs() < 1e-9, "{e:?}");
    }

    #[test]
    fn no_hog_gets_more_than_one_cpu() {
        // nice -5 would get 3121/(3121+110+3) of two CPUs: capped at one, the rest split 110 : 3.
        let e = expected_shares(&hogs(&["-5", "10", "idle"]), 2);
        assert_eq!(e[0], 1.0);
        assert!((e[1] - 110.0 / 113.0).abs() < 1e-9 && (e[2] - 3.0 / 113.0).abs() < 1e-9, "{e:?}");
    }

    #[test]
    fn more_cpus_than_hogs_gives_each_a_cpu() {
        assert_eq!(expected_shares(&hogs(&["0", "19"]), 4), vec![1.0, 1.0]);
    }

    #[test]
    fn cgroups_split_by_weight_then_by_runnable_weight_inside() {
        // Root: w100 (one hog) against w1000; inside w1000, a (100, two hogs) against b (300, one hog).
        let weight = |dir: &str| match dir.rsplit('/').next() {
            Some("w1000") => 1000,
            Some("b") => 300,
            _ => 100,
        };
        let h = hogs(&[
            "0@/sys/fs/cgroup/w100",
            "0@/sys/fs/cgroup/w1000/a",
            "0@/sys/fs/cgroup/w1000/a",
            "0@/sys/fs/cgroup/w1000/b",
        ]);
        let f = fair_fractions(&h, weight);
        let want = [1.0 / 11.0, 10.0 / 11.0 / 4.0 / 2.0, 10.0 / 11.0 / 4.0 / 2.0, 10.0 / 11.0 * 3.0 / 4.0];
        assert!(f.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-9), "{f:?}");
    }

    #[test]
    fn root_hogs_compete_one_by_one_with_cgroups() {
        // Two nice-0 hogs in the root and one cgroup of weight 100: a third each.
        let f = fair_fractions(&hogs(&["0", "0", "0@/sys/fs/cgroup/g"]), |_| 100);
        assert!(f.iter().all(|x| (x - 1.0 / 3.0).abs() < 1e-9), "{f:?}");
    }

    #[test]
    fn specs_are_checked() {
        assert!(Hog::parse("20").is_none() && Hog::parse("x").is_none());
        assert_eq!(Hog::parse("5@/sys/fs/cgroup/a").and_then(|h| h.cgroup), Some("/sys/fs/cgroup/a".into()));
    }
}
