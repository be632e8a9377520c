//! What each verified Stripe event does, exactly once. The event id is claimed as the first
//! write of the transaction that applies the effect, and its outcome is written in the same
//! transaction: a duplicate (also one delivered concurrently) finds the id taken and does
//! nothing; a failure rolls everything back, is recorded as `failed`, and answers 5xx so Stripe
//! delivers again. Network reads (the subscription, again from Stripe; an invoice's prices; a
//! disputed charge) happen before the transaction opens.

use super::allowance::{self, InvoiceAllowance};
use super::fulfilment::{self, Prepared};
use super::plan_events;
use super::receipts;
use super::reversals::{self, Reversed, Settled};
use super::subscriptions::{self, Lead, Synced};
use crate::clients::stripe::Stripe;
use crate::clients::stripe_charges::{Charge, Dispute};
use crate::clients::stripe_objects::{CheckoutSession, Event, Invoice, Subscription};
use crate::config::Config;
use crate::db::billing::{self as rows, InvoiceRecord};
use crate::db::payments::ChargeRow;
use crate::db::stripe_events::{self as events, EventMeta};
use crate::db::Db;
use crate::domain::billing::{Checkout, CheckoutStatus};
use crate::domain::UserId;
use crate::error::AppError;

/// The events this endpoint acts on (configure the Stripe endpoint for these).
pub const HANDLED: [&str; 13] = [
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "invoice.paid",
    "charge.succeeded",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied {
        detail: String,
        user_id: Option<UserId>,
    },
    Ignored {
        detail: String,
    },
    /// Handled before: nothing done.
    Duplicate,
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Applied { .. } => "applied",
            Outcome::Ignored { .. } => "ignored",
            Outcome::Duplicate => "duplicate",
        }
    }
}

enum Action {
    Ignore(String),
    Fulfil(Box<Prepared>),
    CheckoutFailed(Checkout),
    Subscription(Synced),
    Invoice { invoice: Box<Invoice>, paid: bool, synced: Synced, allowance: Option<InvoiceAllowance> },
    Reversal(Box<Reversed>),
    PackInvoice { record: InvoiceRecord, invoice: Box<Invoice> },
    Charge(ChargeRow),
}

/// Applies `event` once. Errors are recorded on the event (outcome `failed`) and returned.
pub async fn receive(
    db: &Db,
    stripe: &Stripe,
    config: &Config,
    event: &Event,
    now_ms: u64,
) -> Result<Outcome, AppError> {
    let meta = EventMeta {
        id: &event.id,
        kind: &event.kind,
        object_id: event.object_id(),
        created: event.created,
        livemode: event.livemode,
    };
    // The already-handled check goes out with the preparation's first read (one round trip).
    // Preparing only reads (here and at Stripe): for an event handled before, it is dropped.
    let (handled, action) = futures_util::future::join(
        events::already_handled(db, &event.id),
        prepare(db, stripe, config, event, now_ms),
    )
    .await;
    if handled? {
        return Ok(Outcome::Duplicate);
    }
    let result = match action {
        Ok(action) => process(db, event, action, &meta).await,
        Err(e) => Err(e),
    };
    if let Err(e) = &result {
        // Best effort: the operator sees the failure; Stripe's retry may take the event over.
        let _ = events::record_failure(db, &meta, &e.to_string()).await;
    }
    result
}

/// Applies what `prepare` found, the event claimed and its outcome written in the same
/// transaction: in one round trip where no write needs another's answer, or where the SQL
/// carries the condition (a paid pack, a charge, a pack's invoice, a plan's and a
/// subscription's events, a refund or dispute); statement by statement otherwise (a delayed
/// payment that failed).
async fn process(db: &Db, event: &Event, action: Action, meta: &EventMeta<'_>) -> Result<Outcome, AppError> {
    let applied = |detail: Option<String>, user_id: UserId| match detail {
        Some(detail) => Outcome::Applied { detail, user_id: Some(user_id) },
        None => Outcome::Duplicate,
    };
    match &action {
        Action::Ignore(why) => {
            // Nothing to apply: the claim is the record (one round trip instead of a transaction).
            let claimed = events::claim_ignored(db, meta, why).await?;
            return Ok(if claimed { Outcome::Ignored { detail: why.clone() } } else { Outcome::Duplicate });
        }
        Action::Fulfil(p) if fulfilment::is_paid_pack(p) => {
            let done = fulfilment::pack(db, p, Some(meta)).await?;
            let detail = done.map(|(done, _, _)| format!("checkout {}: {}", p.row.id, done.describe()));
            return Ok(applied(detail, p.row.user_id));
        }
        Action::Fulfil(p) => {
            let subscription = p.subscription.as_ref().map(|s| &s.record);
            let done = plan_events::checkout(db, &p.session, &p.row, subscription, Some(meta)).await?;
            return Ok(applied(done.map(|(_, detail)| detail.unwrap_or_default()), p.row.user_id));
        }
        Action::Invoice { invoice, paid, synced, allowance } => {
            let detail = plan_events::invoice(db, meta, invoice, *paid, synced, allowance.as_ref()).await?;
            return Ok(applied(detail, synced.record.user_id));
        }
        Action::Charge(row) => {
            return Ok(applied(receipts::record_charge(db, meta, row).await?, row.user_id))
        }
        Action::PackInvoice { record, invoice } => {
            let detail = receipts::record_pack_invoice(db, meta, record, invoice).await?;
            return Ok(applied(detail, record.user_id));
        }
        Action::Subscription(synced) => {
            let r = &synced.record;
            return Ok(applied(plan_events::subscription(db, meta, r).await?, r.user_id));
        }
        Action::Reversal(r) => {
            return match reversals::apply(db, meta, r).await? {
                Settled::Applied { detail, user_id } => Ok(applied(Some(detail), user_id)),
                Settled::Taken => Ok(Outcome::Duplicate),
                Settled::NotOurs => {
                    let why = format!("{} is not a GhostTools one", r.what());
                    let claimed = events::claim_ignored(db, meta, &why).await?;
                    Ok(if claimed { Outcome::Ignored { detail: why } } else { Outcome::Duplicate })
                }
            };
        }
        _ => {}
    }
    db.transaction(async |db| {
        if !events::claim(db, meta).await? {
            return Ok(Outcome::Duplicate);
        }
        let outcome = apply(db, &action).await?;
        let (detail, user_id) = match &outcome {
            Outcome::Applied { detail, user_id } => (detail.as_str(), *user_id),
            Outcome::Ignored { detail } => (detail.as_str(), None),
            Outcome::Duplicate => ("", None),
        };
        events::finish(db, &event.id, outcome.label(), detail, user_id).await?;
        Ok(outcome)
    })
    .await
}

