//! Signing in by emailed link: the mail through the SMTP sink, the confirm page, single use,
//! expiry, tampering, address parsing, the per-address limit and CSRF on every sign-in form.

use crate::support::session::{csrf_in, unique_email};
use crate::support::sign_in::*;
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;
use sha2::{Digest, Sha256};

pub fn tests() -> Vec<Trial> {
    trials![
        a_visitor_signs_in_with_the_emailed_link,
        opening_the_link_alone_spends_nothing,
        a_used_link_cannot_sign_in_again,
        an_expired_link_is_refused_with_a_way_to_get_a_new_one,
        a_tampered_or_unknown_token_is_refused,
        only_a_hash_of_the_token_is_stored_and_it_expires_in_30_minutes,
        the_answer_is_the_same_for_known_and_unknown_addresses,
        a_link_signs_into_the_existing_account_of_its_address,
        header_injection_in_the_address_is_refused_and_nothing_is_sent,
        a_malformed_address_is_explained_on_the_form_with_the_value_kept,
        too_many_links_for_one_address_are_refused_until_one_expires,
        every_sign_in_form_needs_its_csrf_token,
        using_one_link_retires_the_others_for_that_address,
        an_address_on_an_internationalised_domain_is_mailed_at_its_ascii_form_and_is_one_account,
    ]
}

async fn token_row(s: &Stack, token: &str) -> Option<(String, bool, f64)> {
    let hash = Sha256::digest(token.as_bytes()).to_vec();
    let row = s
        .sql()
        .await
        .query_opt(
            "SELECT email, used_at IS NOT NULL, extract(epoch FROM expires_at - created_at)::float8
             FROM email_sign_in_tokens WHERE token_hash = $1",
            &[&hash],
        )
        .await
        .unwrap();
    row.map(|r| (r.get(0), r.get(1), r.get(2)))
}

async fn pending_tokens(s: &Stack, email: &str) -> i64 {
    s.sql()
        .await
        .query_one(
            "SELECT count(*) FROM email_sign_in_tokens WHERE email = $1 AND used_at IS NULL AND expires_at > now()",
            &[&email],
        )
        .await
        .unwrap()
        .get(0)
}

async fn a_visitor_signs_in_with_the_emailed_link(s: &'static Stack) {
    let email = unique_email("magic");
    let browser = s.browser();
    let res = request_link(s, &browser, &email, None).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("Check your email") && page.contains(&email), "{page}");

    let mail = s.fakes.smtp.wait_for_mail_to(&email).await.expect("a sign-in mail");
    assert_eq!(mail.from, "noreply@ghosttools.test", "envelope sender is EMAIL_FROM");
    assert_eq!(
        mail.auth_user.as_deref(),
        Some(crate::support::smtp::USER),
        "authenticated with EMAIL_SERVER's user"
    );
    assert_eq!(mail.auth_pass.as_deref(), Some(crate::support::smtp::PASS));
    assert!(mail.data.contains("Subject: Your GhostTools sign-in link"));
    let (text, html) = (text_of(&mail), html_of(&mail));
    let link = link_in(&mail);
    assert!(link.starts_with(&s.url("/signin/confirm?token=")), "{link}");
    assert!(html.contains(&link), "the HTML part carries the same link");
    for part in [&text, &html] {
        assert!(part.contains("30 minutes"), "the expiry is stated: {part}");
        assert!(part.contains("requested from"), "the request's origin is stated: {part}");
    }

    let token = token_of(&link);
    let res = confirm(s, &browser, &token).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/dashboard");
    let cookie = session_cookie_set(&res).expect("a session cookie");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    let dashboard = browser.get(s.url("/dashboard")).send().await.unwrap();
    assert_eq!(dashboard.status(), 200);
    assert!(dashboard.text().await.unwrap().contains(&email));
    let verified: bool = s
        .sql()
        .await
        .query_one("SELECT email_verified_at IS NOT NULL FROM users WHERE email = $1", &[&email])
        .await
        .unwrap()
        .get(0);
    assert!(verified, "the first sign-in creates a verified user");
}

