//! `cargo xtask test`: the project's single test command.
//!
//! Stages, each run even if an earlier one failed (so one run shows every
//! problem): host setup and the guest kernel, `cargo test --workspace`,
//! `cargo build --release -p scx_relay`, then every VM test case in one
//! boot. The last line is `xtask test: N passed, M failed`, counting the
//! three host stages and each VM case (plus one failure when the VM run
//! itself failed, e.g. kernel warnings or a timeout, while its cases passed).

use std::process::Command;

use anyhow::Result;

use crate::{
    exec,
    guest_kernel::KernelOptions,
    qemu::VmOptions,
    setup,
    vm_test::{self, Report},
    workspace::Workspace,
};

/// Options of `cargo xtask test`.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Time limit for each VM case inside the guest, in seconds.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub case_timeout_s: u64,
    /// Guest machine and limits.
    #[command(flatten)]
    pub vm: VmOptions,
    /// Guest kernel options.
    #[command(flatten)]
    pub kernel: KernelOptions,
}

/// Pass/fail counts across stages.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

impl Tally {
    /// Record a host stage.
    fn stage(&mut self, name: &str, result: Result<()>) {
        match result {
            Ok(()) => {
                println!("xtask test: {name}: ok");
                self.passed += 1;
            }
            Err(err) => {
                println!("xtask test: {name}: FAILED: {err:#}");
                self.failed += 1;
            }
        }
    }
}

/// Run every stage; `Ok(false)` when any failed.
pub fn run(opts: &Options) -> Result<bool> {
    let ws = Workspace::locate()?;
    let mut tally = Tally::default();

    let kernel = setup::prepare(&ws, &opts.kernel);
    let kernel = match kernel {
        Ok(kernel) => {
            tally.stage("setup", Ok(()));
            Some(kernel)
        }
        Err(err) => {
            tally.stage("setup", Err(err));
            None
        }
    };

    // --no-fail-fast: one failing test binary must not hide the others.
    tally.stage("cargo test --workspace", cargo(&ws, &["test", "--workspace", "--no-fail-fast"]));
    tally.stage("cargo build --release -p scx_relay", cargo(&ws, &["build", "--release", "-p", "scx_relay"]));

    let vm_opts = vm_test::Options {
        filters: Vec::new(),
        case_timeout_s: opts.case_timeout_s,
        vm: opts.vm.clone(),
        kernel: opts.kernel.clone(),
    };
    let report = match &kernel {
        Some(kernel) => vm_test::run_cases(&ws, kernel, &vm_opts),
        None => Err(anyhow::anyhow!("no guest kernel (setup failed)")),
    };
    match report {
        Ok(Report { passed, failed, ok }) => {
            tally.passed += passed;
            tally.failed += failed;
            if failed == 0 && !ok {
                println!("xtask test: vm-test: FAILED: the VM run failed (see above)");
                tally.failed += 1;
            }
        }
        Err(err) => {
            let cases = vm_test::discover_cases(&ws).map_or(1, |cases| cases.len().max(1));
            println!("xtask test: vm-test: FAILED: {err:#}");
            tally.failed += cases;
        }
    }

    println!("xtask test: {} passed, {} failed", tally.passed, tally.failed);
    Ok(tally.failed == 0)
}

/// Run cargo (the one that runs xtask) in the workspace root.
fn cargo(ws: &Workspace, args: &[&str]) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    exec::run(Command::new(cargo).args(args).current_dir(&ws.root))
}
