//! The AI tools' pages: AgentWrite (form, streamed or saved result) and PodScribe (upload,
//! transcript with its status, downloads and show notes).

use super::Layout;
use crate::domain::brief::{BriefForm, FieldError, Length, Tone, LANGUAGES};
use crate::domain::copy::ProductCopy;
use crate::domain::show_notes::ShowNotes;
use crate::domain::tool::{RunStatus, Tool};
use crate::domain::transcript::Chunks;
use crate::domain::Credits;
use askama::Template;

#[derive(Template)]
#[template(path = "tools/agentwrite.html")]
pub struct AgentWritePage {
    pub layout: Layout,
    pub form: BriefForm,
    pub errors: Vec<FieldError>,
    /// A message about the whole form (not enough credits, OpenAI busy …).
    pub notice: Option<String>,
    pub balance: Credits,
    pub result: Option<GenerationView>,
    /// Why running tools is held (suspended, or a disputed payment), if it is.
    pub hold: Option<&'static str>,
}

/// A saved generation as the page shows it.
pub struct GenerationView {
    pub id: String,
    pub running: bool,
    pub copy: Option<ProductCopy>,
    pub created: String,
    /// Why the description is shorter than asked for (a message for its owner), when it is.
    pub cut_short: Option<&'static str>,
}

impl GenerationView {
    pub fn paragraphs(&self) -> Vec<&str> {
        self.copy.as_ref().map(|c| c.paragraphs()).unwrap_or_default()
    }
    pub fn plain(&self) -> String {
        self.copy.as_ref().map(|c| c.to_text()).unwrap_or_default()
    }
}

impl AgentWritePage {
    pub fn error_for(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }
    pub fn tones(&self) -> [Tone; 6] {
        Tone::ALL
    }
    pub fn lengths(&self) -> [Length; 3] {
        Length::ALL
    }
    pub fn languages(&self) -> &'static [(&'static str, &'static str)] {
        &LANGUAGES
    }
}

#[derive(Template)]
#[template(path = "tools/podscribe.html")]
pub struct PodScribePage {
    pub layout: Layout,
    pub notice: Option<String>,
    pub balance: Credits,
    pub max_bytes: u64,
    /// Why running tools is held (suspended, or a disputed payment), if it is.
    pub hold: Option<&'static str>,
    /// In parts, with the page's script.
    pub max_episode_bytes: u64,
}

#[derive(Template)]
#[template(path = "tools/transcript.html")]
pub struct TranscriptPage {
    pub layout: Layout,
    pub t: TranscriptView,
}

pub struct TranscriptView {
    pub id: String,
    pub file_name: String,
    pub status: RunStatus,
    pub duration: Option<String>,
    pub credits: Credits,
    pub credits_refunded: Credits,
    /// Where the transcript was cut (M:SS) because the balance paid for no more, when it was.
    pub cut_at: Option<String>,
    /// (M:SS, text) per segment; empty when the model gave no timestamps.
    pub segments: Vec<(String, String)>,
    pub text: Option<String>,
    pub notes: Option<ShowNotes>,
    /// Why there are no show notes (a message for the user).
    pub notes_error: Option<String>,
    /// Why the transcription failed (a message for the user).
    pub failure: Option<String>,
    pub created: String,
    /// How far its chunks have come, while an episode in chunks is transcribed.
    pub chunks: Option<Chunks>,
}

impl TranscriptView {
    /// "2 of 5 parts transcribed" while an episode in chunks is transcribed, else empty.
    pub fn chunk_progress(&self) -> String {
        self.chunks.map(|c| c.describe()).unwrap_or_default()
    }
    pub fn in_progress(&self) -> bool {
        self.status.in_progress()
    }
    pub fn status_label(&self) -> &'static str {
        match self.status {
            RunStatus::Done => "Done",
            RunStatus::Failed => "Failed",
            working => Tool::PodScribe.working_label(working),
        }
    }
    pub fn failed(&self) -> bool {
        self.status == RunStatus::Failed
    }
    /// The state as a word for the page's scripts and tests (`data-status`).
    pub fn status_word(&self) -> &'static str {
        match self.status {
            RunStatus::Running => "running",
            RunStatus::Transcribing => "transcribing",
            RunStatus::WritingNotes => "writing_notes",
            RunStatus::Done => "done",
            RunStatus::Failed => "failed",
        }
    }
    pub fn has_text(&self) -> bool {
        self.text.is_some()
    }
    pub fn charged(&self) -> Credits {
        self.credits - self.credits_refunded
    }
}

/// A time for people: `2025-01-31 14:05 UTC`.
pub fn when(ms: i64) -> String {
    crate::domain::calendar::minute_utc(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::render;

    fn page(errors: Vec<FieldError>, result: Option<GenerationView>) -> String {
        let mut form = BriefForm::blank();
        form.product_name = "<Tent & Co>".into();
        render(&AgentWritePage {
            layout: Layout::new("t", "n"),
            form,
            errors,
            notice: None,
            balance: Credits::new(3),
            result,
            hold: None,
        })
    }

    #[test]
    fn the_form_keeps_values_escaped_and_marks_bad_fields() {
        let html = page(vec![FieldError { field: "audience", message: "Say who it is for.".into() }], None);
        assert!(html.contains("value=\"&#60;Tent &#38; Co&#62;\""), "{html}");
        assert!(html.contains("Say who it is for."));
        assert!(html.contains("aria-invalid=\"true\" aria-describedby=\"audience-error\""));
        assert!(html.contains("<option value=\"friendly\" selected>"));
        assert!(html.contains("id=\"aw-result\" class=\"result\" hidden"));
    }

    #[test]
    fn a_result_shows_its_parts_and_downloads() {
        let copy = ProductCopy {
            title: "TrailLite".into(),
            description: "One.\n\nTwo.".into(),
            bullets: vec!["Dry".into()],
        };
        let html = page(
            vec![],
            Some(GenerationView {
                id: "ab".repeat(16),
                running: false,
                copy: Some(copy),
                created: "x".into(),
                cut_short: None,
            }),
        );
        assert!(html.contains("<h2 id=\"aw-title\">TrailLite</h2>"));
        assert!(html.contains("<p>One.</p><p>Two.</p>"));
        assert!(html.contains("<li>Dry</li>"));
        assert!(html.contains(&format!("/tools/agentwrite/{}/download", "ab".repeat(16))));
        assert!(html.contains("Regenerate"));
    }
}
