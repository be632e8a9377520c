//! The AI tools' handlers (AgentWrite, PodScribe) and what they share: the rate-limit seam,
//! item ids from URLs, and relaying a run's events to the browser as a streamed body.

pub mod agentwrite;
pub mod podscribe;
pub mod podscribe_parts;
pub mod upload;

use crate::ctx::Ctx;
use crate::domain::item_id::ItemId;
use crate::domain::Credits;
use crate::domain::UserId;
use crate::error::AppError;
use crate::rate_limit::{Policy, Subject};
use crate::reply::{Body, Reply};
use crate::services::billing::reversals;
use crate::services::runs::JobEnv;
use futures_channel::mpsc::UnboundedReceiver;
use futures_util::future::{select, Either};
use futures_util::{Stream, StreamExt};
use std::time::Duration;
use wasm_bindgen::{JsCast, JsValue};
use worker::Delay;

/// Which AI route is being asked for (what a rate limit is counted against).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolKind {
    /// A product description (AgentWrite): `Policy::AiGeneration`.
    AgentWrite,
    /// An episode upload (PodScribe): `Policy::TranscriptionUpload`.
    PodScribe,
    /// Show notes written again for a transcript: `Policy::AiGeneration`.
    ShowNotes,
}

/// The coarse per-IP flood guard (`Policy::ToolFloodPerIp`), failing closed: the dispatcher
/// counts every AI POST here first, before anything is read (`Limits::flood_guard` in the route
/// table). Refused sign-ins and forms are counted here only.
pub async fn flood(cx: &Ctx) -> Result<(), AppError> {
    cx.limit(Policy::ToolFloodPerIp, &Subject::ip(cx.client_ip().as_deref())).await?;
    Ok(())
}

/// Every AI handler calls this once the work is accepted (signed in, the form or file valid),
/// just before it is started: the rate limiter's `AiGeneration` or `TranscriptionUpload`
/// window for this account, failing closed when the limiter is down — these calls cost money.
/// Over the limit it answers `AppError::TooManyRequests`. An account on hold (a payment
/// dispute, or suspended by an operator) is refused here too (`AppError::Forbidden`), before
/// the limiter is asked.
pub async fn limit(cx: &Ctx, kind: ToolKind) -> Result<(), AppError> {
    // The hold first: a refusal for it must not spend a unit of the account's limit.
    if let Some(user) = cx.user().await? {
        reversals::ensure_not_on_hold(cx.db().await?, user.id).await?;
    }
    rate_limit(cx, kind).await
}

/// The signed-in account's id, with its balance and hold read alongside the session check (one
/// round trip; `Access::Payer`) and kept for the request, for `pay_and_limit`.
pub async fn payer(cx: &Ctx) -> Result<(UserId, (Credits, Option<&'static str>)), AppError> {
    if let (Some(Some(user)), Some(standing)) = (cx.user.get(), cx.standing.get()) {
        return Ok((user.id, *standing));
    }
    let (user, standing) =
        cx.user_with(reversals::balance_and_notice).await?.ok_or(AppError::Unauthenticated)?;
    Ok((user.id, *cx.standing.get_or_init(|| standing)))
}

/// `rate_limit` once the account (`standing`, from `payer`) is not on hold and has `needed`
/// credits: a start refused for either would otherwise spend a unit of the account's limit.
pub async fn pay_and_limit(
    cx: &Ctx,
    kind: ToolKind,
    standing: (Credits, Option<&'static str>),
    needed: Credits,
) -> Result<(), AppError> {
    reversals::ensure_can_pay(standing, needed)?;
    rate_limit(cx, kind).await
}

/// `limit` without the hold check, for a tool whose start checks the hold in its own
/// transaction (AgentWrite: one round trip fewer).
pub async fn rate_limit(cx: &Ctx, kind: ToolKind) -> Result<(), AppError> {
    let policy = match kind {
        ToolKind::AgentWrite | ToolKind::ShowNotes => Policy::AiGeneration,
        ToolKind::PodScribe => Policy::TranscriptionUpload,
    };
    cx.limit(policy, &cx.subject).await?;
    Ok(())
}

/// The id in a URL; anything that is not one of ours is simply not found.
/// What a run needs once its request may be gone: the run outlives the handler that starts it.
pub fn job_env(cx: &Ctx) -> JobEnv {
    JobEnv { env: cx.env.clone(), config: cx.config.clone(), reporter: cx.reporter(), timing: None }
}

pub fn item_id(segment: &str) -> Result<ItemId, AppError> {
    ItemId::parse(segment).ok_or(AppError::NotFound)
}

/// While a run is quiet (a long transcription), something is sent this often so no proxy
/// between us and the browser closes the connection as idle.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// A run's events as a body written while the response is sent. When the browser goes away
/// the body is cancelled and the receiver dropped; the run itself (in `wait_until`) goes on.
pub fn relay<E: 'static>(
    content_type: &str,
    events: UnboundedReceiver<E>,
    encode: fn(&E) -> Vec<u8>,
    heartbeat: &'static [u8],
) -> Reply {
    let body = futures_util::stream::unfold(events, move |mut events| async move {
        let step = match select(events.next(), Delay::from(HEARTBEAT)).await {
            Either::Left((event, _)) => event.map(|e| encode(&e)),
            Either::Right(_) => Some(heartbeat.to_vec()),
        };
        step.map(|bytes| (bytes, events))
    });
    Reply::new(200, Body::Stream(readable(body)))
        .with_header("Content-Type", content_type)
        // Never cached or transformed (compression would hold pieces back).
        .with_header("Cache-Control", "no-store, no-transform")
        .with_header("X-Accel-Buffering", "no")
}

fn readable(body: impl Stream<Item = Vec<u8>> + 'static) -> worker::web_sys::ReadableStream {
    let chunks =
        body.map(|bytes| Ok::<JsValue, JsValue>(worker::js_sys::Uint8Array::from(bytes.as_slice()).into()));
    wasm_streams::ReadableStream::from_stream(chunks).into_raw().unchecked_into()
}
