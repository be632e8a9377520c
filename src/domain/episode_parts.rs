//! An episode uploaded in parts: how a file of `size` bytes is cut into parts, how long each part
//! must be, and which are still missing. Each part is one request well under Cloudflare's body
//! limit; R2 wants every part but the last to be at least 5 MiB.

use super::audio::MAX_EPISODE_BYTES;

/// The length of every part but the last.
pub const PART_BYTES: u64 = 8 * 1024 * 1024;

/// How many parts a file of `size` bytes is sent in.
pub fn parts_for(size: u64) -> u32 {
    u32::try_from(size.div_ceil(PART_BYTES)).unwrap_or(u32::MAX)
}

/// How long part `n` (from 1) of a file of `size` bytes is, or None when it has no such part.
pub fn part_len(size: u64, n: u32) -> Option<u64> {
    if n == 0 || n > parts_for(size) || size > MAX_EPISODE_BYTES {
        return None;
    }
    let start = u64::from(n - 1) * PART_BYTES;
    Some((size - start).min(PART_BYTES))
}

/// The parts of a file of `size` bytes not in `received`, in order.
pub fn missing(size: u64, received: &[u32]) -> Vec<u32> {
    (1..=parts_for(size)).filter(|n| !received.contains(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_cut_into_parts_of_eight_mib_and_a_shorter_last_one() {
        let size = 2 * PART_BYTES + 10;
        assert_eq!(parts_for(size), 3);
        assert_eq!(part_len(size, 1), Some(PART_BYTES));
        assert_eq!(part_len(size, 3), Some(10));
        assert_eq!(part_len(size, 0), None);
        assert_eq!(part_len(size, 4), None);
        assert_eq!(parts_for(PART_BYTES), 1);
        assert_eq!(part_len(PART_BYTES, 1), Some(PART_BYTES));
        assert_eq!(parts_for(1), 1);
    }

    #[test]
    fn the_largest_episode_has_63_parts_and_nothing_larger_has_any() {
        assert_eq!(parts_for(MAX_EPISODE_BYTES), 63);
        assert_eq!(part_len(MAX_EPISODE_BYTES + 1, 1), None);
    }

    #[test]
    fn only_mp3_and_wav_may_be_larger_than_one_transcription() {
        use crate::domain::audio::{AudioUpload, UploadError, MAX_BYTES};
        let big = MAX_BYTES + 1;
        assert_eq!(AudioUpload::precheck("show.mp3", big), Ok(()));
        assert_eq!(AudioUpload::precheck("show.WAV", MAX_EPISODE_BYTES), Ok(()));
        assert_eq!(
            AudioUpload::precheck("show.m4a", big),
            Err(UploadError::NotSplittable { limit: MAX_BYTES })
        );
        assert_eq!(AudioUpload::precheck("show.m4a", MAX_BYTES), Ok(()));
        assert_eq!(
            AudioUpload::precheck("show.mp3", MAX_EPISODE_BYTES + 1),
            Err(UploadError::TooLargeEvenInParts)
        );
        assert_eq!(AudioUpload::precheck("show.exe", 10), Err(UploadError::UnsupportedExtension));
    }

    #[test]
    fn a_large_file_is_judged_by_its_contents_not_its_name() {
        use crate::domain::audio::{AudioUpload, UploadError, MAX_BYTES};
        use crate::domain::excerpt::Excerpt;
        let size = (MAX_BYTES + 4096) as usize;
        // A WAV header declaring the whole file as 8 kHz 8-bit mono samples.
        let mut header = Vec::new();
        header.extend_from_slice(b"RIFF");
        header.extend_from_slice(&(size as u32 - 8).to_le_bytes());
        header.extend_from_slice(b"WAVEfmt ");
        header.extend_from_slice(&16u32.to_le_bytes());
        for v in [1u16, 1] {
            header.extend_from_slice(&v.to_le_bytes());
        }
        header.extend_from_slice(&8000u32.to_le_bytes());
        header.extend_from_slice(&8000u32.to_le_bytes());
        for v in [1u16, 8] {
            header.extend_from_slice(&v.to_le_bytes());
        }
        header.extend_from_slice(b"data");
        header.extend_from_slice(&(size as u32 - 44).to_le_bytes());
        header.resize(64 * 1024, 128);
        let mut wav = Excerpt::new(size);
        wav.add(0, header);
        wav.add(size - 80 * 1024, vec![128; 80 * 1024]);
        let judged = AudioUpload::inspect_within("talk.mp3", &wav, MAX_EPISODE_BYTES).expect("a WAV");
        assert_eq!(judged.upload_name, "talk.wav", "what it is, not what it is called");
        assert_eq!(AudioUpload::inspect(" talk.wav", &wav), Err(UploadError::TooLarge), "not in one request");
        let mut ogg = Excerpt::new(size);
        let mut page = b"OggS".to_vec();
        page.resize(64 * 1024, 0);
        ogg.add(0, page);
        ogg.add(size - 80 * 1024, vec![0; 80 * 1024]);
        assert_eq!(
            AudioUpload::inspect_within("talk.mp3", &ogg, MAX_EPISODE_BYTES),
            Err(UploadError::NotSplittable { limit: MAX_BYTES })
        );
    }

    #[test]
    fn what_is_missing_is_listed_in_order() {
        assert_eq!(missing(3 * PART_BYTES, &[2]), vec![1, 3]);
        assert!(missing(3 * PART_BYTES, &[3, 1, 2]).is_empty());
    }
}
