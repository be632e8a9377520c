//! Enforcement inside the Worker: count batched policies in the isolate (`tally`) or ask the
//! subject's limiter (bounded in time), remember the decision for the response headers, refuse
//! with 429, and apply the policy's fail mode when the limiter cannot answer.

use super::client::{self, Ask};
use super::policy::{Counting, FailMode, Policy, Rule};
use super::subject::Subject;
use super::tally::{self, Local, Report};
use super::RateLimits;
use crate::error::AppError;
use crate::telemetry::{log_line, now_ms, Reporter};
use crate::timing::Timing;
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

/// What counting needs of the request it counts, handed down by `Ctx` (the limiter knows no
/// request): the limiter binding, the effective rules, where decisions and timings go, and how
/// to report after the response.
pub struct Limiter<'a> {
    pub env: &'a worker::Env,
    pub limits: &'a RateLimits,
    /// How long a request waits for the limiter before its policy's fail mode applies.
    pub timeout_ms: u32,
    /// Every decision taken for the request (their headers go on its response).
    pub decisions: &'a RefCell<Vec<Decision>>,
    pub timing: &'a Timing,
    /// Work that may finish after the response (reports of batched counts, Sentry).
    pub background: &'a worker::Context,
    pub request_id: &'a str,
    /// Built only when something goes wrong.
    pub reporter: &'a dyn Fn() -> Reporter,
}

impl Limiter<'_> {
    fn record(&self, decision: Decision) {
        self.decisions.borrow_mut().push(decision);
    }
}

/// One policy's answer for this request; its `RateLimit-*` headers go on the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub policy: Policy,
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Milliseconds until `remaining` grows; when refused, until a request can succeed.
    pub reset_ms: u64,
    pub window_secs: u32,
    /// Admissions stored by the subject's limiter (asked for by the operators' check only).
    pub stored: Option<u64>,
}

impl Decision {
    /// Whole seconds, rounded up: a client that waits this long is never refused for being early.
    pub fn reset_secs(&self) -> u64 {
        self.reset_ms.div_ceil(1000)
    }

    /// `RateLimit-*` header fields (draft-ietf-httpapi-ratelimit-headers). `RateLimit-Policy`
    /// (the limit and its window) goes only with a refusal, where a client needs to know the
    /// window it overran; an allowed answer's three fields say all a client needs.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let number = |n: u64| itoa::Buffer::new().format(n).to_string();
        let mut out = vec![
            ("RateLimit-Limit", number(self.limit.into())),
            ("RateLimit-Remaining", number(self.remaining.into())),
            ("RateLimit-Reset", number(self.reset_secs())),
        ];
        if !self.allowed {
            out.push(("RateLimit-Policy", format!("{};w={}", self.limit, self.window_secs)));
        }
        out
    }
}

/// The decision a response reports when several policies applied: a refusal, else the policy
/// with the fewest requests left (the one the client will hit first).
pub fn most_pressing(decisions: &[Decision]) -> Option<&Decision> {
    decisions.iter().min_by_key(|d| (d.allowed, d.remaining))
}

