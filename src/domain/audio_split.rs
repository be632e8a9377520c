//! An episode larger than one transcription request may carry, cut into chunks that are each a
//! file of their own, decodable without the others — read through byte ranges, so the episode
//! is never held whole (a few KB around each cut, then one chunk at a time).
//!
//! - MP3: cut between frames. A cut is where a frame header is followed by two more valid
//!   headers of the same stream (a sync word inside audio data is rarely followed by two). The
//!   first chunk keeps the ID3v2 tag (and a Xing/VBR header frame, which only it carries).
//! - WAV: cut at whole sample frames (block align); each chunk gets a fresh RIFF/fmt/data
//!   header with its own sizes.
//! - Other formats (MP4/M4A, Ogg/Opus, FLAC, WebM) cannot be cut correctly without decoding or
//!   rewriting their container (an MP4's `moov` index covers the whole file; Ogg pages and FLAC
//!   frames would need their headers rewritten; a WebM chunk loses its header and cues): they
//!   are refused above the limit (docs/durable-runs.md).
//!
//! A chunk's place in the episode is computed from the audio itself: MP3 frames counted ×
//! samples per frame / sample rate, WAV data bytes / byte rate.

use super::audio::{AudioUpload, UploadError};
use super::audio_kind::AudioKind;
use super::mp3_frame::{self, Mp3Frame, MAX_FRAME_BYTES};
use std::ops::Range;

/// The most one chunk carries: under OpenAI's 25 MB, with room for the form around it.
pub const DEFAULT_CHUNK_BYTES: u64 = 24 * 1024 * 1024;
/// Bytes read before and after a nominal MP3 cut to find the frame boundary next to it.
const BEFORE: u64 = 16 * 1024;
const AFTER: u64 = 3 * MAX_FRAME_BYTES as u64 + 4;
/// What is read of a WAV to find its `fmt ` and `data` chunks.
const WAV_HEAD: u64 = 64 * 1024;
/// Bytes read at a time when counting a chunk's MP3 frames.
pub const WALK_WINDOW: u64 = 256 * 1024;

/// Refuses an upload larger than one transcription request carries (`chunk_bytes`) unless its
/// format can be cut into chunks (`AudioKind::splittable`).
pub fn check(upload: &AudioUpload, chunk_bytes: u64) -> Result<(), UploadError> {
    if upload.size > chunk_bytes && !upload.kind.splittable() {
        return Err(UploadError::NotSplittable { limit: chunk_bytes });
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitError {
    /// A format this module cannot cut (see `AudioKind::splittable`).
    Unsplittable(AudioKind),
    /// The file is not what its kind says where a cut is needed.
    Unreadable(&'static str),
}

/// One chunk: `header` (a WAV's fresh header; empty for MP3), then the object's bytes `range`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub header: Vec<u8>,
    pub range: Range<u64>,
    /// Where its MP3 frames start, relative to `range.start` (past the first chunk's ID3 tag).
    pub frames_from: u64,
}

impl Chunk {
    /// The size of the file this chunk is.
    pub fn len(&self) -> u64 {
        self.header.len() as u64 + (self.range.end - self.range.start)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How an episode is cut, and how long each chunk's audio is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub chunks: Vec<Chunk>,
    /// WAV: audio bytes a second (a chunk's length is its data over this); MP3: None (counted).
    pub byte_rate: Option<u32>,
}

impl Plan {
    /// A WAV chunk's audio length; None for MP3 (its frames are counted: `mp3_secs`).
    pub fn wav_secs(&self, chunk: &Chunk) -> Option<f64> {
        let rate = self.byte_rate?;
        Some((chunk.range.end - chunk.range.start) as f64 / f64::from(rate))
    }
}

/// Cuts an object of `kind` and `size` bytes into chunks of at most `limit` bytes, reading the
/// ranges it needs through `read` (a few KB around each cut).
pub async fn plan<E>(
    kind: AudioKind,
    size: u64,
    limit: u64,
    mut read: impl AsyncFnMut(Range<u64>) -> Result<Vec<u8>, E>,
) -> Result<Result<Plan, SplitError>, E> {
    match kind {
        AudioKind::Wav => {
            let head = read(0..size.min(WAV_HEAD)).await?;
            Ok(plan_wav(&head, size, limit))
        }
        AudioKind::Mp3 => plan_mp3(size, limit, read).await,
        other => Ok(Err(SplitError::Unsplittable(other))),
    }
}

fn u16le(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(i..i.checked_add(2)?)?.try_into().ok()?))
}
fn u32le(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(i..i.checked_add(4)?)?.try_into().ok()?))
}

