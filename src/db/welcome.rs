//! Who had welcome credits (a keyed hash per person, kept after account deletion), the refusals
//! the operator console counts, and those counts.

use super::Db;
use crate::domain::console::WelcomeCounts;
use crate::error::AppError;
use tokio_postgres::types::Type;

/// Why a new account got no welcome credits (`welcome_refusals.why`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The same person (by `EmailAddress::person_key`) had them before.
    ClaimedBefore,
    /// Their client made too many new accounts today (`welcome_credits_per_ip`).
    ClientLimit,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::ClaimedBefore => "claimed_before",
            Refusal::ClientLimit => "client_limit",
        }
    }
}

/// Claims the welcome credits of `identity`: true when no one had claimed them. A concurrent
/// claim of the same identity waits for this transaction and then finds it claimed.
pub async fn claim(db: &Db, identity: &[u8; 32]) -> Result<bool, AppError> {
    let identity = identity.as_slice();
    let row = db
        .query_opt(
            "INSERT INTO welcome_claims (identity_hash) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1",
            &[(&identity, Type::BYTEA)],
        )
        .await?;
    Ok(row.is_some())
}

/// Gives back a claim made in this transaction (the grant was refused after all).
pub async fn release(db: &Db, identity: &[u8; 32]) -> Result<(), AppError> {
    let identity = identity.as_slice();
    db.execute("DELETE FROM welcome_claims WHERE identity_hash = $1", &[(&identity, Type::BYTEA)]).await?;
    Ok(())
}

pub async fn record_refusal(db: &Db, why: Refusal) -> Result<(), AppError> {
    let why = why.as_str();
    db.execute("INSERT INTO welcome_refusals (why) VALUES ($1)", &[(&why, Type::TEXT)]).await?;
    Ok(())
}

pub async fn counts(db: &Db) -> Result<WelcomeCounts, AppError> {
    let row = db
        .query_one(
            "SELECT
                 (SELECT count(*) FROM credit_ledger WHERE reason = 'welcome'),
                 (SELECT count(*) FROM credit_ledger
                  WHERE reason = 'welcome' AND created_at > now() - interval '30 days'),
                 (SELECT coalesce(sum(delta), 0)::int8 FROM credit_ledger WHERE reason = 'welcome'),
                 (SELECT count(*) FROM welcome_refusals WHERE why = 'claimed_before'),
                 (SELECT count(*) FROM welcome_refusals WHERE why = 'client_limit'),
                 (SELECT count(*) FROM welcome_refusals WHERE refused_at > now() - interval '30 days')",
            &[],
        )
        .await?;
    Ok(WelcomeCounts {
        granted: row.get(0),
        granted_30_days: row.get(1),
        credits: row.get(2),
        refused_claimed_before: row.get(3),
        refused_client_limit: row.get(4),
        refused_30_days: row.get(5),
    })
}
