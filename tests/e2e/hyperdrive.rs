//! Hyperdrive's query cache: reads answered from a cache for 60 s that no write invalidates.
//! `DB` must be an uncached config (the suite runs through an uncached stand-in), so decisions
//! read right after a write see that write. The same journeys on a stack whose `DB` stand-in
//! caches, as Hyperdrive does by default, show that these tests would catch a cached `DB`.

use crate::support::billing::{checkout, location, post_form, subscribe};
use crate::support::db_proxy::Mode;
use crate::support::fakes::stripe::{PACK, PRO, STARTER};
use crate::support::hyperdrive::{is_cacheable_read, Caching};
use crate::support::session::unique_email;
use crate::support::tools::grant;
use crate::support::{Options, Stack};
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        signing_out_everywhere_takes_effect_on_the_very_next_request,
        a_first_checkout_works_and_a_second_purchase_right_after_it_too,
        a_second_plan_checkout_right_after_subscribing_is_sent_to_the_portal,
        a_cached_db_binding_would_be_caught_by_these_tests,
        the_stand_in_caches_only_what_hyperdrive_would,
        a_multi_row_read_that_tokio_postgres_cannot_follow_is_retried_once,
    ]
}

/// Another session of a user who just signed out everywhere: its next request's status, after
/// both sessions were used (so a caching Hyperdrive would hold the session check).
async fn other_session_after_signing_out_everywhere(s: &Stack) -> u16 {
    let email = unique_email("hd-everywhere");
    let (laptop, phone) = (s.sign_in_as(&email).await, s.sign_in_as(&email).await);
    for user in [&laptop, &phone] {
        let res = user.client.get(s.url("/dashboard")).send().await.unwrap();
        assert_eq!(res.status(), 200, "signed in");
    }
    let res = post_form(s, &laptop, "/account/signout-everywhere", &[]).await;
    assert_eq!(res.status(), 303, "signed out everywhere");
    phone.client.get(s.url("/dashboard")).send().await.unwrap().status().as_u16()
}

/// A new customer's first checkout and a second purchase right after it: both statuses (303 to
/// Stripe Checkout expected for each).
async fn two_purchases_in_a_row(s: &Stack) -> (u16, u16) {
    let user = s.sign_in_new("hd-first-checkout").await;
    let first = checkout(s, &user, PACK, "").await.status().as_u16();
    let second = checkout(s, &user, PACK, "").await.status().as_u16();
    (first, second)
}

/// Whether a subscriber choosing another plan right after subscribing is sent to the portal
/// (the answer's status and location otherwise).
async fn second_plan_checkout_is_refused(s: &Stack) -> Result<(), (u16, String)> {
    let user = s.sign_in_new("hd-second-plan").await;
    subscribe(s, &user, STARTER).await;
    let res = checkout(s, &user, PRO, "").await;
    let (status, to) = (res.status().as_u16(), location(&res));
    match status == 303 && to.starts_with(&format!("{}/portal/", s.stripe().url())) {
        true => Ok(()),
        false => Err((status, to)),
    }
}

async fn signing_out_everywhere_takes_effect_on_the_very_next_request(s: &'static Stack) {
    assert_eq!(other_session_after_signing_out_everywhere(s).await, 303, "the other session ended");
}

async fn a_first_checkout_works_and_a_second_purchase_right_after_it_too(s: &'static Stack) {
    assert_eq!(two_purchases_in_a_row(s).await, (303, 303));
}

async fn a_second_plan_checkout_right_after_subscribing_is_sent_to_the_portal(s: &'static Stack) {
    let refused = second_plan_checkout_is_refused(s).await;
    assert_eq!(refused, Ok(()), "a second subscription must be refused (the portal instead)");
}

