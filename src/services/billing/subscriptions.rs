//! Keeping our copy of a subscription in step with Stripe, order-proof: whatever event arrives
//! (created, updated, deleted, an invoice), the subscription is read again from Stripe and the
//! newest read wins (`synced_at_ms`), so a late `.created` cannot undo an `.updated`, and a
//! canceled subscription never comes back to life.

use super::catalog::plan_of_price;
use crate::clients::stripe::Stripe;
use crate::clients::stripe_objects::Subscription;
use crate::config::Config;
use crate::db::billing as rows;
use crate::db::Db;
use crate::domain::billing::SubscriptionRecord;
use crate::domain::billing::SubscriptionStatus;
use crate::domain::UserId;
use crate::error::AppError;

/// A subscription as read from Stripe, with its owner. (What an invoice grants comes from the
/// invoice's own lines, never from the subscription's price now: see `allowance`.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synced {
    pub record: SubscriptionRecord,
}

/// What an event says of whose a subscription is, so that the owner is looked up while Stripe
/// is asked (the lookup goes out with whatever the caller sends first: one round trip fewer).
pub enum Lead<'a> {
    /// The event's own copy, dated by the event: also what is used when Stripe no longer has it.
    EventCopy(&'a Subscription, i64),
    /// The customer the event's object names (an invoice's).
    Customer(Option<&'a str>),
    /// Made by our Checkout Session: our record of it says who bought.
    Buyer(UserId),
}

/// Reads subscription `id` from Stripe at `now_ms` (the request's clock dates the read).
/// `Ok(None)`: not one of our users' subscriptions.
pub async fn read(
    db: &Db,
    stripe: &Stripe,
    config: &Config,
    id: &str,
    lead: Lead<'_>,
    now_ms: u64,
) -> Result<Option<Synced>, AppError> {
    let early_owner = async {
        match &lead {
            Lead::EventCopy(copy, _) => owner(db, copy).await,
            Lead::Customer(Some(customer)) => rows::owner(db, Some(customer), None).await,
            Lead::Customer(None) => Ok(None),
            Lead::Buyer(user_id) => Ok(Some(*user_id)),
        }
    };
    let (early_owner, fetched) =
        futures_util::future::join(early_owner, stripe.retrieve_subscription(id)).await;
    let (subscription, synced_at_ms) = match (fetched, &lead) {
        (Ok(s), _) => (s, now_ms as i64),
        (Err(e), Lead::EventCopy(copy, event_created)) if e.is_not_found() => {
            ((*copy).clone(), event_created * 1000)
        }
        (Err(e), _) if e.is_not_found() => return Ok(None),
        (Err(e), _) => return Err(e.into()),
    };
    // The early answer stands when it was asked of what Stripe says now (the customer of a
    // subscription never changes); otherwise ask again.
    let user_id = match (early_owner?, &lead) {
        (Some(user_id), Lead::EventCopy(copy, _)) if same_owner_fields(copy, &subscription) => Some(user_id),
        (Some(user_id), Lead::Customer(customer)) if subscription.customer.as_deref() == *customer => {
            Some(user_id)
        }
        (Some(user_id), Lead::Buyer(_)) => Some(user_id),
        _ => owner(db, &subscription).await?,
    };
    let Some(user_id) = user_id else { return Ok(None) };
    Ok(Some(from_stripe(&subscription, user_id, config, synced_at_ms)?))
}

/// Whether `owner` answers the same for both (the fields it reads are equal).
fn same_owner_fields(a: &Subscription, b: &Subscription) -> bool {
    a.customer == b.customer && a.metadata.get("user_id") == b.metadata.get("user_id")
}

/// Whose subscription it is: the user we created the customer for, or (a customer made
/// elsewhere) the user id our Checkout put in the subscription's metadata. One round trip.
pub async fn owner(db: &Db, s: &Subscription) -> Result<Option<UserId>, AppError> {
    let named = s.metadata.get("user_id").and_then(|v| v.parse::<UserId>().ok());
    rows::owner(db, s.customer.as_deref(), named).await
}

/// Pure: Stripe's subscription → our record.
pub fn from_stripe(
    s: &Subscription,
    user_id: UserId,
    config: &Config,
    synced_at_ms: i64,
) -> Result<Synced, AppError> {
    let bad = |why: &str| AppError::internal(format!("subscription {}: {why}", s.id));
    let status = SubscriptionStatus::parse(&s.status).ok_or_else(|| bad("unknown status"))?;
    let price = s.price().ok_or_else(|| bad("no items"))?;
    let (period_start, period_end) = s.period();
    Ok(Synced {
        record: SubscriptionRecord {
            id: s.id.clone(),
            user_id,
            customer_id: s.customer.clone().unwrap_or_default(),
            price_id: price.id.clone(),
            plan: plan_of_price(config, &price.id),
            status,
            cancel_at_period_end: s.cancel_at_period_end,
            period_start,
            period_end,
            cancel_at: s.cancel_at,
            canceled_at: s.canceled_at,
            ended_at: s.ended_at,
            created: s.created,
            synced_at_ms,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_basil_subscription_becomes_a_record_with_its_plan() {
        let config = Config::from_lookup(|k| {
            Some(
                match k {
                    "NEXTAUTH_URL" => "https://x.test",
                    "STRIPE_SECRET_KEY" => "sk_test_1",
                    "STRIPE_WEBHOOK_SECRET" => "whsec_1",
                    "STRIPE_STARTER_PRICE_ID" => "price_s",
                    "STRIPE_PRO_PRICE_ID" => "price_p",
                    _ => return None,
                }
                .to_string(),
            )
        });
        let s: Subscription = serde_json::from_value(json!({
            "id": "sub_1", "customer": "cus_1", "status": "past_due", "created": 5,
            "cancel_at_period_end": true,
            "items": { "data": [ { "price": { "id": "price_p", "metadata": { "credits": "500" } },
                "current_period_start": 10, "current_period_end": 20 } ] }
        }))
        .unwrap();
        let synced = from_stripe(&s, UserId::new(9), &config, 1234).unwrap();
        let r = synced.record;
        assert_eq!((r.plan.as_str(), r.status.as_str(), r.user_id), ("pro", "past_due", UserId::new(9)));
        assert_eq!((r.period_start, r.period_end, r.synced_at_ms), (Some(10), Some(20), 1234));
        assert!(r.cancel_at_period_end);
        let mut odd = s.clone();
        odd.status = "exploded".into();
        assert!(from_stripe(&odd, UserId::new(9), &config, 0).is_err());
    }
}
