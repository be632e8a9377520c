//! Billing as a person sees it: live prices, the success page that fulfils at once (and only
//! once, even racing the webhook), other people's sessions, the billing page, and the whole
//! journey through the fake's hosted checkout page; reloads of the success page do not spend
//! Stripe's rate limit.

use crate::support::billing::{balance, deliver_ok, find, ledger, location, page, start_checkout, subscribe};
use crate::support::fakes::stripe::{StripeFake, PACK, STARTER};
use crate::support::{Fakes, Options, Stack};
use crate::trials;
use libtest_mimic::Trial;
use std::time::Duration;

pub fn tests() -> Vec<Trial> {
    trials![
        the_pricing_page_shows_live_prices_from_stripe,
        pricing_follows_the_configured_stripe_prices_and_leaves_out_broken_ones,
        the_success_page_grants_credits_at_once_when_the_webhook_is_late,
        the_success_page_racing_the_webhook_grants_credits_once,
        another_users_checkout_session_is_not_found_on_the_success_page,
        the_success_page_says_when_a_delayed_payment_is_still_on_its_way,
        reloading_a_fulfilled_success_page_answers_from_our_records_without_asking_stripe,
        reloading_an_unfulfilled_success_page_asks_stripe_a_limited_number_of_times,
        the_billing_page_shows_plan_status_renewal_balance_and_ledger,
        the_hosted_checkout_page_completes_and_comes_back_to_the_success_page,
    ]
}

async fn the_pricing_page_shows_live_prices_from_stripe(s: &'static Stack) {
    let user = s.sign_in_new("pricing").await;
    let html = page(s, &user, "/pricing").await;
    for text in [
        "Starter",
        "$9.00",
        "Pro",
        "$29.00",
        "per month",
        "100 credits per month",
        "500 credits",
        "50 credit pack",
        "$5.00",
    ] {
        assert!(html.contains(text), "pricing lacks {text}");
    }
    assert_eq!(html.matches("action=\"/billing/checkout\"").count(), 3);
    assert!(html.contains(&format!("name=\"price\" value=\"{STARTER}\"")));
    assert!(html.contains("name=\"referral\" value=\"\""), "a referral field for the page's script");
}

