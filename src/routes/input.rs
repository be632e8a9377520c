//! Reading request bodies at the edge: size-capped (413 before anything is kept), typed by
//! content type (415 otherwise), and — for forms — CSRF-verified, so a handler cannot read a
//! form without checking its token.

use crate::ctx::Ctx;
use crate::error::{js_message, AppError};
use futures_util::StreamExt;
use wasm_bindgen::{JsCast, JsValue};
use worker::js_sys::Uint8Array;
use worker::Request;

/// Forms are small; anything bigger is refused before it is read whole.
pub const FORM_LIMIT: u64 = 64 * 1024;

/// A body over its limit is still read to its end, discarded, up to this much more.
const DRAIN_BYTES: u64 = 32 * 1024 * 1024;

/// The body, refusing more than `limit` bytes (by Content-Length before reading, and again while
/// reading a body that declares no length).
///
/// A body found too large while it is read is read on to its end (and dropped) before the 413:
/// a body abandoned half-read, cancelled or not, broke the connection it came on, and under
/// `wrangler dev` the next POST on that connection failed with "Your worker restarted
/// mid-request" (503). An untouched body is left alone safely, so a declared length over the
/// limit is refused without reading anything.
pub async fn read_body(req: &mut Request, limit: u64) -> Result<Vec<u8>, AppError> {
    let too_large = || AppError::PayloadTooLarge { limit_bytes: limit };
    let declared = declared_length(req);
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    // Sized once from the declared length: growing by doubling would briefly hold one and a
    // half copies of a large body.
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(limit) as usize);
    let Some(raw) = req.inner().body() else { return Ok(body) };
    let mut stream = wasm_streams::ReadableStream::from_raw(raw.unchecked_into());
    let unreadable = |e: JsValue| {
        AppError::bad_request("body", format!("could not read the request body: {}", js_message(&e)))
    };
    let mut chunks = stream.try_get_reader().map_err(|e| unreadable(e.into()))?.into_stream();
    let mut seen = 0u64;
    while let Some(chunk) = chunks.next().await {
        let chunk: Uint8Array = match chunk.and_then(|c| c.dyn_into()) {
            Ok(chunk) => chunk,
            Err(_) if seen > limit => break,
            Err(e) => return Err(unreadable(e)),
        };
        seen += u64::from(chunk.length());
        if seen > limit {
            body = Vec::new();
            if seen > limit + DRAIN_BYTES {
                break;
            }
            continue;
        }
        let at = body.len();
        body.resize(at + chunk.length() as usize, 0);
        chunk.copy_to(&mut body[at..]);
    }
    if seen > limit {
        return Err(too_large());
    }
    Ok(body)
}

/// The request's Content-Length, when it declares one.
pub fn declared_length(req: &Request) -> Option<u64> {
    req.headers().get("content-length").ok().flatten().and_then(|v| v.trim().parse::<u64>().ok())
}

/// The media type of the request without parameters, lower-cased.
pub fn media_type(req: &Request) -> String {
    let raw = req.headers().get("content-type").ok().flatten().unwrap_or_default();
    raw.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// A submitted `application/x-www-form-urlencoded` form whose CSRF token has been verified.
#[derive(Debug)]
pub struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    pub async fn read(req: &mut Request, cx: &Ctx) -> Result<Form, AppError> {
        if media_type(req) != "application/x-www-form-urlencoded" {
            return Err(AppError::UnsupportedMediaType("Please submit this as a web form.".into()));
        }
        let body = read_body(req, FORM_LIMIT).await?;
        let form = Form::parse(&body);
        cx.verify_csrf(form.get("csrf"))?;
        Ok(form)
    }

    pub fn parse(body: &[u8]) -> Form {
        Form { fields: url::form_urlencoded::parse(body).into_owned().collect() }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A field's value, or "" when absent (for re-displaying a form).
    pub fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.fields.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_keeps_repeated_fields_and_decodes_them() {
        let f = Form::parse(b"a=1&b=x+y&a=%C3%A9");
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.all("a"), vec!["1", "é"]);
        assert_eq!(f.text("b"), "x y");
        assert_eq!(f.text("missing"), "");
    }
}
