//! CSRF on every state-changing POST of the route table: without the token, with a forged one,
//! with another browser's, or from another site (Origin / Sec-Fetch-Site) → 403 and nothing
//! written; the same request with its own token from our own page gets through.

use super::{assert_hardened, footprint, routes, Body, Fixture};
use crate::support::fakes::stripe::PACK;
use crate::support::session::csrf_in;
use crate::support::sign_in::emailed_token;
use crate::support::tools::{brief, wav};
use crate::support::{Stack, ADMIN_EMAIL};
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        every_state_changing_post_refuses_a_missing_forged_foreign_or_cross_site_token_and_writes_nothing,
        a_post_without_a_form_refuses_other_sites_by_their_browser_headers,
    ]
}

/// Why a request is refused, its token, and the browser headers it carries.
type Refusal<'a> = (&'a str, Option<&'a str>, Vec<(&'a str, String)>);

/// The sign-in forms are used before there is a session (their token is bound to the
/// pre-session cookie).
fn before_sign_in(pattern: &str) -> bool {
    matches!(pattern, "/signin" | "/signin/confirm" | "/signin/google")
}

/// A browser of its own (cookies kept), counted as its own client address.
fn browser() -> reqwest::Client {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("cf-connecting-ip", format!("198.19.{}.{}", n / 250 % 250, n % 250 + 1).parse().unwrap());
    crate::support::client()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .default_headers(headers)
        .build()
        .unwrap()
}

async fn page_csrf(s: &Stack, client: &reqwest::Client) -> String {
    let html = client.get(s.url("/signin")).send().await.unwrap().text().await.unwrap();
    csrf_in(&html).expect("the sign-in form carries a token")
}

