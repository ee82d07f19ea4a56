//! `cargo xtask`: developer tasks for scx_relay.
//!
//! The host kernel has no sched_ext, so every real-kernel test runs inside a
//! QEMU guest booted on Debian's sched_ext-enabled cloud kernel. This binary
//! owns that whole path: installing the host packages, fetching the guest
//! kernel, packing an initramfs, booting it, reading the guest's verdict off
//! the serial console, and the single `cargo xtask test` entry point that
//! runs everything.
//!
//! One module per subcommand (`setup`, `vm_test`, `test_suite`, `run`,
//! `bench_vm`, `soak`), and
//! one module per mechanism they share (`guest_kernel`, `initramfs`, `cpio`,
//! `qemu`, `console`, ...).

mod apt_source;
mod bench_vm;
mod console;
mod cpio;
mod crates_io_tool;
mod demo;
mod exec;
mod guest_binaries;
mod guest_kernel;
mod initramfs;
mod install;
mod qemu;
mod setup;
mod soak;
mod test_suite;
mod vm_test;
mod workspace;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Developer tasks for scx_relay (run as `cargo xtask <command>`).
#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands; each lives in its own module.
#[derive(Subcommand)]
enum Command {
    /// Install the Debian packages the tests need (when missing) and fetch
    /// the guest kernel into `.cache/vm/`.
    Setup(setup::Options),
    /// Boot the guest once and run the test cases in `tests/vm/` whose name
    /// contains one of the FILTERs (all cases when none is given).
    VmTest(vm_test::Options),
    /// The project's single test command: setup, `cargo test --workspace`,
    /// the release build of scx_relay, then every VM test case.
    Test(test_suite::Options),
    /// Boot the guest and run the demo payload `tests/vm/run/demo.sh`
    /// (sched_ext state, a stress-ng + hackbench mix, scx_relay if built).
    Run(demo::Options),
    /// Benchmark scx_relay against EEVDF and upstream scx_rustland in one
    /// guest boot (interleaved rounds); writes target/bench-vm/results.md
    /// and a latency chart.
    BenchVm(bench_vm::Options),
    /// Soak scx_relay: MINUTES of mixed load per policy in the guest (the
    /// long version of the CI case reliability_soak, which shares 60 s among
    /// the policies); with --recipe-runs N, upstream's stress recipe N times
    /// per policy, with a tally.
    Soak(soak::Options),
    /// Install the release binary, its systemd unit and the
    /// /etc/default/scx_relay example (docs/operations.md).
    Install(install::Options),
    /// Format the BPF sources in place with clang-format (the style of
    /// `.clang-format`; `cargo xtask test` checks it).
    FmtBpf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: Result<bool> = match cli.command {
        Command::Setup(opts) => setup::run(&opts).map(|_| true),
        Command::VmTest(opts) => vm_test::run(&opts),
        Command::Test(opts) => test_suite::run(&opts),
        Command::Run(opts) => demo::run(&opts),
        Command::BenchVm(opts) => bench_vm::run(&opts),
        Command::Soak(opts) => soak::run(&opts),
        Command::Install(opts) => install::run(&opts),
        Command::FmtBpf => test_suite::format_bpf().map(|()| true),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
