//! How long a recording is, read from its container before it is sent anywhere (so credits can
//! be reserved for its real length): WAV data size / byte rate, FLAC STREAMINFO, MP3 Xing/Info/
//! VBRI frame counts or the constant bit rate, MP4 `mvhd`, Ogg's last granule position, WebM's
//! Segment Info Duration. `None` when the file does not say.
//!
//! Readers see the file through an [`Excerpt`] (offsets are the file's): the bytes they need
//! and the file's size, never necessarily the whole file.

use super::audio_kind::AudioKind;
use super::excerpt::Excerpt;
use std::ops::Range;

const MAX_PLAUSIBLE_SECS: f64 = 24.0 * 3600.0;

pub fn read(kind: AudioKind, e: &Excerpt) -> Option<f64> {
    let secs = match kind {
        AudioKind::Wav => wav(e),
        AudioKind::Flac => flac(e),
        AudioKind::Mp3 => mp3(e),
        AudioKind::Mp4 => mp4(e),
        AudioKind::Ogg => ogg(e),
        AudioKind::Webm => webm(e),
    }?;
    (secs.is_finite() && secs > 0.0 && secs < MAX_PLAUSIBLE_SECS).then_some(secs)
}

fn u16le(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(i..i.checked_add(2)?)?.try_into().ok()?))
}
fn u32le(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(i..i.checked_add(4)?)?.try_into().ok()?))
}
fn u64le(b: &[u8], i: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(i..i.checked_add(8)?)?.try_into().ok()?))
}
fn u32be(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(i..i.checked_add(4)?)?.try_into().ok()?))
}
fn u64be(b: &[u8], i: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(i..i.checked_add(8)?)?.try_into().ok()?))
}

fn wav(e: &Excerpt) -> Option<f64> {
    let mut i = 12usize;
    let mut byte_rate = None;
    loop {
        let chunk = e.get(i, 8)?;
        let size = u32le(chunk, 4)? as usize;
        let body = i + 8;
        match &chunk[..4] {
            b"fmt " => byte_rate = Some(u32le(e.get(body + 8, 4)?, 0)?),
            b"data" => {
                // Streamed WAVs may claim more (or 0xFFFFFFFF) than they hold.
                let held = e.size().saturating_sub(body).min(size);
                return Some(held as f64 / f64::from(byte_rate.filter(|r| *r > 0)?));
            }
            _ => {}
        }
        i = body.checked_add(size)?.checked_add(size & 1)?;
    }
}

