//! The scheduled sweep (Cron Trigger): stranded runs are refunded though their owners never come
//! back, exactly once however often it runs; expired sign-in links and sessions are deleted.
//! `wrangler dev --test-scheduled` fires the Worker's `scheduled` event at `/__scheduled`.

use crate::support::tools::{balance, grant, insert_generation};
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        the_sweep_refunds_stranded_runs_of_owners_who_never_come_back_once,
        the_sweep_deletes_expired_sign_in_links_and_sessions_past_their_lifetime,
    ]
}

/// Fires the Cron Trigger as Cloudflare would, and waits for the handler to finish.
async fn fire_cron(s: &Stack) {
    let res = reqwest::get(s.url("/__scheduled?cron=*/10+*+*+*+*")).await.unwrap();
    assert_eq!(res.status(), 200, "scheduled event ran: {}", res.text().await.unwrap_or_default());
}

/// A PodScribe run still `transcribing`, written straight into the database.
async fn insert_stranded_transcript(s: &Stack, user_id: i64, minutes_ago: i64, credits: i32) -> String {
    insert_transcript_in(s, user_id, "transcribing", minutes_ago, credits).await
}

/// A PodScribe run in `status` (its transcript written once past `transcribing`).
async fn insert_transcript_in(
    s: &Stack,
    user_id: i64,
    status: &str,
    minutes_ago: i64,
    credits: i32,
) -> String {
    let id = format!("{:032x}", rand_id());
    let text = (status != "transcribing").then_some("Hello there.");
    s.sql()
        .await
        .execute(
            "INSERT INTO transcripts (id, user_id, status, file_name, media_type, size_bytes, model, credits,
                                      text, created_at)
             VALUES ($1, $2, $5, 'episode.mp3', 'audio/mpeg', 1000, 'whisper-1', $3, $6,
                     now() - $4::int8 * interval '1 minute')",
            &[&id, &user_id, &credits, &minutes_ago, &status, &text],
        )
        .await
        .unwrap();
    id
}

fn rand_id() -> u128 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    t ^ (u128::from(std::process::id()) << 96)
}

