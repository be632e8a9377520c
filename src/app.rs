//! The request pipeline: context → rate-limit gate → dispatch by the route table
//! (`routes::table`) → error mapping → headers.

use crate::ctx::Ctx;
use crate::error::AppError;
use crate::incoming::Incoming;
use crate::reply::{Body, Reply};
use crate::respond::{self, HeaderList};
use crate::routes::input::Form;
use crate::routes::table::{self, Access, Handler};
use crate::security;
use worker::{web_sys, Context, Env, Method, Result};

pub async fn handle(mut req: Incoming, env: Env, worker_ctx: Context) -> Result<web_sys::Response> {
    let mut cx = Ctx::new(env, worker_ctx, &req);
    cx.subject = cx.rate_limit_subject();
    let path = cx.path.clone();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let class = table::limits_of(&path, &segments).class;
    let result = match cx.limit(class, &cx.subject).await {
        Ok(_) => route(&mut req, &cx, &segments).await,
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

/// Dispatch by the route table (`routes::table`): the route's flood guard, its switch, its
/// access (for the account's forms, after the form and its token), then its handler. `req` becomes a `worker::Request` only where a handler uses one.
async fn route(req: &mut Incoming, cx: &Ctx, segments: &[&str]) -> std::result::Result<Reply, AppError> {
    // The runtime's `Method` reads any unknown name as GET: never serve one as a GET.
    // HEAD is a GET without the body (`into_response` drops it).
    let method = match cx.method {
        _ if !cx.method_known => return unrouted(cx, segments),
        Method::Head => Method::Get,
        ref other => other.clone(),
    };
    let Some((route, params, n)) = table::find(&method, segments) else {
        return unrouted(cx, segments);
    };
    if route.limits.flood_guard {
        crate::routes::tools::flood(cx).await?;
    }
    if !route.switch.is_on(&cx.config) {
        return Err(AppError::NotFound);
    }
    let params = &params[..n];
    match route.handler {
        Handler::Request(handler) => {
            check_access(cx, route.access).await?;
            handler(req, cx, params).await
        }
        Handler::Form(handler) => {
            let form = Form::read(req, cx).await?;
            check_access(cx, route.access).await?;
            handler(form, cx, params).await
        }
    }
}

/// Signed in: pages send a visitor to sign in, APIs answer 401 (`AppError::Unauthenticated`);
/// operator: the 404 of an unknown path for anyone else.
async fn check_access(cx: &Ctx, access: Access) -> std::result::Result<(), AppError> {
    match access {
        // `SignedInWithReads`: the handler checks the session with its reads.
        Access::Public | Access::Debug | Access::SignedInWithReads => {}
        Access::SignedIn => {
            cx.require_user().await?;
        }
        Access::Payer => {
            crate::routes::tools::payer(cx).await?;
        }
        Access::Operator => {
            crate::routes::admin::require_admin(cx).await?;
        }
    }
    Ok(())
}

/// A request no route took: on a known path, OPTIONS is answered with the methods it allows and
/// any other method is a 405 naming them; anything else (hidden routes too) is a 404.
fn unrouted(cx: &Ctx, segments: &[&str]) -> std::result::Result<Reply, AppError> {
    match table::allowed(segments) {
        // No CORS headers: other sites get nothing more from a preflight than from a 405.
        Some(allow) if cx.method == Method::Options && cx.method_known => {
            Ok(Reply::new(204, Body::Empty).with_header("Allow", allow))
        }
        Some(allow) => Err(AppError::MethodNotAllowed { allow }),
        None => Err(AppError::NotFound),
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
        keep(headers.set("Server-Timing", cx.timing.header(crate::telemetry::now_ms())));
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
