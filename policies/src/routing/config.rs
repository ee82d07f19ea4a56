//! The routing configuration: a TOML file, checked completely before
//! anything uses it. A mistake is reported with the line and the field at
//! fault (`line 7, field share: invalid type: string "lots", expected u64`).
//!
//! ```toml
//! # Tasks no route matches.
//! [default]
//! policy = "deadline"
//!
//! # Routes are tried in order; the first whose matchers all match wins.
//! [[route]]
//! name = "audio"           # shown in logs (default: "route N")
//! policy = "interactive"   # a shipped policy (not routing itself)
//! comm = "pipewire*"       # matchers, at least one:
//! # tgid = [1234, 5678]    #   process ids
//! # nice = [-20, -1]       #   a nice level or an inclusive range
//! # cgroup = "/user.slice/*"   cgroup v2 path pattern
//! # pinned = true          #   allowed on a single CPU
//! cpus = "0-1"             # CPUs its tasks are placed on (default: all)
//! share = 300              # CPU share against the other routes (default 100)
//! ```

use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

use super::{glob::Glob, CpuSet, Matcher, MAX_ROUTES};

/// Highest CPU number a CPU list may name (the dispatcher's limit, minus one).
const MAX_CPU: u32 = scheduler_core::wire::MAX_CPUS - 1;

/// A configuration the file describes (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutingConfig {
    /// Where tasks no route matches go.
    pub default: GroupSpec,
    /// The routes, in order.
    pub routes: Vec<RouteSpec>,
}

/// A sub-policy with its CPUs and share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSpec {
    /// Label in logs.
    pub name: String,
    /// A name in [`crate::NAMES`].
    pub policy: String,
    /// CPUs its tasks are placed on; `None` = every CPU.
    pub cpus: Option<CpuSet>,
    /// CPU share relative to the other groups, 1..=10000.
    pub share: u64,
}

/// A route: what it matches and where matching tasks go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    /// The matchers, all of which must match.
    pub matcher: Matcher,
    /// The group matching tasks go to.
    pub group: GroupSpec,
}

/// Why a configuration was refused: where, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("line {line}, field {field}: {message}")]
pub struct ConfigError {
    /// 1-based line of the file.
    pub line: usize,
    /// The field (TOML key) at fault, or the table when no key applies.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    default: Option<Spanned<RawDefault>>,
    #[serde(default)]
    route: Vec<Spanned<RawRoute>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefault {
    policy: Option<Spanned<String>>,
    cpus: Option<Spanned<String>>,
    share: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    name: Option<Spanned<String>>,
    policy: Spanned<String>,
    cpus: Option<Spanned<String>>,
    share: Option<Spanned<u64>>,
    comm: Option<Spanned<String>>,
    tgid: Option<Spanned<OneOrMany>>,
    nice: Option<Spanned<OneOrMany>>,
    cgroup: Option<Spanned<String>>,
    pinned: Option<Spanned<bool>>,
}

/// An integer or an array of integers.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(i64),
    Many(Vec<i64>),
}

impl OneOrMany {
    fn values(&self) -> &[i64] {
        match self {
            OneOrMany::One(v) => std::slice::from_ref(v),
            OneOrMany::Many(v) => v,
        }
    }
}

/// Locates byte offsets of the file: line numbers and the key on a line.
struct Source<'a> {
    text: &'a str,
}

impl Source<'_> {
    fn line(&self, offset: usize) -> usize {
        self.text.as_bytes()[..offset.min(self.text.len())].iter().filter(|&&b| b == b'\n').count() + 1
    }

    /// The key assigned on the line holding `offset`, or the table header there.
    fn key_at(&self, offset: usize) -> Option<String> {
        let start = self.text[..offset.min(self.text.len())].rfind('\n').map_or(0, |i| i + 1);
        let line = self.text[start..].lines().next().unwrap_or("").trim();
        if let Some((key, _)) = line.split_once('=') {
            return Some(key.trim().trim_matches('"').to_owned());
        }
        let header = line.trim_start_matches('[').trim_end_matches(']').trim();
        (!header.is_empty()).then(|| header.to_owned())
    }

    fn error<T>(
        &self,
        span: std::ops::Range<usize>,
        field: &str,
        message: impl Into<String>,
    ) -> Result<T, ConfigError> {
        Err(ConfigError { line: self.line(span.start), field: field.to_owned(), message: message.into() })
    }
}

