//! Signing in with Google against a local OpenID provider with a real RS256 key: the code flow
//! with PKCE, the signed state cookie, ID token checks, and linking by verified email.

use crate::support::fakes::google::{Account, Tweak, CLIENT_ID, CLIENT_SECRET};
use crate::support::process::free_port;
use crate::support::session::unique_email;
use crate::support::sign_in::*;
use crate::support::{Options, Stack};
use crate::trials;
use base64::Engine;
use libtest_mimic::Trial;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

pub fn tests() -> Vec<Trial> {
    trials![
        a_visitor_signs_in_with_google_and_gets_an_account,
        the_google_flow_uses_pkce_state_and_nonce,
        a_verified_google_email_links_to_the_existing_account,
        a_returning_google_account_signs_into_the_same_user,
        a_wrong_state_is_refused,
        a_callback_without_the_flow_cookie_is_refused,
        a_tampered_flow_cookie_is_refused,
        an_id_token_with_a_wrong_nonce_is_refused,
        an_id_token_for_another_audience_is_refused,
        an_id_token_from_another_issuer_is_refused,
        an_expired_id_token_is_refused,
        an_id_token_signed_with_another_key_is_refused,
        an_unverified_google_email_is_refused,
        a_cancelled_google_sign_in_explains_itself,
        google_sign_in_returns_to_the_requested_page_only_on_this_site,
        the_sign_in_page_lets_only_its_google_form_lead_to_the_provider,
        an_unreachable_provider_hides_the_google_button_quickly_and_starting_explains_itself,
    ]
}

async fn user_count(s: &Stack, email: &str) -> i64 {
    s.sql().await.query_one("SELECT count(*) FROM users WHERE email = $1", &[&email]).await.unwrap().get(0)
}

/// A refused callback: a friendly page, no session, the flow cookie cleared, nobody created.
async fn assert_refused(s: &Stack, res: reqwest::Response, email: &str, status: u16) {
    assert_eq!(res.status(), status);
    assert!(session_cookie_set(&res).is_none(), "no session");
    let cleared =
        res.headers().get_all("set-cookie").iter().any(|c| c.to_str().unwrap().starts_with("gt_oauth=;"));
    assert!(cleared, "the flow cookie is cleared");
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Google sign-in didn&#39;t complete") && html.contains("href=\"/signin\""),
        "{html}"
    );
    assert_eq!(user_count(s, email).await, 0, "nobody was created");
}

async fn refused_with(s: &'static Stack, tweak: Tweak, verified: bool, status: u16) {
    let email = unique_email("g-bad");
    let account = Account { tweak, email_verified: verified, ..Account::new(&email) };
    let browser = s.browser();
    let res = google_sign_in(s, &browser, account).await;
    assert_refused(s, res, &email, status).await;
}

async fn a_visitor_signs_in_with_google_and_gets_an_account(s: &'static Stack) {
    let email = unique_email("g-new");
    let account = Account::new(&email);
    let sub = account.sub.clone();
    let browser = s.browser();
    let res = google_sign_in(s, &browser, account).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/dashboard");
    assert!(session_cookie_set(&res).is_some());
    let html = browser.get(s.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(&email) && html.contains("Linked"), "{html}");
    let row = s
        .sql()
        .await
        .query_one(
            "SELECT u.email_verified_at IS NOT NULL, u.name, o.provider
             FROM users u JOIN oauth_accounts o ON o.user_id = u.id WHERE o.provider_account_id = $1",
            &[&sub],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("Test Person"));
    assert_eq!(row.get::<_, String>(2), "google");
}

