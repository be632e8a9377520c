//! Turning an `AppError` into what the user sees (HTML or JSON) and what operators see (a log
//! line, and a Sentry event for server-side failures).

use crate::clients::sentry;
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
        Reply::html(views::errors::page(cx, err)).with_status(err.status())
    };
    if let AppError::TooManyRequests { retry_after_secs } = err {
        reply = reply.with_header("Retry-After", retry_after_secs.to_string());
    }
    reply.no_store()
}

pub fn report(cx: &Ctx, err: &AppError) {
    let status = err.status();
    if status < 500 {
        return;
    }
    cx.log("error", &format!("{} {} → {status}: {err}", cx.method, cx.path));
    if !err.is_reportable() {
        return;
    }
    let Some(Ok(dsn)) = cx.config.sentry.clone() else {
        return;
    };
    let message = err.to_string();
    let body = sentry::envelope(
        &dsn,
        &sentry::Report {
            event_id: hex::encode(random_16()),
            now_ms: cx.now_ms,
            kind: err.code(),
            message: &message,
            request_id: &cx.request_id,
            method: cx.method.as_ref(),
            path: &cx.path,
            environment: cx.config.environment.as_str(),
            release: crate::BUILD_ID,
        },
    );
    let request_id = cx.request_id.clone();
    cx.wait_until(async move {
        if let Err(e) = sentry::send(&dsn, body).await {
            crate::ctx::log_line("warn", &request_id, &format!("sentry report not sent: {e}"));
        }
    });
}

fn random_16() -> [u8; 16] {
    let mut b = [0u8; 16];
    crate::security::fill_random(&mut b);
    b
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
