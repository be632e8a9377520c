//! Batched counting for lenient policies (`Counting::Batched`: pages, the API at large, Stripe's
//! webhook): the isolate counts admissions itself and reports them to the subject's limiter in
//! batches, so a page view does not wait for a Durable Object write.
//!
//! Per subject and policy the isolate keeps the last count the limiter answered (`known`), the
//! admissions it reported and awaits an answer for (`in_flight`), and those not yet reported
//! (`pending`). A request is admitted here while `known + in_flight + pending + 1` stays at least
//! a batch below the limit; the pending admissions are reported after the response (the
//! caller's `wait_until`) once a batch (limit/16) has gathered, or when they have waited half a
//! window and are at least a quarter batch. (A subject's first batch is between half and a
//! whole batch, by a hash of its key: subjects with the same traffic then do not all report at
//! the same moment.) A trickle smaller than that after half a window is
//! let go unreported: such a subject is far below its limit, and a visitor who views a few pages
//! costs the limiter nothing. Near the limit every request is decided by the limiter again, exactly: it waits for
//! the reports in flight to be answered, then asks, carrying the pending admissions with it;
//! refusals are answered by the limiter as before. (The wait polls with the request's own timer:
//! a future woken from another request's context would run its I/O in that context.)
//!
//! What that gives up, knowingly, for classes that fail open anyway:
//! - Isolates learn of each other's admissions only through the limiter, so with K isolates
//!   serving one subject up to about K batches more than the limit can get through in a window
//!   (unreported pending admissions, and trickles let go, are each less than a batch).
//!   One isolate alone admits the limit, or less than a batch more (exact questions sent at
//!   once may reach the limiter before the one carrying the last pending admissions).
//! - Reported admissions are recorded at the time of the report (up to half a window late), so
//!   they leave the window that much later: stricter, never looser.
//! - `RateLimit-Remaining` on a locally admitted request is this isolate's estimate.
//! - Limits below `MIN_LIMIT` are always exact: a batch would be a large share of them.
//! - The isolate forgets tallies idle for a whole window, and all of them if more than
//!   `MAX_TALLIES` subjects are active at once (an undercount of at most a batch each).

use super::policy::{Policy, Rule};
use std::cell::RefCell;
use std::collections::HashMap;

/// Below this limit a policy is decided exactly even when it is `Batched`.
pub const MIN_LIMIT: u32 = 64;
/// A batch is this fraction of the limit (1/16: 75 page views of 1200).
const BATCH_DIVISOR: u32 = 16;
/// After half a window, pending admissions of at least this fraction of a batch are reported;
/// fewer are let go (1/4: 18 page views of a batch of 75).
const TRICKLE_DIVISOR: u32 = 4;
const MAX_TALLIES: usize = 10_000;

/// What the isolate decided for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Local {
    /// Admitted here. `report`: pending admissions to report now, in the background.
    Admitted { remaining: u32, reset_ms: u64, report: Option<Report> },
    /// Too close to the limit: ask the limiter (once `reports_in_flight` is false, with
    /// `take_report`).
    AskLimiter,
}

/// Admissions handed to the limiter; `seq` orders the answers (an older one never overwrites
/// a newer count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub admissions: u32,
    pub seq: u64,
}

#[derive(Debug, Default)]
struct Tally {
    window_ms: u64,
    known: u32,
    /// When `known` was answered (0: never), and when its `remaining` grows (absolute ms).
    synced_at: u64,
    known_reset_at: u64,
    in_flight: u32,
    pending: u32,
    pending_since: u64,
    last_seen: u64,
    sent_seq: u64,
    applied_seq: u64,
    /// Reports made so far (the first batch is shorter, see `first_batch`).
    reports: u32,
}

impl Tally {
    fn take_report(&mut self) -> Report {
        self.reports = self.reports.saturating_add(1);
        let admissions = std::mem::take(&mut self.pending);
        self.in_flight += admissions;
        self.sent_seq += 1;
        Report { admissions, seq: self.sent_seq }
    }

    fn report_settled(&mut self, admissions: u32) {
        self.in_flight = self.in_flight.saturating_sub(admissions);
    }
}

/// The tallies of one isolate (a thread-local instance below; a plain value in unit tests).
#[derive(Debug, Default)]
pub struct Tallies(HashMap<(String, Policy), Tally>);

