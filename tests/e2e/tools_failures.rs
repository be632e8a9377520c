//! What happens when OpenAI fails: bounded retries with backoff for 429/5xx (never for
//! insufficient_quota), a friendly "busy" that keeps the user's input, operator errors (401/403,
//! no quota) logged and sent to Sentry without the key, broken streams, silence — and every
//! time, the credit comes back. Filtered and cut-off answers are not failures: their text was
//! delivered, so they are kept, marked cut short, and charged.

use crate::support::fakes::openai::API_KEY;
use crate::support::tools::{
    assert_ledger_matches_balance, balance, brief, grant, post_form, read_events, tool_ledger, unique,
};
use crate::support::{Options, Stack};
use crate::trials;
use libtest_mimic::Trial;
use std::time::{Duration, Instant};

pub fn tests() -> Vec<Trial> {
    trials![
        a_rate_limited_request_is_retried_and_then_written,
        when_openai_stays_busy_the_user_is_asked_to_try_again_with_the_input_kept,
        server_errors_are_retried_a_bounded_number_of_times_then_refunded,
        insufficient_quota_is_not_retried_and_reaches_sentry_as_an_operator_error,
        a_rejected_key_is_an_operator_error_and_the_key_stays_secret,
        a_stream_that_breaks_off_midway_is_refunded,
        filtered_and_cut_off_answers_are_delivered_marked_cut_short_and_charged,
        a_silent_openai_times_out_and_is_refunded,
    ]
}

/// The run's one charge and its refund, and the balance back where it was.
async fn assert_refunded(s: &Stack, user_id: i64, expected_balance: i64) {
    let ledger = tool_ledger(s, user_id).await;
    assert_eq!(ledger.len(), 2, "a charge and its refund: {ledger:?}");
    assert_eq!((ledger[0].0, ledger[0].1.as_str()), (-1, "agentwrite"));
    assert_eq!((ledger[1].0, ledger[1].1.as_str()), (1, "tool_refund"));
    assert_eq!(ledger[0].2, ledger[1].2, "the refund names the generation");
    let status: String = s
        .sql()
        .await
        .query_one("SELECT status FROM generations WHERE id = $1", &[&ledger[0].2])
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "failed");
    assert_eq!(balance(s, user_id).await, expected_balance);
    assert_ledger_matches_balance(s, user_id).await;
}

async fn a_rate_limited_request_is_retried_and_then_written(s: &'static Stack) {
    let user = s.sign_in_new("fail-429x2").await;
    grant(s, user.user_id, 1).await;
    let token = format!("fake-chat-429x2-{}", unique());
    let res = post_form(s, &user, "/tools/agentwrite", &brief(&format!("Retry {token}"))).await;
    assert_eq!(res.status(), 303, "written after two 429s");
    assert_eq!(s.fakes.openai.chats_mentioning(&token).len(), 3);
    let ledger = tool_ledger(s, user.user_id).await;
    assert_eq!(ledger.len(), 1, "charged once, nothing refunded: {ledger:?}");
    assert_eq!(balance(s, user.user_id).await, 0);
}

async fn when_openai_stays_busy_the_user_is_asked_to_try_again_with_the_input_kept(s: &'static Stack) {
    let user = s.sign_in_new("fail-429").await;
    grant(s, user.user_id, 1).await;
    let token = format!("fake-chat-429-{}", unique());
    let name = format!("Busy {token}");
    let res = post_form(s, &user, "/tools/agentwrite", &brief(&name)).await;
    assert_eq!(res.status(), 503);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("AgentWrite is busy right now. Please try again in a minute. No credits were used."),
        "{html}"
    );
    assert!(html.contains(&format!("value=\"{name}\"")), "the product name is kept");
    assert!(html.contains("1.1 kg\nSets up in 3 minutes\nTwo doors</textarea>"), "the features are kept");
    assert_eq!(s.fakes.openai.chats_mentioning(&token).len(), 3, "a bounded number of attempts");
    assert_refunded(s, user.user_id, 1).await;
}

async fn server_errors_are_retried_a_bounded_number_of_times_then_refunded(s: &'static Stack) {
    let user = s.sign_in_new("fail-500").await;
    grant(s, user.user_id, 1).await;
    let token = format!("fake-chat-500-{}", unique());
    let started = Instant::now();
    let res = post_form(s, &user, "/api/tools/agentwrite/stream", &brief(&format!("Down {token}"))).await;
    assert_eq!(res.status(), 200);
    let events = read_events(res, |e| e.event == "error" || e.event == "done").await;
    let last = events.last().unwrap();
    assert_eq!(last.event, "error");
    assert_eq!(last.data["code"], "busy");
    let attempts = s.fakes.openai.chats_mentioning(&token);
    assert_eq!(attempts.len(), 3);
    assert!(started.elapsed() > Duration::from_millis(1400), "attempts were spaced by backoff");
    assert_refunded(s, user.user_id, 1).await;
}

