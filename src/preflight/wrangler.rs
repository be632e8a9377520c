//! `wrangler secret list --format json` prints the Cloudflare API's answer as JSON:
//! `[{"name": "STRIPE_SECRET_KEY", "type": "secret_text"}, …]` (wrangler 4.86,
//! `secretListCommand`: `JSON.stringify(secrets, null, "  ")`). Only the names are of use.

use serde::Deserialize;
use std::collections::BTreeSet;

#[derive(Deserialize)]
struct Listed {
    name: String,
}

/// The secret names in wrangler's output. Anything printed around the JSON array (an update
/// banner, a warning) is skipped.
pub fn parse_secret_list(stdout: &str) -> Result<BTreeSet<String>, String> {
    let end = stdout.rfind(']').ok_or("no JSON list in wrangler's output")?;
    let mut last_error = "no JSON list in wrangler's output".to_string();
    for (start, _) in stdout[..end].match_indices('[') {
        match serde_json::from_str::<Vec<Listed>>(&stdout[start..=end]) {
            Ok(listed) => return Ok(listed.into_iter().map(|s| s.name).collect()),
            Err(e) => last_error = format!("wrangler's output is not a list of secrets: {e}"),
        }
    }
    Err(last_error)
}
