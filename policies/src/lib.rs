//! Scheduling policies for scx_relay. Each implements
//! [`scheduler_core::Policy`] and is pure logic: no I/O, no system calls,
//! no allocation per task once its queue has grown.
//!
//! | name | order | slice |
//! |---|---|---|
//! | [`fifo`](Fifo) | arrival | `slice / (waiting + 1)`, at least `slice_min` |
//! | [`deadline`](Deadline) | `vruntime + runtime since last sleep` (upstream rustland's rule) | shrinks as the queue outgrows the CPUs, scaled by weight |

mod deadline;
mod fifo;
mod placement;

use scheduler_core::Policy;
use thiserror::Error;

pub use deadline::Deadline;
pub use fifo::Fifo;

/// Names accepted by [`by_name`].
pub const NAMES: &[&str] = &["fifo", "deadline"];

/// Tunables shared by the policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyConfig {
    /// Longest slice a task is given (ns).
    pub slice_ns: u64,
    /// Shortest slice a task is given (ns).
    pub slice_min_ns: u64,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self { slice_ns: 20_000_000, slice_min_ns: 1_000_000 }
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
        other => Err(UnknownPolicy(other.to_owned())),
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
        assert_eq!(e.to_string(), "unknown policy 'cfs' (valid: fifo, deadline)");
    }
}
