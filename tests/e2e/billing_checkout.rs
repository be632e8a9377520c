//! Checkout: exactly what Stripe is sent, the customer made once, the portal instead of a second
//! subscription, refusals, and how Stripe's failures are retried or explained.

use crate::support::billing::{checkout, customer_id, location, post_form, start_checkout, subscribe};
use crate::support::fakes::recorder::Recorded;
use crate::support::fakes::stripe::{Fault, PACK, PRO, SECRET_KEY, STARTER};
use crate::support::fakes::stripe_wire::error;
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        buying_a_credit_pack_sends_stripe_exactly_the_expected_checkout_fields,
        a_plan_checkout_carries_the_referral_and_our_user_id_on_the_subscription,
        the_stripe_customer_is_created_once_and_reused,
        concurrent_first_checkouts_all_reach_stripe_with_one_customer,
        a_subscriber_choosing_another_plan_is_sent_to_the_portal,
        checkout_refuses_unknown_products_malformed_referrals_and_missing_csrf,
        a_visitor_is_asked_to_sign_in_before_buying,
        a_token_whose_session_ended_buys_nothing,
        stripe_conflicts_and_server_errors_are_retried_with_the_same_idempotency_key,
        stripe_should_retry_false_stops_retries_and_the_user_gets_a_clear_error,
        a_card_error_reaches_the_customer_but_other_stripe_messages_do_not,
        a_slow_stripe_is_abandoned_after_the_timeout_and_retried,
        pages_allow_their_forms_to_redirect_to_checkout_and_the_portal,
        manage_subscription_opens_a_portal_session_that_returns_to_billing,
    ]
}

fn for_user(r: &Recorded, path: &str, user_id: i64) -> bool {
    r.method == "POST"
        && r.path == path
        && r.form().iter().any(|(k, v)| k == "metadata[user_id]" && v == &user_id.to_string())
}

fn sessions_created(s: &Stack, user_id: i64) -> Vec<Recorded> {
    s.stripe().requests(|r| for_user(r, "/v1/checkout/sessions", user_id))
}

