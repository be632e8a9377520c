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

/// The body, refusing more than `limit` bytes before reading anything: a body must declare its
/// length (411 otherwise; browsers, Stripe and our own scripts always do) and that length must
/// be within the limit (413). The runtime then delivers exactly that many bytes.
///
/// Why never read part of a body and stop: a body abandoned half-read broke the connection it
/// came on, and under `wrangler dev` the next POST on that connection failed with "Your worker
/// restarted mid-request" (503). An untouched body is left alone safely.
pub async fn read_body(req: &mut Request, limit: u64) -> Result<Vec<u8>, AppError> {
    let Some(raw) = req.inner().body() else { return Ok(Vec::new()) };
    let declared = declared_length(req).ok_or(AppError::LengthRequired)?;
    if declared > limit {
        return Err(AppError::PayloadTooLarge { limit_bytes: limit });
    }
    // Sized once from the declared length: growing by doubling would briefly hold one and a
    // half copies of a large body.
    let mut body = Vec::with_capacity(declared as usize);
    let mut stream = wasm_streams::ReadableStream::from_raw(raw.unchecked_into());
    let unreadable = |e: JsValue| {
        AppError::bad_request("body", format!("could not read the request body: {}", js_message(&e)))
    };
    let mut chunks = stream.try_get_reader().map_err(|e| unreadable(e.into()))?.into_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk: Uint8Array = chunk.and_then(|c| c.dyn_into()).map_err(unreadable)?;
        let at = body.len();
        if (at + chunk.length() as usize) as u64 > declared {
            // The runtime holds a body to its declared length; more would be a broken request.
            return Err(AppError::bad_request("body", "the request body is longer than its Content-Length"));
        }
        body.resize(at + chunk.length() as usize, 0);
        chunk.copy_to(&mut body[at..]);
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
        form.refuse_nul()?;
        Ok(form)
    }

    pub fn parse(body: &[u8]) -> Form {
        Form { fields: url::form_urlencoded::parse(body).into_owned().collect() }
    }

    /// No field of a web form holds a NUL, and Postgres cannot store one (text or jsonb): a
    /// 400 naming the field, rather than a 500 from the database.
    pub fn refuse_nul(&self) -> Result<(), AppError> {
        match self.fields.iter().find(|(_, v)| v.contains('\0')) {
            Some((name, _)) => Err(AppError::BadRequest {
                field: None,
                message: format!(
                    "The field \u{201c}{}\u{201d} contains a NUL character.",
                    name.chars().take(40).collect::<String>()
                ),
            }),
            None => Ok(()),
        }
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
        assert!(f.refuse_nul().is_ok());
        let nul = Form::parse(b"a=1&brief=x%00y").refuse_nul().unwrap_err();
        assert_eq!(nul.status(), 400);
        assert!(nul.public_message().contains("brief"));
    }
}
