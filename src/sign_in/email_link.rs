//! Sign-in by emailed link: a single-use token of 256 random bits, stored only as its SHA-256,
//! expiring (`EMAIL_LINK_TTL_MINUTES`), mailed through `EMAIL_SERVER`. Opening the link only
//! looks; the confirm POST spends it, creates the user on first sign-in and starts a session.
//! When the mail cannot be sent, the token is deleted: nothing usable is left behind.

use super::outbox::Outbox;
use crate::ctx::Ctx;
use crate::db::sign_in_tokens;
use crate::domain::email_links::LinkState;
use crate::domain::{EmailAddress, Mailbox, NextPath, User};
use crate::error::AppError;
use base64::Engine;
use sha2::{Digest, Sha256};

const TOKEN_BYTES: usize = 32;
/// Base64url without padding of 32 bytes.
const TOKEN_CHARS: usize = 43;

/// What happened to a sign-in link request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    Sent,
    /// The mail server could not be reached or refused us; the token was removed.
    NotSent,
}

/// A fresh token (what the link carries) and the hash that is stored.
pub fn new_token() -> (String, [u8; 32]) {
    let mut bytes = [0u8; TOKEN_BYTES];
    crate::security::fill_random(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&token);
    (token, hash)
}

pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether `token` has the shape we hand out (anything else is unknown without a query).
pub fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_CHARS && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What the sign-in mail must say, for the view that writes it (`mail::sign_in`).
pub struct Letter<'a> {
    pub from: &'a Mailbox,
    pub to: &'a EmailAddress,
    pub link: &'a str,
    pub minutes: u32,
    /// When the link expires, e.g. `14:05 UTC`.
    pub expires_at: &'a str,
    /// Our site, e.g. `ghosttools.app`.
    pub site: &'a str,
    pub now_secs: u64,
    pub message_id: &'a str,
}

/// Creates a token for `email` and mails the link, in the message `write` makes of the letter.
/// The caller has checked the abuse limits. The answer is the same whether or not the address
/// has an account.
pub async fn request(
    cx: &Ctx,
    email: &EmailAddress,
    next: &NextPath,
    write: impl FnOnce(&Letter) -> Result<String, String>,
) -> Result<Requested, AppError> {
    let ttl = *cx.config.email_link_ttl_minutes.as_ref().map_err(|p| AppError::from(p.clone()))?;
    let outbox = Outbox::of(cx)?;
    let site = cx.site()?;

    let (token, token_hash) = new_token();
    let db = cx.db().await?;
    sign_in_tokens::insert(db, &token_hash, email, ttl, next).await?;

    let link = site.join(&format!("/signin/confirm?token={token}"));
    let expires_at = clock_time(cx.now_ms + u64::from(ttl) * 60_000);
    let message_id = Outbox::message_id();
    let message = write(&Letter {
        from: &outbox.from,
        to: email,
        link: &link,
        minutes: ttl,
        expires_at: &expires_at,
        site: &outbox.site_host,
        now_secs: cx.now_ms / 1000,
        message_id: &message_id,
    })
    .map_err(|e| AppError::internal(format!("sign-in mail: {e}")))?;
    match outbox.send(email, &message).await {
        Ok(()) => Ok(Requested::Sent),
        Err(e) => {
            cx.log("error", &format!("sign-in mail to {} not sent: {e}", email.domain()));
            // The link never reached anyone: make sure it can never be used.
            sign_in_tokens::delete(db, &token_hash).await?;
            Ok(Requested::NotSent)
        }
    }
}

/// What opening a link shows (nothing is spent).
pub async fn inspect(cx: &Ctx, token: &str) -> Result<LinkState, AppError> {
    if !well_formed(token) {
        return Ok(LinkState::Unknown);
    }
    sign_in_tokens::state(cx.db().await?, &hash(token)).await
}

/// Spends the token and signs its address in (creating the user on first sign-in). `Err` with
/// the link's state when it cannot be used.
pub async fn spend(cx: &Ctx, token: &str) -> Result<Result<(User, NextPath), LinkState>, AppError> {
    if !well_formed(token) {
        return Ok(Err(LinkState::Unknown));
    }
    let token_hash = hash(token);
    let db = cx.db().await?;
    // An address with an account: one statement. A first sign-in takes the transaction below.
    if let Some(done) = sign_in_tokens::spend_for_account(db, &token_hash).await? {
        return Ok(Ok(done));
    }
    let signed_in = db
        .transaction(async |db| {
            let Some(spent) = sign_in_tokens::spend(db, &token_hash).await? else {
                return Ok(None);
            };
            let user = super::account_for(cx, db, &spent.email, None).await?;
            sign_in_tokens::retire_pending(db, &spent.email).await?;
            Ok(Some((user, spent.next)))
        })
        .await?;
    match signed_in {
        Some(done) => Ok(Ok(done)),
        None => Ok(Err(sign_in_tokens::state(db, &token_hash).await?)),
    }
}

/// `14:05 UTC`: when a link expires, in the mail.
pub(crate) fn clock_time(ms: u64) -> String {
    crate::domain::calendar::clock_utc(ms as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_256_random_bits_and_only_their_hash_is_kept() {
        let (a, ha) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_CHARS);
        assert!(well_formed(&a));
        assert_eq!(hash(&a), ha);
        assert_ne!(&ha[..], a.as_bytes());
    }

    #[test]
    fn only_the_shape_we_issue_is_looked_up() {
        assert!(!well_formed(""));
        assert!(!well_formed("short"));
        assert!(!well_formed(&"a".repeat(42)));
        assert!(!well_formed(&format!("{}=", "a".repeat(42))));
        assert!(!well_formed(&"'".repeat(43)));
    }

    #[test]
    fn the_expiry_reads_as_a_clock_time() {
        assert_eq!(clock_time(1_800_000_000_000), "08:00 UTC");
    }
}
