//! Verifying an OpenID Connect ID token from Google: RS256 only, signed by the JWKS key named
//! by `kid`, issued by the configured issuer to our client id, unexpired (checked against the
//! clock we are given), carrying this attempt's nonce and a verified email.
//!
//! In two steps, so that the signature can be checked by the runtime's WebCrypto
//! (`crypto.subtle.verify`, asynchronous) instead of an RSA stack compiled into the Worker (it
//! was a fifth of the bundle with jsonwebtoken's other algorithms): `open` reads the header and
//! finds the key, `Unverified::accept` takes the signature's verdict and checks the claims. Both
//! are pure, so tested natively, where `verify_natively` checks signatures with RustCrypto.

pub use crate::clients::google::{Jwk, Jwks, RsaKey};
use crate::domain::EmailAddress;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
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
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    aud: Audience,
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

/// A token whose header names an RS256 key we hold; its signature is not checked yet.
pub struct Unverified<'t> {
    pub key: RsaKey,
    /// What the signature covers: `header.payload`, as sent.
    pub signing_input: &'t str,
    pub signature: Vec<u8>,
    payload: &'t str,
}

fn malformed(what: &str, e: impl std::fmt::Display) -> Rejected {
    Rejected::Malformed(format!("{what}: {e}"))
}

fn json_part<T: DeserializeOwned>(what: &str, part: &str) -> Result<T, Rejected> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|e| malformed(what, e))?;
    serde_json::from_slice(&bytes).map_err(|e| malformed(what, e))
}

/// Reads the header and finds its key: the algorithm must be RS256, the `kid` one of ours.
pub fn open<'t>(token: &'t str, jwks: &Jwks) -> Result<Unverified<'t>, Rejected> {
    let (signing_input, signature) = token.rsplit_once('.').ok_or_else(|| malformed("token", "no parts"))?;
    let (header, payload) =
        signing_input.split_once('.').ok_or_else(|| malformed("token", "not three parts"))?;
    if payload.contains('.') {
        return Err(malformed("token", "more than three parts"));
    }
    let header: Header = json_part("header", header)?;
    if header.alg != "RS256" {
        return Err(Rejected::WrongAlgorithm);
    }
    let jwk = header
        .kid
        .as_deref()
        .and_then(|kid| jwks.keys.iter().find(|k| k.kid.as_deref() == Some(kid)))
        .ok_or_else(|| Rejected::UnknownKey(header.kid.clone()))?;
    let key = match (jwk.kty.as_str(), &jwk.n, &jwk.e) {
        ("RSA", Some(n), Some(e)) => RsaKey { n: n.clone(), e: e.clone() },
        _ => return Err(malformed("jwk", "not an RSA public key")),
    };
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|e| malformed("signature", e))?;
    Ok(Unverified { key, signing_input, signature, payload })
}

impl Unverified<'_> {
    /// Given whether the signature verified, the person the claims name, if every claim is
    /// what we expect.
    pub fn accept(self, signature_verified: bool, expected: &Expected) -> Result<Identity, Rejected> {
        if !signature_verified {
            return Err(Rejected::BadSignature);
        }
        let claims: Claims = json_part("claims", self.payload)?;
        if !expected.issuers.contains(&claims.iss) {
            return Err(Rejected::WrongIssuer);
        }
        let audience_ok = match &claims.aud {
            Audience::One(a) => a == expected.client_id,
            Audience::Many(all) => all.iter().any(|a| a == expected.client_id),
        };
        if !audience_ok {
            return Err(Rejected::WrongAudience);
        }
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
}

/// `open`, the signature checked with RustCrypto, `accept`: for native tests and fuzzing (the
/// Worker checks signatures with WebCrypto, `clients::webcrypto`).
#[cfg(not(target_arch = "wasm32"))]
pub fn verify_natively(token: &str, jwks: &Jwks, expected: &Expected) -> Result<Identity, Rejected> {
    use jsonwebtoken::{crypto, Algorithm, DecodingKey};
    let unverified = open(token, jwks)?;
    let key = DecodingKey::from_rsa_components(&unverified.key.n, &unverified.key.e)
        .map_err(|e| malformed("jwk", e))?;
    let signature = URL_SAFE_NO_PAD.encode(&unverified.signature);
    let ok = crypto::verify(&signature, unverified.signing_input.as_bytes(), &key, Algorithm::RS256)
        .unwrap_or(false);
    unverified.accept(ok, expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
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

    fn jwks() -> Jwks {
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
        verify_natively(
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
