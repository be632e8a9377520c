//! The fake Stripe's hosted pages, as a browser sees them (and the hosted invoice and receipt,
//! stripe_documents.rs). Checkout: pay by card (the test card
//! 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined and the session stays open), pay
//! by bank transfer (a delayed payment: completed unpaid, settled later), or cancel back to the
//! site. The customer portal: cancel the plan at the period's end (or take that back), switch
//! plans (with its proration invoice), return. Events go to the webhook URL after the redirect,
//! signed, one after another, as Stripe (or `stripe listen`) delivers them.

use crate::page::{esc, page};
use crate::stripe_documents::document_page;
use crate::stripe_payments::{change_plan, complete, settle};
use crate::stripe_state::{event, now, Shared, State, WEBHOOK_SECRET};
use crate::stripe_wire::{parse_form, post_event, signature_header};
use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::{json, Value};
use std::time::Duration;

/// Stripe's test card that is always declined.
const DECLINED_CARD: &str = "4000000000000002";
/// How long the stand-in's bank transfers take to clear.
const TRANSFER_CLEARS_AFTER: Duration = Duration::from_secs(10);
const ACCENT: &str = "#635bff";

pub async fn hosted(state: Shared, method: Method, path: &str, body: Bytes) -> Response {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let form = parse_form(&body);
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["checkout", id]) => checkout_page(&state.lock().unwrap(), id, None),
        ("POST", ["checkout", id, "pay"]) => pay(state, id, &form),
        ("GET", [kind @ ("invoices" | "receipts"), id]) => document_page(&state.lock().unwrap(), kind, id),
        ("GET", ["portal", id]) => portal_page(&state.lock().unwrap(), id),
        ("POST", ["portal", id, action]) => portal_action(state, id, action, &form),
        _ => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

fn text<'a>(form: &'a Value, key: &str) -> &'a str {
    form.get(key).and_then(Value::as_str).unwrap_or("")
}

/// `$9.00`, `€5.00`, or `5.00 CHF`.
fn money(amount: &Value, currency: &Value) -> String {
    let cents = amount.as_i64().unwrap_or(0);
    let value = format!("{}.{:02}", cents / 100, (cents % 100).abs());
    match currency.as_str().unwrap_or("") {
        "usd" => format!("${value}"),
        "eur" => format!("€{value}"),
        "gbp" => format!("£{value}"),
        other => format!("{value} {}", other.to_uppercase()),
    }
}

/// `2026-12-05` for a Unix time (UTC).
fn date(t: &Value) -> String {
    let days = t.as_i64().unwrap_or(0).div_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn product_name(st: &State, price: &Value) -> String {
    let product = price["product"].as_str().unwrap_or("");
    st.products.get(product).and_then(|p| p["name"].as_str()).unwrap_or("Your purchase").to_string()
}

fn per(price: &Value) -> &'static str {
    match price["recurring"]["interval"].as_str() {
        Some("month") => " per month",
        Some("year") => " per year",
        _ => "",
    }
}

