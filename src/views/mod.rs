//! Askama page structs and the layout every page shares. Rendering is pure: a view takes plain
//! data (no runtime types) so pages are tested natively.

pub mod account;
pub mod admin;
pub mod auth;
pub mod billing;
pub mod chart;
pub mod dates;
pub mod errors;
pub mod flash;
pub mod history;
pub mod ledger;
pub mod pages;
pub mod payments;
pub mod refer;
pub mod tools;
pub mod usage;

use crate::config::Config;
use crate::security::CspSources;

/// What the shared layout (templates/base.html) needs on every page.
#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    pub nonce: String,
    pub build: &'static str,
    /// The signed-in user's email, when there is one.
    pub user_email: Option<String>,
    /// The CSRF token for this page's forms (empty when the page has none for this visitor).
    pub csrf: String,
    /// Whether the signed-in user is an operator (the navigation links the console).
    pub is_admin: bool,
    /// The message of the last action (signed flash cookie), shown once.
    pub flash: Option<flash::Flash>,
    /// The path of this page, so the navigation can mark where the visitor is.
    pub path: String,
    /// Who runs the site (`COMPANY_NAME`), for the footer.
    pub company: String,
    /// Rewardful's script, when `NEXT_PUBLIC_REWARDFUL_ID` is set.
    pub rewardful: Option<RewardfulScript>,
    /// Whether PodScribe is offered (`PODSCRIBE_ENABLED`): the navigation links it.
    pub podscribe: bool,
    /// Credits a new account starts with (`WELCOME_CREDITS`; 0: none, and no page says so).
    pub welcome_credits: u32,
    /// The services `make dev` stands in for locally (`DEV_STANDINS`), named for the banner
    /// ("Stripe, OpenAI and Google"); empty: no banner (always so in production).
    pub standins: String,
}

/// `["stripe", "openai"]` → "Stripe and OpenAI".
fn standin_names(names: &[String]) -> String {
    let names: Vec<&str> = names
        .iter()
        .map(|n| match n.as_str() {
            "stripe" => "Stripe",
            "openai" => "OpenAI",
            _ => "Google sign-in",
        })
        .collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// Rewardful's tracking script: the public id (`data-rewardful`) and where the script lives.
#[derive(Debug, Clone)]
pub struct RewardfulScript {
    pub id: String,
    pub src: String,
}

impl Layout {
    pub fn new(title: impl Into<String>, nonce: &str) -> Layout {
        Layout {
            title: title.into(),
            nonce: nonce.to_string(),
            build: crate::config::BUILD_ID,
            user_email: None,
            csrf: String::new(),
            is_admin: false,
            flash: None,
            path: String::new(),
            company: "GhostTools".to_string(),
            rewardful: None,
            podscribe: false,
            welcome_credits: 0,
            standins: String::new(),
        }
    }

    /// What every page takes from configuration: the company name and the Rewardful script.
    pub fn for_site(mut self, config: &Config, path: &str) -> Layout {
        self.path = path.to_string();
        self.podscribe = config.tools.podscribe_enabled;
        self.welcome_credits = config.welcome_credits();
        self.standins = standin_names(config.dev_standins.as_deref().unwrap_or_default());
        if let Ok(company) = &config.company {
            self.company = company.name.clone();
        }
        self.rewardful = config
            .rewardful
            .public_id
            .clone()
            .filter(|_| !carries_credential(path))
            .map(|id| RewardfulScript { id, src: config.endpoints.rewardful_script.clone() });
        self
    }

    /// What a new account starts with, in one sentence (empty when nothing): the pages that say
    /// "Start free" say this, so the promise and the product agree.
    pub fn welcome_offer(&self) -> String {
        let n = self.welcome_credits;
        let plural = |n: u32, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let enough = match n {
            0 => return String::new(),
            // PodScribe reserves what a file's size could hold (services::podscribe): a long but
            // small file is what a few credits transcribe, so the offer says "small file".
            1 if self.podscribe => {
                "one product description or a minute of audio from a small file".to_string()
            }
            _ if self.podscribe => format!(
                "one product description and up to {} of audio from a small file",
                plural(n - 1, "minute", "minutes")
            ),
            _ => plural(n, "product description", "product descriptions"),
        };
        format!(
            "Every new account starts with {}: enough for {enough}.",
            plural(n, "free credit", "free credits")
        )
    }

    /// Whether the navigation link to `href` is this page (`aria-current="page"`).
    pub fn is_current(&self, href: &str) -> bool {
        self.path == href || (href != "/" && self.path.starts_with(&format!("{href}/")))
    }
}

/// Pages whose URL carries a credential (a sign-in or address-change link's token, Google's
/// code and state): no third-party script runs there, since under `'strict-dynamic'` it could
/// read the URL. Every page of these paths, its error pages included, goes without the
/// Rewardful script. Slashes are trimmed as `app::route` trims them, so every spelling that reaches these routes counts.
pub fn carries_credential(path: &str) -> bool {
    matches!(path.trim_matches('/'), "signin/confirm" | "signin/google/callback" | "account/email/confirm")
}

/// Origins beyond our own that pages may use, derived from configuration.
pub fn csp_sources(config: &Config) -> CspSources {
    let mut extra = CspSources::default();
    if config.rewardful.public_id.is_some() {
        if let Ok(url) = url::Url::parse(&config.endpoints.rewardful_script) {
            // The script is loaded by nonce ('strict-dynamic'); its host is listed for browsers
            // without CSP level 3, and for the visit it reports back to its own host.
            extra.script.push(url.origin().ascii_serialization());
            extra.connect.push(url.origin().ascii_serialization());
        }
    }
    // Checkout and the billing portal are reached by a 303 after a form POST; browsers apply
    // form-action to that redirect.
    for origin in [&config.endpoints.stripe_checkout, &config.endpoints.stripe_portal] {
        if !extra.form_action.contains(origin) {
            extra.form_action.push(origin.clone());
        }
    }
    extra
}

/// Renders a template; a failure (a bug) becomes a plain message rather than a panic.
pub fn render(template: &impl askama::Template) -> String {
    template
        .render()
        .unwrap_or_else(|e| format!("<!doctype html><title>Error</title><p>Rendering failed: {e}</p>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(credits: u32, podscribe: bool) -> String {
        Layout { welcome_credits: credits, podscribe, ..Layout::new("t", "n") }.welcome_offer()
    }

    #[test]
    fn the_welcome_offer_says_what_the_credits_are_enough_for() {
        assert_eq!(
            offer(5, true),
            "Every new account starts with 5 free credits: enough for one product description and up to 4 minutes of audio from a small file."
        );
        assert!(offer(2, true)
            .ends_with("one product description and up to 1 minute of audio from a small file."));
        assert!(offer(1, true).contains("1 free credit: enough for one product description or a minute"));
        assert!(offer(3, false).ends_with("enough for 3 product descriptions."));
        assert_eq!(offer(0, true), "");
    }
}
