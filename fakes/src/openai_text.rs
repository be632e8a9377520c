//! What the OpenAI stand-in of `make dev` writes: a product description built from the brief it
//! was sent (product, audience, features, keywords, tone, length), show notes built from the
//! transcript, and plausible spoken lines for any audio. The e2e fake keeps its fixed texts.

/// A description in the format the prompt asks for (`TITLE:` / `DESCRIPTION:` / `BULLETS:`).
pub fn description(system: &str, messages: &str) -> String {
    let field = |name: &str| {
        messages.lines().find_map(|l| l.strip_prefix(name)).map(str::trim).unwrap_or("").to_string()
    };
    let product = Some(field("Product:")).filter(|p| !p.is_empty()).unwrap_or_else(|| "This product".into());
    let audience = Some(field("Audience:")).filter(|a| !a.is_empty()).unwrap_or_else(|| "everyone".into());
    let keywords = field("Keywords to include naturally:");
    let features: Vec<String> = messages
        .lines()
        .skip_while(|l| !l.starts_with("Key features:"))
        .skip(1)
        .map_while(|l| l.strip_prefix("- "))
        .map(|f| f.trim().trim_end_matches('.').to_string())
        .filter(|f| !f.is_empty())
        .collect();
    let tone = between(system, "in a ", " tone").unwrap_or("friendly");
    let words: usize = between(system, "has ", " words").and_then(|w| w.parse().ok()).unwrap_or(120);
    let lower = |s: &str| {
        let mut c = s.chars();
        c.next().map(|f| f.to_lowercase().chain(c).collect::<String>()).unwrap_or_default()
    };
    let who = lower(&audience);
    let mut first = format!("Meet {product}: made for {who}, and written up here in a {tone} voice.");
    for (i, f) in features.iter().enumerate() {
        first.push(' ');
        first.push_str(&match i % 4 {
            0 => format!("{f}, so you spend less time fussing and more time on what matters."),
            1 => format!("{f} — a detail you will notice every day."),
            2 => format!("{f}, because small things add up."),
            _ => format!("And {}: exactly what {who} asked for.", lower(f)),
        });
    }
    if !keywords.is_empty() {
        first.push_str(&format!(" Whether you came looking for {keywords}, {product} has you covered."));
    }
    // Closer to the length asked for, without inventing facts or repeating a sentence.
    let closing = [
        format!("Every detail of {product} was chosen with {who} in mind."),
        "It arrives ready to use, with nothing to assemble and nothing to learn.".to_string(),
        format!("{product} is simple to look after and made to last."),
        "Put it to work today and wonder how you managed without it.".to_string(),
    ];
    let mut second = String::new();
    for sentence in closing {
        if first.split_whitespace().count() + second.split_whitespace().count() + 8 >= words {
            break;
        }
        second.push_str(&sentence);
        second.push(' ');
    }
    let text = format!("{first}\n\n{}", second.trim_end()).trim_end().to_string();
    let mut bullets: Vec<String> = features.iter().take(6).cloned().collect();
    if bullets.len() < 3 {
        bullets.extend(
            [format!("Made for {}", lower(&audience)), "Ready when you are".into(), "Easy to love".into()]
                .into_iter()
                .take(3 - bullets.len()),
        );
    }
    let bullets: String = bullets.iter().map(|b| format!("- {b}\n")).collect();
    format!("TITLE: {product} for {}\nDESCRIPTION:\n{text}\nBULLETS:\n{bullets}", lower(&audience))
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(&text[from..to])
}

/// Show notes in the prompt's format, built from the `[M:SS] text` lines of the transcript.
pub fn show_notes(system: &str, messages: &str) -> String {
    let lines: Vec<(&str, &str)> =
        messages.lines().filter_map(|l| l.strip_prefix('[')).filter_map(|l| l.split_once("] ")).collect();
    let said = |i: usize| lines.get(i).map(|(_, t)| t.trim().trim_end_matches('.')).unwrap_or("");
    let mut out = format!(
        "SUMMARY:\nAn episode of {} lines of conversation. It opens with \"{}\" and ends with \"{}\".\nKEY POINTS:\n",
        lines.len(),
        said(0),
        said(lines.len().saturating_sub(1))
    );
    for i in (0..lines.len()).step_by(lines.len().div_ceil(4).max(1)).take(5) {
        out.push_str(&format!("- {}\n", said(i)));
    }
    if lines.len() < 3 {
        out.push_str("- A short and sweet recording\n- Worth a listen\n");
    }
    if system.contains("CHAPTERS") {
        out.push_str("CHAPTERS:\n");
        for (at, text) in lines.iter().step_by(lines.len().div_ceil(4).max(1)).take(6) {
            let title: String = text.split_whitespace().take(5).collect::<Vec<_>>().join(" ");
            out.push_str(&format!("{at} {title}\n"));
        }
    }
    out
}

/// The `k`-th line (from 1) of a conversation that could be any podcast's.
pub fn spoken_line(k: usize) -> String {
    const LINES: [&str; 8] = [
        "Thanks for having me, it's great to be here.",
        "So tell us how it all started.",
        "Honestly, it began as a side project on weekends.",
        "What surprised you most in the first year?",
        "How much our customers wanted to talk to a real person.",
        "That's a lesson a lot of listeners will recognise.",
        "If you take one thing away, keep it simple.",
        "And that's where we'll leave it for today.",
    ];
    format!(" {}", LINES[(k - 1) % LINES.len()])
}

/// Seconds of a compressed file (MP3, M4A, …) at 128 kbit/s, for a plausible duration.
pub fn compressed_secs(bytes: usize) -> f64 {
    (bytes as f64 * 8.0 / 128_000.0).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_description_is_built_from_the_brief() {
        let system = "Write a product description in English, in a playful tone, for the audience. The description has 60 words.";
        let user = "Product: TrailLite 2\nAudience: Backpackers who count every gram\nKey features:\n- 1.1 kg\n- Two doors\n";
        let text = description(system, user);
        assert!(
            text.starts_with("TITLE: TrailLite 2 for backpackers who count every gram\nDESCRIPTION:\n"),
            "{text}"
        );
        assert!(
            text.contains("1.1 kg, so you")
                && text.contains("Two doors — a detail")
                && text.contains("playful voice"),
            "{text}"
        );
        assert!(
            text.ends_with("BULLETS:\n- 1.1 kg\n- Two doors\n- Made for backpackers who count every gram\n"),
            "{text}"
        );
    }

    #[test]
    fn show_notes_quote_the_transcript_with_chapters_at_its_times() {
        let notes = show_notes("… CHAPTERS …", "[0:00] Welcome to the show.\n[0:10] Thanks for having me.\n");
        assert!(notes.contains("opens with \"Welcome to the show\""), "{notes}");
        assert!(
            notes.contains("CHAPTERS:\n0:00 Welcome to the show.\n0:10 Thanks for having me.\n"),
            "{notes}"
        );
    }
}
