//! A transcript's timed segments and its downloads: plain text, SubRip (SRT) and WebVTT.
//!
//! SRT: numbered cues from 1, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, text, a blank line between cues.
//! WebVTT: a `WEBVTT` header line and a blank line, then cues with `HH:MM:SS.mmm`; cue text may
//! not contain `-->` or a blank line, and `&`/`<` must be escaped.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub start: f64,
    pub end: f64,
    pub text: String,
}

/// Later than any episode runs (uploads are at most 25 MB): a segment starting after this is
/// nonsense from the model, and at such magnitudes `start + 1.0` no longer moves the end.
const MAX_SECS: f64 = 100.0 * 3600.0;

/// Segments fit for subtitles: finite, non-negative, in order, each ending after it starts,
/// text on one line; empty ones (and ones past `MAX_SECS`) dropped.
pub fn tidy(segments: &[Segment]) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    for s in segments {
        let text = s.text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() || !s.start.is_finite() || !s.end.is_finite() {
            continue;
        }
        let floor = out.last().map(|p| p.end).unwrap_or(0.0);
        let start = s.start.max(floor).max(0.0);
        if start > MAX_SECS {
            continue;
        }
        let end = if s.end > start { s.end.min(2.0 * MAX_SECS) } else { start + 1.0 };
        out.push(Segment { start, end, text });
    }
    out
}

/// How much audio a transcription covers by its own account: the longer of the length it
/// reports and where its last segment ends; `None` when it gives no timing at all.
pub fn transcribed_secs(duration: Option<f64>, segments: &[Segment]) -> Option<f64> {
    let last_end = segments.iter().map(|s| s.end).filter(|e| e.is_finite() && *e > 0.0).reduce(f64::max);
    match (duration.filter(|d| d.is_finite() && *d > 0.0), last_end) {
        (Some(d), Some(e)) => Some(d.max(e)),
        (d, e) => d.or(e),
    }
}

/// A transcript kept only up to `at` seconds: the segments that end by then (the text is
/// theirs), or without segments the share of the text that `at` is of `duration`.
pub fn cut(text: &str, segments: &[Segment], duration: f64, at: f64) -> (String, Vec<Segment>) {
    if !segments.is_empty() {
        let kept: Vec<Segment> = segments.iter().filter(|s| s.end <= at + 0.01).cloned().collect();
        let text = kept.iter().map(|s| s.text.trim()).filter(|t| !t.is_empty()).collect::<Vec<_>>().join(" ");
        return (text, kept);
    }
    let share = if duration > 0.0 { (at / duration).clamp(0.0, 1.0) } else { 0.0 };
    let chars = (text.chars().count() as f64 * share) as usize;
    let head: String = text.chars().take(chars).collect();
    // Whole words only.
    let head = match (text.chars().nth(chars), head.rfind(char::is_whitespace)) {
        (Some(next), Some(space)) if !next.is_whitespace() => head[..space].to_string(),
        _ => head,
    };
    (head.trim_end().to_string(), Vec::new())
}

/// `HH:MM:SS<sep>mmm`, rounded to the millisecond.
pub fn timestamp(secs: f64, sep: char) -> String {
    let ms = (secs.max(0.0) * 1000.0).round() as u64;
    let (h, m, s, ms) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    format!("{h:02}:{m:02}:{s:02}{sep}{ms:03}")
}

