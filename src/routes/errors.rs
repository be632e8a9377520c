//! Turning an `AppError` into what the user sees (HTML or JSON) and what operators see (a log
//! line, and a Sentry event for server-side failures).

use crate::ctx::Ctx;
use crate::error::AppError;
use crate::reply::Reply;
use crate::views;
use serde_json::json;

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
        let title = format!("{} · GhostTools", views::errors::heading(err.status()));
        let layout = super::layout_without_lookup(cx, title);
        Reply::html(views::errors::page(layout, err, &cx.request_id)).with_status(err.status())
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
    let reporter = cx.reporter();
    reporter.log("error", &format!("{} {} → {}: {err}", reporter.method, reporter.path, err.status()));
    if let Some(sending) = reporter.sentry(err, cx.now_ms) {
        cx.wait_until(sending);
    }
}

/// Sends one event to Sentry after the response (when a DSN is configured), for failures that
/// are not the request's own error (e.g. the rate limiter being down). `kind` groups events;
/// `message` is the full cause, never shown to users.
pub fn report_to_sentry(cx: &Ctx, kind: &str, message: &str) {
    if let Some(sending) = cx.reporter().send(kind, message, cx.now_ms) {
        cx.wait_until(sending);
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
