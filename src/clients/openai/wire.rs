//! OpenAI's wire format, pure (tested natively): request bodies, answers, errors and how we
//! classify them, the transcription form's fields. (The chat stream's events: `sse.rs`.)

use crate::domain::transcript::Segment;
use serde_json::{json, Value};

/// Why a call did not give us what we asked for, in the terms the user and operator need.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Rate limited or overloaded (429 rate_limit_exceeded, 5xx, a broken connection): later.
    Busy(String),
    /// Our key, account or request is wrong (401, 403, insufficient_quota, other 4xx): the
    /// operator must act; the user gets a neutral message.
    Operator(String),
    /// Refused by the content filter.
    Filtered,
    /// Cut off at the length limit, or the input was too long for the model.
    TooLong,
    /// The stream broke off with an error after it had started.
    Interrupted(String),
    /// The audio was refused as unreadable (a 400 from the transcription endpoint).
    Unreadable(String),
    /// No answer within the configured time.
    TimedOut,
}

impl Failure {
    /// A short code stored with the failed run and used by the page.
    pub fn code(&self) -> &'static str {
        match self {
            Failure::Busy(_) => "busy",
            Failure::Operator(_) => "unavailable",
            Failure::Filtered => "filtered",
            Failure::TooLong => "too_long",
            Failure::Interrupted(_) => "interrupted",
            Failure::Unreadable(_) => "unreadable",
            Failure::TimedOut => "timed_out",
        }
    }

    /// For logs and Sentry (already redacted).
    pub fn detail(&self) -> String {
        match self {
            Failure::Busy(d) | Failure::Operator(d) | Failure::Interrupted(d) | Failure::Unreadable(d) => {
                d.clone()
            }
            Failure::Filtered => "finish_reason content_filter".into(),
            Failure::TooLong => "finish_reason length / input too long".into(),
            Failure::TimedOut => "timed out".into(),
        }
    }
}

/// Reasoning models take `max_completion_tokens` and no temperature; others take `max_tokens`,
/// which every OpenAI-compatible server understands.
fn is_reasoning_model(model: &str) -> bool {
    let m = model.to_ascii_lowercase();
    m.starts_with("gpt-5") || (m.starts_with('o') && m[1..].starts_with(|c: char| c.is_ascii_digit()))
}

pub fn chat_body(model: &str, system: &str, user: &str, max_tokens: u32, stream: bool) -> String {
    let mut body = json!({
        "model": model,
        "messages": [
            { "role": "system", "content": system },
            { "role": "user", "content": user },
        ],
        "stream": stream,
    });
    if is_reasoning_model(model) {
        body["max_completion_tokens"] = json!(max_tokens);
    } else {
        body["max_tokens"] = json!(max_tokens);
        body["temperature"] = json!(0.7);
    }
    if stream {
        body["stream_options"] = json!({ "include_usage": true });
    }
    body.to_string()
}

/// The gpt-4o transcription models accept only `json` (no timestamps); whisper gives segments.
pub fn supports_verbose_json(model: &str) -> bool {
    !model.to_ascii_lowercase().starts_with("gpt-4o")
}

/// The transcription form's text fields, in order (the file follows them).
pub fn transcription_fields(model: &str) -> Vec<(&'static str, &str)> {
    let mut fields = vec![("model", model)];
    if supports_verbose_json(model) {
        fields.push(("response_format", "verbose_json"));
        fields.push(("timestamp_granularities[]", "segment"));
    } else {
        fields.push(("response_format", "json"));
    }
    fields
}

#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub id: String,
    pub content: String,
    pub finish_reason: Option<String>,
    pub usage: Option<Value>,
}

impl Completion {
    /// A cut-off or filtered answer is a failure, not a result.
    pub fn check(self) -> Result<Completion, Failure> {
        match self.finish_reason.as_deref() {
            Some("content_filter") => Err(Failure::Filtered),
            Some("length") => Err(Failure::TooLong),
            _ => Ok(self),
        }
    }
}

/// The first `room` characters of `text`, and whether anything was left out.
pub fn take_chars(text: &str, room: usize) -> (&str, bool) {
    match text.char_indices().nth(room) {
        Some((at, _)) => (&text[..at], true),
        None => (text, false),
    }
}

