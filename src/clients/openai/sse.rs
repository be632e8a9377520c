//! The server-sent-events stream of a chat completion, pure (tested natively): bytes split into
//! events, and what each `data:` payload says (a piece of text, the finish reason, usage, an
//! error arriving mid-stream, or `[DONE]`).

use super::wire::{error_summary, redact, truncate};
use serde_json::Value;

/// The most one event may hold before its blank line. OpenAI's are a few hundred bytes; a
/// server (or proxy) that never ends an event must not grow the buffer without bound.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// Splits a byte stream into server-sent events and yields each event's `data`.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    /// How much of `buf` is known to hold no blank line: each push searches only what is new,
    /// so a long event arriving in many small pieces costs linear time, not quadratic.
    scanned: usize,
}

impl SseParser {
    /// The `data` of each event completed by `bytes`; an error once an event outgrows
    /// `MAX_EVENT_BYTES` (the stream is then unusable).
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<String>, String> {
        // Line ends may be \r\n; a raw \r never appears inside JSON data.
        self.buf.extend(bytes.iter().copied().filter(|b| *b != b'\r'));
        let mut out = Vec::new();
        loop {
            // A blank line may straddle what was scanned and what is new.
            let from = self.scanned.saturating_sub(1);
            let Some(at) = self.buf[from..].windows(2).position(|w| w == b"\n\n") else {
                self.scanned = self.buf.len();
                break;
            };
            let event: Vec<u8> = self.buf.drain(..from + at + 2).collect();
            self.scanned = 0;
            let text = String::from_utf8_lossy(&event);
            let data: Vec<&str> = text
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            if !data.is_empty() {
                out.push(data.join("\n"));
            }
        }
        if self.buf.len() > MAX_EVENT_BYTES {
            return Err(format!("a stream event longer than {MAX_EVENT_BYTES} bytes"));
        }
        Ok(out)
    }
}

/// What one `data:` payload of a chat stream says.
#[derive(Debug, Default, PartialEq)]
pub struct Chunk {
    pub id: Option<String>,
    pub content: Option<String>,
    pub finish_reason: Option<String>,
    pub usage: Option<Value>,
    pub error: Option<String>,
    pub done: bool,
}

pub fn chunk(data: &str) -> Chunk {
    if data.trim() == "[DONE]" {
        return Chunk { done: true, ..Chunk::default() };
    }
    let Ok(v) = serde_json::from_str::<Value>(data) else {
        return Chunk {
            error: Some(format!("unreadable stream chunk: {}", redact(&truncate(data, 200)))),
            ..Chunk::default()
        };
    };
    if v.get("error").is_some_and(|e| !e.is_null()) {
        return Chunk { error: Some(error_summary(&v)), ..Chunk::default() };
    }
    let choice = &v["choices"][0];
    Chunk {
        id: v["id"].as_str().map(str::to_string),
        content: choice["delta"]["content"].as_str().filter(|s| !s.is_empty()).map(str::to_string),
        finish_reason: choice["finish_reason"].as_str().map(str::to_string),
        usage: v.get("usage").filter(|u| !u.is_null()).cloned(),
        error: None,
        done: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_are_split_across_arbitrary_chunk_boundaries() {
        let stream =
            "data: {\"a\":1}\r\n\r\n: keep-alive\n\ndata: {\"b\":\"é\"}\n\ndata: [DONE]\n\n".as_bytes();
        let mut p = SseParser::default();
        let mut got = Vec::new();
        for piece in stream.chunks(3) {
            got.extend(p.push(piece).unwrap());
        }
        assert_eq!(got, ["{\"a\":1}", "{\"b\":\"é\"}", "[DONE]"]);
    }

    #[test]
    fn an_event_that_never_ends_is_refused_before_it_fills_memory() {
        let mut p = SseParser::default();
        let piece = vec![b'a'; 64 * 1024];
        let pushes = (0..100).map(|_| p.push(&piece)).take_while(Result::is_ok).count();
        assert_eq!(pushes, MAX_EVENT_BYTES / piece.len(), "refused on the push that overflows");
        // An event split right at its blank line, across pushes, is still found.
        let mut p = SseParser::default();
        assert_eq!(p.push(b"data: x\n").unwrap(), Vec::<String>::new());
        assert_eq!(p.push(b"\ndata: y\n\n").unwrap(), ["x", "y"]);
    }

    #[test]
    fn stream_chunks_give_content_finish_usage_and_errors() {
        let c = chunk(
            r#"{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#,
        );
        assert_eq!((c.id.as_deref(), c.content.as_deref(), c.finish_reason), (Some("c1"), Some("Hi"), None));
        let c = chunk(r#"{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"length"}]}"#);
        assert_eq!(c.finish_reason.as_deref(), Some("length"));
        let c = chunk(r#"{"id":"c1","choices":[],"usage":{"total_tokens":9}}"#);
        assert_eq!(c.usage.unwrap()["total_tokens"], 9);
        let c = chunk(r#"{"error":{"message":"The server had an error","type":"server_error","code":null}}"#);
        assert!(c.error.unwrap().contains("server_error"));
        assert!(chunk("[DONE]").done);
    }
}
