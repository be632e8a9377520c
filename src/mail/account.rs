//! The mails of an email-address change: the confirmation link to the new address, the notice
//! to the old one, and the notice to an address that already has an account. Pure, so tested
//! natively.

use super::compose;
use crate::domain::Mailbox;
use askama::Template;

pub const CHANGE_SUBJECT: &str = "Confirm your new GhostTools email address";
pub const REQUESTED_SUBJECT: &str = "Your GhostTools email address is about to change";
pub const TAKEN_SUBJECT: &str = "This address already has a GhostTools account";

/// One requested change, as its three mails tell it (the notices leave the link out).
pub struct ChangeMail<'a> {
    /// The new address (the mail goes there).
    pub to: &'a str,
    /// The account's current address.
    pub account: &'a str,
    pub link: &'a str,
    pub minutes: u32,
    pub expires_at: &'a str,
    /// The coarse origin of the request (`Berlin, DE`, or `unknown`).
    pub origin: &'a str,
    pub site: &'a str,
}

#[derive(Template)]
#[template(path = "mail/email_change.txt")]
struct ChangeText<'a> {
    mail: &'a ChangeMail<'a>,
}

#[derive(Template)]
#[template(path = "mail/email_change.html")]
struct ChangeHtml<'a> {
    mail: &'a ChangeMail<'a>,
}

/// A notice without a link: a heading and paragraphs, as text and as HTML.
#[derive(Template)]
#[template(path = "mail/email_change_notice.txt")]
struct NoticeText<'a> {
    heading: &'a str,
    paragraphs: &'a [String],
    site: &'a str,
}

#[derive(Template)]
#[template(path = "mail/email_change_notice.html")]
struct NoticeHtml<'a> {
    heading: &'a str,
    paragraphs: &'a [String],
    site: &'a str,
}

/// The message with the confirmation link, to the new address.
pub fn change_link_message(
    from: &Mailbox,
    mail: &ChangeMail,
    now_secs: u64,
    id: &str,
) -> Result<String, String> {
    let text = ChangeText { mail }.render().map_err(|e| e.to_string())?;
    let html = ChangeHtml { mail }.render().map_err(|e| e.to_string())?;
    compose(from, mail.to, CHANGE_SUBJECT, text, html, now_secs, id)
}

/// The notice to the account's current address that a change was asked for (no link: nothing
/// in it can change the account).
pub fn change_requested_message(
    from: &Mailbox,
    mail: &ChangeMail,
    now_secs: u64,
    id: &str,
) -> Result<String, String> {
    let ChangeMail { to: new, account: old, minutes, origin, site, .. } = *mail;
    let paragraphs = [
        format!("Someone signed in to your GhostTools account ({old}) asked to change its email address to {new}. The request came from: {origin}."),
        format!("Nothing changes unless the link we sent to {new} is opened within {minutes} minutes in a browser signed in to your account. After the change, sign-in links go to {new} only."),
        format!("If this wasn't you: sign in at https://{site}/signin with a link to {old} and choose \"Sign out everywhere\" on your account page. That ends every session, including the one that asked, and cancels the change."),
    ];
    notice(
        from,
        old,
        REQUESTED_SUBJECT,
        "Your email address is about to change",
        &paragraphs,
        site,
        now_secs,
        id,
    )
}

/// The notice to an address that already has an account, instead of a link: one address
/// belongs to one account. The person who asked is told only what any other answer tells them
/// ("check that inbox"), so the form does not reveal which addresses have accounts.
pub fn address_taken_message(
    from: &Mailbox,
    mail: &ChangeMail,
    now_secs: u64,
    id: &str,
) -> Result<String, String> {
    let ChangeMail { to: new, origin, site, .. } = *mail;
    let paragraphs = [
        format!("Someone signed in to another GhostTools account asked to move that account to this address ({new}). The request came from: {origin}."),
        "This address already belongs to a GhostTools account, so nothing was changed and nothing needs doing. To use this address for the other account, delete or change the address of the account that has it first.".to_string(),
        "If you did not ask for this, you can ignore this email.".to_string(),
    ];
    notice(from, new, TAKEN_SUBJECT, "This address already has an account", &paragraphs, site, now_secs, id)
}

#[allow(clippy::too_many_arguments)]
fn notice(
    from: &Mailbox,
    to: &str,
    subject: &str,
    heading: &str,
    paragraphs: &[String],
    site: &str,
    now_secs: u64,
    id: &str,
) -> Result<String, String> {
    let text = NoticeText { heading, paragraphs, site }.render().map_err(|e| e.to_string())?;
    let html = NoticeHtml { heading, paragraphs, site }.render().map_err(|e| e.to_string())?;
    compose(from, to, subject, text, html, now_secs, id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn from() -> Mailbox {
        Mailbox::parse("GhostTools <noreply@ghosttools.test>").unwrap()
    }

    fn parts(raw: &str) -> (String, String, String) {
        let msg = MessageParser::default().parse(raw.as_bytes()).expect("parses as MIME");
        let to = msg.to().and_then(|a| a.first()).and_then(|a| a.address()).unwrap().to_string();
        (to, msg.body_text(0).unwrap().into_owned(), msg.body_html(0).unwrap().into_owned())
    }

    fn sample() -> ChangeMail<'static> {
        ChangeMail {
            to: "new@example.com",
            account: "old@example.com",
            link: "https://ghosttools.test/account/email/confirm?token=abc_DEF-123",
            minutes: 60,
            expires_at: "14:05 UTC",
            origin: "<Berlin>",
            site: "ghosttools.test",
        }
    }

    #[test]
    fn the_change_mail_goes_to_the_new_address_with_the_link_both_addresses_and_the_expiry() {
        let mail = sample();
        let raw = change_link_message(&from(), &mail, 1_800_000_000, "m1").unwrap();
        let (to, text, html) = parts(&raw);
        assert_eq!(to, "new@example.com");
        for part in [&text, &html] {
            assert!(part.contains(mail.link) && part.contains("old@example.com"), "{part}");
            assert!(part.contains("60 minutes") && part.contains("14:05 UTC"), "{part}");
        }
        assert!(!html.contains("<Berlin>") && html.contains("Berlin"), "escaped: {html}");
        assert!(raw.lines().all(|l| l.len() <= 998));
    }

    #[test]
    fn the_notices_carry_no_link_into_the_account() {
        let mail = ChangeMail { origin: "Berlin, DE", ..sample() };
        let requested = change_requested_message(&from(), &mail, 1_800_000_000, "m2").unwrap();
        let (to, text, html) = parts(&requested);
        assert_eq!(to, "old@example.com");
        for part in [&text, &html] {
            assert!(part.contains("new@example.com") && part.contains("Sign out everywhere"), "{part}");
            assert!(!part.contains("token="), "{part}");
        }
        let taken = address_taken_message(&from(), &mail, 1, "m3").unwrap();
        let (to, text, _) = parts(&taken);
        assert_eq!(to, "new@example.com");
        assert!(text.contains("already belongs") && !text.contains("token="), "{text}");
    }
}
