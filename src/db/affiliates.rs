//! Users who joined the referral programme, and their Rewardful affiliate id.

use super::Db;
use crate::domain::UserId;
use crate::error::AppError;
use tokio_postgres::types::Type;

pub async fn affiliate_of(db: &Db, user_id: UserId) -> Result<Option<String>, AppError> {
    let row = db
        .query_opt(
            "SELECT rewardful_affiliate_id FROM affiliates WHERE user_id = $1",
            &[(&user_id, Type::INT8)],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Records the user's affiliate; the first one recorded wins (two racing joins keep one).
/// Answers the affiliate id the user now has, or `None` when that affiliate belongs to another
/// user already.
pub async fn save_affiliate(
    db: &Db,
    user_id: UserId,
    affiliate_id: &str,
) -> Result<Option<String>, AppError> {
    db.execute(
        "INSERT INTO affiliates (user_id, rewardful_affiliate_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[(&user_id, Type::INT8), (&affiliate_id, Type::TEXT)],
    )
    .await?;
    affiliate_of(db, user_id).await
}
