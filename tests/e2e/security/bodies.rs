//! Oversized and malformed bodies: every POST over its limit is a 413 before anything is
//! read or written; a body that lies about its length, and JSON nested 100,000 deep (signed
//! correctly), get a 4xx or nothing — never a 5xx — and the Worker keeps serving.

use super::{anonymous, assert_hardened, footprint, routes, Body, Fixture};
use crate::support::fakes::stripe::{now, WEBHOOK_SECRET};
use crate::support::fakes::stripe_wire::signature_header;
use crate::support::{Options, Stack, ADMIN_EMAIL};
use crate::trials;
use libtest_mimic::Trial;
use reqwest::cookie::CookieStore;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub fn tests() -> Vec<Trial> {
    trials![
        every_post_over_its_limit_is_a_413_and_writes_nothing,
        a_body_that_lies_about_its_length_never_breaks_the_worker,
        json_nested_100000_deep_is_a_400_even_when_signed_and_the_worker_keeps_serving,
    ]
}

/// Body raw bytes on a fresh connection (optionally half-closing it) and returns what came
/// back within a few seconds: the status line's code and whether the Worker answered (its
/// responses carry X-Request-Id), or None when the connection gave nothing.
async fn raw(s: &Stack, request: Vec<u8>, half_close: bool) -> Option<(u16, bool)> {
    let host = s.url("").trim_start_matches("http://").trim_end_matches('/').to_string();
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    // The peer may refuse the rest of the body and close: a failed write is an answer too.
    let _ = stream.write_all(&request).await;
    if half_close {
        let _ = stream.shutdown().await;
    }
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    let status =
        text.strip_prefix("HTTP/1.1 ").and_then(|rest| rest.get(..3)).and_then(|code| code.parse().ok())?;
    let head = text.split("\r\n\r\n").next().unwrap_or("").to_ascii_lowercase();
    Some((status, head.contains("\r\nx-request-id:")))
}

fn head(s: &Stack, path: &str, content_type: &str, length: u64, cookie: &str) -> Vec<u8> {
    let host = s.url("").trim_start_matches("http://").trim_end_matches('/').to_string();
    format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n\
         Cookie: {cookie}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

fn cookie_of(s: &Stack, jar: &reqwest::cookie::Jar) -> String {
    let url: reqwest::Url = s.url("/").parse().unwrap();
    jar.cookies(&url).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

async fn still_serving(s: &Stack, fx: &Fixture, what: &str) {
    for _ in 0..5 {
        let res = anonymous().get(s.url("/api/health")).send().await.unwrap();
        assert_eq!(res.status(), 200, "after {what}: health");
        let res = fx.user.client.get(s.url("/dashboard")).send().await.unwrap();
        assert_eq!(res.status(), 200, "after {what}: a page with a database round trip");
    }
}

async fn every_post_over_its_limit_is_a_413_and_writes_nothing(s: &'static Stack) {
    let admin = s.sign_in_as(ADMIN_EMAIL).await;
    let mut tried = 0;
    for route in routes().iter().filter(|r| r.is_post() && r.sends != Body::Nothing) {
        let fx = Fixture::new(s, "sec-413").await;
        let path = route.path(&fx);
        let who = if route.pattern.starts_with("/admin/") { &admin } else { &fx.user };
        let before = footprint(s, fx.user.user_id, &fx.user.email).await;
        let what = format!("POST {path} over its limit");
        match route.sends {
            Body::Form => {
                let body =
                    format!("csrf={}&email={}&filler={}", who.csrf, fx.user.email, "x".repeat(64 * 1024));
                let res = who
                    .client
                    .post(s.url(&path))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 413, "{what}");
                assert_hardened(&res, &what);
            }
            Body::Json => {
                let body = format!("{{\"id\":\"evt_big\",\"pad\":\"{}\"}}", "x".repeat(512 * 1024));
                let signature = signature_header(body.as_bytes(), now() as u64, &[WEBHOOK_SECRET]);
                // A client of its own: a refused body breaks the connection it came on, which
                // must not be one that other tests' requests reuse (`s.http` is shared).
                let res = anonymous()
                    .post(s.url(&path))
                    .header("stripe-signature", signature)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 413, "{what}");
                assert_hardened(&res, &what);
            }
            Body::Multipart => {
                // One byte over what an upload may be: refused on its declared length alone.
                let limit = ghosttools::routes::tools::upload::BODY_LIMIT as usize;
                let res = who
                    .client
                    .post(s.url(&path))
                    .header("content-type", "multipart/form-data; boundary=x")
                    .body(vec![b'x'; limit + 1])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 413, "{what}");
                assert_hardened(&res, &what);
            }
            Body::Bytes => {
                // One byte over a part: refused on its declared length alone.
                let limit = ghosttools::domain::episode_parts::PART_BYTES as usize;
                let res = who
                    .client
                    .post(s.url(&path))
                    .header("content-type", "application/octet-stream")
                    .header("x-csrf-token", &who.csrf)
                    .body(vec![b'x'; limit + 1])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 413, "{what}");
                assert_hardened(&res, &what);
            }
            Body::Nothing => unreachable!(),
        }
        assert_eq!(footprint(s, fx.user.user_id, &fx.user.email).await, before, "{what} wrote something");
        tried += 1;
        still_serving(s, &fx, &what).await;
    }
    assert!(tried >= 16, "every POST with a body was tried: {tried}");
}

