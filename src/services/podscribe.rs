//! PodScribe's rules. Price: one credit per started minute of audio, reserved before anything
//! is sent to OpenAI, for the length the file declares (or an estimate from its size at
//! 128 kbit/s when it does not say). When the transcription reports a shorter length, the
//! difference is refunded as the text is stored; it is never charged more than was reserved.
//! A failed transcription is refunded in full, in the transaction that marks it failed. Show
//! notes follow the transcript; their failure keeps the transcript (and the charge) and can be
//! retried at no cost.

use super::runs::{failure_message, new_id, sweep_abandoned, JobEnv};
use crate::clients::openai::{Failure, OpenAi};
use crate::db::credits::{self, Reason};
use crate::db::transcripts::{self, NewTranscript, Transcribed};
use crate::db::Db;
use crate::domain::audio::{credits_for, AudioUpload};
use crate::domain::item_id::ItemId;
use crate::domain::show_notes::{self, ShowNotes};
use crate::domain::transcript::{tidy, Segment};
use crate::error::AppError;
use futures_channel::mpsc::UnboundedSender;
use serde_json::json;
use worker::web_sys::Blob;

/// Room for a summary, key points and chapters.
const NOTES_MAX_TOKENS: u32 = 900;

#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    Accepted { id: ItemId, credits: i32 },
    Transcribing,
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
            Stage::Transcribing => json!({ "status": "transcribing" }),
            Stage::WritingNotes => json!({ "status": "writing_notes" }),
            Stage::Done { id } => json!({ "status": "done", "url": page(id) }),
            Stage::Failed { id, code, message } => {
                json!({ "status": "failed", "url": page(id), "code": code, "message": message })
            }
        };
        format!("{value}\n").into_bytes()
    }

    pub fn is_last(&self) -> bool {
        matches!(self, Stage::Done { .. } | Stage::Failed { .. })
    }
}

fn page(id: &ItemId) -> String {
    format!("/tools/podscribe/{id}")
}

/// Reserves the credits and records the transcript; `InsufficientCredits` writes nothing.
pub async fn start(
    db: &Db,
    user_id: i64,
    upload: &AudioUpload,
    model: &str,
) -> Result<(ItemId, i32), AppError> {
    let id = new_id();
    let credits = i32::try_from(credits_for(upload.billable_secs())).map_err(AppError::internal)?;
    db.transaction(async |db| {
        sweep_abandoned(db, user_id).await?;
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
        credits::spend(db, user_id, i64::from(credits), Reason::PodScribe, id.as_str(), Some(&note)).await?;
        Ok(())
    })
    .await?;
    Ok((id, credits))
}

/// Transcribes `audio` (the upload, in the runtime's memory), settles, writes show notes; every
/// outcome ends in the database and as the last stage sent to `stages`.
pub async fn run(
    job: JobEnv,
    id: ItemId,
    upload: AudioUpload,
    audio: Blob,
    reserved: i32,
    stages: UnboundedSender<Stage>,
) {
    let send = |stage: Stage| {
        let _ = stages.unbounded_send(stage);
    };
    send(Stage::Transcribing);
    let openai = match OpenAi::new(&job.config, job.request_id()) {
        Ok(o) => o,
        Err(e) => {
            send(fail(&job, &id, Failure::Operator(e.to_string())).await);
            return;
        }
    };
    let model = job.config.tools.transcribe_model.clone();
    let transcription =
        match openai.transcribe(&model, &upload.upload_name, upload.kind.media_type(), &audio).await {
            Ok(t) if !t.text.is_empty() => t,
            Ok(_) => {
                send(fail(&job, &id, Failure::Unreadable("empty transcription".into())).await);
                return;
            }
            Err(failure) => {
                send(fail(&job, &id, failure).await);
                return;
            }
        };
    // Charge the length OpenAI measured when it is shorter than what was reserved.
    let measured = transcription.duration.map(credits_for).unwrap_or(i64::from(reserved));
    let refund = reserved - i32::try_from(measured.min(i64::from(reserved))).unwrap_or(reserved);
    let stored = job
        .with_db(async |db| {
            db.transaction(async |db| {
                let t = Transcribed {
                    text: &transcription.text,
                    language: transcription.language.as_deref(),
                    duration_secs: transcription.duration,
                    segments: &transcription.segments,
                    refunded: refund,
                };
                let owner = transcripts::store_text(db, id.as_str(), &t).await?;
                if let (Some(user_id), true) = (owner, refund > 0) {
                    let note = "PodScribe: audio shorter than reserved for";
                    credits::grant(
                        db,
                        user_id,
                        i64::from(refund),
                        Reason::ToolRefund,
                        id.as_str(),
                        Some(note),
                    )
                    .await?;
                }
                Ok(owner.is_some())
            })
            .await
        })
        .await;
    match stored {
        Ok(true) => {}
        Ok(false) => {
            let message = failure_message("PodScribe", "abandoned", true);
            send(Stage::Failed { id: id.clone(), code: "abandoned", message });
            return;
        }
        Err(e) => {
            job.reporter.report_now(&e).await;
            let message = failure_message("PodScribe", "not_saved", false);
            send(Stage::Failed { id: id.clone(), code: "not_saved", message });
            return;
        }
    }
    send(Stage::WritingNotes);
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
    let saved = job
        .with_db(async |db| match &notes {
            Ok(n) => transcripts::store_notes(db, id.as_str(), Some(n), None).await,
            Err(f) => transcripts::store_notes(db, id.as_str(), None, Some(f.code())).await,
        })
        .await;
    if let Err(e) = saved {
        // The transcript is stored; the sweep marks it done later.
        job.reporter.report_now(&e).await;
    }
    send(Stage::Done { id });
}

/// Marks the transcript failed and refunds it in one transaction; the stage to report.
async fn fail(job: &JobEnv, id: &ItemId, failure: Failure) -> Stage {
    job.report_operator_failure(&failure).await;
    let code = failure.code();
    let refunded = job
        .with_db(async |db| {
            db.transaction(async |db| {
                if let Some((user_id, amount)) = transcripts::fail(db, id.as_str(), code).await? {
                    let note = format!("PodScribe failed: {code}");
                    credits::grant(
                        db,
                        user_id,
                        i64::from(amount),
                        Reason::ToolRefund,
                        id.as_str(),
                        Some(&note),
                    )
                    .await?;
                }
                Ok(())
            })
            .await
        })
        .await;
    if let Err(e) = &refunded {
        job.reporter.report_now(e).await;
    }
    Stage::Failed { id: id.clone(), code, message: failure_message("PodScribe", code, refunded.is_ok()) }
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
