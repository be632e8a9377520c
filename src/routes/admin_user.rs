//! One account in the operator console (`/admin/users/:id`): its runs, ledger, purchases,
//! Stripe events and the operator actions on it; deducting credits, suspending and restoring;
//! and replaying a failed Stripe event (`/admin/events/:id/replay`). Like the console, every
//! route here is the site's 404 for anyone but an operator, and every POST needs the form's
//! CSRF token (`Form::read`). Refusals name the field and write nothing.

use super::admin::{operator, require_admin};
use super::input::Form;
use crate::clients::stripe::Stripe;
use crate::ctx::Ctx;
use crate::domain::credit_change::{parse_reason, CreditChange};
use crate::domain::UserId;
use crate::error::AppError;
use crate::reply::Reply;
use crate::services::billing::webhook::Outcome;
use crate::services::console;
use crate::services::operator::{self as ops, Deducted};
use crate::views::admin::{ActionForm, UserPage};
use crate::views::flash::FlashKind;
use crate::views::ledger::ledger_views;
use crate::views::render;
use worker::Request;

/// The account's id in the URL; anything else is simply not found.
fn user_id(segment: &str) -> Result<UserId, AppError> {
    segment.parse::<UserId>().ok().filter(|id| id.get() > 0).ok_or(AppError::NotFound)
}

fn page_of(id: UserId) -> String {
    format!("/admin/users/{id}")
}

/// `GET /admin/users/:id`.
pub async fn show(cx: &Ctx, id: &str) -> Result<Reply, AppError> {
    let html = user_page(cx, user_id(id)?, ActionForm::default(), ActionForm::default()).await?;
    Ok(Reply::html(html))
}

async fn user_page(
    cx: &Ctx,
    id: UserId,
    mut deduct: ActionForm,
    mut suspend: ActionForm,
) -> Result<String, AppError> {
    let console::Account { user, runs, ledger, purchases, events, audit } =
        console::account(cx.db().await?, id).await?;
    // A fresh reference per rendered form: sending the same form twice acts once.
    deduct.reference = crate::security::random_token();
    suspend.reference = crate::security::random_token();
    let title = format!("Account #{id} · Operator console · GhostTools");
    let layout = super::layout(cx, title).await;
    Ok(render(&UserPage {
        layout,
        user,
        runs,
        ledger: ledger_views(&ledger),
        purchases,
        events,
        audit,
        deduct,
        suspend,
    }))
}

/// Re-shows the page with the refused form's error, as a 400.
async fn refuse(
    cx: &Ctx,
    id: UserId,
    e: AppError,
    which: &str,
    mut form: ActionForm,
) -> Result<Reply, AppError> {
    form.error_field = e.field().unwrap_or_default().to_string();
    form.error = Some(e.public_message());
    let html = if which == "deduct" {
        user_page(cx, id, form, ActionForm::default()).await?
    } else {
        user_page(cx, id, ActionForm::default(), form).await?
    };
    Ok(Reply::html(html).with_status(400))
}

/// `POST /admin/users/:id/deduct`: `amount`, `reason`, `reference` (as a grant's). Never below
/// zero: more than the balance is refused and nothing is written.
pub async fn deduct(req: &mut Request, cx: &Ctx, id: &str) -> Result<Reply, AppError> {
    let admin = require_admin(cx).await?;
    let id = user_id(id)?;
    let form = Form::read(req, cx).await?;
    let input = ActionForm {
        amount: form.text("amount").trim().to_string(),
        reason: form.text("reason").trim().to_string(),
        ..ActionForm::default()
    };
    let change = match CreditChange::parse(&input.amount, &input.reason, form.get("reference")) {
        Ok(change) => change,
        Err(e) => return refuse(cx, id, e, "deduct", input).await,
    };
    let db = cx.db().await?;
    let (amount, reference) = (change.amount, change.ledger_reference(admin.id));
    match ops::deduct(db, operator(admin), id, &change).await? {
        Deducted::Now { balance } => {
            cx.log(
                "info",
                &format!("admin {} deducted {amount} credits from user {id} ({reference})", admin.id),
            );
            cx.set_flash(FlashKind::Success, format!("Credits deducted: {amount} (balance now {balance})."));
        }
        Deducted::Already => {
            cx.set_flash(FlashKind::Info, "That deduction was made already (the form was sent twice).");
        }
        Deducted::TooMuch { balance } => {
            let e = AppError::bad_request(
                "amount",
                format!("The account has {balance} credits: deduct at most that (a balance never goes below zero)."),
            );
            return refuse(cx, id, e, "deduct", input).await;
        }
    }
    Ok(Reply::redirect(page_of(id)))
}

