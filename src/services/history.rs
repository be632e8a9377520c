//! A user's history: their runs of every tool, newest first, a page at a time, with the runs a
//! dead Worker left behind settled (refunded) first, so the page shows them settled.

use super::runs::STALE_AFTER;
use crate::db::{history, Db};
use crate::domain::tool::RunSummary;
use crate::domain::UserId;
use crate::error::AppError;

/// Runs per page.
pub const PAGE_SIZE: i64 = 20;

/// Page `page` (from 1) of `user_id`'s runs, and whether another follows. One round trip: the
/// sweep and the page go together, and one run more than a page tells whether there is a next.
pub async fn page(db: &Db, user_id: UserId, page: i64) -> Result<(Vec<RunSummary>, bool), AppError> {
    let mut runs =
        history::page_after_sweep(db, user_id, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE, STALE_AFTER).await?;
    let has_next = runs.len() as i64 > PAGE_SIZE;
    runs.truncate(PAGE_SIZE as usize);
    Ok((runs, has_next))
}
