//! The Hyperdrive config behind the `DB` binding, as `wrangler hyperdrive get <id>` prints it:
//! the Cloudflare API's object, `JSON.stringify(config, null, 2)` (wrangler 4.86,
//! `hyperdriveGetCommand`), e.g. `{"id": …, "name": …, "origin": {…}, "caching": {"disabled": true}}`.
//!
//! Hyperdrive caches read queries for 60 s unless the config says `"disabled": true`, and a
//! write does not invalidate them: the session check, "do they have a customer / a plan yet"
//! and every read right after a write would see the past. So `DB` must not cache.

use super::{Problem, Report};
use serde::Deserialize;

#[derive(Deserialize)]
struct Config {
    #[serde(default)]
    caching: Option<Caching>,
}

#[derive(Deserialize)]
struct Caching {
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default)]
    max_age: Option<u64>,
}

/// What the config says about query caching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryCache {
    Disabled,
    /// On; `max_age` when the config sets one (Hyperdrive's default is 60 s).
    Enabled {
        max_age: Option<u64>,
    },
}

/// The caching of the config in wrangler's output (anything printed around the JSON object,
/// such as wrangler's banner, is skipped). No `caching` at all is Hyperdrive's default: on.
pub fn parse_config(stdout: &str) -> Result<QueryCache, String> {
    let not_a_config = "wrangler's output is not a Hyperdrive config";
    let end = stdout.rfind('}').ok_or(not_a_config)?;
    let mut last_error = not_a_config.to_string();
    for (start, _) in stdout[..end].match_indices('{') {
        match serde_json::from_str::<Config>(&stdout[start..=end]) {
            Ok(config) => {
                return Ok(match config.caching {
                    Some(Caching { disabled: Some(true), .. }) => QueryCache::Disabled,
                    Some(Caching { max_age, .. }) => QueryCache::Enabled { max_age },
                    None => QueryCache::Enabled { max_age: None },
                })
            }
            Err(e) => last_error = format!("{not_a_config}: {e}"),
        }
    }
    Err(last_error)
}

/// Refuses a `DB` config that caches queries.
pub fn check_db_caching(id: &str, cache: QueryCache, report: &mut Report) {
    if let QueryCache::Enabled { max_age } = cache {
        let age = max_age.map_or("60 s, Hyperdrive's default".to_string(), |s| format!("{s} s"));
        report.problems.push(Problem {
            what: format!(
                "Hyperdrive {id} (binding DB) caches queries ({age}): sessions, customers, plans \
                 and balances would be read stale after a write"
            ),
            fix: format!("`npx wrangler hyperdrive update {id} --caching-disabled`"),
        });
    }
}
