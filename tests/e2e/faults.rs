//! Faults of the services around the Worker, each stated as what the user sees and what the
//! database holds afterwards: OpenAI answering malformed JSON, Stripe unreachable at checkout and
//! on the success page, and a missing rate limiter in front of the costly actions (Postgres
//! stopped under load: faults_database.rs). Whatever breaks a service does so on a stack of its own.

use crate::faults_database::count;
use crate::support::billing::{balance, checkout, deliver_ok, location, start_checkout};
use crate::support::fakes::stripe::PACK;
use crate::support::outage::Relay;
use crate::support::tools::{
    assert_ledger_matches_balance, brief, grant, post_form, read_events, tool_ledger, unique, upload, wav,
};
use crate::support::{Fakes, Options, Stack};
use crate::trials;
use libtest_mimic::Trial;
use serde_json::Value;
use std::time::{Duration, Instant};

pub fn tests() -> Vec<Trial> {
    trials![
        a_stream_with_malformed_json_midway_is_explained_refunded_and_the_run_marked_failed,
        a_malformed_answer_to_the_form_without_javascript_is_explained_refunded_and_the_run_marked_failed,
        malformed_show_notes_keep_the_paid_transcript_and_say_the_notes_could_not_be_written,
        unreachable_stripe_leaves_no_half_made_checkout_and_the_success_page_says_the_payment_is_being_confirmed,
        without_the_limiter_generations_and_checkouts_are_refused_and_nothing_is_charged_or_recorded,
    ]
}

// ---------------------------------------------------------------------------------------------
// OpenAI answering malformed JSON

async fn assert_failed_and_refunded(s: &Stack, user_id: i64) {
    let ledger = tool_ledger(s, user_id).await;
    assert_eq!(ledger.len(), 2, "a charge and its refund: {ledger:?}");
    assert_eq!((ledger[0].0, ledger[0].1.as_str()), (-1, "agentwrite"));
    assert_eq!((ledger[1].0, ledger[1].1.as_str(), &ledger[1].2), (1, "tool_refund", &ledger[0].2));
    let row = s
        .sql()
        .await
        .query_one("SELECT status, title FROM generations WHERE id = $1", &[&ledger[0].2])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "failed");
    assert_eq!(row.get::<_, Option<String>>(1), None, "no partial result is kept");
    assert_eq!(balance(s, user_id).await, 1);
    assert_ledger_matches_balance(s, user_id).await;
}

async fn a_stream_with_malformed_json_midway_is_explained_refunded_and_the_run_marked_failed(
    s: &'static Stack,
) {
    let user = s.sign_in_new("garbled-stream").await;
    grant(s, user.user_id, 1).await;
    let token = format!("fake-chat-garbled-{}", unique());
    let res = post_form(s, &user, "/api/tools/agentwrite/stream", &brief(&format!("Garbled {token}"))).await;
    assert_eq!(res.status(), 200);
    let events = read_events(res, |e| e.event == "error" || e.event == "done").await;
    assert!(events.iter().any(|e| e.event == "delta"), "some text arrived before the bad chunk");
    let last = events.last().unwrap();
    assert_eq!(last.event, "error", "a garbled stream is not passed off as a whole answer: {last:?}");
    assert_eq!(last.data["code"], "interrupted");
    let message = last.data["message"].as_str().unwrap();
    assert!(message.contains("broke off") && message.contains("No credits were used"), "{message}");
    assert!(!message.contains("unreadable") && !message.contains("tru"), "no internals: {message}");
    assert_eq!(s.fakes.openai.chats_mentioning(&token).len(), 1, "a started stream is not retried");
    assert_failed_and_refunded(s, user.user_id).await;
}

