//! What each of the eight Stripe events does, and that subscription state never goes backwards
//! whatever order the events arrive in.

use crate::support::billing::{
    balance, checkout_status, deliver_ok, event_row, find, ledger, page, start_checkout, subscribe,
    subscription_row,
};
use crate::support::fakes::stripe::{now, Fault, PACK, PRO, STARTER};
use crate::support::fakes::stripe_wire::error;
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;
use serde_json::json;

pub fn tests() -> Vec<Trial> {
    trials![
        a_paid_credit_pack_checkout_grants_its_credits,
        a_delayed_payment_grants_nothing_until_it_succeeds,
        a_failed_delayed_payment_is_recorded_and_shown_to_the_user,
        a_new_subscription_sets_the_plan_and_grants_the_first_allowance_once,
        a_renewal_invoice_grants_the_allowance_once_per_invoice,
        a_failed_renewal_marks_the_account_past_due_until_it_is_paid,
        a_subscription_update_changes_the_plan,
        a_subscription_update_delivered_ten_times_at_once_is_applied_once_and_says_what_it_stored,
        a_cancellation_at_period_end_keeps_the_plan_until_then,
        a_deleted_subscription_ends_plan_access,
        an_update_arriving_before_its_create_leaves_the_newest_state,
        a_delete_arriving_before_an_update_is_never_undone,
        events_for_customers_that_are_not_ours_are_ignored,
        a_subscription_made_outside_checkout_belongs_to_the_user_in_its_metadata,
    ]
}

async fn a_paid_credit_pack_checkout_grants_its_credits(s: &'static Stack) {
    let user = s.sign_in_new("pack-paid").await;
    let session = start_checkout(s, &user, PACK).await;
    assert_eq!(checkout_status(s, &session).await, "open");
    let events = s.stripe().complete_session(&session, true);
    let completed = find(&events, "checkout.session.completed");
    assert_eq!(deliver_ok(s, completed).await["outcome"], "applied");
    assert_eq!(balance(s, user.user_id).await, 50);
    assert_eq!(ledger(s, user.user_id).await, vec![(50, "purchase".into(), session.clone())]);
    assert_eq!(checkout_status(s, &session).await, "paid");
    let (_, _, detail) = event_row(s, completed["id"].as_str().unwrap()).await.unwrap();
    assert!(detail.unwrap().contains("granted 50 credits"));
    let html = page(s, &user, "/billing").await;
    assert!(html.contains("Credit pack · 50 credit pack"), "the ledger shows the purchase");
}

async fn a_delayed_payment_grants_nothing_until_it_succeeds(s: &'static Stack) {
    let user = s.sign_in_new("delayed-ok").await;
    let session = start_checkout(s, &user, PACK).await;
    let events = s.stripe().complete_session(&session, false);
    deliver_ok(s, find(&events, "checkout.session.completed")).await;
    assert_eq!(balance(s, user.user_id).await, 0, "unpaid: nothing yet");
    assert_eq!(checkout_status(s, &session).await, "awaiting_payment");
    assert!(page(s, &user, "/billing").await.contains("is processing"));
    let succeeded = s.stripe().settle_delayed(&session, true);
    assert_eq!(deliver_ok(s, &succeeded).await["outcome"], "applied");
    assert_eq!(balance(s, user.user_id).await, 50);
    assert_eq!(checkout_status(s, &session).await, "paid");
    assert!(!page(s, &user, "/billing").await.contains("is processing"));
}

async fn a_failed_delayed_payment_is_recorded_and_shown_to_the_user(s: &'static Stack) {
    let user = s.sign_in_new("delayed-fail").await;
    let session = start_checkout(s, &user, PACK).await;
    let events = s.stripe().complete_session(&session, false);
    deliver_ok(s, find(&events, "checkout.session.completed")).await;
    let failed = s.stripe().settle_delayed(&session, false);
    assert_eq!(deliver_ok(s, &failed).await["outcome"], "applied");
    assert_eq!(checkout_status(s, &session).await, "payment_failed");
    assert_eq!(balance(s, user.user_id).await, 0);
    let html = page(s, &user, "/billing").await;
    assert!(html.contains("Your payment of $5.00 for 50 credit pack failed"), "{html}");
    // A late "completed" replay cannot turn the failure into a success or a pending payment.
    let late = s.stripe().event("checkout.session.completed", s.stripe().session(&session));
    deliver_ok(s, &late).await;
    assert_eq!(checkout_status(s, &session).await, "payment_failed");
    assert_eq!(balance(s, user.user_id).await, 0);
}

