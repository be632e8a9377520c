//! Changing an account's email address, proven by a link mailed to the new address: a
//! single-use token of 256 random bits, stored only as its SHA-256, expiring after an hour.
//! The old address is told at once (a notice without a link). Opening the link only looks; the
//! confirm POST, from a session of the same account, changes the address in one transaction.
//!
//! An address that already has an account gets a notice instead of a link, and the person who
//! asked sees the same answer either way: the form does not tell which addresses have accounts.

use super::email_link::{clock_time, hash, new_token, well_formed};
use super::outbox::Outbox;
use crate::ctx::Ctx;
use crate::db::email_changes::{self, Changed};
use crate::domain::email_links::{ChangeState, Refused};
use crate::domain::UserId;
use crate::domain::{EmailAddress, User};
use crate::error::AppError;
use crate::mail::account::{self as mails, ChangeMail};

/// How long a change link works.
pub const TTL_MINUTES: u32 = 60;

/// What happened to a change request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    /// The link went to the new address (or, when it has an account, the notice did) and the
    /// notice to the old one.
    Sent,
    /// A mail could not be sent; nothing that could be confirmed was left behind.
    NotSent,
}

/// Asks to move `user`'s account to `new_email` (the caller has checked the limits and that the
/// address differs from the current one).
pub async fn request(
    cx: &Ctx,
    user: &User,
    new_email: &EmailAddress,
    origin: &str,
) -> Result<Requested, AppError> {
    let outbox = Outbox::of(cx)?;
    let site = cx.site()?;
    let old = user.email.clone();
    let db = cx.db().await?;
    let taken = crate::db::users::owner_of(db, new_email).await?.is_some_and(|id| id != user.id);

    let (token, token_hash) = new_token();
    if !taken {
        email_changes::insert(db, &token_hash, user.id, new_email, TTL_MINUTES).await?;
    }
    let link = site.join(&format!("/account/email/confirm?token={token}"));
    let expires_at = clock_time(cx.now_ms + u64::from(TTL_MINUTES) * 60_000);
    let mail = ChangeMail {
        to: new_email.as_str(),
        account: old.as_str(),
        link: &link,
        minutes: TTL_MINUTES,
        expires_at: &expires_at,
        origin,
        site: &outbox.site_host,
    };
    let now = cx.now_ms / 1000;
    let built =
        |m: Result<String, String>| m.map_err(|e| AppError::internal(format!("address-change mail: {e}")));
    // The owner hears first: without the notice to the old address, no link goes out.
    let notice = built(mails::change_requested_message(&outbox.from, &mail, now, &Outbox::message_id()))?;
    let to_new = if taken {
        built(mails::address_taken_message(&outbox.from, &mail, now, &Outbox::message_id()))?
    } else {
        built(mails::change_link_message(&outbox.from, &mail, now, &Outbox::message_id()))?
    };
    for (to, message) in [(&old, &notice), (new_email, &to_new)] {
        if let Err(e) = outbox.send(to, message).await {
            cx.log("error", &format!("address-change mail to {} not sent: {e}", to.domain()));
            email_changes::delete(db, &token_hash).await?;
            return Ok(Requested::NotSent);
        }
    }
    cx.log("info", &format!("account {}: address change requested", user.id));
    Ok(Requested::Sent)
}

/// What opening a link shows (nothing is spent).
pub async fn inspect(cx: &Ctx, token: &str) -> Result<ChangeState, AppError> {
    if !well_formed(token) {
        return Ok(ChangeState::Unknown);
    }
    email_changes::state(cx.db().await?, &hash(token)).await
}

/// Confirms the link for the signed-in `user` (whose session `sid` stays signed in): the
/// address changes, other sessions end. `Err` says why nothing changed.
pub async fn confirm(
    cx: &Ctx,
    user: &User,
    sid: &str,
    token: &str,
) -> Result<Result<Changed, Refused>, AppError> {
    if !well_formed(token) {
        return Ok(Err(Refused::Link(ChangeState::Unknown)));
    }
    let token_hash = hash(token);
    let db = cx.db().await?;
    let outcome =
        db.transaction(async |db| email_changes::confirm(db, &token_hash, user.id, sid).await).await?;
    if let Ok(changed) = &outcome {
        cx.log(
            "info",
            &format!("account {}: address changed, {} other sessions ended", user.id, changed.sessions_ended),
        );
    }
    Ok(outcome)
}

/// Tells Stripe the new address of the user's customer, if they have one (receipts and the
/// billing portal use it). The change has happened already: should Stripe not answer, the
/// failure is reported and the customer keeps the old address until the next change.
pub async fn update_billing_email(cx: &Ctx, user_id: UserId, email: &str) -> Result<(), AppError> {
    let Some(customer) = crate::db::billing::customer_of(cx.db().await?, user_id).await? else {
        return Ok(());
    };
    let stripe = crate::clients::stripe::Stripe::from_config(&cx.config)?;
    stripe.update_customer_email(&customer, email).await?;
    Ok(())
}
