//! `cargo xtask run`: boot the guest and run a payload script, by default
//! `tests/vm/run/demo.sh` (the sched_ext state, a stress-ng + hackbench
//! mix, and scx_relay around it when it has been built).

use anyhow::{ensure, Context, Result};

use crate::{
    guest_kernel::KernelOptions,
    initramfs,
    qemu::{self, BootSpec, VmOptions},
    setup, vm_test,
    workspace::Workspace,
};

/// Options of `cargo xtask run`.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Payload script, relative to tests/vm/.
    #[arg(long, default_value = "run/demo.sh", value_name = "PATH")]
    pub payload: String,
    /// Length of the demo's stress-ng run, in seconds.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub demo_seconds: u32,
    /// Guest machine and limits.
    #[command(flatten)]
    pub vm: VmOptions,
    /// Guest kernel options.
    #[command(flatten)]
    pub kernel: KernelOptions,
}

/// Run the subcommand; `Ok(false)` when the payload or the kernel failed.
pub fn run(opts: &Options) -> Result<bool> {
    let ws = Workspace::locate()?;
    let payload = ws.guest_scripts_dir().join(&opts.payload);
    ensure!(
        payload.is_file() && !opts.payload.contains(char::is_whitespace),
        "payload {} is not a file (give a path relative to tests/vm/, without spaces)",
        payload.display()
    );
    let kernel = setup::prepare(&ws, &opts.kernel)?;
    let image = initramfs::build(&ws, "run").context("cannot build the initramfs")?;
    vm_test::note_optional_binaries(&image);
    let spec = BootSpec {
        label: "run",
        kernel: &kernel,
        initramfs: &image.path,
        params: vec![format!("relay.payload={}", opts.payload), format!("relay.demo_seconds={}", opts.demo_seconds)],
        vm: &opts.vm,
    };
    let outcome = qemu::boot(&ws, &spec)?;
    for problem in &outcome.problems {
        println!("run: kernel problem: {problem}");
    }
    Ok(outcome.passed())
}
