//! A plan's payments applied in one round trip (`db::plan_event`): its invoices (recorded, a
//! failed one's notice, the subscription saved, the period's allowance granted once, a
//! renewal's notice), a Checkout Session (its subscription saved, the first allowance granted,
//! the checkout marked) and a subscription's own events (saved unless a newer read is stored). The webhook claims and finishes its event in the same
//! transaction; the success page fulfils a checkout with the same steps, without an event.

use super::allowance::{self, InvoiceAllowance};
use super::receipts;
use super::subscriptions::Synced;
use crate::clients::stripe_objects::{CheckoutSession, Invoice};
use crate::db::billing::InvoiceRecord;
use crate::db::plan_event::{Allowance, Steps};
use crate::db::states::{words, Stored};
use crate::db::stripe_events::EventMeta;
use crate::db::Db;
use crate::domain::billing::SubscriptionRecord;
use crate::domain::billing::{
    allowance_note, Checkout, CheckoutMode, CheckoutStatus, Fulfilment, InvoiceStatus,
};
use crate::error::AppError;

/// Invoices that may grant allowance: a new period's (create, cycle), and a plan change's
/// proration (an upgrade grants the difference; see `allowance`).
pub const ALLOWANCE_REASONS: [&str; 3] = ["subscription_create", "subscription_cycle", "subscription_update"];

/// What the event log says of a subscription's save: stored, or not (a newer or final state is).
pub fn subscription_words(r: &SubscriptionRecord) -> [String; 2] {
    [
        format!("subscription {} {} ({})", r.id, r.status.stored(), r.plan.stored()),
        format!("subscription {}: a newer or final state is stored", r.id),
    ]
}

/// A subscription's own event (created, updated, deleted): `None` when the event was taken by
/// someone else; otherwise the detail written.
pub async fn subscription(
    db: &Db,
    event: &EventMeta<'_>,
    r: &SubscriptionRecord,
) -> Result<Option<String>, AppError> {
    let words = subscription_words(r);
    let mut steps = Steps::default();
    steps.subscription(r, Some(&words));
    Ok(steps.run(db, Some((event, &r.user_id, &None))).await?.and_then(|ran| ran.detail))
}

/// A subscription invoice's event (`invoice.payment_succeeded` when `paid`, else
/// `invoice.payment_failed`): `None` when the event was taken by someone else; otherwise the
/// detail written.
pub async fn invoice(
    db: &Db,
    event: &EventMeta<'_>,
    invoice: &Invoice,
    paid: bool,
    synced: &Synced,
    bought: Option<&InvoiceAllowance>,
) -> Result<Option<String>, AppError> {
    let r = &synced.record;
    let user_id = r.user_id;
    let record = InvoiceRecord {
        id: invoice.id.clone(),
        user_id,
        subscription_id: Some(r.id.clone()),
        billing_reason: invoice.billing_reason.clone(),
        status: if paid { InvoiceStatus::Paid } else { InvoiceStatus::PaymentFailed },
        amount_due: invoice.amount_due,
        amount_paid: invoice.amount_paid,
        currency: invoice.currency.clone(),
        period_start: invoice.period_start,
        period_end: invoice.period_end,
    };
    let invoice_words = match paid {
        true => [format!("invoice {} paid", invoice.id), format!("invoice {} paid", invoice.id)],
        false => [
            format!("invoice {} payment failed: past due shown", invoice.id),
            format!("invoice {} payment failed after it was paid: ignored", invoice.id),
        ],
    };
    let details = receipts::invoice_details(invoice);
    let notify = !paid;
    let saved_words = subscription_words(r);
    let reason = invoice.billing_reason.as_deref().unwrap_or("");
    // What the invoice grants: its allowance, or words saying why nothing.
    let (grant, last) = match (paid, ALLOWANCE_REASONS.contains(&reason), bought) {
        (false, _, _) => (None, None),
        (true, false, _) => (None, Some(format!("no allowance for billing reason {reason:?}"))),
        (true, true, None) => {
            (None, Some("no allowance: no charged line has a price with metadata[credits]".into()))
        }
        (true, true, Some(bought)) => (Some(bought), None),
    };
    let allowance = grant.map(|bought| Allowance {
        user_id,
        subscription_id: r.id.clone(),
        period_key: bought.period_end.unwrap_or(0),
        target: bought.credits,
        invoice_id: invoice.id.clone(),
        note: allowance_note(bought.plan),
        renewal: reason == "subscription_cycle",
        plan: bought.plan,
        amount: invoice.amount_paid,
        currency: invoice.currency.clone(),
        period_end: bought.period_end,
        words: allowance::words(bought.credits),
    });
    let mut steps = Steps::default();
    steps.invoice(&record, &notify, &r.plan, &invoice_words);
    steps.invoice_details(&details);
    steps.subscription(r, Some(&saved_words));
    if let Some(allowance) = &allowance {
        steps.allowance(allowance);
    }
    Ok(steps.run(db, Some((event, &user_id, &last))).await?.and_then(|ran| ran.detail))
}

