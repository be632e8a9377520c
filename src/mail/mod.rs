//! The mail we send, written: each message's text and HTML alternatives rendered from
//! templates/mail/ and composed into one MIME message (mail-builder encodes and folds the
//! headers; CRLF line ends). Pure, so tested natively: sign_in (the link), account (an address
//! change), notice (what a paying customer hears about their account). Sending is
//! clients::smtp's; who sends what is sign_in's and services::notices'.

pub mod account;
pub mod notice;
pub mod sign_in;

use crate::domain::Mailbox;
use mail_builder::headers::address::Address;
use mail_builder::headers::date::Date;
use mail_builder::MessageBuilder;

/// A whole automated message from `from` to `to` with text and HTML alternatives (headers
/// encoded and folded by mail-builder, CRLF line ends). `message_id` is its local part.
pub fn compose(
    from: &Mailbox,
    to: &str,
    subject: &str,
    text: String,
    html: String,
    now_secs: u64,
    message_id: &str,
) -> Result<String, String> {
    let from_address = match &from.name {
        Some(name) => Address::new_address(Some(name.clone()), from.address.to_string()),
        None => Address::new_address(None::<String>, from.address.to_string()),
    };
    MessageBuilder::new()
        .from(from_address)
        .to(to.to_string())
        .subject(subject)
        .message_id(format!("{message_id}@{}", from.address.domain()))
        .date(Date::new(now_secs as i64))
        // Automated mail: no auto-replies (RFC 3834).
        .header("Auto-Submitted", mail_builder::headers::raw::Raw::new("auto-generated"))
        .text_body(text)
        .html_body(html)
        .write_to_string()
        .map_err(|e| e.to_string())
}
