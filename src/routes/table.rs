//! The route table, as data: every route's method, path, who may use it, what it is sent, what
//! it is counted against and its handler. `app` dispatches with it (and answers 405 with
//! `Allow`, and OPTIONS, from it); `doc_claims` checks the docs against it; the end-to-end
//! security suite walks it. Adding a route is one line here.

use super::input;
use super::tools::{agentwrite, podscribe, podscribe_parts};
use super::{
    account, account_email, admin, admin_user, billing, debug, google, health, history, pages, refer,
    sign_in, webhooks,
};
use crate::config::Config;
use crate::ctx::Ctx;
use crate::error::AppError;
use crate::incoming::Incoming;
use crate::rate_limit::Policy;
use crate::reply::Reply;
use std::future::{ready, Future};
use std::pin::Pin;
use worker::Method;

/// Who may use a route. The dispatcher checks it before the handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (some pages show more to a signed-in user; Stripe's webhook proves itself by its
    /// signature).
    Public,
    /// A signed-in user: pages send others to sign in (303 `/signin?next=…`), APIs answer 401.
    SignedIn,
    /// A signed-in user, checked by the handler itself with the reads it needs, in the same
    /// round trip (`Ctx::user_with`): checked before it, the session would cost one of its own.
    /// The security suite holds these to `SignedIn`'s rules.
    SignedInWithReads,
    /// A signed-in user whose balance and hold are read with the session check (the AI tools'
    /// starts: what they would refuse is refused before the account's limit is counted).
    Payer,
    /// Operators (`ADMIN_EMAILS`) only; everyone else gets the 404 of an unknown path.
    Operator,
    /// Operators' checks, each behind its `DEBUG_*_ROUTE` switch (see `routes::debug`).
    Debug,
}

impl Access {
    /// Hidden routes answer a wrong method with the 404 of an unknown path, not a 405 naming
    /// what they allow: they are not revealed.
    pub fn is_hidden(self) -> bool {
        matches!(self, Access::Operator | Access::Debug)
    }

    /// Only for a signed-in user (whoever checks it).
    pub fn is_signed_in(self) -> bool {
        matches!(self, Access::SignedIn | Access::SignedInWithReads)
    }
}

/// What a POST carries (a GET, nothing). The handler reads it; forms and uploads carry the
/// CSRF token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    Nothing,
    Form,
    Multipart,
    Json,
    /// Raw bytes (`application/octet-stream`), the form token in `X-CSRF-Token`: a part of an
    /// upload in parts, at most `domain::episode_parts::PART_BYTES`.
    Bytes,
}

/// What a request is counted against before its handler runs (`rate_limit::policy`): the
/// route's class (before routing, so a wrong method counts too), and for the AI tools' POSTs
/// the per-IP flood guard first (`Policy::ToolFloodPerIp`, before anything is read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub class: Policy,
    pub flood_guard: bool,
}

pub const PAGES: Limits = Limits { class: Policy::Pages, flood_guard: false };
pub const API: Limits = Limits { class: Policy::GeneralApi, flood_guard: false };
const WEBHOOK: Limits = Limits { class: Policy::StripeWebhook, flood_guard: false };
const TOOL_PAGE: Limits = Limits { class: Policy::Pages, flood_guard: true };
const TOOL_API: Limits = Limits { class: Policy::GeneralApi, flood_guard: true };

/// A route that exists only when its setting is on: off, it is the 404 of an unknown path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    Always,
    PodScribe,
    DebugErrors,
    DebugRateLimit,
    DebugMemory,
}

impl Switch {
    pub fn is_on(self, config: &Config) -> bool {
        match self {
            Switch::Always => true,
            Switch::PodScribe => config.tools.podscribe_enabled,
            Switch::DebugErrors => config.debug_error_route,
            Switch::DebugRateLimit => config.debug_rate_limit_route,
            Switch::DebugMemory => config.debug_memory_route,
        }
    }
}

/// A handler's answer: boxed, so the table can hold handlers of every shape (no `Send`: one
/// isolate runs a request on one thread).
pub type Answer<'a> = Pin<Box<dyn Future<Output = Result<Reply, AppError>> + 'a>>;

