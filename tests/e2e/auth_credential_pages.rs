//! Pages whose URL carries a credential (the sign-in link's confirm page, Google's callback):
//! no third-party script runs on them, and the confirm page names the account it signs in.

use crate::support::session::{csrf_in, unique_email};
use crate::support::sign_in::{emailed_token, sign_in_by_email};
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        no_third_party_script_runs_on_the_confirm_page_whatever_the_links_state,
        no_third_party_script_runs_on_the_google_callback,
        a_forwarded_confirm_link_shows_whose_account_it_signs_in,
        a_link_to_another_account_asks_before_switching_and_spends_nothing_until_then,
        a_link_to_the_account_already_signed_in_asks_nothing,
    ]
}

/// Whether `html` loads the Rewardful script (its loader, or anything from its host).
pub(crate) fn loads_rewardful(s: &Stack, html: &str) -> bool {
    html.contains("data-rewardful") || html.contains("_rwq") || html.contains(&s.fakes.rewardful.url())
}

async fn no_third_party_script_runs_on_the_confirm_page_whatever_the_links_state(s: &'static Stack) {
    let browser = s.browser();
    let signin = browser.get(s.url("/signin")).send().await.unwrap().text().await.unwrap();
    assert!(loads_rewardful(s, &signin), "other pages do load it (so this test can fail)");
    let token = emailed_token(s, &browser, &unique_email("rw-confirm"), None).await;
    for path in [
        format!("/signin/confirm?token={token}"),
        format!("/signin/confirm/?token={token}"),
        format!("//signin/confirm?token={token}"),
        "/signin/confirm?token=not-a-token".to_string(),
    ] {
        let res = browser.get(s.url(&path)).send().await.unwrap();
        let status = res.status().as_u16();
        let html = res.text().await.unwrap();
        assert!(!loads_rewardful(s, &html), "{path} ({status}) must not load a third-party script");
    }
}

async fn no_third_party_script_runs_on_the_google_callback(s: &'static Stack) {
    for path in [
        "/signin/google/callback?code=secret-code&state=abc",
        "/signin/google/callback?error=access_denied&state=abc",
    ] {
        let res = s.browser().get(s.url(path)).send().await.unwrap();
        let status = res.status().as_u16();
        let html = res.text().await.unwrap();
        assert!(html.contains("<html") || html.contains("<!doctype") || html.contains("<!DOCTYPE"), "a page");
        assert!(!loads_rewardful(s, &html), "{path} ({status}) must not load a third-party script");
    }
}

async fn confirm_page(s: &Stack, browser: &reqwest::Client, token: &str) -> String {
    let res = browser.get(s.url(&format!("/signin/confirm?token={token}"))).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

/// The address the account page of `browser` shows (whose session it holds).
async fn account_email(s: &Stack, browser: &reqwest::Client) -> String {
    let html = browser.get(s.url("/account")).send().await.unwrap().text().await.unwrap();
    let at = html.find("<dt>Email</dt><dd>").expect("the account page") + "<dt>Email</dt><dd>".len();
    html[at..].split('<').next().unwrap().to_string()
}

async fn a_forwarded_confirm_link_shows_whose_account_it_signs_in(s: &'static Stack) {
    // The attacker asks for a link to their own account and forwards it.
    let attacker = unique_email("fwd-attacker");
    let token = emailed_token(s, &s.browser(), &attacker, None).await;
    let victims_browser = s.browser();
    let html = confirm_page(s, &victims_browser, &token).await;
    assert!(
        html.contains(&format!(
            "This link signs you in as <strong class=\"link-account\">{attacker}</strong>"
        )),
        "the page names the account the link signs in: {html}"
    );
    assert!(
        html.contains("If that is not your address, don&#39;t continue")
            || html.contains("If that is not your address, don't continue")
    );
}

async fn a_link_to_another_account_asks_before_switching_and_spends_nothing_until_then(s: &'static Stack) {
    let victim = unique_email("switch-victim");
    let browser = sign_in_by_email(s, &victim).await;
    let attacker = unique_email("switch-attacker");
    let token = emailed_token(s, &s.browser(), &attacker, None).await;

    let html = confirm_page(s, &browser, &token).await;
    assert!(html.contains(&format!("You are signed in as <strong>{victim}</strong>")), "{html}");
    assert!(html.contains(&format!("<strong class=\"link-account\">{attacker}</strong>")));
    assert!(html.contains(&format!("Stay signed in as {victim}")));
    // Pressing a plain "sign in" (a form without the page's answer) only asks again.
    let csrf = csrf_in(&html).unwrap();
    let res = browser
        .post(s.url("/signin/confirm"))
        .form(&[("csrf", csrf.as_str()), ("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409, "another account is signed in: the question comes first");
    assert!(res.text().await.unwrap().contains("This link signs in a different account"));
    assert_eq!(account_email(s, &browser).await, victim, "still the victim's own account");
    // The link is not spent: answering "switch" signs in the link's account.
    let res = browser
        .post(s.url("/signin/confirm"))
        .form(&[("csrf", csrf.as_str()), ("token", token.as_str()), ("switch", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "switched on purpose");
    assert_eq!(account_email(s, &browser).await, attacker);
}

async fn a_link_to_the_account_already_signed_in_asks_nothing(s: &'static Stack) {
    let email = unique_email("same-account");
    let browser = sign_in_by_email(s, &email).await;
    let token = emailed_token(s, &s.browser(), &email, None).await;
    let html = confirm_page(s, &browser, &token).await;
    assert!(!html.contains("name=\"switch\""), "no question for the same account");
    let csrf = csrf_in(&html).unwrap();
    let res = browser
        .post(s.url("/signin/confirm"))
        .form(&[("csrf", csrf.as_str()), ("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(account_email(s, &browser).await, email);
}
