//! What a user may use right now: their plan and the subscription it comes from
//! (services::billing decides it: `plan_for`, `entitlement`).

use crate::domain::billing::{Plan, SubscriptionRecord, SubscriptionStatus};

/// A user's plan right now, and the subscription it comes from (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entitlement {
    pub plan: Plan,
    /// The subscription to show and manage: the newest one that is not over, else the newest.
    pub subscription: Option<SubscriptionRecord>,
}

impl Entitlement {
    pub fn status(&self) -> Option<SubscriptionStatus> {
        self.subscription.as_ref().map(|s| s.status)
    }

    /// Whether Stripe is waiting for a payment (past due or unpaid): the app says so.
    pub fn is_past_due(&self) -> bool {
        matches!(self.status(), Some(SubscriptionStatus::PastDue | SubscriptionStatus::Unpaid))
    }
}
