//! Mail to a server away from this machine: a sign-in link never travels in plaintext unless
//! the operator opted out (`EMAIL_ALLOW_PLAINTEXT=true`), and our credentials never do, opted
//! out or not; an SMTP refusal that names the recipient is logged without the address.
//!
//! "Away from this machine" is played by 0.0.0.0: Linux connects it to the sink's listener on
//! this machine, while the Worker, which counts only 127/8, ::1 and localhost as loopback, treats
//! it as any other host. The sink offers no STARTTLS.

use crate::auth_resilience::assert_try_again;
use crate::support::session::unique_email;
use crate::support::sign_in::*;
use crate::support::smtp::{Mode, SmtpSink, PASS, USER};
use crate::support::{Fakes, Options, Stack};
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        a_remote_server_without_starttls_gets_no_link_and_never_our_credentials,
        opting_out_of_tls_still_never_sends_our_credentials_in_plaintext,
        a_relay_opted_out_of_tls_gets_the_link_and_a_refusal_naming_the_recipient_is_logged_without_it,
    ]
}

/// A stack whose mail goes to a fresh sink through 0.0.0.0, with or without credentials.
async fn remote_stack(name: &'static str, credentials: bool, allow_plaintext: bool) -> Stack {
    let sink = SmtpSink::start(Mode::Accept).await;
    let port = sink.addr.port();
    let server = match credentials {
        true => format!("smtp://{USER}:{PASS}@0.0.0.0:{port}"),
        false => format!("smtp://0.0.0.0:{port}"),
    };
    let mut vars = vec![("EMAIL_SERVER", Some(server))];
    if allow_plaintext {
        vars.push(("EMAIL_ALLOW_PLAINTEXT", Some("true".into())));
    }
    Stack::start(Options { vars, fakes: Some(Fakes::with_smtp(sink).await), ..Options::named(name) }).await
}

fn assert_no_message_and_no_credentials(s: &Stack) {
    let verbs = s.fakes.smtp.verbs();
    assert!(verbs.iter().any(|v| v == "EHLO"), "the Worker did reach the sink: {verbs:?}");
    assert!(!verbs.iter().any(|v| v == "AUTH" || v == "MAIL"), "nothing past EHLO: {verbs:?}");
    assert!(s.fakes.smtp.mails().is_empty());
}

async fn a_remote_server_without_starttls_gets_no_link_and_never_our_credentials(_: &'static Stack) {
    let s = remote_stack("smtp-remote-plain", true, false).await;
    assert_try_again(&s, &unique_email("remote-plain")).await;
    assert_no_message_and_no_credentials(&s);
    assert!(s.worker.log_text().contains("does not offer STARTTLS"), "the log says why");
}

async fn opting_out_of_tls_still_never_sends_our_credentials_in_plaintext(_: &'static Stack) {
    let s = remote_stack("smtp-remote-optout-creds", true, true).await;
    assert_try_again(&s, &unique_email("optout-creds")).await;
    assert_no_message_and_no_credentials(&s);
    assert!(s.worker.log_text().contains("credentials never go in plaintext"), "the log says why");
}

async fn a_relay_opted_out_of_tls_gets_the_link_and_a_refusal_naming_the_recipient_is_logged_without_it(
    _: &'static Stack,
) {
    let s = remote_stack("smtp-remote-relay", false, true).await;
    let email = unique_email("relay");
    let token = emailed_token(&s, &s.browser(), &email, None).await;
    let mail = s.fakes.smtp.mails_to(&email).pop().unwrap();
    assert_eq!(mail.auth_user, None, "no credentials were held, none were sent");
    assert_eq!(confirm(&s, &s.browser(), &token).await.status(), 303);

    // The relay refuses this recipient with a 550 that names it.
    let refused = unique_email("rejected.relay");
    assert_try_again(&s, &refused).await;
    let log = s.worker.log_text();
    assert!(log.contains("550"), "the refusal is logged: {log}");
    assert!(!log.contains(&refused), "the address is not: {log}");
    let local = refused.split('@').next().unwrap();
    assert!(!log.contains(local), "nor its local part: {log}");
}
