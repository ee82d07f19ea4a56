//! The wakeup fast path's costs on the user side and in the simulator's
//! model of the dispatcher. Run: `cargo bench -p scheduler-sim --bench fast_path`.
//!
//! `publish`: what the engine does per received task when the backend shares
//! the per-task context (`scheduler_core::shared`): find the task's slot,
//! read its statistics, publish the policy's answer — for one of 1000
//! tasks holding slots in a full-size table, a different task each
//! iteration. `steady`: the grant is unchanged (a load, no store);
//! `changed`: the budget changes every time (a store).
//!
//! `decision`: one granted wakeup's fast path in the simulator's model on a
//! machine whose every CPU runs a hog: the grant check, the CPU pick (no
//! CPU idle: the one whose task ran longest, a scan of every allowed CPU),
//! the insert into that CPU's queue and the preempt kick, plus undoing them
//! (so every iteration sees the same machine); with 4 and 64 CPUs.
#![allow(clippy::expect_used, missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use scheduler_core::shared::{find_slot, FastGrant, Published, TaskSharedTable};
use scheduler_sim::bench::FastPathBench;

const TASKS: i32 = 1000;
const FIRST_PID: i32 = 1000;

fn publish(c: &mut Criterion) {
    let table = TaskSharedTable::new();
    for pid in FIRST_PID..FIRST_PID + TASKS {
        table.claim(pid).expect("a free slot").publish(pid, Some(FastGrant::new(1_000_000)));
    }
    // A steady grant writes nothing; a changed budget writes.
    let slot = find_slot(table.slots(), FIRST_PID).expect("claimed");
    assert_eq!(slot.publish(FIRST_PID, Some(FastGrant::new(1_000_000))), None);
    assert_eq!(slot.publish(FIRST_PID, Some(FastGrant::new(2_000_000))), Some(Published::Granted));
    slot.publish(FIRST_PID, Some(FastGrant::new(1_000_000)));
    let mut group = c.benchmark_group("publish");
    for changed in [false, true] {
        let name = if changed { "changed" } else { "steady" };
        let (mut i, mut flip) = (0, false);
        group.bench_function(name, |b| {
            b.iter(|| {
                let pid = FIRST_PID + i;
                i = (i + 1) % TASKS;
                flip ^= changed;
                let budget_ns = if flip { 2_000_000 } else { 1_000_000 };
                let slot = find_slot(table.slots(), black_box(pid)).expect("claimed");
                let stats = slot.stats(pid).expect("its own");
                black_box(stats);
                slot.publish(pid, Some(FastGrant::new(budget_ns)))
            })
        });
    }
    group.finish();
}

fn decision(c: &mut Criterion) {
    let mut group = c.benchmark_group("decision");
    for nr_cpus in [4, 64] {
        let mut bench = FastPathBench::saturated(nr_cpus);
        assert!(bench.wakeup().is_some(), "a granted wakeup on a saturated machine is placed");
        group.bench_with_input(BenchmarkId::new("saturated", nr_cpus), &nr_cpus, |b, _| {
            b.iter(|| black_box(bench.wakeup()))
        });
    }
    group.finish();
}

criterion_group!(benches, publish, decision);
criterion_main!(benches);
