//! The peer scheduler, the published `scx_rustland` crate: built once into
//! `.cache/peer/`, reused by later runs.

use std::{fs, path::PathBuf, process::Command};

use anyhow::{ensure, Context, Result};

use crate::{exec, workspace::Workspace};

/// The peer's crate. 1.1.4 is the newest release at the time of writing and
/// builds with this machine's rustc (1.95; the crate asks for 1.91).
const PEER_CRATE: &str = "scx_rustland";
/// The peer version built by default (pinned, so that results stay comparable).
pub(super) const PEER_VERSION: &str = "1.1.4";
/// Where the peer is installed, relative to the repository root.
const PEER_ROOT: &str = ".cache/peer";

/// Build `scx_rustland` `version` into `.cache/peer/` unless it is there.
pub(super) fn ensure_peer(ws: &Workspace, version: &str) -> Result<PathBuf> {
    let root = ws.root.join(PEER_ROOT);
    let bin = root.join("bin").join(PEER_CRATE);
    let manifest = fs::read_to_string(root.join(".crates.toml")).unwrap_or_default();
    if exec::is_executable(&bin) && installed(&manifest, PEER_CRATE, version) {
        return Ok(bin);
    }
    fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    let log_path = root.join("build.log");
    println!(
        "bench-vm: building {PEER_CRATE} {version} into {} (once; about 6 minutes on 2 cores; log: {})",
        root.display(),
        log_path.display()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["install", PEER_CRATE, "--locked", "--version", version, "--root"])
        .arg(&root)
        // scx_cargo's BPF build needs clang >= 18; bookworm's default is 14.
        .env("BPF_CLANG", "clang-19")
        // Its own target directory: the workspace's build is not disturbed.
        .env("CARGO_TARGET_DIR", root.join("target"));
    exec::run_logged(&mut cmd, &log_path)?;
    ensure!(exec::is_executable(&bin), "cargo install succeeded but {} is missing", bin.display());
    Ok(bin)
}

/// Whether cargo's `.crates.toml` lists `krate` at `version`.
fn installed(manifest: &str, krate: &str, version: &str) -> bool {
    manifest.contains(&format!("\"{krate} {version} ("))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The peer counts as installed only at the requested version.
    #[test]
    fn peer_version_check() {
        let manifest = "[v1]\n\"scx_rustland 1.1.4 (registry+https://github.com/rust-lang/crates.io-index)\" = [\"scx_rustland\"]\n";
        assert!(installed(manifest, "scx_rustland", "1.1.4"));
        assert!(!installed(manifest, "scx_rustland", "1.1.3"));
        assert!(!installed("", "scx_rustland", "1.1.4"));
    }
}
