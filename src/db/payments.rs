//! What a customer paid, as the billing page lists it: subscription invoices and credit-pack
//! checkouts, each with its Stripe invoice page and receipt (stored from the webhooks: the
//! page never asks Stripe), what came back on it, and the credit ledger, a keyset page of each
//! in one statement.

use super::{Db, Param};
use crate::domain::keyset::Keyset;
use crate::domain::payment::PaymentPages;
use crate::domain::UserId;
use crate::error::AppError;
use tokio_postgres::types::Type;

/// A successful charge of one of our customers (`charge.succeeded`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRow {
    pub id: String,
    pub user_id: UserId,
    pub payment_intent: Option<String>,
    /// The invoice it paid, when it paid one.
    pub invoice_id: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub receipt_url: Option<String>,
    /// Unix seconds.
    pub created: i64,
}

/// Stores a charge; a repeat (or a later event about it) fills in what was missing.
pub async fn record_charge(db: &Db, c: &ChargeRow) -> Result<(), AppError> {
    db.execute(RECORD_CHARGE_SQL, &record_charge_params(c)).await?;
    Ok(())
}

/// `record_charge`'s statement (its parameters: `record_charge_params`).
pub const RECORD_CHARGE_SQL: &str = "\
INSERT INTO charges (id, user_id, payment_intent, invoice_id, amount, currency, receipt_url, stripe_created_at)
VALUES ($1, $2, $3, $4, $5, lower($6), $7, to_timestamp($8))
ON CONFLICT (id) DO UPDATE SET
    payment_intent = coalesce(charges.payment_intent, EXCLUDED.payment_intent),
    invoice_id = coalesce(charges.invoice_id, EXCLUDED.invoice_id),
    receipt_url = coalesce(EXCLUDED.receipt_url, charges.receipt_url), updated_at = now()";

pub fn record_charge_params(c: &ChargeRow) -> [Param<'_>; 8] {
    [
        (&c.id, Type::TEXT),
        (&c.user_id, Type::INT8),
        (&c.payment_intent, Type::TEXT),
        (&c.invoice_id, Type::TEXT),
        (&c.amount, Type::INT8),
        (&c.currency, Type::TEXT),
        (&c.receipt_url, Type::TEXT),
        (&c.created, Type::INT8),
    ]
}

/// What an invoice event says about the invoice as a document: its number, when Stripe made
/// it, and its hosted page. Written whatever the payment outcome; never blanked by an event
/// that lacks them.
pub async fn save_invoice_details(db: &Db, d: &InvoiceDetails) -> Result<(), AppError> {
    db.execute(SAVE_INVOICE_DETAILS_SQL, &d.params()).await?;
    Ok(())
}

/// An invoice's number, creation time (Unix seconds) and hosted page.
pub struct InvoiceDetails {
    pub id: String,
    pub number: Option<String>,
    pub hosted_url: Option<String>,
    pub created: Option<i64>,
}

impl InvoiceDetails {
    pub fn params(&self) -> [Param<'_>; 4] {
        [
            (&self.id, Type::TEXT),
            (&self.number, Type::TEXT),
            (&self.hosted_url, Type::TEXT),
            (&self.created, Type::INT8),
        ]
    }
}

/// `save_invoice_details`' statement (its parameters: `InvoiceDetails::params`).
pub const SAVE_INVOICE_DETAILS_SQL: &str = "\
UPDATE invoices SET number = coalesce($2, number),
    hosted_invoice_url = coalesce($3, hosted_invoice_url),
    stripe_created_at = coalesce(to_timestamp($4), stripe_created_at)
WHERE id = $1";

/// The payments of user `$1`; `$2`/`$3`: older than (at, id); `$4`/`$5`: newer than; `$6`: how
/// many. Columns named like `Payment`'s fields.
const PAYMENTS_SQL: &str = "SELECT p.*,
        coalesce((SELECT sum(r.amount_refunded) FROM charge_reversals r
                  WHERE r.purchase = p.id AND r.user_id = $1), 0)::int8 AS refunded,
        coalesce((SELECT bool_or(r.dispute_lost) FROM charge_reversals r
                  WHERE r.purchase = p.id AND r.user_id = $1), false) AS charged_back
    FROM (
        SELECT i.id, 'subscription' AS kind, coalesce(s.plan, 'other') AS item,
               coalesce(i.billing_reason, '') AS billing_reason,
               extract(epoch FROM coalesce(i.stripe_created_at, i.created_at))::int8 AS at,
               CASE WHEN i.status = 'paid' THEN i.amount_paid ELSE i.amount_due END AS amount,
               CASE WHEN i.status = 'paid' THEN i.amount_paid ELSE i.amount_due END AS list_amount,
               i.currency, i.status, i.number, i.hosted_invoice_url AS invoice_url,
               (SELECT c.receipt_url FROM charges c WHERE c.invoice_id = i.id AND c.user_id = $1
                ORDER BY c.stripe_created_at DESC LIMIT 1) AS receipt_url
        FROM invoices i LEFT JOIN subscriptions s ON s.id = i.subscription_id
        WHERE i.user_id = $1 AND i.subscription_id IS NOT NULL
        UNION ALL
        SELECT k.id, k.mode, k.item_name, '',
               extract(epoch FROM coalesce(k.paid_at, k.failed_at, k.created_at))::int8,
               coalesce(k.amount_paid, k.amount), k.amount, k.currency, k.status, i.number,
               i.hosted_invoice_url,
               (SELECT c.receipt_url FROM charges c WHERE c.payment_intent = k.payment_intent
                  AND c.user_id = $1 ORDER BY c.stripe_created_at DESC LIMIT 1)
        FROM checkout_sessions k LEFT JOIN invoices i ON i.id = k.invoice_id AND i.user_id = $1
        WHERE k.user_id = $1 AND k.mode = 'payment' AND k.status <> 'open'
    ) p
    WHERE ($3::text IS NULL OR (p.at, p.id) < ($2::int8, $3::text))
      AND ($5::text IS NULL OR (p.at, p.id) > ($4::int8, $5::text))
    ORDER BY CASE WHEN $5::text IS NULL THEN -p.at ELSE p.at END,
             CASE WHEN $5::text IS NULL THEN p.id END DESC, CASE WHEN $5::text IS NOT NULL THEN p.id END
    LIMIT $6";