/// Counts one request of `policy` for `subject`. See the module doc of `rate_limit`.
pub async fn enforce(
    limiter: &Limiter<'_>,
    policy: Policy,
    subject: &Subject,
    report_stored: bool,
) -> Result<Option<Decision>, AppError> {
    let Some(rule) = limiter.limits.rule(policy) else {
        return Ok(None); // turned off by RATE_LIMITS
    };
    let now = now_ms();
    if let Some(refused) = recently_refused(subject, policy, now) {
        limiter.record(refused.clone());
        return Err(too_many(&refused));
    }
    let mut pending = None;
    if policy.counting() == Counting::Batched {
        match tally::count(subject.key(), policy, rule, now, report_stored) {
            Local::Admitted { remaining, reset_ms, report } => {
                let decision = Decision {
                    policy,
                    allowed: true,
                    limit: rule.limit,
                    remaining,
                    reset_ms,
                    window_secs: rule.window_secs,
                    stored: None,
                };
                limiter.record(decision.clone());
                if let Some(report) = report {
                    report_in_background(limiter, policy, rule, subject, report);
                }
                return Ok(Some(decision));
            }
            Local::AskLimiter => {
                // Let the limiter count this isolate's reports before it decides, or one
                // isolate could admit the limit once per report still travelling. Polled with
                // this request's own timer (see `tally`), bounded by the limiter timeout.
                let timeout = u64::from(limiter.timeout_ms);
                while tally::reports_in_flight(subject.key(), policy) && now_ms() < now + timeout {
                    worker::Delay::from(REPORT_POLL).await;
                }
                pending = Some(tally::take_report(subject.key(), policy));
            }
        }
    }
    let ask = Ask {
        policy: policy.name().to_string(),
        limit: rule.limit,
        window_secs: rule.window_secs,
        report_stored,
        report: pending.map_or(0, |r| r.admissions),
        decide: true,
    };
    let timeout = limiter.timeout_ms;
    let answer = client::decide(limiter.env, subject, &ask, timeout).await;
    let answered_at = now_ms();
    limiter.timing.limiter_called(answered_at.saturating_sub(now));
    match answer {
        Ok(answer) => {
            if let Some(report) = pending {
                tally::answered(subject.key(), policy, report, answer.count, answer.reset_ms, answered_at);
            }
            let decision = Decision {
                policy,
                allowed: answer.allowed,
                limit: answer.limit,
                remaining: answer.remaining,
                reset_ms: answer.reset_ms,
                window_secs: rule.window_secs,
                stored: answer.stored,
            };
            limiter.record(decision.clone());
            if decision.allowed {
                Ok(Some(decision))
            } else {
                remember_refusal(subject, &decision, answered_at);
                Err(too_many(&decision))
            }
        }
        Err(why) => {
            if let Some(report) = pending {
                tally::failed(subject.key(), policy, report);
            }
            limiter_failed(limiter, policy, subject, &why, now)
        }
    }
}

/// Reports admissions counted in the isolate after the response; the answer updates what the
/// isolate knows of the subject's count.
fn report_in_background(
    limiter: &Limiter<'_>,
    policy: Policy,
    rule: Rule,
    subject: &Subject,
    report: Report,
) {
    limiter.timing.limiter_reported_in_background();
    let env = limiter.env.clone();
    let subject = subject.clone();
    let timeout = limiter.timeout_ms;
    let reporter = (limiter.reporter)();
    limiter.background.wait_until(async move {
        let ask = Ask {
            policy: policy.name().to_string(),
            limit: rule.limit,
            window_secs: rule.window_secs,
            report_stored: false,
            report: report.admissions,
            decide: false,
        };
        let now = now_ms();
        match client::decide(&env, &subject, &ask, timeout).await {
            Ok(answer) => tally::answered(subject.key(), policy, report, answer.count, answer.reset_ms, now),
            Err(why) => {
                tally::failed(subject.key(), policy, report);
                let message = failure_message(policy, &why);
                reporter.log("error", &format!("{message} [subject {subject}]"));
                if first_report_this_minute(policy, now) {
                    if let Some(sending) = reporter.send("rate_limiter_unavailable", &message, now) {
                        sending.await;
                    }
                }
            }
        }
    });
}

fn too_many(d: &Decision) -> AppError {
    AppError::TooManyRequests { retry_after_secs: d.reset_secs().max(1) }
}

fn failure_message(policy: Policy, why: &str) -> String {
    let outcome = match policy.fail_mode() {
        FailMode::Open => "failing open: request allowed",
        FailMode::Closed => "failing closed: request refused",
    };
    format!("rate limiter unavailable for policy {} ({outcome}): {why}", policy.name())
}

fn limiter_failed(
    limiter: &Limiter<'_>,
    policy: Policy,
    subject: &Subject,
    why: &str,
    now: u64,
) -> Result<Option<Decision>, AppError> {
    let message = failure_message(policy, why);
    log_line("error", limiter.request_id, &format!("{message} [subject {subject}]"));
    if first_report_this_minute(policy, now) {
        if let Some(sending) = (limiter.reporter)().send("rate_limiter_unavailable", &message, now) {
            limiter.background.wait_until(sending);
        }
    }
    match policy.fail_mode() {
        FailMode::Open => Ok(None),
        FailMode::Closed => Err(AppError::RateLimiterUnavailable { policy: policy.name() }),
    }
}

// Per-isolate memory (one isolate serves many requests). Both maps are bounded.
thread_local! {
    /// Refusals until they expire: a subject over its limit cannot get back in before the
    /// oldest counted request leaves the window, so later requests are refused here without a
    /// round trip. This is exact, saves the object from a flood by one subject (which could
    /// otherwise overload it into timeouts and so into failing open), and answers faster.
    static REFUSED: RefCell<HashMap<(String, Policy), Decision>> = RefCell::new(HashMap::new());
    /// When each policy's limiter failure was last sent to Sentry: an outage is reported, but
    /// not once per request.
    static REPORTED: RefCell<HashMap<Policy, u64>> = RefCell::new(HashMap::new());
}

