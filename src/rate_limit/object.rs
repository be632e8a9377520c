//! The `RateLimiter` Durable Object: one instance per subject, holding that subject's sliding
//! windows (one per policy) in its SQLite storage.
//!
//! Why SQLite storage, not memory (or memory + key-value storage):
//! - `sql.exec` is synchronous, so one decision (prune → count → record) runs start to end with
//!   no `await` in between. Nothing can interleave, which is what makes N+k parallel requests
//!   admit exactly N, without relying on input gates or a lock.
//! - It survives eviction and deploys: a sign-in-email window of an hour must not reset because
//!   the object sat idle for a minute. Memory alone would forget.
//! - Writes are durable before the answer leaves (output gate), and an index keeps the count
//!   cheap; the few statements per decision run in-process in microseconds.
//!
//! Storage stays bounded: a policy holds at most `limit` admissions; each access forgets the
//! hits that left its window, and an alarm sweeps expired hits of policies no longer asked about.
//! When nothing is left, the alarm deletes all of the object's storage.
//!
//! A row holds `n` admissions made at the same moment: one for a decision, a whole batch for an
//! isolate's report (`tally`). A report then writes one row, not one per page view (rows
//! written are what Durable Object storage bills, and what a report costs).

use super::client::{Answer, Ask};
use super::overrides::{MAX_LIMIT, MAX_WINDOW_SECS};
use super::policy::Rule;
use super::window::{self, HitLog};
use serde::Deserialize;
use std::cell::Cell;
use worker::{
    durable_object, Date, DurableObject, Env, Request, Response, Result, SqlStorage, SqlStorageValue, State,
};

#[durable_object(alarm)]
pub struct RateLimiter {
    state: State,
    /// The table exists (created lazily: `delete_all` drops it).
    schema_ready: Cell<bool>,
    /// An alarm is pending, as far as this instance knows. After an eviction it starts false and
    /// the next admission sets one again (harmless: an early alarm only reschedules itself).
    alarm_pending: Cell<bool>,
}

impl DurableObject for RateLimiter {
    fn new(state: State, _env: Env) -> Self {
        Self { state, schema_ready: Cell::new(false), alarm_pending: Cell::new(false) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let ask: Ask = match req.json().await {
            Ok(ask) => ask,
            Err(e) => return Response::error(format!("unreadable question: {e}"), 400),
        };
        if ask.policy.is_empty()
            || ask.policy.len() > 64
            || ask.limit > MAX_LIMIT
            || ask.report > MAX_LIMIT
            || !(1..=MAX_WINDOW_SECS).contains(&ask.window_secs)
        {
            return Response::error("policy, limit, report or window out of range", 400);
        }
        let rule = Rule { limit: ask.limit, window_secs: ask.window_secs };
        let now = Date::now().as_millis();
        let sql = self.state.storage().sql();
        self.ensure_schema(&sql)?;
        // Synchronous from here to the verdict: this is the critical section.
        let verdict =
            window::report_and_admit(&mut SqlLog(&sql), &ask.policy, rule, now, ask.report, ask.decide)?;
        let stored = if ask.report_stored {
            Some(one::<Count>(&sql, "SELECT COALESCE(SUM(n), 0) AS n FROM admissions", vec![])?.n)
        } else {
            None
        };
        let recorded = ask.report > 0 || (ask.decide && verdict.allowed);
        if recorded && !self.alarm_pending.get() {
            self.alarm_pending.set(true);
            self.state.storage().set_alarm(rule.window_ms() as i64).await?;
        }
        Response::from_json(&Answer {
            allowed: verdict.allowed,
            limit: verdict.limit,
            count: verdict.count,
            remaining: verdict.remaining,
            reset_ms: verdict.reset_ms,
            stored,
        })
    }

    /// Forgets every expired hit; sleeps again until the last one left expires, or, when none
    /// is left, deletes the object's storage entirely.
    async fn alarm(&self) -> Result<Response> {
        let now = Date::now().as_millis();
        let sql = self.state.storage().sql();
        self.ensure_schema(&sql)?;
        sql.exec("DELETE FROM admissions WHERE expires <= ?", vec![int(now)])?;
        let last: Last = one(&sql, "SELECT MAX(expires) AS at FROM admissions", vec![])?;
        match last.at {
            Some(at) => {
                let wait = at.saturating_sub(now).max(1);
                self.state.storage().set_alarm(wait as i64).await?;
            }
            None => {
                self.schema_ready.set(false);
                self.alarm_pending.set(false);
                self.state.storage().delete_all().await?;
            }
        }
        Response::ok("swept")
    }
}

impl RateLimiter {
    fn ensure_schema(&self, sql: &SqlStorage) -> Result<()> {
        if !self.schema_ready.get() {
            sql.exec(
                "CREATE TABLE IF NOT EXISTS admissions (
                     policy TEXT NOT NULL,
                     at INTEGER NOT NULL,       -- admitted at (ms since the epoch)
                     expires INTEGER NOT NULL,  -- at + the window it was admitted under
                     n INTEGER NOT NULL         -- how many admissions (a reported batch: many)
                 )",
                None,
            )?;
            sql.exec("CREATE INDEX IF NOT EXISTS admissions_by_policy ON admissions (policy, at)", None)?;
            // The layout before batched reports (one row per admission): its windows restart.
            sql.exec("DROP TABLE IF EXISTS hits", None)?;
            self.schema_ready.set(true);
        }
        Ok(())
    }
}

