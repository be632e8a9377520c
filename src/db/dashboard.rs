//! What the signed-in dashboard shows, read in one statement: one round trip instead of four
//! (the budget is the session check plus one; see BENCHMARKS.md).
//!
//! The rows are those of `credits::recent`, `history::page` and `billing::subscriptions_of`,
//! whose SQL is reused as is, with the usage parts (credits spent per tool and UTC day over 30
//! days; each live subscription's allowance for its current period and what was spent since it
//! began) and whether the account is held (suspended, or a dispute); each row travels as JSON (`row_to_json`, keyed by the column
//! names, which are the fields of the row structs), tagged with its part. UNION ALL keeps no
//! order, so each part is sorted again here by the keys its query sorts by. (Pipelining the
//! four statements would also take one round trip, but not safely through a transaction-mode
//! pooler such as Hyperdrive.)

use super::billing::subscriptions_of_sql;
use super::credits::{LedgerEntry, RECENT_SQL};
use super::history::page_sql;
use super::reversals::{on_hold_sql, Hold};
use super::states::words;
use super::Db;
use crate::domain::billing::SubscriptionRecord;
use crate::domain::tool::{RunSummary, Tool};
use crate::domain::usage::{DayUsage, PeriodUsage};
use crate::domain::Credits;
use crate::domain::UserId;
use crate::error::AppError;
use tokio_postgres::types::Type;

#[derive(Debug, Default)]
pub struct DashboardData {
    pub balance: Credits,
    /// Newest first.
    pub subscriptions: Vec<SubscriptionRecord>,
    /// The newest `shown` ledger entries, newest first.
    pub ledger: Vec<LedgerEntry>,
    /// The newest `shown` tool runs, newest first.
    pub recent_work: Vec<RunSummary>,
    /// Credits spent per UTC day and tool over the last 30 days (refunds netted on their day).
    pub usage: Vec<DayUsage>,
    /// Per live subscription: its current period's allowance and the credits spent since it began.
    pub periods: Vec<PeriodUsage>,
    /// Why paid features are held (a suspension is named first), if they are.
    pub hold: Option<Hold>,
}

/// What the tools (`$4`: their ledger reasons) cost user `$1`, one row per ledger entry: a
/// run's charge, or a refund of one (its tool is that of the charge with the same reference),
/// since 30 UTC days ago or the start of a live subscription's period, whichever is earlier.
const TOOL_SPEND: &str = "tool_spend AS (
    SELECT coalesce(s.reason, l.reason) AS tool, l.created_at AS at, -l.delta AS credits
    FROM credit_ledger l
    LEFT JOIN credit_ledger s ON l.reason = 'tool_refund' AND s.user_id = l.user_id
         AND s.reason = ANY($4) AND s.reference = l.reference
    WHERE l.user_id = $1
      AND (l.reason = ANY($4) OR (l.reason = 'tool_refund' AND s.reason IS NOT NULL))
      AND l.created_at >= least((SELECT since FROM chart_days),
          (SELECT min(current_period_start) FROM subscriptions
           WHERE user_id = $1 AND status NOT IN ('canceled', 'incomplete_expired')))
)";

/// The first instant of the 30 UTC days the chart shows (today included).
const CHART_DAYS: &str = "chart_days AS (
    SELECT (date_trunc('day', now() AT TIME ZONE 'UTC') - interval '29 days') AT TIME ZONE 'UTC' AS since
)";

/// The dashboard of `user_id`, with `shown` ledger entries and tool runs.
pub async fn load(db: &Db, user_id: UserId, shown: i64) -> Result<DashboardData, AppError> {
    // $1: the user; $2: how many ledger entries and history items; $3: the history offset;
    // $4: the tools' ledger reasons.
    let sql = format!(
        "WITH {CHART_DAYS}, {TOOL_SPEND}
         SELECT 'balance', json_build_object('balance',
                COALESCE((SELECT balance FROM credit_balances WHERE user_id = $1), 0),
                'suspended', EXISTS (SELECT 1 FROM users WHERE id = $1 AND suspended_at IS NOT NULL),
                'disputed', {})::text
         UNION ALL SELECT 'subscription', row_to_json(s)::text FROM ({}) s
         UNION ALL SELECT 'ledger', row_to_json(l)::text FROM ({RECENT_SQL}) l
         UNION ALL SELECT 'work', row_to_json(w)::text FROM ({}) w
         UNION ALL SELECT 'usage', row_to_json(u)::text FROM (
             SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, tool, sum(credits)::int8 AS credits
             FROM tool_spend WHERE at >= (SELECT since FROM chart_days) GROUP BY 1, 2) u
         UNION ALL SELECT 'period', row_to_json(p)::text FROM (
             SELECT s.id AS subscription_id, coalesce(a.credits, 0) AS allowance,
                    (SELECT coalesce(sum(t.credits), 0) FROM tool_spend t
                     WHERE t.at >= s.current_period_start)::int8 AS spent
             FROM subscriptions s
             LEFT JOIN allowance_periods a
                  ON a.subscription_id = s.id AND a.period_end = s.current_period_end
             WHERE s.user_id = $1 AND s.status NOT IN ('canceled', 'incomplete_expired')
               AND s.current_period_start IS NOT NULL) p",
        on_hold_sql("$1"),
        subscriptions_of_sql(),
        page_sql()
    );
    let (offset, tools) = (0_i64, words(&Tool::ALL));
    let rows = db
        .read(
            &sql,
            &[
                (&user_id, Type::INT8),
                (&shown, Type::INT8),
                (&offset, Type::INT8),
                (&tools, Type::TEXT_ARRAY),
            ],
        )
        .await?;
    let parts = rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)));
    assemble(parts)
}

