//! Welcome credits: a new account gets `WELCOME_CREDITS` to try each tool, once per person.
//!
//! Given in the transaction that creates the account, so it happens exactly once however many
//! first sign-ins race (email link and Google for one address). "Once per person" is a claim
//! on a keyed hash of the address's `person_key` (tags and Gmail dots do not make a new person)
//! that outlives account deletion; "not too many per client" is the limiter's
//! `welcome_credits_per_ip`, asked only once the person's claim is free, through `admit`.

use crate::db::credits::{self, Reason};
use crate::db::welcome::{self, Refusal};
use crate::db::Db;
use crate::domain::Credits;
use crate::domain::EmailAddress;
use crate::domain::UserId;
use crate::error::AppError;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// What a new account got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Welcome {
    Granted { credits: Credits },
    Refused(Refusal),
}

/// The stored form of a person: HMAC-SHA256 of their `person_key` under the session secret
/// (domain-separated), so the table holds no address and cannot be reversed by guessing
/// addresses without the secret.
pub fn identity(secret: &str, email: &EmailAddress) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(b"ghosttools welcome v1\0");
    mac.update(email.person_key().as_bytes());
    mac.finalize().into_bytes().into()
}

/// Gives the new account `user_id` its welcome credits, unless the person had them before or
/// `admit` (the client's daily limit) says no; a refusal is recorded for the console. Call it
/// inside the transaction that created the account, with `credits > 0`.
pub async fn greet(
    db: &Db,
    user_id: UserId,
    identity: &[u8; 32],
    credits: u32,
    admit: impl AsyncFnOnce() -> Result<bool, AppError>,
) -> Result<Welcome, AppError> {
    if !welcome::claim(db, identity).await? {
        welcome::record_refusal(db, Refusal::ClaimedBefore).await?;
        return Ok(Welcome::Refused(Refusal::ClaimedBefore));
    }
    if !admit().await? {
        // Not this person's fault: the claim stays free (an account made later from elsewhere,
        // after this one is deleted, may still have it).
        welcome::release(db, identity).await?;
        welcome::record_refusal(db, Refusal::ClientLimit).await?;
        return Ok(Welcome::Refused(Refusal::ClientLimit));
    }
    let credits = Credits::new(i64::from(credits));
    credits::grant(db, user_id, credits, Reason::Welcome, &format!("user:{user_id}"), None).await?;
    Ok(Welcome::Granted { credits })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_person_has_one_identity_and_it_depends_on_the_secret() {
        let email = |s: &str| EmailAddress::parse(s).unwrap();
        let secret = "0123456789abcdef0123456789abcdef";
        let ada = identity(secret, &email("ada.l@gmail.com"));
        assert_eq!(ada, identity(secret, &email("AdaL+trial@googlemail.com")));
        assert_ne!(ada, identity(secret, &email("ada.m@gmail.com")));
        assert_ne!(ada, identity("another-secret-0123456789abcdef0123", &email("ada.l@gmail.com")));
    }
}
