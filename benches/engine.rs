//! Engine round trip per task (drain → policy → decision) for each policy,
//! with 1, 64 and 4096 tasks queued in user space.
//!
//! The backend is [`Loopback`]: decided tasks come straight back as queued,
//! so the time is the engine's and the policy's alone. Each iteration is one
//! engine step moving `batch` tasks; criterion reports time per task
//! (throughput in elements). Run: `cargo bench --bench engine`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use policies::PolicyConfig;
use scheduler_core::{CpuView, Engine, EngineConfig, Loopback, SchedContext, Topology};

const NR_CPUS: u32 = 8;
const QUEUED: [usize; 3] = [1, 64, 4096];
const MAX_BATCH: usize = 64;

fn round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine_round_trip");
    for name in policies::NAMES {
        for queued in QUEUED {
            let batch = queued.min(MAX_BATCH);
            // The policy holds `queued - batch` tasks; `batch` more circulate
            // through the backend each step, so `queued` are always waiting.
            let mut policy = policies::by_name(name, &PolicyConfig::default()).expect("known policy");
            let cpus = CpuView::new(Topology::uniform(NR_CPUS, 2, 4));
            let ctx = SchedContext { now_ns: 0, cpus: &cpus };
            for i in batch..queued {
                policy.enqueue(&Loopback::task(i, NR_CPUS), &ctx);
            }
            let mut engine =
                Engine::new(policy, Topology::uniform(NR_CPUS, 2, 4), EngineConfig { batch, max_decisions: batch });
            let mut backend = Loopback::new(batch, NR_CPUS, 2 * batch);
            group.throughput(Throughput::Elements(batch as u64));
            group.bench_with_input(BenchmarkId::new(*name, queued), &queued, |b, _| {
                b.iter(|| engine.step(&mut backend).expect("loopback never fails"));
            });
            assert_eq!(engine.pending(), queued - batch, "{name}: depth drifted");
        }
    }
    group.finish();
}

criterion_group!(benches, round_trip);
criterion_main!(benches);
