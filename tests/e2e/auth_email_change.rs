//! Changing the account's email address (issue 20, part 8): a link to the new address, a notice
//! to the old one, a confirm page that changes nothing, a POST that changes it in one go from a
//! session of the same account — and the attacker's side: links used twice, expired, forged,
//! another account's, a request from another site, an address another account has.

use crate::auth_credential_pages::loads_rewardful;
use crate::support::billing::{customer_id, subscribe};
use crate::support::fakes::google::{Account, Tweak};
use crate::support::fakes::stripe::PRO;
use crate::support::session::{csrf_in, stored_email, unique_email, SignedIn};
use crate::support::sign_in::*;
use crate::support::smtp::Mail;
use crate::support::tools::post_form;
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;
use mail_parser::MessageParser;

pub fn tests() -> Vec<Trial> {
    trials![
        a_confirmed_change_moves_sign_in_to_the_new_address_and_signs_out_the_other_sessions,
        a_link_used_twice_changes_the_address_once,
        an_expired_link_changes_nothing,
        a_forged_or_mangled_link_changes_nothing,
        a_link_of_account_a_opened_while_signed_in_as_b_changes_nothing,
        a_link_opened_signed_out_asks_to_sign_in_and_spends_nothing,
        a_change_request_without_the_forms_token_or_from_another_site_sends_nothing,
        an_address_of_another_account_is_never_given_and_the_answer_does_not_say_so,
        an_address_taken_after_the_link_was_sent_is_refused_at_confirmation,
        a_bad_or_unchanged_address_is_refused_naming_the_field,
        address_changes_are_limited_per_user,
        signing_out_everywhere_cancels_a_pending_change,
        the_stripe_customer_gets_the_new_address,
        google_stays_linked_and_the_old_address_names_no_account_through_google_either,
        a_pending_change_is_in_the_export_and_on_the_account_page,
        the_confirm_page_runs_no_third_party_script_and_keeps_the_token_off_other_sites,
    ]
}

fn subject(mail: &Mail) -> String {
    let msg = MessageParser::default().parse(mail.data.as_bytes()).expect("MIME");
    msg.subject().unwrap_or_default().to_string()
}

/// Asks to change `user`'s address to `new` from the account page's form.
async fn ask(s: &Stack, user: &SignedIn, new: &str) -> reqwest::Response {
    post_form(s, user, "/account/email", &[("email", new.to_string())]).await
}

/// The token of the newest address-change link mailed to `to`.
async fn change_token(s: &Stack, to: &str) -> String {
    let mail =
        s.fakes.smtp.mails_to(to).into_iter().rev().find(|m| subject(m).starts_with("Confirm your new"));
    let mail = mail.unwrap_or_else(|| panic!("no address-change link reached {to}"));
    let link = link_in(&mail);
    assert!(link.contains("/account/email/confirm?token="), "{link}");
    token_of(&link)
}

/// Asks for the change and returns the link's token.
async fn asked(s: &Stack, user: &SignedIn, new: &str) -> String {
    let res = ask(s, user, new).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap_or_default());
    assert_eq!(res.headers()["location"], "/account");
    change_token(s, new).await
}