async fn a_new_subscription_sets_the_plan_and_grants_the_first_allowance_once(s: &'static Stack) {
    let user = s.sign_in_new("sub-new").await;
    let sub = subscribe(s, &user, STARTER).await;
    assert_eq!(subscription_row(s, &sub).await, Some(("active".into(), "starter".into(), false)));
    // Checkout completion and the first invoice both grant the first allowance: keyed by the
    // invoice, it is granted once.
    assert_eq!(balance(s, user.user_id).await, 100);
    let rows = ledger(s, user.user_id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1, "subscription_allowance");
    assert!(rows[0].2.starts_with("in_"));
    let html = page(s, &user, "/billing").await;
    assert!(html.contains("<strong id=\"plan\">Starter</strong>"), "{html}");
    assert!(html.contains("Renews on"));
    assert!(page(s, &user, "/pricing").await.contains("Your plan"));
}

async fn a_renewal_invoice_grants_the_allowance_once_per_invoice(s: &'static Stack) {
    let user = s.sign_in_new("renewal").await;
    let sub = subscribe(s, &user, STARTER).await;
    let invoice = s.stripe().invoice(&sub, true, true);
    let renewed = s.stripe().event("invoice.payment_succeeded", invoice.clone());
    deliver_ok(s, &renewed).await;
    assert_eq!(balance(s, user.user_id).await, 200);
    // Another event about the same invoice (Stripe may send one again with a new id).
    let again = s.stripe().event("invoice.payment_succeeded", invoice);
    deliver_ok(s, &again).await;
    assert_eq!(balance(s, user.user_id).await, 200, "once per invoice");
    // A mid-period invoice (a plan change's proration) grants nothing.
    let proration = s.stripe().invoice(&sub, false, true);
    deliver_ok(s, &s.stripe().event("invoice.payment_succeeded", proration)).await;
    assert_eq!(balance(s, user.user_id).await, 200);
    assert_eq!(ledger(s, user.user_id).await.len(), 2);
}

async fn a_failed_renewal_marks_the_account_past_due_until_it_is_paid(s: &'static Stack) {
    let user = s.sign_in_new("past-due").await;
    let sub = subscribe(s, &user, STARTER).await;
    let invoice = s.stripe().invoice(&sub, true, false);
    let failed = s.stripe().event("invoice.payment_failed", invoice.clone());
    assert_eq!(deliver_ok(s, &failed).await["outcome"], "applied");
    assert_eq!(subscription_row(s, &sub).await.unwrap().0, "past_due");
    let html = page(s, &user, "/billing").await;
    assert!(html.contains("id=\"past-due\""), "past due is shown");
    assert!(html.contains("<strong id=\"plan\">Starter</strong>"), "the plan stays while Stripe retries");
    assert_eq!(balance(s, user.user_id).await, 100, "no allowance for an unpaid period");
    // Stripe's retry succeeds.
    let paid = s.stripe().pay_invoice(invoice["id"].as_str().unwrap());
    deliver_ok(s, &s.stripe().event("invoice.payment_succeeded", paid)).await;
    assert_eq!(balance(s, user.user_id).await, 200);
    assert!(!page(s, &user, "/billing").await.contains("id=\"past-due\""));
    // The failure arriving again late does not bring the notice back.
    let late = s.stripe().event("invoice.payment_failed", invoice);
    deliver_ok(s, &late).await;
    assert!(!page(s, &user, "/billing").await.contains("id=\"past-due\""));
}

async fn a_subscription_update_changes_the_plan(s: &'static Stack) {
    let user = s.sign_in_new("upgrade").await;
    let sub = subscribe(s, &user, STARTER).await;
    let pro = s.stripe().price_object(PRO);
    let updated = s.stripe().update_subscription(&sub, |v| v["items"]["data"][0]["price"] = pro);
    deliver_ok(s, &s.stripe().event("customer.subscription.updated", updated)).await;
    assert_eq!(subscription_row(s, &sub).await.unwrap().1, "pro");
    assert!(page(s, &user, "/billing").await.contains("<strong id=\"plan\">Pro</strong>"));
}

