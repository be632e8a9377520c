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

    // Saturating: an `exp` near u64::MAX must not wrap around to "long expired" (or panic).
    if claims.exp.saturating_add(LEEWAY_SECS) <= expected.now_secs {
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

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use jsonwebtoken::{EncodingKey, Header};
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::PublicKeyParts;
    use serde_json::json;

    // The e2e suite's fake provider key (test-only).
    const PEM: &str = include_str!("../../fakes/src/google-test-key.pem");
    const NOW: u64 = 1_800_000_000;
    const ISS: &str = "https://accounts.google.com";

    fn key() -> rsa::RsaPrivateKey {
        rsa::RsaPrivateKey::from_pkcs8_pem(PEM).unwrap()
    }

    fn jwks() -> JwkSet {
        let public = key().to_public_key();
        serde_json::from_value(json!({ "keys": [{
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": "k1",
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        }]}))
        .unwrap()
    }

    fn claims() -> serde_json::Value {
        json!({ "iss": ISS, "aud": "client-1", "sub": "1234", "email": "Ada@Example.com",
                "email_verified": true, "nonce": "n-1", "iat": NOW - 10, "exp": NOW + 3600, "name": "Ada" })
    }

    fn sign(claims: &serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("k1".into());
        let der = key().to_pkcs1_der().unwrap();
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(der.as_bytes())).unwrap()
    }

    fn check(token: &str) -> Result<Identity, Rejected> {
        let issuers = vec![ISS.to_string(), "accounts.google.com".to_string()];
        verify(
            token,
            &jwks(),
            &Expected { issuers: &issuers, client_id: "client-1", nonce: "n-1", now_secs: NOW },
        )
    }

    #[test]
    fn a_correct_token_names_the_verified_person() {
        let id = check(&sign(&claims())).unwrap();
        assert_eq!(
            (id.subject.as_str(), id.email.as_str(), id.name.as_deref()),
            ("1234", "ada@example.com", Some("Ada"))
        );
        let mut bare_issuer = claims();
        bare_issuer["iss"] = json!("accounts.google.com");
        assert!(check(&sign(&bare_issuer)).is_ok());
    }

    #[test]
    fn each_claim_is_checked() {
        let cases: [(&str, serde_json::Value, Rejected); 6] = [
            ("iss", json!("https://evil.example"), Rejected::WrongIssuer),
            ("aud", json!("client-2"), Rejected::WrongAudience),
            ("exp", json!(NOW - 61), Rejected::Expired),
            ("nonce", json!("n-2"), Rejected::WrongNonce),
            ("email_verified", json!(false), Rejected::EmailNotVerified),
            ("email", json!("not an address"), Rejected::BadEmail),
        ];
        for (claim, value, expected) in cases {
            let mut c = claims();
            c[claim] = value;
            assert_eq!(check(&sign(&c)).unwrap_err(), expected, "{claim}");
        }
        let mut no_nonce = claims();
        no_nonce.as_object_mut().unwrap().remove("nonce");
        assert_eq!(check(&sign(&no_nonce)).unwrap_err(), Rejected::WrongNonce);
    }

    #[test]
    fn an_expiry_at_the_end_of_time_does_not_overflow() {
        // Found by tests/fuzz: `exp + LEEWAY_SECS` overflowed (a panic natively; in the release
        // Worker it wrapped around and called the token expired).
        let mut c = claims();
        c["exp"] = json!(u64::MAX);
        assert!(check(&sign(&c)).is_ok());
    }

    #[test]
    fn a_changed_payload_or_a_foreign_algorithm_is_refused() {
        let token = sign(&claims());
        let parts: Vec<&str> = token.split('.').collect();
        let mut c = claims();
        c["email"] = json!("mallory@example.com");
        let forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(c.to_string()), parts[2]);
        assert_eq!(check(&forged).unwrap_err(), Rejected::BadSignature);
        // alg none, and HS256 keyed with the public modulus (algorithm confusion).
        let none = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k1"}"#), parts[1]);
        assert!(check(&none).is_err());
        let mut hs = Header::new(Algorithm::HS256);
        hs.kid = Some("k1".into());
        let public_n = key().to_public_key().n().to_bytes_be();
        let confused = jsonwebtoken::encode(&hs, &claims(), &EncodingKey::from_secret(&public_n)).unwrap();
        assert_eq!(check(&confused).unwrap_err(), Rejected::WrongAlgorithm);
        let mut other_kid = Header::new(Algorithm::RS256);
        other_kid.kid = Some("k2".into());
        let der = key().to_pkcs1_der().unwrap();
        let t =
            jsonwebtoken::encode(&other_kid, &claims(), &EncodingKey::from_rsa_der(der.as_bytes())).unwrap();
        assert_eq!(check(&t).unwrap_err(), Rejected::UnknownKey(Some("k2".into())));
    }
}
