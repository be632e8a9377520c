//! AgentWrite runs outlive their request. Production cuts `waitUntil` work off about 30 s after
//! the response ends or the browser leaves, so each run also sends itself a delayed message on
//! the runs queue (its backstop). This stack imitates the cut-off, three seconds after the work
//! is handed over (`WAIT_UNTIL_CUTOFF_SECS`), and sends backstops after five: a run cut off in
//! the middle of its stream is written again by the queue consumer and charged once, and a run
//! that finished is left alone by its backstop.

use crate::support::tools::{
    assert_ledger_matches_balance, balance, brief, grant, post_form, read_events, tool_ledger, unique,
};
use crate::support::{own_stack, Options, Stack};
use crate::trials;
use libtest_mimic::Trial;
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

pub fn tests() -> Vec<Trial> {
    trials![a_run_cut_off_with_its_request_is_written_again_by_the_queue_and_a_finished_one_is_left_alone]
}

static BACKSTOP_STACK: OnceCell<Stack> = OnceCell::const_new();

async fn backstop_stack() -> &'static Stack {
    own_stack(
        &BACKSTOP_STACK,
        Options {
            vars: vec![
                ("WAIT_UNTIL_CUTOFF_SECS", Some("3".into())),
                ("AGENTWRITE_BACKSTOP_SECS", Some("5".into())),
            ],
            ..Options::named("backstop")
        },
    )
    .await
}

pub fn shutdown() {
    if let Some(s) = BACKSTOP_STACK.get() {
        s.shutdown();
    }
}

async fn status_of(s: &Stack, id: &str) -> String {
    s.sql().await.query_one("SELECT status FROM generations WHERE id = $1", &[&id]).await.unwrap().get(0)
}

async fn a_run_cut_off_with_its_request_is_written_again_by_the_queue_and_a_finished_one_is_left_alone(
    _: &'static Stack,
) {
    let s = backstop_stack().await;
    let user = s.sign_in_new("aw-backstop").await;
    grant(s, user.user_id, 2).await;

    // A quick run (pieces 120 ms apart) finishes within the three seconds its request's work is
    // given.
    let quick = format!("Quick {}", unique());
    let res = post_form(s, &user, "/api/tools/agentwrite/stream", &brief(&quick)).await;
    let events = read_events(res, |e| e.event == "done" || e.event == "error").await;
    assert_eq!(events.last().unwrap().event, "done", "{events:?}");
    let finished = events[0].data["id"].as_str().unwrap().to_string();

    // A slow one (pieces a second apart, the first time it is asked) is cut off mid-stream: the
    // browser sees the stream end without an outcome, and the run is left `running`.
    let token = format!("fake-chat-crawlx1-{}", unique());
    let name = format!("Long-winded {token}");
    let res = post_form(s, &user, "/api/tools/agentwrite/stream", &brief(&name)).await;
    let events = read_events(res, |e| e.event == "done" || e.event == "error").await;
    let id = events[0].data["id"].as_str().unwrap().to_string();
    assert!(events.iter().all(|e| e.event == "start" || e.event == "delta"), "{events:?}");
    assert!(events.iter().any(|e| e.event == "delta"), "it was writing when it was cut off");

    // Its backstop finds it still running and writes it again, with nobody listening.
    let deadline = Instant::now() + Duration::from_secs(30);
    while status_of(s, &id).await == "running" {
        assert!(Instant::now() < deadline, "the cut-off run was never written again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(status_of(s, &id).await, "done");
    let title: String =
        s.sql().await.query_one("SELECT title FROM generations WHERE id = $1", &[&id]).await.unwrap().get(0);
    assert_eq!(title, format!("{name} — Made for the Trail"));
    assert_eq!(
        s.fakes.openai.chats_mentioning(&token).len(),
        2,
        "written once by its request, once by the queue"
    );
    let log = s.worker.log_text();
    assert!(log.contains("cut off after 3 s"), "the harness cut the request's work off");
    assert!(log.contains(&format!("AgentWrite run {id} outlived its request")), "{log}");
    let page = user.client.get(s.url(&format!("/tools/agentwrite/{id}"))).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("Made for the Trail"), "the owner finds it written");

    // The quick run's backstop was sent before the slow one's, with the same delay, so it has
    // been delivered by now: it found its run settled and did nothing.
    assert!(!log.contains(&format!("AgentWrite run {finished} outlived")), "{log}");
    assert_eq!(s.fakes.openai.chats_mentioning(&quick).len(), 1, "a finished run is not written again");
    let mut charged = tool_ledger(s, user.user_id).await;
    charged.sort();
    let mut expected = vec![(-1, "agentwrite".to_string(), finished), (-1, "agentwrite".to_string(), id)];
    expected.sort();
    assert_eq!(charged, expected, "each run charged once, neither refunded");
    assert_eq!(balance(s, user.user_id).await, 0);
    assert_ledger_matches_balance(s, user.user_id).await;
}