async fn open(s: &Stack, client: &reqwest::Client, token: &str) -> (u16, String) {
    let res = client.get(s.url(&format!("/account/email/confirm?token={token}"))).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn press(s: &Stack, client: &reqwest::Client, csrf: &str, token: &str) -> reqwest::Response {
    let form = [("csrf", csrf), ("token", token)];
    client.post(s.url("/account/email/confirm")).form(&form).send().await.unwrap()
}

async fn page(s: &Stack, client: &reqwest::Client, path: &str) -> (u16, String) {
    let res = client.get(s.url(path)).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn pending_rows(s: &Stack, user_id: i64) -> i64 {
    let sql = "SELECT count(*) FROM email_changes WHERE user_id = $1";
    s.sql().await.query_one(sql, &[&user_id]).await.unwrap().get(0)
}

async fn user_id_of(s: &Stack, email: &str) -> Option<i64> {
    let row = s.sql().await.query_opt("SELECT id FROM users WHERE email = $1", &[&email]).await.unwrap();
    row.map(|r| r.get(0))
}

async fn a_confirmed_change_moves_sign_in_to_the_new_address_and_signs_out_the_other_sessions(
    s: &'static Stack,
) {
    let user = s.sign_in_new("change-me").await;
    let phone = sign_in_by_email(s, &user.email).await;
    let new = unique_email("changed");
    let token = asked(s, &user, &new).await;

    // The old address is told, without anything that could change the account.
    let notice =
        s.fakes.smtp.mails_to(&user.email).into_iter().find(|m| subject(m).contains("about to change"));
    let notice = notice.expect("a notice reached the old address");
    for part in [text_of(&notice), html_of(&notice)] {
        assert!(part.contains(&new) && part.contains("Sign out everywhere"), "{part}");
        assert!(!part.contains(&token) && !part.contains("token="), "no link in the notice: {part}");
    }
    let link_mail = s.fakes.smtp.mails_to(&new).pop().unwrap();
    assert!(html_of(&link_mail).contains(&token) && text_of(&link_mail).contains(&user.email));

    // Opening the link (a mail scanner, or the person) changes nothing.
    let (status, html) = open(s, &user.client, &token).await;
    assert_eq!(status, 200);
    assert!(html.contains(&user.email) && html.contains(&new), "{html}");
    assert_eq!(stored_email(s, user.user_id).await.as_deref(), Some(user.email.as_str()));
    let csrf = csrf_in(&html).expect("the confirm form");

    let res = press(s, &user.client, &csrf, &token).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/account");
    assert_eq!(stored_email(s, user.user_id).await.as_deref(), Some(new.as_str()));
    let (status, html) = page(s, &user.client, "/account").await;
    assert_eq!(status, 200, "this browser stays signed in");
    assert!(html.contains(&format!("Your email address is now {new}")), "{html}");
    assert!(html.contains("Your other session was signed out"), "{html}");
    assert_eq!(page(s, &phone, "/dashboard").await.0, 303, "the other session ended");

    // Sign-in links: the new address signs in to this account; the old one no longer does.
    let by_new = sign_in_by_email(s, &new).await;
    assert!(page(s, &by_new, "/account").await.1.contains(&new));
    assert_eq!(user_id_of(s, &new).await, Some(user.user_id));
    let by_old = sign_in_by_email(s, &user.email).await;
    let other = user_id_of(s, &user.email).await.expect("the old address made a new account");
    assert_ne!(other, user.user_id, "the old address does not reach the changed account");
    assert!(!page(s, &by_old, "/account").await.1.contains(&new));
}

async fn a_link_used_twice_changes_the_address_once(s: &'static Stack) {
    let user = s.sign_in_new("twice").await;
    let first = unique_email("twice-first");
    let token = asked(s, &user, &first).await;
    assert_eq!(press(s, &user.client, &user.csrf, &token).await.status(), 303);
    assert_eq!(stored_email(s, user.user_id).await.as_deref(), Some(first.as_str()));
    // Meanwhile the address is changed back by hand: a replay must not change it again.
    s.sql()
        .await
        .execute("UPDATE users SET email = $2 WHERE id = $1", &[&user.user_id, &user.email])
        .await
        .unwrap();
    let again = press(s, &user.client, &user.csrf, &token).await;
    assert_eq!(again.status(), 410);
    assert!(again.text().await.unwrap().contains("already used"));
    assert_eq!(open(s, &user.client, &token).await.0, 410);
    assert_eq!(stored_email(s, user.user_id).await.as_deref(), Some(user.email.as_str()));
}

async fn an_expired_link_changes_nothing(s: &'static Stack) {
    let user = s.sign_in_new("expired").await;
    let token = asked(s, &user, &unique_email("expired-new")).await;
    let sql = "UPDATE email_changes SET expires_at = now() - interval '1 second' WHERE user_id = $1";
    s.sql().await.execute(sql, &[&user.user_id]).await.unwrap();
    let (status, html) = open(s, &user.client, &token).await;
    assert_eq!(status, 410);
    assert!(html.contains("expired"), "{html}");
    assert_eq!(press(s, &user.client, &user.csrf, &token).await.status(), 410);
    assert_eq!(stored_email(s, user.user_id).await.as_deref(), Some(user.email.as_str()));
}

async fn a_forged_or_mangled_link_changes_nothing(s: &'static Stack) {
    let user = s.sign_in_new("forged").await;
    let real = asked(s, &user, &unique_email("forged-new")).await;
    let mut flipped = real.clone().into_bytes();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    for token in ["", "nope", &"A".repeat(43), &real[..42], &format!("{real}x"), &flipped] {
        assert_eq!(open(s, &user.client, token).await.0, 404, "{token:?}");
        assert_eq!(press(s, &user.client, &user.csrf, token).await.status(), 404, "{token:?}");
    }
    assert_eq!(stored_email(s, user.user_id).await.as_deref(), Some(user.email.as_str()));
    // The real link still works: the failed guesses spent nothing.
    assert_eq!(press(s, &user.client, &user.csrf, &real).await.status(), 303);
}

async fn a_link_of_account_a_opened_while_signed_in_as_b_changes_nothing(s: &'static Stack) {
    let a = s.sign_in_new("owner-a").await;
    let b = s.sign_in_new("holder-b").await;
    let new = unique_email("a-new");
    let token = asked(s, &a, &new).await;
    let (status, html) = open(s, &b.client, &token).await;
    assert_eq!(status, 403);
    assert!(html.contains("another account") && !html.contains(&a.email), "names nobody: {html}");
    assert_eq!(press(s, &b.client, &b.csrf, &token).await.status(), 403);
    assert_eq!(stored_email(s, a.user_id).await.as_deref(), Some(a.email.as_str()));
    assert_eq!(stored_email(s, b.user_id).await.as_deref(), Some(b.email.as_str()));
    assert_eq!(page(s, &b.client, "/dashboard").await.0, 200, "B is still signed in as B");
    // Nothing was spent: A confirms it afterwards.
    assert_eq!(press(s, &a.client, &a.csrf, &token).await.status(), 303);
    assert_eq!(stored_email(s, a.user_id).await.as_deref(), Some(new.as_str()));
}

async fn a_link_opened_signed_out_asks_to_sign_in_and_spends_nothing(s: &'static Stack) {
    let user = s.sign_in_new("signed-out").await;
    let token = asked(s, &user, &unique_email("signed-out-new")).await;
    let stranger = s.browser();
    let (status, html) = open(s, &stranger, &token).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Sign in to confirm") && !html.contains("action=\"/account/email/confirm\""),
        "{html}"
    );
    assert!(!html.contains(&user.email), "the page does not name the account: {html}");
    // A POST with a signed-out browser's own token goes to sign-in and changes nothing.
    let csrf = sign_in_form_csrf(s, &stranger).await;
    let res = press(s, &stranger, &csrf, &token).await;
    assert_eq!(res.status(), 303);
    assert!(res.headers()["location"].to_str().unwrap().starts_with("/signin"));
    assert_eq!(stored_email(s, user.user_id).await.as_deref(), Some(user.email.as_str()));
    assert_eq!(open(s, &user.client, &token).await.0, 200, "still usable by its account");
}

