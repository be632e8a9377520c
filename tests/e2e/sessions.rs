//! Sessions: the signed cookie, its expiry and renewal, "sign out everywhere", sign-out with
//! CSRF. (Sign-in flows that create sessions are tested in their own module.)

use crate::support::session::{assert_signed_out, now_secs, SignedIn};
use crate::support::Stack;
use crate::trials;
use base64::Engine;
use ghosttools::auth::session::{Claims, RENEW_AFTER_SECS};
use ghosttools::domain::UserId;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        a_signed_in_user_sees_their_dashboard,
        a_visitor_is_sent_to_sign_in_and_back_to_the_page,
        a_tampered_session_cookie_is_signed_out_and_cleared,
        an_unsigned_alg_none_session_is_signed_out,
        an_expired_session_is_signed_out,
        a_session_signed_with_another_key_is_signed_out,
        signing_out_everywhere_ends_sessions_issued_before,
        an_active_session_is_renewed,
        signing_out_needs_the_forms_csrf_token,
        signing_out_from_another_site_is_refused,
        signing_out_is_post_only,
        signing_out_clears_the_session_cookie,
    ]
}

async fn dashboard_status(user: &SignedIn, s: &Stack) -> u16 {
    user.client.get(s.url("/dashboard")).send().await.unwrap().status().as_u16()
}

async fn a_signed_in_user_sees_their_dashboard(s: &'static Stack) {
    let user = s.sign_in_new("dash").await;
    let res = user.client.get(s.url("/dashboard")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains(&user.email), "dashboard should name the user");
    assert!(html.contains("action=\"/signout\""), "signed-in layout offers sign-out");
}

async fn a_visitor_is_sent_to_sign_in_and_back_to_the_page(s: &'static Stack) {
    let res = s.get("/dashboard").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/signin?next=%2Fdashboard");
}

fn forged_cookie_client(s: &Stack, token: &str) -> reqwest::Client {
    s.client_with_cookie(&format!("gt_session={token}")).0
}

async fn a_tampered_session_cookie_is_signed_out_and_cleared(s: &'static Stack) {
    let user = s.sign_in_new("tamper").await;
    let other = s.sign_in_new("tamper-victim").await;
    // Take a valid token and swap in another user's id without re-signing.
    let claims = Claims::new(UserId::new(user.user_id), 1, "sid".into(), now_secs());
    let token = ghosttools::auth::session::encode(crate::support::SESSION_SECRET, &claims).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut payload: serde_json::Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    payload["sub"] = other.user_id.to_string().into();
    let forged = format!("{}.{}.{}", parts[0], b64.encode(payload.to_string()), parts[2]);
    assert_signed_out(s, &forged_cookie_client(s, &forged), "a forged session").await;
}

async fn an_unsigned_alg_none_session_is_signed_out(s: &'static Stack) {
    let user = s.sign_in_new("algnone").await;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let claims = Claims::new(UserId::new(user.user_id), 1, "sid".into(), now_secs());
    let token = format!("{header}.{}.", b64.encode(serde_json::to_string(&claims).unwrap()));
    assert_signed_out(s, &forged_cookie_client(s, &token), "an unsigned session").await;
}

async fn an_expired_session_is_signed_out(s: &'static Stack) {
    let user = s.sign_in_new("expired").await;
    let mut claims = Claims::new(UserId::new(user.user_id), 1, "sid".into(), now_secs() - 40 * 24 * 3600);
    claims.exp = now_secs() - 1;
    let expired = s.signed_in_with(user.user_id, &user.email, &claims).await;
    assert_signed_out(s, &expired.client, "an expired session").await;
}

async fn a_session_signed_with_another_key_is_signed_out(s: &'static Stack) {
    let user = s.sign_in_new("otherkey").await;
    let claims = Claims::new(UserId::new(user.user_id), 1, "sid".into(), now_secs());
    let token =
        ghosttools::auth::session::encode("a-different-secret-that-is-long-enough!!", &claims).unwrap();
    assert_signed_out(s, &forged_cookie_client(s, &token), "a session signed with another key").await;
}

async fn signing_out_everywhere_ends_sessions_issued_before(s: &'static Stack) {
    let user = s.sign_in_new("everywhere").await;
    assert_eq!(dashboard_status(&user, s).await, 200);
    s.sql()
        .await
        .execute("UPDATE users SET session_version = session_version + 1 WHERE id = $1", &[&user.user_id])
        .await
        .unwrap();
    assert_signed_out(s, &user.client, "a session of the version before").await;
}

async fn an_active_session_is_renewed(s: &'static Stack) {
    let user = s.sign_in_new("renew").await;
    let old =
        Claims::new(UserId::new(user.user_id), 1, "sid-renew".into(), now_secs() - RENEW_AFTER_SECS - 60);
    let client = s.signed_in_with(user.user_id, &user.email, &old).await;
    let res = client.client.get(s.url("/dashboard")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let renewed = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_string())
        .find(|c| c.starts_with("gt_session=") && !c.starts_with("gt_session=;"))
        .expect("a renewed session cookie");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=2592000"] {
        assert!(renewed.contains(attr), "{renewed} lacks {attr}");
    }
    let token = renewed.trim_start_matches("gt_session=").split(';').next().unwrap();
    let claims =
        ghosttools::auth::session::decode(crate::support::SESSION_SECRET, token, now_secs()).unwrap();
    assert_eq!(claims.sid, "sid-renew", "renewal keeps the session");
    assert!(claims.exp > old.exp);
}

async fn signing_out_needs_the_forms_csrf_token(s: &'static Stack) {
    let user = s.sign_in_new("csrf-signout").await;
    for body in ["", "csrf=", "csrf=0000", "csrf=not-hex"] {
        let res = user
            .client
            .post(s.url("/signout"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "body {body:?}");
        assert!(res.headers().get("set-cookie").is_none(), "a refused sign-out changes nothing");
    }
    // Another user's token is not this session's token.
    let other = s.sign_in_new("csrf-other").await;
    let res =
        user.client.post(s.url("/signout")).form(&[("csrf", other.csrf.as_str())]).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(dashboard_status(&user, s).await, 200, "still signed in");
}

async fn signing_out_from_another_site_is_refused(s: &'static Stack) {
    let user = s.sign_in_new("crosssite").await;
    let res = user
        .client
        .post(s.url("/signout"))
        .header("origin", "https://evil.example")
        .form(&[("csrf", user.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = user
        .client
        .post(s.url("/signout"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("csrf", user.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

async fn signing_out_is_post_only(s: &'static Stack) {
    let user = s.sign_in_new("getsignout").await;
    let res = user.client.get(s.url("/signout")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(dashboard_status(&user, s).await, 200);
}

async fn signing_out_clears_the_session_cookie(s: &'static Stack) {
    let user = s.sign_in_new("signout").await;
    let html = user.client.get(s.url("/dashboard")).send().await.unwrap().text().await.unwrap();
    let token = crate::support::session::csrf_in(&html).expect("sign-out form has a csrf field");
    let res = user
        .client
        .post(s.url("/signout"))
        .header("origin", s.url(""))
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/");
    assert_eq!(dashboard_status(&user, s).await, 303, "signed out");
}
