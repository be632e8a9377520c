//! The fake Stripe's money movements: a charge (and its payment intent) for every payment, the
//! invoice payments that link a payment intent to its invoice (API 2025-03-31: neither the
//! charge nor the payment intent names the invoice any more), refunds, disputes, plan changes
//! with their proration invoice, and discounts.

use crate::stripe::{now, StripeFake};
use crate::stripe_documents::document;
use crate::stripe_server::{event, State};
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

impl StripeFake {
    /// The charge that paid a pack's Checkout Session.
    pub fn charge_of_session(&self, session_id: &str) -> String {
        let st = self.state.lock().unwrap();
        let pi = st.sessions[session_id]["payment_intent"].clone();
        st.charges.values().find(|c| c["payment_intent"] == pi).expect("session was paid")["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The charge that paid an invoice.
    pub fn charge_of_invoice(&self, invoice_id: &str) -> String {
        let st = self.state.lock().unwrap();
        let pi = st.invoice_payments.iter().find(|(_, i)| *i == invoice_id).expect("invoice was paid").0;
        st.charges.values().find(|c| c["payment_intent"] == *pi).unwrap()["id"].as_str().unwrap().to_string()
    }

    /// Moves the charge's `created` back by `secs` (a charge made long ago).
    pub fn backdate_charge(&self, charge_id: &str, secs: i64) {
        let mut st = self.state.lock().unwrap();
        let charge = st.charges.get_mut(charge_id).expect("charge exists");
        charge["created"] = json!(charge["created"].as_i64().unwrap() - secs);
    }

    /// Refunds `amount` more of the charge; answers `charge.refunded` (cumulative
    /// `amount_refunded`), undelivered.
    pub fn refund(&self, charge_id: &str, amount: i64) -> Value {
        let mut st = self.state.lock().unwrap();
        let charge = st.charges.get_mut(charge_id).expect("charge exists");
        let refunded = charge["amount_refunded"].as_i64().unwrap() + amount;
        assert!(refunded <= charge["amount"].as_i64().unwrap(), "refunds more than was charged");
        charge["amount_refunded"] = json!(refunded);
        charge["refunded"] = json!(refunded == charge["amount"].as_i64().unwrap());
        let charge = charge.clone();
        event(&mut st, "charge.refunded", charge)
    }

    /// The customer's bank disputes the whole charge: `charge.dispute.created`, undelivered.
    pub fn dispute(&self, charge_id: &str) -> Value {
        let mut st = self.state.lock().unwrap();
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
        event(&mut st, "charge.dispute.created", dispute)
    }

    /// The dispute is decided (`won` or `lost`): `charge.dispute.closed`, undelivered.
    pub fn close_dispute(&self, dispute_id: &str, status: &str) -> Value {
        let mut st = self.state.lock().unwrap();
        let dispute = st.disputes.get_mut(dispute_id).expect("dispute exists");
        dispute["status"] = json!(status);
        let dispute = dispute.clone();
        event(&mut st, "charge.dispute.closed", dispute)
    }

    /// A promotion code takes `discount` off an open session's total (as Checkout shows it).
    pub fn discount_session(&self, id: &str, discount: i64) {
        let mut st = self.state.lock().unwrap();
        let session = st.sessions.get_mut(id).expect("session exists");
        let total = session["amount_total"].as_i64().unwrap();
        session["amount_total"] = json!(total - discount);
        session["total_details"] =
            json!({ "amount_discount": discount, "amount_shipping": 0, "amount_tax": 0 });
    }

    /// The customer switches plans in the portal mid-period: the subscription moves to
    /// `price` and a paid proration invoice (`subscription_update`) credits the unused time on
    /// the old price and charges the rest of the period on the new one (half a period each).
    pub fn change_plan(&self, subscription_id: &str, price: &str) -> Value {
        change_plan(&mut self.state.lock().unwrap(), subscription_id, price)
    }
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
