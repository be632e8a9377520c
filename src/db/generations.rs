//! AgentWrite generations. A row leaves `running` exactly once (every transition is guarded by
//! `status = 'running'`), so a late finisher and the stale-run sweep can never both settle it.

use super::states::{column, Stored};
use super::Db;
use crate::domain::brief::ProductBrief;
use crate::domain::copy::ProductCopy;
use crate::domain::tool::{RunStatus, Tool};
use crate::error::AppError;
use tokio_postgres::types::Type;
use tokio_postgres::Row;

#[derive(Debug, Clone)]
pub struct Generation {
    pub id: String,
    pub status: RunStatus,
    pub brief: ProductBrief,
    pub model: String,
    pub credits: i32,
    pub copy: Option<ProductCopy>,
    pub error: Option<String>,
    /// Why a delivered answer stopped short (`length`, `content_filter`), when it did.
    pub cut_short: Option<String>,
    pub created_at_ms: i64,
}

/// AgentWrite's rows in a user's history (`$1`; see db::history).
pub fn history_sql() -> String {
    format!(
        "SELECT '{}' AS tool, id, product_name AS title, status, credits,
                status = 'done' AND cut_short IS NOT NULL AS cut_short, created_at
         FROM generations WHERE user_id = $1",
        Tool::AgentWrite.stored()
    )
}

/// How a delete went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    Yes,
    /// Still being written: it must settle first.
    Running,
    NotFound,
}

pub async fn insert(
    db: &Db,
    id: &str,
    user_id: i64,
    brief: &ProductBrief,
    model: &str,
    credits: i32,
) -> Result<(), AppError> {
    let brief_json = serde_json::to_string(brief).map_err(AppError::internal)?;
    let name = brief.product_name();
    db.execute(
        "INSERT INTO generations (id, user_id, status, brief, product_name, model, credits)
         VALUES ($1, $2, 'running', $3::jsonb, $4, $5, $6)",
        &[
            (&id, Type::TEXT),
            (&user_id, Type::INT8),
            (&brief_json, Type::TEXT),
            (&name, Type::TEXT),
            (&model, Type::TEXT),
            (&credits, Type::INT4),
        ],
    )
    .await?;
    Ok(())
}

/// `running` → `done` with what was written (and why it is short, when it is); false when it had already left `running`.
pub async fn finish(
    db: &Db,
    id: &str,
    output: &str,
    copy: &ProductCopy,
    usage: Option<&str>,
    cut_short: Option<&str>,
) -> Result<bool, AppError> {
    let bullets = serde_json::to_string(&copy.bullets).map_err(AppError::internal)?;
    let rows = db
        .query(
            "UPDATE generations SET status = 'done', output = $2, title = $3, description = $4,
                    bullets = $5::jsonb, usage = $6::jsonb, cut_short = $7, finished_at = now()
             WHERE id = $1 AND status = 'running' RETURNING id",
            &[
                (&id, Type::TEXT),
                (&output, Type::TEXT),
                (&copy.title, Type::TEXT),
                (&copy.description, Type::TEXT),
                (&bullets, Type::TEXT),
                (&usage, Type::TEXT),
                (&cut_short, Type::TEXT),
            ],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// `running` → `failed`; the owner and the credits to give back, or None when it had already
/// left `running` (then there is nothing to refund here).
pub async fn fail(db: &Db, id: &str, code: &str) -> Result<Option<(i64, i32)>, AppError> {
    let row = db
        .query_opt(
            "UPDATE generations SET status = 'failed', error = $2, finished_at = now()
             WHERE id = $1 AND status = 'running' RETURNING user_id, credits",
            &[(&id, Type::TEXT), (&code, Type::TEXT)],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// Marks runs older than `secs` that are still `running` as abandoned (their Worker died before
/// settling) and returns them with their owners, for refunds in the same transaction: one user's
/// (`Some`, when they open their history) or anyone's (`None`, the scheduled sweep), at most
/// `limit` at a time so one sweep stays short.
pub async fn abandon_stale(
    db: &Db,
    user_id: Option<i64>,
    secs: i64,
    limit: i64,
) -> Result<Vec<(i64, String, i32)>, AppError> {
    let rows = db
        .query(
            &format!(
                "UPDATE generations SET status = 'failed', error = 'abandoned', finished_at = now()
                 WHERE {} RETURNING user_id, id, credits",
                super::stale_runs("generations", "running")
            ),
            &[(&user_id, Type::INT8), (&secs, Type::INT8), (&limit, Type::INT8)],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
}

/// The user's generation with this id (another user's is `None`, like a missing one).
pub async fn find(db: &Db, user_id: i64, id: &str) -> Result<Option<Generation>, AppError> {
    let row = db
        .query_opt(
            "SELECT id, status, brief::text, model, credits, title, description, bullets::text, error,
                    (extract(epoch FROM created_at) * 1000)::int8, cut_short
             FROM generations WHERE id = $1 AND user_id = $2",
            &[(&id, Type::TEXT), (&user_id, Type::INT8)],
        )
        .await?;
    row.map(|r| from_row(&r)).transpose()
}

fn from_row(r: &Row) -> Result<Generation, AppError> {
    let brief: String = r.get(2);
    let title: Option<String> = r.get(5);
    let bullets: Option<String> = r.get(7);
    let copy = title.map(|title| ProductCopy {
        title,
        description: r.get::<_, Option<String>>(6).unwrap_or_default(),
        bullets: bullets.and_then(|b| serde_json::from_str(&b).ok()).unwrap_or_default(),
    });
    Ok(Generation {
        id: r.get(0),
        status: column(r, 1)?,
        brief: serde_json::from_str(&brief).map_err(|e| AppError::internal(format!("stored brief: {e}")))?,
        model: r.get(3),
        credits: r.get(4),
        copy,
        error: r.get(8),
        cut_short: r.get(10),
        created_at_ms: r.get(9),
    })
}

pub async fn delete(db: &Db, user_id: i64, id: &str) -> Result<Deleted, AppError> {
    let row = db
        .query_opt(
            "WITH target AS (SELECT id, status FROM generations WHERE id = $1 AND user_id = $2),
                  gone AS (DELETE FROM generations g USING target
                           WHERE g.id = target.id AND target.status <> 'running' RETURNING g.id)
             SELECT target.status, (SELECT count(*) FROM gone)::int8 FROM target",
            &[(&id, Type::TEXT), (&user_id, Type::INT8)],
        )
        .await?;
    Ok(match row {
        None => Deleted::NotFound,
        Some(r) if r.get::<_, i64>(1) > 0 => Deleted::Yes,
        Some(_) => Deleted::Running,
    })
}
