//! What a wakeup costs its waker decides how `eevdf` runs hackbench
//! (docs/simulator.md, "throughput"). The kernel runs `try_to_wake_up()`,
//! with the scheduler's `ops.select_cpu` and `ops.enqueue`, in the waker's
//! context, so a sender that wakes a receiver pays for it. Under `eevdf` a
//! task's lag is its share less the CPU time it used: senders that pay for
//! many wakeups fall behind, receivers keep their lag, are picked soon after
//! each wakeup, read a few messages and block again, which makes more
//! wakeups for the senders to pay. `deadline` orders by its own keys and
//! does not feed back. With free wakeups the model's `eevdf` batches as
//! `deadline` does; with the guest's costs its receivers run several times
//! as often, as the guest's do.

#![allow(clippy::expect_used)]

use policies::PolicyConfig;
use scheduler_sim::{simulate, Preset, Report, SimConfig, Workload};

/// hackbench's groups on 4 CPUs for 2 s, with the user scheduler's cost per
/// decision in the TCG guest (75 µs) and `wake_cost_ns` per wakeup.
fn hackbench(policy: &str, wake_cost_ns: u64) -> Report {
    let config = SimConfig {
        nr_cpus: 4,
        duration_ns: 2_000_000_000,
        workload: Workload::Preset(Preset::Hackbench),
        decision_cost_ns: 75_000,
        wake_cost_ns,
        ..SimConfig::default()
    };
    let policy = policies::by_name(policy, &PolicyConfig::default()).expect("a shipped policy");
    let r = simulate(&config, policy).expect("a valid configuration");
    r.accounting.check().expect("no task lost");
    r
}

/// Runs of hackbench's receivers (`pipe-r-*`) and senders (`pipe-s-*`).
fn runs(r: &Report) -> (u64, u64) {
    let of = |prefix: &str| r.tasks.iter().filter(|t| t.comm.starts_with(prefix)).map(|t| t.runs).sum();
    (of("pipe-r-"), of("pipe-s-"))
}

#[test]
fn eevdf_receivers_run_often_when_their_wakeups_cost_the_senders() {
    let free = [hackbench("eevdf", 0), hackbench("deadline", 0)].map(|r| runs(&r));
    let costly = [hackbench("eevdf", 125_000), hackbench("deadline", 125_000)].map(|r| runs(&r));
    println!("free wakeups (receivers, senders): eevdf {:?}, deadline {:?}", free[0], free[1]);
    println!("125 µs a wakeup: eevdf {:?}, deadline {:?}", costly[0], costly[1]);
    // Free: eevdf's receivers run about as often as deadline's.
    assert!(free[0].0 < free[1].0 * 2, "free wakeups: {free:?}");
    // Costly: eevdf's receivers run several times as often as deadline's,
    // and several times as often as its own senders.
    assert!(costly[0].0 > costly[1].0 * 3, "125 µs a wakeup: {costly:?}");
    assert!(costly[0].0 > costly[0].1 * 3, "125 µs a wakeup: {costly:?}");
}
