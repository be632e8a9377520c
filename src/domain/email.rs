//! Email addresses as the product accepts them: one mailbox, dot-atom local part, a real domain
//! name, lower-cased. Anything that could smuggle a header or a second recipient (CR, LF, other
//! control characters, quotes, commas, angle brackets, spaces) is refused with a reason.

use std::fmt;

/// RFC 5321 limits: 64 octets of local part, 254 for the whole path.
const MAX_LOCAL: usize = 64;
const MAX_TOTAL: usize = 254;
const MAX_LABEL: usize = 63;

/// A syntactically sound, lower-cased email address (ASCII; an internationalised domain is
/// stored in its `xn--` form).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

/// Why an address was refused, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailError {
    Empty,
    TooLong,
    /// Control characters (CR/LF and the like): never part of an address; often an injection.
    ControlCharacters,
    NotOneAt,
    BadLocalPart,
    BadDomain,
}

impl fmt::Display for EmailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EmailError::Empty => "Enter your email address.",
            EmailError::TooLong => "That email address is too long.",
            EmailError::ControlCharacters => "That email address contains characters that are not allowed.",
            EmailError::NotOneAt => "Enter one email address, like name@example.com.",
            EmailError::BadLocalPart => {
                "The part before the @ can use letters, digits, dots and - _ + only, like name@example.com."
            }
            EmailError::BadDomain => "The part after the @ must be a domain name, like example.com.",
        })
    }
}

impl std::error::Error for EmailError {}

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<EmailAddress, EmailError> {
        EmailAddress::parse_with(raw, false)
    }

    /// `single_label` admits a domain without dots (`noreply@localhost`): fine for our own
    /// configured sender in development, never for an address a visitor types.
    fn parse_with(raw: &str, single_label: bool) -> Result<EmailAddress, EmailError> {
        if raw.chars().any(char::is_control) {
            return Err(EmailError::ControlCharacters);
        }
        let s = raw.trim_matches(' ');
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.len() > MAX_TOTAL * 2 {
            return Err(EmailError::TooLong);
        }
        let mut parts = s.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(EmailError::NotOneAt);
        };
        let local = parse_local(local)?;
        let domain = parse_domain(domain, single_label)?;
        let address = format!("{local}@{domain}");
        if address.len() > MAX_TOTAL {
            return Err(EmailError::TooLong);
        }
        Ok(EmailAddress(address))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }

    /// The address as one person is recognised by, for welcome credits only (never for mail or
    /// sign-in): a `+tag` dropped, and for Gmail the dots too (Gmail ignores them), with
    /// googlemail.com read as gmail.com. `Ada.L+shop@GoogleMail.com` is `adal@gmail.com`.
    pub fn person_key(&self) -> String {
        let (local, domain) = self.0.rsplit_once('@').unwrap_or((&self.0, ""));
        let untagged = local.split('+').next().filter(|l| !l.is_empty()).unwrap_or(local);
        let domain = if domain == "googlemail.com" { "gmail.com" } else { domain };
        let local: String = if domain == "gmail.com" {
            untagged.chars().filter(|&c| c != '.').collect()
        } else {
            untagged.to_string()
        };
        format!("{local}@{domain}")
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Dot-atom (RFC 5322 §3.2.3) without the rarely used symbols that confuse people and tools.
fn parse_local(local: &str) -> Result<String, EmailError> {
    if local.is_empty() {
        return Err(EmailError::BadLocalPart);
    }
    if local.len() > MAX_LOCAL {
        return Err(EmailError::TooLong);
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '\'');
    if !local.chars().all(allowed) || local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(EmailError::BadLocalPart);
    }
    Ok(local.to_ascii_lowercase())
}

