//! The site as a whole: legal pages from configuration, flash messages after actions, the
//! dashboard, error pages, and the Rewardful script on every page under the CSP.

use crate::support::billing::{post_form, subscribe};
use crate::support::fakes::{rewardful, stripe};
use crate::support::{Options, Stack};
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        the_terms_and_privacy_pages_name_the_configured_company_and_contact,
        the_legal_pages_fall_back_to_sensible_defaults,
        signing_out_shows_a_flash_message_once,
        a_forged_flash_cookie_shows_nothing,
        the_dashboard_shows_credits_plan_recent_work_and_next_steps,
        every_page_loads_rewardful_by_nonce_and_the_csp_allows_its_host_only,
        without_a_rewardful_id_no_script_is_loaded_and_no_host_allowed,
        each_error_page_has_its_status_heading_and_the_layout,
        the_error_page_route_is_off_unless_configured,
        the_navigation_marks_the_current_page_and_folds_on_phones,
    ]
}

async fn body(s: &Stack, path: &str) -> (u16, String) {
    let res = s.get(path).await;
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn the_terms_and_privacy_pages_name_the_configured_company_and_contact(s: &'static Stack) {
    for path in ["/terms", "/privacy"] {
        let (status, html) = body(s, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(html.contains("GhostTools Test Ltd"), "{path} names COMPANY_NAME");
        assert!(html.contains("mailto:help@ghosttools.test"), "{path} links CONTACT_EMAIL");
        assert!(html.contains(&s.url("")), "{path} names the site");
        assert!(html.contains("© GhostTools Test Ltd"), "{path}: the footer too");
    }
}

async fn the_legal_pages_fall_back_to_sensible_defaults(_: &'static Stack) {
    let stack = Stack::start(Options {
        vars: vec![("COMPANY_NAME", None), ("CONTACT_EMAIL", None)],
        ..Options::named("legal-defaults")
    })
    .await;
    let (status, html) = body(&stack, "/privacy").await;
    assert_eq!(status, 200);
    assert!(html.contains("© GhostTools</p>"), "default company");
    // The test site is http://127.0.0.1: no domain to derive an address from.
    assert!(html.contains("mailto:support@ghosttools.app"));
}

async fn signing_out_shows_a_flash_message_once(s: &'static Stack) {
    let user = s.sign_in_new("flash").await;
    let res = post_form(s, &user, "/signout", &[]).await;
    assert_eq!(res.status(), 303);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_string())
        .collect::<Vec<_>>();
    let flash = cookie
        .iter()
        .find(|c| c.starts_with("gt_flash=") && !c.starts_with("gt_flash=;"))
        .expect("a flash cookie");
    assert!(
        flash.contains("HttpOnly") && flash.contains("SameSite=Lax") && flash.contains("Max-Age=60"),
        "{flash}"
    );
    let first = user.client.get(s.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(first.contains("You are signed out."), "the flash shows on the next page");
    assert!(first.contains("role=\"status\""));
    let second = user.client.get(s.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(!second.contains("You are signed out."), "and only once");
}

async fn a_forged_flash_cookie_shows_nothing(s: &'static Stack) {
    use base64::Engine;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode("e|99999999999|Your account is locked, call us");
    let (client, _) = s.client_with_cookie(&format!("gt_flash={payload}.{}", "00".repeat(32)));
    let html = client.get(s.url("/pricing")).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("account is locked"));
    assert!(!html.contains("class=\"flash"));
}

async fn the_dashboard_shows_credits_plan_recent_work_and_next_steps(s: &'static Stack) {
    let user = s.sign_in_new("dash").await;
    let fresh = crate::support::billing::page(s, &user, "/dashboard").await;
    assert!(fresh.contains("<dd id=\"balance\">0</dd>") && fresh.contains("<dd id=\"plan\">Free</dd>"));
    assert!(fresh.contains("Get credits"), "an empty balance suggests buying credits");
    assert!(fresh.contains("id=\"recent-work-empty\""), "the recent work slot is there, empty");
    subscribe(s, &user, stripe::STARTER).await;
    let html = crate::support::billing::page(s, &user, "/dashboard").await;
    assert!(html.contains("<dd id=\"balance\">100</dd>"), "the Starter allowance");
    assert!(html.contains("<dd id=\"plan\">Starter</dd>"));
    assert!(html.contains("Plan allowance"), "recent credit activity");
    assert!(!html.contains("Get credits"));
}

async fn every_page_loads_rewardful_by_nonce_and_the_csp_allows_its_host_only(s: &'static Stack) {
    let host = s.fakes.rewardful.url();
    let user = s.sign_in_new("rwscript").await;
    for (client, path) in [
        (&s.http, "/"),
        (&s.http, "/pricing"),
        (&s.http, "/no/such/page"),
        (&user.client, "/dashboard"),
        (&user.client, "/refer"),
    ] {
        let res = client.get(s.url(path)).send().await.unwrap();
        let csp = res.headers()["content-security-policy"].to_str().unwrap().to_string();
        let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap().to_string();
        let html = res.text().await.unwrap();
        let tag = format!(
            "<script nonce=\"{nonce}\" async src=\"{host}/rw.js\" data-rewardful=\"{}\"></script>",
            rewardful::PUBLIC_ID
        );
        assert!(html.contains(&tag), "{path}: Rewardful's script by nonce");
        assert!(html.contains("w._rwq=r"), "{path}: Rewardful's queue snippet");
        let script_src = csp.split("script-src ").nth(1).unwrap().split(';').next().unwrap();
        assert!(script_src.ends_with(&host), "{path}: script-src {script_src}");
        let connect = csp.split("connect-src ").nth(1).unwrap().split(';').next().unwrap();
        assert_eq!(connect, format!("'self' {host}"), "{path}");
        assert!(!html.contains(rewardful::API_KEY), "{path}: the API secret never reaches a page");
    }
}

async fn without_a_rewardful_id_no_script_is_loaded_and_no_host_allowed(_: &'static Stack) {
    let stack = Stack::start(Options {
        vars: vec![("NEXT_PUBLIC_REWARDFUL_ID", None)],
        ..Options::named("no-rewardful")
    })
    .await;
    let res = stack.get("/").await;
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("connect-src 'self';"), "{csp}");
    assert!(!csp.contains(&stack.fakes.rewardful.url()));
    let html = res.text().await.unwrap();
    assert!(!html.contains("rw.js") && !html.contains("_rwq"));
}

async fn each_error_page_has_its_status_heading_and_the_layout(s: &'static Stack) {
    for (status, heading) in [
        (404, "Page not found"),
        (429, "Slow down a little"),
        (500, "Something went wrong"),
        (503, "Temporarily unavailable"),
    ] {
        let res = s.get(&format!("/debug/error/{status}")).await;
        assert_eq!(res.status().as_u16(), status);
        if status == 429 {
            assert_eq!(res.headers()["retry-after"], "30");
        }
        let html = res.text().await.unwrap();
        assert!(html.contains(&format!("Error {status}")) && html.contains(heading), "{status}");
        assert!(html.contains("class=\"site-header\"") && html.contains("class=\"site-footer\""), "{status}");
        assert_eq!(
            html.contains("tell us this reference"),
            status >= 500,
            "{status}: request id only for 5xx"
        );
    }
    assert_eq!(s.get("/debug/error/418").await.status(), 400);
}

async fn the_error_page_route_is_off_unless_configured(_: &'static Stack) {
    let stack =
        Stack::start(Options { vars: vec![("DEBUG_ERROR_ROUTE", None)], ..Options::named("no-error-route") })
            .await;
    let res = stack.get("/debug/error/500").await;
    assert_eq!(res.status(), 404);
}

async fn the_navigation_marks_the_current_page_and_folds_on_phones(s: &'static Stack) {
    let (_, html) = body(s, "/pricing").await;
    assert!(html.contains("<a href=\"/pricing\" aria-current=\"page\">Pricing</a>"));
    assert!(html.contains("class=\"nav-toggle") && html.contains("aria-controls=\"nav-links\""));
    assert!(html.contains("aria-expanded=\"false\""));
    let css = s.get("/app.css").await.text().await.unwrap();
    assert!(css.contains("@media (max-width: 860px)") && css.contains("prefers-color-scheme: dark"));
    assert!(css.contains(":focus-visible"));
}
