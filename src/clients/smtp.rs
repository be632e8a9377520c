//! Sending mail from the Worker over its TCP socket API, through `EMAIL_SERVER`.
//!
//! The SMTP conversation is `wasm-smtp`'s (made for Workers); this module only decides how to
//! connect: `smtps://` is implicit TLS (465); `smtp://` starts in plaintext on a socket that
//! can be upgraded and switches to TLS when the server offers STARTTLS (587). A sign-in link is
//! a password for one sign-in, so nothing goes in plaintext to anything but this machine (a
//! local sink in dev and tests) unless the operator opts out (`EMAIL_ALLOW_PLAINTEXT`, for a
//! relay that cannot speak TLS), and credentials never do. A local inbox that offers no AUTH
//! (maildev) is written to without it; a remote server that offers none while we hold
//! credentials is an error, not a reason to skip authentication.
//! Every send has a deadline: a server that accepts the connection and then stalls must not
//! hold a visitor's request forever.

use std::time::Duration;
use url::Url;
use wasm_smtp::{SmtpClient, SmtpError, StartTlsCapable, Transport};
use worker::Delay;

/// The whole conversation (connect, TLS, AUTH, DATA) must finish within this.
const DEADLINE: Duration = Duration::from_secs(20);

/// Where and how to deliver, parsed from `EMAIL_SERVER`.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
    pub implicit_tls: bool,
    pub credentials: Option<(String, String)>,
    /// `EMAIL_ALLOW_PLAINTEXT`: a remote server without STARTTLS may receive the message (never
    /// credentials) in plaintext.
    pub allow_plaintext: bool,
}

impl std::fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password never prints.
        f.debug_struct("SmtpServer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("implicit_tls", &self.implicit_tls)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .field("allow_plaintext", &self.allow_plaintext)
            .finish()
    }
}

impl SmtpServer {
    pub fn from_url(url: &Url) -> Result<SmtpServer, String> {
        let implicit_tls = match url.scheme() {
            "smtps" => true,
            "smtp" => false,
            other => return Err(format!("unsupported scheme {other}")),
        };
        let host = url.host_str().ok_or("no host")?.trim_matches(['[', ']']).to_string();
        let port = url.port().unwrap_or(if implicit_tls { 465 } else { 587 });
        let decode = |s: &str| {
            percent_decode(s).ok_or_else(|| "user or password is not valid percent-encoding".to_string())
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (user, pass) => Some((decode(user)?, decode(pass.unwrap_or(""))?)),
        };
        Ok(SmtpServer { host, port, implicit_tls, credentials, allow_plaintext: false })
    }

    /// Loopback only: the one place plaintext AUTH is acceptable.
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self.host.parse::<std::net::IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false)
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes: Vec<u8> = url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned().into_bytes())?;
    String::from_utf8(bytes).ok()
}

/// Why a message was not handed over. Each ends the attempt; none leaves a usable token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Could not connect or the connection broke.
    Unreachable(String),
    /// The server refused our credentials.
    AuthRefused(String),
    /// The server refused the message or spoke unexpectedly.
    Refused(String),
    /// The link or credentials would have gone over plaintext to a remote host.
    Insecure(String),
    TimedOut,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Unreachable(d) => write!(f, "smtp server unreachable: {d}"),
            SendError::AuthRefused(d) => write!(f, "smtp server refused our credentials: {d}"),
            SendError::Refused(d) => write!(f, "smtp server refused the message: {d}"),
            SendError::Insecure(d) => write!(f, "not sending in plaintext: {d}"),
            SendError::TimedOut => write!(f, "smtp server did not finish within {}s", DEADLINE.as_secs()),
        }
    }
}

/// Server replies often echo the envelope (`550 <ann@example.com>: no such user`); the log
/// must not carry a visitor's address, so each error's text loses its addresses first.
fn classify(e: SmtpError) -> SendError {
    match e {
        SmtpError::Io(io) => SendError::Unreachable(strip_addresses(&io.to_string())),
        SmtpError::Auth(auth) => SendError::AuthRefused(strip_addresses(&auth.to_string())),
        other => SendError::Refused(strip_addresses(&other.to_string())),
    }
}

/// Replaces every email address (`local@domain`, with or without angle brackets) in `text` by
/// `<address>`: a word containing `@` with something on both sides is taken for one.
pub fn strip_addresses(text: &str) -> String {
    let is_part = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let start =
            rest[..at].char_indices().rev().take_while(|(_, c)| is_part(*c)).last().map_or(at, |(i, _)| i);
        let after = &rest[at + 1..];
        let end = after.find(|c: char| !(c.is_alphanumeric() || c == '.' || c == '-')).unwrap_or(after.len());
        let domain = after[..end].trim_end_matches('.');
        if start < at && !domain.is_empty() {
            out.push_str(&rest[..start]);
            out.push_str("<address>");
            rest = &after[domain.len()..];
        } else {
            out.push_str(&rest[..=at]);
            rest = after;
        }
    }
    out.push_str(rest);
    out.replace("<<address>>", "<address>")
}

