//! What the signed-in dashboard shows, read in one statement: one round trip instead of four
//! (the budget is the session check plus one; see BENCHMARKS.md).
//!
//! The rows are those of `credits::recent`, `history::page` and `billing::subscriptions_of`,
//! whose SQL is reused as is; each row travels as JSON (`row_to_json`, keyed by the column
//! names, which are the fields of the row structs), tagged with its part. UNION ALL keeps no
//! order, so each part is sorted again here by the keys its query sorts by. (Pipelining the
//! four statements would also take one round trip, but not safely through a transaction-mode
//! pooler such as Hyperdrive.)

use super::billing::{subscriptions_of_sql, SubscriptionRecord};
use super::credits::{LedgerEntry, RECENT_SQL};
use super::history::page_sql;
use super::Db;
use crate::domain::tool::RunSummary;
use crate::error::AppError;
use tokio_postgres::types::Type;

#[derive(Debug, Default)]
pub struct DashboardData {
    pub balance: i64,
    /// Newest first.
    pub subscriptions: Vec<SubscriptionRecord>,
    /// The newest `shown` ledger entries, newest first.
    pub ledger: Vec<LedgerEntry>,
    /// The newest `shown` tool runs, newest first.
    pub recent_work: Vec<RunSummary>,
}

/// The dashboard of `user_id`, with `shown` ledger entries and tool runs.
pub async fn load(db: &Db, user_id: i64, shown: i64) -> Result<DashboardData, AppError> {
    // $1: the user; $2: how many ledger entries and history items; $3: the history offset.
    let sql = format!(
        "SELECT 'balance', json_build_object('balance',
                COALESCE((SELECT balance FROM credit_balances WHERE user_id = $1), 0))::text
         UNION ALL SELECT 'subscription', row_to_json(s)::text FROM ({}) s
         UNION ALL SELECT 'ledger', row_to_json(l)::text FROM ({RECENT_SQL}) l
         UNION ALL SELECT 'work', row_to_json(w)::text FROM ({}) w",
        subscriptions_of_sql(),
        page_sql()
    );
    let offset = 0_i64;
    let rows = db.read(&sql, &[(&user_id, Type::INT8), (&shown, Type::INT8), (&offset, Type::INT8)]).await?;
    let parts = rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)));
    assemble(parts)
}

/// Sorts tagged JSON rows into the dashboard's parts (pure, so it is tested natively).
fn assemble(rows: impl Iterator<Item = (String, String)>) -> Result<DashboardData, AppError> {
    #[derive(serde::Deserialize)]
    struct Balance {
        balance: i64,
    }
    fn parse<T: serde::de::DeserializeOwned>(part: &str, json: &str) -> Result<T, AppError> {
        serde_json::from_str(json)
            .map_err(|e| AppError::internal(format!("dashboard {part} row: {e}: {json}")))
    }
    let mut d = DashboardData::default();
    for (part, json) in rows {
        match part.as_str() {
            "balance" => d.balance = parse::<Balance>(&part, &json)?.balance,
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
        let d = assemble(rows.into_iter()).unwrap();
        assert_eq!(d.balance, 4);
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
    }
}
