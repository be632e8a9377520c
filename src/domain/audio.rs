//! An uploaded episode: accepted by its size, its file name's extension AND its contents (magic
//! bytes), never by the name alone; its length read from the file where the format says it, and
//! the credits it costs (one per started minute).

use super::audio_duration;

/// OpenAI's limit for one transcription upload (25 MB), and ours.
pub const MAX_BYTES: u64 = 25 * 1024 * 1024;
pub const EXTENSIONS: [&str; 7] = ["mp3", "m4a", "mp4", "wav", "webm", "ogg", "flac"];
/// When a file does not say how long it is: assume 128 kbit/s (16 000 bytes a second).
const FALLBACK_BYTES_PER_SEC: f64 = 16_000.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioKind {
    Mp3,
    Mp4,
    Wav,
    Webm,
    Ogg,
    Flac,
}

impl AudioKind {
    pub fn media_type(self) -> &'static str {
        match self {
            AudioKind::Mp3 => "audio/mpeg",
            AudioKind::Mp4 => "audio/mp4",
            AudioKind::Wav => "audio/wav",
            AudioKind::Webm => "audio/webm",
            AudioKind::Ogg => "audio/ogg",
            AudioKind::Flac => "audio/flac",
        }
    }

    /// Extensions naming this kind (the first is used when a name needs fixing).
    fn extensions(self) -> &'static [&'static str] {
        match self {
            AudioKind::Mp3 => &["mp3"],
            AudioKind::Mp4 => &["m4a", "mp4"],
            AudioKind::Wav => &["wav"],
            AudioKind::Webm => &["webm"],
            AudioKind::Ogg => &["ogg"],
            AudioKind::Flac => &["flac"],
        }
    }
}

/// Why an upload was refused; each says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadError {
    Missing,
    TooLarge,
    UnsupportedExtension,
    NotAudio,
}

impl UploadError {
    pub fn message(&self) -> String {
        match self {
            UploadError::Missing => "Choose an audio file to upload.".into(),
            UploadError::TooLarge => "That file is larger than 25 MB. Please upload a shorter or more compressed episode.".into(),
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

impl AudioUpload {
    pub fn inspect(file_name: &str, bytes: &[u8]) -> Result<AudioUpload, UploadError> {
        if bytes.is_empty() || file_name.trim().is_empty() {
            return Err(UploadError::Missing);
        }
        if bytes.len() as u64 > MAX_BYTES {
            return Err(UploadError::TooLarge);
        }
        let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
        let (stem, ext) = match base.rsplit_once('.') {
            Some((stem, ext)) => (stem, ext.to_ascii_lowercase()),
            None => (base, String::new()),
        };
        if !EXTENSIONS.contains(&ext.as_str()) {
            return Err(UploadError::UnsupportedExtension);
        }
        let kind = sniff(bytes).ok_or(UploadError::NotAudio)?;
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
            size: bytes.len() as u64,
            duration_secs: audio_duration::read(kind, bytes),
        })
    }

    /// The length credits are reserved for: as declared, or estimated from the size.
    pub fn billable_secs(&self) -> f64 {
        self.duration_secs.unwrap_or(self.size as f64 / FALLBACK_BYTES_PER_SEC)
    }
}

/// One credit per started minute of audio, at least one.
pub fn credits_for(secs: f64) -> i64 {
    if !secs.is_finite() || secs <= 0.0 {
        return 1;
    }
    // A few milliseconds over a whole minute are rounding, not a new minute.
    ((secs - 0.01) / 60.0).ceil().max(1.0) as i64
}

/// The kind of audio `bytes` holds, by its leading bytes.
pub fn sniff(b: &[u8]) -> Option<AudioKind> {
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
        let head = &b[..b.len().min(64)];
        return head.windows(4).any(|w| w == b"webm").then_some(AudioKind::Webm);
    }
    if b.len() >= 12 && &b[4..8] == b"ftyp" {
        const BRANDS: [&[u8; 4]; 18] = [
            b"M4A ", b"M4B ", b"M4P ", b"mp41", b"mp42", b"mp71", b"isom", b"iso2", b"iso3", b"iso4",
            b"iso5", b"iso6", b"dash", b"avc1", b"MSNV", b"3gp4", b"3gp5", b"3gp6",
        ];
        return BRANDS.iter().any(|brand| &b[8..12] == *brand).then_some(AudioKind::Mp4);
    }
    audio_duration::first_mp3_frame(b).map(|_| AudioKind::Mp3)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let up = AudioUpload::inspect("My Episode #1.wav", &wav(90)).unwrap();
        assert_eq!(up.kind, AudioKind::Wav);
        assert_eq!(up.upload_name, "My_Episode__1.wav");
        assert_eq!(up.display_name, "My Episode #1.wav");
        assert_eq!(up.duration_secs, Some(90.0));
        assert_eq!(credits_for(up.billable_secs()), 2);
    }

    #[test]
    fn a_renamed_picture_is_not_audio() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDRxxxxxxxxxxxxxxxx";
        assert_eq!(AudioUpload::inspect("episode.mp3", png).unwrap_err(), UploadError::NotAudio);
        assert_eq!(
            AudioUpload::inspect("notes.mp3", b"just some text, honestly").unwrap_err(),
            UploadError::NotAudio
        );
    }

    #[test]
    fn only_listed_extensions_are_accepted() {
        assert_eq!(
            AudioUpload::inspect("episode.exe", &wav(1)).unwrap_err(),
            UploadError::UnsupportedExtension
        );
        assert_eq!(AudioUpload::inspect("episode", &wav(1)).unwrap_err(), UploadError::UnsupportedExtension);
        assert_eq!(AudioUpload::inspect("a.wav", b"").unwrap_err(), UploadError::Missing);
    }

    #[test]
    fn audio_with_the_wrong_extension_is_sent_under_its_real_one() {
        let up = AudioUpload::inspect("C:\\fakepath\\ep.MP3", &wav(1)).unwrap();
        assert_eq!(up.upload_name, "ep.wav");
        assert_eq!(up.kind.media_type(), "audio/wav");
    }

    #[test]
    fn each_format_is_recognised_by_its_magic_bytes() {
        assert_eq!(sniff(b"fLaC\0\0\0\x22"), Some(AudioKind::Flac));
        assert_eq!(sniff(b"OggS\0\x02"), Some(AudioKind::Ogg));
        assert_eq!(sniff(b"\0\0\0\x20ftypM4A \0\0\0\0"), Some(AudioKind::Mp4));
        assert_eq!(sniff(b"\0\0\0\x20ftypheic\0\0\0\0"), None, "an iPhone photo is not audio");
        assert_eq!(sniff(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm"), Some(AudioKind::Webm));
        assert_eq!(sniff(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska"), None);
        assert_eq!(sniff(&[0xFF, 0xFB, 0x90, 0x64, 0, 0]), Some(AudioKind::Mp3));
        assert_eq!(sniff(&[0xFF, 0xF1, 0x50, 0x80, 0, 0]), None, "AAC/ADTS is not mp3");
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
    fn an_unknown_length_is_estimated_from_the_size() {
        let mut up = AudioUpload::inspect("a.wav", &wav(1)).unwrap();
        up.duration_secs = None;
        up.size = 16_000 * 125;
        assert_eq!(credits_for(up.billable_secs()), 3);
    }
}
