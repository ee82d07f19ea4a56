//! `build.rs`'s check of the BPF compiler: `$BPF_CLANG --version` must
//! report clang 18 or newer. Which compiler that is, is up to `BPF_CLANG`
//! (in this workspace `.cargo/config.toml` points it at `build/bpf-clang`,
//! the one place that picks a compiler). `build.rs` includes this file;
//! `tests/bpf_clang.rs` includes it too, to run the tests below with
//! `cargo test`. Pure: the command's outcome comes in as a value.

use std::{io, process::Output};

/// The oldest clang that builds sched_ext BPF: scx_cargo refuses older ones
/// (`-mcpu=v4`), in its `ClangInfo::new`.
pub const MIN_MAJOR: u32 = 18;

/// The major version in `clang --version`'s output: the number after the
/// first `clang version ` (vendors put their name before it: `Debian clang
/// version 14.0.6`, `Ubuntu clang version 18.1.3 (1ubuntu1)`).
pub fn parse_major(output: &str) -> Option<u32> {
    const KEY: &str = "clang version ";
    let rest = &output[output.find(KEY)? + KEY.len()..];
    let digits = &rest[..rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len())];
    digits.parse().ok()
}

/// The major version of `bpf_clang` (the `BPF_CLANG` value) from the outcome
/// of running `bpf_clang --version`, or the one line for the build to fail
/// with: what `BPF_CLANG` is and what running it gave.
pub fn check(bpf_clang: &str, run: io::Result<Output>) -> Result<u32, String> {
    let what = format!("BPF_CLANG={bpf_clang}");
    let out = match run {
        Ok(out) => out,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(format!("{what}: not found; install clang {MIN_MAJOR}+ or set BPF_CLANG"));
        }
        Err(e) => return Err(format!("{what}: cannot run it: {e}")),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(match first_line(&stderr) {
            Some(line) => format!("{what} --version failed ({}): {line}", out.status),
            None => format!("{what} --version failed ({}) and printed nothing on stderr", out.status),
        });
    }
    match parse_major(&stdout) {
        Some(major) if major >= MIN_MAJOR => Ok(major),
        Some(major) => Err(format!("{what} is clang {major} (need {MIN_MAJOR} or newer)")),
        None => Err(format!(
            "{what} --version printed no `clang version N`: {}",
            first_line(&stdout).unwrap_or("(nothing)")
        )),
    }
}

/// The first line of `text` that is not blank, trimmed.
fn first_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).find(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    /// The `--version` first lines of the compilers met in the wild.
    #[test]
    fn parses_vendor_banners() {
        let cases = [
            ("clang version 19.1.7 (https://github.com/llvm/llvm-project cd708029e0b2)\nTarget: x86_64", Some(19)),
            ("Debian clang version 14.0.6\nTarget: x86_64-pc-linux-gnu\nThread model: posix", Some(14)),
            ("Debian clang version 19.1.7 (3~deb12u1)\nTarget: x86_64-pc-linux-gnu", Some(19)),
            ("Ubuntu clang version 18.1.3 (1ubuntu1)\nTarget: x86_64-pc-linux-gnu", Some(18)),
            ("clang version 20.1.0 (Fedora 20.1.0-1.fc42)\nTarget: x86_64-redhat-linux-gnu", Some(20)),
            ("Apple clang version 15.0.0 (clang-1500.3.9.4)", Some(15)),
            ("gcc (Debian 12.2.0-14) 12.2.0", None),
            ("clang version \n", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_major(text), want, "{text:?}");
        }
    }

    /// A finished `--version` run: exit code, stdout, stderr.
    fn ran(code: i32, stdout: &str, stderr: &str) -> io::Result<Output> {
        Ok(Output {
            status: ExitStatus::from_raw(code << 8),
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        })
    }

    /// 18 or newer passes, whatever the vendor prefix.
    #[test]
    fn new_enough() {
        assert_eq!(check("clang", ran(0, "clang version 20.1.0 (Fedora 20.1.0-1.fc42)\nTarget: x", "")), Ok(20));
        assert_eq!(check("/w/build/bpf-clang", ran(0, "Ubuntu clang version 18.1.3 (1ubuntu1)\n", "")), Ok(18));
    }

    /// Everything else fails with one line: what BPF_CLANG is, what it gave.
    #[test]
    fn one_line_failures() {
        let missing = Err(io::Error::from(io::ErrorKind::NotFound));
        assert_eq!(
            check("clang-19", missing),
            Err("BPF_CLANG=clang-19: not found; install clang 18+ or set BPF_CLANG".into())
        );
        assert_eq!(
            check("clang-14", ran(0, "Debian clang version 14.0.6\nTarget: x86_64-pc-linux-gnu\n", "")),
            Err("BPF_CLANG=clang-14 is clang 14 (need 18 or newer)".into())
        );
        // The wrapper's own line comes through as it printed it.
        let wrapper = "bpf-clang: no BPF compiler: clang is 14 (need 18 or newer); clang-19, clang-18 not found; \
                       install clang 18+ or set BPF_CLANG\n";
        assert_eq!(
            check("/w/build/bpf-clang", ran(127, "", wrapper)),
            Err(format!("BPF_CLANG=/w/build/bpf-clang --version failed (exit status: 127): {}", wrapper.trim()))
        );
        assert_eq!(
            check("false", ran(1, "", "")),
            Err("BPF_CLANG=false --version failed (exit status: 1) and printed nothing on stderr".into())
        );
        assert_eq!(
            check("gcc", ran(0, "\ngcc (Debian 12.2.0-14) 12.2.0\nCopyright\n", "")),
            Err("BPF_CLANG=gcc --version printed no `clang version N`: gcc (Debian 12.2.0-14) 12.2.0".into())
        );
        assert_eq!(
            check("true", ran(0, "", "")),
            Err("BPF_CLANG=true --version printed no `clang version N`: (nothing)".into())
        );
        let denied = Err(io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(
            check("/w/x", denied).is_err_and(|e| e.starts_with("BPF_CLANG=/w/x: cannot run it: ") && !e.contains('\n'))
        );
    }
}
