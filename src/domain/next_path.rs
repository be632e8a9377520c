//! Where to send someone after they sign in: a path on this site, never another site.
//!
//! Browsers resolve `//host`, `/\host`, `\\host` and `/<TAB>/host` to another origin, and
//! strip tabs and newlines from URLs, so anything but a plain absolute path is refused and the
//! default is used instead (an open redirect is worse than a lost return path).

use std::fmt;

/// Where signed-in visitors land when no (acceptable) return path was given.
pub const DEFAULT: &str = "/dashboard";
const MAX_LEN: usize = 1024;

/// An absolute path (with optional query) on our own origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextPath(String);

impl NextPath {
    /// The path when it is safe to redirect to; `None` otherwise.
    pub fn parse(raw: &str) -> Option<NextPath> {
        let ok = raw.len() <= MAX_LEN
            && raw.starts_with('/')
            && !raw.starts_with("//")
            && !raw.contains('\\')
            && !raw.chars().any(|c| c.is_control() || c.is_whitespace())
            && !raw.contains('#')
            // A path like `/%2F%2Fhost` is harmless to a browser, but some proxies decode it.
            && !raw.to_ascii_lowercase().starts_with("/%2f")
            && !raw.to_ascii_lowercase().starts_with("/%5c");
        ok.then(|| NextPath(raw.to_string()))
    }

    /// The path when safe, else the default (for a missing or hostile `next`).
    pub fn parse_or_default(raw: Option<&str>) -> NextPath {
        raw.and_then(NextPath::parse).unwrap_or_default()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_default(&self) -> bool {
        self.0 == DEFAULT
    }
}

impl Default for NextPath {
    fn default() -> Self {
        NextPath(DEFAULT.to_string())
    }
}

impl fmt::Display for NextPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_site_paths_are_kept() {
        for p in ["/", "/dashboard", "/tools/agentwrite?draft=3", "/a/b%20c", "/billing?x=1&y=2"] {
            assert_eq!(NextPath::parse(p).map(|n| n.to_string()), Some(p.to_string()), "{p}");
        }
    }

    #[test]
    fn other_sites_and_tricks_are_refused() {
        for p in [
            "https://evil.example",
            "http://evil.example/x",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil.example",
            "javascript:alert(1)",
            "data:text/html,x",
            "evil.example",
            "",
            "/%2F%2Fevil.example",
            "/%5cevil.example",
            "/x#frag",
        ] {
            assert_eq!(NextPath::parse(p), None, "{p:?} must be refused");
        }
        assert_eq!(NextPath::parse(&format!("/{}", "a".repeat(2000))), None);
    }

    #[test]
    fn a_refused_or_missing_path_falls_back_to_the_dashboard() {
        assert_eq!(NextPath::parse_or_default(None).as_str(), DEFAULT);
        assert_eq!(NextPath::parse_or_default(Some("//evil.example")).as_str(), DEFAULT);
        assert_eq!(NextPath::parse_or_default(Some("/account")).as_str(), "/account");
    }
}
