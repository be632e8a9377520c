//! Postgres through the Hyperdrive binding `DB`: one connection per request, opened lazily and
//! closed before the response returns (an open socket at the end of a request kills
//! `wrangler dev`, and in production it would leak a pooled connection).
//!
//! Protocol features are kept deliberately small so Hyperdrive's transaction-mode pooling is
//! safe: every statement goes through `query_typed` (unnamed statements: parse, bind and execute
//! in one round trip, nothing named left on a pooled server connection), and transactions are
//! plain `BEGIN`/`COMMIT` in the simple protocol. To change that, change `Db` alone.
//!
//! Round trips are what a request pays for at the edge (each one crosses to the origin
//! database), so `Db` sends what it can together: statements of a `pipeline` go out without
//! waiting for each answer (tokio-postgres writes each request as its future is first polled,
//! and the answers come back in order), a transaction's `BEGIN` travels with its first
//! statement, and `atomically` sends a whole transaction, `COMMIT` included, at once.
//!
//! `Db` counts its round trips (one per exchange, however many statements it carried) and the
//! time spent waiting for them; `Ctx` reports both in `Server-Timing` (see `timing`).

pub mod admin;
pub mod admin_user;
pub mod affiliates;
pub mod audit;
pub mod billing;
pub mod columns;
pub mod credits;
pub mod dashboard;
pub mod email_changes;
pub mod episode_uploads;
pub mod export;
pub mod generations;
pub mod history;
pub mod notices;
pub mod pack_payment;
pub mod payments;
pub mod plan_event;
pub mod reversal_event;
pub mod reversals;
pub mod runs;
pub mod schema;
pub mod sessions;
pub mod sign_in_tokens;
mod socket;
pub mod states;
pub mod stripe_events;
pub mod sweep;
pub mod transcripts;
pub mod users;
pub mod welcome;

use crate::error::AppError;
use futures_util::future::{join, join3, join_all, select, Either};
use socket::{StartTls, Tcp};
use std::cell::Cell;
use std::future::Future;
use std::time::Duration;
use tokio_postgres::config::SslMode;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row};
use worker::{Delay, Env};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A typed parameter: the value and its Postgres type (no prepare round trip needed).
pub type Param<'a> = (&'a (dyn ToSql + Sync), Type);

/// `id IN (…)`: at most `$2` runs of `table` in `status` older than `age` (a parameter such as
/// `$3`) seconds, oldest first, of user `$1` (or anyone's when `$1` is NULL), locked and skipping
/// rows another sweep holds. The stale-run sweep of every tool selects with it (`runs`).
pub(crate) fn stale_runs(table: &str, status: &str, age: &str) -> String {
    format!(
        "id IN (
             SELECT id FROM {table}
             WHERE ($1::int8 IS NULL OR user_id = $1) AND status = '{status}'
               AND created_at < now() - {age}::int8 * interval '1 second'
             ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED
         )"
    )
}

pub struct Db {
    client: Client,
    closed: futures_channel::oneshot::Receiver<()>,
    round_trips: Cell<u32>,
    busy_ms: Cell<u64>,
    /// A `BEGIN` not sent yet: it goes out with the transaction's first statement.
    begin_pending: Cell<bool>,
    /// Exchanges sent and not answered yet.
    in_flight: Cell<u32>,
}

/// A statement and its parameters, for `pipeline` and `atomically`.
pub type Statement<'a> = (&'a str, &'a [Param<'a>]);

/// Why `atomically` wrote nothing: statement `index` failed (`None`: `BEGIN` or `COMMIT`).
#[derive(Debug)]
pub struct Refused {
    pub index: Option<usize>,
    /// The constraint the statement broke, when that was why (a CHECK, a unique index).
    pub constraint: Option<String>,
    pub error: AppError,
}

impl From<Refused> for AppError {
    fn from(r: Refused) -> AppError {
        r.error
    }
}

