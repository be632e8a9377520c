//! Per-request state built from the Worker's `Env`: configuration, request id, CSP nonce, the
//! clock, the rate-limit subject and decisions, the request's one lazily opened database
//! connection, and what it spent on I/O (`timing`).

use crate::auth::csrf;
use crate::auth::session::{self, Claims};
use crate::config::{Config, SiteUrl};
use crate::cookie::Cookie;
use crate::db::{sessions, Db};
use crate::domain::device::browser_label;
use crate::domain::Credits;
use crate::domain::{User, UserId};
use crate::error::AppError;
use crate::rate_limit::{Decision, Limiter, Policy, Subject};
use crate::telemetry::{log_line, now_ms, Reporter};
use crate::timing::Timing;
use crate::views::flash::{self, Flash, FlashKind};
use std::cell::{OnceCell, RefCell};
use std::future::Future;
use std::rc::Rc;
use worker::{Context, Env};

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

    // Who is signed in: the session cookie, checked against its database row.

    /// `NEXTAUTH_SECRET`, which signs sessions and our cookies (a 503 naming it when unset).
    pub fn session_secret(&self) -> Result<&str, AppError> {
        self.config.session_secret.as_ref().map(|s| s.expose()).map_err(|p| p.clone().into())
    }

    fn now_secs(&self) -> u64 {
        self.now_ms / 1000
    }

    /// The session's claims, when the cookie holds a valid, unexpired token.
    fn session_claims(&self) -> Result<Option<&Claims>, AppError> {
        if let Some(claims) = self.session.get() {
            return Ok(claims.as_ref());
        }
        let claims = match self.cookie_of(&session::COOKIE) {
            None => None,
            Some(token) => {
                let decoded = session::decode(self.session_secret()?, token, self.now_secs());
                if decoded.is_none() {
                    // Tampered, expired or signed with another key: signed out, cookie cleared.
                    self.clear_cookie(&session::COOKIE);
                }
                decoded
            }
        };
        Ok(self.session.get_or_init(|| claims).as_ref())
    }

    /// The user id of a validly signed, unexpired session token — without checking the
    /// database (for rate-limit subjects; authorization must use `user()`).
    pub fn session_user_id(&self) -> Option<UserId> {
        self.session_claims().ok().flatten().and_then(|c| c.user_id())
    }

    /// The signed-in user, or `None`. One query per request (cached), which also enforces
    /// sign-out and the absolute lifetime (the session's row must exist and be younger than
    /// 90 days) and "sign out everywhere" (the token's session version must be current).
    pub async fn user(&self) -> Result<Option<&User>, AppError> {
        if let Some(user) = self.user.get() {
            return Ok(user.as_ref());
        }
        let user = match self.session_claims()?.cloned() {
            None => None,
            Some(claims) => self.load_session_user(&claims).await?,
        };
        Ok(self.user.get_or_init(|| user).as_ref())
    }

    /// The signed-in user and `reads` of the account the session token names, sent together
    /// with the session check: one round trip. The reads go out before the session is known to
    /// be live, so they must only read; their answer is dropped unless the session holds for
    /// that very account.
    pub async fn user_with<T>(
        &self,
        reads: impl AsyncFnOnce(&Db, UserId) -> Result<T, AppError>,
    ) -> Result<Option<(&User, T)>, AppError> {
        let Some(user_id) = self.session_user_id() else { return Ok(None) };
        let db = self.db().await?;
        let (user, read) = futures_util::future::try_join(self.user(), reads(db, user_id)).await?;
        Ok(user.filter(|u| u.id == user_id).map(|u| (u, read)))
    }

    /// The signed-in user, or `AppError::Unauthenticated` (pages redirect to sign-in).
    pub async fn require_user(&self) -> Result<&User, AppError> {
        self.user().await?.ok_or(AppError::Unauthenticated)
    }

    async fn load_session_user(&self, claims: &Claims) -> Result<Option<User>, AppError> {
        let Some(id) = claims.user_id() else { return Ok(None) };
        let lifetime = session::ABSOLUTE_LIFETIME_SECS as f64;
        let user = sessions::user_of(self.db().await?, id, &claims.sid, lifetime).await?;
        match user {
            Some(user) if user.session_version == claims.sv => {
                if claims.needs_renewal(self.now_secs()) {
                    self.set_session_cookie(&claims.renewed(self.now_secs()))?;
                }
                Ok(Some(user))
            }
            _ => {
                self.clear_cookie(&session::COOKIE);
                Ok(None)
            }
        }
    }

    /// Signs `user` in: a new session (never reusing an id from before sign-in), recorded with
    /// a coarse label of the browser and the `place` Cloudflare saw, for the account page.
    pub async fn start_session(&self, user: &User, place: &str) -> Result<(), AppError> {
        let sid = crate::security::random_token();
        let browser = browser_label(&self.header("user-agent").unwrap_or_default());
        let lifetime = session::ABSOLUTE_LIFETIME_SECS as f64;
        sessions::start(self.db().await?, user.id, &sid, &browser, place, lifetime).await?;
        let claims = Claims::new(user.id, user.session_version, sid, self.now_secs());
        self.set_session_cookie(&claims)
    }

    /// Signs out this browser and ends its session, so a copy of the token stops working too.
    /// The cookie is cleared first: it goes with whatever answer this request ends with, even
    /// a database failure.
    pub async fn end_session(&self) -> Result<(), AppError> {
        self.clear_cookie(&session::COOKIE);
        match self.session_claims()? {
            Some(claims) => sessions::end(self.db().await?, &claims.sid).await,
            None => Ok(()),
        }
    }

    /// The id of this browser's session (to mark it in the list of sessions).
    pub fn session_id(&self) -> Option<&str> {
        self.session_claims().ok().flatten().map(|c| c.sid.as_str())
    }

    fn set_session_cookie(&self, claims: &Claims) -> Result<(), AppError> {
        let token = session::encode(self.session_secret()?, claims).map_err(AppError::internal)?;
        self.set_cookie(&session::COOKIE, &token);
        Ok(())
    }

    /// What CSRF tokens are bound to: the session id when signed in, else the pre-session
    /// cookie (created on first use).
    fn csrf_binding(&self) -> Result<String, AppError> {
        if let Some(claims) = self.session_claims()? {
            return Ok(format!("sid:{}", claims.sid));
        }
        if let Some(value) = self.cookie_of(&csrf::PRE_SESSION) {
            return Ok(format!("pre:{value}"));
        }
        let fresh = self.pre_session.get_or_init(crate::security::random_token).clone();
        self.set_cookie(&csrf::PRE_SESSION, &fresh);
        Ok(format!("pre:{fresh}"))
    }

    /// The token for forms on this page (hidden field `csrf`, or header `X-CSRF-Token`).
    pub fn csrf_token(&self) -> Result<String, AppError> {
        Ok(csrf::token(self.session_secret()?, &self.csrf_binding()?))
    }

    /// 403 unless the request is same-origin and carries the token for this browser.
    pub fn verify_csrf(&self, submitted: Option<&str>) -> Result<(), AppError> {
        let forbidden = || {
            AppError::Forbidden(
                "This form expired or came from another site. Please reload the page and try again.".into(),
            )
        };
        // Without the secret no token can be checked: 503 (naming the variable in the log).
        let secret = self.session_secret()?;
        let origin = self.site()?.origin();
        if !csrf::same_origin(
            self.header("origin").as_deref(),
            self.header("sec-fetch-site").as_deref(),
            &origin,
        ) {
            return Err(forbidden());
        }
        let binding = match self.session_claims()? {
            Some(claims) => format!("sid:{}", claims.sid),
            None => match self.cookie_of(&csrf::PRE_SESSION) {
                Some(v) => format!("pre:{v}"),
                None => return Err(forbidden()),
            },
        };
        match submitted {
            Some(token) if csrf::verify(secret, &binding, token) => Ok(()),
            _ => Err(forbidden()),
        }
    }

    // Flash messages (see `views::flash`).

    /// Shows `text` on the next page this browser opens (after the redirect of an action).
    pub fn set_flash(&self, kind: FlashKind, text: impl Into<String>) {
        let Ok(secret) = self.config.session_secret.as_ref() else { return };
        let value = flash::encode(secret.expose(), &Flash::new(kind, text), self.now_ms / 1000);
        self.set_cookie(&flash::COOKIE, &value);
    }

    /// The flash of the previous action, if a valid one came with this request; the cookie is
    /// cleared either way so it shows once.
    pub fn take_flash(&self) -> Option<Flash> {
        let value = self.cookie_of(&flash::COOKIE)?;
        self.clear_cookie(&flash::COOKIE);
        let secret = self.config.session_secret.as_ref().ok()?;
        flash::decode(secret.expose(), value, self.now_ms / 1000)
    }
}
