//! Engine round trip per task (drain → policy → decision) for each policy,
//! with 1, 64 and 4096 tasks queued in user space.
//!
//! The backend is [`Loopback`]: decided tasks come straight back as queued,
//! so the time is the engine's and the policy's alone. Each iteration is one
//! engine step moving `batch` tasks; criterion reports time per task
//! (throughput in elements). Run: `cargo bench --bench engine`.
//!
//! `ring_record` is the floor under that: the user-space share of moving one
//! task through the two ring buffers with no policy at all — copy a 96-byte
//! record (plus the ring's 8-byte header) out of a byte ring, decode and
//! validate it, encode the 40-byte decision and copy it into a second ring.
//! A real BPF ring buffer needs a sched_ext kernel (the kernel side, reserve
//! / submit / drain, runs in the guest and is part of `cargo xtask
//! bench-vm`'s scheduler-cost numbers); this models its memory traffic.
#![allow(clippy::expect_used, missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use policies::PolicyConfig;
use scheduler_core::{
    wire::{RawDecision, RawQueuedTask, DECISION_SIZE, QUEUED_TASK_SIZE},
    CpuView, Engine, EngineConfig, Loopback, SchedContext, Target, Topology,
};

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
            let mut engine = Engine::new(
                policy,
                Topology::uniform(NR_CPUS, 2, 4),
                EngineConfig { batch, max_decisions: batch, ..EngineConfig::default() },
            );
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

/// The ring buffers' record header (length and flags), as BPF's.
const RING_HEADER: usize = 8;
/// Records per ring (the `queued` ring holds ~5,000 96-byte records and their headers).
const RING_RECORDS: usize = 4096;

/// A byte ring of fixed-size records, as the BPF ring buffers lay them out.
struct ByteRing {
    bytes: Vec<u8>,
    record: usize,
    head: usize,
}

impl ByteRing {
    fn new(payload: usize) -> Self {
        let record = (RING_HEADER + payload).next_multiple_of(8);
        Self { bytes: vec![0; record * RING_RECORDS], record, head: 0 }
    }

    /// The next record's slot (header + payload), wrapping around.
    fn next(&mut self) -> &mut [u8] {
        let at = self.head * self.record;
        self.head = (self.head + 1) % RING_RECORDS;
        &mut self.bytes[at..at + self.record]
    }
}

fn ring_record(c: &mut Criterion) {
    let mut group = c.benchmark_group("ring_record");
    const BATCH: usize = 64;
    let mut queued = ByteRing::new(QUEUED_TASK_SIZE);
    let mut dispatched = ByteRing::new(DECISION_SIZE);
    // Fill the queued ring with valid records.
    let mut raw = [0u8; QUEUED_TASK_SIZE];
    for i in 0..RING_RECORDS {
        let task = RawQueuedTask {
            pid: i as i32 + 1,
            tgid: i as i32 + 1,
            cpu: (i as u32 % NR_CPUS) as i32,
            nr_cpus_allowed: NR_CPUS,
            weight: 100,
            task_weight: 100,
            vtime: i as u64,
            generation: 1,
            ..Default::default()
        };
        task.to_bytes(&mut raw);
        let slot = queued.next();
        slot[..4].copy_from_slice(&(QUEUED_TASK_SIZE as u32).to_le_bytes());
        slot[RING_HEADER..RING_HEADER + QUEUED_TASK_SIZE].copy_from_slice(&raw);
    }
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("decode_encode_copy", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                let slot = queued.next();
                let len = u32::from_le_bytes([slot[0], slot[1], slot[2], slot[3]]) as usize;
                let mut record = [0u8; QUEUED_TASK_SIZE];
                record.copy_from_slice(&slot[RING_HEADER..RING_HEADER + len.min(QUEUED_TASK_SIZE)]);
                let task = RawQueuedTask::from_bytes(&record).and_then(|r| r.validate(NR_CPUS)).expect("valid record");
                let decision = task.decide(Target::Any, 1_000_000, task.vtime);
                let mut out = [0u8; DECISION_SIZE];
                RawDecision::encode(&decision, NR_CPUS).expect("valid decision").to_bytes(&mut out);
                let slot = dispatched.next();
                slot[..4].copy_from_slice(&(DECISION_SIZE as u32).to_le_bytes());
                slot[RING_HEADER..RING_HEADER + DECISION_SIZE].copy_from_slice(&out);
                criterion::black_box(&slot[RING_HEADER]);
            }
        });
    });
    group.finish();
}

criterion_group!(benches, round_trip, ring_record);
criterion_main!(benches);
