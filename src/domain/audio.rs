//! An uploaded episode: accepted by its size, its file name's extension AND its contents (magic
//! bytes), never by the name alone; its length read from the file where the format says it, and
//! the credits it costs (one per started minute).
//!
//! What a file says about its length is the uploader's to write (an MP3 Xing header can claim
//! one frame for twenty minutes of audio), so credits are reserved for the longer of what it
//! says and what its size can hold at the lowest plausible bit rate for its format; the
//! transcription's own length settles the charge (services::podscribe_settle).

use super::audio_duration;
pub use super::audio_kind::AudioKind;
use super::excerpt::Excerpt;
use crate::domain::Credits;
use std::ops::Range;

/// OpenAI's limit for one transcription upload (25 MB), and ours for one request (the form).
pub const MAX_BYTES: u64 = 25 * 1024 * 1024;
/// The most an episode may be when uploaded in parts (`services::episode_upload`): only formats
/// that can be cut into chunks for transcription may be larger than `MAX_BYTES`.
pub const MAX_EPISODE_BYTES: u64 = 500 * 1024 * 1024;
pub const EXTENSIONS: [&str; 7] = ["mp3", "m4a", "mp4", "wav", "webm", "ogg", "flac"];

/// Why an upload was refused; each says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadError {
    Missing,
    TooLarge,
    /// Over `MAX_EPISODE_BYTES` (an upload in parts).
    TooLargeEvenInParts,
    /// Over `limit` (one transcription request) in a format that cannot be cut into chunks
    /// without decoding it.
    NotSplittable {
        limit: u64,
    },
    UnsupportedExtension,
    NotAudio,
}