pub fn parse_completion(body: &str) -> Result<Completion, Failure> {
    let v: Value = serde_json::from_str(body).map_err(|e| {
        Failure::Busy(format!("unreadable completion ({e}): {}", redact(&truncate(body, 200))))
    })?;
    let choice = &v["choices"][0];
    let content = choice["message"]["content"].as_str();
    let finish_reason = choice["finish_reason"].as_str().map(str::to_string);
    if content.is_none() && finish_reason.as_deref() != Some("content_filter") {
        return Err(Failure::Busy(format!("completion without content: {}", redact(&truncate(body, 200)))));
    }
    Completion {
        id: v["id"].as_str().unwrap_or_default().to_string(),
        content: content.unwrap_or_default().to_string(),
        finish_reason,
        usage: v.get("usage").cloned(),
    }
    .check()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transcription {
    pub text: String,
    pub language: Option<String>,
    pub duration: Option<f64>,
    pub segments: Vec<Segment>,
}

/// `json` (`{"text"}`) or `verbose_json` (text, language, duration, segments[{start,end,text}]).
pub fn parse_transcription(body: &str) -> Result<Transcription, Failure> {
    let v: Value = serde_json::from_str(body).map_err(|e| {
        Failure::Busy(format!("unreadable transcription ({e}): {}", redact(&truncate(body, 200))))
    })?;
    let text = v["text"].as_str().ok_or_else(|| Failure::Busy("transcription without text".into()))?;
    let segments = v["segments"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| {
                    Some(Segment {
                        start: s["start"].as_f64()?,
                        end: s["end"].as_f64()?,
                        text: s["text"].as_str()?.trim().to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Transcription {
        text: text.trim().to_string(),
        language: v["language"].as_str().map(str::to_string),
        duration: v["duration"].as_f64().filter(|d| d.is_finite() && *d > 0.0),
        segments,
    })
}

/// `status code type: message` from an error body, redacted (an invalid-key message quotes
/// part of the key).
pub(super) fn error_summary(v: &Value) -> String {
    let e = &v["error"];
    let field = |k: &str| e[k].as_str().unwrap_or("").to_string();
    redact(&format!("{} {}: {}", field("code"), field("type"), truncate(&field("message"), 300)))
}

/// How a non-200 answer is handled: the failure, and whether another attempt may help.
pub fn classify(status: u16, body: &str, audio: bool) -> (Failure, bool) {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let code = v["error"]["code"].as_str().unwrap_or("");
    let kind = v["error"]["type"].as_str().unwrap_or("");
    let detail = if v["error"].is_object() {
        format!("{status} {}", error_summary(&v))
    } else {
        format!("{status} {}", redact(&truncate(body, 200)))
    };
    match status {
        429 if code == "insufficient_quota" || kind == "insufficient_quota" => {
            (Failure::Operator(detail), false)
        }
        429 | 408 | 409 => (Failure::Busy(detail), true),
        s if s >= 500 => (Failure::Busy(detail), true),
        400 if code == "context_length_exceeded" => (Failure::TooLong, false),
        400 if code == "content_policy_violation" || code == "content_filter" => (Failure::Filtered, false),
        400 if audio => (Failure::Unreadable(detail), false),
        _ => (Failure::Operator(detail), false),
    }
}

pub(super) fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Masks anything that looks like an API key (`sk-…`) or a bearer token.
pub fn redact(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        let next = ["sk-", "Bearer "].iter().filter_map(|m| rest.find(m).map(|i| (i, *m))).min();
        let Some((i, marker)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..i]);
        out.push_str(marker);
        out.push_str("***");
        let after = &rest[i + marker.len()..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*')))
            .unwrap_or(after.len());
        rest = &after[end..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cut_at_a_character_count_never_inside_a_character() {
        assert_eq!(take_chars("héllo", 2), ("hé", true));
        assert_eq!(take_chars("héllo", 5), ("héllo", false));
        assert_eq!(take_chars("héllo", 9), ("héllo", false));
        assert_eq!(take_chars("x", 0), ("", true));
        assert_eq!(take_chars("", 0), ("", false));
    }

    #[test]
    fn a_streaming_chat_request_asks_for_usage() {
        let v: Value = serde_json::from_str(&chat_body("gpt-4o-mini", "sys", "facts", 400, true)).unwrap();
        assert_eq!(v["model"], "gpt-4o-mini");
        assert_eq!(v["messages"][0], json!({"role": "system", "content": "sys"}));
        assert_eq!(v["messages"][1], json!({"role": "user", "content": "facts"}));
        assert_eq!(v["stream"], true);
        assert_eq!(v["max_tokens"], 400);
        assert_eq!(v["stream_options"]["include_usage"], true);
        let v: Value = serde_json::from_str(&chat_body("o3-mini", "s", "u", 10, false)).unwrap();
        assert_eq!(v["max_completion_tokens"], 10);
        assert!(v.get("temperature").is_none() && v.get("stream_options").is_none());
    }

    #[test]
    fn errors_are_classified_for_retry() {
        let e = |code: &str, kind: &str| {
            json!({"error": {"message": "m", "type": kind, "code": code}}).to_string()
        };
        assert!(matches!(
            classify(429, &e("rate_limit_exceeded", "requests"), false),
            (Failure::Busy(_), true)
        ));
        assert!(matches!(
            classify(429, &e("insufficient_quota", "insufficient_quota"), false),
            (Failure::Operator(_), false)
        ));
        assert!(matches!(classify(500, "<html>oops</html>", false), (Failure::Busy(_), true)));
        assert!(matches!(classify(503, &e("", "server_error"), false), (Failure::Busy(_), true)));
        assert!(matches!(
            classify(401, &e("invalid_api_key", "invalid_request_error"), false),
            (Failure::Operator(_), false)
        ));
        assert!(matches!(
            classify(403, &e("unsupported_country_region_territory", ""), false),
            (Failure::Operator(_), false)
        ));
        assert_eq!(classify(400, &e("context_length_exceeded", ""), false).0, Failure::TooLong);
        assert!(matches!(
            classify(400, &e("", "invalid_request_error"), true),
            (Failure::Unreadable(_), false)
        ));
    }

    #[test]
    fn an_invalid_key_message_never_carries_the_key() {
        let body = json!({"error": {"message": "Incorrect API key provided: sk-proj-abc123XYZ. You can find your API key at …", "type": "invalid_request_error", "code": "invalid_api_key"}}).to_string();
        let (failure, _) = classify(401, &body, false);
        assert!(!failure.detail().contains("abc123"), "{}", failure.detail());
        assert!(failure.detail().contains("invalid_api_key"));
        assert_eq!(redact("Bearer sk-x1 and sk-y2."), "Bearer *** and sk-***.");
    }

    #[test]
    fn completions_are_checked_for_filtering_and_length() {
        let body = |finish: &str| {
            json!({"id": "c", "choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}, "finish_reason": finish}]}).to_string()
        };
        assert_eq!(parse_completion(&body("stop")).unwrap().content, "x");
        assert_eq!(parse_completion(&body("length")), Err(Failure::TooLong));
        assert_eq!(parse_completion(&body("content_filter")), Err(Failure::Filtered));
    }

    #[test]
    fn verbose_transcriptions_keep_segments_and_duration() {
        let t = parse_transcription(r#"{"task":"transcribe","language":"english","duration":95.5,"text":" Hi there. ","segments":[{"id":0,"start":0.0,"end":2.5,"text":" Hi there."}]}"#).unwrap();
        assert_eq!(t.text, "Hi there.");
        assert_eq!(t.duration, Some(95.5));
        assert_eq!(t.segments, vec![Segment { start: 0.0, end: 2.5, text: "Hi there.".into() }]);
        let t = parse_transcription(r#"{"text":"Plain."}"#).unwrap();
        assert!(t.segments.is_empty() && t.duration.is_none());
    }

    #[test]
    fn the_transcription_form_names_model_and_format() {
        assert_eq!(
            transcription_fields("whisper-1"),
            vec![
                ("model", "whisper-1"),
                ("response_format", "verbose_json"),
                ("timestamp_granularities[]", "segment")
            ]
        );
        assert_eq!(
            transcription_fields("gpt-4o-mini-transcribe"),
            vec![("model", "gpt-4o-mini-transcribe"), ("response_format", "json")],
            "the gpt-4o models take only json, without timestamps"
        );
    }
}
