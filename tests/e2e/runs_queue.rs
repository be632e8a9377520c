//! PodScribe runs outlive their request: the episode waits in R2 and the run is executed by the
//! Queue consumer. A busy OpenAI is retried by the queue and the run settles once; a run that
//! keeps failing reaches the dead-letter queue and is refunded with its reason; the browser may
//! leave right after the upload is accepted, and is then mailed that the transcript is ready
//! (unless they saw it finish, or opened it before the mail was due); R2 keeps nothing once runs
//! end.
//!
//! The shared stack's queue retries nothing (other modules expect a busy OpenAI to fail a run at
//! once), so these run on a stack of their own whose queue retries twice, a second apart.

use crate::support::sign_in::{html_of, text_of};
use crate::support::tools::{
    assert_ledger_matches_balance, balance, grant, tool_ledger, unique, upload, upload_and_leave, wav,
};
use crate::support::{own_stack, Options, Stack};
use crate::trials;
use libtest_mimic::Trial;
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

pub fn tests() -> Vec<Trial> {
    trials![
        a_busy_openai_is_retried_by_the_queue_and_the_run_settles_once,
        a_run_that_keeps_failing_is_dead_lettered_and_refunded_with_its_reason,
        the_browser_may_leave_right_after_acceptance_and_the_run_still_completes_and_is_mailed_once,
        a_run_watched_to_its_end_or_opened_before_the_mail_is_due_mails_nothing,
    ]
}

const RETRIES: u32 = 2;
/// `READY_MAIL_DELAY_SECS` on this stack: long enough for a test to open a finished page first.
const MAIL_DELAY_SECS: u64 = 4;
const READY: &str = "Your transcript is ready";
static QUEUE_STACK: OnceCell<Stack> = OnceCell::const_new();

async fn queue_stack() -> &'static Stack {
    own_stack(
        &QUEUE_STACK,
        Options {
            run_retries: RETRIES,
            vars: vec![("READY_MAIL_DELAY_SECS", Some(MAIL_DELAY_SECS.to_string()))],
            ..Options::named("runs-queue")
        },
    )
    .await
}

pub fn shutdown() {
    if let Some(s) = QUEUE_STACK.get() {
        s.shutdown();
    }
}

pub fn id_from_location(res: &reqwest::Response) -> String {
    let location = res.headers().get("location").map(|l| l.to_str().unwrap().to_string()).unwrap_or_default();
    location
        .strip_prefix("/tools/podscribe/")
        .unwrap_or_else(|| panic!("unexpected answer: {res:?}"))
        .to_string()
}

/// Episodes R2 holds on this stack's Worker (miniflare keeps one blob file per object).
pub fn episodes_in_r2(s: &Stack) -> usize {
    let blobs = s.worker.state_dir().join("v3/r2/ghosttools-uploads/blobs");
    std::fs::read_dir(blobs).map(|d| d.count()).unwrap_or(0)
}

