//! One MPEG audio frame header (MP3 and its Layer I/II cousins): what it says about the frame —
//! its length in bytes, how many samples it holds, at what rate. Read by the length estimate
//! (`audio_duration`) and by the splitter (`audio_split`), which cuts only between frames.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mp3Frame {
    pub at: usize,
    pub mpeg1: bool,
    pub mono: bool,
    pub layer: u8,
    pub padded: bool,
    pub bitrate_kbps: u32,
    pub sample_rate: u32,
    pub samples_per_frame: u32,
}

/// The longest frame any header can describe: MPEG-2.5 Layer II at 160 kbit/s and 8 kHz, padded.
pub const MAX_FRAME_BYTES: usize = 2881;

/// The MPEG audio frame header in `h` (its first 4 bytes), found at `at` in the file.
pub fn header(h: &[u8], at: usize) -> Option<Mp3Frame> {
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
    let layer = 4 - layer_bits; // 1, 2 or 3
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
    let bitrate_kbps = if mpeg1 { V1[usize::from(layer - 1)][br] } else { V2[usize::from(layer != 1)][br] };
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
    Some(Mp3Frame {
        at,
        mpeg1,
        mono: h[3] >> 6 == 3,
        layer,
        padded: h[2] & 2 != 0,
        bitrate_kbps,
        sample_rate,
        samples_per_frame,
    })
}

impl Mp3Frame {
    /// The frame's length in bytes, header included.
    pub fn bytes(&self) -> usize {
        let (br, sr) = (self.bitrate_kbps as usize * 1000, self.sample_rate as usize);
        if self.layer == 1 {
            return (12 * br / sr + usize::from(self.padded)) * 4;
        }
        // Samples per frame / 8 bits: 144 for 1152 samples, 72 for MPEG-2/2.5 Layer III's 576.
        self.samples_per_frame as usize / 8 * br / sr + usize::from(self.padded)
    }

    /// The audio the frame holds.
    pub fn secs(&self) -> f64 {
        f64::from(self.samples_per_frame) / f64::from(self.sample_rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_lengths_follow_the_bit_rate_sample_rate_and_padding() {
        // MPEG-1 Layer III, 128 kbit/s, 44.1 kHz: 417 bytes, 418 padded, 1152 samples.
        let f = header(&[0xFF, 0xFB, 0x90, 0x04], 0).unwrap();
        assert_eq!((f.bytes(), f.samples_per_frame), (417, 1152));
        assert_eq!(header(&[0xFF, 0xFB, 0x92, 0x04], 0).unwrap().bytes(), 418);
        // MPEG-2 Layer III, 64 kbit/s, 24 kHz: 72 × 64000 / 24000 = 192 bytes of 576 samples.
        let f = header(&[0xFF, 0xF3, 0x84, 0xC4], 0).unwrap();
        assert_eq!((f.bytes(), f.samples_per_frame, f.sample_rate, f.mono), (192, 576, 24_000, true));
        // Layer I, 448 kbit/s, 32 kHz: (12 × 448000 / 32000) × 4 = 672.
        assert_eq!(header(&[0xFF, 0xFF, 0xE8, 0x00], 0).unwrap().bytes(), 672);
        assert!(header(&[0xFF, 0xF1, 0x50, 0x80], 0).is_none(), "AAC/ADTS is not MPEG audio");
    }

    #[test]
    fn no_header_describes_a_frame_longer_than_the_bound() {
        for b1 in 0xE0..=0xFFu8 {
            for b2 in 0..=0xFFu8 {
                if let Some(f) = header(&[0xFF, b1, b2, 0], 0) {
                    assert!(f.bytes() <= MAX_FRAME_BYTES && f.bytes() >= 4, "{f:?}");
                }
            }
        }
    }
}
