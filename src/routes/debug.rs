//! Operators' checks, each off (a 404 like any unknown path) unless its variable is `true` (the
//! route table's `Switch`):
//! - `GET /api/debug/error` (`DEBUG_ERROR_ROUTE`): a deliberate 500, to see errors reach Sentry.
//! - `GET /debug/error/<404|429|500|503>` (`DEBUG_ERROR_ROUTE`): that error page as a browser
//!   sees it, to check how error pages look (the browser tests screenshot them).
//! - `POST /api/debug/rate-limit/<policy>` (`DEBUG_RATE_LIMIT_ROUTE`): counts one request of the
//!   caller against a policy, to check the limiter and a deployment's limits. It only spends
//!   the caller's own quota, under the same rules as the real routes.
//! - `GET /api/debug/memory` (`DEBUG_MEMORY_ROUTE`): the size of this isolate's WebAssembly
//!   memory. It only ever grows, so it is the most the Worker has held at once since the
//!   isolate started (what counts against the isolate's memory limit, with the JS heap).

use crate::ctx::Ctx;
use crate::error::AppError;
use crate::rate_limit::Policy;
use crate::reply::Reply;
use serde_json::json;

pub fn forced_error() -> Result<Reply, AppError> {
    Err(AppError::internal("forced error from /api/debug/error (Sentry wiring check)"))
}

pub fn error_page(status: &str) -> Result<Reply, AppError> {
    Err(match status {
        "404" => AppError::NotFound,
        "429" => AppError::TooManyRequests { retry_after_secs: 30 },
        "500" => AppError::internal("forced error page from /debug/error/500"),
        "503" => AppError::RateLimiterUnavailable { policy: "debug" },
        _ => return Err(AppError::bad_request("status", "Pick one of 404, 429, 500 or 503.")),
    })
}

pub async fn rate_limit_check(cx: &Ctx, policy: &str) -> Result<Reply, AppError> {
    // It spends the caller's own quota, so another site must not spend a visitor's for them
    // (no form, so no token: the browser's Origin / Sec-Fetch-Site decide).
    let ours = cx.site()?.origin();
    if !crate::auth::csrf::same_origin(
        cx.header("origin").as_deref(),
        cx.header("sec-fetch-site").as_deref(),
        &ours,
    ) {
        return Err(AppError::Forbidden("Only this site may use this check.".into()));
    }
    let policy = Policy::from_name(policy)
        .ok_or_else(|| AppError::bad_request("policy", format!("unknown policy `{policy}`")))?;
    let decision = cx.limit_reporting_stored(policy).await?;
    Ok(Reply::json(&json!({
        "policy": policy.name(),
        "subject": cx.subject.key(),
        "fail_mode": format!("{:?}", policy.fail_mode()).to_lowercase(),
        // null: the policy is off, or the limiter is down and the policy fails open.
        "decision": decision.map(|d| json!({
            "allowed": d.allowed,
            "limit": d.limit,
            "remaining": d.remaining,
            "reset_ms": d.reset_ms,
            "stored": d.stored,
        })),
    }))
    .no_store())
}

pub fn memory() -> Result<Reply, AppError> {
    use wasm_bindgen::JsCast;
    use worker::js_sys::{ArrayBuffer, WebAssembly};
    let memory: WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    let bytes = memory.buffer().unchecked_into::<ArrayBuffer>().byte_length();
    Ok(Reply::json(&json!({ "wasm_memory_bytes": bytes })).no_store())
}