impl Db {
    pub async fn connect(env: &Env) -> Result<Db, AppError> {
        let hyperdrive = env.hyperdrive("DB").map_err(|e| AppError::Misconfigured {
            var: "DB",
            problem: format!("Hyperdrive binding missing: {e}"),
        })?;
        let config: tokio_postgres::Config = hyperdrive
            .connection_string()
            .parse()
            .map_err(|e| AppError::internal(format!("Hyperdrive connection string: {e}")))?;
        let tls = config.get_ssl_mode() != SslMode::Disable;
        let socket = Tcp::connect(&hyperdrive.host(), hyperdrive.port(), tls)
            .map_err(|e| AppError::DatabaseUnavailable(format!("socket: {e}")))?;
        let (done_tx, closed) = futures_channel::oneshot::channel();
        // One connector for both: with `sslmode=disable` tokio-postgres never asks it for TLS.
        // (A second, `NoTls`, instance of the connection's code was 4.3 KiB of the gzip wasm.)
        let connecting = async {
            let (client, connection) = config.connect_raw(socket, StartTls).await?;
            worker::wasm_bindgen_futures::spawn_local(async move {
                let _ = connection.await;
                let _ = done_tx.send(());
            });
            Ok::<_, tokio_postgres::Error>(client)
        };
        let connecting = std::pin::pin!(connecting);
        match select(connecting, Delay::from(CONNECT_TIMEOUT)).await {
            Either::Left((Ok(client), _)) => Ok(Db {
                client,
                closed,
                round_trips: Cell::new(0),
                busy_ms: Cell::new(0),
                begin_pending: Cell::new(false),
                in_flight: Cell::new(0),
            }),
            Either::Left((Err(e), _)) => Err(AppError::DatabaseUnavailable(e.to_string())),
            Either::Right(_) => Err(AppError::DatabaseUnavailable("connect timed out".into())),
        }
    }

    /// Ends the session (Terminate) and waits until the socket is closed.
    pub async fn close(self) {
        drop(self.client);
        let _ = self.closed.await;
    }

    /// Statements sent on this connection so far, and milliseconds spent waiting for them.
    pub fn usage(&self) -> (u32, u64) {
        (self.round_trips.get(), self.busy_ms.get())
    }

    /// Awaits one exchange, counting it as a round trip unless another was already on the
    /// wire: statements sent while one is awaited (joined futures) travel with it, pipelined.
    async fn round_trip<T>(&self, statement: impl Future<Output = T>) -> T {
        let started = crate::telemetry::now_ms();
        if self.in_flight.get() == 0 {
            self.round_trips.set(self.round_trips.get() + 1);
        }
        self.in_flight.set(self.in_flight.get() + 1);
        let out = statement.await;
        self.in_flight.set(self.in_flight.get() - 1);
        let waited = crate::telemetry::now_ms().saturating_sub(started);
        if self.in_flight.get() == 0 {
            self.busy_ms.set(self.busy_ms.get() + waited);
        }
        out
    }

