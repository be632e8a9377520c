//! The site's outgoing mail: who it comes from (`EMAIL_FROM`) and the server it goes through
//! (`EMAIL_SERVER`, TLS unless `EMAIL_ALLOW_PLAINTEXT`), for every mail the sign-in and account
//! flows send.

use crate::clients::smtp::{self, Envelope, SendError, SmtpServer};
use crate::ctx::Ctx;
use crate::domain::{EmailAddress, Mailbox};
use crate::error::AppError;

pub struct Outbox {
    pub from: Mailbox,
    server: SmtpServer,
    /// Our site's host (`ghosttools.app`): the mails name it, and it is our EHLO name.
    pub site_host: String,
}

impl Outbox {
    /// The configured outbox; a missing or broken setting is a 503 naming the variable.
    pub fn of(cx: &Ctx) -> Result<Outbox, AppError> {
        let config = cx.config.email.as_ref().map_err(|p| AppError::from(p.clone()))?;
        let from = Mailbox::parse(&config.from)
            .map_err(|e| AppError::Misconfigured { var: "EMAIL_FROM", problem: e.to_string() })?;
        let server = SmtpServer::from_url(&config.server)
            .map(|s| SmtpServer { allow_plaintext: config.allow_plaintext, ..s })
            .map_err(|problem| AppError::Misconfigured { var: "EMAIL_SERVER", problem })?;
        Ok(Outbox { from, server, site_host: cx.site()?.host() })
    }

    /// A fresh Message-ID's local part.
    pub fn message_id() -> String {
        let mut bytes = [0u8; 16];
        crate::security::fill_random(&mut bytes);
        hex::encode(bytes)
    }

    /// Hands `message` (built for `to`) to the mail server.
    pub async fn send(&self, to: &EmailAddress, message: &str) -> Result<(), SendError> {
        let envelope = Envelope { from: self.from.address.as_str(), to: to.as_str(), message };
        smtp::send(&self.server, &smtp::ehlo_domain(&self.site_host), &envelope).await
    }
}
