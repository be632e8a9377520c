//! PodScribe pages (only when `PODSCRIBE_ENABLED`): the upload form, the upload (`POST
//! /tools/podscribe` waits and shows the result; `POST /api/tools/podscribe/upload` streams
//! progress as JSON lines to the page's script), a transcript with its status, its downloads
//! (TXT, SRT, VTT, show notes), writing show notes again, deleting it.

use super::agentwrite::file_stem;
use super::{item_id, limit, relay, ToolKind};
use crate::clients::openai::OpenAi;
use crate::ctx::Ctx;
use crate::db::{credits, generations::Deleted, transcripts};
use crate::domain::audio::{AudioUpload, UploadError, MAX_BYTES};
use crate::domain::transcript::{self, clock};
use crate::error::AppError;
use crate::reply::{Body, Reply};
use crate::routes::input::{read_body, Form};
use crate::routes::multipart;
use crate::services::podscribe::{self, Stage};
use crate::services::runs::{failure_message, JobEnv};
use crate::views::render;
use crate::views::tools::{when, PodScribePage, TranscriptPage, TranscriptView};
use futures_channel::mpsc;
use futures_util::StreamExt;
use serde_json::json;
use worker::Request;

/// The body may carry the file plus the form's other fields and multipart framing.
const BODY_LIMIT: u64 = MAX_BYTES + 64 * 1024;

/// Who is waiting for the upload's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A plain form post: the answer is a page.
    Page,
    /// The page's script: the answer is JSON lines of progress, or a JSON error.
    Progress,
}