/// A route's handler, given the context and the values of the path's `:name` segments in order.
#[derive(Clone, Copy)]
pub enum Handler {
    /// Given the request: the dispatcher checks access first, the handler reads any body.
    Request(for<'a> fn(&'a mut Incoming, &'a Ctx, &'a [&'a str]) -> Answer<'a>),
    /// Given its form: the dispatcher reads it and verifies its CSRF token *before* access, so a
    /// forged or cross-site form is refused before the account is even looked up (its 403 page
    /// carries nothing of the account). The account's own forms.
    Form(for<'a> fn(input::Form, &'a Ctx, &'a [&'a str]) -> Answer<'a>),
}

type RequestHandler = for<'a> fn(&'a mut Incoming, &'a Ctx, &'a [&'a str]) -> Answer<'a>;
type FormHandler = for<'a> fn(input::Form, &'a Ctx, &'a [&'a str]) -> Answer<'a>;

#[derive(Clone)]
pub struct Route {
    /// GET or POST; GET routes answer HEAD too.
    pub method: Method,
    /// `/a/b/:id`: a `:name` segment matches any one segment.
    pub path: &'static str,
    pub access: Access,
    pub body: Body,
    pub limits: Limits,
    pub switch: Switch,
    pub handler: Handler,
}

const fn get(path: &'static str, access: Access, limits: Limits, handler: RequestHandler) -> Route {
    let handler = Handler::Request(handler);
    Route { method: Method::Get, path, access, body: Body::Nothing, limits, switch: Switch::Always, handler }
}

const fn post(
    path: &'static str,
    access: Access,
    body: Body,
    limits: Limits,
    handler: RequestHandler,
) -> Route {
    let handler = Handler::Request(handler);
    Route { method: Method::Post, path, access, body, limits, switch: Switch::Always, handler }
}

/// A POST of a form that is read (and its token verified) before access is checked.
const fn form(path: &'static str, access: Access, limits: Limits, handler: FormHandler) -> Route {
    let handler = Handler::Form(handler);
    Route { method: Method::Post, path, access, body: Body::Form, limits, switch: Switch::Always, handler }
}

impl Route {
    const fn when(self, switch: Switch) -> Route {
        Route { switch, ..self }
    }

    /// Whether the path's segments (`/a/b` → `["a", "b"]`) fit this route's pattern.
    pub fn matches(&self, segments: &[&str]) -> bool {
        let mut own = self.path.trim_matches('/').split('/');
        segments.iter().all(|s| own.next().is_some_and(|p| p.starts_with(':') || p == *s))
            && own.next().is_none()
    }

    /// The values of the `:name` segments, in order (a route has at most two).
    fn params<'p>(&self, segments: &[&'p str]) -> ([&'p str; 2], usize) {
        let mut params = [""; 2];
        let mut n = 0;
        for (p, s) in self.path.trim_matches('/').split('/').zip(segments) {
            if p.starts_with(':') && n < params.len() {
                params[n] = s;
                n += 1;
            }
        }
        (params, n)
    }
}

use Access::{Debug as DebugCheck, Operator, Payer, Public, SignedIn, SignedInWithReads};
use Body::{Bytes, Form, Json, Multipart, Nothing};

