//! Allowance per billing period: the highest plan allowance granted for each period of a
//! subscription (a new period grants its plan's allowance, an upgrade the difference).

use super::{Db, Param};
use crate::domain::Credits;
use crate::error::AppError;
use tokio_postgres::types::Type;

/// The allowance already granted for a subscription's period (0 if none), with the period's
/// row locked until the transaction ends, so two grants for one period take turns.
pub async fn lock_allowance_period(
    db: &Db,
    subscription_id: &str,
    period_end: i64,
) -> Result<Credits, AppError> {
    let params: [Param; 2] = [(&subscription_id, Type::TEXT), (&period_end, Type::INT8)];
    db.execute(
        "INSERT INTO allowance_periods (subscription_id, period_end, credits)
         VALUES ($1, to_timestamp($2), 0) ON CONFLICT DO NOTHING",
        &params,
    )
    .await?;
    let row = db
        .query_one(
            "SELECT credits FROM allowance_periods
             WHERE subscription_id = $1 AND period_end = to_timestamp($2) FOR UPDATE",
            &params,
        )
        .await?;
    Ok(row.get(0))
}

pub async fn set_allowance_period(
    db: &Db,
    subscription_id: &str,
    period_end: i64,
    credits: Credits,
) -> Result<(), AppError> {
    db.execute(
        "UPDATE allowance_periods SET credits = $3, updated_at = now()
         WHERE subscription_id = $1 AND period_end = to_timestamp($2)",
        &[(&subscription_id, Type::TEXT), (&period_end, Type::INT8), (&credits, Type::INT8)],
    )
    .await?;
    Ok(())
}
