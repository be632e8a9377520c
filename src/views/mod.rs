//! Askama page structs and the layout every page shares. Rendering is pure: a view takes plain
//! data (no runtime types) so pages are tested natively.

pub mod account;
pub mod auth;
pub mod billing;
pub mod errors;
pub mod history;
pub mod mail;
pub mod pages;
pub mod tools;

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
}

impl Layout {
    pub fn new(title: impl Into<String>, nonce: &str) -> Layout {
        Layout {
            title: title.into(),
            nonce: nonce.to_string(),
            build: crate::BUILD_ID,
            user_email: None,
            csrf: String::new(),
        }
    }
}

/// Origins beyond our own that pages may use, derived from configuration.
pub fn csp_sources(config: &Config) -> CspSources {
    let mut extra = CspSources::default();
    if config.rewardful.public_id.is_some() {
        if let Ok(url) = url::Url::parse(&config.endpoints.rewardful_script) {
            extra.script.push(url.origin().ascii_serialization());
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