async fn pricing_follows_the_configured_stripe_prices_and_leaves_out_broken_ones(_: &'static Stack) {
    let fakes = Fakes::start().await;
    let stripe: &StripeFake = &fakes.stripe;
    stripe.create_price(
        "price_e2e_pro_yearly_eur",
        "Pro yearly",
        "recurring",
        Some(("year", 1)),
        29000,
        "eur",
        Some("6000"),
    );
    stripe.create_price("price_e2e_pack_gbp", "Big pack", "one_time", None, 1999, "gbp", Some("250"));
    stripe.create_price("price_e2e_pack_broken", "Broken pack", "one_time", None, 100, "usd", None);
    let s = Stack::start(Options {
        vars: vec![
            ("STRIPE_PRO_PRICE_ID", Some("price_e2e_pro_yearly_eur".into())),
            (
                "STRIPE_CREDIT_PACK_PRICE_IDS",
                Some("price_e2e_pack_gbp, price_e2e_pack_broken, price_e2e_missing".into()),
            ),
        ],
        fakes: Some(fakes),
        ..Options::named("pricing-live")
    })
    .await;
    let res = s.get("/pricing").await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    for text in [
        "Pro yearly",
        "€290.00",
        "per year",
        "6000 credits per year",
        "Big pack",
        "£19.99",
        "250 credits",
        "Starter",
        "$9.00",
    ] {
        assert!(html.contains(text), "pricing lacks {text}");
    }
    assert!(!html.contains("Broken pack"), "a price without metadata[credits] is not sold");
    assert!(!html.contains("$29.00"), "the old Pro price is not configured here");
    // The operator is told why (the Worker's console reaches the log file a moment later).
    for why in ["price_e2e_pack_broken needs metadata[credits]", "price_e2e_missing does not exist"] {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !s.worker.log_text().contains(why) {
            assert!(std::time::Instant::now() < deadline, "the log does not say: {why}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Read once, then served from the isolate's cache for a while.
    let reads = || s.fakes.stripe.requests(|r| r.path == "/v1/prices/price_e2e_pack_gbp").len();
    let before = reads();
    assert_eq!(s.get("/pricing").await.status(), 200);
    assert_eq!(reads(), before, "cached briefly");
}

async fn the_success_page_grants_credits_at_once_when_the_webhook_is_late(s: &'static Stack) {
    let user = s.sign_in_new("success-first").await;
    let session = start_checkout(s, &user, PACK).await;
    let events = s.stripe().complete_session(&session, true);
    let html = page(s, &user, &format!("/billing/success?session_id={session}")).await;
    assert!(html.contains("50 credits from 50 credit pack were added"), "{html}");
    assert!(html.contains("<strong id=\"balance\">50</strong>"));
    assert_eq!(balance(s, user.user_id).await, 50);
    // The webhook arrives later and finds the work done.
    deliver_ok(s, find(&events, "checkout.session.completed")).await;
    assert_eq!(balance(s, user.user_id).await, 50);
    // Reloading the page grants nothing more.
    page(s, &user, &format!("/billing/success?session_id={session}")).await;
    assert_eq!(ledger(s, user.user_id).await.len(), 1);
}

async fn the_success_page_racing_the_webhook_grants_credits_once(s: &'static Stack) {
    let user = s.sign_in_new("success-race").await;
    let session = start_checkout(s, &user, PACK).await;
    let events = s.stripe().complete_session(&session, true);
    let completed = find(&events, "checkout.session.completed").clone();
    let mut tasks = Vec::new();
    for i in 0..10 {
        let (client, url, event) = (
            user.client.clone(),
            s.url(&format!("/billing/success?session_id={session}")),
            completed.clone(),
        );
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                client.get(url).send().await.unwrap().status().as_u16()
            } else {
                crate::support::shared().stripe().deliver(&event).await.0
            }
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(balance(s, user.user_id).await, 50);
    assert_eq!(ledger(s, user.user_id).await, vec![(50, "purchase".into(), session)]);
}

async fn another_users_checkout_session_is_not_found_on_the_success_page(s: &'static Stack) {
    let buyer = s.sign_in_new("buyer").await;
    let other = s.sign_in_new("snooper").await;
    let session = start_checkout(s, &buyer, PACK).await;
    s.stripe().complete_session(&session, true);
    let res =
        other.client.get(s.url(&format!("/billing/success?session_id={session}"))).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(balance(s, other.user_id).await, 0);
    assert_eq!(balance(s, buyer.user_id).await, 0, "someone else's visit fulfils nothing");
    for bad in ["", "?session_id=", "?session_id=cus_123", "?session_id={CHECKOUT_SESSION_ID}"] {
        let res = other.client.get(s.url(&format!("/billing/success{bad}"))).send().await.unwrap();
        assert_eq!(res.status(), 400, "{bad}");
    }
    let res =
        other.client.get(s.url("/billing/success?session_id=cs_test_doesnotexist")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let res = s.get(&format!("/billing/success?session_id={session}")).await;
    assert_eq!(res.status(), 303, "visitors sign in first");
}

async fn the_success_page_says_when_a_delayed_payment_is_still_on_its_way(s: &'static Stack) {
    let user = s.sign_in_new("success-delayed").await;
    let session = start_checkout(s, &user, PACK).await;
    s.stripe().complete_session(&session, false);
    let html = page(s, &user, &format!("/billing/success?session_id={session}")).await;
    assert!(html.contains("Payment processing"), "{html}");
    assert_eq!(balance(s, user.user_id).await, 0);
}

/// How many requests naming `id` (a session, a subscription) Stripe has received.
fn stripe_asked_about(s: &Stack, id: &str) -> usize {
    s.stripe().requests(|r| r.path.contains(id) || r.query.as_deref().is_some_and(|q| q.contains(id))).len()
}

async fn reloading_a_fulfilled_success_page_answers_from_our_records_without_asking_stripe(
    s: &'static Stack,
) {
    let user = s.sign_in_new("success-reload").await;
    let session = start_checkout(s, &user, PACK).await;
    s.stripe().complete_session(&session, true);
    let url = format!("/billing/success?session_id={session}");
    assert!(page(s, &user, &url).await.contains("were added"));
    let asked = stripe_asked_about(s, &session);
    assert!(asked >= 1, "the first visit asks Stripe, and fulfils");
    for _ in 0..12 {
        let html = page(s, &user, &url).await;
        assert!(html.contains("50 credits from 50 credit pack were added"), "{html}");
        assert!(html.contains("<strong id=\"balance\">50</strong>"));
    }
    assert_eq!(stripe_asked_about(s, &session), asked, "a fulfilled checkout is answered from our records");

    // A plan whose webhook came first: the success page asks Stripe nothing at all.
    let subscriber = s.sign_in_new("success-after-webhook").await;
    let session = start_checkout(s, &subscriber, STARTER).await;
    for e in &s.stripe().complete_session(&session, true) {
        deliver_ok(s, e).await;
    }
    let subscription = s.stripe().session(&session)["subscription"].as_str().unwrap().to_string();
    let before = (stripe_asked_about(s, &session), stripe_asked_about(s, &subscription));
    let html = page(s, &subscriber, &format!("/billing/success?session_id={session}")).await;
    assert!(html.contains("subscription is active"), "{html}");
    assert_eq!((stripe_asked_about(s, &session), stripe_asked_about(s, &subscription)), before);
}

async fn reloading_an_unfulfilled_success_page_asks_stripe_a_limited_number_of_times(s: &'static Stack) {
    let user = s.sign_in_new("success-unpaid").await;
    let session = start_checkout(s, &user, PACK).await;
    let url = s.url(&format!("/billing/success?session_id={session}"));
    // The default policy: 10 questions to Stripe per user and session in 10 minutes.
    for i in 0..10 {
        let res = user.client.get(&url).send().await.unwrap();
        assert_eq!(res.status(), 200, "visit {i}");
        assert!(res.text().await.unwrap().contains("Checkout not finished"));
    }
    let asked = stripe_asked_about(s, &session);
    assert_eq!(asked, 10, "each visit to an unpaid checkout asks Stripe");
    let refused = user.client.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(stripe_asked_about(s, &session), asked, "the limited visit does not reach Stripe");
    // The limit is per session: the same user's next checkout is not held up by it.
    let second = start_checkout(s, &user, PACK).await;
    s.stripe().complete_session(&second, true);
    assert!(page(s, &user, &format!("/billing/success?session_id={second}")).await.contains("were added"));
    // Once paid (the webhook fulfils it), the page answers from our records again.
    for e in &s.stripe().complete_session(&session, true) {
        deliver_ok(s, e).await;
    }
    let html = page(s, &user, &format!("/billing/success?session_id={session}")).await;
    assert!(html.contains("were added"), "{html}");
    assert_eq!(balance(s, user.user_id).await, 100);
}

async fn the_billing_page_shows_plan_status_renewal_balance_and_ledger(s: &'static Stack) {
    let user = s.sign_in_new("billing-page").await;
    let html = page(s, &user, "/billing").await;
    assert!(html.contains("<strong id=\"plan\">Free</strong>"));
    assert!(html.contains("No credit changes yet"));
    assert!(!html.contains("Manage subscription"), "no billing account yet");
    subscribe(s, &user, STARTER).await;
    let html = page(s, &user, "/billing").await;
    assert!(html.contains("<strong id=\"plan\">Starter</strong>"));
    assert!(html.contains("<span id=\"status\">Active</span>"));
    assert!(html.contains("Renews on"));
    assert!(html.contains("<strong id=\"balance\">100</strong>"));
    assert!(html.contains("Plan allowance · Starter plan"), "{html}");
    assert!(html.contains("action=\"/billing/portal\""));
}

async fn the_hosted_checkout_page_completes_and_comes_back_to_the_success_page(s: &'static Stack) {
    let user = s.sign_in_new("journey").await;
    let res = crate::support::billing::checkout(s, &user, PACK, "").await;
    let checkout_url = location(&res);
    let session = checkout_url.rsplit('/').next().unwrap().to_string();
    let browser = crate::support::client().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let hosted = browser.get(&checkout_url).send().await.unwrap();
    assert_eq!(hosted.status(), 200);
    assert!(hosted.text().await.unwrap().contains(&format!("action=\"/checkout/{session}/pay\"")));
    let paid = browser.post(format!("{checkout_url}/pay")).form(&[("method", "card")]).send().await.unwrap();
    assert_eq!(paid.status(), 303);
    let back = location(&paid);
    assert_eq!(back, s.url(&format!("/billing/success?session_id={session}")));
    let res = user.client.get(&back).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("were added"));
    // The fake delivers the signed webhook in the background, as Stripe does.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let n: i64 = s
            .sql()
            .await
            .query_one(
                "SELECT count(*) FROM stripe_events WHERE object_id = $1 AND outcome = 'applied'",
                &[&session],
            )
            .await
            .unwrap()
            .get(0);
        if n == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the webhook never arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(balance(s, user.user_id).await, 50, "once, whichever came first");
}
