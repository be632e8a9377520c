//! What one request spent on its database connection and on the rate limiter, reported in a
//! `Server-Timing` header (browser devtools show it; `make bench` reads the round trips from it):
//!
//! ```text
//! Server-Timing: db;dur=4;desc="1 connection, 2 round trips", limiter;dur=0;desc="0 calls", total;dur=5
//! ```
//!
//! A round trip is one exchange with the database: a statement sent and answered
//! (`query_typed` sends parse, bind and execute together), or several sent together without
//! waiting (a pipeline, a transaction's `BEGIN` with its first statement, joined reads; see
//! `db`); opening the connection is counted apart. Limiter
//! calls are those the request waited for; reports sent after the response are "in background".
//! Durations come from the runtime's clock, which advances only across I/O: whole
//! milliseconds, and CPU time shows up in none of them but `total`.
//!
//! Off in production unless `SERVER_TIMING=true`: the figures describe server-side work (e.g.
//! one query more when an account exists), which an attacker could use as an oracle.

use std::cell::Cell;

#[derive(Debug, Default)]
pub struct Timing {
    started_ms: u64,
    db_connections: Cell<u32>,
    db_round_trips: Cell<u32>,
    db_ms: Cell<u64>,
    limiter_calls: Cell<u32>,
    limiter_background: Cell<u32>,
    limiter_ms: Cell<u64>,
}

impl Timing {
    pub fn new(started_ms: u64) -> Timing {
        Timing { started_ms, ..Timing::default() }
    }

    /// A connection opened (or attempted) in `ms`.
    pub fn db_connected(&self, ms: u64) {
        self.db_connections.set(self.db_connections.get() + 1);
        self.add_db_ms(ms);
    }

    /// Statements sent and answered on the request's connection (counted by `Db`), and time
    /// spent waiting for them or for closing.
    pub fn db_used(&self, round_trips: u32, ms: u64) {
        self.db_round_trips.set(self.db_round_trips.get() + round_trips);
        self.add_db_ms(ms);
    }

    fn add_db_ms(&self, ms: u64) {
        self.db_ms.set(self.db_ms.get() + ms);
    }

    /// A call to the rate limiter the request waited for.
    pub fn limiter_called(&self, ms: u64) {
        self.limiter_calls.set(self.limiter_calls.get() + 1);
        self.limiter_ms.set(self.limiter_ms.get() + ms);
    }

    /// A report to the rate limiter sent after the response (not waited for).
    pub fn limiter_reported_in_background(&self) {
        self.limiter_background.set(self.limiter_background.get() + 1);
    }

    pub fn db_round_trips(&self) -> u32 {
        self.db_round_trips.get()
    }

    /// The header's value at `now_ms`.
    pub fn header(&self, now_ms: u64) -> String {
        let plural = |n: u32, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut limiter = plural(self.limiter_calls.get(), "call", "calls");
        if self.limiter_background.get() > 0 {
            limiter.push_str(&format!(", {} in background", self.limiter_background.get()));
        }
        format!(
            "db;dur={};desc=\"{}, {}\", limiter;dur={};desc=\"{limiter}\", total;dur={}",
            self.db_ms.get(),
            plural(self.db_connections.get(), "connection", "connections"),
            plural(self.db_round_trips.get(), "round trip", "round trips"),
            self.limiter_ms.get(),
            now_ms.saturating_sub(self.started_ms),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_without_io_says_so() {
        let t = Timing::new(1000);
        assert_eq!(
            t.header(1003),
            "db;dur=0;desc=\"0 connections, 0 round trips\", limiter;dur=0;desc=\"0 calls\", total;dur=3"
        );
    }

    #[test]
    fn connections_round_trips_and_limiter_calls_add_up() {
        let t = Timing::new(0);
        t.db_connected(2);
        t.db_used(1, 1);
        t.db_used(1, 3);
        t.limiter_called(1);
        t.limiter_reported_in_background();
        assert_eq!(t.db_round_trips(), 2);
        assert_eq!(
            t.header(9),
            "db;dur=6;desc=\"1 connection, 2 round trips\", limiter;dur=1;desc=\"1 call, 1 in background\", total;dur=9"
        );
    }
}
