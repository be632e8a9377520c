//! Episodes larger than one transcription request carries: MP3 and WAV are cut into chunks that
//! are each a file of their own (WAV: a fresh header; MP3: whole frames), transcribed in turn and
//! stitched, with timestamps continuous across chunk edges and one charge for the whole episode;
//! a chunk that keeps failing for a while is retried by the queue, which resumes at that chunk,
//! and the run still settles once (what was kept of it gone from R2 afterwards);
//! a format that cannot be cut is refused at upload above the limit, before anything is charged.
//!
//! On a stack of its own whose `TRANSCRIBE_CHUNK_BYTES` is 200 004 (so episodes of a few hundred
//! KB go in chunks) and whose queue retries twice, a second apart.

use crate::runs_queue::{id_from_location, r2_is_emptied, status_of};
use crate::support::fakes::openai::{mp3_secs, multipart};
use crate::support::tools::{
    assert_ledger_matches_balance, balance, grant, mp3, progress_upload, tool_ledger, unique, upload,
    valid_srt, valid_vtt, wav,
};
use crate::support::{own_stack, Options, Stack};
use crate::tools_podscribe::transcripts_of;
use crate::trials;
use libtest_mimic::Trial;
use tokio::sync::OnceCell;

pub fn tests() -> Vec<Trial> {
    trials![
        a_wav_larger_than_a_request_is_sent_in_valid_chunks_and_stitched_into_one_transcript_charged_once,
        an_mp3_larger_than_a_request_is_cut_between_frames_and_stitched_with_continuous_timestamps,
        a_chunk_that_fails_for_a_while_is_retried_from_that_chunk_and_the_run_settles_once,
        a_format_that_cannot_be_cut_is_refused_above_the_chunk_limit_before_any_charge,
        a_100_mb_mp3_goes_up_in_parts_and_is_transcribed_in_chunks_under_the_api_limit,
        the_progress_and_the_page_say_how_many_chunks_are_transcribed,
    ]
}

/// 44 bytes of WAV header and 199 960 of audio: 24.995 s at 8000 bytes a second.
const CHUNK_BYTES: usize = 200_004;
static CHUNKS_STACK: OnceCell<Stack> = OnceCell::const_new();

async fn chunks_stack() -> &'static Stack {
    own_stack(
        &CHUNKS_STACK,
        Options {
            run_retries: 2,
            vars: vec![("TRANSCRIBE_CHUNK_BYTES", Some(CHUNK_BYTES.to_string()))],
            ..Options::named("chunks")
        },
    )
    .await
}

pub fn shutdown() {
    if let Some(s) = CHUNKS_STACK.get() {
        s.shutdown();
    }
}

/// The files OpenAI was sent for `name`, in order.
pub(crate) fn chunks_sent(s: &Stack, name: &str) -> Vec<Vec<u8>> {
    s.fakes
        .openai
        .transcriptions_mentioning(name)
        .iter()
        .map(|r| {
            let parts = multipart(&r.headers, &r.body);
            let file = parts.into_iter().find(|p| p.name == "file").expect("a file part");
            assert_eq!(file.filename.as_deref(), Some(name), "each chunk goes under the episode's name");
            file.data.to_vec()
        })
        .collect()
}

/// The transcript's SRT and VTT, checked valid, as their cues.
pub(crate) async fn subtitles(
    s: &Stack,
    user: &crate::support::session::SignedIn,
    id: &str,
) -> Vec<(u64, u64, String)> {
    let get = |file: &str| user.client.get(s.url(&format!("/tools/podscribe/{id}/{file}"))).send();
    let srt = valid_srt(&get("transcript.srt").await.unwrap().text().await.unwrap());
    let vtt = valid_vtt(&get("transcript.vtt").await.unwrap().text().await.unwrap());
    assert_eq!(srt.len(), vtt.len());
    srt
}

