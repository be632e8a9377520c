//! Everything we hold about one user, as one JSON document built by Postgres in one statement
//! (`POST /account/export`, a single round trip): the account (with a suspension and its
//! reason), linked sign-ins, a pending address change, sessions, credits and their ledger,
//! purchases, subscriptions, invoices, charges (with their receipts), refunds and disputes, the
//! Stripe customer id, billing notices, AgentWrite generations with their briefs, PodScribe
//! transcripts with segments and notes, uploads in parts (unfinished ones too), operators'
//! actions on the account with their notes, and the affiliate link. The e2e test
//! `auth_account_export` fails when a table with a user reference is neither here nor listed as
//! not exported.

use super::Db;
use crate::domain::UserId;
use crate::error::AppError;
use tokio_postgres::types::Type;

/// Each part: its key and the rows it lists (`$1` is the user), oldest first. Public so the
/// e2e test can check that every table referencing a user is read here.
pub const PARTS: [(&str, &str); 18] = [
    ("linked_accounts", "SELECT provider, email, created_at AS linked_at FROM oauth_accounts WHERE user_id = $1 ORDER BY created_at"),
    ("pending_email_changes", "SELECT new_email, created_at AS requested_at, expires_at FROM email_changes WHERE user_id = $1 AND used_at IS NULL AND expires_at > now() ORDER BY created_at"),
    ("sessions", "SELECT browser, place, created_at AS signed_in_at, last_seen_at FROM sessions WHERE user_id = $1 ORDER BY created_at"),
    ("credit_ledger", "SELECT delta, reason, reference, note, created_at FROM credit_ledger WHERE user_id = $1 ORDER BY id"),
    ("purchases", "SELECT id, mode, item_name, credits, amount, currency, status, created_at, paid_at, failed_at FROM checkout_sessions WHERE user_id = $1 ORDER BY created_at"),
    ("subscriptions", "SELECT id, plan, status, cancel_at_period_end, current_period_start, current_period_end, cancel_at, canceled_at, ended_at, stripe_created_at AS created_at FROM subscriptions WHERE user_id = $1 ORDER BY stripe_created_at"),
    ("invoices", "SELECT id, number, subscription_id, billing_reason, status, amount_due, amount_paid, currency, period_start, period_end, hosted_invoice_url, created_at FROM invoices WHERE user_id = $1 ORDER BY created_at"),
    ("charges", "SELECT id, amount, currency, receipt_url, stripe_created_at AS created_at FROM charges WHERE user_id = $1 ORDER BY stripe_created_at"),
    ("generations", "SELECT id, status, brief, product_name, model, credits, output, title, description, bullets, error, cut_short, created_at, finished_at FROM generations WHERE user_id = $1 ORDER BY created_at"),
    ("transcripts", "SELECT id, status, file_name, media_type, size_bytes, duration_secs, model, credits, credits_refunded, language, text, segments, notes, notes_error, error, cut_at_secs, created_at, finished_at FROM transcripts WHERE user_id = $1 ORDER BY created_at"),
    ("refunds", "SELECT charge_id, purchase, amount, currency, amount_refunded, dispute_lost, credits_taken, credits_unrecovered, created_at, updated_at FROM charge_reversals WHERE user_id = $1 ORDER BY created_at"),
    ("disputes", "SELECT id, charge_id, amount, currency, status, closed, created_at, updated_at FROM disputes WHERE user_id = $1 ORDER BY created_at"),
    ("stripe_customer", "SELECT stripe_customer_id, created_at FROM billing_customers WHERE user_id = $1"),
    ("billing_notices", "SELECT kind, about, plan, amount, currency, credits, balance, to_timestamp(period_end) AS period_end, created_at, sent_at, dropped_at FROM customer_notices WHERE user_id = $1 ORDER BY created_at"),
    ("uploads", "SELECT id, file_name, size_bytes, created_at, assembled_at, completed_at FROM episode_uploads WHERE user_id = $1 ORDER BY created_at"),
    // The operator's own id and address are theirs, not the user's: left out.
    ("account_actions", "SELECT action, detail AS note, created_at FROM admin_audit WHERE user_id = $1 ORDER BY id"),
    ("affiliate", "SELECT rewardful_affiliate_id, created_at FROM affiliates WHERE user_id = $1"),
    ("welcome", "SELECT 'A keyed one-way fingerprint of your address records that you had welcome credits; it cannot be turned back into the address.' AS note WHERE EXISTS (SELECT 1 FROM credit_ledger WHERE user_id = $1 AND reason = 'welcome')"),
];

/// The user's data as JSON text, keys in the order above (`None` for a user who does not exist).
pub async fn everything(db: &Db, user_id: UserId, exported_at_ms: i64) -> Result<Option<String>, AppError> {
    let parts: Vec<String> = PARTS
        .iter()
        .map(|(key, sql)| format!("'{key}', COALESCE((SELECT json_agg(p) FROM ({sql}) p), '[]'::json)"))
        .collect();
    let sql = format!(
        "SELECT json_build_object(
             'format', 'ghosttools-export-1',
             'exported_at', to_timestamp($2::float8 / 1000),
             'account', (SELECT json_build_object('id', id, 'email', email, 'name', name,
                             'email_verified_at', email_verified_at, 'created_at', created_at,
                             'suspended_at', suspended_at, 'suspended_reason', suspended_reason)),
             'credit_balance', COALESCE((SELECT balance FROM credit_balances WHERE user_id = $1), 0),
             {}
         )::text
         FROM users WHERE id = $1 AND deleted_at IS NULL",
        parts.join(",\n             ")
    );
    let row = db.query_opt(&sql, &[(&user_id, Type::INT8), (&exported_at_ms, Type::INT8)]).await?;
    Ok(row.map(|r| r.get(0)))
}
