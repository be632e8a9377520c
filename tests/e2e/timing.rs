//! `Server-Timing`: every response says how many database connections and round trips, and
//! how many rate limiter calls, it waited for. Round trips are what a request pays at the edge
//! (each crosses to the origin database), so each route's count is a budget asserted here
//! (issue 23): health 1; any signed-in page, the webhook, AgentWrite's start and its finish,
//! the sign-in confirm and the checkout start at most 2 (BENCHMARKS.md lists them per route).

use crate::support::billing::{balance, checkout, deliver_ok, start_checkout, subscribe};
use crate::support::fakes::stripe::{is_dev_proxy_restart, Fault, PACK, STARTER, WEBHOOK_SECRET};
use crate::support::fakes::stripe_wire::signature_header;
use crate::support::session::unique_email;
use crate::support::sign_in::{confirm, emailed_token, sign_in_by_email};
use crate::support::tools::{brief, grant, insert_generation, insert_transcript, post_form};
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;
use serde_json::{json, Value};

pub fn tests() -> Vec<Trial> {
    trials![
        a_public_page_touches_neither_the_database_nor_the_limiter,
        the_signed_in_dashboard_takes_one_connection_and_two_round_trips,
        health_opens_one_connection_for_one_query,
        every_signed_in_page_takes_at_most_two_round_trips,
        a_webhook_event_we_do_not_act_on_takes_two_round_trips_and_its_replay_one,
        every_event_of_a_pack_purchase_takes_two_round_trips,
        every_event_of_a_plans_first_payment_takes_two_round_trips,
        every_event_of_a_refund_and_a_dispute_takes_two_round_trips,
        a_success_page_that_asks_stripe_takes_two_round_trips,
        agentwrite_starts_in_two_round_trips_and_finishes_in_one_more,
        signing_in_again_by_email_takes_at_most_two_round_trips,
        starting_a_checkout_takes_at_most_two_round_trips,
        the_operator_console_and_an_accounts_page_take_at_most_two_round_trips,
    ]
}

fn metric(res: &reqwest::Response, name: &str) -> String {
    let all = res.headers().get("server-timing").map(|v| v.to_str().unwrap().to_string());
    let all = all.unwrap_or_else(|| panic!("{} has no Server-Timing: {:?}", res.url(), res.headers()));
    let start = all.find(&format!("{name};")).unwrap_or_else(|| panic!("no {name} in {all}"));
    let rest = &all[start..];
    // A metric ends after its quoted description (which holds commas), or at the next comma.
    let end = match rest.find("desc=\"") {
        Some(d) => d + 6 + rest[d + 6..].find('"').expect("closing quote") + 1,
        None => rest.find(", ").unwrap_or(rest.len()),
    };
    rest[..end].to_string()
}

/// The round trips a response reports (`db;…;desc="1 connection, 2 round trips"`).
fn round_trips(res: &reqwest::Response) -> u32 {
    let db = metric(res, "db");
    let desc = db.split("desc=\"").nth(1).unwrap_or_else(|| panic!("no description in {db}"));
    let trips = desc.split(", ").nth(1).unwrap_or_else(|| panic!("no round trips in {db}"));
    trips.split(' ').next().unwrap().parse().unwrap_or_else(|_| panic!("no count in {db}"))
}

async fn a_public_page_touches_neither_the_database_nor_the_limiter(s: &'static Stack) {
    let res = s.get("/").await;
    assert_eq!(res.status(), 200);
    assert_eq!(metric(&res, "db"), "db;dur=0;desc=\"0 connections, 0 round trips\"");
    assert!(metric(&res, "limiter").contains("desc=\"0 calls"), "{}", metric(&res, "limiter"));
    assert!(metric(&res, "total").starts_with("total;dur="));
}