/// An RFC 5322 message and its envelope.
pub struct Envelope<'a> {
    pub from: &'a str,
    pub to: &'a str,
    /// Headers and body with CRLF line ends (as mail-builder writes them).
    pub message: &'a str,
}

/// Delivers one message, or says why not, within the deadline.
pub async fn send(server: &SmtpServer, ehlo_domain: &str, envelope: &Envelope<'_>) -> Result<(), SendError> {
    let conversation = std::pin::pin!(converse(server, ehlo_domain, envelope));
    match futures_util::future::select(conversation, Delay::from(DEADLINE)).await {
        futures_util::future::Either::Left((result, _)) => result,
        futures_util::future::Either::Right(_) => Err(SendError::TimedOut),
    }
}

async fn converse(server: &SmtpServer, ehlo_domain: &str, envelope: &Envelope<'_>) -> Result<(), SendError> {
    if server.implicit_tls {
        let client = wasm_smtp_cloudflare::connect_smtps(&server.host, server.port, ehlo_domain)
            .await
            .map_err(classify)?;
        deliver(client, server, envelope).await
    } else {
        let transport = wasm_smtp_cloudflare::connect_starttls(&server.host, server.port)
            .await
            .map_err(|e| SendError::Unreachable(strip_addresses(&e.to_string())))?;
        converse_starttls(transport, server, ehlo_domain, envelope).await
    }
}

/// The conversation on a plaintext connection that can be upgraded: greeting and EHLO, TLS when
/// the server offers STARTTLS (required before credentials leave for a remote host), then
/// `deliver`. Generic over the transport so tests/fuzz runs it natively against scripted servers.
pub async fn converse_starttls<T: StartTlsCapable>(
    transport: T,
    server: &SmtpServer,
    ehlo_domain: &str,
    envelope: &Envelope<'_>,
) -> Result<(), SendError> {
    let mut client = SmtpClient::connect(transport, ehlo_domain).await.map_err(classify)?;
    match channel(server, offers_starttls(client.capabilities())) {
        Channel::Upgrade => client.starttls().await.map_err(classify)?,
        Channel::Plaintext => {}
        Channel::Refuse(why) => {
            let _ = client.quit().await;
            return Err(SendError::Insecure(why));
        }
    }
    deliver(client, server, envelope).await
}

/// How an `smtp://` conversation goes on after EHLO.
#[derive(Debug, PartialEq, Eq)]
pub enum Channel {
    /// STARTTLS, then everything over TLS.
    Upgrade,
    /// Stay in plaintext: this machine, or a remote relay the operator opted out for.
    Plaintext,
    /// Send nothing; why.
    Refuse(String),
}

/// The decision, apart from any socket so it can be tested for every host: TLS whenever offered;
/// plaintext only to loopback, or to a remote host under `EMAIL_ALLOW_PLAINTEXT` and then
/// never with credentials (a relay that trusts our address needs none).
pub fn channel(server: &SmtpServer, starttls_offered: bool) -> Channel {
    if starttls_offered {
        Channel::Upgrade
    } else if server.is_loopback() {
        Channel::Plaintext
    } else if !server.allow_plaintext {
        Channel::Refuse(format!(
            "{} does not offer STARTTLS (use smtps://, or set EMAIL_ALLOW_PLAINTEXT=true for a relay without TLS)",
            server.host
        ))
    } else if server.credentials.is_some() {
        Channel::Refuse(format!(
            "{} does not offer STARTTLS and credentials never go in plaintext",
            server.host
        ))
    } else {
        Channel::Plaintext
    }
}

/// AUTH (when we hold credentials), the message, QUIT: on a connection that is TLS already, or
/// plaintext where no credentials can leak (a loopback inbox, or a server we hold none for).
pub async fn deliver<T: Transport>(
    mut client: SmtpClient<T>,
    server: &SmtpServer,
    envelope: &Envelope<'_>,
) -> Result<(), SendError> {
    if let Some((user, pass)) = &server.credentials {
        if offers_auth(client.capabilities()) || !server.is_loopback() {
            client.login(user, pass).await.map_err(classify)?;
        }
        // else: a local inbox (maildev in `make dev`) that asks for no credentials.
    }
    client.send_mail(envelope.from, &[envelope.to], envelope.message).await.map_err(classify)?;
    // The message is accepted; a failed goodbye changes nothing.
    let _ = client.quit().await;
    Ok(())
}

/// Only `AUTH <mechanisms>` counts: the client picks its mechanism from that line, so an old
/// `AUTH=LOGIN` line alone is an offer we could not take up.
fn offers_auth(capabilities: &[String]) -> bool {
    capabilities.iter().any(|c| c.trim().to_ascii_uppercase().starts_with("AUTH "))
}

fn offers_starttls(capabilities: &[String]) -> bool {
    capabilities.iter().any(|c| c.trim().eq_ignore_ascii_case("STARTTLS"))
}

