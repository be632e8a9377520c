//! Returns the page in the `PAGE` variable (our landing page, written by bench/run.mjs) with a
//! Content-Type header: what the JavaScript ceiling does, as a Rust Worker.

use std::cell::OnceCell;
use worker::{event, web_sys, Context, Env, Response, Result};

thread_local! {
    static PAGE: OnceCell<String> = const { OnceCell::new() };
}

#[event(fetch)]
async fn fetch(_req: web_sys::Request, env: Env, _ctx: Context) -> Result<Response> {
    let page = PAGE.with(|p| p.get_or_init(|| env.var("PAGE").map(|v| v.to_string()).unwrap_or_default()).clone());
    Response::from_html(page)
}
