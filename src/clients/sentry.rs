//! Error reports to Sentry as envelopes over fetch (no SDK: the envelope format is small and
//! stable). Sent with `wait_until`, after the response, so a slow Sentry never delays a user.

use crate::config::SentryDsn;
use serde_json::json;

pub const CLIENT_NAME: &str = concat!("ghosttools-worker/", env!("CARGO_PKG_VERSION"));

/// What we tell Sentry about one failure.
pub struct Report<'a> {
    pub event_id: String,
    pub now_ms: u64,
    /// e.g. "internal", "upstream" (the error's kind).
    pub kind: &'a str,
    /// The full cause (never shown to the user).
    pub message: &'a str,
    pub request_id: &'a str,
    pub method: &'a str,
    /// Path only: query strings may carry tokens.
    pub path: &'a str,
    pub environment: &'a str,
    pub release: &'a str,
}

pub fn auth_header(dsn: &SentryDsn) -> String {
    format!("Sentry sentry_version=7, sentry_key={}, sentry_client={CLIENT_NAME}", dsn.public_key)
}

/// Newline-separated JSON: envelope header, item header, event.
pub fn envelope(dsn: &SentryDsn, report: &Report) -> String {
    let timestamp = rfc3339(report.now_ms);
    let header = json!({ "event_id": report.event_id, "sent_at": timestamp, "dsn": dsn.raw });
    let event = json!({
        "event_id": report.event_id,
        "timestamp": timestamp,
        "level": "error",
        "platform": "native",
        "logger": "ghosttools",
        "release": report.release,
        "environment": report.environment,
        "exception": { "values": [ { "type": report.kind, "value": report.message } ] },
        "request": { "method": report.method, "url": report.path },
        "tags": { "request_id": report.request_id },
    });
    let event = event.to_string();
    let item = json!({ "type": "event", "length": event.len() });
    format!("{header}\n{item}\n{event}\n")
}

pub fn rfc3339(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Posts the envelope; failures are logged by the caller, never retried (best effort).
pub async fn send(dsn: &SentryDsn, body: String) -> Result<u16, String> {
    let headers = worker::Headers::new();
    let set = |k: &str, v: &str| headers.set(k, v).map_err(|e| e.to_string());
    set("Content-Type", "application/x-sentry-envelope")?;
    set("X-Sentry-Auth", &auth_header(dsn))?;
    let mut init = worker::RequestInit::new();
    init.with_method(worker::Method::Post).with_headers(headers.clone()).with_body(Some(body.into()));
    let request = worker::Request::new_with_init(&dsn.envelope_url, &init).map_err(|e| e.to_string())?;
    let response = worker::Fetch::Request(request).send().await.map_err(|e| e.to_string())?;
    Ok(response.status_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dsn() -> SentryDsn {
        SentryDsn {
            raw: "https://k@o1.ingest.sentry.io/7".into(),
            public_key: "k".into(),
            envelope_url: "https://o1.ingest.sentry.io/api/7/envelope/".into(),
        }
    }

    #[test]
    fn an_envelope_is_three_json_lines_with_the_event_last() {
        let report = Report {
            event_id: "0123456789abcdef0123456789abcdef".into(),
            now_ms: 1_700_000_000_123,
            kind: "internal",
            message: "boom",
            request_id: "req1",
            method: "GET",
            path: "/api/x",
            environment: "test",
            release: "abc",
        };
        let text = envelope(&dsn(), &report);
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["event_id"], report.event_id);
        assert_eq!(lines[1]["type"], "event");
        assert_eq!(lines[2]["exception"]["values"][0]["value"], "boom");
        assert_eq!(lines[2]["tags"]["request_id"], "req1");
        assert_eq!(lines[2]["timestamp"], "2023-11-14T22:13:20.123Z");
        assert_eq!(lines[1]["length"].as_u64().unwrap() as usize, text.lines().nth(2).unwrap().len());
    }

    #[test]
    fn the_auth_header_carries_the_public_key() {
        assert!(auth_header(&dsn()).starts_with("Sentry sentry_version=7, sentry_key=k, sentry_client="));
    }
}
