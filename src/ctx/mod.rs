//! Per-request state built from the Worker's `Env`: configuration, request id, CSP nonce, the
//! clock, the rate-limit subject and decisions, the request's one lazily opened database
//! connection, and what it spent on I/O (`timing`).

use crate::auth::session::Claims;
use crate::config::{Config, SiteUrl};
use crate::cookie::Cookie;
use crate::db::Db;
use crate::domain::Credits;
use crate::domain::User;
use crate::error::AppError;
use crate::rate_limit::{Decision, Limiter, Policy, Subject};
use crate::telemetry::{log_line, now_ms, Reporter};
use crate::timing::Timing;
use std::cell::{OnceCell, RefCell};
use std::future::Future;
use std::rc::Rc;
use worker::{Context, Env};

mod session;

pub struct Ctx {
    pub env: Env,
    pub config: Rc<Config>,
    pub request_id: String,
    pub nonce: String,
    pub method: worker::Method,
    /// False for a method `worker::Method` does not name (it reads those as GET): never routed.
    pub method_known: bool,
    pub path: String,
    /// Milliseconds since the epoch at the start of the request, from the runtime's clock.
    pub now_ms: u64,
    /// Who the request is counted as by rate limits; set by `app` from `rate_limit_subject`.
    pub subject: Subject,
    /// Every rate-limit decision taken for this request (their headers go on the response).
    limits: RefCell<Vec<Decision>>,
    /// Database and limiter work of this request (the `Server-Timing` header).
    /// Shared with a run the request waits for, whose own connection counts too (`JobEnv`).
    pub timing: Rc<Timing>,
    worker_ctx: Context,
    headers: worker::Headers,
    cookies: OnceCell<Vec<(String, String)>>,
    db: OnceCell<Db>,
    /// Headers added to whatever response this request ends with (cookies, rate limits).
    extra_headers: RefCell<Vec<(String, String)>>,
    pub(crate) session: OnceCell<Option<Claims>>,
    pub(crate) user: OnceCell<Option<User>>,
    /// The signed-in account's balance and hold, when read with the session check
    /// (`routes::tools::payer`).
    pub(crate) standing: OnceCell<(Credits, Option<&'static str>)>,
    pub(crate) pre_session: OnceCell<String>,
}

impl Ctx {
    pub fn new(env: Env, worker_ctx: Context, req: &crate::incoming::Incoming) -> Ctx {
        let config = crate::config::of_env(&env);
        let now_ms = now_ms();
        let (method, method_known) = req.method();
        let mut random = [0u8; 28];
        crate::security::fill_random(&mut random);
        Ctx {
            env,
            config,
            // 96 bits for the id, 128 for the nonce, from one call to the runtime's randomness.
            request_id: crate::security::token(&random[16..]),
            nonce: crate::security::token(&random[..16]),
            method,
            method_known,
            path: req.path(),
            now_ms,
            subject: Subject::ip(None),
            limits: RefCell::new(Vec::new()),
            timing: Rc::new(Timing::new(now_ms)),
            worker_ctx,
            headers: req.headers(),
            cookies: OnceCell::new(),
            db: OnceCell::new(),
            extra_headers: RefCell::new(Vec::new()),
            session: OnceCell::new(),
            user: OnceCell::new(),
            standing: OnceCell::new(),
            pre_session: OnceCell::new(),
        }
    }

    /// A request header (lower-case name).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).ok().flatten()
    }

    /// A request cookie by name (first occurrence).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        let cookies =
            self.cookies.get_or_init(|| crate::cookie::pairs(&self.header("cookie").unwrap_or_default()));
        cookies.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// This request's value of one of our cookies (by its name on this scheme).
    pub fn cookie_of(&self, cookie: &Cookie) -> Option<&str> {
        self.cookie(cookie.name(self.https()))
    }

    /// Stores `value` in `cookie` with whatever response this request ends with.
    pub fn set_cookie(&self, cookie: &Cookie, value: &str) {
        self.add_header("Set-Cookie", cookie.set(self.https(), value));
    }

    pub fn clear_cookie(&self, cookie: &Cookie) {
        self.add_header("Set-Cookie", cookie.clear(self.https()));
    }

    /// The client's address as Cloudflare saw it.
    pub fn client_ip(&self) -> Option<String> {
        self.header("cf-connecting-ip")
    }

    /// Whether the site is served over https (cookies get `Secure` and `__Host-`).
    pub fn https(&self) -> bool {
        self.config.site.as_ref().map(|s| s.is_https()).unwrap_or(true)
    }

    /// Adds a header to the response this request ends with, whatever it is.
    pub fn add_header(&self, name: &str, value: String) {
        self.extra_headers.borrow_mut().push((name.to_string(), value));
    }

