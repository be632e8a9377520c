//! Fulfilment: granting what a completed Checkout Session paid for. The same writes serve both
//! the webhook and the success page, and are safe to repeat any number of times, also
//! concurrently: the credits are a ledger grant keyed by the session (a pack) or by the first
//! invoice (a plan's first allowance — the same key `invoice.payment_succeeded` uses).
//!
//! `prepare` does the network part (reading the subscription from Stripe) first; then one
//! round trip writes: `pack` for a paid credit pack (`db::pack_payment`), otherwise
//! `plan_events::checkout` (`db::plan_event`).

use super::plan_events;
use super::subscriptions::{self, Lead, Synced};
use crate::clients::stripe::Stripe;
use crate::clients::stripe_objects::CheckoutSession;
use crate::config::Config;
use crate::db::billing as rows;
use crate::db::credits;
use crate::db::pack_payment::{self, Details, PackPayment};
use crate::db::stripe_events::EventMeta;
use crate::db::Db;
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

/// Reads what fulfilling `session` needs, given our record of it (`row`, read by the caller
/// with whatever else it reads first). `Ok(None)`: not a session GhostTools created, or one
/// whose metadata names another user than the one we recorded (logged by the caller).
pub async fn prepare(
    db: &Db,
    stripe: &Stripe,
    config: &Config,
    session: CheckoutSession,
    row: Option<Checkout>,
    now_ms: u64,
) -> Result<Option<Prepared>, AppError> {
    let Some(row) = row.filter(|r| r.id == session.id) else { return Ok(None) };
    let named = session.metadata.get("user_id").and_then(|v| v.parse::<UserId>().ok());
    if named.is_some_and(|id| id != row.user_id) {
        return Ok(None);
    }
    let subscription = match (&session.subscription, row.mode, session.is_paid()) {
        (Some(id), CheckoutMode::Subscription, true) => {
            subscriptions::read(db, stripe, config, id, Lead::Buyer(row.user_id), now_ms).await?
        }
        _ => None,
    };
    Ok(Some(Prepared { session, row, subscription }))
}

/// Whether `pack` fulfils it: a credit pack, paid.
pub fn is_paid_pack(p: &Prepared) -> bool {
    p.row.mode == CheckoutMode::Payment && p.session.is_paid()
}

/// A paid credit pack (`is_paid_pack`) fulfilled in one round trip, for the webhook with its
/// `event` claimed and finished in the same transaction. `None`: the event was handled by
/// someone else. Also answers the checkout's status and the owner's balance afterwards.
pub async fn pack(
    db: &Db,
    p: &Prepared,
    event: Option<&EventMeta<'_>>,
) -> Result<Option<(Fulfilment, CheckoutStatus, Credits)>, AppError> {
    let (session, row) = (&p.session, &p.row);
    let pay = PackPayment {
        checkout: row,
        payment_intent: session.payment_intent.as_deref(),
        amount_paid: session.amount_total,
        invoice: session.invoice.as_deref(),
    };
    let granted_detail =
        format!("checkout {}: {}", row.id, Fulfilment::granted_text(row.credits, &"{balance}"));
    let already_detail = format!("checkout {}: {}", row.id, Fulfilment::AlreadyFulfilled.describe());
    let details = Details { granted: &granted_detail, already: &already_detail };
    let Some(done) = pack_payment::fulfil(db, &pay, event.map(|e| (e, &details))).await? else {
        return Ok(None);
    };
    let fulfilment = match done.granted_now {
        true => Fulfilment::Granted { credits: row.credits, balance: Credits::new(done.balance) },
        false => Fulfilment::AlreadyFulfilled,
    };
    Ok(Some((fulfilment, done.status, Credits::new(done.balance))))
}

/// The success page's way in, with our record of the session (`row`) read already: fulfils it
/// and answers the outcome, the checkout's status and the owner's balance afterwards.
pub async fn fulfil(
    db: &Db,
    stripe: &Stripe,
    config: &Config,
    session: CheckoutSession,
    row: Checkout,
    now_ms: u64,
) -> Result<Option<(Checkout, Fulfilment, CheckoutStatus, Credits)>, AppError> {
    let Some(prepared) = prepare(db, stripe, config, session, Some(row), now_ms).await? else {
        return Ok(None);
    };
    if is_paid_pack(&prepared) {
        let done = pack(db, &prepared, None).await?;
        let (outcome, status, balance) = done.ok_or_else(|| AppError::internal("no event to take"))?;
        return Ok(Some((prepared.row, outcome, status, balance)));
    }
    let subscription = prepared.subscription.as_ref().map(|s| &s.record);
    let done = plan_events::checkout(db, &prepared.session, &prepared.row, subscription, None).await?;
    let (outcome, _) = done.ok_or_else(|| AppError::internal("no event to take"))?;
    // Re-read: a failure recorded by the webhook shows here too.
    let (status, balance) = status_now(db, prepared.row.user_id, &prepared.row.id).await?;
    Ok(Some((prepared.row, outcome, status, balance)))
}

/// The success page's record of checkout `id`, with the balance, for `Ctx::user_with` (sent
/// with the session check, one round trip: a paid one needs nothing else). Another user's
/// checkout is `NotFound`.
pub async fn recorded(
    db: &Db,
    user_id: UserId,
    id: &str,
) -> Result<Result<(Checkout, Credits), AppError>, AppError> {
    Ok(match try_join(rows::checkout(db, id), credits::balance(db, user_id)).await? {
        (Some(row), balance) if row.user_id == user_id => Ok((row, balance)),
        _ => Err(AppError::NotFound),
    })
}

/// Checkout `id`'s status now (`Open` when there is no record) and the balance, read together:
/// after an eager fulfilment, a failure the webhook recorded shows too.
pub async fn status_now(db: &Db, user_id: UserId, id: &str) -> Result<(CheckoutStatus, Credits), AppError> {
    let (status, balance) = try_join(rows::checkout(db, id), credits::balance(db, user_id)).await?;
    Ok((status.map_or(CheckoutStatus::Open, |r| r.status), balance))
}
