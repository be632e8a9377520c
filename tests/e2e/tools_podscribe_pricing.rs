//! PodScribe charges for the audio actually transcribed, whatever the file's header says: each
//! attack uploads a file whose container understates its length, the fake OpenAI transcribes
//! (and reports) its real length, and the ledger must show the real length paid for. Credits are
//! reserved for what the file's size can hold, refunded down to the transcription's length,
//! and an episode longer than even that is charged its extra minutes or cut where they end.

use crate::support::session::SignedIn;
use crate::support::tools::{
    assert_ledger_matches_balance, balance, grant, tool_ledger, unique, upload, valid_srt, wav,
};
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        an_mp3_whose_xing_header_claims_one_frame_pays_for_its_real_length,
        an_m4a_whose_mvhd_understates_its_length_pays_for_its_real_length,
        a_flac_whose_streaminfo_understates_its_length_pays_for_its_real_length,
        a_wav_whose_byte_rate_lies_pays_for_its_real_length,
        a_wav_whose_header_claims_more_data_than_it_holds_pays_for_what_it_holds,
        a_reservation_the_balance_cannot_cover_is_refused_saying_why_and_nothing_is_sent,
        an_episode_longer_than_its_size_allows_is_charged_its_extra_minutes,
        without_credits_for_the_extra_minutes_only_the_minutes_paid_for_are_delivered,
    ]
}

/// 64 kbit/s: 8 000 bytes a second of (pretend) audio.
const BYTES_PER_SEC: usize = 8_000;

/// An MPEG-1 Layer III file of `secs` seconds at 64 kbit/s whose Xing header says one frame.
fn lying_mp3(secs: usize) -> Vec<u8> {
    let mut b = vec![0xFF, 0xFB, 0x50, 0x04];
    b.resize(4 + 32, 0);
    b.extend_from_slice(b"Xing\0\0\0\x01");
    b.extend_from_slice(&1u32.to_be_bytes());
    b.resize(BYTES_PER_SEC * secs, 0x55);
    b
}

fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(body);
    b
}

/// An M4A with `secs` seconds of media whose `mvhd` says one second.
fn lying_m4a(secs: usize) -> Vec<u8> {
    let mut mvhd = vec![0u8; 12];
    mvhd.extend_from_slice(&1000u32.to_be_bytes()); // time scale
    mvhd.extend_from_slice(&1000u32.to_be_bytes()); // duration: 1 s
    mvhd.resize(100, 0);
    let moov = mp4_box(b"moov", &mp4_box(b"mvhd", &mvhd));
    let mut b = mp4_box(b"ftyp", b"M4A \0\0\0\0");
    // The whole file is `secs` seconds' worth of bytes.
    let media = BYTES_PER_SEC * secs - b.len() - 8 - moov.len();
    b.extend(mp4_box(b"mdat", &vec![0x55; media]));
    b.extend(moov);
    b
}

/// A FLAC file of `secs` seconds whose STREAMINFO counts one second of samples.
fn lying_flac(secs: usize) -> Vec<u8> {
    let mut b = b"fLaC\x00\x00\x00\x22".to_vec();
    let mut info = [0u8; 34];
    info[10] = (44_100u32 >> 12) as u8;
    info[11] = (44_100u32 >> 4) as u8;
    info[12] = ((44_100u32 & 0xF) << 4) as u8;
    info[14..18].copy_from_slice(&44_100u32.to_be_bytes());
    b.extend_from_slice(&info);
    b.resize(BYTES_PER_SEC * secs, 0x55);
    b
}

/// Uploads `file` (the fake transcribes `real_secs` of it): the transcript's id, and the marker
/// its file name carries (which the show-notes prompt quotes).
async fn transcribe(
    s: &Stack,
    user: &SignedIn,
    (ext, mime): (&str, &str),
    file: Vec<u8>,
    real_secs: u32,
) -> (String, String) {
    let token = format!("fake-audio-dur{real_secs}-{}", unique());
    let res = upload(s, user, "/tools/podscribe", &format!("{token}.{ext}"), file, mime).await;
    assert_eq!(res.status(), 303);
    (transcript_id(&res), token)
}

