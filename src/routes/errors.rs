//! Turning an `AppError` into what the user sees (HTML or JSON) and what operators see (a log
//! line, and a Sentry event for server-side failures).

use crate::clients::sentry;
use crate::config::Config;
use crate::ctx::Ctx;
use crate::error::AppError;
use crate::reply::Reply;
use crate::views;
use serde_json::json;
use std::rc::Rc;

pub fn render(cx: &Ctx, err: &AppError) -> Reply {
    let mut reply = if cx.is_api() {
        let mut error = json!({
            "code": err.code(),
            "message": err.public_message(),
            "request_id": cx.request_id,
        });
        if let Some(field) = err.field() {
            error["field"] = json!(field);
        }
        Reply::json(&json!({ "error": error })).with_status(err.status())
    } else if *err == AppError::Unauthenticated {
        // Pages ask the visitor to sign in and come back here (same-site path only).
        return Reply::redirect(format!("/signin?next={}", urlencode(&cx.path)));
    } else {
        Reply::html(views::errors::page(cx, err)).with_status(err.status())
    };
    if let AppError::TooManyRequests { retry_after_secs } = err {
        reply = reply.with_header("Retry-After", retry_after_secs.to_string());
    }
    if let AppError::MethodNotAllowed { allow } = err {
        reply = reply.with_header("Allow", allow.clone());
    }
    reply.no_store()
}

pub fn report(cx: &Ctx, err: &AppError) {
    if err.status() < 500 {
        return;
    }
    let reporter = Reporter::of(cx);
    reporter.log(err);
    if let Some(sending) = reporter.sentry(err, cx.now_ms) {
        cx.wait_until(sending);
    }
}

/// Sends one event to Sentry after the response (when a DSN is configured), for failures that
/// are not the request's own error (e.g. the rate limiter being down). `kind` groups events;
/// `message` is the full cause, never shown to users.
pub fn report_to_sentry(cx: &Ctx, kind: &str, message: &str) {
    if let Some(sending) = Reporter::of(cx).send(kind, message, cx.now_ms) {
        cx.wait_until(sending);
    }
}

/// What a report needs from the request, detached from it: work that outlives its handler (a
/// relayed stream, a transcription) reports operator errors through this.
#[derive(Clone)]
pub struct Reporter {
    config: Rc<Config>,
    request_id: String,
    method: String,
    path: String,
}

impl Reporter {
    pub fn of(cx: &Ctx) -> Reporter {
        Reporter {
            config: cx.config.clone(),
            request_id: cx.request_id.clone(),
            method: cx.method.to_string(),
            path: cx.path.clone(),
        }
    }

    /// For work no request started (the scheduled sweep): `what` stands where the path would.
    pub fn detached(config: Rc<Config>, request_id: String, what: &str) -> Reporter {
        Reporter { config, request_id, method: "SCHEDULED".into(), path: what.into() }
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    fn log(&self, err: &AppError) {
        crate::ctx::log_line(
            "error",
            &self.request_id,
            &format!("{} {} → {}: {err}", self.method, self.path, err.status()),
        );
    }

    /// Logs `err` and sends it to Sentry (when configured and worth an alert), waiting for the
    /// send: for work already running after the response.
    pub async fn report_now(&self, err: &AppError) {
        // No status here: the user's answer (if any) was decided elsewhere.
        crate::ctx::log_line(
            "error",
            &self.request_id,
            &format!("{} {} (run): {err}", self.method, self.path),
        );
        if let Some(sending) = self.sentry(err, worker::Date::now().as_millis()) {
            sending.await;
        }
    }

    /// The Sentry send for `err`, or None when there is nothing to send.
    fn sentry(&self, err: &AppError, now_ms: u64) -> Option<impl std::future::Future<Output = ()> + 'static> {
        if !err.is_reportable() {
            return None;
        }
        self.send(err.code(), &err.to_string(), now_ms)
    }

    /// The Sentry send of one event, or None when no DSN is configured (also for failures
    /// found after the response, e.g. a rate limiter report that got no answer).
    pub fn send(
        &self,
        kind: &str,
        message: &str,
        now_ms: u64,
    ) -> Option<impl std::future::Future<Output = ()> + 'static> {
        let Some(Ok(dsn)) = self.config.sentry.clone() else {
            return None;
        };
        let body = sentry::envelope(
            &dsn,
            &sentry::Report {
                event_id: hex::encode(random_16()),
                now_ms,
                kind,
                message,
                request_id: &self.request_id,
                method: &self.method,
                path: &self.path,
                environment: self.config.environment.as_str(),
                release: &self.config.version,
            },
        );
        let request_id = self.request_id.clone();
        Some(async move {
            if let Err(e) = sentry::send(&dsn, body).await {
                crate::ctx::log_line("warn", &request_id, &format!("sentry report not sent: {e}"));
            }
        })
    }
}

fn random_16() -> [u8; 16] {
    let mut b = [0u8; 16];
    crate::security::fill_random(&mut b);
    b
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
