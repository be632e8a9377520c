//! The credits ledger: every change to a balance is one statement that writes the ledger row
//! and the balance together, so they can never disagree, and a balance can never go negative
//! (the spend only happens `WHERE balance >= amount`, under the row lock; a CHECK backs it).
//!
//! The statements are public so the e2e suite can drive the exact SQL under real concurrency.

use super::states::column;
use super::Db;
use crate::domain::{Credits, UserId};
use crate::error::AppError;
use tokio_postgres::types::Type;

// Moved to the domain; named here too, where grants and spends take it.
pub use crate::domain::ledger::{LedgerEntry, Reason};

/// The grant as common table expressions (`entry`, then `granted`, which answers the new
/// balance): `GRANT_SQL`, and statements that grant and write something else with it
/// (`db::pack_payment`, `db::plan_event`), share one text. Without arguments the ledger row is
/// `$1`…`$5` (user, credits, reason, reference, note); otherwise `rows` gives it (a `VALUES` or a
/// `SELECT` of those five) and `user` names the user.
macro_rules! grant_ctes {
    () => {
        grant_ctes!("VALUES ($1, $2, $3, $4, $5)", "$1")
    };
    ($rows:literal, $user:literal) => {
        concat!(
            "entry AS (
    INSERT INTO credit_ledger (user_id, delta, reason, reference, note)
    ",
            $rows,
            "
    ON CONFLICT (reason, reference) DO NOTHING
    RETURNING delta
), granted AS (
    INSERT INTO credit_balances (user_id, balance)
    SELECT ",
            $user,
            ", delta FROM entry
    ON CONFLICT (user_id) DO UPDATE
        SET balance = credit_balances.balance + EXCLUDED.balance, updated_at = now()
    RETURNING balance
)"
        )
    };
}
pub(crate) use grant_ctes;

/// Adds `$2` credits once per (reason, reference): the ledger insert waits for a concurrent
/// insert of the same key and then does nothing, so the balance moves only with a new row.
pub const GRANT_SQL: &str = concat!("WITH ", grant_ctes!(), "\nSELECT balance FROM granted");

/// Takes `$2` credits only when the balance covers them; no row means it did not.
pub const SPEND_SQL: &str = "\
WITH charged AS (
    UPDATE credit_balances SET balance = balance - $2, updated_at = now()
    WHERE user_id = $1 AND balance >= $2
    RETURNING balance
)
INSERT INTO credit_ledger (user_id, delta, reason, reference, note)
SELECT $1, -$2, $3, $4, $5 FROM charged
RETURNING (SELECT balance FROM charged)";

/// Makes sure user `$1` has a balance row (0 if new), so that `SPEND_CHECKED_SQL` finds one.
pub const BALANCE_ROW_SQL: &str =
    "INSERT INTO credit_balances (user_id, balance) VALUES ($1, 0) ON CONFLICT (user_id) DO NOTHING";

/// Takes `$2` credits, unguarded: when the balance does not cover them, the balance's CHECK
/// (`credit_balances_non_negative`) refuses the statement and with it the whole transaction.
/// For pipelined transactions (`Db::atomically`), where no answer can be looked at before
/// `COMMIT`; run after `BALANCE_ROW_SQL` (without a row nothing would be taken).
pub const SPEND_CHECKED_SQL: &str = "\
WITH charged AS (
    UPDATE credit_balances SET balance = balance - $2, updated_at = now()
    WHERE user_id = $1
    RETURNING balance
)
INSERT INTO credit_ledger (user_id, delta, reason, reference, note)
SELECT $1, -$2, $3, $4, $5 FROM charged
RETURNING (SELECT balance FROM charged)";

/// The CHECK that keeps balances at or above zero.
pub const NON_NEGATIVE: &str = "credit_balances_non_negative";

/// What a grant did: the new balance, or nothing because it was applied before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granted {
    Now { balance: Credits },
    Already,
}

