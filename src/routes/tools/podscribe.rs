//! PodScribe pages (only when `PODSCRIBE_ENABLED`): the upload form, the upload (`POST
//! /tools/podscribe` waits and shows the result; `POST /api/tools/podscribe/upload` streams
//! progress as JSON lines to the page's script), a transcript with its status, its downloads
//! (TXT, SRT, VTT, show notes), writing show notes again, deleting it.

use super::agentwrite::file_stem;
use super::upload::{self, Episode, Refused};
use super::{item_id, limit, relay, ToolKind};
use crate::clients::openai::{Failure, OpenAi};
use crate::ctx::Ctx;
use crate::domain::audio::{credits_for, MAX_BYTES, MAX_EPISODE_BYTES};
use crate::domain::tool::RunStatus;
use crate::domain::transcript::{self, clock};
use crate::domain::UserId;
use crate::error::AppError;
use crate::reply::{Body, Reply};
use crate::routes::input::Form;
use crate::services::billing::reversals;
use crate::services::podscribe::{self, Stage};
use crate::services::run_queue::{self, RunMessage};
use crate::services::runs::failure_message;
use crate::services::transcripts;
use crate::views::render;
use crate::views::tools::{when, PodScribePage, TranscriptPage, TranscriptView};
use futures_channel::mpsc;
use futures_util::StreamExt;
use serde_json::json;
use worker::Request;

/// Who is waiting for the upload's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A plain form post: the answer is a page.
    Page,
    /// The page's script: the answer is JSON lines of progress, or a JSON error.
    Progress,
}

pub async fn form(cx: &Ctx) -> Result<Reply, AppError> {
    let user_id = cx.require_user().await?.id;
    upload_page(cx, user_id, None).await
}

async fn upload_page(cx: &Ctx, user_id: UserId, notice: Option<String>) -> Result<Reply, AppError> {
    let (balance, hold) = reversals::balance_and_notice(cx.db().await?, user_id).await?;
    let layout = crate::routes::layout(cx, "PodScribe · GhostTools").await;
    Ok(Reply::html(render(&PodScribePage {
        layout,
        notice,
        balance,
        max_bytes: MAX_BYTES,
        max_episode_bytes: MAX_EPISODE_BYTES,
        hold,
    })))
}

/// The upload refused before anything was kept, in the form the caller understands.
async fn refuse(cx: &Ctx, mode: Mode, user_id: UserId, refused: Refused) -> Result<Reply, AppError> {
    let Refused { status, code, message } = refused;
    match mode {
        Mode::Progress => Ok(Reply::json(&json!({ "error": { "code": code, "message": message } }))
            .with_status(status)
            .no_store()),
        Mode::Page => Ok(upload_page(cx, user_id, Some(message)).await?.with_status(status)),
    }
}

pub async fn upload(req: &mut Request, cx: &Ctx, mode: Mode) -> Result<Reply, AppError> {
    let (user_id, standing) = super::payer(cx).await?;
    cx.config.openai.as_ref().map_err(|p| AppError::from(p.clone()))?;
    let Episode { audio, file } = match upload::receive(req, cx).await? {
        Ok(episode) => episode,
        Err(refused) => return refuse(cx, mode, user_id, refused).await,
    };
    // Only an accepted file the account can pay for counts against its uploads.
    let needed = credits_for(audio.reserved_secs());
    let started = match super::pay_and_limit(cx, ToolKind::PodScribe, standing, needed).await {
        Ok(()) => podscribe::start(cx.db().await?, user_id, &audio, &cx.config.tools.transcribe_model).await,
        Err(e) => Err(e),
    };
    let (id, reserved) = match started {
        Ok(s) => s,
        Err(e @ AppError::InsufficientCredits { .. }) => {
            let message = format!(
                "{} PodScribe reserves a credit for every minute this file could hold (the longer of the length it declares and what its size allows); what the episode does not use is given back as soon as it is transcribed.",
                e.public_message()
            );
            let refused = Refused { status: 402, code: e.code(), message };
            return refuse(cx, mode, user_id, refused).await;
        }
        Err(e) => return Err(e),
    };
    let job = super::job_env(cx);
    let message = RunMessage {
        run: id.to_string(),
        upload_name: audio.upload_name,
        media_type: audio.kind.media_type().into(),
        ..RunMessage::default()
    };
    if let Err(e) = run_queue::submit(&cx.env, message, &file).await {
        // Not stored or not enqueued: failed and refunded at once (the page says so).
        job.reporter.report_now(&e).await;
        podscribe::fail(&job, &id, Failure::Busy(e.to_string())).await;
    }
    let (tx, mut stages) = mpsc::unbounded();
    let _ = tx.unbounded_send(Stage::Accepted { id: id.clone(), credits: reserved });
    // The run happens in the queue consumer; this only relays what the database says of it.
    cx.wait_until(podscribe::watch(job, user_id, id.clone(), tx));
    match mode {
        Mode::Progress => Ok(relay("application/x-ndjson", stages, Stage::to_ndjson, b"\n")),
        Mode::Page => {
            // The transcript page tells how it went (and that a failure was refunded).
            while let Some(stage) = stages.next().await {
                if stage.is_last() {
                    break;
                }
            }
            Ok(Reply::redirect(format!("/tools/podscribe/{id}")))
        }
    }
}

