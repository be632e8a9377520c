//! PodScribe transcripts: `transcribing` → `writing_notes` → `done`, or `failed`. The charge is
//! settled when the text is stored (leaving `transcribing`, guarded like generations): a refund
//! of what was not used, or extra minutes; show notes come after and never change the charge.

use super::generations::Deleted;
use super::states::{column, Stored};
use super::Db;
use crate::domain::show_notes::ShowNotes;
use crate::domain::tool::{RunStatus, Tool};
use crate::domain::transcript::{Chunks, Segment};
use crate::domain::Credits;
use crate::domain::UserId;
use crate::error::AppError;
use tokio_postgres::types::Type;

#[derive(Debug, Clone)]
pub struct Transcript {
    pub id: String,
    pub status: RunStatus,
    pub file_name: String,
    pub size_bytes: i64,
    pub duration_secs: Option<f64>,
    pub model: String,
    /// Credits charged: the reservation plus any extra minutes.
    pub credits: Credits,
    pub credits_refunded: Credits,
    pub cut_at_secs: Option<f64>,
    pub language: Option<String>,
    pub text: Option<String>,
    pub segments: Vec<Segment>,
    pub notes: Option<ShowNotes>,
    pub notes_error: Option<String>,
    pub error: Option<String>,
    pub created_at_ms: i64,
    /// Chunks transcribed and in all, while an episode in chunks is transcribed.
    pub chunks: Option<Chunks>,
}

/// The chunk columns as progress (both set, neither negative).
fn chunks_of(done: Option<i16>, total: Option<i16>) -> Option<Chunks> {
    let (done, total) = (u16::try_from(done?).ok()?, u16::try_from(total?).ok()?);
    Some(Chunks { done, total })
}

/// PodScribe's rows in a user's history (`$1`; see db::history).
pub fn history_sql() -> String {
    format!(
        "SELECT '{}' AS tool, id, file_name AS title, status, credits,
                status = 'done' AND cut_at_secs IS NOT NULL AS cut_short, created_at
         FROM transcripts WHERE user_id = $1",
        Tool::PodScribe.stored()
    )
}

pub struct NewTranscript<'a> {
    pub id: &'a str,
    pub user_id: UserId,
    pub file_name: &'a str,
    pub media_type: &'a str,
    pub size_bytes: i64,
    pub duration_secs: Option<f64>,
    pub model: &'a str,
    pub credits: Credits,
}

pub async fn insert(db: &Db, t: &NewTranscript<'_>) -> Result<(), AppError> {
    db.execute(
        "INSERT INTO transcripts (id, user_id, status, file_name, media_type, size_bytes, duration_secs, model, credits)
         VALUES ($1, $2, 'transcribing', $3, $4, $5, $6, $7, $8)",
        &[
            (&t.id, Type::TEXT),
            (&t.user_id, Type::INT8),
            (&t.file_name, Type::TEXT),
            (&t.media_type, Type::TEXT),
            (&t.size_bytes, Type::INT8),
            (&t.duration_secs, Type::FLOAT8),
            (&t.model, Type::TEXT),
            (&t.credits, Type::INT4),
        ],
    )
    .await?;
    Ok(())
}

/// What the transcription gave; stored when leaving `transcribing`.
pub struct Transcribed<'a> {
    pub text: &'a str,
    pub language: Option<&'a str>,
    pub duration_secs: Option<f64>,
    pub segments: &'a [Segment],
    /// Credits given back because the audio was shorter than reserved for.
    pub refunded: Credits,
    /// Credits charged on top of the reservation because the audio was longer.
    pub extra: Credits,
    /// Where the transcript was cut because the balance could not pay for more.
    pub cut_at_secs: Option<f64>,
}