fn object<T: serde::de::DeserializeOwned>(event: &Event) -> Result<T, AppError> {
    event
        .object()
        .map_err(|e| AppError::internal(format!("{} {}: unreadable object: {e}", event.kind, event.id)))
}

async fn prepare(
    db: &Db,
    stripe: &Stripe,
    config: &Config,
    event: &Event,
    now_ms: u64,
) -> Result<Action, AppError> {
    let not_ours = |what: &str| Action::Ignore(format!("{what} is not a GhostTools one"));
    Ok(match event.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            let session: CheckoutSession = object(event)?;
            let row = rows::checkout(db, &session.id).await?;
            match fulfilment::prepare(db, stripe, config, session, row, now_ms).await? {
                Some(prepared) => Action::Fulfil(Box::new(prepared)),
                None => not_ours("checkout session"),
            }
        }
        "checkout.session.async_payment_failed" => {
            let session: CheckoutSession = object(event)?;
            match rows::checkout(db, &session.id).await? {
                Some(row) => Action::CheckoutFailed(row),
                None => not_ours("checkout session"),
            }
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            let copy: Subscription = object(event)?;
            let lead = Lead::EventCopy(&copy, event.created);
            match subscriptions::read(db, stripe, config, &copy.id, lead, now_ms).await? {
                Some(synced) => Action::Subscription(synced),
                None => not_ours("subscription"),
            }
        }
        "invoice.payment_succeeded" | "invoice.payment_failed" => {
            let invoice: Invoice = object(event)?;
            let Some(subscription_id) = invoice.subscription_id().map(str::to_string) else {
                return Ok(Action::Ignore("not a subscription invoice".into()));
            };
            let lead = Lead::Customer(invoice.customer.as_deref());
            let Some(synced) =
                subscriptions::read(db, stripe, config, &subscription_id, lead, now_ms).await?
            else {
                return Ok(not_ours("subscription"));
            };
            let paid = event.kind == "invoice.payment_succeeded";
            let reason = invoice.billing_reason.as_deref().unwrap_or("");
            let allowance = match paid && plan_events::ALLOWANCE_REASONS.contains(&reason) {
                true => allowance::of_invoice(stripe, config, &invoice).await?,
                false => None,
            };
            Action::Invoice { invoice: Box::new(invoice), paid, synced, allowance }
        }
        // Subscription invoices are recorded from `invoice.payment_succeeded` (sent alongside).
        "invoice.paid" => {
            let invoice: Invoice = object(event)?;
            if invoice.subscription_id().is_some() {
                return Ok(Action::Ignore(
                    "a subscription invoice: invoice.payment_succeeded records it".into(),
                ));
            }
            match receipts::prepare_pack_invoice(db, &invoice).await? {
                Some(record) => Action::PackInvoice { record, invoice: Box::new(invoice) },
                None => not_ours("invoice"),
            }
        }
        "charge.succeeded" => {
            let charge: Charge = object(event)?;
            match receipts::prepare_charge(db, stripe, charge).await? {
                Some(row) => Action::Charge(row),
                None => not_ours("charge"),
            }
        }
        "charge.refunded" => {
            let charge: Charge = object(event)?;
            match reversals::prepare_refund(db, stripe, charge, (now_ms / 1000) as i64).await? {
                Some(r) => Action::Reversal(Box::new(r)),
                None => not_ours("charge"),
            }
        }
        "charge.dispute.created" | "charge.dispute.closed" => {
            let dispute: Dispute = object(event)?;
            match reversals::prepare_dispute(db, stripe, dispute, (now_ms / 1000) as i64).await? {
                Some(r) => Action::Reversal(Box::new(r)),
                None => not_ours("disputed charge"),
            }
        }
        other => Action::Ignore(format!("{other} is not handled")),
    })
}

async fn apply(db: &Db, action: &Action) -> Result<Outcome, AppError> {
    let applied = |detail: String, user_id: UserId| Outcome::Applied { detail, user_id: Some(user_id) };
    Ok(match action {
        Action::Ignore(why) => Outcome::Ignored { detail: why.clone() },
        Action::CheckoutFailed(row) => {
            let moved = rows::set_checkout_status(db, &row.id, CheckoutStatus::PaymentFailed).await?;
            let detail =
                if moved { "delayed payment failed: the billing page says so" } else { "already settled" };
            applied(format!("checkout {}: {detail}", row.id), row.user_id)
        }
        // Applied in one round trip by `process`.
        Action::PackInvoice { .. }
        | Action::Charge(_)
        | Action::Subscription(_)
        | Action::Fulfil(_)
        | Action::Invoice { .. }
        | Action::Reversal(_) => {
            return Err(AppError::internal("applied by process, without a transaction"));
        }
    })
}
