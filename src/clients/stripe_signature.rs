//! Verifying `Stripe-Signature` by hand: `t=<unix>,v1=<hex>[,v1=<hex>…][,v0=…]`, where each `v1`
//! is HMAC-SHA256 over `"<t>.<raw body>"` keyed with the whole `whsec_…` string. Any `v1` may
//! match any configured secret (Stripe sends one per active secret while one is being rolled);
//! comparison is constant-time; a timestamp more than the tolerance away from now is refused.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Stripe's libraries default to five minutes.
pub const TOLERANCE_SECS: u64 = 300;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    MissingHeader,
    /// No `t=` or no `v1=` in the header, or a timestamp that is not a number.
    Malformed,
    /// Older (or further in the future) than the tolerance: a replay, or a wrong clock.
    OutsideTolerance {
        age_secs: i64,
    },
    NoMatch,
}

impl SignatureError {
    /// What the 400 says (the sender is Stripe or an attacker; neither needs more).
    pub fn message(&self) -> &'static str {
        match self {
            SignatureError::MissingHeader => "Missing Stripe-Signature header.",
            SignatureError::Malformed => "Malformed Stripe-Signature header.",
            SignatureError::OutsideTolerance { .. } => "Stripe-Signature timestamp is outside the tolerance.",
            SignatureError::NoMatch => "No signature matches the payload.",
        }
    }
}

/// Checks `header` against `payload` for any of `secrets` at `now_secs`.
pub fn verify(
    header: Option<&str>,
    payload: &[u8],
    secrets: &[&str],
    now_secs: u64,
    tolerance_secs: u64,
) -> Result<u64, SignatureError> {
    let header = header.map(str::trim).filter(|h| !h.is_empty()).ok_or(SignatureError::MissingHeader)?;
    let mut timestamp: Option<&str> = None;
    let mut signatures: Vec<Vec<u8>> = Vec::new();
    for item in header.split(',') {
        let Some((k, v)) = item.trim().split_once('=') else { continue };
        match k {
            "t" => timestamp = Some(v),
            // A v1 that is not hex can never match; keep looking at the others.
            "v1" => signatures.extend(hex::decode(v).ok()),
            _ => {} // v0 (test-mode scheme) and anything unknown are ignored
        }
    }
    let t_text = timestamp.ok_or(SignatureError::Malformed)?;
    let t: u64 = t_text.parse().map_err(|_| SignatureError::Malformed)?;
    if signatures.is_empty() && !header.contains("v1=") {
        return Err(SignatureError::Malformed);
    }
    // In i128: a timestamp past i64::MAX must not overflow the subtraction (it panicked in a
    // debug build and wrapped around in the release Worker; found by tests/fuzz).
    let age = i128::from(now_secs) - i128::from(t);
    if age.unsigned_abs() > u128::from(tolerance_secs) {
        let age_secs = age.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        return Err(SignatureError::OutsideTolerance { age_secs });
    }
    for secret in secrets {
        for sig in &signatures {
            // verify_slice compares in constant time.
            if mac(secret, t_text, payload).verify_slice(sig).is_ok() {
                return Ok(t);
            }
        }
    }
    Err(SignatureError::NoMatch)
}

/// The hex `v1` signature for a payload (used to answer our own tests and tools).
pub fn sign(secret: &str, timestamp: u64, payload: &[u8]) -> String {
    hex::encode(mac(secret, &timestamp.to_string(), payload).finalize().into_bytes())
}

