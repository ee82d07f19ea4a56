//! `scx_relay --version`: one line on stdout, exit 0, in upstream scx's
//! shape: `scx_relay <semver>[-g<hash>[-dirty]] <target triple>[/debug]`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn version_line_shape() {
    let out = Command::new(env!("CARGO_BIN_EXE_scx_relay")).arg("--version").output().expect("the binary runs");
    assert!(out.status.success(), "exit {:?}", out.status.code());
    assert!(out.stderr.is_empty(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.strip_suffix('\n').expect("ends with a newline");
    assert!(!line.contains('\n'), "one line: {text:?}");

    let words: Vec<&str> = line.split(' ').collect();
    assert_eq!(words.len(), 3, "name, version, target: {line:?}");
    assert_eq!(words[0], "scx_relay");

    // <semver>, then optionally -g<hex hash>, then optionally -dirty.
    let rest = words[1].strip_prefix(env!("CARGO_PKG_VERSION")).unwrap_or_else(|| panic!("version first: {line:?}"));
    if let Some(git) = rest.strip_prefix("-g") {
        let hash = git.strip_suffix("-dirty").unwrap_or(git);
        assert!(hash.len() >= 8 && hash.chars().all(|c| c.is_ascii_hexdigit()), "hash: {line:?}");
    } else {
        assert_eq!(rest, "", "after the version only -g<hash>[-dirty]: {line:?}");
    }

    // The target triple (arch-vendor-os[-env]), /debug on a debug build.
    let target = words[2].strip_suffix("/debug").unwrap_or(words[2]);
    assert_eq!(words[2].ends_with("/debug"), cfg!(debug_assertions), "{line:?}");
    assert!((3..=4).contains(&target.split('-').count()), "target triple: {line:?}");
    assert!(target.starts_with(std::env::consts::ARCH), "target of this machine: {line:?}");
}