/// The negative control: the same journeys through a stand-in that caches like Hyperdrive's
/// default config break, so the tests above are able to fail.
async fn a_cached_db_binding_would_be_caught_by_these_tests(_: &'static Stack) {
    let stack =
        Stack::start(Options { db_proxy: Mode::Hyperdrive(Caching::Enabled), ..Options::named("hd-cached") })
            .await;
    let s = &stack;
    // The session check reads the session's own row and touches its last-seen time in one
    // statement (a write: never cached), so signing out everywhere holds even through a cache.
    assert_eq!(other_session_after_signing_out_everywhere(s).await, 303, "sessions survive a cache");
    // The customer is saved and read back in one statement (a write: never cached), so even a
    // cached "no customer" before it breaks no purchase (`db::billing::save_customer`).
    assert_eq!(two_purchases_in_a_row(s).await, (303, 303), "purchases survive a cache");
    // But the cached "no subscription" lets a second plan through to Stripe Checkout.
    let second_plan = second_plan_checkout_is_refused(s).await;
    let checkout = format!("{}/checkout/", s.stripe().url());
    assert!(
        matches!(&second_plan, Err((303, to)) if to.starts_with(&checkout)),
        "through a cache a second subscription is sold: {second_plan:?}"
    );
    assert!(s.hyperdrive.as_ref().is_some_and(|h| h.hits() > 0), "answers came from the cache");
}

async fn the_stand_in_caches_only_what_hyperdrive_would(shared: &'static Stack) {
    let hyperdrive =
        shared.hyperdrive.as_ref().expect("the suite's DB goes through the protocol-reading stand-in");
    assert_eq!(hyperdrive.caching(), Caching::Disabled, "and does not cache, as production's DB must not");
    for read in [
        ghosttools::db::billing::subscriptions_of_sql(),
        "SELECT id, email, session_version FROM users WHERE id = $1".into(),
        "WITH x AS (SELECT 1) SELECT * FROM x".into(),
    ] {
        assert!(is_cacheable_read(&read), "a read: {read}");
    }
    for not_cached in [
        "INSERT INTO billing_customers (user_id, stripe_customer_id) VALUES ($1, $2) RETURNING 1",
        "WITH moved AS (UPDATE users SET name = $2 WHERE id = $1 RETURNING id) SELECT id FROM moved",
        "SELECT id FROM checkout_sessions WHERE updated_at > now() - interval '30 days'",
        "SELECT balance FROM credit_balances WHERE user_id = $1 FOR UPDATE",
        "SELECT nextval('users_id_seq')",
        "SELECT random()",
        "SELECT CURRENT_TIMESTAMP",
        "BEGIN",
    ] {
        assert!(!is_cacheable_read(not_cached), "not cached: {not_cached}");
    }
}

/// tokio-postgres on Hyperdrive has been reported to fail reading multi-row answers with
/// "unexpected message from server" (workers-sdk #13797, #13798): such a read is retried once.
async fn a_multi_row_read_that_tokio_postgres_cannot_follow_is_retried_once(_: &'static Stack) {
    let mode = Mode::Hyperdrive(Caching::Disabled);
    let stack = Stack::start(Options { db_proxy: mode, ..Options::named("hd-garbled") }).await;
    let s = &stack;
    let hyperdrive = s.hyperdrive.as_ref().unwrap();
    let user = s.sign_in_new("hd-garbled").await;
    grant(s, user.user_id, 40).await;
    let dashboard = || async { user.client.get(s.url("/dashboard")).send().await.unwrap().status().as_u16() };
    // The dashboard's one statement answers two rows or more: the balance and the grant.
    hyperdrive.garble_multi_row_answers(1);
    assert_eq!(dashboard().await, 200, "the garbled read was retried");
    assert_eq!(hyperdrive.garbled(), 1);
    // Twice in a row is a failure the user sees, not a loop.
    hyperdrive.garble_multi_row_answers(2);
    assert_eq!(dashboard().await, 503, "retried once only");
    assert_eq!(hyperdrive.garbled(), 3);
    assert_eq!(dashboard().await, 200, "the next request is fine");
}
