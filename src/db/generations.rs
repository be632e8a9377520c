//! AgentWrite generations. A row leaves `running` exactly once (every transition is guarded by
//! `status = 'running'`), so a late finisher and the stale-run sweep can never both settle it.

use super::runs::{self, StaleAfter};
use super::states::{column, Stored};
use super::{credits, reversals, Db, Param};
use crate::domain::brief::ProductBrief;
use crate::domain::copy::ProductCopy;
use crate::domain::tool::{RunStatus, Tool};
use crate::domain::Credits;
use crate::domain::UserId;
use crate::error::AppError;
use tokio_postgres::types::Type;
use tokio_postgres::Row;

#[derive(Debug, Clone)]
pub struct Generation {
    pub id: String,
    pub status: RunStatus,
    pub brief: ProductBrief,
    pub model: String,
    pub credits: Credits,
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

/// Why `start` wrote nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The account is on hold (`reversals::hold` says why).
    OnHold,
    /// The balance does not cover the run.
    Credits { balance: Credits },
}

/// A run to record: its id, owner, brief, model, price and the ledger note of its spend.
pub struct NewRun<'a> {
    pub id: &'a str,
    pub user_id: UserId,
    pub brief: &'a ProductBrief,
    pub model: &'a str,
    pub credits: Credits,
    pub note: &'a str,
}

/// Records a run and reserves its credits as one transaction in one round trip (`atomically`):
/// refused when the account is on hold (`reversals::hold_guard_sql`); the user's abandoned runs
/// are settled (`runs::SWEEP_SQL`), then the run is inserted and its credits spent. Not enough
/// credits: the balance's CHECK refuses the spend. A refusal writes nothing.
pub async fn start(db: &Db, run: &NewRun<'_>, stale: StaleAfter) -> Result<Result<(), Refusal>, AppError> {
    let brief_json = serde_json::to_string(run.brief).map_err(AppError::internal)?;
    let name = run.brief.product_name();
    let amount = run.credits;
    let reason = credits::Reason::AgentWrite;
    let owner = Some(run.user_id);
    let sweep = runs::sweep_params(&owner, &stale);
    let user: [Param; 1] = [(&run.user_id, Type::INT8)];
    let row: [Param; 6] = [
        (&run.id, Type::TEXT),
        (&run.user_id, Type::INT8),
        (&brief_json, Type::TEXT),
        (&name, Type::TEXT),
        (&run.model, Type::TEXT),
        (&run.credits, Type::INT4),
    ];
    let spend: [Param; 5] = [
        (&run.user_id, Type::INT8),
        (&amount, Type::INT8),
        (&reason, Type::TEXT),
        (&run.id, Type::TEXT),
        (&run.note, Type::TEXT),
    ];
    let insert = "INSERT INTO generations (id, user_id, status, brief, product_name, model, credits)
         VALUES ($1, $2, 'running', $3::jsonb, $4, $5, $6)";
    let hold_guard = reversals::hold_guard_sql();
    let done = db
        .atomically(&[
            (&hold_guard, &user),
            (&runs::SWEEP_SQL, &sweep),
            (credits::BALANCE_ROW_SQL, &user),
            (insert, &row),
            (credits::SPEND_CHECKED_SQL, &spend),
        ])
        .await;
    match done {
        Ok(_) => Ok(Ok(())),
        Err(refused) if refused.index == Some(0) => Ok(Err(Refusal::OnHold)),
        Err(refused) if refused.constraint.as_deref() == Some(credits::NON_NEGATIVE) => {
            Ok(Err(Refusal::Credits { balance: credits::balance(db, run.user_id).await? }))
        }
        Err(refused) => Err(refused.into()),
    }
}

/// `running` → `done` with what was written (and why it is short, when it is), and the owner's
/// balance, in one statement; false when it had already left `running`.
pub async fn finish(
    db: &Db,
    id: &str,
    output: &str,
    copy: &ProductCopy,
    usage: Option<&str>,
    cut_short: Option<&str>,
) -> Result<(bool, Credits), AppError> {
    let bullets = serde_json::to_string(&copy.bullets).map_err(AppError::internal)?;
    let row = db
        .query_one(
            "WITH done AS (
                UPDATE generations SET status = 'done', output = $2, title = $3, description = $4,
                       bullets = $5::jsonb, usage = $6::jsonb, cut_short = $7, finished_at = now()
                WHERE id = $1 AND status = 'running' RETURNING id
             )
             SELECT EXISTS (SELECT 1 FROM done),
                    coalesce((SELECT b.balance FROM credit_balances b JOIN generations g ON b.user_id = g.user_id
                              WHERE g.id = $1), 0)",
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
    Ok((row.get(0), row.get(1)))
}

/// `running` → `failed`; the owner and the credits to give back, or None when it had already
/// left `running` (then there is nothing to refund here).
pub async fn fail(db: &Db, id: &str, code: &str) -> Result<Option<(UserId, Credits)>, AppError> {
    let row = db
        .query_opt(
            "UPDATE generations SET status = 'failed', error = $2, finished_at = now()
             WHERE id = $1 AND status = 'running' RETURNING user_id, credits",
            &[(&id, Type::TEXT), (&code, Type::TEXT)],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// The brief of a run still `running`; None once it has left `running` (or is gone).
pub async fn running_brief(db: &Db, id: &str) -> Result<Option<ProductBrief>, AppError> {
    let row = db
        .query_opt(
            "SELECT brief::text FROM generations WHERE id = $1 AND status = 'running'",
            &[(&id, Type::TEXT)],
        )
        .await?;
    row.map(|r| {
        let brief: String = r.get(0);
        serde_json::from_str(&brief).map_err(|e| AppError::internal(format!("stored brief: {e}")))
    })
    .transpose()
}

const FIND_SQL: &str =
    "SELECT id, status, brief::text, model, credits, title, description, bullets::text, error,
            (extract(epoch FROM created_at) * 1000)::int8, cut_short
     FROM generations WHERE id = $1 AND user_id = $2";

/// The user's generation with this id (another user's is `None`, like a missing one).
pub async fn find(db: &Db, user_id: UserId, id: &str) -> Result<Option<Generation>, AppError> {
    let row = db.query_opt(FIND_SQL, &[(&id, Type::TEXT), (&user_id, Type::INT8)]).await?;
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

pub async fn delete(db: &Db, user_id: UserId, id: &str) -> Result<Deleted, AppError> {
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
