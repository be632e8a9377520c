//! The sign-in link's mail: text and HTML alternatives from templates/mail/sign_in.*, composed
//! into one message. Pure, so tested natively.

use super::compose;
use crate::domain::{EmailAddress, Mailbox};
use askama::Template;

/// What the sign-in email says.
pub struct SignInMail<'a> {
    pub to: &'a EmailAddress,
    pub link: &'a str,
    pub minutes: u32,
    /// When the link expires, e.g. `14:05 UTC`.
    pub expires_at: &'a str,
    /// The coarse origin of the request (`Berlin, DE`, or `unknown`).
    pub origin: &'a str,
    /// Our site, e.g. `ghosttools.app`.
    pub site: &'a str,
}

#[derive(Template)]
#[template(path = "mail/sign_in.txt")]
struct SignInText<'a> {
    mail: &'a SignInMail<'a>,
}

#[derive(Template)]
#[template(path = "mail/sign_in.html")]
struct SignInHtml<'a> {
    mail: &'a SignInMail<'a>,
}

pub const SIGN_IN_SUBJECT: &str = "Your GhostTools sign-in link";

/// The whole message (headers and body, CRLF line ends).
pub fn sign_in_message(
    from: &Mailbox,
    mail: &SignInMail,
    now_secs: u64,
    message_id: &str,
) -> Result<String, String> {
    let to = mail.to.as_str();
    let text = SignInText { mail }.render().map_err(|e| e.to_string())?;
    let html = SignInHtml { mail }.render().map_err(|e| e.to_string())?;
    compose(from, to, SIGN_IN_SUBJECT, text, html, now_secs, message_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn sample(origin: &str) -> String {
        let from = Mailbox::parse("GhostTools <noreply@ghosttools.test>").unwrap();
        let to = EmailAddress::parse("ada@example.com").unwrap();
        let mail = SignInMail {
            to: &to,
            link: "https://ghosttools.test/signin/confirm?token=abc_DEF-123",
            minutes: 30,
            expires_at: "14:05 UTC",
            origin,
            site: "ghosttools.test",
        };
        sign_in_message(&from, &mail, 1_800_000_000, "m1").unwrap()
    }

    #[test]
    fn the_sign_in_mail_has_text_and_html_with_the_link_expiry_and_origin() {
        let raw = sample("Berlin, DE");
        let msg = MessageParser::default().parse(raw.as_bytes()).expect("parses as MIME");
        assert_eq!(msg.subject(), Some(SIGN_IN_SUBJECT));
        let from = msg.from().and_then(|a| a.first()).unwrap();
        assert_eq!((from.name(), from.address()), (Some("GhostTools"), Some("noreply@ghosttools.test")));
        assert_eq!(msg.to().and_then(|a| a.first()).and_then(|a| a.address()), Some("ada@example.com"));
        assert_eq!(msg.message_id(), Some("m1@ghosttools.test"));
        let text = msg.body_text(0).unwrap();
        let html = msg.body_html(0).unwrap();
        for part in [&text, &html] {
            assert!(part.contains("https://ghosttools.test/signin/confirm?token=abc_DEF-123"), "{part}");
            assert!(part.contains("30 minutes") && part.contains("14:05 UTC"), "{part}");
            assert!(part.contains("Berlin, DE"), "{part}");
        }
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.lines().all(|l| l.len() <= 998), "no line over the SMTP limit");
    }

    #[test]
    fn html_in_the_origin_is_escaped_in_the_html_part() {
        let raw = sample("<script>");
        let msg = MessageParser::default().parse(raw.as_bytes()).unwrap();
        let html = msg.body_html(0).unwrap();
        assert!(!html.contains("<script>") && html.contains("script"), "{html}");
    }
}