async fn every_state_changing_post_refuses_a_missing_forged_foreign_or_cross_site_token_and_writes_nothing(
    s: &'static Stack,
) {
    let stranger = s.sign_in_new("sec-csrf-stranger").await;
    let admin = s.sign_in_as(ADMIN_EMAIL).await;
    let mut checked = 0;
    for route in routes().iter().filter(|r| r.needs_csrf()) {
        let fx = Fixture::new(s, "sec-csrf").await;
        let path = route.path(&fx);
        let anonymous = before_sign_in(route.pattern);
        // The browser that submits, its own valid token, and a valid token of another browser.
        let (client, own, foreign) = if anonymous {
            let (mine, theirs) = (browser(), browser());
            let own = page_csrf(s, &mine).await;
            (mine, own, page_csrf(s, &theirs).await)
        } else if route.pattern.starts_with("/admin/") {
            (admin.client.clone(), admin.csrf.clone(), stranger.csrf.clone())
        } else {
            (fx.user.client.clone(), fx.user.csrf.clone(), stranger.csrf.clone())
        };
        let link = if route.pattern == "/signin/confirm" {
            emailed_token(s, &browser(), &fx.user.email, None).await
        } else {
            String::new()
        };
        let fields: Vec<(&str, String)> = match route.pattern {
            "/refer/join" => vec![("first_name", "Ada".into()), ("last_name", "Lovelace".into())],
            "/admin/grant" => vec![
                ("email", fx.user.email.clone()),
                ("amount", "5".into()),
                ("reason", "csrf test".into()),
                ("reference", format!("csrf-test-reference-{}", fx.user.user_id)),
            ],
            "/admin/users/:id/deduct" => vec![
                ("amount", "1".into()),
                ("reason", "csrf test".into()),
                ("reference", format!("csrf-test-reference-{}", fx.user.user_id)),
            ],
            "/admin/users/:id/suspend" => vec![("reason", "csrf test".into())],
            "/account/delete" => vec![("confirm", fx.user.email.clone())],
            "/signin" => vec![("email", fx.user.email.clone())],
            "/signin/confirm" => vec![("token", link.clone())],
            "/billing/checkout" => vec![("price", PACK.into())],
            "/tools/agentwrite" | "/api/tools/agentwrite/stream" => brief("CSRF tent"),
            _ => vec![],
        };
        let request = |token: Option<&str>, headers: &[(&str, String)]| {
            let mut req = client.post(s.url(&path));
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            match route.sends {
                // A part of an upload: raw bytes, the token in its header.
                Body::Bytes => {
                    let req = req.header("content-type", "application/octet-stream");
                    let req = match token {
                        Some(t) => req.header("x-csrf-token", t),
                        None => req,
                    };
                    req.body(vec![0u8; 16])
                }
                Body::Multipart => {
                    let part = reqwest::multipart::Part::bytes(wav(2))
                        .file_name("e.wav")
                        .mime_str("audio/wav")
                        .unwrap();
                    let mut form = reqwest::multipart::Form::new().part("file", part);
                    if let Some(t) = token {
                        form = form.text("csrf", t.to_string());
                    }
                    req.multipart(form)
                }
                _ => {
                    let mut all = fields.clone();
                    if let Some(t) = token {
                        all.push(("csrf", t.to_string()));
                    }
                    req.form(&all)
                }
            }
        };
        let before = footprint(s, fx.user.user_id, &fx.user.email).await;
        let ours = s.url("");
        let forged = "00".repeat(32);
        let refusals: Vec<Refusal> = vec![
            ("no token", None, vec![]),
            ("a forged token", Some(forged.as_str()), vec![]),
            ("a token of another browser", Some(foreign.as_str()), vec![]),
            ("another site's Origin", Some(own.as_str()), vec![("origin", "https://evil.example".into())]),
            ("Origin: null", Some(own.as_str()), vec![("origin", "null".into())]),
            ("a cross-site fetch", Some(own.as_str()), vec![("sec-fetch-site", "cross-site".into())]),
            (
                "a same-site (sibling host) fetch",
                Some(own.as_str()),
                vec![("sec-fetch-site", "same-site".into())],
            ),
        ];
        for (why, token, headers) in refusals {
            let what = format!("POST {path} with {why}");
            let res = request(token, &headers).send().await.unwrap();
            assert_eq!(res.status(), 403, "{what}");
            assert_hardened(&res, &what);
            for cookie in res.headers().get_all("set-cookie") {
                let cookie = cookie.to_str().unwrap();
                assert!(
                    !(cookie.starts_with("gt_session=") || cookie.starts_with("gt_oauth"))
                        || cookie.contains("=;"),
                    "{what} set {cookie}"
                );
            }
            assert!(res.headers().get("location").is_none(), "{what}");
            assert_eq!(footprint(s, fx.user.user_id, &fx.user.email).await, before, "{what} wrote something");
        }
        // The same request from our own page with its own token gets past the check.
        let what = format!("POST {path} with its own token");
        let res = request(
            Some(&own),
            &[("origin", ours.trim_end_matches('/').to_string()), ("sec-fetch-site", "same-origin".into())],
        )
        .send()
        .await
        .unwrap();
        assert_ne!(res.status(), 403, "{what}: {}", res.text().await.unwrap_or_default());
        checked += 1;
    }
    assert!(checked >= 15, "every form route was tried: {checked}");
}

/// The POSTs that carry no form: Stripe's webhook (its signature is the check, tested in
/// billing_webhook.rs) and the debug limiter check, which spends the caller's own quota and so
/// must not be spent by another site for a signed-in visitor.
async fn a_post_without_a_form_refuses_other_sites_by_their_browser_headers(s: &'static Stack) {
    let user = s.sign_in_new("sec-csrf-noform").await;
    let formless: Vec<_> = routes().iter().filter(|r| r.is_post() && !r.needs_csrf()).collect();
    assert_eq!(formless.len(), 2, "a new POST without a form needs a decision here");
    let path = "/api/debug/rate-limit/ai_generation";
    for (name, value) in
        [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site"), ("origin", "null")]
    {
        let res = user.client.post(s.url(path)).header(name, value).send().await.unwrap();
        assert_eq!(res.status(), 403, "{name}: {value}");
        assert_hardened(&res, path);
    }
    let res = user.client.post(s.url(path)).header("sec-fetch-site", "same-origin").send().await.unwrap();
    assert_eq!(res.status(), 200, "our own page may");
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["decision"]["remaining"], 19, "only the one same-origin call was counted: {json}");
}