fn flac(e: &Excerpt) -> Option<f64> {
    let b = e.get(0, 26)?;
    // "fLaC", then the STREAMINFO block (type 0) must come first.
    if b[4] & 0x7F != 0 {
        return None;
    }
    let d = &b[8..26];
    let rate = (u32::from(d[10]) << 12) | (u32::from(d[11]) << 4) | (u32::from(d[12]) >> 4);
    let samples = (u64::from(d[13] & 0x0F) << 32) | u64::from(u32::from_be_bytes(d[14..18].try_into().ok()?));
    (rate > 0 && samples > 0).then(|| samples as f64 / f64::from(rate))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mp3Frame {
    pub at: usize,
    mpeg1: bool,
    mono: bool,
    bitrate_kbps: u32,
    sample_rate: u32,
    samples_per_frame: u32,
}

/// The MPEG audio frame header in `h` (its first 4 bytes), found at `at` in the file.
fn mp3_header(h: &[u8], at: usize) -> Option<Mp3Frame> {
    let h = h.get(..4)?;
    if h[0] != 0xFF || h[1] & 0xE0 != 0xE0 {
        return None;
    }
    let version = (h[1] >> 3) & 3; // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5, 1: reserved
    let layer_bits = (h[1] >> 1) & 3; // 1: Layer III, 2: II, 3: I, 0: reserved (ADTS uses 0)
    let (br, sr) = ((h[2] >> 4) as usize, ((h[2] >> 2) & 3) as usize);
    if version == 1 || layer_bits == 0 || br == 0 || br == 15 || sr == 3 {
        return None;
    }
    let layer = 4 - layer_bits as usize; // 1, 2 or 3
    let mpeg1 = version == 3;
    const V1: [[u32; 15]; 3] = [
        [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
        [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
        [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
    ];
    const V2: [[u32; 15]; 2] = [
        [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
        [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    ];
    let bitrate_kbps = if mpeg1 { V1[layer - 1][br] } else { V2[usize::from(layer != 1)][br] };
    let base = [44_100, 48_000, 32_000][sr];
    let sample_rate = match version {
        3 => base,
        2 => base / 2,
        _ => base / 4,
    };
    let samples_per_frame = match (layer, mpeg1) {
        (1, _) => 384,
        (3, false) => 576,
        _ => 1152,
    };
    Some(Mp3Frame { at, mpeg1, mono: h[3] >> 6 == 3, bitrate_kbps, sample_rate, samples_per_frame })
}

/// The first MPEG audio frame: at the start, or after an ID3v2 tag (and a little padding).
pub fn first_mp3_frame(e: &Excerpt) -> Option<Mp3Frame> {
    let b = e.get_upto(0, 10)?;
    if b.starts_with(b"ID3") && b.len() >= 10 {
        let size = b[6..10].iter().fold(0usize, |acc, x| (acc << 7) | usize::from(x & 0x7F));
        let start = 10 + size + if b[5] & 0x10 != 0 { 10 } else { 0 };
        // Where the tag ends, the first frame starts within 4 KB.
        let window = e.get_upto(start, 4096 + 3)?;
        return (0..window.len().min(4096)).find_map(|k| mp3_header(&window[k..], start + k));
    }
    mp3_header(e.get(0, 4)?, 0)
}

fn mp3(e: &Excerpt) -> Option<f64> {
    let f = first_mp3_frame(e)?;
    let frames_to_secs =
        |frames: u32| f64::from(frames) * f64::from(f.samples_per_frame) / f64::from(f.sample_rate);
    let side_info = match (f.mpeg1, f.mono) {
        (true, false) => 32,
        (true, true) | (false, false) => 17,
        (false, true) => 9,
    };
    let xing = f.at + 4 + side_info;
    if let Some(b"Xing" | b"Info") = e.get(xing, 4) {
        if u32be(e.get(xing + 4, 4)?, 0)? & 1 != 0 {
            return Some(frames_to_secs(u32be(e.get(xing + 8, 4)?, 0)?));
        }
    }
    let vbri = f.at + 4 + 32;
    if e.get(vbri, 4) == Some(b"VBRI") {
        return Some(frames_to_secs(u32be(e.get(vbri + 14, 4)?, 0)?));
    }
    let mut end = e.size();
    if end >= 128 && e.get(end - 128, 3) == Some(b"TAG") {
        end -= 128;
    }
    Some(end.saturating_sub(f.at) as f64 * 8.0 / (f64::from(f.bitrate_kbps) * 1000.0))
}

/// Where the contents of the first box of `kind` among the boxes in `from..to` are.
fn mp4_box(e: &Excerpt, from: usize, to: usize, kind: &[u8; 4]) -> Option<Range<usize>> {
    let mut i = from;
    while i.checked_add(8)? <= to {
        let h = e.get(i, 8)?;
        let (header, size) = match u32be(h, 0)? {
            1 => (16usize, usize::try_from(u64be(e.get(i + 8, 8)?, 0)?).ok()?),
            0 => (8, to - i),
            n => (8, n as usize),
        };
        if size < header {
            return None;
        }
        let end = i.checked_add(size)?.min(to);
        if &h[4..8] == kind {
            return Some((i + header).min(end)..end);
        }
        i = end;
    }
    None
}

fn mp4(e: &Excerpt) -> Option<f64> {
    let moov = mp4_box(e, 0, e.size(), b"moov")?;
    let mvhd = mp4_box(e, moov.start, moov.end, b"mvhd")?;
    // Version 1 keeps its scale and duration in the first 32 bytes, version 0 in the first 20.
    let mvhd = e.get(mvhd.start, mvhd.len().min(32))?;
    let (scale, duration) = if *mvhd.first()? == 1 {
        (u32be(mvhd, 20)?, u64be(mvhd, 24)?)
    } else {
        (u32be(mvhd, 12)?, u64::from(u32be(mvhd, 16)?))
    };
    (scale > 0).then(|| duration as f64 / f64::from(scale))
}

/// How far from the end the last Ogg page starts at most (pages are at most ~64 KB).
pub const OGG_TAIL_BYTES: usize = 70_000;

fn ogg(e: &Excerpt) -> Option<f64> {
    let segments = usize::from(*e.get(26, 1)?.first()?);
    let packet = e.get_upto(27 + segments, 16)?;
    let (rate, pre_skip) = if packet.starts_with(b"\x01vorbis") {
        (f64::from(u32le(packet, 12)?), 0.0)
    } else if packet.starts_with(b"OpusHead") {
        (48_000.0, f64::from(u16le(packet, 10)?))
    } else {
        return None;
    };
    // The last page carries the final granule position.
    let tail = e.size().saturating_sub(OGG_TAIL_BYTES);
    let last = tail + e.get(tail, e.size() - tail)?.windows(4).rposition(|w| w == b"OggS")?;
    let granule = u64le(e.get(last + 6, 8)?, 0)?;
    (granule != u64::MAX && rate > 0.0).then(|| (granule as f64 - pre_skip) / rate)
}

/// An EBML variable-length integer at `i`: (value, length, all value bits set).
fn vint(e: &Excerpt, i: usize, keep_marker: bool) -> Option<(u64, usize, bool)> {
    let first = *e.get(i, 1)?.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 {
        return None;
    }
    let bytes = e.get(i, len)?;
    let mut value = if keep_marker { u64::from(first) } else { u64::from(first) & (0xFF >> len) };
    for b in &bytes[1..] {
        value = (value << 8) | u64::from(*b);
    }
    let all_ones = !keep_marker && value == (1u64 << (7 * len)) - 1;
    Some((value, len, all_ones))
}

/// (id, size or None when unknown, header length) of the EBML element at `i`.
fn ebml(e: &Excerpt, i: usize) -> Option<(u64, Option<usize>, usize)> {
    let (id, id_len, _) = vint(e, i, true)?;
    let (size, size_len, unknown) = vint(e, i + id_len, false)?;
    let size = if unknown { None } else { Some(usize::try_from(size).ok()?) };
    Some((id, size, id_len + size_len))
}

fn webm(e: &Excerpt) -> Option<f64> {
    const SEGMENT: u64 = 0x1853_8067;
    const INFO: u64 = 0x1549_A966;
    const CLUSTER: u64 = 0x1F43_B675;
    let (_, header_size, header_len) = ebml(e, 0)?;
    let mut i = header_len.checked_add(header_size?)?;
    let (id, size, len) = ebml(e, i)?;
    if id != SEGMENT {
        return None;
    }
    i += len;
    let segment_end = size.and_then(|s| i.checked_add(s)).unwrap_or(e.size()).min(e.size());
    while i < segment_end {
        let (id, size, len) = ebml(e, i)?;
        let body = i + len;
        let end = body.checked_add(size?)?.min(segment_end);
        if id == INFO {
            let (mut scale, mut duration, mut k) = (1_000_000.0f64, None, body);
            while k < end {
                let (cid, csize, clen) = ebml(e, k)?;
                let csize = csize?;
                // Only the two values needed are read; other children are skipped unread.
                match (cid, csize) {
                    (0x2A_D7B1, 1..=8) => {
                        let data = e.get(k + clen, csize)?;
                        scale = data.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)) as f64;
                    }
                    (0x4489, 4) => {
                        let data = e.get(k + clen, 4)?;
                        duration = Some(f64::from(f32::from_be_bytes(data.try_into().ok()?)));
                    }
                    (0x4489, 8) => {
                        duration = Some(f64::from_be_bytes(e.get(k + clen, 8)?.try_into().ok()?));
                    }
                    _ => {}
                }
                k = k.checked_add(clen + csize)?;
            }
            return duration.map(|d| d * scale / 1e9);
        }
        if id == CLUSTER {
            return None; // Info comes before the media; past it, the file has no duration.
        }
        i = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole file in hand.
    fn read(kind: AudioKind, b: &[u8]) -> Option<f64> {
        super::read(kind, &Excerpt::whole(b))
    }

    #[test]
    fn wav_length_is_data_over_byte_rate_even_when_the_header_overstates() {
        let mut b = b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0\x40\x1f\0\0\x40\x1f\0\0\x01\0\x08\0data\xff\xff\xff\xff".to_vec();
        b.resize(b.len() + 8000 * 3, 0);
        assert_eq!(read(AudioKind::Wav, &b), Some(3.0));
    }

    #[test]
    fn flac_length_comes_from_streaminfo() {
        let mut b = b"fLaC\x00\x00\x00\x22".to_vec();
        let mut info = [0u8; 34];
        // 44100 Hz (20 bits), then 4 bits channels/bps, then 36 bits of samples.
        info[10] = (44_100u32 >> 12) as u8;
        info[11] = (44_100u32 >> 4) as u8;
        info[12] = ((44_100u32 & 0xF) << 4) as u8;
        info[14..18].copy_from_slice(&(44_100u32 * 125).to_be_bytes());
        b.extend_from_slice(&info);
        assert_eq!(read(AudioKind::Flac, &b), Some(125.0));
    }

    fn mp3_frame() -> Vec<u8> {
        // MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, stereo.
        vec![0xFF, 0xFB, 0x90, 0x04]
    }

    #[test]
    fn cbr_mp3_length_is_size_over_bit_rate_after_an_id3_tag() {
        let mut b = b"ID3\x04\x00\x00\x00\x00\x00\x0a".to_vec();
        b.extend_from_slice(&[0u8; 10]);
        b.extend_from_slice(&mp3_frame());
        b.resize(10 + 10 + 16_000 * 60, 0x55);
        let secs = read(AudioKind::Mp3, &b).unwrap();
        assert!((secs - 60.0).abs() < 0.01, "{secs}");
    }

    #[test]
    fn vbr_mp3_length_comes_from_the_xing_frame_count() {
        let mut b = mp3_frame();
        b.resize(4 + 32, 0);
        b.extend_from_slice(b"Xing\0\0\0\x01");
        b.extend_from_slice(&1000u32.to_be_bytes());
        b.resize(2000, 0);
        let secs = read(AudioKind::Mp3, &b).unwrap();
        assert!((secs - 1000.0 * 1152.0 / 44_100.0).abs() < 1e-9);
    }

    fn mp4_box_bytes(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn mp4_length_comes_from_mvhd() {
        let mut mvhd = vec![0u8; 4 + 8];
        mvhd.extend_from_slice(&1000u32.to_be_bytes());
        mvhd.extend_from_slice(&95_500u32.to_be_bytes());
        mvhd.resize(100, 0);
        let mut b = mp4_box_bytes(b"ftyp", b"M4A \0\0\0\0");
        b.extend(mp4_box_bytes(b"mdat", &[0; 50]));
        b.extend(mp4_box_bytes(b"moov", &mp4_box_bytes(b"mvhd", &mvhd)));
        assert_eq!(read(AudioKind::Mp4, &b), Some(95.5));
    }

    fn ogg_page(granule: u64, packet: &[u8]) -> Vec<u8> {
        let mut p = b"OggS\0\0".to_vec();
        p.extend_from_slice(&granule.to_le_bytes());
        p.extend_from_slice(&[0; 12]);
        p.push(1);
        p.push(packet.len() as u8);
        p.extend_from_slice(packet);
        p
    }

    #[test]
    fn opus_length_is_the_last_granule_minus_pre_skip_at_48_khz() {
        let mut b = ogg_page(0, b"OpusHead\x01\x02\x38\x01\x80\xbb\0\0\0\0\0");
        b.extend(ogg_page(48_000 * 10 + 312, b"audio"));
        assert_eq!(read(AudioKind::Ogg, &b), Some(10.0));
    }

    #[test]
    fn vorbis_length_uses_the_sample_rate_of_its_header() {
        let mut id = b"\x01vorbis\0\0\0\0\x02".to_vec();
        id.extend_from_slice(&22_050u32.to_le_bytes());
        id.resize(30, 0);
        let mut b = ogg_page(0, &id);
        b.extend(ogg_page(22_050 * 7, b"audio"));
        assert_eq!(read(AudioKind::Ogg, &b), Some(7.0));
    }

    #[test]
    fn webm_length_comes_from_segment_info() {
        let header = b"\x1a\x45\xdf\xa3\x84webm";
        let mut info = vec![0x2A, 0xD7, 0xB1, 0x83, 0x0F, 0x42, 0x40]; // TimecodeScale 1 000 000
        info.extend_from_slice(&[0x44, 0x89, 0x88]);
        info.extend_from_slice(&42_500.0f64.to_be_bytes()); // 42.5 s in ms
        let mut segment = vec![0x15, 0x49, 0xA9, 0x66, 0x80 | info.len() as u8];
        segment.extend(info);
        let mut b = header.to_vec();
        b.extend_from_slice(&[0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]); // unknown size
        b.extend(segment);
        assert_eq!(read(AudioKind::Webm, &b), Some(42.5));
    }

    #[test]
    fn files_that_do_not_say_give_none_not_a_panic() {
        for kind in
            [AudioKind::Wav, AudioKind::Flac, AudioKind::Mp3, AudioKind::Mp4, AudioKind::Ogg, AudioKind::Webm]
        {
            for b in [&b""[..], b"RIFF", b"fLaC\0", b"OggS", b"\x1a\x45\xdf\xa3\xff", b"\0\0\0\x01ftyp"] {
                let _ = read(kind, b);
            }
        }
        assert_eq!(
            read(AudioKind::Webm, b"\x1a\x45\xdf\xa3\x84webm\x18\x53\x80\x67\x85\x1f\x43\xb6\x75\x80"),
            None
        );
    }
}
