//! Billing: what is for sale (catalog), selling it (checkout), granting what was paid for
//! (fulfilment), keeping subscriptions in step with Stripe (subscriptions, webhook), and the
//! question the rest of the app asks: which plan does this user have right now (`plan_for`).

pub mod allowance;
pub mod catalog;
pub mod checkout;
pub mod fulfilment;
pub mod overview;
pub mod plan_events;
pub mod receipts;
pub mod reversals;
pub mod subscriptions;
pub mod webhook;

use crate::db::billing::subscriptions_of;
use crate::db::Db;
use crate::domain::billing::Plan;
use crate::domain::billing::SubscriptionRecord;
use crate::domain::entitlement::Entitlement;
use crate::domain::UserId;
use crate::error::AppError;

/// The plan `user_id` may use at `now_ms`. Tools and pages ask this; nothing else decides.
pub async fn plan_for(db: &Db, user_id: UserId, now_ms: u64) -> Result<Entitlement, AppError> {
    let records = subscriptions_of(db, user_id).await?;
    Ok(entitlement(records, now_ms / 1000))
}

/// Pure: picks the subscription that matters and whether it grants its plan at `now` (secs).
pub fn entitlement(records: Vec<SubscriptionRecord>, now: u64) -> Entitlement {
    let now = now as i64;
    let live = |s: &SubscriptionRecord| !s.status.is_terminal();
    let granting = records.iter().find(|s| grants_access(s, now)).cloned();
    let shown =
        granting.clone().or_else(|| records.iter().find(|s| live(s)).cloned()).or(records.first().cloned());
    let plan = granting.map(|s| s.plan).unwrap_or(Plan::Free);
    Entitlement { plan, subscription: shown }
}

/// Access ends when Stripe ends the subscription (`customer.subscription.deleted` brings
/// status `canceled`); a cancellation scheduled for the period's end keeps access until that
/// end, and stops it then even if the deletion event is late.
pub fn grants_access(s: &SubscriptionRecord, now: i64) -> bool {
    if !s.status.grants_access() || s.plan == Plan::Free {
        return false;
    }
    if s.ended_at.is_some_and(|t| t <= now) {
        return false;
    }
    if s.cancel_at.is_some_and(|t| t <= now) {
        return false;
    }
    !(s.cancel_at_period_end && s.period_end.is_some_and(|t| t <= now))
}

/// A live subscription (not canceled or expired) that a second purchase of a plan would
/// duplicate: the user is sent to the portal to change it instead.
pub fn live_subscription(records: &[SubscriptionRecord]) -> Option<&SubscriptionRecord> {
    records.iter().find(|s| !s.status.is_terminal())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::billing::SubscriptionStatus;

    const NOW: i64 = 1_800_000_000;

    fn sub(id: &str, plan: &str, status: &str) -> SubscriptionRecord {
        SubscriptionRecord {
            id: id.into(),
            user_id: UserId::new(1),
            customer_id: "cus_1".into(),
            price_id: "price_1".into(),
            plan: Plan::parse(plan),
            status: SubscriptionStatus::parse(status).unwrap(),
            cancel_at_period_end: false,
            period_start: Some(NOW - 100),
            period_end: Some(NOW + 100),
            cancel_at: None,
            canceled_at: None,
            ended_at: None,
            created: NOW - 1000,
            synced_at_ms: 0,
        }
    }

    #[test]
    fn active_trialing_and_past_due_grant_the_plan() {
        for status in ["active", "trialing", "past_due"] {
            assert_eq!(entitlement(vec![sub("a", "pro", status)], NOW as u64).plan, Plan::Pro, "{status}");
        }
        for status in ["unpaid", "canceled", "incomplete", "incomplete_expired", "paused"] {
            let e = entitlement(vec![sub("a", "pro", status)], NOW as u64);
            assert_eq!(e.plan, Plan::Free, "{status}");
            assert_eq!(e.subscription.unwrap().id, "a", "still shown");
        }
    }

    #[test]
    fn a_cancellation_at_period_end_keeps_access_until_then() {
        let mut s = sub("a", "starter", "active");
        s.cancel_at_period_end = true;
        assert!(grants_access(&s, NOW));
        assert!(!grants_access(&s, NOW + 100), "ends exactly at the period end");
        let mut s = sub("a", "starter", "active");
        s.cancel_at = Some(NOW + 5);
        assert!(grants_access(&s, NOW) && !grants_access(&s, NOW + 5));
    }

    #[test]
    fn the_granting_subscription_wins_over_newer_dead_ones() {
        let old_live = sub("live", "starter", "active");
        let newer_dead = sub("dead", "pro", "canceled");
        let e = entitlement(vec![newer_dead.clone(), old_live], NOW as u64);
        assert_eq!(e.plan, Plan::Starter);
        assert_eq!(e.subscription.unwrap().id, "live");
        assert_eq!(live_subscription(&[newer_dead]), None);
    }

    #[test]
    fn no_subscription_is_the_free_plan_and_unknown_prices_grant_nothing() {
        assert_eq!(entitlement(vec![], NOW as u64), Entitlement { plan: Plan::Free, subscription: None });
        assert_eq!(entitlement(vec![sub("a", "other", "active")], NOW as u64).plan, Plan::Free);
    }

    #[test]
    fn past_due_is_flagged_for_the_app_to_say_so() {
        assert!(entitlement(vec![sub("a", "pro", "past_due")], NOW as u64).is_past_due());
        assert!(!entitlement(vec![sub("a", "pro", "active")], NOW as u64).is_past_due());
    }
}