async fn a_change_request_without_the_forms_token_or_from_another_site_sends_nothing(s: &'static Stack) {
    let user = s.sign_in_new("csrf-change").await;
    let other = s.sign_in_new("csrf-other").await;
    let new = unique_email("csrf-new");
    let attempts: Vec<(Option<&str>, Option<&str>)> = vec![
        (None, None),
        (Some("forged"), None),
        (Some(other.csrf.as_str()), None),
        (Some(user.csrf.as_str()), Some("https://evil.example")),
    ];
    for (csrf, origin) in attempts {
        let mut form = vec![("email", new.as_str())];
        form.extend(csrf.map(|c| ("csrf", c)));
        let mut req = user.client.post(s.url("/account/email")).form(&form);
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        assert_eq!(req.send().await.unwrap().status(), 403, "{csrf:?} {origin:?}");
    }
    assert_eq!(pending_rows(s, user.user_id).await, 0);
    assert!(s.fakes.smtp.mails_to(&new).is_empty() && s.fakes.smtp.mails_to(&user.email).is_empty());
    // And the confirmation itself needs the form's token.
    let token = asked(s, &user, &new).await;
    for csrf in ["", "forged", other.csrf.as_str()] {
        assert_eq!(press(s, &user.client, csrf, &token).await.status(), 403, "{csrf:?}");
    }
    assert_eq!(stored_email(s, user.user_id).await.as_deref(), Some(user.email.as_str()));
}

