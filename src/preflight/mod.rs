//! The production preflight (the handbook's `prepare-production.sh`): everything that can be
//! checked about a deployment before `wrangler deploy`, each problem named with its fix.
//!
//! Two inputs: wrangler.toml (bindings, Durable Object migration, `[vars]`) and the secrets,
//! from one of three places ([`Secrets`]): this shell's environment, a dotenv file (the one
//! `wrangler secret bulk FILE` would upload), or the names `wrangler secret list` reports (the
//! values cannot be read back from Cloudflare, so only their presence is checked then).
//! Native only (the `preflight` binary); pure, so every check is unit-tested.

mod dotenv;
mod hyperdrive;
mod manifest;
mod settings;
mod wrangler;

pub use dotenv::parse as parse_dotenv;
pub use hyperdrive::{check_db_caching, parse_config as parse_hyperdrive_config, QueryCache};
pub use manifest::db_hyperdrive_id;
pub use wrangler::parse_secret_list;

use std::collections::{BTreeSet, HashMap};

/// Where the secrets' values (or names) come from.
#[derive(Debug, Clone)]
pub enum Secrets {
    /// Exported in this shell (as they would be `wrangler secret put`).
    Shell(HashMap<String, String>),
    /// A dotenv file (`KEY=value` lines), named by its path.
    EnvFile { path: String, values: HashMap<String, String> },
    /// Names uploaded to Cloudflare (`wrangler secret list`): values unknown.
    Uploaded(BTreeSet<String>),
}

/// Whether Stripe should be in live mode (production) or test mode (a staging deployment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StripeMode {
    #[default]
    Live,
    Test,
}

/// One thing that would break (or weaken) production, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub what: String,
    pub fix: String,
}

#[derive(Debug, Default)]
pub struct Report {
    pub problems: Vec<Problem>,
    /// Worth knowing, not blocking (e.g. what could not be checked).
    pub notes: Vec<String>,
}

impl Report {
    fn problem(&mut self, what: impl Into<String>, fix: impl Into<String>) {
        self.problems.push(Problem { what: what.into(), fix: fix.into() });
    }
    fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }
    pub fn ready(&self) -> bool {
        self.problems.is_empty()
    }
    /// The report as the binary prints it: problems with their fixes, then notes.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for p in &self.problems {
            out.push_str(&format!("problem: {}\n    fix: {}\n", p.what, p.fix));
        }
        for n in &self.notes {
            out.push_str(&format!("note: {n}\n"));
        }
        out
    }
}

/// Checks a parsed wrangler.toml and the secrets as a production deployment.
pub fn check(manifest: &toml::Table, secrets: &Secrets, stripe_mode: StripeMode) -> Report {
    let mut report = check_manifest(manifest);
    let vars = manifest::vars(manifest);
    let inputs = Inputs { vars: &vars, secrets, stripe_mode };
    settings::check(&inputs, &mut report);
    report
}

/// Checks wrangler.toml alone (bindings, migration, `[vars]` that must or must not be there).
pub fn check_manifest(manifest: &toml::Table) -> Report {
    let mut report = Report::default();
    manifest::check(manifest, &manifest::vars(manifest), &mut report);
    report
}

/// What the settings checks see: `[vars]`, the secrets, the Stripe mode expected.
pub(crate) struct Inputs<'a> {
    pub vars: &'a HashMap<String, String>,
    pub secrets: &'a Secrets,
    pub stripe_mode: StripeMode,
}

impl Inputs<'_> {
    /// The value the Worker would see, when it is known (a secret wins over `[vars]`, which
    /// is what the shell mode always did; the file and Cloudflare refuse a name in both).
    pub fn value(&self, name: &str) -> Option<String> {
        let secret = match self.secrets {
            Secrets::Shell(values) | Secrets::EnvFile { values, .. } => values.get(name).cloned(),
            Secrets::Uploaded(_) => None,
        };
        secret.or_else(|| self.vars.get(name).cloned()).filter(|v| !v.trim().is_empty())
    }
    /// Whether the Worker will have this variable (its value may be unknown).
    pub fn present(&self, name: &str) -> bool {
        match self.secrets {
            Secrets::Uploaded(names) if names.contains(name) => true,
            _ => self.value(name).is_some(),
        }
    }
    /// How to set or change `var`, in the words of where it lives (or should live).
    pub fn how_to_set(&self, var: &str) -> String {
        let in_secrets = match self.secrets {
            Secrets::Shell(v) | Secrets::EnvFile { values: v, .. } => v.contains_key(var),
            Secrets::Uploaded(names) => names.contains(var),
        };
        if !in_secrets && (self.vars.contains_key(var) || !is_secret(var)) {
            return format!("set {var} under [vars] in wrangler.toml");
        }
        match self.secrets {
            Secrets::Shell(_) => {
                format!("`npx wrangler secret put {var}`, and export the same value here to check it")
            }
            Secrets::EnvFile { path, .. } => {
                format!("set {var} in {path}, then upload it: `npx wrangler secret bulk {path}`")
            }
            Secrets::Uploaded(_) => format!("`npx wrangler secret put {var}`"),
        }
    }
}

/// Names whose values must never sit in `[vars]` (plain text in wrangler.toml and the
/// dashboard): they are `wrangler secret put`.
pub const SECRET_NAMES: &[&str] = &[
    "NEXTAUTH_SECRET",
    "SESSION_SECRET",
    "EMAIL_SERVER",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_WEBHOOK_SECRET_PREVIOUS",
    "OPENAI_API_KEY",
    "GOOGLE_CLIENT_SECRET",
    "REWARDFUL_API_KEY",
];

pub fn is_secret(name: &str) -> bool {
    SECRET_NAMES.contains(&name)
}

/// What production cannot run without; each entry lists the accepted names (first = preferred).
pub const REQUIRED: &[&[&str]] = &[
    &["NEXTAUTH_URL", "SITE_URL", "NEXT_PUBLIC_BASE_URL"],
    &["NEXTAUTH_SECRET", "SESSION_SECRET"],
    &["EMAIL_SERVER"],
    &["EMAIL_FROM"],
    &["STRIPE_SECRET_KEY"],
    &["STRIPE_WEBHOOK_SECRET"],
    &["STRIPE_STARTER_PRICE_ID"],
    &["STRIPE_PRO_PRICE_ID"],
    &["OPENAI_API_KEY"],
    // Shown on /terms and /privacy, and where SECURITY.md sends vulnerability reports: the
    // default (support@<site host>) may be a mailbox nobody reads.
    &["CONTACT_EMAIL"],
];

#[cfg(test)]
mod tests;
