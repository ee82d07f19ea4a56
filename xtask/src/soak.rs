//! `cargo xtask soak [--minutes 10] [--policies a,b]`: the long version of
//! the guest case `tests/vm/reliability_soak.sh`, which CI runs for 60 s per
//! policy.
//!
//! It builds scx_relay (release), asks it which policies it ships (unless
//! `--policies` names them), and boots the guest once with the soak case
//! alone and its knobs on the kernel command line (`relay.soak_seconds=`,
//! `relay.soak_policies=`, exported to the case as `RELAY_SOAK_SECONDS` and
//! `RELAY_SOAK_POLICIES`), with a case timeout that fits the run. The case
//! fails on an ejection, a stall message, a page fault of the scheduler
//! after start-up, resident memory growth or a workload that does not
//! complete; its notes give the last stats line and VmRSS at start and end
//! per policy.

use std::process::Command;

use anyhow::{bail, ensure, Context, Result};

use crate::{
    exec,
    guest_kernel::KernelOptions,
    qemu::VmOptions,
    setup,
    vm_test::{self, Report},
    workspace::Workspace,
};

/// The guest case this command runs.
const CASE: &str = "reliability_soak";
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
    let kernel = setup::prepare(&ws, &opts.kernel)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    exec::run(Command::new(cargo).args(["build", "--release", "-p", "scx_relay"]).current_dir(&ws.root))?;
    let policies = if opts.policies.is_empty() { shipped_policies(&ws)? } else { opts.policies.clone() };
    ensure!(
        policies.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')),
        "--policies must be names separated by commas, got {:?}",
        policies
    );
    let seconds = opts.minutes * 60;
    let case_timeout_s = (seconds + OVERHEAD_PER_POLICY_S) * policies.len() as u64;
    println!("soak: {} min per policy: {}; case timeout {case_timeout_s} s", opts.minutes, policies.join(", "));
    let vm_opts = vm_test::Options {
        filters: vec![CASE.to_owned()],
        case_timeout_s,
        vm: opts.vm.clone(),
        kernel: opts.kernel.clone(),
    };
    let extra = [format!("relay.soak_seconds={seconds}"), format!("relay.soak_policies={}", policies.join(","))];
    let Report { passed, failed, ok } = vm_test::run_cases_with(&ws, &kernel, &vm_opts, &extra)?;
    println!("soak: {passed} passed, {failed} failed");
    Ok(ok)
}

/// The policies the built scx_relay ships, from its own error line for an
/// unknown policy: `scx_relay: unknown policy '?' (valid: fifo, deadline)`.
fn shipped_policies(ws: &Workspace) -> Result<Vec<String>> {
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