/// Sorts tagged JSON rows into the dashboard's parts (pure, so it is tested natively).
fn assemble(rows: impl Iterator<Item = (String, String)>) -> Result<DashboardData, AppError> {
    #[derive(serde::Deserialize)]
    struct Balance {
        balance: Credits,
        #[serde(default)]
        suspended: bool,
        #[serde(default)]
        disputed: bool,
    }
    fn parse<T: serde::de::DeserializeOwned>(part: &str, json: &str) -> Result<T, AppError> {
        serde_json::from_str(json)
            .map_err(|e| AppError::internal(format!("dashboard {part} row: {e}: {json}")))
    }
    let mut d = DashboardData::default();
    for (part, json) in rows {
        match part.as_str() {
            "balance" => {
                let b = parse::<Balance>(&part, &json)?;
                d.balance = b.balance;
                d.hold = match (b.suspended, b.disputed) {
                    (true, _) => Some(Hold::Suspended),
                    (false, true) => Some(Hold::Dispute),
                    _ => None,
                };
            }
            "usage" => d.usage.push(parse(&part, &json)?),
            "period" => d.periods.push(parse(&part, &json)?),
            "subscription" => d.subscriptions.push(parse(&part, &json)?),
            "ledger" => d.ledger.push(parse(&part, &json)?),
            "work" => d.recent_work.push(parse(&part, &json)?),
            other => return Err(AppError::internal(format!("dashboard: unknown part {other}"))),
        }
    }
    // The orders of the queries the parts come from.
    d.subscriptions.sort_by(|a, b| (b.created, &b.id).cmp(&(a.created, &a.id)));
    d.ledger.sort_by_key(|l| std::cmp::Reverse(l.id));
    d.recent_work.sort_by(|a, b| (b.created_at_ms, &b.id).cmp(&(a.created_at_ms, &a.id)));
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(part: &str, json: &str) -> (String, String) {
        (part.to_string(), json.to_string())
    }

    #[test]
    fn rows_are_sorted_into_their_parts_in_their_queries_order() {
        let rows = vec![
            row(
                "ledger",
                r#"{"id":7,"delta":-1,"reason":"agentwrite","reference":"g1","note":null,"created_at_ms":2000,"balance_after":4}"#,
            ),
            row(
                "work",
                r#"{"tool":"agentwrite","id":"a1","title":"Tent","status":"done","cut_short":true,"created_at_ms":1000}"#,
            ),
            row("balance", r#"{"balance":4}"#),
            row(
                "ledger",
                r#"{"id":9,"delta":5,"reason":"purchase","reference":"cs_1","note":"pack","created_at_ms":3000,"balance_after":9}"#,
            ),
            row(
                "work",
                r#"{"tool":"podscribe","id":"p1","title":"ep.mp3","status":"writing_notes","cut_short":false,"created_at_ms":5000}"#,
            ),
            row(
                "subscription",
                r#"{"id":"sub_1","user_id":3,"customer_id":"cus_1","price_id":"price_s","plan":"starter","status":"active","cancel_at_period_end":false,"period_start":10,"period_end":20,"cancel_at":null,"canceled_at":null,"ended_at":null,"created":10,"synced_at_ms":11}"#,
            ),
        ];
        let mut rows = rows;
        rows.push(row("usage", r#"{"day":"2026-12-04","tool":"podscribe","credits":3}"#));
        rows.push(row("period", r#"{"subscription_id":"sub_1","allowance":100,"spent":7}"#));
        rows[2] = row("balance", r#"{"balance":4,"suspended":true,"disputed":true}"#);
        let d = assemble(rows.into_iter()).unwrap();
        assert_eq!(d.balance, 4);
        assert_eq!(d.hold, Some(Hold::Suspended), "a suspension is named first");
        assert_eq!((d.usage[0].tool, d.usage[0].credits.get()), (Tool::PodScribe, 3));
        assert_eq!((d.periods[0].allowance.get(), d.periods[0].spent.get()), (100, 7));
        assert_eq!(d.ledger.iter().map(|l| l.id).collect::<Vec<_>>(), [9, 7]);
        assert_eq!(d.ledger[1].note, None);
        assert_eq!(d.recent_work.iter().map(|w| w.id.as_str()).collect::<Vec<_>>(), ["p1", "a1"]);
        assert_eq!(d.recent_work[0].status_label(), "Writing show notes…");
        assert_eq!(d.recent_work[1].status_label(), "Done (cut short)");
        assert_eq!(d.subscriptions[0].customer_id, "cus_1");
        assert_eq!(d.subscriptions[0].period_end, Some(20));
    }

    #[test]
    fn a_malformed_row_is_an_error_that_names_its_part() {
        let err = assemble(vec![row("ledger", r#"{"id":"x"}"#)].into_iter()).unwrap_err();
        assert!(err.to_string().contains("dashboard ledger row"), "{err}");
        assert!(assemble(vec![row("nope", "{}")].into_iter()).is_err());
        assert_eq!(assemble(std::iter::empty()).unwrap().balance, 0);
        let d =
            assemble(vec![row("balance", r#"{"balance":0,"suspended":false,"disputed":true}"#)].into_iter());
        assert_eq!(d.unwrap().hold, Some(Hold::Dispute));
    }
}
