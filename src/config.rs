//! Every variable and secret, read once into typed settings; problems are named, never panicked.
//!
//! Names follow the seed handbook (`NEXTAUTH_URL`, `STRIPE_*`, …); shorter aliases are accepted
//! where listed. Each setting is a `Setting<T>`: either a parsed value, or the variable it is
//! missing/invalid for. Routes that need a setting call `require`, which turns the problem into
//! a 503 naming the variable; `/api/health` lists all problems of required settings.

use std::fmt;
use url::Url;

/// A value that must never be printed (Debug and Display are redacted).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Why a variable could not be used. `var` names the variable as the operator must set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub var: &'static str,
    pub problem: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.var, self.problem)
    }
}

pub type Setting<T> = Result<T, ConfigProblem>;

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

/// Parsed Sentry DSN: where envelopes go and the key they carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentryDsn {
    pub raw: String,
    pub public_key: String,
    pub envelope_url: String,
}

#[derive(Debug, Clone)]
pub struct StripeConfig {
    pub secret_key: Secret,
    pub webhook_secret: Secret,
    /// During a secret rotation, events signed with the previous secret still verify.
    pub previous_webhook_secret: Option<Secret>,
    pub starter_price_id: String,
    pub pro_price_id: String,
    /// One-time prices sold as credit packs (`STRIPE_CREDIT_PACK_PRICE_IDS`, comma-separated).
    pub credit_pack_price_ids: Vec<String>,
    pub publishable_key: Option<String>,
}

#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    pub api_key: Secret,
}

/// The AI tools: which models, how long to wait, whether PodScribe is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolsConfig {
    /// Chat model for AgentWrite and show notes (`OPENAI_MODEL`).
    pub chat_model: String,
    /// Transcription model (`OPENAI_TRANSCRIBE_MODEL`).
    pub transcribe_model: String,
    /// PodScribe's routes exist only when `PODSCRIBE_ENABLED` is true.
    pub podscribe_enabled: bool,
    /// Longest wait for a chat answer to start, and between two pieces of a stream.
    pub timeout_secs: u64,
    /// Longest wait for a transcription.
    pub transcribe_timeout_secs: u64,
}

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

#[derive(Debug, Clone)]
pub struct GoogleConfig {
    pub client_id: String,
    pub client_secret: Secret,
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

/// Rate limits: the policy table with `RATE_LIMITS` applied, and how long a request waits for
/// the limiter before its policy's fail mode applies (`RATE_LIMIT_TIMEOUT_MS`).
#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    pub limits: crate::rate_limit::RateLimits,
    pub timeout_ms: u32,
    /// Invalid entries (each keeps its default); listed by `/api/health`.
    pub problems: Vec<ConfigProblem>,
}

const DEFAULT_RATE_LIMIT_TIMEOUT_MS: u32 = 1000;

#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    /// What `/api/health` and Sentry call this deployment: `GHOSTTOOLS_VERSION`, which `make
    /// deploy` stamps with the commit it deploys, else the id the Worker was built with (a
    /// build is not redone when only documents or scripts changed, so it may be older).
    pub version: String,
    pub site: Setting<SiteUrl>,
    pub session_secret: Setting<Secret>,
    /// The mail settings, or their first problem; `email_problems` lists them all.
    pub email: Setting<EmailConfig>,
    pub email_problems: Vec<ConfigProblem>,
    /// The Stripe settings, or their first problem; `stripe_problems` lists them all.
    pub stripe: Setting<StripeConfig>,
    pub stripe_problems: Vec<ConfigProblem>,
    pub openai: Setting<OpenAiConfig>,
    pub tools: ToolsConfig,
    /// A tools variable that could not be read (its default is used meanwhile).
    pub tools_problem: Option<ConfigProblem>,
    pub google: Option<Setting<GoogleConfig>>,
    pub sentry: Option<Setting<SentryDsn>>,
    pub rewardful: RewardfulConfig,
    pub company: Setting<CompanyInfo>,
    /// Operators (`ADMIN_EMAILS`, comma-separated, lower-cased): they see `/admin`; nobody else
    /// learns it exists.
    pub admin_emails: Vec<String>,
    pub endpoints: Endpoints,
    pub rate_limits: RateLimitSettings,
    /// How long an emailed sign-in link stays valid (`EMAIL_LINK_TTL_MINUTES`, default 30).
    pub email_link_ttl_minutes: Setting<u32>,
    /// Credits a new account gets once per person (`WELCOME_CREDITS`, 0–1000, 0 = none). An
    /// invalid value gives none (and is listed by `/api/health`).
    pub welcome_credits: Setting<u32>,
    /// How long one Stripe API attempt may take before it is aborted (`STRIPE_TIMEOUT_MS`).
    pub stripe_timeout_ms: u64,
    /// `/api/debug/error` answers with a deliberate 500 so operators can check Sentry wiring.
    pub debug_error_route: bool,
    /// `POST /api/debug/rate-limit/<policy>` counts one request and shows the decision.
    pub debug_rate_limit_route: bool,
    /// `GET /api/debug/memory` shows the Worker's WebAssembly memory size.
    pub debug_memory_route: bool,
    /// Responses carry `Server-Timing` (database round trips, limiter calls; see `timing`):
    /// `SERVER_TIMING`, on by default except in production.
    pub server_timing: bool,
    /// The outside services `make dev` replaced with local stand-ins (`DEV_STANDINS`, e.g.
    /// `stripe,openai,google`): every page says so in a banner. Never in production: there the
    /// variable is a problem (`/api/health`, preflight) and no banner is shown.
    pub dev_standins: Setting<Vec<String>>,
}

