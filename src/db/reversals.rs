//! Holds: disputes (open, or lost) and suspensions put an account's paid features on hold. The
//! writes of refunds and disputes are the webhook's steps (`db::reversal_event`).

use super::Db;
use crate::domain::Credits;
use crate::domain::UserId;
use crate::error::AppError;
use tokio_postgres::types::Type;

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
