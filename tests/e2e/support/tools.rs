//! Helpers for the AI tool tests: credits granted with the ledger's own SQL, a valid brief,
//! form posts, server-sent events read as they arrive, WAV files, and subtitle validators.

use super::session::SignedIn;
use super::Stack;
use ghosttools::db::credits::GRANT_SQL;
use std::time::{Duration, Instant};

/// Gives `user` credits the way billing will (one ledger row, idempotent per reference).
pub async fn grant(s: &Stack, user_id: i64, amount: i64) {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let reference = format!("e2e-grant-{user_id}-{n}");
    let row = s
        .sql()
        .await
        .query_opt(GRANT_SQL, &[&user_id, &amount, &"admin_grant", &reference, &Some("e2e test credits")])
        .await
        .unwrap();
    assert!(row.is_some(), "grant applied");
}

pub async fn balance(s: &Stack, user_id: i64) -> i64 {
    s.sql()
        .await
        .query_one(
            "SELECT coalesce((SELECT balance FROM credit_balances WHERE user_id = $1), 0)",
            &[&user_id],
        )
        .await
        .unwrap()
        .get(0)
}

/// How many AgentWrite runs the user has, in any state.
pub async fn generations_of(s: &Stack, user_id: i64) -> i64 {
    s.sql()
        .await
        .query_one("SELECT count(*) FROM generations WHERE user_id = $1", &[&user_id])
        .await
        .unwrap()
        .get(0)
}