async fn the_google_flow_uses_pkce_state_and_nonce(s: &'static Stack) {
    let browser = s.browser();
    let authorize = google_authorize_url(s, &browser, None).await;
    let url = reqwest::Url::parse(&authorize).unwrap();
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert!(authorize.starts_with(&format!("{}/o/oauth2/v2/auth?", s.fakes.google.issuer())));
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["redirect_uri"], s.url("/signin/google/callback"));
    assert_eq!(q["scope"], "openid email profile");
    assert_eq!(q["code_challenge_method"], "S256");
    for k in ["state", "nonce", "code_challenge"] {
        assert!(q[k].len() >= 22, "{k} carries at least 128 bits");
    }
    let email = unique_email("g-pkce");
    let callback = google_consent(s, &authorize, Account::new(&email)).await;
    let res = browser.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let code = reqwest::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let sent = s
        .fakes
        .google
        .token_requests()
        .into_iter()
        .find(|f| f.iter().any(|(k, v)| k == "code" && *v == code))
        .expect("the code was exchanged at the token endpoint");
    let field = |k: &str| sent.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    assert_eq!(field("grant_type"), "authorization_code");
    assert_eq!(field("client_secret"), CLIENT_SECRET);
    assert_eq!(field("redirect_uri"), s.url("/signin/google/callback"));
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier")));
    assert_eq!(challenge, q["code_challenge"], "the verifier matches the S256 challenge");
    // The flow cookie is single use: the same callback again is refused.
    let again = browser.get(&callback).send().await.unwrap();
    assert_eq!(again.status(), 400);
}

