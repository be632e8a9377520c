//! Invoices and receipts as the customer reads them on the billing page, stored from the
//! webhooks: a charge's receipt (`charge.succeeded`), a credit pack's invoice (`invoice.paid`,
//! made by Checkout's `invoice_creation`), and every invoice's number and hosted page.
//!
//! `prepare_*` read (the owner; a charge's invoice from Stripe) before the transaction; the
//! writes happen in the webhook's transaction.

use crate::clients::stripe::Stripe;
use crate::clients::stripe_charges::Charge;
use crate::clients::stripe_objects::Invoice;
use crate::db::billing::{self as rows, InvoiceRecord};
use crate::db::payments::{self, ChargeRow};
use crate::db::Db;
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

/// Stores a pack's invoice with its number and page. Call inside the transaction.
pub async fn record_pack_invoice(
    db: &Db,
    record: &InvoiceRecord,
    invoice: &Invoice,
) -> Result<String, AppError> {
    rows::record_invoice(db, record).await?;
    save_details(db, invoice).await?;
    Ok(format!("invoice {} of a credit pack recorded", invoice.id))
}

/// The invoice's number, creation time and hosted page (after its row is written).
pub async fn save_details(db: &Db, invoice: &Invoice) -> Result<(), AppError> {
    let (number, url) = (invoice.number.as_deref(), invoice.hosted_invoice_url.as_deref());
    payments::save_invoice_details(db, &invoice.id, number, url, invoice.created).await
}

/// Stores the charge's receipt. Call inside the transaction.
pub async fn record_charge(db: &Db, charge: &ChargeRow) -> Result<String, AppError> {
    payments::record_charge(db, charge).await?;
    let receipt = if charge.receipt_url.is_some() { "with" } else { "without" };
    Ok(format!("charge {} recorded {receipt} a receipt", charge.id))
}
