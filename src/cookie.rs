//! The site's cookies, each described once by a `Cookie`: its name (`__Host-` prefixed on https,
//! where browsers then enforce Secure, Path=/ and no Domain), its lifetime, the attributes every
//! one of ours shares (Path=/, HttpOnly, SameSite=Lax), and the purpose its HMAC-SHA256 under
//! `NEXTAUTH_SECRET` is bound to, so a value signed for one cookie never verifies as another.
//! The session (`auth::session`, a JWT), the flash (`views::flash`), the OAuth flow
//! (`auth::oauth_state`) and the CSRF pre-session cookie and token (`auth::csrf`) are all built
//! on it. Pure, so every format is tested natively.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub struct Cookie {
    /// The name on plain http (local development).
    name: &'static str,
    /// The name on https: `__Host-` and `name`.
    host_name: &'static str,
    /// `Max-Age` in seconds; `None`: until the browser closes.
    max_age: Option<u64>,
    /// What its signatures are bound to (`flash`, `oauth-flow`, `csrf`).
    purpose: &'static str,
}

impl Cookie {
    pub const fn new(
        name: &'static str,
        host_name: &'static str,
        max_age: Option<u64>,
        purpose: &'static str,
    ) -> Cookie {
        Cookie { name, host_name, max_age, purpose }
    }

    pub fn name(&self, https: bool) -> &'static str {
        if https {
            self.host_name
        } else {
            self.name
        }
    }

    /// The `Set-Cookie` value that stores `value`.
    pub fn set(&self, https: bool, value: &str) -> String {
        let max_age = self.max_age.map(|secs| format!("; Max-Age={secs}")).unwrap_or_default();
        format!("{}={value}; Path=/; HttpOnly; SameSite=Lax{max_age}{}", self.name(https), secure(https))
    }

    /// The `Set-Cookie` value that removes it.
    pub fn clear(&self, https: bool) -> String {
        format!("{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}", self.name(https), secure(https))
    }

    /// `base64url(payload)` `.` `hex(HMAC(purpose ":" payload))`.
    pub fn seal(&self, secret: &str, payload: &[u8]) -> String {
        format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), self.tag(secret, payload))
    }

    /// The payload of a value `seal` made with this secret for this cookie; `None` for anything
    /// else (checked in constant time).
    pub fn open(&self, secret: &str, value: &str) -> Option<Vec<u8>> {
        let (body, tag) = value.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(body).ok()?;
        self.verify(secret, &payload, tag).then_some(payload)
    }

    /// `hex(HMAC(purpose ":" data))`: a token bound to `data` that only the secret's holder can
    /// compute (the CSRF token).
    pub fn tag(&self, secret: &str, data: &[u8]) -> String {
        hex::encode(self.mac(secret, data).finalize().into_bytes())
    }

    /// Whether `tag` is `self.tag(secret, data)`, in constant time.
    pub fn verify(&self, secret: &str, data: &[u8], tag: &str) -> bool {
        match hex::decode(tag.trim()) {
            Ok(bytes) => self.mac(secret, data).verify_slice(&bytes).is_ok(),
            Err(_) => false,
        }
    }

    fn mac(&self, secret: &str, data: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length: `new_from_slice` cannot fail.
        let mut m =
            <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
        m.update(self.purpose.as_bytes());
        m.update(b":");
        m.update(data);
        m
    }
}

fn secure(https: bool) -> &'static str {
    if https {
        "; Secure"
    } else {
        ""
    }
}

/// The `name=value` pairs of a `Cookie` header, in order (names and values trimmed of ASCII
/// whitespace only; a piece without `=` is skipped). Not Unicode `trim()`: a cookie planted by a
/// sibling subdomain as `\u{a0}__Host-gt_session` (U+0085 or U+00A0, Unicode spaces, reach us
/// when the browser sends them UTF-8 encoded) must not be read as `__Host-gt_session`. Pure, so
/// tests/fuzz drives it with arbitrary headers.
pub fn pairs(raw: &str) -> Vec<(String, String)> {
    raw.split(';')
        .filter_map(|pair| pair.trim_ascii().split_once('='))
        .map(|(k, v)| (k.trim_ascii().to_string(), v.trim_ascii().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Cookie = Cookie::new("gt_a", "__Host-gt_a", Some(60), "a");
    const B: Cookie = Cookie::new("gt_b", "__Host-gt_b", None, "b");
    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn https_cookies_are_host_prefixed_and_secure() {
        assert_eq!(A.set(true, "v"), "__Host-gt_a=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure");
        assert_eq!(B.set(false, "v"), "gt_b=v; Path=/; HttpOnly; SameSite=Lax");
        assert_eq!(A.clear(false), "gt_a=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    }

    #[test]
    fn a_sealed_value_opens_only_for_its_cookie_and_secret() {
        let sealed = A.seal(SECRET, b"hello");
        assert_eq!(A.open(SECRET, &sealed).as_deref(), Some(&b"hello"[..]));
        assert_eq!(B.open(SECRET, &sealed), None);
        assert_eq!(A.open("another-secret-another-secret-000", &sealed), None);
        let (_, tag) = sealed.split_once('.').unwrap();
        assert_eq!(A.open(SECRET, &format!("{}.{tag}", URL_SAFE_NO_PAD.encode("bye"))), None);
        assert_eq!(A.open(SECRET, "garbage"), None);
    }

    #[test]
    fn cookie_pairs_keep_order_and_skip_pieces_without_a_value() {
        let pairs = pairs(" a=1; junk ;b = x=y;a=2;");
        let expected = [("a", "1"), ("b", "x=y"), ("a", "2")];
        assert_eq!(pairs, expected.map(|(k, v)| (k.to_string(), v.to_string())));
    }

    #[test]
    fn a_name_behind_a_unicode_space_is_not_trimmed_into_another_name() {
        for space in ['\u{85}', '\u{a0}', '\u{2003}'] {
            let raw = format!("{space}__Host-gt_session=planted; \t a=1");
            let pairs = pairs(&raw);
            assert_eq!(pairs[0].0, format!("{space}__Host-gt_session"), "{space:?}");
            assert_eq!(pairs[1], ("a".to_string(), "1".to_string()));
        }
    }
}
