//! Fulfilment: granting what a completed Checkout Session paid for. One function (`apply`)
//! serves both the webhook and the success page, and is safe to call any number of times, also
//! concurrently: the credits are a ledger grant keyed by the session (a pack) or by the first
//! invoice (a plan's first allowance — the same key `invoice.payment_succeeded` uses).
//!
//! `prepare` does the network part (reading the subscription from Stripe) before a transaction
//! opens; `apply` only writes, inside the caller's transaction.

use super::allowance::{self, AllowanceGrant};
use super::subscriptions::{self, Synced};
use crate::clients::stripe::Stripe;
use crate::clients::stripe_objects::CheckoutSession;
use crate::config::Config;
use crate::db::billing as rows;
use crate::db::credits::{self, Granted, Reason};
use crate::db::Db;
use crate::domain::billing::allowance_note;
use crate::domain::billing::Fulfilment;
use crate::domain::billing::{Checkout, CheckoutMode, CheckoutStatus};
use crate::domain::Credits;
use crate::domain::UserId;
use crate::error::AppError;
use futures_util::future::try_join;

/// Everything `apply` needs, read beforehand.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub session: CheckoutSession,
    /// Our record of the session (who bought what, for how many credits).
    pub row: Checkout,
    /// The subscription a subscription-mode session created, as Stripe has it now.
    pub subscription: Option<Synced>,
}

/// Reads what fulfilling `session` needs. `Ok(None)`: not a session GhostTools created, or one
/// whose metadata names another user than the one we recorded (logged by the caller).
pub async fn prepare(
    db: &Db,
    stripe: &Stripe,
    config: &Config,
    session: CheckoutSession,
    now_ms: u64,
) -> Result<Option<Prepared>, AppError> {
    let Some(row) = rows::checkout(db, &session.id).await? else { return Ok(None) };
    let named = session.metadata.get("user_id").and_then(|v| v.parse::<UserId>().ok());
    if named.is_some_and(|id| id != row.user_id) {
        return Ok(None);
    }
    let subscription = match (&session.subscription, row.mode, session.is_paid()) {
        (Some(id), CheckoutMode::Subscription, true) => {
            subscriptions::read(db, stripe, config, id, None, now_ms).await?
        }
        _ => None,
    };
    Ok(Some(Prepared { session, row, subscription }))
}

/// Grants what the session paid for, once. Call inside a transaction.
pub async fn apply(db: &Db, p: &Prepared) -> Result<Fulfilment, AppError> {
    let (session, row) = (&p.session, &p.row);
    if !session.is_paid() {
        if session.status.as_deref() == Some("complete") {
            rows::set_checkout_status(db, &row.id, CheckoutStatus::AwaitingPayment).await?;
            return Ok(Fulfilment::AwaitingPayment);
        }
        return Ok(Fulfilment::NotCompleted);
    }
    let granted = match row.mode {
        CheckoutMode::Payment => {
            // What paid for it: a refund or dispute names the payment intent; revenue counts
            // the amount after discounts; the billing page links the invoice Checkout made.
            let (pi, invoice) = (session.payment_intent.as_deref(), session.invoice.as_deref());
            rows::record_checkout_payment(db, &row.id, pi, session.amount_total, invoice).await?;
            let note = Some(row.item_name.as_str());
            match credits::grant(db, row.user_id, row.credits, Reason::Purchase, &session.id, note).await? {
                Granted::Now { balance } => Some(balance),
                Granted::Already => None,
            }
        }
        CheckoutMode::Subscription => match (&session.invoice, &p.subscription) {
            (Some(invoice), Some(synced)) => {
                subscriptions::save(db, synced).await?;
                // The same note and period as the invoice's grant, whichever of the two comes first.
                let r = &synced.record;
                let note = allowance_note(r.plan);
                match allowance::grant(db, r.user_id, &r.id, r.period_end, row.credits, invoice, &note)
                    .await?
                {
                    AllowanceGrant::Granted { balance, .. } => Some(balance),
                    AllowanceGrant::Covered { .. } => None,
                }
            }
            (_, synced) => {
                if let Some(synced) = synced {
                    subscriptions::save(db, synced).await?;
                }
                // No first invoice or subscription to key the allowance by:
                // `invoice.payment_succeeded` grants it.
                None
            }
        },
    };
    rows::set_checkout_status(db, &row.id, CheckoutStatus::Paid).await?;
    Ok(match granted {
        Some(balance) => Fulfilment::Granted { credits: row.credits, balance },
        None => Fulfilment::AlreadyFulfilled,
    })
}

/// The success page's way in: read the session's needs, then `apply` in a transaction.
pub async fn fulfil(
    db: &Db,
    stripe: &Stripe,
    config: &Config,
    session: CheckoutSession,
    now_ms: u64,
) -> Result<Option<(Checkout, Fulfilment)>, AppError> {
    let Some(prepared) = prepare(db, stripe, config, session, now_ms).await? else { return Ok(None) };
    let outcome = db.transaction(async |db| apply(db, &prepared).await).await?;
    Ok(Some((prepared.row, outcome)))
}

/// The success page's record of checkout `id`, with the balance (read together, one round
/// trip: a paid one needs nothing else). Another user's checkout is `NotFound`.
pub async fn recorded(db: &Db, user_id: UserId, id: &str) -> Result<(Checkout, Credits), AppError> {
    match try_join(rows::checkout(db, id), credits::balance(db, user_id)).await? {
        (Some(row), balance) if row.user_id == user_id => Ok((row, balance)),
        _ => Err(AppError::NotFound),
    }
}

/// Checkout `id`'s status now (`Open` when there is no record) and the balance, read together:
/// after an eager fulfilment, a failure the webhook recorded shows too.
pub async fn status_now(db: &Db, user_id: UserId, id: &str) -> Result<(CheckoutStatus, Credits), AppError> {
    let (status, balance) = try_join(rows::checkout(db, id), credits::balance(db, user_id)).await?;
    Ok((status.map_or(CheckoutStatus::Open, |r| r.status), balance))
}
