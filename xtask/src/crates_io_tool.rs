//! Upstream tools built from their published crates into `.cache/<dir>/`
//! (never committed) once, and reused by later runs: the `bench-vm` peers
//! (`scx_rustland`, `scx_bpfland`) and `scxtop` for the guest case
//! `scx_relay_scxtop`.

use std::{fs, path::PathBuf, process::Command};

use anyhow::{ensure, Context, Result};

use crate::{exec, workspace::Workspace};

/// A crate installed with `cargo install --locked` at a pinned version.
#[derive(Debug, Clone, Copy)]
pub struct CratesIoTool {
    /// The crate, and the binary it installs.
    pub krate: &'static str,
    /// Where it is installed, relative to the repository root (its binary
    /// in `bin/`, its own target directory in `target/`).
    pub root: &'static str,
    /// What building it takes on 2 cores, for the message.
    pub build_time: &'static str,
}

/// The `bench-vm` peer. 1.1.4 is the newest release at the time of writing
/// and builds with this machine's rustc (1.95; the crate asks for 1.91).
pub const SCX_RUSTLAND: CratesIoTool =
    CratesIoTool { krate: "scx_rustland", root: ".cache/peer", build_time: "about 6 minutes" };

/// The `bench-vm` scheduler `bpfland`: upstream's scheduler that decides
/// everything in BPF (no user-space scheduler), the sched_ext comparison
/// that has no user round trip at all.
pub const SCX_BPFLAND: CratesIoTool =
    CratesIoTool { krate: "scx_bpfland", root: ".cache/bpfland", build_time: "about 6 minutes" };

/// scxtop, upstream's observability tool, whose scheduler view reads a
/// scheduler's scx_stats socket (guest case `scx_relay_scxtop`).
pub const SCXTOP: CratesIoTool =
    CratesIoTool { krate: "scxtop", root: ".cache/scxtop", build_time: "about 25 minutes" };

/// The scxtop version the guest case is checked with (the scx release that
/// matches the scx_stats this workspace links).
pub const SCXTOP_VERSION: &str = "1.1.4";

impl CratesIoTool {
    /// Build `version` into its root unless it is there; the binary's path.
    pub fn ensure(&self, ws: &Workspace, version: &str) -> Result<PathBuf> {
        let root = ws.root.join(self.root);
        let bin = root.join("bin").join(self.krate);
        let manifest = fs::read_to_string(root.join(".crates.toml")).unwrap_or_default();
        if exec::is_executable(&bin) && installed(&manifest, self.krate, version) {
            return Ok(bin);
        }
        fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
        let log_path = root.join("build.log");
        println!(
            "building {} {version} into {} (once; {} on 2 cores; log: {})",
            self.krate,
            root.display(),
            self.build_time,
            log_path.display()
        );
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["install", self.krate, "--locked", "--version", version, "--root"])
            .arg(&root)
            // scx_cargo's BPF build needs clang >= 18; bookworm's default is 14.
            .env("BPF_CLANG", "clang-19")
            // Its own target directory: the workspace's build is not disturbed.
            .env("CARGO_TARGET_DIR", root.join("target"));
        exec::run_logged(&mut cmd, &log_path)?;
        ensure!(exec::is_executable(&bin), "cargo install succeeded but {} is missing", bin.display());
        Ok(bin)
    }
}

/// Whether cargo's `.crates.toml` lists `krate` at `version`.
fn installed(manifest: &str, krate: &str, version: &str) -> bool {
    manifest.contains(&format!("\"{krate} {version} ("))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guest image takes each tool from where it is installed (its
    /// `GUEST_BINARIES` row names the same path: one fact, checked here).
    #[test]
    fn guest_rows_name_the_install_paths() {
        use crate::guest_binaries::{Source, GUEST_BINARIES};
        for tool in [SCX_RUSTLAND, SCX_BPFLAND, SCXTOP] {
            let row = GUEST_BINARIES.iter().find(|b| b.name == tool.krate).expect("a guest row for the tool");
            match row.source {
                Source::Cached { path, .. } => assert_eq!(path, format!("{}/bin/{}", tool.root, tool.krate)),
                other => panic!("{}: {other:?} is not the cached install", tool.krate),
            }
        }
    }

    /// A tool counts as installed only at the requested version.
    #[test]
    fn version_check() {
        let manifest = "[v1]\n\"scx_rustland 1.1.4 (registry+https://github.com/rust-lang/crates.io-index)\" = [\"scx_rustland\"]\n";
        assert!(installed(manifest, "scx_rustland", "1.1.4"));
        assert!(!installed(manifest, "scx_rustland", "1.1.3"));
        assert!(!installed(manifest, "scxtop", "1.1.4"));
        assert!(!installed("", "scx_rustland", "1.1.4"));
    }
}
