//! GhostTools as one Cloudflare Worker: the entry points and the module list.

pub mod app;
pub mod auth;
pub mod clients;
pub mod config;
pub mod cookie;
pub mod ctx;
pub mod db;
#[cfg(test)]
mod doc_claims;
pub mod domain;
pub mod error;
pub mod fetch;
pub mod incoming;
pub mod mail;
/// The production preflight (native only: the `preflight` binary).
#[cfg(not(target_arch = "wasm32"))]
pub mod preflight;
pub mod rate_limit;
pub mod reply;
pub mod respond;
pub mod routes;
pub mod security;
pub mod services;
pub mod sign_in;
pub mod telemetry;
pub mod timing;
pub mod views;

use worker::{event, web_sys, Context, Env, Result, ScheduleContext, ScheduledEvent};

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// Takes the runtime's request as is: `incoming` converts it only for handlers that need it.
#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> Result<web_sys::Response> {
    app::handle(incoming::Incoming::new(req), env, ctx).await
}

/// The Cron Trigger: the scheduled sweep (stranded runs refunded, expired rows deleted).
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    services::sweep::scheduled(&env, &event.cron()).await;
}

/// The Queue consumer: PodScribe runs, and runs whose retries ran out (refunded).
#[event(queue)]
async fn queue(
    batch: worker::MessageBatch<services::run_queue::RunMessage>,
    env: Env,
    _ctx: Context,
) -> Result<()> {
    services::run_queue::consume(batch, env).await;
    Ok(())
}
