//! The scheduled sweep (a Cron Trigger, `[triggers] crons` in wrangler.toml): what no request
//! may ever come back for. Runs whose Worker died are refunded even if their owner never returns
//! (before, only their next visit to /history or their next run did it), sign-in links,
//! address-change links and sessions that can no longer be used are deleted, uploads in parts
//! left unfinished are aborted, and customer mail still due is sent.

use crate::auth::session::ABSOLUTE_LIFETIME_SECS;
use crate::clients::uploads::{Uploads, RUNS_PREFIX};
use crate::db::{self, Db};
use crate::domain::Credits;
use crate::error::AppError;
use crate::services::runs::{sweep_abandoned, JobEnv};
use worker::Env;

/// What one sweep did (logged as one line).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub runs_refunded: usize,
    pub credits_refunded: Credits,
    pub sign_in_tokens: i64,
    /// Address-change links (they hold the address asked for).
    pub email_changes: i64,
    pub sessions: i64,
    /// Episodes left in R2 by runs that ended without deleting them (a failed delete, a Worker
    /// that died): anything stored over a day ago, when every run has long ended.
    pub episodes: u32,
    /// Uploads in parts never completed, over a day old: aborted in R2.
    pub uploads_abandoned: usize,
}

/// One sweep: the refunds in one statement, then the housekeeping in the database and R2.
pub async fn sweep(db: &Db, uploads: &Uploads, now_ms: f64) -> Result<Swept, AppError> {
    let (runs_refunded, credits_refunded) = sweep_abandoned(db, None).await?;
    let (sign_in_tokens, email_changes, sessions) =
        db::sweep::forget_expired(db, ABSOLUTE_LIFETIME_SECS as f64).await?;
    let episodes = uploads.delete_older_than(RUNS_PREFIX, now_ms - EPISODE_MAX_AGE_MS).await?;
    let uploads_abandoned = crate::services::episode_upload::abandon(uploads, db, None).await?;
    Ok(Swept {
        runs_refunded,
        credits_refunded,
        sign_in_tokens,
        email_changes,
        sessions,
        episodes,
        uploads_abandoned,
    })
}

/// A run ends within minutes (its queue retries included) or is refunded by the sweep after 45.
const EPISODE_MAX_AGE_MS: f64 = 24.0 * 3600.0 * 1000.0;

/// The `scheduled` event: connect, sweep, close, and log what was done. A failure is reported
/// (log + Sentry) and the next tick tries again; nothing is half-done, as each step commits whole.
pub async fn scheduled(env: &Env, cron: &str) {
    let job = JobEnv::detached(env.clone(), &format!("cron {cron}"));
    let now_ms = worker::js_sys::Date::now();
    let outcome = match Uploads::of(env) {
        Ok(uploads) => job.with_db(async |db| sweep(db, &uploads, now_ms).await).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(swept) => job.log("info", &format!("sweep: {swept:?}")),
        Err(e) => job.reporter.report_now(&e).await,
    }
    // Billing mail that could not be sent after its webhook is retried here too (on its own
    // connection; it logs its own failures).
    crate::services::notices::send_due(job, now_ms as u64).await;
}
