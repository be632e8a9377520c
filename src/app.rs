//! The request pipeline (context → route → error mapping → security headers) and the whole
//! route table on one screen.

use crate::ctx::Ctx;
use crate::error::AppError;
use crate::reply::{Body, Reply};
use crate::routes::tools::{agentwrite, podscribe};
use crate::routes::{account, debug, health, history, pages};
use crate::security;
use worker::{Context, Env, Headers, Method, Request, Response, ResponseBuilder, Result};

pub async fn handle(mut req: Request, env: Env, worker_ctx: Context) -> Result<Response> {
    let mut cx = Ctx::new(env, worker_ctx, &req);
    let result = route(&mut req, &cx).await;
    cx.close_db().await;
    let reply = result.unwrap_or_else(|err| {
        crate::routes::errors::report(&cx, &err);
        crate::routes::errors::render(&cx, &err)
    });
    into_response(&cx, reply)
}

async fn route(req: &mut Request, cx: &Ctx) -> std::result::Result<Reply, AppError> {
    use Method::{Get, Head, Post};
    let path = cx.path.clone();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method();
    match (method, segments.as_slice()) {
        (Get | Head, [""]) => pages::landing(cx).await,
        (Get | Head, ["dashboard"]) => account::dashboard(cx).await,
        (Post, ["signout"]) => account::sign_out(req, cx).await,
        (Get | Head, ["api", "health"]) => health::report(cx).await,
        (Get, ["api", "debug", "error"]) => debug::forced_error(cx),
        // AI tools (tools/), their history.
        (Get | Head, ["tools", "agentwrite"]) => agentwrite::form(cx).await,
        (Post, ["tools", "agentwrite"]) => agentwrite::generate(req, cx).await,
        (Post, ["api", "tools", "agentwrite", "stream"]) => agentwrite::stream(req, cx).await,
        (Get | Head, ["tools", "agentwrite", id]) => agentwrite::show(cx, id).await,
        (Get, ["tools", "agentwrite", id, "download"]) => agentwrite::download(cx, id).await,
        (Post, ["tools", "agentwrite", id, "delete"]) => agentwrite::delete(req, cx, id).await,
        (Get | Head, ["tools", "podscribe"]) => podscribe::form(cx).await,
        (Post, ["tools", "podscribe"]) => podscribe::upload(req, cx, podscribe::Mode::Page).await,
        (Post, ["api", "tools", "podscribe", "upload"]) => {
            podscribe::upload(req, cx, podscribe::Mode::Progress).await
        }
        (Get | Head, ["tools", "podscribe", id]) => podscribe::show(cx, id).await,
        (Post, ["tools", "podscribe", id, "notes"]) => podscribe::retry_notes(req, cx, id).await,
        (Post, ["tools", "podscribe", id, "delete"]) => podscribe::delete(req, cx, id).await,
        (Get, ["tools", "podscribe", id, file]) => podscribe::download(cx, id, file).await,
        (Get | Head, ["history"]) => history::list(req, cx).await,
        // Known paths with another method.
        (_, [""] | ["dashboard"] | ["signout"] | ["api", "health"] | ["history"]) => {
            Err(AppError::MethodNotAllowed)
        }
        (
            _,
            ["tools", "agentwrite" | "podscribe"]
            | ["api", "tools", "agentwrite", "stream"]
            | ["api", "tools", "podscribe", "upload"],
        ) => Err(AppError::MethodNotAllowed),
        _ => Err(AppError::NotFound),
    }
}

/// Adds the headers every response carries and hands the reply to the runtime.
fn into_response(cx: &Ctx, reply: Reply) -> Result<Response> {
    let headers = Headers::new();
    let https = cx.config.site.as_ref().map(|s| s.is_https()).unwrap_or(false);
    for (name, value) in security::headers(&cx.nonce, https, &crate::views::csp_sources(&cx.config)) {
        headers.set(name, &value)?;
    }
    headers.set("X-Request-Id", &cx.request_id)?;
    if let Some(content_type) = reply.content_type() {
        headers.set("Content-Type", content_type)?;
    }
    if reply.header("Cache-Control").is_none() {
        // Pages carry a per-request nonce and may show a signed-in user: never store them.
        headers.set("Cache-Control", "no-store")?;
    }
    for (name, value) in reply.headers.iter().chain(cx.take_extra_headers().iter()) {
        headers.append(name, value)?;
    }
    let builder = ResponseBuilder::new().with_status(reply.status).with_headers(headers);
    if cx.method == Method::Head {
        return Ok(builder.empty());
    }
    Ok(match reply.body {
        Body::Empty => builder.empty(),
        Body::Html(s) | Body::Json(s) | Body::Text(s) => builder.fixed(s.into_bytes()),
        Body::Bytes { bytes, .. } => builder.fixed(bytes),
        Body::Stream(stream) => builder.stream(stream),
    })
}