fn checkout_page(st: &State, id: &str, problem: Option<&str>) -> Response {
    let Some(session) = st.sessions.get(id) else {
        return (StatusCode::NOT_FOUND, "no such session").into_response();
    };
    if session["status"] != "open" {
        let body = "<section><h1>This checkout is complete</h1><p>You can close this page.</p></section>";
        return Html(page("Checkout complete", "Stripe Checkout", ACCENT, false, body)).into_response();
    }
    let price = st.session_price.get(id).and_then(|(p, _)| st.prices.get(p)).cloned().unwrap_or(Value::Null);
    let email = session["customer"]
        .as_str()
        .and_then(|c| st.customers.get(c))
        .and_then(|c| c["email"].as_str())
        .unwrap_or("");
    let cancel = session["cancel_url"].as_str().unwrap_or("/");
    let error =
        problem.map(|p| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(p))).unwrap_or_default();
    let body = format!(
        "<section><p><a href=\"{cancel}\">← Cancel and go back</a></p><h1>{name}</h1>\
         <p class=\"amount\">{amount}<small>{per}</small></p><p class=\"hint\">Test mode on this machine: \
         4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined, a bank transfer clears later.</p></section>\
         <section><h1>Pay with card</h1>{error}<form method=\"post\" action=\"/checkout/{id}/pay\">\
         <label for=\"email\">Email</label><input id=\"email\" name=\"email\" type=\"email\" value=\"{email}\">\
         <label for=\"card\">Card number</label><input id=\"card\" name=\"card\" inputmode=\"numeric\" \
         autocomplete=\"cc-number\" value=\"4242 4242 4242 4242\">\
         <div class=\"row\"><div><label for=\"exp\">Expiry</label><input id=\"exp\" name=\"exp\" value=\"12 / 34\"></div>\
         <div><label for=\"cvc\">CVC</label><input id=\"cvc\" name=\"cvc\" value=\"123\"></div></div>\
         <label for=\"holder\">Name on card</label><input id=\"holder\" name=\"holder\" autocomplete=\"cc-name\" value=\"Dev Person\">\
         <button name=\"method\" value=\"card\">Pay</button>\
         <button class=\"secondary\" name=\"method\" value=\"delayed\">Pay by bank transfer</button></form></section>",
        cancel = esc(cancel),
        name = esc(&product_name(st, &price)),
        amount = money(&session["amount_total"], &session["currency"]),
        per = per(&price),
        email = esc(email),
    );
    // A decline is the same page with its message (200, as Stripe's page shows it in place).
    Html(page("Checkout (stand-in)", "Stripe Checkout", ACCENT, true, &body)).into_response()
}

fn pay(state: Shared, id: &str, form: &Value) -> Response {
    let delayed = text(form, "method") == "delayed";
    let card: String = text(form, "card").chars().filter(char::is_ascii_digit).collect();
    let (events, success_url, standin) = {
        let mut st = state.lock().unwrap();
        if !delayed && card == DECLINED_CARD {
            return checkout_page(&st, id, Some("Your card was declined. Try another card."));
        }
        if !delayed && !card.is_empty() && card.len() < 12 {
            return checkout_page(&st, id, Some("Your card number is incomplete."));
        }
        let events = match complete(&mut st, id, !delayed) {
            Ok(e) => e,
            Err(why) => return (StatusCode::BAD_REQUEST, why).into_response(),
        };
        let success =
            st.sessions[id]["success_url"].as_str().unwrap_or("/").replace("{CHECKOUT_SESSION_ID}", id);
        (events, success, st.standin)
    };
    deliver(state.clone(), events);
    if delayed && standin {
        let (state, id) = (state.clone(), id.to_string());
        tokio::spawn(async move {
            tokio::time::sleep(TRANSFER_CLEARS_AFTER).await;
            let settled = settle(&mut state.lock().unwrap(), &id, true);
            deliver(state, vec![settled]);
        });
    }
    Redirect::to(&success_url).into_response()
}

/// Signs and delivers `events` in the background, one after another, to the webhook URL (if
/// one is set), logging each like `stripe listen` when standing in.
pub fn deliver(state: Shared, events: Vec<Value>) {
    let (url, standin) = {
        let st = state.lock().unwrap();
        (st.webhook_url.clone(), st.standin)
    };
    let Some(url) = url else { return };
    tokio::spawn(async move {
        let http = crate::recorder::client();
        for e in events {
            let body = serde_json::to_vec(&e).unwrap();
            let sig = signature_header(&body, now() as u64, &[WEBHOOK_SECRET]);
            let (kind, id) = (e["type"].as_str().unwrap_or(""), e["id"].as_str().unwrap_or(""));
            if standin {
                println!("stripe  --> {kind} [{id}]");
            }
            let (status, _) = post_event(&http, &url, body, Some(sig)).await;
            if standin {
                println!("stripe  <-- [{status}] POST {url} [{id}]");
            }
        }
    });
}

