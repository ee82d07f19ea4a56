//! The engine allocates nothing per task in steady state, nor in a live
//! switch: the scheduler's own allocator probe (`scx_relay::alloc_probe`,
//! `loop allocs` in `--stats`) watches thousands of round trips through each
//! policy.
#![allow(clippy::unwrap_used)]

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

use scheduler_core::{Decision, Engine, EngineConfig, Loopback, Policy, QueuedTask, SchedContext, Topology};
use scx_relay::alloc_probe::{loop_alloc_calls, OnLoop};

/// The scheduler binary's own probe (`loop allocs` in `--stats`): allocator
/// calls (allocations, reallocations, frees) made on a thread marked as the
/// scheduling loop ([`OnLoop`]) are counted; libtest's threads are not.
#[global_allocator]
static GLOBAL: scx_relay::CountingAllocator = scx_relay::CountingAllocator;

/// The tests share the probe's counter: they take turns.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Allocator calls this thread makes while running `f`, as the loop.
fn allocator_calls_during(f: impl FnOnce()) -> u64 {
    let before = loop_alloc_calls().unwrap();
    {
        let _on_loop = OnLoop::enter();
        f();
    }
    loop_alloc_calls().unwrap() - before
}

/// 2,000 tasks in flight, 20,000 round trips per policy: zero allocations
/// once the first steps have sized the queues.
#[test]
fn steady_state_allocates_nothing() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // The counter is live: a boxed value made and freed on the loop is seen.
    let seen = allocator_calls_during(|| drop(std::hint::black_box(Box::new(7u64))));
    assert!(seen >= 2, "the probe saw {seen} allocator calls for an allocation and a free");

    for name in policies::NAMES {
        let policy = policies::by_name(name, &policies::PolicyConfig::default()).unwrap();
        assert_round_trips_allocate_nothing(name, policy);
    }
}

/// The routing policy too (three groups over three shipped policies, a
/// comm matcher and a CPU set): zero allocations in 20,000 round trips.
#[test]
fn routing_steady_state_allocates_nothing() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let config = policies::RoutingConfig::parse(
        "[default]\npolicy = \"eevdf\"\n[[route]]\npolicy = \"interactive\"\ncomm = \"loop*\"\ncpus = \"0-3\"\n\
         [[route]]\npolicy = \"local\"\nnice = [-20, -1]\n",
    )
    .unwrap();
    let router = policies::Router::new(&config, &policies::PolicyConfig::default(), None).unwrap();
    assert_round_trips_allocate_nothing("routing", Box::new(router));
}

/// The routing policy with cgroup routes, as scx_relay runs it: tasks in
/// 64 cgroups, half of them in the table (some matching a route), half
/// unknown, so that the loop also counts and posts ids to a resolver
/// thread, which it wakes: zero allocations on the loop.
#[test]
fn routing_by_cgroup_allocates_nothing() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let config = policies::RoutingConfig::parse(
        "[[route]]\npolicy = \"interactive\"\ncgroup = \"/system.slice/*\"\n\
         [[route]]\npolicy = \"local\"\ncgroup = \"/user.slice/*\"\ncpus = \"0-3\"\n",
    )
    .unwrap();
    let unresolved = Arc::new(AtomicU64::new(0));
    let (reader, mut writer) = policies::routing::cgroup_table(&config, unresolved.clone());
    for cgid in 1..=32u64 {
        let path = ["/system.slice/a.service", "/user.slice/b.scope", "/init.scope"][cgid as usize % 3];
        assert!(writer.insert(cgid, writer.bits_of(path.as_bytes())));
    }
    // A resolver that takes every posted id and enters none: the loop keeps
    // posting and waking it.
    let posted = Arc::new(AtomicU64::new(0));
    let resolver = {
        let posted = posted.clone();
        std::thread::spawn(move || {
            writer.register_thread();
            loop {
                let closed = writer.is_closed();
                while writer.take_request().is_some() {
                    posted.fetch_add(1, Ordering::Relaxed);
                }
                if closed {
                    return;
                }
                writer.wait(std::time::Duration::from_secs(1));
            }
        })
    };
    let router = policies::Router::new(&config, &policies::PolicyConfig::default(), Some(reader)).unwrap();
    // The router (and with it the reader) is dropped at the end: the resolver returns.
    assert_round_trips_allocate_nothing("routing by cgroup", Box::new(InCgroups(router)));
    resolver.join().unwrap();
    assert!(unresolved.load(Ordering::Relaxed) > 0, "unknown cgroups were routed");
    assert!(posted.load(Ordering::Relaxed) > 0, "and posted to the resolver");
}