async fn a_malformed_answer_to_the_form_without_javascript_is_explained_refunded_and_the_run_marked_failed(
    s: &'static Stack,
) {
    let user = s.sign_in_new("garbled-page").await;
    grant(s, user.user_id, 1).await;
    let token = format!("fake-chat-garbled-{}", unique());
    let name = format!("Garbled {token}");
    let res = post_form(s, &user, "/tools/agentwrite", &brief(&name)).await;
    assert_eq!(res.status(), 503);
    let html = res.text().await.unwrap();
    assert!(html.contains("The connection broke off") && html.contains("No credits were used."), "{html}");
    assert!(html.contains(&format!("value=\"{name}\"")), "the brief is kept for the retry");
    assert_failed_and_refunded(s, user.user_id).await;
}

async fn malformed_show_notes_keep_the_paid_transcript_and_say_the_notes_could_not_be_written(
    s: &'static Stack,
) {
    // The file name travels into the show-notes prompt: only the notes' (whole) answer is garbled.
    let user = s.sign_in_new("garbled-notes").await;
    grant(s, user.user_id, 1).await;
    let token = format!("fake-chat-garbled-{}", unique());
    let res = upload(s, &user, "/tools/podscribe", &format!("{token}.wav"), wav(30), "audio/wav").await;
    assert_eq!(res.status(), 303);
    let html = user.client.get(s.url(&location(&res))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("data-status=\"done\"") && html.contains("Welcome to the show"), "{html}");
    assert!(html.contains("Show notes could not be written"), "{html}");
    let ledger = tool_ledger(s, user.user_id).await;
    assert_eq!(ledger.len(), 1, "the transcript is paid for once, the notes cost nothing: {ledger:?}");
    let (status, notes_error): (String, Option<String>) = {
        let row = s
            .sql()
            .await
            .query_one("SELECT status, notes_error FROM transcripts WHERE id = $1", &[&ledger[0].2])
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!((status.as_str(), notes_error.as_deref()), ("done", Some("busy")));
    assert_ledger_matches_balance(s, user.user_id).await;
}

// ---------------------------------------------------------------------------------------------
// Stripe unreachable

async fn checkout_rows(s: &Stack, user_id: i64) -> (i64, i64) {
    let sessions = count(s, "SELECT count(*) FROM checkout_sessions WHERE user_id = $1", &[&user_id]).await;
    let customers = count(s, "SELECT count(*) FROM billing_customers WHERE user_id = $1", &[&user_id]).await;
    (sessions, customers)
}

async fn unreachable_stripe_leaves_no_half_made_checkout_and_the_success_page_says_the_payment_is_being_confirmed(
    _: &'static Stack,
) {
    let fakes = Fakes::start().await;
    let relay = Relay::start(fakes.stripe.server.addr.port()).await;
    let s = Stack::start(Options {
        fakes: Some(fakes),
        vars: vec![("STRIPE_API_BASE", Some(relay.url()))],
        ..Options::named("stripe-down")
    })
    .await;
    let user = s.sign_in_new("stripe-down").await;

    // At checkout: a clear "try again", and no customer or session half made.
    relay.down().await;
    let started = Instant::now();
    let res = checkout(&s, &user, PACK, "").await;
    assert_eq!(res.status(), 502);
    let html = res.text().await.unwrap();
    assert!(html.contains("did not answer properly. Please try again."), "{html}");
    assert!(started.elapsed() < Duration::from_secs(15), "bounded: {:?}", started.elapsed());
    assert_eq!(checkout_rows(&s, user.user_id).await, (0, 0), "nothing half made");
    assert!(s.stripe().requests(|r| r.path.starts_with("/v1/")).is_empty(), "Stripe heard nothing");

    // Back: the same user buys.
    relay.up().await;
    let session = start_checkout(&s, &user, PACK).await;
    assert_eq!(checkout_rows(&s, user.user_id).await, (1, 1));
    let events = s.stripe().complete_session(&session, true);

    // Gone again as the customer lands on the success page: the payment is being confirmed.
    relay.down().await;
    let success = format!("/billing/success?session_id={session}");
    let res = user.client.get(s.url(&success)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Confirming your payment") && html.contains("no need to pay again"), "{html}");
    assert!(html.contains("<strong id=\"balance\">0</strong>"), "nothing granted yet: {html}");
    assert_eq!(crate::support::billing::checkout_status(&s, &session).await, "open");
    assert_eq!(balance(&s, user.user_id).await, 0);
    assert!(s.worker.log_text().contains("Stripe unavailable on the success page"), "logged for operators");

    // Stripe comes back; its webhook and the customer's reload race: granted once.
    relay.up().await;
    let deliveries = events.iter().map(|e| deliver_ok(&s, e));
    let reloads = (0..2).map(|_| user.client.get(s.url(&success)).send());
    let (_, pages) =
        tokio::join!(futures_util::future::join_all(deliveries), futures_util::future::join_all(reloads));
    for page in pages {
        let page = page.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("Thank you!"));
    }
    for e in &events {
        deliver_ok(&s, e).await;
    }
    assert_eq!(balance(&s, user.user_id).await, 50);
    let purchases = count(
        &s,
        "SELECT count(*) FROM credit_ledger WHERE user_id = $1 AND reason = 'purchase'",
        &[&user.user_id],
    )
    .await;
    assert_eq!(purchases, 1, "granted once");
    assert_eq!(crate::support::billing::checkout_status(&s, &session).await, "paid");
    assert_ledger_matches_balance(&s, user.user_id).await;
}

// ---------------------------------------------------------------------------------------------
// The rate limiter missing

async fn without_the_limiter_generations_and_checkouts_are_refused_and_nothing_is_charged_or_recorded(
    _: &'static Stack,
) {
    // A deployment whose Worker lacks the RATE_LIMITER binding: every call to the limiter fails.
    let s = Stack::start(Options {
        drop_config: vec!["durable_objects", "migrations"],
        vars: vec![("RATE_LIMITS", None)],
        ..Options::named("limiter-gone")
    })
    .await;
    let user = s.sign_in_new("no-limiter").await;
    grant(&s, user.user_id, 3).await;
    let token = format!("fake-chat-ok-{}", unique());
    let name = format!("Unlimited {token}");

    let res = post_form(&s, &user, "/tools/agentwrite", &brief(&name)).await;
    assert_eq!(res.status(), 503);
    let html = res.text().await.unwrap();
    assert!(html.contains("temporarily unavailable") && html.contains("try again"), "{html}");
    let res = post_form(&s, &user, "/api/tools/agentwrite/stream", &brief(&name)).await;
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "service_unavailable", "{body}");
    let part = reqwest::multipart::Part::bytes(crate::support::tools::wav(1)).file_name("ep.wav");
    let form = reqwest::multipart::Form::new().text("csrf", user.csrf.clone()).part("file", part);
    let res = user.client.post(s.url("/api/tools/podscribe/upload")).multipart(form).send().await.unwrap();
    assert_eq!(res.status(), 503, "uploads too");
    let res = checkout(&s, &user, PACK, "").await;
    assert_eq!(res.status(), 503);
    assert!(res.text().await.unwrap().contains("temporarily unavailable"));

    // The pages stay open, and the user still has everything they had.
    let dashboard = user.client.get(s.url("/dashboard")).send().await.unwrap();
    assert_eq!(dashboard.status(), 200);
    assert_eq!(balance(&s, user.user_id).await, 3);
    assert!(tool_ledger(&s, user.user_id).await.is_empty(), "nothing charged");
    for table in ["generations", "transcripts", "checkout_sessions", "billing_customers"] {
        let n =
            count(&s, &format!("SELECT count(*) FROM {table} WHERE user_id = $1"), &[&user.user_id]).await;
        assert_eq!(n, 0, "nothing recorded in {table}");
    }
    assert!(s.fakes.openai.chats_mentioning(&token).is_empty(), "OpenAI was not asked");
    assert!(s.stripe().requests(|r| r.path.starts_with("/v1/customers")).is_empty(), "Stripe was not asked");
}
