//! Where things live in the repository: the root, the VM cache, the guest
//! scripts, the build outputs and the console logs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Paths of the scx_relay checkout this xtask was built from.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The repository root (the directory holding the workspace Cargo.toml).
    pub root: PathBuf,
}

impl Workspace {
    /// Locate the workspace from this crate's manifest directory
    /// (`<root>/xtask`), resolving symlinks.
    pub fn locate() -> Result<Self> {
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let manifest_dir =
            manifest_dir.canonicalize().with_context(|| format!("cannot resolve {}", manifest_dir.display()))?;
        let root = manifest_dir
            .parent()
            .with_context(|| format!("{} has no parent directory", manifest_dir.display()))?
            .to_path_buf();
        Ok(Self { root })
    }

    /// `.cache/vm/`: the guest kernel and the private apt state (gitignored).
    pub fn vm_cache_dir(&self) -> PathBuf {
        self.root.join(".cache").join("vm")
    }

    /// `tests/vm/`: guest-side scripts (cases at the top, helpers in `lib/`,
    /// payloads for `cargo xtask run` in `run/`).
    pub fn guest_scripts_dir(&self) -> PathBuf {
        self.root.join("tests").join("vm")
    }

    /// The cargo target directory (`CARGO_TARGET_DIR` or `<root>/target`).
    pub fn target_dir(&self) -> PathBuf {
        match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) if !dir.is_empty() => {
                let dir = PathBuf::from(dir);
                if dir.is_absolute() {
                    dir
                } else {
                    self.root.join(dir)
                }
            }
            _ => self.root.join("target"),
        }
    }

    /// `target/vm/`: initramfs images built for the guest.
    pub fn vm_build_dir(&self) -> PathBuf {
        self.target_dir().join("vm")
    }

    /// `target/vm-logs/`: the full console log of every boot.
    pub fn vm_log_dir(&self) -> PathBuf {
        self.target_dir().join("vm-logs")
    }
}
