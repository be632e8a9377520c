//! The one rate-limit policy table: route class → limit, window, how requests are counted, and
//! what to do when the limiter itself is down. Limits can be overridden per deployment with
//! `RATE_LIMITS` (see overrides.rs).

/// What a request is counted against. Each policy keeps its own sliding window per subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Policy {
    SignInEmailPerAddress,
    SignInEmailPerIp,
    WelcomeCreditsPerIp,
    ToolFloodPerIp,
    AiGeneration,
    TranscriptionUpload,
    CheckoutCreation,
    CheckoutConfirmation,
    DataExport,
    EmailChange,
    StripeWebhook,
    GeneralApi,
    Pages,
}

/// When the limiter cannot answer (error or timeout): let the request through, or refuse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// Cheap or must-not-break traffic (pages, the API at large, Stripe's webhooks).
    Open,
    /// Traffic that costs money or can be abused (AI calls, uploads, checkout, outgoing email).
    Closed,
}

/// How a policy's requests reach the limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// Every request waits for the subject's limiter: exact, one Durable Object call each.
    /// For what costs money or can be abused.
    Exact,
    /// Counted in the isolate and reported in batches; exact again near the limit (see
    /// `tally`). For lenient classes that fail open anyway: a page view must not wait for a
    /// Durable Object write.
    Batched,
}

/// At most `limit` requests in any window of `window_secs` seconds (a sliding window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub limit: u32,
    pub window_secs: u32,
}

const MIN: u32 = 60;
const HOUR: u32 = 3600;
const DAY: u32 = 24 * HOUR;

#[rustfmt::skip]
const TABLE: [(Policy, &str, u32, u32, FailMode, Counting); 13] = [
    // policy                          config name                 limit  window     limiter down      counted
    // Above the 5 pending links the database allows per address (a friendlier refusal first).
    (Policy::SignInEmailPerAddress, "signin_email_per_address",    10,    HOUR,     FailMode::Closed, Counting::Exact),
    (Policy::SignInEmailPerIp,      "signin_email_per_ip",         20,    HOUR,     FailMode::Closed, Counting::Exact),
    // New accounts given welcome credits per client and day: an office or a household behind
    // one address still gets theirs; a script making accounts gets ten.
    (Policy::WelcomeCreditsPerIp,   "welcome_credits_per_ip",      10,    DAY,      FailMode::Closed, Counting::Exact),
    // Every tool POST per client IP, before anything is read: a coarse flood guard. The
    // per-account limits below count only work that was accepted (signed in, form valid).
    (Policy::ToolFloodPerIp,        "tool_flood_per_ip",          120,    MIN,      FailMode::Closed, Counting::Exact),
    (Policy::AiGeneration,          "ai_generation",               20,    MIN,      FailMode::Closed, Counting::Exact),
    (Policy::TranscriptionUpload,   "transcription_upload",        10,    HOUR,     FailMode::Closed, Counting::Exact),
    (Policy::CheckoutCreation,      "checkout_creation",           10,    10 * MIN, FailMode::Closed, Counting::Exact),
    // Success-page reloads that ask Stripe about a checkout not yet fulfilled, per user and
    // session: every call spends the Stripe account's own rate limit, shared with everyone.
    (Policy::CheckoutConfirmation,  "checkout_confirmation",       10,    10 * MIN, FailMode::Closed, Counting::Exact),
    // A whole account's data in one statement, per user: enough to retry, not to hammer.
    (Policy::DataExport,            "data_export",                  5,    HOUR,     FailMode::Closed, Counting::Exact),
    // Address-change requests per user: each mails two inboxes (the new address also counts
    // against signin_email_per_address). Enough for a typo or two, not to spray.
    (Policy::EmailChange,           "email_change",                 5,    HOUR,     FailMode::Closed, Counting::Exact),
    // Generous: Stripe retries for days and must never be turned away by us.
    (Policy::StripeWebhook,         "stripe_webhook",            6000,    MIN,      FailMode::Open,   Counting::Batched),
    (Policy::GeneralApi,            "general_api",               1200,    MIN,      FailMode::Open,   Counting::Batched),
    (Policy::Pages,                 "pages",                     1200,    MIN,      FailMode::Open,   Counting::Batched),
];

impl Policy {
    pub const ALL: [Policy; 13] = [
        Policy::SignInEmailPerAddress,
        Policy::SignInEmailPerIp,
        Policy::WelcomeCreditsPerIp,
        Policy::ToolFloodPerIp,
        Policy::AiGeneration,
        Policy::TranscriptionUpload,
        Policy::CheckoutCreation,
        Policy::CheckoutConfirmation,
        Policy::DataExport,
        Policy::EmailChange,
        Policy::StripeWebhook,
        Policy::GeneralApi,
        Policy::Pages,
    ];

    fn row(self) -> &'static (Policy, &'static str, u32, u32, FailMode, Counting) {
        // TABLE lists every policy in declaration order (checked by a test).
        &TABLE[self as usize]
    }

    /// The policy's name in `RATE_LIMITS`, logs and the limiter's storage.
    pub fn name(self) -> &'static str {
        self.row().1
    }

    pub fn default_rule(self) -> Rule {
        let &(_, _, limit, window_secs, _, _) = self.row();
        Rule { limit, window_secs }
    }

    pub fn fail_mode(self) -> FailMode {
        self.row().4
    }

    pub fn counting(self) -> Counting {
        self.row().5
    }

    pub fn from_name(name: &str) -> Option<Policy> {
        Policy::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl Rule {
    pub fn window_ms(self) -> u64 {
        u64::from(self.window_secs) * 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_every_policy_once_in_order() {
        for (i, p) in Policy::ALL.into_iter().enumerate() {
            assert_eq!(TABLE[i].0, p);
            assert_eq!(Policy::from_name(p.name()), Some(p));
        }
    }

    #[test]
    fn costly_actions_fail_closed_and_cheap_traffic_fails_open() {
        use FailMode::*;
        for (p, mode) in [
            (Policy::ToolFloodPerIp, Closed),
            (Policy::AiGeneration, Closed),
            (Policy::TranscriptionUpload, Closed),
            (Policy::CheckoutCreation, Closed),
            (Policy::CheckoutConfirmation, Closed),
            (Policy::DataExport, Closed),
            (Policy::EmailChange, Closed),
            (Policy::SignInEmailPerAddress, Closed),
            (Policy::SignInEmailPerIp, Closed),
            (Policy::WelcomeCreditsPerIp, Closed),
            (Policy::Pages, Open),
            (Policy::GeneralApi, Open),
            (Policy::StripeWebhook, Open),
        ] {
            assert_eq!(p.fail_mode(), mode, "{}", p.name());
        }
    }

    #[test]
    fn only_lenient_policies_that_fail_open_are_counted_in_batches() {
        for p in Policy::ALL {
            if p.counting() == Counting::Batched {
                assert_eq!(p.fail_mode(), FailMode::Open, "{} is batched but fails closed", p.name());
            }
        }
        assert_eq!(Policy::Pages.counting(), Counting::Batched);
        assert_eq!(Policy::AiGeneration.counting(), Counting::Exact);
    }
}
