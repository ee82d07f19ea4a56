//! `cargo xtask setup`: the host packages the build and the tests need,
//! then the guest kernel. Idempotent, and silent when everything is there.

use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{
    exec,
    guest_kernel::{self, GuestKernel, KernelOptions},
    workspace::Workspace,
};

/// Debian packages needed on the host: the BPF toolchain (clang/llvm 19,
/// libelf, zlib, pkg-config), clang-format for the BPF sources' format
/// gate, the emulator, and what goes into the guest (systemd too: guest case
/// service_systemd runs scx_relay's unit under it, and a host test checks the
/// unit with `systemd-analyze verify`).
pub const HOST_PACKAGES: &[&str] = &[
    "clang-19",
    "clang-format-19",
    "llvm-19",
    "libclang-19-dev",
    "libelf-dev",
    "zlib1g-dev",
    "pkg-config",
    "qemu-system-x86",
    "busybox-static",
    "stress-ng",
    "rt-tests",
    "cpio",
    "systemd",
];

/// Extra Debian packages `cargo xtask bench-vm` needs: building the
/// upstream schedulers (scx_rustland links libseccomp).
pub const BENCH_PACKAGES: &[&str] = &["libseccomp-dev"];

/// Options of `cargo xtask setup`.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Guest kernel options.
    #[command(flatten)]
    pub kernel: KernelOptions,
}

/// Run the subcommand: install missing packages, fetch the guest kernel.
pub fn run(opts: &Options) -> Result<GuestKernel> {
    let ws = Workspace::locate()?;
    prepare(&ws, &opts.kernel)
}

/// What every subcommand that boots the guest calls first.
pub fn prepare(ws: &Workspace, kernel: &KernelOptions) -> Result<GuestKernel> {
    install_missing_packages()?;
    let kernel = guest_kernel::ensure(ws, kernel).context("cannot provide the guest kernel")?;
    let config = match &kernel.config {
        Some(path) => format!("{} has CONFIG_SCHED_CLASS_EXT=y", path.display()),
        None => "no config file to check".to_owned(),
    };
    println!("setup: guest kernel {} (from {}); {config}", kernel.release, kernel.package);
    Ok(kernel)
}

/// Install whatever of [`HOST_PACKAGES`] `dpkg-query` does not report as
/// installed.
fn install_missing_packages() -> Result<()> {
    install_packages(HOST_PACKAGES)
}

/// Install whatever of `packages` `dpkg-query` does not report as installed.
pub fn install_packages(packages: &[&str]) -> Result<()> {
    let missing = missing_packages(packages)?;
    if missing.is_empty() {
        return Ok(());
    }
    println!("setup: installing {}", missing.join(" "));
    if !is_root() {
        bail!(
            "missing Debian packages: {}; run `cargo xtask setup` as root or `sudo apt-get install {}`",
            missing.join(" "),
            missing.join(" ")
        );
    }
    exec::run(Command::new("apt-get").args(["-qq", "update"]))?;
    exec::run(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing),
    )?;
    let still = missing_packages(packages)?;
    if !still.is_empty() {
        bail!("apt-get install finished but these are still missing: {}", still.join(" "));
    }
    Ok(())
}

/// The subset of `packages` not in state `install ok installed`.
fn missing_packages(packages: &[&str]) -> Result<Vec<String>> {
    // dpkg-query exits 1 when some package is unknown, yet still prints the
    // known ones, so read stdout whatever the status.
    let out = Command::new("dpkg-query")
        .arg("-W")
        .arg("-f=${Package} ${db:Status-Status}\\n")
        .args(packages)
        .env("LC_ALL", "C")
        .output()
        .context("failed to run dpkg-query (is this a Debian system?)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(packages.iter().filter(|package| !is_installed(&text, package)).map(|package| (*package).to_owned()).collect())
}

/// Whether `dpkg-query` output lists `package` as installed.
fn is_installed(dpkg_output: &str, package: &str) -> bool {
    dpkg_output.lines().any(|line| {
        let mut words = line.split_whitespace();
        let name = words.next().unwrap_or("");
        // Multi-arch packages print as `name:arch`.
        let name = name.split(':').next().unwrap_or(name);
        name == package && words.next() == Some("installed")
    })
}

/// Whether this process runs as root.
fn is_root() -> bool {
    exec::output(Command::new("id").arg("-u")).map(|uid| uid.trim() == "0").unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_state_is_read_from_dpkg_query() {
        let text = "clang-19 installed\ncpio not-installed\nlibelf-dev:amd64 installed\n";
        assert!(is_installed(text, "clang-19"));
        assert!(is_installed(text, "libelf-dev"));
        assert!(!is_installed(text, "cpio"));
        assert!(!is_installed(text, "stress-ng"));
    }
}
