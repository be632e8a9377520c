//! What the operator console reads: users with their plan and credits, revenue, active
//! subscriptions, AI usage per day (from the credit ledger) and recent Stripe events.
//! Read-only; granting credits goes through `db::credits::grant` like every other change.

use super::Db;
use crate::error::AppError;
use tokio_postgres::types::Type;

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    /// `None` for a deleted (anonymized) account.
    pub email: Option<String>,
    /// "2026-05-12".
    pub signed_up: String,
    pub balance: i64,
    /// The plan a live subscription gives ("starter", "pro"), as `plan_for` decides it.
    pub plan: Option<String>,
}

/// The plan a user has right now (the SQL twin of `services::billing::grants_access`).
const PLAN_NOW: &str = "(SELECT s.plan FROM subscriptions s
    WHERE s.user_id = u.id AND s.plan <> 'other' AND s.status IN ('active', 'trialing', 'past_due')
      AND (s.ended_at IS NULL OR s.ended_at > now()) AND (s.cancel_at IS NULL OR s.cancel_at > now())
      AND NOT (s.cancel_at_period_end AND s.current_period_end IS NOT NULL AND s.current_period_end <= now())
    ORDER BY s.stripe_created_at DESC LIMIT 1)";

/// Users whose email contains `query` (case-insensitive), or the newest when `query` is empty;
/// newest first.
pub async fn search_users(db: &Db, query: &str, limit: i64) -> Result<Vec<UserRow>, AppError> {
    let pattern =
        format!("%{}%", query.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    let sql = format!(
        "SELECT u.id, u.email, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
                coalesce(b.balance, 0), {PLAN_NOW}
         FROM users u LEFT JOIN credit_balances b ON b.user_id = u.id
         WHERE ($1 = '%%' OR u.email LIKE $1)
         ORDER BY u.id DESC LIMIT $2"
    );
    let rows = db.read(&sql, &[(&pattern, Type::TEXT), (&limit, Type::INT8)]).await?;
    Ok(rows
        .iter()
        .map(|r| UserRow {
            id: r.get(0),
            email: r.get(1),
            signed_up: r.get(2),
            balance: r.get(3),
            plan: r.get(4),
        })
        .collect())
}

/// The id of the active account with this (lower-cased) address.
pub async fn user_id_by_email(db: &Db, email: &str) -> Result<Option<i64>, AppError> {
    let row = db
        .query_opt("SELECT id FROM users WHERE email = $1 AND deleted_at IS NULL", &[(&email, Type::TEXT)])
        .await?;
    Ok(row.map(|r| r.get(0)))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevenueRow {
    pub currency: String,
    pub all_time: i64,
    pub last_30_days: i64,
}

/// Money received: paid subscription invoices plus paid credit-pack checkouts (a plan's first
/// payment is its first invoice, so subscription checkouts are not counted twice).
pub async fn revenue(db: &Db) -> Result<Vec<RevenueRow>, AppError> {
    let rows = db
        .read(
            "WITH paid AS (
                 SELECT currency, amount_paid AS amount, updated_at AS at FROM invoices WHERE status = 'paid'
                 UNION ALL
                 SELECT currency, amount, coalesce(paid_at, updated_at) FROM checkout_sessions
                 WHERE mode = 'payment' AND status = 'paid'
             )
             SELECT lower(currency), sum(amount)::int8,
                    coalesce(sum(amount) FILTER (WHERE at > now() - interval '30 days'), 0)::int8
             FROM paid WHERE currency <> '' GROUP BY lower(currency) ORDER BY 2 DESC",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| RevenueRow { currency: r.get(0), all_time: r.get(1), last_30_days: r.get(2) })
        .collect())
}

/// Live subscriptions per plan (the ones that give their plan now).
pub async fn active_subscriptions(db: &Db) -> Result<Vec<(String, i64)>, AppError> {
    let rows = db
        .read(
            "SELECT s.plan, count(*) FROM subscriptions s
             WHERE s.status IN ('active', 'trialing', 'past_due')
               AND (s.ended_at IS NULL OR s.ended_at > now()) AND (s.cancel_at IS NULL OR s.cancel_at > now())
               AND NOT (s.cancel_at_period_end AND s.current_period_end IS NOT NULL AND s.current_period_end <= now())
             GROUP BY s.plan ORDER BY s.plan",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub day: String,
    pub agentwrite_runs: i64,
    pub agentwrite_credits: i64,
    pub podscribe_runs: i64,
    pub podscribe_credits: i64,
    /// Credits given back for failed runs that day.
    pub refunded: i64,
}

/// AI usage per day (UTC) over the last `days` days, newest first: what the tools charged.
pub async fn usage_per_day(db: &Db, days: i64) -> Result<Vec<UsageRow>, AppError> {
    let rows = db
        .read(
            "SELECT to_char(date_trunc('day', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day,
                    count(*) FILTER (WHERE reason = 'agentwrite'),
                    coalesce(-sum(delta) FILTER (WHERE reason = 'agentwrite'), 0)::int8,
                    count(*) FILTER (WHERE reason = 'podscribe' AND reference NOT LIKE '%:extra'),
                    coalesce(-sum(delta) FILTER (WHERE reason = 'podscribe'), 0)::int8,
                    coalesce(sum(delta) FILTER (WHERE reason = 'tool_refund'), 0)::int8
             FROM credit_ledger
             WHERE reason IN ('agentwrite', 'podscribe', 'tool_refund')
               AND created_at > now() - make_interval(days => $1::int4)
             GROUP BY 1 ORDER BY 1 DESC",
            &[(&(days as i32), Type::INT4)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| UsageRow {
            day: r.get(0),
            agentwrite_runs: r.get(1),
            agentwrite_credits: r.get(2),
            podscribe_runs: r.get(3),
            podscribe_credits: r.get(4),
            refunded: r.get(5),
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub id: String,
    pub kind: String,
    pub outcome: String,
    pub detail: String,
    pub attempts: i32,
    /// "2026-05-12 14:03:09" (UTC).
    pub received: String,
}

pub async fn recent_events(db: &Db, limit: i64) -> Result<Vec<EventRow>, AppError> {
    let rows = db
        .read(
            "SELECT id, type, outcome, coalesce(detail, ''), attempts,
                    to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
             FROM stripe_events ORDER BY received_at DESC, id LIMIT $1",
            &[(&limit, Type::INT8)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| EventRow {
            id: r.get(0),
            kind: r.get(1),
            outcome: r.get(2),
            detail: r.get(3),
            attempts: r.get(4),
            received: r.get(5),
        })
        .collect())
}
