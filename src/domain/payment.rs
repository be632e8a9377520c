//! What a customer paid, as the billing page lists it: a plan's invoice or a credit pack, with
//! its Stripe pages and what came back on it; and a page of payments beside a page of the
//! ledger. db/ reads them (db::payments); the billing page's views render them.

use crate::domain::billing::{CheckoutMode, CheckoutStatus};
use crate::domain::ledger::LedgerEntry;

/// One payment on the billing page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Payment {
    /// `in_…` (a subscription invoice) or `cs_…` (a credit pack's checkout).
    pub id: String,
    /// `Subscription`: a plan's invoice; `Payment`: a credit pack.
    pub kind: CheckoutMode,
    /// The plan (`starter`, `pro`, `other`) or the pack's name.
    pub item: String,
    /// An invoice's billing reason (`subscription_create`, `subscription_cycle`, …).
    pub billing_reason: String,
    /// Unix seconds: when the invoice was made, or the pack paid (or started).
    pub at: i64,
    /// What was paid (after discounts), or is due.
    pub amount: i64,
    /// A pack's list price (more than `amount` after a promotion code).
    pub list_amount: i64,
    pub currency: String,
    /// `Paid`, `PaymentFailed` or (a pack) `AwaitingPayment` (an invoice's stored words are
    /// a checkout's).
    pub status: CheckoutStatus,
    pub number: Option<String>,
    pub invoice_url: Option<String>,
    pub receipt_url: Option<String>,
    /// Refunded so far (cumulative), and whether a dispute took the whole payment back.
    pub refunded: i64,
    pub charged_back: bool,
}

/// A page of payments and a page of the ledger, each read one row past its size (so the caller
/// knows whether more follow) in the keyset's order: newest first, or oldest first after a key.
#[derive(Debug, Default)]
pub struct PaymentPages {
    pub payments: Vec<Payment>,
    pub ledger: Vec<LedgerEntry>,
}
