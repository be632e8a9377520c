//! The business words of billing: plans, Stripe subscription statuses and what they allow, and
//! the referral id that follows a visitor into Checkout.

use crate::error::AppError;

/// What a user has bought access to. `Free` is everybody without a current subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Free,
    Starter,
    Pro,
}

impl Plan {
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Starter => "starter",
            Plan::Pro => "pro",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Plan::Free => "Free",
            Plan::Starter => "Starter",
            Plan::Pro => "Pro",
        }
    }

    pub fn parse(s: &str) -> Plan {
        match s {
            "starter" => Plan::Starter,
            "pro" => Plan::Pro,
            _ => Plan::Free,
        }
    }
}

/// Stripe's subscription statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionStatus {
    Incomplete,
    IncompleteExpired,
    Trialing,
    Active,
    PastDue,
    Canceled,
    Unpaid,
    Paused,
}

impl SubscriptionStatus {
    pub fn parse(s: &str) -> Option<SubscriptionStatus> {
        use SubscriptionStatus::*;
        Some(match s {
            "incomplete" => Incomplete,
            "incomplete_expired" => IncompleteExpired,
            "trialing" => Trialing,
            "active" => Active,
            "past_due" => PastDue,
            "canceled" => Canceled,
            "unpaid" => Unpaid,
            "paused" => Paused,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        use SubscriptionStatus::*;
        match self {
            Incomplete => "incomplete",
            IncompleteExpired => "incomplete_expired",
            Trialing => "trialing",
            Active => "active",
            PastDue => "past_due",
            Canceled => "canceled",
            Unpaid => "unpaid",
            Paused => "paused",
        }
    }

    /// Final states: Stripe never moves a subscription out of them, so neither do we.
    pub fn is_terminal(self) -> bool {
        matches!(self, SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired)
    }

    /// Whether the plan's features are available. Past due keeps access while Stripe retries
    /// the payment (the app says so); unpaid, paused and incomplete do not.
    pub fn grants_access(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Active | SubscriptionStatus::Trialing | SubscriptionStatus::PastDue
        )
    }

    pub fn label(self) -> &'static str {
        use SubscriptionStatus::*;
        match self {
            Incomplete => "Awaiting first payment",
            IncompleteExpired => "Expired before payment",
            Trialing => "Trial",
            Active => "Active",
            PastDue => "Past due",
            Canceled => "Cancelled",
            Unpaid => "Unpaid",
            Paused => "Paused",
        }
    }
}

/// A Rewardful referral id (a UUID in practice), as the page's script read it from
/// `Rewardful.referral`. Only its shape is checked: it goes to Stripe as `client_reference_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referral(String);

impl Referral {
    /// `None` when the field is absent or blank (no referral); 400 when it is not an id.
    pub fn parse(raw: Option<&str>) -> Result<Option<Referral>, AppError> {
        let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else { return Ok(None) };
        // Stripe allows up to 200 characters here; Rewardful ids are 36.
        let ok = raw.len() <= 64 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(AppError::bad_request("referral", "The referral id is not valid."));
        }
        Ok(Some(Referral(raw.to_string())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stripe_status_round_trips_and_only_live_ones_grant_access() {
        for s in [
            "incomplete",
            "incomplete_expired",
            "trialing",
            "active",
            "past_due",
            "canceled",
            "unpaid",
            "paused",
        ] {
            assert_eq!(SubscriptionStatus::parse(s).unwrap().as_str(), s);
        }
        assert!(SubscriptionStatus::parse("bogus").is_none());
        let access: Vec<_> = ["active", "trialing", "past_due", "unpaid", "canceled", "incomplete"]
            .iter()
            .map(|s| SubscriptionStatus::parse(s).unwrap().grants_access())
            .collect();
        assert_eq!(access, [true, true, true, false, false, false]);
        assert!(SubscriptionStatus::Canceled.is_terminal());
        assert!(!SubscriptionStatus::PastDue.is_terminal());
    }

    #[test]
    fn a_referral_is_optional_but_must_look_like_an_id() {
        assert_eq!(Referral::parse(None).unwrap(), None);
        assert_eq!(Referral::parse(Some("  ")).unwrap(), None);
        let r = Referral::parse(Some("8d4f1e2c-5b7a-4c3e-9f1d-2a6b8c0e4f71")).unwrap().unwrap();
        assert_eq!(r.as_str(), "8d4f1e2c-5b7a-4c3e-9f1d-2a6b8c0e4f71");
        for bad in ["a b", "x&client_reference_id=y", "<script>", &"a".repeat(65)] {
            let err = Referral::parse(Some(bad)).unwrap_err();
            assert_eq!(err.field(), Some("referral"), "{bad}");
        }
    }

    #[test]
    fn plans_parse_from_their_stored_names() {
        assert_eq!(Plan::parse("pro"), Plan::Pro);
        assert_eq!(Plan::parse("starter").name(), "Starter");
        assert_eq!(Plan::parse("other"), Plan::Free);
    }
}
