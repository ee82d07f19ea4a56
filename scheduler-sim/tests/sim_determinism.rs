//! The simulator is deterministic: one configuration and seed, one report.
#![allow(clippy::unwrap_used)]

mod sim_support;

use scheduler_sim::{simulate, Preset, SimConfig, Stall};
use sim_support::{run_rr, WeightedVtime};

fn mixed(seed: u64) -> SimConfig {
    SimConfig { nr_cpus: 6, smt: 2, cores_per_llc: 2, duration_ns: 500_000_000, seed, ..SimConfig::default() }
}

/// Two runs with one seed give byte-identical JSON and tables; another seed gives a different report.
#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = run_rr(&mixed(7));
    let b = run_rr(&mixed(7));
    assert_eq!(a.to_json(), b.to_json());
    assert_eq!(a.render_table(), b.render_table());
    let c = run_rr(&mixed(8));
    assert_ne!(a.to_json(), c.to_json());
}

/// Determinism holds with a stall and fallback in the run, and with a policy that keeps per-task state.
#[test]
fn deterministic_with_stall_and_stateful_policy() {
    let config = SimConfig {
        stall: Some(Stall { at_ns: 100_000_000, duration_ns: 200_000_000 }),
        stall_timeout_ns: 20_000_000,
        ..mixed(3)
    };
    let run = || simulate(&config, Box::new(WeightedVtime::new(4_000_000))).unwrap().to_json();
    let first = run();
    assert_eq!(first, run());
    assert!(first.contains("\"fallback_episodes\": 1"), "the stall was exercised");
}

/// Every preset is deterministic on its own.
#[test]
fn every_preset_is_deterministic() {
    for def in scheduler_sim::PRESETS {
        let config = SimConfig { workload: def.preset.into(), duration_ns: 100_000_000, ..SimConfig::default() };
        assert_eq!(run_rr(&config).to_json(), run_rr(&config).to_json(), "preset {}", def.name);
    }
    assert_eq!(Preset::Mixed.name(), "mixed");
}
