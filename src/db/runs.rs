//! Runs a dead Worker left behind (still under way long after their request), settled in one
//! statement for every tool: marked failed (a transcript stuck writing notes is done without
//! them), and each failed run's credits given back once, with a ledger row, like
//! `credits::GRANT_SQL`. One user's (when they open their history or start a run) or anyone's
//! (the scheduled sweep), at most a batch of each kind at a time so one sweep stays short. One
//! statement is atomic by itself and one round trip; it also fits in a pipelined transaction
//! (`Db::atomically`).

use super::{stale_runs, Db, Param};
use crate::domain::tool::Tool;
use crate::domain::Credits;
use crate::domain::UserId;
use crate::error::AppError;
use std::sync::LazyLock;
use tokio_postgres::types::Type;

/// A tool's abandoned runs as CTEs (named `<table>_…`); the last one answers the failed runs
/// to refund as `user_id, id, credits, note`. `$1` the user, `$2` the batch, `age` the
/// parameter holding the seconds after which a run counts as abandoned.
fn abandoned(tool: Tool) -> (String, String) {
    let note = format!("{} run abandoned by its worker", tool.name());
    match tool {
        Tool::AgentWrite => (
            format!(
                "generations_lost AS (
    UPDATE generations SET status = 'failed', error = 'abandoned', finished_at = now()
    WHERE {} RETURNING user_id, id, credits
)",
                stale_runs("generations", "running", "$3")
            ),
            format!("SELECT user_id, id, credits, '{note}' AS note FROM generations_lost"),
        ),
        Tool::PodScribe => (
            format!(
                "notes_lost AS (
    UPDATE transcripts SET status = 'done', notes_error = 'abandoned', finished_at = now() WHERE {}
), transcripts_lost AS (
    UPDATE transcripts SET status = 'failed', error = 'abandoned', finished_at = now()
    WHERE {} RETURNING user_id, id, credits
)",
                stale_runs("transcripts", "writing_notes", "$4"),
                stale_runs("transcripts", "transcribing", "$4")
            ),
            format!("SELECT user_id, id, credits, '{note}' FROM transcripts_lost"),
        ),
    }
}

/// `$1` the user (NULL: anyone), `$2` the batch, `$3` and `$4` the ages (seconds) after which a
/// generation and a transcription count as abandoned. Answers how many runs were settled as
/// failed and the credits given back. The refunds are keyed (tool_refund, run id) like any
/// other refund, so a run refunded elsewhere first is not refunded twice.
pub static SWEEP_SQL: LazyLock<String> = LazyLock::new(|| {
    let (settled, lost): (Vec<String>, Vec<String>) = Tool::ALL.into_iter().map(abandoned).unzip();
    format!(
        "WITH {}, lost AS (
    {}
), refunds AS (
    INSERT INTO credit_ledger (user_id, delta, reason, reference, note)
    SELECT user_id, credits, 'tool_refund', id, note FROM lost WHERE credits > 0
    ON CONFLICT (reason, reference) DO NOTHING
    RETURNING user_id, delta
), credited AS (
    INSERT INTO credit_balances (user_id, balance)
    SELECT user_id, sum(delta) FROM refunds GROUP BY user_id
    ON CONFLICT (user_id) DO UPDATE
        SET balance = credit_balances.balance + EXCLUDED.balance, updated_at = now()
)
SELECT count(*)::int8, coalesce(sum(credits), 0)::int8 FROM lost",
        settled.join(", "),
        lost.join("\n    UNION ALL\n    ")
    )
});

/// How many stranded runs of each kind one sweep settles: a backlog is worked off over the next
/// sweeps rather than in one long statement.
pub const SWEEP_BATCH: i64 = 200;

/// The ages after which runs count as abandoned: (generations, transcriptions), in seconds.
pub type StaleAfter = (i64, i64);

/// The parameters of `SWEEP_SQL`.
pub fn sweep_params<'a>(user_id: &'a Option<UserId>, stale: &'a StaleAfter) -> [Param<'a>; 4] {
    [(user_id, Type::INT8), (&SWEEP_BATCH, Type::INT8), (&stale.0, Type::INT8), (&stale.1, Type::INT8)]
}

/// Settles abandoned runs (`SWEEP_SQL`); answers how many were failed and refunded, and the
/// credits given back.
pub async fn sweep_abandoned(
    db: &Db,
    user_id: Option<UserId>,
    stale: StaleAfter,
) -> Result<(usize, Credits), AppError> {
    let row = db.query_one(&SWEEP_SQL, &sweep_params(&user_id, &stale)).await?;
    Ok((row.get::<_, i64>(0) as usize, row.get(1)))
}
