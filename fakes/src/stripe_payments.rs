//! The fake Stripe's money movements: a charge (and its payment intent) for every payment, the
//! invoice payments that link a payment intent to its invoice (API 2025-03-31: neither the
//! charge nor the payment intent names the invoice any more), a Checkout Session completed or
//! its delayed payment settled, refunds, disputes, and plan changes with their proration invoice.

use crate::stripe_documents::{document, invoice_for, pack_invoice};
use crate::stripe_state::{event, now, State, MONTH};
use serde_json::{json, Value};

/// A successful payment of `amount` by `customer` through payment intent `pi`: its charge, with
/// the receipt Stripe keeps for it. Answers `charge.succeeded`, undelivered.
pub fn pay(st: &mut State, pi: &str, customer: &Value, amount: i64, currency: &Value) -> Value {
    let charge_id = st.id("ch");
    let receipt_url = format!("{}/receipts/{charge_id}", st.base);
    let charge = json!({
        "id": charge_id, "object": "charge", "amount": amount, "amount_captured": amount,
        "amount_refunded": 0, "currency": currency, "customer": customer, "payment_intent": pi,
        "paid": true, "captured": true, "refunded": false, "disputed": false, "status": "succeeded",
        "created": now(), "livemode": false, "metadata": {}, "receipt_url": receipt_url,
        "receipt_number": null,
    });
    st.charges.insert(charge_id, charge.clone());
    event(st, "charge.succeeded", charge)
}

/// Records that the invoice was paid: its charge, and the invoice payment naming both. Answers
/// `charge.succeeded`, undelivered.
pub fn pay_invoice(st: &mut State, invoice: &Value) -> Value {
    let id = invoice["id"].as_str().unwrap().to_string();
    let pi = st.id("pi");
    st.invoice_payments.insert(pi.clone(), id);
    pay(st, &pi, &invoice["customer"], invoice["amount_paid"].as_i64().unwrap_or(0), &invoice["currency"])
}

/// `GET /v1/invoice_payments?payment[type]=payment_intent&payment[payment_intent]=pi_…`.
pub fn list_invoice_payments(st: &State, form: &Value) -> (u16, Value) {
    let pi = form.pointer("/payment/payment_intent").and_then(Value::as_str);
    let data: Vec<Value> = st
        .invoice_payments
        .iter()
        .filter(|(p, _)| Some(p.as_str()) == pi)
        .map(|(p, invoice)| {
            let amount = st.invoices.get(invoice).map(|i| i["amount_paid"].clone()).unwrap_or(json!(0));
            json!({ "id": format!("inpay_{p}"), "object": "invoice_payment", "invoice": invoice,
                "amount_paid": amount, "is_default": true, "status": "paid", "livemode": false,
                "payment": { "type": "payment_intent", "payment_intent": p } })
        })
        .collect();
    (200, json!({ "object": "list", "data": data, "has_more": false, "url": "/v1/invoice_payments" }))
}

/// `StripeFake::change_plan` on the state (the portal's "Switch plan" does the same).
pub fn change_plan(st: &mut State, subscription_id: &str, price: &str) -> Value {
    let new_price = st.prices.get(price).cloned().expect("price exists");
    let invoice_id = st.id("in");
    let sub = st.subscriptions.get_mut(subscription_id).expect("subscription exists");
    let item = &mut sub["items"]["data"][0];
    let old_price = item["price"].clone();
    let period = json!({ "start": now(), "end": item["current_period_end"] });
    item["price"] = new_price.clone();
    sub["latest_invoice"] = json!(invoice_id);
    let sub = sub.clone();
    let half = |p: &Value| p["unit_amount"].as_i64().unwrap() / 2;
    let (credit, charge) = (-half(&old_price), half(&new_price));
    let total = (credit + charge).max(0);
    let line = |n: u32, amount: i64, price: &Value| {
        json!({ "id": format!("il_{invoice_id}_{n}"), "object": "line_item", "amount": amount,
            "currency": price["currency"], "period": period,
            "pricing": { "type": "price_details", "price_details": { "price": price["id"] } },
            "parent": { "type": "subscription_item_details",
                "subscription_item_details": { "proration": true, "subscription": subscription_id } } })
    };
    let (number, hosted) = document(st, &invoice_id);
    let invoice = json!({
        "id": invoice_id, "object": "invoice", "customer": sub["customer"],
        "number": number, "hosted_invoice_url": hosted,
        "billing_reason": "subscription_update", "status": "paid", "attempted": true,
        "amount_due": total, "amount_paid": total, "currency": new_price["currency"],
        "period_start": now(), "period_end": now(),
        "parent": { "type": "subscription_details", "quote_details": null,
            "subscription_details": { "subscription": subscription_id, "metadata": sub["metadata"] } },
        "lines": { "object": "list", "data": [ line(0, credit, &old_price), line(1, charge, &new_price) ] },
        "livemode": false, "created": now(),
    });
    st.invoices.insert(invoice_id, invoice.clone());
    if total > 0 {
        let _undelivered = pay_invoice(st, &invoice);
    }
    event(st, "invoice.payment_succeeded", invoice)
}

