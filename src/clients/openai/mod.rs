//! OpenAI over the Worker's fetch: chat completions (streamed or not) and audio transcriptions,
//! against a configurable base URL (any OpenAI-compatible server; a local fake in tests).
//!
//! Every call is bounded: at most `MAX_ATTEMPTS` tries, retried only for 429 rate limits, 408/409
//! and 5xx (never `insufficient_quota`), with backoff (or the server's `retry-after-ms` /
//! `retry-after`, capped); a deadline for the answer to start and between stream pieces. The key
//! travels only in the Authorization header: it is never formatted into a log line or an error.

pub mod sse;
pub mod wire;

use crate::config::{Config, Secret};
use crate::error::{js_message, AppError};
use crate::fetch;
use crate::telemetry::log_line;
use futures_util::StreamExt;
use std::time::Duration;
use wasm_bindgen::JsValue;
pub use wire::{Completion, Failure, Transcription};
use worker::web_sys::{Blob, FormData};
use worker::{AbortController, Delay, Headers, Method, Request, RequestInit, Response};

pub const MAX_ATTEMPTS: u32 = 3;
const BASE_BACKOFF_MS: u64 = 500;
const MAX_BACKOFF_MS: u64 = 5_000;

pub struct OpenAi {
    base: String,
    key: Secret,
    timeout: Duration,
    transcribe_timeout: Duration,
    /// For log lines: the request that started this work.
    request_id: String,
}

impl OpenAi {
    pub fn new(config: &Config, request_id: &str) -> Result<OpenAi, AppError> {
        let key = config.openai.as_ref().map_err(|p| AppError::from(p.clone()))?.api_key.clone();
        Ok(OpenAi {
            base: config.endpoints.openai_api.clone(),
            key,
            timeout: Duration::from_secs(config.tools.timeout_secs),
            transcribe_timeout: Duration::from_secs(config.tools.transcribe_timeout_secs),
            request_id: request_id.to_string(),
        })
    }

    fn log(&self, level: &str, message: &str) {
        log_line(level, &self.request_id, message);
    }

