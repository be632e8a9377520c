//! PodScribe episodes over 25 MB go up in parts (an R2 multipart upload): each part its own
//! request of exactly its length, sent again at will; an upload resumes from the parts the server
//! recorded; completing judges the whole file by its contents before anything is charged, and
//! charges once however often it is completed. Played as the attacker too: another user's
//! upload, parts out of range or of the wrong length, a missing form token, a picture named
//! .mp3, a format that cannot be cut above 25 MB, completing twice, no credits.

use crate::support::session::SignedIn;
use crate::support::tools::{balance, grant, tool_ledger, unique, wav};
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;
use serde_json::Value;
use std::time::{Duration, Instant};

pub fn tests() -> Vec<Trial> {
    trials![
        an_episode_over_25_mb_goes_up_in_parts_resumes_from_what_arrived_and_is_charged_once,
        a_part_of_the_wrong_length_or_number_is_refused_and_nothing_is_recorded,
        what_cannot_be_an_episode_in_parts_is_refused_before_a_byte_is_sent,
        a_picture_named_mp3_is_refused_when_completed_and_nothing_is_charged_or_kept,
        another_users_upload_is_not_found_and_a_part_without_the_form_token_is_refused,
        without_credits_the_upload_is_kept_and_completes_once_credits_are_bought,
        deleting_the_account_or_a_day_passing_ends_an_unfinished_upload,
        an_account_keeps_three_uploads_unfinished_at_most_and_a_suspended_one_none,
    ]
}

pub(crate) const PART: usize = 8 * 1024 * 1024;
const BASE: &str = "/api/tools/podscribe/uploads";

/// 3300 s of 8 kHz 8-bit mono: 26.4 MB, four parts (the last 1.2 MB), 55 started minutes.
fn long_wav() -> Vec<u8> {
    wav(3300)
}

async fn begin(s: &Stack, user: &SignedIn, name: &str, size: usize) -> reqwest::Response {
    let size = size.to_string();
    user.client
        .post(s.url(BASE))
        .form(&[("csrf", user.csrf.as_str()), ("file_name", name), ("size", size.as_str())])
        .send()
        .await
        .unwrap()
}

pub(crate) async fn json_of(res: reqwest::Response, status: u16, what: &str) -> Value {
    let got = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "{what}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}: not JSON: {text}"))
}

pub(crate) async fn opened(s: &Stack, user: &SignedIn, name: &str, size: usize) -> String {
    let u = json_of(begin(s, user, name, size).await, 200, "begin").await;
    assert_eq!(u["part_bytes"], PART as u64);
    assert_eq!(u["parts"], size.div_ceil(PART) as u64);
    assert_eq!(u["received"], serde_json::json!([]));
    u["id"].as_str().unwrap().to_string()
}

