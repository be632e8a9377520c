//! One account as the operator console shows it: its runs (generations, transcripts), its
//! purchases (checkouts and invoices) and its Stripe events. Its ledger is `credits::recent`.

use super::states::column;
use super::Db;
use crate::domain::console::{PurchaseRow, RunRow};
use crate::domain::tool::Tool;
use crate::domain::UserId;
use crate::error::AppError;
use tokio_postgres::types::Type;

/// The account's runs of every tool (db::history's rows), newest first.
pub async fn runs(db: &Db, user_id: UserId, limit: i64) -> Result<Vec<RunRow>, AppError> {
    let sql = format!(
        "SELECT tool, id, title, status, credits,
                to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
         FROM ({}) r
         ORDER BY created_at DESC, id LIMIT $2",
        super::history::runs_sql()
    );
    let rows = db.query(&sql, &[(&user_id, Type::INT8), (&limit, Type::INT8)]).await?;
    rows.iter()
        .map(|r| {
            Ok(RunRow {
                tool: column::<Tool>(r, 0)?.name().to_string(),
                id: r.get(1),
                what: r.get(2),
                // The stored word, as the operator reads it.
                status: r.get(3),
                credits: r.get(4),
                at: r.get(5),
            })
        })
        .collect()
}

pub async fn purchases(db: &Db, user_id: UserId, limit: i64) -> Result<Vec<PurchaseRow>, AppError> {
    let rows = db
        .query(
            "SELECT id, what, amount, currency, status,
                    to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
             FROM (SELECT id, item_name AS what, coalesce(amount_paid, amount) AS amount, lower(currency) AS currency,
                          status, created_at
                   FROM checkout_sessions WHERE user_id = $1
                   UNION ALL
                   SELECT id, 'Invoice (' || coalesce(billing_reason, 'other') || ')',
                          CASE WHEN status = 'paid' THEN amount_paid ELSE amount_due END, lower(currency),
                          status, created_at
                   FROM invoices WHERE user_id = $1) p
             ORDER BY created_at DESC, id LIMIT $2",
            &[(&user_id, Type::INT8), (&limit, Type::INT8)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| PurchaseRow {
            id: r.get(0),
            what: r.get(1),
            amount: r.get(2),
            currency: r.get(3),
            status: r.get(4),
            at: r.get(5),
        })
        .collect())
}
