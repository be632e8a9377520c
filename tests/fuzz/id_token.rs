//! Google's ID tokens (a JWT from the OAuth callback): any text is refused without panicking;
//! a token signed by the JWKS key verifies; any changed byte is refused; whatever claims a
//! correctly signed token carries, only a verified address with our nonce, issuer and audience,
//! unexpired, signs anyone in.

use crate::alloc::bounded;
use crate::config;
use crate::strategies::{mutate_ascii, text};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ghosttools::auth::id_token::{verify_natively, Expected, Identity, Jwks, Rejected};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use proptest::prelude::*;
use proptest::sample::select;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use std::sync::OnceLock;

// The e2e suite's fake provider key (test-only).
const PEM: &str = include_str!("../../fakes/src/google-test-key.pem");
const NOW: u64 = 1_800_000_000;
const ISS: &str = "https://accounts.google.com";
const PIECES: &[&str] =
    &[".", "eyJ", "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0", "A", "_", "-", "=", "{", "}", " "];

struct Keys {
    jwks: Jwks,
    encoding: EncodingKey,
    valid: String,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(PEM).unwrap();
        let public = key.to_public_key();
        let jwks = serde_json::from_value(json!({ "keys": [{
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": "k1",
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        }]}))
        .unwrap();
        let encoding = EncodingKey::from_rsa_der(key.to_pkcs1_der().unwrap().as_bytes());
        let claims = json!({ "iss": ISS, "aud": "client-1", "sub": "1234", "email": "Ada@Example.com",
            "email_verified": true, "nonce": "n-1", "iat": NOW - 10, "exp": NOW + 3600, "name": "Ada" });
        let valid = sign_with(&encoding, &claims);
        Keys { jwks, encoding, valid }
    })
}

fn sign_with(key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("k1".into());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn check(token: &str) -> Result<Identity, Rejected> {
    let issuers = vec![ISS.to_string(), "accounts.google.com".to_string()];
    let expected = Expected { issuers: &issuers, client_id: "client-1", nonce: "n-1", now_secs: NOW };
    verify_natively(token, &keys().jwks, &expected)
}

/// Claims near the accepted ones: each claim missing, right, wrong or of another type.
fn claims() -> impl Strategy<Value = Value> {
    let pick = |options: Vec<Value>| select(options).prop_map(Some).boxed();
    let maybe = |s: BoxedStrategy<Option<Value>>| prop_oneof![1 => Just(None), 6 => s];
    let any_value = prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from)
    ];
    (
        maybe(pick(vec![json!(ISS), json!("accounts.google.com"), json!("https://evil.example"), json!(1)])),
        maybe(pick(vec![json!("client-1"), json!(["client-1", "x"]), json!("client-2"), json!(null)])),
        maybe(prop_oneof![any::<String>().prop_map(|s| Some(json!(s))), Just(Some(json!(5)))].boxed()),
        maybe(
            prop_oneof![any::<String>().prop_map(|s| Some(json!(s))), Just(Some(json!("a@example.com")))]
                .boxed(),
        ),
        maybe(pick(vec![json!(true), json!("true"), json!(false), json!(1), json!("TRUE")])),
        maybe(pick(vec![json!("n-1"), json!("n-2"), json!(""), json!(null)])),
        maybe(pick(vec![
            json!(NOW + 3600),
            json!(NOW - 61),
            json!(NOW - 59),
            json!(u64::MAX),
            json!(-1),
            json!(1.5),
        ])),
        maybe(pick(vec![json!(NOW), json!(NOW + 61), json!(u64::MAX), json!("x")])),
        any_value,
    )
        .prop_map(|(iss, aud, sub, email, verified, nonce, exp, iat, name)| {
            let mut c = serde_json::Map::new();
            for (k, v) in [
                ("iss", iss),
                ("aud", aud),
                ("sub", sub),
                ("email", email),
                ("email_verified", verified),
                ("nonce", nonce),
                ("exp", exp),
                ("iat", iat),
            ] {
                if let Some(v) = v {
                    c.insert(k.into(), v);
                }
            }
            c.insert("name".into(), name);
            Value::Object(c)
        })
}

proptest! {
    #![proptest_config(config(1))]

    /// The header is decoded (and, past the key lookup, the rest): a few copies of
    /// the input.
    #[test]
    fn any_text_as_an_id_token_is_refused(token in text(PIECES)) {
        prop_assert!(bounded("id_token::verify_natively", token.len(), 8, 16 * 1024, || check(&token)).is_err());
    }

    #[test]
    fn an_id_token_with_any_byte_changed_is_refused(at in any::<usize>(), to in any::<u8>()) {
        let valid = &keys().valid;
        prop_assert!(check(valid).is_ok());
        if let Some(forged) = mutate_ascii(valid, at, to) {
            prop_assert!(check(&forged).is_err(), "{} accepted", forged);
        }
    }
}

proptest! {
    // Each case makes an RSA signature (slow in a debug build).
    #![proptest_config(config(50))]

    #[test]
    fn only_the_claims_we_expect_sign_anyone_in(claims in claims()) {
        let token = sign_with(&keys().encoding, &claims);
        if let Ok(id) = check(&token) {
            let c = &claims;
            prop_assert!(c["iss"] == json!(ISS) || c["iss"] == json!("accounts.google.com"));
            prop_assert!(c["aud"] == json!("client-1") || c["aud"] == json!(["client-1", "x"]));
            prop_assert!(c["nonce"] == json!("n-1"));
            prop_assert!(c["email_verified"] == json!(true) || c["email_verified"] == json!("true"));
            prop_assert!(c["exp"].as_u64().is_some_and(|e| e.saturating_add(60) > NOW));
            prop_assert_eq!(id.email.as_str(), c["email"].as_str().unwrap().to_ascii_lowercase());
            prop_assert!(id.name.as_deref().is_none_or(|n| !n.chars().any(char::is_control)));
        }
    }
}
