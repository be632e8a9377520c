//! The account page: what it shows, unlinking Google, signing out everywhere, and deleting the
//! account.

use crate::support::billing::{customer_id, subscribe};
use crate::support::fakes::google::Account;
use crate::support::fakes::stripe::{Fault, PRO};
use crate::support::session::{csrf_in, stored_email, unique_email};
use crate::support::sign_in::*;
use crate::support::Stack;
use crate::trials;
use ghosttools::db::credits::Reason;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        the_account_page_shows_the_address_and_the_google_link,
        the_account_page_needs_a_signed_in_user,
        unlinking_google_needs_the_forms_token_and_leaves_the_email_link_to_sign_in,
        signing_out_everywhere_ends_every_session_of_the_user,
        a_deletion_needs_the_address_typed_exactly,
        deleting_the_account_removes_personal_data_ends_sessions_and_keeps_the_ledger,
        deleting_a_subscribers_account_deletes_the_stripe_customer_so_the_plan_is_never_charged_again,
        a_deletion_stripe_cannot_confirm_erases_nothing_and_can_be_tried_again,
    ]
}

async fn page_csrf(client: &reqwest::Client, s: &Stack) -> String {
    let html = client.get(s.url("/account")).send().await.unwrap().text().await.unwrap();
    csrf_in(&html).expect("account forms carry csrf")
}

async fn status(client: &reqwest::Client, s: &Stack, path: &str) -> u16 {
    client.get(s.url(path)).send().await.unwrap().status().as_u16()
}

async fn the_account_page_shows_the_address_and_the_google_link(s: &'static Stack) {
    let user = s.sign_in_new("acct-page").await;
    let html = user.client.get(s.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(&user.email));
    assert!(html.contains("Not linked"));
    for action in
        ["action=\"/signout\"", "action=\"/account/signout-everywhere\"", "action=\"/account/delete\""]
    {
        assert!(html.contains(action), "{action}");
    }
    let browser = s.browser();
    assert_eq!(google_sign_in(s, &browser, Account::new(&user.email)).await.status(), 303);
    let html = browser.get(s.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(&format!("Linked ({})", user.email)), "{html}");
}

async fn the_account_page_needs_a_signed_in_user(s: &'static Stack) {
    let res = s.get("/account").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/signin?next=%2Faccount");
}

async fn linked_google(s: &Stack, user_id: i64) -> i64 {
    let sql = "SELECT count(*) FROM oauth_accounts WHERE user_id = $1 AND provider = 'google'";
    s.sql().await.query_one(sql, &[&user_id]).await.unwrap().get(0)
}

