//! Who and where we are: the environment, the site's origin, the secret that signs sessions and
//! cookies, the company the pages name, and the operators.

use super::{invalid, missing, Read, Secret, Setting};
use url::Url;

const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Test,
    Production,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Test => "test",
            Environment::Production => "production",
        }
    }
}

/// The public origin of the site, e.g. `https://ghosttools.app` (no path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteUrl(Url);

impl SiteUrl {
    pub fn is_https(&self) -> bool {
        self.0.scheme() == "https"
    }
    /// An absolute URL on our own origin for a path that starts with `/`.
    pub fn join(&self, path: &str) -> String {
        let origin = self.0.origin().ascii_serialization();
        format!("{origin}{path}")
    }
    pub fn origin(&self) -> String {
        self.0.origin().ascii_serialization()
    }
    /// The host name (or IP) of the site, without port.
    pub fn host(&self) -> String {
        self.0.host_str().unwrap_or_default().to_string()
    }
}

/// Who runs the site, as the terms, privacy notice and footer name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyInfo {
    /// `COMPANY_NAME` (default "GhostTools").
    pub name: String,
    /// `CONTACT_EMAIL` (default `support@<site host>`, or support@ghosttools.app when the site
    /// has no domain name, e.g. 127.0.0.1 in development).
    pub contact_email: String,
}

pub fn environment(read: Read) -> Environment {
    match read(&["ENVIRONMENT", "NODE_ENV"]).map(|(_, v)| v) {
        Some(v) if v.eq_ignore_ascii_case("production") => Environment::Production,
        Some(v) if v.eq_ignore_ascii_case("test") => Environment::Test,
        _ => Environment::Development,
    }
}

pub fn session_secret(read: Read) -> Setting<Secret> {
    match read(&["NEXTAUTH_SECRET", "SESSION_SECRET"]) {
        None => Err(missing("NEXTAUTH_SECRET")),
        Some((var, v)) if v.len() < MIN_SECRET_BYTES => Err(invalid(var, "must be at least 32 bytes")),
        Some((_, v)) => Ok(Secret(v)),
    }
}

/// Operators (`ADMIN_EMAILS`, comma-separated, lower-cased).
pub fn admin_emails(read: Read) -> Vec<String> {
    read(&["ADMIN_EMAILS"])
        .map(|(_, v)| {
            v.split(',').map(|e| e.trim().to_ascii_lowercase()).filter(|e| e.contains('@')).collect()
        })
        .unwrap_or_default()
}

pub fn site(read: Read) -> Setting<SiteUrl> {
    let value = read(&["NEXTAUTH_URL", "SITE_URL", "NEXT_PUBLIC_BASE_URL"]);
    let (var, raw) = value.ok_or_else(|| missing("NEXTAUTH_URL"))?;
    let url =
        Url::parse(&raw).map_err(|_| invalid(var, "must be an absolute URL like https://example.com"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(var, "must be an http(s) URL with a host"));
    }
    Ok(SiteUrl(url))
}

pub fn company(read: Read, site: Option<&SiteUrl>) -> Setting<CompanyInfo> {
    let (name, contact) = (read(&["COMPANY_NAME"]), read(&["CONTACT_EMAIL"]));
    let name = name.map(|(_, v)| v).unwrap_or_else(|| "GhostTools".to_string());
    let contact_email = match contact {
        Some((var, v)) => match crate::domain::EmailAddress::parse(&v) {
            Ok(email) => email.as_str().to_string(),
            Err(_) => return Err(invalid(var, "must be an email address like support@example.com")),
        },
        None => {
            let host = site.map(SiteUrl::host).unwrap_or_default();
            let is_domain = host.contains('.') && host.parse::<std::net::IpAddr>().is_err();
            let host =
                if is_domain { host.trim_start_matches("www.").to_string() } else { "ghosttools.app".into() };
            format!("support@{host}")
        }
    };
    Ok(CompanyInfo { name, contact_email })
}

/// `DEV_STANDINS`: which services are local stand-ins (a list of stripe, openai, google).
pub(super) fn standins(read: Read, environment: Environment) -> Setting<Vec<String>> {
    let Some((var, raw)) = read(&["DEV_STANDINS"]) else { return Ok(Vec::new()) };
    if environment == Environment::Production {
        return Err(invalid(
            var,
            "is set in production: the local stand-ins are for `make dev` only; remove it",
        ));
    }
    let names: Vec<String> =
        raw.split(',').map(|n| n.trim().to_ascii_lowercase()).filter(|n| !n.is_empty()).collect();
    match names.iter().find(|n| !["stripe", "openai", "google"].contains(&n.as_str())) {
        Some(n) => Err(invalid(var, &format!("names {n}; the stand-ins are stripe, openai and google"))),
        None => Ok(names),
    }
}
