//! The audio formats PodScribe accepts, and what each implies (media type, extensions, the
//! lowest plausible bit rate).

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
    /// Formats that can be cut into chunks at frame or sample boundaries without decoding them
    /// (MP3 frames, WAV samples), so an episode in them may be larger than one transcription.
    pub fn splittable(self) -> bool {
        matches!(self, AudioKind::Mp3 | AudioKind::Wav)
    }

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

    /// The kind `media_type()` names.
    pub fn of_media_type(media_type: &str) -> Option<AudioKind> {
        [AudioKind::Mp3, AudioKind::Mp4, AudioKind::Wav, AudioKind::Webm, AudioKind::Ogg, AudioKind::Flac]
            .into_iter()
            .find(|k| k.media_type() == media_type)
    }

    /// Bytes a second at the lowest bit rate an episode in this format plausibly has: its size
    /// over this is the most audio the file can hold, whatever its header says. PCM at 8 kHz,
    /// 8-bit mono (telephone quality) for WAV; 32 kbit/s for MP3 (MPEG-1 Layer III's lowest),
    /// AAC and FLAC; 16 kbit/s for Opus/Vorbis, which speech is encoded at.
    pub(super) fn lowest_bytes_per_sec(self) -> f64 {
        match self {
            AudioKind::Wav => 8_000.0,
            AudioKind::Mp3 | AudioKind::Mp4 | AudioKind::Flac => 4_000.0,
            AudioKind::Ogg | AudioKind::Webm => 2_000.0,
        }
    }

    /// Extensions naming this kind (the first is used when a name needs fixing).
    pub(super) fn extensions(self) -> &'static [&'static str] {
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
