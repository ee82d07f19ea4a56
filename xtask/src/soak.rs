//! `cargo xtask soak [--minutes 10] [--policies a,b]`: the long version of
//! the guest case `tests/vm/reliability_soak.sh`, in which CI shares 60 s
//! among the policies (20 s each at least). `cargo xtask soak --recipe-runs 20` instead runs upstream's stress
//! recipe 20 times per policy (the guest case
//! `tests/vm/reliability_recipe_tally.sh`, which CI runs once per policy)
//! and prints the tally of ejections.
//!
//! It builds scx_relay (release), asks it which policies it ships (unless
//! `--policies` names them), and boots the guest once with the soak case
//! alone and its knobs on the kernel command line (`relay.soak_seconds=`,
//! `relay.soak_policies=`, exported to the case as `RELAY_SOAK_SECONDS` and
//! `RELAY_SOAK_POLICIES`), with a case timeout that fits the run. The case
//! fails on an ejection, a stall message, a page fault of the scheduler
//! after start-up, resident memory growth or a workload that does not
//! complete; its notes give the counters (`scx_relay ctl status`, JSON)
//! and VmRSS at start and end per policy.

use std::process::Command;

use anyhow::{bail, ensure, Context, Result};

use crate::{
    guest_binaries,
    guest_kernel::KernelOptions,
    qemu::VmOptions,
    setup,
    vm_test::{self, Report},
    workspace::Workspace,
};

/// The guest case this command runs.
const CASE: &str = "reliability_soak";
/// The guest case of `--recipe-runs`.
const RECIPE_CASE: &str = "reliability_recipe_tally";
/// Most recipe runs accepted, per policy.
const MAX_RECIPE_RUNS: u64 = 500;
/// Time per recipe run: the recipe's 45 s limit, start and unload (s).
const SECONDS_PER_RECIPE_RUN: u64 = 120;
/// Longest soak accepted, per policy (minutes).
const MAX_MINUTES: u64 = 24 * 60;
/// Time per policy besides the load itself: start, drain, unload (s).
const OVERHEAD_PER_POLICY_S: u64 = 180;

/// Options of `cargo xtask soak`.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Minutes of mixed load per policy (1..=1440).
    #[arg(long, default_value_t = 10, value_name = "MINUTES")]
    pub minutes: u64,
    /// Policies to soak, comma-separated (default: every policy scx_relay ships).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub policies: Vec<String>,
    /// Instead of the mixed load: run upstream's stress recipe
    /// (`stress-ng -t 31 --aggressive -M -c N -f N --affinity 1
    /// --affinity-delay 1 --affinity-pin`) this many times per policy
    /// (1..=500) and print the tally of ejections.
    #[arg(long, value_name = "RUNS")]
    pub recipe_runs: Option<u64>,
    /// Guest machine and limits (the boot's limit is derived from the soak's
    /// length unless --timeout-s is given).
    #[command(flatten)]
    pub vm: VmOptions,
    /// Guest kernel options.
    #[command(flatten)]
    pub kernel: KernelOptions,
}