fn portal_page(st: &State, id: &str) -> Response {
    let Some(session) = st.portal_sessions.get(id) else {
        return (StatusCode::NOT_FOUND, "no such portal session").into_response();
    };
    let customer = session["customer"].as_str().unwrap_or("");
    let back = session["return_url"].as_str().unwrap_or("/");
    let mut subs: Vec<&Value> = st
        .subscriptions
        .values()
        .filter(|s| s["customer"] == customer && s["status"] != "canceled")
        .collect();
    subs.sort_by_key(|s| s["created"].as_i64());
    let mut items = String::new();
    for sub in &subs {
        let item = &sub["items"]["data"][0];
        let price = &item["price"];
        let sub_id = esc(sub["id"].as_str().unwrap_or(""));
        let end = date(&item["current_period_end"]);
        let (status, action, label) = if sub["cancel_at_period_end"] == true {
            (format!("Cancels on {end}"), "renew", "Don't cancel")
        } else {
            (format!("Renews on {end}"), "cancel", "Cancel plan")
        };
        let mut forms = format!(
            "<form method=\"post\" action=\"/portal/{id}/{action}\"><input type=\"hidden\" name=\"subscription\" \
             value=\"{sub_id}\"><button class=\"secondary\">{label}</button></form>"
        );
        let mut others: Vec<&Value> =
            st.prices.values().filter(|p| p["type"] == "recurring" && p["id"] != price["id"]).collect();
        others.sort_by_key(|p| p["unit_amount"].as_i64());
        for other in others {
            forms.push_str(&format!(
                "<form method=\"post\" action=\"/portal/{id}/switch\"><input type=\"hidden\" name=\"subscription\" \
                 value=\"{sub_id}\"><input type=\"hidden\" name=\"price\" value=\"{}\">\
                 <button>Switch to {} ({}{})</button></form>",
                esc(other["id"].as_str().unwrap_or("")),
                esc(&product_name(st, other)),
                money(&other["unit_amount"], &other["currency"]),
                per(other)
            ));
        }
        items.push_str(&format!(
            "<li><h2>{}</h2><p>{}{} · {status}</p>{forms}</li>",
            esc(&product_name(st, price)),
            money(&price["unit_amount"], &price["currency"]),
            per(price)
        ));
    }
    if subs.is_empty() {
        items.push_str("<li>No subscription.</li>");
    }
    let email = st.customers.get(customer).and_then(|c| c["email"].as_str()).unwrap_or(customer);
    let body = format!(
        "<section><p><a href=\"{back}\">← Return to the site</a></p><h1>Billing for {email}</h1>\
         <ul class=\"plans\">{items}</ul></section>",
        back = esc(back),
        email = esc(email),
    );
    Html(page("Billing portal (stand-in)", "the Stripe customer portal", ACCENT, false, &body))
        .into_response()
}

fn portal_action(state: Shared, id: &str, action: &str, form: &Value) -> Response {
    let sub_id = text(form, "subscription");
    let events = {
        let mut st = state.lock().unwrap();
        let Some(customer) = st.portal_sessions.get(id).map(|p| p["customer"].clone()) else {
            return (StatusCode::NOT_FOUND, "no such portal session").into_response();
        };
        let Some(sub) = st.subscriptions.get_mut(sub_id).filter(|s| s["customer"] == customer) else {
            return (StatusCode::BAD_REQUEST, "not this customer's subscription").into_response();
        };
        match action {
            "cancel" | "renew" => {
                let cancel = action == "cancel";
                let end = sub["items"]["data"][0]["current_period_end"].clone();
                sub["cancel_at_period_end"] = json!(cancel);
                sub["cancel_at"] = if cancel { end } else { Value::Null };
                sub["canceled_at"] = if cancel { json!(now()) } else { Value::Null };
                let sub = sub.clone();
                vec![event(&mut st, "customer.subscription.updated", sub)]
            }
            "switch" => {
                let price = text(form, "price");
                if !st.prices.get(price).is_some_and(|p| p["type"] == "recurring") {
                    return (StatusCode::BAD_REQUEST, "no such plan").into_response();
                }
                let invoice = change_plan(&mut st, sub_id, price);
                let sub = st.subscriptions[sub_id].clone();
                vec![event(&mut st, "customer.subscription.updated", sub), invoice]
            }
            _ => return (StatusCode::NOT_FOUND, "not found").into_response(),
        }
    };
    deliver(state, events);
    Redirect::to(&format!("/portal/{id}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_amounts_read_as_people_write_them() {
        assert_eq!(date(&json!(0)), "1970-01-01");
        assert_eq!(date(&json!(1_796_428_800)), "2026-12-05");
        assert_eq!(money(&json!(900), &json!("usd")), "$9.00");
        assert_eq!(money(&json!(505), &json!("chf")), "5.05 CHF");
    }
}
