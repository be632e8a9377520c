//! The schema version applied by `src/bin/migrate.rs` (refinery's history table).

use super::Db;
use crate::error::AppError;

/// The newest migration this build was compiled with (counted from `migrations/` by build.rs).
pub const EXPECTED_VERSION: i32 = match i32::from_str_radix(env!("GHOSTTOOLS_SCHEMA_VERSION"), 10) {
    Ok(v) => v,
    Err(_) => 0,
};

/// The newest applied migration, or `None` when migrations were never run.
///
/// Every applied version is read, not only the newest: a multi-row answer is what public
/// reports say tokio-postgres can fail to follow through Hyperdrive's pooler ("unexpected
/// message from server"), so health monitors and `make smoke`'s soak exercise that path on
/// every poll. Still one round trip, retried once like every multi-row read (`Db::read`).
pub async fn applied_version(db: &Db) -> Result<Option<i32>, AppError> {
    let rows = db.read("SELECT version FROM refinery_schema_history ORDER BY version", &[]).await;
    match rows {
        Ok(rows) => Ok(rows.iter().map(|r| r.get::<_, i32>(0)).max()),
        // 42P01: the history table does not exist yet.
        Err(AppError::Internal(d)) if d.contains("42P01") => Ok(None),
        Err(e) => Err(e),
    }
}
