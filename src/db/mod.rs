//! Postgres through the Hyperdrive binding `DB`: one connection per request, opened lazily and
//! closed before the response returns (an open socket at the end of a request kills
//! `wrangler dev`, and in production it would leak a pooled connection).
//!
//! Protocol features are kept deliberately small so Hyperdrive's transaction-mode pooling is
//! safe: every statement goes through `query_typed` (unnamed statements: parse, bind and execute
//! in one round trip, nothing named left on a pooled server connection), and transactions are
//! plain `BEGIN`/`COMMIT` in the simple protocol. To change that, change `Db` alone.
//!
//! `Db` counts its round trips (one per statement) and the time spent waiting for them; `Ctx`
//! reports both in `Server-Timing` (see `timing`).

pub mod admin;
pub mod admin_user;
pub mod affiliates;
pub mod allowance;
pub mod audit;
pub mod billing;
pub mod credits;
pub mod dashboard;
pub mod email_changes;
pub mod episode_uploads;
pub mod export;
pub mod generations;
pub mod history;
pub mod notices;
pub mod payments;
pub mod reversals;
pub mod schema;
pub mod sessions;
pub mod sign_in_tokens;
pub mod states;
pub mod stripe_events;
pub mod sweep;
pub mod transcripts;
pub mod users;
pub mod welcome;

use crate::error::AppError;
use futures_util::future::{select, Either};
use std::cell::Cell;
use std::future::Future;
use std::time::Duration;
use tokio_postgres::config::SslMode;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls, Row};
use worker::postgres_tls::PassthroughTls;
use worker::{Delay, Env, SecureTransport, Socket};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A typed parameter: the value and its Postgres type (no prepare round trip needed).
pub type Param<'a> = (&'a (dyn ToSql + Sync), Type);

/// `id IN (…)`: at most `$3` runs of `table` in `status` older than `$2` seconds, oldest first,
/// of user `$1` (or anyone's when `$1` is NULL), locked and skipping rows another sweep holds.
/// The stale-run sweeps of every tool select with it.
pub(crate) fn stale_runs(table: &str, status: &str) -> String {
    format!(
        "id IN (
             SELECT id FROM {table}
             WHERE ($1::int8 IS NULL OR user_id = $1) AND status = '{status}'
               AND created_at < now() - $2::int8 * interval '1 second'
             ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED
         )"
    )
}

pub struct Db {
    client: Client,
    closed: futures_channel::oneshot::Receiver<()>,
    round_trips: Cell<u32>,
    busy_ms: Cell<u64>,
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
        let transport = if tls { SecureTransport::StartTls } else { SecureTransport::Off };
        let socket = Socket::builder()
            .secure_transport(transport)
            .connect(hyperdrive.host(), hyperdrive.port())
            .map_err(|e| AppError::DatabaseUnavailable(format!("socket: {e}")))?;
        let (done_tx, closed) = futures_channel::oneshot::channel();
        let connecting = async {
            if tls {
                let (client, connection) = config.connect_raw(socket, PassthroughTls).await?;
                worker::wasm_bindgen_futures::spawn_local(async move {
                    let _ = connection.await;
                    let _ = done_tx.send(());
                });
                Ok::<_, tokio_postgres::Error>(client)
            } else {
                let (client, connection) = config.connect_raw(socket, NoTls).await?;
                worker::wasm_bindgen_futures::spawn_local(async move {
                    let _ = connection.await;
                    let _ = done_tx.send(());
                });
                Ok(client)
            }
        };
        let connecting = std::pin::pin!(connecting);
        match select(connecting, Delay::from(CONNECT_TIMEOUT)).await {
            Either::Left((Ok(client), _)) => {
                Ok(Db { client, closed, round_trips: Cell::new(0), busy_ms: Cell::new(0) })
            }
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

    /// Awaits one statement, counting it as a round trip.
    async fn round_trip<T>(&self, statement: impl Future<Output = T>) -> T {
        let started = crate::telemetry::now_ms();
        let out = statement.await;
        self.round_trips.set(self.round_trips.get() + 1);
        let waited = crate::telemetry::now_ms().saturating_sub(started);
        self.busy_ms.set(self.busy_ms.get() + waited);
        out
    }

    pub async fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, AppError> {
        Ok(self.round_trip(self.client.query_typed(sql, params)).await?)
    }

    /// A read of any number of rows (it changes nothing, so running it twice is harmless),
    /// retried once when tokio-postgres reports "unexpected message from server": reported on
    /// Hyperdrive for `query_typed` reading multi-row results (workers-sdk #13797, #13798;
    /// see docs/operations.md → Troubleshooting). The failed attempt's leftover messages are
    /// discarded by the connection up to its ReadyForQuery, so the retry starts in step.
    /// Anything that writes goes through `query` or `execute`, never retried.
    pub async fn read(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, AppError> {
        match self.round_trip(self.client.query_typed(sql, params)).await {
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
        Ok(self.round_trip(self.client.query_typed(sql, params)).await?.len() as u64)
    }

    /// Runs `work` inside one transaction: committed when it returns Ok, rolled back otherwise.
    pub async fn transaction<T>(
        &self,
        work: impl AsyncFnOnce(&Db) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        self.round_trip(self.client.batch_execute("BEGIN")).await?;
        match work(self).await {
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
