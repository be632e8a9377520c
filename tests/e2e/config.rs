//! A missing or invalid setting is a clear 503, never a crash.

use crate::support::{Options, Stack};
use crate::trials;
use libtest_mimic::Trial;
use serde_json::Value;

pub fn tests() -> Vec<Trial> {
    trials![
        a_missing_secret_is_named_by_health_and_the_worker_keeps_serving,
        health_names_every_bad_stripe_and_mail_variable_not_only_the_first_of_each,
    ]
}

async fn a_missing_secret_is_named_by_health_and_the_worker_keeps_serving(_: &'static Stack) {
    let s =
        Stack::start(Options { vars: vec![("NEXTAUTH_SECRET", None)], ..Options::named("no-secret") }).await;
    let res = s.get("/api/health").await;
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["failing"], serde_json::json!(["configuration"]));
    let problems = body["checks"]["configuration"]["problems"].to_string();
    assert!(problems.contains("NEXTAUTH_SECRET"), "{problems}");
    assert_eq!(body["checks"]["database"]["status"], "ok");
    // Pages that need no secret still render, and the Worker is still alive afterwards.
    assert_eq!(s.get("/").await.status(), 200);
    assert_eq!(s.get("/api/health").await.status(), 503);
    assert!(s.worker.log_text().contains("NEXTAUTH_SECRET"), "the log should name the variable");
    // Routes that need the secret (signing in, every form) answer 503, and the Worker lives on.
    assert_eq!(s.get("/signin").await.status(), 503);
    let res = s
        .http
        .post(s.url("/signin"))
        .header("cookie", "gt_csrf=whatever")
        .form(&[("email", "someone@example.test"), ("csrf", "00")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503, "POST /signin without a secret");
    assert!(res.text().await.unwrap().contains("temporarily unavailable"));
    assert_eq!(s.get("/").await.status(), 200);
}

/// An operator fixing a deploy gets the whole list at once: two bad Stripe variables and two bad
/// mail variables are all four named.
async fn health_names_every_bad_stripe_and_mail_variable_not_only_the_first_of_each(_: &'static Stack) {
    let s = Stack::start(Options {
        vars: vec![
            ("STRIPE_SECRET_KEY", Some("pk_test_not_a_secret_key".into())),
            ("STRIPE_PRO_PRICE_ID", Some("prod_not_a_price".into())),
            ("EMAIL_SERVER", Some("http://mail.invalid".into())),
            ("EMAIL_FROM", Some("GhostTools".into())),
        ],
        ..Options::named("bad-groups")
    })
    .await;
    let res = s.get("/api/health").await;
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["failing"], serde_json::json!(["configuration"]), "{body}");
    let problems: Vec<&str> = body["checks"]["configuration"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let named = |var: &str| problems.iter().filter(|p| p.starts_with(&format!("{var}: "))).count();
    for var in ["STRIPE_SECRET_KEY", "STRIPE_PRO_PRICE_ID", "EMAIL_SERVER", "EMAIL_FROM"] {
        assert_eq!(named(var), 1, "{var} in {problems:?}");
    }
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert!(!body.to_string().contains("pk_test_not_a_secret_key"), "values are never shown: {body}");
}