/// Waits (up to 20 s) until none of the user's AI runs is still under way, and returns how many
/// they have: what a run charges or refunds is written by then, so a balance read after it is
/// final, not a guess after a sleep.
pub async fn runs_settled(s: &Stack, user_id: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let row = s
            .sql()
            .await
            .query_one(
                "SELECT (SELECT count(*) FROM generations WHERE user_id = $1)
                      + (SELECT count(*) FROM transcripts WHERE user_id = $1),
                        (SELECT count(*) FROM generations WHERE user_id = $1 AND status = 'running')
                      + (SELECT count(*) FROM transcripts WHERE user_id = $1
                                AND status IN ('transcribing', 'writing_notes'))",
                &[&user_id],
            )
            .await
            .unwrap();
        let (runs, under_way): (i64, i64) = (row.get(0), row.get(1));
        if under_way == 0 {
            return runs;
        }
        assert!(Instant::now() < deadline, "{under_way} runs of user {user_id} never settled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The user's ledger, oldest first: (delta, reason, reference).
pub async fn ledger(s: &Stack, user_id: i64) -> Vec<(i64, String, String)> {
    s.sql()
        .await
        .query(
            "SELECT delta, reason, reference FROM credit_ledger WHERE user_id = $1 ORDER BY id",
            &[&user_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// The ledger without the test's own grants.
pub async fn tool_ledger(s: &Stack, user_id: i64) -> Vec<(i64, String, String)> {
    ledger(s, user_id).await.into_iter().filter(|(_, reason, _)| reason != "admin_grant").collect()
}

/// The sum of the ledger must always be the balance.
pub async fn assert_ledger_matches_balance(s: &Stack, user_id: i64) {
    let sum: i64 = ledger(s, user_id).await.iter().map(|(d, _, _)| d).sum();
    assert_eq!(sum, balance(s, user_id).await, "ledger and balance disagree");
}

/// A valid AgentWrite form for `product_name`.
pub fn brief(product_name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("product_name", product_name.to_string()),
        ("features", "1.1 kg\nSets up in 3 minutes\nTwo doors".into()),
        ("audience", "Backpackers who count every gram".into()),
        ("tone", "playful".into()),
        ("length", "short".into()),
        ("language", "en".into()),
        ("keywords", "tent, ultralight".into()),
    ]
}

/// A unique suffix for markers, so counters in the fake never collide between tests.
pub fn unique() -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("u{}n{n}", std::process::id())
}

/// POSTs a urlencoded form with the user's CSRF token.
pub async fn post_form(
    s: &Stack,
    user: &SignedIn,
    path: &str,
    fields: &[(&str, String)],
) -> reqwest::Response {
    let mut all: Vec<(&str, String)> = vec![("csrf", user.csrf.clone())];
    all.extend(fields.iter().cloned());
    user.client.post(s.url(path)).form(&all).send().await.unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

/// One server-sent event and when it arrived.
#[derive(Debug, Clone)]
pub struct Sse {
    pub event: String,
    pub data: serde_json::Value,
    pub at: Instant,
    /// Which network read delivered it (events in the same read arrived together).
    pub read: usize,
}

/// Reads `res` as server-sent events as they arrive, until the stream ends (or `stop` says so).
pub async fn read_events(mut res: reqwest::Response, stop: impl Fn(&Sse) -> bool) -> Vec<Sse> {
    let mut buf = String::new();
    let mut out = Vec::new();
    let mut read = 0;
    while let Ok(Some(chunk)) =
        tokio::time::timeout(Duration::from_secs(30), res.chunk()).await.expect("stream stalled")
    {
        read += 1;
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let raw: String = buf.drain(..end + 2).collect();
            let mut event = "message".to_string();
            let mut data = String::new();
            for line in raw.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = e.to_string();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            if data.is_empty() {
                continue;
            }
            let sse = Sse { event, data: serde_json::from_str(&data).unwrap(), at: Instant::now(), read };
            let done = stop(&sse);
            out.push(sse);
            if done {
                return out;
            }
        }
    }
    out
}

/// A mono 8 kHz 8-bit WAV of `secs` seconds.
pub fn wav(secs: u32) -> Vec<u8> {
    let rate = 8000u32;
    let data = rate * secs;
    let mut b = Vec::with_capacity(44 + data as usize);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&8u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data.to_le_bytes());
    b.resize(44 + data as usize, 128);
    b
}

/// An MP3 of `frames` frames of 24 ms (MPEG-1 Layer III, 32 kbit/s, 48 kHz mono: 96 bytes each,
/// silent), after a 2 KB ID3v2 tag; every seventh frame carries a false sync word in its data,
/// as real audio does, which a cut must not mistake for a frame.
pub fn mp3(frames: usize) -> Vec<u8> {
    let tag = 2000usize;
    let mut b = b"ID3\x04\x00\x00".to_vec();
    b.extend((0..4).rev().map(|k| ((tag >> (7 * k)) & 0x7F) as u8));
    b.resize(10 + tag, 0);
    for k in 0..frames {
        let at = b.len();
        b.extend_from_slice(&[0xFF, 0xFB, 0x14, 0xC4]);
        b.resize(at + 96, 0);
        if k % 7 == 3 {
            b[at + 40..at + 44].copy_from_slice(&[0xFF, 0xFB, 0x14, 0xC4]);
        }
    }
    b
}

/// Uploads `bytes` as `file_name` through the upload form (no JavaScript).
pub async fn upload(
    s: &Stack,
    user: &SignedIn,
    path: &str,
    file_name: &str,
    bytes: Vec<u8>,
    mime: &str,
) -> reqwest::Response {
    let part =
        reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_string()).mime_str(mime).unwrap();
    let form = reqwest::multipart::Form::new().text("csrf", user.csrf.clone()).part("file", part);
    user.client.post(s.url(path)).multipart(form).send().await.unwrap()
}

/// Uploads a WAV through the progress API (as the page's script does): the answer streams
/// JSON lines of the run's stages.
pub async fn progress_upload(
    s: &Stack,
    user: &SignedIn,
    file_name: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(file_name.to_string())
        .mime_str("audio/wav")
        .unwrap();
    user.client
        .post(s.url("/api/tools/podscribe/upload"))
        .header("accept", "application/x-ndjson")
        .header("x-csrf-token", &user.csrf)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap()
}

/// Uploads through the progress API and closes the connection as soon as the run is accepted
/// (the tab is closed): answers the run's id.
pub async fn upload_and_leave(s: &Stack, user: &SignedIn, file_name: &str) -> String {
    let mut res = progress_upload(s, user, file_name, wav(70)).await;
    let mut first = Vec::new();
    while !first.contains(&b'\n') {
        first.extend_from_slice(&res.chunk().await.unwrap().expect("the accepted line"));
    }
    let line = first.split(|b| *b == b'\n').next().unwrap();
    let accepted: serde_json::Value = serde_json::from_slice(line).unwrap();
    assert_eq!(accepted["status"], "accepted");
    drop(res);
    accepted["id"].as_str().unwrap().to_string()
}

/// Parses `HH:MM:SS<sep>mmm` into milliseconds, or panics naming the bad line.
fn cue_time(t: &str, sep: char) -> u64 {
    let (hms, ms) = t.split_once(sep).unwrap_or_else(|| panic!("bad timestamp {t:?}"));
    let p: Vec<u64> =
        hms.split(':').map(|x| x.parse().unwrap_or_else(|_| panic!("bad timestamp {t:?}"))).collect();
    assert!(p.len() == 3 && p[0] < 100 && p[1] < 60 && p[2] < 60 && ms.len() == 3, "bad timestamp {t:?}");
    ((p[0] * 60 + p[1]) * 60 + p[2]) * 1000 + ms.parse::<u64>().unwrap()
}

/// Checks SubRip strictly: numbered cues from 1, `-->` timings in order, text, blank lines.
/// Returns the cues as (start ms, end ms, text).
pub fn valid_srt(srt: &str) -> Vec<(u64, u64, String)> {
    assert!(!srt.contains('\r') || srt.contains("\r\n"), "mixed line ends");
    let mut cues = Vec::new();
    let mut last_end = 0;
    for (i, block) in srt.trim_end().split("\n\n").enumerate() {
        let lines: Vec<&str> = block.lines().collect();
        assert!(lines.len() >= 3, "cue {} is incomplete: {block:?}", i + 1);
        assert_eq!(lines[0], (i + 1).to_string(), "cues are numbered from 1");
        let (a, b) = lines[1].split_once(" --> ").unwrap_or_else(|| panic!("bad timing line {:?}", lines[1]));
        let (start, end) = (cue_time(a, ','), cue_time(b, ','));
        assert!(start < end && start >= last_end, "cue {} timing out of order", i + 1);
        last_end = end;
        cues.push((start, end, lines[2..].join("\n")));
    }
    assert!(srt.ends_with("\n\n") || srt.ends_with("\n"), "ends with a line break");
    cues
}

/// Checks WebVTT strictly: the header, `-->` timings with `.`, no blank line inside a cue, no
/// raw `<` or `&` in text.
pub fn valid_vtt(vtt: &str) -> Vec<(u64, u64, String)> {
    let body = vtt.strip_prefix("WEBVTT\n\n").expect("starts with the WEBVTT header and a blank line");
    let mut cues = Vec::new();
    let mut last_end = 0;
    for block in body.trim_end().split("\n\n") {
        let lines: Vec<&str> = block.lines().collect();
        let timing = lines.iter().position(|l| l.contains(" --> ")).expect("every cue has a timing line");
        let (a, b) = lines[timing].split_once(" --> ").unwrap();
        let (start, end) = (cue_time(a, '.'), cue_time(b.split(' ').next().unwrap(), '.'));
        assert!(start < end && start >= last_end, "cue timing out of order");
        last_end = end;
        let text = lines[timing + 1..].join("\n");
        assert!(!text.is_empty(), "a cue has text");
        assert!(!text.contains("-->"), "cue text may not contain -->");
        for (i, _) in text.match_indices('&') {
            let rest = &text[i..];
            assert!(
                rest.starts_with("&amp;") || rest.starts_with("&lt;") || rest.starts_with("&gt;"),
                "raw & in {text:?}"
            );
        }
        assert!(!text.contains('<'), "raw < in {text:?}");
        cues.push((start, end, text));
    }
    cues
}

fn random_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    format!("{:016x}{:08x}{:08x}", t, std::process::id(), n as u32)
}

