//! Signed things: the Stripe-Signature header, CSRF tokens, the session JWT, the flash and OAuth
//! flow cookies, sign-in link tokens. Each: arbitrary input never panics and allocates linearly;
//! what we sign verifies; any single changed byte does not.

use crate::alloc::bounded;
use crate::config;
use crate::strategies::{bytes, mutate_ascii, text};
use ghosttools::auth::{csrf, oauth_state, session};
use ghosttools::clients::stripe_signature::{sign, verify, SignatureError, TOLERANCE_SECS};
use ghosttools::domain::UserId;
use ghosttools::sign_in::email_link;
use ghosttools::views::flash::{self, Flash, FlashKind};
use proptest::prelude::*;

const NOW: u64 = 1_800_000_000;
const SECRET: &str = "0123456789abcdef0123456789abcdef";
const STRIPE_PIECES: &[&str] = &[
    "t=",
    "v1=",
    "v0=",
    ",",
    "=",
    " ",
    "1800000000",
    "00",
    "ab",
    "ff",
    "-1",
    "+",
    "t",
    "v1",
    "\t",
    "é",
    "0",
    "9223372036854775808",
    "18446744073709551615",
    "99999999999999999999",
];
const TOKEN_PIECES: &[&str] = &[".", "eyJ", "A", "_", "-", "=", "0", "f", "{", "}", "\"", " ", "%"];

fn secret() -> impl Strategy<Value = String> {
    prop_oneof![Just(SECRET.to_string()), "whsec_[A-Za-z0-9]{1,40}", any::<String>()]
}

