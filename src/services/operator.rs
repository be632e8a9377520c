//! What an operator may do to an account from the console, each in one transaction with its
//! audit row (`db::audit`): grant and deduct credits (a ledger row saying why; a reference per
//! rendered form so a form sent twice acts once), suspend and restore, and replay a failed
//! Stripe event through the same code as a delivery. Acting on an account that does not exist
//! is `NotFound`.

use crate::clients::stripe::Stripe;
use crate::config::Config;
use crate::db::admin::{self, Users};
use crate::db::audit::{self, Action};
use crate::db::credits::{self, Granted, Reason};
use crate::db::stripe_events;
use crate::db::Db;
use crate::domain::console::Operator;
use crate::domain::credit_change::CreditChange;
use crate::domain::Credits;
use crate::domain::UserId;
use crate::error::AppError;
use crate::services::billing::webhook::{self, Outcome};

/// What a grant did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    Now {
        user_id: UserId,
        balance: Credits,
        reference: String,
    },
    /// The form was sent before: nothing done again.
    Already,
    /// No account has that address: nothing done.
    NoAccount,
}

/// Adds the change's credits to the account with address `email`, once per form (the ledger's
/// reference), with the grant in the audit log.
pub async fn grant(db: &Db, by: Operator<'_>, email: &str, change: &CreditChange) -> Result<Grant, AppError> {
    let Some(user_id) = admin::user_id_by_email(db, email).await? else { return Ok(Grant::NoAccount) };
    let CreditChange { amount, reason, .. } = change;
    let reference = change.ledger_reference(by.id);
    db.transaction(async |db| {
        let granted =
            credits::grant(db, user_id, *amount, Reason::AdminGrant, &reference, Some(reason)).await?;
        let Granted::Now { balance } = granted else { return Ok(Grant::Already) };
        audit::record(db, by, Action::Grant, Some(user_id), &format!("+{amount} credits: {reason}")).await?;
        Ok(Grant::Now { user_id, balance, reference: reference.clone() })
    })
    .await
}

/// What a deduction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deducted {
    Now {
        balance: Credits,
    },
    /// The form was sent before: nothing done again.
    Already,
    /// The balance does not cover it: nothing written.
    TooMuch {
        balance: Credits,
    },
}

/// Takes the change's credits (an `adjustment` ledger row with the reason as its note), never
/// below zero, once per form. The balance row is locked first, so a form sent twice at once
/// takes turns and the second finds the first's row.
pub async fn deduct(
    db: &Db,
    by: Operator<'_>,
    user_id: UserId,
    change: &CreditChange,
) -> Result<Deducted, AppError> {
    ensure_account(db, user_id).await?;
    let CreditChange { amount, reason, .. } = change;
    let (amount, reference) = (*amount, change.ledger_reference(by.id));
    let reference = reference.as_str();
    db.transaction(async |db| {
        let balance = credits::balance_locked(db, user_id).await?;
        if audit::adjustment_made(db, reference).await? {
            return Ok(Deducted::Already);
        }
        if amount > balance {
            return Ok(Deducted::TooMuch { balance });
        }
        let balance =
            credits::spend(db, user_id, amount, Reason::Adjustment, reference, Some(reason)).await?;
        audit::record(db, by, Action::Deduct, Some(user_id), &format!("-{amount} credits: {reason}")).await?;
        Ok(Deducted::Now { balance })
    })
    .await
}

/// `NotFound` unless account `user_id` exists (a deleted one too: the console lists it).
async fn ensure_account(db: &Db, user_id: UserId) -> Result<(), AppError> {
    admin::users(db, Users::One(user_id)).await?.first().ok_or(AppError::NotFound)?;
    Ok(())
}

/// Suspends the account (tools and buying refused); `false` when it was suspended already.
pub async fn suspend(db: &Db, by: Operator<'_>, user_id: UserId, reason: &str) -> Result<bool, AppError> {
    ensure_account(db, user_id).await?;
    db.transaction(async |db| {
        let done = audit::suspend(db, user_id, reason).await?;
        if done {
            audit::record(db, by, Action::Suspend, Some(user_id), reason).await?;
        }
        Ok(done)
    })
    .await
}

/// Lifts a suspension; `false` when the account was not suspended.
pub async fn restore(db: &Db, by: Operator<'_>, user_id: UserId) -> Result<bool, AppError> {
    ensure_account(db, user_id).await?;
    db.transaction(async |db| {
        let done = audit::restore(db, user_id).await?;
        if done {
            audit::record(db, by, Action::Restore, Some(user_id), "suspension lifted").await?;
        }
        Ok(done)
    })
    .await
}

/// Replays an event whose last attempt failed: fetched again from Stripe (what Stripe says,
/// never what the form says) and applied by `webhook::receive`, exactly as a delivery is. The
/// replay and its outcome go in the audit log.
pub async fn replay(
    db: &Db,
    stripe: &Stripe,
    config: &Config,
    by: Operator<'_>,
    event_id: &str,
    now_ms: u64,
) -> Result<Outcome, AppError> {
    if !stripe_events::failed(db, event_id).await? {
        return Err(AppError::bad_request(
            "event",
            "Only an event whose last attempt failed can be replayed.",
        ));
    }
    let result = async {
        let event = stripe.retrieve_event(event_id).await?;
        if event.id != event_id {
            return Err(AppError::internal(format!("stripe answered {} for event {event_id}", event.id)));
        }
        webhook::receive(db, stripe, config, &event, now_ms).await
    }
    .await;
    let (outcome, detail) = match &result {
        Ok(o @ (Outcome::Applied { detail, .. } | Outcome::Ignored { detail })) => {
            (o.label(), detail.clone())
        }
        Ok(Outcome::Duplicate) => ("duplicate", "already handled".to_string()),
        Err(e) => ("failed", e.to_string()),
    };
    // A replay that failed (Stripe unreachable, the event failing again) is an action too.
    let user_id = stripe_events::user_of(db, event_id).await?;
    audit::record(db, by, Action::Replay, user_id, &format!("{event_id}: {outcome} ({detail})")).await?;
    result
}
