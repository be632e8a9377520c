//! A fake OpenAI speaking the real wire format: chat completions (whole, or streamed as
//! server-sent events in timed pieces), audio transcriptions (multipart in; `json` or
//! `verbose_json` with segments out), and errors shaped like OpenAI's. Every request is recorded.
//!
//! Behaviour is chosen per test, never by a global switch: a marker the test controls travels
//! inside the request. Chat requests look for `fake-chat-<behaviour>[-<unique>]` in the messages
//! (tests put it in the product name; a transcript carries its file name into the show-notes
//! prompt); transcriptions look for `fake-audio-<behaviour>[-<unique>]` in the file name.
//! Behaviours: `ok` (default), `slow` (pieces 300 ms apart), `crawlxN` (pieces a second apart
//! on the first N calls per marker, then as usual), `chars` (pieces of three characters,
//! 15 ms apart, so markers split: `TIT`, `LE:`), `429xN` / `500xN` (fail N times per
//! marker, then succeed; without N: always), `quota` (429 insufficient_quota), `401`, `403`,
//! `midstream` (an error event after a few pieces), `garbled` (malformed JSON: a 200 whose body
//! is cut off, or a stream with an unparseable chunk after a few pieces, then carrying on as if
//! nothing happened), `filter` / `length` (that finish_reason), `long` (an answer of thousands
//! of words ending `stop`, as a server that ignores `max_tokens` would write),
//! `500afterN` (N answers, then three failures — all of one call's attempts — then answers
//! again), `hang` (no answer for a minute), and for audio also `400` (unreadable), `json` (no segments),
//! `durN` (report N seconds; otherwise a WAV's or an MP3's own length), `slow` (the answer after 4 s, long enough to watch a page follow it).

pub use crate::audio_secs::mp3_secs;
use crate::audio_secs::wav_secs;
pub use crate::multipart::multipart;
use crate::recorder::{FakeServer, Recorded};
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const API_KEY: &str = "sk-e2e-secret-key-0123456789abcdefXYZ";

#[derive(Default)]
struct Shared {
    /// `make dev`'s stand-in: answers written from the request (the brief, the transcript)
    /// instead of the fixed texts the tests assert.
    from_request: bool,
    /// Requests seen per marker (for "fail N times, then succeed").
    counts: Mutex<HashMap<String, u32>>,
    /// When the last piece of a stream was written, per marker.
    finished: Mutex<HashMap<String, Instant>>,
}

pub struct OpenAiFake {
    pub server: FakeServer,
    shared: Arc<Shared>,
}

/// A marker found in a request: its full text (the counting key) and its behaviour.
#[derive(Debug, Clone)]
struct Marker {
    token: String,
    behaviour: String,
}

fn marker(text: &str, area: &str) -> Option<Marker> {
    let prefix = format!("fake-{area}-");
    let at = text.find(&prefix)?;
    let token: String = text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    let behaviour = token[prefix.len()..].split('-').next().unwrap_or("ok").to_string();
    Some(Marker { token, behaviour })
}

impl OpenAiFake {
    pub async fn start() -> OpenAiFake {
        OpenAiFake::start_on(0, false).await
    }

