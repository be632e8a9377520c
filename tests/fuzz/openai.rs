//! OpenAI's answers: the chat event stream (split across any chunk boundaries), its chunks,
//! completions, transcriptions, error bodies, and the redaction of keys in what we log.

use crate::alloc::bounded;
use crate::config;
use crate::strategies::{bytes, text};
use ghosttools::clients::openai::sse::{chunk, SseParser, MAX_EVENT_BYTES};
use ghosttools::clients::openai::wire::{classify, parse_completion, parse_transcription, redact};
use proptest::prelude::*;
use serde_json::json;

const SSE_PIECES: &[&str] =
    &["data:", "data: ", "\n", "\n\n", "\r\n", "\r", ":", "event: x", "[DONE]", "{", "}", "\"", "é"];
const JSON_PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\"choices\"",
    "\"delta\"",
    "\"content\"",
    "\"message\"",
    "\"text\"",
    "\"segments\"",
    "\"start\"",
    "\"end\"",
    "\"duration\"",
    "\"error\"",
    "\"code\"",
    "\"usage\"",
    "null",
    "1e999",
    "-0",
    "0",
    "\"sk-abc\"",
    "Bearer x",
    "\\u0000",
    "\\ud800",
];

/// Feeds `stream` to a parser in the pieces `cuts` makes.
fn events(stream: &[u8], cuts: &[usize]) -> Vec<String> {
    let mut p = SseParser::default();
    let mut out = Vec::new();
    let mut at = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    cuts.sort();
    for c in cuts.into_iter().chain([stream.len()]) {
        match p.push(&stream[at..c]) {
            Ok(events) => out.extend(events),
            Err(e) => {
                out.push(format!("refused: {e}"));
                break;
            }
        }
        at = c;
    }
    out
}

proptest! {
    #![proptest_config(config(1))]

    /// The parser keeps what it has not split yet (one copy of the input) and the events it
    /// returns (another, as text): a few bytes a byte.
    #[test]
    fn any_stream_splits_the_same_way_whatever_its_chunks(
        stream in prop_oneof![bytes(2048), text(SSE_PIECES).prop_map(String::into_bytes)],
        cuts in prop::collection::vec(any::<usize>(), 0..16),
    ) {
        let whole = bounded("SseParser", stream.len(), 8, 1024, || events(&stream, &[]));
        prop_assert_eq!(events(&stream, &cuts), whole);
    }

}

proptest! {
    // Each case pushes over a megabyte.
    #![proptest_config(config(50))]

    /// A server that never ends an event is refused once the event passes the limit, and the
    /// parser never holds much more than the limit, however the stream is cut.
    #[test]
    fn a_stream_without_blank_lines_is_refused_with_bounded_memory(piece in 512usize..200_000, byte in any::<u8>()) {
        let byte = if byte == b'\n' || byte == b'\r' { b'a' } else { byte };
        let chunk = vec![byte; piece];
        let mut p = SseParser::default();
        let refused = bounded("SseParser without events", 0, 0, 3 * MAX_EVENT_BYTES + 3 * piece, || {
            (0..=(MAX_EVENT_BYTES / piece + 1)).find_map(|_| p.push(&chunk).err())
        });
        prop_assert!(refused.is_some());
    }

}

proptest! {
    #![proptest_config(config(1))]

    #[test]
    fn streamed_text_arrives_as_sent(pieces in prop::collection::vec(any::<String>(), 0..8), cuts in prop::collection::vec(any::<usize>(), 0..8)) {
        let mut stream = String::new();
        for p in &pieces {
            let data = json!({"id": "c1", "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]});
            stream.push_str(&format!("data: {data}\r\n\r\n: keep-alive\n\n"));
        }
        stream.push_str("data: [DONE]\n\n");
        let got: Vec<_> = events(stream.as_bytes(), &cuts).iter().map(|d| chunk(d)).collect();
        prop_assert_eq!(got.len(), pieces.len() + 1);
        prop_assert!(got.last().unwrap().done);
        for (c, p) in got.iter().zip(&pieces) {
            prop_assert_eq!(c.content.as_deref(), Some(p.as_str()).filter(|s| !s.is_empty()));
            prop_assert!(c.error.is_none());
        }
    }

    /// serde_json builds a Value of at most ~48 bytes per input byte (`[0,0,…]`: 32-byte values,
    /// doubled while the array grows; objects a little more per entry).
    #[test]
    fn any_answer_body_is_read_or_refused_without_panicking(body in text(JSON_PIECES), status in 100u16..600) {
        let n = body.len();
        let c = bounded("sse::chunk", n, 64, 4096, || chunk(&body));
        if let Some(e) = &c.error {
            prop_assert!(!e.contains("sk-abc"), "{}", e);
        }
        bounded("parse_completion", n, 64, 4096, || parse_completion(&body)).ok();
        bounded("parse_transcription", n, 64, 4096, || parse_transcription(&body)).ok();
        let (failure, _) = bounded("classify", n, 64, 4096, || classify(status, &body, n % 2 == 0));
        prop_assert!(!failure.detail().contains("sk-abc"), "{}", failure.detail());
    }

    /// No `sk-…` key or bearer token survives redaction, whatever surrounds it.
    #[test]
    fn redaction_leaves_no_key(s in text(&["sk-", "Bearer ", "sk-proj-", "a", "Z", "9", "-", "_", "*", " ", ".", "é"])) {
        let r = bounded("redact", s.len(), 4, 64, || redact(&s));
        for (i, _) in r.match_indices("sk-") {
            prop_assert!(r[i + 3..].starts_with("***"), "{:?} -> {:?}", s, r);
        }
        for (i, _) in r.match_indices("Bearer ") {
            prop_assert!(r[i + 7..].starts_with("***"), "{:?} -> {:?}", s, r);
        }
    }
}