async fn an_address_of_another_account_is_never_given_and_the_answer_does_not_say_so(s: &'static Stack) {
    let user = s.sign_in_new("wants-taken").await;
    let owner = s.sign_in_new("owns-it").await;
    let free = unique_email("free");
    for address in [free.clone(), owner.email.clone()] {
        let res = ask(s, &user, &address).await;
        assert_eq!(res.status(), 303, "{address}");
        assert_eq!(res.headers()["location"], "/account");
        let (_, html) = page(s, &user.client, "/account").await;
        assert!(html.contains(&format!("We emailed a link to {address}")), "{html}");
        assert!(!html.contains("already"), "the answer does not tell: {html}");
    }
    // The owner's inbox gets a notice with no link; nothing can move the address.
    let mails = s.fakes.smtp.mails_to(&owner.email);
    assert_eq!(mails.len(), 1);
    assert!(subject(&mails[0]).contains("already has"));
    assert!(!text_of(&mails[0]).contains("token=") && !html_of(&mails[0]).contains("token="));
    let rows = s
        .sql()
        .await
        .query("SELECT new_email FROM email_changes WHERE user_id = $1", &[&user.user_id])
        .await
        .unwrap();
    let pending: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert!(!pending.contains(&owner.email), "{pending:?}");
    assert_eq!(stored_email(s, user.user_id).await.as_deref(), Some(user.email.as_str()));
    assert_eq!(stored_email(s, owner.user_id).await.as_deref(), Some(owner.email.as_str()));
}

async fn an_address_taken_after_the_link_was_sent_is_refused_at_confirmation(s: &'static Stack) {
    let user = s.sign_in_new("race-taken").await;
    let new = unique_email("race-new");
    let token = asked(s, &user, &new).await;
    let newcomer = s.sign_in_as(&new).await;
    let res = press(s, &user.client, &user.csrf, &token).await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("already has an account"));
    assert_eq!(stored_email(s, user.user_id).await.as_deref(), Some(user.email.as_str()));
    assert_eq!(stored_email(s, newcomer.user_id).await.as_deref(), Some(new.as_str()));
    assert_eq!(page(s, &newcomer.client, "/dashboard").await.0, 200);
}

async fn a_bad_or_unchanged_address_is_refused_naming_the_field(s: &'static Stack) {
    let user = s.sign_in_new("bad-new").await;
    let own = user.email.to_uppercase();
    for (typed, says) in [
        ("not-an-address", "new-email-error"),
        ("a@b.example\r\nBcc: x@evil.example", "new-email-error"),
        (own.as_str(), "already your address"),
    ] {
        let res = ask(s, &user, typed).await;
        assert_eq!(res.status(), 400, "{typed:?}");
        let html = res.text().await.unwrap();
        assert!(html.contains(says) && html.contains("aria-invalid=\"true\""), "{typed:?}: {html}");
    }
    assert_eq!(pending_rows(s, user.user_id).await, 0);
    assert!(s.fakes.smtp.mails_to(&user.email).is_empty(), "no notice for a refused request");
}

async fn address_changes_are_limited_per_user(s: &'static Stack) {
    let user = s.sign_in_new("limited").await;
    for i in 0..5 {
        let res = ask(s, &user, &unique_email(&format!("limit{i}"))).await;
        assert_eq!(res.status(), 303, "request {i}");
    }
    let last = unique_email("limit-over");
    let res = ask(s, &user, &last).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert!(res.text().await.unwrap().contains("several address changes"));
    assert!(s.fakes.smtp.mails_to(&last).is_empty());
    assert_eq!(s.fakes.smtp.mails_to(&user.email).len(), 5, "one notice per accepted request");
    assert_eq!(pending_rows(s, user.user_id).await, 1, "a new request replaces the pending one");
}

