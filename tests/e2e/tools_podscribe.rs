//! PodScribe end to end: uploads checked by size and by content, the multipart request OpenAI
//! gets, transcripts with segments, valid SRT/VTT, show notes with chapters, credits per started
//! minute (reserved, settled down to the measured length, refunded on failure), progress for the
//! page's script, and PodScribe staying off unless enabled.

use crate::support::fakes::openai::{multipart, API_KEY};
use crate::support::tools::{
    assert_ledger_matches_balance, balance, grant, tool_ledger, unique, upload, upload_and_leave, valid_srt,
    valid_vtt, wav,
};
use crate::support::{Options, Stack, CHAT_MODEL};
use crate::trials;
use libtest_mimic::Trial;
use serde_json::Value;

pub fn tests() -> Vec<Trial> {
    trials![
        an_episode_is_transcribed_with_segments_and_show_notes_for_a_credit_per_started_minute,
        the_upload_reports_its_progress_to_the_page_script,
        a_transcript_in_progress_is_followed_by_script_and_offers_a_refresh_link_without_it,
        an_episode_shorter_than_its_file_says_is_refunded_the_difference,
        a_picture_renamed_mp3_is_refused_and_nothing_is_kept,
        an_upload_over_25_mb_is_refused_with_413_and_nothing_is_kept,
        srt_and_vtt_downloads_are_valid_subtitles,
        a_failed_transcription_is_refunded_in_full,
        show_notes_that_fail_keep_the_transcript_and_can_be_written_again_for_free,
        a_model_without_timestamps_gives_text_but_no_subtitles,
        without_credits_for_its_length_an_episode_is_not_sent,
        podscribe_is_off_unless_enabled,
    ]
}

fn id_from_location(res: &reqwest::Response) -> String {
    let location = res.headers().get("location").map(|l| l.to_str().unwrap().to_string()).unwrap_or_default();
    let id =
        location.strip_prefix("/tools/podscribe/").unwrap_or_else(|| panic!("unexpected answer: {res:?}"));
    assert_eq!(id.len(), 32);
    id.to_string()
}

async fn transcripts_of(s: &Stack, user_id: i64) -> i64 {
    s.sql()
        .await
        .query_one("SELECT count(*) FROM transcripts WHERE user_id = $1", &[&user_id])
        .await
        .unwrap()
        .get(0)
}

async fn an_episode_is_transcribed_with_segments_and_show_notes_for_a_credit_per_started_minute(
    s: &'static Stack,
) {
    let user = s.sign_in_new("ps-ok").await;
    grant(s, user.user_id, 5).await;
    let u = unique();
    let audio = wav(90);
    let res =
        upload(s, &user, "/tools/podscribe", &format!("Shop Talk {u}.wav"), audio.clone(), "audio/wav").await;
    assert_eq!(res.status(), 303);
    let id = id_from_location(&res);

    let sent = s.fakes.openai.transcriptions_mentioning(&format!("Shop_Talk_{u}.wav"));
    assert_eq!(sent.len(), 1);
    let r = &sent[0];
    assert_eq!(r.header("authorization"), Some(format!("Bearer {API_KEY}").as_str()));
    assert!(r.header("content-type").unwrap().starts_with("multipart/form-data; boundary="));
    let parts = multipart(&r.headers, &r.body);
    let field = |name: &str| {
        parts.iter().find(|p| p.name == name).map(|p| String::from_utf8_lossy(&p.data).to_string())
    };
    assert_eq!(field("model").as_deref(), Some("whisper-1"));
    assert_eq!(field("response_format").as_deref(), Some("verbose_json"));
    assert_eq!(field("timestamp_granularities[]").as_deref(), Some("segment"));
    let file = parts.iter().find(|p| p.name == "file").expect("a file part");
    assert_eq!(file.filename.as_deref(), Some(format!("Shop_Talk_{u}.wav").as_str()));
    assert_eq!(file.content_type.as_deref(), Some("audio/wav"));
    assert!(file.data == audio, "the audio arrives byte for byte");

    let notes = s.fakes.openai.chats_mentioning(&format!("Shop_Talk_{u}.wav"));
    assert_eq!(notes.len(), 1, "show notes are written once");
    let body = notes[0].json();
    assert_eq!(body["model"], CHAT_MODEL);
    assert_eq!(body["stream"], false);
    assert!(body["messages"][0]["content"].as_str().unwrap().contains("CHAPTERS"));
    assert!(body["messages"][1]["content"].as_str().unwrap().starts_with("[0:00] Welcome to the show"));

    let html =
        user.client.get(s.url(&format!("/tools/podscribe/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("data-status=\"done\""), "{html}");
    assert!(!html.contains("http-equiv=\"refresh\""), "a finished transcript stops refreshing");
    assert!(html.contains("<span class=\"time\">0:40</span> Why trust wins"));
    assert!(!html.contains("Far past the end"), "a chapter after the end is dropped");
    assert!(html.contains("Answer every review"));
    assert!(html.contains(
        "<span class=\"time\">1:20</span> Part 8 of the conversation, about trust &#38; &#60;reviews&#62;."
    ));
    assert!(html.contains(&format!("/tools/podscribe/{id}/transcript.srt")));
    assert!(html.contains("1:30 of audio · 2 credits"), "90 seconds are two started minutes: {html}");

    assert_eq!(tool_ledger(s, user.user_id).await, vec![(-2, "podscribe".into(), id.clone())]);
    assert_eq!(balance(s, user.user_id).await, 3);
    let row = s
        .sql()
        .await
        .query_one("SELECT status, duration_secs FROM transcripts WHERE id = $1", &[&id])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "done");
    assert_eq!(row.get::<_, Option<f64>>(1), Some(90.0));
}

