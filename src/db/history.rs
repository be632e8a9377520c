//! A user's history: every tool's runs together, newest first, a page at a time. Each tool's
//! db module gives its rows (`history_sql`); `rows_of` is the registry's db part.

use super::runs::{self, StaleAfter};
use super::states::column;
use super::{generations, transcripts, Db, Param};
use crate::domain::tool::{RunSummary, Tool};
use crate::domain::UserId;
use crate::error::AppError;
use tokio_postgres::types::Type;
use tokio_postgres::Row;

/// A tool's rows of user `$1`: columns `tool, id, title, status, credits, cut_short, created_at`.
fn rows_of(tool: Tool) -> String {
    match tool {
        Tool::AgentWrite => generations::history_sql(),
        Tool::PodScribe => transcripts::history_sql(),
    }
}

/// Every run of user `$1`, of every tool (columns as `rows_of`), unordered.
pub fn runs_sql() -> String {
    let runs: Vec<String> = Tool::ALL.into_iter().map(rows_of).collect();
    runs.join("\n         UNION ALL\n         ")
}

/// Runs of user `$1`: at most `$2` after skipping `$3`, newest first; columns named like
/// `RunSummary`'s fields (db::dashboard reads the same rows as JSON).
pub fn page_sql() -> String {
    format!(
        "SELECT tool, id, title, status, cut_short,
                (extract(epoch FROM created_at) * 1000)::int8 AS created_at_ms
         FROM ({}) runs
         ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
        runs_sql()
    )
}

/// Up to `limit` runs after skipping `offset`, newest first (ties broken by id, so pages
/// never repeat or skip one).
pub async fn page(db: &Db, user_id: UserId, limit: i64, offset: i64) -> Result<Vec<RunSummary>, AppError> {
    let sql = page_sql();
    let rows = db.read(&sql, &[(&user_id, Type::INT8), (&limit, Type::INT8), (&offset, Type::INT8)]).await?;
    summaries(&rows)
}

/// The user's abandoned runs settled (`runs::SWEEP_SQL`), then `page`: sent together, one round
/// trip. The page is read after the sweep, so it shows what the sweep settled.
pub async fn page_after_sweep(
    db: &Db,
    user_id: UserId,
    limit: i64,
    offset: i64,
    stale: StaleAfter,
) -> Result<Vec<RunSummary>, AppError> {
    let owner = Some(user_id);
    let sweep = runs::sweep_params(&owner, &stale);
    let sql = page_sql();
    let page_params: [Param; 3] = [(&user_id, Type::INT8), (&limit, Type::INT8), (&offset, Type::INT8)];
    let mut answers = db.pipeline(&[(&runs::SWEEP_SQL, &sweep), (&sql, &page_params)]).await.into_iter();
    answers.next().transpose()?;
    match answers.next() {
        Some(Ok(rows)) => summaries(&rows),
        // A multi-row read through Hyperdrive may need `Db::read`'s retry.
        _ => page(db, user_id, limit, offset).await,
    }
}

fn summaries(rows: &[Row]) -> Result<Vec<RunSummary>, AppError> {
    rows.iter()
        .map(|r| {
            Ok(RunSummary {
                tool: column(r, 0)?,
                id: r.get(1),
                title: r.get(2),
                status: column(r, 3)?,
                cut_short: r.get(4),
                created_at_ms: r.get(5),
            })
        })
        .collect()
}