/// `M:SS` or `H:MM:SS`, for people (chapters, the transcript page).
pub fn clock(secs: f64) -> String {
    let t = secs.max(0.0) as u64;
    let (h, m, s) = (t / 3600, t / 60 % 60, t % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

pub fn srt(segments: &[Segment]) -> String {
    let mut out = String::new();
    for (i, s) in tidy(segments).iter().enumerate() {
        out.push_str(&format!(
            "{}\n{} --> {}\n{}\n\n",
            i + 1,
            timestamp(s.start, ','),
            timestamp(s.end, ','),
            s.text
        ));
    }
    out
}

pub fn vtt(segments: &[Segment]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for s in tidy(segments) {
        let text = s.text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        out.push_str(&format!("{} --> {}\n{}\n\n", timestamp(s.start, '.'), timestamp(s.end, '.'), text));
    }
    out
}

/// The transcript as plain text: one paragraph per segment when there are segments.
pub fn txt(text: &str, segments: &[Segment]) -> String {
    let tidy = tidy(segments);
    if tidy.is_empty() {
        let mut t = text.trim().to_string();
        t.push('\n');
        return t;
    }
    tidy.iter().map(|s| format!("[{}] {}\n", clock(s.start), s.text)).collect()
}

/// The transcript with `[M:SS]` marks, for the show-notes prompt (so chapters can be timed).
pub fn timed_text(text: &str, segments: &[Segment]) -> String {
    txt(text, segments)
}

/// How far a transcription in chunks has come: `done` of `total` chunks transcribed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunks {
    pub done: u16,
    pub total: u16,
}

impl Chunks {
    /// "2 of 5 parts transcribed", as the page says it.
    pub fn describe(&self) -> String {
        format!("{} of {} parts transcribed", self.done, self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transcription_covers_its_reported_length_or_its_last_segment_whichever_is_longer() {
        let segments = [seg(0.0, 10.0, "a"), seg(10.0, 250.0, "b")];
        assert_eq!(transcribed_secs(Some(240.0), &segments), Some(250.0));
        assert_eq!(transcribed_secs(Some(300.0), &segments), Some(300.0));
        assert_eq!(transcribed_secs(None, &segments), Some(250.0));
        assert_eq!(transcribed_secs(Some(12.5), &[]), Some(12.5));
        assert_eq!(transcribed_secs(None, &[]), None);
        assert_eq!(transcribed_secs(Some(f64::NAN), &[seg(0.0, f64::INFINITY, "x")]), None);
    }

    #[test]
    fn a_cut_transcript_keeps_only_what_ends_by_the_cut() {
        let segments = [seg(0.0, 60.0, " One. "), seg(60.0, 120.0, "Two."), seg(120.0, 180.0, "Three.")];
        let (text, kept) = cut("One. Two. Three.", &segments, 180.0, 120.0);
        assert_eq!(text, "One. Two.");
        assert_eq!(kept.len(), 2);
        let (text, kept) = cut("alpha beta gamma delta", &[], 200.0, 100.0);
        assert_eq!((text.as_str(), kept.len()), ("alpha beta", 0));
        assert_eq!(cut("alpha beta", &[], 100.0, 100.0).0, "alpha beta");
    }

    fn seg(start: f64, end: f64, text: &str) -> Segment {
        Segment { start, end, text: text.into() }
    }

    #[test]
    fn timestamps_use_the_format_separator_and_round_to_milliseconds() {
        assert_eq!(timestamp(0.0, ','), "00:00:00,000");
        assert_eq!(timestamp(3723.4567, '.'), "01:02:03.457");
        assert_eq!(timestamp(59.9996, ','), "00:01:00,000");
    }

    #[test]
    fn srt_numbers_cues_from_one_with_blank_lines_between() {
        let out = srt(&[seg(0.0, 2.5, " Hello  there "), seg(2.5, 5.0, "Second\nline")]);
        assert_eq!(
            out,
            "1\n00:00:00,000 --> 00:00:02,500\nHello there\n\n2\n00:00:02,500 --> 00:00:05,000\nSecond line\n\n"
        );
    }

    #[test]
    fn vtt_has_its_header_and_escapes_markup() {
        let out = vtt(&[seg(1.0, 2.0, "a --> b & <c>")]);
        assert_eq!(out, "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\na --&gt; b &amp; &lt;c&gt;\n\n");
    }

    #[test]
    fn broken_timings_are_repaired_and_empty_segments_dropped() {
        let out = tidy(&[
            seg(5.0, 4.0, "backwards"),
            seg(3.0, 7.0, "overlaps"),
            seg(8.0, 9.0, "  "),
            seg(f64::NAN, 1.0, "x"),
        ]);
        assert_eq!(out, vec![seg(5.0, 6.0, "backwards"), seg(6.0, 7.0, "overlaps")]);
    }

    #[test]
    fn absurd_times_from_the_model_never_make_an_empty_cue() {
        // Found by tests/fuzz: at 2.6e135 s, `start + 1.0 == start`, a cue ending as it starts.
        assert_eq!(tidy(&[seg(2.602370891874093e135, -1.0, "!")]), vec![]);
        let out = tidy(&[seg(10.0, 1e300, "long"), seg(20.0, 30.0, "after")]);
        assert_eq!(out, vec![seg(10.0, 2.0 * MAX_SECS, "long")], "nothing starts past the limit");
        assert!(out.iter().all(|s| s.end > s.start));
    }

    #[test]
    fn plain_text_marks_segment_times() {
        assert_eq!(txt("ignored", &[seg(65.0, 70.0, "Hi")]), "[1:05] Hi\n");
        assert_eq!(txt(" Just text ", &[]), "Just text\n");
        assert_eq!(clock(3725.0), "1:02:05");
    }
}
