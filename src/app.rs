//! The request pipeline (context → rate-limit gate → route → error mapping → headers) and the
//! whole route table on one screen.

use crate::ctx::Ctx;
use crate::error::AppError;
use crate::incoming::Incoming;
use crate::rate_limit::{self, Policy};
use crate::reply::{Body, Reply};
use crate::respond::{self, HeaderList};
use crate::routes::tools::{agentwrite, podscribe};
use crate::routes::{
    account, admin, admin_user, billing, debug, google, health, history, pages, refer, sign_in, webhooks,
};
use crate::security;
use worker::{web_sys, Context, Env, Method, Result};

pub async fn handle(mut req: Incoming, env: Env, worker_ctx: Context) -> Result<web_sys::Response> {
    let mut cx = Ctx::new(env, worker_ctx, &req);
    cx.subject = rate_limit::subject(&cx);
    let result = match cx.limit(route_class(&cx.path), &cx.subject).await {
        Ok(_) => route(&mut req, &cx).await,
        Err(refused) => Err(refused),
    };
    if matches!(result, Err(AppError::NotFound)) && !cx.is_api() {
        // A 404 page looks the same however it came about (an unknown path, the operator
        // console, another user's item): with the visitor's own layout. Otherwise a hidden
        // route's 404, which looked the visitor up, would tell itself apart from an unknown path.
        let _ = cx.user().await;
    }
    cx.close_db().await;
    let reply = result.unwrap_or_else(|err| {
        crate::routes::errors::report(&cx, &err);
        crate::routes::errors::render(&cx, &err)
    });
    into_response(&cx, reply)
}

/// `req` becomes a `worker::Request` (`&mut Request` for handlers) only where one is used.
async fn route(req: &mut Incoming, cx: &Ctx) -> std::result::Result<Reply, AppError> {
    use Method::{Get, Head, Post};
    let path = cx.path.clone();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if !cx.method_known {
        // The runtime's `Method` reads any unknown name as GET: never serve one as a GET.
        return unrouted(cx, &segments);
    }
    // HEAD is a GET without the body (`into_response` drops it).
    let method = match cx.method {
        Head => Get,
        ref other => other.clone(),
    };
    match (method, segments.as_slice()) {
        (Get, [""]) => pages::landing(cx).await,
        (Get, ["terms"]) => pages::terms(cx).await,
        (Get, ["privacy"]) => pages::privacy(cx).await,
        (Get, ["refer"]) => refer::page(cx).await,
        (Post, ["refer", "join"]) => refer::join(req, cx).await,
        (Get, ["admin"]) => admin::console(req, cx).await,
        (Post, ["admin", "grant"]) => admin::grant(req, cx).await,
        (Get, ["admin", "users", id]) => admin_user::show(cx, id).await,
        (Post, ["admin", "users", id, "deduct"]) => admin_user::deduct(req, cx, id).await,
        (Post, ["admin", "users", id, "suspend"]) => admin_user::suspend(req, cx, id).await,
        (Post, ["admin", "users", id, "restore"]) => admin_user::restore(req, cx, id).await,
        (Post, ["admin", "events", id, "replay"]) => admin_user::replay(req, cx, id).await,
        (Get, ["debug", "error", status]) => debug::error_page(cx, status),
        (Get, ["dashboard"]) => account::dashboard(cx).await,
        (Post, ["signout"]) => account::sign_out(req, cx).await,
        (Get, ["account"]) => account::account(cx).await,
        (Post, ["account", "signout-everywhere"]) => account::sign_out_everywhere(req, cx).await,
        (Post, ["account", "delete"]) => account::delete(req, cx).await,
        (Post, ["account", "google", "unlink"]) => account::unlink_google(req, cx).await,
        (Post, ["account", "export"]) => account::export(req, cx).await,
        (Post, ["account", "sessions", id, "end"]) => account::end_listed_session(req, cx, id).await,
        (Get, ["signin"]) => sign_in::form(req, cx).await,
        (Post, ["signin"]) => sign_in::submit(req, cx).await,
        (Get, ["signin", "confirm"]) => sign_in::confirm_page(req, cx).await,
        (Post, ["signin", "confirm"]) => sign_in::confirm(req, cx).await,
        (Post, ["signin", "google"]) => google::start(req, cx).await,
        (Get, ["signin", "google", "callback"]) => google::callback(req, cx).await,
        (Get, ["api", "health"]) => health::report(cx).await,
        (Get, ["api", "debug", "error"]) => debug::forced_error(cx),
        (Get, ["api", "debug", "memory"]) => debug::memory(cx),
        (Get, ["pricing"]) => billing::pricing(req, cx).await,
        (Get, ["billing"]) => billing::overview(req, cx).await,
        (Post, ["billing", "checkout"]) => billing::start_checkout(req, cx).await,
        (Get, ["billing", "success"]) => billing::checkout_success(req, cx).await,
        (Post, ["billing", "portal"]) => billing::open_portal(req, cx).await,
        (Post, ["api", "stripe", "webhook"]) => webhooks::stripe::receive_stripe_event(req, cx).await,
        (Post, ["api", "debug", "rate-limit", policy]) => debug::rate_limit_check(cx, policy).await,
        // AI tools (tools/), their history.
        (Get, ["tools", "agentwrite"]) => agentwrite::form(cx).await,
        (Post, ["tools", "agentwrite"]) => agentwrite::generate(req, cx).await,
        (Post, ["api", "tools", "agentwrite", "stream"]) => agentwrite::stream(req, cx).await,
        (Get, ["tools", "agentwrite", id]) => agentwrite::show(cx, id).await,
        (Get, ["tools", "agentwrite", id, "download"]) => agentwrite::download(cx, id).await,
        (Post, ["tools", "agentwrite", id, "delete"]) => agentwrite::delete(req, cx, id).await,
        (Get, ["tools", "podscribe"]) => podscribe::form(cx).await,
        (Post, ["tools", "podscribe"]) => podscribe::upload(req, cx, podscribe::Mode::Page).await,
        (Post, ["api", "tools", "podscribe", "upload"]) => {
            podscribe::upload(req, cx, podscribe::Mode::Progress).await
        }
        (Get, ["tools", "podscribe", id]) => podscribe::show(cx, id).await,
        (Post, ["tools", "podscribe", id, "notes"]) => podscribe::retry_notes(req, cx, id).await,
        (Post, ["tools", "podscribe", id, "delete"]) => podscribe::delete(req, cx, id).await,
        (Get, ["tools", "podscribe", id, file]) => podscribe::download(cx, id, file).await,
        (Get, ["history"]) => history::list(req, cx).await,
        _ => unrouted(cx, &segments),
    }
}

