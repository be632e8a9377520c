//! Stripe webhook events as received: the exactly-once guard and the record an operator reads.
//!
//! `claim` inserts the event id as the first statement of the transaction that applies its
//! effect: a concurrent delivery of the same event waits on the id's unique index until that
//! transaction ends, then finds it taken (or, after a rollback, takes it itself). A failed
//! attempt is written afterwards as `failed`, which a later delivery may claim again.

use super::{Db, Param, Statement};
use crate::domain::UserId;
use crate::error::AppError;
use tokio_postgres::types::Type;

pub struct EventMeta<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub object_id: Option<&'a str>,
    /// Unix seconds (Stripe's `created`).
    pub created: i64,
    pub livemode: bool,
}

/// Whether the event was already handled (applied or ignored) — a cheap check before any work.
pub async fn already_handled(db: &Db, id: &str) -> Result<bool, AppError> {
    let row = db
        .query_opt(
            "SELECT 1 FROM stripe_events WHERE id = $1 AND outcome IN ('applied', 'ignored')",
            &[(&id, Type::TEXT)],
        )
        .await?;
    Ok(row.is_some())
}

/// Takes the event for this transaction; `false` means it was handled by someone else.
pub async fn claim(db: &Db, e: &EventMeta<'_>) -> Result<bool, AppError> {
    let rows = db
        .query(
            "INSERT INTO stripe_events (id, type, object_id, stripe_created_at, livemode, outcome)
             VALUES ($1, $2, $3, to_timestamp($4), $5, 'processing')
             ON CONFLICT (id) DO UPDATE SET outcome = 'processing', detail = NULL,
                 attempts = stripe_events.attempts + 1
             WHERE stripe_events.outcome = 'failed'
             RETURNING id",
            &claim_params(e),
        )
        .await?;
    Ok(!rows.is_empty())
}

/// Claims an event we do not act on and records it `ignored`, in one statement (nothing else
/// is written, so no transaction is needed); `false` means it was handled before.
pub async fn claim_ignored(db: &Db, e: &EventMeta<'_>, detail: &str) -> Result<bool, AppError> {
    let rows = db
        .query(
            "INSERT INTO stripe_events (id, type, object_id, stripe_created_at, livemode, outcome, detail,
                                        processed_at)
             VALUES ($1, $2, $3, to_timestamp($4), $5, 'ignored', $6, now())
             ON CONFLICT (id) DO UPDATE SET outcome = 'ignored', detail = EXCLUDED.detail,
                 attempts = stripe_events.attempts + 1, processed_at = now()
             WHERE stripe_events.outcome = 'failed'
             RETURNING id",
            &with_detail(e, &detail),
        )
        .await?;
    Ok(!rows.is_empty())
}

/// Writes the outcome of a claimed event (inside the claiming transaction).
pub async fn finish(
    db: &Db,
    id: &str,
    outcome: &str,
    detail: &str,
    user_id: Option<UserId>,
) -> Result<(), AppError> {
    db.execute(
        FINISH_SQL,
        &[(&id, Type::TEXT), (&outcome, Type::TEXT), (&detail, Type::TEXT), (&user_id, Type::INT8)],
    )
    .await?;
    Ok(())
}

const FINISH_SQL: &str = "\
UPDATE stripe_events SET outcome = $2, detail = $3, user_id = coalesce($4, user_id), processed_at = now()
WHERE id = $1";

/// Takes the event (`claim_params`) for a pipelined transaction (`Db::atomically`), where no
/// answer can be looked at: a failed attempt's row is replaced (its attempts counted on, its
/// first arrival kept); any other row makes the insert a unique violation (`EVENT_TAKEN`),
/// which fails the transaction. A concurrent claim waits on the id's index until the other
/// transaction ends.
pub const CLAIM_OR_FAIL_SQL: &str = "\
WITH failed AS (
    DELETE FROM stripe_events WHERE id = $1 AND outcome = 'failed' RETURNING attempts, received_at
)
INSERT INTO stripe_events (id, type, object_id, stripe_created_at, livemode, outcome, attempts, received_at)
VALUES ($1, $2, $3, to_timestamp($4), $5, 'processing',
        coalesce((SELECT attempts FROM failed), 0) + 1, coalesce((SELECT received_at FROM failed), now()))";