const MIN_SECRET_BYTES: usize = 32;
pub const DEFAULT_EMAIL_LINK_TTL_MINUTES: u32 = 30;
/// Enough for one product description (1 credit) and four started minutes of audio.
pub const DEFAULT_WELCOME_CREDITS: u32 = 5;
const MAX_WELCOME_CREDITS: u32 = 1000;

impl Config {
    /// Reads every setting through `get` (the Worker's env, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Config {
        let read = |names: &[&'static str]| -> Option<(&'static str, String)> {
            names
                .iter()
                .find_map(|n| get(n).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).map(|v| (*n, v)))
        };
        let environment = match read(&["ENVIRONMENT", "NODE_ENV"]).map(|(_, v)| v) {
            Some(v) if v.eq_ignore_ascii_case("production") => Environment::Production,
            Some(v) if v.eq_ignore_ascii_case("test") => Environment::Test,
            _ => Environment::Development,
        };
        let site = parse_site(read(&["NEXTAUTH_URL", "SITE_URL", "NEXT_PUBLIC_BASE_URL"]));
        let session_secret = match read(&["NEXTAUTH_SECRET", "SESSION_SECRET"]) {
            None => Err(missing("NEXTAUTH_SECRET")),
            Some((var, v)) if v.len() < MIN_SECRET_BYTES => Err(invalid(var, "must be at least 32 bytes")),
            Some((_, v)) => Ok(Secret(v)),
        };
        let (email, email_problems) = first_of(parse_email(read(&["EMAIL_SERVER"]), read(&["EMAIL_FROM"])));
        let allow_plaintext = read(&["EMAIL_ALLOW_PLAINTEXT"]).is_some_and(|(_, v)| v == "true" || v == "1");
        let email = email.map(|e| EmailConfig { allow_plaintext, ..e });
        let (stripe, stripe_problems) = first_of(parse_stripe(&read));
        let openai = match read(&["OPENAI_API_KEY"]) {
            None => Err(missing("OPENAI_API_KEY")),
            Some((_, v)) => Ok(OpenAiConfig { api_key: Secret(v) }),
        };
        let (tools, tools_problem) = parse_tools(&read);
        let google = match (read(&["GOOGLE_CLIENT_ID"]), read(&["GOOGLE_CLIENT_SECRET"])) {
            (None, None) => None,
            (Some(_), None) => Some(Err(missing("GOOGLE_CLIENT_SECRET"))),
            (None, Some(_)) => Some(Err(missing("GOOGLE_CLIENT_ID"))),
            (Some((_, id)), Some((_, secret))) => {
                Some(Ok(GoogleConfig { client_id: id, client_secret: Secret(secret) }))
            }
        };
        let sentry = read(&["NEXT_PUBLIC_SENTRY_DSN", "SENTRY_DSN"]).map(|(var, v)| parse_dsn(var, &v));
        let rewardful = RewardfulConfig {
            public_id: read(&["NEXT_PUBLIC_REWARDFUL_ID", "REWARDFUL_ID"]).map(|(_, v)| v),
            api_key: read(&["REWARDFUL_API_KEY"]).map(|(_, v)| Secret(v)),
        };
        let company = parse_company(read(&["COMPANY_NAME"]), read(&["CONTACT_EMAIL"]), site.as_ref().ok());
        let admin_emails = read(&["ADMIN_EMAILS"])
            .map(|(_, v)| {
                v.split(',').map(|e| e.trim().to_ascii_lowercase()).filter(|e| e.contains('@')).collect()
            })
            .unwrap_or_default();
        let base = |names: &[&'static str], default: &str| {
            read(names)
                .map(|(_, v)| v.trim_end_matches('/').to_string())
                .unwrap_or_else(|| default.to_string())
        };
        let endpoints = Endpoints {
            stripe_api: base(&["STRIPE_API_BASE"], "https://api.stripe.com"),
            stripe_checkout: origin_of(&base(&["STRIPE_CHECKOUT_ORIGIN"], "https://checkout.stripe.com")),
            stripe_portal: origin_of(&base(&["STRIPE_PORTAL_ORIGIN"], "https://billing.stripe.com")),
            openai_api: base(&["OPENAI_API_BASE", "OPENAI_BASE_URL"], "https://api.openai.com"),
            google_issuer: base(&["GOOGLE_ISSUER"], "https://accounts.google.com"),
            rewardful_api: base(&["REWARDFUL_API_BASE"], "https://api.getrewardful.com"),
            rewardful_script: base(&["REWARDFUL_SCRIPT_URL"], "https://r.wdfl.co/rw.js"),
        };
        let flag = |name: &'static str| read(&[name]).is_some_and(|(_, v)| v == "true" || v == "1");
        let rate_limits = parse_rate_limits(read(&["RATE_LIMITS"]), read(&["RATE_LIMIT_TIMEOUT_MS"]));
        let email_link_ttl_minutes = match read(&["EMAIL_LINK_TTL_MINUTES"]) {
            None => Ok(DEFAULT_EMAIL_LINK_TTL_MINUTES),
            Some((var, v)) => match v.parse::<u32>() {
                Ok(n) if (1..=24 * 60).contains(&n) => Ok(n),
                _ => Err(invalid(var, "must be a whole number of minutes from 1 to 1440")),
            },
        };
        let welcome_credits = match read(&["WELCOME_CREDITS"]) {
            None => Ok(DEFAULT_WELCOME_CREDITS),
            Some((var, v)) => match v.parse::<u32>() {
                Ok(n) if n <= MAX_WELCOME_CREDITS => Ok(n),
                _ => Err(invalid(var, "must be a whole number of credits from 0 (none) to 1000")),
            },
        };
        let stripe_timeout_ms = read(&["STRIPE_TIMEOUT_MS"])
            .and_then(|(_, v)| v.parse::<u64>().ok())
            .filter(|ms| (100..=60_000).contains(ms))
            .unwrap_or(8_000);
        Config {
            environment,
            version: read(&["GHOSTTOOLS_VERSION"]).map_or_else(|| crate::BUILD_ID.to_string(), |(_, v)| v),
            site,
            session_secret,
            email,
            email_problems,
            stripe,
            stripe_problems,
            openai,
            tools,
            tools_problem,
            google,
            sentry,
            rewardful,
            company,
            admin_emails,
            endpoints,
            rate_limits,
            debug_error_route: flag("DEBUG_ERROR_ROUTE"),
            debug_rate_limit_route: flag("DEBUG_RATE_LIMIT_ROUTE"),
            debug_memory_route: flag("DEBUG_MEMORY_ROUTE"),
            email_link_ttl_minutes,
            welcome_credits,
            stripe_timeout_ms,
            dev_standins: parse_standins(read(&["DEV_STANDINS"]), environment),
            server_timing: match read(&["SERVER_TIMING"]) {
                Some((_, v)) => v == "true" || v == "1",
                None => environment != Environment::Production,
            },
        }
    }

    /// The welcome credits to give now: none while `WELCOME_CREDITS` is invalid.
    pub fn welcome_credits(&self) -> u32 {
        self.welcome_credits.as_ref().copied().unwrap_or(0)
    }

    /// Problems that make the deployment unhealthy. Stripe, OpenAI and email are required in
    /// production; in development a missing one only disables its feature (its routes say so).
    pub fn problems(&self) -> Vec<ConfigProblem> {
        let production = self.environment == Environment::Production;
        let mut out = Vec::new();
        let mut check = |p: Option<&ConfigProblem>, required: bool| {
            if let Some(p) = p {
                if required || !p.problem.starts_with("is not set") {
                    out.push(p.clone());
                }
            }
        };
        check(self.site.as_ref().err(), true);
        check(self.session_secret.as_ref().err(), true);
        for p in self.email_problems.iter().chain(&self.stripe_problems) {
            check(Some(p), production);
        }
        check(self.openai.as_ref().err(), production);
        check(self.google.as_ref().and_then(|g| g.as_ref().err()), true);
        check(self.sentry.as_ref().and_then(|s| s.as_ref().err()), true);
        check(self.email_link_ttl_minutes.as_ref().err(), true);
        check(self.welcome_credits.as_ref().err(), true);
        check(self.tools_problem.as_ref(), true);
        check(self.company.as_ref().err(), true);
        check(self.dev_standins.as_ref().err(), true);
        out.extend(self.rate_limits.problems.iter().cloned());
        out
    }
}