async fn the_upload_reports_its_progress_to_the_page_script(s: &'static Stack) {
    let user = s.sign_in_new("ps-progress").await;
    grant(s, user.user_id, 1).await;
    let part = reqwest::multipart::Part::bytes(wav(20))
        .file_name(format!("progress-{}.wav", unique()))
        .mime_str("audio/wav")
        .unwrap();
    let form = reqwest::multipart::Form::new().part("file", part);
    let res = user
        .client
        .post(s.url("/api/tools/podscribe/upload"))
        .header("accept", "application/x-ndjson")
        .header("x-csrf-token", &user.csrf)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let text = res.text().await.unwrap();
    let lines: Vec<Value> =
        text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
    let statuses: Vec<&str> = lines.iter().map(|l| l["status"].as_str().unwrap()).collect();
    // The run happens in the queue consumer and the page is told what the database says, read
    // twice a second: a stage shorter than that (show notes, here) may be passed over, never
    // reordered or repeated.
    assert_eq!(statuses[..2], ["accepted", "transcribing"]);
    assert!(
        statuses == ["accepted", "transcribing", "writing_notes", "done"]
            || statuses == ["accepted", "transcribing", "done"],
        "{statuses:?}"
    );
    assert_eq!(lines[0]["credits"], 1);
    let id = lines[0]["id"].as_str().unwrap();
    assert_eq!(lines.last().unwrap()["url"], format!("/tools/podscribe/{id}"));
}