/// The index `CLAIM_OR_FAIL_SQL` breaks when the event is taken.
pub const EVENT_TAKEN: &str = "stripe_events_pkey";

/// The event's columns (`$1`…`$5`), as the claims take them.
pub fn claim_params<'a>(e: &'a EventMeta<'_>) -> [Param<'a>; 5] {
    [
        (&e.id, Type::TEXT),
        (&e.kind, Type::TEXT),
        (&e.object_id, Type::TEXT),
        (&e.created, Type::INT8),
        (&e.livemode, Type::BOOL),
    ]
}

/// Claims the event, runs `writes` and records it applied with `detail`, as one transaction in
/// one round trip (`Db::atomically`), for effects whose writes need no answer. `false`: the
/// event was taken by someone else, and nothing was written.
pub async fn apply_atomically(
    db: &Db,
    e: &EventMeta<'_>,
    writes: &[Statement<'_>],
    detail: &str,
    user_id: UserId,
) -> Result<bool, AppError> {
    let claim = claim_params(e);
    let user_id = Some(user_id);
    let finish: [Param; 4] =
        [(&e.id, Type::TEXT), (&"applied", Type::TEXT), (&detail, Type::TEXT), (&user_id, Type::INT8)];
    let mut statements: Vec<Statement> = vec![(CLAIM_OR_FAIL_SQL, &claim)];
    statements.extend_from_slice(writes);
    statements.push((FINISH_SQL, &finish));
    match db.atomically(&statements).await {
        Ok(_) => Ok(true),
        Err(refused) if refused.constraint.as_deref() == Some(EVENT_TAKEN) => Ok(false),
        Err(refused) => Err(refused.into()),
    }
}

/// Records a failed attempt (after its transaction rolled back). Never overwrites a success.
pub async fn record_failure(db: &Db, e: &EventMeta<'_>, detail: &str) -> Result<(), AppError> {
    db.execute(
        "INSERT INTO stripe_events (id, type, object_id, stripe_created_at, livemode, outcome, detail)
         VALUES ($1, $2, $3, to_timestamp($4), $5, 'failed', $6)
         ON CONFLICT (id) DO UPDATE SET detail = EXCLUDED.detail, attempts = stripe_events.attempts + 1
         WHERE stripe_events.outcome = 'failed'",
        &with_detail(e, &detail),
    )
    .await?;
    Ok(())
}

/// The event's columns, then `detail` (`$1`…`$6`).
fn with_detail<'a>(e: &'a EventMeta<'_>, detail: &'a &str) -> [super::Param<'a>; 6] {
    [
        (&e.id, Type::TEXT),
        (&e.kind, Type::TEXT),
        (&e.object_id, Type::TEXT),
        (&e.created, Type::INT8),
        (&e.livemode, Type::BOOL),
        (detail, Type::TEXT),
    ]
}

/// Whether the event's last attempt failed (what may be replayed).
pub async fn failed(db: &Db, id: &str) -> Result<bool, AppError> {
    let row = db
        .query_opt("SELECT 1 FROM stripe_events WHERE id = $1 AND outcome = 'failed'", &[(&id, Type::TEXT)])
        .await?;
    Ok(row.is_some())
}

/// The account an event was applied to, if it named one.
pub async fn user_of(db: &Db, id: &str) -> Result<Option<UserId>, AppError> {
    let row = db.query_opt("SELECT user_id FROM stripe_events WHERE id = $1", &[(&id, Type::TEXT)]).await?;
    Ok(row.and_then(|r| r.get(0)))
}