/// Waits until every run on this stack has ended and R2 is empty again.
pub async fn r2_is_emptied(s: &Stack) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while episodes_in_r2(s) > 0 {
        assert!(Instant::now() < deadline, "R2 still holds {} episodes", episodes_in_r2(s));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn status_of(s: &Stack, id: &str) -> (String, Option<String>) {
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

async fn until_done(s: &Stack, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while status_of(s, id).await.0 != "done" {
        assert!(Instant::now() < deadline, "the run never finished: {:?}", status_of(s, id).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Why the transcript's "ready" notice was not sent (None: it was, or is still due).
async fn ready_notice_dropped_because(s: &Stack, id: &str) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(MAIL_DELAY_SECS + 30);
    loop {
        let row = s
            .sql()
            .await
            .query_opt(
                "SELECT sent_at IS NOT NULL, dropped_at IS NOT NULL, last_error FROM customer_notices
                 WHERE kind = 'transcript_ready' AND about = $1",
                &[&id],
            )
            .await
            .unwrap()
            .expect("a ready notice is recorded when the run ends");
        let (sent, dropped, why): (bool, bool, Option<String>) = (row.get(0), row.get(1), row.get(2));
        if sent || dropped {
            return if dropped { why } else { None };
        }
        assert!(Instant::now() < deadline, "the ready notice of {id} is still due");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn the_browser_may_leave_right_after_acceptance_and_the_run_still_completes_and_is_mailed_once(
    _: &'static Stack,
) {
    let s = queue_stack().await;
    let user = s.sign_in_new("rq-leave").await;
    grant(s, user.user_id, 2).await;
    let file_name = format!("fake-audio-ok-{}.wav", unique());
    let id = upload_and_leave(s, &user, &file_name).await;
    until_done(s, &id).await;
    assert_eq!(tool_ledger(s, user.user_id).await, vec![(-2, "podscribe".into(), id.clone())]);
    assert_eq!(balance(s, user.user_id).await, 0);
    r2_is_emptied(s).await;

    // Nobody saw it finish: a while later, the owner is mailed, once, in text and HTML.
    let Some(mail) = s.fakes.smtp.wait_for_mail_about(&user.email, READY, MAIL_DELAY_SECS + 30).await else {
        let notice = s
            .sql()
            .await
            .query_opt(
                "SELECT due_at::text, now()::text, attempts, sent_at::text, dropped_at::text, last_error
                 FROM customer_notices WHERE kind = 'transcript_ready' AND about = $1",
                &[&id],
            )
            .await
            .unwrap()
            .map(|r| {
                format!(
                    "{:?}",
                    (
                        r.get::<_, String>(0),
                        r.get::<_, String>(1),
                        r.get::<_, i32>(2),
                        r.get::<_, Option<String>>(3),
                        r.get::<_, Option<String>>(4),
                        r.get::<_, Option<String>>(5)
                    )
                )
            });
        panic!("no transcript-ready mail; the notice: {notice:?}");
    };
    let link = s.url(&format!("/tools/podscribe/{id}"));
    let (text, html) = (text_of(&mail), html_of(&mail));
    assert!(text.contains(&link) && text.contains(&file_name), "{text}");
    assert!(mail.data.contains("text/html") && html.contains(&format!("href=\"{link}\"")), "{html}");
    assert_eq!(ready_notice_dropped_because(s, &id).await, None, "sent");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(s.fakes.smtp.mails_about(&user.email, READY).len(), 1, "one mail per transcript");
    // The link opens the transcript for its owner.
    let page = user.client.get(&link).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("transcript.srt"), "the finished transcript: {page}");
}

async fn a_run_watched_to_its_end_or_opened_before_the_mail_is_due_mails_nothing(_: &'static Stack) {
    let s = queue_stack().await;
    let user = s.sign_in_new("rq-watch").await;
    grant(s, user.user_id, 4).await;
    // The form without JavaScript waits for the run and sends the browser to the transcript
    // (the page's script does the same), which the browser opens.
    let name = format!("fake-audio-ok-{}.wav", unique());
    let watched = id_from_location(&upload(s, &user, "/tools/podscribe", &name, wav(70), "audio/wav").await);
    let shown = user.client.get(s.url(&format!("/tools/podscribe/{watched}"))).send().await.unwrap();
    assert!(shown.text().await.unwrap().contains("transcript.srt"));
    // The owner leaves, comes back and opens the page as soon as it is done.
    let opened = upload_and_leave(s, &user, &format!("fake-audio-ok-{}.wav", unique())).await;
    let page = s.url(&format!("/tools/podscribe/{opened}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    // (Its text shows while the show notes are written; done is what counts.)
    while !user.client.get(&page).send().await.unwrap().text().await.unwrap().contains("data-status=\"done\"")
    {
        assert!(Instant::now() < deadline, "the run never finished");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for id in [&watched, &opened] {
        assert_eq!(
            ready_notice_dropped_because(s, id).await.as_deref(),
            Some("seen before it was due"),
            "{id}"
        );
    }
    assert!(s.fakes.smtp.mails_about(&user.email, READY).is_empty(), "no ready mail");
}