    /// On `port` (0: a free one); `from_request`: the stand-in's answers, built from the brief.
    pub async fn start_on(port: u16, from_request: bool) -> OpenAiFake {
        let shared = Arc::new(Shared { from_request, ..Shared::default() });
        let router = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/audio/transcriptions", post(transcribe))
            // OpenAI takes files up to 25 MB (axum's default would refuse over 2 MB).
            .layer(DefaultBodyLimit::max(32 * 1024 * 1024))
            .with_state(shared.clone());
        OpenAiFake { server: FakeServer::start_on("openai", router, port).await, shared }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Chat requests whose body mentions `text` (a marker or a product name).
    pub fn chats_mentioning(&self, text: &str) -> Vec<Recorded> {
        self.server.recorder.matching(|r| r.path == "/v1/chat/completions" && r.text().contains(text))
    }

    /// Transcription requests whose body mentions `text` (e.g. the file name).
    pub fn transcriptions_mentioning(&self, text: &str) -> Vec<Recorded> {
        self.server.recorder.matching(|r| r.path == "/v1/audio/transcriptions" && r.text().contains(text))
    }

    /// When the fake wrote the last piece of the stream for `token`.
    pub fn stream_finished(&self, token: &str) -> Option<Instant> {
        self.shared.finished.lock().unwrap().get(token).copied()
    }
}

fn error(status: StatusCode, message: &str, kind: &str, code: Option<&str>) -> Response {
    let body = json!({ "error": { "message": message, "type": kind, "param": null, "code": code } });
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}

/// The answer for a behaviour that fails before anything is written, if it does now.
fn failure(m: &Marker, shared: &Shared, presented_key: &str) -> Option<Response> {
    let seen = {
        let mut counts = shared.counts.lock().unwrap();
        let n = counts.entry(m.token.clone()).or_insert(0);
        *n += 1;
        *n - 1
    };
    let b = m.behaviour.as_str();
    let times = |prefix: &str| -> Option<bool> {
        let rest = b.strip_prefix(prefix)?;
        Some(match rest.strip_prefix('x') {
            Some(n) => seen < n.parse::<u32>().unwrap_or(u32::MAX),
            None if rest.is_empty() => true,
            None => return None,
        })
    };
    if times("429") == Some(true) {
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1.",
            "requests",
            Some("rate_limit_exceeded"),
        );
        r.headers_mut().insert("retry-after-ms", "150".parse().unwrap());
        return Some(r);
    }
    let after = b.strip_prefix("500after").and_then(|n| n.parse::<u32>().ok());
    if times("500") == Some(true) || after.is_some_and(|n| (n..n + 3).contains(&seen)) {
        return Some(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
        ));
    }
    match b {
        "quota" => Some(error(
            StatusCode::TOO_MANY_REQUESTS,
            "You exceeded your current quota, please check your plan and billing details.",
            "insufficient_quota",
            Some("insufficient_quota"),
        )),
        // Worst case for leaks: the message quotes the key it was given, in full.
        "401" => Some(error(
            StatusCode::UNAUTHORIZED,
            &format!("Incorrect API key provided: {presented_key}. You can find your API key at https://platform.openai.com/account/api-keys."),
            "invalid_request_error",
            Some("invalid_api_key"),
        )),
        "403" => Some(error(
            StatusCode::FORBIDDEN,
            "Country, region, or territory not supported",
            "request_forbidden",
            Some("unsupported_country_region_territory"),
        )),
        _ => None,
    }
}

fn bearer(headers: &HeaderMap) -> String {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    auth.strip_prefix("Bearer ").unwrap_or("").to_string()
}

fn unauthorized(presented: &str) -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        &format!("Incorrect API key provided: {presented}."),
        "invalid_request_error",
        Some("invalid_api_key"),
    )
}

