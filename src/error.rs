//! One error type for the whole Worker, and its one mapping to a status and a public message.
//!
//! 4xx errors tell the user what was wrong; 5xx errors are opaque to the user (they carry only
//! the request id) while the full cause goes to the log and to Sentry.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppError {
    /// Input that could not be parsed; `field` names the form or JSON field when there is one.
    BadRequest {
        field: Option<&'static str>,
        message: String,
    },
    /// The page or API needs a signed-in user.
    Unauthenticated,
    Forbidden(String),
    NotFound,
    /// `allow`: the methods the path does answer (the `Allow` header).
    MethodNotAllowed {
        allow: String,
    },
    /// A body without a declared length (we never read a body we may have to abandon half-way).
    LengthRequired,
    PayloadTooLarge {
        limit_bytes: u64,
    },
    UnsupportedMediaType(String),
    TooManyRequests {
        retry_after_secs: u64,
    },
    /// The user's credit balance does not cover what they asked for.
    InsufficientCredits {
        needed: i64,
        balance: i64,
    },
    /// A required variable is missing or invalid: the affected routes answer 503.
    Misconfigured {
        var: &'static str,
        problem: String,
    },
    /// The database could not be reached.
    DatabaseUnavailable(String),
    /// The rate limiter could not decide for a fail-closed policy (reported by `rate_limit`,
    /// at most once a minute, so not again per request here).
    RateLimiterUnavailable {
        policy: &'static str,
    },
    /// An outside service (Stripe, OpenAI, …) failed; `detail` is for logs only.
    Upstream {
        service: &'static str,
        detail: String,
    },
    /// A bug or an unexpected failure; `detail` is for logs only.
    Internal(String),
}

impl AppError {
    pub fn bad_request(field: &'static str, message: impl Into<String>) -> Self {
        AppError::BadRequest { field: Some(field), message: message.into() }
    }

    pub fn internal(detail: impl fmt::Display) -> Self {
        AppError::Internal(detail.to_string())
    }

    pub fn status(&self) -> u16 {
        match self {
            AppError::BadRequest { .. } => 400,
            AppError::Unauthenticated => 401,
            AppError::Forbidden(_) => 403,
            AppError::NotFound => 404,
            AppError::MethodNotAllowed { .. } => 405,
            AppError::LengthRequired => 411,
            AppError::PayloadTooLarge { .. } => 413,
            AppError::UnsupportedMediaType(_) => 415,
            AppError::TooManyRequests { .. } => 429,
            AppError::InsufficientCredits { .. } => 402,
            AppError::Internal(_) => 500,
            AppError::Upstream { .. } => 502,
            AppError::Misconfigured { .. }
            | AppError::DatabaseUnavailable(_)
            | AppError::RateLimiterUnavailable { .. } => 503,
        }
    }

