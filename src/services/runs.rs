//! What AgentWrite and PodScribe runs share: ids, the detached job environment (a run outlives
//! its request when the user walks away), a database connection of the job's own, the sweep
//! that refunds runs a dead Worker left behind, and what a failure means to the user.

use crate::clients::openai::Failure;
use crate::config::Config;
use crate::db::generations::Deleted;
use crate::db::runs::{self, StaleAfter};
use crate::db::Db;
use crate::domain::item_id::ItemId;
use crate::domain::Credits;
use crate::domain::UserId;
use crate::error::AppError;
use crate::telemetry::Reporter;
use crate::timing::Timing;
use std::rc::Rc;
use std::time::Duration;
use worker::{Delay, Env};

/// A generation still `running` after this long lost its Worker: it is refunded.
pub const GENERATION_STALE_SECS: i64 = 15 * 60;
/// Transcriptions may take up to the transcription timeout plus the notes: give them longer.
pub const TRANSCRIPT_STALE_SECS: i64 = 45 * 60;

pub fn new_id() -> ItemId {
    let mut bytes = [0u8; 16];
    crate::security::fill_random(&mut bytes);
    ItemId::from_bytes(bytes)
}

/// Everything a run needs once its request may be gone (owned, no borrow of `Ctx`).
#[derive(Clone)]
pub struct JobEnv {
    pub env: Env,
    pub config: Rc<Config>,
    pub reporter: Reporter,
    /// The `Server-Timing` figures of a request that waits for this job (the AgentWrite form
    /// without JavaScript): the job's own connection is counted there too. None when nothing
    /// waits (a stream, the queue consumer, the sweep).
    pub timing: Option<Rc<Timing>>,
}

impl JobEnv {
    /// For work no request started (the queue consumer, the scheduled sweep): `what` names it in
    /// logs and Sentry where a path would be.
    pub fn detached(env: Env, what: &str) -> JobEnv {
        let config = crate::config::of_env(&env);
        let mut id = [0u8; 12];
        crate::security::fill_random(&mut id);
        let reporter = config.reporter(crate::security::token(&id), "SCHEDULED".into(), what.into());
        JobEnv { env, config, reporter, timing: None }
    }

    /// This job, its database work counted in the `Server-Timing` of the request waiting for it.
    pub fn counted_in(self, timing: &Rc<Timing>) -> JobEnv {
        JobEnv { timing: Some(timing.clone()), ..self }
    }

    pub fn request_id(&self) -> &str {
        self.reporter.request_id()
    }

    pub fn log(&self, level: &str, message: &str) {
        crate::telemetry::log_line(level, self.request_id(), message);
    }

    /// Runs `work` on a connection of the job's own, closed before this returns (the request's
    /// connection is long closed when a stream or a transcription ends).
    pub async fn with_db<T>(
        &self,
        work: impl AsyncFnOnce(&Db) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let started = crate::telemetry::now_ms();
        let db = match Db::connect(&self.env).await {
            Ok(db) => db,
            Err(first) => {
                self.log("warn", &format!("job database connect failed, retrying once: {first}"));
                Delay::from(Duration::from_millis(500)).await;
                Db::connect(&self.env).await?
            }
        };
        if let Some(timing) = &self.timing {
            timing.db_connected(crate::telemetry::now_ms().saturating_sub(started));
        }
        let result = work(&db).await;
        let (round_trips, waited) = db.usage();
        db.close().await;
        if let Some(timing) = &self.timing {
            timing.db_used(round_trips, waited);
        }
        result
    }

    /// An operator problem (bad key, no quota, a request OpenAI refuses): log + Sentry.
    pub async fn report_operator_failure(&self, failure: &Failure) {
        if let Failure::Operator(detail) = failure {
            let err = AppError::Upstream { service: "openai", detail: detail.clone() };
            self.reporter.report_now(&err).await;
        }
    }
}

/// When runs count as abandoned: (generations, transcriptions).
pub const STALE_AFTER: StaleAfter = (GENERATION_STALE_SECS, TRANSCRIPT_STALE_SECS);

/// Settles runs that a dead Worker left unfinished — one user's (`Some`) or anyone's (`None`, the
/// scheduled sweep), every tool's: failed and refunded (generations, transcriptions), or done
/// without notes (transcripts stuck writing notes). Returns how many runs were refunded and the
/// credits given back. One statement (`db::runs::SWEEP_SQL`): a run is marked and refunded
/// together or not at all, in one round trip.
pub async fn sweep_abandoned(db: &Db, user_id: Option<UserId>) -> Result<(usize, Credits), AppError> {
    runs::sweep_abandoned(db, user_id, STALE_AFTER).await
}

/// What the user reads when a run fails (credits were refunded when `refunded`).
pub fn failure_message(tool: &str, failure_code: &str, refunded: bool) -> String {
    let credits = if refunded { " No credits were used." } else { "" };
    let what = match failure_code {
        "busy" => format!("{tool} is busy right now. Please try again in a minute."),
        "timed_out" => format!("{tool} took too long to answer. Please try again in a minute."),
        "interrupted" => "The connection broke off before the answer was finished. Please try again.".into(),
        "filtered" => "The AI provider's content filter refused this. Please rephrase and try again.".into(),
        "too_long" => {
            "The answer ran longer than allowed and was cut off. Try a shorter length or fewer details."
                .into()
        }
        "unreadable" => {
            "OpenAI could not read this audio. Check that it plays, or convert it to mp3, and try again."
                .into()
        }
        "abandoned" => format!("{tool} stopped before finishing. Please try again."),
        // Left running (the database was away): the stale-run sweep gives the credits back.
        "not_saved" => "The answer was written but could not be saved. Please try again; the credits it used are given back automatically.".into(),
        _ => format!("{tool} is unavailable right now. We have been notified and are looking into it."),
    };
    format!("{what}{credits}")
}

/// The HTTP status a failed run is shown with.
pub fn failure_status(failure_code: &str) -> u16 {
    match failure_code {
        "filtered" | "too_long" | "unreadable" => 422,
        "timed_out" => 504,
        _ => 503,
    }
}

/// What deleting a run came to: done, not found, or refused while it is still under way (it
/// must settle first; `busy` says what it is doing, as in "This episode is still being
/// transcribed").
pub fn deleted(outcome: Deleted, busy: &str) -> Result<(), AppError> {
    match outcome {
        Deleted::Yes => Ok(()),
        Deleted::NotFound => Err(AppError::NotFound),
        Deleted::Running => Err(AppError::BadRequest {
            field: None,
            message: format!("{busy}. Delete it once it has finished."),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_problems_read_neutrally() {
        let m = failure_message("AgentWrite", "unavailable", true);
        assert!(m.contains("unavailable") && m.ends_with("No credits were used."));
        assert!(!m.to_lowercase().contains("key") && !m.contains("quota"));
        assert!(failure_message("PodScribe", "busy", true).contains("busy"));
        assert_eq!(failure_status("busy"), 503);
        assert_eq!(failure_status("filtered"), 422);
    }
}
