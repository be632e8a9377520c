//! The signed-in home: everything the dashboard shows, read in one statement.

use crate::db::dashboard::{self, DashboardData};
use crate::db::Db;
use crate::domain::UserId;
use crate::error::AppError;

/// How many runs "recent work" lists.
const RECENT_WORK: i64 = 5;

/// Balance, subscriptions, recent work and ledger, usage and a hold, in one round trip.
pub async fn load(db: &Db, user_id: UserId) -> Result<DashboardData, AppError> {
    dashboard::load(db, user_id, RECENT_WORK).await
}
