//! How long the audio sent to the fake OpenAI is, read from the file as a decoder would (frames
//! counted, data over byte rate), so transcriptions report a real duration and tests can check
//! timestamps end to end.

/// Seconds of audio in an MP3 (MPEG-1/2 Layer III frames counted from after an ID3v2 tag), for
/// a realistic `duration`: None unless the file is frames back to back to its very end (a chunk
/// cut mid-frame, or one starting with anything but a frame or a tag, gets the default length,
/// which the tests notice).
pub fn mp3_secs(b: &[u8]) -> Option<f64> {
    let mut i = match b.get(..10) {
        Some(h) if h.starts_with(b"ID3") => {
            10 + h[6..10].iter().fold(0usize, |a, x| (a << 7) | usize::from(x & 0x7F))
        }
        _ => 0,
    };
    let (mut secs, mut frames) = (0.0, 0);
    while i + 4 <= b.len() {
        let h = &b[i..i + 4];
        let (br, sr) = (usize::from(h[2] >> 4), usize::from((h[2] >> 2) & 3));
        // Sync, MPEG-1 or 2, Layer III.
        if h[0] != 0xFF || h[1] & 0xF0 != 0xF0 || h[1] & 0x06 != 0x02 || br == 0 || br == 15 || sr == 3 {
            return None;
        }
        let mpeg1 = h[1] & 0x08 != 0;
        let kbps = if mpeg1 {
            [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320][br]
        } else {
            [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160][br]
        };
        let rate = [44_100, 48_000, 32_000][sr] / if mpeg1 { 1 } else { 2 };
        let samples = if mpeg1 { 1152 } else { 576 };
        i += samples / 8 * kbps * 1000 / rate + usize::from(h[2] & 2 != 0);
        secs += samples as f64 / rate as f64;
        frames += 1;
    }
    (i == b.len() && frames > 0).then_some(secs)
}

/// Seconds of audio in a WAV (data bytes / byte rate), for a realistic `duration`.
pub fn wav_secs(b: &[u8]) -> Option<f64> {
    if b.len() < 44 || &b[0..4] != b"RIFF" {
        return None;
    }
    let rate = u32::from_le_bytes(b[28..32].try_into().ok()?) as f64;
    let data = (b.len() - 44) as f64;
    (rate > 0.0).then(|| data / rate)
}
