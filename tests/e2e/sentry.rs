//! Errors reach Sentry, after the response, without leaking to the user.

use crate::support::{fakes::sentry::PUBLIC_KEY, Stack};
use crate::trials;
use libtest_mimic::Trial;
use serde_json::Value;

pub fn tests() -> Vec<Trial> {
    trials![a_forced_internal_error_is_opaque_to_the_user_and_reaches_sentry]
}

async fn a_forced_internal_error_is_opaque_to_the_user_and_reaches_sentry(s: &'static Stack) {
    let res = s.get("/api/debug/error").await;
    assert_eq!(res.status(), 500);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "internal_error");
    assert_eq!(body["error"]["request_id"], request_id);
    assert!(!body.to_string().contains("forced"), "the cause leaked to the user: {body}");

    let (envelope, event) =
        s.fakes.sentry.event_for_request(&request_id).await.expect("Sentry received no event");
    let auth = envelope.header("x-sentry-auth").unwrap();
    assert!(auth.contains(&format!("sentry_key={PUBLIC_KEY}")), "{auth}");
    assert_eq!(envelope.path, "/api/1/envelope/");
    assert_eq!(event["level"], "error");
    assert_eq!(event["environment"], "test");
    assert!(event["exception"]["values"][0]["value"].as_str().unwrap().contains("forced error"));
    assert_eq!(event["request"]["url"], "/api/debug/error");
}