/// A WAV's `fmt ` body and where its audio data lies (clipped to the file: streamed WAVs
/// may declare more than they hold).
fn wav_layout(head: &[u8], size: u64) -> Option<(&[u8], Range<u64>)> {
    if head.get(0..4)? != b"RIFF" || head.get(8..12)? != b"WAVE" {
        return None;
    }
    let (mut i, mut fmt) = (12usize, None);
    loop {
        let id = head.get(i..i + 4)?;
        let len = u32le(head, i + 4)? as usize;
        let body = i + 8;
        match id {
            b"fmt " => fmt = Some(head.get(body..body.checked_add(len)?)?),
            b"data" => {
                let end = (body as u64).saturating_add(len as u64).min(size);
                return Some((fmt?, body as u64..end));
            }
            _ => {}
        }
        i = body.checked_add(len)?.checked_add(len & 1)?;
    }
}

/// A WAV file's header for `data_len` bytes of audio described by `fmt`.
pub fn wav_header(fmt: &[u8], data_len: u32) -> Vec<u8> {
    let pad = fmt.len() & 1;
    let mut h = Vec::with_capacity(28 + fmt.len() + pad);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&((4 + 8 + fmt.len() + pad + 8) as u32).saturating_add(data_len).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    h.extend_from_slice(fmt);
    h.resize(h.len() + pad, 0);
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_len.to_le_bytes());
    h
}

fn plan_wav(head: &[u8], size: u64, limit: u64) -> Result<Plan, SplitError> {
    let (fmt, data) = wav_layout(head, size).ok_or(SplitError::Unreadable("no WAV fmt and data chunks"))?;
    let block = u64::from(u16le(fmt, 12).unwrap_or(0));
    let byte_rate = u32le(fmt, 8).unwrap_or(0);
    if block == 0 || byte_rate == 0 {
        return Err(SplitError::Unreadable("a WAV without a sample size"));
    }
    let header_len = wav_header(fmt, 0).len() as u64;
    let per_chunk = limit.saturating_sub(header_len) / block * block;
    if per_chunk == 0 {
        return Err(SplitError::Unreadable("WAV samples larger than a chunk"));
    }
    let mut chunks = Vec::new();
    let mut at = data.start;
    while at + block <= data.end {
        let end = (at + per_chunk).min(data.end - (data.end - at) % block);
        let header = wav_header(fmt, u32::try_from(end - at).unwrap_or(u32::MAX));
        chunks.push(Chunk { header, range: at..end, frames_from: 0 });
        at = end;
    }
    if chunks.is_empty() {
        return Err(SplitError::Unreadable("a WAV without audio"));
    }
    Ok(Plan { chunks, byte_rate: Some(byte_rate) })
}

/// A frame at `i` in `b` that two more frames of the same stream follow (or that ends the
/// file: `file_end`, the offset in `b` where the file ends, when `b` reaches it).
fn frame_boundary(b: &[u8], i: usize, file_end: Option<usize>) -> Option<Mp3Frame> {
    let first = mp3_frame::header(b.get(i..)?, i)?;
    let mut next = i + first.bytes();
    for _ in 0..2 {
        if Some(next) == file_end {
            return Some(first);
        }
        let f = mp3_frame::header(b.get(next..)?, next)?;
        if (f.layer, f.sample_rate, f.mpeg1) != (first.layer, first.sample_rate, first.mpeg1) {
            return None;
        }
        next += f.bytes();
    }
    Some(first)
}

