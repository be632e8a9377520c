//! Uploads under pressure, each on a stack of its own (what they check would leak into other
//! tests when it breaks): several large episodes at once stay out of the Worker's WebAssembly
//! memory, and a body refused at its limit leaves the connection it came on usable.

use crate::support::session::SignedIn;
use crate::support::tools::{grant, unique, upload, wav};
use crate::support::{Options, Stack};
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        several_large_uploads_at_once_stay_out_of_the_workers_memory,
        a_body_refused_at_its_limit_leaves_the_next_request_unharmed,
    ]
}

/// The size of the Worker's WebAssembly memory (it only grows: the peak so far).
async fn wasm_memory(s: &Stack) -> u64 {
    let res = s.get("/api/debug/memory").await;
    assert_eq!(res.status(), 200);
    res.json::<serde_json::Value>().await.unwrap()["wasm_memory_bytes"].as_u64().unwrap()
}

const MB: u64 = 1024 * 1024;

async fn several_large_uploads_at_once_stay_out_of_the_workers_memory(_: &'static Stack) {
    let s = Stack::start(Options::named("uploads-at-once")).await;
    let before = wasm_memory(&s).await;
    let size = 24 * MB as usize;
    let mut users = Vec::new();
    for i in 0..6 {
        let user = s.sign_in_new("ps-at-once").await;
        // Every other user can pay for the episode (24 MB of WAV can hold 53 minutes, and
        // that is what is reserved); the rest are refused (402) once it is read.
        if i % 2 == 0 {
            grant(&s, user.user_id, 60).await;
        }
        users.push(user);
    }
    let u = unique();
    let audio = |i: usize| {
        let mut a = wav(1);
        a.resize(size, i as u8);
        a
    };
    let uploads = users.iter().enumerate().map(|(i, user)| {
        let s = &s;
        let name = format!("at-once-{i}-{u}.wav");
        async move {
            let res = upload(s, user, "/tools/podscribe", &name, audio(i), "audio/wav").await;
            let by_worker = res.headers().contains_key("x-request-id");
            (i, res.status().as_u16(), by_worker, res.text().await.unwrap_or_default())
        }
    });
    for (i, status, by_worker, body) in futures_util::future::join_all(uploads).await {
        let expected = if i % 2 == 0 { 303 } else { 402 };
        assert!(
            by_worker && status == expected,
            "upload {i}: {status} (answered by the Worker: {by_worker}), expected {expected}: {body:.300}"
        );
    }
    for i in (0..6).step_by(2) {
        let sent = s.fakes.openai.transcriptions_mentioning(&format!("at-once-{i}-{u}.wav"));
        assert_eq!(sent.len(), 1, "upload {i} is transcribed once");
        let parts = crate::support::fakes::openai::multipart(&sent[0].headers, &sent[0].body);
        let file = parts.iter().find(|p| p.name == "file").expect("a file part");
        assert!(file.data == audio(i), "upload {i} reaches OpenAI byte for byte");
    }
    let after = wasm_memory(&s).await;
    eprintln!("wasm memory: {} KiB before, {} KiB after six 24 MB uploads", before / 1024, after / 1024);
    assert!(
        after < before + 8 * MB,
        "the uploads went through the Worker's memory: {before} bytes before, {after} after"
    );
}

/// A small upload any test may send: a 150 s episode for a user with one credit (402).
async fn next_upload_is_answered_by_the_worker(s: &Stack, after: &str) {
    let user = s.sign_in_new("ps-next").await;
    grant(s, user.user_id, 1).await;
    let res =
        upload(s, &user, "/tools/podscribe", &format!("next-{}.wav", unique()), wav(150), "audio/wav").await;
    let (status, by_worker) = (res.status(), res.headers().contains_key("x-request-id"));
    let body = res.text().await.unwrap_or_default();
    assert!(
        by_worker && status == 402,
        "after {after}: {status} (answered by the Worker: {by_worker}): {body}"
    );
}

/// A body sent in chunks, without a Content-Length.
fn chunked(body: Vec<u8>) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(256 * 1024).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

async fn a_body_refused_at_its_limit_leaves_the_next_request_unharmed(_: &'static Stack) {
    let s = Stack::start(Options::named("cut-off")).await;
    for round in 0..2 {
        // An upload that does not say how large it is: refused before it is read.
        let user: SignedIn = s.sign_in_new("ps-cut").await;
        let boundary = "e2eboundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"chunked-{}.wav\"\r\nContent-Type: audio/wav\r\n\r\n",
            user.csrf,
            unique()
        )
        .into_bytes();
        body.extend(wav(1));
        body.resize(27 * MB as usize, 128);
        let res = user
            .client
            .post(s.url("/api/tools/podscribe/upload"))
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(chunked(body))
            .send()
            .await
            .unwrap();
        let status = res.status();
        next_upload_is_answered_by_the_worker(&s, "an upload without a length").await;
        assert_eq!(status, 411, "round {round}");

        // A form without a length (here over its 64 KiB limit too): refused unread.
        let res = s
            .http
            .post(s.url("/signin"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(chunked(vec![b'a'; 200 * 1024]))
            .send()
            .await
            .unwrap();
        let status = res.status();
        next_upload_is_answered_by_the_worker(&s, "a form without a length").await;
        assert_eq!(status, 411, "round {round}");

        // A form declaring more than its limit: refused unread.
        let res = s
            .http
            .post(s.url("/signin"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(vec![b'a'; 200 * 1024])
            .send()
            .await
            .unwrap();
        let status = res.status();
        next_upload_is_answered_by_the_worker(&s, "a form over its limit").await;
        assert_eq!(status, 413, "round {round}");
    }
}