async fn chat(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let key = bearer(&headers);
    if key != API_KEY {
        return unauthorized(&key);
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "We could not parse the JSON body of your request.",
            "invalid_request_error",
            None,
        );
    };
    let messages: Vec<String> = req["messages"]
        .as_array()
        .map(|a| a.iter().map(|m| m["content"].as_str().unwrap_or("").to_string()).collect())
        .unwrap_or_default();
    let all = messages.join("\n");
    let m = marker(&all, "chat").unwrap_or(Marker { token: String::new(), behaviour: "ok".into() });
    if let Some(r) = failure(&m, &shared, &key) {
        return r;
    }
    if m.behaviour == "hang" {
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
    let system = messages.first().cloned().unwrap_or_default();
    let notes = system.contains("show notes");
    let mut content = match (notes, shared.from_request) {
        (true, false) => notes_answer(&system),
        (false, false) => copy_answer(&all),
        (true, true) => crate::openai_text::show_notes(&system, &all),
        (false, true) => crate::openai_text::description(&system, &all),
    };
    if m.behaviour == "long" {
        content.push_str(&"And on it goes, word after word, far past any length asked for. ".repeat(300));
    }
    let finish = match m.behaviour.as_str() {
        "filter" => "content_filter",
        "length" => "length",
        _ => "stop",
    };
    let model = req["model"].as_str().unwrap_or("gpt-4o-mini").to_string();
    static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let id = format!("chatcmpl-fake{}", NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    if req["stream"] != json!(true) {
        if m.behaviour == "garbled" {
            let cut = format!("{{\"id\":\"{id}\",\"object\":\"chat.completion\",\"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assi");
            return (StatusCode::OK, [("content-type", "application/json")], cut).into_response();
        }
        let body = json!({
            "id": id, "object": "chat.completion", "created": 1_700_000_000, "model": model,
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": content }, "finish_reason": finish }],
            "usage": { "prompt_tokens": 50, "completion_tokens": 80, "total_tokens": 130 },
        });
        return (StatusCode::OK, [("content-type", "application/json")], body.to_string()).into_response();
    }
    let usage = req["stream_options"]["include_usage"] == json!(true);
    // `crawlxN`: the first N calls per marker crawl (counted by `failure`, which ran first).
    let calls = shared.counts.lock().unwrap().get(&m.token).copied().unwrap_or(1);
    let crawls =
        m.behaviour.strip_prefix("crawlx").and_then(|n| n.parse::<u32>().ok()).is_some_and(|n| calls <= n);
    let delay = Duration::from_millis(match m.behaviour.as_str() {
        _ if crawls => 1000,
        "slow" => 300,
        "chars" => 15,
        _ => 120,
    });
    let events = sse_events(&id, &model, &content, finish, usage, m.behaviour.as_str());
    let token = m.token.clone();
    let stream = futures_util::stream::unfold(
        (events.into_iter(), shared, token),
        move |(mut rest, shared, token)| async move {
            let next = rest.next();
            match next {
                Some(event) => {
                    tokio::time::sleep(delay).await;
                    Some((Ok::<Bytes, std::io::Error>(Bytes::from(event)), (rest, shared, token)))
                }
                None => {
                    if !token.is_empty() {
                        shared.finished.lock().unwrap().insert(token.clone(), Instant::now());
                    }
                    None
                }
            }
        },
    );
    Response::builder()
        .status(200)
        .header("content-type", "text/event-stream; charset=utf-8")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(stream))
        .unwrap()
}

/// The chunks of a streamed answer, as OpenAI sends them.
fn sse_events(
    id: &str,
    model: &str,
    content: &str,
    finish: &str,
    usage: bool,
    behaviour: &str,
) -> Vec<String> {
    let chunk = |delta: Value, finish: Value| {
        let c = json!({
            "id": id, "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }],
        });
        format!("data: {c}\n\n")
    };
    let mut out = vec![chunk(json!({ "role": "assistant", "content": "" }), Value::Null)];
    let chars: Vec<String> = content.chars().map(String::from).collect();
    let words: Vec<&str> = match behaviour {
        "chars" => chars.iter().map(String::as_str).collect(),
        _ => content.split_inclusive(' ').collect(),
    };
    let per = if behaviour == "chars" { 3 } else { words.len().div_ceil(8).max(1) };
    for (i, piece) in words.chunks(per).enumerate() {
        if behaviour == "garbled" && i == 3 {
            out.push(format!("data: {{\"id\":\"{id}\",\"object\":\"chat.completion.chunk\",\"choices\":[{{\"delta\":{{\"content\":\"tru\n\n"));
        }
        if behaviour == "midstream" && i == 3 {
            let e = json!({ "error": { "message": "The server had an error while processing your request. Sorry about that!", "type": "server_error", "param": null, "code": null } });
            out.push(format!("data: {e}\n\n"));
            return out;
        }
        out.push(chunk(json!({ "content": piece.concat() }), Value::Null));
    }
    out.push(chunk(json!({}), json!(finish)));
    if usage {
        let u = json!({
            "id": id, "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model, "choices": [],
            "usage": { "prompt_tokens": 50, "completion_tokens": 80, "total_tokens": 130 },
        });
        out.push(format!("data: {u}\n\n"));
    }
    out.push("data: [DONE]\n\n".into());
    out
}

