//! The `scx_relay` binary: everything is in the library (`src/lib.rs`), so
//! that programs with their own policy can use it too.

/// Counts the scheduling loop's allocator calls (`loop allocs` in `--stats`).
#[global_allocator]
static ALLOCATOR: scx_relay::CountingAllocator = scx_relay::CountingAllocator;

fn main() -> std::process::ExitCode {
    scx_relay::main()
}
