//! Emailed sign-in links. Only the SHA-256 of a token is stored; a token is spent by one
//! conditional UPDATE, so two clicks racing each other cannot both sign in.

use super::users::{user, USER_COLUMNS};
use super::Db;
use crate::domain::email_links::LinkState;
use crate::domain::{EmailAddress, NextPath, User};
use crate::error::AppError;
use tokio_postgres::types::Type;

/// What a spent token signs in: the address it was sent to and where to go afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spent {
    pub email: EmailAddress,
    pub next: NextPath,
}

/// Stores a new token hash for `email`, valid for `ttl_minutes`; expired rows of the same
/// address are cleared on the way (the table never grows past what is pending).
pub async fn insert(
    db: &Db,
    token_hash: &[u8],
    email: &EmailAddress,
    ttl_minutes: u32,
    next: &NextPath,
) -> Result<(), AppError> {
    let email = email.as_str();
    let minutes = ttl_minutes as i32;
    let next = next.as_str();
    db.execute(
        "DELETE FROM email_sign_in_tokens WHERE email = $1 AND expires_at < now() - interval '1 day'",
        &[(&email, Type::TEXT)],
    )
    .await?;
    db.execute(
        "INSERT INTO email_sign_in_tokens (token_hash, email, expires_at, next_path)
         VALUES ($1, $2, now() + make_interval(mins => $3), $4)",
        &[(&token_hash, Type::BYTEA), (&email, Type::TEXT), (&minutes, Type::INT4), (&next, Type::TEXT)],
    )
    .await?;
    Ok(())
}

/// Removes a token (its email could not be sent: nobody must be able to use it).
pub async fn delete(db: &Db, token_hash: &[u8]) -> Result<(), AppError> {
    db.execute("DELETE FROM email_sign_in_tokens WHERE token_hash = $1", &[(&token_hash, Type::BYTEA)])
        .await?;
    Ok(())
}

/// Links sent to `email` that are still usable.
pub async fn count_pending(db: &Db, email: &EmailAddress) -> Result<(i64, Option<i64>), AppError> {
    let email = email.as_str();
    let row = db
        .query_one(
            "SELECT count(*), (extract(epoch FROM min(expires_at) - now()))::int8
             FROM email_sign_in_tokens
             WHERE email = $1 AND used_at IS NULL AND expires_at > now()",
            &[(&email, Type::TEXT)],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

pub async fn state(db: &Db, token_hash: &[u8]) -> Result<LinkState, AppError> {
    let row = db
        .query_opt(
            "SELECT used_at IS NOT NULL, expires_at <= now(), email FROM email_sign_in_tokens WHERE token_hash = $1",
            &[(&token_hash, Type::BYTEA)],
        )
        .await?;
    Ok(match row.map(|r| (r.get::<_, bool>(0), r.get::<_, bool>(1), r.get::<_, String>(2))) {
        None => LinkState::Unknown,
        Some((true, _, _)) => LinkState::Used,
        Some((false, true, _)) => LinkState::Expired,
        Some((false, false, email)) => LinkState::Usable { email },
    })
}

/// Spends a usable token (once: concurrent spends see `used_at` set and get nothing).
pub async fn spend(db: &Db, token_hash: &[u8]) -> Result<Option<Spent>, AppError> {
    let row = db
        .query_opt(
            "UPDATE email_sign_in_tokens SET used_at = now()
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
             RETURNING email, next_path",
            &[(&token_hash, Type::BYTEA)],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let email: String = row.get(0);
    let email = EmailAddress::parse(&email)
        .map_err(|e| AppError::internal(format!("stored sign-in address does not parse: {e}")))?;
    Ok(Some(Spent { email, next: NextPath::parse_or_default(row.get::<_, Option<&str>>(1)) }))
}

/// `spend`, `users::sign_in_by_email` and `retire_pending` as one statement (one round trip),
/// for an address that has an account already: the link is spent only when that account
/// exists, and the account is marked verified as `sign_in_by_email` does. `None` when the link
/// cannot be spent or the address has no account yet (then the caller takes the long way,
/// which creates it; nothing was written).
pub async fn spend_for_account(db: &Db, token_hash: &[u8]) -> Result<Option<(User, NextPath)>, AppError> {
    let row = db
        .query_opt(
            &format!(
                "WITH link AS (
                     SELECT email FROM email_sign_in_tokens
                     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
                 ), account AS (
                     UPDATE users SET email_verified_at = COALESCE(email_verified_at, now()), updated_at = now()
                     WHERE email = (SELECT email FROM link)
                     RETURNING {USER_COLUMNS}
                 ), spent AS (
                     UPDATE email_sign_in_tokens SET used_at = now()
                     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
                       AND EXISTS (SELECT 1 FROM account)
                     RETURNING email, next_path
                 ), retired AS (
                     DELETE FROM email_sign_in_tokens
                     WHERE email IN (SELECT email FROM spent) AND used_at IS NULL AND token_hash <> $1
                 )
                 SELECT account.*, spent.next_path FROM account, spent"
            ),
            &[(&token_hash, Type::BYTEA)],
        )
        .await?;
    row.map(|r| Ok((user(&r)?, NextPath::parse_or_default(r.get::<_, Option<&str>>(3))))).transpose()
}

/// Other links still pending for the address stop working once one of them was used.
pub async fn retire_pending(db: &Db, email: &EmailAddress) -> Result<(), AppError> {
    let email = email.as_str();
    db.execute(
        "DELETE FROM email_sign_in_tokens WHERE email = $1 AND used_at IS NULL",
        &[(&email, Type::TEXT)],
    )
    .await?;
    Ok(())
}
