//! The operator audit log (`admin_audit`, V11) and what operators change on an account
//! (suspension). Every write here runs inside the transaction of the action it records.

use super::Db;
use crate::domain::console::AuditRow;
use crate::domain::console::Operator;
use crate::domain::keyset::Keyset;
use crate::domain::UserId;
use crate::error::AppError;
use tokio_postgres::types::Type;

/// What an operator did (the `action` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Grant,
    Deduct,
    Suspend,
    Restore,
    Replay,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Grant => "grant",
            Action::Deduct => "deduct",
            Action::Suspend => "suspend",
            Action::Restore => "restore",
            Action::Replay => "replay",
        }
    }
}

pub async fn record(
    db: &Db,
    by: Operator<'_>,
    action: Action,
    user_id: Option<UserId>,
    detail: &str,
) -> Result<(), AppError> {
    db.execute(
        "INSERT INTO admin_audit (admin_id, admin_email, action, user_id, detail) VALUES ($1, $2, $3, $4, $5)",
        &[
            (&by.id, Type::INT8),
            (&by.email, Type::TEXT),
            (&action.as_str(), Type::TEXT),
            (&user_id, Type::INT8),
            (&detail, Type::TEXT),
        ],
    )
    .await?;
    Ok(())
}

/// The newest operator actions (on one account, or on all), newest first.
pub async fn recent(db: &Db, user_id: Option<UserId>, limit: i64) -> Result<Vec<AuditRow>, AppError> {
    page(db, user_id, &Keyset::Newest, limit).await
}

/// Up to `limit` operator actions (on one account, or on all) from where `keyset` says, in its
/// order: newest first, or (`After`) oldest first from the key (`keyset::page_of` turns them).
pub async fn page(
    db: &Db,
    user_id: Option<UserId>,
    keyset: &Keyset<i64>,
    limit: i64,
) -> Result<Vec<AuditRow>, AppError> {
    let order = if keyset.after().is_some() { "ASC" } else { "DESC" };
    let sql = format!(
        "SELECT a.id, to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), a.admin_email,
                a.action, a.user_id,
                coalesce(u.email, CASE WHEN u.id IS NULL THEN '' ELSE '(deleted account #' || u.id || ')' END),
                a.detail
         FROM admin_audit a LEFT JOIN users u ON u.id = a.user_id
         WHERE ($1::int8 IS NULL OR a.user_id = $1)
           AND ($3::int8 IS NULL OR a.id < $3) AND ($4::int8 IS NULL OR a.id > $4)
         ORDER BY a.id {order} LIMIT $2"
    );
    let (before, after) = (keyset.before(), keyset.after());
    let rows = db
        .read(
            &sql,
            &[(&user_id, Type::INT8), (&limit, Type::INT8), (&before, Type::INT8), (&after, Type::INT8)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| AuditRow {
            id: r.get(0),
            at: r.get(1),
            operator: r.get(2),
            action: r.get(3),
            user_id: r.get(4),
            account: r.get(5),
            detail: r.get(6),
        })
        .collect())
}

/// Suspends a live account; `false` when it was suspended already (or is deleted).
pub async fn suspend(db: &Db, user_id: UserId, reason: &str) -> Result<bool, AppError> {
    let rows = db
        .query(
            "UPDATE users SET suspended_at = now(), suspended_reason = $2, updated_at = now()
             WHERE id = $1 AND suspended_at IS NULL AND deleted_at IS NULL RETURNING id",
            &[(&user_id, Type::INT8), (&reason, Type::TEXT)],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// Lifts a suspension; `false` when the account was not suspended.
pub async fn restore(db: &Db, user_id: UserId) -> Result<bool, AppError> {
    let rows = db
        .query(
            "UPDATE users SET suspended_at = NULL, suspended_reason = NULL, updated_at = now()
             WHERE id = $1 AND suspended_at IS NOT NULL RETURNING id",
            &[(&user_id, Type::INT8)],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// Whether an adjustment with this ledger reference was written already (a form sent twice).
pub async fn adjustment_made(db: &Db, reference: &str) -> Result<bool, AppError> {
    let row = db
        .query_opt(
            "SELECT 1 FROM credit_ledger WHERE reason = 'adjustment' AND reference = $1",
            &[(&reference, Type::TEXT)],
        )
        .await?;
    Ok(row.is_some())
}
