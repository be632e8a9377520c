//! Outgoing mail: the SMTP server and sender (`EMAIL_*`), and how long a sign-in link lasts.

use super::{invalid, missing, ConfigProblem, Read, Setting};
use url::Url;

pub const DEFAULT_EMAIL_LINK_TTL_MINUTES: u32 = 30;

#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub server: Url,
    /// `EMAIL_FROM` as given, e.g. `GhostTools <noreply@ghosttools.app>` (checked to parse as a
    /// `Mailbox`).
    pub from: String,
    /// `EMAIL_ALLOW_PLAINTEXT=true`: a remote server without STARTTLS still gets the message (not
    /// credentials) in plaintext. Off by default; preflight flags it.
    pub allow_plaintext: bool,
}

/// Every problem of the mail settings, not only the first: an operator fixing a deploy wants the
/// whole list at once.
pub fn email(read: Read) -> Result<EmailConfig, Vec<ConfigProblem>> {
    let (server, from) = (read(&["EMAIL_SERVER"]), read(&["EMAIL_FROM"]));
    let allow_plaintext = read(&["EMAIL_ALLOW_PLAINTEXT"]).is_some_and(|(_, v)| v == "true" || v == "1");
    let server = server.ok_or_else(|| missing("EMAIL_SERVER")).and_then(|(var, raw)| {
        let url = Url::parse(&raw)
            .map_err(|_| invalid(var, "must look like smtp://user:pass@host:587 or smtps://…:465"))?;
        if !matches!(url.scheme(), "smtp" | "smtps") || url.host_str().is_none() {
            return Err(invalid(var, "scheme must be smtp:// or smtps:// with a host"));
        }
        Ok(url)
    });
    let from =
        from.ok_or_else(|| missing("EMAIL_FROM")).and_then(
            |(var, from)| match crate::domain::Mailbox::parse(&from) {
                Ok(_) => Ok(from),
                Err(_) => Err(invalid(var, "must be an address like GhostTools <noreply@example.com>")),
            },
        );
    match (server, from) {
        (Ok(server), Ok(from)) => Ok(EmailConfig { server, from, allow_plaintext }),
        (server, from) => Err([server.err(), from.err()].into_iter().flatten().collect()),
    }
}

/// How long an emailed sign-in link stays valid (`EMAIL_LINK_TTL_MINUTES`).
pub fn link_ttl_minutes(read: Read) -> Setting<u32> {
    match read(&["EMAIL_LINK_TTL_MINUTES"]) {
        None => Ok(DEFAULT_EMAIL_LINK_TTL_MINUTES),
        Some((var, v)) => match v.parse::<u32>() {
            Ok(n) if (1..=24 * 60).contains(&n) => Ok(n),
            _ => Err(invalid(var, "must be a whole number of minutes from 1 to 1440")),
        },
    }
}
