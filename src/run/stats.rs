//! `--stats`: the dispatcher's counters and the scheduler's own page faults,
//! one line per interval.

use std::fmt;

use super::bpf::types;

/// Declares a struct of the dispatcher's counters: each field a `volatile
/// u64` global of `src/bpf/main.bpf.c`, read from the mapped `.bss`, and
/// printed in the `--stats` line as `label value`. Entries are written
/// `field: "label" <- bss_global`; `,` separates entries of one group of
/// the line, `;` separates groups (printed with ` | ` between them).
///
/// Adding a counter: its BPF global, one entry here (with its doc) and the
/// value and text in the `stats_line_format` test.
macro_rules! bss_counters {
    (
        $(#[doc = $struct_doc:literal])*
        pub struct $name:ident {
            $( $( $(#[doc = $doc:literal])* $field:ident: $label:literal <- $bss:ident ),+ $(,)? );+ $(;)?
        }
    ) => {
        $(#[doc = $struct_doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name {
            $($( $(#[doc = $doc])* pub $field: u64, )+)+
        }

        impl $name {
            /// Reads every counter from the dispatcher's `.bss`.
            ///
            /// # Safety
            ///
            /// `bss` points to the mapped `.bss` of a loaded dispatcher and is
            /// valid for reads for the duration of the call.
            pub(super) unsafe fn read(bss: *const types::bss) -> Self {
                // SAFETY: the caller guarantees `bss` is valid for reads; each
                // field is an aligned u64 the BPF side updates concurrently,
                // hence the volatile loads.
                unsafe { Self { $($( $field: (&raw const (*bss).$bss).read_volatile(), )+)+ } }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let groups: &[&[(&str, u64)]] = &[$( &[$( ($label, self.$field) ),+] ),+];
                write_groups(f, groups)
            }
        }
    };
}

/// Writes `label value` pairs joined by spaces, groups joined by ` | `.
fn write_groups(f: &mut fmt::Formatter<'_>, groups: &[&[(&str, u64)]]) -> fmt::Result {
    for (i, group) in groups.iter().enumerate() {
        if i > 0 {
            f.write_str(" | ")?;
        }
        for (j, (label, value)) in group.iter().enumerate() {
            if j > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{label} {value}")?;
        }
    }
    Ok(())
}

bss_counters! {
    /// Where the dispatcher sent tasks and decisions (totals since the
    /// scheduler was loaded).
    pub struct DispatcherCounters {
        /// Tasks handed to user space.
        queued: "queued" <- nr_queued,
        /// Hand-offs the kernel took back before a decision placed the task
        /// (an affinity, class or weight change while it waited in user
        /// space): the decision that follows is stale.
        voided: "voided" <- nr_voided;
        /// Runs that a decision of the user scheduler placed: counted when
        /// the task starts running, not when the decision is applied (the
        /// kernel drops an insert of a task dequeued meanwhile).
        user: "dispatched user" <- nr_user_dispatches,
        /// Tasks dispatched by the dispatcher's fast paths (idle wakeups,
        /// kthreads, congestion).
        kernel: "kernel" <- nr_kernel_dispatches,
        /// Tasks dispatched by the stall fallback.
        fallback: "fallback" <- nr_fallback,
        /// Tasks the dispatcher dispatched itself after they waited in user
        /// space for the stall timeout while the user side was alive (a policy
        /// that never decided them).
        rescued: "rescued" <- nr_rescued,
        /// Tasks run ahead of their vtime because they had been runnable for
        /// `AGE_AFTER_NS` (src/bpf/main.bpf.c) while in a dispatch queue (a
        /// policy's ordering starved them, or their only CPU was busy).
        aged: "aged" <- nr_aged,
        /// Tasks enqueued again without having run since they became runnable
        /// `AGE_AFTER_NS` ago or more (an affinity change re-enqueues a waiting
        /// task): kept in the kernel and run next instead of going through
        /// user space.
        overdue: "overdue" <- nr_overdue,
        /// Tasks taken back from user space and run on their CPU because a
        /// higher class (realtime; the fair class under `--partial`) held
        /// that CPU, it had nothing else of ours to run, and its runqueue
        /// held them: coming out empty-handed would stop the kernel's ext
        /// server there (see `keep_ext_server` in src/bpf/main.bpf.c).
        keepalive: "keepalive" <- nr_keepalive;
        /// Decisions moved to an allowed CPU.
        bounced: "bounced" <- nr_bounced,
        /// Decisions discarded: stale generation, duplicate, exited task, unreadable record.
        stale: "stale" <- nr_stale,
        /// Decisions whose vtime lay outside the window around the
        /// dispatcher's clock (2^`RELAY_VTIME_WINDOW_SHIFT`) and was clamped to
        /// it: garbage, as no honest scale comes near.
        vtime_clamped: "vtime clamped" <- nr_vtime_clamped,
        /// Tasks kept in the kernel because the ring buffer or pending map was full.
        congested: "congested" <- nr_congested;
        /// Times the user side was declared stalled.
        stalls: "stalls" <- nr_stalls;
    }
}

bss_counters! {
    /// The dispatcher's side of the profile (totals since the scheduler was
    /// loaded).
    pub struct DispatchProfile {
        /// `ops.dispatch()` calls.
        dispatch_calls: "dispatch calls" <- nr_dispatch_calls,
        /// User-ring-buffer drains that found decisions.
        drains: "drains" <- nr_drains,
        /// Decisions read by those drains.
        drained: "drained" <- nr_drained,
        /// CPU kicks sent by the dispatcher.
        kicks: "kicks" <- nr_kicks,
        /// Times the user scheduler was put on a CPU.
        usersched_runs: "usersched runs" <- nr_usersched_runs;
    }
}

/// The dispatcher's counters, plus the records and decisions the backend had
/// to drop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Where tasks and decisions went.
    pub dispatcher: DispatcherCounters,
    /// Whether the stall fallback is active right now.
    pub stalled: bool,
    /// Queued records and decisions the backend could not use.
    pub invalid: u64,
    /// The dispatcher's profile.
    pub profile: DispatchProfile,
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
        let (c, p) = (&self.counters, &self.profile);
        write!(
            f,
            "scx_relay stats: {} ({}) | invalid {} redirected {} | page faults {} | {} | steps {} empty {} received {} \
             | cpu_ns {}",
            c.dispatcher,
            if c.stalled { "stalled" } else { "ok" },
            c.invalid,
            p.redirected,
            self.page_faults,
            c.profile,
            p.steps,
            p.empty_steps,
            p.received,
            p.cpu_ns,
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
                dispatcher: DispatcherCounters {
                    queued: 10,
                    voided: 22,
                    user: 7,
                    kernel: 2,
                    fallback: 1,
                    rescued: 8,
                    aged: 20,
                    overdue: 4,
                    keepalive: 2,
                    bounced: 3,
                    stale: 4,
                    vtime_clamped: 21,
                    congested: 5,
                    stalls: 1,
                },
                stalled: true,
                invalid: 0,
                profile: DispatchProfile { dispatch_calls: 11, drains: 12, drained: 13, kicks: 14, usersched_runs: 15 },
            },
            page_faults: 6,
            profile: LoopProfile { steps: 16, empty_steps: 17, received: 18, cpu_ns: 19, redirected: 9 },
        };
        assert_eq!(
            line.to_string(),
            "scx_relay stats: queued 10 voided 22 | dispatched user 7 kernel 2 fallback 1 rescued 8 aged 20 overdue 4 keepalive 2 | bounced 3 \
             stale 4 vtime clamped 21 congested 5 | stalls 1 (stalled) | invalid 0 redirected 9 | page faults 6 | dispatch calls 11 \
             drains 12 drained 13 kicks 14 usersched runs 15 | steps 16 empty 17 received 18 | cpu_ns 19"
        );
        assert!(!line.to_string().contains('\n'));
    }
}
