//! The `scx_relay` binary: everything is in the library (`src/lib.rs`), so
//! that programs with their own policy can use it too.

fn main() -> std::process::ExitCode {
    scx_relay::main()
}
