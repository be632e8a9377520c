//! Rate limits: the policy table (`rate_limit::policy`, pure data) with `RATE_LIMITS` applied,
//! and how long a request waits for the limiter.

use super::{invalid, ConfigProblem, Read};

const DEFAULT_RATE_LIMIT_TIMEOUT_MS: u32 = 1000;

/// Rate limits: the policy table with `RATE_LIMITS` applied, and how long a request waits for
/// the limiter before its policy's fail mode applies (`RATE_LIMIT_TIMEOUT_MS`).
#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    pub limits: crate::rate_limit::RateLimits,
    pub timeout_ms: u32,
    /// Invalid entries (each keeps its default); listed by `/api/health`.
    pub problems: Vec<ConfigProblem>,
}

pub fn rate_limits(read: Read) -> RateLimitSettings {
    let (table, timeout) = (read(&["RATE_LIMITS"]), read(&["RATE_LIMIT_TIMEOUT_MS"]));
    let (limits, messages) =
        crate::rate_limit::RateLimits::parse(table.as_ref().map(|(_, v)| v.as_str()).unwrap_or(""));
    let mut problems: Vec<ConfigProblem> = messages.into_iter().map(|m| invalid("RATE_LIMITS", &m)).collect();
    let timeout_ms = match timeout {
        None => DEFAULT_RATE_LIMIT_TIMEOUT_MS,
        Some((var, v)) => match v.parse::<u32>() {
            Ok(ms) if (10..=10_000).contains(&ms) => ms,
            _ => {
                problems.push(invalid(var, "must be a number of milliseconds from 10 to 10000"));
                DEFAULT_RATE_LIMIT_TIMEOUT_MS
            }
        },
    };
    RateLimitSettings { limits, timeout_ms, problems }
}