async fn an_episode_shorter_than_its_file_says_is_refunded_the_difference(s: &'static Stack) {
    let user = s.sign_in_new("ps-short").await;
    grant(s, user.user_id, 3).await;
    let name = format!("fake-audio-dur45-{}.wav", unique());
    let res = upload(s, &user, "/tools/podscribe", &name, wav(130), "audio/wav").await;
    let id = id_from_location(&res);
    assert_eq!(
        tool_ledger(s, user.user_id).await,
        vec![(-3, "podscribe".into(), id.clone()), (2, "tool_refund".into(), id.clone())],
        "130 s were reserved (3 credits); OpenAI measured 45 s (1 credit)"
    );
    assert_eq!(balance(s, user.user_id).await, 2);
    let html =
        user.client.get(s.url(&format!("/tools/podscribe/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("1 credit (2 refunded"), "{html}");
}

async fn a_picture_renamed_mp3_is_refused_and_nothing_is_kept(s: &'static Stack) {
    let user = s.sign_in_new("ps-png").await;
    grant(s, user.user_id, 5).await;
    let u = unique();
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.resize(4096, 7);
    let res =
        upload(s, &user, "/tools/podscribe", &format!("holiday-{u}.mp3"), png.clone(), "audio/mpeg").await;
    assert_eq!(res.status(), 415);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("That file isn&#39;t audio we can read")
            || html.contains("That file isn't audio we can read"),
        "{html}"
    );
    // The page script gets the same as JSON.
    let part = reqwest::multipart::Part::bytes(png)
        .file_name(format!("holiday-{u}.mp3"))
        .mime_str("audio/mpeg")
        .unwrap();
    let res = user
        .client
        .post(s.url("/api/tools/podscribe/upload"))
        .header("x-csrf-token", &user.csrf)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let body: Value = res.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("whatever its name says"));
    // A real WAV with a name we do not accept is refused too.
    let res = upload(s, &user, "/tools/podscribe", &format!("notes-{u}.txt"), wav(1), "text/plain").await;
    assert_eq!(res.status(), 415);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("PodScribe accepts mp3, m4a, mp4, wav, webm, ogg, flac files"));
    assert_eq!(transcripts_of(s, user.user_id).await, 0);
    assert!(tool_ledger(s, user.user_id).await.is_empty());
    assert!(s.fakes.openai.transcriptions_mentioning(&u).is_empty());
}

async fn an_upload_over_25_mb_is_refused_with_413_and_nothing_is_kept(s: &'static Stack) {
    let user = s.sign_in_new("ps-big").await;
    grant(s, user.user_id, 100).await;
    let u = unique();
    // Refused by its declared length, before it is read.
    let mut big = wav(1);
    big.resize(26 * 1024 * 1024, 128);
    let res = upload(s, &user, "/tools/podscribe", &format!("long-{u}.wav"), big, "audio/wav").await;
    assert_eq!(res.status(), 413);
    assert!(res.text().await.unwrap().contains("larger than 25 MB"));
    // A file one byte over 25 MB in a body within the limit: refused by the file's own size.
    let mut big = wav(1);
    big.resize(25 * 1024 * 1024 + 1, 128);
    let part = reqwest::multipart::Part::bytes(big)
        .file_name(format!("edge-{u}.wav"))
        .mime_str("audio/wav")
        .unwrap();
    let res = user
        .client
        .post(s.url("/api/tools/podscribe/upload"))
        .header("x-csrf-token", &user.csrf)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");
    // Without a declared length (browsers always send one): refused before anything is read.
    let boundary = "e2eboundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"chunked-{u}.wav\"\r\nContent-Type: audio/wav\r\n\r\n",
        user.csrf
    )
    .into_bytes();
    body.extend(wav(1));
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = body.chunks(1024).map(|c| Ok(c.to_vec())).collect();
    let res = user
        .client
        .post(s.url("/api/tools/podscribe/upload"))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 411);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "length_required");
    assert!(body["error"]["message"].as_str().unwrap().contains("did not say how large it is"));
    assert_eq!(transcripts_of(s, user.user_id).await, 0);
    assert!(tool_ledger(s, user.user_id).await.is_empty());
    assert!(s.fakes.openai.transcriptions_mentioning(&u).is_empty());
}

