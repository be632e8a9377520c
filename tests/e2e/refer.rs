//! Refer & earn: joining the Rewardful programme, the link and stats, and what the Worker sends
//! to Rewardful (Basic auth with the secret, form bodies) — never the secret to a page.

use crate::support::billing::{page, post_form};
use crate::support::fakes::rewardful::API_KEY;
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        a_visitor_reads_about_the_programme_and_is_asked_to_sign_in,
        joining_creates_one_affiliate_with_the_users_email_and_shows_the_link,
        joining_twice_keeps_one_affiliate,
        an_affiliate_rewardful_already_has_for_the_address_is_linked_not_duplicated,
        a_name_left_blank_is_refused_and_nothing_is_created,
        joining_needs_the_csrf_token_and_a_signed_in_user,
        stats_and_commissions_come_from_rewardful,
        a_rewardful_outage_leaves_the_page_working_with_a_notice,
    ]
}

async fn join(
    s: &Stack,
    user: &crate::support::session::SignedIn,
    first: &str,
    last: &str,
) -> reqwest::Response {
    post_form(s, user, "/refer/join", &[("first_name", first), ("last_name", last)]).await
}

async fn affiliate_row(s: &Stack, user_id: i64) -> Option<String> {
    let db = s.sql().await;
    db.query_opt("SELECT rewardful_affiliate_id FROM affiliates WHERE user_id = $1", &[&user_id])
        .await
        .unwrap()
        .map(|r| r.get(0))
}

fn creations_for(s: &Stack, email: &str) -> usize {
    s.fakes
        .rewardful
        .requests(|r| {
            r.method == "POST"
                && r.path == "/v1/affiliates"
                && r.form().iter().any(|(k, v)| k == "email" && v == email)
        })
        .len()
}

async fn a_visitor_reads_about_the_programme_and_is_asked_to_sign_in(s: &'static Stack) {
    let res = s.get("/refer").await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Refer &amp; earn") || html.contains("Refer &#38; earn"));
    assert!(html.contains("href=\"/signin?next=%2Frefer\""));
    assert!(!html.contains("action=\"/refer/join\""));
}

async fn joining_creates_one_affiliate_with_the_users_email_and_shows_the_link(s: &'static Stack) {
    let user = s.sign_in_new("affiliate").await;
    let before = page(s, &user, "/refer").await;
    assert!(before.contains("action=\"/refer/join\"") && before.contains("<label for=\"first_name\">"));
    let res = join(s, &user, " Ada ", "Lovelace").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/refer");
    let created = s.fakes.rewardful.requests(|r| r.method == "POST" && r.path == "/v1/affiliates");
    let mine = created
        .iter()
        .find(|r| r.form().iter().any(|(k, v)| k == "email" && *v == user.email))
        .expect("created");
    let auth = mine.header("authorization").unwrap();
    use base64::Engine;
    assert_eq!(
        auth,
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{API_KEY}:")))
    );
    assert_eq!(mine.header("content-type"), Some("application/x-www-form-urlencoded"));
    let form = mine.form();
    assert!(
        form.contains(&("first_name".into(), "Ada".into()))
            && form.contains(&("last_name".into(), "Lovelace".into()))
    );
    let id = affiliate_row(s, user.user_id).await.expect("the affiliate is recorded");
    assert_eq!(s.fakes.rewardful.affiliate(&id)["email"], user.email.as_str());
    let html = page(s, &user, "/refer").await;
    assert!(html.contains("Welcome to Refer"), "flash after joining");
    let link = s.fakes.rewardful.affiliate(&id)["links"][0]["url"].as_str().unwrap().to_string();
    assert!(link.starts_with(&s.url("/?via=")), "links point at the site: {link}");
    assert!(html.contains(&format!("value=\"{link}\"")), "the link is shown");
    assert!(html.contains("data-copy=\"referral-link-1\""));
}

