//! The fake Stripe's server: the REST API (`/v1/...`, with its key, scripted faults and
//! idempotency replays), and every other path to the hosted pages (stripe_pages.rs). Tests use
//! it through `StripeFake` (stripe.rs).

use crate::stripe_documents::invoice_creation;
use crate::stripe_pages::hosted;
use crate::stripe_payments::list_invoice_payments;
use crate::stripe_state::{now, Shared, State, SECRET_KEY};
use crate::stripe_wire::{error, parse_form};
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

fn answer(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), [("request-id", "req_fake")], axum::Json(body)).into_response()
}

fn missing(param: &str, what: &str) -> (u16, Value) {
    (
        400,
        error(
            "invalid_request_error",
            Some("parameter_missing"),
            &format!("Missing required param: {what}."),
            Some(param),
        ),
    )
}

pub async fn handle(
    AxState(state): AxState<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    if !path.starts_with("/v1/") {
        return hosted(state, method, &path, body).await;
    }
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {SECRET_KEY}")) {
        let msg = "Invalid API Key provided (fake).";
        return answer(401, error("invalid_request_error", None, msg, None));
    }
    let form = if method == Method::POST {
        parse_form(&body)
    } else {
        parse_form(uri.query().unwrap_or("").as_bytes())
    };
    // A scripted fault, if one matches (the lock is not held while delaying).
    let fault = {
        let mut st = state.lock().unwrap();
        let found = st.faults.iter_mut().find(|f| {
            f.times > 0
                && f.method == method.as_str()
                && f.path == path
                && f.form_field.as_ref().is_none_or(|(k, v)| form_value(&form, k) == Some(v.clone()))
        });
        found.map(|f| {
            f.times -= 1;
            f.clone()
        })
    };
    if let Some(f) = &fault {
        if let Some(barrier) = &f.gather {
            // Bounded: a test that sends fewer requests than it gathers fails instead of hanging.
            let _ = tokio::time::timeout(Duration::from_secs(20), barrier.wait()).await;
        }
        tokio::time::sleep(Duration::from_millis(f.delay_ms)).await;
        if f.status != 0 {
            let mut res = answer(f.status, f.body.clone());
            if let Some(v) = f.should_retry {
                res.headers_mut().insert("stripe-should-retry", v.parse().unwrap());
            }
            return res;
        }
    }
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    let fingerprint = format!("{method} {path} {}", String::from_utf8_lossy(&body));
    let mut st = state.lock().unwrap();
    if let (Some(k), true) = (&key, method == Method::POST) {
        if let Some((seen, status, response)) = st.idempotency.get(k).cloned() {
            if seen != fingerprint {
                let msg = format!("Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{k}' if you meant to execute a different request.");
                return answer(400, error("idempotency_error", None, &msg, None));
            }
            let mut res = answer(status, response);
            res.headers_mut().insert("idempotent-replayed", "true".parse().unwrap());
            return res;
        }
    }
    let (status, response) = api(&mut st, &method, &path, &form);
    if let (Some(k), true) = (key, method == Method::POST && (200..300).contains(&status)) {
        st.idempotency.insert(k, (fingerprint, status, response.clone()));
    }
    answer(status, response)
}

/// A form value by its bracketed key (`metadata[user_id]`), from the parsed form.
fn form_value(form: &Value, key: &str) -> Option<String> {
    let mut node = form;
    for part in key.split('[') {
        let part = part.trim_end_matches(']');
        node = match part.parse::<usize>() {
            Ok(i) if node.is_array() => node.get(i)?,
            _ => node.get(part)?,
        };
    }
    node.as_str().map(str::to_string)
}

