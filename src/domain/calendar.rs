//! Days and times of day in UTC from Unix time, as pages, mail, file names and Sentry show them.
//! A few lines of civil-calendar arithmetic instead of chrono, whose formatting machinery
//! weighed ~12 KiB of the Worker's gzip (BENCHMARKS.md); the tests hold every form to chrono's
//! output over centuries of instants.

const SECS_PER_DAY: i64 = 86_400;
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A day of the proleptic Gregorian calendar, counted from 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day(i64);

impl Day {
    pub fn of_unix_secs(secs: i64) -> Day {
        Day(secs.div_euclid(SECS_PER_DAY))
    }

    pub fn of_unix_ms(ms: i64) -> Day {
        Day::of_unix_secs(ms.div_euclid(1000))
    }

    /// The day `days` before this one.
    pub fn before(self, days: i64) -> Day {
        Day(self.0 - days)
    }

    /// (year, month 1–12, day 1–31): the civil calendar from a day count (the well-known
    /// era-of-400-years method: every 400 years have the same 146,097 days, and counting the
    /// year from March puts the leap day last).
    pub fn ymd(self) -> (i64, u32, u32) {
        let z = self.0 + 719_468; // days from 0000-03-01
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097); // [0, 146096]
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365], from March
        let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
        (yoe + era * 400 + i64::from(month <= 2), month, day)
    }

    /// `2026-12-04`.
    pub fn iso(self) -> String {
        let (y, m, d) = self.ymd();
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// `4 December 2026`.
    pub fn long(self) -> String {
        let (y, m, d) = self.ymd();
        format!("{d} {} {y}", MONTHS[m as usize - 1])
    }
}

/// `14:05` from Unix milliseconds.
fn hh_mm(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(SECS_PER_DAY);
    format!("{:02}:{:02}", secs / 3600, secs / 60 % 60)
}

/// `2025-01-31 14:05 UTC`.
pub fn minute_utc(ms: i64) -> String {
    format!("{} {} UTC", Day::of_unix_ms(ms).iso(), hh_mm(ms))
}

/// `14:05 UTC`.
pub fn clock_utc(ms: i64) -> String {
    format!("{} UTC", hh_mm(ms))
}

/// `2025-01-31T14:05:09.042Z` (RFC 3339 with milliseconds, as Sentry takes it).
pub fn rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(SECS_PER_DAY);
    format!("{}T{}:{:02}.{:03}Z", Day::of_unix_ms(ms).iso(), hh_mm(ms), secs % 60, ms.rem_euclid(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Instants from 1900 to 2400, a prime number of seconds apart, and the edges that matter:
    /// the epoch, leap days, centuries, year ends, negative times.
    fn instants() -> impl Iterator<Item = i64> {
        let edges = [
            0,
            -1,
            -86_400_000,
            951_782_400_000,    // 2000-02-29
            4_107_456_000_000,  // 2100-02-28
            4_107_542_400_000,  // 2100-03-01
            1_798_761_599_999,  // 2026-12-31T23:59:59.999
            1_798_761_600_000,  // 2027-01-01
            -2_208_988_800_000, // 1900-01-01
        ];
        let step = 7_919_993_i64 * 1013; // ~93 days, never a whole number of days
        let range = (-2_208_988_800_000..13_569_465_600_000).step_by(step as usize);
        edges.into_iter().chain(range)
    }

    #[test]
    fn every_form_is_what_chrono_says() {
        for ms in instants() {
            let t = chrono::DateTime::from_timestamp_millis(ms).unwrap();
            let day = Day::of_unix_ms(ms);
            assert_eq!(day.iso(), t.format("%Y-%m-%d").to_string(), "{ms}");
            assert_eq!(day.long(), t.format("%-d %B %Y").to_string(), "{ms}");
            assert_eq!(minute_utc(ms), t.format("%Y-%m-%d %H:%M UTC").to_string(), "{ms}");
            assert_eq!(clock_utc(ms), t.format("%H:%M UTC").to_string(), "{ms}");
            assert_eq!(rfc3339_ms(ms), t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true), "{ms}");
            assert_eq!(Day::of_unix_secs(ms.div_euclid(1000)), day);
        }
    }

    #[test]
    fn days_before_cross_months_years_and_leap_days() {
        let day = |ms| Day::of_unix_ms(ms);
        assert_eq!(day(951_782_400_000).before(0).iso(), "2000-02-29");
        assert_eq!(day(951_868_800_000).before(1).iso(), "2000-02-29");
        assert_eq!(day(1_798_761_600_000).before(1).long(), "31 December 2026");
        assert_eq!(day(1_798_761_600_000).before(365).iso(), "2026-01-01");
        for ms in instants() {
            let t = chrono::DateTime::from_timestamp_millis(ms).unwrap().date_naive();
            let back = t.checked_sub_days(chrono::Days::new(29)).unwrap();
            assert_eq!(day(ms).before(29).iso(), back.format("%Y-%m-%d").to_string());
        }
    }
}