pub(crate) async fn send_part(
    s: &Stack,
    user: &SignedIn,
    id: &str,
    n: usize,
    bytes: Vec<u8>,
) -> reqwest::Response {
    user.client
        .post(s.url(&format!("{BASE}/{id}/parts/{n}")))
        .header("content-type", "application/octet-stream")
        .header("x-csrf-token", &user.csrf)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

pub(crate) fn part_of(file: &[u8], n: usize) -> Vec<u8> {
    file[(n - 1) * PART..(n * PART).min(file.len())].to_vec()
}

pub(crate) async fn complete(s: &Stack, user: &SignedIn, id: &str) -> reqwest::Response {
    user.client
        .post(s.url(&format!("{BASE}/{id}/complete")))
        .form(&[("csrf", user.csrf.as_str())])
        .send()
        .await
        .unwrap()
}

async fn received(s: &Stack, user: &SignedIn, id: &str) -> Value {
    let res = user.client.get(s.url(&format!("{BASE}/{id}"))).send().await.unwrap();
    json_of(res, 200, "status").await["received"].clone()
}

async fn until_done(s: &Stack, id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let status: String = s
            .sql()
            .await
            .query_one("SELECT status FROM transcripts WHERE id = $1", &[&id])
            .await
            .unwrap()
            .get(0);
        if status == "done" || status == "failed" {
            return status;
        }
        assert!(Instant::now() < deadline, "the run never ended: {status}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn uploads_of(s: &Stack, user_id: i64) -> i64 {
    s.sql()
        .await
        .query_one("SELECT count(*) FROM episode_uploads WHERE user_id = $1", &[&user_id])
        .await
        .unwrap()
        .get(0)
}

async fn an_episode_over_25_mb_goes_up_in_parts_resumes_from_what_arrived_and_is_charged_once(
    s: &'static Stack,
) {
    let user = s.sign_in_new("parts-ok").await;
    grant(s, user.user_id, 60).await;
    let file = long_wav();
    let id = opened(s, &user, &format!("long-fake-audio-ok-{}.wav", unique()), file.len()).await;
    for n in [1, 2, 4] {
        let u = json_of(send_part(s, &user, &id, n, part_of(&file, n)).await, 200, "a part").await;
        assert!(u["received"].as_array().unwrap().contains(&n.into()));
    }
    // Part 2 sent again (its answer was lost): it replaces the first.
    json_of(send_part(s, &user, &id, 2, part_of(&file, 2)).await, 200, "part 2 again").await;
    // The connection dropped before part 3: the server says what arrived, and completing now
    // names what is missing.
    assert_eq!(received(s, &user, &id).await, serde_json::json!([1, 2, 4]));
    let early = json_of(complete(s, &user, &id).await, 409, "complete too early").await;
    assert!(early["error"]["message"].as_str().unwrap().contains("Parts 3 have not arrived"), "{early}");
    assert_eq!(balance(s, user.user_id).await, 60, "nothing charged yet");
    json_of(send_part(s, &user, &id, 3, part_of(&file, 3)).await, 200, "part 3").await;
    let accepted = json_of(complete(s, &user, &id).await, 200, "complete").await;
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["url"], format!("/tools/podscribe/{id}"));
    assert_eq!(accepted["credits"], 55, "one credit per started minute of 55");
    assert_eq!(until_done(s, &id).await, "done");
    // Completed again (a double click, a retried request): the same run, charged once.
    let again = json_of(complete(s, &user, &id).await, 200, "complete again").await;
    assert_eq!((again["status"].clone(), again["credits"].clone()), ("accepted".into(), Value::Null));
    assert_eq!(tool_ledger(s, user.user_id).await, vec![(-55, "podscribe".into(), id.clone())]);
    assert_eq!(balance(s, user.user_id).await, 5);
    let page =
        user.client.get(s.url(&format!("/tools/podscribe/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("data-status=\"done\"") && page.contains("55:00 of audio"), "{page}");
    // No more parts once complete.
    let late =
        json_of(send_part(s, &user, &id, 1, part_of(&file, 1)).await, 409, "a part after completion").await;
    assert!(late["error"]["message"].as_str().unwrap().contains("complete"), "{late}");
}

async fn a_part_of_the_wrong_length_or_number_is_refused_and_nothing_is_recorded(s: &'static Stack) {
    let user = s.sign_in_new("parts-bad").await;
    let file = long_wav();
    let id = opened(s, &user, "episode.wav", file.len()).await;
    let short = json_of(send_part(s, &user, &id, 1, vec![0; 1000]).await, 400, "a short part").await;
    assert!(
        short["error"]["message"].as_str().unwrap().contains("Part 1 must be 8388608 bytes; 1000 arrived"),
        "{short}"
    );
    let last = json_of(send_part(s, &user, &id, 4, vec![0; PART]).await, 400, "a last part too long").await;
    let last_len = file.len() - 3 * PART;
    assert!(
        last["error"]["message"].as_str().unwrap().contains(&format!("must be {last_len} bytes")),
        "{last}"
    );
    for n in ["0", "5"] {
        let res = user
            .client
            .post(s.url(&format!("{BASE}/{id}/parts/{n}")))
            .header("content-type", "application/octet-stream")
            .header("x-csrf-token", &user.csrf)
            .body(vec![0; 10])
            .send()
            .await
            .unwrap();
        let body = json_of(res, 400, &format!("part {n}")).await;
        assert!(body["error"]["message"].as_str().unwrap().contains("there is no part"), "{body}");
    }
    let res = user
        .client
        .post(s.url(&format!("{BASE}/{id}/parts/x")))
        .header("x-csrf-token", &user.csrf)
        .body(vec![0; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "a part number that is not a number");
    // Over a part's length: refused on its declared length, before it is read.
    let res = send_part(s, &user, &id, 1, vec![0; PART + 1]).await;
    assert_eq!(res.status(), 413);
    assert_eq!(received(s, &user, &id).await, serde_json::json!([]), "nothing recorded");
}

async fn what_cannot_be_an_episode_in_parts_is_refused_before_a_byte_is_sent(s: &'static Stack) {
    let user = s.sign_in_new("parts-refused").await;
    let cases = [
        ("huge.mp3", 500 * 1024 * 1024 + 1, 413, "larger than 500 MB"),
        ("talk.m4a", 30 * 1024 * 1024, 415, "must be MP3 or WAV"),
        ("notes.txt", 1000, 415, "PodScribe accepts"),
        ("empty.mp3", 0, 400, "Choose an audio file"),
    ];
    for (name, size, status, says) in cases {
        let body = json_of(begin(s, &user, name, size).await, status, name).await;
        assert!(body["error"]["message"].as_str().unwrap().contains(says), "{name}: {body}");
    }
    let res = user
        .client
        .post(s.url(BASE))
        .form(&[("csrf", user.csrf.as_str()), ("file_name", "a.mp3"), ("size", "lots")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "a size that is not a number");
    assert_eq!(uploads_of(s, user.user_id).await, 0, "nothing opened");
}

async fn a_picture_named_mp3_is_refused_when_completed_and_nothing_is_charged_or_kept(s: &'static Stack) {
    let user = s.sign_in_new("parts-png").await;
    grant(s, user.user_id, 100).await;
    let mut picture = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    picture.resize(26 * 1024 * 1024 + 7, 0);
    let id = opened(s, &user, "definitely-audio.mp3", picture.len()).await;
    for n in 1..=4 {
        json_of(send_part(s, &user, &id, n, part_of(&picture, n)).await, 200, "a part").await;
    }
    let refused = json_of(complete(s, &user, &id).await, 415, "a picture").await;
    assert!(refused["error"]["message"].as_str().unwrap().contains("isn't audio"), "{refused}");
    assert_eq!(balance(s, user.user_id).await, 100, "nothing charged");
    assert!(tool_ledger(s, user.user_id).await.is_empty());
    assert_eq!(uploads_of(s, user.user_id).await, 0, "the upload is gone");
    let res = user.client.get(s.url(&format!("{BASE}/{id}"))).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let transcripts: i64 = s
        .sql()
        .await
        .query_one("SELECT count(*) FROM transcripts WHERE user_id = $1", &[&user.user_id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(transcripts, 0);
}

async fn another_users_upload_is_not_found_and_a_part_without_the_form_token_is_refused(s: &'static Stack) {
    let owner = s.sign_in_new("parts-owner").await;
    let thief = s.sign_in_new("parts-thief").await;
    grant(s, thief.user_id, 100).await;
    let file = wav(60);
    let id = opened(s, &owner, "mine.wav", file.len()).await;
    let res = thief.client.get(s.url(&format!("{BASE}/{id}"))).send().await.unwrap();
    assert_eq!(res.status(), 404, "status");
    assert_eq!(send_part(s, &thief, &id, 1, file.clone()).await.status(), 404, "a part");
    assert_eq!(complete(s, &thief, &id).await.status(), 404, "complete");
    let res = owner
        .client
        .post(s.url(&format!("{BASE}/{id}/parts/1")))
        .header("content-type", "application/octet-stream")
        .body(file.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "no form token");
    assert_eq!(received(s, &owner, &id).await, serde_json::json!([]));
    // The owner's own upload still works (and a small file may go in parts too).
    json_of(send_part(s, &owner, &id, 1, file).await, 200, "the owner's part").await;
    grant(s, owner.user_id, 1).await;
    json_of(complete(s, &owner, &id).await, 200, "complete").await;
    assert_eq!(balance(s, thief.user_id).await, 100);
}

async fn without_credits_the_upload_is_kept_and_completes_once_credits_are_bought(s: &'static Stack) {
    let user = s.sign_in_new("parts-poor").await;
    grant(s, user.user_id, 1).await;
    let file = wav(150);
    let id = opened(s, &user, &format!("fake-audio-ok-{}.wav", unique()), file.len()).await;
    json_of(send_part(s, &user, &id, 1, file).await, 200, "the part").await;
    let poor = json_of(complete(s, &user, &id).await, 402, "without credits").await;
    assert!(poor["error"]["message"].as_str().unwrap().contains("complete it again"), "{poor}");
    assert_eq!(balance(s, user.user_id).await, 1);
    grant(s, user.user_id, 2).await;
    let accepted = json_of(complete(s, &user, &id).await, 200, "with credits").await;
    assert_eq!(accepted["credits"], 3);
    assert_eq!(until_done(s, &id).await, "done");
    assert_eq!(balance(s, user.user_id).await, 0);
}

async fn deleting_the_account_or_a_day_passing_ends_an_unfinished_upload(s: &'static Stack) {
    // A day passes: the sweep aborts it.
    let user = s.sign_in_new("parts-stale").await;
    let id = opened(s, &user, "stale.wav", wav(60).len()).await;
    json_of(send_part(s, &user, &id, 1, wav(60)).await, 200, "a part").await;
    s.sql()
        .await
        .execute("UPDATE episode_uploads SET created_at = now() - interval '25 hours' WHERE id = $1", &[&id])
        .await
        .unwrap();
    let res = reqwest::get(s.url("/__scheduled?cron=*/10+*+*+*+*")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(uploads_of(s, user.user_id).await, 0, "the sweep aborted it");
    // The account is deleted: its unfinished upload goes with it.
    let leaving = s.sign_in_new("parts-leaving").await;
    opened(s, &leaving, "mine.wav", 1000).await;
    let res = leaving
        .client
        .post(s.url("/account/delete"))
        .form(&[("csrf", leaving.csrf.as_str()), ("confirm", leaving.email.as_str())])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection() || res.status().is_success(), "{}", res.status());
    assert_eq!(uploads_of(s, leaving.user_id).await, 0);
}

async fn an_account_keeps_three_uploads_unfinished_at_most_and_a_suspended_one_none(s: &'static Stack) {
    let user = s.sign_in_new("parts-pile").await;
    for n in 0..3 {
        opened(s, &user, &format!("show-{n}.mp3"), 30 * 1024 * 1024).await;
    }
    let fourth = json_of(begin(s, &user, "show-3.mp3", 30 * 1024 * 1024).await, 429, "a fourth").await;
    assert!(fourth["error"]["message"].as_str().unwrap().contains("3 uploads unfinished"), "{fourth}");
    assert_eq!(uploads_of(s, user.user_id).await, 3);
    let held = s.sign_in_new("parts-held").await;
    s.sql()
        .await
        .execute(
            "UPDATE users SET suspended_at = now(), suspended_reason = 'test' WHERE id = $1",
            &[&held.user_id],
        )
        .await
        .unwrap();
    let res = begin(s, &held, "show.mp3", 30 * 1024 * 1024).await;
    assert_eq!(res.status(), 403, "a suspended account uploads nothing");
    assert_eq!(uploads_of(s, held.user_id).await, 0);
}