fn copy_answer(messages: &str) -> String {
    let product =
        messages.lines().find_map(|l| l.strip_prefix("Product: ")).unwrap_or("The product").to_string();
    format!(
        "TITLE: {product} — Made for the Trail\n\
         DESCRIPTION:\n\
         Meet {product}, the piece of kit you forget you are carrying until you need it. \
         It pitches in minutes, shrugs off the rain and packs down small.\n\n\
         Built for people who count every gram and still want to sleep well.\n\
         BULLETS:\n\
         - Sets up in under three minutes\n\
         - Waterproof fly rated to 3000 mm\n\
         - Packs smaller than a water bottle\n"
    )
}

fn notes_answer(system: &str) -> String {
    let mut s = String::from(
        "SUMMARY:\nA friendly conversation about running a small shop. The hosts share what worked.\n\
         KEY POINTS:\n- Answer every review\n- Keep the product page honest\n- Ship fast\n",
    );
    if system.contains("CHAPTERS") {
        s.push_str(
            "CHAPTERS:\n0:00 Welcome\n0:40 Why trust wins\n1:10 Listener questions\n59:00 Far past the end\n",
        );
    }
    s
}

async fn transcribe(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let key = bearer(&headers);
    if key != API_KEY {
        return unauthorized(&key);
    }
    let parts = multipart(&headers, &body);
    let field = |name: &str| {
        parts.iter().find(|p| p.name == name).map(|p| String::from_utf8_lossy(&p.data).to_string())
    };
    let Some(file) = parts.iter().find(|p| p.name == "file" && p.filename.is_some()) else {
        return error(StatusCode::BAD_REQUEST, "you must provide a file", "invalid_request_error", None);
    };
    if field("model").is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "you must provide a model parameter",
            "invalid_request_error",
            None,
        );
    }
    let name = file.filename.clone().unwrap_or_default();
    let m = marker(&name, "audio").unwrap_or(Marker { token: String::new(), behaviour: "ok".into() });
    if let Some(r) = failure(&m, &shared, &key) {
        return r;
    }
    match m.behaviour.as_str() {
        "hang" => tokio::time::sleep(Duration::from_secs(60)).await,
        "slow" => tokio::time::sleep(Duration::from_secs(4)).await,
        "400" => {
            return error(
                StatusCode::BAD_REQUEST,
                "Audio file might be corrupted or unsupported",
                "invalid_request_error",
                Some("invalid_value"),
            )
        }
        _ => {}
    }
    let duration = m
        .behaviour
        .strip_prefix("dur")
        .and_then(|n| n.parse::<f64>().ok())
        .or_else(|| wav_secs(&file.data))
        .or_else(|| mp3_secs(&file.data))
        .or_else(|| shared.from_request.then(|| crate::openai_text::compressed_secs(file.data.len())))
        .unwrap_or(95.5);
    let mut segments = Vec::new();
    let mut start = 0.0;
    let mut k = 0;
    while start < duration {
        let end = (start + 10.0f64).min(duration);
        let text = match (k, shared.from_request) {
            (0, _) => format!(" Welcome to the show, this is {name}."),
            (_, false) => format!(" Part {k} of the conversation, about trust & <reviews>."),
            (_, true) => crate::openai_text::spoken_line(k),
        };
        segments.push(json!({
            "id": k, "seek": 0, "start": start, "end": end, "text": text, "tokens": [50364],
            "temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.4, "no_speech_prob": 0.01,
        }));
        start = end;
        k += 1;
    }
    let text: String = segments.iter().map(|s| s["text"].as_str().unwrap_or("")).collect();
    let verbose = field("response_format").as_deref() == Some("verbose_json") && m.behaviour != "json";
    let answer = if verbose {
        json!({ "task": "transcribe", "language": "english", "duration": duration, "text": text, "segments": segments })
    } else {
        json!({ "text": text })
    };
    (StatusCode::OK, [("content-type", "application/json")], answer.to_string()).into_response()
}