fn transcript_id(res: &reqwest::Response) -> String {
    let location = res.headers()["location"].to_str().unwrap();
    location.strip_prefix("/tools/podscribe/").unwrap_or_else(|| panic!("{res:?}")).to_string()
}

async fn page(s: &Stack, user: &SignedIn, path: &str) -> String {
    user.client.get(s.url(path)).send().await.unwrap().text().await.unwrap()
}

/// 150 s of audio in a 1.2 MB file: 5 credits reserved (its size at 32 kbit/s holds 300 s), the
/// transcription is 150 s long (3 started minutes), 2 refunded.
async fn pays_for_150_seconds(s: &Stack, label: &str, ext: &str, mime: &str, file: Vec<u8>) {
    let user = s.sign_in_new(label).await;
    grant(s, user.user_id, 5).await;
    let (id, _) = transcribe(s, &user, (ext, mime), file, 150).await;
    assert_eq!(
        tool_ledger(s, user.user_id).await,
        vec![(-5, "podscribe".into(), id.clone()), (2, "tool_refund".into(), id.clone())],
        "{label}: reserved for what the size holds, settled at the transcription's 3 minutes"
    );
    assert_eq!(balance(s, user.user_id).await, 2, "{label}");
    assert_ledger_matches_balance(s, user.user_id).await;
    let html = page(s, &user, &format!("/tools/podscribe/{id}")).await;
    assert!(html.contains("2:30 of audio · 3 credits (2 refunded"), "{label}: {html}");
}

async fn an_mp3_whose_xing_header_claims_one_frame_pays_for_its_real_length(s: &'static Stack) {
    pays_for_150_seconds(s, "ps-xing", "mp3", "audio/mpeg", lying_mp3(150)).await;
}

async fn an_m4a_whose_mvhd_understates_its_length_pays_for_its_real_length(s: &'static Stack) {
    pays_for_150_seconds(s, "ps-mvhd", "m4a", "audio/mp4", lying_m4a(150)).await;
}

async fn a_flac_whose_streaminfo_understates_its_length_pays_for_its_real_length(s: &'static Stack) {
    pays_for_150_seconds(s, "ps-flac", "flac", "audio/flac", lying_flac(150)).await;
}

async fn a_wav_whose_byte_rate_lies_pays_for_its_real_length(s: &'static Stack) {
    // 150 s of 8 kHz 8-bit mono whose header claims 800 000 bytes a second (1.5 s).
    let user = s.sign_in_new("ps-byterate").await;
    grant(s, user.user_id, 5).await;
    let mut file = wav(150);
    file[28..32].copy_from_slice(&800_000u32.to_le_bytes());
    let (id, _) = transcribe(s, &user, ("wav", "audio/wav"), file, 150).await;
    assert_eq!(tool_ledger(s, user.user_id).await, vec![(-3, "podscribe".into(), id)]);
    assert_eq!(balance(s, user.user_id).await, 2);
}

async fn a_wav_whose_header_claims_more_data_than_it_holds_pays_for_what_it_holds(s: &'static Stack) {
    // A recording cut off at 90 s whose header still announces 20 minutes: neither the 20
    // minutes claimed (20 credits) nor less than the 90 s there are (2 credits).
    let user = s.sign_in_new("ps-short-wav").await;
    grant(s, user.user_id, 25).await;
    let mut file = wav(90);
    file[40..44].copy_from_slice(&(8_000u32 * 1200).to_le_bytes());
    let name = format!("truncated-{}.wav", unique());
    let res = upload(s, &user, "/tools/podscribe", &name, file, "audio/wav").await;
    assert_eq!(res.status(), 303);
    let id = transcript_id(&res);
    assert_eq!(tool_ledger(s, user.user_id).await, vec![(-2, "podscribe".into(), id.clone())]);
    assert_eq!(balance(s, user.user_id).await, 23);
    let html = page(s, &user, &format!("/tools/podscribe/{id}")).await;
    assert!(html.contains("1:30 of audio · 2 credits"), "{html}");
}