impl RoutingConfig {
    /// Parses and checks a configuration file's text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let src = Source { text };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            let message = e.message().trim().to_owned();
            // serde names the field in "unknown field `x`" / "missing field `x`".
            let named = message.split('`').nth(1).filter(|_| message.contains("field `")).map(str::to_owned);
            ConfigError {
                line: src.line(offset),
                field: named.or_else(|| src.key_at(offset)).unwrap_or_else(|| "(file)".to_owned()),
                message,
            }
        })?;
        if raw.route.len() > MAX_ROUTES {
            let span = raw.route[MAX_ROUTES].span();
            return src.error(span, "route", format!("at most {MAX_ROUTES} routes"));
        }
        let default = match &raw.default {
            Some(d) => {
                let d = d.get_ref();
                GroupSpec {
                    name: "default".to_owned(),
                    policy: match &d.policy {
                        Some(p) => check_policy(&src, p)?,
                        None => "deadline".to_owned(),
                    },
                    cpus: d.cpus.as_ref().map(|c| parse_cpus(&src, c)).transpose()?,
                    share: d.share.as_ref().map(|s| check_share(&src, s)).transpose()?.unwrap_or(100),
                }
            }
            None => GroupSpec { name: "default".to_owned(), policy: "deadline".to_owned(), cpus: None, share: 100 },
        };
        let mut routes = Vec::with_capacity(raw.route.len());
        for (i, r) in raw.route.iter().enumerate() {
            let span = r.span();
            let r = r.get_ref();
            let matcher = Matcher {
                comm: r.comm.as_ref().map(|c| Glob::new(c.get_ref())),
                tgids: match &r.tgid {
                    Some(t) => check_tgids(&src, t)?,
                    None => Vec::new(),
                },
                nice: r.nice.as_ref().map(|n| check_nice(&src, n)).transpose()?,
                cgroup: r.cgroup.as_ref().map(|c| Glob::new(c.get_ref())),
                pinned: r.pinned.as_ref().map(|p| *p.get_ref()),
            };
            if matcher.is_empty() {
                return src.error(span, "route", "a route needs a matcher: comm, tgid, nice, cgroup or pinned");
            }
            let group = GroupSpec {
                name: r.name.as_ref().map_or_else(|| format!("route {}", i + 1), |n| n.get_ref().clone()),
                policy: check_policy(&src, &r.policy)?,
                cpus: r.cpus.as_ref().map(|c| parse_cpus(&src, c)).transpose()?,
                share: r.share.as_ref().map(|s| check_share(&src, s)).transpose()?.unwrap_or(100),
            };
            routes.push(RouteSpec { matcher, group });
        }
        Ok(Self { default, routes })
    }

    /// Whether any route matches on cgroup paths (the binary then provides a
    /// cgroup table, [`super::cgroup_table`]).
    pub fn uses_cgroups(&self) -> bool {
        self.routes.iter().any(|r| r.matcher.cgroup.is_some())
    }
}

fn check_policy(src: &Source<'_>, p: &Spanned<String>) -> Result<String, ConfigError> {
    let name = p.get_ref();
    if crate::NAMES.contains(&name.as_str()) {
        Ok(name.clone())
    } else {
        src.error(p.span(), "policy", format!("unknown policy '{name}' (valid: {})", crate::NAMES.join(", ")))
    }
}

fn check_share(src: &Source<'_>, s: &Spanned<u64>) -> Result<u64, ConfigError> {
    match *s.get_ref() {
        v @ 1..=10_000 => Ok(v),
        v => src.error(s.span(), "share", format!("{v} is out of range (1..=10000)")),
    }
}

fn check_tgids(src: &Source<'_>, t: &Spanned<OneOrMany>) -> Result<Vec<i32>, ConfigError> {
    t.get_ref()
        .values()
        .iter()
        .map(|&v| match i32::try_from(v) {
            Ok(v) if v > 0 => Ok(v),
            _ => src.error(t.span(), "tgid", format!("{v} is not a process id (a positive 32-bit integer)")),
        })
        .collect()
}

fn check_nice(src: &Source<'_>, n: &Spanned<OneOrMany>) -> Result<(i32, i32), ConfigError> {
    let (lo, hi) = match n.get_ref().values() {
        [v] => (*v, *v),
        [lo, hi] => (*lo, *hi),
        _ => return src.error(n.span(), "nice", "expected a nice level or [lowest, highest]"),
    };
    if !(-20..=19).contains(&lo) || !(-20..=19).contains(&hi) || lo > hi {
        return src.error(n.span(), "nice", format!("[{lo}, {hi}] is not a range within -20..=19"));
    }
    Ok((lo as i32, hi as i32))
}

/// Parses a CPU list such as `"0-3,6,8-9"`.
fn parse_cpus(src: &Source<'_>, c: &Spanned<String>) -> Result<CpuSet, ConfigError> {
    let bad = |why: String| src.error(c.span(), "cpus", why);
    let mut set = CpuSet::default();
    for part in c.get_ref().split(',').map(str::trim) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (Ok(a), Ok(b)) = (a.trim().parse::<u32>(), b.trim().parse::<u32>()) else {
            return bad(format!("'{part}' is not a CPU or a range of CPUs (e.g. \"0-3,6\")"));
        };
        if a > b || b > MAX_CPU {
            return bad(format!("'{part}' is not a range within 0..={MAX_CPU}"));
        }
        (a..=b).for_each(|cpu| set.insert(cpu));
    }
    Ok(set)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
