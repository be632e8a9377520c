//! AgentWrite pages: the form (`GET /tools/agentwrite`), writing without JavaScript (`POST`,
//! answered when the run is done), writing streamed to the page (`POST
//! /api/tools/agentwrite/stream`, server-sent events), a saved result, its download, deleting it.

use super::{item_id, relay, ToolKind};
use crate::ctx::Ctx;
use crate::domain::brief::{BriefForm, FieldError, ProductBrief};
use crate::domain::tool::RunStatus;
use crate::domain::Credits;
use crate::domain::UserId;
use crate::error::AppError;
use crate::reply::{Body, Reply};
use crate::routes::input::Form;
use crate::services::agentwrite::{self, CutShort, Event};
use crate::services::agentwrite_backstop;
use crate::services::billing::reversals;
use crate::services::runs::{failure_message, failure_status};
use crate::views::render;
use crate::views::tools::{when, AgentWritePage, GenerationView};
use futures_channel::mpsc::{self, UnboundedReceiver};
use futures_util::StreamExt;
use serde_json::json;
use worker::Request;

pub async fn form(cx: &Ctx) -> Result<Reply, AppError> {
    let user_id = cx.require_user().await?.id;
    page(cx, user_id, None, BriefForm::blank(), Vec::new(), None, None).await
}

/// Without JavaScript: the page waits for the whole description, then shows it (303 to the
/// saved result), or shows the form again, values kept, with what went wrong.
pub async fn generate(req: &mut Request, cx: &Ctx) -> Result<Reply, AppError> {
    let (user_id, standing) = super::payer(cx).await?;
    cx.config.openai.as_ref().map_err(|p| AppError::from(p.clone()))?;
    let form = brief_form(&Form::read(req, cx).await?);
    let brief = match ProductBrief::parse(&form) {
        Ok(b) => b,
        Err(errors) => return Ok(page(cx, user_id, None, form, errors, None, None).await?.with_status(400)),
    };
    let mut events = match start(cx, (user_id, standing), brief, Waits::Yes).await {
        Ok(events) => events,
        Err(e @ AppError::InsufficientCredits { .. }) => {
            return Ok(page(cx, user_id, None, form, Vec::new(), Some(e.public_message()), None)
                .await?
                .with_status(402));
        }
        Err(e) => return Err(e),
    };
    while let Some(event) = events.next().await {
        match event {
            Event::Done { id, .. } => return Ok(Reply::redirect(format!("/tools/agentwrite/{id}"))),
            Event::Failed { code, message } => {
                let reply = page(cx, user_id, None, form, Vec::new(), Some(message), None).await?;
                return Ok(reply.with_status(failure_status(code)));
            }
            Event::Started { .. } | Event::Delta { .. } => {}
        }
    }
    Err(AppError::internal("an AgentWrite run ended without an outcome"))
}

/// With JavaScript: the description as server-sent events (`start`, `delta`…, then `done` or
/// `error`); each `delta` carries what it changes in the formatted copy (`view`). Problems found before writing starts are JSON errors (fields named for the form).
pub async fn stream(req: &mut Request, cx: &Ctx) -> Result<Reply, AppError> {
    let (user_id, standing) = super::payer(cx).await?;
    cx.config.openai.as_ref().map_err(|p| AppError::from(p.clone()))?;
    let form = brief_form(&Form::read(req, cx).await?);
    let brief = match ProductBrief::parse(&form) {
        Ok(b) => b,
        Err(errors) => return Ok(field_errors(&errors)),
    };
    let events = start(cx, (user_id, standing), brief, Waits::No).await?;
    Ok(relay("text/event-stream; charset=utf-8", events, Event::to_sse, b": keep-alive\n\n"))
}

/// Whether the request waits for the run (then the run's connection counts in its
/// `Server-Timing`).
#[derive(PartialEq)]
enum Waits {
    Yes,
    No,
}

