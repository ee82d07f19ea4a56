//! The BPF compiler: `build/bpf-clang`, the wrapper `.cargo/config.toml`
//! points `BPF_CLANG` at, run for real against fake compilers; and
//! `build/bpf_clang.rs`, `build.rs`'s check of `$BPF_CLANG --version`,
//! compiled here so that its tests run with `cargo test` (a build script
//! has no test harness of its own).
#![allow(clippy::panic)]

use std::{
    fs,
    os::unix::fs::{symlink, PermissionsExt},
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::OnceLock,
};

#[path = "../build/bpf_clang.rs"]
mod bpf_clang;

/// Installed compilers: `(name, --version banner)`, each banner one of
/// [`BANNERS`].
type Compilers = &'static [(&'static str, &'static str)];

/// The wrapper under test.
const WRAPPER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/build/bpf-clang");

const DEBIAN_14: &str = "Debian clang version 14.0.6";
const FEDORA_20: &str = "clang version 20.1.0 (Fedora 20.1.0-1.fc42)";
const DEBIAN_19: &str = "Debian clang version 19.1.7 (3~deb12u1)";
const UBUNTU_18: &str = "Ubuntu clang version 18.1.3 (1ubuntu1)";
const LLVM_17: &str = "clang version 17.0.6";
const GCC: &str = "gcc (Debian 12.2.0-14) 12.2.0";
/// The `--version` first lines the fake compilers print.
const BANNERS: [&str; 6] = [DEBIAN_14, FEDORA_20, DEBIAN_19, UBUNTU_18, LLVM_17, GCC];

/// A directory with one fake compiler script per banner (`0`, `1`, ...),
/// written once, before any test runs a process: a script still open for
/// writing in this process when another thread forks could not be exec'd
/// (ETXTBSY). A fake prints its banner for `--version`; otherwise the name
/// it was run as and each argument in brackets, and exits 3 (so the
/// wrapper's exit status is seen to be the compiler's).
fn scripts() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bpf_clang");
        if dir.exists() {
            fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
        let scripts = dir.join("scripts");
        fs::create_dir_all(&scripts).unwrap_or_else(|e| panic!("{}: {e}", scripts.display()));
        for (i, banner) in BANNERS.iter().enumerate() {
            let script = format!(
                "#!/bin/sh\n\
                 if [ \"$1\" = --version ]; then printf '%s\\nTarget: x86_64-pc-linux-gnu\\n' '{banner}'; exit 0; fi\n\
                 printf '%s' \"${{0##*/}}\"; printf ' [%s]' \"$@\"; echo; exit 3\n"
            );
            let path = scripts.join(i.to_string());
            fs::write(&path, script).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        scripts
    })
}

/// A directory holding only `compilers`: symlinks to the fake scripts.
fn fake_bin(case: &str, compilers: Compilers) -> PathBuf {
    let scripts = scripts();
    let dir = scripts.with_file_name(case);
    fs::create_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for (name, banner) in compilers {
        let i = BANNERS.iter().position(|b| b == banner).unwrap_or_else(|| panic!("{banner:?} not in BANNERS"));
        let link = dir.join(name);
        symlink(scripts.join(i.to_string()), &link).unwrap_or_else(|e| panic!("{}: {e}", link.display()));
    }
    dir
}

/// Runs the wrapper with `args`, a PATH of `bin` only and nothing else in
/// the environment: the wrapper uses shell builtins only, so the machine's
/// own compilers cannot leak in.
fn run(bin: &Path, args: &[&str]) -> Output {
    Command::new(WRAPPER).args(args).env_clear().env("PATH", bin).output().unwrap_or_else(|e| panic!("{WRAPPER}: {e}"))
}

/// Which compiler the wrapper exec's, given the ones installed: `clang` if
/// 18+, else `clang-19`, else `clang-18`. The arguments arrive intact and
/// the compiler's exit status is the wrapper's.
#[test]
fn picks_in_order() {
    let cases: [(&str, Compilers, &str); 5] = [
        ("bookworm", &[("clang", DEBIAN_14), ("clang-19", DEBIAN_19), ("clang-18", UBUNTU_18)], "clang-19"),
        ("fedora", &[("clang", FEDORA_20)], "clang"),
        ("noble", &[("clang-18", UBUNTU_18)], "clang-18"),
        ("exactly_18", &[("clang", UBUNTU_18), ("clang-19", DEBIAN_19)], "clang"),
        ("no_plain", &[("clang-19", DEBIAN_19), ("clang-18", UBUNTU_18)], "clang-19"),
    ];
    for (case, compilers, want) in cases {
        let out = run(&fake_bin(case, compilers), &["-g", "-c", "a b.c", "-o", "a.o"]);
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{want} [-g] [-c] [a b.c] [-o] [a.o]\n"), "{case}");
        assert_eq!(out.status.code(), Some(3), "{case}");
        assert!(out.stderr.is_empty(), "{case}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// `--version` goes to the chosen compiler too: its banner is what
/// scx_cargo's ClangInfo and build.rs read.
#[test]
fn version_passes_through() {
    let out = run(&fake_bin("version", &[("clang", DEBIAN_14), ("clang-19", DEBIAN_19)]), &["--version", "--target=x"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{DEBIAN_19}\nTarget: x86_64-pc-linux-gnu\n"));
    assert!(out.status.success());
}

/// No compiler fits: one line on stderr naming each one tried and what it
/// was, nothing on stdout, exit 127.
#[test]
fn none_fits() {
    let cases: [(&str, Compilers, &str); 3] = [
        (
            "old_clang",
            &[("clang", DEBIAN_14)],
            "clang is 14 (need 18 or newer); clang-19, clang-18 not found; install clang 18+ or set BPF_CLANG",
        ),
        ("nothing", &[], "clang, clang-19, clang-18 not found; install clang 18+ or set BPF_CLANG"),
        (
            "odd",
            &[("clang", GCC), ("clang-18", LLVM_17)],
            "clang reports no clang version; clang-18 is 17 (need 18 or newer); clang-19 not found; \
             install clang 18+ or set BPF_CLANG",
        ),
    ];
    for (case, compilers, want) in cases {
        let out = run(&fake_bin(case, compilers), &["--version"]);
        assert_eq!(String::from_utf8_lossy(&out.stderr), format!("bpf-clang: no BPF compiler: {want}\n"), "{case}");
        assert!(out.stdout.is_empty(), "{case}");
        assert_eq!(out.status.code(), Some(127), "{case}");
        // What build.rs makes of it: the wrapper's line, after what BPF_CLANG is.
        let line = bpf_clang::check(WRAPPER, Ok(out)).expect_err(case);
        assert_eq!(
            line,
            format!("BPF_CLANG={WRAPPER} --version failed (exit status: 127): bpf-clang: no BPF compiler: {want}")
        );
    }
}
