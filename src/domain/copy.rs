//! What AgentWrite wrote, parsed out of the model's text: a title, the description and bullet
//! points. The prompt asks for `TITLE:` / `DESCRIPTION:` / `BULLETS:`; models drift (markdown
//! headings, bold labels, numbered lists, no headings at all), so parsing is forgiving.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductCopy {
    pub title: String,
    /// Paragraphs separated by a blank line.
    pub description: String,
    pub bullets: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Title,
    Description,
    Bullets,
}

impl ProductCopy {
    pub fn parse(raw: &str) -> ProductCopy {
        let mut title = String::new();
        let mut description: Vec<String> = Vec::new();
        let mut bullets = Vec::new();
        let mut loose: Vec<String> = Vec::new();
        let mut section = Section::None;
        let mut saw_heading = false;
        for line in raw.lines() {
            if let Some((heading, rest)) = heading(line) {
                saw_heading = true;
                section = heading;
                if !rest.is_empty() {
                    match heading {
                        Section::Title => title = clean_title(rest),
                        Section::Description => description.push(rest.to_string()),
                        Section::Bullets => bullets.push(strip_bullet(rest).unwrap_or(rest).to_string()),
                        Section::None => {}
                    }
                }
                continue;
            }
            let text = line.trim();
            match section {
                Section::Title if title.is_empty() && !text.is_empty() => title = clean_title(text),
                Section::Title | Section::Description => description.push(text.to_string()),
                Section::Bullets if !text.is_empty() => {
                    bullets.push(strip_bullet(text).unwrap_or(text).to_string());
                }
                Section::Bullets => {}
                Section::None => loose.push(text.to_string()),
            }
        }
        if !saw_heading {
            // No structure at all: first line is the title, bullet lines are bullets.
            let mut lines = loose.into_iter().skip_while(|l| l.is_empty());
            title = lines.next().map(|l| clean_title(&l)).unwrap_or_default();
            for l in lines {
                match strip_bullet(&l) {
                    Some(b) => bullets.push(b.to_string()),
                    None => description.push(l),
                }
            }
        } else if title.is_empty() {
            title = loose.iter().find(|l| !l.is_empty()).map(|l| clean_title(l)).unwrap_or_default();
        }
        ProductCopy {
            title,
            description: paragraphs(&description).join("\n\n"),
            bullets: bullets.into_iter().map(|b| b.trim().to_string()).filter(|b| !b.is_empty()).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.title.is_empty() && self.description.is_empty() && self.bullets.is_empty()
    }

    pub fn paragraphs(&self) -> Vec<&str> {
        self.description.split("\n\n").filter(|p| !p.trim().is_empty()).collect()
    }

    /// Plain text for a download or the clipboard.
    pub fn to_text(&self) -> String {
        let mut out = format!("{}\n\n{}\n", self.title, self.description);
        if !self.bullets.is_empty() {
            out.push('\n');
            for b in &self.bullets {
                out.push_str("- ");
                out.push_str(b);
                out.push('\n');
            }
        }
        out
    }
}

/// The words that start a section, as the model may write them.
const HEADINGS: [(&str, Section); 7] = [
    ("title", Section::Title),
    ("product title", Section::Title),
    ("description", Section::Description),
    ("product description", Section::Description),
    ("bullet points", Section::Bullets),
    ("bullets", Section::Bullets),
    ("key features", Section::Bullets),
];

/// Whether an unfinished last line may still turn out to be a heading (`TIT`, `**Desc`) or a
/// bullet's marker (`-`, `2.`): shown as text now, it would flash as something else.
pub fn may_become_marker(line: &str) -> bool {
    let t = line.trim_start().trim_start_matches(['#', '*', '_', ' ']);
    let lower = t.trim_end().to_ascii_lowercase();
    let bullet = lower.trim_end_matches(['.', ')']);
    lower.is_empty()
        || HEADINGS.iter().any(|(word, _)| word.starts_with(lower.as_str()))
        || ["-", "•", "–", "—"].contains(&lower.as_str())
        || (!bullet.is_empty() && bullet.len() < 3 && bullet.bytes().all(|b| b.is_ascii_digit()))
}

/// A heading line (`TITLE: …`, `## Description`, `**Bullet points:**`) and what follows it.
fn heading(line: &str) -> Option<(Section, &str)> {
    let t = line.trim().trim_start_matches(['#', '*', '_', ' ']);
    let lower = t.to_ascii_lowercase();
    for (word, section) in HEADINGS {
        if !lower.starts_with(word) {
            continue;
        }
        let rest = t[word.len()..].trim_start_matches(['*', '_']);
        // Only a heading if the word stands alone or is followed by a colon.
        let rest = if let Some(after) = rest.strip_prefix(':') {
            after
        } else if rest.trim().is_empty() {
            ""
        } else {
            continue;
        };
        return Some((section, rest.trim().trim_start_matches(['*', '_']).trim()));
    }
    None
}

fn clean_title(s: &str) -> String {
    s.trim().trim_matches(['#', '*', '_', '"', '“', '”']).trim().to_string()
}

/// The text of a bullet line (`- x`, `* x`, `• x`, `1. x`, `2) x`), or None for other lines.
fn strip_bullet(line: &str) -> Option<&str> {
    let t = line.trim_start();
    for marker in ["- ", "* ", "• ", "– ", "— "] {
        if let Some(rest) = t.strip_prefix(marker) {
            return Some(rest.trim());
        }
    }
    let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 && digits < 3 {
        let rest = &t[digits..];
        if let Some(rest) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some(rest.trim());
        }
    }
    None
}

