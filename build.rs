//! Builds the BPF dispatcher (`src/bpf/main.bpf.c`) into a libbpf-rs skeleton
//! (`bpf_skel.rs`) and the shared wire structs (`src/bpf/intf.h`) into Rust
//! bindings (`bpf_intf.rs`), both in `OUT_DIR`, with scx_cargo's `BpfBuilder`
//! (which bundles vmlinux.h and the sched_ext BPF headers), with the BPF
//! compiler `BPF_CLANG`: in this workspace `.cargo/config.toml` points it at
//! `build/bpf-clang`, which picks one, unless the environment sets it. Also
//! exports what `src/version.rs` prints: the git hash and dirty flag of the
//! checkout (none outside one) and the target triple.

use std::{
    env,
    path::{Path, PathBuf},
    process::Command,
};

#[path = "build/bpf_clang.rs"]
mod bpf_clang;

fn main() -> anyhow::Result<()> {
    export_version()?;

    println!("cargo:rerun-if-env-changed=BPF_CLANG");
    println!("cargo:rerun-if-changed=build/bpf-clang");
    let bpf_clang = match env::var("BPF_CLANG") {
        Ok(cmd) if !cmd.is_empty() => cmd,
        // Built outside this workspace (no `.cargo/config.toml`): the
        // wrapper all the same. scx_cargo's BpfBuilder runs `$BPF_CLANG`
        // (default `clang`); the build script is single-threaded here, so
        // nothing reads the environment concurrently.
        _ => {
            let wrapper = Path::new(&env::var("CARGO_MANIFEST_DIR")?).join("build/bpf-clang");
            let wrapper = wrapper.to_str().ok_or_else(|| anyhow::anyhow!("{} is not UTF-8", wrapper.display()))?;
            env::set_var("BPF_CLANG", wrapper);
            wrapper.to_owned()
        }
    };
    if let Err(line) = bpf_clang::check(&bpf_clang, Command::new(&bpf_clang).arg("--version").output()) {
        // The one line, without an error chain or backtrace.
        eprintln!("{line}");
        std::process::exit(1);
    }
    scx_cargo::BpfBuilder::new()?
        .enable_intf("src/bpf/intf.h", "bpf_intf.rs")
        .enable_skel("src/bpf/main.bpf.c", "bpf")
        .compile_link_gen()?;
    Ok(())
}

/// `SCX_RELAY_GIT_SHA` (8+ hex digits of `HEAD`, empty when not built from
/// a git checkout of this package), `SCX_RELAY_GIT_DIRTY` (`1` when tracked
/// files differ from `HEAD`, else empty) and `SCX_RELAY_TARGET`. Git
/// missing or failing never fails the build: it only drops the hash.
fn export_version() -> anyhow::Result<()> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let (sha, dirty) = match git_state(&manifest_dir) {
        Some(state) => (state.sha, state.dirty),
        None => (String::new(), false),
    };
    println!("cargo:rustc-env=SCX_RELAY_GIT_SHA={sha}");
    println!("cargo:rustc-env=SCX_RELAY_GIT_DIRTY={}", if dirty { "1" } else { "" });
    println!("cargo:rustc-env=SCX_RELAY_TARGET={}", env::var("TARGET")?);
    println!("cargo:rerun-if-env-changed=GIT_DIR");
    Ok(())
}

/// The checkout's `HEAD`.
struct GitState {
    sha: String,
    dirty: bool,
}

/// `HEAD`'s short hash and whether tracked files differ from it, if `dir`
/// is the top of a git work tree (a tarball unpacked inside some other
/// repository is not: that repository's hash would be a lie). Emits
/// `rerun-if-changed` for the files that move when either changes: `HEAD`,
/// the branch it points to (its loose ref and `packed-refs`), the index;
/// only those that exist, as cargo reruns on every build for a missing one.
/// Edits not yet added to the index do not rerun it (watching the sources
/// would rebuild the BPF program at every edit), so `-dirty` can lag them.
fn git_state(dir: &Path) -> Option<GitState> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    if Path::new(&top).canonicalize().ok()? != dir.canonicalize().ok()? {
        return None;
    }
    let sha = git(dir, &["rev-parse", "--short=8", "HEAD"])?;
    let dirty = !git(dir, &["status", "--porcelain", "--untracked-files=no"])?.is_empty();

    // In a worktree HEAD and the index are the worktree's own, the refs the
    // common directory's.
    let git_dir = PathBuf::from(git(dir, &["rev-parse", "--absolute-git-dir"])?);
    let common =
        git(dir, &["rev-parse", "--path-format=absolute", "--git-common-dir"]).map_or(git_dir.clone(), PathBuf::from);
    let mut watch = vec![git_dir.join("HEAD"), git_dir.join("index")];
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        watch.push(common.join(branch));
        watch.push(common.join("packed-refs"));
    }
    for path in watch.iter().filter(|p| p.is_file()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    Some(GitState { sha, dirty })
}

/// `git args` run in `dir`, its trimmed stdout if it succeeded. Optional
/// locks off: `git status` would otherwise refresh the index, which is
/// watched, and so rerun this script on the next build.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).current_dir(dir).env("GIT_OPTIONAL_LOCKS", "0").output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8(out.stdout).ok()?.trim().to_owned())
}
