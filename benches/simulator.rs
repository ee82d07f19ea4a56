//! One short simulator run per policy: 8 CPUs, 200 ms of the `mixed`
//! workload, seed 1. Tracks how fast a policy can be evaluated offline.
//! Run: `cargo bench --bench simulator`.
#![allow(clippy::expect_used, missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use policies::PolicyConfig;
use scheduler_sim::{simulate, SimConfig};

fn short_run(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim_mixed_8cpu_200ms");
    group.sample_size(10);
    let config = SimConfig { duration_ns: 200_000_000, ..SimConfig::default() };
    for name in policies::NAMES {
        group.bench_with_input(BenchmarkId::from_parameter(name), name, |b, name| {
            b.iter(|| {
                let policy = policies::by_name(name, &PolicyConfig::default()).expect("known policy");
                simulate(&config, policy).expect("valid config")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, short_run);
criterion_main!(benches);