impl UploadError {
    pub fn message(&self) -> String {
        match self {
            UploadError::Missing => "Choose an audio file to upload.".into(),
            UploadError::TooLarge => "That file is larger than 25 MB. Please upload a shorter or more compressed episode. With JavaScript on, the upload page sends MP3 and WAV episodes of up to 500 MB in parts.".into(),
            UploadError::TooLargeEvenInParts => "That file is larger than 500 MB. Please upload a shorter or more compressed episode.".into(),
            UploadError::NotSplittable { limit } => format!("Episodes over {mb} MB must be MP3 or WAV: those are the formats PodScribe can cut into parts for transcription. Please convert it, or upload a file under {mb} MB.", mb = (*limit as f64 / (1024.0 * 1024.0) * 10.0).floor() / 10.0),
            UploadError::UnsupportedExtension => format!(
                "PodScribe accepts {} files. Please upload one of those.",
                EXTENSIONS.join(", ")
            ),
            UploadError::NotAudio => "That file isn't audio we can read: its contents don't match an mp3, m4a, mp4, wav, webm, ogg or flac file, whatever its name says.".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AudioUpload {
    /// The name as the user knows it (cleaned for display).
    pub display_name: String,
    /// A safe ASCII name with the extension of what the file really is (sent to OpenAI).
    pub upload_name: String,
    pub kind: AudioKind,
    pub size: u64,
    /// The length the file declares, when it does.
    pub duration_secs: Option<f64>,
}

/// What is read of an upload to start with: its first and its last bytes (an Ogg file's last
/// page is in its last 70 000).
pub const HEAD_BYTES: usize = 64 * 1024;
pub const TAIL_BYTES: usize = 80 * 1024;
/// When the checks need bytes from elsewhere (after a large ID3 tag, an MP4 `moov` box at the
/// end): at most this many more reads, of at most `MORE_BYTES` each.
const MORE_READS: usize = 8;
const MORE_BYTES: usize = 64 * 1024;

/// The name (without a path), its stem and its lower-cased extension once the name and size are
/// acceptable, or why they are not.
fn check_name_and_size(file_name: &str, size: u64, limit: u64) -> Result<(&str, &str, String), UploadError> {
    if size == 0 || file_name.trim().is_empty() {
        return Err(UploadError::Missing);
    }
    if size > limit {
        return Err(if limit > MAX_BYTES { UploadError::TooLargeEvenInParts } else { UploadError::TooLarge });
    }
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let (stem, ext) = match base.rsplit_once('.') {
        Some((stem, ext)) => (stem, ext.to_ascii_lowercase()),
        None => (base, String::new()),
    };
    if !EXTENSIONS.contains(&ext.as_str()) {
        return Err(UploadError::UnsupportedExtension);
    }
    Ok((base, stem, ext))
}

impl AudioUpload {
    /// What can be judged of an upload in parts before any of it is sent: its name and size
    /// (up to `MAX_EPISODE_BYTES`; over `MAX_BYTES` only with an MP3 or WAV name). Its contents
    /// are judged once it is whole.
    pub fn precheck(file_name: &str, size: u64) -> Result<(), UploadError> {
        let (_, _, ext) = check_name_and_size(file_name, size, MAX_EPISODE_BYTES)?;
        if size > MAX_BYTES && !matches!(ext.as_str(), "mp3" | "wav") {
            return Err(UploadError::NotSplittable { limit: MAX_BYTES });
        }
        Ok(())
    }

    /// Judges the file `e` shows (its size, and the bytes of it the checks need), sent whole.
    pub fn inspect(file_name: &str, e: &Excerpt) -> Result<AudioUpload, UploadError> {
        Self::inspect_within(file_name, e, MAX_BYTES)
    }

    /// Judges the file `e` shows, which may be up to `limit` bytes (`MAX_EPISODE_BYTES` when it
    /// came in parts; over `MAX_BYTES`, only in a format that can be cut into chunks).
    pub fn inspect_within(file_name: &str, e: &Excerpt, limit: u64) -> Result<AudioUpload, UploadError> {
        let (base, stem, ext) = check_name_and_size(file_name, e.size() as u64, limit)?;
        let kind = sniff(e).ok_or(UploadError::NotAudio)?;
        if e.size() as u64 > MAX_BYTES && !kind.splittable() {
            return Err(UploadError::NotSplittable { limit: MAX_BYTES });
        }
        // A wav named .mp3 is still a wav: tell OpenAI what it really is.
        let ext =
            if kind.extensions().contains(&ext.as_str()) { ext } else { kind.extensions()[0].to_string() };
        let safe: String = stem
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
            .take(80)
            .collect();
        let safe = if safe.trim_matches(['_', '.']).is_empty() { "episode".to_string() } else { safe };
        let display: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
        Ok(AudioUpload {
            display_name: display.trim().to_string(),
            upload_name: format!("{safe}.{ext}"),
            kind,
            size: e.size() as u64,
            duration_secs: audio_duration::read(kind, e),
        })
    }

    /// Judges an upload of `size` bytes that lives elsewhere, reading through `read` only what
    /// the checks need: nothing when its name or size already refuse it, else its first and
    /// last bytes, and a few small ranges more when a format puts what it says elsewhere.
    pub async fn inspect_file<E>(
        file_name: &str,
        size: u64,
        read: impl AsyncFnMut(Range<usize>) -> Result<Vec<u8>, E>,
    ) -> Result<Result<AudioUpload, UploadError>, E> {
        Self::inspect_file_within(file_name, size, MAX_BYTES, read).await
    }

    /// `inspect_file` for a file of up to `limit` bytes (see `inspect_within`).
    pub async fn inspect_file_within<E>(
        file_name: &str,
        size: u64,
        limit: u64,
        mut read: impl AsyncFnMut(Range<usize>) -> Result<Vec<u8>, E>,
    ) -> Result<Result<AudioUpload, UploadError>, E> {
        if let Err(refused) = check_name_and_size(file_name, size, limit) {
            return Ok(Err(refused));
        }
        let size = size as usize; // at most MAX_EPISODE_BYTES
        let mut e = Excerpt::new(size);
        if size <= HEAD_BYTES + TAIL_BYTES {
            e.add(0, read(0..size).await?);
        } else {
            e.add(0, read(0..HEAD_BYTES).await?);
            e.add(size - TAIL_BYTES, read(size - TAIL_BYTES..size).await?);
        }
        let mut more = 0;
        loop {
            let judged = AudioUpload::inspect_within(file_name, &e, limit);
            match e.take_missing() {
                Some(wanted) if more < MORE_READS && wanted.len() <= MORE_BYTES => {
                    more += 1;
                    let end = (wanted.start + MORE_BYTES).min(size);
                    e.add(wanted.start, read(wanted.start..end).await?);
                }
                _ => return Ok(judged),
            }
        }
    }

    /// The most audio the file can hold: its size at its format's lowest plausible bit rate.
    pub fn size_bound_secs(&self) -> f64 {
        self.size as f64 / self.kind.lowest_bytes_per_sec()
    }

    /// The length credits are reserved for: the longer of what the file declares and what its
    /// size can hold (a header that understates its audio reserves no less).
    pub fn reserved_secs(&self) -> f64 {
        self.duration_secs.unwrap_or(0.0).max(self.size_bound_secs())
    }
}

/// One credit per started minute of audio, at least one.
pub fn credits_for(secs: f64) -> Credits {
    if !secs.is_finite() || secs <= 0.0 {
        return Credits::new(1);
    }
    // A few milliseconds over a whole minute are rounding, not a new minute.
    Credits::new(((secs - 0.01) / 60.0).ceil().max(1.0) as i64)
}

/// The kind of audio the file is, by its leading bytes.
pub fn sniff(e: &Excerpt) -> Option<AudioKind> {
    let b = e.get_upto(0, 64)?;
    if b.len() >= 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WAVE" {
        return Some(AudioKind::Wav);
    }
    if b.starts_with(b"fLaC") {
        return Some(AudioKind::Flac);
    }
    if b.starts_with(b"OggS") {
        return Some(AudioKind::Ogg);
    }
    if b.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return b.windows(4).any(|w| w == b"webm").then_some(AudioKind::Webm);
    }
    if b.len() >= 12 && &b[4..8] == b"ftyp" {
        const BRANDS: [&[u8; 4]; 18] = [
            b"M4A ", b"M4B ", b"M4P ", b"mp41", b"mp42", b"mp71", b"isom", b"iso2", b"iso3", b"iso4",
            b"iso5", b"iso6", b"dash", b"avc1", b"MSNV", b"3gp4", b"3gp5", b"3gp6",
        ];
        return BRANDS.iter().any(|brand| &b[8..12] == *brand).then_some(AudioKind::Mp4);
    }
    audio_duration::first_mp3_frame(e).map(|_| AudioKind::Mp3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    /// The whole file in hand.
    fn inspect(name: &str, bytes: &[u8]) -> Result<AudioUpload, UploadError> {
        AudioUpload::inspect(name, &Excerpt::whole(bytes))
    }

    fn sniff_bytes(bytes: &[u8]) -> Option<AudioKind> {
        sniff(&Excerpt::whole(bytes))
    }

    pub fn wav(secs: u32) -> Vec<u8> {
        let rate = 8000u32;
        let data = rate * secs;
        let mut b = Vec::new();
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&(36 + data).to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes()); // PCM
        b.extend_from_slice(&1u16.to_le_bytes()); // mono
        b.extend_from_slice(&rate.to_le_bytes());
        b.extend_from_slice(&rate.to_le_bytes()); // byte rate (8-bit mono)
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&8u16.to_le_bytes());
        b.extend_from_slice(b"data");
        b.extend_from_slice(&data.to_le_bytes());
        b.resize(b.len() + data as usize, 128);
        b
    }