/// Counts the generation against the account's limit (unless it would be refused for its hold
/// or credits), reserves the credit and starts the run detached from this request (so it
/// settles even if the browser leaves); returns its events.
async fn start(
    cx: &Ctx,
    (user_id, standing): (UserId, (Credits, Option<&'static str>)),
    brief: ProductBrief,
    waits: Waits,
) -> Result<UnboundedReceiver<Event>, AppError> {
    super::pay_and_limit(cx, ToolKind::AgentWrite, standing, agentwrite::CREDITS).await?;
    let id = agentwrite::start(cx.db().await?, user_id, &brief, &cx.config.tools.chat_model).await?;
    let (tx, rx) = mpsc::unbounded();
    let _ = tx.unbounded_send(Event::Started { id: id.clone() });
    let job = super::job_env(cx);
    let job = if waits == Waits::Yes { job.counted_in(&cx.timing) } else { job };
    cx.wait_until(agentwrite_backstop::run(job, id, brief, tx));
    Ok(rx)
}

fn field_errors(errors: &[FieldError]) -> Reply {
    let fields: serde_json::Map<String, serde_json::Value> =
        errors.iter().map(|e| (e.field.to_string(), json!(e.message))).collect();
    Reply::json(&json!({ "error": {
        "code": "bad_request",
        "message": "Please fix the highlighted fields.",
        "fields": fields,
    }}))
    .with_status(400)
    .no_store()
}

fn brief_form(form: &Form) -> BriefForm {
    // Only these fields are read: anything else the client sends (a "prompt") is ignored.
    BriefForm {
        product_name: form.text("product_name").into(),
        features: form.text("features").into(),
        audience: form.text("audience").into(),
        tone: form.text("tone").into(),
        length: form.text("length").into(),
        language: form.text("language").into(),
        keywords: form.text("keywords").into(),
    }
}

/// The form page; the balance and the hold when the caller read them already (else here).
#[allow(clippy::too_many_arguments)]
async fn page(
    cx: &Ctx,
    user_id: UserId,
    known: Option<(Credits, Option<&'static str>)>,
    form: BriefForm,
    errors: Vec<FieldError>,
    notice: Option<String>,
    result: Option<GenerationView>,
) -> Result<Reply, AppError> {
    let (balance, hold) = match known {
        Some(known) => known,
        None => reversals::balance_and_notice(cx.db().await?, user_id).await?,
    };
    let layout = crate::routes::layout(cx, "AgentWrite · GhostTools").await;
    Ok(Reply::html(render(&AgentWritePage { layout, form, errors, notice, balance, result, hold })))
}

/// A saved description with its brief in the form, ready to regenerate.
pub async fn show(cx: &Ctx, id: &str) -> Result<Reply, AppError> {
    let user_id = cx.require_user().await?.id;
    let id = item_id(id)?;
    let (g, known) = agentwrite::saved(cx.db().await?, user_id, &id).await?;
    let notice = (g.status == RunStatus::Failed)
        .then(|| failure_message("AgentWrite", g.error.as_deref().unwrap_or("unavailable"), true));
    let view = GenerationView {
        id: g.id.clone(),
        running: g.status.in_progress(),
        copy: g.copy.filter(|_| g.status == RunStatus::Done),
        created: when(g.created_at_ms),
        cut_short: g.cut_short.as_deref().and_then(CutShort::parse).map(CutShort::message),
    };
    let result = (g.status != RunStatus::Failed).then_some(view);
    page(cx, user_id, Some(known), g.brief.to_form(), Vec::new(), notice, result).await
}

pub async fn download(cx: &Ctx, id: &str) -> Result<Reply, AppError> {
    let user_id = cx.require_user().await?.id;
    let id = item_id(id)?;
    let g = agentwrite::find(cx.db().await?, user_id, &id).await?;
    let copy = g.copy.filter(|_| g.status == RunStatus::Done).ok_or(AppError::NotFound)?;
    let name = file_stem(g.brief.product_name());
    Ok(Reply::new(
        200,
        Body::Bytes { content_type: "text/plain; charset=utf-8".into(), bytes: copy.to_text().into_bytes() },
    )
    .with_header("Content-Disposition", format!("attachment; filename=\"{name}.txt\""))
    .no_store())
}

pub async fn delete(req: &mut Request, cx: &Ctx, id: &str) -> Result<Reply, AppError> {
    let user_id = cx.require_user().await?.id;
    let id = item_id(id)?;
    Form::read(req, cx).await?;
    agentwrite::delete(cx.db().await?, user_id, &id).await?;
    Ok(Reply::redirect("/history"))
}

/// A safe ASCII file name from a title.
pub fn file_stem(title: &str) -> String {
    let stem: String = title
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let stem: String = stem.chars().take(60).collect();
    if stem.is_empty() {
        "ghosttools".into()
    } else {
        stem
    }
}

#[cfg(test)]
mod tests {
    use super::file_stem;

    #[test]
    fn file_names_are_safe_ascii() {
        assert_eq!(file_stem("TrailLite 2 — \"Tent\"/../x"), "traillite-2-tent-x");
        assert_eq!(file_stem("日本"), "ghosttools");
    }
}