async fn unlinking_google_needs_the_forms_token_and_leaves_the_email_link_to_sign_in(s: &'static Stack) {
    let user = s.sign_in_new("unlink-google").await;
    assert_eq!(google_sign_in(s, &s.browser(), Account::new(&user.email)).await.status(), 303);
    assert_eq!(linked_google(s, user.user_id).await, 1);
    let html = user.client.get(s.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("action=\"/account/google/unlink\""), "{html}");

    // A form posted from another site (no token, or a made-up one) unlinks nothing.
    for form in [vec![], vec![("csrf", "forged")]] {
        let res = user.client.post(s.url("/account/google/unlink")).form(&form).send().await.unwrap();
        assert_eq!(res.status(), 403, "{form:?}");
    }
    assert_eq!(linked_google(s, user.user_id).await, 1);

    let csrf = page_csrf(&user.client, s).await;
    let res = user
        .client
        .post(s.url("/account/google/unlink"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/account");
    assert_eq!(linked_google(s, user.user_id).await, 0);
    let html = user.client.get(s.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Google is unlinked") && html.contains("Not linked"), "{html}");
    assert!(!html.contains("action=\"/account/google/unlink\""));

    // The email link still signs in to the same account.
    let again = sign_in_by_email(s, &user.email).await;
    assert_eq!(status(&again, s, "/dashboard").await, 200);
    assert_eq!(stored_email(s, user.user_id).await.as_deref(), Some(user.email.as_str()));
}

async fn signing_out_everywhere_ends_every_session_of_the_user(s: &'static Stack) {
    let email = unique_email("everywhere-form");
    let laptop = sign_in_by_email(s, &email).await;
    let phone = sign_in_by_email(s, &email).await;
    let bystander = s.sign_in_new("bystander").await;
    assert_eq!((status(&laptop, s, "/dashboard").await, status(&phone, s, "/dashboard").await), (200, 200));
    let csrf = page_csrf(&laptop, s).await;
    let res = laptop
        .post(s.url("/account/signout-everywhere"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(status(&laptop, s, "/dashboard").await, 303, "this session ended");
    assert_eq!(status(&phone, s, "/dashboard").await, 303, "the other session ended too");
    assert_eq!(status(&bystander.client, s, "/dashboard").await, 200, "other users are untouched");
    // Signing in again works.
    let again = sign_in_by_email(s, &email).await;
    assert_eq!(status(&again, s, "/dashboard").await, 200);
}

async fn a_deletion_needs_the_address_typed_exactly(s: &'static Stack) {
    let user = s.sign_in_new("delete-typo").await;
    let csrf = page_csrf(&user.client, s).await;
    for typed in ["", "DELETE", "someone.else@example.test"] {
        let res = user
            .client
            .post(s.url("/account/delete"))
            .form(&[("csrf", csrf.as_str()), ("confirm", typed)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{typed:?}");
        assert!(res.text().await.unwrap().contains("not your account&#39;s email address"));
    }
    assert_eq!(status(&user.client, s, "/dashboard").await, 200, "still there");
}

async fn deleting_the_account_removes_personal_data_ends_sessions_and_keeps_the_ledger(s: &'static Stack) {
    let email = unique_email("delete-me");
    let browser = sign_in_by_email(s, &email).await;
    let other_session = sign_in_by_email(s, &email).await;
    assert_eq!(google_sign_in(s, &s.browser(), Account::new(&email)).await.status(), 303);
    let sql = s.sql().await;
    let user_id: i64 =
        sql.query_one("SELECT id FROM users WHERE email = $1", &[&email]).await.unwrap().get(0);
    sql.execute("UPDATE users SET name = 'Ada Lovelace' WHERE id = $1", &[&user_id]).await.unwrap();
    sql.query_one(
        ghosttools::db::credits::GRANT_SQL,
        &[&user_id, &50i64, &Reason::AdminGrant, &format!("delete-test-{user_id}"), &None::<String>],
    )
    .await
    .unwrap();
    // A pending link for the address, which must go too.
    let _ = emailed_token(s, &s.browser(), &email, None).await;

    let csrf = page_csrf(&browser, s).await;
    let res = browser
        .post(s.url("/account/delete"))
        .form(&[("csrf", csrf.as_str()), ("confirm", email.to_uppercase().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Your account was deleted"));

    let row = sql
        .query_one(
            "SELECT email, name, email_verified_at IS NULL, deleted_at IS NOT NULL, session_version FROM users WHERE id = $1",
            &[&user_id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<String>>(0), None, "email removed");
    assert_eq!(row.get::<_, Option<String>>(1), None, "name removed");
    assert!(row.get::<_, bool>(2) && row.get::<_, bool>(3));
    assert!(row.get::<_, i32>(4) > 1, "session version bumped");
    let count = |q: &'static str| {
        let sql = &sql;
        let email = email.clone();
        async move { sql.query_one(q, &[&user_id, &email]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(count("SELECT count(*) FROM oauth_accounts WHERE user_id = $1 OR email = $2").await, 0);
    assert_eq!(count("SELECT count(*) FROM email_sign_in_tokens WHERE $1::int8 > 0 AND email = $2").await, 0);
    assert_eq!(
        count("SELECT count(*) FROM credit_ledger WHERE user_id = $1 AND $2 <> ''").await,
        1,
        "the ledger keeps its rows under the user id"
    );
    assert_eq!(status(&browser, s, "/dashboard").await, 303, "signed out");
    assert_eq!(status(&other_session, s, "/dashboard").await, 303, "every session ended");
    // The address is free: signing in again makes a new, empty account.
    let again = sign_in_by_email(s, &email).await;
    assert_eq!(status(&again, s, "/dashboard").await, 200);
    let new_id: i64 = sql.query_one("SELECT id FROM users WHERE email = $1", &[&email]).await.unwrap().get(0);
    assert_ne!(new_id, user_id);
}

/// Deletes the user's account as the account page does (the address typed to confirm).
pub async fn delete_account(s: &Stack, user: &crate::support::session::SignedIn) -> reqwest::Response {
    let csrf = page_csrf(&user.client, s).await;
    user.client
        .post(s.url("/account/delete"))
        .form(&[("csrf", csrf.as_str()), ("confirm", user.email.as_str())])
        .send()
        .await
        .unwrap()
}

fn customer_deletions(s: &Stack, customer: &str) -> usize {
    let path = format!("/v1/customers/{customer}");
    s.stripe().requests(|r| r.method == "DELETE" && r.path == path).len()
}

async fn deleting_a_subscribers_account_deletes_the_stripe_customer_so_the_plan_is_never_charged_again(
    s: &'static Stack,
) {
    let user = s.sign_in_new("delete-subscriber").await;
    let subscription = subscribe(s, &user, PRO).await;
    let customer = customer_id(s, user.user_id).await;
    assert_eq!(s.stripe().subscription(&subscription)["status"], "active");

    let res = delete_account(s, &user).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Your account was deleted"));
    assert_eq!(customer_deletions(s, &customer), 1, "the Stripe customer was deleted");
    assert_eq!(s.stripe().subscription(&subscription)["status"], "canceled", "no further charges");
    assert_eq!(stored_email(s, user.user_id).await, None, "the account was anonymized");
}

async fn a_deletion_stripe_cannot_confirm_erases_nothing_and_can_be_tried_again(s: &'static Stack) {
    let user = s.sign_in_new("delete-stripe-down").await;
    let subscription = subscribe(s, &user, PRO).await;
    let customer = customer_id(s, user.user_id).await;
    // Every attempt of the first deletion fails (the first try and its retries).
    let tries = ghosttools::clients::stripe::MAX_RETRIES + 1;
    s.stripe().add_fault(Fault::new("DELETE", format!("/v1/customers/{customer}"), 500).times(tries));

    let res = delete_account(s, &user).await;
    assert_eq!(res.status(), 502, "Stripe failed, as on every other page that needs it");
    assert!(res.text().await.unwrap().contains("nothing was deleted"));
    assert_eq!(status(&user.client, s, "/dashboard").await, 200, "still signed in, still there");
    assert_eq!(stored_email(s, user.user_id).await.as_deref(), Some(user.email.as_str()), "not anonymized");
    assert_eq!(s.stripe().subscription(&subscription)["status"], "active");

    assert_eq!(delete_account(s, &user).await.status(), 200, "Stripe answers again");
    assert_eq!(s.stripe().subscription(&subscription)["status"], "canceled");
    assert_eq!(customer_deletions(s, &customer), tries as usize + 1);
}