impl Tallies {
    /// Counts one request of `policy` for `subject` at `now` (ms). `force_exact` asks the
    /// limiter whatever the count (the operators' check route).
    pub fn count(&mut self, subject: &str, policy: Policy, rule: Rule, now: u64, force_exact: bool) -> Local {
        let window = rule.window_ms();
        let batch = rule.limit / BATCH_DIVISOR;
        let key = (subject.to_string(), policy);
        if !self.0.contains_key(&key) {
            self.make_room(now);
        }
        let t = self.0.entry(key).or_insert_with(|| Tally { window_ms: window, ..Tally::default() });
        t.window_ms = window;
        // Whatever was counted before the subject's last request a whole window ago has left.
        if now >= t.last_seen + window {
            t.pending = 0;
            t.known = 0;
        }
        if t.synced_at > 0 && now >= t.synced_at + window {
            t.known = 0;
        }
        t.last_seen = now;
        let waited_half_window = t.pending > 0 && now >= t.pending_since + window / 2;
        let report_by_age = waited_half_window && t.pending >= batch / TRICKLE_DIVISOR;
        if waited_half_window && !report_by_age {
            t.pending = 0; // a trickle, let go (see the module doc)
        }
        let estimate = t.known + t.in_flight + t.pending;
        if force_exact || rule.limit < MIN_LIMIT || estimate + 1 + batch > rule.limit {
            return Local::AskLimiter;
        }
        if t.pending == 0 {
            t.pending_since = now;
        }
        t.pending += 1;
        let reset_at =
            if t.known > 0 && t.known_reset_at > now { t.known_reset_at } else { t.pending_since + window };
        let this_batch = if t.reports == 0 { first_batch(subject, batch) } else { batch };
        let due = t.pending >= this_batch || report_by_age;
        let report = due.then(|| t.take_report());
        Local::Admitted {
            remaining: rule.limit - (estimate + 1),
            reset_ms: reset_at.saturating_sub(now),
            report,
        }
    }

    /// Whether reports of this isolate are still on their way. An exact question waits until
    /// they are answered (or failed), so the limiter has counted every admission of this
    /// isolate but the pending ones, which the question carries.
    pub fn reports_in_flight(&self, subject: &str, policy: Policy) -> bool {
        self.0.get(&(subject.to_string(), policy)).is_some_and(|t| t.in_flight > 0)
    }

    /// The pending admissions, handed to a question (moved to in flight).
    pub fn take_report(&mut self, subject: &str, policy: Policy) -> Report {
        match self.0.get_mut(&(subject.to_string(), policy)) {
            Some(t) => t.take_report(),
            None => Report { admissions: 0, seq: 0 },
        }
    }

    /// The limiter answered a report: it now counts `count` admissions, `reset_ms` until one
    /// leaves.
    pub fn answered(
        &mut self,
        subject: &str,
        policy: Policy,
        report: Report,
        count: u32,
        reset_ms: u64,
        now: u64,
    ) {
        if let Some(t) = self.0.get_mut(&(subject.to_string(), policy)) {
            t.report_settled(report.admissions);
            if report.seq > t.applied_seq {
                t.applied_seq = report.seq;
                t.known = count;
                t.synced_at = now.max(1);
                t.known_reset_at = now + reset_ms;
            }
        }
    }

    /// A report got no answer: its admissions are dropped (the policy fails open).
    pub fn failed(&mut self, subject: &str, policy: Policy, report: Report) {
        if let Some(t) = self.0.get_mut(&(subject.to_string(), policy)) {
            t.report_settled(report.admissions);
        }
    }

