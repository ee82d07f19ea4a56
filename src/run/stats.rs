//! `--stats`: the dispatcher's counters and the scheduler's own page faults,
//! one line per interval.

use std::fmt;

/// The dispatcher's counters (totals since the scheduler was loaded), plus
/// the records and decisions the backend had to drop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Tasks handed to user space.
    pub queued: u64,
    /// Decisions of the user scheduler applied by the dispatcher.
    pub user: u64,
    /// Tasks dispatched by the dispatcher's fast paths (idle wakeups,
    /// kthreads, congestion).
    pub kernel: u64,
    /// Tasks dispatched by the stall fallback.
    pub fallback: u64,
    /// Tasks the dispatcher dispatched itself after they waited in user
    /// space for the stall timeout while the user side was alive (a policy
    /// that never decided them).
    pub rescued: u64,
    /// Tasks run ahead of their vtime because they had been runnable for
    /// `AGE_AFTER_NS` (src/bpf/main.bpf.c) while in a dispatch queue (a
    /// policy's ordering starved them, or their only CPU was busy).
    pub aged: u64,
    /// Tasks enqueued again without having run since they became runnable
    /// `AGE_AFTER_NS` ago or more (an affinity change re-enqueues a waiting
    /// task): kept in the kernel and run next instead of going through
    /// user space.
    pub overdue: u64,
    /// Decisions moved to an allowed CPU.
    pub bounced: u64,
    /// Decisions discarded: stale generation, duplicate, exited task, unreadable record.
    pub stale: u64,
    /// Tasks kept in the kernel because the ring buffer or pending map was full.
    pub congested: u64,
    /// Times the user side was declared stalled.
    pub stalls: u64,
    /// Whether the stall fallback is active right now.
    pub stalled: bool,
    /// Queued records and decisions the backend could not use.
    pub invalid: u64,
    /// Profile: `ops.dispatch()` calls.
    pub dispatch_calls: u64,
    /// Profile: user-ring-buffer drains that found decisions.
    pub drains: u64,
    /// Profile: decisions read by those drains.
    pub drained: u64,
    /// Profile: CPU kicks sent by the dispatcher.
    pub kicks: u64,
    /// Profile: times the user scheduler was put on a CPU.
    pub usersched_runs: u64,
}

/// The user scheduler's own side of the profile: its loop and its CPU time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoopProfile {
    /// Engine steps (one per wake-up of the loop).
    pub steps: u64,
    /// Steps that neither received a task nor sent a decision.
    pub empty_steps: u64,
    /// Tasks received from the dispatcher.
    pub received: u64,
    /// CPU time of this process (all threads), in ns.
    pub cpu_ns: u64,
    /// Decisions naming a CPU the machine lacks, sent to the shared queue
    /// by the engine instead.
    pub redirected: u64,
}

/// One `--stats` line: counters and page faults since start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatsLine {
    /// The counters.
    pub counters: Counters,
    /// Minor + major page faults of this process since the scheduler started.
    pub page_faults: u64,
    /// The loop's counters and CPU time.
    pub profile: LoopProfile,
}

impl fmt::Display for StatsLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counters;
        write!(
            f,
            "scx_relay stats: queued {} | dispatched user {} kernel {} fallback {} rescued {} aged {} overdue {} | bounced {} \
             stale {} congested {} | stalls {} ({}) | invalid {} redirected {} | page faults {} | dispatch calls {} \
             drains {} drained {} \
             kicks {} usersched runs {} | steps {} empty {} received {} | cpu_ns {}",
            c.queued,
            c.user,
            c.kernel,
            c.fallback,
            c.rescued,
            c.aged,
            c.overdue,
            c.bounced,
            c.stale,
            c.congested,
            c.stalls,
            if c.stalled { "stalled" } else { "ok" },
            c.invalid,
            self.profile.redirected,
            self.page_faults,
            c.dispatch_calls,
            c.drains,
            c.drained,
            c.kicks,
            c.usersched_runs,
            self.profile.steps,
            self.profile.empty_steps,
            self.profile.received,
            self.profile.cpu_ns,
        )
    }
}

/// Minor + major page faults from the text of `/proc/<pid>/stat` (fields 10
/// and 12). The command name (field 2) may hold spaces and parentheses, so
/// fields are counted after its closing parenthesis.
pub fn parse_page_faults(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After the comm: 3 state, 4 ppid, 5 pgrp, 6 session, 7 tty_nr,
    // 8 tpgid, 9 flags, 10 minflt, 11 cminflt, 12 majflt.
    let mut fields = rest.split_ascii_whitespace();
    let minflt: u64 = fields.nth(7)?.parse().ok()?;
    let majflt: u64 = fields.nth(1)?.parse().ok()?;
    Some(minflt + majflt)
}

/// This process's minor + major page faults so far (0 if unreadable).
pub fn own_page_faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat").ok().and_then(|s| parse_page_faults(&s)).unwrap_or(0)
}

/// CPU time of this process, all threads, in ns (CLOCK_PROCESS_CPUTIME_ID).
pub fn own_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) } != 0 {
        return 0;
    }
    (ts.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fields are counted after the last ')', whatever the command name holds.
    #[test]
    fn page_faults_from_proc_stat() {
        let stat = "1234 (scx_relay) R 1 1234 1234 0 -1 4194560 321 0 7 0 5 3 0 0 20 0 1 0 100 0 0";
        assert_eq!(parse_page_faults(stat), Some(328));
        let odd = "99 (a b) (c)) S 1 99 99 0 -1 0 10 99 2 99 0 0";
        assert_eq!(parse_page_faults(odd), Some(12));
        assert_eq!(parse_page_faults("12 (x) R 1 2"), None);
        assert_eq!(parse_page_faults("no paren"), None);
    }

    /// This process's own counters parse.
    #[test]
    fn reads_own_stat() {
        let s = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert!(parse_page_faults(&s).is_some());
    }

    /// The line names every counter, in a fixed order.
    #[test]
    fn stats_line_format() {
        let line = StatsLine {
            counters: Counters {
                queued: 10,
                user: 7,
                kernel: 2,
                fallback: 1,
                rescued: 8,
                aged: 20,
                overdue: 4,
                bounced: 3,
                stale: 4,
                congested: 5,
                stalls: 1,
                stalled: true,
                invalid: 0,
                dispatch_calls: 11,
                drains: 12,
                drained: 13,
                kicks: 14,
                usersched_runs: 15,
            },
            page_faults: 6,
            profile: LoopProfile { steps: 16, empty_steps: 17, received: 18, cpu_ns: 19, redirected: 9 },
        };
        assert_eq!(
            line.to_string(),
            "scx_relay stats: queued 10 | dispatched user 7 kernel 2 fallback 1 rescued 8 aged 20 overdue 4 | bounced 3 \
             stale 4 congested 5 | stalls 1 (stalled) | invalid 0 redirected 9 | page faults 6 | dispatch calls 11 \
             drains 12 drained 13 kicks 14 usersched runs 15 | steps 16 empty 17 received 18 | cpu_ns 19"
        );
        assert!(!line.to_string().contains('\n'));
    }
}