#[rustfmt::skip]
pub static ROUTES: &[Route] = &[
    get("/", Public, PAGES, |_, cx, _| Box::pin(pages::landing(cx))),
    get("/terms", Public, PAGES, |_, cx, _| Box::pin(pages::terms(cx))),
    get("/privacy", Public, PAGES, |_, cx, _| Box::pin(pages::privacy(cx))),
    get("/refer", Public, PAGES, |_, cx, _| Box::pin(refer::page(cx))),
    form("/refer/join", SignedIn, PAGES, |f, cx, _| Box::pin(refer::join(f, cx))),
    // The operator console.
    get("/admin", Operator, PAGES, |r, cx, _| Box::pin(admin::console(r, cx))),
    post("/admin/grant", Operator, Form, PAGES, |r, cx, _| Box::pin(admin::grant(r, cx))),
    get("/admin/users/:id", Operator, PAGES, |_, cx, p| Box::pin(admin_user::show(cx, p[0]))),
    post("/admin/users/:id/deduct", Operator, Form, PAGES, |r, cx, p| Box::pin(admin_user::deduct(r, cx, p[0]))),
    post("/admin/users/:id/suspend", Operator, Form, PAGES, |r, cx, p| Box::pin(admin_user::suspend(r, cx, p[0]))),
    post("/admin/users/:id/restore", Operator, Form, PAGES, |r, cx, p| Box::pin(admin_user::restore(r, cx, p[0]))),
    post("/admin/events/:id/replay", Operator, Form, PAGES, |r, cx, p| Box::pin(admin_user::replay(r, cx, p[0]))),
    get("/debug/error/:status", DebugCheck, PAGES, |_, _, p| Box::pin(ready(debug::error_page(p[0])))).when(Switch::DebugErrors),
    // The account.
    get("/dashboard", SignedIn, PAGES, |_, cx, _| Box::pin(account::dashboard(cx))),
    post("/signout", Public, Form, PAGES, |r, cx, _| Box::pin(account::sign_out(r, cx))),
    get("/account", SignedIn, PAGES, |_, cx, _| Box::pin(account::account(cx))),
    form("/account/signout-everywhere", SignedIn, PAGES, |_, cx, _| Box::pin(account::sign_out_everywhere(cx))),
    form("/account/delete", SignedIn, PAGES, |f, cx, _| Box::pin(account::delete(f, cx))),
    form("/account/google/unlink", SignedIn, PAGES, |_, cx, _| Box::pin(account::unlink_google(cx))),
    form("/account/export", SignedIn, PAGES, |_, cx, _| Box::pin(account::export(cx))),
    // Changing the address: the request needs the request's coarse origin for the notice to the
    // current address (so it reads its own form); the link's page handles a signed-out visitor.
    post("/account/email", SignedIn, Form, PAGES, |r, cx, _| Box::pin(account_email::request_change(r, cx))),
    get("/account/email/confirm", Public, PAGES, |r, cx, _| Box::pin(account_email::confirm_page(r, cx))),
    form("/account/email/confirm", SignedIn, PAGES, |f, cx, _| Box::pin(account_email::confirm(f, cx))),
    form("/account/sessions/:id/end", SignedIn, PAGES, |_, cx, p| Box::pin(account::end_listed_session(cx, p[0]))),
    // Signing in.
    get("/signin", Public, PAGES, |r, cx, _| Box::pin(sign_in::form(r, cx))),
    post("/signin", Public, Form, PAGES, |r, cx, _| Box::pin(sign_in::submit(r, cx))),
    get("/signin/confirm", Public, PAGES, |r, cx, _| Box::pin(sign_in::confirm_page(r, cx))),
    post("/signin/confirm", Public, Form, PAGES, |r, cx, _| Box::pin(sign_in::confirm(r, cx))),
    post("/signin/google", Public, Form, PAGES, |r, cx, _| Box::pin(google::start(r, cx))),
    get("/signin/google/callback", Public, PAGES, |r, cx, _| Box::pin(google::callback(r, cx))),
    get("/api/health", Public, API, |_, cx, _| Box::pin(health::report(cx))),
    get("/api/debug/error", DebugCheck, API, |_, _, _| Box::pin(ready(debug::forced_error()))).when(Switch::DebugErrors),
    get("/api/debug/memory", DebugCheck, API, |_, _, _| Box::pin(ready(debug::memory()))).when(Switch::DebugMemory),
    // Billing. A signed-out buyer is sent to sign in and back to the pricing page by the
    // handler (not back to this POST-only path).
    get("/pricing", Public, PAGES, |r, cx, _| Box::pin(billing::pricing(r, cx))),
    get("/billing", SignedIn, PAGES, |r, cx, _| Box::pin(billing::overview(r, cx))),
    post("/billing/checkout", Public, Form, PAGES, |r, cx, _| Box::pin(billing::start_checkout(r, cx))),
    get("/billing/success", SignedInWithReads, PAGES, |r, cx, _| Box::pin(billing::checkout_success(r, cx))),
    form("/billing/portal", SignedIn, PAGES, |_, cx, _| Box::pin(billing::open_portal(cx))),
    post("/api/stripe/webhook", Public, Json, WEBHOOK, |r, cx, _| Box::pin(webhooks::stripe::receive_stripe_event(r, cx))),
    post("/api/debug/rate-limit/:policy", DebugCheck, Nothing, API, |_, cx, p| Box::pin(debug::rate_limit_check(cx, p[0]))).when(Switch::DebugRateLimit),
    // The AI tools, and their history.
    get("/tools/agentwrite", SignedIn, PAGES, |_, cx, _| Box::pin(agentwrite::form(cx))),
    post("/tools/agentwrite", Payer, Form, TOOL_PAGE, |r, cx, _| Box::pin(agentwrite::generate(r, cx))),
    post("/api/tools/agentwrite/stream", Payer, Form, TOOL_API, |r, cx, _| Box::pin(agentwrite::stream(r, cx))),
    get("/tools/agentwrite/:id", SignedIn, PAGES, |_, cx, p| Box::pin(agentwrite::show(cx, p[0]))),
    get("/tools/agentwrite/:id/download", SignedIn, PAGES, |_, cx, p| Box::pin(agentwrite::download(cx, p[0]))),
    post("/tools/agentwrite/:id/delete", SignedIn, Form, PAGES, |r, cx, p| Box::pin(agentwrite::delete(r, cx, p[0]))),
    get("/tools/podscribe", SignedIn, PAGES, |_, cx, _| Box::pin(podscribe::form(cx))).when(Switch::PodScribe),
    post("/tools/podscribe", Payer, Multipart, TOOL_PAGE, |r, cx, _| Box::pin(podscribe::upload(r, cx, podscribe::Mode::Page))).when(Switch::PodScribe),
    post("/api/tools/podscribe/upload", Payer, Multipart, TOOL_API, |r, cx, _| Box::pin(podscribe::upload(r, cx, podscribe::Mode::Progress))).when(Switch::PodScribe),
    form("/api/tools/podscribe/uploads", SignedIn, TOOL_API, |f, cx, _| Box::pin(podscribe_parts::begin(f, cx))).when(Switch::PodScribe),
    get("/api/tools/podscribe/uploads/:id", SignedIn, API, |_, cx, p| Box::pin(podscribe_parts::status(cx, p[0]))).when(Switch::PodScribe),
    post("/api/tools/podscribe/uploads/:id/parts/:n", SignedIn, Bytes, API, |r, cx, p| Box::pin(podscribe_parts::part(r, cx, p[0], p[1]))).when(Switch::PodScribe),
    form("/api/tools/podscribe/uploads/:id/complete", Payer, TOOL_API, |_, cx, p| Box::pin(podscribe_parts::complete(cx, p[0]))).when(Switch::PodScribe),
    get("/tools/podscribe/:id", SignedIn, PAGES, |_, cx, p| Box::pin(podscribe::show(cx, p[0]))).when(Switch::PodScribe),
    post("/tools/podscribe/:id/notes", SignedIn, Form, TOOL_PAGE, |r, cx, p| Box::pin(podscribe::retry_notes(r, cx, p[0]))).when(Switch::PodScribe),
    post("/tools/podscribe/:id/delete", SignedIn, Form, PAGES, |r, cx, p| Box::pin(podscribe::delete(r, cx, p[0]))).when(Switch::PodScribe),
    get("/tools/podscribe/:id/:file", SignedIn, PAGES, |_, cx, p| Box::pin(podscribe::download(cx, p[0], p[1]))).when(Switch::PodScribe),
    get("/history", SignedIn, PAGES, |r, cx, _| Box::pin(history::list(r, cx))),
];

