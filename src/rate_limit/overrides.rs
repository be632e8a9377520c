//! The effective limits of a deployment: the policy table with the `RATE_LIMITS` overrides applied,
//! e.g. `RATE_LIMITS="ai_generation=20/60s, pages=600/1m, general_api=off"`.
//!
//! Each entry is `<policy>=<limit>/<window>` (window: a whole number of `s`, `m`, `h` or `d`,
//! 1 s to 1 d; limit 0 to 10 000, 0 refusing every request) or `<policy>=off` (no limit). An
//! invalid entry keeps its policy's default and is reported; it never stops the Worker.

use super::policy::{Policy, Rule};

/// Bounds that keep one subject's stored window small (≤ limit timestamps per policy).
pub const MAX_LIMIT: u32 = 10_000;
pub const MAX_WINDOW_SECS: u32 = 86_400;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    /// Indexed by `Policy as usize`; `None`: the policy is off.
    rules: [Option<Rule>; Policy::ALL.len()],
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits { rules: Policy::ALL.map(|p| Some(p.default_rule())) }
    }
}

impl RateLimits {
    pub fn rule(&self, policy: Policy) -> Option<Rule> {
        self.rules[policy as usize]
    }

    /// The defaults with every valid entry of `raw` applied, and one message per invalid entry.
    pub fn parse(raw: &str) -> (RateLimits, Vec<String>) {
        let mut limits = RateLimits::default();
        let mut problems = Vec::new();
        let mut seen = Vec::new();
        for entry in raw.split([',', ';']).map(str::trim).filter(|e| !e.is_empty()) {
            match parse_entry(entry) {
                Ok((policy, rule)) => {
                    if seen.contains(&policy) {
                        problems.push(format!("`{}` is set twice", policy.name()));
                    }
                    seen.push(policy);
                    limits.rules[policy as usize] = rule;
                }
                Err(why) => problems.push(format!("`{entry}`: {why}")),
            }
        }
        (limits, problems)
    }
}

fn parse_entry(entry: &str) -> Result<(Policy, Option<Rule>), String> {
    let (name, value) =
        entry.split_once('=').ok_or("expected <policy>=<limit>/<window>, e.g. pages=600/60s")?;
    let name = name.trim();
    let policy = Policy::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = Policy::ALL.iter().map(|p| p.name()).collect();
        format!("unknown policy `{name}` (known: {})", known.join(", "))
    })?;
    let value = value.trim();
    if value.eq_ignore_ascii_case("off") {
        return Ok((policy, None));
    }
    let (limit, window) = value.split_once('/').ok_or("expected <limit>/<window>, e.g. 600/60s, or off")?;
    let limit: u32 = limit.trim().parse().map_err(|_| "the limit must be a whole number")?;
    if limit > MAX_LIMIT {
        return Err(format!("the limit must be at most {MAX_LIMIT}"));
    }
    let window_secs = parse_window(window.trim())?;
    Ok((policy, Some(Rule { limit, window_secs })))
}

fn parse_window(w: &str) -> Result<u32, String> {
    let split = w.find(|c: char| !c.is_ascii_digit()).unwrap_or(w.len());
    let (digits, unit) = w.split_at(split);
    let n: u32 = digits.parse().map_err(|_| "the window must look like 60s, 10m, 1h or 1d")?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err("the window needs a unit: s, m, h or d (e.g. 60s)".into()),
    };
    match n.checked_mul(unit_secs) {
        Some(secs) if (1..=MAX_WINDOW_SECS).contains(&secs) => Ok(secs),
        _ => Err("the window must be between 1s and 1d".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(limit: u32, window_secs: u32) -> Option<Rule> {
        Some(Rule { limit, window_secs })
    }

    #[test]
    fn no_overrides_means_the_table_defaults() {
        let (limits, problems) = RateLimits::parse("");
        assert!(problems.is_empty());
        assert_eq!(limits, RateLimits::default());
        assert_eq!(limits.rule(Policy::Pages), Some(Policy::Pages.default_rule()));
    }

    #[test]
    fn overrides_replace_only_the_named_policies() {
        let (limits, problems) =
            RateLimits::parse(" ai_generation=5/60s, pages = 600/1m ;general_api=off,checkout_creation=3/2h");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(limits.rule(Policy::AiGeneration), rule(5, 60));
        assert_eq!(limits.rule(Policy::Pages), rule(600, 60));
        assert_eq!(limits.rule(Policy::GeneralApi), None);
        assert_eq!(limits.rule(Policy::CheckoutCreation), rule(3, 7200));
        assert_eq!(limits.rule(Policy::StripeWebhook), Some(Policy::StripeWebhook.default_rule()));
    }

    #[test]
    fn a_zero_limit_is_allowed_and_blocks_the_class() {
        let (limits, problems) = RateLimits::parse("transcription_upload=0/1d");
        assert!(problems.is_empty());
        assert_eq!(limits.rule(Policy::TranscriptionUpload), rule(0, 86_400));
    }

    #[test]
    fn each_bad_entry_is_named_and_keeps_its_default_while_good_ones_apply() {
        let raw = "pages=lots/60s,ai_generation=5/60,nonsense=1/1s,general_api,\
                   checkout_creation=5/0s,signin_email_per_ip=99999/1h,stripe_webhook=5/2d,\
                   transcription_upload=4/1h";
        let (limits, problems) = RateLimits::parse(raw);
        assert_eq!(problems.len(), 7, "{problems:#?}");
        assert!(problems[0].contains("`pages=lots/60s`") && problems[0].contains("whole number"));
        assert!(problems[1].contains("unit"));
        assert!(problems[2].contains("unknown policy `nonsense`") && problems[2].contains("pages"));
        assert!(problems[3].contains("expected <policy>="));
        assert!(problems[4].contains("between 1s and 1d"));
        assert!(problems[5].contains("at most 10000"));
        assert!(problems[6].contains("between 1s and 1d"));
        assert_eq!(limits.rule(Policy::Pages), Some(Policy::Pages.default_rule()));
        assert_eq!(limits.rule(Policy::TranscriptionUpload), rule(4, 3600));
    }

    #[test]
    fn a_policy_set_twice_is_reported_and_the_last_wins() {
        let (limits, problems) = RateLimits::parse("pages=1/1s,pages=2/2s");
        assert_eq!(problems, ["`pages` is set twice"]);
        assert_eq!(limits.rule(Policy::Pages), rule(2, 2));
    }

    #[test]
    fn absurd_numbers_do_not_overflow() {
        let (_, problems) = RateLimits::parse("pages=1/99999999999d,general_api=1/4294967295d");
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
