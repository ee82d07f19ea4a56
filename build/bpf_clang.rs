//! Which clang compiles the BPF dispatcher: `build.rs` includes this file
//! (and runs the compilers); `tests/bpf_clang.rs` includes it too, to run
//! the tests below with `cargo test`. Pure: what a compiler reports comes in
//! through a `probe` function.

/// The oldest clang that builds sched_ext BPF: scx_cargo refuses older ones
/// (`-mcpu=v4`), in its `ClangInfo::new`.
pub const MIN_MAJOR: u32 = 18;

/// The compilers tried, in order, when `BPF_CLANG` is unset: the plain one
/// if new enough, else the versioned names Debian and Ubuntu install.
pub const CANDIDATES: [&str; 3] = ["clang", "clang-19", "clang-18"];

/// What `<compiler> --version` showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// No such command.
    NotFound,
    /// It could not be run, failed, or printed no `clang version N`.
    NoVersion,
    /// Its major version.
    Major(u32),
}

/// The major version in `clang --version`'s output: the number after the
/// first `clang version ` (vendors put their name before it: `Debian clang
/// version 14.0.6`, `Ubuntu clang version 18.1.3 (1ubuntu1)`).
pub fn parse_major(output: &str) -> Option<u32> {
    const KEY: &str = "clang version ";
    let rest = &output[output.find(KEY)? + KEY.len()..];
    let digits = &rest[..rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len())];
    digits.parse().ok()
}

/// The BPF compiler to use: `bpf_clang` (the `BPF_CLANG` variable; empty
/// counts as unset) if it is set, else the first of [`CANDIDATES`] that
/// `probe` finds at [`MIN_MAJOR`] or newer. A set `BPF_CLANG` is never
/// replaced: if it is unusable, so is the build. The error is one line
/// naming everything tried and what it was, for the build to fail with.
pub fn choose(bpf_clang: Option<&str>, mut probe: impl FnMut(&str) -> Probe) -> Result<String, String> {
    let set = bpf_clang.filter(|c| !c.is_empty());
    let mut parts = Vec::new();
    match set {
        Some(cmd) => {
            let found = probe(cmd);
            if matches!(found, Probe::Major(m) if m >= MIN_MAJOR) {
                return Ok(cmd.to_owned());
            }
            parts.push(describe(&format!("BPF_CLANG={cmd}"), found));
        }
        None => parts.push("BPF_CLANG unset".to_owned()),
    }
    let mut missing = Vec::new();
    let mut alternative = None;
    for cmd in CANDIDATES.into_iter().filter(|c| Some(*c) != set) {
        match probe(cmd) {
            Probe::Major(m) if m >= MIN_MAJOR && set.is_none() => return Ok(cmd.to_owned()),
            Probe::Major(m) if m >= MIN_MAJOR => {
                alternative.get_or_insert((cmd, m));
                parts.push(describe(cmd, Probe::Major(m)));
            }
            Probe::NotFound => missing.push(cmd),
            found => parts.push(describe(cmd, found)),
        }
    }
    if !missing.is_empty() {
        parts.push(format!("{} not found", missing.join(", ")));
    }
    let fix = match alternative {
        Some((cmd, m)) => format!("set BPF_CLANG={cmd} to use clang {m}"),
        None => format!("install clang {MIN_MAJOR}+ or set BPF_CLANG"),
    };
    Err(format!("no BPF compiler: {}; {fix}", parts.join("; ")))
}

/// What `name` turned out to be: `clang is 14 (need 18 or newer)`.
fn describe(name: &str, found: Probe) -> String {
    match found {
        Probe::NotFound => format!("{name} not found"),
        Probe::NoVersion => format!("{name} reports no clang version"),
        Probe::Major(m) if m >= MIN_MAJOR => format!("{name} is {m}"),
        Probe::Major(m) => format!("{name} is {m} (need {MIN_MAJOR} or newer)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// A probe from a table: `name -> what it is`; anything else is absent.
    fn machine(table: &'static [(&'static str, Probe)]) -> impl FnMut(&str) -> Probe {
        move |cmd| table.iter().find(|(n, _)| *n == cmd).map_or(Probe::NotFound, |(_, p)| *p)
    }

    /// BPF_CLANG wins when set and new enough, whatever else is installed.
    #[test]
    fn bpf_clang_first() {
        let m = machine(&[("clang", Probe::Major(20)), ("/opt/llvm/bin/clang", Probe::Major(18))]);
        assert_eq!(choose(Some("/opt/llvm/bin/clang"), m), Ok("/opt/llvm/bin/clang".to_owned()));
    }

    /// Unset (or empty): plain clang if it is 18+, else clang-19, else clang-18.
    #[test]
    fn candidates_in_order() {
        let fedora = machine(&[("clang", Probe::Major(20))]);
        assert_eq!(choose(None, fedora), Ok("clang".to_owned()));
        let bookworm =
            machine(&[("clang", Probe::Major(14)), ("clang-19", Probe::Major(19)), ("clang-18", Probe::Major(18))]);
        assert_eq!(choose(None, bookworm), Ok("clang-19".to_owned()));
        let noble = machine(&[("clang-18", Probe::Major(18))]);
        assert_eq!(choose(Some(""), noble), Ok("clang-18".to_owned()));
        let exactly_18 = machine(&[("clang", Probe::Major(18)), ("clang-19", Probe::Major(19))]);
        assert_eq!(choose(None, exactly_18), Ok("clang".to_owned()));
    }

    /// Nothing usable: one line with every compiler tried and what it was.
    #[test]
    fn nothing_usable() {
        let m = machine(&[("clang", Probe::Major(14))]);
        assert_eq!(
            choose(None, m),
            Err("no BPF compiler: BPF_CLANG unset; clang is 14 (need 18 or newer); clang-19, clang-18 not found; \
                 install clang 18+ or set BPF_CLANG"
                .to_owned())
        );
        assert_eq!(
            choose(None, machine(&[])),
            Err("no BPF compiler: BPF_CLANG unset; clang, clang-19, clang-18 not found; install clang 18+ or set BPF_CLANG"
                .to_owned())
        );
        let odd = machine(&[("clang", Probe::NoVersion), ("clang-18", Probe::Major(17))]);
        assert_eq!(
            choose(None, odd),
            Err(
                "no BPF compiler: BPF_CLANG unset; clang reports no clang version; clang-18 is 17 (need 18 or newer); \
                 clang-19 not found; install clang 18+ or set BPF_CLANG"
                    .to_owned()
            )
        );
    }

    /// BPF_CLANG set but unusable fails (it is never replaced), and names
    /// a candidate that would do.
    #[test]
    fn bad_bpf_clang() {
        let fedora = machine(&[("clang", Probe::Major(20))]);
        assert_eq!(
            choose(Some("clang-19"), fedora),
            Err("no BPF compiler: BPF_CLANG=clang-19 not found; clang is 20; clang-18 not found; \
                 set BPF_CLANG=clang to use clang 20"
                .to_owned())
        );
        let old = machine(&[("clang-14", Probe::Major(14))]);
        assert_eq!(
            choose(Some("clang-14"), old),
            Err("no BPF compiler: BPF_CLANG=clang-14 is 14 (need 18 or newer); clang, clang-19, clang-18 not found; \
                 install clang 18+ or set BPF_CLANG"
                .to_owned())
        );
    }
}