async fn buying_a_credit_pack_sends_stripe_exactly_the_expected_checkout_fields(s: &'static Stack) {
    let user = s.sign_in_new("pack-fields").await;
    start_checkout(s, &user, PACK).await;
    let customers = s.stripe().requests(|r| for_user(r, "/v1/customers", user.user_id));
    assert_eq!(customers.len(), 1);
    let id = user.user_id.to_string();
    assert_eq!(
        customers[0].form(),
        vec![("email".to_string(), user.email.clone()), ("metadata[user_id]".to_string(), id.clone())]
    );
    let sessions = sessions_created(s, user.user_id);
    assert_eq!(sessions.len(), 1);
    let req = &sessions[0];
    let customer_id = customer_id(s, user.user_id).await;
    let site = s.url("");
    let expected: Vec<(String, String)> = [
        ("mode", "payment".to_string()),
        ("customer", customer_id),
        ("line_items[0][price]", PACK.to_string()),
        ("line_items[0][quantity]", "1".to_string()),
        ("success_url", format!("{site}/billing/success?session_id={{CHECKOUT_SESSION_ID}}")),
        ("cancel_url", format!("{site}/pricing?checkout=cancelled")),
        ("allow_promotion_codes", "true".to_string()),
        ("metadata[user_id]", id.clone()),
        ("payment_intent_data[metadata][user_id]", id.clone()),
        ("invoice_creation[enabled]", "true".to_string()),
        ("invoice_creation[invoice_data][metadata][user_id]", id.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(req.form(), expected, "no client_reference_id without a referral, nothing else either");
    assert!(req.text().contains("line_items[0][price]=price_e2e_pack"), "brackets unescaped: {}", req.text());
    assert_eq!(req.header("authorization"), Some(format!("Bearer {SECRET_KEY}").as_str()));
    assert_eq!(req.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(req.header("stripe-version"), Some("2025-03-31.basil"));
    let key = req.header("idempotency-key").expect("an Idempotency-Key");
    assert!(key.len() >= 32 && key.len() <= 255, "{key}");
    assert!(customers[0].header("idempotency-key").is_some());
}

async fn a_plan_checkout_carries_the_referral_and_our_user_id_on_the_subscription(s: &'static Stack) {
    let user = s.sign_in_new("plan-fields").await;
    let referral = "d6b2c2f0-1a2b-4c3d-8e9f-0a1b2c3d4e5f";
    let res = checkout(s, &user, STARTER, referral).await;
    assert_eq!(res.status(), 303);
    let req = sessions_created(s, user.user_id).pop().expect("a session was created");
    let form = req.form();
    let get = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    assert_eq!(get("mode"), Some("subscription"));
    assert_eq!(get("line_items[0][price]"), Some(STARTER));
    assert_eq!(get("client_reference_id"), Some(referral));
    assert_eq!(get("metadata[user_id]"), Some(user.user_id.to_string().as_str()));
    assert_eq!(get("subscription_data[metadata][user_id]"), Some(user.user_id.to_string().as_str()));
    assert_eq!(get("payment_intent_data[metadata][user_id]"), None, "not allowed in subscription mode");
    let session_id = location(&res).rsplit('/').next().unwrap().to_string();
    assert_eq!(s.stripe().session(&session_id)["client_reference_id"], referral);
}

async fn the_stripe_customer_is_created_once_and_reused(s: &'static Stack) {
    let user = s.sign_in_new("customer-once").await;
    let first = start_checkout(s, &user, PACK).await;
    let second = start_checkout(s, &user, STARTER).await;
    let customers = s.stripe().requests(|r| for_user(r, "/v1/customers", user.user_id));
    assert_eq!(customers.len(), 1, "one customer per user");
    assert_eq!(s.stripe().session(&first)["customer"], s.stripe().session(&second)["customer"]);
    let customer = s.stripe().customer(s.stripe().session(&first)["customer"].as_str().unwrap());
    assert_eq!(customer["metadata"]["user_id"], user.user_id.to_string());
}

/// A user without a customer clicks buy in several tabs at once: every checkout starts (no 500
/// from the second unique index), all on the one customer. Stripe answers the racing customer
/// creations together, so their inserts meet in Postgres. Repeated over 20 users because a race
/// is a matter of chance: with the old `ON CONFLICT (user_id)`, 12 rounds hit the 500 in two
/// runs of three.
async fn concurrent_first_checkouts_all_reach_stripe_with_one_customer(s: &'static Stack) {
    const TABS: u32 = 10;
    for round in 0..20 {
        let user = s.sign_in_new(&format!("racing-checkouts-{round}")).await;
        s.stripe().add_fault(
            Fault::new("POST", "/v1/customers", 0)
                .when_form("metadata[user_id]", user.user_id)
                .gathered(TABS),
        );
        let answers = futures_util::future::join_all((0..TABS).map(|_| checkout(s, &user, PACK, ""))).await;
        for res in answers {
            let status = res.status();
            let to = location(&res);
            assert_eq!(status, 303, "round {round}: {}", res.text().await.unwrap_or_default());
            assert!(to.starts_with(&format!("{}/checkout/cs_test_", s.stripe().url())), "{to}");
        }
        let db = s.sql().await;
        let stored: Vec<String> = db
            .query("SELECT stripe_customer_id FROM billing_customers WHERE user_id = $1", &[&user.user_id])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(stored.len(), 1, "one customer row");
        let sessions = sessions_created(s, user.user_id);
        assert_eq!(sessions.len(), TABS as usize);
        for session in sessions {
            assert!(
                session.form().contains(&("customer".to_string(), stored[0].clone())),
                "on the one customer"
            );
        }
    }
}

async fn a_subscriber_choosing_another_plan_is_sent_to_the_portal(s: &'static Stack) {
    let user = s.sign_in_new("switch-plan").await;
    subscribe(s, &user, STARTER).await;
    let before = sessions_created(s, user.user_id).len();
    let res = checkout(s, &user, PRO, "").await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with(&format!("{}/portal/bps_", s.stripe().url())), "{}", location(&res));
    assert_eq!(sessions_created(s, user.user_id).len(), before, "no second subscription checkout");
    // Credit packs can still be bought on top of a plan.
    start_checkout(s, &user, PACK).await;
}

async fn checkout_refuses_unknown_products_malformed_referrals_and_missing_csrf(s: &'static Stack) {
    let user = s.sign_in_new("refusals").await;
    let res = checkout(s, &user, "price_not_for_sale", "").await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("not on sale"));
    let res = checkout(s, &user, "", "").await;
    assert_eq!(res.status(), 400);
    let res = checkout(s, &user, PACK, "ref id with spaces&x=1").await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("referral"));
    let res = user
        .client
        .post(s.url("/billing/checkout"))
        .form(&[("price", PACK), ("referral", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "no CSRF token");
    let res = user
        .client
        .post(s.url("/billing/checkout"))
        .header("origin", "https://evil.example")
        .form(&[("csrf", user.csrf.as_str()), ("price", PACK)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "another site's form");
    assert_eq!(user.client.get(s.url("/billing/checkout")).send().await.unwrap().status(), 405);
    assert!(sessions_created(s, user.user_id).is_empty(), "Stripe was never asked");
    assert!(s.stripe().requests(|r| for_user(r, "/v1/customers", user.user_id)).is_empty());
}

async fn a_visitor_is_asked_to_sign_in_before_buying(s: &'static Stack) {
    let res = s.get("/pricing").await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(!html.contains("action=\"/billing/checkout\""), "no checkout forms for visitors");
    assert!(html.contains("href=\"/signin?next=%2Fpricing\""));
    let res = s.get("/billing").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/signin?next=%2Fbilling");
}

/// The buyer's standing is read together with the session check (one round trip): a token
/// that is still validly signed but whose session was ended (a copy kept after sign-out) must
/// still be sent to sign in, with nothing bought, no customer made, no checkout recorded.
async fn a_token_whose_session_ended_buys_nothing(s: &'static Stack) {
    let user = s.sign_in_new("ended-buyer").await;
    let sql = s.sql().await;
    sql.execute("DELETE FROM sessions WHERE sid = $1", &[&user.sid]).await.unwrap();
    let res = checkout(s, &user, PACK, "").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/signin?next=%2Fpricing");
    let row = sql
        .query_one(
            "SELECT (SELECT count(*) FROM checkout_sessions WHERE user_id = $1),
                    (SELECT count(*) FROM billing_customers WHERE user_id = $1)",
            &[&user.user_id],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (0, 0), "nothing bought, no customer made");
}

async fn stripe_conflicts_and_server_errors_are_retried_with_the_same_idempotency_key(s: &'static Stack) {
    let user = s.sign_in_new("retry").await;
    let lock = error(
        "invalid_request_error",
        Some("lock_timeout"),
        "This object cannot be accessed right now.",
        None,
    );
    s.stripe().add_fault(
        Fault::new("POST", "/v1/checkout/sessions", 409)
            .when_form("metadata[user_id]", user.user_id)
            .body(lock),
    );
    s.stripe().add_fault(
        Fault::new("POST", "/v1/checkout/sessions", 503).when_form("metadata[user_id]", user.user_id),
    );
    start_checkout(s, &user, PACK).await;
    let attempts = sessions_created(s, user.user_id);
    assert_eq!(attempts.len(), 3, "409, 503, then success");
    let keys: Vec<_> = attempts.iter().map(|r| r.header("idempotency-key").unwrap().to_string()).collect();
    assert!(keys.iter().all(|k| k == &keys[0]), "one key for one action: {keys:?}");
    assert!(attempts.iter().all(|r| r.body == attempts[0].body));
    // The next purchase is a new action: a new key.
    start_checkout(s, &user, PACK).await;
    let latest = sessions_created(s, user.user_id).pop().unwrap();
    assert_ne!(latest.header("idempotency-key").unwrap(), keys[0]);
}

async fn stripe_should_retry_false_stops_retries_and_the_user_gets_a_clear_error(s: &'static Stack) {
    let user = s.sign_in_new("no-retry").await;
    let fault = Fault::new("POST", "/v1/checkout/sessions", 503).when_form("metadata[user_id]", user.user_id);
    s.stripe().add_fault(fault.should_retry("false"));
    let res = checkout(s, &user, PACK, "").await;
    assert_eq!(res.status(), 502);
    let html = res.text().await.unwrap();
    assert!(html.contains("did not answer properly"), "{html}");
    assert!(!html.contains("fake"), "Stripe's developer message stays out of the page");
    assert_eq!(sessions_created(s, user.user_id).len(), 1, "Stripe said not to retry");
    let n: i64 = s
        .sql()
        .await
        .query_one("SELECT count(*) FROM checkout_sessions WHERE user_id = $1", &[&user.user_id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "nothing recorded for a session that was not made");
    start_checkout(s, &user, PACK).await;
}

async fn a_card_error_reaches_the_customer_but_other_stripe_messages_do_not(s: &'static Stack) {
    let user = s.sign_in_new("card-error").await;
    let declined = error("card_error", Some("card_declined"), "Your card was declined.", None);
    let path = "/v1/checkout/sessions";
    s.stripe()
        .add_fault(Fault::new("POST", path, 402).when_form("metadata[user_id]", user.user_id).body(declined));
    let res = checkout(s, &user, PACK, "").await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("Your card was declined."));
    let secret =
        error("invalid_request_error", None, "No such price: 'price_internal_detail'", Some("line_items"));
    s.stripe()
        .add_fault(Fault::new("POST", path, 400).when_form("metadata[user_id]", user.user_id).body(secret));
    let res = checkout(s, &user, PACK, "").await;
    assert_eq!(res.status(), 502);
    assert!(!res.text().await.unwrap().contains("price_internal_detail"));
}

async fn a_slow_stripe_is_abandoned_after_the_timeout_and_retried(s: &'static Stack) {
    let user = s.sign_in_new("slow").await;
    // The shared stack gives each Stripe attempt 5 s.
    let slow =
        Fault::new("POST", "/v1/customers", 0).when_form("metadata[user_id]", user.user_id).delay(6_000);
    s.stripe().add_fault(slow);
    let started = std::time::Instant::now();
    start_checkout(s, &user, PACK).await;
    assert!(started.elapsed() >= std::time::Duration::from_secs(5), "the first attempt was waited for");
    let attempts = s.stripe().requests(|r| for_user(r, "/v1/customers", user.user_id));
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].header("idempotency-key"), attempts[1].header("idempotency-key"));
    // The abandoned attempt finishes at the fake later and is answered from the idempotency
    // record: once the fake is done with both, still one customer, there and here.
    let both = |r: &Recorded| for_user(r, "/v1/customers", user.user_id);
    assert!(s.stripe().server.recorder.wait_done(std::time::Duration::from_secs(10), both).await);
    let id = user.user_id.to_string();
    let ours = |c: &&serde_json::Value| c.pointer("/metadata/user_id").and_then(|v| v.as_str()) == Some(&id);
    let at_stripe = s.stripe().state.lock().unwrap().customers.values().filter(ours).count();
    assert_eq!(at_stripe, 1, "one customer at Stripe");
    let n: i64 = s
        .sql()
        .await
        .query_one("SELECT count(*) FROM billing_customers WHERE user_id = $1", &[&user.user_id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

async fn pages_allow_their_forms_to_redirect_to_checkout_and_the_portal(s: &'static Stack) {
    let res = s.get("/pricing").await;
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_string();
    // The fake serves both Checkout and the portal here (in production: checkout.stripe.com and
    // billing.stripe.com); Chrome applies form-action to the redirect after the POST.
    assert!(csp.contains(&format!("form-action 'self' {};", s.stripe().url())), "{csp}");
}

async fn manage_subscription_opens_a_portal_session_that_returns_to_billing(s: &'static Stack) {
    let user = s.sign_in_new("portal").await;
    let res = post_form(s, &user, "/billing/portal", &[]).await;
    assert_eq!(res.status(), 400, "no billing account yet");
    start_checkout(s, &user, PACK).await;
    let res = post_form(s, &user, "/billing/portal", &[]).await;
    assert_eq!(res.status(), 303);
    let to = location(&res);
    assert!(to.starts_with(&format!("{}/portal/bps_", s.stripe().url())), "{to}");
    let customer = customer_id(s, user.user_id).await;
    let req = s
        .stripe()
        .requests(|r| r.path == "/v1/billing_portal/sessions" && r.form().iter().any(|(_, v)| v == &customer))
        .pop()
        .expect("portal session requested");
    assert_eq!(
        req.form(),
        vec![("customer".to_string(), customer), ("return_url".to_string(), s.url("/billing"))]
    );
    assert!(req.header("idempotency-key").is_some());
    let res = user.client.post(s.url("/billing/portal")).form(&[("x", "y")]).send().await.unwrap();
    assert_eq!(res.status(), 403, "CSRF checked");
}
