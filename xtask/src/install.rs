//! `cargo xtask install`: the release binary, the systemd unit and the
//! `/etc/default/scx_relay` example, under a prefix (and an optional staging
//! root for packagers). What the unit does: docs/operations.md.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};

use crate::workspace::Workspace;

/// The unit's template (`@BINDIR@` stands for the binary's directory).
const UNIT_TEMPLATE: &str = "dist/scx_relay.service.in";
/// The options file's example.
const DEFAULTS_EXAMPLE: &str = "dist/scx_relay.default";

/// What the binary generates about itself (`scx_relay completions SHELL`,
/// `scx_relay man`), and where under the prefix it goes.
const GENERATED: &[(&[&str], &str)] = &[
    (&["completions", "bash"], "share/bash-completion/completions/scx_relay"),
    (&["completions", "zsh"], "share/zsh/site-functions/_scx_relay"),
    (&["completions", "fish"], "share/fish/vendor_completions.d/scx_relay.fish"),
    (&["man"], "share/man/man8/scx_relay.8"),
];

/// Options of `cargo xtask install`.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Where the binary goes (PREFIX/bin) and where the unit says it is.
    #[arg(long, default_value = "/usr/local", value_name = "DIR")]
    pub prefix: PathBuf,
    /// A staging root every path is written under (for packages), the
    /// unit still naming PREFIX/bin.
    #[arg(long, value_name = "DIR")]
    pub destdir: Option<PathBuf>,
    /// Install the binary already built in target/release (no cargo build).
    #[arg(long)]
    pub no_build: bool,
}

/// What is installed, with paths as the system will see them.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    /// The binary: its source and where it goes.
    pub binary: (PathBuf, PathBuf),
    /// The unit: where it goes and its text.
    pub unit: (PathBuf, String),
    /// The options file: where it goes and its text (not written over an existing one).
    pub defaults: (PathBuf, String),
}

/// The unit's text for a binary in `bindir`.
pub fn unit_text(template: &str, bindir: &Path) -> Result<String> {
    let bindir = bindir.to_str().context("the prefix is not UTF-8")?;
    if bindir.contains(char::is_whitespace) {
        bail!("the prefix {bindir:?} has white space, which ExecStart would split");
    }
    if !template.contains("@BINDIR@") {
        bail!("{UNIT_TEMPLATE} has no @BINDIR@");
    }
    Ok(template.replace("@BINDIR@", bindir))
}

/// What `opts` installs, paths as the system will see them.
pub fn plan(ws: &Workspace, opts: &Options) -> Result<Plan> {
    if !opts.prefix.is_absolute() {
        bail!("--prefix must be an absolute path, not {}", opts.prefix.display());
    }
    let read = |rel: &str| fs::read_to_string(ws.root.join(rel)).with_context(|| format!("cannot read {rel}"));
    let bindir = opts.prefix.join("bin");
    Ok(Plan {
        binary: (ws.target_dir().join("release").join("scx_relay"), bindir.join("scx_relay")),
        unit: (PathBuf::from("/etc/systemd/system/scx_relay.service"), unit_text(&read(UNIT_TEMPLATE)?, &bindir)?),
        defaults: (PathBuf::from("/etc/default/scx_relay"), read(DEFAULTS_EXAMPLE)?),
    })
}

/// `path` under the staging root, if any.
fn staged(destdir: Option<&Path>, path: &Path) -> PathBuf {
    match destdir {
        Some(root) => root.join(path.strip_prefix("/").unwrap_or(path)),
        None => path.to_path_buf(),
    }
}

/// Write `text` to `path` (parents made), with `mode`: to a temporary file
/// beside it, renamed over it, so that a running service's binary is
/// replaced, not written into ("Text file busy"), and no file is ever half
/// written.
fn write(path: &Path, text: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".xtask-new");
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the mode of {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
}

