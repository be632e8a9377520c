//! Sessions that end: sign-out ends the session everywhere its token was copied to, sessions
//! end 90 days after sign-in however often they are renewed, and the account page lists the
//! live sessions with "end this session".

use crate::support::session::{assert_signed_out, csrf_in, now_secs, unique_email, SignedIn};
use crate::support::sign_in::{confirm, emailed_token, session_cookie_set};
use crate::support::Stack;
use crate::trials;
use ghosttools::auth::session::Claims;
use ghosttools::domain::UserId;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        a_copied_session_token_is_refused_after_sign_out,
        a_session_older_than_ninety_days_is_refused_however_often_renewed,
        signing_out_everywhere_ends_every_session_and_its_copies,
        the_account_page_lists_live_sessions_with_browser_and_place,
        ending_a_listed_session_signs_that_browser_out,
        another_users_session_cannot_be_ended,
    ]
}

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

async fn dashboard_status(client: &reqwest::Client, s: &Stack) -> u16 {
    client.get(s.url("/dashboard")).send().await.unwrap().status().as_u16()
}

/// A real sign-in by emailed link in a Firefox-like browser; the browser and its session token.
async fn signed_in_firefox(s: &Stack, email: &str) -> (reqwest::Client, String) {
    let browser = crate::support::client()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .user_agent(FIREFOX)
        .build()
        .unwrap();
    let token = emailed_token(s, &browser, email, None).await;
    let res = confirm(s, &browser, &token).await;
    assert_eq!(res.status(), 303, "signed in");
    let set = session_cookie_set(&res).expect("a session cookie");
    let jwt = set.split(';').next().unwrap().split_once('=').unwrap().1.to_string();
    (browser, jwt)
}

/// What an attacker holds: the token copied out of the victim's cookie, in their own client.
fn copy_of(s: &Stack, jwt: &str) -> reqwest::Client {
    s.client_with_cookie(&format!("gt_session={jwt}")).0
}

async fn post_form(client: &reqwest::Client, s: &Stack, path: &str, page: &str) -> reqwest::Response {
    let html = client.get(s.url(page)).send().await.unwrap().text().await.unwrap();
    let csrf = csrf_in(&html).expect("a form with a csrf field");
    client.post(s.url(path)).form(&[("csrf", csrf.as_str())]).send().await.unwrap()
}

async fn a_copied_session_token_is_refused_after_sign_out(s: &'static Stack) {
    let (browser, jwt) = signed_in_firefox(s, &unique_email("copied")).await;
    let attacker = copy_of(s, &jwt);
    assert_eq!(dashboard_status(&attacker, s).await, 200, "the copy works while the session lives");
    let res = post_form(&browser, s, "/signout", "/dashboard").await;
    assert_eq!(res.status(), 303, "signed out");
    assert_eq!(dashboard_status(&browser, s).await, 303);
    assert_signed_out(s, &attacker, "the copied token after sign-out").await;
}

async fn a_session_older_than_ninety_days_is_refused_however_often_renewed(s: &'static Stack) {
    let user = s.sign_in_new("ninety").await;
    let age = |days: i32| {
        let sid = user.sid.clone();
        async move {
            s.sql()
                .await
                .execute(
                    "UPDATE sessions SET created_at = now() - make_interval(days => $2) WHERE sid = $1",
                    &[&sid, &days],
                )
                .await
                .unwrap();
        }
    };
    // The token itself is fresh (renewed a moment ago); only the sign-in is old.
    age(89).await;
    assert_eq!(dashboard_status(&user.client, s).await, 200, "89 days after sign-in it still counts");
    age(91).await;
    assert_signed_out(s, &user.client, "91 days after sign-in").await;
    // A freshly minted token for the same session does not revive it either.
    let renewed = Claims::new(UserId::new(user.user_id), 1, user.sid.clone(), now_secs());
    let again = s.token_client(user.user_id, &user.email, &renewed);
    assert_signed_out(s, &again.client, "a fresh token for a session that has ended").await;
}

async fn second_session(s: &Stack, user: &SignedIn) -> SignedIn {
    s.sign_in_as(&user.email).await
}

