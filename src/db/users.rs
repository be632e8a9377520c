//! Queries about users.

use super::Db;
use crate::auth::User;
use crate::error::AppError;
use tokio_postgres::types::Type;

/// A user who has not deleted their account.
pub async fn find_active(db: &Db, id: i64) -> Result<Option<User>, AppError> {
    let row = db
        .query_opt(
            "SELECT id, email, session_version FROM users WHERE id = $1 AND deleted_at IS NULL AND email IS NOT NULL",
            &[(&id, Type::INT8)],
        )
        .await?;
    Ok(row.map(|r| User { id: r.get(0), email: r.get(1), session_version: r.get(2) }))
}
