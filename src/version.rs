//! The version string `scx_relay --version` and the start-up line print, in
//! upstream scx's shape (`scx_utils::build_id::full_version`):
//! `0.1.0-g71c6e79a-dirty x86_64-unknown-linux-gnu`. `build.rs` supplies the
//! git hash (`SCX_RELAY_GIT_SHA`, empty outside a git checkout, e.g. built
//! from a tarball), the dirty flag (`SCX_RELAY_GIT_DIRTY`, non-empty when
//! tracked files differ from `HEAD`) and the target triple
//! (`SCX_RELAY_TARGET`).

use std::sync::OnceLock;

/// This build's version: the package version, `-g<hash>` of the commit it
/// was built from and `-dirty` if tracked files differed from it (both
/// absent outside a git checkout), then the target triple, with `/debug`
/// on a debug build. For example `0.1.0-g71c6e79a-dirty
/// x86_64-unknown-linux-gnu`, or `0.1.0 x86_64-unknown-linux-gnu` from a
/// tarball.
///
/// The dirty flag is as of the last time `build.rs` ran, which is when
/// `HEAD`, the branch it points to or the index changed (not at every edit:
/// that would rerun the BPF build each time).
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let sha = env!("SCX_RELAY_GIT_SHA");
        full_version(
            env!("CARGO_PKG_VERSION"),
            (!sha.is_empty()).then_some(sha),
            !env!("SCX_RELAY_GIT_DIRTY").is_empty(),
            env!("SCX_RELAY_TARGET"),
            cfg!(debug_assertions),
        )
    })
}

/// `semver[-g<sha>[-dirty]] target[/debug]`; `dirty` counts only with a
/// hash (without one there is nothing it would be relative to).
fn full_version(semver: &str, sha: Option<&str>, dirty: bool, target: &str, debug: bool) -> String {
    let mut v = semver.to_owned();
    if let Some(sha) = sha {
        v.push_str("-g");
        v.push_str(sha);
        if dirty {
            v.push_str("-dirty");
        }
    }
    v.push(' ');
    v.push_str(target);
    if debug {
        v.push_str("/debug");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "x86_64-unknown-linux-gnu";

    /// A checkout: the hash, and `-dirty` only when the tree was dirty.
    #[test]
    fn with_hash() {
        assert_eq!(
            full_version("0.1.0", Some("71c6e79a"), false, T, false),
            "0.1.0-g71c6e79a x86_64-unknown-linux-gnu"
        );
        assert_eq!(
            full_version("0.1.0", Some("71c6e79a"), true, T, false),
            "0.1.0-g71c6e79a-dirty x86_64-unknown-linux-gnu"
        );
    }

    /// A tarball: no hash, and so no dirty flag either.
    #[test]
    fn without_hash() {
        assert_eq!(full_version("0.1.0", None, false, T, false), "0.1.0 x86_64-unknown-linux-gnu");
        assert_eq!(full_version("0.1.0", None, true, T, false), "0.1.0 x86_64-unknown-linux-gnu");
    }

    /// A debug build says so after the triple, as upstream does.
    #[test]
    fn debug_tag() {
        assert_eq!(full_version("0.1.0", None, false, T, true), "0.1.0 x86_64-unknown-linux-gnu/debug");
        assert_eq!(
            full_version("1.2.3", Some("abcdef12"), true, "aarch64-unknown-linux-gnu", true),
            "1.2.3-gabcdef12-dirty aarch64-unknown-linux-gnu/debug"
        );
    }

    /// The string this build carries starts with the package version and
    /// names the target it was built for.
    #[test]
    fn this_build() {
        let v = version();
        assert!(
            v.starts_with(concat!(env!("CARGO_PKG_VERSION"), "-g"))
                || v.starts_with(concat!(env!("CARGO_PKG_VERSION"), " ")),
            "{v}"
        );
        assert!(v.contains(env!("SCX_RELAY_TARGET")), "{v}");
    }
}
