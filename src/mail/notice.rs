//! The mail a paying customer gets about their account: a failed payment (with the way to
//! update the card), a renewal (with the allowance granted), a transcript finished after they
//! left, and the deletion of the account.
//! Text and HTML alternatives from templates/mail/notice.{txt,html}; pure, so tested natively.

use super::compose;
use crate::domain::Credits;
use crate::domain::Mailbox;
use askama::Template;

/// What one mail says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerMail {
    /// `billing_link`: our billing page, whose "Manage subscription" opens Stripe's portal (a
    /// portal session expires within minutes, so the mail never carries one).
    PaymentFailed { plan: String, amount: String, billing_link: String },
    PlanRenewed {
        plan: String,
        amount: String,
        credits: Credits,
        balance: Credits,
        renews: Option<String>,
        link: String,
    },
    /// A transcript finished while its owner was away: its file name and page.
    TranscriptReady { file_name: String, link: String },
    /// Sent as the account is erased, to the address it had (which is kept nowhere after).
    AccountDeleted { email: String },
}

impl CustomerMail {
    pub fn subject(&self) -> String {
        match self {
            CustomerMail::PaymentFailed { .. } => {
                "Your GhostTools payment failed: please update your card".into()
            }
            CustomerMail::PlanRenewed { plan, credits, .. } => {
                format!("Your GhostTools {plan} plan renewed: {credits} credits added")
            }
            CustomerMail::TranscriptReady { .. } => "Your transcript is ready".into(),
            CustomerMail::AccountDeleted { .. } => "Your GhostTools account is deleted".into(),
        }
    }
}

/// Both templates read the same fields; `kind` picks the text.
#[derive(Default)]
struct Fields<'a> {
    kind: &'a str,
    plan: &'a str,
    amount: &'a str,
    credits: Credits,
    balance: Credits,
    renews: &'a str,
    link: &'a str,
    email: &'a str,
    file_name: &'a str,
    contact: &'a str,
    site: &'a str,
}

#[derive(Template)]
#[template(path = "mail/notice.txt")]
struct NoticeText<'a> {
    f: &'a Fields<'a>,
}

#[derive(Template)]
#[template(path = "mail/notice.html")]
struct NoticeHtml<'a> {
    f: &'a Fields<'a>,
}

/// Where the mail comes from and what it may point to.
pub struct Sender<'a> {
    pub from: &'a Mailbox,
    /// Our site's host, e.g. `ghosttools.app`.
    pub site: &'a str,
    /// `CONTACT_EMAIL`: who to write to about it.
    pub contact: &'a str,
}

/// The whole message (headers and body, CRLF line ends).
pub fn customer_message(
    sender: &Sender,
    to: &str,
    mail: &CustomerMail,
    now_secs: u64,
    message_id: &str,
) -> Result<String, String> {
    let base = Fields { contact: sender.contact, site: sender.site, ..Fields::default() };
    let fields = match mail {
        CustomerMail::PaymentFailed { plan, amount, billing_link } => {
            Fields { kind: "payment_failed", plan, amount, link: billing_link, ..base }
        }
        CustomerMail::PlanRenewed { plan, amount, credits, balance, renews, link } => Fields {
            kind: "plan_renewed",
            plan,
            amount,
            credits: *credits,
            balance: *balance,
            renews: renews.as_deref().unwrap_or(""),
            link,
            ..base
        },
        CustomerMail::TranscriptReady { file_name, link } => {
            Fields { kind: "transcript_ready", file_name, link, ..base }
        }
        CustomerMail::AccountDeleted { email } => Fields { kind: "account_deleted", email, ..base },
    };
    let text = NoticeText { f: &fields }.render().map_err(|e| e.to_string())?;
    let html = NoticeHtml { f: &fields }.render().map_err(|e| e.to_string())?;
    compose(sender.from, to, &mail.subject(), text, html, now_secs, message_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn parts(mail: &CustomerMail) -> (String, String, String) {
        let from = Mailbox::parse("GhostTools <noreply@ghosttools.test>").unwrap();
        let sender = Sender { from: &from, site: "ghosttools.test", contact: "help@ghosttools.test" };
        let raw = customer_message(&sender, "ada@example.com", mail, 1_800_000_000, "n1").unwrap();
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.lines().all(|l| l.len() <= 998), "no line over the SMTP limit");
        let msg = MessageParser::default().parse(raw.as_bytes()).expect("parses as MIME");
        assert_eq!(msg.subject(), Some(mail.subject().as_str()));
        assert_eq!(msg.to().and_then(|a| a.first()).and_then(|a| a.address()), Some("ada@example.com"));
        let text = msg.body_text(0).unwrap().into_owned();
        let html = msg.body_html(0).unwrap().into_owned();
        (msg.subject().unwrap().to_string(), text, html)
    }

    #[test]
    fn a_failed_payment_says_what_failed_and_links_our_billing_page() {
        let mail = CustomerMail::PaymentFailed {
            plan: "Starter".into(),
            amount: "$9.00".into(),
            billing_link: "https://ghosttools.test/billing".into(),
        };
        let (_, text, html) = parts(&mail);
        for part in [&text, &html] {
            assert!(part.contains("$9.00") && part.contains("Starter"), "{part}");
            assert!(part.contains("https://ghosttools.test/billing"), "{part}");
            assert!(part.contains("Manage subscription"), "{part}");
        }
    }

    #[test]
    fn a_renewal_names_the_allowance_the_balance_and_the_next_date() {
        let mail = CustomerMail::PlanRenewed {
            plan: "Pro".into(),
            amount: "$29.00".into(),
            credits: Credits::new(500),
            balance: Credits::new(612),
            renews: Some("2027-01-04".into()),
            link: "https://ghosttools.test/dashboard".into(),
        };
        let (subject, text, html) = parts(&mail);
        assert!(subject.contains("500 credits"));
        for part in [&text, &html] {
            assert!(part.contains("500 credits") && part.contains("612"), "{part}");
            assert!(part.contains("2027-01-04") && part.contains("$29.00"), "{part}");
        }
    }

    #[test]
    fn a_ready_transcript_names_its_file_escaped_in_html_and_links_its_page() {
        let mail = CustomerMail::TranscriptReady {
            file_name: "ep<1>.mp3".into(),
            link: "https://ghosttools.test/tools/podscribe/tr_abc".into(),
        };
        let (subject, text, html) = parts(&mail);
        assert_eq!(subject, "Your transcript is ready");
        assert!(
            text.contains("ep<1>.mp3") && text.contains("https://ghosttools.test/tools/podscribe/tr_abc")
        );
        assert!(
            !html.contains("ep<1>") && html.contains("ep&#60;1&#62;.mp3") || html.contains("ep&lt;1&gt;.mp3"),
            "{html}"
        );
        assert!(html.contains("href=\"https://ghosttools.test/tools/podscribe/tr_abc\""), "{html}");
    }

    #[test]
    fn the_deletion_mail_names_the_address_escaped_in_html() {
        let mail = CustomerMail::AccountDeleted { email: "a<b>@example.com".into() };
        let (_, text, html) = parts(&mail);
        assert!(text.contains("a<b>@example.com") && text.contains("help@ghosttools.test"), "{text}");
        assert!(!html.contains("a<b>") && html.contains("help@ghosttools.test"), "{html}");
    }
}
