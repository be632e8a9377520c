//! Outside services: where each one is (base URLs, overridable so tests and local runs use
//! fakes), and our accounts with Google, Rewardful and Sentry.

use super::{invalid, missing, Read, Secret, Setting};
use crate::telemetry::SentryDsn;
use url::Url;

#[derive(Debug, Clone)]
pub struct GoogleConfig {
    pub client_id: String,
    pub client_secret: Secret,
}

#[derive(Debug, Clone)]
pub struct RewardfulConfig {
    pub public_id: Option<String>,
    pub api_key: Option<Secret>,
}

/// Base URLs of every outside service, overridable so tests and local runs use fakes.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub stripe_api: String,
    /// Origins our forms redirect to (the CSP's `form-action` must allow them: browsers enforce
    /// it on the redirect after a form POST).
    pub stripe_checkout: String,
    pub stripe_portal: String,
    pub openai_api: String,
    pub google_issuer: String,
    pub rewardful_api: String,
    pub rewardful_script: String,
}

/// Google sign-in is on when both its client id and secret are set; one without the other is a
/// problem.
pub fn google(read: Read) -> Option<Setting<GoogleConfig>> {
    match (read(&["GOOGLE_CLIENT_ID"]), read(&["GOOGLE_CLIENT_SECRET"])) {
        (None, None) => None,
        (Some(_), None) => Some(Err(missing("GOOGLE_CLIENT_SECRET"))),
        (None, Some(_)) => Some(Err(missing("GOOGLE_CLIENT_ID"))),
        (Some((_, id)), Some((_, secret))) => {
            Some(Ok(GoogleConfig { client_id: id, client_secret: Secret(secret) }))
        }
    }
}

pub fn rewardful(read: Read) -> RewardfulConfig {
    RewardfulConfig {
        public_id: read(&["NEXT_PUBLIC_REWARDFUL_ID", "REWARDFUL_ID"]).map(|(_, v)| v),
        api_key: read(&["REWARDFUL_API_KEY"]).map(|(_, v)| Secret(v)),
    }
}

pub fn sentry(read: Read) -> Option<Setting<SentryDsn>> {
    read(&["NEXT_PUBLIC_SENTRY_DSN", "SENTRY_DSN"]).map(|(var, v)| {
        SentryDsn::parse(&v).ok_or_else(|| invalid(var, "must look like https://<key>@<host>/<project_id>"))
    })
}

pub fn endpoints(read: Read) -> Endpoints {
    let base = |names: &[&'static str], default: &str| {
        read(names).map(|(_, v)| v.trim_end_matches('/').to_string()).unwrap_or_else(|| default.to_string())
    };
    Endpoints {
        stripe_api: base(&["STRIPE_API_BASE"], "https://api.stripe.com"),
        stripe_checkout: origin_of(&base(&["STRIPE_CHECKOUT_ORIGIN"], "https://checkout.stripe.com")),
        stripe_portal: origin_of(&base(&["STRIPE_PORTAL_ORIGIN"], "https://billing.stripe.com")),
        openai_api: base(&["OPENAI_API_BASE", "OPENAI_BASE_URL"], "https://api.openai.com"),
        google_issuer: base(&["GOOGLE_ISSUER"], "https://accounts.google.com"),
        rewardful_api: base(&["REWARDFUL_API_BASE"], "https://api.getrewardful.com"),
        rewardful_script: base(&["REWARDFUL_SCRIPT_URL"], "https://r.wdfl.co/rw.js"),
    }
}

/// The origin (scheme://host[:port]) of a URL; the text itself when it does not parse.
fn origin_of(raw: &str) -> String {
    Url::parse(raw).map(|u| u.origin().ascii_serialization()).unwrap_or_else(|_| raw.to_string())
}