/// Where the first frame starts: after an ID3v2 tag, within the few KB that may pad it.
async fn first_frame<E>(
    size: u64,
    read: &mut impl AsyncFnMut(Range<u64>) -> Result<Vec<u8>, E>,
) -> Result<Option<u64>, E> {
    let head = read(0..size.min(10)).await?;
    let start = match head.get(..10) {
        Some(h) if h.starts_with(b"ID3") => {
            let tag = h[6..10].iter().fold(0u64, |acc, x| (acc << 7) | u64::from(x & 0x7F));
            10 + tag + if h[5] & 0x10 != 0 { 10 } else { 0 }
        }
        _ => 0,
    };
    if start >= size {
        return Ok(None);
    }
    let window = read(start..size.min(start + 4096 + AFTER)).await?;
    let file_end = usize::try_from(size - start).ok().filter(|e| *e <= window.len());
    let found = (0..window.len().min(4096)).find(|&k| frame_boundary(&window, k, file_end).is_some());
    Ok(found.map(|k| start + k as u64))
}

async fn plan_mp3<E>(
    size: u64,
    limit: u64,
    mut read: impl AsyncFnMut(Range<u64>) -> Result<Vec<u8>, E>,
) -> Result<Result<Plan, SplitError>, E> {
    let Some(frames) = first_frame(size, &mut read).await? else {
        return Ok(Err(SplitError::Unreadable("no MPEG audio frames")));
    };
    let mut chunks = Vec::new();
    let mut start = 0u64;
    while size - start > limit {
        // The last frame boundary at or before `start + limit`, past the chunk's first frame.
        let nominal = start + limit;
        let from = nominal.saturating_sub(BEFORE).max(frames).max(start + 1);
        if from > nominal {
            return Ok(Err(SplitError::Unreadable("an ID3 tag larger than a chunk")));
        }
        let window = read(from..size.min(nominal + AFTER)).await?;
        let file_end = usize::try_from(size - from).ok().filter(|e| *e <= window.len());
        let last = (nominal - from) as usize;
        let Some(cut) = (0..=last).rev().find(|&k| frame_boundary(&window, k, file_end).is_some()) else {
            return Ok(Err(SplitError::Unreadable("no MPEG frame boundary near a cut")));
        };
        let end = from + cut as u64;
        chunks.push(Chunk {
            header: Vec::new(),
            range: start..end,
            frames_from: frames.saturating_sub(start),
        });
        start = end;
    }
    chunks.push(Chunk { header: Vec::new(), range: start..size, frames_from: frames.saturating_sub(start) });
    Ok(Ok(Plan { chunks, byte_rate: None }))
}

/// The audio in an MP3 chunk of `len` bytes whose frames start at `from`, counted frame by
/// frame through `read` (ranges of the chunk, `WALK_WINDOW` at a time). Junk between frames is
/// skipped to the next valid header, as decoders do; a frame cut off by the end is not counted.
pub async fn mp3_secs<E>(
    len: u64,
    from: u64,
    mut read: impl AsyncFnMut(Range<u64>) -> Result<Vec<u8>, E>,
) -> Result<f64, E> {
    let (mut at, mut secs) = (from, 0.0);
    while at + 4 <= len {
        let end = (at + WALK_WINDOW).min(len);
        let window = read(at..end).await?;
        let (more, next) = walk(&window, end == len);
        secs += more;
        if next == 0 {
            break;
        }
        at += next as u64;
    }
    Ok(secs)
}

/// The audio of the frames from the start of `window` on, and how far the walk got (where the
/// next window starts; 0: nowhere further). `last`: the window ends the chunk.
fn walk(window: &[u8], last: bool) -> (f64, usize) {
    let (mut i, mut secs) = (0usize, 0.0);
    while i + 4 <= window.len() {
        match mp3_frame::header(&window[i..], i) {
            Some(f) if i + f.bytes() <= window.len() => {
                secs += f.secs();
                i += f.bytes();
            }
            // Its end is in the next window, or past the end of the chunk.
            Some(_) => return (secs, if last { window.len() } else { i }),
            None => match (i + 1..window.len() - 3).find(|&k| mp3_frame::header(&window[k..], k).is_some()) {
                Some(k) => i = k,
                None => return (secs, if last { window.len() } else { window.len() - 3 }),
            },
        }
    }
    (secs, i)
}

#[cfg(test)]
#[path = "audio_split_tests.rs"]
mod tests;