/// A subscription's event is claimed, saved and finished in one transaction (one round trip):
/// deliveries at once take turns on the claim, one applies it, the rest are duplicates; the
/// event log says what was stored, or that a newer state was (the same save's answer).
async fn a_subscription_update_delivered_ten_times_at_once_is_applied_once_and_says_what_it_stored(
    s: &'static Stack,
) {
    let user = s.sign_in_new("update-ten").await;
    let session = start_checkout(s, &user, STARTER).await;
    let events = s.stripe().complete_session(&session, true);
    let created = find(&events, "customer.subscription.created").clone();
    let sub = created["data"]["object"]["id"].as_str().unwrap().to_string();
    let pro = s.stripe().price_object(PRO);
    let updated = s.stripe().update_subscription(&sub, |v| v["items"]["data"][0]["price"] = pro);
    let update = s.stripe().event("customer.subscription.updated", updated);
    let deliveries: Vec<_> = (0..10)
        .map(|_| {
            let update = update.clone();
            tokio::spawn(async move { crate::support::shared().stripe().deliver(&update).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for d in deliveries {
        let (status, body) = d.await.unwrap();
        assert_eq!(status, 200, "{body}");
        outcomes.push(serde_json::from_str::<serde_json::Value>(&body).unwrap()["outcome"].to_string());
    }
    assert_eq!(outcomes.iter().filter(|o| *o == "\"applied\"").count(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| *o == "\"duplicate\"").count(), 9, "{outcomes:?}");
    let (outcome, attempts, detail) = event_row(s, update["id"].as_str().unwrap()).await.unwrap();
    assert_eq!((outcome.as_str(), attempts), ("applied", 1));
    assert_eq!(detail.as_deref(), Some(format!("subscription {sub} active (pro)").as_str()));
    assert_eq!(subscription_row(s, &sub).await.unwrap().1, "pro");
    // The creation arriving later, when Stripe no longer has the subscription: only its own
    // copy, dated by the event and older than the stored read, is left; it says so.
    let missing =
        error("invalid_request_error", Some("resource_missing"), "No such subscription", Some("id"));
    s.stripe().add_fault(Fault::new("GET", format!("/v1/subscriptions/{sub}"), 404).body(missing));
    deliver_ok(s, &created).await;
    let (outcome, _, detail) = event_row(s, created["id"].as_str().unwrap()).await.unwrap();
    assert_eq!(outcome, "applied");
    assert_eq!(
        detail.as_deref(),
        Some(format!("subscription {sub}: a newer or final state is stored").as_str())
    );
    assert_eq!(subscription_row(s, &sub).await.unwrap().1, "pro");
}

async fn a_cancellation_at_period_end_keeps_the_plan_until_then(s: &'static Stack) {
    let user = s.sign_in_new("cancel-later").await;
    let sub = subscribe(s, &user, STARTER).await;
    let updated = s.stripe().update_subscription(&sub, |v| {
        v["cancel_at_period_end"] = json!(true);
        v["canceled_at"] = json!(now());
    });
    deliver_ok(s, &s.stripe().event("customer.subscription.updated", updated)).await;
    assert_eq!(subscription_row(s, &sub).await, Some(("active".into(), "starter".into(), true)));
    let html = page(s, &user, "/billing").await;
    assert!(html.contains("<strong id=\"plan\">Starter</strong>"));
    assert!(html.contains("Ends on"), "{html}");
    // When the period is over, access ends even if the deletion event is late.
    s.stripe().update_subscription(&sub, |v| {
        v["items"]["data"][0]["current_period_end"] = json!(now() - 1);
    });
    let stale = s.stripe().event("customer.subscription.updated", s.stripe().subscription(&sub));
    deliver_ok(s, &stale).await;
    assert!(page(s, &user, "/billing").await.contains("<strong id=\"plan\">Free"));
}

async fn a_deleted_subscription_ends_plan_access(s: &'static Stack) {
    let user = s.sign_in_new("deleted").await;
    let sub = subscribe(s, &user, STARTER).await;
    let ended = s.stripe().update_subscription(&sub, |v| {
        v["status"] = json!("canceled");
        v["canceled_at"] = json!(now());
        v["ended_at"] = json!(now());
    });
    deliver_ok(s, &s.stripe().event("customer.subscription.deleted", ended)).await;
    assert_eq!(subscription_row(s, &sub).await.unwrap().0, "canceled");
    let html = page(s, &user, "/billing").await;
    assert!(html.contains("<strong id=\"plan\">Free"), "{html}");
    assert!(html.contains("Ended on"));
    assert_eq!(balance(s, user.user_id).await, 100, "credits already granted stay");
    // Without a live subscription, choosing a plan is a new checkout again (not the portal).
    start_checkout(s, &user, PRO).await;
}

async fn an_update_arriving_before_its_create_leaves_the_newest_state(s: &'static Stack) {
    let user = s.sign_in_new("update-first").await;
    let session = start_checkout(s, &user, STARTER).await;
    let events = s.stripe().complete_session(&session, true);
    let created = find(&events, "customer.subscription.created").clone();
    let sub = created["data"]["object"]["id"].as_str().unwrap().to_string();
    let pro = s.stripe().price_object(PRO);
    let updated = s.stripe().update_subscription(&sub, |v| {
        v["items"]["data"][0]["price"] = pro;
        v["cancel_at_period_end"] = json!(true);
    });
    deliver_ok(s, &s.stripe().event("customer.subscription.updated", updated)).await;
    deliver_ok(s, &created).await; // older, arriving later
    assert_eq!(subscription_row(s, &sub).await, Some(("active".into(), "pro".into(), true)));
}

async fn a_delete_arriving_before_an_update_is_never_undone(s: &'static Stack) {
    let user = s.sign_in_new("delete-first").await;
    let sub = subscribe(s, &user, STARTER).await;
    let earlier = s.stripe().update_subscription(&sub, |v| v["cancel_at_period_end"] = json!(true));
    let update = s.stripe().event("customer.subscription.updated", earlier);
    let ended = s.stripe().update_subscription(&sub, |v| {
        v["status"] = json!("canceled");
        v["ended_at"] = json!(now());
    });
    deliver_ok(s, &s.stripe().event("customer.subscription.deleted", ended)).await;
    deliver_ok(s, &update).await;
    assert_eq!(subscription_row(s, &sub).await.unwrap().0, "canceled");
    // Even when Stripe cannot be read and only the event's stale copy (status active) is left.
    let missing =
        error("invalid_request_error", Some("resource_missing"), "No such subscription", Some("id"));
    s.stripe().add_fault(Fault::new("GET", format!("/v1/subscriptions/{sub}"), 404).body(missing));
    let stale = s.stripe().event("customer.subscription.updated", json!({
        "id": sub, "object": "subscription", "status": "active", "customer": s.stripe().subscription(&sub)["customer"],
        "created": now() - 100, "items": s.stripe().subscription(&sub)["items"], "metadata": {}
    }));
    deliver_ok(s, &stale).await;
    assert_eq!(
        subscription_row(s, &sub).await.unwrap().0,
        "canceled",
        "a canceled subscription stays canceled"
    );
    assert!(page(s, &user, "/billing").await.contains("<strong id=\"plan\">Free"));
}

async fn events_for_customers_that_are_not_ours_are_ignored(s: &'static Stack) {
    // A session created outside GhostTools (say, a payment link) grants nothing to anybody.
    let foreign = s.stripe().event(
        "checkout.session.completed",
        json!({ "id": "cs_test_foreign_1", "object": "checkout.session", "status": "complete",
                "payment_status": "paid", "mode": "payment", "metadata": {} }),
    );
    let body = deliver_ok(s, &foreign).await;
    assert_eq!(body["outcome"], "ignored");
    let (outcome, _, detail) = event_row(s, foreign["id"].as_str().unwrap()).await.unwrap();
    assert_eq!(outcome, "ignored");
    assert!(detail.unwrap().contains("not a GhostTools"));
}

async fn a_subscription_made_outside_checkout_belongs_to_the_user_in_its_metadata(s: &'static Stack) {
    let user = s.sign_in_new("dashboard-sub").await;
    let sub = s.stripe().create_subscription(PRO, json!({ "user_id": user.user_id.to_string() }));
    let id = sub["id"].as_str().unwrap().to_string();
    assert_eq!(
        deliver_ok(s, &s.stripe().event("customer.subscription.created", sub)).await["outcome"],
        "applied"
    );
    assert_eq!(subscription_row(s, &id).await, Some(("active".into(), "pro".into(), false)));
    assert!(page(s, &user, "/billing").await.contains("<strong id=\"plan\">Pro</strong>"));
    // Metadata naming nobody we know is not trusted to create anything.
    let stray = s.stripe().create_subscription(PRO, json!({ "user_id": "987654321987" }));
    let stray_id = stray["id"].as_str().unwrap().to_string();
    assert_eq!(
        deliver_ok(s, &s.stripe().event("customer.subscription.created", stray)).await["outcome"],
        "ignored"
    );
    assert_eq!(subscription_row(s, &stray_id).await, None);
}