struct SqlLog<'a>(&'a SqlStorage);

#[derive(Deserialize)]
struct Count {
    n: u64,
}

#[derive(Deserialize)]
struct Last {
    at: Option<u64>,
}

#[derive(Deserialize)]
struct At {
    at: u64,
}

impl HitLog for SqlLog<'_> {
    type Error = worker::Error;

    fn forget_until(&mut self, policy: &str, cutoff_ms: u64) -> Result<()> {
        self.0.exec(
            "DELETE FROM admissions WHERE policy = ? AND at <= ?",
            vec![policy.into(), int(cutoff_ms)],
        )?;
        Ok(())
    }

    fn count(&mut self, policy: &str) -> Result<u32> {
        let c: Count = one(
            self.0,
            "SELECT COALESCE(SUM(n), 0) AS n FROM admissions WHERE policy = ?",
            vec![policy.into()],
        )?;
        Ok(u32::try_from(c.n).unwrap_or(u32::MAX))
    }

    fn kth_oldest(&mut self, policy: &str, k: u32) -> Result<Option<u64>> {
        // The oldest row holds the oldest admission; beyond it, count admissions row by row.
        let rows: Vec<At> = if k == 0 {
            self.0
                .exec("SELECT at FROM admissions WHERE policy = ? ORDER BY at LIMIT 1", vec![policy.into()])?
                .to_array()?
        } else {
            self.0
                .exec(
                    "SELECT at FROM (
                         SELECT at, SUM(n) OVER (ORDER BY at, rowid ROWS UNBOUNDED PRECEDING) AS upto
                         FROM admissions WHERE policy = ?
                     ) WHERE upto > ? ORDER BY at LIMIT 1",
                    vec![policy.into(), int(u64::from(k))],
                )?
                .to_array()?
        };
        Ok(rows.first().map(|r| r.at))
    }

    fn record(&mut self, policy: &str, at_ms: u64, expires_ms: u64) -> Result<()> {
        self.record_many(policy, at_ms, expires_ms, 1)
    }

    fn record_many(&mut self, policy: &str, at_ms: u64, expires_ms: u64, n: u32) -> Result<()> {
        self.0.exec(
            "INSERT INTO admissions (policy, at, expires, n) VALUES (?, ?, ?, ?)",
            vec![policy.into(), int(at_ms), int(expires_ms), int(u64::from(n))],
        )?;
        Ok(())
    }
}

/// Milliseconds since the epoch stay far below 2^53, so they are exact as JavaScript numbers.
fn int(v: u64) -> SqlStorageValue {
    SqlStorageValue::Integer(v as i64)
}

fn one<T: serde::de::DeserializeOwned>(
    sql: &SqlStorage,
    query: &str,
    bindings: Vec<SqlStorageValue>,
) -> Result<T> {
    sql.exec(query, bindings)?.one()
}