async fn a_reservation_the_balance_cannot_cover_is_refused_saying_why_and_nothing_is_sent(s: &'static Stack) {
    let user = s.sign_in_new("ps-reserve").await;
    grant(s, user.user_id, 2).await;
    let u = unique();
    let res =
        upload(s, &user, "/tools/podscribe", &format!("liar-{u}.mp3"), lying_mp3(150), "audio/mpeg").await;
    assert_eq!(res.status(), 402);
    let html = res.text().await.unwrap();
    assert!(html.contains("This needs 5 credits and you have 2"), "{html}");
    assert!(html.contains("reserves a credit for every minute this file could hold"), "{html}");
    assert!(s.fakes.openai.transcriptions_mentioning(&u).is_empty(), "nothing was sent");
    assert!(tool_ledger(s, user.user_id).await.is_empty());
    assert_eq!(balance(s, user.user_id).await, 2);
}

/// 240 s of audio in 240 kB (8 kbit/s, below what the size bound assumes): 1 credit reserved.
fn tiny_but_long() -> Vec<u8> {
    let mut file = lying_mp3(1);
    file.resize(1_000 * 240, 0x55);
    file
}

async fn an_episode_longer_than_its_size_allows_is_charged_its_extra_minutes(s: &'static Stack) {
    let user = s.sign_in_new("ps-extra").await;
    grant(s, user.user_id, 10).await;
    let (id, _) = transcribe(s, &user, ("mp3", "audio/mpeg"), tiny_but_long(), 240).await;
    assert_eq!(
        tool_ledger(s, user.user_id).await,
        vec![(-1, "podscribe".into(), id.clone()), (-3, "podscribe".into(), format!("{id}:extra"))]
    );
    assert_eq!(balance(s, user.user_id).await, 6);
    let html = page(s, &user, &format!("/tools/podscribe/{id}")).await;
    assert!(html.contains("4:00 of audio · 4 credits"), "{html}");
    assert!(!html.contains("Cut at"), "paid in full: {html}");
    let txt = page(s, &user, &format!("/tools/podscribe/{id}/transcript.txt")).await;
    assert!(txt.contains("[3:50] Part 23 of the conversation"), "the whole episode: {txt}");
}

async fn without_credits_for_the_extra_minutes_only_the_minutes_paid_for_are_delivered(s: &'static Stack) {
    let user = s.sign_in_new("ps-cut").await;
    grant(s, user.user_id, 2).await;
    let (id, token) = transcribe(s, &user, ("mp3", "audio/mpeg"), tiny_but_long(), 240).await;
    assert_eq!(
        tool_ledger(s, user.user_id).await,
        vec![(-1, "podscribe".into(), id.clone()), (-1, "podscribe".into(), format!("{id}:extra"))],
        "the reservation and the one more minute the balance had"
    );
    assert_eq!(balance(s, user.user_id).await, 0);
    assert_ledger_matches_balance(s, user.user_id).await;
    let html = page(s, &user, &format!("/tools/podscribe/{id}")).await;
    assert!(html.contains("Cut at 2:00"), "{html}");
    assert!(html.contains("Part 11 of the conversation") && !html.contains("Part 12 of"), "{html}");
    let txt = page(s, &user, &format!("/tools/podscribe/{id}/transcript.txt")).await;
    assert!(txt.contains("[1:50] Part 11 of") && !txt.contains("Part 12 of"), "{txt}");
    let srt = valid_srt(&page(s, &user, &format!("/tools/podscribe/{id}/transcript.srt")).await);
    assert_eq!(srt.last().unwrap().1, 120_000, "subtitles end where the paid minutes end");
    let notes = s.fakes.openai.chats_mentioning(&token);
    assert_eq!(notes.len(), 1);
    assert!(!notes[0].text().contains("Part 12 of"), "show notes see only what was paid for");
    let history = page(s, &user, "/history").await;
    let row = history.split(&format!("data-id=\"{id}\"")).nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(row.contains("Done (cut short)"), "{row}");
}
