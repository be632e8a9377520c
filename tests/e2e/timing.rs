//! `Server-Timing`: every response says how many database connections and round trips, and
//! how many rate limiter calls, it waited for (the benchmark and the dashboard budget read it).

use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        a_public_page_touches_neither_the_database_nor_the_limiter,
        the_signed_in_dashboard_takes_one_connection_and_two_round_trips,
        health_opens_one_connection_for_one_query,
    ]
}

fn metric(res: &reqwest::Response, name: &str) -> String {
    let all = res.headers().get("server-timing").map(|v| v.to_str().unwrap().to_string());
    let all = all.unwrap_or_else(|| panic!("{} has no Server-Timing: {:?}", res.url(), res.headers()));
    let start = all.find(&format!("{name};")).unwrap_or_else(|| panic!("no {name} in {all}"));
    let rest = &all[start..];
    // A metric ends after its quoted description (which holds commas), or at the next comma.
    let end = match rest.find("desc=\"") {
        Some(d) => d + 6 + rest[d + 6..].find('"').expect("closing quote") + 1,
        None => rest.find(", ").unwrap_or(rest.len()),
    };
    rest[..end].to_string()
}

async fn a_public_page_touches_neither_the_database_nor_the_limiter(s: &'static Stack) {
    let res = s.get("/").await;
    assert_eq!(res.status(), 200);
    assert_eq!(metric(&res, "db"), "db;dur=0;desc=\"0 connections, 0 round trips\"");
    assert!(metric(&res, "limiter").contains("desc=\"0 calls"), "{}", metric(&res, "limiter"));
    assert!(metric(&res, "total").starts_with("total;dur="));
}

async fn the_signed_in_dashboard_takes_one_connection_and_two_round_trips(s: &'static Stack) {
    let user = s.sign_in_new("timing").await;
    let res = user.client.get(s.url("/dashboard")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let db = metric(&res, "db");
    // The session check, then balance, plan, ledger and recent work in one statement.
    assert!(db.ends_with("desc=\"1 connection, 2 round trips\""), "{db}");
}

async fn health_opens_one_connection_for_one_query(s: &'static Stack) {
    let res = s.get("/api/health").await;
    assert_eq!(res.status(), 200);
    assert!(metric(&res, "db").ends_with("desc=\"1 connection, 1 round trip\""), "{}", metric(&res, "db"));
}