proptest! {
    #![proptest_config(config(1))]

    /// Per `v1=` item the verifier keeps one decoded signature (a Vec: 24 bytes, doubled while
    /// the list grows, plus the bytes); the shortest item, `v1=,`, is 4 bytes: at most 16 bytes
    /// a byte, plus a small fixed amount for the MAC state.
    #[test]
    fn stripe_signature_parsing_survives_any_header(header in text(STRIPE_PIECES), payload in bytes(256), now in prop_oneof![Just(NOW), any::<u64>()]) {
        let n = header.len();
        let r = bounded("Stripe-Signature", n, 16, 2048, || verify(Some(&header), &payload, &[SECRET], now, TOLERANCE_SECS));
        prop_assert!(r.is_err(), "an arbitrary header verified");
    }

    #[test]
    fn a_stripe_signature_made_for_the_payload_verifies_within_the_tolerance(
        secret in secret(), payload in bytes(2048), age in -(TOLERANCE_SECS as i64)..=(TOLERANCE_SECS as i64),
        others in prop::collection::vec("v0=[0-9a-f]{0,64}|v1=[0-9a-f]{64}|x=[a-z]{0,5}", 0..4),
    ) {
        let t = (NOW as i64 - age) as u64;
        let mut items = vec![format!("t={t}")];
        items.extend(others);
        items.push(format!("v1={}", sign(&secret, t, &payload)));
        let header = items.join(",");
        prop_assert_eq!(verify(Some(&header), &payload, &["whsec_other", &secret], NOW, TOLERANCE_SECS), Ok(t));
        // Past the tolerance the same signature is refused.
        let late = t + TOLERANCE_SECS + 1;
        let late_result = verify(Some(&header), &payload, &[&secret], late, TOLERANCE_SECS);
        let outside = matches!(late_result, Err(SignatureError::OutsideTolerance { .. }));
        prop_assert!(outside, "{:?}", late_result);
    }

    #[test]
    fn a_stripe_signature_with_any_byte_changed_is_refused(
        secret in secret(), payload in bytes(512), age in 0..TOLERANCE_SECS, at in any::<usize>(), to in any::<u8>(),
        in_payload in any::<bool>(),
    ) {
        let t = NOW - age;
        let header = format!("t={t},v1={}", sign(&secret, t, &payload));
        if in_payload && !payload.is_empty() {
            let mut changed = payload.clone();
            let i = at % changed.len();
            changed[i] ^= to.max(1);
            prop_assert!(verify(Some(&header), &changed, &[&secret], NOW, TOLERANCE_SECS).is_err());
        } else if let Some(forged) = mutate_ascii(&header, at, to) {
            // Upper-case hex is the same signature, written differently.
            prop_assume!(!forged.eq_ignore_ascii_case(&header));
            prop_assert!(verify(Some(&forged), &payload, &[&secret], NOW, TOLERANCE_SECS).is_err(), "{} verified", forged);
        }
    }

    #[test]
    fn csrf_tokens_verify_for_their_binding_only(binding in any::<String>(), other in any::<String>(), submitted in text(TOKEN_PIECES), at in any::<usize>(), to in any::<u8>()) {
        let token = csrf::token(SECRET, &binding);
        prop_assert!(csrf::verify(SECRET, &binding, &token));
        prop_assert_eq!(csrf::verify(SECRET, &other, &token), other == binding);
        if let Some(forged) = mutate_ascii(&token, at, to) {
            prop_assume!(!forged.eq_ignore_ascii_case(&token));
            prop_assert!(!csrf::verify(SECRET, &binding, &forged));
        }
        let n = submitted.len();
        // hex::decode grows a Vec to half the input: with doubling, and both blocks held during
        // a realloc, at most 2 bytes a byte.
        bounded("csrf::verify", n, 2, 1024, || csrf::verify(SECRET, &binding, &submitted));
    }

    /// jsonwebtoken decodes the base64 parts and the JSON claims: a few copies of the input.
    #[test]
    fn session_tokens_survive_any_text(token in text(TOKEN_PIECES)) {
        let n = token.len();
        prop_assert!(bounded("session::decode", n, 8, 8192, || session::decode(SECRET, &token, NOW)).is_none());
    }

    #[test]
    fn flash_and_oauth_cookies_survive_any_text(value in text(TOKEN_PIECES)) {
        let n = value.len();
        prop_assert!(bounded("flash::decode", n, 4, 2048, || flash::decode(SECRET, &value, NOW)).is_none());
        prop_assert!(bounded("oauth_state::decode", n, 4, 2048, || oauth_state::decode(SECRET, &value, NOW)).is_none());
    }

    /// The link's query as a visitor may send it: the token is read from it as the route does
    /// (`query_pairs`), judged by its shape, and only then hashed.
    #[test]
    fn sign_in_link_tokens_of_any_shape_are_judged_without_panicking(query in text(TOKEN_PIECES)) {
        let Ok(url) = url::Url::parse(&format!("https://ghosttools.app/signin/confirm?token={query}")) else {
            return Ok(());
        };
        let token = url.query_pairs().find(|(k, _)| k == "token").map(|(_, v)| v.into_owned()).unwrap_or_default();
        if email_link::well_formed(&token) {
            prop_assert!(token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        }
        bounded("email_link::hash", token.len(), 0, 256, || email_link::hash(&token));
    }
}

proptest! {
    // Each case signs and verifies a JWT (and tries a forgery).
    #![proptest_config(config(4))]

    #[test]
    fn a_session_round_trips_and_any_changed_byte_signs_out(
        user_id in any::<i64>(), sv in any::<i32>(), sid in any::<String>(), iat in 0..NOW, age in 0..session::LIFETIME_SECS,
        at in any::<usize>(), to in any::<u8>(),
    ) {
        let claims = session::Claims::new(UserId::new(user_id), sv, sid, iat);
        let token = session::encode(SECRET, &claims).unwrap();
        let now = iat + age;
        prop_assert_eq!(session::decode(SECRET, &token, now), Some(claims.clone()));
        prop_assert_eq!(session::decode("another-secret-of-the-same-length-0", &token, now), None);
        prop_assert_eq!(session::decode(SECRET, &token, iat + session::LIFETIME_SECS), None);
        if let Some(forged) = mutate_ascii(&token, at, to) {
            prop_assert_eq!(session::decode(SECRET, &forged, now), None, "{} still signed in", forged);
        }
    }

    #[test]
    fn a_flash_round_trips_and_any_changed_byte_is_ignored(kind in 0..3u8, text in any::<String>(), at in any::<usize>(), to in any::<u8>()) {
        let kind = [FlashKind::Success, FlashKind::Info, FlashKind::Error][kind as usize];
        let f = Flash::new(kind, text);
        let v = flash::encode(SECRET, &f, NOW);
        prop_assert_eq!(flash::decode(SECRET, &v, NOW + flash::LIFETIME_SECS), Some(f));
        prop_assert_eq!(flash::decode(SECRET, &v, NOW + flash::LIFETIME_SECS + 1), None);
        if let Some(forged) = mutate_ascii(&v, at, to) {
            prop_assume!(!forged.eq_ignore_ascii_case(&v) && forged.trim() != v);
            prop_assert_eq!(flash::decode(SECRET, &forged, NOW), None, "{} accepted", forged);
        }
    }

    #[test]
    fn an_oauth_flow_round_trips_and_any_changed_byte_is_refused(next in any::<String>(), now in 0..NOW, at in any::<usize>(), to in any::<u8>()) {
        let flow = oauth_state::Flow::start(&next, now);
        let raw = oauth_state::encode(SECRET, &flow);
        prop_assert_eq!(oauth_state::decode(SECRET, &raw, now), Some(flow));
        if let Some(forged) = mutate_ascii(&raw, at, to) {
            prop_assume!(!forged.eq_ignore_ascii_case(&raw));
            prop_assert_eq!(oauth_state::decode(SECRET, &forged, now), None, "{} accepted", forged);
        }
    }
}

#[test]
fn fresh_sign_in_tokens_are_always_well_formed() {
    for _ in 0..1000 {
        let (token, hash) = email_link::new_token();
        assert!(email_link::well_formed(&token), "{token}");
        assert_eq!(email_link::hash(&token), hash);
        // The link as mailed reads back as the same token.
        let link = url::Url::parse(&format!("https://ghosttools.app/signin/confirm?token={token}")).unwrap();
        assert_eq!(link.query_pairs().find(|(k, _)| k == "token").map(|(_, v)| v.into_owned()), Some(token));
    }
}