fn api(st: &mut State, method: &Method, path: &str, form: &Value) -> (u16, Value) {
    let parts: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
    let not_found = |what: &str, id: &str| {
        (
            404,
            error(
                "invalid_request_error",
                Some("resource_missing"),
                &format!("No such {what}: '{id}'"),
                Some("id"),
            ),
        )
    };
    let get = |map: &HashMap<String, Value>, what: &str, id: &str| match map.get(id) {
        Some(v) => (200, v.clone()),
        None => not_found(what, id),
    };
    match (method.as_str(), parts.as_slice()) {
        ("POST", ["customers"]) => {
            let id = st.id("cus");
            let customer = json!({ "id": id, "object": "customer", "email": form.get("email"),
                "metadata": form.get("metadata").cloned().unwrap_or(json!({})), "created": now(), "livemode": false });
            st.customers.insert(id, customer.clone());
            (200, customer)
        }
        ("GET", ["customers", id]) => get(&st.customers, "customer", id),
        // Updating a customer: only the email is ever changed by us (an address change).
        ("POST", ["customers", id]) => match st.customers.get_mut(*id) {
            Some(customer) => {
                if let Some(email) = form.get("email") {
                    customer["email"] = email.clone();
                }
                (200, customer.clone())
            }
            None => not_found("customer", id),
        },
        // As Stripe does: the customer's subscriptions end at once, without proration.
        ("DELETE", ["customers", id]) => match st.customers.remove(*id) {
            Some(_) => {
                for sub in st.subscriptions.values_mut().filter(|s| s["customer"] == *id) {
                    sub["status"] = json!("canceled");
                    sub["canceled_at"] = json!(now());
                    sub["ended_at"] = json!(now());
                }
                (200, json!({ "id": id, "object": "customer", "deleted": true }))
            }
            None => not_found("customer", id),
        },
        ("GET", ["prices", id]) => match st.prices.get(*id).cloned() {
            Some(mut price) => {
                let expand = form.get("expand").map(|e| e.to_string()).unwrap_or_default();
                if expand.contains("product") {
                    let product_id = price["product"].as_str().unwrap_or_default().to_string();
                    price["product"] = st.products.get(&product_id).cloned().unwrap_or(Value::Null);
                }
                (200, price)
            }
            None => not_found("price", id),
        },
        ("POST", ["checkout", "sessions"]) => create_session(st, form),
        ("GET", ["checkout", "sessions", id]) => get(&st.sessions, "checkout.session", id),
        ("POST", ["billing_portal", "sessions"]) => {
            let Some(customer) = form.get("customer").and_then(Value::as_str) else {
                return missing("customer", "customer");
            };
            if !st.knows_customer(customer) {
                return not_found("customer", customer);
            }
            let id = st.id("bps");
            let session = json!({ "id": id, "object": "billing_portal.session", "customer": customer,
                "return_url": form.get("return_url"), "url": format!("{}/portal/{id}", st.base),
                "created": now(), "livemode": false });
            st.portal_sessions.insert(id, session.clone());
            (200, session)
        }
        ("GET", ["subscriptions", id]) => get(&st.subscriptions, "subscription", id),
        ("GET", ["invoices", id]) => get(&st.invoices, "invoice", id),
        ("GET", ["charges", id]) => get(&st.charges, "charge", id),
        ("GET", ["events", id]) => get(&st.events, "event", id),
        ("GET", ["invoice_payments"]) => list_invoice_payments(st, form),
        _ => (
            404,
            error(
                "invalid_request_error",
                None,
                &format!("Unrecognized request URL ({method}: {path})."),
                None,
            ),
        ),
    }
}

fn create_session(st: &mut State, form: &Value) -> (u16, Value) {
    let mode = form.get("mode").and_then(Value::as_str).unwrap_or("");
    if !["payment", "subscription", "setup"].contains(&mode) {
        return missing("mode", "mode");
    }
    let Some(price_id) = form.pointer("/line_items/0/price").and_then(Value::as_str) else {
        return missing("line_items", "line_items");
    };
    let Some(price) = st.prices.get(price_id).cloned() else {
        let msg = format!("No such price: '{price_id}'");
        return (
            400,
            error("invalid_request_error", Some("resource_missing"), &msg, Some("line_items[0][price]")),
        );
    };
    if mode == "payment" && price["type"] == "recurring" {
        let msg = "You must be in `subscription` mode to use recurring prices.";
        return (400, error("invalid_request_error", None, msg, Some("line_items[0][price]")));
    }
    if mode == "subscription" && price["type"] != "recurring" {
        let msg = "You must provide at least one recurring price in `subscription` mode.";
        return (400, error("invalid_request_error", None, msg, Some("line_items")));
    }
    if form.get("success_url").and_then(Value::as_str).is_none_or(str::is_empty) {
        return missing("success_url", "success_url");
    }
    if form.get("client_reference_id").is_some_and(|v| v.as_str().is_none_or(str::is_empty)) {
        let msg = "Invalid string: client_reference_id must be at least 1 character.";
        return (400, error("invalid_request_error", None, msg, Some("client_reference_id")));
    }
    let invoice_creation = match invoice_creation(mode, form) {
        Ok(ic) => ic,
        Err(refused) => return refused,
    };
    let customer = form.get("customer").and_then(Value::as_str);
    if let Some(c) = customer {
        if !st.knows_customer(c) {
            let msg = format!("No such customer: '{c}'");
            return (400, error("invalid_request_error", Some("resource_missing"), &msg, Some("customer")));
        }
    }
    let id = format!("cs_test_{}", st.id("a").replace('_', ""));
    let session = json!({
        "id": id, "object": "checkout.session", "url": format!("{}/checkout/{id}", st.base),
        "status": "open", "payment_status": "unpaid", "mode": mode, "customer": customer,
        "client_reference_id": form.get("client_reference_id"), "metadata": form.get("metadata").cloned().unwrap_or(json!({})),
        "success_url": form["success_url"], "cancel_url": form.get("cancel_url"),
        "allow_promotion_codes": form.get("allow_promotion_codes").map(|v| v == "true"),
        "amount_total": price["unit_amount"], "currency": price["currency"], "subscription": null,
        "invoice": null, "invoice_creation": invoice_creation, "payment_intent": null, "created": now(), "expires_at": now() + 24 * 3600, "livemode": false,
    });
    let sub_metadata = form.pointer("/subscription_data/metadata").cloned().unwrap_or(json!({}));
    st.session_price.insert(id.clone(), (price_id.to_string(), sub_metadata));
    st.sessions.insert(id, session.clone());
    (200, session)
}