async fn insufficient_quota_is_not_retried_and_reaches_sentry_as_an_operator_error(s: &'static Stack) {
    let user = s.sign_in_new("fail-quota").await;
    grant(s, user.user_id, 1).await;
    let token = format!("fake-chat-quota-{}", unique());
    let res = post_form(s, &user, "/tools/agentwrite", &brief(&format!("Quota {token}"))).await;
    assert_eq!(res.status(), 503);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let html = res.text().await.unwrap();
    assert!(html.contains("AgentWrite is unavailable right now. We have been notified"), "{html}");
    assert!(
        !html.contains("insufficient_quota") && !html.contains("exceeded your current quota"),
        "the user is not told about our billing"
    );
    assert_eq!(s.fakes.openai.chats_mentioning(&token).len(), 1, "no quota is not retried");
    let (_, event) = s.fakes.sentry.event_for_request(&request_id).await.expect("reported to Sentry");
    let value = event["exception"]["values"][0]["value"].as_str().unwrap();
    assert!(value.contains("openai") && value.contains("insufficient_quota"), "{value}");
    assert_refunded(s, user.user_id, 1).await;
}

async fn a_rejected_key_is_an_operator_error_and_the_key_stays_secret(s: &'static Stack) {
    for status in ["401", "403"] {
        let user = s.sign_in_new(&format!("fail-{status}")).await;
        grant(s, user.user_id, 1).await;
        let token = format!("fake-chat-{status}-{}", unique());
        let res = post_form(s, &user, "/tools/agentwrite", &brief(&format!("Key {token}"))).await;
        assert_eq!(res.status(), 503);
        let request_id = res.headers()["x-request-id"].to_str().unwrap().to_string();
        let html = res.text().await.unwrap();
        assert!(html.contains("AgentWrite is unavailable right now."), "{html}");
        assert!(!html.contains(API_KEY) && !html.contains("sk-"), "no key on the page");
        assert_eq!(s.fakes.openai.chats_mentioning(&token).len(), 1, "{status} is not retried");
        let (_, event) = s.fakes.sentry.event_for_request(&request_id).await.expect("reported to Sentry");
        let value = event["exception"]["values"][0]["value"].as_str().unwrap().to_string();
        assert!(value.contains(status), "{value}");
        assert!(!event.to_string().contains(API_KEY), "no key in Sentry: {value}");
        assert_refunded(s, user.user_id, 1).await;
    }
    // The fake quoted the key in its 401 message: it must not have reached the log.
    let log = s.worker.log_text();
    assert!(log.contains("invalid_api_key"), "the operator error is logged");
    assert!(!log.contains(API_KEY), "the API key reached the Worker's log");
}

async fn a_stream_that_breaks_off_midway_is_refunded(s: &'static Stack) {
    let user = s.sign_in_new("fail-mid").await;
    grant(s, user.user_id, 1).await;
    let token = format!("fake-chat-midstream-{}", unique());
    let res = post_form(s, &user, "/api/tools/agentwrite/stream", &brief(&format!("Broken {token}"))).await;
    let events = read_events(res, |e| e.event == "error" || e.event == "done").await;
    assert!(events.iter().any(|e| e.event == "delta"), "some text arrived before the break");
    let last = events.last().unwrap();
    assert_eq!(last.event, "error");
    assert_eq!(last.data["code"], "interrupted");
    assert!(last.data["message"].as_str().unwrap().contains("No credits were used"));
    assert_eq!(s.fakes.openai.chats_mentioning(&token).len(), 1, "a stream that started is not retried");
    assert_refunded(s, user.user_id, 1).await;
}

async fn filtered_and_cut_off_answers_are_delivered_marked_cut_short_and_charged(s: &'static Stack) {
    // The answer was written (and, with JavaScript, read as it streamed): it is the result.
    for (behaviour, says) in
        [("filter", "content filter stopped the answer here"), ("length", "ran past the length you chose")]
    {
        let user = s.sign_in_new(&format!("fail-{behaviour}")).await;
        grant(s, user.user_id, 1).await;
        let token = format!("fake-chat-{behaviour}-{}", unique());
        let name = format!("Finish {token}");
        let res = post_form(s, &user, "/tools/agentwrite", &brief(&name)).await;
        assert_eq!(res.status(), 303, "{behaviour}");
        let result = res.headers()["location"].to_str().unwrap().to_string();
        let html = user.client.get(s.url(&result)).send().await.unwrap().text().await.unwrap();
        assert!(html.contains(says), "{behaviour}: {html}");
        assert!(html.contains(&format!("{name} — Made for the Trail")), "the text is shown: {html}");
        let ledger = tool_ledger(s, user.user_id).await;
        assert_eq!(ledger.len(), 1, "charged once, nothing refunded: {ledger:?}");
        assert_eq!(balance(s, user.user_id).await, 0);
    }
}

async fn a_silent_openai_times_out_and_is_refunded(_: &'static Stack) {
    let s = Stack::start(Options {
        vars: vec![("OPENAI_TIMEOUT_SECS", Some("2".into()))],
        ..Options::named("tools-timeout")
    })
    .await;
    let user = s.sign_in_new("fail-hang").await;
    grant(&s, user.user_id, 1).await;
    let token = format!("fake-chat-hang-{}", unique());
    let started = Instant::now();
    let res = post_form(&s, &user, "/tools/agentwrite", &brief(&format!("Silent {token}"))).await;
    assert_eq!(res.status(), 504);
    assert!(started.elapsed() < Duration::from_secs(15), "bounded by the configured timeout");
    let html = res.text().await.unwrap();
    assert!(html.contains("AgentWrite took too long to answer."), "{html}");
    assert_eq!(s.fakes.openai.chats_mentioning(&token).len(), 1, "a timeout is not retried");
    assert_refunded(&s, user.user_id, 1).await;
}