async fn signing_out_everywhere_cancels_a_pending_change(s: &'static Stack) {
    let user = s.sign_in_new("cancel-change").await;
    let token = asked(s, &user, &unique_email("cancelled")).await;
    let res = post_form(s, &user, "/account/signout-everywhere", &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(pending_rows(s, user.user_id).await, 0);
    let back = sign_in_by_email(s, &user.email).await;
    assert_eq!(open(s, &back, &token).await.0, 404);
    assert_eq!(stored_email(s, user.user_id).await.as_deref(), Some(user.email.as_str()));
}

async fn the_stripe_customer_gets_the_new_address(s: &'static Stack) {
    let user = s.sign_in_new("stripe-change").await;
    subscribe(s, &user, PRO).await;
    let customer = customer_id(s, user.user_id).await;
    assert_eq!(s.stripe().customer(&customer)["email"], user.email.as_str());
    let new = unique_email("stripe-new");
    let token = asked(s, &user, &new).await;
    assert_eq!(press(s, &user.client, &user.csrf, &token).await.status(), 303);
    assert_eq!(s.stripe().customer(&customer)["email"], new.as_str(), "Stripe was told");
}

async fn google_stays_linked_and_the_old_address_names_no_account_through_google_either(s: &'static Stack) {
    let user = s.sign_in_new("google-change").await;
    let google = Account::new(&user.email);
    let sub = google.sub.clone();
    assert_eq!(google_sign_in(s, &s.browser(), google).await.status(), 303);
    let new = unique_email("google-new");
    let token = asked(s, &user, &new).await;
    assert_eq!(press(s, &user.client, &user.csrf, &token).await.status(), 303);

    // The linked Google account (same `sub`, Google still says the old address) signs in here.
    let same =
        Account { sub, email: user.email.clone(), email_verified: true, name: None, tweak: Tweak::None };
    let browser = s.browser();
    assert_eq!(google_sign_in(s, &browser, same).await.status(), 303);
    assert!(page(s, &browser, "/account").await.1.contains(&new));
    // Another Google account with the old address gets an account of its own, not this one.
    let stranger = s.browser();
    assert_eq!(google_sign_in(s, &stranger, Account::new(&user.email)).await.status(), 303);
    assert!(!page(s, &stranger, "/account").await.1.contains(&new));
    assert_ne!(user_id_of(s, &user.email).await, Some(user.user_id));
}

async fn a_pending_change_is_in_the_export_and_on_the_account_page(s: &'static Stack) {
    let user = s.sign_in_new("export-change").await;
    let new = unique_email("export-new");
    asked(s, &user, &new).await;
    let (_, html) = page(s, &user.client, "/account").await;
    assert!(html.contains(&format!("Waiting for confirmation: <strong>{new}</strong>")), "{html}");
    let res = post_form(s, &user, "/account/export", &[]).await;
    assert_eq!(res.status(), 200);
    let data: serde_json::Value = res.json().await.unwrap();
    assert_eq!(data["pending_email_changes"][0]["new_email"], new.as_str(), "{data}");
    assert_eq!(data["account"]["email"], user.email.as_str());
}

async fn the_confirm_page_runs_no_third_party_script_and_keeps_the_token_off_other_sites(s: &'static Stack) {
    let user = s.sign_in_new("rw-change").await;
    let (_, account) = page(s, &user.client, "/account").await;
    assert!(loads_rewardful(s, &account), "other pages do load it (so this test can fail)");
    let token = asked(s, &user, &unique_email("rw-change-new")).await;
    let stranger = s.browser();
    for (client, path) in [
        (&user.client, format!("/account/email/confirm?token={token}")),
        (&user.client, format!("/account/email/confirm/?token={token}")),
        (&user.client, format!("//account/email/confirm?token={token}")),
        (&user.client, "/account/email/confirm?token=not-a-token".to_string()),
        (&stranger, format!("/account/email/confirm?token={token}")),
    ] {
        let res = client.get(s.url(&path)).send().await.unwrap();
        let status = res.status().as_u16();
        assert_eq!(res.headers()["referrer-policy"], "same-origin", "{path}");
        let html = res.text().await.unwrap();
        assert!(!loads_rewardful(s, &html), "{path} ({status}) must not load a third-party script");
    }
}
