//! CSRF protection: a signed double-submit token bound to the session (or, before sign-in, to
//! a random pre-session cookie), plus an `Origin`/`Sec-Fetch-Site` check.
//!
//! token = HMAC-SHA256(secret, "csrf:" + binding). The binding lives in an HttpOnly cookie the
//! attacker cannot read, and without the secret they cannot compute the token for it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The pre-session cookie (before sign-in): random, HttpOnly, SameSite=Lax.
pub fn pre_session_cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-gt_csrf"
    } else {
        "gt_csrf"
    }
}

pub fn pre_session_set_cookie(https: bool, value: &str) -> String {
    let secure = if https { "; Secure" } else { "" };
    format!("{}={value}; Path=/; HttpOnly; SameSite=Lax{secure}", pre_session_cookie_name(https))
}

/// The token a form must carry for this binding.
pub fn token(secret: &str, binding: &str) -> String {
    hex::encode(mac(secret, binding).finalize().into_bytes())
}

/// Constant-time check of a submitted token.
pub fn verify(secret: &str, binding: &str, submitted: &str) -> bool {
    match hex::decode(submitted.trim()) {
        Ok(bytes) => mac(secret, binding).verify_slice(&bytes).is_ok(),
        Err(_) => false,
    }
}

fn mac(secret: &str, binding: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    m.update(b"csrf:");
    m.update(binding.as_bytes());
    m
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
