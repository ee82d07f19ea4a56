//! The host binaries copied into the guest, in one table, and the shared
//! libraries they need.
//!
//! To give the guest another tool, add a row to [`GUEST_BINARIES`]. Each
//! binary lands in `/bin/<name>`; the libraries `ldd` lists for it (and its
//! ELF interpreter) land at the same paths as on the host.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};

use crate::{exec, workspace::Workspace};

/// Where a guest binary comes from on the host.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// A program found on `PATH`, installed from the named Debian package.
    Installed {
        /// Debian package providing it (for the error message).
        package: &'static str,
    },
    /// A file built by this workspace, relative to the cargo target dir.
    Built {
        /// Path under the target directory, e.g. `release/scx_relay`.
        path: &'static str,
        /// The command that builds it (for messages).
        build_with: &'static str,
    },
    /// A file installed under the repository's `.cache/` (never committed).
    Cached {
        /// Path relative to the repository root, e.g. `.cache/peer/bin/scx_rustland`.
        path: &'static str,
        /// The command that installs it (for messages).
        build_with: &'static str,
    },
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct GuestBinary {
    /// File name in the guest's `/bin`.
    pub name: &'static str,
    /// Where to find it on the host.
    pub source: Source,
    /// Whether the guest can do without it (the image is built anyway and
    /// guest scripts test for the file).
    pub optional: bool,
    /// Only `cargo xtask bench-vm` puts it in the image (other images stay small).
    pub bench_only: bool,
}

/// The command that builds every [`Source::Built`] binary.
pub const BUILD_COMMAND: &str = "cargo build --release -p scx_relay -p guest-tools --bins --examples";

/// Build the workspace's guest binaries (scx_relay and the examples, in
/// release) with the cargo that runs xtask: [`BUILD_COMMAND`].
pub fn build_workspace_binaries(ws: &Workspace) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let args: Vec<&str> = BUILD_COMMAND.split_whitespace().skip(1).collect();
    exec::run(Command::new(cargo).args(args).current_dir(&ws.root)).context("building the guest's binaries")
}

/// Busybox provides the shell, `/init`'s tools and every applet (`timeout`,
/// `mount`, `poweroff`, ...); it must be the static build.
pub const BUSYBOX: GuestBinary = GuestBinary {
    name: "busybox",
    source: Source::Installed { package: "busybox-static" },
    optional: false,
    bench_only: false,
};

/// Every host binary copied into the guest, besides busybox.
pub const GUEST_BINARIES: &[GuestBinary] = &[
    GuestBinary {
        name: "stress-ng",
        source: Source::Installed { package: "stress-ng" },
        optional: false,
        bench_only: false,
    },
    GuestBinary {
        name: "hackbench",
        source: Source::Installed { package: "rt-tests" },
        optional: false,
        bench_only: false,
    },
    GuestBinary {
        name: "cyclictest",
        source: Source::Installed { package: "rt-tests" },
        optional: false,
        bench_only: false,
    },
    // SCHED_FIFO and SCHED_OTHER for guest case reliability_rt_pressure (the
    // guest's busybox has no chrt applet).
    GuestBinary {
        name: "chrt",
        source: Source::Installed { package: "util-linux" },
        optional: false,
        bench_only: false,
    },
    // A pid namespace for guest case scx_relay_pid_namespace (scx_relay
    // started as pid 1 of its own namespace, /proc remounted).
    GuestBinary {
        name: "unshare",
        source: Source::Installed { package: "util-linux" },
        optional: false,
        bench_only: false,
    },
    // The scheduler under test. Required: every image runs it (`cargo
    // xtask run`, `vm-test` and `test` build it first, see
    // `build_workspace_binaries`); a guest without it would test nothing.
    GuestBinary {
        name: "scx_relay",
        source: Source::Built { path: "release/scx_relay", build_with: BUILD_COMMAND },
        optional: false,
        bench_only: false,
    },
    // The custom-policy example of docs/policies.md, run on the real kernel by the
    // guest case scx_relay_custom_policy.
    GuestBinary {
        name: "shortest_first",
        source: Source::Built { path: "release/examples/shortest_first", build_with: BUILD_COMMAND },
        optional: false,
        bench_only: false,
    },
    // Test load: re-pins waiting tasks (guest case reliability_affinity_churn).
    GuestBinary {
        name: "affinity_churn",
        source: Source::Built { path: "release/affinity_churn", build_with: BUILD_COMMAND },
        optional: false,
        bench_only: false,
    },
    // Test probe: how late a briefly sleeping task wakes (guest case
    // reliability_stalls tells a slow task from a frozen machine with it).
    GuestBinary {
        name: "gap_probe",
        source: Source::Built { path: "release/gap_probe", build_with: BUILD_COMMAND },
        optional: false,
        bench_only: false,
    },
    // Test probe: hundreds of starved CPU hogs on one CPU and the longest
    // any of them waited (guest case reliability_aging_backlog).
    GuestBinary {
        name: "backlog_probe",
        source: Source::Built { path: "release/backlog_probe", build_with: BUILD_COMMAND },
        optional: false,
        bench_only: false,
    },
    // Test probe: CPU shares of hogs at nice levels and in cgroups (guest
    // case scx_relay_weights).
    GuestBinary {
        name: "share_probe",
        source: Source::Built { path: "release/share_probe", build_with: BUILD_COMMAND },
        optional: false,
        bench_only: false,
    },
    // Bench and test load: a 60 Hz frame loop, its missed vsyncs and frame
    // times (bench.sh's frames workload, scx_relay_fast_path).
    GuestBinary {
        name: "frame_pacer",
        source: Source::Built { path: "release/frame_pacer", build_with: BUILD_COMMAND },
        optional: false,
        bench_only: false,
    },
    // Test load: a latency-critical task that turns CPU-hungry, whose
    // fast-path grant the dispatcher must revoke (scx_relay_fast_path).
    GuestBinary {
        name: "burst_shift",
        source: Source::Built { path: "release/burst_shift", build_with: BUILD_COMMAND },
        optional: false,
        bench_only: false,
    },
    // Test tool: reads a field of a JSON document, such as `scx_relay ctl
    // status`'s (tests/vm/lib/scx_relay.sh, tests/vm/bench/bench.sh; busybox
    // has no jq).
    GuestBinary {
        name: "json_get",
        source: Source::Built { path: "release/json_get", build_with: BUILD_COMMAND },
        optional: false,
        bench_only: false,
    },
    // Test tool: runs a command under SCHED_EXT (guest cases
    // scx_relay_partial*; chrt knows no SCHED_EXT).
    GuestBinary {
        name: "run_ext",
        source: Source::Built { path: "release/run_ext", build_with: BUILD_COMMAND },
        optional: false,
        bench_only: false,
    },
    // The peer for `cargo xtask bench-vm`: upstream scx_rustland from crates.io.
    GuestBinary {
        name: "scx_rustland",
        source: Source::Cached { path: ".cache/peer/bin/scx_rustland", build_with: "cargo xtask bench-vm" },
        optional: true,
        bench_only: true,
    },
    // Another `bench-vm` scheduler: upstream scx_bpfland (all in BPF) from crates.io.
    GuestBinary {
        name: "scx_bpfland",
        source: Source::Cached { path: ".cache/bpfland/bin/scx_bpfland", build_with: "cargo xtask bench-vm" },
        optional: true,
        bench_only: true,
    },
    // Upstream scxtop, for the long guest case scx_relay_scxtop, which has
    // vm-test build it first (crates_io_tool::SCXTOP).
    GuestBinary {
        name: "scxtop",
        source: Source::Cached { path: ".cache/scxtop/bin/scxtop", build_with: "cargo xtask vm-test scx_relay_scxtop" },
        optional: true,
        bench_only: false,
    },
];