/// User `$1`'s balance row (none: 0).
pub const BALANCE_SQL: &str = "SELECT balance FROM credit_balances WHERE user_id = $1";

pub async fn balance(db: &Db, user_id: UserId) -> Result<Credits, AppError> {
    let row = db.query_opt(BALANCE_SQL, &[(&user_id, Type::INT8)]).await?;
    Ok(row.map(|r| r.get(0)).unwrap_or(Credits::ZERO))
}

/// The balance, its row locked until the transaction ends (so what it says can be spent).
/// Call inside a transaction.
pub async fn balance_locked(db: &Db, user_id: UserId) -> Result<Credits, AppError> {
    let row = db
        .query_opt(
            "SELECT balance FROM credit_balances WHERE user_id = $1 FOR UPDATE",
            &[(&user_id, Type::INT8)],
        )
        .await?;
    Ok(row.map(|r| r.get(0)).unwrap_or(Credits::ZERO))
}

/// Adds credits (amount > 0), once per (reason, reference).
pub async fn grant(
    db: &Db,
    user_id: UserId,
    amount: Credits,
    reason: Reason,
    reference: &str,
    note: Option<&str>,
) -> Result<Granted, AppError> {
    if !amount.is_positive() {
        return Err(AppError::internal(format!("credit grant of {amount} for {reference}")));
    }
    let row = db
        .query_opt(
            GRANT_SQL,
            &[
                (&user_id, Type::INT8),
                (&amount, Type::INT8),
                (&reason, Type::TEXT),
                (&reference, Type::TEXT),
                (&note, Type::TEXT),
            ],
        )
        .await?;
    Ok(match row {
        Some(r) => Granted::Now { balance: r.get(0) },
        None => Granted::Already,
    })
}

/// Takes credits (amount > 0) or answers `InsufficientCredits` and changes nothing.
pub async fn spend(
    db: &Db,
    user_id: UserId,
    amount: Credits,
    reason: Reason,
    reference: &str,
    note: Option<&str>,
) -> Result<Credits, AppError> {
    if !amount.is_positive() {
        return Err(AppError::internal(format!("credit spend of {amount} for {reference}")));
    }
    let row = db
        .query_opt(
            SPEND_SQL,
            &[
                (&user_id, Type::INT8),
                (&amount, Type::INT8),
                (&reason, Type::TEXT),
                (&reference, Type::TEXT),
                (&note, Type::TEXT),
            ],
        )
        .await?;
    match row {
        Some(r) => Ok(r.get(0)),
        None => Err(AppError::InsufficientCredits {
            needed: amount.get(),
            balance: balance(db, user_id).await?.get(),
        }),
    }
}

/// The newest ledger entries of user `$1` (at most `$2`), newest first, with running balances;
/// columns named like `LedgerEntry`'s fields (db::dashboard reads the same rows as JSON).
pub const RECENT_SQL: &str = "SELECT id, delta, reason, reference, note,
        (extract(epoch FROM created_at) * 1000)::int8 AS created_at_ms,
        sum(delta) OVER (ORDER BY id)::int8 AS balance_after
     FROM credit_ledger WHERE user_id = $1
     ORDER BY id DESC LIMIT $2";

/// The newest `limit` ledger entries of a user, newest first, with running balances.
pub async fn recent(db: &Db, user_id: UserId, limit: i64) -> Result<Vec<LedgerEntry>, AppError> {
    let rows = db.read(RECENT_SQL, &[(&user_id, Type::INT8), (&limit, Type::INT8)]).await?;
    rows.iter()
        .map(|r| {
            Ok(LedgerEntry {
                id: r.get(0),
                delta: r.get(1),
                reason: column(r, 2)?,
                reference: r.get(3),
                note: r.get(4),
                created_at_ms: r.get(5),
                balance_after: r.get(6),
            })
        })
        .collect()
}