async fn the_signed_in_dashboard_takes_one_connection_and_two_round_trips(s: &'static Stack) {
    let user = s.sign_in_new("timing").await;
    let res = user.client.get(s.url("/dashboard")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let db = metric(&res, "db");
    // The session check, then balance, plan, ledger and recent work in one statement.
    assert!(db.ends_with("desc=\"1 connection, 2 round trips\""), "{db}");
}

async fn health_opens_one_connection_for_one_query(s: &'static Stack) {
    let res = s.get("/api/health").await;
    assert_eq!(res.status(), 200);
    assert!(metric(&res, "db").ends_with("desc=\"1 connection, 1 round trip\""), "{}", metric(&res, "db"));
}

async fn every_signed_in_page_takes_at_most_two_round_trips(s: &'static Stack) {
    let user = s.sign_in_new("timing-pages").await;
    grant(s, user.user_id, 5).await;
    let generation = insert_generation(s, user.user_id, "done", 1).await;
    let transcript = insert_transcript(s, user.user_id, 1).await;
    // A checkout paid and fulfilled (its success page reads our records only).
    let session = start_checkout(s, &user, PACK).await;
    for event in s.stripe().complete_session(&session, true) {
        deliver_ok(s, &event).await;
    }
    let pages = [
        "/".to_string(),
        "/pricing".into(),
        "/refer".into(),
        "/dashboard".into(),
        "/account".into(),
        "/billing".into(),
        format!("/billing/success?session_id={session}"),
        "/history".into(),
        "/tools/agentwrite".into(),
        format!("/tools/agentwrite/{generation}"),
        format!("/tools/agentwrite/{generation}/download"),
        "/tools/podscribe".into(),
        format!("/tools/podscribe/{transcript}"),
        format!("/tools/podscribe/{transcript}/transcript.txt"),
    ];
    let mut counts = Vec::new();
    for page in &pages {
        let res = user.client.get(s.url(page)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{page}");
        counts.push((page.as_str(), round_trips(&res)));
    }
    eprintln!("round trips per signed-in page: {counts:?}");
    assert!(counts.iter().all(|(_, n)| *n <= 2), "round trips per page: {counts:?}");
}

/// Delivers `event` signed as Stripe does; answers the response. Local `wrangler dev`'s own 503
/// "restarted mid-request" is delivered again, as Stripe would (`StripeFake::deliver_raw`).
async fn deliver(s: &Stack, event: &Value) -> reqwest::Response {
    let body = serde_json::to_vec(event).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    for attempt in 1.. {
        let res = s
            .http
            .post(s.url("/api/stripe/webhook"))
            .header("content-type", "application/json")
            .header("stripe-signature", signature_header(&body, now, &[WEBHOOK_SECRET]))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        if res.status() != 503 || attempt == 3 {
            return res;
        }
        let text = res.text().await.unwrap_or_default();
        assert!(is_dev_proxy_restart(503, &text), "503 from the Worker: {text}");
        eprintln!("timing: wrangler dev's proxy answered 503 'restarted mid-request'; delivered again");
    }
    unreachable!()
}

async fn a_webhook_event_we_do_not_act_on_takes_two_round_trips_and_its_replay_one(s: &'static Stack) {
    // The bench's event: the already-handled check, then the claim that records it.
    let event = s.stripe().event("customer.created", json!({ "id": "cus_timing", "object": "customer" }));
    let res = deliver(s, &event).await;
    assert_eq!(res.status(), 200);
    assert_eq!(round_trips(&res), 2, "{}", metric(&res, "db"));
    // A replay is found handled by the first statement.
    let again = deliver(s, &event).await;
    assert_eq!(again.status(), 200);
    assert_eq!(round_trips(&again), 1, "{}", metric(&again, "db"));
}

/// Every event of a pack's purchase takes 2: the already-handled check with the preparation's
/// reads, then one transaction (the claim, the writes and the outcome: `db::pack_payment`,
/// `stripe_events::apply_atomically`); a replay 1.
async fn every_event_of_a_pack_purchase_takes_two_round_trips(s: &'static Stack) {
    let user = s.sign_in_new("timing-paid").await;
    let session = start_checkout(s, &user, PACK).await;
    let events = s.stripe().complete_session(&session, true);
    let counts = deliver_counting(s, &events).await;
    eprintln!("round trips per webhook event of a pack: {counts:?}");
    assert!(counts.len() >= 3, "{counts:?}");
    assert!(counts.iter().all(|(_, n)| *n == 2), "round trips per event: {counts:?}");
    assert_eq!(balance(s, user.user_id).await, 50, "granted once");
    every_replay_takes_one_round_trip(s, &events).await;
}

/// Every event of a plan's first payment takes 2 too (`db::plan_event`), also when Stripe
/// answers slower than Postgres, as it does in production: the owner of the
/// subscription is looked up while Stripe is asked, not after (here a read of Stripe that came
/// back first would hide a round trip behind the one still on the wire).
async fn every_event_of_a_plans_first_payment_takes_two_round_trips(s: &'static Stack) {
    let plan = s.sign_in_new("timing-plan").await;
    let session = start_checkout(s, &plan, STARTER).await;
    let events = s.stripe().complete_session(&session, true);
    let sub = events
        .iter()
        .find_map(|e| {
            (e["type"] == "customer.subscription.created").then(|| e["data"]["object"]["id"].clone())
        })
        .expect("a subscription");
    let slow = |path: String| Fault::new("GET", path, 0).delay(150).times(10);
    s.stripe().add_fault(slow(format!("/v1/subscriptions/{}", sub.as_str().unwrap())));
    s.stripe().add_fault(slow(format!("/v1/prices/{STARTER}")));
    let counts = deliver_counting(s, &events).await;
    eprintln!("round trips per webhook event of a plan: {counts:?}");
    assert!(counts.len() >= 4, "{counts:?}");
    assert!(counts.iter().all(|(_, n)| *n == 2), "round trips per event: {counts:?}");
    assert_eq!(balance(s, plan.user_id).await, 100, "the first allowance, granted once");
    every_replay_takes_one_round_trip(s, &events).await;
    // A renewal that fails, then is paid on Stripe's retry (its allowance granted then).
    let sub = sub.as_str().unwrap();
    let invoice = s.stripe().invoice(sub, true, false);
    let failed = s.stripe().event("invoice.payment_failed", invoice.clone());
    let paid = s
        .stripe()
        .event("invoice.payment_succeeded", s.stripe().pay_invoice(invoice["id"].as_str().unwrap()));
    s.stripe().add_fault(slow(format!("/v1/subscriptions/{sub}")));
    let counts = deliver_counting(s, &[failed, paid]).await;
    eprintln!("round trips per webhook event of a renewal: {counts:?}");
    assert!(counts.iter().all(|(_, n)| *n == 2), "round trips per event: {counts:?}");
    assert_eq!(balance(s, plan.user_id).await, 200, "the renewal's allowance");
}

/// Each of `events` delivered again is found handled by the first statement.
async fn every_replay_takes_one_round_trip(s: &'static Stack, events: &[Value]) {
    for event in events {
        let again = deliver(s, event).await;
        assert_eq!(again.status(), 200);
        assert_eq!(round_trips(&again), 1, "{} replayed: {}", event["type"], metric(&again, "db"));
    }
}

async fn deliver_counting(s: &'static Stack, events: &[Value]) -> Vec<(String, u32)> {
    let mut counts = Vec::new();
    for event in events {
        let res = deliver(s, event).await;
        assert_eq!(res.status(), 200, "{}", event["type"]);
        counts.push((event["type"].as_str().unwrap_or("?").to_string(), round_trips(&res)));
    }
    counts
}

/// Until the webhook has fulfilled a checkout, its success page asks Stripe and fulfils it
/// itself: the session check with our record and the balance, then the paid pack's one
/// transaction, which answers the status and balance the page shows.
async fn a_success_page_that_asks_stripe_takes_two_round_trips(s: &'static Stack) {
    let user = s.sign_in_new("timing-success").await;
    let session = start_checkout(s, &user, PACK).await;
    s.stripe().complete_session(&session, true);
    let res = user.client.get(s.url(&format!("/billing/success?session_id={session}"))).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(round_trips(&res), 2, "{}", metric(&res, "db"));
    assert!(res.text().await.unwrap().contains("50"), "the credits are shown");
    assert_eq!(balance(s, user.user_id).await, 50, "granted by the page");
}

async fn agentwrite_starts_in_two_round_trips_and_finishes_in_one_more(s: &'static Stack) {
    let user = s.sign_in_new("timing-aw").await;
    grant(s, user.user_id, 2).await;
    // Streamed: the answer starts once the run is recorded and its credit reserved (the
    // session check, then one pipelined transaction).
    let res = post_form(s, &user, "/api/tools/agentwrite/stream", &brief("Timing stream")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(metric(&res, "db").split("desc=").nth(1), Some("\"1 connection, 2 round trips\""));
    let _ = res.text().await;
    // Without JavaScript the request waits for the run, so its own connection is counted too:
    // the finish (saved and the balance read) is one statement.
    let res = post_form(s, &user, "/tools/agentwrite", &brief("Timing form")).await;
    assert_eq!(res.status(), 303);
    assert_eq!(metric(&res, "db").split("desc=").nth(1), Some("\"2 connections, 3 round trips\""));
}

async fn signing_in_again_by_email_takes_at_most_two_round_trips(s: &'static Stack) {
    // The first sign-in creates the account (and may grant welcome credits); the budget is for
    // signing in again.
    let email = unique_email("timing-confirm");
    sign_in_by_email(s, &email).await;
    let browser = s.browser();
    let token = emailed_token(s, &browser, &email, None).await;
    let res = confirm(s, &browser, &token).await;
    assert_eq!(res.status(), 303);
    assert!(round_trips(&res) <= 2, "{}", metric(&res, "db"));
}

async fn starting_a_checkout_takes_at_most_two_round_trips(s: &'static Stack) {
    let user = s.sign_in_new("timing-checkout").await;
    // The first makes the Stripe customer, stored with the checkout (sent together).
    let first = checkout(s, &user, PACK, "").await;
    assert_eq!(first.status(), 303);
    assert!(round_trips(&first) <= 2, "first checkout: {}", metric(&first, "db"));
    let res = checkout(s, &user, PACK, "").await;
    assert_eq!(res.status(), 303);
    assert!(round_trips(&res) <= 2, "{}", metric(&res, "db"));
}

/// The operator's pages are signed-in pages too: the session check, then every read of the
/// page sent together (the console reads eleven lists, an account's page six).
async fn the_operator_console_and_an_accounts_page_take_at_most_two_round_trips(s: &'static Stack) {
    let ops = s.sign_in_as(crate::support::ADMIN_EMAIL).await;
    let customer = s.sign_in_new("timing-operated").await;
    for path in ["/admin".to_string(), format!("/admin/users/{}", customer.user_id)] {
        let res = ops.client.get(s.url(&path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert!(round_trips(&res) <= 2, "{path}: {}", metric(&res, "db"));
    }
}

/// Refunds and disputes (rare, and waiting on nobody's screen) still write statement by
/// statement in a transaction: counted here as a ceiling, so that they can only go down
/// (BENCHMARKS.md says what is left).
async fn every_event_of_a_refund_and_a_dispute_takes_two_round_trips(s: &'static Stack) {
    // Stripe slower than Postgres, as in production: otherwise a Stripe read that came back
    // before the already-handled check would hide a round trip behind it.
    let slow = |path: String| Fault::new("GET", path, 0).delay(150).times(10);
    s.stripe().add_fault(slow("/v1/invoice_payments".into()));
    let pack = s.sign_in_new("timing-refund").await;
    let session = start_checkout(s, &pack, PACK).await;
    deliver_counting(s, &s.stripe().complete_session(&session, true)).await;
    let charge = s.stripe().charge_of_session(&session);
    s.stripe().add_fault(slow(format!("/v1/charges/{charge}")));
    let refund = s.stripe().refund(&charge, 100);
    let opened = s.stripe().dispute(&charge);
    let lost = s.stripe().close_dispute(opened["data"]["object"]["id"].as_str().unwrap(), "lost");
    let events = [refund, opened, lost];
    let counts = deliver_counting(s, &events).await;
    eprintln!("round trips per webhook event of a pack's refund and dispute: {counts:?}");
    assert!(counts.iter().all(|(_, n)| *n == 2), "round trips per event: {counts:?}");
    assert_eq!(balance(s, pack.user_id).await, 0, "a tenth refunded, then the dispute lost");
    every_replay_takes_one_round_trip(s, &events).await;
    // A plan's renewal: its invoice is found at Stripe, its owner in the transaction.
    let plan = s.sign_in_new("timing-refund-plan").await;
    let sub = subscribe(s, &plan, STARTER).await;
    let renewal = s.stripe().invoice(&sub, true, true);
    deliver_counting(s, &[s.stripe().event("invoice.payment_succeeded", renewal.clone())]).await;
    let charge = s.stripe().charge_of_invoice(renewal["id"].as_str().unwrap());
    s.stripe().add_fault(slow(format!("/v1/charges/{charge}")));
    let refund = s.stripe().refund(&charge, 450);
    let opened = s.stripe().dispute(&charge);
    let lost = s.stripe().close_dispute(opened["data"]["object"]["id"].as_str().unwrap(), "lost");
    let counts = deliver_counting(s, &[refund, opened, lost]).await;
    eprintln!("round trips per webhook event of a plan invoice's refund and dispute: {counts:?}");
    assert!(counts.iter().all(|(_, n)| *n == 2), "round trips per event: {counts:?}");
    assert_eq!(balance(s, plan.user_id).await, 100, "the renewal's 100 taken back, half then all");
}