/// Lines grouped into paragraphs at blank lines.
fn paragraphs(lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for l in lines {
        if l.trim().is_empty() {
            if !current.is_empty() {
                out.push(current.join(" "));
                current.clear();
            }
        } else {
            current.push(l.trim());
        }
    }
    if !current.is_empty() {
        out.push(current.join(" "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_requested_format_is_parsed() {
        let raw = "TITLE: TrailLite 2\nDESCRIPTION:\nPitch camp fast.\nSleep dry.\n\nCarry less.\nBULLETS:\n- 1.1 kg\n- Two doors\n";
        let copy = ProductCopy::parse(raw);
        assert_eq!(copy.title, "TrailLite 2");
        assert_eq!(copy.description, "Pitch camp fast. Sleep dry.\n\nCarry less.");
        assert_eq!(copy.bullets, ["1.1 kg", "Two doors"]);
        assert_eq!(copy.paragraphs(), ["Pitch camp fast. Sleep dry.", "Carry less."]);
    }

    #[test]
    fn markdown_headings_and_numbered_bullets_are_understood() {
        let raw = "## Title\n**\"TrailLite 2\"**\n\n## Description\nLight.\n\n**Bullet points:**\n1. Light\n2) Dry\n• Fast";
        let copy = ProductCopy::parse(raw);
        assert_eq!(copy.title, "TrailLite 2");
        assert_eq!(copy.description, "Light.");
        assert_eq!(copy.bullets, ["Light", "Dry", "Fast"]);
    }

    #[test]
    fn bold_inline_labels_work() {
        let copy = ProductCopy::parse("**Title:** Tent\n**Description:** A tent.\n**Bullets:**\n* Dry");
        assert_eq!((copy.title.as_str(), copy.description.as_str()), ("Tent", "A tent."));
        assert_eq!(copy.bullets, ["Dry"]);
    }

    #[test]
    fn text_without_headings_still_gives_a_title() {
        let copy = ProductCopy::parse("\nTrailLite 2\nA tent for two.\n- Light\n- Dry\n");
        assert_eq!(copy.title, "TrailLite 2");
        assert_eq!(copy.description, "A tent for two.");
        assert_eq!(copy.bullets, ["Light", "Dry"]);
    }

    #[test]
    fn words_that_merely_start_like_headings_are_text() {
        let copy = ProductCopy::parse(
            "TITLE: T\nDESCRIPTION:\nDescriptions rarely matter; titles do.\nBULLETS:\n- a",
        );
        assert_eq!(copy.description, "Descriptions rarely matter; titles do.");
    }

    #[test]
    fn bullets_without_markers_are_still_bullets() {
        let copy = ProductCopy::parse("TITLE: T\nBULLETS:\nLight\nDry");
        assert_eq!(copy.bullets, ["Light", "Dry"]);
    }

    #[test]
    fn an_empty_answer_is_empty() {
        assert!(ProductCopy::parse("  \n").is_empty());
    }

    #[test]
    fn plain_text_lists_everything() {
        let copy = ProductCopy { title: "T".into(), description: "D".into(), bullets: vec!["B".into()] };
        assert_eq!(copy.to_text(), "T\n\nD\n\n- B\n");
    }
}
