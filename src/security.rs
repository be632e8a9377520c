//! Security headers for every response: a CSP with a per-request nonce, HSTS on https, and the
//! usual hardening headers. Pure, so the exact policy is tested natively.

use base64::Engine;
use std::borrow::Cow;

/// Extra origins the CSP must allow, beyond our own (e.g. the Rewardful script host, or the
/// Stripe Checkout origin that form posts redirect to).
#[derive(Debug, Default, Clone)]
pub struct CspSources {
    pub script: Vec<String>,
    pub connect: Vec<String>,
    pub form_action: Vec<String>,
}

/// 128 random bits, base64: a fresh CSP nonce (also used for request ids).
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    fill_random(&mut bytes);
    token(&bytes)
}

/// Random bytes as a URL-safe token (base64, no padding).
pub fn token(random: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
}

/// Cryptographically secure randomness (crypto.getRandomValues on Workers).
pub fn fill_random(buf: &mut [u8]) {
    // getrandom only fails when the platform has no source at all, which a Worker always has;
    // a zeroed buffer would be unsafe, so treat that impossible case as fatal.
    if getrandom02::getrandom(buf).is_err() {
        panic!("no secure randomness available");
    }
}

/// The policy split around its nonce: the sources depend only on configuration, so an isolate
/// builds this once and each response only joins three pieces.
#[derive(Debug, Clone)]
pub struct CspTemplate {
    before: String,
    /// Up to the last `form-action` source: a page may append one origin there (see `with_nonce`).
    middle: String,
    after: String,
}

impl CspTemplate {
    pub fn new(extra: &CspSources) -> CspTemplate {
        let join = |base: &str, more: &[String]| {
            let mut s = base.to_string();
            for m in more {
                s.push(' ');
                s.push_str(m);
            }
            s
        };
        let script_more = join("", &extra.script);
        let connect = join("'self'", &extra.connect);
        let form_action = join("'self'", &extra.form_action);
        CspTemplate {
            before: "default-src 'self'; script-src 'nonce-".to_string(),
            middle: format!(
                "' 'strict-dynamic'{script_more}; style-src 'self'; img-src 'self' data:; \
                 font-src 'self'; connect-src {connect}; form-action {form_action}"
            ),
            after: "; object-src 'none'; base-uri 'none'; frame-ancestors 'none'".to_string(),
        }
    }

    /// The policy for one response. `form_action` is one more origin a form on this page may
    /// lead to (browsers apply `form-action` to the redirect after a form POST too: the Google
    /// sign-in button's 303 to the provider); every other page stays as strict as configured.
    pub fn with_nonce(&self, nonce: &str, form_action: Option<&str>) -> String {
        let extra = form_action.map_or(0, |o| o.len() + 1);
        let mut out = String::with_capacity(
            self.before.len() + nonce.len() + self.middle.len() + extra + self.after.len(),
        );
        out.push_str(&self.before);
        out.push_str(nonce);
        out.push_str(&self.middle);
        if let Some(origin) = form_action {
            out.push(' ');
            out.push_str(origin);
        }
        out.push_str(&self.after);
        out
    }
}

/// The headers every response carries. No `X-Frame-Options`: the CSP's `frame-ancestors 'none'`
/// replaces it in every browser with CSP level 2.
pub fn headers(
    nonce: &str,
    https: bool,
    csp: &CspTemplate,
    form_action: Option<&str>,
) -> Vec<(&'static str, Cow<'static, str>)> {
    let mut out = vec![
        ("Content-Security-Policy", Cow::Owned(csp.with_nonce(nonce, form_action))),
        ("X-Content-Type-Options", Cow::Borrowed("nosniff")),
        ("Referrer-Policy", Cow::Borrowed("strict-origin-when-cross-origin")),
        (
            "Permissions-Policy",
            Cow::Borrowed("camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"),
        ),
        ("Cross-Origin-Opener-Policy", Cow::Borrowed("same-origin")),
    ];
    if https {
        out.push(("Strict-Transport-Security", Cow::Borrowed("max-age=63072000; includeSubDomains")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_run_only_by_nonce_and_nothing_can_frame_us() {
        let csp = CspTemplate::new(&CspSources::default()).with_nonce("abc", None);
        assert!(csp.contains("script-src 'nonce-abc' 'strict-dynamic';"));
        for part in ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"] {
            assert!(csp.contains(part), "{part} missing from {csp}");
        }
        assert!(!csp.contains("unsafe-inline"));
    }

    #[test]
    fn extra_hosts_are_added_where_they_are_needed_only() {
        let extra = CspSources {
            script: vec!["https://r.wdfl.co".into()],
            connect: vec![],
            form_action: vec!["https://checkout.stripe.com".into()],
        };
        let csp = CspTemplate::new(&extra).with_nonce("n", None);
        assert!(csp.contains("script-src 'nonce-n' 'strict-dynamic' https://r.wdfl.co;"));
        assert!(csp.contains("form-action 'self' https://checkout.stripe.com;"));
        assert!(csp.contains("connect-src 'self';"));
    }

    #[test]
    fn one_page_can_add_one_form_action_origin_and_the_rest_is_unchanged() {
        let template = CspTemplate::new(&CspSources {
            form_action: vec!["https://checkout.stripe.com".into()],
            ..CspSources::default()
        });
        let plain = template.with_nonce("n", None);
        let signin = template.with_nonce("n", Some("https://accounts.google.com"));
        assert!(
            signin.contains("form-action 'self' https://checkout.stripe.com https://accounts.google.com;")
        );
        assert_eq!(signin.replace(" https://accounts.google.com", ""), plain);
        assert!(signin.ends_with("frame-ancestors 'none'"));
    }

    #[test]
    fn hsts_is_sent_only_over_https() {
        let has = |https| {
            headers("n", https, &CspTemplate::new(&CspSources::default()), None)
                .iter()
                .any(|(k, _)| *k == "Strict-Transport-Security")
        };
        assert!(has(true));
        assert!(!has(false));
    }

    #[test]
    fn nonces_are_fresh_and_long_enough() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert!(a.len() >= 22);
    }
}