/// Cues that follow each other without a gap or an overlap, from 0 to `end_ms`; answers where
/// each chunk's first cue ("Welcome to the show", as the fake begins every transcription) starts.
pub(crate) fn continuous(cues: &[(u64, u64, String)], end_ms: u64) -> Vec<u64> {
    assert_eq!(cues[0].0, 0);
    for pair in cues.windows(2) {
        assert_eq!(pair[1].0, pair[0].1, "no gap or overlap between cues: {pair:?}");
    }
    assert_eq!(cues.last().unwrap().1, end_ms, "the last cue ends where the episode does");
    cues.iter().filter(|c| c.2.starts_with("Welcome to the show")).map(|c| c.0).collect()
}

async fn a_wav_larger_than_a_request_is_sent_in_valid_chunks_and_stitched_into_one_transcript_charged_once(
    _: &'static Stack,
) {
    let s = chunks_stack().await;
    let user = s.sign_in_new("ch-wav").await;
    grant(s, user.user_id, 5).await;
    let name = format!("long-{}.wav", unique());
    let episode = wav(130);
    let id =
        id_from_location(&upload(s, &user, "/tools/podscribe", &name, episode.clone(), "audio/wav").await);
    assert_eq!(status_of(s, &id).await.0, "done");

    let sent = chunks_sent(s, &name);
    assert_eq!(sent.len(), 6, "1 040 000 bytes of audio in chunks of at most 199 960");
    let mut audio = Vec::new();
    for chunk in &sent {
        assert!(chunk.len() <= CHUNK_BYTES, "{}", chunk.len());
        assert_eq!((&chunk[0..4], &chunk[8..16]), (&b"RIFF"[..], &b"WAVEfmt "[..]), "a WAV of its own");
        assert_eq!(u32::from_le_bytes(chunk[4..8].try_into().unwrap()) as usize, chunk.len() - 8);
        assert_eq!(&chunk[36..40], b"data");
        assert_eq!(u32::from_le_bytes(chunk[40..44].try_into().unwrap()) as usize, chunk.len() - 44);
        assert_eq!(chunk[12..36], episode[12..36], "the episode's own format");
        audio.extend_from_slice(&chunk[44..]);
    }
    assert!(audio == episode[44..], "the chunks carry the episode's audio, all of it, once");

    let cues = subtitles(s, &user, &id).await;
    // Each chunk starts 24.995 s after the last: its audio's length, not what the model says.
    assert_eq!(continuous(&cues, 130_000), vec![0, 24_995, 49_990, 74_985, 99_980, 124_975]);
    assert_eq!(
        tool_ledger(s, user.user_id).await,
        vec![(-3, "podscribe".into(), id.clone())],
        "charged once"
    );
    assert_eq!(balance(s, user.user_id).await, 2);
    assert_ledger_matches_balance(s, user.user_id).await;
    r2_is_emptied(s).await;
}

async fn an_mp3_larger_than_a_request_is_cut_between_frames_and_stitched_with_continuous_timestamps(
    _: &'static Stack,
) {
    let s = chunks_stack().await;
    let user = s.sign_in_new("ch-mp3").await;
    grant(s, user.user_id, 5).await;
    let name = format!("long-{}.mp3", unique());
    // 5417 frames of 24 ms: 130.008 s in 522 042 bytes.
    let episode = mp3(5417);
    let id =
        id_from_location(&upload(s, &user, "/tools/podscribe", &name, episode.clone(), "audio/mpeg").await);
    assert_eq!(status_of(s, &id).await.0, "done");

    let sent = chunks_sent(s, &name);
    assert_eq!(sent.len(), 3);
    assert!(sent.concat() == episode, "the chunks are the episode, cut, nothing added or lost");
    assert!(sent[0].starts_with(b"ID3"), "the tag stays with the first chunk");
    let mut starts = vec![0u64];
    for chunk in &sent {
        assert!(chunk.len() <= CHUNK_BYTES, "{}", chunk.len());
        let secs = mp3_secs(chunk).expect("whole frames from start to end");
        starts.push(starts.last().unwrap() + (secs * 1000.0).round() as u64);
    }
    let cues = subtitles(s, &user, &id).await;
    assert_eq!(continuous(&cues, 130_008), starts[..3]);
    assert_eq!(
        tool_ledger(s, user.user_id).await,
        vec![(-3, "podscribe".into(), id.clone())],
        "charged once"
    );
    assert_eq!(balance(s, user.user_id).await, 2);
    r2_is_emptied(s).await;
}

