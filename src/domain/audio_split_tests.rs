use super::*;
use crate::domain::audio_duration;
use crate::domain::excerpt::Excerpt;
use std::future::Future;
use std::task::{Context, Poll, Waker};

/// Polls a future whose reads are all immediate.
fn now<F: Future>(f: F) -> F::Output {
    match std::pin::pin!(f).as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("reads from memory never wait"),
    }
}

/// The plan for `file`, and the bytes it read.
fn plan_of(kind: AudioKind, file: &[u8], limit: u64) -> (Result<Plan, SplitError>, u64) {
    let mut read = 0;
    let planned = now(plan(kind, file.len() as u64, limit, async |r: Range<u64>| {
        read += r.end - r.start;
        Ok::<_, ()>(file[r.start as usize..r.end as usize].to_vec())
    }));
    (planned.unwrap(), read)
}

fn chunk_bytes(file: &[u8], c: &Chunk) -> Vec<u8> {
    let mut b = c.header.clone();
    b.extend_from_slice(&file[c.range.start as usize..c.range.end as usize]);
    b
}

fn secs_of(file: &[u8], c: &Chunk) -> f64 {
    let bytes = &file[c.range.start as usize..c.range.end as usize];
    now(mp3_secs(bytes.len() as u64, c.frames_from, async |r: Range<u64>| {
        Ok::<_, ()>(bytes[r.start as usize..r.end as usize].to_vec())
    }))
    .unwrap()
}

/// An ID3v2 tag of `tag` bytes, then `frames` MPEG-1 Layer III frames at 128 kbit/s and
/// 44.1 kHz (every third padded, as an encoder does to keep the rate), every fifth with a false
/// sync word in its payload. Returns the file and where each frame starts.
fn mp3(tag: usize, frames: usize) -> (Vec<u8>, Vec<usize>) {
    let mut b = Vec::new();
    if tag > 0 {
        b.extend_from_slice(b"ID3\x04\x00\x00");
        b.extend((0..4).rev().map(|k| ((tag >> (7 * k)) & 0x7F) as u8));
        b.resize(10 + tag, 0);
    }
    let mut starts = Vec::new();
    for k in 0..frames {
        starts.push(b.len());
        let padded = k % 3 == 2;
        let at = b.len();
        b.extend_from_slice(&[0xFF, 0xFB, if padded { 0x92 } else { 0x90 }, 0x44]);
        b.resize(at + if padded { 418 } else { 417 }, 0);
        if k % 5 == 0 {
            b[at + 100..at + 104].copy_from_slice(&[0xFF, 0xFB, 0x90, 0x44]);
        }
    }
    (b, starts)
}

const FRAME_SECS: f64 = 1152.0 / 44_100.0;

#[test]
fn an_mp3_is_cut_between_frames_into_chunks_under_the_limit_that_time_the_whole() {
    let (file, starts) = mp3(3000, 2000);
    let limit = 100_000;
    let (plan, read) = plan_of(AudioKind::Mp3, &file, limit);
    let plan = plan.unwrap();
    assert_eq!(plan.chunks.len(), 9, "835 kB in chunks of at most 100 kB");
    let mut next = 0;
    let mut total = 0.0;
    for (k, c) in plan.chunks.iter().enumerate() {
        assert_eq!(c.range.start, next, "chunks are contiguous");
        assert!(c.len() <= limit && c.header.is_empty());
        if k > 0 {
            assert!(starts.contains(&(c.range.start as usize)), "chunk {k} starts at a frame");
            assert_eq!(c.frames_from, 0);
        }
        // Each chunk is a file of its own: it starts with a frame (after the tag, for the first).
        let bytes = chunk_bytes(&file, c);
        assert_eq!(
            audio_duration::first_mp3_frame(&Excerpt::whole(&bytes)).map(|f| f.at as u64),
            Some(c.frames_from)
        );
        total += secs_of(&file, c);
        next = c.range.end;
    }
    assert_eq!(next, file.len() as u64);
    assert_eq!(plan.chunks[0].frames_from, 3010);
    assert!((total - 2000.0 * FRAME_SECS).abs() < 1e-6, "{total}");
    assert!(read < 9 * (BEFORE + AFTER) + 4096 + AFTER + 10, "only windows around the cuts: {read}");
}

#[test]
fn frames_are_counted_across_windows_and_junk_between_them_is_skipped() {
    let (mut file, _) = mp3(0, 1500);
    let mut junk = vec![0x55u8; 1000];
    junk[10] = 0xFF;
    file.splice(417 * 3..417 * 3, junk);
    assert!(file.len() as u64 > 2 * WALK_WINDOW);
    let whole = Chunk { header: Vec::new(), range: 0..file.len() as u64, frames_from: 0 };
    assert!((secs_of(&file, &whole) - 1500.0 * FRAME_SECS).abs() < 1e-6);
    // A frame cut off by the end holds no whole audio.
    let cut = Chunk { header: Vec::new(), range: 0..417 * 2 + 200, frames_from: 0 };
    assert!((secs_of(&file, &cut) - 2.0 * FRAME_SECS).abs() < 1e-9);
}

