//! A user's PodScribe transcripts once they exist: finding one of theirs, writing its show notes
//! again when they failed (free: the transcript was paid for), deleting one.

use super::runs::JobEnv;
use crate::clients::openai::OpenAi;
use crate::db::transcripts::{self, Transcript};
use crate::db::Db;
use crate::domain::item_id::ItemId;
use crate::domain::tool::RunStatus;
use crate::domain::UserId;
use crate::error::AppError;

/// A transcript of `user_id`'s, or `NotFound`.
pub async fn find(db: &Db, user_id: UserId, id: &ItemId) -> Result<Transcript, AppError> {
    transcripts::find(db, user_id, id.as_str()).await?.ok_or(AppError::NotFound)
}

/// The transcript of `user_id`'s whose show notes may be written again: done, with its text,
/// and without notes (they are not a free regenerate button). None: there is nothing to write.
pub async fn missing_notes(db: &Db, user_id: UserId, id: &ItemId) -> Result<Option<Transcript>, AppError> {
    let t = find(db, user_id, id).await?;
    Ok(match (&t.text, t.status, &t.notes) {
        (Some(_), RunStatus::Done, None) => Some(t),
        _ => None,
    })
}

/// Writes the show notes of `t` (from `missing_notes`) again and stores them, or the code of
/// their failure (an operator's failure is reported).
pub async fn write_notes_again(
    job: &JobEnv,
    db: &Db,
    openai: &OpenAi,
    t: &Transcript,
) -> Result<(), AppError> {
    let Some(text) = &t.text else { return Ok(()) };
    let model = &job.config.tools.chat_model;
    let notes = super::podscribe::write_notes(openai, model, text, &t.segments, t.duration_secs).await;
    match &notes {
        Ok(n) => transcripts::store_notes(db, &t.id, Some(n), None, None).await?,
        Err(f) => {
            job.report_operator_failure(f).await;
            transcripts::store_notes(db, &t.id, None, Some(f.code()), None).await?
        }
    };
    Ok(())
}

/// Deletes a transcript of `user_id`'s; one still being transcribed is refused (it must settle
/// first).
pub async fn delete(db: &Db, user_id: UserId, id: &ItemId) -> Result<(), AppError> {
    super::runs::deleted(
        transcripts::delete(db, user_id, id.as_str()).await?,
        "This episode is still being transcribed",
    )
}
