//! Open redirects: every parameter that can reach a `Location` header (`next` of the sign-in
//! page, the email link and Google; the sign-in redirect of a protected page; checkout's
//! success/cancel and the portal's return URL; signing out) with hostile values never sends a
//! browser to another site, and never splits the header.

use super::{anonymous, assert_hardened};
use crate::support::billing::customer_id;
use crate::support::fakes::google::Account;
use crate::support::fakes::stripe::PACK;
use crate::support::session::unique_email;
use crate::support::sign_in::{confirm, emailed_token, google_consent, sign_in_form_csrf};
use crate::support::tools::post_form;
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        no_return_path_can_send_a_browser_to_another_site,
        checkout_and_portal_return_only_to_this_site_whatever_the_form_says,
        a_protected_page_with_a_hostile_path_asks_for_sign_in_on_this_site,
    ]
}

pub const HOSTILE: &[&str] = &[
    "//evil.example",
    "///evil.example/x",
    "/\\evil.example",
    "\\/evil.example",
    "https://evil.example/",
    "http:evil.example",
    "https:/\\evil.example",
    "%2F%2Fevil.example",
    "/%2F%2Fevil.example",
    "/%5Cevil.example",
    "javascript:alert(document.domain)",
    "data:text/html,<script>alert(1)</script>",
    "/dashboard\r\nSet-Cookie: evil=1",
    "/\r\nLocation: https://evil.example",
    "\t//evil.example",
    " //evil.example",
    "/\u{3000}/evil.example",
];

/// A `Location` that stays on this site: a plain absolute path, nothing a browser could read as
/// another host, no line breaks.
pub fn assert_on_site(res: &reqwest::Response, what: &str) {
    assert_hardened(res, what);
    let Some(location) = res.headers().get("location") else { return };
    let location = location.to_str().unwrap();
    let ok = location.starts_with('/')
        && !location.starts_with("//")
        && !location.contains('\\')
        && !location.chars().any(|c| c.is_control() || c.is_whitespace())
        && !location.to_ascii_lowercase().starts_with("/%2f")
        && !location.to_ascii_lowercase().starts_with("/%5c");
    assert!(ok, "{what}: Location {location:?} may leave the site");
    for cookie in res.headers().get_all("set-cookie") {
        assert!(!cookie.to_str().unwrap().contains("evil"), "{what}: a header was smuggled");
    }
}

async fn no_return_path_can_send_a_browser_to_another_site(s: &'static Stack) {
    let user = s.sign_in_new("sec-redirect").await;
    for next in HOSTILE {
        // A signed-in visitor on the sign-in page is sent on at once.
        let res = user.client.get(s.url("/signin")).query(&[("next", next)]).send().await.unwrap();
        assert_eq!(res.status(), 303, "{next:?}");
        assert_on_site(&res, &format!("GET /signin?next={next:?}"));
        // The emailed link, asked for with that return path.
        let browser = s.browser();
        let token = emailed_token(s, &browser, &unique_email("sec-redirect-link"), Some(next)).await;
        let res = confirm(s, &browser, &token).await;
        assert_eq!(res.status(), 303, "{next:?}");
        assert_on_site(&res, &format!("the email link with next={next:?}"));
        assert_eq!(res.headers()["location"], "/dashboard", "{next:?}");
        // Google, started with that return path.
        let browser = s.browser();
        let csrf = sign_in_form_csrf(s, &browser).await;
        let res = browser
            .post(s.url("/signin/google"))
            .form(&[("csrf", csrf.as_str()), ("next", next)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        let authorize = res.headers()["location"].to_str().unwrap().to_string();
        assert!(
            authorize.starts_with(&s.fakes.google.issuer()),
            "only to the configured provider: {authorize}"
        );
        let callback = google_consent(s, &authorize, Account::new(&unique_email("sec-redirect-g"))).await;
        assert!(callback.starts_with(&s.url("/signin/google/callback?")), "{callback}");
        let res = browser.get(callback).send().await.unwrap();
        assert_on_site(&res, &format!("Google with next={next:?}"));
        assert_eq!(res.headers()["location"], "/dashboard", "{next:?}");
        // Signing out ignores any return path it is given.
        let fresh = s.sign_in_new("sec-redirect-out").await;
        let res = post_form(s, &fresh, "/signout", &[("next", next.to_string())]).await;
        assert_eq!(res.status(), 303);
        assert_on_site(&res, &format!("POST /signout with next={next:?}"));
        assert_eq!(res.headers()["location"], "/");
    }
}

async fn checkout_and_portal_return_only_to_this_site_whatever_the_form_says(s: &'static Stack) {
    let user = s.sign_in_new("sec-redirect-pay").await;
    let hostile = "https://evil.example/phish";
    let fields: Vec<(&str, String)> = vec![
        ("price", PACK.into()),
        ("success_url", hostile.into()),
        ("cancel_url", hostile.into()),
        ("return_url", hostile.into()),
        ("next", hostile.into()),
    ];
    let res = post_form(s, &user, "/billing/checkout", &fields).await;
    assert_eq!(res.status(), 303);
    assert_hardened(&res, "checkout");
    let location = res.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(&s.stripe().url()), "only to Stripe Checkout: {location}");
    let sent = s.stripe().requests(|r| {
        r.method == "POST"
            && r.path == "/v1/checkout/sessions"
            && r.form().iter().any(|(k, v)| k == "metadata[user_id]" && v == &user.user_id.to_string())
    });
    assert_eq!(sent.len(), 1);
    let form = sent[0].form();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(field("success_url"), s.url("/billing/success?session_id={CHECKOUT_SESSION_ID}"));
    assert_eq!(field("cancel_url"), s.url("/pricing?checkout=cancelled"));
    assert!(!sent[0].text().contains("evil"), "nothing of the form's URLs reached Stripe");
    // The portal (the user has a Stripe customer now) returns to our billing page only.
    let res = post_form(s, &user, "/billing/portal", &[("return_url", hostile.into())]).await;
    assert_eq!(res.status(), 303);
    assert!(res.headers()["location"].to_str().unwrap().starts_with(&s.stripe().url()));
    let customer = customer_id(s, user.user_id).await;
    let portal = s.stripe().requests(|r| {
        r.path == "/v1/billing_portal/sessions"
            && r.form().iter().any(|(k, v)| k == "customer" && v == &customer)
    });
    assert_eq!(portal.len(), 1);
    assert!(portal[0].form().contains(&("return_url".to_string(), s.url("/billing"))));
    assert!(!portal[0].text().contains("evil"));
}

async fn a_protected_page_with_a_hostile_path_asks_for_sign_in_on_this_site(s: &'static Stack) {
    let anon = anonymous();
    for path in [
        "/tools/agentwrite/%2F%2Fevil.example",
        "/tools/agentwrite/%0D%0ASet-Cookie:evil=1",
        "/tools/podscribe/x/%5C%5Cevil.example",
        "/dashboard/",
        "//dashboard",
    ] {
        let res = anon.get(s.url(path)).send().await.unwrap();
        assert_on_site(&res, path);
        if res.status() == 303 {
            let location = res.headers()["location"].to_str().unwrap();
            assert!(location.starts_with("/signin?next=%2F"), "{path}: {location}");
        }
    }
}