    /// One statement, after the transaction's pending `BEGIN` in the same round trip.
    async fn send(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, tokio_postgres::Error> {
        if self.begin_pending.replace(false) {
            let begin = self.client.batch_execute("BEGIN");
            let (begun, answer) = self.round_trip(join(begin, self.client.query_typed(sql, params))).await;
            begun?;
            return answer;
        }
        self.round_trip(self.client.query_typed(sql, params)).await
    }

    pub async fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, AppError> {
        Ok(self.send(sql, params).await?)
    }

    /// Statements sent together and answered in order: one round trip. Not a transaction
    /// (unless inside one): each succeeds or fails on its own.
    pub async fn pipeline(&self, statements: &[Statement<'_>]) -> Vec<Result<Vec<Row>, AppError>> {
        let pending = self.begin_pending.replace(false);
        let begin = async {
            match pending {
                true => self.client.batch_execute("BEGIN").await,
                false => Ok(()),
            }
        };
        let sent = join_all(statements.iter().map(|(sql, params)| self.client.query_typed(sql, params)));
        let (begun, answers) = self.round_trip(join(begin, sent)).await;
        answers
            .into_iter()
            .map(|a| match &begun {
                Err(e) => Err(AppError::DatabaseUnavailable(format!("BEGIN: {e}"))),
                Ok(()) => a.map_err(AppError::from),
            })
            .collect()
    }

    /// `statements` as one transaction in one round trip: `BEGIN`, the statements and `COMMIT`
    /// go out together. When one fails, Postgres refuses the rest and answers the `COMMIT` with
    /// a rollback: nothing is written, and the first failure comes back. For transactions whose
    /// statements need no answer from each other (conditions are in the SQL, or a CHECK).
    pub async fn atomically(&self, statements: &[Statement<'_>]) -> Result<Vec<Vec<Row>>, Refused> {
        debug_assert!(!self.begin_pending.get(), "atomically inside a transaction");
        let begin = self.client.batch_execute("BEGIN");
        let sent = join_all(statements.iter().map(|(sql, params)| self.client.query_typed(sql, params)));
        let commit = self.client.batch_execute("COMMIT");
        let (begun, answers, committed) = self.round_trip(join3(begin, sent, commit)).await;
        let refused = |index: Option<usize>, e: tokio_postgres::Error| Refused {
            index,
            constraint: e.as_db_error().and_then(|d| d.constraint()).map(str::to_string),
            error: e.into(),
        };
        begun.map_err(|e| refused(None, e))?;
        let mut rows = Vec::with_capacity(answers.len());
        for (index, answer) in answers.into_iter().enumerate() {
            rows.push(answer.map_err(|e| refused(Some(index), e))?);
        }
        committed.map_err(|e| refused(None, e))?;
        Ok(rows)
    }

    /// A read of any number of rows (it changes nothing, so running it twice is harmless),
    /// retried once when tokio-postgres reports "unexpected message from server": reported on
    /// Hyperdrive for `query_typed` reading multi-row results (workers-sdk #13797, #13798;
    /// see docs/operations.md → Troubleshooting). The failed attempt's leftover messages are
    /// discarded by the connection up to its ReadyForQuery, so the retry starts in step.
    /// Anything that writes goes through `query` or `execute`, never retried.
    pub async fn read(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, AppError> {
        match self.send(sql, params).await {
            Err(e) if is_unexpected_message(&e) => {
                crate::telemetry::log_line("warn", "", &format!("database read retried after: {e}"));
                Ok(self.round_trip(self.client.query_typed(sql, params)).await?)
            }
            answer => Ok(answer?),
        }
    }

    pub async fn query_opt(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>, AppError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    pub async fn query_one(&self, sql: &str, params: &[Param<'_>]) -> Result<Row, AppError> {
        self.query_opt(sql, params)
            .await?
            .ok_or_else(|| AppError::internal(format!("query returned no row: {sql}")))
    }

    pub async fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, AppError> {
        Ok(self.send(sql, params).await?.len() as u64)
    }

    /// Runs `work` inside one transaction: committed when it returns Ok, rolled back otherwise.
    pub async fn transaction<T>(
        &self,
        work: impl AsyncFnOnce(&Db) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        // Sent with the first statement; a transaction that sent none has nothing to end.
        self.begin_pending.set(true);
        let done = work(self).await;
        if self.begin_pending.replace(false) {
            return done;
        }
        match done {
            Ok(value) => {
                self.round_trip(self.client.batch_execute("COMMIT")).await?;
                Ok(value)
            }
            Err(e) => {
                let _ = self.round_trip(self.client.batch_execute("ROLLBACK")).await;
                Err(e)
            }
        }
    }
}

impl From<tokio_postgres::Error> for AppError {
    fn from(e: tokio_postgres::Error) -> Self {
        if e.is_closed() {
            return AppError::DatabaseUnavailable(e.to_string());
        }
        match e.as_db_error() {
            // Connection exceptions (08…), shutdowns/startup (57P0…) and too many connections
            // mean the database is unavailable, not that our query is wrong.
            Some(db) if is_unavailable(db.code().code()) => {
                AppError::DatabaseUnavailable(format!("postgres {}: {}", db.code().code(), db.message()))
            }
            Some(db) => AppError::Internal(format!("postgres {}: {}", db.code().code(), db.message())),
            None => AppError::DatabaseUnavailable(e.to_string()),
        }
    }
}

/// tokio-postgres' `Kind::UnexpectedMessage` (not exposed as a kind; its text is fixed).
fn is_unexpected_message(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_none() && e.to_string() == "unexpected message from server"
}

fn is_unavailable(sqlstate: &str) -> bool {
    sqlstate.starts_with("08") || sqlstate.starts_with("57P0") || sqlstate == "53300"
}