async fn a_verified_google_email_links_to_the_existing_account(s: &'static Stack) {
    let existing = s.sign_in_new("g-link").await;
    let browser = s.browser();
    let res = google_sign_in(s, &browser, Account::new(&existing.email)).await;
    assert_eq!(res.status(), 303);
    assert_eq!(user_count(s, &existing.email).await, 1, "no second account");
    let linked: i64 = s
        .sql()
        .await
        .query_one(
            "SELECT count(*) FROM oauth_accounts WHERE user_id = $1 AND provider = 'google'",
            &[&existing.user_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(linked, 1);
    let html = browser.get(s.url("/dashboard")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(&existing.email));
}

async fn a_returning_google_account_signs_into_the_same_user(s: &'static Stack) {
    let email = unique_email("g-return");
    let account = Account::new(&email);
    assert_eq!(google_sign_in(s, &s.browser(), account.clone()).await.status(), 303);
    assert_eq!(google_sign_in(s, &s.browser(), account.clone()).await.status(), 303);
    assert_eq!(user_count(s, &email).await, 1);
    let links: i64 = s
        .sql()
        .await
        .query_one("SELECT count(*) FROM oauth_accounts WHERE provider_account_id = $1", &[&account.sub])
        .await
        .unwrap()
        .get(0);
    assert_eq!(links, 1);
}

async fn a_wrong_state_is_refused(s: &'static Stack) {
    let email = unique_email("g-state");
    let browser = s.browser();
    let authorize = google_authorize_url(s, &browser, None).await;
    let callback = google_consent(s, &authorize, Account::new(&email)).await;
    let mut url = reqwest::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .map(|(k, v)| if k == "state" { (k, "forged-state-value-1234567".to_string()) } else { (k, v) })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let res = browser.get(url).send().await.unwrap();
    assert_refused(s, res, &email, 400).await;
}

async fn a_callback_without_the_flow_cookie_is_refused(s: &'static Stack) {
    // Login CSRF: an attacker's own callback URL opened in the victim's browser.
    let email = unique_email("g-nocookie");
    let attacker = s.browser();
    let authorize = google_authorize_url(s, &attacker, None).await;
    let callback = google_consent(s, &authorize, Account::new(&email)).await;
    let res = s.browser().get(&callback).send().await.unwrap();
    assert_refused(s, res, &email, 400).await;
}

async fn a_tampered_flow_cookie_is_refused(s: &'static Stack) {
    let email = unique_email("g-tamper");
    let browser = s.browser();
    let authorize = google_authorize_url(s, &browser, None).await;
    let callback = google_consent(s, &authorize, Account::new(&email)).await;
    let state = reqwest::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    // A cookie the attacker made up for the same state, without the signing key.
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = b64.encode(
        serde_json::json!({"state": state, "nonce": "n", "verifier": "v", "next": "/", "exp": 4_000_000_000u64})
            .to_string(),
    );
    let (forged, _) = s.client_with_cookie(&format!("gt_oauth={payload}.{}", "ab".repeat(32)));
    let res = forged.get(&callback).send().await.unwrap();
    assert_refused(s, res, &email, 400).await;
}

async fn an_id_token_with_a_wrong_nonce_is_refused(s: &'static Stack) {
    refused_with(s, Tweak::WrongNonce, true, 400).await;
}

async fn an_id_token_for_another_audience_is_refused(s: &'static Stack) {
    refused_with(s, Tweak::WrongAudience, true, 400).await;
}

async fn an_id_token_from_another_issuer_is_refused(s: &'static Stack) {
    refused_with(s, Tweak::WrongIssuer, true, 400).await;
}

async fn an_expired_id_token_is_refused(s: &'static Stack) {
    refused_with(s, Tweak::Expired, true, 400).await;
}

async fn an_id_token_signed_with_another_key_is_refused(s: &'static Stack) {
    refused_with(s, Tweak::OtherKey, true, 400).await;
}

async fn an_unverified_google_email_is_refused(s: &'static Stack) {
    refused_with(s, Tweak::None, false, 403).await;
}

async fn a_cancelled_google_sign_in_explains_itself(s: &'static Stack) {
    let browser = s.browser();
    let authorize = google_authorize_url(s, &browser, None).await;
    let state = reqwest::Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let res = browser
        .get(s.url("/signin/google/callback"))
        .query(&[("error", "access_denied"), ("state", state.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("cancelled"));
}

async fn google_sign_in_returns_to_the_requested_page_only_on_this_site(s: &'static Stack) {
    for (next, lands) in
        [("/account", "/account"), ("https://evil.example/", "/dashboard"), ("//evil.example", "/dashboard")]
    {
        let browser = s.browser();
        let authorize = google_authorize_url(s, &browser, Some(next)).await;
        let callback = google_consent(s, &authorize, Account::new(&unique_email("g-next"))).await;
        let res = browser.get(callback).send().await.unwrap();
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], lands, "next={next}");
    }
}

fn form_action(res: &reqwest::Response) -> String {
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    csp.split(';').map(str::trim).find(|d| d.starts_with("form-action ")).unwrap_or_default().to_string()
}

/// The button is a form whose POST is answered by a 303 to the provider, and browsers apply
/// `form-action` to that redirect: the sign-in page (and only it) allows the provider's origin.
async fn the_sign_in_page_lets_only_its_google_form_lead_to_the_provider(s: &'static Stack) {
    let provider = s.fakes.google.issuer();
    let signin = s.get("/signin").await;
    assert!(form_action(&signin).ends_with(&format!(" {provider}")), "{}", form_action(&signin));
    assert!(signin.text().await.unwrap().contains("Continue with Google"));
    for path in ["/", "/pricing", "/signin/confirm?token=x", "/terms"] {
        let res = s.get(path).await;
        assert!(!form_action(&res).contains(&provider), "{path}: {}", form_action(&res));
    }
}

async fn an_unreachable_provider_hides_the_google_button_quickly_and_starting_explains_itself(
    _: &'static Stack,
) {
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let s = Stack::start(Options {
        vars: vec![("GOOGLE_ISSUER", Some(nobody.clone()))],
        ..Options::named("google-down")
    })
    .await;
    for _ in 0..2 {
        let started = Instant::now();
        let res = s.get("/signin").await;
        assert_eq!(res.status(), 200);
        assert!(!form_action(&res).contains(&nobody), "{}", form_action(&res));
        let html = res.text().await.unwrap();
        assert!(!html.contains("Continue with Google"), "no button that cannot work");
        assert!(html.contains("Email me a sign-in link"), "the emailed link still works");
        assert!(started.elapsed() < Duration::from_secs(6), "bounded: {:?}", started.elapsed());
    }
    // A form from before the outage: a clear answer, not a hang.
    let browser = s.browser();
    let csrf = sign_in_form_csrf(&s, &browser).await;
    let res = browser
        .post(s.url("/signin/google"))
        .header("origin", s.url(""))
        .form(&[("csrf", csrf.as_str()), ("next", "/dashboard")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    // The page asked the provider once, not once per page: the log is written a moment later.
    let logged = Instant::now() + Duration::from_secs(10);
    while !s.worker.log_text().contains("google sign-in hidden") && Instant::now() < logged {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(s.worker.log_text().matches("google sign-in hidden").count(), 1, "asked once a minute");
}
