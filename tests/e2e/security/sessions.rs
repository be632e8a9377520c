//! Session fixation: whatever session cookie a browser carries before sign-in (one an attacker
//! planted — a valid session of the attacker's own account, or garbage), signing in by email
//! link or by Google issues a new session with a new id; the planted token never becomes the
//! victim's session.

use super::assert_hardened;
use crate::support::fakes::google::Account;
use crate::support::session::{now_secs, unique_email, SignedIn};
use crate::support::sign_in::{emailed_token, google_consent, session_cookie_set};
use crate::support::{Stack, SESSION_SECRET};
use crate::trials;
use ghosttools::auth::session::{self, Claims};
use ghosttools::domain::UserId;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        a_session_planted_before_sign_in_is_replaced_at_the_email_link,
        a_session_planted_before_sign_in_is_replaced_at_google_sign_in,
        a_cookie_named_behind_a_raw_non_ascii_space_is_not_the_session,
    ]
}

/// The attacker's own valid session token (what they would plant in a victim's browser).
async fn attackers_token(s: &Stack) -> (SignedIn, String) {
    let attacker = s.sign_in_new("sec-fix-attacker").await;
    let claims = Claims::new(UserId::new(attacker.user_id), 1, attacker.sid.clone(), now_secs());
    let token = session::encode(SESSION_SECRET, &claims).unwrap();
    (attacker, token)
}

fn value_of(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_string()
}

async fn user_id_of(s: &Stack, email: &str) -> i64 {
    s.sql().await.query_one("SELECT id FROM users WHERE email = $1", &[&email]).await.unwrap().get(0)
}

/// The new session of a sign-in answer: a different token, the victim's, with a fresh id.
async fn assert_fresh_session(
    s: &Stack,
    res: &reqwest::Response,
    planted: &str,
    victim: &str,
    attacker_sid: &str,
) -> Claims {
    assert_eq!(res.status(), 303, "signed in");
    assert_hardened(res, "sign-in");
    let set = session_cookie_set(res).expect("sign-in sets a new session cookie");
    let token = value_of(&set);
    assert_ne!(token, planted, "the planted token is not kept");
    let claims = session::decode(SESSION_SECRET, &token, now_secs()).expect("a valid session");
    assert_eq!(
        claims.user_id(),
        Some(UserId::new(user_id_of(s, victim).await)),
        "the session is the victim's"
    );
    assert_ne!(claims.sid, attacker_sid, "a new session id");
    assert!(claims.sid.len() >= 22, "the session id carries at least 128 random bits");
    claims
}

async fn email_of_account_page(client: &reqwest::Client, s: &Stack) -> String {
    let html = client.get(s.url("/account")).send().await.unwrap().text().await.unwrap();
    html
}

async fn a_session_planted_before_sign_in_is_replaced_at_the_email_link(s: &'static Stack) {
    let (attacker, planted) = attackers_token(s).await;
    let victim = unique_email("sec-fix-victim");
    let mut sids = Vec::new();
    for cookie in [format!("gt_session={planted}"), "gt_session=garbage.not.a.token".to_string()] {
        // The victim asked for a link; the attacker planted a cookie in the browser they open it in.
        let token = emailed_token(s, &s.browser(), &victim, None).await;
        let (browser, _jar) = s.client_with_cookie(&cookie);
        let res = crate::support::sign_in::confirm(s, &browser, &token).await;
        let claims = assert_fresh_session(s, &res, &value_of(&cookie), &victim, &attacker.sid).await;
        sids.push(claims.sid.clone());
        // The browser is the victim's now; the attacker's own session is still only theirs.
        assert!(email_of_account_page(&browser, s).await.contains(&victim));
        let theirs = email_of_account_page(&attacker.client, s).await;
        assert!(
            theirs.contains(&attacker.email) && !theirs.contains(&victim),
            "the attacker did not get the victim's account"
        );
        // A form token the attacker knew (bound to the planted session) is worthless now.
        let res = browser
            .post(s.url("/account/signout-everywhere"))
            .form(&[("csrf", attacker.csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "a token of the planted session does not fit the new one");
    }
    assert_ne!(sids[0], sids[1], "every sign-in gets its own session id");
}

async fn a_session_planted_before_sign_in_is_replaced_at_google_sign_in(s: &'static Stack) {
    let (attacker, planted) = attackers_token(s).await;
    let victim = unique_email("sec-fix-google");
    let (browser, _jar) = s.client_with_cookie(&format!("gt_session={planted}"));
    // The sign-in button's form, sent with the token the planted session's pages carry.
    let res =
        browser.post(s.url("/signin/google")).form(&[("csrf", attacker.csrf.as_str())]).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let authorize = res.headers()["location"].to_str().unwrap().to_string();
    let callback = google_consent(s, &authorize, Account::new(&victim)).await;
    let res = browser.get(callback).send().await.unwrap();
    assert_fresh_session(s, &res, &planted, &victim, &attacker.sid).await;
    assert!(email_of_account_page(&browser, s).await.contains(&victim));
    let theirs = email_of_account_page(&attacker.client, s).await;
    assert!(!theirs.contains(&victim), "the attacker did not get the victim's account");
}

/// A sibling subdomain can set a cookie for our host whose name starts with U+0085 or U+00A0
/// (Unicode spaces), raw (bytes 0x85, 0xA0) or UTF-8 encoded. It must not be taken for the
/// session cookie; the same token under the exact name is (so the test can fail).
async fn a_cookie_named_behind_a_raw_non_ascii_space_is_not_the_session(s: &'static Stack) {
    let victim = s.sign_in_new("sec-nbsp").await;
    let token = session::encode(
        SESSION_SECRET,
        &Claims::new(UserId::new(victim.user_id), 1, victim.sid.clone(), now_secs()),
    )
    .unwrap();
    let dashboard = |cookie: Vec<u8>| async move {
        let value =
            reqwest::header::HeaderValue::from_bytes(&cookie).expect("obs-text is a valid header value");
        s.http.get(s.url("/dashboard")).header("cookie", value).send().await.unwrap().status().as_u16()
    };
    assert_eq!(
        dashboard(format!("gt_session={token}").into_bytes()).await,
        200,
        "the exact name is the session"
    );
    // Raw bytes, and the same characters UTF-8 encoded (as a browser sends a name set through
    // `document.cookie`).
    for bytes in [&[0x85u8][..], &[0xA0], &[0xC2, 0x85], &[0xC2, 0xA0]] {
        let mut cookie = bytes.to_vec();
        cookie.extend_from_slice(format!("gt_session={token}").as_bytes());
        assert_eq!(dashboard(cookie.clone()).await, 303, "{bytes:x?} before the name: not the session");
        let mut after_another = b"a=1; ".to_vec();
        after_another.extend_from_slice(&cookie);
        assert_eq!(dashboard(after_another).await, 303, "{bytes:x?} after a separator: not the session");
    }
}
