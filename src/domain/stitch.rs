//! One transcript from the transcripts of an episode's chunks: each chunk's segments moved to
//! where the chunk starts in the episode (computed from the audio, not from what the model
//! reports), the texts joined, the length the whole. SRT and VTT are rendered from the result
//! by `transcript`, which numbers cues from 1 and keeps them in order across chunk edges.

use super::transcript::{transcribed_secs, Segment};
use serde::{Deserialize, Serialize};

/// A chunk's transcript, and where and how long its audio is (kept as JSON between deliveries
/// of its run, so a retried run resumes at the chunk that failed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    /// Where the chunk starts in the episode.
    pub start: f64,
    /// Its audio's length, computed from the audio.
    pub secs: f64,
    pub text: String,
    pub language: Option<String>,
    /// The length the model reported.
    pub duration: Option<f64>,
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stitched {
    pub text: String,
    pub language: Option<String>,
    /// The whole episode's transcribed length: where the last chunk starts plus what it
    /// covers; None when no chunk gave any timing (as for a single file, the reservation stands).
    pub duration: Option<f64>,
    pub segments: Vec<Segment>,
}

pub fn stitch(parts: &[Part]) -> Stitched {
    let text = parts.iter().map(|p| p.text.trim()).filter(|t| !t.is_empty()).collect::<Vec<_>>().join(" ");
    let segments = parts
        .iter()
        .flat_map(|p| {
            p.segments.iter().map(|s| Segment {
                start: s.start + p.start,
                end: s.end + p.start,
                text: s.text.clone(),
            })
        })
        .collect();
    let timed = parts.iter().any(|p| transcribed_secs(p.duration, &p.segments).is_some());
    let duration = parts
        .last()
        .filter(|_| timed)
        .map(|last| last.start + transcribed_secs(last.duration, &last.segments).unwrap_or(last.secs));
    Stitched { text, language: parts.iter().find_map(|p| p.language.clone()), duration, segments }
}

/// Where each chunk starts, from the chunks' audio lengths.
pub fn starts(secs: &[f64]) -> Vec<f64> {
    secs.iter()
        .scan(0.0, |at, s| {
            let start = *at;
            *at += s;
            Some(start)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::transcript::{srt, vtt};

    fn seg(start: f64, end: f64, text: &str) -> Segment {
        Segment { start, end, text: text.into() }
    }

    fn part(start: f64, secs: f64, segments: Vec<Segment>) -> Part {
        let text = segments.iter().map(|s| s.text.clone()).collect::<Vec<_>>().join(" ");
        Part { start, secs, text, language: Some("english".into()), duration: Some(secs), segments }
    }

    #[test]
    fn chunks_are_moved_to_where_their_audio_starts_and_joined() {
        let s = stitch(&[
            part(0.0, 25.0, vec![seg(0.0, 10.0, "One."), seg(10.0, 25.0, "Two.")]),
            part(25.0, 25.0, vec![seg(0.0, 10.0, "Three."), seg(10.0, 25.0, "Four.")]),
            part(50.0, 5.5, vec![seg(0.0, 5.5, "Five.")]),
        ]);
        assert_eq!(s.text, "One. Two. Three. Four. Five.");
        assert_eq!(s.duration, Some(55.5));
        assert_eq!(s.segments[2], seg(25.0, 35.0, "Three."));
        assert_eq!(s.segments[4], seg(50.0, 55.5, "Five."));
        let subtitles = srt(&s.segments);
        assert!(subtitles.starts_with("1\n00:00:00,000 --> 00:00:10,000\nOne.\n\n"));
        assert!(subtitles.contains("\n3\n00:00:25,000 --> 00:00:35,000\nThree.\n\n"));
        assert!(subtitles.ends_with("\n5\n00:00:50,000 --> 00:00:55,500\nFive.\n\n"));
        assert!(vtt(&s.segments).contains("00:00:25.000 --> 00:00:35.000\nThree."));
    }

    #[test]
    fn a_chunk_the_model_says_runs_long_never_overlaps_the_next_one_in_the_subtitles() {
        let s = stitch(&[
            part(0.0, 10.0, vec![seg(0.0, 12.0, "Long.")]),
            part(10.0, 10.0, vec![seg(0.0, 4.0, "Next.")]),
        ]);
        assert_eq!(
            srt(&s.segments),
            "1\n00:00:00,000 --> 00:00:12,000\nLong.\n\n2\n00:00:12,000 --> 00:00:14,000\nNext.\n\n"
        );
    }

    #[test]
    fn without_timing_from_any_chunk_the_length_is_unknown() {
        let untimed = |start| Part { duration: None, ..part(start, 30.0, vec![]) };
        let s = stitch(&[
            Part { text: "a".into(), ..untimed(0.0) },
            Part { text: " b ".into(), ..untimed(30.0) },
        ]);
        assert_eq!((s.text.as_str(), s.duration), ("a b", None));
        assert_eq!(starts(&[25.0, 25.0, 5.5]), vec![0.0, 25.0, 50.0]);
    }
}