    #[test]
    fn a_wav_is_accepted_with_its_length() {
        let up = inspect("My Episode #1.wav", &wav(90)).unwrap();
        assert_eq!(up.kind, AudioKind::Wav);
        assert_eq!(up.upload_name, "My_Episode__1.wav");
        assert_eq!(up.display_name, "My Episode #1.wav");
        assert_eq!(up.duration_secs, Some(90.0));
        assert_eq!(credits_for(up.reserved_secs()), 2);
    }

    #[test]
    fn a_renamed_picture_is_not_audio() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDRxxxxxxxxxxxxxxxx";
        assert_eq!(inspect("episode.mp3", png).unwrap_err(), UploadError::NotAudio);
        assert_eq!(inspect("notes.mp3", b"just some text, honestly").unwrap_err(), UploadError::NotAudio);
    }

    #[test]
    fn only_listed_extensions_are_accepted() {
        assert_eq!(inspect("episode.exe", &wav(1)).unwrap_err(), UploadError::UnsupportedExtension);
        assert_eq!(inspect("episode", &wav(1)).unwrap_err(), UploadError::UnsupportedExtension);
        assert_eq!(inspect("a.wav", b"").unwrap_err(), UploadError::Missing);
    }

    #[test]
    fn audio_with_the_wrong_extension_is_sent_under_its_real_one() {
        let up = inspect("C:\\fakepath\\ep.MP3", &wav(1)).unwrap();
        assert_eq!(up.upload_name, "ep.wav");
        assert_eq!(up.kind.media_type(), "audio/wav");
    }

    #[test]
    fn each_format_is_recognised_by_its_magic_bytes() {
        assert_eq!(sniff_bytes(b"fLaC\0\0\0\x22"), Some(AudioKind::Flac));
        assert_eq!(sniff_bytes(b"OggS\0\x02"), Some(AudioKind::Ogg));
        assert_eq!(sniff_bytes(b"\0\0\0\x20ftypM4A \0\0\0\0"), Some(AudioKind::Mp4));
        assert_eq!(sniff_bytes(b"\0\0\0\x20ftypheic\0\0\0\0"), None, "an iPhone photo is not audio");
        assert_eq!(
            sniff_bytes(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm"),
            Some(AudioKind::Webm)
        );
        assert_eq!(sniff_bytes(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska"), None);
        assert_eq!(sniff_bytes(&[0xFF, 0xFB, 0x90, 0x64, 0, 0]), Some(AudioKind::Mp3));
        assert_eq!(sniff_bytes(&[0xFF, 0xF1, 0x50, 0x80, 0, 0]), None, "AAC/ADTS is not mp3");
    }

    #[test]
    fn credits_are_per_started_minute() {
        assert_eq!(credits_for(0.5), 1);
        assert_eq!(credits_for(60.0), 1);
        assert_eq!(credits_for(60.004), 1);
        assert_eq!(credits_for(61.0), 2);
        assert_eq!(credits_for(f64::NAN), 1);
    }

    #[test]
    fn an_unknown_length_is_bounded_by_the_size() {
        let mut up = inspect("a.wav", &wav(1)).unwrap();
        up.duration_secs = None;
        up.size = 8_000 * 125;
        assert_eq!(credits_for(up.reserved_secs()), 3);
    }

    #[test]
    fn a_header_that_understates_the_audio_reserves_what_the_size_can_hold() {
        // 150 s at 64 kbit/s whose Xing header claims a single frame.
        let mut file = vec![0xFF, 0xFB, 0x50, 0x04];
        file.resize(4 + 32, 0);
        file.extend_from_slice(b"Xing\0\0\0\x01");
        file.extend_from_slice(&1u32.to_be_bytes());
        file.resize(8_000 * 150, 0x55);
        let up = inspect("liar.mp3", &file).unwrap();
        assert!(up.duration_secs.unwrap() < 1.0, "the header says a frame");
        assert_eq!(credits_for(up.reserved_secs()), 5, "1.2 MB can hold 300 s at 32 kbit/s");
        // A header that overstates is believed: the user is only held to what they claimed.
        let mut honest = up.clone();
        honest.duration_secs = Some(900.0);
        assert_eq!(credits_for(honest.reserved_secs()), 15);
    }

    /// Polls a future whose reads are all immediate.
    fn now<F: Future>(f: F) -> F::Output {
        match std::pin::pin!(f).as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("reads from memory never wait"),
        }
    }

    /// `inspect_file` over `file`, and how many of its bytes it read.
    fn inspect_reading(name: &str, file: &[u8]) -> (Result<AudioUpload, UploadError>, usize) {
        let mut read = 0;
        let judged = now(AudioUpload::inspect_file(name, file.len() as u64, async |r: Range<usize>| {
            read += r.len();
            Ok::<_, ()>(file[r].to_vec())
        }));
        (judged.unwrap(), read)
    }

    #[test]
    fn a_large_wav_is_judged_from_its_first_and_last_bytes() {
        // A streamed recording: its header does not know how long it is, its size tells.
        let mut file = wav(1);
        file[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        file.resize(24 * 1024 * 1024, 128);
        let (up, read) = inspect_reading("long.wav", &file);
        let up = up.unwrap();
        assert_eq!(up.size, 24 * 1024 * 1024);
        assert_eq!(up.duration_secs, Some((24 * 1024 * 1024 - 44) as f64 / 8000.0));
        assert_eq!(read, HEAD_BYTES + TAIL_BYTES, "only the head and the tail are read");
        let (whole, _) = inspect_reading("short.wav", &wav(3));
        assert_eq!(whole.unwrap().duration_secs, Some(3.0), "a small file is read whole");
    }

    #[test]
    fn an_mp3_behind_a_large_id3_tag_is_found_by_reading_past_the_tag() {
        // A 300 kB tag (cover art), then 128 kbit/s frames.
        let tag = 300_000usize;
        let mut file = b"ID3\x04\x00\x00".to_vec();
        file.extend((0..4).rev().map(|k| ((tag >> (7 * k)) & 0x7F) as u8));
        file.resize(10 + tag, 0);
        file.extend_from_slice(&[0xFF, 0xFB, 0x90, 0x04]);
        file.resize(10 + tag + 16_000 * 90, 0x55);
        let (up, read) = inspect_reading("show.mp3", &file);
        let up = up.unwrap();
        assert_eq!(up.kind, AudioKind::Mp3);
        assert!((up.duration_secs.unwrap() - 90.0).abs() < 0.01, "{:?}", up.duration_secs);
        assert!(read < HEAD_BYTES + TAIL_BYTES + 2 * MORE_BYTES, "read {read} bytes");
    }

    fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn an_m4a_with_its_moov_box_at_the_end_is_timed_from_it() {
        // As encoders write by default: the media first, its index (moov, here 200 kB) last.
        let mut mvhd = vec![0u8; 12];
        mvhd.extend_from_slice(&1000u32.to_be_bytes());
        mvhd.extend_from_slice(&95_500u32.to_be_bytes());
        mvhd.resize(100, 0);
        let mut moov = mp4_box(b"mvhd", &mvhd);
        moov.extend(mp4_box(b"trak", &vec![0; 200_000]));
        let mut file = mp4_box(b"ftyp", b"M4A \0\0\0\0");
        file.extend(mp4_box(b"mdat", &vec![0x21; 3_000_000]));
        file.extend(mp4_box(b"moov", &moov));
        let (up, read) = inspect_reading("talk.m4a", &file);
        assert_eq!(up.unwrap().duration_secs, Some(95.5));
        assert!(read < HEAD_BYTES + TAIL_BYTES + 2 * MORE_BYTES, "read {read} bytes");
    }

    #[test]
    fn a_name_or_size_that_refuses_the_file_reads_nothing() {
        let (up, read) = inspect_reading("notes.txt", &wav(1));
        assert_eq!((up.unwrap_err(), read), (UploadError::UnsupportedExtension, 0));
        let never = async |_: Range<usize>| -> Result<Vec<u8>, ()> { panic!("nothing is read") };
        let up = now(AudioUpload::inspect_file("huge.wav", MAX_BYTES + 1, never)).unwrap();
        assert_eq!(up.unwrap_err(), UploadError::TooLarge);
        let (up, read) = inspect_reading("empty.wav", b"");
        assert_eq!((up.unwrap_err(), read), (UploadError::Missing, 0));
    }
}