const MAX_REMEMBERED_REFUSALS: usize = 10_000;
/// How often an exact question near the limit looks whether the isolate's reports arrived.
const REPORT_POLL: Duration = Duration::from_millis(2);
const REPORT_EVERY_MS: u64 = 60_000;

/// A refusal stored as a decision whose `reset_ms` is an absolute deadline (isolate clock).
fn remember_refusal(subject: &Subject, d: &Decision, now: u64) {
    REFUSED.with(|cell| {
        let mut map = cell.borrow_mut();
        if map.len() >= MAX_REMEMBERED_REFUSALS {
            map.retain(|_, r| r.reset_ms > now);
            if map.len() >= MAX_REMEMBERED_REFUSALS {
                return;
            }
        }
        let until = Decision { reset_ms: now + d.reset_ms, ..d.clone() };
        map.insert((subject.key().to_string(), d.policy), until);
    });
}

fn recently_refused(subject: &Subject, policy: Policy, now: u64) -> Option<Decision> {
    REFUSED.with(|cell| {
        let mut map = cell.borrow_mut();
        if map.is_empty() {
            return None; // an isolate that refused nobody builds no key
        }
        let key = (subject.key().to_string(), policy);
        let until = map.get(&key)?.reset_ms;
        if until <= now {
            map.remove(&key);
            return None;
        }
        map.get(&key).map(|d| Decision { reset_ms: until - now, stored: None, ..d.clone() })
    })
}

fn first_report_this_minute(policy: Policy, now: u64) -> bool {
    REPORTED.with(|cell| {
        let mut map = cell.borrow_mut();
        match map.get(&policy) {
            Some(&last) if now.saturating_sub(last) < REPORT_EVERY_MS => false,
            _ => {
                map.insert(policy, now);
                true
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(policy: Policy, allowed: bool, remaining: u32) -> Decision {
        Decision { policy, allowed, limit: 10, remaining, reset_ms: 1500, window_secs: 60, stored: None }
    }

    #[test]
    fn headers_round_reset_up_to_whole_seconds() {
        let d = decision(Policy::Pages, true, 7);
        let h = d.headers();
        assert_eq!(h[0], ("RateLimit-Limit", "10".into()));
        assert_eq!(h[1], ("RateLimit-Remaining", "7".into()));
        assert_eq!(h[2], ("RateLimit-Reset", "2".into()));
        assert_eq!(h.len(), 3, "no policy field on an allowed answer");
        let refused = decision(Policy::Pages, false, 0).headers();
        assert_eq!(refused[3], ("RateLimit-Policy", "10;w=60".into()));
        assert_eq!(too_many(&d), AppError::TooManyRequests { retry_after_secs: 2 });
    }

    #[test]
    fn a_response_reports_the_refusal_or_else_the_tightest_policy() {
        let pages = decision(Policy::Pages, true, 900);
        let ai = decision(Policy::AiGeneration, true, 3);
        assert_eq!(most_pressing(&[pages.clone(), ai.clone()]), Some(&ai));
        let refused = decision(Policy::GeneralApi, false, 0);
        let spent = decision(Policy::AiGeneration, true, 0);
        assert_eq!(most_pressing(&[spent, refused.clone()]), Some(&refused));
        assert_eq!(most_pressing(&[]), None);
    }

    #[test]
    fn a_refusal_is_remembered_until_its_deadline_only() {
        let s = Subject::ip(Some("198.51.100.1"));
        let d = decision(Policy::AiGeneration, false, 0);
        remember_refusal(&s, &d, 10_000);
        let again = recently_refused(&s, Policy::AiGeneration, 10_400).unwrap();
        assert_eq!(again.reset_ms, 1100);
        assert!(recently_refused(&s, Policy::Pages, 10_400).is_none());
        assert!(recently_refused(&Subject::ip(Some("198.51.100.2")), Policy::AiGeneration, 10_400).is_none());
        assert!(recently_refused(&s, Policy::AiGeneration, 11_500).is_none());
    }

    #[test]
    fn limiter_failures_reach_sentry_at_most_once_a_minute_per_policy() {
        assert!(first_report_this_minute(Policy::CheckoutCreation, 1_000));
        assert!(!first_report_this_minute(Policy::CheckoutCreation, 30_000));
        assert!(first_report_this_minute(Policy::TranscriptionUpload, 30_000));
        assert!(first_report_this_minute(Policy::CheckoutCreation, 61_000));
    }
}
