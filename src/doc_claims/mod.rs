//! The documents say what the code does: one test module per document (README.md, SECURITY.md,
//! docs/operations.md) holds its mechanically checkable claims — make targets and their times,
//! variables, routes, rate limits, files and tests named — to the code. A claim no test here can
//! check carries a `<!-- backed by: … -->` comment in the document naming the test that does.

mod operations;
mod readme;
mod security;

use std::collections::BTreeSet;

/// A file of the repository, as text.
fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn exists(path: &str) -> bool {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path).exists()
}

/// The body rows of the markdown table whose header row is `header`, as trimmed cells.
fn table(doc: &str, header: &str) -> Vec<Vec<String>> {
    let mut lines = doc.lines().skip_while(|l| l.trim() != header);
    assert!(lines.next().is_some(), "no table with the header {header}");
    lines
        .skip(1) // |---|---|
        .take_while(|l| l.starts_with('|'))
        .map(|l| split_row(l.trim()))
        .collect()
}

/// `| a | b \| c |` → ["a", "b \| c"]: an escaped bar stays in its cell.
fn split_row(line: &str) -> Vec<String> {
    let inner = line.trim_start_matches('|').trim_end_matches('|');
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cells.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => cells.push(String::new()),
            c => cells.last_mut().unwrap().push(c),
        }
    }
    cells.into_iter().map(|c| c.trim().to_string()).collect()
}

/// What `code` spans of a text hold, in order.
fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// `NAME_LIKE_THIS`: a variable name. In prose a name needs an underscore (`GET`, `CSP` are not
/// variables); in a table of variables any upper-case name is one.
fn is_var_name(s: &str) -> bool {
    is_upper_name(s) && s.contains('_')
}

/// The variable names a cell of a table of variables holds: `` `A` (or `B`) `` → A, B.
fn names_in(cell: &str) -> Vec<&str> {
    backticked(cell).into_iter().filter(|s| is_upper_name(s)).collect()
}

fn is_upper_name(s: &str) -> bool {
    s.len() > 2 && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Every variable the Worker reads: the names `Config::from_lookup` asks for (all of them are
/// asked when none is set), plus `DATABASE_URL`, which only the migration tool reads.
fn variables() -> BTreeSet<String> {
    let asked = std::cell::RefCell::new(BTreeSet::new());
    crate::config::Config::from_lookup(|name| {
        asked.borrow_mut().insert(name.to_string());
        None
    });
    let mut names = asked.into_inner();
    assert!(include_str!("../bin/migrate.rs").contains("\"DATABASE_URL\""));
    names.insert("DATABASE_URL".to_string());
    names
}

/// The Makefile's targets as `make help` lists them: (target, its help text).
fn make_help() -> Vec<(String, String)> {
    read("Makefile")
        .lines()
        .filter_map(|l| {
            let (target, rest) = l.split_once(':')?;
            let help = rest.split_once("## ")?.1;
            let name_like = !target.is_empty()
                && target.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            name_like.then(|| (target.to_string(), help.to_string()))
        })
        .collect()
}

/// Every `make <target>` a text mentions is a target `make help` lists.
fn assert_make_targets_exist(doc_name: &str, doc: &str) {
    let targets: Vec<String> = make_help().into_iter().map(|(t, _)| t).collect();
    for (at, _) in doc.match_indices("make ") {
        // A command, not English ("make the …"): in code, in a fenced block, after `VAR=…`.
        let line_start = doc[..at].rfind('\n').map_or(0, |i| i + 1);
        let before = doc[line_start..at].trim_end();
        let in_fence = doc[..at].matches("```").count() % 2 == 1;
        let command = before.ends_with('`')
            || in_fence
            || before.split_whitespace().last().is_some_and(|w| w.contains('='));
        if !command {
            continue;
        }
        let target: String = doc[at + 5..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .collect();
        if target.is_empty() || target.starts_with('-') || ["targets", "target"].contains(&target.as_str()) {
            continue;
        }
        assert!(targets.contains(&target), "{doc_name} mentions `make {target}`, which `make help` lacks");
    }
}

/// Approximate durations a text gives: `~8 min`, `about 15 min` → ("8", "min").
fn durations(text: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for marker in ["~", "about "] {
        for (at, _) in text.match_indices(marker) {
            let rest = &text[at + marker.len()..];
            let number: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let unit: String =
                rest[number.len()..].trim_start().chars().take_while(char::is_ascii_alphabetic).collect();
            if !number.is_empty() && ["min", "s", "h"].contains(&unit.as_str()) {
                out.insert((number, unit));
            }
        }
    }
    out
}

/// `/tools/agentwrite/<id>` or `/tools/agentwrite/:id` is a route of `method` (GET includes HEAD).
fn is_route(method: &str, path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = if method == "HEAD" { "GET" } else { method };
    crate::routes::table::ROUTES.iter().any(|r| {
        // A `:name` is filled in by the docs too (`/tools/agentwrite/` names no route).
        let filled = r
            .path
            .trim_matches('/')
            .split('/')
            .zip(&segments)
            .all(|(o, s)| !o.starts_with(':') || !s.is_empty());
        r.method.as_ref() == method && r.matches(&segments) && filled
    })
}

/// `GET /x` and `POST /x` (also `GET`/`HEAD /x`) in a text: (method, path). Paths of other
/// services (`/v1/…`: OpenAI, Stripe, Rewardful) are not ours.
fn method_paths(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for method in ["GET", "POST", "HEAD"] {
        for (at, _) in text.match_indices(method) {
            let before = text[..at].chars().last();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let Some(rest) = text[at + method.len()..].strip_prefix(' ') else { continue };
            if !rest.starts_with('/') || rest.starts_with("/v1/") {
                continue;
            }
            let path: String = rest
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '`' && *c != ')' && *c != ',')
                .collect();
            out.push((method.to_string(), path));
        }
    }
    out
}

#[test]
fn the_helpers_read_tables_durations_and_routes_as_the_documents_write_them() {
    assert_eq!(split_row("| `a` | b \\| c |"), ["`a`", "b | c"]);
    assert_eq!(backticked("x `A_B` y `c`"), ["A_B", "c"]);
    let d = durations("(installs `wrk`; ~8 min; …) about 15 min on two cores, 30 min of CPU");
    assert_eq!(d.into_iter().collect::<Vec<_>>(), [("15".into(), "min".into()), ("8".into(), "min".into())]);
    assert!(is_route("GET", "/tools/agentwrite/<id>"));
    assert!(is_route("HEAD", "/api/health"));
    assert!(!is_route("GET", "/tools/agentwrite/<id>/nope"));
    assert!(!is_route("POST", "/pricing"));
    let found = method_paths("`GET`/`HEAD /api/health` and `POST /signin`, `POST /v1/audio/transcriptions`");
    assert_eq!(found, [("POST".into(), "/signin".into()), ("HEAD".into(), "/api/health".into())]);
    assert!(variables().contains("STRIPE_PRO_PRICE_ID") && variables().contains("SENTRY_DSN"));
}