# comment
[default]
policy = "eevdf"
share = 50

[[route]]
name = "audio"
policy = "interactive"
comm = "pipewire*"
cpus = "0-1, 3"
share = 300

[[route]]
policy = "local"
nice = [-20, -1]
pinned = false

[[route]]
policy = "fifo"
tgid = 42
cgroup = "/system.slice/*"
"#;

    /// A full configuration parses into what it says, with defaults filled in.
    #[test]
    fn parses_a_full_file() {
        let c = RoutingConfig::parse(GOOD).unwrap();
        assert_eq!((c.default.policy.as_str(), c.default.share, c.default.cpus.is_none()), ("eevdf", 50, true));
        assert_eq!(c.routes.len(), 3);
        let audio = &c.routes[0];
        assert_eq!(
            (audio.group.name.as_str(), audio.group.policy.as_str(), audio.group.share),
            ("audio", "interactive", 300)
        );
        assert_eq!(audio.group.cpus.as_ref().unwrap().iter().collect::<Vec<_>>(), vec![0, 1, 3]);
        assert_eq!(audio.matcher.comm.as_ref().unwrap().as_str(), "pipewire*");
        assert_eq!(c.routes[1].matcher.nice, Some((-20, -1)));
        assert_eq!(c.routes[1].matcher.pinned, Some(false));
        assert_eq!(c.routes[1].group.name, "route 2");
        assert_eq!(c.routes[2].matcher.tgids, vec![42]);
        assert!(c.uses_cgroups());
    }

    /// An empty file routes everything to `deadline`.
    #[test]
    fn empty_file_is_all_default() {
        let c = RoutingConfig::parse("").unwrap();
        assert_eq!((c.default.policy.as_str(), c.routes.len()), ("deadline", 0));
    }

    fn err(text: &str) -> ConfigError {
        RoutingConfig::parse(text).unwrap_err()
    }

    /// Every kind of mistake names its line and field, in one line.
    #[test]
    fn errors_name_line_and_field() {
        let cases: &[(&str, usize, &str, &str)] = &[
            ("[[route]]\npolicy = \"fifo\"\ncomm = \"x\"\nshare = \"lots\"\n", 4, "share", "invalid type"),
            ("[[route]]\npolicy = \"cfs\"\ncomm = \"x\"\n", 2, "policy", "unknown policy 'cfs'"),
            ("[[route]]\npolicy = \"fifo\"\ncomm = \"x\"\nshare = 0\n", 4, "share", "out of range"),
            ("[[route]]\npolicy = \"fifo\"\n\ncpus = \"3-1\"\ncomm = \"x\"\n", 4, "cpus", "not a range"),
            ("[[route]]\npolicy = \"fifo\"\ncpus = \"a\"\ncomm = \"x\"\n", 3, "cpus", "not a CPU"),
            ("[[route]]\npolicy = \"fifo\"\nnice = [5, -5]\n", 3, "nice", "not a range"),
            ("[[route]]\npolicy = \"fifo\"\nnice = [1, 2, 3]\n", 3, "nice", "expected a nice level"),
            ("[[route]]\npolicy = \"fifo\"\ntgid = [-4]\n", 3, "tgid", "not a process id"),
            ("\n[[route]]\npolicy = \"fifo\"\n", 2, "route", "needs a matcher"),
            ("[[route]]\npolicy = \"fifo\"\ncomm = \"x\"\npolcy = 3\n", 4, "polcy", "unknown field"),
            ("[[route]]\ncomm = \"x\"\n", 1, "policy", "missing field"),
            ("[default]\npolicy = \"fifo\"\n[[route]\n", 3, "route", ""),
            ("[default]\npolicy = \"routing\"\n", 2, "policy", "unknown policy 'routing'"),
        ];
        for &(text, line, field, words) in cases {
            let e = err(text);
            assert_eq!((e.line, e.field.as_str()), (line, field), "{text:?}: {e}");
            assert!(e.message.contains(words), "{text:?}: {e}");
            assert!(!e.to_string().contains('\n'), "{text:?}: {e}");
        }
    }

    /// More routes than the router can track are refused.
    #[test]
    fn too_many_routes() {
        let text: String =
            (0..=MAX_ROUTES).map(|i| format!("[[route]]\npolicy = \"fifo\"\ntgid = {}\n", i + 1)).collect();
        let e = err(&text);
        assert_eq!(e.field, "route");
        assert_eq!(e.line, 3 * MAX_ROUTES + 1);
    }
}
