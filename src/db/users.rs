//! Queries about users: finding them for a session, creating them at first sign-in, linking
//! sign-in providers, ending all their sessions, and anonymizing a deleted account.

use super::states::column;
use super::Db;
use crate::domain::EmailAddress;
use crate::domain::User;
use crate::domain::UserId;
use crate::error::AppError;
use tokio_postgres::types::Type;
use tokio_postgres::Row;

/// Google's name in `oauth_accounts.provider`.
pub const GOOGLE: &str = "google";

pub(super) const USER_COLUMNS: &str = "id, email, session_version";

/// A user from the first columns of `row` (`USER_COLUMNS`); an address that no longer parses is
/// an internal error, not a panic.
pub(super) fn user(row: &Row) -> Result<User, AppError> {
    Ok(User { id: column(row, 0)?, email: column(row, 1)?, session_version: column(row, 2)? })
}

/// Whether a sign-in found the account or created it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account {
    Existing,
    /// Created by this statement: exactly one of any concurrent first sign-ins for an address
    /// sees this (the others wait on the unique index, then find the committed row).
    Created,
}

/// The user who owns `email` (proven by the caller: a spent link, a verified ID token),
/// created on first sign-in. The address counts as verified from now on.
pub async fn sign_in_by_email(
    db: &Db,
    email: &EmailAddress,
    name: Option<&str>,
) -> Result<(User, Account), AppError> {
    let email = email.as_str();
    // `xmax = 0`: the row version was written by an insert, not by the conflict's update.
    let row = db
        .query_one(
            &format!(
                "INSERT INTO users (email, email_verified_at, name) VALUES ($1, now(), $2)
                 ON CONFLICT (email) WHERE email IS NOT NULL DO UPDATE
                 SET email_verified_at = COALESCE(users.email_verified_at, now()),
                     name = COALESCE(users.name, EXCLUDED.name),
                     updated_at = now()
                 RETURNING {USER_COLUMNS}, (xmax = 0) AS created"
            ),
            &[(&email, Type::TEXT), (&name, Type::TEXT)],
        )
        .await?;
    let account = if row.get::<_, bool>(3) { Account::Created } else { Account::Existing };
    Ok((user(&row)?, account))
}

/// The id of the account that has `email`, if one does.
pub async fn owner_of(db: &Db, email: &EmailAddress) -> Result<Option<UserId>, AppError> {
    let email = email.as_str();
    let row = db.query_opt("SELECT id FROM users WHERE email = $1", &[(&email, Type::TEXT)]).await?;
    Ok(row.map(|r| r.get(0)))
}

/// The active user linked to a provider account.
pub async fn find_by_provider(db: &Db, provider: &str, account_id: &str) -> Result<Option<User>, AppError> {
    let row = db
        .query_opt(
            "SELECT u.id, u.email, u.session_version
             FROM oauth_accounts o JOIN users u ON u.id = o.user_id
             WHERE o.provider = $1 AND o.provider_account_id = $2
               AND u.deleted_at IS NULL AND u.email IS NOT NULL",
            &[(&provider, Type::TEXT), (&account_id, Type::TEXT)],
        )
        .await?;
    row.map(|r| user(&r)).transpose()
}

/// Links a provider account to a user (a no-op when that provider account is linked already).
pub async fn link_provider(
    db: &Db,
    user_id: UserId,
    provider: &str,
    account_id: &str,
    email: &EmailAddress,
) -> Result<(), AppError> {
    let email = email.as_str();
    db.execute(
        "INSERT INTO oauth_accounts (provider, provider_account_id, user_id, email) VALUES ($1, $2, $3, $4)
         ON CONFLICT (provider, provider_account_id) DO NOTHING",
        &[(&provider, Type::TEXT), (&account_id, Type::TEXT), (&user_id, Type::INT8), (&email, Type::TEXT)],
    )
    .await?;
    Ok(())
}

/// The address of the user's linked account at `provider`, if any.
pub async fn provider_email(db: &Db, user_id: UserId, provider: &str) -> Result<Option<String>, AppError> {
    let row = db
        .query_opt(
            "SELECT email FROM oauth_accounts WHERE user_id = $1 AND provider = $2 ORDER BY created_at LIMIT 1",
            &[(&user_id, Type::INT8), (&provider, Type::TEXT)],
        )
        .await?;
    Ok(row.and_then(|r| r.get(0)))
}

