//! Flash messages: one short line shown on the next page after an action ("You are signed
//! out.", "Credits granted."), carried in a short-lived cookie that is signed (HMAC-SHA256 with
//! the session secret) so no other site or script can make the page say something. Pure, so
//! the format is tested natively; `routes::flash` sets and takes it for a request.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

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

pub fn cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-gt_flash"
    } else {
        "gt_flash"
    }
}

fn mac(secret: &str, payload: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    m.update(b"flash:");
    m.update(payload);
    m
}

/// The cookie value: base64url(`<kind>|<expires>|<text>`) `.` hex(HMAC).
pub fn encode(secret: &str, flash: &Flash, now_secs: u64) -> String {
    let payload = format!("{}|{}|{}", flash.kind.code(), now_secs + LIFETIME_SECS, flash.text);
    let tag = hex::encode(mac(secret, payload.as_bytes()).finalize().into_bytes());
    format!("{}.{tag}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload))
}

/// The message of a cookie we signed that has not expired; `None` for anything else.
pub fn decode(secret: &str, value: &str, now_secs: u64) -> Option<Flash> {
    let (body, tag) = value.trim().split_once('.')?;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(body).ok()?;
    mac(secret, &payload).verify_slice(&hex::decode(tag).ok()?).ok()?;
    let payload = String::from_utf8(payload).ok()?;
    let mut parts = payload.splitn(3, '|');
    let kind = FlashKind::from_code(parts.next()?.chars().next()?)?;
    let expires: u64 = parts.next()?.parse().ok()?;
    if expires < now_secs {
        return None;
    }
    Some(Flash::new(kind, parts.next()?))
}

pub fn set_cookie(https: bool, value: &str) -> String {
    let secure = if https { "; Secure" } else { "" };
    format!("{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={LIFETIME_SECS}{secure}", cookie_name(https))
}

pub fn clear_cookie(https: bool) -> String {
    let secure = if https { "; Secure" } else { "" };
    format!("{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}", cookie_name(https))
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