/// Gives each task a cgroup id from its pid (1..=64), as the dispatcher's
/// records carry one, and routes it.
struct InCgroups(policies::Router);

impl Policy for InCgroups {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn enqueue(&mut self, task: &QueuedTask, ctx: &SchedContext<'_>) {
        let mut t = *task;
        t.cgid = 1 + t.pid as u64 % 64;
        self.0.enqueue(&t, ctx);
    }

    fn dispatch(&mut self, ctx: &SchedContext<'_>) -> Option<Decision> {
        self.0.dispatch(ctx)
    }

    fn pending(&self) -> usize {
        self.0.pending()
    }

    fn take_all(&mut self, out: &mut Vec<QueuedTask>) {
        self.0.take_all(out);
    }
}

/// 2,000 tasks in flight through `policy`: after 100 steps have sized the
/// queues, 20,000 round trips allocate nothing.
fn assert_round_trips_allocate_nothing(name: &str, policy: Box<dyn Policy>) {
    let mut engine = Engine::new(
        policy,
        Topology::uniform(8, 2, 4),
        EngineConfig { batch: 64, max_decisions: 64, ..EngineConfig::default() },
    );
    let mut backend = Loopback::new(2_000, 8, 4_096);
    for _ in 0..100 {
        engine.step(&mut backend).unwrap();
    }
    let before = backend.sent();
    let calls = allocator_calls_during(|| {
        for _ in 0..(20_000 / 64) {
            engine.step(&mut backend).unwrap();
        }
    });
    let round_trips = backend.sent() - before;
    assert!(round_trips >= 19_000, "{name}: only {round_trips} round trips");
    assert_eq!(calls, 0, "{name}: {calls} allocator calls during {round_trips} round trips");
}

/// A live switch through `Engine::switch_prepared` (as the control server
/// does: the new policy and the hand-over list built off the loop)
/// allocates nothing on the switching thread, to every shipped policy in
/// turn, nor do the round trips right after it.
#[test]
fn prepared_switches_allocate_nothing() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Per-CPU state sized when built, as scx_relay's factory does.
    let cfg = policies::PolicyConfig { nr_cpus: 8, ..policies::PolicyConfig::default() };
    let first = policies::by_name("fifo", &cfg).unwrap();
    // Fewer decisions than arrivals per step: the policy holds most of the
    // 2,000 tasks, and every switch hands them over.
    let mut engine = Engine::new(
        first,
        Topology::uniform(8, 2, 4),
        EngineConfig { batch: 64, max_decisions: 16, ..EngineConfig::default() },
    );
    let mut backend = Loopback::new(2_000, 8, 4_096);
    for _ in 0..100 {
        engine.step(&mut backend).unwrap();
    }
    for name in policies::NAMES.iter().chain(policies::NAMES) {
        let prepared = scheduler_core::PreparedSwitch::new(policies::by_name(name, &cfg).unwrap(), 4_096);
        let mut retired = None;
        let calls = allocator_calls_during(|| {
            retired = Some(engine.switch_prepared(prepared, 0));
            for _ in 0..50 {
                engine.step(&mut backend).unwrap();
            }
        });
        let handed = retired.as_ref().map_or(0, |r| r.handed);
        assert!(handed > 1_000, "{name}: {handed} handed over");
        assert_eq!(calls, 0, "{name}: {calls} allocator calls in the switch or the steps after it");
        drop(retired);
    }
}
