//! The one typed client of the rate limiter Durable Object: what is asked, what is answered, and
//! the only code that knows the object's binding and URL scheme. Every call is bounded in time.

use super::subject::Subject;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use worker::{Env, Method, Request, RequestInit};

pub const BINDING: &str = "RATE_LIMITER";
/// Durable Object stubs need an absolute URL; only the path means anything to the object.
const DECIDE_URL: &str = "https://rate-limiter.internal/decide";

/// Count one request of `policy` against the subject's window (limit and window travel with the
/// question, so the policy table and its overrides live only in the Worker), after recording
/// `report` admissions an isolate decided by itself (batched policies, see `tally`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Ask {
    pub policy: String,
    pub limit: u32,
    pub window_secs: u32,
    /// Also answer how many admissions the subject's object stores (operators' check route).
    #[serde(default)]
    pub report_stored: bool,
    /// Admissions decided in an isolate since its last report: recorded as they are.
    #[serde(default)]
    pub report: u32,
    /// Decide one request (false: only record `report` and answer the count).
    #[serde(default = "yes")]
    pub decide: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Answer {
    pub allowed: bool,
    pub limit: u32,
    /// Admissions in the subject's window after this call.
    #[serde(default)]
    pub count: u32,
    pub remaining: u32,
    pub reset_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored: Option<u64>,
}

/// Asks the subject's limiter, giving up after `timeout_ms`. `Err` says why the limiter could
/// not decide (missing binding, an error answer, no answer in time); the caller applies the
/// policy's fail mode.
pub async fn decide(env: &Env, subject: &Subject, ask: &Ask, timeout_ms: u32) -> Result<Answer, String> {
    let bound = Duration::from_millis(timeout_ms.into());
    match crate::fetch::within(bound, call(env, subject, ask)).await {
        Some(answer) => answer,
        None => Err(format!("no answer within {timeout_ms} ms")),
    }
}

async fn call(env: &Env, subject: &Subject, ask: &Ask) -> Result<Answer, String> {
    let namespace = env.durable_object(BINDING).map_err(|e| format!("binding {BINDING}: {e}"))?;
    // One instance per subject: every Worker instance that sees this subject asks the same one.
    let stub = namespace.get_by_name(subject.key()).map_err(|e| format!("stub: {e}"))?;
    let body = serde_json::to_string(ask).map_err(|e| e.to_string())?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let request = Request::new_with_init(DECIDE_URL, &init).map_err(|e| e.to_string())?;
    let mut response = stub.fetch_with_request(request).await.map_err(|e| format!("fetch: {e}"))?;
    if response.status_code() != 200 {
        let text = response.text().await.unwrap_or_default();
        return Err(format!("answered {}: {text}", response.status_code()));
    }
    response.json::<Answer>().await.map_err(|e| format!("unreadable answer: {e}"))
}