async fn srt_and_vtt_downloads_are_valid_subtitles(s: &'static Stack) {
    let user = s.sign_in_new("ps-subs").await;
    grant(s, user.user_id, 1).await;
    let res =
        upload(s, &user, "/tools/podscribe", &format!("subs-{}.wav", unique()), wav(35), "audio/wav").await;
    let id = id_from_location(&res);
    let get = |file: &'static str| {
        let (client, url) = (user.client.clone(), s.url(&format!("/tools/podscribe/{id}/{file}")));
        async move { client.get(url).send().await.unwrap() }
    };

    let srt = get("transcript.srt").await;
    assert_eq!(srt.status(), 200);
    assert!(srt.headers()["content-type"].to_str().unwrap().starts_with("application/x-subrip"));
    assert!(srt.headers()["content-disposition"].to_str().unwrap().ends_with(".srt\""));
    let cues = valid_srt(&srt.text().await.unwrap());
    assert_eq!(cues.len(), 4);
    assert_eq!((cues[0].0, cues[3].1), (0, 35_000));
    assert!(cues[1].2.contains("trust & <reviews>"), "SRT text is plain: {:?}", cues[1]);

    let vtt = get("transcript.vtt").await;
    assert!(vtt.headers()["content-type"].to_str().unwrap().starts_with("text/vtt"));
    let cues = valid_vtt(&vtt.text().await.unwrap());
    assert_eq!(cues.len(), 4);
    assert!(cues[1].2.contains("trust &amp; &lt;reviews&gt;"), "{:?}", cues[1]);

    let txt = get("transcript.txt").await.text().await.unwrap();
    assert!(txt.starts_with("[0:00] Welcome to the show"), "{txt}");
    let md = get("show-notes.md").await.text().await.unwrap();
    assert!(md.contains("## Chapters\n\n- 0:00 Welcome\n"), "{md}");
    assert_eq!(get("transcript.pdf").await.status(), 404);
}