async fn a_chunk_that_fails_for_a_while_is_retried_from_that_chunk_and_the_run_settles_once(
    _: &'static Stack,
) {
    let s = chunks_stack().await;
    let user = s.sign_in_new("ch-retry").await;
    grant(s, user.user_id, 3).await;
    // Two chunks are transcribed, then the third fails all of its client's three attempts: the
    // queue delivers the run again, which resumes at the third chunk (the first two were kept).
    let name = format!("fake-audio-500after2-{}.wav", unique());
    let id = id_from_location(&upload(s, &user, "/tools/podscribe", &name, wav(130), "audio/wav").await);
    assert_eq!(status_of(s, &id).await.0, "done");
    assert_eq!(chunks_sent(s, &name).len(), 2 + 3 + 4, "the first two chunks are not sent again");
    assert!(s.worker.log_text().contains(&format!("transcription {id} will be retried")));
    let cues = subtitles(s, &user, &id).await;
    assert_eq!(continuous(&cues, 130_000).len(), 6, "each chunk once in the transcript");
    assert_eq!(
        tool_ledger(s, user.user_id).await,
        vec![(-3, "podscribe".into(), id.clone())],
        "charged once"
    );
    assert_eq!(balance(s, user.user_id).await, 0);
    r2_is_emptied(s).await;
}

fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(body);
    b
}

async fn a_format_that_cannot_be_cut_is_refused_above_the_chunk_limit_before_any_charge(_: &'static Stack) {
    let s = chunks_stack().await;
    let user = s.sign_in_new("ch-m4a").await;
    grant(s, user.user_id, 10).await;
    // A 130 s M4A of 250 kB: its index (moov) covers the whole file, so no chunk of it plays.
    let mut mvhd = vec![0u8; 12];
    mvhd.extend_from_slice(&1000u32.to_be_bytes());
    mvhd.extend_from_slice(&130_000u32.to_be_bytes());
    mvhd.resize(100, 0);
    let mut m4a = mp4_box(b"ftyp", b"M4A \0\0\0\0");
    m4a.extend(mp4_box(b"mdat", &vec![0x21; 250_000]));
    m4a.extend(mp4_box(b"moov", &mp4_box(b"mvhd", &mvhd)));
    let name = format!("long-{}.m4a", unique());
    let res = upload(s, &user, "/tools/podscribe", &name, m4a, "audio/mp4").await;
    assert_eq!(res.status(), 415);
    let page = res.text().await.unwrap();
    assert!(page.contains("Episodes over 0.1 MB must be MP3 or WAV"), "{page}");
    assert_eq!(transcripts_of(s, user.user_id).await, 0, "no run recorded");
    assert!(tool_ledger(s, user.user_id).await.is_empty(), "nothing charged");
    assert_eq!(balance(s, user.user_id).await, 10);
    assert!(s.fakes.openai.transcriptions_mentioning(&name).is_empty(), "nothing sent");
}

