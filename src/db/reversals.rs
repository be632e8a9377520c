//! Money that came back: refunded or disputed charges (with the credits taken back for them, or
//! owed and not recoverable), and disputes (which put an account's paid features on hold).
//! Every write is safe to repeat and to receive out of order: a refunded amount only grows, a
//! lost dispute stays lost, and a closed dispute is never reopened.

use super::Db;
use crate::domain::Credits;
use crate::domain::UserId;
use crate::error::AppError;
use tokio_postgres::types::Type;

/// A charge and the purchase it paid for (`cs_…` pack checkout or `in_…` invoice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRecord {
    pub charge_id: String,
    pub user_id: UserId,
    pub purchase: String,
    pub amount: i64,
    pub currency: String,
}

/// What has come back on a charge, and what was taken back for it so far (row locked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reversal {
    pub amount: i64,
    pub amount_refunded: i64,
    pub dispute_lost: bool,
    pub credits_taken: Credits,
    pub credits_unrecovered: Credits,
}

/// Records that `amount_refunded` (cumulative) or a lost dispute came back on the charge, then
/// answers the row locked for this transaction. A smaller (older) refunded amount changes
/// nothing; `lost` is sticky.
pub async fn record(
    db: &Db,
    c: &ChargeRecord,
    amount_refunded: i64,
    lost: bool,
) -> Result<Reversal, AppError> {
    let row = db
        .query_one(
            "INSERT INTO charge_reversals (charge_id, user_id, purchase, amount, currency, amount_refunded,
                 dispute_lost)
             VALUES ($1, $2, $3, $4, lower($5), $6, $7)
             ON CONFLICT (charge_id) DO UPDATE SET
                 amount_refunded = GREATEST(charge_reversals.amount_refunded, EXCLUDED.amount_refunded),
                 dispute_lost = charge_reversals.dispute_lost OR EXCLUDED.dispute_lost, updated_at = now()
             RETURNING amount, amount_refunded, dispute_lost, credits_taken, credits_unrecovered",
            &[
                (&c.charge_id, Type::TEXT),
                (&c.user_id, Type::INT8),
                (&c.purchase, Type::TEXT),
                (&c.amount, Type::INT8),
                (&c.currency, Type::TEXT),
                (&amount_refunded, Type::INT8),
                (&lost, Type::BOOL),
            ],
        )
        .await?;
    Ok(Reversal {
        amount: row.get(0),
        amount_refunded: row.get(1),
        dispute_lost: row.get(2),
        credits_taken: row.get(3),
        credits_unrecovered: row.get(4),
    })
}

/// Adds to what was taken back (and what could not be) for the charge.
pub async fn add_taken(
    db: &Db,
    charge_id: &str,
    taken: Credits,
    unrecovered: Credits,
) -> Result<(), AppError> {
    db.execute(
        "UPDATE charge_reversals SET credits_taken = credits_taken + $2,
             credits_unrecovered = credits_unrecovered + $3, updated_at = now()
         WHERE charge_id = $1",
        &[(&charge_id, Type::TEXT), (&taken, Type::INT8), (&unrecovered, Type::INT8)],
    )
    .await?;
    Ok(())
}

/// The credits a purchase granted: its pack grant, or its invoice's allowance grant.
pub async fn credits_granted(db: &Db, purchase: &str) -> Result<Credits, AppError> {
    let row = db
        .query_one(
            "SELECT coalesce(sum(delta), 0)::int8 FROM credit_ledger
             WHERE reason IN ('purchase', 'subscription_allowance') AND reference = $1",
            &[(&purchase, Type::TEXT)],
        )
        .await?;
    Ok(row.get(0))
}

pub struct DisputeRecord<'a> {
    pub id: &'a str,
    pub charge_id: &'a str,
    pub user_id: UserId,
    pub amount: i64,
    pub currency: &'a str,
    pub status: &'a str,
    pub closed: bool,
}

/// Stores a dispute's state unless it is already closed. Answers whether it changed.
pub async fn save_dispute(db: &Db, d: &DisputeRecord<'_>) -> Result<bool, AppError> {
    let rows = db
        .query(
            "INSERT INTO disputes (id, charge_id, user_id, amount, currency, status, closed)
             VALUES ($1, $2, $3, $4, lower($5), $6, $7)
             ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, closed = EXCLUDED.closed,
                 amount = EXCLUDED.amount, updated_at = now()
             WHERE NOT disputes.closed
             RETURNING id",
            &[
                (&d.id, Type::TEXT),
                (&d.charge_id, Type::TEXT),
                (&d.user_id, Type::INT8),
                (&d.amount, Type::INT8),
                (&d.currency, Type::TEXT),
                (&d.status, Type::TEXT),
                (&d.closed, Type::BOOL),
            ],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// Whether the user (an SQL expression) is on hold: a dispute of theirs is open, or was lost.
pub fn on_hold_sql(user: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM disputes d WHERE d.user_id = {user} AND (NOT d.closed OR d.status = 'lost'))"
    )
}

/// A statement for pipelined transactions (`Db::atomically`) that fails when user `$1` is on
/// hold (suspended, or a payment disputed), and with it the whole transaction; no row when not.
/// Plain SQL cannot raise an error, so it casts a text naming the account to int (SQLSTATE
/// 22P02): a column in the text keeps the planner from folding it, so it is evaluated only for
/// a row that matched. The cause is read afterwards with `hold`, on that path only.
pub fn hold_guard_sql() -> String {
    format!(
        "SELECT ('account on hold: ' || u.id)::int FROM users u
         WHERE u.id = $1 AND (u.suspended_at IS NOT NULL OR {})",
        on_hold_sql("u.id")
    )
}

/// Why an account's paid features (running tools, buying) are held, if they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// An operator suspended the account.
    Suspended,
    /// A payment of theirs is disputed (open, or lost).
    Dispute,
}

/// The one check behind both causes of a hold; a suspension is named first.
pub async fn hold(db: &Db, user_id: UserId) -> Result<Option<Hold>, AppError> {
    Ok(balance_and_hold(db, user_id).await?.1)
}

/// The balance and the hold in one statement (the tool pages show both).
pub async fn balance_and_hold(db: &Db, user_id: UserId) -> Result<(Credits, Option<Hold>), AppError> {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND suspended_at IS NOT NULL), {},
                coalesce((SELECT balance FROM credit_balances WHERE user_id = $1), 0)",
        on_hold_sql("$1")
    );
    let row = db.query_one(&sql, &[(&user_id, Type::INT8)]).await?;
    let hold = match (row.get(0), row.get(1)) {
        (true, _) => Some(Hold::Suspended),
        (false, true) => Some(Hold::Dispute),
        _ => None,
    };
    Ok((row.get(2), hold))
}