async fn a_failed_transcription_is_refunded_in_full(s: &'static Stack) {
    for (behaviour, attempts, says) in
        [("500", 3, "PodScribe is busy right now"), ("400", 1, "OpenAI could not read this audio")]
    {
        let user = s.sign_in_new(&format!("ps-fail-{behaviour}")).await;
        grant(s, user.user_id, 2).await;
        let token = format!("fake-audio-{behaviour}-{}", unique());
        let res = upload(s, &user, "/tools/podscribe", &format!("{token}.wav"), wav(70), "audio/wav").await;
        let id = id_from_location(&res);
        assert_eq!(s.fakes.openai.transcriptions_mentioning(&token).len(), attempts, "{behaviour}");
        let html = user
            .client
            .get(s.url(&format!("/tools/podscribe/{id}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains(says) && html.contains("No credits were used."), "{html}");
        assert!(html.contains("data-status=\"failed\""));
        assert_eq!(
            tool_ledger(s, user.user_id).await,
            vec![(-2, "podscribe".into(), id.clone()), (2, "tool_refund".into(), id.clone())]
        );
        assert_eq!(balance(s, user.user_id).await, 2);
        assert_ledger_matches_balance(s, user.user_id).await;
        assert_eq!(
            user.client
                .get(s.url(&format!("/tools/podscribe/{id}/transcript.txt")))
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
    }
}

async fn show_notes_that_fail_keep_the_transcript_and_can_be_written_again_for_free(s: &'static Stack) {
    let user = s.sign_in_new("ps-notes").await;
    grant(s, user.user_id, 1).await;
    let token = format!("fake-chat-500x3-{}", unique());
    let res = upload(s, &user, "/tools/podscribe", &format!("{token}.wav"), wav(30), "audio/wav").await;
    let id = id_from_location(&res);
    let page = s.url(&format!("/tools/podscribe/{id}"));
    let html = user.client.get(&page).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("data-status=\"done\""), "the transcript is delivered");
    assert!(html.contains("Show notes could not be written"), "{html}");
    assert!(html.contains(&format!("action=\"/tools/podscribe/{id}/notes\"")));
    assert!(html.contains("Welcome to the show"));
    assert_eq!(s.fakes.openai.chats_mentioning(&token).len(), 3);

    let res = crate::support::tools::post_form(s, &user, &format!("/tools/podscribe/{id}/notes"), &[]).await;
    assert_eq!(res.status(), 303);
    let html = user.client.get(&page).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Answer every review") && !html.contains("could not be written"), "{html}");
    assert_eq!(tool_ledger(s, user.user_id).await, vec![(-1, "podscribe".into(), id)], "the retry was free");
}

async fn a_model_without_timestamps_gives_text_but_no_subtitles(s: &'static Stack) {
    let user = s.sign_in_new("ps-json").await;
    grant(s, user.user_id, 1).await;
    let token = format!("fake-audio-json-{}", unique());
    let id = id_from_location(
        &upload(s, &user, "/tools/podscribe", &format!("{token}.wav"), wav(25), "audio/wav").await,
    );
    let html =
        user.client.get(s.url(&format!("/tools/podscribe/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("transcript.txt") && !html.contains("transcript.srt"), "{html}");
    let srt = user.client.get(s.url(&format!("/tools/podscribe/{id}/transcript.srt"))).send().await.unwrap();
    assert_eq!(srt.status(), 404);
    let notes = s.fakes.openai.chats_mentioning(&token);
    assert!(
        !notes[0].json()["messages"][0]["content"].as_str().unwrap().contains("CHAPTERS"),
        "no chapters without times"
    );
    assert!(!html.contains("Chapters"));
}

async fn without_credits_for_its_length_an_episode_is_not_sent(s: &'static Stack) {
    let user = s.sign_in_new("ps-broke").await;
    grant(s, user.user_id, 1).await;
    let u = unique();
    let res = upload(s, &user, "/tools/podscribe", &format!("long-{u}.wav"), wav(150), "audio/wav").await;
    let (status, request_id) = (res.status(), res.headers().get("x-request-id").cloned());
    let html = res.text().await.unwrap();
    let request_id =
        request_id.unwrap_or_else(|| panic!("answered by something else than the Worker: {status}: {html}"));
    assert_eq!(status, 402, "request {request_id:?}: {html}");
    assert!(html.contains("This needs 3 credits and you have 1"));
    assert_eq!(transcripts_of(s, user.user_id).await, 0);
    assert!(s.fakes.openai.transcriptions_mentioning(&u).is_empty());
    assert_eq!(balance(s, user.user_id).await, 1);
}

async fn podscribe_is_off_unless_enabled(_: &'static Stack) {
    let s =
        Stack::start(Options { vars: vec![("PODSCRIBE_ENABLED", None)], ..Options::named("no-podscribe") })
            .await;
    let user = s.sign_in_new("ps-off").await;
    assert_eq!(user.client.get(s.url("/tools/podscribe")).send().await.unwrap().status(), 404);
    let res = upload(&s, &user, "/tools/podscribe", "ep.wav", wav(1), "audio/wav").await;
    assert_eq!(res.status(), 404);
    let dashboard = user.client.get(s.url("/dashboard")).send().await.unwrap().text().await.unwrap();
    assert!(dashboard.contains("/tools/agentwrite") && !dashboard.contains("/tools/podscribe"));
}

/// The page of a run under way never reloads itself (`<meta refresh>` fails WCAG 2.2.1 and loses
/// the reader's place): it marks the part that follows the run for the page script, and offers a
/// plain link to refresh when there is no script. Once done, nothing follows any more.
async fn a_transcript_in_progress_is_followed_by_script_and_offers_a_refresh_link_without_it(
    s: &'static Stack,
) {
    let user = s.sign_in_new("ps-follow").await;
    grant(s, user.user_id, 2).await;
    // The fake takes four seconds over a `slow` episode.
    let id = upload_and_leave(s, &user, &format!("fake-audio-slow-{}.wav", unique())).await;
    let page = s.url(&format!("/tools/podscribe/{id}"));
    let html = user.client.get(&page).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("data-status=\"transcribing\""), "still under way: {html}");
    assert!(!html.contains("http-equiv=\"refresh\""), "no page that reloads itself");
    assert!(html.contains("id=\"ps-transcript\" data-live"), "the part the script follows");
    assert!(html.contains(&format!("<a href=\"/tools/podscribe/{id}\">Refresh</a>")), "{html}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let done = loop {
        let html = user.client.get(&page).send().await.unwrap().text().await.unwrap();
        if html.contains("data-status=\"done\"") {
            break html;
        }
        assert!(std::time::Instant::now() < deadline, "the run never finished");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    assert!(!done.contains("id=\"ps-transcript\" data-live") && !done.contains(">Refresh</a>"), "{done}");
}
