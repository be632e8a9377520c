//! Verifying an OpenID Connect ID token from Google: RS256 only, signed by the JWKS key named
//! by `kid`, issued by the configured issuer to our client id, unexpired (checked against the
//! clock we are given: jsonwebtoken's own time checks read `SystemTime`, which panics on
//! wasm32), carrying this attempt's nonce and a verified email. Pure, so tested natively.

use crate::domain::EmailAddress;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// Clock difference tolerated between us and the provider.
const LEEWAY_SECS: u64 = 60;

/// What an ID token must match.
pub struct Expected<'a> {
    /// Accepted `iss` values (Google uses both `https://accounts.google.com` and the bare host).
    pub issuers: &'a [String],
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub now_secs: u64,
}

/// The person the provider vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The provider's stable account id (`sub`).
    pub subject: String,
    pub email: EmailAddress,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    Malformed(String),
    /// No key in the JWKS has this `kid` (the caller may refresh the JWKS once).
    UnknownKey(Option<String>),
    WrongAlgorithm,
    BadSignature,
    WrongIssuer,
    WrongAudience,
    Expired,
    WrongNonce,
    EmailNotVerified,
    BadEmail,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ID token rejected: {self:?}")
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    #[serde(default)]
    iat: Option<u64>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    email: Option<String>,
    /// A boolean from Google; some providers send the string "true".
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
    #[serde(default)]
    name: Option<String>,
}

pub fn verify(token: &str, jwks: &JwkSet, expected: &Expected) -> Result<Identity, Rejected> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| Rejected::Malformed(e.to_string()))?;
    if header.alg != Algorithm::RS256 {
        return Err(Rejected::WrongAlgorithm);
    }
    let jwk = match &header.kid {
        Some(kid) => jwks.find(kid),
        None => None,
    }
    .ok_or_else(|| Rejected::UnknownKey(header.kid.clone()))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| Rejected::Malformed(format!("jwk: {e}")))?;

    let mut validation = Validation::new(Algorithm::RS256);
    validation.algorithms = vec![Algorithm::RS256];
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_required_spec_claims(&["iss", "aud", "sub", "exp"]);
    validation.set_issuer(expected.issuers);
    validation.set_audience(&[expected.client_id]);
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::InvalidSignature => Rejected::BadSignature,
                ErrorKind::InvalidIssuer => Rejected::WrongIssuer,
                ErrorKind::InvalidAudience => Rejected::WrongAudience,
                ErrorKind::InvalidAlgorithm => Rejected::WrongAlgorithm,
                _ => Rejected::Malformed(e.to_string()),
            }
        })?
        .claims;

    if claims.exp + LEEWAY_SECS <= expected.now_secs {
        return Err(Rejected::Expired);
    }
    if claims.iat.is_some_and(|iat| iat > expected.now_secs + LEEWAY_SECS) {
        return Err(Rejected::Malformed("issued in the future".into()));
    }
    let nonce_ok = claims.nonce.as_deref().is_some_and(|n| super::oauth_state::same(n, expected.nonce));
    if !nonce_ok {
        return Err(Rejected::WrongNonce);
    }
    let verified = matches!(&claims.email_verified, Some(serde_json::Value::Bool(true)))
        || matches!(&claims.email_verified, Some(serde_json::Value::String(s)) if s == "true");
    if !verified {
        return Err(Rejected::EmailNotVerified);
    }
    let email =
        claims.email.as_deref().and_then(|e| EmailAddress::parse(e).ok()).ok_or(Rejected::BadEmail)?;
    let name = claims.name.filter(|n| !n.trim().is_empty() && !n.chars().any(char::is_control));
    Ok(Identity { subject: claims.sub, email, name })
}
