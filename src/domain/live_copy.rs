//! AgentWrite's answer as it is being written, formatted as it arrives: the text so far is
//! parsed as the finished copy is (`ProductCopy::parse`), into blocks (the title, paragraphs,
//! bullets), and each new piece yields only what changed. An unfinished last line that may still
//! become a heading or a bullet's marker (`TIT` before `LE:` arrives) is held back, so markers
//! split across pieces never show as text.

use super::copy::{may_become_marker, ProductCopy};
use serde::Serialize;

/// One block of the formatted copy: `["title", …]`, `["p", …]` or `["li", …]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Block(pub &'static str, pub String);

/// What changed: the blocks from index `from` on are replaced by `blocks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub from: usize,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Default)]
pub struct LiveCopy {
    text: String,
    shown: Vec<Block>,
}

impl LiveCopy {
    /// Adds a piece of the answer; `Some` when what is shown changes.
    pub fn push(&mut self, piece: &str) -> Option<Change> {
        self.text.push_str(piece);
        let blocks = blocks(&ProductCopy::parse(settled(&self.text)));
        let from = self.shown.iter().zip(&blocks).take_while(|(a, b)| a == b).count();
        if from == self.shown.len() && from == blocks.len() {
            return None;
        }
        let change = Change { from, blocks: blocks[from..].to_vec() };
        self.shown = blocks;
        Some(change)
    }

    /// The blocks shown so far.
    pub fn shown(&self) -> &[Block] {
        &self.shown
    }
}

/// The text without an unfinished last line that may still become a marker.
fn settled(text: &str) -> &str {
    let start = text.rfind('\n').map_or(0, |i| i + 1);
    if may_become_marker(&text[start..]) {
        &text[..start]
    } else {
        text
    }
}

/// The copy as the page shows it: the title, then paragraphs, then bullets.
pub fn blocks(copy: &ProductCopy) -> Vec<Block> {
    let mut out = Vec::new();
    if !copy.title.is_empty() {
        out.push(Block("title", copy.title.clone()));
    }
    out.extend(copy.paragraphs().into_iter().map(|p| Block("p", p.to_string())));
    out.extend(copy.bullets.iter().map(|b| Block("li", b.clone())));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = "TITLE: TrailLite 2\nDESCRIPTION:\nPitch camp fast.\nSleep dry.\n\nCarry less.\nBULLETS:\n- 1.1 kg\n- Two doors\n";

    /// Feeds `pieces`, applying each change as the browser does; answers every state shown.
    fn play(pieces: &[&str]) -> (Vec<Vec<Block>>, LiveCopy) {
        let mut live = LiveCopy::default();
        let mut page: Vec<Block> = Vec::new();
        let mut states = Vec::new();
        for piece in pieces {
            if let Some(change) = live.push(piece) {
                page.truncate(change.from);
                page.extend(change.blocks);
                assert_eq!(page, live.shown(), "the changes rebuild what is shown");
                states.push(page.clone());
            }
        }
        (states, live)
    }

    fn chunks(text: &str, size: usize) -> Vec<String> {
        let chars: Vec<char> = text.chars().collect();
        chars.chunks(size).map(|c| c.iter().collect()).collect()
    }

    #[test]
    fn markers_split_across_pieces_never_show_and_the_end_is_the_finished_copy() {
        for size in 1..=7 {
            let pieces = chunks(ANSWER, size);
            let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
            let (states, live) = play(&pieces);
            for state in &states {
                for Block(_, text) in state {
                    for marker in ["TIT", "DESC", "BULL", "TITLE", "DESCRIPTION", "BULLETS"] {
                        assert!(
                            !text.contains(marker),
                            "{marker} shown as text in {state:?} (pieces of {size})"
                        );
                    }
                    assert_ne!(text, "-", "a bare bullet marker shown (pieces of {size})");
                }
            }
            assert_eq!(live.shown(), blocks(&ProductCopy::parse(ANSWER)), "pieces of {size}");
            assert!(states.len() > 5, "it grows piece by piece (pieces of {size})");
        }
    }

    #[test]
    fn the_title_shows_as_soon_as_its_marker_is_whole() {
        let (states, _) = play(&["TIT", "LE:", " Trail", "Lite"]);
        assert_eq!(states.first().unwrap(), &vec![Block("title", "Trail".into())]);
        assert_eq!(states.last().unwrap(), &vec![Block("title", "TrailLite".into())]);
    }

    #[test]
    fn a_growing_paragraph_replaces_only_itself() {
        let mut live = LiveCopy::default();
        live.push("TITLE: T\nDESCRIPTION:\nPitch camp");
        let change = live.push(" fast.").unwrap();
        assert_eq!(change, Change { from: 1, blocks: vec![Block("p", "Pitch camp fast.".into())] });
        assert_eq!(live.push(""), None, "nothing new, nothing sent");
    }

    #[test]
    fn words_that_start_like_markers_show_once_they_cannot_be_one() {
        let mut live = LiveCopy::default();
        live.push("TITLE: T\nDESCRIPTION:\nDescrip");
        assert_eq!(live.shown(), [Block("title", "T".into())]);
        live.push("tions matter");
        assert_eq!(live.shown()[1], Block("p", "Descriptions matter".into()));
    }
}