    fn make_room(&mut self, now: u64) {
        if self.0.len() < MAX_TALLIES {
            return;
        }
        self.0.retain(|_, t| now < t.last_seen + t.window_ms || t.in_flight > 0);
        if self.0.len() >= MAX_TALLIES {
            self.0.clear();
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Between half a batch and a whole one, by a hash of the subject (FNV-1a): stable for a
/// subject, spread across subjects.
pub fn first_batch(subject: &str, batch: u32) -> u32 {
    let hash = subject.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    batch - (hash % (batch / 2 + 1)).min(batch.saturating_sub(1))
}

thread_local! {
    static TALLIES: RefCell<Tallies> = RefCell::new(Tallies::default());
}

/// `Tallies::count` on this isolate's tallies.
pub fn count(subject: &str, policy: Policy, rule: Rule, now: u64, force_exact: bool) -> Local {
    TALLIES.with(|t| t.borrow_mut().count(subject, policy, rule, now, force_exact))
}

pub fn reports_in_flight(subject: &str, policy: Policy) -> bool {
    TALLIES.with(|t| t.borrow().reports_in_flight(subject, policy))
}

pub fn take_report(subject: &str, policy: Policy) -> Report {
    TALLIES.with(|t| t.borrow_mut().take_report(subject, policy))
}

pub fn answered(subject: &str, policy: Policy, report: Report, count: u32, reset_ms: u64, now: u64) {
    TALLIES.with(|t| t.borrow_mut().answered(subject, policy, report, count, reset_ms, now));
}

pub fn failed(subject: &str, policy: Policy, report: Report) {
    TALLIES.with(|t| t.borrow_mut().failed(subject, policy, report));
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGES: Rule = Rule { limit: 1200, window_secs: 60 };
    const P: Policy = Policy::Pages;

    fn admitted(l: &Local) -> (u32, u64, Option<Report>) {
        match l {
            Local::Admitted { remaining, reset_ms, report } => (*remaining, *reset_ms, *report),
            other => panic!("asked the limiter: {other:?}"),
        }
    }

    #[test]
    fn requests_far_from_the_limit_are_admitted_here_and_reported_in_batches() {
        let mut t = Tallies::default();
        let first = admitted(&t.count("ip:a", P, PAGES, 1_000, false));
        assert_eq!(first, (1199, 60_000, None));
        let n = first_batch("ip:a", 75);
        for i in 2..n {
            let (remaining, _, report) = admitted(&t.count("ip:a", P, PAGES, 1_000 + u64::from(i), false));
            assert_eq!((remaining, report), (1200 - i, None));
        }
        // The first batch (half to all of 1200/16) is complete: report it.
        let (_, _, report) = admitted(&t.count("ip:a", P, PAGES, 1_100, false));
        assert_eq!(report, Some(Report { admissions: n, seq: 1 }));
        // In flight still counts: the estimate does not drop while the report travels.
        assert_eq!(admitted(&t.count("ip:a", P, PAGES, 1_200, false)).0, 1200 - n - 1);
        // Later batches are whole ones.
        for i in 0..73 {
            assert_eq!(admitted(&t.count("ip:a", P, PAGES, 1_300 + i, false)).2, None);
        }
        assert_eq!(
            admitted(&t.count("ip:a", P, PAGES, 1_400, false)).2,
            Some(Report { admissions: 75, seq: 2 })
        );
    }

    #[test]
    fn first_batches_spread_between_half_and_a_whole_batch() {
        let firsts: Vec<u32> = (0..256).map(|i| first_batch(&format!("ip:198.18.0.{i}"), 75)).collect();
        assert!(firsts.iter().all(|&n| (37..=75).contains(&n)), "{firsts:?}");
        let distinct: std::collections::BTreeSet<_> = firsts.iter().collect();
        assert!(distinct.len() > 20, "spread out: {distinct:?}");
        assert_eq!(first_batch("ip:x", 75), first_batch("ip:x", 75));
        assert_eq!(first_batch("ip:x", 1), 1);
        assert!((2..=4).contains(&first_batch("ip:x", 4)));
    }

    #[test]
    fn after_half_a_window_a_sizeable_remainder_is_reported_and_a_trickle_let_go() {
        let mut t = Tallies::default();
        for i in 0..20 {
            admitted(&t.count("ip:a", P, PAGES, i, false));
        }
        let (_, reset, report) = admitted(&t.count("ip:a", P, PAGES, 30_000, false));
        assert_eq!(report, Some(Report { admissions: 21, seq: 1 }), "20 of a batch of 75 waited 30 s");
        assert_eq!(reset, 30_000, "the oldest admission leaves at 60 000");

        for i in 0..5 {
            admitted(&t.count("ip:b", P, PAGES, i, false));
        }
        let (remaining, _, report) = admitted(&t.count("ip:b", P, PAGES, 30_000, false));
        assert_eq!((remaining, report), (1199, None), "5 views in half a minute are let go");
    }

    #[test]
    fn near_the_limit_every_request_asks_the_limiter_with_what_is_pending() {
        let mut t = Tallies::default();
        let rule = Rule { limit: 160, window_secs: 60 }; // batch 10
        let below_first_batch = first_batch("ip:a", 10) - 1;
        for i in 0..below_first_batch {
            assert_eq!(admitted(&t.count("ip:a", P, rule, u64::from(i), false)).2, None);
        }
        assert_eq!(t.count("ip:a", P, rule, 11, true), Local::AskLimiter, "the check route is exact");
        assert!(!t.reports_in_flight("ip:a", P), "nothing in flight");
        let r = t.take_report("ip:a", P);
        assert_eq!(r.admissions, below_first_batch, "an exact question carries what is pending");
        // The limiter knows 140 (with admissions from other isolates).
        t.answered("ip:a", P, r, 140, 30_000, 12);
        // 140 known: 140 + 1 + 10 > 160 is false → still local; 150 known → exact.
        assert_eq!(admitted(&t.count("ip:a", P, rule, 13, false)).0, 19);
        assert_eq!(admitted(&t.count("ip:a", P, rule, 14, false)).1, 30_000 - 2, "reset from the limiter");
        t.answered("ip:a", P, Report { admissions: 0, seq: 99 }, 150, 30_000, 15);
        assert_eq!(t.count("ip:a", P, rule, 16, false), Local::AskLimiter);
        assert_eq!(t.take_report("ip:a", P).admissions, 2);
        assert_eq!(t.count("ip:a", P, rule, 17, false), Local::AskLimiter);
        assert_eq!(t.take_report("ip:a", P).admissions, 0);
    }

    #[test]
    fn reports_stay_in_flight_until_answered_or_failed() {
        let mut t = Tallies::default();
        let rule = Rule { limit: 64, window_secs: 60 }; // batch 4
        let mut reports = Vec::new();
        for i in 0..8 {
            if let (_, _, Some(r)) = admitted(&t.count("ip:a", P, rule, i, false)) {
                reports.push(r);
            }
        }
        assert_eq!(reports.len(), 2);
        assert!(t.reports_in_flight("ip:a", P));
        t.answered("ip:a", P, reports[0], 4, 60_000, 10);
        assert!(t.reports_in_flight("ip:a", P), "one report still in flight");
        t.failed("ip:a", P, reports[1]);
        assert!(!t.reports_in_flight("ip:a", P));
    }

    #[test]
    fn an_older_answer_never_overwrites_a_newer_count() {
        let mut t = Tallies::default();
        admitted(&t.count("ip:a", P, PAGES, 0, false));
        let older = Report { admissions: 1, seq: 1 };
        let newer = Report { admissions: 0, seq: 2 };
        t.answered("ip:a", P, newer, 900, 1_000, 10);
        t.answered("ip:a", P, older, 5, 1_000, 11);
        assert_eq!(
            admitted(&t.count("ip:a", P, PAGES, 12, false)).0,
            1200 - 902,
            "900 known + 1 pending + this one"
        );
    }

    #[test]
    fn small_limits_and_the_check_route_are_always_exact() {
        let mut t = Tallies::default();
        let small = Rule { limit: MIN_LIMIT - 1, window_secs: 60 };
        assert_eq!(t.count("ip:a", P, small, 0, false), Local::AskLimiter);
        assert_eq!(t.count("ip:b", P, PAGES, 0, true), Local::AskLimiter);
    }

    #[test]
    fn a_failed_report_is_dropped_and_counts_are_forgotten_after_a_quiet_window() {
        let mut t = Tallies::default();
        let report = (0..75).find_map(|i| admitted(&t.count("ip:a", P, PAGES, i, false)).2);
        t.failed("ip:a", P, report.expect("a first batch is at most 75"));
        assert_eq!(admitted(&t.count("ip:a", P, PAGES, 100, false)).0, 1199);
        t.answered("ip:a", P, Report { admissions: 0, seq: 2 }, 1130, 1_000, 101);
        assert_eq!(t.count("ip:a", P, PAGES, 102, false), Local::AskLimiter, "1130 + 2 is near 1200");
        let exact = t.take_report("ip:a", P);
        t.failed("ip:a", P, exact);
        // A whole window after the subject's last request nothing it did is still counted.
        assert_eq!(admitted(&t.count("ip:a", P, PAGES, 60_102, false)).0, 1199);
    }

    #[test]
    fn subjects_and_policies_are_counted_apart_and_memory_stays_bounded() {
        let mut t = Tallies::default();
        admitted(&t.count("ip:a", P, PAGES, 0, false));
        assert_eq!(admitted(&t.count("ip:b", P, PAGES, 0, false)).0, 1199);
        assert_eq!(admitted(&t.count("ip:a", Policy::GeneralApi, PAGES, 0, false)).0, 1199);
        for i in 0..(MAX_TALLIES + 5) {
            t.count(&format!("ip:{i}"), P, PAGES, 1_000, false);
        }
        assert!(t.len() <= MAX_TALLIES);
        assert!(!t.is_empty());
    }
}
