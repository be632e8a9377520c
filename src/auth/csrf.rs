//! CSRF protection: a signed double-submit token bound to the session (or, before sign-in, to
//! a random pre-session cookie), plus an `Origin`/`Sec-Fetch-Site` check.
//!
//! token = HMAC-SHA256(secret, "csrf:" + binding). The binding lives in an HttpOnly cookie the
//! attacker cannot read, and without the secret they cannot compute the token for it.

use crate::cookie::Cookie;

/// The pre-session cookie (before sign-in): random, until the browser closes. Its value is not
/// signed; the token bound to it is, under this cookie's purpose.
pub const PRE_SESSION: Cookie = Cookie::new("gt_csrf", "__Host-gt_csrf", None, "csrf");

/// The token a form must carry for this binding.
pub fn token(secret: &str, binding: &str) -> String {
    PRE_SESSION.tag(secret, binding.as_bytes())
}

/// Constant-time check of a submitted token.
pub fn verify(secret: &str, binding: &str, submitted: &str) -> bool {
    PRE_SESSION.verify(secret, binding.as_bytes(), submitted)
}

/// Whether the browser's own headers allow a state-changing request: a present `Origin` must
/// be ours, and a present `Sec-Fetch-Site` must be `same-origin`. Non-browser clients send
/// neither and are judged by the token alone.
pub fn same_origin(origin: Option<&str>, sec_fetch_site: Option<&str>, our_origin: &str) -> bool {
    let origin_ok = origin.is_none_or(|o| o == our_origin);
    let site_ok = sec_fetch_site.is_none_or(|s| s == "same-origin" || s == "none");
    origin_ok && site_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_only_for_its_binding() {
        let t = token("secret", "sid-1");
        assert!(verify("secret", "sid-1", &t));
        assert!(!verify("secret", "sid-2", &t));
        assert!(!verify("other", "sid-1", &t));
        assert!(!verify("secret", "sid-1", ""));
        assert!(!verify("secret", "sid-1", "zz"));
    }

    #[test]
    fn cross_site_requests_are_refused_by_their_headers() {
        let ours = "https://ghosttools.app";
        assert!(same_origin(Some(ours), Some("same-origin"), ours));
        assert!(same_origin(None, None, ours));
        assert!(!same_origin(Some("https://evil.example"), None, ours));
        assert!(!same_origin(None, Some("cross-site"), ours));
        assert!(!same_origin(Some("null"), None, ours));
    }
}