async fn joining_twice_keeps_one_affiliate(s: &'static Stack) {
    let user = s.sign_in_new("twice").await;
    assert_eq!(join(s, &user, "Tom", "Twice").await.status(), 303);
    let id = affiliate_row(s, user.user_id).await.unwrap();
    assert_eq!(join(s, &user, "Tom", "Twice").await.status(), 303);
    assert_eq!(affiliate_row(s, user.user_id).await.unwrap(), id);
    assert_eq!(creations_for(s, &user.email), 1, "the second join asks Rewardful nothing");
    assert!(page(s, &user, "/refer").await.contains("already in Refer"));
}

async fn an_affiliate_rewardful_already_has_for_the_address_is_linked_not_duplicated(s: &'static Stack) {
    let user = s.sign_in_new("existing").await;
    let existing =
        s.fakes.rewardful.add_affiliate("Eve", "Existing", &user.email, &format!("eve{}", user.user_id));
    assert_eq!(join(s, &user, "Eve", "Existing").await.status(), 303);
    assert_eq!(affiliate_row(s, user.user_id).await.as_deref(), Some(existing.as_str()));
    let lookups = s.fakes.rewardful.requests(|r| r.method == "GET" && r.path == "/v1/affiliates");
    assert!(
        lookups.iter().any(|r| r.query.as_deref().is_some_and(|q| q.contains("email="))),
        "found by email"
    );
}

async fn a_name_left_blank_is_refused_and_nothing_is_created(s: &'static Stack) {
    let user = s.sign_in_new("blank").await;
    let res = join(s, &user, "Bo", "  ").await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("Please enter your last name."));
    assert!(html.contains("id=\"last_name\"") && html.contains("aria-invalid=\"true\""));
    assert!(html.contains("value=\"Bo\""), "what was typed is kept");
    assert_eq!(creations_for(s, &user.email), 0);
    assert_eq!(affiliate_row(s, user.user_id).await, None);
}

async fn joining_needs_the_csrf_token_and_a_signed_in_user(s: &'static Stack) {
    let user = s.sign_in_new("csrf-join").await;
    let res = user
        .client
        .post(s.url("/refer/join"))
        .form(&[("first_name", "Mal"), ("last_name", "Lory"), ("csrf", "00")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = s
        .http
        .post(s.url("/refer/join"))
        .form(&[("first_name", "A"), ("last_name", "B")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "no session, no pre-session token: refused");
    assert_eq!(creations_for(s, &user.email), 0);
}

async fn stats_and_commissions_come_from_rewardful(s: &'static Stack) {
    let user = s.sign_in_new("stats").await;
    join(s, &user, "Sam", "Stats").await;
    let id = affiliate_row(s, user.user_id).await.unwrap();
    s.fakes.rewardful.set_stats(&id, 42, 7, 3);
    s.fakes.rewardful.add_commission(&id, 1500, "USD", "paid");
    s.fakes.rewardful.add_commission(&id, 450, "USD", "due");
    s.fakes.rewardful.add_commission(&id, 9999, "USD", "voided");
    let html = page(s, &user, "/refer").await;
    for needle in [
        "<dd id=\"visitors\">42</dd>",
        "<dd id=\"leads\">7</dd>",
        "<dd id=\"conversions\">3</dd>",
        "<dd id=\"paid\">$15.00</dd>",
        "<dd id=\"due\">$4.50</dd>",
        "<dd id=\"pending\">None yet</dd>",
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
    let asked = s.fakes.rewardful.requests(|r| r.path == "/v1/commissions");
    assert!(asked
        .iter()
        .any(|r| r.query.as_deref().is_some_and(|q| q.contains(&format!("affiliate_id={id}")))));
}

async fn a_rewardful_outage_leaves_the_page_working_with_a_notice(s: &'static Stack) {
    let user = s.sign_in_new("outage").await;
    join(s, &user, "Otto", "Outage").await;
    let id = affiliate_row(s, user.user_id).await.unwrap();
    s.fakes.rewardful.fail_reads_of(&id);
    let html = page(s, &user, "/refer").await;
    assert!(html.contains("id=\"stats-unavailable\""));
    assert!(!html.contains("id=\"visitors\""));
}
