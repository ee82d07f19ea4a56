//! What the binary generates about itself for packaging: shell completions
//! (`scx_relay completions SHELL`) and the manual page (`scx_relay man`),
//! both from the same clap definition as `--help`.

#![allow(clippy::expect_used)]

use std::process::Command;

/// `scx_relay args`: its exit success and stdout.
fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_scx_relay")).args(args).output().expect("the binary runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Completions for the common shells name the options and subcommands.
#[test]
fn completions_cover_options_and_subcommands() {
    for shell in ["bash", "zsh", "fish"] {
        let (ok, text) = run(&["completions", shell]);
        assert!(ok, "completions {shell} failed");
        // fish writes options as `-l policy`.
        for word in ["policy", "stall-timeout-ms", "ctl", "sim"] {
            assert!(text.contains(word), "completions {shell} lack {word}");
        }
    }
    let (ok, _) = run(&["completions", "tcsh"]);
    assert!(!ok, "an unknown shell is a usage error");
}

/// The manual page is section 8, carries this build's version and the options.
#[test]
fn man_page_is_section_8_with_the_options() {
    let (ok, text) = run(&["man"]);
    assert!(ok);
    let th = text.lines().find(|l| l.starts_with(".TH ")).expect("a .TH line");
    assert!(th.starts_with(".TH scx_relay 8 "), "{th}");
    assert!(th.contains(scx_relay::version()), "{th}");
    assert!(text.contains("\\-\\-policy") && text.contains("\\-\\-stall\\-timeout\\-ms"));
}