/// A DNS name with at least two labels; IDN domains become their ASCII (punycode) form.
fn parse_domain(domain: &str, single_label: bool) -> Result<String, EmailError> {
    if domain.is_empty() || domain.starts_with('[') {
        return Err(EmailError::BadDomain);
    }
    // Only what a domain name can hold goes to the IDNA conversion (which would accept more).
    if domain.chars().any(|c| c.is_ascii() && !(c.is_ascii_alphanumeric() || c == '-' || c == '.')) {
        return Err(EmailError::BadDomain);
    }
    let ascii = if domain.is_ascii() {
        match url::Host::parse(domain) {
            Ok(url::Host::Domain(d)) => d,
            _ => return Err(EmailError::BadDomain),
        }
    } else {
        idn_to_ascii(domain)?
    };
    let labels: Vec<&str> = ascii.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= MAX_LABEL
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let tld_ok = labels.last().is_some_and(|t| t.chars().any(|c| c.is_ascii_alphabetic()));
    if (labels.len() < 2 && !single_label) || !labels.iter().all(label_ok) || !tld_ok {
        return Err(EmailError::BadDomain);
    }
    Ok(ascii.to_ascii_lowercase())
}

/// An internationalised domain in its ASCII form, label by label: lower-cased, then punycode
/// (`xn--…`). Done here rather than by `url`'s full UTS 46 mapping, whose Unicode tables cost
/// the Worker 47 KiB gzip (BENCHMARKS.md); what that mapping would add is normalisation, so a
/// label holding combining marks (a decomposed "u" + "¨" where "ü" is meant) is refused rather
/// than turned into an address that reaches nobody.
fn idn_to_ascii(domain: &str) -> Result<String, EmailError> {
    let combining = |c: char| matches!(c, '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}');
    let mut labels = Vec::new();
    for label in domain.split('.') {
        let label = label.to_lowercase();
        if label.is_ascii() {
            labels.push(label);
            continue;
        }
        if label.chars().any(|c| combining(c) || !(c.is_alphanumeric() || c == '-')) {
            return Err(EmailError::BadDomain);
        }
        let encoded = idna::punycode::encode_str(&label).ok_or(EmailError::BadDomain)?;
        labels.push(format!("xn--{encoded}"));
    }
    Ok(labels.join("."))
}

/// `Display Name <address>` or a bare address, as in `EMAIL_FROM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<String>,
    pub address: EmailAddress,
}

