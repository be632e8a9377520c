//! A user's history: generations and transcripts together, newest first, a page at a time.

use super::Db;
use crate::error::AppError;
use tokio_postgres::types::Type;

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct HistoryItem {
    /// "agentwrite" or "podscribe".
    pub kind: String,
    pub id: String,
    /// The product name or the episode's file name.
    pub title: String,
    /// The run's status; `cut_short` for a finished run delivered shorter than asked for.
    pub status: String,
    pub created_at_ms: i64,
}

/// Items of user `$1`: at most `$2` after skipping `$3`, newest first; columns named like
/// `HistoryItem`'s fields (db::dashboard reads the same rows as JSON).
pub const PAGE_SQL: &str =
    "SELECT kind, id, title, status, (extract(epoch FROM created_at) * 1000)::int8 AS created_at_ms FROM (
         SELECT 'agentwrite' AS kind, id, product_name AS title,
                CASE WHEN status = 'done' AND cut_short IS NOT NULL THEN 'cut_short' ELSE status END AS status,
                created_at
         FROM generations WHERE user_id = $1
         UNION ALL
         SELECT 'podscribe', id, file_name,
                CASE WHEN status = 'done' AND cut_at_secs IS NOT NULL THEN 'cut_short' ELSE status END,
                created_at
         FROM transcripts WHERE user_id = $1
     ) items
     ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3";

/// Up to `limit` items after skipping `offset`, newest first (ties broken by id, so pages
/// never repeat or skip an item).
pub async fn page(db: &Db, user_id: i64, limit: i64, offset: i64) -> Result<Vec<HistoryItem>, AppError> {
    let rows =
        db.read(PAGE_SQL, &[(&user_id, Type::INT8), (&limit, Type::INT8), (&offset, Type::INT8)]).await?;
    Ok(rows
        .iter()
        .map(|r| HistoryItem {
            kind: r.get(0),
            id: r.get(1),
            title: r.get(2),
            status: r.get(3),
            created_at_ms: r.get(4),
        })
        .collect())
}
