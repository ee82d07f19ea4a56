//! `--verifier-report`: how hard the dispatcher is for this kernel's
//! verifier. Loads the dispatcher as scheduling would (the same object and
//! tunables; not attached, so it runs beside any scheduler) with the
//! verifier's statistics on (`BPF_LOG_STATS`), and prints one row per BPF
//! program: its type, its instructions in the object, the instructions the
//! verifier processed and its time (the log's `processed N insns` and
//! `verification time N usec`, kernel/bpf/verifier.c
//! `print_verification_stats()`), and the kernel's `verified_insns`
//! (`/proc/self/fdinfo`). A program that fails to load fails the report:
//! the error, exit 1.

use std::{
    os::fd::{AsFd, AsRawFd},
    sync::Mutex,
};

use anyhow::{bail, Result};
use libbpf_rs::PrintLevel;

use super::{
    bpf_cost::fdinfo_value,
    scheduler::{self, Config},
};

/// The kernel's `BPF_LOG_STATS` log level: the verifier's statistics only.
const BPF_LOG_STATS: u32 = 4;

/// What libbpf printed while loading (its debug lines carry each program's
/// log when a log level is set).
static LOG: Mutex<String> = Mutex::new(String::new());

fn collect(_level: PrintLevel, msg: String) {
    if let Ok(mut log) = LOG.lock() {
        log.push_str(&msg);
    }
}

/// One program's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramRow {
    pub name: String,
    /// Its program type, as libbpf-rs names it (`StructOps`, `Tracing`, `Syscall`).
    pub kind: String,
    /// Instructions in the object, after libbpf's relocations.
    pub insns: usize,
    /// `processed N insns` of the verifier's log.
    pub processed: Option<u64>,
    /// `verified_insns` of the program's fdinfo.
    pub verified_insns: Option<u64>,
    /// `verification time N usec` of the verifier's log (µs).
    pub verify_us: Option<u64>,
}

/// The log libbpf printed for `prog` on a successful load: the text
/// between `prog '<prog>': -- BEGIN PROG LOAD LOG --` and `-- END PROG LOAD
/// LOG --`.
pub fn program_log<'a>(log: &'a str, prog: &str) -> Option<&'a str> {
    let begin = format!("prog '{prog}': -- BEGIN PROG LOAD LOG --\n");
    let start = log.find(&begin)? + begin.len();
    let len = log[start..].find("-- END PROG LOAD LOG --")?;
    Some(&log[start..start + len])
}

