//! The account's own rules: deleting it (Stripe first, then everything personal) and signing
//! out on every device.

use crate::clients::stripe::Stripe;
use crate::config::Config;
use crate::db::{billing, email_changes, sessions, users, Db};
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
    user_id: i64,
    email: &str,
    confirmation: &str,
    uploads: Option<&crate::clients::uploads::Uploads>,
) -> Result<Deletion, AppError> {
    if confirmation.trim().to_ascii_lowercase() != email {
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

/// Deletes the user's Stripe customer, if they have one (a customer already gone counts as
/// deleted); answers which.
async fn close_billing(db: &Db, config: &Config, user_id: i64) -> Result<Option<String>, AppError> {
    let Some(customer) = billing::customer_of(db, user_id).await? else { return Ok(None) };
    Stripe::from_config(config)?.delete_customer(&customer).await?;
    Ok(Some(customer))
}

/// Ends every session of the user: the session version moves on (so a signed cookie issued
/// before is refused even without its row) and every session row goes. A pending address change
/// is cancelled: whoever asked for it is signed out too.
pub async fn sign_out_everywhere(db: &Db, user_id: i64) -> Result<(), AppError> {
    users::bump_session_version(db, user_id).await?;
    sessions::end_all(db, user_id).await?;
    email_changes::cancel_all(db, user_id).await
}
