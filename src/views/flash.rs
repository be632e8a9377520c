//! Flash messages: one short line shown on the next page after an action ("You are signed
//! out.", "Credits granted."), carried in a short-lived cookie that is signed (HMAC-SHA256 with
//! the session secret) so no other site or script can make the page say something. Pure, so
//! the format is tested natively; `Ctx::set_flash` and `Ctx::take_flash` set and take it.

use crate::cookie::Cookie;

/// How long a flash waits for the next page (seconds): long enough for a redirect, short
/// enough that a stale one never surprises anyone.
pub const LIFETIME_SECS: u64 = 60;
const MAX_TEXT: usize = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashKind {
    Success,
    Info,
    Error,
}

impl FlashKind {
    fn code(self) -> char {
        match self {
            FlashKind::Success => 's',
            FlashKind::Info => 'i',
            FlashKind::Error => 'e',
        }
    }

    fn from_code(c: char) -> Option<FlashKind> {
        match c {
            's' => Some(FlashKind::Success),
            'i' => Some(FlashKind::Info),
            'e' => Some(FlashKind::Error),
            _ => None,
        }
    }

    /// The CSS modifier of the message box.
    pub fn class(self) -> &'static str {
        match self {
            FlashKind::Success => "flash-success",
            FlashKind::Info => "flash-info",
            FlashKind::Error => "flash-error",
        }
    }

    /// Errors interrupt a screen reader (`alert`); the rest wait their turn (`status`).
    pub fn role(self) -> &'static str {
        match self {
            FlashKind::Error => "alert",
            _ => "status",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub kind: FlashKind,
    pub text: String,
}

impl Flash {
    pub fn new(kind: FlashKind, text: impl Into<String>) -> Flash {
        let mut text: String = text.into();
        if text.len() > MAX_TEXT {
            let mut end = MAX_TEXT;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        Flash { kind, text }
    }
}

pub const COOKIE: Cookie = Cookie::new("gt_flash", "__Host-gt_flash", Some(LIFETIME_SECS), "flash");

/// The cookie value: `<kind>|<expires>|<text>`, sealed (see `Cookie::seal`).
pub fn encode(secret: &str, flash: &Flash, now_secs: u64) -> String {
    let payload = format!("{}|{}|{}", flash.kind.code(), now_secs + LIFETIME_SECS, flash.text);
    COOKIE.seal(secret, payload.as_bytes())
}

/// The message of a cookie we signed that has not expired; `None` for anything else.
pub fn decode(secret: &str, value: &str, now_secs: u64) -> Option<Flash> {
    let payload = String::from_utf8(COOKIE.open(secret, value.trim())?).ok()?;
    let mut parts = payload.splitn(3, '|');
    let kind = FlashKind::from_code(parts.next()?.chars().next()?)?;
    let expires: u64 = parts.next()?.parse().ok()?;
    if expires < now_secs {
        return None;
    }
    Some(Flash::new(kind, parts.next()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_flash_round_trips_until_it_expires() {
        let f = Flash::new(FlashKind::Success, "Credits added | 50 ✓");
        let v = encode(SECRET, &f, 1000);
        assert_eq!(decode(SECRET, &v, 1000), Some(f.clone()));
        assert_eq!(decode(SECRET, &v, 1000 + LIFETIME_SECS), Some(f));
        assert_eq!(decode(SECRET, &v, 1001 + LIFETIME_SECS), None);
    }

    #[test]
    fn a_forged_or_altered_flash_is_ignored() {
        let v = encode(SECRET, &Flash::new(FlashKind::Info, "Signed out"), 1000);
        assert_eq!(decode("another-secret-000000000000000000000", &v, 1000), None);
        let (body, tag) = v.split_once('.').unwrap();
        use base64::Engine;
        let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("e|9999|Your account is locked");
        assert_eq!(decode(SECRET, &format!("{forged}.{tag}"), 1000), None);
        assert_eq!(decode(SECRET, body, 1000), None);
        assert_eq!(decode(SECRET, "garbage", 1000), None);
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let f = Flash::new(FlashKind::Error, "é".repeat(400));
        assert!(f.text.len() <= MAX_TEXT && f.text.chars().all(|c| c == 'é'));
    }
}