impl GuestBinary {
    /// The host file for this binary; `Ok(None)` when an optional binary is
    /// absent, an error naming the fix when a required one is.
    pub fn locate(&self, ws: &Workspace) -> Result<Option<PathBuf>> {
        let found = match self.source {
            Source::Installed { .. } => exec::find_in_path(self.name),
            Source::Built { path, .. } => Some(ws.target_dir().join(path)).filter(|p| exec::is_executable(p)),
            Source::Cached { path, .. } => Some(ws.root.join(path)).filter(|p| exec::is_executable(p)),
        };
        match (found, self.source) {
            (Some(path), _) => Ok(Some(path)),
            (None, _) if self.optional => Ok(None),
            (None, Source::Installed { package }) => {
                bail!("`{}` is not installed (Debian package {package}); run `cargo xtask setup`", self.name)
            }
            (None, Source::Built { path, build_with }) => {
                bail!("{} not found; build it with `{build_with}`", ws.target_dir().join(path).display())
            }
            (None, Source::Cached { path, build_with }) => {
                bail!("{} not found; install it with `{build_with}`", ws.root.join(path).display())
            }
        }
    }
}

/// The shared libraries (and ELF interpreter) `binary` loads, per `ldd`.
pub fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new("ldd")
        .arg(binary)
        .env("LC_ALL", "C")
        .output()
        .with_context(|| format!("failed to run ldd {}", binary.display()))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if text.contains("not a dynamic executable") || text.contains("statically linked") {
        return Ok(Vec::new());
    }
    if !out.status.success() {
        bail!("ldd {} failed: {}", binary.display(), text.trim());
    }
    parse_ldd(&text).with_context(|| format!("ldd {}", binary.display()))
}

/// Parse `ldd` output: `name => /path (0x...)` and `/path (0x...)` lines
/// give files; the vDSO has no file; `=> not found` is an error.
pub fn parse_ldd(text: &str) -> Result<Vec<PathBuf>> {
    let mut libraries = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let target = match line.split_once("=>") {
            Some((name, target)) => {
                let target = target.trim();
                if target.starts_with("not found") {
                    bail!("shared library {} not found", name.trim());
                }
                target
            }
            None => line,
        };
        let path = target.split_whitespace().next().unwrap_or("");
        if path.starts_with('/') {
            libraries.push(PathBuf::from(path));
        }
    }
    Ok(libraries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_is_parsed() -> Result<()> {
        let text = "\tlinux-vdso.so.1 (0x00007ffd5a7f2000)\n\
                    \tlibpthread.so.0 => /lib/x86_64-linux-gnu/libpthread.so.0 (0x00007f)\n\
                    \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        assert_eq!(
            parse_ldd(text)?,
            [
                PathBuf::from("/lib/x86_64-linux-gnu/libpthread.so.0"),
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
        Ok(())
    }

    #[test]
    fn missing_library_is_an_error() {
        assert!(parse_ldd("\tlibbpf.so.1 => not found\n").is_err());
    }

    #[test]
    fn table_names_are_unique() {
        let mut names: Vec<_> = GUEST_BINARIES.iter().map(|b| b.name).collect();
        names.push(BUSYBOX.name);
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
    }
}
