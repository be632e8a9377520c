//! The hardening headers on every route and every error page, `no-store` on private answers,
//! and cookies' flags (over https too).

use super::{anonymous, assert_cookie_flags, assert_hardened, routes, table, Access, Fixture};
use crate::support::session::csrf_in;
use crate::support::sign_in::token_of;
use crate::support::{Options, Stack, ADMIN_EMAIL};
use crate::trials;
use libtest_mimic::Trial;
use std::collections::BTreeMap;

pub fn tests() -> Vec<Trial> {
    trials![
        every_route_of_the_workers_table_is_walked_with_a_request_it_dispatches,
        every_route_carries_the_security_headers_signed_in_or_not,
        every_error_status_carries_the_security_headers_and_its_own_page,
        private_pages_and_downloads_are_never_stored_and_public_pages_start_no_session,
        over_https_every_cookie_is_host_prefixed_and_secure_and_hsts_is_sent,
    ]
}

/// The walk's requests reach the routes they are for: each example is dispatched by the Worker's
/// table to its own route (not to an earlier one that also fits), so no route goes untried.
async fn every_route_of_the_workers_table_is_walked_with_a_request_it_dispatches(_s: &'static Stack) {
    assert_eq!(routes().len(), table::ROUTES.len());
    assert!(routes().len() > 40, "{}", routes().len());
    for (route, own) in routes().iter().zip(table::ROUTES) {
        let example = route.example.split('?').next().unwrap();
        let segments: Vec<&str> = example.trim_matches('/').split('/').collect();
        let (found, _, _) =
            table::find(&own.method, &segments).unwrap_or_else(|| panic!("{example}: no route"));
        assert_eq!((found.method.as_ref(), found.path), (route.method, route.pattern), "{example}");
    }
}

/// One request to `route` as `client`: GETs as they are, POSTs with an empty body of the
/// route's kind (refused before anything happens: no CSRF token, no signature).
async fn send(s: &Stack, client: &reqwest::Client, route: &super::Route, fx: &Fixture) -> reqwest::Response {
    let url = s.url(&route.path(fx));
    let req = match route.method {
        "GET" => client.get(url),
        _ => match route.sends {
            super::Body::Form => client.post(url).form(&[("x", "1")]),
            super::Body::Multipart => {
                client.post(url).multipart(reqwest::multipart::Form::new().text("x", "1"))
            }
            super::Body::Json => client.post(url).header("content-type", "application/json").body("{}"),
            super::Body::Nothing => client.post(url).body(""),
            super::Body::Bytes => {
                client.post(url).header("content-type", "application/octet-stream").body("")
            }
        },
    };
    req.send().await.unwrap()
}

async fn every_route_carries_the_security_headers_signed_in_or_not(s: &'static Stack) {
    let fx = Fixture::new(s, "sec-headers").await;
    let admin = s.sign_in_as(ADMIN_EMAIL).await;
    let anon = anonymous();
    for route in routes() {
        let what = format!("{} {}", route.method, route.pattern);
        let signed_in = if route.access == Access::Operator { &admin.client } else { &fx.user.client };
        for (who, client) in [("anonymous", &anon), ("signed in", signed_in)] {
            let res = send(s, client, route, &fx).await;
            let status = res.status().as_u16();
            assert_hardened(&res, &format!("{what} ({who})"));
            if route.pattern != "/api/debug/error" {
                assert!(status < 500, "{what} ({who}): {status}");
            }
            if route.method == "GET" && route.access.is_signed_in() && route.pattern.starts_with("/api/") {
                // An API (an upload's progress) answers 401, not a redirect; the example's
                // upload is nobody's, so even signed in it is not found.
                let expected = if who == "anonymous" { 401 } else { 404 };
                assert_eq!(status, expected, "{what} ({who})");
            } else if route.method == "GET" && route.access.is_signed_in() {
                if who == "anonymous" {
                    let location = res.headers()["location"].to_str().unwrap().to_string();
                    assert_eq!(status, 303, "{what}: pages ask for sign-in");
                    assert!(location.starts_with("/signin?next=%2F"), "{what}: {location}");
                } else if route.pattern != "/billing/success" {
                    assert_eq!(status, 200, "{what}: the owner sees it");
                }
            }
            if route.needs_csrf() && who == "signed in" {
                assert_eq!(status, 403, "{what}: a form without its token");
            }
        }
    }
}

