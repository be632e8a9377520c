//! POST /api/stripe/webhook: the raw body is verified against `Stripe-Signature` before
//! anything else is read; a failed check is a 400 with nothing recorded. A verified event is
//! applied exactly once (services::billing::webhook); a failure while applying is a 5xx so
//! Stripe delivers it again. Mail the event owes the customer is sent after the answer.

use crate::clients::stripe::Stripe;
use crate::clients::stripe_objects::Event;
use crate::clients::stripe_signature::{verify, TOLERANCE_SECS};
use crate::ctx::Ctx;
use crate::error::AppError;
use crate::reply::Reply;
use crate::routes::input::read_body;
use crate::services::billing::webhook::{self, Outcome};
use crate::services::notices;
use serde_json::json;
use worker::Request;

/// Stripe events are a few KB; this leaves room for large invoices.
pub const BODY_LIMIT: u64 = 512 * 1024;

pub async fn receive_stripe_event(req: &mut Request, cx: &Ctx) -> Result<Reply, AppError> {
    let config = cx.config.stripe.as_ref().map_err(|p| AppError::from(p.clone()))?;
    let body = read_body(req, BODY_LIMIT).await?;
    let mut secrets = vec![config.webhook_secret.expose()];
    if let Some(previous) = &config.previous_webhook_secret {
        secrets.push(previous.expose());
    }
    let header = cx.header("stripe-signature");
    if let Err(e) = verify(header.as_deref(), &body, &secrets, cx.now_ms / 1000, TOLERANCE_SECS) {
        cx.log("warn", &format!("stripe webhook refused: {e:?}"));
        return Err(AppError::bad_request("Stripe-Signature", e.message()));
    }
    let event: Event = serde_json::from_slice(&body).map_err(|_| {
        AppError::bad_request("body", "The body is not a Stripe event (JSON with id, type and data.object).")
    })?;
    if event.id.is_empty() || event.kind.is_empty() {
        return Err(AppError::bad_request("body", "The event has no id or type."));
    }
    let stripe = Stripe::from_config(&cx.config)?;
    let outcome = webhook::receive(cx.db().await?, &stripe, &cx.config, &event, cx.now_ms).await?;
    if let Outcome::Applied { .. } = outcome {
        // The customer's mail (if the event owes one) goes after the answer: a mail server that
        // is down never delays or fails Stripe's delivery. Earlier unsent notices go with it.
        cx.wait_until(notices::send_due(crate::routes::tools::job_env(cx), cx.now_ms));
    }
    let detail = match &outcome {
        Outcome::Applied { detail, .. } | Outcome::Ignored { detail } => detail.as_str(),
        Outcome::Duplicate => "already handled",
    };
    cx.log("info", &format!("stripe event {} {}: {} ({detail})", event.id, event.kind, outcome.label()));
    Ok(Reply::json(&json!({ "received": true, "outcome": outcome.label() })))
}
