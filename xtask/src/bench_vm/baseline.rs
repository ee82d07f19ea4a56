//! The baseline scheduler: scx_relay as it was at an earlier commit of this
//! repository, run side by side with today's in the same guest boot
//! (`cargo xtask bench-vm --baseline REV`), so that a change to a policy or
//! the dispatcher is measured before and after in one run.
//!
//! The commit's tree is exported with `git archive` into
//! `.cache/baseline/src/` (gitignored) and built there in release with its
//! own target directory (`.cache/baseline/target/`, kept for the next
//! build); the binary is copied to `.cache/baseline/bin/scx_relay`, with
//! the commit it was built from beside it, so a later run of the same
//! commit reuses it.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{ensure, Context, Result};

use crate::{exec, workspace::Workspace};

/// Where the baseline is built and installed, relative to the repository root.
const BASELINE_ROOT: &str = ".cache/baseline";
/// Its name in the guest's `/bin` (tests/vm/bench/bench.sh runs it).
pub(super) const GUEST_NAME: &str = "scx_relay_baseline";

/// The commit `rev` names, as 40 hex digits (`git rev-parse`).
pub(super) fn resolve(ws: &Workspace, rev: &str) -> Result<String> {
    let spec = format!("{rev}^{{commit}}");
    let sha = exec::output(Command::new("git").args(["rev-parse", "--verify", "--quiet", &spec]).current_dir(&ws.root))
        .with_context(|| format!("--baseline {rev}: not a commit of this repository"))?;
    Ok(sha.trim().to_owned())
}

/// Build scx_relay at commit `sha` into `.cache/baseline/bin/scx_relay`
/// unless the binary there was built from it; returns the binary's path.
pub(super) fn ensure_baseline(ws: &Workspace, sha: &str) -> Result<PathBuf> {
    let root = ws.root.join(BASELINE_ROOT);
    let bin_dir = root.join("bin");
    let bin = bin_dir.join("scx_relay");
    let stamp = bin.with_extension("commit");
    if exec::is_executable(&bin) && fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == sha) {
        return Ok(bin);
    }
    // No stamp while the binary is rebuilt: an interrupted build or copy
    // is never reused as this commit's.
    if stamp.exists() {
        fs::remove_file(&stamp).with_context(|| format!("cannot remove {}", stamp.display()))?;
    }
    let src = root.join("src");
    if src.exists() {
        fs::remove_dir_all(&src).with_context(|| format!("cannot remove {}", src.display()))?;
    }
    fs::create_dir_all(&src).with_context(|| format!("cannot create {}", src.display()))?;
    export_tree(ws, sha, &src)?;

    let log_path = root.join("build.log");
    println!(
        "bench-vm: building scx_relay at {} into {} (a few minutes on 2 cores; log: {})",
        &sha[..12],
        root.display(),
        log_path.display()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = root.join("target");
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--locked", "-p", "scx_relay"]).current_dir(&src).env("CARGO_TARGET_DIR", &target);
    exec::run_logged(&mut cmd, &log_path)?;

    let built = target.join("release/scx_relay");
    ensure!(exec::is_executable(&built), "the build succeeded but {} is missing", built.display());
    fs::create_dir_all(&bin_dir).with_context(|| format!("cannot create {}", bin_dir.display()))?;
    let partial = bin.with_extension("partial");
    fs::copy(&built, &partial).with_context(|| format!("cannot copy {} to {}", built.display(), partial.display()))?;
    fs::rename(&partial, &bin).with_context(|| format!("cannot rename {} to {}", partial.display(), bin.display()))?;
    fs::write(&stamp, format!("{sha}\n")).with_context(|| format!("cannot write {}", stamp.display()))?;
    Ok(bin)
}

/// `git archive sha | tar -x -m -C dest`. `-m` gives the files the time of
/// extraction: `git archive` stamps them with the commit's time, and cargo,
/// which decides from file times what to rebuild in the kept target
/// directory, would take an older commit's sources for unchanged and reuse
/// the binary built from another commit.
fn export_tree(ws: &Workspace, sha: &str, dest: &Path) -> Result<()> {
    let mut archive = Command::new("git")
        .args(["archive", "--format=tar", sha])
        .current_dir(&ws.root)
        .stdout(Stdio::piped())
        .spawn()
        .context("failed to start `git archive`")?;
    let tar = Command::new("tar")
        .arg("-x")
        .arg("-m")
        .arg("-C")
        .arg(dest)
        .stdin(archive.stdout.take().context("`git archive` has no stdout")?)
        .status()
        .context("failed to start `tar -x`")?;
    let git = archive.wait().context("`git archive` did not finish")?;
    ensure!(git.success() && tar.success(), "`git archive {sha} | tar -x -m -C {}` failed", dest.display());
    Ok(())
}