async fn status_of(s: &Stack, table: &str, id: &str) -> (String, Option<String>) {
    let row = s
        .sql()
        .await
        .query_one(&format!("SELECT status, error FROM {table} WHERE id = $1"), &[&id])
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

async fn notes_error_of(s: &Stack, id: &str) -> Option<String> {
    let sql = s.sql().await;
    sql.query_one("SELECT notes_error FROM transcripts WHERE id = $1", &[&id]).await.unwrap().get(0)
}

async fn refunds_of(s: &Stack, reference: &str) -> i64 {
    s.sql()
        .await
        .query_one(
            "SELECT count(*) FROM credit_ledger WHERE reason = 'tool_refund' AND reference = $1",
            &[&reference],
        )
        .await
        .unwrap()
        .get(0)
}

async fn the_sweep_refunds_stranded_runs_of_owners_who_never_come_back_once(s: &'static Stack) {
    // Two people whose runs lost their Worker; neither opens a page again.
    let writer = s.sign_in_new("sweep-writer").await;
    let podcaster = s.sign_in_new("sweep-podcaster").await;
    grant(s, writer.user_id, 4).await;
    grant(s, podcaster.user_id, 4).await;
    let stranded = insert_generation(s, writer.user_id, "running", 20).await;
    let young = insert_generation(s, writer.user_id, "running", 2).await;
    let stranded_episode = insert_stranded_transcript(s, podcaster.user_id, 50, 3).await;
    let young_episode = insert_stranded_transcript(s, podcaster.user_id, 30, 3).await;
    // Its transcript delivered (and charged), the notes never written: done without them.
    let noteless = insert_transcript_in(s, podcaster.user_id, "writing_notes", 50, 2).await;

    fire_cron(s).await;
    assert_eq!(status_of(s, "generations", &stranded).await, ("failed".into(), Some("abandoned".into())));
    assert_eq!(
        status_of(s, "transcripts", &stranded_episode).await,
        ("failed".into(), Some("abandoned".into()))
    );
    assert_eq!(balance(s, writer.user_id).await, 4 + 1, "the generation's credit is given back");
    assert_eq!(balance(s, podcaster.user_id).await, 4 + 3, "the transcription's credits are given back");
    assert_eq!(status_of(s, "transcripts", &noteless).await, ("done".into(), None));
    assert_eq!(notes_error_of(s, &noteless).await.as_deref(), Some("abandoned"));
    assert_eq!(refunds_of(s, &noteless).await, 0, "a delivered transcript is not refunded");
    // Runs that may still be working are left alone (15 min for AgentWrite, 45 for PodScribe).
    assert_eq!(status_of(s, "generations", &young).await.0, "running");
    assert_eq!(status_of(s, "transcripts", &young_episode).await.0, "transcribing");

    // The next ticks, and the owner's own visit to /history, never refund again.
    fire_cron(s).await;
    fire_cron(s).await;
    let history = writer.client.get(s.url("/history")).send().await.unwrap();
    assert_eq!(history.status(), 200);
    assert_eq!(refunds_of(s, &stranded).await, 1);
    assert_eq!(refunds_of(s, &stranded_episode).await, 1);
    assert_eq!(balance(s, writer.user_id).await, 5);
    assert_eq!(balance(s, podcaster.user_id).await, 7);
}

async fn the_sweep_deletes_expired_sign_in_links_and_sessions_past_their_lifetime(s: &'static Stack) {
    let user = s.sign_in_new("sweep-house").await;
    let db = s.sql().await;
    let email = format!("sweep-house-{:x}@example.com", rand_id());
    let (old, recent) =
        (format!("old-{:x}", rand_id()).into_bytes(), format!("new-{:x}", rand_id()).into_bytes());
    for (hash, expired) in [(&old, "2 days"), (&recent, "1 hour")] {
        db.execute(
            &format!(
                "INSERT INTO email_sign_in_tokens (token_hash, email, expires_at)
                 VALUES ($1, $2, now() - interval '{expired}')"
            ),
            &[hash, &email],
        )
        .await
        .unwrap();
    }
    // Address-change links too: they hold the address asked for.
    for (hash, expired) in [(&old, "2 days"), (&recent, "1 hour")] {
        db.execute(
            &format!(
                "INSERT INTO email_changes (token_hash, user_id, new_email, expires_at)
                 VALUES ($1, $2, $3, now() - interval '{expired}')"
            ),
            &[hash, &user.user_id, &email],
        )
        .await
        .unwrap();
    }
    let sid = format!("sweep-{:x}", rand_id());
    db.execute(
        "INSERT INTO sessions (sid, user_id, created_at, last_seen_at)
         VALUES ($1, $2, now() - interval '91 days', now() - interval '1 day')",
        &[&sid, &user.user_id],
    )
    .await
    .unwrap();

    fire_cron(s).await;
    let tokens: Vec<Vec<u8>> = db
        .query("SELECT token_hash FROM email_sign_in_tokens WHERE email = $1", &[&email])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        tokens,
        vec![recent.clone()],
        "a link expired over a day ago is gone; a recent one still says 'expired'"
    );
    let changes: Vec<Vec<u8>> = db
        .query("SELECT token_hash FROM email_changes WHERE user_id = $1", &[&user.user_id])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(changes, vec![recent.clone()], "an address change expired over a day ago is gone");
    let left: i64 =
        db.query_one("SELECT count(*) FROM sessions WHERE sid = $1", &[&sid]).await.unwrap().get(0);
    assert_eq!(left, 0, "a session past its 90 days is deleted");
    // The user's live session is untouched.
    let dashboard = user.client.get(s.url("/dashboard")).send().await.unwrap();
    assert_eq!(dashboard.status(), 200);
    assert_eq!(dashboard.url().path(), "/dashboard");
}
