//! Episodes uploaded in parts, up to 500 MB: started (name and size checked, an R2 multipart
//! upload opened), filled part by part (each part its own request, checked for its exact
//! length, sent again at will), then assembled and judged by its contents like a single upload
//! — read from R2 by ranges, never whole — before its credits are reserved and its run enqueued.
//! Nothing is charged for a file that is refused; the sweep aborts uploads left unfinished.

use super::podscribe::{self, start_run};
use super::run_queue::{self, RunMessage};
use super::runs::{new_id, JobEnv};
use crate::clients::openai::Failure;
use crate::clients::uploads::{self, Uploads};
use crate::db::episode_uploads::{self, EpisodeUpload};
use crate::db::Db;
use crate::domain::audio::{AudioUpload, UploadError, MAX_EPISODE_BYTES};
use crate::domain::audio_split;
use crate::domain::episode_parts::{missing, part_len, parts_for, PART_BYTES};
use crate::domain::item_id::ItemId;
use crate::domain::Credits;
use crate::domain::UserId;
use crate::error::AppError;
use worker::wasm_bindgen::JsValue;
use worker::Env;

/// An upload refused before anything was kept or charged: the status, a code and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl Refused {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Refused {
        Refused { status, code, message: message.into() }
    }
}

impl From<UploadError> for Refused {
    fn from(e: UploadError) -> Refused {
        let (status, code) = match e {
            UploadError::TooLarge | UploadError::TooLargeEvenInParts => (413, "payload_too_large"),
            UploadError::Missing => (400, "bad_request"),
            UploadError::UnsupportedExtension | UploadError::NotAudio | UploadError::NotSplittable { .. } => {
                (415, "unsupported_media_type")
            }
        };
        Refused { status, code, message: e.message() }
    }
}

/// An upload under way: where it stands.
#[derive(Debug, Clone)]
pub struct Progress {
    pub id: String,
    pub part_bytes: u64,
    pub parts: u32,
    pub received: Vec<u32>,
}

impl Progress {
    fn of(up: &EpisodeUpload) -> Progress {
        Progress {
            id: up.id.clone(),
            part_bytes: PART_BYTES,
            parts: parts_for(up.size),
            received: up.received(),
        }
    }
}

/// Opens an upload of `size` bytes named `file_name` (its contents are judged once complete).
pub async fn begin(
    env: &Env,
    db: &Db,
    user_id: UserId,
    file_name: &str,
    size: u64,
) -> Result<Result<Progress, Refused>, AppError> {
    if let Err(e) = AudioUpload::precheck(file_name, size) {
        return Ok(Err(e.into()));
    }
    let name: String = file_name.chars().filter(|c| !c.is_control()).take(200).collect();
    // An account on hold (suspended, a disputed payment) may not run tools: no upload either.
    super::billing::reversals::ensure_not_on_hold(db, user_id).await?;
    let id = new_id();
    let store = Uploads::of(env)?;
    let key = uploads::key(id.as_str());
    let r2 = store.create_multipart(&key).await?;
    if !episode_uploads::insert(db, id.as_str(), user_id, name.trim(), size, PART_BYTES, &r2).await? {
        let _ = store.abort_multipart(&key, &r2).await;
        let message = format!(
            "You have {} uploads unfinished. Finish one (choose its file again to continue), or wait a day for them to be dropped.",
            episode_uploads::MAX_OPEN
        );
        return Ok(Err(Refused::new(429, "too_many_requests", message)));
    }
    Ok(Ok(Progress {
        id: id.to_string(),
        part_bytes: PART_BYTES,
        parts: parts_for(size),
        received: Vec::new(),
    }))
}

/// Where the owner's upload `id` stands (what to send again after a dropped connection).
pub async fn progress(db: &Db, user_id: UserId, id: &ItemId) -> Result<Progress, AppError> {
    let up = episode_uploads::find(db, user_id, id.as_str()).await?.ok_or(AppError::NotFound)?;
    Ok(Progress::of(&up))
}

/// Stores part `n` (`part`, the runtime's buffer of `len` bytes) of the owner's upload `id`.
pub async fn put_part(
    env: &Env,
    db: &Db,
    user_id: UserId,
    id: &ItemId,
    n: u32,
    part: &JsValue,
    len: u64,
) -> Result<Result<Progress, Refused>, AppError> {
    let up = episode_uploads::find(db, user_id, id.as_str()).await?.ok_or(AppError::NotFound)?;
    if up.assembled {
        return Ok(Err(Refused::new(409, "conflict", "This upload is complete; it takes no more parts.")));
    }
    let Some(expected) = part_len(up.size, n) else {
        let message = format!("This upload has parts 1 to {}; there is no part {n}.", parts_for(up.size));
        return Ok(Err(Refused::new(400, "bad_request", message)));
    };
    if len != expected {
        let message = format!("Part {n} must be {expected} bytes; {len} arrived. Send it again.");
        return Ok(Err(Refused::new(400, "bad_request", message)));
    }
    let etag = Uploads::of(env)?.upload_part(&uploads::key(id.as_str()), &up.r2_upload_id, n, part).await?;
    if !episode_uploads::record_part(db, user_id, id.as_str(), n, &etag).await? {
        return Ok(Err(Refused::new(409, "conflict", "This upload is complete; it takes no more parts.")));
    }
    let mut progress = Progress::of(&up);
    if !progress.received.contains(&n) {
        progress.received.push(n);
        progress.received.sort_unstable();
    }
    Ok(Ok(progress))
}