impl Mailbox {
    pub fn parse(raw: &str) -> Result<Mailbox, EmailError> {
        if raw.chars().any(char::is_control) {
            return Err(EmailError::ControlCharacters);
        }
        let raw = raw.trim();
        match (raw.rfind('<'), raw.strip_suffix('>')) {
            (Some(open), Some(_)) => {
                let name = raw[..open].trim().trim_matches('"').trim();
                let address = EmailAddress::parse_with(&raw[open + 1..raw.len() - 1], true)?;
                let name = (!name.is_empty()).then(|| name.to_string());
                Ok(Mailbox { name, address })
            }
            _ => Ok(Mailbox { name: None, address: EmailAddress::parse_with(raw, true)? }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        EmailAddress::parse(s).unwrap_or_else(|e| panic!("{s:?} refused: {e}")).to_string()
    }

    fn err(s: &str) -> EmailError {
        EmailAddress::parse(s).expect_err(s)
    }

    #[test]
    fn ordinary_addresses_are_accepted_and_lower_cased() {
        assert_eq!(ok("Ada.Lovelace@Example.COM"), "ada.lovelace@example.com");
        assert_eq!(ok("  name+tag@mail.example.co.uk "), "name+tag@mail.example.co.uk");
        assert_eq!(ok("o'brien@example.ie"), "o'brien@example.ie");
        assert_eq!(ok("a_b-c@sub-domain.example.org"), "a_b-c@sub-domain.example.org");
    }

    #[test]
    fn tags_and_gmail_dots_do_not_make_another_person() {
        let key = |s: &str| EmailAddress::parse(s).unwrap().person_key();
        assert_eq!(key("Ada.L+shop@GoogleMail.com"), "adal@gmail.com");
        assert_eq!(key("a.d.a.l@gmail.com"), key("adal+1@gmail.com"));
        assert_eq!(key("ada+news@example.com"), "ada@example.com");
        // Dots matter elsewhere; a local part that is only a tag stays as it is.
        assert_eq!(key("ada.l@example.com"), "ada.l@example.com");
        assert_ne!(key("ada.l@example.com"), key("adal@example.com"));
        assert_eq!(key("+only@example.com"), "+only@example.com");
    }

    #[test]
    fn an_internationalised_domain_is_kept_in_ascii_form() {
        assert_eq!(ok("user@bücher.example"), "user@xn--bcher-kva.example");
        assert_eq!(ok("user@Bücher.Example"), "user@xn--bcher-kva.example");
        assert_eq!(ok("ana@correo.españa.es"), "ana@correo.xn--espaa-rta.es");
        assert_eq!(ok("a@例え.jp"), "a@xn--r8jz45g.jp");
    }

    #[test]
    fn an_internationalised_domain_that_is_not_normalised_or_holds_symbols_is_refused() {
        assert_eq!(err("user@bu\u{308}cher.example"), EmailError::BadDomain);
        assert_eq!(err("user@bü€her.example"), EmailError::BadDomain);
        assert_eq!(err("user@bücher..example"), EmailError::BadDomain);
    }

    #[test]
    fn header_injection_is_refused() {
        for s in [
            "a@example.com\r\nBcc: victim@example.org",
            "a@example.com\nSubject: hi",
            "a@example.com\r",
            "a\u{0}@example.com",
            "a@example.com\t",
        ] {
            assert_eq!(err(s), EmailError::ControlCharacters, "{s:?}");
        }
    }

    #[test]
    fn more_than_one_recipient_is_refused() {
        assert!(EmailAddress::parse("a@example.com, b@example.com").is_err());
        assert!(EmailAddress::parse("a@example.com;b@example.com").is_err());
        assert_eq!(err("a@b@example.com"), EmailError::NotOneAt);
        assert!(EmailAddress::parse("Eve <eve@example.com>").is_err());
    }

    #[test]
    fn malformed_addresses_name_their_problem() {
        assert_eq!(err(""), EmailError::Empty);
        assert_eq!(err("   "), EmailError::Empty);
        assert_eq!(err("plainaddress"), EmailError::NotOneAt);
        assert_eq!(err("@example.com"), EmailError::BadLocalPart);
        assert_eq!(err(".a@example.com"), EmailError::BadLocalPart);
        assert_eq!(err("a..b@example.com"), EmailError::BadLocalPart);
        assert_eq!(err("\"quoted\"@example.com"), EmailError::BadLocalPart);
        assert_eq!(err("a b@example.com"), EmailError::BadLocalPart);
        assert_eq!(err("a@localhost"), EmailError::BadDomain);
        assert_eq!(err("a@[127.0.0.1]"), EmailError::BadDomain);
        assert_eq!(err("a@127.0.0.1"), EmailError::BadDomain);
        assert_eq!(err("a@-x.example.com"), EmailError::BadDomain);
        assert_eq!(err("a@example..com"), EmailError::BadDomain);
        assert_eq!(err("a@exa_mple.com"), EmailError::BadDomain);
        assert_eq!(err("a@"), EmailError::BadDomain);
    }

    #[test]
    fn length_limits_hold() {
        let local = "a".repeat(65);
        assert_eq!(err(&format!("{local}@example.com")), EmailError::TooLong);
        let label = "b".repeat(64);
        assert_eq!(err(&format!("a@{label}.com")), EmailError::BadDomain);
        let long_domain = vec!["c".repeat(60); 5].join(".");
        assert_eq!(err(&format!("a@{long_domain}.com")), EmailError::TooLong);
        assert_eq!(err(&"x".repeat(1000)), EmailError::TooLong);
    }

    #[test]
    fn a_sender_mailbox_keeps_its_display_name() {
        let m = Mailbox::parse("GhostTools <NoReply@GhostTools.test>").unwrap();
        assert_eq!(m.name.as_deref(), Some("GhostTools"));
        assert_eq!(m.address.as_str(), "noreply@ghosttools.test");
        let bare = Mailbox::parse("noreply@ghosttools.test").unwrap();
        assert_eq!(bare.name, None);
        assert!(Mailbox::parse("Evil\r\nBcc: x@y.z <a@b.c>").is_err());
        // The development sender (see .dev.vars.example).
        assert_eq!(
            Mailbox::parse("GhostTools <noreply@localhost>").unwrap().address.as_str(),
            "noreply@localhost"
        );
    }
}