/// Run the subcommand.
pub fn run(opts: &Options) -> Result<bool> {
    let ws = Workspace::locate()?;
    if !opts.no_build {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--release", "-p", "scx_relay", "--bin", "scx_relay"])
            .current_dir(&ws.root)
            .status()?;
        if !status.success() {
            bail!("cargo build --release -p scx_relay failed ({status})");
        }
    }
    let plan = plan(&ws, opts)?;
    let dest = opts.destdir.as_deref();
    let (from, to) = &plan.binary;
    for (args, rel) in GENERATED {
        let out = Command::new(from).args(*args).output().with_context(|| format!("cannot run {}", from.display()))?;
        if !out.status.success() {
            bail!("scx_relay {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
        }
        let path = staged(dest, &opts.prefix.join(rel));
        write(&path, &out.stdout, 0o644)?;
        println!("install: {}", path.display());
    }
    let bytes = fs::read(from).with_context(|| format!("cannot read {} (build it first)", from.display()))?;
    write(&staged(dest, to), &bytes, 0o755)?;
    println!("install: {}", staged(dest, to).display());
    write(&staged(dest, &plan.unit.0), plan.unit.1.as_bytes(), 0o644)?;
    println!("install: {}", staged(dest, &plan.unit.0).display());
    let defaults = staged(dest, &plan.defaults.0);
    if defaults.exists() {
        println!("install: {} exists, kept", defaults.display());
    } else {
        write(&defaults, plan.defaults.1.as_bytes(), 0o644)?;
        println!("install: {}", defaults.display());
    }
    if dest.is_none() {
        println!("install: now `systemctl daemon-reload` and `systemctl enable --now scx_relay`");
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(prefix: &str) -> Options {
        Options { prefix: prefix.into(), destdir: None, no_build: true }
    }

    /// The unit names the binary under the prefix, and nothing is left to substitute.
    #[test]
    fn unit_names_the_binary() {
        let ws = Workspace::locate().unwrap();
        let plan = plan(&ws, &options("/opt/relay")).unwrap();
        assert!(plan.unit.1.contains("\nExecStart=/opt/relay/bin/scx_relay $SCX_FLAGS\n"), "{}", plan.unit.1);
        assert!(!plan.unit.1.contains('@'));
        assert_eq!(plan.binary.1, Path::new("/opt/relay/bin/scx_relay"));
        assert!(plan.defaults.1.contains("\nSCX_FLAGS="));
    }

    /// A relative prefix or one ExecStart would split is refused.
    #[test]
    fn bad_prefixes_are_refused() {
        let ws = Workspace::locate().unwrap();
        assert!(plan(&ws, &options("usr/local")).is_err());
        assert!(plan(&ws, &options("/opt/my relay")).is_err());
    }

    /// `systemd-analyze verify` accepts the installed unit without a
    /// warning (it warns, and still exits 0, on a value it ignores). The
    /// prefix is a temporary directory holding an executable, so that
    /// ExecStart's binary exists.
    #[test]
    fn systemd_analyze_verifies_the_unit() {
        let ws = Workspace::locate().unwrap();
        let dir = std::env::temp_dir().join(format!("scx_relay-unit-{}", std::process::id()));
        let plan = plan(&ws, &options(dir.to_str().unwrap())).unwrap();
        write(&plan.binary.1, b"#!/bin/sh\n", 0o755).unwrap();
        let unit = dir.join("scx_relay.service");
        write(&unit, plan.unit.1.as_bytes(), 0o644).unwrap();
        let out = Command::new("systemd-analyze").arg("verify").arg(&unit).output();
        let _ = fs::remove_dir_all(&dir);
        let out = out.expect("systemd-analyze (systemd) is needed: it is on Debian");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && stderr.trim().is_empty(), "systemd-analyze verify: {stderr}");
    }

    /// A staging root prefixes every path.
    #[test]
    fn destdir_stages() {
        assert_eq!(staged(Some(Path::new("/tmp/pkg")), Path::new("/etc/x")), Path::new("/tmp/pkg/etc/x"));
        assert_eq!(staged(None, Path::new("/etc/x")), Path::new("/etc/x"));
    }
}
