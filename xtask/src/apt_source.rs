//! Finding the Debian archive mirror this machine already uses.
//!
//! No mirror host name is written into the repository: the guest kernel is
//! fetched from whatever mirror the host's own apt configuration names for
//! the main Debian archive (not the security archive). Both source formats
//! are read: deb822 `*.sources` files and one-line `sources.list` entries.

use std::path::Path;

use anyhow::{bail, Context, Result};

/// One `deb` entry of the system's apt configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptSource {
    /// Archive base URIs (`URIs:` in deb822, the second word of a `deb` line).
    pub uris: Vec<String>,
    /// Suites (`bookworm`, `bookworm-updates`, `bookworm-security`, ...).
    pub suites: Vec<String>,
    /// Components (`main`, `contrib`, ...).
    pub components: Vec<String>,
}

/// Parse a deb822 `.sources` file; keeps enabled stanzas of type `deb`.
pub fn parse_deb822(text: &str) -> Vec<AptSource> {
    let mut sources = Vec::new();
    for stanza in deb822_stanzas(text) {
        let field = |name: &str| -> Vec<String> {
            stanza
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let enabled = field("Enabled").first().is_none_or(|v| !v.eq_ignore_ascii_case("no"));
        if !enabled || !field("Types").iter().any(|t| t == "deb") {
            continue;
        }
        sources.push(AptSource {
            uris: field("URIs").into_iter().map(normalize_uri).collect(),
            suites: field("Suites"),
            components: field("Components"),
        });
    }
    sources
}

/// Split deb822 text into stanzas of `(field, value)`, joining
/// continuation lines and dropping comments.
fn deb822_stanzas(text: &str) -> Vec<Vec<(String, String)>> {
    let mut stanzas = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                stanzas.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.trim_start().starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((key, value)) = line.split_once(':') {
            current.push((key.trim().to_owned(), value.trim().to_owned()));
        }
    }
    if !current.is_empty() {
        stanzas.push(current);
    }
    stanzas
}

/// Parse one-line `sources.list` text; keeps `deb` lines.
pub fn parse_one_line(text: &str) -> Vec<AptSource> {
    let mut sources = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(rest) = line.strip_prefix("deb ").or_else(|| line.strip_prefix("deb\t")) else {
            continue;
        };
        let rest = rest.trim_start();
        // Drop the `[option=value ...]` block.
        let rest = match rest.strip_prefix('[') {
            Some(opts) => match opts.split_once(']') {
                Some((_, after)) => after,
                None => continue,
            },
            None => rest,
        };
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        sources.push(AptSource {
            uris: vec![normalize_uri(uri.to_owned())],
            suites: vec![suite.to_owned()],
            components: words.map(str::to_owned).collect(),
        });
    }
    sources
}

fn normalize_uri(uri: String) -> String {
    uri.trim_end_matches('/').to_owned()
}

/// Pick the URI of the main Debian archive among `sources`.
///
/// Preferred: an entry carrying the release's own suite (`codename`, e.g.
/// `bookworm`) with component `main`. Otherwise an entry whose suites are
/// `<codename>-updates` / `-backports`, or (when the codename is unknown) one
/// whose URI path ends in `/debian`. Security suites and CD-ROM sources are
/// never chosen.
pub fn pick_debian_archive(sources: &[AptSource], codename: Option<&str>) -> Option<String> {
    let usable = |s: &&AptSource| {
        s.components.iter().any(|c| c == "main") && !s.suites.iter().any(|suite| suite.ends_with("-security"))
    };
    let first_uri = |s: &AptSource| s.uris.iter().find(|uri| !uri.starts_with("cdrom:")).cloned();
    if let Some(codename) = codename {
        let exact = sources.iter().filter(usable).find(|s| s.suites.iter().any(|suite| suite == codename));
        if let Some(uri) = exact.and_then(first_uri) {
            return Some(uri);
        }
        let derived = sources.iter().filter(usable).find(|s| {
            s.suites.iter().any(|suite| {
                suite.strip_prefix(codename).is_some_and(|tail| tail == "-updates" || tail == "-backports")
            })
        });
        if let Some(uri) = derived.and_then(first_uri) {
            return Some(uri);
        }
    }
    sources.iter().filter(usable).filter_map(first_uri).find(|uri| uri.ends_with("/debian"))
}

/// The release codename from `os-release` text (`VERSION_CODENAME=`).
pub fn os_release_codename(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix("VERSION_CODENAME=")?;
        let value = value.trim().trim_matches('"');
        (!value.is_empty()).then(|| value.to_owned())
    })
}

