//! What the operator console reads: users with their plan and credits, revenue, active
//! subscriptions, AI usage per day (from the credit ledger) and recent Stripe events.
//! Read-only; granting credits goes through `db::credits::grant` like every other change.

use super::reversals::on_hold_sql;
use super::states::{words, Stored};
use super::Db;
use crate::domain::billing::Plan;
use crate::domain::console::{EventRow, RevenueRow, ReversalRow, ToolUsage, UsageRow, UserRow};
use crate::domain::ledger::Reason;
use crate::domain::tool::Tool;
use crate::domain::Credits;
use crate::domain::UserId;
use crate::error::AppError;
use tokio_postgres::types::Type;

/// The plan a user has right now (the SQL twin of `services::billing::grants_access`).
const PLAN_NOW: &str = "(SELECT s.plan FROM subscriptions s
    WHERE s.user_id = u.id AND s.plan <> 'other' AND s.status IN ('active', 'trialing', 'past_due')
      AND (s.ended_at IS NULL OR s.ended_at > now()) AND (s.cancel_at IS NULL OR s.cancel_at > now())
      AND NOT (s.cancel_at_period_end AND s.current_period_end IS NOT NULL AND s.current_period_end <= now())
    ORDER BY s.stripe_created_at DESC LIMIT 1)";

/// Money received, one row per payment or reversal: paid subscription invoices (`amount_paid`,
/// after discounts), paid credit-pack checkouts (Stripe's `amount_total`, after promotion codes;
/// the list price for checkouts paid before it was stored), minus what went back (refunds, and
/// whole charges lost to disputes). A plan's first payment is its first invoice, so
/// subscription checkouts are not counted twice; a pack's own invoice is not counted either.
const MONEY: &str = "money AS (
    SELECT user_id, lower(currency) AS currency, amount_paid AS amount, updated_at AS at
    FROM invoices WHERE status = 'paid' AND subscription_id IS NOT NULL
    UNION ALL
    SELECT user_id, lower(currency), coalesce(amount_paid, amount), coalesce(paid_at, updated_at)
    FROM checkout_sessions WHERE mode = 'payment' AND status = 'paid'
    UNION ALL
    SELECT user_id, currency, -(CASE WHEN dispute_lost THEN amount ELSE amount_refunded END), updated_at
    FROM charge_reversals
)";

/// Which users to list: those whose email contains `query` (all when empty), or one by id.
#[derive(Debug, Clone, Copy)]
pub enum Users<'a> {
    Matching { query: &'a str, limit: i64, offset: i64 },
    One(UserId),
}

/// Users, newest first: a page of those matching a search (one more than `limit` is read, so
/// the caller knows whether a next page exists), or one account.
pub async fn users(db: &Db, which: Users<'_>) -> Result<Vec<UserRow>, AppError> {
    let (pattern, id, limit, offset) = match which {
        Users::Matching { query, limit, offset } => (like_pattern(query), None, limit + 1, offset),
        Users::One(id) => ("%%".to_string(), Some(id), 1, 0),
    };
    let sql = format!(
        "WITH {MONEY}
         SELECT u.id, u.email, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
                coalesce(b.balance, 0), {PLAN_NOW},
                (SELECT coalesce(string_agg(t.currency || ' ' || t.total, ',' ORDER BY t.currency), '')
                 FROM (SELECT m.currency, sum(m.amount)::int8 AS total FROM money m
                       WHERE m.user_id = u.id AND m.currency <> '' GROUP BY 1) t),
                {}, u.suspended_at IS NOT NULL, coalesce(u.suspended_reason, '')
         FROM users u LEFT JOIN credit_balances b ON b.user_id = u.id
         WHERE ($1 = '%%' OR u.email LIKE $1) AND ($2::int8 IS NULL OR u.id = $2)
         ORDER BY u.id DESC LIMIT $3 OFFSET $4",
        on_hold_sql("u.id")
    );
    let rows = db
        .read(&sql, &[(&pattern, Type::TEXT), (&id, Type::INT8), (&limit, Type::INT8), (&offset, Type::INT8)])
        .await?;
    Ok(rows
        .iter()
        .map(|r| UserRow {
            id: r.get(0),
            email: r.get(1),
            signed_up: r.get(2),
            balance: r.get(3),
            plan: r.get::<_, Option<&str>>(4).and_then(Plan::from_stored).unwrap_or(Plan::Free),
            paid: r
                .get::<_, String>(5)
                .split(',')
                .filter_map(|pair| pair.split_once(' '))
                .filter_map(|(currency, total)| Some((currency.to_string(), total.parse().ok()?)))
                .collect(),
            on_hold: r.get(6),
            suspended: r.get(7),
            suspended_reason: r.get(8),
        })
        .collect())
}

