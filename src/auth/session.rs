//! Session tokens: HS256 JWTs signed with `NEXTAUTH_SECRET`, carried in an HttpOnly cookie.
//!
//! The algorithm is pinned (no `alg: none`, no other key type). Expiry is checked against the
//! runtime clock we are given (jsonwebtoken's own check reads `SystemTime`, which panics on
//! wasm32, so it is off). `sv` is the user's session version: bumping it in the database
//! ("sign out everywhere") invalidates every token issued before. `sid` is a random id per
//! sign-in, naming its row in the `sessions` table (see `db::sessions`): a token counts only
//! while that row exists, so signing out ends it everywhere it was copied to. CSRF tokens are
//! bound to it too.

use crate::cookie::Cookie;
use crate::domain::UserId;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Sessions last 30 days and are renewed while the user is active.
pub const LIFETIME_SECS: u64 = 30 * 24 * 3600;
/// However often a session is renewed, it ends this long after sign-in (checked against the
/// session's row, whose `created_at` is the sign-in).
pub const ABSOLUTE_LIFETIME_SECS: u64 = 90 * 24 * 3600;
/// A token older than this is re-issued on the next request (sliding expiry).
pub const RENEW_AFTER_SECS: u64 = 24 * 3600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Our user id.
    pub sub: String,
    /// Random per sign-in; CSRF tokens are bound to it.
    pub sid: String,
    /// The user's session version when the token was issued.
    pub sv: i32,
    pub iat: u64,
    pub exp: u64,
}

impl Claims {
    pub fn new(user_id: UserId, session_version: i32, sid: String, now_secs: u64) -> Claims {
        Claims {
            sub: user_id.to_string(),
            sid,
            sv: session_version,
            iat: now_secs,
            exp: now_secs + LIFETIME_SECS,
        }
    }

    pub fn user_id(&self) -> Option<UserId> {
        self.sub.parse().ok()
    }

    pub fn needs_renewal(&self, now_secs: u64) -> bool {
        now_secs.saturating_sub(self.iat) >= RENEW_AFTER_SECS
    }

    /// The same session (same sid and version), valid for another full lifetime from now.
    pub fn renewed(&self, now_secs: u64) -> Claims {
        Claims { iat: now_secs, exp: now_secs + LIFETIME_SECS, ..self.clone() }
    }
}

pub fn encode(secret: &str, claims: &Claims) -> Result<String, String> {
    super::jwt_crypto::install();
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret.as_bytes()))
        .map_err(|e| e.to_string())
}

/// The claims of a valid, unexpired token; `None` for anything else (treated as signed out).
pub fn decode(secret: &str, token: &str, now_secs: u64) -> Option<Claims> {
    super::jwt_crypto::install();
    let mut validation = Validation::new(Algorithm::HS256);
    validation.algorithms = vec![Algorithm::HS256];
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data =
        jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(secret.as_bytes()), &validation)
            .ok()?;
    let claims = data.claims;
    if claims.exp <= now_secs || claims.iat > now_secs + 300 || claims.user_id().is_none() {
        return None;
    }
    Some(claims)
}

/// The session cookie; its value is the JWT, which carries its own signature.
pub const COOKIE: Cookie = Cookie::new("gt_session", "__Host-gt_session", Some(LIFETIME_SECS), "session");

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const NOW: u64 = 1_800_000_000;

    fn token() -> String {
        encode(SECRET, &Claims::new(UserId::new(42), 3, "sid1".into(), NOW)).unwrap()
    }

    #[test]
    fn a_fresh_token_round_trips() {
        let c = decode(SECRET, &token(), NOW + 10).unwrap();
        assert_eq!((c.user_id(), c.sv, c.sid.as_str()), (Some(UserId::new(42)), 3, "sid1"));
    }

    #[test]
    fn an_expired_token_is_signed_out() {
        assert!(decode(SECRET, &token(), NOW + LIFETIME_SECS).is_none());
    }

    #[test]
    fn another_key_is_rejected() {
        assert!(decode("another-secret-of-enough-length-000000", &token(), NOW).is_none());
    }

    #[test]
    fn a_changed_claim_breaks_the_signature() {
        let t = token();
        let parts: Vec<&str> = t.split('.').collect();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: serde_json::Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
        claims["sub"] = "1".into();
        let forged = format!("{}.{}.{}", parts[0], b64.encode(claims.to_string()), parts[2]);
        assert!(decode(SECRET, &forged, NOW).is_none());
    }

    #[test]
    fn alg_none_is_rejected() {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let claims =
            b64.encode(serde_json::to_string(&Claims::new(UserId::new(42), 3, "s".into(), NOW)).unwrap());
        assert!(decode(SECRET, &format!("{header}.{claims}."), NOW).is_none());
    }

    #[test]
    fn renewal_keeps_the_session_and_extends_it() {
        let c = Claims::new(UserId::new(42), 3, "sid1".into(), NOW);
        assert!(!c.needs_renewal(NOW + 60));
        assert!(c.needs_renewal(NOW + RENEW_AFTER_SECS));
        let r = c.renewed(NOW + RENEW_AFTER_SECS);
        assert_eq!((r.sid.as_str(), r.sv), ("sid1", 3));
        assert_eq!(r.exp, NOW + RENEW_AFTER_SECS + LIFETIME_SECS);
    }

    #[test]
    fn https_cookies_are_host_prefixed_and_secure() {
        let c = COOKIE.set(true, "t");
        assert!(c.starts_with("__Host-gt_session=t; Path=/; HttpOnly; SameSite=Lax"));
        assert!(c.ends_with("; Secure"));
        assert!(!COOKIE.set(false, "t").contains("Secure"));
    }
}
