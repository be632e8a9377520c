//! `/api/health` for external monitors.

use crate::support::{Options, Stack};
use crate::trials;
use libtest_mimic::Trial;
use serde_json::Value;

pub fn tests() -> Vec<Trial> {
    trials![
        health_is_ok_with_the_database_round_trip_and_its_latency,
        health_answers_head_with_the_status_and_no_body,
        health_names_the_database_while_postgres_is_down_and_recovers_without_a_restart,
        health_reports_the_version_make_deploy_stamps_not_the_one_the_build_carries,
    ]
}

async fn health_is_ok_with_the_database_round_trip_and_its_latency(s: &'static Stack) {
    let res = s.get("/api/health").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let text = res.text().await.unwrap();
    assert!(!text.contains(crate::support::SESSION_SECRET));
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], "ok", "{body}");
    assert!(!body["version"].as_str().unwrap().is_empty());
    assert_eq!(body["checks"]["database"]["status"], "ok");
    assert!(body["checks"]["database"]["latency_ms"].is_u64(), "{body}");
    assert_eq!(body["checks"]["schema"]["status"], "ok");
    assert_eq!(body["checks"]["schema"]["applied"], body["checks"]["schema"]["expected"]);
    assert_eq!(body["checks"]["configuration"]["status"], "ok");
    assert_eq!(body["failing"], serde_json::json!([]));
}

/// `make deploy` passes `--var GHOSTTOOLS_VERSION:<commit>` (scripts/deploy.sh, tested in
/// `operations`); a Worker given that var reports it, whatever commit its wasm was built at.
async fn health_reports_the_version_make_deploy_stamps_not_the_one_the_build_carries(s: &'static Stack) {
    let built: Value = s.get("/api/health").await.json().await.unwrap();
    let stamped = Stack::start(Options {
        vars: vec![("GHOSTTOOLS_VERSION", Some("0123456789ab".into()))],
        ..Options::named("stamped-version")
    })
    .await;
    let res = stamped.get("/api/health").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["version"], "0123456789ab", "{body}");
    assert_ne!(built["version"], "0123456789ab", "{built}");
}

async fn health_answers_head_with_the_status_and_no_body(s: &'static Stack) {
    let res = s.http.head(s.url("/api/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert!(res.bytes().await.unwrap().is_empty());
}

async fn health_names_the_database_while_postgres_is_down_and_recovers_without_a_restart(_: &'static Stack) {
    let s = Stack::start(Options { own_cluster: true, ..Options::named("db-down") }).await;
    assert_eq!(s.get("/api/health").await.status(), 200);

    s.cluster.stop();
    let res = s.get("/api/health").await;
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "fail");
    assert_eq!(body["failing"], serde_json::json!(["database"]));
    assert_eq!(body["checks"]["database"]["status"], "fail");
    let text = body.to_string();
    for leak in ["127.0.0.1", "postgres://", "panicked", "Error {"] {
        assert!(!text.contains(leak), "health body leaks {leak}: {text}");
    }
    // The landing page does not need the database and keeps working.
    assert_eq!(s.get("/").await.status(), 200);

    s.cluster.resume();
    let res = s.get("/api/health").await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}