    /// POSTs `body` until it is answered 200, a failure is final, or attempts run out. Returns the
    /// response and the controller that can abort reading it.
    async fn post(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: &JsValue,
        timeout: Duration,
        audio: bool,
    ) -> Result<(Response, AbortController), Failure> {
        let url = format!("{}{path}", self.base);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let headers = Headers::new();
            let auth = format!("Bearer {}", self.key.expose());
            // A FormData body has no Content-Type here: the runtime sets it, with its boundary.
            let set = headers
                .set("Authorization", &auth)
                .and_then(|_| content_type.map_or(Ok(()), |t| headers.set("Content-Type", t)));
            let mut init = RequestInit::new();
            init.with_method(Method::Post).with_headers(headers).with_body(Some(body.clone()));
            let request = set
                .and_then(|_| Request::new_with_init(&url, &init))
                .map_err(|e| Failure::Operator(format!("building the request to {path}: {e}")))?;
            let (failure, retry, wait) = match fetch::send(request, timeout).await {
                Err(fetch::Failed::TimedOut(_)) => {
                    self.log("warn", &format!("openai {path}: no answer in {} s", timeout.as_secs()));
                    return Err(Failure::TimedOut);
                }
                Ok((response, controller)) if response.status_code() == 200 => {
                    return Ok((response, controller));
                }
                Ok((mut response, _)) => {
                    let status = response.status_code();
                    let wait = retry_after_ms(&response);
                    let text = fetch::within(timeout, response.text()).await.and_then(Result::ok);
                    let (failure, retry) = wire::classify(status, &text.unwrap_or_default(), audio);
                    (failure, retry, wait)
                }
                // A refused or reset connection: like a 503.
                Err(fetch::Failed::Network(e)) => {
                    (Failure::Busy(format!("network: {}", wire::redact(&e))), true, None)
                }
            };
            if !retry || attempt >= MAX_ATTEMPTS {
                self.log(
                    "warn",
                    &format!("openai {path} failed (attempt {attempt}/{MAX_ATTEMPTS}): {}", failure.detail()),
                );
                return Err(failure);
            }
            let backoff = wait
                .unwrap_or_else(|| BASE_BACKOFF_MS * 2u64.pow(attempt - 1) + jitter_ms())
                .min(MAX_BACKOFF_MS);
            self.log(
                "warn",
                &format!(
                    "openai {path} attempt {attempt}/{MAX_ATTEMPTS}: {}; retrying in {backoff} ms",
                    failure.detail()
                ),
            );
            Delay::from(Duration::from_millis(backoff)).await;
        }
    }

    /// A chat completion, streamed: `on_delta` receives each piece of text as it arrives, at
    /// most `max_chars` characters in all (past them the stream is closed and the answer ends
    /// as `length`). A cut-off or filtered answer is returned as it is, with its finish reason:
    /// its text has been relayed, so what it means is for the caller to decide.
    pub async fn stream_chat(
        &self,
        model: &str,
        system: &str,
        user: &str,
        (max_tokens, max_chars): (u32, usize),
        mut on_delta: impl FnMut(&str),
    ) -> Result<Completion, Failure> {
        let body = JsValue::from_str(&wire::chat_body(model, system, user, max_tokens, true));
        let (mut response, controller) =
            self.post("/v1/chat/completions", Some("application/json"), &body, self.timeout, false).await?;
        let mut bytes =
            response.stream().map_err(|e| Failure::Interrupted(format!("no stream body: {e}")))?;
        let mut parser = sse::SseParser::default();
        let (mut content, mut id, mut finish, mut usage, mut done) =
            (String::new(), String::new(), None, None, false);
        let mut room = max_chars;
        while !done {
            let piece = match fetch::within(self.timeout, bytes.next()).await {
                None => {
                    controller.abort();
                    self.log("warn", &format!("openai stream: nothing for {} s", self.timeout.as_secs()));
                    return Err(Failure::TimedOut);
                }
                Some(None) => break,
                Some(Some(Err(e))) => return Err(Failure::Interrupted(format!("stream read: {e}"))),
                Some(Some(Ok(piece))) => piece,
            };
            let events = match parser.push(&piece) {
                Ok(events) => events,
                Err(e) => {
                    controller.abort();
                    self.log("warn", &format!("openai stream refused: {e}"));
                    return Err(Failure::Interrupted(e));
                }
            };
            for data in events {
                let chunk = sse::chunk(&data);
                if let Some(e) = chunk.error {
                    controller.abort();
                    self.log("warn", &format!("openai stream broke off: {e}"));
                    return Err(Failure::Interrupted(e));
                }
                if let Some(text) = chunk.content {
                    let (kept, cut) = wire::take_chars(&text, room);
                    room -= kept.chars().count();
                    if !kept.is_empty() {
                        on_delta(kept);
                        content.push_str(kept);
                    }
                    if cut {
                        controller.abort();
                        self.log("warn", &format!("openai stream: cut at {max_chars} characters"));
                        return Ok(Completion { id, content, finish_reason: Some("length".into()), usage });
                    }
                }
                if let Some(chunk_id) = chunk.id {
                    id = chunk_id;
                }
                finish = chunk.finish_reason.or(finish);
                usage = chunk.usage.or(usage);
                done |= chunk.done;
            }
        }
        if finish.is_none() {
            return Err(Failure::Interrupted("the stream ended without a finish reason".into()));
        }
        Ok(Completion { id, content, finish_reason: finish, usage })
    }

    /// A chat completion, answered whole.
    pub async fn chat(
        &self,
        model: &str,
        system: &str,
        user: &str,
        max_tokens: u32,
    ) -> Result<Completion, Failure> {
        let body = JsValue::from_str(&wire::chat_body(model, system, user, max_tokens, false));
        let (mut response, _controller) =
            self.post("/v1/chat/completions", Some("application/json"), &body, self.timeout, false).await?;
        let text = match fetch::within(self.timeout, response.text()).await {
            Some(Ok(t)) => t,
            Some(Err(e)) => return Err(Failure::Interrupted(format!("reading the completion: {e}"))),
            None => return Err(Failure::TimedOut),
        };
        wire::parse_completion(&text)
    }

    /// Transcribes an audio file (multipart; `verbose_json` with segments when the model can).
    /// The form is a runtime FormData around the Blob, so the runtime writes the multipart body
    /// and the audio never passes through the Worker's memory; every attempt sends the same form.
    pub async fn transcribe(
        &self,
        model: &str,
        file_name: &str,
        media_type: &str,
        audio: &Blob,
    ) -> Result<Transcription, Failure> {
        let form = transcription_form(model, file_name, media_type, audio)
            .map_err(|e| Failure::Operator(format!("building the transcription form: {}", js_message(&e))))?;
        let (mut response, _controller) =
            self.post("/v1/audio/transcriptions", None, &form.into(), self.transcribe_timeout, true).await?;
        let text = match fetch::within(self.transcribe_timeout, response.text()).await {
            Some(Ok(t)) => t,
            Some(Err(e)) => return Err(Failure::Interrupted(format!("reading the transcription: {e}"))),
            None => return Err(Failure::TimedOut),
        };
        wire::parse_transcription(&text)
    }
}

/// The transcription request's form: its text fields, then the file under `file_name`, typed as
/// what it really is (a slice of the Blob: the same bytes, not a copy).
fn transcription_form(
    model: &str,
    file_name: &str,
    media_type: &str,
    audio: &Blob,
) -> Result<FormData, JsValue> {
    let form = FormData::new()?;
    for (name, value) in wire::transcription_fields(model) {
        form.append_with_str(name, value)?;
    }
    let typed = audio.slice_with_f64_and_f64_and_content_type(0.0, audio.size(), media_type)?;
    form.append_with_blob_and_filename("file", &typed, file_name)?;
    Ok(form)
}

/// `retry-after-ms`, else `retry-after` (seconds), as OpenAI's own clients read them.
fn retry_after_ms(response: &Response) -> Option<u64> {
    let header = |name: &str| response.headers().get(name).ok().flatten();
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        return Some(ms.max(0.0) as u64);
    }
    header("retry-after").and_then(|v| v.trim().parse::<f64>().ok()).map(|s| (s.max(0.0) * 1000.0) as u64)
}

fn jitter_ms() -> u64 {
    let [a, b] = random_bytes::<2>();
    u64::from(u16::from_le_bytes([a, b]) % 250)
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    crate::security::fill_random(&mut b);
    b
}