/// Forgets the user's linked account at `provider`; whether there was one.
pub async fn unlink_provider(db: &Db, user_id: UserId, provider: &str) -> Result<bool, AppError> {
    let n = db
        .execute(
            "DELETE FROM oauth_accounts WHERE user_id = $1 AND provider = $2 RETURNING 1",
            &[(&user_id, Type::INT8), (&provider, Type::TEXT)],
        )
        .await?;
    Ok(n > 0)
}

/// "Sign out everywhere": every session token issued before carries an older version.
pub async fn bump_session_version(db: &Db, user_id: UserId) -> Result<(), AppError> {
    db.execute(
        "UPDATE users SET session_version = session_version + 1, updated_at = now() WHERE id = $1",
        &[(&user_id, Type::INT8)],
    )
    .await?;
    Ok(())
}

/// Deletes an account the way the law lets us: everything personal goes — email, name,
/// sign-in links, pending address changes, linked provider accounts, sessions (with their browser and place), the
/// affiliate link, and all the person's content (AgentWrite briefs and outputs, PodScribe
/// transcripts with their file names, segments and notes, and every credit-ledger note, which
/// can name a file or a product). The row itself stays with its id, so that the records
/// accounting must keep — the ledger's amounts and references, checkout sessions, subscriptions
/// and invoices with their Stripe ids — still add up without naming anyone.
/// `welcome_claims` is left alone on purpose: its keyed hash names no one and is what stops a
/// deleted address from collecting welcome credits again.
///
/// Run it inside a transaction. A table added later with a user reference must be handled
/// here: `auth_account_erasure::deletion_leaves_nothing_personal_in_any_table` finds every such
/// table through `information_schema` and fails until it is.
pub async fn anonymize(db: &Db, user_id: UserId) -> Result<bool, AppError> {
    let id = [(&user_id as &(dyn tokio_postgres::types::ToSql + Sync), Type::INT8)];
    db.execute("DELETE FROM email_sign_in_tokens WHERE email = (SELECT email FROM users WHERE id = $1)", &id)
        .await?;
    for erase in [
        "DELETE FROM oauth_accounts WHERE user_id = $1",
        // The link to their Rewardful affiliate (which Rewardful keeps under their email).
        "DELETE FROM affiliates WHERE user_id = $1",
        "DELETE FROM sessions WHERE user_id = $1",
        // A pending address change holds the address asked for.
        "DELETE FROM email_changes WHERE user_id = $1",
        "DELETE FROM generations WHERE user_id = $1",
        "DELETE FROM transcripts WHERE user_id = $1",
        // Uploads in parts name their file (R2 was told to drop unfinished ones just before).
        "DELETE FROM episode_uploads WHERE user_id = $1",
        // Billing mail owed to them (and the record of what was sent): none goes out after this.
        "DELETE FROM customer_notices WHERE user_id = $1",
        "UPDATE credit_ledger SET note = NULL WHERE user_id = $1 AND note IS NOT NULL",
        // The operator log keeps what was done and when; its free text can name the person.
        "UPDATE admin_audit SET detail = '(erased with the account)' WHERE user_id = $1",
        "UPDATE admin_audit SET admin_email = '(deleted operator)' WHERE admin_id = $1",
        // Links to Stripe's pages of an invoice and a receipt, which show the name and address.
        "UPDATE invoices SET hosted_invoice_url = NULL WHERE user_id = $1 AND hosted_invoice_url IS NOT NULL",
        "UPDATE charges SET receipt_url = NULL WHERE user_id = $1 AND receipt_url IS NOT NULL",
    ] {
        db.execute(erase, &id).await?;
    }
    let erased = db
        .query_opt(
            "UPDATE users SET email = NULL, name = NULL, email_verified_at = NULL, suspended_reason = NULL,
                    session_version = session_version + 1, deleted_at = now(), updated_at = now()
             WHERE id = $1 AND deleted_at IS NULL
             RETURNING id",
            &id,
        )
        .await?;
    Ok(erased.is_some())
}