    pub fn take_extra_headers(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.extra_headers.borrow_mut())
    }

    /// `/api/*` answers in JSON; everything else is a page for a browser.
    pub fn is_api(&self) -> bool {
        self.path.starts_with("/api/")
    }

    pub fn site(&self) -> Result<&SiteUrl, AppError> {
        self.config.site.as_ref().map_err(|p| p.clone().into())
    }

    /// The request's database connection, opened on first use.
    pub async fn db(&self) -> Result<&Db, AppError> {
        if let Some(db) = self.db.get() {
            return Ok(db);
        }
        let started = now_ms();
        let connected = Db::connect(&self.env).await;
        self.timing.db_connected(now_ms().saturating_sub(started));
        let db = connected?;
        match self.db.set(db) {
            Ok(()) => {}
            // Another branch of this request connected meanwhile: keep theirs, close ours.
            Err(extra) => self.close(extra).await,
        }
        self.db.get().ok_or_else(|| AppError::internal("database cell empty after set"))
    }

    /// Closes the request's database connection, if one was opened. Called by `app` before the
    /// response is returned.
    pub async fn close_db(&mut self) {
        if let Some(db) = self.db.take() {
            self.close(db).await;
        }
    }

    async fn close(&self, db: Db) {
        let (round_trips, waited) = db.usage();
        let started = now_ms();
        db.close().await;
        self.timing.db_used(round_trips, waited + now_ms().saturating_sub(started));
    }

    /// Counts this request against `policy` for `subject`: `Err(TooManyRequests)` when over the
    /// limit, and, if the limiter is down, `Ok(None)` or a 503 by the policy's fail mode. `None`
    /// also when the policy is turned off. See `rate_limit` for the whole story.
    pub async fn limit(&self, policy: Policy, subject: &Subject) -> Result<Option<Decision>, AppError> {
        let reporter = || self.reporter();
        crate::rate_limit::enforce::enforce(&self.limiter(&reporter), policy, subject, false).await
    }

    /// `limit` for the operators' check, which also asks how many admissions the limiter stored.
    pub async fn limit_reporting_stored(&self, policy: Policy) -> Result<Option<Decision>, AppError> {
        let reporter = || self.reporter();
        crate::rate_limit::enforce::enforce(&self.limiter(&reporter), policy, &self.subject, true).await
    }

    /// What the limiter needs of this request, and nothing more.
    fn limiter<'a>(&'a self, reporter: &'a dyn Fn() -> Reporter) -> Limiter<'a> {
        Limiter {
            env: &self.env,
            limits: &self.config.rate_limits.limits,
            timeout_ms: self.config.rate_limits.timeout_ms,
            decisions: &self.limits,
            timing: &self.timing,
            background: &self.worker_ctx,
            request_id: &self.request_id,
            reporter,
        }
    }

    /// Who this request is counted as: the signed-in user when there is one, otherwise the
    /// client IP (`CF-Connecting-IP`, set by Cloudflare's edge; clients cannot forge it there).
    /// The user comes from the session token's verified signature alone, with no database
    /// query: a revoked session still belongs to that user, so counting it against them is right.
    pub fn rate_limit_subject(&self) -> Subject {
        Subject::of_request(self.session_user_id(), self.client_ip().as_deref())
    }

    /// The `RateLimit-*` headers for the response: those of the tightest decision taken.
    pub fn rate_limit_headers(&self) -> Vec<(&'static str, String)> {
        let limits = self.limits.borrow();
        crate::rate_limit::enforce::most_pressing(&limits).map(|d| d.headers()).unwrap_or_default()
    }

    /// Work that may finish after the response (Sentry reports): never delays the user.
    pub fn wait_until(&self, work: impl Future<Output = ()> + 'static) {
        let Some(secs) = self.config.wait_until_cutoff_secs else {
            return self.worker_ctx.wait_until(work);
        };
        // The harness's imitation of production's cut-off (see `Config::wait_until_cutoff_secs`).
        let request_id = self.request_id.clone();
        self.worker_ctx.wait_until(async move {
            let cut = worker::Delay::from(std::time::Duration::from_secs(secs));
            if let futures_util::future::Either::Right(_) =
                futures_util::future::select(Box::pin(work), cut).await
            {
                log_line(
                    "warn",
                    &request_id,
                    &format!("waitUntil work cut off after {secs} s (as production would)"),
                );
            }
        });
    }

    pub fn log(&self, level: &str, message: &str) {
        log_line(level, &self.request_id, message);
    }

    /// What an error report needs of this request, detached from it (see `telemetry`).
    pub fn reporter(&self) -> Reporter {
        self.config.reporter(self.request_id.clone(), self.method.to_string(), self.path.clone())
    }
}
