//! PodScribe's rules. Price: one credit per started minute of audio actually transcribed.
//!
//! - Reserved before anything is sent to OpenAI: the longer of the length the file declares and
//!   what its size can hold at its format's lowest plausible bit rate (`AudioUpload::
//!   reserved_secs`); a balance that cannot cover that is refused and nothing is sent.
//! - Settled when the text is stored, by the transcription's own length (what it reports, or
//!   where its last segment ends): a shorter episode is refunded the difference; a longer one is
//!   charged the extra minutes, and when the balance cannot pay them all, only the minutes paid
//!   for are kept (the rest of the transcript is dropped, never shown). A transcription with no
//!   timing at all keeps the whole reservation: nothing then says it was shorter.
//! - A failed transcription is refunded in full, in the transaction that marks it failed. Show
//!   notes follow the transcript; their failure keeps the transcript (and the charge) and can be
//!   retried at no cost.

use super::podscribe_chunks::Audio;
use super::podscribe_settle::settle;
pub use super::podscribe_settle::{fail, give_up, Run};
use super::runs::{failure_message, new_id, sweep_abandoned, JobEnv};
use crate::clients::openai::{Failure, OpenAi};
use crate::db::credits::{self, Reason};
use crate::db::transcripts::{self, NewTranscript};
use crate::db::Db;
use crate::domain::audio::{credits_for, AudioUpload};
use crate::domain::item_id::ItemId;
use crate::domain::show_notes::{self, ShowNotes};
use crate::domain::tool::RunStatus;
use crate::domain::transcript::{tidy, Chunks, Segment};
use crate::domain::Credits;
use crate::domain::UserId;
use crate::error::AppError;
use futures_channel::mpsc::UnboundedSender;
use serde_json::json;

/// Room for a summary, key points and chapters.
const NOTES_MAX_TOKENS: u32 = 900;

#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    Accepted { id: ItemId, credits: Credits },
    Transcribing { chunks: Option<Chunks> },
    WritingNotes,
    Done { id: ItemId },
    Failed { id: ItemId, code: &'static str, message: String },
}

impl Stage {
    /// One line of newline-delimited JSON for the upload page's progress.
    pub fn to_ndjson(&self) -> Vec<u8> {
        let value = match self {
            Stage::Accepted { id, credits } => {
                json!({ "status": "accepted", "id": id.as_str(), "url": page(id), "credits": credits })
            }
            Stage::Transcribing { chunks: None } => json!({ "status": "transcribing" }),
            Stage::Transcribing { chunks: Some(c) } => {
                json!({ "status": "transcribing", "chunks_done": c.done, "chunks": c.total })
            }
            Stage::WritingNotes => json!({ "status": "writing_notes" }),
            Stage::Done { id } => json!({ "status": "done", "url": page(id) }),
            Stage::Failed { id, code, message } => {
                json!({ "status": "failed", "url": page(id), "code": code, "message": message })
            }
        };
        format!("{value}\n").into_bytes()
    }

    /// The stage a run's stored state stands for (failures were refunded).
    pub fn of(id: &ItemId, (status, error, chunks): transcripts::State) -> Stage {
        match status {
            RunStatus::WritingNotes => Stage::WritingNotes,
            RunStatus::Done => Stage::Done { id: id.clone() },
            RunStatus::Failed => {
                let code = known_code(error.as_deref().unwrap_or("unavailable"));
                Stage::Failed { id: id.clone(), code, message: failure_message("PodScribe", code, true) }
            }
            RunStatus::Running | RunStatus::Transcribing => Stage::Transcribing { chunks },
        }
    }

    pub fn is_last(&self) -> bool {
        matches!(self, Stage::Done { .. } | Stage::Failed { .. })
    }
}

/// A stored failure code as one of the codes the pages know (`Stage` holds static codes).
fn known_code(code: &str) -> &'static str {
    const CODES: [&str; 8] = [
        "busy",
        "unavailable",
        "filtered",
        "too_long",
        "interrupted",
        "unreadable",
        "timed_out",
        "abandoned",
    ];
    CODES.into_iter().find(|c| *c == code).unwrap_or("unavailable")
}

fn page(id: &ItemId) -> String {
    format!("/tools/podscribe/{id}")
}

/// Reserves the credits and records the transcript; `InsufficientCredits` writes nothing.
pub async fn start(
    db: &Db,
    user_id: UserId,
    upload: &AudioUpload,
    model: &str,
) -> Result<(ItemId, Credits), AppError> {
    let id = new_id();
    let credits = start_run(db, user_id, upload, model, &id, false).await?;
    Ok((id, credits))
}

/// `start` for the run `id`; `parts`: its episode came in parts (`episode_uploads` row `id`),
/// ended in the same transaction — `AppError::NotFound` when it already was, so a second
/// "complete" never starts (or charges) a second run.
pub async fn start_run(
    db: &Db,
    user_id: UserId,
    upload: &AudioUpload,
    model: &str,
    id: &ItemId,
    parts: bool,
) -> Result<Credits, AppError> {
    let credits = credits_for(upload.reserved_secs());
    db.transaction(async |db| {
        if parts && !crate::db::episode_uploads::complete(db, user_id, id.as_str()).await? {
            return Err(AppError::NotFound);
        }
        sweep_abandoned(db, Some(user_id)).await?;
        transcripts::insert(
            db,
            &NewTranscript {
                id: id.as_str(),
                user_id,
                file_name: &upload.display_name,
                media_type: upload.kind.media_type(),
                size_bytes: upload.size as i64,
                duration_secs: upload.duration_secs,
                model,
                credits,
            },
        )
        .await?;
        let note = format!("PodScribe: {}", upload.display_name);
        credits::spend(db, user_id, credits, Reason::PodScribe, id.as_str(), Some(&note)).await?;
        Ok(())
    })
    .await?;
    Ok(credits)
}

