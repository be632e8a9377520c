//! Every variable and secret, read once into typed settings; problems are named, never panicked.
//!
//! Names follow the seed handbook (`NEXTAUTH_URL`, `STRIPE_*`, …); shorter aliases are accepted
//! where listed. Each setting is a `Setting<T>`: either a parsed value, or the variable it is
//! missing/invalid for. Routes that need a setting call `require`, which turns the problem into
//! a 503 naming the variable; `/api/health` lists all problems of required settings. One file per
//! concern reads its variables (`site`, `mail`, `stripe`, `tools`, `endpoints`, `rate_limits`);
//! `Config::from_lookup` puts them together.

mod endpoints;
mod mail;
mod rate_limits;
mod site;
mod stripe;
#[cfg(test)]
mod tests;
mod tools;

pub use endpoints::{Endpoints, GoogleConfig, RewardfulConfig};
pub use mail::{EmailConfig, DEFAULT_EMAIL_LINK_TTL_MINUTES};
pub use rate_limits::RateLimitSettings;
pub use site::{CompanyInfo, Environment, SiteUrl};
pub use stripe::StripeConfig;
pub use tools::{OpenAiConfig, ToolsConfig, DEFAULT_WELCOME_CREDITS};

use crate::telemetry::{log_line, Reporter, SentryDsn};
use std::cell::OnceCell;
use std::fmt;
use std::rc::Rc;

/// The build this Worker was compiled from (`GHOSTTOOLS_BUILD`, set by the Makefile to the git
/// revision), shown by `/api/health` and used to bust static asset caches.
pub const BUILD_ID: &str = match option_env!("GHOSTTOOLS_BUILD") {
    Some(id) => id,
    None => env!("CARGO_PKG_VERSION"),
};

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

thread_local! {
    // One isolate serves many requests with the same Env: read and validate it once.
    static CONFIG: OnceCell<Rc<Config>> = const { OnceCell::new() };
}

/// The isolate's configuration, read from `env` (variables, then secrets) and validated on
/// first use; its problems are logged then.
pub fn of_env(env: &worker::Env) -> Rc<Config> {
    CONFIG.with(|cell| {
        cell.get_or_init(|| {
            let config = Config::from_lookup(|name| {
                env.var(name)
                    .map(|v| v.to_string())
                    .ok()
                    .or_else(|| env.secret(name).map(|v| v.to_string()).ok())
            });
            for problem in config.problems() {
                log_line("error", "", &format!("configuration: {problem}"));
            }
            Rc::new(config)
        })
        .clone()
    })
}

/// A route that needs a missing or invalid setting answers 503, naming the variable in the log.
impl From<ConfigProblem> for crate::error::AppError {
    fn from(p: ConfigProblem) -> Self {
        crate::error::AppError::Misconfigured { var: p.var, problem: p.problem }
    }
}

pub type Setting<T> = Result<T, ConfigProblem>;

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
    /// Work handed to `waitUntil` is dropped this many seconds after it was handed over
    /// (`WAIT_UNTIL_CUTOFF_SECS`): the e2e harness imitates production, which cuts such work off
    /// about 30 s after the response ends, and `wrangler dev` never does. Ignored in production,
    /// where the platform does it.
    pub wait_until_cutoff_secs: Option<u64>,
}

impl Config {
    /// Reads every setting through `get` (the Worker's env, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Config {
        let read = |names: &[&'static str]| -> Option<(&'static str, String)> {
            names
                .iter()
                .find_map(|n| get(n).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).map(|v| (*n, v)))
        };
        let read: Read = &read;
        let flag = |name: &'static str| read(&[name]).is_some_and(|(_, v)| v == "true" || v == "1");
        let environment = site::environment(read);
        let site = site::site(read);
        let (email, email_problems) = first_of(mail::email(read));
        let (stripe, stripe_problems) = first_of(stripe::stripe(read));
        let (tools, tools_problem) = tools::tools(read);
        Config {
            environment,
            version: read(&["GHOSTTOOLS_VERSION"]).map_or_else(|| BUILD_ID.to_string(), |(_, v)| v),
            company: site::company(read, site.as_ref().ok()),
            site,
            session_secret: site::session_secret(read),
            email,
            email_problems,
            stripe,
            stripe_problems,
            openai: tools::openai(read),
            tools,
            tools_problem,
            google: endpoints::google(read),
            sentry: endpoints::sentry(read),
            rewardful: endpoints::rewardful(read),
            admin_emails: site::admin_emails(read),
            endpoints: endpoints::endpoints(read),
            rate_limits: rate_limits::rate_limits(read),
            debug_error_route: flag("DEBUG_ERROR_ROUTE"),
            debug_rate_limit_route: flag("DEBUG_RATE_LIMIT_ROUTE"),
            debug_memory_route: flag("DEBUG_MEMORY_ROUTE"),
            email_link_ttl_minutes: mail::link_ttl_minutes(read),
            welcome_credits: tools::welcome_credits(read),
            stripe_timeout_ms: stripe::timeout_ms(read),
            dev_standins: site::standins(read, environment),
            wait_until_cutoff_secs: read(&["WAIT_UNTIL_CUTOFF_SECS"])
                .and_then(|(_, v)| v.parse().ok())
                .filter(|_| environment != Environment::Production),
            server_timing: match read(&["SERVER_TIMING"]) {
                Some((_, v)) => v == "true" || v == "1",
                None => environment != Environment::Production,
            },
        }
    }
    /// What an error report of this deployment carries (see `telemetry::Reporter`): `method`
    /// and `path` name the request, or what else the work is (`SCHEDULED`, `cron …`).
    pub fn reporter(&self, request_id: String, method: String, path: String) -> Reporter {
        Reporter {
            dsn: self.sentry.clone().and_then(Result::ok),
            environment: self.environment.as_str(),
            release: self.version.clone(),
            request_id,
            method,
            path,
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

fn missing(var: &'static str) -> ConfigProblem {
    ConfigProblem { var, problem: "is not set".into() }
}

fn invalid(var: &'static str, why: &str) -> ConfigProblem {
    ConfigProblem { var, problem: why.into() }
}

/// Looks a variable up by its names (first set one wins): (the name found, its trimmed value).
type Read<'a> = &'a dyn Fn(&[&'static str]) -> Option<(&'static str, String)>;

/// A group's result as a `Setting` (its first problem, which a route's 503 names) and the list
/// of all its problems (which `/api/health` shows).
fn first_of<T>(group: Result<T, Vec<ConfigProblem>>) -> (Setting<T>, Vec<ConfigProblem>) {
    match group {
        Ok(value) => (Ok(value), Vec::new()),
        Err(problems) => (Err(problems[0].clone()), problems),
    }
}
