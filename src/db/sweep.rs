//! Housekeeping the scheduled sweep does in one statement: rows that can never be used again.

use super::Db;
use crate::error::AppError;
use tokio_postgres::types::Type;

/// Deletes sign-in and address-change links expired over a day ago (for a day, following one
/// still says "expired" rather than "unknown") and sessions past their absolute lifetime;
/// returns how many of each.
pub async fn forget_expired(db: &Db, session_lifetime_secs: f64) -> Result<(i64, i64, i64), AppError> {
    let row = db
        .query_one(
            "WITH tokens AS (
                 DELETE FROM email_sign_in_tokens WHERE expires_at < now() - interval '1 day' RETURNING 1
             ), changes AS (
                 DELETE FROM email_changes WHERE expires_at < now() - interval '1 day' RETURNING 1
             ), sessions AS (
                 DELETE FROM sessions WHERE created_at <= now() - make_interval(secs => $1) RETURNING 1
             )
             SELECT (SELECT count(*) FROM tokens), (SELECT count(*) FROM changes), (SELECT count(*) FROM sessions)",
            &[(&session_lifetime_secs, Type::FLOAT8)],
        )
        .await?;
    Ok((row.get(0), row.get(1), row.get(2)))
}
