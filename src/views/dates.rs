//! Dates as pages show them.

/// "12 May 2026" (UTC) from Unix seconds; where it is shown, a column header or `date_utc`
/// names the time zone.
pub fn date(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0).map(|t| t.format("%-d %B %Y").to_string()).unwrap_or_default()
}

/// "12 May 2026 (UTC)".
pub fn date_utc(secs: i64) -> String {
    format!("{} (UTC)", date(secs))
}
