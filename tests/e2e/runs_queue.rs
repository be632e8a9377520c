//! PodScribe runs outlive their request: the episode waits in R2 and the run is executed by the
//! Queue consumer. A busy OpenAI is retried by the queue and the run settles once; a run that
//! keeps failing reaches the dead-letter queue and is refunded with its reason; the browser may
//! leave right after the upload is accepted; R2 keeps nothing once runs end.
//!
//! The shared stack's queue retries nothing (other modules expect a busy OpenAI to fail a run at
//! once), so these run on a stack of their own whose queue retries twice, a second apart.

use crate::support::tools::{
    assert_ledger_matches_balance, balance, grant, tool_ledger, unique, upload, wav,
};
use crate::support::{runtime, Options, Stack};
use crate::trials;
use libtest_mimic::Trial;
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

pub fn tests() -> Vec<Trial> {
    trials![
        a_busy_openai_is_retried_by_the_queue_and_the_run_settles_once,
        a_run_that_keeps_failing_is_dead_lettered_and_refunded_with_its_reason,
        the_browser_may_leave_right_after_acceptance_and_the_run_still_completes,
    ]
}

const RETRIES: u32 = 2;
static QUEUE_STACK: OnceCell<Stack> = OnceCell::const_new();

async fn queue_stack() -> &'static Stack {
    QUEUE_STACK
        .get_or_init(|| async {
            let opts = Options { run_retries: RETRIES, ..Options::named("runs-queue") };
            runtime().spawn(Stack::start(opts)).await.expect("start the runs-queue stack")
        })
        .await
}

pub fn shutdown() {
    if let Some(s) = QUEUE_STACK.get() {
        s.shutdown();
    }
}

fn id_from_location(res: &reqwest::Response) -> String {
    let location = res.headers().get("location").map(|l| l.to_str().unwrap().to_string()).unwrap_or_default();
    location
        .strip_prefix("/tools/podscribe/")
        .unwrap_or_else(|| panic!("unexpected answer: {res:?}"))
        .to_string()
}

/// Episodes R2 holds on this stack's Worker (miniflare keeps one blob file per object).
fn episodes_in_r2(s: &Stack) -> usize {
    let blobs = s.worker.state_dir().join("v3/r2/ghosttools-uploads/blobs");
    std::fs::read_dir(blobs).map(|d| d.count()).unwrap_or(0)
}

/// Waits until every run on this stack has ended and R2 is empty again.
async fn r2_is_emptied(s: &Stack) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while episodes_in_r2(s) > 0 {
        assert!(Instant::now() < deadline, "R2 still holds {} episodes", episodes_in_r2(s));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn status_of(s: &Stack, id: &str) -> (String, Option<String>) {
    let row =
        s.sql().await.query_one("SELECT status, error FROM transcripts WHERE id = $1", &[&id]).await.unwrap();
    (row.get(0), row.get(1))
}

async fn a_busy_openai_is_retried_by_the_queue_and_the_run_settles_once(_: &'static Stack) {
    let s = queue_stack().await;
    let user = s.sign_in_new("rq-busy").await;
    grant(s, user.user_id, 3).await;
    // The first three calls fail: the client's own three attempts, so the first delivery ends busy.
    let token = format!("fake-audio-500x3-{}", unique());
    let res = upload(s, &user, "/tools/podscribe", &format!("{token}.wav"), wav(70), "audio/wav").await;
    let id = id_from_location(&res);
    assert_eq!(status_of(s, &id).await.0, "done");
    assert_eq!(
        s.fakes.openai.transcriptions_mentioning(&token).len(),
        4,
        "three busy answers, then the retry"
    );
    assert_eq!(
        tool_ledger(s, user.user_id).await,
        vec![(-2, "podscribe".into(), id.clone())],
        "charged once"
    );
    assert_eq!(balance(s, user.user_id).await, 1);
    assert_ledger_matches_balance(s, user.user_id).await;
    assert!(s.worker.log_text().contains(&format!("transcription {id} will be retried")));
    r2_is_emptied(s).await;
}

async fn a_run_that_keeps_failing_is_dead_lettered_and_refunded_with_its_reason(_: &'static Stack) {
    let s = queue_stack().await;
    let user = s.sign_in_new("rq-dead").await;
    grant(s, user.user_id, 3).await;
    let token = format!("fake-audio-500-{}", unique());
    let res = upload(s, &user, "/tools/podscribe", &format!("{token}.wav"), wav(70), "audio/wav").await;
    let id = id_from_location(&res);
    assert_eq!(status_of(s, &id).await, ("failed".into(), Some("busy".into())));
    let deliveries = (1 + RETRIES) as usize;
    assert_eq!(s.fakes.openai.transcriptions_mentioning(&token).len(), 3 * deliveries);
    let html =
        user.client.get(s.url(&format!("/tools/podscribe/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("PodScribe is busy right now") && html.contains("No credits were used."), "{html}");
    assert_eq!(
        tool_ledger(s, user.user_id).await,
        vec![(-2, "podscribe".into(), id.clone()), (2, "tool_refund".into(), id.clone())],
        "refunded once, in full"
    );
    assert_eq!(balance(s, user.user_id).await, 3);
    assert!(s.worker.log_text().contains("to dead letter queue \"ghosttools-runs-dead\""));
    r2_is_emptied(s).await;
}

async fn the_browser_may_leave_right_after_acceptance_and_the_run_still_completes(_: &'static Stack) {
    let s = queue_stack().await;
    let user = s.sign_in_new("rq-leave").await;
    grant(s, user.user_id, 2).await;
    let token = format!("fake-audio-ok-{}", unique());
    let part = reqwest::multipart::Part::bytes(wav(70))
        .file_name(format!("{token}.wav"))
        .mime_str("audio/wav")
        .unwrap();
    let mut res = user
        .client
        .post(s.url("/api/tools/podscribe/upload"))
        .header("accept", "application/x-ndjson")
        .header("x-csrf-token", &user.csrf)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    let mut first = Vec::new();
    while !first.contains(&b'\n') {
        first.extend_from_slice(&res.chunk().await.unwrap().expect("the accepted line"));
    }
    let line = first.split(|b| *b == b'\n').next().unwrap();
    let accepted: serde_json::Value = serde_json::from_slice(line).unwrap();
    assert_eq!(accepted["status"], "accepted");
    let id = accepted["id"].as_str().unwrap().to_string();
    drop(res); // The tab is closed.
    let deadline = Instant::now() + Duration::from_secs(60);
    while status_of(s, &id).await.0 != "done" {
        assert!(Instant::now() < deadline, "the run never finished: {:?}", status_of(s, &id).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(tool_ledger(s, user.user_id).await, vec![(-2, "podscribe".into(), id.clone())]);
    assert_eq!(balance(s, user.user_id).await, 0);
    r2_is_emptied(s).await;
}
