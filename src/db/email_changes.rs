//! Pending email-address changes (`email_changes`): only the SHA-256 of a link's token is kept,
//! a link works once, and the change itself — the address, the pending sign-in links, the other
//! sessions — happens in one transaction.

use super::Db;
use crate::domain::email_links::{ChangeState, Refused};
use crate::domain::EmailAddress;
use crate::domain::UserId;
use crate::error::AppError;
use tokio_postgres::types::Type;

/// A change that is waiting for its link (the account page shows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub new_email: String,
    pub expires_at_ms: i64,
}

/// What a confirmed change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub old_email: String,
    pub new_email: String,
    /// Other sessions of the account that were ended.
    pub sessions_ended: u64,
}

/// Records a pending change of `user_id` to `new_email`, valid for `ttl_minutes`. Replaces the
/// user's earlier changes (only the newest link works) and clears everyone's rows a day past
/// their expiry, so an address asked for and never confirmed is not kept.
pub async fn insert(
    db: &Db,
    token_hash: &[u8],
    user_id: UserId,
    new_email: &EmailAddress,
    ttl_minutes: u32,
) -> Result<(), AppError> {
    let (email, minutes) = (new_email.as_str(), ttl_minutes as i32);
    db.execute(
        "DELETE FROM email_changes WHERE user_id = $1 OR expires_at < now() - interval '1 day'",
        &[(&user_id, Type::INT8)],
    )
    .await?;
    db.execute(
        "INSERT INTO email_changes (token_hash, user_id, new_email, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(mins => $4))",
        &[(&token_hash, Type::BYTEA), (&user_id, Type::INT8), (&email, Type::TEXT), (&minutes, Type::INT4)],
    )
    .await?;
    Ok(())
}

/// Removes a change whose mail could not be sent (nobody must be able to confirm it).
pub async fn delete(db: &Db, token_hash: &[u8]) -> Result<(), AppError> {
    db.execute("DELETE FROM email_changes WHERE token_hash = $1", &[(&token_hash, Type::BYTEA)]).await?;
    Ok(())
}

/// Cancels every change of the user ("sign out everywhere": whoever asked for it is signed out).
pub async fn cancel_all(db: &Db, user_id: UserId) -> Result<(), AppError> {
    db.execute("DELETE FROM email_changes WHERE user_id = $1", &[(&user_id, Type::INT8)]).await?;
    Ok(())
}

/// The user's change waiting for its link, if any.
pub async fn pending(db: &Db, user_id: UserId) -> Result<Option<Pending>, AppError> {
    let row = db
        .query_opt(
            "SELECT new_email, (extract(epoch FROM expires_at) * 1000)::int8 FROM email_changes
             WHERE user_id = $1 AND used_at IS NULL AND expires_at > now()
             ORDER BY created_at DESC LIMIT 1",
            &[(&user_id, Type::INT8)],
        )
        .await?;
    Ok(row.map(|r| Pending { new_email: r.get(0), expires_at_ms: r.get(1) }))
}

pub async fn state(db: &Db, token_hash: &[u8]) -> Result<ChangeState, AppError> {
    let row = db
        .query_opt(
            "SELECT used_at IS NOT NULL, expires_at <= now(), user_id, new_email
             FROM email_changes WHERE token_hash = $1",
            &[(&token_hash, Type::BYTEA)],
        )
        .await?;
    Ok(match row {
        None => ChangeState::Unknown,
        Some(r) if r.get::<_, bool>(0) => ChangeState::Used,
        Some(r) if r.get::<_, bool>(1) => ChangeState::Expired,
        Some(r) => ChangeState::Usable { user_id: r.get(2), new_email: r.get(3) },
    })
}

/// Confirms the change `token_hash` names for `user_id`, whose session `keep_sid` stays signed
/// in. Run it inside a transaction: the link is spent, the address changes, sign-in links still
/// pending for the old or the new address are retired (a link to the old address would make a
/// new, empty account; one to the new address was asked for before the change) and every other
/// session of the account ends — or, when refused, nothing at all changes.
pub async fn confirm(
    db: &Db,
    token_hash: &[u8],
    user_id: UserId,
    keep_sid: &str,
) -> Result<Result<Changed, Refused>, AppError> {
    // Locks the link's row: two confirmations of one link run one after the other.
    let row = db
        .query_opt(
            "SELECT used_at IS NOT NULL, expires_at <= now(), user_id, new_email
             FROM email_changes WHERE token_hash = $1 FOR UPDATE",
            &[(&token_hash, Type::BYTEA)],
        )
        .await?;
    let new_email: String = match row {
        None => return Ok(Err(Refused::Link(ChangeState::Unknown))),
        Some(r) if r.get::<_, bool>(0) => return Ok(Err(Refused::Link(ChangeState::Used))),
        Some(r) if r.get::<_, bool>(1) => return Ok(Err(Refused::Link(ChangeState::Expired))),
        Some(r) if r.get::<_, UserId>(2) != user_id => return Ok(Err(Refused::OtherAccount)),
        Some(r) => r.get(3),
    };
    let email = new_email.as_str();
    // Two changes to one address wait for each other here, so the second finds it taken rather
    // than failing on the unique index (a first sign-in of the address is an upsert: it finds
    // this account once committed).
    db.execute(
        "SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtextextended($1, 20))) lock",
        &[(&email, Type::TEXT)],
    )
    .await?;
    let taken = db
        .query_opt(
            "SELECT 1 FROM users WHERE email = $1 AND id <> $2",
            &[(&email, Type::TEXT), (&user_id, Type::INT8)],
        )
        .await?;
    if taken.is_some() {
        return Ok(Err(Refused::Taken));
    }
    let old = db
        .query_opt(
            "SELECT email FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
            &[(&user_id, Type::INT8)],
        )
        .await?;
    let Some(old_email) = old.and_then(|r| r.get::<_, Option<String>>(0)) else {
        return Ok(Err(Refused::Link(ChangeState::Unknown)));
    };
    db.execute(
        "UPDATE users SET email = $2, email_verified_at = now(), updated_at = now() WHERE id = $1",
        &[(&user_id, Type::INT8), (&email, Type::TEXT)],
    )
    .await?;
    db.execute(
        "UPDATE email_changes SET used_at = now() WHERE token_hash = $1",
        &[(&token_hash, Type::BYTEA)],
    )
    .await?;
    db.execute(
        "DELETE FROM email_changes WHERE user_id = $1 AND token_hash <> $2",
        &[(&user_id, Type::INT8), (&token_hash, Type::BYTEA)],
    )
    .await?;
    db.execute(
        "DELETE FROM email_sign_in_tokens WHERE email IN ($1, $2) AND used_at IS NULL",
        &[(&old_email.as_str(), Type::TEXT), (&email, Type::TEXT)],
    )
    .await?;
    // `execute` counts returned rows (see `Db`): RETURNING makes each ended session count.
    let sessions_ended = db
        .execute(
            "DELETE FROM sessions WHERE user_id = $1 AND sid <> $2 RETURNING 1",
            &[(&user_id, Type::INT8), (&keep_sid, Type::TEXT)],
        )
        .await?;
    Ok(Ok(Changed { old_email, new_email, sessions_ended }))
}
