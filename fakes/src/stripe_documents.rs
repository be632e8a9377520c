//! The fake Stripe's documents: every invoice's number and hosted page, a subscription's
//! invoice, the invoice Checkout makes for a one-time payment when the session asked for
//! `invoice_creation`, and the hosted invoice and receipt pages (the billing page links both).

use crate::page::{esc, page};
use crate::stripe_state::{now, State};
use crate::stripe_wire::error;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::{json, Value};

/// An invoice's number and hosted page, as Stripe gives them once it is finalized.
pub fn document(st: &mut State, id: &str) -> (String, String) {
    st.next += 1;
    (format!("E2E{}-{:04}", std::process::id(), st.next), format!("{}/invoices/{id}", st.base))
}

/// A subscription's invoice (`reason`: Stripe's billing reason), numbered, with its hosted page.
pub fn invoice_for(st: &mut State, id: &str, sub: &Value, reason: &str, paid: bool) -> Value {
    let item = &sub["items"]["data"][0];
    let amount = item["price"]["unit_amount"].as_i64().unwrap_or(0);
    let (number, hosted) = document(st, id);
    json!({
        "id": id, "object": "invoice", "customer": sub["customer"], "billing_reason": reason,
        "number": number, "hosted_invoice_url": hosted, "metadata": {},
        "status": if paid { "paid" } else { "open" }, "attempted": true,
        "amount_due": amount, "amount_paid": if paid { amount } else { 0 }, "currency": item["price"]["currency"],
        "period_start": item["current_period_start"], "period_end": item["current_period_end"],
        "parent": { "type": "subscription_details", "quote_details": null,
            "subscription_details": { "subscription": sub["id"], "metadata": sub["metadata"] } },
        "lines": { "object": "list", "data": [ { "id": format!("il_{id}"), "object": "line_item", "amount": amount,
            "currency": item["price"]["currency"],
            "period": { "start": item["current_period_start"], "end": item["current_period_end"] },
            "pricing": { "type": "price_details", "price_details": { "price": item["price"]["id"] } } } ] },
        "livemode": false, "created": now(),
    })
}

/// A session's `invoice_creation` as Stripe shows it, from the form's (sent as strings:
/// `invoice_creation[enabled]=true`); Stripe refuses it outside payment mode. Subscription
/// sessions show none (`null`).
pub fn invoice_creation(mode: &str, form: &Value) -> Result<Value, (u16, Value)> {
    match form.get("invoice_creation") {
        Some(_) if mode != "payment" => {
            let msg = "You can only enable invoice creation when `mode` is set to `payment`.";
            Err((400, error("invalid_request_error", None, msg, Some("invoice_creation"))))
        }
        _ if mode != "payment" => Ok(Value::Null),
        Some(ic) => Ok(json!({ "enabled": ic["enabled"] == "true",
            "invoice_data": { "metadata": ic.pointer("/invoice_data/metadata").cloned().unwrap_or(json!({})) } })),
        None => Ok(json!({ "enabled": false, "invoice_data": { "metadata": {} } })),
    }
}

/// The invoice Checkout makes after a one-time payment when the session was created with
/// `invoice_creation[enabled]=true`: paid, no subscription, `invoice_data`'s metadata.
pub fn pack_invoice(st: &mut State, session: &Value) -> Option<Value> {
    let creation = &session["invoice_creation"];
    if creation["enabled"] != true {
        return None;
    }
    let id = st.id("in");
    let (number, hosted) = document(st, &id);
    let amount = session["amount_total"].clone();
    let invoice = json!({
        "id": id, "object": "invoice", "customer": session["customer"], "billing_reason": "manual",
        "number": number, "hosted_invoice_url": hosted, "invoice_pdf": format!("{hosted}/pdf"),
        "status": "paid", "attempted": true, "amount_due": amount, "amount_paid": amount,
        "amount_remaining": 0, "currency": session["currency"], "parent": null,
        "metadata": creation["invoice_data"]["metadata"], "period_start": now(), "period_end": now(),
        "lines": { "object": "list", "data": [] }, "livemode": false, "created": now(),
    });
    st.invoices.insert(id, invoice.clone());
    Some(invoice)
}

/// `GET /invoices/:id` and `GET /receipts/:id`: Stripe's hosted invoice page and receipt.
pub fn document_page(st: &State, kind: &str, id: &str) -> Response {
    let (what, known) = match kind {
        "invoices" => ("Invoice", st.invoices.get(id)),
        _ => ("Receipt", st.charges.get(id)),
    };
    let Some(doc) = known else {
        return (StatusCode::NOT_FOUND, "no such document").into_response();
    };
    let title = format!("{what} {id}");
    let number = doc["number"].as_str().map(|n| format!("<p>Number {}</p>", esc(n))).unwrap_or_default();
    let body = format!("<section><h1>{}</h1>{number}<p>You can close this page.</p></section>", esc(&title));
    Html(page(&title, "Stripe's hosted documents", "#635bff", false, &body)).into_response()
}
