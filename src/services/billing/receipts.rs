//! Invoices and receipts as the customer reads them on the billing page, stored from the
//! webhooks: a charge's receipt (`charge.succeeded`), a credit pack's invoice (`invoice.paid`,
//! made by Checkout's `invoice_creation`), and every invoice's number and hosted page.
//!
//! `prepare_*` read (the owner; a charge's invoice from Stripe); the writes need no answer, so
//! they go with the event's claim and outcome as one transaction in one round trip.

use crate::clients::stripe::Stripe;
use crate::clients::stripe_charges::Charge;
use crate::clients::stripe_objects::Invoice;
use crate::db::billing::{self as rows, InvoiceRecord};
use crate::db::payments::{self, ChargeRow, InvoiceDetails};
use crate::db::stripe_events::{self as events, EventMeta};
use crate::db::{Db, Statement};
use crate::domain::billing::InvoiceStatus;
use crate::domain::UserId;
use crate::error::AppError;

/// The charge to store, with its owner and the invoice it paid; `None`: not one of our
/// customers' charges (or not a successful one).
pub async fn prepare_charge(db: &Db, stripe: &Stripe, charge: Charge) -> Result<Option<ChargeRow>, AppError> {
    if charge.status != "succeeded" {
        return Ok(None);
    }
    let Some(customer) = &charge.customer else { return Ok(None) };
    let Some(user_id) = rows::user_of_customer(db, customer).await? else { return Ok(None) };
    // A pack's charge is found by its payment intent; a subscription invoice's by the invoice,
    // which since API 2025-03-31 only the invoice's payments name.
    let invoice_id = match (&charge.invoice, &charge.payment_intent) {
        (Some(id), _) => Some(id.clone()),
        (None, Some(pi)) => stripe.invoice_paid_by(pi).await?,
        (None, None) => None,
    };
    Ok(Some(ChargeRow {
        id: charge.id,
        user_id,
        payment_intent: charge.payment_intent,
        invoice_id,
        amount: charge.amount,
        currency: charge.currency,
        receipt_url: charge.receipt_url,
        created: charge.created,
    }))
}

/// A paid invoice that is not a subscription's (a credit pack's, made by Checkout): the record
/// to store, owned by the customer's user or the user our Checkout named in its metadata.
/// `None`: not ours.
pub async fn prepare_pack_invoice(db: &Db, invoice: &Invoice) -> Result<Option<InvoiceRecord>, AppError> {
    let by_customer = match &invoice.customer {
        Some(c) => rows::user_of_customer(db, c).await?,
        None => None,
    };
    let user_id = match by_customer {
        Some(id) => Some(id),
        None => match invoice.metadata.get("user_id").and_then(|v| v.parse::<UserId>().ok()) {
            Some(id) if rows::user_exists(db, id).await? => Some(id),
            _ => None,
        },
    };
    Ok(user_id.map(|user_id| InvoiceRecord {
        id: invoice.id.clone(),
        user_id,
        subscription_id: None,
        billing_reason: invoice.billing_reason.clone(),
        status: InvoiceStatus::Paid,
        amount_due: invoice.amount_due,
        amount_paid: invoice.amount_paid,
        currency: invoice.currency.clone(),
        period_start: invoice.period_start,
        period_end: invoice.period_end,
    }))
}

/// Stores a pack's invoice with its number and page, the event claimed and finished with it in
/// one round trip (`stripe_events::apply_atomically`). `None`: the event was taken meanwhile.
pub async fn record_pack_invoice(
    db: &Db,
    event: &EventMeta<'_>,
    record: &InvoiceRecord,
    invoice: &Invoice,
) -> Result<Option<String>, AppError> {
    let detail = format!("invoice {} of a credit pack recorded", invoice.id);
    let details = invoice_details(invoice);
    let (row, document) = (rows::record_invoice_params(record), details.params());
    let writes: [Statement; 2] =
        [(rows::RECORD_INVOICE_SQL, &row), (payments::SAVE_INVOICE_DETAILS_SQL, &document)];
    Ok(events::apply_atomically(db, event, &writes, &detail, record.user_id).await?.then_some(detail))
}

/// An invoice's number, creation time and hosted page, as stored.
pub fn invoice_details(invoice: &Invoice) -> InvoiceDetails {
    InvoiceDetails {
        id: invoice.id.clone(),
        number: invoice.number.clone(),
        hosted_url: invoice.hosted_invoice_url.clone(),
        created: invoice.created,
    }
}

/// Stores the charge's receipt, the event claimed and finished with it in one round trip.
/// `None`: the event was taken meanwhile.
pub async fn record_charge(
    db: &Db,
    event: &EventMeta<'_>,
    charge: &ChargeRow,
) -> Result<Option<String>, AppError> {
    let receipt = if charge.receipt_url.is_some() { "with" } else { "without" };
    let detail = format!("charge {} recorded {receipt} a receipt", charge.id);
    let row = payments::record_charge_params(charge);
    let writes: [Statement; 1] = [(payments::RECORD_CHARGE_SQL, &row)];
    Ok(events::apply_atomically(db, event, &writes, &detail, charge.user_id).await?.then_some(detail))
}