/// A transcript: its progress while it is made (the page follows it), then the result. Showing
/// it done marks it seen (no "ready" mail).
pub async fn show(cx: &Ctx, id: &str) -> Result<Reply, AppError> {
    let user_id = cx.require_user().await?.id;
    let id = item_id(id)?;
    let t = transcripts::find(cx.db().await?, user_id, &id).await?;
    let failure = (t.status == RunStatus::Failed)
        .then(|| failure_message("PodScribe", t.error.as_deref().unwrap_or("unavailable"), true));
    let notes_error = t.notes_error.as_deref().map(|code| match code {
        "abandoned" => "Show notes were not written. You can ask for them again.".to_string(),
        code => format!("Show notes could not be written: {}", failure_message("PodScribe", code, false)),
    });
    let view = TranscriptView {
        id: t.id.clone(),
        file_name: t.file_name.clone(),
        status: t.status,
        duration: t.duration_secs.map(clock),
        credits: t.credits,
        credits_refunded: t.credits_refunded,
        cut_at: t.cut_at_secs.map(clock),
        segments: transcript::tidy(&t.segments).into_iter().map(|s| (clock(s.start), s.text)).collect(),
        text: t.text.clone(),
        notes: t.notes.clone(),
        notes_error,
        failure,
        created: when(t.created_at_ms),
        chunks: t.chunks.filter(|_| t.status == RunStatus::Transcribing),
    };
    let layout = crate::routes::layout(cx, format!("{} · PodScribe", t.file_name)).await;
    Ok(Reply::html(render(&TranscriptPage { layout, t: view })))
}

/// `transcript.txt`, `transcript.srt`, `transcript.vtt` or `show-notes.md`.
pub async fn download(cx: &Ctx, id: &str, file: &str) -> Result<Reply, AppError> {
    let user_id = cx.require_user().await?.id;
    let id = item_id(id)?;
    let t = transcripts::find(cx.db().await?, user_id, &id).await?;
    let text = t.text.as_deref().ok_or(AppError::NotFound)?;
    let timed = !transcript::tidy(&t.segments).is_empty();
    let (content_type, ext, content) = match file {
        "transcript.txt" => ("text/plain; charset=utf-8", "txt", transcript::txt(text, &t.segments)),
        "transcript.srt" if timed => {
            ("application/x-subrip; charset=utf-8", "srt", transcript::srt(&t.segments))
        }
        "transcript.vtt" if timed => ("text/vtt; charset=utf-8", "vtt", transcript::vtt(&t.segments)),
        "show-notes.md" => {
            let notes = t.notes.as_ref().ok_or(AppError::NotFound)?;
            ("text/markdown; charset=utf-8", "md", notes.to_markdown(&t.file_name))
        }
        _ => return Err(AppError::NotFound),
    };
    let stem = file_stem(t.file_name.rsplit_once('.').map(|(s, _)| s).unwrap_or(&t.file_name));
    let suffix = if ext == "md" { "-show-notes" } else { "" };
    Ok(Reply::new(200, Body::Bytes { content_type: content_type.into(), bytes: content.into_bytes() })
        .with_header("Content-Disposition", format!("attachment; filename=\"{stem}{suffix}.{ext}\""))
        .no_store())
}

/// Show notes written again when they failed (free: the transcript was paid for).
pub async fn retry_notes(req: &mut Request, cx: &Ctx, id: &str) -> Result<Reply, AppError> {
    let user_id = cx.require_user().await?.id;
    let id = item_id(id)?;
    Form::read(req, cx).await?;
    let db = cx.db().await?;
    if let Some(t) = transcripts::missing_notes(db, user_id, &id).await? {
        limit(cx, ToolKind::ShowNotes).await?;
        let openai = OpenAi::new(&cx.config, &cx.request_id)?;
        transcripts::write_notes_again(&super::job_env(cx), db, &openai, &t).await?;
    }
    Ok(Reply::redirect(format!("/tools/podscribe/{id}")))
}

pub async fn delete(req: &mut Request, cx: &Ctx, id: &str) -> Result<Reply, AppError> {
    let user_id = cx.require_user().await?.id;
    let id = item_id(id)?;
    Form::read(req, cx).await?;
    transcripts::delete(cx.db().await?, user_id, &id).await?;
    Ok(Reply::redirect("/history"))
}
