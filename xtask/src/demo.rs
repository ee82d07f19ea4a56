//! `cargo xtask run`: build scx_relay (release), boot the guest and run a
//! payload script, by default `tests/vm/run/demo.sh`: scx_relay takes over
//! the guest, a stress-ng + hackbench mix runs under it, and the demo fails
//! (one `demo: FAILED: ...` line, non-zero exit) unless scx_relay was the
//! scheduler in charge while the workload ran.

use anyhow::{ensure, Context, Result};

use crate::{
    guest_binaries,
    guest_kernel::KernelOptions,
    initramfs,
    qemu::{self, BootSpec, VmOptions},
    setup,
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
    guest_binaries::build_workspace_binaries(&ws)?;
    let image = initramfs::build(&ws, "run").context("cannot build the initramfs")?;
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
    if outcome.passed() {
        println!("run: ok: {}", outcome.summary());
    } else {
        // The payload's own `demo: FAILED: ...` line says why, when it got
        // that far; this line always closes the run.
        let why = outcome.lines.iter().rev().find_map(|l| l.trim().strip_prefix("demo: FAILED: "));
        println!("run: FAILED: {} ({})", why.unwrap_or("see the console above"), outcome.summary());
    }
    Ok(outcome.passed())
}