/// How one attempt at a run ended, for the queue consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Settled, failed and refunded, or found already settled: acknowledge the message.
    Finished,
    /// Worth another attempt later (OpenAI busy, timed out or cut off; the result not saved).
    Retry,
}

/// Failures another attempt may get past.
fn transient(failure: &Failure) -> bool {
    matches!(failure, Failure::Busy(_) | Failure::TimedOut | Failure::Interrupted(_))
}

/// One attempt at a run: transcribes `audio` (whole or in chunks), settles exactly once, writes
/// show notes. A transient failure leaves the run `transcribing` (with its code noted) for the queue to retry;
/// any other outcome ends in the database.
pub async fn run(
    job: &JobEnv,
    started: &Run,
    upload_name: &str,
    media_type: &str,
    audio: &Audio<'_>,
) -> Ending {
    let Run { id, user_id, reserved } = started;
    let openai = match OpenAi::new(&job.config, job.request_id()) {
        Ok(o) => o,
        Err(e) => {
            fail(job, id, Failure::Operator(e.to_string())).await;
            return Ending::Finished;
        }
    };
    let model = job.config.tools.transcribe_model.clone();
    let transcription =
        match audio.transcribe(job, id.as_str(), &openai, &model, upload_name, media_type).await {
            Ok(t) if !t.text.is_empty() => t,
            Ok(_) => {
                fail(job, id, Failure::Unreadable("empty transcription".into())).await;
                return Ending::Finished;
            }
            Err(failure) if transient(&failure) => {
                job.log("warn", &format!("transcription {id} will be retried: {}", failure.detail()));
                if let Err(e) = job
                    .with_db(async |db| transcripts::note_attempt(db, id.as_str(), failure.code()).await)
                    .await
                {
                    job.reporter.report_now(&e).await;
                }
                return Ending::Retry;
            }
            Err(failure) => {
                fail(job, id, failure).await;
                return Ending::Finished;
            }
        };
    let stored = job
        .with_db(async |db| {
            db.transaction(async |db| settle(db, id, *user_id, *reserved, &transcription).await).await
        })
        .await;
    let transcription = match stored {
        Ok(Some(delivered)) => delivered,
        // An earlier delivery of the same message (or the sweep) settled it: charge nothing more.
        Ok(None) => return Ending::Finished,
        Err(e) => {
            // Not saved: the run stays `transcribing` and is transcribed again on the next attempt.
            job.reporter.report_now(&e).await;
            return Ending::Retry;
        }
    };
    let chat_model = job.config.tools.chat_model.clone();
    let notes = write_notes(
        &openai,
        &chat_model,
        &transcription.text,
        &transcription.segments,
        transcription.duration,
    )
    .await;
    if let Err(failure) = &notes {
        job.report_operator_failure(failure).await;
    }
    let mail_after = job.config.tools.ready_mail_delay_secs;
    let saved = job
        .with_db(async |db| match &notes {
            Ok(n) => transcripts::store_notes(db, id.as_str(), Some(n), None, Some(mail_after)).await,
            Err(f) => transcripts::store_notes(db, id.as_str(), None, Some(f.code()), Some(mail_after)).await,
        })
        .await;
    match saved {
        Ok(true) => super::run_message::schedule_ready_mail(job, id, mail_after).await,
        Ok(false) => {}
        // The transcript is stored; the sweep marks it done later.
        Err(e) => job.reporter.report_now(&e).await,
    }
    Ending::Finished
}

/// Relays the run's progress to `stages` as the database tells it (the run itself happens in
/// the queue consumer), until it ends, nobody listens any more, or 20 minutes have passed.
pub async fn watch(job: JobEnv, user_id: UserId, id: ItemId, stages: UnboundedSender<Stage>) {
    const EVERY: std::time::Duration = std::time::Duration::from_millis(500);
    let mut last: Option<Stage> = None;
    for _ in 0..(20 * 60 * 2) {
        if stages.is_closed() {
            return;
        }
        if let Ok(state) = job.with_db(async |db| transcripts::state(db, user_id, id.as_str()).await).await {
            let stage = match state {
                Some(state) => Stage::of(&id, state),
                None => Stage::Failed {
                    id: id.clone(),
                    code: "deleted",
                    message: "This transcript was deleted.".into(),
                },
            };
            if last.as_ref() != Some(&stage) {
                let _ = stages.unbounded_send(stage.clone());
                if stage.is_last() {
                    return;
                }
                last = Some(stage);
            }
        }
        worker::Delay::from(EVERY).await;
    }
}

/// Show notes from a transcript; chapters only when it has timestamps.
pub async fn write_notes(
    openai: &OpenAi,
    model: &str,
    text: &str,
    segments: &[Segment],
    duration: Option<f64>,
) -> Result<ShowNotes, Failure> {
    let timed = !tidy(segments).is_empty();
    let answer = openai
        .chat(
            model,
            &show_notes::system_prompt(timed),
            &show_notes::user_prompt(text, segments),
            NOTES_MAX_TOKENS,
        )
        .await?;
    let duration = duration.or_else(|| segments.last().map(|s| s.end));
    let mut notes = ShowNotes::parse(&answer.content, duration);
    if notes.is_empty() {
        return Err(Failure::Busy("the model wrote no usable show notes".into()));
    }
    if !timed {
        notes.chapters.clear();
    }
    Ok(notes)
}