#[test]
fn a_small_mp3_is_one_chunk_and_one_without_frames_is_unreadable() {
    let (file, _) = mp3(0, 10);
    let plan = plan_of(AudioKind::Mp3, &file, 100_000).0.unwrap();
    assert_eq!(plan.chunks, vec![Chunk { header: Vec::new(), range: 0..file.len() as u64, frames_from: 0 }]);
    let noise: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    assert!(matches!(plan_of(AudioKind::Mp3, &noise, 100_000).0, Err(SplitError::Unreadable(_))));
    let (tagged, _) = mp3(200_000, 400);
    assert_eq!(
        plan_of(AudioKind::Mp3, &tagged, 100_000).0,
        Err(SplitError::Unreadable("an ID3 tag larger than a chunk"))
    );
}

/// A 16-bit stereo 44.1 kHz WAV (block align 4) of `frames` sample frames, with a LIST chunk
/// before its data, as editors write.
fn wav(frames: usize) -> Vec<u8> {
    let mut fmt = Vec::new();
    for v in [1u16, 2] {
        fmt.extend_from_slice(&v.to_le_bytes());
    }
    fmt.extend_from_slice(&44_100u32.to_le_bytes());
    fmt.extend_from_slice(&(44_100u32 * 4).to_le_bytes());
    fmt.extend_from_slice(&4u16.to_le_bytes());
    fmt.extend_from_slice(&16u16.to_le_bytes());
    let mut b = wav_header(&fmt, (frames * 4) as u32);
    let data_at = b.len() - 8;
    b.splice(data_at..data_at, *b"LIST\x04\0\0\0INFO");
    b.extend((0..frames * 4).map(|i| (i % 256) as u8));
    b
}

#[test]
fn a_wav_is_cut_at_whole_samples_into_valid_wavs_whose_lengths_add_up() {
    let file = wav(44_100 * 3 + 7);
    let limit = 100_001;
    let plan = plan_of(AudioKind::Wav, &file, limit).0.unwrap();
    assert_eq!(plan.chunks.len(), 6);
    let mut total = 0.0;
    let mut next = plan.chunks[0].range.start;
    for c in &plan.chunks {
        assert!(c.len() <= limit);
        assert_eq!(c.range.start, next);
        assert_eq!((c.range.end - c.range.start) % 4, 0, "whole sample frames");
        let bytes = chunk_bytes(&file, c);
        assert_eq!(&bytes[..4], b"RIFF");
        assert_eq!(u32le(&bytes, 4).unwrap() as usize, bytes.len() - 8, "the RIFF size is the chunk's");
        let secs = audio_duration::read(AudioKind::Wav, &Excerpt::whole(&bytes)).unwrap();
        assert_eq!(Some(secs), plan.wav_secs(c));
        total += secs;
        next = c.range.end;
    }
    assert_eq!(next as usize, file.len());
    assert!((total - (44_100.0 * 3.0 + 7.0) / 44_100.0).abs() < 1e-9);
}

#[test]
fn formats_that_cannot_be_cut_are_refused_and_so_is_a_wav_without_audio() {
    for kind in [AudioKind::Mp4, AudioKind::Ogg, AudioKind::Flac, AudioKind::Webm] {
        assert!(!kind.splittable());
        assert_eq!(plan_of(kind, b"whatever", 4).0, Err(SplitError::Unsplittable(kind)));
    }
    assert!(AudioKind::Mp3.splittable() && AudioKind::Wav.splittable());
    assert!(matches!(plan_of(AudioKind::Wav, &wav(0), 1000).0, Err(SplitError::Unreadable(_))));
    assert!(matches!(plan_of(AudioKind::Wav, b"RIFF\0\0\0\0WAVE", 1000).0, Err(SplitError::Unreadable(_))));
}

#[test]
fn an_upload_larger_than_a_chunk_is_refused_unless_its_format_can_be_cut() {
    let upload = |kind, size| AudioUpload {
        display_name: "show".into(),
        upload_name: "show".into(),
        kind,
        size,
        duration_secs: None,
    };
    assert_eq!(check(&upload(AudioKind::Mp3, 2_000_000), 1_000_000), Ok(()));
    assert_eq!(check(&upload(AudioKind::Wav, 2_000_000), 1_000_000), Ok(()));
    assert_eq!(check(&upload(AudioKind::Mp4, 1_000_000), 1_000_000), Ok(()));
    let refused = check(&upload(AudioKind::Mp4, 1_000_001), 1_000_000).unwrap_err();
    assert_eq!(refused, UploadError::NotSplittable { limit: 1_000_000 });
    assert!(
        refused.message().starts_with("Episodes over 0.9 MB must be MP3 or WAV"),
        "{}",
        refused.message()
    );
    let default = check(&upload(AudioKind::Ogg, 25_500_000), DEFAULT_CHUNK_BYTES).unwrap_err();
    assert!(default.message().starts_with("Episodes over 24 MB must be MP3 or WAV"), "{}", default.message());
}
