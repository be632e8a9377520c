//! The scheduled sweep (a Cron Trigger, `[triggers] crons` in wrangler.toml): what no request
//! may ever come back for. Runs whose Worker died are refunded even if their owner never returns
//! (before, only their next visit to /history or their next run did it), and sign-in links and
//! sessions that can no longer be used are deleted.

use crate::auth::session::ABSOLUTE_LIFETIME_SECS;
use crate::db::{self, Db};
use crate::error::AppError;
use crate::routes::errors::Reporter;
use crate::services::runs::sweep_abandoned;
use worker::Env;

/// What one sweep did (logged as one line).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub runs_refunded: usize,
    pub credits_refunded: i64,
    pub sign_in_tokens: i64,
    pub sessions: i64,
}

/// One sweep on an open connection: the refunds in one transaction, then the housekeeping.
pub async fn sweep(db: &Db) -> Result<Swept, AppError> {
    let (runs_refunded, credits_refunded) =
        db.transaction(async |db| sweep_abandoned(db, None).await).await?;
    let (sign_in_tokens, sessions) = db::sweep::forget_expired(db, ABSOLUTE_LIFETIME_SECS as f64).await?;
    Ok(Swept { runs_refunded, credits_refunded, sign_in_tokens, sessions })
}

/// The `scheduled` event: connect, sweep, close, and log what was done. A failure is reported
/// (log + Sentry) and the next tick tries again; nothing is half-done, as each step commits whole.
pub async fn scheduled(env: &Env, cron: &str) {
    let config = crate::ctx::config_of(env);
    let mut id = [0u8; 12];
    crate::security::fill_random(&mut id);
    let reporter = Reporter::detached(config, crate::security::token(&id), &format!("cron {cron}"));
    let outcome = match Db::connect(env).await {
        Ok(db) => {
            let outcome = sweep(&db).await;
            db.close().await;
            outcome
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(swept) => crate::ctx::log_line("info", reporter.request_id(), &format!("sweep: {swept:?}")),
        Err(e) => reporter.report_now(&e).await,
    }
}
