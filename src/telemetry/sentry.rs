//! Error reports to Sentry as envelopes over fetch (no SDK: the envelope format is small and
//! stable). Sent with `wait_until`, after the response, so a slow Sentry never delays a user.
//! `Reporter` carries what a report needs of its request, detached from it, so every layer (the
//! limiter, a run that outlives its request) reports without knowing the request.

use super::log_line;
use serde_json::json;
use std::future::Future;
use url::Url;

/// A parsed Sentry DSN: where envelopes go and the key they carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentryDsn {
    pub raw: String,
    pub public_key: String,
    pub envelope_url: String,
}

impl SentryDsn {
    /// `https://<key>@<host>/<project>` → envelope endpoint `https://<host>/api/<project>/envelope/`.
    pub fn parse(raw: &str) -> Option<SentryDsn> {
        let url = Url::parse(raw).ok()?;
        let key = url.username();
        let project = url.path().trim_matches('/');
        if key.is_empty() || project.is_empty() || url.host_str().is_none() {
            return None;
        }
        let mut base = url.clone();
        base.set_username("").ok()?;
        base.set_password(None).ok()?;
        base.set_path("");
        let origin = base.as_str().trim_end_matches('/');
        Some(SentryDsn {
            raw: raw.to_string(),
            public_key: key.to_string(),
            envelope_url: format!("{origin}/api/{project}/envelope/"),
        })
    }
}

/// A report is sent after the response (`wait_until`); a stalled Sentry must not hold the
/// isolate's work open until the runtime cuts it off.
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

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
    crate::domain::calendar::rfc3339_ms(ms as i64)
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
    let answer = crate::fetch::fetch(request, SEND_TIMEOUT).await.map_err(|e| e.to_string())?;
    Ok(answer.status)
}

/// What a report needs from the request, detached from it: the limiter, and work that outlives
/// its handler (a relayed stream, a transcription), report operator errors through this.
#[derive(Clone)]
pub struct Reporter {
    /// Where reports go; `None` when no (valid) DSN is configured: then only the log line.
    pub dsn: Option<SentryDsn>,
    pub environment: &'static str,
    pub release: String,
    pub request_id: String,
    pub method: String,
    pub path: String,
}

impl Reporter {
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    pub fn log(&self, level: &str, message: &str) {
        log_line(level, &self.request_id, message);
    }

    /// Logs `err` and sends it to Sentry (when configured and worth an alert), waiting for the
    /// send: for work already running after the response.
    pub async fn report_now(&self, err: &crate::error::AppError) {
        // No status here: the user's answer (if any) was decided elsewhere.
        self.log("error", &format!("{} {} (run): {err}", self.method, self.path));
        if let Some(sending) = self.sentry(err, super::now_ms()) {
            sending.await;
        }
    }

    /// The Sentry send for `err`, or None when there is nothing to send.
    pub fn sentry(
        &self,
        err: &crate::error::AppError,
        now_ms: u64,
    ) -> Option<impl Future<Output = ()> + 'static> {
        if !err.is_reportable() {
            return None;
        }
        self.send(err.code(), &err.to_string(), now_ms)
    }

    /// The Sentry send of one event, or None when no DSN is configured (also for failures
    /// found after the response, e.g. a rate limiter report that got no answer).
    pub fn send(&self, kind: &str, message: &str, now_ms: u64) -> Option<impl Future<Output = ()> + 'static> {
        let dsn = self.dsn.clone()?;
        let body = envelope(
            &dsn,
            &Report {
                event_id: hex::encode(random_16()),
                now_ms,
                kind,
                message,
                request_id: &self.request_id,
                method: &self.method,
                path: &self.path,
                environment: self.environment,
                release: &self.release,
            },
        );
        let request_id = self.request_id.clone();
        Some(async move {
            if let Err(e) = send(&dsn, body).await {
                log_line("warn", &request_id, &format!("sentry report not sent: {e}"));
            }
        })
    }
}

fn random_16() -> [u8; 16] {
    let mut b = [0u8; 16];
    crate::security::fill_random(&mut b);
    b
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

    #[test]
    fn a_dsn_becomes_its_envelope_endpoint() {
        let dsn = SentryDsn::parse("http://abc123@127.0.0.1:9000/42").unwrap();
        assert_eq!(dsn.public_key, "abc123");
        assert_eq!(dsn.envelope_url, "http://127.0.0.1:9000/api/42/envelope/");
        assert_eq!(SentryDsn::parse("not a dsn"), None);
    }
}
