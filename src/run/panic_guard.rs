//! Panic containment: a policy that panics must not take the machine's
//! scheduler down with it in an unknown state.
//!
//! [`GuardedPolicy`] wraps the session's policy and runs each of its calls under
//! `catch_unwind`. The first panic is recorded (message and location, by the
//! hook [`install_hook`] sets) and the policy is retired: from then on it
//! holds and decides nothing, [`tripped`] is true, and the session loop stops
//! and unregisters the dispatcher through its normal path, which then
//! reports the panic (exit status 101, as an uncaught Rust panic). Tasks the
//! policy held are not lost: they are still pending in the dispatcher, which
//! dispatches them itself until the kernel has switched back to the fair
//! class.
//!
//! A panic anywhere else is not caught: it unwinds out of the session (the
//! dispatcher's link is dropped, which unregisters it) and the hook prints
//! it on one line. Should the binary ever be built with `panic = "abort"`,
//! the hook prints every panic before the abort, and the kernel unloads the
//! scheduler when the process dies.

use std::{
    cell::Cell,
    panic::{self, AssertUnwindSafe},
    sync::{
        atomic::{AtomicBool, Ordering},
        Mutex,
    },
};

use scheduler_core::{Decision, FastGrant, Policy, QueuedTask, SchedContext, TaskStats};

/// Set once a contained policy panicked.
static TRIPPED: AtomicBool = AtomicBool::new(false);
/// The first contained panic's message and location.
static MESSAGE: Mutex<Option<String>> = Mutex::new(None);

thread_local! {
    /// Whether this thread is inside a contained policy call.
    static IN_POLICY: Cell<bool> = const { Cell::new(false) };
}

/// Installs the panic hook: it records the first contained panic's message
/// (a [`GuardedPolicy`] policy's, which the session reports); it prints any
/// other panic at once (one line). A panic caught elsewhere (scx_utils'
/// topology reading, `topology::read`) is printed, not recorded: it must
/// not stand in for a later policy panic's message.
pub fn install_hook() {
    panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned());
        let text = match info.location() {
            Some(l) => format!("{msg} (at {}:{})", l.file(), l.line()),
            None => msg,
        };
        let contained = IN_POLICY.try_with(Cell::get).unwrap_or(false) && cfg!(panic = "unwind");
        if !contained {
            log::error!("panic: {text}");
        } else if let Ok(mut slot) = MESSAGE.lock() {
            slot.get_or_insert(text);
        }
    }));
}

/// Whether a contained policy has panicked.
pub fn tripped() -> bool {
    TRIPPED.load(Ordering::Relaxed)
}

/// The first recorded panic, if any.
pub fn message() -> Option<String> {
    MESSAGE.lock().ok().and_then(|m| m.clone())
}

/// A policy whose panics are caught; see the module docs.
pub struct GuardedPolicy {
    inner: Option<Box<dyn Policy>>,
    name: String,
}

impl GuardedPolicy {
    /// Wraps `policy`.
    pub fn new(policy: Box<dyn Policy>) -> Self {
        let name = policy.name().to_owned();
        Self { inner: Some(policy), name }
    }

    /// Runs `f` on the policy unless it already panicked; a panic retires it.
    fn call<R>(&mut self, default: R, f: impl FnOnce(&mut dyn Policy) -> R) -> R {
        let Some(policy) = self.inner.as_deref_mut() else { return default };
        IN_POLICY.with(|c| c.set(true));
        let result = panic::catch_unwind(AssertUnwindSafe(|| f(policy)));
        IN_POLICY.with(|c| c.set(false));
        match result {
            Ok(r) => r,
            Err(_) => {
                // Its state may be torn mid-update: never touch it again,
                // not even to drop it.
                if let Some(broken) = self.inner.take() {
                    std::mem::forget(broken);
                }
                TRIPPED.store(true, Ordering::Relaxed);
                default
            }
        }
    }
}

impl Policy for GuardedPolicy {
    fn name(&self) -> &str {
        &self.name
    }