/// A request no arm took: on a known path, OPTIONS is answered with the methods it allows and
/// any other method is a 405 naming them; anything else (hidden routes too) is a 404.
fn unrouted(cx: &Ctx, segments: &[&str]) -> std::result::Result<Reply, AppError> {
    match crate::routes::known::allowed(segments) {
        // No CORS headers: other sites get nothing more from a preflight than from a 405.
        Some(allow) if cx.method == Method::Options && cx.method_known => {
            Ok(Reply::new(204, Body::Empty).with_header("Allow", allow))
        }
        Some(allow) => Err(AppError::MethodNotAllowed { allow }),
        None => Err(AppError::NotFound),
    }
}

/// The rate-limit class every request is counted against before routing (static assets never
/// reach the Worker). Handlers add the policies of their costly actions (`cx.limit`).
fn route_class(path: &str) -> Policy {
    match path {
        "/api/stripe/webhook" => Policy::StripeWebhook,
        p if p.starts_with("/api/") => Policy::GeneralApi,
        _ => Policy::Pages,
    }
}

thread_local! {
    // The CSP around its nonce depends only on configuration, which is fixed for an isolate.
    static CSP: std::cell::OnceCell<security::CspTemplate> = const { std::cell::OnceCell::new() };
}

/// Adds the headers every response carries and hands the reply to the runtime (in one call:
/// see `respond`).
fn into_response(cx: &Ctx, reply: Reply) -> Result<web_sys::Response> {
    let mut headers = HeaderList::default();
    let mut problems = Vec::new();
    let mut keep = |outcome: std::result::Result<(), String>| {
        if let Err(problem) = outcome {
            problems.push(problem);
        }
    };
    let https = cx.config.site.as_ref().map(|s| s.is_https()).unwrap_or(false);
    // The defaults have distinct names and come first: appended, with nothing to replace.
    let defaults = CSP.with(|template| {
        let csp = template.get_or_init(|| security::CspTemplate::new(&crate::views::csp_sources(&cx.config)));
        security::headers(&cx.nonce, https, csp, reply.form_action.as_deref())
    });
    for (name, value) in defaults {
        keep(headers.append(name, value));
    }
    keep(headers.append("X-Request-Id", cx.request_id.clone()));
    if let Some(content_type) = reply.content_type() {
        keep(headers.append("Content-Type", content_type));
    }
    if reply.header("Cache-Control").is_none() {
        // Pages carry a per-request nonce and may show a signed-in user: never store them.
        keep(headers.append("Cache-Control", "no-store"));
    }
    for (name, value) in reply.headers.iter().chain(cx.take_extra_headers().iter()) {
        // A handler's own value replaces a default (e.g. a stricter Referrer-Policy); only
        // cookies accumulate.
        if name.eq_ignore_ascii_case("set-cookie") {
            keep(headers.append(name.clone(), value.clone()));
        } else {
            keep(headers.set(name.clone(), value.clone()));
        }
    }
    for (name, value) in cx.rate_limit_headers() {
        keep(headers.set(name, value));
    }
    if cx.config.server_timing {
        keep(headers.set("Server-Timing", cx.timing.header(crate::ctx::now_ms())));
    }
    for problem in problems {
        cx.log("error", &problem);
    }
    let body = match &reply.body {
        _ if cx.method == Method::Head => respond::Body::Empty,
        Body::Empty => respond::Body::Empty,
        Body::Html(s) | Body::Json(s) | Body::Text(s) => respond::Body::Bytes(s.as_bytes()),
        Body::Bytes { bytes, .. } => respond::Body::Bytes(bytes),
        Body::Stream(stream) => respond::Body::Stream(stream),
    };
    respond::response(reply.status, &headers, body)
}
