//! Per-request state built from the Worker's `Env`: configuration, request id, CSP nonce, the
//! clock, the rate-limit subject and decisions, the request's one lazily opened database
//! connection, and what it spent on I/O (`timing`).

use crate::auth::session::Claims;
use crate::auth::User;
use crate::config::{Config, SiteUrl};
use crate::db::Db;
use crate::error::AppError;
use crate::rate_limit::{Decision, Policy, Subject};
use crate::timing::Timing;
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
    /// Who the request is counted as by rate limits; set by `app` from `rate_limit::subject`.
    pub subject: Subject,
    /// Every rate-limit decision taken for this request (their headers go on the response).
    limits: RefCell<Vec<Decision>>,
    /// Database and limiter work of this request (the `Server-Timing` header).
    pub timing: Timing,
    worker_ctx: Context,
    headers: worker::Headers,
    cookies: OnceCell<Vec<(String, String)>>,
    db: OnceCell<Db>,
    /// Headers added to whatever response this request ends with (cookies, rate limits).
    extra_headers: RefCell<Vec<(String, String)>>,
    pub(crate) session: OnceCell<Option<Claims>>,
    pub(crate) user: OnceCell<Option<User>>,
    pub(crate) pre_session: OnceCell<String>,
}

thread_local! {
    // One isolate serves many requests with the same Env: read and validate it once.
    static CONFIG: OnceCell<Rc<Config>> = const { OnceCell::new() };
}

/// The isolate's configuration, read from `env` and validated on first use.
pub fn config_of(env: &Env) -> Rc<Config> {
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

impl Ctx {
    pub fn new(env: Env, worker_ctx: Context, req: &crate::incoming::Incoming) -> Ctx {
        let config = config_of(&env);
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
            timing: Timing::new(now_ms),
            worker_ctx,
            headers: req.headers(),
            cookies: OnceCell::new(),
            db: OnceCell::new(),
            extra_headers: RefCell::new(Vec::new()),
            session: OnceCell::new(),
            user: OnceCell::new(),
            pre_session: OnceCell::new(),
        }
    }

    /// A request header (lower-case name).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).ok().flatten()
    }

    /// A request cookie by name (first occurrence).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        let cookies = self.cookies.get_or_init(|| cookie_pairs(&self.header("cookie").unwrap_or_default()));
        cookies.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
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
        crate::rate_limit::enforce::enforce(self, policy, subject, false).await
    }

    pub fn record_limit(&self, decision: Decision) {
        self.limits.borrow_mut().push(decision);
    }

    /// The `RateLimit-*` headers for the response: those of the tightest decision taken.
    pub fn rate_limit_headers(&self) -> Vec<(&'static str, String)> {
        let limits = self.limits.borrow();
        crate::rate_limit::enforce::most_pressing(&limits).map(|d| d.headers()).unwrap_or_default()
    }

    /// Work that may finish after the response (Sentry reports): never delays the user.
    pub fn wait_until(&self, work: impl Future<Output = ()> + 'static) {
        self.worker_ctx.wait_until(work);
    }

    pub fn log(&self, level: &str, message: &str) {
        log_line(level, &self.request_id, message);
    }
}

/// Milliseconds since the epoch from the runtime's clock (`Date.now()`, without allocating a
/// `Date` as `worker::Date::now` does). Wasm only: native code gets its time passed in.
pub fn now_ms() -> u64 {
    worker::js_sys::Date::now() as u64
}

/// One JSON object per line, so Workers Logs can filter by field.
pub fn log_line(level: &str, request_id: &str, message: &str) {
    let line = serde_json::json!({ "level": level, "request_id": request_id, "message": message });
    match level {
        "error" => worker::console_error!("{line}"),
        "warn" => worker::console_warn!("{line}"),
        _ => worker::console_log!("{line}"),
    }
}

/// The `name=value` pairs of a `Cookie` header, in order (names and values trimmed of ASCII
/// whitespace only; a piece without `=` is skipped). Not Unicode `trim()`: a cookie planted by a
/// sibling subdomain as `\u{a0}__Host-gt_session` (U+0085 or U+00A0, Unicode spaces, reach us
/// when the browser sends them UTF-8 encoded) must not be read as `__Host-gt_session`. Pure, so
/// tests/fuzz drives it with arbitrary headers.
pub fn cookie_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split(';')
        .filter_map(|pair| pair.trim_ascii().split_once('='))
        .map(|(k, v)| (k.trim_ascii().to_string(), v.trim_ascii().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_pairs_keep_order_and_skip_pieces_without_a_value() {
        let pairs = cookie_pairs(" a=1; junk ;b = x=y;a=2;");
        let expected = [("a", "1"), ("b", "x=y"), ("a", "2")];
        assert_eq!(pairs, expected.map(|(k, v)| (k.to_string(), v.to_string())));
    }

    #[test]
    fn a_name_behind_a_unicode_space_is_not_trimmed_into_another_name() {
        for space in ['\u{85}', '\u{a0}', '\u{2003}'] {
            let raw = format!("{space}__Host-gt_session=planted; \t a=1");
            let pairs = cookie_pairs(&raw);
            assert_eq!(pairs[0].0, format!("{space}__Host-gt_session"), "{space:?}");
            assert_eq!(pairs[1], ("a".to_string(), "1".to_string()));
        }
    }
}