    /// A short machine-readable code for JSON bodies.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest { .. } => "bad_request",
            AppError::Unauthenticated => "unauthenticated",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound => "not_found",
            AppError::MethodNotAllowed { .. } => "method_not_allowed",
            AppError::LengthRequired => "length_required",
            AppError::PayloadTooLarge { .. } => "payload_too_large",
            AppError::UnsupportedMediaType(_) => "unsupported_media_type",
            AppError::TooManyRequests { .. } => "rate_limited",
            AppError::InsufficientCredits { .. } => "insufficient_credits",
            AppError::Misconfigured { .. } => "service_unavailable",
            AppError::DatabaseUnavailable(_) => "service_unavailable",
            AppError::RateLimiterUnavailable { .. } => "service_unavailable",
            AppError::Upstream { .. } => "upstream_error",
            AppError::Internal(_) => "internal_error",
        }
    }

    /// What the user may read. Never contains internals of a 5xx.
    pub fn public_message(&self) -> String {
        match self {
            AppError::BadRequest { message, .. } => message.clone(),
            AppError::Unauthenticated => "Please sign in to continue.".into(),
            AppError::Forbidden(why) => why.clone(),
            AppError::NotFound => "We couldn't find that page.".into(),
            AppError::MethodNotAllowed { .. } => "That method is not allowed here.".into(),
            AppError::LengthRequired => "Please send the request with its length (Content-Length).".into(),
            AppError::PayloadTooLarge { limit_bytes } => {
                format!("That is too large: the limit is {}.", human_bytes(*limit_bytes))
            }
            AppError::UnsupportedMediaType(why) => why.clone(),
            AppError::TooManyRequests { retry_after_secs } => {
                format!("Too many requests. Please try again in {retry_after_secs} seconds.")
            }
            AppError::InsufficientCredits { needed, balance } => format!(
                "This needs {needed} credit{} and you have {balance}. Buy credits or upgrade your plan to continue.",
                if *needed == 1 { "" } else { "s" }
            ),
            AppError::Misconfigured { .. }
            | AppError::DatabaseUnavailable(_)
            | AppError::RateLimiterUnavailable { .. } => {
                "This part of GhostTools is temporarily unavailable. Please try again shortly."
                    .into()
            }
            AppError::Upstream { .. } => {
                "A service we depend on did not answer properly. Please try again.".into()
            }
            AppError::Internal(_) => "Something went wrong on our side.".into(),
        }
    }

    pub fn field(&self) -> Option<&'static str> {
        match self {
            AppError::BadRequest { field, .. } => *field,
            _ => None,
        }
    }

    /// Server-side failures worth an alert. A misconfiguration is logged, not sent per request.
    pub fn is_reportable(&self) -> bool {
        matches!(self, AppError::Internal(_) | AppError::Upstream { .. } | AppError::DatabaseUnavailable(_))
    }
}

impl fmt::Display for AppError {
    /// The full cause, for logs and Sentry only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Misconfigured { var, problem } => write!(f, "misconfigured: {var} {problem}"),
            AppError::DatabaseUnavailable(d) => write!(f, "database unavailable: {d}"),
            AppError::RateLimiterUnavailable { policy } => {
                write!(f, "rate limiter unavailable for fail-closed policy {policy}")
            }
            AppError::Upstream { service, detail } => write!(f, "{service} failed: {detail}"),
            AppError::Internal(d) => write!(f, "internal: {d}"),
            other => write!(f, "{}: {}", other.code(), other.public_message()),
        }
    }
}

impl std::error::Error for AppError {}

fn human_bytes(n: u64) -> String {
    const MB: u64 = 1024 * 1024;
    if n >= MB && n.is_multiple_of(MB) {
        format!("{} MB", n / MB)
    } else if n >= 1024 {
        format!("{} KB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

/// What a JS error says (a thrown string, or an Error's message), for logs and messages.
pub fn js_message(e: &wasm_bindgen::JsValue) -> String {
    use wasm_bindgen::JsCast;
    e.as_string()
        .or_else(|| e.dyn_ref::<worker::js_sys::Error>().map(|e| String::from(e.message())))
        .unwrap_or_else(|| "no details".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_never_show_their_cause_to_the_user() {
        let e = AppError::Internal("relation \"users\" does not exist".into());
        assert_eq!(e.status(), 500);
        assert!(!e.public_message().contains("users"));
        assert!(e.to_string().contains("users"));
    }

    #[test]
    fn a_missing_variable_is_a_503_naming_it_in_the_log_only() {
        let e = AppError::Misconfigured { var: "NEXTAUTH_SECRET", problem: "is not set".into() };
        assert_eq!(e.status(), 503);
        assert!(e.to_string().contains("NEXTAUTH_SECRET"));
        assert!(!e.public_message().contains("NEXTAUTH_SECRET"));
    }

    #[test]
    fn size_limits_read_naturally() {
        let e = AppError::PayloadTooLarge { limit_bytes: 25 * 1024 * 1024 };
        assert!(e.public_message().contains("25 MB"));
    }
}
