//! An episode upload at the edge, kept out of the Worker's memory. WebAssembly memory only
//! grows, and a few 25 MB uploads at once held there would take an isolate past its memory
//! limit. So the runtime parses the multipart form (`Request.formData()`), the file stays a Blob
//! in the runtime, and only the bytes the checks need are read into the Worker
//! (`AudioUpload::inspect_file`); the Blob itself is what is sent to OpenAI.
//!
//! The body is read only when its declared length is acceptable: without a Content-Length
//! (browsers always send one for form and XHR uploads) the upload is refused with 411, over the
//! limit with 413, before anything is read. So the body is always read to its end: an unbounded
//! body is never buffered, and a body is never abandoned half-read (which breaks the connection
//! it came on; see `read_body`).

use crate::ctx::Ctx;
use crate::domain::audio::{AudioUpload, UploadError, MAX_BYTES};
use crate::domain::audio_split;
use crate::error::{js_message, AppError};
use crate::routes::input::declared_length;
use std::ops::Range;
use wasm_bindgen::{JsCast, JsValue};
use worker::js_sys::Uint8Array;
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{Blob, File, FormData};
use worker::Request;

/// The body may carry the file plus the form's other fields and multipart framing.
pub const BODY_LIMIT: u64 = MAX_BYTES + 64 * 1024;

/// An accepted episode: what it is, and the file (in the runtime's memory).
pub struct Episode {
    pub audio: AudioUpload,
    pub file: Blob,
}

pub use crate::services::episode_upload::Refused;

/// Reads the upload form (its CSRF token verified) and judges its file.
pub async fn receive(req: &mut Request, cx: &Ctx) -> Result<Result<Episode, Refused>, AppError> {
    let content_type = req.headers().get("content-type").ok().flatten().unwrap_or_default();
    if boundary(&content_type).is_none() {
        return Ok(Err(Refused {
            status: 415,
            code: "unsupported_media_type",
            message: "Please upload the episode with the upload form.".into(),
        }));
    }
    match declared_length(req) {
        None => {
            return Ok(Err(Refused {
                status: 411,
                code: "length_required",
                message:
                    "The upload did not say how large it is. Please upload the episode with the upload form."
                        .into(),
            }))
        }
        Some(n) if n > BODY_LIMIT => return Ok(Err(UploadError::TooLarge.into())),
        Some(_) => {}
    }
    let form = read_form(req).await?;
    let token = form.get("csrf").as_string().or_else(|| cx.header("x-csrf-token"));
    cx.verify_csrf(token.as_deref())?;
    let Ok(file) = form.get("file").dyn_into::<File>() else {
        return Ok(Err(UploadError::Missing.into()));
    };
    let size = file.size().max(0.0) as u64;
    let judged =
        AudioUpload::inspect_file(&file.name(), size, async |range| read(&file, range).await).await?;
    let chunk_bytes = cx.config.tools.transcribe_chunk_bytes;
    let judged = judged.and_then(|audio| audio_split::check(&audio, chunk_bytes).map(|()| audio));
    Ok(judged.map(|audio| Episode { audio, file: file.into() }).map_err(Refused::from))
}

async fn read_form(req: &Request) -> Result<FormData, AppError> {
    let malformed = |e: JsValue| AppError::BadRequest {
        field: None,
        message: format!("The upload was malformed: {}.", js_message(&e)),
    };
    let parsing = req.inner().form_data().map_err(malformed)?;
    JsFuture::from(parsing).await.map_err(malformed)?.dyn_into::<FormData>().map_err(malformed)
}

/// The bytes of `file` in `range`, copied into the Worker.
async fn read(file: &Blob, range: Range<usize>) -> Result<Vec<u8>, AppError> {
    let failed = |e: JsValue| AppError::internal(format!("reading the upload: {}", js_message(&e)));
    let part = file.slice_with_f64_and_f64(range.start as f64, range.end as f64).map_err(failed)?;
    let buffer = JsFuture::from(part.array_buffer()).await.map_err(failed)?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// The `boundary` parameter of a `multipart/form-data` Content-Type.
pub fn boundary(content_type: &str) -> Option<&str> {
    let mut params = content_type.split(';');
    if !params.next()?.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        let v = v.trim().trim_matches('"');
        (k.trim().eq_ignore_ascii_case("boundary") && !v.is_empty() && v.len() <= 200).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boundary_comes_from_the_content_type() {
        assert_eq!(boundary("multipart/form-data; boundary=----abc"), Some("----abc"));
        assert_eq!(boundary("Multipart/Form-Data; charset=x; boundary=\"q r\""), Some("q r"));
        assert_eq!(boundary("application/x-www-form-urlencoded"), None);
        assert_eq!(boundary("multipart/form-data"), None);
    }
}
