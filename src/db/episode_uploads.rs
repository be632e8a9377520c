//! Episodes uploaded in parts (`episode_uploads`): started with R2's multipart upload id, each
//! part's etag recorded as it arrives (so an upload resumes from what is here), assembled into
//! one object, then completed when its run is accepted. Every read is by owner: another user's
//! upload is as missing as one that never was.

use super::Db;
use crate::domain::UserId;
use crate::error::AppError;
use tokio_postgres::types::Type;

/// An upload as its owner may continue it.
#[derive(Debug, Clone)]
pub struct EpisodeUpload {
    pub id: String,
    pub file_name: String,
    pub size: u64,
    pub r2_upload_id: String,
    /// (part number, etag), in part order.
    pub parts: Vec<(u32, String)>,
    pub assembled: bool,
    pub completed: bool,
}

impl EpisodeUpload {
    pub fn received(&self) -> Vec<u32> {
        self.parts.iter().map(|(n, _)| *n).collect()
    }
}

/// How many uploads one account may have unfinished at once: each may hold 500 MB in R2 until
/// the sweep drops it, so an account (or a script using one) cannot pile them up.
pub const MAX_OPEN: i64 = 3;

/// Records a new upload unless the owner has `MAX_OPEN` unfinished already: false then.
pub async fn insert(
    db: &Db,
    id: &str,
    user_id: UserId,
    file_name: &str,
    size: u64,
    part_bytes: u64,
    r2_upload_id: &str,
) -> Result<bool, AppError> {
    let (size, part_bytes) = (size as i64, part_bytes as i32);
    let row = db
        .query_opt(
            "INSERT INTO episode_uploads (id, user_id, file_name, size_bytes, part_bytes, r2_upload_id)
             SELECT $1, $2, $3, $4, $5, $6
             WHERE (SELECT count(*) FROM episode_uploads WHERE user_id = $2 AND completed_at IS NULL) < $7
             RETURNING id",
            &[
                (&id, Type::TEXT),
                (&user_id, Type::INT8),
                (&file_name, Type::TEXT),
                (&size, Type::INT8),
                (&part_bytes, Type::INT4),
                (&r2_upload_id, Type::TEXT),
                (&MAX_OPEN, Type::INT8),
            ],
        )
        .await?;
    Ok(row.is_some())
}

pub async fn find(db: &Db, user_id: UserId, id: &str) -> Result<Option<EpisodeUpload>, AppError> {
    let row = db
        .query_opt(
            "SELECT id, file_name, size_bytes, r2_upload_id, parts::text, assembled_at IS NOT NULL,
                    completed_at IS NOT NULL
             FROM episode_uploads WHERE id = $1 AND user_id = $2",
            &[(&id, Type::TEXT), (&user_id, Type::INT8)],
        )
        .await?;
    let Some(r) = row else { return Ok(None) };
    let parts: String = r.get(4);
    let parts: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&parts).map_err(AppError::internal)?;
    let mut parts: Vec<(u32, String)> =
        parts.into_iter().filter_map(|(n, etag)| n.parse().ok().map(|n| (n, etag))).collect();
    parts.sort_by_key(|(n, _)| *n);
    Ok(Some(EpisodeUpload {
        id: r.get(0),
        file_name: r.get(1),
        size: r.get::<_, i64>(2) as u64,
        r2_upload_id: r.get(3),
        parts,
        assembled: r.get(5),
        completed: r.get(6),
    }))
}

/// Records part `n`'s etag (a part sent again replaces it): false when the upload is no longer
/// taking parts (assembled) or is not this owner's.
pub async fn record_part(db: &Db, user_id: UserId, id: &str, n: u32, etag: &str) -> Result<bool, AppError> {
    let n = n.to_string();
    let n = n.as_str();
    let row = db
        .query_opt(
            "UPDATE episode_uploads SET parts = parts || jsonb_build_object($3::text, $4::text)
             WHERE id = $1 AND user_id = $2 AND assembled_at IS NULL RETURNING id",
            &[(&id, Type::TEXT), (&user_id, Type::INT8), (&n, Type::TEXT), (&etag, Type::TEXT)],
        )
        .await?;
    Ok(row.is_some())
}

pub async fn mark_assembled(db: &Db, id: &str) -> Result<(), AppError> {
    db.execute("UPDATE episode_uploads SET assembled_at = now() WHERE id = $1", &[(&id, Type::TEXT)]).await?;
    Ok(())
}

/// Ends the upload as its run is accepted, in the caller's transaction: false when it already
/// was (a second "complete" must not start a second run).
pub async fn complete(db: &Db, user_id: UserId, id: &str) -> Result<bool, AppError> {
    let row = db
        .query_opt(
            "UPDATE episode_uploads SET completed_at = now()
             WHERE id = $1 AND user_id = $2 AND assembled_at IS NOT NULL AND completed_at IS NULL
             RETURNING id",
            &[(&id, Type::TEXT), (&user_id, Type::INT8)],
        )
        .await?;
    Ok(row.is_some())
}

pub async fn delete(db: &Db, id: &str) -> Result<(), AppError> {
    db.execute("DELETE FROM episode_uploads WHERE id = $1", &[(&id, Type::TEXT)]).await?;
    Ok(())
}

/// Uploads never completed, started over `hours` ago (or all of one user's, `user_id`):
/// removed, answered with what R2 must be told (id, R2 upload id, assembled).
pub async fn take_abandoned(
    db: &Db,
    user_id: Option<UserId>,
    hours: i32,
    limit: i64,
) -> Result<Vec<(String, String, bool)>, AppError> {
    let rows = db
        .query(
            "DELETE FROM episode_uploads WHERE id IN (
                 SELECT id FROM episode_uploads
                 WHERE completed_at IS NULL AND ($1::int8 IS NULL OR user_id = $1)
                   AND ($1::int8 IS NOT NULL OR created_at < now() - make_interval(hours => $2))
                 ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED)
             RETURNING id, r2_upload_id, assembled_at IS NOT NULL",
            &[(&user_id, Type::INT8), (&hours, Type::INT4), (&limit, Type::INT8)],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
}

/// Forgets uploads whose runs were accepted over `hours` ago (their runs say the rest).
pub async fn forget_completed(db: &Db, hours: i32) -> Result<u64, AppError> {
    db.execute(
        "DELETE FROM episode_uploads WHERE completed_at < now() - make_interval(hours => $1)",
        &[(&hours, Type::INT4)],
    )
    .await
}