async fn a_body_that_lies_about_its_length_never_breaks_the_worker(_: &'static Stack) {
    // A Worker of its own: a truncated body breaks the connection `wrangler dev`'s entry proxy
    // holds to the Worker, and another test's POST that proxy sends on it next gets the proxy's
    // "restarted mid-request" 503 (README, Troubleshooting). It made a billing test flaky.
    let own = Stack::start(Options::named("lying-lengths")).await;
    let s = &own;
    let fx = Fixture::new(s, "sec-lying-length").await;
    let cookie = cookie_of(s, &fx.user.jar);
    let form = "application/x-www-form-urlencoded";
    // Longer than it is: the connection ends before the declared length.
    for path in ["/signin", "/account/delete", "/api/stripe/webhook", "/tools/podscribe"] {
        let mut request = head(s, path, form, 1000, &cookie);
        request.extend_from_slice(b"csrf=short");
        // The body never arrives whole: under `wrangler dev` its entry proxy answers 503 ("Your
        // worker restarted mid-request") without the Worker answering at all (the Worker is
        // not restarted: see below); Cloudflare's edge never forwards a truncated body.
        if let Some((status, from_worker)) = raw(s, request, true).await {
            assert!(status < 500 || !from_worker, "{path}: the Worker failed on a short body: {status}");
        }
        still_serving(s, &fx, &format!("a short body to {path}")).await;
    }
    // Shorter than it is: the rest is not part of this request and is never read as one.
    let mut request = head(s, "/account/delete", form, 8, &cookie);
    request.extend_from_slice(format!("csrf=xyz&confirm={}", fx.user.email).as_bytes());
    assert_eq!(raw(s, request, false).await, Some((403, true)), "only the declared 8 bytes are the form");
    still_serving(s, &fx, "a long body").await;
    let live: i64 = s
        .sql()
        .await
        .query_one("SELECT count(*) FROM users WHERE id = $1 AND deleted_at IS NULL", &[&fx.user.user_id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(live, 1, "nothing was deleted");
    assert!(!s.worker.log_text().contains("panicked"), "no panic in the Worker's log");
}

async fn json_nested_100000_deep_is_a_400_even_when_signed_and_the_worker_keeps_serving(s: &'static Stack) {
    let fx = Fixture::new(s, "sec-nested").await;
    let deep = |open: &str, close: &str| format!("{}{}", open.repeat(100_000), close.repeat(100_000));
    for (name, body) in [
        ("arrays", deep("[", "]")),
        ("objects", format!("{}1{}", "{\"a\":".repeat(60_000), "}".repeat(60_000))),
        (
            "an event",
            format!(
                "{{\"id\":\"evt_deep_{}\",\"type\":\"checkout.session.completed\",\"data\":{{\"object\":{}}}}}",
                fx.user.user_id,
                deep("[", "]")
            ),
        ),
    ] {
        let bytes = body.into_bytes();
        let signature = signature_header(&bytes, now() as u64, &[WEBHOOK_SECRET]);
        let res = anonymous()
            .post(s.url("/api/stripe/webhook"))
            .header("stripe-signature", signature)
            .header("content-type", "application/json")
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{name}");
        assert_hardened(&res, name);
        let json: serde_json::Value = res.json().await.unwrap();
        assert_eq!(json["error"]["field"], "body", "{name}: {json}");
        // JSON is not what the forms take.
        for path in ["/api/tools/agentwrite/stream", "/tools/agentwrite", "/signout"] {
            let res = fx
                .user
                .client
                .post(s.url(path))
                .header("content-type", "application/json")
                .body(bytes.clone())
                .send()
                .await
                .unwrap();
            assert!(matches!(res.status().as_u16(), 413 | 415), "{path} {name}: {}", res.status());
            assert_hardened(&res, path);
        }
        still_serving(s, &fx, name).await;
    }
    let recorded: i64 = s
        .sql()
        .await
        .query_one("SELECT count(*) FROM stripe_events WHERE id LIKE 'evt_deep_%'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(recorded, 0, "nothing was recorded");
    assert!(!s.worker.log_text().contains("panicked"), "no panic in the Worker's log");
}