/// Run the subcommand; `Ok(false)` when the soak failed.
pub fn run(opts: &Options) -> Result<bool> {
    ensure!(
        (1..=MAX_MINUTES).contains(&opts.minutes),
        "--minutes {} is out of range (1..={MAX_MINUTES})",
        opts.minutes
    );
    let ws = Workspace::locate()?;
    if let Some(runs) = opts.recipe_runs {
        ensure!((1..=MAX_RECIPE_RUNS).contains(&runs), "--recipe-runs {runs} is out of range (1..={MAX_RECIPE_RUNS})");
    }
    let kernel = setup::prepare(&ws, &opts.kernel)?;
    guest_binaries::build_workspace_binaries(&ws)?;
    let policies = if opts.policies.is_empty() { shipped_policies(&ws)? } else { opts.policies.clone() };
    ensure!(
        policies.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')),
        "--policies must be names separated by commas, got {:?}",
        policies
    );
    if let Some(runs) = opts.recipe_runs {
        let mut policies = policies;
        if opts.policies.is_empty() {
            // Routing is built from a configuration, not named by the binary;
            // the guest's policy_args gives it one.
            policies.push("routing".to_owned());
        }
        return recipe_tally(&ws, &kernel, opts, &policies, runs);
    }
    let seconds = opts.minutes * 60;
    let case_timeout_s = (seconds + OVERHEAD_PER_POLICY_S) * policies.len() as u64;
    println!("soak: {} min per policy: {}; case timeout {case_timeout_s} s", opts.minutes, policies.join(", "));
    let vm_opts = vm_test::Options {
        filters: vec![CASE.to_owned()],
        smoke: false,
        long: false,
        case_timeout_s,
        knobs: Vec::new(),
        vm: opts.vm.clone(),
        kernel: opts.kernel.clone(),
    };
    let extra = [format!("relay.soak_seconds={seconds}"), format!("relay.soak_policies={}", policies.join(","))];
    let Report { passed, failed, ok, .. } = vm_test::run_cases_with(&ws, &kernel, &vm_opts, &extra)?;
    println!("soak: {passed} passed, {failed} failed");
    Ok(ok)
}

/// `--recipe-runs`: one boot, the tally case alone, `runs` recipes per policy.
fn recipe_tally(
    ws: &Workspace,
    kernel: &crate::guest_kernel::GuestKernel,
    opts: &Options,
    policies: &[String],
    runs: u64,
) -> Result<bool> {
    let case_timeout_s = SECONDS_PER_RECIPE_RUN * runs * policies.len() as u64;
    println!(
        "soak: upstream's stress recipe {runs} times per policy: {}; case timeout {case_timeout_s} s",
        policies.join(", ")
    );
    let vm_opts = vm_test::Options {
        filters: vec![RECIPE_CASE.to_owned()],
        smoke: false,
        long: false,
        case_timeout_s,
        knobs: Vec::new(),
        vm: opts.vm.clone(),
        kernel: opts.kernel.clone(),
    };
    let extra = [format!("relay.recipe_runs={runs}"), format!("relay.recipe_policies={}", policies.join(","))];
    let Report { passed, failed, ok, .. } = vm_test::run_cases_with(ws, kernel, &vm_opts, &extra)?;
    println!("soak: {passed} passed, {failed} failed (the case's 'tally' notes give the count per policy)");
    Ok(ok)
}

/// The policies the built scx_relay ships, from its own error line for an
/// unknown policy: `scx_relay: unknown policy '?' (valid: fifo, deadline)`.
pub(crate) fn shipped_policies(ws: &Workspace) -> Result<Vec<String>> {
    let binary = ws.target_dir().join("release/scx_relay");
    let out = Command::new(&binary)
        .args(["--policy", "?"])
        .output()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    let text = String::from_utf8_lossy(&out.stderr);
    match parse_valid_list(&text) {
        Some(list) if !list.is_empty() => Ok(list),
        _ => bail!("cannot read the policy list from `{} --policy ?`: {}", binary.display(), text.trim()),
    }
}

/// The names in `(valid: a, b, c)`.
fn parse_valid_list(text: &str) -> Option<Vec<String>> {
    let rest = &text[text.find("(valid: ")? + "(valid: ".len()..];
    let list = &rest[..rest.find(')')?];
    Some(list.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The policy list is read from the binary's one-line error.
    #[test]
    fn valid_list_is_parsed() {
        let line = "scx_relay: unknown policy '?' (valid: fifo, deadline, eevdf)\n";
        assert_eq!(parse_valid_list(line), Some(vec!["fifo".into(), "deadline".into(), "eevdf".into()]));
        assert_eq!(parse_valid_list("scx_relay: something else"), None);
    }
}
