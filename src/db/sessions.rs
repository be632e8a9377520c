//! Sessions: one row per sign-in, named by the `sid` its token carries. A token counts only
//! while its row exists and is younger than the absolute lifetime; signing out deletes the row.

use super::users::{user, USER_COLUMNS};
use super::Db;
use crate::domain::User;
use crate::domain::UserId;
use crate::error::AppError;
use tokio_postgres::types::Type;

/// A live session as the account page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveSession {
    pub id: i64,
    pub sid: String,
    pub browser: String,
    pub place: String,
    pub signed_in_secs: i64,
    pub last_seen_secs: i64,
}

/// Records a new sign-in (and forgets this user's sessions past their lifetime).
pub async fn start(
    db: &Db,
    user_id: UserId,
    sid: &str,
    browser: &str,
    place: &str,
    lifetime_secs: f64,
) -> Result<(), AppError> {
    db.execute(
        "WITH expired AS (
             DELETE FROM sessions WHERE user_id = $1 AND created_at <= now() - make_interval(secs => $5)
         )
         INSERT INTO sessions (sid, user_id, browser, place) VALUES ($2, $1, $3, $4)",
        &[
            (&user_id, Type::INT8),
            (&sid, Type::TEXT),
            (&browser, Type::TEXT),
            (&place, Type::TEXT),
            (&lifetime_secs, Type::FLOAT8),
        ],
    )
    .await?;
    Ok(())
}

/// The active user of the live session `sid`, in one statement, which also notes when the
/// session was last seen (at most every five minutes, so most requests write nothing).
pub async fn user_of(
    db: &Db,
    user_id: UserId,
    sid: &str,
    lifetime_secs: f64,
) -> Result<Option<User>, AppError> {
    let row = db
        .query_opt(
            &format!(
                "WITH live AS (
                     SELECT id FROM sessions
                     WHERE sid = $2 AND user_id = $1 AND created_at > now() - make_interval(secs => $3)
                 ), seen AS (
                     UPDATE sessions SET last_seen_at = now()
                     WHERE id IN (SELECT id FROM live) AND last_seen_at < now() - interval '5 minutes'
                 )
                 SELECT {USER_COLUMNS} FROM users
                 WHERE id = $1 AND deleted_at IS NULL AND email IS NOT NULL AND EXISTS (SELECT 1 FROM live)"
            ),
            &[(&user_id, Type::INT8), (&sid, Type::TEXT), (&lifetime_secs, Type::FLOAT8)],
        )
        .await?;
    row.map(|r| user(&r)).transpose()
}

/// The user's live sessions, most recently seen first.
pub async fn active(db: &Db, user_id: UserId, lifetime_secs: f64) -> Result<Vec<ActiveSession>, AppError> {
    let rows = db
        .query(
            "SELECT id, sid, browser, place, extract(epoch FROM created_at)::int8,
                    extract(epoch FROM last_seen_at)::int8
             FROM sessions WHERE user_id = $1 AND created_at > now() - make_interval(secs => $2)
             ORDER BY last_seen_at DESC, id DESC",
            &[(&user_id, Type::INT8), (&lifetime_secs, Type::FLOAT8)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| ActiveSession {
            id: r.get(0),
            sid: r.get(1),
            browser: r.get(2),
            place: r.get(3),
            signed_in_secs: r.get(4),
            last_seen_secs: r.get(5),
        })
        .collect())
}

/// Ends the session `sid` (sign-out).
pub async fn end(db: &Db, sid: &str) -> Result<(), AppError> {
    db.execute("DELETE FROM sessions WHERE sid = $1", &[(&sid, Type::TEXT)]).await?;
    Ok(())
}

/// Ends one of the user's sessions by its listed id ("end this session"): false when the user
/// has no such session (another user's id ends nothing).
pub async fn end_listed(db: &Db, user_id: UserId, id: i64) -> Result<bool, AppError> {
    // `execute` counts returned rows (see `Db`): RETURNING makes the deleted row count.
    let ended = db
        .query_opt(
            "DELETE FROM sessions WHERE id = $1 AND user_id = $2 RETURNING 1",
            &[(&id, Type::INT8), (&user_id, Type::INT8)],
        )
        .await?;
    Ok(ended.is_some())
}

/// Ends every session of the user ("sign out everywhere", account deletion).
pub async fn end_all(db: &Db, user_id: UserId) -> Result<(), AppError> {
    db.execute("DELETE FROM sessions WHERE user_id = $1", &[(&user_id, Type::INT8)]).await?;
    Ok(())
}