/// `POST /admin/users/:id/suspend`: `reason`. Tools and buying are refused until restored.
pub async fn suspend(req: &mut Request, cx: &Ctx, id: &str) -> Result<Reply, AppError> {
    let admin = require_admin(cx).await?;
    let id = user_id(id)?;
    let form = Form::read(req, cx).await?;
    let input = ActionForm { reason: form.text("reason").trim().to_string(), ..ActionForm::default() };
    let reason = match parse_reason(&input.reason) {
        Ok(r) => r,
        Err(e) => return refuse(cx, id, e, "suspend", input).await,
    };
    let db = cx.db().await?;
    if ops::suspend(db, operator(admin), id, &reason).await? {
        cx.log("info", &format!("admin {} suspended user {id}", admin.id));
        cx.set_flash(
            FlashKind::Success,
            "Account suspended: tools and buying are refused until it is restored.",
        );
    } else {
        cx.set_flash(FlashKind::Info, "That account was suspended already (or is deleted).");
    }
    Ok(Reply::redirect(page_of(id)))
}

/// `POST /admin/users/:id/restore`.
pub async fn restore(req: &mut Request, cx: &Ctx, id: &str) -> Result<Reply, AppError> {
    let admin = require_admin(cx).await?;
    let id = user_id(id)?;
    Form::read(req, cx).await?;
    let db = cx.db().await?;
    if ops::restore(db, operator(admin), id).await? {
        cx.log("info", &format!("admin {} restored user {id}", admin.id));
        cx.set_flash(FlashKind::Success, "Account restored: tools and buying work again.");
    } else {
        cx.set_flash(FlashKind::Info, "That account was not suspended.");
    }
    Ok(Reply::redirect(page_of(id)))
}

/// `POST /admin/events/:id/replay`: an event whose last attempt failed, fetched again from
/// Stripe and applied as a delivery is.
pub async fn replay(req: &mut Request, cx: &Ctx, event_id: &str) -> Result<Reply, AppError> {
    let admin = require_admin(cx).await?;
    Form::read(req, cx).await?;
    let ok = event_id.starts_with("evt_")
        && event_id.len() <= 255
        && event_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !ok {
        return Err(AppError::bad_request("event", "That is not a Stripe event id (evt_…)."));
    }
    let stripe = Stripe::from_config(&cx.config)?;
    let db = cx.db().await?;
    match ops::replay(db, &stripe, &cx.config, operator(admin), event_id, cx.now_ms).await {
        Ok(outcome) => {
            let detail = match &outcome {
                Outcome::Applied { detail, .. } | Outcome::Ignored { detail } => detail.as_str(),
                Outcome::Duplicate => "already handled",
            };
            cx.log("info", &format!("admin {} replayed {event_id}: {}", admin.id, outcome.label()));
            if let Outcome::Applied { .. } = outcome {
                // Mail the event owes the customer, as after a delivery.
                cx.wait_until(crate::services::notices::send_due(
                    crate::routes::tools::job_env(cx),
                    cx.now_ms,
                ));
            }
            cx.set_flash(
                FlashKind::Success,
                format!("Event {event_id} replayed: {} ({detail}).", outcome.label()),
            );
        }
        Err(e @ AppError::BadRequest { .. }) => return Err(e),
        Err(e) => {
            cx.log("warn", &format!("admin {} replayed {event_id}: failed: {e}", admin.id));
            cx.set_flash(FlashKind::Error, format!("Event {event_id} failed again: {}", e.public_message()));
        }
    }
    Ok(Reply::redirect("/admin#events-heading".to_string()))
}
