//! Billing rows: Stripe customers, our Checkout Sessions, subscriptions and invoices. Times go
//! in and out as Unix seconds (Stripe's unit). Every write here is safe to repeat and safe to
//! receive out of order: each statement says what it may overwrite.

use super::states::{column, words};
use super::{Db, Param};
use crate::domain::billing::{Checkout, CheckoutMode, CheckoutStatus, InvoiceStatus, SubscriptionRecord};
use crate::domain::Credits;
use crate::domain::UserId;
use crate::error::AppError;
use tokio_postgres::types::Type;
use tokio_postgres::Row;

pub async fn customer_of(db: &Db, user_id: UserId) -> Result<Option<String>, AppError> {
    let row = db
        .query_opt(
            "SELECT stripe_customer_id FROM billing_customers WHERE user_id = $1",
            &[(&user_id, Type::INT8)],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Stores the user's customer id unless one is stored already; answers the one that is.
///
/// One statement, whatever a query cache or a race does: the insert's `ON CONFLICT DO NOTHING`
/// has no target, so both unique indexes are arbiters (two first checkouts of one user get the
/// same customer from Stripe, and the loser conflicts on the customer id as well as the user;
/// with only `(user_id)` as arbiter that second index raised a unique violation, a 500). The
/// stored row comes back from the same statement, which writes and so is never served from
/// Hyperdrive's cache (a separate read after the insert could be). A conflict with a row
/// committed while this statement waited is not in its snapshot: then the statement runs once
/// more, and sees it.
pub async fn save_customer(db: &Db, user_id: UserId, customer_id: &str) -> Result<String, AppError> {
    const SAVE: &str = "WITH inserted AS (
             INSERT INTO billing_customers (user_id, stripe_customer_id) VALUES ($1, $2)
             ON CONFLICT DO NOTHING RETURNING stripe_customer_id)
         SELECT stripe_customer_id FROM inserted
         UNION ALL
         SELECT stripe_customer_id FROM billing_customers
         WHERE user_id = $1 AND NOT EXISTS (SELECT 1 FROM inserted)";
    for _ in 0..2 {
        let row = db.query_opt(SAVE, &[(&user_id, Type::INT8), (&customer_id, Type::TEXT)]).await?;
        if let Some(row) = row {
            return Ok(row.get(0));
        }
    }
    Err(AppError::internal(format!("customer {customer_id} is stored for another user than {user_id}")))
}

pub async fn user_of_customer(db: &Db, customer_id: &str) -> Result<Option<UserId>, AppError> {
    let row = db
        .query_opt(
            "SELECT user_id FROM billing_customers WHERE stripe_customer_id = $1",
            &[(&customer_id, Type::TEXT)],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Whose a Stripe object is, in one statement: the user we created `customer` for, else the
/// user `named` (our Checkout's metadata, for a customer made elsewhere) if that user exists.
pub async fn owner(
    db: &Db,
    customer: Option<&str>,
    named: Option<UserId>,
) -> Result<Option<UserId>, AppError> {
    let row = db
        .query_one(
            "SELECT coalesce((SELECT user_id FROM billing_customers WHERE stripe_customer_id = $1),
                             (SELECT id FROM users WHERE id = $2))",
            &[(&customer, Type::TEXT), (&named, Type::INT8)],
        )
        .await?;
    Ok(row.get(0))
}

/// Whether a user row exists (deleted accounts included: their payments still belong to them).
pub async fn user_exists(db: &Db, user_id: UserId) -> Result<bool, AppError> {
    Ok(db.query_opt("SELECT 1 FROM users WHERE id = $1", &[(&user_id, Type::INT8)]).await?.is_some())
}

pub struct NewCheckout<'a> {
    pub id: &'a str,
    pub user_id: UserId,
    pub mode: CheckoutMode,
    pub price_id: &'a str,
    pub item_name: &'a str,
    pub credits: Credits,
    pub amount: i64,
    pub currency: &'a str,
}

pub async fn insert_checkout(db: &Db, c: &NewCheckout<'_>) -> Result<(), AppError> {
    db.execute(
        "INSERT INTO checkout_sessions (id, user_id, mode, price_id, item_name, credits, amount, currency)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
        &[
            (&c.id, Type::TEXT),
            (&c.user_id, Type::INT8),
            (&c.mode, Type::TEXT),
            (&c.price_id, Type::TEXT),
            (&c.item_name, Type::TEXT),
            (&c.credits, Type::INT8),
            (&c.amount, Type::INT8),
            (&c.currency, Type::TEXT),
        ],
    )
    .await?;
    Ok(())
}

const CHECKOUT_COLUMNS: &str = "id, user_id, mode, price_id, item_name, credits, amount, currency, status,
    extract(epoch FROM updated_at)::int8";

fn checkout_row(r: &Row) -> Result<Checkout, AppError> {
    Ok(Checkout {
        id: r.get(0),
        user_id: r.get(1),
        mode: column(r, 2)?,
        price_id: r.get(3),
        item_name: r.get(4),
        credits: r.get(5),
        amount: r.get(6),
        currency: r.get(7),
        status: column(r, 8)?,
        updated_at: r.get(9),
    })
}

pub async fn checkout(db: &Db, id: &str) -> Result<Option<Checkout>, AppError> {
    let sql = format!("SELECT {CHECKOUT_COLUMNS} FROM checkout_sessions WHERE id = $1");
    db.query_opt(&sql, &[(&id, Type::TEXT)]).await?.as_ref().map(checkout_row).transpose()
}

/// Moves a checkout to `status` where the move is allowed (`CheckoutStatus::reachable_from`:
/// paid is final; a failure or an "awaiting payment" never overwrites a payment). Answers
/// whether it moved.
pub async fn set_checkout_status(db: &Db, id: &str, status: CheckoutStatus) -> Result<bool, AppError> {
    let from = words(status.reachable_from());
    let rows = db
        .query(
            SET_CHECKOUT_STATUS_SQL,
            &[(&id, Type::TEXT), (&status, Type::TEXT), (&from, Type::TEXT_ARRAY)],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// `set_checkout_status`'s statement: `$1` the session, `$2` the status, `$3` the statuses it
/// may leave (`words(status.reachable_from())`).
pub const SET_CHECKOUT_STATUS_SQL: &str = "\
UPDATE checkout_sessions SET status = $2, updated_at = now(),
    paid_at = CASE WHEN $2 = 'paid' THEN now() ELSE paid_at END,
    failed_at = CASE WHEN $2 = 'payment_failed' THEN now() ELSE failed_at END
WHERE id = $1 AND status = ANY($3) RETURNING id";

/// Records what paid for a pack checkout: the payment intent (a refund or dispute names it),
/// the amount actually paid, after discounts, and the invoice Checkout made for it. Written
/// once; a replay changes nothing. `$1` the session, then those three.
pub const RECORD_CHECKOUT_PAYMENT_SQL: &str = "\
UPDATE checkout_sessions SET payment_intent = coalesce(payment_intent, $2),
    amount_paid = coalesce(amount_paid, $3), invoice_id = coalesce(invoice_id, $4)
WHERE id = $1";

/// The paid pack checkout that `payment_intent` paid for: (session id, user id).
pub async fn checkout_paid_by(db: &Db, payment_intent: &str) -> Result<Option<(String, UserId)>, AppError> {
    let row = db
        .query_opt(
            "SELECT id, user_id FROM checkout_sessions WHERE payment_intent = $1 AND status = 'paid'",
            &[(&payment_intent, Type::TEXT)],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// The owner of a paid subscription invoice we recorded (a pack's invoice is not the purchase:
/// its checkout is).
pub async fn paid_invoice_owner(db: &Db, id: &str) -> Result<Option<UserId>, AppError> {
    let row = db
        .query_opt(
            "SELECT user_id FROM invoices WHERE id = $1 AND status = 'paid' AND subscription_id IS NOT NULL",
            &[(&id, Type::TEXT)],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// The user's checkouts that need a word on the billing page (awaiting or failed payment),
/// newest first, from the last 30 days.
pub async fn checkouts_to_mention(db: &Db, user_id: UserId) -> Result<Vec<Checkout>, AppError> {
    let sql = format!(
        "SELECT {CHECKOUT_COLUMNS} FROM checkout_sessions
         WHERE user_id = $1 AND status IN ('awaiting_payment', 'payment_failed')
           AND updated_at > now() - interval '30 days'
         ORDER BY updated_at DESC LIMIT 5"
    );
    db.read(&sql, &[(&user_id, Type::INT8)]).await?.iter().map(checkout_row).collect()
}

/// Stores a subscription state read from Stripe (`subscription_params`), unless a newer read
/// is stored already or the stored state is final (canceled, incomplete_expired). Answers its
/// id when it was stored. (A macro, so that a webhook's statement can take it as a CTE.)
macro_rules! save_subscription_sql {
    () => {
        "INSERT INTO subscriptions (id, user_id, stripe_customer_id, price_id, plan, status,
    cancel_at_period_end, current_period_start, current_period_end, cancel_at, canceled_at,
    ended_at, stripe_created_at, synced_at_ms)
VALUES ($1, $2, $3, $4, $5, $6, $7, to_timestamp($8), to_timestamp($9), to_timestamp($10),
    to_timestamp($11), to_timestamp($12), to_timestamp($13), $14)
ON CONFLICT (id) DO UPDATE SET
    stripe_customer_id = EXCLUDED.stripe_customer_id, price_id = EXCLUDED.price_id,
    plan = EXCLUDED.plan, status = EXCLUDED.status,
    cancel_at_period_end = EXCLUDED.cancel_at_period_end,
    current_period_start = EXCLUDED.current_period_start,
    current_period_end = EXCLUDED.current_period_end, cancel_at = EXCLUDED.cancel_at,
    canceled_at = EXCLUDED.canceled_at, ended_at = EXCLUDED.ended_at,
    synced_at_ms = EXCLUDED.synced_at_ms, updated_at = now()
WHERE subscriptions.synced_at_ms <= EXCLUDED.synced_at_ms
  AND (subscriptions.status NOT IN ('canceled', 'incomplete_expired')
       OR EXCLUDED.status IN ('canceled', 'incomplete_expired'))
RETURNING id"
    };
}
pub(crate) use save_subscription_sql;
pub const SAVE_SUBSCRIPTION_SQL: &str = save_subscription_sql!();

/// `SAVE_SUBSCRIPTION_SQL`'s `$1`…`$14`.
pub fn subscription_params(s: &SubscriptionRecord) -> [Param<'_>; 14] {
    [
        (&s.id, Type::TEXT),
        (&s.user_id, Type::INT8),
        (&s.customer_id, Type::TEXT),
        (&s.price_id, Type::TEXT),
        (&s.plan, Type::TEXT),
        (&s.status, Type::TEXT),
        (&s.cancel_at_period_end, Type::BOOL),
        (&s.period_start, Type::INT8),
        (&s.period_end, Type::INT8),
        (&s.cancel_at, Type::INT8),
        (&s.canceled_at, Type::INT8),
        (&s.ended_at, Type::INT8),
        (&s.created, Type::INT8),
        (&s.synced_at_ms, Type::INT8),
    ]
}

/// Named like `SubscriptionRecord`'s fields (db::dashboard reads them as JSON).
const SUBSCRIPTION_COLUMNS: &str =
    "id, user_id, stripe_customer_id AS customer_id, price_id, plan, status, cancel_at_period_end,
    extract(epoch FROM current_period_start)::int8 AS period_start,
    extract(epoch FROM current_period_end)::int8 AS period_end,
    extract(epoch FROM cancel_at)::int8 AS cancel_at, extract(epoch FROM canceled_at)::int8 AS canceled_at,
    extract(epoch FROM ended_at)::int8 AS ended_at, extract(epoch FROM stripe_created_at)::int8 AS created,
    synced_at_ms";

fn subscription_row(r: &Row) -> Result<SubscriptionRecord, AppError> {
    Ok(SubscriptionRecord {
        id: r.get(0),
        user_id: r.get(1),
        customer_id: r.get(2),
        price_id: r.get(3),
        plan: column(r, 4)?,
        status: column(r, 5)?,
        cancel_at_period_end: r.get(6),
        period_start: r.get(7),
        period_end: r.get(8),
        cancel_at: r.get(9),
        canceled_at: r.get(10),
        ended_at: r.get(11),
        created: r.get(12),
        synced_at_ms: r.get(13),
    })
}

/// The subscriptions of user `$1`, newest first (`SUBSCRIPTION_COLUMNS`).
pub fn subscriptions_of_sql() -> String {
    format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE user_id = $1
         ORDER BY stripe_created_at DESC, id DESC LIMIT 20"
    )
}

/// The user's subscriptions, newest first.
pub async fn subscriptions_of(db: &Db, user_id: UserId) -> Result<Vec<SubscriptionRecord>, AppError> {
    let sql = subscriptions_of_sql();
    db.read(&sql, &[(&user_id, Type::INT8)]).await?.iter().map(subscription_row).collect()
}

pub async fn subscription(db: &Db, id: &str) -> Result<Option<SubscriptionRecord>, AppError> {
    let sql = format!("SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = $1");
    db.query_opt(&sql, &[(&id, Type::TEXT)]).await?.as_ref().map(subscription_row).transpose()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRecord {
    pub id: String,
    pub user_id: UserId,
    pub subscription_id: Option<String>,
    pub billing_reason: Option<String>,
    pub status: InvoiceStatus,
    pub amount_due: i64,
    pub amount_paid: i64,
    pub currency: String,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
}

/// Records an invoice's payment outcome (its parameters: `record_invoice_params`). A payment
/// overrides an earlier failure (Stripe's retry succeeded); a failure never overrides a payment
/// (it arrived late). Answers its id when it changed. (A macro, so that a webhook's statement
/// can take it as a CTE.)
macro_rules! record_invoice_sql {
    () => {
        "INSERT INTO invoices (id, user_id, subscription_id, billing_reason, status, amount_due, amount_paid, currency,
    period_start, period_end)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, to_timestamp($9), to_timestamp($10))
ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, amount_due = EXCLUDED.amount_due,
    amount_paid = EXCLUDED.amount_paid, updated_at = now()
WHERE invoices.status <> 'paid' AND invoices.status <> EXCLUDED.status
RETURNING id"
    };
}
pub(crate) use record_invoice_sql;
pub const RECORD_INVOICE_SQL: &str = record_invoice_sql!();

pub fn record_invoice_params(i: &InvoiceRecord) -> [Param<'_>; 10] {
    [
        (&i.id, Type::TEXT),
        (&i.user_id, Type::INT8),
        (&i.subscription_id, Type::TEXT),
        (&i.billing_reason, Type::TEXT),
        (&i.status, Type::TEXT),
        (&i.amount_due, Type::INT8),
        (&i.amount_paid, Type::INT8),
        (&i.currency, Type::TEXT),
        (&i.period_start, Type::INT8),
        (&i.period_end, Type::INT8),
    ]
}

/// Failed invoices of the user's live subscriptions that no later payment has settled:
/// (invoice id, amount due, currency).
pub async fn unsettled_invoices(db: &Db, user_id: UserId) -> Result<Vec<(String, i64, String)>, AppError> {
    let rows = db
        .read(
            "SELECT f.id, f.amount_due, f.currency FROM invoices f
             JOIN subscriptions s ON s.id = f.subscription_id
             WHERE f.user_id = $1 AND f.status = 'payment_failed'
               AND s.status NOT IN ('canceled', 'incomplete_expired')
               AND NOT EXISTS (
                   SELECT 1 FROM invoices p
                   WHERE p.subscription_id = f.subscription_id AND p.status = 'paid'
                     AND p.period_end >= f.period_end)
             ORDER BY f.created_at DESC",
            &[(&user_id, Type::INT8)],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
}
