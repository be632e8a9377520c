//! Telemetry, the leaf every layer may use: the log line, the runtime's clock, and error reports
//! to Sentry (`sentry`). It imports nothing of the Worker above it.

pub mod sentry;

pub use sentry::{Reporter, SentryDsn};

/// Milliseconds since the epoch from the runtime's clock (`Date.now()`, without allocating a
/// `Date` as `worker::Date::now` does). Wasm only: native code gets its time passed in.
pub fn now_ms() -> u64 {
    worker::js_sys::Date::now() as u64
}

/// One JSON object per line, so Workers Logs can filter by field.
pub fn log_line(level: &str, request_id: &str, message: &str) {
    let line = serde_json::json!({ "level": level, "request_id": request_id, "message": message });
    match level {
        "error" => worker::console_error!("{line}"),
        "warn" => worker::console_warn!("{line}"),
        _ => worker::console_log!("{line}"),
    }
}
