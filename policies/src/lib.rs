//! Scheduling policies for scx_relay. Each implements
//! [`scheduler_core::Policy`] and is pure logic: no I/O, no system calls,
//! no allocation per task once its queue has grown.
//!
//! | name | order | slice |
//! |---|---|---|
//! | [`fifo`](Fifo) | arrival; weight-blind, as upstream `scx_rlfifo` | `slice / (waiting + 1)`, at least `slice_min` |
//! | [`deadline`](Deadline) | weighted virtual runtime plus a request (weighted CPU since the last wakeup, or the last run, within `slice_min..=slice`); wakeups start at the clock (no sleeper credit) | a cap: `5 slice × weight / 1024` |
//! | [`eevdf`](Eevdf) | earliest eligible virtual deadline (the kernel's fair class: lag, `V`, `vd = v + request / weight`) | a cap, as `deadline`'s; the request, `0.75 ms × (1 + ilog2(cpus))`, spaces the deadlines |
//! | [`interactive`](Interactive) | short-burst wakeups two slices early, shortest first; then `deadline`'s order | twice the average burst × weight / 1024; `deadline`'s for the rest |
//! | [`local`](Local) | `deadline`'s; per-CPU queues, idle CPUs steal (LLC first), tasks stay on their CPU unless it carries more weight than another of its LLC | `deadline`'s |
//! | [`routing`](Router) | sub-policies by matchers (comm, tgid, nice, cgroup, pinned), each with CPUs and a share; from a TOML file ([`RoutingConfig`]) | the sub-policy's |
//!
//! All but `fifo` give CPU-bound tasks CPU in proportion to their weight
//! (nice 0 : nice 10 = 1024 : 110, SCHED_IDLE is weight 1): their keys are
//! weighted virtual time, which the dispatcher's tick keeps (a running task
//! yields once a lower key waits than its own advanced by its run ×
//! 100 / weight). `policies/tests/weight_shares.rs` measures it.
//!
//! `routing` is not in [`NAMES`]: it is built from a configuration
//! ([`Router::new`]), not a name.
//!
//! Test-only policies that misbehave on purpose ([`TEST_NAMES`]: `chaos`,
//! `panic`, `spin`, `starve`; see [`chaos`]) are kept apart from the shipped ones: only
//! [`by_name_allowing_tests`] builds them.

#![forbid(unsafe_code)]

pub mod chaos;
mod deadline;
mod eevdf;
mod fifo;
mod interactive;
pub mod latency;
mod local;
mod ordered;
mod pid_map;
mod placement;
pub mod routing;
mod runnable;
mod vclock;

use scheduler_core::Policy;
use thiserror::Error;

pub use chaos::{Chaos, PanicAfter, Spin, Starve};
pub use deadline::Deadline;
pub use eevdf::Eevdf;
pub use fifo::Fifo;
pub use interactive::Interactive;
pub use local::Local;
pub use routing::{ConfigError, Router, RoutingConfig};
/// The weighted orders' windows around their clock, in slices (see `deadline`'s docs).
pub use vclock::{ABOVE_SLICES, AHEAD_SLICES};

/// The shipped policies, in the order they are listed, each with what it
/// does in one phrase: the one list the binary's `--policy` help, [`NAMES`]
/// and the docs check are built from.
pub const SHIPPED: [(&str, &str); 5] = [
    (
        "fifo",
        "arrival order; weight-blind: nice levels and cgroup weights do not change its shares, as upstream scx_rlfifo",
    ),
    ("deadline", "vruntime plus runtime since the last sleep, favouring tasks that sleep often"),
    ("eevdf", "the kernel's fair class: earliest eligible virtual deadline"),
    ("interactive", "short-burst wakeups first"),
    ("local", "per-CPU queues, tasks kept on their CPU and LLC"),
];

/// Names accepted by [`by_name`]: those of [`SHIPPED`].
pub const NAMES: &[&str] = &names_of(SHIPPED);

/// The first element of each pair, at compile time.
const fn names_of<const N: usize>(shipped: [(&'static str, &'static str); N]) -> [&'static str; N] {
    let mut names = [""; N];
    let mut i = 0;
    while i < N {
        names[i] = shipped[i].0;
        i += 1;
    }
    names
}

/// Test-only policies (see [`chaos`]): never in [`NAMES`], built only by
/// [`by_name_allowing_tests`]; `scx_relay` accepts them only with
/// `--allow-test-policies`.
pub const TEST_NAMES: &[&str] = &["chaos", "panic", "spin", "starve"];

/// Tunables shared by the policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyConfig {
    /// Longest slice a task is given (ns).
    pub slice_ns: u64,
    /// Shortest slice a task is given (ns).
    pub slice_min_ns: u64,
    /// The machine's CPU ids (`nr_cpu_ids`), for policies that size
    /// per-CPU state up front, when they are built (so that a policy
    /// switched to live allocates nothing on the scheduling loop); 0: sized
    /// at the first task.
    pub nr_cpus: u32,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self { slice_ns: 20_000_000, slice_min_ns: 1_000_000, nr_cpus: 0 }
    }
}

/// A policy name [`by_name`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown policy '{0}' (valid: {valid})", valid = NAMES.join(", "))]
pub struct UnknownPolicy(pub String);

/// The policy called `name`, configured by `cfg`.
pub fn by_name(name: &str, cfg: &PolicyConfig) -> Result<Box<dyn Policy>, UnknownPolicy> {
    match name {
        "fifo" => Ok(Box::new(Fifo::new(cfg))),
        "deadline" => Ok(Box::new(Deadline::new(cfg))),
        "eevdf" => Ok(Box::new(Eevdf::new(cfg))),
        "interactive" => Ok(Box::new(Interactive::new(cfg))),
        "local" => Ok(Box::new(Local::new(cfg))),
        other => Err(UnknownPolicy(other.to_owned())),
    }
}

/// Like [`by_name`], and also the test-only policies of [`TEST_NAMES`].
pub fn by_name_allowing_tests(name: &str, cfg: &PolicyConfig) -> Result<Box<dyn Policy>, UnknownPolicy> {
    match name {
        "chaos" => Ok(Box::new(Chaos::new(cfg))),
        "panic" => Ok(Box::new(PanicAfter::new(cfg))),
        "spin" => Ok(Box::new(Spin::new(cfg))),
        "starve" => Ok(Box::new(Starve::new(cfg))),
        other => by_name(other, cfg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every listed name builds a policy of that name; others are refused with the list.
    #[test]
    fn names_resolve() {
        for n in NAMES {
            assert_eq!(by_name(n, &PolicyConfig::default()).unwrap().name(), *n);
        }
        let e = by_name("cfs", &PolicyConfig::default()).err().unwrap();
        assert_eq!(e.to_string(), "unknown policy 'cfs' (valid: fifo, deadline, eevdf, interactive, local)");
    }

    /// Test policies are built only by `by_name_allowing_tests`, which also
    /// builds every shipped policy; the two lists do not overlap.
    #[test]
    fn test_names_are_separate() {
        let cfg = PolicyConfig::default();
        for n in TEST_NAMES {
            assert!(!NAMES.contains(n));
            assert!(by_name(n, &cfg).is_err(), "{n} must not be a shipped policy");
            assert_eq!(by_name_allowing_tests(n, &cfg).unwrap().name(), *n);
        }
        for n in NAMES {
            assert_eq!(by_name_allowing_tests(n, &cfg).unwrap().name(), *n);
        }
        assert!(by_name_allowing_tests("cfs", &cfg).is_err());
    }
}
