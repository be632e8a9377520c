//! The return path after sign-in is a path on this site, never another site.

use crate::support::session::unique_email;
use crate::support::sign_in::*;
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        a_protected_page_sends_the_visitor_back_after_the_email_link,
        hostile_return_paths_fall_back_to_the_dashboard,
        a_hostile_return_path_never_leaves_the_site_after_the_email_link,
    ]
}

const HOSTILE: &[&str] = &[
    "https://evil.example/",
    "http://evil.example",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "javascript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "/%2F%2Fevil.example",
];

async fn a_protected_page_sends_the_visitor_back_after_the_email_link(s: &'static Stack) {
    let browser = s.browser();
    let res = browser.get(s.url("/account")).send().await.unwrap();
    assert_eq!(res.headers()["location"], "/signin?next=%2Faccount");
    let form = browser.get(s.url("/signin?next=%2Faccount")).send().await.unwrap().text().await.unwrap();
    assert!(form.contains("name=\"next\" value=\"/account\""), "the form carries the return path");
    let email = unique_email("return");
    let token = emailed_token(s, &browser, &email, Some("/account")).await;
    let res = confirm(s, &browser, &token).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/account");
}

async fn hostile_return_paths_fall_back_to_the_dashboard(s: &'static Stack) {
    let user = s.sign_in_new("redirects").await;
    for next in HOSTILE {
        // A signed-in visitor is sent straight on: the place they are sent must be ours.
        let res = user.client.get(s.url("/signin")).query(&[("next", next)]).send().await.unwrap();
        assert_eq!(res.status(), 303, "{next:?}");
        assert_eq!(res.headers()["location"], "/dashboard", "{next:?}");
        // An anonymous visitor's form carries only a safe path.
        let html = s
            .browser()
            .get(s.url("/signin"))
            .query(&[("next", next)])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("name=\"next\" value=\"/dashboard\""), "{next:?}");
        assert!(!html.contains("evil.example"), "{next:?} must not reach the page");
    }
}

async fn a_hostile_return_path_never_leaves_the_site_after_the_email_link(s: &'static Stack) {
    for next in ["//evil.example/steal", "https://evil.example/", "/\\evil.example"] {
        let browser = s.browser();
        let token = emailed_token(s, &browser, &unique_email("evil-next"), Some(next)).await;
        let res = confirm(s, &browser, &token).await;
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], "/dashboard", "{next:?}");
    }
}