/// `%part%` for `LIKE`, with the part's own wildcards escaped (`'%%'` for an empty query).
fn like_pattern(query: &str) -> String {
    format!("%{}%", query.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

/// Refunded or disputed charges of accounts whose email contains `query`, newest first.
pub async fn reversals(db: &Db, query: &str, limit: i64) -> Result<Vec<ReversalRow>, AppError> {
    let rows = db
        .read(
            "WITH charges AS (SELECT charge_id, user_id FROM charge_reversals
                              UNION SELECT charge_id, user_id FROM disputes)
             SELECT c.charge_id, coalesce(u.email, '(deleted account #' || u.id || ')'),
                    coalesce(r.purchase, ''), coalesce(r.amount, d.amount), coalesce(r.currency, d.currency),
                    coalesce(r.amount_refunded, 0), d.status, coalesce(r.credits_taken, 0),
                    coalesce(r.credits_unrecovered, 0),
                    to_char(greatest(r.updated_at, d.updated_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
             FROM charges c JOIN users u ON u.id = c.user_id
             LEFT JOIN charge_reversals r ON r.charge_id = c.charge_id
             LEFT JOIN LATERAL (SELECT status, amount, currency, updated_at FROM disputes
                                WHERE charge_id = c.charge_id ORDER BY updated_at DESC LIMIT 1) d ON true
             WHERE ($1 = '%%' OR u.email LIKE $1)
             ORDER BY greatest(r.updated_at, d.updated_at) DESC, c.charge_id LIMIT $2",
            &[(&like_pattern(query), Type::TEXT), (&limit, Type::INT8)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| ReversalRow {
            charge_id: r.get(0),
            account: r.get(1),
            purchase: r.get(2),
            amount: r.get(3),
            currency: r.get(4),
            refunded: r.get(5),
            dispute: r.get(6),
            credits_taken: r.get(7),
            credits_unrecovered: r.get(8),
            updated: r.get(9),
        })
        .collect())
}

/// Credits owed back for refunds and lost disputes that could not be taken (already spent).
pub async fn unrecovered_credits(db: &Db) -> Result<Credits, AppError> {
    let row =
        db.query_one("SELECT coalesce(sum(credits_unrecovered), 0)::int8 FROM charge_reversals", &[]).await?;
    Ok(row.get(0))
}

/// The id of the active account with this (lower-cased) address.
pub async fn user_id_by_email(db: &Db, email: &str) -> Result<Option<UserId>, AppError> {
    let row = db
        .query_opt("SELECT id FROM users WHERE email = $1 AND deleted_at IS NULL", &[(&email, Type::TEXT)])
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Money received (`MONEY`) per currency: all time and the last 30 days.
pub async fn revenue(db: &Db) -> Result<Vec<RevenueRow>, AppError> {
    let sql = format!(
        "WITH {MONEY}
         SELECT currency, sum(amount)::int8,
                coalesce(sum(amount) FILTER (WHERE at > now() - interval '30 days'), 0)::int8
         FROM money WHERE currency <> '' GROUP BY currency ORDER BY 2 DESC"
    );
    let rows = db.read(&sql, &[]).await?;
    Ok(rows
        .iter()
        .map(|r| RevenueRow { currency: r.get(0), all_time: r.get(1), last_30_days: r.get(2) })
        .collect())
}

/// Money received (`MONEY`) per day (UTC) and currency over the last `days` days, oldest first;
/// days with nothing are absent.
pub async fn revenue_per_day(db: &Db, days: i64) -> Result<Vec<(String, String, i64)>, AppError> {
    let sql = format!(
        "WITH {MONEY}
         SELECT to_char(date_trunc('day', at AT TIME ZONE 'UTC'), 'YYYY-MM-DD'), currency, sum(amount)::int8
         FROM money WHERE currency <> ''
           AND at >= (date_trunc('day', now() AT TIME ZONE 'UTC') - make_interval(days => $1::int4 - 1)) AT TIME ZONE 'UTC'
         GROUP BY 1, 2 ORDER BY 1, 2"
    );
    let rows = db.query(&sql, &[(&(days as i32), Type::INT4)]).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
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

/// AI usage per day (UTC) over the last `days` days, newest first: what the tools charged.
/// A PodScribe run's second charge (reference `<id>:extra`) is not another run.
pub async fn usage_per_day(db: &Db, days: i64) -> Result<Vec<UsageRow>, AppError> {
    let mut reasons = words(&Tool::ALL);
    reasons.push(Reason::ToolRefund.stored().to_string());
    let rows = db
        .read(
            "SELECT to_char(date_trunc('day', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day, reason,
                    count(*) FILTER (WHERE reference NOT LIKE '%:extra'), coalesce(sum(delta), 0)::int8
             FROM credit_ledger
             WHERE reason = ANY($2) AND created_at > now() - make_interval(days => $1::int4)
             GROUP BY 1, 2 ORDER BY 1 DESC",
            &[(&(days as i32), Type::INT4), (&reasons, Type::TEXT_ARRAY)],
        )
        .await?;
    Ok(usage_rows(rows.iter().map(|r| (r.get(0), Tool::from_stored(r.get(1)), r.get(2), r.get(3)))))
}

/// Pure: (day, tool or `None` for a refund, runs, sum of deltas) per day and reason, days
/// grouped together → one row per day.
fn usage_rows(rows: impl Iterator<Item = (String, Option<Tool>, i64, Credits)>) -> Vec<UsageRow> {
    let mut out: Vec<UsageRow> = Vec::new();
    for (day, tool, runs, sum) in rows {
        if out.last().is_none_or(|u| u.day != day) {
            let tools =
                Tool::ALL.iter().map(|&tool| ToolUsage { tool, runs: 0, credits: Credits::ZERO }).collect();
            out.push(UsageRow { day, tools, refunded: Credits::ZERO });
        }
        let Some(row) = out.last_mut() else { continue };
        match tool.and_then(|t| row.tools.iter_mut().find(|u| u.tool == t)) {
            Some(u) => (u.runs, u.credits) = (runs, -sum),
            None => row.refunded = sum,
        }
    }
    out
}

/// The newest Stripe events (of one account, or of all), newest first.
pub async fn recent_events(db: &Db, user_id: Option<UserId>, limit: i64) -> Result<Vec<EventRow>, AppError> {
    let rows = db
        .read(
            "SELECT id, type, outcome, coalesce(detail, ''), attempts,
                    to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
             FROM stripe_events WHERE ($2::int8 IS NULL OR user_id = $2)
             ORDER BY received_at DESC, id LIMIT $1",
            &[(&limit, Type::INT8), (&user_id, Type::INT8)],
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_one_row_per_day_with_every_tool() {
        let rows = vec![
            ("2026-05-12".to_string(), Some(Tool::PodScribe), 1, Credits::new(-7)),
            ("2026-05-12".to_string(), None, 2, Credits::new(4)),
            ("2026-05-11".to_string(), Some(Tool::AgentWrite), 2, Credits::new(-5)),
        ];
        let usage = usage_rows(rows.into_iter());
        assert_eq!(usage.len(), 2);
        let counts = |u: &UsageRow| u.tools.iter().map(|t| (t.runs, t.credits.get())).collect::<Vec<_>>();
        assert_eq!((counts(&usage[0]), usage[0].refunded.get()), (vec![(0, 0), (1, 7)], 4));
        assert_eq!((counts(&usage[1]), usage[1].refunded.get()), (vec![(2, 5), (0, 0)], 0));
    }
}