async fn every_error_status_carries_the_security_headers_and_its_own_page(s: &'static Stack) {
    let fx = Fixture::new(s, "sec-errors").await;
    let anon = anonymous();
    let user = &fx.user.client;
    let huge = "x".repeat(70 * 1024);
    let endless = futures_util::stream::iter(vec![Ok::<_, std::io::Error>("csrf=1")]);
    let cases: Vec<(u16, &str, reqwest::RequestBuilder)> = vec![
        (400, "page", user.get(s.url("/billing/success?session_id=not-a-session"))),
        (400, "api", anon.post(s.url("/api/debug/rate-limit/no-such-policy"))),
        (401, "api", anon.post(s.url("/api/tools/agentwrite/stream")).form(&[("x", "1")])),
        (403, "page", user.post(s.url("/account/delete")).form(&[("csrf", "00")])),
        (404, "page", anon.get(s.url("/no/such/page"))),
        (404, "api", anon.get(s.url("/api/no/such/thing"))),
        (404, "page", anon.get(s.url("/debug/error/404"))),
        (405, "page", anon.delete(s.url("/dashboard"))),
        (405, "api", anon.put(s.url("/api/health"))),
        (
            411,
            "page",
            user.post(s.url("/signout"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(reqwest::Body::wrap_stream(endless)),
        ),
        (
            413,
            "page",
            user.post(s.url("/refer/join")).form(&[("csrf", fx.user.csrf.as_str()), ("first_name", &huge)]),
        ),
        (415, "page", user.post(s.url("/refer/join")).header("content-type", "text/plain").body("csrf=1")),
        (429, "page", anon.get(s.url("/debug/error/429"))),
        (500, "page", anon.get(s.url("/debug/error/500"))),
        (500, "api", anon.get(s.url("/api/debug/error"))),
        (503, "page", anon.get(s.url("/debug/error/503"))),
    ];
    for (status, kind, req) in cases {
        let res = req.send().await.unwrap();
        let what = format!("{} {status}", res.url().path());
        assert_eq!(res.status().as_u16(), status, "{what}");
        assert_hardened(&res, &what);
        if status == 405 {
            assert!(res.headers().contains_key("allow"), "{what}: a 405 names what is allowed");
        }
        let content_type = res.headers()["content-type"].to_str().unwrap().to_string();
        let body = res.text().await.unwrap();
        if kind == "api" {
            assert_eq!(content_type, "application/json", "{what}");
            let json: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert!(json["error"]["code"].is_string(), "{what}: {body}");
        } else {
            assert!(content_type.starts_with("text/html"), "{what}");
            assert!(body.contains("class=\"site-header\""), "{what}: in the site's layout");
        }
        assert!(!body.contains("forced error") && !body.contains("panicked"), "{what}: internals leaked");
    }
}

async fn private_pages_and_downloads_are_never_stored_and_public_pages_start_no_session(s: &'static Stack) {
    let fx = Fixture::new(s, "sec-cache").await;
    for route in routes().iter().filter(|r| r.method == "GET" && r.access.is_signed_in()) {
        let res = fx.user.client.get(s.url(&route.path(&fx))).send().await.unwrap();
        let cache = res.headers()["cache-control"].to_str().unwrap();
        assert!(cache.split(',').any(|d| d.trim() == "no-store"), "{}: {cache}", route.pattern);
        assert!(!cache.contains("public") && !cache.contains("max-age"), "{}: {cache}", route.pattern);
        // A fresh session is not renewed: private pages set no session cookie of their own.
        let cookies: Vec<&str> =
            res.headers().get_all("set-cookie").iter().map(|c| c.to_str().unwrap()).collect();
        assert!(
            !cookies.iter().any(|c| c.starts_with("gt_session=") && !c.starts_with("gt_session=;")),
            "{cookies:?}"
        );
    }
    let anon = anonymous();
    for route in routes().iter().filter(|r| r.method == "GET" && r.access == Access::Public) {
        let res = anon.get(s.url(&route.path(&fx))).send().await.unwrap();
        assert_hardened(&res, route.pattern);
        for cookie in res.headers().get_all("set-cookie") {
            let cookie = cookie.to_str().unwrap();
            assert!(
                !cookie.starts_with("gt_session=") || cookie.starts_with("gt_session=;"),
                "{}: {cookie}",
                route.pattern
            );
        }
    }
}

/// Cookies a browser would keep, sent back by hand: the client talks plain http to the test
/// Worker, where a cookie jar would (rightly) withhold `Secure` cookies.
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn take(&mut self, res: &reqwest::Response, what: &str, seen: &mut Vec<String>) {
        for cookie in res.headers().get_all("set-cookie") {
            let cookie = cookie.to_str().unwrap().to_string();
            assert_cookie_flags(&cookie, true, what);
            let pair = cookie.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_string(), value.to_string());
            }
            seen.push(name.to_string());
        }
    }

    fn header(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }
}