    fn enqueue(&mut self, task: &QueuedTask, ctx: &SchedContext<'_>) {
        self.call((), |p| p.enqueue(task, ctx));
    }

    fn dispatch(&mut self, ctx: &SchedContext<'_>) -> Option<Decision> {
        self.call(None, |p| p.dispatch(ctx))
    }

    fn pending(&self) -> usize {
        // A read-only call; a policy that panics here is retired on the
        // next mutable call, which panics the same way or not at all.
        let Some(policy) = self.inner.as_deref() else { return 0 };
        panic::catch_unwind(AssertUnwindSafe(|| policy.pending())).unwrap_or_else(|_| {
            TRIPPED.store(true, Ordering::Relaxed);
            0
        })
    }

    fn take_all(&mut self, out: &mut Vec<QueuedTask>) {
        self.call((), |p| p.take_all(out));
    }

    fn fast_path(&mut self, task: &QueuedTask, stats: &TaskStats, ctx: &SchedContext<'_>) -> Option<FastGrant> {
        self.call(None, |p| p.fast_path(task, stats, ctx))
    }
}

#[cfg(test)]
mod tests {
    use scheduler_core::{CpuView, Topology};

    use super::*;

    /// Panics on its second decision.
    struct Bomb(u32);
    impl Policy for Bomb {
        fn name(&self) -> &str {
            "bomb"
        }
        fn enqueue(&mut self, _: &QueuedTask, _: &SchedContext<'_>) {}
        #[allow(clippy::panic)]
        fn dispatch(&mut self, _: &SchedContext<'_>) -> Option<Decision> {
            self.0 += 1;
            if self.0 == 2 {
                panic!("boom {}", self.0);
            }
            Some(QueuedTask::new(7, 0).decide(scheduler_core::Target::Any, 1, 1))
        }
        fn pending(&self) -> usize {
            1
        }
        fn take_all(&mut self, _: &mut Vec<QueuedTask>) {}
    }

    /// A panic inside the policy is caught and recorded with its message;
    /// the policy is retired (nothing pending, no decisions) and keeps its name.
    #[test]
    fn panic_is_contained_and_recorded() {
        install_hook();
        // A panic caught outside a policy (as scx_utils' in topology::read)
        // is not the one recorded.
        #[allow(clippy::panic)]
        let caught = panic::catch_unwind(|| panic!("elsewhere"));
        assert!(caught.is_err());
        assert_eq!(message(), None);
        let cpus = CpuView::new(Topology::uniform(1, 1, 1));
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        let mut p = GuardedPolicy::new(Box::new(Bomb(0)));
        assert!(p.dispatch(&ctx).is_some());
        assert!(!tripped());
        assert_eq!(p.dispatch(&ctx), None);
        assert!(tripped());
        assert_eq!((p.pending(), p.dispatch(&ctx), p.name()), (0, None, "bomb"));
        let msg = message().unwrap_or_default();
        assert!(msg.starts_with("boom 2 (at src/run/panic_guard.rs:"), "{msg}");
        let _ = panic::take_hook();
    }

    /// The guard forwards the fast-path question (a trait method with a
    /// default: a wrapper that forgot it would grant nothing, silently).
    #[test]
    fn fast_path_is_forwarded() {
        let cpus = CpuView::new(Topology::uniform(1, 1, 1));
        let ctx = SchedContext { now_ns: 0, cpus: &cpus };
        let policy = policies::by_name("deadline", &policies::PolicyConfig::default()).unwrap();
        let mut p = GuardedPolicy::new(policy);
        let stats = TaskStats {
            nr_wakeups: 100,
            avg_burst_ns: 1_000_000,
            avg_wake_period_ns: 16_000_000,
            // Woken by its timer (policies::latency rule 5).
            irq_wake_share: scheduler_core::shared::IRQ_SHARE_ONE,
            ..Default::default()
        };
        assert!(p.fast_path(&QueuedTask::new(7, 0), &stats, &ctx).is_some());
    }
}
