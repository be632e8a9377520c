//! Dates as pages show them.

/// "12 May 2026" (UTC) from Unix seconds; where it is shown, a column header or `date_utc`
/// names the time zone.
pub fn date(secs: i64) -> String {
    crate::domain::calendar::Day::of_unix_secs(secs).long()
}

/// "12 May 2026 (UTC)".
pub fn date_utc(secs: i64) -> String {
    format!("{} (UTC)", date(secs))
}
