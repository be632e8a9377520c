//! The business words of billing: plans, Stripe subscription statuses and what they allow, the
//! states of our checkouts and invoices, and the referral id that follows a visitor into Checkout.

use crate::domain::Credits;
use crate::domain::UserId;
use crate::error::AppError;

/// What a user has bought access to. `Free` is everybody without a current subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Free,
    Starter,
    Pro,
}

impl Plan {
    pub const ALL: [Plan; 3] = [Plan::Free, Plan::Starter, Plan::Pro];

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
    pub const ALL: [SubscriptionStatus; 8] = [
        SubscriptionStatus::Incomplete,
        SubscriptionStatus::IncompleteExpired,
        SubscriptionStatus::Trialing,
        SubscriptionStatus::Active,
        SubscriptionStatus::PastDue,
        SubscriptionStatus::Canceled,
        SubscriptionStatus::Unpaid,
        SubscriptionStatus::Paused,
    ];

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

/// How a Checkout Session sells: once (a credit pack) or every period (a plan).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutMode {
    Payment,
    Subscription,
}

impl CheckoutMode {
    pub const ALL: [CheckoutMode; 2] = [CheckoutMode::Payment, CheckoutMode::Subscription];
}

/// Our record of a Checkout Session: `Open` → `AwaitingPayment` (delayed methods) → `Paid` |
/// `PaymentFailed`. Paid never goes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutStatus {
    Open,
    AwaitingPayment,
    Paid,
    PaymentFailed,
}

impl CheckoutStatus {
    pub const ALL: [CheckoutStatus; 4] = [
        CheckoutStatus::Open,
        CheckoutStatus::AwaitingPayment,
        CheckoutStatus::Paid,
        CheckoutStatus::PaymentFailed,
    ];

    /// The states a checkout may move to this one from: a payment settles any earlier state; a
    /// failure or "awaiting payment" never overwrites a payment (it arrived late).
    pub fn reachable_from(self) -> &'static [CheckoutStatus] {
        use CheckoutStatus::*;
        match self {
            Open => &[],
            AwaitingPayment => &[Open],
            Paid => &[Open, AwaitingPayment, PaymentFailed],
            PaymentFailed => &[Open, AwaitingPayment],
        }
    }

    /// Settled either way: the success page need not ask Stripe again.
    pub fn is_settled(self) -> bool {
        matches!(self, CheckoutStatus::Paid | CheckoutStatus::PaymentFailed)
    }
}

/// A subscription invoice's payment outcome. `PaymentFailed` → `Paid` is possible (a retry
/// succeeds); `Paid` is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceStatus {
    Paid,
    PaymentFailed,
}

impl InvoiceStatus {
    pub const ALL: [InvoiceStatus; 2] = [InvoiceStatus::Paid, InvoiceStatus::PaymentFailed];
}

/// A Checkout Session we created, as we recorded it: who buys what, for how many credits, and
/// how far the payment got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// `cs_…`.
    pub id: String,
    pub user_id: UserId,
    pub mode: CheckoutMode,
    pub price_id: String,
    pub item_name: String,
    /// A credit pack's credits, or a plan's allowance per period.
    pub credits: Credits,
    pub amount: i64,
    pub currency: String,
    pub status: CheckoutStatus,
    /// Unix seconds.
    pub updated_at: i64,
}

/// A subscription as we last read it from Stripe (the newest read wins): whose, which plan,
/// how far along, and its period in Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct SubscriptionRecord {
    pub id: String,
    pub user_id: UserId,
    pub customer_id: String,
    pub price_id: String,
    /// `Free`: the price is none of our plans (stored as `other`).
    pub plan: Plan,
    pub status: SubscriptionStatus,
    pub cancel_at_period_end: bool,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    pub cancel_at: Option<i64>,
    pub canceled_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub created: i64,
    pub synced_at_ms: i64,
}

/// A Checkout Session id as Stripe makes them (`cs_test_…`, `cs_live_…`), as the success page's
/// query names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSessionId(String);

impl CheckoutSessionId {
    /// 400 naming `session_id` when it is missing or not shaped like one.
    pub fn parse(raw: Option<&str>) -> Result<CheckoutSessionId, AppError> {
        let bad = || AppError::bad_request("session_id", "The checkout session id is missing or malformed.");
        let id = raw.ok_or_else(bad)?;
        let ok = id.starts_with("cs_")
            && id.len() <= 255
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if ok {
            Ok(CheckoutSessionId(id.to_string()))
        } else {
            Err(bad())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
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

/// The ledger note of a plan's allowance: "Starter plan".
pub fn allowance_note(plan: Plan) -> String {
    match plan {
        Plan::Free => "subscription".to_string(),
        named => format!("{} plan", named.name()),
    }
}

/// What fulfilling a checkout did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fulfilment {
    /// Credits granted by this call.
    Granted { credits: Credits, balance: Credits },
    /// Granted before (by the webhook or the success page).
    AlreadyFulfilled,
    /// Completed with a delayed payment method: nothing until the money arrives.
    AwaitingPayment,
    /// Still open: the customer has not finished paying.
    NotCompleted,
}

impl Fulfilment {
    /// A grant's words, with `balance` as given (a figure, or a placeholder the database fills).
    pub fn granted_text(credits: Credits, balance: &dyn std::fmt::Display) -> String {
        format!("granted {credits} credits (balance {balance})")
    }

    pub fn describe(&self) -> String {
        match self {
            Fulfilment::Granted { credits, balance } => Fulfilment::granted_text(*credits, balance),
            Fulfilment::AlreadyFulfilled => "already fulfilled".into(),
            Fulfilment::AwaitingPayment => "completed, awaiting a delayed payment: nothing granted".into(),
            Fulfilment::NotCompleted => "not completed: nothing granted".into(),
        }
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
    fn paid_is_final_and_nothing_moves_back_to_open() {
        for s in CheckoutStatus::ALL {
            assert!(!s.reachable_from().contains(&CheckoutStatus::Paid), "{s:?}");
            assert!(!s.reachable_from().contains(&s), "{s:?}");
        }
        assert!(CheckoutStatus::Paid.reachable_from().contains(&CheckoutStatus::PaymentFailed));
    }

    #[test]
    fn only_checkout_session_ids_are_accepted() {
        assert_eq!(CheckoutSessionId::parse(Some("cs_test_a1B2")).unwrap().as_str(), "cs_test_a1B2");
        for bad in ["", "cus_123", "cs_test_../x", "cs_test_a?b", "{CHECKOUT_SESSION_ID}"] {
            assert_eq!(CheckoutSessionId::parse(Some(bad)).unwrap_err().field(), Some("session_id"), "{bad}");
        }
        assert!(CheckoutSessionId::parse(None).is_err());
    }

    #[test]
    fn plans_parse_from_their_stored_names() {
        assert_eq!(Plan::parse("pro"), Plan::Pro);
        assert_eq!(Plan::parse("starter").name(), "Starter");
        assert_eq!(Plan::parse("other"), Plan::Free);
    }
}
