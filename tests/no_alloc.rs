//! The engine allocates nothing per task in steady state: a counting global
//! allocator watches thousands of round trips through each policy.
#![allow(clippy::unwrap_used)]

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
    sync::atomic::{AtomicU64, Ordering},
};

use scheduler_core::{Engine, EngineConfig, Loopback, Policy, Topology};

struct Counting;

thread_local! {
    /// Whether allocations on this thread are counted: only the test's own
    /// thread is watched (libtest's threads allocate as they please).
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}
static ALLOCS: AtomicU64 = AtomicU64::new(0);
/// The tests share ALLOCS: they take turns.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn counting(on: bool) {
    COUNTING.with(|c| c.set(on));
}

fn count() {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Frees count too: the loop frees nothing either (an allocator
        // call may take a lock another thread holds).
        count();
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// 2,000 tasks in flight, 20,000 round trips per policy: zero allocations
/// once the first steps have sized the queues.
#[test]
fn steady_state_allocates_nothing() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // The counter is live: a boxed value while counting is seen.
    counting(true);
    let probe = std::hint::black_box(Box::new(7u64));
    counting(false);
    assert!(ALLOCS.load(Ordering::SeqCst) >= 1, "counting allocator saw no allocation");
    drop(probe);

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

/// 2,000 tasks in flight through `policy`: after 100 steps have sized the
/// queues, 20,000 round trips allocate nothing.
fn assert_round_trips_allocate_nothing(name: &str, policy: Box<dyn Policy>) {
    let mut engine = Engine::new(policy, Topology::uniform(8, 2, 4), EngineConfig { batch: 64, max_decisions: 64 });
    let mut backend = Loopback::new(2_000, 8, 4_096);
    for _ in 0..100 {
        engine.step(&mut backend).unwrap();
    }
    let before = backend.sent();
    ALLOCS.store(0, Ordering::SeqCst);
    counting(true);
    for _ in 0..(20_000 / 64) {
        engine.step(&mut backend).unwrap();
    }
    counting(false);
    let round_trips = backend.sent() - before;
    assert!(round_trips >= 19_000, "{name}: only {round_trips} round trips");
    assert_eq!(ALLOCS.load(Ordering::SeqCst), 0, "{name}: allocated during {round_trips} round trips");
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
    let mut engine = Engine::new(first, Topology::uniform(8, 2, 4), EngineConfig { batch: 64, max_decisions: 16 });
    let mut backend = Loopback::new(2_000, 8, 4_096);
    for _ in 0..100 {
        engine.step(&mut backend).unwrap();
    }
    for name in policies::NAMES.iter().chain(policies::NAMES) {
        let prepared = scheduler_core::PreparedSwitch::new(policies::by_name(name, &cfg).unwrap(), 4_096);
        ALLOCS.store(0, Ordering::SeqCst);
        counting(true);
        let retired = engine.switch_prepared(prepared, 0);
        for _ in 0..50 {
            engine.step(&mut backend).unwrap();
        }
        counting(false);
        assert!(retired.handed > 1_000, "{name}: {} handed over", retired.handed);
        assert_eq!(ALLOCS.load(Ordering::SeqCst), 0, "{name}: the switch or the steps after it allocated");
        drop(retired);
    }
}
