//! How `build.rs` picks the BPF compiler: its pure part,
//! `build/bpf_clang.rs`, compiled here so that its tests run with
//! `cargo test` (a build script has no test harness of its own).

#[path = "../build/bpf_clang.rs"]
mod bpf_clang;