/// A generation written straight into the database (`minutes_ago` old), for history tests.
pub async fn insert_generation(s: &Stack, user_id: i64, status: &str, minutes_ago: i64) -> String {
    let id = random_id();
    let brief = serde_json::json!({
        "product_name": format!("Stored {id}"), "features": ["Light"], "audience": "Hikers",
        "tone": "friendly", "length": "medium", "language": "en", "keywords": [],
    })
    .to_string();
    let done = status == "done";
    s.sql()
        .await
        .execute(
            "INSERT INTO generations (id, user_id, status, brief, product_name, model, credits, output, title,
                                      description, bullets, created_at)
             VALUES ($1, $2, $3, $4::text::jsonb, $5, 'gpt-4o-mini', 1, $6, $7, $8, $9::text::jsonb,
                     now() - $10::int8 * interval '1 minute')",
            &[
                &id,
                &user_id,
                &status,
                &brief,
                &format!("Stored {id}"),
                &done.then_some("raw"),
                &done.then(|| format!("Title {id}")),
                &done.then_some("A stored description."),
                &done.then_some("[\"Light\"]"),
                &minutes_ago,
            ],
        )
        .await
        .unwrap();
    id
}

/// A finished transcript written straight into the database, with timed segments.
pub async fn insert_transcript(s: &Stack, user_id: i64, minutes_ago: i64) -> String {
    let id = random_id();
    let segments =
        r#"[{"start":0.0,"end":4.0,"text":"Hello there."},{"start":4.0,"end":9.5,"text":"Second part."}]"#;
    let notes = r#"{"summary":"S","key_points":["P"],"chapters":[{"start":0.0,"title":"Intro"}]}"#;
    s.sql()
        .await
        .execute(
            "INSERT INTO transcripts (id, user_id, status, file_name, media_type, size_bytes, duration_secs, model,
                                      credits, text, segments, notes, created_at, finished_at)
             VALUES ($1, $2, 'done', $3, 'audio/wav', 1000, 9.5, 'whisper-1', 1, 'Hello there. Second part.',
                     $4::text::jsonb, $5::text::jsonb, now() - $6::int8 * interval '1 minute', now())",
            &[&id, &user_id, &format!("episode-{id}.wav"), &segments, &notes, &minutes_ago],
        )
        .await
        .unwrap();
    id
}