/// Read the host's apt sources and return the main Debian archive URI.
pub fn system_debian_mirror() -> Result<String> {
    let mut sources = Vec::new();
    let list = Path::new("/etc/apt/sources.list");
    if list.exists() {
        let text = std::fs::read_to_string(list).with_context(|| format!("cannot read {}", list.display()))?;
        sources.extend(parse_one_line(&text));
    }
    let parts = Path::new("/etc/apt/sources.list.d");
    if parts.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(parts)
            .with_context(|| format!("cannot list {}", parts.display()))?
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("cannot list {}", parts.display()))?;
        entries.sort_by_key(|entry| entry.file_name());
        for entry in entries {
            let path = entry.path();
            let parse: fn(&str) -> Vec<AptSource> = match path.extension().and_then(|e| e.to_str()) {
                Some("sources") => parse_deb822,
                Some("list") => parse_one_line,
                _ => continue,
            };
            let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
            sources.extend(parse(&text));
        }
    }
    let codename = std::fs::read_to_string("/etc/os-release").ok().and_then(|text| os_release_codename(&text));
    match pick_debian_archive(&sources, codename.as_deref()) {
        Some(uri) => Ok(uri),
        None => bail!(
            "no Debian archive (suite {} with component main) found in /etc/apt/sources.list \
             or /etc/apt/sources.list.d/; pass --mirror <URI of a Debian mirror>",
            codename.as_deref().unwrap_or("<unknown>")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEB822: &str = "\
Types: deb
# http://snapshot.example/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
";

    #[test]
    fn deb822_stanzas_are_parsed() {
        let sources = parse_deb822(DEB822);
        assert_eq!(sources.len(), 2);
        assert_eq!(sources[0].uris, ["http://mirror.example/debian"]);
        assert_eq!(sources[0].suites, ["bookworm", "bookworm-updates"]);
        assert_eq!(sources[1].suites, ["bookworm-security"]);
    }

    #[test]
    fn security_archive_is_never_picked() {
        let mut sources = parse_deb822(DEB822);
        sources.reverse();
        assert_eq!(pick_debian_archive(&sources, Some("bookworm")).as_deref(), Some("http://mirror.example/debian"));
        let only_security = &sources[..1];
        assert_eq!(pick_debian_archive(only_security, Some("bookworm")), None);
    }

    #[test]
    fn disabled_and_deb_src_stanzas_are_skipped() {
        let text = "Types: deb-src\nURIs: http://a/debian\nSuites: bookworm\nComponents: main\n\n\
                    Types: deb\nEnabled: no\nURIs: http://b/debian\nSuites: bookworm\nComponents: main\n";
        assert!(parse_deb822(text).is_empty());
    }

    #[test]
    fn third_party_repositories_are_not_debian() {
        let text = "Types: deb\nURIs: https://deb.vendor.example/node_20.x\nSuites: nodistro\n\
                    Components: main\n";
        let sources = parse_deb822(text);
        assert_eq!(pick_debian_archive(&sources, Some("bookworm")), None);
    }

    #[test]
    fn one_line_format_with_options() {
        let text = "# comment\n\
                    deb https://vendor.example/apt cloud-sdk-bookworm main\n\
                    deb [arch=amd64 signed-by=/k.gpg] http://m.example/debian/ bookworm main contrib\n\
                    deb-src http://m.example/debian bookworm main\n\
                    deb http://m.example/debian-security bookworm-security main\n";
        let sources = parse_one_line(text);
        assert_eq!(sources.len(), 3);
        assert_eq!(sources[1].components, ["main", "contrib"]);
        assert_eq!(pick_debian_archive(&sources, Some("bookworm")).as_deref(), Some("http://m.example/debian"));
    }

    #[test]
    fn unknown_codename_falls_back_to_debian_path() {
        let text = "deb http://m.example/debian trixie main\n";
        let sources = parse_one_line(text);
        assert_eq!(pick_debian_archive(&sources, None).as_deref(), Some("http://m.example/debian"));
    }

    #[test]
    fn codename_from_os_release() {
        let text = "NAME=\"Debian GNU/Linux\"\nVERSION_CODENAME=bookworm\nID=debian\n";
        assert_eq!(os_release_codename(text).as_deref(), Some("bookworm"));
        assert_eq!(os_release_codename("ID=debian\n"), None);
    }
}
