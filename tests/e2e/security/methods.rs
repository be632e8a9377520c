//! Method confusion: every route answers a method it does not take with 405 and `Allow` (the
//! hidden ones with the 404 of an unknown path), HEAD like GET without a body, OPTIONS with
//! `Allow` and no cross-origin grant; override headers and `_method` fields change nothing.

use super::{assert_hardened, routes, Fixture};
use crate::support::tools::post_form;
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;
use reqwest::Method;

pub fn tests() -> Vec<Trial> {
    trials![
        every_route_answers_other_methods_with_405_and_allow_and_hidden_ones_with_404,
        head_on_every_get_route_answers_like_get_without_a_body,
        options_names_the_allowed_methods_and_grants_no_cross_origin_access,
        method_override_headers_and_fields_are_ignored,
    ]
}

/// What `Allow` must say for a concrete path, from the table.
fn expected_allow(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('?').next().unwrap().trim_matches('/').split('/').collect();
    let fits = |method: &str| {
        routes().iter().any(|r| {
            let own: Vec<&str> = r.pattern.trim_matches('/').split('/').collect();
            !r.access.is_hidden()
                && r.method == method
                && own.len() == segments.len()
                && own.iter().zip(&segments).all(|(p, s)| p.starts_with(':') || p == s)
        })
    };
    let mut methods = Vec::new();
    if fits("GET") {
        methods.extend(["GET", "HEAD"]);
    }
    if fits("POST") {
        methods.push("POST");
    }
    (!methods.is_empty()).then(|| {
        methods.push("OPTIONS");
        methods.join(", ")
    })
}

async fn every_route_answers_other_methods_with_405_and_allow_and_hidden_ones_with_404(s: &'static Stack) {
    let fx = Fixture::new(s, "sec-methods").await;
    let mut tried = 0;
    for route in routes() {
        let path = route.path(&fx);
        let other = if route.method == "GET" { "POST" } else { "GET" };
        let allow = expected_allow(&path);
        // PROPFIND and PURGE are names the runtime's Method type does not know (it used to read
        // them as GET and serve the page).
        for method in ["PUT", "DELETE", "PATCH", "PROPFIND", "PURGE", other] {
            if allow.as_deref().is_some_and(|a| a.split(", ").any(|m| m == method)) {
                continue; // e.g. POST on /signin, which has both
            }
            let what = format!("{method} {path}");
            let res = fx
                .user
                .client
                .request(Method::from_bytes(method.as_bytes()).unwrap(), s.url(&path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("")
                .send()
                .await
                .unwrap();
            assert_hardened(&res, &what);
            if route.access.is_hidden() {
                assert_eq!(res.status(), 404, "{what}: hidden routes are not revealed");
                assert!(res.headers().get("allow").is_none(), "{what}");
            } else {
                assert_eq!(res.status(), 405, "{what}");
                assert_eq!(
                    res.headers().get("allow").map(|v| v.to_str().unwrap()),
                    allow.as_deref(),
                    "{what}"
                );
                let body = res.text().await.unwrap();
                if path.starts_with("/api/") {
                    assert!(body.contains("\"method_not_allowed\""), "{what}: {body}");
                }
            }
            tried += 1;
        }
    }
    assert!(tried > 200, "{tried}");
}

async fn head_on_every_get_route_answers_like_get_without_a_body(s: &'static Stack) {
    let fx = Fixture::new(s, "sec-head").await;
    for route in routes().iter().filter(|r| r.method == "GET") {
        let path = route.path(&fx);
        let get = fx.user.client.get(s.url(&path)).send().await.unwrap();
        let head = fx.user.client.head(s.url(&path)).send().await.unwrap();
        assert_hardened(&head, &format!("HEAD {path}"));
        assert_eq!(head.status(), get.status(), "HEAD {path} answers like GET");
        assert_eq!(head.headers().get("content-type"), get.headers().get("content-type"), "HEAD {path}");
        assert_eq!(head.headers().get("location"), get.headers().get("location"), "HEAD {path}");
        assert!(head.bytes().await.unwrap().is_empty(), "HEAD {path} has no body");
    }
}

async fn options_names_the_allowed_methods_and_grants_no_cross_origin_access(s: &'static Stack) {
    let fx = Fixture::new(s, "sec-options").await;
    for route in routes() {
        let path = route.path(&fx);
        let what = format!("OPTIONS {path}");
        let res = super::anonymous()
            .request(Method::OPTIONS, s.url(&path))
            .header("origin", "https://evil.example")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "x-csrf-token, content-type")
            .send()
            .await
            .unwrap();
        assert_hardened(&res, &what);
        for (name, _) in res.headers() {
            assert!(
                !name.as_str().starts_with("access-control-"),
                "{what}: {name} grants cross-origin access"
            );
        }
        if route.access.is_hidden() {
            assert_eq!(res.status(), 404, "{what}");
        } else {
            assert_eq!(res.status(), 204, "{what}");
            assert_eq!(
                res.headers().get("allow").map(|v| v.to_str().unwrap()),
                expected_allow(&path).as_deref(),
                "{what}"
            );
            assert!(res.bytes().await.unwrap().is_empty(), "{what}");
        }
    }
}

async fn method_override_headers_and_fields_are_ignored(s: &'static Stack) {
    let fx = Fixture::new(s, "sec-override").await;
    let gen = fx.generation.clone();
    let overrides = |req: reqwest::RequestBuilder, to: &str| {
        req.header("x-http-method-override", to).header("x-http-method", to).header("x-method-override", to)
    };
    // A GET that asks to be a POST (or a DELETE) is a GET.
    let res =
        overrides(fx.user.client.get(s.url(&format!("/tools/agentwrite/{gen}/delete?_method=POST"))), "POST")
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), 405, "GET on a POST route stays a GET");
    let res =
        overrides(fx.user.client.get(s.url(&format!("/tools/agentwrite/{gen}?_method=DELETE"))), "DELETE")
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), 200, "a GET shows the item");
    let res =
        overrides(fx.user.client.get(s.url(&format!("/account/delete?confirm={}", fx.user.email))), "POST")
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), 405);
    // A POST with `_method` is a POST: on a GET route it is refused, whatever it carries.
    for path in [format!("/tools/agentwrite/{gen}"), "/account".to_string(), "/dashboard".to_string()] {
        let res = post_form(s, &fx.user, &path, &[("_method", "DELETE".into())]).await;
        assert_eq!(res.status(), 405, "POST {path} with _method=DELETE");
        let res =
            overrides(fx.user.client.post(s.url(&path)).form(&[("csrf", fx.user.csrf.as_str())]), "DELETE")
                .send()
                .await
                .unwrap();
        assert_eq!(res.status(), 405, "POST {path} with override headers");
    }
    let db = s.sql().await;
    let left: i64 = db
        .query_one(
            "SELECT (SELECT count(*) FROM generations WHERE id = $1)
                  + (SELECT count(*) FROM users WHERE id = $2 AND deleted_at IS NULL)",
            &[&gen, &fx.user.user_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 2, "nothing was deleted");
}
