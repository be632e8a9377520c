//! What the AI answers (and what a visitor's audio can steer it to say): AgentWrite's copy,
//! PodScribe's show notes (chapters with times) and transcript segments turned into SRT/VTT,
//! plus the ids in URLs. Any text parses; subtitles stay well-formed whatever the segments.

use crate::alloc::bounded;
use crate::config;
use crate::strategies::text;
use ghosttools::domain::copy::ProductCopy;
use ghosttools::domain::item_id::ItemId;
use ghosttools::domain::show_notes::ShowNotes;
use ghosttools::domain::transcript::{srt, tidy, vtt, Segment};
use proptest::prelude::*;

const PIECES: &[&str] = &[
    "\n",
    "\r\n",
    "TITLE:",
    "DESCRIPTION:",
    "BULLETS:",
    "## Summary",
    "**Key points**",
    "Chapters:",
    "summary:",
    "- ",
    "* ",
    "• ",
    "1. ",
    "12. ",
    "[",
    "]",
    "(",
    ")",
    "0",
    "3:12",
    "01:02:03",
    "99:59",
    ":",
    "–",
    " ",
    "18446744073709551615",
    "99999999999999999999",
    "999999999999999:00",
    "Title",
    "é",
    "#",
    "_",
];

fn segments() -> impl Strategy<Value = Vec<Segment>> {
    let time = prop_oneof![any::<f64>(), 0.0..10_000.0f64, Just(f64::NAN), Just(f64::INFINITY), Just(-1.0)];
    prop::collection::vec(
        (time.clone(), time, prop_oneof![any::<String>(), text(&["-->", "\n", "\n\n", "<", "&", " ", "x"])])
            .prop_map(|(start, end, text)| Segment { start, end, text }),
        0..12,
    )
}

proptest! {
    #![proptest_config(config(1))]

    /// Parsing keeps the lines it reads: per line of one byte, a 24-byte String in a Vec
    /// (up to 3 × 24 while the Vec doubles), moved into a second list (as much again) and a
    /// paragraph list of 16-byte slices (3 × 16): under 200 bytes a byte.
    #[test]
    fn any_answer_parses_as_copy_and_show_notes(raw in text(PIECES), duration in prop::option::of(any::<f64>())) {
        let n = raw.len();
        let copy = bounded("ProductCopy::parse", n, 200, 1024, || ProductCopy::parse(&raw));
        let _ = (copy.to_text(), copy.paragraphs());
        let notes = bounded("ShowNotes::parse", n, 200, 1024, || ShowNotes::parse(&raw, duration));
        for c in &notes.chapters {
            prop_assert!(c.start.is_finite() && c.start >= 0.0 && !c.title.is_empty());
            if let Some(d) = duration {
                prop_assert!(c.start < d);
            }
        }
        let _ = notes.to_markdown("Episode");
    }

    /// Chapter lines with any numbers in their times (the model repeats what the audio says).
    #[test]
    fn any_chapter_times_parse(lines in prop::collection::vec(("[0-9]{1,22}", "[0-9]{1,22}", prop::option::of("[0-9]{1,22}"), "[ -~]{0,12}"), 0..8)) {
        let mut raw = String::from("Summary: an episode\nChapters:\n");
        for (a, b, c, title) in &lines {
            let time = match c { Some(c) => format!("{a}:{b}:{c}"), None => format!("{a}:{b}") };
            raw.push_str(&format!("- [{time}] {title}\n"));
        }
        let notes = ShowNotes::parse(&raw, None);
        prop_assert!(notes.chapters.len() <= lines.len());
        for c in &notes.chapters {
            prop_assert!(c.start.is_finite() && c.start >= 0.0);
        }
    }

    /// Subtitles: numbered cues with well-formed times in order, one text line each that
    /// never contains the cue arrow.
    #[test]
    fn any_segments_make_well_formed_subtitles(segments in segments()) {
        let tidy = tidy(&segments);
        for w in tidy.windows(2) {
            prop_assert!(w[0].end <= w[1].start + 1e-9 || w[1].start >= w[0].end);
        }
        for s in &tidy {
            prop_assert!(s.start.is_finite() && s.end.is_finite() && s.start >= 0.0 && s.end > s.start);
            prop_assert!(!s.text.is_empty() && !s.text.contains('\n'));
        }
        let v = vtt(&segments);
        prop_assert!(v.starts_with("WEBVTT\n\n"));
        let cues: Vec<&str> = v["WEBVTT\n\n".len()..].split_terminator("\n\n").collect();
        prop_assert_eq!(cues.len(), tidy.len());
        for cue in cues {
            let lines: Vec<&str> = cue.lines().collect();
            prop_assert_eq!(lines.len(), 2, "{:?}", cue);
            prop_assert!(lines[0].contains(" --> ") && !lines[1].contains("-->") && !lines[1].contains('<'));
        }
        let s = srt(&segments);
        prop_assert_eq!(s.split_terminator("\n\n").count(), tidy.len());
    }

    #[test]
    fn ids_in_urls_are_32_hex_digits_or_nothing(raw in text(&["0", "a", "f", "g", "A", "é", "/"])) {
        if let Some(id) = ItemId::parse(&raw) {
            prop_assert!(id.as_str().len() == 32 && id.as_str().bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        }
    }
}