/// How we name ourselves in EHLO: our site's host, as an address literal when it is an IP.
pub fn ehlo_domain(site_host: &str) -> String {
    match site_host.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => format!("[{ip}]"),
        Ok(std::net::IpAddr::V6(ip)) => format!("[IPv6:{ip}]"),
        Err(_) => site_host.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(url: &str) -> SmtpServer {
        SmtpServer::from_url(&Url::parse(url).unwrap()).unwrap()
    }

    #[test]
    fn smtp_urls_give_host_port_tls_and_decoded_credentials() {
        let s = server("smtp://apikey:p%40ss%2Bword@smtp.example.com:587");
        assert_eq!((s.host.as_str(), s.port, s.implicit_tls), ("smtp.example.com", 587, false));
        assert_eq!(s.credentials, Some(("apikey".into(), "p@ss+word".into())));
        let s = server("smtps://u:p@smtp.example.com");
        assert_eq!((s.port, s.implicit_tls), (465, true));
        assert_eq!(server("smtp://127.0.0.1:1025").credentials, None);
        assert_eq!(server("smtp://mail.example.com").port, 587);
    }

    #[test]
    fn only_loopback_may_receive_plaintext_credentials() {
        assert!(server("smtp://u:p@127.0.0.1:1025").is_loopback());
        assert!(server("smtp://u:p@localhost:1025").is_loopback());
        assert!(server("smtp://u:p@[::1]:1025").is_loopback());
        assert!(!server("smtp://u:p@smtp.example.com:587").is_loopback());
    }

    #[test]
    fn the_password_never_prints() {
        let printed = format!("{:?}", server("smtp://user:hunter2@h.example:587"));
        assert!(!printed.contains("hunter2"), "{printed}");
    }

    #[test]
    fn starttls_is_recognised_among_capabilities() {
        assert!(offers_starttls(&["PIPELINING".into(), "starttls".into()]));
        assert!(!offers_starttls(&["AUTH PLAIN LOGIN".into()]));
        assert!(offers_auth(&["SIZE 100".into(), "AUTH PLAIN LOGIN".into()]));
        assert!(!offers_auth(&["SIZE 100".into(), "8BITMIME".into()]));
        assert!(!offers_auth(&["AUTH=LOGIN".into()]), "the client cannot choose from AUTH= alone");
    }

    #[test]
    fn tls_is_taken_whenever_offered() {
        for url in ["smtp://u:p@smtp.example.com", "smtp://127.0.0.1:1025", "smtp://relay.example.com"] {
            let mut s = server(url);
            assert_eq!(channel(&s, true), Channel::Upgrade, "{url}");
            s.allow_plaintext = true;
            assert_eq!(channel(&s, true), Channel::Upgrade, "{url}");
        }
    }

    #[test]
    fn a_remote_server_without_starttls_gets_nothing_in_plaintext() {
        assert!(matches!(channel(&server("smtp://relay.example.com:587"), false), Channel::Refuse(_)));
        assert!(matches!(channel(&server("smtp://u:p@smtp.example.com:587"), false), Channel::Refuse(_)));
        assert!(matches!(channel(&server("smtp://10.0.0.5:587"), false), Channel::Refuse(_)));
    }

    #[test]
    fn loopback_may_be_plaintext_with_or_without_credentials() {
        assert_eq!(channel(&server("smtp://127.0.0.1:1025"), false), Channel::Plaintext);
        assert_eq!(channel(&server("smtp://u:p@localhost:1025"), false), Channel::Plaintext);
        assert_eq!(channel(&server("smtp://[::1]:1025"), false), Channel::Plaintext);
    }

    #[test]
    fn the_opt_out_allows_a_plaintext_relay_but_never_plaintext_credentials() {
        let mut relay = server("smtp://relay.example.com:587");
        relay.allow_plaintext = true;
        assert_eq!(channel(&relay, false), Channel::Plaintext);
        let mut with_credentials = server("smtp://u:p@relay.example.com:587");
        with_credentials.allow_plaintext = true;
        assert!(matches!(channel(&with_credentials, false), Channel::Refuse(_)));
    }

    #[test]
    fn addresses_are_stripped_from_server_errors() {
        assert_eq!(
            strip_addresses("550 5.1.1 <ann.lee+x@mail.example.com>: Recipient address rejected"),
            "550 5.1.1 <address>: Recipient address rejected"
        );
        assert_eq!(strip_addresses("bad from bob@example.org."), "bad from <address>.");
        assert_eq!(strip_addresses("a@b.c and c@d.e"), "<address> and <address>");
        assert_eq!(strip_addresses("connection reset"), "connection reset");
        assert_eq!(strip_addresses("lone @ sign and trailing@"), "lone @ sign and trailing@");
    }

    #[test]
    fn server_errors_lose_addresses_before_they_are_logged() {
        let e = classify(SmtpError::Io(wasm_smtp::IoError::new("reset talking to zoe@example.com")));
        assert!(!e.to_string().contains("zoe@"), "{e}");
    }

    #[test]
    fn ip_hosts_become_address_literals() {
        assert_eq!(ehlo_domain("127.0.0.1"), "[127.0.0.1]");
        assert_eq!(ehlo_domain("ghosttools.app"), "ghosttools.app");
    }
}