/// The whole way at full size, on the shared stack with the production chunk limit (24 MiB):
/// 105.6 MB in 13 parts of 8 MiB, judged once whole, then cut into five chunks each under
/// OpenAI's 25 MB, stitched, charged once for its 440 minutes.
async fn a_100_mb_mp3_goes_up_in_parts_and_is_transcribed_in_chunks_under_the_api_limit(s: &'static Stack) {
    use crate::podscribe_parts::{complete, json_of, opened, part_of, send_part, PART};
    let user = s.sign_in_new("ch-100mb").await;
    grant(s, user.user_id, 450).await;
    let name = format!("full-length-{}.mp3", unique());
    // 1 100 000 frames of 24 ms: 26 400 s (440 minutes) in 105 602 010 bytes.
    let episode = mp3(1_100_000);
    let id = opened(s, &user, &name, episode.len()).await;
    let parts = episode.len().div_ceil(PART);
    assert_eq!(parts, 13);
    for n in 1..=parts {
        json_of(send_part(s, &user, &id, n, part_of(&episode, n)).await, 200, &format!("part {n}")).await;
    }
    let accepted = json_of(complete(s, &user, &id).await, 200, "complete").await;
    // Reserved for what its size could hold at MP3's lowest bit rate (105 602 010 bytes at
    // 4000 a second: 26 400.5 s, 441 started minutes); charged for the 440 it holds.
    assert_eq!(accepted["credits"], 441);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    // Under way while transcribing and then writing its show notes: only then is it done.
    while matches!(status_of(s, &id).await.0.as_str(), "transcribing" | "writing_notes") {
        assert!(std::time::Instant::now() < deadline, "the run never ended");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(status_of(s, &id).await, ("done".to_string(), None));

    let sent = chunks_sent(s, &name);
    assert_eq!(sent.len(), 5, "{:?}", sent.iter().map(Vec::len).collect::<Vec<_>>());
    assert!(sent.concat() == episode, "the chunks are the episode, cut, nothing added or lost");
    let mut starts = vec![0u64];
    for chunk in &sent {
        assert!(chunk.len() <= 24 * 1024 * 1024, "a chunk of {} bytes, over the limit", chunk.len());
        let secs = mp3_secs(chunk).expect("whole frames from start to end");
        starts.push(starts.last().unwrap() + (secs * 1000.0).round() as u64);
    }
    let cues = subtitles(s, &user, &id).await;
    assert_eq!(continuous(&cues, 26_400_000), starts[..5]);
    assert_eq!(balance(s, user.user_id).await, 10, "one credit per started minute of 440, charged once");
    assert_ledger_matches_balance(s, user.user_id).await;
    let page =
        user.client.get(s.url(&format!("/tools/podscribe/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("440 credits (1 refunded"), "{page}");
}

/// Three chunks of four seconds each (the fake's `slow`): the upload's progress lines and the
/// transcript's page, while it is made, count the chunks done.
async fn the_progress_and_the_page_say_how_many_chunks_are_transcribed(_: &'static Stack) {
    let s = chunks_stack().await;
    let user = s.sign_in_new("ch-progress").await;
    grant(s, user.user_id, 1).await;
    let mut res = progress_upload(s, &user, &format!("fake-audio-slow-{}.wav", unique()), wav(60)).await;
    assert_eq!(res.status(), 200);
    let (mut text, mut pages) = (String::new(), Vec::new());
    while let Some(bytes) = res.chunk().await.unwrap() {
        text.push_str(std::str::from_utf8(&bytes).unwrap());
        // While it is transcribed, the page says how far (the first line names the run).
        if let Some(id) = text.lines().next().and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        {
            let url = s.url(&format!("/tools/podscribe/{}", id["id"].as_str().unwrap()));
            pages.push(user.client.get(url).send().await.unwrap().text().await.unwrap());
        }
    }
    let lines: Vec<serde_json::Value> =
        text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
    let counted: Vec<(u64, u64)> = lines
        .iter()
        .filter(|l| l["status"] == "transcribing" && l["chunks"].is_u64())
        .map(|l| (l["chunks_done"].as_u64().unwrap(), l["chunks"].as_u64().unwrap()))
        .collect();
    assert_eq!(counted, [(0, 3), (1, 3), (2, 3)], "{text}");
    assert_eq!(lines.last().unwrap()["status"], "done", "{text}");
    for said in ["1 of 3 parts transcribed", "2 of 3 parts transcribed"] {
        assert!(
            pages.iter().any(|p| p.contains(said) && p.contains("<progress id=\"ps-chunks\"")),
            "no page said {said:?}"
        );
    }
    let id = lines[0]["id"].as_str().unwrap();
    let done =
        user.client.get(s.url(&format!("/tools/podscribe/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(!done.contains("parts transcribed"), "a finished transcript says nothing of chunks");
}
