//! The billing page's history: payments (with their invoice and receipt at Stripe) and the
//! credit ledger, a keyset page of each, with links to the older and newer pages. Pure.

use super::dates::date;
use super::ledger::{ledger_views, LedgerView};
use crate::domain::billing::allowance_note;
use crate::domain::billing::{CheckoutMode, CheckoutStatus, Plan};
use crate::domain::keyset::{page_of, Keyset};
use crate::domain::money::{format_amount, format_amount_with_code};
use crate::domain::payment::{Payment, PaymentPages};

/// Payments and ledger rows per page.
pub const PAYMENTS_PER_PAGE: i64 = 10;
pub const LEDGER_PER_PAGE: i64 = 25;

/// One payment as the customer reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentView {
    pub id: String,
    /// "12 May 2026" (the column says UTC).
    pub date: String,
    /// "50 credit pack", "Starter plan, renewal".
    pub what: String,
    /// "$4.00 USD".
    pub amount: String,
    /// "after a $1.00 discount" (empty without one).
    pub discount: String,
    /// "Paid", "Payment failed", "Processing", "Refunded", "Partly refunded ($2.00 USD)", "Charged back".
    pub status: String,
    /// Whether the status is bad news (styled as a warning).
    pub problem: bool,
    pub invoice_url: Option<String>,
    /// "Invoice A1B2-0001" (or "Invoice" before Stripe numbered it).
    pub invoice_label: String,
    pub receipt_url: Option<String>,
}

pub fn payment_view(p: &Payment) -> PaymentView {
    let what = match p.kind {
        CheckoutMode::Payment => p.item.clone(),
        CheckoutMode::Subscription => {
            let plan = allowance_note(Plan::parse(&p.item));
            let plan = if plan == "subscription" { "Subscription".to_string() } else { plan };
            match p.billing_reason.as_str() {
                "subscription_create" => format!("{plan}, first payment"),
                "subscription_cycle" => format!("{plan}, renewal"),
                "subscription_update" => format!("{plan}, plan change"),
                _ => plan,
            }
        }
    };
    let (status, problem) = if p.charged_back {
        ("Charged back".to_string(), true)
    } else if p.refunded > 0 && p.refunded >= p.amount {
        ("Refunded".to_string(), false)
    } else if p.refunded > 0 {
        (format!("Partly refunded ({})", format_amount_with_code(p.refunded, &p.currency)), false)
    } else {
        match p.status {
            CheckoutStatus::Paid => ("Paid".to_string(), false),
            CheckoutStatus::PaymentFailed => ("Payment failed".to_string(), true),
            CheckoutStatus::AwaitingPayment => ("Processing".to_string(), false),
            CheckoutStatus::Open => ("Not paid".to_string(), false),
        }
    };
    let discount = match p.list_amount - p.amount {
        d if d > 0 && p.status == CheckoutStatus::Paid => {
            format!("after a {} discount", format_amount(d, &p.currency))
        }
        _ => String::new(),
    };
    PaymentView {
        id: p.id.clone(),
        date: date(p.at),
        what,
        amount: format_amount_with_code(p.amount, &p.currency),
        discount,
        status,
        problem,
        invoice_url: p.invoice_url.clone(),
        invoice_label: match &p.number {
            Some(n) if !n.is_empty() => format!("Invoice {n}"),
            _ => "Invoice".to_string(),
        },
        receipt_url: p.receipt_url.clone(),
    }
}

/// The billing page's two lists and where their other pages are.
#[derive(Default)]
pub struct History {
    pub payments: Vec<PaymentView>,
    pub payments_older: Option<String>,
    pub payments_newer: Option<String>,
    pub ledger: Vec<LedgerView>,
    pub ledger_older: Option<String>,
    pub ledger_newer: Option<String>,
}

/// The pages as read (one row past each size, in each keyset's order) → what the page shows.
pub fn history(pages: PaymentPages, payments: &Keyset<(i64, String)>, ledger: &Keyset<i64>) -> History {
    let (rows, older, newer) = page_of(pages.payments, PAYMENTS_PER_PAGE as usize, payments);
    let key = |p: &Payment| format!("{}.{}", p.at, p.id);
    let payments_older =
        older.then(|| rows.last().map(|p| format!("/billing?payments_before={}#payments", key(p))));
    let payments_newer = newer.then(|| match rows.first() {
        Some(p) => format!("/billing?payments_after={}#payments", key(p)),
        None => "/billing#payments".to_string(),
    });
    let (entries, l_older, l_newer) = page_of(pages.ledger, LEDGER_PER_PAGE as usize, ledger);
    let ledger_older =
        l_older.then(|| entries.last().map(|l| format!("/billing?ledger_before={}#ledger", l.id)));
    let ledger_newer = l_newer.then(|| match entries.first() {
        Some(l) => format!("/billing?ledger_after={}#ledger", l.id),
        None => "/billing#ledger".to_string(),
    });
    History {
        payments: rows.iter().map(payment_view).collect(),
        payments_older: payments_older.flatten(),
        payments_newer,
        ledger: ledger_views(&entries),
        ledger_older: ledger_older.flatten(),
        ledger_newer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: CheckoutMode, status: CheckoutStatus) -> Payment {
        let pack = kind == CheckoutMode::Payment;
        Payment {
            id: "cs_1".into(),
            kind,
            item: if pack { "50 credit pack".into() } else { "starter".into() },
            billing_reason: if pack { String::new() } else { "subscription_cycle".into() },
            at: 1_800_000_000,
            amount: 400,
            list_amount: 500,
            currency: "usd".into(),
            status,
            number: Some("AB-0001".into()),
            invoice_url: Some("https://invoice.stripe.test/i/1".into()),
            receipt_url: None,
            refunded: 0,
            charged_back: false,
        }
    }

    #[test]
    fn a_payment_names_what_it_bought_its_currency_and_its_discount() {
        let v = payment_view(&row(CheckoutMode::Payment, CheckoutStatus::Paid));
        assert_eq!(
            (v.what.as_str(), v.amount.as_str(), v.status.as_str()),
            ("50 credit pack", "$4.00 USD", "Paid")
        );
        assert_eq!(v.discount, "after a $1.00 discount");
        assert_eq!(v.invoice_label, "Invoice AB-0001");
        assert_eq!(v.date, "15 January 2027");
        let v = payment_view(&row(CheckoutMode::Subscription, CheckoutStatus::PaymentFailed));
        assert_eq!(
            (v.what.as_str(), v.status.as_str(), v.problem),
            ("Starter plan, renewal", "Payment failed", true)
        );
    }

    #[test]
    fn a_refunded_or_charged_back_payment_says_so() {
        let mut r = row(CheckoutMode::Payment, CheckoutStatus::Paid);
        r.refunded = 100;
        assert_eq!(payment_view(&r).status, "Partly refunded ($1.00 USD)");
        r.refunded = 400;
        assert_eq!(payment_view(&r).status, "Refunded");
        r.charged_back = true;
        assert_eq!(payment_view(&r).status, "Charged back");
    }
}
