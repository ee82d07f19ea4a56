//! Builds the BPF dispatcher (`src/bpf/main.bpf.c`) into a libbpf-rs skeleton
//! (`bpf_skel.rs`) and the shared wire structs (`src/bpf/intf.h`) into Rust
//! bindings (`bpf_intf.rs`), both in `OUT_DIR`, with scx_cargo's `BpfBuilder`
//! (which bundles vmlinux.h and the sched_ext BPF headers).

use std::env;

/// The BPF compiler used when `BPF_CLANG` is unset: bookworm's plain `clang`
/// is 14, too old for sched_ext's BPF; clang-19 is the packaged one that works.
const DEFAULT_BPF_CLANG: &str = "clang-19";

fn main() -> anyhow::Result<()> {
    if env::var_os("BPF_CLANG").is_none() {
        // The build script is single-threaded here: nothing reads the
        // environment concurrently.
        env::set_var("BPF_CLANG", DEFAULT_BPF_CLANG);
    }
    scx_cargo::BpfBuilder::new()?
        .enable_intf("src/bpf/intf.h", "bpf_intf.rs")
        .enable_skel("src/bpf/main.bpf.c", "bpf")
        .compile_link_gen()?;
    Ok(())
}