/// A Checkout Session that is not a paid credit pack (`fulfilment::pack` writes those):
/// completed but unpaid, or a plan's. With `event`, the webhook's (claimed and finished in the
/// same transaction; `None` when it was taken by someone else).
/// `row` is our record of `session`; `subscription` the one it made, as Stripe has it now.
pub async fn checkout(
    db: &Db,
    session: &CheckoutSession,
    row: &Checkout,
    subscription: Option<&SubscriptionRecord>,
    event: Option<&EventMeta<'_>>,
) -> Result<Option<(Fulfilment, Option<String>)>, AppError> {
    let mut steps = Steps::default();
    let (awaiting, paid) = (CheckoutStatus::AwaitingPayment, CheckoutStatus::Paid);
    let (from_awaiting, from_paid) = (words(awaiting.reachable_from()), words(paid.reachable_from()));
    // The same note and period as the invoice's grant, whichever of the two comes first.
    let allowance = match (session.is_paid(), row.mode, &session.invoice, subscription) {
        (true, CheckoutMode::Subscription, Some(invoice_id), Some(r)) => Some(Allowance {
            user_id: r.user_id,
            subscription_id: r.id.clone(),
            period_key: r.period_end.unwrap_or(0),
            target: row.credits,
            invoice_id: invoice_id.clone(),
            note: allowance_note(r.plan),
            renewal: false,
            plan: r.plan,
            amount: 0,
            currency: String::new(),
            period_end: r.period_end,
            words: {
                let granted =
                    format!("checkout {}: {}", row.id, Fulfilment::granted_text(row.credits, &"{balance}"));
                let already = format!("checkout {}: {}", row.id, Fulfilment::AlreadyFulfilled.describe());
                [granted.clone(), granted, already]
            },
        }),
        _ => None,
    };
    let known = match (session.is_paid(), row.mode) {
        (false, _) if session.status.as_deref() == Some("complete") => {
            steps.checkout(&row.id, &awaiting, &from_awaiting);
            Some(Fulfilment::AwaitingPayment)
        }
        (false, _) => Some(Fulfilment::NotCompleted),
        (true, CheckoutMode::Payment) => {
            return Err(AppError::internal(format!(
                "checkout {}: a paid pack is fulfilled by `pack`",
                row.id
            )));
        }
        (true, CheckoutMode::Subscription) => {
            if let Some(r) = subscription {
                steps.subscription(r, None);
            }
            if let Some(allowance) = &allowance {
                steps.allowance(allowance);
            }
            steps.checkout(&row.id, &paid, &from_paid);
            // Without a first invoice or subscription to key the allowance by,
            // `invoice.payment_succeeded` grants it.
            allowance.is_none().then_some(Fulfilment::AlreadyFulfilled)
        }
    };
    let last = known.as_ref().map(|f| format!("checkout {}: {}", row.id, f.describe()));
    let ran = match event {
        Some(e) => steps.run(db, Some((e, &row.user_id, &last))).await?,
        None => steps.run(db, None).await?,
    };
    let Some(ran) = ran else { return Ok(None) };
    let outcome = match (known, ran.granted) {
        (Some(known), _) => known,
        (None, Some((_, balance))) => Fulfilment::Granted { credits: row.credits, balance },
        (None, None) => Fulfilment::AlreadyFulfilled,
    };
    Ok(Some((outcome, ran.detail)))
}