/// The ledger of user `$1` with running balances; `$7`: older than id; `$8`: newer than; `$9`:
/// how many. Columns named like `LedgerEntry`'s fields.
const LEDGER_SQL: &str = "SELECT * FROM (
        SELECT id, delta, reason, reference, note,
               (extract(epoch FROM created_at) * 1000)::int8 AS created_at_ms,
               sum(delta) OVER (ORDER BY id)::int8 AS balance_after
        FROM credit_ledger WHERE user_id = $1) l
    WHERE ($7::int8 IS NULL OR l.id < $7) AND ($8::int8 IS NULL OR l.id > $8)
    ORDER BY CASE WHEN $8::int8 IS NULL THEN -l.id ELSE l.id END
    LIMIT $9";

pub async fn pages(
    db: &Db,
    user_id: UserId,
    payments: (&Keyset<(i64, String)>, i64),
    ledger: (&Keyset<i64>, i64),
) -> Result<PaymentPages, AppError> {
    let sql = format!(
        "SELECT 'payment', row_to_json(p)::text FROM ({PAYMENTS_SQL}) p
         UNION ALL SELECT 'ledger', row_to_json(l)::text FROM ({LEDGER_SQL}) l"
    );
    let (before_at, before_id) = payments.0.before().cloned().unzip();
    let (after_at, after_id) = payments.0.after().cloned().unzip();
    let (ledger_before, ledger_after) = (ledger.0.before().copied(), ledger.0.after().copied());
    let (payments_limit, ledger_limit) = (payments.1 + 1, ledger.1 + 1);
    let rows = db
        .read(
            &sql,
            &[
                (&user_id, Type::INT8),
                (&before_at, Type::INT8),
                (&before_id, Type::TEXT),
                (&after_at, Type::INT8),
                (&after_id, Type::TEXT),
                (&payments_limit, Type::INT8),
                (&ledger_before, Type::INT8),
                (&ledger_after, Type::INT8),
                (&ledger_limit, Type::INT8),
            ],
        )
        .await?;
    assemble(rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, String>(1))), payments.0, ledger.0)
}

/// Sorts the tagged JSON rows into their lists, in each list's keyset order (UNION ALL keeps
/// none). Pure, so it is tested natively.
fn assemble(
    rows: impl Iterator<Item = (String, String)>,
    payments: &Keyset<(i64, String)>,
    ledger: &Keyset<i64>,
) -> Result<PaymentPages, AppError> {
    let mut pages = PaymentPages::default();
    for (part, json) in rows {
        let bad = |e: serde_json::Error| AppError::internal(format!("billing {part} row: {e}: {json}"));
        match part.as_str() {
            "payment" => pages.payments.push(serde_json::from_str(&json).map_err(bad)?),
            "ledger" => pages.ledger.push(serde_json::from_str(&json).map_err(bad)?),
            other => return Err(AppError::internal(format!("billing: unknown part {other}"))),
        }
    }
    pages.payments.sort_by(|a, b| (b.at, &b.id).cmp(&(a.at, &a.id)));
    if let Keyset::After(_) = payments {
        pages.payments.reverse();
    }
    pages.ledger.sort_by_key(|l| std::cmp::Reverse(l.id));
    if let Keyset::After(_) = ledger {
        pages.ledger.reverse();
    }
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(id: i64) -> (String, String) {
        let json = format!(
            r#"{{"id":{id},"delta":1,"reason":"welcome","reference":"r{id}","note":null,"created_at_ms":1,"balance_after":{id}}}"#
        );
        ("ledger".into(), json)
    }

    fn payment(id: &str, at: i64) -> (String, String) {
        let json = format!(
            r#"{{"id":"{id}","kind":"payment","item":"50 credit pack","billing_reason":"","at":{at},"amount":400,"list_amount":500,"currency":"usd","status":"paid","number":"N-1","invoice_url":"https://invoice.test/i","receipt_url":null,"refunded":0,"charged_back":false}}"#
        );
        ("payment".into(), json)
    }

    #[test]
    fn each_list_comes_back_in_its_keysets_order() {
        let rows = vec![ledger(3), payment("cs_a", 10), ledger(5), payment("in_b", 20), payment("cs_c", 10)];
        let p = assemble(rows.clone().into_iter(), &Keyset::Newest, &Keyset::Newest).unwrap();
        assert_eq!(p.ledger.iter().map(|l| l.id).collect::<Vec<_>>(), [5, 3]);
        assert_eq!(p.payments.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["in_b", "cs_c", "cs_a"]);
        assert_eq!(p.payments[0].receipt_url, None);
        let p = assemble(rows.into_iter(), &Keyset::After((1, "x".into())), &Keyset::After(1)).unwrap();
        assert_eq!(p.ledger.iter().map(|l| l.id).collect::<Vec<_>>(), [3, 5], "oldest first after a key");
        assert_eq!(p.payments[0].id, "cs_a");
    }

    #[test]
    fn a_malformed_row_names_its_part() {
        let err =
            assemble(vec![("payment".into(), "{}".into())].into_iter(), &Keyset::Newest, &Keyset::Newest)
                .unwrap_err();
        assert!(err.to_string().contains("billing payment row"), "{err}");
    }
}
