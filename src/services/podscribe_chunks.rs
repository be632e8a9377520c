//! The audio of a PodScribe run, as OpenAI is sent it: the stored episode whole when one
//! request carries it (`TRANSCRIBE_CHUNK_BYTES`, 24 MB), else MP3 and WAV episodes in chunks
//! (`domain::audio_split`) transcribed in turn and stitched into one transcript
//! (`domain::stitch`), each chunk's place in the episode computed from its audio. The episode is
//! read from R2 in ranges: a few KB around each cut, then one chunk at a time (a Blob in the
//! runtime; only an MP3 chunk's frame headers pass through WebAssembly, a window at a time).
//! Each chunk's transcript is kept beside the episode until the run ends, so a delivery retried
//! after a chunk failed (or after the consumer's time ran out) resumes at that chunk.

use super::runs::JobEnv;
use crate::clients::openai::{Failure, OpenAi, Transcription};
use crate::clients::uploads::Uploads;
use crate::db::transcripts;
use crate::domain::audio_kind::AudioKind;
use crate::domain::audio_split::{self, Chunk, Plan, SplitError};
use crate::domain::stitch::{stitch, Part};
use crate::error::{js_message, AppError};
use std::ops::Range;
use worker::js_sys::{Array, Uint8Array};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::Blob;

/// The episode of a run.
pub enum Audio<'a> {
    /// Small enough for one request.
    Whole(Blob),
    /// Stored under `key`, `size` bytes: read in ranges and sent in chunks of at most `limit`.
    Stored { store: &'a Uploads, key: String, size: u64, limit: u64 },
}

/// Storage failing is worth another attempt (the queue retries `busy`).
fn storage(e: AppError) -> Failure {
    Failure::Busy(format!("reading the episode: {e}"))
}

impl Audio<'_> {
    /// The transcription of the whole episode.
    pub async fn transcribe(
        &self,
        job: &JobEnv,
        run: &str,
        openai: &OpenAi,
        model: &str,
        upload_name: &str,
        media_type: &str,
    ) -> Result<Transcription, Failure> {
        let (store, key, size, limit) = match self {
            Audio::Whole(blob) => return openai.transcribe(model, upload_name, media_type, blob).await,
            Audio::Stored { store, key, size, limit } => (*store, key.as_str(), *size, *limit),
        };
        let kind = AudioKind::of_media_type(media_type)
            .ok_or_else(|| Failure::Unreadable(format!("no audio kind for {media_type}")))?;
        let planned = audio_split::plan(kind, size, limit, async |r: Range<u64>| {
            let blob = store.range(key, r).await?;
            bytes(&blob, 0..blob.size() as u64).await
        })
        .await
        .map_err(storage)?;
        let plan = planned.map_err(|e| match e {
            SplitError::Unsplittable(kind) => {
                Failure::Unreadable(format!("{kind:?} over {limit} bytes cannot be cut into chunks"))
            }
            SplitError::Unreadable(why) => Failure::Unreadable(format!("cutting the episode: {why}")),
        })?;
        let n = plan.chunks.len();
        let mut parts: Vec<Part> = Vec::with_capacity(n);
        for (k, chunk) in plan.chunks.iter().enumerate() {
            let start = parts.last().map_or(0.0, |p| p.start + p.secs);
            let kept = part_key(key, k, chunk);
            if let Some(part) = kept_part(store, &kept, start).await {
                parts.push(part);
                continue;
            }
            job.log("info", &format!("transcribing chunk {} of {n} ({} bytes)", k + 1, chunk.len()));
            note_progress(job, run, k, n).await;
            let (file, secs) = chunk_file(store, key, &plan, chunk).await.map_err(storage)?;
            let t = openai.transcribe(model, upload_name, media_type, &file).await?;
            let part = Part {
                start,
                secs,
                text: t.text,
                language: t.language,
                duration: t.duration,
                segments: t.segments,
            };
            // Kept until the run ends, so a retried delivery starts at the chunk that failed.
            let json = serde_json::to_string(&part).unwrap_or_default();
            if let Err(e) = store.put_text(&kept, &json).await {
                job.log("warn", &format!("chunk {} of {n} not kept: {e}", k + 1));
            }
            parts.push(part);
        }
        let whole = stitch(&parts);
        Ok(Transcription {
            text: whole.text,
            language: whole.language,
            duration: whole.duration,
            segments: whole.segments,
        })
    }
}

/// Tells the run's page how far it has come; a failure costs only the progress shown.
async fn note_progress(job: &JobEnv, run: &str, done: usize, total: usize) {
    let (Ok(done), Ok(total)) = (i16::try_from(done), i16::try_from(total)) else { return };
    if let Err(e) = job.with_db(async |db| transcripts::note_chunks(db, run, done, total).await).await {
        job.log("warn", &format!("chunk progress not noted: {e}"));
    }
}

/// Where a chunk's transcript is kept while its run is under way: beside the episode, named by
/// the bytes it covers (a plan cut differently — another chunk limit — finds nothing kept).
fn part_key(episode: &str, k: usize, chunk: &Chunk) -> String {
    format!("{episode}/chunk-{k}-{}-{}", chunk.range.start, chunk.range.end)
}

/// A chunk's transcript kept by an earlier delivery, placed at `start`.
async fn kept_part(store: &Uploads, key: &str, start: f64) -> Option<Part> {
    let json = store.get_text(key).await.ok()??;
    let part: Part = serde_json::from_str(&json).ok()?;
    Some(Part { start, ..part })
}

/// Deletes what `transcribe` kept of the run's chunks (its run has ended).
pub async fn forget_chunks(store: &Uploads, episode: &str) -> Result<u32, AppError> {
    store.delete_older_than(&format!("{episode}/"), f64::MAX).await
}

/// A chunk as a file of its own (its header, then its bytes of the episode), and its audio's
/// length.
async fn chunk_file(store: &Uploads, key: &str, plan: &Plan, chunk: &Chunk) -> Result<(Blob, f64), AppError> {
    let body = store.range(key, chunk.range.clone()).await?;
    let secs = match plan.wav_secs(chunk) {
        Some(secs) => secs,
        None => {
            let len = chunk.range.end - chunk.range.start;
            audio_split::mp3_secs(len, chunk.frames_from, async |r: Range<u64>| bytes(&body, r).await).await?
        }
    };
    if chunk.header.is_empty() {
        return Ok((body, secs));
    }
    let parts = Array::of2(&Uint8Array::from(chunk.header.as_slice()).into(), &body.into());
    let file = Blob::new_with_blob_sequence(&parts.into()).map_err(|e| blob_failed(&e))?;
    Ok((file, secs))
}

fn blob_failed(e: &worker::wasm_bindgen::JsValue) -> AppError {
    AppError::internal(format!("building a chunk: {}", js_message(e)))
}

/// The bytes `range` of `blob`, copied into the Worker (a window: a few KB to `WALK_WINDOW`).
async fn bytes(blob: &Blob, range: Range<u64>) -> Result<Vec<u8>, AppError> {
    let part =
        blob.slice_with_f64_and_f64(range.start as f64, range.end as f64).map_err(|e| blob_failed(&e))?;
    let buffer = JsFuture::from(part.array_buffer()).await.map_err(|e| blob_failed(&e))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}
