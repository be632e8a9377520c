//! The sliding window, exactly: a request is admitted when fewer than `limit` requests were
//! admitted in the `window` before it (a sliding log of admission times). Refused requests are
//! not recorded, so a client that keeps retrying is not locked out for longer.
//!
//! Why a log and not GCRA or two weighted fixed windows: GCRA (a token bucket) spaces requests
//! after a burst — with 20/min it admits 20 at once, then one every 3 s — which is a different
//! rule, not the same one cheaper; weighted fixed windows are an estimate and can admit more
//! than `limit` in some window. The log is exact, and its cost is bounded: at most `limit`
//! timestamps per policy per subject, pruned on every access (and by the object's alarm).
//!
//! Admissions of lenient policies may be decided in an isolate and reported later in a batch
//! (`tally`); the log records them as admitted at the time of the report, whatever the count.
//!
//! The algorithm is written once over `HitLog`, so the Durable Object (SQLite) and the native
//! unit tests (a Vec) run the same code.

use super::policy::Rule;

/// Admission times of one subject, per policy.
pub trait HitLog {
    type Error;
    /// Forgets the hits of `policy` at or before `cutoff_ms` (they have left the window).
    fn forget_until(&mut self, policy: &str, cutoff_ms: u64) -> Result<(), Self::Error>;
    fn count(&mut self, policy: &str) -> Result<u32, Self::Error>;
    /// The time of the `k`-th oldest hit of `policy` (0: the oldest).
    fn kth_oldest(&mut self, policy: &str, k: u32) -> Result<Option<u64>, Self::Error>;
    /// Records an admission at `at_ms`, which may be forgotten from `expires_ms` on.
    fn record(&mut self, policy: &str, at_ms: u64, expires_ms: u64) -> Result<(), Self::Error>;
    /// Records `n` admissions at once (a batch reported by an isolate).
    fn record_many(&mut self, policy: &str, at_ms: u64, expires_ms: u64, n: u32) -> Result<(), Self::Error> {
        for _ in 0..n {
            self.record(policy, at_ms, expires_ms)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the request was admitted (a report alone refuses nothing: always true).
    pub allowed: bool,
    pub limit: u32,
    /// Admissions in the window after this call.
    pub count: u32,
    /// Requests still allowed in the current window after this one.
    pub remaining: u32,
    /// Milliseconds until `remaining` next grows. When refused: until a request can succeed.
    pub reset_ms: u64,
}

/// Decides one request of `policy` at `now_ms`, recording it when admitted.
pub fn admit<L: HitLog>(log: &mut L, policy: &str, rule: Rule, now_ms: u64) -> Result<Verdict, L::Error> {
    report_and_admit(log, policy, rule, now_ms, 0, true)
}

/// Records `reported` admissions decided in an isolate, then, when `decide`, decides one more
/// request as `admit` does. The verdict describes the window after both.
pub fn report_and_admit<L: HitLog>(
    log: &mut L,
    policy: &str,
    rule: Rule,
    now_ms: u64,
    reported: u32,
    decide: bool,
) -> Result<Verdict, L::Error> {
    let window = rule.window_ms();
    // A hit at `t` is in the window while `t > now - window`.
    if let Some(cutoff) = now_ms.checked_sub(window) {
        log.forget_until(policy, cutoff)?;
    }
    if reported > 0 {
        log.record_many(policy, now_ms, now_ms + window, reported)?;
    }
    let before = log.count(policy)?;
    let allowed = !decide || before < rule.limit;
    if decide && allowed {
        log.record(policy, now_ms, now_ms + window)?;
    }
    let counted = before + u32::from(decide && allowed);
    // `remaining` grows (or a refused request could pass) once `counted - limit + 1` hits have
    // left the window: when the k-th oldest expires (k = 0 while within the limit; larger only
    // after the limit was lowered by configuration).
    let k = counted.saturating_sub(rule.limit);
    let reset_ms = match log.kth_oldest(policy, k)? {
        Some(at) => (at + window).saturating_sub(now_ms),
        // Nothing to wait for (a limit of 0): the window is the honest hint.
        None => window,
    };
    Ok(Verdict {
        allowed,
        limit: rule.limit,
        count: counted,
        remaining: rule.limit.saturating_sub(counted),
        reset_ms,
    })
}

/// An in-memory `HitLog`, for unit tests of the algorithm.
#[cfg(test)]
#[derive(Default)]
pub struct MemoryLog(pub std::collections::BTreeMap<String, Vec<u64>>);

#[cfg(test)]
impl HitLog for MemoryLog {
    type Error = std::convert::Infallible;
    fn forget_until(&mut self, policy: &str, cutoff_ms: u64) -> Result<(), Self::Error> {
        if let Some(hits) = self.0.get_mut(policy) {
            hits.retain(|&at| at > cutoff_ms);
        }
        Ok(())
    }
    fn count(&mut self, policy: &str) -> Result<u32, Self::Error> {
        Ok(self.0.get(policy).map_or(0, |h| h.len() as u32))
    }
    fn kth_oldest(&mut self, policy: &str, k: u32) -> Result<Option<u64>, Self::Error> {
        Ok(self.0.get(policy).and_then(|h| h.get(k as usize).copied()))
    }
    fn record(&mut self, policy: &str, at_ms: u64, _expires: u64) -> Result<(), Self::Error> {
        self.0.entry(policy.to_string()).or_default().push(at_ms);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE_PER_10S: Rule = Rule { limit: 5, window_secs: 10 };

    fn ask(log: &mut MemoryLog, rule: Rule, now: u64) -> Verdict {
        match admit(log, "p", rule, now) {
            Ok(v) => v,
        }
    }

    #[test]
    fn exactly_the_limit_is_admitted_within_a_window() {
        let mut log = MemoryLog::default();
        let verdicts: Vec<Verdict> = (0..8).map(|i| ask(&mut log, FIVE_PER_10S, 1000 + i)).collect();
        let admitted = verdicts.iter().filter(|v| v.allowed).count();
        assert_eq!(admitted, 5);
        assert_eq!(verdicts.iter().map(|v| v.remaining).collect::<Vec<_>>(), [4, 3, 2, 1, 0, 0, 0, 0]);
        // The first refusal waits for the oldest admission (t=1000) to leave: 1000+10000-1005.
        assert_eq!(verdicts[5].reset_ms, 9_995);
        assert_eq!(log.0["p"].len(), 5, "refusals are not recorded");
    }

    #[test]
    fn the_window_slides_one_admission_at_a_time() {
        let mut log = MemoryLog::default();
        for t in [0, 2000, 4000, 6000, 8000] {
            assert!(ask(&mut log, FIVE_PER_10S, 10_000 + t).allowed);
        }
        // 1 ms before the oldest hit leaves: still full.
        let v = ask(&mut log, FIVE_PER_10S, 19_999);
        assert!(!v.allowed);
        assert_eq!(v.reset_ms, 1);
        // The moment it leaves, exactly one more is admitted.
        assert!(ask(&mut log, FIVE_PER_10S, 20_000).allowed);
        let v = ask(&mut log, FIVE_PER_10S, 20_000);
        assert!(!v.allowed);
        assert_eq!(v.reset_ms, 2000, "next slot frees when the t=12000 hit leaves");
    }

    #[test]
    fn reset_counts_until_remaining_grows_and_a_fresh_window_is_full_length() {
        let mut log = MemoryLog::default();
        let first = ask(&mut log, FIVE_PER_10S, 50_000);
        assert_eq!((first.remaining, first.reset_ms), (4, 10_000));
        let second = ask(&mut log, FIVE_PER_10S, 53_000);
        assert_eq!((second.remaining, second.reset_ms), (3, 7_000));
    }

    #[test]
    fn retrying_while_refused_does_not_extend_the_wait() {
        let mut log = MemoryLog::default();
        for t in 0..5 {
            ask(&mut log, FIVE_PER_10S, t);
        }
        for t in (5..10_000).step_by(250) {
            assert!(!ask(&mut log, FIVE_PER_10S, t).allowed);
        }
        assert!(ask(&mut log, FIVE_PER_10S, 10_000).allowed);
    }

    #[test]
    fn a_lowered_limit_waits_for_enough_hits_to_leave() {
        let mut log = MemoryLog::default();
        for t in [0, 1000, 2000, 3000, 4000] {
            ask(&mut log, FIVE_PER_10S, t);
        }
        let two = Rule { limit: 2, window_secs: 10 };
        let v = ask(&mut log, two, 5000);
        assert!(!v.allowed);
        // 5 counted, limit 2: hits at 0, 1000, 2000 and 3000 must leave; 3000+10000-5000.
        assert_eq!(v.reset_ms, 8000);
        assert!(!ask(&mut log, two, 12_999).allowed);
        assert!(ask(&mut log, two, 13_000).allowed);
    }

    #[test]
    fn a_zero_limit_refuses_everything_and_hints_a_whole_window() {
        let mut log = MemoryLog::default();
        let zero = Rule { limit: 0, window_secs: 60 };
        let v = ask(&mut log, zero, 1);
        assert_eq!((v.allowed, v.remaining, v.reset_ms), (false, 0, 60_000));
    }

    #[test]
    fn reported_admissions_count_against_the_next_decision() {
        let mut log = MemoryLog::default();
        let ten = Rule { limit: 10, window_secs: 10 };
        let v = report_and_admit(&mut log, "p", ten, 1000, 7, false).unwrap();
        assert_eq!((v.allowed, v.count, v.remaining, v.reset_ms), (true, 7, 3, 10_000));
        let v = report_and_admit(&mut log, "p", ten, 2000, 2, true).unwrap();
        assert_eq!((v.allowed, v.count, v.remaining), (true, 10, 0));
        assert!(!ask(&mut log, ten, 3000).allowed, "7 + 2 reported + 1 decided fill the window");
    }

    #[test]
    fn reports_are_recorded_even_over_the_limit_and_refuse_until_enough_leave() {
        let mut log = MemoryLog::default();
        let five = FIVE_PER_10S;
        let v = report_and_admit(&mut log, "p", five, 0, 4, false).unwrap();
        assert_eq!(v.count, 4);
        // Another isolate reports 3 more: 7 in a window of 5 (admitted elsewhere, not undone).
        let v = report_and_admit(&mut log, "p", five, 1000, 3, true).unwrap();
        assert_eq!((v.allowed, v.count, v.remaining), (false, 7, 0));
        // Three must leave before one more fits: the t=0 hits leave together at 10 000.
        assert_eq!(v.reset_ms, 9_000);
        assert!(!ask(&mut log, five, 9_999).allowed);
        assert!(ask(&mut log, five, 10_000).allowed);
    }

    #[test]
    fn policies_keep_separate_windows() {
        let mut log = MemoryLog::default();
        let one = Rule { limit: 1, window_secs: 60 };
        assert!(admit(&mut log, "a", one, 0).unwrap().allowed);
        assert!(!admit(&mut log, "a", one, 1).unwrap().allowed);
        assert!(admit(&mut log, "b", one, 2).unwrap().allowed);
    }
}
