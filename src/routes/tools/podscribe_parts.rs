//! PodScribe uploads in parts, for the page's script (episodes up to 500 MB, MP3 or WAV above
//! 25 MB): `POST …/uploads` opens one (a form: `file_name`, `size`), `POST …/uploads/:id/parts/:n`
//! sends part n (the raw bytes, `application/octet-stream`, the form token in `X-CSRF-Token`),
//! `GET …/uploads/:id` says which parts arrived (to resume), `POST …/uploads/:id/complete` (a
//! form) judges the whole file and starts its run. Answers are JSON; refusals name what was
//! wrong and nothing is charged for them.

use super::{item_id, job_env, pay_and_limit, ToolKind};
use crate::ctx::Ctx;
use crate::domain::audio::credits_for;
use crate::domain::episode_parts::PART_BYTES;
use crate::error::{js_message, AppError};
use crate::reply::Reply;
use crate::routes::input::{declared_length, Form};
use crate::services::episode_upload::{self, Assembled, Progress, Refused};
use serde_json::json;
use worker::js_sys::ArrayBuffer;
use worker::wasm_bindgen::JsCast;
use worker::wasm_bindgen_futures::JsFuture;
use worker::Request;

fn refused(r: Refused) -> Reply {
    Reply::json(&json!({ "error": { "code": r.code, "message": r.message } }))
        .with_status(r.status)
        .no_store()
}

fn progress(p: &Progress) -> Reply {
    Reply::json(&json!({
        "id": p.id,
        "part_bytes": p.part_bytes,
        "parts": p.parts,
        "received": p.received,
    }))
    .no_store()
}

fn podscribe_ready(cx: &Ctx) -> Result<i64, AppError> {
    cx.config.openai.as_ref().map_err(|p| AppError::from(p.clone()))?;
    Ok(0)
}

/// `POST /api/tools/podscribe/uploads`: `file_name` and `size` (bytes).
pub async fn begin(form: Form, cx: &Ctx) -> Result<Reply, AppError> {
    let user_id = cx.require_user().await?.id;
    podscribe_ready(cx)?;
    let size = form
        .get("size")
        .and_then(|s| s.trim().parse::<u64>().ok())
        .ok_or_else(|| AppError::bad_request("size", "size must be the file's length in bytes"))?;
    let name = form.text("file_name");
    match episode_upload::begin(&cx.env, cx.db().await?, user_id, name, size).await? {
        Ok(p) => Ok(progress(&p)),
        Err(r) => Ok(refused(r)),
    }
}

/// `GET /api/tools/podscribe/uploads/:id`.
pub async fn status(cx: &Ctx, id: &str) -> Result<Reply, AppError> {
    let user_id = cx.require_user().await?.id;
    let id = item_id(id)?;
    Ok(progress(&episode_upload::progress(cx.db().await?, user_id, &id).await?))
}

/// `POST /api/tools/podscribe/uploads/:id/parts/:n`: the part's bytes are read by the runtime
/// (never into the Worker) once their declared length is acceptable.
pub async fn part(req: &mut Request, cx: &Ctx, id: &str, n: &str) -> Result<Reply, AppError> {
    let user_id = cx.require_user().await?.id;
    // Its length first, as every body: an oversized part is refused before anything else.
    match declared_length(req) {
        None => return Err(AppError::LengthRequired),
        Some(len) if len > PART_BYTES => return Err(AppError::PayloadTooLarge { limit_bytes: PART_BYTES }),
        Some(_) => {}
    }
    cx.verify_csrf(cx.header("x-csrf-token").as_deref())?;
    let id = item_id(id)?;
    let n: u32 = n.parse().map_err(|_| AppError::bad_request("part", "the part number must be 1 or more"))?;
    let unreadable = |e: worker::wasm_bindgen::JsValue| {
        AppError::bad_request("body", format!("the part could not be read: {}", js_message(&e)))
    };
    let reading = req.inner().array_buffer().map_err(unreadable)?;
    let buffer: ArrayBuffer =
        JsFuture::from(reading).await.map_err(unreadable)?.dyn_into().map_err(unreadable)?;
    let len = u64::from(buffer.byte_length());
    match episode_upload::put_part(&cx.env, cx.db().await?, user_id, &id, n, &buffer.into(), len).await? {
        Ok(p) => Ok(progress(&p)),
        Err(r) => Ok(refused(r)),
    }
}

/// `POST /api/tools/podscribe/uploads/:id/complete`: judged, then counted against the account's
/// uploads, charged and enqueued; the transcript's page follows the run.
pub async fn complete(cx: &Ctx, id: &str) -> Result<Reply, AppError> {
    let (user_id, standing) = super::payer(cx).await?;
    podscribe_ready(cx)?;
    let id = item_id(id)?;
    let db = cx.db().await?;
    let credits =
        match episode_upload::assemble(&cx.env, db, user_id, &id, cx.config.tools.transcribe_chunk_bytes)
            .await?
        {
            Err(r) => return Ok(refused(r)),
            Ok(Assembled::AlreadyAccepted) => None,
            Ok(Assembled::Judged(audio)) => {
                // Only an accepted file the account can pay for counts against its uploads.
                let needed = credits_for(audio.reserved_secs());
                let accepted = match pay_and_limit(cx, ToolKind::PodScribe, standing, needed).await {
                    Ok(()) => episode_upload::accept(&job_env(cx), db, user_id, &id, audio).await,
                    Err(e) => Err(e),
                };
                match accepted {
                    Ok(credits) => credits,
                    Err(e @ AppError::InsufficientCredits { .. }) => {
                        let message = format!(
                            "{} The upload is kept for a day: buy credits, then complete it again.",
                            e.public_message()
                        );
                        return Ok(refused(Refused { status: 402, code: e.code(), message }));
                    }
                    Err(e) => return Err(e),
                }
            }
        };
    let url = format!("/tools/podscribe/{id}");
    Ok(Reply::json(&json!({ "status": "accepted", "id": id.as_str(), "url": url, "credits": credits }))
        .no_store())
}
