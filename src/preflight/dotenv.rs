//! A dotenv file as `wrangler secret bulk FILE` reads it (the `dotenv` package): `KEY=value`
//! lines, optional `export `, `#` comments, values in '…', "…" (with \n escapes) or `…`, an
//! unquoted value ending at ` #`. Stricter than dotenv in one way: a line that is not a
//! variable is an error naming its line, where dotenv would skip it silently.

use std::collections::HashMap;

pub fn parse(text: &str) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map(str::trim_start).unwrap_or(line);
        let bad = || format!("line {}: not KEY=value", i + 1);
        let (key, raw) = line.split_once('=').ok_or_else(bad)?;
        let key = key.trim();
        if key.is_empty()
            || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
        {
            return Err(bad());
        }
        out.insert(
            key.to_string(),
            value(raw.trim()).ok_or_else(|| format!("line {}: unterminated quote", i + 1))?,
        );
    }
    Ok(out)
}

fn value(raw: &str) -> Option<String> {
    let Some(quote) = raw.chars().next().filter(|c| matches!(c, '\'' | '"' | '`')) else {
        // Unquoted: up to an inline comment.
        let end = raw.find(" #").unwrap_or(raw.len());
        return Some(raw[..end].trim_end().to_string());
    };
    let inner = &raw[1..];
    let close = inner.rfind(quote)?;
    let rest = inner[close + 1..].trim();
    if !(rest.is_empty() || rest.starts_with('#')) {
        return None;
    }
    let v = &inner[..close];
    Some(if quote == '"' { v.replace("\\n", "\n").replace("\\r", "\r") } else { v.to_string() })
}