fn mac(secret: &str, timestamp: &str, payload: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail.
    let mut m =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    m.update(timestamp.as_bytes());
    m.update(b".");
    m.update(payload);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_hmac(key: &str, message: &[u8]) -> String {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
        m.update(message);
        hex::encode(m.finalize().into_bytes())
    }

    #[test]
    fn hmac_matches_the_official_libraries_vectors() {
        assert_eq!(
            raw_hmac("test_secret", b""),
            "f7f9bd47fb987337b5796fdc1fdb9ba221d0d5396814bfcaf9521f43fd8927fd"
        );
        assert_eq!(
            raw_hmac("test_secret", br#"{"obj1":"hello","obj2":"world"}"#),
            "bebb1a643997f419b315ddba19e6f5411e1ce7f810ba6d3617ce72823092f363"
        );
        assert_eq!(
            raw_hmac("test_secret", "😀".as_bytes()),
            "837da296d05c4fe31f61d5d7ead035099d9585a5bcde87de952012a78f0b0c43"
        );
    }

    #[test]
    fn the_signed_payload_is_timestamp_dot_body() {
        let body = br#"{"id":"evt_1"}"#;
        let expected = raw_hmac("whsec_x", &[b"1700000000.".as_slice(), body].concat());
        assert_eq!(sign("whsec_x", 1_700_000_000, body), expected);
    }

    const NOW: u64 = 1_700_000_000;
    const BODY: &[u8] = br#"{"id":"evt_test","object":"event"}"#;

    fn header(secret: &str, t: u64) -> String {
        format!("t={t},v1={}", sign(secret, t, BODY))
    }

    #[test]
    fn a_correct_signature_verifies_and_returns_its_timestamp() {
        let h = header("whsec_a", NOW - 10);
        assert_eq!(verify(Some(&h), BODY, &["whsec_a"], NOW, TOLERANCE_SECS), Ok(NOW - 10));
    }

    #[test]
    fn any_v1_may_match_and_v0_and_unknown_keys_are_ignored() {
        let good = sign("whsec_a", NOW, BODY);
        let h = format!("t={NOW},v1={},v0={good},x=1,v1={good}", "00".repeat(32));
        assert!(verify(Some(&h), BODY, &["whsec_a"], NOW, TOLERANCE_SECS).is_ok());
        // v0 alone never counts.
        let h = format!("t={NOW},v0={good}");
        assert_eq!(verify(Some(&h), BODY, &["whsec_a"], NOW, TOLERANCE_SECS), Err(SignatureError::Malformed));
    }

    #[test]
    fn the_previous_secret_still_verifies_during_rotation() {
        let h = header("whsec_old", NOW);
        assert!(verify(Some(&h), BODY, &["whsec_new", "whsec_old"], NOW, TOLERANCE_SECS).is_ok());
        assert_eq!(verify(Some(&h), BODY, &["whsec_new"], NOW, TOLERANCE_SECS), Err(SignatureError::NoMatch));
    }

    #[test]
    fn a_changed_body_or_timestamp_does_not_verify() {
        let h = header("whsec_a", NOW);
        assert_eq!(
            verify(Some(&h), b"{\"id\":\"evt_other\"}", &["whsec_a"], NOW, TOLERANCE_SECS),
            Err(SignatureError::NoMatch)
        );
        let moved = h.replace(&format!("t={NOW}"), &format!("t={}", NOW - 1));
        assert_eq!(
            verify(Some(&moved), BODY, &["whsec_a"], NOW, TOLERANCE_SECS),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn old_and_future_timestamps_are_refused() {
        let h = header("whsec_a", NOW - 301);
        assert_eq!(
            verify(Some(&h), BODY, &["whsec_a"], NOW, TOLERANCE_SECS),
            Err(SignatureError::OutsideTolerance { age_secs: 301 })
        );
        let h = header("whsec_a", NOW - 300);
        assert!(verify(Some(&h), BODY, &["whsec_a"], NOW, TOLERANCE_SECS).is_ok());
        let h = header("whsec_a", NOW + 301);
        assert!(matches!(
            verify(Some(&h), BODY, &["whsec_a"], NOW, TOLERANCE_SECS),
            Err(SignatureError::OutsideTolerance { .. })
        ));
    }

    #[test]
    fn a_timestamp_past_i64_max_is_outside_the_tolerance_not_an_overflow() {
        // The shrunk input tests/fuzz found.
        assert_eq!(
            verify(Some("v1=,t=9223372036854775808"), b"", &["s"], NOW, TOLERANCE_SECS),
            Err(SignatureError::OutsideTolerance { age_secs: NOW as i64 - i64::MAX - 1 })
        );
        let h = format!("t={},v1=00", u64::MAX);
        assert!(matches!(
            verify(Some(&h), BODY, &["s"], 0, TOLERANCE_SECS),
            Err(SignatureError::OutsideTolerance { age_secs: i64::MIN })
        ));
    }

    #[test]
    fn missing_or_malformed_headers_are_named() {
        assert_eq!(verify(None, BODY, &["s"], NOW, 300), Err(SignatureError::MissingHeader));
        assert_eq!(verify(Some("  "), BODY, &["s"], NOW, 300), Err(SignatureError::MissingHeader));
        assert_eq!(verify(Some("v1=abcd"), BODY, &["s"], NOW, 300), Err(SignatureError::Malformed));
        assert_eq!(verify(Some("t=abc,v1=00"), BODY, &["s"], NOW, 300), Err(SignatureError::Malformed));
        assert_eq!(verify(Some(&format!("t={NOW}")), BODY, &["s"], NOW, 300), Err(SignatureError::Malformed));
        let h = format!("t={NOW},v1=not-hex");
        assert_eq!(verify(Some(&h), BODY, &["s"], NOW, 300), Err(SignatureError::NoMatch));
    }
}