async fn opening_the_link_alone_spends_nothing(s: &'static Stack) {
    let email = unique_email("scanner");
    let token = emailed_token(s, &s.browser(), &email, None).await;
    // A mail scanner opens the link, twice, without cookies.
    for _ in 0..2 {
        let res = s.get(&format!("/signin/confirm?token={token}")).await;
        assert_eq!(res.status(), 200);
        assert!(session_cookie_set(&res).is_none(), "GET never signs in");
        let policies: Vec<_> = res.headers().get_all("referrer-policy").iter().collect();
        // `same-origin`: no Referer to other sites, and the page's own POST keeps its Origin.
        assert_eq!(policies, ["same-origin"], "the token in the URL must not leak as a referrer");
    }
    assert!(!token_row(s, &token).await.unwrap().1, "the token is not spent");
    let users: i64 = s
        .sql()
        .await
        .query_one("SELECT count(*) FROM users WHERE email = $1", &[&email])
        .await
        .unwrap()
        .get(0);
    assert_eq!(users, 0, "nobody was created by a GET");
    // The person can still use it.
    assert_eq!(confirm(s, &s.browser(), &token).await.status(), 303);
}

async fn a_used_link_cannot_sign_in_again(s: &'static Stack) {
    let email = unique_email("reuse");
    let browser = s.browser();
    let token = emailed_token(s, &browser, &email, None).await;
    assert_eq!(confirm(s, &browser, &token).await.status(), 303);

    let attacker = s.browser();
    let page = attacker.get(s.url(&format!("/signin/confirm?token={token}"))).send().await.unwrap();
    assert_eq!(page.status(), 410);
    let html = page.text().await.unwrap();
    assert!(html.contains("already used") && html.contains("href=\"/signin\""), "{html}");
    // Posting it directly (with a valid form token) does not work either.
    let csrf = sign_in_form_csrf(s, &attacker).await;
    let res = attacker
        .post(s.url("/signin/confirm"))
        .form(&[("csrf", csrf.as_str()), ("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410);
    assert!(session_cookie_set(&res).is_none());
}

async fn an_expired_link_is_refused_with_a_way_to_get_a_new_one(s: &'static Stack) {
    let email = unique_email("expired-link");
    let browser = s.browser();
    let token = emailed_token(s, &browser, &email, None).await;
    let hash = Sha256::digest(token.as_bytes()).to_vec();
    s.sql()
        .await
        .execute(
            "UPDATE email_sign_in_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
            &[&hash],
        )
        .await
        .unwrap();
    let page = browser.get(s.url(&format!("/signin/confirm?token={token}"))).send().await.unwrap();
    assert_eq!(page.status(), 410);
    let html = page.text().await.unwrap();
    assert!(html.contains("expired") && html.contains("href=\"/signin\""), "{html}");
    let csrf = sign_in_form_csrf(s, &browser).await;
    let res = browser
        .post(s.url("/signin/confirm"))
        .form(&[("csrf", csrf.as_str()), ("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410);
    assert!(session_cookie_set(&res).is_none());
}

async fn a_tampered_or_unknown_token_is_refused(s: &'static Stack) {
    let email = unique_email("tampered");
    let browser = s.browser();
    let token = emailed_token(s, &browser, &email, None).await;
    let mut chars: Vec<char> = token.chars().collect();
    chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    let csrf = sign_in_form_csrf(s, &browser).await;
    for bad in [tampered.as_str(), "", "short", &"A".repeat(43), &format!("{token}x"), "' OR 1=1 --"] {
        let page = browser.get(s.url("/signin/confirm")).query(&[("token", bad)]).send().await.unwrap();
        assert_eq!(page.status(), 404, "GET with {bad:?}");
        assert!(page.text().await.unwrap().contains("href=\"/signin\""));
        let res = browser
            .post(s.url("/signin/confirm"))
            .form(&[("csrf", csrf.as_str()), ("token", bad)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "POST with {bad:?}");
        assert!(session_cookie_set(&res).is_none());
    }
    assert!(!token_row(s, &token).await.unwrap().1, "the real token is untouched");
}

async fn only_a_hash_of_the_token_is_stored_and_it_expires_in_30_minutes(s: &'static Stack) {
    let email = unique_email("hashonly");
    let token = emailed_token(s, &s.browser(), &email, None).await;
    assert!(token.len() >= 22, "at least 128 bits of base64url");
    let (stored_email, used, lifetime) = token_row(s, &token).await.expect("stored under its SHA-256");
    assert_eq!((stored_email.as_str(), used), (email.as_str(), false));
    assert!((lifetime - 1800.0).abs() < 5.0, "lifetime {lifetime}s");
    let leaked: i64 = s
        .sql()
        .await
        .query_one(
            "SELECT count(*) FROM email_sign_in_tokens WHERE encode(token_hash, 'escape') LIKE '%' || $1 || '%'",
            &[&token],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(leaked, 0, "the token itself is never stored");
}

/// The page, with what legitimately differs (the address, the CSRF token, nonces) removed.
fn normalised(html: &str, email: &str) -> String {
    let mut out = html.replace(email, "EMAIL");
    for marker in ["nonce=\"", "value=\""] {
        let mut result = String::new();
        let mut rest = out.as_str();
        while let Some(at) = rest.find(marker) {
            result.push_str(&rest[..at + marker.len()]);
            rest = &rest[at + marker.len()..];
            rest = &rest[rest.find('"').unwrap_or(0)..];
        }
        result.push_str(rest);
        out = result;
    }
    out
}

async fn the_answer_is_the_same_for_known_and_unknown_addresses(s: &'static Stack) {
    let known = s.sign_in_new("known").await.email;
    let unknown = unique_email("unknown");
    let a = request_link(s, &s.browser(), &known, None).await;
    let b = request_link(s, &s.browser(), &unknown, None).await;
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    let (a, b) = (a.text().await.unwrap(), b.text().await.unwrap());
    assert_eq!(normalised(&a, &known), normalised(&b, &unknown));
    assert!(s.fakes.smtp.wait_for_mail_to(&known).await.is_some());
    assert!(s.fakes.smtp.wait_for_mail_to(&unknown).await.is_some(), "unknown addresses get a link too");
}

async fn a_link_signs_into_the_existing_account_of_its_address(s: &'static Stack) {
    let existing = s.sign_in_new("existing").await;
    let browser = s.browser();
    // Typed in capitals: addresses are compared lower-cased.
    let token = emailed_token(s, &browser, &existing.email.to_uppercase(), None).await;
    assert_eq!(confirm(s, &browser, &token).await.status(), 303);
    let users: i64 = s
        .sql()
        .await
        .query_one("SELECT count(*) FROM users WHERE email = $1", &[&existing.email])
        .await
        .unwrap()
        .get(0);
    assert_eq!(users, 1, "no second account");
    let html = browser.get(s.url("/dashboard")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(&existing.email));
}

async fn header_injection_in_the_address_is_refused_and_nothing_is_sent(s: &'static Stack) {
    let victim = unique_email("victim");
    let before = s.fakes.smtp.mails().len();
    let attempts = [
        format!("attacker@example.test\r\nBcc: {victim}"),
        format!("attacker@example.test\nBcc: {victim}"),
        format!("attacker@example.test%0d%0aBcc:{victim}"),
        format!("attacker@example.test, {victim}"),
        format!("Attacker <attacker@example.test>, {victim}"),
        "attacker@example.test\r\nSubject: hi\r\n\r\nbody".to_string(),
    ];
    for attempt in &attempts {
        let res = request_link(s, &s.browser(), attempt, None).await;
        assert_eq!(res.status(), 400, "{attempt:?}");
        let html = res.text().await.unwrap();
        assert!(html.contains("field-error"), "the form explains the problem");
    }
    mail_settled(s).await;
    assert!(s.fakes.smtp.mails_to(&victim).is_empty(), "nothing reached the victim");
    let leaked = s.fakes.smtp.mails()[before..].iter().any(|m| m.data.contains(&victim));
    assert!(!leaked, "no mail carried the injected header");
    let tokens: i64 = s
        .sql()
        .await
        .query_one("SELECT count(*) FROM email_sign_in_tokens WHERE email LIKE 'attacker@%'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(tokens, 0, "no token was created");
}

async fn a_malformed_address_is_explained_on_the_form_with_the_value_kept(s: &'static Stack) {
    for (typed, says) in [
        ("not-an-address", "one email address"),
        ("ada@localhost", "domain name"),
        ("", "Enter your email address"),
        ("<b>x</b>@example.com", "before the @"),
    ] {
        let res = request_link(s, &s.browser(), typed, None).await;
        assert_eq!(res.status(), 400, "{typed:?}");
        let html = res.text().await.unwrap();
        assert!(html.contains(says), "{typed:?} should say {says:?}");
        assert!(html.contains("aria-invalid=\"true\""));
        assert!(csrf_in(&html).is_some(), "the form can be sent again");
        if typed == "not-an-address" {
            assert!(html.contains("value=\"not-an-address\""), "the value is kept");
        }
        assert!(!html.contains("<b>x</b>"), "the kept value is escaped");
    }
}

async fn too_many_links_for_one_address_are_refused_until_one_expires(s: &'static Stack) {
    let email = unique_email("flood");
    let browser = s.browser();
    for _ in 0..5 {
        assert_eq!(request_link(s, &browser, &email, None).await.status(), 200);
    }
    let res = request_link(s, &browser, &email, None).await;
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 60 && retry <= 1800, "retry after the oldest link expires: {retry}");
    assert!(res.text().await.unwrap().contains("several sign-in links"));
    mail_settled(s).await;
    assert_eq!(s.fakes.smtp.mails_to(&email).len(), 5, "the sixth mail was not sent");
    assert_eq!(pending_tokens(s, &email).await, 5, "no sixth token");
    // Once one of them expires, another may be sent.
    s.sql()
        .await
        .execute(
            "UPDATE email_sign_in_tokens SET expires_at = now() - interval '1 second'
             WHERE token_hash = (SELECT token_hash FROM email_sign_in_tokens WHERE email = $1 LIMIT 1)",
            &[&email],
        )
        .await
        .unwrap();
    assert_eq!(request_link(s, &browser, &email, None).await.status(), 200);
}

async fn every_sign_in_form_needs_its_csrf_token(s: &'static Stack) {
    let email = unique_email("csrf-forms");
    let browser = s.browser();
    let token = emailed_token(s, &browser, &email, None).await;
    let other_browser_csrf = sign_in_form_csrf(s, &s.browser()).await;
    for path in ["/signin", "/signin/confirm", "/signin/google"] {
        for csrf in [None, Some("0000"), Some(other_browser_csrf.as_str())] {
            let mut form = vec![("email", email.as_str()), ("token", token.as_str())];
            if let Some(c) = csrf {
                form.push(("csrf", c));
            }
            let res = browser.post(s.url(path)).form(&form).send().await.unwrap();
            assert_eq!(res.status(), 403, "{path} with csrf {csrf:?}");
            assert!(session_cookie_set(&res).is_none());
        }
    }
    assert!(!token_row(s, &token).await.unwrap().1, "a refused confirm spends nothing");
    let user = s.sign_in_new("csrf-account").await;
    for path in ["/account/signout-everywhere", "/account/delete"] {
        let res =
            user.client.post(s.url(path)).form(&[("confirm", user.email.as_str())]).send().await.unwrap();
        assert_eq!(res.status(), 403, "{path} without csrf");
        let res = user
            .client
            .post(s.url(path))
            .form(&[("csrf", "00"), ("confirm", user.email.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{path} with a wrong csrf");
    }
    let still = crate::support::session::stored_email(s, user.user_id).await;
    assert_eq!(still.as_deref(), Some(user.email.as_str()), "nothing was deleted");
    assert_eq!(user.client.get(s.url("/dashboard")).send().await.unwrap().status(), 200);
}

async fn using_one_link_retires_the_others_for_that_address(s: &'static Stack) {
    let email = unique_email("retire");
    let browser = s.browser();
    let first = emailed_token(s, &browser, &email, None).await;
    let second = emailed_token(s, &browser, &email, None).await;
    assert_eq!(confirm(s, &browser, &second).await.status(), 303);
    let page = s.get(&format!("/signin/confirm?token={first}")).await;
    assert_eq!(page.status(), 404, "the older link stopped working");
    assert_eq!(pending_tokens(s, &email).await, 0);
}

async fn an_address_on_an_internationalised_domain_is_mailed_at_its_ascii_form_and_is_one_account(
    s: &'static Stack,
) {
    let local = unique_email("idn").replace("@example.test", "");
    let ascii = format!("{local}@xn--bcher-kva.example");
    let browser = s.browser();
    // The mail goes to the punycode form, which is the address the account is kept under.
    let res = request_link(s, &browser, &format!("{local}@bücher.example"), None).await;
    assert_eq!(res.status(), 200);
    let mail = s.fakes.smtp.wait_for_mail_to(&ascii).await.expect("a sign-in mail to the ASCII form");
    assert_eq!(confirm(s, &browser, &token_of(&link_in(&mail))).await.status(), 303);
    // Spelled with capitals, or already in ASCII, it is the same account.
    for spelled in [format!("{local}@BÜCHER.example"), ascii.clone()] {
        let again = s.browser();
        let before = s.fakes.smtp.mails_to(&ascii).len();
        assert_eq!(request_link(s, &again, &spelled, None).await.status(), 200, "{spelled}");
        let mut mails = s.fakes.smtp.mails_to(&ascii);
        for _ in 0..200 {
            if mails.len() > before {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            mails = s.fakes.smtp.mails_to(&ascii);
        }
        let mail = mails.get(before).unwrap_or_else(|| panic!("no mail for {spelled} reached {ascii}"));
        assert_eq!(confirm(s, &again, &token_of(&link_in(mail))).await.status(), 303, "{spelled}");
    }
    let users: i64 = s
        .sql()
        .await
        .query_one("SELECT count(*) FROM users WHERE email = $1", &[&ascii])
        .await
        .unwrap()
        .get(0);
    assert_eq!(users, 1, "one account under the ASCII form");
}
