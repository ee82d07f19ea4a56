//! Shell-style patterns over bytes, for matching command names and cgroup
//! paths: `*` matches any run of bytes (also `/`), `?` any one byte, `\x`
//! the byte `x`; everything else matches itself. No allocation per match.

/// A compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    pattern: Vec<u8>,
}

impl Glob {
    /// The pattern `text`.
    pub fn new(text: &str) -> Self {
        Self { pattern: text.as_bytes().to_vec() }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.pattern).unwrap_or("")
    }

    /// Whether `text` matches the whole pattern.
    pub fn matches(&self, text: &[u8]) -> bool {
        let p = &self.pattern;
        // Iterative matcher with one backtrack point (the last `*`): linear
        // in practice, never recursive.
        let (mut pi, mut ti) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while ti < text.len() {
            match p.get(pi) {
                Some(b'*') => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                Some(b'?') => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                Some(b'\\') if pi + 1 < p.len() && p[pi + 1] == text[ti] => {
                    pi += 2;
                    ti += 1;
                    continue;
                }
                Some(&c) if c != b'\\' && c == text[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
            match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            }
        }
        p[pi..].iter().all(|&c| c == b'*')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Glob::new(p).matches(t.as_bytes())
    }

    /// Literals, `?`, `*` anywhere, escapes, and whole-string anchoring.
    #[test]
    fn patterns() {
        assert!(m("pipewire", "pipewire"));
        assert!(!m("pipewire", "pipewire-pulse"));
        assert!(m("pipewire*", "pipewire-pulse"));
        assert!(m("*wire*", "pipewire-pulse"));
        assert!(m("k?orker*", "kworker/0:1"));
        assert!(m("*", ""));
        assert!(!m("?", ""));
        assert!(m("a*b*c", "aXbYbZc"));
        assert!(!m("a*b*c", "aXbYbZ"));
        assert!(m("/user.slice/*", "/user.slice/user-1000.slice/session-2.scope"));
        assert!(m(r"a\*", "a*"));
        assert!(!m(r"a\*", "ab"));
        assert!(m("**x", "yyx"));
        assert!(m("", ""));
        assert!(!m("", "x"));
    }
}