/// `transcribing` → `writing_notes`; the owner, or None when it had already left `transcribing`.
pub async fn store_text(db: &Db, id: &str, t: &Transcribed<'_>) -> Result<Option<UserId>, AppError> {
    let segments = serde_json::to_string(t.segments).map_err(AppError::internal)?;
    let row = db
        .query_opt(
            "UPDATE transcripts SET status = 'writing_notes', text = $2, language = $3,
                    duration_secs = coalesce($4, duration_secs), segments = $5::jsonb, credits_refunded = $6,
                    credits = credits + $7, cut_at_secs = $8
             WHERE id = $1 AND status = 'transcribing' RETURNING user_id",
            &[
                (&id, Type::TEXT),
                (&t.text, Type::TEXT),
                (&t.language, Type::TEXT),
                (&t.duration_secs, Type::FLOAT8),
                (&segments, Type::TEXT),
                (&t.refunded, Type::INT4),
                (&t.extra, Type::INT4),
                (&t.cut_at_secs, Type::FLOAT8),
            ],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Show notes written (or why not): the transcript is `done` either way. With `ready_mail`, a
/// "transcript ready" notice due that many seconds later is recorded in the same statement
/// (once per transcript; a sender drops it if the owner has seen the transcript by then).
pub async fn store_notes(
    db: &Db,
    id: &str,
    notes: Option<&ShowNotes>,
    notes_error: Option<&str>,
    ready_mail: Option<u64>,
) -> Result<bool, AppError> {
    let notes = notes.map(serde_json::to_string).transpose().map_err(AppError::internal)?;
    let after = ready_mail.map(|secs| secs as f64);
    let rows = db
        .query(
            "WITH done AS (
                 UPDATE transcripts SET status = 'done', notes = coalesce($2::jsonb, notes), notes_error = $3,
                        finished_at = coalesce(finished_at, now())
                 WHERE id = $1 AND status IN ('writing_notes', 'done') RETURNING id, user_id, seen_at),
             mail AS (
                 INSERT INTO customer_notices (kind, about, user_id, plan, due_at)
                 SELECT 'transcript_ready', id, user_id, '', now() + make_interval(secs => $4)
                 FROM done WHERE $4::float8 IS NOT NULL AND seen_at IS NULL
                 ON CONFLICT ON CONSTRAINT customer_notices_once DO NOTHING)
             SELECT id FROM done",
            &[(&id, Type::TEXT), (&notes, Type::TEXT), (&notes_error, Type::TEXT), (&after, Type::FLOAT8)],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// `transcribing` → `failed`: the owner and the credits to give back, or None.
pub async fn fail(db: &Db, id: &str, code: &str) -> Result<Option<(UserId, Credits)>, AppError> {
    let row = db
        .query_opt(
            "UPDATE transcripts SET status = 'failed', error = $2, finished_at = now()
             WHERE id = $1 AND status = 'transcribing' RETURNING user_id, credits",
            &[(&id, Type::TEXT), (&code, Type::TEXT)],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// A run waiting for the queue consumer: its owner and the credits reserved (None once it has
/// left `transcribing`, or was deleted).
pub async fn pending(db: &Db, id: &str) -> Result<Option<(UserId, Credits)>, AppError> {
    let row = db
        .query_opt(
            "SELECT user_id, credits FROM transcripts WHERE id = $1 AND status = 'transcribing'",
            &[(&id, Type::TEXT)],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// `transcribing` → `failed` when its retries ran out, with the code the last attempt noted
/// (`unavailable` when none did): the owner, the credits to give back and the code, or None.
pub async fn give_up(db: &Db, id: &str) -> Result<Option<(UserId, Credits, String)>, AppError> {
    let row = db
        .query_opt(
            "UPDATE transcripts SET status = 'failed', error = coalesce(error, 'unavailable'), finished_at = now()
             WHERE id = $1 AND status = 'transcribing' RETURNING user_id, credits, error",
            &[(&id, Type::TEXT)],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1), r.get(2))))
}

/// Notes why the latest attempt failed while the run waits to be tried again (the status stays
/// `transcribing`); the dead-letter consumer fails the run with it when the retries run out.
pub async fn note_attempt(db: &Db, id: &str, code: &str) -> Result<(), AppError> {
    db.execute(
        "UPDATE transcripts SET error = $2 WHERE id = $1 AND status = 'transcribing'",
        &[(&id, Type::TEXT), (&code, Type::TEXT)],
    )
    .await?;
    Ok(())
}

/// Notes that `done` of the episode's `total` chunks are transcribed (while it is transcribed).
pub async fn note_chunks(db: &Db, id: &str, done: i16, total: i16) -> Result<(), AppError> {
    db.execute(
        "UPDATE transcripts SET chunks_done = $2, chunks_total = $3 WHERE id = $1 AND status = 'transcribing'",
        &[(&id, Type::TEXT), (&done, Type::INT2), (&total, Type::INT2)],
    )
    .await?;
    Ok(())
}

/// A run's state as its progress is relayed: status, failure code, chunks transcribed.
pub type State = (RunStatus, Option<String>, Option<Chunks>);

/// The run's state (its owner's only), for the progress relay.
pub async fn state(db: &Db, user_id: UserId, id: &str) -> Result<Option<State>, AppError> {
    let row = db
        .query_opt(
            "SELECT status, error, chunks_done, chunks_total FROM transcripts WHERE id = $1 AND user_id = $2",
            &[(&id, Type::TEXT), (&user_id, Type::INT8)],
        )
        .await?;
    row.map(|r| Ok((column(&r, 0)?, r.get(1), chunks_of(r.get(2), r.get(3))))).transpose()
}

pub async fn find(db: &Db, user_id: UserId, id: &str) -> Result<Option<Transcript>, AppError> {
    let row = db
        .query_opt(
            // Showing a finished transcript to its owner is seeing it (no "ready" mail then):
            // marked in the same statement, so the page costs no extra round trip.
            "WITH seen AS (UPDATE transcripts SET seen_at = now()
                           WHERE id = $1 AND user_id = $2 AND status = 'done' AND seen_at IS NULL)
             SELECT id, status, file_name, size_bytes, duration_secs, model, credits, credits_refunded,
                    language, text, segments::text, notes::text, notes_error, error,
                    (extract(epoch FROM created_at) * 1000)::int8, cut_at_secs, chunks_done, chunks_total
             FROM transcripts WHERE id = $1 AND user_id = $2",
            &[(&id, Type::TEXT), (&user_id, Type::INT8)],
        )
        .await?;
    let Some(r) = row else { return Ok(None) };
    let segments: Option<String> = r.get(10);
    let notes: Option<String> = r.get(11);
    Ok(Some(Transcript {
        id: r.get(0),
        status: column(&r, 1)?,
        file_name: r.get(2),
        size_bytes: r.get(3),
        duration_secs: r.get(4),
        model: r.get(5),
        credits: r.get(6),
        credits_refunded: r.get(7),
        cut_at_secs: r.get(15),
        language: r.get(8),
        text: r.get(9),
        segments: segments.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default(),
        notes: notes.and_then(|n| serde_json::from_str(&n).ok()),
        notes_error: r.get(12),
        error: r.get(13),
        created_at_ms: r.get(14),
        chunks: chunks_of(r.get(16), r.get(17)),
    }))
}

pub async fn delete(db: &Db, user_id: UserId, id: &str) -> Result<Deleted, AppError> {
    let row = db
        .query_opt(
            "WITH target AS (SELECT id, status FROM transcripts WHERE id = $1 AND user_id = $2),
                  gone AS (DELETE FROM transcripts t USING target
                           WHERE t.id = target.id AND target.status IN ('done', 'failed') RETURNING t.id)
             SELECT target.status, (SELECT count(*) FROM gone)::int8 FROM target",
            &[(&id, Type::TEXT), (&user_id, Type::INT8)],
        )
        .await?;
    Ok(match row {
        None => Deleted::NotFound,
        Some(r) if r.get::<_, i64>(1) > 0 => Deleted::Yes,
        Some(_) => Deleted::Running,
    })
}
