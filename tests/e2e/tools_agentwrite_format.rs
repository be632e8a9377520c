//! AgentWrite's stream is formatted as it arrives: each piece says which blocks of the copy (the
//! title, paragraphs, bullets) it changed, and markers split across pieces (`TIT` + `LE:`) never
//! show as text, so the page never shows the raw `TITLE:` / `DESCRIPTION:` lines.

use crate::support::tools::{brief, grant, post_form, read_events, unique};
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;
use serde_json::{json, Value};

pub fn tests() -> Vec<Trial> {
    trials![the_stream_is_formatted_as_it_arrives_even_when_markers_split_across_pieces]
}

async fn the_stream_is_formatted_as_it_arrives_even_when_markers_split_across_pieces(s: &'static Stack) {
    let user = s.sign_in_new("aw-format").await;
    grant(s, user.user_id, 1).await;
    // Pieces of three characters: the answer starts `TIT`, `LE:`.
    let name = format!("Formatter fake-chat-chars-{}", unique());
    let res = post_form(s, &user, "/api/tools/agentwrite/stream", &brief(&name)).await;
    assert_eq!(res.status(), 200);
    let events = read_events(res, |e| e.event == "done" || e.event == "error").await;
    let deltas: Vec<&Value> = events.iter().filter(|e| e.event == "delta").map(|e| &e.data).collect();
    assert_eq!(deltas[0]["text"], "TIT", "the marker is split across pieces");
    assert_eq!(deltas[1]["text"], "LE:");
    // The browser's view, rebuilt from the changes as tools.js does, after every piece.
    let mut page: Vec<Value> = Vec::new();
    let mut states = Vec::new();
    for d in &deltas {
        let Some(view) = d.get("view") else { continue };
        page.truncate(view["from"].as_u64().unwrap() as usize);
        page.extend(view["blocks"].as_array().unwrap().iter().cloned());
        states.push(page.clone());
    }
    assert!(states.len() > 20, "the formatted copy grows piece by piece: {}", states.len());
    for state in &states {
        for block in state {
            let text = block[1].as_str().unwrap();
            for marker in ["TIT", "DESC", "BULL"] {
                assert!(!text.contains(marker), "{marker} shown as text: {state:?}");
            }
            assert!(["title", "p", "li"].contains(&block[0].as_str().unwrap()), "{block}");
        }
    }
    let title = format!("{name} — Made for the Trail");
    assert!(states.iter().any(|s| s.len() == 1 && s[0][0] == "title"), "the title shows alone first");
    let done = &events.last().unwrap().data;
    assert_eq!(done["title"], title.as_str());
    // What was shown at the end is what the finished page shows.
    let mut finished = vec![json!(["title", title])];
    finished.extend(done["paragraphs"].as_array().unwrap().iter().map(|p| json!(["p", p])));
    finished.extend(done["bullets"].as_array().unwrap().iter().map(|b| json!(["li", b])));
    assert_eq!(page, finished);
}
