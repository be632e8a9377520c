//! The schema version applied by `src/bin/migrate.rs` (refinery's history table).

use super::Db;
use crate::error::AppError;

/// The newest migration this build was compiled with (counted from `migrations/` by build.rs).
pub const EXPECTED_VERSION: i32 = match i32::from_str_radix(env!("GHOSTTOOLS_SCHEMA_VERSION"), 10) {
    Ok(v) => v,
    Err(_) => 0,
};

/// The newest applied migration, or `None` when migrations were never run.
pub async fn applied_version(db: &Db) -> Result<Option<i32>, AppError> {
    let row = db.query_opt("SELECT max(version) FROM refinery_schema_history", &[]).await;
    match row {
        Ok(row) => Ok(row.and_then(|r| r.get::<_, Option<i32>>(0))),
        // 42P01: the history table does not exist yet.
        Err(AppError::Internal(d)) if d.contains("42P01") => Ok(None),
        Err(e) => Err(e),
    }
}
