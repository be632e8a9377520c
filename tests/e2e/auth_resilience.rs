//! Sign-in when things break: the mail server is down or refuses our credentials (the visitor
//! is told to try again and no token is left usable), and sessions survive a Worker restart.

use crate::support::session::unique_email;
use crate::support::sign_in::*;
use crate::support::smtp::{Mode, SmtpSink};
use crate::support::{process, Fakes, Options, Stack};
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        when_the_mail_server_is_down_the_visitor_is_told_to_retry_and_no_token_is_left,
        when_the_mail_server_refuses_our_credentials_no_token_is_left,
        a_local_inbox_that_asks_for_no_credentials_still_gets_the_link,
        a_session_survives_a_worker_restart,
    ]
}

async fn usable_tokens(s: &Stack, email: &str) -> i64 {
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

pub(crate) async fn assert_try_again(s: &Stack, email: &str) {
    let res = request_link(s, &s.browser(), email, None).await;
    assert_eq!(res.status(), 503);
    let html = res.text().await.unwrap();
    assert!(html.contains("couldn&#39;t send the email") && html.contains("try again"), "{html}");
    assert!(html.contains(&format!("value=\"{email}\"")), "the address is kept for the retry");
    assert_eq!(usable_tokens(s, email).await, 0, "no usable token is left behind");
}

async fn when_the_mail_server_is_down_the_visitor_is_told_to_retry_and_no_token_is_left(_: &'static Stack) {
    let closed = process::free_port();
    let s = Stack::start(Options {
        vars: vec![("EMAIL_SERVER", Some(format!("smtp://user:pass@127.0.0.1:{closed}")))],
        ..Options::named("smtp-down")
    })
    .await;
    assert_try_again(&s, &unique_email("smtp-down")).await;
    assert!(s.worker.log_text().contains("not sent"), "the failure is logged");
}

async fn when_the_mail_server_refuses_our_credentials_no_token_is_left(_: &'static Stack) {
    let sink = SmtpSink::start(Mode::RefuseAuth).await;
    let s = Stack::start(Options {
        fakes: Some(Fakes::with_smtp(sink).await),
        ..Options::named("smtp-refuses-auth")
    })
    .await;
    let email = unique_email("smtp-auth");
    assert_try_again(&s, &email).await;
    assert!(s.fakes.smtp.mails_to(&email).is_empty());
    assert!(s.worker.log_text().contains("refused our credentials"), "the log says why");
}

async fn a_local_inbox_that_asks_for_no_credentials_still_gets_the_link(_: &'static Stack) {
    // `make dev`: maildev on 127.0.0.1 offers no AUTH while .dev.vars names a user.
    let sink = SmtpSink::start(Mode::NoAuth).await;
    let s =
        Stack::start(Options { fakes: Some(Fakes::with_smtp(sink).await), ..Options::named("smtp-no-auth") })
            .await;
    let email = unique_email("dev-inbox");
    let token = emailed_token(&s, &s.browser(), &email, None).await;
    let mail = s.fakes.smtp.mails_to(&email).pop().unwrap();
    assert_eq!(mail.auth_user, None, "no AUTH was attempted");
    assert_eq!(confirm(&s, &s.browser(), &token).await.status(), 303);
}

async fn a_session_survives_a_worker_restart(_: &'static Stack) {
    let s = Stack::start(Options::named("restart")).await;
    let email = unique_email("restart");
    let browser = sign_in_by_email(&s, &email).await;
    assert_eq!(browser.get(s.url("/dashboard")).send().await.unwrap().status(), 200);
    s.worker.restart().await;
    let res = browser.get(s.url("/dashboard")).send().await.unwrap();
    assert_eq!(res.status(), 200, "the signed cookie is still valid after a restart");
    assert!(res.text().await.unwrap().contains(&email));
}