/// The number after `before` in `text` (`processed 1234 insns` with
/// `before` = `"processed "`).
fn number_after(text: &str, before: &str) -> Option<u64> {
    let rest = &text[text.find(before)? + before.len()..];
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// (`processed`, `verification time` in µs) of a program's statistics log.
pub fn log_stats(log: &str) -> (Option<u64>, Option<u64>) {
    (number_after(log, "processed "), number_after(log, "verification time "))
}

/// The table: a header, a row per program, the programs not loaded (if
/// any), a total.
pub fn render(kernel: &str, rows: &[ProgramRow], not_loaded: &[String]) -> String {
    let show = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    let mut out = format!("scx_relay verifier report: kernel {kernel}, {} programs\n", rows.len());
    out.push_str(&format!(
        "{:<28} {:<12} {:>7} {:>10} {:>14} {:>10}\n",
        "program", "type", "insns", "processed", "verified_insns", "verify_us"
    ));
    for r in rows {
        out.push_str(&format!(
            "{:<28} {:<12} {:>7} {:>10} {:>14} {:>10}\n",
            r.name,
            r.kind,
            r.insns,
            show(r.processed),
            show(r.verified_insns),
            show(r.verify_us)
        ));
    }
    if !not_loaded.is_empty() {
        out.push_str(&format!(
            "scx_relay verifier report: not loaded (callbacks this kernel lacks): {}\n",
            not_loaded.join(", ")
        ));
    }
    let sum = |f: fn(&ProgramRow) -> Option<u64>| rows.iter().filter_map(f).sum::<u64>();
    out.push_str(&format!(
        "scx_relay verifier report: total {} insns processed, {} verified, {} us\n",
        sum(|r| r.processed),
        sum(|r| r.verified_insns),
        sum(|r| r.verify_us)
    ));
    out
}

/// What `--verifier-report` prints.
#[derive(Debug)]
pub struct Report {
    /// The programs loaded, in the object's order.
    pub rows: Vec<ProgramRow>,
    /// Programs libbpf did not load: callbacks this kernel's sched_ext lacks.
    pub not_loaded: Vec<String>,
}

/// Loads the dispatcher with the statistics on and makes the rows; on a
/// failure, libbpf's messages (the verifier's log of the program that
/// failed) are logged before the error is returned.
pub fn report(cfg: &Config) -> Result<Report> {
    if let Ok(mut log) = LOG.lock() {
        log.clear();
    }
    libbpf_rs::set_print(Some((PrintLevel::Debug, collect)));
    let loaded = scheduler::load_for_report(cfg, BPF_LOG_STATS, |object| {
        let log = LOG.lock().map(|l| l.clone()).unwrap_or_default();
        let mut rows = Vec::new();
        let mut not_loaded = Vec::new();
        for prog in object.progs() {
            let name = prog.name().to_string_lossy().into_owned();
            // libbpf loads no program for a callback this kernel's
            // sched_ext_ops lacks (its autoload is turned off): no fd.
            if !prog.autoload() {
                not_loaded.push(name);
                continue;
            }
            let (processed, verify_us) = program_log(&log, &name).map_or((None, None), log_stats);
            let fdinfo = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", prog.as_fd().as_raw_fd()));
            rows.push(ProgramRow {
                kind: format!("{:?}", prog.prog_type()),
                insns: prog.insn_cnt(),
                processed,
                verified_insns: fdinfo.ok().and_then(|f| fdinfo_value(&f, "verified_insns")),
                verify_us,
                name,
            });
        }
        (rows, not_loaded)
    });
    super::logger::route_libbpf();
    let (rows, not_loaded) = match loaded {
        Ok(r) => r,
        Err(e) => {
            // libbpf's account of the failure, the failed program's
            // verifier log included.
            log::error!("libbpf's log of the load:\n{}", LOG.lock().map(|l| l.clone()).unwrap_or_default().trim_end());
            return Err(e);
        }
    };
    if rows.is_empty() {
        bail!("the BPF object has no programs");
    }
    Ok(Report { rows, not_loaded })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// What libbpf prints for a program loaded with BPF_LOG_STATS.
    const LOG: &str = "libbpf: loading object\n\
        prog 'relay_dispatch': -- BEGIN PROG LOAD LOG --\n\
        verification time 12345 usec\n\
        stack depth 72+0\n\
        processed 6789 insns (limit 1000000) max_states_per_insn 4 total_states 321 peak_states 210 mark_read 12\n\
        -- END PROG LOAD LOG --\n\
        prog 'relay_tick': -- BEGIN PROG LOAD LOG --\n\
        verification time 99 usec\n\
        processed 42 insns (limit 1000000) max_states_per_insn 0 total_states 3 peak_states 3 mark_read 1\n\
        -- END PROG LOAD LOG --\n";

    /// Each program's numbers come from its own log, not a neighbour's.
    #[test]
    fn reads_each_programs_statistics() {
        assert_eq!(log_stats(program_log(LOG, "relay_dispatch").unwrap()), (Some(6789), Some(12345)));
        assert_eq!(log_stats(program_log(LOG, "relay_tick").unwrap()), (Some(42), Some(99)));
        assert_eq!(program_log(LOG, "relay_enqueue"), None);
        assert_eq!(log_stats("no statistics here"), (None, None));
    }

    /// One row per program, missing numbers as '-', and the totals.
    #[test]
    fn renders_rows_and_totals() {
        let row = |name: &str, p: Option<u64>, v: Option<u64>, t: Option<u64>| ProgramRow {
            name: name.into(),
            kind: "StructOps".into(),
            insns: 10,
            processed: p,
            verified_insns: v,
            verify_us: t,
        };
        let rows = [row("relay_dispatch", Some(6789), Some(6789), Some(12345)), row("relay_tick", None, None, None)];
        let text = render("7.3.4", &rows, &[]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "scx_relay verifier report: kernel 7.3.4, 2 programs");
        assert!(lines[2].starts_with("relay_dispatch") && lines[2].ends_with("12345"), "{}", lines[2]);
        assert!(lines[3].split_whitespace().skip(3).all(|w| w == "-"), "{}", lines[3]);
        assert_eq!(lines[4], "scx_relay verifier report: total 6789 insns processed, 6789 verified, 12345 us");
        let text = render("6.19.14", &rows[..1], &["relay_cgroup_set_idle".to_owned()]);
        assert!(
            text.contains(
                "scx_relay verifier report: not loaded (callbacks this kernel lacks): relay_cgroup_set_idle\n"
            ),
            "{text}"
        );
    }
}
