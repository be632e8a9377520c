//! The short-lived cookie that carries an OAuth sign-in from its start to its callback: the
//! `state` (binds the callback to this browser), the OIDC `nonce` (binds the ID token to this
//! attempt), the PKCE verifier and the return path. Signed with HMAC-SHA256 under
//! `NEXTAUTH_SECRET`, HttpOnly, SameSite=Lax (the callback is a top-level navigation from the
//! provider), ten minutes, cleared by the callback whatever its outcome.

use crate::cookie::Cookie;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const LIFETIME_SECS: u64 = 600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    pub state: String,
    pub nonce: String,
    /// PKCE code verifier (43 characters of base64url, 256 bits).
    pub verifier: String,
    pub next: String,
    pub exp: u64,
}

impl Flow {
    /// A new flow with fresh random values, valid for `LIFETIME_SECS`.
    pub fn start(next: &str, now_secs: u64) -> Flow {
        let random = |n: usize| {
            let mut bytes = vec![0u8; n];
            crate::security::fill_random(&mut bytes);
            URL_SAFE_NO_PAD.encode(bytes)
        };
        Flow {
            state: random(16),
            nonce: random(16),
            verifier: random(32),
            next: next.to_string(),
            exp: now_secs + LIFETIME_SECS,
        }
    }

    /// The S256 code challenge sent with the authorization request.
    pub fn code_challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.verifier.as_bytes()))
    }
}

pub const COOKIE: Cookie = Cookie::new("gt_oauth", "__Host-gt_oauth", Some(LIFETIME_SECS), "oauth-flow");

/// The flow as JSON, sealed (see `Cookie::seal`).
pub fn encode(secret: &str, flow: &Flow) -> String {
    COOKIE.seal(secret, &serde_json::to_vec(flow).unwrap_or_default())
}

/// The flow, when the cookie is ours, untampered and unexpired.
pub fn decode(secret: &str, raw: &str, now_secs: u64) -> Option<Flow> {
    let flow: Flow = serde_json::from_slice(&COOKIE.open(secret, raw)?).ok()?;
    (flow.exp > now_secs).then_some(flow)
}

/// Constant-time equality for the `state` check.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_flow_round_trips_until_it_expires() {
        let flow = Flow::start("/account", 1000);
        let raw = encode(SECRET, &flow);
        assert_eq!(decode(SECRET, &raw, 1001), Some(flow.clone()));
        assert_eq!(decode(SECRET, &raw, 1000 + LIFETIME_SECS), None);
        assert_eq!(decode("another-secret-another-secret-000", &raw, 1001), None);
    }

    #[test]
    fn a_changed_cookie_is_refused() {
        let flow = Flow::start("/", 1000);
        let raw = encode(SECRET, &flow);
        let (payload, tag) = raw.split_once('.').unwrap();
        let mut forged = flow.clone();
        forged.state = "attacker".into();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(decode(SECRET, &format!("{forged_payload}.{tag}"), 1001), None);
        assert_eq!(decode(SECRET, payload, 1001), None);
        assert_eq!(decode(SECRET, "garbage", 1001), None);
    }

    #[test]
    fn the_pkce_challenge_is_s256_of_the_verifier() {
        // RFC 7636 appendix B.
        let flow = Flow {
            state: String::new(),
            nonce: String::new(),
            verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into(),
            next: "/".into(),
            exp: 0,
        };
        assert_eq!(flow.code_challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn fresh_flows_have_distinct_high_entropy_values() {
        let (a, b) = (Flow::start("/", 0), Flow::start("/", 0));
        assert_ne!(a.state, b.state);
        assert_ne!(a.nonce, b.nonce);
        assert_eq!(a.verifier.len(), 43);
        assert!(same(&a.state, &a.state.clone()));
        assert!(!same(&a.state, &b.state));
    }
}