/// What completing an upload found.
pub enum Assembled {
    /// Whole and judged to be audio: ready to be accepted.
    Judged(AudioUpload),
    /// Its run was accepted already (a "complete" sent again).
    AlreadyAccepted,
}

/// Joins the owner's upload `id` into one object once every part is in, and judges it by its
/// contents (read by ranges). A refused file is deleted with its upload: nothing is charged.
pub async fn assemble(
    env: &Env,
    db: &Db,
    user_id: UserId,
    id: &ItemId,
    chunk_bytes: u64,
) -> Result<Result<Assembled, Refused>, AppError> {
    let up = episode_uploads::find(db, user_id, id.as_str()).await?.ok_or(AppError::NotFound)?;
    if up.completed {
        return Ok(Ok(Assembled::AlreadyAccepted));
    }
    let absent = missing(up.size, &up.received());
    if !absent.is_empty() {
        let list: Vec<String> = absent.iter().take(10).map(u32::to_string).collect();
        let message =
            format!("Parts {} have not arrived yet. Send them, then complete the upload.", list.join(", "));
        return Ok(Err(Refused::new(409, "conflict", message)));
    }
    let store = Uploads::of(env)?;
    let key = uploads::key(id.as_str());
    if !up.assembled {
        store.complete_multipart(&key, &up.r2_upload_id, &up.parts).await?;
        episode_uploads::mark_assembled(db, id.as_str()).await?;
    }
    let judged = AudioUpload::inspect_file_within(&up.file_name, up.size, MAX_EPISODE_BYTES, async |range| {
        let length = range.len();
        store.read_range(&key, range.start, length).await?.ok_or_else(|| AppError::Upstream {
            service: "r2",
            detail: format!("the assembled episode {key} is missing"),
        })
    })
    .await?;
    // Larger than one transcription request: only a format that can be cut into chunks.
    match judged.and_then(|audio| audio_split::check(&audio, chunk_bytes).map(|()| audio)) {
        Ok(audio) => Ok(Ok(Assembled::Judged(audio))),
        Err(refused) => {
            store.delete(&key).await?;
            episode_uploads::delete(db, id.as_str()).await?;
            Ok(Err(refused.into()))
        }
    }
}

/// Reserves the credits for the judged episode and enqueues its run, ending the upload in the
/// same transaction: answers the credits reserved, or None when it was accepted before.
pub async fn accept(
    job: &JobEnv,
    db: &Db,
    user_id: UserId,
    id: &ItemId,
    audio: AudioUpload,
) -> Result<Option<Credits>, AppError> {
    let model = &job.config.tools.transcribe_model;
    let credits = match start_run(db, user_id, &audio, model, id, true).await {
        Ok(credits) => credits,
        // Ended already: a concurrent "complete" accepted it.
        Err(AppError::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    let message = RunMessage {
        run: id.to_string(),
        upload_name: audio.upload_name,
        media_type: audio.kind.media_type().into(),
        ..RunMessage::default()
    };
    if let Err(e) = run_queue::enqueue(&job.env, message).await {
        // Not enqueued: failed and refunded at once (its page says so); the episode goes too.
        job.reporter.report_now(&e).await;
        podscribe::fail(job, id, Failure::Busy(e.to_string())).await;
        let _ = Uploads::of(&job.env)?.delete(&uploads::key(id.as_str())).await;
    }
    Ok(Some(credits))
}

/// Aborts uploads never completed: one user's (their account is being deleted) or anyone's
/// started over a day ago (the sweep). Answers how many.
pub async fn abandon(store: &Uploads, db: &Db, user_id: Option<UserId>) -> Result<usize, AppError> {
    let taken = episode_uploads::take_abandoned(db, user_id, 24, 100).await?;
    for (id, r2_upload_id, assembled) in &taken {
        let key = uploads::key(id);
        // An assembled object is an ordinary one; parts not yet joined are R2's to drop.
        let gone = if *assembled {
            store.delete(&key).await
        } else {
            store.abort_multipart(&key, r2_upload_id).await
        };
        if let Err(e) = gone {
            worker::console_warn!("upload {id} not removed from R2 (R2 aborts it after 7 days): {e}");
        }
    }
    if user_id.is_none() {
        episode_uploads::forget_completed(db, 24).await?;
    }
    Ok(taken.len())
}
