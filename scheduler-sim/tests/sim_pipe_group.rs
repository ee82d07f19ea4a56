//! hackbench's pipe groups ([`Behavior::PipeGroup`]): a receiver reads what
//! its pipe holds for one wakeup, so how long it waits sets how many
//! wakeups (and context switches) the same messages take; a sender blocks on
//! a full pipe; no message or task is lost.
#![allow(clippy::unwrap_used)]

mod sim_support;

use scheduler_sim::{simulate, Behavior, Count, Report, SimConfig, StartDelays, TaskClass, TaskGroup, Workload};
use sim_support::RoundRobin;

/// One group of `senders` writers and one reader, pipes of `capacity`
/// messages of 10 µs, on `cpus` CPUs for 1 s, with the simulator's
/// invariants checked after every event.
fn group(cpus: u32, senders: u32, capacity: u32) -> SimConfig {
    let g = Behavior::PipeGroup { senders, receivers: 1, message_ns: 10_000, capacity };
    SimConfig {
        nr_cpus: cpus,
        duration_ns: 1_000_000_000,
        workload: Workload::Custom(vec![TaskGroup::new(TaskClass::Pipe, Count::Fixed(1), g)]),
        check_invariants: true,
        ..SimConfig::default()
    }
}

/// The receiver is created first: (messages it read, its runs).
fn reader(r: &Report) -> (u64, u64) {
    (r.tasks[0].work_units, r.tasks[0].runs)
}

/// On one CPU the sender writes until the pipe is full or its 1 ms slice
/// ends, so the receiver reads a batch per run: with room for 8 messages,
/// about 8; with room for 1, one message per run, the writer blocking on
/// every other write.
#[test]
fn a_reader_reads_what_its_pipe_holds_per_wakeup() {
    let roomy = simulate(&group(1, 1, 8), Box::new(RoundRobin::new(1_000_000))).unwrap();
    let (read, runs) = reader(&roomy);
    assert!(read > 40_000, "about half of 1 s of 10 µs steps are reads: {read}");
    assert!(read >= 7 * runs, "batches of about 8: {read} messages in {runs} runs");
    assert_eq!(roomy.tasks[1].work_units, 0, "a sender's work is counted where it is read");

    let tight = simulate(&group(1, 1, 1), Box::new(RoundRobin::new(1_000_000))).unwrap();
    let (read, runs) = reader(&tight);
    // Each message now takes a wakeup through the user scheduler too.
    assert!(read > 20_000, "{read}");
    assert!(runs >= read, "one message per run: {read} messages in {runs} runs");
}

/// Writers blocked on a full pipe are all woken in time, one per message
/// read: four senders on two CPUs keep a one-message pipe busy, each sender
/// running, and the invariant check finds no task asleep with nothing to
/// wake it.
#[test]
fn blocked_writers_all_come_back() {
    let r = simulate(&group(2, 4, 1), Box::new(RoundRobin::new(1_000_000))).unwrap();
    assert!(reader(&r).0 > 10_000, "{:?}", reader(&r));
    for t in &r.tasks[1..] {
        assert!(t.runs > 100, "sender {} ran {} times", t.pid, t.runs);
    }
}

/// A context switch's cost (`StartDelays::every`, `sim --switch-cost-ns`)
/// is paid per switch, so the same pipes pass fewer messages with it, and
/// a start delay of 0 is no delay at all.
#[test]
fn a_switch_cost_costs_messages() {
    let free = simulate(&group(2, 4, 8), Box::new(RoundRobin::new(1_000_000))).unwrap();
    let costly = SimConfig { start_delays: StartDelays::every(100_000), ..group(2, 4, 8) };
    let costly = simulate(&costly, Box::new(RoundRobin::new(1_000_000))).unwrap();
    let (a, b) = (reader(&free).0, reader(&costly).0);
    assert!(b * 10 < a * 9, "100 µs per switch passes under 90 % of the messages: {b} vs {a}");
    assert_eq!(StartDelays::every(0), StartDelays::default());
}

