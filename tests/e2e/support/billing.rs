//! Helpers for the billing tests: buying through the Worker, completing in the fake Stripe,
//! and reading what the database says.

use super::fakes::stripe::StripeFake;
use super::session::SignedIn;
use super::Stack;
use serde_json::Value;

impl Stack {
    pub fn stripe(&self) -> &StripeFake {
        &self.fakes.stripe
    }
}

/// POSTs a form as the user's browser would (same origin, with the session's CSRF token).
pub async fn post_form(s: &Stack, user: &SignedIn, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut form: Vec<(&str, &str)> = vec![("csrf", user.csrf.as_str())];
    form.extend_from_slice(fields);
    user.client
        .post(s.url(path))
        .header("origin", s.url(""))
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

/// POST /billing/checkout for `price`; answers the response (303 expected).
pub async fn checkout(s: &Stack, user: &SignedIn, price: &str, referral: &str) -> reqwest::Response {
    post_form(s, user, "/billing/checkout", &[("price", price), ("referral", referral)]).await
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

/// Starts a checkout and answers the Checkout Session id Stripe made for it.
pub async fn start_checkout(s: &Stack, user: &SignedIn, price: &str) -> String {
    let res = checkout(s, user, price, "").await;
    assert_eq!(res.status(), 303, "checkout should redirect: {}", res.text().await.unwrap_or_default());
    let to = location(&res);
    assert!(to.starts_with(&format!("{}/checkout/cs_test_", s.stripe().url())), "redirected to {to}");
    to.rsplit('/').next().unwrap().to_string()
}

/// The event of `kind` among `events`.
pub fn find<'a>(events: &'a [Value], kind: &str) -> &'a Value {
    events.iter().find(|e| e["type"] == kind).unwrap_or_else(|| panic!("no {kind} event"))
}

/// Delivers the event and expects a 200.
pub async fn deliver_ok(s: &Stack, event: &Value) -> Value {
    let (status, body) = s.stripe().deliver(event).await;
    assert_eq!(status, 200, "{} answered {status}: {body}", event["type"]);
    serde_json::from_str(&body).unwrap()
}

/// Checkout for a plan, paid, with its three events delivered; answers the subscription id.
pub async fn subscribe(s: &Stack, user: &SignedIn, price: &str) -> String {
    let session = start_checkout(s, user, price).await;
    let events = s.stripe().complete_session(&session, true);
    for e in &events {
        deliver_ok(s, e).await;
    }
    s.stripe().session(&session)["subscription"].as_str().unwrap().to_string()
}

pub async fn balance(s: &Stack, user_id: i64) -> i64 {
    let db = s.sql().await;
    let row =
        db.query_opt("SELECT balance FROM credit_balances WHERE user_id = $1", &[&user_id]).await.unwrap();
    row.map(|r| r.get(0)).unwrap_or(0)
}

/// The Stripe customer id we keep for the user (the user must have one).
pub async fn customer_id(s: &Stack, user_id: i64) -> String {
    let db = s.sql().await;
    db.query_one("SELECT stripe_customer_id FROM billing_customers WHERE user_id = $1", &[&user_id])
        .await
        .unwrap()
        .get(0)
}

/// (delta, reason, reference) of the user's ledger, oldest first.
pub async fn ledger(s: &Stack, user_id: i64) -> Vec<(i64, String, String)> {
    let db = s.sql().await;
    let rows = db
        .query(
            "SELECT delta, reason, reference FROM credit_ledger WHERE user_id = $1 ORDER BY id",
            &[&user_id],
        )
        .await
        .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect()
}

/// (outcome, attempts, detail) of a recorded webhook event.
pub async fn event_row(s: &Stack, id: &str) -> Option<(String, i32, Option<String>)> {
    let db = s.sql().await;
    let row = db
        .query_opt("SELECT outcome, attempts, detail FROM stripe_events WHERE id = $1", &[&id])
        .await
        .unwrap();
    row.map(|r| (r.get(0), r.get(1), r.get(2)))
}

/// (status, plan, cancel_at_period_end) of our copy of a subscription.
pub async fn subscription_row(s: &Stack, id: &str) -> Option<(String, String, bool)> {
    let db = s.sql().await;
    let row = db
        .query_opt("SELECT status, plan, cancel_at_period_end FROM subscriptions WHERE id = $1", &[&id])
        .await
        .unwrap();
    row.map(|r| (r.get(0), r.get(1), r.get(2)))
}

pub async fn checkout_status(s: &Stack, session: &str) -> String {
    let db = s.sql().await;
    db.query_one("SELECT status FROM checkout_sessions WHERE id = $1", &[&session]).await.unwrap().get(0)
}

/// The page's HTML as the user sees it (expects 200).
pub async fn page(s: &Stack, user: &SignedIn, path: &str) -> String {
    let res = user.client.get(s.url(path)).send().await.unwrap();
    assert_eq!(res.status(), 200, "GET {path}");
    res.text().await.unwrap()
}

/// Spends credits with the ledger's own statement, as a tool run does.
pub async fn spend(s: &Stack, user_id: i64, amount: i64) {
    let reference = format!("e2e-spend-{}", crate::support::tools::unique());
    let row = s
        .sql()
        .await
        .query_opt(
            ghosttools::db::credits::SPEND_SQL,
            &[&user_id, &amount, &"agentwrite", &reference, &None::<&str>],
        )
        .await
        .unwrap();
    assert!(row.is_some(), "spent");
}

/// Buys the 50-credit pack ($5.00) and delivers its completion; answers the charge.
pub async fn buy_pack(s: &Stack, user: &SignedIn) -> String {
    let session = start_checkout(s, user, super::fakes::stripe::PACK).await;
    let events = s.stripe().complete_session(&session, true);
    deliver_ok(s, find(&events, "checkout.session.completed")).await;
    assert_eq!(balance(s, user.user_id).await, 50);
    s.stripe().charge_of_session(&session)
}

/// (credits taken back, credits not recovered) for a charge.
pub async fn reversal(s: &Stack, charge: &str) -> (i64, i64) {
    let row = s
        .sql()
        .await
        .query_one(
            "SELECT credits_taken, credits_unrecovered FROM charge_reversals WHERE charge_id = $1",
            &[&charge],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// The id of an event's object.
pub fn id_of(event: &Value) -> String {
    event["data"]["object"]["id"].as_str().unwrap().to_string()
}
