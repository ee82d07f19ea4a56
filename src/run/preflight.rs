//! Checks before loading anything, each failing with one line that says what
//! is wrong and what to do.

use std::{fmt, fs, path::Path};

/// Where the kernel publishes sched_ext's state.
pub const SCHED_EXT_SYSFS: &str = "/sys/kernel/sched_ext";

/// Why scx_relay cannot schedule this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unfit {
    /// The kernel was built without sched_ext.
    NoSchedExt,
    /// Not running as root.
    NotRoot,
    /// Another sched_ext scheduler is loaded (its ops name, if known).
    OtherScheduler(Option<String>),
}

impl fmt::Display for Unfit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unfit::NoSchedExt => {
                write!(f, "this kernel has no sched_ext (CONFIG_SCHED_CLASS_EXT); run it in the guest: cargo xtask run")
            }
            Unfit::NotRoot => write!(f, "loading a sched_ext scheduler needs root; run it as root (e.g. with sudo)"),
            Unfit::OtherScheduler(Some(name)) => {
                write!(f, "another sched_ext scheduler is loaded ({name}); stop it first")
            }
            Unfit::OtherScheduler(None) => write!(f, "another sched_ext scheduler is loaded; stop it first"),
        }
    }
}

/// Checks, in this order: sched_ext in the kernel (`sysfs` is normally
/// [`SCHED_EXT_SYSFS`]), root (`euid`), no other scheduler loaded.
pub fn check(sysfs: &Path, euid: u32) -> Result<(), Unfit> {
    if !sysfs.is_dir() {
        return Err(Unfit::NoSchedExt);
    }
    if euid != 0 {
        return Err(Unfit::NotRoot);
    }
    let state = fs::read_to_string(sysfs.join("state")).unwrap_or_default();
    match state.trim() {
        "disabled" | "" => Ok(()),
        _ => {
            let name = fs::read_to_string(sysfs.join("root/ops")).ok().map(|s| s.trim().to_owned());
            Err(Unfit::OtherScheduler(name.filter(|n| !n.is_empty())))
        }
    }
}

/// The effective user id of this process.
pub fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// This kernel's release (`uname -r`).
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "(unknown)".to_owned(), |s| s.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn fake_sysfs(name: &str, state: Option<&str>, ops: Option<&str>) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("scx_relay_preflight_{}_{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("root")).unwrap();
        if let Some(s) = state {
            fs::write(dir.join("state"), s).unwrap();
        }
        if let Some(o) = ops {
            fs::write(dir.join("root/ops"), o).unwrap();
        }
        dir
    }

    /// No sysfs directory: the kernel has no sched_ext, whoever asks.
    #[test]
    fn no_sched_ext_comes_first() {
        let missing = Path::new("/nonexistent/sched_ext");
        assert_eq!(check(missing, 1000), Err(Unfit::NoSchedExt));
        assert_eq!(check(missing, 0), Err(Unfit::NoSchedExt));
        let msg = Unfit::NoSchedExt.to_string();
        assert!(msg.contains("CONFIG_SCHED_CLASS_EXT") && msg.contains("cargo xtask run"));
    }

    /// Root is required, and a loaded scheduler is named.
    #[test]
    fn root_and_other_scheduler() {
        let idle = fake_sysfs("idle", Some("disabled\n"), None);
        assert_eq!(check(&idle, 1000), Err(Unfit::NotRoot));
        assert_eq!(check(&idle, 0), Ok(()));
        let busy = fake_sysfs("busy", Some("enabled\n"), Some("scx_rustland_1.0\n"));
        let err = check(&busy, 0).unwrap_err();
        assert_eq!(err, Unfit::OtherScheduler(Some("scx_rustland_1.0".into())));
        assert!(err.to_string().contains("scx_rustland_1.0"));
        for e in [Unfit::NoSchedExt, Unfit::NotRoot, err, Unfit::OtherScheduler(None)] {
            assert!(!e.to_string().contains('\n'));
        }
        let _ = fs::remove_dir_all(idle);
        let _ = fs::remove_dir_all(busy);
    }
}