/// A message read wakes one blocked writer, not all: with three senders
/// blocked on a one-message pipe, waking all would send two of them back
/// to sleep on a full pipe per message, a wakeup each for nothing.
#[test]
fn a_read_wakes_one_writer() {
    let r = simulate(&group(1, 3, 1), Box::new(RoundRobin::new(1_000_000))).unwrap();
    let read = reader(&r).0;
    let sender_runs: u64 = r.tasks[1..].iter().map(|t| t.runs).sum();
    assert!(read > 10_000, "{read}");
    // About one sender run per message (a write, then a block on the full
    // pipe until the message is read); waking all three: about three.
    assert!(sender_runs * 10 < read * 12, "{sender_runs} sender runs for {read} messages");
}

/// A wakeup costs its waker (`SimConfig::wake_cost_ns`, `sim
/// --wake-cost-ns`): on one CPU with a one-message pipe, every message
/// takes two wakeups (the writer wakes the reader, the reader the blocked
/// writer), so 10 µs per wakeup beside 10 µs per write and per read halves
/// the messages.
#[test]
fn a_wakeup_costs_messages() {
    let free = simulate(&group(1, 1, 1), Box::new(RoundRobin::new(1_000_000))).unwrap();
    let costly = SimConfig { wake_cost_ns: 10_000, ..group(1, 1, 1) };
    let costly = simulate(&costly, Box::new(RoundRobin::new(1_000_000))).unwrap();
    let (a, b) = (reader(&free).0, reader(&costly).0);
    assert!(b * 10 > a * 4 && b * 10 < a * 6, "about half the messages: {b} vs {a}");
}

/// The waker pays, not the task woken: one writer and its reader on two
/// CPUs, the pipe never full, so the writer wakes the reader whenever the
/// reader emptied the pipe and the reader wakes no one. The writer's CPU
/// time per message grows by about a wakeup's cost per reader wakeup; the
/// reader's stays.
#[test]
fn the_waker_pays() {
    let run = |cost| {
        let config = SimConfig { wake_cost_ns: cost, ..group(2, 1, 1_000_000) };
        simulate(&config, Box::new(RoundRobin::new(1_000_000))).unwrap()
    };
    let (free, costly) = (run(0), run(20_000));
    let per_message = |r: &Report| {
        let read = reader(r).0 as f64;
        (r.tasks[0].cpu_ns as f64 / read, r.tasks[1].cpu_ns as f64 / read)
    };
    let ((reader_free, writer_free), (reader_costly, writer_costly)) = (per_message(&free), per_message(&costly));
    println!("per message: reader {reader_free:.0} and {reader_costly:.0} ns, writer {writer_free:.0} and {writer_costly:.0} ns");
    println!(
        "reader runs {} and {}, messages {} and {}",
        reader(&free).1,
        reader(&costly).1,
        reader(&free).0,
        reader(&costly).0
    );
    assert!((reader_costly / reader_free - 1.0).abs() < 0.05, "the reader's: {reader_free} and {reader_costly} ns");
    // Each of the reader's runs but its first began with a wakeup the writer paid for.
    let (read, runs) = reader(&costly);
    let paid = (writer_costly - writer_free) * read as f64;
    let owed = (runs - 1) as f64 * 20_000.0;
    assert!(paid > owed * 0.8 && paid < owed * 1.2, "{paid:.0} ns paid for {} wakeups", runs - 1);
}

/// A fork's parent pays for waking each child it spawns.
#[test]
fn a_fork_pays_for_its_children() {
    let fork = |cost| {
        let g = Behavior::ForkBurst { children: 4, child_run_ns: 100_000, period_ns: 10_000_000 };
        let config = SimConfig {
            nr_cpus: 2,
            duration_ns: 1_000_000_000,
            workload: Workload::Custom(vec![TaskGroup::new(TaskClass::Fork, Count::Fixed(1), g)]),
            check_invariants: true,
            wake_cost_ns: cost,
            ..SimConfig::default()
        };
        simulate(&config, Box::new(RoundRobin::new(1_000_000))).unwrap()
    };
    let (free, costly) = (fork(0), fork(50_000));
    // The children that finished (each adds a work unit to its parent).
    let children = costly.tasks[0].work_units;
    assert!(children > 300, "about 100 rounds of 4: {children}");
    let extra = costly.tasks[0].cpu_ns - free.tasks[0].cpu_ns;
    assert!(
        extra * 10 > children * 50_000 * 8 && extra * 10 < children * 50_000 * 12,
        "{extra} ns for {children} children"
    );
}