/// The route for `method` (GET for HEAD) and the path's segments, with its `:name` values: the
/// first in the table that fits.
pub fn find<'p>(method: &Method, segments: &[&'p str]) -> Option<(&'static Route, [&'p str; 2], usize)> {
    let route = ROUTES.iter().find(|r| r.method == *method && r.matches(segments))?;
    let (params, n) = route.params(segments);
    Some((route, params, n))
}

/// What a request to `path` (its `segments`) is counted against before routing, whatever its
/// method: its routes' class; an unknown path under `/api/` is the API's, any other a page's.
pub fn limits_of(path: &str, segments: &[&str]) -> Limits {
    match ROUTES.iter().find(|r| r.matches(segments)) {
        Some(route) => Limits { flood_guard: false, ..route.limits },
        None if path.starts_with("/api/") => API,
        None => PAGES,
    }
}

/// The `Allow` value for a path no route took with its method: `None` for an unknown (or
/// hidden) path, which is a 404.
pub fn allowed(segments: &[&str]) -> Option<String> {
    let fits =
        |m: Method| ROUTES.iter().any(|r| !r.access.is_hidden() && r.method == m && r.matches(segments));
    let mut methods = Vec::new();
    if fits(Method::Get) {
        methods.extend(["GET", "HEAD"]);
    }
    if fits(Method::Post) {
        methods.push("POST");
    }
    if methods.is_empty() {
        return None;
    }
    methods.push("OPTIONS");
    Some(methods.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(path: &str) -> Vec<&str> {
        path.trim_matches('/').split('/').collect()
    }

    #[test]
    fn a_known_path_names_its_methods_and_hidden_or_unknown_ones_none() {
        assert_eq!(allowed(&segments("/api/health")).as_deref(), Some("GET, HEAD, OPTIONS"));
        assert_eq!(allowed(&segments("/signin")).as_deref(), Some("GET, HEAD, POST, OPTIONS"));
        assert_eq!(allowed(&segments("/signout")).as_deref(), Some("POST, OPTIONS"));
        assert_eq!(allowed(&segments("/tools/agentwrite/abc")).as_deref(), Some("GET, HEAD, OPTIONS"));
        assert_eq!(
            allowed(&segments("/tools/podscribe/abc/delete")).as_deref(),
            Some("GET, HEAD, POST, OPTIONS")
        );
        assert_eq!(allowed(&segments("/")).as_deref(), Some("GET, HEAD, OPTIONS"));
        for path in
            ["/admin", "/admin/grant", "/api/debug/error", "/debug/error/500", "/nope", "/tools/x/y/z/w"]
        {
            assert_eq!(allowed(&segments(path)), None, "{path}");
        }
    }

    #[test]
    fn the_first_route_that_fits_is_found_with_its_segments_values() {
        let (route, params, n) =
            find(&Method::Get, &segments("/tools/podscribe/tr_1/transcript.srt")).unwrap();
        assert_eq!(route.path, "/tools/podscribe/:id/:file");
        assert_eq!(&params[..n], ["tr_1", "transcript.srt"]);
        let (route, _, n) = find(&Method::Post, &segments("/tools/podscribe/tr_1/delete")).unwrap();
        assert_eq!((route.path, n), ("/tools/podscribe/:id/delete", 1));
        let (route, _, n) = find(&Method::Get, &segments("/")).unwrap();
        assert_eq!((route.path, n), ("/", 0));
        assert!(find(&Method::Get, &segments("/tools/agentwrite/a/b/c")).is_none());
        assert!(find(&Method::Put, &segments("/dashboard")).is_none());
        assert!(find(&Method::Get, &segments("/signout")).is_none());
    }

    #[test]
    fn every_path_is_counted_in_one_class_the_webhooks_the_apis_or_the_pages() {
        for route in ROUTES {
            let class = limits_of(route.path, &segments(route.path)).class;
            assert_eq!(class, route.limits.class, "{}: the routes of a path share their class", route.path);
            let expected = match route.path {
                "/api/stripe/webhook" => Policy::StripeWebhook,
                p if p.starts_with("/api/") => Policy::GeneralApi,
                _ => Policy::Pages,
            };
            assert_eq!(class, expected, "{}", route.path);
        }
        assert_eq!(limits_of("/api/nope", &segments("/api/nope")), API);
        assert_eq!(limits_of("/nope", &segments("/nope")), PAGES);
    }

    #[test]
    fn hidden_routes_are_the_operators_and_the_debug_checks_behind_their_switch() {
        for route in ROUTES {
            let debug_switch =
                matches!(route.switch, Switch::DebugErrors | Switch::DebugRateLimit | Switch::DebugMemory);
            assert_eq!(route.access == Access::Debug, debug_switch, "{}", route.path);
            assert!(route.method == Method::Get || route.method == Method::Post, "{}", route.path);
            if route.access != Access::Debug {
                assert_eq!(route.method == Method::Get, route.body == Body::Nothing, "{}", route.path);
            }
        }
        assert!(ROUTES.len() > 40);
    }
}