async fn signing_out_everywhere_ends_every_session_and_its_copies(s: &'static Stack) {
    let email = unique_email("everywhere-rows");
    let (browser, jwt) = signed_in_firefox(s, &email).await;
    let (other, other_jwt) = signed_in_firefox(s, &email).await;
    let copies = [copy_of(s, &jwt), copy_of(s, &other_jwt)];
    let res = post_form(&browser, s, "/account/signout-everywhere", "/account").await;
    assert_eq!(res.status(), 303);
    // This browser's cookie was cleared by the answer itself; the others still send theirs.
    assert_eq!(dashboard_status(&browser, s).await, 303, "this browser is signed out");
    for client in [&other, &copies[0], &copies[1]] {
        assert_signed_out(s, client, "every other session and copy has ended").await;
    }
    let user_id: i64 =
        s.sql().await.query_one("SELECT id FROM users WHERE email = $1", &[&email]).await.unwrap().get(0);
    let live: i64 = s
        .sql()
        .await
        .query_one("SELECT count(*) FROM sessions WHERE user_id = $1", &[&user_id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(live, 0, "no session row survives");
}

async fn the_account_page_lists_live_sessions_with_browser_and_place(s: &'static Stack) {
    let email = unique_email("listed");
    let (browser, _) = signed_in_firefox(s, &email).await;
    let other = s.sign_in_as(&email).await;
    // The place comes from Cloudflare's request data, which `wrangler dev` leaves empty: seed
    // one, and a last-seen time the page must show as it is stored.
    let last_seen: String = s
        .sql()
        .await
        .query_one(
            "UPDATE sessions SET place = 'Porto, PT', last_seen_at = now() - interval '3 hours'
             WHERE sid = $1
             RETURNING to_char(last_seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC'",
            &[&other.sid],
        )
        .await
        .unwrap()
        .get(0);
    let html = browser.get(s.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Firefox on Linux"), "the browser is named: {html}");
    assert!(html.contains("(this browser)"), "this browser's session is marked");
    assert!(html.contains("Test browser"), "the other session is listed");
    assert!(
        html.contains("Test browser</strong> · Porto, PT · signed in "),
        "the other session's coarse place is shown: {html}"
    );
    assert!(html.contains(&format!("· last seen {last_seen}")), "when it was last seen: {html}");
    let other_id = session_id(s, &other.sid).await;
    assert!(html.contains(&format!("action=\"/account/sessions/{other_id}/end\"")), "it can be ended");
    assert_eq!(html.matches("End this session").count(), 1, "only the other session has the button");
}

async fn session_id(s: &Stack, sid: &str) -> i64 {
    s.sql().await.query_one("SELECT id FROM sessions WHERE sid = $1", &[&sid]).await.unwrap().get(0)
}

async fn ending_a_listed_session_signs_that_browser_out(s: &'static Stack) {
    let user = s.sign_in_new("end-listed").await;
    let other = second_session(s, &user).await;
    let id = session_id(s, &other.sid).await;
    let path = format!("/account/sessions/{id}/end");
    let res = user.client.post(s.url(&path)).form(&[("csrf", user.csrf.as_str())]).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/account");
    assert_signed_out(s, &other.client, "the ended session").await;
    assert_eq!(dashboard_status(&user.client, s).await, 200, "this session goes on");
    // Without the form's token nothing ends.
    let third = second_session(s, &user).await;
    let id = session_id(s, &third.sid).await;
    let path = format!("/account/sessions/{id}/end");
    let res = user.client.post(s.url(&path)).form(&[("csrf", "0000")]).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(dashboard_status(&third.client, s).await, 200);
}

async fn another_users_session_cannot_be_ended(s: &'static Stack) {
    let victim = s.sign_in_new("end-victim").await;
    let attacker = s.sign_in_new("end-attacker").await;
    let id = session_id(s, &victim.sid).await;
    let path = format!("/account/sessions/{id}/end");
    let res =
        attacker.client.post(s.url(&path)).form(&[("csrf", attacker.csrf.as_str())]).send().await.unwrap();
    assert_eq!(res.status(), 404, "someone else's session is not found");
    assert_eq!(dashboard_status(&victim.client, s).await, 200, "the victim is still signed in");
}