fn enabled(cx: &Ctx) -> Result<(), AppError> {
    if cx.config.tools.podscribe_enabled {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

pub async fn form(cx: &Ctx) -> Result<Reply, AppError> {
    enabled(cx)?;
    let user_id = cx.require_user().await?.id;
    upload_page(cx, user_id, None).await
}

async fn upload_page(cx: &Ctx, user_id: i64, notice: Option<String>) -> Result<Reply, AppError> {
    let balance = credits::balance(cx.db().await?, user_id).await?;
    let layout = crate::routes::layout(cx, "PodScribe · GhostTools").await;
    Ok(Reply::html(render(&PodScribePage { layout, notice, balance, max_bytes: MAX_BYTES })))
}

/// The upload refused before anything was kept, in the form the caller understands.
async fn refuse(
    cx: &Ctx,
    mode: Mode,
    user_id: i64,
    status: u16,
    code: &str,
    message: String,
) -> Result<Reply, AppError> {
    match mode {
        Mode::Progress => Ok(Reply::json(&json!({ "error": { "code": code, "message": message } }))
            .with_status(status)
            .no_store()),
        Mode::Page => Ok(upload_page(cx, user_id, Some(message)).await?.with_status(status)),
    }
}

fn upload_error(e: &UploadError) -> (u16, &'static str) {
    match e {
        UploadError::TooLarge => (413, "payload_too_large"),
        UploadError::Missing => (400, "bad_request"),
        UploadError::UnsupportedExtension | UploadError::NotAudio => (415, "unsupported_media_type"),
    }
}

pub async fn upload(req: &mut Request, cx: &Ctx, mode: Mode) -> Result<Reply, AppError> {
    limit(cx, ToolKind::PodScribe).await?;
    enabled(cx)?;
    let user_id = cx.require_user().await?.id;
    cx.config.openai.as_ref().map_err(|p| AppError::from(p.clone()))?;
    let Some(boundary) =
        req.headers().get("content-type").ok().flatten().as_deref().and_then(multipart::boundary)
    else {
        let message = "Please upload the episode with the upload form.".to_string();
        return refuse(cx, mode, user_id, 415, "unsupported_media_type", message).await;
    };
    // 413 by the declared length before reading, and again while reading: nothing is kept.
    let mut body = match read_body(req, BODY_LIMIT).await {
        Ok(body) => body,
        Err(AppError::PayloadTooLarge { .. }) => {
            let e = UploadError::TooLarge;
            return refuse(cx, mode, user_id, 413, "payload_too_large", e.message()).await;
        }
        Err(e) => return Err(e),
    };
    let parts = multipart::parse(&body, &boundary).map_err(|why| AppError::BadRequest {
        field: None,
        message: format!("The upload was malformed: {why}."),
    })?;
    let token =
        multipart::field(&body, &parts, "csrf").map(|t| t.into_owned()).or_else(|| cx.header("x-csrf-token"));
    cx.verify_csrf(token.as_deref())?;
    let Some(file) = parts.iter().find(|p| p.name == "file" && p.filename.is_some()).cloned() else {
        let e = UploadError::Missing;
        return refuse(cx, mode, user_id, 400, "bad_request", e.message()).await;
    };
    let upload = match AudioUpload::inspect(file.filename.as_deref().unwrap_or(""), &body[file.range.clone()])
    {
        Ok(u) => u,
        Err(e) => {
            let (status, code) = upload_error(&e);
            return refuse(cx, mode, user_id, status, code, e.message()).await;
        }
    };
    let started = podscribe::start(cx.db().await?, user_id, &upload, &cx.config.tools.transcribe_model).await;
    let (id, reserved) = match started {
        Ok(s) => s,
        Err(e @ AppError::InsufficientCredits { .. }) => {
            return refuse(cx, mode, user_id, 402, e.code(), e.public_message()).await;
        }
        Err(e) => return Err(e),
    };
    // The file itself, in place: no second 25 MB copy.
    body.truncate(file.range.end);
    body.drain(..file.range.start);
    let (tx, mut stages) = mpsc::unbounded();
    let _ = tx.unbounded_send(Stage::Accepted { id: id.clone(), credits: reserved });
    cx.wait_until(podscribe::run(JobEnv::of(cx), id.clone(), upload, body, reserved, tx));
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

/// A transcript: its progress while it is made (the page refreshes itself), then the result.
pub async fn show(cx: &Ctx, id: &str) -> Result<Reply, AppError> {
    enabled(cx)?;
    let user_id = cx.require_user().await?.id;
    let id = item_id(id)?;
    let t = transcripts::find(cx.db().await?, user_id, id.as_str()).await?.ok_or(AppError::NotFound)?;
    let failure = (t.status == "failed")
        .then(|| failure_message("PodScribe", t.error.as_deref().unwrap_or("unavailable"), true));
    let notes_error = t.notes_error.as_deref().map(|code| match code {
        "abandoned" => "Show notes were not written. You can ask for them again.".to_string(),
        code => format!("Show notes could not be written: {}", failure_message("PodScribe", code, false)),
    });
    let view = TranscriptView {
        id: t.id.clone(),
        file_name: t.file_name.clone(),
        status: t.status.clone(),
        duration: t.duration_secs.map(clock),
        credits: t.credits,
        credits_refunded: t.credits_refunded,
        segments: transcript::tidy(&t.segments).into_iter().map(|s| (clock(s.start), s.text)).collect(),
        text: t.text.clone(),
        notes: t.notes.clone(),
        notes_error,
        failure,
        created: when(t.created_at_ms),
    };
    let layout = crate::routes::layout(cx, format!("{} · PodScribe", t.file_name)).await;
    Ok(Reply::html(render(&TranscriptPage { layout, t: view })))
}

/// `transcript.txt`, `transcript.srt`, `transcript.vtt` or `show-notes.md`.
pub async fn download(cx: &Ctx, id: &str, file: &str) -> Result<Reply, AppError> {
    enabled(cx)?;
    let user_id = cx.require_user().await?.id;
    let id = item_id(id)?;
    let t = transcripts::find(cx.db().await?, user_id, id.as_str()).await?.ok_or(AppError::NotFound)?;
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
    limit(cx, ToolKind::ShowNotes).await?;
    enabled(cx)?;
    let user_id = cx.require_user().await?.id;
    let id = item_id(id)?;
    Form::read(req, cx).await?;
    let db = cx.db().await?;
    let t = transcripts::find(db, user_id, id.as_str()).await?.ok_or(AppError::NotFound)?;
    // Only notes that are missing are written again (they are not a free regenerate button).
    let text = match (&t.text, t.status.as_str(), &t.notes) {
        (Some(text), "done", None) => text,
        _ => return Ok(Reply::redirect(format!("/tools/podscribe/{id}"))),
    };
    let openai = OpenAi::new(&cx.config, &cx.request_id)?;
    let notes =
        podscribe::write_notes(&openai, &cx.config.tools.chat_model, text, &t.segments, t.duration_secs)
            .await;
    match &notes {
        Ok(n) => transcripts::store_notes(db, id.as_str(), Some(n), None).await?,
        Err(f) => {
            JobEnv::of(cx).report_operator_failure(f).await;
            transcripts::store_notes(db, id.as_str(), None, Some(f.code())).await?
        }
    };
    Ok(Reply::redirect(format!("/tools/podscribe/{id}")))
}

pub async fn delete(req: &mut Request, cx: &Ctx, id: &str) -> Result<Reply, AppError> {
    enabled(cx)?;
    let user_id = cx.require_user().await?.id;
    let id = item_id(id)?;
    Form::read(req, cx).await?;
    match transcripts::delete(cx.db().await?, user_id, id.as_str()).await? {
        Deleted::Yes => Ok(Reply::redirect("/history")),
        Deleted::NotFound => Err(AppError::NotFound),
        Deleted::Running => Err(AppError::BadRequest {
            field: None,
            message: "This episode is still being transcribed. Delete it once it has finished.".into(),
        }),
    }
}
