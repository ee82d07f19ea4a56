//! Builds the BPF dispatcher (`src/bpf/main.bpf.c`) into a libbpf-rs skeleton
//! (`bpf_skel.rs`) and the shared wire structs (`src/bpf/intf.h`) into Rust
//! bindings (`bpf_intf.rs`), both in `OUT_DIR`, with scx_cargo's `BpfBuilder`
//! (which bundles vmlinux.h and the sched_ext BPF headers), with the BPF
//! compiler `build/bpf_clang.rs` picks.

use std::{env, process::Command};

#[path = "build/bpf_clang.rs"]
mod bpf_clang;

use bpf_clang::Probe;

fn main() -> anyhow::Result<()> {
    println!("cargo:rerun-if-env-changed=BPF_CLANG");
    let chosen = match bpf_clang::choose(env::var("BPF_CLANG").ok().as_deref(), probe) {
        Ok(chosen) => chosen,
        Err(line) => {
            // The one line, without an error chain or backtrace.
            eprintln!("{line}");
            std::process::exit(1);
        }
    };
    // scx_cargo's BpfBuilder runs `$BPF_CLANG` (default `clang`). The build
    // script is single-threaded here: nothing reads the environment
    // concurrently.
    env::set_var("BPF_CLANG", chosen);
    scx_cargo::BpfBuilder::new()?
        .enable_intf("src/bpf/intf.h", "bpf_intf.rs")
        .enable_skel("src/bpf/main.bpf.c", "bpf")
        .compile_link_gen()?;
    Ok(())
}

/// Runs `cmd --version`.
fn probe(cmd: &str) -> Probe {
    match Command::new(cmd).arg("--version").output() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Probe::NotFound,
        Ok(out) if out.status.success() => {
            bpf_clang::parse_major(&String::from_utf8_lossy(&out.stdout)).map_or(Probe::NoVersion, Probe::Major)
        }
        _ => Probe::NoVersion,
    }
}