/// `DEV_STANDINS`: which services are local stand-ins (a list of stripe, openai, google).
fn parse_standins(value: Option<(&'static str, String)>, environment: Environment) -> Setting<Vec<String>> {
    let Some((var, raw)) = value else { return Ok(Vec::new()) };
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

fn missing(var: &'static str) -> ConfigProblem {
    ConfigProblem { var, problem: "is not set".into() }
}

fn invalid(var: &'static str, why: &str) -> ConfigProblem {
    ConfigProblem { var, problem: why.into() }
}

fn parse_site(value: Option<(&'static str, String)>) -> Setting<SiteUrl> {
    let (var, raw) = value.ok_or_else(|| missing("NEXTAUTH_URL"))?;
    let url =
        Url::parse(&raw).map_err(|_| invalid(var, "must be an absolute URL like https://example.com"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(var, "must be an http(s) URL with a host"));
    }
    Ok(SiteUrl(url))
}

/// Every problem of the mail settings, not only the first: an operator fixing a deploy wants the
/// whole list at once.
fn parse_email(
    server: Option<(&'static str, String)>,
    from: Option<(&'static str, String)>,
) -> Result<EmailConfig, Vec<ConfigProblem>> {
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
        (Ok(server), Ok(from)) => Ok(EmailConfig { server, from, allow_plaintext: false }),
        (server, from) => Err([server.err(), from.err()].into_iter().flatten().collect()),
    }
}

fn parse_company(
    name: Option<(&'static str, String)>,
    contact: Option<(&'static str, String)>,
    site: Option<&SiteUrl>,
) -> Setting<CompanyInfo> {
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

/// Looks a variable up by its names (first set one wins): (the name found, its trimmed value).
type Read<'a> = &'a dyn Fn(&[&'static str]) -> Option<(&'static str, String)>;

/// Every problem of the Stripe settings, not only the first (as `parse_email`).
fn parse_stripe(read: Read) -> Result<StripeConfig, Vec<ConfigProblem>> {
    // Any of `prefixes` will do; the message names the first.
    let need = |var: &'static str, prefixes: &[&str]| -> Setting<String> {
        let (_, v) = read(&[var]).ok_or_else(|| missing(var))?;
        if !prefixes.iter().any(|p| v.starts_with(p)) {
            return Err(invalid(var, &format!("must start with {}", prefixes[0])));
        }
        Ok(v)
    };
    // Restricted keys (`rk_`) work too.
    let secret_key = need("STRIPE_SECRET_KEY", &["sk_", "rk_"]);
    let webhook_secret = need("STRIPE_WEBHOOK_SECRET", &["whsec_"]);
    let previous = read(&["STRIPE_WEBHOOK_SECRET_PREVIOUS"])
        .map(|_| need("STRIPE_WEBHOOK_SECRET_PREVIOUS", &["whsec_"]).map(Secret))
        .transpose();
    let starter = need("STRIPE_STARTER_PRICE_ID", &["price_"]);
    let pro = need("STRIPE_PRO_PRICE_ID", &["price_"]);
    let packs = parse_price_list(read(&["STRIPE_CREDIT_PACK_PRICE_IDS"]));
    let publishable_key = read(&["STRIPE_PUBLISHABLE_KEY"]).map(|(_, v)| v);
    match (secret_key, webhook_secret, previous, starter, pro, packs) {
        (
            Ok(secret_key),
            Ok(webhook_secret),
            Ok(previous_webhook_secret),
            Ok(starter),
            Ok(pro),
            Ok(packs),
        ) => Ok(StripeConfig {
            secret_key: Secret(secret_key),
            webhook_secret: Secret(webhook_secret),
            previous_webhook_secret,
            starter_price_id: starter,
            pro_price_id: pro,
            credit_pack_price_ids: packs,
            publishable_key,
        }),
        (a, b, c, d, e, f) => {
            Err([a.err(), b.err(), c.err(), d.err(), e.err(), f.err()].into_iter().flatten().collect())
        }
    }
}

/// A group's result as a `Setting` (its first problem, which a route's 503 names) and the list
/// of all its problems (which `/api/health` shows).
fn first_of<T>(group: Result<T, Vec<ConfigProblem>>) -> (Setting<T>, Vec<ConfigProblem>) {
    match group {
        Ok(value) => (Ok(value), Vec::new()),
        Err(problems) => (Err(problems[0].clone()), problems),
    }
}

fn parse_rate_limits(
    table: Option<(&'static str, String)>,
    timeout: Option<(&'static str, String)>,
) -> RateLimitSettings {
    let (limits, messages) =
        crate::rate_limit::RateLimits::parse(table.as_ref().map(|(_, v)| v.as_str()).unwrap_or(""));
    let mut problems: Vec<ConfigProblem> = messages.into_iter().map(|m| invalid("RATE_LIMITS", &m)).collect();
    let timeout_ms = match timeout {
        None => DEFAULT_RATE_LIMIT_TIMEOUT_MS,
        Some((var, v)) => match v.parse::<u32>() {
            Ok(ms) if (10..=10_000).contains(&ms) => ms,
            _ => {
                problems.push(invalid(var, "must be a number of milliseconds from 10 to 10000"));
                DEFAULT_RATE_LIMIT_TIMEOUT_MS
            }
        },
    };
    RateLimitSettings { limits, timeout_ms, problems }
}

/// `price_a, price_b` → the ids, each checked; empty or absent → none.
fn parse_price_list(value: Option<(&'static str, String)>) -> Setting<Vec<String>> {
    let Some((var, raw)) = value else { return Ok(Vec::new()) };
    let mut ids: Vec<String> = Vec::new();
    for id in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !id.starts_with("price_") || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(invalid(var, "must be a comma-separated list of price_… ids"));
        }
        if !ids.iter().any(|known| known == id) {
            ids.push(id.to_string());
        }
    }
    Ok(ids)
}

/// The origin (scheme://host[:port]) of a URL; the text itself when it does not parse.
fn origin_of(raw: &str) -> String {
    Url::parse(raw).map(|u| u.origin().ascii_serialization()).unwrap_or_else(|_| raw.to_string())
}

fn parse_tools(read: Read) -> (ToolsConfig, Option<ConfigProblem>) {
    let mut problem = None;
    let mut secs = |var: &'static str, default: u64| match read(&[var]) {
        None => default,
        Some((_, v)) => match v.parse::<u64>() {
            Ok(n) if (1..=3600).contains(&n) => n,
            _ => {
                problem = Some(invalid(var, "must be a number of seconds from 1 to 3600"));
                default
            }
        },
    };
    let timeout_secs = secs("OPENAI_TIMEOUT_SECS", 60);
    let transcribe_timeout_secs = secs("OPENAI_TRANSCRIBE_TIMEOUT_SECS", 600);
    let tools = ToolsConfig {
        chat_model: read(&["OPENAI_MODEL"]).map(|(_, v)| v).unwrap_or_else(|| "gpt-4o-mini".into()),
        transcribe_model: read(&["OPENAI_TRANSCRIBE_MODEL"])
            .map(|(_, v)| v)
            .unwrap_or_else(|| "whisper-1".into()),
        podscribe_enabled: read(&["PODSCRIBE_ENABLED"]).is_some_and(|(_, v)| v == "true" || v == "1"),
        timeout_secs,
        transcribe_timeout_secs,
    };
    (tools, problem)
}

/// `https://<key>@<host>/<project>` → envelope endpoint `https://<host>/api/<project>/envelope/`.
fn parse_dsn(var: &'static str, raw: &str) -> Setting<SentryDsn> {
    let bad = || invalid(var, "must look like https://<key>@<host>/<project_id>");
    let url = Url::parse(raw).map_err(|_| bad())?;
    let key = url.username();
    let project = url.path().trim_matches('/');
    if key.is_empty() || project.is_empty() || url.host_str().is_none() {
        return Err(bad());
    }
    let mut base = url.clone();
    base.set_username("").map_err(|_| bad())?;
    base.set_password(None).map_err(|_| bad())?;
    base.set_path("");
    let origin = base.as_str().trim_end_matches('/');
    Ok(SentryDsn {
        raw: raw.to_string(),
        public_key: key.to_string(),
        envelope_url: format!("{origin}/api/{project}/envelope/"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    const GOOD: &[(&str, &str)] = &[
        ("NEXTAUTH_URL", "https://ghosttools.test"),
        ("NEXTAUTH_SECRET", "0123456789abcdef0123456789abcdef"),
    ];

    #[test]
    fn a_development_config_needs_only_the_site_and_the_secret() {
        assert!(config(GOOD).problems().is_empty());
    }

    #[test]
    fn a_short_secret_is_named_as_the_problem() {
        let c = config(&[("NEXTAUTH_URL", "https://x.test"), ("NEXTAUTH_SECRET", "short")]);
        assert_eq!(c.problems()[0].var, "NEXTAUTH_SECRET");
        assert!(c.problems()[0].problem.contains("32"));
    }

    #[test]
    fn the_stand_ins_banner_is_for_development_and_never_production() {
        let with = |pairs: &[(&str, &str)]| config(&[GOOD, pairs].concat());
        assert_eq!(with(&[("DEV_STANDINS", "stripe, OpenAI")]).dev_standins.unwrap(), ["stripe", "openai"]);
        assert!(with(&[]).dev_standins.unwrap().is_empty());
        assert!(with(&[("DEV_STANDINS", "paypal")]).problems()[0].problem.contains("paypal"));
        let production = with(&[("ENVIRONMENT", "production"), ("DEV_STANDINS", "stripe")]);
        assert!(production.dev_standins.is_err());
        assert!(production.problems().iter().any(|p| p.var == "DEV_STANDINS"), "{:?}", production.problems());
    }

    #[test]
    fn production_requires_stripe_openai_and_email() {
        let mut pairs = GOOD.to_vec();
        pairs.push(("ENVIRONMENT", "production"));
        let vars: Vec<_> = config(&pairs).problems().iter().map(|p| p.var).collect();
        assert_eq!(
            vars,
            [
                "EMAIL_SERVER",
                "EMAIL_FROM",
                "STRIPE_SECRET_KEY",
                "STRIPE_WEBHOOK_SECRET",
                "STRIPE_STARTER_PRICE_ID",
                "STRIPE_PRO_PRICE_ID",
                "OPENAI_API_KEY"
            ]
        );
    }

    #[test]
    fn every_problem_of_the_stripe_and_mail_groups_is_named_not_only_the_first() {
        let pairs = [
            GOOD,
            &[
                ("EMAIL_SERVER", "http://mail.example.test"),
                ("EMAIL_FROM", "GhostTools"),
                ("STRIPE_SECRET_KEY", "pk_test_1"),
                ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
                ("STRIPE_STARTER_PRICE_ID", "prod_starter"),
                ("STRIPE_PRO_PRICE_ID", "price_pro"),
                ("STRIPE_CREDIT_PACK_PRICE_IDS", "price_a, sku_b"),
            ],
        ]
        .concat();
        let c = config(&pairs);
        let vars: Vec<_> = c.problems().iter().map(|p| p.var).collect();
        assert_eq!(
            vars,
            [
                "EMAIL_SERVER",
                "EMAIL_FROM",
                "STRIPE_SECRET_KEY",
                "STRIPE_STARTER_PRICE_ID",
                "STRIPE_CREDIT_PACK_PRICE_IDS"
            ]
        );
        // A route still names the first problem of its group.
        assert_eq!(c.stripe.unwrap_err().var, "STRIPE_SECRET_KEY");
        assert_eq!(c.email.unwrap_err().var, "EMAIL_SERVER");
        // A restricted key is a secret key too.
        let c = config(&[pairs.as_slice(), &[("STRIPE_SECRET_KEY", "rk_test_1")]].concat());
        assert!(!c.problems().iter().any(|p| p.var == "STRIPE_SECRET_KEY"), "{:?}", c.problems());
    }

    #[test]
    fn the_version_is_the_one_stamped_at_deploy_else_the_builds() {
        assert_eq!(config(GOOD).version, crate::BUILD_ID);
        let c = config(&[GOOD, &[("GHOSTTOOLS_VERSION", "0123456789ab")]].concat());
        assert_eq!(c.version, "0123456789ab");
    }

    #[test]
    fn server_timing_is_off_in_production_unless_asked_for() {
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = GOOD.to_vec();
            pairs.extend_from_slice(extra);
            config(&pairs).server_timing
        };
        assert!(with(&[]));
        assert!(!with(&[("ENVIRONMENT", "production")]));
        assert!(with(&[("ENVIRONMENT", "production"), ("SERVER_TIMING", "true")]));
        assert!(!with(&[("SERVER_TIMING", "false")]));
    }

    #[test]
    fn a_malformed_optional_value_is_still_a_problem() {
        let mut pairs = GOOD.to_vec();
        pairs.push(("NEXT_PUBLIC_SENTRY_DSN", "not a dsn"));
        assert_eq!(config(&pairs).problems()[0].var, "NEXT_PUBLIC_SENTRY_DSN");
    }

    #[test]
    fn a_dsn_becomes_its_envelope_endpoint() {
        let dsn = parse_dsn("SENTRY_DSN", "http://abc123@127.0.0.1:9000/42").unwrap();
        assert_eq!(dsn.public_key, "abc123");
        assert_eq!(dsn.envelope_url, "http://127.0.0.1:9000/api/42/envelope/");
    }

    #[test]
    fn secrets_never_print() {
        let c = config(GOOD);
        let printed = format!("{:?}", c);
        assert!(!printed.contains("0123456789abcdef"), "{printed}");
    }

    #[test]
    fn base_urls_default_to_the_real_services_and_can_be_overridden() {
        assert_eq!(config(GOOD).endpoints.stripe_api, "https://api.stripe.com");
        let mut pairs = GOOD.to_vec();
        pairs.push(("STRIPE_API_BASE", "http://127.0.0.1:4242/"));
        assert_eq!(config(&pairs).endpoints.stripe_api, "http://127.0.0.1:4242");
    }

    fn with_stripe(extra: &[(&'static str, &'static str)]) -> Config {
        let mut pairs = GOOD.to_vec();
        pairs.extend_from_slice(&[
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
            ("STRIPE_STARTER_PRICE_ID", "price_starter"),
            ("STRIPE_PRO_PRICE_ID", "price_pro"),
        ]);
        pairs.extend_from_slice(extra);
        config(&pairs)
    }

    #[test]
    fn credit_pack_prices_are_an_optional_checked_list() {
        assert_eq!(with_stripe(&[]).stripe.unwrap().credit_pack_price_ids, Vec::<String>::new());
        let c = with_stripe(&[("STRIPE_CREDIT_PACK_PRICE_IDS", " price_a, price_b,,price_a ")]);
        assert_eq!(c.stripe.unwrap().credit_pack_price_ids, ["price_a", "price_b"]);
        let c = with_stripe(&[("STRIPE_CREDIT_PACK_PRICE_IDS", "price_a, prod_b")]);
        assert_eq!(c.stripe.unwrap_err().var, "STRIPE_CREDIT_PACK_PRICE_IDS");
    }

    #[test]
    fn stripe_redirect_origins_default_to_stripe_and_are_reduced_to_origins() {
        let c = with_stripe(&[]);
        assert_eq!(c.endpoints.stripe_checkout, "https://checkout.stripe.com");
        assert_eq!(c.endpoints.stripe_portal, "https://billing.stripe.com");
        assert_eq!(c.stripe_timeout_ms, 8_000);
        let c = with_stripe(&[
            ("STRIPE_CHECKOUT_ORIGIN", "http://127.0.0.1:4242/pay"),
            ("STRIPE_TIMEOUT_MS", "1500"),
        ]);
        assert_eq!(c.endpoints.stripe_checkout, "http://127.0.0.1:4242");
        assert_eq!(c.stripe_timeout_ms, 1500);
    }

    #[test]
    fn rate_limit_overrides_apply_and_bad_entries_are_named_problems() {
        use crate::rate_limit::{Policy, Rule};
        let c = config(GOOD);
        assert_eq!(c.rate_limits.timeout_ms, 1000);
        assert_eq!(c.rate_limits.limits, Default::default());
        let mut pairs = GOOD.to_vec();
        pairs.push(("RATE_LIMITS", "ai_generation=3/10s,pages=many/1m"));
        pairs.push(("RATE_LIMIT_TIMEOUT_MS", "250"));
        let c = config(&pairs);
        let rule = c.rate_limits.limits.rule(Policy::AiGeneration);
        assert_eq!(rule, Some(Rule { limit: 3, window_secs: 10 }));
        assert_eq!(c.rate_limits.timeout_ms, 250);
        let problems = c.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].var, "RATE_LIMITS");
        assert!(problems[0].problem.contains("pages=many/1m"));
    }

    #[test]
    fn a_bad_limiter_timeout_is_named_and_the_default_kept() {
        let mut pairs = GOOD.to_vec();
        pairs.push(("RATE_LIMIT_TIMEOUT_MS", "0"));
        let c = config(&pairs);
        assert_eq!(c.rate_limits.timeout_ms, 1000);
        assert_eq!(c.problems()[0].var, "RATE_LIMIT_TIMEOUT_MS");
    }

    #[test]
    fn the_sign_in_link_lifetime_defaults_to_30_minutes_and_is_checked() {
        assert_eq!(config(GOOD).email_link_ttl_minutes, Ok(30));
        let mut pairs = GOOD.to_vec();
        pairs.push(("EMAIL_LINK_TTL_MINUTES", "15"));
        assert_eq!(config(&pairs).email_link_ttl_minutes, Ok(15));
        for bad in ["soon", "0", "-5", "100000"] {
            let c = config(&[GOOD, &[("EMAIL_LINK_TTL_MINUTES", bad)]].concat());
            assert_eq!(c.problems()[0].var, "EMAIL_LINK_TTL_MINUTES", "{bad}");
        }
    }

    #[test]
    fn welcome_credits_default_to_five_zero_turns_them_off_and_nonsense_is_named() {
        assert_eq!(config(GOOD).welcome_credits, Ok(5));
        assert_eq!(config(&[GOOD, &[("WELCOME_CREDITS", "0")]].concat()).welcome_credits, Ok(0));
        assert_eq!(config(&[GOOD, &[("WELCOME_CREDITS", " 12 ")]].concat()).welcome_credits, Ok(12));
        for bad in ["five", "-1", "1001", "2.5"] {
            let c = config(&[GOOD, &[("WELCOME_CREDITS", bad)]].concat());
            assert_eq!(c.problems()[0].var, "WELCOME_CREDITS", "{bad}");
            assert_eq!(c.welcome_credits(), 0, "{bad}: none while the value is wrong");
        }
    }

    #[test]
    fn plaintext_mail_is_off_unless_the_operator_opts_out() {
        let mail = [("EMAIL_SERVER", "smtp://relay.example.com:587"), ("EMAIL_FROM", "a@example.com")];
        let allowed = |opt_out: &[(&str, &str)]| {
            config(&[GOOD, &mail, opt_out].concat()).email.expect("mail settings parse").allow_plaintext
        };
        assert!(!allowed(&[]));
        assert!(allowed(&[("EMAIL_ALLOW_PLAINTEXT", "true")]));
        assert!(!allowed(&[("EMAIL_ALLOW_PLAINTEXT", "yes please")]));
    }

    #[test]
    fn a_sender_that_is_not_a_mailbox_is_a_problem() {
        let pairs =
            [GOOD, &[("EMAIL_SERVER", "smtp://h.example:587"), ("EMAIL_FROM", "GhostTools")]].concat();
        assert_eq!(config(&pairs).email.unwrap_err().var, "EMAIL_FROM");
    }

    #[test]
    fn tools_default_to_small_models_and_podscribe_off() {
        let c = config(GOOD);
        assert_eq!(c.tools.chat_model, "gpt-4o-mini");
        assert_eq!(c.tools.transcribe_model, "whisper-1");
        assert!(!c.tools.podscribe_enabled);
        let mut pairs = GOOD.to_vec();
        pairs.extend([
            ("PODSCRIBE_ENABLED", "true"),
            ("OPENAI_MODEL", "gpt-x"),
            ("OPENAI_TIMEOUT_SECS", "soon"),
        ]);
        let c = config(&pairs);
        assert!(c.tools.podscribe_enabled);
        assert_eq!(c.tools.chat_model, "gpt-x");
        assert_eq!(c.tools.timeout_secs, 60);
        assert_eq!(c.problems()[0].var, "OPENAI_TIMEOUT_SECS");
    }

    #[test]
    fn the_company_and_contact_default_sensibly_and_are_checked() {
        let c = config(GOOD).company.unwrap();
        assert_eq!((c.name.as_str(), c.contact_email.as_str()), ("GhostTools", "support@ghosttools.test"));
        let local = config(&[("NEXTAUTH_URL", "http://127.0.0.1:8787"), GOOD[1]]).company.unwrap();
        assert_eq!(local.contact_email, "support@ghosttools.app");
        let pairs =
            [GOOD, &[("COMPANY_NAME", "Ghost Ltd"), ("CONTACT_EMAIL", "Help@Ghost.example")]].concat();
        let c = config(&pairs).company.unwrap();
        assert_eq!((c.name.as_str(), c.contact_email.as_str()), ("Ghost Ltd", "help@ghost.example"));
        let bad = config(&[GOOD, &[("CONTACT_EMAIL", "nobody")]].concat());
        assert_eq!(bad.problems()[0].var, "CONTACT_EMAIL");
    }

    #[test]
    fn admin_emails_are_a_lower_cased_list() {
        assert!(config(GOOD).admin_emails.is_empty());
        let c = config(&[GOOD, &[("ADMIN_EMAILS", " Ops@Example.test, ,x@y.test,notanemail")]].concat());
        assert_eq!(c.admin_emails, ["ops@example.test", "x@y.test"]);
    }

    #[test]
    fn the_site_url_gives_our_origin() {
        let c = config(GOOD);
        let site = c.site.unwrap();
        assert!(site.is_https());
        assert_eq!(site.join("/billing"), "https://ghosttools.test/billing");
    }
}
