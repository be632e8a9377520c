//! Google sign-in in a real browser: a real OpenID provider from npm (`oidc-provider`, set up
//! like Google's by tests/browser/oidc-provider.mjs) and a Worker of its own pointed at it, the
//! journeys of tests/browser/google.test.mjs in headless Chromium, then what they did checked in
//! Postgres: one account per person, the provider linked, nobody made from an unverified address.

use crate::browser::run_journeys;
use crate::support::fakes::google::{CLIENT_ID, CLIENT_SECRET};
use crate::support::process::{free_port, root, tail, work_dir, ChildGuard};
use crate::support::{Options, Stack};
use crate::trials;
use libtest_mimic::Trial;
use std::process::Command;
use std::time::{Duration, Instant};

pub fn tests() -> Vec<Trial> {
    trials![google_sign_in_reaches_the_provider_and_comes_back_in_headless_chromium]
}

/// The provider on `port`, started once the Worker's callback URL is known.
fn start_provider(port: u16, redirect_uri: &str) -> ChildGuard {
    let log = work_dir().join("logs").join("oidc-provider.log");
    let _ = std::fs::remove_file(&log);
    let mut cmd = Command::new("node");
    cmd.current_dir(root()).args([
        "tests/browser/oidc-provider.mjs",
        &port.to_string(),
        redirect_uri,
        CLIENT_ID,
        CLIENT_SECRET,
    ]);
    let mut provider = ChildGuard::spawn("oidc-provider", cmd, &log);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("ready http://") {
        provider.assert_running(&log);
        assert!(Instant::now() < deadline, "oidc-provider did not start:\n{}", tail(&log, 40));
        std::thread::sleep(Duration::from_millis(100));
    }
    provider
}

async fn google_sign_in_reaches_the_provider_and_comes_back_in_headless_chromium(_: &'static Stack) {
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let stack = Stack::start(Options {
        vars: vec![("GOOGLE_ISSUER", Some(issuer.clone()))],
        ..Options::named("google-browser")
    })
    .await;
    let _provider = start_provider(port, &stack.url("/signin/google/callback"));

    // The sign-in page lets its forms lead to the provider; other pages do not.
    let csp = |path: &'static str| {
        let stack = &stack;
        async move {
            let res = stack.get(path).await;
            res.headers()["content-security-policy"].to_str().unwrap().to_string()
        }
    };
    let form_action = |policy: &str| {
        policy
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("form-action "))
            .unwrap_or_default()
            .to_string()
    };
    assert!(form_action(&csp("/signin").await).ends_with(&format!(" {issuer}")), "{}", csp("/signin").await);
    for path in ["/", "/pricing", "/privacy"] {
        assert!(!csp(path).await.contains(&issuer), "{path} does not name the provider");
    }

    let extra = [("GT_OIDC_URL", issuer.clone())];
    let (r, _) =
        run_journeys("tests/browser/google.test.mjs", &stack.url(""), &stack.fakes.smtp, &extra, 4).await;
    // axe-core audited our pages on the way (the sign-in pages, the account, the refusal).
    assert!(r["audits"].as_u64().unwrap_or(0) >= 4, "accessibility audits run: {}", r["audits"]);

    let db = stack.sql().await;
    let accounts = |email: String| {
        let db = &db;
        async move {
            db.query(
                "SELECT u.id, count(a.provider) FROM users u LEFT JOIN oauth_accounts a
                   ON a.user_id = u.id AND a.provider = 'google'
                 WHERE u.email = $1 GROUP BY u.id",
                &[&email],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get::<_, i64>(0), row.get::<_, i64>(1)))
            .collect::<Vec<_>>()
        }
    };
    let email = |key: &str| r[key].as_str().unwrap_or_else(|| panic!("{key} in {r}")).to_string();
    let new_user = accounts(email("new_user")).await;
    assert_eq!(new_user.len(), 1, "one account for the new user, also after returning: {new_user:?}");
    assert_eq!(new_user[0].1, 1, "linked to one Google identity");
    let linked = accounts(email("linked")).await;
    assert_eq!(linked.len(), 1, "Google joined the emailed-link account instead of making a second");
    assert_eq!(linked[0].1, 1, "and linked it");
    assert_eq!(accounts(email("unverified")).await, vec![], "no account from an unverified address");
}