/// A delayed payment arrives (or fails): the async event, undelivered.
pub fn settle(st: &mut State, id: &str, succeeded: bool) -> Value {
    let session = st.sessions.get_mut(id).expect("session exists");
    if succeeded {
        session["payment_status"] = json!("paid");
    }
    let session = session.clone();
    if succeeded {
        let pi = session["payment_intent"].as_str().unwrap().to_string();
        let amount = session["amount_total"].as_i64().unwrap();
        let _undelivered = pay(st, &pi, &session["customer"], amount, &session["currency"]);
    }
    let kind = if succeeded {
        "checkout.session.async_payment_succeeded"
    } else {
        "checkout.session.async_payment_failed"
    };
    event(st, kind, session)
}

/// Completes a session: payment → paid (or awaiting a delayed payment); subscription → a new
/// subscription with its first, paid invoice. Answers the events Stripe would send.
pub fn complete(st: &mut State, id: &str, paid: bool) -> Result<Vec<Value>, String> {
    let session = st.sessions.get(id).cloned().ok_or("no such session")?;
    if session["status"] != "open" {
        return Err(format!("session {id} is {}", session["status"]));
    }
    let (price_id, sub_metadata) = st.session_price.get(id).cloned().ok_or("no line item")?;
    let price = st.prices.get(&price_id).cloned().ok_or("price vanished")?;
    let mut events = Vec::new();
    let mut session = session;
    session["status"] = json!("complete");
    if session["mode"] == "subscription" {
        let (sub_id, item_id, invoice_id) = (st.id("sub"), st.id("si"), st.id("in"));
        let t = now();
        let sub = json!({
            "id": sub_id, "object": "subscription", "customer": session["customer"], "status": "active",
            "cancel_at_period_end": false, "cancel_at": null, "canceled_at": null, "ended_at": null,
            "created": t, "start_date": t, "latest_invoice": invoice_id, "metadata": sub_metadata, "livemode": false,
            "items": { "object": "list", "data": [ { "id": item_id, "object": "subscription_item", "price": price,
                "quantity": 1, "current_period_start": t, "current_period_end": t + MONTH } ] },
        });
        let invoice = invoice_for(st, &invoice_id, &sub, "subscription_create", true);
        session["subscription"] = json!(sub_id);
        session["invoice"] = json!(invoice_id);
        session["payment_status"] = json!("paid");
        st.subscriptions.insert(sub_id, sub.clone());
        st.invoices.insert(invoice_id, invoice.clone());
        let charged = pay_invoice(st, &invoice);
        st.sessions.insert(id.to_string(), session.clone());
        events.push(charged);
        events.push(event(st, "customer.subscription.created", sub));
        events.push(event(st, "checkout.session.completed", session));
        events.push(event(st, "invoice.payment_succeeded", invoice));
    } else {
        let pi = st.id("pi");
        let mut invoice = None;
        if paid {
            let amount = session["amount_total"].as_i64().unwrap_or(0);
            events.push(pay(st, &pi, &session["customer"], amount, &session["currency"]));
            invoice = pack_invoice(st, &session);
        }
        session["payment_intent"] = json!(pi);
        session["payment_status"] = json!(if paid { "paid" } else { "unpaid" });
        if let Some(inv) = &invoice {
            session["invoice"] = inv["id"].clone();
        }
        st.sessions.insert(id.to_string(), session.clone());
        events.push(event(st, "checkout.session.completed", session));
        if let Some(inv) = invoice {
            events.push(event(st, "invoice.paid", inv));
        }
    }
    Ok(events)
}

/// `StripeFake::refund` on the state.
pub fn refund(st: &mut State, charge_id: &str, amount: i64) -> Value {
    let charge = st.charges.get_mut(charge_id).expect("charge exists");
    let refunded = charge["amount_refunded"].as_i64().unwrap() + amount;
    assert!(refunded <= charge["amount"].as_i64().unwrap(), "refunds more than was charged");
    charge["amount_refunded"] = json!(refunded);
    charge["refunded"] = json!(refunded == charge["amount"].as_i64().unwrap());
    let charge = charge.clone();
    event(st, "charge.refunded", charge)
}

/// `StripeFake::dispute` on the state.
pub fn dispute(st: &mut State, charge_id: &str) -> Value {
    let id = st.id("du");
    let charge = st.charges.get_mut(charge_id).expect("charge exists");
    charge["disputed"] = json!(true);
    let dispute = json!({
        "id": id, "object": "dispute", "amount": charge["amount"], "currency": charge["currency"],
        "charge": charge_id, "payment_intent": charge["payment_intent"], "status": "needs_response",
        "reason": "fraudulent", "is_charge_refundable": false, "created": now(), "livemode": false,
        "metadata": {},
    });
    st.disputes.insert(id, dispute.clone());
    event(st, "charge.dispute.created", dispute)
}

/// `StripeFake::close_dispute` on the state.
pub fn close_dispute(st: &mut State, dispute_id: &str, status: &str) -> Value {
    let dispute = st.disputes.get_mut(dispute_id).expect("dispute exists");
    dispute["status"] = json!(status);
    let dispute = dispute.clone();
    event(st, "charge.dispute.closed", dispute)
}
