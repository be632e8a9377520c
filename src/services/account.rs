//! The account's own rules: what its page shows (linked Google account, a pending address
//! change, live sessions), ending one session or all of them, unlinking Google, exporting
//! everything we hold, and deleting it (Stripe first, then everything personal).

use crate::auth::session::ABSOLUTE_LIFETIME_SECS;
use crate::clients::stripe::Stripe;
use crate::config::Config;
use crate::db::email_changes::Pending;
use crate::db::sessions::ActiveSession;
use crate::db::users::GOOGLE;
use crate::db::{billing, email_changes, export, sessions, users, Db};
use crate::domain::EmailAddress;
use crate::domain::UserId;
use crate::error::AppError;

/// How a deletion went.
#[derive(Debug)]
pub enum Deletion {
    /// Erased; with the Stripe customer deleted first, when there was one.
    /// `erased` is false when another request erased it first (a double submit): only the
    /// request that erased it says goodbye.
    Deleted { stripe_customer: Option<String>, erased: bool },
    /// The typed confirmation is not the account's address: nothing done.
    NotConfirmed,
    /// Stripe could not close the billing, so nothing was erased (the error, for the logs).
    BillingOpen(AppError),
}

/// Deletes the account of `user_id` when `confirmation` is its address `email` (as typed, any
/// case). The Stripe customer goes first: that cancels a subscription at once, so a deleted
/// account is never charged again, and Stripe forgets the email and cards. Should Stripe not
/// answer, nothing is erased and the person can try again.
pub async fn delete(
    db: &Db,
    config: &Config,
    user_id: UserId,
    email: &EmailAddress,
    confirmation: &str,
    uploads: Option<&crate::clients::uploads::Uploads>,
) -> Result<Deletion, AppError> {
    if confirmation.trim().to_ascii_lowercase() != email.as_str() {
        return Ok(Deletion::NotConfirmed);
    }
    let stripe_customer = match close_billing(db, config, user_id).await {
        Ok(customer) => customer,
        Err(e) => return Ok(Deletion::BillingOpen(e)),
    };
    if let Some(store) = uploads {
        // Parts of an unfinished upload are the person's audio: aborted, not left for R2's
        // own clean-up a week later. A failure is logged; the rows go with the account anyway.
        if let Err(e) = super::episode_upload::abandon(store, db, Some(user_id)).await {
            worker::console_warn!("account {user_id}: unfinished uploads not aborted in R2: {e}");
        }
    }
    let erased = db.transaction(async |db| users::anonymize(db, user_id).await).await?;
    Ok(Deletion::Deleted { stripe_customer, erased })
}

/// Why Google cannot be unlinked, if it cannot: without it the account signs in only by an
/// emailed link, and with no mail settings no link can be sent, so it would be locked out.
pub fn google_unlink_refusal(config: &Config) -> Option<&'static str> {
    config.email.is_err().then_some(
        "Google can't be unlinked: this site can't email sign-in links (no mail server is set up), \
         so Google is your only way to sign in.",
    )
}

/// Deletes the user's Stripe customer, if they have one (a customer already gone counts as
/// deleted); answers which.
async fn close_billing(db: &Db, config: &Config, user_id: UserId) -> Result<Option<String>, AppError> {
    let Some(customer) = billing::customer_of(db, user_id).await? else { return Ok(None) };
    Stripe::from_config(config)?.delete_customer(&customer).await?;
    Ok(Some(customer))
}

/// Ends every session of the user: the session version moves on (so a signed cookie issued
/// before is refused even without its row) and every session row goes. A pending address change
/// is cancelled: whoever asked for it is signed out too.
pub async fn sign_out_everywhere(db: &Db, user_id: UserId) -> Result<(), AppError> {
    users::bump_session_version(db, user_id).await?;
    sessions::end_all(db, user_id).await?;
    email_changes::cancel_all(db, user_id).await
}

/// What the account page shows besides the address.
pub struct Settings {
    /// The linked Google account's address.
    pub google_email: Option<String>,
    pub pending_email: Option<Pending>,
    pub sessions: Vec<ActiveSession>,
}

/// The account page's reads, independent, sent together (one round trip).
pub async fn settings(db: &Db, user_id: UserId) -> Result<Settings, AppError> {
    let lifetime = ABSOLUTE_LIFETIME_SECS as f64;
    let (google_email, pending_email, sessions) = futures_util::future::try_join3(
        users::provider_email(db, user_id, GOOGLE),
        email_changes::pending(db, user_id),
        sessions::active(db, user_id, lifetime),
    )
    .await?;
    Ok(Settings { google_email, pending_email, sessions })
}

/// Ends one of the user's listed sessions; another user's session, or one already ended, is
/// `NotFound` and changes nothing.
pub async fn end_listed_session(db: &Db, user_id: UserId, id: i64) -> Result<(), AppError> {
    if sessions::end_listed(db, user_id, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// Forgets the linked Google account (after `google_unlink_refusal` said nothing); answers
/// whether one was linked.
pub async fn unlink_google(db: &Db, user_id: UserId) -> Result<bool, AppError> {
    users::unlink_provider(db, user_id, GOOGLE).await
}

/// Everything we hold about the user, as one JSON document (one statement); `Unauthenticated`
/// when the account is gone.
pub async fn export(db: &Db, user_id: UserId, now_ms: i64) -> Result<String, AppError> {
    export::everything(db, user_id, now_ms).await?.ok_or(AppError::Unauthenticated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let map: std::collections::HashMap<&str, &str> = pairs.iter().copied().collect();
        Config::from_lookup(|k| map.get(k).map(|v| v.to_string()))
    }

    const SITE: [(&str, &str); 2] = [
        ("NEXTAUTH_URL", "https://ghosttools.test"),
        ("NEXTAUTH_SECRET", "0123456789abcdef0123456789abcdef"),
    ];

    #[test]
    fn google_is_not_unlinked_when_no_sign_in_link_could_be_emailed() {
        let refusal = google_unlink_refusal(&config(&SITE)).expect("refused without mail settings");
        assert!(refusal.contains("only way to sign in"), "{refusal}");
        let mut with_mail = SITE.to_vec();
        with_mail.extend([
            ("EMAIL_SERVER", "smtp://mail.test:587"),
            ("EMAIL_FROM", "GhostTools <no@ghosttools.test>"),
        ]);
        assert_eq!(google_unlink_refusal(&config(&with_mail)), None, "allowed once links can be mailed");
    }
}