async fn over_https_every_cookie_is_host_prefixed_and_secure_and_hsts_is_sent(_shared: &'static Stack) {
    let mut opts = Options::named("sec-https");
    opts.vars.push(("NEXTAUTH_URL", Some("https://ghosttools.test".into())));
    let s = Stack::start(opts).await;
    let http = anonymous();
    let (mut jar, mut seen) = (Jar::default(), Vec::new());
    let hsts = |res: &reqwest::Response| {
        let v = res.headers()["strict-transport-security"].to_str().unwrap().to_string();
        assert!(v.contains("max-age=63072000") && v.contains("includeSubDomains"), "{v}");
    };
    let res = http.get(s.url("/signin")).send().await.unwrap();
    hsts(&res);
    jar.take(&res, "GET /signin", &mut seen);
    let csrf = csrf_in(&res.text().await.unwrap()).unwrap();
    let email = crate::support::session::unique_email("sec-tls");
    let post = |path: &str, form: Vec<(&'static str, String)>, cookies: String| {
        http.post(s.url(path)).header("cookie", cookies).form(&form).send()
    };
    let res = post("/signin/google", vec![("csrf", csrf.clone())], jar.header()).await.unwrap();
    assert_eq!(res.status(), 303);
    jar.take(&res, "POST /signin/google", &mut seen);
    let res =
        post("/signin", vec![("csrf", csrf.clone()), ("email", email.clone())], jar.header()).await.unwrap();
    assert_eq!(res.status(), 200, "the link is sent");
    jar.take(&res, "POST /signin", &mut seen);
    let mail = loop {
        if let Some(m) = s.fakes.smtp.mails_to(&email).pop() {
            break m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    };
    let link = crate::support::sign_in::link_in(&mail);
    assert!(link.starts_with("https://ghosttools.test/signin/confirm?token="), "{link}");
    let token = token_of(&link);
    let res =
        post("/signin/confirm", vec![("csrf", csrf.clone()), ("token", token)], jar.header()).await.unwrap();
    assert_eq!(res.status(), 303, "signed in");
    hsts(&res);
    jar.take(&res, "POST /signin/confirm", &mut seen);
    assert!(jar.0.contains_key("__Host-gt_session"), "{:?}", jar.0.keys());
    let res = http.get(s.url("/dashboard")).header("cookie", jar.header()).send().await.unwrap();
    assert_eq!(res.status(), 200, "the __Host- session works");
    let session_csrf = csrf_in(&res.text().await.unwrap()).unwrap();
    let res = post("/signout", vec![("csrf", session_csrf)], jar.header()).await.unwrap();
    assert_eq!(res.status(), 303);
    jar.take(&res, "POST /signout", &mut seen);
    let res = http.get(s.url("/")).header("cookie", jar.header()).send().await.unwrap();
    assert_eq!(res.status(), 200);
    hsts(&res);
    jar.take(&res, "GET / with a flash", &mut seen);
    for name in ["__Host-gt_csrf", "__Host-gt_session"] {
        assert!(seen.iter().any(|n| n == name), "{name} was set: {seen:?}");
    }
    assert!(seen.len() >= 5, "the session, csrf, Google flow and flash cookies were all checked: {seen:?}");
    s.shutdown();
}
